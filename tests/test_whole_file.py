"""Whole files (issue 16): `adc compile f.py` reports every error of the file in
one run, located, in order, each once, with no cascades; `--keep-going` emits
the functions that compile and lists the others, in a comment block nothing in
the input can break out of.  The CLI runs as users run it, in a subprocess,
except in the two fast tests, which run the same command in-process
(conftest's ``adc_in_process``)."""

import ast
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from ad_compiler import grad
from ad_compiler.backend.codegen import format_source
from ad_compiler.errors import (
    AdError,
    CompileError,
    CompileErrors,
    Loc,
    UnsupportedError,
)
from ad_compiler.tools.files import _lower_file
from ad_compiler.tools.whole_file import FileReport, comment_block, flat, with_comments

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# good functions between broken ones; comments say what each broken one checks
FILE = """\
import math

import numpy as np


def good(x, y):
    return x * y + math.sin(x)


def three_errors(x):
    a = undefined_thing(x)
    b = a * 2.0  # reads a poisoned name: no second error
    c = b + len(a)
    d = x + {1: 2}
    e = d * c
    return "text" * x + e


def helper(x):
    return undefined_helper(x) * x


def calls_helper_once(x):
    return helper(x) + 1.0


def calls_helper_twice(x):
    y = helper(x)
    z = helper(y)  # the helper's error is shown once
    return y * z


def good_arrays(w: np.ndarray):
    return np.sum(np.tanh(w) ** 2)


def loops_and_branches(x, n):
    s = 0.0
    for i in range(n):
        if x > 0.0:
            t = bad_in_loop(x)
        else:
            t = x
        s = s + t
    return s * t


def signature(x, *, scale):
    return x * scale  # `scale` is refused once, at the signature


def good_last(x):
    return x**3 / 3.0
"""

# (line, column, message) of every error, in the order they are reported
EXPECTED = [
    (11, 9, "name `undefined_thing` is not defined"),
    (14, 13, "dict is not supported"),
    (16, 12, "str literal is not supported"),
    (20, 12, "name `undefined_helper` is not defined"),
    (41, 17, "name `bad_in_loop` is not defined"),
    # a real error of its own (`range(n)` may run zero times), not a cascade
    (
        45,
        16,
        "`t` may be unbound here: it is assigned in the loop at line 39, "
        "which may run zero times",
    ),
    (48, 21, "keyword-only parameters are not supported"),
]
GOOD = ["good", "good_arrays", "good_last"]
SKIPPED = {
    "three_errors": "3 errors, the first at {path}:11:9",
    "helper": "1 error, at {path}:20:12",
    "calls_helper_once": "it calls `helper`, which has errors",
    "calls_helper_twice": "it calls `helper`, which has errors",
    "loops_and_branches": "2 errors, the first at {path}:41:17",
    "signature": "1 error, at {path}:48:21",
}


def adc(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", *args],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    path = tmp_path_factory.mktemp("whole") / "broken.py"
    path.write_text(FILE)
    return str(path)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": error: " in line]


def test_every_error_once_located_in_order_then_a_summary(broken, adc_in_process):
    """(In-process: the slow tests below run `adc compile` on broken files as
    subprocesses.)"""
    proc = adc_in_process("compile", broken)
    assert proc.returncode == 1 and proc.stdout == ""
    assert error_lines(proc.stderr) == [
        f"{broken}:{line}:{col}: error: {message}" for line, col, message in EXPECTED
    ]
    # each with its source line and a caret under the construct
    assert "        d = x + {1: 2}\n                ^~~~~~\nhint: " in proc.stderr
    assert proc.stderr.endswith("errors in 4 functions; 7 errors generated.\n")
    assert "Traceback" not in proc.stderr and "poison" not in proc.stderr


def _central(f, x, h=1e-6):
    x = np.array(x, dtype=float)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


