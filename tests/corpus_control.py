"""A corpus of scalar functions with loops, calls and recursion for the AD tests.

The companion of ``tests/corpus.py`` (straight-line code and branches): every function
here uses only the subset ad_compiler supports plus control flow -- ``for`` over
``range`` (one, two or three arguments, bounds computed at run time, negative steps),
over tuple and list literals, local tuples, ``enumerate`` and ``zip``; ``while`` loops
with data-dependent exits; ``break``, ``continue``, ``for ... else`` and
``while ... else``; returns inside loops; calls to the ``h_`` helpers of this module
(keyword arguments, defaults, helpers calling helpers) and recursion.

``CASES`` pairs each function with a domain: one ``(low, high)`` interval per parameter.
Each domain box is chosen so that, on the box widened by 1e-5 in every direction, no
branch decision, loop trip count, ``int`` / ``round`` / ``floor`` value, ``abs`` sign or
``min`` / ``max`` choice changes: the function is smooth there and central finite
differences are a fair reference for both modes.  Trip counts taken from a parameter
(``range(int(n))`` with ``n`` in ``(3.2, 3.8)``) are constant on the box, so the
derivative with respect to ``n`` is 0.

``KNOWN_BUGS`` names the cases ad_compiler gets wrong today; ``CALL_FUNCTIONS`` names
the cases that call helpers or recurse; ``EXPECTED`` maps some names to a point and the
value worked out by hand (in the comment next to it).
"""

import math

import numpy as np

from ad_compiler import custom_derivative

# --- helpers (called by the cases below; not cases themselves) -----------------------------


def h_square(x):
    """Helper: x squared."""
    return x * x


def h_poly(x, a=1.0, b=0.5, c=0.25):
    """Helper with numeric defaults: a + b x + c x**2."""
    return a + b * x + c * x * x


def h_smooth(x):
    """Helper calling another helper twice: x**2 / (1 + x**2)."""
    return h_square(x) / (1.0 + h_square(x))


def h_partial_sum(x, n):
    """Helper with an early return and a loop: sum of x**k / (k + 1) for k < n."""
    if n < 1:
        return 0.0
    s = 0.0
    for k in range(n):
        s += x**k / float(k + 1)
    return s


def h_first_above(x, limit=3.0):
    """Helper returning from inside its loop once the iterate passes ``limit``."""
    y = x
    for i in range(50):
        y = y * 1.2 + 0.05
        if y > limit:
            return y + float(i)
    return y


def h_polar(x, y):
    """Helper returning a tuple: polar coordinates of (x, y)."""
    return math.hypot(x, y), math.atan2(y, x)


def h_rpow(x, n):
    """Recursive power x**n for an int n >= 0."""
    if n == 0:
        return 1.0
    return x * h_rpow(x, n - 1)


def h_fast_pow(x, n):
    """Recursive power by squaring: x**n for an int n >= 0, a branch on n's parity."""
    if n == 0:
        return 1.0
    half = h_fast_pow(x, int(n / 2))
    if 2 * int(n / 2) == n:
        return half * half
    return x * half * half


def h_exp_horner(x, k, n):
    """Recursive Horner evaluation: 1 + x/k (1 + x/(k+1) (... (1 + x/n)))."""
    if k > n:
        return 1.0
    return 1.0 + x / float(k) * h_exp_horner(x, k + 1, n)


def h_even_terms(x, n):
    """Mutual recursion with h_odd_terms: alternately adds x and multiplies by x / 2."""
    if n == 0:
        return 1.0
    return x + h_odd_terms(x, n - 1)


def h_odd_terms(x, n):
    """Mutual recursion with h_even_terms."""
    if n == 0:
        return 0.5
    return 0.5 * x * h_even_terms(x, n - 1)


def h_damped_step(y, t, k=0.5):
    """Helper: one explicit Euler step of y' = -k y + cos(t) with h = 0.1."""
    return y + 0.1 * (-k * y + math.cos(t))


# --- 1. range loops: trip counts, start/stop/step, accumulators, carried values ------------


def f_range_sum_powers(x, n):
    """range(int(n)) running many times; an accumulator of x**i / (i + 1)."""
    s = 0.0
    for i in range(int(n)):
        s += x**i / (i + 1)
    return s


def f_range_zero_iterations(x, n):
    """range(int(n)) running 0 times: the value after the loop is the one before."""
    y = x * 2.0
    for i in range(int(n)):
        y = y * y + float(i)
    return y + math.sin(x)


def f_range_one_iteration(x, n):
    """range(int(n)) running exactly once."""
    y = x
    for i in range(int(n)):
        y = math.exp(y * 0.5) + float(i) * y
    return y * x


def f_range_negative_count(x, n):
    """range() with a negative stop is empty."""
    s = x
    for i in range(int(n)):
        s = s * x
    return s * 3.0 - x


def f_range_start_stop(x, a, b):
    """range(start, stop) with both bounds computed from parameters."""
    s = 0.0
    for i in range(int(a), int(b)):
        s += math.sin(x * float(i)) / float(i)
    return s


def f_range_step(x):
    """range(start, stop, step) with literal bounds: i = 1, 4, 7, 10."""
    s = 1.0
    for i in range(1, 11, 3):
        s = s * x + float(i)
    return s


def f_range_negative_step(x, n):
    """range(int(n), 0, -1) counting down, the index used in arithmetic."""
    s = 0.0
    for i in range(int(n), 0, -1):
        s = s * x + 1.0 / float(i)
    return s


def f_range_negative_step_literal(x):
    """range(3, -4, -2) visits 3, 1, -1, -3: negative index values."""
    s = 0.0
    for i in range(3, -4, -2):
        s += math.exp(x * float(i) * 0.25)
    return s


def f_range_computed_step(x, a, b):
    """range(start, stop, -step) with all three computed at run time: 7, 5, 3."""
    s = x
    for i in range(int(a) + 6, int(a), -int(b)):
        s = math.sin(s) + x * float(i) * 0.1
    return s


def f_range_bound_from_active(x):
    """The trip count comes from the differentiated value: range(int(x) + 2)."""
    s = 0.0
    for i in range(int(x) + 2):
        s += x / (float(i) + x)
    return s


def f_range_round(x, n):
    """A trip count from round(n)."""
    y = x
    for _ in range(round(n)):
        y = y - 0.3 * math.sin(y)
    return y


def f_range_product(x, n):
    """A product accumulator: (x + 1)(x + 2)...(x + n) / n!."""
    p = 1.0
    for i in range(1, int(n) + 1):
        p *= (x + float(i)) / float(i)
    return p


