"""Every corpus function, at every point of its grid, against finite differences.

(a) reverse mode (``grad``; ``vjp`` rows for tuple outputs) = central differences;
(b) forward mode (``jvp`` with each unit tangent) = the finite-difference column;
(c) the dot-product identity <ȳ, J ẋ> = <Jᵀ ȳ, ẋ> between ``jvp`` and ``vjp``;
(d) ``value_and_grad`` gives exactly ``f(*x)`` and exactly ``grad``'s numbers;
(e) every emitted ``.source`` is black-clean, imports only math / numpy and, run
    on its own in a fresh namespace, gives the same numbers.
"""

import ast
import inspect
import math
import zlib

import black
import corpus_control
import numpy as np
import pytest
from corpus import (
    CASES,
    CONTROL_CASES,
    KNOWN_BUGS,
    POINTS,
    SHADOWING,
    f_docstring_defaults,
)

from ad_compiler import AdError, UsageError, grad, jvp, value_and_grad, vjp
from ad_compiler import callables as _callables
from ad_compiler.backend.loader import source_of

RTOL = 1e-6
ATOL = 1e-6
STEP = 1e-6


def nparams(f):
    return len(inspect.signature(f).parameters)


def all_argnums(f):
    return tuple(range(nparams(f)))


def outputs(y):
    """A function's result as a tuple of floats."""
    return tuple(float(v) for v in y) if isinstance(y, tuple) else (float(y),)


def is_tuple_output(f, x):
    return isinstance(f(*x), tuple)


def fd_jacobian(f, x):
    """Central differences: J[i][j] = ∂y_i/∂x_j with a step scaled to |x_j|."""
    cols = []
    for j in range(len(x)):
        h = STEP * max(1.0, abs(x[j]))
        up = list(x)
        down = list(x)
        up[j] += h
        down[j] -= h
        yu, yd = outputs(f(*up)), outputs(f(*down))
        cols.append([(a - b) / (up[j] - down[j]) for a, b in zip(yu, yd)])
    return [list(row) for row in zip(*cols)]


def assert_close(got, want, what):
    got, want = float(got), float(want)
    assert math.isfinite(got), f"{what}: got {got}, want {want}"
    message = f"{what}: got {got!r}, want {want!r}"
    assert abs(got - want) <= ATOL + RTOL * abs(want), message


def point_id(case):
    f, x = case
    return f"{f.__name__}({', '.join(f'{v:.3g}' for v in x)})"


CHECKS = ("reverse", "forward", "dot", "value", "value_argnum", "source")


def scalar_valued(f):
    return not is_tuple_output(f, _first_point(f))


def params(cases, ids, check, scalar_only=False):
    """The cases as pytest params, known compiler bugs marked xfail(strict=True)."""
    assert check in CHECKS
    out = []
    for case, case_id in zip(cases, ids):
        if scalar_only and not scalar_valued(case[0]):
            continue
        reason, checks = KNOWN_BUGS.get(case[0].__name__, (None, None))
        marks = []
        if reason and (checks is None or check in checks):
            marks = [pytest.mark.xfail(strict=True, reason=reason)]
        out.append(pytest.param(*case, marks=marks, id=case_id))
    return out


def _first_points():
    """Each function's first point in POINTS, found once (the fast samples ask
    for it once per case: a search per case was quadratic at collection)."""
    first = {}
    for g, x in POINTS:
        first.setdefault(g, x)
    return first


FIRST_POINT = _first_points()


def _first_point(f):
    return FIRST_POINT[f]


POINT_IDS = [point_id(c) for c in POINTS]
FUNCTION_IDS = [f.__name__ for f, _ in CASES]


# The fast tier (tests/README.md) runs each check on one corpus function in
# FAST_EVERY[check] (fewer for the costly checks), at its first point, with the
# check's index in CHECKS as offset, so that the checks together compile about
# a twelfth of the corpus.  The full suite runs the whole grid.
FAST_EVERY = dict(
    reverse=56, forward=56, dot=56, value=56, value_argnum=112, source=168
)
FUNCTION_INDEX = {f: i for i, (f, _) in enumerate(CASES)}


def fast_sample(check):
    """The ``fast_sample`` mark of a check over points or functions."""

    def keep(f, x=None, domain=None):
        if x is not None and x != _first_point(f):
            return False
        return FUNCTION_INDEX[f] % FAST_EVERY[check] == CHECKS.index(check)

    return pytest.mark.fast_sample(keep=keep)


