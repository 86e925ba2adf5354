"""Functions ad_compiler must reject, each with a compiler-style error.

tests/test_errors.py names, for each function, the text the caret must point
at and the message.  This module is imported by the API tests (so it must stay
valid Python) and read as text by the CLI tests.
"""

import math
import os

import numpy as np


def loop_over_number(x):
    for a in 2.5:
        x = x * a
    return x


def unbound_after_loop(x, n):
    for i in range(n):
        y = x * i
    return y


def unknown_name(x):
    return x * undefined_thing


def unknown_function(x):
    return math.sin(x) + math.gamma(x)


def calls_os(x):
    return os.getpid() * x


def wrong_arity(x):
    return math.sin(x, 2)


def list_literal(x):
    y = [x, x]
    return y * x


def uses_lambda(x):
    return lambda z: z * x


def bare_return(x):
    return


def no_return(x):
    y = x * 2


def star_args(*xs):
    return 1.0


def keyword_only(x, *, scale):
    return x * scale


def attribute_store(x):
    x.value = 2
    return x


def unknown_method(x):
    return x.argsort()


def axis_not_literal(x, k):
    return np.sum(x, axis=k)


def used_before_assignment(x):
    y = z + 1
    z = x
    return y


def string_literal(x):
    return x * "a"


def complex_literal(x):
    return x * 2j


def walrus(x):
    return (y := x * 2) + y


def try_block(x):
    try:
        return math.log(x)
    except ValueError:
        return 0.0


def with_block(x):
    with open("f") as handle:
        return x


def global_statement(x):
    global counter
    return x


def delete_statement(x):
    y = x
    del y
    return x


def comprehension(x):
    return np.sum(np.array([x * i for i in range(3) if x > i]))


def code_after_return(x):
    return x
    y = 2


def keyword_argument(x):
    return math.log(x, base=2)


def nested_def(x):
    total = x

    def helper(y):
        nonlocal total
        total = total + y
        return total

    return helper(x)


def unpack_mismatch(x):
    a, b = x, x, x
    return a


def max_of_one_iterable(x):
    return max(x)


def maybe_unbound(x):
    if x > 0:
        y = x * 2
    return y


def compare_is(x):
    return x * (x is x)


def branches_return_different(x):
    if x > 0:
        return x, x
    return x


def falls_off_the_end(x):
    if x > 0:
        return x
    y = x * 2


def _pair(a, b):
    return a * b


def call_unknown_keyword(x):
    return _pair(x, c=2.0)


def call_missing_argument(x):
    return _pair(x)


def call_with_a_tuple_to_recursion(x):
    return call_with_a_tuple_to_recursion((x, x))