def f_range_overwrite(x, n):
    """A value overwritten (not accumulated) in every iteration."""
    y = 0.0
    for i in range(int(n)):
        y = math.sin(x + float(i)) * x
    return y + x


def f_fibonacci_swap(x, y, n):
    """Two loop-carried values updated together: a, b = b, a + b."""
    a, b = x, y
    for _ in range(int(n)):
        a, b = b, a + b
    return a * b


def f_three_rotate(x, y, z):
    """Three loop-carried parameters that rotate and mix."""
    for i in range(4):
        x, y, z = y, z, 0.5 * x + 0.1 * y * z
    return x + 2.0 * y + 3.0 * z


def f_matrix_power(a, b, c, d, n):
    """Four carried values: the entries of a 2x2 matrix raised to the power int(n)."""
    p, q, r, s = 1.0, 0.0, 0.0, 1.0
    for _ in range(int(n)):
        p, q, r, s = p * a + q * c, p * b + q * d, r * a + s * c, r * b + s * d
    return p + q + r + s


def f_augmented_in_loop(x, y):
    """Every augmented assignment (+= -= *= /= **=) inside a loop."""
    w = 1.0
    for _ in range(6):
        x += 0.2 * y
        y -= 0.2 * x
        x *= 1.01
        y /= 1.02
        w **= 1.1
        w += 0.1 * x * x
    return x * x + y + w


def f_index_arithmetic(x):
    """The loop index converted with float(i) and used in arithmetic."""
    s = 0.0
    for i in range(6):
        t = float(i)
        s += t * t * x / (1.0 + t) - math.cos(t * x)
    return s


def f_loop_variable_after_loop(x, n):
    """The loop variable keeps its last value after the loop."""
    i = -1
    for i in range(int(n)):
        x = x * 0.9 + 0.1
    return x * float(i)


def f_loop_reassigns_parameter(m, n):
    """A parameter-like value reassigned in the loop: Kepler's equation by iteration."""
    x = m
    for _ in range(int(n)):
        x = m + 0.3 * math.sin(x)
    return x


def f_welford(x, y, n):
    """Welford's running mean and variance: several carried values, a float count."""
    mean = 0.0
    m2 = 0.0
    k = 0.0
    for i in range(int(n)):
        v = x + float(i) * y + 0.1 * x * float(i * i)
        k += 1.0
        d = v - mean
        mean += d / k
        m2 += d * (v - mean)
    return mean + m2 / (k - 1.0)


def f_np_in_loop(x):
    """NumPy functions on scalars inside a loop."""
    s = 0.0
    for i in range(1, 4):
        s += np.sin(x * float(i)) / float(i) + np.exp(-x * x * float(i))
    return s


# --- 2. nested loops --------------------------------------------------------------------


def f_nested_double(x, y):
    """Two nested range loops with literal bounds."""
    s = 0.0
    for i in range(3):
        for j in range(4):
            s += math.sin(x * float(i) + y * float(j)) / (1.0 + float(i + j))
    return s


def f_nested_triangular(x, n):
    """The inner bound depends on the outer index: range(i), empty for i = 0."""
    s = 0.0
    for i in range(int(n)):
        for j in range(i):
            s += x ** (i - j) / float(i + 1)
    return s


def f_nested_inner_start(x, y):
    """The inner start depends on the outer index: for j in range(i, 4)."""
    s = 0.0
    for i in range(1, 4):
        for j in range(i, 4):
            s += math.cos(x * float(j) - y * float(i)) + x * y / float(i * j)
    return s


def f_nested_three_deep(x, y, z):
    """Three nested loops with literal bounds."""
    s = 0.0
    for i in range(2):
        for j in range(3):
            for k in range(2):
                s += math.tanh(x * float(i + 1) + y * float(j) - z * float(k))
    return s


def f_nested_three_triangular(x):
    """Three nested loops, each bound by the enclosing index."""
    s = 0.0
    for i in range(4):
        for j in range(i):
            for k in range(j):
                s += x ** (i - k) * float(j) + x * float(k)
    return s


def f_nested_carried_across_levels(x, y):
    """A value carried by the outer loop is read by the inner loop, and vice versa."""
    a = x
    b = y
    for i in range(3):
        for j in range(2):
            b = b + 0.1 * a * float(j + 1)
        a = a * 0.8 + 0.1 * math.sin(b)
    return a * b


def f_nested_negative_inner_step(x):
    """An inner loop counting down from a bound set by the outer index."""
    s = 0.0
    for i in range(3):
        for j in range(i + 2, 0, -1):
            s = s * 0.5 + x * float(j) - float(i)
    return s


def f_nested_while_in_for(x):
    """A while loop whose counter limit is the outer for index."""
    s = 0.0
    for i in range(4):
        k = 0
        while k < i:
            s = s + x / float(k + i + 1)
            k += 1
        s = s * math.cos(x * 0.1)
    return s


def f_nested_for_in_while(x):
    """A for loop inside a while loop with a data-dependent exit."""
    y = x
    rounds = 0.0
    while y < 3.0:
        for j in range(3):
            y = y + 0.1 * y * float(j + 1)
        rounds += 1.0
    return y + rounds


# --- 3. while loops ------------------------------------------------------------------------


def f_while_newton_sqrt(a):
    """Newton's method for sqrt(a) from x = a until x*x - a drops below 1e-9."""
    x = a
    while x * x - a > 1e-9:
        x = 0.5 * (x + a / x)
    return x


def f_while_halving(x):
    """Halve until below 0.1; the number of halvings is used in the result."""
    n = 0
    while x > 0.1:
        x = x / 2.0
        n += 1
    return x * float(n)


def f_while_counter(x, n):
    """while with an integer counter bounded by int(n)."""
    i = 0
    while i < int(n):
        x = math.cos(x) + 0.5 * x
        i += 1
    return x


def f_while_float_time_euler(y, k):
    """Explicit Euler in a while loop over a float time t += 0.125 up to 1."""
    t = 0.0
    h = 0.125
    while t < 1.0:
        y = y + h * (-k * y + math.sin(t))
        t += h
    return y


def f_while_else(x):
    """while ... else where the loop ends normally, so the else branch runs."""
    i = 0
    s = x
    while i < 3:
        s = s * x + 1.0
        i += 1
    else:
        s = s * 2.0
    return s


