"""Shape sources: a value read only for its shape is read from a cheaper one.

A derivative often needs only the *shape* of a primal value: ``_like(g, x)``,
``_sum_to(g, x)``, ``_unindex(x, i, g)``, ``np.size(x)``, ``np.zeros(x.shape)``
(the inputs a row lists in ``Primitive.shape_only``).  When nothing else reads
``x``, keeping it costs a whole computation (``np.size(y * np.log(p) + …)``),
and inside a reverse loop over a tape, a tape column holding a copy of ``x``
per iteration.  :func:`shape_sources` rewrites each such input to a value
*proved* to have the same shape at run time and available anyway, so that dead
code elimination drops the expression (and the tape column) afterwards.

The proof is structural, never from the abstract shapes of
:mod:`ad_compiler.ir.shape_infer` (one abstract shape may stand for several
sizes).  Every value gets a *shape source*: the set of values whose shapes,
broadcast together, are its shape.  A parameter, and the result of any
operation not listed below, is its own source ``{v}``; then

* an elementwise operation (a row without a shape rule: NumPy broadcasting)
  has the union of its inputs' sources (a number adds nothing: shape ``()``
  broadcasts to anything, and broadcasting is associative, commutative and
  idempotent, so ``x * x``, ``2.0 * x`` and ``np.tanh(x)`` all have ``{x}``);
* ``x[i] = v`` (``setitem``), ``unindex(x, g, i)``, ``untake_along(x, …)`` and
  ``np.copy(x)`` have ``x``'s source; ``like(t, x)`` has ``x``'s (it is
  ``np.broadcast_to(t, np.shape(x))``); ``np.zeros(np.shape(x))``,
  ``np.ones(x.shape)``, ``np.zeros_like(x)`` have ``x``'s, and so does
  ``np.zeros(len(x))`` of an ``x`` with one axis (ranks are exact in the
  abstract shapes; only lengths are not);
* a loop-carried value has its initial value's source when every iteration's
  next value provably has it too (assumed, then checked, to a fixed point);
  otherwise it is, inside the loop, a source of its own that no name spells
  (the name means this iteration's value there, the last one after the loop);
  an ``if``'s result has the source both branches give it; what a reverse loop
  takes from a tape has the source of what was pushed, when that source is
  made of values visible at the reverse loop.

Two values with the same source have the same shape whenever the program runs
(its broadcasts succeeded).  Values that are tuples (``x.shape``) or run-time
lists get no source: ``+`` and ``*`` concatenate and repeat them.

A shape-only input ``a`` that nothing else needs (dead code if shape reads did
not count) is rewritten to, in order of preference:

1. a parameter with ``a``'s source (always available, never written in place);
2. ``np.broadcast(p, q, …)`` of parameters whose sources make up ``a``'s, bound
   once at the top of the function: an object with ``.shape`` and ``.size``,
   made without touching the data (only for the rows that read the shape
   through ``np.shape``, ``.shape`` or ``np.size``, not ``len``);
3. the most recently bound visible value needed anyway with ``a``'s source, or
   ``np.broadcast(u, v, …)`` of a few values needed anyway (and parameters)
   whose sources make it up, bound just before the statement that reads it
   (once per block).

Otherwise ``a`` stays.  The pass never adds work to the primal sweep (at most
one ``np.broadcast`` per distinct set of parameters) and returns its argument
itself when it rewrites nothing.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.errors import CompileError
from ad_compiler.ir import shape_infer
from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    Function,
    If,
    Loop,
    Var,
    While,
    defined_names,
    iter_eqns,
)
from ad_compiler.opt.dce import eliminate_dead_code
from ad_compiler.primitives.indexing import BROADCAST_MAX
from ad_compiler.primitives.table import PRIMITIVES

# rows whose shape-only input is read with np.shape, .shape or np.size, which
# an np.broadcast object answers as the array would
_READS_SHAPE = frozenset(
    ("like", "sum_to", "unindex", "untake_along", "size", "shape", "linalg_eye")
)
# rows whose result has the shape of one input (its position), whatever the rest
_SAME_AS_INPUT = {"setitem": 0, "unindex": 0, "untake_along": 0, "copy": 0}
# Python's max/min and `a if c else b` return one input (not a broadcast)
_PICKS_ONE = frozenset(("max", "min", "select"))
_SIZED = ("zeros", "ones")
# views of one value broadcast (np.broadcast_to, vector mode's leading axis)
_VIEWS = frozenset(("like", "lead", "broadcast"))


def shape_sources(fn: Function) -> Function:
    """``fn`` with every shape-only input nothing else needs read from a cheaper
    value of provably the same shape (see the module docstring)."""
    if not any(PRIMITIVES[e.prim].shape_only for e in iter_eqns(fn.body)):
        return fn  # scalar code: nothing reads a shape
    try:
        inferred = shape_infer.infer(fn)
    except CompileError:  # (reported by the stage that owns it, not by this pass)
        return fn
    analysis = _Sources(fn, inferred)
    analysis.block(fn.body)
    needed = _needed_beyond_shapes(fn)
    # a broadcast view of a value needed anyway costs nothing: it stays
    needed |= {
        e.out.name
        for e in iter_eqns(fn.body)
        if e.prim in _VIEWS
        and all(isinstance(a, Const) or a.name in needed for a in e.ins[:1])
    }
    rewriter = _Rewriter(fn, analysis.source, needed)
    body = rewriter.block(fn.body, set())
    if rewriter.changed:
        fn = replace(fn, body=tuple(rewriter.top) + body)
    return _thin_shape_columns(fn, inferred)


def _thin_shape_columns(fn: Function, inferred: dict) -> Function:
    """``fn`` pushing, for a tape column its reverse loop reads only for the
    shape (``_sum_to(g, v7)`` of a storing loop's ``v7 = h @ W``, which no
    cheaper value has the shape of), ``np.broadcast_to(0.0, v7.shape)``
    (``like(0.0, v7)``): an array of that shape, O(1) memory, in place of the
    value itself.  Only for arrays of two axes or more: making the view costs
    microseconds, more than keeping a vector of an RNN's step."""
    needed = _needed_beyond_shapes(fn)
    kept = _kept_by_tape(fn.body)
    thin: dict[str, set[int]] = {}
    for s in _loops(fn.body):
        if s.over == "tape":
            for k, v in enumerate(s.index):
                if v.name not in needed:
                    thin.setdefault(s.args[0].name, set()).add(k)
    if not thin:
        return fn
    taken = _all_names(fn)
    done = {  # pushed thin already (the pass runs to a fixed point)
        e.out.name
        for e in iter_eqns(fn.body)
        if e.prim == "like" and e.ins[0] == Const(0.0)
    }

    def push(e: Eqn) -> tuple:
        columns = thin.get(e.ins[0].name) if e.prim == "push" else None
        if not columns:
            return (e,)
        out, items = [], list(e.ins)
        for k in sorted(columns):
            a = items[k + 1] if k + 1 < len(items) else None
            shape = inferred.get(a.name) if isinstance(a, Var) else None
            if not isinstance(shape, tuple) or len(shape) < 2 or a.name in done:
                continue  # a number, a vector (cheaper kept than made thin)
            if a.name in kept:
                continue
            empty = Var(_fresh(f"{a.name}_shape", taken))
            taken.add(empty.name)
            out.append(Eqn("like", (empty,), (Const(0.0), a), e.loc, "np"))
            items[k + 1] = empty
        return (*out, e.with_ins(tuple(items))) if out else (e,)

    return replace(fn, body=_flat_map(fn.body, push))


