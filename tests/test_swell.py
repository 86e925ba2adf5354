"""Expression swell (``adc swell``) and the gradient SymPy writes (``--mode symbolic``)."""

import math
import os

import pytest
from test_cli import adc

from ad_compiler import UsageError
from ad_compiler.backend.codegen import format_source
from ad_compiler.tools.files import compile_file, trace_ir
from ad_compiler.tools.swell import swell, swell_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTROL = os.path.join(ROOT, "samples", "control_flow.py")
SEEDS = os.path.join(ROOT, "samples", "seeds.py")


def _text(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _logistic():
    return trace_ir(_text(CONTROL), CONTROL, "logistic")


def _load(module: str, name: str):
    namespace: dict = {}
    exec(compile(module, "<emitted>", "exec"), namespace)
    return namespace[name]


# --- swell ---------------------------------------------------------------------------------
@pytest.mark.slow  # SymPy differentiates 1 to 8 unrolled steps: a second or two
def test_logistic_swell_grows_geometrically_while_the_emitted_gradient_grows_linearly():
    rows = swell(_logistic(), "n", range(1, 9), wrt=["l"])
    # count_ops of sympy.diff of the unrolled map (the seeds' expression swell)
    assert [r.symbolic for r in rows] == [2, 21, 82, 264, 768, 2096, 5472, 13824]
    assert all(r.cse < r.symbolic for r in rows[2:])
    steps = {b.emitted - a.emitted for a, b in zip(rows, rows[1:])}
    assert len(steps) == 1  # the same number of operations per iteration
    assert len({r.emitted_lines for r in rows}) == 1  # the code does not grow
    text = swell_text("logistic", "n", ["l"], rows)
    assert "13,824" in text and "operations per step" in text


@pytest.mark.slow  # SymPy differentiates ten unrolled steps: about 2 s
def test_the_logistic_count_at_ten_is_the_one_quoted():
    (row,) = swell(_logistic(), "n", [10], wrt=["l"])
    assert row.symbolic == 82_176


def test_a_value_out_of_time_is_cut_off_and_larger_ones_skipped():
    rows = swell(_logistic(), "n", [14, 15], wrt=["l"], seconds=0.2)
    assert rows[0].note.startswith("cut off") and rows[0].symbolic is None
    assert rows[1].note == "skipped"


def test_swell_names_an_unknown_parameter():
    with pytest.raises(UsageError, match="no parameter named m"):
        swell(_logistic(), "m", [1])


@pytest.mark.slow  # SymPy up to n = 8 and matplotlib, in a subprocess: about 3 s
def test_adc_swell_prints_the_table_and_writes_the_plot(tmp_path):
    plot = tmp_path / "swell.png"
    run = adc(
        "swell",
        CONTROL,
        "--function",
        "logistic",
        "--param",
        "n=1..8",
        "--plot",
        str(plot),
    )
    assert run.returncode == 0, run.stderr
    assert "13,824" in run.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "n = 8 ..." in run.stderr  # progress


@pytest.mark.parametrize("spec", ["n", "n=a..b", "=1..3", "n=1..0"])
@pytest.mark.slow  # a subprocess each; test_cli_edges checks --param's usage error in-process
def test_adc_swell_rejects_a_malformed_parameter(spec):
    run = adc("swell", CONTROL, "--function", "logistic", "--param", spec)
    assert run.returncode == 2
    assert "--param takes NAME=A..B" in run.stderr


# --- --mode symbolic -------------------------------------------------------------------
def test_symbolic_mode_writes_the_seed_gradient():
    module = compile_file(_text(SEEDS), SEEDS, functions=["f"], mode="symbolic")
    assert module == format_source(module)  # black-clean
    imports = [l for l in module.splitlines() if l.startswith(("import", "from"))]
    assert imports == ["import math"]  # self-contained
    f_grad = _load(module, "f_grad")
    x1_bar, x2_bar = f_grad(2.0, 5.0)
    assert (round(x1_bar, 3), round(x2_bar, 3)) == (5.5, 1.716)


def test_symbolic_and_emitted_logistic_gradients_agree():
    text = _text(CONTROL)
    for n in (1, 4, 7):
        sym = compile_file(
            text, CONTROL, functions=["logistic"], mode="symbolic", fix={"n": n}
        )
        rev = compile_file(text, CONTROL, functions=["logistic"], fix={"n": n})
        a, b = _load(sym, "logistic_grad")(0.3), _load(rev, "logistic_grad")(0.3)
        assert math.isclose(a, b, rel_tol=1e-12), (n, a, b)


@pytest.mark.slow  # two subprocesses; symbolic mode is tested in-process above
def test_symbolic_mode_says_what_it_cannot_write():
    with pytest.raises(UsageError, match="the default --mode reverse handles it"):
        compile_file(_text(CONTROL), CONTROL, functions=["logistic"], mode="symbolic")
    run = adc("compile", CONTROL, "--function", "logistic", "--mode", "symbolic")
    assert run.returncode == 2 and "depends on an input" in run.stderr
    run = adc("compile", CONTROL, "--function", "logistic", "--fix", "q=3")
    assert run.returncode == 2 and "no function has a parameter named q" in run.stderr


@pytest.mark.slow  # a subprocess; test_cli_trees' --fix test runs in the fast tier
def test_adc_compile_fix_makes_a_parameter_constant():
    run = adc("compile", CONTROL, "--function", "logistic", "--fix", "n=5")
    assert run.returncode == 0, run.stderr
    assert "def logistic_grad(l):" in run.stdout
    assert "for _ in range(5):" in run.stdout
