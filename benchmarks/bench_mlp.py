"""Gradient of a two-layer tanh MLP: ad_compiler against hand-written NumPy and the AD libraries.

What it measures
----------------
The function is ``mlp_loss`` in ``benchmarks/handwritten_mlp.py``: a two-layer
tanh MLP with squared loss, float64 throughout::

    H = np.tanh(X @ W1 + b1)
    out = H @ W2 + b2
    diff = out - Y
    return 0.5 * np.sum(diff * diff) / len(X)

at two sizes, ``small`` (batch 32, 64 -> 128 -> 10) and ``large`` (batch 256,
512 -> 512 -> 10).  At each size it times, side by side in one run, one call of

* ``numpy forward`` -- ``mlp_loss`` itself, the reference (ratio 1.0);
* ``hand-written``  -- ``mlp_grad_by_hand``, textbook matrix backprop in NumPy;
* ``ad_compiler``   -- ``g = grad(mlp_loss, argnums=(0, 1, 2, 3))``, then
  ``g(W1, b1, W2, b2, X, Y)``, exactly as a user calls it;
* ``jax.grad``      -- ``jax.grad(loss, argnums=(0, 1, 2, 3))`` without jit,
  on JAX arrays, with ``jax.block_until_ready`` on the result;
* ``jax.jit(grad)`` -- the same under ``jax.jit`` (compiled before timing);
* ``autograd``      -- ``autograd.grad(loss, argnum=(0, 1, 2, 3))`` on NumPy arrays;
* ``torch``         -- the forward pass on float64 tensors (the parameters with
  ``requires_grad``) followed by ``torch.autograd.grad(loss, params)``: the
  forward is inside the timed region because a PyTorch user pays for it to get
  a gradient (``autograd.grad`` also leaves no ``.grad`` to zero between calls).

The JAX, autograd and PyTorch losses are the same four lines with ``np``
replaced by ``jax.numpy``, ``autograd.numpy`` or ``torch``.  Every contender
returns ``(dW1, db1, dW2, db2)``; the inputs are converted to each library's
array type once, before timing.  A library that is not installed is skipped
with a note (``pip install -e '.[bench]'`` installs them all).  If ad_compiler
cannot import, compile or run the gradient (array support is work in
progress), its row says ``not available`` with the first line of the error,
and the rest of the benchmark goes on.

One thread for everyone: ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` are set to 1 and ``XLA_FLAGS`` to a single-threaded XLA CPU
backend before NumPy is imported, and ``torch.set_num_threads(1)`` is called.

Correctness gate
----------------
The hand-written gradient is first checked against central finite differences
of ``mlp_loss`` (step 1e-5) on a few entries of every parameter, to
1e-6 relative plus 1e-8 absolute error; if it fails, nothing is timed.
Then every other contender's gradient is compared with the hand-written one
(``np.allclose``, rtol 1e-9, atol 1e-12, shapes too) at the timing point; a
contender that disagrees is reported with its largest difference and not timed.

How it is timed
---------------
With :mod:`timeit` (garbage collection off): every contender is warmed up
(JAX compiles, PyTorch allocates), its loop count is calibrated to about
``--target-ms`` per measurement (at least one call), then ``--rounds`` rounds
are run, each round timing every contender once in a rotating order, so a burst
of load on this shared machine hits all of them alike.  The figure reported is
the minimum over the rounds, in microseconds per call; the ratios divide it by
the NumPy forward pass's and by the hand-written gradient's.

Run as ``python benchmarks/bench_mlp.py [--quick] [--sizes small|large|both]
[--rounds N] [--target-ms MS] [--json PATH]``.  It always exits with status 0.
It is a plain script, not a test: neither pytest nor CI runs it.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _harness  # noqa: E402  (standard library only: NumPy is not imported yet)

# One thread everywhere, set before NumPy (and so its BLAS) is imported.
_harness.one_thread()

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402

import numpy as np  # noqa: E402
from _harness import INSTALL, first_line, is_ad_error, raised_at  # noqa: E402
from handwritten_mlp import mlp_grad_by_hand, mlp_loss  # noqa: E402

# name -> (batch, n_in, n_hidden, n_out)
SIZES = {"small": (32, 64, 128, 10), "large": (256, 512, 512, 10)}
RTOL, ATOL = 1e-9, 1e-12  # contender against hand-written
FD_REL, FD_ABS = 1e-6, 1e-8  # hand-written against central differences, h = 1e-5

FORWARD, HAND, EMITTED = "numpy forward", "hand-written", "ad_compiler"
JAX, JAX_JIT, AUTOGRAD, TORCH = "jax.grad", "jax.jit(grad)", "autograd", "torch"
ORDER = [FORWARD, HAND, EMITTED, JAX, JAX_JIT, AUTOGRAD, TORCH]


def loss_in(xp):
    """``mlp_loss`` written against the array module ``xp`` (jax.numpy, torch...)."""

    def loss(W1, b1, W2, b2, X, Y):
        H = xp.tanh(X @ W1 + b1)
        out = H @ W2 + b2
        diff = out - Y
        return 0.5 * xp.sum(diff * diff) / len(X)

    return loss


def make_point(batch, n_in, n_hidden, n_out, seed=0):
    """Deterministic float64 (W1, b1, W2, b2, X, Y), weights scaled 1/sqrt(fan-in)."""
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((n_in, n_hidden)) / math.sqrt(n_in)
    b1 = 0.1 * rng.standard_normal(n_hidden)
    W2 = rng.standard_normal((n_hidden, n_out)) / math.sqrt(n_hidden)
    b2 = 0.1 * rng.standard_normal(n_out)
    X = rng.standard_normal((batch, n_in))
    Y = rng.standard_normal((batch, n_out))
    return W1, b1, W2, b2, X, Y


def emitted_failure(exc: BaseException) -> list[str]:
    """Notes for an exception from ad_compiler: the row's, and where a non-AdError arose."""
    notes = [f"ad_compiler: not available ({first_line(exc)})"]
    if not is_ad_error(exc):
        notes.append(
            f"ad_compiler raised {type(exc).__name__} (not an AdError) at "
            f"{raised_at(exc)}"
        )
    return notes


