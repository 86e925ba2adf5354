"""Every rejected construct: its message, its line and column, from the API and the CLI."""

import subprocess
import sys

import bad_inputs
import pytest

from ad_compiler import CompileError, SourceUnavailableError, UsageError, grad

FILE = bad_inputs.__file__
LINES = open(FILE, encoding="utf-8").read().splitlines()

MAYBE_UNBOUND_IF = 1 + next(
    i for i, line in enumerate(LINES) if line.startswith("def maybe_unbound(")
)

UNBOUND_LOOP = 2 + next(
    i for i, line in enumerate(LINES) if line.startswith("def unbound_after_loop(")
)

# function -> (text the caret points at, message)
CASES = {
    "call_unknown_keyword": ("c=2.0", "`_pair` has no parameter named `c`"),
    "call_missing_argument": (
        "_pair(x)",
        "missing argument `b` in the call to `_pair`",
    ),
    "call_with_a_tuple_to_recursion": (
        "call_with_a_tuple_to_recursion((x, x))",
        "passing a tuple to `call_with_a_tuple_to_recursion` is not supported here",
    ),
    "loop_over_number": ("2.5", "a `for` loop over `2.5` is not supported"),
    "unbound_after_loop": (
        "return <y>",
        f"`y` may be unbound here: it is assigned in the loop at line {UNBOUND_LOOP}, "
        "which may run zero times",
    ),
    "unknown_name": ("undefined_thing", "name `undefined_thing` is not defined"),
    "unknown_function": (
        "math.gamma",
        "`math.gamma` is not supported: ad_compiler has no derivative rule for it",
    ),
    "calls_os": (
        "os.getpid",
        "call to `os.getpid` is not supported " "(an attribute of the module `os`)",
    ),
    "wrong_arity": ("math.sin(x, 2)", "`math.sin` takes 1 argument, got 2"),
    "list_literal": ("y * x", "arithmetic on tuples or lists is not supported"),
    "uses_lambda": ("lambda z: z * x", "function `lambda` used as a value"),
    "bare_return": ("return", "`return` without a value"),
    "no_return": ("def no_return", "function `no_return` does not return a value"),
    "star_args": ("xs", "star-parameters are not supported"),
    "keyword_only": ("scale", "keyword-only parameters are not supported"),
    "attribute_store": ("x.value", "assignment to an attribute is not supported"),
    "unknown_method": ("x.argsort", "method `.argsort()` is not supported"),
    "axis_not_literal": (
        "k)",
        "`axis` must be a literal (an int, a tuple of ints, True/False or None)",
    ),
    "used_before_assignment": (
        "z + 1",
        "local variable `z` is used before it is assigned",
    ),
    "string_literal": ('"a"', "str literal is not supported"),
    "complex_literal": ("2j", "complex number literal is not supported"),
    "walrus": ("y := x * 2", "assignment expression (`:=`) is not supported"),
    "try_block": ("try:", "`try` statement is not supported"),
    "with_block": ("with open", "`with` statement is not supported"),
    "global_statement": ("global counter", "`global` declaration is not supported"),
    "delete_statement": ("del y", "`del` statement is not supported"),
    "comprehension": (
        "x > i",
        "this `if` of a comprehension depends on a value known only at run time, "
        "so the number of items is not known when compiling",
    ),
    "code_after_return": ("y = 2", "code after `return` is not supported"),
    "keyword_argument": ("base=2", "keyword arguments to `math.log` are not supported"),
    "nested_def": (
        "nonlocal total",
        "`nonlocal total`: a nested function assigning to a name outside it "
        "is not supported",
    ),
    "unpack_mismatch": ("a, b", "cannot unpack 3 values into 2 names"),
    "maybe_unbound": (
        "return <y>",
        f"`y` may be unbound here: the `if` at line {MAYBE_UNBOUND_IF + 1} assigns it "
        "on only some paths",
    ),
    "compare_is": ("x is x", "comparison `is` is not supported"),
    "branches_return_different": (
        "if x > 0:",
        "the paths through this `if` return different numbers of values",
    ),
    "falls_off_the_end": (
        "if x > 0:",
        "not every path through this `if` returns a value",
    ),
    "max_of_one_iterable": (
        "max(<x>)",
        "`max` over the rows of an array: their number is known only at run time",
    ),
}


