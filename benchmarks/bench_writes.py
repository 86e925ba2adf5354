"""Element-by-element array writes: does the gradient stay linear in n?

What it measures
----------------
Two functions of ``samples/writes.py`` fill an array one element per loop
iteration, the way loops written from a textbook recurrence do:

* ``squares``  -- ``y[i] = x[i] * x[i]``, then ``np.sum(y)``;
* ``smooth``   -- ``y[i] = 0.5 * y[i - 1] + x[i]`` (reads the element written the
  iteration before), then ``np.sum(y * y)``.

For n = 250, 1,000 and 4,000 it times, side by side in one run, the function
itself, its emitted gradient (``grad(f)``) and its emitted tangent
(``jvp(f, (x,), (v,))``), and prints each derivative's cost as a multiple of
the function.  The IR is single-assignment (``y[i] = v`` makes a new array);
the emitted code writes in place where nothing can observe the old array
(``ad_compiler/backend/inplace.py``).  With copies each write costs O(n), so the
ratios would grow with n; written in place they stay flat.  It also reports
the gradient's peak memory (``tracemalloc``) against the n-element arrays it
needs, and checks every gradient against central differences first.

A second table times two loops over the rows of matrices (functions defined
below), for n = 500 ... 4,000 rows:

* ``smooth_rows`` -- ``y[i] = 0.5 * y[i - 1] + np.sin(x[i])`` over an n x 50
  matrix: the row read ``y[i - 1]`` is a view of the array being written
  (``inplace.py`` lets the writes happen in place as long as no view is read
  after a write), so the gradient should grow linearly: grad(4,000) / grad(500)
  near 8;
* ``rnn`` -- ``h = np.tanh(W @ h + U @ x[t])`` over n steps with 32 units,
  gradient with respect to W: the reverse loop accumulates ``W_bar`` each step
  (written ``W_bar += np.outer(...)`` in place).

With ``--before DIR`` (a copy of the ``ad_compiler`` package, e.g. the main
branch's) it also times, side by side in the same rounds, the gradients that
version emits (their sources are made by a subprocess importing DIR), and
prints before/after ratios.

Run as ``python benchmarks/bench_writes.py [--rounds N] [--before DIR]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "samples"))

import _harness  # noqa: E402

_harness.one_thread()

import numpy as np  # noqa: E402
import writes  # noqa: E402

from ad_compiler import grad, jvp  # noqa: E402

SIZES = (250, 1000, 4000)
ROW_SIZES = (500, 1000, 2000, 4000)
COLUMNS, UNITS = 50, 32  # --units sets UNITS


def smooth_rows(x):
    """y_0 = sin(x_0), y_i = y_(i-1) / 2 + sin(x_i), row by row; sum of squares."""
    y = np.zeros(x.shape)
    y[0] = np.sin(x[0])
    for i in range(1, x.shape[0]):
        y[i] = 0.5 * y[i - 1] + np.sin(x[i])
    return np.sum(y * y)


def rnn(W, U, x):
    """A plain recurrent network over the rows of x; the sum of its squared states."""
    h = np.zeros(W.shape[0])
    s = 0.0
    for t in range(x.shape[0]):
        h = np.tanh(W @ h + U @ x[t])
        s = s + np.sum(h * h)
    return s


def row_inputs(name: str, n: int) -> tuple:
    rng = np.random.default_rng(n)
    if name == "smooth_rows":
        return (rng.uniform(-1.0, 1.0, size=(n, COLUMNS)),)
    scale = 0.5 / np.sqrt(UNITS)
    W = scale * rng.normal(size=(UNITS, UNITS))
    U = scale * rng.normal(size=(UNITS, UNITS))
    return W, U, rng.normal(size=(n, UNITS))


def emitted_sources() -> dict:
    """The gradients' module sources, by function name, as this ad_compiler emits them."""
    out = {}
    for f in (smooth_rows, rnn):
        g = grad(f)
        g(*row_inputs(f.__name__, 3))
        out[f.__name__] = g.source
    return out


def load_source(source: str, name: str):
    scope: dict = {}
    exec(compile(source, f"<{name}_grad before>", "exec"), scope)
    return scope[f"{name}_grad"]


def before_sources(package_dir: str) -> dict:
    """The same sources from the ad_compiler found in ``package_dir``."""
    code = (
        "import json, sys; import ad_compiler; "
        "assert ad_compiler.__file__.startswith(sys.argv[2]), ad_compiler.__file__; "
        "sys.path.insert(0, sys.argv[1]); "
        "import bench_writes; print(json.dumps(bench_writes.emitted_sources()))"
    )
    env = {"PYTHONPATH": package_dir, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(HERE), str(Path(package_dir).resolve())],
        capture_output=True,
        text=True,
        env=env,
        cwd=package_dir,  # so that `import ad_compiler` finds that one first
        check=True,
    ).stdout
    return json.loads(out)


