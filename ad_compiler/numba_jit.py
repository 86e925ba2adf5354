"""``ad_compiler.jit`` (this module: ad_compiler.numba_jit): derivatives (and plain functions) compiled by Numba.

``jit(d)`` takes what the API returns — ``grad``, ``value_and_grad``, a
``vjp`` pullback, ``hessian``, ``hvp`` of scalar code — or a user's plain
function, rewrites its emitted source into the Numba-ready form
(:mod:`ad_compiler.backend.numba_ready`) and compiles it with ``numba.njit``
(nopython mode only: there is no silent fallback to object mode).  The result
computes the same numbers as ``d``; its ``.source`` is the exact text Numba
compiled, ``.python`` the function it stands for.

Numba compiles at the first call (it needs the argument types).  If the
per-column arrays of a tape do not type (a column holding arrays, complex
numbers or integers used as indices), the all-lists form is compiled instead;
if that fails too, the call raises :class:`~ad_compiler.errors.CompileError`
naming the user's line Numba stopped at.  Numba is optional:
``pip install 'ad_compiler[jit]'``.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import re
import textwrap

from ad_compiler.backend.loader import source_of
from ad_compiler.backend.numba_ready import rewrite, user_line
from ad_compiler.callables import ArrayDerivative, Pullback
from ad_compiler.errors import CompileError, UsageError

__all__ = ["jit", "JitFunction"]

INSTALL = "pip install 'ad_compiler[jit]'"


def _numba():
    try:
        import numba
    except ImportError:
        raise UsageError(
            f"ad_compiler.jit needs Numba, which is not installed: {INSTALL}"
        ) from None
    return numba


def jit(d):
    """``d`` compiled by Numba: a :class:`JitFunction`, or for a derivative
    object (pullback, hessian, hvp) the same object running compiled code.

    Raises :class:`UsageError` without Numba or for array derivatives (not in
    this version), :class:`CompileError` for a construct Numba has no form of.
    """
    numba = _numba()
    if isinstance(d, JitFunction):
        return d
    if isinstance(d, ArrayDerivative):
        raise UsageError(
            f"jit: `{d.__name__}` is a derivative of array code; this version "
            "compiles derivatives of scalar code (numbers, loops, branches, math)"
        )
    if isinstance(d, Pullback):
        return _with_compiled(d, jit(d.compiled), source=True)
    if hasattr(d, "variant") and hasattr(d, "mode"):  # a Jacobian or Hessian
        return _jit_derived(d)
    if "compiled" in getattr(d, "__dict__", {}):  # an hvp with defaults
        return _with_compiled(d, jit(d.compiled))
    source = source_of(d, None)
    if isinstance(source, str) and inspect.isfunction(d):
        return JitFunction(numba, d, source, {})
    if inspect.isfunction(d):
        return _jit_plain(numba, d)
    raise UsageError(f"jit: cannot compile {d!r}: give a derivative or a function")


def _with_compiled(d, compiled, source: bool = False):
    """A copy of derivative object ``d`` calling ``compiled``."""
    new = object.__new__(type(d))
    new.__dict__.update(vars(d))
    new.compiled = compiled
    if source:
        new.source = compiled.source
    return new


def _jit_derived(d):
    if d._run is not None or d.fast is not None:
        raise UsageError(
            f"jit: `{d.__name__}` calls more than one emitted function; this "
            "version compiles hessians of scalar code"
        )
    done: dict[int, JitFunction] = {}

    def variant(args):
        compiled, pre, post = d.variant(args)
        if id(compiled) not in done:
            done[id(compiled)] = jit(compiled)
        return _one_direction_at_a_time(done[id(compiled)], d.n), pre, post

    new = _with_compiled(d, _one_direction_at_a_time(jit(d.compiled), d.n))
    new.variant, new.trees = variant, None  # (parameter trees: not compiled)
    return new


def _one_direction_at_a_time(compiled, n: int):
    """Vector-mode code called once per direction, with numbers for tangents.

    The emitted vector-mode code starts a tangent as the number ``0.0`` and
    lets it become an array of directions: Numba cannot unify a float with an
    array, so the compiled code is called with the ``k`` directions' components
    one at a time (a number each; the code is linear in them) and the results
    stacked back, as the vector-mode call returns them.
    """
    import numpy

    def call(*args):
        point, directions = args[:n], args[n:]
        k = len(directions[0])
        rows = [compiled(*point, *(d[i] for d in directions)) for i in range(k)]
        if not isinstance(rows[0], tuple):
            return numpy.array(rows)
        return tuple(numpy.array(col) for col in zip(*rows))

    call.source, call.jitted = compiled.source, compiled
    return call


def _jit_plain(numba, f) -> JitFunction:
    """A user's function: its own source, undecorated, with its globals."""
    if f.__code__.co_freevars:
        raise CompileError(
            f"jit: `{f.__name__}` reads variables of an enclosing function "
            f"({', '.join(f.__code__.co_freevars)}); Numba compiles module-level functions"
        )
    text = textwrap.dedent(inspect.getsource(f))
    tree = ast.parse(text)
    fn = tree.body[0]
    first = fn.lineno - 1  # after the decorators
    text = "\n".join(text.splitlines()[first:]) + "\n"
    start = f.__code__.co_firstlineno + first
    where = inspect.getsourcefile(f) or "<unknown>"

    def line_of(lineno: int, compiled: str) -> str:
        # the compiled text is the function's, with an import and a decorator
        # above and black's layout: find its line among the user's lines
        said = compiled.splitlines()[lineno - 1].strip()
        mine = [line.strip() for line in text.splitlines()]
        at = mine.index(said) if said in mine else None
        if at is None:
            return f"{where}: {said}"
        return f"{where}:{start + at}: {said}"

    return JitFunction(numba, f, text, dict(f.__globals__), line_of)


