"""Shaping a derivative's signature and results.

* :func:`specialize` / :func:`fix_parameters` — fix parameters to constants (the
  seed ȳ = 1 of a gradient; a family member with ``n`` fixed);
* :func:`select_results` — keep part of the results (a gradient drops the value);
* :func:`drop_shape_noops` — remove broadcasts and sums back that the inferred
  shapes show to change nothing;
* :func:`own_results` — copy the array results a caller could otherwise share.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.errors import UsageError
from ad_compiler.ir.nodes import (
    Atom,
    Const,
    Eqn,
    Function,
    Namer,
    Var,
    iter_eqns,
    map_atoms,
    tree_leaves,
)


def specialize(fn: Function, values: dict[str, Const]) -> Function:
    """Fix the named parameters to constants and drop them from the signature."""

    def s(a):
        return values.get(a.name, a) if isinstance(a, Var) else a

    body = map_atoms(fn.body, s)
    kept = [i for i, p in enumerate(fn.params) if p.name not in values]
    params = tuple(fn.params[i] for i in kept)
    param_shapes = fn.param_shapes
    if param_shapes:  # one per parameter, in step with them
        param_shapes = tuple(param_shapes[i] for i in kept)
    return replace(
        fn,
        params=params,
        body=body,
        results=tuple(s(a) for a in fn.results),
        param_shapes=param_shapes,
    )


def fix_parameters(fn: Function, values: dict[str, int | float]) -> Function:
    """``fn`` with the named parameters replaced by constants (a family member:
    ``n`` fixed, a loop over ``range(n)`` gets a known trip count)."""
    names = [p.name for p in fn.params]
    for name in values:
        if name not in names:
            raise UsageError(
                f"`{fn.name}` has no parameter named {name} "
                f"(its parameters: {', '.join(names)})"
            )
    # defaults belong to the last parameters: keep those of the parameters left
    first_default = len(fn.params) - len(fn.defaults)
    defaults = tuple(
        d
        for i, d in enumerate(fn.defaults, start=first_default)
        if fn.params[i].name not in values
    )
    fixed = specialize(fn, {k: Const(v) for k, v in values.items()})
    return replace(fixed, defaults=defaults)


def select_results(fn: Function, tree, name: str | None = None) -> Function:
    """Keep only the results in ``tree`` (indices into ``fn.results``), renumbered."""
    leaves = tree_leaves(tree)
    index = {old: new for new, old in enumerate(leaves)}

    def renumber(t):
        return index[t] if isinstance(t, int) else tuple(renumber(x) for x in t)

    return replace(
        fn,
        name=name or fn.name,
        results=tuple(fn.results[i] for i in leaves),
        tree=renumber(tree),
    )


def drop_shape_noops(fn: Function) -> Function:
    """Remove the broadcasts (``like``) and sums back (``sum_to``) that the shapes
    of the whole function show to change nothing, or that act on a value of
    their template's shape (its twin, :mod:`ad_compiler.ir.shape_twins`).

    The rules emit them where the shapes known while building a derivative do
    not say; inferred over the finished function they often do (``g`` and
    ``x`` both of shape (n,): NumPy requires the same n).  Left in, each costs
    a call per use, and differentiating the derivative again doubles them.
    """
    if not fn.param_shapes:
        return fn
    from ad_compiler.ir import shape_infer, shapes
    from ad_compiler.ir.shape_twins import same_shape, twin_roots

    env = shape_infer.infer(fn)
    roots = twin_roots(fn, env)
    subst: dict[str, Atom] = {}

    def same(a, b) -> bool:
        if same_shape(a, b, roots):  # made from one another's shape
            return True
        sa = env.get(a.name) if isinstance(a, Var) else shapes.SCALAR
        sb = env.get(b.name) if isinstance(b, Var) else shapes.SCALAR
        return (
            sa == sb and sa is not None and sa != shapes.TUPLE and shapes.ANY not in sa
        )

    fn = _unindex_unbroadcast(fn, roots, env)
    fn = _numbers_into_cover(fn, roots, env)
    for e in iter_eqns(fn.body):
        if e.prim == "like" and not e.param("copy") and not e.param("lead"):
            if same(e.ins[0], e.ins[1]):
                subst[e.out.name] = e.ins[0]
        elif e.prim == "sum_to" and same(e.ins[0], e.ins[1]):
            subst[e.out.name] = e.ins[0]
    if not subst:
        return fn

    def sub(a):
        while isinstance(a, Var) and a.name in subst:
            a = subst[a.name]
        return a

    body = map_atoms(fn.body, sub)
    return replace(fn, body=body, results=tuple(sub(a) for a in fn.results))


def _unindex_unbroadcast(fn: Function, roots: dict[str, str], env: dict) -> Function:
    """``_unindex(x, i, h)`` for ``_unindex(x, i, _like(h, y))`` where ``y`` is
    ``z[i]`` and ``z`` has ``x``'s shape (its twin), or where ``h`` is
    ``_sum_to(g, y)``: the write ``out[i] = h`` broadcasts ``h`` to ``x[i]``'s
    shape, which is what ``_like`` and then the write did (``h`` broadcasts
    to ``y``, and ``y`` to ``x[i]``; broadcasting composes).

    A number ``h`` is written as it is, also from under ``np.expand_dims``
    (``out[i] = np.expand_dims(_like(h, np.sum(z, axis=-1)), -1)``: a number
    fills any slot, so the sum computed for its shape alone goes)."""
    from ad_compiler.ir import shapes
    from ad_compiler.ir.shape_twins import same_shape
    from ad_compiler.opt.shape_sources import _flat_map

    defs = {e.out.name: e for e in iter_eqns(fn.body) if len(e.outs) == 1}

    def number(a) -> bool:
        if isinstance(a, Var):
            return env.get(a.name) == shapes.SCALAR
        return isinstance(a.value, (int, float)) and not isinstance(a.value, bool)

    def read_of(e: Eqn, a) -> Atom | None:
        like = defs.get(a.name) if isinstance(a, Var) else None
        while like is not None and like.prim == "expand_dims":
            like = defs.get(like.ins[0].name) if isinstance(like.ins[0], Var) else None
            if like is None or like.prim not in ("expand_dims", "like"):
                return None
            if like.prim == "like" and not (number(like.ins[0]) and not like.params):
                return None
        if like is None or like.prim != "like" or like.params:
            return None
        h, y = like.ins
        if number(h):
            return h
        read = defs.get(y.name) if isinstance(y, Var) else None
        if read is not None and read.prim == "getitem":
            x = read.ins[0]
            twins = x == e.ins[0] or same_shape(x, e.ins[0], roots)
            if twins and read.ins[1:] == e.ins[2:] and read.params == e.params:
                return h
        # h summed back to y's shape: it broadcasts to y, so to what y
        # broadcasts to (out[i] = _like(h, y) succeeded: y broadcasts to x[i])
        summed = defs.get(h.name) if isinstance(h, Var) else None
        if summed is not None and summed.prim == "sum_to" and not summed.params:
            return h if summed.ins[1] == y else None
        return None

    def through(e: Eqn) -> tuple:
        if e.prim != "unindex" or e.param("lead") or e.param("into"):
            return (e,)
        h = read_of(e, e.ins[1])
        if h is None:
            return (e,)
        return (e.with_ins((e.ins[0], h) + e.ins[2:]),)

    body = _flat_map(fn.body, through)
    return fn if body == fn.body else replace(fn, body=body)


def _numbers_into_cover(fn: Function, roots: dict[str, str], env: dict) -> Function:
    """``a ± t`` for ``a ± h`` where ``h`` is the number ``t`` broadcast
    (``_like(t, y)``, possibly under ``np.expand_dims``) to a shape that
    broadcasts into ``a``'s: ``y`` a twin of ``a``, or ``np.expand_dims(
    _like(t, np.sum(z, axis=k)), axis=k)`` with ``z`` a twin of ``a`` (the sum
    drops axis k and the expansion puts back a 1 there).  The result has
    ``a``'s shape and the same elements either way, and the reduction computed
    only for its shape is gone."""
    from ad_compiler.ir import shapes
    from ad_compiler.ir.shape_twins import same_shape
    from ad_compiler.opt.shape_sources import _flat_map

    defs = {e.out.name: e for e in iter_eqns(fn.body) if len(e.outs) == 1}

    def def_of(a, prim: str) -> Eqn | None:
        e = defs.get(a.name) if isinstance(a, Var) else None
        return e if e is not None and e.prim == prim else None

    def number(a) -> bool:
        if isinstance(a, Var):
            return env.get(a.name) == shapes.SCALAR
        return isinstance(a.value, (int, float)) and not isinstance(a.value, bool)

    def number_under(h, a) -> Atom | None:
        """t when h is t broadcast into a shape that fits in a's."""
        expand = def_of(h, "expand_dims")
        like = def_of(expand.ins[0] if expand else h, "like")
        if like is None or like.params or not number(like.ins[0]):
            return None
        t, y = like.ins
        if expand is None:
            return t if same_shape(y, a, roots) else None
        reduced = def_of(y, "sum")
        if reduced is None or reduced.params != expand.params:
            return None  # (keepdims, or another axis)
        return t if same_shape(reduced.ins[0], a, roots) else None

    def through(e: Eqn) -> tuple:
        if e.prim not in ("add", "sub") or e.params:
            return (e,)
        a, b = e.ins
        t = number_under(b, a)
        if t is not None:
            return (e.with_ins((a, t)),)
        t = number_under(a, b)
        return (e,) if t is None else (e.with_ins((t, b)),)

    body = _flat_map(fn.body, through)
    return fn if body == fn.body else replace(fn, body=body)


