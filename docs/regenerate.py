"""Regenerate every code listing and command output in README.md and docs/*.md.

Run from anywhere::

    python docs/regenerate.py            # rewrite the marked blocks in place
    python docs/regenerate.py --check    # exit 1 and print a unified diff if anything differs
    python docs/regenerate.py docs/arrays.md --check   # only some files

Every fenced block (three backquotes) in those files is preceded, on the line
right above its opening fence, by one marker comment that says where its text
comes from.  Markdown renderers do not show the comments.

``<!-- file: NAME -->``
    The block is the text of a file ``NAME``: it is written into the document's
    scratch directory before any command of the document runs, so commands
    can use it (``adc compile loops.py``, ``python example.py``).  The block
    itself is not rewritten; a name is given to one block of a document.

``<!-- generated: ... -->``
    The block is rewritten.  Each line of the comment is one source, and the
    block is their outputs one after the other:

    * ``$ COMMAND``: the line ``$ COMMAND``, then what the shell command prints
      (standard output and standard error, in order);
    * ``COMMAND``: only what it prints (the command is said in the prose);
    * ``def FILE NAME``: the source of the top-level function ``NAME`` in
      ``FILE`` (a path in the repository), decorators included;
    * ``row FILE NAME``: the statement of ``FILE`` that registers the
      primitive ``NAME`` (its registry row), with the comments above it;
    * ``needs MODULE``: the block is kept as it is, and a note printed, where
      the interpreter running the commands cannot import ``MODULE`` (an
      optional extra such as Dask, which CI installs); put it first.

    A command can pipe a module through ``defs NAME...``, which keeps only
    the named top-level functions, in the order named, a blank line between
    them (``adc compile f.py | defs f_grad``).

    Commands run under ``bash`` in the document's scratch directory, which
    holds a copy of ``samples/`` and of ``tests/``'s Python files, the files of
    the ``file:`` blocks above, and ``adc`` and ``python`` on ``PATH`` (this
    checkout's compiler and the running interpreter).

``<!-- pycon -->``
    The block is an interactive session: the ``>>>``/``...`` lines are run in
    order in one fresh interpreter (in the scratch directory) and the lines
    below each statement are rewritten with what it shows, as the Python
    prompt would (an expression's ``repr``, printed text, the last line of a
    traceback).

``<!-- as written: REASON -->``
    The block is not a listing of code or output of this project (a diagram,
    commands to set up a machine, a measurement that differs on every run);
    it is left alone.  REASON says which.

Outputs are made machine-independent: the scratch directory's path is
replaced by nothing, so a path prints as it would when run from the
directory holding the files.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MARKER = re.compile(
    r"^<!--\s*(file|generated|pycon|as written)\s*(?::\s*(.*?))?\s*-->$", re.S
)
FENCE = re.compile(r"^( *)(```+)([^`]*)$")


def documents() -> list[str]:
    """The files whose blocks are kept: README.md and every docs/*.md, repository-relative."""
    docs = sorted(
        f for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md")
    )
    return ["README.md"] + [f"docs/{name}" for name in docs]


@dataclass
class Block:
    """One fenced block with the marker above it.

    ``start`` is the index of the opening fence line, ``end`` of the closing
    one; ``kind`` and ``arg`` come from the marker (``kind`` is None when
    there is no marker)."""

    start: int
    end: int
    indent: str
    fence: str
    lang: str
    kind: str | None
    arg: str
    body: str
    marker_line: int


def find_blocks(lines: list[str]) -> list[Block]:
    """Every fenced block of a document (its lines without line ends), in order.

    A marker comment may span several lines; it must end on the line right
    above the opening fence."""
    blocks = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3).strip()
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != indent + fence:
            j += 1
        if j == len(lines):
            raise SystemExit(f"unclosed fence at line {i + 1}")
        kind, arg, marker_line = None, "", i
        if i > 0 and lines[i - 1].rstrip().endswith("-->"):
            k = i - 1
            while k >= 0 and "<!--" not in lines[k]:
                k -= 1
            mm = MARKER.match("\n".join(line.strip() for line in lines[k:i]).strip())
            if mm:
                kind, arg, marker_line = mm.group(1), (mm.group(2) or "").strip(), k
        # a block inside a list item is indented: its text is the lines without that indent
        body = "\n".join(line[len(indent) :] for line in lines[i + 1 : j])
        blocks.append(Block(i, j, indent, fence, lang, kind, arg, body, marker_line))
        i = j + 1
    return blocks


def unmarked(path: str) -> list[str]:
    """Problems with the markers of one document: blocks without a marker,
    ``as written`` without a reason, ``generated`` without a source."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        lines = f.read().split("\n")
    problems = []
    for b in find_blocks(lines):
        where = f"{path}:{b.start + 1}"
        if b.kind is None:
            problems.append(f"{where}: fenced block with no marker comment above it")
        elif b.kind in ("as written", "generated", "file") and not b.arg:
            problems.append(f"{where}: `{b.kind}` marker needs an argument")
    return problems


# --- sources --------------------------------------------------------------------------


def definition(text: str, name: str, where: str = "the text") -> str:
    """The top-level ``def name`` of a module's text, from its first
    decorator to its last line."""
    for node in ast.parse(text).body:
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.name == name
        ):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(text.split("\n")[first - 1 : node.end_lineno])
    raise SystemExit(f"{where} has no top-level function {name}")


def row_source(path: str, name: str) -> str:
    """The top-level statement of the repository file ``path`` that registers
    the primitive ``name`` (the first string literal in it is ``name``), with
    the comment lines right above it."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    for node in ast.parse(text).body:
        first = next(
            (
                n.value
                for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            ),
            None,
        )
        if isinstance(node, ast.Expr) and first == name:
            start = node.lineno - 1
            while start > 0 and lines[start - 1].lstrip().startswith("#"):
                start -= 1
            return "\n".join(lines[start : node.end_lineno])
    raise SystemExit(f"{path} registers no primitive {name!r}")


def function_source(path: str, name: str) -> str:
    """The text of the top-level ``def name`` in the repository file ``path``."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return definition(f.read(), name, path)


_ADC = """#!{python}
import sys

sys.path.insert(0, {root!r})  # this checkout, whatever PYTHONPATH the command sets
from ad_compiler.tools.cli import main

sys.exit(main())
"""


def scratch_dir() -> str:
    """A new directory to run one document's commands in (see the module docstring)."""
    work = tempfile.mkdtemp(prefix="adc-docs-")
    shutil.copytree(os.path.join(ROOT, "samples"), os.path.join(work, "samples"))
    os.makedirs(os.path.join(work, "tests"))
    os.makedirs(os.path.join(work, "docs"))
    for name in os.listdir(os.path.join(ROOT, "tests")):
        if name.endswith(".py"):
            shutil.copy(
                os.path.join(ROOT, "tests", name), os.path.join(work, "tests", name)
            )
    bin_dir = os.path.join(work, ".bin")
    os.makedirs(bin_dir)
    with open(os.path.join(bin_dir, "adc"), "w") as f:
        f.write(_ADC.format(python=sys.executable, root=ROOT))
    with open(os.path.join(bin_dir, "python"), "w") as f:
        # a wrapper, not a link: a link to a virtual environment's python loses the environment
        f.write(
            f'#!/bin/sh\nPYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{ROOT}" '
            f'exec "{sys.executable}" "$@"\n'
        )
    with open(os.path.join(bin_dir, "defs"), "w") as f:
        f.write(
            f'#!/bin/sh\nexec "{sys.executable}" "{os.path.abspath(__file__)}" --defs "$@"\n'
        )
    for name in ("adc", "python", "defs"):
        os.chmod(os.path.join(bin_dir, name), 0o755)
    return work


def environment(work: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.path.join(work, ".bin") + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    env.update(
        COLUMNS="80", LINES="50", NO_COLOR="1", PYTHON_COLORS="0", LC_ALL="C.UTF-8"
    )
    env.update(
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
    )
    env.pop("ADC_DUMP_IR", None)
    return env


def normalise(text: str, work: str) -> str:
    """Output as it reads from the scratch directory, on any machine."""
    for path in (os.path.realpath(work), work):
        text = text.replace(path + os.sep, "").replace(path, ".")
    text = text.replace(ROOT + os.sep, "")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def run(argv: list[str], work: str, stdin: str | None = None) -> tuple[int, str]:
    """Run ``argv`` in the scratch directory; its exit status and its
    standard output and error (merged, in order), normalised."""
    proc = subprocess.run(
        argv,
        input=stdin,
        cwd=work,
        env=environment(work),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    return proc.returncode, normalise(proc.stdout, work)


def run_command(command: str, work: str) -> str:
    return run(["bash", "-c", command], work)[1]


def generated(arg: str, work: str) -> str | None:
    """The block's new text; None to keep it (a ``needs`` module is missing)."""
    parts = []
    for line in arg.split("\n"):
        line = line.strip()
        if not line:
            continue
        if line.startswith("needs "):
            module = line.split()[1]
            if run([sys.executable, "-c", f"import {module}"], work)[0]:
                print(
                    f"kept a block that needs {module} (not installed)", file=sys.stderr
                )
                return None
        elif line.startswith("$ "):
            out = run_command(line[2:], work)
            parts.append(line + ("\n" + out if out else ""))
        elif line.startswith("def "):
            _, path, name = line.split()
            parts.append(function_source(path, name))
        elif line.startswith("row "):
            _, path, name = line.split()
            parts.append(row_source(path, name))
        else:
            parts.append(run_command(line, work))
    return "\n".join(parts)


# --- interactive sessions -------------------------------------------------------------


def statements(body: str) -> list[list[str]]:
    """The ``>>>`` statements of a session, each as its prompt lines (output dropped)."""
    result: list[list[str]] = []
    for line in body.split("\n"):
        if line.startswith(">>>"):
            result.append([line])
        elif (
            line.startswith("...")
            and result
            and (line == "..." or line.startswith("... "))
        ):
            result[-1].append(line)
    return result


def run_session(body: str) -> str:
    """Run a session's statements in one namespace; the session as the prompt shows it.

    Each statement is compiled as the prompt compiles it (``"single"`` mode,
    so an expression statement shows its ``repr``), with the file name
    ``<stdin>``: a function defined at the prompt has no source file, as at
    the real prompt, so ad_compiler cannot differentiate it.  Define functions
    in a ``file:`` block and import them."""
    import contextlib
    import io

    namespace: dict = {"__name__": "__main__"}
    shown = []
    for stmt in statements(body):
        code = "\n".join(line[4:] for line in stmt) + "\n"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, "<stdin>", "single"), namespace)
            except Exception as exc:
                print("Traceback (most recent call last):\n  ...")
                print("".join(traceback.format_exception_only(type(exc), exc)), end="")
        shown.extend(stmt)
        text = out.getvalue().rstrip()
        if text:
            shown.extend(line.rstrip() for line in text.split("\n"))
    return "\n".join(shown)


def session(body: str, work: str) -> str:
    status, shown = run(
        [sys.executable, os.path.abspath(__file__), "--run-session"], work, body
    )
    if status:
        raise SystemExit(f"session failed:\n{shown}")
    return shown


# --- documents ------------------------------------------------------------------------


def regenerate(path: str) -> tuple[str, str]:
    """(current text, regenerated text) of one document."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        old = f.read()
    return old, rewrite(old, path)


def rewrite(old: str, path: str = "the text") -> str:
    """A document's text with every ``generated`` and ``pycon`` block
    rewritten (``path`` names it in errors)."""
    lines = old.split("\n")
    blocks = find_blocks(lines)
    if not any(b.kind in ("generated", "pycon") for b in blocks):
        return old
    work = scratch_dir()
    try:
        replacements = {}
        written: set[str] = set()
        for b in blocks:
            if b.kind == "file":
                if b.arg in written:
                    raise SystemExit(
                        f"{path}:{b.start + 1}: a second file block {b.arg}"
                    )
                written.add(b.arg)
                target = os.path.join(work, b.arg)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w", encoding="utf-8") as f:
                    f.write(b.body + "\n")
        for b in blocks:
            if b.kind == "generated":
                text = generated(b.arg, work)
                if text is not None:
                    replacements[b.start] = text
            elif b.kind == "pycon":
                replacements[b.start] = session(b.body, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    new: list[str] = []
    i = 0
    for b in blocks:
        if b.start not in replacements:
            continue
        new.extend(lines[i : b.start + 1])
        if replacements[b.start]:
            new.extend(
                (b.indent + line).rstrip() for line in replacements[b.start].split("\n")
            )
        i = b.end
    new.extend(lines[i:])
    return "\n".join(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "files", nargs="*", help="documents (default: README.md and docs/*.md)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 with a diff if stale",
    )
    parser.add_argument("--run-session", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--defs", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.defs:  # the `defs NAME...` filter of the scratch directory
        text = sys.stdin.read()
        print("\n\n\n".join(definition(text, name) for name in args.files))
        return 0
    if args.run_session:
        sys.path.insert(0, os.getcwd())  # as the interactive prompt has it
        sys.stdout.write(run_session(sys.stdin.read()) + "\n")
        return 0
    files = [
        os.path.relpath(os.path.abspath(f), ROOT) for f in args.files
    ] or documents()
    problems = [p for f in files for p in unmarked(f)]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    stale = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(regenerate, files))
    for path, (old, new) in zip(files, results):
        if old == new:
            continue
        stale += 1
        if args.check:
            sys.stdout.writelines(
                difflib.unified_diff(
                    old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}"
                )
            )
        else:
            with open(os.path.join(ROOT, path), "w", encoding="utf-8") as f:
                f.write(new)
            print(f"rewrote {path}")
    if args.check and stale:
        print(
            f"\n{stale} document(s) differ from what `python docs/regenerate.py` writes"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
