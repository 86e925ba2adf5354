"""Python's truth and conditions as SymPy sees them, for the rows' SymPy translations.

SymPy is imported lazily (:func:`sympy_module`): only the symbolic check and
symbolic mode need it.
"""

from __future__ import annotations

from ad_compiler.errors import UsageError
from ad_compiler.lazy import lazy_import


class NotExpressible(UsageError):
    """The function has no closed-form SymPy expression; the message says why."""


def sympy_module():
    """SymPy, imported on first use (from any thread: see ad_compiler.lazy)."""
    return lazy_import("sympy")


def as_number(v):
    """``v`` as Python's arithmetic sees it: ``True`` is 1, a condition 1 or 0."""
    if not is_bool(v):
        return v
    sp = sympy_module()
    if v in (True, sp.true):
        return sp.Integer(1)
    if v in (False, sp.false):
        return sp.Integer(0)
    return sp.Piecewise((1, v), (0, True), evaluate=False)


def is_bool(v) -> bool:
    """A truth value (a SymPy ``Symbol`` is a ``Boolean`` too, but holds a number here)."""
    sp = sympy_module()
    logic = sp.logic.boolalg
    return isinstance(
        v,
        (bool, logic.BooleanAtom, logic.BooleanFunction, sp.core.relational.Relational),
    )


def truth(v):
    """Python's truth of ``v``: a number is true when it is not 0."""
    return v if is_bool(v) else sympy_module().Ne(v, 0)


def select(c, x, y):
    """``x if c else y``: one of them when ``c`` is decided, else a ``Piecewise``."""
    sp = sympy_module()
    if c is sp.true or c is True:
        return x
    if c is sp.false or c is False:
        return y
    c = truth(c)
    if c.has(sp.Piecewise):
        # A condition on a value an earlier branch chose: SymPy turns it into
        # nested if-then-else sets, which takes minutes for a few iterations.
        raise NotExpressible(
            "a branch tests a value that an earlier input-dependent branch chose; "
            "SymPy cannot write that as one Piecewise in reasonable time"
        )
    if is_bool(x) and is_bool(y):
        return sp.Or(sp.And(c, x), sp.And(sp.Not(c), y))
    # evaluate=False: simplifying the conditions (as sets) costs seconds per merge
    return sp.Piecewise((x, c), (y, True), evaluate=False)
