"""Log-densities of ``scipy.stats`` distributions, with every parameter differentiated.

Each row is one elementwise function of the point and the distribution's
parameters, all of them inputs (``norm.logpdf(x, loc, scale)`` is a function
of three arrays that broadcast together), spelled in emitted code as the
user called it: ``scipy.stats.norm.logpdf(x, mu, s)``; the emitted module
then imports ``scipy.stats`` as the user's did.  Keyword arguments and
defaults (``norm.logpdf(x, scale=s)``) are put in positional order when the
call is lowered, from :data:`SIGNATURES`.

The derivative rules are closed forms, written with z = (x − loc) / scale:

* ``norm.logpdf`` = −z²/2 − log scale − log(2π)/2:
  ∂x = −z/scale, ∂loc = z/scale, ∂scale = (z² − 1)/scale;
* ``norm.pdf``, ``norm.cdf`` and ``norm.logsf`` likewise (the slope of logsf
  is −exp(logpdf − logsf));
* ``norm.logcdf`` = log Φ(z): ∂x = φ(z) / (scale Φ(z)) = exp(logpdf − logcdf),
  computed in that stable form (no Φ(z) that underflows), ∂loc = −∂x,
  ∂scale = −z ∂x;
* ``t.logpdf`` (ν = df, w = ν + z²): ∂x = −(ν + 1) z / (scale w),
  ∂ν = ½ψ((ν+1)/2) − ½ψ(ν/2) − 1/(2ν) − ½ log(1 + z²/ν) + (ν+1) z² / (2ν w),
  ∂scale = ((ν + 1) z²/w − 1)/scale;
* ``poisson.logpmf`` = k log μ − μ − lnΓ(k + 1): ∂μ = k/μ − 1, and in k the
  derivative of that continuous extension, log μ − ψ(k + 1) (as JAX's);
* ``gamma.logpdf`` = (a − 1) log z − z − lnΓ(a) − log scale:
  ∂x = ((a − 1)/z − 1)/scale, ∂a = log z − ψ(a), ∂scale = (z − a)/scale;
* ``beta.logpdf`` = (a−1) log z + (b−1) log(1 − z) − ln B(a, b) − log scale,
  with q = (a − 1)/z − (b − 1)/(1 − z): ∂x = q/scale, ∂scale = −(z q + 1)/scale,
  ∂a = log z − ψ(a) + ψ(a + b), ∂b = log(1 − z) − ψ(b) + ψ(a + b);

* ``t/gamma/beta.logcdf`` = log F(z): ∂x = f/F = exp(logpdf − logcdf),
  ∂scale = −z ∂x; ``poisson.logcdf(k, μ)`` = log Q(⌊k⌋ + 1, μ):
  ∂μ = −exp(logpmf(⌊k⌋) − logcdf), zero in k (a step); the shape parameters
  (df, a, b) are ``underivable`` (no closed form): refused when active;

and ∂loc = −∂x throughout.  ψ⁽ⁿ⁾ is the row ``digamma`` or ``scipy_polygamma``, spelled
``scipy.special.digamma``/``polygamma`` (the user imported SciPy); every rule
is built of rows with rules, so second derivatives follow.
``multivariate_normal.logpdf`` is in :mod:`ad_compiler.primitives.stats_mvn`.
"""

from __future__ import annotations

from ad_compiler.primitives.registry import (
    Ops,
    Params,
    Primitive,
    Value,
    halves,
    register,
    scipy_module,
)

# qualified name -> the parameters in positional order, each with its default
# (REQUIRED: none); lowering reads a call's keywords by these names
REQUIRED = object()
SIGNATURES: dict[str, tuple[tuple[str, object], ...]] = {}


def _psi(b: Ops, x: Value, n: int = 0) -> Value:
    """ψ⁽ⁿ⁾(x), the n-th derivative of the digamma function: the rows of
    :mod:`ad_compiler.primitives.scipy_special` (SciPy's, which take arrays)."""
    if n == 0:
        return b.apply("digamma", x)
    return b.apply("scipy_polygamma", x, n=n)


