"""The abstract interpreter: a primal IR run on shapes and dependency matrices.

Every IR value becomes an :class:`~ad_compiler.sparsity.rules.Abstract`: its
concrete shape, its dependency matrix (rows: its elements, columns: the
differentiated inputs' elements) and its value where that is known without
the differentiated inputs (ints, shapes, constants, non-differentiated
arguments such as ``n``, index arrays).  Known values are computed as the
program would; that is how trip counts, slice bounds and indices are known.

Two modes:

* **static** (``runtime=False``): the differentiated inputs have shapes and no
  values.  A branch on a known value takes that branch; on an unknown one both
  branches are analysed and their patterns joined.  A ``for`` loop over a
  known range is iterated, stopping early at a fixed point (the carried
  patterns and values unchanged by an iteration whose rules cannot depend on
  the loop index).  A ``while`` whose test is known is iterated too.
  Anything whose *structure* needs an unknown value (an index, a trip count, a
  ``while`` test, a recursive call's branch) raises
  :class:`~ad_compiler.sparsity.rules.NeedRuntime`.
* **runtime** (``runtime=True``): every value is known (the point's), branches
  and trip counts are those the point takes: the pattern holds at this point.

The Hessian pattern is collected on the way: at each equation nonlinear in its
active operands, ``Pᵀ P`` of the output's dependencies (or, for a product,
the cross terms ``P_aᵀ P_b`` of the operands' contributions) is added.
"""

from __future__ import annotations

from math import prod

import numpy
import scipy.sparse as sp

from ad_compiler.errors import UsageError
from ad_compiler.ir.nodes import Const, Eqn, For, Function, If, Var, While
from ad_compiler.primitives.table import PRIMITIVES
from ad_compiler.sparsity import rules
from ad_compiler.sparsity.rules import UNKNOWN, Abstract, NeedRuntime

MAX_ITERATIONS = 1_000_000  # loop iterations analysed in one run
MAX_DEPTH = 64  # nested calls of recursive functions


class Unsupported(Exception):
    """The function uses what the interpreter does not model (run-time lists):
    the pattern is dense."""


def shape_of(value) -> tuple:
    return tuple(numpy.shape(value))


def evaluate(e: Eqn, vals: list):
    """``e``'s primitive on concrete values, as the emitted code computes it."""
    row = PRIMITIVES[e.prim]
    with numpy.errstate(all="ignore"):
        if row.elementwise and not e.params:
            arrays = any(numpy.ndim(v) for v in vals)
            ns = "np" if arrays and row.np_name else e.ns
            return row.evaluator(ns)(*vals)
        assert row.evaluate is not None  # (every row but call, handled apart)
        return row.evaluate(*vals, **dict(e.params))


def _dummy(shape: tuple):
    """A stand-in value of ``shape`` (for the output's shape only): square
    matrices made well-conditioned and positive definite."""
    if shape == ():
        return 0.75
    if len(shape) >= 2 and shape[-1] == shape[-2]:
        n = shape[-1]
        return numpy.broadcast_to(numpy.eye(n) * (n + 1) + 0.5, shape).copy()
    return numpy.full(shape, 0.75)


def same(a: Abstract, b: Abstract) -> bool:
    """Whether two abstract values are the same (shape, pattern, value)."""
    if a.shape != b.shape or (a.dep is None) != (b.dep is None):
        return False
    if a.dep is not None and (a.dep != b.dep).nnz:
        return False
    return _same_value(a.value, b.value)


def _same_value(x, y) -> bool:
    if x is UNKNOWN or y is UNKNOWN:
        return x is y
    if type(x) is not type(y):
        return False
    try:
        return bool(numpy.array_equal(x, y))
    except Exception:  # (values NumPy cannot compare: not the same)
        return False


