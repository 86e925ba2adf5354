"""Values that certainly have the same shape, whatever the shapes are.

Abstract shapes (:mod:`ad_compiler.ir.shapes`) cannot say that ``x[b:2 * b]``
and ``x[:b]`` have one length, nor even that ``tanh(x[b:2 * b])`` has the
length of ``x[b:2 * b]`` when that length is unknown: an unknown axis is not
a name.  This pass names it: each value gets a *twin root*, a value it has
the shape of exactly, found from how it was made:

* an elementwise operation whose array inputs (the inputs that are not
  numbers) share a root has that root: ``-z``, ``1.0 + e``, ``a * b`` with
  ``a`` and ``b`` twins -- broadcasting equal shapes changes nothing;
* an operation whose result has the shape of one input (the row's
  ``shaped_like``: ``_unindex(x, ...)``, ``_like(t, x)``, ``x[i] = v``,
  ``x.copy()``, a softmax) has that input's root -- but not ``_sum_to``,
  whose result may stay smaller than its template;
* ``np.zeros(x.shape)`` has ``x``'s root;
* a loop-carried value has its initial value's root if its next value has it
  too, assuming the same of every carried value (true on entry, kept by each
  iteration: an induction); otherwise it is its own root.

Every other value is its own root.  Guarantee: two values with the same
root have equal shapes at run time (or both are numbers), in every
iteration in which both are defined.  Equations with a direction axis in
front (vector mode's ``lead``) are left out.
"""

from __future__ import annotations

from ad_compiler.ir import shapes
from ad_compiler.ir.nodes import Const, Eqn, For, Function, If, Loop, Var, iter_eqns
from ad_compiler.primitives.table import PRIMITIVES


def twin_roots(fn: Function, env: dict) -> dict[str, str]:
    """name -> the name of its twin root (only for values that are not their
    own root); ``env`` is :func:`ad_compiler.ir.shape_infer.infer` of ``fn``."""
    twins = _Twins(env, _pushes(fn.body))
    twins.block(fn.body)
    return twins.roots


def same_shape(a, b, roots: dict[str, str]) -> bool:
    """Whether the atoms ``a`` and ``b`` are twins (see the module docstring)."""
    if not (isinstance(a, Var) and isinstance(b, Var)):
        return False
    return roots.get(a.name, a.name) == roots.get(b.name, b.name)


def _pushes(stmts) -> dict[str, list[Eqn]]:
    """tape name -> its pushes."""
    out: dict[str, list[Eqn]] = {}
    for e in iter_eqns(stmts):
        if e.prim == "push":
            out.setdefault(e.ins[0].name, []).append(e)
    return out


class _Twins:
    def __init__(self, env: dict, pushes: dict[str, list[Eqn]]):
        self.env, self.pushes = env, pushes
        self.roots: dict[str, str] = {}
        self.shape_of: dict[str, str] = {}  # `x.shape`'s name -> x's root

    def root(self, a) -> str | None:
        return self.roots.get(a.name, a.name) if isinstance(a, Var) else None

    def block(self, stmts) -> None:
        for s in stmts:
            if isinstance(s, Eqn):
                r = self.eqn_root(s)
                if r is not None and len(s.outs) == 1 and r != s.out.name:
                    self.roots[s.out.name] = r
            elif isinstance(s, If):
                self.block(s.then)
                self.block(s.orelse)
                for out, a, b in zip(s.outs, s.then_vals, s.else_vals):
                    ra, rb = self.root(a), self.root(b)
                    if ra is not None and ra == rb:
                        self.roots[out.name] = ra
            elif isinstance(s, Loop):
                self.loop(s)

    def loop(self, s) -> None:
        """Carried values keep their initial value's root where every
        iteration's next value has it (assumed of all, then checked, until
        the assumption holds).  A loop over a tape's rows: the columns of a
        row that were pushed as twins are twins."""
        if isinstance(s, For) and s.over == "tape":
            self.columns(s)
        outer = dict(self.roots)
        assumed = {c.name: self.root(i) for c, i in zip(s.carried, s.inits)}
        while True:
            self.roots = {**outer, **{c: r for c, r in assumed.items() if r}}
            self.block(s.test)
            self.block(s.body)
            kept = {
                c.name: assumed[c.name]
                for c, n in zip(s.carried, s.nexts)
                if assumed.get(c.name) and self.root(n) == assumed[c.name]
            }
            if kept == {c: r for c, r in assumed.items() if r}:
                return
            assumed = kept

    def columns(self, s) -> None:
        tape = getattr(s.args[0], "name", None)
        pushes = self.pushes.get(tape, []) if tape is not None else []
        if len(pushes) != 1:
            return  # (rows pushed in two places: no one row's columns to match)
        items = pushes[0].ins[1:]
        first: dict[str, str] = {}
        for v, item in zip(s.index, items):
            r = self.root(item)
            if r is None:
                continue
            if r in first:
                self.roots[v.name] = first[r]
            else:
                first[r] = v.name

    def eqn_root(self, e: Eqn) -> str | None:
        if e.param("lead") or e.prim not in PRIMITIVES:
            return None
        row = PRIMITIVES[e.prim]
        if row.shaped_like is not None and e.prim != "sum_to":
            return self.root(e.ins[row.shaped_like])
        if e.prim == "shape" and len(e.ins) == 1 and isinstance(e.ins[0], Var):
            self.shape_of[e.out.name] = self.roots.get(e.ins[0].name, e.ins[0].name)
            return None
        if e.prim == "construct":
            if e.param("fn") in ("zeros", "ones") and isinstance(e.ins[0], Var):
                return self.shape_of.get(e.ins[0].name)
            return None
        if not row.elementwise or row.effect:
            return None
        found = {self.root(a) for a in e.ins if not self.number(a)}
        return found.pop() if len(found) == 1 and None not in found else None

    def number(self, a) -> bool:
        if isinstance(a, Const):
            return isinstance(a.value, (int, float, bool))
        return self.env.get(a.name) == shapes.SCALAR
