"""Jacobians and Hessians of scalar code, Hessians and Jacobians of array code: ad_compiler's vector mode against finite differences and JAX.

What it measures
----------------
**Hessians.**  The extended Rosenbrock function in n variables,

    f(x) = sum_{i < n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2,

written as scalar code with parameters ``x0 .. x{n-1}``, one term per line::

    def rosen(x0, x1, ..., x{n-1}):
        f = 0.0
        f = f + 100.0 * (x1 - x0 * x0) ** 2 + (1.0 - x0) ** 2
        ...
        return f

for n = 10, 100 and 1,000 (``--sizes``), at a seeded random point in
[-1.2, 1.2]^n.  Per n it times, side by side in one run, one call of

* ``ad_compiler grad``     -- ``grad(rosen, argnums=tuple(range(n)))``: one
  gradient, the reference (ratio 1.0);
* ``ad_compiler hessian``  -- ``hessian(rosen, argnums=tuple(range(n)))``:
  forward over reverse, one call of the emitted ``rosen_hvp`` with the n unit
  vectors as its n directions (vector mode), returning H as a tuple of n
  tuples of floats, exactly as a user calls it;
* ``ad_compiler hvp(x, I)`` -- the same emitted code through the public
  ``hvp(rosen, argnums=...)``, called as ``hv(*x, *np.eye(n))``: the n rows
  come back as n NumPy arrays, without the conversion to nested tuples of
  floats that ``hessian`` does (so the two rows split a Hessian call into
  emitted code and conversion);
* ``hvp, n scalar calls``  -- the same emitted code called n times, once per
  unit vector given as n floats (no arrays): H column by column, the
  alternative to vector mode;
* ``FD of grad``           -- central finite differences of the emitted
  gradient: 2n gradient calls, column j being
  (g(x + h e_j) - g(x - h e_j)) / 2h, h = 1e-5, into an n x n array;
* ``jax.jit(jax.hessian)`` -- ``jax.hessian`` of the same function written
  with ``jax.numpy`` on a vector,
  ``sum(100 (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)``, under ``jax.jit``,
  float64, with ``jax.block_until_ready`` on the result (no conversion to
  NumPy inside the timed call).

The first call of ``hessian`` compiles (in ad_compiler the compilation happens
when ``hessian(...)`` is built; the first call of ``jax.jit`` traces and
compiles): those times are reported separately, in seconds, and are not in the
per-call figures.  The ad_compiler columns are: ``trace`` (lowering the
function to IR, shared by all its derivatives), ``hessian`` (building the
Hessian: derivative IR, emission, black, loading), ``grad`` (the same for the
gradient) and ``hvp lines`` (the emitted module's length).  If building the
Hessian takes longer than ``--compile-limit`` seconds (default 60) it is
interrupted, that n is reported as not timed, and the run goes on with the
other sizes.

**Hessians of array code.**  The same function written with NumPy on ONE
array argument::

    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

at the same n and the same seeded points (x a float64 array of shape (n,)).
Here ad_compiler's vector mode is the array kind: the derivative's IR is
rewritten so that the tangent carries a leading axis of n directions, and
``hessian(rosen)(x)`` returns the (n, n) Hessian as a NumPy array from ONE
call of the emitted forward-over-reverse code (``rosen_hvp_vector(x,
x_dot)``, ``x_dot = np.eye(n)``; its lines that carry the tangent work on
(n, n - 1) arrays).  Per n it times, side by side in one run, one call of

* ``rosen(x) itself``      -- the plain NumPy function, for scale;
* ``ad_compiler grad``     -- ``grad(rosen)(x)``: the reference (ratio 1.0);
* ``ad_compiler hessian``  -- ``hessian(rosen)(x)``: H as an (n, n) array;
* ``ad_compiler hvp(x, v)`` -- ``hvp(rosen)(x, v)``: H v along one seeded
  random direction, the cost of one direction;
* ``FD of grad (2n calls)`` -- central differences of ``grad(rosen)``, as above
  but with x an array: 2n gradient calls, h = 1e-5, into an n x n array;
* ``jax.jit(jax.hessian)`` -- as above;
* ``jax.hessian (no jit)`` -- the same without ``jax.jit`` (every primitive
  dispatched on each call); not timed at an n where one call takes longer
  than 2 s.

A fresh copy of ``rosen`` is loaded per n, so that each n's first call
compiles (the emitted code depends only on the number of axes of x and which
have length 1, so one compilation would otherwise serve every n).  Compile
seconds, not in the per-call figures: ``trace`` (lowering to IR),
``hessian``, ``grad``, ``hvp`` (building each and its first call, which
compiles the code for x's shape), ``jax jit`` and ``jax eager`` (the first
call of each; without jit JAX compiles every primitive the first time), and
``hess lines`` (the emitted module's length).

**Jacobians.**  Two maps written as generated straight-line scalar code:

* ``tall``, R^4 -> R^200 (n << m): ``y_k = sin(a_k x0 + x1) exp(-x2 k/m) + x3 k``
  for k = 0..199, with seeded constants a_k in [0.5, 2], one output per line,
  returned as a flat tuple of 200 numbers;
* ``wide``, R^200 -> R^4 (n >> m): ``y_j = sum_i c_ij sin(x_i) + x_i^2`` for
  j = 0..3, with seeded constants c_ij in [-1, 1]; per i one line each for
  ``s_i = sin(x_i)``, ``q_i = x_i * x_i`` and the four
  ``y_j = y_j + c_ij * s_i + q_i``.

For each it times the function itself (the reference), ``jacfwd``, ``jacrev``
and ``jacobian`` (the automatic pick: forward mode when #inputs <= #outputs) of
ad_compiler with ``argnums`` all inputs, each returning J as a tuple of rows,
and ``jax.jit(jax.jacfwd)`` / ``jax.jit(jax.jacrev)`` of the same maps written
with ``jax.numpy`` on a vector.  It reports which mode ``jacobian`` picked and
whether that mode was the faster of ``jacfwd`` and ``jacrev`` in this run.
To tell the emitted code's cost from the wrappers', it also times the code
``jacfwd`` and ``jacrev`` run (``callables.compile_derivative(f, "jvp" | "vjp",
argnums)``, the same cached functions) called directly: ``jvp(x, I)`` /
``vjp(x, I)`` once with all n (m) unit vectors as arrays, returning arrays,
and ``jvp, n scalar calls`` / ``vjp, m scalar calls``, once per unit vector
given as floats, the textbook one-pass-per-column (row) Jacobian.

**Jacobians of array code.**  The same two shapes written with NumPy on ONE
array argument x (float64)::

    def tall(x, A, t):  # R^4 -> R^200
        return np.sin(A @ x) * np.exp(-x[2] * t) + x[3] * t

    def wide(x, C):  # R^200 -> R^4
        return C @ np.sin(x) + np.sum(x * x)

with seeded constants A (200 x 4, in [0.5, 2]), t = ``np.linspace(0, 1, 200)``
and C (4 x 200, in [-1, 1]), at a seeded x in [-1, 1]^n.  The constants are
arguments, not module globals, because ad_compiler takes only numbers from a
function's globals; every derivative is taken with ``argnums=0`` (x only).
Here ``jacfwd(f)(x, ...)``, ``jacrev(f)(x, ...)`` and ``jacobian(f)(x, ...)``
return J as ONE array of shape ``out.shape + x.shape`` -- (200, 4) and
(4, 200) -- from one call of the emitted vector-mode code, and ``jacobian``
picks its mode per call from the arrays' sizes (forward when size(x) <=
size(out)), reported from its ``.mode`` after the first call.  For each map it
times, side by side in one run, the function itself (the reference),
``jacfwd``, ``jacrev``, ``jacobian``, and ``jax.jit(jax.jacfwd)`` /
``jax.jit(jax.jacrev)`` of the maps written with ``jax.numpy``, and says
whether ``jacobian``'s pick was the faster of ``jacfwd`` and ``jacrev``.
Compile seconds: ``trace`` and, per derivative, building it plus its first
call (which compiles the code for x's shape); ``jacobian`` reuses the code
``jacfwd`` or ``jacrev`` compiled, its first call running f once to learn
the output's size.  This section takes about 9 s (``--no-array-jacobians``
skips it).

The generated functions are written as source text to a module in a temporary
directory and imported from there, since ad_compiler reads a function's source
(``inspect.getsource``); so are the array-code functions.

Everything runs on one thread (``OMP/OPENBLAS/MKL_NUM_THREADS=1`` and a
single-threaded ``XLA_FLAGS``, set before NumPy and JAX are imported).  JAX is
optional: without it its rows are skipped with a note
(``pip install -e '.[bench]'``).  If ad_compiler fails to build or run a
derivative, its row says ``not available`` and the full error is printed at
the end (``INTERNAL COMPILER ERROR`` and where it was raised for an exception
that is not an ``AdError``); the rest of the benchmark goes on.

Correctness gate
----------------
Before timing, at every n, every Hessian is compared with the exact
tridiagonal Rosenbrock Hessian computed in NumPy
(H_ii = 1200 x_i^2 - 400 x_{i+1} + 2 [i < n-1] + 200 [i > 0],
H_{i,i+1} = H_{i+1,i} = -400 x_i) and with every other Hessian, by
``np.allclose``: rtol 1e-9 and atol 1e-11 max|H| between the AD results and
the exact one, rtol 1e-6 and atol 1e-7 max|H| where finite differences are
involved.  The gradient is checked against the exact gradient the same way.
Every Jacobian is likewise compared with the exact one (computed in NumPy) and
with the others.  A contender that disagrees is reported, with its largest
difference, and not timed.  For array code the same tolerances apply (the
Hessian-vector product is checked against the exact H v) but a disagreement
of an AD result -- ad_compiler's gradient, hvp or Hessian, or JAX's Hessian --
aborts the run with a message saying which and by how much (exit status 1);
finite differences, compared with the exact Hessian only, are just not timed
if they disagree.  The Jacobians of array code (ad_compiler's three, JAX's two
and the exact one in NumPy) must have the shape (m, n) and agree pairwise to
1e-10 max |exact J|; otherwise the run aborts likewise, saying which.

How it is timed
---------------
With :mod:`timeit` (garbage collection off): every contender is warmed up, its
loop count calibrated to about ``--target-ms`` per measurement (at least one
call), then up to ``--rounds`` rounds are run, each timing every contender of
the table column once in a rotating order, so that a burst of load on this
shared machine hits all of them alike.  The number of rounds is lowered (to no
fewer than 3) where a round would take so long that the column would exceed
``--budget-s`` seconds (n = 1,000, where one finite-difference Hessian takes
about a second).  The figure reported is the minimum over the rounds, in
milliseconds per call, with ratios to the reference and to ad_compiler's
``hessian`` (or ``jacobian``).

Plot
----
``--plot PATH`` also writes a PNG (7 x 4.5 inches, 120 dpi; matplotlib with the
Agg backend, imported only then, so the script runs without matplotlib unless
asked for a plot): ms per call against n on log-log axes, from this one run,
of the Hessian contenders -- array code ``ad_compiler hessian`` and ``FD of
grad``, ``jax.jit(jax.hessian)`` (from the array-code section, when JAX is
installed), and the scalar-code ``ad_compiler hessian`` -- with the array-code
``ad_compiler grad`` dashed, for scale; a marker at every n timed.  A caption
gives the start time of the run (UTC), the machine note, the rounds and the
versions line printed above the tables.  A contender not timed at some n (or
a section skipped, e.g. ``--no-arrays``) has no point there.

Run as ``python benchmarks/bench_higher.py [--quick] [--sizes 10,100,1000]
[--rounds N] [--target-ms MS] [--budget-s S] [--compile-limit S]
[--no-jacobians] [--no-arrays] [--no-array-jacobians] [--json PATH]
[--plot PATH]``.  A default run takes about 115 s, 20 s of it building the
scalar-code n = 1,000 derivatives, 25 s the Hessians of array code and 9 s
the Jacobians of array code; ``--quick`` (n = 10 and 100, 3 rounds) about
25 s.  It exits with status 0 except when an AD result for array code
is wrong (1).  It is a plain script, not a test: neither pytest nor CI runs
it.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # _harness
sys.path.insert(0, str(HERE.parent))  # the ad_compiler of this checkout

import _harness  # noqa: E402  (standard library only: NumPy is not imported yet)

# One thread everywhere, set before NumPy (and so its BLAS) and JAX are imported.
_harness.one_thread()

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402
from _harness import INSTALL, first_line, is_ad_error, raised_at  # noqa: E402

EXACT_RTOL, EXACT_ATOL = 1e-9, 1e-11  # AD against exact (atol times max |H|)
FD_RTOL, FD_ATOL = 1e-6, 1e-7  # wherever finite differences are involved
FD_STEP = 1e-5
TALL = (4, 200)  # (n inputs, m outputs)
WIDE = (200, 4)

# Hessian contenders
GRAD, HESS, HVP = "ad_compiler grad", "ad_compiler hessian", "ad_compiler hvp(x, I)"
HVP_LOOP = "hvp, n scalar calls"
FD, JAX_HESS = "FD of grad (2n calls)", "jax.jit(jax.hessian)"
H_ORDER = [GRAD, HESS, HVP, HVP_LOOP, FD, JAX_HESS]
# Hessian-of-array-code contenders (GRAD, HESS, FD and JAX_HESS as above)
ROSEN_ITSELF, HVP_ONE = "rosen(x) itself", "ad_compiler hvp(x, v)"
JAX_EAGER = "jax.hessian (no jit)"
A_ORDER = [ROSEN_ITSELF, GRAD, HESS, HVP_ONE, FD, JAX_HESS, JAX_EAGER]
EAGER_LIMIT_S = 2.0  # jax.hessian without jit: not timed past this per call
# --plot: (section, contender, legend, line style), drawn in this order
PLOTTED = (
    ("arrays", HESS, "array code: hessian() (vector mode)", ("tab:blue", "o", "-")),
    ("arrays", FD, "array code: FD of grad (2n calls)", ("tab:orange", "s", "-")),
    ("arrays", JAX_HESS, "jax.jit(jax.hessian)", ("tab:green", "^", "-")),
    ("scalar", HESS, "scalar code: hessian() (vector mode)", ("tab:purple", "D", "-")),
    ("arrays", GRAD, "array code: grad(), for scale", ("0.45", "v", "--")),
)
ROSEN_ARRAY = """import numpy as np


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
"""
# Jacobian contenders
PLAIN, JACFWD, JACREV, JACOBIAN = "function itself", "jacfwd", "jacrev", "jacobian"
JAX_FWD, JAX_REV = "jax.jit(jax.jacfwd)", "jax.jit(jax.jacrev)"
JVP_RAW, VJP_RAW = "jvp(x, I)", "vjp(x, I)"
JVP_LOOP, VJP_LOOP = "jvp, n scalar calls", "vjp, m scalar calls"
J_ORDER = [PLAIN, JACFWD, JACREV, JACOBIAN, JVP_RAW, VJP_RAW, JVP_LOOP, VJP_LOOP]
J_ORDER += [JAX_FWD, JAX_REV]
DEPENDENTS = {JACFWD: (JACFWD, JVP_RAW, JVP_LOOP), JACREV: (JACREV, VJP_RAW, VJP_LOOP)}
J_COMPILE = ["trace", JACFWD, JACREV, JACOBIAN, JAX_FWD, JAX_REV]
# Jacobians of array code: the same labels, without the raw emitted-code rows.
# ad_compiler does not read module-level NumPy arrays (only numbers), so the
# constants are arguments, and argnums=0 differentiates with respect to x only.
JA_ORDER = [PLAIN, JACFWD, JACREV, JACOBIAN, JAX_FWD, JAX_REV]
JA_RTOL = 1e-10  # every pair: max |diff| <= JA_RTOL max |exact J|
JACOBIAN_ARRAYS = """import numpy as np


