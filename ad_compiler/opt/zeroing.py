"""Adjoint rows zeroed where no later iteration reads them (:func:`unread_zeroing`).

The adjoint of a write ``y[i] = v`` zeroes ``ȳ[i]`` after reading it
(``v̄ = ȳ[i]``; ``ȳ[i] = 0``): an earlier write to the same place must not get
ȳ again.  In a reverse loop whose index ``i`` takes every value once (a range,
or a tape column holding a forward range loop's index) and whose every read of
ȳ is ``ȳ[i]`` itself, no later iteration reads the zeroed row, so when nothing
reads ȳ after the loop either, the zeroing is unobservable: the loop then
passes ȳ on unchanged (``simplify`` stops carrying it and dead-code elimination
drops the write).  A row loop's adjoint becomes one statement per row
(``means_bar[c] += -xc_bar[i]``) instead of a read, a copy-or-write, and an add.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    For,
    Function,
    Var,
    blocks,
    body_reads,
    iter_eqns,
    map_atoms,
    own_reads,
)
from ad_compiler.primitives.table import PRIMITIVES


def unread_zeroing(fn: Function) -> Function:
    """``fn`` with each unobservable ``ȳ[i] = 0`` of a reverse loop dropped."""
    distinct = _distinct_columns(fn.body)
    reads = _read_counts(fn.body)
    for r in fn.results:
        if isinstance(r, Var):
            reads[r.name] = reads.get(r.name, 0) + 1
    body = _block(fn.body, distinct, reads)
    return fn if body is fn.body else replace(fn, body=body)


def _distinct_columns(stmts) -> dict[str, set[int]]:
    """tape name -> the positions its pushes fill with a range loop's index."""
    out: dict[str, set[int]] = {}

    def walk(stmts):
        for s in stmts:
            if isinstance(s, For) and s.over in ("range", "reversed_range"):
                for e in s.body:
                    if isinstance(e, Eqn) and e.prim == "push":
                        for j, a in enumerate(e.ins[1:]):
                            if a == s.index[0]:
                                out.setdefault(e.ins[0].name, set()).add(j)
            for block in blocks(s):
                walk(block)

    walk(stmts)
    return out


def _read_counts(stmts) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in stmts:
        for a in own_reads(s):
            if isinstance(a, Var):
                counts[a.name] = counts.get(a.name, 0) + 1
        for block in blocks(s):
            for name, n in _read_counts(block).items():
                counts[name] = counts.get(name, 0) + n
    return counts


def _block(stmts, distinct: dict, reads: dict) -> tuple:
    out, changed = [], False
    for s in stmts:
        new = s
        if isinstance(s, For):
            new = _loop(s, distinct, reads)
            body = _block(new.body, distinct, reads)
            if body is not new.body:
                new = replace(new, body=body)
        changed |= new is not s
        out.append(new)
    return tuple(out) if changed else stmts


def _index(s: For, distinct: dict) -> Var | None:
    """The loop's index that takes each value once, if it has one."""
    if s.over in ("range", "reversed_range"):
        return s.index[0]
    if s.over == "tape":
        for j in sorted(distinct.get(s.args[0].name, ())):
            if j < len(s.index):
                return s.index[j]
    return None


def _loop(s: For, distinct: dict, reads: dict) -> For:
    i = _index(s, distinct)
    if i is None or s.brk is not None:
        return s
    defs = {e.out.name: e for e in s.body if isinstance(e, Eqn) and len(e.outs) == 1}
    nexts = list(s.nexts)
    for k, (c, n) in enumerate(zip(s.carried, s.nexts)):
        e = defs.get(n.name) if isinstance(n, Var) else None
        zeroing = (
            e is not None
            and e.prim == "setitem"
            and e.ins[0] == c
            and e.ins[1] == Const(0.0)
            and e.ins[2:] == (i,)
            and e.param("index") == ("a",)
        )
        if not zeroing or not _only_rows(s, c, i, e) or s.nexts.count(n) != 1:
            continue
        inside = sum(1 for t in iter_eqns(s.body) for a in t.ins if a == c)
        if reads.get(c.name, 0) != inside or reads.get(n.name, 0) != 1:
            continue  # read after the loop, or the zeroed array read elsewhere
        nexts[k] = c
    if nexts == list(s.nexts):
        return s
    kept = {c.name for c, n in zip(s.carried, nexts) if n == c}
    return replace(s, nexts=tuple(nexts), body=_uncopied_rows(s.body, kept, i))


def _uncopied_rows(body: tuple, unwritten: set, i: Var) -> tuple:
    """``body`` reading the rows ``c[i]`` of the arrays in ``unwritten``
    without copying them: the copy (``v̄ = np.copy(ȳ[i])``) kept the row from
    the zeroing that followed it, and nothing writes into ``c`` any more."""
    rows = {
        e.out.name
        for e in body
        if isinstance(e, Eqn)
        and e.prim == "getitem"
        and isinstance(e.ins[0], Var)
        and e.ins[0].name in unwritten
        and e.ins[1:] == (i,)
    }
    same = {
        e.out.name: e.ins[0]
        for e in body
        if isinstance(e, Eqn)
        and e.prim == "copy"
        and isinstance(e.ins[0], Var)
        and e.ins[0].name in rows
    }
    if not same:
        return body
    kept = tuple(
        e
        for e in body
        if not (isinstance(e, Eqn) and e.outs and e.outs[0].name in same)
    )
    return map_atoms(kept, lambda a: same.get(getattr(a, "name", None), a))


def _only_rows(s: For, c: Var, i: Var, zeroing: Eqn) -> bool:
    """Whether every read of ``c`` in the body is ``c[i]``, a shape, or the
    zeroing itself (nested loops and branches included)."""
    for t in iter_eqns(s.body):
        for k, a in enumerate(t.ins):
            if a != c or t is zeroing or k in PRIMITIVES[t.prim].shape_only:
                continue
            if not (
                t.prim == "getitem" and t.ins == (c, i) and t.param("index") == ("a",)
            ):
                return False
    return c not in body_reads(s) and all(
        a != c
        for t in _statements(s.body)
        if not isinstance(t, Eqn)
        for a in own_reads(t)
    )


def _statements(stmts):
    for s in stmts:
        yield s
        for block in blocks(s):
            yield from _statements(block)
