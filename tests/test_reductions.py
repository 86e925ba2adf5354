"""Reductions, scans and stable log-sum-exp (ad_compiler/primitives/reductions.py).

Each function is differentiated in both modes and checked against central
differences at random points away from ties and zeros; the spellings (methods,
``from numpy.linalg import norm``, ``import scipy.special as sp`` ...) reach
the same rows; a Hessian of a composite matches differences of its gradient;
vector mode (jacfwd, jacrev) matches a loop of single directions; the
conventions at non-smooth points (ties of max/min/ptp, zeros of cumprod, the
norms at 0) are checked against their statement and, where JAX is installed,
against JAX.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.linalg as la
import pytest
import scipy.special
import scipy.special as sp
from numpy.linalg import norm
from scipy.special import log_softmax, logsumexp, softmax

from ad_compiler import CompileError, grad, hessian, jacfwd, jacrev, jvp
from ad_compiler.primitives.table import PRIMITIVES

ROOT = Path(__file__).resolve().parent.parent


# --- the functions, one or two rows each, reduced to a number -----------------------------
def std_axis(x):
    return np.sum(np.std(x, axis=0, ddof=1) ** 2) + np.sum(x.std(1))


def var_all(x):
    return (
        np.var(x)
        + x.var(axis=1, keepdims=True).sum()
        + np.var(x, 0, ddof=1)[0]
        + x.std(ddof=1)
    )


def average_plain(x):
    return np.average(x) + np.sum(np.average(x, axis=1) ** 2)


def average_weights(x):
    w = x * x
    return np.sum(np.average(x, axis=0, weights=w) ** 2) + np.average(x, weights=w)


def average_1d(x):
    return np.sum(np.average(x, axis=1, weights=x[0], keepdims=True) ** 3)


def cumsum_both(x):
    return np.sum(np.cumsum(x, axis=1) ** 2) + np.sum(x.cumsum() ** 3)


def cumprod_both(x):
    return np.sum(np.cumprod(x, axis=0) ** 2) + np.sum(np.sin(x.cumprod()))


def diff_n(x):
    return np.sum(np.diff(x) ** 2) + np.sum(np.diff(x, 2, axis=0) ** 3)


def ptp_axis(x):
    return np.ptp(x) + np.sum(np.ptp(x, axis=0) ** 2)


def trace_both(x):
    return np.trace(x) ** 2 + x.trace(1) + np.trace(x, offset=-1)


def norms(x):
    return (
        np.linalg.norm(x)
        + np.sum(la.norm(x, axis=1) ** 2)
        + norm(x, "fro")
        + np.sum(norm(x, 1, axis=0))
        + np.sum(norm(x, np.inf, axis=1, keepdims=True))
        + np.sum(norm(x, -np.inf, axis=0))
        + norm(x[0], 2)
    )


def lse(x):
    return (
        logsumexp(x)
        + np.sum(scipy.special.logsumexp(x, axis=1) ** 2)
        + np.sum(sp.logsumexp(x, axis=0, b=x * x, keepdims=True))
    )


def softmaxes(x):
    return (
        np.sum(softmax(x, axis=1) * np.cos(x))
        + np.sum(sp.log_softmax(x, axis=0) ** 2)
        + np.sum(scipy.special.softmax(x) ** 2)
        + np.sum(log_softmax(x))
    )


FUNCTIONS = [
    std_axis,
    var_all,
    average_plain,
    average_weights,
    average_1d,
    cumsum_both,
    cumprod_both,
    diff_n,
    ptp_axis,
    trace_both,
    norms,
    lse,
    softmaxes,
]


def point(seed=0, shape=(3, 4)):
    """A random point away from ties and zeros."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def differences(f, x, h=1e-6):
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


def positive(f):
    """average's weights x*x and logsumexp's b = x*x are positive anywhere."""
    return f in (cumprod_both,)


@pytest.mark.fast_sample(every=8)
@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_both_modes_match_central_differences(f):
    x = point(len(f.__name__), (4, 4) if f is trace_both else (3, 4))
    g = grad(f)(x)
    np.testing.assert_allclose(g, differences(f, x), rtol=1e-5, atol=1e-6)
    t = point(1, x.shape)
    value, tangent = jvp(f, (x,), (t,))
    assert value == pytest.approx(f(x), rel=1e-12)
    assert tangent == pytest.approx(np.sum(g * t), rel=1e-9, abs=1e-12)


