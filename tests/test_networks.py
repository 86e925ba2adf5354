"""The seeds' networks (samples/networks.py): emitted gradients against
hand-written matrix backpropagation, from the API and from ``adc compile``."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from test_golden import check_golden

from ad_compiler import grad, jvp, value_and_grad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "samples"))
import networks  # noqa: E402

RNG = np.random.default_rng(3)
D, H, K, N = 5, 4, 3, 7


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def by_hand_two_layer_sigmoid(W1, b1, W2, b2, x, c):
    z = W1 @ x + b1
    v = sigmoid(z)
    y = W2 @ v + b2
    dy = y - c  # ∂L/∂y
    dz = (W2.T @ dy) * v * (1 - v)  # ∂L/∂v ⊙ σ′(z)
    return np.outer(dz, x), dz, np.outer(dy, v), dy


def by_hand_tanh_mlp(W1, b1, W2, b2, X, Y):
    Hd = np.tanh(X @ W1 + b1)
    d_out = (Hd @ W2 + b2 - Y) / len(X)
    d_hidden = (d_out @ W2.T) * (1 - Hd**2)
    return X.T @ d_hidden, d_hidden.sum(0), Hd.T @ d_out, d_out.sum(0)


def by_hand_logistic_regression(w, b, X, y):
    p = sigmoid(X @ w + b)
    dz = (p - y) / len(X)
    return X.T @ dz, dz.sum()


def by_hand_softmax_classifier(W, b, X, Y):
    Z = X @ W + b
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    dZ = (P - Y) / len(X)
    return X.T @ dZ, dZ.sum(0)


LABELS = (RNG.random(N) > 0.5).astype(float)
ONE_HOT = np.eye(K)[RNG.integers(0, K, N)]
CASES = {
    "two_layer_sigmoid": (
        [RNG.normal(size=(H, D)), RNG.normal(size=H), RNG.normal(size=(K, H))]
        + [RNG.normal(size=K), RNG.normal(size=D), RNG.normal(size=K)],
        4,
        "W1=h,d b1=h W2=k,h b2=k x=d c=k",
    ),
    "tanh_mlp": (
        [RNG.normal(size=(D, H)), RNG.normal(size=H), RNG.normal(size=(H, K))]
        + [RNG.normal(size=K), RNG.normal(size=(N, D)), RNG.normal(size=(N, K))],
        4,
        "W1=d,h b1=h W2=h,k b2=k X=n,d Y=n,k",
    ),
    "logistic_regression": (
        [RNG.normal(size=D), 0.3, RNG.normal(size=(N, D)), LABELS],
        2,
        "w=d b= X=n,d y=n",
    ),
    "softmax_classifier": (
        [RNG.normal(size=(D, K)), RNG.normal(size=K), RNG.normal(size=(N, D)), ONE_HOT],
        2,
        "W=d,k b=k X=n,d Y=n,k",
    ),
}
BY_HAND = {
    "two_layer_sigmoid": by_hand_two_layer_sigmoid,
    "tanh_mlp": by_hand_tanh_mlp,
    "logistic_regression": by_hand_logistic_regression,
    "softmax_classifier": by_hand_softmax_classifier,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_emitted_gradient_is_hand_written_backprop(name):
    args, n, _ = CASES[name]
    f = getattr(networks, name)
    got = grad(f, argnums=tuple(range(n)))(*args)
    for g, want in zip(got, BY_HAND[name](*args)):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)
    value, _ = value_and_grad(f, argnums=0)(*args)
    assert value == pytest.approx(f(*args), rel=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_mode_agrees_with_reverse(name):
    """⟨∇f, ẋ⟩ from the gradient equals f's tangent along ẋ (one JVP)."""
    args, n, _ = CASES[name]
    f = getattr(networks, name)
    rng = np.random.default_rng(5)
    dirs = [
        rng.normal(size=np.shape(a)) if i < n else np.zeros(np.shape(a))
        for i, a in enumerate(args)
    ]
    dirs = [float(d) if np.ndim(d) == 0 else d for d in dirs]
    _, tangent = jvp(f, args, dirs)
    g = grad(f, argnums=tuple(range(n)))(*args)
    assert tangent == pytest.approx(sum(float(np.sum(a * d)) for a, d in zip(g, dirs)))


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.slow  # a subprocess each (about a second); test_cli_asks_for_shapes_it_needs is fast
def test_cli_module_computes_the_same_gradient(name, tmp_path):
    args, n, shape_spec = CASES[name]
    out = tmp_path / f"{name}_grad.py"
    wrt = ",".join(networks.__dict__[name].__code__.co_varnames[:n])
    cmd = [
        sys.executable,
        "-m",
        "ad_compiler.tools.cli",
        "compile",
        "samples/networks.py",
    ]
    cmd += ["--function", name, "--wrt", wrt, "--shape"] + shape_spec.split()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    out.write_text(text)
    assert "ad_compiler" not in text.split('"""', 2)[2].split("def ")[0]  # imports
    check_golden(f"networks.{name}.reverse.py.txt", text)
    spec = importlib.util.spec_from_file_location(out.stem, out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    got = getattr(module, f"{name}_grad")(*args)
    for g, want in zip(got, BY_HAND[name](*args)):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)


