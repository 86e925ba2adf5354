"""NumPy's elementwise functions and scipy.special's, through the public API.

Each function, called as user code calls it, differentiated in both modes
(``grad`` and ``jvp``) on arrays and on numbers, against central differences
at random points away from its non-smooth set; second order (``hessian``) of
a composite of the smooth ones; the spellings emitted; the conventions at the
non-smooth points that the rows document; the errors for what is not
supported; and JAX as an outside oracle on random composites where installed.
(The rules themselves are checked row by row in tests/test_registry.py.)
"""

import importlib.util
import math
import random

import numpy as np
import pytest

from ad_compiler import CompileError, grad, hessian, jvp, value_and_grad

scipy_special = pytest.importorskip("scipy.special")

# (call, domain of each input): x, y are the inputs; the domains keep the
# points away from where a function is not smooth or not defined
NUMPY_CASES = [
    ("np.multiply(x, y)", (-2, 2), (-2, 2)),
    ("np.add(x, y)", (-2, 2), (-2, 2)),
    ("np.subtract(x, y)", (-2, 2), (-2, 2)),
    ("np.divide(x, y)", (-2, 2), (0.5, 2)),
    ("np.true_divide(x, y)", (-2, 2), (0.5, 2)),
    ("np.negative(x)", (-2, 2)),
    ("np.positive(x)", (-2, 2)),
    ("np.power(x, y)", (0.3, 2), (-2, 2)),
    ("np.float_power(x, y)", (0.3, 2), (-2, 2)),
    ("np.square(x)", (-2, 2)),
    ("np.reciprocal(x)", (0.3, 2)),
    ("np.sqrt(x)", (0.2, 3)),
    ("np.cbrt(x)", (0.2, 3)),
    ("np.cbrt(-x)", (0.2, 3)),
    ("np.exp(x)", (-2, 2)),
    ("np.exp2(x)", (-2, 2)),
    ("np.expm1(x)", (-2, 2)),
    ("np.log(x)", (0.2, 3)),
    ("np.log2(x)", (0.2, 3)),
    ("np.log10(x)", (0.2, 3)),
    ("np.log1p(x)", (-0.5, 2)),
    ("np.logaddexp(x, y)", (-3, 3), (-3, 3)),
    ("np.logaddexp2(x, y)", (-3, 3), (-3, 3)),
    ("np.sinh(x)", (-2, 2)),
    ("np.cosh(x)", (-2, 2)),
    ("np.tanh(x)", (-2, 2)),
    ("np.arcsinh(x)", (-2, 2)),
    ("np.arccosh(x)", (1.2, 3)),
    ("np.arctanh(x)", (-0.9, 0.9)),
    ("np.arctan2(x, y)", (0.3, 2), (0.3, 2)),
    ("np.hypot(x, y)", (0.3, 2), (-2, -0.3)),
    ("np.deg2rad(x)", (-90, 90)),
    ("np.rad2deg(x)", (-2, 2)),
    ("np.radians(x)", (-90, 90)),
    ("np.degrees(x)", (-2, 2)),
    ("np.sinc(x)", (-2, 2)),
    ("np.fabs(x)", (0.3, 2)),
    ("np.absolute(-x)", (0.3, 2)),
    ("np.sign(x) * x", (0.3, 2)),
    ("np.heaviside(x, y) * x", (0.3, 2), (0, 1)),
    ("np.floor(x) * x", (0.1, 0.9)),
    ("np.ceil(x) * x", (1.1, 1.9)),
    ("np.trunc(x) * x", (1.1, 1.9)),
    ("np.rint(x) * x", (1.1, 1.4)),
    ("np.round(x) * x", (1.1, 1.4)),
    ("np.around(x, 1) * x", (1.01, 1.04)),
    ("np.fmod(x, y)", (0.3, 3), (0.4, 0.9)),
    ("np.mod(x, y)", (0.3, 3), (0.4, 0.9)),
    ("np.remainder(x, y)", (0.3, 3), (0.4, 0.9)),
    ("np.maximum(x, y)", (-2, 2), (-2, 2)),
    ("np.minimum(x, y)", (-2, 2), (-2, 2)),
    ("np.fmax(x, y)", (-2, 2), (-2, 2)),
    ("np.fmin(x, y)", (-2, 2), (-2, 2)),
    ("np.clip(x, -0.5, 0.5)", (-2, 2)),
    ("np.where(x > y, x, y * y)", (-2, 2), (-2, 2)),
    ("np.copysign(x, y)", (0.3, 2), (-2, -0.3)),
]
SCIPY_CASES = [
    ("sp.expit(x)", (-4, 4)),
    ("sp.logit(x)", (0.1, 0.9)),
    ("sp.erf(x)", (-2, 2)),
    ("sp.erfc(x)", (-2, 2)),
    ("sp.erfinv(x)", (-0.9, 0.9)),
    ("sp.ndtr(x)", (-3, 3)),
    ("sp.log_ndtr(x)", (-3, 3)),
    ("sp.gammaln(x)", (0.3, 4)),
    ("sp.digamma(x)", (0.3, 4)),
    ("sp.psi(x)", (0.3, 4)),
    ("sp.polygamma(1, x)", (0.3, 4)),
    ("sp.polygamma(2, x)", (0.3, 4)),
    ("sp.betaln(x, y)", (0.3, 4), (0.3, 4)),
    ("sp.xlogy(x, y)", (-2, 2), (0.3, 3)),
    ("sp.xlog1py(x, y)", (-2, 2), (-0.5, 2)),
    ("sp.entr(x)", (0.2, 3)),
    ("sp.i0e(x)", (0.2, 3)),
    ("sp.i0e(-x)", (0.2, 3)),
    ("sp.i1e(x)", (0.2, 3)),
    ("sp.i1e(-x)", (0.2, 3)),
]
CASES = NUMPY_CASES + SCIPY_CASES
# the functions smooth on their domain (the rest are piecewise or kinked there)
NOT_SMOOTH = ("sign", "heaviside", "floor", "ceil", "trunc", "rint", "round")
NOT_SMOOTH += ("fmod", "mod(", "remainder", "maximum", "minimum", "fmax", "fmin")
NOT_SMOOTH += ("clip", "where", "copysign", "fabs", "absolute")


