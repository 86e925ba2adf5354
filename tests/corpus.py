"""A corpus of straight-line scalar functions for the differentiation tests.

Every function here uses only the subset ad_compiler supports.  Together they
cover each supported ``math`` function, the NumPy twins (spelled ``np.`` and
``numpy.``, and imported by name), import aliases, reassignment, augmented
assignment, tuple unpacking and swapping, constants, the three kinds of power,
``log`` with a base, values used several times, unused parameters and functions
returning a parameter, a constant or a tuple.

``CASES`` pairs each function with a domain: one ``(low, high)`` interval per
parameter on which the function is smooth.  ``points(domain, seed)`` draws a
deterministic grid of points in it and ``POINTS`` is every (function, point).
``KNOWN_BUGS`` lists the cases ad_compiler gets wrong today; ``SHADOWING`` holds
functions whose local names would shadow a module the emitted code imports.
"""

import math
import math as m
from math import atan2, cos, exp, hypot, log, pi, sin, sqrt
from math import tanh as th

import corpus_control
import numpy
import numpy as np
from numpy import arctan2, power
from numpy import square as sq

# --- one math function each ----------------------------------------------------------------


def f_sin(x):
    return math.sin(x)


def f_cos(x):
    return math.cos(x)


def f_tan(x):
    return math.tan(x)


def f_exp(x):
    return math.exp(x)


def f_expm1(x):
    return math.expm1(x)


def f_log(x):
    return math.log(x)


def f_log_base(x, b):
    return math.log(x, b)


def f_log_const_base(x):
    return math.log(x, 10) + m.log(x, 2.5)


def f_log_active_base(x):
    return math.log(3.0, x) + math.log(x * x, x + 1)


def f_log2(x):
    return math.log2(x)


def f_log10(x):
    return math.log10(x)


def f_log1p(x):
    return math.log1p(x)


def f_sqrt(x):
    return math.sqrt(x)


def f_tanh(x):
    return math.tanh(x)


def f_sinh(x):
    return math.sinh(x)


def f_cosh(x):
    return math.cosh(x)


def f_asin(x):
    return math.asin(x)


def f_acos(x):
    return math.acos(x)


def f_atan(x):
    return math.atan(x)


def f_atan2(y, x):
    return math.atan2(y, x)


def f_hypot(x, y):
    return math.hypot(x, y)


def f_fabs(x):
    return math.fabs(x) * x


def f_math_pow(x, y):
    return math.pow(x, y) + math.pow(x, 3) + math.pow(2.0, y)


def f_builtin_abs(x, y):
    return abs(x - 3) + abs(x * y)


def f_builtin_pow(x, y):
    return pow(x, y) + pow(x, 2) + pow(3, y)


def f_constants(x):
    return math.pi * x + math.e**x - math.tau / (x * x + 1)


# --- NumPy twins, import aliases and imported names --------------------------------------


def f_np_trig(x, y):
    return np.sin(x) * np.cos(y) + np.tan(x / 2) - np.arctan(y)


def f_np_inverse_trig(x):
    return np.arcsin(x) + 2 * np.arccos(x * 0.5)


def f_np_exp_log(x):
    return np.exp(x) - np.expm1(-x) + np.log(x) + np.log2(x) * np.log10(x) + np.log1p(x)


def f_np_hyperbolic(x):
    return np.sqrt(x) * np.tanh(x) + np.sinh(x) - np.cosh(x / 3)


def f_np_binary(x, y):
    return np.arctan2(y, x) + np.hypot(x, y) * np.power(x, y)


def f_np_abs(x, y):
    return np.abs(x) + np.absolute(y) * np.fabs(x * y)


def f_np_square(x):
    return np.square(x) + sq(x + 1) + np.pi * np.e


def f_numpy_full_name(x, y):
    return numpy.sin(x) * numpy.exp(y) + numpy.arctan2(x, y + 3)


def f_numpy_imported_names(x, y):
    return arctan2(x, y) + power(y, 3) + power(y, x)


def f_math_alias(x, y):
    return m.sin(x) * m.exp(y) + m.sqrt(x * x + y * y) - m.pi


