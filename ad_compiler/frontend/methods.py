"""Bound methods: ``grad(model.loss)`` and ``self.helper(x)`` inside one.

A bound method is its class's function with ``self`` fixed to one object.
:func:`method_source` lowers it as that function without its first
parameter, ``self`` being a name of its scope bound to the object.  The
object's attributes then resolve as a module's do
(:func:`ad_compiler.frontend.scope.attribute`): arrays (``self.X``) are scope
arrays read live on every call (:mod:`.scope_data`), numbers (``self.lr``,
``self.cfg.scale``) are baked in and watched (:mod:`ad_compiler.guard`:
rebinding one compiles again), and methods (``self.predict(w)``) are inlined
like the user's other functions.  The derivative differentiates with respect
to the explicit arguments only.  What cannot be read without running code
the user wrote -- ``super()``, properties -- is refused where it is used.
"""

from __future__ import annotations

import ast
import copy
import types
from dataclasses import replace

from ad_compiler.errors import UnsupportedError
from ad_compiler.frontend.scope import RuntimeScope
from ad_compiler.frontend.source import FunctionSource, from_function


def is_method(f) -> bool:
    """Whether ``f`` is a method bound to an object (not a class)."""
    return isinstance(f, types.MethodType) and not isinstance(f.__self__, type)


def source_and_scope(f) -> tuple[FunctionSource, RuntimeScope]:
    """The source and scope lowering reads for ``f``: a function's own, or
    those of a bound method as described in the module docstring."""
    if not is_method(f):
        return from_function(f), RuntimeScope(f)
    return method_source(f)


def method_source(method) -> tuple[FunctionSource, RuntimeScope]:
    """The method's function without its ``self`` parameter, and a scope in
    which ``self`` is the object it is bound to."""
    if isinstance(method.__self__, type):
        raise UnsupportedError(
            f"`{method.__name__}` is a class method", hint="make it a plain function"
        )
    src = from_function(method.__func__)
    node = copy.copy(src.node)
    args = copy.copy(node.args)
    positional = args.posonlyargs + args.args
    if not positional:
        loc = src.loc(node)
        raise UnsupportedError(
            f"the method `{node.name}` takes no `self` parameter",
            loc,
            "make it a @staticmethod, or give it `self` first",
            src.line(loc),
        )
    me = positional[0].arg
    if args.posonlyargs:
        args.posonlyargs = args.posonlyargs[1:]
    else:
        args.args = args.args[1:]
    node.args = args
    _refuse_super(src, node)
    scope = RuntimeScope(method.__func__)
    scope.closure[me] = method.__self__
    scope.cells[me] = {me: method.__self__}  # (never rebound: nothing to watch)
    return replace(src, node=node), scope


def _refuse_super(src: FunctionSource, node: ast.FunctionDef) -> None:
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Name)
            and sub.func.id == "super"
        ):
            loc = src.loc(sub)
            raise UnsupportedError(
                "`super()` in a differentiated method is not supported",
                loc,
                "move the shared code to a module-level function and call it "
                "from both classes",
                src.line(loc),
            )
