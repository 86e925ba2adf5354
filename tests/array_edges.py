"""Array functions at the edges of their domain, for tests/test_edge_numerics.py."""

import numpy as np


def root_sum(x):
    return np.sum(np.sqrt(x))


def hypot_sum(a, b):
    return np.sum(np.hypot(a, b))


def power_sum(x, y):
    return np.sum(np.power(x, y))
