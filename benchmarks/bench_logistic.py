"""Call-time and tape memory of emitted derivatives through a loop: the logistic map.

What it measures
----------------
The function is the logistic map iterated ``n`` times (``logistic`` below),
started at l = 0.3141, for n = 10, 100, 1,000, 10,000 and 100,000 (``--quick``:
10, 100 and 1,000).  Per n it times one call of five candidates, side by side:

* ``plain``       -- the function itself, ``logistic(l, n)``;
* ``hand_fwd``    -- hand-written forward mode, ``hand_fwd(l, n, 1.0)``: l and its
  tangent carried in the same loop, returns ``(value, derivative)``;
* ``hand_rev``    -- hand-written reverse mode, ``hand_rev(l, n)``: a forward sweep
  appending l to a Python list (the tape) before each iteration, then a reverse
  sweep over ``reversed(tape)``; returns the derivative;
* ``emitted_fwd`` -- ``callables.compile_derivative(logistic, "jvp", 0)`` called as
  ``(l, n, 1.0)``, returning ``(value, derivative)``;
* ``emitted_rev`` -- ``grad(logistic, argnums=0)`` called as ``(l, n)``.

``emitted_fwd`` is the function that ``ad_compiler.jvp`` itself calls: the
public ``jvp(f, primals, tangents)`` takes no ``argnums`` (it differentiates
with respect to every parameter, here also the integer ``n``) and evaluates
rather than returning a function, so it would time a cache look-up and argument
checks besides the emitted code.  Both emitted functions are the loaded emitted
code with no wrapper; their ``.source`` is printed at the top of the output.

If building an emitted candidate raises an ``AdError`` (the compiler rejects
the function), the script prints one line saying so and why, and still times
and plots the others.  Any other exception while building them is a compiler
bug: it is handled the same way, but the line says ``INTERNAL COMPILER ERROR``
and where it was raised.

Tape memory: with :mod:`tracemalloc`, the peak of memory allocated during one
call of ``hand_rev`` and of ``emitted_rev`` at each n, minus the same peak for
n = 0 (the fixed cost of a call), in bytes and bytes per iteration.

Correctness gate
----------------
Before timing, every derivative candidate is checked, and a candidate that
fails is reported and not timed (nor measured for memory):

* against central finite differences of ``logistic`` for n = 1..20, with step
  h = 1e-4 * 2**-n (the derivative grows like 2**n, so the step must shrink
  with it), to a relative error of 1e-5.  Beyond n = 20 the float noise of the
  difference quotient itself (about eps * 2**n / h) makes the comparison
  meaningless; float FD at this step is good to ~2e-6 at n = 20;
* the emitted candidates against the hand-written ones (and the value returned
  by ``emitted_fwd`` against ``plain``) to 1e-9 relative, for n = 0..30 and at
  every timed n.  This holds at all n as long as the emitted code evaluates the
  primal ``4.0 * l * (1.0 - l)`` with the same float operations as Python does
  (the compiler does not reassociate): the trajectory is then bit for bit the
  same, and only the rounding of the product of the factors (4 - 8 l) differs,
  which stays near n * eps (the hand-written forward and reverse derivatives,
  multiplied in opposite orders, agree to 2e-15 at n = 1,000; a derivative
  factor written ``4.0 * (1.0 - l) - 4.0 * l`` agrees to 2e-14).  A primal
  rounded differently (say ``4.0 * l - 4.0 * l * l``) diverges chaotically,
  errors growing like 2**n, and is reported as a disagreement from n = 21 on,
  although it passes the finite-difference check; a note says so when that
  happens.  (``4.0 * (l * (1.0 - l))`` is fine: scaling by 4 is exact.)

At this start point the derivative overflows the float range from n = 1,024
on (it is -1.07e301 at n = 1,000), so it is +-inf at n = 10,000 and 100,000;
two overflowed derivatives count as agreement, so at those n the check compares
only the value of the function.  (A derivative that multiplies adjoints
into several terms, such as ``4.0 * ((1.0 - l) * g) - 4.0 * l * g``, overflows
to nan rather than inf, inf - inf being nan; both count as overflowed.)  Timing is unaffected:
multiplying by inf costs what multiplying by a finite float does (checked: the
1,000-iteration forward loop runs no slower with an infinite tangent).

How it is timed
---------------
With :mod:`timeit` (garbage collection off, timeit's default), all candidates at
all n in the same run: each (candidate, n) pair gets a loop count calibrated to
about ``--target-ms`` per measurement (at least one call, so about 7 to 20 ms at
n = 100,000), then ``--repeats`` rounds are run, each round timing every pair
once in a rotating order (interleaved across candidates and sizes, so a burst
of load on this shared machine hits all of them alike and does not bend the
per-iteration line).  The reported figure is the minimum over the rounds, in nanoseconds per
call; it includes the timeit loop and the call with ``*args`` unpacking (the
loop-only overhead is printed for reference; it is negligible beyond n = 10).

How to read the output
----------------------
The first table is ns per call.  The second gives ratios: ``erev/plain`` is
what a reverse-mode gradient costs relative to one evaluation of the function,
target below 3 at every n (the cheap-gradient principle of reverse mode), with
PASS/FAIL per n; ``efwd/plain``, ``erev/hrev`` (price of generated over
hand-written reverse mode) and ``efwd/hfwd`` are reported without a target, and
``hrev/plain`` and ``hfwd/plain`` show what hand-written code achieves.  The
third table is ns per iteration (ns / n) per candidate: for linear time it stays
flat; the check is max/min of ``emitted_rev``'s ns per iteration over n >= 1,000
at most 1.5.  The fourth is tape memory: bytes/iteration should be flat (about
24 bytes of float object plus 8 of list slot for a list tape; list
over-allocation adds up to ~12%), checked the same way.  Below n = 1,000 the
figure is smaller because CPython keeps up to 100 freed float objects on a free
list and reuses them without allocating, which tracemalloc does not see.  The
last line summarises (``NOT MEASURED`` while ``emitted_rev`` is unavailable).
A full run takes 10-13 s without the emitted candidates and about 15 s with two
emitted candidates as fast as the hand-written ones; ``--quick`` about 2 s.
The exit status is 0 whatever the outcome.  ``--json PATH`` also
writes the numbers to a JSON file; the plot (time per call and tape memory
against n, log-log) goes to ``benchmarks/logistic_scaling.png`` unless
``--plot PNG`` or ``--no-plot`` says otherwise.

Run as ``python benchmarks/bench_logistic.py [--quick] [--repeats N]
[--target-ms MS] [--json PATH] [--plot PNG | --no-plot]``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import timeit
import traceback
import tracemalloc
from pathlib import Path

import ad_compiler
from ad_compiler import callables

HERE = Path(__file__).resolve().parent

L0 = 0.3141
SIZES = (10, 100, 1_000, 10_000, 100_000)
QUICK_SIZES = (10, 100, 1_000)
PLAIN_LIMIT = 3.0  # emitted_rev < 3 x plain
FLAT_LIMIT = 1.5  # max/min of per-iteration time and memory over n >= FLAT_FROM
FLAT_FROM = 1_000
FD_NS = range(1, 21)
FD_TOL = 1e-5
AGREE_NS = range(0, 31)
AGREE_TOL = 1e-9
MAX_SHOWN = 6  # disagreements printed per candidate

CANDIDATES = ("plain", "hand_fwd", "hand_rev", "emitted_fwd", "emitted_rev")
FORWARD = ("hand_fwd", "emitted_fwd")  # take (l, n, l_dot), return (value, derivative)
REVERSE = ("hand_rev", "emitted_rev")  # take (l, n), return the derivative


def logistic(l, n):
    for _ in range(n):
        l = 4.0 * l * (1.0 - l)
    return l


def hand_fwd(l, n, l_dot):
    """Forward mode by hand: (logistic(l, n), d/dl logistic(l, n) * l_dot)."""
    for _ in range(n):
        l_dot = l_dot * (4.0 - 8.0 * l)
        l = 4.0 * l * (1.0 - l)
    return l, l_dot


def hand_rev(l, n):
    """Reverse mode by hand: d/dl logistic(l, n), with a list as the tape."""
    tape = []
    for _ in range(n):
        tape.append(l)
        l = 4.0 * l * (1.0 - l)
    l_bar = 1.0
    for l in reversed(tape):
        l_bar = l_bar * (4.0 - 8.0 * l)
    return l_bar


def args_for(label: str, n: int) -> tuple:
    return (L0, n, 1.0) if label in FORWARD else (L0, n)


def derivative(label: str, fn, l: float, n: int) -> float:
    return fn(l, n, 1.0)[1] if label in FORWARD else fn(l, n)


def rel_err(a: float, b: float) -> float:
    """Relative error; equal values give 0, as do two overflowed values (see the
    module docstring); nan against a finite value never passes."""
    if a == b or (not math.isfinite(a) and not math.isfinite(b)):
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


# --- building and checking the candidates ---------------------------------------------
def build_emitted() -> tuple[dict, dict, dict]:
    """The emitted candidates that compile; why the others do not (long and short)."""
    built, errors, short = {}, {}, {}
    makers = {
        "emitted_fwd": lambda: callables.compile_derivative(logistic, "jvp", 0),
        "emitted_rev": lambda: ad_compiler.grad(logistic, argnums=0),
    }
    for label, make in makers.items():
        try:
            built[label] = make()
        except ad_compiler.AdError as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            errors[label] = f"{type(exc).__name__}: {first}"
            short[label] = getattr(exc, "message", first)
        except Exception as exc:  # noqa: BLE001 -- a compiler bug, reported as such
            where = traceback.extract_tb(exc.__traceback__)[-1]
            place = f"{Path(where.filename).name}:{where.lineno}"
            errors[label] = (
                f"INTERNAL COMPILER ERROR (not an AdError) {type(exc).__name__}: {exc} "
                f"(raised at {place})"
            )
            short[label] = f"internal error {type(exc).__name__} at {place}"
    return built, errors, short


def check_fd(label: str, fn) -> tuple[float, list[str]]:
    """Largest relative error against central differences for n in FD_NS, and problems."""
    worst, problems = 0.0, []
    for n in FD_NS:
        h = 1e-4 * 2.0**-n
        fd = (logistic(L0 + h, n) - logistic(L0 - h, n)) / (2 * h)
        try:
            got = derivative(label, fn, L0, n)
        except Exception as exc:  # noqa: BLE001 -- report and do not time
            problems.append(f"{label}(n={n}) raised {type(exc).__name__}: {exc}")
            return math.nan, problems
        err = rel_err(got, fd)
        worst = max(worst, err) if not math.isnan(err) else math.nan
        if not err <= FD_TOL:  # also catches nan
            problems.append(
                f"{label}(n={n}): {got!r}, central difference {fd!r} "
                f"(relative error {err:.2e} > {FD_TOL:g})"
            )
    return worst, problems


def check_agree(label: str, fn, ns) -> tuple[float, list[str]]:
    """Largest relative error of an emitted candidate against the hand-written one."""
    hand = hand_fwd if label in FORWARD else hand_rev
    worst, problems = 0.0, []
    for n in ns:
        try:
            got = fn(*args_for(label, n))
        except Exception as exc:  # noqa: BLE001 -- report and do not time
            problems.append(f"{label}(n={n}) raised {type(exc).__name__}: {exc}")
            return math.nan, problems
        want = hand(*args_for(label, n))
        if label in FORWARD:
            if not isinstance(got, tuple) or len(got) != 2:
                problems.append(f"{label}(n={n}) returned {got!r}, expected a 2-tuple")
                continue
            pairs = [
                ("value", got[0], logistic(L0, n)),
                ("derivative", got[1], want[1]),
            ]
        else:
            pairs = [("derivative", got, want)]
        for what, g, w in pairs:
            err = rel_err(g, w)
            worst = max(worst, err) if not math.isnan(err) else math.nan
            if not err <= AGREE_TOL:
                problems.append(
                    f"{label}(n={n}) {what}: {g!r}, hand-written/plain {w!r} "
                    f"(relative error {err:.2e} > {AGREE_TOL:g})"
                )
    return worst, problems


# --- timing and memory ----------------------------------------------------------------
def calibrate(timer: timeit.Timer, target_s: float) -> int:
    """A loop count giving about ``target_s`` per measurement (at least one call)."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= 0.05 or number >= 1_000_000:
            break
        number *= 2 if elapsed > 0.005 else 10
    return max(1, round(target_s * number / elapsed))