def _keep_going(broken, *extra, expected=EXPECTED, skipped=SKIPPED, run=adc):
    proc = run("compile", broken, "--keep-going", *extra)
    assert proc.returncode == 1, proc.stderr
    assert error_lines(proc.stderr) == [
        f"{broken}:{line}:{col}: error: {message}" for line, col, message in expected
    ]
    skipped = [
        f"adc: skipped `{name}`: {why.format(path=broken)}"
        for name, why in skipped.items()
    ]
    assert proc.stderr.splitlines()[-len(skipped) :] == skipped
    ns = {}
    exec(compile(proc.stdout, "emitted", "exec"), ns)
    return proc, ns


def test_keep_going_emits_what_compiles_and_lists_the_rest(broken, adc_in_process):
    """(In-process; test_keep_going_forward_and_hessian_modes, slow, runs
    --keep-going as a subprocess.)"""
    proc, ns = _keep_going(broken, run=adc_in_process)
    out = proc.stdout
    assert format_source(out) == out  # black-clean
    assert "ad_compiler" not in [
        line.split()[1] for line in out.splitlines() if line.startswith("import ")
    ]
    emitted = {n for n in ns if n.endswith("_grad")}
    assert emitted == {f"{name}_grad" for name in GOOD}
    # the comment block, after the docstring: each skipped function with its reason
    # and its own errors, each a comment line
    tree = ast.parse(out)
    start = tree.body[0].end_lineno
    block = out.splitlines()[start + 1 : tree.body[1].lineno - 2]
    assert all(line.startswith("#") for line in block) and start >= 2
    text = "\n".join(block)
    for name, why in SKIPPED.items():
        assert f"#   {name}: {why.format(path=broken)}" in text
    for line, col, message in EXPECTED:
        assert f"#     {broken}:{line}:{col}: error: {message}" in text
    # the derivatives of the good functions against central differences
    x, y = 0.7, -1.3
    gx, gy = ns["good_grad"](x, y)
    assert gx == pytest.approx(y + math.cos(x), rel=1e-12) and gy == x
    w = np.array([0.3, -1.2, 2.0])
    f = lambda v: np.sum(np.tanh(v) ** 2)  # noqa: E731
    assert np.allclose(ns["good_arrays_grad"](w), _central(f, w), rtol=1e-7)
    g = lambda v: v**3 / 3.0  # noqa: E731
    assert ns["good_last_grad"](1.5) == pytest.approx(_central(g, 1.5), rel=1e-7)


@pytest.mark.slow  # two more subprocesses
def test_keep_going_forward_and_hessian_modes(broken):
    _, ns = _keep_going(broken, "--mode", "forward")
    assert {n for n in ns if n.endswith("_jvp")} == {f"{n}_jvp" for n in GOOD}
    value, tangent = ns["good_jvp"](0.7, -1.3, 1.0, 0.0)
    assert value == pytest.approx(0.7 * -1.3 + math.sin(0.7))
    assert tangent == pytest.approx(-1.3 + math.cos(0.7), rel=1e-12)
    only = ["--function", "good", "--function", "three_errors"]
    _, ns = _keep_going(
        broken,
        "--mode",
        "hessian",
        *only,
        expected=EXPECTED[:3],
        skipped={"three_errors": SKIPPED["three_errors"]},
    )
    h = np.array(ns["good_hessian"](0.7, -1.3))
    assert np.allclose(h, [[-math.sin(0.7), 1.0], [1.0, 0.0]], rtol=1e-12)


@pytest.mark.slow  # a subprocess; test_keep_going_emits_what_compiles_and_lists_the_rest runs --keep-going in the fast tier
def test_keep_going_without_errors_is_the_plain_module(tmp_path):
    path = tmp_path / "ok.py"
    path.write_text("def f(x):\n    return x * x\n")
    plain, kept = adc("compile", str(path)), adc("compile", str(path), "--keep-going")
    assert kept.returncode == plain.returncode == 0
    assert kept.stderr == "" and "#" not in kept.stdout.split('"""')[2]
    assert kept.stdout == plain.stdout.replace(
        f"compile {path}`", f"compile {path} --keep-going`"
    )