def _kept_by_tape(stmts) -> set[str]:
    """The next values of carried values that a loop pushes on a tape: the tape
    keeps each of them anyway, as the carried value of the next iteration (an
    RNN's new state ``s_1``, pushed as ``s`` a step later), so pushing it thin
    would save no memory and cost a view per iteration."""
    kept: set[str] = set()
    for s in _loops(stmts):
        pushed = {
            a.name
            for e in s.body
            if isinstance(e, Eqn) and e.prim == "push"
            for a in e.ins[1:]
            if isinstance(a, Var)
        }
        kept |= {
            n.name
            for c, n in zip(s.carried, s.nexts)
            if c.name in pushed and isinstance(n, Var)
        }
    return kept


def _loops(stmts):
    for s in stmts:
        if isinstance(s, Loop):
            yield s
            yield from _loops(s.body)
        elif isinstance(s, If):
            yield from _loops(s.then)
            yield from _loops(s.orelse)


def _flat_map(stmts, f) -> tuple:
    """``stmts`` with each equation replaced by the equations ``f`` gives."""
    out: list = []
    for s in stmts:
        if isinstance(s, If):
            out.append(
                replace(s, then=_flat_map(s.then, f), orelse=_flat_map(s.orelse, f))
            )
        elif isinstance(s, While):
            out.append(replace(s, test=_flat_map(s.test, f), body=_flat_map(s.body, f)))
        elif isinstance(s, Loop):
            out.append(replace(s, body=_flat_map(s.body, f)))
        else:
            out.extend(f(s))
    return tuple(out)


