"""Non-smooth functions whose derivatives must be nan, at every order, at a nan
input (tests/test_edge_numerics.py, ``test_nan_at_every_order``)."""

import math


def abs_scaled(x):
    return abs(x) * 3.0


def fabs_scaled(x):
    return math.fabs(x) * 3.0


def extremes(x, y):
    return max(x, y) + 2.0 * min(x, y)


def sign_copied_scaled(x):
    return math.copysign(x, 2.0) * 3.0


def remainder_scaled(x):
    return math.fmod(x, 3.0) * 2.0


def python_remainder_scaled(x):
    return (x % 3.0) * 2.0


def remainder_both(x, y):
    return math.fmod(x, y) * 2.0
