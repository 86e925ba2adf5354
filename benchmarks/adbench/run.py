"""ADBench, ported: objectives and their derivatives timed side by side, checked, tabled.

Run from the repository root (the peers are used when installed:
``pip install -e '.[bench]'``)::

    python benchmarks/adbench/run.py [--quick] [--out DIR] [--budget SECONDS]

For every problem (GMM, BA, Hand simple and complicated, LSTM) and size it

1. builds the inputs (seeded) and every tool's objective and derivative
   (problems.py);
2. checks every derivative before timing it: against the reference tool
   (jax, else torch) when installed, and always against central differences of
   the vectorised objective along two random directions; a derivative that
   disagrees is printed as FAIL, not timed, and the script exits with status 1
   at the end (after writing what it measured);
3. times, in one process, one thread, every objective and derivative of the
   case in interleaved rounds (each round calls each once, rotating the
   order), keeping the minimum per call; the rounds stop at ``--budget``
   seconds per case (at least one timed call each, after one warm-up call that
   also compiles);
4. for GMM, measures peak memory (tracemalloc) of the objectives and of the
   ad_compiler and hand-written gradients;
5. times the fill loop's gradient at four sizes (linear growth or not).

It writes ``results.json``, regenerates the results section of ``README.md``
(between its markers) and draws ``ratios.png`` (report.py), into ``--out``
(default: this folder; the README is read from this folder if ``--out`` has
none).  ``--quick`` runs tiny sizes in well under a minute (for the tests).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _harness  # noqa: E402

_harness.one_thread()

import numpy as np  # noqa: E402
import problems  # noqa: E402
import report  # noqa: E402
from ports import available  # noqa: E402

FULL = {
    "GMM": [(1000, 2, 5), (1000, 10, 25), (1000, 20, 50)],
    "LSTM": [(2, 14, 256), (2, 14, 1024), (4, 14, 1024)],
    "BA": [(49, 778, 3184), (49, 7776, 31843)],
    "Hand simple": [(100,), (1600,)],
    "Hand complicated": [(100,), (1600,)],
    "fill": [500, 1000, 2000, 4000],
}
QUICK = {
    "GMM": [(40, 2, 3), (60, 3, 4)],
    "LSTM": [(2, 4, 10)],
    "BA": [(3, 8, 20)],
    "Hand simple": [(8,)],
    "Hand complicated": [(8,)],
    "fill": [20, 40, 80, 160],
}
BUILDERS = {
    "GMM": problems.gmm_case,
    "LSTM": problems.lstm_case,
    "BA": problems.ba_case,
    "Hand simple": lambda n, libs: problems.hand_case(n, False, libs),
    "Hand complicated": lambda n, libs: problems.hand_case(n, True, libs),
}


def say(text):
    print(text, flush=True)


def libraries():
    """The peers that are installed, set to one thread and float64."""
    libs = {}
    jax_pair = _harness.import_jax()
    if jax_pair is not None:
        libs["jax"] = jax_pair[0]
        import jax.numpy  # noqa: F401  (problems.py reads jax.numpy)
    torch = available("torch")
    if torch is not None:
        torch.set_num_threads(1)
        libs["torch"] = torch
    autograd = available("autograd")
    if autograd is not None:
        import autograd.numpy  # noqa: F401

        libs["autograd"] = autograd
    return libs


def block(value):
    """Wait for JAX's asynchronous results (a no-op for everything else)."""
    ready = getattr(value, "block_until_ready", None)
    if ready is not None:
        ready()
    elif isinstance(value, (tuple, list)):
        for v in value:
            block(v)
    return value


def timed(candidates, budget_s, max_rounds=50, warm=()):
    """Minimum seconds per call of each label -> (fn, args), in interleaved rounds.

    One warm-up call each (JAX and ad_compiler compile in it; not for the
    labels in ``warm``, called once already), one timed call that sets a loop
    count per label giving about 20 ms a measurement, then rounds, each timing
    every label still under its share of ``budget_s`` (an equal share each) in
    a rotating order: fast labels get many rounds, a slow one few, one whose
    single call is over its share keeps that call alone."""
    numbers, best, spent = {}, {}, {}
    for label, (fn, args) in candidates.items():
        if label not in warm:
            block(fn(*args))  # the warm-up: compiles, allocates
        start = time.perf_counter()
        block(fn(*args))
        best[label] = spent[label] = time.perf_counter() - start
        numbers[label] = max(1, int(0.02 / max(best[label], 1e-7)))
    share = budget_s / len(candidates)
    labels = list(candidates)
    rounds = 0
    gc.disable()
    try:
        while rounds < max_rounds:
            order = labels[rounds % len(labels) :] + labels[: rounds % len(labels)]
            order = [label for label in order if spent[label] < share]
            if not order:
                break
            for label in order:
                fn, args = candidates[label]
                start = time.perf_counter()
                for _ in range(numbers[label]):
                    block(fn(*args))
                elapsed = time.perf_counter() - start
                spent[label] += elapsed
                best[label] = min(best[label], elapsed / numbers[label])
            rounds += 1
    finally:
        gc.enable()
    return best, rounds


