"""Symbolic differentiation (SymPy diff + cse) against emitted reverse mode: the logistic map.

What it measures
----------------
The function is the logistic map iterated ``n`` times (``logistic`` below, the
same as ``samples/control_flow.py``), with ``n`` fixed to a constant k, for
k = 1..12 (``--quick``: 1..6).  For each k, two gradient modules are built from
``samples/control_flow.py`` with :func:`ad_compiler.tools.files.compile_file` and
``fix={"n": k}``:

* ``emitted``  -- the default reverse mode: a loop of k iterations that records
  d l_next / d l on a list tape, then a loop multiplying the tape back;
* ``symbolic`` -- ``mode="symbolic"``: the loop unrolled into one SymPy
  expression, differentiated with ``sympy.diff``, shared subexpressions taken
  out with ``sympy.cse`` and printed as straight-line Python.

Both define ``logistic_grad(l)`` (n is a constant) and are loaded with
``exec``.  Per k the script records:

* compile time, seconds: one ``compile_file`` call per mode and k, after one
  warm-up call of each mode at k = 1 (which pays the imports of SymPy and
  black) and with SymPy's cache cleared before each call, so every symbolic
  compilation starts cold as in a fresh ``adc compile --mode symbolic``;
* code lines: the non-blank lines of ``logistic_grad``'s body that are not
  comments and not its docstring, as black formats them (black wraps a long
  expression over several lines, so the statement count and the number of
  arithmetic operations are printed in the progress lines on stderr as well);
* module size: the characters of the whole module text (with its docstrings);
* the size of SymPy's expression without and with ``cse``: the script rebuilds
  the unrolled map with SymPy itself (``y = 4*y*(1 - y)`` k times from a real
  symbol ``l``), takes ``sympy.diff`` and ``sympy.cse`` of it, and counts the
  operations of the derivative written out as a tree, i.e. with no sharing (an
  n-ary ``+`` or ``*`` counts n - 1, any other operation 1; counted with a
  memo, so it costs nothing even where the tree has hundreds of thousands of
  operations), against the same count summed over the assignments and the
  result after ``cse``.  This is a reconstruction, independent of
  ``compile_file``'s internals (it gives the same number of ``cse``
  assignments); its ``diff`` costs about 3 s at k = 12;
* call time at l = 0.3 of ``plain`` (``logistic(0.3, k)``), ``emitted`` and
  ``symbolic``, reported only as ratios ``emitted/plain``, ``symbolic/plain``
  and ``symbolic/emitted``, since this shared machine is noisy.

Correctness gate
----------------
Before timing, for every k, both gradients at l = 0.3 are compared with a
central finite difference of ``logistic`` (step h = 1e-4 * 2**-k, since the
derivative grows like 2**k; float FD at this step is good to ~1e-8 here) to a
relative error of 1e-6, and with each other to 1e-9.  If any comparison fails
the script prints every failure and exits with status 1 without timing: a
benchmark of wrong code is worthless.

How it is timed
---------------
With :mod:`timeit` (garbage collection off, timeit's default), every
(candidate, k) pair in the same run: each pair gets a loop count calibrated to
about ``--target-ms`` per measurement, then ``--repeats`` rounds are run, each
timing every pair once in a rotating order, so that a burst of load on the
machine hits all candidates alike.  The figure kept is the minimum over the
rounds, in ns per call (it includes the timeit loop and the ``fn(*args)``
call); ratios are formed from these minima.

Output
------
Progress on stderr (one line per k while building, then one per 10 timing
rounds); on stdout a markdown table of compile time, code size and call-time
ratios, a markdown table of the SymPy tree operation counts, then ns per call
for reference.  ``--plot PNG`` also writes two panels: code lines against k and
call time relative to ``plain`` against k, both with a log y axis.  A full run
takes about 35 s on this 2-core machine, 15 s of it SymPy compiling
k = 10..12; ``--quick`` about 5 s.

Run as ``python benchmarks/bench_symbolic.py [--quick] [--repeats N]
[--target-ms MS] [--plot PNG]`` from the repository root.
"""

from __future__ import annotations

import argparse
import ast
import math
import platform
import sys
import time
import timeit
from pathlib import Path

import ad_compiler
from ad_compiler.tools.files import compile_file

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "samples" / "control_flow.py"
SAMPLE_NAME = "samples/control_flow.py"

L0 = 0.3
SIZES = tuple(range(1, 13))
QUICK_SIZES = tuple(range(1, 7))
MODES = ("emitted", "symbolic")  # label -> compile_file mode below
COMPILE_MODE = {"emitted": "reverse", "symbolic": "symbolic"}
CANDIDATES = ("plain",) + MODES
FD_TOL = 1e-6
AGREE_TOL = 1e-9


