"""Array derivatives specialised to the exact argument shapes they are called with.

The emitted code of array functions holds for every size (:mod:`ad_compiler.ir.shapes`):
where the abstract shapes cannot tell whether a value broadcasts -- ``act[b : 2 * b]``
may be one element long and stretch -- it calls ``_like`` or ``_sum_to``, which
look at the shapes when they run and almost always hand back their argument.
In a loop that is a Python call per site per iteration: a tenth of an LSTM's
gradient.

The API dispatches on the arguments' exact shapes on every call anyway
(``ArrayDerivative._by_sizes``).  So the first call with new shapes runs a
*probe* of the code, in which each such call records whether it handed its
argument back; then the code is emitted again without the sites where

* every execution handed the argument back, and
* the shapes of both operands are *fixed by the arguments' shapes*
  (:func:`loose_shapes`): never computed from the values of the arguments (a
  slice bound or trip count read from a number argument, a mask, a loop over
  a value), so every call with these shapes takes the decision the probe saw.

That code serves the later calls with those exact shapes; its docstring names
them.  A site never executed, or one whose operands' shapes could depend on
values, stays.  Derivatives of functions whose control flow depends on values
(a ``while`` on a value, a branch on a value that records on a tape) are not
specialised at all, nor ones with no such call inside a loop (outside
loops a call costs well under a microsecond, a second emission tens of
milliseconds).  Each derivative specialises its first :data:`MOST_SIZES`
shape sets; later new sizes run the general code.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir import shape_infer, shapes
from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    For,
    Function,
    If,
    Var,
    While,
    iter_eqns,
    map_atoms,
)
from ad_compiler.opt.dce import eliminate_dead_code
from ad_compiler.opt.shape_sources import _map_eqns
from ad_compiler.primitives.table import PRIMITIVES

MOST_SIZES = 8

# reading a shape: a number or tuple, fixed where the operand's shape is
_SHAPE_READERS = frozenset({"shape", "len", "size", "size_of_shape"})
# np.broadcast(a, b): an object (or, lazily, an array) shaped like the
# broadcast: its shape is loose where an operand's is
_BROADCASTS = frozenset({"broadcast", "broadcast_of_shapes"})
# the output's shape is a function of the operands' shapes alone
_SHAPES_ONLY = frozenset({"like", "sum_to", "unindex", "setitem", "untake_along"})
# rows whose array operands are data, never a shape, a count or an index (their
# numbers may still be: checked apart); every other row's operands may decide
# its output's shape by their values (np.ones(s) of an int array s, reshape,
# broadcast_to, tile, repeat ...)
_DATA_ROWS = frozenset(
    {"sum", "mean", "prod", "amax", "amin", "var", "std", "average", "ptp"}
    | {"cumsum", "cumprod", "diff", "norm", "trace", "logsumexp", "softmax"}
    | {"log_softmax", "matmul", "dot", "inner", "outer", "tensordot", "einsum"}
    | {"einsum_n", "einsum_any", "kron", "cross", "transpose", "moveaxis"}
    | {"swapaxes", "expand_dims", "squeeze", "flip_all", "diagonal", "tril"}
    | {"triu", "copy", "concatenate", "stack", "hstack", "vstack", "dstack"}
    | {"column_stack", "atleast_1d", "atleast_2d", "atleast_3d", "lead"}
    | {"roll", "pad", "solve", "inv", "det", "slogdet", "slogdet_sign"}
    | {"cholesky", "solve_triangular", "cho_factor", "cho_solve", "pinv"}
    | {"matrix_power", "expm", "lstsq", "eigh_v", "eigh_w", "qr_q", "qr_r"}
    | {"svd_s", "svd_u", "svd_vh", "list_append", "list_concat", "list_get"}
    | {"list_new", "list_stack", "list_sum", "list_zeros", "list_rows"}
    | {"list_add_all", "list_add_at", "list_add_pieces", "list_add_rows"}
    | {"push", "tape", "tape_len", "written", "print"}
)
# what a probe can drop: a broadcast to a template, a sum back to one
PROBED = ("like", "sum_to")


class _ValueDependent(Exception):
    """The control flow depends on the arguments' values."""


