"""samples/ports/softmax.py: the softmax classifier, differentiated unchanged.

Both losses (through ``scipy.special.logsumexp`` and through ``log_softmax``)
are checked on the shipped digits: the gradient against central differences,
forward mode against reverse mode, the two losses against each other, JAX's
gradient of the same source where JAX is installed; a few gradient steps
reduce the loss; and ``adc compile`` writes the file's derivatives without
importing it.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ad_compiler import grad, jvp

ROOT = Path(__file__).resolve().parent.parent
PATH = ROOT / "samples" / "ports" / "softmax.py"


def _load():
    spec = importlib.util.spec_from_file_location("port_softmax", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


port = _load()


def digits(n=120):
    data = np.load(ROOT / "samples" / "data" / "digits.npz")
    X = data["X"][:n].astype(np.float64) / 16.0
    Y = np.eye(10)[data["y"][:n].astype(np.int64)]
    return X, Y


def parameters(seed=0):
    rng = np.random.default_rng(seed)
    return 0.1 * rng.standard_normal((64, 10)), 0.1 * rng.standard_normal(10)


LOSSES = [port.loss, port.loss_log_softmax]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
def test_gradient_matches_central_differences(loss):
    X, Y = digits()
    W, b = parameters()
    dW, db = grad(loss, argnums=(0, 1))(W, b, X, Y)
    h = 1e-6
    rng = np.random.default_rng(1)
    for i in map(tuple, rng.integers(0, [64, 10], size=(12, 2))):
        e = np.zeros_like(W)
        e[i] = h
        fd = (loss(W + e, b, X, Y) - loss(W - e, b, X, Y)) / (2 * h)
        assert dW[i] == pytest.approx(fd, rel=1e-5, abs=1e-9)
    for c in range(10):
        e = np.zeros_like(b)
        e[c] = h
        fd = (loss(W, b + e, X, Y) - loss(W, b - e, X, Y)) / (2 * h)
        assert db[c] == pytest.approx(fd, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
def test_forward_mode_matches_reverse_mode(loss):
    X, Y = digits()
    W, b = parameters(2)
    dW, db = grad(loss, argnums=(0, 1))(W, b, X, Y)
    tW, tb = parameters(3)
    value, tangent = jvp(
        loss, (W, b, X, Y), (tW, tb, np.zeros_like(X), np.zeros_like(Y))
    )
    assert value == pytest.approx(loss(W, b, X, Y), rel=1e-12)
    assert tangent == pytest.approx(np.sum(dW * tW) + np.sum(db * tb), rel=1e-10)


def test_the_two_losses_and_their_gradients_agree():
    X, Y = digits()
    W, b = parameters(4)
    assert port.loss(W, b, X, Y) == pytest.approx(
        port.loss_log_softmax(W, b, X, Y), rel=1e-12
    )
    one = grad(port.loss, argnums=(0, 1))(W, b, X, Y)
    two = grad(port.loss_log_softmax, argnums=(0, 1))(W, b, X, Y)
    for a, c in zip(one, two):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-13)


def test_a_few_gradient_steps_reduce_the_loss():
    X, Y = digits(400)
    W, b = np.zeros((64, 10)), np.zeros(10)
    loss_grad = grad(port.loss, argnums=(0, 1))
    losses = [port.loss(W, b, X, Y)]
    for _ in range(5):
        dW, db = loss_grad(W, b, X, Y)
        W, b = W - 0.5 * dW, b - 0.5 * db
        losses.append(port.loss(W, b, X, Y))
    assert losses[0] == pytest.approx(np.log(10.0))  # uniform at the start
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))
    assert losses[-1] < 0.8 * losses[0]


def test_gradients_match_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.special as jsp

    namespace = {"__name__": "port_softmax_oracle"}
    exec(compile(PATH.read_text(), str(PATH), "exec"), namespace)
    namespace["np"] = jnp  # the functions read np, logsumexp ... when called
    namespace["logsumexp"] = jsp.logsumexp
    namespace["log_softmax"] = jax.nn.log_softmax
    X, Y = digits()
    W, b = parameters(5)
    for name in ("loss", "loss_log_softmax"):
        want = jax.grad(namespace[name], argnums=(0, 1))(W, b, X, Y)
        got = grad(getattr(port, name), argnums=(0, 1))(W, b, X, Y)
        for a, c in zip(got, want):
            np.testing.assert_allclose(a, np.asarray(c), rtol=1e-10, atol=1e-13)


@pytest.mark.slow
def test_adc_compile_writes_the_file_without_importing_it(tmp_path):
    out = tmp_path / "softmax_grad.py"
    done = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(PATH)]
        + ["-o", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "scipy.special.logsumexp(Z, axis=1)" in text
    assert "scipy.special.log_softmax(" in text
    namespace = {}
    exec(text, namespace)
    X, Y = digits()
    W, b = parameters(6)
    dW, db, *_ = namespace["loss_grad"](W, b, X, Y)
    want = grad(port.loss, argnums=(0, 1))(W, b, X, Y)
    np.testing.assert_allclose(dW, want[0], rtol=1e-12)
    np.testing.assert_allclose(db, want[1], rtol=1e-12)