# --------------------------------------------------------------------------
# Contenders: each a (function, args) pair whose call returns (dW1, db1, dW2, db2)
# (the forward returns the loss), plus a converter of its result to NumPy.
# --------------------------------------------------------------------------


def build_emitted(notes):
    """``grad(mlp_loss, argnums=(0, 1, 2, 3))``, or None with a note."""
    try:
        from ad_compiler import grad

        return grad(mlp_loss, argnums=(0, 1, 2, 3))
    except Exception as exc:  # noqa: BLE001 -- array support may not be there yet
        notes += emitted_failure(exc)
        return None


def import_peers(notes):
    """The peer libraries that import, as a dict name -> module(s)."""
    peers = {}
    jaxmod = _harness.import_jax()
    if jaxmod is not None:
        peers["jax"] = jaxmod
    else:
        notes.append(f"jax not installed: {INSTALL}")
    try:
        import autograd
        import autograd.numpy as anp

        peers["autograd"] = (autograd, anp)
    except ImportError:
        notes.append(f"autograd not installed: {INSTALL}")
    try:
        import torch

        torch.set_num_threads(1)
        peers["torch"] = torch
    except ImportError:
        notes.append(f"torch not installed: {INSTALL}")
    return peers


def contenders_at(point, emitted, peers, notes):
    """label -> (fn, args, to_numpy) for every contender available at ``point``."""
    same = tuple  # NumPy results need no conversion
    found = {
        FORWARD: (mlp_loss, point, same),
        HAND: (mlp_grad_by_hand, point, same),
    }
    if emitted is not None:
        found[EMITTED] = (emitted, point, same)
    if "jax" in peers:
        jax, jnp = peers["jax"]
        loss = loss_in(jnp)
        jargs = tuple(jax.device_put(jnp.asarray(a, dtype=jnp.float64)) for a in point)
        plain = jax.grad(loss, argnums=(0, 1, 2, 3))
        jitted = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))

        def jax_grad(*args):
            return jax.block_until_ready(plain(*args))

        def jax_jit_grad(*args):
            return jax.block_until_ready(jitted(*args))

        def from_jax(result):
            return tuple(np.asarray(r) for r in result)

        found[JAX] = (jax_grad, jargs, from_jax)
        found[JAX_JIT] = (jax_jit_grad, jargs, from_jax)
    if "autograd" in peers:
        autograd, anp = peers["autograd"]
        found[AUTOGRAD] = (
            autograd.grad(loss_in(anp), argnum=(0, 1, 2, 3)),
            point,
            same,
        )
    if "torch" in peers:
        torch = peers["torch"]
        loss = loss_in(torch)
        targs = tuple(torch.tensor(a, dtype=torch.float64) for a in point)
        for t in targs[:4]:
            t.requires_grad_(True)

        def torch_grad(W1, b1, W2, b2, X, Y):
            value = loss(W1, b1, W2, b2, X, Y)  # the forward a user pays for
            return torch.autograd.grad(value, (W1, b1, W2, b2))

        def from_torch(result):
            return tuple(r.detach().numpy() for r in result)

        found[TORCH] = (torch_grad, targs, from_torch)
    return found


