"""The primitive operations of the IR: what each computes and how it is spelled.

One :class:`Primitive` per operation gives its arity, how the trace prints it,
how emitted Python spells it for ``math`` and for NumPy, how to evaluate it on
Python numbers (constant folding, numeric checks) and the SymPy function it maps
to.  Derivative rules live in :mod:`ad_compiler.rules`; every primitive here
has exactly one row there (a test walks both tables).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

# Python operator precedence, higher binds tighter; used to parenthesise.
PREC_ADD, PREC_MUL, PREC_NEG, PREC_POW, PREC_ATOM = 4, 5, 6, 7, 9


@dataclass(frozen=True)
class Primitive:
    """One operation.

    ``infix`` is the Python operator for binary operators (``+``), ``prefix`` for
    unary ones (``-``); otherwise the primitive is a call spelled
    ``math_name``/``np_name`` (a ``{x}``-template when it is not a plain call).
    """

    name: str
    arity: int
    evaluate: Callable
    infix: str | None = None
    prefix: str | None = None
    prec: int = PREC_ATOM
    math_name: str | None = None
    np_name: str | None = None
    sympy_name: str | None = None
    commutative: bool = False

    def call_name(self, ns: str) -> str:
        return self.np_name if ns == "np" else self.math_name

    def show(self, ins, ns: str = "math") -> str:
        """How the trace prints an application: ``x1 * x2``, ``log(x1)``."""
        args = [str(a) for a in ins]
        if self.infix:
            return f"{args[0]} {self.infix} {args[1]}"
        if self.prefix:
            return f"{self.prefix}{args[0]}"
        prefix = "np." if ns == "np" else ""
        return f"{prefix}{self.name}({', '.join(args)})"


def _sign(x):
    return math.copysign(1.0, x)


def _binary(name, op, prec, evaluate, sympy_name, commutative=False):
    return Primitive(
        name,
        2,
        evaluate,
        infix=op,
        prec=prec,
        sympy_name=sympy_name,
        commutative=commutative,
    )


def _call(name, arity, evaluate, math_name, np_name, sympy_name):
    return Primitive(
        name,
        arity,
        evaluate,
        math_name=math_name,
        np_name=np_name,
        sympy_name=sympy_name,
    )


_TABLE = [
    _binary("add", "+", PREC_ADD, lambda x, y: x + y, "Add", commutative=True),
    _binary("sub", "-", PREC_ADD, lambda x, y: x - y, "sub"),
    _binary("mul", "*", PREC_MUL, lambda x, y: x * y, "Mul", commutative=True),
    _binary("div", "/", PREC_MUL, lambda x, y: x / y, "div"),
    _binary("pow", "**", PREC_POW, lambda x, y: x**y, "Pow"),
    Primitive("neg", 1, lambda x: -x, prefix="-", prec=PREC_NEG, sympy_name="neg"),
    _call("exp", 1, math.exp, "math.exp", "np.exp", "exp"),
    _call("expm1", 1, math.expm1, "math.expm1", "np.expm1", "expm1"),
    _call("log", 1, math.log, "math.log", "np.log", "log"),
    _call("log2", 1, math.log2, "math.log2", "np.log2", "log2"),
    _call("log10", 1, math.log10, "math.log10", "np.log10", "log10"),
    _call("log1p", 1, math.log1p, "math.log1p", "np.log1p", "log1p"),
    _call("sqrt", 1, math.sqrt, "math.sqrt", "np.sqrt", "sqrt"),
    _call("sin", 1, math.sin, "math.sin", "np.sin", "sin"),
    _call("cos", 1, math.cos, "math.cos", "np.cos", "cos"),
    _call("tan", 1, math.tan, "math.tan", "np.tan", "tan"),
    _call("sinh", 1, math.sinh, "math.sinh", "np.sinh", "sinh"),
    _call("cosh", 1, math.cosh, "math.cosh", "np.cosh", "cosh"),
    _call("tanh", 1, math.tanh, "math.tanh", "np.tanh", "tanh"),
    _call("asin", 1, math.asin, "math.asin", "np.arcsin", "asin"),
    _call("acos", 1, math.acos, "math.acos", "np.arccos", "acos"),
    _call("atan", 1, math.atan, "math.atan", "np.arctan", "atan"),
    _call("atan2", 2, math.atan2, "math.atan2", "np.arctan2", "atan2"),
    _call("hypot", 2, math.hypot, "math.hypot", "np.hypot", "hypot"),
    _call("abs", 1, abs, "abs", "np.abs", "Abs"),
    # sign is the derivative of abs; copysign makes it +1 at +0.0, the branch
    # `x if x >= 0 else -x` takes (see docs/rules.md on non-smooth points).
    _call("sign", 1, _sign, "math.copysign(1.0, {0})", "np.sign", "sign"),
]

PRIMITIVES: dict[str, Primitive] = {p.name: p for p in _TABLE}

# The derivative of these is zero wherever it exists; they appear only in
# derivative code (`sign`) and are never differentiated through.
NONDIFFERENTIABLE = frozenset({"sign"})
