"""Derivatives of run-time lists (the rows of :mod:`ad_compiler.primitives.lists`).

Forward mode: a list ``xs`` whose items depend on an input gets a list of
tangents ``xs_dot`` built alongside it: made where ``xs`` is made (a zero,
shaped like the item, for an item without a tangent), appended to where ``xs``
is (``xs_dot.append(v_dot)``), read where ``xs`` is read (the row's tangent
rule).  Which lists need one is known before the walk (``mark_active`` over
the whole function, stored under :data:`LISTS` in the tangent dict), since an
item with a tangent may be appended long after the list was made.

Reverse mode: a list's adjoint is a list ``xs_bar`` of the items' adjoints,
changed in place (it is never carried by a loop nor merged by an ``if``: it
is one object for the whole reverse sweep of the block that made ``xs``).
:func:`open_adjoints` makes it, as zeros shaped like the items, where the
reverse sweep of that block starts (then ``xs`` holds every item the block
appended); each read adds into it; the adjoint of an append at position
``n`` reads ``xs_bar[n]``.  A loop's recomputed iteration does not append
again (:func:`without_outer_appends`): the buffer already holds the item.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.errors import CompileError
from ad_compiler.ir.nodes import Const, Eqn, If, Var, defined_names, iter_eqns
from ad_compiler.primitives.lists import LIST_ROWS, MAKERS, MUTATORS

LISTS = "<lists>"  # the tangent dict's key for the lists that get tangents

_ADD_FOR = {
    "list_get": "list_add_at",
    "list_stack": "list_add_rows",
    "list_sum": "list_add_all",
    "list_concat": "list_add_pieces",
}


def is_list_eqn(s) -> bool:
    return isinstance(s, Eqn) and s.prim in LIST_ROWS


# --- forward ---------------------------------------------------------------------------
def jvp_list(eqn: Eqn, b, tangent: dict) -> None:
    """Emit ``eqn`` and the same operation on the tangent lists."""
    b.emit(eqn)
    wanted = tangent.get(LISTS, set())
    dot = lambda a: tangent.get(a.name) if isinstance(a, Var) else None  # noqa: E731
    with b.at(eqn.loc, eqn.ns):
        if eqn.prim == "list_new":
            dins = [dot(a) for a in eqn.ins]
            if eqn.out.name not in wanted and all(d is None for d in dins):
                return
            filled = [
                _zero_like(b, a) if d is None else d for a, d in zip(eqn.ins, dins)
            ]
            out = b.apply("list_new", *filled)
            b.shapes[out.name] = b.shape(eqn.out)  # (with the items appended later)
        elif eqn.prim == "list_zeros":
            if eqn.out.name not in wanted:
                return
            out = b.apply("list_zeros", eqn.ins[0])
        elif eqn.prim in MUTATORS:
            at = 2 if eqn.prim == "list_add_at" else 1  # (bar, i, g): g at 2
            target, d = dot(eqn.ins[0]), dot(eqn.ins[at])
            if target is None:
                if d is not None:  # (mark_active makes this unreachable)
                    raise CompileError(
                        "internal error: an item with a tangent appended to a list "
                        "without one",
                        eqn.loc,
                    )
                return
            if d is None:
                if eqn.prim != "list_append":
                    return  # adding a zero
                d = _zero_like(b, eqn.ins[1])
            ins = list(eqn.ins)
            ins[0], ins[at] = target, d
            b.emit(Eqn(eqn.prim, (), tuple(ins), eqn.loc, eqn.ns, eqn.params))
            return
        else:  # a read: the same read of the tangents
            d = dot(eqn.ins[0])
            if d is None:
                return
            out = b.apply(eqn.prim, d, *eqn.ins[1:], **dict(eqn.params))
    tangent[eqn.out.name] = b.bind(out, f"{eqn.out.name}_dot")


def _zero_like(b, a):
    """A zero tangent of the item ``a``: ``0.0``, or zeros of its shape."""
    with b.at(b.loc, "np"):
        return b.zeros(a)


def wanted_lists(stmts, active: set) -> set:
    """The lists (their buffers' names) among ``active``."""
    return {
        e.out.name
        for e in iter_eqns(stmts)
        if e.prim in MAKERS and e.out.name in active
    }


# --- reverse ---------------------------------------------------------------------------
def open_adjoints(stmts, b, adjoint: dict, active: set) -> None:
    """``xs_bar = [np.zeros_like(v) for v in xs]`` for each active list made
    directly in ``stmts``: where the reverse sweep of ``stmts`` starts."""
    for s in stmts:
        if isinstance(s, Eqn) and s.prim in MAKERS and s.out.name in active:
            if s.prim == "list_zeros":
                raise CompileError(
                    "reverse mode of a derivative that holds a list of adjoints "
                    "(reverse over reverse) is not supported",
                    s.loc,
                    hint="use forward over reverse: hessian(f), or jacfwd(grad(f))",
                )
            with b.at(s.loc, "np"):
                bar = b.apply("list_zeros", s.out)
            adjoint[s.out.name] = b.bind(bar, f"{s.out.name}_bar")


def vjp_list(eqn: Eqn, b, adjoint: dict, active: set) -> None:
    """The adjoint of one list row (see the module docstring)."""
    if eqn.prim in MAKERS:
        bar = adjoint.pop(eqn.out.name, None)
        if bar is None or eqn.prim != "list_new":
            return
        with b.at(eqn.loc):
            for k, a in enumerate(eqn.ins):
                if isinstance(a, Var) and a.name in active:
                    ct = b.apply("list_get", bar, Const(k))
                    adjoint[a.name] = b.add(adjoint.get(a.name), ct)
        return
    if eqn.prim == "list_append":
        buf, v, n = eqn.ins
        bar = adjoint.get(buf.name)
        if bar is None or not (isinstance(v, Var) and v.name in active):
            return
        with b.at(eqn.loc):
            ct = b.apply("list_get", bar, n)
            adjoint[v.name] = b.add(adjoint.get(v.name), ct)
        return
    if eqn.prim in MUTATORS:
        raise CompileError(
            "reverse mode of a derivative that holds a list of adjoints "
            "(reverse over reverse) is not supported",
            eqn.loc,
            hint="use forward over reverse: hessian(f), or jacfwd(grad(f))",
        )
    g = adjoint.pop(eqn.out.name, None)
    buf = eqn.ins[0]
    bar = adjoint.get(buf.name) if isinstance(buf, Var) else None
    if g is None or bar is None:
        return
    if eqn.prim in ("list_stack", "list_concat"):
        with b.at(eqn.loc, "np"):  # (a number standing for an array: spread)
            g = b.like(g, eqn.out)
    g = b.bind(g, f"{eqn.out.name}_bar")
    add = _ADD_FOR[eqn.prim]
    params = tuple(kv for kv in eqn.params if kv[0] == "lead")
    if eqn.prim == "list_get":
        ins = (bar, eqn.ins[1], g)
    elif eqn.prim == "list_stack":
        ins = (bar, g)
    elif eqn.prim == "list_sum":
        ins = (bar, g, eqn.ins[1])
    else:
        ins = (bar, g, buf, eqn.ins[1])
    b.emit(Eqn(add, (), ins, eqn.loc, "np", params))


def outer_lists(stmts) -> frozenset:
    """The lists ``stmts`` append to that were made before them."""
    appended = {e.ins[0].name for e in iter_eqns(stmts) if e.prim == "list_append"}
    return frozenset(appended - defined_names(stmts))


def without_appends(s, skip: frozenset):
    """Statement ``s`` without its appends to the lists ``skip``: a recomputed
    iteration finds its items there already (``s`` itself if it has none)."""
    if isinstance(s, Eqn) or not any(
        e.prim == "list_append" and e.ins[0].name in skip for e in iter_eqns((s,))
    ):
        return s
    if isinstance(s, If):
        return replace(
            s,
            then=without_outer_appends(s.then, skip),
            orelse=without_outer_appends(s.orelse, skip),
        )
    return replace(s, body=without_outer_appends(s.body, skip))


def without_outer_appends(stmts, skip: frozenset) -> tuple:
    """``stmts`` without their appends to the lists ``skip`` (see
    :func:`without_appends`)."""
    out = []
    for s in stmts:
        if not (
            isinstance(s, Eqn) and s.prim == "list_append" and s.ins[0].name in skip
        ):
            out.append(without_appends(s, skip))
    return tuple(out)


def touches_active_list(stmts, active: set) -> bool:
    """Whether ``stmts`` read or append to a list with active items (a loop
    doing so needs its tape even when nothing active is carried)."""
    return any(
        e.prim in LIST_ROWS
        and e.ins
        and isinstance(e.ins[0], Var)
        and e.ins[0].name in active
        for e in iter_eqns(stmts)
    )