def measure(candidates: dict, sizes, repeats: int, target_s: float) -> dict:
    """{n: {label: minimum ns/call}}, every (candidate, n) pair interleaved round by round."""
    timers, numbers = {}, {}
    for n in sizes:
        for label, fn in candidates.items():
            env = {"fn": fn, "args": args_for(label, n)}
            timers[label, n] = timeit.Timer("fn(*args)", globals=env)
    for key, timer in timers.items():
        numbers[key] = calibrate(timer, target_s)
    best = {key: math.inf for key in timers}
    keys = list(timers)
    for r in range(repeats):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            t = timers[key].timeit(numbers[key]) / numbers[key]
            best[key] = min(best[key], t)
        if (r + 1) % 10 == 0 or r + 1 == repeats:
            print(f"  round {r + 1}/{repeats}", flush=True)
    return {n: {c: best[c, n] * 1e9 for c in candidates} for n in sizes}


def loop_overhead_ns(repeats: int) -> float:
    timer = timeit.Timer("pass")
    number = 1_000_000
    return min(timer.repeat(repeat=repeats, number=number)) / number * 1e9


def peak_bytes(fn, args: tuple, tries: int = 3) -> int:
    """Smallest peak of traced memory above the starting level during one call."""
    best = None
    for _ in range(tries):
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn(*args)
        peak = tracemalloc.get_traced_memory()[1] - before
        best = peak if best is None else min(best, peak)
    return best


