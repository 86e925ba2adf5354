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
from loop_tape_corpus import (
    FUNCTIONS,
    columns_outer,
    columns_outer_matrix,
    recurrence_rows,
    rows_tanh,
)

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
    g = grad(columns_outer_matrix)
    g(point(4, 0))
    text = g.source
    # the column before the write (a copy: the write may happen in place)
    assert "v18 = out_1[:, j]" in text and "v19 = v18.copy()" in text
    assert "tape.append((j, v19, v12))" in text  # not the whole array
    assert "tape_1 = []" in text.split("reversed(tape)")[1]  # recomputed


def test_a_vector_recurrence_around_a_loop_stores_the_inner_rows_on_one_tape():
    g = grad(columns_outer)
    x = point(4, 0)
    np.testing.assert_allclose(g(x), central(columns_outer, x), rtol=1e-5, atol=1e-7)
    text = g.source
    forward, reverse = text.split("reversed(tape)")
    # made once, before the outer loop; each outer iteration keeps where its
    # rows start and stop, and its reverse walks those rows only
    assert forward.index("tape_1 = []") < forward.index("\n    for j in range(3):")
    assert "v14 = len(tape_1)" in forward and "v15 = len(tape_1)" in forward
    assert "in reversed(tape_1[v20:v21]):" in reverse
    code = [line for line in reverse.splitlines() if "#" not in line]
    assert not any("tape_1 = []" in line or "np.sin" in line for line in code)
    assert "tape.append((j, out" not in text  # never a version of the array


def peak(f, x) -> int:
    tracemalloc.start()
    f(x)
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return top


@pytest.mark.slow  # tracemalloc of 1,600-row loops; the fast tier checks the tapes hold no array versions (above)
@pytest.mark.parametrize("f", [rows_tanh, columns_outer], ids=lambda f: f.__name__)
def test_memory_grows_linearly_with_the_loop(f):
    # peak memory a + b n: doubling n twice adds b n, then 2 b n (a quadratic
    # tape would add 4 times as much the second time); the increments, not
    # the ratio of peaks, so that a constant a (or its change) does not count
    g = grad(f)
    sizes = (400, 800, 1600)
    for n in sizes:
        g(point(n, 0))  # compiled, and warm
    p1, p2, p3 = (peak(g, point(n, 0)) for n in sizes)
    growth = (p3 - p2) / (p2 - p1)
    assert 1.5 < growth < 3.0, (p1, p2, p3)  # linear: 2; quadratic: 4


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
    # nor copied: the copy only kept the row from the zeroing
    assert "v18 = xc_1_bar[i_1]" in lines and "x_bar[0] -= v18" in lines, lines


def test_a_row_a_later_iteration_reads_is_still_zeroed():
    lines = adjoint_lines(rows_read_twice)
    assert any(line.endswith("[i_1] = 0.0") for line in lines), lines


# --- a loop appending to a run-time list stores too ------------------------------


def hidden_states(x):
    """An RNN keeping every hidden state in a list, stacked after the loop."""
    h = np.ones(x.shape[1]) * 0.5
    hs = []
    for i in range(x.shape[0]):
        h = np.tanh(h * x[i] + 0.1)
        hs.append(h)
    states = np.stack(hs)
    return np.sum(states * states) + np.sum(hs[-1])


def test_a_loop_appending_to_a_list_runs_its_adjoint_alone():
    g = grad(hidden_states)
    x = point(5, 1)
    np.testing.assert_allclose(g(x), central(hidden_states, x), rtol=1e-5, atol=1e-7)
    forward, reverse = g.source.split("reversed(tape)")
    code = [line for line in reverse.splitlines() if "#" not in line]
    assert not any("np.tanh(" in line for line in code), code  # not recomputed
    assert "hs.append(h" in forward
    hessian_columns_match(hidden_states, x, (0, 3))


def hessian_columns_match(f, x, columns):
    """Columns of f's Hessian against central differences of its gradient."""
    g, H = grad(f), hessian(f)(x).reshape(x.size, x.size)
    eps = 1e-5
    for k in columns:
        e = np.zeros(x.size)
        e[k] = eps
        e = e.reshape(x.shape)
        column = (g(x + e) - g(x - e)) / (2 * eps)
        np.testing.assert_allclose(H[:, k], column.ravel(), rtol=1e-5, atol=1e-7)


def stacked_rnn(x):
    """A two-layer RNN whose state is rebuilt each step from a list of rows
    (``np.stack``), the outputs kept in a list: lstm_vec's pattern."""
    s = np.ones((2, x.shape[1])) * 0.3
    outputs = []
    for t in range(x.shape[0]):
        h = x[t]
        rows = []
        for i in range(s.shape[0]):
            h = np.tanh(h * s[i] + 0.2 * i)
            rows.append(h)
        s = np.stack(rows)
        outputs.append(h)
    return np.sum(np.stack(outputs) ** 2)


def test_a_recurrence_rebuilding_its_state_from_lists_stores():
    g = grad(stacked_rnn)
    x = point(4, 1)
    np.testing.assert_allclose(g(x), central(stacked_rnn, x), rtol=1e-5, atol=1e-7)
    forward, reverse = g.source.split("reversed(tape)")
    code = [line for line in reverse.splitlines() if "#" not in line]
    assert any("reversed(tape_1[" in line for line in code), code
    assert not any("np.tanh(" in line or "rows_1 = []" in line for line in code)
    hessian_columns_match(stacked_rnn, x, (0, 5))
