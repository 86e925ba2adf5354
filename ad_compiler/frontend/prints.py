"""``print(...)`` in a differentiated function: kept, in the primal sweep.

A ``print`` statement becomes one ``print`` equation (an effect: never
removed, merged or differentiated; see the row in
:mod:`ad_compiler.primitives.scalar`), so the emitted derivative prints what
the function prints, at the same point of the computation and once per call of
the derivative: reverse mode keeps it in the forward sweep and leaves it out
of the loop iterations the reverse sweep recomputes; forward mode, vector mode
and derivatives of derivatives copy it once.

Arguments: numbers and arrays (any expression), string literals and f-strings
of them, static values (``kind="tanh"``, None, a bool: their text, known when
compiling), and ``sep=``/``end=`` given as string literals (or None).  No text of
the input is copied into emitted code: a string is kept as its parsed value
and re-rendered with ``repr`` (a literal part of an f-string too), and a
format spec must be a literal of the characters a standard format spec uses.
``file=`` and ``flush=`` are refused, and so is ``print`` used as a value (it
returns None), and ``print`` in a recursive function (whose derivative runs
its levels more often than Python does).
"""

from __future__ import annotations

import ast
import re

from ad_compiler.frontend.lower_values import StaticValue, TupleValue
from ad_compiler.frontend.scope import OpaqueRef
from ad_compiler.ir.nodes import Eqn

# the characters of a standard format spec: fill/align, sign, #, 0, width,
# grouping, precision, type (a fill character outside these is refused)
_SPEC = re.compile(r"[A-Za-z0-9 _.,<>=^+%#-]*\Z")
_CONVERSIONS = {-1: "", 115: "s", 114: "r", 97: "a"}


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


def lower_print(lowerer, call: ast.Call) -> None:
    """Emit the ``print`` equation of the statement ``print(...)``.

    Its params: ``args``, one item per positional argument — ``("v",)`` the
    next input, ``("s", text)`` a string, ``("f", parts)`` an f-string whose
    parts are ``("s", text)`` or ``("v", conversion, spec)`` — and ``sep`` and
    ``end`` (a string, or None for Python's default)."""
    if any(f is None for f in lowerer.program.values()):
        # lowering a recursive function on its own: its derivative runs it (the
        # forward sweep of each level, and the calls that give values) more
        # often than Python does, so its prints would repeat
        lowerer.error(
            call,
            "`print` in a recursive function is not supported",
            "print from the function that calls it: the derivative of a "
            "recursive function runs its levels more often than Python does",
        )
    layout, ins = [], []
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            lowerer.unsupported(arg)
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            layout.append(("s", arg.value))
        elif isinstance(arg, ast.JoinedStr):
            layout.append(("f", _fstring(lowerer, arg, ins)))
        else:
            value = _value(lowerer, arg)
            if isinstance(value, StaticValue):  # kind="tanh", None: its text now
                layout.append(("s", "%s" % (value.value,)))  # (an exact str)
            else:
                layout.append(("v",))
                ins.append(value)
    params = {"args": tuple(layout), "sep": None, "end": None}
    for kw in call.keywords:
        if kw.arg in ("sep", "end"):
            value = kw.value
            if not (
                isinstance(value, ast.Constant)
                and (value.value is None or isinstance(value.value, str))
            ):
                lowerer.error(
                    value,
                    f"`{kw.arg}=` of `print` must be a string literal",
                    f'write it out, e.g. {kw.arg}=", "',
                )
            params[kw.arg] = value.value
        else:
            what = f"`{kw.arg}=`" if kw.arg else "`**` arguments"
            lowerer.error(
                kw,
                f"{what} in `print` is not supported in a differentiated function",
                "print to the console (sep= and end= are fine), or write the "
                "function's result to a file outside it",
            )
    loc = lowerer.src.loc(call)
    lowerer.b.emit(Eqn("print", (), tuple(ins), loc, "py", tuple(params.items())))


def _value(lowerer, node: ast.expr):
    value = lowerer.expr(node)
    if isinstance(value, TupleValue):
        lowerer.error(
            node,
            "printing a tuple is not supported",
            "print its items: print(a, b)",
        )
    return value


def _fstring(lowerer, node: ast.JoinedStr, ins: list) -> tuple:
    parts = []
    for part in node.values:
        if isinstance(part, ast.Constant):
            parts.append(("s", part.value))
            continue
        spec = ""
        if part.format_spec is not None:
            pieces = part.format_spec.values
            if not all(isinstance(p, ast.Constant) for p in pieces):
                lowerer.error(
                    part.format_spec,
                    "a format spec computed when the function runs is not supported",
                    "write the spec out, e.g. {x:.3f}",
                )
            spec = "".join(p.value for p in pieces)
            if not _SPEC.match(spec):
                lowerer.error(
                    part.format_spec,
                    "this format spec is not supported in `print`",
                    "use a standard spec of letters, digits and . , < > = ^ + - # %",
                )
        value = _value(lowerer, part.value)
        if isinstance(value, StaticValue):  # formatted now, as Python would
            conversion = {115: str, 114: repr, 97: ascii}.get(part.conversion)
            shown = conversion(value.value) if conversion else value.value
            try:
                parts.append(("s", "%s" % (format(shown, spec),)))
            except (TypeError, ValueError) as e:
                lowerer.error(part, f"this f-string part cannot be formatted: {e}")
            continue
        parts.append(("v", _CONVERSIONS[part.conversion], spec))
        ins.append(value)
    return tuple(parts)
