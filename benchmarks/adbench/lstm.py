"""LSTM: the ADBench objective of a stacked LSTM predicting the next character.

Written for ad_compiler from the published definition.  ``l`` layers of ``b``
cells each: ``main_params`` (2l, 4b) holds, for layer i, its weights in row 2i
and its biases in row 2i+1, four blocks of b (forget, input, output gates and
the candidate cell); ``extra_params`` (3, b) the input weights, output weights
and output biases; ``state`` (2l, b) each layer's hidden state (row 2i) and
cell (row 2i+1); ``sequence`` (c, b) one-hot characters.  A layer is
elementwise (ADBench's "diagonal" LSTM)::

    f = σ(x w_f + b_f)    i = σ(h w_i + b_i)    o = σ(x w_o + b_o)
    g = tanh(h w_g + b_g)    c' = c f + i g    h' = o tanh(c')

the first layer reads ``x = sequence[t] * extra_params[0]`` and each next
layer the hidden state of the one below; the prediction is
``y = h_top * extra_params[1] + extra_params[2]``.  The loss is minus the mean
log-likelihood of the next character:
``-Σ_t Σ_j sequence[t+1, j] (y_t - logsumexp(y_t))_j / ((c - 1) b)``.
(ADBench's code adds 2 inside the logarithm of the normaliser; we use the
plain log-sum-exp, the log-softmax the definition names.)

``lstm_loop`` writes the new states into rows of a state array, layer by layer,
step by step; ``lstm_vec`` computes the four gates of a layer as one array and
the log-softmax of all steps at once after the time loop.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_loop(main_params, extra_params, state, sequence):
    """The loss, the state updated row by row inside the step and layer loops."""
    c, b = sequence.shape
    layers = main_params.shape[0] // 2
    s = np.copy(state)
    total = 0.0
    for t in range(c - 1):
        x = sequence[t] * extra_params[0]
        for i in range(layers):
            w = main_params[2 * i]
            bias = main_params[2 * i + 1]
            forget = sigmoid(x * w[:b] + bias[:b])
            ingate = sigmoid(s[2 * i] * w[b : 2 * b] + bias[b : 2 * b])
            outgate = sigmoid(x * w[2 * b : 3 * b] + bias[2 * b : 3 * b])
            change = np.tanh(s[2 * i] * w[3 * b :] + bias[3 * b :])
            s[2 * i + 1] = s[2 * i + 1] * forget + ingate * change
            s[2 * i] = outgate * np.tanh(s[2 * i + 1])
            x = s[2 * i]
        y = x * extra_params[1] + extra_params[2]
        top = np.max(y)
        ynorm = y - top - np.log(np.sum(np.exp(y - top)))
        total += np.sum(sequence[t + 1] * ynorm)
    return -total / ((c - 1) * b)


def lstm_vec(main_params, extra_params, state, sequence):
    """The loss, each layer's gates one array, the read-out batched over steps;
    the state is a new (2l, b) array each step, stacked from its rows."""
    c, b = sequence.shape
    layers = main_params.shape[0] // 2
    s = state
    outputs = []
    for t in range(c - 1):
        x = sequence[t] * extra_params[0]
        rows = []
        for i in range(layers):
            pre = np.concatenate([x, s[2 * i], x, s[2 * i]])
            gates = pre * main_params[2 * i] + main_params[2 * i + 1]
            act = sigmoid(gates[: 3 * b])
            cell = s[2 * i + 1] * act[:b] + act[b : 2 * b] * np.tanh(gates[3 * b :])
            x = act[2 * b :] * np.tanh(cell)
            rows.append(x)
            rows.append(cell)
        s = np.stack(rows)
        outputs.append(x)
    y = np.stack(outputs) * extra_params[1] + extra_params[2]
    top = np.max(y, axis=1, keepdims=True)
    ynorm = y - top - np.log(np.sum(np.exp(y - top), axis=1, keepdims=True))
    return -np.sum(sequence[1:] * ynorm) / ((c - 1) * b)


def make_lstm(layers, b, c, seed=0):
    """Seeded inputs of ADBench's shapes (its generator draws parameters and state
    uniformly and the sequence from a text, one-hot): (main, extra, state, sequence)."""
    rng = np.random.default_rng(seed)
    main = rng.uniform(-1.0, 1.0, (2 * layers, 4 * b))
    extra = rng.uniform(-1.0, 1.0, (3, b))
    state = rng.uniform(-1.0, 1.0, (2 * layers, b))
    sequence = np.eye(b)[rng.integers(0, b, c)]
    return main, extra, state, sequence
