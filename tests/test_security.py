"""Nothing from the input runs, or reaches emitted code, unchecked (issue 14, items 1-3).

Each attack puts a payload that would create a marker file where the input can
carry text: a custom-derivative function's body, defaults, annotations,
decorators, docstring and comments, and line-break or terminal-control
characters in source lines. Every command (``adc compile`` in every mode,
``check``, ``trace``, ``graph``) and the API then runs, the emitted module is
imported and every function in it called; the marker must never appear.
"""

import ast
import inspect
import math
import sys
import textwrap

import pytest

from ad_compiler import grad, jvp
from ad_compiler.errors import CompileError, Loc
from ad_compiler.frontend.source import source_lines
from ad_compiler.tools import cli

MODES = ("reverse", "forward", "hessian", "hvp", "jacobian", "symbolic")

TEMPLATE = """\
import math

from ad_compiler import custom_derivative


def hp(x):
    return 2.0 * x


{decorators}
def h({params}){returns}:
    {doc}
    {body}


def f(x):
    return h(x) * x + x
"""


def module_text(
    marker, body="return x * x", params="x", returns="", doc="", decorators=""
):
    system = f"__import__('os').system('touch {marker}')"
    return (
        TEMPLATE.format(
            decorators=(decorators + "\n@custom_derivative(hp)").strip("\n"),
            params=params,
            returns=returns,
            doc=doc or '"""x squared."""',
            body=body,
        )
        .replace("MARKER", repr(str(marker)))
        .replace("SYSTEM", system)
    )


# the payloads the checked copy must refuse: (what, body/params/decorators, the
# text the error points at)
REFUSED = {
    "body __import__": dict(body="return x * x + SYSTEM"),
    "body open": dict(body="return x * x + 0 * len(open(MARKER, 'w').name)"),
    "body attribute": dict(body="return x.__class__.__subclasses__()[0]"),
    "body getattr": dict(body="return getattr(math, 'erf')(x)"),
    "body statement": dict(body="open(MARKER, 'w')\n    return x * x"),
    "default": dict(params="x, y=SYSTEM"),
    "decorator argument": dict(decorators="@staticmethod(open(MARKER, 'w'))"),
}
REFUSED_AT = {
    "body __import__": "__import__",
    "body open": "open",
    "body attribute": "x.__class__",
    "body getattr": "getattr",
    "body statement": "open(",
    "default": "__import__",
    "decorator argument": "staticmethod",
}
# payloads in text that is not code: accepted, and inert
ACCEPTED = {
    "annotations": dict(params="x: open(MARKER, 'w')", returns=" -> SYSTEM"),
    "docstring quotes": dict(
        doc="'''a \"\"\"; import os; os.system('touch MARKER'); \"\"\" b\"'''"
    ),
    "docstring controls": dict(doc="'''\\x1b[2J\\u2028 import os \\r\\x0c'''"),
    "comment": dict(
        body="return x * x  # \x0c import os \u2028 open(MARKER, 'w') \x1b[2J"
    ),
}


def _argv(mode, path, out):
    if mode in MODES:
        return ["compile", str(path), "--function", "f", "--mode", mode, "-o", str(out)]
    if mode == "check":
        return ["check", str(path), "--function", "f"]
    if mode == "trace":
        return ["trace", str(path), "--function", "f", "--at", "x=0.5"]
    return ["graph", str(path), "--function", "f", "-o", str(out.with_suffix(".dot"))]


def _forward_module(tmp_path, text: str) -> str:
    """The module ``adc compile --mode forward`` writes for ``f`` of ``text``."""
    path = _write(tmp_path, text)
    out = tmp_path / "out.py"
    argv = ["compile", str(path), "--function", "f", "--mode", "forward"]
    assert cli.main(argv + ["-o", str(out)]) == 0
    return out.read_text()


