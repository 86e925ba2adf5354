"""Parameter trees: a differentiated argument that is a (nested) tuple, list or
dict of numbers and arrays, the JAX/autograd way.

Checked: the gradient has the argument's structure (tuple stays tuple, list
list, dict dict with its keys), every leaf against central differences, jvp
against vjp (the dot-product identity ⟨ȳ, J·ṫ⟩ = ⟨Jᵀ·ȳ, ṫ⟩), the Jacobian and
Hessian layout (output structure outside, input structure inside), the emitted
wrapper in ``.source``, caching per structure, and a Hypothesis generator of
random trees (random nesting of tuples/lists/dicts of random shapes).
"""

import importlib.util
import itertools
import math
import os

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from tiers import fast

from ad_compiler import grad, jvp, value_and_grad, vjp
from ad_compiler.ad.jacobians import hessian, jacfwd, jacobian, jacrev
from ad_compiler.errors import CompileError, UsageError
from ad_compiler.trees import flatten, treedef, unflatten

EPS = 1e-6


def layer(Wb, h):
    W, b = Wb
    return np.tanh(h @ W + b)


def mlp_loss(params, X, y):
    """Two layers, params = [(W1, b1), (W2, b2)], unpacked and indexed."""
    (W1, b1), last = params[0], params[-1]
    h = np.tanh(X @ W1 + b1)
    W2, b2 = last
    out = h @ W2 + b2
    return np.sum((out - y) ** 2) / len(params)


def mlp_helper(params, X):
    """A subtree passed to a helper of the user's."""
    h = layer(params[0], X)
    return np.sum(layer(params[1], h))


def mlp_loop(params, X):
    """A loop over the pairs (arrays of different shapes)."""
    h = X
    for W, b in params:
        h = np.tanh(h @ W + b)
    return np.sum(h * h)


def dict_model(p, x):
    a, b = p["ab"]
    return a * a * b + p["c"] * x * a + math.sin(p["c"])


def nested(t, x):
    return np.sum(t[0] * t[1]["w"]) * x + t[1]["k"][0] ** 3 * t[2]


def _rng_params(seed=0):
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(size=(3, 4)), rng.normal(size=4)),
        (rng.normal(size=(4, 2)), rng.normal(size=2)),
    ]


def _perturbed(tree, i, delta):
    leaves = flatten(tree)
    flat = [np.array(v, dtype=float) if np.ndim(v) else float(v) for v in leaves]
    leaf, index = _locate(flat, i)
    if np.ndim(flat[leaf]):
        flat[leaf] = flat[leaf].copy()
        flat[leaf].flat[index] += delta
    else:
        flat[leaf] += delta
    return unflatten(treedef(tree), flat)


def _locate(flat, i):
    for leaf, v in enumerate(flat):
        size = int(np.size(v))
        if i < size:
            return leaf, i
        i -= size
    raise IndexError(i)


def central(f, args, argnum=0):
    """Central differences of scalar f with respect to every number in
    args[argnum], as a flat vector in tree order."""
    tree = args[argnum]
    total = sum(int(np.size(v)) for v in flatten(tree))
    out = []
    for i in range(total):
        hi = list(args)
        lo = list(args)
        hi[argnum] = _perturbed(tree, i, EPS)
        lo[argnum] = _perturbed(tree, i, -EPS)
        out.append((f(*hi) - f(*lo)) / (2 * EPS))
    return np.array(out)


def flat_vector(tree):
    return np.concatenate([np.ravel(v) for v in flatten(tree)])


def same_structure(a, b):
    """The same containers, lengths and keys (leaves compared by kind only)."""
    if isinstance(a, dict):
        return (
            type(b) is dict
            and list(a) == list(b)
            and all(same_structure(a[k], b[k]) for k in a)
        )
    if isinstance(a, (tuple, list)):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(same_structure(x, y) for x, y in zip(a, b))
        )
    return np.shape(a) == np.shape(b)


