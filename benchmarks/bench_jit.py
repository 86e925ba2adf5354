"""``ad_compiler.jit``: emitted gradients compiled by Numba, against hand-written Numba, JAX and PyTorch.

What it measures
----------------
Workloads (``samples/scalar_loops.py``, ``benchmarks/handwritten_mlp.py``):

* the logistic map ``x <- r x (1 - x)`` iterated n times (r = 3.2: a stable
  2-cycle, so the gradient stays finite at large n), n = 10, 1,000, 10,000 and
  100,000, gradient with respect to ``r`` and ``x0``;
* an Euler-integrated pendulum, 10,000 steps, gradient with respect to the
  initial angle and the length;
* a Newton square root (a data-dependent ``while`` loop), gradient;
* three bodies under gravity, 1,000 semi-implicit Euler steps of some sixty
  scalar operations each, gradient of a final coordinate with respect to the
  three masses;
* a two-layer tanh MLP (batch 32, 64 -> 128 -> 10), array code, gradient with
  respect to the four parameter arrays (``jit`` compiles the emitted NumPy
  gradient for the arguments' shape pattern; the hand-written Numba gradient
  is ``handwritten_mlp.mlp_grad_by_hand`` under ``numba.njit``).

Per workload, in one interleaved run (``_harness.interleaved``: the minimum
over rounds, every candidate once per round in rotating order), µs per call:

* ``f py`` / ``f numba`` -- the function in Python / ``jit(f)``'s dispatcher;
* ``grad py``     -- ``grad(f, argnums=...)``: the emitted Python gradient;
* ``jit(grad)``   -- ``jit(grad(f))``'s Numba dispatcher (``.dispatcher``);
  ``jit call`` is the same through the ``JitFunction`` (which first checks
  that the function and its globals are unchanged: ~0.4 µs);
* ``hand numba``  -- a hand-written Numba reverse gradient (``jit_peers.py``);
* ``jax.jit(grad)`` -- the workload written with ``lax.fori_loop`` (n
  static), ``jax.jit(jax.grad(...))``, float64; JAX refuses reverse mode
  through ``lax.while_loop`` (the cell says ``refuses``);
* ``torch``       -- the loop in Python on float64 tensors, then
  ``torch.autograd.grad`` (the N-body step vectorised over a (3, 2) tensor).

Ratios: ``grad py / jit(grad)`` (the speed-up of compiling), ``jit(grad) /
hand numba`` (the issue's target: <= 1.5), ``jax / jit`` and ``torch / jit``
(how many times slower the peer is).  Compile times are apart: ``jit(grad)``
(``jit(...)`` plus the first call, when Numba compiles) and ``jax`` (the first
call, when XLA compiles).  Every contender's gradient is first checked against
the emitted Python gradient (1e-9 relative; 1e-7 for the peers, whose N-body
sums run in another order); a mismatch stops the run.

One process times everything, so the ratios come from one run.  Numba, JAX and
PyTorch need not live in one environment: ``--site DIR`` appends a
site-packages directory to ``sys.path`` (after the running environment's own)
to import a peer from another environment of the same Python and NumPy, e.g.
``--site /path/to/other-venv/lib/python3.11/site-packages`` for PyTorch.  A
peer that cannot be imported is skipped (its cells say ``-``).

Run: ``python benchmarks/bench_jit.py`` with ad_compiler and numba importable
(``pip install -e '.[jit]'``); ``--quick`` times fewer rounds; ``--json PATH``
writes the results; ``--plot PNG`` draws them (matplotlib), also from a saved
run: ``python benchmarks/bench_jit.py --plot PNG --from-json PATH`` (no Numba
needed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))

from _harness import interleaved, one_thread, python_line, versions  # noqa: E402

COLUMNS = (
    "f py",
    "f numba",
    "grad py",
    "jit(grad)",
    "jit call",
    "hand numba",
    "jax",
    "torch",
)


def workloads(jit_peers):
    """(label, peer key, f, argnums, args, hand-written gradient)."""
    from handwritten_mlp import mlp_loss

    from samples.scalar_loops import logistic, newton_sqrt, pendulum, three_body

    rows = [
        (f"logistic n={n:,}", "logistic", logistic, (0, 1), (3.2, 0.3, n))
        for n in (10, 1_000, 10_000, 100_000)
    ]
    rows += [
        ("pendulum 10,000 steps", "pendulum", pendulum, (0, 1), (0.5, 1.2, 10_000)),
        ("newton while-loop", "newton", newton_sqrt, 0, (2.0,)),
        (
            "3-body 1,000 steps",
            "three_body",
            three_body,
            (0, 1, 2),
            (1.0, 1.1, 0.9, 1000),
        ),
        ("MLP 32x64x128x10", "mlp", mlp_loss, (0, 1, 2, 3), jit_peers.mlp_arguments()),
    ]
    hands = {
        "logistic": jit_peers.hand_logistic,
        "pendulum": jit_peers.hand_pendulum,
        "newton": jit_peers.hand_newton,
        "three_body": jit_peers.hand_three_body,
        "mlp": jit_peers.hand_mlp,
    }
    return [(*row, hands[row[1]]) for row in rows]


def agree(a, b, rtol: float) -> bool:
    import numpy as np

    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    return len(a) == len(b) and all(
        np.shape(u) == np.shape(v) and np.allclose(u, v, rtol=rtol, atol=1e-12)
        for u, v in zip(a, b)
    )


def first_call(make, args):
    """(the callable ``make()`` gives, seconds to make it and call it once), or
    (None, the first line of the error)."""
    start = time.perf_counter()
    try:
        fn = make()
        fn(*args)
    except Exception as error:  # a refusal: the cell says so
        return None, f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return fn, time.perf_counter() - start


def refusal(message: str) -> str:
    if "while_loop" in message or "Reverse-mode differentiation" in message:
        return "refuses (while_loop)"
    if "array code" in message:
        return "refuses (array code)"
    return "refuses"


def measure(workload, jax_grads, torch_grads, rounds: int) -> dict:
    """One workload: its row of µs per call, ratios and compile seconds."""
    from ad_compiler import grad, jit

    label, key, f, argnums, args, hand = workload
    g = grad(f, argnums=argnums)
    expected = g(*args)
    row = {"workload": label, "cells": {}, "compile": {}}
    candidates = {"f py": (f, args), "grad py": (g, args)}
    peers = {"jax": jax_grads, "torch": torch_grads}
    makers = {
        "f numba": (lambda: jit(f), 1e-9),
        "jit(grad)": (lambda: jit(g), 1e-9),
        "hand numba": (lambda: hand, 1e-9),
        "jax": (lambda: jax_grads[key], 1e-7),
        "torch": (lambda: torch_grads[key], 1e-7),
    }
    for name, (make, rtol) in makers.items():
        if name in peers and key not in peers[name]:
            row["cells"][name] = "-"  # not installed
            continue
        fn, seconds = first_call(make, args)
        if fn is None:
            row["cells"][name] = refusal(seconds)
            continue
        row["compile"][name] = seconds
        if name != "f numba" and not agree(fn(*args), expected, rtol):
            raise SystemExit(f"{label}: {name} gives {fn(*args)}, grad {expected}")
        if name == "jit(grad)":
            candidates["jit(grad)"] = (fn.dispatcher, args)
            candidates["jit call"] = (fn, args)
        elif name == "f numba":
            candidates[name] = (fn.dispatcher, args)
        else:
            candidates[name] = (fn, args)
    best, _ = interleaved(candidates, rounds=rounds, target_s=0.02, budget_s=20.0)
    row["cells"].update({k: v * 1e6 for k, v in best.items()})
    return row


def ratio(row, a: str, b: str):
    x, y = row["cells"].get(a), row["cells"].get(b)
    if isinstance(x, float) and isinstance(y, float):
        return x / y
    return None


def table(rows) -> str:
    def cell(v):
        return (
            f"{v:,.3g}"
            if isinstance(v, float) and v < 1000
            else (f"{v:,.0f}" if isinstance(v, float) else (v or "-"))
        )

    def times(v):
        return "-" if v is None else f"{v:.2f}"

    head = (
        "| workload | " + " | ".join(f"{c} µs" for c in COLUMNS) + " | grad py / jit "
        "| jit / hand | jax / jit | torch / jit | compile s: jit(grad) / jax |"
    )
    lines = [head, "|---" * (len(COLUMNS) + 6) + "|"]
    for row in rows:
        cells = " | ".join(cell(row["cells"].get(c)) for c in COLUMNS)
        ratios = [
            ratio(row, "grad py", "jit(grad)"),
            ratio(row, "jit(grad)", "hand numba"),
            ratio(row, "jax", "jit(grad)"),
            ratio(row, "torch", "jit(grad)"),
        ]
        shown = " | ".join(
            "-" if r is None else f"{r:,.0f}" if r >= 100 else f"{r:.3g}"
            for r in ratios
        )
        c = row["compile"]
        lines.append(
            f"| {row['workload']} | {cells} | {shown} "
            f"| {times(c.get('jit(grad)'))} / {times(c.get('jax'))} |"
        )
    return "\n".join(lines)


def plot(rows, path: str) -> None:
    """Bars per workload: µs per call of each contender, log scale."""
    import matplotlib  # lazily: only for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ("grad py", "jit(grad)", "hand numba", "jax", "torch")
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=120)
    width = 0.8 / len(shown)
    for k, name in enumerate(shown):
        xs, ys = [], []
        for i, row in enumerate(rows):
            v = row["cells"].get(name)
            if isinstance(v, float):
                xs.append(i + (k - len(shown) / 2 + 0.5) * width)
                ys.append(v)
        ax.bar(xs, ys, width, label=name)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["workload"] for r in rows], rotation=20, ha="right")
    ax.set_ylabel("µs per gradient (log)")
    ax.set_title("Gradients: emitted Python, jit (Numba), hand Numba, JAX, PyTorch")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    print(f"wrote {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--site", action="append", default=[], metavar="DIR")
    parser.add_argument("--json", metavar="PATH", help="write the results")
    parser.add_argument("--plot", metavar="PNG", help="draw the results")
    parser.add_argument("--from-json", metavar="PATH", help="plot a saved run")
    parser.add_argument("--only", metavar="TEXT", help="workloads whose label has it")
    options = parser.parse_args(argv)
    if options.from_json:
        with open(options.from_json) as file:
            rows = json.load(file)["rows"]
        print(table(rows))
        if options.plot:
            plot(rows, options.plot)
        return
    one_thread()
    os.environ["ADC_JIT_CACHE"] = ""  # compile times: compiled, not loaded
    sys.path.extend(options.site)
    import jit_peers

    rounds = 5 if options.quick else 15
    environment = python_line(
        versions(["numpy", "numba", "llvmlite", "jax", "jaxlib", "torch"])
    )
    print(environment + "\n")
    jax_grads, torch_grads = jit_peers.jax_gradients(), jit_peers.torch_gradients()
    rows = []
    for workload in workloads(jit_peers):
        if options.only and options.only not in workload[0]:
            continue
        rows.append(measure(workload, jax_grads, torch_grads, rounds))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    if options.json:
        with open(options.json, "w") as file:
            json.dump({"environment": environment, "rows": rows}, file, indent=1)
    if options.plot:
        plot(rows, options.plot)


if __name__ == "__main__":
    main()
