"""The primitive operations of the IR: what each computes and how it is spelled.

One :class:`Primitive` per operation gives its arity, how the trace prints it,
how emitted Python spells it for ``math`` and for NumPy, and how to evaluate it on
Python numbers (constant folding, numeric checks); :mod:`ad_compiler.symbolic.translate`
maps each to SymPy.  Derivative rules live in :mod:`ad_compiler.ad.rules`; every primitive here
has exactly one row there (a test walks both tables).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy

# Python operator precedence, higher binds tighter; used to parenthesise.
PREC_SELECT, PREC_NOT, PREC_CMP = 1, 2, 3
PREC_ADD, PREC_MUL, PREC_NEG, PREC_POW, PREC_ATOM = 4, 5, 6, 7, 9


@dataclass(frozen=True)
class Primitive:
    """One operation.

    ``infix`` is the Python operator for binary operators (``+``), ``prefix`` for
    unary ones (``-``).  Calls are spelled by the library the user called, the
    equation's ``ns``: ``py`` (operators and builtins: ``py_name``), ``math``
    (``math_name``) or ``np`` (``np_name``); a name may be a ``{0}``-template.
    ``x ** y``, ``math.pow(x, y)`` and ``np.power(x, y)`` are one primitive spelled
    three ways, because their domain errors differ and the user's choice is kept.
    """

    name: str
    arity: int  # -1: any number of inputs
    evaluate: Callable
    infix: str | None = None
    prefix: str | None = None
    prec: int = PREC_ATOM
    math_name: str | None = None
    np_name: str | None = None
    py_name: str | None = None
    commutative: bool = False
    effect: bool = False  # the tape operations: never merged, folded or differentiated
    # Array primitives: ``shape(params, *in_shapes, loc=)`` gives the abstract
    # output shape (see :mod:`ad_compiler.ir.shapes`); None means elementwise, the
    # broadcast of the inputs' shapes.  ``render(params, *texts)`` spells the
    # call when a plain ``name(args)`` will not do (keywords, methods, indexing).
    shape: Callable | None = None
    render: Callable | None = None
    differentiable: bool = True  # False: zero derivative, never active (np.zeros)
    # repeats(params): the inputs the spelling writes twice; the emitted code
    # names them rather than writing (and computing) an expression twice
    repeats: Callable | None = None
    # the module a ``render`` spelling calls (for the emitted imports)
    render_module: str = "np"
    # spelled as a conditional expression: always its own statement, never
    # folded into a larger expression (which it would make hard to read)
    statement: bool = False
    # how the trace tables show it, when that is not its spelling (a template)
    shown: str | None = None

    @property
    def elementwise(self) -> bool:
        return self.shape is None and not self.effect and self.name != "call"

    def call_name(self, ns: str) -> str | None:
        """The function to call for library ``ns``; None means use the operator."""
        if ns == "np" and self.np_name:
            return self.np_name
        if ns == "math" and self.math_name:
            return self.math_name
        if self.infix or self.prefix:
            return None
        return self.py_name or self.math_name or self.np_name

    def evaluator(self, ns: str) -> Callable:
        """The Python function computing this primitive as library ``ns`` does it.

        Constant folding must give bit-for-bit what the user's code gives, and
        ``np.tanh`` and ``math.tanh`` can differ in the last place.
        """
        name = self.call_name(ns)
        if name and "{" not in name:
            module, _, attr = name.rpartition(".")
            lib = {"np": numpy, "math": math}.get(module)
            if lib is not None:
                return getattr(lib, attr)
        return self.evaluate

    def show(self, ins, ns: str = "py", params=()) -> str:
        """How the trace prints an application: ``x1 * x2``, ``log(x1)``."""
        args = [str(a) for a in ins]
        if self.shown is not None:
            return self.shown.format(*args)
        if self.render is not None:
            return self.render(dict(params), args, args)[0]
        if self.call_name(ns) is not None and (self.infix or self.prefix):
            return f"{self.call_name(ns)}({', '.join(args)})"
        if self.infix:
            return f"{args[0]} {self.infix} {args[1]}"
        if self.prefix:
            return f"{self.prefix}{args[0]}"
        name = self.call_name(ns) or self.name
        if "{" in name or ns == "py":
            name = self.name
        elif ns == "math":
            name = name.removeprefix(
                "math."
            )  # the seeds write log(x1), not math.log(x1)
        return f"{name}({', '.join(args)})"


def _sign(x):
    return math.copysign(1.0, x)


# --- IEEE 754 at a zero denominator or base ---------------------------------------
# Python floats raise ZeroDivisionError where NumPy and JAX give ±inf or nan.  The
# rules divide by values that are zero where the function itself is finite
# (sqrt at 0, asin at 1, atan2 at (0, 0)...); these primitives compute what
# IEEE 754 (and so NumPy and JAX) gives there, and cost one truth test on the
# ordinary path.  They are spelled only for scalars: NumPy never raises.


def _ieee_div(a, d):
    """``a / d``; where ``d`` is ±0, IEEE's a / ±0."""
    if d:
        return a / d
    return a * math.copysign(math.inf, d)  # ±inf by the signs, nan for a = 0 or nan


