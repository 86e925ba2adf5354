"""The count-regression port (samples/ports/glm.py), differentiated unchanged.

The Poisson and negative-binomial log-likelihoods (``gammaln``, ``logaddexp``;
``digamma`` in the negative binomial's gradient): the gradient against central
differences, forward mode against reverse mode, against the score written
out by hand, against JAX where installed; a few gradient steps raise the
likelihood; ``adc compile`` differentiates the file without running it.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_ufuncs import _differences  # central differences in one argument

from ad_compiler import grad, hessian, jvp

pytest.importorskip("scipy.special")

PATH = Path(__file__).resolve().parent.parent / "samples" / "ports" / "glm.py"


def _load():
    spec = importlib.util.spec_from_file_location("port_glm", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


glm = _load()
DATA = glm.Simulated(n=60, seed=1)
BETA = np.array([0.2, 0.5, -0.3])
# (name, function, arguments, argnums)
MODELS = {
    "poisson": (glm.poisson_loglik, (BETA, DATA.X, DATA.y_poisson), (0,)),
    "negbin": (glm.negbin_loglik, (BETA, -0.4, DATA.X, DATA.y_negbin), (0, 1)),
}


def _unit(arg, k):
    if np.ndim(arg) == 0:
        return 1.0
    e = np.zeros(np.shape(arg))
    e[k] = 1.0
    return e


@pytest.mark.parametrize("name", sorted(MODELS))
def test_gradient_matches_central_differences(name):
    f, args, argnums = MODELS[name]
    gradient = grad(f, argnums=argnums)(*args)
    for position, i in enumerate(argnums):
        for k in range(np.size(args[i])):
            fd = _differences(f, args, i, _unit(args[i], k))
            got = np.asarray(gradient[position]).reshape(-1)[k]
            assert got == pytest.approx(fd, rel=1e-6, abs=1e-6), (i, k)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_mode_agrees_with_reverse(name):
    f, args, argnums = MODELS[name]
    rng = np.random.default_rng(2)
    tangents = [
        rng.standard_normal(np.shape(a)) if i in argnums else np.zeros(np.shape(a))
        for i, a in enumerate(args)
    ]
    value, forward = jvp(f, args, tangents)
    assert value == pytest.approx(f(*args), rel=1e-12)
    gradient = grad(f, argnums=argnums)(*args)
    expected = sum(
        float(np.sum(np.asarray(g) * tangents[i])) for g, i in zip(gradient, argnums)
    )
    assert forward == pytest.approx(expected, rel=1e-10)


def test_the_negative_binomial_gradient_is_the_score_written_by_hand():
    f, args, argnums = MODELS["negbin"]
    d_beta, d_log_alpha = grad(f, argnums=argnums)(*args)
    want_beta, want_log_alpha = glm.negbin_score(*args)
    np.testing.assert_allclose(d_beta, want_beta, rtol=1e-10)
    assert d_log_alpha == pytest.approx(want_log_alpha, rel=1e-10)
    # the emitted gradient calls digamma (SciPy's, as the user imported it)
    assert "scipy.special.digamma" in grad(f, argnums=argnums).source


def test_second_order_of_the_negative_binomial_likelihood():
    f = glm.negbin_loglik
    _, args, _ = MODELS["negbin"]
    h = hessian(f)(*args)  # in beta
    g = grad(f)
    fd = np.array([_differences(g, args, 0, e) for e in np.eye(3)])
    np.testing.assert_allclose(h, fd.T, rtol=1e-5, atol=1e-6)
    assert np.all(np.linalg.eigvalsh(h) < 0)  # concave in beta


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_few_gradient_steps_raise_the_likelihood(name):
    f, args, argnums = MODELS[name]
    gradient = grad(f, argnums=argnums)
    params = [args[i] for i in argnums]
    data = args[len(argnums) :]
    history = [f(*params, *data)]
    for _ in range(5):
        steps = gradient(*params, *data)
        params = [p + 2e-3 * s for p, s in zip(params, steps)]
        history.append(f(*params, *data))
    assert all(b > a for a, b in zip(history, history[1:])), history


@pytest.mark.parametrize("name", sorted(MODELS))
def test_against_jax(name):
    """JAX's gradient of the same source (np and the SciPy functions bound to
    JAX's), where installed."""
    jax = pytest.importorskip("jax", reason="JAX is an optional oracle ([bench] extra)")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.special as jss

    namespace = {"__name__": "port_glm_oracle", "__file__": str(PATH)}
    exec(compile(PATH.read_text(), str(PATH), "exec"), namespace)
    namespace.update(np=jnp, gammaln=jss.gammaln, digamma=jss.digamma)
    f, args, argnums = MODELS[name]
    expected = jax.grad(namespace[f.__name__], argnums=argnums)(*args)
    got = grad(f, argnums=argnums)(*args)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-9, atol=1e-9)


@pytest.mark.slow  # (a subprocess: about a second)
def test_adc_compile_differentiates_the_file_without_running_it(tmp_path):
    out = tmp_path / "glm_grad.py"
    run = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(PATH)]
        + ["-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    for name in ("poisson_loglik_grad", "negbin_loglik_grad", "negbin_score_vjp"):
        assert f"def {name}(" in text
    assert "import scipy.special" in text
    # the emitted module runs on its own and gives the API's gradient
    namespace = {}
    exec(compile(text, str(out), "exec"), namespace)
    f, args, _ = MODELS["negbin"]
    d_beta, d_log_alpha, _, _ = namespace["negbin_loglik_grad"](*args)
    want_beta, want_log_alpha = glm.negbin_score(*args)
    np.testing.assert_allclose(d_beta, want_beta, rtol=1e-10)
    assert d_log_alpha == pytest.approx(want_log_alpha, rel=1e-10)