def own_results(fn: Function) -> Function:
    """Copy every array result the caller could otherwise share.

    ``grad`` of ``np.sum(x * w)`` in ``x`` is ``w`` itself; returned as it is,
    writing into the gradient would change the caller's ``w``.  Results that
    are parameters (or may be: a ``_like`` of one), or the same value twice,
    are returned as copies (NumPy
    arrays are mutable; JAX's are not, so it never has to).  Numbers are left
    alone, and so is code compiled for numbers (``param_shapes`` None).
    """
    if not fn.param_shapes:
        return fn
    from ad_compiler.ir import shape_infer, shapes

    shape_of = shape_infer.infer(fn)
    params = {p.name for p in fn.params}
    # _like(t, x) is t itself when the shapes agree, so it may be a parameter
    # (with directions in front too: vector mode's _like(t, x, 1))
    params |= {
        e.out.name
        for e in iter_eqns(fn.body)
        if e.prim == "like" and not e.param("copy")
    }
    seen: set[str] = set()
    body, results = list(fn.body), []
    namer = Namer.for_function(fn)
    for r in fn.results:
        shared = isinstance(r, Var) and (r.name in params or r.name in seen)
        if shared and shape_of.get(r.name) != shapes.SCALAR:
            copy = namer.fresh(f"{r.name}_copy")
            body.append(Eqn("copy", (copy,), (r,), fn.loc, "np", (("method", True),)))
            r = copy
        if isinstance(r, Var):
            seen.add(r.name)
        results.append(r)
    return replace(fn, body=tuple(body), results=tuple(results))