def f_math_imported_names(x, y):
    return sin(x) * cos(y) + exp(-x) * log(y) + sqrt(y) + atan2(x, y) + hypot(x, y) + pi


def f_renamed_import(x):
    return th(x) * th(2 * x)


# --- powers --------------------------------------------------------------------------------


def f_square(x):
    return x**2


def f_cube_negative(x):
    return x**3 + x**2 - x**-1


def f_power_of_two(x):
    return 2**x + 0.5**x + math.e**x


def f_both_active_power(x, y):
    return x**y


def f_fractional_powers(x, y):
    return x**0.5 + (x * y) ** (1 / 3) + y**-1.5 + x**1 + y**0


def f_power_of_power(x, y):
    return (x**y) ** 2 + x ** (y**2)


def f_precedence(x, y, z):
    a = -(x**2) + (-x) ** 2 + 2**-x + x**-y
    b = -(x - y) - (y - (z - x)) + x / (y * z) + x / y / z
    c = 2**3**x + (x**y) ** z + x**y**z - -x
    d = (-2.0) ** 2 * x + -(2.0**2) * y + 1 / -x
    return a + b + c + d


def f_folded_literals(x):
    return x * (2**3) + 2**-1 * x + x ** (1 / 2) + 10**2 * x - (3 - 5) * x + 2**70 * x


# --- statements ----------------------------------------------------------------------------


def f_reassign(x, y):
    t = x * y
    t = math.sin(t) + t
    x = x * 2
    x = x + t
    y = y - x
    return x * y + t


def f_augmented(x, y):
    a = x
    a += y
    a -= 0.5 * x
    a *= y
    a /= 1 + x * x
    a **= 2
    return a


def f_augmented_params(x, y):
    x += y
    x *= x
    y **= 3
    y /= x
    x -= y
    return x + y


def f_tuple_unpack(x, y):
    a, b = x * y, x + y
    c, d = math.sin(a), math.exp(-b)
    return a / b + c * d


def f_swap(x, y):
    a, b = x, y
    a, b = b, a
    a, b = b, a * b
    a, b = b, a
    return a - 2 * b


def f_tuple_variable(x, y):
    t = (x * y, x - y)
    u, v = t
    return u * v + u


def f_tuple_variable_reused(x, y):
    t = (x * y, x - y)
    u, v = t
    p, q = t
    return u * v + p * q


def f_tuple_variable_returned_after_unpack(x, y):
    t = (x * y, x - y)
    u, v = t
    return t


def f_np_constant_folding(x):
    c = np.tanh(1.5)
    return c + 0 * x


def f_chained_assign(x, y):
    a = b = x * y
    a = a + 1
    return a * b


def f_docstring_defaults(x, y=2.0, z=3):
    """Has a docstring and numeric defaults."""
    w = x * y + z
    return w * w / (1 + z * z)


def f_unary(x, y):
    return -x * +y - (-x) + -(x * y) + -2.5 * x


def f_literals(x, y):
    return (x + 1) / (2 * y - 7) + 3 / x - 1.25e-1 * y + 10


# --- uses, unused parameters, trivial bodies -------------------------------------------------


def f_multi_use(x):
    t = math.exp(x)
    return t * t + t / (1 + t) - math.log(t)


def f_same_operand(x, y):
    return x * x + x / x + (x - x) * y + y * y * y


def f_unused_params(x, y, z):
    return x * x


def f_return_param(x, y):
    return y


def f_return_constant(x):
    return 3.0


def f_return_int_constant(x, y):
    return 7


def f_identity(x):
    return x


def f_name_clash(x, x_bar, y_dot, v1):
    y = x * x_bar + math.sin(y_dot) * v1
    y_bar = y * v1
    return y + y_bar


def f_gaussian(x, mu, sigma):
    a = 1 / math.sqrt(2 * math.pi * sigma * sigma)
    b = math.exp(-((x - mu) * (x - mu) / (2 * sigma * sigma)))
    return a * b


def f_neuron(w1, w2, b, x1, x2, t):
    z = w1 * x1 + w2 * x2 + b
    y = 1 / (1 + math.exp(-z))
    return 0.5 * (y - t) ** 2