class JitFunction:
    """The Numba-compiled form of an emitted derivative or a plain function.

    ``.source``: the exact module text compiled (``@numba.njit`` defs);
    ``.python``: the Python function it computes the same values as;
    ``.dispatcher``: Numba's compiled function (call it directly to save the
    wrapper's ~0.1 µs).
    """

    def __init__(self, numba, python, source: str, scope: dict, line_of=None):
        self.python, self.__name__ = python, python.__name__
        self._numba, self._line_of = numba, line_of
        forms = [rewrite(source, arrays=True), rewrite(source, arrays=False)]
        self._forms = list(dict.fromkeys(forms))  # arrays first, then lists
        self._scope = scope
        self._load(0)

    def _load(self, k: int) -> None:
        self._form, self.source = k, self._forms[k]
        filename = f"<adc-jit {self.__name__} {id(self)} {k}>"
        lines = self.source.splitlines(keepends=True)
        linecache.cache[filename] = (len(self.source), None, lines, filename)
        namespace = dict(self._scope)
        namespace["__name__"] = f"adc_jit_{self.__name__}"
        exec(compile(self.source, filename, "exec"), namespace)
        self.dispatcher = namespace[self.__name__]
        self._filename = filename

    def __call__(self, *args):
        try:
            return self.dispatcher(*args)
        except self._numba.core.errors.NumbaError as error:
            if self._form + 1 < len(self._forms):
                self._load(self._form + 1)
                return self(*args)
            raise CompileError(self._explain(error)) from None

    def _explain(self, error) -> str:
        """Numba's refusal with the user's line it happened at."""
        message = str(error)
        found = re.findall(rf'File "{re.escape(self._filename)}", line (\d+)', message)
        where = ""
        if found:
            lineno = int(found[-1])
            if self._line_of is not None:
                where = self._line_of(lineno, self.source)
            else:
                where = user_line(self.source, lineno) or f"emitted line {lineno}"
        first = next(
            (
                line.strip()
                for line in message.splitlines()
                if line.strip() and not line.startswith(("Failed in", "During:"))
            ),
            message,
        )
        return (
            f"jit: Numba (nopython mode) cannot compile `{self.__name__}`"
            + (f" at {where}" if where else "")
            + f": {first}  (no fallback to object mode; read .source)"
        )