class _Fixed:
    """Which values are computed from the arguments' values (``val``) and
    which have a shape that may not be fixed by the arguments' shapes
    (``loose``), over a whole derivative."""

    def __init__(self, fn: Function, env: dict):
        self.env = env
        self.val = {p.name for p in fn.params}
        self.loose: set[str] = set()
        self.columns: dict[str, list[tuple]] = {}  # tape -> each push's items
        for e in iter_eqns(fn.body):
            if e.prim == "push":
                self.columns.setdefault(e.ins[0].name, []).append(e.ins[1:])

    def is_val(self, a) -> bool:
        return isinstance(a, Var) and a.name in self.val

    def is_loose(self, a) -> bool:
        return isinstance(a, Var) and a.name in self.loose

    def mark(self, out: Var, val: bool, loose: bool) -> None:
        (self.val.add if val else self.val.discard)(out.name)
        (self.loose.add if loose else self.loose.discard)(out.name)

    def block(self, stmts) -> None:
        for s in stmts:
            if isinstance(s, Eqn):
                self.eqn(s)
            elif isinstance(s, If):
                self.branch(s)
            else:
                self.loop(s)

    def eqn(self, e: Eqn) -> None:
        if e.prim in _SHAPE_READERS:
            val, loose = any(map(self.is_loose, e.ins)), False
        elif e.prim in _BROADCASTS:
            val = loose = any(map(self.is_loose, e.ins))
        else:
            val = any(map(self.is_val, e.ins))
            loose = any(map(self.is_loose, e.ins))
            loose = loose or any(map(self.is_val, self.shape_operands(e)))
        for out in e.outs:
            self.mark(out, val, loose)

    def shape_operands(self, e: Eqn) -> tuple:
        """The operands whose values may decide the output's shape."""
        row = PRIMITIVES[e.prim]
        if row.elementwise or e.prim in _SHAPES_ONLY:
            return ()
        if e.prim == "getitem":  # bounds, indices and masks
            return e.ins[1:]
        if e.prim not in _DATA_ROWS:  # (a shape given as an array: np.ones(s))
            return e.ins
        # numbers, tuples (a size, a count, a shape, an axis)
        return tuple(a for a in e.ins if not self.array(a))

    def array(self, a) -> bool:
        """An array or a list (whose values decide no shape: its length and
        its items' shapes are its own looseness)."""
        shape = self.env.get(a.name) if isinstance(a, Var) else shapes.SCALAR
        if isinstance(shape, shapes.ListOf):
            return True
        return isinstance(shape, tuple) and len(shape) > 0

    def branch(self, s: If) -> None:
        self.block(s.then)
        self.block(s.orelse)
        chosen = self.is_val(s.cond)
        if chosen and _records(s.then + s.orelse):
            raise _ValueDependent  # a tape's length would depend on values
        for out, a, b in zip(s.outs, s.then_vals, s.else_vals):
            val = chosen or self.is_val(a) or self.is_val(b)
            loose = chosen or self.is_loose(a) or self.is_loose(b)
            self.mark(out, val, loose)

    def loop(self, s) -> None:
        if isinstance(s, For):
            if any(map(self.is_val, s.args)) or any(map(self.is_loose, s.args)):
                raise _ValueDependent
            if s.over == "tape":
                self.tape_columns(s)
            else:
                for i in s.index:
                    self.mark(i, False, False)
        for c, init in zip(s.carried, s.inits):
            self.mark(c, self.is_val(init), self.is_loose(init))
        while True:  # to a fixed point: both sets only grow
            before = (frozenset(self.val), frozenset(self.loose))
            self.block(s.test)
            self.block(s.body)
            for c, nxt in zip(s.carried, s.nexts):
                val = self.is_val(c) or self.is_val(nxt)
                self.mark(c, val, self.is_loose(c) or self.is_loose(nxt))
            if (frozenset(self.val), frozenset(self.loose)) == before:
                break
        if isinstance(s, While) and self.is_val(s.cond):
            raise _ValueDependent
        if s.brk is not None and self.is_val(s.brk):
            raise _ValueDependent

    def tape_columns(self, s: For) -> None:
        """A tape loop's index unpacks what the pushes stored: each column is
        as value-dependent and loose as any item pushed into it."""
        rows = self.columns.get(getattr(s.args[0], "name", None), [])
        for k, v in enumerate(s.index):
            items = [row[k] for row in rows if k < len(row)]
            val = not rows or any(map(self.is_val, items))
            loose = not rows or any(map(self.is_loose, items))
            self.mark(v, val, loose)


def _eqns_in_loops(stmts):
    for s in stmts:
        if isinstance(s, If):
            yield from _eqns_in_loops(s.then)
            yield from _eqns_in_loops(s.orelse)
        elif isinstance(s, (For, While)):
            yield from iter_eqns(s.test)
            yield from iter_eqns(s.body)


def _records(stmts) -> bool:
    """Whether a block pushes on a tape or changes a list (whose length a
    later loop or read would then take from the values)."""
    return any(e.prim == "push" or e.prim.startswith("list_") for e in iter_eqns(stmts))


