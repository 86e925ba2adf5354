"""A long short-term memory network, its gates written as nested helpers.

A port, written for ad_compiler, of the "LSTM" example of NumPy AD libraries
and of the LSTM objective of the standard AD benchmark: parameters in a dict,
one weight matrix per gate, the gates computed by helpers defined inside the
step function (a ``sigmoid`` lambda, a ``gate`` builder), the sequence a list
of per-step arrays and the loss a sum of per-step log-likelihoods of the next
symbol under a softmax read-out.

    python samples/ports/lstm.py [--steps N]
"""

import argparse

import numpy as np

from ad_compiler import grad

GATES = ("forget", "input", "output", "cell")


def init_params(n_in, n_hidden, n_out, scale, rng):
    params = {"W_out": scale * rng.standard_normal((n_hidden, n_out))}
    for name in GATES:
        params["W_" + name] = scale * rng.standard_normal((n_in + n_hidden, n_hidden))
        params["b_" + name] = np.zeros(n_hidden)
    return params


def lstm_step(params, x, h, c):
    """One step: ``c' = f*c + i*g``, ``h' = o*tanh(c')``."""
    sigmoid = lambda z: 0.5 * (np.tanh(0.5 * z) + 1.0)  # noqa: E731  (the port's idiom)
    xh = np.concatenate([x, h], axis=1)

    def gate(name, activation):
        return activation(xh @ params["W_" + name] + params["b_" + name])

    f = gate("forget", sigmoid)
    i = gate("input", sigmoid)
    o = gate("output", sigmoid)
    g = gate("cell", np.tanh)
    c = f * c + i * g
    return o * np.tanh(c), c


def log_softmax(Z):
    Z = Z - np.max(Z, axis=1, keepdims=True)
    return Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))


def loss(params, inputs, targets):
    """Negative mean log-likelihood of each next symbol (targets are one-hot)."""
    batch, n_hidden = inputs[0].shape[0], params["W_out"].shape[0]
    h = np.zeros((batch, n_hidden))
    c = np.zeros((batch, n_hidden))
    total = 0.0
    for x, t in zip(inputs, targets):
        h, c = lstm_step(params, x, h, c)
        total = total + np.sum(log_softmax(h @ params["W_out"]) * t)
    return -total / (len(inputs) * batch)


def make_data(steps=8, batch=8, symbols=4, seed=0):
    """Sequences that cycle through the symbols from a random start, one-hot."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, symbols, size=batch)
    seq = [(start + i) % symbols for i in range(steps + 1)]
    onehot = [np.eye(symbols)[s] for s in seq]
    return onehot[:-1], onehot[1:]


def train(steps=100, lr=1.0, seed=0, report=None):
    inputs, targets = make_data(seed=seed)
    n = inputs[0].shape[1]
    params = init_params(n, 10, n, 0.3, np.random.default_rng(seed))
    loss_grad = grad(loss)
    for step in range(steps):
        g = loss_grad(params, inputs, targets)
        params = {k: params[k] - lr * g[k] for k in params}
        if report is not None and (step % 25 == 0 or step == steps - 1):
            report(step, loss(params, inputs, targets))
    return params, loss(params, inputs, targets)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    train(args.steps, report=lambda s, v: print(f"step {s:4d}  loss {v:.5f}"))
