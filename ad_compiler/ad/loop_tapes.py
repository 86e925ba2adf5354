"""What a loop's forward sweep records for its reverse sweep (reverse mode).

A loop carrying an active value gets a *tape*: a plain list each iteration
appends a row to, walked backwards by the reverse loop.  This module decides
what goes on it -- the modes are documented in docs/control_flow.md §4:

* **store** (:func:`stores`): each iteration pushes, at its end, the values
  its adjoint reads (:func:`kept_values`), but those O(1) to make again
  (:func:`rematerialized`); the reverse loop runs the adjoint alone.  A loop
  around storing loops stores too when it is a recurrence of vectors: its
  inner loops' rows go on tapes of their own (ad/reverse.py's
  ``_sweep_stored_body``);
* **recompute**: an iteration's start is recorded and the iteration is run
  again backwards; an array changed only by ``y[idx] = v`` is *restored on
  reverse* (:func:`restorable`, :func:`undo_records`): only what each write
  overwrote is taped;
* **preaccumulate** (:func:`scalar_recurrence`): a scalar recurrence tapes
  its derivative.

The reverse side (walking the tape, writing the old values back) is in
ad/reverse.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ad_compiler.ad.lists import is_list_eqn, touches_active_list
from ad_compiler.ir import shapes
from ad_compiler.ir.builder import IRBuilder
from ad_compiler.ir.nodes import (
    Eqn,
    For,
    If,
    Var,
    While,
    blocks,
    defined_names,
    iter_eqns,
    own_reads,
)
from ad_compiler.primitives.table import PRIMITIVES


@dataclass
class Tape:
    """What a loop's forward sweep records for its reverse sweep.

    ``pushed``: the names each tape row binds, in order (None: the loop records
    the derivative of a scalar recurrence instead); ``remat``: for a storing
    loop, the values its reverse loop computes again (None: a recomputing
    loop); ``undo``: for each write of a restored array, ``(carried name, the
    setitem, the columns after pushed: index parts, then the old value)``;
    ``loops``: for a storing loop around loops, the records of the loops of
    its body, in order (None for one with no tape); ``bounds``: for a loop
    inside a storing loop, the names of where its rows of one outer iteration
    start and stop on its tape (``len(tape)`` before and after it ran: see
    :func:`_sweep_stored_body`).
    """

    tape: Var
    pushed: tuple | None
    remat: frozenset | None = None
    undo: list = field(default_factory=list)
    loops: list = field(default_factory=list)
    bounds: tuple = ()

    def renamed(self, r) -> "Tape":
        """The record with its names mapped by ``r`` (Var -> Var): the record
        of the same loop in a copy of the body renamed by ``r``."""
        return replace(
            self,
            pushed=tuple(r(v) for v in self.pushed or ()),
            remat=frozenset(r(Var(n)).name for n in self.remat or ()),
            loops=[None if t is None else t.renamed(r) for t in self.loops],
            bounds=tuple(r(v) for v in self.bounds),
        )


def taped(s, active: set) -> bool:
    """Whether loop ``s`` needs a tape: it carries an active value, or reads or
    appends to a list of active items."""
    return any(c.name in active for c in s.carried) or touches_active_list(
        s.body, active
    )


def has_taped_loop(stmts, active: set) -> bool:
    for s in stmts:
        if isinstance(s, (For, While)) and taped(s, active):
            return True
        if isinstance(s, If) and (
            has_taped_loop(s.then, active) or has_taped_loop(s.orelse, active)
        ):
            return True
    return False


def restorable(s, body: tuple, b: IRBuilder) -> dict[str, list]:
    """The arrays a recomputing loop carries that its iteration changes only by
    writes ``y[idx] = v`` in its own block, in one chain from the carried value
    to its next: name -> the chain's ``setitem`` equations, in order.

    Such an array is not recorded whole each iteration ("restore on reverse",
    as Tapenade and ADOL-C do it): the forward sweep records what each write
    overwrites (the old ``y[idx]``, and ``idx``), and the reverse sweep, which
    starts from the array the loop ended with, writes those back, last first,
    to get the array each iteration started from -- time and memory O(what the
    writes touch), not O(the array) per iteration.
    """
    out = {}
    writes = {
        e.ins[0].name: e
        for e in body
        if isinstance(e, Eqn) and e.prim == "setitem" and isinstance(e.ins[0], Var)
    }
    for c, n in zip(s.carried, s.nexts):
        if b.shape(c) in (None, shapes.SCALAR, shapes.TUPLE):
            continue
        chain, v = [], c.name
        while v in writes:
            chain.append(writes[v])
            v = writes[v].out.name
        if chain and isinstance(n, Var) and n.name == v:
            out[c.name] = chain
    return out


def undo_records(body: tuple, restored: dict, b: IRBuilder) -> tuple[tuple, list]:
    """``body`` reading, before each write of a restored array, what the write
    overwrites (a copy: the write may happen in place); and for each write
    ``(carried name, write, columns)``: the columns to push, the index parts
    the iteration computes, then the old value."""
    before = {id(e): c for c, chain in restored.items() for e in chain}
    inside = defined_names(body)
    out, undo = [], []
    for e in body:
        c = before.get(id(e))
        if c is not None:
            parts = e.ins[2:]
            params = tuple((k, v) for k, v in e.params if k != "inplace")
            old = b.namer.temp()
            read = Eqn("getitem", (old,), (e.ins[0],) + parts, e.loc, e.ns, params)
            b.shapes[old.name] = shape_of(read, b)
            out.append(read)
            if b.shape(old) != shapes.SCALAR:
                kept = b.namer.temp()
                b.shapes[kept.name] = b.shape(old)
                out.append(Eqn("copy", (kept,), (old,), e.loc, "np"))
                old = kept
            inner = tuple(a for a in parts if isinstance(a, Var) and a.name in inside)
            undo.append((c, e, inner + (old,)))
        out.append(e)
    return tuple(out), undo


def shape_of(e: Eqn, b: IRBuilder):
    """The abstract shape of ``e``'s result, from its row's shape rule."""
    try:
        return PRIMITIVES[e.prim].shape(
            dict(e.params), *[b.shape(a) for a in e.ins], loc=e.loc
        )
    except Exception:  # (a rule that cannot tell: unknown, as elsewhere)
        return None


# list rows a storing loop may hold: a new list, an append (the buffer keeps
# each item, and the counter is carried, so taped), reads (all but the
# adjoints' own rows, which only the reverse sweep makes)
_STORABLE_LISTS = frozenset(
    {"list_new", "list_append", "list_get", "list_stack", "list_sum", "list_concat"}
)


def stores(s, active: set, b: IRBuilder) -> bool:
    """Whether loop ``s`` keeps on its tape the values its reverse sweep reads
    (*store*) instead of recomputing each iteration (*recompute*).

    An innermost loop stores: its body is straight-line code, so every value
    the reverse body reads was made by one equation of the iteration and can be
    pushed at its end; the reverse loop then runs the adjoint alone, so the
    gradient costs the function once plus its adjoint, and the tape holds what
    a tape-based tool would, O(the function's work).

    A loop around loops stores too when it is a *recurrence of vectors* (an
    RNN's time loop around its layers: see :func:`vector_recurrence`) and its
    inner loops store: the inner loops' rows go on tapes of their own, and each
    outer iteration keeps where its rows are.  Run-time lists made, appended
    to and read inside are kept like any value (a list a later iteration
    appends to is a buffer whose counter is carried, so taped).  Any other
    loop around loops, or around branches, records only what each iteration starts from
    and recomputes it backwards: its inner loops store while one of its
    iterations is reversed, so memory stays that of one outer iteration plus
    the carried values -- a loop making a matrix per iteration would otherwise
    keep every one -- for the price of running the function twice.
    """
    if any(
        isinstance(t, If) or (is_list_eqn(t) and t.prim not in _STORABLE_LISTS)
        for t in all_stmts(s.body)
    ):
        return False
    loops = [t for t in s.body if isinstance(t, (For, While))]
    if not loops:
        return True
    for t in loops:
        if taped(t, active) and (
            scalar_recurrence(t, active) or not stores(t, active, b)
        ):
            return False
    return vector_recurrence(s, b)


def vector_recurrence(s, b: IRBuilder) -> bool:
    """Every value the loop's iterations make, at any depth, is a number or a
    vector of known shape, but for its next state (``s = np.stack(rows)``)
    and the versions of the arrays it writes rows of (``state[2 * i] = h``):
    what its tape keeps per iteration is then of the order of its carried
    state, which recomputing would keep anyway."""
    state = {n.name for n in s.nexts if isinstance(n, Var)}
    for t in all_stmts(s.body):
        if not isinstance(t, Eqn) or t.prim in ("setitem", "print"):
            continue
        for o in t.outs:
            shape = b.shape(o)
            if o.name in state or isinstance(shape, shapes.ListOf):
                continue  # the state itself; a list (its items are made here)
            if t.prim == "shape":
                continue  # a tuple of lengths
            if shape is None or shape == shapes.TUPLE or len(shape) > 1:
                return False
    return True


def kept_values(
    body: tuple, s, b: IRBuilder, outer_written=frozenset()
) -> tuple[tuple, tuple, tuple, frozenset]:
    """``(body, kept, columns)``: the values a storing loop pushes at the end of
    an iteration (every value its body defines: dead-code elimination keeps the
    columns the reverse loop reads), and what is pushed for each.

    A value that may share memory with an array the iteration writes into (a
    row ``y[i - 1]`` of a carried ``y``, a view of it) is pushed as a copy made
    right after the value, before any write: the tape must hold what the value
    was, and the writes may happen in place.  ``outer_written``: the arrays
    the storing loops around this one write into (a row ``y[j]`` of one is
    kept as a copy, not made again from ``y``, which the outer tape would
    then have to hold whole).
    """
    views = written_arrays(body) | set(outer_written)  # what may change
    remat = rematerialized(body, s, b, views)
    out, kept, columns = [], [], []
    for e in body:
        out.append(e)
        if not isinstance(e, Eqn):  # an inner loop: its results, as it left them
            kept += e.carried
            columns += e.carried
            continue
        row = PRIMITIVES[e.prim]
        if e.prim in ("push", "tape") or not e.outs or e.outs[0].name in remat:
            continue
        shares = row.memory == "view" and any(
            isinstance(a, Var) and a.name in views and k not in row.shape_only
            for k, a in enumerate(e.ins)
        )
        for o in e.outs:
            kept.append(o)
            if shares and e.prim != "setitem" and b.shape(o) != shapes.SCALAR:
                views.add(o.name)
                copy = b.namer.temp()
                b.shapes[copy.name] = b.shape(o)
                out.append(Eqn("copy", (copy,), (o,), e.loc, "np"))
                columns.append(copy)
            else:
                columns.append(o)
    return tuple(out), tuple(kept), tuple(columns), remat


def written_arrays(body: tuple) -> set[str]:
    """The arrays ``body`` writes into, at any depth (its inner loops' carried
    arrays and where they start from included): their views may change."""
    out: set[str] = set()
    for e in all_stmts(body):
        if isinstance(e, Eqn) and e.prim == "setitem" and isinstance(e.ins[0], Var):
            out |= {e.ins[0].name, e.out.name}
    loops = [t for t in all_stmts(body) if isinstance(t, (For, While))]
    while True:
        size = len(out)
        for t in loops:
            for c, init, n in zip(t.carried, t.inits, t.nexts):
                if {c.name, getattr(n, "name", None)} & out:
                    out.add(c.name)
                    if isinstance(init, Var):
                        out.add(init.name)
        if len(out) == size:
            return out


def rematerialized(body: tuple, s, b: IRBuilder, written: set) -> frozenset:
    """The values of a storing loop's iteration its reverse loop computes again
    rather than reading them off the tape: those O(1) to make from the index and
    from values made before the loop -- numbers from numbers (``i - 1``), and
    views of arrays the loop does not write (the row ``x[i]``).  A tape of an
    index alone becomes a count (``opt/tapes.py``)."""
    inside = {c.name for c in s.carried} | defined_names(body)
    free = {v.name for v in s.index}
    out: set[str] = set()
    for e in body:
        if not isinstance(e, Eqn) or len(e.outs) != 1:
            continue
        if e.prim in ("push", "tape", "call", "print", "tape_len"):
            continue
        ins = [a for a in e.ins if isinstance(a, Var)]
        if not all(
            a.name in free or a.name in out or a.name not in inside for a in ins
        ):
            continue
        row = PRIMITIVES[e.prim]
        numbers = all(b.shape(a) == shapes.SCALAR for a in ins)
        if b.shape(e.out) == shapes.SCALAR and numbers and not row.effect:
            out.add(e.out.name)
        elif row.memory == "view" and not ({a.name for a in ins} & written):
            out.add(e.out.name)
    return frozenset(out)


def reads(stmts) -> set[str]:
    """Every name read anywhere in ``stmts``."""
    names = set()
    for s in stmts:
        names.update(a.name for a in own_reads(s) if isinstance(a, Var))
        for block in blocks(s):
            names |= reads(block)
    return names


def scalar_recurrence(s, active: set) -> bool:
    """A loop whose only active value is one carried scalar ``c``, updated from
    itself and from inactive values: ``l = 4.0 * l * (1.0 - l)``.

    Its iteration is a function of one variable, so the forward sweep can record
    the derivative ``∂next/∂c`` itself (computed in forward mode alongside the
    iteration) instead of ``c``, and the reverse sweep is one multiplication per
    iteration: local Jacobian preaccumulation, as Tapenade and ADOL-C do it.
    """
    if sum(c.name in active for c in s.carried) != 1:
        return False
    for e in iter_eqns(s.body):
        if is_list_eqn(e):
            return False  # (its tangents would need the lists' own)
        if e.prim == "call" and e.param("custom") is None:
            return False  # a recursive call has no tangent rule in the body
    if any(isinstance(t, (For, While)) for t in all_stmts(s.body)):
        return False
    bound = {v.name for v in s.index + s.carried} | defined_names(s.body)
    outside = reads(s.body) | {a.name for a in s.nexts if isinstance(a, Var)}
    return not ((outside - bound) & active)


def all_stmts(stmts):
    for s in stmts:
        yield s
        for block in blocks(s):
            yield from all_stmts(block)