def _stats(dist: str, method: str):
    """``scipy.stats.<dist>.<method>``, imported when first called."""

    def evaluate(*args):
        return getattr(getattr(scipy_module("scipy.stats"), dist), method)(*args)

    evaluate.__name__ = f"{dist}_{method}"
    return evaluate


def _by_partials(partials):
    """The jvp and vjp of an elementwise row given its partial derivatives
    ``partials(b, out, *ins)`` (one per input): the tangent is Σ ∂ᵢ·ẋᵢ, the
    adjoint of input i is ∂ᵢ·ḡ."""

    def jvp(b: Ops, p: Params, out: Value, *args: Value) -> Value:
        ins, dins = halves(args)
        total = None
        for d, t in zip(partials(b, out, *ins), dins):
            if t is not None and d is not None:  # (None: zero, or underivable)
                term = b.mul(d, t)
                total = term if total is None else b.add(total, term)
        return total

    def vjp(b: Ops, p: Params, out: Value, g: Value, *ins: Value) -> tuple:
        return tuple(None if d is None else b.mul(d, g) for d in partials(b, out, *ins))

    return {"jvp": jvp, "vjp": vjp}


def _row(dist, method, params, partials, sympy, domain, convention, **fields):
    """The row ``<dist>_<method>`` reached as ``scipy.stats.<dist>.<method>``
    with these positional ``params`` (name, default)."""
    qualified = f"scipy.stats.{dist}.{method}"
    SIGNATURES[qualified] = params
    fields.setdefault("evaluate", _stats(dist, method))
    return Primitive(
        f"{dist}_{method}",
        len(params),
        names=(qualified,),
        scipy_name=qualified,
        result="float",
        sympy=sympy,
        domain=domain,
        convention=convention,
        **_by_partials(partials),
        **fields,
    )


def _z(b: Ops, x: Value, loc: Value, scale: Value) -> Value:
    return b.div(b.sub(x, loc), scale)


# --- the normal distribution ----------------------------------------------------------
def _norm_logpdf(b: Ops, out, x, loc, scale) -> tuple:
    z = _z(b, x, loc, scale)
    dx = b.neg(b.div(z, scale))
    return dx, b.neg(dx), b.div(b.sub(b.mul(z, z), b.lit(1)), scale)


def _norm_logcdf(b: Ops, out, x, loc, scale) -> tuple:
    # φ(z) / (scale Φ(z)) = exp(logpdf − logcdf): no Φ(z) underflowing to 0
    ratio = b.exp(b.sub(b.apply("norm_logpdf", x, loc, scale), out))
    return ratio, b.neg(ratio), b.neg(b.mul(_z(b, x, loc, scale), ratio))


def _norm_pdf(b: Ops, out, x, loc, scale) -> tuple:
    # φ(z)/scale times the partials of its log
    return tuple(b.mul(out, d) for d in _norm_logpdf(b, out, x, loc, scale))


def _norm_cdf(b: Ops, out, x, loc, scale) -> tuple:
    density = b.exp(b.apply("norm_logpdf", x, loc, scale))  # φ(z)/scale
    return density, b.neg(density), b.neg(b.mul(_z(b, x, loc, scale), density))


def _norm_logsf(b: Ops, out, x, loc, scale) -> tuple:
    # log(1 − Φ(z)): the slope −φ(z)/(scale (1 − Φ(z))) as −exp(logpdf − logsf)
    ratio = b.exp(b.sub(b.apply("norm_logpdf", x, loc, scale), out))
    return b.neg(ratio), ratio, b.mul(_z(b, x, loc, scale), ratio)


def _sympy_z(x, loc, scale):
    return (x - loc) / scale


_LOC_SCALE = (("loc", 0.0), ("scale", 1.0))

