"""``print(...)`` in a differentiated function: dropped, with a warning.

The derivative computes derivatives; it does not run the function's output
statements.  A ``print`` statement is accepted (so a function that reports its
progress compiles unchanged) and left out of the emitted code, and a
:class:`ad_compiler.errors.CompileWarning` located at the call says so, once
per call site and compilation.  Its arguments are not evaluated, so nothing of
them (strings, f-strings) reaches the emitted code.  ``print(..., file=f)``
is refused: writing to a file is an effect a reader relies on, and dropping it
would lose data rather than console output.  ``print`` used as a value (it
returns None) is refused like any other unsupported call.
"""

from __future__ import annotations

import ast
import warnings

from ad_compiler.errors import CompileWarning
from ad_compiler.frontend.scope import OpaqueRef


def is_print(lowerer, call: ast.expr) -> bool:
    """Whether ``call`` calls the builtin ``print`` (not a function of the
    user's named ``print``)."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return False
    name = call.func.id
    if name != "print" or name in lowerer.locals:
        return False
    ref = lowerer.lookup(call.func, name)
    return isinstance(ref, OpaqueRef) and ref.what == "a builtin"


def drop_print(lowerer, call: ast.Call) -> None:
    """Accept the statement ``print(...)`` and warn that the derivative does not
    run it; refuse ``file=``."""
    for kw in call.keywords:
        if kw.arg == "file":
            lowerer.error(
                kw,
                "`print(..., file=...)` is not supported in a differentiated function",
                "write to the file outside it, from the function's result",
            )
    loc = lowerer.src.loc(call)
    warning = CompileWarning(
        "`print` is not run by the derivative: the emitted code computes "
        "derivatives only, and leaves the function's output out",
        loc,
        "call the function itself to see what it prints",
    )
    warnings.warn_explicit(warning, CompileWarning, loc.file, loc.line)
