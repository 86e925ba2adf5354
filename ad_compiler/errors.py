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

  Lines are 1-based, columns are 1-based characters (the AST's 0-based
  ``col_offset`` + 1, converted from UTF-8 bytes by ``FunctionSource.loc``);
* a source line echoed back (here, and in the ``# line N:`` comments of
  emitted code) goes through :func:`visible` first: control and format
  characters are shown as escapes, so an input cannot drive the terminal, hide
  text or end a comment; the caret stays under the same characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from ad_compiler.escape import printable, visible


def _blank(text: str) -> str:
    """Spaces as wide as ``text`` shown by :func:`visible`, tabs kept (for a caret)."""
    return "".join("\t" if c == "\t" else " " for c in visible(text))


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


def _located(kind: str, message: str, loc: Loc | None, line: str | None) -> str:
    """``file:line:col: kind: message``, the source line and a caret under ``loc``."""
    head = f"{loc}: {kind}: {message}" if loc else f"{kind}: {message}"
    if loc is None or line is None:
        return head
    start = loc.col - 1
    width = 1
    if loc.end_line == loc.line and loc.end_col is not None:
        width = max(1, len(visible(line[start : loc.end_col])))
    caret = f"    {_blank(line[:start])}^" + "~" * (width - 1)
    return f"{head}\n    {visible(line)}\n{caret}"


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
        # (message, Loc, source line) of other places the error involves
        self.notes: tuple[tuple[str, Loc, str | None], ...] = ()

    def with_source(self, lines: list[str]) -> "CompileError":
        """Fill in the offending source line from the file's lines, if not known yet."""
        if self.source_line is None and self.loc is not None:
            if 1 <= self.loc.line <= len(lines):
                self.source_line = lines[self.loc.line - 1].rstrip("\n")
        return self

    def render(self) -> str:
        """The full compiler-style message: location, source line, caret, hint,
        then the notes (other places involved, each with its line and caret)."""
        out = [_located("error", self.message, self.loc, self.source_line)]
        if self.hint:
            out.append(f"hint: {self.hint}")
        out += [_located("note", *note) for note in self.notes]
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
        self.functions: int | None = None  # how many functions they are in, if known
        self.stopped = False  # a cap on the count was reached: there may be more

    def with_source(self, lines: list[str]) -> "CompileErrors":
        for error in self.errors:
            error.with_source(lines)
        return self

    def render(self) -> str:
        """Each error rendered, then a summary: ``N errors generated.``, after how
        many functions they are in (if known), and whether a cap stopped the count."""
        text = "\n".join(e.render() for e in self.errors)
        n = len(self.errors)
        if n < 2:
            return text
        summary = f"{n} errors generated."
        if self.functions:
            plural = "s" if self.functions > 1 else ""
            summary = f"errors in {self.functions} function{plural}; {summary}"
        if self.stopped:
            text += (
                f"\nerror: too many errors; stopped after {n} (fix these and run again)"
            )
        return f"{text}\n{summary}"


class UnsupportedError(CompileError):
    """A construct outside the subset ad_compiler differentiates."""


class SourceUnavailableError(AdError):
    """The function's source text cannot be read (lambda, REPL, built-in, C extension)."""


class StaleSourceError(SourceUnavailableError):
    """The text a function's file (or notebook cell) holds now is not the text the
    live function was compiled from: the file was edited, or the cell's name
    reused, after the function was defined.  Differentiating that text would
    give the derivative of some other function."""


class UsageError(AdError):
    """The public API was called in a way that cannot work (bad argnums, non-scalar grad...)."""


class ResultShapeError(UsageError, CompileError):
    """``grad`` (or ``value_and_grad``) of a function whose result is not one
    number: a usage error, located at the ``return`` like a compile error.
    ``kind``, ``function`` and ``found`` (what it returns, in words) let the
    caller, who knows the arguments, say it more exactly (see ``restate``)."""

    def __init__(self, kind: str, function: str, found: str, loc=None, line=None):
        self.kind, self.function, self.found = kind, function, found
        super().__init__(self._message(), loc, self._hint(), line)

    def _message(self) -> str:
        return (
            f"{self.kind}() needs `{self.function}` to return a scalar (one number), "
            f"but it returns {self.found}"
        )

    def _hint(self) -> str:
        f = self.function
        if self.kind == "hessian":
            return (
                f"for the second derivatives of every output use jacfwd(jacrev({f})); "
                "or return a number (np.sum(...), a norm, a dot product)"
            )
        return (
            f"for the derivatives of every output use jacrev({f}) (or jacfwd({f})); "
            f"for one weighted sum of them, vjp({f}, ...) and its pullback; "
            "or return a number (np.sum(...), a norm, a dot product)"
        )

    def restate(self, found: str) -> "ResultShapeError":
        """The same error saying what the function returns as ``found``."""
        self.found = found
        self.message = self._message()
        self.args = (self.message,)
        return self


class VerificationError(AdError):
    """The IR broke one of its invariants (:func:`ad_compiler.ir.nodes.verify`):
    a bug in ad_compiler, not in the user's code.

    ``pass_name`` is the pass after which the IR was found broken (None when
    the check ran outside a named pass, or after several: then ``passes`` lists
    them), ``function`` the IR function's name and ``problem`` what is wrong
    (which variable, which statement).  A real exception, not an ``assert``:
    ``python -O`` keeps it.
    """

    def __init__(self, problem: str, function: str = "?", pass_name: str | None = None):
        self.problem, self.function, self.pass_name = problem, function, pass_name
        self.passes: tuple[str, ...] = ()
        super().__init__(self._message())

    def after(self, pass_name: str) -> "VerificationError":
        """The same error, naming the pass it was found after (if none was named)."""
        if self.pass_name is None and not self.passes:
            self.pass_name = pass_name
            self.args = (self._message(),)
        return self

    def after_one_of(self, passes: tuple[str, ...]) -> "VerificationError":
        """The same error, found after ``passes`` ran unverified."""
        if self.pass_name is None and not self.passes:
            self.passes = passes
            self.args = (self._message(),)
        return self

    def _message(self) -> str:
        where = ""
        if self.pass_name:
            where = f" after the pass `{self.pass_name}`"
        elif self.passes:
            where = (
                f" after the passes {', '.join(self.passes)} "
                "(ADC_VERIFY=1 verifies after each, naming the one that broke it)"
            )
        return (
            f"invalid IR in `{self.function}`{where}: {self.problem} "
            "(a bug in ad_compiler; please report it with the function that triggered it)"
        )
