"""Functions of ``scipy.special``, reached when the user's code calls SciPy.

SciPy is optional: these rows are spelled ``scipy.special.<name>`` in emitted
code, which then imports ``scipy.special`` as the user's code did, and they
are evaluated (constant folding, the registry test) by importing SciPy when
first needed (:func:`~ad_compiler.primitives.registry.scipy_module`: a clear
error if it is not installed).  Their rules may call other ``scipy.special``
functions (the user imported SciPy); the rest of a rule is spelled with NumPy
(the builder spells a row without a SciPy twin with NumPy in SciPy code).

The derivatives (``out`` the value, ψ = digamma, ψ⁽ⁿ⁾ = polygamma(n, ·),
φ(x) = e^(−x²/2)/√(2π) the normal density):

* ``expit``: out (1 − out)           ``logit``: 1 / (x (1 − x))
* ``erfinv``: (√π/2) e^(out²)        ``ndtr``: φ(x)     ``log_ndtr``: φ(x) / ndtr(x) = e^(−x²/2 − out) / √(2π)
* ``gammaln``: ψ(x)   ``digamma``: ψ⁽¹⁾(x)   ``polygamma(n, x)``: ψ⁽ⁿ⁺¹⁾(x)
* ``betaln(a, b)``: ψ(a) − ψ(a + b) and ψ(b) − ψ(a + b)
* ``xlogy(x, y)``: ln y and x / y    ``xlog1py(x, y)``: ln(1 + y) and x / (1 + y)
* ``entr``: −(ln x + 1)
* ``i0e``: i1e(x) − sign(x) out       ``i1e``: i0e(x) − out (sign(x) + 1/x), ½ at 0

(``erf``, ``erfc`` are the rows of :mod:`ad_compiler.primitives.special`,
spelled ``scipy.special.erf`` when the user called SciPy.)
"""

from __future__ import annotations

from ad_compiler.primitives.edges import over
from ad_compiler.primitives.registry import (
    PREC_ATOM,
    Ops,
    Primitive,
    Value,
    by_slopes,
    register,
    scipy_module,
    unary,
)
from ad_compiler.primitives.special import pi

_SMOOTH = "smooth everywhere"


def _special(name: str):
    """``scipy.special.<name>``, imported when first called."""

    def evaluate(*args):
        return getattr(scipy_module("scipy.special"), name)(*args)

    evaluate.__name__ = name
    return evaluate


def _row(name: str, *, aliases: tuple[str, ...] = (), **fields) -> Primitive:
    """``scipy.special.<name>`` (also reached by ``aliases``: ``psi``), one input."""
    return unary(
        name,
        _special(name),
        names=tuple(f"scipy.special.{n}" for n in (name,) + aliases),
        scipy_name=f"scipy.special.{name}",
        result="float",
        **fields,
    )


def _logistic_slope(b: Ops, out: Value, x: Value) -> Value:
    return b.mul(out, b.sub(b.lit(1), out))  # σ'(x) = σ(x)(1 − σ(x))


def _normal_density(b: Ops, x: Value, minus: Value = None) -> Value:
    """φ(x) = e^(−x²/2) / √(2π); with ``minus``, e^(−x²/2 − minus) / √(2π)."""
    exponent = b.neg(b.div(b.mul(x, x), b.lit(2)))
    if minus is not None:
        exponent = b.sub(exponent, minus)
    return b.div(b.exp(exponent), b.sqrt(b.mul(b.lit(2), pi(b))))


def digamma(b: Ops, x: Value) -> Value:
    return b.apply("digamma", x)


def scipy_polygamma(b: Ops, x: Value, n: int) -> Value:
    return b.apply("scipy_polygamma", x, n=n)


