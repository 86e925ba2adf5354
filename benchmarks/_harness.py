"""What the benchmark scripts share: one thread, an interleaved timer, the versions line.

Guarantees
----------
* :func:`one_thread` sets ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
  ``MKL_NUM_THREADS`` to 1 and ``XLA_FLAGS`` to a single-threaded XLA CPU
  backend.  It only affects libraries imported after it, so a script calls it
  before it imports NumPy or JAX; if either is already imported it warns.  This
  module itself imports neither NumPy nor JAX (only the standard library), so
  importing it first is safe.
* :func:`interleaved` times every candidate in rounds, each round calling every
  candidate once in a rotating order (so a burst of load on a shared machine
  hits all of them alike), and returns the minimum seconds per call over the
  rounds.  Before the rounds every candidate is warmed up and its loop count
  calibrated to about ``target_s`` per measurement (at least one call).
  Garbage collection is off while timing (as :mod:`timeit` does).
* :func:`versions` and :func:`python_line` give the "Python X on machine;
  numpy ..., jax ..." line, listing only the distributions that are installed.

The scripts run as ``python benchmarks/<script>.py``, so they import this module
after putting their own folder on ``sys.path``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import timeit
import traceback
import warnings
from importlib import metadata
from pathlib import Path

INSTALL = "pip install -e '.[bench]'"
REPO = Path(__file__).resolve().parent.parent


def one_thread() -> None:
    """One thread for NumPy's BLAS and for XLA: call before NumPy/JAX are imported."""
    early = [name for name in ("numpy", "jax") if name in sys.modules]
    if early:
        warnings.warn(
            f"one_thread() called after {', '.join(early)} was imported: "
            "its thread settings may not apply",
            RuntimeWarning,
            stacklevel=2,
        )
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    os.environ["XLA_FLAGS"] = (
        "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


def calibrate(timer: timeit.Timer, target_s: float) -> tuple[int, float]:
    """(loop count giving about ``target_s`` per measurement, seconds per call).

    Also the warm-up: one call, then three more unless one call alone took
    50 ms or longer."""
    elapsed = timer.timeit(1)  # also the warm-up for slow calls
    if elapsed < 0.05:
        timer.timeit(3)  # warm-up
    number = 1
    while elapsed < 0.05:  # grow until one measurement says something
        number *= 4
        elapsed = timer.timeit(number)
    per_call = elapsed / number
    return max(1, round(target_s / per_call)), per_call


def interleaved(
    candidates: dict, rounds: int, target_s: float, budget_s: float | None = None
) -> tuple[dict, int]:
    """Minimum seconds per call of every candidate, and the number of rounds run.

    ``candidates``: label -> (fn, args), timed as ``fn(*args)``.  With
    ``budget_s``, the rounds are lowered (to no fewer than 3, nor more than
    ``rounds``) so that all of them take about ``budget_s`` seconds at most."""
    timers, numbers, round_s = {}, {}, 0.0
    for label, (fn, args) in candidates.items():
        timers[label] = timeit.Timer("fn(*args)", globals={"fn": fn, "args": args})
        numbers[label], per_call = calibrate(timers[label], target_s)
        round_s += numbers[label] * per_call
    if budget_s is not None:
        rounds = max(min(3, rounds), min(rounds, int(budget_s / max(round_s, 1e-9))))
    best = {label: math.inf for label in candidates}
    labels = list(candidates)
    for r in range(rounds):
        order = labels[r % len(labels) :] + labels[: r % len(labels)]
        for label in order:
            t = timers[label].timeit(numbers[label]) / numbers[label]
            best[label] = min(best[label], t)
    return best, rounds


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def version(dist: str) -> str:
    """The installed version of distribution ``dist``, or "?"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def versions(dists) -> str:
    """ "numpy 2.1.0, jax 0.4.30, ..." for those of ``dists`` that are installed."""
    return ", ".join(f"{d} {version(d)}" for d in dists if version(d) != "?")


def python_line(versions_text: str) -> str:
    """ "Python 3.x.y on <machine>; <versions_text>"."""
    return (
        f"Python {platform.python_version()} on {platform.machine()}; {versions_text}"
    )


def first_line(exc: BaseException) -> str:
    """ "TypeName: first line of the message"."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def is_ad_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an ad_compiler ``AdError`` (a rejection, not a crash)."""
    return any(c.__name__ == "AdError" for c in type(exc).__mro__)


def raised_at(exc: BaseException) -> str:
    """ "path:line in function" of the innermost frame, the path relative to the repo."""
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    try:
        where = Path(frame.filename).resolve().relative_to(REPO)
    except ValueError:
        where = frame.filename
    return f"{where}:{frame.lineno} in {frame.name}"


def import_jax():
    """(jax, jax.numpy) with float64 enabled, or None if JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax, jnp


def write_json(path: str, data: dict) -> None:
    """Write ``data`` as indented JSON to ``path`` and say so."""
    Path(path).write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}")
