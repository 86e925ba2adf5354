"""Decorators in a file the CLI compiles: which ones it may read past.

The CLI never runs the file, so it cannot know what a decorator does: ``@cache``
may memoise, ``@jit`` recompile, ``@scaled(2)`` return a wrapper computing
something else entirely.  Differentiating the ``def`` as if undecorated would
then give the derivative of another function, so every decorator is refused
with a located error, except ad_compiler's own:

* ``@custom_derivative(partials)`` — on any function: its derivative is given;
* ``@checkpoint`` — on any function: a helper whose forward sweep reverse mode
  runs again instead of storing it (ad_compiler/frontend/callees.py);
* ``@grad`` / ``@grad(...)``, ``@value_and_grad`` — only on a function being
  differentiated (its ``def`` is what the derivative is taken of); a function
  *called* from another one is refused, since at run time its name is bound
  to its gradient, not to the ``def``.

A name counts as ad_compiler's only if it is imported from ``ad_compiler`` (or
not imported at all: the file could not run then anyway).  The API needs no
such list: it is given the decorated object and checks that it runs the code
of the ``def`` it reads (:func:`ad_compiler.frontend.source.from_function`).
"""

from __future__ import annotations

import ast

from ad_compiler.errors import UnsupportedError
from ad_compiler.frontend.source import FunctionSource

OWN_ANYWHERE = frozenset({"custom_derivative", "checkpoint"})
OWN_ON_TARGET = frozenset({"grad", "value_and_grad"})


def check_decorators(src: FunctionSource, scope, called_from: str | None = None):
    """Raise a located error at the first decorator of ``src``'s ``def`` that the
    CLI cannot see through; ``called_from`` names the caller when the function
    is inlined into another rather than differentiated itself."""
    for dec in src.node.decorator_list:
        name = own_name(dec, scope)
        if name in OWN_ANYWHERE or (name in OWN_ON_TARGET and called_from is None):
            continue
        loc = src.loc(dec)
        fn = src.node.name
        if called_from is None:
            message = (
                f"`{fn}` is decorated with `@{ast.unparse(dec)}`, which ad_compiler "
                "cannot see through: differentiating the undecorated `def` could "
                "give the derivative of another function"
            )
        else:
            message = (
                f"`{fn}`, called from `{called_from}`, is decorated with "
                f"`@{ast.unparse(dec)}`: the call runs what the decorator returned, "
                "which ad_compiler cannot see without running the file"
            )
        hint = (
            "remove the decorator (apply it to the emitted derivative instead), or "
            "give the derivative with @custom_derivative(partials)"
        )
        raise UnsupportedError(message, loc, hint, src.line(loc))


def own_name(dec: ast.expr, scope) -> str | None:
    """``grad``, ``custom_derivative`` ... if ``dec`` is ad_compiler's own."""
    func = dec.func if isinstance(dec, ast.Call) else dec
    parts = ast.unparse(func).split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    imports = getattr(scope, "imports", {})
    line = imports.get(parts[0])
    if line is not None:
        module = line.split()[1]  # `import M ...` or `from M import ...`
        if module.split(".")[0] != "ad_compiler":
            return None
    elif len(parts) > 1 or parts[0] in getattr(scope, "refs", {}):
        return None  # `x.grad` of something not imported, or the file's own `grad`
    return parts[-1]
