"""Shape inference: the abstract shape of every value of an IR function.

The shape algebra (what one operation does to shapes) is :mod:`ad_compiler.ir.shapes`;
each primitive's rule is its row's ``shape`` (:mod:`ad_compiler.primitives`).
This module walks a function with them: through branches (shapes must agree,
or become unknown) and loops (iterated to a fixed point).
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.errors import CompileError
from ad_compiler.ir.nodes import Const, For, If, Var, While, iter_eqns
from ad_compiler.ir.shapes import (
    ANY,
    SCALAR,
    TUPLE,
    ListOf,
    broadcast,
    join,
)
from ad_compiler.primitives.lists import MUTATORS
from ad_compiler.primitives.table import PRIMITIVES


def _named_slices(e, shapes_in: list, out: tuple, params: dict) -> tuple:
    """``out`` (the shape of ``x[...]``) with each axis sliced with constant
    bounds, ``a:`` or ``:-b`` or ``a:-b`` (a, b ≥ 0, step 1), given a named length:
    the sliced axis's length minus a + b, at least 0 -- the same for every such
    slice of the same parameter's axis.  Only parameters (and slices of them)
    are roots: their lengths never change while the function runs."""
    x = shapes_in[0]
    if x is None or x == TUPLE:
        return out
    base = e.ins[0]
    root = params.get(getattr(base, "name", None))
    parts, part_shapes = list(e.ins[1:]), list(shapes_in[1:])
    dims, axis, pos = list(out), 0, 0
    layout = e.param("index")
    rest = len(x) - sum(1 for item in layout if item not in (None, "..."))
    for item in layout:
        if item is None:
            pos += 1
        elif item == "...":
            axis, pos = axis + rest, pos + rest
        elif item == "a":
            parts.pop(0)
            axis += 1
            if part_shapes.pop(0) != SCALAR:
                pos += 1  # a 1-D index array: one axis out
        else:
            bounds = [parts.pop(0) if flag else None for flag in item[1:]]
            del part_shapes[: sum(item[1:])]
            named = _slice_length(x[axis], root, axis, *bounds)
            if named is not None:
                dims[pos] = named
            axis, pos = axis + 1, pos + 1
    return tuple(dims)


def _slice_length(d, root, axis: int, start, stop, step):
    """The named length of ``x[start:stop]`` along an axis of length ``d``: for
    start ≥ 0 (or none) and stop < 0 (or none), max(len + stop - start, 0);
    for constants 0 ≤ start, stop, max(min(stop, len) - start, 0), named
    ``(root, axis, (start, stop))`` (``x[0:3]`` and ``x_dot[0:3]`` alike)."""
    if step is not None:
        return None
    first = 0 if start is None else getattr(start, "value", None)
    last = 0 if stop is None else getattr(stop, "value", None)
    if type(first) is not int or type(last) is not int or first < 0:
        return None
    if last > 0 or (stop is not None and last == 0):  # x[a:b], x[a:0]
        # min(b, len) - a, at least 0: the same for every x[a:b] of that axis
        if isinstance(d, tuple) or root is None:
            return None
        return (root, axis, (first, last))
    if first == 0 and last == 0:
        return d  # x[:]
    if isinstance(d, tuple):  # a slice of a slice: the same root
        if not isinstance(d[2], int):
            return None  # (of a slice x[a:b]: not named)
        return (d[0], d[1], d[2] - first + last)
    return None if root is None else (root, axis, last - first)


def _sized_by_a_shape(e, shape_of: dict):
    """``np.reshape(g, np.shape(x))`` and ``np.zeros(np.shape(x))`` have x's shape."""
    source = e.ins[1] if e.prim == "reshape" else (e.ins[0] if e.ins else None)
    shape = shape_of.get(getattr(source, "name", None))
    params = dict(e.params)
    if e.prim == "reshape" and params.get("packed"):
        lead = params.get("lead", 0)
        return shape if shape is None or not lead else (ANY,) * lead + shape
    sized = ("zeros", "ones", "empty", "full")
    if e.prim != "construct" or params["fn"] not in sized:
        return None
    count = params["args"][0][1]
    if count < 0:
        return shape
    # np.zeros((n, k)) with n, k lengths of axes (``n, k = x.shape``)
    lengths = []
    for a in e.ins[:count]:
        length = shape_of.get(getattr(a, "name", None))
        if length is None:
            return None
        lengths.append(length[0])
    return tuple(lengths) if lengths else None


