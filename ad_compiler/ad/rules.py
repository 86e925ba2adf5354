"""THE rule table: one row per primitive, holding its tangent and its adjoint rule.

For ``out = p(x, y)`` the two rules are

* **tangent (JVP)**  ``jvp(b, out, x, y, dx, dy) -> dout``, with
  ``dout = ∂p/∂x · dx + ∂p/∂y · dy``;
* **adjoint (VJP)**  ``vjp(b, out, g, x, y) -> (x̄, ȳ)``, with
  ``x̄ = g · ∂p/∂x`` and ``ȳ = g · ∂p/∂y``.

Both are written with the operations of a builder ``b`` (see
:mod:`ad_compiler.ir.builder`), never as strings, so the same row generates IR,
evaluates numbers and builds SymPy expressions.  A tangent or adjoint that is
zero is ``None``; the caller passes ``None`` for inputs that are constant or
not active, and drops adjoints of inputs that are not needed, so rules do no
special-casing of their own.  ``out`` is the primal output, reused where the
derivative is cheapest in terms of it (``exp``, ``tanh``, ``sqrt``...).

Keeping both rules in one row means nobody can add one and forget the other;
``tests/test_rules.py`` walks this table and checks every row against finite
differences, against each other (the dot-product identity) and against SymPy.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

from ad_compiler.ir import shapes
from ad_compiler.errors import CompileError
from ad_compiler.ir.nodes import Const, Var
from ad_compiler.ir.primitives import PRIMITIVES


@dataclass(frozen=True)
class Rule:
    """The derivative rules of one primitive.

    Rules of primitives with params (``axis`` ...) take them as a dict right
    after the builder: ``jvp(b, params, out, *ins, *dins)``.
    """

    jvp: Callable
    vjp: Callable
    params: bool = False


RULES: dict[str, Rule] = {}


def defrule(prim: str, *, jvp: Callable, vjp: Callable, params: bool = False) -> None:
    """Register both derivative rules of ``prim``."""
    if prim not in PRIMITIVES:
        raise KeyError(f"no primitive named {prim!r}")
    if prim in RULES:
        raise KeyError(f"rules for {prim!r} defined twice")
    RULES[prim] = Rule(jvp=jvp, vjp=vjp, params=params)


def tangent(b, eqn, dins):
    """The tangent of ``eqn``'s output given its inputs' tangents (None: zero).

    Elementwise rules may return a tangent that broadcasts to the output (a
    scalar for an array); other rules get their tangents at full shape.
    """
    prim = PRIMITIVES[eqn.prim]
    rule = rule_for(eqn.prim, eqn.loc)
    if not prim.elementwise:
        dins = [b.like(d, x) for d, x in zip(dins, eqn.ins)]
    if rule.params:
        return rule.jvp(b, dict(eqn.params), eqn.out, *eqn.ins, *dins)
    return rule.jvp(b, eqn.out, *eqn.ins, *dins)


def adjoints(b, eqn, g) -> tuple:
    """The contributions of ``eqn``'s output adjoint ``g`` to its inputs' adjoints,
    each shaped like its input (broadcasting summed back)."""
    prim = PRIMITIVES[eqn.prim]
    rule = rule_for(eqn.prim, eqn.loc)
    if not prim.elementwise:
        g = b.like(g, eqn.out)
    if rule.params:
        cts = rule.vjp(b, dict(eqn.params), eqn.out, g, *eqn.ins)
    else:
        cts = rule.vjp(b, eqn.out, g, *eqn.ins)
    if prim.elementwise:
        cts = tuple(_summed_back(b, ct, x, eqn.out) for ct, x in zip(cts, eqn.ins))
    return cts


def _summed_back(b, ct, x, out):
    """A contribution to x̄ of ``out = p(..., x, ...)``, shaped like ``x``.

    Where x was stretched to out's shape, x̄ sums the contribution over the
    stretched axes; a contribution that is smaller than out (a scalar ȳ of
    np.sum stands for an array of ȳ) is first spread to out's shape, so that
    the sum counts every element it stands for: x̄ of ``np.sum(a + x)`` for a
    scalar a is len(x), not 1.
    """
    if ct is None:
        return None
    sx, so = b.shape(x), b.shape(out)
    if sx == so and so is not None and shapes.ANY not in so:
        return ct  # x was not stretched: ct stands for an array of x's shape
    return b.sum_to(b.like(ct, out), x)


def rule_for(prim: str, loc=None) -> Rule:
    """The rule row of ``prim``; a compile error naming it when there is none."""
    try:
        return RULES[prim]
    except KeyError:
        raise CompileError(
            f"primitive `{prim}` has no derivative rule",
            loc,
            hint="add a row for it to ad_compiler/ad/rules.py (both jvp and vjp)",
        ) from None


# --- at the edges of the domain ---------------------------------------------------
# Rules divide by values that vanish where the function is finite (sqrt at 0,
# asin at 1, atan2 at (0, 0)).  There they give what JAX gives (IEEE 754's
# ±inf and nan, see docs/rules.md "At the edges of the domain"), never an
# exception: a Python float divided by zero raises, so scalar code gets the
# `fdiv`/`fpow`/`logz` primitives (one truth test on the ordinary path), and
# array code NumPy's operators, which do not raise.


def _scalars(b, *xs) -> bool:
    return all(x is None or b.shape(x) == shapes.SCALAR for x in xs)


def _nonzero_literal(d) -> bool:
    return isinstance(d, Const) and bool(d.value)


def _over(b, a, d, at_zero=None):
    """``a / d``, never raising: where ``d`` is ±0, IEEE's ±inf or nan (``a / ±0``),
    or the constant ``at_zero`` if given."""
    if a is None:
        return None
    if _nonzero_literal(d):
        return b.div(a, d)
    if _scalars(b, a, d):
        if at_zero is None:
            return b.apply("fdiv", a, d)
        return b.apply("div_or", a, d, b.lit(at_zero))
    if at_zero is None:
        return b.div(a, d)  # NumPy: ±inf or nan, with a warning
    nonzero = b.apply("ne", d, b.lit(0.0))
    return b.select(nonzero, b.div(a, d), b.lit(at_zero))


def _nan_of(b, x):
    """The nan fall-back of a non-smooth rule: nan where ``x`` is nan, and so are
    its derivatives of every order (a constant's would be a clean 0, and x's dx)."""
    return b.apply("nan_of", x)


# nan_of(x) = x - x: 0 for a number, nan for nan; d = nan_of(x) dx, nan again.
defrule(
    "nan_of",
    jvp=lambda b, out, x, dx: b.mul(_nan_of(b, x), dx),
    vjp=lambda b, out, g, x: (b.mul(_nan_of(b, x), g),),
)


def _slope_of_abs(b, x):
    """d|x|/dx as JAX has it: 1 for x >= 0 (also at -0.0), -1 for x < 0, nan for
    nan.  For a number (np.abs of a float too) a conditional expression, which
    gives a float where np.where would give a 0-d array."""
    with b.at(b.loc, "py") if _scalars(b, x) and hasattr(b, "at") else nullcontext():
        negative = b.select(b.apply("lt", x, b.lit(0.0)), b.lit(-1.0), _nan_of(b, x))
        return b.select(b.apply("ge", x, b.lit(0.0)), b.lit(1.0), negative)


# --- arithmetic ---------------------------------------------------------------
# d(x + y) = dx + dy
defrule(
    "add",
    jvp=lambda b, out, x, y, dx, dy: b.add(dx, dy),
    vjp=lambda b, out, g, x, y: (g, g),
)
# d(x - y) = dx - dy
defrule(
    "sub",
    jvp=lambda b, out, x, y, dx, dy: b.sub(dx, dy),
    vjp=lambda b, out, g, x, y: (g, b.neg(g)),
)


# d(x y) = y dx + x dy   ("mul swaps" in seed 003's gate picture)
def _mul_vjp(b, out, g, x, y):
    if x == y and isinstance(x, Var):  # x * x: one contribution, x̄ = x (2 ḡ)
        return (b.mul(x, b.mul(b.lit(2), g)), None)
    return (b.mul(y, g), b.mul(x, g))


defrule(
    "mul",
    jvp=lambda b, out, x, y, dx, dy: b.add(b.mul(y, dx), b.mul(x, dy)),
    vjp=_mul_vjp,
)


# d(x / y) = dx / y - (x / y) dy / y = (dx - out dy) / y
def _div_vjp(b, out, g, x, y):
    if isinstance(x, Const):
        # a literal x has no x̄, and out g may exist already (1 / s * e is the primal)
        return (None, b.neg(b.div(b.mul(out, g), y)))
    # ȳ = -x̄ out shares x̄ = g / y, computed anyway when x is active
    x_bar = b.div(g, y)
    return (x_bar, b.neg(b.mul(x_bar, out)))


defrule(
    "div",
    jvp=lambda b, out, x, y, dx, dy: b.div(b.sub(dx, b.mul(out, dy)), y),
    vjp=_div_vjp,
)


# d(x ** y) = y x**(y-1) dx + out log(x) dy.  The log term is only built when y
# is active, so x ** 2 with x < 0 stays differentiable.
def _less_one(b, y):
    """y - 1; an int literal exponent stays an int (3 * x ** 2, not x ** 2.0)."""
    if isinstance(y, Const) and type(y.value) is int:
        return Const(y.value - 1)
    return b.sub(y, b.lit(1))


def _slope_of_pow(b, x, y):
    """∂(x ** y)/∂x = y x**(y-1), None for an int literal y = 0 (JAX's integer power).

    At x = ±0, x**(y-1) is IEEE's pow(±0, y - 1) (inf for y < 1, so the slope
    is inf for 0 < y < 1 and nan for a float y = 0, as in JAX).  An int literal
    or a literal y >= 1 never needs the guard (0.0 ** e raises only for e < 0).
    """
    literal = isinstance(y, Const) and not isinstance(y.value, bool)
    if literal and type(y.value) is int and y.value == 0:
        return None  # x ** 0 is 1 everywhere
    safe = literal and (type(y.value) is int or y.value >= 1)
    if safe or not _scalars(b, x, y) or getattr(b, "ns", "py") == "np":
        return b.mul(y, b.pow(x, _less_one(b, y)))  # np.power(0.0, -0.5) is inf
    minus = Const(1.0 - y.value) if literal else b.sub(b.lit(1), y)
    return b.mul(y, b.apply("fpow", x, _less_one(b, y), minus))


def _log_of_base(b, x):
    """ln x in ∂(x ** y)/∂y, as JAX has it: ln x for x > 0, 0 at x = 0 (so the
    derivative is 0 where 0 ** y is 0 or 1), nan for x < 0 (never an error)."""
    if isinstance(x, Const) and not isinstance(x.value, bool):
        v = x.value
        return b.log(x) if v > 0 else b.lit(0.0 if v == 0 else float("nan"))
    if _scalars(b, x):
        return b.apply("logz", x)
    return b.log(b.select(b.apply("eq", x, b.lit(0.0)), b.lit(1.0), x))


defrule(
    "pow",
    jvp=lambda b, out, x, y, dx, dy: b.add(
        b.mul(_slope_of_pow(b, x, y), dx),
        None if dy is None else b.mul(b.mul(out, _log_of_base(b, x)), dy),
    ),
    vjp=lambda b, out, g, x, y: (
        b.mul(_slope_of_pow(b, x, y), g),
        b.mul(b.mul(out, _log_of_base(b, x)), g),
    ),
)


# the IEEE forms the rules use (only in derivative code): the same derivatives
# as div, pow and log, and the same conventions where they do not raise
def _quotient_rules(*at_zero) -> dict:
    # d(a / d) = (da - out dd) / d, as for div; div_or is a literal at d = 0
    def jvp(b, out, a, d, *rest):
        da, dd = rest[len(at_zero)], rest[len(at_zero) + 1]
        return _over(b, b.sub(da, b.mul(out, dd)), d, *at_zero)

    def vjp(b, out, g, a, d, *literal):
        a_bar = _over(b, g, d, *at_zero)
        return (a_bar, b.neg(b.mul(a_bar, out))) + (None,) * len(literal)

    return {"jvp": jvp, "vjp": vjp}


defrule("fdiv", **_quotient_rules())
defrule("div_or", **_quotient_rules(0.0))


def _fpow_slope(b, x, e, minus_e):
    return b.mul(e, b.apply("fpow", x, b.sub(e, b.lit(1)), b.add(minus_e, b.lit(1))))


defrule(
    "fpow",
    jvp=lambda b, out, x, e, m, dx, de, dm: b.add(
        b.mul(_fpow_slope(b, x, e, m), dx),
        None if de is None else b.mul(b.mul(out, _log_of_base(b, x)), de),
    ),
    vjp=lambda b, out, g, x, e, m: (
        b.mul(_fpow_slope(b, x, e, m), g),
        b.mul(b.mul(out, _log_of_base(b, x)), g),
        None,  # -e is given for the value at x = 0 only; e carries the derivative
    ),
)
# d logz(x) = dx / x, and 0 at x = 0 where logz is the constant 0 (as in JAX)
defrule(
    "logz",
    jvp=lambda b, out, x, dx: _over(b, dx, x, 0.0),
    vjp=lambda b, out, g, x: (_over(b, g, x, 0.0),),
)
# d(-x) = -dx
defrule(
    "neg",
    jvp=lambda b, out, x, dx: b.neg(dx),
    vjp=lambda b, out, g, x: (b.neg(g),),
)

# --- exponentials and logarithms ----------------------------------------------
# d exp(x) = exp(x) dx = out dx
defrule(
    "exp",
    jvp=lambda b, out, x, dx: b.mul(out, dx),
    vjp=lambda b, out, g, x: (b.mul(out, g),),
)
# d expm1(x) = exp(x) dx = (out + 1) dx
defrule(
    "expm1",
    jvp=lambda b, out, x, dx: b.mul(b.add(out, b.lit(1)), dx),
    vjp=lambda b, out, g, x: (b.mul(b.add(out, b.lit(1)), g),),
)


# The logarithms' rules divide by x (1 + x for log1p), which is 0 where the
# function is singular: math.log raises there already, so its derivative
# divides plainly (free), but np.log gives -inf without raising, and so does
# its derivative: inf, as in JAX.
def _over_log(b, t, d):
    if getattr(b, "ns", "py") == "np":
        return _over(b, t, d)
    return b.div(t, d)


def _log_rules(denominator) -> dict:
    return {
        "jvp": lambda b, out, x, dx: _over_log(b, dx, denominator(b, x)),
        "vjp": lambda b, out, g, x: (_over_log(b, g, denominator(b, x)),),
    }


# d log(x) = dx / x
defrule("log", **_log_rules(lambda b, x: x))
# d log2(x) = dx / (x ln 2); log(2) is folded to a literal by the optimiser but
# stays exact for SymPy.
defrule("log2", **_log_rules(lambda b, x: b.mul(x, b.log(b.lit(2)))))
# d log10(x) = dx / (x ln 10)
defrule("log10", **_log_rules(lambda b, x: b.mul(x, b.log(b.lit(10)))))
# d log1p(x) = dx / (1 + x)
defrule("log1p", **_log_rules(lambda b, x: b.add(b.lit(1), x)))
# d sqrt(x) = dx / (2 sqrt(x)) = dx / (2 out); at x = ±0, ±inf dx (nan for
# dx = 0), as in JAX
defrule(
    "sqrt",
    jvp=lambda b, out, x, dx: _over(b, dx, b.mul(b.lit(2), out)),
    vjp=lambda b, out, g, x: (_over(b, g, b.mul(b.lit(2), out)),),
)

# --- trigonometric and hyperbolic -----------------------------------------------
# d sin(x) = cos(x) dx
defrule(
    "sin",
    jvp=lambda b, out, x, dx: b.mul(b.cos(x), dx),
    vjp=lambda b, out, g, x: (b.mul(b.cos(x), g),),
)
# d cos(x) = -sin(x) dx
defrule(
    "cos",
    jvp=lambda b, out, x, dx: b.neg(b.mul(b.sin(x), dx)),
    vjp=lambda b, out, g, x: (b.neg(b.mul(b.sin(x), g)),),
)
# d tan(x) = (1 + tan(x)^2) dx = (1 + out^2) dx
defrule(
    "tan",
    jvp=lambda b, out, x, dx: b.mul(b.add(b.lit(1), b.mul(out, out)), dx),
    vjp=lambda b, out, g, x: (b.mul(b.add(b.lit(1), b.mul(out, out)), g),),
)
# d sinh(x) = cosh(x) dx
defrule(
    "sinh",
    jvp=lambda b, out, x, dx: b.mul(b.cosh(x), dx),
    vjp=lambda b, out, g, x: (b.mul(b.cosh(x), g),),
)
# d cosh(x) = sinh(x) dx
defrule(
    "cosh",
    jvp=lambda b, out, x, dx: b.mul(b.sinh(x), dx),
    vjp=lambda b, out, g, x: (b.mul(b.sinh(x), g),),
)
# d tanh(x) = (1 - tanh(x)^2) dx = (1 - out^2) dx
defrule(
    "tanh",
    jvp=lambda b, out, x, dx: b.mul(b.sub(b.lit(1), b.mul(out, out)), dx),
    vjp=lambda b, out, g, x: (b.mul(b.sub(b.lit(1), b.mul(out, out)), g),),
)


# d asin(x) = dx / sqrt(1 - x^2); at x = ±1, inf dx
def _over_cos_of_asin(b, t, x):
    return _over(b, t, b.sqrt(b.sub(b.lit(1), b.mul(x, x))))


defrule(
    "asin",
    jvp=lambda b, out, x, dx: _over_cos_of_asin(b, dx, x),
    vjp=lambda b, out, g, x: (_over_cos_of_asin(b, g, x),),
)
# d acos(x) = -dx / sqrt(1 - x^2); at x = ±1, -inf dx
defrule(
    "acos",
    jvp=lambda b, out, x, dx: b.neg(_over_cos_of_asin(b, dx, x)),
    vjp=lambda b, out, g, x: (b.neg(_over_cos_of_asin(b, g, x)),),
)
# d atan(x) = dx / (1 + x^2)
defrule(
    "atan",
    jvp=lambda b, out, x, dx: b.div(dx, b.add(b.lit(1), b.mul(x, x))),
    vjp=lambda b, out, g, x: (b.div(g, b.add(b.lit(1), b.mul(x, x))),),
)


# d atan2(y, x) = (x dy - y dx) / (x^2 + y^2); nan at (0, 0), as in JAX
def _atan2_jvp(b, out, y, x, dy, dx):
    r2 = b.add(b.mul(x, x), b.mul(y, y))
    return _over(b, b.sub(b.mul(x, dy), b.mul(y, dx)), r2)


def _atan2_vjp(b, out, g, y, x):
    r2 = b.add(b.mul(x, x), b.mul(y, y))
    return (_over(b, b.mul(x, g), r2), b.neg(_over(b, b.mul(y, g), r2)))


defrule("atan2", jvp=_atan2_jvp, vjp=_atan2_vjp)


# d hypot(x, y) = (x dx + y dy) / hypot(x, y).  At (0, 0) JAX's slopes are
# 1/2 each (its hypot is max(|x|, |y|) · ..., and a tie of max shares), so
# d/da of hypot(a - a, a - a) is 0 there, not nan.
def _hypot_slopes(b, out, x, y):
    return _over(b, x, out, 0.5), _over(b, y, out, 0.5)


def _hypot_jvp(b, out, x, y, dx, dy):
    sx, sy = _hypot_slopes(b, out, x, y)
    return b.add(b.mul(sx, dx), b.mul(sy, dy))


def _hypot_vjp(b, out, g, x, y):
    sx, sy = _hypot_slopes(b, out, x, y)
    return (b.mul(sx, g), b.mul(sy, g))


defrule("hypot", jvp=_hypot_jvp, vjp=_hypot_vjp)

# --- non-smooth -------------------------------------------------------------------
# d |x| = ±dx: +dx at ±0 (the branch x >= 0, and JAX), nan for x = nan.
defrule(
    "abs",
    jvp=lambda b, out, x, dx: b.mul(_slope_of_abs(b, x), dx),
    vjp=lambda b, out, g, x: (b.mul(_slope_of_abs(b, x), g),),
)


# Python's max(x, y) is y where y > x, else x (its first argument on a tie, and
# x when either is nan); min(x, y) is y where y < x.  The derivative is that
# of the argument returned, and nan where that argument is nan.
# np.maximum / np.minimum (and arrays) follow JAX: a tie shares the derivative
# equally, and where either argument is nan both get nan.
def _python_semantics(b, x, y) -> bool:
    return _scalars(b, x, y) and getattr(b, "ns", "py") != "np"


def _pick(b, second, x, t_first, t_second):
    """The derivative of Python's choice: ``t_second`` where ``second`` holds,
    else ``t_first``, or nan where x (returned) is nan."""
    unless_nan = b.select(
        b.apply("eq", x, x),
        b.lit(0.0) if t_first is None else t_first,
        _nan_of(b, x),
    )
    return b.select(second, t_second, unless_nan)


def _numpy_share(b, takes_second: str, x, y):
    """∂out/∂x of np.maximum/np.minimum: 1, 0, 1/2 on a tie, nan if x or y is nan."""
    unordered = b.select(
        b.apply("eq", x, y), b.lit(0.5), b.add(_nan_of(b, x), _nan_of(b, y))
    )
    first = b.select(b.apply(takes_second, x, y), b.lit(1.0), unordered)
    return b.select(b.apply(takes_second, y, x), b.lit(0.0), first)


def _extreme(takes_second: str) -> dict:
    def jvp(b, out, x, y, dx, dy):
        if _python_semantics(b, x, y):
            return _pick(b, b.apply(takes_second, y, x), x, dx, dy)
        share = _numpy_share(b, takes_second, x, y)
        return b.add(b.mul(share, dx), b.mul(b.sub(b.lit(1.0), share), dy))

    def vjp(b, out, g, x, y):
        if _python_semantics(b, x, y):
            second = b.apply(takes_second, y, x)
            return (_pick(b, second, x, g, None), _pick(b, second, x, None, g))
        share = _numpy_share(b, takes_second, x, y)
        return (b.mul(share, g), b.mul(b.sub(b.lit(1.0), share), g))

    return {"jvp": jvp, "vjp": vjp}


defrule("max", **_extreme("gt"))
defrule("min", **_extreme("lt"))
# d(c ? x : y) = c ? dx : dy; the condition is piecewise constant.
defrule(
    "select",
    jvp=lambda b, out, c, x, y, dc, dx, dy: b.select(c, dx, dy),
    vjp=lambda b, out, g, c, x, y: (None, b.select(c, g, None), b.select(c, None, g)),
)
# float(x) is x.
defrule(
    "float",
    jvp=lambda b, out, x, dx: dx,
    vjp=lambda b, out, g, x: (g,),
)


# copysign(x, y) = |x| sign(y): d = |x|' sign(y) dx (zero in y away from y = 0),
# with |x|' as for abs (nan for x = nan) and sign(y) y's sign bit (as JAX has it).
def _slope_of_copysign(b, x, y):
    return b.mul(_slope_of_abs(b, x), b.apply("copysign", b.lit(1.0), y))


defrule(
    "copysign",
    jvp=lambda b, out, x, y, dx, dy: b.mul(_slope_of_copysign(b, x, y), dx),
    vjp=lambda b, out, g, x, y: (b.mul(_slope_of_copysign(b, x, y), g), None),
)


# fmod(x, y) = x - n y with n = trunc(x / y) an integer: d = dx - n dy.  n is
# recovered as round((x - out) / y), which is exact where x / y rounds to an
# integer but the true quotient does not (fmod(1, 0.1) has n = 9, not 10).
# For a number, nan (fmod(nan, y), also y = 0) gives nan, where round(nan)
# and nan / 0.0 would raise.
def _fmod_quotient(b, out, x, y):
    q = _over(b, b.sub(x, out), y)
    return b.apply("nround", q) if _scalars(b, q) else b.round(q)


# ∂x is 1, but nan where out is (nan_of(out), at every order).
def _fmod_slope(b, out):
    return b.add(b.lit(1.0), _nan_of(b, out))


defrule(
    "fmod",
    jvp=lambda b, out, x, y, dx, dy: b.sub(
        b.mul(_fmod_slope(b, out), dx), b.mul(_fmod_quotient(b, out, x, y), dy)
    ),
    vjp=lambda b, out, g, x, y: (
        b.mul(_fmod_slope(b, out), g),
        b.neg(b.mul(_fmod_quotient(b, out, x, y), g)),
    ),
)


def _zero_jvp(b, out, *ins_and_tangents):
    return None


def _zero_vjp(b, out, g, *ins):
    return (None,) * len(ins)


# sign(x), and fmod's quotient nround(q): 0 away from 0 (as JAX has it at 0
# too), nan at nan at every order.
for _prim in ("sign", "nround"):
    defrule(
        _prim,
        jvp=lambda b, out, x, dx: b.mul(_nan_of(b, x), dx),
        vjp=lambda b, out, g, x: (b.mul(_nan_of(b, x), g),),
    )


# Piecewise-constant: the derivative is zero wherever it exists.
_PIECEWISE_CONSTANT = ("ge", "le", "gt", "lt", "eq", "ne", "not")
for _prim in _PIECEWISE_CONSTANT + ("floor", "ceil", "trunc", "round", "int"):
    defrule(_prim, jvp=_zero_jvp, vjp=_zero_vjp)


from ad_compiler.ad import (
    array_rules,
)  # noqa: E402,F401  (registers the array primitives' rows)
