"""``scipy.stats.multivariate_normal.logpdf(x, mean, cov)``, with the point,
the mean and the covariance differentiated.

With d = x − mean, α = cov⁻¹ d and n the dimension,

    logpdf = −½ dᵀα − ½ log det cov − (n/2) log 2π

and its differential, in the standard matrix-calculus form (a solve rather
than an inverse applied to d; cov symmetric positive definite, as SciPy
requires)::

    d logpdf = −αᵀ dx + αᵀ dmean + ½ (αᵀ dcov α − tr(cov⁻¹ dcov))

so x̄ = −ḡ α, mean̄ = ḡ α, cov̄ = ½ ḡ (α αᵀ − cov⁻¹) (cov⁻ᵀ = cov⁻¹).  The rules
are written with three rows of their own, each with rules in turn (second
derivatives follow), spelled with NumPy only:

* ``mvn_solve(A, b)`` = ``np.linalg.solve(A, b)``: d(A⁻¹b) = A⁻¹(db − dA·A⁻¹b),
  b̄ = A⁻ᵀḡ, Ā = −b̄ (A⁻¹b)ᵀ;
* ``mvn_inv(A)`` = ``np.linalg.inv(A)``: d(A⁻¹) = −A⁻¹ dA A⁻¹, Ā = −A⁻ᵀ ḡ A⁻ᵀ;
* ``mvn_logdet(A)`` = ``np.linalg.slogdet(A)[1]``: d log|det A| = tr(A⁻¹ dA),
  Ā = ḡ A⁻ᵀ.

(The numpy.linalg rows of issue 17 live in their own module; these three are
not reachable from user code by a name.)  One point x of shape (n,) per call.
"""

from __future__ import annotations

import math

import numpy

from ad_compiler.errors import CompileError
from ad_compiler.primitives.registry import (
    PREC_ATOM,
    Batching,
    Equation,
    Ops,
    Params,
    Primitive,
    Value,
    register,
    scipy_module,
)
from ad_compiler.primitives.stats import REQUIRED, SIGNATURES


def _t(b: Ops, a: Value) -> Value:
    return b.apply("transpose", a, method=True)  # a.T, of a matrix


def _solve(b: Ops, a: Value, rhs: Value) -> Value | None:
    return None if rhs is None else b.apply("mvn_solve", a, rhs)


def _inv(b: Ops, a: Value) -> Value:
    return b.apply("mvn_inv", a)


# --- A⁻¹ b -----------------------------------------------------------------------------------
def _solve_value(a, rhs, mode=""):
    if mode == "rows":  # a (n, n), each row of rhs a right-hand side
        return numpy.linalg.solve(a, rhs.T).T
    if mode == "stacked":  # a stack of systems, one right-hand side each
        return numpy.linalg.solve(a, rhs[..., None])[..., 0]
    return numpy.linalg.solve(a, rhs)


def _render_solve(p, texts, atoms):
    a, rhs = texts
    mode = p.get("mode", "")
    if mode == "rows":
        return f"np.linalg.solve({a}, {rhs}.T).T", PREC_ATOM
    if mode == "stacked":
        return f"np.linalg.solve({a}, {rhs}[..., None])[..., 0]", PREC_ATOM
    return f"np.linalg.solve({a}, {rhs})", PREC_ATOM


def _solve_jvp(b: Ops, p: Params, out, a, rhs, da, drhs) -> Value:
    t = drhs if da is None else b.sub(drhs, b.apply("matmul", da, out))
    return _solve(b, a, t)


def _solve_vjp(b: Ops, p: Params, out, g, a, rhs) -> tuple:
    rhs_bar = _solve(b, _t(b, a), g)
    return b.neg(b.apply("outer", rhs_bar, out)), rhs_bar


def _solve_batch(bt: Batching, e: Equation, p: Params, a: Value, rhs: Value) -> None:
    if not bt.has(a):  # one matrix, k right-hand sides: rows of rhs
        bt.new("mvn_solve", a, rhs, out=e.out, mode="rows")
        return
    if not bt.has(rhs):
        rhs = bt.materialize(rhs, 1)
    bt.new("mvn_solve", a, rhs, out=e.out, mode="stacked")


# --- A⁻¹ and log |det A| ---------------------------------------------------------------------
def _inv_jvp(b: Ops, p: Params, out, a, da) -> Value:
    return b.neg(b.apply("matmul", b.apply("matmul", out, da), out))


def _inv_vjp(b: Ops, p: Params, out, g, a) -> tuple:
    t = _t(b, out)
    return (b.neg(b.apply("matmul", b.apply("matmul", t, g), t)),)


def _stacked(prim: str):
    """The vector-mode rule of a row NumPy applies to a stack of matrices."""

    def batch(bt: Batching, e: Equation, p: Params, a: Value) -> None:
        bt.new(prim, a, out=e.out)

    return batch


def _logdet_jvp(b: Ops, p: Params, out, a, da) -> Value:
    # tr(A⁻¹ dA) = Σ (A⁻ᵀ ∘ dA)
    return b.apply("sum", b.mul(_t(b, _inv(b, a)), da), axis=None)


def _logdet_vjp(b: Ops, p: Params, out, g, a) -> tuple:
    return (b.mul(g, _t(b, _inv(b, a))),)


def _square(p, s, loc=None):
    return s


def _drop_matrix(p, s, loc=None):
    return None if s is None or isinstance(s, str) else tuple(s[:-2])


