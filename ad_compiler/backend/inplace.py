"""In-place array writes in emitted code, wherever no one could tell.

The IR is single-assignment: ``x[i] = v`` is ``x_1 = setitem(x, v, i)``, a new
array, and a reverse sweep's ``x̄ = x̄ + unindex(x, g, i)`` adds an array of
zeros holding g at i.  Emitted as written, a loop writing one element per
iteration copies the whole array every time: O(n²).  This pass runs just
before code generation (the IR that is differentiated keeps its meaning) and
marks the equations whose input array nobody can observe afterwards, so that
codegen writes into it instead:

* ``setitem(x, v, i)`` is emitted ``_write(x, np.s_[i], v)``: ``x[i] = v``;
* ``add(t, unindex(x, g, i))`` is emitted ``_add_into(t, np.s_[i], g)``:
  ``t[i] += g`` (``np.add.at`` when an index array may repeat);
* ``add(t, u)`` is emitted ``t += u`` when ``t`` accumulates (a loop-carried
  value or ``np.zeros(shape)``), is certainly float64 and has the shape of the
  sum: float64 plus any real number is float64, so ``+=`` casts nothing and
  broadcasts nothing into ``t``.

A write into ``x`` happens in place only when all of these hold:

1. ``x`` is *owned*: made in this function by an operation that returns a new
   array (``np.zeros``, ``.copy()``, arithmetic on arrays, another write ...),
   or a loop-carried value whose initial value is owned and read by nothing
   else, and whose next value is made in the loop body (or is itself);
2. nothing that may keep a reference to ``x`` reads it anywhere: a tape
   ``push``, a call of the user's function, a loop over its rows, Python's
   ``max`` or ``a if c else b``; and no loop or ``if`` before the write starts
   a carried value from it or passes it on as a result.  A *view* of ``x`` (a
   slice ``x[i - 1]``, ``.T``, a reshape, a broadcast, an einsum, and views of
   those) is an alias of ``x``, not a reference that blocks writes: every read
   of the view counts as a read of ``x`` (rules 1 and 3 see it), and only a
   view that is kept -- carried by a loop, passed on by an ``if``, returned,
   pushed, passed to a call -- makes ``x`` shared.  A view pushed on a tape
   (a reverse sweep keeping the row it reads) is pushed as ``np.copy`` of
   itself when ``x`` is written into: O(the slice), and the tape holds the
   value at push time, as it must;
3. the write is in the block that defines ``x``, or in a branch of an ``if``
   in that block after which nothing reads ``x`` (inside a loop, into an array
   from before the loop, it must copy), and nothing after it in its block
   reads ``x`` or a view of it (a later read the write does not feed is moved
   before it where it can be).  An ``if``'s result is owned when each branch passes on an
   array it made, or one nothing reads after the ``if``.

Values are unchanged, except that ``np.add.at`` into ``t`` sums repeated indices
in another order than adding them to zeros first, and that ``-0.0`` stays
``-0.0`` where nothing is added to it (``-0.0 + 0.0`` is ``0.0``).
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir import shape_infer, shapes
from ad_compiler.ir.nodes import (
    Eqn,
    Function,
    If,
    Loop,
    Namer,
    Var,
    While,
    blocks,
    defined_names,
    own_reads,
)
from ad_compiler.ir.shape_twins import same_shape, twin_roots
from ad_compiler.opt.dce import eliminate_dead_code
from ad_compiler.opt.literals import float_literals
from ad_compiler.opt.tapes import untape_counters
from ad_compiler.primitives.table import PRIMITIVES, where

# Operations that return an array of their own (the rows' ``memory`` field).
_NEW_ARRAY = where(memory="new")
# ... and those that do whenever their result is an array (NumPy's operators)
_ARITHMETIC = where(memory="fresh")
# Reads that keep no reference to the array read: they copy, or compute from it.
_COPYING = where(memory="new") | where(memory="copy")
# ... and these whenever their result is an array (their results are computed)
_PRODUCTS = frozenset(
    ("matmul", "dot", "outer", "sum", "mean", "prod", "cumsum", "cumprod", "diff")
    + ("concatenate", "stack", "softmax", "log_softmax", "solve", "inv")
)
# Reads that may return the input's memory: a slice, .T, a reshape ...
_VIEWS = where(memory="view") - {"list_get"}


def emitted_form(fn: Function) -> Function:
    """The IR codegen prints: int literals beside floats spelled as floats
    (:func:`ad_compiler.opt.literals.float_literals`) and unobservable writes in place.

    A fused ``t[i] += g`` no longer reads the array its ``unindex`` took its
    shape from: dead code goes (a tape may keep fewer columns, or become a
    count), and what that frees is written in place too.
    """
    spelled = float_literals(fn)
    if fn.lazy:  # arrays of another library: no write in place (lazy_form.py)
        return spelled
    fn = in_place(spelled)
    if fn is spelled:
        return fn  # nothing written in place: nothing new to prune
    pruned = eliminate_dead_code(fn)
    untaped = untape_counters(pruned)
    if untaped is not pruned:
        pruned = eliminate_dead_code(untaped)
    return fn if pruned is fn else in_place(pruned)


def in_place(fn: Function) -> Function:
    """``fn`` with the writes nobody can observe marked to happen in place."""
    eqns = list(_eqns(fn.body))
    if not any(e.prim in ("setitem", "unindex", "add") for e in eqns):
        return fn  # no array is ever written, or added to
    env = shape_infer.infer(fn)
    namer = Namer.for_function(fn)
    fn = _copy_pushed_views(fn, env, namer)
    views = _views(fn.body, env)
    pairs = _alias_pairs(fn.body, one_way=True)
    shared = _with_bases(_shared(fn.body, env, views), views, pairs)
    owned, copies = _owned(fn.body, env, shared, _names(fn.results), views)
    reads: dict[str, int] = {}
    for s in fn.body:
        _count_reads(s, reads, views)
    facts = _Facts(owned, shared, env, reads, copies, namer, views)
    facts.roots = twin_roots(fn, env)
    facts.float64 = _float64(fn.body)
    facts.accumulators = _accumulators(fn.body)
    body = _rewrite(fn.body, frozenset(), _names(fn.results), facts)
    return replace(fn, body=body)


class _Facts:
    def __init__(self, owned, shared, env, reads, copies, namer, views):
        self.owned, self.shared, self.env, self.reads = owned, shared, env, reads
        self.copies, self.namer, self.views = copies, namer, views
        self.float64: set[str] = set()
        self.accumulators: set[str] = set()
        self.roots: dict[str, str] = {}  # twin roots (ir/shape_twins.py)


def _written(stmts) -> set[str]:
    """The arrays a block may write into: ``x[i] = v``, or ``t + unindex(...)``."""
    out: set[str] = set()
    eqns = list(_eqns(stmts))
    spreads = {e.out.name for e in eqns if e.prim == "unindex"}
    for e in eqns:
        if e.prim == "setitem":
            out |= _names(e.ins[:1])
        elif e.prim == "add" and _names(e.ins) & spreads:
            out |= _names(e.ins) - spreads
    return out


# --- helpers over blocks ---------------------------------------------------------------


def _eqns(stmts):
    for s in stmts:
        if isinstance(s, Eqn):
            yield s
        for block in blocks(s):
            yield from _eqns(block)


def _names(atoms) -> frozenset:
    return frozenset(a.name for a in atoms if isinstance(a, Var))


def _count_reads(s, counts: dict, views: dict) -> None:
    """Count the names ``s`` reads; a read of a view counts as a read of every
    array it may share memory with (a write into one changes the view)."""
    for a in own_reads(s):
        if isinstance(a, Var):
            for name in (a.name, *views.get(a.name, ())):
                counts[name] = counts.get(name, 0) + 1
    for block in blocks(s):
        for t in block:
            _count_reads(t, counts, views)


def _reads(stmts, views: dict) -> set[str]:
    counts: dict = {}
    for s in stmts:
        _count_reads(s, counts, views)
    return set(counts)


# --- which arrays may be shared ----------------------------------------------------------


def _keeps_reference(e: Eqn, position: int, env: dict) -> bool:
    """Whether ``e`` may hold on to its input at ``position``, or return it."""
    if e.prim in _COPYING:
        return False
    if e.prim == "getitem":  # x[i] of a vector is a number; x[1:] is a view
        return position == 0 and env.get(e.out.name) != shapes.SCALAR
    if PRIMITIVES[e.prim].shape_only:  # like, sum_to: the second gives a shape only
        return position not in PRIMITIVES[e.prim].shape_only
    if e.prim in ("max", "min", "select"):  # max(a, b), `a if c else b`: a itself
        return e.ns != "np"
    return not PRIMITIVES[e.prim].elementwise  # views, pushes, calls, einsum ...


def _is_view(e: Eqn) -> bool:
    """An operation whose one result may be (part of) its input's memory: a
    slice, ``.T``, a reshape ... (a list's item is an array of its own)."""
    return e.prim in _VIEWS and len(e.outs) == 1


def _views(stmts, env: dict) -> dict[str, frozenset]:
    """Each view's bases: the arrays it may share memory with, through views of
    views (``x[i].T``).  A write into a base changes what its views read."""
    direct: dict[str, set] = {}
    for e in _eqns(stmts):
        if _is_view(e):
            ins = {
                a.name
                for i, a in enumerate(e.ins)
                if isinstance(a, Var) and _keeps_reference(e, i, env)
            }
            if ins:
                direct.setdefault(e.out.name, set()).update(ins)
    closed: dict[str, frozenset] = {}

    def bases(name: str, seen: frozenset) -> frozenset:
        if name in closed:
            return closed[name]
        out = set(direct.get(name, ()))
        for b in direct.get(name, ()):
            if b not in seen:  # SSA: no cycles, but be safe
                out |= bases(b, seen | {b})
        closed[name] = frozenset(out)
        return closed[name]

    return {v: bases(v, frozenset((v,))) for v in direct}


def _with_bases(shared: set, views: dict, pairs) -> set[str]:
    """``shared`` closed over aliases, with the bases of every shared view: an
    array one of whose views is kept is kept itself."""
    shared = set(shared)
    while True:
        grown = _closed(shared, pairs)
        for v in list(grown):
            grown |= views.get(v, frozenset())
        if grown == shared:
            return shared
        shared = grown


def _shared(stmts, env: dict, views: dict, after: frozenset = frozenset()) -> set[str]:
    """The names some operation may keep a reference to, or pass on while
    they are still read: a loop's next value from outside its body (the carried
    value is then that array), an ``if``'s result from outside a branch that
    is read after the ``if``.  A view only aliases its base (see :func:`_views`):
    its reads count as reads of the base, and it is shared only where it is kept."""
    out: set[str] = set()
    for k, s in enumerate(stmts):
        if isinstance(s, Eqn):
            if _is_view(s):
                continue
            for i, a in enumerate(s.ins):
                if isinstance(a, Var) and _keeps_reference(s, i, env):
                    out.add(a.name)
            continue
        later = frozenset(_reads(stmts[k + 1 :], views)) | after
        if isinstance(s, Loop):
            out |= _names(s.args)  # a loop over an array's rows: views
            out |= _names(s.nexts) - defined_names(s.body)
            # a view carried to the next iteration or out of the loop
            out |= _names(s.inits + s.nexts) & set(views)
            if isinstance(s, While):
                out |= _shared(s.test, env, views, later | _reads(s.body, views))
            out |= _shared(s.body, env, views, later | _names(s.nexts))
        else:
            for block, vals in ((s.then, s.then_vals), (s.orelse, s.else_vals)):
                out |= (_names(vals) - defined_names(block)) & later
                out |= _names(vals) & set(views)  # a view passed on by the `if`
                out |= _shared(block, env, views, later | _names(vals))
    return out


def _copy_pushed_views(fn: Function, env: dict, namer: Namer) -> Function:
    """``fn`` pushing a copy of each view (``y[i - 1]``) of an array it writes
    into, in place of the view: the tape must hold the slice's value at push
    time, and a view kept there would stop every write into the array from
    happening in place.  The copy is O(the slice)."""
    views = _views(fn.body, env)
    written = _closed(_written(fn.body), _alias_pairs(fn.body))
    pushed = {
        a.name
        for e in _eqns(fn.body)
        if e.prim == "push"
        for a in e.ins
        if isinstance(a, Var) and views.get(a.name, frozenset()) & written
    }
    if not pushed:
        return fn

    def block(stmts) -> tuple:
        out: list = []
        for s in stmts:
            if isinstance(s, Eqn) and s.prim == "push":
                ins = list(s.ins)
                for i, a in enumerate(ins):
                    if isinstance(a, Var) and a.name in pushed:
                        copy = namer.temp()
                        out.append(Eqn("copy", (copy,), (a,), s.loc, "np"))
                        ins[i] = copy
                s = s.with_ins(tuple(ins))
            elif isinstance(s, If):
                s = replace(s, then=block(s.then), orelse=block(s.orelse))
            elif isinstance(s, While):
                s = replace(s, test=block(s.test), body=block(s.body))
            elif isinstance(s, Loop):
                s = replace(s, body=block(s.body))
            out.append(s)
        return tuple(out)

    return replace(fn, body=block(fn.body))


def written_in_place(fn: Function) -> set[str]:
    """The arrays ``fn`` writes into in place, with every name that may be one
    of them (codegen never folds a read of these past a statement: it would
    read the array after the write)."""
    targets = set()
    for s in fn.body:
        targets |= _written_here(s)
    if not targets:
        return targets
    targets = _closed(targets, _alias_pairs(fn.body))
    views = _views(fn.body, shape_infer.infer(fn))
    return targets | {v for v, bases in views.items() if bases & targets}


def _alias_pairs(stmts, one_way: bool = False) -> list[tuple]:
    """Names that may be one array: a carried value and its init and next, an
    ``if``'s result and its branch values.

    ``one_way``: a loop's next value made afresh in each iteration (see
    :func:`_fresh_next`) gives the triple ``(next, carried, True)``: if the
    next array is kept, so is the carried one (it is that array an iteration
    later), but an array kept as the carried value is an earlier iteration's:
    what this iteration writes into its new array no reference sees.
    """
    pairs: list[tuple] = []
    for s in stmts:
        if isinstance(s, Eqn) and (s.param("inplace") or s.param("into")):
            pairs += [(s.out.name, a.name) for a in s.ins[:1] if isinstance(a, Var)]
        elif isinstance(s, Loop):
            for c, init, n in zip(s.carried, s.inits, s.nexts):
                if isinstance(init, Var):
                    pairs.append((c.name, init.name))
                if not isinstance(n, Var):
                    continue
                if one_way and _fresh_next(n, s.body):
                    pairs.append((n.name, c.name, True))
                else:
                    pairs.append((c.name, n.name))
        elif isinstance(s, If):
            for o, t, e in zip(s.outs, s.then_vals, s.else_vals):
                pairs += [(o.name, a.name) for a in (t, e) if isinstance(a, Var)]
        for block in blocks(s):
            pairs += _alias_pairs(block, one_way)
    return pairs


def _fresh_next(n: Var, body) -> bool:
    """Whether the array ``n`` is made in ``body`` in every iteration: every
    name that may be that array (its aliases in the body) is defined there by
    an operation that returns a new array (or writes into one of them)."""
    made = {o.name: e for e in _eqns(body) for o in e.outs}
    inner = defined_names(body)
    same = _closed({n.name}, _alias_pairs(body))
    for name in same:
        if name not in inner:
            return False  # an array from before the iteration
        e = made.get(name)
        if e is None:
            continue  # an inner loop's carried value or an `if`'s result: aliases
        if e.param("inplace") or e.param("into"):
            continue  # written into its first input, an alias too
        if e.prim not in _NEW_ARRAY | _ARITHMETIC | _PRODUCTS:
            return False  # a view, a call ... may be an older array
    return True


def _closed(shared: set, pairs) -> set[str]:
    """``shared`` with every name that may be the same array as a shared one
    (along a one-way pair, only from its first name to its second)."""
    shared = set(shared)
    changed = True
    while changed:
        changed = False
        for a, b, *one_way in pairs:
            grow = (a in shared) != (b in shared) if not one_way else a in shared
            if grow and not {a, b} <= shared:
                shared |= {a, b}
                changed = True
    return shared


# --- which arrays are owned --------------------------------------------------------------


def _owned(
    stmts, env: dict, shared: set, results: frozenset, views: dict
) -> tuple[set, set]:
    """The names of arrays this function made itself, never shared; and the
    loop-carried values among them that get a copy of their initial value
    first (it is shared, or read later: one copy, then every write in place)."""
    denied: set[str] = set()  # carried values whose next is not owned
    while True:
        owned: set[str] = set()
        copies: set[str] = set()
        found: set[str] = set()

        def makes_new(e: Eqn) -> bool:
            if len(e.outs) != 1:
                return False  # a push; a call's several results
            if e.prim in _NEW_ARRAY:
                return True
            shape = env.get(e.out.name)
            fresh = _ARITHMETIC | _PRODUCTS
            return e.prim in fresh and shape not in (None, shapes.SCALAR)

        def walk(stmts, after):
            for k, s in enumerate(stmts):
                if isinstance(s, Eqn):
                    if makes_new(s):
                        owned.update(o.name for o in s.outs)
                    continue
                later = _reads(stmts[k + 1 :], views) | after
                if isinstance(s, If):
                    walk_if(s, later)
                    continue
                counts: dict = {}
                _count_reads(s, counts, views)
                written = _written(s.body)
                for c, init in zip(s.carried, s.inits):
                    if c.name in denied or c.name in shared:
                        continue
                    if (
                        isinstance(init, Var)
                        and init.name in owned
                        and init.name not in shared
                        and init.name not in later
                        and counts.get(init.name) == 1  # read only as this init
                        and sum(1 for i in s.inits if i == init) == 1
                    ):
                        owned.add(c.name)
                    elif c.name in written and env.get(c.name) not in (
                        None,
                        shapes.SCALAR,
                    ):
                        owned.add(c.name)
                        copies.add(c.name)
                # what the body reads from before the loop, the next iteration
                # reads again: it is read after any write of this iteration
                bound = defined_names(s.body) | _names(s.carried + s.index)
                test = getattr(s, "test", ())
                again = (_reads(s.body, views) | _reads(test, views)) - bound
                # inside the body a carried name is this iteration's value; read
                # after the loop, it is the last next (the results)
                outer = (later - _names(s.carried)) | again
                if isinstance(s, While):
                    walk(s.test, outer | _reads(s.body, views))
                walk(s.body, outer | _names(s.nexts))
                made = defined_names(s.body)
                for c, n in zip(s.carried, s.nexts):
                    fresh = (
                        isinstance(n, Var)
                        and n.name in made
                        and n.name in owned
                        and s.nexts.count(n) == 1  # not two carried values at once
                    )
                    if c.name in owned and n != c and not fresh:
                        found.add(c.name)

        def walk_if(s: If, later):
            arms = ((s.then, s.then_vals), (s.orelse, s.else_vals))
            for block, vals in arms:
                walk(block, later | _names(vals))

            def passes_own(v, block, vals) -> bool:
                # made in the branch, or an array nothing reads after the `if`
                # (the other branch may write into it), passed on once
                if not isinstance(v, Var) or v.name not in owned:
                    return False
                if sum(1 for w in vals if w == v) != 1:
                    return False
                made = v.name in defined_names(block)
                return made or (v.name not in later and v.name not in shared)

            for i, o in enumerate(s.outs):
                if all(passes_own(vals[i], block, vals) for block, vals in arms):
                    owned.add(o.name)

        walk(stmts, results)
        if not found:
            return owned - shared, copies
        denied |= found


# --- which arrays are float64 -------------------------------------------------------


def _float64(stmts) -> set[str]:
    """Names certainly holding float64 values (or arrays): ``np.zeros(shape)`` and
    ``np.ones(shape)``, and what arithmetic, views and float functions make of
    them (float64 with any real number is float64), carried values that start
    and stay so, ``if`` results that are so in both branches."""
    known: set[str] = set()
    denied: set[str] = set()  # carried values whose next is not float64
    while True:
        known.clear()
        found = _float64_block(stmts, known, denied)
        if not found:
            return known
        denied |= found


_NOT_FLOAT = where(result="int") | where(result="bool") | {"call", "push", "tape"}


def _float64_block(stmts, known: set, denied: set) -> set[str]:
    """Add to ``known`` the float64 names ``stmts`` make; return the carried
    values assumed float64 whose next is not."""
    found: set[str] = set()
    for s in stmts:
        if isinstance(s, Eqn):
            if len(s.outs) == 1 and _makes_float64(s, known):
                known.add(s.out.name)
        elif isinstance(s, If):
            found |= _float64_block(s.then, known, denied)
            found |= _float64_block(s.orelse, known, denied)
            for o, a, b in zip(s.outs, s.then_vals, s.else_vals):
                if (
                    _names((a, b)) <= known
                    and isinstance(a, Var)
                    and isinstance(b, Var)
                ):
                    known.add(o.name)
        else:
            for c, init in zip(s.carried, s.inits):
                if (
                    isinstance(init, Var)
                    and init.name in known
                    and c.name not in denied
                ):
                    known.add(c.name)
            found |= _float64_block(s.test, known, denied)
            found |= _float64_block(s.body, known, denied)
            for c, n in zip(s.carried, s.nexts):
                if c.name in known and not (isinstance(n, Var) and n.name in known):
                    found.add(c.name)
    return found


def _makes_float64(e: Eqn, known: set) -> bool:
    if e.prim == "construct":  # np.zeros(shape), np.ones(shape): no dtype given
        return e.param("fn") in ("zeros", "ones") and e.param("args") == (("", -1),)
    if e.prim in _NOT_FLOAT or (e.prim in ("max", "min", "select") and e.ns != "np"):
        return False  # Python's max(a, b), `a if c else b`: maybe the other
    if e.prim in ("setitem", "unindex"):  # the array written into keeps its dtype
        return isinstance(e.ins[0], Var) and e.ins[0].name in known
    ignored = PRIMITIVES[e.prim].shape_only
    return any(
        isinstance(a, Var) and a.name in known and i not in ignored
        for i, a in enumerate(e.ins)
    )


# --- the rewrite ---------------------------------------------------------------------------


def _target(s: Eqn, stmts: list, k: int, facts: _Facts):
    """The array ``s`` could write into in place, and the equation that fuses into
    it (the ``unindex`` of an ``add``), or None."""
    if s.param("inplace") or s.param("into"):
        return None
    if s.prim == "setitem" and isinstance(s.ins[0], Var):
        return s.ins[0].name, None
    if s.prim != "add":
        return None
    defs = {o.name: (j, t) for j, t in enumerate(stmts[:k]) for o in _outs(t)}
    for t, u in (s.ins, tuple(reversed(s.ins))):
        if not (isinstance(t, Var) and isinstance(u, Var)) or u.name not in defs:
            continue
        j, spread = defs[u.name]
        if not isinstance(spread, Eqn) or spread.prim != "unindex":
            continue
        if spread.param("into") or facts.reads.get(u.name) != 1:
            continue
        shape = facts.env.get(t.name)
        if not same_shape(t, u, facts.roots):  # (twins: t + u broadcasts nothing)
            if shape is None or shape == shapes.TUPLE or shapes.ANY in shape:
                continue
            if shape != facts.env.get(u.name):  # t + u broadcasts nothing
                continue
        # fused, the unindex reads g where the add is: not past a write into
        # g's array (g may be a view of one written in place in between)
        between = [_written_here(w) for w in stmts[j + 1 : k]]
        if set().union(*between) & _reads([spread], facts.views):
            continue
        return t.name, j
    for t in s.ins:  # a + b, into a: an accumulation
        if _accumulates_into(s, t, facts):
            return t.name, ACCUMULATE
    return None


ACCUMULATE = "+="  # _target's second value for ``a += b``


def _accumulators(stmts) -> set[str]:
    """The names that accumulate: loop-carried values and ``np.zeros(shape)``
    (more join as writes into them happen in place)."""
    out: set[str] = set()
    for s in stmts:
        if isinstance(s, Loop):
            out |= _names(s.carried)
        elif isinstance(s, Eqn) and _makes_float64(s, set()):
            out |= _names(s.outs)
        for block in blocks(s):
            out |= _accumulators(block)
    return out


def _accumulates_into(s: Eqn, t, facts: _Facts) -> bool:
    """Whether ``s = t + u`` may be ``t += u``: ``t`` an owned float64 array of
    the result's shape (so ``+=`` broadcasts nothing and casts nothing: float64
    plus any real number is float64, bit for bit what ``t + u`` makes)."""
    if not isinstance(t, Var) or t.name not in facts.float64:
        return False
    if t.name not in facts.accumulators:
        return False  # a temporary of the primal code: `t + u` reads better
    if t.name not in facts.owned or t.name in facts.shared:
        return False
    shape = facts.env.get(t.name)
    if shape in (None, shapes.SCALAR, shapes.TUPLE):
        return False
    if same_shape(t, s.out, facts.roots):  # the sum has t's shape
        return True
    return shapes.ANY not in shape and shape == facts.env.get(s.out.name)


def _outs(s) -> tuple:
    return s.outs if isinstance(s, (Eqn, If)) else tuple(s.carried)


def _sink(stmts: list, k: int, name: str, views: dict, fused=()) -> list | None:
    """``stmts`` with statement ``k`` moved after the last later read of
    ``name``, if the statements it passes do not read its output, nor write
    in place into an array it reads (or the equations ``fused`` into it read);
    None if not."""
    last = None
    for j in range(k + 1, len(stmts)):
        if name in _reads([stmts[j]], views):
            last = j
    if last is None:
        return stmts
    out = {o.name for o in _outs(stmts[k])}
    if out & _reads(stmts[k + 1 : last + 1], views):
        return None
    moved_reads = _reads([stmts[k], *fused], views)  # and the arrays of views
    if any(_written_here(t) & moved_reads for t in stmts[k + 1 : last + 1]):
        return None  # that write took an array it reads: reading after is wrong
    if any(not isinstance(t, Eqn) for t in stmts[k + 1 : last + 1]):
        return None  # an `if` or a loop may pass the array on under another name
    moved = list(stmts)
    moved.insert(last, moved.pop(k))
    return moved


def _rewrite(stmts, local: frozenset, after: frozenset, facts: _Facts) -> tuple:
    """The block with its unobservable writes in place.

    ``local`` are the names the block defines besides its statements' outputs
    (a loop body's carried values); ``after`` what is read once it is done.
    """
    stmts = list(stmts)
    here = set(local) | {o.name for s in stmts for o in _outs(s)}
    k = 0
    while k < len(stmts):
        s = stmts[k]
        if isinstance(s, Loop):
            nexts = _names(s.nexts + ((s.brk,) if s.brk is not None else ()))
            body = _rewrite(s.body, _names(s.carried), nexts, facts)
            inits = list(s.inits)
            for i, c in enumerate(s.carried):
                if c.name in facts.copies:  # one copy, then writes in place
                    copy = facts.namer.temp()
                    stmts.insert(k, Eqn("copy", (copy,), (inits[i],), s.loc, "np"))
                    k += 1
                    inits[i] = copy
            stmts[k] = replace(s, body=body, inits=tuple(inits))
        elif isinstance(s, If):
            # a branch may write into an array from before the `if` that
            # nothing reads afterwards (the other branch does not run)
            later = _reads(stmts[k + 1 :], facts.views) | after
            before = _loop_inits(stmts[:k]) | _if_vals(stmts[:k])
            outer = frozenset(
                x
                for x in here
                if x in facts.owned
                and x not in facts.shared
                and x not in later
                and x not in before
            )
            # a later `if` on the same condition may read a branch's values (a
            # reverse sweep's does): what is read after counts inside too
            then = _rewrite(s.then, outer, _names(s.then_vals) | later, facts)
            orelse = _rewrite(s.orelse, outer, _names(s.else_vals) | later, facts)
            stmts[k] = replace(s, then=then, orelse=orelse)
        elif (found := _target(s, stmts, k, facts)) is not None:
            name, spread = found
            moved = None
            if (
                name in facts.owned
                and name not in facts.shared
                and name in here
                and name not in after
                # a carried value or a branch's result may be the same array
                and name not in _loop_inits(stmts[:k]) | _if_vals(stmts[:k])
            ):
                taken = [stmts[spread]] if isinstance(spread, int) else []
                moved = _sink(stmts, k, name, facts.views, taken)
            if moved is not None:
                following = stmts[k + 1] if k + 1 < len(stmts) else None
                stmts = moved
                position = _position(stmts, s)
                marked = s
                if spread == ACCUMULATE:  # t + u as t += u: the array first
                    marked = s.with_ins(
                        tuple(sorted(s.ins, key=lambda a: a != Var(name)))
                    )
                    spread = None
                fused = stmts[spread] if spread is not None else None
                stmts[position] = _marked(marked, fused, _how(fused, facts.env))
                facts.accumulators.add(s.out.name)  # the same array as `name`
                if fused is not None:
                    del stmts[spread]  # the add took its place
                if following is None:
                    break
                k = _position(stmts, following)
                continue
        k += 1
    return tuple(stmts)


def _how(spread: Eqn | None, env: dict) -> str:
    """``+=`` where every index part is a number; ``at`` (np.add.at) where one may
    be an index array, whose repeats must each add."""
    if spread is None:
        return ""
    parts = spread.ins[2:]
    numbers = all(
        not isinstance(a, Var) or env.get(a.name) == shapes.SCALAR for a in parts
    )
    return "+=" if numbers else "at"


def _written_here(s) -> set[str]:
    """The arrays a statement (its blocks included) writes into in place."""
    return {
        e.ins[0].name
        for e in _eqns([s])
        if (e.param("inplace") or e.param("into")) and isinstance(e.ins[0], Var)
    }


def _loop_inits(stmts) -> set[str]:
    """The names loops among ``stmts`` start a carried value from."""
    out: set[str] = set()
    for s in stmts:
        if isinstance(s, Loop):
            out |= _names(s.inits)
        for block in blocks(s):
            out |= _loop_inits(block)
    return out


def _if_vals(stmts) -> set[str]:
    """The names ``if`` statements among ``stmts`` pass on as their results."""
    out: set[str] = set()
    for s in stmts:
        if isinstance(s, If):
            out |= _names(s.then_vals + s.else_vals)
        for block in blocks(s):
            out |= _if_vals(block)
    return out


def _position(stmts: list, s) -> int:
    return next(i for i, t in enumerate(stmts) if t is s)


def _marked(s: Eqn, spread: Eqn | None, how: str = "+=") -> Eqn:
    if spread is None:  # x[i] = v, into x itself
        return Eqn(s.prim, s.outs, s.ins, s.loc, s.ns, s.params + (("inplace", True),))
    t = next(a for a in s.ins if a != spread.out)
    ins = (t,) + spread.ins[1:]  # t in place of x (the same shape), then g, parts
    params = spread.params + (("into", how),)
    return Eqn("unindex", s.outs, ins, s.loc, spread.ns, params)