def tape_memory(candidates: dict, sizes) -> dict:
    """Per reverse-mode candidate: {n: peak bytes of one call minus that at n = 0}."""
    out = {}
    tracemalloc.start()
    try:
        for label in REVERSE:
            fn = candidates.get(label)
            if fn is None:
                continue
            base = peak_bytes(fn, args_for(label, 0))
            out[label] = {n: peak_bytes(fn, args_for(label, n)) - base for n in sizes}
    finally:
        tracemalloc.stop()
    return out


def flatness(per_iter: dict, sizes) -> float | None:
    """max/min of a per-iteration figure over n >= FLAT_FROM (None if under two sizes)."""
    values = [per_iter[n] for n in sizes if n >= FLAT_FROM and n in per_iter]
    if len(values) < 2 or min(values) <= 0:
        return None
    return max(values) / min(values)


# --- output ---------------------------------------------------------------------------
def fmt(x, spec: str, width: int) -> str:
    return f"{'-':>{width}}" if x is None else f"{x:>{width}{spec}}"


def plot(rows: list[dict], memory: dict, sizes, path: Path, note: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "plain": ("k", "o", "-"),
        "hand_fwd": ("tab:blue", "s", "--"),
        "hand_rev": ("tab:orange", "^", "--"),
        "emitted_fwd": ("tab:blue", "s", "-"),
        "emitted_rev": ("tab:orange", "^", "-"),
    }
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for label in CANDIDATES:
        pts = [(r["n"], r["ns"][label]) for r in rows if label in r["ns"]]
        if not pts:
            continue
        color, marker, line = styles[label]
        xs, ys = zip(*pts)
        left.loglog(
            xs, [y / 1e3 for y in ys], marker=marker, ls=line, color=color, label=label
        )
    left.set_title("Time per call")
    left.set_xlabel("iterations n")
    left.set_ylabel("µs per call (minimum over rounds)")
    left.grid(True, which="both", alpha=0.3)
    left.legend()

    for label in REVERSE:
        if label not in memory:
            continue
        color, marker, line = styles[label]
        xs = [n for n in sizes if memory[label][n] > 0]
        ys = [memory[label][n] / 1024 for n in xs]
        right.loglog(xs, ys, marker=marker, ls=line, color=color, label=label)
    if "hand_rev" in memory and memory["hand_rev"][sizes[-1]] > 0:
        top = memory["hand_rev"][sizes[-1]] / 1024
        ref = [top * n / sizes[-1] for n in sizes]
        right.loglog(sizes, ref, ls=":", color="0.5", label="∝ n (reference)")
    right.set_title("Tape memory (tracemalloc peak of one call)")
    right.set_xlabel("iterations n")
    right.set_ylabel("KiB above a call with n = 0")
    right.grid(True, which="both", alpha=0.3)
    right.legend()

    title = f"Logistic map l ← 4l(1 − l), l₀ = {L0}: plain, hand-written and emitted"
    fig.suptitle(title + (f"\n{note}" if note else ""), fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="n = 10, 100, 1000 and fewer rounds")
    add("--repeats", type=int, help="interleaved rounds (default 30, --quick 5)")
    add("--target-ms", type=float, help="ms per measurement (default 5, --quick 2)")
    add("--json", metavar="PATH", help="also write the results as JSON")
    default_png = HERE / "logistic_scaling.png"
    add("--plot", metavar="PNG", default=str(default_png), help="plot file")
    add("--no-plot", action="store_true", help="do not write the plot")
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 30)
    target_ms = args.target_ms or (2.0 if args.quick else 5.0)
    sizes = QUICK_SIZES if args.quick else SIZES

    python = f"Python {platform.python_version()} on {platform.machine()}"
    print(f"Logistic map l <- 4.0 * l * (1.0 - l), l0 = {L0}, n = {list(sizes)}")
    print(f"{python}, ad_compiler {ad_compiler.__version__}")
    print()

    # The emitted candidates, and their source, first.
    emitted, errors, short = build_emitted()
    for label, fn in emitted.items():
        print(f"=== {label}: emitted source ===")
        print(fn.source.rstrip())
        print()
    by_reason: dict[str, list[str]] = {}
    for label, reason in errors.items():
        by_reason.setdefault(reason, []).append(label)
    for reason, labels in by_reason.items():
        print(f"emitted candidates unavailable ({', '.join(labels)}): {reason}")
    notes: dict[str, list[str]] = {}
    for label, reason in short.items():
        notes.setdefault(reason, []).append(label)
    unavailable_note = "; ".join(
        f"{' and '.join(labels)} unavailable: {reason}"
        for reason, labels in notes.items()
    )
    if errors:
        print()

    # Correctness gate.
    candidates = {"plain": logistic, "hand_fwd": hand_fwd, "hand_rev": hand_rev}
    candidates.update(emitted)
    agree_ns = sorted(set(AGREE_NS) | set(sizes))
    problems, checks, rejected = [], {}, {}
    print("Correctness gate:")
    for label in CANDIDATES[1:]:
        if label not in candidates:
            continue
        fn = candidates[label]
        fd_err, found = check_fd(label, fn)
        line = (
            f"  {label:<12} vs central differences, n = 1..{FD_NS[-1]}: "
            f"max rel. error {fd_err:.1e} (tol {FD_TOL:g})"
        )
        checks[label] = {"fd_max_rel_err": fd_err}
        if label.startswith("emitted"):
            agree_err, more = check_agree(label, fn, agree_ns)
            found += more
            checks[label]["hand_max_rel_err"] = agree_err
            line += (
                f"; vs hand-written, n = 0..{AGREE_NS[-1]} and {list(sizes)}: "
                f"{agree_err:.1e} (tol {AGREE_TOL:g})"
            )
        print(line + ("  OK" if not found else "  DISAGREE -- not timed"))
        if found:
            problems += found
            rejected[label] = found
            del candidates[label]
    chaos = [c for c in rejected if not any("central" in p for p in rejected[c])]
    if chaos:
        print(
            f"NOTE: {', '.join(chaos)} pass(es) the finite-difference check but not the "
            f"comparison with hand-written code; if the first disagreement is around "
            f"n = 20, the emitted primal probably rounds differently from "
            f"`4.0 * l * (1.0 - l)` and chaos amplifies it like 2**n."
        )
    for label, found in rejected.items():
        for p in found[:MAX_SHOWN]:
            print(f"DISAGREE: {p}")
        if len(found) > MAX_SHOWN:
            more = len(found) - MAX_SHOWN
            print(f"DISAGREE: ... and {more} more for {label} (all in --json)")
    print()

    # Timing.
    print(f"Timing {len(candidates)} candidates x {len(sizes)} sizes, interleaved:")
    timed = measure(candidates, sizes, repeats, target_ms / 1000)
    rows = [{"n": n, "ns": timed[n]} for n in sizes]
    overhead = loop_overhead_ns(repeats)
    memory = tape_memory(candidates, sizes)

    def ratio(row, a, b):
        ns = row["ns"]
        return ns[a] / ns[b] if a in ns and b in ns else None

    for row in rows:
        row["erev_plain"] = ratio(row, "emitted_rev", "plain")
        row["efwd_plain"] = ratio(row, "emitted_fwd", "plain")
        row["erev_hrev"] = ratio(row, "emitted_rev", "hand_rev")
        row["efwd_hfwd"] = ratio(row, "emitted_fwd", "hand_fwd")
        row["hrev_plain"] = ratio(row, "hand_rev", "plain")
        row["hfwd_plain"] = ratio(row, "hand_fwd", "plain")
        erp = row["erev_plain"]
        row["pass_plain"] = None if erp is None else erp < PLAIN_LIMIT

    print()
    print(f"ns per call, minimum of {repeats} interleaved rounds of ~{target_ms:g} ms")
    print("each ('-': candidate not available or not timed).")
    print()
    header = f"{'n':>8}" + "".join(f"{c:>13}" for c in CANDIDATES)
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = "".join(fmt(row["ns"].get(c), ".1f", 13) for c in CANDIDATES)
        print(f"{row['n']:>8,}{cells}")
    print("-" * len(header))
    print(f"(timeit loop overhead alone: {overhead:.1f} ns/iteration, included above)")

    verdict = {True: "PASS", False: "FAIL", None: "-"}
    print()
    ratio_cols = [
        ("erev/plain", "erev_plain"),
        ("efwd/plain", "efwd_plain"),
        ("erev/hrev", "erev_hrev"),
        ("efwd/hfwd", "efwd_hfwd"),
        ("hrev/plain", "hrev_plain"),
        ("hfwd/plain", "hfwd_plain"),
    ]
    header = (
        f"{'n':>8}"
        + "".join(f"{title:>11}" for title, _ in ratio_cols)
        + f"  {'erev <3x plain':<14}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = "".join(fmt(row[key], ".2f", 11) for _, key in ratio_cols)
        print(f"{row['n']:>8,}{cells}  {verdict[row['pass_plain']]:<14}")
    print("-" * len(header))

    # Linearity of time.
    per_iter = {
        c: {r["n"]: r["ns"][c] / r["n"] for r in rows if c in r["ns"]}
        for c in CANDIDATES
    }
    print()
    print("Time per iteration, ns / n (flat = linear in n):")
    header = f"{'candidate':<13}" + "".join(f"{n:>10,}" for n in sizes) + "  max/min"
    print(header)
    print("-" * len(header))
    flat_time = {}
    for c in CANDIDATES:
        if not per_iter[c]:
            continue
        flat_time[c] = flatness(per_iter[c], sizes)
        cells = "".join(fmt(per_iter[c].get(n), ".2f", 10) for n in sizes)
        print(f"{c:<13}{cells}  {fmt(flat_time[c], '.2f', 7)}")
    print("-" * len(header))
    print(f"(max/min over n >= {FLAT_FROM:,}; target for emitted_rev <= {FLAT_LIMIT})")

    # Tape memory.
    print()
    print("Tape memory: tracemalloc peak during one call, minus that of a call with")
    print("n = 0, in bytes and bytes per iteration (flat = linear in n):")
    header = f"{'n':>8}" + "".join(f"{c + ' B':>16}{'B/iter':>9}" for c in REVERSE)
    print(header)
    print("-" * len(header))
    for n in sizes:
        cells = ""
        for c in REVERSE:
            if c in memory:
                cells += f"{memory[c][n]:>16,}{memory[c][n] / n:>9.1f}"
            else:
                cells += f"{'-':>16}{'-':>9}"
        print(f"{n:>8,}{cells}")
    print("-" * len(header))
    flat_mem = {
        c: flatness({n: memory[c][n] / n for n in sizes}, sizes) for c in memory
    }
    mem_line = ", ".join(
        f"{c} {'-' if v is None else f'{v:.2f}'}" for c, v in flat_mem.items()
    )
    print(f"(bytes/iteration max/min over n >= {FLAT_FROM:,}: {mem_line or '-'};")
    print(
        " smaller below n = 1,000: the first ~100 floats come from CPython's free list)"
    )

    # Summary.
    print()
    if "emitted_rev" not in candidates:
        why = "rejected by the correctness gate" if "emitted_rev" in rejected else ""
        why = why or errors.get("emitted_rev", "not built")
        summary = f"SUMMARY: NOT MEASURED -- emitted_rev unavailable ({why})"
        n_pass, time_ok, mem_ok, ok = None, None, None, False
    else:
        n_pass = sum(bool(r["pass_plain"]) for r in rows)
        ft, fm = flat_time.get("emitted_rev"), flat_mem.get("emitted_rev")
        time_ok = None if ft is None else ft <= FLAT_LIMIT
        mem_ok = None if fm is None else fm <= FLAT_LIMIT
        ok = n_pass == len(rows) and time_ok is not False and mem_ok is not False
        na = f"n/a, needs two sizes >= {FLAT_FROM:,}"
        summary = (
            f"SUMMARY: {'PASS' if ok else 'FAIL'} -- emitted_rev < {PLAIN_LIMIT:g}x plain "
            f"at {n_pass}/{len(rows)} sizes; time linear in n: "
            f"{na if time_ok is None else verdict[time_ok]}; tape memory linear in n: "
            f"{na if mem_ok is None else verdict[mem_ok]}"
        )
    print(summary)

    if not args.no_plot:
        plot(rows, memory, sizes, Path(args.plot), unavailable_note)
        print(f"wrote {args.plot}")

    if args.json:
        result = {
            "benchmark": "bench_logistic",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "l0": L0,
            "sizes": list(sizes),
            "repeats": repeats,
            "target_ms": target_ms,
            "loop_overhead_ns": overhead,
            "targets": {
                "emitted_rev_over_plain_lt": PLAIN_LIMIT,
                "per_iteration_max_over_min_le": FLAT_LIMIT,
                "flat_from_n": FLAT_FROM,
            },
            "unavailable": errors,
            "checks": checks,
            "problems": problems,
            "rows": rows,
            "ns_per_iteration": {c: v for c, v in per_iter.items() if v},
            "tape_bytes": memory,
            "time_flatness": flat_time,
            "memory_flatness": flat_mem,
            "pass": ok,
        }
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
