"""Reading the user's source: from a file's text (CLI) or from a live function (API).

Guarantees: a :class:`FunctionSource` always holds the function's ``ast.FunctionDef``
with locations that point into the *original* file (line and column), and that
file's lines, so every later error can quote the user's own line.  Text is only
parsed, never executed.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
from dataclasses import dataclass

from .errors import CompileError, Loc, SourceUnavailableError


@dataclass(frozen=True)
class FunctionSource:
    """One function's syntax tree, with where it came from."""

    node: ast.FunctionDef
    file: str
    lines: tuple[str, ...]
    line_offset: int = 0  # added to AST line numbers to get file line numbers
    col_offset: int = 0  # added to AST columns (the indentation removed before parsing)

    def loc(self, node: ast.AST) -> Loc:
        return Loc.of(node, self.file, self.line_offset, self.col_offset)

    def line(self, loc: Loc) -> str | None:
        if loc.file != self.file:  # code inlined from a function in another file
            return linecache.getline(loc.file, loc.line).rstrip("\n") or None
        if 1 <= loc.line <= len(self.lines):
            return self.lines[loc.line - 1].rstrip("\n")
        return None


def parse_module(text: str, file: str) -> ast.Module:
    """Parse a whole file; a syntax error becomes a compile error at its position."""
    try:
        return ast.parse(text, filename=file)
    except SyntaxError as exc:
        loc = Loc(file, exc.lineno or 1, exc.offset or 1)
        lines = text.splitlines()
        message = exc.msg
        if not message.startswith("invalid syntax"):
            message = f"invalid syntax: {message}"
        raise CompileError(message, loc).with_source(lines) from None
    except ValueError as exc:  # e.g. source with NUL bytes
        raise CompileError(f"cannot parse {file}: {exc}") from None
    except (RecursionError, MemoryError):
        lines = text.splitlines()
        longest = max(range(len(lines)), key=lambda i: len(lines[i]), default=0)
        raise too_deep(Loc(file, longest + 1, 1), lines) from None


def too_deep(loc: Loc, lines) -> CompileError:
    """Python's own parser gave up (RecursionError): an expression nested deeper
    than it accepts.  Located at ``loc`` (the function, or the longest line)."""
    return CompileError(
        "expression too deeply nested for Python's parser",
        loc,
        hint="split it into several statements",
    ).with_source(lines)


def module_functions(module: ast.Module) -> list[ast.FunctionDef]:
    """The top-level ``def`` statements of a module, in order."""
    return [s for s in module.body if isinstance(s, ast.FunctionDef)]


def from_text(text: str, file: str, name: str) -> FunctionSource:
    """The top-level function ``name`` of a file's text."""
    module = parse_module(text, file)
    for node in module_functions(module):
        if node.name == name:
            return FunctionSource(node, file, tuple(text.splitlines()))
    raise CompileError(f"{file} has no top-level function named `{name}`")


def from_function(fn) -> FunctionSource:
    """The source of a live Python function, located in its file."""
    name = getattr(fn, "__name__", repr(fn))
    if name == "<lambda>":
        raise SourceUnavailableError(
            "cannot differentiate a lambda: ad_compiler reads a function's source, and a "
            "lambda's cannot be isolated; define it with `def`"
        )
    if not inspect.isfunction(fn):
        raise SourceUnavailableError(
            f"cannot differentiate {name!r}: it is not a Python function defined with `def` "
            f"(got {type(fn).__name__})"
        )
    try:
        lines, start = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or inspect.getfile(fn)
    except (OSError, TypeError):
        raise SourceUnavailableError(
            f"cannot read the source of `{name}`: functions typed at the interactive prompt "
            "or created with exec() have no source file; put it in a .py file (Jupyter "
            "cells work too)"
        ) from None
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip()) if dedented != text else 0
    try:
        module = ast.parse(dedented)
    except SyntaxError as exc:
        raise SourceUnavailableError(
            f"cannot parse the source of `{name}`: {exc}"
        ) from None
    except (RecursionError, MemoryError):  # Python compiled it with more room
        file_lines = [line.rstrip("\n") for line in linecache.getlines(file)]
        raise too_deep(Loc(file, start, indent + 1), file_lines) from None
    nodes = [n for n in module.body if isinstance(n, ast.FunctionDef)]
    if not nodes:
        raise SourceUnavailableError(f"the source of `{name}` holds no `def` statement")
    file_lines = linecache.getlines(file) or [""] * (start - 1) + lines
    all_lines = tuple(line.rstrip("\n") for line in file_lines)
    return FunctionSource(
        nodes[0], file, all_lines, line_offset=start - 1, col_offset=indent
    )
