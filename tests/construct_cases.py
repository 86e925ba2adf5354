"""User functions calling NumPy's shape and construction functions and einsum.

One function per case, each ending in a smooth scalar score of what it built
(so every element's derivative is tested and none is zero by accident).
tests/test_construct.py differentiates them; for JAX's oracle their source is
run again with ``np`` bound to ``jax.numpy``.
"""

import numpy as np


def score(v):
    return np.sum(np.sin(v) + 0.25 * v * v * v)


def hstack_vectors(x, y):
    return score(np.hstack([x, y]) * np.hstack((y, x)))


def hstack_matrices(A, B):
    return score(np.hstack([A, B]))


def vstack_(x, y):
    return score(np.vstack([x, y * x]))


def column_stack_(x, M):
    return score(np.column_stack([x, M, x * x]))


def dstack_(A, B):
    return score(np.dstack((A, B * A)))


def atleast_(x, s):
    a, b = np.atleast_2d(x, s)
    return score(np.atleast_3d(x) * 2.0) + score(a * b) + score(np.atleast_1d(s))


def split_(x):
    a, b, c = np.split(x, 3)
    return score(a * b + c)


def array_split_(x):
    pieces = np.array_split(x, 3)
    return score(pieces[0][:2] * pieces[1][:2] + pieces[2])


def split_at_indices(M):
    top, middle, bottom = np.split(M, [1, 3], axis=1)
    return score(top * bottom) + score(middle)


def tile_(x, A):
    return score(np.tile(x, (2, 3))) + score(np.tile(A, 2) * 2.0)


def repeat_(A):
    return (
        score(np.repeat(A, 2, axis=0)) + score(A.repeat(3)) + score(np.repeat(A, 2, -1))
    )


def roll_(A):
    return score(np.roll(A, 2) * A.ravel()[0]) + score(np.roll(A, -1, axis=1) * A)


def flip_(A):
    return (
        score(np.flip(A) * A)
        + score(np.flip(A, axis=1) * A)
        + score(np.fliplr(A) + np.flipud(A))
    )


def moveaxis_(T):
    return (
        score(np.moveaxis(T, 0, -1)[0])
        + score(np.swapaxes(T, 0, 2)[1])
        + score(T.swapaxes(1, 2)[0])
    )


def ravel_(A):
    return score(np.ravel(A) * A.flatten()[::-1] + A.ravel())


def broadcast_to_(x, A):
    return score(np.broadcast_to(x, (4, 3)) + np.broadcast_to(x, (A.shape[0], 3)))


def diag_(x, M):
    return (
        score(np.diag(x) @ M)
        + score(np.diag(x, 1))
        + score(np.diag(M, -1) * np.diagonal(M, 1))
        + score(M.diagonal(1))
    )


def triangles(M):
    return score(np.triu(M) * M) + score(np.tril(M, -1) + np.triu(M, 1))


def products(u, v, A, B):
    return (
        score(np.outer(u, v))
        + score(np.inner(u, v) * np.inner(A, B))
        + score(np.kron(A, B))
        + score(np.kron(u, v))
        + np.vdot(A, B) ** 2
    )


def cross_(P, v):
    return (
        score(np.cross(P, v))
        + score(np.cross(P, P[::-1]))
        + score(np.cross(v, 2.0 * v + 1.0))
    )


def cross_axis0(P, Q):
    return score(np.cross(P, Q, axis=0))


def tensordot_(A, B, T):
    return (
        score(np.tensordot(A, B, axes=1))
        + score(np.tensordot(A, A, axes=2))
        + score(np.tensordot(T, A, axes=([0, 1], [0, 1])))
    )


def take_(x, A, i, J):
    return (
        score(np.take(x, i))
        + score(np.take(A, i, axis=1))
        + score(np.take_along_axis(A, J, axis=1))
        + score(np.take_along_axis(A, J[:, :1], axis=-1) * A)
    )


def meshgrid_(x, y):
    X, Y = np.meshgrid(x, y)
    P, Q = np.meshgrid(x, y, indexing="ij")
    return score(X * Y) + score(P - Q * P)


def pad_(A, x):
    return (
        score(np.pad(A, 1) + 1.0)
        + score(np.pad(x, (1, 2)) * 2.0)
        + score(np.pad(A, ((0, 1), (2, 0))))
    )


def literals(x):
    M = np.array([[x[0], 2.0], [x[1], x[0] * x[1]]])
    v = np.asarray([x[1], 3.0, x[0]])
    return score(M @ M) + score(v * np.asarray(x)[0])


def constants(x, M):
    grid = np.linspace(0.0, 1.0, 5)
    ends = np.linspace(x[0], x[1], 4)
    return score(grid * x) + score(ends * ends) + score(np.identity(3) @ M + np.eye(3))


def einsum_three(A, B, C):
    return score(np.einsum("ij,jk,kl->il", A, B, C))


def einsum_ellipsis(S, T):
    return score(np.einsum("...ij,...jk->...ik", S, T)) + score(
        np.einsum("...i,i", S[0], T[0, :, 0])
    )


def einsum_implicit(A, B):
    return (
        np.einsum("ij,ij", A, B) ** 2
        + score(np.einsum("ij->ji", A) * A.T)
        + np.einsum("ij->", A) ** 3
    )


def einsum_optimized(A, B, C, x):
    return score(np.einsum("ij,jk,k,ki->i", A, B, x, C, optimize=True)) + score(
        np.einsum("ij,j->i", A, x[:3], optimize="greedy")
    )


def einsum_summed_alone(A, B):
    return score(np.einsum("ij,jk->k", A, B)) + score(np.einsum("i,jk->k", A[0], B))


def broadcast_to_shape(x, A):
    return score(np.broadcast_to(x, A.shape) * A)


def einsum_diagonals(M, T):
    return (
        score(np.einsum("ii->i", M) * np.einsum("ii", M))
        + score(np.einsum("bii->b", T))
        + score(np.einsum("ijj,j->i", T, M[0][:3]))
    )