# --- trees.py ------------------------------------------------------------------------
def test_flatten_and_unflatten_are_inverse_and_the_treedef_has_no_numbers():
    t = [(1.0, np.zeros(2)), {"w": 2.0, "b": (3.0,)}, "static"]
    d = treedef(t)
    assert flatten(t)[0] == 1.0 and len(flatten(t)) == 4
    back = unflatten(d, flatten(t))
    assert type(back) is list and type(back[0]) is tuple and list(back[1]) == ["w", "b"]
    assert back[2] is None  # a static has no derivative
    assert treedef([(5.0, np.ones(2)), {"w": 0.0, "b": (9.0,)}, "static"]) == d
    assert treedef([(5.0, np.ones(2)), {"b": 0.0, "w": (9.0,)}, "static"]) != d
    assert treedef(True) != treedef(1)  # a bool is static, 1 a number


# --- grad ----------------------------------------------------------------------------
@pytest.mark.parametrize("f", [mlp_loss, mlp_helper, mlp_loop])
def test_gradient_of_a_list_of_pairs_has_its_structure_and_matches_differences(f):
    params = _rng_params()
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5, 3))
    args = (params, X, rng.normal(size=(5, 2))) if f is mlp_loss else (params, X)
    g = grad(f)(*args)
    assert same_structure(params, g)
    assert np.allclose(flat_vector(g), central(f, args), atol=1e-6)


def test_gradient_of_a_dict_keeps_its_keys_and_order():
    p = {"ab": (1.5, 2.0), "c": 0.5}
    g = grad(dict_model)(p, 3.0)
    assert list(g) == ["ab", "c"] and type(g["ab"]) is tuple
    # a²b + c x a + sin c
    assert g["ab"] == pytest.approx((2 * 1.5 * 2.0 + 0.5 * 3.0, 1.5**2))
    assert g["c"] == pytest.approx(4.5 + math.cos(0.5))


def test_value_and_grad_and_argnums_tuple_of_trees():
    p = {"ab": (1.5, 2.0), "c": 0.5}
    value, (gp, gx) = value_and_grad(dict_model, argnums=(0, 1))(p, 3.0)
    assert value == pytest.approx(dict_model(p, 3.0))
    assert gx == pytest.approx(0.5 * 1.5)
    assert gp["c"] == pytest.approx(4.5 + math.cos(0.5))


def test_the_emitted_wrapper_reads_leaves_and_rebuilds_the_structure():
    d = grad(mlp_loss)
    params = _rng_params()
    X = np.ones((5, 3))
    d(params, X, np.ones((5, 2)))
    src = d.source
    assert "def mlp_loss_grad(params, X, y):" in src
    assert "params_0_0 = params[0][0]" in src and "params_1_1 = params[1][1]" in src
    assert (
        "def mlp_loss_leaves_grad(params_0_0, params_0_1, params_1_0, params_1_1, X, y)"
        in src
    )
    assert "return [(grads[0], grads[1]), (grads[2], grads[3])]" in src
    d2 = grad(dict_model)
    d2({"ab": (1.0, 2.0), "c": 0.5}, 1.0)
    assert 'p_ab_0 = p["ab"][0]' in d2.source and 'p_c = p["c"]' in d2.source
    assert 'return {"ab": (grads[0], grads[1]), "c": grads[2]}' in d2.source


def test_compiled_once_per_structure_and_again_for_another():
    d = grad(dict_model)
    d({"ab": (1.0, 2.0), "c": 0.5}, 1.0)
    first = d._last
    d({"ab": (3.0, 4.0), "c": 1.5}, 2.0)
    assert d._last is first  # same treedef, same shapes: no new compilation
    g = d({"ab": [3.0, 4.0], "c": 1.5}, 2.0)  # a list now: its own compilation
    assert d._last is not first and type(g["ab"]) is list


def test_a_tuple_passed_to_array_code_is_a_tree_not_an_array():
    def g(W, x):
        return np.sum(np.tanh(W[0] @ x) * W[1])

    W = (np.full((2, 3), 0.1), np.array([1.0, 2.0]))
    x = np.array([1.0, 2.0, 3.0])
    d = grad(g)
    assert d(np.full((2, 3), 0.1), x).shape == (2, 3)  # an array first: array code
    out = d(W, x)
    assert type(out) is tuple and out[0].shape == (2, 3)
    assert np.allclose(flat_vector(out), central(g, (W, x)), atol=1e-6)


SCALE = 2.0


def scaled(p):
    return SCALE * p["w"] ** 2


