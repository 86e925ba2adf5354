"""Functions that build lists whose length is known only at run time (read as
text by the tests of tests/test_runtime_lists.py, in-process and through
`adc compile`): `append` in loops over an array's rows, `range` of a shape,
`while` loops, under an `if`; read inside the loop and after it."""

import numpy as np


def readout(W, h):
    return np.tanh(W @ h)


def update(U, x, h):
    return np.tanh(U @ h + x)


def predict(W, U, inputs):
    h = np.zeros(inputs.shape[1])
    outputs = [readout(W, h)]  # a non-empty start
    for x in inputs:  # the rows of an array: their number known at run time
        h = update(U, x, h)
        outputs.append(readout(W, h))
    return outputs


def rnn_indexed(W, U, inputs, targets):
    logprobs = predict(W, U, inputs)
    total = 0.0
    for t in range(len(logprobs)):
        total = total + np.sum(logprobs[t] * targets[t])
    return total


def rnn_zip(W, U, inputs, targets):
    total = 0.0
    for lp, tg in zip(predict(W, U, inputs), targets):
        total = total + np.sum(lp * tg)
    return total


def rnn_stacked(W, U, inputs, targets):
    return np.sum(np.stack(predict(W, U, inputs)) * targets)


def rnn_summed_and_last(W, U, inputs, targets):
    out = predict(W, U, inputs)
    return np.sum(sum(out) * targets[0]) + np.sum(out[-1] * out[1])


def range_of_a_shape(W, U, inputs, targets):
    hs = []
    h = np.zeros(inputs.shape[1])
    for t in range(inputs.shape[0]):
        h = update(U, inputs[t], h)
        hs.append(h)
    total = 0.0
    for k, v in enumerate(hs):
        total = total + (k + 1) * np.sum(v * targets[k])
    return total + np.sum(np.concatenate(hs))


def while_with_conditional_append(W, U, inputs, targets):
    h = np.zeros(inputs.shape[1])
    hs = []
    t = 0
    while t < inputs.shape[0]:
        h = update(U, inputs[t], h)
        if np.sum(h) > 0.0:
            hs.append(h * 2.0)
        t = t + 1
    hs.append(W @ h)
    total = 0.0
    for v in hs:
        total = total + np.sum(v * v)
    return total


def reads_inside_the_loop(W, U, inputs, targets):
    hs = [np.zeros(inputs.shape[1])]
    for t in range(inputs.shape[0]):
        hs.append(update(U, inputs[t], hs[-1]) + 0.1 * hs[len(hs) - 1])
    return np.sum(hs[-1] * targets[0]) + np.sum(W @ hs[1])


def numbers_and_np_array(W, U, inputs, targets):
    xs = []
    for t in range(inputs.shape[0]):
        xs.append(np.sum(U @ inputs[t]) * W[0, 0])
    i = inputs.shape[0] - 1
    return np.sum(np.array(xs) ** 2) + xs[i] * xs[0]


def scalar_recurrence(x, n):
    xs = [x]
    k = 0
    while k < n:
        xs.append(xs[-1] * x + k)
        k = k + 1
    return sum(xs)


def enumerated_call(W, U, inputs, targets):
    total = 0.0
    for k, lp in enumerate(predict(W, U, inputs), 1):
        total = total + k * np.sum(lp * targets[k - 1])
    return total


def nested_loops_and_negative_indices(w, X):
    xs = [w]
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            xs.append(np.sin(xs[-1] * X[i, j] + w))
        if i > 0:
            xs.append(xs[len(xs) - 2] * w)
    total = 0.0
    for k in range(len(xs)):
        total = total + xs[k] * xs[-1 - k]
    return total


def a_list_made_in_each_iteration(w, X):
    total = 0.0
    for i in range(X.shape[0]):
        ys = []
        for j in range(X.shape[1]):
            ys.append(np.cos(w * X[i, j]))
        total = total + sum(ys) * ys[0]
    return total


def stacked_along_an_axis(W, U, inputs, targets):
    # np.stack(xs, axis=a) of a run-time list: the items' axis a is the new one
    outs = predict(W, U, inputs)
    columns = np.stack(outs, axis=1)  # (d, t + 1)
    last = np.stack(outs, -1)
    return np.sum(columns * targets.T) + np.sum(np.sin(last) * columns)


def zip_and_enumerate_of_arrays(W, U, inputs, targets):
    # the rows of arrays, their number known at run time: zip stops at the shorter
    total = 0.0
    for x, t in zip(inputs, targets):
        total = total + np.sum(np.tanh(W @ x) * t)
    for i, x in enumerate(inputs, 1):
        total = total + i * np.sum(np.sin(U @ x))
    return total + sum(np.sum(U @ x * t) for x, t in zip(inputs, targets))
