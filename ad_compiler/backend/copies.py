"""Copies that nothing needs, dropped from the emitted form.

The IR has value semantics: ``c = copy(v)`` is ``v``.  Rules put copies in so
that a later write can happen in place (the adjoint of ``y[i] = v`` copies the
row ``ȳ[i]`` it reads, then zeroes ``ȳ[i]``); when that write is gone (a reverse
loop's zeroing no later iteration reads, :mod:`ad_compiler.opt.zeroing`), the
copy still costs an allocation per use: ``means_bar[c] += -np.copy(xc_bar[i])``
in a loop over the rows.  Once :mod:`ad_compiler.backend.inplace` has decided
every write, this pass replaces ``c`` by ``v`` where no one can tell:

* no array that ``v`` or ``c`` may share memory with is written in place
  anywhere in the function (sharing is followed, over-approximated, through
  views, loops' carried values and tapes, branches' results, lists and every
  operation that may return or keep its input);
* neither is (or shares memory with) a result of the function: the caller
  gets arrays of its own (:func:`ad_compiler.opt.shaping.own_results`).

Then nothing ever changes the memory ``c`` and ``v`` would share, so every read
sees the values it saw before.  (``np.copy`` of a number is a 0-d array; ``v``
itself is the number: the same value.)

First, a row's adjoint added into and then taken out (:func:`sum_row_reads`:
the adjoint of ``x = s[r]`` followed by that of ``s[r] = ...``)::

    s_bar[r] += g                     v = s_bar[r] + g
    v = s_bar[r].copy()        ->     s_bar[r] = 0.0
    s_bar[r] = 0.0

one new array instead of an add in place, a copy and a view.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.backend.inplace import _eqns, _keeps_reference, _written_here
from ad_compiler.backend.view_adds import _count as _count_reads
from ad_compiler.ir import shape_infer
from ad_compiler.ir.nodes import (
    Eqn,
    For,
    Function,
    If,
    Loop,
    Var,
    map_atoms,
)
from ad_compiler.opt.dce import eliminate_dead_code
from ad_compiler.opt.shape_sources import _map_eqns


def drop_unneeded_copies(fn: Function) -> Function:
    """``fn`` (in emitted form) with each copy no one can tell from its source
    replaced by the source (see the module's docstring)."""
    fn = sum_row_reads(fn)
    copies = [e for e in _eqns(fn.body) if e.prim == "copy" and len(e.ins) == 1]
    if not copies:
        return fn
    env = shape_infer.infer(fn)
    group = _Aliases()
    _alias(fn.body, group, env)
    touched = {group.find(n) for s in fn.body for n in _written_here(s)}
    touched |= {group.find(a.name) for a in fn.results if isinstance(a, Var)}
    # (a parameter of an array's shape may be a list: list.copy() is a list)
    inputs = {group.find(p.name) for p in fn.params}
    subst, arrays = {}, set()
    for e in copies:
        v = e.ins[0]
        if not isinstance(v, Var):
            continue
        if group.find(v.name) in touched or group.find(e.out.name) in touched:
            shape = env.get(v.name)
            made = group.find(v.name) not in inputs  # by NumPy: an ndarray
            if made and isinstance(shape, tuple) and shape and not e.param("method"):
                arrays.add(e.out.name)
            continue
        subst[e.out.name] = v
    if not subst and not arrays:
        return fn

    def sub(a):
        while isinstance(a, Var) and a.name in subst:
            a = subst[a.name]
        return a

    body = _as_methods(map_atoms(fn.body, sub), arrays)
    return eliminate_dead_code(replace(fn, body=body))


def _as_methods(stmts, arrays: set) -> tuple:
    """The copies of known arrays (at least one axis) spelled ``x.copy()``: the
    same array as ``np.copy(x)``, without its wrapper (a microsecond a call)."""

    def respell(e):
        if e.prim == "copy" and e.out.name in arrays:
            return replace(e, params=tuple(sorted(e.params + (("method", True),))))
        return e

    return _map_eqns(stmts, respell)


class _Aliases:
    """Union-find over names: two names in one set may share memory."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        root = name
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while name != root:  # path compression
            self.parent[name], name = root, self.parent.get(name, name)
        return root

    def union(self, *atoms) -> None:
        names = [a.name for a in atoms if isinstance(a, Var)]
        for other in names[1:]:
            a, b = self.find(names[0]), self.find(other)
            if a != b:
                self.parent[b] = a


def _alias(stmts, group: _Aliases, env: dict) -> None:
    """Join the names each statement may make share memory."""
    for s in stmts:
        if isinstance(s, If):
            for o, t, e in zip(s.outs, s.then_vals, s.else_vals):
                group.union(o, t, e)
            _alias(s.then, group, env)
            _alias(s.orelse, group, env)
        elif isinstance(s, Loop):
            for c, i, n in zip(s.carried, s.inits, s.nexts):
                group.union(c, i, n)
            if isinstance(s, For):  # a tape's items, a tuple's items
                group.union(*s.index, *s.args)
            if getattr(s, "test", None):
                _alias(s.test, group, env)
            _alias(s.body, group, env)
        else:
            written = s.param("inplace") or s.param("into")
            # (a push, a list's append: no result; the tape or list keeps it)
            holders = s.outs or s.ins[:1]
            for i, a in enumerate(s.ins):
                if (written and i == 0) or _keeps_reference(s, i, env):
                    group.union(a, *holders)


def sum_row_reads(fn: Function) -> Function:
    """``v = t[i] + g`` for ``t[i] += g; v = t[i].copy()`` where ``t[i]`` is
    zeroed (or overwritten) next: the four statements in a row,

    * ``u = t + (g at i)`` in place (``t[i] += g``, every index part a number),
    * ``w = u[i]``, read by nothing else,
    * ``v = copy(w)``,
    * ``u' = u with u[i] = z``, the only other read of ``u``,

    become ``w = t[i]``, ``v = w + g``, ``u' = t with t[i] = z`` (in place as
    it was).  The same values: ``t[i] + g`` where the add in place broadcast
    ``g`` into the row, a new array as the copy was; ``t`` is written only
    by the last statement, after ``v`` was made.
    """
    reads: dict[str, int] = {}
    _count_reads(fn.body, reads)
    body = _sum_rows_in(fn.body, reads)
    return fn if body is fn.body else replace(fn, body=body)


def _sum_rows_in(stmts, reads: dict) -> tuple:
    out = []
    changed = False
    for s in stmts:
        if isinstance(s, If):
            then, orelse = _sum_rows_in(s.then, reads), _sum_rows_in(s.orelse, reads)
            changed |= then is not s.then or orelse is not s.orelse
            out.append(replace(s, then=then, orelse=orelse))
        elif isinstance(s, Loop):
            body = _sum_rows_in(s.body, reads)
            changed |= body is not s.body
            out.append(replace(s, body=body))
        else:
            out.append(s)
    k = 0
    while k + 3 < len(out):
        found = _row_read(out[k : k + 4], reads)
        if found is None:
            k += 1
            continue
        out[k : k + 4] = found
        changed = True
        k += 3
    return tuple(out) if changed else stmts


def _row_read(four: list, reads: dict):
    add, read, copy, zero = four
    if not all(isinstance(s, Eqn) for s in four):
        return None
    if add.prim != "unindex" or add.param("into") != "+=":
        return None
    u, (t, g, *parts) = add.out, add.ins
    index = add.param("index")
    if read.prim != "getitem" or read.ins != (u, *parts):
        return None
    if read.param("index") != index or reads.get(read.out.name) != 1:
        return None
    if copy.prim != "copy" or copy.ins != (read.out,):
        return None
    if (
        zero.prim != "setitem"
        or zero.ins[0] != u
        or tuple(zero.ins[2:]) != tuple(parts)
    ):
        return None
    if zero.param("index") != index or reads.get(u.name) != 2:
        return None
    new_read = read.with_ins((t, *parts))
    total = Eqn("add", copy.outs, (read.out, g), copy.loc, "np")
    return [new_read, total, zero.with_ins((t,) + zero.ins[1:])]
