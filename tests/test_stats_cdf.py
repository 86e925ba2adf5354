"""scipy.stats log-CDFs of t, Poisson, gamma and beta: the point, loc, scale
and Poisson's mu differentiated in both modes and to second order; the shape
parameters (df, a, b) refused with a located error when differentiated, fine
when constant; JAX as an outside oracle where it is installed.
"""

import numpy as np
import pytest

from ad_compiler import CompileError, grad, hessian, jvp

stats = pytest.importorskip("scipy.stats")

from test_stats import _central, _load  # noqa: E402  (module loading; differences)

SOURCE = """
import numpy as np
import scipy.stats as st
from scipy.stats import t, gamma

DF = 3.5


def t_logcdf(x, mu, s):
    return np.sum(t.logcdf(x, DF, loc=mu, scale=s))


def poisson_logcdf(k, mu):
    return np.sum(st.poisson.logcdf(k, mu))


def gamma_logcdf(x, mu, s):
    return np.sum(gamma.logcdf(x, 2.5, mu, s))


def beta_logcdf(x, mu, s):
    return np.sum(st.beta.logcdf(x, 0.8, b=1.7, loc=mu, scale=s))


def t_df(x, df):
    return np.sum(st.t.logcdf(x, df))


def composite(theta):
    mu, log_s = theta[0], theta[1]
    s = np.exp(log_s)
    x = np.array([0.3, 1.1, 2.4])
    return (
        np.sum(t.logcdf(x, 4.0, mu, s))
        + np.sum(gamma.logcdf(x + 1.0, 1.5, scale=s))
        + np.sum(st.poisson.logcdf(np.array([1.0, 3.0]), s + mu * mu))
        + np.sum(st.beta.logcdf(0.4 + 0.1 * x, 2.0, 3.0, scale=1.0 + s))
    )
"""

# function -> the points drawn for each input: (low, high, shape)
POINTS = {
    "t_logcdf": ((-6, 2, (4,)), (-1, 1, ()), (0.5, 2, ())),
    "poisson_logcdf": ((0, 6, (4,)), (0.5, 4, (4,))),
    "gamma_logcdf": ((1.5, 4, (4,)), (0, 1, ()), (0.5, 2, ())),
    "beta_logcdf": ((0.15, 0.9, (4,)), (0, 0.1, ()), (1, 1.5, ())),
}
DIFFERENTIATED = {"poisson_logcdf": (1,)}  # (the count: a step, tested apart)


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    return _load(tmp_path_factory.mktemp("stats_cdf") / "cdfs.py", SOURCE)


def _draw(name, seed=0):
    rng = np.random.default_rng(seed)
    args = [rng.uniform(lo, hi, size=shape) for lo, hi, shape in POINTS[name]]
    if name == "poisson_logcdf":
        args[0] = np.floor(args[0])
    return [a if np.ndim(a) else float(a) for a in args]


@pytest.mark.parametrize("name", sorted(POINTS))
def test_grad_and_jvp_match_central_differences(module, name):
    f = getattr(module, name)
    args = _draw(name)
    for i in DIFFERENTIATED.get(name, range(len(args))):
        want = _central(f, args, i)
        got = grad(f, argnums=i)(*args)
        assert np.allclose(got, want, rtol=1e-6, atol=1e-6), (name, i)
        direction = np.random.default_rng(i).uniform(-1, 1, size=np.shape(args[i]))
        tangents = [np.zeros_like(np.asarray(a)) for a in args]
        tangents[i] = direction if np.ndim(args[i]) else float(direction)
        _, dout = jvp(f, args, tangents)
        assert np.isclose(dout, np.sum(want * direction), rtol=1e-6, atol=1e-6)


def test_the_values_are_scipys(module):
    x, mu, s = np.array([0.1, -1.2, 2.0]), 0.3, 1.7
    want = np.sum(stats.t.logcdf(x, 3.5, mu, s))
    assert module.t_logcdf(x, mu, s) == pytest.approx(want)


