"""Vector mode for array code: Jacobians and Hessians of array functions in one call.

Every case of tests/array_corpus.py (every array operation, broadcasting,
indexing, loops, branches) gets its Jacobian from ``jacfwd`` (all input
directions as a leading axis of the tangents) and from ``jacrev`` (all output
seeds at once), both checked against central differences, with JAX's layout
``output.shape + input.shape``; every case returning a number gets its Hessian
from ``hessian`` checked against central differences of the emitted gradient.
"""

import math

import numpy as np
import pytest
from array_corpus import CASES, arguments, differentiable
from test_golden import check_golden
from test_higher import _adc_module

from ad_compiler import (
    CompileError,
    UsageError,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    vjp,
)
from ad_compiler.ad.jacobians import gauss_newton

H = 1e-6


def _wrt(case):
    return tuple(i for i, d in enumerate(differentiable(case)) if d)


def _fd_jacobian(fn, args, i):
    """∂fn/∂args[i] by central differences, shaped output.shape + args[i].shape."""
    x = np.asarray(args[i], dtype=float)
    columns = []
    for e in np.eye(x.size):
        step = H * e.reshape(x.shape)
        up, down = list(args), list(args)
        up[i], down[i] = x + step, x - step
        if x.shape == ():
            up[i], down[i] = float(up[i]), float(down[i])
        columns.append((np.asarray(fn(*up)) - np.asarray(fn(*down))) / (2 * H))
    return np.moveaxis(np.array(columns), 0, -1).reshape(np.shape(fn(*args)) + x.shape)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.fast_sample(every=16)
def test_forward_and_reverse_jacobians_match_differences(case):
    fn = CASES[case][0]
    args = arguments(case, 0)
    wrt = _wrt(case)
    forward = jacfwd(fn, wrt)(*args)
    reverse = jacrev(fn, wrt)(*args)
    for k, i in enumerate(wrt):
        expected = _fd_jacobian(fn, args, i)
        assert np.shape(forward[k]) == expected.shape
        assert np.shape(reverse[k]) == expected.shape
        np.testing.assert_allclose(forward[k], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(reverse[k], forward[k], rtol=1e-9, atol=1e-12)


SCALAR_VALUED = [c for c in sorted(CASES) if np.ndim(CASES[c][0](*arguments(c))) == 0]


@pytest.mark.parametrize("case", SCALAR_VALUED)
@pytest.mark.fast_sample(every=8)
def test_hessian_matches_differences_of_the_gradient_and_is_symmetric(case):
    fn = CASES[case][0]
    args = arguments(case, 1)
    wrt = _wrt(case)
    hess = hessian(fn, wrt)(*args)
    g = grad(fn, wrt)
    for k, i in enumerate(wrt):
        for m, j in enumerate(wrt):
            expected = _fd_jacobian(lambda *a: g(*a)[k], args, j)
            assert np.shape(hess[k][m]) == expected.shape
            np.testing.assert_allclose(hess[k][m], expected, rtol=1e-4, atol=1e-5)
            # symmetry: H_km[a, b] = H_mk[b, a]
            rk, rm = np.ndim(args[i]), np.ndim(args[j])
            swapped = np.transpose(
                hess[m][k], tuple(range(rm, rm + rk)) + tuple(range(rm))
            )
            np.testing.assert_allclose(hess[k][m], swapped, rtol=1e-10, atol=1e-10)


def scale_by_number(x, s, z):
    return z * s + np.sum(x)


def test_a_number_s_directions_never_pair_with_an_array_s_elements():
    # x has 2 elements and s one, so there are 3 directions: as many as z has
    # elements.  The tangent of s (3 numbers, one per direction) must not be
    # multiplied elementwise into z: its direction axis is kept apart.
    x, s, z = np.array([0.5, -1.0]), 0.7, np.array([1.0, 2.0, 3.0])
    J = jacfwd(scale_by_number, (0, 1))(x, s, z)
    np.testing.assert_allclose(J[0], np.ones((3, 2)))
    np.testing.assert_allclose(J[1], z)
    np.testing.assert_allclose(jacrev(scale_by_number, (0, 1))(x, s, z)[1], z)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosenbrock_hessian(x):
    """The textbook tridiagonal Hessian of the extended Rosenbrock function."""
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] = H[i + 1, i] = -400 * x[i]
    return H


