"""Reverse mode: IR -> adjoint IR (vector-Jacobian product).

The adjoint function runs the primal equations (the forward sweep), then walks
them backwards (the reverse sweep) applying each primitive's adjoint rule:
``ū_j += v̄ · ∂p/∂u_j`` for ``v = p(u1, …, uk)`` — the seeds'
v̄ᵢ = Σ_{j∈ch(i)} v̄ⱼ ∂vⱼ/∂vᵢ.  Contributions of a value used several times
are summed.

Given ``def f(x1, x2): … return y`` and ``wrt=(0, 1)`` the result is
``def f_vjp(x1, x2, y_bar): … return y, (x1_bar, x2_bar)``; the caller
specialises ``y_bar = 1`` for a gradient.

Control flow: a branch needs no record (the reverse ``if`` tests the same
condition variable and reuses its forward branch's values); a loop records its
iterations on a plain list, a *tape*, which its reverse loop walks backwards:
either every value its adjoint reads (*store*: the adjoint runs alone), or
what each iteration starts from (*recompute*: each iteration runs again before
its adjoint), or, for a scalar recurrence, its derivative -- which one, and
what goes on the tape, is decided in :mod:`ad_compiler.ad.loop_tapes`.  A call
of a recursive function becomes a call of its emitted adjoint function.

Guarantees: adjoints are named ``<value>_bar``; only values that depend on a
``wrt`` input get adjoints (the *active* values), and only equations on a path
from an input to a result do reverse work; an input whose adjoint is zero
returns ``0.0``.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ad.checkpoint_loops import checkpoint_call_parts, plan
from ad_compiler.ad.lists import (
    is_list_eqn,
    open_adjoints,
    outer_lists,
    touches_active_list,
    vjp_list,
    without_appends,
    without_outer_appends,
)
from ad_compiler.ad.loop_tapes import (
    Tape,
    has_taped_loop,
    kept_values,
    reads,
    restorable,
    scalar_recurrence,
    stores,
    taped,
    undo_records,
    written_arrays,
)
from ad_compiler.ad.rules import adjoints as adjoint_rule
from ad_compiler.ir import shape_infer, shapes
from ad_compiler.ir.builder import IRBuilder
from ad_compiler.ir.nodes import (
    _TEMP,
    Const,
    Eqn,
    For,
    Function,
    If,
    Namer,
    Var,
    While,
    base_name,
    blocks,
    defined_names,
    iter_eqns,
    map_atoms,
    mark_active,
    name_rank,
    own_reads,
    rename_vars,
    shift_tree,
    verify,
    without_prints,
)
from ad_compiler.primitives.table import PRIMITIVES


def active_values(fn: Function, wrt: tuple[int, ...]) -> set[str]:
    """Names of the values that depend on the parameters at ``wrt``."""
    active = {fn.params[i].name for i in wrt}
    mark_active(fn.body, active)
    return active


def _seed_names(fn: Function, namer: Namer) -> list[Var]:
    params = {p.name for p in fn.params}
    seeds = []
    for i, r in enumerate(fn.results):
        named = isinstance(r, Var) and r.name not in params
        if named and name_rank(r.name, fn.user_names) == 2:
            base = r.name
        else:
            base = "y" if len(fn.results) == 1 else f"y{i + 1}"
        seeds.append(namer.fresh(f"{base}_bar"))
    return seeds


def vjp(fn: Function, wrt: tuple[int, ...], wrt_tree=None) -> Function:
    """The adjoint function of ``fn``: params + one seed per result -> (results, adjoints).

    ``wrt_tree`` shapes the returned adjoints (an index into ``wrt`` or a tuple of
    them); by default a tuple over ``wrt``.
    """
    namer = Namer.for_function(fn)
    b = IRBuilder(namer, shape_infer.infer(fn) if fn.param_shapes else None)
    active = active_values(fn, wrt)
    tapes: dict = {}
    checkpointing = plan(fn, active)
    if checkpointing is not None:
        tapes[_CHECKPOINTING] = checkpointing
        for key, loop in checkpointing.chosen.items():
            tapes[key] = loop  # no tape: its reverse sweep is a driver's call
    _sweep_forward(fn.body, b, tapes, active)
    # The inputs' adjoints get the plain names (x_bar); seeds take what is left.
    grad_names = {}
    for i in wrt:
        name = fn.params[i].name
        if name not in grad_names:
            grad_names[name] = namer.fresh(f"{name}_bar").name
    seeds = _seed_names(fn, namer)
    for r, seed in zip(fn.results, seeds):
        b.shapes[seed.name] = b.shape(r)  # ȳ has y's shape
    adjoint: dict[str, object] = {}
    for r, seed in zip(fn.results, seeds):
        if isinstance(r, Var) and r.name in active:
            adjoint[r.name] = b.add(adjoint.get(r.name), seed)
    params = {p.name for p in fn.params}
    _vjp_block(fn.body, b, adjoint, active, params, tapes)  # reverse sweep
    grads, renames = [], {}
    fixed = {p.name for p in fn.params} | {s.name for s in seeds}
    for i in wrt:
        p = fn.params[i]
        g = b.bind(adjoint.get(p.name), grad_names[p.name], reserved=True)
        if isinstance(g, Var) and g.name != grad_names[p.name] and g.name not in fixed:
            # the adjoint is another value's (sin(x + c): x_bar is v1_bar): name it after x
            if name_rank(g.name, fn.user_names) < 2 and g.name not in renames:
                renames[g.name] = grad_names[p.name]
        with b.at(fn.loc, "np"):
            # 0.0 or np.zeros(x.shape); an adjoint standing for an array gets its
            # shape, as an array of its own (see opt.shaping.own_results)
            g = b.zeros(p) if g is None else b.like(g, p, copy=True)
        grads.append(g)
    n = len(fn.results)
    param_shapes = None
    if fn.param_shapes:
        param_shapes = fn.param_shapes + tuple(b.shape(r) for r in fn.results)
    if wrt_tree is None:
        wrt_tree = tuple(range(len(wrt)))
    helpers: tuple = ()
    if checkpointing is not None:
        helpers = tuple(checkpointing.helpers) + (("note", checkpointing.notes()),)
    return verify(
        rename_vars(
            Function(
                name=f"{fn.name}_vjp",
                params=fn.params + tuple(seeds),
                body=tuple(b.eqns),
                results=fn.results + tuple(grads),
                tree=(fn.tree, shift_tree(wrt_tree, n)),
                loc=fn.loc,
                doc=fn.doc,
                user_names=fn.user_names,
                param_shapes=param_shapes,
                keyword_only=fn.keyword_only,
                helpers=helpers,
            ),
            renames,
        )
    )


def _vjp_block(stmts, b: IRBuilder, adjoint: dict, active, params, tapes) -> None:
    """Emit the reverse sweep of ``stmts``: adjoint rules, last statement first."""
    open_adjoints(stmts, b, adjoint, active)  # the lists made here: xs_bar
    for eqn in reversed(stmts):
        if isinstance(eqn, If):
            _vjp_if(eqn, b, adjoint, active, params, tapes)
            continue
        if isinstance(eqn, (For, While)):
            _vjp_loop(eqn, b, adjoint, active, params, tapes)
            continue
        if eqn.prim == "call":
            _vjp_call(eqn, b, adjoint, active)
            continue
        if is_list_eqn(eqn):
            vjp_list(eqn, b, adjoint, active)
            continue
        if eqn.prim == "print":  # printed by the forward sweep: nothing to undo
            continue
        g = adjoint.pop(eqn.out.name, None)
        if g is None:
            continue
        g = b.bind(g, f"{eqn.out.name}_bar")
        with b.at(eqn.loc, eqn.ns):
            cts = adjoint_rule(b, eqn, g, active)
            for a, ct in zip(eqn.ins, cts):
                if ct is not None and isinstance(a, Var) and a.name in active:
                    adjoint[a.name] = b.add(adjoint.get(a.name), ct)


def _vjp_if(s: If, b: IRBuilder, adjoint: dict, active, params, tapes) -> None:
    """Replay the branch the forward sweep took, backwards, on the same condition.

    The forward sweep's ``if`` stays in the code, and the reverse ``if`` tests the
    same condition variable, so each reverse branch may use the values its forward
    branch computed: that is the whole record a branch needs.  Adjoints changed in
    either branch are merged by the reverse ``if``'s outputs.
    """
    gs = [b.bind(adjoint.pop(o.name, None), f"{o.name}_bar") for o in s.outs]
    # values of a branch may have adjoints without any output having one: a
    # later `if` on the same condition read them (a derivative's reverse sweep)
    local = defined_names(s.then) | defined_names(s.orelse)
    if all(g is None for g in gs) and not any(k in adjoint for k in local):
        if not touches_active_list(s.then + s.orelse, set(adjoint)):
            return  # (an append to a list with an adjoint has one too)
    branches = []
    for block, vals in ((s.then, s.then_vals), (s.orelse, s.else_vals)):
        inner = dict(adjoint)
        with b.block() as eqns:
            for v, g in zip(vals, gs):
                if g is not None and isinstance(v, Var) and v.name in active:
                    inner[v.name] = b.add(inner.get(v.name), g)
            _vjp_block(block, b, inner, active, params, tapes)
        branches.append((tuple(eqns), inner))
    (then, a_then), (orelse, a_else) = branches
    changed = sorted(
        k
        for k in set(a_then) | set(a_else)
        if a_then.get(k) is not adjoint.get(k) or a_else.get(k) is not adjoint.get(k)
    )
    outs, tv, ev = [], [], []
    arms = {"then": list(then), "else": list(orelse)}

    def zero(k, arm):
        """The zero adjoint of ``k`` in one arm: an array of zeros for an array
        (a later write or index into the adjoint needs its axes)."""
        if b.shape(Var(k)) in (shapes.SCALAR, None):
            return Const(0.0)
        with b.block() as eqns, b.at(s.loc, "np"):
            z = b.zeros(Var(k))
        arms[arm] += eqns
        return z

    for k in changed:
        # a parameter's adjoint gets its x_bar name when it is final; others now
        out = b.namer.temp() if k in params else b.namer.fresh(f"{k}_bar")
        outs.append(out)
        tv.append(zero(k, "then") if a_then.get(k) is None else a_then[k])
        ev.append(zero(k, "else") if a_else.get(k) is None else a_else[k])
        adjoint[k] = out
    then, orelse = tuple(arms["then"]), tuple(arms["else"])
    b.emit(If(s.cond, then, orelse, tuple(outs), tuple(tv), tuple(ev), s.loc))


def _sweep_forward(
    stmts,
    b: IRBuilder,
    tapes: dict,
    active: set,
    skip=frozenset(),
    hoist=None,
    written=frozenset(),
):
    """Emit ``stmts`` as they are, except that a loop carrying an active value
    records, at the start of every iteration, its index and carried values on a
    new tape (a list): all its reverse sweep needs to replay it backwards.
    ``tapes`` maps each such loop (by identity) to its tape.  ``skip``: the
    lists not to append to again (a recomputation: see ad/lists.py).
    ``hoist``: inside a storing loop, where the tapes' creations go (before
    that loop: one tape holds an inner loop's rows of every outer iteration);
    ``written``: the arrays the storing loops around write into."""
    for s in stmts:
        if tapes.get(id(s)) is s:  # checkpointed: it runs as written
            b.emit(s)
        elif (
            isinstance(s, (For, While))
            and scalar_recurrence(s, active)
            and all(b.shape(c) == shapes.SCALAR for c in s.carried if c.name in active)
        ):
            _sweep_forward_preaccumulated(s, b, tapes, active)
        elif isinstance(s, (For, While)) and taped(s, active):
            tape = b.namer.fresh("tape")
            made = Eqn("tape", (tape,), (), s.loc)
            if hoist is None:
                b.emit(made)
            else:
                hoist.append(made)
            body = without_outer_appends(s.body, skip)
            loops: list = []
            if stores(s, active, b):
                if any(isinstance(t, (For, While)) for t in body):
                    inner = [] if hoist is None else hoist
                    around = frozenset(written) | written_arrays(body)
                    with b.block() as swept:
                        loops = _sweep_stored_body(
                            body, b, tapes, active, inner, around
                        )
                    body = tuple(swept)
                    if hoist is None:
                        b.eqns.extend(inner)
                body, kept, columns, remat = kept_values(body, s, b, written)
                pushed = s.index + s.carried + kept
                row = s.index + s.carried + columns
                body = body + (Eqn("push", (), (tape,) + row, s.loc),)
                undo = []
            else:
                remat = None
                restored = restorable(s, body, b)
                pushed = s.index + tuple(c for c in s.carried if c.name not in restored)
                if restored:  # undo records, pushed once the iteration is done
                    body, undo = undo_records(body, restored, b)
                    row = pushed + tuple(v for _, _, cols in undo for v in cols)
                    body = body + (Eqn("push", (), (tape,) + row, s.loc),)
                else:
                    undo = []
                    body = (Eqn("push", (), (tape,) + pushed, s.loc),) + body
            tapes[id(s)] = Tape(tape, pushed, remat, undo, loops)
            b.emit(replace(s, body=body))
        elif isinstance(s, If) and has_taped_loop((s,), active):
            arms = []
            for block in (s.then, s.orelse):
                with b.block() as eqns:
                    _sweep_forward(block, b, tapes, active, skip)
                arms.append(tuple(eqns))
            b.emit(replace(s, then=arms[0], orelse=arms[1]))
        elif not (is_list_eqn(s) and s.prim == "list_append" and s.ins[0].name in skip):
            b.emit(without_appends(s, skip))


def _sweep_stored_body(
    body, b: IRBuilder, tapes: dict, active, hoist, written: frozenset
) -> list:
    """The forward sweep of a storing loop's body that holds loops; returns
    the records of its loops, in order (None for a loop with no tape).

    Each inner loop pushes its rows on one tape made before the outer loop
    (``hoist``), for every outer iteration; the outer iteration keeps where its
    rows start and stop (``len(tape)`` before and after the inner loop), so its
    reverse iteration walks ``reversed(tape[start:stop])``: the rows of that
    iteration, last first.  The names stay those of the forward sweep, so every
    pass matching a tape's pushes with the loop reading it sees one tape.
    """
    loops = []
    for s in body:
        if not isinstance(s, (For, While)):
            b.emit(s)
            continue
        with b.block() as eqns:
            _sweep_forward((s,), b, tapes, active, hoist=hoist, written=written)
        record = tapes.get(id(s))
        loops.append(record)
        if record is None:
            b.eqns.extend(eqns)
            continue
        start, stop = b.namer.temp(), b.namer.temp()
        b.shapes[start.name] = b.shapes[stop.name] = shapes.SCALAR
        b.emit(Eqn("tape_len", (start,), (record.tape,), s.loc, "py"))
        b.eqns.extend(eqns)
        b.emit(Eqn("tape_len", (stop,), (record.tape,), s.loc, "py"))
        record.bounds = (start, stop)
    return loops


def _array_inits(s, b: IRBuilder, carried: list, inits: list, primals: list) -> None:
    """Give each adjoint a reverse loop carries the shape of its primal from
    the start.  The adjoint of a number is a number; of an array, an array of
    its shape (not the stand-in 0.0: then every iteration has one shape, which
    vector mode needs to know)."""
    for i, (cb, primal) in enumerate(zip(carried, primals)):
        shape = b.shape(primal)
        if shape != shapes.SCALAR and inits[i] == Const(0.0):
            with b.at(s.loc, "np"):
                inits[i] = b.zeros(primal)
        elif shape not in (shapes.SCALAR, None) and b.shape(inits[i]) != shape:
            # an adjoint standing for an array (the 1.0 of np.sum's ȳ) is spread
            # to it once, as an array of its own: otherwise every iteration asks
            # for the primal's shape, and the tape keeps each version of it
            with b.at(s.loc, "np"):
                inits[i] = b.apply("copy", b.like(inits[i], primal))
        b.shapes[cb.name] = shape


def _vjp_loop(s, b: IRBuilder, adjoint: dict, active, params, tapes) -> None:
    """Walk the loop's iterations backwards, off its tape.

    Each reverse iteration takes back the index and carried values its forward
    iteration started from, recomputes that iteration (fresh names: a loop body
    is new each time round), then runs its adjoint.  The reverse loop carries the
    adjoints of the carried values (the adjoint of a ``next`` becomes that of its
    carried value, one iteration earlier) and accumulates the adjoints of the
    values from outside the loop that the body reads.
    """
    if id(s) not in tapes:
        return
    record = tapes[id(s)]
    if record is s:
        _vjp_checkpointed(s, b, adjoint, active, tapes[_CHECKPOINTING])
        return
    tape, pushed, remat = record.tape, record.pushed, record.remat
    if pushed is None:
        _vjp_preaccumulated(s, b, adjoint, active, tape)
        return
    gs = {c.name: adjoint.pop(c.name, None) for c in s.carried}
    act = [k for k, c in enumerate(s.carried) if c.name in active]
    # the lists made outside the loop that it reads or appends to: their
    # adjoints are changed in place, never carried
    lists = {
        e.ins[0].name
        for e in iter_eqns(s.body)
        if is_list_eqn(e) and e.ins and e.ins[0].name in adjoint
    }
    if all(gs[s.carried[k].name] is None for k in act) and not lists:
        return
    namer = b.namer
    stored = remat is not None
    restored = list(dict.fromkeys(c for c, _, _ in record.undo))
    renames = _fresh_names(s, pushed + tuple(Var(c) for c in restored), b, active)
    remat_new = {renames[n] for n in remat or ()}

    def r(a):
        if isinstance(a, Var) and a.name in renames:
            return Var(renames[a.name])
        return a

    # recomputing an iteration must not print again: the forward sweep printed
    body = map_atoms(without_prints(s.body), r, rename_outs=True)
    # nor append again: the buffers hold the items already (ad/lists.py)
    skip = outer_lists(s.body)
    bound = {v.name for v in s.index + s.carried} | defined_names(s.body)
    outside = sorted(
        (reads(s.body) | {a.name for a in s.nexts if isinstance(a, Var)})
        - bound
        - lists
    )
    accumulated = [u for u in outside if u in active]
    carried, inits = [], []
    for k in act:
        c = s.carried[k]
        carried.append(namer.fresh(f"{c.name}_bar"))
        inits.append(gs[c.name] if gs[c.name] is not None else Const(0.0))
    for u in accumulated:
        carried.append(namer.temp() if u in params else namer.fresh(f"{u}_bar"))
        inits.append(adjoint.get(u) if adjoint.get(u) is not None else Const(0.0))
    primals = [s.carried[k] for k in act] + [Var(u) for u in accumulated]
    _array_inits(s, b, carried, inits, primals)
    with b.block() as eqns:
        undo = _Undo(s, record, renames, b)
        undo.write_back(undo.states, named=True)  # the array it started from
        if stored:  # the tape holds what the adjoint reads, but O(1) values
            b.eqns.extend(
                e
                for e in body
                if isinstance(e, Eqn) and e.outs and e.outs[0].name in remat_new
            )
            loops = [t for t in body if isinstance(t, (For, While))]
            for t, inner_record in zip(loops, record.loops):
                if inner_record is not None:  # its rows of this iteration
                    tapes[id(t)] = inner_record.renamed(r)
        else:
            _sweep_forward(body, b, tapes, active, skip)  # recompute the iteration
        inner: dict = {u: adjoint[u] for u in lists}
        for u, ub in zip(accumulated, carried[len(act) :]):
            inner[u] = ub
        for k, cb in zip(act, carried):
            n = r(s.nexts[k])
            if isinstance(n, Var) and n.name in active:
                inner[n.name] = b.add(inner.get(n.name), cb)
        _vjp_block(body, b, inner, active, params, tapes)
        nexts = [inner.get(renames[s.carried[k].name]) for k in act]
        nexts += [inner.get(u) for u in accumulated]
        states = _states_before(s, undo, renames, b)
        for i, primal in enumerate(primals):
            if nexts[i] is None and b.shape(primal) not in (shapes.SCALAR, None):
                # an array's adjoint stays an array (an iteration overwrote it)
                with b.at(s.loc, "np"):
                    nexts[i] = b.zeros(primal)
    nexts = [Const(0.0) if n is None else n for n in nexts]
    index = tuple(r(v) for v in pushed) + tuple(undo.columns)
    for c in restored:  # the array, carried backwards
        carried.append(undo.states[c])
        inits.append(Var(c))  # as the forward loop left it
        nexts.append(states[c])  # as the iteration found it
    b.emit(
        For(
            "tape",
            index,
            (tape,) + record.bounds,
            tuple(carried),
            tuple(inits),
            tuple(eqns),
            tuple(nexts),
            None,
            s.loc,
        )
    )
    for u, ub in zip(accumulated, carried[len(act) :]):
        adjoint[u] = ub  # it started from adjoint[u]: it replaces it
    for k, cb in zip(act, carried):
        init = s.inits[k]
        if isinstance(init, Var) and init.name in active:
            adjoint[init.name] = b.add(adjoint.get(init.name), cb)


def _vjp_checkpointed(s, b: IRBuilder, adjoint: dict, active, ck) -> None:
    """The reverse sweep of a checkpointed loop: one call of its driver
    (ad/checkpoint_loops.py), from the loop's range, initial carried values,
    what it reads from outside and the adjoints of its results, to the
    adjoints of its initial carried values and of what it reads."""
    gs = {c.name: adjoint.pop(c.name, None) for c in s.carried}
    act = [k for k, c in enumerate(s.carried) if c.name in active]
    if all(gs[s.carried[k].name] is None for k in act):
        return
    name, outside, act, acc = checkpoint_call_parts(ck, s, b, active, vjp)
    seeds = [gs[s.carried[k].name] for k in act]
    seeds = [Const(0.0) if g is None else g for g in seeds]
    primals = [s.carried[k] for k in act]
    _array_inits(s, b, [b.namer.temp() for _ in act], seeds, primals)
    outs = []
    for p in primals + [Var(u) for u in acc]:
        outs.append(b.namer.fresh(f"{base_name(p.name)}_bar"))
        b.shapes[outs[-1].name] = b.shape(p)
    ins = tuple(s.args) + tuple(s.inits) + tuple(Var(u) for u in outside)
    b.emit(Eqn("call", tuple(outs), ins + tuple(seeds), s.loc, "py", (("fn", name),)))
    for k, out in zip(act, outs):
        init = s.inits[k]
        if isinstance(init, Var) and init.name in active:
            adjoint[init.name] = b.add(adjoint.get(init.name), out)
    for u, out in zip(acc, outs[len(act) :]):
        adjoint[u] = b.add(adjoint.get(u), out)


_CHECKPOINTING = "checkpointing"  # (the key of the plan among the tapes)


class _Undo:
    """The reverse side of a loop's restored arrays (see :func:`restorable`).

    ``columns``: the names the tape's undo columns bind in the reverse loop;
    ``states``: for each restored array, the reverse loop's carried value (the
    array as the later iterations started it, or as this one ended).
    """

    def __init__(self, s, record: "Tape", renames: dict, b: IRBuilder):
        self.record, self.renames, self.b = record, renames, b
        self.inside = defined_names(s.body)
        self.columns, self.cols, self.states = [], [], {}
        for c, e, cols in record.undo:
            mine = []
            for v in cols:
                mine.append(b.namer.temp())
                b.shapes[mine[-1].name] = b.shape(v)
            self.cols.append(mine)
            self.columns += mine
            if c not in self.states:
                self.states[c] = b.namer.fresh(base_name(c))
                b.shapes[self.states[c].name] = b.shape(Var(c))

    def write_back(self, start: dict, named: bool) -> dict:
        """Emit the writes that put each write's old value back, the
        iteration's last write first, into the arrays ``start`` maps each
        restored array to; ``named``: the results get the iteration's names of
        the arrays as it started.  Returns the results."""
        current, first = dict(start), {}
        for c, e, _ in self.record.undo:
            first.setdefault(c, e)
        for (c, e, _), mine in reversed(list(zip(self.record.undo, self.cols))):
            if c not in current:
                continue
            names = iter(mine[:-1])
            parts = tuple(
                (
                    (next(names) if a.name in self.inside else self._outer(a))
                    if isinstance(a, Var)
                    else a
                )
                for a in e.ins[2:]
            )
            params = tuple((k, v) for k, v in e.params if k != "inplace")
            last = named and e is first[c]
            out = Var(self.renames[c]) if last else self.b.namer.temp()
            self.b.shapes[out.name] = self.b.shape(Var(c))
            ins = (current[c], mine[-1]) + parts
            self.b.emit(Eqn("setitem", (out,), ins, e.loc, e.ns, params))
            current[c] = out
        return current

    def _outer(self, a: Var) -> Var:
        return Var(self.renames.get(a.name, a.name))  # the index, or from outside


def _states_before(s, undo: _Undo, renames: dict, b: IRBuilder) -> dict:
    """What each restored array is when the previous iteration is reversed: the
    array this iteration started from.  When the recomputed iteration reads an
    array its writes made (not only its shape), those writes may happen in
    place only if they are undone again at the end: so they are, and the
    undone array is passed on; otherwise the array the iteration started from
    is passed on as it is (and the writes are dead code)."""
    chains: dict = {}
    for c, e, _ in undo.record.undo:
        chains.setdefault(c, []).append(renames[e.out.name])
    versions = {v for chain in chains.values() for v in chain}
    read = _value_reads(b.eqns, versions)
    out = {c: Var(renames[c]) for c in chains}
    redo = {c: Var(chain[-1]) for c, chain in chains.items() if set(chain) & read}
    if redo:
        out.update(undo.write_back(redo, named=False))
    return out


def _value_reads(stmts, versions: set) -> set[str]:
    """The names ``stmts`` read for their values (not only their shapes),
    leaving out a write's read of the array it writes into when the write makes
    one of ``versions``."""
    out: set[str] = set()
    for t in stmts:
        if isinstance(t, Eqn):
            row = PRIMITIVES[t.prim]
            for k, a in enumerate(t.ins):
                if not isinstance(a, Var) or k in row.shape_only:
                    continue
                if k == 0 and t.prim == "setitem" and t.out.name in versions:
                    continue
                out.add(a.name)
            continue
        out.update(a.name for a in own_reads(t) if isinstance(a, Var))
        for block in blocks(t):
            out |= _value_reads(block, versions)
    return out


def _fresh_names(s, pushed, b: IRBuilder, active: set) -> dict[str, str]:
    """New names for a reverse loop's copy of the iteration (a loop body is new
    each time round): for the tape's columns and every value the body defines."""
    renames = {}
    for name in dict.fromkeys([v.name for v in pushed] + sorted(defined_names(s.body))):
        new = b.namer.temp() if _TEMP.match(name) else b.namer.fresh(base_name(name))
        renames[name] = new.name
        b.shapes[new.name] = b.shape(Var(name))
        if name in active:
            active.add(new.name)
    return renames