def _length_of_an_axis(e, shape_of: dict) -> None:
    """``x.shape[k]`` is as long as axis k of x (``shape_of`` records it)."""
    whole = shape_of.get(e.ins[0].name) if isinstance(e.ins[0], Var) else None
    k = e.ins[1].value if len(e.ins) == 2 and isinstance(e.ins[1], Const) else None
    if whole in (None, TUPLE) or not isinstance(k, int) or isinstance(k, bool):
        return
    if -len(whole) <= k < len(whole):
        shape_of[e.out.name] = (whole[k],)


def _led(e, out: tuple, shape_of: dict) -> tuple:
    """A value given vector mode's direction axis of ``k = len(direction)``
    (``lead(v, k)``) has the directions' named length there, not just any."""
    count = shape_of.get(getattr(e.ins[1], "name", None))
    if count is None or len(count) != 1:
        return out
    at = e.param("at") or 0
    return out[:at] + count + out[at + 1 :]


def makes_arrays(inferred: dict) -> bool:
    """Whether a function of these inferred shapes (:func:`infer`) makes an
    array, though its parameters be numbers (``np.array([x, y])``)."""
    return any(isinstance(s, tuple) and s != SCALAR for s in inferred.values())


def _appended(old, item):
    """The shape of a list that had shape ``old`` after ``item`` is appended."""
    new = join(old, ListOf(item)) if old else ListOf(item)
    return new if isinstance(new, ListOf) else ListOf(None)


def _joined(old, items: list) -> list:
    """The shapes of a tape's items after another push stored ``items``."""
    return items if old is None else [join(a, b) for a, b in zip(old, items)]


def infer(fn, same_as: dict | None = None) -> dict:
    """The abstract shape of every value of IR function ``fn``, by name.

    ``same_as`` maps a parameter to another of the same shape (a tangent to
    its primal): their slices get the same named lengths.

    Parameters take ``fn.param_shapes`` (all scalars when that is None).  Branch
    results join the shapes of both arms; loop-carried values are iterated to a
    fixed point (a shape that changes between iterations becomes unknown).
    """
    env: dict = {}
    params = {p.name: p.name for p in fn.params}
    params.update(same_as or {})
    shape_of: dict = {}  # a value that is np.shape(v) -> v's shape
    tapes: dict = {}  # a tape -> the shapes of the items each push stores
    given = fn.param_shapes or (SCALAR,) * len(fn.params)
    for p, s in zip(fn.params, given):
        env[p.name] = s

    def of(a):
        return env.get(a.name) if hasattr(a, "name") else SCALAR

    def block(stmts):
        for s in stmts:
            if isinstance(s, If):
                block(s.then)
                block(s.orelse)
                for o, t, e in zip(s.outs, s.then_vals, s.else_vals):
                    env[o.name] = join(of(t), of(e))
            elif isinstance(s, (For, While)):
                loop(s)
            else:
                eqn(s)

    def eqn(e):
        prim = PRIMITIVES[e.prim]
        ins = [of(a) for a in e.ins]
        if e.prim == "push":
            tapes[e.ins[0].name] = _joined(tapes.get(e.ins[0].name), ins[1:])
            return
        if e.prim == "print":
            return
        if e.prim in MUTATORS:  # a list's items: the join of all appended
            if e.prim == "list_append":
                env[e.ins[0].name] = _appended(env.get(e.ins[0].name), ins[1])
            return
        if e.prim in ("call", "tape"):
            out = SCALAR if e.prim == "call" and all(s == SCALAR for s in ins) else None
            for o in e.outs:
                env[o.name] = out
            return
        if prim.shape is None:
            prim.refuse_arrays(ins, e.loc, e.ns)  # math.erf of an array
            out = broadcast(*ins)
        else:
            out = prim.shape(dict(e.params), *ins, loc=e.loc)
        if e.prim == "shape":
            shape_of[e.out.name] = ins[0]
        elif e.prim == "len" and ins[0] not in (None, TUPLE) and ins[0]:
            # np.zeros(len(x)) is as long as x (a parameter's length is named)
            first = ins[0][0]
            root = params.get(e.ins[0].name) if isinstance(e.ins[0], Var) else None
            if first == ANY and root is not None:
                first = (root, 0, 0)
            shape_of[e.out.name] = (first,)
        elif e.prim == "getitem" and ins[0] == TUPLE:
            _length_of_an_axis(e, shape_of)
        elif e.prim == "getitem" and out is not None:
            out = _named_slices(e, ins, out, params)
        elif e.prim in ("like", "copy") and not e.param("lead"):
            # exactly the shape of a parameter: its slices are named after it
            source = e.ins[1 if e.prim == "like" else 0]
            if getattr(source, "name", None) in params:
                params[e.out.name] = params[source.name]
        elif e.prim in ("reshape", "construct") and (out is None or ANY in out):
            out = _sized_by_a_shape(e, shape_of) or out
        elif e.prim == "lead" and out is not None:
            out = _led(e, out, shape_of)
        env[e.out.name] = out

    def loop(s):
        items = tapes.get(s.args[0].name) if s.over == "tape" else None
        for n, i in enumerate(s.index):
            if s.over != "tape":
                env[i.name] = SCALAR
            else:  # unpacks what the pushes stored (the loop that pushed came first)
                env[i.name] = items[n] if items and n < len(items) else None
        current = [of(a) for a in s.inits]
        for _ in range(4):
            for c, shape in zip(s.carried, current):
                env[c.name] = shape
            lists = {k: v for k, v in env.items() if isinstance(v, ListOf)}
            block(s.test)
            block(s.body)
            after = [join(c, of(n)) for c, n in zip(current, s.nexts)]
            grown = any(env[k] != v for k, v in lists.items())
            if after == current and not grown:
                break
            current = after
        else:
            current = [None if c != SCALAR else c for c in current]
            for c, shape in zip(s.carried, current):
                env[c.name] = shape
            block(s.test)
            block(s.body)
        for c, shape in zip(s.carried, current):
            env[c.name] = shape

    block(fn.body)
    for name, error, *rank in fn.hazards:  # (checked on the function as lowered)
        shape = env.get(name, SCALAR)
        if rank and fn.param_shapes and shape not in (None, TUPLE):
            if len(shape) != rank[0]:
                raise error  # `n, d = x.shape` of an x with another number of axes
        if not rank and shape != SCALAR:
            raise error  # an in-place `x += v` on an array another name shares
    return env


