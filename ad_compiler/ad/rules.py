"""The AD drivers' view of the registry: one equation's tangent and adjoints.

Each primitive's row (:mod:`ad_compiler.primitives`) holds its tangent rule
``jvp(b, p, out, *ins, *dins)`` and adjoint rule ``vjp(b, p, out, g, *ins)``,
written with the operations of a builder ``b`` (see
:mod:`ad_compiler.ir.builder`), never as strings, so the same row generates IR,
evaluates numbers and builds SymPy expressions.  A tangent or adjoint that is
zero is ``None``; the caller passes ``None`` for inputs that are constant or
not active, and drops adjoints of inputs that are not needed, so rules do no
special-casing of their own.

Keeping both rules in one row means nobody can add one and forget the other;
``tests/test_registry.py`` walks the rows and checks every one against finite
differences, against each other (the dot-product identity) and against SymPy.
"""

from __future__ import annotations

from typing import cast

from ad_compiler.errors import CompileError
from ad_compiler.ir import shapes
from ad_compiler.ir.nodes import Var
from ad_compiler.primitives.registry import Primitive, Rule
from ad_compiler.primitives.table import PRIMITIVES


def tangent(b, eqn, dins):
    """The tangent of ``eqn``'s output given its inputs' tangents (None: zero).

    Elementwise rules may return a tangent that broadcasts to the output (a
    scalar for an array); other rules get their tangents at full shape.
    """
    row = rule_for(eqn.prim, eqn.loc)
    refuse_underivable(row, eqn, [d is not None for d in dins])
    if not row.elementwise:
        dins = [b.like(d, x) for d, x in zip(dins, eqn.ins)]
    return cast(Rule, row.jvp)(b, dict(eqn.params), eqn.out, *eqn.ins, *dins)


def adjoints(b, eqn, g, active=frozenset()) -> tuple:
    """The contributions of ``eqn``'s output adjoint ``g`` to its inputs' adjoints,
    each shaped like its input (broadcasting summed back); ``active``: the names
    of the values with adjoints (an underivable input among them is refused)."""
    row = rule_for(eqn.prim, eqn.loc)
    refuse_underivable(
        row, eqn, [isinstance(a, Var) and a.name in active for a in eqn.ins]
    )
    if not row.elementwise:
        g = b.like(g, eqn.out)
    cts = cast(Rule, row.vjp)(b, dict(eqn.params), eqn.out, g, *eqn.ins)
    if row.elementwise:
        cts = tuple(_summed_back(b, ct, x, eqn.out) for ct, x in zip(cts, eqn.ins))
    return cts


def _summed_back(b, ct, x, out):
    """A contribution to x̄ of ``out = p(..., x, ...)``, shaped like ``x``.

    Where x was stretched to out's shape, x̄ sums the contribution over the
    stretched axes; a contribution that is smaller than out (a scalar ȳ of
    np.sum stands for an array of ȳ) is first spread to out's shape, so that
    the sum counts every element it stands for: x̄ of ``np.sum(a + x)`` for a
    scalar a is len(x), not 1.
    """
    if ct is None:
        return None
    sx, so = b.shape(x), b.shape(out)
    if sx == so and so is not None and shapes.ANY not in so:
        return ct  # x was not stretched: ct stands for an array of x's shape
    return b.sum_to(b.like(ct, out), x)


def refuse_underivable(row: Primitive, eqn, wanted: list) -> None:
    """A located error when the derivative in an input of ``row.underivable``
    is wanted (``wanted[i]``: input i has a tangent or an adjoint); a constant
    or inactive one is fine, its derivative is never formed."""
    for i, name in row.underivable:
        if wanted[i]:
            qualified = row.names[0] if row.names else row.name
            raise CompileError(
                f"`{qualified}` has no derivative rule in its parameter `{name}` "
                "(no closed form: an incomplete gamma/beta function differentiated "
                "in its parameter), and it depends on a differentiated input",
                eqn.loc,
                hint=f"pass `{name}` as a constant: a literal or module-level number, "
                "or an argument you do not differentiate with respect to "
                "(argnums/wrt)",
            )


def rule_for(prim: str, loc=None) -> Primitive:
    """The row of ``prim``, with its rules; a compile error naming it when there
    is none."""
    row = PRIMITIVES.get(prim)
    if row is None or row.jvp is None or row.vjp is None:
        raise CompileError(
            f"primitive `{prim}` has no derivative rule",
            loc,
            hint="give its row in ad_compiler/primitives/ both jvp and vjp",
        )
    return row
