"""The contenders ``bench_jit.py`` sets against ``jit(grad(f))``, per workload.

* ``hand_*``: reverse gradients written by hand for Numba (a forward sweep into
  a preallocated array, then a reverse sweep), written here for the comparison;
* ``jax_gradients()``: ``jax.jit(jax.grad(...))`` of each workload written the
  way JAX compiles loops (``lax.fori_loop``; ``lax.while_loop`` for Newton,
  which JAX refuses to reverse-differentiate), float64;
* ``torch_gradients()``: each workload run eagerly on float64 tensors (the
  loop in Python, as PyTorch users write it) and ``torch.autograd.grad``; the
  N-body step works on a (3, 2) tensor of positions, the way a PyTorch user
  would vectorise it.

The workloads themselves are in ``samples/scalar_loops.py`` (scalars) and
``benchmarks/handwritten_mlp.py`` (the MLP).  Each contender takes the same
arguments as the Python function and returns its gradient (a tuple for several
inputs).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from handwritten_mlp import mlp_grad_by_hand

# the three bodies' start (samples.scalar_loops.three_body)
P0 = ((1.0, 0.0), (-0.5, 0.8), (-0.5, -0.8))
V0 = ((0.0, 0.5), (-0.45, -0.25), (0.45, -0.25))


@numba.njit
def hand_logistic(r, x0, n):
    xs = np.empty(n)
    x = x0
    for i in range(n):
        xs[i] = x
        x = r * x * (1.0 - x)
    x_bar, r_bar = 1.0, 0.0
    for i in range(n - 1, -1, -1):
        x = xs[i]
        r_bar += x * (1.0 - x) * x_bar
        x_bar = r * (1.0 - 2.0 * x) * x_bar
    return r_bar, x_bar


@numba.njit
def hand_pendulum(theta0, L, n):
    c = 0.001 * 9.81
    ths = np.empty(n)
    th, w = theta0, 0.0
    for i in range(n):
        ths[i] = th
        w = w - c / L * math.sin(th)
        th = th + 0.001 * w
    th_bar, w_bar, L_bar = 1.0, 0.0, 0.0
    for i in range(n - 1, -1, -1):
        w_bar += 0.001 * th_bar  # th = th + dt * w (w: the new w)
        s = math.sin(ths[i])
        L_bar += c / (L * L) * s * w_bar  # w = w - c / L * sin(th)
        th_bar -= c / L * math.cos(ths[i]) * w_bar
    return th_bar, L_bar


@numba.njit
def hand_newton(a):
    xs = []
    x = a
    while abs(x * x - a) > 1e-12:
        xs.append(x)
        x = 0.5 * (x + a / x)
    x_bar, a_bar = 1.0, 0.0
    for i in range(len(xs) - 1, -1, -1):
        x = xs[i]
        a_bar += 0.5 * x_bar / x
        x_bar = 0.5 * x_bar * (1.0 - a / (x * x))
    return a_bar + x_bar


@numba.njit
def hand_three_body(m1, m2, m3, n):
    """Per step, pair (i, j), d = p_j - p_i, r = |d|^2 + eps, k = dt r^-1.5:
    v_i += m_j k d, v_j -= m_i k d; then p += dt v.  Reverse: v̄ += dt p̄;
    m̄_j += k v̄_i.d, m̄_i -= k v̄_j.d; with w = m_j v̄_i - m_i v̄_j,
    d̄ = k (w - 3 (w.d) / r d), p̄_j += d̄, p̄_i -= d̄."""
    dt, eps = 0.001, 0.01
    m = np.array([m1, m2, m3])
    p = np.array(P0)
    v = np.array(V0)
    ps = np.empty((n, 3, 2))
    for s in range(n):
        ps[s] = p
        for i in range(3):
            for j in range(i + 1, 3):
                dx, dy = p[j, 0] - p[i, 0], p[j, 1] - p[i, 1]
                r = dx * dx + dy * dy + eps
                k = dt / (r * math.sqrt(r))
                v[i, 0] += m[j] * k * dx
                v[i, 1] += m[j] * k * dy
                v[j, 0] -= m[i] * k * dx
                v[j, 1] -= m[i] * k * dy
        for i in range(3):
            p[i, 0] += dt * v[i, 0]
            p[i, 1] += dt * v[i, 1]
    p_bar = np.zeros((3, 2))
    p_bar[2, 0], p_bar[2, 1], p_bar[0, 0] = p[2, 1], p[2, 0], 1.0  # x3 y3 + x1
    v_bar, m_bar = np.zeros((3, 2)), np.zeros(3)
    for s in range(n - 1, -1, -1):
        for i in range(3):
            v_bar[i, 0] += dt * p_bar[i, 0]
            v_bar[i, 1] += dt * p_bar[i, 1]
        p = ps[s]
        for i in range(3):
            for j in range(i + 1, 3):
                dx, dy = p[j, 0] - p[i, 0], p[j, 1] - p[i, 1]
                r = dx * dx + dy * dy + eps
                k = dt / (r * math.sqrt(r))
                m_bar[j] += k * (v_bar[i, 0] * dx + v_bar[i, 1] * dy)
                m_bar[i] -= k * (v_bar[j, 0] * dx + v_bar[j, 1] * dy)
                wx = m[j] * v_bar[i, 0] - m[i] * v_bar[j, 0]
                wy = m[j] * v_bar[i, 1] - m[i] * v_bar[j, 1]
                t = 3.0 * (wx * dx + wy * dy) / r
                ddx, ddy = k * (wx - t * dx), k * (wy - t * dy)
                p_bar[j, 0] += ddx
                p_bar[j, 1] += ddy
                p_bar[i, 0] -= ddx
                p_bar[i, 1] -= ddy
    return m_bar[0], m_bar[1], m_bar[2]


hand_mlp = numba.njit(mlp_grad_by_hand)


def jax_gradients() -> dict:
    """name -> jax.jit(jax.grad(...)) of the workload (block_until_ready), or
    {} without jax.  ``compile`` in each: seconds of the first call."""
    try:
        import jax
    except ImportError:
        return {}
    jax.config.update("jax_enable_x64", True)
    from jax import lax
    from jax import numpy as jnp

    def logistic(r, x0, n):
        return lax.fori_loop(0, n, lambda i, x: r * x * (1.0 - x), x0)

    def pendulum(theta0, L, n):
        def step(i, s):
            th, w = s
            w = w - 0.001 * 9.81 / L * jnp.sin(th)
            return th + 0.001 * w, w

        return lax.fori_loop(0, n, step, (theta0, 0.0))[0]

    def newton(a):
        def body(x):
            return 0.5 * (x + a / x)

        return lax.while_loop(lambda x: abs(x * x - a) > 1e-12, body, a)

    def three_body(m1, m2, m3, n):
        m = jnp.stack([m1, m2, m3])

        def step(i, s):
            p, v = s
            d = p[None, :, :] - p[:, None, :]  # d[i, j] = p_j - p_i
            r = jnp.sum(d * d, axis=-1) + 0.01
            k = 0.001 / (r * jnp.sqrt(r))  # (d = 0 on the diagonal)
            v = v + jnp.sum((m[None, :] * k)[:, :, None] * d, axis=1)
            return p + 0.001 * v, v

        p, _ = lax.fori_loop(0, n, step, (jnp.array(P0), jnp.array(V0)))
        return p[2, 0] * p[2, 1] + p[0, 0]

    def mlp(W1, b1, W2, b2, X, Y):
        H = jnp.tanh(X @ W1 + b1)
        diff = H @ W2 + b2 - Y
        return 0.5 * jnp.sum(diff * diff) / len(X)

    def made(f, argnums, static=()):
        g = jax.jit(jax.grad(f, argnums=argnums), static_argnums=static)
        return lambda *args: jax.block_until_ready(g(*args))

    return {
        "logistic": made(logistic, (0, 1), (2,)),
        "pendulum": made(pendulum, (0, 1), (2,)),
        "newton": made(newton, 0),
        "three_body": made(three_body, (0, 1, 2), (3,)),
        "mlp": made(mlp, (0, 1, 2, 3)),
    }


def torch_gradients() -> dict:
    """name -> the workload on float64 tensors then ``torch.autograd.grad``
    (making the leaf tensors is in the call, as a user pays it), or {}."""
    try:
        import torch
    except ImportError:
        return {}
    torch.set_num_threads(1)
    f64 = torch.float64

    def leaves(*values):
        return [torch.tensor(v, dtype=f64, requires_grad=True) for v in values]

    def out(y, xs):
        got = torch.autograd.grad(y, xs)
        return tuple(float(g) for g in got) if len(got) > 1 else float(got[0])

    def logistic(r, x0, n):
        r, x0 = leaves(r, x0)
        x = x0
        for _ in range(n):
            x = r * x * (1.0 - x)
        return out(x, (r, x0))

    def pendulum(theta0, L, n):
        theta0, L = leaves(theta0, L)
        th, w = theta0, 0.0
        for _ in range(n):
            w = w - 0.001 * 9.81 / L * torch.sin(th)
            th = th + 0.001 * w
        return out(th, (theta0, L))

    def newton(a):
        (a,) = leaves(a)
        x = a
        while abs(x * x - a) > 1e-12:
            x = 0.5 * (x + a / x)
        return out(x, (a,))

    def three_body(m1, m2, m3, n):
        ms = leaves(m1, m2, m3)
        m = torch.stack(ms)
        p, v = torch.tensor(P0, dtype=f64), torch.tensor(V0, dtype=f64)
        for _ in range(n):
            d = p[None, :, :] - p[:, None, :]
            r = (d * d).sum(-1) + 0.01
            k = 0.001 / (r * torch.sqrt(r))
            v = v + ((m[None, :] * k)[:, :, None] * d).sum(1)
            p = p + 0.001 * v
        return out(p[2, 0] * p[2, 1] + p[0, 0], ms)

    def mlp(W1, b1, W2, b2, X, Y):
        params = [torch.tensor(a, requires_grad=True) for a in (W1, b1, W2, b2)]
        W1, b1, W2, b2 = params
        H = torch.tanh(torch.from_numpy(X) @ W1 + b1)
        diff = H @ W2 + b2 - torch.from_numpy(Y)
        loss = 0.5 * (diff * diff).sum() / len(X)
        return tuple(g.numpy() for g in torch.autograd.grad(loss, params))

    return {
        "logistic": logistic,
        "pendulum": pendulum,
        "newton": newton,
        "three_body": three_body,
        "mlp": mlp,
    }


def mlp_arguments(batch=32, n_in=64, hidden=128, n_out=10, seed=0) -> tuple:
    """(W1, b1, W2, b2, X, Y) for bench_mlp's ``small`` size, float64."""
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n_in, hidden)) / math.sqrt(n_in),
        rng.standard_normal(hidden) * 0.1,
        rng.standard_normal((hidden, n_out)) / math.sqrt(hidden),
        rng.standard_normal(n_out) * 0.1,
        rng.standard_normal((batch, n_in)),
        rng.standard_normal((batch, n_out)),
    )