def expected_location(name, snippet):
    """Line and column of ``snippet`` in function ``name`` (the caret goes to the
    part in angle brackets, if any)."""
    start = next(i for i, line in enumerate(LINES) if line.startswith(f"def {name}("))
    if "<" in snippet and not snippet.startswith("<"):
        plain = snippet.replace("<", "").replace(">", "")
        for i in range(start, len(LINES)):
            if plain in LINES[i]:
                return i + 1, LINES[i].index(plain) + snippet.index("<") + 1
    if snippet == f"def {name}":
        return start + 1, LINES[start].index(snippet) + 1
    for i in range(start, len(LINES)):
        if snippet in LINES[i] and (i > start or snippet in ("xs", "scale")):
            return i + 1, LINES[i].index(snippet) + 1
    raise AssertionError(f"{snippet!r} not found in {name}")


def test_every_bad_input_has_a_case():
    defined = [n for n in dir(bad_inputs) if callable(getattr(bad_inputs, n))]
    cases = [n for n in defined if n not in ("os", "math") and not n.startswith("_")]
    assert sorted(cases) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_api_error_message_and_location(name):
    snippet, message = CASES[name]
    with pytest.raises(CompileError) as info:
        grad(getattr(bad_inputs, name))
    err = info.value
    line, col = expected_location(name, snippet)
    assert err.message == message
    assert (err.loc.file, err.loc.line, err.loc.col) == (FILE, line, col)
    rendered = err.render().splitlines()
    assert rendered[0] == f"{FILE}:{line}:{col}: error: {message}"
    assert rendered[1] == "    " + LINES[line - 1]
    assert rendered[2].index("^") == 4 + col - 1
    if err.hint:
        assert rendered[3].startswith("hint: ")


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.slow  # a subprocess each; the wording is checked above, the CLI's below
def test_cli_error_message_and_location(name):
    snippet, message = CASES[name]
    line, col = expected_location(name, snippet)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ad_compiler.tools.cli",
            "compile",
            FILE,
            "--function",
            name,
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    first = proc.stderr.splitlines()[0]
    assert first == f"{FILE}:{line}:{col}: error: {message}"
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # a subprocess over every case; test_whole_file's every_error_once_located is fast
def test_cli_reports_every_function_error_at_once():
    proc = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", FILE],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.count(": error: ") == len(CASES)
    assert proc.stderr.rstrip().endswith(f"{len(CASES)} errors generated.")


def test_lambda_is_rejected_clearly():
    with pytest.raises(SourceUnavailableError, match="cannot differentiate a lambda"):
        grad(lambda x: x * x)


def test_function_without_source_is_rejected_clearly():
    namespace = {}
    exec("def f(x):\n    return x * x\n", namespace)
    with pytest.raises(SourceUnavailableError, match="cannot read the source of `f`"):
        grad(namespace["f"])


def test_builtin_is_rejected_clearly():
    with pytest.raises(SourceUnavailableError, match="not a Python function"):
        grad(len)


def test_grad_of_tuple_valued_function_is_a_usage_error():
    import seeds

    with pytest.raises(UsageError, match="returns a tuple of 2 values") as info:
        grad(seeds.rainforth)
    assert "vjp(rainforth, ...)" in info.value.hint


@pytest.mark.slow  # a subprocess; test_cli_edges and the CLI fuzzer's syntax.py report syntax errors in-process
def test_syntax_error_is_reported_at_its_position(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("def f(x):\n    return x +\n")
    proc = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"{bad}:2:")
    assert "error: invalid syntax" in proc.stderr
    assert "Traceback" not in proc.stderr
