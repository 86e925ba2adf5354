"""A two-layer tanh MLP with squared loss, and its hand-written NumPy gradient.

``mlp_loss`` is the function ``bench_mlp.py`` differentiates (float64
everywhere); ``mlp_grad_by_hand`` is the textbook matrix backpropagation a good
NumPy programmer writes for it: the hidden activations ``H`` are computed once
and reused, weight gradients are ``A.T @ dout`` products, bias gradients are
column sums, and tanh's derivative is ``1 - H*H``.  It returns
``(dW1, db1, dW2, db2)``, which is what ``grad(mlp_loss, argnums=(0, 1, 2, 3))``
returns.

Shapes: ``X`` is (batch, n_in), ``W1`` (n_in, n_hidden), ``b1`` (n_hidden,),
``W2`` (n_hidden, n_out), ``b2`` (n_out,), ``Y`` (batch, n_out).
"""

import numpy as np


def mlp_loss(W1, b1, W2, b2, X, Y):
    H = np.tanh(X @ W1 + b1)
    out = H @ W2 + b2
    diff = out - Y
    return 0.5 * np.sum(diff * diff) / len(X)


def mlp_grad_by_hand(W1, b1, W2, b2, X, Y):
    """Gradient of ``mlp_loss`` with respect to W1, b1, W2, b2."""
    H = np.tanh(X @ W1 + b1)
    dout = (H @ W2 + b2 - Y) / len(X)  # d loss / d out
    dW2 = H.T @ dout
    db2 = dout.sum(axis=0)
    dZ = (dout @ W2.T) * (1.0 - H * H)  # back through tanh
    dW1 = X.T @ dZ
    db1 = dZ.sum(axis=0)
    return dW1, db1, dW2, db2
