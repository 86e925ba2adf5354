"""Reading the user's source: from a file's text (CLI) or from a live function (API).

Guarantees: a :class:`FunctionSource` always holds the function's ``ast.FunctionDef``
with locations that point into the *original* file (line and column), and that
file's lines, so every later error can quote the user's own line.  Text is only
parsed, never executed.
"""

from __future__ import annotations
import __future__

import ast
import dataclasses
import functools
import inspect
import linecache
import os
import textwrap
import tokenize
import types
import warnings
from dataclasses import dataclass

from ad_compiler.errors import (
    AdError,
    CompileError,
    Loc,
    SourceUnavailableError,
    StaleSourceError,
    UnsupportedError,
)
from ad_compiler.escape import LINE_BREAK


def source_lines(text: str) -> list[str]:
    """The lines of a source text, split where Python's tokenizer splits them.

    Only ``\\n``, ``\\r\\n`` and ``\\r`` end a line.  ``str.splitlines`` also
    splits at ``\\x0c``, ``\\v``, ``\\x1c``-``\\x1e``, U+0085, U+2028 and U+2029, which
    Python reads as ordinary characters: counting them would shift every line
    number after them, so an error, an emitted ``# line N:`` comment or a copied
    function would come from another line than the AST's.  Like ``splitlines``,
    a final line break does not start another line.
    """
    lines = LINE_BREAK.split(text)
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
    nul = text.find("\0")
    if nul >= 0:  # Python 3.11 says so without a position: give the first one's
        line_start = text.rfind("\n", 0, nul) + 1
        loc = Loc(file, text.count("\n", 0, nul) + 1, nul - line_start + 1)
        message = "invalid syntax: source code string cannot contain null bytes"
        raise CompileError(message, loc).with_source(source_lines(text))
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
    except (RecursionError, MemoryError):
        lines = source_lines(text)
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
            return FunctionSource(node, file, tuple(source_lines(text)))
    raise CompileError(f"{file} has no top-level function named `{name}`")


def from_function(fn) -> FunctionSource:
    """The source of a live Python function, located in its file.

    Guarantees: the text returned is the text ``fn`` itself was compiled from.
    It is read at ``fn.__code__.co_firstlineno`` of ``fn``'s own file (never
    through ``__wrapped__``: the wrapper a decorator returned is what runs),
    recompiled, and compared with ``fn.__code__`` (bytecode, constants, names);
    if the file was edited or a notebook cell's name reused since, a
    :class:`StaleSourceError` says so instead of differentiating other code.
    Numeric defaults are those of the live function (``fn.__defaults__``).
    Decorators shown in the text are harmless once the check passes: the object
    given runs exactly this ``def``'s code with its own globals and closure.
    """
    name = getattr(fn, "__name__", repr(fn))
    if name == "<lambda>":
        raise SourceUnavailableError(
            "cannot differentiate a lambda: ad_compiler reads a function's source, and a "
            "lambda's cannot be isolated; define it with `def`"
        )
    if not inspect.isfunction(fn):
        raise _not_a_function(fn, name)
    file, text, start = _def_text(fn, name)
    dedented = textwrap.dedent(text)
    first = source_lines(text)[0]
    indent = len(first) - len(first.lstrip()) if dedented != text else 0
    where = Loc(file, start, indent + 1)
    try:
        _check_current(fn, file)
    except (RecursionError, MemoryError):  # Python compiled it with more room
        file_lines = [line.rstrip("\n") for line in linecache.getlines(file)]
        raise too_deep(where, file_lines) from None
    except StaleSourceError as exc:
        first_line = source_lines(dedented.lstrip())[0] if dedented.strip() else ""
        if first_line.startswith("@"):  # the text is current, its code was replaced
            raise StaleSourceError(
                f"{exc} (or the decorator `{first_line}` replaced its code, which "
                "ad_compiler cannot see through)"
            ) from None
        raise
    node = _parse_def(dedented, fn, file, where)
    _live_defaults(fn, node)
    file_lines = linecache.getlines(file, fn.__globals__) or (
        [""] * (start - 1) + source_lines(text)
    )
    all_lines = tuple(line.rstrip("\n") for line in file_lines)
    return FunctionSource(
        node, file, all_lines, line_offset=start - 1, col_offset=indent
    )