def adjoint_name(fn: str) -> str:
    """The reverse-mode derivative of a recursive function ``fn`` in emitted code."""
    return f"{fn}_adjoint"


def _vjp_call(eqn, b: IRBuilder, adjoint: dict, active) -> None:
    """``x̄_i += ȳ · ∂f/∂x_i`` for a custom derivative; for a recursive function, a
    call of its adjoint function (which recomputes the call it reverses)."""
    gs = [adjoint.pop(o.name, None) for o in eqn.outs]
    if all(g is None for g in gs):
        return
    with b.at(eqn.loc):
        n = eqn.param("custom")
        if n is not None:
            g = b.bind(gs[0], f"{eqn.out.name}_bar")
            cts = [b.mul(g, p) for p in eqn.ins[n:]]
            args = eqn.ins[:n]
        else:
            args = eqn.ins
            cts = tuple(b.namer.temp() for _ in args)
            seeds = tuple(Const(0.0) if g is None else g for g in gs)
            fn = adjoint_name(eqn.param("fn"))
            b.emit(Eqn("call", cts, args + seeds, eqn.loc, "py", (("fn", fn),)))
        for a, ct in zip(args, cts):
            if isinstance(a, Var) and a.name in active:
                adjoint[a.name] = b.add(adjoint.get(a.name), ct)


