"""The scalar rows: arithmetic, elementary functions, non-smooth and piecewise-constant ones.

Each row applies elementwise to NumPy arrays too (with broadcasting; the AD
drivers sum adjoints back over broadcast axes).  For ``out = p(x, y)`` the
rules are the tangent ``dout = ∂p/∂x · dx + ∂p/∂y · dy`` and the adjoints
``x̄ = g · ∂p/∂x``, ``ȳ = g · ∂p/∂y``; ``out`` is reused where the derivative is
cheapest in terms of it (``exp``, ``tanh``, ``sqrt``...).
"""

from __future__ import annotations

import math
import re

import numpy

from ad_compiler.ir.nodes import Const, Var
from ad_compiler.primitives import truth as logic
from ad_compiler.primitives.edges import (
    log_of_base,
    nan_of,
    over,
    scalars,
    slope_of_abs,
)
from ad_compiler.primitives.registry import (
    PREC_ADD,
    PREC_ATOM,
    PREC_CMP,
    PREC_MUL,
    PREC_NEG,
    PREC_NOT,
    PREC_POW,
    PREC_SELECT,
    Ops,
    Params,
    Primitive,
    Value,
    by_slopes,
    constant,
    register,
    unary,
    zero_jvp,
    zero_vjp,
)

# --- arithmetic ---------------------------------------------------------------


def _mul_vjp(b: Ops, p: Params, out: Value, g: Value, x: Value, y: Value) -> tuple:
    # d(x y) = y dx + x dy   ("mul swaps" in the seeds' gate picture)
    if isinstance(x, Var) and x == y:  # x * x: one contribution, x̄ = x (2 ḡ)
        return (b.mul(x, b.mul(b.lit(2), g)), None)
    return (b.mul(y, g), b.mul(x, g))


def _div_vjp(b: Ops, p: Params, out: Value, g: Value, x: Value, y: Value) -> tuple:
    # d(x / y) = dx / y - (x / y) dy / y = (dx - out dy) / y
    if isinstance(x, Const):
        # a literal x has no x̄, and out g may exist already (1 / s * e is the primal)
        return (None, b.neg(b.div(b.mul(out, g), y)))
    # ȳ = -x̄ out shares x̄ = g / y, computed anyway when x is active
    x_bar = b.div(g, y)
    return (x_bar, b.neg(b.mul(x_bar, out)))


# d(x ** y) = y x**(y-1) dx + out log(x) dy.  The log term is only built when y
# is active, so x ** 2 with x < 0 stays differentiable.
def _less_one(b: Ops, y: Value) -> Value:
    """y - 1; an int literal exponent stays an int (3 * x ** 2, not x ** 2.0)."""
    if isinstance(y, Const) and type(y.value) is int:
        return Const(y.value - 1)
    return b.sub(y, b.lit(1))


def _slope_of_pow(b: Ops, x: Value, y: Value) -> Value:
    """∂(x ** y)/∂x = y x**(y-1), None for an int literal y = 0 (JAX's integer power).

    At x = ±0, x**(y-1) is IEEE's pow(±0, y - 1) (inf for y < 1, so the slope
    is inf for 0 < y < 1 and nan for a float y = 0, as in JAX).  An int literal
    or a literal y >= 1 never needs the guard (0.0 ** e raises only for e < 0).
    """
    literal = isinstance(y, Const) and not isinstance(y.value, bool)
    if literal and type(y.value) is int and y.value == 0:
        return None  # x ** 0 is 1 everywhere
    safe = literal and (type(y.value) is int or y.value >= 1)
    if safe or not scalars(b, x, y) or getattr(b, "ns", "py") == "np":
        return b.mul(y, b.pow(x, _less_one(b, y)))  # np.power(0.0, -0.5) is inf
    minus = Const(1.0 - y.value) if literal else b.sub(b.lit(1), y)
    return b.mul(y, b.apply("fpow", x, _less_one(b, y), minus))