def test_a_rebound_global_is_seen_by_tree_derivatives():
    global SCALE
    d, h = grad(scaled), hessian(scaled)
    assert d({"w": 3.0}) == {"w": 12.0} and h({"w": 3.0}) == {"w": {"w": 4.0}}
    SCALE = 3.0
    try:
        assert d({"w": 3.0}) == {"w": 18.0} and h({"w": 3.0}) == {"w": {"w": 6.0}}
    finally:
        SCALE = 2.0


# --- jvp / vjp -------------------------------------------------------------------------
def test_jvp_takes_tangent_trees_and_vjp_returns_cotangent_trees():
    p = {"ab": (1.5, 2.0), "c": 0.5}
    t = {"ab": (0.3, -1.0), "c": 2.0}
    y, ydot = jvp(dict_model, (p, 3.0), (t, 0.5))
    y2, pullback = vjp(dict_model, p, 3.0)
    gp, gx = pullback(1.0)
    assert y == pytest.approx(y2) and list(gp) == ["ab", "c"]
    assert ydot == pytest.approx(flat_vector(gp) @ flat_vector(t) + gx * 0.5)


def test_a_tangent_not_structured_as_its_primal_is_a_usage_error():
    p = {"ab": (1.5, 2.0), "c": 0.5}
    for bad in ({"ab": (1.0,), "c": 0.0}, {"ab": [1.0, 0.0], "c": 0.0}, None):
        with pytest.raises(UsageError, match="not structured as its primal"):
            jvp(dict_model, (p, 3.0), (bad, 0.0))


def test_jvp_of_array_trees_matches_differences():
    params = _rng_params()
    X = np.random.default_rng(2).normal(size=(5, 3))
    t = _rng_params(3)
    _, ydot = jvp(mlp_helper, (params, X), (t, np.zeros_like(X)))
    assert ydot == pytest.approx(
        central(mlp_helper, (params, X)) @ flat_vector(t), abs=1e-6
    )


# --- Jacobians and Hessians ----------------------------------------------------------------
def test_hessian_of_a_tree_is_a_tree_of_trees():
    p = {"ab": (1.5, 2.0), "c": 0.5}
    H = hessian(dict_model)(p, 3.0)
    assert list(H) == ["ab", "c"] and list(H["ab"][0]) == ["ab", "c"]
    a, b, c, x = 1.5, 2.0, 0.5, 3.0
    assert H["ab"][0]["ab"] == pytest.approx((2 * b, 2 * a))  # ∂²/∂a∂a, ∂a∂b
    assert H["ab"][0]["c"] == pytest.approx(x)
    assert H["c"]["c"] == pytest.approx(-math.sin(c))


def test_jacobian_layout_output_outside_input_inside_with_array_blocks():
    def two(t, x):
        return np.sum(t[0] * x), t[1]["w"] * 2.0

    t = (np.arange(3.0), {"w": 1.5})
    for make in (jacfwd, jacrev, jacobian):
        J = make(two)(t, 1.0)
        assert type(J) is tuple and len(J) == 2  # one per output
        assert type(J[0]) is tuple and list(J[0][1]) == ["w"]  # the input's structure
        assert J[0][0].shape == (3,) and J[1][1]["w"] == pytest.approx(2.0)
    H = hessian(nested)((np.ones(2), {"w": np.arange(2.0), "k": (2.0,)}, 0.5), 3.0)
    assert np.shape(H[0][1]["w"]) == (2, 2) and H[1]["k"][0][1]["k"][
        0
    ] == pytest.approx(6 * 2.0 * 0.5)


# --- errors ------------------------------------------------------------------------------
def test_indexing_a_dict_by_a_missing_key_is_located():
    def f(p):
        return p["nope"] * 2.0

    with pytest.raises(CompileError, match="this dict has no key 'nope'"):
        grad(f)({"w": 1.0})


def test_a_function_using_a_tree_still_reports_its_errors_for_numbers():
    def f(p):
        a, b = p
        return a * b

    with pytest.raises(CompileError, match="cannot unpack a single number"):
        grad(f)(1.0)
    assert grad(f)((2.0, 3.0)) == (3.0, 2.0)


