"""Known crashes of array code (issue 14, item 8): einsum adjoints where a
length-1 axis is broadcast against a longer one, and reverse mode of a loop over
a tuple of arrays of different shapes (the layer loop).

Every derivative is compared with central differences of the function itself
(step 1e-6, so agreement to ~1e-6 relative is what a correct derivative gives).
"""

import numpy as np
import pytest

from ad_compiler import grad, hessian, jacrev, jvp

H = 1e-6


def _central_gradient(f, args, i):
    """∂f/∂args[i] by central differences, one element at a time."""
    x = np.array(args[i], dtype=float)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += H
        minus[idx] -= H
        hi = f(*args[:i], plus, *args[i + 1 :])
        lo = f(*args[:i], minus, *args[i + 1 :])
        out[idx] = (hi - lo) / (2 * H)
    return out


def _central_directional(f, args, dirs):
    """J·ẋ by central differences along all the directions at once."""
    hi = f(*(a + H * d for a, d in zip(args, dirs)))
    lo = f(*(a - H * d for a, d in zip(args, dirs)))
    return (np.asarray(hi) - np.asarray(lo)) / (2 * H)


def _check_grad(f, args):
    got = grad(f, argnums=tuple(range(len(args))))(*args)
    for i, a in enumerate(args):
        assert np.shape(got[i]) == np.shape(a)
        np.testing.assert_allclose(
            got[i], _central_gradient(f, args, i), rtol=1e-5, atol=1e-7
        )


def _check_jvp(f, args, rng):
    dirs = [rng.normal(size=np.shape(a)) for a in args]
    y, y_dot = jvp(f, tuple(args), tuple(dirs))
    np.testing.assert_allclose(y, f(*args), rtol=1e-12)
    np.testing.assert_allclose(
        y_dot, _central_directional(f, args, dirs), rtol=1e-5, atol=1e-7
    )


# --- einsum with length-1 axes --------------------------------------------------------
def einsum_mm(A, B):
    return np.sum(np.sin(np.einsum("ij,jk->ik", A, B)))


def einsum_mm_out(A, B):
    return np.einsum("ij,jk->ik", A, B)


def einsum_elementwise(A, B):
    return np.sum(np.sin(np.einsum("ij,ij->ij", A, B)))


def einsum_matvec(A, v):
    return np.sum(np.sin(np.einsum("ij,j->i", A, v)))


def einsum_outer(u, v):
    return np.sum(np.sin(np.einsum("i,j->ij", u, v)))


def _unit_axis_shapes(full_a, full_b, shared):
    """Every way of making one or two axes length 1: each operand's own axes, and
    a shared letter (``shared``: its positions in a and b) on either side."""
    cases = []
    for k in range(len(full_a)):
        a = list(full_a)
        a[k] = 1
        cases.append((tuple(a), full_b))
    for k in range(len(full_b)):
        b = list(full_b)
        b[k] = 1
        cases.append((full_a, tuple(b)))
    for ia, ib in shared:  # the shared letter length 1 on one side only
        a, b = list(full_a), list(full_b)
        a[ia] = 1
        cases.append((tuple(a), full_b))
        a, b = list(full_a), list(full_b)
        b[ib] = 1
        cases.append((full_a, tuple(b)))
    both = (  # length 1 everywhere in a
        tuple(1 for _ in full_a),
        full_b,
    )
    cases.append(both)
    return sorted(set(cases))


EINSUM_CASES = (
    [(einsum_mm, sa, sb) for sa, sb in _unit_axis_shapes((3, 4), (4, 5), [(1, 0)])]
    + [
        (einsum_elementwise, sa, sb)
        for sa, sb in _unit_axis_shapes((3, 4), (3, 4), [(0, 0), (1, 1)])
    ]
    + [(einsum_matvec, sa, sb) for sa, sb in _unit_axis_shapes((3, 4), (4,), [(1, 0)])]
    + [(einsum_outer, sa, sb) for sa, sb in _unit_axis_shapes((3,), (4,), [])]
)


