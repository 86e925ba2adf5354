"""The `adc` command, run as a user runs it: through a subprocess."""

import os
import runpy
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "samples", "seeds.py")


def adc(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_compile_seeds_emits_a_module_that_runs_on_its_own(tmp_path):
    proc = adc("compile", SEEDS)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "seeds_grad.py"
    out.write_text(proc.stdout)
    assert "ad_compiler" not in [
        line.split()[1]
        for line in proc.stdout.splitlines()
        if line.startswith("import ")
    ]
    ns = runpy.run_path(str(out))
    assert ns["f_grad"](2.0, 5.0) == pytest.approx((5.5, 1.7163378145367738), rel=1e-14)
    gx, gmu, gsigma = ns["gaussian_grad"](0.5, 0.0, 1.0)
    assert (round(gx, 4), round(gmu, 4), round(gsigma, 4)) == (-0.1760, 0.1760, -0.2640)
    # tuple-valued functions get a vector-Jacobian product taking one cotangent per output
    assert ns["rainforth_vjp"](2.0, 3.0, 0.0, 1.0) == pytest.approx((3.0, 2.0 + 1 / 3))


@pytest.mark.slow  # a subprocess; test_corpus checks emitted code is black-clean
def test_output_is_black_clean():
    import black

    proc = adc("compile", SEEDS)
    assert black.format_str(proc.stdout, mode=black.Mode()) == proc.stdout


@pytest.mark.slow  # a subprocess; the golden files hold the forward mode of `f`
def test_forward_mode_and_wrt(tmp_path):
    proc = adc("compile", SEEDS, "--function", "f", "--mode", "forward", "--wrt", "x1")
    assert proc.returncode == 0, proc.stderr
    assert "def f_jvp(x1, x2, x1_dot):" in proc.stdout
    out = tmp_path / "f_jvp.py"
    out.write_text(proc.stdout)
    y, y_dot = runpy.run_path(str(out))["f_jvp"](2.0, 5.0, 1.0)
    assert round(y, 3) == 11.652 and y_dot == pytest.approx(5.5)


@pytest.mark.slow  # a subprocess; test_corpus checks single-argnum gradients
def test_wrt_one_parameter_gives_a_single_value(tmp_path):
    proc = adc("compile", SEEDS, "--function", "f", "--wrt", "x2")
    out = tmp_path / "g.py"
    out.write_text(proc.stdout)
    assert round(runpy.run_path(str(out))["f_grad"](2.0, 5.0), 3) == 1.716


@pytest.mark.slow  # a subprocess; the golden tests select functions in-process
def test_function_is_repeatable_and_selects():
    proc = adc("compile", SEEDS, "--function", "f", "--function", "gaussian")
    assert proc.returncode == 0
    assert "def f_grad(" in proc.stdout and "def gaussian_grad(" in proc.stdout
    assert "bishop" not in proc.stdout


@pytest.mark.slow  # a subprocess; the golden IR files are checked in-process
def test_ir_prints_the_trace():
    proc = adc("compile", SEEDS, "--function", "f", "--ir")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[:3] == [
        "def f(x1, x2):",
        "    v1 = log(x1)                      # line 45",
        "    v2 = x1 * x2                      # line 45",
    ]


@pytest.mark.slow  # two subprocesses; test_cli_edges checks -o and the refusal in-process
def test_output_file_is_written_and_input_is_never_overwritten(tmp_path):
    out = tmp_path / "out.py"
    proc = adc("compile", SEEDS, "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert "def f_grad(" in out.read_text()
    src = tmp_path / "src.py"
    src.write_text("def f(x):\n    return x * x\n")
    proc = adc("compile", str(src), "-o", str(src))
    assert proc.returncode == 2
    assert "refusing to overwrite the input file" in proc.stderr
    assert src.read_text() == "def f(x):\n    return x * x\n"
    assert not [
        p for p in os.listdir(tmp_path) if p.startswith(".adc-")
    ]  # no temp left


def test_compile_never_runs_the_file(tmp_path):
    marker = tmp_path / "ran"
    src = tmp_path / "hostile.py"
    src.write_text(
        "import math\n"
        f"open({str(marker)!r}, 'w').write('executed')\n"
        "raise SystemExit('module body ran')\n"
        "def f(x):\n"
        "    return math.sin(x) * x\n"
    )
    proc = adc("compile", str(src))
    assert proc.returncode == 0, proc.stderr
    assert "def f_grad(x):" in proc.stdout
    assert not marker.exists()


@pytest.mark.slow  # a subprocess; test_module_constants runs the CLI in-process
def test_module_level_constants_and_import_aliases_resolve_statically(tmp_path):
    src = tmp_path / "consts.py"
    src.write_text(
        "import math as m\nfrom math import exp as e\nSCALE = 3.0\n"
        "def f(x):\n    return SCALE * m.sin(x) + e(x)\n"
    )
    proc = adc("compile", str(src))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out.py"
    out.write_text(proc.stdout)
    import math

    assert runpy.run_path(str(out))["f_grad"](0.3) == pytest.approx(
        3.0 * math.cos(0.3) + math.exp(0.3), rel=1e-14
    )


@pytest.mark.parametrize(
    "args, code, text",
    [
        (["--version"], 0, "adc 0.1.0"),
        (["--help"], 0, "usage: adc"),
        ([], 2, "usage: adc"),
        (["compile"], 2, "the following arguments are required: FILE"),
        (["compile", SEEDS, "--mode", "sideways"], 2, "invalid choice: 'sideways'"),
        (
            ["compile", "/no/such/file.py"],
            2,
            "adc: error: cannot read /no/such/file.py",
        ),
        (
            ["compile", SEEDS, "--function", "nosuch"],
            2,
            "has no top-level function named",
        ),
        (
            ["compile", SEEDS, "--function", "f", "--wrt", "q"],
            2,
            "`f` has no parameter named q",
        ),
    ],
)
@pytest.mark.slow  # a subprocess each; test_cli_edges checks usage errors in-process
def test_usage_errors_and_informational_flags(args, code, text):
    proc = adc(*args)
    assert proc.returncode == code
    assert text in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "adc")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "adc 0.1.0"


@pytest.mark.slow  # a subprocess over six functions; test_compile_seeds_emits_a_module_that_runs_on_its_own is fast
def test_loops_calls_recursion_and_custom_derivatives_compile_statically(tmp_path):
    """The whole control-flow corpus through the CLI: the output runs on its own
    (helpers, recursive functions and custom-derivative functions included) and
    agrees with the API's derivatives."""
    import corpus_control

    from ad_compiler import grad

    path = os.path.join(ROOT, "tests", "corpus_control.py")
    names = ["f_custom_in_loop", "f_mutual_recursion", "f_call_keywords"]
    names += ["f_while_else_break", "f_nested_three_deep", "f_zip_three"]
    args = ["compile", path, "-o", str(tmp_path / "out.py")]
    for name in names:
        args += ["--function", name]
    proc = adc(*args)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "out.py").read_text()
    assert "ad_compiler" not in [
        line.split()[1] for line in text.splitlines() if line.startswith("import ")
    ]
    ns = runpy.run_path(str(tmp_path / "out.py"))
    cases = dict((f.__name__, d) for f, d in corpus_control.CASES)
    for name in names:
        f = getattr(corpus_control, name)
        x = tuple((lo + hi) / 2 for lo, hi in cases[name])
        want = grad(f, argnums=tuple(range(len(x))))(*x)
        got = ns[f"{name}_grad"](*x)
        got = got if isinstance(got, tuple) else (got,)  # one parameter: one number
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), name


NUMBER_PARAMETERS = """import numpy as np


def scaled(x, c=2.0):
    return np.sum(x * x) * c


def weighted(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sum(x * x) * i
    return s
"""


@pytest.mark.slow  # a subprocess
def test_an_unannotated_number_beside_an_array_gets_a_zero_of_its_own_shape(tmp_path):
    """`c` and `n` have no --shape: their adjoints start as np.zeros(np.shape(c)),
    which a Python number has (`c.shape` raised AttributeError)."""
    (tmp_path / "nums.py").write_text(NUMBER_PARAMETERS)
    proc = adc("compile", "nums.py", "--shape", "x=n", "-o", "nums_d.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    emitted = runpy.run_path(str(tmp_path / "nums_d.py"))
    x = np.array([1.0, 2.0])
    dx, dc = emitted["scaled_grad"](x, 2.0)
    np.testing.assert_allclose(dx, 4 * x)
    assert float(dc) == 5.0
    dx, dn = emitted["weighted_grad"](x, 3)
    np.testing.assert_allclose(dx, 6 * x)
    assert float(dn) == 0.0
