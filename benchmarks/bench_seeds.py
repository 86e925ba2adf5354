"""Call-time cost of emitted gradients on the seed functions, against hand-written code.

What it measures
----------------
For each scalar seed function in ``samples/seeds.py`` (f, bishop, gaussian,
sigmoid_log2, neuron) this times one call of

* ``plain``    -- the original function, ``fn(*point)``;
* ``emitted``  -- the gradient exactly as a user gets it,
  ``g = grad(fn, argnums=(0, 1, ...))`` (all parameters) then ``g(*point)``;
* ``hand``     -- the hand-written gradient in ``benchmarks/handwritten.py``,
  ``fn_grad(*point)``.

Before timing, the emitted and hand-written gradients are checked to agree to
1e-12 relative error on every component, at the timing point and at a few more
points; a disagreement is reported and that function is not timed.

How it is timed
---------------
With :mod:`timeit` (garbage collection off), all three candidates of a function
in the same run: each candidate gets a loop count calibrated to about
``--target-ms`` per measurement, then ``--repeats`` rounds are run, each round
timing every candidate once in a rotating order (interleaved, so a burst of load
on this shared machine hits all three alike).  The reported figure is the
minimum over the rounds, in nanoseconds per call.  It includes the timeit loop
and the call itself (``fn(*point)`` with the arguments unpacked from a tuple),
which is the same for all three candidates; the loop-only overhead is printed
for reference.

How to read the table
---------------------
``emit/hand`` is the price of generated over hand-written code (target: at
most 1.5); ``emit/plain`` is what a gradient costs relative to one evaluation of
the function (target: below 3, the usual "cheap gradient" bound of reverse
mode).  Each target gets PASS or FAIL per function; the last line summarises.
The exit status is 0 whatever the outcome.  ``--json PATH`` also writes the
numbers to a JSON file.

Run as ``python benchmarks/bench_seeds.py [--repeats N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import platform
import sys
import timeit
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "samples"))

import handwritten  # noqa: E402
import seeds  # noqa: E402

from ad_compiler import grad  # noqa: E402

HAND_LIMIT = 1.5  # emitted <= 1.5 x hand-written
PLAIN_LIMIT = 3.0  # emitted < 3 x plain function
REL_TOL = 1e-12

# (function, hand-written gradient, timing point, extra points for the agreement check)
CASES = [
    (seeds.f, handwritten.f_grad, (2.0, 5.0), [(0.3, -1.2), (7.5, 0.25)]),
    (seeds.bishop, handwritten.bishop_grad, (1.5, 2.0), [(-0.7, 0.4), (0.2, -3.0)]),
    (
        seeds.gaussian,
        handwritten.gaussian_grad,
        (0.5, 0.0, 1.0),
        [(1.3, -0.4, 0.8), (-2.0, 0.5, 3.0)],
    ),
    (seeds.sigmoid_log2, handwritten.sigmoid_log2_grad, (2.0,), [(0.3,), (17.0,)]),
    (
        seeds.neuron,
        handwritten.neuron_grad,
        (0.5, -0.25, 0.1, 1.5, 2.0, 1.0),
        [(1.2, 0.3, -0.5, -1.0, 0.7, 0.2), (-0.1, 0.9, 0.4, 2.5, -1.5, 0.6)],
    ),
]


def rel_err(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0.0 else abs(a - b) / scale


def check(name, emitted, hand, points) -> list[str]:
    """Problems found comparing the emitted and hand-written gradients (or none)."""
    problems = []
    for point in points:
        got, want = emitted(*point), hand(*point)
        if not isinstance(got, tuple) or len(got) != len(want):
            expected = f"expected a {len(want)}-tuple"
            problems.append(f"{name}{point}: emitted returned {got!r}, {expected}")
            continue
        for i, (g, w) in enumerate(zip(got, want)):
            err = rel_err(g, w)
            if not err <= REL_TOL:  # also catches nan
                problems.append(
                    f"{name}{point}: component {i}: emitted {g!r}, hand-written {w!r} "
                    f"(relative error {err:.2e})"
                )
    return problems


def calibrate(timer: timeit.Timer, target_s: float) -> int:
    """A loop count giving about ``target_s`` seconds per measurement."""
    number, elapsed = timer.autorange()  # at least 0.2 s
    per_call = elapsed / number
    return max(1, int(target_s / per_call))


def measure(candidates: dict, point: tuple, repeats: int, target_s: float) -> dict:
    """Minimum ns/call per candidate, the candidates interleaved round by round."""
    timers, numbers = {}, {}
    for label, fn in candidates.items():
        timers[label] = timeit.Timer("fn(*point)", globals={"fn": fn, "point": point})
    for label, timer in timers.items():
        numbers[label] = calibrate(timer, target_s)
    best = {label: math.inf for label in candidates}
    labels = list(candidates)
    for r in range(repeats):
        order = labels[r % len(labels) :] + labels[: r % len(labels)]
        for label in order:
            t = timers[label].timeit(numbers[label]) / numbers[label]
            best[label] = min(best[label], t)
    return {label: t * 1e9 for label, t in best.items()}


def loop_overhead_ns(repeats: int) -> float:
    timer = timeit.Timer("pass")
    number = 1_000_000
    return min(timer.repeat(repeat=repeats, number=number)) / number * 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--repeats", type=int, default=30, help="interleaved rounds (default 30)")
    add("--target-ms", type=float, default=5.0, help="ms per measurement (default 5)")
    add("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    rows, problems = [], []
    for fn, hand, point, extra in CASES:
        name = fn.__name__
        nparams = len(inspect.signature(fn).parameters)
        emitted = grad(fn, argnums=tuple(range(nparams)))
        found = check(name, emitted, hand, [point] + extra)
        if found:
            problems += found
            rows.append({"function": name, "point": point, "agree": False})
            continue
        ns = measure(
            {"plain": fn, "emitted": emitted, "hand": hand},
            point,
            args.repeats,
            args.target_ms / 1000,
        )
        emit_hand = ns["emitted"] / ns["hand"]
        emit_plain = ns["emitted"] / ns["plain"]
        rows.append(
            {
                "function": name,
                "point": point,
                "agree": True,
                "plain_ns": ns["plain"],
                "emitted_ns": ns["emitted"],
                "hand_ns": ns["hand"],
                "emitted_over_hand": emit_hand,
                "emitted_over_plain": emit_plain,
                "pass_hand": emit_hand <= HAND_LIMIT,
                "pass_plain": emit_plain < PLAIN_LIMIT,
            }
        )
        print(f"  timed {name}", flush=True)

    overhead = loop_overhead_ns(args.repeats)
    verdict = {True: "PASS", False: "FAIL"}
    header = (
        f"{'function':<14}{'plain ns':>10}{'emitted ns':>12}{'hand ns':>10}"
        f"{'emit/hand':>11}{'emit/plain':>12}  {'<=1.5x hand':<12}{'<3x plain':<10}"
    )
    print()
    python = f"Python {platform.python_version()} on {platform.machine()}"
    print(f"{python}; ns per call, minimum of {args.repeats} interleaved rounds")
    print(f"of ~{args.target_ms:g} ms each.")
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        if not row["agree"]:
            message = "emitted and hand-written gradients disagree"
            print(f"{row['function']:<14}{message:>55}")
            continue
        print(
            f"{row['function']:<14}{row['plain_ns']:>10.1f}{row['emitted_ns']:>12.1f}"
            f"{row['hand_ns']:>10.1f}{row['emitted_over_hand']:>11.2f}"
            f"{row['emitted_over_plain']:>12.2f}  {verdict[row['pass_hand']]:<12}"
            f"{verdict[row['pass_plain']]:<10}"
        )
    print("-" * len(header))
    print(f"(timeit loop overhead alone: {overhead:.1f} ns/iteration, included above)")
    for p in problems:
        print(f"DISAGREE: {p}")

    timed = [r for r in rows if r["agree"]]
    n_hand = sum(r["pass_hand"] for r in timed)
    n_plain = sum(r["pass_plain"] for r in timed)
    n_both = sum(r["pass_hand"] and r["pass_plain"] for r in timed)
    ok = n_both == len(rows)
    print()
    print(
        f"SUMMARY: {'PASS' if ok else 'FAIL'} -- "
        f"{n_both}/{len(rows)} functions meet both targets "
        f"(emitted <= {HAND_LIMIT}x hand-written: {n_hand}/{len(rows)}; "
        f"emitted < {PLAIN_LIMIT:g}x plain: {n_plain}/{len(rows)}; "
        f"gradients agree: {len(timed)}/{len(rows)})"
    )

    if args.json:
        result = {
            "benchmark": "bench_seeds",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "repeats": args.repeats,
            "target_ms": args.target_ms,
            "loop_overhead_ns": overhead,
            "targets": {
                "emitted_over_hand_max": HAND_LIMIT,
                "emitted_over_plain_lt": PLAIN_LIMIT,
            },
            "rows": rows,
            "problems": problems,
            "pass": ok,
        }
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
