"""Sizes and integers (issue 16, item 5): ``n, d = X.shape``, ``X.ndim``,
integer arithmetic on sizes in bounds, slices and shapes, ``divmod``,
``int()``/``float()``, static ``axis=``/``keepdims=`` given through a helper's
parameters or a module constant (``print`` is tests/test_print.py).

Sizes have no derivative; every function here is checked against central
differences in reverse mode (``grad``) and forward mode (``jvp`` along a
random direction), and a few to second order (``hessian`` against central
differences of the gradient).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ad_compiler import grad, hessian, jvp
from ad_compiler.errors import CompileError

H = 1e-6
RNG = np.random.default_rng(16)
X = RNG.uniform(0.5, 1.5, size=(4, 3))


def numeric_grad(f, x, h=H):
    """∇f(x) by central differences, one entry at a time."""
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = h
        g[k] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# --- the functions ---------------------------------------------------------------------
def unpack_shape(X):
    n, d = X.shape
    return np.sum(X**2) / n + d


def unpack_named_shape(X):
    s = X.shape
    rows, cols = s
    Y = X.reshape((rows, -1))
    return np.sum(Y**3) / (2 * cols)


def shape_items(X):
    T = X.shape[0]
    k = X.shape[-1]
    return np.sum(X[: T // 2] ** 2) * k - np.sum(X[T - 1])


def sizes_in_ranges(X):
    n, d = X.shape
    s = 0.0
    for i in range(n - 1):
        s = s + np.sum(X[i] * X[i + 1])
    return s / (2 * d) + len(X)


def sizes_in_constructors(X):
    n, d = X.shape
    Z = np.zeros((n, d)) + X
    w = np.ones(d) / d
    out = np.zeros(n)
    for i in range(n):
        out[i] = np.sum(Z[i] * w)
    return np.sum(out**2) / X.size


def ndim_and_size(X):
    return np.sum(np.sin(X)) * X.ndim / X.size


def divmod_floats(x):
    q, r = divmod(x, 0.7)
    return q * x + r * r


def divmod_arrays(X):
    q, r = divmod(X, 0.4)
    return np.sum(q * X + np.sin(r))


def divmod_ints(X):
    n, d = X.shape
    half, odd = divmod(n, 2)
    return np.sum(X[:half]) * (odd + 1.0) + np.sum(X[half:] ** 2)


def int_float(x):
    return float(x) * x + int(x) * x


def red(a, axis):
    return np.sum(a, axis=axis)


def red_default(a, keep, axis=-1):
    return np.mean(a, axis=axis, keepdims=keep)


AXIS = 0


def axis_positional(X):
    return np.sum(red(X, 0) ** 2)


def axis_keyword(X):
    return np.sum(red(X, axis=1) ** 3)


def axis_default(X):
    return np.sum(red_default(X, True) * X)


def axis_module_constant(X):
    return np.sum(np.sum(X, axis=AXIS) ** 2) + np.sum(red(X, AXIS))


def axis_tuple(X):
    return red(np.sin(X), (0, 1))


ARRAY_FUNCTIONS = [
    unpack_shape,
    unpack_named_shape,
    shape_items,
    sizes_in_ranges,
    sizes_in_constructors,
    ndim_and_size,
    divmod_arrays,
    divmod_ints,
    axis_positional,
    axis_keyword,
    axis_default,
    axis_module_constant,
    axis_tuple,
]


@pytest.mark.parametrize("f", ARRAY_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.fast_sample(every=8)
def test_both_modes_match_central_differences(f):
    expected = numeric_grad(f, X)
    g = grad(f)(X)
    assert g.dtype == np.float64  # a size times a float stays a float
    np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-7)
    v = RNG.standard_normal(X.shape)
    y, t = jvp(f, (X,), (v,))
    assert y == pytest.approx(f(X))
    assert t == pytest.approx(np.sum(expected * v), rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("f", [divmod_floats, int_float], ids=lambda f: f.__name__)
def test_scalar_integers_match_central_differences(f):
    for x in (1.3, 2.9, -1.1):
        expected = (f(x + H) - f(x - H)) / (2 * H)
        assert grad(f)(x) == pytest.approx(expected, rel=1e-6)
        assert jvp(f, (x,), (1.0,))[1] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "f", [unpack_named_shape, axis_keyword, divmod_ints], ids=lambda f: f.__name__
)
def test_hessians_match_differences_of_the_gradient(f):
    g = grad(f)
    expected = np.stack(
        [
            ((g(X + e) - g(X - e)) / (2 * H)).ravel()
            for e in (np.eye(X.size) * H).reshape((X.size,) + X.shape)
        ],
        axis=1,
    )
    np.testing.assert_allclose(
        hessian(f)(X).reshape(X.size, X.size), expected, rtol=1e-5, atol=1e-6
    )


def test_a_shape_unpacked_into_the_wrong_number_of_names_is_refused():
    with pytest.raises(CompileError) as info:
        grad(unpack_shape)(np.ones((2, 2, 2)))
    assert info.value.message == (
        "cannot unpack the shape of `X` into 2 names: it has another number of axes"
    )
    assert info.value.loc.line == unpack_shape.__code__.co_firstlineno + 1


def computed_axis(X):
    k = X.shape[0] - 4
    return np.sum(np.sum(X, axis=k))


def test_an_axis_computed_at_run_time_is_refused_with_the_alternatives():
    with pytest.raises(CompileError) as info:
        grad(computed_axis)(X)
    assert info.value.message.startswith("`axis` must be a literal")
    assert "`k` is computed when the function runs" in info.value.hint
    assert "module-level constant" in info.value.hint


def test_the_emitted_code_reads_sizes_as_the_user_wrote_them():
    source = grad(unpack_named_shape).source
    assert "s = X.shape" in source
    assert "rows = s[0]" in source and "cols = s[1]" in source
    assert "np.reshape(X, (rows, -1))" in source


CLI_FILE = """\
import numpy as np

AXIS = 1


def red(a, axis=AXIS):
    return np.sum(a, axis=axis)


def loss(X, w):
    n, d = X.shape
    r = X @ w
    q, m = divmod(n, 2)
    return np.sum(red(X[:q]) ** 2) + np.sum(r**2) / (2 * n) + X.ndim * m
"""


@pytest.mark.slow  # two subprocesses
def test_the_cli_compiles_sizes(tmp_path):
    path = tmp_path / "shapes.py"
    path.write_text(CLI_FILE)
    out = tmp_path / "out.py"
    run = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(path)]
        + ["--function", "loss", "--shape", "X=n,3", "w=3", "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    emitted = out.read_text()
    assert "n = X.shape[0]" in emitted and "q = n // 2" in emitted
    namespace: dict = {}
    exec(compile(emitted, str(out), "exec"), namespace)
    Xc, w = RNG.uniform(0.5, 1.5, (5, 3)), RNG.uniform(-1, 1, 3)
    source_ns: dict = {}
    exec(compile(CLI_FILE, str(path), "exec"), source_ns)
    f = source_ns["loss"]
    gX, gw = namespace["loss_grad"](Xc, w)
    np.testing.assert_allclose(
        gw, numeric_grad(lambda v: f(Xc, v), w), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        gX, numeric_grad(lambda v: f(v, w), Xc), rtol=1e-6, atol=1e-8
    )
    wrong = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(path)]
        + ["--function", "loss", "--shape", "X=n,3,2", "w=2"],
        capture_output=True,
        text=True,
    )
    assert wrong.returncode != 0
    assert "cannot unpack the shape of `X` into 2 names" in wrong.stderr
