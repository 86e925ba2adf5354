"""Reading the user's source: from a file's text (CLI) or from a live function (API).

Guarantees: a :class:`FunctionSource` always holds the function's ``ast.FunctionDef``
with locations that point into the *original* file (line and column), and that
file's lines, so every later error can quote the user's own line.  Text is only
parsed, never executed.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import linecache
import re
import textwrap
from dataclasses import dataclass

from .errors import CompileError, Loc, SourceUnavailableError

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def source_lines(text: str) -> list[str]:
    """The lines of a source text, split where Python's tokenizer splits them.

    Only ``\\n``, ``\\r\\n`` and ``\\r`` end a line.  ``str.splitlines`` also
    splits at ``\\x0c``, ``\\v``, ``\\x1c``-``\\x1e``, U+0085, U+2028 and U+2029, which
    Python reads as ordinary characters: counting them would shift every line
    number after them, so an error, an emitted ``# line N:`` comment or a copied
    function would come from another line than the AST's.  Like ``splitlines``,
    a final line break does not start another line.
    """
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


@dataclass(frozen=True)
class FunctionSource:
    """One function's syntax tree, with where it came from."""

    node: ast.FunctionDef
    file: str
    lines: tuple[str, ...]
    line_offset: int = 0  # added to AST line numbers to get file line numbers
    col_offset: int = 0  # added to AST columns (the indentation removed before parsing)

    def loc(self, node: ast.AST) -> Loc:
        """Where ``node`` is; columns count characters (the AST counts UTF-8 bytes)."""
        return locate(node, self.file, self.lines, self.line_offset, self.col_offset)

    def line(self, loc: Loc) -> str | None:
        if loc.file != self.file:  # code inlined from a function in another file
            return linecache.getline(loc.file, loc.line).rstrip("\n") or None
        if 1 <= loc.line <= len(self.lines):
            return self.lines[loc.line - 1].rstrip("\n")
        return None


def locate(
    node: ast.AST, file: str, lines, line_offset: int = 0, col_offset: int = 0
) -> Loc:
    """The location of ``node`` in ``file`` whose lines are ``lines``, in characters."""
    loc = Loc.of(node, file, line_offset, col_offset)

    def line(n):
        return lines[n - 1] if 1 <= n <= len(lines) else None

    col = _char_column(line(loc.line), loc.col - 1) + 1
    end_col = loc.end_col
    if end_col is not None and loc.end_line is not None:
        end_col = _char_column(line(loc.end_line), end_col)
    return dataclasses.replace(loc, col=col, end_col=end_col)


def _char_column(line: str | None, offset: int) -> int:
    """The character offset of UTF-8 byte ``offset`` of ``line``."""
    if line is None or line.isascii():
        return offset
    return len(line.encode("utf-8")[:offset].decode("utf-8", "ignore"))


def parse_module(text: str, file: str) -> ast.Module:
    """Parse a whole file; a syntax error becomes a compile error at its position."""
    try:
        return ast.parse(text, filename=file)
    except SyntaxError as exc:
        loc = Loc(file, exc.lineno or 1, exc.offset or 1)
        lines = source_lines(text)
        message = exc.msg
        if not message.startswith("invalid syntax"):
            message = f"invalid syntax: {message}"
        raise CompileError(message, loc).with_source(lines) from None
    except ValueError as exc:  # e.g. source with NUL bytes
        raise CompileError(f"cannot parse {file}: {exc}") from None


def module_functions(module: ast.Module) -> list[ast.FunctionDef]:
    """The top-level ``def`` statements of a module, in order."""
    return [s for s in module.body if isinstance(s, ast.FunctionDef)]


def from_text(text: str, file: str, name: str) -> FunctionSource:
    """The top-level function ``name`` of a file's text."""
    module = parse_module(text, file)
    for node in module_functions(module):
        if node.name == name:
            return FunctionSource(node, file, tuple(source_lines(text)))
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
    nodes = [n for n in module.body if isinstance(n, ast.FunctionDef)]
    if not nodes:
        raise SourceUnavailableError(f"the source of `{name}` holds no `def` statement")
    file_lines = linecache.getlines(file) or [""] * (start - 1) + lines
    all_lines = tuple(line.rstrip("\n") for line in file_lines)
    return FunctionSource(
        nodes[0], file, all_lines, line_offset=start - 1, col_offset=indent
    )
