"""The seeds' networks in matrix form: NumPy forward passes whose gradients
ad_compiler emits as the textbook matrix backpropagation.

    from ad_compiler import grad
    g = grad(tanh_mlp, argnums=(0, 1, 2, 3))   # ∂L/∂W1, ∂L/∂b1, ∂L/∂W2, ∂L/∂b2
    print(g.source)                            # after a first call: the code that ran

From the command line, which never runs this file, say which parameters are
matrices and vectors (an axis of length 1 would broadcast, so it is written 1):

    adc compile samples/networks.py --function tanh_mlp \\
        --shape W1=d,h b1=h W2=h,k b2=k X=n,d Y=n,k

Expected numbers are checked by tests/test_networks.py against hand-written
backpropagation.
"""

import numpy as np


def two_layer_sigmoid(W1, b1, W2, b2, x, c):
    """Seed 003: z = W¹x + b¹, v = σ(z), y = W²v + b², L = ½‖y − c‖².

    Its backward pass, in the seed's words: ∂L/∂y = y − c, ∂L/∂W² = (y − c) vᵀ,
    ∂L/∂v = W²ᵀ(y − c), ∂L/∂z = ∂L/∂v ⊙ σ′(z), ∂L/∂W¹ = ∂L/∂z xᵀ.
    """
    z = W1 @ x + b1
    v = 1.0 / (1.0 + np.exp(-z))
    y = W2 @ v + b2
    return 0.5 * np.sum((y - c) ** 2)


def tanh_mlp(W1, b1, W2, b2, X, Y):
    """Seed 001: a tanh hidden layer, squared loss averaged over the batch.

    Rows of X are examples: H = tanh(X W¹ + b¹), output H W² + b²; the
    hidden-layer error is δ = (δ_out W²ᵀ) ⊙ (1 − H²), as d tanh = 1 − tanh².
    """
    H = np.tanh(X @ W1 + b1)
    out = H @ W2 + b2
    diff = out - Y
    return 0.5 * np.sum(diff * diff) / len(X)


def logistic_regression(w, b, X, y):
    """Mean cross-entropy of p = σ(Xw + b) against labels y in {0, 1}."""
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def softmax_classifier(W, b, X, Y):
    """Softmax cross-entropy of a linear classifier, Y one-hot, written the
    numerically stable way (the row maximum subtracted before exp)."""
    Z = X @ W + b
    Z = Z - np.max(Z, axis=1, keepdims=True)
    log_p = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(Y * log_p) / len(X)
