"""Loops around loops written the way scientists write recurrent networks:
RNN, GRU and LSTM cells over a sequence with an inner loop per layer, per
unit or per time step, hidden states kept in lists, rows of arrays the outer
loop carries, inner loops whose range depends on the outer index, zero-trip
loops, break/continue, while loops, three and four levels of nesting, helpers
with loops, recursion around loops.  Used by tests/test_review19.py.

Each function takes one array ``x`` of shape (n, 3), n >= 4, and returns a
number (``*_out`` functions return a vector).
"""

import math
import random

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# --- RNN / GRU / LSTM shapes ---------------------------------------------------


def rnn_layers(x):
    """A stacked RNN: per time step, a loop over layers (a recurrence of vectors)."""
    n = x.shape[0]
    W = np.eye(3) * 0.5 + x[0, 0] * 0.1
    h = np.zeros((2, 3))
    t = 0.0
    for i in range(n):
        inp = x[i]
        for layer in range(2):
            h[layer] = np.tanh(W @ h[layer] + inp)
            inp = h[layer]
        t = t + np.sum(inp * inp)
    return t


def gru_units(x):
    """A GRU written unit by unit: an inner loop over the 3 hidden units."""
    n = x.shape[0]
    h = np.zeros(3) + 0.1
    t = 0.0
    for i in range(n):
        hn = np.zeros(3)
        for u in range(3):
            z = sigmoid(x[i, u] + h[u] * 0.5)
            r = sigmoid(x[i, u] - h[(u + 1) % 3] * 0.3)
            c = np.tanh(x[i, u] * 0.7 + r * h[u])
            hn[u] = (1.0 - z) * h[u] + z * c
        h = hn
        t = t + np.sum(h * x[i])
    return t + np.sum(h * h)


def lstm_layers(x):
    """A two-layer LSTM, the layer loop inside the time loop, states in arrays
    the outer loop carries (rows written by the inner loop)."""
    n = x.shape[0]
    h = np.zeros((2, 3))
    c = np.zeros((2, 3))
    W = np.eye(3) * 0.3 + x[1, 1] * 0.2
    loss = 0.0
    for i in range(n):
        inp = x[i]
        for k in range(2):
            g = W @ h[k] + inp
            ig = sigmoid(g + 0.1)
            fg = sigmoid(g - 0.2)
            og = sigmoid(g * 0.5)
            cand = np.tanh(g)
            c[k] = fg * c[k] + ig * cand
            h[k] = og * np.tanh(c[k])
            inp = h[k]
        loss = loss + np.sum(inp * x[i])
    return loss + np.sum(c * c)


def lstm_list_states(x):
    """LSTM over time with hidden states in a list; an inner loop over steps
    of a 'refinement' per time step; the list read with negative indices."""
    n = x.shape[0]
    h = np.zeros(3)
    c = np.zeros(3)
    hs = []
    for i in range(n):
        for s in range(2):
            g = h * 0.5 + x[i] * (s + 1.0)
            c = sigmoid(g) * c + sigmoid(-g) * np.tanh(g)
            h = np.tanh(c) * sigmoid(g + 0.3)
        hs.append(h)
    return np.sum(hs[-1] * hs[-2]) + np.sum(np.stack(hs) ** 2)


def rnn_inner_list(x):
    """An inner loop appending to a list made before the outer loop."""
    n = x.shape[0]
    h = np.zeros(3)
    hs = []
    for j in range(2):
        for i in range(n):
            h = np.tanh(h * 0.8 + x[i] * (j + 0.5))
            hs.append(h)
    t = 0.0
    for v in hs:
        t = t + np.sum(v * v)
    return t + np.sum(hs[-1])


def rnn_inner_list_read_negative(x):
    """An inner loop reading the list it appends to with negative indices."""
    n = x.shape[0]
    hs = [x[0] * 0.5, x[1] * 0.5]
    for j in range(2):
        for i in range(n):
            h = np.tanh(hs[-1] * 0.6 + hs[-2] * 0.3 + x[i])
            hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def rnn_list_per_outer(x):
    """A list made in each outer iteration, appended by the inner loop."""
    n = x.shape[0]
    h = np.zeros(3)
    t = 0.0
    for j in range(2):
        hs = []
        for i in range(n):
            h = np.tanh(h + x[i] * (j + 1.0))
            hs.append(h * 2.0)
        t = t + np.sum(hs[-1] * hs[0])
    return t


def bidirectional(x):
    """Two inner loops in one outer body (a forward and a backward pass)."""
    n = x.shape[0]
    out = np.zeros((n, 3))
    t = 0.0
    for ep in range(2):
        hf = np.zeros(3)
        for i in range(n):
            hf = np.tanh(hf * 0.5 + x[i] + out[i] * 0.1)
            out[i] = hf
        hb = np.zeros(3)
        for i in range(n - 1, -1, -1):
            hb = np.tanh(hb * 0.5 + x[i] - out[i] * 0.2)
            out[i] = out[i] + hb
        t = t + np.sum(out[0] * out[n - 1])
    return t + np.sum(out * out)