def tall(x, A, t):
    return np.sin(A @ x) * np.exp(-x[2] * t) + x[3] * t


def wide(x, C):
    return C @ np.sin(x) + np.sum(x * x)
"""


class CompileTimeout(Exception):
    """Building a derivative took longer than ``--compile-limit``."""


class Aborted(Exception):
    """An AD derivative of array code disagrees with the exact one: no figures."""


# --------------------------------------------------------------------------
# Generated source
# --------------------------------------------------------------------------


def rosenbrock_source(n: int) -> str:
    params = ", ".join(f"x{i}" for i in range(n))
    lines = [f"def rosen{n}({params}):", "    f = 0.0"]
    for i in range(n - 1):
        lines.append(
            f"    f = f + 100.0 * (x{i + 1} - x{i} * x{i}) ** 2 + (1.0 - x{i}) ** 2"
        )
    lines.append("    return f")
    return "\n".join(lines) + "\n"


def tall_source(a) -> str:
    """y_k = sin(a_k x0 + x1) exp(-x2 k/m) + x3 k, k < m: R^4 -> R^m."""
    m = len(a)
    lines = ["def tall(x0, x1, x2, x3):"]
    for k in range(m):
        lines.append(
            f"    y{k} = math.sin({float(a[k])!r} * x0 + x1) "
            f"* math.exp({-k / m!r} * x2) + {float(k)!r} * x3"
        )
    lines.append("    return " + ", ".join(f"y{k}" for k in range(m)))
    return "\n".join(lines) + "\n"


def wide_source(c) -> str:
    """y_j = sum_i c_ij sin(x_i) + x_i^2: R^n -> R^m."""
    n, m = c.shape
    lines = ["def wide(" + ", ".join(f"x{i}" for i in range(n)) + "):"]
    lines += [f"    y{j} = 0.0" for j in range(m)]
    for i in range(n):
        lines.append(f"    s{i} = math.sin(x{i})")
        lines.append(f"    q{i} = x{i} * x{i}")
        for j in range(m):
            lines.append(f"    y{j} = y{j} + {float(c[i, j])!r} * s{i} + q{i}")
    lines.append("    return " + ", ".join(f"y{j}" for j in range(m)))
    return "\n".join(lines) + "\n"


def load_module(directory: Path, name: str, body: str):
    """Write ``body`` as ``name``.py in ``directory`` and import it from there."""
    path = directory / f"{name}.py"
    path.write_text("import math\n\n\n" + body)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------
# Exact derivatives, in NumPy
# --------------------------------------------------------------------------


def rosen_gradient(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    r = x[1:] - x[:-1] ** 2
    g[:-1] += -400.0 * x[:-1] * r - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * r
    return g


def rosen_hessian(x: np.ndarray) -> np.ndarray:
    n = len(x)
    H = np.zeros((n, n))
    d = np.zeros(n)
    d[:-1] += 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    d[1:] += 200.0
    H[np.arange(n), np.arange(n)] = d
    off = -400.0 * x[:-1]
    H[np.arange(n - 1), np.arange(1, n)] = off
    H[np.arange(1, n), np.arange(n - 1)] = off
    return H


def tall_jacobian(a, x) -> np.ndarray:
    m = len(a)
    k = np.arange(m)
    u = a * x[0] + x[1]
    e = np.exp(-(k / m) * x[2])
    return np.stack(
        [a * np.cos(u) * e, np.cos(u) * e, -(k / m) * np.sin(u) * e, k * 1.0], axis=1
    )


def wide_jacobian(c, x) -> np.ndarray:
    return c.T * np.cos(x) + 2.0 * x


def tall_array_jacobian(A, t, x) -> np.ndarray:
    """d/dx of sin(A x) exp(-x2 t) + x3 t: (m, 4)."""
    u, e = A @ x, np.exp(-x[2] * t)
    J = np.cos(u)[:, None] * A * e[:, None]
    J[:, 2] -= t * np.sin(u) * e
    J[:, 3] += t
    return J


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def failure(what: str, exc: BaseException) -> tuple[str, str]:
    """(short reason for a table row, full report for the end of the output)."""
    if is_ad_error(exc):
        full = f"{what}: ad_compiler rejected it:\n{exc}"
    else:
        full = f"{what}: INTERNAL COMPILER ERROR at {raised_at(exc)}:\n" + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)
        )
    return f"not available ({first_line(exc)})", full.rstrip()


def mark_unavailable(res, full_errors, where, labels, exc):
    """Record ``labels`` as not available in ``res`` because of ``exc``."""
    short, full = failure(f"{where}, {' / '.join(labels)}", exc)
    for label in labels:
        res["unavailable"][label] = short
    full_errors.append(full)


def timed(fn, *args):
    """(fn(*args), seconds)."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def with_limit(seconds: float, fn, *args):
    """``fn(*args)``, interrupted with CompileTimeout after ``seconds``."""

    def alarm(signum, frame):
        raise CompileTimeout("did not finish")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def gate(results: dict, exact: np.ndarray, fd_labels=()) -> tuple[list, set]:
    """Compare every result with ``exact`` and with each other.

    ``results``: label -> array.  Returns (lines describing the checks, the
    labels that failed a comparison: not to be timed)."""
    scale = float(np.max(np.abs(exact))) or 1.0
    lines, bad = [], set()

    def close(x, y, loose):
        rtol, atol = (FD_RTOL, FD_ATOL) if loose else (EXACT_RTOL, EXACT_ATOL)
        return x.shape == y.shape and np.allclose(x, y, rtol=rtol, atol=atol * scale)

    for label, got in results.items():
        ok = close(got, exact, label in fd_labels)
        if not ok:
            bad.add(label)
        diff = max_diff(got, exact) if got.shape == exact.shape else math.nan
        lines.append(
            f"{label}: max |diff| to exact {diff:.2e} (max |exact| {scale:.3g})"
            + ("" if ok else "  DISAGREES, not timed")
        )
    labels = [lab for lab in results if lab not in bad]
    for i, p in enumerate(labels):
        for q in labels[i + 1 :]:
            if not close(results[p], results[q], p in fd_labels or q in fd_labels):
                diff = max_diff(results[p], results[q])
                lines.append(f"{p} and {q} disagree: max |diff| {diff:.2e}")
                bad.update((p, q))
    return lines, bad


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


