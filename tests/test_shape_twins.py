"""Shape twins (ir/shape_twins.py) and what the emitted form makes of them:
broadcast helpers dropped between values made from one another's shape, adds
of ``_unindex`` fused in place though a length is unknown, a stack's adjoint
handed to its list as rows (backend/list_rows.py), and carried adjoints
written in place when each iteration makes its own (backend/inplace.py).

Every case is checked against central differences at shapes where a slice of
unknown length is 1 (so NumPy broadcasts) as well as where it is not: a
wrong twin is a wrong gradient or a crash there."""

import re

import numpy as np
import pytest
from test_array_crashes import _central_gradient as central

from ad_compiler import grad
from ad_compiler.ir import shape_infer
from ad_compiler.ir.nodes import Var
from ad_compiler.ir.shape_twins import same_shape, twin_roots


def roots_of(f, *args):
    """The twin roots of the gradient of ``f`` (its forward sweep keeps the
    user's names), compiled for ``args``."""
    g = grad(f)
    g(*args)
    fn = g.ir
    return twin_roots(fn, shape_infer.infer(fn))


def checked(f, args, argnums, *rest):
    """``grad(f)`` in ``argnums`` (``rest``: the arguments after ``args``, held
    fixed), checked against central differences at ``args``; the grad object."""
    g = grad(f, argnums=argnums)
    got = g(*args, *rest)
    got = got if isinstance(got, tuple) else (got,)
    for i, value in zip(argnums, got):
        want = central(lambda *a: f(*a, *rest), args, i)
        np.testing.assert_allclose(value, want, rtol=1e-6, atol=1e-7)
    return g


def chain(x, b):
    z = x[b : 2 * b]
    e = np.exp(-z)
    d = 1.0 + e
    a = 1.0 / d
    s = np.sum(x[:b])
    return np.sum(a * d + s)


def test_elementwise_chains_of_a_slice_are_its_twins():
    roots = roots_of(chain, np.linspace(0.1, 0.6, 6), 2)
    for name in ("e", "d", "a"):
        assert same_shape(Var(name), Var("z"), roots), name
    assert not same_shape(Var("z"), Var("x"), roots)  # a slice is not its array


def carried(x, n):
    s = x * 2.0
    t = x
    for i in range(n):
        s = np.tanh(s) + 1.0  # keeps its shape
        t = np.concatenate([t, x])  # grows
    return np.sum(s) + np.sum(t)


def test_a_carried_value_is_a_twin_only_if_every_iteration_keeps_it():
    roots = roots_of(carried, np.ones(3), 2)
    assert same_shape(Var("s"), Var("x"), roots)
    assert not same_shape(Var("t"), Var("x"), roots)


def summed_back(x, w):
    return np.sum(np.tanh(x * w))


def test_a_sum_back_is_no_twin_of_its_template():
    # _sum_to(g, x) may stay smaller than x: never a twin through it
    rng = np.random.default_rng(0)
    for w in (rng.normal(size=4), rng.normal(size=1)):
        checked(summed_back, (rng.normal(size=4), w), (0, 1))


def gates(p, x, b):
    # one array of gates cut in pieces of length b; the last piece, of
    # length len(p) - 3 b, may be 1 and broadcast
    g = p * np.sum(x)
    act = 1.0 / (1.0 + np.exp(-g[: 3 * b]))
    cell = x * act[:b] + act[b : 2 * b] * np.tanh(g[3 * b :])
    return np.sum(act[2 * b :] * np.tanh(cell))


@pytest.mark.parametrize("b, n, m", [(3, 3, 12), (3, 3, 10), (1, 1, 4), (1, 3, 4)])
def test_gates_cut_from_one_array(b, n, m):
    # (1, 3, 4): every piece has length 1 but x has 3 -- NumPy broadcasts;
    # (3, 3, 10): only the last piece has length 1
    rng = np.random.default_rng(b + n + m)
    checked(gates, (rng.normal(size=m), rng.normal(size=n)), (0, 1), b)


def layer(p, x, s):
    # lstm_vec's layer: the gates of x and the state s from one concatenation
    b = x.shape[0]
    pre = np.concatenate([x, s, x, s])
    g = pre * p
    act = 1.0 / (1.0 + np.exp(-g[: 3 * b]))
    cell = s * act[:b] + act[b : 2 * b] * np.tanh(g[3 * b :])
    return np.sum(act[2 * b :] * np.tanh(cell))


def test_a_layer_emits_no_helper_for_the_sigmoid_and_one_array_of_adjoints():
    rng = np.random.default_rng(0)
    args = (rng.normal(size=12), rng.normal(size=3), rng.normal(size=3))
    g = checked(layer, args, (0, 1, 2))
    body = g.source[g.source.index("def layer_grad") :]
    sigmoid = [line for line in body.splitlines() if "np.exp" in line]
    assert sigmoid and not any("_like(" in line for line in sigmoid)
    # act's adjoint: one array of zeros, each piece written into it; no helper
    assert body.count("np.zeros(act.shape)") == 1, body
    assert "_unindex(" not in body, body


def rnn_stacked(W, x0, T):
    # the new state stacked from rows each step (lstm_vec's form)
    s = np.stack([x0, x0])
    for t in range(T):
        rows = []
        for i in range(W.shape[0]):  # a run-time list of rows
            h = np.tanh(W[i] * s[i] + s[1 - i])
            rows.append(h)
        s = np.stack(rows)
    return np.sum(s * s)


