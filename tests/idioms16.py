import numpy as np

DATA = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def p_nested_def(w, X):
    def act(z):
        return np.tanh(z)

    return np.sum(act(X @ w))


def p_lambda(w, X):
    f = lambda z: z * z  # noqa: E731
    return np.sum(f(X @ w))


def p_module(w):
    return np.sum((DATA @ w) ** 2)


def p_list(w, X):
    out = []
    for i in range(3):
        out.append(np.sum(X[i] * w))
    return sum(out)


def p_comp(w, X):
    return sum([np.sum(X[i] * w) ** 2 for i in range(3)])


def p_stack(w, X):
    rows = [X[i] * w for i in range(3)]
    return np.sum(np.stack(rows) ** 2)


def p_shape(w, X):
    n, d = X.shape
    return np.sum(X @ w) / n


def red(a, axis):
    return np.sum(a, axis=axis)


def p_axis_helper(w, X):
    return np.sum(red(X * w, axis=0) ** 2)


def p_alias(w):
    a = np.zeros(3)
    a[0] = w[0] * 2
    b = a.T
    return np.sum(b * w)


def p_static_str(w, X, kind="tanh"):
    if kind == "tanh":
        return np.sum(np.tanh(X @ w))
    return np.sum(X @ w)


def p_none(w, X, scale=None):
    if scale is None:
        scale = 1.0
    return np.sum(X @ w) * scale


def p_print(w, X):
    print("loss at", np.sum(X @ w))
    return np.sum(X @ w)


def p_divmod(w):
    q, r = divmod(7, 3)
    return np.sum(w) * q + r


def p_tree(params, X):
    h = X
    for W, b in params:
        h = np.tanh(h @ W + b)
    return np.sum(h)


def p_dict(p, X):
    return np.sum(np.tanh(X @ p["w"] + p["b"]))
