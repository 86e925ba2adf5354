"""Tapes that only count iterations become counts (:func:`untape_counters`)."""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    For,
    Function,
    If,
    Loop,
    Namer,
    Var,
    blocks,
    body_reads,
    map_atoms,
    own_reads,
)


def untape_counters(fn: Function) -> Function:
    """Tapes that only count iterations become counts.

    A tape recording nothing but a ``range`` loop's index is that range,
    reversed: the reverse loop runs ``for i in reversed(range(a, b, c))`` and the
    forward loop (then empty) and its tape go; only for a loop without
    ``break``, whose iterations are exactly its range.  A tape whose reverse loop
    reads nothing from it (a ``while`` loop whose adjoint needs no recorded value)
    becomes a carried counter, ``n_1 = n_1 + 1``, and ``reversed(range(n_1))``.
    """
    counters = {}  # tape name -> the forward loop pushing only its index
    pushers = {}  # tape name -> the forward loop pushing at the top of its body
    unread = set()  # tapes whose reverse loop reads none of what they hold

    constants = {}  # tapes of constants only: tape name -> what each push holds

    def scan(stmts):
        for s in stmts:
            push = _top_push(s)
            if push is not None:
                pushers[push.ins[0].name] = s
                simple = isinstance(s, For) and s.over == "range" and s.brk is None
                if simple and push.ins[1:] == s.index:
                    counters[push.ins[0].name] = s
                if all(isinstance(a, Const) for a in push.ins[1:]):
                    constants[push.ins[0].name] = push.ins[1:]
            if isinstance(s, For) and s.over == "tape":
                if not {v.name for v in s.index} & _names_read(s.body, body_reads(s)):
                    unread.add(s.args[0].name)
                elif s.args[0].name in constants:
                    unread.add(s.args[0].name)
            for block in blocks(s):
                scan(block)

    scan(fn.body)
    for t in _sliced(fn.body):  # rows of one outer iteration: see _sliced
        counters.pop(t, None)
        unread.discard(t)
    counted = {t: pushers[t] for t in unread if t in pushers and t not in counters}
    if not counters and not counted:
        return fn
    namer = Namer.for_function(fn)
    changed = {}  # id(forward loop) -> (the loop rewritten, its reverse's range)
    for tape, s in counters.items():
        changed[id(s)] = (replace(s, body=_without_push(s)), s.args)
    for tape, s in counted.items():
        n, n_next = namer.fresh("iterations"), namer.temp()
        step = Eqn("add", (n_next,), (n, Const(1)), s.loc)
        loop = replace(
            s,
            body=_without_push(s) + (step,),
            carried=s.carried + (n,),
            inits=s.inits + (Const(0),),
            nexts=s.nexts + (n_next,),
        )
        changed[id(s)] = (loop, (Const(0), n, Const(1)))
    ranges = {t: changed[id(s)][1] for t, s in {**counters, **counted}.items()}

    def rewrite(stmts):
        out = []
        for s in stmts:
            if id(s) in changed:
                s = changed[id(s)][0]
            elif isinstance(s, For) and s.over == "tape" and s.args[0].name in ranges:
                tape = s.args[0].name
                if tape in constants:  # what the tape held is known: use it
                    held = dict(zip((v.name for v in s.index), constants[tape]))
                    s = replace(
                        s,
                        body=map_atoms(
                            s.body, lambda a: held.get(getattr(a, "name", None), a)
                        ),
                        nexts=tuple(
                            held.get(getattr(a, "name", None), a) for a in s.nexts
                        ),
                        index=s.index[:1],
                    )
                s = replace(s, over="reversed_range", args=ranges[tape])
            fields = {}
            if isinstance(s, If):
                fields = {"then": rewrite(s.then), "orelse": rewrite(s.orelse)}
            elif isinstance(s, Loop):
                fields = {"body": rewrite(s.body)}
            out.append(replace(s, **fields) if fields else s)
        return tuple(out)

    return replace(fn, body=rewrite(fn.body))


def _top_push(s):
    """The ``push`` at the top level of a loop's body, if any."""
    if isinstance(s, Loop):
        for e in s.body:
            if isinstance(e, Eqn) and e.prim == "push":
                return e
    return None


def _without_push(s) -> tuple:
    return tuple(e for e in s.body if not (isinstance(e, Eqn) and e.prim == "push"))


def _names_read(stmts, extra=()) -> set[str]:
    names = {a.name for a in extra if isinstance(a, Var)}
    for s in stmts:
        names.update(a.name for a in own_reads(s) if isinstance(a, Var))
        for block in blocks(s):
            names |= _names_read(block)
    return names


def _sliced(stmts) -> set[str]:
    """The tapes walked a slice at a time (an inner loop of a storing loop,
    ``reversed(tape[start:stop])``): their forward loop's range, or a counter
    it carries, is that of the last outer iteration only, so they stay tapes."""
    out = set()
    for s in stmts:
        if isinstance(s, For) and s.over == "tape" and len(s.args) > 1:
            out.add(s.args[0].name)
        for block in blocks(s):
            out |= _sliced(block)
    return out
