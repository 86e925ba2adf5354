"""Run IR on SymPy expressions, unrolling every loop and call.

:class:`Unroller` executes a :class:`~ad_compiler.ir.nodes.Function` — a primal trace
or an emitted derivative, tapes and recursive calls included — with SymPy
expressions as values.  The result is one expression per result of the
function, the closed formula a computer-algebra system can differentiate:

* straight-line code becomes nested expressions;
* a branch whose condition the values decide (``n == 0`` for a concrete ``n``)
  runs that branch only; any other branch runs both arms and merges each value
  as ``Piecewise((then_value, cond), (else_value, True))``;
* a loop runs as many times as its values say: its trip count and every exit
  test must come out as concrete numbers, so a loop is unrolled only when its
  trip count is known without the inputs;
* a call of a recursive function runs the callee the same way.

A function whose derivative is given by ``custom_derivative`` becomes an unknown
SymPy function whose partial derivatives are the given ones (:func:`opaque_call`).

What has no closed form raises :class:`NotExpressible`, with the reason: a loop
whose trip count depends on an input, a branch that pushes onto a tape, a
recursion whose depth depends on an input, or work beyond ``max_ops``
operations or ``max_calls`` calls.

With ``decide`` given, conditions and trip counts that depend on the inputs
are decided by it instead (the check passes one evaluating them at a point):
the expressions are then those of the path that point takes, valid around it.
:attr:`Unroller.ops` counts the operations executed (what ``adc swell`` reports).
"""

from __future__ import annotations

import itertools

from ad_compiler.errors import UsageError
from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    Function,
    If,
    While,
    tree_leaves,
)
from ad_compiler.primitives.lists import LIST_ROWS
from ad_compiler.primitives.table import PRIMITIVES
from ad_compiler.primitives.truth import (  # noqa: F401  (re-exported)
    NotExpressible,
    as_number,
    is_bool,
    sympy_module,
)
from ad_compiler.primitives.truth import (
    select as _select,
)


def apply_sympy(prim: str, *args, **params):
    """``prim`` applied to SymPy expressions, with Python's semantics (its row's
    ``sympy`` translation; by default SymPy's function of the same name)."""
    sp = sympy_module()
    row = PRIMITIVES[prim]
    if not row.logical:  # True and False are 1 and 0 in arithmetic
        args = tuple(as_number(a) for a in args)
    if row.sympy is not None:
        return row.sympy(sp, *args, **params)
    # evaluate=False: SymPy's automatic evaluation asks assumptions of the whole
    # argument (is it real? positive?), exponential on an unrolled loop's tree
    return getattr(sp, prim)(*args, evaluate=False)


_OPAQUE: dict[tuple, type] = {}


def opaque_call(name: str, args, partials):
    """``name(*args)`` for a function with a custom derivative: SymPy cannot see
    inside it, so it is an unknown function whose partial derivatives are the
    ones the user gave (``fdiff``), and ``sympy.diff`` applies the chain rule.

    One class per (function, arguments), so that the primal and a derivative
    calling it on the same arguments hold the same unknown.
    """
    sp = sympy_module()
    key = (name, tuple(args))
    cls = _OPAQUE.get(key)
    if cls is None:
        given = tuple(partials)

        def fdiff(self, argindex=1):
            return given[argindex - 1]

        cls = type(name, (sp.Function,), {"fdiff": fdiff, "opaque": True})
        _OPAQUE[key] = cls
    return cls(*args)


def opaque_calls(expr) -> set:
    """The calls of functions with a custom derivative in ``expr``."""
    sp = sympy_module()
    return {a for a in expr.atoms(sp.Function) if getattr(a, "opaque", False)}


def sympy_const(value, exact: bool = True):
    """A literal as SymPy holds it: exact (``2.0 * x`` equals ``2 * x``), or
    as a float for code meant to be printed (``math.pi`` as 3.14…, not a fraction)."""
    sp = sympy_module()
    if isinstance(value, bool):
        return sp.true if value else sp.false
    if isinstance(value, int):
        return sp.Integer(value)
    if not exact and value != int(value):
        return sp.Float(value, 17)  # every digit of the double
    return sp.nsimplify(repr(value), rational=True)


