"""GMM: the Gaussian mixture objective of ADBench with its Wishart prior, in two forms.

Written for ad_compiler from the published definition of the objective.  The
parameters of a mixture of ``k`` Gaussians in ``d`` dimensions are

* ``alphas`` (k): the weights' logits;
* ``means`` (k, d);
* ``icf`` (k, d + d(d-1)/2): per cluster, the inverse Cholesky factor
  ``Q_c = diag(exp(icf[c, :d])) + L_c`` packed: the logarithms of its diagonal,
  then its strictly lower part column by column (``L_c[1, 0], L_c[2, 0], ...,
  L_c[d-1, 0], L_c[2, 1], ...``).

For the points ``x`` (n, d) the objective is

    Σ_i logsumexp_c(alphas[c] + Σ_j icf[c, j] - |Q_c (x[i] - means[c])|² / 2)
      - n logsumexp(alphas) - n d/2 log 2π + log Wishart prior,

the prior (concentration ``gamma``, ``m`` extra degrees of freedom, ``p = d``,
``ν = d + m + 1``) being

    Σ_c (gamma²/2 (|exp(icf[c, :d])|² + |icf[c, d:]|²) - m Σ_j icf[c, j])
      - k (ν d (log gamma - log(2)/2) - log Γ_d(ν/2))

with ``log Γ_d(a) = d(d-1)/4 log π + Σ_{j=1..d} lgamma(a + (1 - j)/2)`` the
log multivariate gamma function.  The prior's constant does not depend on the
parameters: :func:`wishart_constant` computes it once and both forms take it
as the argument ``const``.

``gmm_loop`` is the form a scientist writes first: a loop over the clusters,
the factor filled entry by entry from the packed vector, and the centred points
written row by row (``xc[i] = x[i] - means[c]``, the loop the issue measures).
``gmm_vec`` is the same objective on (n, k, d) arrays, free of writes (so the
same source also runs under ``jax.numpy`` and ``autograd.numpy``).
``gmm_grad_hand`` is the gradient of ``gmm_vec`` derived by hand.
"""

import math

import numpy as np


def wishart_constant(d, k, gamma, m):
    """The parameter-free part of the objective: -n d/2 log 2π per point aside,
    ``-k (ν d (log gamma - log 2 / 2) - log Γ_d(ν/2))`` with ``ν = d + m + 1``."""
    nu = d + m + 1
    log_gamma_d = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(1, d + 1):
        log_gamma_d += math.lgamma(0.5 * nu + 0.5 * (1 - j))
    return -k * (nu * d * (math.log(gamma) - 0.5 * math.log(2.0)) - log_gamma_d)


def log_likelihood(inner, alphas, d):
    """Σ_i logsumexp_c inner[i, c] - n logsumexp(alphas) - n d/2 log 2π, each
    log-sum-exp shifted by its maximum."""
    n = inner.shape[0]
    top = np.max(inner, axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.sum(np.exp(inner - top), axis=1))
    a_top = np.max(alphas)
    lse_alphas = a_top + np.log(np.sum(np.exp(alphas - a_top)))
    return np.sum(lse) - n * lse_alphas - 0.5 * n * d * math.log(2.0 * math.pi)


def gmm_loop(alphas, means, icf, x, gamma, m, const):
    """The objective, looping over clusters and over the points' rows."""
    n, d = x.shape
    k = alphas.shape[0]
    inner = np.zeros((n, k))
    prior = 0.0
    for c in range(k):
        q = icf[c, :d]
        Q = np.diag(np.exp(q))
        pos = d
        for j in range(d):
            for i in range(j + 1, d):
                Q[i, j] = icf[c, pos]
                pos += 1
        xc = np.zeros((n, d))
        for i in range(n):
            xc[i] = x[i] - means[c]
        z = xc @ Q.T
        inner[:, c] = alphas[c] + np.sum(q) - 0.5 * np.sum(z * z, axis=1)
        prior += 0.5 * gamma**2 * (
            np.sum(np.exp(q) ** 2) + np.sum(icf[c, d:] ** 2)
        ) - m * np.sum(q)
    return log_likelihood(inner, alphas, d) + prior + const


