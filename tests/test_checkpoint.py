"""Binomial checkpointing of loops (``grad(f, checkpoint="revolve", snapshots=k)``)
and ``@checkpoint`` helpers (remat): docs/checkpointing.md.

The checkpointed gradient must equal the taped one (to 1e-12 relative), the
emitted driver must run exactly the optimal number of forward steps
(counted by wrapping the emitted step function the driver calls), memory must
not grow with the trip count (slow tier), and what cannot be checkpointed is a
located error or a note in the emitted docstring.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tracemalloc

import checkpoint_cases as C
import numpy as np
import pytest
from test_jit import numba  # noqa: F401 (the fixture: Numba, or the test skips)

from ad_compiler import checkpoint, grad, jit, value_and_grad, vjp
from ad_compiler.ad import revolve
from ad_compiler.errors import CompileError, UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = os.path.join(ROOT, "tests", "checkpoint_cases.py")


def close(a, b, rel=1e-12):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        u, v = np.asarray(u, float), np.asarray(v, float)
        assert u.shape == v.shape
        scale = max(float(np.max(np.abs(v), initial=0.0)), 1e-300)
        assert float(np.max(np.abs(u - v), initial=0.0)) <= rel * scale, (u, v)


# --- the schedule ------------------------------------------------------------------
def test_split_reaches_the_exhaustive_optimum():
    for s in range(1, 7):
        for m in range(1, 90):
            assert revolve.advances(m, s) == revolve.fewest_advances(m, s), (m, s)
            if m >= 2:
                m1 = revolve.split(m, s)
                assert 1 <= m1 <= m - 1
                if s > 1:
                    cost = m1 + revolve.fewest_advances(m - m1, s - 1)
                    cost += revolve.fewest_advances(m1, s)
                    assert cost == revolve.fewest_advances(m, s), (m, s, m1)


def test_emitted_split_helper_is_the_schedule():
    space: dict = {}
    exec(revolve.SPLIT_TEXT, space)
    helper = space[revolve.SPLIT_NAME]
    for s in (1, 2, 3, 10, 100, 1000):
        for m in (2, 3, 7, 50, 1001, 123456, 10**8):
            assert helper(m, s) == revolve.split(m, s), (m, s)


def test_binomial_reach():
    # s snapshots and r advances per step reverse C(s + r, s) steps, not one more
    for s, r in ((1, 1), (2, 3), (3, 2), (10, 3)):
        reach = math.comb(s + r, s)
        assert revolve.repetitions(reach, s) == r
        assert revolve.repetitions(reach + 1, s) == r + 1
    assert revolve.recompute_factor(10, 10) == (9 + 10) / 10  # store: one descent


# --- gradients equal the taped ones ------------------------------------------------
def _trip_counts(k):
    r = 2
    return sorted({0, 1, 2, max(k - 1, 0), k, k + 1, math.comb(k + r, k), 37})


GRID = [(n, k) for k in (1, 2, 3, 5) for n in _trip_counts(k)]


@pytest.mark.fast_sample(every=10)
@pytest.mark.parametrize("n, k", GRID)
def test_scalar_state_matches_taped(n, k):
    f = C.logistic
    args = (0.3, 2.9, n)
    got = grad(f, argnums=(0, 1), checkpoint="revolve", snapshots=k)(*args)
    close(got, grad(f, argnums=(0, 1))(*args))


@pytest.mark.fast_sample(every=12)
@pytest.mark.parametrize("n, k", GRID)
@pytest.mark.parametrize("f", [C.heat, C.heat_slices], ids=["roll", "slices"])
def test_array_state_matches_taped(f, n, k):
    u = np.random.default_rng(n + 10 * k).random(12)
    got = grad(f, argnums=(0, 1), checkpoint="revolve", snapshots=k)(u, 0.1, n)
    close(got, grad(f, argnums=(0, 1))(u, 0.1, n))


@pytest.mark.fast_sample(every=3)
@pytest.mark.parametrize(
    "f, args, argnums",
    [
        (C.two_states, (0.3, 0.7, 9), (0, 1)),  # two carried values and a counter
        (C.nested, (0.3, 9), 0),  # the inner loop taped per step
        (C.writes, (np.array([0.2, 0.5, 0.9]), 0.7, 9), (0, 1)),  # y[i + 1] = ...
        (C.in_branch, (0.3, 9, 1.0), 0),
        (C.in_branch, (0.3, 9, -1.0), 0),
        (C.with_while, (0.3, 9), 0),  # the while loop taped as usual
        (C.two_loops, (0.3, 11, 2), 0),  # two drivers; range(start, n), (n, 0, -2)
    ],
    ids=[
        "two_states",
        "nested",
        "writes",
        "branch_taken",
        "branch_not",
        "while",
        "two",
    ],
)
def test_loops_of_every_kind_match_taped(f, args, argnums):
    for k in (1, 3):
        got = grad(f, argnums=argnums, checkpoint="revolve", snapshots=k)(*args)
        close(got, grad(f, argnums=argnums)(*args))


def test_writes_leave_the_arguments_alone():
    x = np.array([0.2, 0.5, 0.9])
    before = x.copy()
    grad(C.writes, argnums=(0, 1), checkpoint="revolve", snapshots=2)(x, 0.7, 9)
    assert np.array_equal(x, before)


def test_value_and_grad_and_vjp():
    args = (0.3, 2.9, 25)
    got = value_and_grad(C.logistic, argnums=(0, 1), checkpoint="revolve", snapshots=3)
    close(got(*args)[1], value_and_grad(C.logistic, argnums=(0, 1))(*args)[1])
    assert got(*args)[0] == C.logistic(*args)
    y, pullback = vjp(C.logistic, *args, checkpoint="revolve", snapshots=2)
    y0, pullback0 = vjp(C.logistic, *args)
    assert y == y0
    close(pullback(1.5), pullback0(1.5))


# --- the emitted code ----------------------------------------------------------------
def test_emitted_code_is_a_driver_over_two_steps():
    g = grad(C.logistic, argnums=(0, 1), checkpoint="revolve", snapshots=4)
    src = g.source
    assert "tape" not in src.split("def logistic_step_12_adjoint")[0]
    for name in ("logistic_step_12", "logistic_step_12_adjoint", "logistic_revolve_12"):
        assert f"\ndef {name}(" in src
    assert "\ndef _revolve_split(m, s):" in src
    assert "len(snaps)" in src
    assert "import ad_compiler" not in src and "from ad_compiler" not in src
    assert "at most 4 snapshots" in src


def test_default_emission_is_unchanged():
    src = grad(C.logistic, argnums=(0, 1)).source
    assert "revolve" not in src and "tape.append" in src


def _count_steps(g, name):
    """Wrap the emitted step function ``name`` the driver of ``g`` calls."""
    space = getattr(g, "__wrapped__", g).__globals__
    original = space[name]
    calls = [0]

    def counted(*args):
        calls[0] += 1
        return original(*args)

    space[name] = counted
    return calls, lambda: space.__setitem__(name, original)


@pytest.mark.fast_sample(every=5)
@pytest.mark.parametrize(
    "n, k", [(n, k) for k in (1, 2, 3, 4, 10) for n in (0, 1, 2, 5, 9, 10, 11, 35, 100)]
)
def test_driver_runs_the_optimal_number_of_steps(n, k):
    g = grad(C.logistic, argnums=(0, 1), checkpoint="revolve", snapshots=k)
    calls, restore = _count_steps(g, "logistic_step_12")
    adjoints, restore_adjoint = _count_steps(g, "logistic_step_12_adjoint")
    try:
        g(0.3, 2.9, n)
    finally:
        restore()
        restore_adjoint()
    assert calls[0] == revolve.advances(n, k)
    assert adjoints[0] == n  # each iteration taped once
    if n <= 60:
        assert calls[0] == revolve.fewest_advances(n, k)


# --- what cannot be checkpointed ------------------------------------------------------
def test_a_while_loop_alone_is_a_located_error():
    with pytest.raises(CompileError) as e:
        grad(C.only_while, checkpoint="revolve")(0.3)
    text = str(e.value)
    assert "checkpoint_cases.py:73:5" in text and "`while` loop" in text
    assert "while x < 10.0:" in text


def test_a_loop_that_breaks_is_a_located_error():
    with pytest.raises(CompileError) as e:
        grad(C.breaks, checkpoint="revolve")(0.3, 4)
    assert "checkpoint_cases.py:79:5" in str(e.value) and "`break`" in str(e.value)


def test_loops_taped_as_usual_are_named_in_the_docstring():
    doc = grad(C.with_while, checkpoint="revolve", snapshots=3).__doc__
    assert "binomial checkpointing (revolve, at most 3 snapshots per\n" in doc
    assert "loop) of the loop at line 65." in doc
    assert "The loop at line 67 is taped as usual: a `while` loop's" in doc


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"checkpoint": "binomial"}, 'checkpoint must be "revolve"'),
        ({"checkpoint": "revolve", "snapshots": 0}, "snapshots must be an int >= 1"),
        ({"snapshots": 3}, 'snapshots= goes with checkpoint="revolve"'),
    ],
)
def test_bad_options(kwargs, words):
    with pytest.raises(UsageError, match=words):
        grad(C.logistic, **kwargs)


# --- the CLI ------------------------------------------------------------------------
def test_adc_compile_checkpoint(adc_in_process):
    out = adc_in_process(
        "compile",
        CASES,
        "--function",
        "logistic",
        "--checkpoint",
        "revolve",
        "--snapshots",
        "3",
    )
    assert out.returncode == 0, out.stderr
    space: dict = {}
    exec(out.stdout, space)
    got = space["logistic_grad"](0.3, 2.9, 20)
    close(got, grad(C.logistic, argnums=(0, 1, 2))(0.3, 2.9, 20))
    assert "at most 3 snapshots" in out.stdout
    plain = adc_in_process("compile", CASES, "--function", "logistic")
    assert "revolve" not in plain.stdout


def test_adc_compile_snapshots_alone_is_refused(adc_in_process):
    out = adc_in_process("compile", CASES, "--function", "logistic", "--snapshots", "3")
    assert out.returncode != 0 and "--snapshots goes with --checkpoint" in out.stderr
    out = adc_in_process(
        "compile",
        CASES,
        "--function",
        "logistic",
        "--mode",
        "forward",
        "--checkpoint",
        "revolve",
    )
    assert out.returncode != 0 and "--checkpoint goes with --mode reverse" in out.stderr


# --- @checkpoint helpers (remat) -------------------------------------------------------
def test_remat_helper_is_called_and_recomputed():
    g = grad(C.remat_loop, argnums=(0, 1))
    src = g.source
    assert "remat_step(" in src and "remat_step_adjoint(" in src
    assert "which is marked @checkpoint" in src

    def inlined(x, r, n):  # the same maths, inlined
        for i in range(n):
            x = r * x * (1.0 - x) + 0.1 * math.sin(x)
        return x

    close(g(0.3, 2.9, 7), grad(inlined, argnums=(0, 1))(0.3, 2.9, 7))


def test_remat_array_helper():
    u = np.random.default_rng(1).random(9)

    def inlined(u, dt):
        for t in range(4):
            u = u + dt * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
        return np.sum(u * u)

    close(grad(C.remat_array)(u, 0.1), grad(inlined)(u, 0.1))


def test_checkpoint_is_an_identity_decorator():
    def f(x):
        return x

    assert checkpoint(f) is f and f.__adc_checkpoint__ is True
    assert C.remat_step(0.5, 2.0) == 2.0 * 0.5 * 0.5 + 0.1 * math.sin(0.5)


def test_adc_compile_reads_the_remat_decorator(adc_in_process):
    out = adc_in_process("compile", CASES, "--function", "remat_loop")
    assert out.returncode == 0, out.stderr
    assert "def remat_step_adjoint(" in out.stdout


# --- memory (slow) ---------------------------------------------------------------------
def _peak(f, *args):
    tracemalloc.start()
    try:
        f(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_trip_count():
    g = grad(C.logistic, argnums=(0, 1), checkpoint="revolve", snapshots=300)
    g(0.3, 2.9, 10)
    small = _peak(g, 0.3, 2.9, 10**5)
    large = _peak(g, 0.3, 2.9, 10**6)
    assert large < 1.5 * small + 20_000, (small, large)
    taped = grad(C.logistic, argnums=(0, 1))
    assert _peak(taped, 0.3, 2.9, 10**5) > 20 * small  # the tape grows


@pytest.mark.slow
def test_array_state_memory_is_snapshots_not_steps():
    u = np.random.default_rng(0).random(10_000)
    g = grad(C.heat, checkpoint="revolve", snapshots=5)
    g(u, 0.1, 3)
    small = _peak(g, u, 0.1, 100)
    large = _peak(g, u, 0.1, 400)
    assert large < 1.3 * small, (small, large)
    assert small < 20 * u.nbytes  # five snapshots and one step's work
    assert _peak(grad(C.heat), u, 0.1, 400) > 100 * u.nbytes


# --- jit (Numba) ---------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.usefixtures("numba")
def test_jit_of_a_checkpointed_gradient():
    g = grad(C.logistic, argnums=(0, 1), checkpoint="revolve", snapshots=5)
    j = jit(g)
    for n in (0, 1, 5, 6, 200):
        close(j(0.3, 2.9, n), g(0.3, 2.9, n))
    g2 = grad(C.two_states, argnums=(0, 1), checkpoint="revolve", snapshots=3)
    close(jit(g2)(0.3, 0.7, 40), g2(0.3, 0.7, 40))
    gn = grad(C.nested, checkpoint="revolve", snapshots=3)
    close(jit(gn)(0.3, 40), gn(0.3, 40))
    assert "@numba.njit" in jit(g).source and "def _revolve_split(" in jit(g).source


@pytest.mark.slow
def test_long_loop_in_bounded_memory_subprocess():
    """10^7 steps through the jit path when Numba is there (else pure Python
    at 10^6): the resident set's peak rises less than 100 MB over its size
    before the call (the benchmark's measure: the peak reset first)."""
    code = f"""
import sys
sys.path.insert(0, {os.path.join(ROOT, 'tests')!r})
import checkpoint_cases as C
from ad_compiler import grad
from benchmarks.bench_checkpoint import _rss_mark, _rss_peak_since
try:
    from ad_compiler import jit
    import numba  # noqa
    n = 10**7
    g = jit(grad(C.logistic, argnums=(0, 1), checkpoint="revolve", snapshots=100))
except ImportError:
    n = 10**6
    g = grad(C.logistic, argnums=(0, 1), checkpoint="revolve", snapshots=100)
g(0.3, 2.9, 10)
mark = _rss_mark()
g(0.3, 2.9, n)
print(_rss_peak_since(mark))
"""
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) < 100 * 2**20
