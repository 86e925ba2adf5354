"""Sparse Hessians and Jacobians: colouring + one compressed pass, against dense, JAX dense and JAX + colouring.

What it measures
----------------
Two problems of issue 21, at n = 10^3, 10^4 and 10^5 unknowns:

* the Hessian of the chained extended Rosenbrock function (tridiagonal);
* the Jacobian of a 2-D Laplacian + cubic reaction residual on an m x m grid
  (n = m², 5 non-zeros per row; m = 32, 100, 317).

Per row, seconds per call (``_harness.interleaved``: one thread, every
contender once per round in rotating order, the minimum over the rounds):

* ``ours dense``  -- ``hessian(f)`` / ``jacobian(f)``: all n directions in one
  vector-mode call, where the dense matrix fits (``DENSE_BYTES``: the n x n
  result and its few n x n temporaries in about 2 GB; beyond, the cell says
  how many GB it would need);
* ``ours sparse`` -- ``hessian(f, sparse=True)`` / ``jacobian(f, sparse=True)``:
  one compressed call of c directions (c colours) and the gather into CSR;
  the pattern and colouring are found once per shape, timed apart as
  ``setup s`` (pattern, both colourings for a Jacobian, the plan);
* ``jax dense``   -- ``jax.jit(jax.hessian(f))`` / ``jax.jit(jax.jacfwd(f))``
  of the same function in ``jax.numpy``, where it fits;
* ``jax+colour``  -- JAX with the same colouring: ``jax.jit`` of ``jax.vmap``
  over the c seed columns of ``jax.jvp`` of ``jax.grad(f)`` (the HVP) or of
  ``f`` (the JVP), then the same NumPy gather into CSR (our plan's), the
  recipe a JAX user writes by hand (JAX has no sparse Jacobian).

Every result is compared with ours sparse (1e-9 relative) before timing.
JAX is optional: without it the JAX cells say "not installed".  On the
branch with the provisional pattern finder (dense passes in chunks, too slow
at n = 10^5) the pattern is given at that size and ``setup`` says so.

Run: ``python benchmarks/bench_sparse.py [--quick] [--json PATH]`` (JAX from
the bench environment); ``--plot PNG --from-json PATH`` draws a saved run
(matplotlib); ``--table`` prints the table of benchmarks/bench_sparse.json
(docs/sparsity.md shows it, through docs/regenerate.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _harness  # noqa: E402  (standard library only)

_harness.one_thread()

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

JSON = HERE / "bench_sparse.json"
SIZES = {"rosenbrock": [1000, 10_000, 100_000], "pde": [32, 100, 317]}
DENSE_BYTES = 2e9  # what a dense contender may take: 4 n x n float64 arrays
COLUMNS = ["ours dense", "ours sparse", "jax dense", "jax+colour"]

# the two problems, from samples/
sys.path.insert(0, str(HERE.parent / "samples"))
from laplacian import pde_residual  # noqa: E402
from rosenbrock import rosenbrock  # noqa: E402


def jax_problems(jnp):
    """The two functions in ``jax.numpy``."""

    def rosenbrock_jnp(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def pde_jnp(u, f):
        m = u.shape[0]
        h = 1.0 / (m + 1)
        p = jnp.zeros((m + 2, m + 2)).at[1:-1, 1:-1].set(u)
        lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * u
        return -lap / h**2 + u**3 - f

    return rosenbrock_jnp, pde_jnp


def known_pattern(problem: str, size: int):
    """The exact pattern (tridiagonal; the 5-point stencil), given to the
    sparse contender where the provisional finder would take minutes."""
    import scipy.sparse as sp

    if problem == "rosenbrock":
        ones = np.ones(size)
        return sp.diags([ones[1:], ones, ones[1:]], [-1, 0, 1]).tocsr()
    m = size
    line = sp.diags([np.ones(m - 1), np.ones(m), np.ones(m - 1)], [-1, 0, 1])
    side = sp.diags([np.ones(m - 1), np.ones(m - 1)], [-1, 1])
    return (sp.kron(sp.identity(m), line) + sp.kron(side, sp.identity(m))).tocsr()


def point(problem: str, size: int):
    rng = np.random.default_rng(21)
    if problem == "rosenbrock":
        return (rng.uniform(-1.0, 2.0, size),)
    return (rng.random((size, size)), rng.random((size, size)))


def sparse_contender(problem: str, size: int, args, n: int):
    """(ours sparse, setup seconds, how the pattern was found)."""
    from ad_compiler import hessian, jacobian
    from ad_compiler.sparsity import patterns

    make = hessian if problem == "rosenbrock" else jacobian
    f = rosenbrock if problem == "rosenbrock" else pde_residual
    given = None
    if getattr(patterns, "PROVISIONAL", False) and n > 20_000:
        given = known_pattern(problem, size)
    d = make(f, sparse=True if given is None else given)
    start = time.perf_counter()
    plan = d.plan(args)
    setup = time.perf_counter() - start
    how = plan.pattern.how
    if given is not None:
        how += " (the provisional finder would take minutes)"
    return d, setup, how, plan


def jax_contenders(problem: str, jax_mods, plan, args, fits: bool) -> dict:
    """jax dense (where it fits) and jax + colouring, as callables of args."""
    from ad_compiler.sparsity.compressed import decompress

    jax, jnp = jax_mods
    rosenbrock_jnp, pde_jnp = jax_problems(jnp)
    seeds_t = jnp.asarray(plan.seeds_t)
    out = {}
    if problem == "rosenbrock":
        dense = jax.jit(jax.hessian(rosenbrock_jnp))
        g = jax.grad(rosenbrock_jnp)

        @jax.jit
        def compressed(x):
            return jax.vmap(lambda s: jax.jvp(g, (x,), (s,))[1])(seeds_t)

    else:
        dense = jax.jit(jax.jacfwd(pde_jnp))
        shape = args[0].shape
        assert plan.mode == "forward"

        @jax.jit
        def compressed(u, f):
            def one(s):
                return jax.jvp(lambda v: pde_jnp(v, f), (u,), (s.reshape(shape),))[1]

            return jax.vmap(one)(seeds_t).reshape(seeds_t.shape[0], -1)

    def with_colouring(*a):
        return decompress(plan, np.asarray(compressed(*a)))

    if fits:  # (JAX dispatches asynchronously: wait for the result)
        out["jax dense"] = lambda *a: dense(*a).block_until_ready()
    out["jax+colour"] = with_colouring
    return out


def as_matrix(value, n_rows: int):
    if hasattr(value, "toarray"):
        return value.toarray()
    return np.asarray(value).reshape(n_rows, -1)


def measure(problem: str, size: int, jax_mods, rounds: int) -> dict:
    from ad_compiler import hessian, jacobian

    args = point(problem, size)
    n = args[0].size
    label = (
        f"{'Rosenbrock Hessian' if problem == 'rosenbrock' else 'PDE Jacobian'} n={n:,}"
    )
    need = 4 * 8.0 * n * n
    fits = need <= DENSE_BYTES
    sparse, setup, how, plan = sparse_contender(problem, size, args, n)
    candidates = {"ours sparse": sparse}
    if fits:
        f = rosenbrock if problem == "rosenbrock" else pde_residual
        candidates["ours dense"] = (hessian if problem == "rosenbrock" else jacobian)(f)
    cells: dict = {c: None for c in COLUMNS}
    if not fits:
        cells["ours dense"] = cells["jax dense"] = (
            f"does not fit ({need / 1e9:,.0f} GB)"
        )
    if jax_mods is None:
        cells["jax dense"] = cells["jax+colour"] = "not installed"
    else:
        candidates.update(jax_contenders(problem, jax_mods, plan, args, fits))
    reference = sparse(*args)
    scale = max(1.0, float(abs(reference).max()))
    for name, fn in candidates.items():
        got = fn(*args)
        if hasattr(got, "tocsr"):  # sparse: compared as sparse
            wrong = abs(got - reference).max() > 1e-9 * scale
        else:  # dense (only where it fits)
            wrong = abs(as_matrix(got, n) - reference.toarray()).max() > 1e-9 * scale
        if wrong:
            raise SystemExit(f"{label}: {name} differs from ours sparse")
    timed = {k: (fn, args) for k, fn in candidates.items()}
    best, _ = _harness.interleaved(timed, rounds, target_s=0.05, budget_s=20.0)
    cells.update(best)
    return {
        "problem": label,
        "n": n,
        "cells": cells,
        "colours": int(plan.count),
        "mode": sparse.mode,
        "nnz": int(reference.nnz),
        "setup s": setup,
        "pattern": how,
    }


def table(rows) -> str:
    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, str):
            return v
        return f"{v * 1e3:,.3g}" if v * 1e3 < 100 else f"{v * 1e3:,.0f}"

    head = (
        "| problem | "
        + " | ".join(f"{c} ms" for c in COLUMNS)
        + " | colours (mode) | setup s | dense / sparse | jax+colour / sparse |"
    )
    lines = [head, "|---" * (len(COLUMNS) + 5) + "|"]
    for row in rows:
        c = row["cells"]
        ratios = []
        for other in ("ours dense", "jax+colour"):
            a, b = c.get(other), c.get("ours sparse")
            ok = isinstance(a, float) and isinstance(b, float)
            ratios.append(f"{a / b:,.3g}" if ok else "-")
        mode = row["mode"].split(",")[0]
        lines.append(
            f"| {row['problem']} | "
            + " | ".join(cell(c.get(k)) for k in COLUMNS)
            + f" | {row['colours']} ({mode}) | {row['setup s']:.2f} | "
            + " | ".join(ratios)
            + " |"
        )
    return "\n".join(lines)


def plot(rows, path: str) -> None:
    """Seconds per call against n, per contender and problem, log-log."""
    import matplotlib  # lazily: only for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=120)
    for ax, name in zip(axes, ("Rosenbrock Hessian", "PDE Jacobian")):
        mine = [r for r in rows if r["problem"].startswith(name)]
        for contender in COLUMNS:
            pts = [
                (r["n"], r["cells"][contender])
                for r in mine
                if isinstance(r["cells"].get(contender), float)
            ]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=contender)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n (unknowns)")
        ax.set_ylabel("seconds per call")
        ax.set_title(name)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    print(f"wrote {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", metavar="PATH", help="write the results")
    parser.add_argument("--plot", metavar="PNG", help="draw the results")
    parser.add_argument("--from-json", metavar="PATH", help="plot a saved run")
    parser.add_argument(
        "--table", action="store_true", help=f"print {JSON.name}'s table"
    )
    parser.add_argument("--only", metavar="TEXT", help="rows whose problem has it")
    options = parser.parse_args(argv)
    if options.table or options.from_json:
        with open(options.from_json or JSON) as file:
            saved = json.load(file)
        print(table(saved["rows"]))
        if options.plot:
            plot(saved["rows"], options.plot)
        return
    environment = _harness.python_line(
        _harness.versions(["numpy", "scipy", "jax", "jaxlib"])
    )
    print(environment + "\n", flush=True)
    jax_mods = _harness.import_jax()
    rounds = 3 if options.quick else 9
    rows = []
    for problem, sizes in SIZES.items():
        for size in sizes:
            if options.only and options.only not in f"{problem} {size}":
                continue
            rows.append(measure(problem, size, jax_mods, rounds))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    if options.json:
        _harness.write_json(options.json, {"environment": environment, "rows": rows})
    if options.plot:
        plot(rows, options.plot)


if __name__ == "__main__":
    main()
