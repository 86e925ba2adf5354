"""The emitted derivatives called with Dask arrays (docs/scaling.md).

A derivative called with chunked Dask data compiles its lazy form
(ad_compiler/backend/lazy_form.py): the call builds Dask's graph and computes
nothing; computing that graph gives the NumPy result.  Checked here:

* six vectorised models (logistic regression, a two-layer network, softmax
  regression, least squares with a ridge term, slices of the data, the
  mean/var/max/std reductions): the gradient is lazy (built under a scheduler
  that raises), raises no warning, and equals NumPy's to rtol 1e-10 under the
  threaded scheduler and, in the slow tier, on a ``dask.distributed``
  LocalCluster of two worker processes;
* value_and_grad, jvp, vjp (its pullback applied to a lazy cotangent),
  jacfwd, jacrev and hessian stay lazy too;
* the 10**8 x 10 logistic regression of the issue: its gradient's graph builds
  in seconds without computing, and a 4*10**6-row slice computes NumPy's value;
* the table of docs/scaling.md (tests/dask_table.py: every array row's emitted
  spelling applied to Dask inputs) is the one the registry gives today.
"""

import time
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

from ad_compiler import (  # noqa: E402
    grad,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)

# --- the models (module-level: ad_compiler reads their source) ----------------------


def logistic(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def mlp(W1, b1, W2, X, y):
    h = np.tanh(X @ W1 + b1)
    return np.mean((h @ W2 - y) ** 2)


def softmax_regression(W, X, Y):
    Z = X @ W
    lse = np.log(np.sum(np.exp(Z), axis=1))
    return np.mean(lse - np.sum(Z * Y, axis=1))


def ridge(w, X, y, lam):
    r = X @ w - y
    return 0.5 * np.sum(r * r) + lam * np.sum(w * w)


def sliced(w, X, y):
    a = X[:, :3] @ w[:3]
    b = X[:, 3:] @ w[3:]
    return np.sum((a * b - y) ** 2) + np.sum(X[0] * w) + np.sum(X[-2, 1:4] * w[:3])


def reductions(w, X):
    z = X @ w
    return np.mean(z) + np.var(z) + np.max(z) + np.std(X[:, 0] * w[0])


N, D, CHUNK = 1000, 10, 300  # four chunks of rows, the last one short


def _data(seed=0):
    """NumPy data (X, y, one-hot Y) and the parameters of each model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = (rng.random(N) < 0.5) * 1.0
    Y = np.eye(3)[rng.integers(0, 3, N)]
    w = rng.normal(size=D) * 0.3
    cases = {
        "logistic": (logistic, (w, X, y), 0),
        "mlp": (
            mlp,
            (
                rng.normal(size=(D, 5)) * 0.3,
                rng.normal(size=5),
                rng.normal(size=5),
                X,
                y,
            ),
            (0, 1, 2),
        ),
        "softmax_regression": (softmax_regression, (rng.normal(size=(D, 3)), X, Y), 0),
        "ridge": (ridge, (w, X, y, 0.1), 0),
        "sliced": (sliced, (w, X, y), 0),
        "reductions": (reductions, (w, X), 0),
    }
    return cases


CASES = _data()


def chunked(args):
    """The data arguments (2-d arrays and vectors of N rows) as Dask arrays of
    CHUNK rows; the parameters stay NumPy's."""
    return tuple(
        (
            da.from_array(a, chunks=(CHUNK,) + a.shape[1:])
            if isinstance(a, np.ndarray) and a.shape[0] == N
            else a
        )
        for a in args
    )


def _computing(*args, **kwargs):
    raise AssertionError("the graph was computed while it was being built")


def built_lazily(call):
    """``call()`` under a scheduler that raises: what it returns was built
    without computing anything (and without a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with dask.config.set(scheduler=_computing):
            return call()


def leaves(value):
    return list(value) if isinstance(value, tuple) else [value]


def assert_lazy_and_equal(got, expected, rtol=1e-10):
    got, expected = leaves(got), leaves(expected)
    assert len(got) == len(expected)
    assert all(isinstance(g, da.Array) for g in got), [type(g) for g in got]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = dask.compute(*got)
    for v, e in zip(values, expected):
        np.testing.assert_allclose(v, e, rtol=rtol, atol=0)


# --- gradients on the threaded scheduler ------------------------------------------------


@pytest.mark.fast_sample(first=2)  # logistic regression and the MLP; the rest slow
@pytest.mark.parametrize("name", list(CASES))
def test_gradient_on_chunked_data_is_lazy_and_equals_numpy(name):
    f, args, argnums = CASES[name]
    expected = grad(f, argnums=argnums)(*args)
    lazy = chunked(args)
    got = built_lazily(lambda: grad(f, argnums=argnums)(*lazy))
    with dask.config.set(scheduler="threads"):
        assert_lazy_and_equal(got, expected)


@pytest.mark.fast_sample(first=1)
@pytest.mark.parametrize("name", ["sliced", "reductions"])
def test_the_lazy_form_is_compiled_beside_the_numpy_one(name):
    """The same derivative object keeps both: a NumPy call after a Dask call
    gets NumPy's form and NumPy arrays back.  NumPy's form adds in place and
    reads np.size / np.broadcast; the lazy form reads shapes only."""
    f, args, _ = CASES[name]
    g = grad(f)
    assert isinstance(built_lazily(lambda: g(*chunked(args))), da.Array)
    assert type(g(*args)) is np.ndarray
    numpy_source = g.specialize(*args).source
    lazy_source = g.specialize(*chunked(args)).source
    assert "+=" in numpy_source and "+=" not in lazy_source
    assert "np.size(" in numpy_source or "np.broadcast(" in numpy_source
    assert "np.size(" not in lazy_source and "np.broadcast(" not in lazy_source


def test_value_and_grad_jvp_and_vjp_stay_lazy():
    f, args, _ = CASES["logistic"]
    w, X, y = args
    lazy = chunked(args)
    got = built_lazily(lambda: value_and_grad(f)(*lazy))
    assert_lazy_and_equal(got, value_and_grad(f)(*args))
    dw = np.linspace(-1.0, 1.0, D)
    tangents = (dw, np.zeros_like(X), np.zeros_like(y))
    lazy_tangents = (dw,) + chunked(tangents[1:])
    got = built_lazily(lambda: jvp(f, lazy, lazy_tangents))
    assert_lazy_and_equal(got, jvp(f, args, tangents))
    value, pullback = built_lazily(lambda: vjp(f, *lazy))
    _, numpy_pullback = vjp(f, *args)
    cotangents = built_lazily(lambda: pullback(2.0))
    assert_lazy_and_equal(value, f(*args))
    assert_lazy_and_equal(cotangents, numpy_pullback(2.0))


def probabilities(w, X):
    return 1.0 / (1.0 + np.exp(-(X @ w)))


@pytest.mark.fast_sample(first=1)  # jacrev; jacfwd in the full suite
@pytest.mark.parametrize("jacobian", [jacrev, jacfwd])
def test_a_jacobian_and_a_hessian_of_lazy_data_stay_lazy(jacobian):
    """The Jacobian functions cut each block out of the vector-mode result
    (ad/jacobians.py ``_Blocks``) in the result's own library: Dask's blocks
    stay lazy."""
    w, X = CASES["logistic"][1][:2]
    lazy = chunked((w, X))
    got = built_lazily(lambda: jacobian(probabilities)(*lazy))
    assert_lazy_and_equal(got, jacobian(probabilities)(w, X))
    f, args, _ = CASES["logistic"]
    got = built_lazily(lambda: hessian(f)(*chunked(args)))
    assert_lazy_and_equal(got, hessian(f)(*args))


def gathered(w, idx):
    return np.sum(w[idx] ** 2)


def test_a_dask_index_array_fails_loudly_rather_than_dropping_repeats():
    """The adjoint of w[idx] adds at every index (np.add.at: idx may repeat).
    Dask implements no np.add.at, so an index array given as a Dask array
    raises; it never falls back to a write, which would keep one of the
    repeated places' adjoints only (docs/scaling.md)."""
    w, idx = np.arange(1.0, 5.0), np.array([0, 2, 2, 3])
    np.testing.assert_array_equal(grad(gathered)(w, idx), [2.0, 0.0, 12.0, 8.0])
    with pytest.raises(TypeError, match="at"):
        grad(gathered)(w, da.from_array(idx, chunks=2))


# --- a dask.distributed cluster of two worker processes -----------------------------


@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("dask.distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit="1GiB",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.mark.slow  # two worker processes: about 3 s to start, then fast
def test_gradients_on_a_two_process_local_cluster(cluster_client):
    assert len(cluster_client.scheduler_info()["workers"]) == 2
    for name in ("logistic", "mlp", "softmax_regression"):
        f, args, argnums = CASES[name]
        expected = grad(f, argnums=argnums)(*args)
        got = built_lazily(lambda: grad(f, argnums=argnums)(*chunked(args)))
        futures = cluster_client.compute(leaves(got))
        values = cluster_client.gather(futures)
        for v, e in zip(values, leaves(expected)):
            np.testing.assert_allclose(v, e, rtol=1e-10, atol=0)
        # dask.compute runs on the client's cluster too (it is the default)
        assert_lazy_and_equal(got, expected)


# --- the 10**8 x 10 data ---------------------------------------------------------


@pytest.mark.slow  # computes a 4*10**6-row slice: about 6 s on two cores
def test_a_1e8_row_gradient_builds_in_seconds_and_a_slice_matches_numpy():
    rows, chunk = 10**8, 2_000_000
    X = da.random.default_rng(0).normal(size=(rows, D), chunks=(chunk, D))
    y = (da.random.default_rng(1).random(rows, chunks=chunk) < 0.5) * 1.0
    w = np.linspace(-0.5, 0.5, D)
    start = time.perf_counter()
    g = built_lazily(lambda: grad(logistic)(w, X, y))
    assert time.perf_counter() - start < 5.0  # a hang guard: about 0.3 s here
    assert isinstance(g, da.Array) and g.shape == (D,)
    n = 4 * 10**6
    g_slice = built_lazily(lambda: grad(logistic)(w, X[:n], y[:n]))
    with dask.config.set(scheduler="threads"):
        got, Xn, yn = dask.compute(g_slice, X[:n], y[:n])
    np.testing.assert_allclose(got, grad(logistic)(w, Xn, yn), rtol=1e-10, atol=0)


# --- the registry's table (docs/scaling.md) ------------------------------------------


def test_the_rows_the_models_use_stay_lazy_and_the_shape_rows_read_shapes():
    import dask_table

    from ad_compiler.primitives.table import PRIMITIVES

    for prim in ("matmul", "mean", "sum", "getitem", "unindex", "setitem", "like"):
        _, result = dask_table.row_result(prim, list(PRIMITIVES[prim].samples))
        assert result == "lazy", prim
    extra = dask_table.EXTRA_SAMPLES
    assert dask_table.row_result("size_of_shape", extra["size_of_shape"]) == (
        "np.prod(np.shape(x0), dtype=int)",
        "shape only",
    )
    # NumPy's spelling, which the lazy form replaces, warns (Dask has no np.size)
    assert dask_table.row_result("size", extra["size"])[1].startswith("warns")


@pytest.mark.slow  # every row of the registry on Dask arrays: about 5 s
def test_the_table_in_docs_scaling_md_is_the_registrys():
    import os

    import dask_table

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "scaling.md"), encoding="utf-8") as f:
        doc = f.read()
    block = doc.split("python tests/dask_table.py -->\n```text\n", 1)[1]
    block = block.split("\n```", 1)[0]
    assert block == dask_table.table(), "run `python docs/regenerate.py` with Dask"


# --- samples/scale_out.py ---------------------------------------------------------------


@pytest.mark.slow  # a subprocess starting a 2-process LocalCluster: about 10 s
def test_the_scale_out_sample_trains_on_a_local_cluster(tmp_path):
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    plot = tmp_path / "loss.png"
    run = subprocess.run(
        [sys.executable, os.path.join(root, "samples", "scale_out.py"), "--quick"]
        + ["--plot", str(plot)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    losses = [
        float(line.rsplit("loss ", 1)[1])
        for line in run.stdout.split("\n")
        if line.startswith("step ")
    ]
    assert len(losses) == 8  # two epochs of four batches
    assert losses[0] == pytest.approx(np.log(2.0))  # w = 0, b = 0: p = 1/2
    assert max(losses[-4:]) < 0.46  # it learns (over all rows the least loss is 0.4515)
    assert "2 workers" in run.stdout and "peak memory of each worker" in run.stdout
    with open(plot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
