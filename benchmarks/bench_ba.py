"""Bundle-adjustment reprojection Jacobian: emitted code against the objective and JAX.

What it measures
----------------
The residual of one observation of the standard AD benchmark's bundle
adjustment (ADBench BA): camera ``cam`` (11 numbers: axis-angle rotation,
centre, focal length, principal point, two radial distortion coefficients),
point ``X`` (3), weight ``w`` (1) and feature ``feat`` (2) give two residuals,

    w * (project(cam, X) - feat)

with ``project`` a Rodrigues rotation of ``X - centre`` (``p + r × p`` when
``r = 0``), division by depth, radial distortion ``1 + k1 ρ² + k2 ρ⁴`` and
scaling by the focal length about the principal point.  The benchmark's
Jacobian is the 2 x 15 block of one observation (∂ residuals / ∂(cam, X, w)).

Two forms, as a user writes them:

(a) ``per observation``: :func:`ba_observation` below, in the natural form
    (small arrays, ``np.cross``, an ``if`` on θ² = 0), called with one
    observation.  Rows: the objective; ``jacfwd``, ``jacrev`` and ``jacobian``
    (the automatic pick: reverse, since 15 inputs > 2 outputs) of
    ``argnums=(0, 1, 2)``, called exactly as a user calls them; with JAX
    installed, ``jax.jit`` of ``jax.jacfwd`` and ``jax.jacrev`` of the same
    function written with ``jax.numpy``.
(b) ``all observations``: :func:`ba_rows`, the same maths on (p, ·) arrays of
    every observation's camera and point rows (``samples/ports/ba.py`` style),
    returning (p, 2) residuals.  ad_compiler has no ``vmap``: the block
    Jacobians (p, 2, 15) come from the dense Jacobian (``jacfwd`` with all
    15 p input directions: O(p²) work and memory) whose diagonal blocks are
    then cut out; JAX gets them from ``jax.jit(jax.vmap(jax.jacfwd(...)))``.

Ratios divide each time by the objective's time of the same form, from the
same run.  Correctness: every Jacobian is compared with JAX's (or, without
JAX, with central differences) at the timing point before timing; one that
differs is reported and not timed.

How it is timed: :func:`_harness.interleaved` (one thread; rounds of every
contender in rotating order; minimum per call over the rounds).  The machine
these numbers come from is shared: rerun before trusting a single figure.

Run as ``python benchmarks/bench_ba.py [--rounds N] [--target-ms MS]
[--rows P] [--json PATH]`` (with ``PYTHONPATH`` at the repository for a
development checkout).  It always exits with status 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _harness  # noqa: E402  (standard library only)

_harness.one_thread()

import argparse  # noqa: E402

import numpy as np  # noqa: E402
from _harness import INSTALL, first_line  # noqa: E402

ARGNUMS = (0, 1, 2)  # cam, X, w: the 15 columns of a block


def ba_observation(cam, X, w, feat):
    """The two weighted reprojection residuals of one observation."""
    rot = cam[0:3]
    p = X - cam[3:6]
    sqtheta = np.dot(rot, rot)
    if sqtheta != 0.0:
        theta = np.sqrt(sqtheta)
        axis = rot / theta
        cos = np.cos(theta)
        sin = np.sin(theta)
        along = np.dot(axis, p) * (1.0 - cos)
        seen = p * cos + np.cross(axis, p) * sin + axis * along
    else:
        seen = p + np.cross(rot, p)
    flat = seen[0:2] / seen[2]
    rsq = np.dot(flat, flat)
    lens = flat * (1.0 + cam[9] * rsq + cam[10] * rsq * rsq)
    return w * (lens * cam[6] + cam[7:9] - feat)


def ba_rows(cams, X, w, feats):
    """The residuals of p observations at once: row i of each argument is
    observation i's camera, point, weight and feature; (p, 2) residuals."""
    rot = cams[:, 0:3]
    p = X - cams[:, 3:6]
    sqtheta = np.sum(rot * rot, axis=1, keepdims=True)
    still = sqtheta == 0.0
    theta = np.sqrt(np.where(still, 1.0, sqtheta))
    axis = rot / theta
    cos, sin = np.cos(theta), np.sin(theta)
    along = np.sum(axis * p, axis=1, keepdims=True) * (1.0 - cos)
    turned = p * cos + np.cross(axis, p) * sin + axis * along
    seen = np.where(still, p + np.cross(rot, p), turned)
    flat = seen[:, 0:2] / seen[:, 2:3]
    rsq = np.sum(flat * flat, axis=1, keepdims=True)
    lens = flat * (1.0 + cams[:, 9:10] * rsq + cams[:, 10:11] * rsq * rsq)
    return w[:, None] * (lens * cams[:, 6:7] + cams[:, 7:9] - feats)


