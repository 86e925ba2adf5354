"""The peers' versions of the objectives: JAX, PyTorch and autograd.

JAX and autograd run the vectorised NumPy forms themselves: :func:`on`
makes a copy of such a function whose global ``np`` is ``jax.numpy`` or
``autograd.numpy`` (the forms are written without writes into arrays, so the
same lines trace).  LSTM under JAX is written with ``lax.scan`` (a Python time
loop would unroll into one large trace), and the PyTorch versions are written
here with ``torch`` functions.  Every builder returns ``None`` when its library
is not installed.
"""

import importlib
import math
import types


def available(name):
    """The module ``name``, or None if it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def on(fn, namespace):
    """A copy of ``fn`` whose global ``np`` is ``namespace``, and so are those of
    the functions of its own module that it calls (recursively)."""
    scope = dict(fn.__globals__)
    scope["np"] = namespace
    for name in fn.__code__.co_names:
        helper = fn.__globals__.get(name)
        if (
            isinstance(helper, types.FunctionType)
            and helper is not fn
            and helper.__module__ == fn.__module__
        ):
            scope[name] = on(helper, namespace)
    return types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__)


# --------------------------------------------------------------------------
# JAX
# --------------------------------------------------------------------------


def jax_lstm(jax, jnp):
    """The LSTM loss with ``lax.scan`` over the steps (same maths as lstm_vec)."""

    def step(carry, pair):
        s, main, extra = carry
        x_t, gold = pair
        b = x_t.shape[0]
        x = x_t * extra[0]
        rows = []
        for i in range(main.shape[0] // 2):
            pre = jnp.concatenate([x, s[2 * i], x, s[2 * i]])
            gates = pre * main[2 * i] + main[2 * i + 1]
            act = 1.0 / (1.0 + jnp.exp(-gates[: 3 * b]))
            cell = s[2 * i + 1] * act[:b] + act[b : 2 * b] * jnp.tanh(gates[3 * b :])
            x = act[2 * b :] * jnp.tanh(cell)
            rows += [x, cell]
        y = x * extra[1] + extra[2]
        ynorm = y - jax.scipy.special.logsumexp(y)
        return (jnp.stack(rows), main, extra), jnp.sum(gold * ynorm)

    def loss(main, extra, state, sequence):
        c, b = sequence.shape
        _, terms = jax.lax.scan(
            step, (state, main, extra), (sequence[:-1], sequence[1:])
        )
        return -jnp.sum(terms) / ((c - 1) * b)

    return loss


# --------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------


def torch_gmm(torch):
    """gmm_vec in torch."""

    def objective(alphas, means, icf, x, gamma, m, const, tri):
        n, d = x.shape
        k = alphas.shape[0]
        logdiag = icf[:, :d]
        diag = torch.exp(logdiag)
        sum_qs = torch.sum(logdiag, 1)
        padded = torch.cat([torch.zeros(k, 1, dtype=icf.dtype), icf[:, d:]], 1)
        L = padded[:, tri].reshape(k, d, d)
        xc = x[:, None, :] - means[None, :, :]
        z = diag[None] * xc + torch.einsum("cij,ncj->nci", L, xc)
        inner = alphas[None] + sum_qs[None] - 0.5 * torch.sum(z * z, 2)
        prior = torch.sum(
            0.5 * gamma**2 * (torch.sum(diag**2, 1) + torch.sum(icf[:, d:] ** 2, 1))
            - m * sum_qs
        )
        return (
            torch.sum(torch.logsumexp(inner, 1))
            - n * torch.logsumexp(alphas, 0)
            - 0.5 * n * d * math.log(2.0 * math.pi)
            + prior
            + const
        )

    return objective


def torch_lstm(torch):
    """The LSTM loss in torch, a Python loop over the steps."""

    def loss(main, extra, state, sequence):
        c, b = sequence.shape
        s = [state[i] for i in range(state.shape[0])]
        total = 0.0
        for t in range(c - 1):
            x = sequence[t] * extra[0]
            for i in range(main.shape[0] // 2):
                pre = torch.cat([x, s[2 * i], x, s[2 * i]])
                gates = pre * main[2 * i] + main[2 * i + 1]
                act = torch.sigmoid(gates[: 3 * b])
                cell = s[2 * i + 1] * act[:b] + act[b : 2 * b] * torch.tanh(
                    gates[3 * b :]
                )
                x = act[2 * b :] * torch.tanh(cell)
                s[2 * i], s[2 * i + 1] = x, cell
            y = x * extra[1] + extra[2]
            total = total + torch.sum(sequence[t + 1] * (y - torch.logsumexp(y, 0)))
        return -total / ((c - 1) * b)

    return loss


def torch_ba(torch):
    """ba_vec in torch (delta, rows, feats) -> (p, 2)."""

    def errors(delta, rows, feats):
        q = rows + delta
        rot = q[:, 0:3]
        P = q[:, 11:14] - q[:, 3:6]
        sqtheta = torch.sum(rot * rot, 1, keepdim=True)
        still = sqtheta == 0.0
        theta = torch.sqrt(torch.where(still, torch.ones_like(sqtheta), sqtheta))
        axis = rot / theta
        cos = torch.cos(theta)
        along = torch.sum(axis * P, 1, keepdim=True) * (1.0 - cos)
        turned = P * cos + torch.linalg.cross(axis, P) * torch.sin(theta) + axis * along
        seen = torch.where(still, P + torch.linalg.cross(rot, P), turned)
        flat = seen[:, :2] / seen[:, 2:3]
        rsq = torch.sum(flat * flat, 1, keepdim=True)
        radial = 1.0 + q[:, 9:10] * rsq + q[:, 10:11] * rsq * rsq
        image = flat * radial * q[:, 6:7] + q[:, 7:9]
        return q[:, 14:15] * (image - feats)

    return errors