def loose_shapes(fn: Function) -> set[str] | None:
    """The names in ``fn`` whose shapes the arguments' shapes may not fix
    (every other name has one shape in every call with arguments of the same
    exact shapes), or None when ``fn``'s control flow depends on the
    arguments' values."""
    state = _Fixed(fn, shape_infer.infer(fn))
    try:
        state.block(fn.body)
    except _ValueDependent:
        return None
    return state.loose


def probe_sites(fn: Function) -> dict[str, Eqn]:
    """The ``_like``/``_sum_to`` equations a probe may drop, by output name:
    both operands' shapes fixed, no copy made; none unless one of them is in
    a loop (outside loops each runs once a call, well under a microsecond:
    not worth a second emission, tens of milliseconds)."""
    if not any(e.prim in PROBED for e in _eqns_in_loops(fn.body)):
        return {}
    loose = loose_shapes(fn)
    if loose is None:
        return {}
    found = {}
    for e in iter_eqns(fn.body):
        if e.prim in PROBED and not e.param("copy"):
            if all(isinstance(a, Const) or a.name not in loose for a in e.ins):
                found[e.out.name] = e
    return found


def probed(fn: Function, sites: dict[str, Eqn]) -> Function:
    """``fn`` with each site numbered (its ``site`` param): emitted as a call
    of ``_like_at``/``_sum_to_at``, which the probe defines."""
    order = {name: k for k, name in enumerate(sites)}

    def number(e: Eqn) -> Eqn:
        if e.outs and e.out.name in order:
            return replace(e, params=e.params + (("site", order[e.out.name]),))
        return e

    return replace(fn, body=_map_eqns(fn.body, number))


def without(fn: Function, sites: dict[str, Eqn], dropped: set[int]) -> Function:
    """``fn`` with the sites numbered in ``dropped`` replaced by their first
    operand (what they handed back), and what only they read removed."""
    names = list(sites)
    subst = {names[k]: sites[names[k]].ins[0] for k in dropped}

    def sub(a):
        while isinstance(a, Var) and a.name in subst:
            a = subst[a.name]
        return a

    body = map_atoms(fn.body, sub)
    results = tuple(sub(a) for a in fn.results)
    return eliminate_dead_code(replace(fn, body=body, results=results))


class Probe:
    """Records, per site, whether every call handed its argument back."""

    def __init__(self, namespace: dict):
        self.handed_back: set[int] = set()
        self.changed: set[int] = set()
        like, sum_to = namespace.get("_like"), namespace.get("_sum_to")

        def like_at(site, t, x, lead=0):
            out = like(t, x, lead)
            (self.handed_back if out is t else self.changed).add(site)
            return out

        def sum_to_at(site, g, x, lead=0):
            out = sum_to(g, x, lead)
            (self.handed_back if out is g else self.changed).add(site)
            return out

        namespace["_like_at"], namespace["_sum_to_at"] = like_at, sum_to_at

    def droppable(self) -> set[int]:
        return self.handed_back - self.changed


def shapes_note(args, names) -> str:
    """The docstring line of a specialised derivative."""
    shown = ", ".join(
        f"{n} {tuple(getattr(a, 'shape', ()))}" for n, a in zip(names, args)
    )
    return (
        f"Specialised for the argument shapes {shown}: the broadcasts and sums "
        "back that these shapes make no-ops are left out (.specialize(*args) "
        "or adc compile gives the code for every shape)."
    )


class Probing:
    """The first call of a derivative with new exact argument shapes: runs a
    probe of ``compiled`` (the code for every size), then files, for those
    shapes, that code without the sites every execution handed back
    (``record(final)``); returns the probe's results."""

    def __init__(self, compiled, kind: str, sites: dict[str, Eqn], record):
        self.compiled, self.kind, self.sites, self.record = (
            compiled,
            kind,
            sites,
            record,
        )

    def __call__(self, *args, **kwargs):
        from ad_compiler.driver import load_ir
        from ad_compiler.opt.shaping import own_results

        d = self.compiled.ir
        helpers, fn, src = d.callees, self.compiled.primal_ir, self.compiled.src
        texts = getattr(self.compiled, "texts", ())
        run = load_ir(fn, probed(d, self.sites), helpers, src, self.kind, texts)
        probe = Probe(run.__globals__)  # this call's own module: no other probe
        final = self.compiled
        try:
            out = run(*args, **kwargs)
            dropped = probe.droppable()
            if dropped:
                lean = own_results(without(d, self.sites, dropped))
                names = [p.name for p in d.params]
                doc = f"{d.doc}\n\n{shapes_note(args, names)}" if d.doc else d.doc
                final = load_ir(
                    fn, replace(lean, doc=doc), helpers, src, self.kind, texts
                )
        finally:
            self.record(final)
        return out