def _needed_beyond_shapes(fn: Function) -> set[str]:
    """The names that stay computed if no shape-only read counted."""

    def blind(e: Eqn) -> Eqn:
        skip = PRIMITIVES[e.prim].shape_only
        if not skip:
            return e
        ins = tuple(Const(0) if i in skip else a for i, a in enumerate(e.ins))
        return e.with_ins(ins)

    kept = eliminate_dead_code(replace(fn, body=_map_eqns(fn.body, blind)))
    return defined_names(kept.body) | {p.name for p in fn.params}


def _map_eqns(stmts, f) -> tuple:
    """``stmts`` with each equation replaced by ``f`` of it."""
    return _flat_map(stmts, lambda e: (f(e),))


class _Sources:
    """The shape source of every value (``source[name]``: a frozenset of names;
    absent: none known), and where each value is bound."""

    def __init__(self, fn: Function, inferred: dict):
        self.inferred = inferred
        self.source: dict[str, frozenset] = {}
        self.shape_of: dict[str, str] = {}  # v = np.shape(x) -> x
        self.pushed: dict[str, list] = {}  # tape -> the items' sources, per push
        self.visible: set[str] = set()
        for p in fn.params:
            self.root(p.name)

    def root(self, name: str) -> None:
        shape = self.inferred.get(name)
        if shape is None or isinstance(shape, tuple):  # an array or a number
            self.source[name] = frozenset((name,))
        else:
            self.source.pop(name, None)
        self.visible.add(name)

    def of(self, a):
        if isinstance(a, Const):
            return frozenset()
        return self.source.get(a.name)

    def set(self, name: str, src) -> None:
        shape = self.inferred.get(name)
        if src is None or not (shape is None or isinstance(shape, tuple)):
            self.source.pop(name, None)
        else:
            self.source[name] = src
        self.visible.add(name)

    def block(self, stmts) -> None:
        for s in stmts:
            if isinstance(s, If):
                self.branches(s)
            elif isinstance(s, Loop):
                self.loop(s)
            else:
                self.eqn(s)

    def branches(self, s: If) -> None:
        outer = set(self.visible)
        self.block(s.then)
        self.visible = set(outer)
        self.block(s.orelse)
        self.visible = outer
        for o, t, e in zip(s.outs, s.then_vals, s.else_vals):
            src = self.of(t)
            if src is None or src != self.of(e) or not src <= outer:
                self.root(o.name)
            else:
                self.set(o.name, src)

    def loop(self, s) -> None:
        outer = set(self.visible)
        for n, i in enumerate(s.index):
            if s.over != "tape":
                self.set(i.name, frozenset())  # a range's index: an int
                continue
            items = {
                p[n] if n < len(p) else None
                for p in self.pushed.get(s.args[0].name, [None])
                if p is not None
            }
            src = items.pop() if len(items) == 1 else None
            if src is None or not src <= outer:
                self.root(i.name)
            else:
                self.set(i.name, src)
        # carried values: assume each keeps its init's source, check, repeat
        assumed = {c.name: self.of(i) for c, i in zip(s.carried, s.inits)}
        pushed = {t: list(items) for t, items in self.pushed.items()}
        while True:
            self.pushed = {t: list(items) for t, items in pushed.items()}
            self.visible = outer | {i.name for i in s.index}
            for c in s.carried:
                # a shape that changes: inside, the name is this iteration's
                # value, after the loop the last; an atom no name spells
                inside = frozenset((c.name + "#this_iteration",))
                known = assumed[c.name]
                self.set(c.name, inside if known is None else known)
            self.block(s.test)
            self.block(s.body)
            broken = [
                c.name
                for c, n in zip(s.carried, s.nexts)
                if assumed[c.name] is not None and self.of(n) != assumed[c.name]
            ]
            if not broken:
                break
            for name in broken:
                assumed[name] = None
        self.visible = outer
        for c in s.carried:
            if assumed[c.name] is None:
                self.root(c.name)
            self.visible.add(c.name)

    def eqn(self, e: Eqn) -> None:
        if e.prim == "push":
            # (the sources now: a carried name means another value later)
            items = tuple(self.of(a) for a in e.ins[1:])
            self.pushed.setdefault(e.ins[0].name, []).append(items)
            return
        src = self.rule(e)
        for o in e.outs:
            if src is None:
                self.root(o.name)
            else:
                self.set(o.name, src)
        if e.prim == "shape" and isinstance(e.ins[0], Var):
            self.shape_of[e.out.name] = e.ins[0].name
        elif e.prim == "len" and isinstance(e.ins[0], Var):
            shape = self.inferred.get(e.ins[0].name)
            if isinstance(shape, tuple) and len(shape) == 1:  # (len(x),) is x's shape
                self.shape_of[e.out.name] = e.ins[0].name

    def rule(self, e: Eqn):
        """The source of ``e``'s outputs, or None: each its own."""
        row = PRIMITIVES[e.prim]
        if e.prim == "broadcast":  # (never picked to stand for an array below)
            ins = [self.of(a) for a in e.ins]
            return None if any(s is None for s in ins) else frozenset().union(*ins)
        if row.elementwise and not (e.prim in _PICKS_ONE and e.ns != "np"):
            ins = [self.of(a) for a in e.ins]
            return None if any(s is None for s in ins) else frozenset().union(*ins)
        if e.prim in _SAME_AS_INPUT:
            return self.of(e.ins[_SAME_AS_INPUT[e.prim]])
        if e.prim == "like" and not e.param("lead"):
            return self.of(e.ins[1])
        if e.prim == "construct" and e.param("args") == (("", -1),):
            fn, first = e.param("fn"), e.ins[0]
            if fn.endswith("_like"):
                return self.of(first)
            if fn in _SIZED and isinstance(first, Var) and first.name in self.shape_of:
                return self.source.get(self.shape_of[first.name])
        return None


