"""Functions whose loops tests/test_checkpoint.py checkpoints (read from this
file: ad_compiler lowers them from their source)."""

import math

import numpy as np

from ad_compiler import checkpoint


def logistic(x, r, n):
    for i in range(n):
        x = r * x * (1.0 - x)
    return x


def two_states(x, y, n):
    count = 0
    for i in range(n):
        x, y = x + 0.1 * math.sin(y), y - 0.1 * math.sin(x) * i
        count = count + 1
    return x * y + count


def nested(x, n):
    s = x
    for i in range(n):
        for j in range(3):
            s = s + 0.1 * math.sin(s * x + j)
    return s


def heat(u, dt, steps):
    for t in range(steps):
        u = u + dt * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return np.sum(u * u)


def heat_slices(u, dt, steps):
    for t in range(steps):
        v = u.copy()
        v[1:-1] = u[1:-1] + dt * (u[:-2] - 2 * u[1:-1] + u[2:])
        u = v
    return np.sum(u**2)


def writes(x, w, n):
    y = np.zeros(n + 1)
    y[0] = x[0]
    for i in range(n):
        y[i + 1] = np.sin(y[i]) * w + x[i % 3]
    return np.sum(y * y)


def in_branch(x, n, flip):
    if flip > 0:
        for i in range(n):
            x = x * 0.9 + math.cos(x)
    else:
        x = x * 2.0
    return x


def with_while(x, n):
    for i in range(n):
        x = x * 0.5 + 1.0
    while x < 10.0:
        x = x * 1.5
    return x


def only_while(x):
    while x < 10.0:
        x = x * 1.5
    return x


def breaks(x, n):
    for i in range(n):
        x = x * 1.1
        if x > 5.0:
            break
    return x


@checkpoint
def remat_step(x, r):
    return r * x * (1.0 - x) + 0.1 * math.sin(x)


def remat_loop(x, r, n):
    for i in range(n):
        x = remat_step(x, r)
    return x


@checkpoint
def remat_array_step(u, dt):
    return u + dt * (np.roll(u, 1) - 2 * u + np.roll(u, -1))


def remat_array(u, dt):
    for t in range(4):
        u = remat_array_step(u, dt)
    return np.sum(u * u)


def two_loops(x, n, start):
    s = x
    for i in range(start, n):
        s = s * 0.9 + math.sin(s * x)
    for j in range(n, 0, -2):
        s = s + 0.01 * j * s * s
    return s
