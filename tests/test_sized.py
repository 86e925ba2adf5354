"""Array derivatives re-emitted for the exact shapes of a call (ad_compiler/sized.py).

The code for a shape pattern calls ``_like``/``_sum_to`` where the abstract
shapes cannot tell whether a value broadcasts; the first call with new exact
shapes probes which of those calls hand their argument back and files code
without them for those shapes.  Every case is checked against central
differences, at shapes where a slice is one element long and broadcasts as
well as where it is not, and in both orders of calls: a site wrongly dropped
is a wrong gradient or a crash at the other shapes."""

import sys
import types

import numpy as np
import pytest
from test_array_crashes import _central_gradient as central

from ad_compiler import grad, sized
from ad_compiler.ir import shape_infer
from ad_compiler.ir.nodes import iter_eqns

sys.path.insert(0, "benchmarks/adbench")


# Only calls inside a loop are probed (outside one, each runs once a call):
# every case below keeps its work in a loop of a fixed trip count.


def gates(w, x):
    b = x.shape[0]
    total = 0.0
    for _ in range(2):
        act = 1.0 / (1.0 + np.exp(-(w[: 3 * b] * np.concatenate([x, x, x]))))
        cell = act[:b] * act[b : 2 * b] + np.tanh(w[3 * b :])
        total = total + np.sum(act[2 * b :] * np.tanh(cell))
    return total


def by_count(x, k):  # a slice bound read from a number: its length is a value's
    total = 0.0
    for _ in range(2):
        total = total + np.sum(x[:k] * x[2:5] + np.sin(x[-k:]))  # x[:1] broadcasts
    return total


def masked(x):  # the shape of x[x > 0] is its values'
    total = 0.0
    for _ in range(2):
        y = x[x > 0.5]
        total = total + np.sum(y * np.sum(y)) + np.sum(x**2)
    return total


def until(x):  # a while loop on a value
    total = x
    while np.sum(total) < 10.0:
        total = total * 1.5 + x
    return np.sum(total**2)


def check(g, f, args, argnums):
    got = g(*args)
    got = got if isinstance(got, tuple) else (got,)
    for i, value in zip(argnums, got):
        want = central(f, args, i)
        np.testing.assert_allclose(value, want, rtol=1e-6, atol=1e-7)


def helper_calls(text: str) -> int:
    body = text.split("\ndef ")[-1]
    return body.count("_like(") + body.count("_sum_to(")


@pytest.mark.fast_sample(first=1)
@pytest.mark.parametrize("order", [(4, 1, 4), (1, 4, 1), (3, 2, 1)])
def test_code_per_shapes_is_right_at_every_size_in_any_order(order):
    """Gate slices of a length the shapes cannot know: b = 1 broadcasts
    (w longer than 4b), b > 1 does not; each size gets its own code."""
    g = grad(gates, argnums=(0, 1))
    rng = np.random.default_rng(0)
    for b in order:
        w, x = rng.uniform(-1, 1, 4 * b), rng.uniform(-1, 1, b)
        check(g, gates, (w, x), (0, 1))
        check(g, gates, (w, x), (0, 1))  # the filed code, second time
    w, x = rng.uniform(-1, 1, 12), rng.uniform(-1, 1, 1)  # act[b:2b]: 1 of 9
    check(g, gates, (w, x), (0, 1))


def test_the_filed_code_drops_the_helpers_and_says_for_which_shapes():
    g = grad(gates, argnums=(0, 1))
    w, x = np.linspace(-1, 1, 16), np.linspace(0.1, 0.4, 4)
    general = g.specialize(w, x).source
    g(w, x)
    g(w, x)
    assert "Specialised for the argument shapes w (16,), x (4,)" in g.source
    assert helper_calls(general) >= 4
    assert helper_calls(g.source) < helper_calls(general)
    assert "Specialised" not in g.specialize(w, x).source


def test_a_bound_read_from_a_number_keeps_its_helpers():
    """k's value is not in the dispatch key (only shapes and types are):
    the probe at k = 3 must not decide for k = 1, where x[:1] broadcasts."""
    g = grad(by_count)
    x = np.linspace(0.1, 1.9, 9)
    for k in (3, 1, 3, 1):
        check(g, by_count, (x, k), (0,))
    ir = g.specialize(x, 3).ir
    loose = sized.loose_shapes(ir)
    bounded = [
        e.out.name
        for e in iter_eqns(ir.body)
        if e.prim == "getitem" and "k" in map(str, e.ins)
    ]
    assert bounded and set(bounded) <= loose
    for e in sized.probe_sites(ir).values():
        assert not any(str(a) in loose for a in e.ins)


