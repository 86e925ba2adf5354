"""scipy.stats log-densities: every parameter differentiated, in both modes and
to second order, by every import spelling and by keyword.

Each function is checked against central differences of SciPy's own value
at random points inside the support, with respect to each input (the point,
the shape parameters, loc and scale), as arrays broadcast together; a
Hessian of a composite against differences of its gradient; the emitted
code, run without ad_compiler, against the compiled derivative; and JAX as
an outside oracle where it is installed.
"""

import importlib.util

import numpy as np
import pytest

from ad_compiler import CompileError, grad, hessian, jvp, value_and_grad

stats = pytest.importorskip("scipy.stats")

SOURCE = """
import numpy as np
import scipy.stats
import scipy.stats as st
from scipy.stats import norm


def norm_logpdf(x, mu, s):
    return np.sum(norm.logpdf(x, loc=mu, scale=s))


def norm_logpdf_positional(x, mu, s):
    return np.sum(scipy.stats.norm.logpdf(x, mu, s))


def norm_logcdf(x, mu, s):
    return np.sum(st.norm.logcdf(x, mu, scale=s))


def norm_others(x, mu, s):
    return np.sum(
        norm.pdf(x, mu, s) + st.norm.cdf(x, scale=s, loc=mu) + norm.logsf(x, mu, s)
    )


def t_logpdf(x, df, mu, s):
    return np.sum(st.t.logpdf(x, df, loc=mu, scale=s))


def poisson_logpmf(k, mu):
    return np.sum(st.poisson.logpmf(k, mu))


def gamma_logpdf(x, a, mu, s):
    return np.sum(st.gamma.logpdf(x, a, mu, s))


def beta_logpdf(x, a, b, mu, s):
    return np.sum(st.beta.logpdf(x, a, b, loc=mu, scale=s))


def composite(theta):
    mu, log_s, log_a = theta[0], theta[1], theta[2]
    x = np.array([0.3, 1.1, 2.4])
    s = np.exp(log_s)
    return np.sum(norm.logpdf(x, mu, s)) + np.sum(
        st.gamma.logpdf(x + 1.0, np.exp(log_a), scale=s)
    ) + st.t.logpdf(mu, 4.0 + s)
"""

# function -> the points drawn for each input: (low, high, shape)
POINTS = {
    "norm_logpdf": ((-2, 2, (4,)), (-1, 1, ()), (0.5, 2, ())),
    "norm_logpdf_positional": ((-2, 2, (4,)), (-1, 1, (4,)), (0.5, 2, ())),
    "norm_logcdf": ((-6, 2, (4,)), (-1, 1, ()), (0.5, 2, (4,))),
    "norm_others": ((-2, 2, (4,)), (-1, 1, ()), (0.5, 2, (4,))),
    "t_logpdf": ((-2, 2, (4,)), (1, 5, ()), (-1, 1, ()), (0.5, 2, ())),
    "poisson_logpmf": ((0, 6, (4,)), (0.5, 4, (4,))),
    "gamma_logpdf": ((2.5, 4, (4,)), (0.5, 3, ()), (0, 1, ()), (0.5, 2, ())),
    "beta_logpdf": (
        (0.3, 0.6, (4,)),
        (0.5, 3, ()),
        (0.5, 3, ()),
        (0, 0.1, ()),
        (1, 1.5, ()),
    ),
}


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    return _load(tmp_path_factory.mktemp("stats") / "dists.py", SOURCE)


def _load(path, text):
    """The module of source ``text``, written at ``path`` and imported."""
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _draw(name, seed=0):
    rng = np.random.default_rng(seed)
    args = [rng.uniform(lo, hi, size=shape) for lo, hi, shape in POINTS[name]]
    if name == "poisson_logpmf":  # counts: SciPy's logpmf is -inf off the integers
        args[0] = np.floor(args[0])
    return [a if np.ndim(a) else float(a) for a in args]


def _central(f, args, i, h=1e-6):
    """∂f/∂args[i] by central differences, elementwise."""
    x = np.asarray(args[i], dtype=float)
    out = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        a_up, a_down = list(args), list(args)
        a_up[i], a_down[i] = up if x.ndim else float(up), (
            down if x.ndim else float(down)
        )
        out[j] = (f(*a_up) - f(*a_down)) / (2 * h)
    return out


