"""A list's adjoint made from a stack's adjoint, with no zeros to add into.

The reverse sweep of a block that made a run-time list ``xs`` opens its
adjoint as zeros, ``xs_bar = [np.zeros_like(v) for v in xs]``, and the
adjoint of ``s = np.stack(xs[:n])`` adds the rows of ``s̄`` into it,
``_add_rows(xs_bar, s_bar)``.  When that add is the first thing that touches
``xs_bar`` (the usual case: an RNN's new state stacked from its layers' rows,
whose adjoint arrives before any other read of the list's), the zeros and the
adds are wasted: ``0 + row`` is ``row``.  This pass writes::

    xs_bar = _rows_of(s_bar, xs)    # the rows of s_bar, then zeros

The items are views of ``s̄``.  That is safe because nothing writes into a
list adjoint's items (every later add rebinds the slot: ``xs_bar[k] =
xs_bar[k] + g``) and :mod:`ad_compiler.backend.inplace` counts ``_rows_of``
as keeping a reference to ``s̄`` (so ``s̄`` is never written in place after
it).  Values are unchanged except that a row equal to ``-0.0`` stays
``-0.0`` (``0.0 + -0.0`` is ``0.0``).

It runs on the emitted form only (with no directions: vector mode's lists
carry a direction axis and are left alone): the IR that is differentiated
again never holds ``list_rows``.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir.nodes import (
    Eqn,
    Function,
    If,
    Loop,
    Var,
    While,
    blocks,
    own_reads,
)


def stack_adjoint_rows(fn: Function) -> Function:
    """``fn`` with each fresh list adjoint whose first use is a stack's adjoint
    made from that adjoint's rows (see the module docstring)."""
    body = _block(fn.body)
    return fn if body is fn.body else replace(fn, body=body)


def _block(stmts) -> tuple:
    out = [_inner(s) for s in stmts]
    changed = any(a is not b for a, b in zip(out, stmts))
    k = 0
    while k < len(out):
        s = out[k]
        j = _first_add(out, k) if _opens_adjoint(s) else None
        if j is not None:
            add = out[j]
            rows = Eqn("list_rows", s.outs, (add.ins[1], s.ins[0]), add.loc, s.ns)
            out[j] = rows
            del out[k]
            changed = True
            continue
        k += 1
    return tuple(out) if changed else stmts


def _inner(s):
    """``s`` with its blocks rewritten."""
    if isinstance(s, If):
        then, orelse = _block(s.then), _block(s.orelse)
        if then is s.then and orelse is s.orelse:
            return s
        return replace(s, then=then, orelse=orelse)
    if isinstance(s, Loop):
        test, body = _block(s.test), _block(s.body)
        if test is s.test and body is s.body:
            return s
        if isinstance(s, While):
            return replace(s, test=test, body=body)
        return replace(s, body=body)  # (a For has no test block)
    return s


def _opens_adjoint(s) -> bool:
    """``xs_bar = [np.zeros_like(v) for v in xs]`` (no direction axis)."""
    return isinstance(s, Eqn) and s.prim == "list_zeros" and len(s.ins) == 1


def _first_add(stmts: list, k: int) -> int | None:
    """The position of ``_add_rows(xs_bar, g)`` if it is the first statement
    after ``k`` that reads the list adjoint ``stmts[k]`` makes, else None."""
    bar = stmts[k].out.name
    for j in range(k + 1, len(stmts)):
        s = stmts[j]
        if bar not in _reads(s):
            continue
        if (
            isinstance(s, Eqn)
            and s.prim == "list_add_rows"
            and not s.param("lead")
            and s.ins[0] == Var(bar)
            and s.ins[1] != Var(bar)
        ):
            return j
        return None
    return None


def _reads(s) -> set[str]:
    """Every name ``s`` reads, in its blocks too."""
    if isinstance(s, Eqn):
        return {a.name for a in s.ins if isinstance(a, Var)}
    names = {a.name for a in own_reads(s) if isinstance(a, Var)}
    for block in blocks(s):
        for t in block:
            names |= _reads(t)
    return names
