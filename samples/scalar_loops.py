"""Scalar loops where compiling the emitted derivatives pays (docs/jit.md).

``logistic``: the logistic map iterated ``n`` times; ``pendulum``: a pendulum
integrated by ``n`` explicit Euler steps of 1 ms (the angle at the end, from
the initial angle ``theta0`` and the length ``L``); ``newton_sqrt``: Newton's
iteration for the square root, a ``while`` loop whose trip count depends on
the data.  Used by tests/test_jit.py and benchmarks/bench_jit.py.
"""

import math


def logistic(r, x0, n):
    x = x0
    for i in range(n):
        x = r * x * (1.0 - x)
    return x


def pendulum(theta0, L, n):
    g = 9.81
    dt = 0.001
    th = theta0
    w = 0.0
    for i in range(n):
        w = w - dt * g / L * math.sin(th)
        th = th + dt * w
    return th


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x