def _pow_jvp(b: Ops, p: Params, out, x, y, dx, dy) -> Value:
    return b.add(
        b.mul(_slope_of_pow(b, x, y), dx),
        None if dy is None else b.mul(b.mul(out, log_of_base(b, x)), dy),
    )


def _pow_vjp(b: Ops, p: Params, out, g, x, y) -> tuple:
    return (
        b.mul(_slope_of_pow(b, x, y), g),
        b.mul(b.mul(out, log_of_base(b, x)), g),
    )


def _binary(name, op, prec, evaluate, **fields) -> Primitive:
    return Primitive(name, 2, evaluate, infix=op, prec=prec, **fields)


def _names(math_name: str | None, np_name: str | None) -> tuple[str, ...]:
    """The qualified names user code reaches a function by, from its spellings."""
    names = []
    if math_name:
        names.append(math_name)
    if np_name:
        names.append("numpy." + np_name.removeprefix("np."))
    return tuple(names)


def _call(name, evaluate, math_name, np_name, **fields) -> Primitive:
    """An elementwise function of one input that ``math`` and NumPy both have."""
    return unary(
        name,
        evaluate,
        math_name=math_name,
        np_name=np_name,
        names=_names(math_name, np_name),
        result="float",
        **fields,
    )


register(
    # d(x + y) = dx + dy
    _binary(
        "add",
        "+",
        PREC_ADD,
        lambda x, y: x + y,
        names=("numpy.add",),
        convention="smooth everywhere",
        commutative=True,
        result="closed",
        memory="fresh",
        jvp=lambda b, p, out, x, y, dx, dy: b.add(dx, dy),
        vjp=lambda b, p, out, g, x, y: (g, g),
        sympy=lambda sp, x, y: x + y,
    ),
    # d(x - y) = dx - dy
    _binary(
        "sub",
        "-",
        PREC_ADD,
        lambda x, y: x - y,
        names=("numpy.subtract",),
        convention="smooth everywhere",
        result="closed",
        memory="fresh",
        jvp=lambda b, p, out, x, y, dx, dy: b.sub(dx, dy),
        vjp=lambda b, p, out, g, x, y: (g, b.neg(g)),
        sympy=lambda sp, x, y: x - y,
    ),
    _binary(
        "mul",
        "*",
        PREC_MUL,
        lambda x, y: x * y,
        names=("numpy.multiply",),
        convention="smooth everywhere",
        commutative=True,
        result="closed",
        memory="fresh",
        jvp=lambda b, p, out, x, y, dx, dy: b.add(b.mul(y, dx), b.mul(x, dy)),
        vjp=_mul_vjp,
        sympy=lambda sp, x, y: x * y,
    ),
    _binary(
        "div",
        "/",
        PREC_MUL,
        lambda x, y: x / y,
        # (spelled `x / y`: NumPy's for arrays and NumPy numbers; two Python
        # floats with y = 0 raise ZeroDivisionError, np.divide gives inf)
        names=("numpy.divide", "numpy.true_divide"),
        convention="smooth where y ≠ 0",
        memory="fresh",
        jvp=lambda b, p, out, x, y, dx, dy: b.div(b.sub(dx, b.mul(out, dy)), y),
        vjp=_div_vjp,
        sympy=lambda sp, x, y: x / y,
        domain=((-2, 2), (0.5, 2)),
    ),
    _binary(
        "pow",
        "**",
        PREC_POW,
        lambda x, y: x**y,
        math_name="math.pow",
        np_name="np.power",
        names=("math.pow", "numpy.power", "builtins.pow"),
        result="closed",
        jvp=_pow_jvp,
        vjp=_pow_vjp,
        sympy=lambda sp, x, y: x**y,
        domain=((0.3, 2), (-2, 2)),
    ),
    # d(-x) = -dx
    Primitive(
        "neg",
        1,
        lambda x: -x,
        prefix="-",
        prec=PREC_NEG,
        names=("numpy.negative",),
        convention="smooth everywhere",
        result="closed",
        memory="fresh",
        jvp=lambda b, p, out, x, dx: b.neg(dx),
        vjp=lambda b, p, out, g, x: (b.neg(g),),
        sympy=lambda sp, x: -x,
    ),
)


