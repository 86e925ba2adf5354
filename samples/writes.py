"""Arrays filled one element per loop iteration, as recurrences are written.

``adc compile samples/writes.py`` emits gradients that write into their arrays
in place (``y[i] = ...``, ``x_bar[i] += ...``): linear in len(x), like the
function itself (see ``benchmarks/bench_writes.py``).
"""

import numpy as np


def squares(x):
    """sum_i x_i^2, one element at a time: the gradient is 2 x."""
    y = np.zeros(len(x))
    for i in range(len(x)):
        y[i] = x[i] * x[i]
    return np.sum(y)


def smooth(x):
    """y_0 = x_0, y_i = y_(i-1) / 2 + x_i (exponential smoothing); sum_i y_i^2."""
    y = np.zeros(len(x))
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = 0.5 * y[i - 1] + x[i]
    return np.sum(y * y)
