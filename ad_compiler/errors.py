"""Source locations and the errors ad_compiler reports to its users.

Guarantees:

* every error a user can trigger with bad input is an :class:`AdError`; the ones
  that point into the user's source are :class:`CompileError` and carry a
  :class:`Loc`;
* :meth:`CompileError.render` prints the message the way C compilers do::

      f.py:12:8: error: `while` loop is not supported
          while x > 0:
          ^~~~~~~~~~~~
      hint: ...

  Lines are 1-based, columns are 1-based (the AST's 0-based ``col_offset`` + 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from .escape import printable


@dataclass(frozen=True, slots=True)
class Loc:
    """A position in a source file: 1-based line and column, with an optional end."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{printable(self.file)}:{self.line}:{self.col}"

    @classmethod
    def of(cls, node, file: str, line_offset: int = 0, col_offset: int = 0) -> "Loc":
        """The location of an AST node; offsets map re-parsed snippets back to their file."""
        end_line = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        return cls(
            file=file,
            line=node.lineno + line_offset,
            col=node.col_offset + 1 + col_offset,
            end_line=None if end_line is None else end_line + line_offset,
            end_col=None if end_col is None else end_col + col_offset,
        )


class AdError(Exception):
    """Base class of every error ad_compiler raises on purpose."""


class CompileError(AdError):
    """Input ad_compiler cannot differentiate, pointing at the offending source."""

    def __init__(
        self,
        message: str,
        loc: Loc | None = None,
        hint: str | None = None,
        source_line: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.hint = hint
        self.source_line = source_line

    def with_source(self, lines: list[str]) -> "CompileError":
        """Fill in the offending source line from the file's lines, if not known yet."""
        if self.source_line is None and self.loc is not None:
            if 1 <= self.loc.line <= len(lines):
                self.source_line = lines[self.loc.line - 1].rstrip("\n")
        return self

    def render(self) -> str:
        """The full compiler-style message: location, source line, caret, hint."""
        head = (
            f"{self.loc}: error: {self.message}"
            if self.loc
            else f"error: {self.message}"
        )
        out = [head]
        if self.loc is not None and self.source_line is not None:
            out.append(f"    {self.source_line}")
            width = 1
            if self.loc.end_line == self.loc.line and self.loc.end_col is not None:
                width = max(1, self.loc.end_col - (self.loc.col - 1))
            out.append("    " + " " * (self.loc.col - 1) + "^" + "~" * (width - 1))
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


class CompileErrors(CompileError):
    """Several compile errors from one file, reported together as compilers do."""

    def __init__(self, errors: list[CompileError]):
        super().__init__(
            errors[0].message, errors[0].loc, errors[0].hint, errors[0].source_line
        )
        self.errors = errors

    def with_source(self, lines: list[str]) -> "CompileErrors":
        for error in self.errors:
            error.with_source(lines)
        return self

    def render(self) -> str:
        text = "\n".join(e.render() for e in self.errors)
        n = len(self.errors)
        return f"{text}\n{n} error{'s' if n > 1 else ''} generated." if n > 1 else text


class UnsupportedError(CompileError):
    """A construct outside the subset ad_compiler differentiates."""


class SourceUnavailableError(AdError):
    """The function's source text cannot be read (lambda, REPL, built-in, C extension)."""


class UsageError(AdError):
    """The public API was called in a way that cannot work (bad argnums, non-scalar grad...)."""
