"""Vector mode for array code: a derivative's IR with a direction axis in front.

``jacfwd``, ``jacrev`` and ``hessian`` push every direction through one call of
emitted code.  In scalar code a tangent is then a 1-D array of directions and
the code runs unchanged, because NumPy broadcasts a number against it.  In
array code a tangent of ``x`` (shape ``s``) becomes an array of shape
``(k,) + s`` (axis 0 counts the directions), and every operation it meets has
to know the extra axis is there.  :func:`batch` rewrites a derivative's IR so
that it does, one primitive at a time, as JAX's batching rules do for vmap.

With ``r`` the number of axes a value has without the direction axis:

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

The pass needs to know every value's number of axes (:func:`shapes.infer`);
where it does not, it stops with a compile error rather than guess.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir import shapes
from ad_compiler.errors import CompileError
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
from ad_compiler.ir.primitives import PRIMITIVES
from ad_compiler.ir.array_primitives import parse_einsum

# inputs that only give a shape: they never carry directions into the output
SHAPE_ONLY = {
    "sum_to": (1,),
    "like": (1,),
    "unindex": (0,),
    "shape": (0,),
    "len": (0,),
    "size": (0,),
}
# primitives whose result has the shape of one input
SHAPED_LIKE = {"like": 1, "sum_to": 1, "unindex": 0, "setitem": 0, "copy": 0}
WHOLE = ("s", False, False, False)  # the index item `:`
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
    param_shapes = list(fn.param_shapes)
    for i, s in zip(params, given):
        param_shapes[i] = s
    fn = replace(fn, param_shapes=tuple(param_shapes))
    env = shapes.infer(fn, same_as)
    batched = {fn.params[i].name for i in params}
    taped: dict[str, set] = {}
    _flow(fn.body, batched, taped)
    namer = Namer.for_function(fn)
    k = namer.fresh("k")
    pass_ = _Batcher(env, namer, k, batched, taped)
    head = [Eqn("len", (k,), (fn.params[params[0]],), fn.loc, "py")]
    pass_.out = head
    body = head + pass_.block(fn.body)
    out = list(pass_.subs(fn.results))
    pass_.out, pass_.loc = body, fn.loc
    for i in results:
        if not pass_.has(out[i]):
            out[i] = pass_.materialize(out[i], pass_.rank(out[i]))
    param_shapes = list(fn.param_shapes)
    for i in params:
        s = param_shapes[i]
        param_shapes[i] = None if s is None else (shapes.ANY,) + s
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
    skip = SHAPE_ONLY.get(e.prim, ())
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
    """Rewrites statements into ``self.out``, given which values carry directions."""

    def __init__(self, env, namer: Namer, k: Var, batched: set, taped: dict):
        self.env, self.namer, self.k = env, namer, k
        self.batched, self.taped = batched, taped
        self.out: list = []
        self.loc = None
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
            if None not in ranks:
                self.ranks[out.name] = max(ranks)

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
        axis = 1 if by == 1 else tuple(range(1, 1 + by))
        return self.new("expand_dims", a, axis=axis)

    def materialize(self, a, rank: int):
        """``a`` (without directions) with the direction axis, as a value of ``rank``
        axes: broadcast, not copied."""
        return self.expand(self.new("lead", a, self.k), rank - self.rank(a))

    def template(self, a):
        """A value with ``a``'s shape without directions (its first direction)."""
        if not self.has(a):
            return a
        return self.new("getitem", a, Const(0), index=("a",))

    def error(self, what: str):
        raise CompileError(f"{what} {_UNSUPPORTED}", self.loc)

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
        for i, (c, init) in enumerate(zip(s.carried, inits)):
            if self.has(c):
                inits[i] = self._filled(init, self.rank(c), self.out)
        body = self.block(s.body)
        nexts = list(self.subs(s.nexts))
        for i, (c, nxt) in enumerate(zip(s.carried, nexts)):
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

    def eqn(self, e: Eqn) -> None:
        if PRIMITIVES[e.prim].elementwise:
            self.learn_rank(e.out, e.ins)
        elif e.prim in SHAPED_LIKE and not e.param("lead"):
            self.learn_rank(e.out, (e.ins[SHAPED_LIKE[e.prim]],))
        if e.prim == "push":  # every push of a tape item the loop reads with directions
            tape, *items = e.ins
            marks = self.taped.get(tape.name, ())
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
        if not any(self.has(a) for a in e.ins):
            self.out.append(e)
            return
        if e.prim == "call":
            self.error("a call of a recursive function")
        if not _carries(e, self.batched):  # directions only in shape-giving inputs
            skip = SHAPE_ONLY.get(e.prim, range(len(e.ins)))
            ins = tuple(
                self.template(a) if i in skip else a for i, a in enumerate(e.ins)
            )
            self.out.append(replace(e, ins=ins))
            return
        prim = PRIMITIVES[e.prim]
        if prim.elementwise:
            self.elementwise(e, prim)
            return
        rule = getattr(self, "r_" + e.prim, None)
        if rule is None:
            self.error(f"`{e.prim}`")
        rule(e, dict(e.params), *e.ins)

    def elementwise(self, e: Eqn, prim) -> None:
        r = max(self.rank(a) for a in e.ins)
        ins = tuple(
            self.expand(a, r - self.rank(a)) if self.has(a) else a for a in e.ins
        )
        ns = e.ns
        # math.sin, max(a, b) ... do not take arrays: their NumPy twins do
        # (operators and `a if c else b` on a condition without directions do)
        by_name = ns != "np" and prim.call_name(ns) is not None
        if by_name and not (e.prim == "select" and not self.has(e.ins[0])):
            if not prim.np_name:
                self.error(f"`{e.prim}` of a value with directions")
            ns = "np"
        self.out.append(replace(e, ins=ins, ns=ns))

    # -- the rules of the array primitives (r_<prim>(eqn, params, *ins))
    def _reduction(self, e, p, x):
        r = self.rank(x)
        axis = p.get("axis")
        if axis is None:
            axis = tuple(range(1, r + 1))
        elif isinstance(axis, tuple):
            axis = tuple(a + 1 if a >= 0 else a for a in axis)
        else:
            axis = axis + 1 if axis >= 0 else axis
        self.out.append(replace(e, params=tuple(sorted({**p, "axis": axis}.items()))))

    r_sum = r_mean = r_amax = r_amin = r_prod = _reduction

    def r_matmul(self, e, p, x, y):
        rx, ry = self.rank(x), self.rank(y)
        xb, yb = self.has(x), self.has(y)
        sx, sy = max(rx, 2) - 2, max(ry, 2) - 2
        if not yb and ((rx >= 2 and sy <= sx) or (rx == 1 and ry <= 2)):
            self.new(
                "matmul", x, y, out=e.out, ns=e.ns
            )  # directions as rows or a stack
            return
        if not xb and rx == 1 and ry == 1:
            self.new("matmul", y, x, out=e.out, ns=e.ns)  # (k, n) @ (n,)
            return
        # vectors as one-row / one-column matrices, stacks aligned behind the directions
        a = self.new("expand_dims", x, axis=-2) if rx == 1 else x
        b = self.new("expand_dims", y, axis=-1) if ry == 1 else y
        stack = max(sx, sy)
        a = self._stacked(a, stack - sx, xb)
        b = self._stacked(b, stack - sy, yb)
        squeeze = {(1, 1): (-2, -1), (1, 0): -2, (0, 1): -1}.get((rx == 1, ry == 1))
        if squeeze is None:
            self.new("matmul", a, b, out=e.out, ns=e.ns)
            return
        self.new("squeeze", self.new("matmul", a, b, ns=e.ns), out=e.out, axis=squeeze)

    def _stacked(self, a, missing: int, has: bool):
        if has:
            return self.expand(a, missing)
        axis = tuple(range(missing + 1))
        return self.new("expand_dims", a, axis=axis[0] if len(axis) == 1 else axis)

    def r_dot(self, e, p, x, y):
        if self.rank(x) == 0 or self.rank(y) == 0:  # a product by a number
            self.elementwise(
                replace(e, prim="mul", ns="py", params=()), PRIMITIVES["mul"]
            )
            return
        self.r_matmul(e, p, x, y)

    def r_outer(self, e, p, x, y):
        def flat(a, axis):
            if self.has(a):
                a = self.new("reshape", a, -1, lead=1)
            elif self.rank(a) != 1:
                a = self.new("reshape", a, -1)
            return self.new("expand_dims", a, axis=axis) if axis is not None else a

        a = flat(x, -1)
        b = flat(y, -2 if self.has(y) else None)
        self.new("mul", a, b, out=e.out, ns="py")

    def r_einsum(self, e, p, x, y):
        a, c, out = parse_einsum(p["spec"], self.loc)
        letter = next(ch for ch in "zyxwvutsrqponmlkjihgfedcba" if ch not in a + c)
        a = letter + a if self.has(x) else a
        c = letter + c if self.has(y) else c
        self.new("einsum", x, y, out=e.out, spec=f"{a},{c}->{letter}{out}")

    def r_transpose(self, e, p, x):
        r = self.rank(x)
        axes = p.get("axes")
        if axes is None:
            axes = tuple(range(r, 0, -1))
        else:
            axes = tuple(a % r + 1 for a in axes)
        self.new("transpose", x, out=e.out, axes=(0,) + axes)

    def r_reshape(self, e, p, x, *dims):
        lead = p.get("lead", 0) + 1  # the directions, and any already in front
        self.out.append(replace(e, params=tuple(sorted({**p, "lead": lead}.items()))))

    def r_expand_dims(self, e, p, x):
        self._shifted(e, p, "axis")

    def r_squeeze(self, e, p, x):
        if p.get("axis") is None:
            s = self.env.get(x.name)
            if s is None or any(d != shapes.ONE and shapes.may_be_one(d) for d in s):
                self.error(
                    "`np.squeeze` without an axis, of an array of unknown shape,"
                )
            axes = tuple(i for i, d in enumerate(s) if d == shapes.ONE)
            p = {**p, "axis": axes}
        self._shifted(e, p, "axis")

    def _shifted(self, e, p, key):
        axis = p.get(key, 0)
        if isinstance(axis, tuple):
            axis = tuple(a + 1 if a >= 0 else a for a in axis)
        else:
            axis = axis + 1 if axis >= 0 else axis
        self.out.append(replace(e, params=tuple(sorted({**p, key: axis}.items()))))

    def _joined(self, e, p, *xs):
        ins = tuple(a if self.has(a) else self.materialize(a, self.rank(a)) for a in xs)
        self._shifted(replace(e, ins=ins), p, "axis")

    r_concatenate = r_stack = _joined

    def _index(self, p) -> tuple:
        return tuple(sorted({**p, "index": (WHOLE,) + tuple(p["index"])}.items()))

    def _selected_rank(self, x, parts, layout) -> int:
        s = PRIMITIVES["getitem"].shape(
            {"index": layout}, self.env.get(x.name), *[self._shape(a) for a in parts]
        )
        if s is None or s == shapes.TUPLE:
            self.error("writing into an array at an index whose shape is unknown")
        return len(s)

    def _shape(self, a):
        return self.env.get(a.name) if isinstance(a, Var) else shapes.SCALAR

    def r_getitem(self, e, p, x, *parts):
        if any(self.has(a) for a in parts):
            self.error("an index that depends on the directions")
        self.out.append(replace(e, params=self._index(p)))

    def r_setitem(self, e, p, x, v, *parts):
        if any(self.has(a) for a in parts):
            self.error("an index that depends on the directions")
        if not self.has(x):
            x = self.materialize(x, self.rank(x))
        if self.has(v):
            v = self.expand(
                v, self._selected_rank(e.ins[0], parts, p["index"]) - self.rank(v)
            )
        self.out.append(replace(e, ins=(x, v) + parts, params=self._index(p)))

    def r_unindex(self, e, p, x, g, *parts):
        if any(self.has(a) for a in parts):
            self.error("an index that depends on the directions")
        base = self.template(x)
        g = self.expand(g, self._selected_rank(x, parts, p["index"]) - self.rank(g))
        full = self.new("lead", base, self.k)
        self.out.append(replace(e, ins=(full, g) + parts, params=self._index(p)))

    def r_sum_to(self, e, p, g, x):
        rg, rx = self.rank(g), self.rank(x)
        how = shapes.reduced_axes(self.env.get(g.name), self.env.get(x.name))
        if how is not None:
            lead, keep = how
            if lead:
                g = self.new("sum", g, axis=tuple(range(1, lead + 1)), method=True)
            if keep:
                g = self.new("sum", g, axis=tuple(a + 1 for a in keep), keepdims=True)
            if g is e.ins[0]:
                self.alias[e.out.name] = g  # nothing to sum
            else:
                self._rename(g, e.out)
            return
        if rg > rx:
            g = self.new("sum", g, axis=tuple(range(1, rg - rx + 1)), method=True)
        g = self.expand(g, rx - rg)
        full = self.new("lead", self.template(x), self.k)
        self.new("sum_to", g, full, out=e.out, ns=e.ns)

    def _rename(self, v: Var, out: Var) -> None:
        """Make the last equation (which defined ``v``) define ``out`` instead."""
        last = self.out[-1]
        assert last.outs == (v,)
        self.out[-1] = replace(last, outs=(out,))

    def r_like(self, e, p, t, x):
        st = self.env.get(t.name) if isinstance(t, Var) else shapes.SCALAR
        plain = not p.get("copy") and not p.get("lead")
        if plain and st == self.env.get(getattr(x, "name", None)):
            if st is not None and st != shapes.TUPLE and shapes.ANY not in st:
                self.alias[e.out.name] = t  # already of x's shape
                return
        t = self.expand(t, self.rank(x) + p.get("lead", 0) - self.rank(t))
        params = tuple(sorted({**p, "lead": p.get("lead", 0) + 1}.items()))
        self.out.append(replace(e, ins=(t, self.template(x)), params=params))

    def r_copy(self, e, p, x):
        self.out.append(e)

    def r_lead(self, e, p, v, k):  # vector mode of vector-mode code: behind ours
        self.out.append(
            replace(e, params=tuple(sorted({**p, "at": p.get("at", 0) + 1}.items())))
        )
