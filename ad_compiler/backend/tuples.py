"""The items of one tuple-returning call, emitted as that one call.

``w, V = np.linalg.eigh(A)`` lowers to one equation per item (``eigh_w``,
``eigh_v``: see :mod:`ad_compiler.primitives.linalg_decomp`), each of which
would be spelled as the call indexed, ``np.linalg.eigh(A)[0]``, computing the
decomposition once per item.  Just before code generation, the items of the
same call (the same row family, inputs, library and settings) in one block
become one equation with an output per item, at the place of the first, and
are emitted ``w, V = np.linalg.eigh(A)``; an item nobody reads is bound to
``_``.  The values are the same; the IR that is differentiated is not
touched.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir.nodes import Eqn, For, If, Var, While
from ad_compiler.primitives.linalg_decomp import TUPLE_ITEMS


def fuse_items(fn):
    """``fn`` with the items of each tuple-returning call emitted as one call."""
    if not any(_has_items(s) for s in fn.body):
        return fn
    return replace(fn, body=_block(fn.body))


def _has_items(s) -> bool:
    if isinstance(s, Eqn):
        return s.prim in TUPLE_ITEMS
    return any(_has_items(t) for block in _blocks_of(s) for t in block)


def _blocks_of(s) -> tuple:
    if isinstance(s, If):
        return (s.then, s.orelse)
    if isinstance(s, While):
        return (s.test, s.body)
    if isinstance(s, For):
        return (s.body,)
    return ()


def _key(e: Eqn):
    family = TUPLE_ITEMS[e.prim][0]
    return family, e.ins, e.ns, e.params


def _block(stmts) -> tuple:
    groups: dict = {}
    for e in stmts:
        if isinstance(e, Eqn) and e.prim in TUPLE_ITEMS:
            groups.setdefault(_key(e), []).append(e)
    fused: dict = {}  # id of the first item -> the equation of the whole call
    dropped = set()
    for (family, ins, ns, params), items in groups.items():
        if len(items) < 2:
            continue
        count = TUPLE_ITEMS[items[0].prim][2]
        outs = [Var("_")] * count
        for e in items:
            outs[TUPLE_ITEMS[e.prim][1]] = e.out
        params = tuple(sorted(dict(params, of=family).items()))
        first = items[0]
        fused[id(first)] = Eqn("linalg_items", tuple(outs), ins, first.loc, ns, params)
        dropped.update(id(e) for e in items[1:])
    out = []
    for s in stmts:
        if id(s) in dropped:
            continue
        if id(s) in fused:
            out.append(fused[id(s)])
        elif isinstance(s, If):
            out.append(replace(s, then=_block(s.then), orelse=_block(s.orelse)))
        elif isinstance(s, While):
            out.append(replace(s, test=_block(s.test), body=_block(s.body)))
        elif isinstance(s, For):
            out.append(replace(s, body=_block(s.body)))
        else:
            out.append(s)
    return tuple(out)