def seq2seq(x):
    """Encoder loop then decoder loop whose range depends on the outer index."""
    n = x.shape[0]
    h = np.zeros(3)
    t = 0.0
    for j in range(n):
        for i in range(j + 1):
            h = np.tanh(h * 0.7 + x[i] * 0.5)
        d = h * 1.0
        for k in range(n - j):
            d = np.sin(d + x[k] * 0.3)
        t = t + np.sum(d * d)
    return t


def triangular_rows(x):
    """An inner loop over rows before the outer index: attention-like sums."""
    n = x.shape[0]
    ctx = np.zeros((n, 3))
    h = np.zeros(3)
    for i in range(n):
        s = np.zeros(3)
        for k in range(i):
            s = s + ctx[k] * np.tanh(x[k] * h)
        h = np.tanh(x[i] + s * 0.3)
        ctx[i] = h
    return np.sum(ctx * ctx)


def scalar_inner_recurrence(x):
    """An inner loop that is a scalar recurrence inside a vector recurrence."""
    n = x.shape[0]
    h = np.ones(3) * 0.2
    for i in range(n):
        a = 0.0
        for k in range(3):
            a = a * 0.5 + np.sin(h[k] * x[i, k])
        h = np.tanh(h * a + x[i])
    return np.sum(h * h)


def inactive_inner(x):
    """An inner loop computing an integer (inactive) the adjoint reads."""
    n = x.shape[0]
    h = np.zeros(3)
    for i in range(n):
        m = 0
        for k in range(i + 1):
            m = m + k % 3
        h = np.tanh(h * 0.5 + x[i] * (m + 1.0))
    return np.sum(h * h)


def inactive_inner_array(x):
    """An inner loop over constants only; its array is read by the outer body."""
    n = x.shape[0]
    h = np.zeros(3)
    for i in range(n):
        w = np.zeros(3)
        for k in range(3):
            w[k] = (i + k) * 0.1
        h = np.tanh(h * w + x[i])
    return np.sum(h * h)


def inner_break(x):
    """An inner loop ending in a break at an index depending on the outer one."""
    n = x.shape[0]
    h = np.zeros(3)
    for i in range(n):
        for k in range(n):
            h = np.sin(h + x[k] * 0.5)
            if k == i:
                break
        h = h * 0.9 + x[i]
    return np.sum(h * h)


def inner_continue(x):
    """An inner loop skipping odd steps."""
    n = x.shape[0]
    h = np.zeros(3)
    for i in range(n):
        for k in range(4):
            if k % 2 == 1:
                continue
            h = np.tanh(h * 0.6 + x[i] * (k + 1.0))
        h = h + x[i] * 0.1
    return np.sum(h * h)


def inner_data_break(x):
    """An inner loop ending in a break decided by the data."""
    n = x.shape[0]
    h = np.zeros(3) + 0.3
    t = 0.0
    for i in range(n):
        for k in range(5):
            h = np.sin(h * 1.1 + x[i] * 0.2)
            if np.sum(h) > 1.0:
                break
        t = t + np.sum(h * x[i])
    return t


def inner_while(x):
    """An inner while loop with a counter."""
    n = x.shape[0]
    h = np.zeros(3)
    for i in range(n):
        k = 0
        while k < 3:
            h = np.tanh(h + x[i] * 0.3 * (k + 1))
            k = k + 1
    return np.sum(h * h)


def outer_while(x):
    """A while loop around a for loop."""
    n = x.shape[0]
    h = np.zeros(3)
    i = 0
    while i < n:
        for k in range(2):
            h = np.sin(h * 0.8 + x[i] * (k + 0.5))
        i = i + 1
    return np.sum(h * h)


def zero_trip_inner_first(x):
    """The first outer iteration's inner loop runs zero times."""
    n = x.shape[0]
    h = np.ones(3) * 0.3
    for i in range(n):
        for k in range(i):
            h = np.tanh(h * x[k] + 0.1)
        h = h + x[i] * 0.2
    return np.sum(h * h)


def zero_trip_inner_all(x):
    """Every inner loop runs zero times."""
    n = x.shape[0]
    h = np.ones(3) * 0.3
    for i in range(n):
        for k in range(0):
            h = np.tanh(h * x[k] + 0.1)
        h = h * x[i] + 0.1
    return np.sum(h * h)


def zero_trip_outer(x):
    """The outer loop runs zero times."""
    n = x.shape[0]
    h = x[0] * 1.0
    for i in range(n, n):
        for k in range(3):
            h = np.tanh(h * x[k] + 0.1)
    return np.sum(h * h)


def zero_trip_middle(x):
    """Three levels, the middle one empty for some outer iterations."""
    h = x[0] * 0.5
    for i in range(3):
        for j in range(i % 2):
            for k in range(2):
                h = np.tanh(h * 0.9 + x[k + i] * 0.3)
        h = h + x[i] * 0.1
    return np.sum(h * h)


def nest3(x):
    """Three levels, each a recurrence of vectors."""
    n = x.shape[0]
    h = np.zeros(3)
    for a in range(2):
        for b in range(n):
            for c in range(2):
                h = np.tanh(h * 0.5 + x[b] * (a + c + 1.0))
            h = h * 0.95
    return np.sum(h * h)


