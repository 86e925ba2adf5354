"""The CLI at its edges: output files, bounded work, and every usage error.

Exit statuses (``ad_compiler/tools/cli.py``): 0 ok, 1 the input cannot be
differentiated (or traced at that point), 2 a usage error, 130 Ctrl-C; never 3
(an internal error) and never a traceback for anything a user can type.  Most
cases run in-process through :func:`ad_compiler.tools.cli.main` (fast); Ctrl-C and
the module's ``-o`` round trip run as a user runs them, through a subprocess.
"""

import json
import math
import os
import runpy
import signal
import stat
import subprocess
import sys
import time

import pytest

from ad_compiler.tools import outfile
from ad_compiler.tools.cli import main

SOURCE = """import math


def f(x, y):
    return math.log(x) * y


def loop(x, n):
    for i in range(n):
        x = x * 0.5 + 1.0
    return x


def power(x, n):
    for i in range(n):
        x = x * x
    return x


def pw(x, y):
    return x**y


def d(x, a=1e999, b=-1e999):
    return x * a


def s(x):
    return np.mean(x) + 2.0 * x
"""


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "src.py"
    path.write_text("import numpy as np\n" + SOURCE)
    return path


def run(capsys, *argv):
    """``adc argv`` in-process: (status, stdout, stderr)."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own usage errors
        status = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal compiler error" not in err
    return status, out, err


# --- output files ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["compile", "graph", "swell"])
def test_output_must_be_a_regular_file(capsys, src, tmp_path, command):
    """A directory, a FIFO, a device node and a symbolic link are refused (2)."""
    option = {"compile": "-o", "graph": "-o", "swell": "--plot"}[command]
    extra = {
        "compile": [],
        "graph": ["--function", "f"],
        "swell": ["--function", "loop", "--param", "n=1..2"],
    }[command]
    suffix = {"compile": ".py", "graph": ".dot", "swell": ".png"}[command]
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    fifo = tmp_path / f"fifo{suffix}"
    os.mkfifo(fifo)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me\n")
    link = tmp_path / f"link{suffix}"
    link.symlink_to(elsewhere)
    cases = {
        folder: "is a directory",
        fifo: "is a FIFO (named pipe)",
        os.devnull: "is a character device",  # refused too: leave out -o instead
        link: "is a symbolic link; adc writes only regular files, never through a link",
    }
    for target, what in cases.items():
        status, out, err = run(capsys, command, src, *extra, option, target)
        assert status == 2, err
        assert (
            err
            == f"adc: error: {option} {target} {what}"
            + ("" if "link" in what else "; adc writes only regular files")
            + "\n"
        )
    assert elsewhere.read_text() == "keep me\n"


@pytest.mark.parametrize("command", ["compile", "graph", "swell"])
def test_an_input_file_is_never_overwritten(capsys, tmp_path, command):
    """Not by name, not through another spelling, a symbolic link to its folder
    or a hard link: inputs are compared by device and inode."""
    suffix = {"compile": ".py", "graph": ".dot", "swell": ".png"}[command]
    option = "--plot" if command == "swell" else "-o"
    extra = {
        "compile": [],
        "graph": ["--function", "loop"],
        "swell": ["--function", "loop", "--param", "n=1..2"],
    }[command]
    src = tmp_path / f"src{suffix}"  # a Python file, whatever its name says
    src.write_text(SOURCE)
    hard = tmp_path / f"hard{suffix}"
    os.link(src, hard)
    (tmp_path / "sub").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path)
    spellings = [src, tmp_path / "sub" / ".." / src.name, hard]
    spellings.append(tmp_path / "linked" / src.name)
    for target in spellings:
        status, _, err = run(capsys, command, src, *extra, option, target)
        assert status == 2
        assert err.startswith(f"adc: error: refusing to overwrite the input file {src}")
        assert src.read_text() == SOURCE


def test_replacing_keeps_the_mode_and_writes_atomically(capsys, src, tmp_path):
    out = tmp_path / "out.py"
    out.write_text("old\n")
    os.chmod(out, 0o640)
    status, _, err = run(capsys, "compile", src, "--function", "f", "-o", out)
    assert status == 0, err
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640
    assert "def f_grad(x, y):" in out.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".adc-")] == []


def test_a_new_file_gets_the_umask_mode(src, tmp_path):
    out = tmp_path / "new.py"
    old = os.umask(0o027)
    try:
        outfile.write(str(out), b"x = 1\n", [str(src)])
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640  # 0o666 less the umask


def test_interrupted_write_leaves_the_old_file_and_no_temporary(
    capsys, src, tmp_path, monkeypatch
):
    """Ctrl-C between writing and renaming: the old file stays whole, the
    temporary file is removed, and adc exits 130 without a traceback."""
    out = tmp_path / "out.py"
    out.write_text("old\n")

    def interrupted(a, b):
        raise KeyboardInterrupt

    monkeypatch.setattr(outfile.os, "replace", interrupted)
    status, _, err = run(capsys, "compile", src, "--function", "f", "-o", out)
    assert (status, err) == (130, "adc: interrupted\n")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.py", "src.py"]


# --- bounded work -----------------------------------------------------------------


@pytest.mark.parametrize(
    "at, line",
    [(["x=1", "n=100000000"], 11), (["x=1", "n=1000000000000"], 11)],
)
@pytest.mark.slow  # each runs the trace to its 100,000-step limit (about a second)
def test_trace_stops_at_its_step_limit(capsys, src, at, line):
    """10**8 iterations would be a table of 3*10**8 rows: stopped, exit 1, at the loop."""
    started = time.monotonic()
    status, out, err = run(capsys, "trace", src, "--function", "loop", "--at", *at)
    assert time.monotonic() - started < 10
    assert status == 1 and out == ""
    assert err.startswith(
        f"{src}:{line}:13: error: the trace at this point takes more than 100,000 "
        "steps, more than a table can show (adc trace's limit); trace a point with "
        "fewer iterations\n"
    )


def test_trace_of_growing_integers_is_bounded(capsys, src):
    """x = x * x from the integer 3, 60 times: 3**(2**60) has 10**17 digits.
    Integers past 1024 bits are computed as floats, so the table ends (in inf)."""
    status, out, err = run(
        capsys, "trace", src, "--function", "power", "--at", "x=3", "n=60"
    )
    assert status == 0, err
    assert "= inf" in out
    status, out, err = run(
        capsys, "trace", src, "--function", "pw", "--at", "x=10", "y=1000000000"
    )
    assert status == 1
    assert err.startswith(
        f"{src}:22:12: error: result out of a float's range at line 22: "
        "10 ** 1000000000 at the point given\n"
    )


def test_symbolic_mode_has_a_time_budget(capsys, src):
    status, _, err = run(
        capsys,
        "compile",
        src,
        "--function",
        "f",
        "--mode",
        "symbolic",
        "--seconds",
        "1e-6",
    )
    assert status == 2
    assert err == (
        "adc: error: cannot write `f` symbolically within 1e-06 seconds "
        "(--seconds; expression swell); the default --mode reverse handles it\n"
    )


# --- usage errors (2) and input errors (1), each with its wording -------------------

USAGE = [
    (
        ["trace", "{src}", "--function", "loop", "--at", "x=1", "n=2.5"],
        "adc: error: `range` at line 10 takes integers, and the point (--at) gives it 2.5",
    ),
    (
        ["trace", "{src}", "--function", "f", "--at", "x=1", "y=2", "z=1"],
        "adc: error: `f` has no parameter named z (its parameters: x, y)",
    ),
    (
        ["trace", "{src}", "--function", "f", "--at", "x=1", "y=2", "x=3"],
        "adc: error: --at gives x twice",
    ),
    (
        ["trace", "{src}", "--function", "f", "--at", "x=1", "y=two"],
        "adc: error: --at takes NAME=NUMBER, got 'y=two'",
    ),
    (
        ["check", "{src}", "--function", "f", "--at", "x=1", "z=2"],
        "adc: error: --at: no function has a parameter named z",
    ),
    (
        ["swell", "{src}", "--function", "loop", "--param", "n=1..3", "--wrt", "z"],
        "adc: error: --wrt z is not a parameter of `loop` (its inputs: x)",
    ),
    (
        ["swell", "{src}", "--function", "loop", "--param", "n=1..3", "--wrt", "n"],
        "adc: error: --wrt n is the parameter --param fixes in `loop` (its inputs: x)",
    ),
    (
        ["swell", "{src}", "--function", "loop", "--param", "n=1..100000000000"],
        "adc: error: --param takes NAME=A..B or NAME=A,B,C (integers, at most 1000 "
        "values), got 'n=1..100000000000'",
    ),
    (
        ["compile", "{src}", "--fix", "n=2.5"],
        "adc: error: --fix gives `range` at line 10 the non-integer 2.5; range takes integers",
    ),
    (
        ["compile", "{src}", "--function", "loop", "--fix", "n=1", "x=2"],
        "adc: error: --fix makes every parameter of `loop` a constant: nothing is "
        "left to differentiate",
    ),
    (
        ["compile", "{src}", "--fix", "n=ten"],
        "adc: error: --fix takes NAME=NUMBER, got 'n=ten'",
    ),
    (
        ["compile", "{src}", "--fix", "z=1"],
        "adc: error: --fix: no function has a parameter named z",
    ),
    (
        ["compile", "{src}", "--fix", "n=1", "n=2"],
        "adc: error: --fix gives n twice",
    ),
    *(
        (
            ["compile", "{src}", "--function", "f", "--shape", spec],
            "adc: error: --shape takes NAME=DIMS, one axis per comma (X=batch,64; "
            f"X= for a scalar), got {spec!r}",
        )
        for spec in ("X=n,,p", "X=n,", "X", "1X=n")
    ),
    (
        ["compile", "{src}", "--function", "f", "--shape", "Z=3"],
        "adc: error: --shape: no function has a parameter named Z",
    ),
    (
        ["compile", "{src}", "--function", "f", "--wrt", "x,x"],
        "adc: error: --wrt names x twice",
    ),
    (
        ["compile", "{src}", "--function", "f", "--wrt", "z"],
        "adc: error: `f` has no parameter named z (its parameters: x, y)",
    ),
    (
        ["compile", "{src}", "--function", "nope"],
        "adc: error: {src} has no top-level function named `nope`",
    ),
    (["compile", "{folder}"], "adc: error: cannot read {folder}: Is a directory"),
    (
        ["compile", "{folder}/missing.py"],
        "adc: error: cannot read {folder}/missing.py: No such file or directory",
    ),
]


@pytest.mark.parametrize(
    "argv, message", USAGE, ids=[" ".join(argv[2:])[:50] for argv, _ in USAGE]
)
def test_usage_errors_exit_2_with_a_message(capsys, src, argv, message):
    fill = {"src": src, "folder": src.parent}
    status, out, err = run(capsys, *(a.format(**fill) for a in argv))
    assert (status, out) == (2, "")
    assert err == message.format(**fill) + "\n"


@pytest.mark.parametrize(
    "option, value, wording",
    [
        ("--digits", "-5", "takes a whole number of digits from 0 to 30, not '-5'"),
        (
            "--digits",
            "99999",
            "takes a whole number of digits from 0 to 30, not '99999'",
        ),
        ("--output", "0", "takes a whole number from 1, not '0'"),
    ]
    + [
        (
            "--seconds",
            v,
            f"takes a number of seconds more than 0 and at most 86400, not {v!r}",
        )
        for v in ("-1", "nan", "inf", "0", "1e9", "soon")
    ],
)
def test_option_values_are_checked_by_the_parser(capsys, src, option, value, wording):
    command = "check" if option == "--seconds" else "trace"
    argv = [command, src, "--function", "f", f"{option}={value}"]
    if command == "trace":
        argv += ["--at", "x=1", "y=2"]
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert err.endswith(f"adc {command}: error: argument {option}: {wording}\n")


def test_a_math_domain_error_is_located_in_the_file(capsys, src):
    status, out, err = run(
        capsys, "trace", src, "--function", "f", "--at", "x=0", "y=1"
    )
    assert (status, out) == (1, "")
    assert err == (
        f"{src}:6:12: error: math domain error at line 6: log(0) at the point given\n"
        "        return math.log(x) * y\n"
        "               ^~~~~~~~~~~\n"
    )


def test_json_holds_no_infinity_or_nan_tokens(capsys, src):
    """JSON has no inf/nan: they are the strings "inf", "-inf", "nan"."""
    status, out, err = run(
        capsys,
        "trace",
        src,
        "--function",
        "f",
        "--at",
        "x=1e999",
        "y=nan",
        "--format",
        "json",
    )
    assert status == 0, err
    data = json.loads(out, parse_constant=lambda c: pytest.fail(f"token {c}"))
    assert data["point"] == {"x": "inf", "y": "nan"}
    assert data["primal"][0]["value"] == "inf"


def test_an_infinite_default_is_spelled_so_the_module_runs(capsys, src, tmp_path):
    status, out, err = run(capsys, "compile", src, "--function", "d")
    assert status == 0, err
    assert 'def d_grad(x, a=float("inf"), b=-float("inf")):' in out
    module = tmp_path / "d_grad.py"
    module.write_text(out)
    # d(x, a) = x * a: d/dx = a = inf, d/da = x
    assert runpy.run_path(str(module))["d_grad"](2.0) == (math.inf, 2.0, 0.0)


def test_a_byte_order_mark_is_accepted(capsys, tmp_path):
    path = tmp_path / "bom.py"
    path.write_bytes(b"\xef\xbb\xbfdef f(x):\n    return x * x\n")
    status, out, err = run(capsys, "compile", path)
    assert status == 0, err
    assert "def f_grad(x):" in out


def test_invalid_utf8_is_a_located_error(capsys, tmp_path):
    path = tmp_path / "latin.py"
    path.write_bytes(b"def f(x):\n    return x  # caf\xe9\n")
    for command in (["compile"], ["check"], ["graph", "--function", "f"]):
        status, out, err = run(capsys, command[0], path, *command[1:])
        assert (status, out) == (1, "")
        # line 2, column 18: the character after "    return x  # caf"
        assert err == (
            f"{path}:2:20: error: the file is not valid UTF-8: bytes e9 cannot be "
            "decoded (Python reads source as UTF-8 unless a coding comment says "
            "otherwise)\n"
        )
    # with a coding comment the same bytes are valid Python, and so valid input
    path.write_bytes(b"# -*- coding: latin-1 -*-\ndef f(x):\n    return x  # caf\xe9\n")
    assert run(capsys, "compile", path)[0] == 0


def test_scalar_numpy_code_without_shape_gets_a_gradient(capsys, src, tmp_path):
    """docs/arrays.md: with the result's shape unknown the CLI writes f_grad,
    the gradient of the sum of the result's entries (not s_vjp(x, y_bar))."""
    status, out, err = run(capsys, "compile", src, "--function", "s")
    assert status == 0, err
    assert "def s_grad(x):" in out and "y_bar" not in out
    module = tmp_path / "s_grad.py"
    module.write_text(out)
    s_grad = runpy.run_path(str(module))["s_grad"]
    # d/dx (mean(x) + 2x) = 3 for a number; for an array, the sum's gradient
    # sum_i (mean(x) + 2 x_i) is 1 + 2 = 3 in every entry
    assert s_grad(0.7) == pytest.approx(3.0)
    assert s_grad(__import__("numpy").array([0.1, 0.5])) == pytest.approx([3.0, 3.0])


