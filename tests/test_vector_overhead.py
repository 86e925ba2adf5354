"""Vector mode's per-call overhead (issue 18, the bundle-adjustment Jacobian).

The Jacobian wrappers and the emitted vector-mode code do less per call: jacrev
seeds from the outputs' shapes of the last call with the same argument shapes
(checked against the values the code returns), jacobian picks forward mode for
arrays too small for the second sweep to pay off, and the emitted code has no
broadcast where the shapes show one to change nothing.  Speed itself is
measured by benchmarks/bench_ba.py, never here.
"""

import numpy as np
import pytest

from ad_compiler import jacfwd, jacobian, jacrev


def first(x, n):
    return x[:n] * x[:n]


def test_jacrev_seeds_again_when_the_output_shape_depends_on_a_value():
    """Same argument shapes, another n: the seeds of the last call are stale."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    J = jacrev(first)
    np.testing.assert_allclose(J(x, 2), np.diag(2 * x)[:2])
    np.testing.assert_allclose(J(x, 3), np.diag(2 * x)[:3])
    np.testing.assert_allclose(J(x, 3), np.diag(2 * x)[:3])  # seeded from the last
    np.testing.assert_allclose(J(x, 1), np.diag(2 * x)[:1])


def layer(W, x):
    return np.tanh(W @ x)


def test_jacobian_picks_forward_mode_for_small_arrays_and_reverse_for_large():
    rng = np.random.default_rng(0)
    J = jacobian(layer, argnums=(0, 1))
    small = rng.normal(size=(2, 3)), rng.normal(size=3)
    want = jacrev(layer, argnums=(0, 1))(*small)
    for got, expected in zip(J(*small), want):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert J.mode == "forward"  # (9 - 2) x 6 element operations: below a call
    large = rng.normal(size=(2, 300)), rng.normal(size=300)
    want = jacfwd(layer, argnums=(0, 1))(*large)
    for got, expected in zip(J(*large), want):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert J.mode == "reverse"  # (900 - 2) x 600
    J(*small)
    assert J.mode == "forward"  # the pick is kept per argument shapes


@pytest.mark.parametrize("make", [jacfwd, jacrev])
def test_blocks_are_writable_and_the_cached_directions_stay_unit(make):
    x = np.array([0.5, -1.0, 2.0])
    J = make(layer, argnums=1)
    W = np.arange(6.0).reshape(2, 3)
    block = J(W, x)
    assert block.flags.writeable and block.flags.owndata
    block[...] = 7.0  # the caller's to change: the next call is not affected
    expected = (1 - np.tanh(W @ x) ** 2)[:, None] * W
    np.testing.assert_allclose(J(W, x), expected, rtol=1e-12)


def observation(cam, X):
    """The rotation part of one bundle-adjustment observation, as written."""
    rot = cam[0:3]
    p = X - cam[3:6]
    return np.dot(rot, rot) * p + np.cross(rot, p)


def test_slices_of_a_parameter_and_of_its_tangent_need_no_broadcast():
    """cam[0:3] and cam_dot[:, 0:3] have one named length: the tangent of
    np.dot(rot, rot) multiplies the directions directly."""
    rng = np.random.default_rng(1)
    cam, X = rng.normal(size=6), rng.normal(size=3)
    J = jacfwd(observation, argnums=(0, 1))
    blocks = J(cam, X)
    body = J.source.split("def observation_jvp_vector")[1]
    assert "np.broadcast_to" not in body and "np.expand_dims" not in body
    assert body.count("_like(") == 1  # the result's own copy only
    h = 1e-6
    for argnum, block in enumerate(blocks):
        args = [cam, X]
        for j in range(args[argnum].size):
            up, down = [a.copy() for a in args], [a.copy() for a in args]
            up[argnum][j] += h
            down[argnum][j] -= h
            column = (observation(*up) - observation(*down)) / (2 * h)
            np.testing.assert_allclose(block[:, j], column, rtol=1e-6, atol=1e-8)


def test_reverse_vector_mode_adds_read_slices_into_one_array():
    """The adjoint of cam read at several slices: one array of zeros written
    into in place (the directions' axis has one named length), not an array
    of zeros per slice added up."""
    rng = np.random.default_rng(2)
    cam, X = rng.normal(size=6), rng.normal(size=3)
    J = jacrev(observation, argnums=(0, 1))
    want = jacfwd(observation, argnums=(0, 1))(cam, X)
    for got, expected in zip(J(cam, X), want):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    body = J.source.split("def observation_vjp_vector")[1]
    # one array of zeros each for cam, rot and p (read at 2, 3 and 3 places),
    # made and written without the _unindex helper (view_adds.zeros_then_write)
    assert body.count("np.zeros(") == 3 and "_unindex(" not in body, body
    assert body.count("+= ") == 5
