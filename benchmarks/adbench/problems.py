"""The cases run.py times: per problem and size, the objectives and the derivatives.

A :class:`Case` is one problem at one size.  It holds

* ``objectives``: label -> (fn, args), each an evaluation of the objective by
  one tool in one form (``numpy loop``, ``numpy vec``, ``jax.jit``, ``torch``);
* ``derivatives``: a list of :class:`Derivative`, each a tool's gradient or
  Jacobian, the objective label its ratio divides by, and how to turn what it
  returns into the problem's canonical tuple of NumPy arrays (the same for every
  tool, so they can be compared);
* ``wrt`` and ``value``: the differentiated inputs and the objective (vectorised
  NumPy form) as a function of them, and ``contract(derivative, directions)``,
  the derivative applied to directions: run.py checks it against central
  differences of ``value`` along random directions.

Builders take the sizes and the optional libraries (None when not installed).
"""

from dataclasses import dataclass, field

import ba
import gmm
import hand
import lstm
import numpy as np
from fill import fill, make_fill
from ports import jax_lstm, on, torch_ba, torch_gmm, torch_lstm

from ad_compiler import grad, jacfwd, jacobian, jacrev, vjp


@dataclass
class Derivative:
    tool: str  # e.g. "ad_compiler grad", "jax.jit(grad)"
    form: str  # "loop" or "vec"
    fn: object
    args: tuple
    objective: str  # the label in Case.objectives its ratio divides by
    canonical: object = None  # what fn returns -> tuple of NumPy arrays


@dataclass
class Case:
    problem: str
    size: str
    work: float  # a measure of the size, the plots' x axis
    objectives: dict
    derivatives: list
    wrt: tuple
    value: object
    contract: object
    memory: bool = False  # also measure peak memory (tracemalloc)
    inputs_bytes: int = 0
    notes: list = field(default_factory=list)


def as_numpy(tree):
    """A tuple of float64 NumPy arrays from a result of any tool."""
    if isinstance(tree, (tuple, list)):
        return tuple(np.asarray(_plain(t), dtype=float) for t in tree)
    return (np.asarray(_plain(tree), dtype=float),)


def _plain(value):
    detach = getattr(value, "detach", None)  # torch tensors
    return detach().numpy() if detach is not None else value


def dot_all(derivative, directions):
    """Σ over the parts of a gradient of <g_j, v_j>."""
    return sum(float(np.sum(g * v)) for g, v in zip(derivative, directions))


def _torch_grad(torch, loss, tensors, rest):
    """A PyTorch gradient of ``loss`` in ``tensors``: forward and backward."""

    def run():
        leaves = [t.detach().requires_grad_() for t in tensors]
        return torch.autograd.grad(loss(*leaves, *rest), leaves)

    return run


def _torch_objective(torch, loss, args):
    def run():
        with torch.no_grad():
            return loss(*args)

    return run


