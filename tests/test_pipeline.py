"""The named passes of the pipeline: the IR dump (ADC_DUMP_IR), the verifier's
VerificationError naming the pass that broke the IR (also under python -O)."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ad_compiler.driver import derivative_ir, derivative_passes
from ad_compiler.errors import AdError, UsageError, VerificationError
from ad_compiler.ir.nodes import Eqn, Function, Var, verify
from ad_compiler.ir.passes import PASS_NAMES, Pass, apply, run_passes

ROOT = Path(__file__).resolve().parent.parent


def small() -> Function:
    """``f(x, y) = sin(x * y)``, built by hand."""
    x, y, v1, v2 = Var("x"), Var("y"), Var("v1"), Var("v2")
    body = (Eqn("mul", (v1,), (x, y)), Eqn("sin", (v2,), (v1,)))
    return Function("f", (x, y), body, (v2,))


def drop_first(fn: Function) -> Function:
    """A broken pass: drops the first equation, whose output the next one reads."""
    return replace(fn, body=fn.body[1:])


def test_the_dump_after_named_passes_is_the_ir_under_a_header(monkeypatch, capsys):
    monkeypatch.setenv("ADC_DUMP_IR", "vjp,seed")
    derivative_ir(small(), "grad", (0, 1))
    assert capsys.readouterr().err == (
        "--- IR of f_vjp after vjp ---\n"
        "def f_vjp(x, y, y_bar_1):\n"
        "    v1 = x * y\n"
        "    v2 = sin(v1)\n"
        "    v3 = cos(v1)\n"
        "    v1_bar = v3 * y_bar_1\n"
        "    x_bar = y * v1_bar\n"
        "    y_bar = x * v1_bar\n"
        "    return v2, (x_bar, y_bar)\n"
        "\n"
        "--- IR of f_vjp after seed ---\n"
        "def f_vjp(x, y):\n"
        "    v1 = x * y\n"
        "    v2 = sin(v1)\n"
        "    v3 = cos(v1)\n"
        "    v1_bar = v3 * 1.0\n"
        "    x_bar = y * v1_bar\n"
        "    y_bar = x * v1_bar\n"
        "    return v2, (x_bar, y_bar)\n"
        "\n"
    )


def test_dumping_all_shows_every_pass_in_order(monkeypatch, capsys):
    monkeypatch.setenv("ADC_DUMP_IR", "all")
    d = derivative_ir(small(), "grad", (0, 1))
    err = capsys.readouterr().err
    headers = [line for line in err.splitlines() if line.startswith("---")]
    optimize = [
        "unread_zeroing",
        "simplify",
        "shape_sources",
        "eliminate_dead_code",
        "untape_counters",
        "optimize",
    ]
    names = ["f"] * 6 + ["f_vjp"] * 2 + ["f_grad"] * 8
    passes = optimize + ["vjp", "seed", "select_results"] + optimize + ["own_results"]
    assert headers == [f"--- IR of {n} after {p} ---" for n, p in zip(names, passes)]
    assert err.endswith(f"--- IR of f_grad after own_results ---\n{d}\n")
    assert derivative_passes(small(), "grad", (0, 1), (0, 1))[-1].name == "own_results"


def test_no_dump_without_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("ADC_DUMP_IR", raising=False)
    derivative_ir(small(), "jvp", (0,))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", [",", " , ", ",,"])
def test_a_list_naming_no_pass_dumps_nothing(monkeypatch, capsys, value):
    monkeypatch.setenv("ADC_DUMP_IR", value)
    derivative_ir(small(), "grad", (0, 1))
    assert capsys.readouterr().err == ""


def test_all_in_a_list_dumps_every_pass(monkeypatch, capsys):
    monkeypatch.setenv("ADC_DUMP_IR", "all")
    derivative_ir(small(), "grad", (0, 1))
    every = capsys.readouterr().err
    monkeypatch.setenv("ADC_DUMP_IR", "simplify, all")
    derivative_ir(small(), "grad", (0, 1))
    assert capsys.readouterr().err == every
    assert every.count("--- IR of") == 16
    monkeypatch.setenv("ADC_DUMP_IR", "all,simplfy")
    with pytest.raises(UsageError, match="no pass is named simplfy"):
        derivative_ir(small(), "grad", (0, 1))


def test_an_unknown_pass_name_is_a_usage_error_listing_the_names(monkeypatch):
    monkeypatch.setenv("ADC_DUMP_IR", "simplfy")
    with pytest.raises(UsageError) as info:
        derivative_ir(small(), "grad", (0, 1))
    message = str(info.value)
    assert "no pass is named simplfy" in message
    assert all(name in message for name in PASS_NAMES)


def test_a_pass_must_have_a_listed_name():
    with pytest.raises(ValueError, match="not listed"):
        Pass("my_pass", drop_first)


def test_the_verifier_names_the_pass_that_broke_the_ir(monkeypatch):
    monkeypatch.setenv("ADC_VERIFY", "1")
    passes = [Pass("optimize", lambda f: f), Pass("simplify", drop_first)]
    with pytest.raises(VerificationError) as info:
        run_passes(small(), passes)
    e = info.value
    assert isinstance(e, AdError)
    assert e.pass_name == "simplify" and e.function == "f"
    assert e.problem == "v1 is read before it is bound, in `v2 = sin(v1)`"
    assert "invalid IR in `f` after the pass `simplify`: v1 is read" in str(e)


def test_a_nested_pass_is_named_not_the_pass_around_it(monkeypatch):
    monkeypatch.setenv("ADC_VERIFY", "1")
    outer = Pass("optimize", lambda f: apply(Pass("simplify", drop_first), f))
    with pytest.raises(VerificationError) as info:
        run_passes(small(), [outer])
    assert info.value.pass_name == "simplify"


def test_without_adc_verify_the_ir_is_verified_after_the_last_pass(monkeypatch):
    monkeypatch.setenv("ADC_VERIFY", "0")
    passes = [Pass("simplify", drop_first), Pass("own_results", lambda f: f)]
    with pytest.raises(VerificationError) as info:
        run_passes(small(), passes)
    assert info.value.passes == ("simplify", "own_results")
    assert "after the passes simplify, own_results (ADC_VERIFY=1" in str(info.value)


def test_verify_outside_a_pass_names_what_is_wrong():
    x = Var("x")
    twice = Function("g", (x,), (Eqn("neg", (x,), (x,)),), (x,))
    with pytest.raises(VerificationError, match=r"x is bound twice, in `x = -x`"):
        verify(twice)


SCRIPT = """
import sys
from dataclasses import replace
from ad_compiler.errors import VerificationError
from ad_compiler.ir.nodes import Eqn, Function, Var
from ad_compiler.ir.passes import Pass, run_passes