def nest4(x):
    """Four levels, each level doing work too."""
    n = x.shape[0]
    h = np.zeros(3) + 0.1
    for a in range(2):
        h = np.sin(h + 0.1)
        for b in range(2):
            for c in range(n):
                for d in range(2):
                    h = np.tanh(h * 0.7 + x[c] * (d + 1.0) * 0.3)
                h = h + x[c] * 0.01
            h = h * 0.9
    return np.sum(h * h)


def nest3_rows(x):
    """Three levels writing rows of an array the outermost loop carries."""
    n = x.shape[0]
    y = np.zeros((n, 3))
    for a in range(2):
        for b in range(n):
            s = y[b - 1] * 0.5
            for c in range(2):
                s = np.tanh(s + x[b] * (c + 1.0))
            y[b] = s + y[b] * 0.3
    return np.sum(y * y)


def same_inner_twice(x):
    """The same inner loop body walked by every outer iteration, reading a row
    the outer loop overwrites after the inner loop."""
    n = x.shape[0]
    y = x * 0.5
    for j in range(3):
        acc = np.zeros(3)
        for i in range(n):
            acc = np.tanh(acc + y[i] * 0.5)
        y[j] = y[j] * acc + 0.1
    return np.sum(y * y)


def read_before_after_write(x):
    """Rows read before and after the inner loop writes them."""
    n = x.shape[0]
    y = np.ones((n, 3)) * 0.5
    t = 0.0
    for j in range(2):
        before = y[1] * 1.0
        for i in range(n):
            y[i] = np.sin(y[i - 1] + x[i] * (j + 1.0))
        t = t + np.sum(before * y[1]) + np.sum(y[0] * x[0])
    return t


def view_pushed_then_written(x):
    """A view of a row kept by the outer loop, the row written later."""
    n = x.shape[0]
    y = x * 1.0
    h = np.zeros(3)
    for j in range(2):
        r = y[0]
        for i in range(n):
            h = np.tanh(h + r * x[i])
        y[0] = h * 2.0
    return np.sum(h * h) + np.sum(y * y)


def append_view_written_later(x):
    """Appending a view of an array row, then writing the row."""
    n = x.shape[0]
    y = x * 1.0
    hs = []
    for j in range(2):
        for i in range(n):
            hs.append(y[i])
            y[i] = np.tanh(y[i] * 0.5 + 0.1)
    return np.sum(np.stack(hs) ** 2) + np.sum(y)


def append_copy_written_later(x):
    """Appending a copy of a row, then writing the row."""
    n = x.shape[0]
    y = x * 1.0
    hs = []
    for j in range(2):
        for i in range(n):
            hs.append(y[i] * 1.0)
            y[i] = np.tanh(y[i] * 0.5 + 0.1)
    return np.sum(np.stack(hs) ** 2) + np.sum(y)


def step(h, v):
    """A helper with a loop inside."""
    for k in range(2):
        h = np.tanh(h * 0.8 + v * (k + 1.0))
    return h


def helper_with_loop(x):
    """An outer loop calling a helper containing a loop."""
    n = x.shape[0]
    h = np.zeros(3)
    for i in range(n):
        h = step(h, x[i])
    return np.sum(h * h)


def deep(h, v, k):
    if k == 0:
        return h
    for i in range(2):
        h = np.sin(h + v * 0.5)
    return deep(h * 0.9, v, k - 1)


def recursion_around_loops(x):
    """Recursion whose each level runs a loop, inside an outer loop."""
    n = x.shape[0]
    h = np.zeros(3)
    for i in range(n):
        h = deep(h, x[i], 2)
    return np.sum(h * h)


def mixed_scalars_vectors(x):
    """Scalars and vectors carried by both loops, a scalar read by the reverse."""
    n = x.shape[0]
    h = np.zeros(3)
    s = 1.0
    for i in range(n):
        for k in range(2):
            s = s * 0.9 + np.sum(h * x[i]) * 0.1
            h = np.tanh(h + x[i] * s)
        s = s + x[i, 0]
    return s * s + np.sum(h * h)


def inner_writes_carried_elements(x):
    """An inner loop writing elements of a vector the outer loop carries."""
    n = x.shape[0]
    h = np.zeros(3)
    for i in range(n):
        for u in range(3):
            h[u] = np.tanh(h[u] * 0.5 + x[i, u] + h[u - 1] * 0.2)
    return np.sum(h * h)


def inner_writes_rows_offset(x):
    """An inner loop writing rows at an offset from the outer index."""
    n = x.shape[0]
    y = np.ones((n, 3)) * 0.1
    for j in range(n):
        for i in range(j, n):
            y[i] = np.sin(y[i] + y[j] * x[i])
    return np.sum(y * y)


def rnn_out(x):
    """An RNN with an inner layer loop returning the last hidden state."""
    n = x.shape[0]
    h = np.zeros(3)
    for i in range(n):
        for k in range(2):
            h = np.tanh(h * 0.5 + x[i] * (k + 1.0))
    return h


def rnn_states_out(x):
    """Returns every hidden state, written as rows by the outer loop."""
    n = x.shape[0]
    out = np.zeros((n, 3))
    h = np.zeros(3)
    for i in range(n):
        for k in range(2):
            h = np.sin(h * 0.7 + x[i] * (k + 0.5))
        out[i] = h
    return out.ravel()