def gmm_case(n, d, k, libs):
    alphas, means, icf, x, gamma, m = gmm.make_gmm(n, d, k)
    const = gmm.wishart_constant(d, k, gamma, m)
    tri = gmm.lower_index(d)
    loop_args = (alphas, means, icf, x, gamma, m, const)
    vec_args = loop_args + (tri,)
    case = Case(
        "GMM",
        f"d={d} k={k} n={n}",
        n * k * d * d,
        {"numpy loop": (gmm.gmm_loop, loop_args), "numpy vec": (gmm.gmm_vec, vec_args)},
        [
            Derivative(
                "ad_compiler grad",
                "loop",
                grad(gmm.gmm_loop, argnums=(0, 1, 2)),
                loop_args,
                "numpy loop",
            ),
            Derivative(
                "ad_compiler grad",
                "vec",
                grad(gmm.gmm_vec, argnums=(0, 1, 2)),
                vec_args,
                "numpy vec",
            ),
            Derivative("hand-written", "vec", gmm.gmm_grad_hand, vec_args, "numpy vec"),
        ],
        (alphas, means, icf),
        lambda a, mu, q: gmm.gmm_vec(a, mu, q, *vec_args[3:]),
        dot_all,
        memory=True,
        inputs_bytes=sum(v.nbytes for v in (alphas, means, icf, x)),
    )
    jax = libs.get("jax")
    if jax is not None:
        jnp = jax.numpy
        f = on(gmm.gmm_vec, jnp)
        jargs = tuple(
            jnp.asarray(v) if isinstance(v, np.ndarray) else v for v in vec_args
        )
        case.objectives["jax.jit"] = (jax.jit(f), jargs)
        case.derivatives.append(
            Derivative(
                "jax.jit(grad)",
                "vec",
                jax.jit(jax.grad(f, (0, 1, 2))),
                jargs,
                "jax.jit",
            )
        )
    autograd = libs.get("autograd")
    if autograd is not None:
        g = autograd.grad(on(gmm.gmm_vec, autograd.numpy), (0, 1, 2))
        case.derivatives.append(Derivative("autograd", "vec", g, vec_args, "numpy vec"))
    torch = libs.get("torch")
    if torch is not None:
        f = torch_gmm(torch)
        t = tuple(
            torch.from_numpy(v) if isinstance(v, np.ndarray) else v for v in vec_args
        )
        case.objectives["torch"] = (_torch_objective(torch, f, t), ())
        case.derivatives.append(
            Derivative(
                "torch.autograd",
                "vec",
                _torch_grad(torch, f, t[:3], t[3:]),
                (),
                "torch",
            )
        )
    return case


def lstm_case(layers, b, c, libs):
    args = lstm.make_lstm(layers, b, c)
    main, extra, state, sequence = args
    case = Case(
        "LSTM",
        f"l={layers} b={b} c={c}",
        layers * b * c,
        {"numpy loop": (lstm.lstm_loop, args), "numpy vec": (lstm.lstm_vec, args)},
        [
            Derivative(
                "ad_compiler grad",
                "loop",
                grad(lstm.lstm_loop, argnums=(0, 1)),
                args,
                "numpy loop",
            ),
            Derivative(
                "ad_compiler grad",
                "vec",
                grad(lstm.lstm_vec, argnums=(0, 1)),
                args,
                "numpy vec",
            ),
        ],
        (main, extra),
        lambda mp, ep: lstm.lstm_vec(mp, ep, state, sequence),
        dot_all,
    )
    jax = libs.get("jax")
    if jax is not None:
        f = jax_lstm(jax, jax.numpy)
        jargs = tuple(jax.numpy.asarray(v) for v in args)
        case.objectives["jax.jit"] = (jax.jit(f), jargs)
        case.derivatives.append(
            Derivative(
                "jax.jit(grad), lax.scan",
                "vec",
                jax.jit(jax.grad(f, (0, 1))),
                jargs,
                "jax.jit",
            )
        )
    autograd = libs.get("autograd")
    if autograd is not None and c > 256:
        case.notes.append(
            "autograd's LSTM gradient is run at c = 256 only: in a trial run its"
            " time grew much faster than c (tens of seconds a call at c = 1024)"
        )
    elif autograd is not None:
        g = autograd.grad(on(lstm.lstm_vec, autograd.numpy), (0, 1))
        case.derivatives.append(Derivative("autograd", "vec", g, args, "numpy vec"))
    torch = libs.get("torch")
    if torch is not None:
        f = torch_lstm(torch)
        t = tuple(torch.from_numpy(v) for v in args)
        case.objectives["torch"] = (_torch_objective(torch, f, t), ())
        case.derivatives.append(
            Derivative(
                "torch.autograd",
                "vec",
                _torch_grad(torch, f, t[:2], t[2:]),
                (),
                "torch",
            )
        )
    return case


def blocks_by_observation(jac, cams, X, w, obs, feats):
    """The (p, 2, 15) blocks of the BA Jacobian, one call of ``jac`` (a Jacobian
    of ``reproj_error``) per observation, as ADBench computes them."""
    p = obs.shape[0]
    J = np.empty((p, 2, 15))
    for i in range(p):
        j_cam, j_X, j_w = jac(cams[obs[i, 0]], X[obs[i, 1]], w[i], feats[i])
        J[i, :, :11] = j_cam
        J[i, :, 11:14] = j_X
        J[i, :, 14] = j_w
    return J


