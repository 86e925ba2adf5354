"""The user's functions a lowered function calls: their source, and their
custom derivative.

Used by call lowering (:mod:`ad_compiler.frontend.lower_calls`) and by the
aliasing check (:mod:`ad_compiler.frontend.lower_arrays`), which reads a
callee's source to see what it may return.
"""

from __future__ import annotations

import ast

from ad_compiler.errors import UnsupportedError
from ad_compiler.frontend.decorators import check_decorators, own_name
from ad_compiler.frontend.methods import source_and_scope
from ad_compiler.frontend.scope import RuntimeScope, UserFuncRef, checked_lookup
from ad_compiler.frontend.source import FunctionSource, lambda_source


def source_of(ref: UserFuncRef, src: FunctionSource, scope):
    """The source and scope of a user function: the same file (static) or its own."""
    if ref.node is not None:
        callee = FunctionSource(ref.node, src.file, src.lines)
        check_decorators(callee, scope, called_from=src.node.name)
        return callee, scope
    if getattr(ref.obj, "__name__", None) == "<lambda>":  # `sq = lambda z: z * z`
        return lambda_source(ref.obj), RuntimeScope(ref.obj)
    return source_and_scope(ref.obj)  # a function, or a bound method


def rematerialized(ref: UserFuncRef, src: FunctionSource, scope) -> bool:
    """Whether a user function is marked ``@checkpoint`` (JAX's ``remat``): its
    calls stay calls, so that reverse mode keeps only their arguments and runs
    the call again, taped, when its adjoint is needed (the emitted
    ``g_adjoint``); read from the decorator itself when the file is not run."""
    if ref.obj is not None and getattr(ref.obj, "__adc_checkpoint__", False):
        return True
    return any(
        not isinstance(dec, ast.Call) and own_name(dec, scope) == "checkpoint"
        for dec in src.node.decorator_list
    )


def returned_count(node: ast.FunctionDef) -> int:
    """How many values a function returns (a tuple literal's length, else 1)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Tuple):
            return len(sub.value.elts)
    return 1


def custom_partials(ref: UserFuncRef, src: FunctionSource, scope):
    """The function giving the partial derivatives of a ``@custom_derivative``
    function (see :func:`ad_compiler.custom_derivative`), or None."""
    if ref.obj is not None:
        partials = getattr(ref.obj, "__adc_partials__", None)
        if partials is None:
            return None
        return UserFuncRef(getattr(partials, "__name__", "?"), obj=partials)
    for dec in src.node.decorator_list:
        if not isinstance(dec, ast.Call):
            continue
        if ast.unparse(dec.func).split(".")[-1] != "custom_derivative":
            continue
        loc = src.loc(dec)
        if len(dec.args) != 1 or not isinstance(dec.args[0], ast.Name) or dec.keywords:
            raise UnsupportedError(
                "custom_derivative takes the name of one function",
                loc,
                "write @custom_derivative(partials) with a module-level `def partials`",
                src.line(loc),
            )
        partials = checked_lookup(scope, dec.args[0].id, loc, src.line(loc))
        if not isinstance(partials, UserFuncRef):
            raise UnsupportedError(
                f"`{dec.args[0].id}` is not a function defined in this module",
                loc,
                "define the partial derivatives with `def` in the same file",
                src.line(loc),
            )
        return partials
    return None
