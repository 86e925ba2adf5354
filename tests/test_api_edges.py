"""API edges: defaults left out of Jacobians, Hessians and hvp (API and CLI);
threads compiling their first derivatives at once.

Expected values are central differences of the function itself (step 1e-5,
second differences 1e-4: agreement to 1e-6 relative), or worked out by hand
where stated.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from ad_compiler import gauss_newton, hessian, hvp, jacfwd, jacobian, jacrev

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def with_default(x, y, n=3.0):
    return x * x * y * n + math.sin(x * y) / n


def array_default(x, y=2.0, p=0.5):
    return np.sum(np.sin(x) * y + p * x * x)


def vector_default(x, y, s=2.0):
    return x * y * s, x + s * y


def _d(f, args, i, h=1e-5):
    """∂f/∂args[i] by central differences (f returns a number or a tuple)."""
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    a, b = f(*up), f(*down)
    if isinstance(a, tuple):
        return tuple((u - v) / (2 * h) for u, v in zip(a, b))
    return (a - b) / (2 * h)


def _d2(f, args, i, j, h=1e-4):
    return _d(lambda *a: _d(f, a, j, h), args, i, h)


@pytest.mark.parametrize("which", [jacfwd, jacrev, jacobian])
def test_jacobians_of_scalar_code_fill_left_out_defaults(which):
    J = which(with_default, argnums=(0, 1))
    got = J(0.7, 1.3)  # n left out: 3.0
    expected = [_d(with_default, (0.7, 1.3, 3.0), i) for i in (0, 1)]
    assert got == pytest.approx(expected, rel=1e-6)
    given = J(0.7, 1.3, 5.0)  # and given: not the default
    assert given == pytest.approx(
        [_d(with_default, (0.7, 1.3, 5.0), i) for i in (0, 1)], rel=1e-6
    )


def test_jacobian_of_two_outputs_with_a_default():
    J = jacfwd(vector_default, argnums=(0, 1))(1.5, -0.5)
    # rows: ∂(x·y·s)/∂(x, y) = (y·s, x·s); ∂(x + s·y)/∂(x, y) = (1, s); s = 2
    assert J == ((-1.0, 3.0), (1.0, 2.0))


def test_hessian_and_hvp_of_scalar_code_fill_left_out_defaults():
    args = (0.7, 1.3, 3.0)
    H = hessian(with_default, argnums=(0, 1))(0.7, 1.3)
    expected = [[_d2(with_default, args, i, j) for j in (0, 1)] for i in (0, 1)]
    assert np.allclose(H, expected, rtol=1e-6)
    Hv = hvp(with_default, argnums=(0, 1))(0.7, 1.3, 1.0, -2.0)  # the last 2: v
    assert Hv == pytest.approx(np.array(expected) @ [1.0, -2.0], rel=1e-6)
    Hv5 = hvp(with_default, argnums=(0, 1))(0.7, 1.3, 5.0, 1.0, -2.0)
    H5 = [[_d2(with_default, (0.7, 1.3, 5.0), i, j) for j in (0, 1)] for i in (0, 1)]
    assert Hv5 == pytest.approx(np.array(H5) @ [1.0, -2.0], rel=1e-6)


def test_gauss_newton_fills_left_out_defaults():
    G = gauss_newton(vector_default, argnums=(0, 1))(1.5, -0.5)
    J = np.array([[-1.0, 3.0], [1.0, 2.0]])  # as above
    assert np.allclose(G, J.T @ J)


def test_too_few_arguments_is_pythons_type_error():
    with pytest.raises(TypeError, match=r"takes 2 to 3 positional arguments but 1"):
        jacfwd(with_default)(0.7)


def test_array_code_fills_left_out_defaults():
    x = np.array([0.3, -1.2, 2.0])
    # d/dx Σ(sin x·y + p·x²) = y·cos x + 2p·x with y = 2, p = 0.5
    grad_expected = 2.0 * np.cos(x) + x
    for which in (jacfwd, jacrev, jacobian):
        np.testing.assert_allclose(which(array_default)(x), grad_expected, rtol=1e-12)
    # Hessian: diag(-y·sin x + 2p)
    np.testing.assert_allclose(
        hessian(array_default)(x), np.diag(-2.0 * np.sin(x) + 1.0), rtol=1e-12
    )
    v = np.array([1.0, 0.0, -1.0])
    np.testing.assert_allclose(
        hvp(array_default)(x, v), (-2.0 * np.sin(x) + 1.0) * v, rtol=1e-12
    )
    np.testing.assert_allclose(  # y given, p left out
        jacfwd(array_default)(x, 3.0), 3.0 * np.cos(x) + x, rtol=1e-12
    )


DEFAULTS_FILE = """\
import math