def _module(tmp_path, body: str, params: str = "x, y"):
    """A module defining ``f(params)`` returning ``body``, imported."""
    name = f"uf{abs(hash((body, params)))}"
    path = tmp_path / f"{name}.py"
    path.write_text(
        "import numpy as np\nimport scipy.special as sp\n\n\n"
        f"def f({params}):\n    return {body}\n"
    )
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def _points(case, shape, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(lo, hi, size=shape) for lo, hi in case[1:]]


def _differences(f, args, i, direction, h=1e-6):
    up, down = list(args), list(args)
    up[i] = args[i] + h * direction
    down[i] = args[i] - h * direction
    return (f(*up) - f(*down)) / (2 * h)


def _f_of(tmp_path, case):
    arity = len(case) - 1
    params = "x, y" if arity == 2 else "x"
    return _f_params(tmp_path, case[0], params), arity


def _f_params(tmp_path, call, params):
    # sin of the result: the chain rule is exercised too
    return _module(tmp_path, f"np.sum(np.sin({call}))", params)


@pytest.mark.fast_sample(every=12)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_function_in_both_modes_against_differences_on_arrays(tmp_path, case):
    f, arity = _f_of(tmp_path, case)
    args = _points(case, (5,), seed=len(case[0]))
    argnums = tuple(range(arity))
    grads = grad(f, argnums=argnums)(*args)
    rng = np.random.default_rng(3)
    tangents = [rng.uniform(-1, 1, size=5) for _ in args]
    value, forward = jvp(f, args, tangents)
    assert value == pytest.approx(f(*args), rel=1e-12)
    fd_total = 0.0
    for i in range(arity):
        e = np.zeros(5)
        for k in range(5):
            e[:] = 0.0
            e[k] = 1.0
            fd = _differences(f, args, i, e)
            assert grads[i][k] == pytest.approx(fd, rel=1e-5, abs=1e-6), (i, k)
        fd_total += _differences(f, args, i, tangents[i])
    assert forward == pytest.approx(fd_total, rel=1e-5, abs=1e-6)


@pytest.mark.fast_sample(every=12)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_function_in_both_modes_against_differences_on_numbers(tmp_path, case):
    arity = len(case) - 1
    params = "x, y" if arity == 2 else "x"
    f = _module(tmp_path, f"np.sin({case[0]})", params)
    rng = random.Random(case[0])
    for _ in range(3):
        args = [rng.uniform(lo, hi) for lo, hi in case[1:]]
        grads = grad(f, argnums=tuple(range(arity)))(*args)
        tangents = [rng.uniform(-1, 1) for _ in args]
        _, forward = jvp(f, args, tangents)
        total = 0.0
        for i in range(arity):
            fd = _differences(f, args, i, 1.0)
            assert float(grads[i]) == pytest.approx(fd, rel=1e-5, abs=1e-6), i
            total += tangents[i] * fd
        assert float(forward) == pytest.approx(total, rel=1e-5, abs=1e-6)