def logistic(l, n):
    for _ in range(n):
        l = 4.0 * l * (1.0 - l)
    return l


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rel_err(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


# --- building -------------------------------------------------------------------------
def clear_sympy_cache() -> None:
    from sympy.core.cache import clear_cache

    clear_cache()


def build(text: str, label: str, k: int) -> tuple[str, float]:
    """The module text of one gradient and the seconds ``compile_file`` took."""
    if label == "symbolic":
        clear_sympy_cache()
    start = time.perf_counter()
    src = compile_file(
        text,
        SAMPLE_NAME,
        functions=["logistic"],
        fix={"n": k},
        mode=COMPILE_MODE[label],
    )
    return src, time.perf_counter() - start


def load(src: str, label: str, k: int):
    ns: dict = {}
    exec(compile(src, f"<{label} n={k}>", "exec"), ns)
    return ns["logistic_grad"]


def code_size(src: str, name: str = "logistic_grad") -> dict:
    """Lines (non-blank, non-comment, non-docstring) of the function body, its
    statements, and its arithmetic operations (binary and unary operators)."""
    tree = ast.parse(src)
    fn = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == name
    )
    body = fn.body
    has_doc = (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )
    start = body[0].end_lineno + 1 if has_doc else body[0].lineno
    lines = src.splitlines()[start - 1 : fn.end_lineno]
    code = [s for s in lines if s.strip() and not s.strip().startswith("#")]
    stmts = sum(isinstance(node, ast.stmt) for node in ast.walk(fn)) - 1 - has_doc
    ops = sum(isinstance(node, (ast.BinOp, ast.UnaryOp)) for node in ast.walk(fn))
    return {"lines": len(code), "stmts": stmts, "ops": ops}


def sympy_sizes(k: int) -> tuple[int, int]:
    """Operations of d/dl of the k-fold map written as a tree: raw, and after cse."""
    import sympy as sp

    l = sp.Symbol("l", real=True)
    y = l
    for _ in range(k):
        y = 4 * y * (1 - y)
    d = sp.diff(y, l)
    definitions, reduced = sp.cse([d], symbols=sp.numbered_symbols("t"))
    memo: dict = {}

    def ops(e) -> int:
        if e not in memo:
            if not e.args:
                memo[e] = 0
            else:
                own = len(e.args) - 1 if isinstance(e, (sp.Add, sp.Mul)) else 1
                memo[e] = own + sum(ops(a) for a in e.args)
        return memo[e]

    after = sum(ops(rhs) for _, rhs in definitions) + sum(ops(e) for e in reduced)
    return ops(d), after


# --- checking -------------------------------------------------------------------------
def check(k: int, grads: dict) -> list[str]:
    """Failures of the finite-difference and agreement checks at l = L0."""
    h = 1e-4 * 2.0**-k
    fd = (logistic(L0 + h, k) - logistic(L0 - h, k)) / (2 * h)
    problems, values = [], {}
    for label, g in grads.items():
        try:
            values[label] = g(L0)
        except Exception as exc:  # noqa: BLE001 -- reported, then the run fails
            problems.append(
                f"n={k}: {label} gradient raised {type(exc).__name__}: {exc}"
            )
            continue
        err = rel_err(values[label], fd)
        if not err <= FD_TOL:  # also catches nan
            problems.append(
                f"n={k}: {label} gradient {values[label]!r}, central difference {fd!r} "
                f"(relative error {err:.2e} > {FD_TOL:g})"
            )
    if len(values) == 2:
        err = rel_err(values["emitted"], values["symbolic"])
        if not err <= AGREE_TOL:
            problems.append(
                f"n={k}: emitted {values['emitted']!r} and symbolic "
                f"{values['symbolic']!r} disagree (relative error {err:.2e} > {AGREE_TOL:g})"
            )
    return problems