def f(x, y, n=3.0):
    return x * x * y * n + math.sin(x * y) / n


def two(x, y, s=2.0):
    return x * y * s, x + s * y
"""


def _console_script(*args, cwd):
    exe = os.path.join(os.path.dirname(sys.executable), "adc")
    return subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _compile(tmp_path, *options, adc=_console_script):
    (tmp_path / "d.py").write_text(DEFAULTS_FILE)
    out = tmp_path / "out.py"
    run = adc("compile", "d.py", *options, "-o", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    namespace = {}
    exec(out.read_text(), namespace)
    return out.read_text(), namespace


def test_cli_hessian_wrapper_keeps_the_defaults(tmp_path, adc_in_process):
    """(In-process; its slow siblings below run the console script.)"""
    options = ("--function", "f", "--mode", "hessian")
    text, ns = _compile(tmp_path, *options, adc=adc_in_process)
    assert "def f_hessian(x, y, n=3.0):" in text
    H = ns["f_hessian"](0.7, 1.3)  # n left out
    expected = [
        [_d2(with_default, (0.7, 1.3, 3.0), i, j) for j in range(3)] for i in range(3)
    ]
    assert np.allclose(H, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.slow  # a subprocess; the fast tier keeps the CLI hessian wrapper's twin
def test_cli_jacobian_wrapper_keeps_the_defaults(tmp_path):
    text, ns = _compile(tmp_path, "--function", "two", "--mode", "jacobian")
    assert "def two_jacobian(x, y, s=2.0):" in text
    J = ns["two_jacobian"](1.5, -0.5)
    # ∂/∂(x, y, s) of x·y·s and of x + s·y at s = 2: (y·s, x·s, x·y), (1, s, y)
    assert J == ((-1.0, 3.0, -0.75), (1.0, 2.0, -0.5))


@pytest.mark.slow  # a subprocess; the fast tier keeps the CLI hessian wrapper's twin
def test_cli_symbolic_keeps_the_defaults(tmp_path):
    text, ns = _compile(tmp_path, "--function", "f", "--mode", "symbolic")
    assert "def f_grad(x, y, n=3.0):" in text
    g = ns["f_grad"](0.7, 1.3)  # n left out, as reverse mode allows
    expected = [_d(with_default, (0.7, 1.3, 3.0), i) for i in range(3)]
    assert np.allclose(g, expected, rtol=1e-6)


def two_defaults(x, y=2.0, z=3.0):
    return x * y * z + x * x


def test_jvp_and_vjp_take_a_prefix_of_the_parameters_filling_the_defaults():
    from ad_compiler import jvp, vjp

    # as JAX: the rest take their defaults, with tangent 0
    assert jvp(two_defaults, (1.0,), (1.0,)) == (7.0, 8.0)
    assert jvp(two_defaults, (1.0, 4.0), (0.0, 1.0)) == (13.0, 3.0)
    y, pullback = vjp(two_defaults, 1.0)
    assert (y, pullback(1.0)) == (7.0, (8.0,))
    y, pullback = vjp(two_defaults, 1.0, 4.0)
    assert (y, pullback(1.0)) == (13.0, (14.0, 3.0))
    y, pullback = vjp(array_default, np.array([0.5, 1.0]))
    assert np.allclose(pullback(1.0)[0], 2.0 * np.cos([0.5, 1.0]) + [0.5, 1.0])


def test_jvp_with_too_few_primals_says_how_many():
    from ad_compiler import jvp
    from ad_compiler.errors import UsageError

    with pytest.raises(
        UsageError, match=r"`with_default` takes 2 to 3 arguments, got 1 primals"
    ):
        jvp(with_default, (1.0,), (1.0,))


def vector_of(X, s=2.0):
    return np.sin(X) * s


def sum_of(X, s=2.0):
    return np.sum(np.sin(X) * s)


def scaled(x, s):
    return x * x * s


@pytest.mark.parametrize("which", [jacfwd, jacrev, jacobian])
def test_jacobians_take_keywords(which):
    X = np.array([0.1, 0.2])
    assert np.allclose(which(vector_of)(X, s=3.0), np.diag(3.0 * np.cos(X)))
    with pytest.raises(TypeError, match="unexpected keyword argument 't'"):
        which(vector_of)(X, t=3.0)
    with pytest.raises(TypeError, match="multiple values for argument 'X'"):
        which(vector_of)(X, X=X)


def test_hessian_and_hvp_take_keywords():
    X, V = np.array([0.1, 0.2]), np.array([1.0, 0.0])
    assert np.allclose(hessian(sum_of)(X, s=3.0), np.diag(-3.0 * np.sin(X)))
    assert np.allclose(hvp(sum_of)(X, V, s=3.0), [-3.0 * np.sin(0.1), 0.0])
    assert hessian(with_default)(0.7, y=1.3) == hessian(with_default)(0.7, 1.3)
    assert hessian(scaled)(1.0, s=5.0) == 10.0
    assert hvp(scaled)(1.0, 1.0, s=5.0) == 10.0
    with pytest.raises(TypeError, match="missing required argument: 'y'"):
        hessian(with_default)(0.7, n=2.0)


# --- threads ------------------------------------------------------------------------------
STRESS = r"""
import linecache, math, sys, threading
import numpy as np
from ad_compiler import grad, hessian

