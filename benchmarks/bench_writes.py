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

Run as ``python benchmarks/bench_writes.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
    print(_harness.python_line(_harness.versions(["numpy"])))
    print()
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
