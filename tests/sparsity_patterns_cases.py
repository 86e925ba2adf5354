"""The functions tests/test_sparsity_patterns.py finds patterns of: the two
reference problems of docs/sparsity_patterns.md (samples/rosenbrock.py,
samples/laplacian.py) and small control-flow cases."""

import numpy as np
from laplacian import pde_residual, pde_residual_padded  # noqa: F401 (cases)
from rosenbrock import rosenbrock  # noqa: F401 (a case)


def branch_on_input(x):
    if np.sum(x) > 0:
        return x * x[0]
    return np.sin(x)


def while_on_input(x):
    y = x
    while np.max(y) < 10.0:
        y = 2.0 * y
    return y


def argmax_index(x):
    i = np.argmax(x)
    return x[i] * 2.0


def solve_system(a, b):
    return np.linalg.solve(a, b)


def two_arguments(x, n):
    w = np.array([1.0, 0.0, 2.0])
    return x[:n] * w


def long_loop(x, n):
    # the body reads no index: a fixed point after two iterations, whatever n
    y = x
    for _ in range(n):
        y = np.sin(y) + y[::-1]
    return y


def indexed_loop(x):
    # the body indexes by the loop index: iterated to the end
    y = np.zeros(len(x))
    for i in range(1, len(x)):
        y[i] = x[i] * x[i - 1]
    return y


SCALE = np.array([1.0, 0.0, 2.0, 0.0])


def reads_scope(x):
    return x * SCALE


def tuple_argument(p):
    a, b = p
    return a * b


def guarded_index(x):
    if x[0] > 100.0:  # never taken for short x in practice: x[5] would fail
        return x[5]
    return x[1] * 2.0


def switched_on(x):  # x[0] reaches y only in the last iteration
    y = x
    for i in range(3):
        y = y + x * x[0] * (i == 2)
    return y


def rolled_late(x):
    y = x * 1.0
    for i in range(3):
        y = y + np.roll(x, 1) * (i == 2)
    return np.sum(y * y)


def where_late(x):
    y = x
    for i in range(6):
        y = np.where(i == 4, y * x[0], y)
    return y
