"""Checkpointing benchmark: memory and time of taped vs checkpointed gradients.

Two workloads (the functions of tests/checkpoint_cases.py):

* the logistic map ``x <- r x (1 - x)``, gradient with respect to ``x`` and
  ``r``, at n = 10^6 (emitted Python) and 10^6 ... 10^8 steps (the emitted
  Python compiled by Numba through ``jit``: pure Python would take minutes
  per 10^8-step run);
* a heat-equation stepper ``u <- u + dt (roll(u, 1) - 2 u + roll(u, -1))``
  on 10^4 and 10^5 elements over 10^3 steps (emitted Python; Numba has no
  ``np.roll(..., axis=)``), gradient of ``sum(u^2)`` with respect to ``u``.

Each configuration runs in a fresh subprocess (``--one``): the gradient is
compiled and warmed up on a short loop, then timed once, then run again under
``tracemalloc`` for its peak (Python allocations, NumPy's arrays included;
Numba's own allocations are not traced), and the growth of the resident
set's peak over its size before the timed call (the peak reset first on
Linux, see ``_rss_mark``).  ``taped`` is the default gradient (a tape per
iteration), ``k=...`` the gradient with ``checkpoint="revolve",
snapshots=k`` (the taped runs at 10^8 steps and at 10^5 elements hold 2.4 GB
each: run where that fits).  ``advances/n`` is the schedule's forward steps run
again per step (:func:`ad_compiler.ad.revolve.advances`), ``time/taped`` the
measured time over the taped gradient's at the same size, ``rel diff`` the
largest relative difference from the taped gradient where that ran.

    python benchmarks/bench_checkpoint.py --json benchmarks/bench_checkpoint.json \
        --plot benchmarks/checkpoint_memory.png   # the full run (Numba: see --python)
    python benchmarks/bench_checkpoint.py --quick     # small sizes, a minute
    python benchmarks/bench_checkpoint.py --table     # the table of the JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
JSON = os.path.join(HERE, "bench_checkpoint.json")


def configurations(quick: bool) -> list[dict]:
    """Every (workload, size, mode) the run measures."""
    out = []
    ks = ["taped", 10, 100, 1000]
    py_n = [10**5] if quick else [10**6]
    jit_n = [10**5, 10**6] if quick else [10**6, 10**7, 10**8]
    for n in py_n:
        out += [dict(case="logistic", n=n, k=k, jit=False) for k in ks]
    # (the taped runs at the largest sizes hold 2.4 GB each: this machine has it)
    out += [dict(case="logistic", n=n, k=k, jit=True) for n in jit_n for k in ks]
    sizes = [(10**3, 100)] if quick else [(10**4, 1000), (10**5, 1000)]
    for size, steps in sizes:
        out += [dict(case="heat", n=steps, size=size, k=k, jit=False) for k in ks]
    return out


def _status(key: str) -> int:
    """A ``/proc/self/status`` line's value, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _rss_mark():
    """Where to measure the resident set's growth from: on Linux, the peak
    (VmHWM) is reset to the current size (writing 5 to /proc/self/clear_refs),
    so that the imports' and the compilation's peak does not hide the call's;
    elsewhere the ``ru_maxrss`` high-water mark."""
    import resource

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return ("hwm", _status("VmRSS"))
    except OSError:
        return ("maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def _rss_peak_since(mark) -> int:
    """The resident set's peak since ``mark`` over its size then, in bytes."""
    import resource

    how, start = mark
    if how == "hwm":
        return _status("VmHWM") - start
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start


def run_one(cfg: dict) -> dict:
    """Measure one configuration in this process (a fresh one)."""
    import tracemalloc

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import checkpoint_cases as C
    import numpy as np

    from ad_compiler import grad

    kw = {} if cfg["k"] == "taped" else dict(checkpoint="revolve", snapshots=cfg["k"])
    if cfg["case"] == "logistic":
        g = grad(C.logistic, argnums=(0, 1), **kw)
        args = (0.3, 2.9, cfg["n"])
        small = (0.3, 2.9, 50)
    else:
        u = np.random.default_rng(0).random(cfg["size"])
        g = grad(C.heat, **kw)
        args = (u, 0.1, cfg["n"])
        small = (u, 0.1, 5)
    if cfg["jit"]:
        from ad_compiler import jit

        g = jit(g)
    g(*small)  # compiled (and jit-compiled) before measuring
    before = _rss_mark()
    t0 = time.perf_counter()
    got = g(*args)
    seconds = time.perf_counter() - t0
    rss = _rss_peak_since(before)
    tracemalloc.start()
    g(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    got = got if isinstance(got, tuple) else (got,)
    return dict(
        cfg,
        seconds=seconds,
        tracemalloc_peak=peak,
        rss_increase=rss,
        gradient=[np.asarray(v, float).ravel()[:1000].tolist() for v in got],
    )


def measure(cfg: dict, python: str) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    env["OPENBLAS_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"
    out = subprocess.run(
        [python, __file__, "--one", json.dumps(cfg)],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        return dict(cfg, error=out.stderr.strip().splitlines()[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rel(a, b) -> float:
    worst = 0.0
    for u, v in zip(a, b):
        for p, q in zip(u, v):
            scale = max(abs(q), 1e-300)
            worst = max(worst, abs(p - q) / scale if abs(q) > 1e-200 else abs(p - q))
    return worst


def summarise(rows: list[dict]) -> list[dict]:
    """Add advances/n, time/taped and rel diff (against the taped row of the
    same workload, size and path)."""
    sys.path.insert(0, ROOT)
    from ad_compiler.ad.revolve import advances

    key = lambda r: (r["case"], r["n"], r.get("size"), r["jit"])  # noqa: E731
    taped = {key(r): r for r in rows if r["k"] == "taped" and "error" not in r}
    for r in rows:
        if "error" in r:
            continue
        r["advances_per_step"] = (
            0.0 if r["k"] == "taped" else advances(r["n"], r["k"]) / r["n"]
        )
        t = taped.get(key(r))
        if t is not None and r is not t:
            r["time_over_taped"] = r["seconds"] / t["seconds"]
            r["rel_diff"] = _rel(r["gradient"], t["gradient"])
    return rows


def _num(x: float) -> str:
    return f"{x:,.3g}" if x < 1000 else f"{x:,.0f}"


def table(data: dict) -> str:
    lines = [
        "| workload | steps | path | mode | time s | time / taped | advances / step "
        "| tracemalloc peak MB | RSS increase MB | rel diff vs taped |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        what = (
            "logistic map"
            if r["case"] == "logistic"
            else f"heat, {r['size']:,} elements"
        )
        mode = "taped" if r["k"] == "taped" else f"revolve k={r['k']}"
        path = "jit" if r["jit"] else "Python"
        if "error" in r:
            lines.append(
                f"| {what} | {r['n']:,} | {path} | {mode} | error: {r['error']} |||||"
            )
            continue
        ratio = r.get("time_over_taped")
        diff = r.get("rel_diff")
        lines.append(
            f"| {what} | {r['n']:,} | {path} | {mode} | {_num(r['seconds'])} "
            f"| {'-' if ratio is None else _num(ratio)} "
            f"| {_num(r['advances_per_step'])} "
            f"| {_num(r['tracemalloc_peak'] / 1e6)} | {_num(r['rss_increase'] / 1e6)} "
            f"| {'-' if diff is None else f'{diff:.1e}'} |"
        )
    return "\n".join(lines)


def plot(data: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (mem, tim) = plt.subplots(1, 2, figsize=(11, 4.2))
    groups: dict = {}
    for r in data["rows"]:
        if "error" in r:
            continue
        label = (
            f"logistic n={r['n']:.0e} {'jit' if r['jit'] else 'py'}"
            if r["case"] == "logistic"
            else f"heat {r['size']:.0e} el., {r['n']} steps"
        )
        groups.setdefault(label, []).append(r)
    for label, rs in groups.items():
        ck = sorted((r for r in rs if r["k"] != "taped"), key=lambda r: r["k"])
        ks = [r["k"] for r in ck]
        line = mem.plot(
            ks,
            [max(r["tracemalloc_peak"], r["rss_increase"]) / 1e6 for r in ck],
            "o-",
            label=label,
        )[0]
        tim.plot(
            ks, [r["seconds"] for r in ck], "o-", color=line.get_color(), label=label
        )
        for r in rs:
            if r["k"] == "taped":
                mem.axhline(
                    max(r["tracemalloc_peak"], r["rss_increase"]) / 1e6,
                    ls="--",
                    color=line.get_color(),
                    lw=0.8,
                )
                tim.axhline(r["seconds"], ls="--", color=line.get_color(), lw=0.8)
    for ax, what in (
        (mem, "peak memory, MB (max of tracemalloc, RSS growth)"),
        (tim, "seconds per gradient"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("snapshots k")
        ax.set_ylabel(what)
        ax.grid(True, which="both", lw=0.3)
    mem.set_title("memory (dashed: taped)")
    tim.set_title("time (dashed: taped)")
    tim.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true", help="small sizes")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--plot", help="draw memory and time against k into this PNG")
    p.add_argument(
        "--table", action="store_true", help="print the table of --from-json"
    )
    p.add_argument("--from-json", default=JSON, help=f"(default {JSON})")
    p.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter for the measurements (one with Numba for the jit rows)",
    )
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return 0
    if args.table:
        with open(args.from_json) as f:
            data = json.load(f)
        print(table(data))
        return 0
    rows = []
    for cfg in configurations(args.quick):
        r = measure(cfg, args.python)
        rows.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "gradient"}), flush=True)
    data = dict(
        python=sys.version.split()[0],
        machine=f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
        rows=summarise(rows),
    )
    for r in data["rows"]:
        r["gradient"] = [v[:3] for v in r.get("gradient", [])]  # a sample is kept
    print(table(data))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    if args.plot:
        plot(data, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