def f_while_else_break(x):
    """while ... else where break fires, so the else branch is skipped."""
    s = x
    while s < 10.0:
        s = s * 1.5 + x
        if s > 5.0:
            break
    else:
        s = -s
    return s


def f_while_true_break(x):
    """while True with a data-dependent break; the trip count enters the result."""
    y = x
    k = 0.0
    while True:
        y = y * y + 0.3
        k += 1.0
        if y > 1.0:
            break
    return y + k


def f_while_compound_growth(v, r):
    """Grow by (1 + r) until above 2: the iteration count depends on both inputs."""
    n = 0
    while v < 2.0:
        v = v * (1.0 + r)
        n += 1
    return v - 0.01 * float(n)


def f_while_two_conditions(x, y):
    """A while condition combining two active comparisons with and."""
    while x < 3.0 and y > 0.2:
        x = x + 0.5 * y
        y = y * 0.7
    return x * y


def f_while_fixed_point_tolerance(x, c):
    """Fixed-point iteration x = c cos(x) until a step is below 1e-4 (at most 100)."""
    step = 1.0
    k = 0
    while step > 1e-4 and k < 100:
        x_new = c * math.cos(x)
        step = abs(x_new - x)
        x = x_new
        k += 1
    return x


def f_while_series_tolerance(x):
    """The exp series summed until a term drops below 1e-8."""
    term = 1.0
    s = 1.0
    k = 0.0
    while term > 1e-8:
        k += 1.0
        term = term * x / k
        s += term
    return s


def f_while_not_condition(x):
    """A while condition written with not and a chained comparison."""
    y = x
    while not 2.0 < y < 100.0:
        y = y * 1.7 + 0.2
    return y


# --- 4. break, continue, for ... else, returns inside loops --------------------------------


def f_break_on_threshold(x):
    """break when a running sum passes a threshold."""
    s = 0.0
    for i in range(10):
        s += x * float(i)
        if s > 3.0:
            break
    return s * x


def f_continue_on_index(x):
    """continue on an inactive condition (the loop index)."""
    s = 0.0
    for i in range(6):
        if i == 2 or i == 4:
            continue
        s = s * x + float(i)
    return s


def f_continue_on_active(x):
    """continue decided by an active value: terms with sin(x i) < 0 are skipped."""
    s = 0.0
    for i in range(1, 6):
        v = math.sin(x * float(i))
        if v < 0.0:
            continue
        s += v * float(i)
    return s


def f_break_inner_only(x, y):
    """break in the inner of two loops ends only the inner loop."""
    s = 0.0
    for i in range(3):
        for j in range(5):
            t = x * float(j + 1)
            if t > 2.0 + float(i):
                break
            s += t * y
        s = s * 0.9
    return s


def f_continue_inner(x):
    """continue in the inner of two loops, on an active value."""
    s = 0.0
    for i in range(3):
        for j in range(4):
            v = x * float(j) - float(i)
            if v < 0.0:
                continue
            s += math.sqrt(v + 0.5)
    return s


def f_break_and_continue(x, y):
    """break and continue in the same loop."""
    s = 0.0
    for i in range(10):
        if i == 1:
            continue
        s += x * float(i) + y
        if s > 15.0:
            break
    return s


def f_for_else_completes(x):
    """for ... else where no break happens, so the else branch runs."""
    s = x
    for i in range(4):
        s = s * 0.5 + x
        if s > 100.0:
            break
    else:
        s = s + 10.0
    return s


def f_for_else_breaks(x):
    """for ... else where break fires, so the else branch is skipped."""
    s = x
    for i in range(10):
        s = s * 1.3 + 0.1
        if s > 2.0:
            break
    else:
        s = 0.0
    return s * float(i)


def f_for_else_search(x, y):
    """The nested for/else search pattern: the inner else runs for primes 2, 3, 5."""
    s = 0.0
    for i in range(2, 6):
        for j in range(2, i):
            if i == j * 2:
                break
        else:
            s += x**i * y
    return s


def f_return_in_loop(x):
    """return from inside a loop when the iterate passes a threshold."""
    y = x
    for i in range(20):
        y = y * 1.5 + 0.1
        if y > 4.0:
            return y - float(i)
    return -1.0


def f_return_in_nested_loop(x, y):
    """return from the inner of two nested loops."""
    s = 0.0
    for i in range(5):
        for j in range(5):
            s += x * y + 0.1 * float(i + j)
            if s > 8.0:
                return s * x
    return s


def f_return_in_while(x):
    """return from inside a while True loop."""
    y = x
    while True:
        y = y + math.sin(y)
        if y > 3.0:
            return y * x


def f_several_returns(x):
    """Several returns: before the loop and inside it (both not taken), after it."""
    if x < 0.0:
        return x * x
    y = x
    for i in range(5):
        y = math.sqrt(y + 1.0)
        if y < 1.2:
            return y * 3.0
    return y - x


def f_return_tuple_in_loop(x, y):
    """A tuple returned from inside a loop."""
    a, b = x, y
    for i in range(10):
        a, b = a + b * 0.5, b * 1.2
        if a > 3.0:
            return a, b * float(i)
    return b, a


# --- 5. branches, ternaries, min / max / abs on active values inside loops -----------------


def f_branch_in_loop(x):
    """if/else on the carried value in a loop: the branch differs between rounds."""
    for i in range(6):
        if x > 1.0:
            x = x * 0.6
        else:
            x = x * x + 0.7
    return x


def f_ternary_in_loop(x, y):
    """A conditional expression on an active value inside a loop."""
    s = 0.0
    for i in range(5):
        v = x * float(i) - y
        s += v * v if v > 0.0 else -v * 0.5
    return s


def f_elif_chain_in_loop(x):
    """An if/elif/else chain inside a loop: each round picks by the carried value."""
    y = x
    for i in range(5):
        if y < 0.5:
            y = y + 0.4
        elif y < 1.0:
            y = y * 1.3
        else:
            y = math.sqrt(y) - 0.2
    return y


def f_index_branch_in_loop(x):
    """A branch on the (inactive) loop index."""
    s = x
    for i in range(6):
        if i < 2:
            s = s * x
        elif i == 3:
            s = s + 1.0
        else:
            s = math.sin(s)
    return s


def f_chained_comparison_in_loop(x):
    """A chained comparison on the carried value decides each update."""
    for i in range(5):
        if 0.5 < x < 1.0:
            x = x * 1.5
        else:
            x = x - 0.6
    return x


