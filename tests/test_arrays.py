"""Array programs: every operation, differentiated in both modes, on random shapes.

For each case of tests/array_corpus.py, at random points and directions ẋ:

* forward mode: ``jvp`` gives J·ẋ equal to central finite differences, with the
  output's shape;
* reverse mode: ``vjp`` gives adjoints shaped like the arguments, and the
  dot-product identity ⟨ȳ, J·ẋ⟩ = Σᵢ ⟨x̄ᵢ, ẋᵢ⟩ holds with J·ẋ from finite
  differences.
"""

from dataclasses import replace

import numpy as np
import pytest
from array_corpus import CASES, arguments, differentiable

from ad_compiler import grad, hessian, jvp, trace, vjp
from ad_compiler.errors import CompileError
from ad_compiler.ir import shape_infer, shapes

H = 1e-6


def _directions(case, args, rng):
    dirs = []
    for a, d in zip(args, differentiable(case)):
        if not d:
            dirs.append(0.0)
        elif isinstance(a, float):
            dirs.append(float(rng.normal()))
        else:
            dirs.append(rng.normal(size=np.shape(a)))
    return dirs


def _finite_difference(fn, args, dirs, case):
    def at(t):
        return [
            a + t * d if keep else a
            for a, d, keep in zip(args, dirs, differentiable(case))
        ]

    return (np.asarray(fn(*at(H))) - np.asarray(fn(*at(-H)))) / (2 * H)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.fast_sample(every=24)