register(
    _row(
        "norm",
        "logpdf",
        (("x", REQUIRED),) + _LOC_SCALE,
        _norm_logpdf,
        lambda sp, x, loc, s: -_sympy_z(x, loc, s) ** 2 / 2
        - sp.log(s)
        - sp.log(2 * sp.pi) / 2,
        ((-2, 2), (-1, 1), (0.5, 2)),
        "smooth everywhere (scale > 0)",
    ),
    _row(
        "norm",
        "logcdf",
        (("x", REQUIRED),) + _LOC_SCALE,
        _norm_logcdf,
        lambda sp, x, loc, s: sp.log(sp.erfc(-_sympy_z(x, loc, s) / sp.sqrt(2)) / 2),
        ((-2, 2), (-1, 1), (0.5, 2)),
        "smooth everywhere (scale > 0); the slope φ/Φ is computed as "
        "exp(logpdf − logcdf), finite far in the left tail",
    ),
    _row(
        "norm",
        "pdf",
        (("x", REQUIRED),) + _LOC_SCALE,
        _norm_pdf,
        lambda sp, x, loc, s: sp.exp(-_sympy_z(x, loc, s) ** 2 / 2)
        / (s * sp.sqrt(2 * sp.pi)),
        ((-2, 2), (-1, 1), (0.5, 2)),
        "smooth everywhere (scale > 0)",
    ),
    _row(
        "norm",
        "cdf",
        (("x", REQUIRED),) + _LOC_SCALE,
        _norm_cdf,
        lambda sp, x, loc, s: sp.erfc(-_sympy_z(x, loc, s) / sp.sqrt(2)) / 2,
        ((-2, 2), (-1, 1), (0.5, 2)),
        "smooth everywhere (scale > 0)",
    ),
    _row(
        "norm",
        "logsf",
        (("x", REQUIRED),) + _LOC_SCALE,
        _norm_logsf,
        lambda sp, x, loc, s: sp.log(sp.erfc(_sympy_z(x, loc, s) / sp.sqrt(2)) / 2),
        ((-2, 2), (-1, 1), (0.5, 2)),
        "smooth everywhere (scale > 0); the slope as exp(logpdf − logsf), finite "
        "far in the right tail",
    ),
)


# --- Student's t ------------------------------------------------------------------------
def _t_logpdf(b: Ops, out, x, df, loc, scale) -> tuple:
    z = _z(b, x, loc, scale)
    z2 = b.mul(z, z)
    w = b.add(df, z2)
    df1 = b.add(df, b.lit(1))
    dx = b.neg(b.div(b.mul(df1, z), b.mul(scale, w)))
    two = b.lit(2)
    ddf = b.sub(
        b.div(b.sub(_psi(b, b.div(df1, two)), _psi(b, b.div(df, two))), two),
        b.div(b.add(b.div(b.lit(1), df), b.apply("log1p", b.div(z2, df))), two),
    )
    ddf = b.add(ddf, b.div(b.mul(df1, z2), b.mul(b.mul(two, df), w)))
    dscale = b.div(b.sub(b.div(b.mul(df1, z2), w), b.lit(1)), scale)
    return dx, ddf, b.neg(dx), dscale


def _t_sympy(sp, x, df, loc, s):
    z = _sympy_z(x, loc, s)
    return (
        sp.loggamma((df + 1) / 2)
        - sp.loggamma(df / 2)
        - sp.log(df * sp.pi) / 2
        - sp.log(s)
        - (df + 1) / 2 * sp.log(1 + z**2 / df)
    )


register(
    _row(
        "t",
        "logpdf",
        (("x", REQUIRED), ("df", REQUIRED)) + _LOC_SCALE,
        _t_logpdf,
        _t_sympy,
        ((-2, 2), (1, 5), (-1, 1), (0.5, 2)),
        "smooth everywhere (df > 0, scale > 0)",
    )
)


# --- Poisson ------------------------------------------------------------------------------
def _poisson_logpmf(b: Ops, out, k, mu) -> tuple:
    dk = b.sub(b.log(mu), _psi(b, b.add(k, b.lit(1))))
    return dk, b.sub(b.div(k, mu), b.lit(1))