def _render_fdiv(params, texts, atoms):
    a, d = atoms  # names or literals: each is spelled twice
    if a == "1.0":
        return f"1.0 / {d} if {d} else math.copysign(math.inf, {d})", PREC_SELECT
    return f"{a} / {d} if {d} else {a} * math.copysign(math.inf, {d})", PREC_SELECT


def _div_or(a, d, at_zero):
    """``a / d``; ``at_zero`` where ``d`` is ±0."""
    return a / d if d else at_zero


def _render_div_or(params, texts, atoms):
    a, d, at_zero = atoms
    return f"{a} / {d} if {d} else {at_zero}", PREC_SELECT


def _ieee_pow(x, e, minus_e):
    """``x ** e``; at a zero base IEEE's pow(±0, e) (±inf for e < 0) rather than an error.

    pow(±0, e) is (1 / ±0) ** -e = (±inf) ** -e, which Python computes without
    raising; ``minus_e`` is -e, computed by the caller (a literal, or 1 - y).
    """
    if x:
        return x**e
    return math.copysign(math.inf, x) ** minus_e


def _render_fpow(params, texts, atoms):
    x, e, minus_e = atoms
    return f"{x} ** {e} if {x} else math.copysign(math.inf, {x}) ** {minus_e}", (
        PREC_SELECT
    )


def _log_or_zero(x):
    """JAX's ln x in the derivative of x ** y in y: 0 at x = 0, nan for x < 0."""
    if x > 0:
        return math.log(x)
    return math.nan if x else 0.0


def _render_logz(params, texts, atoms):
    (x,) = atoms
    return f"math.log({x}) if {x} > 0 else (math.nan if {x} else 0.0)", PREC_SELECT


def _round_or_nan(q):
    """``round(q)``, but nan for nan (where round raises)."""
    return round(q) if q == q else q


def _render_nround(params, texts, atoms):
    (q,) = atoms
    return f"round({q}) if {q} == {q} else {q}", PREC_SELECT


def _nan_of(x):
    """0 where ``x`` is a number, nan where it is nan (and ±inf)."""
    return x - x


def _render_nan_of(params, texts, atoms):
    (x,) = atoms
    return f"{x} - {x}", PREC_ADD


def _ieee(name, arity, evaluate, render, repeats, shown):
    return Primitive(
        name,
        arity,
        evaluate,
        prec=PREC_SELECT,
        render=render,
        render_module="math",
        repeats=lambda p: repeats,
        statement=True,
        shown=shown,
    )


def _binary(name, op, prec, evaluate, commutative=False, math_name=None, np_name=None):
    return Primitive(
        name,
        2,
        evaluate,
        infix=op,
        prec=prec,
        commutative=commutative,
        math_name=math_name,
        np_name=np_name,
    )


def _call(name, arity, evaluate, math_name, np_name):
    return Primitive(
        name,
        arity,
        evaluate,
        math_name=math_name,
        np_name=np_name,
    )