def peak_bytes(fn, args):
    """Peak bytes allocated (tracemalloc) during one call, after a warm-up call."""
    fn(*args)
    gc.collect()
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def check(case, derivative, reference, rng):
    """(max |difference| to the reference tool or None, max relative error of
    the directional derivatives against central differences)."""
    got = problems.as_numpy(block(derivative.fn(*derivative.args)))
    to_ref = None
    if reference is not None and derivative is not reference[0]:
        to_ref = max(
            float(np.max(np.abs(g - r)) / (1.0 + np.max(np.abs(r))))
            for g, r in zip(got, reference[1])
        )
    worst = 0.0
    for _ in range(2):
        dirs = [rng.standard_normal(np.shape(w)) for w in case.wrt]
        eps = 1e-6
        plus = case.value(*[w + eps * v for w, v in zip(case.wrt, dirs)])
        minus = case.value(*[w - eps * v for w, v in zip(case.wrt, dirs)])
        fd = (np.asarray(plus) - np.asarray(minus)) / (2 * eps)
        ad = np.asarray(case.contract(got, dirs))
        worst = max(worst, float(np.max(np.abs(ad - fd)) / (1.0 + np.max(np.abs(fd)))))
    return got, to_ref, worst


def reference_of(case):
    """The canonical derivative of the reference tool (jax, else torch), or None."""
    for prefix in ("jax", "torch"):
        for d in case.derivatives:
            if d.tool.startswith(prefix):
                return d.tool, (d, problems.as_numpy(block(d.fn(*d.args))))
    return None, None


def run_case(case, budget, rng, failures):
    """The rows of one case: checks, timings, peak memory."""
    say(f"\n== {case.problem} {case.size}")
    ref_tool, reference = reference_of(case)
    good = []
    for d in case.derivatives:
        _, to_ref, fd = check(case, d, reference, rng)
        ok = fd < 1e-5 and (to_ref is None or to_ref < 1e-8)
        verdict = "ok" if ok else "FAIL"
        ref_text = f"vs {ref_tool} {to_ref:.1e}" if to_ref is not None else ""
        say(
            f"   check {d.tool} ({d.form}): {ref_text} vs differences {fd:.1e} {verdict}"
        )
        if not ok:
            failures.append(f"{case.problem} {case.size} {d.tool} ({d.form})")
        else:
            good.append((d, to_ref, fd))
    candidates = dict(case.objectives)
    for d, _, _ in good:
        candidates[f"{d.tool} ({d.form})"] = (d.fn, d.args)
    checked = {f"{d.tool} ({d.form})" for d, _, _ in good}  # called by check()
    best, rounds = timed(candidates, budget, warm=checked)
    say(f"   timed in {rounds} round(s)")
    rows = []
    for d, to_ref, fd in good:
        t = best[f"{d.tool} ({d.form})"]
        own = best[d.objective]
        numpy_obj = best[f"numpy {d.form}"] if d.form == "loop" else best["numpy vec"]
        rows.append(
            {
                "problem": case.problem,
                "size": case.size,
                "work": case.work,
                "tool": d.tool,
                "form": d.form,
                "objective_ms": own * 1e3,
                "derivative_ms": t * 1e3,
                "ratio": t / own,
                "ratio_numpy": t / numpy_obj,
                "vs_reference": to_ref,
                "reference": ref_tool,
                "vs_differences": fd,
            }
        )
        say(
            f"   {d.tool:<28}{d.form:<5}{t * 1e3:>11.3f} ms{t / own:>9.2f}x "
            f"(objective {d.objective}: {own * 1e3:.3f} ms)"
        )
    memory = []
    if case.memory:
        for d, _, _ in good:
            if d.tool.startswith(("ad_compiler", "hand")):
                obj_fn, obj_args = case.objectives[d.objective]
                o, g = peak_bytes(obj_fn, obj_args), peak_bytes(d.fn, d.args)
                memory.append(
                    {
                        "problem": case.problem,
                        "size": case.size,
                        "tool": d.tool,
                        "form": d.form,
                        "objective_MB": o / 1e6,
                        "derivative_MB": g / 1e6,
                        "inputs_MB": case.inputs_bytes / 1e6,
                        "ratio": g / (o + case.inputs_bytes),
                    }
                )
                say(
                    f"   peak {d.tool} ({d.form}): {g / 1e6:.1f} MB, objective {o / 1e6:.1f} MB"
                )
    return rows, memory