def join(a: Abstract, b: Abstract, ncols: int) -> Abstract:
    """The value after a branch on an unknown condition: either branch's."""
    if a.shape != b.shape:
        raise NeedRuntime("a branch on the inputs gives values of different shapes")
    dep = None
    if a.dep is not None or b.dep is not None:
        size = prod(a.shape)
        dep = rules.union([a.dep, b.dep], size, ncols)
    value = a.value if _same_value(a.value, b.value) else UNKNOWN
    return Abstract(a.shape, dep, value)


class Interpreter:
    """Runs a function abstractly; ``hessian`` collects the Hessian pattern."""

    def __init__(self, ncols: int, runtime: bool, hessian: bool, callees=()):
        self.ncols = ncols
        self.runtime = runtime
        self.hessian = hessian
        self.terms: list = []  # Hessian pattern pieces (ncols x ncols)
        self.dense_rows: set[str] = set()
        self.callees = {c.name: c for c in callees}
        self.depth = 0
        # the names whose adjoint may be non-zero (None: not found yet)
        self.live: set | None = None
        self.iterations = 0

    # --- values ---------------------------------------------------------------------
    def atom(self, a, env) -> Abstract:
        if isinstance(a, Const):
            return Abstract((), None, a.value)
        return env[a.name]

    def run(self, fn: Function, args: list[Abstract]) -> list[Abstract]:
        env = {p.name: a for p, a in zip(fn.params, args)}
        if self.hessian and self.live is None:  # (the function analysed, not a callee)
            self.live = adjoint_live(fn)
        missing = fn.params[len(args) :]
        defaults = fn.defaults[len(fn.defaults) - len(missing) :] if missing else ()
        for p, d in zip(missing, defaults):
            env[p.name] = Abstract((), None, d.value)
        self.block(fn.body, env)
        return [self.atom(r, env) for r in fn.results]

    def block(self, stmts, env) -> None:
        for s in stmts:
            if isinstance(s, Eqn):
                self.eqn(s, env)
            elif isinstance(s, If):
                self.branch(s, env)
            else:
                self.loop(s, env)

    # --- equations ------------------------------------------------------------------
    def eqn(self, e: Eqn, env) -> None:
        if e.prim.startswith("list_") or e.prim in ("tape", "push", "tape_len"):
            raise Unsupported(f"`{e.prim}`")
        if e.prim == "print":
            return
        ins = [self.atom(a, env) for a in e.ins]
        if e.prim == "call":
            outs = self.call(e, ins)
        elif self.runtime:  # (an error here is the user's code failing at the point)
            outs = [self.apply(e, ins)]
        else:
            try:
                outs = [self.apply(e, ins)]
            except (ArithmeticError, IndexError, ValueError, TypeError) as exc:
                # a branch no point may take (x[5] of a 3-vector under a test on
                # the inputs) analysed statically: leave it to the point
                raise NeedRuntime(f"`{e.prim}` fails statically ({exc})") from None
        for o, v in zip(e.outs, outs):
            env[o.name] = v

    def apply(self, e: Eqn, ins: list[Abstract]) -> Abstract:
        row = PRIMITIVES[e.prim]
        unknown = [i for i, a in enumerate(ins) if a.value is UNKNOWN]
        if not unknown:
            value = evaluate(e, [a.value for a in ins])
        else:
            structural = [i for i in unknown if ins[i].dep is None]
            if (
                structural
                and not row.elementwise
                and not set(structural) <= set(row.shape_only)
            ):
                raise NeedRuntime(f"`{e.prim}` of a value computed from the inputs")
            stand_in = [_dummy(a.shape) if a.value is UNKNOWN else a.value for a in ins]
            try:
                value = evaluate(e, stand_in)
            except Exception as exc:
                raise NeedRuntime(f"the shape of `{e.prim}` ({exc})") from None
            if not set(unknown) <= set(row.shape_only):
                value_shape = shape_of(value)
                value = UNKNOWN
        shape = shape_of(value) if value is not UNKNOWN else value_shape
        active = [i for i, a in enumerate(ins) if a.dep is not None]
        if not active or rules.no_dependency(e.prim):
            return Abstract(shape, None, value)
        parts, dense = rules.contributions(e, ins, shape)
        if dense:
            self.dense_rows.add(e.prim)
        dep = rules.union(parts, prod(shape), self.ncols)
        if self.hessian and (self.depth or e.out.name in (self.live or ())):
            self.curvature(e, ins, active, parts, dep)
        return Abstract(shape, dep, value)

    def curvature(self, e: Eqn, ins, active: list[int], parts: list, dep) -> None:
        kind = rules.curvature(e.prim, active)
        if kind == "nonlinear":
            self.terms.append(rules.clean(dep.T @ dep))
        elif kind == "multilinear":
            if rules.RULES.get(e.prim) is rules.contraction:
                exact = rules.contraction_cross(e, ins, None)
                if exact is not None:
                    self.terms += exact + [t.T.tocsr() for t in exact]
                    return
            live = [p for p in parts if p is not None]
            for i, a in enumerate(live):
                for b in live[i + 1 :]:
                    cross = rules.clean(a.T @ b)
                    self.terms += [cross, cross.T.tocsr()]

    def call(self, e: Eqn, ins: list[Abstract]) -> list[Abstract]:
        """A call of a recursive function: its IR interpreted (at most
        :data:`MAX_DEPTH` deep; deeper, statically: at run time)."""
        callee = self.callees.get(e.param("fn"))
        if callee is None or e.param("custom") is not None:
            # a function with a custom derivative: dense among its arguments,
            # its value unknown (it is not run here)
            n = e.param("custom") or len(ins)
            self.dense_rows.add("call")
            dep = rules.union(rules.dense(e, ins[:n], ()), 1, self.ncols)
            if self.hessian:
                self.terms.append(rules.clean(dep.T @ dep))
            return [Abstract((), dep if dep.nnz else None, UNKNOWN) for _ in e.outs]
        if self.depth >= MAX_DEPTH:
            if not self.runtime:
                raise NeedRuntime(
                    f"recursion of `{callee.name}` deeper than {MAX_DEPTH}"
                )
        self.depth += 1
        try:
            return self.run(callee, ins)
        finally:
            self.depth -= 1

    # --- control flow ---------------------------------------------------------------
    def branch(self, s: If, env) -> None:
        cond = self.atom(s.cond, env)
        if cond.value is not UNKNOWN:
            taken = bool(cond.value)
            self.block(s.then if taken else s.orelse, env)
            vals = s.then_vals if taken else s.else_vals
            for o, v in zip(s.outs, vals):
                env[o.name] = self.atom(v, env)
            return
        self.block(s.then, env)
        self.block(s.orelse, env)
        for o, t, f in zip(s.outs, s.then_vals, s.else_vals):
            env[o.name] = join(self.atom(t, env), self.atom(f, env), self.ncols)

    def _tick(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_ITERATIONS:
            why = f"more than {MAX_ITERATIONS:,} loop iterations"
            if self.runtime:
                raise UsageError(f"no sparsity pattern: the function runs {why}")
            raise NeedRuntime(why)

    def loop(self, s, env) -> None:
        for c, init in zip(s.carried, s.inits):
            env[c.name] = self.atom(init, env)
        if isinstance(s, While):
            self._while(s, env)
            return
        if s.over != "range":
            raise Unsupported(f"a loop over `{s.over}`")
        bounds = [self.atom(a, env) for a in s.args]
        if any(b.value is UNKNOWN for b in bounds):
            raise NeedRuntime("a `for` loop whose range depends on the inputs")
        steady = not self.runtime and _index_free(s)
        for i in range(*(int(b.value) for b in bounds)):
            self._tick()
            env[s.index[0].name] = Abstract((), None, i)
            before = [env[c.name] for c in s.carried]
            self.block(s.body, env)
            stop = self._next(s, env)
            if stop:
                return
            if steady and all(same(a, env[c.name]) for a, c in zip(before, s.carried)):
                return  # a fixed point: every further iteration is this one

    def _next(self, s, env) -> bool:
        """Carry the next values; whether the loop breaks here."""
        nexts = [self.atom(n, env) for n in s.nexts]
        stop = False
        if s.brk is not None:
            brk = self.atom(s.brk, env)
            if brk.value is UNKNOWN:
                raise NeedRuntime("a `break` on the inputs")
            stop = bool(brk.value)
        for c, v in zip(s.carried, nexts):
            env[c.name] = v
        return stop

    def _while(self, s: While, env) -> None:
        while True:
            self._tick()
            self.block(s.test, env)
            cond = self.atom(s.cond, env)
            if cond.value is UNKNOWN:
                raise NeedRuntime("a `while` loop whose test depends on the inputs")
            if not cond.value:
                return
            self.block(s.body, env)
            if self._next(s, env):
                return

    def hessian_pattern(self) -> sp.csr_matrix:
        return rules.union(self.terms, self.ncols, self.ncols)


def adjoint_live(fn: Function) -> set[str]:
    """The names whose adjoint may be non-zero: the results, and backwards
    through rows with a derivative, branches' values and loops' carried
    values.  A nonlinear row whose output reaches the result only through a
    comparison, ``floor`` ... adds nothing to the Hessian (its ȳ is 0)."""
    edges: dict[str, set] = {}  # name -> the names it is computed from

    def add(out, atoms) -> None:
        edges.setdefault(out.name, set()).update(
            a.name for a in atoms if isinstance(a, Var)
        )

    for st in _flat(fn.body):
        if isinstance(st, Eqn):
            if not rules.no_dependency(st.prim) or st.prim == "call":
                for o in st.outs:
                    add(o, st.ins)
        elif isinstance(st, If):
            for o, t, f in zip(st.outs, st.then_vals, st.else_vals):
                add(o, (t, f))
        else:
            for c, i, n in zip(st.carried, st.inits, st.nexts):
                add(c, (i, n))
    live = {r.name for r in fn.results if isinstance(r, Var)}
    todo = list(live)
    while todo:
        for source in edges.get(todo.pop(), ()):
            if source not in live:
                live.add(source)
                todo.append(source)
    return live


# the elementwise rows whose pattern a known operand refines (rules.elementwise)
_BY_KNOWN = frozenset({"mul", "select"})


def _index_free(s: For) -> bool:
    """Whether the patterns a loop body gives cannot depend on its index: the
    index reaches only elementwise rows whose pattern does not depend on the
    values, never an index, a shape, a branch or a nested loop's bounds, nor
    a product or a ``where`` (refined by a known operand: ``x * (i == 2)`` has
    no dependence until the iteration where it is 1)."""
    tainted = {v.name for v in s.index}
    changed = True
    while changed:
        changed = False
        for st in _flat(s.body):
            reads = _reads(st)
            if not tainted & reads:
                continue
            if isinstance(st, Eqn):
                if not PRIMITIVES[st.prim].elementwise or st.prim in _BY_KNOWN:
                    return False
                outs = {o.name for o in st.outs}
            elif isinstance(st, If):
                if isinstance(st.cond, Var) and st.cond.name in tainted:
                    return False
                outs = {o.name for o in st.outs}
            else:
                return False
            if not outs <= tainted:
                tainted |= outs
                changed = True
    return s.brk is None or getattr(s.brk, "name", None) not in tainted


def _flat(stmts):
    for st in stmts:
        yield st
        if isinstance(st, If):
            yield from _flat(st.then)
            yield from _flat(st.orelse)
        elif isinstance(st, (For, While)):
            yield from _flat(st.test)
            yield from _flat(st.body)


def _reads(st) -> set:
    if isinstance(st, Eqn):
        atoms = st.ins
    elif isinstance(st, If):
        atoms = (st.cond,) + st.then_vals + st.else_vals
    else:
        atoms = tuple(st.args) + tuple(st.inits) + tuple(st.nexts)
    return {a.name for a in atoms if hasattr(a, "name")}