def rnn_two_outputs(x):
    """Two outputs (a vjp with several outputs)."""
    n = x.shape[0]
    h = np.zeros(3)
    c = np.zeros(3)
    for i in range(n):
        for k in range(2):
            c = c * 0.5 + np.tanh(h + x[i])
            h = np.sin(c * (k + 1.0))
    return h, np.sum(c * c)


def mgu_matrix_params(x):
    """A minimal gated unit with weight matrices made from x, three inner
    loops in one outer body (gate, candidate, update written unit by unit)."""
    n = x.shape[0]
    W = np.outer(x[0], x[1]) * 0.2
    h = np.zeros(3) + 0.05
    for i in range(n):
        f = np.zeros(3)
        for u in range(3):
            f[u] = sigmoid(W[u] @ h + x[i, u])
        c = np.zeros(3)
        for u in range(3):
            c[u] = np.tanh(W[u] @ (f * h) + x[i, u] * 0.5)
        for u in range(3):
            h[u] = (1.0 - f[u]) * h[u] + f[u] * c[u]
    return np.sum(h * h)


def inner_augmented_rows(x):
    """Inner loop accumulating into rows with += and -= (the new codegen)."""
    n = x.shape[0]
    y = np.zeros((n, 3))
    h = np.ones(3) * 0.2
    for j in range(2):
        for i in range(n):
            y[i] += np.sin(h * x[i])
            y[i] -= h * 0.1
            h = np.tanh(y[i] + h * 0.3)
    return np.sum(y * y) + np.sum(h)


def inner_negated_accumulate(x):
    """Negations feeding accumulations (t -= u codegen)."""
    n = x.shape[0]
    h = np.ones(3) * 0.1
    t = np.zeros(3)
    for j in range(2):
        for i in range(n):
            h = np.tanh(-h + x[i])
            t = t - h * x[i]
            t -= np.sin(-h)
    return np.sum(t * t)


# --- stale values, zeroing, negated accumulations, lists, helpers ------------------


def carried_matrix_read_in_inner(x):
    n = x.shape[0]
    y = np.ones((n, 3)) * 0.1
    h = np.zeros(3)
    for i in range(n):
        for k in range(2):
            w = y @ h
            h = np.tanh(x[i] + h * 0.5 + np.sum(w * w) * 0.01)
        y[i] = h
    return np.sum(y * y)


def view_mul_then_written(x):
    n = x.shape[0]
    y = x * 0.5
    h = np.ones(3) * 0.2
    for j in range(2):
        for k in range(n):
            h = np.tanh(h * y[k] + 0.1)
        for k in range(n):
            y[k] = y[k] * 0.5 + h
    return np.sum(h * h) + np.sum(y * y)


def view_mul_then_written_same_inner(x):
    n = x.shape[0]
    y = x * 0.5
    h = np.ones(3) * 0.2
    for j in range(2):
        for k in range(n):
            h = np.tanh(h * y[k] + 0.1)
            y[k] = y[k] * 0.5 + h
    return np.sum(h * h) + np.sum(y * y)


def view_mul_then_written_outer(x):
    n = x.shape[0]
    y = x * 0.5
    h = np.ones(3) * 0.2
    for j in range(n):
        for k in range(2):
            h = np.tanh(h * y[j] + 0.1 * k)
        y[j] = h * 2.0
        y[(j + 1) % n] = y[(j + 1) % n] * h
    return np.sum(h * h) + np.sum(y * y)


def outer_continue_between(x):
    n = x.shape[0]
    h = np.ones(3) * 0.2
    for j in range(n):
        for k in range(2):
            h = np.tanh(h * x[j] + 0.1 * k)
        if j % 2 == 1:
            continue
        for k in range(3):
            h = np.sin(h * 1.1 + x[k])
    return np.sum(h * h)


def outer_break_between(x):
    n = x.shape[0]
    h = np.ones(3) * 0.2
    for j in range(n):
        for k in range(2):
            h = np.tanh(h * x[j] + 0.1 * k)
        if j == n - 2:
            break
        for k in range(3):
            h = np.sin(h * 1.1 + x[k])
    return np.sum(h * h)


def inner_in_if(x):
    n = x.shape[0]
    h = np.ones(3) * 0.2
    for j in range(n):
        if x[j, 0] > 0:
            for k in range(2):
                h = np.tanh(h * x[j] + 0.1 * k)
        else:
            for k in range(3):
                h = np.sin(h * 1.1 + x[k])
    return np.sum(h * h)


def inner_in_if_data(x):
    n = x.shape[0]
    h = np.ones(3) * 0.2
    for j in range(n):
        if np.sum(h) > 0.3:
            for k in range(2):
                h = np.tanh(h * x[j] + 0.1 * k)
        h = h * x[j] + 0.05
    return np.sum(h * h)


def outer_break_data(x):
    n = x.shape[0]
    h = np.ones(3) * 0.2
    for j in range(n):
        for k in range(2):
            h = np.tanh(h * x[j] + 0.3)
        if np.sum(h) > 1.2:
            break
    return np.sum(h * h)