def observation_point(seed=0):
    """One observation: a camera a few units from a point near the origin."""
    rng = np.random.default_rng(seed)
    cam = np.concatenate(
        [
            0.3 * rng.standard_normal(3),
            rng.standard_normal(3) + [0.0, 0.0, -6.0],
            rng.uniform(0.8, 1.2, 1),
            0.1 * rng.standard_normal(2),
            0.01 * rng.standard_normal(2),
        ]
    )
    return (
        cam,
        rng.standard_normal(3),
        float(rng.uniform(0.5, 1.5)),
        0.2 * rng.standard_normal(2),
    )


def rows_point(p, seed=1):
    """p observations, each its own camera row and point row."""
    points = [observation_point(seed + i) for i in range(p)]
    return tuple(np.array([o[j] for o in points]) for j in range(4))


def as_block(parts):
    """A Jacobian's pieces (2, 11), (2, 3), (2,) as one (2, 15) block."""
    cam, X, w = (np.asarray(b) for b in parts)
    return np.concatenate([cam, X, w.reshape(2, 1)], axis=1)


def rows_blocks(parts):
    """The dense Jacobian of ba_rows ((p, 2, p, 11), (p, 2, p, 3), (p, 2, p))
    cut down to the blocks of each observation: (p, 2, 15)."""
    cam, X, w = (np.asarray(b) for b in parts)
    i = np.arange(cam.shape[0])
    return np.concatenate(
        [cam[i, :, i], X[i, :, i], w[i, :, i][:, :, None]], axis=2
    )  # (p, 2, 11) ... fancy indexing puts i first


def finite_differences(f, args, h=1e-6):
    """The (2, 15) block by central differences (the check without JAX)."""
    cols = []
    for argnum in ARGNUMS:
        x = np.atleast_1d(np.asarray(args[argnum], dtype=float))
        for j in range(x.size):
            up, down = x.copy(), x.copy()
            up[j] += h
            down[j] -= h
            fix = (lambda v: v) if np.ndim(args[argnum]) else (lambda v: float(v[0]))
            a_up, a_down = list(args), list(args)
            a_up[argnum], a_down[argnum] = fix(up), fix(down)
            cols.append((np.asarray(f(*a_up)) - np.asarray(f(*a_down))) / (2 * h))
    return np.stack(cols, axis=1)


def jax_versions(jax, jnp):
    """``ba_observation`` and ``ba_rows`` written with jax.numpy."""

    def observation(cam, X, w, feat):
        rot = cam[0:3]
        p = X - cam[3:6]
        sqtheta = jnp.dot(rot, rot)
        theta = jnp.sqrt(jnp.where(sqtheta == 0.0, 1.0, sqtheta))
        axis = rot / theta
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        along = jnp.dot(axis, p) * (1.0 - cos)
        turned = p * cos + jnp.cross(axis, p) * sin + axis * along
        seen = jnp.where(sqtheta == 0.0, p + jnp.cross(rot, p), turned)
        flat = seen[0:2] / seen[2]
        rsq = jnp.dot(flat, flat)
        lens = flat * (1.0 + cam[9] * rsq + cam[10] * rsq * rsq)
        return w * (lens * cam[6] + cam[7:9] - feat)

    return observation


def block_of_jax(parts):
    return as_block([np.asarray(b) for b in parts])


def check(label, got, want, notes, rtol=1e-7, atol=1e-9):
    """Whether ``got`` matches ``want``; a note when it does not."""
    if np.shape(got) == np.shape(want) and np.allclose(got, want, rtol=rtol, atol=atol):
        return True
    diff = (
        np.max(np.abs(np.asarray(got) - np.asarray(want)))
        if np.shape(got) == np.shape(want)
        else "shape"
    )
    notes.append(f"{label}: Jacobian differs from the reference ({diff}); not timed")
    return False


