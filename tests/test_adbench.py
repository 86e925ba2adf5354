"""benchmarks/adbench: the ports agree with themselves, their derivatives are
right, run.py runs, and every number of its README comes from its results.json.

No timing is asserted anywhere: run.py measures, these tests check what it
computes and writes."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
ADBENCH = ROOT / "benchmarks" / "adbench"
sys.path.insert(0, str(ADBENCH))

import ba  # noqa: E402
import fill  # noqa: E402
import gmm  # noqa: E402
import hand  # noqa: E402
import lstm  # noqa: E402
import report  # noqa: E402


def gmm_inputs(n=30, d=3, k=4):
    alphas, means, icf, x, gamma, m = gmm.make_gmm(n, d, k)
    const = gmm.wishart_constant(d, k, gamma, m)
    return (alphas, means, icf, x, gamma, m, const), gmm.lower_index(d)


def central(f, args, i, eps=1e-6):
    """d f / d args[i] by central differences, entry by entry."""
    p = np.asarray(args[i], dtype=float)
    out = np.zeros(p.shape + np.shape(f(*args)))
    for idx in np.ndindex(p.shape):
        step = np.zeros_like(p)
        step[idx] = eps
        plus = list(args)
        minus = list(args)
        plus[i], minus[i] = p + step, p - step
        out[idx] = (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps)
    return out


# --------------------------------------------------------------------------
# the two forms of every objective agree (fast: NumPy only)
# --------------------------------------------------------------------------


def test_gmm_forms_agree_and_match_a_direct_formula():
    args, tri = gmm_inputs()
    alphas, means, icf, x, gamma, m, const = args
    loop, vec = gmm.gmm_loop(*args), gmm.gmm_vec(*args, tri)
    assert loop == pytest.approx(vec, rel=1e-12)
    # the same objective from the definition, point by point, with scipy-free maths
    d = x.shape[1]
    total = 0.0
    for xi in x:
        terms = []
        for c in range(len(alphas)):
            Q = np.diag(np.exp(icf[c, :d]))
            rows, cols = np.triu_indices(d, 1)  # column-major order of the lower part
            Q[cols, rows] = icf[c, d:]
            z = Q @ (xi - means[c])
            terms.append(alphas[c] + np.sum(icf[c, :d]) - 0.5 * z @ z)
        total += np.log(np.sum(np.exp(terms)))
    total -= len(x) * np.log(np.sum(np.exp(alphas)))
    total -= 0.5 * len(x) * d * np.log(2 * np.pi)
    total += np.sum(
        0.5
        * gamma**2
        * (np.sum(np.exp(icf[:, :d]) ** 2, 1) + np.sum(icf[:, d:] ** 2, 1))
        - m * np.sum(icf[:, :d], 1)
    )
    assert vec == pytest.approx(total + const, rel=1e-12)


def test_gmm_hand_written_gradient_matches_differences():
    args, tri = gmm_inputs(n=12, d=3, k=2)
    got = gmm.gmm_grad_hand(*args, tri)
    for i in range(3):
        want = central(lambda *a: gmm.gmm_vec(*a, tri), args, i)
        np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-6)


def test_lstm_forms_agree():
    args = lstm.make_lstm(2, 5, 9)
    assert lstm.lstm_loop(*args) == pytest.approx(lstm.lstm_vec(*args), rel=1e-12)


def test_ba_forms_agree_and_the_zero_rotation_branch():
    cams, X, w, obs, feats = ba.make_ba(4, 9, 25)
    cams[1, :3] = 0.0  # camera 1 takes the r = 0 branch of the Rodrigues formula
    err, werr = ba.ba_loop(cams, X, w, obs, feats)
    rows = ba.gather_rows(cams, X, w, obs)
    np.testing.assert_allclose(err, ba.ba_vec(np.zeros(15), rows, feats), rtol=1e-12)
    np.testing.assert_allclose(werr, 1.0 - w * w)


def test_hand_forms_agree():
    theta, model, points, corr, tris, us = hand.make_hand(15)
    joints, depth = hand.finger_joints(), hand.tree_depth(model[0])
    assert depth == 5  # forearm, wrist, four bones of a finger
    simple = hand.hand_loop(theta, *model, points, corr)
    np.testing.assert_allclose(
        simple, hand.hand_vec(theta, *model, points, corr, joints, depth), atol=1e-12
    )
    du = np.array([0.01, -0.02])
    complicated = hand.hand_complicated_loop(theta, du, *model, points, tris, us)
    np.testing.assert_allclose(
        complicated,
        hand.hand_complicated_vec(theta, du, *model, points, tris, us, joints, depth),
        atol=1e-12,
    )
    # the posed model is a rigid motion of the base model at the rest pose
    rest = np.zeros(26)
    rest[0:3] = 1e-9  # (the global rotation's axis needs a direction)
    at_rest = hand.skinned_loop(rest, *model)
    np.testing.assert_allclose(at_rest, model[3][:3].T, atol=1e-8)


def test_fill_is_the_sum_of_squares():
    x, w = fill.make_fill(7)
    assert fill.fill(x, w) == pytest.approx(np.sum(np.tanh(x * w) ** 2), rel=1e-13)


# --------------------------------------------------------------------------
# ad_compiler's derivatives of the ports (slow: each compiles)
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("form", ["loop", "vec"])
def test_gmm_gradient_matches_hand_written(form):
    from ad_compiler import grad

    args, tri = gmm_inputs()
    f = gmm.gmm_loop if form == "loop" else gmm.gmm_vec
    got = grad(f, argnums=(0, 1, 2))(*(args if form == "loop" else args + (tri,)))
    for g, h in zip(got, gmm.gmm_grad_hand(*args, tri)):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("f", [lstm.lstm_loop, lstm.lstm_vec])
def test_lstm_gradient_matches_differences(f):
    from ad_compiler import grad

    args = lstm.make_lstm(2, 3, 5)
    got = grad(f, argnums=(0, 1))(*args)
    for i in range(2):
        np.testing.assert_allclose(got[i], central(f, args, i), rtol=1e-6, atol=1e-8)


@pytest.mark.slow
def test_ba_jacobians_match_differences():
    from ad_compiler import jacfwd, jacobian, jacrev

    cams, X, w, obs, feats = ba.make_ba(2, 3, 4)
    cam, point, weight, feat = cams[obs[1, 0]], X[obs[1, 1]], w[1], feats[1]
    want = [central(ba.reproj_error, (cam, point, weight, feat), i).T for i in range(3)]
    for make in (jacfwd, jacrev, jacobian):
        got = make(ba.reproj_error, argnums=(0, 1, 2))(cam, point, weight, feat)
        for g, h in zip(got, want):
            np.testing.assert_allclose(g, h, rtol=1e-6, atol=1e-8)
    rows = ba.gather_rows(cams, X, w, obs)
    blocks = jacfwd(ba.ba_vec)(np.zeros(15), rows, feats)  # (p, 2, 15)
    np.testing.assert_allclose(
        blocks[1],
        np.concatenate([want[0], want[1], want[2][:, None]], axis=1),
        rtol=1e-6,
        atol=1e-8,
    )


@pytest.mark.slow
@pytest.mark.parametrize("complicated", [False, True])
def test_hand_jacobians_match_differences(complicated):
    from ad_compiler import jacobian

    theta, model, points, corr, tris, us = hand.make_hand(4)
    joints, depth = hand.finger_joints(), hand.tree_depth(model[0])
    if complicated:
        args = (theta, np.zeros(2), *model, points, tris, us)
        f, argnums = hand.hand_complicated_loop, (0, 1)
    else:
        args, f, argnums = (theta, *model, points, corr), hand.hand_loop, (0,)
    got = jacobian(f, argnums=argnums)(*args)
    vec_f = hand.hand_complicated_vec if complicated else hand.hand_vec
    got_vec = jacobian(vec_f, argnums=argnums)(*args, joints, depth)
    for i, g, gv in zip(argnums, got, got_vec):
        want = np.moveaxis(central(f, args, i), 0, -1)
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(gv, want, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_gradients_match_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from ports import jax_lstm, on

    from ad_compiler import grad

    args, tri = gmm_inputs()
    want = jax.grad(on(gmm.gmm_vec, jax.numpy), (0, 1, 2))(*args, tri)
    got = grad(gmm.gmm_loop, argnums=(0, 1, 2))(*args)
    for g, h in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(h), rtol=1e-10, atol=1e-10)
    largs = lstm.make_lstm(2, 4, 7)
    want = jax.grad(jax_lstm(jax, jax.numpy), (0, 1))(*largs)
    got = grad(lstm.lstm_loop, argnums=(0, 1))(*largs)
    for g, h in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(h), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------
# run.py and its README
# --------------------------------------------------------------------------


def section_numbers(readme_text):
    """The number tokens of the README's generated results section."""
    start = readme_text.index(report.BEGIN) + len(report.BEGIN)
    end = readme_text.index(report.END)
    body = readme_text[start:end].replace("ratios.png", "")
    return report.NUMBER.findall(body)