def test_the_emitted_code_calls_the_function_the_user_called():
    source = grad(std_axis)(point()) is not None and grad(std_axis).source
    assert "np.std(x, axis=0, ddof=1)" in source
    assert "import scipy" not in source  # numpy code stays numpy-only
    source = grad(lse).source
    assert "scipy.special.logsumexp(x, axis=0, b=" in source
    assert "import scipy.special" in source
    # norm(x[0], 2) needs the rank (vector or matrix norm): .source is that of a
    # call (this test used to pass only after another test had called grad(norms))
    grad(norms)(point())
    source = grad(norms).source
    assert "np.linalg.norm(x, np.inf, axis=1, keepdims=True)" in source


def test_each_row_is_reached_by_its_spellings():
    """Methods, `from numpy.linalg import norm`, `import numpy.linalg as la`,
    `from scipy.special import ...` and `import scipy.special as sp` all lower
    to the rows (each function above uses several; here, which rows appear)."""
    from ad_compiler import trace
    from ad_compiler.ir.nodes import iter_eqns

    seen = set()
    for f in FUNCTIONS:
        seen |= {e.prim for e in iter_eqns(trace(f).body)}
    mine = {
        "var",
        "std",
        "average",
        "cumsum",
        "cumprod",
        "diff",
        "ptp",
        "trace",
        "norm",
        "logsumexp",
        "softmax",
        "log_softmax",
    }
    assert mine <= seen
    assert all(PRIMITIVES[p].convention for p in mine | {"amax", "amin"})


# --- second order ---------------------------------------------------------------------
def composite(x):
    """A bit of everything, smooth at the test point."""
    return (
        np.std(x, axis=0) @ np.cumsum(x, axis=0)[-1]
        + logsumexp(x, axis=1) @ np.linalg.norm(x, axis=1)
        + np.sum(softmax(x, axis=0) * np.diff(x, axis=0, n=1).sum())
        + np.trace(x[:, :3]) * np.average(x, weights=x * x)
        + np.sum(np.cumprod(x, axis=1) ** 2)
    )


def composite_more(x):
    """The other rows (norm 1 and inf, ptp: second derivative 0 but the chain
    rule through them is not)."""
    return (
        np.var(x, axis=0, ddof=1) @ np.exp(log_softmax(x, axis=0)[0])
        + logsumexp(x, b=x * x) * np.ptp(x)
        + np.sum(np.linalg.norm(np.sin(x), 1, axis=1) ** 2)
        + np.linalg.norm(x[0] * x[1], np.inf) * x.std()
    )