@pytest.mark.parametrize("name", sorted(POINTS))
@pytest.mark.fast_sample(every=4)
def test_grad_and_jvp_of_each_parameter_match_central_differences(module, name):
    f = getattr(module, name)
    args = _draw(name)
    for i in range(len(args)):
        if name == "poisson_logpmf" and i == 0:
            continue  # counts: SciPy's value jumps off the integers (see the next test)
        want = _central(f, args, i)
        got = grad(f, argnums=i)(*args)
        assert np.allclose(got, want, rtol=1e-6, atol=1e-6), (name, i)
        direction = np.random.default_rng(i).uniform(-1, 1, size=np.shape(args[i]))
        tangents = [np.zeros_like(np.asarray(a)) for a in args]
        tangents[i] = direction if np.ndim(args[i]) else float(direction)
        _, dout = jvp(f, args, tangents)
        assert np.isclose(dout, np.sum(want * direction), rtol=1e-6, atol=1e-6)


def test_poisson_count_derivative_is_that_of_the_continuous_extension(module):
    """∂/∂k of k log μ − μ − lnΓ(k+1) is log μ − ψ(k+1) (JAX's too)."""
    special = pytest.importorskip("scipy.special")
    k, mu = np.array([0.0, 2.0, 5.0]), np.array([0.7, 1.5, 3.0])
    got = grad(module.poisson_logpmf, argnums=0)(k, mu)
    assert np.allclose(got, np.log(mu) - special.digamma(k + 1), rtol=1e-12)


def test_the_values_are_scipys(module):
    x, mu, s = np.array([0.1, -1.2, 2.0]), 0.3, 1.7
    assert module.norm_logpdf(x, mu, s) == pytest.approx(
        np.sum(stats.norm.logpdf(x, mu, s))
    )


def test_the_hessian_of_a_composite_matches_differences_of_its_gradient(module):
    theta = np.array([0.4, 0.2, 0.5])
    g = grad(module.composite)
    h = hessian(module.composite)(theta)
    fd = np.array([_central(lambda t: g(t)[j], [theta], 0, 1e-5) for j in range(3)])
    assert np.allclose(h, h.T, atol=1e-10)
    assert np.allclose(h, fd, rtol=1e-5, atol=1e-6)


def test_the_emitted_code_imports_scipy_stats_and_runs_alone(module):
    # the value with the gradient: the gradient alone no longer computes the
    # log-density (it was kept only for its shape, see opt/shape_sources.py)
    compiled = value_and_grad(module.t_logpdf, argnums=(1, 3))
    source = compiled.source
    assert "import scipy.stats" in source and "import scipy.special" in source
    assert "scipy.stats.t.logpdf(" in source and "scipy.special.digamma(" in source
    assert "scipy.stats.t.logpdf(" not in grad(module.t_logpdf, argnums=(1, 3)).source
    namespace: dict = {}
    exec(source, namespace)
    args = _draw("t_logpdf", 3)
    value, ours = namespace["t_logpdf_value_and_grad"](*args)
    expected_value, expected = compiled(*args)
    assert np.allclose(ours, expected, rtol=1e-14)
    assert np.allclose(value, expected_value, rtol=1e-14)


@pytest.mark.parametrize(
    "call,message",
    [
        ("norm.logpdf(x, mu, shape=s)", "keyword argument `shape` to `norm.logpdf`"),
        ("st.t.logpdf(x)", "`st.t.logpdf` needs its argument `df`"),
        ("norm.logpdf(x, mu, loc=s)", "`loc` given twice"),
        ("norm.ppf(x)", "`scipy.stats.norm.ppf`"),
    ],
)
def test_a_call_it_does_not_take_is_a_located_error(tmp_path, call, message):
    path = tmp_path / "bad_stats.py"
    mod = _load(
        path,
        "import numpy as np\nimport scipy.stats as st\nfrom scipy.stats import norm\n"
        f"\n\ndef f(x, mu, s):\n    return np.sum({call})\n",
    )
    with pytest.raises(CompileError) as info:
        grad(mod.f)(np.ones(2), 0.0, 1.0)
    assert message in info.value.message
    assert info.value.loc.file == str(path) and info.value.loc.line == 7


def test_an_unsupported_method_names_the_supported_ones(tmp_path):
    mod = _load(
        tmp_path / "pdf_stats.py",
        "import numpy as np\nfrom scipy.stats import norm\n"
        "\n\ndef f(x):\n    return np.sum(norm.logpdff(x))\n",
    )
    with pytest.raises(CompileError) as info:
        grad(mod.f)(np.ones(2))
    assert "`scipy.stats.norm.logpdf`" in info.value.hint


