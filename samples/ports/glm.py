"""Count regressions: a Poisson and a negative-binomial GLM with a log link.

Written for ad_compiler from the textbook definitions of the two models (as in
any GLM reference), in the form a statistician writes them with NumPy and
``scipy.special``: counts ``y`` regressed on a design matrix ``X`` (a column of
ones for the intercept), the mean ``μ = exp(X β)``.

* Poisson:  log p(y) = y η − e^η − ln Γ(y + 1),  η = X β.
* Negative binomial (NB2, dispersion α, so Var y = μ + α μ²; r = 1/α):

      log p(y) = ln Γ(y + r) − ln Γ(r) − ln Γ(y + 1)
                 + r (ln r − ln(r + μ)) + y (η − ln(r + μ)),

  with ln(r + μ) = logaddexp(ln r, η), stable for large μ or small r.  Its
  gradient in ln α brings in the digamma function: ``negbin_score`` writes
  the score by hand (for comparison), and ad_compiler derives it from
  ``negbin_loglik`` unchanged.

The data are simulated with a fixed seed (``Simulated``); ``adc compile
samples/ports/glm.py`` differentiates each top-level function without running
the file.  ``X β`` is written as an einsum, whose spec gives the ranks: with
``X @ beta`` the CLI asks for the shapes (``--shape X=n,3 beta=3``), which
the API takes from the call.

    python samples/ports/glm.py [--n N] [--steps STEPS]
"""

import argparse

import numpy as np
from scipy.special import digamma, gammaln

from ad_compiler import grad


def poisson_loglik(beta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Σ log p(yᵢ) of the Poisson model with log-mean X β."""
    eta = np.einsum("ij,j->i", X, beta)
    return np.sum(y * eta - np.exp(eta) - gammaln(y + 1.0))


def negbin_loglik(
    beta: np.ndarray, log_alpha: float, X: np.ndarray, y: np.ndarray
) -> float:
    """Σ log p(yᵢ) of the NB2 model with log-mean X β and dispersion exp(log_alpha)."""
    eta = np.einsum("ij,j->i", X, beta)
    log_r = -log_alpha  # r = 1 / α, the "number of successes"
    r = np.exp(log_r)
    log_r_plus_mu = np.logaddexp(log_r, eta)
    counts = gammaln(y + r) - gammaln(r) - gammaln(y + 1.0)
    return np.sum(counts + r * (log_r - log_r_plus_mu) + y * (eta - log_r_plus_mu))


def negbin_score(beta: np.ndarray, log_alpha: float, X: np.ndarray, y: np.ndarray):
    """The gradient of ``negbin_loglik`` written out by hand (a reference):
    ∂/∂β = Xᵀ (y − μ) r / (r + μ) and, with ∂r/∂ln α = −r,
    ∂/∂ln α = −r Σ [ψ(y + r) − ψ(r) + ln r − ln(r + μ) + (μ − y) / (r + μ)]."""
    eta = np.einsum("ij,j->i", X, beta)
    r = np.exp(-log_alpha)
    mu = np.exp(eta)
    d_beta = np.einsum("ij,i->j", X, (y - mu) * r / (r + mu))
    per_point = digamma(y + r) - digamma(r) - np.log1p(mu / r) + (mu - y) / (r + mu)
    return d_beta, -r * np.sum(per_point)


class Simulated:
    """Counts drawn with a fixed seed: ``X`` (n × 3, the first column ones),
    Poisson counts ``y_poisson`` and negative-binomial counts ``y_negbin``
    from the coefficients ``beta`` (dispersion ``alpha`` for the latter)."""

    def __init__(self, n=200, seed=0, beta=(0.5, 0.8, -0.4), alpha=0.5):
        rng = np.random.default_rng(seed)
        self.beta = np.array(beta)
        self.alpha = alpha
        self.X = np.column_stack([np.ones(n), rng.standard_normal((n, 2))])
        mu = np.exp(self.X @ self.beta)
        self.y_poisson = rng.poisson(mu).astype(float)
        # a gamma-Poisson mixture: mean μ, variance μ + α μ²
        rates = rng.gamma(shape=1.0 / alpha, scale=alpha * mu)
        self.y_negbin = rng.poisson(rates).astype(float)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--steps", type=int, default=200)
    a = parser.parse_args()
    data = Simulated(a.n)

    def ascend(loglik, params, y):
        """Plain gradient ascent in every parameter; the log-likelihoods."""
        gradient = grad(loglik, argnums=tuple(range(len(params))))
        history = [loglik(*params, data.X, y)]
        for _ in range(a.steps):
            grads = gradient(*params, data.X, y)
            params = [p + 1e-3 * g for p, g in zip(params, grads)]
            history.append(loglik(*params, data.X, y))
        return params, history

    (beta,), history = ascend(poisson_loglik, [np.zeros(3)], data.y_poisson)
    print(f"Poisson: log-likelihood {history[0]:.3f} -> {history[-1]:.3f}")
    print("  beta", np.round(beta, 3), "(true", data.beta, ")")
    (beta, log_alpha), history = ascend(
        negbin_loglik, [np.zeros(3), 0.0], data.y_negbin
    )
    print(f"negative binomial: log-likelihood {history[0]:.3f} -> {history[-1]:.3f}")
    print("  beta", np.round(beta, 3), "alpha", round(float(np.exp(log_alpha)), 3))