# --- tuple outputs ---------------------------------------------------------------------------


def f_two_outputs(x, y):
    return x * y, math.sin(x) + y


def f_three_outputs(x):
    return math.sin(x), math.cos(x), x


def f_tuple_with_constant(x, y):
    return x * y, 2.0, y


def f_tuple_outputs_shared(x, y, z):
    v = x * y
    w = math.exp(v) * z
    return w, v, w * v


def f_tuple_returned_variable(x, y):
    t = (x + y, x - y)
    return t


def f_tuple_swapped_outputs(x, y):
    a, b = x * 2, y * 3
    a, b = b, a
    return a, b


# --- non-smooth builtins (checked away from their kinks) --------------------------------------


def f_max_min(x, y, z):
    return max(x, y, z) * min(x * y, z, 1.5) + max(x, 0.25)


def f_floor_ceil_int(x, y):
    return math.floor(x) * y + math.ceil(y) * x + int(x * 3) * y + round(y) * x


def f_float_trunc(x):
    return float(x) * math.trunc(x * 2.0) + float(2)


def f_copysign(x, y):
    return math.copysign(x * x, y) + math.copysign(2.0, x) * y


def f_fmod(x, y):
    return math.fmod(x * 3.0, y) * x + math.fmod(7.0, y)


def f_abs_max_chain(x, y):
    d = abs(x - y)
    return max(d, 0.1) * min(x, y) + abs(x) * y


# --- branches: if/elif/else, conditional expressions, early returns --------------------------


def f_if_else(x, y):
    if x > y:
        z = x * y
    else:
        z = math.sin(x) + y
    return z * x


def f_if_elif_else_nested(x, y):
    if x > 1.0:
        if y > 0:
            z = x * y
        else:
            z = x - y
    elif x > 0:
        z = math.exp(x) * y
        z = z + x
    else:
        z = y * y
    return z + x * y


def f_if_without_else(x, y):
    z = x * y
    if x > 0.5:
        z = z * z
        y = y + 1.0
    return z + y


def f_early_return(x):
    if x < 0:
        return -x * 3.0
    y = math.log(x + 1.0)
    if y > 0.5:
        return y * x
    return y - x


def f_early_return_tuple(x, y):
    if x > y:
        return x * y, x
    return y, x + y


def f_conditional_expression(x, y):
    z = math.exp(x) if x < 1.0 else x * x
    return z * (y if y > 0 else -y)


def f_bool_ops_in_conditions(x, y):
    if x > 0 and y > 0 or not x < 2.0:
        return x * y
    return x + y


def f_chained_comparison(x, y):
    if -1.0 < x < y:
        return x * x * y
    return y * 2.0


def f_branch_on_computed_value(x):
    v = math.sin(x) * 2.0
    if v > 0.5:
        w = v * v
    elif v > -0.5:
        w = v
    else:
        w = -v * x
    return w + x


def f_comparison_value(x, y):
    return x * (x > y) + y * (x <= y)


def f_abs_by_branch(x):
    return x if x >= 0 else -x


def f_branch_with_reassignment(x, y):
    a = x * 2.0
    if y > 0:
        a = a * y
        a += x
    else:
        a -= y
    return a * x


def f_nested_early_return(x, y):
    if x > 0:
        if y > 0:
            return x * y
        z = x + y
    else:
        z = x - y
    return z * z


def f_nested_if_update(x, y):
    a = x * 2
    b = y
    if x > y:
        b = a * b
        if b > 1:
            a = a + b
    return a * b + x


def f_numeric_and_or(x, y):
    c = 1.0 if x > 0 else 2.0
    d = (x and y) + (x or y)
    return c * x + d * x


def f_branch_tuple_returns(x, y):
    z = x * y
    w = z if z > 0.1 else z * z
    if w > 0.5 and not x > 2:
        return w, z
    elif w < -1:
        return z, w
    return x, y


def f_same_condition_twice(x):
    y = x
    if x > 0:
        y = y * 2
    if x > 0:
        y = y * 3
    else:
        y = y - 1
    return y * x