def _sweep_forward_preaccumulated(s, b: IRBuilder, tapes: dict, active) -> None:
    """The loop with its body in forward mode (tangent 1 for the carried value):
    each iteration pushes ``∂next/∂c`` on the tape."""
    from ad_compiler.ad.forward import jvp_block

    k = next(i for i, c in enumerate(s.carried) if c.name in active)
    c, nxt = s.carried[k], s.nexts[k]
    tape = b.namer.fresh("tape")
    b.emit(Eqn("tape", (tape,), (), s.loc))
    tangent = {c.name: Const(1.0)}
    with b.block() as body:
        jvp_block(s.body, b, tangent)
        factor = tangent.get(nxt.name) if isinstance(nxt, Var) else None
        factor = Const(0.0) if factor is None else factor
        b.emit(Eqn("push", (), (tape, factor)))  # no loc: no comment in its way
    tapes[id(s)] = Tape(tape, None)
    b.emit(replace(s, body=tuple(body)))


def _vjp_preaccumulated(s, b: IRBuilder, adjoint: dict, active, tape) -> None:
    """``c̄ ← c̄ · ∂next/∂c``, once per iteration, last iteration first."""
    k = next(i for i, c in enumerate(s.carried) if c.name in active)
    c = s.carried[k]
    g = adjoint.pop(c.name, None)
    for other in s.carried:
        adjoint.pop(other.name, None)
    if g is None:
        return
    cb = b.namer.fresh(f"{c.name}_bar")
    factor = b.namer.fresh(f"d{c.name}")
    with b.block() as body:
        with b.at(s.loc):
            nxt = b.mul(cb, factor)
    b.emit(
        For("tape", (factor,), (tape,), (cb,), (g,), tuple(body), (nxt,), None, s.loc)
    )
    init = s.inits[k]
    if isinstance(init, Var) and init.name in active:
        adjoint[init.name] = b.add(adjoint.get(init.name), cb)