@pytest.mark.slow  # a subprocess; the fast tier runs --keep-going once
def test_keep_going_with_nothing_compiled_writes_nothing(tmp_path):
    path, out = tmp_path / "bad.py", tmp_path / "out.py"
    path.write_text("def f(x):\n    return g(x)\n")
    proc = adc("compile", str(path), "--keep-going", "-o", str(out))
    assert proc.returncode == 1 and proc.stdout == "" and not out.exists()
    assert proc.stderr.splitlines()[0] == (
        f"{path}:2:12: error: name `g` is not defined"
    )
    assert proc.stderr.splitlines()[-1] == f"adc: skipped `f`: 1 error, at {path}:2:12"


@pytest.mark.slow  # a subprocess over 100+ errors
def test_the_count_is_capped(tmp_path):
    body = "".join(f"    a{i} = nope{i}(x)\n" for i in range(130))
    path = tmp_path / "many.py"
    path.write_text(f"def f(x):\n{body}    return x\n")
    proc = adc("compile", str(path))
    assert proc.returncode == 1
    errors = error_lines(proc.stderr)
    assert len(errors) == 100
    assert errors[0] == f"{path}:2:10: error: name `nope0` is not defined"
    assert errors[-1] == f"{path}:101:11: error: name `nope99` is not defined"
    assert proc.stderr.endswith(
        "error: too many errors; stopped after 100 (fix these and run again)\n"
        "errors in 1 function; 100 errors generated.\n"
    )


# what a file can try to smuggle out of a comment: every error message quotes
# text of the user's file (an f-string unparsed, a name, a source line)
INJECTIONS = [
    'def f(x):\n    for a in f"""x\ny{x}""":\n        pass\n    return x\n',
    'def f(x):\n    for a in f"\u2028import os{x}":\n        pass\n    return x\n',
    'def f(x):\n    for a in f"""\x0c\r\x85{x}\u2029""":\n        pass\n    return x\n',
    'def f(x):\n    return x + "\\n# coding: rot13"\n',
    'def f(x):\n    for a in f"\u202e\x1b[2J{x}":\n        pass\n    return x\n',
]


@pytest.mark.fast_sample(first=1)  # a subprocess each
@pytest.mark.slow  # a subprocess each; test_the_comment_block_escapes_whatever_a_message_holds covers the escaping in the fast tier
@pytest.mark.parametrize("bad", INJECTIONS)
def test_nothing_breaks_out_of_the_comment_block(tmp_path, bad):
    path = tmp_path / "inj.py"
    path.write_text("def good(x):\n    return 2.0 * x\n\n\n" + bad)
    proc = adc("compile", str(path), "--keep-going")
    assert proc.returncode == 1, proc.stderr
    tree = ast.parse(proc.stdout)
    # only the docstring, the emitted function, and comments between them
    assert [type(n) for n in tree.body] == [ast.Expr, ast.FunctionDef]
    lines = proc.stdout.split("\n")
    block = lines[tree.body[0].end_lineno : tree.body[1].lineno - 1]
    assert all(line == "" or line.startswith("#") for line in block)
    assert any("f:" in line and "error" in line for line in block)
    for char in "\x0c\x85\u2028\u2029\u202e\x1b":
        assert char not in proc.stdout
    assert len(proc.stdout.splitlines()) == len(proc.stdout.split("\n")) - 1


def test_the_comment_block_escapes_whatever_a_message_holds():
    # today's messages quote names and unparsed expressions, which Python
    # already escapes; the block must hold even for a message quoting raw text
    raw = 'x\n"""import os\r\u2028\u2029\x85\x0c\x0b\x1b\u202e\x00\\'
    file = "f\nimport os.py"
    report = FileReport(file, ast.parse("def f(x):\n    return x\n").body)
    error = UnsupportedError(f"bad `{raw}`", Loc(file, 2, 5), raw)
    report.add("f", error)
    block = comment_block(report)
    assert len(block) == 4 and all(line.startswith("#") for line in block)
    assert block[1] == "#   f: 1 error, at f\\nimport os.py:2:5"
    module = with_comments('"""Doc."""\n\nimport math\n', block)
    assert ast.dump(ast.parse(module)) == ast.dump(ast.parse("'Doc.'\nimport math"))
    assert len(module.splitlines()) == len(module.split("\n")) - 1 == 3 + 4 + 1
    assert module.splitlines()[2:6] == block


