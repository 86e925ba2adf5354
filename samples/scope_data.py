"""Minibatch training where the data live in the model, not in the arguments.

A common way to write a model: the data are attributes of an object (or
variables of a factory's closure), and the loss is a method taking only the
parameters.  ``grad(model.loss)`` differentiates with respect to ``W`` and
``b``; ``self.X`` and ``self.Y`` are constants of the derivative, read at each
call.  Minibatch SGD then just rebinds ``model.X`` and ``model.Y`` to the next
batch: the same derivative sees it, with no recompilation (the code depends
on the batch's number of axes, not on its size), and the last, smaller batch
works as well.

The data are the handwritten digits shipped in ``samples/data/digits.npz``.

    python samples/scope_data.py [--epochs N] [--batch B] [--lr LR] [--source]
"""

import argparse
from pathlib import Path

import numpy as np

from ad_compiler import grad

DATA = Path(__file__).resolve().parent / "data" / "digits.npz"


class SoftmaxRegression:
    """Softmax regression on the batch held in ``self.X`` (n x 64) and the
    one-hot labels in ``self.Y`` (n x 10); ``self.decay`` weights an L2 term."""

    def __init__(self, X, Y, decay=1e-3):
        self.X, self.Y, self.decay = X, Y, decay

    def logits(self, W, b):
        Z = self.X @ W + b
        return Z - np.max(Z, axis=1, keepdims=True)

    def loss(self, W, b):
        Z = self.logits(W, b)
        logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
        penalty = self.decay * np.sum(W * W)
        return -np.sum(self.Y * logp) / self.X.shape[0] + penalty


def load():
    data = np.load(DATA)
    X = data["X"].astype(np.float64) / 16.0
    Y = np.eye(10)[data["y"]]
    return X, Y, data["y"]


def train(epochs=5, batch=100, lr=0.5, seed=0):
    """SGD over minibatches; returns the model, W, b and the losses per epoch."""
    X, Y, _ = load()
    rng = np.random.default_rng(seed)
    model = SoftmaxRegression(X, Y)
    W, b = np.zeros((64, 10)), np.zeros(10)
    d_loss = grad(model.loss, argnums=(0, 1))
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            rows = order[start : start + batch]
            model.X, model.Y = X[rows], Y[rows]  # read by the next call
            gW, gb = d_loss(W, b)
            W, b = W - lr * gW, b - lr * gb
        model.X, model.Y = X, Y
        losses.append(model.loss(W, b))
    return model, W, b, losses, d_loss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--source", action="store_true")
    args = parser.parse_args(argv)
    model, W, b, losses, d_loss = train(args.epochs, args.batch, args.lr)
    _, _, labels = load()
    model.X = load()[0]
    accuracy = np.mean(np.argmax(model.logits(W, b), axis=1) == labels)
    for epoch, value in enumerate(losses, 1):
        print(f"epoch {epoch}: loss {value:.4f}")
    print(f"accuracy on all {len(labels)} images: {accuracy:.3f}")
    if args.source:
        print(d_loss.source)


if __name__ == "__main__":
    main()