def part_a(jaxmod, rounds, target_s, notes):
    """Per observation: objective, jacfwd, jacrev, jacobian, JAX."""
    from ad_compiler import jacfwd, jacobian, jacrev

    point = observation_point()
    jac = jacobian(ba_observation, argnums=ARGNUMS)
    ours = {
        "jacfwd": jacfwd(ba_observation, argnums=ARGNUMS),
        "jacrev": jacrev(ba_observation, argnums=ARGNUMS),
        "jacobian": jac,
    }
    candidates = {"objective": (ba_observation, point)}
    if jaxmod is not None:
        jax, jnp = jaxmod
        obs = jax_versions(jax, jnp)
        jpoint = tuple(jnp.asarray(a, dtype=jnp.float64) for a in point)
        fwd = jax.jit(jax.jacfwd(obs, argnums=ARGNUMS))
        rev = jax.jit(jax.jacrev(obs, argnums=ARGNUMS))
        reference = block_of_jax(fwd(*jpoint))
        for label, fn in (("jax.jit(jacfwd)", fwd), ("jax.jit(jacrev)", rev)):
            call = lambda *a, fn=fn: jax.block_until_ready(fn(*a))  # noqa: E731
            if check(label, block_of_jax(call(*jpoint)), reference, notes):
                candidates[label] = (call, jpoint)
    else:
        reference = finite_differences(ba_observation, point)
        notes.append(f"jax not installed ({INSTALL}): checked by central differences")
    for label, fn in ours.items():
        try:
            block = as_block(fn(*point))
        except Exception as exc:  # noqa: BLE001 -- a row of its own, not a crash
            notes.append(f"{label}: not available ({first_line(exc)})")
            continue
        tol = {} if jaxmod is not None else {"rtol": 1e-5, "atol": 1e-7}
        if check(label, block, reference, notes, **tol):
            candidates[label] = (fn, point)
    best, n = _harness.interleaved(candidates, rounds, target_s)
    return best, n, jac.mode


def part_b(p, jaxmod, rounds, target_s, notes):
    """All observations at once: the objective, the dense jacfwd cut to blocks, JAX's vmap."""
    from ad_compiler import jacfwd

    point = rows_point(p)
    dense = jacfwd(ba_rows, argnums=ARGNUMS)

    def ours(*args):
        return rows_blocks(dense(*args))

    candidates = {"objective": (ba_rows, point)}
    want = np.stack(
        [
            as_block(jacfwd(ba_observation, argnums=ARGNUMS)(*(a[i] for a in point)))
            for i in range(p)
        ]
    )
    if jaxmod is not None:
        jax, jnp = jaxmod
        obs = jax_versions(jax, jnp)
        blocks = jax.jit(jax.vmap(jax.jacfwd(obs, argnums=ARGNUMS)))
        jpoint = tuple(jnp.asarray(a, dtype=jnp.float64) for a in point)
        call = lambda *a: jax.block_until_ready(blocks(*a))  # noqa: E731
        if check(
            "jax.jit(vmap(jacfwd))",
            np.concatenate(
                [
                    np.asarray(call(*jpoint)[0]),
                    np.asarray(call(*jpoint)[1]),
                    np.asarray(call(*jpoint)[2])[:, :, None],
                ],
                axis=2,
            ),
            want,
            notes,
        ):
            candidates["jax.jit(vmap(jacfwd))"] = (call, jpoint)
    if check("jacfwd dense, blocks cut out", ours(*point), want, notes):
        candidates["jacfwd dense, blocks cut out"] = (ours, point)
    best, n = _harness.interleaved(candidates, rounds, target_s)
    return best, n


def table(title, best, base="objective"):
    print(f"\n{title}")
    print(f"{'':34s}{'us/call':>12s}{'/ objective':>14s}")
    for label, t in best.items():
        print(f"{label:34s}{t * 1e6:12.1f}{t / best[base]:14.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--target-ms", type=float, default=20.0)
    parser.add_argument("--rows", type=int, default=64, help="p of (b); 0: no (b)")
    parser.add_argument("--json", help="write the timings here")
    args = parser.parse_args(argv)
    notes: list[str] = []
    jaxmod = _harness.import_jax()
    print(_harness.python_line(_harness.versions(["numpy", "jax", "jaxlib"])))
    target = args.target_ms / 1000
    best_a, n_a, mode = part_a(jaxmod, args.rounds, target, notes)
    table(
        f"(a) one observation, 2 x 15 block; minimum of {n_a} rounds; "
        f"jacobian picked {mode} mode",
        best_a,
    )
    best_b: dict = {}
    if args.rows:
        best_b, n_b = part_b(args.rows, jaxmod, args.rounds, target, notes)
        table(
            f"(b) p = {args.rows} observations, (p, 2, 15) blocks; "
            f"minimum of {n_b} rounds",
            best_b,
        )
    for note in notes:
        print("note:", note)
    if args.json:
        _harness.write_json(
            args.json,
            {
                "per_observation": best_a,
                "mode": mode,
                "rows": args.rows,
                "all_observations": best_b,
            },
        )


if __name__ == "__main__":
    main()