def check_and_time(res, candidates, results, exact, opts, fd_labels=()):
    """Gate ``results`` against ``exact``, drop the failures, time the rest.

    Fills ``res["checks"]``, ``res["unavailable"]`` (for the failures),
    ``res["ms"]`` (minimum ms/call, interleaved round by round) and
    ``res["rounds"]`` (the rounds run, lowered to fit ``--budget-s``)."""
    lines, bad = gate(results, exact, fd_labels=fd_labels)
    res["checks"] += lines
    for label in bad:
        candidates.pop(label, None)
        res["unavailable"][label] = "disagrees, not timed (see the checks)"
    time_all(res, candidates, opts)


def time_all(res, candidates, opts):
    """``res["ms"]`` and ``res["rounds"]``: every candidate, interleaved."""
    best, res["rounds"] = _harness.interleaved(
        candidates, opts.rounds, opts.target_ms / 1e3, opts.budget_s
    )
    res["ms"] = {label: t * 1e3 for label, t in best.items()}


# --------------------------------------------------------------------------
# Hessians
# --------------------------------------------------------------------------


def fd_hessian(g, x: list, h: float = FD_STEP) -> np.ndarray:
    """Central differences of the gradient ``g``: 2n calls, column by column."""
    n = len(x)
    H = np.empty((n, n))
    for j in range(n):
        up, down = list(x), list(x)
        up[j] += h
        down[j] -= h
        H[:, j] = (np.array(g(*up)) - np.array(g(*down))) / (2 * h)
    return H