class _Rewriter:
    """Rewrites shape-only inputs (see the module docstring), walking forwards
    with the values visible at each point and the order they were bound in."""

    def __init__(self, fn: Function, source: dict, needed: set):
        self.source, self.needed = source, needed
        self.params = [p.name for p in fn.params]
        self.order: dict[str, int] = {}
        self.by_source: dict[frozenset, list[str]] = {}
        self.made = {e.out.name for e in iter_eqns(fn.body) if e.prim == "broadcast"}
        for p in self.params:
            self.bind(p)
        self.top: list[Eqn] = []  # the np.broadcast objects, bound first
        self.broadcasts: dict[tuple, Var] = {}  # (those of an earlier round too)
        for e in fn.body:
            if isinstance(e, Eqn) and e.prim == "broadcast":
                self.broadcasts.setdefault(tuple(a.name for a in e.ins), e.out)
        # the np.broadcast objects of values that are not parameters: bound
        # before the statement that reads them, one per block and set of values
        self.pending: list[Eqn] = []
        self.local: list[dict] = []
        self.taken = set(self.params) | _all_names(fn)
        self.changed = False

    def bind(self, name: str) -> None:
        self.order[name] = len(self.order)
        src = self.source.get(name)
        if src is not None and name in self.needed and name not in self.made:
            self.by_source.setdefault(src, []).append(name)

    def block(self, stmts, visible: set) -> tuple:
        out: list = []
        self.local.append({})
        for s in stmts:
            if isinstance(s, If):
                s = replace(
                    s,
                    then=self.block(s.then, set(visible)),
                    orelse=self.block(s.orelse, set(visible)),
                )
                names = [o.name for o in s.outs]
            elif isinstance(s, Loop):
                inner = visible | {v.name for v in s.index + s.carried}
                for v in s.index + s.carried:
                    self.bind(v.name)
                if isinstance(s, While):
                    s = replace(s, test=self.block(s.test, inner))
                s = replace(s, body=self.block(s.body, set(inner)))
                names = [c.name for c in s.carried]
            else:
                s = self.eqn(s, visible)
                names = [o.name for o in s.outs]
            for name in names:
                visible.add(name)
                if name not in self.order:
                    self.bind(name)
            out += self.pending
            self.pending = []
            out.append(s)
        self.local.pop()
        return tuple(out)

    def eqn(self, e: Eqn, visible: set) -> Eqn:
        skip = PRIMITIVES[e.prim].shape_only
        if not skip or e.prim == "broadcast":
            return e
        ins = list(e.ins)
        for k in skip:
            if k < len(ins) and isinstance(ins[k], Var):
                better = self.cheaper(ins[k].name, e.prim, visible)
                if better is not None:
                    ins[k] = better
        if ins == list(e.ins):
            return e
        self.changed = True
        return e.with_ins(tuple(ins))

    def cheaper(self, name: str, prim: str, visible: set) -> Var | None:
        """What to read ``name``'s shape from instead, or None: ``name`` itself."""
        src = self.source.get(name)
        if name in self.needed or name in self.made or not src:
            return None
        params = [p for p in self.params if self.source.get(p, frozenset((0,))) <= src]
        values = params + sorted(
            (
                v
                for key, members in self.by_source.items()
                if key <= src
                for v in members
                if v in visible and v not in params
            ),
            key=self.order.__getitem__,
            reverse=True,
        )
        for pool in (params, values):
            chosen = _cover(src, pool, self.source)
            if chosen is None:
                continue
            if len(chosen) == 1:
                return Var(chosen[0])
            if prim not in _READS_SHAPE or len(chosen) > BROADCAST_MAX:
                return None
            chosen = tuple(sorted(chosen, key=self.order.__getitem__))
            if pool is params:
                return self.broadcast(chosen)
            return self.local_broadcast(chosen, visible)
        return None

    def broadcast(self, atoms: tuple) -> Var:
        """``np.broadcast(*atoms)`` of parameters, bound once at the top."""
        if atoms not in self.broadcasts:
            out = self.new_broadcast(atoms)
            self.top.append(Eqn("broadcast", (out,), tuple(map(Var, atoms)), ns="np"))
            self.broadcasts[atoms] = out
        return self.broadcasts[atoms]

    def local_broadcast(self, atoms: tuple, visible: set) -> Var:
        """``np.broadcast(*atoms)`` bound before the statement being rewritten
        (or the one an enclosing block or an earlier statement bound)."""
        for block in reversed(self.local):
            if atoms in block:
                return block[atoms]
        out = self.new_broadcast(atoms)
        self.pending.append(Eqn("broadcast", (out,), tuple(map(Var, atoms)), ns="np"))
        self.local[-1][atoms] = out
        visible.add(out.name)
        return out

    def new_broadcast(self, atoms: tuple) -> Var:
        base = "shape_" + "_".join(atoms) if len(atoms) <= 3 else "shape"
        name = _fresh(base, self.taken)
        self.made.add(name)
        return Var(name)


def _cover(src: frozenset, pool: list, source: dict) -> list | None:
    """Values of ``pool`` (in order of preference) whose sources make up
    ``src`` together, few of them (greedy), or None if they cannot."""
    left, chosen = set(src), []
    while left:
        best = max(pool, key=lambda v: len(source[v] & left), default=None)
        if best is None or not source[best] & left:
            return None
        chosen.append(best)
        left -= source[best]
    return chosen


def _all_names(fn: Function) -> set[str]:
    return defined_names(fn.body) | {p.name for p in fn.params}


def _fresh(base: str, taken: set) -> str:
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name
