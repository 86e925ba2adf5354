"""Whole files: every error of a file in one run, and ``adc compile --keep-going``.

Each top-level function is lowered collecting its errors
(:mod:`ad_compiler.frontend.recovery`); :class:`FileReport` gathers them for
the file.  Guarantees:

* every error is shown once, however many functions inline the helper it is in
  (same place, same text), sorted by position in the file, at most
  :data:`MAX_FILE_ERRORS` of them (then a line says more were left out);
* the summary names the number of errors and of functions they are in
  (``errors in 2 functions; 3 errors generated.``);
* each function not compiled has a one-line reason: its own errors, or the
  functions it calls that have errors (a helper is inlined, so a function that
  calls a broken one cannot be compiled either);
* :func:`comment_block` writes the skipped functions and their errors as
  comment lines for the module ``--keep-going`` emits.  Only identifiers Python
  parsed (checked again) and located messages go in, each line through
  :func:`ad_compiler.escape.visible`: a line break, U+2028, a form feed or any
  control or format character quoted from the user's file shows as an escape,
  so nothing in the input can end a comment line and start code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ad_compiler.errors import AdError, CompileError, CompileErrors
from ad_compiler.escape import visible
from ad_compiler.frontend.recovery import error_key

MAX_FILE_ERRORS = 100


def flat(exc: CompileError) -> list[CompileError]:
    """The single errors ``exc`` holds."""
    return list(exc.errors) if isinstance(exc, CompileErrors) else [exc]


@dataclass
class FileReport:
    """The errors of one file's functions, as the CLI reports them."""

    file: str
    nodes: list  # the file's top-level `def`s (to find which one a line is in)
    failures: list = field(default_factory=list)  # (function name, its errors)
    stopped: bool = False  # a function's lowering stopped at the cap

    def add(self, name: str, exc: CompileError) -> None:
        """Function ``name`` cannot be compiled, for the errors in ``exc``."""
        self.failures.append((name, flat(exc)))
        self.stopped = self.stopped or getattr(exc, "stopped", False)

    def names(self) -> set[str]:
        """The functions that cannot be compiled."""
        return {name for name, _ in self.failures}

    def owner(self, error: CompileError) -> str | None:
        """The top-level function of this file ``error`` points into, if any."""
        loc = error.loc
        if loc is None or loc.file != self.file:
            return None
        for node in self.nodes:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if first <= loc.line <= node.end_lineno:
                return node.name
        return None

    def errors(self) -> list[CompileError]:
        """Every error once, in file order."""
        seen, out = set(), []
        for _, errors in self.failures:
            for error in errors:
                key = error_key(error)
                if key not in seen:
                    seen.add(key)
                    out.append(error)

        def position(error):
            loc = error.loc
            if loc is None:
                return (1, "", 0, 0)
            return (loc.file != self.file, loc.file, loc.line, loc.col)

        return sorted(out, key=position)

    def error(self) -> CompileError:
        """The exception to raise: the one error, or all of them with a summary."""
        errors = self.errors()
        if len(errors) == 1:
            return errors[0]
        shown = errors[:MAX_FILE_ERRORS]
        combined = CompileErrors(shown)
        owners = {self.owner(e) for e in shown}
        combined.functions = len(owners - {None}) + (None in owners)
        combined.stopped = self.stopped or len(errors) > len(shown)
        return combined

    def reasons(self) -> list[tuple[str, str]]:
        """``(function, why it is skipped)``, in the order the functions failed."""
        out = []
        for name, errors in self.failures:
            own = [e for e in errors if self.owner(e) in (name, None)]
            called = sorted({self.owner(e) for e in errors} - {name, None})
            parts = []
            if own:
                n = len({error_key(e) for e in own})
                first = "the first " if n > 1 else ""
                parts.append(f"{n} error{'s' if n > 1 else ''}, {first}at {own[0].loc}")
            if called:
                names = " and ".join(f"`{c}`" for c in called)
                verb = "has" if len(called) == 1 else "have"
                parts.append(f"it calls {names}, which {verb} errors")
            out.append((name, "; ".join(parts) or "it has errors"))
        return out


def skipped_lines(report: FileReport) -> list[str]:
    """What ``--keep-going`` says on stderr after the errors: one line per function."""
    return [
        f"adc: skipped `{visible(name)}`: {visible(why)}"
        for name, why in report.reasons()
    ]


def comment_block(report: FileReport) -> list[str]:
    """The comment lines at the top of a ``--keep-going`` module (see the module
    docstring for why nothing in them can break out of a comment)."""
    lines = [
        "# adc compile --keep-going left out these functions (not in this module):"
    ]
    by_owner: dict = {}
    for error in report.errors()[:MAX_FILE_ERRORS]:
        by_owner.setdefault(report.owner(error), []).append(error)
    for name, why in report.reasons():
        if not name.isidentifier():  # a name Python parsed: never the case
            name = "?"
        lines.append(f"#   {name}: {why}")
        lines += _error_lines(by_owner.pop(name, []))
    lines += _error_lines(by_owner.get(None, []))  # outside the file's functions
    return [visible(line) for line in lines]


def _error_lines(errors: list[CompileError]) -> list[str]:
    out = []
    for error in errors:
        out.append(f"#     {error.loc}: error: {error.message}")
        if error.hint:
            out.append(f"#       hint: {error.hint}")
    return out


def with_comments(module: str, block: list[str]) -> str:
    """``module`` with the comment lines ``block`` after its docstring (never on
    its first two lines, where a ``coding`` comment would be obeyed)."""
    lines = module.split("\n")
    end = ast.parse(module).body[0].end_lineno  # the header docstring
    return "\n".join(lines[:end] + [""] + block + lines[end:])


class KeptGoing(AdError):
    """``--keep-going`` left functions out: ``report`` says which and why, and
    ``module`` is the module of the others (None when none compiled)."""

    def __init__(self, report: FileReport, module: str | None):
        super().__init__(f"{len(report.failures)} functions skipped")
        self.report, self.module = report, module