def test_a_stacked_state_hands_its_adjoint_to_the_rows():
    rng = np.random.default_rng(2)
    W, x0 = rng.normal(size=(2, 3)), rng.normal(size=3)
    g = checked(rnn_stacked, (W, x0), (0, 1), 4)
    assert "_rows_of(" in g.source
    assert "_add_rows(" not in g.source[g.source.index("def rnn_stacked_grad") :]


def stacked_then_appended(x, T):
    total = 0.0
    for t in range(T):
        rows = []
        rows.append(x * (t + 1.0))
        s = np.stack(rows)
        rows.append(np.ones(3))  # after the stack: an item its adjoint does not cover
        total = total + np.sum(s * s) + len(rows)
    return total


def test_items_after_the_stacked_prefix_get_zeros():
    rng = np.random.default_rng(3)
    x = rng.normal(size=3)
    checked(stacked_then_appended, (x,), (0,), 3)


def kept_states(x, T):
    # every state is kept in a list and read after the loop: a carried array
    # that is shared must never be written in place, while the next one,
    # made fresh in each iteration, may be
    s = x
    seen = []
    for t in range(T):
        seen.append(s)
        n = np.zeros(3)
        n[0] = s[1] * s[2]
        n[1] = np.sin(s[0])
        n[2] = s[0] + s[2]
        s = n.copy()
    return np.sum(np.stack(seen) ** 2) + np.sum(s)


def test_carried_states_kept_in_a_list_stay_intact():
    rng = np.random.default_rng(4)
    x = rng.normal(size=3)
    checked(kept_states, (x,), (0,), 5)


def lstm_like(main, x0, T):
    b = x0.shape[0]
    s = np.stack([x0, x0])
    total = 0.0
    for t in range(T):
        rows = []
        x = s[0]
        for i in range(main.shape[0]):  # (one layer: s has 2 rows)
            pre = np.concatenate([x, s[2 * i + 1]])
            g = pre * main[i]
            act = 1.0 / (1.0 + np.exp(-g[:b]))
            cell = s[2 * i + 1] * act + np.tanh(g[b:])
            x = act * np.tanh(cell)
            rows.append(x)
            rows.append(cell)
        s = np.stack(rows)
        total = total + np.sum(x)
    return total


def test_the_carried_adjoint_of_an_rnn_state_is_written_in_place():
    rng = np.random.default_rng(5)
    main, x0 = rng.normal(size=(1, 6)), rng.normal(size=3)
    g = checked(lstm_like, (main, x0), (0, 1), 4)
    body = g.source[g.source.index("def lstm_like_grad") :]
    # the state's adjoint: zeros made once per step, each layer's rows added
    # into it in place (not a temporary of zeros per row, added to a copy)
    assert re.search(r"s_\d+_bar = np.zeros\(s_\d+.shape\)", body), body
    assert re.search(r"s_\d+_bar\[v\d+\] \+= ", body), body
    assert "_unindex(s_" not in body


def rows_rnn(w, s0, T):
    # lstm_loop's pattern: a row written, then read (x = s[0])
    s = np.copy(s0)
    total = 0.0
    for t in range(T):
        s[1] = s[1] * w + np.tanh(s[0])
        s[0] = np.sin(s[1]) * w[0]
        x = s[0]
        total = total + np.sum(x * x)
    return total + np.sum(s)


@pytest.mark.parametrize("n", [3, 1])
def test_a_row_added_into_and_taken_out_is_one_sum(n):
    rng = np.random.default_rng(6 + n)
    w, s0 = rng.normal(size=n), rng.normal(size=(2, n))
    g = checked(rows_rnn, (w, s0), (0, 1), 4)
    body = g.source[g.source.index("in reversed(tape)") :]
    # s_bar[0] += x_bar; v = s_bar[0].copy(); s_bar[0] = 0.0 is one sum
    assert ".copy()" not in body, body
    row = re.search(r"(v\d+) = (s_\d+_bar)\[0\]\n", body)
    assert row and f" = {row[1]} + x_" in body, body


def sizes(X, w):
    n = X.shape[0]
    half, odd = divmod(n, 2)
    top = np.sum(np.sum(X[:half], axis=0) ** 2) + np.sum(np.sum(X, axis=1))
    return top * w + np.sum(np.sum(X[half:], axis=-1)) * odd


def means(X, w):
    return np.sum(np.mean(X * w, axis=0) ** 2) + np.sum(np.mean(X, axis=(0, 1)))


@pytest.mark.fast_sample(first=2)  # an axis of 1 and none
@pytest.mark.parametrize("shape", [(5, 3), (4, 1), (1, 4), (3, 3), (1, 1)])
def test_a_number_spread_over_a_reduction_needs_no_reduction(shape):
    """A number broadcast to a reduction's shape, only to be written into a
    slot or added to an array of the reduced array's shape, is the number:
    the emitted gradient computes no sum for a shape (issue 18's "no
    recomputation for shapes"); right where an axis is 1 and broadcasts.
    A mean's count is read from its input's shape, never by computing the
    mean again for its size."""
    X = np.linspace(0.2, 1.3, int(np.prod(shape))).reshape(shape)

    def code(f):  # the emitted gradient's statements, without comments
        body = checked(f, (X, 0.7), (0, 1)).source.split(f"def {f.__name__}_grad")[1]
        return "\n".join(l for l in body.splitlines() if not l.strip().startswith("#"))

    body = code(sizes)
    assert "_like(" not in body
    assert body.count("np.sum(") == 4, body  # the four sums `top` (w's adjoint) has
    body = code(means)
    assert body.count("np.mean(") == 1, body  # for its value, not its size