# --- exponentials and logarithms ----------------------------------------------
# The logarithms' rules divide by x (1 + x for log1p), which is 0 where the
# function is singular: math.log raises there already, so its derivative
# divides plainly (free), but np.log gives -inf without raising, and so does
# its derivative: inf, as in JAX.
def _over_log(b: Ops, t: Value, d: Value) -> Value:
    if getattr(b, "ns", "py") == "np":
        return over(b, t, d)
    return b.div(t, d)


def _one_plus_square(b: Ops, x: Value) -> Value:
    return b.add(b.lit(1), b.mul(x, x))


def _cos_of_asin(b: Ops, out: Value, x: Value) -> Value:
    return b.sqrt(b.sub(b.lit(1), b.mul(x, x)))


register(
    # d exp(x) = exp(x) dx = out dx
    _call("exp", math.exp, "math.exp", "np.exp", slope=lambda b, out, x: out),
    # d expm1(x) = exp(x) dx = (out + 1) dx
    _call(
        "expm1",
        math.expm1,
        "math.expm1",
        "np.expm1",
        slope=lambda b, out, x: b.add(out, b.lit(1)),
        sympy=lambda sp, x: sp.exp(x) - 1,
    ),
    # d log(x) = dx / x  (math.log(x, base) is lowered as log(x) / log(base))
    _call(
        "log",
        math.log,
        "math.log",
        "np.log",
        divisor=lambda b, out, x: x,
        divide=_over_log,
        domain=((0.2, 3),),
    ),
    # d log2(x) = dx / (x ln 2); log(2) is folded to a literal by the optimiser but
    # stays exact for SymPy.
    _call(
        "log2",
        math.log2,
        "math.log2",
        "np.log2",
        divisor=lambda b, out, x: b.mul(x, b.log(b.lit(2))),
        divide=_over_log,
        sympy=lambda sp, x: sp.log(x, 2),
        domain=((0.2, 3),),
    ),
    # d log10(x) = dx / (x ln 10)
    _call(
        "log10",
        math.log10,
        "math.log10",
        "np.log10",
        divisor=lambda b, out, x: b.mul(x, b.log(b.lit(10))),
        divide=_over_log,
        sympy=lambda sp, x: sp.log(x, 10),
        domain=((0.2, 3),),
    ),
    # d log1p(x) = dx / (1 + x)
    _call(
        "log1p",
        math.log1p,
        "math.log1p",
        "np.log1p",
        divisor=lambda b, out, x: b.add(b.lit(1), x),
        divide=_over_log,
        sympy=lambda sp, x: sp.log(1 + x),
        domain=((-0.5, 2),),
    ),
    # d sqrt(x) = dx / (2 sqrt(x)) = dx / (2 out); at x = ±0, ±inf dx (nan for
    # dx = 0), as in JAX
    _call(
        "sqrt",
        math.sqrt,
        "math.sqrt",
        "np.sqrt",
        divisor=lambda b, out, x: b.mul(b.lit(2), out),
        divide=over,
        domain=((0.2, 3),),
    ),
)

