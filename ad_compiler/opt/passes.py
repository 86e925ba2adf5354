"""Optimisation passes: pure ``Function -> Function`` rewrites of derivative IR.

* :func:`simplify` — one forward walk doing constant folding, algebraic
  identities (``x * 1``, ``x + 0``, ``x + (-y)`` -> ``x - y``, ``--x`` ...), copy
  propagation and common-subexpression elimination (value numbering);
* :func:`eliminate_dead_code` — drops equations no result needs;
* :func:`specialize` — fixes parameters to constants (the seed ȳ = 1 of a gradient);
* :func:`select_results` — keeps part of the results (a gradient drops the value);
* :func:`optimize` — simplify + DCE to a fixed point.

Every pass keeps the IR valid and its meaning: identities are only those that
are exact in floating point for finite values (``x * 0`` is *not* folded: it is
``nan`` for infinite ``x``).  When a rewrite makes two names the same value the
more readable one survives (``x1_bar`` over ``v7``).

Set ``ADC_DUMP_IR=1`` to print the IR after every pass to stderr.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import replace

import numpy

from ad_compiler.ir.nodes import (
    Atom,
    Const,
    Eqn,
    Function,
    For,
    If,
    Loop,
    Namer,
    Var,
    While,
    blocks,
    body_reads,
    defined_names,
    iter_eqns,
    loop_reads,
    own_reads,
    map_atoms,
    name_rank,
    rename_vars,
    tree_leaves,
    verify,
)
from ad_compiler.errors import UsageError
from ad_compiler.ir.primitives import PRIMITIVES

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
_INT_RESULT = frozenset(
    {"eq", "ne", "lt", "le", "gt", "ge", "not", "int", "len", "size", "round"}
    | {"floor", "ceil", "trunc"}
)
_INT_CLOSED = frozenset(
    {"add", "sub", "mul", "neg", "pow", "abs", "max", "min", "fdiv", "fmod"}
)


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
    if d.prim == "select":
        return any(_maybe_int(a, defs, depth + 1) for a in d.ins[1:])
    if d.prim in _INT_CLOSED:
        return all(_maybe_int(a, defs, depth + 1) for a in d.ins)
    return d.prim in ("eq", "ne", "lt", "le", "gt", "ge", "not")  # bool arrays


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
_BOOL_PRIMS = frozenset({"ge", "le", "gt", "lt", "eq", "ne", "not"})


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


def simplify(fn: Function) -> Function:
    """Constant folding, identities, copy propagation and CSE in one forward walk.

    Returns ``fn`` itself when there was nothing to do.  Branches of an ``If``
    are walked with their own CSE table (a value computed in one branch does not
    exist in the other); substitutions are function-wide, names being unique.
    """
    subst: dict[str, Atom] = {}
    defs: dict[str, Eqn] = {}
    namer = None

    def fresh() -> Var:
        nonlocal namer
        if namer is None:
            namer = Namer.for_function(fn)
        return namer.temp()

    def sub(a):
        # followed to the end: walking a loop body again (see walk_loop) can find
        # that a value substituted earlier is itself replaced now
        while isinstance(a, Var) and a.name in subst:
            a = subst[a.name]
        return a

    def walk(stmts, seen: dict) -> list:
        body: list = []

        def keep(eqn: Eqn) -> None:
            """Append ``eqn`` unless an equal one exists (then its output aliases it)."""
            key = _key(eqn)
            if key in seen:
                subst[eqn.out.name] = seen[key]
                return
            seen[key] = eqn.out
            defs[eqn.out.name] = eqn
            body.append(eqn)

        for eqn in stmts:
            if isinstance(eqn, If):
                body += walk_if(eqn, seen)
                continue
            if isinstance(eqn, Loop):
                if _never_runs(eqn, sub):  # range(0): its values are its inits
                    for c, init in zip(eqn.carried, eqn.inits):
                        subst[c.name] = sub(init)
                    continue
                body.append(walk_loop(eqn, seen))
                continue
            if subst:
                ins = tuple(sub(a) for a in eqn.ins)
                if ins != eqn.ins:
                    eqn = eqn.with_ins(ins)
            if PRIMITIVES[eqn.prim].effect:
                body.append(eqn)  # a tape is one list: never merged with another
                continue
            while True:
                result = _fold(eqn) or _identity(eqn, defs)
                if not isinstance(result, Eqn):
                    break
                eqn = result
            if result is not None:
                subst[eqn.out.name] = result
                continue
            eqn = _reassociate_power_of_two(eqn, defs, seen) or eqn
            hoisted = _hoist_negation(eqn, defs, fresh)
            if hoisted is not None:
                inner, eqn = hoisted
                keep(inner)
                eqn = eqn.with_ins((sub(inner.out),))
            keep(eqn)
        return body

    def walk_loop(s, seen: dict):
        """A body sees the values computed before the loop (they do not change in
        it); what it computes is new each iteration, so it stays inside.  A carried
        value every iteration passes on unchanged is its init, and stops being
        carried (the body is walked again if that is found only after it)."""
        inits = tuple(sub(a) for a in s.inits)
        invariant: set[int] = set()
        local = defined_names(s.body)

        def passed_on() -> set[int]:
            return {
                k
                for k, (c, n) in enumerate(zip(s.carried, s.nexts))
                if k not in invariant and (n == c or sub(n) in (c, inits[k]))
            }

        found = passed_on()
        while True:
            for k in found:
                invariant.add(k)
                subst[s.carried[k].name] = inits[k]
            fields = {"body": tuple(walk(s.body, dict(seen)))}
            found = passed_on()
            if not found:
                break
            # the next walk starts afresh: what this one substituted for the
            # body's values may name temporaries the next no longer makes
            for name in local:
                subst.pop(name, None)
        keep = [k for k in range(len(s.carried)) if k not in invariant]
        fields["carried"] = tuple(s.carried[k] for k in keep)
        fields["inits"] = tuple(inits[k] for k in keep)
        fields["nexts"] = tuple(sub(s.nexts[k]) for k in keep)
        if isinstance(s, While):
            fields["test"] = tuple(walk(s.test, dict(seen)))
            fields["cond"] = sub(s.cond)
        else:
            fields["args"] = tuple(sub(a) for a in s.args)
        fields["brk"] = None if s.brk is None else sub(s.brk)
        return _replace_if_changed(s, fields)

    def walk_if(s: If, seen: dict) -> list:
        cond = sub(s.cond)
        if isinstance(cond, Const):  # a branch known at compile time: inline it
            block, vals = (
                (s.then, s.then_vals) if cond.value else (s.orelse, s.else_vals)
            )
            body = walk(block, seen)
            for o, v in zip(s.outs, vals):
                subst[o.name] = sub(v)
            return body
        then = walk(s.then, dict(seen))
        orelse = walk(s.orelse, dict(seen))
        tv = tuple(sub(v) for v in s.then_vals)
        ev = tuple(sub(v) for v in s.else_vals)
        # an output equal on both paths to a value visible outside is that value
        # (literally equal: 1, 1.0 and True differ), and two outputs merging the
        # same values are one (the `break` and `return` flags often are)
        inside = defined_names(then) | defined_names(orelse)
        keep, merged = [], {}
        for i, (o, t, e) in enumerate(zip(s.outs, tv, ev)):
            key = (_atom_key(t), _atom_key(e))
            if key[0] == key[1] and not (isinstance(t, Var) and t.name in inside):
                subst[o.name] = t
            elif key in merged:
                subst[o.name] = s.outs[merged[key]]
            elif key == _TRUE_FALSE and _is_bool(cond, defs):
                subst[o.name] = cond  # `if c: v = True else: v = False` is v = c
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

    body = walk(fn.body, {})
    if (
        not subst
        and len(body) == len(fn.body)
        and all(a is b for a, b in zip(body, fn.body))
    ):
        return fn
    results = tuple(sub(a) for a in fn.results)
    out = replace(fn, body=tuple(body), results=results)
    return rename_vars(out, _better_names(fn, subst))


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


def eliminate_dead_code(fn: Function) -> Function:
    """Drop every equation whose outputs no result needs (and unused If outputs).

    A loop keeps the carried values that are needed after it or by the part of
    its body that is kept; a tape keeps only the columns its reverse loop reads.
    """
    live = {a.name for a in fn.results if isinstance(a, Var)}
    body = _dce_block(fn.body, live, {})
    if len(body) == len(fn.body) and all(a is b for a, b in zip(body, fn.body)):
        return fn
    return replace(fn, body=body)


def _dce_block(stmts, live: set, columns: dict) -> tuple:
    """Keep what ``live`` needs, walking backwards; ``live`` gains what the kept read.

    ``columns[tape]`` lists the positions of each ``push`` to that tape that its
    reverse loop reads (the loop comes after the push, so is seen first).
    """
    keep = []
    for s in reversed(stmts):
        if isinstance(s, Loop):
            s = _dce_loop(s, live, columns)
            if s is not None:
                keep.append(s)
            continue
        if isinstance(s, Eqn) and PRIMITIVES[s.prim].effect and not s.outs:
            tape = s.ins[0].name
            if tape in live:
                kept = columns.get(tape)
                if kept is not None and len(kept) < len(s.ins) - 1:
                    s = s.with_ins((s.ins[0],) + tuple(s.ins[1 + k] for k in kept))
                keep.append(s)
                live.update(a.name for a in s.ins if isinstance(a, Var))
            continue
        if isinstance(s, If):
            used = [i for i, o in enumerate(s.outs) if o.name in live]
            branch_live = set(live)
            tv = tuple(s.then_vals[i] for i in used)
            ev = tuple(s.else_vals[i] for i in used)
            then_live = branch_live | {a.name for a in tv if isinstance(a, Var)}
            else_live = branch_live | {a.name for a in ev if isinstance(a, Var)}
            then = _dce_block(s.then, then_live, columns)
            orelse = _dce_block(s.orelse, else_live, columns)
            if not used and not then and not orelse:
                continue
            live |= then_live | else_live
            if isinstance(s.cond, Var):
                live.add(s.cond.name)
            same = len(used) == len(s.outs) and then is s.then and orelse is s.orelse
            outs = tuple(s.outs[i] for i in used)
            keep.append(s if same else If(s.cond, then, orelse, outs, tv, ev, s.loc))
            continue
        if any(o.name in live for o in s.outs):
            keep.append(s)
            live.update(a.name for a in s.ins if isinstance(a, Var))
    keep.reverse()
    result = tuple(keep)
    if len(result) == len(stmts) and all(a is b for a, b in zip(result, stmts)):
        return stmts
    return result


def _dce_loop(s, live: set, columns: dict):
    """The loop with only what is needed, or None; ``live`` gains what it reads."""
    needed = {k for k, c in enumerate(s.carried) if c.name in live}
    while True:
        inner = set(live)
        inner.update(
            a.name for k in needed for a in (s.nexts[k],) if isinstance(a, Var)
        )
        if s.brk is not None and isinstance(s.brk, Var):
            inner.add(s.brk.name)
        body = _dce_block(s.body, inner, columns)
        more = {k for k, c in enumerate(s.carried) if c.name in inner} - needed
        if not more:
            break
        needed |= more
    if not needed and not body:
        return None
    test = s.test
    if isinstance(s, While):
        if isinstance(s.cond, Var):
            inner.add(s.cond.name)
        test = _dce_block(s.test, inner, columns)
    more = {k for k, c in enumerate(s.carried) if c.name in inner} - needed
    if more:  # the test reads them
        needed |= more
        wider = live | {s.carried[k].name for k in needed}
        kept = _dce_loop(s, wider, columns)
        live |= wider
        return kept
    index = s.index
    if s.over == "tape":
        kept = [k for k, v in enumerate(s.index) if v.name in inner] or [0]
        columns[s.args[0].name] = kept
        index = tuple(s.index[k] for k in kept)
    order = sorted(needed)
    fields = dict(
        carried=tuple(s.carried[k] for k in order),
        inits=tuple(s.inits[k] for k in order),
        nexts=tuple(s.nexts[k] for k in order),
        body=body,
    )
    if isinstance(s, While):
        fields["test"] = test
    else:
        fields["index"] = index
    s = _replace_if_changed(s, fields)
    live |= inner
    live.update(a.name for a in loop_reads(s) if isinstance(a, Var))
    return s


def _replace_if_changed(s, fields: dict):
    """``s`` itself if every field is what it was (so a pass can report no change)."""

    def same(a, b):
        if isinstance(a, tuple) and isinstance(b, tuple):
            return len(a) == len(b) and all(x is y for x, y in zip(a, b))
        return a is b

    if all(same(v, getattr(s, k)) for k, v in fields.items()):
        return s
    return replace(s, **fields)


def untape_counters(fn: Function) -> Function:
    """Tapes that only count iterations become counts.

    A tape recording nothing but a ``range`` loop's index is that range,
    reversed: the reverse loop runs ``for i in reversed(range(a, b, c))`` and the
    forward loop (then empty) and its tape go; only for a loop without
    ``break``, whose iterations are exactly its range.  A tape whose reverse loop
    reads nothing from it (a ``while`` loop whose adjoint needs no recorded value)
    becomes a carried counter, ``n_1 = n_1 + 1``, and ``reversed(range(n_1))``.
    """
    counters = {}  # tape name -> the forward loop pushing only its index
    pushers = {}  # tape name -> the forward loop pushing at the top of its body
    unread = set()  # tapes whose reverse loop reads none of what they hold

    constants = {}  # tapes of constants only: tape name -> what each push holds

    def scan(stmts):
        for s in stmts:
            push = _top_push(s)
            if push is not None:
                pushers[push.ins[0].name] = s
                simple = isinstance(s, For) and s.over == "range" and s.brk is None
                if simple and push.ins[1:] == s.index:
                    counters[push.ins[0].name] = s
                if all(isinstance(a, Const) for a in push.ins[1:]):
                    constants[push.ins[0].name] = push.ins[1:]
            if isinstance(s, For) and s.over == "tape":
                if not {v.name for v in s.index} & _names_read(s.body, body_reads(s)):
                    unread.add(s.args[0].name)
                elif s.args[0].name in constants:
                    unread.add(s.args[0].name)
            for block in blocks(s):
                scan(block)

    scan(fn.body)
    counted = {t: pushers[t] for t in unread if t in pushers and t not in counters}
    if not counters and not counted:
        return fn
    namer = Namer.for_function(fn)
    changed = {}  # id(forward loop) -> (the loop rewritten, its reverse's range)
    for tape, s in counters.items():
        changed[id(s)] = (replace(s, body=_without_push(s)), s.args)
    for tape, s in counted.items():
        n, n_next = namer.fresh("iterations"), namer.temp()
        step = Eqn("add", (n_next,), (n, Const(1)), s.loc)
        loop = replace(
            s,
            body=_without_push(s) + (step,),
            carried=s.carried + (n,),
            inits=s.inits + (Const(0),),
            nexts=s.nexts + (n_next,),
        )
        changed[id(s)] = (loop, (Const(0), n, Const(1)))
    ranges = {t: changed[id(s)][1] for t, s in {**counters, **counted}.items()}

    def rewrite(stmts):
        out = []
        for s in stmts:
            if id(s) in changed:
                s = changed[id(s)][0]
            elif isinstance(s, For) and s.over == "tape" and s.args[0].name in ranges:
                tape = s.args[0].name
                if tape in constants:  # what the tape held is known: use it
                    held = dict(zip((v.name for v in s.index), constants[tape]))
                    s = replace(
                        s,
                        body=map_atoms(
                            s.body, lambda a: held.get(getattr(a, "name", None), a)
                        ),
                        nexts=tuple(
                            held.get(getattr(a, "name", None), a) for a in s.nexts
                        ),
                        index=s.index[:1],
                    )
                s = replace(s, over="reversed_range", args=ranges[tape])
            fields = {}
            if isinstance(s, If):
                fields = {"then": rewrite(s.then), "orelse": rewrite(s.orelse)}
            elif isinstance(s, Loop):
                fields = {"body": rewrite(s.body)}
            out.append(replace(s, **fields) if fields else s)
        return tuple(out)

    return replace(fn, body=rewrite(fn.body))


def _top_push(s):
    """The ``push`` at the top level of a loop's body, if any."""
    if isinstance(s, Loop):
        for e in s.body:
            if isinstance(e, Eqn) and e.prim == "push":
                return e
    return None


