"""Forward mode: IR -> tangent IR (Jacobian-vector product).

For every equation ``v = p(u1, …, uk)`` the tangent function also computes
``v_dot = Σ_j ∂p/∂u_j · u_j_dot`` (the seeds' v̇ᵢ = Σ_{j∈pa(i)} v̇ⱼ ∂vᵢ/∂vⱼ), right
after it, using the primitive's tangent rule from :mod:`ad_compiler.ad.rules`.

Given ``def f(x1, x2): … return y`` and ``wrt=(0,)`` the result is
``def f_jvp(x1, x2, x1_dot): … return y, y_dot``.

Branches compute tangents inside each arm and merge them like the values; loops
carry a tangent beside each carried value that depends on an input; a call of a
recursive function becomes a call of its emitted tangent function.

Guarantees: primal and tangent equations are interleaved in program order;
tangents are named ``<value>_dot``; a value that does not depend on a ``wrt``
input has no tangent (a symbolic zero) and costs nothing; a result with a zero
tangent returns the literal ``0.0``.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ad.lists import LISTS, is_list_eqn, jvp_list, wanted_lists
from ad_compiler.ad.rules import tangent as tangent_rule
from ad_compiler.ir import shape_infer, shapes
from ad_compiler.ir.builder import IRBuilder
from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    For,
    Function,
    If,
    Namer,
    Var,
    While,
    mark_active,
    shift_tree,
    verify,
)
from ad_compiler.primitives.composites import PRIMAL_BY_EXPANSION


def jvp(fn: Function, wrt: tuple[int, ...]) -> Function:
    """The tangent function of ``fn`` with respect to the parameters at ``wrt``."""
    namer = Namer.for_function(fn)
    b = IRBuilder(namer, shape_infer.infer(fn) if fn.param_shapes else None)
    # TAPED: the tapes whose pushes carry tangents too (shared by every copy of
    # the dict, as a push in a loop body is read back by a loop after it)
    tangent: dict[str, object] = {TAPED: set()}
    dot_params = []
    for i in wrt:
        p = fn.params[i]
        dot = namer.fresh(f"{p.name}_dot")
        tangent[p.name] = dot
        dot_params.append(dot)
    active = {fn.params[i].name for i in wrt}
    mark_active(fn.body, active)
    tangent[LISTS] = wanted_lists(fn.body, active)  # the lists with tangents
    jvp_block(fn.body, b, tangent)
    dots = []
    for r in fn.results:
        d = tangent.get(r.name) if isinstance(r, Var) else None
        with b.at(fn.loc, "np"):  # y's shape, as an array of its own
            d = b.zeros(r) if d is None else b.like(d, r, copy=True)
        dots.append(d)
    n = len(fn.results)
    param_shapes = None
    if fn.param_shapes:
        # a tangent may be a number standing for zeros (a constant argument's
        # 0.0): its shape is not assumed, so the broadcasts it needs are kept
        param_shapes = fn.param_shapes + (None,) * len(wrt)
    return verify(
        Function(
            name=f"{fn.name}_jvp",
            params=fn.params + tuple(dot_params),
            body=tuple(b.eqns),
            results=fn.results + tuple(dots),
            tree=(fn.tree, shift_tree(fn.tree, n)),
            loc=fn.loc,
            doc=fn.doc,
            user_names=fn.user_names,
            param_shapes=param_shapes,
            keyword_only=fn.keyword_only,
        )
    )


def jvp_block(stmts, b: IRBuilder, tangent: dict) -> None:
    """Emit each statement followed by its tangent; ``tangent`` maps names to tangents."""
    for eqn in stmts:
        if isinstance(eqn, If):
            _jvp_if(eqn, b, tangent)
            continue
        if isinstance(eqn, (For, While)):
            _jvp_loop(eqn, b, tangent)
            continue
        if eqn.prim == "call" and eqn.param("custom") is None:
            _jvp_call(eqn, b, tangent)
            continue
        if eqn.prim == "push":
            _jvp_push(eqn, b, tangent)
            continue
        if is_list_eqn(eqn):  # a run-time list: its tangents in a list too
            jvp_list(eqn, b, tangent)
            continue
        if not _by_expansion(eqn, b, tangent):
            b.emit(eqn)
        if eqn.prim == "print":  # the user's print: no value, no tangent
            continue
        dins = [tangent.get(a.name) if isinstance(a, Var) else None for a in eqn.ins]
        if all(d is None for d in dins):
            continue
        with b.at(eqn.loc, eqn.ns):
            if eqn.prim == "call":  # custom derivative: dy = Σ ∂f/∂x_i dx_i
                n = eqn.param("custom")
                dout = None
                for p, d in zip(eqn.ins[n:], dins[:n]):
                    dout = b.add(dout, b.mul(p, d))
            else:
                dout = tangent_rule(b, eqn, dins)
        if dout is not None:
            tangent[eqn.out.name] = b.bind(dout, f"{eqn.out.name}_dot")


def _by_expansion(eqn: Eqn, b: IRBuilder, tangent: dict) -> bool:
    """Emit ``eqn``'s value as its expansion into other rows (``np.cross`` as
    the products of its components, which its tangent reads too: see
    ``composites.PRIMAL_BY_EXPANSION``) where it has a tangent; False if not."""
    expand = PRIMAL_BY_EXPANSION.get(eqn.prim)
    if expand is None or not any(
        isinstance(a, Var) and a.name in tangent for a in eqn.ins
    ):
        return False
    with b.at(eqn.loc, eqn.ns):
        y = expand(b, dict(eqn.params), *eqn.ins)
    if b.bind(y, eqn.out.name, reserved=True) != eqn.out:
        return False  # (not a value of its own: the row itself, after all)
    return True


def _jvp_if(s: If, b: IRBuilder, tangent: dict) -> None:
    """Tangents are computed inside each branch and merged like the values."""
    branches = []
    for block in (s.then, s.orelse):
        inner = dict(tangent)
        with b.block() as eqns:
            jvp_block(block, b, inner)
        branches.append((tuple(eqns), inner))
    (then, t_then), (orelse, t_else) = branches
    # A later `if` on the same condition may read this branch's values (the
    # reverse sweep replays a branch that way): it needs their tangents too.
    # Names are unique, so the branch-local tangents are kept for it.
    for local in (t_then, t_else):
        for name, d in local.items():
            tangent.setdefault(name, d)
    outs, tv, ev = list(s.outs), list(s.then_vals), list(s.else_vals)
    for o, t, e in zip(s.outs, s.then_vals, s.else_vals):
        dt = t_then.get(t.name) if isinstance(t, Var) else None
        de = t_else.get(e.name) if isinstance(e, Var) else None
        if dt is None and de is None:
            continue
        d = b.namer.fresh(f"{o.name}_dot")
        outs.append(d)
        tv.append(Const(0.0) if dt is None else dt)
        ev.append(Const(0.0) if de is None else de)
        tangent[o.name] = d
    b.emit(If(s.cond, then, orelse, tuple(outs), tuple(tv), tuple(ev), s.loc))


def _jvp_loop(s, b: IRBuilder, tangent: dict) -> None:
    """The loop carries a tangent next to each carried value that depends on an input.

    Which carried values do is found first (:func:`~ad_compiler.ir.nodes.mark_active`):
    the tangent of ``c`` starts from the tangent of its init (``0.0`` when
    that is zero) and each iteration passes on the tangent of its next.  The
    ``while`` test only decides how many iterations run: it gets no tangents.
    """
    active = set(tangent)
    inner = dict(tangent)
    index = s.index
    if s.over == "tape" and s.args[0].name in tangent.get(TAPED, ()):
        # the tape holds each item's tangent after the items: unpack them too
        index_dots = tuple(b.namer.fresh(f"{i.name}_dot") for i in s.index)
        for i, d in zip(s.index, index_dots):
            inner[i.name] = d
            active.add(i.name)
        index = s.index + index_dots
    mark_active((s,), active)
    dots = []
    for c in s.carried:
        if c.name in active:
            dots.append((c, b.namer.fresh(f"{c.name}_dot")))
            inner[c.name] = dots[-1][1]
            b.shapes[dots[-1][1].name] = (
                None if b.shape(c) != shapes.SCALAR else shapes.SCALAR
            )
    with b.block() as body:
        jvp_block(s.body, b, inner)
    carried, inits, nexts = list(s.carried), list(s.inits), list(s.nexts)
    for c, dot in dots:
        k = s.carried.index(c)
        init, nxt = s.inits[k], s.nexts[k]
        carried.append(dot)
        d = _tangent_of(init, tangent)
        if d == Const(0.0) and b.shape(c) != shapes.SCALAR:
            with b.at(s.loc, "np"):  # an array from the start: one shape throughout
                d = b.zeros(init)
        inits.append(d)
        nexts.append(_tangent_of(nxt, inner))
    fields = dict(carried=tuple(carried), inits=tuple(inits), nexts=tuple(nexts))
    if s.over == "tape":
        fields["index"] = index
    b.emit(replace(s, body=tuple(body), **fields))
    for c, dot in dots:
        tangent[c.name] = dot


TAPED = "<taped>"  # a key no variable can have


def _jvp_push(eqn, b: IRBuilder, tangent: dict) -> None:
    """``tape.append(items)`` of the reverse sweep's record: the items' tangents
    are pushed after them, so the loop reading the tape reads those too (this
    is what makes forward over reverse, a Hessian-vector product, work
    through loops)."""
    tape, *items = eqn.ins
    dots = [tangent.get(a.name) if isinstance(a, Var) else None for a in items]
    if all(d is None for d in dots):
        b.emit(eqn)
        return
    filled = tuple(Const(0.0) if d is None else d for d in dots)
    b.emit(Eqn("push", (), (tape, *items, *filled), eqn.loc, eqn.ns, eqn.params))
    tangent.setdefault(TAPED, set()).add(tape.name)


def _tangent_of(a, tangent: dict):
    d = tangent.get(a.name) if isinstance(a, Var) else None
    return Const(0.0) if d is None else d


def tangent_name(fn: str) -> str:
    """The forward-mode derivative of a recursive function ``fn`` in emitted code."""
    return f"{fn}_tangent"


def _jvp_call(eqn, b: IRBuilder, tangent: dict) -> None:
    """A recursive function's call becomes a call of its tangent function, which
    returns the values and their tangents (with respect to every argument)."""
    dins = [tangent.get(a.name) if isinstance(a, Var) else None for a in eqn.ins]
    if all(d is None for d in dins):
        b.emit(eqn)
        return
    dots = tuple(b.namer.fresh(f"{o.name}_dot") for o in eqn.outs)
    ins = eqn.ins + tuple(Const(0.0) if d is None else d for d in dins)
    fn = tangent_name(eqn.param("fn"))
    b.emit(Eqn("call", eqn.outs + dots, ins, eqn.loc, "py", (("fn", fn),)))
    for o, d in zip(eqn.outs, dots):
        tangent[o.name] = d