def _def_text(fn, name: str) -> tuple[str, str, int]:
    """``(file, text of the def block, first line)`` of ``fn``, read as the file
    (or the cell registered in linecache) holds it now."""
    code = fn.__code__
    try:
        file = inspect.getsourcefile(fn) or code.co_filename
    except TypeError:
        file = code.co_filename
    if not (file.startswith("<") and file.endswith(">")):
        linecache.checkcache(file)  # a file edited on disk is read again
    lines = linecache.getlines(file, fn.__globals__)
    start = code.co_firstlineno
    if lines and not 1 <= start <= len(lines):
        raise _stale(fn, file, f"it has {len(lines)} lines now")
    if not lines and os.path.isabs(file) and not os.path.exists(file):
        raise _stale(fn, file, "that file no longer exists")
    if not lines:
        raise SourceUnavailableError(
            f"cannot read the source of `{name}`: functions typed at the interactive prompt "
            "or created with exec() have no source file; put it in a .py file (Jupyter "
            "cells work too)"
        )
    try:
        block = inspect.getblock(lines[start - 1 :])
    except (IndentationError, SyntaxError, tokenize.TokenError):
        block = lines[start - 1 : start]
    return file, "".join(block), start


def _stale(fn, file: str, why: str) -> StaleSourceError:
    name = fn.__name__
    return StaleSourceError(
        f"the source of `{name}` in {file} is not the code of the function given "
        f"({why}): the file was edited, or the cell's name reused, after `{name}` was "
        f"defined; reload the module (importlib.reload) or re-run the definition of "
        f"`{name}`, then differentiate the new function"
    )


def _parse_def(dedented: str, fn, file: str, where: Loc) -> ast.FunctionDef:
    try:
        module = ast.parse(dedented)
    except SyntaxError as exc:  # (the file compiles: e.g. a string less indented)
        raise SourceUnavailableError(
            f"cannot parse the source of `{fn.__name__}` on its own: {exc}"
        ) from None
    except (RecursionError, MemoryError):  # Python compiled it with more room
        file_lines = [line.rstrip("\n") for line in linecache.getlines(file)]
        raise too_deep(where, file_lines) from None
    nodes = [n for n in module.body if isinstance(n, ast.FunctionDef)]
    if not nodes or nodes[0].name != fn.__code__.co_name:
        found = f"`def {nodes[0].name}`" if nodes else "no `def`"
        raise _stale(fn, file, f"line {fn.__code__.co_firstlineno} starts {found}")
    return nodes[0]


_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def _check_current(fn, file: str) -> None:
    """Raise :class:`StaleSourceError` unless the text ``fn``'s file (or cell)
    holds now compiles to ``fn``'s code.

    The whole file is compiled, since how a def compiles depends on its
    surroundings (closures, ``__private`` names in a class, names bound by
    ``import``); the code object defined at ``fn``'s first line is compared.
    """
    code = fn.__code__
    text = "".join(linecache.getlines(file, fn.__globals__))
    compiled = _compile_file(text, file, code.co_flags & _FUTURE_FLAGS)
    if compiled is None:
        raise _stale(fn, file, "that text does not compile")
    found = _find_code(compiled, code.co_name, code.co_firstlineno)
    if found is None:
        raise _stale(
            fn, file, f"no `{code.co_name}` starts at line {code.co_firstlineno}"
        )
    if not _same_code(found, code):
        raise _stale(fn, file, f"its code differs from the live `{code.co_name}`'s")