def row_read_twice_same_iter(x):
    xc = np.zeros(x.shape)
    t = 0.0
    for i in range(x.shape[0]):
        t = t + np.sum(xc[i] * x[i])
        xc[i] = x[i] - x[0]
        t = t + np.sum(xc[i] * xc[i])
    return t + np.sum(np.tanh(xc))


def row_write_twice(x):
    xc = np.zeros(x.shape)
    for i in range(x.shape[0]):
        xc[i] = x[i] * 2.0
        a = xc[i] * x[i]
        xc[i] = a + x[0]
    return np.sum(np.tanh(xc))


def row_adjoint_then_view(x):
    y = np.zeros(x.shape)
    z = np.zeros(x.shape)
    for i in range(x.shape[0]):
        y[i] = x[i] * x[i]
        z[i] = y[i] * 3.0 + np.sin(y[i])
    return np.sum(z * y)


def nested_row_zeroing(x):
    n = x.shape[0]
    y = np.zeros(x.shape)
    t = 0.0
    for j in range(2):
        for i in range(n):
            y[i] = x[i] * (j + 1.0) - x[0]
        t = t + np.sum(np.tanh(y)) * (j + 1.0)
    return t


def neg_accum(x):
    n = x.shape[0]
    t = np.zeros((n, 3))
    for i in range(n):
        t[i] += -x[i] * x[i - 1]
        t[i - 1] += -t[i] * 0.5
    return np.sum(t * t)


def neg_accum_overlap(x):
    t = x * 1.0
    for i in range(3):
        t[1:] += -t[:-1] * 0.5
    return np.sum(t * t)


def neg_accum_self(x):
    t = x * 1.0
    for i in range(3):
        t[i] += -t[i + 1]
        t += -t * 0.1
    return np.sum(t * t)


def rnn_list_outer_reads(x):
    n = x.shape[0]
    hs = [x[0] * 0.1]
    t = 0.0
    for j in range(n):
        for k in range(2):
            hs.append(np.tanh(hs[-1] * x[j] + 0.1))
        t = t + np.sum(hs[j] * hs[-1])
    return t


def list_read_outer_index(x):
    n = x.shape[0]
    hs = []
    h = np.zeros(3)
    for i in range(n):
        h = np.tanh(h * 0.5 + x[i])
        hs.append(h)
        if i > 1:
            h = h + hs[i - 2] * hs[i - 1]
    return np.sum(h * h)


def list_append_same_twice(x):
    hs = []
    h = np.ones(3) * 0.1
    for i in range(x.shape[0]):
        h = np.sin(h * x[i] + 0.2)
        hs.append(h)
        hs.append(h)
    return np.sum(np.stack(hs) * x[0])


def matrix_outermost(x):
    n = x.shape[0]
    h = np.zeros(3) + 0.1
    t = 0.0
    for a in range(2):
        M = np.outer(h, x[a]) * 0.3
        for b in range(n):
            for c in range(2):
                h = np.tanh(M @ h + x[b] * (c + 1.0))
            h = h * 0.9
        t = t + np.sum(M)
    return t + np.sum(h * h)


def matrix_outermost_rows(x):
    n = x.shape[0]
    y = np.zeros((n, 3))
    h = np.zeros(3) + 0.1
    for a in range(2):
        M = np.outer(h, x[a]) * 0.3 + np.eye(3)
        for b in range(n):
            for c in range(2):
                h = np.tanh(h * y[b] + x[b] * (c + 1.0))
            y[b] = M @ h
    return np.sum(y * y)


def if_around_nest(x):
    n = x.shape[0]
    h = np.zeros(3) + 0.1
    if x[0, 0] > -5.0:
        for b in range(n):
            for c in range(2):
                h = np.tanh(h * x[b] + 0.2 * c)
    return np.sum(h * h)


def two_nests_in_sequence(x):
    n = x.shape[0]
    h = np.zeros(3) + 0.1
    for b in range(n):
        for c in range(2):
            h = np.tanh(h * x[b] + 0.2 * c)
    g = h * 1.0
    for b in range(n):
        for c in range(2):
            g = np.sin(g * x[b] + h)
    return np.sum(g * h)


def nest_in_helper(h, x):
    for b in range(x.shape[0]):
        for c in range(2):
            h = np.tanh(h * x[b] + 0.2 * c)
    return h


def helper_nest_called_twice(x):
    h = nest_in_helper(np.zeros(3) + 0.1, x)
    h = nest_in_helper(h * 2.0, x[::-1])
    return np.sum(h * h)


def helper_nest_called_in_loop(x):
    h = np.zeros(3) + 0.1
    for r in range(2):
        h = nest_in_helper(h, x) * 0.5
    return np.sum(h * h)


# --- an array of rows the outer loop writes, read by its inner loop ---------------


def row_read_by_inner(x):
    """Minimal: the outer loop writes row j, its inner loop multiplies by it."""
    y = x * 1.0
    h = np.ones(3) * 0.5
    for j in range(x.shape[0]):
        for k in range(2):
            h = np.tanh(h * y[j])
        y[j] = h
    return np.sum(y)


