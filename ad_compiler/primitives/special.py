"""Special functions: the polygamma family, the error function and the log-gamma function.

Emitted code stays self-contained (it imports only ``math`` and ``numpy``), so
a function the standard library lacks is a helper written into the emitted
module (:data:`~ad_compiler.primitives.registry.HELPERS`), and that same text
is the row's evaluator.  These functions are ``math``'s: NumPy has no twins
(``scipy.special`` has), so they take numbers, and applying one to an array
is a located compile error (see ``Primitive.scalar_only``).
"""

from __future__ import annotations

import math

from ad_compiler.primitives.registry import (
    HELPERS,
    PREC_ATOM,
    Ops,
    Params,
    Primitive,
    Value,
    batch_numbers_only,
    helper_function,
    register,
    unary,
)

HELPERS["_polygamma"] = '''
def _polygamma(n, x):
    """The n-th derivative of the digamma function psi = Gamma'/Gamma at x (n = 0: psi).

    For x > 0 the recurrence psi_n(x) = psi_n(x + 1) - (-1)**n n! / x**(n + 1)
    moves x up to at least 20 + n, where the asymptotic series
    psi(x) ~ ln x - 1/(2x) - sum B_2k / (2k x**2k) and, for n >= 1,
    psi_n(x) ~ (-1)**(n+1) [(n-1)!/x**n + n!/(2x**(n+1))
                            + sum B_2k (2k+n-1)!/((2k)! x**(2k+n))]
    is summed to 10 terms: about 1e-15 relative.  For x < 0 the reflection
    psi_n(x) = (-1)**n psi_n(1 - x) - pi d^n/dx^n cot(pi x) (about 1e-12 relative);
    nan at the poles 0, -1, -2, ...
    """
    if x <= 0 and x == math.floor(x):
        return math.nan
    if x < 0:
        # (d/dx)^n cot(pi x) = pi**n P_n(cot(pi x)), where P_0(t) = t and
        # P_k+1(t) = -(1 + t*t) P_k'(t), a polynomial kept as its coefficients
        poly = [0.0, 1.0]
        for _ in range(n):
            slope = [k * c for k, c in enumerate(poly)][1:] + [0.0, 0.0]
            poly = [
                -slope[k] - (slope[k - 2] if k >= 2 else 0.0) for k in range(len(slope))
            ]
        t = 1.0 / math.tan(math.pi * x)
        cot_n = sum(c * t**k for k, c in enumerate(poly))
        return (-1) ** n * _polygamma(n, 1.0 - x) - math.pi ** (n + 1) * cot_n
    sign = -1.0 if n % 2 else 1.0  # (-1)**n
    n_factorial = math.factorial(n)
    shift = 0.0
    while x < 20 + n:
        shift -= sign * n_factorial / x ** (n + 1)
        x += 1.0
    # the Bernoulli numbers B_2, B_4, ..., B_20
    bernoulli = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)
    bernoulli += (-3617 / 510, 43867 / 798, -174611 / 330)
    if n == 0:
        series = math.log(x) - 0.5 / x
        for k, b in enumerate(bernoulli, 1):
            series -= b / (2 * k * x ** (2 * k))
        return shift + series
    series = math.factorial(n - 1) / x**n + n_factorial / (2 * x ** (n + 1))
    for k, b in enumerate(bernoulli, 1):
        ratio = math.factorial(2 * k + n - 1) / math.factorial(2 * k)
        series += b * ratio / x ** (2 * k + n)
    return shift - sign * series
'''
_polygamma = helper_function("_polygamma")


def pi(b: Ops) -> Value:
    """π as acos(-1): exact for SymPy (which proves the rows), folded to the
    literal math.pi in emitted code."""
    return b.apply("acos", b.lit(-1))


def gaussian(b: Ops, x: Value) -> Value:
    """(2/√π) e^(−x²), the derivative of erf (and minus that of erfc)."""
    return b.mul(b.div(b.lit(2), b.sqrt(pi(b))), b.exp(b.neg(b.mul(x, x))))


def polygamma(b: Ops, x: Value, n: int) -> Value:
    """ψ⁽ⁿ⁾(x), the n-th derivative of the digamma function (n = 0: ψ itself)."""
    return b.apply("polygamma", x, n=n)


def _polygamma_slope(b: Ops, p: Params, x: Value) -> Value:
    return polygamma(b, x, p["n"] + 1)  # d/dx ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁺¹⁾(x)


register(
    # polygamma(x; n) = ψ⁽ⁿ⁾(x), the order n a param; written into emitted code
    # as the helper _polygamma (the standard library has none)
    Primitive(
        "polygamma",
        1,
        lambda x, n: _polygamma(n, x),
        render=lambda p, t, a: (f"_polygamma({p['n']}, {t[0]})", PREC_ATOM),
        render_module="math",
        helper="_polygamma",
        batch=batch_numbers_only(),  # the helper is written for floats
        result="float",
        jvp=lambda b, p, out, x, dx: b.mul(_polygamma_slope(b, p, x), dx),
        vjp=lambda b, p, out, g, x: (b.mul(_polygamma_slope(b, p, x), g),),
        sympy=lambda sp, x, n: sp.polygamma(n, x),
        domain=((0.2, 5),),
        sample_params=({"n": 0}, {"n": 1}, {"n": 3}),
    ),
)
# d erf(x) = (2/√π) e^(−x²) dx
register(
    unary(
        "erf",
        math.erf,
        math_name="math.erf",
        names=("math.erf", "scipy.special.erf"),
        scipy_name="scipy.special.erf",  # (SciPy's takes arrays)
        result="float",
        convention="smooth everywhere",
        slope=lambda b, out, x: gaussian(b, x),
    )
)
# d erfc(x) = −(2/√π) e^(−x²) dx
register(
    unary(
        "erfc",
        math.erfc,
        math_name="math.erfc",
        names=("math.erfc", "scipy.special.erfc"),
        scipy_name="scipy.special.erfc",  # (SciPy's takes arrays)
        result="float",
        convention="smooth everywhere",
        slope=lambda b, out, x: gaussian(b, x),
        negated=True,
    )
)
# d lgamma(x) = ψ(x) dx, the digamma function: polygamma of order 0
register(
    unary(
        "lgamma",
        math.lgamma,
        math_name="math.lgamma",
        names=("math.lgamma",),
        result="float",
        slope=lambda b, out, x: polygamma(b, x, 0),
        sympy=lambda sp, x: sp.loggamma(x),
        domain=((0.3, 4),),
    )
)
