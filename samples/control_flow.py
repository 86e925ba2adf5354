"""Functions with branches, loops and calls: the control flow ad_compiler differentiates.

Seed 000 says automatic differentiation "can deal with control flow elements"
where symbolic differentiation cannot; each function here is one such element.
``adc compile samples/control_flow.py`` writes their gradients.
"""

import math

from ad_compiler import custom_derivative


def logistic(l, n):
    """The logistic map l <- 4 l (1 - l), iterated n times (benchmarks/bench_logistic.py)."""
    for _ in range(n):
        l = 4.0 * l * (1.0 - l)
    return l


def babylonian_sqrt(a):
    """sqrt(a) by Newton's iteration, stopped by a data-dependent test."""
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def first_crossing(x, limit):
    """Grow until past `limit`: a return inside a loop, and a loop that may not return."""
    y = x
    for i in range(50):
        y = y * 1.5 + 0.1
        if y > limit:
            return y - float(i)
    return -1.0


def pairwise(x, y, z):
    """Nested loops over a tuple, with `continue` on the diagonal."""
    values = (x, y, z)
    s = 0.0
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            if i == j:
                continue
            s += a * b / (1.0 + j)
    return s


def horner(x, a0, a1=0.5, a2=0.25):
    """a0 + a1 x + a2 x^2 by Horner's rule: a helper with default arguments."""
    return (a2 * x + a1) * x + a0


def poly_steps(x):
    """Calls to `horner` inside a loop, one with keyword arguments."""
    s = x
    for _ in range(3):
        s = horner(s, 0.1, a2=-0.125)
    return s


def power(x, n):
    """x ** n by recursion on an integer n >= 0."""
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def erf_partials(x):
    """d erf(x) / dx = 2 exp(-x^2) / sqrt(pi)."""
    return 2.0 / math.sqrt(math.pi) * math.exp(-x * x)


@custom_derivative(erf_partials)
def erf(x):
    """math.erf has no rule in ad_compiler: its derivative is given above."""
    return math.erf(x)


def gaussian_cdf(x, mu, sigma):
    """The normal CDF through a function with a user-defined derivative."""
    return 0.5 * (1.0 + erf((x - mu) / (sigma * math.sqrt(2.0))))
