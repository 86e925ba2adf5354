"""Every row of the rule table, checked three ways, one primitive at a time.

1. the tangent rule against central finite differences of the primitive;
2. the adjoint rule against the tangent rule (the dot-product identity
   ⟨ȳ, J·ẋ⟩ = ⟨Jᵀ·ȳ, ẋ⟩);
3. both rules against ``sympy.diff`` (rules applied to SymPy expressions).
"""

import math
import random

import pytest
import sympy

from ad_compiler.ir.builder import NumericOps
from ad_compiler.ir.primitives import PRIMITIVES
from ad_compiler.ad.rules import RULES, Rule, rule_for
from ad_compiler.errors import CompileError
from ad_compiler.symbolic.translate import SympyOps
from ad_compiler.symbolic.unroll import apply_sympy as _apply

# Where each primitive is smooth, per input: (low, high); magnitudes for `abs`/`sign`.
DOMAINS = {
    "div": [(-2, 2), (0.5, 2)],
    "pow": [(0.3, 2), (-2, 2)],
    "log": [(0.2, 3)],
    "log2": [(0.2, 3)],
    "log10": [(0.2, 3)],
    "log1p": [(-0.5, 2)],
    "sqrt": [(0.2, 3)],
    "asin": [(-0.9, 0.9)],
    "acos": [(-0.9, 0.9)],
    "abs": [(0.3, 2)],
    "sign": [(0.3, 2)],
    "hypot": [(0.3, 2), (-2, -0.3)],
    "atan2": [(0.3, 2), (0.3, 2)],
    "select": [(0.2, 1), (-2, 2), (-2, 2)],  # a true condition: the first branch
    "floor": [(0.1, 0.9)],
    "ceil": [(0.1, 0.9)],
    "trunc": [(0.1, 0.9)],
    "round": [(0.1, 0.4)],
    "int": [(0.1, 0.9)],
    "copysign": [(0.3, 2), (0.3, 2)],
    "fmod": [(0.3, 3), (0.4, 0.9)],
    # the IEEE forms the rules use (the third input of div_or and of fpow only
    # matters at a zero denominator or base)
    "fdiv": [(-2, 2), (0.5, 2)],
    "div_or": [(-2, 2), (0.5, 2), (-1, 1)],
    "fpow": [(0.3, 2), (-2, 2), (-2, 2)],
    "logz": [(0.2, 3)],
    "nround": [(0.1, 0.4)],
}
SIGNED = {"abs", "sign", "copysign", "floor", "ceil", "trunc", "int", "round"}
# Piecewise functions SymPy cannot differentiate into a comparable form; their
# rules are checked against finite differences and the transpose identity, and
# their branches by test_branch_rules below.
NOT_SYMPY = {"sign", "max", "min", "ge", "le", "gt", "lt", "eq", "ne", "not", "select"}
NOT_SYMPY |= {"floor", "ceil", "trunc"}
NOT_SYMPY |= {"round", "int", "fmod", "nround"}


def points(prim, n=6):
    rng = random.Random(prim)
    arity = PRIMITIVES[prim].arity
    domain = DOMAINS.get(prim, [(-2, 2)] * arity)
    for _ in range(n):
        x = [rng.uniform(lo, hi) for lo, hi in domain]
        if prim in SIGNED and rng.random() < 0.5:
            x = [-v for v in x]
        yield x


def evaluate(prim, x):
    return PRIMITIVES[prim].evaluate(*x)


def tangent(prim, x, dx):
    b = NumericOps()
    out = evaluate(prim, x)
    d = RULES[prim].jvp(b, out, *x, *dx)
    return 0.0 if d is None else d


def adjoint(prim, x, g):
    b = NumericOps()
    out = evaluate(prim, x)
    return [0.0 if c is None else c for c in RULES[prim].vjp(b, out, g, *x)]


EVERY = sorted(p for p in PRIMITIVES if not PRIMITIVES[p].effect and p != "call")
# the scalar rows; the array rows are checked on arrays in test_array_rules.py
ALL = [p for p in EVERY if not RULES[p].params]


def test_every_primitive_has_both_rules():
    assert set(RULES) == set(EVERY)
    for rule in RULES.values():
        assert callable(rule.jvp) and callable(rule.vjp)


def test_missing_rule_is_a_clear_error():
    with pytest.raises(CompileError, match="primitive `nosuch` has no derivative rule"):
        rule_for("nosuch")


