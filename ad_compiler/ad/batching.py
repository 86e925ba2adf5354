"""Vector mode for array code: a derivative's IR with a direction axis in front.

``jacfwd``, ``jacrev`` and ``hessian`` push every direction through one call of
emitted code.  In scalar code a tangent is then a 1-D array of directions and
the code runs unchanged, because NumPy broadcasts a number against it.  In
array code a tangent of ``x`` (shape ``s``) becomes an array of shape
``(k,) + s`` (axis 0 counts the directions), and every operation it meets has
to know the extra axis is there.  :func:`batch` rewrites a derivative's IR so
that it does, one primitive at a time, as JAX's batching rules do for vmap.

This module is the driver: it finds which values carry directions, walks
statements, branches, loops, tapes and calls, and hands each equation with
directions to its row's vector-mode rule (``Primitive.batch``, declared beside
the row in :mod:`ad_compiler.primitives`; :class:`_Batcher` is the context the
rule writes through).  What the rules do, with ``r`` the number of axes a value
has without the direction axis:

* elementwise: NumPy aligns axes from the right, so a value with directions
  and fewer axes than the result gets axes inserted after its direction axis.
  (``x_dot`` of shape ``(k,)`` against ``y`` of shape ``(n,)`` would otherwise
  pair directions with elements: with k = n, silently.)
* reductions: ``axis=a`` becomes ``a + 1`` (negative axes stay), no axis
  becomes the axes ``1 … r``;
* ``transpose`` keeps axis 0 first; ``reshape`` keeps its length;
  ``expand_dims``, ``squeeze``, ``concatenate``, ``stack`` shift their axis;
* ``A @ B``: a matrix of directions multiplies as a stack of matrices; vectors
  become one-row or one-column matrices and stacks are aligned, then squeezed;
  ``einsum`` gets a letter for the directions; ``outer`` is a broadcast product;
* indexing (read, write, and the adjoint of a read) gets a leading ``:``;
* a value that only lends its shape (the second input of ``sum_to`` and
  ``like``, ``np.shape(x)``, ``len(x)``) is replaced by its first direction's
  slice, which has the shape it had without directions.

Where a value without directions must become one with them (a branch or loop
iteration whose other side has them, an operand of ``concatenate``, a result),
it is broadcast to ``(k,) + shape`` without copying (the ``lead`` primitive).

The pass needs to know every value's number of axes (:func:`shape_infer.infer`);
where it does not, it stops with a compile error rather than guess.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NoReturn

from ad_compiler.errors import CompileError, Loc, VerificationError
from ad_compiler.ir import shape_infer, shapes
from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    For,
    Function,
    If,
    Namer,
    Var,
    While,
    verify,
)
from ad_compiler.primitives.indexing import WHOLE
from ad_compiler.primitives.lists import LIST_ROWS
from ad_compiler.primitives.lists import MUTATORS as LIST_MUTATORS
from ad_compiler.primitives.registry import Batching
from ad_compiler.primitives.table import PRIMITIVES

_UNSUPPORTED = "is not supported in vector mode (jacobian, hessian of array code)"


def batch(
    fn: Function,
    params: tuple[int, ...],
    results: tuple[int, ...],
    given: tuple,
    same_as: dict | None = None,
) -> Function:
    """``fn`` with a leading direction axis on the parameters at ``params`` (each
    a stack of arrays of the shape in ``given``; ``same_as`` names, for a
    tangent, the parameter whose shape it has) and on the results at
    ``results`` (those results always have it, zeros included)."""
    param_shapes = list(fn.param_shapes or (None,) * len(fn.params))
    for i, s in zip(params, given):
        param_shapes[i] = s
    fn = replace(fn, param_shapes=tuple(param_shapes))
    env = shape_infer.infer(fn, same_as)
    batched = {fn.params[i].name for i in params}
    taped: dict[str, set] = {}
    _flow(fn.body, batched, taped)
    namer = Namer.for_function(fn)
    k = namer.fresh("k")
    pass_ = _Batcher(env, namer, k, batched, taped, fn.name)
    head = [Eqn("len", (k,), (fn.params[params[0]],), fn.loc, "py")]
    pass_.out = head
    body = head + pass_.block(fn.body)
    out = list(pass_.subs(fn.results))
    pass_.out, pass_.loc = body, fn.loc
    for i in results:
        if not pass_.has(out[i]):
            out[i] = pass_.materialize(out[i], pass_.rank(out[i]))
    # every direction parameter has the same number k of directions: their
    # first axis gets one named length (that of the first one's), so that the
    # shapes of the finished code show values with directions of one shape to
    # be alike (an adjoint then adds into an array in place, backend/inplace.py)
    k_axis = (fn.params[params[0]].name, 0, 0)
    for i in params:
        s = param_shapes[i]
        param_shapes[i] = None if s is None else (k_axis,) + s
    return verify(
        replace(
            fn,
            body=tuple(body),
            results=tuple(out),
            param_shapes=tuple(param_shapes),
        )
    )


# --- which values carry directions ------------------------------------------------------
def _carries(e, batched: set) -> bool:
    # inputs that only give a shape never carry directions into the output
    skip = PRIMITIVES[e.prim].shape_only
    if e.prim == "construct":
        return False
    return any(
        isinstance(a, Var) and a.name in batched and i not in skip
        for i, a in enumerate(e.ins)
    )


def _flow(stmts, batched: set, taped: dict) -> None:
    """Add to ``batched`` every value that depends on one in it (loops to a fixed
    point); ``taped`` records which item positions of each tape carry directions."""
    for s in stmts:
        if isinstance(s, If):
            _flow(s.then, batched, taped)
            _flow(s.orelse, batched, taped)
            for o, t, e in zip(s.outs, s.then_vals, s.else_vals):
                if _has(t, batched) or _has(e, batched):
                    batched.add(o.name)
        elif isinstance(s, (For, While)):
            _flow_loop(s, batched, taped)
        elif s.prim == "push":
            tape, *items = s.ins
            marks = taped.setdefault(tape.name, set())
            marks.update(i for i, a in enumerate(items) if _has(a, batched))
        elif s.prim in LIST_MUTATORS:  # a list holding items with directions
            if any(_has(a, batched) for a in s.ins[1:]):
                batched.add(s.ins[0].name)
        elif _carries(s, batched):
            batched.update(o.name for o in s.outs)


def _flow_loop(s, batched: set, taped: dict) -> None:
    if s.over == "tape":
        marks = taped.get(s.args[0].name, set())
        batched.update(i.name for n, i in enumerate(s.index) if n in marks)
    for c, init in zip(s.carried, s.inits):
        if _has(init, batched):
            batched.add(c.name)
    while True:
        before = len(batched)
        _flow(getattr(s, "test", ()), batched, taped)
        _flow(s.body, batched, taped)
        for c, nxt in zip(s.carried, s.nexts):
            if _has(nxt, batched):
                batched.add(c.name)
        if len(batched) == before:
            return


def _has(a, batched: set) -> bool:
    return isinstance(a, Var) and a.name in batched


# --- the rewrite ---------------------------------------------------------------------------
class _Batcher:
    """Rewrites statements into ``self.out``, given which values carry directions.

    It walks statements, branches, loops and tapes itself; an equation with
    directions goes to its row's ``batch`` rule, to which it is the context
    (:class:`ad_compiler.primitives.registry.Batching`).
    """

    def __init__(
        self, env, namer: Namer, k: Var, batched: set, taped: dict, function: str
    ):
        self.env, self.namer, self.k = env, namer, k
        self.batched, self.taped = batched, taped
        self.function = function  # its name, for internal errors
        self.out: list = []
        self.loc: Loc | None = None
        self.alias: dict[str, object] = {}  # outputs found to be another value
        # ranks the shapes leave open: a branch merging an array with the 0.0
        # standing for a zero array of its shape has the array's rank
        self.ranks: dict[str, int] = {}

    def sub(self, a):
        return self.alias.get(a.name, a) if isinstance(a, Var) else a

    def subs(self, atoms) -> tuple:
        return tuple(self.sub(a) for a in atoms)

    # -- helpers
    def has(self, a) -> bool:
        return _has(a, self.batched)

    def known_rank(self, a) -> int | None:
        if not isinstance(a, Var):
            return 0
        s = self.env.get(a.name)
        if s is None:
            return self.ranks.get(a.name)
        return None if s == shapes.TUPLE else len(s)

    def learn_rank(self, out: Var, ins) -> None:
        """Where the shapes do not say, the rank of an elementwise result or a
        branch's merge is its inputs' largest (a 0.0 stands for zeros)."""
        if self.env.get(out.name) is None:
            ranks = [self.known_rank(a) for a in ins]
            known = [r for r in ranks if r is not None]
            if len(known) == len(ranks):
                self.ranks[out.name] = max(known)

    def rank(self, a) -> int:
        """The number of axes of ``a`` without the direction axis (an error if unknown)."""
        r = self.known_rank(a)
        if r is None:
            raise CompileError(
                "vector mode needs to know how many axes this value has "
                f"(`{a.name}` in the derivative)",
                self.loc,
                hint="this value's shape depends on run-time data (an int-array "
                "index, einsum ...); take one jvp or vjp per direction instead",
            )
        return r

    def new(self, prim: str, *ins, out: Var | None = None, ns="np", **params) -> Var:
        atoms = tuple(a if isinstance(a, (Var, Const)) else Const(a) for a in ins)
        v = out or self.namer.temp()
        self.out.append(
            Eqn(prim, (v,), atoms, self.loc, ns, tuple(sorted(params.items())))
        )
        return v

    def expand(self, a, by: int):
        """``a`` (with directions) with ``by`` axes of length 1 after the direction axis."""
        if by <= 0:
            return a
        # a[:, None] rather than np.expand_dims(a, 1): the same view, without
        # a Python-level NumPy function's call (about 4 µs against 0.2 µs);
        # a value with directions is an array, so indexing it always works
        return self.new("getitem", a, index=(WHOLE,) + (None,) * by)

    def materialize(self, a, rank: int):
        """``a`` (without directions) with the direction axis, as a value of ``rank``
        axes: broadcast, not copied."""
        return self.expand(self.new("lead", a, self.k), rank - self.rank(a))

    def template(self, a):
        """A value with ``a``'s shape without directions (its first direction)."""
        if not self.has(a):
            return a
        return self.new("getitem", a, Const(0), index=("a",))

    def error(self, what: str) -> NoReturn:
        raise CompileError(f"{what} {_UNSUPPORTED}", self.loc)

    def rename(self, v: Var, out: Var) -> None:
        """Make the last equation (which defined ``v``) define ``out`` instead."""
        last = self.out[-1] if self.out else None
        if not isinstance(last, Eqn) or last.outs != (v,):
            raise VerificationError(
                f"vector mode: renaming `{v.name}` to `{out.name}`, but the last "
                f"statement written does not define `{v.name}` alone",
                self.function,
                "batch",
            )
        self.out[-1] = replace(last, outs=(out,))

    # -- statements
    def block(self, stmts) -> list:
        saved, self.out = self.out, []
        try:
            for s in stmts:
                self.loc = s.loc
                if isinstance(s, Eqn) and self.alias:
                    s = s.with_ins(self.subs(s.ins))
                if isinstance(s, If):
                    self.branch(s)
                elif isinstance(s, (For, While)):
                    self.loop(s)
                else:
                    self.eqn(s)
            return self.out
        finally:
            self.out = saved

    def branch(self, s: If) -> None:
        if self.has(s.cond):
            self.error("a branch on a value that depends on the directions")
        then, orelse = self.block(s.then), self.block(s.orelse)
        tv, ev = list(self.subs(s.then_vals)), list(self.subs(s.else_vals))
        for i, o in enumerate(s.outs):
            self.learn_rank(o, (tv[i], ev[i]))
            if not self.has(o):
                continue
            r = self.rank(o)
            tv[i] = self._filled(tv[i], r, then)
            ev[i] = self._filled(ev[i], r, orelse)
        self.out.append(
            replace(
                s,
                cond=self.sub(s.cond),
                then=tuple(then),
                orelse=tuple(orelse),
                then_vals=tuple(tv),
                else_vals=tuple(ev),
            )
        )

    def _filled(self, a, rank: int, into: list):
        """``a`` as a value with directions and ``rank`` axes, computed at the end of ``into``."""
        saved, self.out = self.out, into
        try:
            if self.has(a):
                return self.expand(a, rank - self.rank(a))
            return self.materialize(a, rank)
        finally:
            self.out = saved

    def loop(self, s) -> None:
        inits = list(self.subs(s.inits))
        learnt = self._carried_ranks(s, inits)
        for i, (c, init) in enumerate(zip(s.carried, inits)):
            if self.has(c):
                inits[i] = self._filled(init, self.rank(c), self.out)
        body = self.block(s.body)
        nexts = list(self.subs(s.nexts))
        for i, (c, nxt) in enumerate(zip(s.carried, nexts)):
            if c.name in learnt and self.known_rank(nxt) not in (learnt[c.name], 0):
                del self.ranks[c.name]  # not the rank learnt: unknown after all
                self.rank(c)
            if self.has(c):
                nexts[i] = self._filled(nxt, self.rank(c), body)
        fields = dict(inits=tuple(inits), body=tuple(body), nexts=tuple(nexts))
        if isinstance(s, While):
            if self.has(s.cond):
                self.error("a loop whose test depends on the directions")
            fields["test"] = tuple(self.block(s.test))
            fields["cond"] = self.sub(s.cond)
        else:
            fields["args"] = self.subs(s.args)
        if s.brk is not None:
            if self.has(s.brk):
                self.error("a `break` that depends on the directions")
            fields["brk"] = self.sub(s.brk)
        self.out.append(replace(s, **fields))

    def _carried_ranks(self, s, inits) -> dict:
        """The ranks of carried values the shapes leave unknown because a number
        (a 0.0 standing for zeros: the adjoint of a value the loop overwrites
        before reading it) meets an array: the array's rank, when the arrays
        among the initial and next values whose rank is known agree on it
        (checked once the body is in vector mode, where the next values' ranks
        are learnt: a next value of another or still unknown rank is an error)."""
        learnt = {}
        for c, init, nxt in zip(s.carried, inits, s.nexts):
            if self.known_rank(c) is not None:
                continue
            ranks = {self.known_rank(a) for a in (init, nxt) if isinstance(a, Var)}
            ranks.discard(None)
            if len(ranks) == 1:
                rank = ranks.pop()
                assert rank is not None
                learnt[c.name] = self.ranks[c.name] = rank
        return learnt

    def eqn(self, e: Eqn) -> None:
        row = PRIMITIVES[e.prim]
        if row.elementwise:
            self.learn_rank(e.out, e.ins)
        elif row.shaped_like is not None and not e.param("lead"):
            self.learn_rank(e.out, (e.ins[row.shaped_like],))
        if e.prim == "push":  # every push of a tape item the loop reads with directions
            tape, *items = e.ins
            marks = self.taped.get(tape.name, ()) if isinstance(tape, Var) else ()
            items = [
                (
                    self.materialize(a, self.rank(a))
                    if i in marks and not self.has(a)
                    else a
                )
                for i, a in enumerate(items)
            ]
            self.out.append(e.with_ins((tape, *items)))
            return
        if e.prim in LIST_ROWS:  # (an empty list may get directions later)
            assert row.batch is not None  # (every list row has one)
            row.batch(self, e, dict(e.params), *e.ins)
            return
        if not any(self.has(a) for a in e.ins):
            self.out.append(e)
            return
        if e.prim == "call":  # (its emitted tangent and adjoint take one direction)
            raise CompileError(
                f"a call of a recursive function {_UNSUPPORTED}",
                self.loc,
                "take one direction per call: `adc compile --mode hvp` for H·v, "
                "`--mode forward` for J·v; the API's hessian, jacfwd and jacrev "
                "do so by themselves",
            )
        if not _carries(e, self.batched):  # directions only in shape-giving inputs
            skip = row.shape_only or range(len(e.ins))
            ins = tuple(
                self.template(a) if i in skip else a for i, a in enumerate(e.ins)
            )
            self.out.append(replace(e, ins=ins))
            return
        if row.batch is None:
            self.error(f"`{e.prim}`")
        context: Batching = self  # (mypy checks this class against the Protocol)
        row.batch(context, e, dict(e.params), *e.ins)

    def apply(self, prim: str, *ins, **params) -> Var:
        """``prim(*ins)`` of values with or without directions, through its
        row's vector-mode rule like any equation (what a composite row's rule
        writes its expansion with); its output variable."""
        v = self.new(prim, *ins, **params)
        e = self.out.pop()
        row = PRIMITIVES[prim]
        in_shapes = [self.env.get(a.name) if isinstance(a, Var) else () for a in e.ins]
        if row.shape is None:
            self.env[v.name] = shapes.broadcast(*in_shapes)
        else:
            self.env[v.name] = row.shape(dict(e.params), *in_shapes, loc=self.loc)
        if _carries(e, self.batched):
            self.batched.add(v.name)
        self.eqn(e)
        return self.sub(v)
