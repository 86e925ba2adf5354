"""Dead-code elimination: drop every equation no result needs
(:func:`eliminate_dead_code`), and the tape columns no reverse loop reads."""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir.nodes import (
    Eqn,
    Function,
    If,
    Loop,
    Var,
    While,
    iter_eqns,
    loop_reads,
)
from ad_compiler.primitives.lists import MUTATORS as LIST_MUTATORS
from ad_compiler.primitives.table import PRIMITIVES


def eliminate_dead_code(fn: Function) -> Function:
    """Drop every equation whose outputs no result needs (and unused If outputs).

    A loop keeps the carried values that are needed after it or by the part of
    its body that is kept; a tape keeps only the columns its reverse loop reads.
    """
    live = {a.name for a in fn.results if isinstance(a, Var)}
    body = _dce_block(fn.body, live, {})
    if len(body) == len(fn.body) and all(a is b for a, b in zip(body, fn.body)):
        return fn
    return replace(fn, body=body)


def _dce_block(stmts, live: set, columns: dict) -> tuple:
    """Keep what ``live`` needs, walking backwards; ``live`` gains what the kept read.

    ``columns[tape]`` lists the positions of each ``push`` to that tape that its
    reverse loop reads (the loop comes after the push, so is seen first).
    """
    keep = []
    for s in reversed(stmts):
        if isinstance(s, Loop):
            s = _dce_loop(s, live, columns)
            if s is not None:
                keep.append(s)
            continue
        if isinstance(s, Eqn) and s.prim == "print":  # the user's: always kept
            keep.append(s)
            live.update(a.name for a in s.ins if isinstance(a, Var))
            continue
        if isinstance(s, Eqn) and PRIMITIVES[s.prim].effect and not s.outs:
            tape = s.ins[0].name
            if tape in live:
                kept = columns.get(tape)
                if kept is not None and len(kept) < len(s.ins) - 1:
                    s = s.with_ins((s.ins[0],) + tuple(s.ins[1 + k] for k in kept))
                keep.append(s)
                live.update(a.name for a in s.ins if isinstance(a, Var))
            continue
        if isinstance(s, If):
            used = [i for i, o in enumerate(s.outs) if o.name in live]
            branch_live = set(live)
            tv = tuple(s.then_vals[i] for i in used)
            ev = tuple(s.else_vals[i] for i in used)
            then_live = branch_live | {a.name for a in tv if isinstance(a, Var)}
            else_live = branch_live | {a.name for a in ev if isinstance(a, Var)}
            then = _dce_block(s.then, then_live, columns)
            orelse = _dce_block(s.orelse, else_live, columns)
            if not used and not then and not orelse:
                continue
            live |= then_live | else_live
            if isinstance(s.cond, Var):
                live.add(s.cond.name)
            same = len(used) == len(s.outs) and then is s.then and orelse is s.orelse
            outs = tuple(s.outs[i] for i in used)
            keep.append(s if same else If(s.cond, then, orelse, outs, tv, ev, s.loc))
            continue
        if any(o.name in live for o in s.outs):
            keep.append(s)
            live.update(a.name for a in s.ins if isinstance(a, Var))
    keep.reverse()
    result = tuple(keep)
    if len(result) == len(stmts) and all(a is b for a, b in zip(result, stmts)):
        return stmts
    return result


def _dce_loop(s, live: set, columns: dict):
    """The loop with only what is needed, or None; ``live`` gains what it reads."""
    needed = {k for k, c in enumerate(s.carried) if c.name in live}
    # lists the body adds into and also reads: what an iteration adds, the
    # next one may read (they are live at the end of the body too)
    targets = {e.ins[0].name for e in iter_eqns(s.body) if e.prim in LIST_MUTATORS}
    extra: set = set()
    while True:
        inner = set(live) | extra
        inner.update(
            a.name for k in needed for a in (s.nexts[k],) if isinstance(a, Var)
        )
        if s.brk is not None and isinstance(s.brk, Var):
            inner.add(s.brk.name)
        body = _dce_block(s.body, inner, columns)
        more = {k for k, c in enumerate(s.carried) if c.name in inner} - needed
        grown = (inner & targets) - extra - live
        if not more and not grown:
            break
        needed |= more
        extra |= grown
    if not needed and not body:
        return None
    test = s.test
    if isinstance(s, While):
        if isinstance(s.cond, Var):
            inner.add(s.cond.name)
        test = _dce_block(s.test, inner, columns)
    more = {k for k, c in enumerate(s.carried) if c.name in inner} - needed
    if more:  # the test reads them
        needed |= more
        wider = live | {s.carried[k].name for k in needed}
        kept = _dce_loop(s, wider, columns)
        live |= wider
        return kept
    index = s.index
    if s.over == "tape":
        kept = [k for k, v in enumerate(s.index) if v.name in inner] or [0]
        columns[s.args[0].name] = kept
        index = tuple(s.index[k] for k in kept)
    order = sorted(needed)
    fields = dict(
        carried=tuple(s.carried[k] for k in order),
        inits=tuple(s.inits[k] for k in order),
        nexts=tuple(s.nexts[k] for k in order),
        body=body,
    )
    if isinstance(s, While):
        fields["test"] = test
    else:
        fields["index"] = index
    s = _replace_if_changed(s, fields)
    live |= inner
    live.update(a.name for a in loop_reads(s) if isinstance(a, Var))
    return s


def _replace_if_changed(s, fields: dict):
    """``s`` itself if every field is what it was (so a pass can report no change)."""

    def same(a, b):
        if isinstance(a, tuple) and isinstance(b, tuple):
            return len(a) == len(b) and all(x is y for x, y in zip(a, b))
        return a is b

    if all(same(v, getattr(s, k)) for k, v in fields.items()):
        return s
    return replace(s, **fields)
