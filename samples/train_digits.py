"""Train a small neural network on handwritten digits with ad_compiler's gradient.

The model is one plain NumPy function, ``loss`` below: a 64-32-10 tanh network
with a softmax cross-entropy loss.  ad_compiler reads its source and emits the
gradient with respect to the weights and biases; the training loop is plain
full-batch gradient descent with a fixed learning rate.  There is no
hand-written backpropagation anywhere in this file.

The data are the 1,797 8x8 UCI handwritten digits shipped in
``samples/data/digits.npz`` (see ``samples/data/README.md``); nothing is
downloaded.  A fixed split keeps 1,437 images for training and 360 for testing.

    python samples/train_digits.py [--epochs N] [--lr LR] [--seed S] [--plot PATH] [--source]

prints the losses every few epochs and the final accuracies, and writes a
loss curve (needs matplotlib: ``pip install -e ".[plot]"``).  ``--source``
prints the gradient code that ad_compiler emitted.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from ad_compiler import grad

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "digits.npz"
N_TRAIN = 1437  # the other 360 images are the test set
SPLIT_SEED = 0  # the train/test split is the same whatever --seed says
HIDDEN = 32


def loss(W1, b1, W2, b2, X, Y):
    """Softmax cross-entropy of a 64-32-10 tanh network, averaged over the batch."""
    H = np.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(Y * logp) / len(X)


# The gradient of `loss` with respect to W1, b1, W2 and b2: code emitted by
# ad_compiler (compiled on the first call; `loss_grad.source` is its text).
loss_grad = grad(loss, argnums=(0, 1, 2, 3))


def load_digits():
    """The images scaled to [0, 1], the labels, split into train and test."""
    data = np.load(DATA)
    X = data["X"].astype(np.float64) / 16.0
    y = data["y"].astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(X))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    return X[train], y[train], X[test], y[test]


def one_hot(y, classes=10):
    return np.eye(classes)[y]


def predict(params, X):
    W1, b1, W2, b2 = params
    return np.argmax(np.tanh(X @ W1 + b1) @ W2 + b2, axis=1)


def init_params(seed, hidden=HIDDEN):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(64, hidden)) * 0.1
    b1 = np.zeros(hidden)
    W2 = rng.normal(size=(hidden, 10)) * 0.1
    b2 = np.zeros(10)
    return W1, b1, W2, b2


def train(params, X, Y, X_test, Y_test, epochs, lr, report_every=25):
    """Full-batch gradient descent; returns the parameters and the loss curves."""
    train_losses = [loss(*params, X, Y)]
    test_losses = [loss(*params, X_test, Y_test)]
    print(
        f"epoch {0:4d}  train loss {train_losses[0]:.4f}  test loss {test_losses[0]:.4f}"
    )
    for epoch in range(1, epochs + 1):
        grads = loss_grad(*params, X, Y)
        params = tuple(p - lr * g for p, g in zip(params, grads))
        train_losses.append(loss(*params, X, Y))
        test_losses.append(loss(*params, X_test, Y_test))
        if epoch % report_every == 0 or epoch == epochs:
            print(
                f"epoch {epoch:4d}  train loss {train_losses[-1]:.4f}"
                f"  test loss {test_losses[-1]:.4f}"
            )
    return params, train_losses, test_losses


def plot_losses(train_losses, test_losses, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            'note: matplotlib is not installed (pip install -e ".[plot]"); no plot written'
        )
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    epochs = np.arange(len(train_losses))
    ax.plot(epochs, train_losses, label="train (1,437 images)")
    ax.plot(epochs, test_losses, label="test (360 images)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch (one full-batch gradient step)")
    ax.set_ylabel("softmax cross-entropy")
    ax.set_title("64-32-10 tanh network on 8x8 digits, gradient by ad_compiler")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"loss curve written to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs", type=int, default=300, help="gradient steps (default 300)"
    )
    parser.add_argument(
        "--lr", type=float, default=1.0, help="learning rate (default 1.0)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the initial weights (default 0)"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=HERE / "train_digits.png",
        help="where to write the loss curve (default samples/train_digits.png)",
    )
    parser.add_argument(
        "--source", action="store_true", help="print the emitted gradient code"
    )
    args = parser.parse_args(argv)

    X, y, X_test, y_test = load_digits()
    Y, Y_test = one_hot(y), one_hot(y_test)
    params = init_params(args.seed)
    print(
        f"{len(X)} training and {len(X_test)} test images; {args.epochs} epochs of "
        f"full-batch gradient descent, learning rate {args.lr}, seed {args.seed}"
    )

    start = time.perf_counter()
    params, train_losses, test_losses = train(
        params, X, Y, X_test, Y_test, args.epochs, args.lr
    )
    seconds = time.perf_counter() - start
    if args.source:
        print(loss_grad.source)
    print(f"trained in {seconds:.1f} s (including compiling the gradient)")
    plot_losses(train_losses, test_losses, args.plot)

    train_hits = int(np.sum(predict(params, X) == y))
    test_hits = int(np.sum(predict(params, X_test) == y_test))
    print(f"train accuracy: {train_hits / len(X):.3f} ({train_hits}/{len(X)})")
    print(f"test accuracy: {test_hits / len(X_test):.3f} ({test_hits}/{len(X_test)})")


if __name__ == "__main__":
    main()