def f_bool_ops_in_loop(x, y):
    """and / or / not on active and inactive values inside a loop."""
    s = 0.0
    for i in range(4):
        a = x + 0.3 * float(i)
        if a > 1.0 and not y > a or i == 0:
            s += a * y
        else:
            s -= a / y
    return s


def f_min_max_in_loop(x, y):
    """A running max and min inside a loop, at points with no ties."""
    hi = -100.0
    lo = 100.0
    for i in range(5):
        v = math.sin(x * float(i + 1)) + y * float(i)
        hi = max(hi, v)
        lo = min(lo, v, 2.0 * v + 1.0)
    return hi - lo


def f_abs_in_loop(x):
    """abs of active values inside a loop, away from the kinks at the integers."""
    s = 0.0
    for i in range(5):
        s += abs(x - float(i)) * float(i + 1)
    return s


def f_clamp_in_loop(x, y):
    """min / max clamps on a carried value: the clamp binds in some rounds only."""
    for i in range(6):
        x = min(max(x * 1.4 - y, -1.0), 1.0) + 0.1 * y
    return x


def f_piecewise_constant_in_loop(x):
    """math.floor, int, math.fmod and math.copysign inside a loop, locally constant."""
    s = 0.0
    for i in range(1, 4):
        t = x * float(i)
        s += (t - math.floor(t)) * float(int(t)) + math.fmod(t, 1.3)
        s += math.copysign(t, x - 1.0)
    return s


# --- 6. loops over tuples and lists: literals, local names, enumerate, zip -----------------


def f_for_tuple_literal(x, y, z):
    """for over a tuple literal of parameters."""
    s = 0.0
    for a in (x, y, z):
        s += a * a * math.sin(a)
    return s


def f_for_list_literal(x, y):
    """for over a list literal mixing parameters, an expression and a constant."""
    p = 1.0
    for a in [x, y, x * y, 2.0]:
        p *= 1.0 + a * a
    return math.log(p)


def f_tuple_of_constants(x):
    """for over a tuple of constants."""
    s = 0.0
    for c in (0.5, 1.5, 2.5, -1.0):
        s += math.exp(-c * x) * c
    return s


def f_enumerate_tuple(x, y, z):
    """enumerate over a tuple literal: the index and the value both used."""
    s = 0.0
    for i, a in enumerate((x, y, z)):
        s += float(i + 1) * a ** (i + 1)
    return s


def f_zip_tuples(x, y, u, v):
    """zip of two tuple literals: a dot product plus a nonlinear term."""
    s = 0.0
    for a, b in zip((x, y), (u, v)):
        s += a * b + math.exp(a - b)
    return s


def f_zip_three(x, y, z):
    """zip of three tuples, one of them constant."""
    s = 0.0
    for a, b, c in zip((x, y, z), (y, z, x), (1.0, 2.0, 3.0)):
        s += c * a * b
    return s


def f_tuple_local_loop(x, y):
    """for over a local name holding a tuple."""
    t = (x, y, x - y, x * y)
    s = 0.0
    for a in t:
        s = s * 0.5 + math.cos(a)
    return s


def f_enumerate_local_tuple(x, y):
    """enumerate over a local tuple, with a continue on the index."""
    t = (x, y, x + y)
    s = 0.0
    for i, a in enumerate(t):
        if i == 1:
            continue
        s += float(i) * a + a * a
    return s


def f_zip_local_tuples(x, y, z):
    """zip over two local names holding tuples."""
    p = (x, y, z)
    q = (z, x * y, 1.0)
    s = 0.0
    for a, b in zip(p, q):
        s += math.atan2(a, b + 3.0)
    return s


def f_nested_tuple_loops(x, y):
    """Two nested loops over the same local tuple."""
    t = (x, y, 1.0)
    s = 0.0
    for a in t:
        for b in t:
            s += math.sin(a * b)
    return s


def f_tuple_loop_with_break(x, y, z):
    """for over a tuple with a break on an active value; z is never added."""
    s = 0.0
    for a in (x, y, z):
        if a > 1.0:
            break
        s += a * a
    return s * z


def f_running_max_tuple(x, y, z):
    """A running max over a tuple at points with no ties."""
    best = 0.0
    for a in (x, y, z):
        best = max(best, a * a)
    return best + x * y * z


# --- 7. calls to helpers and recursion ----------------------------------------------------


def f_call_plain(x, y):
    """Plain calls to a helper."""
    return h_square(x) + h_square(math.sin(y)) * x


def f_call_keywords(x, y):
    """Calls with keyword arguments, out of order, some left to their defaults."""
    return h_poly(x, c=y, a=2.0) + h_poly(y, b=x)


def f_call_defaults(x):
    """Calls relying on the helper's default values."""
    return h_poly(x) * h_poly(x, 0.5)


def f_call_in_loop(x, n):
    """A helper called inside a loop with keyword arguments that vary per round."""
    s = 0.0
    for i in range(int(n)):
        s += h_poly(x, b=float(i), c=s * 0.1)
    return s


def f_call_chain(x, y):
    """A helper that calls another helper."""
    return h_smooth(x) * y + h_smooth(y)


def f_call_helper_with_loop(x, n):
    """A helper with an early return and a loop, called on both paths."""
    return h_partial_sum(x, int(n)) + h_partial_sum(x, 0) * x


def f_call_helper_returns_in_loop(x):
    """A helper that returns from inside its loop, with and without a keyword."""
    return h_first_above(x) + h_first_above(x, limit=5.0)


def f_call_tuple_result(x, y):
    """A helper returning a tuple, unpacked by the caller."""
    r, t = h_polar(x, y)
    return r * math.cos(2.0 * t) + t


def f_call_in_nested_loop_with_branch(x, y):
    """Helpers called in nested loops with a branch on a helper's result."""
    s = 0.0
    for i in range(3):
        for j in range(2):
            v = h_poly(x * float(i), c=y * float(j + 1))
            if v > 1.5:
                s += h_square(v)
            else:
                s -= v
    return s


def f_call_ode_steps(y, k, n):
    """A helper doing one ODE step called in a loop, with a keyword argument."""
    t = 0.0
    for _ in range(int(n)):
        y = h_damped_step(y, t, k=k)
        t += 0.1
    return y


def f_recursive_power(x, n):
    """Recursion with an int depth: x**int(n) by h_rpow, plus the depth-0 case."""
    return h_rpow(x, int(n)) + h_rpow(x, 0)


def f_recursive_fast_power(x, n):
    """Recursion with a branch on parity: power by squaring."""
    return h_fast_pow(x, int(n))