# --- trigonometric and hyperbolic -----------------------------------------------
register(
    # d sin(x) = cos(x) dx
    _call("sin", math.sin, "math.sin", "np.sin", slope=lambda b, out, x: b.cos(x)),
    # d cos(x) = -sin(x) dx
    _call(
        "cos",
        math.cos,
        "math.cos",
        "np.cos",
        slope=lambda b, out, x: b.sin(x),
        negated=True,
    ),
    # d tan(x) = (1 + tan(x)^2) dx = (1 + out^2) dx
    _call(
        "tan",
        math.tan,
        "math.tan",
        "np.tan",
        slope=lambda b, out, x: _one_plus_square(b, out),
    ),
    # d sinh(x) = cosh(x) dx
    _call("sinh", math.sinh, "math.sinh", "np.sinh", slope=lambda b, out, x: b.cosh(x)),
    # d cosh(x) = sinh(x) dx
    _call("cosh", math.cosh, "math.cosh", "np.cosh", slope=lambda b, out, x: b.sinh(x)),
    # d tanh(x) = (1 - tanh(x)^2) dx = (1 - out^2) dx
    _call(
        "tanh",
        math.tanh,
        "math.tanh",
        "np.tanh",
        slope=lambda b, out, x: b.sub(b.lit(1), b.mul(out, out)),
    ),
    # d asin(x) = dx / sqrt(1 - x^2); at x = ±1, inf dx
    _call(
        "asin",
        math.asin,
        "math.asin",
        "np.arcsin",
        divisor=_cos_of_asin,
        divide=over,
        domain=((-0.9, 0.9),),
    ),
    # d acos(x) = -dx / sqrt(1 - x^2); at x = ±1, -inf dx
    _call(
        "acos",
        math.acos,
        "math.acos",
        "np.arccos",
        divisor=_cos_of_asin,
        divide=over,
        negated=True,
        domain=((-0.9, 0.9),),
    ),
    # d atan(x) = dx / (1 + x^2)
    _call(
        "atan",
        math.atan,
        "math.atan",
        "np.arctan",
        divisor=lambda b, out, x: _one_plus_square(b, x),
    ),
)


# d atan2(y, x) = (x dy - y dx) / (x^2 + y^2); nan at (0, 0), as in JAX
def _atan2_jvp(b: Ops, p: Params, out, y, x, dy, dx) -> Value:
    r2 = b.add(b.mul(x, x), b.mul(y, y))
    return over(b, b.sub(b.mul(x, dy), b.mul(y, dx)), r2)


def _atan2_vjp(b: Ops, p: Params, out, g, y, x) -> tuple:
    r2 = b.add(b.mul(x, x), b.mul(y, y))
    return (over(b, b.mul(x, g), r2), b.neg(over(b, b.mul(y, g), r2)))


# d hypot(x, y) = (x dx + y dy) / hypot(x, y).  At (0, 0) JAX's slopes are
# 1/2 each (its hypot is max(|x|, |y|) · ..., and a tie of max shares), so
# d/da of hypot(a - a, a - a) is 0 there, not nan.
def _hypot_slopes(b: Ops, out: Value, x: Value, y: Value) -> tuple:
    return over(b, x, out, 0.5), over(b, y, out, 0.5)


def _call2(name, evaluate, math_name, np_name, **fields) -> Primitive:
    """An elementwise function of two inputs that ``math`` and NumPy both have."""
    fields.setdefault("names", _names(math_name, np_name))
    return Primitive(name, 2, evaluate, math_name=math_name, np_name=np_name, **fields)


register(
    _call2(
        "atan2",
        math.atan2,
        "math.atan2",
        "np.arctan2",
        result="float",
        jvp=_atan2_jvp,
        vjp=_atan2_vjp,
        domain=((0.3, 2), (0.3, 2)),
    ),
    _call2(
        "hypot",
        math.hypot,
        "math.hypot",
        "np.hypot",
        result="float",
        **by_slopes(_hypot_slopes),
        sympy=lambda sp, x, y: sp.sqrt(x**2 + y**2),
        domain=((0.3, 2), (-2, -0.3)),
    ),
)


# --- non-smooth -------------------------------------------------------------------
# Python's max(x, y) is y where y > x, else x (its first argument on a tie, and
# x when either is nan); min(x, y) is y where y < x.  The derivative is that
# of the argument returned, and nan where that argument is nan.
# np.maximum / np.minimum (and arrays) follow JAX: a tie shares the derivative
# equally, and where either argument is nan both get nan.
def _python_semantics(b: Ops, x: Value, y: Value) -> bool:
    return scalars(b, x, y) and getattr(b, "ns", "py") != "np"