def _without_push(s) -> tuple:
    return tuple(e for e in s.body if not (isinstance(e, Eqn) and e.prim == "push"))


def _names_read(stmts, extra=()) -> set[str]:
    names = {a.name for a in extra if isinstance(a, Var)}
    for s in stmts:
        names.update(a.name for a in own_reads(s) if isinstance(a, Var))
        for block in blocks(s):
            names |= _names_read(block)
    return names


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


def _dump(name: str, fn: Function) -> None:
    if os.environ.get("ADC_DUMP_IR"):
        print(f"--- IR after {name} ---\n{fn}", file=sys.stderr)


def optimize(fn: Function, max_rounds: int = 1) -> Function:
    """Simplify and remove dead code, ``max_rounds`` times or until nothing changes.

    One round reaches the fixed point: ``simplify`` walks forwards and rewrites each
    equation after its inputs are final, and removing dead code enables no rewrite
    (``tests/test_passes.py`` checks that a second round changes nothing).
    """
    for _ in range(max_rounds):
        before = fn
        fn = simplify(fn)
        _dump("simplify", fn)
        fn = eliminate_dead_code(fn)
        _dump("eliminate_dead_code", fn)
        untaped = untape_counters(fn)
        if untaped is not fn:
            fn = eliminate_dead_code(simplify(untaped))
            _dump("untape_counters", fn)
        if fn is before:
            break
    return verify(fn)


