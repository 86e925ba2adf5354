"""Gaussian-process regression: the log marginal likelihood of the hyperparameters.

A port, written for ad_compiler, of the textbook computation (Rasmussen and
Williams, Gaussian Processes for Machine Learning, algorithm 2.1) as people
write it with NumPy and SciPy.  The covariance of the observations ``y`` at
inputs ``X`` is a squared-exponential kernel plus noise,

    K = σ_f² exp(−|x_i − x_j|² / (2ℓ²)) + σ_n² I,

with the hyperparameters kept as logarithms (``log_length`` = log ℓ,
``log_signal`` = log σ_f, ``log_noise`` = log σ_n) so that any real values are
valid.  With the Cholesky factor K = LLᵀ and α = K⁻¹y (two triangular solves),

    log p(y | X) = −½ yᵀα − Σ_i log L_ii − (n/2) log 2π.

Three spellings of the same number: ``log_marginal_likelihood`` (``cholesky``
and ``solve_triangular`` twice), ``log_marginal_likelihood_cho``
(``cho_factor``/``cho_solve``) and ``log_marginal_likelihood_slogdet``
(``slogdet`` and ``solve``, NumPy only).  ``fit`` maximises the likelihood
by gradient ascent, with the gradient ad_compiler derives from the source.

    python samples/ports/gp.py [--n N] [--steps STEPS]
"""

import argparse
import math

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular

from ad_compiler import grad


def squared_exponential(X1, X2, log_length, log_signal):
    """k(x, x') = σ_f² exp(−|x − x'|² / (2ℓ²)) for every pair of rows."""
    diff = X1[:, None, :] - X2[None, :, :]
    sq_dist = np.sum(diff**2, axis=2)
    return np.exp(2 * log_signal) * np.exp(-0.5 * sq_dist / np.exp(2 * log_length))


def covariance(hyp, X):
    """K = k(X, X) + σ_n² I."""
    n = X.shape[0]
    K = squared_exponential(X, X, hyp["log_length"], hyp["log_signal"])
    return K + np.exp(2 * hyp["log_noise"]) * np.eye(n)


def diagonal(M):
    """The diagonal of a square matrix, as a vector."""
    return np.sum(M * np.eye(M.shape[0]), axis=1)


def log_marginal_likelihood(hyp, X, y):
    n = X.shape[0]
    L = np.linalg.cholesky(covariance(hyp, X))
    v = solve_triangular(L, y, lower=True)  # L v = y
    alpha = solve_triangular(L.T, v, lower=False)  # Lᵀ α = v
    return (
        -0.5 * y @ alpha - np.sum(np.log(diagonal(L))) - 0.5 * n * math.log(2 * math.pi)
    )


def log_marginal_likelihood_cho(hyp, X, y):
    n = X.shape[0]
    factor = cho_factor(covariance(hyp, X), lower=True)
    alpha = cho_solve(factor, y)
    c, lower = factor
    return (
        -0.5 * y @ alpha - np.sum(np.log(diagonal(c))) - 0.5 * n * math.log(2 * math.pi)
    )


def log_marginal_likelihood_slogdet(hyp, X, y):
    n = X.shape[0]
    K = covariance(hyp, X)
    sign, logdet = np.linalg.slogdet(K)
    alpha = np.linalg.solve(K, y)
    return -0.5 * y @ alpha - 0.5 * logdet - 0.5 * n * math.log(2 * math.pi)


def make_data(n=20, seed=0):
    """Noisy samples of sin on [−3, 3] (one input dimension)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3.0, 3.0, size=(n, 1))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(n)
    return X, y


def initial_hyperparameters():
    return {"log_length": 0.5, "log_signal": -0.5, "log_noise": -1.0}


def fit(hyp, X, y, steps=100, lr=0.02):
    """Gradient ascent on the log marginal likelihood; the fitted hyperparameters."""
    gradient = grad(log_marginal_likelihood)
    for _ in range(steps):
        g = gradient(hyp, X, y)
        hyp = {key: hyp[key] + lr * g[key] for key in hyp}
    return hyp


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    a = parser.parse_args()
    X, y = make_data(a.n)
    hyp = initial_hyperparameters()
    print(f"log p(y | X) at the start {log_marginal_likelihood(hyp, X, y):.6f}")
    hyp = fit(hyp, X, y, steps=a.steps)
    print(f"log p(y | X) fitted       {log_marginal_likelihood(hyp, X, y):.6f}")
    print({key: round(float(value), 4) for key, value in hyp.items()})