# --- timing ---------------------------------------------------------------------------
def calibrate(timer: timeit.Timer, target_s: float) -> int:
    """A loop count giving about ``target_s`` per measurement (at least one call)."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= 0.05 or number >= 1_000_000:
            break
        number *= 2 if elapsed > 0.005 else 10
    return max(1, round(target_s * number / elapsed))


def measure(calls: dict, repeats: int, target_s: float) -> dict:
    """{key: minimum ns/call}; ``calls`` maps (label, k) to (fn, args), all interleaved."""
    timers = {
        key: timeit.Timer("fn(*args)", globals={"fn": fn, "args": args})
        for key, (fn, args) in calls.items()
    }
    numbers = {key: calibrate(timer, target_s) for key, timer in timers.items()}
    best = {key: math.inf for key in timers}
    keys = list(timers)
    for r in range(repeats):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            t = timers[key].timeit(numbers[key]) / numbers[key]
            best[key] = min(best[key], t)
        if (r + 1) % 10 == 0 or r + 1 == repeats:
            log(f"  timing round {r + 1}/{repeats}")
    return {key: t * 1e9 for key, t in best.items()}


# --- output ---------------------------------------------------------------------------
def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [r["n"] for r in rows]
    styles = {"emitted": ("tab:orange", "^"), "symbolic": ("tab:purple", "o")}
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for label in MODES:
        color, marker = styles[label]
        left.semilogy(
            ks,
            [r["size"][label]["lines"] for r in rows],
            marker=marker,
            color=color,
            label=label,
        )
        right.semilogy(
            ks,
            [r["ns"][label] / r["ns"]["plain"] for r in rows],
            marker=marker,
            color=color,
            label=f"{label} / plain",
        )
    left.set_title("Code lines of logistic_grad's body")
    left.set_ylabel("lines (non-blank, no comments or docstring)")
    right.axhline(1.0, color="0.5", ls=":", label="plain")
    right.set_title("Gradient call time relative to one evaluation")
    right.set_ylabel("time / time of logistic(0.3, n)")
    for ax in (left, right):
        ax.set_xlabel("iterations n (fixed at compile time)")
        ax.set_xticks(ks)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(
        "Logistic map l ← 4l(1 − l): SymPy diff + cse against emitted reverse mode",
        fontsize=12,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="n = 1..6 and fewer rounds")
    add("--repeats", type=int, help="interleaved timing rounds (default 30, --quick 5)")
    add("--target-ms", type=float, help="ms per measurement (default 5, --quick 2)")
    add("--plot", metavar="PNG", help="write the two-panel plot to this file")
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 30)
    target_ms = args.target_ms or (2.0 if args.quick else 5.0)
    sizes = QUICK_SIZES if args.quick else SIZES
    text = SAMPLE.read_text()

    python = f"Python {platform.python_version()} on {platform.machine()}"
    print(f"Logistic map l <- 4.0 * l * (1.0 - l) at l = {L0}, n = {list(sizes)}")
    print(f"{python}, ad_compiler {ad_compiler.__version__}")
    print()

    # Warm-up: imports (SymPy, black) and first-call costs stay out of the figures.
    for label in MODES:
        build(text, label, 1)

    rows, problems = [], []
    for k in sizes:
        row = {"n": k, "compile_s": {}, "size": {}, "chars": {}, "grads": {}}
        for label in MODES:
            src, seconds = build(text, label, k)
            row["compile_s"][label] = seconds
            row["size"][label] = code_size(src)
            row["chars"][label] = len(src)
            row["grads"][label] = load(src, label, k)
        problems += check(k, row["grads"])
        row["tree_ops"] = sympy_sizes(k)
        rows.append(row)
        parts = [
            f"{label} {row['compile_s'][label]:7.3f} s, "
            f"{row['size'][label]['lines']:3d} lines, "
            f"{row['size'][label]['stmts']:3d} statements, "
            f"{row['size'][label]['ops']:4d} ops"
            for label in MODES
        ]
        raw, after = row["tree_ops"]
        parts.append(f"SymPy tree ops {raw:,} raw, {after:,} after cse")
        log(f"n={k:>2}: " + "; ".join(parts))

    if problems:
        print("FAIL: gradients do not agree -- not timed")
        for p in problems:
            print(f"  {p}")
        return 1
    print(
        f"Correctness: at every n, both gradients match a central difference to "
        f"{FD_TOL:g} and each other to {AGREE_TOL:g} (relative)."
    )

    calls = {}
    for row in rows:
        k = row["n"]
        calls["plain", k] = (logistic, (L0, k))
        for label in MODES:
            calls[label, k] = (row["grads"][label], (L0,))
    log(f"timing {len(calls)} (candidate, n) pairs x {repeats} interleaved rounds")
    timed = measure(calls, repeats, target_ms / 1000)
    for row in rows:
        row["ns"] = {c: timed[c, row["n"]] for c in CANDIDATES}

    print()
    print(
        f"Compile time (one call after warm-up), code size, and call-time ratios "
        f"(minimum of {repeats} interleaved rounds of ~{target_ms:g} ms):"
    )
    print()
    print(
        "| n | compile s, emitted | compile s, symbolic | lines, emitted "
        "| lines, symbolic | chars, emitted | chars, symbolic "
        "| emitted / plain | symbolic / plain | symbolic / emitted |"
    )
    print("|---:" * 10 + "|")
    for row in rows:
        c, s, ch, ns = row["compile_s"], row["size"], row["chars"], row["ns"]
        cells = [
            f"{row['n']}",
            f"{c['emitted']:.3f}",
            f"{c['symbolic']:.3f}",
            f"{s['emitted']['lines']}",
            f"{s['symbolic']['lines']}",
            f"{ch['emitted']:,}",
            f"{ch['symbolic']:,}",
            f"{ns['emitted'] / ns['plain']:.2f}",
            f"{ns['symbolic'] / ns['plain']:.2f}",
            f"{ns['symbolic'] / ns['emitted']:.2f}",
        ]
        print("| " + " | ".join(cells) + " |")

    print()
    print("SymPy's derivative expression, rebuilt in this script: operations written")
    print("out as a tree (no sharing), raw and after cse:")
    print()
    print("| n | tree ops, raw diff | tree ops, after cse | raw / cse |")
    print("|---:|---:|---:|---:|")
    for row in rows:
        raw, after = row["tree_ops"]
        print(f"| {row['n']} | {raw:,} | {after:,} | {raw / after:,.1f} |")

    print()
    print("For reference, ns per call (absolute times move with the machine's load):")
    header = f"{'n':>4}" + "".join(f"{c:>12}" for c in CANDIDATES)
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['n']:>4}" + "".join(f"{row['ns'][c]:>12.1f}" for c in CANDIDATES))
    print("-" * len(header))

    if args.plot:
        plot(rows, Path(args.plot))
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