def test_forward_mode_matches_finite_differences(case, seed):
    fn = CASES[case][0]
    args = arguments(case, seed)
    rng = np.random.default_rng(seed + 7)
    dirs = _directions(case, args, rng)
    y, y_dot = jvp(fn, args, dirs)
    np.testing.assert_allclose(y, fn(*args), rtol=1e-12, atol=1e-12)
    assert np.shape(y_dot) == np.shape(y)
    expected = _finite_difference(fn, args, dirs, case)
    np.testing.assert_allclose(y_dot, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.fast_sample(every=24)
def test_reverse_mode_satisfies_the_dot_product_identity(case, seed):
    fn = CASES[case][0]
    args = arguments(case, seed)
    rng = np.random.default_rng(seed + 11)
    dirs = _directions(case, args, rng)
    y, pullback = vjp(fn, *args)
    y_bar = rng.normal(size=np.shape(y))
    if np.ndim(y) == 0:
        y_bar = float(y_bar)
    adjoints = pullback(y_bar)
    total = 0.0
    for a, x_bar, d, keep in zip(args, adjoints, dirs, differentiable(case)):
        if keep:
            assert np.shape(x_bar) == np.shape(a), "an adjoint has its argument's shape"
            total += float(np.sum(np.asarray(x_bar) * d))
    expected = float(np.sum(y_bar * _finite_difference(fn, args, dirs, case)))
    assert total == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # and between the modes, exactly up to rounding: ⟨ȳ, J·ẋ⟩ = Σ ⟨x̄ᵢ, ẋᵢ⟩
    _, y_dot = jvp(fn, args, dirs)
    assert total == pytest.approx(float(np.sum(y_bar * y_dot)), rel=1e-9, abs=1e-12)


def test_mlp_gradient_is_the_textbook_backprop():
    """∂L/∂W = δ·yᵀ (seed 003), with δ flowing back through Wᵀ and tanh′."""
    from array_corpus import mlp

    W1, b1, W2, b2, X, Y = arguments("mlp")
    H_ = np.tanh(X @ W1 + b1)
    delta_out = (H_ @ W2 + b2 - Y) / len(X)
    delta_hidden = (delta_out @ W2.T) * (1 - H_**2)
    by_hand = (
        X.T @ delta_hidden,
        delta_hidden.sum(0),
        H_.T @ delta_out,
        delta_out.sum(0),
    )
    g = grad(mlp, argnums=(0, 1, 2, 3))
    for got, want in zip(g(W1, b1, W2, b2, X, Y), by_hand):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    source = g.source
    assert "W2_bar = H.T @ diff_bar" in source
    assert "b1_bar = v2_bar.sum(axis=0)" in source
    assert "_sum_to" not in source and "broadcast_to" not in source


def test_one_compilation_serves_every_batch_size():
    from array_corpus import mlp

    g = grad(mlp, argnums=0)
    W1, b1, W2, b2, X, Y = arguments("mlp")
    g(W1, b1, W2, b2, X, Y)
    first = g.source
    g(W1, b1, W2, b2, np.ones((50, 4)), np.ones((50, 3)))
    assert g.source is first
    # a batch of one broadcasts differently: compiled again, still right
    one = g(W1, b1, W2, b2, X[:1], Y[:1])
    assert one.shape == W1.shape


def test_grad_of_an_array_output_is_an_error():
    from array_corpus import square

    with pytest.raises(Exception, match="scalar"):
        grad(square)(np.ones(3))


def test_matmul_of_a_scalar_is_a_compile_error():
    from array_corpus import matmul

    with pytest.raises(CompileError, match="matrix product `@` of a scalar"):
        grad(lambda_free_matmul_sum)(2.0, np.ones(3))
    assert matmul


def lambda_free_matmul_sum(a, b):
    return np.sum(a @ b)


def test_a_shape_mismatch_is_numpys_error_at_the_emitted_line():
    """Shapes the code was not written for fail loudly, where they meet."""
    import traceback

    from array_corpus import mlp

    W1, b1, W2, b2, X, Y = arguments("mlp")
    g = grad(mlp, argnums=(0, 1, 2, 3))
    with pytest.raises(ValueError, match="matmul") as info:
        g(W1, b1, W2[:-1], b2, X, Y)
    last = traceback.extract_tb(info.tb)[-1]
    assert last.filename.startswith("<ad_compiler grad of mlp")
    assert "@ W2" in last.line


def test_an_unknown_numpy_function_is_a_compile_error():
    with pytest.raises(
        CompileError, match=r"`numpy.unwrap` \(called as `np.unwrap`\) is not supported"
    ):
        grad(uses_unwrap)(np.ones(3))


def uses_unwrap(x):  # (np.cumsum, used here before, has a row now)
    return np.sum(np.unwrap(x))


# --- broadcasting on random shapes (hypothesis) ------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import mutually_broadcastable_shapes  # noqa: E402
from tiers import fast  # noqa: E402


def bc_add(x, y):
    return np.sum(np.sin(x + y))


def bc_sub(x, y):
    return np.sum((x - y) ** 2)


def bc_mul(x, y):
    return np.sum(np.tanh(x * y))


def bc_div(x, y):
    return np.sum(x / np.exp(y))


def bc_maximum(x, y):
    return np.sum(np.maximum(x, y) * x)


def bc_where(x, y):
    return np.sum(np.where(x > y, x * y, x - y))


def bc_mean_keepdims(x, y):
    return np.sum(x * y / np.mean(np.exp(x * y), axis=-1, keepdims=True))


def bc_sum_plain(x, y):
    return np.sum(x + y) - np.mean(x * 2.0 - y)


def bc_max_axis0(x, y):
    return np.sum(np.max(x * y + 0.01 * x, axis=0))


BROADCAST = {f.__name__: f for f in (bc_add, bc_sub, bc_mul, bc_div, bc_maximum)}
BROADCAST.update(
    {f.__name__: f for f in (bc_where, bc_mean_keepdims, bc_max_axis0, bc_sum_plain)}
)
NEEDS_AXES = {"bc_mean_keepdims": 1, "bc_max_axis0": 1}


def _random_value(shape, rng):
    return float(rng.uniform(-1, 1)) if shape == () else rng.uniform(-1, 1, size=shape)


BROADCAST_SETTINGS = settings(max_examples=80, deadline=None)
BROADCAST_CASES = (
    st.sampled_from(sorted(BROADCAST)),
    mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    st.integers(0, 2**16),
)


# The property twice: the full test (slow) and a fast twin (tests/tiers.py).
@pytest.mark.slow
@BROADCAST_SETTINGS
@given(*BROADCAST_CASES)
def test_broadcasting_adjoints_on_random_shapes(op, shapes_, seed):
    check_broadcasting_adjoints(op, shapes_, seed)


@fast(BROADCAST_SETTINGS)  # four examples
@given(*BROADCAST_CASES)
def test_broadcasting_adjoints_on_random_shapes_fast(op, shapes_, seed):
    check_broadcasting_adjoints(op, shapes_, seed)


def check_broadcasting_adjoints(op, shapes_, seed):
    """x̄ and ȳ have x's and y's shapes, summed over the axes each was stretched
    along, whatever the shapes (scalar with array, row with matrix, 1-length axes)."""
    (x_shape, y_shape), result = shapes_.input_shapes, shapes_.result_shape
    if len(result) < NEEDS_AXES.get(op, 0):
        return
    f = BROADCAST[op]
    rng = np.random.default_rng(seed)
    x, y = _random_value(x_shape, rng), _random_value(y_shape, rng)
    dx, dy = _random_value(x_shape, rng), _random_value(y_shape, rng)
    x_bar, y_bar = grad(f, argnums=(0, 1))(x, y)
    assert np.shape(x_bar) == x_shape and np.shape(y_bar) == y_shape
    fd = (f(x + H * dx, y + H * dy) - f(x - H * dx, y - H * dy)) / (2 * H)
    got = float(np.sum(x_bar * dx) + np.sum(y_bar * dy))
    assert got == pytest.approx(fd, rel=1e-5, abs=1e-6)
    _, tangent = jvp(f, (x, y), (dx, dy))
    assert tangent == pytest.approx(got, rel=1e-9, abs=1e-12)


def writes_an_alias(x):
    y = x
    y[0] = 0.0
    return np.sum(x * x)


def writes_a_copy(x):
    y = x.copy()
    y[0] = 0.0
    return np.sum(x * y)


def test_a_write_into_an_array_with_another_name_is_rejected():
    with pytest.raises(CompileError) as info:
        grad(writes_an_alias)(np.ones(3))
    assert info.value.message.startswith(
        "`y` may share its array with `x`, and `y` is written into (line "
    )
    assert info.value.hint == "make a copy: y = x.copy()"
    g = grad(writes_a_copy)(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(g, [0.0, 4.0, 6.0])
    g *= 2  # results are writable arrays of their own


def fills(a, x):
    return np.sum(np.full(len(x), a) * x) + np.sum(np.full_like(x, fill_value=a))


def test_a_fill_value_is_differentiated():
    a_bar, x_bar = grad(fills, argnums=(0, 1))(2.0, np.arange(3.0))
    assert a_bar == pytest.approx(3.0 + 3.0)
    np.testing.assert_allclose(x_bar, [2.0, 2.0, 2.0])


def writes_a_tuple_alias(x, z):
    y, w = x, z
    y[0] = 0.0
    return np.sum(x * x + w)


def writes_a_conditional_alias(x, z, c):
    y = x if c > 0 else z
    y[0] = 0.0
    return np.sum(x * x)


def adds_in_place_through_an_alias(x):
    y = x
    y += 1.0
    return np.sum(x * x)


def adds_to_a_number_alias(s, t):
    u = s
    u += t  # numbers: u is a new number, s stays
    return u * s


@pytest.mark.parametrize(
    "fn, args",
    [
        (writes_a_tuple_alias, (np.ones(3), np.ones(3))),
        (writes_a_conditional_alias, (np.ones(3), np.ones(3), 1.0)),
        (adds_in_place_through_an_alias, (np.ones(3),)),
    ],
)
def test_every_kind_of_alias_of_a_written_array_is_rejected(fn, args):
    with pytest.raises(CompileError, match="`y` may share its array with `x`"):
        grad(fn)(*args)


def test_an_augmented_assignment_to_a_number_is_not_an_alias():
    assert grad(adds_to_a_number_alias, argnums=(0, 1))(2.0, 3.0) == (7.0, 2.0)


def np_copy_then_write(x):
    y = np.copy(x)
    y[0] = 0.0
    return np.sum(x * y)


def inner(x, w):
    return np.sum(x * w)


def test_results_never_share_the_callers_arrays():
    np.testing.assert_allclose(grad(np_copy_then_write)(np.ones(3)), [0.0, 2.0, 2.0])
    w = np.ones(3)
    g = grad(inner)(np.arange(3.0), w)  # ∂/∂x (x·w) = w, as a copy
    g *= 5
    np.testing.assert_allclose(w, np.ones(3))
    x_bar, w_bar = grad(inner, argnums=(0, 1))(w, w)
    assert x_bar is not w_bar


def rows_of(x):
    total = 0.0
    for a in x:
        total = total + a * a
    return total


def test_a_loop_over_rows_of_a_number_is_a_compile_error():
    assert grad(rows_of)(np.array([1.0, 2.0])).tolist() == [2.0, 4.0]
    with pytest.raises(CompileError, match=r"`len` of a number \(a loop over"):
        grad(rows_of)(3.0)


def adds_in_place_to_an_alias_of_a_number(x):
    a = x
    x += x
    return np.cos(a)


def test_an_in_place_add_through_an_alias_is_an_error_only_for_arrays():
    """`x += x` changes an array in place (so `a` too) but makes a new number."""
    assert grad(adds_in_place_to_an_alias_of_a_number)(0.5) == pytest.approx(
        -np.sin(0.5)
    )
    with pytest.raises(CompileError, match="`a` may share its array with `x`"):
        jvp(adds_in_place_to_an_alias_of_a_number, (np.ones(2),), (np.ones(2),))


def slices_of_one_parameter(x):
    a, b = x[1:], x[:-1]
    return np.sum(100.0 * (a - b**2) ** 2 + (1.0 - b) ** 2) + np.sum(
        x[2:-1] * x[-2:][0]
    )


def test_slices_of_a_parameter_have_named_lengths():
    fn = replace(trace(slices_of_one_parameter), param_shapes=(("n",),))
    env = shape_infer.infer(fn)
    by_text = {}
    for line in str(fn).splitlines()[1:]:
        name, _, rhs = line.strip().partition(" = ")
        by_text[rhs.split("#")[0].strip()] = env.get(name)
    assert by_text["x[1:]"] == by_text["x[:-1]"] == (("x", 0, -1),)
    assert by_text["x[2:-1]"] == (("x", 0, -3),)
    assert by_text["x[-2:]"] == (shapes.ANY,)  # a fixed length, not named
    # equal named lengths: nothing was stretched, so no sum back, no broadcast
    g = grad(slices_of_one_parameter)
    for n in (2, 3, 7):  # n = 2: x[1:] and x[:-1] have length 1, and still match
        x = np.linspace(-1.0, 0.7, n)
        expected = [
            (slices_of_one_parameter(x + H * e) - slices_of_one_parameter(x - H * e))
            / (2 * H)
            for e in np.eye(n)
        ]
        np.testing.assert_allclose(g(x), expected, rtol=1e-6, atol=1e-7)
    body = g.source.split("def slices_of_one_parameter_grad")[1]
    assert "_like(" not in body.split("x[2:-1]")[0]


def test_no_result_shares_memory_with_an_argument():
    # the tangent of a copy is the tangent itself, and _like(t, x) is t when the
    # shapes agree: results built that way are copied before they are returned
    from ad_compiler import hvp

    rng = np.random.default_rng(0)
    for name in ("matmul_vectors", "dot", "sum_all", "mean_axis"):
        fn = CASES[name][0]
        args = arguments(name, 0)
        dirs = [rng.normal(size=np.shape(a)) for a in args]
        _, tangent = jvp(fn, args, dirs)
        _, pullback = vjp(fn, *args)
        outputs = [tangent, *pullback(np.ones(np.shape(fn(*args))))]
        if np.ndim(fn(*args)) == 0:
            argnums = tuple(range(len(args)))
            outputs += list(hvp(fn, argnums)(*args, *dirs))
        for out in outputs:
            for a in [*args, *dirs]:
                assert not np.shares_memory(out, a), name


def product(x):
    return np.prod(x)


def row_products(x):
    return np.sum(np.prod(x, axis=1) * np.arange(1.0, 4.0))


def _others(x):
    """Π_{j≠i} x_j by brute force: no division anywhere."""
    return np.array([np.prod(np.delete(x, i)) for i in range(len(x))])


@pytest.mark.parametrize(
    "x",
    [
        [2.0, 0.0, 4.0],
        [0.0, 3.0, 0.0],
        [0.0, 3.0, 0.0, 2.0],
        [0.0, 0.0, 0.0],
        [2.0, -3.0, 0.5],
        [0.0],
    ],
)
def test_prod_is_differentiated_at_zeros_without_dividing_by_them(x):
    """∂ prod(x)/∂x_i is the product of the others: [2, 0, 4] gives [0, 8, 0]."""
    x = np.array(x)
    want = _others(x)
    with np.errstate(all="raise"):  # no 0 / 0 on the way
        assert np.array_equal(grad(product)(x), want)
        ones = np.ones_like(x)
        assert jvp(product, (x,), (ones,))[1] == pytest.approx(want.sum())
    hess = np.array(
        [
            [
                0.0 if i == j else _others(np.delete(x, i))[j - (j > i)]
                for j in range(len(x))
            ]
            for i in range(len(x))
        ]
    )
    assert np.array_equal(hessian(product)(x), hess)


def test_prod_along_an_axis_at_zeros():
    x = np.array([[2.0, 0.0, 4.0], [1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    want = np.stack([_others(row) * w for row, w in zip(x, [1.0, 2.0, 3.0])])
    assert np.array_equal(grad(row_products)(x), want)


@pytest.mark.parametrize(
    "spec",
    ["ij,jk->iz", "ij,jk->ii", "ij,jk->i'", "ié,ék->ik", "i.j,jk->ik", "ij,jk,kl->il"],
)
def test_an_einsum_spec_numpy_would_refuse_is_a_compile_error(spec):
    """The spec reaches emitted code (as a string literal): only ASCII letters,
    commas and one arrow, each output letter once and taken from an operand."""
    src = f"import numpy as np\n\n\ndef f(a, b):\n    return np.sum(np.einsum({spec!r}, a, b))\n"
    from ad_compiler.tools.files import compile_file

    with pytest.raises(CompileError, match="einsum .* is not supported"):
        compile_file(src, "e.py", shape_of={"a": ("n", "m"), "b": ("m", "k")})


def broadcast_scalar_into_constant(x):
    return np.sum(np.tanh(np.ones(2) * x))


def test_a_number_broadcast_into_a_new_array_gets_a_number_gradient():
    """A function of numbers that makes an array (np.ones(2) * x) is array code:
    the adjoint of the broadcast sums back to the number (once it came back as
    the unsummed array [0.786, 0.786])."""
    f = broadcast_scalar_into_constant
    x, h = 0.5, 1e-6
    fd = (f(x + h) - f(x - h)) / (2 * h)
    g = grad(f)(x)
    assert np.ndim(g) == 0 and g == pytest.approx(fd, rel=1e-7)
    _, t = jvp(f, (x,), (1.0,))
    assert np.ndim(t) == 0 and t == pytest.approx(fd, rel=1e-7)