# --------------------------------------------------------------------------
# Correctness
# --------------------------------------------------------------------------


def check_hand_by_fd(point, entries=4, seed=1) -> list[str]:
    """Hand-written gradient against central differences on a few entries per parameter."""
    rng = np.random.default_rng(seed)
    grads = mlp_grad_by_hand(*point)
    problems = []
    names = ("dW1", "db1", "dW2", "db2")
    for k, (name, g) in enumerate(zip(names, grads)):
        for _ in range(entries):
            idx = tuple(int(rng.integers(n)) for n in g.shape)
            h = 1e-5
            args = [a.copy() for a in point]
            args[k][idx] += h
            up = mlp_loss(*args)
            args[k][idx] -= 2 * h
            down = mlp_loss(*args)
            fd = (up - down) / (2 * h)
            want = float(g[idx])
            if not abs(fd - want) <= FD_REL * max(abs(fd), abs(want)) + FD_ABS:
                problems.append(
                    f"hand-written {name}{list(idx)} = {want!r}, "
                    f"central difference {float(fd)!r}"
                )
    return problems


def disagreement(got, want) -> str | None:
    """None if ``got`` matches the hand-written gradient ``want``, else why not."""
    if not isinstance(got, tuple) or len(got) != len(want):
        return f"returned {type(got).__name__}, expected a {len(want)}-tuple"
    names = ("dW1", "db1", "dW2", "db2")
    for name, g, w in zip(names, got, want):
        g = np.asarray(g)
        if g.shape != w.shape:
            return f"{name} has shape {g.shape}, hand-written {w.shape}"
        if not np.allclose(g, w, rtol=RTOL, atol=ATOL):
            worst = np.unravel_index(np.argmax(np.abs(g - w)), w.shape)
            return (
                f"{name}{[int(i) for i in worst]} = {float(g[worst])!r}, "
                f"hand-written {float(w[worst])!r} "
                f"(max abs difference {np.max(np.abs(g - w)):.3e})"
            )
    return None


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


def measure(candidates: dict, rounds: int, target_s: float) -> dict:
    """Minimum µs/call per candidate, the candidates interleaved round by round."""
    calls = {label: (fn, args) for label, (fn, args, _) in candidates.items()}
    best, _ = _harness.interleaved(calls, rounds, target_s)
    return {label: t * 1e6 for label, t in best.items()}


def run_size(name, dims, emitted, peers, rounds, target_s):
    """Check and time every contender at one size: a result dict."""
    point = make_point(*dims)
    notes, skipped = [], set()
    problems = check_hand_by_fd(point)
    if problems:  # the reference itself is wrong: time nothing
        return {
            "size": name,
            "dims": dims,
            "us": {},
            "notes": problems,
            "skipped": set(),
        }
    want = mlp_grad_by_hand(*point)
    candidates = contenders_at(point, emitted, peers, notes)
    for label in list(candidates):
        if label == FORWARD:
            continue
        fn, args, to_numpy = candidates[label]
        try:
            got = to_numpy(fn(*args))
        except Exception as exc:  # noqa: BLE001 -- report and do not time
            if label == EMITTED:
                notes += emitted_failure(exc)
            else:
                notes.append(f"{label} raised {first_line(exc)}, not timed")
            del candidates[label]
            skipped.add(label)
            continue
        why = disagreement(got, want)
        if why is not None:
            notes.append(f"{label} disagrees with hand-written, not timed: {why}")
            del candidates[label]
            skipped.add(label)
    us = measure(candidates, rounds, target_s)
    print(f"  timed {name} {describe(dims)}", flush=True)
    return {"size": name, "dims": dims, "us": us, "notes": notes, "skipped": skipped}