def inner_writes_rows(x):
    n = x.shape[0]
    y = np.zeros((n, 3))
    h = np.ones(3) * 0.3
    for j in range(n):
        for k in range(2):
            h = np.tanh(h * 0.5 + x[j] * (k + 1.0))
            y[(j + k) % n] = y[(j + k) % n] * 0.5 + h
    return np.sum(y * y)


def outer_writes_rows_inner_add(x):
    n = x.shape[0]
    y = np.zeros((n, 3))
    h = np.ones(3) * 0.3
    for j in range(n):
        for k in range(2):
            h = np.tanh(h * 0.5 + x[j] + y[j - 1])
        y[j] = h
    return np.sum(y * y)


def rnn_states_rows(x):
    n = x.shape[0]
    out = np.zeros((n, 3))
    h = np.zeros(3)
    for i in range(n):
        for k in range(2):
            h = np.sin(h * 0.7 + x[i] * (k + 0.5))
        out[i] = h
    return np.sum(out * out)


def prev_row_multiplies(x):
    n = x.shape[0]
    H = np.zeros((n, 3))
    h = np.ones(3) * 0.5
    for t in range(n):
        for layer in range(2):
            h = np.tanh(h * H[t - 1] + x[t])
        H[t] = h
    return np.sum(H * H)


# --- innermost loops storing run-time lists --------------------------------------


def while_list(x):
    hs = [x[0] * 0.5]
    i = 0
    while len(hs) < x.shape[0] + 1:
        hs.append(np.tanh(hs[-1] * x[i] + 0.1))
        i = i + 1
    return np.sum(np.stack(hs) ** 2)


def list_of_numbers(x):
    vals = []
    s = 0.3
    for i in range(x.shape[0]):
        s = np.sin(s * x[i, 0] + x[i, 1])
        vals.append(s * s)
    t = 0.0
    for v in vals:
        t = t + v * v
    return t + vals[-1] * vals[0]


def list_backward_read(x):
    n = x.shape[0]
    hs = []
    h = np.zeros(3)
    for i in range(n):
        h = np.tanh(h * 0.5 + x[i])
        hs.append(h)
    g = np.zeros(3)
    for i in range(n):
        g = np.tanh(g * hs[-i - 1] + x[i])
    return np.sum(g * g)


def list_break(x):
    hs = []
    h = np.ones(3) * 0.2
    for i in range(x.shape[0]):
        h = np.sin(h * x[i] + 0.3)
        hs.append(h)
        if np.sum(h) > 0.8:
            break
    return np.sum(hs[-1] * hs[0]) + len(hs) * 0.0


def list_data_index(x):
    hs = []
    h = np.ones(3) * 0.2
    for i in range(x.shape[0]):
        h = np.sin(h * x[i] + 0.3)
        hs.append(h)
        j = int(np.argmax(h)) % len(hs)
        h = h + hs[j] * 0.1
    return np.sum(h * h)


def list_two_lists(x):
    hs, cs = [], []
    h = np.zeros(3)
    c = np.zeros(3)
    for i in range(x.shape[0]):
        c = c * 0.5 + np.tanh(x[i] + h)
        h = np.tanh(c) * 0.9
        hs.append(h)
        cs.append(c)
    return np.sum(np.stack(hs) * np.stack(cs))


def list_param_append(x):
    hs = [x[0]]
    for i in range(1, x.shape[0]):
        hs.append(hs[i - 1] * x[i] + np.sin(hs[-1]))
    return np.sum(hs[-1] ** 2) + np.sum(hs[1])


def list_read_inside_inner(x):
    n = x.shape[0]
    hs = [x[0] * 0.1]
    for i in range(n):
        h = hs[-1] * 1.0
        for k in range(len(hs)):
            h = np.tanh(h + hs[k] * x[i])
        hs.append(h)
    return np.sum(hs[-1] ** 2)


def list_stack_mid(x):
    hs = []
    h = np.zeros(3)
    t = 0.0
    for i in range(x.shape[0]):
        h = np.tanh(h * 0.5 + x[i])
        hs.append(h)
        t = t + np.sum(np.stack(hs) ** 2)
    return t


def list_states_out(x):
    hs = []
    h = np.zeros(3)
    for i in range(x.shape[0]):
        for k in range(2):
            h = np.tanh(h * 0.5 + x[i] * (k + 1.0))
        hs.append(h)
    return np.stack(hs).ravel()


def list_states_out_inner(x):
    hs = []
    h = np.zeros(3)
    for i in range(x.shape[0]):
        h = np.tanh(h * 0.5 + x[i])
        hs.append(h)
    return np.stack(hs).ravel() * 2.0


# --- adjoint rows whose zeroing (and copy) is dropped -----------------------------


def row_set_then_read_scaled(x):
    xc = np.zeros(x.shape)
    t = 0.0
    for i in range(x.shape[0]):
        a = np.sin(x[i])
        xc[i] = a * x[0]
        t = t + np.sum(xc[i] * a)
    return t + np.sum(np.tanh(xc))


def row_set_then_read_old_copy(x):
    xc = np.ones(x.shape)
    t = 0.0
    for i in range(x.shape[0]):
        old = xc[i] * 1.0
        xc[i] = x[i] * old + x[0]
        t = t + np.sum(xc[i] * old)
    return t + np.sum(xc * xc)