def test_a_tree_in_a_position_that_holds_no_numbers_is_a_usage_error():
    def f(p, x):
        return x * x * len(p)

    with pytest.raises(UsageError, match="hold no numbers"):
        grad(f)((), 1.0)
    assert grad(f, argnums=1)(("a", None), 3.0) == 12.0  # statics in a tuple: len 2


# --- random trees (Hypothesis) -------------------------------------------------------------
SETTINGS = settings(
    max_examples=int(os.environ.get("ADC_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
KEYS = ("w", "b", "gain", "0 x", "class")  # not identifiers too: named by position
SHAPES = ((), (2,), (1,), (2, 3), (3, 1))


def structures():
    leaf = st.sampled_from(SHAPES).map(lambda s: ("leaf", s))
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda c: ("tuple", c)),
            st.lists(inner, min_size=1, max_size=3).map(lambda c: ("list", c)),
            st.lists(
                st.tuples(st.sampled_from(KEYS), inner), min_size=1, max_size=3
            ).map(lambda kv: ("dict", dict(kv))),
        ),
        max_leaves=5,
    )


def build(structure, rng):
    kind, content = structure
    if kind == "leaf":
        return float(rng.normal()) if content == () else rng.normal(size=content)
    if kind == "dict":
        return {k: build(v, rng) for k, v in content.items()}
    items = [build(c, rng) for c in content]
    return tuple(items) if kind == "tuple" else items


def leaf_paths(structure, expr="p"):
    kind, content = structure
    if kind == "leaf":
        return [expr]
    if kind == "dict":
        pairs = [(f"{expr}[{k!r}]", v) for k, v in content.items()]
    else:
        pairs = [(f"{expr}[{i}]", c) for i, c in enumerate(content)]
    return [p for e, c in pairs for p in leaf_paths(c, e)]


_counter = itertools.count()


def load(tmp_path, structure):
    """``f(p, x)``: a smooth scalar of every leaf of ``p`` (read by its path)."""
    paths = leaf_paths(structure)
    terms = [f"np.sum(np.sin({path}) * {k + 1}.0) * x" for k, path in enumerate(paths)]
    terms.append(f"np.sum({paths[0]} ** 2)")
    text = (
        "import numpy as np\n\n\ndef f(p, x):\n    return " + " + ".join(terms) + "\n"
    )
    note(text)
    name = f"adc_trees_{os.getpid()}_{next(_counter)}"
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def check_random_tree(tmp_path, structure, seed):
    rng = np.random.default_rng(seed)
    p, t, x = build(structure, rng), build(structure, rng), 0.7
    f = load(tmp_path, structure)
    g = grad(f)(p, x)
    assert same_structure(p, g)
    assert np.allclose(flat_vector(g), central(f, (p, x)), atol=1e-5)
    _, ydot = jvp(f, (p, x), (t, 0.0))
    gp, _ = vjp(f, p, x)[1](1.0)
    assert same_structure(p, gp)
    assert ydot == pytest.approx(flat_vector(gp) @ flat_vector(t), rel=1e-9, abs=1e-9)


@pytest.mark.slow
@SETTINGS
@given(structure=structures(), seed=st.integers(0, 1000))
def test_random_trees(tmp_path, structure, seed):
    check_random_tree(tmp_path, structure, seed)


@fast(SETTINGS, examples=2)
@given(structure=structures(), seed=st.integers(0, 1000))
def test_random_trees_fast(tmp_path, structure, seed):
    check_random_tree(tmp_path, structure, seed)


def optional_bias(p, x):
    y = p["w"] * x
    if "b" in p:  # a key test: decided per structure
        y = y + p["b"]
    if "z" not in p and len(p) == 2:
        y = y * 2.0
    return y * y


def test_key_tests_and_len_of_a_dict_are_decided_per_structure():
    assert grad(optional_bias)({"w": 1.0, "b": 2.0}, 3.0) == {"w": 120.0, "b": 40.0}
    assert grad(optional_bias)({"w": 1.0}, 3.0) == {"w": 18.0}