def _pick(b: Ops, second: Value, x: Value, t_first: Value, t_second: Value) -> Value:
    """The derivative of Python's choice: ``t_second`` where ``second`` holds,
    else ``t_first``, or nan where x (returned) is nan."""
    unless_nan = b.select(
        b.apply("eq", x, x),
        b.lit(0.0) if t_first is None else t_first,
        nan_of(b, x),
    )
    return b.select(second, t_second, unless_nan)


def _numpy_share(b: Ops, takes_second: str, x: Value, y: Value) -> Value:
    """∂out/∂x of np.maximum/np.minimum: 1, 0, 1/2 on a tie, nan if x or y is nan."""
    unordered = b.select(
        b.apply("eq", x, y), b.lit(0.5), b.add(nan_of(b, x), nan_of(b, y))
    )
    first = b.select(b.apply(takes_second, x, y), b.lit(1.0), unordered)
    return b.select(b.apply(takes_second, y, x), b.lit(0.0), first)


def _extreme(takes_second: str) -> dict:
    def jvp(b: Ops, p: Params, out, x, y, dx, dy) -> Value:
        if _python_semantics(b, x, y):
            return _pick(b, b.apply(takes_second, y, x), x, dx, dy)
        share = _numpy_share(b, takes_second, x, y)
        return b.add(b.mul(share, dx), b.mul(b.sub(b.lit(1.0), share), dy))

    def vjp(b: Ops, p: Params, out, g, x, y) -> tuple:
        if _python_semantics(b, x, y):
            second = b.apply(takes_second, y, x)
            return (_pick(b, second, x, g, None), _pick(b, second, x, None, g))
        share = _numpy_share(b, takes_second, x, y)
        return (b.mul(share, g), b.mul(b.sub(b.lit(1.0), share), g))

    return {"jvp": jvp, "vjp": vjp}


def _extreme_row(name, evaluate, np_spelled, takes_second, sympy_name) -> Primitive:
    """Python's max/min and NumPy's maximum/minimum (see the rules above)."""
    return Primitive(
        name,
        2,
        evaluate,
        py_name=name,
        np_name=f"np.{np_spelled}",
        names=(f"builtins.{name}", f"numpy.{np_spelled}"),
        result="closed",
        # evaluate=False: simplifying nested Max/Min costs seconds
        sympy=lambda sp, x, y: getattr(sp, sympy_name)(x, y, evaluate=False),
        **_extreme(takes_second),
    )


# copysign(x, y) = |x| sign(y): d = |x|' sign(y) dx (zero in y away from y = 0),
# with |x|' as for abs (nan for x = nan) and sign(y) y's sign bit (as JAX has it).
def _slope_of_copysign(b: Ops, x: Value, y: Value) -> Value:
    return b.mul(slope_of_abs(b, x), b.apply("copysign", b.lit(1.0), y))


# fmod(x, y) = x - n y with n = trunc(x / y) an integer, and Python's x % y
# (np.mod) = x - n y with n = floor(x / y): for both d = dx - n dy.  n is
# recovered as round((x - out) / y), which is exact where x / y rounds to an
# integer but the true quotient does not (fmod(1, 0.1) has n = 9, not 10).
# For a number, nan (fmod(nan, y), also y = 0) gives nan, where round(nan)
# and nan / 0.0 would raise.  Arrays (which builtins' round refuses) take
# np.floor(q + 0.5): the same integer, as q is within rounding of one.
def _quotient(b: Ops, out: Value, x: Value, y: Value) -> Value:
    q = over(b, b.sub(x, out), y)
    if scalars(b, q):
        return b.apply("nround", q)
    return b.apply("floor", b.add(q, b.lit(0.5)))


# ∂x is 1, but nan where out is (nan_of(out), at every order).
def _remainder_slope(b: Ops, out: Value) -> Value:
    return b.add(b.lit(1.0), nan_of(b, out))


