"""Random programs, differentiated both ways, against finite differences and SymPy.

Hypothesis draws expression trees over the supported subset (the variables
x, y, z, literals, ``+ - * /``, small integer powers, ``sin cos exp tanh atan``
and ``log``/``sqrt`` of arguments that are always positive) and sequences of
statements (assignments, also chained, that reuse and overwrite names, augmented
assignments, tuple unpacking, swaps and tuple variables), programs with branches
and early returns, and programs with loops (nested ``for`` over ranges and
tuples, ``while``, ``break``, ``continue``, returns inside loops).  Each program
is written to a real ``.py`` file,
imported, and its reverse-mode (``grad``, or ``vjp`` rows for tuple outputs) and
forward-mode (``jvp``) derivatives are compared with finite differences at a
random point; a third as many are proved equal to ``sympy.diff`` by ``check``
(whole, or along the path the point takes).
"""

import importlib.util
import itertools
import math
import os
import warnings

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from tiers import fast

from ad_compiler import check as adc_check
from ad_compiler import grad, jvp, vjp

PARAMS = ("x", "y", "z")
HEADER = "import math\nimport math as m\nimport numpy as np\nfrom math import sin\n\n\n"

# ADC_HYPOTHESIS_EXAMPLES=2000 for a longer bug hunt.
SETTINGS = settings(
    max_examples=int(os.environ.get("ADC_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

LITERALS = ("1", "2", "3", "0.5", "1.5", "0.25", "2.0")
# Smooth everywhere on the reals; `{}` is the argument.
UNARY = (
    "math.sin({})",
    "math.cos({})",
    "math.exp({})",
    "math.tanh({})",
    "math.atan({})",
    "m.sin({})",
    "sin({})",
    "np.cos({})",
    "np.tanh({})",
    "np.arctan({})",
    "-{}",
    "+{}",
    # log / sqrt only of arguments that are always positive.
    "math.log({0} * {0} + 1)",
    "math.sqrt({0} * {0} + 1)",
    "math.log(math.exp({0}) + 1)",
    "np.log1p({0} * {0})",
    "math.log(math.exp({0}))",
    "({0} * {0} + 1) ** 0.5",
    "({0} * {0} + 0.5) ** -1",
    "{} ** 2",
    "{} ** 3",
    "pow({}, 2)",
    "np.square({})",
)
BINARY = (
    "{} + {}",
    "{} - {}",
    "{} * {}",
    "{0} / ({1} * {1} + 1)",
    "math.atan2({0}, {1} * {1} + 1)",
    "math.hypot({0}, {1} * {1} + 1)",
)


def expressions(names, max_leaves=8):
    """Source text of a random expression over ``names`` (fully parenthesised)."""
    leaves = st.sampled_from(names) | st.sampled_from(LITERALS)

    def extend(children):
        unary = st.tuples(st.sampled_from(UNARY), children).map(
            lambda t: t[0].format(t[1])
        )
        binary = st.tuples(st.sampled_from(BINARY), children, children).map(
            lambda t: t[0].format(t[1], t[2])
        )
        return (unary | binary).map(lambda s: f"({s})")

    return st.recursive(leaves, extend, max_leaves=max_leaves)


@st.composite
def expression_programs(draw):
    """A function body that returns one random expression of x, y, z."""
    return [f"return {draw(expressions(PARAMS))}"]


LOCALS = ("a", "b", "c", "x", "y", "z")


def two_names(pool):
    return st.lists(st.sampled_from(pool), min_size=2, max_size=2, unique=True)


@st.composite
def statement_programs(draw):
    """A random statement sequence over x, y, z, locals a, b, c and a tuple t.

    Assignments (also chained ``a = b = e``) reuse and overwrite names, augmented
    assignments update them, ``a, b = e1, e2`` unpacks, ``a, b = b, a`` swaps, and
    ``t = (e1, e2)`` binds a tuple that is unpacked (possibly more than once) and
    may be returned.
    """
    defined = list(PARAMS)
    has_tuple = False
    lines = []
    kinds = [
        "assign",
        "assign",
        "chain",
        "augment",
        "unpack",
        "swap",
        "tuple",
        "untuple",
    ]
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(kinds))
        value = draw(expressions(tuple(defined), max_leaves=5))
        if kind == "assign":
            target = draw(st.sampled_from(LOCALS))
            lines.append(f"{target} = {value}")
            defined += [target] if target not in defined else []
        elif kind == "chain":
            first, second = draw(two_names(LOCALS))
            lines.append(f"{first} = {second} = {value}")
            defined += [n for n in (first, second) if n not in defined]
        elif kind == "augment":
            target = draw(st.sampled_from(defined))
            op = draw(st.sampled_from(["+=", "-=", "*=", "/=", "**="]))
            if op == "/=":
                value = f"{value} * {value} + 1"
            elif op == "**=":
                value = draw(st.sampled_from(["2", "3"]))
            lines.append(f"{target} {op} {value}")
        elif kind == "unpack":
            first, second = draw(two_names(LOCALS))
            other = draw(expressions(tuple(defined), max_leaves=4))
            lines.append(f"{first}, {second} = {value}, {other}")
            defined += [n for n in (first, second) if n not in defined]
        elif kind == "swap":
            first, second = draw(two_names(defined))
            lines.append(f"{first}, {second} = {second}, {first}")
        elif kind == "tuple":
            other = draw(expressions(tuple(defined), max_leaves=4))
            lines.append(f"t = ({value}, {other})")
            has_tuple = True
        elif has_tuple:  # untuple
            first, second = draw(two_names(LOCALS))
            lines.append(f"{first}, {second} = t")
            defined += [n for n in (first, second) if n not in defined]
    result = draw(expressions(tuple(defined), max_leaves=5))
    ending = draw(st.integers(0, 5))
    if ending == 0 and has_tuple:
        lines.append("return t")
    elif ending <= 1:
        other = draw(expressions(tuple(defined), max_leaves=4))
        lines.append(f"return {result}, {other}")
    else:
        lines.append(f"return {result}")
    return lines


# Thresholds no simple float shrinks to, so a point rarely sits on a branch boundary
# (and fd_jacobian rejects those that do: its two step sizes then disagree).
THRESHOLDS = ("0.37", "-0.61", "1.13", "-1.29")


@st.composite
def conditions(draw, names):
    def comparison():
        e = draw(expressions(names, max_leaves=3))
        op = draw(st.sampled_from([">", "<", ">=", "<="]))
        return f"{e} {op} {draw(st.sampled_from(THRESHOLDS))}"

    form = draw(st.integers(0, 4))
    if form == 0:
        return f"{comparison()} and {comparison()}"
    if form == 1:
        return f"{comparison()} or not {comparison()}"
    if form == 2:
        return f"{draw(st.sampled_from(THRESHOLDS))} < {names[0]} < {names[-1]}"
    return comparison()


@st.composite
def branch_programs(draw):
    """Random programs with if/elif/else, conditional expressions and early returns."""
    defined = list(PARAMS)
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(["assign", "if", "ifelse", "elif", "return", "ternary"])
        )
        names = tuple(defined)
        value = draw(expressions(names, max_leaves=4))
        other = draw(expressions(names, max_leaves=4))
        cond = draw(conditions(names))
        if kind == "assign":
            target = draw(st.sampled_from(LOCALS))
            lines.append(f"{target} = {value}")
        elif kind == "if":  # only names bound before: one path leaves them as they were
            target = draw(st.sampled_from(defined))
            lines += [f"if {cond}:", f"    {target} = {value}"]
        elif kind in ("ifelse", "elif"):
            target = draw(st.sampled_from(LOCALS))
            lines += [f"if {cond}:", f"    {target} = {value}"]
            if kind == "elif":
                lines += [
                    f"elif {draw(conditions(names))}:",
                    f"    {target} = {other} * 2",
                ]
            lines += ["else:", f"    {target} = {other}"]
        elif kind == "return":
            lines += [f"if {cond}:", f"    return {value}"]
            continue
        else:
            target = draw(st.sampled_from(LOCALS))
            lines.append(f"{target} = {value} if {cond} else {other}")
        defined += [target] if target not in defined else []
    lines.append(f"return {draw(expressions(tuple(defined), max_leaves=5))}")
    return lines


ITERABLES = (
    "range(3)",
    "range(0)",
    "range(1)",
    "range(1, 4)",
    "range(3, 0, -1)",
    "range(int(2.5))",
    "(x, 0.5, y)",
    "[z, x]",
)


@st.composite
def loop_programs(draw):
    """Random programs with for/while loops (nested, 0, 1 or several iterations),
    break, continue, returns inside loops, branches inside loops and overwrites."""
    defined = list(PARAMS)

    def block(depth: int, in_loop: bool, index: tuple) -> list:
        lines = []
        for _ in range(draw(st.integers(1, 3))):
            kinds = ["update", "branch"] + (["for", "while"] if depth < 2 else [])
            kinds += ["break", "continue", "return"] if in_loop else []
            kind = draw(st.sampled_from(kinds))
            names = tuple(defined) + index
            e = draw(expressions(names, max_leaves=3))
            t = draw(st.sampled_from(defined))
            cond = draw(conditions(names))
            if kind == "update":  # contracting, so many iterations stay moderate
                lines.append(f"{t} = 0.5 * {t} + 0.25 * math.tanh({e})")
            elif kind == "branch":
                lines += [f"if {cond}:", f"    {t} = {t} * 0.9 + 0.1 * math.sin({e})"]
            elif kind in ("break", "continue"):
                lines += [f"if {cond}:", f"    {kind}"]
            elif kind == "return":
                lines += [f"if {cond}:", f"    return {e}"]
            elif kind == "for":
                var = f"i{depth}"
                source = draw(st.sampled_from(ITERABLES))
                body = block(depth + 1, True, index + (var,))
                lines += [f"for {var} in {source}:"] + [f"    {b}" for b in body]
            else:
                k = f"k{depth}"
                body = block(depth + 1, True, index)
                lines += [f"{k} = 0", f"while {k} < {draw(st.integers(0, 3))}:"]
                lines += [f"    {k} += 1"] + [f"    {b}" for b in body]
        return lines

    lines = block(0, False, ())
    lines.append(f"return {draw(expressions(tuple(defined), max_leaves=5))}")
    return lines


points = st.tuples(*[st.floats(-2.0, 2.0, allow_nan=False) for _ in PARAMS])

_counter = itertools.count()


def load(tmp_path, body):
    """Write ``def f(x, y, z): <body>`` to a fresh module under tmp_path and import it."""
    name = f"adc_hypothesis_{os.getpid()}_{next(_counter)}"
    text = HEADER + "def f(x, y, z):\n" + "".join(f"    {line}\n" for line in body)
    note(text)
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def values(f, x):
    """f(*x) as a tuple of floats, or None where f is not finite or not moderate."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = f(*x)
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    ys = tuple(float(v) for v in (y if isinstance(y, tuple) else (y,)))
    if not all(math.isfinite(v) and abs(v) < 1e4 for v in ys):
        return None
    return ys


def fd_column(f, x, j, h):
    """Five-point central differences of every output along x[j]; None at a kink.

    A kink (a branch switching exactly at x) fools central differences, which
    average the slopes on either side, whatever the step: the one-sided slopes
    must agree too.
    """
    samples = {}
    for k in (-2, -1, 0, 1, 2):
        shifted = list(x)
        shifted[j] += k * h
        ys = values(f, shifted)
        if ys is None:
            return None
        samples[k] = ys
    for y0, yl, yr in zip(samples[0], samples[-1], samples[1]):
        left, right = (y0 - yl) / h, (yr - y0) / h
        if abs(left - right) > 1e-2 * (1 + abs(left) + abs(right)):
            return None
    rows = zip(samples[-2], samples[-1], samples[1], samples[2])
    return [(a - 8 * b + 8 * c - d) / (12 * h) for a, b, c, d in rows]


def fd_jacobian(f, x):
    """The Jacobian by finite differences, or None where they are not trustworthy."""
    cols = []
    for j in range(len(x)):
        h = 1e-3 * max(1.0, abs(x[j]))
        coarse, fine = fd_column(f, x, j, h), fd_column(f, x, j, h / 2)
        if coarse is None or fine is None:
            return None
        if any(abs(a - b) > 1e-7 * (1 + abs(b)) for a, b in zip(coarse, fine)):
            return None  # high derivatives too large for the stencil here
        cols.append(fine)
    return [list(row) for row in zip(*cols)]


def close(got, want):
    got = float(got)
    return math.isfinite(got) and abs(got - want) <= 1e-6 * (1 + abs(want))


def check(f, x):
    ys = values(f, x)
    assume(ys is not None)
    J = fd_jacobian(f, x)
    assume(J is not None)
    note(f"point {x}, finite-difference Jacobian {J}")
    multiple = isinstance(f(*x), tuple)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # reverse mode
        if multiple:
            y, pullback = vjp(f, *x)
            for i in range(len(ys)):
                row = pullback(tuple(1.0 if k == i else 0.0 for k in range(len(ys))))
                assert all(close(g, w) for g, w in zip(row, J[i])), (i, row, J[i])
        else:
            g = grad(f, argnums=(0, 1, 2))(*x)
            assert all(close(a, b) for a, b in zip(g, J[0])), (g, J[0])
        # forward mode
        for j in range(len(x)):
            tangent = tuple(1.0 if k == j else 0.0 for k in range(len(x)))
            y, y_dot = jvp(f, x, tangent)
            assert y == f(*x), (y, f(*x))  # the very same value, bit for bit
            column = y_dot if multiple else (y_dot,)
            want = [row[j] for row in J]
            assert all(close(a, b) for a, b in zip(column, want)), (j, column, want)


# Each property twice: the full test (slow) and a fast twin (tests/tiers.py).
@pytest.mark.slow
@SETTINGS
@given(body=expression_programs(), x=points)
def test_random_expressions(tmp_path, body, x):
    check(load(tmp_path, body), x)


@fast(SETTINGS)
@given(body=expression_programs(), x=points)
def test_random_expressions_fast(tmp_path, body, x):
    check(load(tmp_path, body), x)


@pytest.mark.slow
@SETTINGS
@given(body=statement_programs(), x=points)
def test_random_statement_sequences(tmp_path, body, x):
    check(load(tmp_path, body), x)


@fast(SETTINGS)
@given(body=statement_programs(), x=points)
def test_random_statement_sequences_fast(tmp_path, body, x):
    check(load(tmp_path, body), x)


@pytest.mark.slow
@SETTINGS
@given(body=branch_programs(), x=points)
def test_random_programs_with_branches(tmp_path, body, x):
    check(load(tmp_path, body), x)


@fast(SETTINGS)
@given(body=branch_programs(), x=points)
def test_random_programs_with_branches_fast(tmp_path, body, x):
    check(load(tmp_path, body), x)


@pytest.mark.slow
@SETTINGS
@given(body=loop_programs(), x=points)
def test_random_programs_with_loops(tmp_path, body, x):
    check(load(tmp_path, body), x)


@fast(SETTINGS)
@given(body=loop_programs(), x=points)
def test_random_programs_with_loops_fast(tmp_path, body, x):
    check(load(tmp_path, body), x)


SYMPY_SETTINGS = settings(
    SETTINGS, max_examples=max(1, SETTINGS.max_examples // 3)
)  # each proof runs SymPy: a third as many examples
SYMPY_PROGRAMS = st.one_of(statement_programs(), branch_programs(), loop_programs())


def proved_by_sympy(tmp_path, body, x):
    """The third check: ``adc check`` never finds an emitted derivative that
    differs from sympy.diff (it may give up on a formula too large for SymPy)."""
    f = load(tmp_path, body)
    assume(values(f, x) is not None)
    report = adc_check(f, points=[x], seconds=20)
    note(report.text())
    if report.checked:
        assert report.ok, report.text()
    else:
        assert "expression swell" in report.reason or "cut off" in report.reason


@pytest.mark.slow
@SYMPY_SETTINGS
@given(body=SYMPY_PROGRAMS, x=points)
def test_random_programs_are_proved_by_sympy(tmp_path, body, x):
    proved_by_sympy(tmp_path, body, x)


@fast(SYMPY_SETTINGS, examples=2)
@given(body=SYMPY_PROGRAMS, x=points)
def test_random_programs_are_proved_by_sympy_fast(tmp_path, body, x):
    proved_by_sympy(tmp_path, body, x)
