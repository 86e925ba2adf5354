"""Loops whose reverse sweep needs values of their iterations: what the tape
records (ad_compiler/ad/reverse.py: *store* for innermost loops, *recompute*
with *restore on reverse* for loops around loops).

Each function takes one array ``x`` of shape (n, 3), n >= 3 (``w`` below is
made from ``x``), and returns a number; they are written the way loops are
written in other people's code: rows filled one at a time, recurrences
reading the previous row, several writes per iteration, writes at computed
indices, loops inside loops writing columns of an array the outer loop
carries.
"""

import numpy as np


def rows_tanh(x):
    """Rows filled one per iteration (store: the tape keeps tanh's output)."""
    w = x[0] * 0.5 + 1.0
    y = np.zeros(x.shape)
    for i in range(x.shape[0]):
        y[i] = np.tanh(x[i] * w)
    return np.sum(y * y)


def recurrence_rows(x):
    """Each row from the previous one: a view of the array written next."""
    y = np.zeros(x.shape)
    y[0] = x[0]
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] * np.sin(x[i]) + x[i]
    return np.sum(y * y)


def overwrite_twice(x):
    """Two writes to the same row in one iteration; the second reads the first."""
    y = np.ones(x.shape)
    for i in range(x.shape[0]):
        y[i] = x[i] * x[i]
        y[i] = y[i] * np.cos(x[i]) + y[(i + 1) % x.shape[0]]
    return np.sum(y * x)


def elements(x):
    """Element writes at computed indices, reading elements written before."""
    n = x.shape[0]
    v = np.zeros(n)
    v[0] = x[0, 0]
    for i in range(1, n):
        v[i] = v[i - 1] * x[i, 1] + np.exp(x[i, 2] * v[i // 2])
    return np.sum(v * v)


def while_store(x):
    """A while loop storing; its index is a carried number."""
    acc = np.zeros(3)
    i = 0
    while i < x.shape[0]:
        acc = acc * 0.5 + np.sin(x[i] * acc + x[i])
        i = i + 1
    return np.sum(acc * acc)


def carried_whole(x):
    """The iteration reads the whole carried array by value."""
    y = np.zeros(x.shape)
    s = 0.0
    for i in range(x.shape[0]):
        y[i] = x[i] * 2.0
        s = s + np.sum(y * x)
    return s


def columns_outer(x):
    """An outer loop writing columns of an array it carries, around an inner
    loop: a recurrence of vectors, so the outer loop stores (its inner loop's
    rows of every outer iteration on one tape)."""
    n = x.shape[0]
    out = np.zeros((n, 3))
    for j in range(3):
        acc = 0.0
        for i in range(n):
            acc = acc + np.sin(x[i, j] * acc + 1.0)
        out[:, j] = x[:, j] * acc
        out[0, j] = out[0, j] + out[1, j] * acc
    return np.sum(out * out)


def columns_outer_matrix(x):
    """columns_outer with a matrix made in every outer iteration: not a
    recurrence of vectors, so the outer loop recomputes, and restores the
    columns its writes overwrote."""
    n = x.shape[0]
    out = np.zeros((n, 3))
    for j in range(3):
        acc = 0.0
        for i in range(n):
            acc = acc + np.sin(x[i, j] * acc + 1.0)
        m = np.outer(x[:, j], x[:, j]) / n
        out[:, j] = (m @ x[:, j]) * acc
        out[0, j] = out[0, j] + out[1, j] * acc
    return np.sum(out * out)


def rows_of_clusters(x):
    """The GMM shape: per cluster a per-row loop centring the points, a
    column of an (n, k) array per cluster, then a log-sum-exp over rows."""
    n = x.shape[0]
    means = x[:2] * 0.5
    inner = np.zeros((n, 2))
    for j in range(2):
        xc = np.zeros(x.shape)
        for i in range(n):
            xc[i] = x[i] - means[j]
        inner[:, j] = -0.5 * np.sum(xc * xc, axis=1)
    top = np.max(inner, axis=1, keepdims=True)
    return np.sum(top[:, 0] + np.log(np.sum(np.exp(inner - top), axis=1)))


def restored_read_after(x):
    """The recomputed iteration reads an element its own writes made (the
    writes must be undone again after the recomputation)."""
    n = x.shape[0]
    a = np.ones(n)
    t = 0.0
    for j in range(n):
        s = 0.0
        for i in range(3):
            s = s + x[j, i] * a[(j + i) % n]
        a[j] = s
        a[(j + 1) % n] = a[j] * 0.5 + x[j, 0]
        t = t + a[(j + 1) % n] * s
    return t + np.sum(a)


def slices_restored(x):
    """Slice writes of a restored array, and a loop that ends with a break."""
    n = x.shape[0]
    b = np.zeros(n + 2)
    for j in range(n):
        for i in range(2):
            b[i : i + 2] = b[i : i + 2] * 0.5 + x[j, i]
        if j == n - 2:
            break
    return np.sum(b * b)


def zeros_each_round(x):
    """An inner loop filling ``np.zeros`` made in every outer iteration: the
    same expression as a zero array the reverse sweep makes before the outer
    loop, which must not be shared with it (a write in place would reach it)."""
    t = 0.0
    for j in range(2):
        xc = np.zeros(x.shape)
        for i in range(x.shape[0]):
            xc[i] = x[i]
        t = t + np.sum(xc * xc) * (j + 1.0)
    return t


FUNCTIONS = [
    rows_tanh,
    recurrence_rows,
    overwrite_twice,
    elements,
    while_store,
    carried_whole,
    columns_outer,
    columns_outer_matrix,
    rows_of_clusters,
    restored_read_after,
    slices_restored,
    zeros_each_round,
]
