"""The bundle-adjustment port (samples/ports/ba.py), differentiated unchanged.

The residuals' Jacobian (what ADBench measures) in reverse and forward vector
mode against central differences, the objective's gradient against central
differences and against forward mode, the rotation's branch at r = 0, JAX's
Jacobian of the same source where installed, and ``adc compile`` of the file.
"""

import subprocess
import sys

import numpy as np
import pytest
from test_ports import PORTS, load

from ad_compiler import grad, jacfwd, jacrev, jvp

sys.path.insert(0, str(PORTS))  # ba_data imports ba
ba = load("ba")
from ba_data import make_problem  # noqa: E402

PROBLEM = make_problem(n=2, m=3, p=5, seed=4)
DIFFERENTIATED = (0, 1, 2)  # cams, X, w (obs and feats are data)


def fd_jacobian(f, args, argnum, h=1e-6):
    base = np.asarray(f(*args))
    x = np.asarray(args[argnum], dtype=float)
    out = np.zeros(base.shape + x.shape)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        moved = [up if i == argnum else a for i, a in enumerate(args)]
        f_up = np.asarray(f(*moved))
        moved[argnum] = down
        out[(...,) + index] = (f_up - np.asarray(f(*moved))) / (2 * h)
    return out


@pytest.mark.fast_sample(keep=lambda mode: mode == "jacfwd")  # jacrev: ~2 s
@pytest.mark.parametrize("mode", ["jacrev", "jacfwd"])
def test_residual_jacobian_matches_central_differences(mode):
    J = {"jacrev": jacrev, "jacfwd": jacfwd}[mode](
        ba.ba_residuals, argnums=DIFFERENTIATED
    )(*PROBLEM)
    for block, argnum in zip(J, DIFFERENTIATED):
        expected = fd_jacobian(ba.ba_residuals, PROBLEM, argnum)
        np.testing.assert_allclose(block, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.slow  # ~1.5 s; the fast tier's jacfwd test covers the same rules
def test_objective_gradient_matches_differences_and_forward_mode():
    gradient = grad(ba.ba_objective, argnums=DIFFERENTIATED)(*PROBLEM)
    for g, argnum in zip(gradient, DIFFERENTIATED):
        expected = fd_jacobian(ba.ba_objective, PROBLEM, argnum)
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-8)
    rng = np.random.default_rng(2)
    tangents = [
        (
            rng.standard_normal(np.shape(a))
            if i in DIFFERENTIATED
            else np.zeros(np.shape(a))
        )
        for i, a in enumerate(PROBLEM)
    ]
    _, derivative = jvp(ba.ba_objective, PROBLEM, tuple(tangents))
    expected = sum(
        float(np.sum(g * tangents[i])) for g, i in zip(gradient, DIFFERENTIATED)
    )
    assert derivative == pytest.approx(expected, rel=1e-10)


@pytest.mark.slow  # ~2 s (reverse vector mode compiled again)
def test_a_camera_without_rotation_takes_the_first_order_branch():
    """r = 0 (θ = 0): the residuals use p + r × p, whose derivative in r is
    the limit of Rodrigues' (∂/∂r (r × p) = -[p]×), with no NaN from 0/0."""
    cams, X, w, obs, feats = PROBLEM
    cams = cams.copy()
    cams[0, 0:3] = 0.0
    J = jacrev(ba.ba_residuals, argnums=0)(cams, X, w, obs, feats)
    assert np.all(np.isfinite(J))
    np.testing.assert_allclose(
        J,
        fd_jacobian(ba.ba_residuals, (cams, X, w, obs, feats), 0),
        rtol=1e-5,
        atol=1e-7,
    )


def test_against_jax():
    jax = pytest.importorskip("jax", reason="JAX is an optional oracle ([bench] extra)")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    oracle = load("ba", jnp)["ba_residuals"]
    expected = jax.jacrev(oracle, argnums=DIFFERENTIATED)(*PROBLEM)
    got = jacrev(ba.ba_residuals, argnums=DIFFERENTIATED)(*PROBLEM)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, np.asarray(e), rtol=1e-9, atol=1e-12)


@pytest.mark.slow  # a subprocess compiling every function of the file (seconds)
def test_adc_compiles_the_file(tmp_path):
    out = tmp_path / "ba_derivatives.py"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ad_compiler.tools.cli",
            "compile",
            str(PORTS / "ba.py"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    assert "def ba_residuals_vjp(" in text or "def ba_residuals_grad(" in text
    assert "np.cross(" in text and "import scipy" not in text


@pytest.mark.slow  # a Hessian in vector mode (seconds); the rules are the fast tier's
def test_hessian_in_the_points_matches_differences_of_the_gradient():
    from ad_compiler import hessian

    H = hessian(ba.ba_objective, argnums=1)(*PROBLEM)
    n = np.size(PROBLEM[1])
    gradient = grad(ba.ba_objective, argnums=1)
    expected = fd_jacobian(lambda *a: gradient(*a), PROBLEM, 1, h=1e-5)
    np.testing.assert_allclose(
        np.reshape(H, (n, n)), np.reshape(expected, (n, n)), rtol=1e-5, atol=1e-7
    )