def _remainder_jvp(b: Ops, p: Params, out, x, y, dx, dy) -> Value:
    return b.sub(
        b.mul(_remainder_slope(b, out), dx), b.mul(_quotient(b, out, x, y), dy)
    )


def _remainder_vjp(b: Ops, p: Params, out, g, x, y) -> tuple:
    return (
        b.mul(_remainder_slope(b, out), g),
        b.neg(b.mul(_quotient(b, out, x, y), g)),
    )


def _select(c, x, y):
    return numpy.where(c, x, y) if numpy.ndim(c) else (x if c else y)


def _sign(x):
    return math.copysign(1.0, x)


def _fmod_sympy(sp, x, y):
    return x - y * sp.sign(x / y) * sp.floor(sp.Abs(x / y))


register(
    # d |x| = ±dx: +dx at ±0 (the branch x >= 0, and JAX), nan for x = nan.
    unary(
        "abs",
        abs,
        math_name="math.fabs",
        np_name="np.abs",
        py_name="abs",
        names=("math.fabs", "numpy.abs", "numpy.absolute", "numpy.fabs")
        + ("builtins.abs",),
        result="closed",
        slope=lambda b, out, x: slope_of_abs(b, x),
        sympy=lambda sp, x: sp.Abs(x, evaluate=False),
        domain=((0.3, 2),),
        signed=True,
    ),
    # max/min return their first argument on a tie, as Python's builtins do.
    _extreme_row("max", max, "maximum", "gt", "Max"),
    _extreme_row("min", min, "minimum", "lt", "Min"),
    # d(c ? x : y) = c ? dx : dy; the condition is piecewise constant.
    Primitive(
        "select",
        3,
        _select,
        py_name="{1} if {0} else {2}",
        np_name="np.where",
        names=("numpy.where",),
        prec=PREC_SELECT,
        jvp=lambda b, p, out, c, x, y, dc, dx, dy: b.select(c, dx, dy),
        vjp=lambda b, p, out, g, c, x, y: (
            None,
            b.select(c, g, None),
            b.select(c, None, g),
        ),
        sympy=lambda sp, c, x, y: logic.select(c, x, y),
        logical=True,
        domain=((0.2, 1), (-2, 2), (-2, 2)),  # a true condition: the first branch
    ),
    # float(x) is x.
    Primitive(
        "float",
        1,
        float,
        py_name="float",
        names=("builtins.float",),
        result="float",
        jvp=lambda b, p, out, x, dx: dx,
        vjp=lambda b, p, out, g, x: (g,),
        sympy=lambda sp, x: x,
    ),
    _call2(
        "copysign",
        math.copysign,
        "math.copysign",
        "np.copysign",
        names=("math.copysign", "numpy.copysign"),
        convention="in x as |x| (1 at x = 0) times y's sign; zero in y",
        result="float",
        jvp=lambda b, p, out, x, y, dx, dy: b.mul(_slope_of_copysign(b, x, y), dx),
        vjp=lambda b, p, out, g, x, y: (
            b.mul(_slope_of_copysign(b, x, y), g),
            None,
        ),
        sympy=lambda sp, x, y: sp.Abs(x) * sp.sign(y),
        domain=((0.3, 2), (0.3, 2)),
        signed=True,
    ),
    _call2(
        "fmod",
        math.fmod,
        "math.fmod",
        "np.fmod",
        names=("math.fmod", "numpy.fmod"),
        convention="1 in x, −trunc(x / y) in y, away from the jumps at x / y an "
        "integer (there the side the value takes)",
        result="closed",
        jvp=_remainder_jvp,
        vjp=_remainder_vjp,
        sympy=_fmod_sympy,
        domain=((0.3, 3), (0.4, 0.9)),
    ),
    # Python's x % y: the sign of y, x - y floor(x / y) (np.mod, np.remainder
    # too).  The derivative is fmod's (n the floored quotient); the registry
    # samples it away from the jumps at x / y an integer.
    _binary(
        "mod",
        "%",
        PREC_MUL,
        lambda x, y: x % y,
        np_name="np.mod",
        names=("numpy.mod", "numpy.remainder"),
        result="closed",
        jvp=_remainder_jvp,
        vjp=_remainder_vjp,
        sympy=lambda sp, x, y: x - y * sp.floor(x / y),
        domain=((0.3, 3), (0.4, 0.9)),
        signed=True,
    ),
    # sign is the derivative of abs; copysign makes it +1 at +0.0, the branch
    # `x if x >= 0 else -x` takes (see docs/rules.md on non-smooth points).
    # Its derivative: 0 away from 0 (as JAX has it at 0 too), nan at nan at
    # every order.
    unary(
        "sign",
        _sign,
        math_name="math.copysign(1.0, {0})",
        np_name="np.sign",
        names=("numpy.sign",),
        slope=lambda b, out, x: nan_of(b, x),
        sympy=lambda sp, x: sp.sign(x, evaluate=False),
        domain=((0.3, 2),),
        signed=True,
    ),
)


