"""The SymPy backend: IR and rules -> SymPy expressions, to prove derivatives right.

This is the only module that imports SymPy, and it imports it lazily.  It reads
IR and never writes it.

* :class:`SympyOps` is a builder whose operations build SymPy expressions, so a
  row of the rule table can be applied symbolically and compared with
  ``sympy.diff`` (``tests/test_rules.py`` does this for every row);
* :func:`to_sympy` turns a straight-line :class:`~ad_compiler.ir.Function`
  (a primal or an emitted derivative) into one SymPy expression per result;
* :func:`check_gradient` proves that the emitted gradient of a function equals
  ``sympy.diff`` of its trace: symbolically where expanding and cancelling the
  difference gives 0, otherwise by comparing at random points with 50
  significant digits (the report says which).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .builder import Ops
from .errors import UsageError
from .ir import Const, Eqn, Function


def _sympy():
    import sympy

    return sympy


def _apply(prim: str, *args):
    sp = _sympy()
    table = {
        "add": lambda x, y: x + y,
        "sub": lambda x, y: x - y,
        "mul": lambda x, y: x * y,
        "div": lambda x, y: x / y,
        "pow": lambda x, y: x**y,
        "neg": lambda x: -x,
        "log2": lambda x: sp.log(x, 2),
        "log10": lambda x: sp.log(x, 10),
        "log1p": lambda x: sp.log(1 + x),
        "expm1": lambda x: sp.exp(x) - 1,
        "abs": sp.Abs,
        "max": sp.Max,
        "min": sp.Min,
        "ge": sp.Ge,
        "le": sp.Le,
        "gt": sp.Gt,
        "lt": sp.Lt,
        "eq": sp.Eq,
        "ne": sp.Ne,
        "not": sp.Not,
        "select": lambda c, x, y: sp.Piecewise((x, c), (y, True)),
        "round": lambda x: sp.floor(x + sp.Rational(1, 2)),
        "float": lambda x: x,
        "int": lambda x: sp.sign(x) * sp.floor(sp.Abs(x)),
        "trunc": lambda x: sp.sign(x) * sp.floor(sp.Abs(x)),
        "copysign": lambda x, y: sp.Abs(x) * sp.sign(y),
        "fmod": lambda x, y: x - y * sp.sign(x / y) * sp.floor(sp.Abs(x / y)),
        "hypot": lambda x, y: sp.sqrt(x**2 + y**2),
        "sign": sp.sign,
    }
    if prim in table:
        return table[prim](*args)
    return getattr(sp, prim)(*args)


class SympyOps(Ops):
    """Rules applied to SymPy expressions."""

    def apply(self, prim, *ins):
        sp = _sympy()
        return _apply(prim, *(sp.sympify(i) for i in ins))

    def lit(self, value):
        return (
            _sympy().Rational(value)
            if isinstance(value, int)
            else _sympy().Float(value, 30)
        )


def to_sympy(fn: Function, symbols: dict | None = None) -> tuple:
    """One SymPy expression per result of a straight-line function.

    Parameters become SymPy symbols of the same names (or ``symbols[name]``).
    Float literals are kept exact (``sympy.nsimplify`` of their decimal text)
    so that ``2.0 * x`` and ``2 * x`` compare equal.
    """
    sp = _sympy()
    env: dict[str, object] = {}
    for p in fn.params:
        env[p.name] = (symbols or {}).get(p.name, sp.Symbol(p.name, real=True))

    def val(a):
        if isinstance(a, Const):
            return sp.nsimplify(repr(a.value), rational=True)
        return env[a.name]

    for eqn in fn.body:
        if not isinstance(eqn, Eqn) or eqn.prim == "call":
            raise UsageError(
                f"`{fn.name}` has branches, loops or calls: a SymPy formula covers "
                "straight-line code only; check it against finite differences instead"
            )
        env[eqn.out.name] = _apply(eqn.prim, *(val(a) for a in eqn.ins))
    return tuple(val(r) for r in fn.results)


@dataclass
class CheckReport:
    """What :func:`check_gradient` found: per input, how equality was established."""

    function: str
    ok: bool
    methods: dict[str, str]
    failures: list[str]


def check_gradient(
    primal: Function, gradient: Function, wrt: tuple[int, ...]
) -> CheckReport:
    """Prove ``gradient`` (a ``grad`` IR, one result per ``wrt``) equals ``sympy.diff``."""
    sp = _sympy()
    symbols = {p.name: sp.Symbol(p.name, real=True) for p in primal.params}
    (y,) = to_sympy(primal, symbols)
    emitted = to_sympy(gradient, symbols)
    methods, failures = {}, []
    rng = random.Random(0)
    for k, i in enumerate(wrt):
        name = primal.params[i].name
        diff = sp.diff(y, symbols[name]) - emitted[k]
        # A cheap canonical form settles most cases; sympy.simplify can run for
        # minutes on logarithms of sums, so it is not tried.
        if sp.cancel(sp.together(sp.expand(diff))) == 0:
            methods[name] = "symbolic"
            continue
        # Emitted code holds folded constants as doubles (log(2) = 0.6931471805599453),
        # so equality is judged relative to double precision, evaluated with 50 digits.
        exact = sp.diff(y, symbols[name])
        worst = 0.0
        for _ in range(5):
            point = {s: sp.Float(rng.uniform(0.5, 1.5), 50) for s in symbols.values()}
            scale = max(1.0, abs(complex(exact.evalf(50, subs=point))))
            worst = max(worst, abs(complex(diff.evalf(50, subs=point))) / scale)
        if worst < 1e-13:
            methods[name] = (
                "numeric (50 digits at 5 random points, relative error < 1e-13)"
            )
        else:
            failures.append(
                f"∂{primal.name}/∂{name} differs from sympy.diff by {worst:.3g}"
            )
    return CheckReport(primal.name, not failures, methods, failures)