def _whole(v) -> bool:
    """Whether ``v`` is a finite number with an integer value (``3``, ``3.0``)."""
    if not getattr(v, "is_number", False) or not v.is_finite:
        return False
    # as a float: SymPy's Float(3.0) and Integer(3) compare unequal
    return float(v).is_integer()


class Unroller:
    """Executes IR on SymPy expressions (see the module docstring)."""

    def __init__(
        self,
        program: dict[str, Function] | None = None,
        *,
        decide=None,
        max_ops: int = 200_000,
        max_calls: int = 2_000,
        max_depth: int = 40,
        exact: bool = True,
    ):
        self.program = dict(program or {})
        self.decide = decide
        self.max_ops = max_ops
        self.max_calls = max_calls
        self.exact = exact
        self._calls = 0
        self.max_depth = max_depth
        self.ops = 0  # primitive operations executed (tape operations not counted)
        self._depth = 0
        self._function = ""

    # --- entry point -----------------------------------------------------------
    def call(self, fn: Function, args) -> tuple:
        """The results of ``fn`` on ``args``, flat, in ``tree`` order."""
        if len(args) != len(fn.params):
            raise UsageError(f"`{fn.name}` takes {len(fn.params)} arguments")
        self._depth += 1
        outer, self._function = self._function, fn.name
        try:
            # each call nests a few Python frames per block and SymPy recurses
            # too: stay well inside Python's recursion limit
            self._calls += 1
            if self._calls > self.max_calls:  # both arms of a branch recurse
                raise NotExpressible(
                    f"`{fn.name}` unrolls into more than {self.max_calls:,} calls"
                )
            if self._depth > self.max_depth:
                raise NotExpressible(
                    f"`{fn.name}` recurses more than {self.max_depth} calls deep "
                    "(its depth depends on an input)"
                )
            env = {p.name: a for p, a in zip(fn.params, args)}
            self._run(fn.body, env)
            flat = [self._val(r, env) for r in fn.results]
            return tuple(flat[i] for i in tree_leaves(fn.tree))
        finally:
            self._depth -= 1
            self._function = outer

    # --- values and decisions ----------------------------------------------------
    def _val(self, a, env):
        if isinstance(a, Const):
            return sympy_const(a.value, self.exact)
        return env[a.name]

    def _bool(self, c, why: str):
        """A condition as a Python bool, or None when only the inputs decide it."""
        if isinstance(c, bool):
            return c
        sp = sympy_module()
        if c is sp.true or c is sp.false:
            return bool(c)
        if getattr(c, "is_number", False) and not c.free_symbols:
            return bool(c != 0)
        if self.decide is not None:
            return bool(self.decide(c))
        if why:
            raise NotExpressible(why)
        return None

    def _int(self, v, why: str, s=None) -> int:
        if isinstance(v, int):
            return v
        if getattr(v, "is_Integer", False):
            return int(v)
        if _whole(v):  # abs(-3), unevaluated
            return int(v)
        if self.decide is not None:
            value = self.decide(v)
            if not _whole(value):  # Python's range() would raise TypeError
                # the point is wrong, not the function: a usage error, worded as
                # adc trace words it
                shown = float(value) if getattr(value, "is_number", False) else value
                where = f" at line {s.loc.line}" if s and s.loc is not None else ""
                raise UsageError(
                    f"`range`{where} takes integers, and the point (--at) gives it "
                    f"{shown!r}"
                )
            return int(value)
        raise NotExpressible(why)

    # --- statements ---------------------------------------------------------------
    def _run(self, stmts, env) -> None:
        for s in stmts:
            if isinstance(s, Eqn):
                self._eqn(s, env)
            elif isinstance(s, If):
                self._if(s, env)
            else:
                self._loop(s, env)

    def _eqn(self, s: Eqn, env) -> None:
        ins = [self._val(a, env) for a in s.ins]
        if s.prim == "tape":
            env[s.out.name] = []
            return
        if s.prim == "tape_len":  # where a tape's rows start or stop
            env[s.out.name] = len(ins[0])
            return
        if s.prim == "push":
            tape, *items = ins
            tape.append(items[0] if len(items) == 1 else tuple(items))
            return
        if s.prim == "print":  # the user's output: no value to compute
            return
        if s.prim == "call":
            name = s.param("fn")
            n = s.param("custom")
            if n is not None:
                env[s.out.name] = opaque_call(name, ins[:n], ins[n:])
                return
            outs = self.call(self.program[name], ins)
            for o, v in zip(s.outs, outs):
                env[o.name] = v
            return
        if s.prim in LIST_ROWS:
            raise NotExpressible(
                f"`{self._function}` builds a list whose length is known only at "
                "run time (`append` in a loop over `range(n)`, an array's rows or "
                "a `while`); the SymPy backend unrolls lists of a length known "
                "when compiling: give the loop bounds known then (literals or module "
                "constants)"
            )
        if PRIMITIVES[s.prim].shape is not None:
            raise NotExpressible(
                f"`{self._function}` uses the array operation `{s.prim}`; "
                "the SymPy backend works on scalars"
            )
        self.ops += 1
        if self.ops > self.max_ops:
            raise NotExpressible(
                f"`{self._function}` unrolls to more than {self.max_ops:,} operations"
            )
        env[s.out.name] = apply_sympy(s.prim, *ins, **dict(s.params))

    def _if(self, s: If, env) -> None:
        cond = self._val(s.cond, env)
        taken = self._bool(cond, "")
        if taken is not None:
            self._run(s.then if taken else s.orelse, env)
            vals = s.then_vals if taken else s.else_vals
            merged = [self._val(v, env) for v in vals]
        else:
            # Both arms run in one environment: names are bound once, and a later
            # branch on the same condition reads its own arm's values (see ir.If).
            tapes = {k: len(v) for k, v in env.items() if isinstance(v, list)}
            self._run(s.then, env)
            self._run(s.orelse, env)
            if any(len(env[k]) != n for k, n in tapes.items()):
                raise NotExpressible(
                    f"`{self._function}` records a branch that depends on an input "
                    f"(line {s.loc.line if s.loc else '?'}) on a tape"
                )
            merged = [
                _select(cond, self._val(t, env), self._val(e, env))
                for t, e in zip(s.then_vals, s.else_vals)
            ]
        for o, v in zip(s.outs, merged):
            env[o.name] = v

    def _loop(self, s, env) -> None:
        line = s.loc.line if s.loc is not None else "?"
        why = (
            f"the loop at line {line} of `{self._function}` runs a number of times "
            "that depends on an input; SymPy can only unroll a loop whose trip "
            "count is known"
        )
        for c, i in zip(s.carried, s.inits):
            env[c.name] = self._val(i, env)
        if isinstance(s, While):
            indices = itertools.count()
        elif s.over == "tape":
            rows = list(self._val(s.args[0], env))
            if len(s.args) == 3:  # one outer iteration's rows
                rows = rows[self._val(s.args[1], env) : self._val(s.args[2], env)]
            indices = reversed(rows)
        else:
            bounds = range(*(self._int(self._val(a, env), why, s) for a in s.args))
            indices = reversed(bounds) if s.over == "reversed_range" else bounds
        for index in indices:
            if isinstance(s, While):
                self._run(s.test, env)
                if not self._bool(self._val(s.cond, env), why):
                    break
            elif len(s.index) == 1:
                tape = s.over == "tape"  # a tape holds expressions already
                env[s.index[0].name] = index if tape else sympy_const(index)
            else:
                for v, item in zip(s.index, index):
                    env[v.name] = item
            self._run(s.body, env)
            nexts = [self._val(n, env) for n in s.nexts]
            stop = s.brk is not None and self._bool(self._val(s.brk, env), why)
            for c, v in zip(s.carried, nexts):
                env[c.name] = v
            if stop:
                break