SMOOTH = [c for c in CASES if not any(word in c[0] for word in NOT_SMOOTH)]


@pytest.mark.fast_sample(every=16)
@pytest.mark.parametrize("case", SMOOTH, ids=[c[0] for c in SMOOTH])
def test_second_order_of_each_smooth_function(tmp_path, case):
    """hessian of Σ sin(g(x, y)) in x against differences of the gradient."""
    f, arity = _f_of(tmp_path, case)
    args = _points(case, (3,), seed=7)
    h = hessian(f)(*args)
    g = grad(f)
    fd = [_differences(lambda x: g(x, *args[1:]), [args[0]], 0, e) for e in np.eye(3)]
    np.testing.assert_allclose(h, np.array(fd).T, rtol=1e-4, atol=1e-5)


def test_hessian_of_a_composite_of_the_smooth_functions(tmp_path):
    f = _module(
        tmp_path,
        "np.sum(np.logaddexp(x, np.exp2(x) * sp.gammaln(x + 1.5))"
        " + np.sinc(x) * np.cbrt(x + 3.0) + sp.log_ndtr(x) * np.arcsinh(x)"
        " + sp.xlogy(x, x + 2.5) + sp.polygamma(1, x + 2.0) + sp.i1e(x))",
        "x",
    )
    x = np.array([0.3, -0.7, 1.1])
    h = hessian(f)(x)
    g = grad(f)
    fd = np.array([_differences(g, [x], 0, e) for e in np.eye(3)])
    np.testing.assert_allclose(h, fd.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-12)


# --- spellings ----------------------------------------------------------------------------
def _code(source: str) -> str:
    """The emitted lines without the comments quoting the user's."""
    return "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith("#")
    )


def test_the_emitted_code_spells_what_the_user_called(tmp_path):
    f = _module(
        tmp_path,
        "np.sum(np.multiply(x, y) + np.true_divide(x, y) + np.fmax(x, y)"
        " + np.logaddexp(x, y) + np.deg2rad(x) + np.floor(x) * y)",
    )
    # with the value: the gradient alone computes only what its rules read
    # (no longer the sum's operand, which it kept only for its shape)
    source = _code(value_and_grad(f, argnums=(0, 1)).source)
    assert "x * y" in source and "x / y" in source  # NumPy's, for floats
    assert "np.multiply" not in source and "np.true_divide" not in source
    assert "np.fmax(x, y)" in source and "np.logaddexp(x, y)" in source
    assert "np.floor(x)" in source and "np.deg2rad" in source
    assert "scipy" not in source  # NumPy code: no SciPy in the emitted module
    g = _module(tmp_path, "np.sum(sp.gammaln(x) * sp.erf(x))", "x")
    source = _code(grad(g).source)
    assert "import scipy.special" in source
    assert "scipy.special.digamma(x)" in source  # gammaln's slope, SciPy's
    assert "scipy.special.erf(x)" in source and "math." not in source


