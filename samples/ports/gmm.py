"""The Gaussian mixture objective of the standard AD benchmark, one term per cluster.

A port, written for ad_compiler from the published definition of the GMM
objective (the ADBench suite), in the loop-over-clusters form people write
first: the means, the log-diagonals and the lower-triangular parts of the
clusters' inverse Cholesky factors arrive as lists with one array per cluster,
the per-cluster log-densities are collected in a list, stacked, and reduced
with a log-sum-exp over the clusters.

For cluster k with weight logit ``alphas[k]``, mean ``means[k]`` and inverse
Cholesky factor ``Q_k = diag(exp(qs[k])) + strictly_lower(ls[k])``, a point x
has the log-density (up to the constant ``-d/2 log 2π``)

    alphas[k] + sum(qs[k]) - |Q_k (x - means[k])|² / 2

and the objective is ``Σ_i logsumexp_k(...) - n logsumexp(alphas)`` plus a
Wishart prior on the Q_k (concentration ``gamma``, degrees of freedom ``m``).

    python samples/ports/gmm.py [--n N] [--d D] [--k K]
"""

import argparse
import math

import numpy as np

from ad_compiler import grad


def logsumexp(v):
    """log Σ exp(v) of a vector, shifted by its maximum."""
    top = np.max(v)
    return top + np.log(np.sum(np.exp(v - top)))


def logsumexp_rows(A):
    """log Σ_j exp(A[i, j]) for every row i."""
    top = np.max(A, axis=1, keepdims=True)
    return top[:, 0] + np.log(np.sum(np.exp(A - top), axis=1))


def gmm_objective(alphas, means, qs, ls, X, gamma=1.0, m=0):
    n, d = X.shape
    lower = np.arange(d)[:, None] > np.arange(d)[None, :]  # strictly below the diagonal
    terms = []
    for k in range(len(means)):
        Q = np.eye(d) * np.exp(qs[k]) + ls[k] * lower
        z = (X - means[k]) @ Q.T
        terms.append(alphas[k] + np.sum(qs[k]) - 0.5 * np.sum(z * z, axis=1))
    per_point = logsumexp_rows(np.stack(terms, axis=1))
    prior = sum(
        0.5 * gamma**2 * (np.sum(np.exp(q) ** 2) + np.sum((l * lower) ** 2))
        - m * np.sum(q)
        for q, l in zip(qs, ls)
    )
    return (
        np.sum(per_point)
        - n * logsumexp(alphas)
        + prior
        - 0.5 * n * d * math.log(2 * math.pi)
    )


def make_problem(n=200, d=3, k=4, seed=0):
    rng = np.random.default_rng(seed)
    alphas = rng.standard_normal(k)
    means = [rng.standard_normal(d) for _ in range(k)]
    qs = [0.1 * rng.standard_normal(d) for _ in range(k)]
    ls = [0.1 * rng.standard_normal((d, d)) for _ in range(k)]
    X = rng.standard_normal((n, d))
    return alphas, means, qs, ls, X


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--k", type=int, default=4)
    a = parser.parse_args()
    problem = make_problem(a.n, a.d, a.k)
    value = gmm_objective(*problem)
    g_alphas, g_means, g_qs, g_ls = grad(gmm_objective, argnums=(0, 1, 2, 3))(*problem)
    print(f"objective {value:.6f}")
    print("d/d alphas", np.round(g_alphas, 6))
    print("d/d means[0]", np.round(g_means[0], 6))