def run_fill(sizes, budget):
    say("\n== fill loop")
    rows = []
    for n, objective, gradient in problems.fill_cases(sizes):
        best, _ = timed({"f": objective, "grad": gradient}, budget)
        rows.append(
            {
                "n": n,
                "objective_ms": best["f"] * 1e3,
                "gradient_ms": best["grad"] * 1e3,
                "ratio": best["grad"] / best["f"],
            }
        )
        say(f"   n={n:<6}{best['f'] * 1e3:>10.3f} ms{best['grad'] * 1e3:>12.3f} ms")
    for row in rows:
        row["growth"] = row["gradient_ms"] / rows[0]["gradient_ms"]
    return rows


ISSUE_SIZES = {"GMM": "d=10 k=25 n=1000", "LSTM": "l=2 b=14 c=256"}


def pick(rows, problem, tool, form):
    """The row of the issue's size for that problem, else of the largest size."""
    found = [
        r
        for r in rows
        if r["problem"] == problem and r["tool"] == tool and r["form"] == form
    ]
    issue = [r for r in found if r["size"] == ISSUE_SIZES.get(problem)]
    return (issue or sorted(found, key=lambda r: r["work"]))[-1:] if found else []


def targets(rows, memory, fill):
    """Issue 18's "Done when" lines, measured: what, the limit, the value."""
    out = []
    for problem, tool, limit in (
        ("GMM", "ad_compiler grad", 4),
        ("LSTM", "ad_compiler grad", 3),
        ("BA", "ad_compiler jacobian", 4),
        ("BA", "ad_compiler vjp, 2 seeds", 4),
    ):
        for form in ("loop", "vec"):
            for r in pick(rows, problem, tool, form):
                out.append(
                    {
                        "what": f"{problem} {r['size']} {tool} ({form}) ÷ objective",
                        "limit": limit,
                        "value": r["ratio"],
                    }
                )
    for form in ("loop", "vec"):
        for r in pick(rows, "GMM", "ad_compiler grad", form):
            for m in memory:
                if (m["size"], m["tool"], m["form"]) == (r["size"], r["tool"], form):
                    out.append(
                        {
                            "what": f"GMM {m['size']} ad_compiler grad ({form}) peak"
                            " memory ÷ (objective's + inputs)",
                            "limit": 4,
                            "value": m["ratio"],
                        }
                    )
    if fill:
        out.append(
            {
                "what": f"fill loop gradient time, n = {fill[-1]['n']} ÷ n ="
                f" {fill[0]['n']} ({fill[-1]['n'] // fill[0]['n']}x the work)",
                "limit": 12 * (fill[-1]["n"] // fill[0]["n"]) // 8,
                "value": fill[-1]["growth"],
            }
        )
    for t in out:
        t["met"] = t["value"] <= t["limit"]
    return out


def commit():
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a test)")
    parser.add_argument("--out", default=str(HERE), help="where the outputs go")
    parser.add_argument("--budget", type=float, default=None, help="seconds a case")
    parser.add_argument("--only", nargs="*", help="problems to run (default all)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    budget = args.budget if args.budget is not None else (0.2 if args.quick else 10.0)
    libs = libraries()
    line = _harness.python_line(
        _harness.versions(["numpy", "jax", "jaxlib", "torch", "autograd"])
    )
    say(line)
    started = time.time()
    rng = np.random.default_rng(1)
    failures, rows, memory, notes = [], [], [], []
    for problem, builder in BUILDERS.items():
        if args.only and problem not in args.only:
            continue
        for size in sizes[problem]:
            case = builder(*size, libs)
            r, m = run_case(case, budget, rng, failures)
            rows += r
            memory += m
            notes += [n for n in case.notes if n not in notes]
    fill = (
        run_fill(sizes["fill"], budget) if not args.only or "fill" in args.only else []
    )
    results = {
        "meta": {
            "python": line,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M UTC"
            ),
            "commit": commit(),
            "quick": args.quick,
            "budget_s": budget,
            "seconds": round(time.time() - started, 1),
            "tools": sorted(libs),
            "failures": failures,
            "notes": notes,
        },
        "rows": rows,
        "memory": memory,
        "fill": fill,
        "targets": targets(rows, memory, fill),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _harness.write_json(str(out / "results.json"), results)
    readme = out / "README.md" if (out / "README.md").exists() else HERE / "README.md"
    report.write_readme(results, readme, out / "README.md")
    report.plot(results, out / "ratios.png")
    say(f"done in {time.time() - started:.0f} s")
    if failures:
        say("FAIL: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