def test_cli_asks_for_shapes_it_needs(adc_in_process):
    """(In-process; the slow tests below run `adc compile` as subprocesses.)"""
    proc = adc_in_process(
        "compile", "samples/networks.py", "--function", "tanh_mlp", cwd=ROOT
    )
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == (
        "samples/networks.py:40:11: error: the adjoint of `@` needs to know how "
        "many axes its operands have"
    )
    assert lines[1] == "        out = H @ W2 + b2"
    assert lines[2] == "              ^~~~~~"
    assert lines[3].startswith("hint: give the shapes of the array parameters")
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # a subprocess; test_cli_asks_for_shapes_it_needs is fast
def test_cli_rejects_a_malformed_shape():
    cmd = [
        sys.executable,
        "-m",
        "ad_compiler.tools.cli",
        "compile",
        "samples/networks.py",
        "--shape",
        "W1=n,m+1",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "an axis is 1, ?, a number or a name, not 'm+1'" in proc.stderr


@pytest.mark.slow  # trains a network: about 10 s
def test_training_sample_reaches_the_accuracy_it_reports(tmp_path):
    """samples/train_digits.py, as the README runs it: 300 full-batch steps."""
    plot = tmp_path / "curve.png"
    proc = subprocess.run(
        [sys.executable, "samples/train_digits.py", "--plot", str(plot)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    # 0.989 (356/360) here; another BLAS may round differently along the way
    assert last.startswith("test accuracy: ")
    hits = int(last.split("(")[1].split("/")[0])
    assert hits >= 352, last
    assert plot.stat().st_size > 10_000


@pytest.mark.parametrize(
    "command, what",
    [
        (
            ["check", "samples/networks.py"],
            "adc check proves scalar code against SymPy",
        ),
        (
            ["trace", "samples/networks.py", "--function", "tanh_mlp", "--at", "X=1"],
            "adc trace prints the seeds' tables of scalar code",
        ),
    ],
)
@pytest.mark.slow  # a subprocess each; the scalar tools' own tests are fast
def test_scalar_tools_say_they_are_for_scalar_code(command, what):
    proc = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "uses the array operation `matmul` at line" in proc.stderr
    assert what in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow  # a subprocess; test_cli's seeds run emits a vjp (bishop_two_outputs) in the fast tier
def test_cli_emits_a_vjp_for_an_array_valued_function(tmp_path):
    src = tmp_path / "softmax.py"
    src.write_text(
        "import numpy as np\n\n\ndef softmax(z):\n"
        "    e = np.exp(z - np.max(z))\n    return e / np.sum(e)\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ad_compiler.tools.cli",
            "compile",
            str(src),
            "--shape",
            "z=n",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    namespace = {}
    exec(proc.stdout, namespace)
    z, y_bar = np.array([0.1, 0.5, -0.3]), np.array([1.0, -2.0, 0.5])
    p = np.exp(z) / np.exp(z).sum()
    expected = p * (y_bar - np.dot(p, y_bar))  # (diag(p) - p pᵀ) ȳ
    np.testing.assert_allclose(namespace["softmax_vjp"](z, y_bar), expected)