def f_mod_floordiv(x, y):
    # Python's signs: (-7.0) % y is positive, x % -1.5 negative
    return (x * 3.0) % y * x + (-7.0) % y + (x // y) * x + x % -1.5 + 7.5 // y


# --- names the emitted code needs ---------------------------------------------------------
# A local or parameter named like a module the emitted code imports would shadow it.  These
# are not in CASES: ad_compiler must either reject them when compiling or get them right.


def f_local_named_math(x):
    math = x * 2
    return m.sin(math)


def f_param_named_np(np, x):
    return numpy.exp(np) * x


# (function, point, the shadowing name)
SHADOWING = [
    (f_local_named_math, (0.7,), "math"),
    (f_param_named_np, (0.3, -1.2), "np"),
]


# --- the cases -------------------------------------------------------------------------------

POS = (0.3, 3.0)
SYM = (-2.0, 2.0)
UNIT = (-0.9, 0.9)

CASES = [
    (f_sin, [(-3.0, 3.0)]),
    (f_cos, [(-3.0, 3.0)]),
    (f_tan, [(-1.2, 1.2)]),
    (f_exp, [SYM]),
    (f_expm1, [SYM]),
    (f_log, [(0.2, 5.0)]),
    (f_log_base, [(0.2, 5.0), (1.5, 4.0)]),
    (f_log_const_base, [(0.2, 5.0)]),
    (f_log_active_base, [(1.5, 4.0)]),
    (f_log2, [(0.2, 5.0)]),
    (f_log10, [(0.2, 5.0)]),
    (f_log1p, [(-0.5, 3.0)]),
    (f_sqrt, [(0.1, 4.0)]),
    (f_tanh, [SYM]),
    (f_sinh, [SYM]),
    (f_cosh, [SYM]),
    (f_asin, [UNIT]),
    (f_acos, [UNIT]),
    (f_atan, [(-3.0, 3.0)]),
    (f_atan2, [SYM, (0.3, 2.0)]),
    (f_hypot, [(0.5, 2.0), (-2.0, -0.5)]),
    (f_fabs, [(-2.0, -0.3)]),
    (f_math_pow, [POS, SYM]),
    (f_builtin_abs, [(0.5, 2.5), (-2.0, -0.5)]),
    (f_builtin_pow, [POS, SYM]),
    (f_constants, [SYM]),
    (f_np_trig, [SYM, SYM]),
    (f_np_inverse_trig, [UNIT]),
    (f_np_exp_log, [POS]),
    (f_np_hyperbolic, [POS]),
    (f_np_binary, [POS, SYM]),
    (f_np_abs, [(-2.0, -0.3), (0.3, 2.0)]),
    (f_np_square, [(-2.0, -0.3)]),
    (f_numpy_full_name, [SYM, (0.5, 2.0)]),
    (f_numpy_imported_names, [(-1.0, 1.0), (0.5, 2.0)]),
    (f_math_alias, [SYM, SYM]),
    (f_math_imported_names, [SYM, POS]),
    (f_renamed_import, [SYM]),
    (f_square, [(-2.0, 2.0)]),
    (f_cube_negative, [(-2.0, -0.3)]),
    (f_power_of_two, [SYM]),
    (f_both_active_power, [POS, SYM]),
    (f_fractional_powers, [POS, POS]),
    (f_power_of_power, [(0.5, 1.5), (-1.0, 1.0)]),
    (f_precedence, [(0.5, 1.5), (0.5, 1.5), (0.5, 1.5)]),
    (f_folded_literals, [POS]),
    (f_reassign, [SYM, SYM]),
    (f_augmented, [SYM, SYM]),
    (f_augmented_params, [(0.5, 2.0), (0.5, 2.0)]),
    (f_tuple_unpack, [POS, POS]),
    (f_swap, [SYM, SYM]),
    (f_tuple_variable, [SYM, SYM]),
    (f_tuple_variable_reused, [SYM, SYM]),
    (f_tuple_variable_returned_after_unpack, [SYM, SYM]),
    (f_np_constant_folding, [SYM]),
    (f_chained_assign, [SYM, SYM]),
    (f_docstring_defaults, [SYM, SYM, SYM]),
    (f_unary, [SYM, SYM]),
    (f_literals, [POS, (-2.0, 2.0)]),
    (f_multi_use, [SYM]),
    (f_same_operand, [POS, SYM]),
    (f_unused_params, [SYM, SYM, SYM]),
    (f_return_param, [SYM, SYM]),
    (f_return_constant, [SYM]),
    (f_return_int_constant, [SYM, SYM]),
    (f_identity, [SYM]),
    (f_name_clash, [SYM, SYM, SYM, SYM]),
    (f_gaussian, [SYM, SYM, (0.5, 2.0)]),
    (f_neuron, [SYM, SYM, SYM, SYM, SYM, (0.0, 1.0)]),
    (f_two_outputs, [SYM, SYM]),
    (f_three_outputs, [SYM]),
    (f_tuple_with_constant, [SYM, SYM]),
    (f_tuple_outputs_shared, [(-1.0, 1.0), (-1.0, 1.0), SYM]),
    (f_tuple_returned_variable, [SYM, SYM]),
    (f_tuple_swapped_outputs, [SYM, SYM]),
    (f_max_min, [(0.2, 0.9), (1.1, 1.9), (2.1, 2.9)]),
    (f_floor_ceil_int, [(1.1, 1.3), (2.1, 2.4)]),
    (f_float_trunc, [(0.6, 0.9)]),
    (f_copysign, [(-2.0, -0.3), (0.3, 2.0)]),
    (f_fmod, [(1.1, 1.3), (0.4, 0.45)]),
    (f_abs_max_chain, [(0.8, 1.5), (-1.5, -0.8)]),
    (f_if_else, [(-2.0, 2.0), (-2.0, 2.0)]),
    (f_if_elif_else_nested, [(-1.0, 2.0), (-1.0, 1.0)]),
    (f_if_without_else, [(0.0, 1.0), SYM]),
    (f_early_return, [(-1.0, 3.0)]),
    (f_early_return_tuple, [(-1.0, 1.0), (-1.0, 1.0)]),
    (f_conditional_expression, [(0.0, 2.0), (-1.0, 1.0)]),
    (f_bool_ops_in_conditions, [(-1.0, 3.0), (-1.0, 1.0)]),
    (f_chained_comparison, [(-2.0, 2.0), (-2.0, 2.0)]),
    (f_branch_on_computed_value, [(-3.0, 3.0)]),
    (f_comparison_value, [(-1.0, 1.0), (-1.0, 1.0)]),
    (f_abs_by_branch, [(-1.0, 1.0)]),
    (f_branch_with_reassignment, [SYM, (-1.0, 1.0)]),
    (f_nested_early_return, [(-2.0, 2.0), (-2.0, 2.0)]),
    (f_nested_if_update, [(-2.0, 2.0), (-2.0, 2.0)]),
    (f_numeric_and_or, [(-2.0, 2.0), (-2.0, 2.0)]),
    (f_branch_tuple_returns, [(-2.5, 2.5), (-2.5, 2.5)]),
    (f_same_condition_twice, [(-2.0, 2.0)]),
    # no jump inside: 3x / y in (5.09, 5.71), x / y in (1.7, 1.9), 7.5 / y in (11.4, 11.9)
    (f_mod_floordiv, [(1.12, 1.2), (0.63, 0.66)]),
]

# Corpus functions ad_compiler gets wrong today: function name -> (the bug, the
# checks of tests/test_corpus.py it breaks, None for all of them).  Those checks
# are marked xfail(strict=True), so fixing a bug makes them fail until the entry
# is removed.
KNOWN_BUGS: dict = {}

# The control-flow corpus (loops, calls, recursion) joins the same checks.
CONTROL_CASES = corpus_control.CASES
CASES = CASES + CONTROL_CASES
KNOWN_BUGS.update(corpus_control.KNOWN_BUGS)

N_POINTS = 5


def points(domain, seed, n=N_POINTS):
    """``n`` deterministic points drawn uniformly from the box ``domain``."""
    rng = np.random.default_rng(seed)
    return [tuple(float(rng.uniform(lo, hi)) for lo, hi in domain) for _ in range(n)]


POINTS = [
    (f, x) for seed, (f, domain) in enumerate(CASES) for x in points(domain, seed)
]
