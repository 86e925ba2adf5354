"""Regressions found by review 16b: idioms of issue 16 in programs written by
others (comprehensions over a dict's items or a tree's leaf, tangents of a dict
built in another key order)."""

import numpy as np

from ad_compiler import grad, jvp


def _central(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def penalty_items(p, x):
    return sum([np.sum(v * x) ** 2 for k, v in p.items()])


def penalty_values(p, x):
    return sum(np.sum(np.sin(v) * x) for v in p.values())


def test_comprehension_over_dict_items_and_values():
    rng = np.random.default_rng(0)
    p = {"a": rng.normal(size=3), "b": rng.normal(size=3)}
    x = rng.normal(size=3)
    g = grad(penalty_items)(p, x)
    assert list(g) == ["a", "b"]
    for k in p:
        assert np.allclose(g[k], 2 * np.sum(p[k] * x) * x)
    g = grad(penalty_values)(p, x)
    for k in p:
        assert np.allclose(g[k], np.cos(p[k]) * x)


def rbf_mixture(p, x):
    terms = [np.exp(-np.sum((x - m) ** 2) / s**2) for m, s in zip(p["mu"], p["sig"])]
    return np.log(sum(terms))


def nearest(params, x):
    return sum(np.sum((x - m) ** 2) for m in params[0])


def test_comprehension_over_rows_of_a_tree_leaf():
    rng = np.random.default_rng(1)
    p = {"mu": rng.normal(size=(3, 2)), "sig": rng.normal(size=3) + 3}
    x = rng.normal(size=2)
    g = grad(rbf_mixture)(p, x)
    for k in p:

        def part(v, k=k):
            return rbf_mixture({**p, k: v}, x)

        assert np.allclose(g[k], _central(part, p[k]), atol=1e-7)
    mu = rng.normal(size=(4, 2))
    g = grad(nearest)((mu,), x)
    assert isinstance(g, tuple) and np.allclose(g[0], 2 * (mu - x))


def linear(p, x):
    return np.sum(p["a"] * x) + np.sum(p["b"] ** 2)


def test_jvp_tangent_dict_in_another_key_order():
    # JAX matches a dict's tangent by key (jax.tree_util sorts keys)
    p = {"b": np.array([1.0, 2.0]), "a": np.array([3.0, 4.0])}
    x = np.array([5.0, 6.0])
    t = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    y, ydot = jvp(linear, (p, x), (t, np.zeros(2)))
    assert np.isclose(y, 39.0 + 5.0)
    assert np.isclose(ydot, 5.0 + 2 * 2.0)


def weight_decay(p, x, kind="Tanh"):
    out = sum(np.sum(v * x) for k, v in p.items() if k.startswith("W"))
    for k, v in p.items():
        if k.lower().endswith("2") and kind.lower() == "tanh":
            out = out + np.sum(np.tanh(v))
    return out


def test_string_methods_of_static_keys_and_arguments():
    p = {"W1": np.ones(2), "b1": np.ones(2), "W2": np.zeros(2)}
    g = grad(weight_decay)(p, np.full(2, 3.0))
    assert np.allclose(g["W1"], 3.0) and np.allclose(g["b1"], 0.0)
    assert np.allclose(g["W2"], 3.0 + 1.0)  # x, and tanh'(0) = 1
    g = grad(weight_decay)(p, np.full(2, 3.0), kind="relu")
    assert np.allclose(g["W2"], 3.0)


def weighted_pairs(A, B):
    return sum(k * np.sum(x * y) for k, (x, y) in enumerate(zip(A, B)))


def weighted_pairs_loop(A, B):
    t = 0.0
    for k, (x, y) in enumerate(zip(A, B), 1):
        t = t + k * np.sum(x * y)
    return t


def rnn_outputs(Wh, xs):
    hs = [np.zeros(Wh.shape[0])]
    for x in xs:
        hs.append(np.tanh(Wh @ hs[-1] + x))
    return sum(k * np.sum(h * x) for k, (h, x) in enumerate(zip(hs, xs), 1))


def test_enumerate_of_zip_of_rows():
    A = np.ones((3, 2))
    B = np.arange(6.0).reshape(3, 2)
    assert np.allclose(grad(weighted_pairs)(A, B), np.arange(3.0)[:, None] * B)
    assert np.allclose(
        grad(weighted_pairs_loop)(A, B), np.arange(1.0, 4.0)[:, None] * B
    )
    rng = np.random.default_rng(2)
    Wh, xs = 0.5 * rng.normal(size=(3, 3)), rng.normal(size=(4, 3))
    g = grad(rnn_outputs)(Wh, xs)

    def part(W):
        return rnn_outputs(W, xs)

    assert np.allclose(g, _central(part, Wh), atol=1e-7)


def counted_rows(xs):
    t = 0.0
    for k, x in enumerate(xs, start=1):
        t = t + k * np.sum(x)
    return t


def counted_rows_comprehension(xs):
    return sum(k * np.sum(x) for k, x in enumerate(xs, start=2))


def test_enumerate_start_keyword_over_rows_is_not_dropped():
    # was silently counted from 0
    xs = np.ones((3, 2))
    assert np.allclose(grad(counted_rows)(xs), np.arange(1.0, 4.0)[:, None])
    assert np.allclose(
        grad(counted_rows_comprehension)(xs), np.arange(2.0, 5.0)[:, None]
    )


def counted_pairs(xs, ys):
    return sum(k * np.sum(x * y) for k, (x, y) in enumerate(zip(xs, ys), start=1))


def counted_layers(p):
    t = 0.0
    for k, w in enumerate(p, start=1):
        t = t + k * np.sum(w)
    return t


def test_enumerate_start_keyword_everywhere():
    xs = np.ones((3, 2))
    assert np.allclose(grad(counted_pairs)(xs, xs), np.arange(1.0, 4.0)[:, None])
    g = grad(counted_layers)([np.ones(2), np.ones(3)])
    assert np.allclose(g[0], 1.0) and np.allclose(g[1], 2.0)