def hessian_by_passes(hv, x: list) -> np.ndarray:
    """H from n calls of the emitted hvp, each along one unit vector of floats."""
    n = len(x)
    e = [0.0] * n
    columns = []
    for j in range(n):
        e[j] = 1.0
        columns.append(hv(*x, *e))
        e[j] = 0.0
    return np.array(columns).T


def run_hessian(n, directory, jaxmod, opts, full_errors):
    """Build, check and time every Hessian contender at one n: a result dict."""
    from ad_compiler import grad, hessian, hvp
    from ad_compiler.backend.loader import source_of
    from ad_compiler.callables import trace_cached

    res = {"n": n, "ms": {}, "rounds": 0, "compile_s": {}, "unavailable": {}}
    res["notes"], res["checks"] = [], []
    f = getattr(load_module(directory, f"rosen_{n}", rosenbrock_source(n)), f"rosen{n}")
    xs = np.random.default_rng(n).uniform(-1.2, 1.2, n)
    x = xs.tolist()
    argnums = tuple(range(n))
    limit = opts.compile_limit

    def unavailable(labels, exc):
        mark_unavailable(res, full_errors, f"n = {n}", labels, exc)

    # ad_compiler: trace, hessian (under the time limit), hvp (cached), grad
    H = hv = g = None
    start = time.perf_counter()
    try:
        with_limit(limit, trace_cached, f)
        res["compile_s"]["trace"] = time.perf_counter() - start
        H, res["compile_s"]["hessian"] = with_limit(
            max(limit - res["compile_s"]["trace"], 1e-3), timed, hessian, f, argnums
        )
        res["hvp_lines"] = len(source_of(H.compiled).splitlines())
        hv = hvp(f, argnums=argnums)
    except CompileTimeout as exc:
        waited = time.perf_counter() - start
        res["notes"].append(
            f"n = {n}: building the Hessian {exc} within --compile-limit "
            f"{limit:g} s (interrupted after {waited:.1f} s of trace + hessian); "
            f"n = {n} is not timed"
        )
        res["compile_s"]["hessian"] = f"> {waited:.1f}"
        return res
    except Exception as exc:  # noqa: BLE001 -- report, go on with the others
        unavailable((HESS, HVP, HVP_LOOP), exc)
    try:
        g, res["compile_s"]["grad"] = timed(grad, f, argnums)
    except Exception as exc:  # noqa: BLE001
        unavailable((GRAD, FD), exc)

    eye = tuple(np.eye(n))
    candidates, results = {}, {}

    def attempt(label, fn, args, to_numpy):
        try:
            results[label] = to_numpy(fn(*args))
            candidates[label] = (fn, args)
        except Exception as exc:  # noqa: BLE001
            unavailable((label,), exc)

    if g is not None:
        attempt(GRAD, g, x, np.array)
        if GRAD in candidates:
            attempt(FD, fd_hessian, (g, x), np.asarray)
    if H is not None:
        attempt(HESS, H, x, np.array)
        attempt(
            HVP,
            hv,
            (*x, *eye),
            lambda rows: np.array([np.broadcast_to(r, (n,)) for r in rows]),
        )
        attempt(HVP_LOOP, hessian_by_passes, (hv, x), np.asarray)
    if jaxmod is not None:
        jax, jnp = jaxmod

        def rosen_jnp(v):
            return jnp.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)

        jitted = jax.jit(jax.hessian(rosen_jnp))
        xj = jax.device_put(jnp.asarray(xs, dtype=jnp.float64))

        def jax_hessian(v):
            return jax.block_until_ready(jitted(v))

        _, res["compile_s"]["jax jit"] = timed(jax_hessian, xj)  # traces, compiles
        attempt(JAX_HESS, jax_hessian, (xj,), np.asarray)

    # correctness gate: the gradient, then every Hessian against exact and each other
    if GRAD in results:
        grad_gate, bad = gate({GRAD: results.pop(GRAD)}, rosen_gradient(xs))
        res["checks"] += grad_gate
        if bad:
            for label in (GRAD, FD):
                candidates.pop(label, None)
                results.pop(label, None)
    check_and_time(res, candidates, results, rosen_hessian(xs), opts, fd_labels=(FD,))
    print(f"  timed Hessians at n = {n} ({res['rounds']} rounds)", flush=True)
    return res


def fmt_ms(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.4f}"


def fmt_s(v) -> str:
    return v if isinstance(v, str) else f"{v:.2f}"


def print_table(results, order, heads, cell: int, columns: str, row):
    """One table: a column group per result (headed ``heads[i]``, each with the
    sub-headers ``columns``), a line per contender in ``order``; ``row(label,
    r)`` gives a group's cells."""
    head = f"{'':<22}" + "".join(f"{h:>{cell}}" for h in heads)
    sub = f"{'contender':<22}" + columns * len(results)
    print(head)
    print(sub)
    print("-" * len(sub))
    for label in order:
        cells = "".join(row(label, r) for r in results)
        shown = "jacobian (auto)" if label == JACOBIAN else label
        print((f"{shown:<22}" + cells).rstrip())
    print("-" * len(sub))