def test_hessian_with_argnums_tuple_is_the_tuple_of_trees_twice():
    # outer: the tuple (p, x) by leaves; inner: the tuple (p, x) again (JAX's)
    p = {"ab": (1.5, 2.0), "c": 0.5}
    H_p, H_x = hessian(dict_model, argnums=(0, 1))(p, 3.0)
    H_pc_p, H_cx = H_p["c"]
    assert list(H_pc_p) == ["ab", "c"] and H_cx == pytest.approx(1.5)  # ∂²/∂c∂x = a
    assert H_pc_p["ab"][0] == pytest.approx(3.0)  # ∂²/∂c∂a = x
    H_xp, H_xx = H_x
    assert H_xp["ab"][0] == pytest.approx(0.5) and H_xx == pytest.approx(0.0)


def test_hessian_of_an_array_tree_matches_differences_of_the_gradient():
    rng = np.random.default_rng(4)
    params = [
        (rng.normal(size=(2, 3)), rng.normal(size=3)),
        (rng.normal(size=(3, 1)), rng.normal(size=1)),
    ]
    X = rng.normal(size=(4, 2))
    H = hessian(mlp_helper)(params, X)
    g = grad(mlp_helper)
    rows = []  # d/dθ_i of the gradient, flat, by central differences
    total = sum(a.size for pair in params for a in pair)
    for i in range(total):
        hi = flat_vector(g(_perturbed(params, i, EPS), X))
        lo = flat_vector(g(_perturbed(params, i, -EPS), X))
        rows.append((hi - lo) / (2 * EPS))
    # H[i-leaf][j-leaf] blocks of shape leaf_i.shape + leaf_j.shape, flattened
    leaves = flatten(params)
    blocks = flatten(H)  # outer tree order, inner tree order: row-major blocks
    k = len(leaves)
    assert len(blocks) == k * k
    dense = np.block(
        [
            [
                np.reshape(blocks[a * k + b], (leaves[a].size, leaves[b].size))
                for b in range(k)
            ]
            for a in range(k)
        ]
    )
    assert np.allclose(dense, np.array(rows), atol=1e-5)


def dict_values_loop(p, x):
    s = 0.0
    for v in p.values():
        s = s + np.sum(np.sin(v) * x)
    return s


def test_a_loop_over_the_values_of_a_dict_parameter():
    p = {"w": np.ones((2, 3)), "b": np.arange(2.0)}
    g = grad(dict_values_loop)(p, 2.0)
    assert list(g) == ["w", "b"]
    assert np.allclose(g["w"], 2.0 * np.cos(1.0)) and np.allclose(
        g["b"], 2 * np.cos([0.0, 1.0])
    )


def items_loop(p, x):
    s = 0.0
    for k, v in p.items():
        if k == "b":
            s = s + 2 * np.sum(v * x)
        else:
            s = s + np.sum(v**2 * x)
    return s


def keys_loop(p):
    t = 0.0
    for k in p:
        t = t + np.sum(p[k] ** 3)
    return t


def test_a_loop_over_the_keys_or_items_of_a_dict_is_unrolled():
    """Each iteration has its own key, a static value: the loop is unrolled, so
    `if k == "b"` is decided per key and `p[k]` is that key's leaf."""
    p = {"w": np.array([1.0, 2.0]), "b": np.array([0.5, -1.0])}
    x = np.array([3.0, 4.0])
    g = grad(items_loop)(p, x)
    assert list(g) == ["w", "b"]
    np.testing.assert_allclose(g["w"], 2 * p["w"] * x)
    np.testing.assert_allclose(g["b"], 2 * x)
    g = grad(keys_loop)(p)
    np.testing.assert_allclose(g["w"], 3 * p["w"] ** 2)
    np.testing.assert_allclose(g["b"], 3 * p["b"] ** 2)


def test_a_derivative_of_a_tree_gradient_says_what_to_use():
    def f(p):
        a, b = p
        return a * a * b

    with pytest.raises(UsageError, match="hessian, jacfwd and jacrev of the function"):
        grad(grad(f))
    with pytest.raises(UsageError, match="hessian, jacfwd and jacrev of the function"):
        hessian(grad(f))
    assert hessian(f)((1.0, 2.0)) == ((4.0, 2.0), (2.0, 0.0))


def make_tree_objective(X, y):
    """A factory's closure over data, taking its parameters as a dict (the
    autograd examples' `objective(params)` shape)."""

    def objective(p):
        return np.sum((np.tanh(X @ p["w"]) - y) ** 2) + p["c"] ** 2

    return objective