def test_jax_agrees_where_installed(module):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jstats = pytest.importorskip("jax.scipy.stats")
    jnp = jax.numpy
    twins = {
        "norm_logpdf": lambda x, m, s: jnp.sum(jstats.norm.logpdf(x, m, s)),
        "norm_logcdf": lambda x, m, s: jnp.sum(jstats.norm.logcdf(x, m, s)),
        "t_logpdf": lambda x, d, m, s: jnp.sum(jstats.t.logpdf(x, d, m, s)),
        "poisson_logpmf": lambda k, m: jnp.sum(jstats.poisson.logpmf(k, m)),
        "gamma_logpdf": lambda x, a, m, s: jnp.sum(jstats.gamma.logpdf(x, a, m, s)),
        "beta_logpdf": lambda x, a, b, m, s: jnp.sum(jstats.beta.logpdf(x, a, b, m, s)),
    }
    for name, twin in twins.items():
        args = _draw(name, 5)
        for i in range(len(args)):
            want = jax.grad(twin, argnums=i)(*args)
            got = grad(getattr(module, name), argnums=i)(*args)
            assert np.allclose(got, want, rtol=1e-8, atol=1e-10), (name, i)


# --- multivariate_normal.logpdf ---------------------------------------------------------
MVN = """
import numpy as np
from scipy.stats import multivariate_normal
import scipy.stats as st


def by_keyword(x, m, L):
    cov = L @ L.T + np.eye(3)
    return multivariate_normal.logpdf(x, mean=m, cov=cov)


def positional(x, m, L):
    return st.multivariate_normal.logpdf(x, m, L @ L.T + 0.5 * np.eye(3)) ** 2


def points(X, m, L):
    return multivariate_normal.logpdf(X, m, L @ L.T)
"""


@pytest.fixture(scope="module")
def mvn(tmp_path_factory):
    return _load(tmp_path_factory.mktemp("mvn") / "mvn.py", MVN)


def _mvn_point(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=3), rng.normal(size=3), rng.normal(size=(3, 3))]


@pytest.mark.parametrize("name", ["by_keyword", "positional"])
def test_multivariate_normal_point_mean_and_covariance_match_differences(mvn, name):
    f = getattr(mvn, name)
    args = _mvn_point()
    for i in range(3):
        assert np.allclose(
            grad(f, argnums=i)(*args), _central(f, args, i), rtol=1e-6, atol=1e-7
        ), (name, i)
    tangents = [np.random.default_rng(9).normal(size=np.shape(a)) for a in args]
    _, dout = jvp(f, args, tangents)
    want = sum(np.sum(_central(f, args, i) * t) for i, t in enumerate(tangents))
    assert np.isclose(dout, want, rtol=1e-6)


def test_multivariate_normal_hessian_in_the_covariance_factor(mvn):
    args = _mvn_point(1)
    g = grad(mvn.by_keyword, argnums=2)
    h = hessian(mvn.by_keyword, argnums=2)(*args)
    fd = np.zeros((3, 3, 3, 3))
    for j in np.ndindex(3, 3):
        e = np.zeros((3, 3))
        e[j] = 1e-5
        fd[(...,) + j] = (
            g(args[0], args[1], args[2] + e) - g(args[0], args[1], args[2] - e)
        ) / 2e-5
    assert np.allclose(h, fd, rtol=1e-5, atol=1e-6)


def test_multivariate_normal_gradient_solves_and_needs_no_scipy(mvn):
    source = grad(mvn.by_keyword, argnums=2).source
    assert "np.linalg.solve(cov, x - m)" in source
    assert "scipy" not in source  # (the value itself is not needed)


def test_multivariate_normal_of_several_points_is_a_located_error(mvn):
    X, m, L = np.ones((4, 3)), np.zeros(3), np.eye(3)
    with pytest.raises(CompileError) as info:
        grad(mvn.points, argnums=1)(X, m, L)
    assert "one point x of shape (n,)" in info.value.message
    assert (
        info.value.loc.line
        == MVN.splitlines().index(
            "    return multivariate_normal.logpdf(X, m, L @ L.T)"
        )
        + 1
    )


def test_multivariate_normal_agrees_with_jax_where_installed(mvn):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jstats = pytest.importorskip("jax.scipy.stats")
    jnp = jax.numpy

    def twin(x, m, L):
        return jstats.multivariate_normal.logpdf(x, m, L @ L.T + jnp.eye(3))

    args = _mvn_point(4)
    for i in range(3):
        want = jax.grad(twin, argnums=i)(*args)
        assert np.allclose(grad(mvn.by_keyword, argnums=i)(*args), want, rtol=1e-9)
