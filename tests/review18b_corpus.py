"""Adversarial loops for the new loop tapes (store / recompute / restore on
reverse, in-place writes): views kept across iterations, index arrays and
masks, negative and stepped slices, several arrays written per iteration,
writes into a parameter or its copy, break/continue/while/if, three-deep
nests, rows of an array, zip/enumerate, run-time lists, helpers and recursion.

Each function takes one array ``x`` of shape (n, 3), n >= 4, and returns a
number (``rows_out*`` return arrays).  Used by tests/test_review18b.py.
"""

import numpy as np


def view_row_kept(x):
    y = np.zeros(x.shape)
    prev = y[0]
    t = 0.0
    for i in range(x.shape[0]):
        y[i] = x[i] * 2.0 + 1.0
        t = t + np.sum(prev * x[i])
        prev = y[i]
    return t


def view_T_kept(x):
    y = np.ones(x.shape)
    yt = y.T
    t = 0.0
    for i in range(x.shape[0]):
        y[i] = np.sin(x[i]) * y[i]
        t = t + np.sum(yt[:, i] * x[i])
    return t


def reshape_view(x):
    y = np.ones(x.shape)
    flat = y.reshape(-1)
    t = 0.0
    for i in range(x.shape[0]):
        y[i] = x[i] * x[i]
        t = t + np.sum(flat * flat)
    return t


def index_array_repeat(x):
    y = np.zeros(4)
    idx = np.array([0, 1, 1, 3])
    for i in range(x.shape[0]):
        y[idx[:3]] = y[idx[:3]] * 0.5 + x[i]
    return np.sum(y * y)


def index_array_add_repeat(x):
    y = np.zeros(4)
    idx = np.array([0, 1, 1])
    for i in range(x.shape[0]):
        y[idx] = y[idx] * x[i] + 1.0
    return np.sum(y * y)


def bool_mask(x):
    y = np.ones(3)
    m = np.array([True, False, True])
    for i in range(x.shape[0]):
        y[m] = y[m] * x[i, 0] + x[i, 1]
    return np.sum(y * y)


def negative_idx(x):
    n = x.shape[0]
    y = np.zeros(n)
    for i in range(n):
        y[-i - 1] = y[-i] * 0.5 + np.sin(x[i, 0])
    return np.sum(y * y)


def step_slices(x):
    y = np.ones(6)
    for i in range(x.shape[0]):
        y[::2] = y[1::2] * x[i] + y[::2]
    return np.sum(y * y)


def overlapping_slices(x):
    y = np.ones(5)
    for i in range(x.shape[0]):
        y[0:3] = y[1:4] * x[i]
        y[2:5] = y[0:3] + x[i]
    return np.sum(y * y)


def two_arrays(x):
    n = x.shape[0]
    a = np.zeros(n)
    b = np.ones(n)
    for i in range(n):
        a[i] = b[i - 1] * x[i, 0] + a[i - 1]
        b[i] = a[i] * x[i, 1] + b[i]
    return np.sum(a * b)


def whole_by_value(x):
    n = x.shape[0]
    y = np.ones(n)
    t = 0.0
    for i in range(n):
        z = y * 1.0
        y[i] = np.sum(z * x[:, 0]) * 0.3
        t = t + np.sum(z * y)
    return t


def alias_two_names(x):
    n = x.shape[0]
    y = np.zeros(n)
    z = y
    for i in range(n):
        y[i] = x[i, 0] * 2.0 + z[i - 1]
    return np.sum(z * z)


def param_copy(x):
    y = x.copy()
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] * np.cos(y[i])
    return np.sum(y * y)


def param_copy_outer(x):
    y = x.copy()
    for j in range(2):
        for i in range(1, x.shape[0]):
            y[i] = y[i - 1] * np.cos(y[i]) + 0.1
    return np.sum(y * y)


def with_break(x):
    n = x.shape[0]
    y = np.zeros(n)
    for i in range(n):
        y[i] = y[i - 1] * 0.9 + x[i, 0]
        if i == 2:
            break
    return np.sum(y * y)


