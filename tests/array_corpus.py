"""Array functions, one or a few NumPy operations each, with the shapes to call them on.

Each case is ``name: (function, arguments)``; an argument is a shape (a random
float array of that shape; ``()`` a Python float), ``("pos", shape)`` for one
with positive entries (logs, roots), or ``("const", value)`` for a value that
is passed as it is and not differentiated (an index, an int array).  Between
them the cases cover every operation of issue 5's list and every kind of
broadcasting: scalar with array, row with matrix, column with row, leading
axes, keepdims.
"""

import numpy as np


# --- elementwise, with broadcasting ----------------------------------------------------
def add(x, y):
    return x + y


def sub(x, y):
    return x - y


def mul(x, y):
    return x * y


def div(x, y):
    return x / y


def power(x, y):
    return x**y


def np_power(x, y):
    return np.power(x, y)


def square(x):
    return np.square(x)


def chain(a, x):
    return a * np.sin(x) + np.exp(-x * x) * a


def ufuncs(x):
    return (
        np.exp(x)
        + np.sin(x) * np.cos(x)
        + np.tan(x) * np.tanh(x)
        + np.sinh(x)
        - np.cosh(x)
        + np.arctan(x)
        + np.abs(x)
    )


def logs(x):
    return np.log(x) + np.log1p(x) + np.expm1(x) + np.sqrt(x) + np.log2(x)


def maximum(x, y):
    return np.maximum(x, y) + np.minimum(x, 0.2 * y)


def where(x, y):
    return np.where(x > y, x * y, x - y)


def clip(x):
    return np.clip(x, -0.5, 0.5) * x


# --- reductions ----------------------------------------------------------------------
def sum_all(x):
    return np.sum(x * x)


def sum_axis0(x):
    return np.sum(np.sin(x), axis=0)


def sum_axis1_keepdims(x):
    return x / np.sum(x * x, axis=1, keepdims=True)


def sum_negative_axes(x):
    return np.sum(x, axis=(-1, -2))


def sum_method(x):
    return (x * x).sum() + x.sum(axis=1).sum()


def sum_of_broadcast(a, x):
    """The scalar ȳ of a sum meets a broadcasting + directly: ā counts every element."""
    return np.sum(a + x) + np.mean(x - a) + np.sum(2.0 * (a - x))


def sum_of_row_broadcast(x, b):
    return np.sum(x + b, axis=1) + np.sum(x - b)


def mean_axis(x):
    return np.mean(x * x, axis=0) + x.mean()


def max_axis(x):
    return np.max(x, axis=1) + np.min(x, axis=0).sum()


def max_all(x):
    return np.max(x * 2.0) - x.min()


def prod_axis(x):
    return np.prod(x, axis=1)


# --- products -------------------------------------------------------------------------
def matmul(a, b):
    return a @ b


def np_matmul(a, b):
    return np.matmul(a, b)


def dot(a, b):
    return np.dot(a, b)


def dot_method(a, b):
    return a.dot(b)


def outer(a, b):
    return np.outer(a, b)


def einsum_matmul(a, b):
    return np.einsum("ij,jk->ik", a, b)


def einsum_inner(a, b):
    return np.einsum("i,i->", a, b)


def einsum_batched(a, b):
    return np.einsum("bij,bjk->bik", a, b)


def einsum_implicit(a, b):
    return np.einsum("ij,j", a, b)


# --- moving elements ------------------------------------------------------------------
def transpose_T(x):
    return x.T * np.arange(3.0)


def transpose_axes(x):
    return np.transpose(x, (1, 0, 2)) * 2.0


def reshape_flat(x):
    return x.reshape(-1) * np.arange(12.0)


def reshape_dynamic(x):
    n = len(x)
    return np.reshape(x, (n * 2, -1)) ** 2


def reshape_like(x, y):
    return np.reshape(x, y.shape) * y


def expand_squeeze(x):
    return np.squeeze(np.expand_dims(x, 1) * 3.0, axis=1) + np.expand_dims(x, -1).sum()


def concatenate(x, y):
    return np.concatenate([x, 2.0 * y], axis=0)


def concatenate_last(x, y):
    return np.concatenate((x * y, y), axis=-1)


def stack(x, y):
    return np.stack([x, x * y, y], axis=1)


