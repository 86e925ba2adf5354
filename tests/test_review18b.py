"""Adversarial review of the loop tapes of issue 18 (store in innermost loops,
recompute with restore on reverse in loops around loops, in-place writes).

Oracles: central differences of the function, forward against reverse
(⟨Jᵀȳ, v⟩ = ⟨ȳ, Jv⟩), Hessians against differences of the gradient, and
jacrev against jacfwd.  The corpus is tests/review18b_corpus.py.  Cases that
are wrong are pinned with ``xfail(strict=True)``; each says whether main
(before the loop tapes) was wrong the same way.
"""

import importlib.util
import tracemalloc

import numpy as np
import pytest
import review18b_corpus as C
from review18b_loopgen import program

from ad_compiler import grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp
from ad_compiler.errors import UnsupportedError

SMOOTH = [
    C.augmented,
    C.augmented_outer,
    C.bool_mask,
    C.col_write_inner,
    C.elem2d,
    C.helper_loop_write_outer,
    C.if_inside,
    C.list_append,
    C.mask_outer,
    C.negative_idx,
    C.nested3,
    C.nested3_outer_write,
    C.overlapping_slices,
    C.param_copy,
    C.param_copy_outer,
    C.read_after_loop_old,
    C.recursion_loop,
    C.rows_iter,
    C.step_outer,
    C.step_slices,
    C.two_arrays,
    C.while_write,
    C.whole_by_value,
    C.with_break,
    C.with_continue,
    C.write_scalar_row_mixed,
    C.zip_enum,
    C.stored_view_then_written_after,
    C.restore_outer_break,
    C.restore_outer_while,
    C.restore_if_one_branch,
    C.restore_and_rebind,
    C.ragged_slices,
    C.negative_step_slice,
    C.index2d_array,
    C.iterate_over_written,
    C.read_whole_outer,
    C.inner_writes_outer_row,
    C.two_inner_loops,
    C.matrix_rows,
    C.matrix_rows_outer,
    C.write_param,
    C.write_param_outer,
    C.cse_zeros,
    C.cse_zeros_noloop,
    C.cse_zeros_like,
    C.cse_zeros_adjoint,
    C.ones_twice,
    C.zero_trip_outer,
    C.zero_trip_inner,
    C.read_old_whole_before_write,
    C.read_old_whole_before_write_outer,
    C.scalar_carried_array_read,
    C.write_whole_slice,
    C.write_whole_slice_outer,
    C.ellipsis_write,
    C.three_d,
    C.multi_write_same_outer,
    C.tanh_then_write,
    C.tanh_then_write_row,
    C.mul_then_write,
    C.exp_then_write_next_loop,
    C.tape_then_write_outer,
    C.sqrt_then_inplace,
    C.carried_start_then_write,
    C.row_copy_before_inner,
    C.inner_from_outer_acc,
    C.inner_from_outer_write_then_old,
    C.two_inner_same_start,
    C.inner_acc_nested3,
    C.read_repeat_idx,
    C.read_repeat_idx_2d,
    C.while_outer_cond_on_array,
    C.while_outer_break,
    C.runtime_list_rows,
    C.mask_from_array_itself,
    C.setitem_scalar_into_row_with_index_array,
    C.argmax_index_write,
    C.argmax_index_write_outer,
    C.int_from_data,
    C.shape_inside,
    C.where_in_loop,
    C.cumsum_write,
    C.einsum_diag_write,
]


def point(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.9, 0.9, (n, 3))


def central(f, x, eps=1e-6):
    """Central differences; f gets copies (some corpus functions write into x)."""
    out = []
    for idx in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[idx] = eps
        out.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    shape = np.shape(out[0])
    return np.moveaxis(np.array(out), 0, -1).reshape(shape + x.shape)


def ids(f):
    return f.__name__