def missing_numbers(readme_text, results):
    allowed = report.numbers_of(results)
    return [t for t in section_numbers(readme_text) if t not in allowed]


def test_committed_readme_numbers_all_come_from_results_json():
    results = json.loads((ADBENCH / "results.json").read_text())
    text = (ADBENCH / "README.md").read_text()
    assert len(section_numbers(text)) > 50  # the tables are there
    assert missing_numbers(text, results) == []
    assert not results["meta"]["quick"]  # the committed run is the full one
    # and the check can fail: a number that no run wrote is caught
    forged = text.replace(report.END, "| 123457.5 |\n" + report.END)
    assert missing_numbers(forged, results) == ["123457.5"]


@pytest.mark.slow
def test_quick_run_writes_results_readme_and_checks_every_derivative(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(ADBENCH / "run.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    problems = {r["problem"] for r in results["rows"]}
    assert problems == {"GMM", "BA", "Hand simple", "Hand complicated", "LSTM"}
    assert results["meta"]["quick"] and results["meta"]["failures"] == []
    forms = {
        (r["problem"], r["form"]) for r in results["rows"] if "ad_compiler" in r["tool"]
    }
    assert len(forms) == 10  # ad_compiler differentiated both forms of all five
    for r in results["rows"]:
        assert r["derivative_ms"] > 0 and r["objective_ms"] > 0
        assert r["vs_differences"] < 1e-5
    assert [f["n"] for f in results["fill"]] == [20, 40, 80, 160]
    assert any(m["form"] == "loop" for m in results["memory"])
    text = (tmp_path / "README.md").read_text()
    assert "### GMM" in text and missing_numbers(text, results) == []
    # the committed README outside the results section is kept as it is
    committed = (ADBENCH / "README.md").read_text()
    assert text.split(report.BEGIN)[0] == committed.split(report.BEGIN)[0]
    assert text.split(report.END)[1] == committed.split(report.END)[1]
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "ratios.png").stat().st_size > 10_000