def point_cases(check, scalar_only=False):
    def decorate(test):
        cases = params(POINTS, POINT_IDS, check, scalar_only)
        return fast_sample(check)(pytest.mark.parametrize("f, x", cases)(test))

    return decorate


def function_cases(check, scalar_only=False):
    def decorate(test):
        cases = params(CASES, FUNCTION_IDS, check, scalar_only)
        return fast_sample(check)(pytest.mark.parametrize("f, domain", cases)(test))

    return decorate


# --- the corpus itself ------------------------------------------------------------------------


def test_corpus_is_large_and_well_formed():
    assert len(CASES) >= 40
    names = [f.__name__ for f, _ in CASES]
    assert len(set(names)) == len(names)
    for f, domain in CASES:
        assert len(domain) == nparams(f), f.__name__
        for lo, hi in domain:
            assert lo < hi
    assert set(KNOWN_BUGS) <= set(names)
    for _, checks in KNOWN_BUGS.values():
        assert checks is None or set(checks) <= set(CHECKS)


def test_control_flow_corpus_is_large():
    assert len(CONTROL_CASES) >= 60
    names = {f.__name__ for f, _ in CONTROL_CASES}
    assert set(corpus_control.CALL_FUNCTIONS) <= names


@pytest.mark.parametrize("name", sorted(corpus_control.EXPECTED))
def test_control_flow_functions_compute_what_they_say(name):
    """The corpus itself is right: values worked out by hand."""
    x, want = corpus_control.EXPECTED[name]
    assert getattr(corpus_control, name)(*x) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("f, x", POINTS, ids=POINT_IDS)
@pytest.mark.fast_sample(keep=lambda f, x: x == _first_point(f))
def test_points_are_in_the_smooth_domain(f, x):
    for y in outputs(f(*x)):
        assert math.isfinite(y)


# --- (a) reverse mode vs finite differences ---------------------------------------------------


@point_cases("reverse")
def test_reverse_mode_matches_finite_differences(f, x):
    J = fd_jacobian(f, x)
    if not is_tuple_output(f, x):
        g = grad(f, argnums=all_argnums(f))(*x)
        assert isinstance(g, tuple) and len(g) == len(x)
        for j, gj in enumerate(g):
            assert_close(gj, J[0][j], f"d{f.__name__}/dx{j}")
        return
    y, pullback = vjp(f, *x)
    m = len(y)
    for i in range(m):
        seed = tuple(1.0 if k == i else 0.0 for k in range(m))
        row = pullback(seed)
        assert len(row) == len(x)
        for j, v in enumerate(row):
            assert_close(v, J[i][j], f"d{f.__name__}[{i}]/dx{j}")


# --- (b) forward mode vs finite differences ---------------------------------------------------


@point_cases("forward")
def test_forward_mode_matches_finite_differences(f, x):
    J = fd_jacobian(f, x)
    n = len(x)
    for j in range(n):
        tangent = tuple(1.0 if k == j else 0.0 for k in range(n))
        y, y_dot = jvp(f, x, tangent)
        assert outputs(y) == outputs(f(*x))
        assert isinstance(y_dot, tuple) == is_tuple_output(f, x)
        column = outputs(y_dot)
        assert len(column) == len(J)
        for i, v in enumerate(column):
            assert_close(v, J[i][j], f"d{f.__name__}[{i}]/dx{j}")


# --- (c) the dot-product identity between jvp and vjp --------------------------------------


@point_cases("dot")
def test_dot_product_identity(f, x):
    rng = np.random.default_rng(
        [zlib.crc32(f.__name__.encode()), *(int(v * 1e6) % 2**31 for v in x)]
    )
    x_dot = tuple(float(v) for v in rng.standard_normal(len(x)))
    y, y_dot = jvp(f, x, x_dot)
    multiple = isinstance(y, tuple)
    m = len(outputs(y))
    y_bar = tuple(float(v) for v in rng.standard_normal(m))
    y2, pullback = vjp(f, *x)
    assert outputs(y2) == outputs(y)
    x_bar = pullback(y_bar if multiple else y_bar[0])
    assert len(x_bar) == len(x)
    left_terms = [a * float(b) for a, b in zip(y_bar, outputs(y_dot))]
    right_terms = [float(a) * b for a, b in zip(x_bar, x_dot)]
    left, right = sum(left_terms), sum(right_terms)
    scale = sum(map(abs, left_terms)) + sum(map(abs, right_terms))
    # the absolute floor: a derivative that is a cancellation of O(1) terms down to
    # 1e-16 (a minimum found by gradient descent) is rounding noise in both modes
    assert abs(left - right) <= 1e-9 * scale + 1e-13, (left, right)