@pytest.mark.slow  # waits a second before the signal, then for SymPy to stop
def test_ctrl_c_exits_130_without_a_traceback(tmp_path):
    """SIGINT to a long `adc check` (SymPy expanding 10 logistic steps, several
    seconds; 30 steps are refused at once as too large): 130, one line."""
    path = tmp_path / "slow.py"
    path.write_text(
        "def logistic(l):\n"
        "    for _ in range(10):\n"
        "        l = 4.0 * l * (1.0 - l)\n"
        "    return l\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ad_compiler.tools.cli",
            "check",
            str(path),
            "--seconds",
            "600",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr.readline() == "checking logistic ...\n"  # it is working
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (130, "adc: interrupted\n")


@pytest.mark.slow  # a subprocess; test_interrupted_write_... covers main's handler
def test_ctrl_c_inside_a_string_exec_still_exits_130(tmp_path):
    """The cause of the Ctrl-C test's rare exit -2 under load: a KeyboardInterrupt
    ending a string ``exec``/``eval`` (as SymPy's own are) made ``python -m``
    end by SIGINT although main had handled it.  Here the interrupt is raised
    deterministically from a string exec, through a sitecustomize module that
    replaces argparse's parsing, the first thing main does."""
    (tmp_path / "sitecustomize.py").write_text(
        "import argparse\n\n\n"
        "def interrupted(self, args=None, namespace=None):\n"
        "    exec('raise KeyboardInterrupt')\n\n\n"
        "argparse.ArgumentParser.parse_args = interrupted\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tmp_path)] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    done = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (130, "adc: interrupted\n")


@pytest.mark.slow
@pytest.mark.parametrize("seconds", ["0.05", "0.2", "0.4", "0.6", "0.8"])
def test_a_tiny_budget_does_not_break_sympy(tmp_path, seconds):
    """The budget starts after SymPy is imported: an alarm during its first
    import (about a second, more on a busy machine) used to leave a
    half-initialised module, and the next use of it an internal error
    (AttributeError: module 'sympy' has no attribute 'logic', exit 3).  Where
    the alarm lands depends on the machine: several budgets."""
    path = tmp_path / "f.py"
    path.write_text("def f(x):\n    return x * x\n\n\ndef g(x):\n    return x + x\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ad_compiler.tools.cli",
            "check",
            str(path),
            "--seconds",
            seconds,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "internal compiler error" not in proc.stderr
    assert proc.stderr.endswith(" not checked\n")


def test_check_at_nan_is_not_checked_rather_than_a_crash(capsys, tmp_path):
    """A while loop's test at x = nan: SymPy refuses to order NaN (TypeError),
    so the path cannot be followed: reported as not checked, exit 0."""
    path = tmp_path / "until.py"
    path.write_text(
        "def until(x):\n    while x > 1e-3:\n        x = x / 2.0\n    return x\n"
    )
    status, out, err = run(capsys, "check", path, "--at", "x=nan", "--seconds", "20")
    assert status == 0
    assert out.startswith(
        "until(x): not checked: cannot decide x > 1/1000 at {'x': nan}"
    )
    assert err.endswith("adc check: 0 proved, 0 failed, 1 not checked\n")


def test_windows_and_old_mac_line_ends_read_as_python_reads_them(capsys, tmp_path):
    path = tmp_path / "crlf.py"
    path.write_bytes(b"import math\r\n\r\ndef f(x):\r    return math.log(x)\r\n")
    status, out, err = run(capsys, "trace", path, "--function", "f", "--at", "x=0")
    # line 4 as Python counts lines: `\r\n` and a lone `\r` both end one
    assert (status, out) == (1, "")
    assert err.startswith(f"{path}:4:12: error: math domain error at line 4: log(0)")
    assert "\r" not in err


@pytest.mark.parametrize("n, shown", [("nan", "nan"), ("-inf", "-inf"), ("2.5", "2.5")])
def test_check_along_a_path_with_a_trip_count_that_is_no_integer(capsys, src, n, shown):
    """range(n) at n = 2.5, inf or nan raises TypeError in Python: the point is
    wrong, a usage error as adc trace says it (it was exit 0 "not checked")."""
    message = (
        f"adc: error: `range` at line 10 takes integers, and the point (--at) gives "
        f"it {shown}\n"
    )
    for command in ("check", "trace"):
        status, out, err = run(
            capsys, command, src, "--function", "loop", "--at", "x=1", f"n={n}"
        )
        assert (status, out) == (2, ""), err
        assert err.endswith(message), err


# --- issue 14, round 2: input that was an internal error (exit 3) -----------------

HUGE = "99999999999999999999999"  # beyond a C ssize_t


def test_a_trip_count_beyond_ssize_t_is_no_internal_error(capsys, src):
    status, out, err = run(
        capsys, "compile", src, "--function", "loop", "--fix", f"n={HUGE}"
    )
    assert status == 0, err  # the loop stays a loop: `len(range(n))` overflowed
    assert "def loop_grad(x" in out
    status, out, err = run(
        capsys,
        "swell",
        src,
        "--function",
        "loop",
        "--param",
        f"n={HUGE}",
        "--seconds",
        "0.3",
    )
    assert status == 0, err
    assert "99,999,999,999,999,999,999,999" in out


@pytest.mark.parametrize("mode", ["reverse", "forward", "symbolic"])
def test_an_integer_literal_too_large_for_a_float_is_located(capsys, tmp_path, mode):
    path = tmp_path / "big.py"
    path.write_text("def f(x):\n    return x * 1" + "0" * 4000 + "\n")
    status, out, err = run(capsys, "compile", path, "--mode", mode)
    assert (status, out) == (1, "")
    assert err.startswith(
        f"{path}:2:16: error: integer literal is too large for a float\n"
    )
    assert "hint: write it as a float, at most 1.7976931348623157e308" in err


@pytest.mark.parametrize(
    "expr, why",
    [
        (
            "x * 2 ** 20000",
            "ValueError: Exceeds the limit (4300 digits) for integer string conversion",
        ),
        (
            "x * 10 ** -5000",
            "ValueError: Exceeds the limit (4300 digits) for integer string conversion",
        ),
        (
            "x * int(1e308) ** 50",
            "ValueError: Exceeds the limit (4300 digits) for integer string conversion",
        ),
        (
            "x * 1e999 * 0.0 + x ** 1e308",
            "OverflowError: cannot convert float infinity to integer",
        ),
    ],
)
def test_symbolic_mode_refuses_numbers_sympy_cannot_write(capsys, tmp_path, expr, why):
    path = tmp_path / "sym.py"
    path.write_text(f"def f(x):\n    return {expr}\n")
    status, out, err = run(capsys, "compile", path, "--mode", "symbolic")
    assert (status, out) == (2, "")
    assert err == (
        f"adc: error: cannot write `f` symbolically: `f` holds a number SymPy cannot "
        f"write as a float ({why}); the default --mode reverse handles it\n"
    )


@pytest.mark.parametrize("command", ["compile", "check", "trace"])
def test_a_coding_comment_naming_no_text_encoding_is_located(capsys, tmp_path, command):
    path = tmp_path / "rot.py"
    path.write_text("# coding: rot13\ndef f(x):\n    return x\n")
    extra = ["--function", "f", "--at", "x=1"] if command == "trace" else []
    status, out, err = run(capsys, command, path, *extra)
    assert (status, out) == (1, "")
    assert err == (
        f"{path}:1:1: error: the coding comment names `rot13`, which is not a text encoding\n"
    )


def test_a_nul_byte_is_located_where_it_is(capsys, tmp_path):
    path = tmp_path / "nul.py"
    path.write_bytes(b"def f(x):\n    return \0x\n")
    status, out, err = run(capsys, "compile", path)
    assert (status, out) == (1, "")
    assert err.startswith(
        f"{path}:2:12: error: invalid syntax: source code string cannot contain null bytes\n"
    ), err


# --- issue 14, round 2: what the input may be ---------------------------------------

READERS = [
    ["compile"],
    ["check"],
    ["graph", "--function", "f"],
    ["swell", "--function", "f", "--param", "x=1"],
]


@pytest.mark.parametrize("command", READERS, ids=[c[0] for c in READERS])
def test_a_character_device_is_refused_not_read_forever(capsys, command):
    status, out, err = run(capsys, command[0], "/dev/zero", *command[1:])
    assert (status, out) == (2, "")
    assert err == (
        "adc: error: cannot read /dev/zero: it is a character device, not a regular file\n"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "in.py"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"adc: error: cannot read {fifo}: it is a FIFO (named pipe), not a regular file\n"
    )


@pytest.mark.parametrize("command", READERS, ids=[c[0] for c in READERS])
@pytest.mark.fast_sample(every=2)
def test_an_input_over_16_mib_is_refused(capsys, tmp_path, command):
    path = tmp_path / "big.py"
    path.write_bytes(b"def f(x):\n    return x\n" + b"#" * (16 * 2**20))
    status, out, err = run(capsys, command[0], path, *command[1:])
    assert (status, out) == (2, "")
    assert err == f"adc: error: cannot read {path}: it is larger than 16 MiB\n"


def test_an_input_of_exactly_16_mib_is_read(capsys, tmp_path):
    path = tmp_path / "edge.py"
    head = b"def f(x):\n    return x * x\n#"
    path.write_bytes(head + b"#" * (16 * 2**20 - len(head) - 1) + b"\n")
    status, out, err = run(capsys, "compile", path)
    assert status == 0, err
    assert "def f_grad(x):" in out


@pytest.mark.parametrize(
    "argv, option",
    [
        (["compile", "{src}", "-o", ""], "-o/--output"),
        (["graph", "{src}", "--function", "f", "-o", ""], "-o/--output"),
        (
            ["swell", "{src}", "--function", "loop", "--param", "n=1", "--plot", ""],
            "--plot",
        ),
    ],
)
def test_an_empty_output_path_is_a_usage_error(capsys, src, argv, option):
    status, out, err = run(capsys, *[a.format(src=src) for a in argv])
    assert (status, out) == (2, "")  # `-o ''` once wrote to stdout
    assert err.endswith(f"error: argument {option}: empty output path\n"), err
