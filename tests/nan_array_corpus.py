"""The array twins of tests/nan_corpus.py (the CLI's hessian mode takes scalars)."""

import numpy as np


def np_abs_sum(X):
    return np.sum(np.abs(X))


def np_extremes(X, Y):
    return np.sum(np.maximum(X, Y) * 2.0 + np.minimum(X, Y))


def np_clipped_squares(X):
    return np.sum(np.clip(X, -1.0, 1.0) ** 2)


def np_sign_times(X):
    return np.sum(np.sign(X) * X)
