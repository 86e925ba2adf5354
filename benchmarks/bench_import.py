"""How long ``import ad_compiler`` takes, in fresh processes, with NumPy's own
import beside it for scale.

What it measures
----------------
``--runs`` times (default 10) each, in a fresh interpreter: ``python -c pass``
(the interpreter's own start), ``python -c "import numpy"`` and ``python -c
"import ad_compiler"``, wall time by ``time.perf_counter`` around
``subprocess.run``; the three are interleaved so a burst of load hits all alike,
and the median is kept.  Bytecode is cached as an installed package's is (in a
temporary directory, after one warm-up run), even when the environment sets
``PYTHONDONTWRITEBYTECODE``: compiling the sources anew would triple the time.  Then one ``python -X importtime -c "import
ad_compiler"`` run lists the package's modules by their own import time
(``self``, in ms; NumPy and the standard library left out), the largest first.

The target is ``import ad_compiler`` under 0.3 s on an idle machine (the start
of the interpreter included); NumPy, which it needs, is most of it.  On a
loaded machine every figure grows alike: compare ``ad_compiler - numpy`` with
``numpy - python``.

Run as ``python benchmarks/bench_import.py [--runs N] [--top K]``.  The exit
status is 0 whatever the outcome.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.3  # seconds, on an idle machine


def wall(code: str, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - start


def own_times(env: dict) -> list[tuple[float, str]]:
    """(self ms, module) for the package's modules, from ``-X importtime``."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import ad_compiler"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    rows = []
    for line in run.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[2].strip().startswith("ad_compiler"):
            rows.append((int(parts[0]) / 1000, parts[2].strip()))
    return sorted(rows, reverse=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    # as installed: bytecode cached (in a temporary directory, not the tree),
    # whatever PYTHONDONTWRITEBYTECODE says; one run first writes the cache
    cache = tempfile.mkdtemp(prefix="adc-pycache-")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": cache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    wall("import ad_compiler", env)
    codes = {
        "python": "pass",
        "numpy": "import numpy",
        "ad_compiler": "import ad_compiler",
    }
    times: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(args.runs):
        for name, code in codes.items():
            times[name].append(wall(code, env))
    median = {name: statistics.median(t) for name, t in times.items()}
    print(f"median of {args.runs} fresh processes (wall time, s):")
    for name in codes:
        print(f"  {name:<12} {median[name]:.3f}")
    print(f"  numpy - python        {median['numpy'] - median['python']:.3f}")
    print(f"  ad_compiler - numpy   {median['ad_compiler'] - median['numpy']:.3f}")
    verdict = "under" if median["ad_compiler"] < TARGET else "OVER"
    print(f"import ad_compiler: {median['ad_compiler']:.3f} s, {verdict} {TARGET} s")
    rows = own_times(env)
    print(
        f"\nthe package's own import time, {sum(ms for ms, _ in rows):.1f} ms in all;"
    )
    print(f"largest {args.top} (self, ms):")
    for ms, module in rows[: args.top]:
        print(f"  {ms:7.1f}  {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
