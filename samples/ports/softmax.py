"""A softmax classifier (multinomial logistic regression) on the shipped digits.

Each image x (64 pixels) gets one linear score per class, z = x W + b, and the
model's class probabilities are softmax(z).  The loss is the negative
log-likelihood of the true labels averaged over the examples, plus a small L2
penalty on the weights:

    loss = -(1/n) Σ_i [z_i · y_i − logsumexp(z_i)] + reg Σ W²

with y_i the one-hot label.  ``logsumexp`` (from ``scipy.special``) computes
log Σ_c e^(z_ic) without overflow, by shifting by the row's maximum; the
second version writes the same loss with ``scipy.special.log_softmax``.
Neither is written for ad_compiler: ``grad(loss, argnums=(0, 1))``
differentiates them as they stand, and ``adc compile samples/ports/softmax.py``
writes both gradients without importing this file.

    python samples/ports/softmax.py [--steps N] [--lr LR] [--source]

trains the classifier with plain gradient descent and prints the test accuracy.
"""

import numpy as np
from scipy.special import log_softmax, logsumexp


def scores(W, b, X):
    """One linear score per example and class: Z[n, c] = Σ_d X[n, d] W[d, c] + b[c].

    (Written with ``np.einsum``, whose adjoint needs no shapes, so that ``adc
    compile`` works on this file without ``--shape``; ``X @ W + b`` is the
    same, and compiles with ``--shape W=d,c b=c X=n,d Y=n,c``.)"""
    return np.einsum("nd,dc->nc", X, W) + b


def loss(W, b, X, Y, reg=1e-3):
    """Mean cross-entropy of the linear scores, through logsumexp, plus reg Σ W²."""
    Z = scores(W, b, X)
    log_likelihood = np.sum(Z * Y) - np.sum(logsumexp(Z, axis=1))
    return -log_likelihood / len(X) + reg * np.sum(W**2)


def loss_log_softmax(W, b, X, Y, reg=1e-3):
    """The same loss, with the log-probabilities from log_softmax."""
    log_p = log_softmax(scores(W, b, X), axis=1)
    return -np.sum(log_p * Y) / len(X) + reg * np.sum(W**2)


if __name__ == "__main__":
    # (the driver is not a function of its own: `adc compile` differentiates
    # every top-level function of the file, and this one loads files)
    import argparse
    from pathlib import Path

    from ad_compiler import grad

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--source", action="store_true", help="print the gradient")
    args = parser.parse_args()

    # the digits as samples/ports/mlp.py loads them: pixels in [0, 1], one-hot labels
    data = np.load(Path(__file__).resolve().parent.parent / "data" / "digits.npz")
    X = data["X"].astype(np.float64) / 16.0
    Y = np.eye(10)[data["y"].astype(np.int64)]
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1437], order[1437:]

    W, b = np.zeros((64, 10)), np.zeros(10)
    loss_grad = grad(loss, argnums=(0, 1))
    for step in range(args.steps):
        dW, db = loss_grad(W, b, X[train], Y[train])
        W, b = W - args.lr * dW, b - args.lr * db
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss(W, b, X[train], Y[train]):.4f}")
    predicted = np.argmax(scores(W, b, X[test]), axis=1)
    print(f"test accuracy {np.mean(predicted == np.argmax(Y[test], axis=1)):.3f}")
    if args.source:
        print(loss_grad.source)