def _call_everything(text: str):
    """Import an emitted module and call each of its functions at 0.7."""
    namespace = {"__name__": "emitted"}
    exec(compile(text, "emitted.py", "exec"), namespace)
    called = 0
    for name, value in list(namespace.items()):
        if inspect.isfunction(value) and value.__module__ == "emitted":
            n = len(inspect.signature(value).parameters)
            value(*[0.7] * n)
            called += 1
    return namespace, called


def _write(tmp_path, text):
    path = tmp_path / "f.py"
    path.write_text(text)
    return path


def _attack(tmp_path, capsys, payload: dict, mode: str):
    """Run one command on a module carrying ``payload``: (marker, text, path,
    output path, exit code, stderr)."""
    marker = tmp_path / "MARKER"
    text = module_text(marker, **payload)
    path = _write(tmp_path, text)
    out = tmp_path / "out.py"
    code = cli.main(_argv(mode, path, out))
    return marker, text, path, out, code, capsys.readouterr().err


@pytest.mark.parametrize("what", sorted(REFUSED))
@pytest.mark.parametrize("mode", MODES + ("check", "trace", "graph"))
@pytest.mark.fast_sample(every=2)  # every copy and every command, not every pair
def test_unsafe_custom_derivative_copies_are_refused_in_every_command(
    tmp_path, capsys, what, mode
):
    marker, text, path, out, code, err = _attack(tmp_path, capsys, REFUSED[what], mode)
    assert not marker.exists()
    if mode in MODES and mode != "symbolic":
        # the copy is refused at the payload: file:line:col of its first character
        needle = REFUSED_AT[what]
        line_no = next(i for i, l in enumerate(text.splitlines(), 1) if needle in l)
        col = text.splitlines()[line_no - 1].index(needle) + 1
        assert code == 1, err
        assert f"{path}:{line_no}:{col}: error: " in err
        assert not out.exists()
    else:  # these commands do not copy the function; nothing of it may run
        assert code in (0, 1, 2), err
        assert "Traceback" not in err
    if out.exists():
        _call_everything(out.read_text())
    assert not marker.exists()


@pytest.mark.parametrize("what", sorted(ACCEPTED))
@pytest.mark.parametrize("mode", MODES + ("check", "trace", "graph"))
@pytest.mark.fast_sample(every=3)
def test_text_in_custom_derivatives_reaches_emitted_code_inert(
    tmp_path, capsys, what, mode
):
    marker, text, path, out, code, err = _attack(tmp_path, capsys, ACCEPTED[what], mode)
    assert code in (0, 1, 2), err  # 2: symbolic mode refuses custom derivatives
    assert "Traceback" not in err
    if mode in MODES and mode != "symbolic":
        assert code == 0, err
        emitted = out.read_text()
        ast.parse(emitted)  # the docstring did not break out
        # only checked text: no control or format character, no annotation
        assert all(c == "\n" or c.isprintable() for c in emitted)
        if what == "annotations":
            assert "open(" not in emitted and "__import__" not in emitted
        namespace, called = _call_everything(emitted)
        assert called >= 2
        if what.startswith("docstring"):  # copied text means what the user wrote
            original = ast.get_docstring(
                next(n for n in ast.parse(text).body if getattr(n, "name", "") == "h")
            )
            assert namespace["h"].__doc__ == original
    assert not marker.exists()


def test_the_copy_is_the_decorated_function_even_after_a_form_feed(tmp_path):
    # str.splitlines() counts \x0c, \v, \x1c-\x1e, U+0085, U+2028, U+2029 as line
    # breaks, Python does not: with it, every line after this comment shifted
    # by 8 and the text copied (and the comments quoted) were other lines
    breaks = "\x0c\v\x1c\x1d\x1e\x85\u2028\u2029"
    text = module_text(tmp_path / "M").replace(
        "def hp(x):", f"# breaks: {breaks}\ndef g(x):\n    return x\n\n\ndef hp(x):"
    )
    emitted = _forward_module(tmp_path, text)
    namespace, _ = _call_everything(emitted)
    assert namespace["h"](3.0) == 9.0  # h, not g or hp
    # f's line, quoted under its own number (the line count is Python's)
    f_line = next(i for i, l in enumerate(text.split("\n"), 1) if "h(x) * x + x" in l)
    assert f"# line {f_line}: return h(x) * x + x" in emitted
    y, y_dot = namespace["f_jvp"](3.0, 1.0)
    assert (y, y_dot) == (30.0, 28.0)  # x^3 + x: 3x^2 + 1 at 3, exactly