@pytest.mark.parametrize("prim", ALL)
def test_tangent_rule_matches_finite_differences(prim):
    for x in points(prim):
        for k in range(len(x)):
            dx = [1.0 if j == k else None for j in range(len(x))]
            h = 1e-6 * max(1.0, abs(x[k]))
            up = list(x)
            down = list(x)
            up[k] += h
            down[k] -= h
            fd = (evaluate(prim, up) - evaluate(prim, down)) / (2 * h)
            assert tangent(prim, x, dx) == pytest.approx(fd, rel=1e-6, abs=1e-7), (
                prim,
                x,
                k,
            )


@pytest.mark.parametrize("prim", ALL)
def test_adjoint_rule_is_the_transpose_of_the_tangent_rule(prim):
    rng = random.Random(1)
    for x in points(prim):
        dx = [rng.uniform(-1, 1) for _ in x]
        g = rng.uniform(-1, 1)
        lhs = g * tangent(prim, x, dx)
        rhs = sum(c * d for c, d in zip(adjoint(prim, x, g), dx))
        assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-14), (prim, x)


def sympy_check(prim, rule: Rule) -> list[str]:
    """Where a rule row disagrees with sympy.diff (empty when it is right)."""
    arity = PRIMITIVES[prim].arity
    xs = sympy.symbols(f"x0:{arity}", positive=True)
    dxs = sympy.symbols(f"d0:{arity}", real=True)
    g = sympy.Symbol("g", real=True)
    out = _apply(prim, *xs)
    b = SympyOps()
    wrong = []
    exact_tangent = sum(sympy.diff(out, x) * d for x, d in zip(xs, dxs))
    jvp = rule.jvp(b, out, *xs, *dxs)
    if sympy.simplify((jvp or 0) - exact_tangent) != 0:
        wrong.append("jvp")
    for x, ct in zip(xs, rule.vjp(b, out, g, *xs)):
        if sympy.simplify((ct or 0) - g * sympy.diff(out, x)) != 0:
            wrong.append(f"vjp wrt {x}")
    return wrong


@pytest.mark.parametrize("prim", [p for p in ALL if p not in NOT_SYMPY])
def test_rules_agree_with_sympy_diff(prim):
    assert sympy_check(prim, RULES[prim]) == []


def test_sympy_check_catches_a_wrong_rule():
    wrong_sin = Rule(
        jvp=lambda b, out, x, dx: b.mul(b.sin(x), dx),  # should be cos(x)
        vjp=lambda b, out, g, x: (b.mul(b.cos(x), g),),
    )
    assert sympy_check("sin", wrong_sin) == ["jvp"]
    wrong_div = Rule(
        jvp=RULES["div"].jvp,
        vjp=lambda b, out, g, x, y: (
            b.div(g, y),
            b.div(b.mul(out, g), y),
        ),  # sign dropped
    )
    assert sympy_check("div", wrong_div) == ["vjp wrt x1"]


def test_branch_rules_take_the_branch_python_takes():
    # select: the branch the condition picks, both ways
    assert adjoint("select", [True, 2.0, 3.0], 1.0) == [0.0, 1.0, 0.0]
    assert adjoint("select", [False, 2.0, 3.0], 1.0) == [0.0, 0.0, 1.0]
    # max/min return their first argument on a tie, and so does the derivative
    assert max(1.0, 1.0) is not None and tangent("max", [1.0, 1.0], [1.0, None]) == 1.0
    assert tangent("max", [1.0, 1.0], [None, 1.0]) == 0.0
    assert adjoint("max", [1.0, 2.0], 1.0) == [0.0, 1.0]
    assert adjoint("min", [1.0, 1.0], 1.0) == [1.0, 0.0]
    assert adjoint("min", [3.0, 2.0], 1.0) == [0.0, 1.0]
    # fmod(1, 0.1): the true quotient is 9 although 1 / 0.1 rounds to 10
    assert math.fmod(1.0, 0.1) == pytest.approx(0.1)
    assert adjoint("fmod", [1.0, 0.1], 1.0) == [1.0, -9.0]


def test_abs_derivative_at_zero_is_that_of_the_branch_x_ge_0():
    # -0.0 >= 0 is true in Python: the branch `x if x >= 0 else -x` is taken at
    # both zeros, and JAX's d|x|/dx is 1.0 at 0.0 and at -0.0
    assert tangent("abs", [0.0], [1.0]) == 1.0
    assert tangent("abs", [-0.0], [1.0]) == 1.0
    assert tangent("abs", [-2.0], [1.0]) == -1.0
    assert math.isnan(tangent("abs", [math.nan], [1.0]))
