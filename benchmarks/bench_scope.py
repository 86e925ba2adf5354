"""Per-call overhead of arrays read from the enclosing scope.

What it measures
----------------
One least-squares loss written two ways:

* ``as_params``  -- ``loss(w, X, y)``: the data are parameters, and the gradient
  ``grad(loss)`` is called as ``g(w, X, y)``;
* ``closure``    -- ``make_loss(X, y)`` returns ``loss(w)`` reading ``X`` and
  ``y`` from its closure; ``grad`` of it is called as ``g(w)``, and fetches the
  two arrays from the closure cells on every call, adds their shapes to the
  dispatch key and passes them by keyword (frontend/scope_data.py);
* ``global``     -- the same reading two module globals (dict look-ups).

The arrays are tiny (3 x 2) so that the call overhead, not the arithmetic,
is what is timed; the ratio ``closure / as_params`` (and ``global /
as_params``) is printed.  The emitted code is the same in all three (the
arrays are parameters of it), so a ratio above 1 is the cost of fetching them.
Each gradient is first checked against the others.

Run as ``python benchmarks/bench_scope.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import interleaved, one_thread, python_line, versions  # noqa: E402

one_thread()

import numpy as np  # noqa: E402

from ad_compiler import grad  # noqa: E402

GX = np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 0.9]])
GY = np.array([0.1, -0.2, 0.4])


def loss_params(w, X, y):
    r = X @ w - y
    return np.sum(r * r)


def make_loss(X, y):
    def loss(w):
        r = X @ w - y
        return np.sum(r * r)

    return loss


def loss_global(w):
    r = GX @ w - GY
    return np.sum(r * r)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    w = np.array([0.3, -0.6])
    g_params, g_closure = grad(loss_params), grad(make_loss(GX, GY))
    g_global = grad(loss_global)
    expected = g_params(w, GX, GY)
    for label, got in (("closure", g_closure(w)), ("global", g_global(w))):
        if not np.allclose(got, expected, rtol=1e-14):
            print(f"FAIL: {label} gradient {got} != {expected}")
            return
    best, rounds = interleaved(
        {
            "as_params": (g_params, (w, GX, GY)),
            "closure": (g_closure, (w,)),
            "global": (g_global, (w,)),
        },
        args.rounds,
        0.02,
    )
    print(python_line(versions(["numpy"])))
    print(f"min of {rounds} interleaved rounds, µs per call:")
    for label, seconds in best.items():
        print(f"  {label:10s} {seconds * 1e6:8.2f}")
    for label in ("closure", "global"):
        ratio = best[label] / best["as_params"]
        print(f"ratio {label} / as_params: {ratio:.2f}")


if __name__ == "__main__":
    main()