# --- indexing ---------------------------------------------------------------------------
def index_int(x):
    return x[0] * x[2]


def index_column(x):
    return x[:, 1] * x[1:, 0].sum()


def index_slices(x):
    return x[1:] - x[:-1] + x[::2].sum()


def index_newaxis(x):
    return x[:, None] * x[None, :] + x[..., np.newaxis]


def index_mask(x):
    return np.sum(x[x > 0.0] ** 2)


def index_array(x, idx):
    return x[idx] * 2.0


def index_dynamic(x, i):
    return x[i] * x[i + 1]


def index_shape(x):
    return x / x.shape[0] + x.size


def setitem(x):
    y = np.zeros(len(x))
    y[0] = x[1] * 3.0
    y[1:] = x[:-1]
    return y * x


def setitem_add(x):
    z = x * 1.0
    z[1] += z[0] * z[2]
    z[0] = 5.0
    return z


# --- constructors, shapes ------------------------------------------------------------------
def constructors(x):
    n = len(x)
    return (
        np.zeros_like(x)
        + np.ones((n,)) * x
        + np.full(n, 2.0) * x
        + np.eye(n) @ x
        + np.arange(n) * x
        + np.ones_like(x) * np.sum(x)
    )


# --- the usual numerically stable forms ---------------------------------------------------
def softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def logsumexp(z):
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


def log_softmax_loss(Z, Y):
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(Y * logp) / len(Z)


# --- with control flow ---------------------------------------------------------------------
def loop_rows(x, w):
    acc = 0.0
    for i in range(len(x)):
        acc = acc + np.tanh(x[i] @ w)
    return acc


def loop_over_rows(X, w):
    total = 0.0
    for row in X:
        total = total + np.tanh(row @ w)
    return total


def loop_fill(x):
    y = np.zeros(len(x))
    for i in range(len(x)):
        y[i] = x[i] * x[i] + (y[i - 1] if i > 0 else 0.0)
    return y


def loop_matrix_power(a, v):
    for _ in range(3):
        v = a @ v
        v = v / np.sqrt(np.sum(v * v))
    return v


def branch_on_reduction(x):
    if np.sum(x) > 0:
        return np.sum(x * x)
    return -np.sum(x)


def mlp(W1, b1, W2, b2, X, Y):
    H = np.tanh(X @ W1 + b1)
    out = H @ W2 + b2
    diff = out - Y
    return 0.5 * np.sum(diff * diff) / len(X)