def callee_shapes(fn) -> dict:
    """The parameter shapes of each recursive function ``fn`` calls (its
    ``callees``, lowered on their own): the join over every call of it, from
    ``fn`` and from the callees themselves, to a fixed point.

    A recursive function's code is written once for all its calls, so a
    parameter keeps only what every call agrees on: its rank, and the lengths
    all calls share (``x`` passed on as it is keeps ``fn``'s lengths;
    ``x[1:]`` makes that axis of unknown length).  A length named after a
    caller's parameter means nothing in the callee: it becomes unknown.
    Shapes that have not settled after a few rounds, or that a callee cannot
    be inferred with, are unknown (None): code for arguments of any shape.
    """
    callees = {g.name: g for g in fn.callees}
    found: dict = {}
    for _ in range(6):
        before = dict(found)
        for f in [fn] + [callees[n] for n in found]:
            given = fn.param_shapes if f is fn else found[f.name]
            try:
                env = infer(_with_shapes(f, given))
            except CompileError:  # (a shape that is not settled yet)
                env = {}
            for e in iter_eqns(f.body):
                name = e.param("fn") if e.prim == "call" else None
                if name not in callees or e.param("custom") is not None:
                    continue
                ins = tuple(
                    _portable(env.get(a.name) if isinstance(a, Var) else SCALAR)
                    for a in e.ins
                )
                old = found.get(name)
                found[name] = ins if old is None else tuple(map(join, old, ins))
        if found == before:
            return found
    return {name: (None,) * len(callees[name].params) for name in found}


def _with_shapes(f, shapes: tuple):
    return replace(f, param_shapes=shapes)


def _portable(shape):
    """``shape`` as another function sees it: lengths named after this one's
    values (tuples) become unknown."""
    if not isinstance(shape, tuple):
        return shape  # unknown, a shape tuple, a list
    return tuple(ANY if isinstance(d, tuple) else d for d in shape)