# --- piecewise constant: the derivative is zero wherever it exists ----------------
def _relation(name: str, op: str, evaluate, sympy_name: str) -> Primitive:
    def compare(sp, x, y):
        """Decided when both sides are numbers and left symbolic otherwise
        (deciding it would ask SymPy's assumptions about whole trees)."""
        cls = getattr(sp, sympy_name)
        if getattr(x, "is_number", True) and getattr(y, "is_number", True):
            return cls(x, y)
        return cls(x, y, evaluate=False)

    return constant(
        name,
        2,
        evaluate,
        infix=op,
        prec=PREC_CMP,
        result="bool",
        sympy=compare,
        logical=name in ("eq", "ne"),
    )


def _trunc_sympy(sp, x):
    if getattr(x, "is_number", True):
        return sp.Integer(int(x))
    size = sp.floor(sp.Abs(x, evaluate=False), evaluate=False)
    return sp.sign(x, evaluate=False) * size


def _not_sympy(sp, x):
    return sp.Not(logic.truth(x))


def _rounding(name, evaluate, **fields) -> Primitive:
    fields.setdefault(
        "convention", "zero derivative: piecewise constant (0 at the jumps too)"
    )
    return constant(
        name, 1, evaluate, result="int", domain=((0.1, 0.9),), signed=True, **fields
    )


register(
    _relation("ge", ">=", lambda x, y: x >= y, "Ge"),
    _relation("le", "<=", lambda x, y: x <= y, "Le"),
    _relation("gt", ">", lambda x, y: x > y, "Gt"),
    _relation("lt", "<", lambda x, y: x < y, "Lt"),
    _relation("eq", "==", lambda x, y: x == y, "Eq"),
    _relation("ne", "!=", lambda x, y: x != y, "Ne"),
    constant(
        "not",
        1,
        lambda x: not x,
        py_name="not {0}",
        prec=PREC_NOT,
        result="bool",
        sympy=_not_sympy,
        logical=True,
    ),
    _rounding(
        "floor",
        math.floor,
        math_name="math.floor",
        np_name="np.floor",
        names=("math.floor", "numpy.floor"),
    ),
    _rounding(
        "ceil",
        math.ceil,
        math_name="math.ceil",
        np_name="np.ceil",
        names=("math.ceil", "numpy.ceil"),
        sympy=lambda sp, x: sp.ceiling(x),
    ),
    _rounding(
        "trunc",
        math.trunc,
        math_name="math.trunc",
        np_name="np.trunc",
        names=("math.trunc", "numpy.trunc"),
        sympy=_trunc_sympy,
    ),
    constant(
        "round",
        1,
        round,
        py_name="round",
        names=("builtins.round",),
        result="int",
        sympy=lambda sp, x: sp.floor(x + sp.Rational(1, 2)),
        domain=((0.1, 0.4),),
        signed=True,
    ),
    _rounding(
        "int",
        int,
        py_name="int",
        names=("builtins.int",),
        sympy=_trunc_sympy,
    ),
    # x // y = floor(x / y) (an int for ints, a float for floats): zero
    # derivative away from the jumps at x / y an integer.
    constant(
        "floordiv",
        2,
        lambda x, y: x // y,
        infix="//",
        prec=PREC_MUL,
        np_name="np.floor_divide",
        names=("numpy.floor_divide",),
        result="closed",
        sympy=lambda sp, x, y: sp.floor(x / y),
        domain=((0.3, 3), (0.4, 0.9)),
        signed=True,
    ),
)

