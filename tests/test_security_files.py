"""File names are outside text: no command lets one inject code or terminal control.

Every file below is an ordinary, differentiable Python file whose *name* carries
code: it closes the emitted module's docstring (quotes of both kinds), ends the
line (``\\n``, ``\\r``), or uses a character some reader treats as a line break
(``\\x0c``, ``\\v``, U+2028, U+2029, U+0085), followed by ``open("MARK", "w")``.
If the name reached emitted code raw, importing the module would create the
marker file.  Each command runs through a subprocess, as a user runs it; the
module ``adc compile`` writes (every ``--mode``) is parsed (its only imports are
math and numpy), imported and called, in a folder where the marker would appear.
"""

import ast
import inspect
import os
import runpy
import subprocess
import sys

import pytest

INJECTED = 'open("MARK", "w")'
SEPARATORS = ["\n", "\r", "\x0c", "\x0b", "\u2028", "\u2029", "\x85", "\x1b[2J"]

NAMES = [
    f'a""";{INJECTED};""".py',
    f"a''';{INJECTED};'''.py",
    f"a\n{INJECTED}\n#.py",
    f'a"\n""";{INJECTED}\n#\'.py',
    *(f'a{sep}""";{INJECTED};"""{sep}#.py' for sep in SEPARATORS),
]

SOURCE = (
    "import math\n"
    "\n"
    "\n"
    "def f(x, y):\n"
    "    # a comment\n"
    "    return math.sin(x) * y + x * x\n"
)

MODES = ["reverse", "forward", "symbolic", "hessian", "hvp", "jacobian"]


def adc(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", *args],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture(params=range(len(NAMES)), ids=lambda i: f"name{i}")
def named(request, tmp_path):
    """A folder holding one sample file under a hostile name."""
    name = NAMES[request.param]
    (tmp_path / name).write_text(SOURCE)
    return tmp_path, name


def _imports(module_text: str) -> set[str]:
    tree = ast.parse(module_text)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add(node.module or ".")
    return out


def _top_level_is_only_defs(module_text: str) -> bool:
    """The module's statements: its docstring, imports, and function definitions."""
    body = ast.parse(module_text).body
    kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef)
    docstring = isinstance(body[0], ast.Expr) and isinstance(
        body[0].value, ast.Constant
    )
    return docstring and all(isinstance(s, kinds) for s in body[1:])


def _run_module(folder, text: str) -> None:
    """Import the emitted module (in ``folder``) and call each of its functions."""
    path = folder / "emitted_module.py"
    path.write_text(text)
    here = os.getcwd()
    os.chdir(folder)  # where a relative open("MARK") would write
    try:
        ns = runpy.run_path(str(path))
        for name, fn in ns.items():
            if inspect.isfunction(fn) and name.startswith("f_"):
                fn(*[0.5] * len(inspect.signature(fn).parameters))
    finally:
        os.chdir(here)


def _printable(text: str) -> bool:
    """No character that a terminal or a line-based reader would act on."""
    return all(ch.isprintable() or ch in "\n" for ch in text)


@pytest.mark.parametrize("extra", [[f"--mode={m}"] for m in MODES] + [["--ir"]])
@pytest.mark.fast_sample(first=1)  # a subprocess each
def test_compile_never_carries_code_from_the_file_name(named, extra):
    folder, name = named
    proc = adc("compile", name, *extra, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert _printable(proc.stderr)
    if extra == ["--ir"]:  # IR text: the function, never the file name
        assert name not in proc.stdout and "MARK" not in proc.stdout
        return
    assert _imports(proc.stdout) <= {"math", "numpy"}
    assert _top_level_is_only_defs(proc.stdout)
    # the header names the file, escaped: one printable line of text
    header = ast.get_docstring(ast.parse(proc.stdout), clean=False)
    assert _printable(header) and "from a" in header
    _run_module(folder, proc.stdout)
    assert not (folder / "MARK").exists()


@pytest.mark.slow
def test_compile_to_a_file_carries_no_code_either(named):
    folder, name = named
    proc = adc("compile", name, "-o", "out.py", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    text = (folder / "out.py").read_text()
    assert _imports(text) <= {"math"}
    _run_module(folder, text)
    assert not (folder / "MARK").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["graph", "--function", "f"],
        ["graph", "--function", "f", "--adjoints", "-o", "g.dot"],
        ["trace", "--function", "f", "--at", "x=1", "y=2"],
        ["trace", "--function", "f", "--at", "x=1", "y=2", "--format", "json"],
        ["trace", "--function", "f", "--at", "x=1", "y=2", "--format", "markdown"],
        ["check", "--seconds", "30"],
        ["swell", "--function", "f", "--param", "y=1..2", "--wrt", "x"],
        ["compile", "--function", "nope"],  # an error message naming the file
    ],
    ids=lambda c: "-".join(c[:1] + c[-2:]),
)
def test_other_commands_echo_the_name_only_escaped(named, command):
    folder, name = named
    proc = adc(command[0], name, *command[1:], cwd=folder)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    assert _printable(proc.stdout) and _printable(proc.stderr)
    written = folder / "g.dot"
    dot = written.read_text() if written.exists() else proc.stdout
    assert INJECTED not in dot
    assert not (folder / "MARK").exists()


def test_printable_escapes_every_line_break_and_control_character():
    from ad_compiler.escape import printable

    for ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00\x1b\x7f\u202e\udcff":
        escaped = printable(f"a{ch}b")
        assert escaped.isprintable() and escaped.startswith("a\\") and len(escaped) > 3
        assert escaped.splitlines() == [escaped]  # str.splitlines knows them all
    assert printable("samples/seeds.py") == "samples/seeds.py"  # plain names unchanged
    assert printable("a\\nb") == "a\\\\nb"  # a backslash is doubled: no fake escapes
    assert printable("é 名前 \"'#") == "é 名前 \"'#"


def test_a_header_cannot_close_its_docstring():
    from ad_compiler.backend.codegen import emit_module

    for header in ['x"""; import os; """', 'ends with a quote"', "back\\", '""""']:
        module = emit_module([], header, [])
        tree = ast.parse(module)
        assert len(tree.body) == 1 and ast.get_docstring(tree, clean=False) == header


def test_dot_labels_stay_one_string():
    from ad_compiler.tools.graph import _quoted

    hostile = 'x", shape=box, image="/etc/passwd"]; n9 [label="\n'
    quoted = _quoted(hostile)
    assert quoted.startswith('"') and quoted.endswith('"') and "\n" not in quoted
    inner = quoted[1:-1]
    # every quote inside is escaped: an even number of backslashes never precedes one
    for i, ch in enumerate(inner):
        if ch == '"':
            run = len(inner[:i]) - len(inner[:i].rstrip("\\"))
            assert run % 2 == 1