def test_every_import_spelling_of_the_scipy_functions(tmp_path):
    path = tmp_path / "spelled.py"
    path.write_text(
        "import numpy\nimport scipy\nfrom scipy import special\n"
        "from scipy.special import gammaln as lg, psi, polygamma\n\n\n"
        "def f(x):\n"
        "    return numpy.sum(lg(x) + psi(x) * special.betaln(x, 2.0)"
        " + polygamma(2, x) + scipy.special.xlog1py(x, x))\n"
    )
    spec = importlib.util.spec_from_file_location("spelled", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.array([0.5, 1.5, 3.0])
    got = grad(module.f)(x)
    fd = [_differences(module.f, [x], 0, e) for e in np.eye(3)]
    np.testing.assert_allclose(got, fd, rtol=1e-6)


@pytest.mark.slow  # (a subprocess: about a second; the API tests above cover the names)
def test_the_cli_compiles_the_new_names_without_running_the_file(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "cli_ufuncs.py"
    path.write_text(
        "import numpy as np\nfrom scipy.special import gammaln, polygamma\n"
        "raise SystemExit('the file was run')\n\n\n"
        "def f(x: float, y: float) -> float:\n"
        "    return np.fmin(np.logaddexp(x, y), 3.0) + gammaln(x) * polygamma(1, y)\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "scipy.special.polygamma(2, y)" in out.stdout
    assert "scipy.special.digamma(x)" in out.stdout


# --- the conventions at the non-smooth points ----------------------------------------------
def test_conventions_at_the_non_smooth_points(tmp_path):
    nan = math.nan
    fmax = _module(tmp_path, "np.fmax(x, y)")
    g = grad(fmax, argnums=(0, 1))
    assert [float(v) for v in g(1.0, 1.0)] == [0.0, 1.0]  # a tie: the second
    assert [float(v) for v in g(1.0, nan)] == [1.0, 0.0]  # nan ignored
    assert [float(v) for v in g(nan, 1.0)] == [0.0, 1.0]
    fmin = grad(_module(tmp_path, "np.fmin(x, y)"), argnums=(0, 1))
    assert [float(v) for v in fmin(2.0, nan)] == [1.0, 0.0]
    heaviside = grad(_module(tmp_path, "np.heaviside(x, y)"), argnums=(0, 1))
    assert [float(v) for v in heaviside(0.0, 0.5)] == [0.0, 1.0]
    assert [float(v) for v in heaviside(2.0, 0.5)] == [0.0, 0.0]
    sinc = _module(tmp_path, "np.sinc(x)", "x")
    assert float(grad(sinc)(0.0)) == 0.0
    assert float(hessian(sinc)(0.0)) == pytest.approx(-(math.pi**2) / 3, rel=1e-12)
    i1e = _module(tmp_path, "sp.i1e(x)", "x")
    assert float(grad(i1e)(0.0)) == 0.5
    assert float(grad(_module(tmp_path, "sp.i0e(x)", "x"))(0.0)) == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        assert float(grad(_module(tmp_path, "np.cbrt(x)", "x"))(0.0)) == math.inf
        assert float(grad(_module(tmp_path, "sp.entr(x)", "x"))(0.0)) == math.inf
        xlogy = grad(_module(tmp_path, "sp.xlogy(x, y)"), argnums=(0, 1))
        assert [float(v) for v in xlogy(0.0, 2.0)] == [math.log(2.0), 0.0]
        dx, dy = xlogy(0.0, 0.0)
        assert float(dx) == -math.inf and math.isnan(float(dy))
    for zero in ("np.floor(x)", "np.rint(x)", "np.round(x, 2)", "np.trunc(x)"):
        assert float(grad(_module(tmp_path, zero, "x"))(1.25)) == 0.0, zero


# --- what is not supported: located errors in the user's file -----------------------------
def test_a_non_literal_order_or_decimals_is_a_located_error(tmp_path):
    f = _module(tmp_path, "sp.polygamma(n, x)", "x, n")
    with pytest.raises(CompileError, match="order `n` of `sp.polygamma` must be") as e:
        grad(f)(1.0, 1)
    assert e.value.loc is not None and e.value.loc.line == 6
    f = _module(tmp_path, "np.round(x, d)", "x, d")
    with pytest.raises(CompileError, match="`decimals` must be a literal") as e:
        grad(f)(1.0, 1)
    assert e.value.loc is not None and e.value.loc.line == 6


def test_math_erf_of_an_array_names_scipys_twin(tmp_path):
    path = tmp_path / "erf_of_array.py"
    path.write_text(
        "import math\nimport numpy as np\n\n\ndef f(x):\n    return np.sum(math.erf(x))\n"
    )
    spec = importlib.util.spec_from_file_location("erf_of_array", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(CompileError, match="`math.erf` takes numbers") as e:
        grad(module.f)(np.ones(3))
    assert "scipy.special.erf" in str(e.value) and e.value.loc.line == 6


def test_an_unknown_scipy_special_function_names_the_alternatives(tmp_path):
    f = _module(tmp_path, "sp.zeta(x, 2.0)", "x")
    with pytest.raises(CompileError) as e:
        grad(f)(3.0)
    text = str(e.value)
    assert "sp.zeta" in text and "custom_derivative" in text
    assert e.value.loc is not None and e.value.loc.line == 6


# --- JAX as an outside oracle --------------------------------------------------------------
# (ours, JAX's): unary and binary functions for random composites; each
# argument is squashed into the function's domain first
UNARY = [
    ("np.exp2({})", "jnp.exp2({})"),
    ("np.cbrt({} + 3.0)", "jnp.cbrt({} + 3.0)"),
    ("np.arcsinh({})", "jnp.arcsinh({})"),
    ("np.arctanh(np.tanh({}) * 0.9)", "jnp.arctanh(jnp.tanh({}) * 0.9)"),
    ("np.arccosh(np.cosh({}) + 1.0)", "jnp.arccosh(jnp.cosh({}) + 1.0)"),
    ("np.sinc({})", "jnp.sinc({})"),
    ("np.reciprocal(np.exp({}))", "jnp.reciprocal(jnp.exp({}))"),
    ("np.deg2rad({})", "jnp.deg2rad({})"),
    ("sp.expit({})", "jss.expit({})"),
    ("sp.logit(sp.expit({}))", "jss.logit(jss.expit({}))"),
    ("sp.erf({})", "jss.erf({})"),
    ("sp.erfinv(np.tanh({}) * 0.8)", "jss.erfinv(jnp.tanh({}) * 0.8)"),
    ("sp.ndtr({})", "jss.ndtr({})"),
    ("sp.log_ndtr({})", "jss.log_ndtr({})"),
    ("sp.gammaln(np.exp({}))", "jss.gammaln(jnp.exp({}))"),
    ("sp.digamma(np.exp({}))", "jss.digamma(jnp.exp({}))"),
    ("sp.polygamma(1, np.exp({}))", "jss.polygamma(1, jnp.exp({}))"),
    ("sp.entr(np.exp({}))", "jss.entr(jnp.exp({}))"),
    ("sp.i0e({})", "jss.i0e({})"),
    ("sp.i1e({})", "jss.i1e({})"),
]
BINARY = [
    ("np.logaddexp({}, {})", "jnp.logaddexp({}, {})"),
    ("np.logaddexp2({}, {})", "jnp.logaddexp2({}, {})"),
    ("np.multiply({}, {})", "jnp.multiply({}, {})"),
    ("np.true_divide({}, np.exp({}))", "jnp.true_divide({}, jnp.exp({}))"),
    ("np.float_power(np.exp({}), {})", "jnp.float_power(jnp.exp({}), {})"),
    ("np.fmax({}, {})", "jnp.fmax({}, {})"),
    ("np.fmin({}, {})", "jnp.fmin({}, {})"),
    ("sp.betaln(np.exp({}), np.exp({}))", "jss.betaln(jnp.exp({}), jnp.exp({}))"),
    ("sp.xlogy({}, np.exp({}))", "jss.xlogy({}, jnp.exp({}))"),
    ("sp.xlog1py({}, np.exp({}))", "jss.xlog1py({}, jnp.exp({}))"),
]


def _composite(rng: random.Random, depth: int) -> tuple[str, str]:
    """A random expression in x and y, ours and JAX's."""
    if depth == 0:
        leaf = rng.choice(["x", "y", "0.5 * x", "y - 0.3"])
        return leaf, leaf
    if rng.random() < 0.6:
        ours, theirs = rng.choice(UNARY)
        a, b = _composite(rng, depth - 1)
        return ours.format(a), theirs.format(b)
    ours, theirs = rng.choice(BINARY)
    a1, b1 = _composite(rng, depth - 1)
    a2, b2 = _composite(rng, depth - 1)
    return ours.format(a1, a2), theirs.format(b1, b2)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_random_composites_against_jax(tmp_path, seed):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.special as jss

    rng = random.Random(seed)
    ours, theirs = _composite(rng, 3)
    f = _module(tmp_path, f"np.sum(np.tanh({ours}))")
    g = eval(f"lambda x, y: jnp.sum(jnp.tanh({theirs}))", {"jnp": jnp, "jss": jss})
    npr = np.random.default_rng(seed)
    x, y = npr.uniform(-1.5, 1.5, size=4), npr.uniform(-1.5, 1.5, size=4)
    want = jax.grad(g, argnums=(0, 1))(x, y)
    got = grad(f, argnums=(0, 1))(x, y)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-9, atol=1e-12)
    dx, dy = npr.uniform(-1, 1, size=4), npr.uniform(-1, 1, size=4)
    _, forward = jvp(f, (x, y), (dx, dy))
    _, theirs_forward = jax.jvp(g, (x, y), (dx, dy))
    assert float(forward) == pytest.approx(float(theirs_forward), rel=1e-9, abs=1e-12)
    h = hessian(f)(x, y)
    np.testing.assert_allclose(
        h, np.asarray(jax.hessian(g)(x, y)), rtol=1e-7, atol=1e-9
    )