@pytest.mark.parametrize(
    "f,sa,sb", EINSUM_CASES, ids=[f"{f.__name__}-{a}-{b}" for f, a, b in EINSUM_CASES]
)
@pytest.mark.fast_sample(every=8)
def test_einsum_adjoints_with_length_one_axes(f, sa, sb):
    rng = np.random.default_rng(sum(sa) * 7 + sum(sb))
    A, B = rng.normal(size=sa), rng.normal(size=sb)
    _check_grad(f, [A, B])
    _check_jvp(f, [A, B], rng)


def test_einsum_crash_of_the_issue_broadcast_contracted_axis():
    # the issue's case: A's j has length 1 and B's has 4, so C = A·1ᵀ·B and
    # ∂ΣC/∂A_i0 = Σ_jk B_jk (every row of A's one column meets all of B)
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(3, 1)), rng.normal(size=(4, 5))
    A_bar, B_bar = grad(lambda_free_sum_mm, argnums=(0, 1))(A, B)
    assert A_bar.shape == (3, 1) and B_bar.shape == (4, 5)
    np.testing.assert_allclose(A_bar, np.full((3, 1), B.sum()), rtol=1e-12)
    # ∂ΣC/∂B_jk = Σ_i A_i0 for every j: B's row j meets A's single column
    np.testing.assert_allclose(B_bar, np.full((4, 5), A.sum()), rtol=1e-12)


def lambda_free_sum_mm(A, B):
    return np.sum(np.einsum("ij,jk->ik", A, B))


@pytest.mark.parametrize("sa,sb", [((3, 1), (4, 5)), ((3, 4), (1, 5))])
def test_einsum_jacrev_and_hessian_with_a_broadcast_axis(sa, sb):
    rng = np.random.default_rng(5)
    A, B = rng.normal(size=sa), rng.normal(size=sb)
    J = jacrev(einsum_mm_out, argnums=0)(A, B)  # JAX layout: out shape + A's shape
    assert J.shape == np.shape(einsum_mm_out(A, B)) + sa
    for idx in np.ndindex(sa):
        d = np.zeros(sa)
        d[idx] = 1.0
        col = _central_directional(lambda a: einsum_mm_out(a, B), [A], [d])
        np.testing.assert_allclose(J[(...,) + idx], col, rtol=1e-5, atol=1e-7)
    Hm = hessian(einsum_mm, argnums=0)(A, B)
    assert Hm.shape == sa + sa
    g = grad(einsum_mm, argnums=0)
    for idx in np.ndindex(sa):
        d = np.zeros(sa)
        d[idx] = 1.0
        col = _central_directional(lambda a: g(a, B), [A], [d])
        np.testing.assert_allclose(Hm[(...,) + idx], col, rtol=1e-4, atol=1e-6)


# --- loops over a tuple of arrays of different shapes (the layer loop) -----------------
def layers_tuple(x, W1, W2):
    for W in (W1, W2):
        x = np.tanh(x @ W)
    return np.sum(x * x)


def layers_list(x, W1, W2, W3):
    for W in [W1, W2, W3]:
        x = np.tanh(x @ W)
    return np.sum(x * x)


def layers_zip(x, W1, b1, W2, b2):
    for W, b in zip((W1, W2), (b1, b2)):
        x = np.tanh(x @ W + b)
    return np.sum(x * x)


def layers_zip3(x, W1, b1, W2, b2, W3, b3):
    for W, b in zip((W1, W2, W3), (b1, b2, b3)):
        x = np.tanh(x @ W + b)
    return np.sum(x * x)


def layers_enumerate(x, W1, W2, W3):
    total = 0.0
    for i, W in enumerate((W1, W2, W3)):
        x = np.tanh(x @ W)
        total = total + (i + 1.0) * np.sum(x)  # the index is a number in the sum
    return total


def layers_nested(x, W1, W2, c):
    for W in (W1, W2):
        for s in (c, 2.0 * c):  # a tuple loop inside, of scalars
            x = np.sin(x * s)
        x = x @ W
    return np.sum(x)


# (function, argument shapes): 4 samples, widths 3 -> 5 -> 2 (-> 6)
LAYERS = [
    (layers_tuple, [(4, 3), (3, 5), (5, 2)]),
    (layers_list, [(4, 3), (3, 5), (5, 2), (2, 6)]),
    (layers_zip, [(4, 3), (3, 5), (5,), (5, 2), (2,)]),
    (layers_zip3, [(4, 3), (3, 5), (5,), (5, 2), (2,), (2, 6), (6,)]),
    (layers_enumerate, [(4, 3), (3, 5), (5, 2), (2, 6)]),
    (layers_nested, [(4, 3), (3, 5), (5, 2), ()]),
]


