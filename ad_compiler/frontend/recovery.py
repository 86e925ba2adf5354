"""Error recovery while lowering: every unsupported construct of a function in one run.

The API stops at a function's first error.  ``adc compile`` (and ``adc
trace``/``check``/``graph``) lower with a :class:`Recovery`, so that a whole
file's problems are reported at once, as a compiler reports them:

* a statement that fails is recorded (:meth:`Recovery.record`) and lowering goes
  on with the next one; the lowering state the statement may have left half
  changed (the environment, the branch and loop depths) is put back first;
* the local names the failed statement would have bound are bound to
  :class:`~ad_compiler.frontend.lower_values.Poisoned` values.  Reading one
  raises :class:`PoisonedRead`, which is never reported: the statement that
  reads it fails quietly and poisons its own names in turn, so one mistake
  gives one message, not one per later use;
* a compound statement that fails (its condition reads a poisoned name, say)
  still has its blocks lowered, for their own errors;
* once a function has an error, an error located at a compound statement
  (``if``, ``for``, ``while``) or at the ``def`` itself is taken as a cascade of
  the earlier one (the merges of branches and loops, or "does not return a
  value", see poisoned values) and is not reported; neither is an internal
  failure, which junk left by a failed statement may cause.  The user fixes the
  reported errors and runs again, and a real error hidden this way appears then;
* the same error (same place, same text) is recorded once, and at most
  :data:`MAX_ERRORS` are recorded before lowering stops (:class:`TooManyErrors`).

The IR built alongside recorded errors is never used: the function's lowering
raises its errors at the end instead of returning it.
"""

from __future__ import annotations

import ast

from ad_compiler.errors import CompileError, CompileErrors
from ad_compiler.frontend.lower_values import Poisoned

MAX_ERRORS = 100  # as compilers cap their output (gcc's -fmax-errors, clang's 20)


class PoisonedRead(CompileError):
    """A read of a name a failed statement would have bound: a cascade, never shown."""


class TooManyErrors(Exception):
    """:data:`MAX_ERRORS` errors are recorded: stop lowering (not a CompileError, so
    no statement's recovery swallows it)."""


class Recovery:
    """The errors of one top-level function's lowering, shared with the helpers
    inlined into it."""

    def __init__(self, cap: int = MAX_ERRORS):
        self.errors: list[CompileError] = []
        self.cap = cap
        self._seen: set = set()

    def record(self, exc: CompileError) -> None:
        """Keep ``exc`` unless it is a cascade or already kept; stop at the cap."""
        for error in exc.errors if isinstance(exc, CompileErrors) else [exc]:
            if isinstance(error, PoisonedRead):
                continue
            key = error_key(error)
            if key in self._seen:
                continue
            self._seen.add(key)
            self.errors.append(error)
            if len(self.errors) >= self.cap:
                raise TooManyErrors()

    def raise_errors(self) -> None:
        """Raise what was recorded, if anything: one error, or :class:`CompileErrors`."""
        if self.errors:
            errors = self.errors
            raise errors[0] if len(errors) == 1 else CompileErrors(list(errors))


def error_key(error: CompileError) -> tuple:
    """What makes two errors the same: their place and their text."""
    loc = error.loc
    where = None if loc is None else (loc.file, loc.line, loc.col)
    return where, error.message


def recover(lowerer, stmt, exc: BaseException, saved, names=()) -> None:
    """Handle ``exc``, raised while ``lowerer`` lowered ``stmt`` from the state
    ``saved`` (:func:`snapshot`): re-raise it when not collecting (the API), else
    record it (unless it is a cascade), restore the state and poison ``names``
    (the local names ``stmt`` binds)."""
    recovery = lowerer.recovery
    if recovery is None or isinstance(exc, TooManyErrors):
        raise exc
    if not isinstance(exc, CompileError):
        if not recovery.errors:
            raise exc  # an internal failure with no error before it: a real bug
    elif not (recovery.errors and _at_compound(lowerer, stmt, exc)):
        recovery.record(exc)
    lowerer.poisoned = True
    lowerer.env, lowerer.depth, lowerer.loops = saved
    lowerer.env = dict(lowerer.env)
    for name in names:
        if name in lowerer.locals:
            lowerer.env[name] = Poisoned(f"<poisoned {name}>")
    if isinstance(stmt, (ast.If, ast.For, ast.While)):
        _blocks_for_errors(lowerer, stmt)


def _blocks_for_errors(lowerer, stmt) -> None:
    """Lower the blocks of a compound statement that failed, for their own errors
    only (its header may have failed before them: ``if poisoned > 0:``).  The
    names it binds are poisoned; what is built is thrown away."""
    saved = snapshot(lowerer)
    loop = int(isinstance(stmt, (ast.For, ast.While)))
    with lowerer.b.block():
        for block, inside in ((stmt.body, loop), (stmt.orelse, 0)):
            lowerer.env = dict(saved[0])
            lowerer.depth, lowerer.loops = saved[1] + 1, saved[2] + inside
            lowerer.lower_seq(block)
    lowerer.env, lowerer.depth, lowerer.loops = saved


def poison_signature(lowerer) -> None:
    """Bind the parameters the subset refuses (``*args``, keyword-only,
    ``**kwargs``; their error is reported) to poisoned values, so that a use of
    one is not a second error ("name not defined")."""
    args = lowerer.src.node.args
    stars = [a for a in (args.vararg, args.kwarg) if a is not None]
    for arg in args.kwonlyargs + stars:
        lowerer.locals.add(arg.arg)
        lowerer.env[arg.arg] = Poisoned(f"<poisoned {arg.arg}>")


def snapshot(lowerer) -> tuple:
    """The state :func:`recover` restores after a failed statement."""
    return lowerer.env, lowerer.depth, lowerer.loops


def _at_compound(lowerer, stmt, exc: CompileError) -> bool:
    """Whether ``exc`` points at a compound statement or the function itself
    (where the merges of poisoned values would fail)."""
    if exc.loc is None:
        return True
    nodes = [lowerer.src.node]
    if stmt is not None:
        nodes += [
            n for n in ast.walk(stmt) if isinstance(n, (ast.If, ast.For, ast.While))
        ]
    where = (exc.loc.file, exc.loc.line, exc.loc.col)
    for node in nodes:
        loc = lowerer.src.loc(node)
        if (loc.file, loc.line, loc.col) == where:
            return True
    return False
