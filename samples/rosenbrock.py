"""The extended Rosenbrock function, written with NumPy on one array.

    f(x) = Σ_{i < n-1} 100 (x_{i+1} - x_i²)² + (1 - x_i)²

Its Hessian is tridiagonal: on the diagonal 1200 x_i² - 400 x_{i+1} + 2 (plus
200 from the term before, for i ≥ 1), next to it -400 x_i.  At the minimum
x = (1, 1, 1) it is

    [[ 802, -400,    0],
     [-400, 1002, -400],
     [   0, -400,  200]]

    adc compile samples/rosenbrock.py --mode hessian --shape x=n

writes rosenbrock_hessian(x): one call of the emitted forward-over-reverse
code, all n directions at once (vector mode).
"""

import numpy as np


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