def ones_of(a, s):  # a shape given as an int array: its values are the shape
    total = 0.0
    for _ in range(2):
        total = total + np.sum(np.ones(s) * a)
    return total


def spread(x, n):  # np.broadcast(x[:n], x[:1]): a template of a value's shape
    total = 0.0
    for _ in range(2):
        total = total + np.sum(x[:n] * x[:1])
    return total


@pytest.mark.parametrize(
    "f, first, then",
    [
        (ones_of, (np.array([1.5]), np.array([1])), (np.array([1.5]), np.array([4]))),
        (spread, (np.linspace(0.5, 2, 4), 1), (np.linspace(0.5, 2, 4), 4)),
    ],
)
def test_shapes_from_values_through_shape_arguments_and_templates(f, first, then):
    """A shape from an array's values (np.ones(s)) and a broadcast template of
    a slice of a number's length are not fixed by the arguments' shapes: the
    second call, of the same shapes, must still sum back (found by review:
    [1, 1, 1, 1] for [4.], and a crash)."""
    g = grad(f)
    for args in (first, then, first):
        check(g, f, args, (0,))


@pytest.mark.parametrize("f", [masked, until])
def test_shapes_from_values_are_never_probed(f):
    g = grad(f)
    for n in (5, 1, 5):
        x = np.linspace(0.3, 0.9, n)
        check(g, f, (x,), (0,))
    ir = g.specialize(np.ones(5)).ir
    loose = sized.loose_shapes(ir)
    if f is until:
        assert loose is None  # control flow on a value: no code per shapes
    else:
        assert loose and "y" in " ".join(loose)
        sites = sized.probe_sites(ir)
        assert all(a.name not in loose for e in sites.values() for a in e.ins)


def test_results_never_share_memory_after_the_helpers_go():
    """A dropped _like can make two results one array: each result is still
    an array of its own."""

    def two(x, w):
        return np.sum(x * w) + np.sum(w)

    g = grad(two, argnums=(0, 1))
    x, w = np.ones(3), np.full(3, 2.0)
    for _ in range(2):
        gx, gw = g(x, w)
        assert not np.shares_memory(gx, gw)
        assert not np.shares_memory(gx, w) and not np.shares_memory(gw, x)


@pytest.mark.slow  # 11 shape sets compiled; the fast tier files code in the test above
def test_only_the_first_shape_sets_get_code_of_their_own():
    own = types.FunctionType(gates.__code__, gates.__globals__)  # not cached yet
    g = grad(own, argnums=(0, 1))
    for b in range(1, sized.MOST_SIZES + 4):
        w, x = np.linspace(-1, 1, 4 * b), np.linspace(0.1, 0.4, b)
        g(w, x)
    specialised = [
        c for c in g._by_sizes.values() if "Specialised" in (c.__doc__ or "")
    ]
    assert len(specialised) == sized.MOST_SIZES
    assert len(g._by_sizes) == sized.MOST_SIZES + 3


@pytest.mark.slow
def test_the_vectorised_lstm_gradient_loses_its_per_step_helpers():
    """adbench's vectorised LSTM: no _like/_sum_to left in its time loop
    (each was a Python call per layer and step), and the gradient is the
    code for every shape's, to rounding."""
    import lstm

    g = grad(lstm.lstm_vec, argnums=(0, 1))
    for shape in [(2, 14, 24), (1, 1, 6), (2, 14, 24)]:
        args = lstm.make_lstm(*shape)
        got = g(*args)
        want = g.specialize(*args)(*args)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    g(*lstm.make_lstm(2, 14, 24))
    loop = g.source.split("for t_1,", 1)[1]
    assert "_like(" not in loop and "_sum_to(" not in loop


def test_the_analysis_reads_shapes_not_values():
    """`b = x.shape[0]` is fixed by the shapes; `k` (a number argument) and
    what it bounds are not."""

    def f(x, k):
        b = x.shape[0]
        return np.sum(x[: b // 2] * 2.0) + np.sum(x[:k])

    g = grad(f)
    ir = g.specialize(np.ones(6), 2).ir
    loose = sized.loose_shapes(ir)
    env = shape_infer.infer(ir)
    assert loose is not None and env
    assert not any(name.startswith("b") for name in loose)
