"""Scalar loops where compiling the emitted derivatives pays (docs/jit.md).

``logistic``: the logistic map iterated ``n`` times; ``pendulum``: a pendulum
integrated by ``n`` explicit Euler steps of 1 ms (the angle at the end, from
the initial angle ``theta0`` and the length ``L``); ``newton_sqrt``: Newton's
iteration for the square root, a ``while`` loop whose trip count depends on
the data; ``three_body``: three bodies under gravity, a loop of some sixty
scalar operations a step.  Used by tests/test_jit.py and
benchmarks/bench_jit.py.
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


def three_body(m1, m2, m3, n):
    # three bodies in a plane under softened gravity (G = 1), n semi-implicit
    # Euler steps of 1 ms: the forces from the positions at the start of the
    # step, then the velocities, then the positions
    dt = 0.001
    eps = 0.01
    x1, y1, x2, y2, x3, y3 = 1.0, 0.0, -0.5, 0.8, -0.5, -0.8
    u1, v1, u2, v2, u3, v3 = 0.0, 0.5, -0.45, -0.25, 0.45, -0.25
    for i in range(n):
        dx12, dy12 = x2 - x1, y2 - y1
        dx13, dy13 = x3 - x1, y3 - y1
        dx23, dy23 = x3 - x2, y3 - y2
        r12 = dx12 * dx12 + dy12 * dy12 + eps
        r13 = dx13 * dx13 + dy13 * dy13 + eps
        r23 = dx23 * dx23 + dy23 * dy23 + eps
        k12 = dt / (r12 * math.sqrt(r12))
        k13 = dt / (r13 * math.sqrt(r13))
        k23 = dt / (r23 * math.sqrt(r23))
        u1 = u1 + m2 * k12 * dx12 + m3 * k13 * dx13
        v1 = v1 + m2 * k12 * dy12 + m3 * k13 * dy13
        u2 = u2 - m1 * k12 * dx12 + m3 * k23 * dx23
        v2 = v2 - m1 * k12 * dy12 + m3 * k23 * dy23
        u3 = u3 - m1 * k13 * dx13 - m2 * k23 * dx23
        v3 = v3 - m1 * k13 * dy13 - m2 * k23 * dy23
        x1, y1 = x1 + dt * u1, y1 + dt * v1
        x2, y2 = x2 + dt * u2, y2 + dt * v2
        x3, y3 = x3 + dt * u3, y3 + dt * v3
    return x3 * y3 + x1