def print_per_call(results, order, grad_digits: int):
    """ms per call of each contender at each n, with its ratios to the gradient
    and to hessian()."""

    def row(label, r):
        ms = r["ms"]
        if label not in ms:
            if label in r["unavailable"]:
                why = "n/a"
            else:
                why = "--" if r["ms"] else "not timed"
            return f"{why:>12}{'':>16}"
        ref = f"{ms[label] / ms[GRAD]:>8.{grad_digits}f}" if GRAD in ms else f"{'':>8}"
        rel = f"{ms[label] / ms[HESS]:>8.2f}" if HESS in ms else f"{'':>8}"
        return f"{fmt_ms(ms[label]):>12}{ref}{rel}"

    heads = ["n = " + str(r["n"]) for r in results]
    columns = f"{'ms/call':>12}{'/grad':>8}{'/hessian':>8}"
    print_table(results, order, heads, 28, columns, row)


def print_compile_seconds(results, cols, lines_key: str, lines_label: str, note):
    print()
    print("Compile seconds (not in the per-call figures):")
    width = len(lines_label) + 2
    print(f"{'n':>6}" + "".join(f"{c:>10}" for c in cols) + f"{lines_label:>{width}}")
    for r in results:
        cs = r["compile_s"]
        row = "".join(f"{fmt_s(cs[c]) if c in cs else '--':>10}" for c in cols)
        print(f"{r['n']:>6}{row}{r.get(lines_key, '--'):>{width}}")
    print(note)


def print_hessian_tables(results):
    print_per_call(results, H_ORDER, 1)
    cols = ["trace", "hessian", "grad", "jax jit"]
    print_compile_seconds(
        results,
        cols,
        "hvp_lines",
        "hvp lines",
        "(ad_compiler: trace = lowering rosen to IR, shared; hessian / grad = "
        "building each\n derivative: derivative IR, emission, black, loading. "
        "jax jit = first call of the jitted hessian.)",
    )


# --------------------------------------------------------------------------
# Hessians of array code
# --------------------------------------------------------------------------


def fd_hessian_array(g, x: np.ndarray, h: float = FD_STEP) -> np.ndarray:
    """Central differences of the array gradient ``g``: 2n calls, column by column."""
    n = len(x)
    H = np.empty((n, n))
    xp = x.copy()
    for j in range(n):
        xp[j] = x[j] + h
        up = np.array(g(xp))  # a copy: xp changes before the difference
        xp[j] = x[j] - h
        H[:, j] = (up - g(xp)) / (2 * h)
        xp[j] = x[j]
    return H


def run_hessian_arrays(n, directory, jaxmod, opts, full_errors):
    """Build, check and time the Hessian contenders for ``rosen(x)`` on one array.

    Raises :class:`Aborted` when an AD Hessian (ad_compiler's, JAX's), the
    gradient or the Hessian-vector product disagrees with the exact one."""
    from ad_compiler import grad, hessian, hvp
    from ad_compiler.callables import trace_cached

    res = {"n": n, "ms": {}, "rounds": 0, "compile_s": {}, "unavailable": {}}
    res["notes"], res["checks"] = [], []
    # a fresh function per n, so that every n's first call compiles (the code
    # depends only on the number of axes of x, so one compilation serves all n)
    f = load_module(directory, f"rosen_array_{n}", ROSEN_ARRAY).rosen
    rng = np.random.default_rng(n)
    xs = rng.uniform(-1.2, 1.2, n)
    v = rng.standard_normal(n)
    limit = opts.compile_limit
    where = f"arrays, n = {n}"

    def unavailable(labels, exc):
        mark_unavailable(res, full_errors, where, labels, exc)

    def first_call(build, *args):
        """(the derivative, its first result): building plus compiling."""
        d = build(f)
        return d, d(*args)

    candidates, results, checked, built = {ROSEN_ITSELF: (f, (xs,))}, {}, {}, {}
    try:
        _, res["compile_s"]["trace"] = with_limit(limit, timed, trace_cached, f)
    except Exception as exc:  # noqa: BLE001 -- report, go on with JAX
        unavailable((GRAD, HESS, HVP_ONE, FD), exc)
    builds = (
        ("hessian", hessian, (xs,), (HESS,)),
        ("grad", grad, (xs,), (GRAD, FD)),
        ("hvp", hvp, (xs, v), (HVP_ONE,)),
    )
    for key, build, args, labels in builds if "trace" in res["compile_s"] else ():
        try:
            (d, value), res["compile_s"][key] = with_limit(
                limit, timed, first_call, build, *args
            )
        except CompileTimeout as exc:
            res["notes"].append(
                f"{where}: building {key} {exc} within --compile-limit {limit:g} s"
            )
            res["compile_s"][key] = f"> {limit:g}"
            for label in labels:
                res["unavailable"][label] = "not built within --compile-limit"
            continue
        except Exception as exc:  # noqa: BLE001
            unavailable(labels, exc)
            continue
        built[labels[0]] = d
        candidates[labels[0]] = (d, args)
        (results if key == "hessian" else checked)[labels[0]] = value
    if HESS in built:
        res["hessian_lines"] = len(built[HESS].source.splitlines())
    if GRAD in built:
        results[FD] = fd_hessian_array(built[GRAD], xs)
        candidates[FD] = (fd_hessian_array, (built[GRAD], xs))

    if jaxmod is not None:
        jax, jnp = jaxmod

        def rosen_jnp(y):
            return jnp.sum(100.0 * (y[1:] - y[:-1] ** 2) ** 2 + (1.0 - y[:-1]) ** 2)

        xj = jax.device_put(jnp.asarray(xs, dtype=jnp.float64))
        jitted, eager = jax.jit(jax.hessian(rosen_jnp)), jax.hessian(rosen_jnp)

        def jax_hessian(y):
            return jax.block_until_ready(jitted(y))

        def jax_eager(y):
            return jax.block_until_ready(eager(y))

        _, res["compile_s"]["jax jit"] = timed(jax_hessian, xj)  # traces, compiles
        results[JAX_HESS] = np.asarray(jax_hessian(xj))
        candidates[JAX_HESS] = (jax_hessian, (xj,))
        # without jit every primitive is dispatched (and, the first time, compiled)
        _, res["compile_s"]["jax eager"] = timed(jax_eager, xj)
        result, seconds = timed(jax_eager, xj)
        if seconds > EAGER_LIMIT_S:
            res["notes"].append(
                f"{where}: {JAX_EAGER} took {seconds:.1f} s a call "
                f"(> {EAGER_LIMIT_S:g} s): not timed"
            )
        else:
            results[JAX_EAGER] = np.asarray(result)
            candidates[JAX_EAGER] = (jax_eager, (xj,))

    # correctness gate: abort on any AD disagreement, as the brief of this
    # section asks (finite differences that disagree are only not timed)
    exact = rosen_hessian(xs)
    for label, value, expected in (
        (GRAD, checked.get(GRAD), rosen_gradient(xs)),
        (HVP_ONE, checked.get(HVP_ONE), exact @ v),
    ):
        if value is not None:
            lines, bad = gate({label: np.asarray(value, dtype=float)}, expected)
            res["checks"] += lines
            if bad:
                raise Aborted(
                    f"{where}: {label} is wrong (rtol {EXACT_RTOL:g}):\n    {lines[-1]}"
                )
    # the AD Hessians against the exact one and each other; FD against exact only
    fd = {FD: results.pop(FD)} if FD in results else {}
    lines, bad = gate(results, exact)
    res["checks"] += lines
    if bad:
        raise Aborted(
            f"{where}: {', '.join(sorted(bad))} disagree(s) with the exact "
            f"Rosenbrock Hessian or with each other (rtol {EXACT_RTOL:g}):\n    "
            + "\n    ".join(lines)
        )
    # finite differences: compared with the exact Hessian, not timed if off
    check_and_time(res, candidates, fd, exact, opts, fd_labels=(FD,))
    print(
        f"  timed Hessians of array code at n = {n} ({res['rounds']} rounds)",
        flush=True,
    )
    return res


