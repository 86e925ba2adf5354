"""A recurrent network over a sequence, with its helpers nested in the model.

A port, written for ad_compiler, of the "RNN" example of NumPy AD libraries:
parameters in a dict, the sequence as one array whose first axis is the
steps (their number known only when it runs), the state update and the
read-out as functions defined inside the prediction function (closing over
the parameters), the per-step outputs collected with ``append`` in the loop
over the steps, and the log-likelihood a ``sum`` over them.  The task here is
small enough to train in seconds: predict the next sample of noisy sine waves.

    python samples/ports/rnn.py [--steps N]
"""

import argparse

import numpy as np

from ad_compiler import grad


def init_params(n_in, n_hidden, n_out, scale, rng):
    return {
        "h0": scale * rng.standard_normal((1, n_hidden)),
        "W_in": scale * rng.standard_normal((n_in, n_hidden)),
        "W_rec": scale * rng.standard_normal((n_hidden, n_hidden)),
        "b": np.zeros(n_hidden),
        "W_out": scale * rng.standard_normal((n_hidden, n_out)),
        "b_out": np.zeros(n_out),
    }


def rnn_predict(params, inputs):
    """One prediction per step: ``h_t = tanh(x_t W_in + h_{t-1} W_rec + b)``."""

    def update(x, h):
        return np.tanh(x @ params["W_in"] + h @ params["W_rec"] + params["b"])

    def read_out(h):
        return h @ params["W_out"] + params["b_out"]

    h = params["h0"] * np.ones((inputs[0].shape[0], 1))
    outputs = []
    for x in inputs:
        h = update(x, h)
        outputs.append(read_out(h))
    return outputs


def loss(params, inputs, targets):
    """Mean squared one-step-ahead error over the sequence and the batch."""
    outputs = rnn_predict(params, inputs)
    errors = [np.sum((y - t) ** 2) for y, t in zip(outputs, targets)]
    return sum(errors) / (len(inputs) * inputs[0].shape[0])


def make_data(steps=12, batch=16, seed=0):
    """Noisy sine waves: inputs x_t and targets x_{t+1}, as (steps, batch, 1) arrays."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=(batch, 1))
    t = np.arange(steps + 1) * 0.4
    waves = np.sin(phase + t) + 0.05 * rng.standard_normal((batch, steps + 1))
    inputs = waves[:, :steps].T[:, :, None]
    targets = waves[:, 1:].T[:, :, None]
    return inputs, targets


def train(steps=150, lr=0.1, seed=0, report=None):
    inputs, targets = make_data(seed=seed)
    params = init_params(1, 8, 1, 0.3, np.random.default_rng(seed))
    loss_grad = grad(loss)
    for step in range(steps):
        g = loss_grad(params, inputs, targets)
        params = {k: params[k] - lr * g[k] for k in params}
        if report is not None and (step % 50 == 0 or step == steps - 1):
            report(step, loss(params, inputs, targets))
    return params, loss(params, inputs, targets)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    train(args.steps, report=lambda s, v: print(f"step {s:4d}  loss {v:.5f}"))
