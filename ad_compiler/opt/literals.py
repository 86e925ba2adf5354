"""Spelling int literals as floats where the other operand is surely a float
(:func:`float_literals`): the same bits, on CPython's fast float paths."""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    Function,
    If,
    Loop,
    While,
)
from ad_compiler.opt.simplify import _MAX_EXACT_INT
from ad_compiler.primitives.table import where

# Primitives whose result is a float (or an array of floats) for any real input.
_FLOAT_VALUED = where(result="float")  # (the rows' ``result`` field)


def _float_valued(eqn: Eqn) -> bool:
    if eqn.prim in _FLOAT_VALUED:
        return True
    if eqn.prim in ("sign", "fmod"):  # math's are floats; NumPy's keep int dtypes
        return eqn.ns != "np"
    # math.fabs and math.pow are floats; abs(int) is an int, (-8.0) ** (1/3) complex
    return eqn.prim in ("abs", "pow") and eqn.ns == "math"


_ARITHMETIC = frozenset({"add", "sub", "mul", "div"})


def float_literals(fn: Function) -> Function:
    """Spell an int literal as a float where the other operand is certainly a float.

    ``1 + math.exp(z)`` becomes ``1.0 + math.exp(z)``: Python converts the 1
    exactly so anyway, and the result is the same bits, but CPython's float fast
    paths take only two floats (``2 * g`` costs about twice ``2.0 * g``).  A
    value is certainly a float when a math/NumPy float function computed it, or
    an arithmetic operation of which one operand is; parameters, branch results
    and loop-carried values are not known (they may be ints, Fractions ...).
    """
    floats: set[str] = set()

    def is_float(a) -> bool:
        if isinstance(a, Const):
            return isinstance(a.value, float)
        return a.name in floats

    def visit(eqn: Eqn) -> Eqn:
        if eqn.prim in _ARITHMETIC and eqn.ns == "py":
            if any(is_float(a) for a in eqn.ins):
                floats.add(eqn.out.name)
                ins = tuple(
                    (
                        Const(float(a.value))
                        if isinstance(a, Const)
                        and type(a.value) is int
                        and abs(a.value) <= _MAX_EXACT_INT
                        else a
                    )
                    for a in eqn.ins
                )
                if any(a is not b for a, b in zip(ins, eqn.ins)):  # 1 == 1.0
                    return eqn.with_ins(ins)
        elif eqn.prim == "neg" and is_float(eqn.ins[0]):
            floats.add(eqn.out.name)
        elif _float_valued(eqn):
            floats.add(eqn.out.name)
        return eqn

    def walk(stmts) -> tuple:
        out = []
        for s in stmts:
            if isinstance(s, If):
                s = replace(s, then=walk(s.then), orelse=walk(s.orelse))
            elif isinstance(s, While):
                s = replace(s, test=walk(s.test), body=walk(s.body))
            elif isinstance(s, Loop):
                s = replace(s, body=walk(s.body))
            else:
                s = visit(s)
            out.append(s)
        return tuple(out)

    body = walk(fn.body)
    return replace(fn, body=body)