def print_array_tables(results):
    print_per_call(results, A_ORDER, 2)
    cols = ["trace", "hessian", "grad", "hvp", "jax jit", "jax eager"]
    print_compile_seconds(
        results,
        cols,
        "hessian_lines",
        "hess lines",
        "(ad_compiler: trace = lowering rosen to IR; hessian / grad / hvp = building\n"
        " each and its first call, which compiles for the shape of x. jax jit /\n"
        " jax eager = first call of jax.jit(jax.hessian) / jax.hessian.)",
    )


# --------------------------------------------------------------------------
# Jacobians
# --------------------------------------------------------------------------


def jacobian_by_jvps(jvp_code, x: list, m: int) -> np.ndarray:
    """J from n calls of the emitted jvp, each along one unit vector of floats."""
    n = len(x)
    e = [0.0] * n
    columns = []
    for j in range(n):
        e[j] = 1.0
        columns.append(jvp_code(*x, *e)[1])
        e[j] = 0.0
    return np.array(columns).T


def jacobian_by_vjps(vjp_code, x: list, m: int) -> np.ndarray:
    """J from m calls of the emitted vjp, each seeded with one unit vector of floats."""
    e = [0.0] * m
    rows = []
    for i in range(m):
        e[i] = 1.0
        rows.append(vjp_code(*x, *e))
        e[i] = 0.0
    return np.array(rows)


def run_jacobian(case, directory, jaxmod, opts, full_errors):
    """Build, check and time every Jacobian contender for ``tall`` or ``wide``."""
    from ad_compiler import jacfwd, jacobian, jacrev
    from ad_compiler.callables import compile_derivative, trace_cached

    rng = np.random.default_rng(1 if case == "tall" else 2)
    n, m = TALL if case == "tall" else WIDE
    if case == "tall":
        a = rng.uniform(0.5, 2.0, m)
        body, exact_of = tall_source(a), (lambda v: tall_jacobian(a, v))
    else:
        c = rng.uniform(-1.0, 1.0, (n, m))
        body, exact_of = wide_source(c), (lambda v: wide_jacobian(c, v))
    f = getattr(load_module(directory, f"jac_{case}", body), case)
    xs = rng.uniform(-1.0, 1.0, n)
    x = xs.tolist()
    argnums = tuple(range(n))
    res = {"case": case, "n": n, "m": m, "ms": {}, "compile_s": {}, "rounds": 0}
    res["unavailable"], res["checks"], res["notes"] = {}, [], []
    candidates, results = {PLAIN: (f, x)}, {}

    def unavailable(labels, exc):
        mark_unavailable(res, full_errors, case, labels, exc)

    builders = ((JACFWD, jacfwd), (JACREV, jacrev), (JACOBIAN, jacobian))
    try:
        _, res["compile_s"]["trace"] = timed(trace_cached, f)
    except Exception as exc:  # noqa: BLE001
        unavailable(
            (JACFWD, JACREV, JACOBIAN, JVP_RAW, JVP_LOOP, VJP_RAW, VJP_LOOP), exc
        )
        builders = ()
    # jacfwd and jacrev compile the jvp and vjp code; jacobian reuses one of them
    for label, build in builders:
        try:
            J, res["compile_s"][label] = timed(build, f, argnums)
            if label == JACOBIAN:
                res["picked"] = J.mode
            results[label] = np.array(J(*x))
            candidates[label] = (J, x)
        except Exception as exc:  # noqa: BLE001
            unavailable(DEPENDENTS.get(label, (label,)), exc)
    # the code jacfwd and jacrev run, called directly (compile_derivative returns
    # it from the cache): once with all directions (no conversion to tuples of
    # floats), and once per direction with floats (scalar passes)
    eye_n, eye_m = tuple(np.eye(n)), tuple(np.eye(m))
    for raw, loop, built, kind in (
        (JVP_RAW, JVP_LOOP, JACFWD, "jvp"),
        (VJP_RAW, VJP_LOOP, JACREV, "vjp"),
    ):
        if built not in candidates:
            continue
        try:
            code = compile_derivative(f, kind, argnums)
            if kind == "jvp":
                raw_args = (*x, *eye_n)
                results[raw] = np.array(
                    [np.broadcast_to(d, (n,)) for d in code(*raw_args)[1]]
                )
                results[loop] = jacobian_by_jvps(code, x, m)
            else:
                raw_args = (*x, *eye_m)
                results[raw] = np.array(
                    [np.broadcast_to(b, (m,)) for b in code(*raw_args)]
                ).T
                results[loop] = jacobian_by_vjps(code, x, m)
        except Exception as exc:  # noqa: BLE001
            results.pop(raw, None)
            unavailable((raw, loop), exc)
            continue
        candidates[raw] = (code, raw_args)
        candidates[loop] = (
            jacobian_by_jvps if kind == "jvp" else jacobian_by_vjps,
            (code, x, m),
        )
    if jaxmod is not None:
        jnp = jaxmod[1]
        if case == "tall":
            aj, kj = jnp.asarray(a), jnp.arange(m, dtype=jnp.float64)

            def fj(v):
                return jnp.sin(aj * v[0] + v[1]) * jnp.exp(-(kj / m) * v[2]) + kj * v[3]

        else:
            cj = jnp.asarray(c)

            def fj(v):
                return jnp.sin(v) @ cj + jnp.sum(v * v)

        add_jax_jacobians(jaxmod, fj, xs, res, candidates, results)

    check_and_time(res, candidates, results, exact_of(xs), opts)
    print(f"  timed Jacobians of {case} ({res['rounds']} rounds)", flush=True)
    return res


def add_jax_jacobians(jaxmod, fj, xs, res, candidates, results):
    """jax.jit(jax.jacfwd(fj)) and jax.jit(jax.jacrev(fj)) at ``xs``: first call
    (compile seconds), result and candidate."""
    jax, jnp = jaxmod
    xj = jax.device_put(jnp.asarray(xs, dtype=jnp.float64))
    for label, transform in ((JAX_FWD, jax.jacfwd), (JAX_REV, jax.jacrev)):
        jitted = jax.jit(transform(fj))

        def call(v, jitted=jitted):
            return jax.block_until_ready(jitted(v))

        _, res["compile_s"][label] = timed(call, xj)
        results[label] = np.asarray(call(xj))
        candidates[label] = (call, (xj,))