def test_the_api_still_raises_the_first_error():
    def two_errors(x):
        a = undefined_one(x)  # noqa: F821
        return a + undefined_two(x)  # noqa: F821

    with pytest.raises(UnsupportedError) as info:
        grad(two_errors)(1.0)
    assert not isinstance(info.value, CompileErrors)
    assert "undefined_one" in info.value.message


@pytest.mark.slow  # three subprocesses
def test_trace_graph_and_check_report_every_error_of_the_function(broken):
    for command in (["trace", "--at", "x=1"], ["graph"], ["check"]):
        proc = adc(command[0], broken, "--function", "three_errors", *command[1:])
        assert proc.returncode == 1
        assert error_lines(proc.stderr) == [
            f"{broken}:{line}:{col}: error: {message}"
            for line, col, message in EXPECTED[:3]
        ]
        assert proc.stderr.endswith("errors in 1 function; 3 errors generated.\n")


# --- no cascades: one broken statement in a working function is one error ---------


def _mutants(text: str, name: str):
    """``text`` with one statement of function ``name`` broken at a time: an
    assigned or returned value, a condition or a loop's iterable replaced by a
    call to an undefined function; with the position of that call."""
    module = ast.parse(text)
    index = next(i for i, n in enumerate(module.body) if getattr(n, "name", "") == name)
    kinds = (ast.Assign, ast.AugAssign, ast.Return, ast.If, ast.While, ast.For)
    count = sum(isinstance(n, kinds) for n in ast.walk(module.body[index]))
    for k in range(count):
        mutated = ast.parse(text)
        nodes = [n for n in ast.walk(mutated.body[index]) if isinstance(n, kinds)]
        field = {ast.If: "test", ast.While: "test", ast.For: "iter"}
        node = nodes[k]
        if getattr(node, field.get(type(node), "value"), None) is None:
            continue  # a bare `return`
        call = ast.Call(ast.Name("undefined_q", ast.Load()), [], [])
        setattr(node, field.get(type(node), "value"), call)
        new = ast.unparse(mutated)
        found = [
            c
            for c in ast.walk(ast.parse(new))
            if isinstance(c, ast.Name) and c.id == "undefined_q"
        ]
        yield new, found[0].lineno, found[0].col_offset + 1


def _compiles(text: str, name: str) -> bool:
    try:
        _lower_file(text, "m.py", [name])
    except AdError:
        return False
    return True


def _no_cascades(path: str, every: int = 1, names=None):
    """How many mutants of every ``every``-th function of ``path`` (or of
    ``names``) were checked to give exactly their one error."""
    text = open(path).read()
    names = names or [
        n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)
    ]
    checked = 0
    for name in names[::every]:
        if not _compiles(text, name):
            continue  # (a helper, or a function with a custom derivative)
        for new, line, col in _mutants(text, name):
            with pytest.raises(CompileError) as info:
                _lower_file(new, "m.py", [name])
            got = [(e.loc.line, e.loc.col, e.message) for e in flat(info.value)]
            assert got == [(line, col, "name `undefined_q` is not defined")], (
                name,
                new.splitlines()[line - 1],
            )
            checked += 1
    return checked


def test_one_broken_statement_is_one_error():
    # loops with return, break and continue, branches, tuples: every statement
    names = ["babylonian_sqrt", "first_crossing", "pairwise", "poly_steps", "power"]
    path = os.path.join(ROOT, "samples", "control_flow.py")
    assert _no_cascades(path, names=names) > 12


@pytest.mark.slow  # each mutant lowers its function again (about a minute in all)
@pytest.mark.parametrize(
    "corpus, every",
    [("corpus.py", 8), ("corpus_control.py", 16), ("array_corpus.py", 2)],
)
def test_one_broken_statement_is_one_error_over_the_corpora(corpus, every):
    assert _no_cascades(os.path.join(ROOT, "tests", corpus), every) >= 30