def test_rosenbrock_hessian_at_n_1000_in_one_vector_mode_call():
    x = np.random.default_rng(3).uniform(-1.5, 1.5, size=1000)
    h = hessian(rosenbrock)
    H = h(x)
    assert H.shape == (1000, 1000)
    np.testing.assert_allclose(H, _rosenbrock_hessian(x), rtol=1e-12, atol=1e-9)
    # one call of the emitted code, its directions a leading axis
    assert "x_dot[:, 1:]" in h.source and "x_dot[:, :-1]" in h.source


def test_hvp_of_array_code_is_h_times_v():
    x = np.linspace(-1.0, 1.0, 7)
    v = np.cos(np.arange(7.0))
    np.testing.assert_allclose(
        hvp(rosenbrock)(x, v), _rosenbrock_hessian(x) @ v, rtol=1e-12
    )


def layer(W, x, b):
    return np.tanh(W @ x + b)


def test_jacobian_of_array_code_picks_the_mode_by_sizes_per_call():
    rng = np.random.default_rng(0)
    W, x, b = rng.normal(size=(40, 3)), rng.normal(size=3), rng.normal(size=40)
    J = jacobian(layer, 1)  # 3 inputs, 40 outputs: forward
    np.testing.assert_allclose(J(W, x, b), jacrev(layer, 1)(W, x, b), rtol=1e-12)
    assert J.mode == "forward"
    J_all = jacobian(layer, (0, 1, 2))  # 163 inputs, 40 outputs: reverse
    blocks = J_all(W, x, b)
    assert J_all.mode == "reverse"
    assert [np.shape(j) for j in blocks] == [(40, 40, 3), (40, 3), (40, 40)]
    np.testing.assert_allclose(blocks[1], J(W, x, b), rtol=1e-12)


def operators_only(x, y):
    return x * y + x


def test_operator_only_code_called_with_arrays_gets_array_jacobians():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    J = jacfwd(operators_only, (0, 1))(x, y)
    np.testing.assert_allclose(J[0], np.diag(y + 1))
    np.testing.assert_allclose(J[1], np.diag(x))
    assert jacfwd(operators_only)(2.0, 3.0) == 4.0  # numbers: numbers


def exponential_residuals(p, t, y):
    return p[0] * np.exp(p[1] * t) - y


def test_gauss_newton_of_array_residuals_is_jt_j():
    t = np.linspace(0.0, 1.0, 9)
    y = np.cos(t)
    p = np.array([1.0, 0.5])
    J = jacfwd(exponential_residuals)(p, t, y)
    G = gauss_newton(exponential_residuals)(p, t, y)
    np.testing.assert_allclose(G, J.T @ J, rtol=1e-12)


def index_by_a_matrix(x, idx):
    return np.sum(x[idx] ** 2)


def test_vector_mode_says_where_it_cannot_know_an_axis_count():
    # a 2-D index array: an int array (2 axes out) or a mask (1)? only its
    # dtype says, so vector mode stops with a compile error rather than guess
    idx = np.array([[0, 1], [1, 2]])
    with pytest.raises(
        CompileError, match="vector mode needs to know how many axes"
    ) as e:
        hessian(index_by_a_matrix)(np.ones(3), idx)
    assert "return np.sum(x[idx] ** 2)" in str(e.value)  # the line, with a caret
    assert e.value.loc.line == index_by_a_matrix.__code__.co_firstlineno + 1


# --- closure: derivatives of array derivatives, from their IR -------------------------
def mse(W, X, Y):
    return np.mean((np.tanh(X @ W) - Y) ** 2)


def test_jvp_jacfwd_and_jacrev_of_an_array_gradient_are_its_hessian():
    x = np.linspace(-1.0, 1.0, 6)
    v = np.cos(np.arange(6.0))
    g = grad(rosenbrock)
    H = _rosenbrock_hessian(x)
    y, Hv = jvp(g, (x,), (v,))
    np.testing.assert_allclose(y, g(x), rtol=0, atol=0)
    np.testing.assert_allclose(Hv, H @ v, rtol=1e-12)
    np.testing.assert_allclose(jacfwd(g)(x), H, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jacrev(g)(x), H, rtol=1e-12, atol=1e-12)
    _, pullback = vjp(g, x)
    np.testing.assert_allclose(pullback(v)[0], H @ v, rtol=1e-12)