# --- (d) value_and_grad --------------------------------------------------------------------


@point_cases("value", scalar_only=True)
def test_value_and_grad_is_exact(f, x):
    argnums = all_argnums(f)
    value, g = value_and_grad(f, argnums=argnums)(*x)
    assert value == f(*x)
    assert tuple(g) == tuple(grad(f, argnums=argnums)(*x))


@function_cases("value_argnum", scalar_only=True)
def test_value_and_grad_single_argnum(f, domain):
    x = _first_point(f)
    full = grad(f, argnums=all_argnums(f))(*x)
    for argnum in (0, -1):  # a negative argnum counts from the end
        value, g = value_and_grad(f, argnums=argnum)(*x)
        assert value == f(*x)
        assert not isinstance(g, tuple)
        # not bit for bit: with fewer active inputs a loop may be differentiated by
        # another strategy (a scalar recurrence preaccumulates), which rounds apart
        assert g == pytest.approx(full[argnum], rel=1e-9, abs=1e-13)
        assert grad(f, argnums=argnum)(*x) == g


def test_derivatives_keep_numeric_defaults():
    f = f_docstring_defaults  # def f(x, y=2.0, z=3)
    full = (0.7, 2.0, 3)
    assert grad(f)(0.7) == grad(f)(*full)
    assert grad(f, argnums=(0, 1, 2))(0.7, 2.0) == grad(f, argnums=(0, 1, 2))(*full)
    value, g = value_and_grad(f, argnums=(0, 2))(0.7)
    assert value == f(0.7)
    assert g == value_and_grad(f, argnums=(0, 2))(*full)[1]


@pytest.mark.parametrize(
    "f", [f for f, _ in CASES if not scalar_valued(f) and f.__name__ not in KNOWN_BUGS]
)
def test_grad_rejects_tuple_outputs(f):
    for make in (grad, value_and_grad):
        with pytest.raises(
            UsageError, match=r"return a scalar \(one number\), but it returns a tuple"
        ):
            make(f)


@pytest.mark.parametrize(
    "f, x, name", SHADOWING, ids=[c[0].__name__ for c in SHADOWING]
)
def test_names_that_shadow_emitted_modules_are_rejected_or_right(f, x, name):
    """A local `math` / parameter `np`: a compile-time error, never broken code."""
    try:
        g = grad(f, argnums=all_argnums(f))
    except AdError as e:
        assert f"`{name}`" in str(e)
        return
    for j, gj in enumerate(g(*x)):
        assert_close(gj, fd_jacobian(f, x)[0][j], f"d{f.__name__}/dx{j}")


# --- (e) the emitted source -----------------------------------------------------------------


def emitted(f, x):
    """(kind, compiled function, arguments) for every derivative kind of ``f``."""
    argnums = all_argnums(f)
    n = len(x)
    m = len(outputs(f(*x)))
    out = []
    if not is_tuple_output(f, x):
        out.append(("grad", grad(f, argnums=argnums), x))
        out.append(("value_and_grad", value_and_grad(f, argnums=argnums), x))
    # jvp() returns numbers only; its emitted function comes from the same cache.
    jvp_fn = _callables.compile_derivative(f, "jvp", argnums)
    out.append(("jvp", jvp_fn, (*x, *([0.5] * n))))
    _, pullback = vjp(f, *x)
    vjp_fn = _callables.compile_derivative(f, "vjp", argnums)
    assert pullback.source == source_of(vjp_fn)
    out.append(("vjp", vjp_fn, (*x, *([0.75] * m))))
    return out


def emitted_imports(tree):
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


@function_cases("source")
def test_emitted_source_is_clean_and_self_contained(f, domain):
    x = _first_point(f)
    for kind, fn, args in emitted(f, x):
        src = source_of(fn)  # (jvp_fn, vjp_fn: internal, no .source attribute)
        assert fn.ir is not None
        # ad_compiler.backend.codegen.format_source uses black.Mode(): line length 88.
        clean = black.format_str(src, mode=black.Mode())
        assert clean == src, f"{kind} is not black-clean"
        tree = ast.parse(src)
        bad = [name for name in emitted_imports(tree) if name not in ("math", "numpy")]
        assert not bad, f"{kind} source imports {bad}"
        namespace = {}
        exec(compile(src, f"<{kind} of {f.__name__}>", "exec"), namespace)
        fresh = namespace[fn.__name__]
        assert fresh is not fn
        assert fresh(*args) == fn(*args), kind
