"""A multilayer perceptron whose parameters are a list of ``(W, b)`` pairs.

A port, written for ad_compiler, of the classic "neural net" example of NumPy
AD libraries: the network's parameters are one Python list of weight/bias
pairs, the forward pass loops over that list, the log-softmax and the L2 prior
are small helper functions, and the objective is the negative log posterior
averaged over the batch.  Nothing in the model is written for ad_compiler:
``grad(objective)`` differentiates it as it stands and returns the gradient as
a list of ``(dW, db)`` pairs, the structure of ``params``.

    python samples/ports/mlp.py [--steps N] [--lr LR] [--source]

trains a 64-30-10 tanh network on the digits shipped in ``samples/data`` with
plain gradient descent and prints the test accuracy.
"""

import argparse
from pathlib import Path

import numpy as np

from ad_compiler import grad

DATA = Path(__file__).resolve().parent.parent / "data" / "digits.npz"


def init_params(scale, layer_sizes, rng):
    """One ``(W, b)`` pair per layer, drawn from N(0, scale²)."""
    return [
        (scale * rng.standard_normal((m, n)), scale * rng.standard_normal(n))
        for m, n in zip(layer_sizes[:-1], layer_sizes[1:])
    ]


def log_softmax(Z):
    """Row-wise log of the softmax, shifted by the row maximum for stability."""
    Z = Z - np.max(Z, axis=1, keepdims=True)
    return Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))


def predict(params, inputs):
    """Class log-probabilities: tanh layers, the last one linear."""
    for W, b in params:
        outputs = inputs @ W + b
        inputs = np.tanh(outputs)
    return log_softmax(outputs)


def l2_norm(params):
    """The squared L2 norm of every weight and bias."""
    return sum(np.sum(W**2) + np.sum(b**2) for W, b in params)


def objective(params, inputs, targets, reg=1e-3):
    """Negative log posterior (Gaussian prior, categorical likelihood) per example."""
    log_prior = -reg * l2_norm(params)
    log_lik = np.sum(predict(params, inputs) * targets)
    return -(log_prior + log_lik) / len(inputs)


def accuracy(params, inputs, targets):
    return np.mean(
        np.argmax(predict(params, inputs), axis=1) == np.argmax(targets, axis=1)
    )


def load_digits(n_train=1437, seed=0):
    """Images scaled to [0, 1] and one-hot labels, split into train and test."""
    data = np.load(DATA)
    X = data["X"].astype(np.float64) / 16.0
    Y = np.eye(10)[data["y"].astype(np.int64)]
    order = np.random.default_rng(seed).permutation(len(X))
    train, test = order[:n_train], order[n_train:]
    return X[train], Y[train], X[test], Y[test]


def train(steps=200, lr=0.5, seed=0, report=None):
    """Full-batch gradient descent; returns the parameters and the test accuracy."""
    X, Y, X_test, Y_test = load_digits()
    params = init_params(0.1, [64, 30, 10], np.random.default_rng(seed))
    objective_grad = grad(objective)
    for step in range(steps):
        gradient = objective_grad(params, X, Y)
        params = [
            (W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, gradient)
        ]
        if report is not None and (step % 50 == 0 or step == steps - 1):
            report(step, objective(params, X, Y))
    return params, accuracy(params, X_test, Y_test)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument(
        "--source", action="store_true", help="print the emitted gradient"
    )
    args = parser.parse_args()
    _, acc = train(
        args.steps,
        args.lr,
        report=lambda s, v: print(f"step {s:4d}  objective {v:.4f}"),
    )
    print(f"test accuracy {acc:.3f}")
    if args.source:
        print(grad(objective).source)
