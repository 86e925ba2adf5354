"""Reverse mode: IR -> adjoint IR (vector-Jacobian product).

The adjoint function runs the primal equations (the forward sweep), then walks
them backwards (the reverse sweep) applying each primitive's adjoint rule:
``ū_j += v̄ · ∂p/∂u_j`` for ``v = p(u1, …, uk)`` — the seeds'
v̄ᵢ = Σ_{j∈ch(i)} v̄ⱼ ∂vⱼ/∂vᵢ.  Contributions of a value used several times
are summed.

Given ``def f(x1, x2): … return y`` and ``wrt=(0, 1)`` the result is
``def f_vjp(x1, x2, y_bar): … return y, (x1_bar, x2_bar)``; the caller
specialises ``y_bar = 1`` for a gradient.

Guarantees: adjoints are named ``<value>_bar``; only values that depend on a
``wrt`` input get adjoints (the *active* values), and only equations on a path
from an input to a result do reverse work; an input whose adjoint is zero
returns ``0.0``.
"""

from __future__ import annotations

from .builder import IRBuilder
from .ir import (
    Const,
    Function,
    If,
    Namer,
    Var,
    name_rank,
    rename_vars,
    shift_tree,
    verify,
)
from .rules import rule_for


def active_values(fn: Function, wrt: tuple[int, ...]) -> set[str]:
    """Names of the values that depend on the parameters at ``wrt``."""
    active = {fn.params[i].name for i in wrt}
    _mark_active(fn.body, active)
    return active


def _mark_active(stmts, active: set) -> None:
    for s in stmts:
        if isinstance(s, If):
            _mark_active(s.then, active)
            _mark_active(s.orelse, active)
            for o, t, e in zip(s.outs, s.then_vals, s.else_vals):
                if any(isinstance(v, Var) and v.name in active for v in (t, e)):
                    active.add(o.name)
        elif any(isinstance(a, Var) and a.name in active for a in s.ins):
            active.update(o.name for o in s.outs)


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
    b = IRBuilder(namer)
    active = active_values(fn, wrt)
    for eqn in fn.body:  # forward sweep
        b.emit(eqn)
    # The inputs' adjoints get the plain names (x_bar); seeds take what is left.
    grad_names = {}
    for i in wrt:
        name = fn.params[i].name
        if name not in grad_names:
            grad_names[name] = namer.fresh(f"{name}_bar").name
    seeds = _seed_names(fn, namer)
    adjoint: dict[str, object] = {}
    for r, seed in zip(fn.results, seeds):
        if isinstance(r, Var) and r.name in active:
            adjoint[r.name] = b.add(adjoint.get(r.name), seed)
    _vjp_block(
        fn.body, b, adjoint, active, {p.name for p in fn.params}
    )  # reverse sweep
    grads, renames = [], {}
    fixed = {p.name for p in fn.params} | {s.name for s in seeds}
    for i in wrt:
        p = fn.params[i]
        g = b.bind(adjoint.get(p.name), grad_names[p.name], reserved=True)
        if isinstance(g, Var) and g.name != grad_names[p.name] and g.name not in fixed:
            # the adjoint is another value's (sin(x + c): x_bar is v1_bar): name it after x
            if name_rank(g.name, fn.user_names) < 2 and g.name not in renames:
                renames[g.name] = grad_names[p.name]
        grads.append(Const(0.0) if g is None else g)
    n = len(fn.results)
    if wrt_tree is None:
        wrt_tree = tuple(range(len(wrt)))
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
            ),
            renames,
        )
    )


def _vjp_block(stmts, b: IRBuilder, adjoint: dict, active: set, params: set) -> None:
    """Emit the reverse sweep of ``stmts``: adjoint rules, last statement first."""
    for eqn in reversed(stmts):
        if isinstance(eqn, If):
            _vjp_if(eqn, b, adjoint, active, params)
            continue
        g = adjoint.pop(eqn.out.name, None)
        if g is None:
            continue
        g = b.bind(g, f"{eqn.out.name}_bar")
        rule = rule_for(eqn.prim, eqn.loc)
        with b.at(eqn.loc, eqn.ns):
            cts = rule.vjp(b, eqn.out, g, *eqn.ins)
            for a, ct in zip(eqn.ins, cts):
                if ct is not None and isinstance(a, Var) and a.name in active:
                    adjoint[a.name] = b.add(adjoint.get(a.name), ct)


def _vjp_if(s: If, b: IRBuilder, adjoint: dict, active: set, params: set) -> None:
    """Replay the branch the forward sweep took, backwards, on the same condition.

    The forward sweep's ``if`` stays in the code, and the reverse ``if`` tests the
    same condition variable, so each reverse branch may use the values its forward
    branch computed: that is the whole record a branch needs.  Adjoints changed in
    either branch are merged by the reverse ``if``'s outputs.
    """
    gs = [b.bind(adjoint.pop(o.name, None), f"{o.name}_bar") for o in s.outs]
    if all(g is None for g in gs):
        return
    branches = []
    for block, vals in ((s.then, s.then_vals), (s.orelse, s.else_vals)):
        inner = dict(adjoint)
        with b.block() as eqns:
            for v, g in zip(vals, gs):
                if g is not None and isinstance(v, Var) and v.name in active:
                    inner[v.name] = b.add(inner.get(v.name), g)
            _vjp_block(block, b, inner, active, params)
        branches.append((tuple(eqns), inner))
    (then, a_then), (orelse, a_else) = branches
    changed = sorted(
        k
        for k in set(a_then) | set(a_else)
        if a_then.get(k) is not adjoint.get(k) or a_else.get(k) is not adjoint.get(k)
    )
    outs, tv, ev = [], [], []
    for k in changed:
        # a parameter's adjoint gets its x_bar name when it is final; others now
        out = b.namer.temp() if k in params else b.namer.fresh(f"{k}_bar")
        outs.append(out)
        tv.append(Const(0.0) if a_then.get(k) is None else a_then[k])
        ev.append(Const(0.0) if a_else.get(k) is None else a_else[k])
        adjoint[k] = out
    b.emit(If(s.cond, then, orelse, tuple(outs), tuple(tv), tuple(ev), s.loc))
