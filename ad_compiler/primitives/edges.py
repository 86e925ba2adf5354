"""At the edges of the domain: the IEEE forms the rules use, and the helpers they share.

Rules divide by values that vanish where the function is finite (sqrt at 0,
asin at 1, atan2 at (0, 0)).  There they give what JAX gives (IEEE 754's
±inf and nan, see docs/rules.md "At the edges of the domain"), never an
exception: a Python float divided by zero raises where NumPy and JAX give ±inf
or nan, so scalar code gets the primitives below (``fdiv``, ``div_or``,
``fpow``, ``logz``, ``nround``: one truth test on the ordinary path), and array
code NumPy's operators, which do not raise.  They appear only in derivative
code and are spelled only for scalars.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

from ad_compiler.ir import shapes
from ad_compiler.ir.nodes import Const
from ad_compiler.primitives.registry import (
    PREC_ADD,
    PREC_SELECT,
    Ops,
    Params,
    Primitive,
    Value,
    batch_numbers_only,
    register,
)

# --- helpers the rules share ---------------------------------------------------------


def scalars(b: Ops, *xs: Value) -> bool:
    return all(x is None or b.shape(x) == shapes.SCALAR for x in xs)


def _nonzero_literal(d: Value) -> bool:
    return isinstance(d, Const) and bool(d.value)


def over(b: Ops, a: Value, d: Value, at_zero: float | None = None) -> Value:
    """``a / d``, never raising: where ``d`` is ±0, IEEE's ±inf or nan (``a / ±0``),
    or the constant ``at_zero`` if given."""
    if a is None:
        return None
    if _nonzero_literal(d):
        return b.div(a, d)
    if scalars(b, a, d):
        if at_zero is None:
            return b.apply("fdiv", a, d)
        return b.apply("div_or", a, d, b.lit(at_zero))
    if at_zero is None:
        return b.div(a, d)  # NumPy: ±inf or nan, with a warning
    nonzero = b.apply("ne", d, b.lit(0.0))
    return b.select(nonzero, b.div(a, d), b.lit(at_zero))


def nan_of(b: Ops, x: Value) -> Value:
    """The nan fall-back of a non-smooth rule: nan where ``x`` is nan, and so are
    its derivatives of every order (a constant's would be a clean 0, and x's dx)."""
    return b.apply("nan_of", x)


def slope_of_abs(b: Ops, x: Value) -> Value:
    """d|x|/dx as JAX has it: 1 for x >= 0 (also at -0.0), -1 for x < 0, nan for
    nan.  For a number (np.abs of a float too) a conditional expression, which
    gives a float where np.where would give a 0-d array."""
    at = getattr(b, "at", None)
    with at(b.loc, "py") if scalars(b, x) and at else nullcontext():
        negative = b.select(b.apply("lt", x, b.lit(0.0)), b.lit(-1.0), nan_of(b, x))
        return b.select(b.apply("ge", x, b.lit(0.0)), b.lit(1.0), negative)


def log_of_base(b: Ops, x: Value) -> Value:
    """ln x in ∂(x ** y)/∂y, as JAX has it: ln x for x > 0, 0 at x = 0 (so the
    derivative is 0 where 0 ** y is 0 or 1), nan for x < 0 (never an error)."""
    if isinstance(x, Const) and not isinstance(x.value, bool):
        v = x.value
        return b.log(x) if v > 0 else b.lit(0.0 if v == 0 else float("nan"))
    if scalars(b, x):
        return b.apply("logz", x)
    return b.log(b.select(b.apply("eq", x, b.lit(0.0)), b.lit(1.0), x))


# --- the IEEE forms: evaluation and spelling -------------------------------------------


def _ieee_div(a, d):
    """``a / d``; where ``d`` is ±0, IEEE's a / ±0."""
    if d:
        return a / d
    return a * math.copysign(math.inf, d)  # ±inf by the signs, nan for a = 0 or nan