def test_source_lines_split_only_where_python_does():
    text = "a\x0cb\vc\x1c\x1d\x1e\x85\u2028\u2029d\r\ne\rf\ng\n"
    assert source_lines(text) == [
        "a\x0cb\vc\x1c\x1d\x1e\x85\u2028\u2029d",
        "e",
        "f",
        "g",
    ]
    assert source_lines("") == [] and source_lines("x") == ["x"]
    assert source_lines("x\n\n") == ["x", ""]


def test_errors_after_a_form_feed_point_at_the_right_line(tmp_path, capsys):
    text = (
        "import math\n# a\x0cb\u2028c\x85d\ndef f(x):\n    y = x\n    return y + 'no'\n"
    )
    path = _write(tmp_path, text)
    assert cli.main(["compile", str(path), "--function", "f"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:5:16: error: str literal is not supported\n")
    assert "        return y + 'no'\n                   ^~~~\n" in err


def test_terminal_controls_in_echoed_lines_are_escaped_and_the_caret_lines_up(
    tmp_path, capsys
):
    # ESC clears the screen, U+202E reverses the text after it (Trojan Source)
    text = "def f(x):\n\ty = x  # \u202e\n\treturn y + '\x1b[2J' + 1\n"
    path = _write(tmp_path, text)
    assert cli.main(["compile", str(path), "--function", "f"]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err
    # column 13: after the tab, `return y + ` is 11 characters
    assert f"{path}:3:13: error: str literal is not supported" in err
    assert (
        "    \treturn y + '\\x1b[2J' + 1\n    \t           ^~~~~~~~~\n" in err
    )  # `'\\x1b[2J'`: 9 wide


def test_columns_count_characters_not_bytes(tmp_path, capsys):
    text = "def f(x):\n    é = x\n    return é + 'no'\n"
    path = _write(tmp_path, text)
    assert cli.main(["compile", str(path), "--function", "f"]) == 1
    err = capsys.readouterr().err
    # the AST puts `'no'` at byte 16 (é is 2 bytes): character 15, column 16
    assert f"{path}:3:16: error: str literal is not supported" in err
    assert "        return é + 'no'\n                   ^~~~\n" in err


def test_render_escapes_and_aligns():
    line = "\tx = \x1b[2J + \u202eabc"
    error = CompileError("bad", Loc("f.py", 3, 9, 3, 12), source_line=line)
    assert error.render() == (
        "f.py:3:9: error: bad\n"
        "    \tx = \\x1b[2J + \\u202eabc\n"
        "    \t          ^~~~"  # under `J + `, shifted by the 3 characters `\x1b` gained
    )


def test_emitted_line_comments_escape_controls(tmp_path, capsys):
    text = "import math\n\ndef f(x):\n    y = math.sin(x)  # \x1b]0;pwned\x07 \u2028 \x0c end\n    return y\n"
    path = _write(tmp_path, text)
    out = tmp_path / "out.py"
    assert cli.main(["compile", str(path), "-o", str(out)]) == 0
    emitted = out.read_text()
    assert (
        "# line 4: y = math.sin(x)  # \\x1b]0;pwned\\x07 \\u2028 \\x0c end" in emitted
    )
    assert all(c == "\n" or c.isprintable() for c in emitted)


# --- the API: the user's file is imported (its own code runs, as with any import),
# but nothing of a custom-derivative function's text is run by emitted code
def _import_file(tmp_path, text, name):
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    sys.path.insert(0, str(tmp_path))
    try:
        __import__(name)
        return sys.modules.pop(name)
    finally:
        sys.path.remove(str(tmp_path))


@pytest.mark.parametrize("what", ["body __import__", "body open", "body attribute"])
def test_api_refuses_unsafe_copies(tmp_path, what):
    marker = tmp_path / "MARKER"
    module = _import_file(
        tmp_path, module_text(marker, **REFUSED[what]), f"api_{what[5:9]}"
    )
    with pytest.raises(CompileError, match="cannot be copied into emitted code"):
        grad(module.f)(0.5)
    with pytest.raises(CompileError, match="cannot be copied into emitted code"):
        jvp(module.f, (0.5,), (1.0,))
    assert not marker.exists()


def test_api_copies_docstrings_and_comments_inert(tmp_path):
    marker = tmp_path / "MARKER"
    text = module_text(marker, **ACCEPTED["docstring quotes"]).replace(
        "return x * x", "return x * x  # \x0c open(MARKER, 'w')"
    )
    module = _import_file(tmp_path, text, "api_doc")
    y, y_dot = jvp(module.f, (3.0,), (1.0,))
    assert (y, y_dot) == (30.0, 28.0)  # x^3 + x and 3x^2 + 1 at 3
    assert grad(module.f)(3.0) == 28.0
    assert not marker.exists()


def test_api_copies_only_math_numpy_and_numbers(tmp_path):
    text = textwrap.dedent("""\
        import math
        import os
        from math import erf
        from ad_compiler import custom_derivative

        SCALE = 2.0

        def hp(x):
            return SCALE * 2.0 / math.sqrt(math.pi) * math.exp(-x * x)

        @custom_derivative(hp)
        def h(x):
            return SCALE * erf(x)

        @custom_derivative(hp)
        def bad(x):
            return SCALE * erf(x) + 0 * os.getpid()

        def f(x):
            return h(x)

        def g(x):
            return bad(x)
        """)
    module = _import_file(tmp_path, text, "api_imports")
    d = grad(module.f)
    assert "from math import erf" in d.source and "SCALE = 2.0" in d.source
    assert d(0.3) == pytest.approx(4 / math.sqrt(math.pi) * math.exp(-0.09), rel=1e-15)
    with pytest.raises(CompileError, match="`os.getpid` cannot be copied"):
        jvp(module.g, (0.3,), (1.0,))


def test_any_text_in_a_docstring_stays_inside_it():
    """Docstrings and the module header carry text from the input (docstrings,
    file names): whatever it holds, the literal parses as one string that
    means that text. Seeded; ADC_FUZZ_CASES scales the number of cases."""
    import os
    import random

    from ad_compiler.backend.codegen import _docstring
    from ad_compiler.escape import docstring_lines as _docstring_lines

    rng = random.Random(14)
    alphabet = ['"', "'", "\\", "\n", "\r", "\x1b", "\x0c", "\x00", "\x85", "\t", " "]
    alphabet += ["a", "\u2028", "\u202e", "é"]
    for _ in range(int(os.environ.get("ADC_FUZZ_CASES", "2000"))):
        doc = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        literal = '"""' + "\n".join(_docstring_lines(doc)) + '"""'
        (stmt,) = ast.parse(literal).body
        # the same text, its line breaks as Python counts them
        want = "\n".join(source_lines(doc.strip()))
        assert ast.literal_eval(literal) == want, (doc, literal)
        body = ast.parse(f"def f():\n    {_docstring(doc)}\n    return 1\n").body
        assert len(body[0].body) == 2, (doc, _docstring(doc))


def test_a_file_name_cannot_end_the_header_docstring(tmp_path):
    from ad_compiler.tools.files import compile_file

    name = str(tmp_path / 'a""";import os;os.system("touch x");"""\x1b[2J.py')
    text = compile_file(
        "def f(x):\n    return x * x\n", name, command=f"adc compile {name}"
    )
    tree = ast.parse(text)
    assert not any(
        isinstance(s, ast.Import) and s.names[0].name == "os" for s in tree.body
    )
    assert "\x1b" not in text  # written as the escape \\x1b
    header = ast.get_docstring(tree, clean=False)
    # the file name as printed (ESC shown as the four characters \x1b), quotes kept
    assert 'a""";import os;os.system("touch x");"""\\x1b[2J.py' in header
    assert len([s for s in tree.body if isinstance(s, ast.FunctionDef)]) == 1


def test_cli_copies_math_imports_and_module_numbers(tmp_path):
    text = textwrap.dedent("""\
        import math
        from math import erf
        import numpy as np
        from ad_compiler import custom_derivative

        SCALE = 2.0
        BIG = 1e999


        def hp(x, k):
            return SCALE * 2.0 / math.sqrt(math.pi) * math.exp(-x * x), 0.0


        @custom_derivative(hp)
        def h(x, k=-1.5):
            return SCALE * erf(x) + 0.0 * float(np.tanh(x)) + 0.0 * min(BIG, k)


        def f(x):
            return h(x) * x
        """)
    emitted = _forward_module(tmp_path, text)
    # the copy's globals, from the checked tree: imports of math/numpy, numbers
    for line in (
        "from math import erf",
        "SCALE = 2.0",
        'BIG = float("inf")',
        "def h(x, k=-1.5):",
    ):
        assert line in emitted, line
    namespace, _ = _call_everything(emitted)
    y, y_dot = namespace["f_jvp"](0.3, 1.0)
    # d/dx (2 erf(x) x) = 2 erf(x) + x * 4/sqrt(pi) exp(-x^2)
    want = 2 * math.erf(0.3) + 0.3 * 4 / math.sqrt(math.pi) * math.exp(-0.09)
    assert y == pytest.approx(2 * math.erf(0.3) * 0.3, rel=1e-15)
    assert y_dot == pytest.approx(want, rel=1e-14)


def _evil_float(marker):
    """A float whose repr is code that would create ``marker``."""

    class Evil(float):
        def __repr__(self):
            return f"__import__('pathlib').Path({str(marker)!r}).touch() or 2.0"

    return Evil


def _live_module(tmp_path, monkeypatch, name: str, text: str):
    import importlib

    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(name)


def test_a_live_default_reaches_emitted_code_as_a_plain_number(tmp_path, monkeypatch):
    """The API writes the live ``__defaults__`` into the emitted signature: as the
    number, never through the object's own ``repr`` (a float subclass may print
    as code, and NumPy 2 prints ``np.float64(1.4)``, a name the module lacks)."""
    import numpy as np

    marker = tmp_path / "PWNED"
    evil = _evil_float(marker)
    text = "def f(x, a=2.0):\n    return a * x * x\n"
    module = _live_module(tmp_path, monkeypatch, "live_default", text)
    for value, want in ((evil(3.0), 6.0), (np.float64(np.sqrt(2.0)), 2 * np.sqrt(2.0))):
        module.f.__defaults__ = (value,)
        df = grad(module.f)
        assert df(1.0) == pytest.approx(want)
        assert "import" not in df.source.split("def ")[1].split(":")[0]
        assert not marker.exists()


def test_a_live_global_reaches_emitted_code_as_a_plain_number(tmp_path, monkeypatch):
    """A module-level number the derivative bakes in is printed as the plain
    number (ir.Const keeps only exact int/float), whatever its class's repr."""
    marker = tmp_path / "PWNED"
    text = "A = 2.0\n\n\ndef f(x):\n    return A * x + x * x\n"
    module = _live_module(tmp_path, monkeypatch, "live_global", text)
    module.A = _evil_float(marker)(3.0)
    df = grad(module.f)
    assert df(1.0) == 5.0
    assert "3.0" in df.source and "pathlib" not in df.source
    assert not marker.exists()
