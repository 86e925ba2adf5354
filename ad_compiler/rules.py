"""THE rule table: one row per primitive, holding its tangent and its adjoint rule.

For ``out = p(x, y)`` the two rules are

* **tangent (JVP)**  ``jvp(b, out, x, y, dx, dy) -> dout``, with
  ``dout = ∂p/∂x · dx + ∂p/∂y · dy``;
* **adjoint (VJP)**  ``vjp(b, out, g, x, y) -> (x̄, ȳ)``, with
  ``x̄ = g · ∂p/∂x`` and ``ȳ = g · ∂p/∂y``.

Both are written with the operations of a builder ``b`` (see
:mod:`ad_compiler.builder`), never as strings, so the same row generates IR,
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

from dataclasses import dataclass
from typing import Callable

from . import shapes
from .errors import CompileError
from .ir import Const, Var
from .primitives import PRIMITIVES


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
            hint="add a row for it to ad_compiler/rules.py (both jvp and vjp)",
        ) from None


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


defrule(
    "pow",
    jvp=lambda b, out, x, y, dx, dy: b.add(
        b.mul(b.mul(y, b.pow(x, _less_one(b, y))), dx),
        None if dy is None else b.mul(b.mul(out, b.log(x)), dy),
    ),
    vjp=lambda b, out, g, x, y: (
        b.mul(b.mul(y, b.pow(x, _less_one(b, y))), g),
        b.mul(b.mul(out, b.log(x)), g),
    ),
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
# d log(x) = dx / x
defrule(
    "log",
    jvp=lambda b, out, x, dx: b.div(dx, x),
    vjp=lambda b, out, g, x: (b.div(g, x),),
)
# d log2(x) = dx / (x ln 2); log(2) is folded to a literal by the optimiser but
# stays exact for SymPy.
defrule(
    "log2",
    jvp=lambda b, out, x, dx: b.div(dx, b.mul(x, b.log(b.lit(2)))),
    vjp=lambda b, out, g, x: (b.div(g, b.mul(x, b.log(b.lit(2)))),),
)
# d log10(x) = dx / (x ln 10)
defrule(
    "log10",
    jvp=lambda b, out, x, dx: b.div(dx, b.mul(x, b.log(b.lit(10)))),
    vjp=lambda b, out, g, x: (b.div(g, b.mul(x, b.log(b.lit(10)))),),
)
# d log1p(x) = dx / (1 + x)
defrule(
    "log1p",
    jvp=lambda b, out, x, dx: b.div(dx, b.add(b.lit(1), x)),
    vjp=lambda b, out, g, x: (b.div(g, b.add(b.lit(1), x)),),
)
# d sqrt(x) = dx / (2 sqrt(x)) = dx / (2 out)
defrule(
    "sqrt",
    jvp=lambda b, out, x, dx: b.div(dx, b.mul(b.lit(2), out)),
    vjp=lambda b, out, g, x: (b.div(g, b.mul(b.lit(2), out)),),
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
# d asin(x) = dx / sqrt(1 - x^2)
defrule(
    "asin",
    jvp=lambda b, out, x, dx: b.div(dx, b.sqrt(b.sub(b.lit(1), b.mul(x, x)))),
    vjp=lambda b, out, g, x: (b.div(g, b.sqrt(b.sub(b.lit(1), b.mul(x, x)))),),
)
# d acos(x) = -dx / sqrt(1 - x^2)
defrule(
    "acos",
    jvp=lambda b, out, x, dx: b.neg(b.div(dx, b.sqrt(b.sub(b.lit(1), b.mul(x, x))))),
    vjp=lambda b, out, g, x: (b.neg(b.div(g, b.sqrt(b.sub(b.lit(1), b.mul(x, x))))),),
)
# d atan(x) = dx / (1 + x^2)
defrule(
    "atan",
    jvp=lambda b, out, x, dx: b.div(dx, b.add(b.lit(1), b.mul(x, x))),
    vjp=lambda b, out, g, x: (b.div(g, b.add(b.lit(1), b.mul(x, x))),),
)


# d atan2(y, x) = (x dy - y dx) / (x^2 + y^2)
def _atan2_jvp(b, out, y, x, dy, dx):
    r2 = b.add(b.mul(x, x), b.mul(y, y))
    return b.div(b.sub(b.mul(x, dy), b.mul(y, dx)), r2)


def _atan2_vjp(b, out, g, y, x):
    r2 = b.add(b.mul(x, x), b.mul(y, y))
    return (b.div(b.mul(x, g), r2), b.neg(b.div(b.mul(y, g), r2)))


defrule("atan2", jvp=_atan2_jvp, vjp=_atan2_vjp)
# d hypot(x, y) = (x dx + y dy) / hypot(x, y)
defrule(
    "hypot",
    jvp=lambda b, out, x, y, dx, dy: b.div(b.add(b.mul(x, dx), b.mul(y, dy)), out),
    vjp=lambda b, out, g, x, y: (b.div(b.mul(x, g), out), b.div(b.mul(y, g), out)),
)

# --- non-smooth -------------------------------------------------------------------
# d |x| = sign(x) dx; at x = 0 this is the derivative of the branch x >= 0.
defrule(
    "abs",
    jvp=lambda b, out, x, dx: b.mul(b.sign(x), dx),
    vjp=lambda b, out, g, x: (b.mul(b.sign(x), g),),
)


# max(x, y) is x where x >= y (Python's max returns its first argument on a tie),
# min(x, y) is x where x <= y: the derivative is that of the argument returned.
def _first_argument_wins(keeps_first: str) -> dict:
    def jvp(b, out, x, y, dx, dy):
        return b.select(b.apply(keeps_first, x, y), dx, dy)

    def vjp(b, out, g, x, y):
        first = b.apply(keeps_first, x, y)
        return (b.select(first, g, None), b.select(first, None, g))

    return {"jvp": jvp, "vjp": vjp}


defrule("max", **_first_argument_wins("ge"))
defrule("min", **_first_argument_wins("le"))
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
# copysign(x, y) = |x| sign(y): d = sign(x) sign(y) dx (zero in y away from y = 0).
defrule(
    "copysign",
    jvp=lambda b, out, x, y, dx, dy: b.mul(b.mul(b.sign(x), b.sign(y)), dx),
    vjp=lambda b, out, g, x, y: (b.mul(b.mul(b.sign(x), b.sign(y)), g), None),
)


# fmod(x, y) = x - n y with n = trunc(x / y) an integer: d = dx - n dy.  n is
# recovered as round((x - out) / y), which is exact where x / y rounds to an
# integer but the true quotient does not (fmod(1, 0.1) has n = 9, not 10).
def _fmod_quotient(b, out, x, y):
    return b.round(b.div(b.sub(x, out), y))


defrule(
    "fmod",
    jvp=lambda b, out, x, y, dx, dy: b.sub(dx, b.mul(_fmod_quotient(b, out, x, y), dy)),
    vjp=lambda b, out, g, x, y: (g, b.neg(b.mul(_fmod_quotient(b, out, x, y), g))),
)


def _zero_jvp(b, out, *ins_and_tangents):
    return None


def _zero_vjp(b, out, g, *ins):
    return (None,) * len(ins)


# Piecewise-constant: the derivative is zero wherever it exists.
_PIECEWISE_CONSTANT = ("sign", "ge", "le", "gt", "lt", "eq", "ne", "not")
for _prim in _PIECEWISE_CONSTANT + ("floor", "ceil", "trunc", "round", "int"):
    defrule(_prim, jvp=_zero_jvp, vjp=_zero_vjp)


from . import array_rules  # noqa: E402,F401  (registers the array primitives' rows)