POS = "pos"
CASES = {
    # broadcasting of every kind
    "add_row_matrix": (add, [(3, 4), (4,)]),
    "add_scalar_array": (add, [(), (3, 4)]),
    "sub_column_row": (sub, [(3, 1), (1, 4)]),
    "mul_leading_axes": (mul, [(2, 3, 4), (3, 1)]),
    "mul_scalar_array": (mul, [(3,), ()]),
    "div_keepdims": (div, [(3, 4), (POS, (3, 1))]),
    "power_arrays": (power, [(POS, (3, 4)), (4,)]),
    "np_power_scalar": (np_power, [(POS, (5,)), ()]),
    "square": (square, [(2, 3)]),
    "chain_scalar_with_array": (chain, [(), (5,)]),
    "ufuncs": (ufuncs, [(3, 4)]),
    "logs": (logs, [(POS, (6,))]),
    "maximum": (maximum, [(3, 4), (4,)]),
    "where": (where, [(3, 4), (3, 4)]),
    "clip": (clip, [(8,)]),
    # reductions
    "sum_all": (sum_all, [(3, 4)]),
    "sum_axis0": (sum_axis0, [(3, 4)]),
    "sum_axis1_keepdims": (sum_axis1_keepdims, [(3, 4)]),
    "sum_negative_axes": (sum_negative_axes, [(2, 3, 4)]),
    "sum_method": (sum_method, [(3, 4)]),
    "mean_axis": (mean_axis, [(3, 4)]),
    "sum_of_broadcast": (sum_of_broadcast, [(), (5,)]),
    "sum_of_row_broadcast": (sum_of_row_broadcast, [(3, 4), (4,)]),
    "max_axis": (max_axis, [(3, 4)]),
    "max_all": (max_all, [(3, 4)]),
    "prod_axis": (prod_axis, [(POS, (3, 4))]),
    # products
    "matmul_2d": (matmul, [(3, 4), (4, 5)]),
    "matmul_vector_matrix": (matmul, [(4,), (4, 5)]),
    "matmul_matrix_vector": (matmul, [(3, 4), (4,)]),
    "matmul_vectors": (matmul, [(4,), (4,)]),
    "matmul_batched": (matmul, [(2, 3, 4), (4, 5)]),
    "np_matmul": (np_matmul, [(3, 4), (4, 2)]),
    "dot": (dot, [(3, 4), (4,)]),
    "dot_scalar": (dot, [(), (3,)]),
    "dot_method": (dot_method, [(3, 4), (4, 2)]),
    "outer": (outer, [(3,), (4,)]),
    "einsum_matmul": (einsum_matmul, [(3, 4), (4, 2)]),
    "einsum_inner": (einsum_inner, [(4,), (4,)]),
    "einsum_batched": (einsum_batched, [(2, 3, 4), (2, 4, 5)]),
    "einsum_implicit": (einsum_implicit, [(3, 4), (4,)]),
    # moving elements
    "transpose_T": (transpose_T, [(3, 4)]),
    "transpose_axes": (transpose_axes, [(2, 3, 4)]),
    "reshape_flat": (reshape_flat, [(3, 4)]),
    "reshape_dynamic": (reshape_dynamic, [(3, 4)]),
    "reshape_like": (reshape_like, [(3, 4), (2, 6)]),
    "expand_squeeze": (expand_squeeze, [(4,)]),
    "concatenate": (concatenate, [(2, 3), (4, 3)]),
    "concatenate_last": (concatenate_last, [(2, 3), (2, 3)]),
    "stack": (stack, [(3,), (3,)]),
    # indexing
    "index_int": (index_int, [(4, 3)]),
    "index_column": (index_column, [(4, 3)]),
    "index_slices": (index_slices, [(6,)]),
    "index_newaxis": (index_newaxis, [(3,)]),
    "index_mask": (index_mask, [(10,)]),
    "index_array_repeats": (index_array, [(5,), ("const", np.array([0, 2, 2, 4]))]),
    "index_dynamic": (index_dynamic, [(5,), ("const", 2)]),
    "index_shape": (index_shape, [(3, 2)]),
    "setitem": (setitem, [(4,)]),
    "setitem_add": (setitem_add, [(4,)]),
    # constructors and shapes
    "constructors": (constructors, [(4,)]),
    # stable forms
    "softmax": (softmax, [(3, 5)]),
    "logsumexp": (logsumexp, [(6,)]),
    "log_softmax_loss": (
        log_softmax_loss,
        [(4, 3), ("const", np.eye(3)[[0, 2, 1, 2]])],
    ),
    # control flow
    "loop_rows": (loop_rows, [(4, 3), (3,)]),
    "loop_fill": (loop_fill, [(5,)]),
    "loop_over_rows": (loop_over_rows, [(4, 3), (3,)]),
    "loop_matrix_power": (loop_matrix_power, [(3, 3), (3,)]),
    "branch_on_reduction": (branch_on_reduction, [(5,)]),
    "mlp": (mlp, [(4, 5), (5,), (5, 3), (3,), ("const", None), ("const", None)]),
}


def arguments(case: str, seed: int = 0) -> list:
    """Random arguments for a case (the MLP gets a data batch)."""
    fn, specs = CASES[case]
    rng = np.random.default_rng([seed, len(case), sum(map(ord, case))])
    out = []
    for spec in specs:
        if isinstance(spec, tuple) and spec and spec[0] == "const":
            out.append(spec[1])
        elif isinstance(spec, tuple) and spec and spec[0] == POS:
            out.append(rng.uniform(0.5, 2.0, size=spec[1]))
        elif spec == ():
            out.append(float(rng.uniform(0.3, 1.5)))
        else:
            out.append(rng.uniform(-1.0, 1.0, size=spec))
    if case == "mlp":
        out[4] = rng.normal(size=(6, 4))
        out[5] = rng.normal(size=(6, 3))
    return out


def differentiable(case: str) -> list[bool]:
    """Which arguments are perturbed by the checks (not the constants)."""
    fn, specs = CASES[case]
    return [not (isinstance(s, tuple) and s and s[0] == "const") for s in specs]