# an expression that can stand in an f-string's braces as it is: no quotes,
# backslashes, braces, or the ! : = # that would end or change the field
_IN_BRACES = re.compile(r"[A-Za-z0-9_.\[\]() +\-*/,%@]+\Z")


def _render_print(params, texts, atoms):
    """``print(a, "text", f"x = {v:.3f}", sep=", ")``: strings are ``repr``s of
    the parsed values; an f-string is rebuilt from its parts, as an f-string
    when every value in it is spelled without quotes, backslashes, braces or
    ``! : = #`` (a format spec is checked by the front end), else as
    ``"x = " + format(expr, ".3f")``."""
    values = iter(texts)
    args = []
    for item in params["args"]:
        if item[0] == "v":
            args.append(next(values))
        elif item[0] == "s":
            args.append(repr(item[1]))
        else:
            args.append(_fstring_text(item[1], values))
    for key in ("sep", "end"):
        if params.get(key) is not None:
            args.append(f"{key}={params[key]!r}")
    return f"print({', '.join(args)})", PREC_ATOM


def _fstring_text(parts, values) -> str:
    rendered = [(p, next(values) if p[0] == "v" else None) for p in parts]
    if all(t is None or _IN_BRACES.match(t) for _, t in rendered):
        body = ""
        for part, text in rendered:
            if part[0] == "s":
                body += part[1].replace("{", "{{").replace("}", "}}")
            else:
                mark = f"!{part[1]}" if part[1] else ""
                spec = f":{part[2]}" if part[2] else ""
                body += f"{{{text}{mark}{spec}}}"
        return "f" + repr(body)
    pieces = []
    for part, text in rendered:
        if part[0] == "s":
            pieces.append(repr(part[1]))
        else:
            call = {"r": "repr", "a": "ascii", "s": "str"}.get(part[1])
            value = f"{call}({text})" if call else f"{text}"
            if part[2]:
                pieces.append(f"format({value}, {part[2]!r})")
            else:  # format(v, "") is str(v)
                pieces.append(value if call else f"str({text})")
    return " + ".join(pieces) if pieces else "''"


# --- the program's own: calls and the reverse-mode tape ----------------------------
register(
    # a call to one of the user's functions (params: fn, the callee's name;
    # custom, how many of the inputs are arguments: the rest are the partial
    # derivatives given by its custom_derivative)
    Primitive("call", -1, None, effect=False),
    # the reverse-mode tape: a list, appended to by the forward sweep
    Primitive("tape", 0, list, py_name="[]", effect=True),
    Primitive("push", -1, None, py_name="{0}.append", effect=True),
    # how many rows a tape holds (where an inner loop's rows of one iteration
    # of a storing loop start and stop): an effect, never merged with another
    # len of the same tape nor moved across the pushes between them
    Primitive(
        "tape_len", 1, len, py_name="len", effect=True, result="int", memory="copy"
    ),
    # the user's print(...): kept where it is, once per run (frontend/prints.py
    # lowers it; params: the layout of the arguments, sep and end)
    Primitive(
        "print", -1, None, effect=True, render=_render_print, differentiable=False
    ),
)

# (zero_jvp/zero_vjp are re-exported for rows elsewhere that have no derivative)
__all__ = ["zero_jvp", "zero_vjp"]