register(
    # expit(x) = σ(x) = 1 / (1 + e^(−x)), the logistic function
    _row(
        "expit",
        slope=_logistic_slope,
        sympy=lambda sp, x: 1 / (1 + sp.exp(-x)),
        domain=((-4, 4),),
        convention=_SMOOTH,
    ),
    # logit(x) = ln(x / (1 − x)), σ's inverse: d = dx / (x (1 − x))
    _row(
        "logit",
        divisor=lambda b, out, x: b.mul(x, b.sub(b.lit(1), x)),
        divide=over,
        sympy=lambda sp, x: sp.log(x / (1 - x)),
        domain=((0.1, 0.9),),
        convention="smooth on (0, 1); ±inf at 0 and 1",
    ),
    # erfinv: d = (√π/2) e^(out²) dx
    _row(
        "erfinv",
        slope=lambda b, out, x: b.mul(
            b.div(b.sqrt(pi(b)), b.lit(2)), b.exp(b.mul(out, out))
        ),
        sympy=lambda sp, x: sp.erfinv(x),
        domain=((-0.9, 0.9),),
        convention="smooth on (−1, 1); inf at ±1",
    ),
    # ndtr(x) = Φ(x), the normal distribution function: d = φ(x) dx
    _row(
        "ndtr",
        slope=lambda b, out, x: _normal_density(b, x),
        sympy=lambda sp, x: (1 + sp.erf(x / sp.sqrt(2))) / 2,
        domain=((-3, 3),),
        convention=_SMOOTH,
    ),
    # log_ndtr(x) = ln Φ(x): d = φ(x)/Φ(x) dx = e^(−x²/2 − out)/√(2π) dx, which
    # stays finite far in the left tail (where φ and Φ both underflow)
    _row(
        "log_ndtr",
        slope=lambda b, out, x: _normal_density(b, x, out),
        sympy=lambda sp, x: sp.log((1 + sp.erf(x / sp.sqrt(2))) / 2),
        domain=((-3, 3),),
        convention=_SMOOTH,
    ),
    # gammaln(x) = ln|Γ(x)|: d = ψ(x) dx
    _row(
        "gammaln",
        slope=lambda b, out, x: digamma(b, x),
        sympy=lambda sp, x: sp.loggamma(x),
        domain=((0.3, 4),),
        convention="smooth on its domain (poles at 0, −1, −2, …)",
    ),
    # digamma(x) = ψ(x) (also scipy.special.psi): d = ψ⁽¹⁾(x) dx
    _row(
        "digamma",
        aliases=("psi",),
        slope=lambda b, out, x: scipy_polygamma(b, x, 1),
        sympy=lambda sp, x: sp.polygamma(0, x),
        domain=((0.3, 4),),
        convention="smooth on its domain (poles at 0, −1, −2, …)",
    ),
    # polygamma(n, x) = ψ⁽ⁿ⁾(x), the order n a literal int (a param):
    # d = ψ⁽ⁿ⁺¹⁾(x) dx
    Primitive(
        "scipy_polygamma",
        1,
        lambda x, n: scipy_module("scipy.special").polygamma(n, x),
        names=("scipy.special.polygamma",),
        call="own",  # (frontend/lower_calls.py: the order first, a literal)
        render=lambda p, t, a: (
            f"scipy.special.polygamma({p['n']}, {t[0]})",
            PREC_ATOM,
        ),
        render_module="scipy.special",
        shown="polygamma({0})",
        result="float",
        jvp=lambda b, p, out, x, dx: b.mul(scipy_polygamma(b, x, p["n"] + 1), dx),
        vjp=lambda b, p, out, g, x: (b.mul(scipy_polygamma(b, x, p["n"] + 1), g),),
        sympy=lambda sp, x, n: sp.polygamma(n, x),
        domain=((0.3, 4),),
        sample_params=({"n": 0}, {"n": 1}, {"n": 3}),
        convention="smooth on its domain (poles at 0, −1, −2, …)",
    ),
)


# betaln(a, b) = ln|B(a, b)| = ln Γ(a) + ln Γ(b) − ln Γ(a + b)
def _betaln_slopes(b: Ops, out: Value, x: Value, y: Value) -> tuple:
    both = digamma(b, b.add(x, y))
    return b.sub(digamma(b, x), both), b.sub(digamma(b, y), both)


