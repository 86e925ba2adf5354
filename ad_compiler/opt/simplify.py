"""Simplification: constant folding, algebraic identities, copy propagation and
common-subexpression elimination, in one forward walk (:func:`simplify`).

Identities are only those exact in floating point for finite values (``x * 0``
is *not* folded: it is ``nan`` for infinite ``x``), with one exception, the
factoring of a common factor ``a * c ± b * c -> (a ± b) * c``, exact in real
arithmetic but rounded differently (see :meth:`_Simplifier.factor`).  When a rewrite makes two
names the same value the more readable one survives (``x1_bar`` over ``v7``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy

from ad_compiler.ir.nodes import (
    Atom,
    Const,
    Eqn,
    For,
    Function,
    If,
    Loop,
    Namer,
    Var,
    While,
    blocks,
    defined_names,
    name_rank,
    own_reads,
    rename_vars,
)
from ad_compiler.opt.dce import _replace_if_changed, eliminate_dead_code
from ad_compiler.primitives.table import PRIMITIVES, where

_MAX_EXACT_INT = 2**53


def _is(atom, value) -> bool:
    return isinstance(atom, Const) and atom.value == value


def _fold(eqn: Eqn) -> Const | None:
    """The constant an equation of constants evaluates to, if it is safe to compute now."""
    if eqn.params or not PRIMITIVES[eqn.prim].elementwise:
        return None  # np.zeros(3), np.sum(2.0, axis=...): not a number, or not now
    for a in eqn.ins:
        if not isinstance(a, Const):
            return None
    if not _bounded(eqn.prim, [a.value for a in eqn.ins]):
        return None  # `9 ** 9 ** 9`: left for run time, as the user wrote it
    try:
        with numpy.errstate(all="raise"):
            value = PRIMITIVES[eqn.prim].evaluator(eqn.ns)(*(a.value for a in eqn.ins))
    except (ArithmeticError, ValueError, TypeError, FloatingPointError):
        return None  # let it fail at run time, where the user sees it
    if isinstance(value, numpy.generic):
        value = value.item()  # np.float64 -> float, same bits
    if not isinstance(value, (bool, int, float)):
        return None  # e.g. complex from (-8) ** (1/3)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and abs(value) > _MAX_EXACT_INT:
        return None
    return Const(value)


# Bits an integer operand or result of folding may have: a folded int beyond 2**53
# is thrown away anyway, so nothing larger needs computing.
_MAX_FOLD_BITS = 64


def _bounded(prim: str, values: list) -> bool:
    """Whether folding ``prim`` of these numbers takes bounded time and memory.

    Only Python's integers grow without bound (a float overflows to an error at
    once), and among the primitives only ``**`` makes a big one out of small ones:
    ``b ** e`` has about ``e * bits(b)`` bits.  A huge integer literal in the
    source is not folded further either.
    """
    ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    if any(v.bit_length() > _MAX_FOLD_BITS for v in ints):
        return False
    if prim != "pow" or len(ints) != 2:
        return True
    base, exp = values
    return exp <= 0 or abs(base) <= 1 or exp * base.bit_length() <= _MAX_FOLD_BITS


_IDENTITY_PRIMS = frozenset(
    {"add", "sub", "mul", "div", "neg", "pow", "like", "select"}
)


def _negated(a, defs: dict[str, Eqn]):
    """The ``y`` in ``a = -y``, if ``a`` is defined that way (or is a negative literal)."""
    if isinstance(a, Var):
        d = defs.get(a.name)
        return d.ins[0] if d is not None and d.prim == "neg" else None
    if isinstance(a, Const) and a.value < 0:
        return Const(-a.value)
    return None


# Primitives whose result is an int (or bool) whatever their inputs, and those
# whose result is an int when all their inputs are (Python's int arithmetic).
# (the rows' ``result`` field: an int or bool for any inputs; an int for ints)
_INT_RESULT = where(result="int") | where(result="bool")
_INT_CLOSED = where(result="closed")


# what ``defs`` holds for the index of a ``range`` loop: an int, as a length is
_RANGE_INDEX = Eqn("len", (Var("range_index"),), (Var("range"),), None)


def _maybe_int(atom, defs: dict[str, Eqn], depth: int = 0) -> bool:
    """Whether ``atom`` may be an int or bool that ``* 1.0`` would make a float
    (``x * 1.0`` is not ``x`` then: ``(2**53 + 1) * 1.0 - 2**53`` is 0.0, the
    ints' difference 1).  Unknown values (parameters, loop variables) count as
    floats, as differentiated values are."""
    if isinstance(atom, Const):
        return isinstance(atom.value, (bool, int))
    d = defs.get(atom.name) if isinstance(atom, Var) else None
    if d is None:
        return False
    if depth > 64:
        return True  # conservative: keep the conversion
    if d.ns == "py" and d.prim in _INT_RESULT or d.prim in ("len", "size"):
        return True
    if d.prim == "getitem" and isinstance(d.ins[0], Var):  # x.shape[0]: an int
        base = defs.get(d.ins[0].name)
        return base is not None and base.prim == "shape"
    if d.prim == "select":
        return any(_maybe_int(a, defs, depth + 1) for a in d.ins[1:])
    if d.prim in _INT_CLOSED:
        return all(_maybe_int(a, defs, depth + 1) for a in d.ins)
    return d.prim in _BOOL_PRIMS  # bool arrays


def _identity(eqn: Eqn, defs: dict[str, Eqn]) -> Atom | Eqn | None:
    """An algebraic identity: the atom the equation equals, or a cheaper equation."""
    prim, ins = eqn.prim, eqn.ins
    if prim not in _IDENTITY_PRIMS:
        return None

    def negated(a):
        return _negated(a, defs)

    def unit(a, value, other):
        """``a`` is the constant ``value`` and dropping it keeps ``other``'s
        type: ``x * 1`` is x, ``x * 1.0`` is x only for a float x."""
        if not _is(a, value):
            return False
        if isinstance(a.value, bool):
            return False  # x * True: an int for a bool x
        if isinstance(a.value, float) or prim == "div":
            return not _maybe_int(other, defs)  # x / 1 and x ** 1.0: floats
        return True

    def rewrite(new_prim, *new_ins):
        return Eqn(new_prim, eqn.outs, tuple(new_ins), eqn.loc, eqn.ns, eqn.params)

    if prim == "add":
        a, b = ins
        if unit(b, 0, a):
            return a
        if unit(a, 0, b):
            return b
        if (y := negated(b)) is not None:
            return rewrite("sub", a, y)
        if (y := negated(a)) is not None:
            return rewrite("sub", b, y)
    elif prim == "sub":
        a, b = ins
        if unit(b, 0, a):
            return a
        if unit(a, 0, b):
            return rewrite("neg", b)
        if isinstance(b, Var) and (y := negated(b)) is not None:
            return rewrite("add", a, y)
    elif prim == "mul":
        a, b = ins
        if unit(a, 1, b):
            return b
        if unit(b, 1, a):
            return a
        if unit(a, -1, b):
            return rewrite("neg", b)
        if unit(b, -1, a):
            return rewrite("neg", a)
        if (merged := _merge_constants(eqn, defs)) is not None:
            return merged
    elif prim == "div":
        a, b = ins
        if unit(b, 1, a):
            return a
        if unit(b, -1, a):
            return rewrite("neg", a)
    elif prim == "neg":
        (a,) = ins
        if isinstance(a, Var) and (y := negated(a)) is not None:
            return y
        # -(p * -q) -> p * q and -(p / -q) -> p / q (and with the minus on p)
        inner = defs.get(a.name) if isinstance(a, Var) else None
        if inner is not None and inner.prim in ("mul", "div"):
            p, q = inner.ins
            if isinstance(q, Var) and (y := negated(q)) is not None:
                return rewrite(inner.prim, p, y)
            if isinstance(p, Var) and (y := negated(p)) is not None:
                return rewrite(inner.prim, y, q)
    elif prim == "pow" and eqn.ns == "py":
        # only for `**`: math.pow(x, 1) is a float and np.power(x, 1) an np.float64
        a, b = ins
        if unit(b, 1, a):
            return a
    elif prim == "select" and eqn.ns == "py":
        # `a if True else b` is a itself (np.where would broadcast a against b)
        c, a, b = ins
        if isinstance(c, Const) and isinstance(c.value, bool):
            return a if c.value else b
    elif prim in ("like", "sum_to") and ins[0] == ins[1]:
        # t broadcast to (or summed back to) its own shape is t itself
        if not eqn.param("lead") and not eqn.param("copy"):
            return ins[0]
    elif prim == "like":
        # a broadcast of a broadcast is one broadcast (broadcasting is transitive)
        t, x = ins
        inner = defs.get(t.name) if isinstance(t, Var) else None
        if inner is not None and inner.prim == "like" and inner.params == eqn.params:
            return rewrite("like", inner.ins[0], x)
    return None


def _merge_constants(eqn: Eqn, defs: dict[str, Eqn]) -> Eqn | None:
    """``c1 * (c2 * a)`` -> ``(c1 c2) * a`` when ``c1`` or ``c2`` is ±2^k.

    Scaling by a power of two is exact, so ``(c2 a) 2^k`` and ``(c2 2^k) a`` round
    alike (barring overflow or a subnormal): the derivative of ``0.5 * d ** 2``
    is ``d``, not ``2 * d * 0.5``.
    """
    for c, m in (eqn.ins, reversed(eqn.ins)):
        if (
            not isinstance(c, Const)
            or isinstance(c.value, bool)
            or not isinstance(m, Var)
        ):
            continue
        inner = defs.get(m.name)
        if inner is None or inner.prim != "mul" or inner.ns != eqn.ns:
            continue
        for c2, a in (inner.ins, reversed(inner.ins)):
            if not isinstance(c2, Const) or isinstance(c2.value, bool):
                continue
            if not (_is_power_of_two(c) or _is_power_of_two(c2)):
                continue
            folded = _fold(Eqn("mul", eqn.outs, (c, c2), eqn.loc, eqn.ns))
            if folded is not None:
                return Eqn("mul", eqn.outs, (folded, a), eqn.loc, eqn.ns, eqn.params)
    return None


def _hoist_negation(eqn: Eqn, defs: dict[str, Eqn], fresh) -> tuple[Eqn, Eqn] | None:
    """``p * -q`` -> ``t = p * q; -t`` (and for ``/``): exact in IEEE arithmetic, and
    moving the minus outwards lets the consumer absorb it (``a - -t`` is ``a + t``).
    Also for the rules' IEEE division ``fdiv(a, d)``, exact at d = ±0 too."""
    if eqn.prim not in ("mul", "div", "fdiv"):
        return None
    negs = [
        isinstance(a, Var) and a.name in defs and defs[a.name].prim == "neg"
        for a in eqn.ins
    ]
    if negs.count(True) != 1:
        return None
    ins = tuple(defs[a.name].ins[0] if n else a for a, n in zip(eqn.ins, negs))
    inner = Eqn(eqn.prim, (fresh(),), ins, eqn.loc, eqn.ns, eqn.params)
    return inner, Eqn("neg", eqn.outs, (inner.out,), eqn.loc, eqn.ns)


_TRUE_FALSE = ((bool, True), (bool, False))
_BOOL_PRIMS = where(result="bool")


def _is_bool(a, defs: dict) -> bool:
    """Whether ``a`` is certainly a bool: a comparison's result."""
    return isinstance(a, Var) and a.name in defs and defs[a.name].prim in _BOOL_PRIMS


def _never_runs(s, sub) -> bool:
    """A ``range`` loop whose bounds are constants giving no iteration."""
    if not isinstance(s, For) or s.over not in ("range", "reversed_range"):
        return False
    args = [sub(a) for a in s.args]
    values = [a.value if isinstance(a, Const) else None for a in args]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return False
    start, stop, step = values
    # not len(range(...)): a bound beyond a C ssize_t (`--fix n=10**30`) overflows it
    return (step > 0 and start >= stop) or (step < 0 and start <= stop)


def _atom_key(a):
    return a.name if isinstance(a, Var) else (type(a.value), a.value)


def _key(eqn: Eqn):
    """What makes two equations compute the same value (for CSE).

    Atoms are keyed by name or by (type, value): Const(1) and Const(1.0) are equal
    but print differently.  Equations are keyed on how they are spelled:
    `math.log` from `**` and from `math.pow` are one computation, `math.fabs` and
    `abs` are two.
    """
    ins = tuple(
        a.name if isinstance(a, Var) else (type(a.value), a.value) for a in eqn.ins
    )
    prim = PRIMITIVES[eqn.prim]
    if prim.commutative:
        ins = tuple(sorted(ins, key=repr))
    return eqn.prim, prim.call_name(eqn.ns), eqn.params, ins


def _is_power_of_two(a) -> bool:
    if not isinstance(a, Const) or isinstance(a.value, bool) or a.value == 0:
        return False
    if isinstance(a.value, int):  # exact, and any size (math.frexp overflows)
        return abs(a.value) & (abs(a.value) - 1) == 0
    return math.isfinite(a.value) and math.frexp(abs(a.value))[0] == 0.5


def _reassociate_power_of_two(eqn: Eqn, defs: dict[str, Eqn], seen: dict) -> Eqn | None:
    """``c * (a * b)`` -> ``t * b`` where ``t = c * a`` already exists and ``c = ±2^k``.

    Scaling by a power of two is exact, so both sides round identically (barring
    overflow or a subnormal ``a * b``).  Done only when it lets CSE reuse ``t``:
    ``2.0 * (sigma * g)`` becomes ``v9 * g`` where ``v9 = 2.0 * sigma``.
    """
    if eqn.prim != "mul":
        return None
    for c, m in (eqn.ins, reversed(eqn.ins)):
        if not _is_power_of_two(c) or not isinstance(m, Var):
            continue
        inner = defs.get(m.name)
        if inner is None or inner.prim != "mul" or inner.ns != eqn.ns:
            continue
        a, b = inner.ins
        for p, q in ((a, b), (b, a)):
            t = seen.get(_key(Eqn("mul", (eqn.out,), (c, p), None, eqn.ns)))
            if t is not None:
                return eqn.with_ins((t, q))
    return None


def _products(a, defs: dict[str, Eqn], uses: dict[str, int]) -> list:
    """The ways to read ``a`` as ``cofactor * c`` with ``c`` a variable:
    ``(c, cofactor)`` pairs, the cofactor an atom or an ``(x, y)`` pair whose
    product is still to compute.  ``a`` must be a product (``*``) used only
    once, so that it dies when rewritten; one factor of it may be read
    through when it is a product itself (``r * (v4 * g)`` is ``(r v4) * g``)."""
    d = defs.get(a.name) if isinstance(a, Var) else None
    # (a temporary made by this walk is not counted: it is read once, as the
    # product ``p * q`` that ``p * -q`` was hoisted to)
    if d is None or d.prim != "mul" or d.ns != "py" or uses.get(a.name, 1) != 1:
        return []
    found = []
    for x, y in (d.ins, reversed(d.ins)):
        if isinstance(y, Var):
            found.append((y, x))
        inner = defs.get(x.name) if isinstance(x, Var) else None
        if inner is not None and inner.prim == "mul" and inner.ns == "py":
            for u, w in (inner.ins, reversed(inner.ins)):
                if isinstance(w, Var):
                    found.append((w, (u, y)))
    return found


def _common_factor(eqn: Eqn, defs: dict[str, Eqn], uses: dict[str, int], carried):
    """For ``a * c ± b * c``, ``c`` a value carried around an enclosing loop:
    ``(c, cofactor of a, cofactor of b)``, else None.

    Chosen so that the rewrite computes no more operations than the original
    (at most one of the cofactors is a product still to compute) and, among
    those, with the fewest (the common factor read directly on both sides
    first).  Only a carried ``c``: there the rewrite shortens the chain of
    dependent operations from one iteration to the next, which bounds a
    loop's speed; elsewhere the code stays as the rules wrote it."""
    if eqn.prim not in ("add", "sub") or eqn.ns != "py" or eqn.ins[0] == eqn.ins[1]:
        return None
    left = _products(eqn.ins[0], defs, uses)
    right = _products(eqn.ins[1], defs, uses) if left else []
    best = None
    for c, p in left:
        for c2, q in right:
            cost = isinstance(p, tuple) + isinstance(q, tuple)
            if c2 != c or c.name not in carried or cost > 1:
                continue
            if best is None or cost < best[0]:
                best = (cost, c, p, q)
    return None if best is None else best[1:]


def simplify(fn: Function) -> Function:
    """Constant folding, identities, copy propagation and CSE in one forward walk.

    Returns ``fn`` itself when there was nothing to do.  Branches of an ``If``
    are walked with their own CSE table (a value computed in one branch does not
    exist in the other); substitutions are function-wide, names being unique.
    """
    return _Simplifier(fn).run()


class _Simplifier:
    """One run of :func:`simplify` over one function.

    ``subst`` maps a name to the atom that replaces it (function-wide: names are
    unique), ``defs`` a name to the equation defining it (what the identities
    look through).
    """

    def __init__(self, fn: Function):
        self.fn = fn
        self.subst: dict[str, Atom] = {}
        self.defs: dict[str, Eqn] = {}
        self.namer: Namer | None = None
        self.uses: dict[str, int] | None = None  # (counted when first needed)
        self.carried: set[str] = set()  # the values carried around loops

    def factor(self, eqn: Eqn, keep) -> Eqn:
        """``a * c ± b * c`` -> ``(a ± b) * c`` (see :func:`_common_factor`):
        the cofactors' sum is computed apart from ``c``, so a chain of values
        each computed from the last through ``c`` (an adjoint carried around a
        loop, ``x̄ <- r (v4 x̄) - v3 x̄``) takes one dependent multiply per step
        instead of three.  Exact in real arithmetic, not bit for bit: the
        result is rounded differently (by a few ulps, usually one rounding
        fewer), and where ``a c`` or ``b c`` overflows, or ``c`` is infinite,
        the two forms may differ (``(a - b) * c`` is finite where ``a c - b c``
        overflowed to ``inf - inf``)."""
        if eqn.prim not in ("add", "sub") or not self.carried:
            return eqn
        if self.uses is None:  # reads by live code: what a second round sees
            self.uses = _use_counts(eliminate_dead_code(self.fn))
        found = _common_factor(eqn, self.defs, self.uses, self.carried)
        if found is None:
            return eqn
        c, parts = found[0], []
        for part in found[1:]:
            if isinstance(part, tuple):  # a product still to compute
                made = Eqn("mul", (self.fresh(),), part, eqn.loc, "py")
                keep(made)
                part = self.sub(made.out)
            parts.append(part)
        total = Eqn(eqn.prim, (self.fresh(),), tuple(parts), eqn.loc, "py")
        keep(total)
        return Eqn("mul", eqn.outs, (self.sub(total.out), c), eqn.loc, "py")

    def run(self) -> Function:
        body = self.walk(self.fn.body, {})
        if (
            not self.subst
            and len(body) == len(self.fn.body)
            and all(a is b for a, b in zip(body, self.fn.body))
        ):
            return self.fn
        results = tuple(self.sub(a) for a in self.fn.results)
        out = replace(self.fn, body=tuple(body), results=results)
        return rename_vars(out, _better_names(self.fn, self.subst))

    def fresh(self) -> Var:
        if self.namer is None:
            self.namer = Namer.for_function(self.fn)
        return self.namer.temp()

    def sub(self, a):
        # followed to the end: walking a loop body again (see walk_loop) can find
        # that a value substituted earlier is itself replaced now
        while isinstance(a, Var) and a.name in self.subst:
            a = self.subst[a.name]
        return a

    def walk(self, stmts, seen: dict) -> list:
        body: list = []

        def keep(eqn: Eqn) -> None:
            """Append ``eqn`` unless an equal one exists (then its output aliases it)."""
            key = _key(eqn)
            if key in seen:
                self.subst[eqn.out.name] = seen[key]
                return
            seen[key] = eqn.out
            self.defs[eqn.out.name] = eqn
            body.append(eqn)

        for eqn in stmts:
            if isinstance(eqn, If):
                body += self.walk_if(eqn, seen)
                continue
            if isinstance(eqn, Loop):
                if _never_runs(eqn, self.sub):  # range(0): its values are its inits
                    for c, init in zip(eqn.carried, eqn.inits):
                        self.subst[c.name] = self.sub(init)
                    continue
                body.append(self.walk_loop(eqn, seen))
                continue
            if self.subst:
                ins = tuple(self.sub(a) for a in eqn.ins)
                if ins != eqn.ins:
                    eqn = eqn.with_ins(ins)
            if PRIMITIVES[eqn.prim].effect:
                body.append(eqn)  # a tape is one list: never merged with another
                continue
            while True:
                result = _fold(eqn) or _identity(eqn, self.defs)
                if not isinstance(result, Eqn):
                    break
                eqn = result
            if result is not None:
                self.subst[eqn.out.name] = result
                continue
            eqn = _reassociate_power_of_two(eqn, self.defs, seen) or eqn
            eqn = self.factor(eqn, keep)
            hoisted = _hoist_negation(eqn, self.defs, self.fresh)
            if hoisted is not None:
                inner, eqn = hoisted
                keep(inner)
                eqn = eqn.with_ins((self.sub(inner.out),))
            keep(eqn)
        return body

    def walk_loop(self, s, seen: dict):
        """A body sees the values computed before the loop (they do not change in
        it); what it computes is new each iteration, so it stays inside.  A carried
        value every iteration passes on unchanged is its init, and stops being
        carried (the body is walked again if that is found only after it)."""
        inits = tuple(self.sub(a) for a in s.inits)
        if isinstance(s, For) and s.over == "range":
            for i in s.index:  # range gives ints: `i * 1.0` is not `i` (print shows it)
                self.defs[i.name] = _RANGE_INDEX
        invariant: set[int] = set()
        local = defined_names(s.body)
        self.carried.update(c.name for c in s.carried)

        def passed_on() -> set[int]:
            return {
                k
                for k, (c, n) in enumerate(zip(s.carried, s.nexts))
                if k not in invariant and (n == c or self.sub(n) in (c, inits[k]))
            }

        found = passed_on()
        while True:
            for k in found:
                invariant.add(k)
                self.subst[s.carried[k].name] = inits[k]
            fields = {"body": tuple(self.walk(s.body, dict(seen)))}
            found = passed_on()
            if not found:
                break
            # the next walk starts afresh: what this one substituted for the
            # body's values may name temporaries the next no longer makes
            for name in local:
                self.subst.pop(name, None)
        keep = [k for k in range(len(s.carried)) if k not in invariant]
        fields["carried"] = tuple(s.carried[k] for k in keep)
        fields["inits"] = tuple(inits[k] for k in keep)
        fields["nexts"] = tuple(self.sub(s.nexts[k]) for k in keep)
        if isinstance(s, While):
            fields["test"] = tuple(self.walk(s.test, dict(seen)))
            fields["cond"] = self.sub(s.cond)
        else:
            fields["args"] = tuple(self.sub(a) for a in s.args)
        fields["brk"] = None if s.brk is None else self.sub(s.brk)
        return _replace_if_changed(s, fields)

    def walk_if(self, s: If, seen: dict) -> list:
        cond = self.sub(s.cond)
        if isinstance(cond, Const):  # a branch known at compile time: inline it
            block, vals = (
                (s.then, s.then_vals) if cond.value else (s.orelse, s.else_vals)
            )
            body = self.walk(block, seen)
            for o, v in zip(s.outs, vals):
                self.subst[o.name] = self.sub(v)
            return body
        then = self.walk(s.then, dict(seen))
        orelse = self.walk(s.orelse, dict(seen))
        tv = tuple(self.sub(v) for v in s.then_vals)
        ev = tuple(self.sub(v) for v in s.else_vals)
        # an output equal on both paths to a value visible outside is that value
        # (literally equal: 1, 1.0 and True differ), and two outputs merging the
        # same values are one (the `break` and `return` flags often are)
        inside = defined_names(then) | defined_names(orelse)
        keep, merged = [], {}
        for i, (o, t, e) in enumerate(zip(s.outs, tv, ev)):
            key = (_atom_key(t), _atom_key(e))
            if key[0] == key[1] and not (isinstance(t, Var) and t.name in inside):
                self.subst[o.name] = t
            elif key in merged:
                self.subst[o.name] = s.outs[merged[key]]
            elif key == _TRUE_FALSE and _is_bool(cond, self.defs):
                self.subst[o.name] = cond  # `if c: v = True else: v = False` is v = c
            else:
                merged[key] = i
                keep.append(i)
        if len(keep) < len(s.outs):
            outs = tuple(s.outs[i] for i in keep)
            tv = tuple(tv[i] for i in keep)
            ev = tuple(ev[i] for i in keep)
            return [If(cond, tuple(then), tuple(orelse), outs, tv, ev, s.loc)]
        same = (
            cond is s.cond
            and len(then) == len(s.then)
            and all(a is b for a, b in zip(then, s.then))
            and len(orelse) == len(s.orelse)
            and all(a is b for a, b in zip(orelse, s.orelse))
            and all(a is b for a, b in zip(tv + ev, s.then_vals + s.else_vals))
        )
        return [
            s if same else If(cond, tuple(then), tuple(orelse), s.outs, tv, ev, s.loc)
        ]


def _use_counts(fn: Function) -> dict[str, int]:
    """How many times each variable is read in ``fn`` (names are unique)."""
    counts: Counter = Counter()

    def visit(stmts) -> None:
        for s in stmts:
            counts.update(a.name for a in own_reads(s) if isinstance(a, Var))
            for block in blocks(s):
                visit(block)

    visit(fn.body)
    counts.update(a.name for a in fn.results if isinstance(a, Var))
    return counts


def _better_names(fn: Function, subst: dict[str, Atom]) -> dict[str, str]:
    """Where a readable name was replaced by a temporary, give the temporary that name."""
    params = {p.name for p in fn.params}
    renames: dict[str, str] = {}
    for old, new in subst.items():
        while isinstance(new, Var) and new.name in subst:
            new = subst[new.name]
        if not isinstance(new, Var) or new.name in params:
            continue
        target = renames.get(new.name, new.name)
        if name_rank(old, fn.user_names) > name_rank(target, fn.user_names):
            renames[new.name] = old
    return renames
