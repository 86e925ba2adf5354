"""Functions at the edges of their domain, for tests/test_edge_numerics.py.

Each is one primitive (or a short composition) written as a user writes it,
with the library the user calls: the emitted derivative keeps that spelling
(``math.pow`` vs ``**`` vs ``np.power``), so each spelling is checked.
The CLI compiles this file as text (``adc compile tests/edge_corpus.py``).
"""

import math

import numpy as np


def power(x, y):
    return x**y


def math_pow(x, y):
    return math.pow(x, y)


def builtin_pow(x, y):
    return pow(x, y)


def np_power(x, y):
    return np.power(x, y)


def cube(x):
    return x**3


def to_the_zero(x):
    return x**0


def to_the_float_zero(x):
    return x**0.0


def to_the_half(x):
    return x**0.5


def zero_to_the(y):
    return 0.0**y


def minus_two_to_the(y):
    return (-2.0) ** y


def square_root(x):
    return math.sqrt(x)


def np_square_root(x):
    return np.sqrt(x)


def root_of_square(x):
    return math.sqrt(x * x)


def hypotenuse(a, b):
    return math.hypot(a, b)


def np_hypotenuse(a, b):
    return np.hypot(a, b)


def arctan_of_zero_hypot(a):
    return math.atan(math.hypot(a - a, a - a)) + a


def angle(y, x):
    return math.atan2(y, x)


def np_angle(y, x):
    return np.arctan2(y, x)


def arcsine(x):
    return math.asin(x)


def arccosine(x):
    return math.acos(x)


def np_arcsine(x):
    return np.arcsin(x)


def np_logarithm(x):
    return np.log(x)


def np_log1p(x):
    return np.log1p(x)


def np_log2(x):
    return np.log2(x)


def tangent(x):
    return math.tan(x)


def absolute(x):
    return abs(x)


def math_fabs(x):
    return math.fabs(x)


def np_absolute(x):
    return np.abs(x)


def larger(x, y):
    return max(x, y)


def smaller(x, y):
    return min(x, y)


def np_larger(x, y):
    return np.maximum(x, y)


def np_smaller(x, y):
    return np.minimum(x, y)


def sign_copied(x, y):
    return math.copysign(x, y)


def np_clipped(x):
    return np.clip(x, 0.0, 1.0)


def np_chosen(x):
    return np.where(x > 0.0, x, 2.0 * x)


def branch(x):
    if x > 0.0:
        return x
    return 2.0 * x


def floored(x):
    return math.floor(x) + x


def remainder(x, y):
    return math.fmod(x, y)