def print_jacobian_tables(results, title, order, compile_note):
    """ms per call of each contender for each map, with its ratios to the
    function and to jacobian(); whether jacobian's pick won; compile seconds."""
    print()
    print(title)
    print("/function: ratio to one call of the function itself; /jacobian: to")
    print("ad_compiler's jacobian() (the automatic pick).")
    print()

    def row(label, r):
        ms = r["ms"]
        if label not in ms:
            return f"{'n/a':>12}{'':>22}"
        rel = f"{ms[label] / ms[JACOBIAN]:>11.2f}" if JACOBIAN in ms else ""
        return f"{fmt_ms(ms[label]):>12}{ms[label] / ms[PLAIN]:>11.1f}{rel:>11}"

    heads = [f"{r['case']}: R^{r['n']} -> R^{r['m']}" for r in results]
    columns = f"{'ms/call':>12}{'/function':>11}{'/jacobian':>11}"
    print_table(results, order, heads, 34, columns, row)
    for r in results:
        ms = r["ms"]
        if "picked" not in r or JACFWD not in ms or JACREV not in ms:
            continue
        faster = "forward" if ms[JACFWD] < ms[JACREV] else "reverse"
        slow, fast = sorted((ms[JACFWD], ms[JACREV]), reverse=True)
        verdict = "yes" if faster == r["picked"] else "NO"
        print(
            f"{r['case']} (n = {r['n']}, m = {r['m']}): jacobian picked "
            f"{r['picked']} mode; faster here: {faster} "
            f"({JACFWD if faster == 'forward' else JACREV} "
            f"{slow / fast:.2f}x faster); the pick wins: {verdict}"
        )
    print()
    print("Compile seconds (not in the per-call figures):")
    print(f"{'case':<6}" + "".join(f"{c:>21}" for c in J_COMPILE))
    for r in results:
        cs = r["compile_s"]
        row = "".join(f"{fmt_s(cs[c]) if c in cs else '--':>21}" for c in J_COMPILE)
        print(f"{r['case']:<6}{row}")
    print(compile_note)


# --------------------------------------------------------------------------
# Jacobians of array code
# --------------------------------------------------------------------------


def agreement(results: dict, exact: np.ndarray, shape, rtol: float):
    """Every result (and ``exact``) of shape ``shape``, and against ``exact`` and
    each other within ``rtol`` max |exact|: (lines on the checks, failures)."""
    scale = float(np.max(np.abs(exact))) or 1.0
    lines, failed = [], []
    exact_label = "exact (NumPy)"
    both = {exact_label: exact, **results}
    for label, got in both.items():
        if got.shape != shape:
            failed.append(f"{label}: shape {got.shape}, expected {shape}")
        elif label in results and exact.shape == shape:
            lines.append(
                f"{label}: shape {got.shape}, max |diff| to exact "
                f"{max_diff(got, exact) / scale:.1e} of max |J| = {scale:.3g}"
            )
    labels = [lab for lab, got in both.items() if got.shape == shape]
    worst = (0.0, "", "")
    for i, p in enumerate(labels):
        for q in labels[i + 1 :]:
            rel = max_diff(both[p], both[q]) / scale
            worst = max(worst, (rel, p, q))
            if rel > rtol:
                failed.append(f"{p} and {q}: max |diff| {rel:.1e} of max |J|")
    if len(labels) > 1:
        ex = " (exact included)" if labels[0] == exact_label else ""
        lines.append(
            f"largest difference between any two of the {len(labels)} Jacobians"
            f"{ex}: {worst[0]:.1e} of max |J| ({worst[1]} vs {worst[2]})"
        )
    return lines, failed


def run_jacobian_arrays(case, directory, jaxmod, opts, full_errors):
    """Build, check and time the Jacobians of ``tall`` or ``wide`` written with
    NumPy on one array x (constants as further arguments, argnums=0).

    Raises :class:`Aborted` when a Jacobian has the wrong shape or two of them
    (or one and the exact one) differ by more than JA_RTOL max |J|."""
    from ad_compiler import jacfwd, jacobian, jacrev
    from ad_compiler.callables import trace_cached

    rng = np.random.default_rng(1 if case == "tall" else 2)
    n, m = TALL if case == "tall" else WIDE
    if case == "tall":
        consts = (rng.uniform(0.5, 2.0, (m, n)), np.linspace(0.0, 1.0, m))
        exact_of = lambda v: tall_array_jacobian(*consts, v)  # noqa: E731
    else:
        consts = (rng.uniform(-1.0, 1.0, (m, n)),)
        exact_of = lambda v: consts[0] * np.cos(v) + 2.0 * v  # noqa: E731
    f = getattr(load_module(directory, f"jac_array_{case}", JACOBIAN_ARRAYS), case)
    xs = rng.uniform(-1.0, 1.0, n)
    args = (xs, *consts)
    where = f"array code, {case}"
    res = {"case": case, "n": n, "m": m, "ms": {}, "compile_s": {}, "rounds": 0}
    res["unavailable"], res["checks"], res["notes"] = {}, [], []
    res["where"] = where
    candidates, results = {PLAIN: (f, args)}, {}

    def first_call(build):
        """(the Jacobian function, its first result): building plus compiling."""
        J = build(f, argnums=0)
        return J, J(*args)

    builders = ((JACFWD, jacfwd), (JACREV, jacrev), (JACOBIAN, jacobian))
    try:
        _, res["compile_s"]["trace"] = timed(trace_cached, f)
    except Exception as exc:  # noqa: BLE001 -- report, go on with JAX
        mark_unavailable(res, full_errors, where, (JACFWD, JACREV, JACOBIAN), exc)
        builders = ()
    for label, build in builders:
        try:
            (J, value), res["compile_s"][label] = timed(first_call, build)
        except Exception as exc:  # noqa: BLE001
            mark_unavailable(res, full_errors, where, (label,), exc)
            continue
        if label == JACOBIAN:
            res["picked"] = J.mode  # set by the call: per call for array code
        results[label] = np.asarray(value)
        candidates[label] = (J, args)
    if jaxmod is not None:
        jnp = jaxmod[1]
        jc = [jnp.asarray(c) for c in consts]
        if case == "tall":

            def fj(v):
                return jnp.sin(jc[0] @ v) * jnp.exp(-v[2] * jc[1]) + v[3] * jc[1]

        else:

            def fj(v):
                return jc[0] @ jnp.sin(v) + jnp.sum(v * v)

        add_jax_jacobians(jaxmod, fj, xs, res, candidates, results)

    lines, failed = agreement(results, exact_of(xs), (m, n), JA_RTOL)
    res["checks"] += lines
    if failed:
        raise Aborted(
            f"{where}: Jacobians of the wrong shape or disagreeing by more than "
            f"{JA_RTOL:g} max |J| (expected shape {(m, n)}):\n    "
            + "\n    ".join(failed + lines)
        )
    time_all(res, candidates, opts)
    print(
        f"  timed Jacobians of array code, {case} ({res['rounds']} rounds)",
        flush=True,
    )
    return res


# --------------------------------------------------------------------------
# Plot
# --------------------------------------------------------------------------