def _render_fdiv(params, texts, atoms):
    a, d = atoms  # names or literals: each is spelled twice
    if a == "1.0":
        return f"1.0 / {d} if {d} else math.copysign(math.inf, {d})", PREC_SELECT
    return f"{a} / {d} if {d} else {a} * math.copysign(math.inf, {d})", PREC_SELECT


def _div_or(a, d, at_zero):
    """``a / d``; ``at_zero`` where ``d`` is ±0."""
    return a / d if d else at_zero


def _render_div_or(params, texts, atoms):
    a, d, at_zero = atoms
    return f"{a} / {d} if {d} else {at_zero}", PREC_SELECT


def _ieee_pow(x, e, minus_e):
    """``x ** e``; at a zero base IEEE's pow(±0, e) (±inf for e < 0) rather than an error.

    pow(±0, e) is (1 / ±0) ** -e = (±inf) ** -e, which Python computes without
    raising; ``minus_e`` is -e, computed by the caller (a literal, or 1 - y).
    """
    if x:
        return x**e
    return math.copysign(math.inf, x) ** minus_e


def _render_fpow(params, texts, atoms):
    x, e, minus_e = atoms
    return f"{x} ** {e} if {x} else math.copysign(math.inf, {x}) ** {minus_e}", (
        PREC_SELECT
    )


def _log_or_zero(x):
    """JAX's ln x in the derivative of x ** y in y: 0 at x = 0, nan for x < 0."""
    if x > 0:
        return math.log(x)
    return math.nan if x else 0.0


def _render_logz(params, texts, atoms):
    (x,) = atoms
    return f"math.log({x}) if {x} > 0 else (math.nan if {x} else 0.0)", PREC_SELECT


def _round_or_nan(q):
    """``round(q)``, but nan for nan (where round raises)."""
    return round(q) if q == q else q


def _render_nround(params, texts, atoms):
    (q,) = atoms
    return f"round({q}) if {q} == {q} else {q}", PREC_SELECT


def _nan_of(x):
    """0 where ``x`` is a number, nan where it is nan (and ±inf)."""
    return x - x


def _render_nan_of(params, texts, atoms):
    (x,) = atoms
    return f"{x} - {x}", PREC_ADD


def _ieee(
    name, arity, evaluate, render, repeats, shown, tested=None, branches=(), **fields
):
    """A row spelled as a conditional expression for numbers, which tests the
    inputs ``tested`` (default: those it ``repeats``) for truth: in vector
    mode they cannot carry directions; ``branches``: the inputs that are the
    result on different paths (see ``batch_numbers_only``)."""
    return Primitive(
        name,
        arity,
        evaluate,
        prec=PREC_SELECT,
        render=render,
        render_module="math",
        repeats=lambda p: repeats,
        statement=True,
        shown=shown,
        batch=batch_numbers_only(
            *(repeats if tested is None else tested), branches=branches
        ),
        **fields,
    )


# --- their rules ---------------------------------------------------------------------
# the same derivatives as div, pow and log, and the same conventions where
# they do not raise
def _quotient_rules(*at_zero: float) -> dict:
    # d(a / d) = (da - out dd) / d, as for div; div_or is a literal at d = 0
    def jvp(b: Ops, p: Params, out: Value, a: Value, d: Value, *rest: Value) -> Value:
        da, dd = rest[len(at_zero)], rest[len(at_zero) + 1]
        return over(b, b.sub(da, b.mul(out, dd)), d, *at_zero)

    def vjp(b: Ops, p: Params, out: Value, g: Value, a: Value, d: Value, *lit) -> tuple:
        a_bar = over(b, g, d, *at_zero)
        return (a_bar, b.neg(b.mul(a_bar, out))) + (None,) * len(lit)

    return {"jvp": jvp, "vjp": vjp}