def _two(name: str, slopes, **fields) -> Primitive:
    """``scipy.special.<name>`` of two inputs, by its two partial derivatives
    ``slopes(b, out, x, y) -> (∂x, ∂y)``."""
    return Primitive(
        name,
        2,
        _special(name),
        names=(f"scipy.special.{name}",),
        scipy_name=f"scipy.special.{name}",
        result="float",
        **by_slopes(slopes),
        **fields,
    )


# xlogy(x, y) = x ln y, 0 where x = 0 (also at y = 0): ∂x = ln y, ∂y = x / y;
# JAX's conventions at x = 0: ∂x = ln y (−inf at y = 0), ∂y = 0 (nan at y = 0)
def _xlogy_slopes(b: Ops, out: Value, x: Value, y: Value) -> tuple:
    return b.log(y), over(b, x, y)


def _xlog1py_slopes(b: Ops, out: Value, x: Value, y: Value) -> tuple:
    return b.apply("log1p", y), over(b, x, b.add(b.lit(1), y))


register(
    _two(
        "betaln",
        _betaln_slopes,
        sympy=lambda sp, x, y: sp.loggamma(x) + sp.loggamma(y) - sp.loggamma(x + y),
        domain=((0.3, 4), (0.3, 4)),
        convention="smooth on its domain (poles where a or b is 0, −1, −2, …)",
    ),
    _two(
        "xlogy",
        _xlogy_slopes,
        sympy=lambda sp, x, y: x * sp.log(y),
        domain=((-2, 2), (0.3, 3)),
        convention="smooth for y > 0; at x = 0 the slope in x is ln y (−inf at "
        "y = 0) and in y 0 (nan at y = 0), as JAX has them",
    ),
    _two(
        "xlog1py",
        _xlog1py_slopes,
        sympy=lambda sp, x, y: x * sp.log(1 + y),
        domain=((-2, 2), (-0.5, 2)),
        convention="smooth for y > −1; at x = 0 the slope in x is ln(1 + y) (−inf "
        "at y = −1) and in y 0 (nan at y = −1), as JAX has them",
    ),
)


def _i1e_slope(b: Ops, out: Value, x: Value) -> Value:
    """i1e'(x) = i0e(x) − i1e(x) (sign(x) + 1/x), and ½ at x = 0 (its limit);
    the tests are on x's truth and the division is by 1 at x = 0."""
    safe = b.select(x, x, b.lit(1.0))
    inner = b.add(b.apply("sign", x), b.div(b.lit(1), safe))
    away = b.sub(b.apply("i0e", x), b.mul(out, inner))
    return b.select(x, away, b.lit(0.5))


register(
    # entr(x) = −x ln x (0 at 0, −inf for x < 0): d = −(ln x + 1) dx
    _row(
        "entr",
        slope=lambda b, out, x: b.add(b.log(x), b.lit(1)),
        negated=True,
        sympy=lambda sp, x: -x * sp.log(x),
        domain=((0.2, 3),),
        convention="smooth for x > 0; +inf at 0, nan for x < 0 (as JAX)",
    ),
    # i0e(x) = e^(−|x|) I₀(x): d = (i1e(x) − sign(x) out) dx
    _row(
        "i0e",
        slope=lambda b, out, x: b.sub(
            b.apply("i1e", x), b.mul(b.apply("sign", x), out)
        ),
        sympy=lambda sp, x: sp.exp(-sp.Abs(x)) * sp.besseli(0, x),
        domain=((0.2, 3),),
        signed=True,
        convention="a kink at 0, where the derivative is 0 (NumPy's sign(0) = 0, "
        "as JAX)",
    ),
    # i1e(x) = e^(−|x|) I₁(x)
    _row(
        "i1e",
        slope=_i1e_slope,
        sympy=lambda sp, x: sp.exp(-sp.Abs(x)) * sp.besseli(1, x),
        domain=((0.2, 3),),
        signed=True,
        convention="smooth but for a kink of the second derivative at 0, where the "
        "derivative is ½ and the higher ones 0 (as JAX)",
    ),
)