def describe(dims) -> str:
    batch, n_in, n_hidden, n_out = dims
    return f"batch {batch}, {n_in}->{n_hidden}->{n_out}"


def print_table(results, unavailable):
    """One row per contender, the sizes side by side; ``unavailable``: label -> why.

    Returns the reasons printed in place of a row (so not repeated as notes)."""
    shown = set()
    cell = 32
    head = f"{'':<16}" + "".join(
        f"{r['size'] + ': ' + describe(r['dims']):>{cell}}" for r in results
    )
    sub = f"{'contender':<16}" + f"{'µs/call':>14}{'/forward':>10}{'/hand':>8}" * len(
        results
    )
    print(head)
    print(sub)
    print("-" * len(sub))
    for label in ORDER:
        if not any(label in r["us"] or label in r["skipped"] for r in results):
            if label in unavailable:
                print(f"{label:<16}  {unavailable[label]}")
                shown.add(f"{label}: {unavailable[label]}")
            continue
        cells = []
        for r in results:
            us = r["us"]
            if label in us:
                t = us[label]
                cells.append(f"{t:>14.1f}{t / us[FORWARD]:>10.2f}{t / us[HAND]:>8.2f}")
            else:
                why = "not timed" if label in r["skipped"] else "--"
                cells.append(f"{why:>14}{'':>18}")
        print((f"{label:<16}" + "".join(cells)).rstrip())
    print("-" * len(sub))
    return shown


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--sizes", choices=("small", "large", "both"), default="both")
    add("--quick", action="store_true", help="3 rounds of ~10 ms (a smoke run)")
    add("--rounds", type=int, help="interleaved rounds (default 25; 3 with --quick)")
    add("--target-ms", type=float, help="ms per measurement (default 100; 10 quick)")
    add("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 25)
    target_ms = args.target_ms or (10.0 if args.quick else 100.0)

    notes = []
    emitted = build_emitted(notes)
    peers = import_peers(notes)

    names = ["small", "large"] if args.sizes == "both" else [args.sizes]
    results = [
        run_size(n, SIZES[n], emitted, peers, rounds, target_ms / 1000) for n in names
    ]
    notes += [n for r in results for n in r["notes"]]
    notes = list(dict.fromkeys(notes))  # once each, in order
    unavailable = {}
    for note in notes:
        if note.startswith("ad_compiler: not available"):
            unavailable.setdefault(EMITTED, note[len("ad_compiler: ") :])

    print()
    versions = _harness.versions(("numpy", "jax", "jaxlib", "autograd", "torch"))
    print(_harness.python_line(versions))
    print(
        f"float64, one thread; µs per call, minimum of {rounds} interleaved rounds "
        f"of ~{target_ms:g} ms each;"
    )
    print("/forward and /hand: ratios to the NumPy forward pass (the loss itself)")
    print("and to the hand-written NumPy gradient.")
    print()
    shown = print_table(results, unavailable)
    for r in results:
        us = r["us"]
        if EMITTED in us:
            print(
                f"{r['size']}: emitted / hand-written = {us[EMITTED] / us[HAND]:.2f}, "
                f"emitted / forward = {us[EMITTED] / us[FORWARD]:.2f}"
            )
    for note in notes:
        if note not in shown:
            print(f"note: {note}")

    if args.json:
        result = {
            "benchmark": "bench_mlp",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "versions": versions,
            "rounds": rounds,
            "target_ms": target_ms,
            "results": [
                {"size": r["size"], "dims": list(r["dims"]), "us": r["us"]}
                for r in results
            ],
            "notes": notes,
        }
        _harness.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