_TABLE = [
    _binary("add", "+", PREC_ADD, lambda x, y: x + y, commutative=True),
    _binary("sub", "-", PREC_ADD, lambda x, y: x - y),
    _binary("mul", "*", PREC_MUL, lambda x, y: x * y, commutative=True),
    _binary("div", "/", PREC_MUL, lambda x, y: x / y),
    _binary(
        "pow",
        "**",
        PREC_POW,
        lambda x, y: x**y,
        math_name="math.pow",
        np_name="np.power",
    ),
    Primitive("neg", 1, lambda x: -x, prefix="-", prec=PREC_NEG),
    _call("exp", 1, math.exp, "math.exp", "np.exp"),
    _call("expm1", 1, math.expm1, "math.expm1", "np.expm1"),
    _call("log", 1, math.log, "math.log", "np.log"),
    _call("log2", 1, math.log2, "math.log2", "np.log2"),
    _call("log10", 1, math.log10, "math.log10", "np.log10"),
    _call("log1p", 1, math.log1p, "math.log1p", "np.log1p"),
    _call("sqrt", 1, math.sqrt, "math.sqrt", "np.sqrt"),
    _call("sin", 1, math.sin, "math.sin", "np.sin"),
    _call("cos", 1, math.cos, "math.cos", "np.cos"),
    _call("tan", 1, math.tan, "math.tan", "np.tan"),
    _call("sinh", 1, math.sinh, "math.sinh", "np.sinh"),
    _call("cosh", 1, math.cosh, "math.cosh", "np.cosh"),
    _call("tanh", 1, math.tanh, "math.tanh", "np.tanh"),
    _call("asin", 1, math.asin, "math.asin", "np.arcsin"),
    _call("acos", 1, math.acos, "math.acos", "np.arccos"),
    _call("atan", 1, math.atan, "math.atan", "np.arctan"),
    _call("atan2", 2, math.atan2, "math.atan2", "np.arctan2"),
    _call("hypot", 2, math.hypot, "math.hypot", "np.hypot"),
    Primitive("abs", 1, abs, math_name="math.fabs", np_name="np.abs", py_name="abs"),
    # --- non-smooth and piecewise-constant (derivative of the branch taken) ---
    # max/min return their first argument on a tie, as Python's builtins do.
    Primitive("max", 2, max, py_name="max", np_name="np.maximum"),
    Primitive("min", 2, min, py_name="min", np_name="np.minimum"),
    _binary("ge", ">=", PREC_CMP, lambda x, y: x >= y),
    _binary("le", "<=", PREC_CMP, lambda x, y: x <= y),
    _binary("gt", ">", PREC_CMP, lambda x, y: x > y),
    _binary("lt", "<", PREC_CMP, lambda x, y: x < y),
    _binary("eq", "==", PREC_CMP, lambda x, y: x == y),
    _binary("ne", "!=", PREC_CMP, lambda x, y: x != y),
    Primitive("not", 1, lambda x: not x, py_name="not {0}", prec=PREC_NOT),
    Primitive(
        "select",
        3,
        lambda c, x, y: numpy.where(c, x, y) if numpy.ndim(c) else (x if c else y),
        py_name="{1} if {0} else {2}",
        np_name="np.where",
        prec=PREC_SELECT,
    ),
    _call("floor", 1, math.floor, "math.floor", "np.floor"),
    _call("ceil", 1, math.ceil, "math.ceil", "np.ceil"),
    _call("trunc", 1, math.trunc, "math.trunc", "np.trunc"),
    Primitive("round", 1, round, py_name="round"),
    Primitive("float", 1, float, py_name="float"),
    Primitive("int", 1, int, py_name="int"),
    _call("copysign", 2, math.copysign, "math.copysign", "np.copysign"),
    _call("fmod", 2, math.fmod, "math.fmod", "np.fmod"),
    # sign is the derivative of abs; copysign makes it +1 at +0.0, the branch
    # `x if x >= 0 else -x` takes (see docs/rules.md on non-smooth points).
    _call("sign", 1, _sign, "math.copysign(1.0, {0})", "np.sign"),
    # only in derivative code, for scalars (see _ieee_div above): a / d with
    # IEEE's ±inf/nan at d = ±0, or (div_or) the third input there; x ** e with IEEE's
    # value at x = ±0 (the third input is -e); JAX's ln x in d(x ** y)/dy;
    # round(q) that gives nan for nan (fmod's quotient)
    _ieee("fdiv", 2, _ieee_div, _render_fdiv, (0, 1), "{0} / {1}"),
    _ieee("div_or", 3, _div_or, _render_div_or, (1,), "{0} / {1}"),
    _ieee("fpow", 3, _ieee_pow, _render_fpow, (0,), "{0} ** {1}"),
    _ieee("logz", 1, _log_or_zero, _render_logz, (0,), "log({0})"),
    _ieee("nround", 1, _round_or_nan, _render_nround, (0,), "round({0})"),
    # the nan fall-back of the non-smooth rules (abs, max, min...): x - x, 0 for a
    # number and nan for nan, whose derivative nan_of(x) dx is nan at nan again,
    # so the fall-back is nan at every order (x itself would differentiate to dx)
    Primitive(
        "nan_of",
        1,
        _nan_of,
        prec=PREC_ADD,
        render=_render_nan_of,
        render_module="",
        repeats=lambda p: (0,),
        shown="nan_of({0})",
    ),
    # --- a call to one of the user's functions (params: fn, the callee's name;
    # custom, how many of the inputs are arguments: the rest are the partial
    # derivatives given by its custom_derivative) ---
    Primitive("call", -1, None, effect=False),
    # --- the reverse-mode tape: a list, appended to by the forward sweep ---
    Primitive("tape", 0, list, py_name="[]", effect=True),
    Primitive("push", -1, None, py_name="{0}.append", effect=True),
]

from ad_compiler.ir.array_primitives import (
    ARRAY_PRIMITIVES,
)  # noqa: E402  (they use Primitive)

PRIMITIVES: dict[str, Primitive] = {p.name: p for p in _TABLE + ARRAY_PRIMITIVES}
