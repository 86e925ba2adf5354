"""What a loop's tape records, and that its derivatives stay exact.

Innermost loops *store* (the tape holds the values the reverse sweep reads,
the reverse loop runs the adjoint alone); loops around loops *recompute*
their iterations, and an array they write by ``y[idx] = v`` is *restored on
reverse* (the tape holds what each write overwrote).  Checked: gradients
against central differences on a grid of points and sizes, forward against
reverse (⟨ȳ, J·ẋ⟩ = ⟨Jᵀ·ȳ, ẋ⟩), Hessians against differences of the
gradient, the emitted source (no recomputation, no whole-array tape
columns), and memory that grows linearly with the loop (tracemalloc, which
is deterministic, unlike a clock).
"""

import tracemalloc

import numpy as np
import pytest
from loop_tape_corpus import FUNCTIONS, columns_outer, recurrence_rows, rows_tanh

from ad_compiler import grad, hessian, jvp


def point(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.9, 0.9, (n, 3))


def central(f, x, eps=1e-6):
    out = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[idx] = eps
        out[idx] = (f(x + e) - f(x - e)) / (2 * eps)
    return out


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n, seed", [(3, 0), (4, 1), (7, 2)])
@pytest.mark.fast_sample(every=12)
def test_gradients_match_differences(f, n, seed):
    x = point(n, seed)
    g = grad(f)(x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, central(f, x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.fast_sample(every=8)
def test_forward_and_reverse_agree(f):
    x = point(5, 3)
    v = np.random.default_rng(4).standard_normal(x.shape)
    _, tangent = jvp(f, (x,), (v,))
    assert tangent == pytest.approx(float(np.sum(grad(f)(x) * v)), rel=1e-9, abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_hessians_match_differences_of_the_gradient(f):
    x = point(3, 5)
    h = hessian(f)(x)
    g = grad(f)
    eps = 1e-5
    for idx in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[idx] = eps
        column = (g(x + e) - g(x - e)) / (2 * eps)
        np.testing.assert_allclose(h[(...,) + idx], column, rtol=1e-4, atol=1e-6)


def test_a_storing_loop_does_not_recompute_its_iteration():
    src = grad(rows_tanh)
    src(point(4, 0))
    code = [
        line for line in src.source.splitlines() if not line.strip().startswith("#")
    ]
    text = "\n".join(code)
    assert text.count("np.tanh(") == 1  # once, in the forward sweep
    assert "for i_1, " in text and "in reversed(tape)" in text


def test_a_view_of_the_written_array_is_taped_as_a_copy():
    g = grad(recurrence_rows)
    g(point(4, 0))
    text = g.source
    # y[i - 1] is a row of the array written next: the tape keeps its value
    assert "np.copy(" in text
    assert "tape.append((i, y" not in text  # never a version of y itself


def test_an_outer_loop_tapes_what_its_writes_overwrote():
    g = grad(columns_outer)
    g(point(4, 0))
    text = g.source
    # the column before the write (a copy: the write may happen in place)
    assert "v14 = out_1[:, j]" in text and "np.copy(v14)" in text
    assert "tape.append((j, out" not in text  # not the whole array


def peak(f, x) -> int:
    tracemalloc.start()
    f(x)
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return top


@pytest.mark.slow  # tracemalloc of 1,600-row loops; the fast tier checks the tapes hold no array versions (above)
@pytest.mark.parametrize("f", [rows_tanh, columns_outer], ids=lambda f: f.__name__)
def test_memory_grows_linearly_with_the_loop(f):
    g = grad(f)
    small, large = point(200, 0), point(1600, 0)
    g(small), g(large)  # compiled
    ratio = peak(g, large) / peak(g, small)
    assert ratio < 8 * 1.5, ratio  # 8x the iterations: ~8x, not 64x


# --- the zeroing of an adjoint row no later iteration reads (opt/zeroing.py) ------


def centred_rows(x):
    """Each row of xc written once, each row of its adjoint read once."""
    xc = np.zeros(x.shape)
    for i in range(x.shape[0]):
        xc[i] = x[i] - x[0]
    return np.sum(np.tanh(xc))


def rows_read_twice(x):
    """Row i and row i - 1 read: the zeroing of row i must stay."""
    y = np.zeros(x.shape)
    for i in range(1, x.shape[0]):
        y[i] = x[i] * 2.0 + y[i - 1]
    return np.sum(y * y)


def adjoint_lines(f):
    g = grad(f)
    x = point(5, 1)
    got = g(x)
    np.testing.assert_allclose(got, central(f, x), rtol=1e-5, atol=1e-7)
    return [line.strip() for line in g.source.splitlines()]


def test_a_row_read_once_is_not_zeroed_after_its_read():
    lines = adjoint_lines(centred_rows)
    assert not any(line.endswith("] = 0.0") for line in lines), lines
    assert not any("_assign(" in line for line in lines), lines


def test_a_row_a_later_iteration_reads_is_still_zeroed():
    lines = adjoint_lines(rows_read_twice)
    assert any(line.endswith("[i_1] = 0.0") for line in lines), lines
