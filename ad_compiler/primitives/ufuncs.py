"""NumPy's elementwise functions (ufuncs) beyond the scalar rows: one row each.

The rows of :mod:`ad_compiler.primitives.scalar` already answer to most NumPy
names (``np.multiply`` is ``*``, ``np.absolute`` is ``abs`` ...); these are the
functions without a twin there.  Each is spelled with NumPy (``np.exp2``),
and its rules use NumPy only, so emitted code needs nothing else.  With ``g``
the adjoint of the output:

* ``logaddexp(x, y) = ln(eˣ + eʸ)``      ∂x = e^(x − out),  ∂y = e^(y − out)
* ``logaddexp2(x, y) = log₂(2ˣ + 2ʸ)``   ∂x = 2^(x − out),  ∂y = 2^(y − out)
* ``exp2(x) = 2ˣ``                       out · ln 2
* ``cbrt(x)``                            1 / (3 out²)      (inf at 0)
* ``reciprocal(x) = 1 / x``              −out²
* ``arcsinh, arccosh, arctanh``          1/√(1 + x²), 1/√(x² − 1), 1/(1 − x²)
* ``deg2rad, rad2deg``                   linear: themselves applied to the tangent
* ``sinc(x) = sin(πx) / (πx)``           (cos(πx) − out) / x; at x = 0 its
  Maclaurin polynomial (right there to the fifth order)
* ``fmax, fmin``                         the derivative of the argument returned
  (NaN ignored, as NumPy's value ignores it)
* ``heaviside(x1, x2)``                  0 in x1; 1 in x2 where x1 = 0
* ``rint``, ``round``/``around``         zero (piecewise constant)
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy

from ad_compiler.primitives.edges import over
from ad_compiler.primitives.registry import (
    PREC_ATOM,
    REGISTRY,
    Ops,
    Params,
    Primitive,
    Value,
    by_slopes,
    constant,
    linear_rules,
    register,
    unary,
)
from ad_compiler.primitives.special import pi

_SMOOTH = "smooth everywhere"
_ZERO = "zero derivative: piecewise constant (0 at the jumps too)"


def _np_row(name: str, evaluate, np_name: str, **fields) -> Primitive:
    """A function of one input that NumPy has (``np.<np_name>``)."""
    return unary(
        name,
        evaluate,
        np_name=f"np.{np_name}",
        names=(f"numpy.{np_name}",),
        **fields,
    )


def _ln2(b: Ops) -> Value:
    return b.log(b.lit(2))  # folded to a literal in emitted code, exact for SymPy


# --- exponentials, powers, roots --------------------------------------------------------
register(
    # np.positive(x) = +x (a copy): d = dx
    Primitive(
        "positive",
        1,
        numpy.positive,
        np_name="np.positive",
        names=("numpy.positive",),
        result="closed",
        jvp=lambda b, p, out, x, dx: dx,
        vjp=lambda b, p, out, g, x: (g,),
        sympy=lambda sp, x: x,
        convention=_SMOOTH,
    ),
    # 2ˣ: d = out ln 2 dx
    _np_row(
        "exp2",
        numpy.exp2,
        "exp2",
        slope=lambda b, out, x: b.mul(out, _ln2(b)),
        result="float",
        sympy=lambda sp, x: 2**x,
        convention=_SMOOTH,
    ),
    # ∛x: d = dx / (3 out²); inf at x = 0 (the tangent is vertical), as in JAX
    _np_row(
        "cbrt",
        numpy.cbrt,
        "cbrt",
        divisor=lambda b, out, x: b.mul(b.lit(3), b.mul(out, out)),
        divide=over,
        result="float",
        sympy=lambda sp, x: sp.cbrt(x),
        domain=((0.2, 3),),
        signed=True,
        convention="smooth but at 0, where the derivative is inf",
    ),
    # 1 / x: d = −out² dx (NumPy's: integer division for ints)
    _np_row(
        "reciprocal",
        numpy.reciprocal,
        "reciprocal",
        slope=lambda b, out, x: b.mul(out, out),
        negated=True,
        result="closed",
        sympy=lambda sp, x: 1 / x,
        domain=((0.3, 2),),
        signed=True,
        convention="smooth where x ≠ 0 (at 0: −inf, NumPy's 1/0²)",
    ),
    # np.float_power(x, y): x ** y computed in float64, the rules of pow
    replace(
        REGISTRY["pow"],
        name="float_power",
        infix=None,
        prec=PREC_ATOM,
        math_name=None,
        py_name=None,
        np_name="np.float_power",
        names=("numpy.float_power",),
        evaluate=numpy.float_power,
        result="float",
        convention="as x ** y: at x = 0 the slope in y is 0 (JAX's ln 0 = 0 there), "
        "nan for x < 0",
    ),
)


# --- log-sum-exp of two: ∂x = base^(x − out), ∂y = base^(y − out) --------------------------
def _logaddexp(name: str, evaluate, power: str, sympy) -> Primitive:
    def shares(b: Ops, out: Value, x: Value, y: Value) -> tuple:
        return b.apply(power, b.sub(x, out)), b.apply(power, b.sub(y, out))

    return Primitive(
        name,
        2,
        evaluate,
        np_name=f"np.{name}",
        names=(f"numpy.{name}",),
        commutative=True,
        result="float",
        sympy=sympy,
        **by_slopes(shares),
        convention="smooth everywhere (nan where an input is infinite)",
    )


register(
    # ln(eˣ + eʸ): the shares eˣ/(eˣ + eʸ) = e^(x − out), each in (0, 1]
    _logaddexp(
        "logaddexp",
        numpy.logaddexp,
        "exp",
        lambda sp, x, y: sp.log(sp.exp(x) + sp.exp(y)),
    ),
    # log₂(2ˣ + 2ʸ): the shares 2^(x − out)
    _logaddexp(
        "logaddexp2",
        numpy.logaddexp2,
        "exp2",
        lambda sp, x, y: sp.log(2**x + 2**y, 2),
    ),
)


# --- inverse hyperbolic (math's names too) ---------------------------------------------
def _math_and_np(name, evaluate, math_name, np_name, **fields) -> Primitive:
    return unary(
        name,
        evaluate,
        math_name=f"math.{math_name}",
        np_name=f"np.{np_name}",
        names=(f"math.{math_name}", f"numpy.{np_name}"),
        result="float",
        **fields,
    )


register(
    # d asinh(x) = dx / √(1 + x²)
    _math_and_np(
        "asinh",
        math.asinh,
        "asinh",
        "arcsinh",
        divisor=lambda b, out, x: b.sqrt(b.add(b.lit(1), b.mul(x, x))),
        convention=_SMOOTH,
    ),
    # d acosh(x) = dx / √(x² − 1); inf at x = 1
    _math_and_np(
        "acosh",
        math.acosh,
        "acosh",
        "arccosh",
        divisor=lambda b, out, x: b.sqrt(b.sub(b.mul(x, x), b.lit(1))),
        divide=over,
        domain=((1.2, 3),),
        convention="smooth for x > 1; inf at x = 1",
    ),
    # d atanh(x) = dx / (1 − x²); ±inf at x = ±1
    _math_and_np(
        "atanh",
        math.atanh,
        "atanh",
        "arctanh",
        divisor=lambda b, out, x: b.sub(b.lit(1), b.mul(x, x)),
        divide=over,
        domain=((-0.9, 0.9),),
        convention="smooth for |x| < 1",
    ),
)


# --- angles: linear, so each is its own tangent and adjoint ------------------------------
def _angle(name, evaluate, np_name, alias, math_name, factor) -> Primitive:
    def transpose(b: Ops, p: Params, out: Value, g: Value, x: Value) -> tuple:
        return (b.apply(name, g),)  # a scaling: its own transpose

    return Primitive(
        name,
        1,
        evaluate,
        math_name=f"math.{math_name}",
        np_name=f"np.{np_name}",
        names=(f"math.{math_name}", f"numpy.{np_name}", f"numpy.{alias}"),
        result="float",
        sympy=lambda sp, x: x * factor(sp),
        convention=_SMOOTH + " (linear)",
        **linear_rules(name, transpose),
    )


register(
    _angle(
        "deg2rad", math.radians, "deg2rad", "radians", "radians", lambda sp: sp.pi / 180
    ),
    _angle(
        "rad2deg", math.degrees, "rad2deg", "degrees", "degrees", lambda sp: 180 / sp.pi
    ),
)


# --- sinc -------------------------------------------------------------------------------
# sinc(x) = Σ (−1)ʲ (πx)²ʲ / (2j + 1)!, so sinc'(x) = −(π²/3) x + (π⁴/30) x³ − …
_SINC_1 = -(math.pi**2) / 3
_SINC_3 = math.pi**4 / 30


def _sinc_slope(b: Ops, out: Value, x: Value) -> Value:
    """sinc'(x) = (cos(πx) − sinc(x)) / x away from 0; at x = 0 its Maclaurin
    polynomial x (−π²/3 + (π⁴/30) x²), which is 0 there and whose derivatives
    are sinc's up to the fifth order (JAX's values at 0).  The tests are on x's
    truth (``a if x else b``, ``np.where(x, a, b)``), and the division is by 1
    at x = 0 (never 0 / 0, nor a warning)."""
    change = b.sub(b.cos(b.mul(pi(b), x)), out)
    series = b.mul(x, b.add(b.lit(_SINC_1), b.mul(b.lit(_SINC_3), b.mul(x, x))))
    safe = b.select(x, x, b.lit(1.0))
    return b.select(x, b.div(change, safe), series)


register(
    _np_row(
        "sinc",
        numpy.sinc,
        "sinc",
        slope=_sinc_slope,
        result="float",
        sympy=lambda sp, x: sp.sin(sp.pi * x) / (sp.pi * x),
        convention="smooth everywhere (at 0 exactly, derivatives up to the fifth "
        "order from its Maclaurin series, beyond that 0)",
    ),
)


# --- NaN-ignoring extremes: fmax/fmin --------------------------------------------------
# np.fmax(x, y) is x where x > y or y is nan, else y (y on a tie); the
# derivative is that of the argument returned, as JAX has it.
def _fextreme(name: str, evaluate, wins: str) -> Primitive:
    def pick(b: Ops, x: Value, y: Value, tx: Value, ty: Value) -> Value:
        # tx where x wins or y is nan, else ty
        wins_x = b.select(b.apply(wins, x, y), tx, ty)
        return b.select(b.apply("ne", y, y), tx, wins_x)

    def jvp(b: Ops, p: Params, out, x, y, dx, dy) -> Value:
        return pick(b, x, y, dx, dy)

    def vjp(b: Ops, p: Params, out, g, x, y) -> tuple:
        return (pick(b, x, y, g, None), pick(b, x, y, None, g))

    return Primitive(
        name,
        2,
        evaluate,
        np_name=f"np.{name}",
        names=(f"numpy.{name}",),
        result="closed",
        jvp=jvp,
        vjp=vjp,
        sympy=lambda sp, x, y: getattr(sp, "Max" if wins == "gt" else "Min")(
            x, y, evaluate=False
        ),
        convention="the derivative of the argument returned: the second on a tie, "
        "the other where one is nan (NumPy's value ignores nan; JAX's convention)",
    )


register(
    _fextreme("fmax", numpy.fmax, "gt"),
    _fextreme("fmin", numpy.fmin, "lt"),
)


# --- piecewise constant ------------------------------------------------------------------
def _heaviside_jvp(b: Ops, p: Params, out, x1, x2, dx1, dx2) -> Value:
    return b.select(b.apply("eq", x1, b.lit(0.0)), dx2, None)


def _heaviside_vjp(b: Ops, p: Params, out, g, x1, x2) -> tuple:
    return (None, b.select(b.apply("eq", x1, b.lit(0.0)), g, None))


def _round_sympy(sp, x, decimals=0):
    scale = sp.Integer(10) ** decimals
    return sp.floor(x * scale + sp.Rational(1, 2)) / scale


def _render_round(params, texts, atoms):
    decimals = params.get("decimals") or 0
    extra = f", decimals={decimals}" if decimals else ""
    return f"np.round({texts[0]}{extra})", PREC_ATOM


register(
    # heaviside(x1, x2): 0 for x1 < 0, x2 at x1 = 0, 1 for x1 > 0
    Primitive(
        "heaviside",
        2,
        numpy.heaviside,
        np_name="np.heaviside",
        names=("numpy.heaviside",),
        result="closed",
        jvp=_heaviside_jvp,
        vjp=_heaviside_vjp,
        sympy=lambda sp, x1, x2: sp.Heaviside(x1, x2, evaluate=False),
        domain=((0.3, 2), (0, 1)),
        signed=True,
        convention="zero in x1 (piecewise constant; 0 at the jump too); in x2, "
        "1 where x1 = 0 (the value there) and 0 elsewhere, as in JAX",
    ),
    constant(
        "rint",
        1,
        numpy.rint,
        np_name="np.rint",
        names=("numpy.rint",),
        sympy=lambda sp, x: sp.floor(x + sp.Rational(1, 2)),
        domain=((0.1, 0.4),),
        signed=True,
        convention=_ZERO,
    ),
    # np.round(x, decimals): the number of decimals a literal (a param)
    constant(
        "np_round",
        1,
        lambda x, decimals=0: numpy.round(x, decimals),
        names=("numpy.round", "numpy.around"),
        call="static",
        static=("decimals",),
        render=_render_round,
        result="closed",
        sympy=_round_sympy,
        domain=((0.1, 0.4),),
        signed=True,
        sample_params=({}, {"decimals": 1}),
        convention=_ZERO,
    ),
)