def test_jacobian_of_a_network_gradient_is_its_hessian_in_jax_layout():
    rng = np.random.default_rng(0)
    W, X, Y = rng.normal(size=(3, 2)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    H = jacfwd(grad(mse))(W, X, Y)
    assert H.shape == (3, 2, 3, 2)
    np.testing.assert_allclose(H, hessian(mse)(W, X, Y), rtol=1e-10, atol=1e-12)
    expected = _fd_jacobian(lambda w: grad(mse)(w, X, Y), [W], 0)
    np.testing.assert_allclose(H, expected, rtol=1e-5, atol=1e-7)


def test_grad_of_an_array_valued_gradient_is_a_usage_error():
    with pytest.raises(UsageError, match="returns an array"):
        grad(grad(rosenbrock))(np.ones(4))


# --- adc compile --mode hessian | jacobian | hvp, for array code --------------------------
def _compiled_module(*args):
    namespace, text = _adc_module(*args)
    imports = [l for l in text.splitlines() if l.startswith(("import", "from"))]
    assert imports == ["import numpy as np"]
    return namespace, text


@pytest.mark.slow  # a subprocess; test_api_edges keeps a CLI --mode hessian run fast
def test_cli_hessian_of_array_code_is_one_vector_mode_call():
    namespace, text = _compiled_module(
        "samples/rosenbrock.py", "--mode", "hessian", "--shape", "x=n"
    )
    check_golden("rosenbrock.hessian.py.txt", text)
    expected = [[802, -400, 0], [-400, 1002, -400], [0, -400, 200]]
    H = namespace["rosenbrock_hessian"](np.ones(3))
    np.testing.assert_allclose(H, expected, rtol=1e-14)
    x = np.random.default_rng(2).uniform(-1.0, 1.0, size=50)
    H = namespace["rosenbrock_hessian"](x)
    assert H.flags.writeable and H.flags.owndata
    np.testing.assert_allclose(H, _rosenbrock_hessian(x), rtol=1e-12, atol=1e-9)


@pytest.mark.slow  # two subprocesses; test_api_edges keeps a CLI --mode run fast
def test_cli_jacobian_and_hvp_of_array_code(tmp_path):
    source = tmp_path / "layer.py"
    source.write_text(
        "import numpy as np\n\n\ndef layer(W, x, b):\n    return np.tanh(W @ x + b)\n"
    )
    shapes = ["--shape", "W=m,n", "x=n", "b=m"]
    namespace, _ = _compiled_module(str(source), "--mode", "jacobian", *shapes)
    rng = np.random.default_rng(4)
    W, x, b = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=4)
    blocks = namespace["layer_jacobian"](W, x, b)
    for got, want in zip(blocks[0], jacfwd(layer, (0, 1, 2))(W, x, b)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    namespace, _ = _compiled_module(
        "samples/rosenbrock.py", "--mode", "hvp", "--shape", "x=n"
    )
    v = np.arange(5.0)
    x = np.linspace(-1.0, 1.0, 5)
    np.testing.assert_allclose(
        namespace["rosenbrock_hvp"](x, v), _rosenbrock_hessian(x) @ v, rtol=1e-12
    )


# --- derivatives of a vjp pullback (the cotangent is the variable) ----------------------
def sine_product(x, y):
    return np.sin(x) * y + x**3


def tanh_scaled(x):
    return np.tanh(x) * np.sum(x)


def test_a_pullback_of_numbers_is_differentiated_in_its_cotangent():
    _, pullback = vjp(sine_product, 0.3, 2.0)
    gradient = pullback(1.0)
    values, tangents = jvp(pullback, (1.0,), (0.5,))
    assert values == gradient
    assert tangents == pytest.approx(tuple(0.5 * g for g in gradient), rel=1e-15)
    assert jacfwd(pullback)(1.0) == pytest.approx(gradient, rel=1e-15)
    assert jacrev(pullback)(1.0) == pytest.approx(gradient, rel=1e-15)


def test_the_jacobian_of_an_array_pullback_is_the_transposed_jacobian():
    x, ybar = np.linspace(-1.0, 0.6, 4), np.arange(4.0)
    J = jacfwd(tanh_scaled)(x)
    _, pullback = vjp(tanh_scaled, x)
    np.testing.assert_allclose(pullback(ybar)[0], J.T @ ybar, rtol=1e-12)
    np.testing.assert_allclose(jacfwd(pullback)(ybar)[0], J.T, rtol=1e-12)
    np.testing.assert_allclose(jacrev(pullback)(ybar)[0], J.T, rtol=1e-12)
    _, tangent = jvp(pullback, (ybar,), (np.ones(4),))
    np.testing.assert_allclose(tangent[0], J.T @ np.ones(4), rtol=1e-12)
    # a scalar function's pullback is ȳ ↦ ȳ ∇f: its Jacobian is the gradient
    _, pullback = vjp(rosenbrock, x)
    np.testing.assert_allclose(jacfwd(pullback)(1.0)[0], grad(rosenbrock)(x))


def test_jacobian_and_hessian_blocks_are_arrays_of_their_own():
    x = np.linspace(-1.0, 1.0, 4)
    for block in (
        hessian(rosenbrock)(x),
        jacrev(tanh_scaled)(x),
        jacfwd(layer, 1)(np.eye(3), x[:3], x[:3]),
    ):
        assert block.flags.writeable and block.flags.owndata
        block[0, 0] = 1.0


def math_of_a_sum(x):
    return math.sin(np.sum(x)) * np.sum(x * x)


def test_math_functions_in_array_code_take_directions_through_numpy():
    x = np.array([0.3, -0.1, 0.5])
    s = float(np.sum(x))
    ones = np.ones((3, 3))
    expected = (
        -math.sin(s) * np.sum(x * x) * ones
        + 2 * math.cos(s) * (np.outer(x, np.ones(3)) + np.outer(np.ones(3), x))
        + 2 * math.sin(s) * np.eye(3)
    )
    np.testing.assert_allclose(hessian(math_of_a_sum)(x), expected, rtol=1e-12)
    np.testing.assert_allclose(
        jacrev(grad(math_of_a_sum))(x), expected, rtol=1e-12, atol=1e-15
    )


def test_derivatives_of_a_pullback_s_derivative_keep_its_primals_bound():
    x = np.linspace(-1.0, 0.5, 4)
    _, pullback = vjp(lambda_free_cubes, x)
    J = jacfwd(pullback)  # ȳ ↦ (3 x² ȳ,): its Jacobian is 3 x²
    np.testing.assert_allclose(J(1.0)[0], 3 * x**2)
    np.testing.assert_allclose(jacfwd(J)(1.0)[0], np.zeros(4))  # linear in ȳ


def lambda_free_cubes(x):
    return np.sum(x**3)


def two_index_arrays(x, i, j):
    return np.sum(x[i, j] ** 2)


def test_two_index_arrays_broadcast_together_so_their_axes_are_not_guessed():
    # x[i, j] with 1-D i and j side by side has one axis, not two (the shape
    # rule knows it: vector mode, so the Hessian, needs it)
    x = np.arange(12.0).reshape(3, 4)
    i, j = np.array([0, 2]), np.array([1, 3])
    g = grad(two_index_arrays)(x, i, j)
    assert g[0, 1] == 2.0 and g[2, 3] == 22.0
    assert np.count_nonzero(g) == 2
    h = hessian(two_index_arrays)(x, i, j)
    assert h.shape == (3, 4, 3, 4) and h[0, 1, 0, 1] == h[2, 3, 2, 3] == 2.0
    assert np.count_nonzero(h) == 2


def two_index_arrays_apart(x, i, j):
    return np.sum(x[i, :, j] ** 2)  # their axis goes first: NumPy's rule


def test_index_arrays_apart_leave_the_shape_to_run_time():
    x = np.arange(24.0).reshape(2, 3, 4)
    i, j = np.array([0, 1]), np.array([1, 3])
    g = grad(two_index_arrays_apart)(x, i, j)
    assert g[1, 2, 3] == 2 * x[1, 2, 3] and np.count_nonzero(g) == 6
    with pytest.raises(CompileError, match="vector mode needs to know how many axes"):
        hessian(two_index_arrays_apart)(x, i, j)


def test_a_broken_rename_in_vector_mode_is_a_verification_error():
    # a real exception, not an `assert` (which `python -O` removes)
    from ad_compiler.ad.batching import _Batcher
    from ad_compiler.errors import VerificationError
    from ad_compiler.ir.nodes import Eqn, Namer, Var

    context = _Batcher({}, Namer(), Var("k"), set(), {}, "f_jvp")
    context.out = [Eqn("neg", (Var("a"),), (Var("x"),))]
    with pytest.raises(
        VerificationError, match="invalid IR in `f_jvp` after the pass `batch`"
    ):
        context.rename(Var("b"), Var("c"))
    context.rename(Var("a"), Var("c"))
    assert context.out[0].outs == (Var("c"),)