def blocks_by_seeds(delta, rows, feats):
    """The (p, 2, 15) blocks of the BA Jacobian in two reverse sweeps of
    ``ba_vec``: every error row depends on its own input row only, so the
    adjoint of ``rows`` under the seed "1 in column j of every row" holds
    d err[i, j] / d rows[i] in its row i (a compressed Jacobian, by rows)."""
    _, pullback = vjp(ba.ba_vec, delta, rows, feats)
    p = rows.shape[0]
    J = np.empty((p, 2, 15))
    for j in range(2):
        seed = np.zeros((p, 2))
        seed[:, j] = 1.0
        J[:, j, :] = pullback(seed)[1]
    return J


LOOP_BA_MAX = 5000  # observations: the loop form's Jacobian is p calls


def ba_case(n, m, p, libs):
    cams, X, w, obs, feats = ba.make_ba(n, m, p)
    rows = ba.gather_rows(cams, X, w, obs)
    zero = np.zeros(15)
    natural = (cams, X, w, obs, feats)
    case = Case(
        "BA",
        f"n={n} m={m} p={p}",
        p,
        {
            "numpy loop": (ba.ba_loop, natural),
            "numpy vec": (ba.ba_vec, (zero, rows, feats)),
        },
        [],
        (zero,),
        lambda delta: ba.ba_vec(delta, rows, feats),
        lambda J, v: J[0] @ v[0],
    )
    modes = (("jacfwd", jacfwd), ("jacrev", jacrev), ("jacobian", jacobian))
    if p > LOOP_BA_MAX:
        modes = ()
        del case.objectives["numpy loop"]
        case.notes.append(
            f"BA's loop form is run up to p = {LOOP_BA_MAX} observations: its"
            " Jacobian is one call per observation: minutes a call at ADBench's"
            " ba1"
        )
    for name, make in modes:
        jac = make(ba.reproj_error, argnums=(0, 1, 2))
        case.derivatives.append(
            Derivative(
                f"ad_compiler {name}",
                "loop",
                blocks_by_observation,
                (jac,) + natural,
                "numpy loop",
            )
        )
    for name, make in (("jacfwd", jacfwd), ("jacobian", jacobian)):
        case.derivatives.append(
            Derivative(
                f"ad_compiler {name}",
                "vec",
                make(ba.ba_vec),
                (zero, rows, feats),
                "numpy vec",
            )
        )
    case.derivatives.append(
        Derivative(
            "ad_compiler vjp, 2 seeds",
            "vec",
            blocks_by_seeds,
            (zero, rows, feats),
            "numpy vec",
        )
    )
    case.notes.append(
        "BA: ad_compiler jacrev of the vec form is not run: 2p output seeds"
        " of (p, 15) adjoints each, O(p²) memory"
    )
    jax = libs.get("jax")
    if jax is not None:
        jnp = jax.numpy
        f = on(ba.ba_vec, jnp)

        def one(q, feat):
            return f(jnp.zeros(15), q[None, :], feat[None, :])[0]

        jargs = (jnp.asarray(zero), jnp.asarray(rows), jnp.asarray(feats))
        case.objectives["jax.jit"] = (jax.jit(f), jargs)

        def seeded(rows_j, feats_j):  # blocks_by_seeds in JAX
            _, pullback = jax.vjp(lambda r: f(jnp.zeros(15), r, feats_j), rows_j)
            seeds = jnp.eye(2)[:, None, :] * jnp.ones((rows_j.shape[0], 1))
            return jnp.stack([pullback(s)[0] for s in seeds], axis=1)

        case.derivatives.append(
            Derivative(
                "jax.jit(vjp, 2 seeds)", "vec", jax.jit(seeded), jargs[1:], "jax.jit"
            )
        )
        for name, make in (("jacfwd", jax.jacfwd), ("jacrev", jax.jacrev)):
            J = jax.jit(jax.vmap(make(one)))
            case.derivatives.append(
                Derivative(f"jax.jit(vmap({name}))", "vec", J, jargs[1:], "jax.jit")
            )
    torch = libs.get("torch")
    if torch is not None:
        tf = torch_ba(torch)
        t = tuple(torch.from_numpy(v) for v in (zero, rows, feats))

        def one_t(q, feat):
            return tf(torch.zeros(15, dtype=q.dtype), q[None, :], feat[None, :])[0]

        case.objectives["torch"] = (_torch_objective(torch, tf, t), ())
        for name in ("jacfwd", "jacrev"):
            J = torch.func.vmap(getattr(torch.func, name)(one_t))
            case.derivatives.append(
                Derivative(f"torch.func vmap({name})", "vec", J, t[1:], "torch")
            )
    return case


