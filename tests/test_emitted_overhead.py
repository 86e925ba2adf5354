"""Per-statement overhead of emitted reverse code: the helpers ``_like`` and
``_sum_to`` only where the shapes do not say, adjoints of chains of basic
indexing added straight into the array they end in (backend/view_adds.py),
copies no one can tell from their source dropped (backend/copies.py), and the
helpers' fast paths.  Each case is checked against central differences, at
shapes where the emitted code takes each of its ways."""

import numpy as np
import pytest
from test_array_crashes import _central_gradient as central

from ad_compiler import grad
from ad_compiler.primitives.indexing import _sum_to
from ad_compiler.primitives.registry import helper_function


def check(f, args, argnums):
    g = grad(f, argnums=argnums)
    got = g(*args)
    got = got if isinstance(got, tuple) else (got,)
    for i, value in zip(argnums, got):
        np.testing.assert_allclose(value, central(f, args, i), rtol=1e-6, atol=1e-7)
    return g.source


def same_shapes(x, y):
    return np.sum(np.sin(x) * y + x * x)


def slice_of_a_computed_length(p, x):
    b = x.shape[0]
    return np.sum(np.tanh(x * p[b:]))


def test_no_helper_where_the_shapes_are_proven_equal():
    rng = np.random.default_rng(0)
    source = check(same_shapes, (rng.normal(size=5), rng.normal(size=5)), (0, 1))
    body = source[source.index("def same_shapes_grad") :]
    assert "_like(" not in body and "_sum_to(" not in body
    assert "def _like" not in source and "def _sum_to" not in source


def test_helpers_stay_where_a_length_may_be_one():
    # p[b:] has len(p) - b elements: b of them (no broadcast) or 1 (x * p[b:]
    # stretches it): the same abstract shapes, one compilation for both
    rng = np.random.default_rng(1)
    x = rng.normal(size=4)
    g = grad(slice_of_a_computed_length, argnums=(0, 1))
    for p in (rng.normal(size=8), rng.normal(size=5)):
        got = g(p, x)
        for i, value in enumerate(got):
            want = central(slice_of_a_computed_length, (p, x), i)
            np.testing.assert_allclose(value, want, rtol=1e-6, atol=1e-7)
    assert len(g._by_signature) == 1  # one compilation served both
    assert "_sum_to(" in g.source


@pytest.mark.parametrize("name", ["_like", "_sum_to"])
@pytest.mark.parametrize(
    "t, x, lead",
    [
        (2.0, 3.0, 0),  # numbers: no .shape
        (np.float64(2.0), 3.0, 0),
        (np.array(2.0), np.zeros(()), 0),  # 0-d arrays
        (np.ones(3), np.zeros(3), 0),
        (np.ones((2, 3)), np.zeros(3), 1),  # directions in front
        (np.ones(2), 3.0, 1),
    ],
)
def test_the_helpers_fast_path_returns_the_argument_itself(name, t, x, lead):
    helper = helper_function(name)
    assert helper(t, x, lead) is t


def test_the_helpers_slow_path_still_broadcasts_and_sums():
    like = helper_function("_like")
    np.testing.assert_array_equal(like(2.0, np.zeros(3)), np.full(3, 2.0))
    np.testing.assert_array_equal(like(np.ones(1), np.zeros((2, 3))), np.ones((2, 3)))
    np.testing.assert_array_equal(
        _sum_to(np.ones((2, 3)), np.zeros(3)), np.full(3, 2.0)
    )
    np.testing.assert_array_equal(_sum_to(np.ones(3), 1.0), 3.0)
    np.testing.assert_array_equal(
        _sum_to(np.ones((4, 2, 3)), np.zeros((2, 1)), 1), np.full((4, 2, 1), 3.0)
    )
    unindex = helper_function("_unindex")
    np.testing.assert_array_equal(unindex(np.zeros(4), 1, 5.0), [0, 5, 0, 0])
    np.testing.assert_array_equal(unindex(np.zeros(4), np.s_[1:3], 5.0), [0, 5, 5, 0])
    np.testing.assert_array_equal(unindex(np.zeros(3), [1, 1], np.ones(2)), [0, 2, 0])


def gates(P, x):
    b = x.shape[0]
    total = 0.0
    for i in range(P.shape[0]):
        w = P[i]
        total += np.sum(np.sin(w[:b]) * x) + np.sum(w[b:] ** 2) + w[1] * w[-1]
    return total


def test_a_chain_of_basic_indexing_adds_into_the_adjoint_itself():
    rng = np.random.default_rng(2)
    source = check(gates, (rng.normal(size=(3, 5)), rng.normal(size=2)), (0, 1))
    body = source[source.index("def gates_grad") :]
    assert "_unindex(" not in body  # no temporary of a row's size
    assert ", :b] +=" in body and ", b:] +=" in body


def reversed_rows(P, x):
    total = 0.0
    for i in range(P.shape[0]):
        w = P[i]
        total += np.sum(np.cos(w[::-1]) * x) + np.sum(w[-2::-2] ** 3)
    return total


def picked_rows(P, x):
    total = 0.0
    for i in range(P.shape[0]):
        w = P[i]
        total += np.sum(np.sin(w[np.array([0, 2, 2])]) * x) + np.sum(w[1:] ** 2)
    return total


def rows_of_picked(P, x):
    total = 0.0
    for i in range(P.shape[0] - 1):
        w = P[np.array([i, i + 1, i])]
        total += np.sum(np.sin(w[:, 1:]) * x[1:]) + np.sum(w[:, :2] ** 2)
    return total


def once(P, x):
    w = P[1]
    return np.sum(np.sin(w[:3]) * x) + np.sum(w[2:] ** 2)


@pytest.mark.parametrize("f", [reversed_rows, picked_rows, rows_of_picked, once])
def test_chains_the_rewrite_must_get_right(f):
    # negative steps; an index array inside the chain (a place read twice adds
    # twice); an index array at its end (P[[i, i + 1, i]] is a copy, not a
    # view); an adjoint that is not an array the sweep owns
    rng = np.random.default_rng(3)
    check(f, (rng.normal(size=(4, 3)), rng.normal(size=3)), (0, 1))


def centred_rows(x, means):
    n = x.shape[0]
    total = 0.0
    for c in range(means.shape[0]):
        xc = np.zeros(x.shape)
        for i in range(n):
            xc[i] = x[i] - means[c]
        total += np.sum(np.sin(xc))
    return total


def test_a_row_loop_adjoint_copies_no_row():
    rng = np.random.default_rng(4)
    source = check(
        centred_rows, (rng.normal(size=(5, 3)), rng.normal(size=(2, 3))), (1,)
    )
    body = source[source.index("def centred_rows_grad") :]
    assert "np.copy(" not in body and ".copy()" not in body


def zeroed_rows(x):
    y = np.zeros(x.shape)
    for i in range(1, x.shape[0]):
        y[i] = np.sin(x[i]) * (y[i - 1] + 1.0)
    return np.sum(y * y)


def test_a_copy_whose_source_is_written_stays():
    # the reverse sweep reads y's rows after writing zeros into them
    rng = np.random.default_rng(5)
    check(zeroed_rows, (rng.normal(size=(4, 3)),), (0,))
