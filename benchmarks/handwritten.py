"""Hand-written gradients of the scalar seed functions in ``samples/seeds.py``.

These are the reference for ``bench_seeds.py``: the best plain-Python ``math``
code a person would write for each gradient, working the calculus out on paper
first (shared subexpressions computed once, no temporaries that are not needed).
Each returns a tuple of partial derivatives, one per parameter in order, which
is what ``grad(fn, argnums=(0, 1, ...))`` returns.
"""

import math

_TWO_PI = 2.0 * math.pi
_LN2 = math.log(2.0)


def f_grad(x1, x2):
    """f = ln x1 + x1 x2 - sin x2."""
    return x2 + 1.0 / x1, x1 - math.cos(x2)


def bishop_grad(x1, x2):
    """f = x1 x2 + exp(x1 x2) - sin x2."""
    e1 = 1.0 + math.exp(x1 * x2)
    return x2 * e1, x1 * e1 - math.cos(x2)


def gaussian_grad(x, mu, sigma):
    """p = exp(-(x - mu)^2 / (2 sigma^2)) / sqrt(2 pi sigma^2)."""
    d = x - mu
    s2 = sigma * sigma
    p = math.exp(-0.5 * d * d / s2) / math.sqrt(_TWO_PI * s2)
    dx = -p * d / s2
    return dx, -dx, p * (d * d / s2 - 1.0) / sigma


def sigmoid_log2_grad(v):
    """y = 1 / (1 + exp(-log2 v));  dy/dv = y (1 - y) / (v ln 2)."""
    y = 1.0 / (1.0 + math.exp(-math.log2(v)))
    return (y * (1.0 - y) / (v * _LN2),)


def neuron_grad(w1, w2, b, x1, x2, t):
    """L = 1/2 (sigma(w1 x1 + w2 x2 + b) - t)^2."""
    y = 1.0 / (1.0 + math.exp(-(w1 * x1 + w2 * x2 + b)))
    r = y - t
    dz = r * y * (1.0 - y)
    return dz * x1, dz * x2, dz, dz * w1, dz * w2, -r
