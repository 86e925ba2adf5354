"""Defects found while making real programs fast (issue 18), each pinned.

* ``np.concatenate`` joined the lengths of the axes it does not join along as
  if they were shapes: a crash (``len()`` of an int) when one is 1, as for a
  batch of one in an LSTM step ``np.concatenate([x, h], axis=1)``.
* ``np.zeros((n, k))`` with ``n, k = x.shape`` now has the axis lengths of x,
  so adjoints know no axis was broadcast (no run-time ``_sum_to``).
"""

import numpy as np
import pytest

from ad_compiler import grad


def step(x, w):
    h = np.zeros((x.shape[0], w.shape[1]))
    xh = np.concatenate([x, h], axis=1)
    return np.sum(np.tanh(xh @ w))


@pytest.mark.parametrize("batch", [1, 2])
def test_concatenate_of_a_batch_of_one(batch):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((batch, 3)), rng.standard_normal((5, 2))
    gx, gw = grad(step, argnums=(0, 1))(x, w)
    eps = 1e-6
    for arg, got in ((0, gx), (1, gw)):
        base = [x, w]
        for idx in np.ndindex(base[arg].shape):
            plus = [a.copy() for a in base]
            minus = [a.copy() for a in base]
            plus[arg][idx] += eps
            minus[arg][idx] -= eps
            fd = (step(*plus) - step(*minus)) / (2 * eps)
            assert got[idx] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def zeros_like_axes(x):
    n, k = x.shape
    h = np.zeros((n, k))
    return np.sum(np.sin(h + x) * x)


def test_zeros_of_axis_lengths_needs_no_runtime_broadcast_helpers():
    g = grad(zeros_like_axes)
    x = np.linspace(0.1, 1.0, 6).reshape(2, 3)
    np.testing.assert_allclose(g(x), np.sin(x) + x * np.cos(x), rtol=1e-12)
    assert "_sum_to(" not in g.source and "_like(" not in g.source


ROWS_WRITTEN = """import numpy as np


def f(x):
    y = x * 1.0
    for row in y:
        y[0] = y[0] + row
    return np.sum(y)
"""


@pytest.mark.slow  # a subprocess; test_review18b checks the refusal in-process
def test_a_loop_over_the_rows_it_writes_is_refused_where_it_iterates(tmp_path):
    """Python's iterator would see the writes in the rows still to come."""
    import subprocess
    import sys

    path = tmp_path / "rows.py"
    path.write_text(ROWS_WRITTEN)
    run = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert (
        f"{path}:6:16: error: the loop runs over `y` and writes into `y`" in run.stderr
    )
    assert "hint: loop over `range(len(y))`" in run.stderr