def plot(hess, arrays, path: Path, caption: str) -> None:
    """Log-log ms per call against n of the PLOTTED contenders, from this run."""
    import matplotlib  # lazily: the script runs without matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sections = {"scalar": hess, "arrays": arrays}
    sizes = sorted({r["n"] for r in hess + arrays})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for section, label, legend, (color, marker, line) in PLOTTED:
        rows = [r for r in sections[section] if label in r["ms"]]
        if rows:
            ns, ms = [r["n"] for r in rows], [r["ms"][label] for r in rows]
            ax.loglog(ns, ms, marker=marker, ls=line, color=color, label=legend)
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.set_xlabel("n (variables)")
    ax.set_ylabel("ms per call")
    ax.set_title("Hessian of the extended Rosenbrock function, one run")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.text(0.01, 0.01, caption, fontsize="x-small", color="0.3", va="bottom")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    sizes = [int(s) for s in text.replace(" ", "").split(",") if s]
    if not sizes or any(s < 2 for s in sizes):
        raise argparse.ArgumentTypeError("sizes are integers >= 2, e.g. 10,100,1000")
    return sizes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="n = 10, 100; 3 rounds of ~5 ms")
    add("--sizes", type=parse_sizes, help="Hessian n list (default 10,100,1000)")
    add("--rounds", type=int, help="interleaved rounds (default 20; 3 with --quick)")
    add("--target-ms", type=float, help="ms per measurement (default 20; 5 quick)")
    add("--budget-s", type=float, default=20.0, help="max timing s per column")
    add("--compile-limit", type=float, default=60.0, help="max s to build a Hessian")
    add("--no-jacobians", action="store_true", help="no Jacobian tables")
    add("--no-arrays", action="store_true", help="no Hessians of array code")
    add(
        "--no-array-jacobians",
        action="store_true",
        help="no Jacobians of array code",
    )
    add("--json", metavar="PATH", help="also write the results as JSON")
    add("--plot", metavar="PATH", help="also write a log-log PNG of the Hessians")
    opts = parser.parse_args(argv)
    if opts.plot and importlib.util.find_spec("matplotlib") is None:
        parser.error("--plot needs matplotlib (pip install matplotlib)")
    opts.sizes = opts.sizes or ([10, 100] if opts.quick else [10, 100, 1000])
    opts.rounds = opts.rounds or (3 if opts.quick else 20)
    opts.target_ms = opts.target_ms or (5.0 if opts.quick else 20.0)

    notes, full_errors = [], []
    jaxmod = _harness.import_jax()
    if jaxmod is None:
        notes.append(f"jax not installed, its rows are skipped: {INSTALL}")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_higher_") as tmp:
        directory = Path(tmp)
        hess = [
            run_hessian(n, directory, jaxmod, opts, full_errors) for n in opts.sizes
        ]
        arrays, jac, jac_arrays = [], [], []
        try:
            for n in [] if opts.no_arrays else opts.sizes:
                arrays.append(
                    run_hessian_arrays(n, directory, jaxmod, opts, full_errors)
                )
            for case in () if opts.no_jacobians else ("tall", "wide"):
                jac.append(run_jacobian(case, directory, jaxmod, opts, full_errors))
            for case in () if opts.no_array_jacobians else ("tall", "wide"):
                jac_arrays.append(
                    run_jacobian_arrays(case, directory, jaxmod, opts, full_errors)
                )
        except Aborted as exc:
            print(
                "\nABORTED: a derivative of array code disagrees with the exact "
                f"one or with another; no figures are reported.\n{exc}"
            )
            for full in full_errors:
                print()
                print(full)
            return 1
    wall = time.perf_counter() - wall

    print()
    versions = _harness.versions(("numpy", "jax", "jaxlib"))
    print(_harness.python_line(versions))
    print(
        f"float64, one thread; ms per call, minimum of up to {opts.rounds} "
        f"interleaved rounds of ~{opts.target_ms:g} ms each (at least one call)."
    )
    print()
    print("Checks (before timing):")
    for r in hess:
        for line in r["checks"]:
            print(f"  n = {r['n']}: {line}")
    for r in arrays:
        for line in r["checks"]:
            print(f"  arrays, n = {r['n']}: {line}")
    for r in jac:
        for line in r["checks"]:
            print(f"  {r['case']}: {line}")
    for r in jac_arrays:
        for line in r["checks"]:
            print(f"  {r['where']}: {line}")
    print()
    print("HESSIAN of the extended Rosenbrock function in n variables")
    print("/grad: ratio to one ad_compiler gradient call; /hessian: to ad_compiler's")
    print("hessian().  Rounds per n: " + ", ".join(str(r["rounds"]) for r in hess))
    print()
    print_hessian_tables(hess)
    if arrays:
        print()
        print("HESSIAN OF ARRAY CODE: rosen(x) with NumPy on one array x of n numbers")
        print(
            "/grad: ratio to one ad_compiler gradient call; /hessian: to ad_compiler's"
        )
        print(
            "hessian() (vector mode, H as an n x n array).  Rounds per n: "
            + ", ".join(str(r["rounds"]) for r in arrays)
        )
        print()
        print_array_tables(arrays)
    if jac:
        print_jacobian_tables(
            jac,
            "JACOBIANS, J as a tuple of rows (ad_compiler) or an array (jax)",
            J_ORDER,
            "(jacobian reuses the code jacfwd or jacrev compiled, so it builds in "
            "no time; jax: first call of the jitted function.)",
        )
    if jac_arrays:
        print_jacobian_tables(
            jac_arrays,
            "JACOBIANS OF ARRAY CODE: tall(x, A, t) and wide(x, C) with NumPy on one\n"
            "array x, argnums=0; J as an array of shape out.shape + x.shape",
            JA_ORDER,
            "(ad_compiler: trace = lowering to IR; jacfwd / jacrev / jacobian = "
            "building each\n and its first call, which compiles for the shapes; "
            "jacobian's first call runs f\n once to learn the output size and "
            "reuses the code jacfwd or jacrev compiled.\n jax: first call of the "
            "jitted function.)",
        )
    print()
    for r in hess + arrays + jac + jac_arrays:
        notes += r["notes"]
        for label, why in r["unavailable"].items():
            where = f"n = {r['n']}" if "case" not in r else r["case"]
            where = r.get("where") or (f"arrays, {where}" if r in arrays else where)
            notes.append(f"{where}: {label}: {why}")
    for note in dict.fromkeys(notes):
        print(f"note: {note}")
    for full in full_errors:
        print()
        print(full)
    print(f"total run time {wall:.0f} s")

    if opts.json:
        out = {
            "benchmark": "bench_higher",
            "python": platform.python_version(),
            "versions": versions,
            "rounds": opts.rounds,
            "target_ms": opts.target_ms,
            "hessian": [
                {k: r[k] for k in ("n", "ms", "rounds", "compile_s", "unavailable")}
                for r in hess
            ],
            "hessian_arrays": [
                {
                    k: r.get(k)
                    for k in ("n", "ms", "rounds", "compile_s", "unavailable")
                    + ("hessian_lines",)
                }
                for r in arrays
            ],
            "jacobian": [
                {
                    k: r.get(k)
                    for k in ("case", "n", "m", "ms", "rounds", "compile_s", "picked")
                }
                for r in jac
            ],
            "jacobian_arrays": [
                {
                    k: r.get(k)
                    for k in ("case", "n", "m", "ms", "rounds", "compile_s", "picked")
                    + ("unavailable",)
                }
                for r in jac_arrays
            ],
            "notes": list(dict.fromkeys(notes)),
            "errors": full_errors,
        }
        _harness.write_json(opts.json, out)
    if opts.plot:
        caption = (
            f"{started}, shared {os.cpu_count()}-core machine, float64, one thread; "
            f"minimum of up to {opts.rounds} interleaved rounds\n"
            + _harness.python_line(versions)
        )
        plot(hess, arrays, Path(opts.plot), caption)
        print(f"wrote {opts.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