N = 20
src = "".join(
    f"def f{i}(x):\n    return math.sin(x) * {i + 1}.0 + x * x\n\n\n"
    f"def a{i}(w):\n    return np.sum(np.tanh(w) * {i + 1}.0)\n\n\n"
    for i in range(N)
)
linecache.cache["<stress>"] = (len(src), None, src.splitlines(True), "<stress>")
ns = {"math": math, "np": np}
exec(compile(src, "<stress>", "exec"), ns)
shared = ns["f0"]
problems = []


def run_round(work):
    barrier = threading.Barrier(N)
    out = [None] * N

    def one(i):
        try:
            barrier.wait()
            out[i] = work(i)
        except Exception as e:  # what the test is about: none may escape
            problems.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


assert "black" not in sys.modules  # the first grad imports it, in a thread
x = 0.5
# each thread its own first derivative (black imported lazily, at once)
got = run_round(lambda i: grad(ns[f"f{i}"])(x))
want = [math.cos(x) * (i + 1) + 2 * x for i in range(N)]  # d/dx sin(x)·c + x²
if got != want:
    problems.append(f"values {got} != {want}")
# one derivative asked for by every thread: compiled once, one object
objects = run_round(lambda i: grad(shared, argnums=0))
if len({id(o) for o in objects}) != 1:
    problems.append(f"{len({id(o) for o in objects})} objects for one derivative")
# array code meeting new shapes in every thread at once
w = np.linspace(-1.0, 1.0, 5)
arrays = run_round(lambda i: grad(ns[f"a{i % 4}"])(w).tolist())
for i, g in enumerate(arrays):
    expected = ((i % 4 + 1) * (1 - np.tanh(w) ** 2)).tolist()  # c·(1 - tanh²)
    if g is None or not np.allclose(g, expected, rtol=1e-12):
        problems.append(f"array gradient {i}: {g}")
hs = run_round(lambda i: hessian(ns[f"f{i}"])(x))
for i, h in enumerate(hs):  # -sin(x)·c + 2
    if h is None or abs(h - (-math.sin(x) * (i + 1) + 2)) > 1e-12:
        problems.append(f"hessian {i}: {h}")
print("\n".join(problems) or "ok")
"""


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(4))
def test_twenty_threads_compiling_first_derivatives_at_once(round_):
    """20 threads released together by a barrier, in a fresh interpreter (black,
    numpy's lazy parts and every cache cold): no exception, right values, one
    object per derivative.  Several rounds: the race it guards against (black
    imported half-way by another thread) showed in about one run in two."""
    run = subprocess.run(
        [sys.executable, "-c", STRESS],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
