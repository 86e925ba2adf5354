"""Adjoints of chains of basic indexing added straight into the array they end in.

The adjoint of ``w = P[j]`` followed by reads of slices of ``w`` (``w[a:b]``,
``w[c:d]`` ...) is, once :mod:`ad_compiler.backend.inplace` has marked what it
can write in place::

    t = _unindex(w, np.s_[a:b], g)   # zeros of w's size, g at a:b
    t[c:d] += h
    P_bar[j] += t

a temporary of ``w``'s size made, filled and added.  This pass writes each
piece into ``P_bar``'s row itself, with no temporary::

    P_bar[j, a:b] += g
    P_bar[j, c:d] += h

The same sums: ``P_bar[j] + (zeros with g at a:b, h added at c:d)`` and
``(P_bar[j] + g at a:b) + h at c:d`` differ only where the pieces overlap, by
the order of two floating-point additions.  The rewrite is made only where it
is exact in every other respect:

* the last add is in place (``P_bar`` is an array the sweep owns) and its
  index ``j`` is all numbers: ``P_bar[j]`` is then a view, and
  ``P_bar[j][i] == P_bar[j, i]`` for any basic index ``i``;
* ``w`` is ``X[j]`` with the same ``j`` and an ``X`` of ``P_bar``'s abstract
  shape (both without unknown axes: equal shapes, or the add would have
  raised), so the temporary had the shape of ``P_bar[j]`` and broadcast
  nothing into it;
* every index of the chain is basic -- numbers, slices, ``None``, ``...`` --
  so no place is named twice (an index array's repeats must each add:
  ``np.add.at``, left alone), and each temporary is read only by the next
  write of the chain;
* moving a piece's read of ``g`` from where the temporary was filled to where
  the add is changes nothing: no statement in between writes in place into an
  array ``g`` may share memory with, and ``g`` is no view of ``P_bar``.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.backend.inplace import _eqns, _views, _written_here
from ad_compiler.ir import shape_infer, shapes
from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    Function,
    If,
    Loop,
    Namer,
    Var,
    While,
    blocks,
    own_reads,
)
from ad_compiler.opt.dce import eliminate_dead_code
from ad_compiler.opt.shape_sources import _flat_map


def add_through_views(fn: Function) -> Function:
    """``fn`` (in emitted form) with the chains above added into the array
    itself; the same values (see the module's docstring)."""
    if not any(e.prim == "unindex" and e.param("into") for e in _eqns(fn.body)):
        return fn
    env = shape_infer.infer(fn)
    reads: dict[str, int] = {}
    _count(fn.body, reads)
    for a in fn.results:
        if isinstance(a, Var):
            reads[a.name] = reads.get(a.name, 0) + 1
    facts = _Facts(env, reads, _views(fn.body, env), Namer.for_function(fn))
    facts.defs = {o.name: s for s in _eqns(fn.body) for o in s.outs}
    body = _block(fn.body, facts)
    if not facts.changed:
        return fn
    return eliminate_dead_code(replace(fn, body=body))


class _Facts:
    def __init__(self, env, reads, views, namer):
        self.env, self.reads, self.views, self.namer = env, reads, views, namer
        self.defs: dict[str, Eqn] = {}
        self.changed = False


def _count(stmts, reads: dict) -> None:
    for s in stmts:
        for a in own_reads(s):
            if isinstance(a, Var):
                reads[a.name] = reads.get(a.name, 0) + 1
        for block in blocks(s):
            _count(block, reads)


def _block(stmts, facts: _Facts) -> tuple:
    """The block with its chains (and those of the blocks in it) rewritten."""
    out = []
    for s in stmts:
        if isinstance(s, If):
            s = replace(s, then=_block(s.then, facts), orelse=_block(s.orelse, facts))
        elif isinstance(s, While):
            s = replace(s, test=_block(s.test, facts), body=_block(s.body, facts))
        elif isinstance(s, Loop):
            s = replace(s, body=_block(s.body, facts))
        out.append(s)
    k = 0
    while k < len(out):
        s = out[k]
        members = _chain(out, k, facts)
        if members is None:
            k += 1
            continue
        pieces = _pieces(s, members, facts)
        out = [t for t in out if not any(t is m for m in members)]
        k = next(i for i, t in enumerate(out) if t is s)
        out[k : k + 1] = pieces
        k += len(pieces)  # (a later add may take the last piece as its chain)
        facts.changed = True
    return tuple(out)


def _number(a, facts: _Facts) -> bool:
    if isinstance(a, Const):
        return type(a.value) is int
    return isinstance(a, Var) and facts.env.get(a.name) == shapes.SCALAR


def _basic(layout, parts, facts: _Facts) -> bool:
    """Whether an index names no place twice: numbers, slices, None, ``...``."""
    parts = list(parts)
    for item in layout:
        if item == "a":
            if not _number(parts.pop(0), facts):
                return False
        elif isinstance(item, tuple):  # a slice: its bounds are numbers or fail
            del parts[: sum(item[1:])]
    return True


def _chain(stmts: list, k: int, facts: _Facts) -> list | None:
    """The writes into the temporary that statement ``k`` (``T[j] += t``) adds,
    in program order, if the rewrite is exact (see the module's docstring)."""
    s = stmts[k]
    if not isinstance(s, Eqn) or s.prim != "unindex" or s.param("into") != "+=":
        return None
    j, parts = s.param("index"), s.ins[2:]
    if any(item != "a" for item in j) or not all(_number(a, facts) for a in parts):
        return None
    target, u = s.ins[0], s.ins[1]
    position = {id(t): i for i, t in enumerate(stmts)}
    members: list[Eqn] = []
    while True:
        e = facts.defs.get(u.name) if isinstance(u, Var) else None
        if e is None or e.prim != "unindex" or id(e) not in position:
            return None  # (a temporary of another block: left alone)
        if facts.reads.get(u.name) != 1 or set(dict(e.params)) - {"index", "into"}:
            return None
        if not _basic(e.param("index"), e.ins[2:], facts):
            return None
        members.append(e)
        if not e.param("into"):
            break  # the temporary's zeros
        if e.param("into") != "+=":
            return None
        u = e.ins[0]
    members.reverse()
    if not _rows_alike(members[0].ins[0], target, s, facts):
        return None
    chain = {id(m) for m in members}
    for m in members:
        moved = set()
        for a in m.ins[1:]:
            if isinstance(a, Var):
                moved |= {a.name, *facts.views.get(a.name, ())}
        if target.name in moved:
            return None  # g reads the array added into
        between = stmts[position[id(m)] + 1 : k]
        if any(_written_here(t) & moved for t in between if id(t) not in chain):
            return None
    return members


def _rows_alike(w, target, s: Eqn, facts: _Facts) -> bool:
    """Whether the temporary's shape source ``w`` is ``X[j]`` (``j`` the add's
    index) for an ``X`` of the target's abstract shape, with no unknown axis."""
    source = facts.defs.get(w.name) if isinstance(w, Var) else None
    if source is None or source.prim != "getitem":
        return False
    if source.param("index") != s.param("index") or source.ins[1:] != s.ins[2:]:
        return False
    x = source.ins[0]
    shape = facts.env.get(target.name)
    if shape is None or shape == shapes.TUPLE or shapes.ANY in shape:
        return False
    return isinstance(x, Var) and facts.env.get(x.name) == shape


def _pieces(s: Eqn, members: list, facts: _Facts) -> list[Eqn]:
    """``T[j, i] += g`` for each write ``t[i] += g`` of the chain, in order; the
    last one has the add's output."""
    j, parts = s.param("index"), s.ins[2:]
    out, into = [], s.ins[0]
    for n, m in enumerate(members):
        last = n == len(members) - 1
        o = s.out if last else facts.namer.temp()
        params = (("index", j + m.param("index")), ("into", "+="))
        ins = (into, m.ins[1]) + parts + m.ins[2:]
        piece = Eqn("unindex", (o,), ins, m.loc, m.ns, params)
        facts.defs[o.name] = piece
        if not last:
            facts.reads[o.name] = 1
        out.append(piece)
        into = o
    return out


def zeros_then_write(fn: Function) -> Function:
    """``t = np.zeros(x.shape)`` and ``t[i] = g`` for each ``t = _unindex(x,
    np.s_[i], g)`` left (not added into an array) where ``x`` is an array and
    ``i`` basic: what the helper does, without the call, its checks and the
    ``np.s_`` object (a microsecond in a loop of small arrays), and reads as
    what it is.  An index that may name a place twice keeps the helper (its
    ``np.add.at``), and so does the lazy form (its zeros follow ``g``'s
    library, :mod:`ad_compiler.backend.lazy_form`)."""
    if fn.lazy or not any(_plain_unindex(e) for e in _eqns(fn.body)):
        return fn
    env = shape_infer.infer(fn)
    facts = _Facts(env, {}, {}, Namer.for_function(fn))

    def rewrite(e: Eqn) -> tuple:
        if not _plain_unindex(e):
            return (e,)
        x, g, *parts = e.ins
        shape = env.get(x.name) if isinstance(x, Var) else None
        if not isinstance(shape, tuple) or not shape or shape == shapes.TUPLE:
            return (e,)  # a number, or not known to be an array
        if not _basic(e.param("index"), parts, facts):
            return (e,)
        size, zeros = facts.namer.temp(), facts.namer.temp()
        made = (("args", (("", -1),)), ("fn", "zeros"))
        written = (("index", e.param("index")), ("inplace", True))
        return (
            Eqn("shape", (size,), (x,), e.loc, "np"),
            Eqn("construct", (zeros,), (size,), e.loc, "np", made),
            Eqn("setitem", e.outs, (zeros, g, *parts), e.loc, e.ns, written),
        )

    return replace(fn, body=_flat_map(fn.body, rewrite))


def _plain_unindex(e) -> bool:
    return (
        isinstance(e, Eqn) and e.prim == "unindex" and set(dict(e.params)) == {"index"}
    )
