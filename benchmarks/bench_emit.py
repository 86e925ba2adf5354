"""Compile-time cost of ad_compiler on large straight-line functions, stage by stage.

What it measures
----------------
For N = 1,000, 2,000, 5,000 and 10,000 primitive operations it generates one
straight-line function (deterministic: a seeded RNG; a chain of assignments
mixing ``+ - * /`` and ``math.sin/cos/exp/log/sqrt`` on earlier variables, with
``log`` and ``sqrt`` only applied to positive things such as ``math.exp(v)`` or
``v * v + 1.0``, and every value checked to stay in [-3, 3] at the test point;
8 parameters; one scalar returned, on which every assignment has an effect, so
dead-code elimination cannot shrink the problem).  N counts the equations of
the lowered primal IR (checked).  It then times, separately, with
``time.perf_counter``:

* ``parse+lower``   -- ``parse_module`` + ``StaticScope`` + ``driver.lower``: text to IR;
* ``derivative_ir`` -- ``driver.derivative_ir(fn, "grad", all params)``: the reverse
  transform plus the optimisation passes;
* ``emit``          -- ``codegen.emit_function``: IR to (unformatted) Python text;
* ``black``         -- ``codegen.format_source``: running black on that text.

The emitted gradient of the 1,000-op function (after black, loaded with
``exec``; the output of the first timed run) is checked against central finite
differences at the test point: every component must agree to a relative error
below 1e-5, so the benchmark cannot be timing broken output.

How to read the table
---------------------
``total`` is parse+lower + derivative_ir + emit, i.e. everything except black,
which is optional cosmetics and usually the slowest stage; ``black %`` is
black's share of the whole pipeline including it.  ``us/op`` is ``total``
divided by N: roughly constant if compilation is linear.  Two checks follow:
``total < 2 s at 10,000 ops`` and ``linear growth``, i.e.
total(10,000) / total(1,000) < 15 (10 would be exactly linear).  The garbage
collector is left on, as in real use (``--no-gc`` turns it off, to see its
share); ``gc.collect()`` runs before each timed run.

This machine is shared and noisy, so the sizes are timed in interleaved rounds
(a burst of load hits all sizes alike) and the minimum per stage is kept: a
first round runs every size once with black (black takes several seconds at
10,000 ops), then ``--repeats`` rounds (default 2) run each size without black,
the small sizes several times per round (5x at 1,000, 2x at 2,000).  Absolute
seconds still move by up to 2x with the machine's load; the ratios within one
run are steadier.  The whole run takes about a minute.  The exit status is 0
whatever the outcome.

Run as ``python benchmarks/bench_emit.py [--repeats N] [--no-black] [--no-gc]
[--plot [PNG]]``; ``--plot`` writes a log-log plot of seconds per stage against
N to ``benchmarks/emit_scaling.png`` (or the path given).
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import time
from pathlib import Path

from ad_compiler import driver
from ad_compiler.backend.codegen import emit_function, format_source
from ad_compiler.frontend.scope import StaticScope
from ad_compiler.frontend.source import FunctionSource, module_functions, parse_module

HERE = Path(__file__).resolve().parent
SIZES = (1_000, 2_000, 5_000, 10_000)
TOTAL_LIMIT_S = 2.0  # total without black at 10,000 ops
GROWTH_LIMIT = 15.0  # total(10,000) / total(1,000)
FD_REL_TOL = 1e-5

N_PARAMS = 8
WIDTH = 8  # independent chains, summed at the end
VALUE_LIMIT = 3.0
# (template, primitive operations it adds)
TEMPLATES = [
    ("{a} + {b}", 1),
    ("{a} - {b}", 1),
    ("{a} * {b}", 1),
    ("{a} / ({b} * {b} + 1.0)", 3),
    ("math.sin({a})", 1),
    ("math.cos({a})", 1),
    ("math.exp({a})", 1),
    ("math.log({a} * {a} + 1.0)", 3),
    ("math.sqrt({a} * {a} + 1.0)", 3),
    ("math.sqrt(math.exp({a}))", 2),
    ("math.log(math.exp({b}) + {a} * {a})", 4),
]
STAGES = ("parse+lower", "derivative_ir", "emit", "black")


def generate(n_ops: int, seed: int = 0) -> tuple[str, tuple[float, ...]]:
    """Text of ``generated(p0, ..., p7)`` with exactly ``n_ops`` operations; a point.

    ``WIDTH`` chains are grown side by side: each new variable consumes the
    current head of one chain (so nothing is dead) and, for a binary template,
    any earlier variable or parameter.  A template is redrawn while its value at
    the point leaves [-VALUE_LIMIT, VALUE_LIMIT], which keeps values and
    derivatives tame.  The chain heads are summed in the ``return``.
    """
    rng = random.Random(seed)
    params = [f"p{i}" for i in range(N_PARAMS)]
    point = tuple(round(rng.uniform(0.5, 1.5), 3) for _ in params)
    env: dict[str, object] = {"math": math, **dict(zip(params, point))}
    names = list(params)
    heads = [params[i % N_PARAMS] for i in range(WIDTH)]
    body_ops = n_ops - (WIDTH - 1)  # the final sum costs WIDTH - 1 additions
    lines = [f"def generated({', '.join(params)}):"]
    ops = 0
    while ops < body_ops:
        usable = [t for t in TEMPLATES if t[1] <= body_ops - ops]
        for _ in range(50):
            template, cost = rng.choice(usable)
            a = rng.choice(heads)
            b = rng.choice(params) if rng.random() < 0.3 else rng.choice(names)
            expr = template.format(a=a, b=b)
            value = eval(expr, env)  # noqa: S307 -- our own generated arithmetic
            if abs(value) <= VALUE_LIMIT:
                break
        else:
            expr, cost = f"math.sin({a})", 1
            value = eval(expr, env)  # noqa: S307
        name = f"v{len(names) - N_PARAMS + 1}"
        env[name] = value
        lines.append(f"    {name} = {expr}")
        names.append(name)
        heads[heads.index(a)] = name
        ops += cost
    lines.append(f"    return {' + '.join(heads)}")
    return "import math\n\n\n" + "\n".join(lines) + "\n", point


def generate_lines(n_lines: int) -> str:
    """A straight-line function of ``n_lines`` assignments, as people write long
    ones: a few names reassigned over and over (each a new version to name),
    new names read later, and a running sum (the ``--growth`` rows)."""
    lines = ["import math", "", "", "def f(x, z):", "    y = x", "    acc = 0.0"]
    for i in range(n_lines):
        k = i % 4
        if k == 0:
            lines.append("    y = y * 0.999 + math.sin(y) * z")
        elif k == 1:
            lines.append("    z = z + y * 0.001")
        elif k == 2:
            lines.append(f"    w{i} = math.cos(y) * z - y / (z * z + 1.0)")
        else:
            lines.append(f"    acc = acc + w{i - 1} * 0.5")
    lines.append("    return acc + y + z")
    return "\n".join(lines) + "\n"


def run_pipeline(text: str, black: bool, clock=time.perf_counter) -> dict:
    """Run the stages once; seconds per stage (by ``clock``) plus the artefacts."""
    lines = tuple(text.splitlines())
    t0 = clock()
    module = parse_module(text, "<generated>")
    scope = StaticScope(module)
    src = FunctionSource(module_functions(module)[0], "<generated>", lines)
    fn = driver.lower(src, scope)
    t1 = clock()
    wrt = tuple(range(len(fn.params)))
    d = driver.derivative_ir(fn, "grad", wrt, wrt)
    t2 = clock()
    code = emit_function(d, src.line)
    t3 = clock()
    formatted = format_source(code) if black else None
    t4 = clock()
    seconds = {"parse+lower": t1 - t0, "derivative_ir": t2 - t1, "emit": t3 - t2}
    if black:
        seconds["black"] = t4 - t3
    return {"seconds": seconds, "fn": fn, "d": d, "code": code, "formatted": formatted}


def load_function(text: str, name: str):
    namespace: dict[str, object] = {}
    exec(compile(text, f"<{name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]


def check_gradient(text: str, point: tuple[float, ...], out: dict) -> list[str]:
    """Problems found comparing the gradient in ``out`` with central differences."""
    grad_fn = load_function("import math\n\n\n" + out["formatted"], out["d"].name)
    f = load_function(text, "generated")
    got = grad_fn(*point)
    if not isinstance(got, tuple) or len(got) != len(point):
        return [f"gradient returned {got!r}, expected a {len(point)}-tuple"]
    problems = []
    for i, g in enumerate(got):
        h = 1e-5 * max(1.0, abs(point[i]))
        up, down = list(point), list(point)
        up[i] += h
        down[i] -= h
        fd = (f(*up) - f(*down)) / (2 * h)
        err = abs(g - fd) / max(abs(fd), 1e-300)
        if not err < FD_REL_TOL:  # also catches nan
            problems.append(f"d/dp{i}: emitted {g!r}, central diff. {fd!r} ({err:.1e})")
    return problems


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["n"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 5))
    for stage in STAGES + ("total",):
        if all(stage in r["seconds"] for r in results):
            style = "k--" if stage == "total" else "o-"
            label = "total without black" if stage == "total" else stage
            times = [r["seconds"][stage] for r in results]
            ax.loglog(sizes, times, style, label=label)
    first = results[0]["seconds"]["total"]
    linear = [first * n / sizes[0] for n in sizes]
    ax.loglog(sizes, linear, ":", color="grey", label="linear from 1,000")
    ax.set_xlabel("primitive operations N")
    ax.set_ylabel("seconds")
    ax.set_title("ad_compiler compile time per stage (grad, all 8 parameters)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--repeats", type=int, default=2, help="rounds of runs without black (2)")
    add("--seed", type=int, default=2024, help="RNG seed of the generator")
    add("--no-black", action="store_true", help="skip timing black")
    add("--no-gc", action="store_true", help="disable the garbage collector")
    add("--growth", action="store_true", help="only the 1k-20k lines growth rows")
    default_png = str(HERE / "emit_scaling.png")
    help_png = "write a log-log plot (default benchmarks/emit_scaling.png)"
    add("--plot", nargs="?", const=default_png, metavar="PNG", help=help_png)
    return parser.parse_args(argv)


def check_and_report(n: int, text: str, point: tuple, out: dict) -> list[str]:
    problems = check_gradient(text, point, out)
    verdict = "PASS" if not problems else "FAIL"
    print(f"gradient of the {n:,}-op function vs central differences: {verdict}")
    for p in problems:
        print(f"  {p}")
    return problems


def runs_per_round(n: int) -> int:
    """Small sizes run several times per round: their timings are the noisiest."""
    return max(1, SIZES[-1] // (2 * n))


def time_all(args) -> tuple[list[dict], list[str]]:
    """Time every size in interleaved rounds; check the gradient on the first run.

    Round 1 runs every size once with black (so black runs once per size), then
    every round runs each size ``runs_per_round`` times without black, so a
    burst of load on the machine hits all sizes alike.  Minimum per stage kept.
    """
    sources = {n: generate(n, args.seed) for n in SIZES}
    best: dict[int, dict[str, float]] = {n: {} for n in SIZES}
    runs = {n: 0 for n in SIZES}
    info: dict[int, dict] = {}
    problems: list[str] = []
    for round_ in range(args.repeats + 1):
        for n in SIZES:
            text, point = sources[n]
            for _ in range(1 if round_ == 0 else runs_per_round(n)):
                black = round_ == 0 and (n == SIZES[0] or not args.no_black)
                gc.collect()
                out = run_pipeline(text, black)
                if round_ == 0 and n == SIZES[0]:
                    problems = check_and_report(n, text, point, out)
                    if args.no_black:
                        del out["seconds"]["black"]
                for stage, sec in out["seconds"].items():
                    best[n][stage] = min(best[n].get(stage, math.inf), sec)
                runs[n] += 1
            if round_ == 0:
                info[n] = {"ir": len(out["fn"].body), "grad_eqns": len(out["d"].body)}
                if info[n]["ir"] != n:
                    print(f"  warning: the IR has {info[n]['ir']} equations, not {n}")
                first = ", ".join(f"{k} {v:.2f}s" for k, v in out["seconds"].items())
                print(f"  N={n:>6,} (first run): {first}", flush=True)
        if round_ > 0:
            print(f"  round {round_}/{args.repeats} done", flush=True)
    results = []
    for n in SIZES:
        s = best[n]
        s["total"] = s["parse+lower"] + s["derivative_ir"] + s["emit"]
        results.append({"n": n, "runs": runs[n], **info[n], "seconds": s})
    return results, problems


def print_table(results: list[dict], args) -> None:
    gc_note = "gc off" if args.no_gc else "gc on"
    runs = "/".join(str(r["runs"]) for r in results)
    print(f"seconds per stage ({gc_note}; min of {runs} interleaved runs; black 1 run)")
    header = (
        f"{'N ops':>7}{'grad eqns':>11}{'parse+lower':>13}{'deriv_ir':>10}{'emit':>8}"
        f"{'black':>8}{'total':>8}{'black %':>9}{'us/op':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        s = r["seconds"]
        if "black" in s:
            black_col = f"{s['black']:>8.3f}"
            share = f"{100 * s['black'] / (s['total'] + s['black']):>8.0f}%"
        else:
            black_col, share = f"{'-':>8}", f"{'-':>9}"
        print(
            f"{r['n']:>7,}{r['grad_eqns']:>11,}{s['parse+lower']:>13.3f}"
            f"{s['derivative_ir']:>10.3f}{s['emit']:>8.3f}{black_col}{s['total']:>8.3f}"
            f"{share}{1e6 * s['total'] / r['n']:>8.1f}"
        )
    print("-" * len(header))


GROWTH_LINES = (1_000, 4_000, 8_000, 20_000)


def growth_rows(args) -> None:
    """CPU seconds per stage of functions of 1k to 20k lines (black included),
    and the growth per doubling of the length: 2.0 is linear."""
    print("CPU seconds per stage, one run each (process time: load from other")
    print("processes does not count); straight-line functions of generate_lines")
    header = (
        f"{'lines':>7}{'parse+lower':>13}{'deriv_ir':>10}{'emit':>8}{'black':>8}"
        f"{'all':>8}{'x per doubling':>16}"
    )
    print(header)
    print("-" * len(header))
    previous = None
    for n in GROWTH_LINES:
        gc.collect()
        s = run_pipeline(generate_lines(n), True, time.process_time)["seconds"]
        total = sum(s.values())
        per = ""
        if previous is not None:
            per = f"{(total / previous[1]) ** (1 / math.log2(n / previous[0])):>16.2f}"
        print(
            f"{n:>7,}{s['parse+lower']:>13.2f}{s['derivative_ir']:>10.2f}"
            f"{s['emit']:>8.2f}{s['black']:>8.2f}{total:>8.2f}{per}",
            flush=True,
        )
        previous = (n, total)
    print("-" * len(header))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.no_gc:
        gc.disable()
    if args.growth:
        growth_rows(args)
        return 0
    started = time.perf_counter()

    results, problems = time_all(args)
    print()
    print_table(results, args)

    verdict = {True: "PASS", False: "FAIL"}
    by_n = {r["n"]: r["seconds"]["total"] for r in results}
    big, small = by_n[SIZES[-1]], by_n[SIZES[0]]
    ok_total = big < TOTAL_LIMIT_S
    growth = big / small
    ok_growth = growth < GROWTH_LIMIT
    ok_fd = not problems
    print(
        f"{verdict[ok_total]}: total without black at {SIZES[-1]:,} ops = "
        f"{big:.2f} s (target < {TOTAL_LIMIT_S:g} s)"
    )
    print(
        f"{verdict[ok_growth]}: growth total({SIZES[-1]:,}) / total({SIZES[0]:,}) "
        f"= {growth:.1f} (target < {GROWTH_LIMIT:g}; 10 is linear)"
    )
    print(f"{verdict[ok_fd]}: emitted gradient matches finite differences")
    passed = sum((ok_total, ok_growth, ok_fd))
    took = time.perf_counter() - started
    summary = f"{passed}/3 checks pass (took {took:.0f} s)"
    print(f"SUMMARY: {verdict[passed == 3]} -- {summary}")

    if args.plot:
        plot(results, Path(args.plot))
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
