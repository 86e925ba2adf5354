"""Regressions from the review of issue 17 with realistic numerical programs
(ICA, Bayesian regression, GP, Kalman filter, flows, Sinkhorn ...)."""

import textwrap

import numpy as np
import pytest

from ad_compiler import grad, hessian
from ad_compiler.tools.cli import main

KALMAN = textwrap.dedent("""
    import numpy as np


    def kalman(q, r, ys):
        F = np.array([[1.0, 1.0], [0.0, 1.0]])
        H = np.array([[1.0, 0.0]])
        m, P, ll = np.zeros(2), np.eye(2), 0.0
        for t in range(ys.shape[0]):
            m = F @ m
            P = F @ P @ F.T + q * np.eye(2)
            S = H @ P @ H.T + r * np.eye(1)
            v = ys[t] - H @ m
            ll = ll - 0.5 * (v @ np.linalg.solve(S, v) + np.linalg.slogdet(S)[1])
            K = P @ H.T @ np.linalg.inv(S)
            m = m + K @ v
            P = P - K @ S @ K.T
        return ll
    """)


def test_a_shape_hint_names_the_unshaped_number_parameters(tmp_path, capsys):
    """`q`, `r` are numbers the user did not declare: the hint used to ask only
    for "the shapes of the array parameters", which a user reads as done."""
    f = tmp_path / "kalman.py"
    f.write_text(KALMAN)
    out = tmp_path / "out.py"
    assert main(["compile", str(f), "--shape", "ys=6", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no shape is known for q, r (`--shape q=n,m` for an array, `q=` or" in err
    assert not out.exists()
    # and what the hint says works
    args = ["compile", str(f), "--shape", "ys=6", "q=", "r=", "-o", str(out)]
    assert main(args) == 0
    assert "def kalman_grad(q, r, ys):" in out.read_text()


def test_the_hint_is_added_for_errors_of_the_shape_pass_too(tmp_path, capsys):
    f = tmp_path / "blr.py"
    f.write_text(
        "import numpy as np\n\n\n"
        "def blr(log_alpha, X):\n"
        "    A = np.exp(log_alpha) * np.eye(X.shape[1]) + X.T @ X\n"
        "    return np.sum(np.log(np.diag(np.linalg.cholesky(A))))\n"
    )
    assert main(["compile", str(f), "--shape", "X=6,3", "-o", str(tmp_path / "o.py")])
    err = capsys.readouterr().err
    assert "`np.diag` needs to know how many axes" in err
    assert "no shape is known for log_alpha (`--shape log_alpha=n,m`" in err


def _central_hessian(f, x, *rest, e=1e-5):
    n = x.size
    g = grad(f)
    cols = []
    for k in range(n):
        d = np.zeros(n)
        d[k] = e
        up = g((x.ravel() + d).reshape(x.shape), *rest)
        down = g((x.ravel() - d).reshape(x.shape), *rest)
        cols.append(((up - down) / (2 * e)).ravel())
    return np.stack(cols, axis=1)


def _logdet_of_cholesky(theta):
    A = theta @ theta.T + np.eye(3)
    return 2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(A))))


def _diagonal_cubed(x):
    return np.sum(np.diagonal(x, 1) ** 3) + np.trace(x) * np.sum(np.diag(x) ** 2)


def _two_index_arrays(x):
    i = np.array([0, 2, 1])
    s = np.stack([x, x**2])
    return np.sum(x[i, i] ** 3 + s[:, i, i[::-1]] ** 2)


@pytest.mark.parametrize(
    "f",
    [_logdet_of_cholesky, _diagonal_cubed, _two_index_arrays],
    ids=lambda f: f.__name__,
)
@pytest.mark.fast_sample(every=4)
def test_hessians_through_a_diagonal(f):
    """np.diag of a matrix is x[i, i] with i = arange: two index arrays side by
    side give one axis, which vector mode needs to know (the Hessian of a
    Cholesky log-determinant, a GP's or a normalising flow's, failed with
    "vector mode needs to know how many axes this value has")."""
    x = np.random.default_rng(0).normal(size=(3, 3))
    h = np.asarray(hessian(f)(x)).reshape(x.size, x.size)
    np.testing.assert_allclose(h, _central_hessian(f, x), rtol=1e-6, atol=1e-6)


def _overwritten_before_read(x, C):
    # Sinkhorn's shape: f is overwritten each pass before it is read, so the
    # adjoint carried for it is a 0.0 in the loop, an array outside it
    f = np.zeros(3)
    g = np.zeros(3)
    for _ in range(3):
        f = np.log(np.sum(np.exp(g[None, :] - C), axis=1)) + x
        g = np.log(np.sum(np.exp(f[:, None] - C), axis=0)) * x
    return np.sum(f * g)


def test_hessian_of_a_loop_overwriting_a_carried_array():
    x = np.array([0.3, -0.2, 0.5])
    C = np.arange(9.0).reshape(3, 3) / 9
    h = hessian(_overwritten_before_read)(x, C)
    expected = _central_hessian(_overwritten_before_read, x, C)
    np.testing.assert_allclose(h, expected, rtol=1e-6, atol=1e-6)