assert sys.flags.optimize == 1
x, v1, v2 = Var("x"), Var("v1"), Var("v2")
fn = Function("f", (x,), (Eqn("sin", (v1,), (x,)), Eqn("cos", (v2,), (v1,))), (v2,))
try:
    run_passes(fn, [Pass("simplify", lambda f: replace(f, body=f.body[1:]))])
except VerificationError as e:
    print("raised:", e.pass_name, e.problem)
"""


@pytest.mark.slow  # a fresh interpreter: about 1 s on a loaded machine
def test_python_dash_o_keeps_the_verifier():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ADC_VERIFY": "1"}
    run = subprocess.run(
        [sys.executable, "-O", "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == (
        "raised: simplify v1 is read before it is bound, in `v2 = cos(v1)`\n"
    )


@pytest.mark.parametrize(
    "value,on",
    [
        ("1", True),
        ("yes", True),
        ("0", False),
        ("false", False),
        (" Off ", False),
        ("no", False),
        ("", False),
    ],
)
def test_adc_verify_reads_the_usual_words_for_off(monkeypatch, value, on):
    from ad_compiler.ir.passes import verifying_each

    monkeypatch.setenv("ADC_VERIFY", value)
    assert verifying_each() is on


def test_the_trace_lowering_gives_is_dumped_as_lower(tmp_path, monkeypatch, capsys):
    from ad_compiler import grad

    path = tmp_path / "traced.py"
    path.write_text("def f(x, y):\n    return x * y + x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from traced import f

    monkeypatch.setenv("ADC_DUMP_IR", "lower")
    assert grad(f)(2.0, 3.0) == 4.0
    assert capsys.readouterr().err == (
        "--- IR of f after lower ---\n"
        "def f(x, y):\n"
        "    v1 = x * y                        # line 2\n"
        "    v2 = v1 + x                       # line 2\n"
        "    return v2\n"
        "\n"
    )