# Primitives whose result is a float (or an array of floats) for any real input.
_FLOAT_VALUED = frozenset(
    "exp expm1 log log2 log10 log1p sqrt sin cos tan sinh cosh tanh asin acos atan"
    " atan2 hypot copysign float".split()
)


def _float_valued(eqn: Eqn) -> bool:
    if eqn.prim in _FLOAT_VALUED:
        return True
    if eqn.prim in ("sign", "fmod"):  # math's are floats; NumPy's keep int dtypes
        return eqn.ns != "np"
    # math.fabs and math.pow are floats; abs(int) is an int, (-8.0) ** (1/3) complex
    return eqn.prim in ("abs", "pow") and eqn.ns == "math"


_ARITHMETIC = frozenset({"add", "sub", "mul", "div"})


def float_literals(fn: Function) -> Function:
    """Spell an int literal as a float where the other operand is certainly a float.

    ``1 + math.exp(z)`` becomes ``1.0 + math.exp(z)``: Python converts the 1
    exactly so anyway, and the result is the same bits, but CPython's float fast
    paths take only two floats (``2 * g`` costs about twice ``2.0 * g``).  A
    value is certainly a float when a math/NumPy float function computed it, or
    an arithmetic operation of which one operand is; parameters, branch results
    and loop-carried values are not known (they may be ints, Fractions ...).
    """
    floats: set[str] = set()

    def is_float(a) -> bool:
        if isinstance(a, Const):
            return isinstance(a.value, float)
        return a.name in floats

    def visit(eqn: Eqn) -> Eqn:
        if eqn.prim in _ARITHMETIC and eqn.ns == "py":
            if any(is_float(a) for a in eqn.ins):
                floats.add(eqn.out.name)
                ins = tuple(
                    (
                        Const(float(a.value))
                        if isinstance(a, Const)
                        and type(a.value) is int
                        and abs(a.value) <= _MAX_EXACT_INT
                        else a
                    )
                    for a in eqn.ins
                )
                if any(a is not b for a, b in zip(ins, eqn.ins)):  # 1 == 1.0
                    return eqn.with_ins(ins)
        elif eqn.prim == "neg" and is_float(eqn.ins[0]):
            floats.add(eqn.out.name)
        elif _float_valued(eqn):
            floats.add(eqn.out.name)
        return eqn

    def walk(stmts) -> tuple:
        out = []
        for s in stmts:
            if isinstance(s, If):
                s = replace(s, then=walk(s.then), orelse=walk(s.orelse))
            elif isinstance(s, While):
                s = replace(s, test=walk(s.test), body=walk(s.body))
            elif isinstance(s, Loop):
                s = replace(s, body=walk(s.body))
            else:
                s = visit(s)
            out.append(s)
        return tuple(out)

    body = walk(fn.body)
    return replace(fn, body=body)


def drop_shape_noops(fn: Function) -> Function:
    """Remove the broadcasts (``like``) and sums back (``sum_to``) that the shapes
    of the whole function show to change nothing.

    The rules emit them where the shapes known while building a derivative do
    not say; inferred over the finished function they often do (``g`` and
    ``x`` both of shape (n,): NumPy requires the same n).  Left in, each costs
    a call per use, and differentiating the derivative again doubles them.
    """
    if not fn.param_shapes:
        return fn
    from ad_compiler.ir import shapes

    env = shapes.infer(fn)
    subst: dict[str, Atom] = {}

    def same(a, b) -> bool:
        sa = env.get(a.name) if isinstance(a, Var) else shapes.SCALAR
        sb = env.get(b.name) if isinstance(b, Var) else shapes.SCALAR
        return (
            sa == sb and sa is not None and sa != shapes.TUPLE and shapes.ANY not in sa
        )

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
    from ad_compiler.ir import shapes

    shape_of = shapes.infer(fn)
    params = {p.name for p in fn.params}
    # _like(t, x) is t itself when the shapes agree, so it may be a parameter
    params |= {
        e.out.name
        for e in iter_eqns(fn.body)
        if e.prim == "like" and not e.param("copy") and not e.param("lead")
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
