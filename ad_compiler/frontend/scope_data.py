"""Arrays read from the user's scope: constants of the derivative, read live.

A function may read an array it does not take as a parameter: a closure
variable (``make_loss(X, y)`` returning ``loss(w)``), a module-level dataset,
an attribute of an imported module (``data.X``).  Such an array is a constant
of the derivative -- nothing is differentiated with respect to it -- but it is
never copied into the emitted code: each one becomes a keyword-only parameter
of the emitted function under the user's name (``def loss_grad(w, *, X, y)``),
and the derivative object fetches the value bound *now* on every call
(:class:`ad_compiler.callables.ArrayDerivative`).  An array changed in place,
or a name rebound to another array (of any shape), is therefore seen by the
next call, exactly as a call of the function itself would see it.

In the IR these parameters come after the user's (so every pass treats them
as parameters that are not differentiated) and ``Function.keyword_only``
says they are printed after a ``*``; ``Function.scope_sources`` says where
each is read from.  For the CLI, which never runs the file, a module-level
constant defined by checked literal text (:func:`static_definition`) is
copied into the emitted module and is the parameter's default.
"""

from __future__ import annotations

import ast

from ad_compiler.frontend.scope import DataRef, OpaqueRef, attribute
from ad_compiler.ir.nodes import Var


def data_param(low, node: ast.AST, ref: DataRef) -> Var:
    """The parameter standing for the scope array ``ref`` in the function
    ``low`` is lowering (one per place it is read from, named after it)."""
    if not low.top:
        low.error(
            node,
            f"`{ref.name}` is an array read from the enclosing scope of a "
            "recursive function",
            "pass it to the recursive function as a parameter",
        )
    key = (id(ref.where), ref.name, ref.source)
    found = low.scope_data.get(key)
    if found is None:
        if ref.source is not None:  # the CLI: the checked definition is copied
            low.externals[ref.name] = f"import numpy as np\n{ref.source}\n"
        var = low.namer.fresh(ref.name)
        found = low.scope_data[key] = (var, ref)
    return found[0]


def reads_data(low, name: str) -> bool:
    """Whether the non-local ``name`` (or dotted ``self.X``) is an array of
    the user's scope (whose writes, through any name, Python makes in the
    user's array)."""
    first, *attrs = name.split(".")
    if first in low.locals:
        return False
    ref = low.scope.lookup(first)
    for attr in attrs:
        if not isinstance(ref, OpaqueRef) or ref.module is None:
            return False
        ref = attribute(ref, attr)
    return isinstance(ref, DataRef)


def scope_fields(low) -> dict:
    """The fields of the lowered Function for the scope arrays read: extra
    parameters (after the user's), printed keyword-only, and their sources."""
    if not low.scope_data:
        return {}
    found = list(low.scope_data.values())
    return {
        "keyword_only": tuple((v.name, ref.source and ref.name) for v, ref in found),
        "scope_sources": tuple(
            (v.name, ref.where, ref.name) for v, ref in found if ref.source is None
        ),
    }


def constant_shapes(fn, scope) -> dict:
    """The shapes of the module constants ``fn`` (lowered by the CLI) reads,
    by parameter name: known from their checked definitions."""
    out = {}
    for param, default in fn.keyword_only:
        ref = scope.lookup(default) if default is not None else None
        if isinstance(ref, DataRef) and ref.shape is not None:
            out[param] = ref.shape
    return out