def row_set_then_read_twice(x):
    xc = np.zeros(x.shape)
    yc = np.zeros(x.shape)
    for i in range(x.shape[0]):
        xc[i] = x[i] - x[0]
        yc[i] = xc[i] * xc[i]
        xc[i] = xc[i] * 0.5 + yc[i]
    return np.sum(np.tanh(xc)) + np.sum(yc)


def row_set_then_read_augmented(x):
    xc = np.zeros(x.shape)
    for i in range(x.shape[0]):
        xc[i] = x[i] - x[0]
        xc[i] += np.sin(xc[i])
    return np.sum(np.tanh(xc))


def row_set_then_read_nested(x):
    n = x.shape[0]
    xc = np.zeros(x.shape)
    for j in range(2):
        for i in range(n):
            xc[i] = x[i] * (j + 1.0) - xc[i] * 0.5
    return np.sum(np.tanh(xc))


def row_set_then_read_element(x):
    xc = np.zeros(x.shape)
    for i in range(x.shape[0]):
        xc[i] = x[i] - x[0]
        xc[i, 0] = xc[i, 1] * xc[i, 2]
    return np.sum(np.tanh(xc))


def row_set_then_read_two_loops(x):
    xc = np.zeros(x.shape)
    for i in range(x.shape[0]):
        xc[i] = x[i] - x[0]
    for i in range(x.shape[0]):
        xc[i] = xc[i] * x[i]
    return np.sum(np.tanh(xc))


def row_set_then_read_running_sum(x):
    xc = np.zeros((x.shape[0], 3))
    s = np.zeros(3)
    for i in range(x.shape[0]):
        xc[i] = x[i] - s
        s = s + xc[i] * 0.5
    return np.sum(np.tanh(xc)) + np.sum(s * s)


# --- a list of run-time length read with a negative index, appended to later ------


def negative_read_then_append(x):
    """hs[-1] is x[0] when read; the adjoint must go to that element, not to
    the list's last element at the end."""
    hs = [x[1]]
    k = 0
    while k < 1:
        hs.append(x[0])
        k = k + 1
    t = np.sum(hs[-1])
    hs.append(x[1] * 2.0)
    return t + np.sum(hs[-1])


def negative_read_in_outer_loop(x):
    """The same in an RNN shape: each outer step's inner while loop appends,
    the outer body reads the newest state hs[-1]."""
    t = 0.0
    hs = [x[1] * 0.3]
    for i in range(2):
        k = 0
        while k < 2:
            hs.append(np.tanh(x[0] * (k + 1.0)))
            k = k + 1
        t = t + np.sum(hs[-1] * hs[-1])
    return t


# --- numbers only (adc check, SymPy) ----------------------------------------------


def scalar_nest(a, b):
    h = 0.1
    c = 0.0
    for i in range(3):
        for k in range(2):
            h = math.tanh(h * a + b * k)
            c = c * 0.5 + h
        h = h + c * 0.1
    return h * c


def scalar_nest_break(a, b):
    h = 0.1
    for i in range(3):
        for k in range(3):
            h = math.sin(h * a + b)
            if k == i:
                break
        h = h * b
    return h


def scalar_nest_list(a, b):
    hs = [a]
    for i in range(2):
        for k in range(2):
            hs.append(math.tanh(hs[-1] * b + a))
    return hs[-1] * hs[-2] + hs[1]


# --- random recurrent nests (tests/test_review19.py::test_random_recurrent_nests) --

_ACT = ["np.tanh", "np.sin", "sigmoid"]