def rows_table(rounds: int, before: str | None) -> None:
    """Time the row loops' objective and gradient (and the ``--before`` gradient)."""
    old = before_sources(before) if before else {}
    header = (
        f"{'function':<12}{'n':>6}{'f ms':>9}{'grad ms':>9}{'grad/f':>8}"
        f"{'peak/in':>9}"
        + (f"{'before ms':>11}{'before/f':>10}{'speedup':>9}" if old else "")
    )
    print(header)
    print("-" * len(header))
    for f in (smooth_rows, rnn):
        g = grad(f)
        args = row_inputs(f.__name__, 6)
        want = g(*args)
        if old:
            got = load_source(old[f.__name__], f.__name__)(*args)
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        first = None
        for n in ROW_SIZES:
            args = row_inputs(f.__name__, n)
            cands = {"f": (f, args), "grad": (g, args)}
            if old:
                cands["before"] = (load_source(old[f.__name__], f.__name__), args)
            best, _ = _harness.interleaved(cands, rounds, target_s=0.05)
            size = sum(np.asarray(a).nbytes for a in args)
            peak = peak_bytes(g, *args)
            first = first or best["grad"]
            line = (
                f"{f.__name__:<12}{n:>6}{best['f'] * 1e3:>9.2f}"
                f"{best['grad'] * 1e3:>9.2f}{best['grad'] / best['f']:>8.2f}"
                f"{peak / size:>9.1f}"
            )
            if old:
                line += (
                    f"{best['before'] * 1e3:>11.2f}"
                    f"{best['before'] / best['f']:>10.2f}"
                    f"{best['before'] / best['grad']:>9.2f}"
                )
            print(line)
        print(
            f"{'':<12}grad({ROW_SIZES[-1]}) / grad({ROW_SIZES[0]}) = "
            f"{best['grad'] / first:.1f} for {ROW_SIZES[-1] // ROW_SIZES[0]}x the rows"
        )


def check(f, n: int = 40) -> float:
    """Largest difference between grad(f) and central differences at n points."""
    x = np.linspace(0.2, 1.1, n)
    g = grad(f)(x)
    eps = 1e-6
    fd = [(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(n)]
    return float(np.max(np.abs(g - np.array(fd))))


def peak_bytes(fn, *args) -> int:
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--before", help="a directory holding another ad_compiler")
    parser.add_argument("--rows-only", action="store_true")
    parser.add_argument("--units", type=int, default=UNITS, help="the RNN's width")
    args = parser.parse_args()
    globals()["UNITS"] = args.units
    print(_harness.python_line(_harness.versions(["numpy"])))
    print()
    rows_table(args.rounds, args.before)
    print()
    if args.rows_only:
        return
    header = (
        f"{'function':<9}{'n':>6}{'f us':>10}{'grad us':>10}{'jvp us':>10}"
        f"{'grad/f':>8}{'jvp/f':>8}{'grad peak':>11}{'  /(8n)':>8}"
    )
    print(header)
    print("-" * len(header))
    for f in (writes.squares, writes.smooth):
        error = check(f)
        if error > 1e-6:
            print(f"{f.__name__}: gradient differs from differences by {error:.2e}")
            continue
        g = grad(f)
        for n in SIZES:
            x = np.linspace(0.2, 1.1, n)
            v = np.ones(n)
            best, _ = _harness.interleaved(
                {
                    "f": (f, (x,)),
                    "grad": (g, (x,)),
                    "jvp": (jvp, (f, (x,), (v,))),
                },
                args.rounds,
                target_s=0.02,
            )
            peak = peak_bytes(g, x)
            print(
                f"{f.__name__:<9}{n:>6}{best['f'] * 1e6:>10.1f}"
                f"{best['grad'] * 1e6:>10.1f}{best['jvp'] * 1e6:>10.1f}"
                f"{best['grad'] / best['f']:>8.2f}{best['jvp'] / best['f']:>8.2f}"
                f"{peak / 1e3:>9.1f}kB{peak / (8 * n):>8.1f}"
            )
    print()
    print(
        "grad/f and jvp/f should stay flat as n grows (linear time); the peak, "
        "in units of one n-element float64 array, too."
    )


if __name__ == "__main__":
    main()