def _layer_args(shapes_, seed):
    rng = np.random.default_rng(seed)
    return [
        float(rng.normal()) if s == () else rng.normal(size=s) * 0.7 for s in shapes_
    ]


@pytest.mark.parametrize("f,shapes_", LAYERS, ids=[f.__name__ for f, _ in LAYERS])
@pytest.mark.fast_sample(every=2)
def test_layer_loop_gradient_and_jvp_match_central_differences(f, shapes_):
    args = _layer_args(shapes_, 11)
    _check_grad(f, args)
    _check_jvp(f, args, np.random.default_rng(12))


@pytest.mark.parametrize(
    "f,shapes_", LAYERS[:3], ids=[f.__name__ for f, _ in LAYERS[:3]]
)
def test_layer_loop_hessian_matches_central_differences_of_the_gradient(f, shapes_):
    args = _layer_args(shapes_, 13)
    Hm = hessian(f, argnums=1)(*args)  # with respect to W1: shape W1 + W1
    sw = np.shape(args[1])
    assert Hm.shape == sw + sw
    g = grad(f, argnums=1)
    for idx in np.ndindex(sw):
        d = np.zeros(sw)
        d[idx] = 1.0
        col = _central_directional(lambda w: g(args[0], w, *args[2:]), [args[1]], [d])
        np.testing.assert_allclose(Hm[(...,) + idx], col, rtol=1e-4, atol=1e-6)


def layer_outputs(x, W1, b1, W2, b2):
    for W, b in zip((W1, W2), (b1, b2)):
        x = np.tanh(x @ W + b)
    return x


def test_layer_loop_jacrev_matches_central_differences():
    args = _layer_args([(4, 3), (3, 5), (5,), (5, 2), (2,)], 17)
    for argnum in (0, 2, 3):
        J = jacrev(layer_outputs, argnums=argnum)(*args)
        shape = np.shape(args[argnum])
        assert J.shape == (4, 2) + shape  # JAX's layout: output, then argument
        for idx in np.ndindex(shape):
            dirs = [np.zeros(np.shape(a)) for a in args]
            dirs[argnum][idx] = 1.0
            col = _central_directional(layer_outputs, args, dirs)
            np.testing.assert_allclose(J[(...,) + idx], col, rtol=1e-5, atol=1e-7)


def test_layer_loop_gradient_is_the_hand_written_backprop():
    # unrolled, the loop is straight-line code: each layer's names, no select
    args = _layer_args([(4, 3), (3, 5), (5,), (5, 2), (2,)], 19)
    g = grad(layers_zip, argnums=(0, 1, 2, 3, 4))
    g(*args)
    body = g.source.split("def layers_zip_grad")[1]
    assert "np.where" not in body and " if " not in body and "for " not in body
    assert "b2_bar = " in body and ".sum(axis=0)" in body


@pytest.mark.slow  # a subprocess; the layer loop's API tests above are fast
def test_layer_loop_through_the_cli(tmp_path):
    import runpy
    import subprocess
    import sys

    src = tmp_path / "net.py"
    src.write_text(
        "import numpy as np\n\n\n"
        "def net(x, W1, b1, W2, b2):\n"
        "    for W, b in zip((W1, W2), (b1, b2)):\n"
        "        x = np.tanh(x @ W + b)\n"
        "    return np.sum(x * x)\n"
    )
    out = tmp_path / "net_grad.py"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ad_compiler.tools.cli",
            "compile",
            str(src),
            "-o",
            str(out),
        ]
        + ["--wrt", "W1,b1,W2,b2", "--shape", "x=n,d", "W1=d,h", "b1=h"]
        + ["W2=h,k", "b2=k"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    net_grad = runpy.run_path(str(out))["net_grad"]
    args = _layer_args([(4, 3), (3, 5), (5,), (5, 2), (2,)], 23)
    got = net_grad(*args)
    for j, i in enumerate((1, 2, 3, 4)):
        np.testing.assert_allclose(
            got[j], _central_gradient(layers_zip, args, i), rtol=1e-5, atol=1e-7
        )