@pytest.mark.parametrize("f", SMOOTH, ids=ids)
@pytest.mark.parametrize("n, seed", [(4, 0), (6, 1)])
@pytest.mark.fast_sample(every=80)
def test_gradient_matches_differences(f, n, seed):
    x = point(n, seed)
    before = x.copy()
    g = grad(f)(x)
    np.testing.assert_array_equal(x, before)  # the gradient never writes into x
    np.testing.assert_allclose(g, central(f, x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f", SMOOTH, ids=ids)
@pytest.mark.fast_sample(every=80)
def test_forward_and_reverse_agree(f):
    x = point(5, 3)
    v = np.random.default_rng(4).standard_normal(x.shape)
    value, tangent = jvp(f, (x,), (v,))
    value2, g = value_and_grad(f)(x)
    assert value2 == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert tangent == pytest.approx(float(np.sum(g * v)), rel=1e-9, abs=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("f", [f for f in SMOOTH if f is not C.recursion_loop], ids=ids)
def test_hessian_matches_differences_of_the_gradient(f):
    x = point(4, 5)
    h = hessian(f)(x)
    np.testing.assert_allclose(h, central(grad(f), x, eps=1e-5), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("f", [C.rows_out, C.rows_out_outer], ids=ids)
def test_jacobians_of_array_results(f):
    x = point(4, 6)
    want = central(f, x)
    np.testing.assert_allclose(jacrev(f)(x), want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(jacfwd(f)(x), want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "f",
    [
        C.view_row_kept,
        C.view_T_kept,
        C.reshape_view,
        C.view_across_outer,
        C.alias_two_names,
        C.helper_in_loop,
    ],
    ids=ids,
)
@pytest.mark.fast_sample(every=6)
def test_views_and_aliases_of_written_arrays_are_refused(f):
    """A view or second name of an array written in a loop is refused with an
    error (as on main), never differentiated as if it were a copy."""
    with pytest.raises(UnsupportedError, match="may share its array"):
        grad(f)(point(4, 0))


@pytest.mark.parametrize(
    "f",
    [
        C.repeat_noloop,
        C.repeat_noloop_read,
        C.index_array_repeat,
        C.index_array_add_repeat,
        C.fancy_outer,
    ],
    ids=ids,
)
@pytest.mark.fast_sample(every=4)
def test_writes_at_repeated_indices(f):
    """y[idx] = v with a repeated index: only the last write at a place stays,
    so only it gets ȳ (found here: every occurrence got it, also on main)."""
    x = point(4, 0)
    np.testing.assert_allclose(grad(f)(x), central(f, x), rtol=1e-5, atol=1e-7)


def test_a_fresh_array_per_outer_iteration_in_forward_mode():
    """np.ones made before and inside an outer loop: main's jvp shared them (a
    wrong tangent); the loop-tape branch copies the one from before the loop."""
    x = point(5, 0)
    v = np.random.default_rng(1).standard_normal(x.shape)
    _, tangent = jvp(C.ones_twice, (x,), (v,))
    assert tangent == pytest.approx(
        float(np.sum(central(C.ones_twice, x) * v)), rel=1e-6
    )


@pytest.mark.parametrize(
    "f",
    [C.enum_rows_written, C.rows_of_written, C.rows_of_written_noncarried_effect],
    ids=ids,
)
def test_rows_of_an_array_the_loop_writes_are_refused(f):
    """for row in y while the loop writes y: Python's iterator sees the writes
    in the rows still to come (found here: the value was silently wrong, also on
    main); now refused at the loop, with the alternative."""
    with pytest.raises(
        UnsupportedError, match="the loop runs over `y` and writes into `y`"
    ):
        value_and_grad(f)(point(5, 0))


def test_two_parameters_written_and_updated_in_an_outer_loop():
    rng = np.random.default_rng(0)
    x, w = rng.uniform(-0.9, 0.9, (5, 3)), rng.uniform(-0.5, 0.5, (3, 3))
    gx, gw = grad(C.two_params, argnums=(0, 1))(x, w)
    np.testing.assert_allclose(
        gx, central(lambda a: C.two_params(a, w), x), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        gw, central(lambda b: C.two_params(x, b), w), rtol=1e-5, atol=1e-7
    )


def test_a_number_read_from_an_array_before_its_writes():
    x = point(5, 0)
    np.testing.assert_allclose(
        grad(C.scalar_before_inner)(x),
        central(C.scalar_before_inner, x),
        rtol=1e-5,
        atol=1e-7,
    )


def peak(f, *args) -> int:
    tracemalloc.start()
    f(*args)
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return top


@pytest.mark.xfail(
    strict=True,
    reason="store trades memory for time, by design: an innermost loop with a "
    "small carried state keeps each iteration's full-size temporary (tanh(A * v): "
    "40 x n^2, what a tape-based tool keeps too), where recomputing kept v (40 x n) "
    "and ran the function twice; checkpointing (issue 21) gives the choice back",
)
@pytest.mark.slow
def test_a_small_state_loop_keeps_memory_near_the_objectives():
    rng = np.random.default_rng(0)
    A, v = rng.standard_normal((200, 200)) * 0.05, rng.standard_normal(200)
    g = grad(C.fixed_point, argnums=(0, 1))
    g(A, v)  # compiled
    budget = 4 * (peak(C.fixed_point, A, v) + A.nbytes + v.nbytes)
    assert peak(g, A, v) <= budget


def test_vjp_of_a_number_and_a_restored_array():
    x = point(5, 0)
    (s, y), pull = vjp(C.pair_out, x)
    want_s, want_y = C.pair_out(x)
    assert s == pytest.approx(want_s, rel=1e-12)
    np.testing.assert_allclose(y, want_y, rtol=1e-12)
    sb, yb = 0.7, np.random.default_rng(1).standard_normal(5)
    got = pull((sb, yb))
    got = got[0] if isinstance(got, tuple) else got

    def weighted(z):
        s, y = C.pair_out(z)
        return sb * s + np.sum(yb * y)

    np.testing.assert_allclose(got, central(weighted, x), rtol=1e-5, atol=1e-7)


def load(source: str, path):
    """The function ``f`` of ``source``, written to ``path`` and imported (the
    compiler reads a function's source from its file)."""
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


# the seeds below 43 whose programs stay tame on their point (derivatives
# under 1e4: seeds 9, 24 and 27 make numbers of 1e6 and more)
SEEDS = [s for s in range(43) if s not in (9, 24, 27)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.fast_sample(first=1)
def test_random_loop_programs(seed, tmp_path):
    """Random nests of loops writing rows, elements, columns and slices
    (tests/review18b_loopgen.py): the gradient against differences, the
    tangent against the gradient."""
    f = load(program(seed), tmp_path / f"loops_{seed}.py")
    x = point(5, seed)
    want = central(f, x)
    assert np.all(np.isfinite(want)) and np.max(np.abs(want)) < 1e4
    g = grad(f)(x)
    scale = 1.0 + np.max(np.abs(want))
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6 * scale)
    v = np.random.default_rng(seed).standard_normal(x.shape)
    _, tangent = jvp(f, (x,), (v,))
    assert tangent == pytest.approx(float(np.sum(g * v)), rel=1e-8, abs=1e-8 * scale)