def test_a_tree_function_reading_arrays_from_its_closure():
    """Trees and scope data together: the wrapper passes the closure's arrays
    on by keyword, as bound at each call, in every mode."""
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    f = make_tree_objective(X, y)
    p = {"w": rng.normal(size=3), "c": 0.3}
    d = rng.normal(size=3)

    def along(h):
        return f({"w": p["w"] + h * d, "c": p["c"]})

    fd = (along(1e-6) - along(-1e-6)) / 2e-6
    g = grad(f)(p)
    assert list(g) == ["w", "c"] and g["c"] == pytest.approx(0.6)
    assert g["w"] @ d == pytest.approx(fd, rel=1e-6)
    assert "*, X, y" in grad(f).source
    assert jvp(f, (p,), ({"w": d, "c": 0.0},))[1] == pytest.approx(fd, rel=1e-6)
    assert vjp(f, p)[1](1.0)[0]["w"] @ d == pytest.approx(fd, rel=1e-6)
    H = hessian(f)(p)
    g_plus = grad(f)({"w": p["w"] + 1e-5 * d, "c": p["c"]})["w"]
    g_minus = grad(f)({"w": p["w"] - 1e-5 * d, "c": p["c"]})["w"]
    np.testing.assert_allclose(H["w"]["w"] @ d, (g_plus - g_minus) / 2e-5, rtol=1e-5)
    X[0, 0] += 1.0  # changed in place: the next call reads it
    fd_new = (along(1e-6) - along(-1e-6)) / 2e-6
    assert grad(f)(p)["w"] @ d == pytest.approx(fd_new, rel=1e-6)
    assert fd_new != pytest.approx(fd, rel=1e-3)


# --- programs written the way AD-library examples write them ----------------------------
def net_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - np.log(np.sum(np.exp(outputs), axis=1, keepdims=True))


def l2_norm(params):
    total = 0.0
    for W, b in params:
        total = total + np.sum(W * W) + np.sum(b * b)
    return total


def log_posterior(params, inputs, targets, L2_reg):
    log_prior = -L2_reg * l2_norm(params)
    return log_prior + np.sum(net_predict(params, inputs) * targets)


def rnn_predict(params, seq):
    h = np.zeros(params["init"].shape) + params["init"]
    for x in seq:
        h = np.tanh(np.dot(np.concatenate((x, h)), params["change"]))
    return np.dot(h, params["predict"])


def rnn_loss(params, seq, target):
    return np.sum((rnn_predict(params, seq) - target) ** 2)


def test_a_classifier_with_a_list_of_layers_and_a_loop_over_them():
    rs = np.random.RandomState(0)
    sizes = [4, 5, 3]
    params = [
        (0.1 * rs.randn(m, n), 0.1 * rs.randn(n)) for m, n in zip(sizes[:-1], sizes[1:])
    ]
    X, T = rs.randn(6, 4), np.eye(3)[rs.randint(0, 3, 6)]
    args = (params, X, T, 0.1)
    g = grad(log_posterior)(*args)
    assert same_structure(params, g)
    assert np.allclose(flat_vector(g), central(log_posterior, args), atol=1e-6)


def test_an_rnn_with_a_dict_of_parameters_both_modes():
    rs = np.random.RandomState(1)
    params = {
        "init": 0.1 * rs.randn(4),
        "change": 0.1 * rs.randn(7, 4),
        "predict": 0.1 * rs.randn(4, 2),
    }
    seq, target = rs.randn(5, 3), rs.randn(2)
    value, g = value_and_grad(rnn_loss)(params, seq, target)
    assert value == pytest.approx(rnn_loss(params, seq, target))
    want = central(rnn_loss, (params, seq, target))
    assert list(g) == ["init", "change", "predict"]
    assert np.allclose(flat_vector(g), want, atol=1e-6)
    t = {k: rs.randn(*v.shape) for k, v in params.items()}
    _, ydot = jvp(rnn_loss, (params, seq, target), (t, np.zeros((5, 3)), np.zeros(2)))
    assert ydot == pytest.approx(want @ flat_vector(t), abs=1e-6)