def gmm_vec(alphas, means, icf, x, gamma, m, const, tri):
    """The objective on (n, k, d) arrays.  ``tri`` (d * d, ints) says where each
    entry of a factor's strictly lower part sits in ``[0, icf[c, d:]]`` (0: a zero
    of the factor), so the factors are gathered, not written."""
    d = x.shape[1]
    k = alphas.shape[0]
    logdiag = icf[:, :d]
    diag = np.exp(logdiag)
    sum_qs = np.sum(logdiag, axis=1)
    padded = np.concatenate([np.zeros((k, 1)), icf[:, d:]], axis=1)
    L = np.reshape(padded[:, tri], (k, d, d))
    xc = x[:, None, :] - means[None, :, :]
    z = diag[None, :, :] * xc + np.einsum("cij,ncj->nci", L, xc)
    inner = alphas[None, :] + sum_qs[None, :] - 0.5 * np.sum(z * z, axis=2)
    prior = np.sum(
        0.5 * gamma**2 * (np.sum(diag**2, axis=1) + np.sum(icf[:, d:] ** 2, axis=1))
        - m * sum_qs
    )
    return log_likelihood(inner, alphas, d) + prior + const


def gmm_grad_hand(alphas, means, icf, x, gamma, m, const, tri):
    """(d/d alphas, d/d means, d/d icf) of :func:`gmm_vec`, derived by hand.

    With r[i, c] the responsibilities (softmax over c of ``inner``) and
    ``zbar = -r z``: d/d alphas = Σ_i r - n softmax(alphas); d/d logdiag =
    Σ_i r - m + diag · Σ_i zbar·xc + gamma² diag²; d/d L = Σ_i zbar xcᵀ (then
    gathered back into the packed layout) + gamma² icf[:, d:]; d/d means =
    -Σ_i (diag · zbar + Lᵀ zbar)."""
    n, d = x.shape
    k = alphas.shape[0]
    logdiag = icf[:, :d]
    diag = np.exp(logdiag)
    padded = np.concatenate([np.zeros((k, 1)), icf[:, d:]], axis=1)
    L = padded[:, tri].reshape(k, d, d)
    xc = x[:, None, :] - means[None, :, :]
    z = diag[None] * xc + np.einsum("cij,ncj->nci", L, xc)
    inner = alphas + np.sum(logdiag, axis=1) - 0.5 * np.sum(z * z, axis=2)
    r = np.exp(inner - np.max(inner, axis=1, keepdims=True))
    r /= np.sum(r, axis=1, keepdims=True)
    soft = np.exp(alphas - np.max(alphas))
    soft /= np.sum(soft)
    r_sum = np.sum(r, axis=0)
    zbar = -r[:, :, None] * z
    d_alphas = r_sum - n * soft
    d_logdiag = (
        r_sum[:, None]
        - m
        + diag * np.einsum("nci,nci->ci", zbar, xc)
        + gamma**2 * diag**2
    )
    d_L = np.einsum("nci,ncj->cij", zbar, xc).reshape(k, d * d)
    placed = tri > 0
    d_packed = np.zeros((k, padded.shape[1]))
    d_packed[:, tri[placed]] = d_L[:, placed]
    d_lower = d_packed[:, 1:] + gamma**2 * icf[:, d:]
    d_xc = diag[None] * zbar + np.einsum("cij,nci->ncj", L, zbar)
    d_means = -np.sum(d_xc, axis=0)
    return d_alphas, d_means, np.concatenate([d_logdiag, d_lower], axis=1)


def lower_index(d):
    """``tri`` of :func:`gmm_vec`: for entry (i, j) of a d x d factor, flattened
    row-major, 1 + its position in the packed strictly lower part, or 0."""
    tri = np.zeros(d * d, dtype=np.int64)
    pos = 1
    for j in range(d):
        for i in range(j + 1, d):
            tri[i * d + j] = pos
            pos += 1
    return tri


def make_gmm(n, d, k, seed=0):
    """Seeded random inputs of ADBench's shapes (its generator draws uniform
    parameters and Gaussian points; gamma = 1, m = 0 as in its files), as
    (alphas, means, icf, x, gamma, m)."""
    rng = np.random.default_rng(seed)
    alphas = rng.standard_normal(k)
    means = rng.uniform(0.0, 1.0, (k, d))
    icf = rng.uniform(0.0, 1.0, (k, d + d * (d - 1) // 2))
    x = rng.standard_normal((n, d))
    return alphas, means, icf, x, 1.0, 0