REVERSE_HAND_MAX = 1000  # output rows (3 per point) for jacrev of Hand


def hand_case(npoints, complicated, libs):
    theta, model, points, corr, tris, us = hand.make_hand(npoints)
    joints, depth = hand.finger_joints(), hand.tree_depth(model[0])
    du = np.zeros(2)
    if complicated:
        loop_f, vec_f = hand.hand_complicated_loop, hand.hand_complicated_vec
        loop_args = (theta, du, *model, points, tris, us)
        wrt, argnums = (theta, du), (0, 1)

        def value(t, d):
            return vec_f(t, d, *model, points, tris, us, joints, depth)

        def contract(J, v):
            return J[0] @ v[0] + J[1] @ v[1]

    else:
        loop_f, vec_f = hand.hand_loop, hand.hand_vec
        loop_args = (theta, *model, points, corr)
        wrt, argnums = (theta,), 0

        def value(t):
            return vec_f(t, *model, points, corr, joints, depth)

        def contract(J, v):
            return J[0] @ v[0]

    vec_args = loop_args + (joints, depth)
    name = "Hand complicated" if complicated else "Hand simple"
    case = Case(
        name,
        f"n={npoints}",
        npoints,
        {"numpy loop": (loop_f, loop_args), "numpy vec": (vec_f, vec_args)},
        [],
        wrt,
        value,
        contract,
    )
    modes = (("jacfwd", jacfwd), ("jacrev", jacrev), ("jacobian", jacobian))
    if 3 * npoints > REVERSE_HAND_MAX:
        modes = (modes[0], modes[2])
        case.notes.append(
            f"Hand: jacrev (ours and JAX's) is run up to {REVERSE_HAND_MAX} output"
            " rows only: beyond, it is one reverse sweep per row, and ours through"
            " the loop form's row writes took minutes a call in a trial run"
        )
    for form, f, args in (("loop", loop_f, loop_args), ("vec", vec_f, vec_args)):
        for label, make in modes:
            case.derivatives.append(
                Derivative(
                    f"ad_compiler {label}",
                    form,
                    make(f, argnums=argnums),
                    args,
                    f"numpy {form}",
                )
            )
    jax = libs.get("jax")
    if jax is not None:
        jnp = jax.numpy
        f = on(vec_f, jnp)
        statics = len(vec_args) - 1  # depth: a Python int the loop runs over
        jargs = tuple(jnp.asarray(a) for a in vec_args[:-1]) + (depth,)
        case.objectives["jax.jit"] = (jax.jit(f, static_argnums=statics), jargs)
        jax_modes = (("jacfwd", jax.jacfwd), ("jacrev", jax.jacrev))
        for label, make in jax_modes[: 1 if 3 * npoints > REVERSE_HAND_MAX else 2]:
            J = jax.jit(make(f, argnums=argnums), static_argnums=statics)
            case.derivatives.append(
                Derivative(f"jax.jit({label})", "vec", J, jargs, "jax.jit")
            )
    return case


def fill_cases(sizes):
    """(n, objective (fn, args), gradient (fn, args)) per size of the fill loop."""
    g = grad(fill, argnums=(0, 1))
    out = []
    for n in sizes:
        args = make_fill(n)
        out.append((n, (fill, args), (g, args)))
    return out