def with_continue(x):
    n = x.shape[0]
    y = np.ones(n)
    for i in range(n):
        if i % 2 == 1:
            continue
        y[i] = y[i - 1] * x[i, 0] + x[i, 1]
    return np.sum(y * y)


def while_write(x):
    n = x.shape[0]
    y = np.ones(n)
    i = 1
    while i < n:
        y[i] = y[i - 1] * np.sin(x[i, 0]) + y[i]
        i = i + 1
    return np.sum(y * y)


def if_inside(x):
    n = x.shape[0]
    y = np.zeros((n, 3))
    for i in range(n):
        if x[i, 0] > 0:
            y[i] = x[i] * y[i - 1] + 1.0
        else:
            y[i] = np.exp(x[i]) - y[i - 1]
    return np.sum(y * y)


def nested3(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for k in range(2):
        for j in range(3):
            for i in range(n):
                y[i, j] = y[i - 1, j] * x[i, j] * 0.5 + y[i, (j + 1) % 3]
    return np.sum(y * y)


def nested3_outer_write(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for k in range(2):
        for j in range(3):
            s = 0.0
            for i in range(n):
                s = s + y[i, j] * x[i, j]
            y[:, j] = y[:, j] * 0.5 + s
        y[k] = y[k] * x[k]
    return np.sum(y * y)


def rows_iter(x):
    y = np.zeros(3)
    out = np.zeros(x.shape)
    i = 0
    for row in x:
        y = y * 0.5 + np.sin(row)
        out[i] = y * row
        i = i + 1
    return np.sum(out * out)


def zip_enum(x):
    out = np.zeros(x.shape)
    for i, (a, b) in enumerate(zip(x, x[::-1])):
        out[i] = a * b + out[i - 1]
    return np.sum(out * out)


def list_append(x):
    hs = []
    h = np.zeros(3)
    for i in range(x.shape[0]):
        h = np.tanh(h * 0.5 + x[i])
        hs.append(h)
    t = 0.0
    for h2 in hs:
        t = t + np.sum(h2 * h2)
    return t


def helper_fill(v, y):
    for i in range(v.shape[0]):
        y[i] = y[i] * v[i] + 1.0
    return y


def helper_in_loop(x):
    y = np.ones(3)
    for i in range(x.shape[0]):
        y = helper_fill(x[i], y)
    return np.sum(y * y)


def helper_loop_write_outer(x):
    z = np.ones(x.shape)
    for i in range(x.shape[0]):
        z[i] = helper_fill(x[i], z[i - 1].copy())
    return np.sum(z * z)


def rec(v, k):
    if k == 0:
        return v
    return rec(np.sin(v) * v, k - 1)


def recursion_loop(x):
    y = np.zeros(x.shape)
    for i in range(x.shape[0]):
        y[i] = rec(x[i] + y[i - 1], 2)
    return np.sum(y * y)


def col_write_inner(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for j in range(3):
        y[:, j] = y[:, j - 1] * x[:, j] + y[:, j]
    return np.sum(y * y)


def elem2d(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for i in range(n):
        for j in range(3):
            y[i, j] = y[i - 1, j - 1] * x[i, j] + y[i, j] * 0.5
    return np.sum(y * y)


def augmented(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for i in range(n):
        y[i] += y[i - 1] * x[i]
        y[i] *= x[i]
    return np.sum(y * y)


def augmented_outer(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for k in range(2):
        for i in range(n):
            y[i] *= x[i] + y[i - 1]
    return np.sum(y * y)


def view_across_outer(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    r = y[1]
    t = 0.0
    for k in range(2):
        for i in range(n):
            y[i] = y[i] * x[i] + 0.1
        t = t + np.sum(r * x[0])
    return t + np.sum(y)


def read_after_loop_old(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    y0 = y * 1.0
    for k in range(2):
        for i in range(n):
            y[i] = np.sin(y[i] * x[i])
    return np.sum(y * y0) + np.sum(y0 * x)


def write_scalar_row_mixed(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for i in range(n):
        y[i] = x[i] * y[i - 1]
        y[i, 0] = y[i, 1] * y[i, 2]
        y[:, 2] = y[:, 2] * 0.9
    return np.sum(y * y)


def outer_restore_then_read(x):
    n = x.shape[0]
    a = np.zeros(n)
    t = 0.0
    for j in range(3):
        for i in range(n):
            a[i] = a[i] + x[i, j] * a[i - 1]
        a[j] = np.sin(a[j]) * x[0, j]
        t = t + np.sum(a * a)
    return t


def fancy_outer(x):
    n = x.shape[0]
    y = np.ones(n)
    idx = np.array([0, 2, 2])
    for j in range(2):
        for i in range(3):
            y[idx] = y[idx] * x[i, j] + 0.5
    return np.sum(y * y)


def mask_outer(x):
    n = x.shape[0]
    y = np.ones(n)
    for j in range(2):
        m = x[:, j] > 0
        for i in range(2):
            y[m] = y[m] * x[i, j] + 0.5
    return np.sum(y * y)


def step_outer(x):
    y = np.ones(6)
    for j in range(2):
        for i in range(x.shape[0]):
            y[::2] = y[1::2] * x[i] + y[::2]
    return np.sum(y * y)


def repeat_noloop(x):
    y = np.zeros(4)
    idx = np.array([0, 1, 1])
    y[idx] = x[0] * x[1]
    return np.sum(y * y)


def repeat_noloop_read(x):
    y = np.ones(4)
    idx = np.array([0, 1, 1])
    y[idx] = y[idx] * x[0]
    return np.sum(y * y)


def stored_view_then_written_after(x):
    n = x.shape[0]
    y = x * 1.0
    t = 0.0
    for i in range(n):
        t = t + np.sum(np.sin(y[i]) * x[i])
    y[1] = y[1] * 3.0
    y[2] = 0.0
    return t + np.sum(y * y)


def restore_outer_break(x):
    n = x.shape[0]
    y = np.ones(n)
    for j in range(3):
        for i in range(n):
            y[i] = y[i] * x[i, j] + 0.3
        if np.sum(y) > 100.0:
            break
        y[j] = y[j] * y[j]
    return np.sum(y * y)


def restore_outer_while(x):
    n = x.shape[0]
    y = np.ones(n)
    j = 0
    while j < 3:
        for i in range(n):
            y[i] = np.sin(y[i] * x[i, j])
        y[j] = y[j] + 1.0
        j = j + 1
    return np.sum(y * y)


def restore_if_one_branch(x):
    n = x.shape[0]
    y = np.ones(n)
    for j in range(3):
        s = 0.0
        for i in range(n):
            s = s + y[i] * x[i, j]
        if s > 0:
            y[j] = s * y[j]
        else:
            y[(j + 1) % n] = s
    return np.sum(y * y)


def restore_and_rebind(x):
    n = x.shape[0]
    y = np.ones(n)
    for j in range(3):
        for i in range(n):
            y[i] = y[i] * x[i, j] + 0.1
        y = y * 0.5 + np.sin(y)
        y[j] = y[j] * 2.0
    return np.sum(y * y)


def ragged_slices(x):
    n = x.shape[0]
    y = np.ones(n)
    for j in range(1, n):
        for i in range(2):
            y[:j] = y[:j] * x[j, i] + y[j]
    return np.sum(y * y)


def negative_step_slice(x):
    y = np.ones(6)
    for j in range(2):
        for i in range(x.shape[0]):
            y[4:0:-2] = y[1:5:2] * x[i, :2] + 0.2
    return np.sum(y * y)


def index2d_array(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    idx = np.array([0, 2])
    for j in range(3):
        for i in range(2):
            y[idx, j] = y[idx, j - 1] * x[i, j] + 0.1
    return np.sum(y * y)


def broadcast_scalar_row(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for j in range(2):
        for i in range(n):
            y[i] = np.sum(y[i - 1] * x[i]) * 0.5
    return np.sum(y * y)


def iterate_over_written(x):
    n = x.shape[0]  # noqa: F841  (as written in the wild)
    y = x * 1.0
    t = 0.0
    for j in range(2):
        for row in y:
            t = t + np.sum(np.sin(row) * row)
        y[j] = y[j] * 2.0
    return t


def read_whole_outer(x):
    n = x.shape[0]
    y = np.ones(n)
    t = 0.0
    for j in range(3):
        for i in range(n):
            y[i] = np.cos(y[i] + x[i, j])
        z = y
        t = t + np.sum(z * x[:, j])
        y[j] = t
    return t * np.sum(y)


def inner_writes_outer_row(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for i in range(n):
        for j in range(3):
            y[i, j] = y[i - 1, j] * x[i, j] + y[i, j - 1]
        y[i] = y[i] / (1.0 + np.sum(y[i] * y[i]))
    return np.sum(y * y)


def two_inner_loops(x):
    n = x.shape[0]
    y = np.ones(n)
    z = np.zeros(n)
    for j in range(3):
        for i in range(n):
            y[i] = y[i] * x[i, j] + z[i]
        for i in range(n):
            z[i] = np.sin(y[i] + z[i - 1])
    return np.sum(y * z)


def matrix_rows(x):
    n = x.shape[0]
    W = np.eye(3) + 0.1
    h = np.zeros((n, 3))
    for i in range(n):
        h[i] = np.tanh(h[i - 1] @ W + x[i])
    return np.sum(h * h)


def matrix_rows_outer(x):
    n = x.shape[0]
    W = np.eye(3) * 0.5
    h = np.zeros((n, 3))
    for k in range(2):
        for i in range(1, n):
            h[i] = np.tanh(h[i - 1] @ W + x[i] + h[i])
        W = W + np.outer(h[0], h[n - 1]) * 0.1
    return np.sum(h * h)


def write_param(x):
    for i in range(1, x.shape[0]):
        x[i] = x[i - 1] * np.sin(x[i])
    return np.sum(x * x)


def write_param_outer(x):
    for j in range(2):
        for i in range(1, x.shape[0]):
            x[i] = x[i - 1] * np.sin(x[i]) + 0.1
    return np.sum(x * x)


def rows_out(x):
    y = np.zeros(x.shape)
    for i in range(x.shape[0]):
        y[i] = np.tanh(x[i] * y[i - 1] + x[i])
    return y


def rows_out_outer(x):
    y = np.ones(x.shape)
    for j in range(2):
        for i in range(x.shape[0]):
            y[i] = np.sin(x[i] * y[i - 1]) + y[i]
    return y[1:] * 2.0


def cse_zeros(x):
    n = x.shape[0]
    a = np.zeros(n)
    b = np.zeros(n)
    for i in range(n):
        a[i] = x[i, 0] * x[i, 1]
        b[i] = a[i - 1] + b[i - 1] * x[i, 2]
    return np.sum(a * b) + np.sum(b)


def cse_zeros_noloop(x):
    a = np.zeros(3)
    b = np.zeros(3)
    a[0] = x[0, 0]
    b[1] = x[1, 1] * a[0]
    return np.sum(a * b) + np.sum(np.sin(b + a))


def cse_zeros_like(x):
    n = x.shape[0]
    a = np.zeros_like(x)
    b = np.zeros_like(x)
    for j in range(2):
        for i in range(n):
            a[i] = x[i] * b[i - 1] + 1.0
            b[i] = np.sin(a[i])
    return np.sum(a * b)


def cse_zeros_adjoint(x):
    n = x.shape[0]
    y = np.zeros(x.shape)
    for i in range(n):
        y[i] = np.sin(x[i] * y[i - 1] + x[i])
    z = np.zeros(x.shape)
    z[0] = y[1]
    return np.sum(y * y) + np.sum(z * x)


def ones_twice(x):
    n = x.shape[0]
    a = np.ones(n)
    t = 0.0
    for j in range(2):
        b = np.ones(n)
        for i in range(n):
            b[i] = b[i - 1] * x[i, j] + a[i]
        a[j] = np.sum(b)
        t = t + np.sum(b * a)
    return t


def enum_rows_written(x):
    n = x.shape[0]
    y = x * 1.0
    for i, row in enumerate(y):
        y[(i + 1) % n] = row * x[i] + 0.1
    return np.sum(y * y)


def zero_trip_outer(x):
    n = x.shape[0]
    y = np.ones(n)
    for j in range(n - 5):
        for i in range(n):
            y[i] = y[i] * x[i, 0]
    return np.sum(y * x[:, 1])


def zero_trip_inner(x):
    n = x.shape[0]
    y = np.ones(n)
    for j in range(3):
        for i in range(j - 1):
            y[i] = y[i] * x[i, j] + 0.5
        y[j] = y[j] * x[j, 0]
    return np.sum(y * x[:, 1])


def read_old_whole_before_write(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    t = 0.0
    for i in range(n):
        t = t + np.sum(y * x)
        y[i] = x[i] * y[i - 1]
    return t


def read_old_whole_before_write_outer(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    t = 0.0
    for j in range(2):
        for i in range(n):
            t = t + np.sum(y * x) * 0.1
            y[i] = x[i] * y[i - 1] + 0.2
        y[j] = y[j] * t
    return t


def scalar_carried_array_read(x):
    n = x.shape[0]
    y = np.zeros(n)
    for i in range(n):
        y[i] = x[i, 0]
        y[i] = y[i] * y[i] + np.sum(y) * x[i, 1]
    return np.sum(y * y)


def write_whole_slice(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for i in range(n):
        y[:] = y * 0.5 + x[i]
        y[i] = np.sin(y[i])
    return np.sum(y * y)


def write_whole_slice_outer(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for j in range(2):
        for i in range(n):
            y[:] = y * 0.5 + x[i]
            y[i] = np.sin(y[i])
        y[...] = y * y
    return np.sum(y * y)


def ellipsis_write(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    for i in range(n):
        y[..., i % 3] = y[..., (i + 1) % 3] * x[:, i % 3]
    return np.sum(y * y)


def three_d(x):
    n = x.shape[0]
    y = np.ones((2, n, 3))
    for j in range(2):
        for i in range(n):
            y[j, i] = y[j - 1, i - 1] * x[i] + 0.1
        y[j] = np.tanh(y[j])
    return np.sum(y * y)


def multi_write_same_outer(x):
    n = x.shape[0]
    y = np.ones(n)
    for j in range(3):
        y[j] = y[j] * x[j, 0]
        y[j] = y[j] + x[j, 1] * y[j - 1]
        y[j - 1] = np.sin(y[j])
        for i in range(2):
            y[i] = y[i] * x[i, j]
    return np.sum(y * y)


def tanh_then_write(x):
    acc = np.zeros(3) + 0.1
    for i in range(x.shape[0]):
        acc = np.tanh(acc * x[i] + x[i])
    acc[0] = 5.0
    return np.sum(acc * x[0])


def tanh_then_write_row(x):
    h = np.zeros(x.shape)
    for i in range(x.shape[0]):
        h[i] = np.tanh(h[i - 1] * x[i] + x[i])
    h[2] = 0.0
    h[3] = h[3] * 2.0
    return np.sum(h * h)


def mul_then_write(x):
    acc = np.ones(3)
    for i in range(x.shape[0]):
        acc = acc * x[i] + 0.5
    acc[1] = acc[1] * 3.0
    acc[2] = 0.0
    return np.sum(acc * acc)


def exp_then_write_next_loop(x):
    acc = np.ones(3)
    for i in range(x.shape[0]):
        acc = np.exp(acc * x[i] * 0.3)
    for i in range(3):
        acc[i] = acc[i] * x[i, 0]
    return np.sum(acc * acc)


def tape_then_write_outer(x):
    y = np.ones(3)
    for j in range(2):
        for i in range(x.shape[0]):
            y = np.tanh(y * x[i] + 0.1)
        y[j] = y[j] * x[j, 0] + 1.0
    return np.sum(y * y)


def sqrt_then_inplace(x):
    a = x[:, 0] * 0.0 + 1.0
    for i in range(x.shape[0]):
        a = np.sqrt(a + x[i, 1] ** 2)
    a[0] = a[0] * 0.5
    a[1] += 1.0
    return np.sum(a * a)


def carried_start_then_write(x):
    a = np.ones(3)
    b = a  # noqa: F841  (a second name, never read)
    for i in range(x.shape[0]):
        a = a * x[i]
    a[0] = 1.0
    return np.sum(a)


def rows_of_written(x):
    y = x * 1.0
    i = 0
    for row in y:
        y[(i + 1) % 5] = row * 2.0
        i = i + 1
    return np.sum(y * y)


def rows_of_written_noncarried_effect(x):
    y = x * 1.0
    t = 0.0
    for row in y:
        t = t + np.sum(row)
        y[4] = y[4] + 1.0
    return t


def fixed_point(A, v):
    """A small carried state (v) and a large temporary per iteration (A * v)."""
    for t in range(40):
        v = np.sum(np.tanh(A * v[None, :]), axis=1) * 0.5 + v * 0.5
    return np.sum(v * v)


def scalar_before_inner(x):
    n = x.shape[0]
    A = np.ones(n)
    t = 0.0
    for j in range(3):
        s = A[j]
        for i in range(n):
            A[i] = A[i] * x[i, j] + s
        t = t + s * A[j]
    return t


def row_copy_before_inner(x):
    n = x.shape[0]
    A = np.ones((n, 3))
    t = 0.0
    for j in range(3):
        r = A[j] + 0.0
        for i in range(n):
            A[i] = A[i] * x[i] + r
        t = t + np.sum(r * A[j])
    return t


def inner_from_outer_acc(x):
    n = x.shape[0]
    acc = np.zeros(3)
    t = 0.0
    for j in range(3):
        for i in range(n):
            acc = acc + x[i] * x[i, j]
            acc[j] = np.sin(acc[j])
        t = t + np.sum(acc * acc)
    return t


def inner_from_outer_write_then_old(x):
    n = x.shape[0]
    A = np.ones(n)
    t = 0.0
    for j in range(3):
        old = A * 1.0
        for i in range(n):
            A[i] = np.cos(A[i] * x[i, j])
        t = t + np.sum(old * A)
    return t


def two_inner_same_start(x):
    n = x.shape[0]
    A = np.ones(n)
    for j in range(2):
        B = A * 1.0
        for i in range(n):
            A[i] = A[i] * x[i, j] + 0.1
        for i in range(n):
            B[i] = B[i] + A[i] * x[i, 2]
        A = A + B
    return np.sum(A * A)


def inner_acc_nested3(x):
    n = x.shape[0]
    acc = np.ones(3)
    for k in range(2):
        for j in range(3):
            for i in range(n):
                acc[j] = acc[j] * x[i, j] * 0.9 + acc[(j + 1) % 3] * 0.1
            acc = acc / (1.0 + np.sum(acc * acc))
    return np.sum(acc)


def two_params(x, w):
    n = x.shape[0]
    y = np.zeros((n, 3))
    for j in range(2):
        for i in range(n):
            y[i] = np.tanh(y[i - 1] @ w + x[i])
        w = w * 0.9 + np.outer(y[0], y[1]) * 0.1
    return np.sum(y * y)


def read_repeat_idx(x):
    n = x.shape[0]
    y = x[:, 0] * 1.0
    idx = np.array([0, 1, 1])
    t = 0.0
    for i in range(n):
        t = t + np.sum(np.sin(y[idx]) * x[i])
        y[i] = y[i] * 0.5 + t * 0.1
    return t


def read_repeat_idx_2d(x):
    n = x.shape[0]
    idx = np.array([1, 1, 0, 1])
    t = 0.0
    for i in range(n):
        t = t + np.sum(x[idx] * x[idx, i % 3][:, None])
    return t


def while_outer_cond_on_array(x):
    n = x.shape[0]
    y = np.ones(n)
    k = 0
    while np.sum(y) < 30.0 and k < 4:
        for i in range(n):
            y[i] = y[i] * (1.5 + x[i, 0] * 0.1) + x[i, 1] * 0.1
        k = k + 1
    return np.sum(y * y)


def while_outer_break(x):
    n = x.shape[0]
    y = np.ones(n)
    k = 0
    while True:
        for i in range(n):
            y[i] = y[i] * (1.5 + x[i, 0] * 0.1)
        y[k] = y[k] + x[k, 2]
        k = k + 1
        if k >= 3:
            break
    return np.sum(y * y)


def runtime_list_rows(x):
    rows = []
    for i in range(x.shape[0]):
        rows.append(x[i] * 2.0)
    y = np.ones(3)
    for r in rows:
        for j in range(3):
            y[j] = y[j] * r[j] + 0.1
    return np.sum(y * y)


def mask_from_array_itself(x):
    n = x.shape[0]
    y = x[:, 0] * 2.0
    for j in range(2):
        for i in range(n):
            y[y > 0.5] = y[y > 0.5] * x[i, 1]
            y[i] = y[i] + x[i, 2]
    return np.sum(y * y)


def setitem_scalar_into_row_with_index_array(x):
    n = x.shape[0]
    y = np.ones((n, 3))
    cols = np.array([0, 2])
    for j in range(2):
        for i in range(n):
            y[i, cols] = y[i - 1, cols] * x[i, j] + 0.1
    return np.sum(y * y)


def argmax_index_write(x):
    n = x.shape[0]
    y = np.ones(n)
    for i in range(n):
        k = np.argmax(x[i])
        y[k] = y[k] * x[i, k] + y[i]
    return np.sum(y * y)


def argmax_index_write_outer(x):
    n = x.shape[0]
    y = np.ones(n)
    for j in range(2):
        for i in range(n):
            k = np.argmax(x[i] * y[i])
            y[k] = y[k] * x[i, k] + 0.1
        y[j] = y[j] * 0.5
    return np.sum(y * y)


def int_from_data(x):
    n = x.shape[0]
    y = np.zeros(3)
    for i in range(n):
        k = int(x[i, 0] > 0)
        y[k] = y[k] + x[i, 1] * y[k + 1] + 0.2
    return np.sum(y * y)


def shape_inside(x):
    n = x.shape[0]
    y = np.ones(x.shape)
    for i in range(n):
        z = np.zeros(y[i].shape) + y[i - 1]
        y[i] = z * x[i]
    return np.sum(y * y)


def where_in_loop(x):
    n = x.shape[0]
    y = np.ones(x.shape)
    for i in range(n):
        y[i] = np.where(x[i] > 0, y[i - 1] * x[i], np.exp(x[i]))
    return np.sum(y * y)


def cumsum_write(x):
    n = x.shape[0]
    y = np.ones(x.shape)
    for i in range(n):
        y[i] = np.cumsum(y[i - 1] * x[i])
    return np.sum(y * y)


def einsum_diag_write(x):
    Y = np.eye(3) + 0.1
    for i in range(x.shape[0]):
        d = np.einsum("ii->i", Y) * 1.0
        Y[i % 3] = d * x[i]
    return np.sum(Y * Y)


def pair_out(x):
    n = x.shape[0]
    y = np.ones(n)
    s = 0.0
    for j in range(2):
        for i in range(n):
            y[i] = np.sin(y[i - 1] * x[i, j]) + y[i] * 0.5
            s = s + y[i] * x[i, 2]
    return s, y