def _poisson_continuous(k, mu):
    """k log μ − μ − lnΓ(k + 1), which SciPy's logpmf is at integer k (the
    registry test differentiates it at any k)."""
    special = scipy_module("scipy.special")
    return special.xlogy(k, mu) - mu - special.gammaln(k + 1)


register(
    _row(
        "poisson",
        "logpmf",
        (("k", REQUIRED), ("mu", REQUIRED)),
        _poisson_logpmf,
        lambda sp, k, mu: k * sp.log(mu) - mu - sp.loggamma(k + 1),
        ((0, 5), (0.5, 4)),
        "in mu: k/mu − 1 (nan at mu = 0); in k: the derivative of the continuous "
        "extension k·log mu − mu − lnΓ(k+1), log mu − ψ(k+1), as JAX's (SciPy's "
        "value is −inf off the integers)",
        evaluate=_poisson_continuous,
    )
)


# --- gamma and beta -------------------------------------------------------------------------
def _gamma_logpdf(b: Ops, out, x, a, loc, scale) -> tuple:
    z = _z(b, x, loc, scale)
    dx = b.div(b.sub(b.div(b.sub(a, b.lit(1)), z), b.lit(1)), scale)
    da = b.sub(b.log(z), _psi(b, a))
    return dx, da, b.neg(dx), b.div(b.sub(z, a), scale)


def _beta_logpdf(b: Ops, out, x, a, bb, loc, scale) -> tuple:
    z = _z(b, x, loc, scale)
    one = b.lit(1)
    q = b.sub(
        b.div(b.sub(a, one), z),
        b.div(b.sub(bb, one), b.sub(one, z)),
    )
    both = _psi(b, b.add(a, bb))
    da = b.add(b.sub(b.log(z), _psi(b, a)), both)
    db = b.add(b.sub(b.apply("log1p", b.neg(z)), _psi(b, bb)), both)
    dx = b.div(q, scale)
    dscale = b.neg(b.div(b.add(b.mul(z, q), one), scale))
    return dx, da, db, b.neg(dx), dscale


_EDGE = (
    "smooth inside the support; at its edge and outside (where SciPy gives "
    "−inf) the formulas' values (inf or nan), not a one-sided limit"
)

register(
    _row(
        "gamma",
        "logpdf",
        (("x", REQUIRED), ("a", REQUIRED)) + _LOC_SCALE,
        _gamma_logpdf,
        lambda sp, x, a, loc, s: (a - 1) * sp.log(_sympy_z(x, loc, s))
        - _sympy_z(x, loc, s)
        - sp.loggamma(a)
        - sp.log(s),
        ((2.5, 4), (0.5, 3), (0, 1), (0.5, 2)),
        "x > loc: " + _EDGE,
    ),
    _row(
        "beta",
        "logpdf",
        (("x", REQUIRED), ("a", REQUIRED), ("b", REQUIRED)) + _LOC_SCALE,
        _beta_logpdf,
        lambda sp, x, a, bb, loc, s: (a - 1) * sp.log(_sympy_z(x, loc, s))
        + (bb - 1) * sp.log(1 - _sympy_z(x, loc, s))
        - sp.loggamma(a)
        - sp.loggamma(bb)
        + sp.loggamma(a + bb)
        - sp.log(s),
        ((0.3, 0.5), (0.5, 3), (0.5, 3), (0, 0.1), (1, 1.5)),
        "loc < x < loc + scale: " + _EDGE,
    ),
)


