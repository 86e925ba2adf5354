"""Known crashes of array code (issue 14, item 8): einsum adjoints where a
length-1 axis is broadcast against a longer one, and reverse mode of a loop over
a tuple of arrays of different shapes (the layer loop).

Every derivative is compared with central differences of the function itself
(step 1e-6, so agreement to ~1e-6 relative is what a correct derivative gives).
"""

import itertools

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