def f_recursive_horner(x, n):
    """Recursive Horner evaluation of the exp Taylor polynomial of degree int(n)."""
    return h_exp_horner(x, 1, int(n))


def f_mutual_recursion(x, n):
    """Two helpers calling each other, depth int(n)."""
    return h_even_terms(x, int(n))


def f_recursive_self(x, n):
    """The case function calls itself; the depth test is on a float counter."""
    if n < 1.0:
        return x
    return f_recursive_self(math.sin(x) + 0.5 * x, n - 1.0)


# --- 7b. user-defined derivatives: functions ad_compiler cannot see into --------------------


def h_erf_partials(x):
    """d erf / dx."""
    return 2.0 / math.sqrt(math.pi) * math.exp(-x * x)


@custom_derivative(h_erf_partials)
def h_erf(x):
    """math.erf has no rule in ad_compiler's table: the user gives its derivative."""
    return math.erf(x)


def h_logaddexp_partials(a, b):
    """The partials of log(e^a + e^b): the softmax weights."""
    m = max(a, b)
    ea, eb = math.exp(a - m), math.exp(b - m)
    return ea / (ea + eb), eb / (ea + eb)


@custom_derivative(h_logaddexp_partials)
def h_logaddexp(a, b):
    """numpy.logaddexp, opaque to ad_compiler."""
    return float(np.logaddexp(a, b))


def f_custom_erf(x):
    """A custom derivative used once, then differentiated through as usual."""
    return h_erf(x) * x + h_erf(2.0 * x)


def f_custom_in_loop(x, y):
    """A two-argument custom derivative inside a loop, both arguments active."""
    s = y
    for i in range(4):
        s = h_logaddexp(s, x * float(i))
    return s


# --- 8. classic numerical code --------------------------------------------------------------


def f_horner(x, a0, a1, a2, a3):
    """Horner's scheme over a tuple of active coefficients: a0 + a1 x + ... + a3 x^3."""
    p = 0.0
    for c in (a3, a2, a1, a0):
        p = p * x + c
    return p


def f_euler_ode(y0, k, n):
    """int(n) explicit Euler steps of y' = -k y + sin(t) with h = 0.1."""
    h = 0.1
    y = y0
    t = 0.0
    for _ in range(int(n)):
        y = y + h * (-k * y + math.sin(t))
        t = t + h
    return y


def f_rk2_logistic(y0, r):
    """Midpoint-rule (RK2) integration of the logistic ODE y' = r y (1 - y)."""
    h = 0.2
    y = y0
    for _ in range(10):
        k1 = r * y * (1.0 - y)
        ym = y + 0.5 * h * k1
        k2 = r * ym * (1.0 - ym)
        y = y + h * k2
    return y


def f_leapfrog_pendulum(q, p):
    """Stormer-Verlet (leapfrog) steps for a pendulum; returns the energy."""
    dt = 0.1
    for _ in range(20):
        p = p - 0.5 * dt * math.sin(q)
        q = q + dt * p
        p = p - 0.5 * dt * math.sin(q)
    return 0.5 * p * p - math.cos(q)


def f_fixed_point_cos(x, c):
    """30 rounds of the contraction x = c cos(x)."""
    for _ in range(30):
        x = c * math.cos(x)
    return x


def f_taylor_exp(x, n):
    """Taylor series of exp(x) to int(n) terms, each term from the previous one."""
    term = 1.0
    s = 1.0
    for i in range(1, int(n)):
        term = term * x / float(i)
        s += term
    return s


def f_taylor_sin(x, n):
    """Taylor series of sin(x) to int(n) terms with alternating signs."""
    term = x
    s = x
    for k in range(1, int(n)):
        term = -term * x * x / float((2 * k) * (2 * k + 1))
        s += term
    return s


def f_logistic_map(l, n):
    """The logistic map l = 4 l (1 - l) iterated int(n) times."""
    for _ in range(int(n)):
        l = 4.0 * l * (1.0 - l)
    return l


def f_compound_interest(p, r, years):
    """Monthly compound interest with a yearly withdrawal: 12 inner rounds per year."""
    for year in range(int(years)):
        for month in range(12):
            p *= 1.0 + r / 12.0
        p -= 10.0
    return p


def f_softplus_sum(x, y, z):
    """Sum of softplus(a) = log(1 + exp(a)) over a tuple, stable form by a branch."""
    s = 0.0
    for a in (x, y, z, x - y):
        if a > 0.0:
            s += a + math.log1p(math.exp(-a))
        else:
            s += math.log1p(math.exp(a))
    return s


def f_spline(x):
    """A piecewise cubic selected by an elif chain (no bisection)."""
    if x < 1.0:
        v = x * x * x
    elif x < 2.0:
        u = x - 1.0
        v = 1.0 + 3.0 * u + 3.0 * u * u - 2.0 * u * u * u
    elif x < 3.0:
        u = x - 2.0
        v = 5.0 + 3.0 * u - 3.0 * u * u + u * u * u
    else:
        v = 6.0 + (x - 3.0) * 0.5
    return v


def f_spline_in_loop(x):
    """The same piecewise cubic evaluated inline at three shifted points in a loop."""
    s = 0.0
    for k in range(3):
        t = x + 0.9 * float(k)
        if t < 1.0:
            v = t * t * t
        elif t < 2.0:
            u = t - 1.0
            v = 1.0 + 3.0 * u + 3.0 * u * u - 2.0 * u * u * u
        elif t < 3.0:
            u = t - 2.0
            v = 5.0 + 3.0 * u - 3.0 * u * u + u * u * u
        else:
            v = 6.0 + (t - 3.0) * 0.5
        s += v * float(k + 1)
    return s


def f_babylonian_sqrt(a, n):
    """Babylonian square root with int(n) iterations from x = 1."""
    x = 1.0
    for _ in range(int(n)):
        x = 0.5 * (x + a / x)
    return x


def f_newton_cube_root(c):
    """Newton's method for the cube root of c, 8 fixed iterations."""
    x = 1.0 + c / 3.0
    for _ in range(8):
        x = x - (x * x * x - c) / (3.0 * x * x)
    return x


def f_trapezoid(a, b):
    """Trapezoidal rule for the integral of exp(-t^2) over [a, b] with 16 panels."""
    n = 16
    h = (b - a) / float(n)
    s = 0.5 * (math.exp(-a * a) + math.exp(-b * b))
    for i in range(1, n):
        t = a + h * float(i)
        s += math.exp(-t * t)
    return s * h