# --- log-CDFs of t, Poisson, gamma and beta ---------------------------------------------
# In the point (and loc, scale) the slope of log F is f/F, computed as
# exp(logpdf − logcdf): no F underflowing to 0 in the left tail.  In a shape
# parameter (t's df, gamma's a, beta's a and b) the derivative of the
# regularized incomplete beta/gamma function has no closed form: those inputs
# are ``underivable`` (a located error when active, fine when constant).
def _logcdf_partials(density: str, shapes: int):
    """The partials of ``<dist>.logcdf(x, *shapes, loc, scale)``: ∂x = f/F,
    ∂loc = −∂x, ∂scale = −z ∂x, None (underivable) in each shape parameter."""

    def partials(b: Ops, out, x, *rest) -> tuple:
        loc, scale = rest[-2:]
        ratio = b.exp(b.sub(b.apply(density, x, *rest), out))
        dscale = b.neg(b.mul(_z(b, x, loc, scale), ratio))
        return (ratio,) + (None,) * shapes + (b.neg(ratio), dscale)

    return partials


def _poisson_logcdf(b: Ops, out, k, mu) -> tuple:
    # P(K ≤ k) = Q(⌊k⌋ + 1, μ); ∂μ Q(n + 1, μ) = −μⁿ e^−μ / n! = −pmf(⌊k⌋)
    pmf_over_cdf = b.exp(b.sub(b.apply("poisson_logpmf", b.apply("floor", k), mu), out))
    return None, b.neg(pmf_over_cdf)


_CDF = (
    "smooth in x, loc and scale where the CDF is positive (the slope f/F as "
    "exp(logpdf − logcdf), finite far in the left tail); "
)


def _shape_note(*names: str) -> str:
    listed = " and ".join(f"`{n}`" for n in names)
    many = "s" if len(names) > 1 else ""
    return (
        f"no derivative in the shape parameter{many} {listed} (no closed form): "
        "differentiating with respect to one is a located error; as a constant "
        "or undifferentiated argument it is fine"
    )


register(
    _row(
        "t",
        "logcdf",
        (("x", REQUIRED), ("df", REQUIRED)) + _LOC_SCALE,
        _logcdf_partials("t_logpdf", 1),
        lambda sp, x, df, loc, s: sp.log(
            sp.betainc_regularized(
                df / 2, sp.S.Half, 0, df / (df + _sympy_z(x, loc, s) ** 2)
            )
            / 2
        ),
        ((-3, -1), (1, 5), (-0.5, 0.5), (0.5, 2)),
        _CDF + _shape_note("df"),
        underivable=((1, "df"),),
    ),
    _row(
        "poisson",
        "logcdf",
        (("k", REQUIRED), ("mu", REQUIRED)),
        _poisson_logcdf,
        lambda sp, k, mu: sp.log(
            sp.uppergamma(sp.floor(k) + 1, mu) / sp.gamma(sp.floor(k) + 1)
        ),
        ((0, 5), (0.5, 4)),
        "in k: zero (a step function of k, constant between the integers); in mu: "
        "−pmf(⌊k⌋; mu)/cdf(k; mu), computed as −exp(logpmf − logcdf)",
    ),
    _row(
        "gamma",
        "logcdf",
        (("x", REQUIRED), ("a", REQUIRED)) + _LOC_SCALE,
        _logcdf_partials("gamma_logpdf", 1),
        lambda sp, x, a, loc, s: sp.log(
            sp.lowergamma(a, _sympy_z(x, loc, s)) / sp.gamma(a)
        ),
        ((1.5, 4), (0.5, 3), (0, 1), (0.5, 2)),
        "x > loc: " + _CDF + _shape_note("a"),
        underivable=((1, "a"),),
    ),
    _row(
        "beta",
        "logcdf",
        (("x", REQUIRED), ("a", REQUIRED), ("b", REQUIRED)) + _LOC_SCALE,
        _logcdf_partials("beta_logpdf", 2),
        lambda sp, x, a, bb, loc, s: sp.log(
            sp.betainc_regularized(a, bb, 0, _sympy_z(x, loc, s))
        ),
        ((0.3, 0.5), (0.5, 3), (0.5, 3), (0, 0.1), (1, 1.5)),
        "loc < x < loc + scale: " + _CDF + _shape_note("a", "b"),
        underivable=((1, "a"), (2, "b")),
    ),
)