def _fpow_slope(b: Ops, x: Value, e: Value, minus_e: Value) -> Value:
    return b.mul(e, b.apply("fpow", x, b.sub(e, b.lit(1)), b.add(minus_e, b.lit(1))))


def _fpow_jvp(b: Ops, p: Params, out, x, e, m, dx, de, dm) -> Value:
    return b.add(
        b.mul(_fpow_slope(b, x, e, m), dx),
        None if de is None else b.mul(b.mul(out, log_of_base(b, x)), de),
    )


def _fpow_vjp(b: Ops, p: Params, out, g, x, e, m) -> tuple:
    return (
        b.mul(_fpow_slope(b, x, e, m), g),
        b.mul(b.mul(out, log_of_base(b, x)), g),
        None,  # -e is given for the value at x = 0 only; e carries the derivative
    )


def _nan_slope(b: Ops, out: Value, x: Value) -> Value:
    return nan_of(b, x)


register(
    # a / d with IEEE's ±inf/nan at d = ±0
    _ieee(
        "fdiv",
        2,
        _ieee_div,
        _render_fdiv,
        (0, 1),
        "{0} / {1}",
        tested=(1,),
        result="closed",
        sympy=lambda sp, a, d: a / d,
        domain=((-2, 2), (0.5, 2)),
        **_quotient_rules(),
    ),
    # a / d, or the third input at d = ±0
    _ieee(
        "div_or",
        3,
        _div_or,
        _render_div_or,
        (1,),
        "{0} / {1}",
        branches=(0, 2),
        sympy=lambda sp, a, d, at_zero: a / d,
        domain=((-2, 2), (0.5, 2), (-1, 1)),
        **_quotient_rules(0.0),
    ),
    # x ** e with IEEE's value at x = ±0 (the third input is -e)
    _ieee(
        "fpow",
        3,
        _ieee_pow,
        _render_fpow,
        (0,),
        "{0} ** {1}",
        branches=(1, 2),
        jvp=_fpow_jvp,
        vjp=_fpow_vjp,
        sympy=lambda sp, x, e, minus_e: x**e,
        domain=((0.3, 2), (-2, 2), (-2, 2)),
    ),
    # JAX's ln x in d(x ** y)/dy; d logz(x) = dx / x, and 0 at x = 0 where logz
    # is the constant 0 (as in JAX)
    _ieee(
        "logz",
        1,
        _log_or_zero,
        _render_logz,
        (0,),
        "log({0})",
        jvp=lambda b, p, out, x, dx: over(b, dx, x, 0.0),
        vjp=lambda b, p, out, g, x: (over(b, g, x, 0.0),),
        sympy=lambda sp, x: sp.log(x),
        domain=((0.2, 3),),
    ),
    # round(q) that gives nan for nan (fmod's quotient): 0 away from 0, nan at
    # nan at every order
    _ieee(
        "nround",
        1,
        _round_or_nan,
        _render_nround,
        (0,),
        "round({0})",
        jvp=lambda b, p, out, x, dx: b.mul(nan_of(b, x), dx),
        vjp=lambda b, p, out, g, x: (b.mul(nan_of(b, x), g),),
        sympy=lambda sp, x: sp.floor(x + sp.Rational(1, 2)),
        domain=((0.1, 0.4),),
    ),
)
# the nan fall-back of the non-smooth rules (abs, max, min...): x - x, 0 for a
# number and nan for nan, whose derivative nan_of(x) dx is nan at nan again,
# so the fall-back is nan at every order (x itself would differentiate to dx)
register(
    Primitive(
        "nan_of",
        1,
        _nan_of,
        prec=PREC_ADD,
        render=_render_nan_of,
        render_module="",
        repeats=lambda p: (0,),
        shown="nan_of({0})",
        jvp=lambda b, p, out, x, dx: b.mul(nan_of(b, x), dx),
        vjp=lambda b, p, out, g, x: (b.mul(nan_of(b, x), g),),
        sympy=lambda sp, x: sp.Integer(0),
    )
)