def f_simpson(a, b):
    """Simpson's rule for the integral of 1 / (1 + t^2); the 4, 2, 4 weights toggle."""
    n = 10
    h = (b - a) / float(n)
    s = 1.0 / (1.0 + a * a) + 1.0 / (1.0 + b * b)
    w = 4.0
    for i in range(1, n):
        t = a + h * float(i)
        s += w / (1.0 + t * t)
        w = 6.0 - w
    return s * h / 3.0


def f_gradient_descent(x0, lr):
    """Gradient descent on (x - 2)^2 + sin(3x), the gradient written by hand."""
    x = x0
    for _ in range(15):
        g = 2.0 * (x - 2.0) + 3.0 * math.cos(3.0 * x)
        x = x - lr * g
    return (x - 2.0) ** 2 + math.sin(3.0 * x)


def f_chebyshev(x, n):
    """Chebyshev polynomial T_int(n)(x) by the three-term recurrence."""
    t0, t1 = 1.0, x
    for _ in range(int(n) - 1):
        t0, t1 = t1, 2.0 * x * t1 - t0
    return t1


def f_legendre(x, n):
    """Legendre polynomial P_int(n)(x) by Bonnet's recurrence with float(k)."""
    p0, p1 = 1.0, x
    for k in range(1, int(n)):
        p0, p1 = p1, ((2.0 * float(k) + 1.0) * x * p1 - float(k) * p0) / float(k + 1)
    return p1


def f_continued_fraction_tan(x, n):
    """Lambert's continued fraction for tan(x), bottom-up with a negative step."""
    d = float(2 * int(n) + 1)
    for k in range(int(n), 0, -1):
        d = float(2 * k - 1) - x * x / d
    return x / d


def f_power_iteration(a, b, d):
    """Power iteration for the top eigenvalue of [[a, b], [b, d]], hypot-normalised."""
    u, v = 1.0, 0.3
    for _ in range(25):
        u, v = a * u + b * v, b * u + d * v
        r = math.hypot(u, v)
        u, v = u / r, v / r
    return u * (a * u + b * v) + v * (b * u + d * v)


# --- the cases -------------------------------------------------------------------------------

SYM = (-2.0, 2.0)
POS = (0.3, 3.0)
UNIT = (-0.9, 0.9)
N3 = (3.2, 3.8)  # int(n) == 3