@functools.lru_cache(maxsize=16)
def _compile_file(text: str, file: str, flags: int):
    """The module code of ``text`` (None if it does not compile); cached, since
    each function of a file is checked against the same text."""
    try:
        with warnings.catch_warnings():  # (said once already, when it was imported)
            warnings.simplefilter("ignore")
            return compile(text, file, "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError):
        return None


def _find_code(code, name: str, line: int):
    """The code object named ``name`` starting at ``line`` among ``code``'s."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == name and const.co_firstlineno == line:
                return const
            inner = _find_code(const, name, line)
            if inner is not None:
                return inner
    return None


def _same_code(a, b) -> bool:
    """Whether two code objects do the same: bytecode, names, constants (nested
    code compared alike), argument counts.  Line numbers are not compared."""
    fields = (
        "co_code co_names co_varnames co_freevars co_cellvars co_argcount "
        "co_posonlyargcount co_kwonlyargcount co_name"
    ).split()
    if any(getattr(a, f) != getattr(b, f) for f in fields):
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or repr(x) != repr(y):  # repr: -0.0, nan
            return False
    return True


def _live_defaults(fn, node: ast.FunctionDef) -> None:
    """Write the live function's numeric defaults into its ``def``: Python calls
    it with ``fn.__defaults__`` (evaluated when the def ran), whatever the
    default's text says now."""
    live = fn.__defaults__ or ()
    defaults = node.args.defaults
    if len(live) != len(defaults):
        return
    for i, (value, old) in enumerate(zip(live, defaults)):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # the plain number, never the object: its repr is printed into emitted
            # code, and a subclass (np.float64, or one of the user's) may print
            # as anything at all (`np.float64(1.4)`, an expression that runs)
            plain = float.__float__(value) if isinstance(value, float) else None
            plain = int.__int__(value) if plain is None else plain
            defaults[i] = ast.copy_location(ast.Constant(plain), old)
            defaults[i].end_lineno = old.end_lineno
            defaults[i].end_col_offset = old.end_col_offset


def made_by_decorator(value) -> str | None:
    """``a `_lru_cache_wrapper` made by `@functools.lru_cache` on `g```, for a
    callable a decorator made of a Python function; None for anything else."""
    inner = getattr(value, "__wrapped__", None)
    if inspect.isfunction(value) or not inspect.isfunction(inner):
        return None
    what = f"a `{type(value).__name__}` made by a decorator"
    try:
        decorators = from_function(inner).node.decorator_list
    except AdError:
        decorators = []
    if decorators:
        what = f"a `{type(value).__name__}` made by `@{ast.unparse(decorators[0])}`"
    return f"{what} on `{inner.__name__}`"


def _not_a_function(fn, name: str) -> AdError:
    """The error for a callable that is not a Python function: located at the
    decorator that made it, when it wraps one (``functools.lru_cache`` ...)."""
    inner = getattr(fn, "__wrapped__", None)
    got = type(fn).__name__
    if inspect.isfunction(inner):
        try:
            src = from_function(inner)
        except AdError:
            src = None
        if src is not None and src.node.decorator_list:
            dec = src.node.decorator_list[0]
            loc = src.loc(dec)
            return UnsupportedError(
                f"`@{ast.unparse(dec)}` makes `{name}` a `{got}`, not a Python "
                "function: ad_compiler cannot see what the decorator does",
                loc,
                f"differentiate the undecorated function (`{name}.__wrapped__`) "
                "if the decorator does not change its values",
                src.line(loc),
            )
    return SourceUnavailableError(
        f"cannot differentiate {name!r}: it is not a Python function defined with `def` "
        f"(got {got})"
    )


def lambda_def(node: ast.Lambda) -> ast.FunctionDef:
    """``lambda a, b=1: e`` as ``def lambda(a, b=1): return e``, located at the
    lambda (so errors and ``# line`` comments point at the user's text)."""
    ret = ast.copy_location(ast.Return(value=node.body), node.body)
    ret.end_lineno, ret.end_col_offset = node.body.end_lineno, node.body.end_col_offset
    fn = ast.FunctionDef(
        name="lambda", args=node.args, body=[ret], decorator_list=[], returns=None
    )
    fn.type_comment = None
    fn = ast.copy_location(fn, node)
    fn.end_lineno, fn.end_col_offset = node.end_lineno, node.end_col_offset
    return fn


def lambda_source(fn) -> FunctionSource:
    """The source of a live ``lambda`` (one a differentiated function calls):
    the only lambda starting at its first line, checked current as
    :func:`from_function` checks a ``def``."""
    file, _, start = _def_text(fn, "<lambda>")
    _check_current(fn, file)
    lines = tuple(
        line.rstrip("\n") for line in linecache.getlines(file, fn.__globals__)
    )
    try:
        module = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        module = None
    found = [
        n
        for n in (ast.walk(module) if module is not None else ())
        if isinstance(n, ast.Lambda) and n.lineno == start
    ]
    if len(found) != 1:
        raise SourceUnavailableError(
            f"cannot isolate the lambda at {file}:{start}"
            + (f" ({len(found)} lambdas start on that line)" if found else "")
            + "; define it with `def`"
        )
    node = lambda_def(found[0])
    _live_defaults(fn, node)
    return FunctionSource(node, file, lines)
