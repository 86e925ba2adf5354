"""The fill loop of issue 18: an (n, 50) array written one row per iteration.

``fill(x, w)`` computes ``y[i] = tanh(x[i] * w)`` row by row into a fresh zero
array, then ``Σ y²``.  The function's work is linear in n; a gradient that
copies the array at each write, or tapes every version of it, is quadratic.
"""

import numpy as np

COLUMNS = 50


def fill(x, w):
    """Σ_ij tanh(x[i, j] w[j])², the rows of tanh(x w) written one by one."""
    n = x.shape[0]
    y = np.zeros((n, w.shape[0]))
    for i in range(n):
        y[i] = np.tanh(x[i] * w)
    return np.sum(y * y)


def make_fill(n, seed=0):
    """(x (n, 50), w (50)), seeded."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, COLUMNS)), rng.uniform(0.5, 1.5, COLUMNS)