CASES = [
    # 1. range loops
    (f_range_sum_powers, [(0.5, 1.5), (6.2, 6.8)]),
    (f_range_zero_iterations, [SYM, (0.2, 0.8)]),
    (f_range_one_iteration, [SYM, (1.2, 1.8)]),
    (f_range_negative_count, [SYM, (-2.8, -2.2)]),
    (f_range_start_stop, [SYM, (1.2, 1.8), (5.2, 5.8)]),
    (f_range_step, [SYM]),
    (f_range_negative_step, [SYM, (5.2, 5.8)]),
    (f_range_negative_step_literal, [SYM]),
    (f_range_computed_step, [SYM, (1.1, 1.9), (2.1, 2.9)]),
    (f_range_bound_from_active, [(1.2, 1.8)]),
    (f_range_round, [SYM, (2.6, 3.4)]),
    (f_range_product, [(-0.5, 2.0), (4.1, 4.9)]),
    (f_range_overwrite, [SYM, N3]),
    (f_fibonacci_swap, [SYM, SYM, (6.2, 6.8)]),
    (f_three_rotate, [SYM, SYM, SYM]),
    (f_matrix_power, [UNIT, UNIT, UNIT, UNIT, N3]),
    (f_augmented_in_loop, [SYM, SYM]),
    (f_index_arithmetic, [SYM]),
    (f_loop_variable_after_loop, [SYM, N3]),
    (f_loop_reassigns_parameter, [(-3.0, 3.0), (8.2, 8.8)]),
    (f_welford, [SYM, SYM, (5.2, 5.8)]),
    (f_np_in_loop, [SYM]),
    # 2. nested loops
    (f_nested_double, [SYM, SYM]),
    (f_nested_triangular, [(-1.5, 1.5), (4.2, 4.8)]),
    (f_nested_inner_start, [SYM, SYM]),
    (f_nested_three_deep, [(-1.0, 1.0), (-1.0, 1.0), (-1.0, 1.0)]),
    (f_nested_three_triangular, [(-1.2, 1.2)]),
    (f_nested_carried_across_levels, [SYM, SYM]),
    (f_nested_negative_inner_step, [SYM]),
    (f_nested_while_in_for, [SYM]),
    (f_nested_for_in_while, [(1.05, 1.7)]),
    # 3. while loops
    (f_while_newton_sqrt, [(1.4, 2.5)]),
    (f_while_halving, [(1.7, 3.1)]),
    (f_while_counter, [SYM, (4.2, 4.8)]),
    (f_while_float_time_euler, [SYM, (0.2, 2.0)]),
    (f_while_else, [SYM]),
    (f_while_else_break, [(0.65, 0.9)]),
    (f_while_true_break, [(0.67, 0.72)]),
    (f_while_compound_growth, [(1.0, 1.05), (0.105, 0.11)]),
    (f_while_two_conditions, [(0.5, 0.6), (1.0, 1.1)]),
    (f_while_fixed_point_tolerance, [(1.3, 1.8), (0.625, 0.655)]),
    (f_while_series_tolerance, [(0.55, 0.7)]),
    (f_while_not_condition, [(0.3, 0.4)]),
    # 4. break, continue, for ... else, returns in loops
    (f_break_on_threshold, [(0.35, 0.45)]),
    (f_continue_on_index, [SYM]),
    (f_continue_on_active, [(0.8, 0.9)]),
    (f_break_inner_only, [(0.76, 0.79), SYM]),
    (f_continue_inner, [(0.7, 0.9)]),
    (f_break_and_continue, [(0.9, 1.0), (0.9, 1.0)]),
    (f_for_else_completes, [SYM]),
    (f_for_else_breaks, [(0.5, 0.55)]),
    (f_for_else_search, [SYM, SYM]),
    (f_return_in_loop, [(0.5, 0.6)]),
    (f_return_in_nested_loop, [(1.0, 1.05), (1.0, 1.05)]),
    (f_return_in_while, [(0.5, 0.6)]),
    (f_several_returns, [(0.5, 1.5)]),
    (f_return_tuple_in_loop, [(0.9, 1.1), (0.85, 1.0)]),
    # 5. branches, ternaries, min / max / abs in loops
    (f_branch_in_loop, [(1.5, 1.6)]),
    (f_ternary_in_loop, [(0.9, 1.0), (1.3, 1.6)]),
    (f_elif_chain_in_loop, [(0.2, 0.25)]),
    (f_index_branch_in_loop, [SYM]),
    (f_chained_comparison_in_loop, [(0.6, 0.65)]),
    (f_bool_ops_in_loop, [(0.5, 0.6), (1.25, 1.35)]),
    (f_min_max_in_loop, [(0.56, 0.6), (0.13, 0.18)]),
    (f_abs_in_loop, [(2.2, 2.8)]),
    (f_clamp_in_loop, [(0.55, 0.59), (0.08, 0.11)]),
    (f_piecewise_constant_in_loop, [(1.1, 1.2)]),
    # 6. loops over tuples and lists
    (f_for_tuple_literal, [SYM, SYM, SYM]),
    (f_for_list_literal, [SYM, SYM]),
    (f_tuple_of_constants, [SYM]),
    (f_enumerate_tuple, [SYM, SYM, SYM]),
    (f_zip_tuples, [SYM, SYM, SYM, SYM]),
    (f_zip_three, [SYM, SYM, SYM]),
    (f_tuple_local_loop, [SYM, SYM]),
    (f_enumerate_local_tuple, [SYM, SYM]),
    (f_zip_local_tuples, [SYM, SYM, (-1.0, 1.0)]),
    (f_nested_tuple_loops, [(-1.5, 1.5), (-1.5, 1.5)]),
    (f_tuple_loop_with_break, [(0.1, 0.5), (0.2, 0.6), (1.5, 2.0)]),
    (f_running_max_tuple, [(0.1, 0.3), (-1.2, -0.9), (0.4, 0.6)]),
    # 7. calls and recursion
    (f_call_plain, [SYM, SYM]),
    (f_call_keywords, [SYM, SYM]),
    (f_call_defaults, [SYM]),
    (f_call_in_loop, [(-1.0, 1.0), (4.2, 4.8)]),
    (f_call_chain, [SYM, SYM]),
    (f_call_helper_with_loop, [(-1.5, 1.5), (5.2, 5.8)]),
    (f_call_helper_returns_in_loop, [(0.52, 0.58)]),
    (f_call_tuple_result, [(0.5, 2.0), SYM]),
    (f_call_in_nested_loop_with_branch, [(0.9, 1.0), (0.4, 0.5)]),
    (f_call_ode_steps, [SYM, (0.2, 2.0), (7.2, 7.8)]),
    (f_recursive_power, [SYM, (5.2, 5.8)]),
    (f_recursive_fast_power, [(-1.5, 1.5), (11.2, 11.8)]),
    (f_recursive_horner, [SYM, (8.2, 8.8)]),
    (f_mutual_recursion, [(-1.5, 1.5), (5.2, 5.8)]),
    (f_recursive_self, [SYM, N3]),
    (f_custom_erf, [(-1.5, 1.5)]),
    (f_custom_in_loop, [(-1.0, 1.0), (-1.0, 1.0)]),
    # 8. classic numerical code
    (f_horner, [SYM, SYM, SYM, SYM, SYM]),
    (f_euler_ode, [SYM, (0.2, 2.0), (10.2, 10.8)]),
    (f_rk2_logistic, [(0.1, 0.9), (0.5, 2.0)]),
    (f_leapfrog_pendulum, [(-1.5, 1.5), (-1.0, 1.0)]),
    (f_fixed_point_cos, [SYM, (0.3, 0.8)]),
    (f_taylor_exp, [SYM, (12.2, 12.8)]),
    (f_taylor_sin, [(-3.0, 3.0), (8.2, 8.8)]),
    (f_logistic_map, [(0.1, 0.4), (4.2, 4.8)]),
    (f_compound_interest, [(100.0, 200.0), (0.01, 0.1), (2.2, 2.8)]),
    (f_softplus_sum, [(0.5, 2.0), (-2.0, -0.5), (0.3, 1.0)]),
    (f_spline, [(1.2, 1.8)]),
    (f_spline_in_loop, [(0.3, 0.5)]),
    (f_babylonian_sqrt, [(0.5, 10.0), (6.2, 6.8)]),
    (f_newton_cube_root, [(0.5, 8.0)]),
    (f_trapezoid, [(-1.0, 0.0), (0.5, 2.0)]),
    (f_simpson, [(-1.0, 0.0), (0.5, 2.0)]),
    (f_gradient_descent, [(1.5, 2.5), (0.05, 0.08)]),
    (f_chebyshev, [(-1.0, 1.0), (6.2, 6.8)]),
    (f_legendre, [(-1.0, 1.0), (4.2, 4.8)]),
    (f_continued_fraction_tan, [(-1.0, 1.0), (5.2, 5.8)]),
    (f_power_iteration, [(2.0, 3.0), (0.2, 0.5), (0.5, 1.0)]),
]

# The cases that call an h_ helper or recurse.
CALL_FUNCTIONS = {
    "f_call_plain",
    "f_call_keywords",
    "f_call_defaults",
    "f_call_in_loop",
    "f_call_chain",
    "f_call_helper_with_loop",
    "f_call_helper_returns_in_loop",
    "f_call_tuple_result",
    "f_call_in_nested_loop_with_branch",
    "f_call_ode_steps",
    "f_recursive_power",
    "f_recursive_fast_power",
    "f_recursive_horner",
    "f_mutual_recursion",
    "f_recursive_self",
    "f_custom_erf",
    "f_custom_in_loop",
}

# Corpus functions ad_compiler gets wrong today: name -> (the bug, the checks it breaks).
KNOWN_BUGS: dict = {}

