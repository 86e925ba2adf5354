"""Trace tables: the seeds' three traces with numbers, from the API and `adc trace`."""

import json
import math
import os
import subprocess
import sys

import corpus
import pytest
import seeds

from ad_compiler import UsageError, grad, jvp, trace, vjp
from ad_compiler.tools.tables import trace_tables

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rows(table):
    return {r.name: r for r in table}


def test_the_seeds_tables_for_ln_x1_plus_x1_x2_minus_sin_x2_at_2_5():
    """Seed 003's worked example: y = 11.652, ẏ = 5.5 along x1, x̄1 = 5.5, x̄2 = 1.716."""
    t = trace_tables(trace(seeds.f), {"x1": 2.0, "x2": 5.0}, "x1")
    primal = rows(t.primal)
    assert [round(primal[v].value, 3) for v in ("v1", "v2", "v3", "v4", "v5")] == [
        0.693,
        10.0,
        10.693,
        -0.959,
        11.652,
    ]
    assert primal["v1"].formula == "log(x1)"
    tangent = rows(t.tangent)
    assert tangent["v1_dot"].formula == "x1_dot / x1" and tangent["v1_dot"].value == 0.5
    assert tangent["v2_dot"].value == 5.0 and tangent["v5_dot"].value == 5.5
    assert tangent["v4_dot"].formula == "0"  # sin(x2) does not depend on x1
    results = {r.name: r.value for r in t.adjoint if r.formula == "result"}
    assert results["x1_bar"] == 5.5 and round(results["x2_bar"], 3) == 1.716
    # accumulations are rows of their own, as in the seeds: x̄2 = x̄2 + x1 · v̄2
    accumulated = [r for r in t.adjoint if r.formula.startswith("x2_bar + ")]
    assert len(accumulated) == 1 and round(accumulated[0].value, 3) == 1.716
    text = t.text(3)
    assert "x1_bar = result" in text and "5.500" in text


CONTROL = [  # the tables cover scalar functions that call nothing recursive
    (f, d)
    for f, d in corpus.CONTROL_CASES
    if f.__name__ not in corpus.corpus_control.CALL_FUNCTIONS
    and not isinstance(f(*((lo + hi) / 2 for lo, hi in d)), tuple)
]


@pytest.mark.parametrize("f, domain", CONTROL, ids=[f.__name__ for f, _ in CONTROL])
@pytest.mark.fast_sample(every=40)
def test_tables_end_in_the_derivatives_along_the_path_taken(f, domain):
    """On every control-flow corpus function, the last adjoint rows are the
    emitted gradient and the last tangent row is the emitted JVP."""
    x = tuple((lo + hi) / 2 for lo, hi in domain)
    fn = trace(f)
    point = {p.name: v for p, v in zip(fn.params, x)}
    t = trace_tables(fn, point, fn.params[0].name)
    results = [r.value for r in t.adjoint if r.formula == "result"]
    want = grad(f, argnums=tuple(range(len(x))))(*x)
    assert results == pytest.approx(want, rel=1e-9, abs=1e-12)
    seed = tuple(1.0 if k == 0 else 0.0 for k in range(len(x)))
    value, y_dot = jvp(f, x, seed)
    assert t.primal[-1].name == "y" and t.primal[-1].value == value
    assert t.tangent[-1].value == pytest.approx(y_dot, rel=1e-9, abs=1e-12)


def test_tables_refuse_what_they_do_not_cover():
    with pytest.raises(UsageError, match="give a value for x2"):
        trace_tables(trace(seeds.f), {"x1": 2.0})
    with pytest.raises(UsageError, match="has 2 outputs"):
        trace_tables(trace(seeds.rainforth), {"x1": 2.0, "x2": 3.0}, output=3)


@pytest.mark.parametrize("output", [1, 2])
def test_tables_of_two_outputs_give_a_jacobian_column_and_row(output):
    """Seed 000's two-output example: one forward pass gives a column of the
    Jacobian, one reverse pass a row."""
    f = seeds.bishop_two_outputs
    t = trace_tables(trace(f), {"x1": 1.5, "x2": 2.0}, "x1", output=output)
    (y1, y2), pullback = vjp(f, 1.5, 2.0)
    column = jvp(f, (1.5, 2.0), (1.0, 0.0))[1]
    assert [r.value for r in t.tangent[-2:]] == pytest.approx(list(column))
    row = pullback((1.0, 0.0) if output == 1 else (0.0, 1.0))
    results = [r.value for r in t.adjoint if r.formula == "result"]
    assert results == pytest.approx(list(row))
    assert f"(seed y{output}_bar = 1)" in t.text()


@pytest.mark.slow  # three subprocesses; test_seed_tables keeps one `adc trace` run fast
def test_adc_trace_prints_the_tables_and_json(tmp_path):
    base = [sys.executable, "-m", "ad_compiler.tools.cli", "trace", "samples/seeds.py"]
    args = base + ["--function", "f", "--at", "x1=2", "x2=5", "--digits", "3"]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "Forward primal trace" in proc.stdout and "v5 = v3 - v4" in proc.stdout
    assert any(
        line.startswith("x2_bar") and line.endswith("= 1.716")
        for line in proc.stdout.splitlines()
    )
    proc = subprocess.run(
        args + ["--format", "json"], capture_output=True, text=True, cwd=ROOT
    )
    data = json.loads(proc.stdout)
    assert data["wrt"] == "x1" and math.isclose(
        data["primal"][-1]["value"], 11.652071, rel_tol=1e-6
    )
    bad = subprocess.run(
        base + ["--function", "f", "--at", "x1=two"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert (
        bad.returncode == 2
        and "NAME=NUMBER" in bad.stderr
        and "Traceback" not in bad.stderr
    )