@pytest.mark.parametrize(
    "f",
    [composite, pytest.param(composite_more, marks=pytest.mark.slow)],
    ids=lambda f: f.__name__,
)
def test_hessian_of_a_composite_matches_differences_of_its_gradient(f):
    x = point(3, (3, 4))
    H = hessian(f)(x)
    g = grad(f)
    h = 1e-5
    expected = np.zeros(x.shape + x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        expected[(...,) + i] = (g(x + e) - g(x - e)) / (2 * h)
    np.testing.assert_allclose(H, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, np.swapaxes(np.swapaxes(H, 0, 2), 1, 3), atol=1e-9)


def vector_valued(x):
    return np.concatenate(
        [
            np.std(x, axis=1),
            np.cumprod(x, axis=1)[:, -1],
            np.diff(x, axis=1)[:, 0],
            logsumexp(x, axis=1, b=x * x),
            np.linalg.norm(x, 1, axis=1),
            softmax(x, axis=1)[:, 0],
            log_softmax(x)[0],
            np.cumsum(x)[:3],
            np.average(x, axis=1, weights=x[0]),
            np.trace(x[:, :3], offset=1) * x[0, :1],
            np.ptp(x, axis=1, keepdims=True)[:, 0],
        ]
    )


def test_vector_mode_matches_a_loop_of_single_directions():
    x = point(5, (3, 4))
    J_fwd = jacfwd(vector_valued)(x)
    J_rev = jacrev(vector_valued)(x)
    n = len(vector_valued(x))
    loop = np.zeros((n,) + x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1.0
        loop[(...,) + i] = jvp(vector_valued, (x,), (e,))[1]
    np.testing.assert_allclose(J_fwd, loop, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(J_rev, loop, rtol=1e-10, atol=1e-12)


# --- the conventions at non-smooth points -----------------------------------------------
def np_max(x):
    return np.max(x)


def np_min_axis(x):
    return np.sum(np.min(x, axis=0))


def np_ptp(x):
    return np.ptp(x)


def cumprod_sum(x):
    return np.sum(np.cumprod(x))


def cumprod_weighted(x):
    return np.sum(np.cumprod(x) * np.arange(1.0, 6.0))


def test_ties_share_the_derivative_equally():
    assert list(grad(np_max)(np.array([1.0, 3.0, 3.0, 2.0]))) == [0, 0.5, 0.5, 0]
    ties = np.array([[1.0, 2.0], [1.0, 0.0], [1.0, 2.0]])
    np.testing.assert_allclose(
        grad(np_min_axis)(ties), [[1 / 3, 0], [1 / 3, 1], [1 / 3, 0]]
    )
    assert list(grad(np_ptp)(np.array([1.0, 3.0, 3.0, 1.0]))) == [
        -0.5,
        0.5,
        0.5,
        -0.5,
    ]
    assert "ties share" in PRIMITIVES["amax"].convention


def test_cumprod_has_the_exact_adjoint_at_zeros():
    """∂/∂x_i Σ_j w_j Π_{k≤j} x_k without dividing by a zero: at one zero, two
    zeros, a zero first and last (the products of the others, by hand)."""

    def exact(x, w):
        out = np.zeros_like(x)
        for i in range(len(x)):
            for j in range(i, len(x)):
                out[i] += w[j] * np.prod(np.delete(x[: j + 1], i))
        return out

    w = np.arange(1.0, 6.0)
    for x in (
        [2.0, 0.0, 3.0, 0.0, 5.0],
        [2.0, 0.5, 0.0, 3.0, 1.5],
        [0.0, 1.5, 2.0, 3.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [1.5, -2.0, 0.5, 3.0, 1.0],
    ):
        x = np.array(x)
        np.testing.assert_allclose(grad(cumprod_weighted)(x), exact(x, w), atol=1e-14)
        t = np.linspace(-1.0, 1.0, 5)
        _, tangent = jvp(cumprod_weighted, (x,), (t,))
        assert tangent == pytest.approx(exact(x, w) @ t, abs=1e-12)
    # JAX's gradient here (jax.grad(lambda x: jnp.sum(jnp.cumprod(x))))
    assert list(grad(cumprod_sum)(np.array([2.0, 0.0, 3.0, 0.0, 5.0]))) == [
        1.0,
        8.0,
        0.0,
        0.0,
        0.0,
    ]


def test_cumprod_hessian_is_exact_at_one_zero():
    """H_im = Σ_{j≥max(i,m)} w_j Π_{k≤j, k∉{i,m}} x_k (i ≠ m), 0 on the diagonal:
    at a zero the value of the adjoint's i > z entries is 0, but not their
    derivative in x_z."""

    def exact(x, w):
        n = len(x)
        H = np.zeros((n, n))
        for i in range(n):
            for m in range(n):
                if i != m:
                    for j in range(max(i, m), n):
                        H[i, m] += w[j] * np.prod(np.delete(x[: j + 1], [i, m]))
        return H

    w = np.arange(1.0, 6.0)
    for x in ([2.0, 0.5, 0.0, 3.0, 1.5], [0.0, 1.5, 2.0, -3.0, 0.5], [1.5, 2, 3, 4, 5]):
        x = np.array(x)
        np.testing.assert_allclose(
            hessian(cumprod_weighted)(x), exact(x, w), rtol=1e-13, atol=1e-13
        )


def norm_two(x):
    return np.linalg.norm(x)


def norm_one(x):
    return np.linalg.norm(x, 1)


def norm_inf(x):
    return np.linalg.norm(x, np.inf)


def std_all(x):
    return np.std(x)


def test_the_conventions_at_zero_are_jaxs():
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(grad(norm_two)(np.zeros(3))).all()  # 0/0, as JAX
        assert np.isnan(grad(std_all)(np.ones(3))).all()  # a constant: 0/0
    # the slope of |x| at 0 is +1, at -0.0 too
    assert list(grad(norm_one)(np.array([0.0, -0.0, -2.0]))) == [1, 1, -1]
    assert list(grad(norm_inf)(np.array([0.0, 2.0, -2.0, 1.0]))) == [0, 0.5, -0.5, 0]


# --- what is not supported: located errors naming the alternative -----------------------
def bad_norm(x):
    return np.linalg.norm(x, "nuc")


def bad_lse(x):
    return logsumexp(x, return_sign=True)[0]


def bad_average(x):
    return np.average(x, weights=x, returned=True)[0]


def bad_diff(x):
    return np.sum(np.diff(x, prepend=0.0))


def bad_order(x, p):
    return np.linalg.norm(x, p)


@pytest.mark.parametrize(
    "f,message,hint",
    [
        (bad_norm, "the matrix norm ord='nuc'", "matrix 'fro'"),
        (bad_lse, "`return_sign=` of `logsumexp` is not supported", "positive"),
        (bad_average, "`returned=` of `np.average` is not supported", "np.sum(w)"),
        (bad_diff, "keyword argument `prepend` to `np.diff`", None),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_an_unsupported_form_is_a_located_error(f, message, hint):
    with pytest.raises(CompileError, match=None) as error:
        grad(f)(point(0, (3, 3)))
    assert message in str(error.value)
    assert hint is None or hint in (error.value.hint or "")
    assert error.value.loc is not None and error.value.loc.file.endswith(__file__[-20:])
    with pytest.raises(CompileError, match="ord` of `np.linalg.norm` must be"):
        grad(bad_order)(point(0, (3,)), 2.0)


# --- the CLI reads the file as text ------------------------------------------------------
@pytest.mark.slow
def test_adc_compile_writes_the_rows_without_importing(tmp_path):
    path = tmp_path / "red.py"
    path.write_text(
        "import numpy as np\nfrom scipy.special import logsumexp\n\n"
        "def f(x):\n    return np.std(x, axis=0) @ np.cumsum(x, axis=0)[-1]"
        " + np.sum(logsumexp(x, axis=1))\n\nraise SystemExit('imported!')\n"
    )
    out = tmp_path / "red_grad.py"
    done = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(path)]
        + ["--shape", "x=n,m", "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    namespace = {}
    exec(out.read_text(), namespace)
    x = point(2, (3, 4))
    f = lambda x: np.std(x, axis=0) @ np.cumsum(x, axis=0)[-1] + np.sum(  # noqa
        scipy.special.logsumexp(x, axis=1)
    )
    np.testing.assert_allclose(namespace["f_grad"](x), differences(f, x), rtol=1e-6)


# --- JAX as an outside oracle --------------------------------------------------------------
def _jax_versions(jax, jnp, jsp):
    return {
        std_axis: lambda x: jnp.sum(jnp.std(x, axis=0, ddof=1) ** 2)
        + jnp.sum(x.std(1)),
        var_all: lambda x: jnp.var(x)
        + x.var(axis=1, keepdims=True).sum()
        + jnp.var(x, 0, ddof=1)[0]
        + x.std(ddof=1),
        average_weights: lambda x: jnp.sum(jnp.average(x, axis=0, weights=x * x) ** 2)
        + jnp.average(x, weights=x * x),
        cumsum_both: lambda x: jnp.sum(jnp.cumsum(x, axis=1) ** 2)
        + jnp.sum(x.cumsum() ** 3),
        cumprod_both: lambda x: jnp.sum(jnp.cumprod(x, axis=0) ** 2)
        + jnp.sum(jnp.sin(x.cumprod())),
        diff_n: lambda x: jnp.sum(jnp.diff(x) ** 2)
        + jnp.sum(jnp.diff(x, 2, axis=0) ** 3),
        ptp_axis: lambda x: jnp.ptp(x) + jnp.sum(jnp.ptp(x, axis=0) ** 2),
        norms: lambda x: jnp.linalg.norm(x)
        + jnp.sum(jnp.linalg.norm(x, axis=1) ** 2)
        + jnp.linalg.norm(x, "fro")
        + jnp.sum(jnp.linalg.norm(x, 1, axis=0))
        + jnp.sum(jnp.linalg.norm(x, jnp.inf, axis=1, keepdims=True))
        + jnp.sum(jnp.linalg.norm(x, -jnp.inf, axis=0))
        + jnp.linalg.norm(x[0], 2),
        lse: lambda x: jsp.logsumexp(x)
        + jnp.sum(jsp.logsumexp(x, axis=1) ** 2)
        + jnp.sum(jsp.logsumexp(x, axis=0, b=x * x, keepdims=True)),
        average_plain: lambda x: jnp.average(x) + jnp.sum(jnp.average(x, axis=1) ** 2),
        average_1d: lambda x: jnp.sum(
            jnp.average(x, axis=1, weights=x[0], keepdims=True) ** 3
        ),
        trace_both: lambda x: jnp.trace(x) ** 2 + x.trace(1) + jnp.trace(x, offset=-1),
        softmaxes: lambda x: jnp.sum(jax.nn.softmax(x, axis=1) * jnp.cos(x))
        + jnp.sum(jax.nn.log_softmax(x, axis=0) ** 2)
        + jnp.sum(jax.nn.softmax(x, axis=(0, 1)) ** 2)
        + jnp.sum(jax.nn.log_softmax(x, axis=(0, 1))),
        np_max: jnp.max,
        np_min_axis: lambda x: jnp.sum(jnp.min(x, axis=0)),
        np_ptp: jnp.ptp,
        cumprod_sum: lambda x: jnp.sum(jnp.cumprod(x)),
        norm_one: lambda x: jnp.linalg.norm(x, 1),
    }


def test_gradients_match_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.special as jsp

    ties = {
        np_max: np.array([1.0, 3.0, 3.0, 2.0]),
        np_min_axis: np.array([[1.0, 2.0], [1.0, 0.0], [1.0, 2.0]]),
        np_ptp: np.array([1.0, 3.0, 3.0, 1.0]),
        cumprod_sum: np.array([2.0, 0.0, 3.0, 0.0, 5.0]),
        norm_one: np.array([0.0, -0.0, -2.0]),
    }
    # np.argmax picks the first of tied maxima, as jnp.argmax does (no derivative)
    tied = np.array([1.0, 3.0, 3.0, 2.0])
    assert np.argmax(tied) == int(jnp.argmax(tied)) == 1
    assert np.argmin(-tied) == int(jnp.argmin(-tied)) == 1
    for f, oracle in _jax_versions(jax, jnp, jsp).items():
        x = ties.get(f, point(7, (4, 4) if f is trace_both else (3, 4)))
        want = np.asarray(jax.grad(oracle)(jnp.asarray(x)))
        np.testing.assert_allclose(grad(f)(x), want, rtol=1e-10, atol=1e-12)


def test_hessians_match_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.special as jsp

    def composite_jax(x):
        return (
            jnp.std(x, axis=0) @ jnp.cumsum(x, axis=0)[-1]
            + jsp.logsumexp(x, axis=1) @ jnp.linalg.norm(x, axis=1)
            + jnp.sum(jax.nn.softmax(x, axis=0) * jnp.diff(x, axis=0, n=1).sum())
            + jnp.trace(x[:, :3]) * jnp.average(x, weights=x * x)
            + jnp.sum(jnp.cumprod(x, axis=1) ** 2)
        )

    def composite_more_jax(x):
        return (
            jnp.var(x, axis=0, ddof=1) @ jnp.exp(jax.nn.log_softmax(x, axis=0)[0])
            + jsp.logsumexp(x, b=x * x) * jnp.ptp(x)
            + jnp.sum(jnp.linalg.norm(jnp.sin(x), 1, axis=1) ** 2)
            + jnp.linalg.norm(x[0] * x[1], jnp.inf) * x.std()
        )

    x = point(3, (3, 4))
    for f, oracle in ((composite, composite_jax), (composite_more, composite_more_jax)):
        want = np.asarray(jax.hessian(oracle)(jnp.asarray(x)))
        np.testing.assert_allclose(hessian(f)(x), want, rtol=1e-9, atol=1e-11)


def test_argmax_and_argmin_are_positions_without_a_derivative():
    """np.argmax/np.argmin (and the methods) give ints: the value read at the
    position is differentiated, the position is not (ties: the first)."""

    def f(X):
        rows = np.argmax(X, axis=1)
        j = X.argmin()
        picked = np.take_along_axis(X, rows[:, None], axis=1)
        return np.sum(picked**2) + 3.0 * X.ravel()[j] + np.argmax(X[0])

    X = np.array([[0.1, 0.5, 0.2], [0.7, -0.3, 0.7]])  # a tie in row 1: the first
    expected = np.array([[0.0, 1.0, 0.0], [1.4, 3.0, 0.0]])
    np.testing.assert_allclose(grad(f)(X), expected, rtol=1e-12)
    y, y_dot = jvp(f, (X,), (np.ones_like(X),))
    assert y == pytest.approx(f(X)) and y_dot == pytest.approx(expected.sum())
    H = np.asarray(hessian(f)(X)).reshape(6, 6)
    np.testing.assert_allclose(H, np.diag([0, 2, 0, 2, 0, 0]), atol=1e-12)