register(
    Primitive(
        "mvn_solve",
        2,
        _solve_value,
        shape=lambda p, sa, sb, loc=None: sb,
        render=_render_solve,
        memory="new",
        jvp=_solve_jvp,
        vjp=_solve_vjp,
        batch=_solve_batch,
        samples=((((3, 3), (3,)), {}),),
        convention="smooth where A is invertible (a singular A: NumPy raises)",
    ),
    Primitive(
        "mvn_inv",
        1,
        numpy.linalg.inv,
        np_name="np.linalg.inv",
        shape=_square,
        memory="new",
        jvp=_inv_jvp,
        vjp=_inv_vjp,
        batch=_stacked("mvn_inv"),
        samples=((((3, 3),), {}),),
        convention="smooth where A is invertible (a singular A: NumPy raises)",
    ),
    Primitive(
        "mvn_logdet",
        1,
        lambda a: numpy.linalg.slogdet(a)[1],
        render=lambda p, t, a: (f"np.linalg.slogdet({t[0]})[1]", PREC_ATOM),
        shape=_drop_matrix,
        result="float",
        memory="copy",
        jvp=_logdet_jvp,
        vjp=_logdet_vjp,
        batch=_stacked("mvn_logdet"),
        samples=((((3, 3),), {}),),
        convention="smooth where A is invertible; −inf at a singular A",
    ),
)


# --- the log-density ------------------------------------------------------------------------
_QUALIFIED = "scipy.stats.multivariate_normal.logpdf"
SIGNATURES[_QUALIFIED] = (("x", REQUIRED), ("mean", REQUIRED), ("cov", REQUIRED))


def _mvn_value(x, mean, cov):
    stats = scipy_module("scipy.stats")
    return stats.multivariate_normal.logpdf(x, mean, cov)


def _mvn_shape(p, sx, smean, scov, loc=None):
    ranks = [None if s is None else len(s) for s in (sx, smean, scov)]
    if (
        ranks[0] not in (None, 1)
        or ranks[1] not in (None, 1)
        or ranks[2] not in (None, 2)
    ):
        raise CompileError(
            "`multivariate_normal.logpdf` is supported for one point x of shape "
            "(n,), a mean of shape (n,) and a covariance of shape (n, n)",
            loc,
            hint="call it once per point (a loop or a comprehension summing them)",
        )
    return ()


def _alpha(b: Ops, x, mean, cov) -> Value:
    return b.apply("mvn_solve", cov, b.sub(x, mean))  # α = cov⁻¹ (x − mean)


def _mvn_jvp(b: Ops, p: Params, out, x, mean, cov, dx, dmean, dcov) -> Value:
    alpha = _alpha(b, x, mean, cov)
    total = None
    if dx is not None:
        total = b.neg(b.apply("dot", alpha, dx))
    if dmean is not None:
        total = b.add(total, b.apply("dot", alpha, dmean))
    if dcov is not None:
        quad = b.apply("dot", alpha, b.apply("matmul", dcov, alpha))
        trace = b.apply("sum", b.mul(_inv(b, cov), dcov), axis=None)  # cov⁻ᵀ = cov⁻¹
        total = b.add(total, b.div(b.sub(quad, trace), b.lit(2)))
    return total


def _mvn_vjp(b: Ops, p: Params, out, g, x, mean, cov) -> tuple:
    alpha = _alpha(b, x, mean, cov)
    scaled = b.mul(g, alpha)
    spread = b.sub(b.apply("outer", alpha, alpha), _inv(b, cov))
    return b.neg(scaled), scaled, b.div(b.mul(g, spread), b.lit(2))


def _mvn_batch(bt: Batching, e: Equation, p: Params, x, mean, cov) -> None:
    if not (bt.has(mean) or bt.has(cov)):
        bt.new(e.prim, x, mean, cov, out=e.out, ns=e.ns)  # SciPy takes k points (k, n)
        return
    # SciPy takes one mean and covariance: the formula, on stacks
    d = bt.new(
        "sub",
        x if bt.has(x) else bt.materialize(x, 1),
        mean if bt.has(mean) else bt.materialize(mean, 1),
        ns="py",
    )
    mode = "stacked" if bt.has(cov) else "rows"
    alpha = bt.new("mvn_solve", cov, d, mode=mode)
    quad = bt.new("sum", bt.new("mul", d, alpha, ns="py"), axis=-1)
    n = bt.new("len", bt.template(cov), ns="py")
    constant = bt.new("mul", n, math.log(2 * math.pi), ns="py")
    total = bt.new("add", quad, bt.new("mvn_logdet", cov), ns="py")
    total = bt.new("add", total, constant, ns="py")
    bt.new("div", total, -2.0, out=e.out, ns="py")


_SPD = numpy.array([[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 1.0]])

register(
    Primitive(
        "multivariate_normal_logpdf",
        3,
        _mvn_value,
        names=(_QUALIFIED,),
        scipy_name=_QUALIFIED,
        shape=_mvn_shape,
        result="float",
        memory="copy",
        jvp=_mvn_jvp,
        vjp=_mvn_vjp,
        batch=_mvn_batch,
        # (the covariance must be positive definite: a fixed one, not drawn)
        samples=((((3,), (3,), _SPD), {}),),
        convention="smooth where cov is positive definite (SciPy raises otherwise)",
    ),
)