# name -> (point, value worked out by hand); every point lies in the case's domain.
EXPECTED = {
    # s = 1 -> 1*1 + 1 = 2 -> 2 + 4 = 6 -> 6 + 7 = 13 -> 13 + 10 = 23
    "f_range_step": ((1.0,), 23.0),
    # exp(0) four times
    "f_range_negative_step_literal": ((0.0,), 4.0),
    # (a, b): (1, 2) (2, 3) (3, 5) (5, 8) (8, 13) (13, 21); 13 * 21 = 273
    "f_fibonacci_swap": ((1.0, 1.0, 6.5), 273.0),
    # (2/1)(3/2)(4/3)(5/4) = 5
    "f_range_product": ((1.0, 4.5), 5.0),
    # i = 1: 1/2; i = 2: (1 + 1)/3; i = 3: (1 + 1 + 1)/4; 1/2 + 2/3 + 3/4 = 23/12
    "f_nested_triangular": ((1.0, 4.5), 23.0 / 12.0),
    # 2 -> 1 -> 0.5 -> 0.25 -> 0.125 -> 0.0625 (5 halvings); 0.0625 * 5
    "f_while_halving": ((2.0,), 0.3125),
    # s = 1 -> 2 -> 3 -> 4, then the else branch doubles it
    "f_while_else": ((1.0,), 8.0),
    # s = 1 -> 1.5 -> 1.75 -> 1.875 -> 1.9375, no break, + 10
    "f_for_else_completes": ((1.0,), 11.9375),
    # i = 0: 0; i = 1: 1; i = 3: 1 + 3 = 4; i = 5: 4 + 5 = 9 (2 and 4 skipped)
    "f_continue_on_index": ((1.0,), 9.0),
    # 2.5*1 + 1.5*2 + 0.5*3 + 0.5*4 + 1.5*5 = 2.5 + 3 + 1.5 + 2 + 7.5
    "f_abs_in_loop": ((2.5,), 16.5),
    # 1 * 1 + 2 * 2**2 + 3 * (-1)**3 = 1 + 8 - 3
    "f_enumerate_tuple": ((1.0, 2.0, -1.0), 6.0),
    # 1*1*2 + 2*2*(-1) + 3*(-1)*1 = 2 - 4 - 3
    "f_zip_three": ((1.0, 2.0, -1.0), -5.0),
    # h_poly(1, c=0.5, a=2) = 2 + 0.5 + 0.5 = 3; h_poly(0.5, b=1) = 1 + 0.5 + 0.0625
    "f_call_keywords": ((1.0, 0.5), 4.5625),
    # 1.5**5 + 1.5**0 = 7.59375 + 1
    "f_recursive_power": ((1.5, 5.5), 8.59375),
    # sum of 1/k! for k <= 8 = 109601/40320
    "f_recursive_horner": ((1.0, 8.5), 109601.0 / 40320.0),
    # even(5) = 1 + odd(4) = 1 + 0.5 * (1 + 0.5 * (1 + 0.5)) = 1.875
    "f_mutual_recursion": ((1.0, 5.5), 1.875),
    # p = a0 + a1 x + a2 x^2 + a3 x^3 = 1 - 0.5 + 0.125 + 0.03125
    "f_horner": ((0.5, 1.0, -1.0, 0.5, 0.25), 0.65625),
    # sum of 1/k! for k <= 11 = e - (1/12! + 1/13! + ...) = e - 2.2606e-9
    "f_taylor_exp": ((1.0, 12.5), 2.718281826198493),
    # T0..T6 at 1/2: 1, 0.5, -0.5, -1, -0.5, 0.5, 1 (= cos(6 pi / 3))
    "f_chebyshev": ((0.5, 6.5), 1.0),
    # P4(1/2) = (35/16 - 30/4 + 3) / 8 = -37/128
    "f_legendre": ((0.5, 4.5), -0.2890625),
    # x: 1 -> 2.5 -> 2.05 -> 2.00061 -> 2.0000001 -> 2 -> 2
    "f_babylonian_sqrt": ((4.0, 6.5), 2.0),
    # u = 0.5 on the second piece: 1 + 1.5 + 0.75 - 0.25
    "f_spline": ((1.5,), 3.0),
    # Lambert's fraction with 5 levels is tan(0.5) to about 1e-13
    "f_continued_fraction_tan": ((0.5, 5.5), 0.5463024898437905),
}


# --- edge cases found while documenting ------------------------------------------------------


def f_loop_over_empty_tuple(x):
    """A loop over () never runs; its variable still needs no value."""
    s = x * x
    for a in ():
        s = s * a
    return s


def f_name_bound_in_a_loop_that_runs(x):
    """`y` is first bound inside a loop sure to run, and read after it."""
    for i in range(3):
        y = x * float(i) + math.sin(x)
    return y * float(i)


def f_enumerate_of_zip(x, y):
    """Nested unpacking: enumerate over zip of two tuples."""
    s = 0.0
    for k, (a, b) in enumerate(zip((x, y), (y, x))):
        s += a * b * float(k + 1)
    return s


CASES += [
    (f_loop_over_empty_tuple, [(-2.0, 2.0)]),
    (f_name_bound_in_a_loop_that_runs, [(-2.0, 2.0)]),
    (f_enumerate_of_zip, [(-2.0, 2.0), (-2.0, 2.0)]),
]


def h_sq_partials(x):
    """d(x^2)/dx."""
    return 2.0 * x


@custom_derivative(h_sq_partials)
def h_sq(x):
    """A square with a given derivative, called from inside a recursion."""
    return x * x


def h_rec_loop(x, n):
    """Recursion whose every level runs a loop calling a custom-derivative function."""
    if n <= 0:
        return x
    s = x
    for i in range(n):
        s = math.sin(s) + h_sq(x) * 0.1
    return h_rec_loop(s, n - 1)


def h_rec_pair(x, y, n):
    """A recursive function returning a tuple."""
    if n == 0:
        return x, y
    a, b = h_rec_pair(y, x * 0.5 + math.cos(y), n - 1)
    return a + 0.1 * b, b


def f_recursion_with_loop_and_custom(x, n):
    """Recursion x loop x custom derivative."""
    return h_rec_loop(x, int(n))


def f_recursive_pair(x, y):
    """A tuple-returning recursive function, unpacked by the caller."""
    a, b = h_rec_pair(x, y, 3)
    return a * b


def f_while_else_return(x):
    """while ... else whose else returns, with code after the loop."""
    k = 0
    while k < 3:
        x = x * 1.2
        k += 1
        if x > 100.0:
            break
    else:
        return x * 2.0
    return x


def f_while_else_return_breaks(x):
    """The same, where the break fires and the code after the loop runs."""
    return f_while_else_return(x) + 0.0


CASES += [
    (f_recursion_with_loop_and_custom, [(-1.0, 1.0), (3.2, 3.8)]),
    (f_recursive_pair, [(0.1, 0.9), (0.1, 0.9)]),
    (f_while_else_return, [(0.2, 1.0)]),
    (f_while_else_return_breaks, [(90.0, 95.0)]),
]
CALL_FUNCTIONS |= {
    "f_recursion_with_loop_and_custom",
    "f_recursive_pair",
    "f_while_else_return_breaks",
}