def test_the_slope_is_finite_far_in_the_left_tail(module):
    """f/F as exp(logpdf − logcdf): at x = −1e4 the t slope is ≈ (df)/|x|."""
    g = grad(module.t_logcdf, argnums=0)(np.array([-1e4]), 0.0, 1.0)
    assert np.isfinite(g).all() and g[0] == pytest.approx(3.5e-4, rel=1e-3)
    g = grad(module.gamma_logcdf, argnums=0)(np.array([1e-8]), 0.0, 1.0)
    assert g[0] == pytest.approx(2.5e8, rel=1e-6)  # a/x near 0 (a = 2.5)


def test_poisson_has_no_derivative_in_the_count(module):
    k, mu = np.array([0.0, 2.0, 5.0]), np.array([0.7, 1.5, 3.0])
    assert np.all(grad(module.poisson_logcdf, argnums=0)(k, mu) == 0.0)


def test_the_hessian_of_a_composite_matches_differences_of_its_gradient(module):
    theta = np.array([0.4, 0.2])
    g = grad(module.composite)
    h = hessian(module.composite)(theta)
    fd = np.array([_central(lambda t: g(t)[j], [theta], 0, 1e-5) for j in range(2)])
    assert np.allclose(h, h.T, atol=1e-10)
    assert np.allclose(h, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "call,name",
    [
        ("st.t.logcdf(x, p)", "df"),
        ("st.gamma.logcdf(x, a=p)", "a"),
        ("st.beta.logcdf(x, 2.0, p * 2.0)", "b"),
    ],
)
def test_differentiating_a_shape_parameter_is_a_located_error(tmp_path, call, name):
    path = tmp_path / "shape.py"
    mod = _load(
        path,
        f"import numpy as np\nimport scipy.stats as st\n\n\ndef f(x, p):\n"
        f"    return np.sum({call})\n",
    )
    x = np.array([0.2, 0.5])
    for differentiate in (
        grad(mod.f, argnums=1),
        lambda x, p: jvp(mod.f, (x, p), (0 * x, 1.0)),
        hessian(mod.f, argnums=1),  # (vector mode over the reverse sweep)
    ):
        with pytest.raises(CompileError) as info:
            differentiate(x, 2.0)
        assert f"no derivative rule in its parameter `{name}`" in info.value.message
        assert "as a constant" in info.value.hint
        assert info.value.loc.file == str(path) and info.value.loc.line == 6
    # not differentiated with respect to it: fine
    assert np.isfinite(grad(mod.f, argnums=0)(x, 2.0)).all()


def test_the_emitted_code_runs_alone(module):
    compiled = grad(module.t_logcdf, argnums=(0, 2))
    source = compiled.source
    assert "scipy.stats.t.logcdf(" in source and "scipy.stats.t.logpdf(" in source
    namespace: dict = {}
    exec(source, namespace)
    args = _draw("t_logcdf", 3)
    ours = namespace["t_logcdf_grad"](*args)
    for mine, theirs in zip(ours, compiled(*args), strict=True):
        assert np.allclose(mine, theirs, rtol=1e-14)


def test_jax_agrees_where_installed(module):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jstats = pytest.importorskip("jax.scipy.stats")
    jnp = jax.numpy

    def logcdf(dist):
        """JAX's logcdf of ``dist``, or the log of its cdf; None: neither."""
        module = getattr(jstats, dist)
        if hasattr(module, "logcdf"):
            return module.logcdf
        if hasattr(module, "cdf"):
            return lambda *a: jnp.log(module.cdf(*a))
        return None

    twins = {}
    if logcdf("t"):
        twins["t_logcdf"] = lambda x, m, s: jnp.sum(logcdf("t")(x, 3.5, m, s))
    if logcdf("poisson"):
        twins["poisson_logcdf"] = lambda k, m: jnp.sum(logcdf("poisson")(k, m))
    twins["gamma_logcdf"] = lambda x, m, s: jnp.sum(jstats.gamma.logcdf(x, 2.5, m, s))
    twins["beta_logcdf"] = lambda x, m, s: jnp.sum(
        jstats.beta.logcdf(x, 0.8, 1.7, m, s)
    )
    for name, twin in twins.items():
        args = _draw(name, 5)
        for i in DIFFERENTIATED.get(name, range(len(args))):
            want = jax.grad(twin, argnums=i)(*args)
            got = grad(getattr(module, name), argnums=i)(*args)
            assert np.allclose(got, want, rtol=1e-8, atol=1e-10), (name, i)