class _Recurrent:
    """Random nests of two or three loops (``for`` over n, 2, 3, the outer
    index + 1 or n minus it, sometimes zero trips; ``while`` with a counter;
    break/continue) carrying vectors h and c, a number s, a sum t, rows H[i]
    of an array written by the outermost loop, and a list hs appended to at
    any depth (read after the loops only: see NEGATIVE in the test module)."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def vec(self, i: str) -> str:
        return self.r.choice(
            [f"x[{i}]", "h", "c", f"H[{i} - 1]", "W @ h", "h * c", f"x[{i}] * s"]
            + ["np.flip(h)", "h[::-1] * 0.5"]
        )

    def stmt(self, i: str, pad: str) -> list[str]:
        r = self.r
        k, a, b, act = r.randrange(10), self.vec(i), self.vec(i), r.choice(_ACT)
        if k <= 2:
            scale = r.choice(["0.5", "0.8"])
            return [pad + f"h = {act}(h * {scale} + {a} * {r.choice(['0.3', '0.6'])})"]
        if k == 3:
            return [pad + f"c = sigmoid({a}) * c + sigmoid(-{b}) * np.tanh(h)"]
        if k == 4:
            return [pad + f"s = s * 0.5 + np.sum({a} * {b}) * 0.1"]
        if k == 5:
            return [pad + f"hs.append({act}({a}) * 0.9)"]
        if k == 6:
            return [pad + f"h = h * {r.choice(['0.9', 's', 'c'])} + 0.05"]
        if k == 7:
            test = f"if np.sum({a}) > {r.choice(['0.0', '0.3'])}:"
            then = f"    h = {act}(h + {b} * 0.2)"
            return [
                pad + test,
                pad + then,
                pad + "else:",
                pad + "    c = c * 0.7 + 0.1",
            ]
        if k == 8:
            value = f"h[{r.randrange(3)}] * 0.5 + {r.choice(['s', 'c[0]'])} * 0.3"
            return [pad + f"h[{r.randrange(3)}] = {value}"]
        return [pad + f"t = t + np.sum({a} * {a}) * 0.1"]

    def loop(self, names: list, depth: int, level: int, outer) -> list[str]:
        r, i = self.r, names[0]
        pad, ip = "    " * level, "    " * (level + 1)
        trips = ["n", "2", "3", f"{outer} + 1" if outer else "n"]
        trips += [f"n - {outer}" if outer else "2", "0" if r.random() < 0.1 else "2"]
        end = r.choice(trips)
        is_while = r.random() < 0.15
        head = [pad + f"{i} = 0", pad + f"while {i} < {end}:"] if is_while else []
        head = head or [pad + f"for {i} in range({end}):"]
        parts = [self.stmt(f"{i} % n", ip) for _ in range(r.randrange(1, 4))]
        if depth > 1:
            for _ in range(r.choice([1, 1, 2])):
                inner = self.loop(names[1:], depth - 1, level + 1, i)
                parts.insert(r.randrange(len(parts) + 1), inner)
        if level == 1 and r.random() < 0.5:
            parts.append([ip + f"H[{i} % n] = h * {r.choice(['1.0', 'c', 's'])}"])
        body = [line for part in parts for line in part]
        if is_while:
            body.append(ip + f"{i} = {i} + 1")
        if r.random() < 0.15:
            if is_while:
                body += [ip + f"if {i} == 2:", ip + "    break"]
            else:
                jump = r.choice(["break", "continue"])
                body = [ip + f"if {i} == 1:", ip + "    " + jump] + body
        return head + body


def recurrent_program(seed: int) -> str:
    """The source of one function ``f(x)``, x of shape (n, 3), n >= 2."""
    g = _Recurrent(seed)
    depth = g.r.choice([2, 2, 3])
    lines = [
        "def f(x):",
        "    n = x.shape[0]",
        "    W = np.eye(3) * 0.3 + x[0, 1] * 0.1",
        "    h = x[0] * 0.2",
        "    c = np.zeros(3) + 0.1",
        "    s = 0.2",
        "    t = 0.0",
        "    H = np.zeros((n, 3))",
        "    hs = [x[1] * 0.3]",
    ]
    lines += g.loop(["i", "j", "k"][:depth], depth, 1, None)
    lines.append(
        "    return t + np.sum(h * h) + np.sum(c) * s + np.sum(H * H)"
        " + np.sum(hs[-1] * hs[0])"
    )
    head = (
        "import numpy as np\n\n\ndef sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))\n"
    )
    return head + "\n\n" + "\n".join(lines) + "\n"


FUNCTIONS = [
    rnn_layers,
    gru_units,
    lstm_layers,
    lstm_list_states,
    rnn_inner_list,
    rnn_inner_list_read_negative,
    rnn_list_per_outer,
    bidirectional,
    seq2seq,
    triangular_rows,
    scalar_inner_recurrence,
    inactive_inner,
    inactive_inner_array,
    inner_break,
    inner_continue,
    inner_data_break,
    inner_while,
    outer_while,
    zero_trip_inner_first,
    zero_trip_inner_all,
    zero_trip_outer,
    zero_trip_middle,
    nest3,
    nest4,
    nest3_rows,
    same_inner_twice,
    read_before_after_write,
    view_pushed_then_written,
    append_view_written_later,
    append_copy_written_later,
    helper_with_loop,
    recursion_around_loops,
    mixed_scalars_vectors,
    inner_writes_carried_elements,
    inner_writes_rows_offset,
    mgu_matrix_params,
    inner_augmented_rows,
    inner_negated_accumulate,
    carried_matrix_read_in_inner,
    view_mul_then_written,
    view_mul_then_written_same_inner,
    view_mul_then_written_outer,
    outer_continue_between,
    outer_break_between,
    inner_in_if,
    inner_in_if_data,
    outer_break_data,
    row_read_twice_same_iter,
    row_write_twice,
    row_adjoint_then_view,
    nested_row_zeroing,
    neg_accum,
    neg_accum_overlap,
    neg_accum_self,
    rnn_list_outer_reads,
    list_read_outer_index,
    list_append_same_twice,
    matrix_outermost,
    matrix_outermost_rows,
    if_around_nest,
    two_nests_in_sequence,
    helper_nest_called_twice,
    helper_nest_called_in_loop,
    inner_writes_rows,
    outer_writes_rows_inner_add,
    rnn_states_rows,
    prev_row_multiplies,
    row_read_by_inner,
    while_list,
    list_of_numbers,
    list_backward_read,
    list_break,
    list_data_index,
    list_two_lists,
    list_param_append,
    list_read_inside_inner,
    list_stack_mid,
    row_set_then_read_scaled,
    row_set_then_read_old_copy,
    row_set_then_read_twice,
    row_set_then_read_augmented,
    row_set_then_read_nested,
    row_set_then_read_element,
    row_set_then_read_two_loops,
    row_set_then_read_running_sum,
]
