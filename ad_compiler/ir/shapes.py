"""Abstract shapes: what the compiler knows statically about a value's shape.

The emitted code is shape-polymorphic, so no size is ever baked in.  What the
derivative needs is only *which axes broadcast*: the adjoint of ``b`` in
``X @ W + b`` sums over the axes along which ``b`` was stretched.  NumPy's rule
is that an axis broadcasts exactly when its length is 1 and the other
operand's is not, so an abstract shape records, per axis, only

* ``1``    -- the length is 1;
* ``"n"``  -- the length is known not to be 1 (any other size);
* ``"?"``  -- unknown (it may be 1).

* ``(root, axis, offset)`` -- the length of a parameter's axis plus a
  (negative) offset, at least 0: the length of ``x[1:]`` and of ``x[:-1]``
  is ``("x", 0, -1)``.  It may be 1, but two axes with the same such length
  have equal lengths, so nothing is broadcast between them (that is what
  lets the adjoint of ``x[1:] - x[:-1]`` skip the sums back).

A shape is a tuple of those (``()`` is a scalar: a Python number or a 0-d
array), or ``None`` when even the number of axes is unknown.  The API reads the
abstract shapes of the arguments it is called with (and compiles once per
pattern); the CLI, which never runs the file, knows them from annotations or
not at all.  Where a shape is not known well enough, the emitted code decides
at run time, through a small helper written into the emitted module.

Every primitive's shape rule is :func:`out_shape`; :func:`infer` runs it over a
whole function, through branches (shapes must agree, or become unknown) and
loops (iterated to a fixed point).
"""

from __future__ import annotations

from typing import Iterable

import numpy

from ad_compiler.errors import CompileError

ONE, N, ANY = 1, "n", "?"
SCALAR: tuple = ()
TUPLE = "tuple"  # the value is a tuple of ints (``x.shape``), not an array


def of_value(value) -> tuple | None:
    """The abstract shape of a concrete value (``np.zeros((3, 1))`` -> ``("n", 1)``)."""
    if isinstance(value, tuple):
        return TUPLE
    return tuple(ONE if d == 1 else N for d in numpy.shape(value))


def signature(args: Iterable) -> tuple:
    """The abstract shapes of a call's arguments: the API compiles once per signature."""
    return tuple(of_value(a) for a in args)


def _join_dim(a, b):
    return a if a == b else ANY


def join(a, b):
    """A shape covering both (branches and loop iterations that must agree)."""
    if a == b:
        return a
    if a is None or b is None or a == TUPLE or b == TUPLE or len(a) != len(b):
        return None
    return tuple(_join_dim(x, y) for x, y in zip(a, b))


def broadcast(*shapes):
    """The shape of an elementwise operation on operands of these shapes."""
    out = SCALAR
    for s in shapes:
        if s is None or out is None:
            out = None
            continue
        if s == TUPLE:
            return None
        n = max(len(out), len(s))
        a = (ONE,) * (n - len(out)) + out
        b = (ONE,) * (n - len(s)) + s
        out = tuple(_broadcast_dim(x, y) for x, y in zip(a, b))
    return out


def may_be_one(d) -> bool:
    """Whether an axis of this abstract length may have length 1 at run time."""
    return d == ONE or d == ANY or isinstance(d, tuple)


def _broadcast_dim(a, b):
    if a == b:
        return a  # the same length (a named length included): nothing stretched
    if a == ONE:
        return b
    if b == ONE:
        return a
    if a == N or b == N:
        return N  # both must be that length, or NumPy raises
    return ANY


def reduced_axes(g, x):
    """How to sum ``g`` (an adjoint shaped like a broadcast result) back to ``x``'s shape.

    Returns ``(lead, keep)``: the number of leading axes to sum away and the
    axes (of what is left) to sum keeping their length 1; ``None`` when the
    shapes do not say (the emitted code then decides at run time).  An adjoint
    may stay smaller than ``x`` where it broadcasts to it (a scalar ȳ of a sum
    stands for an array of ȳ): only the axes ``x`` was stretched along are summed.
    """
    if g is None or x is None or g == TUPLE or x == TUPLE:
        return None
    lead = max(len(g) - len(x), 0)
    rest = g[lead:]
    skip = len(x) - len(rest)
    keep = []
    for i, (gd, xd) in enumerate(zip(rest, x[skip:])):
        if xd == N or gd == ONE or (gd == xd and xd != ANY):
            continue
        if xd == ONE and gd == N:
            keep.append(i)
            continue
        return None
    return lead, tuple(keep)


def _axes(axis, rank: int, loc=None) -> tuple[int, ...]:
    axes = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise CompileError(
                f"axis {a} is out of range for an array with {rank} axes", loc
            )
        out.append(a % rank)
    return tuple(sorted(out))


def reduce(x, axis, keepdims: bool, loc=None):
    """The shape of ``np.sum(x, axis=axis, keepdims=keepdims)``."""
    if axis is None:
        if keepdims:
            return None if x is None else (ONE,) * len(x)
        return SCALAR
    if x is None:
        return None
    axes = _axes(axis, len(x), loc)
    if keepdims:
        return tuple(ONE if i in axes else d for i, d in enumerate(x))
    return tuple(d for i, d in enumerate(x) if i not in axes)


def matmul(a, b, loc=None):
    """The shape of ``a @ b`` (NumPy's rules: 1-D operands are vectors)."""
    if a == SCALAR or b == SCALAR:
        raise CompileError(
            "matrix product `@` of a scalar",
            loc,
            hint="use `*` to scale by a number (NumPy raises here too)",
        )
    if a is None or b is None:
        return None
    if len(a) == 1 and len(b) == 1:
        return SCALAR
    if len(a) == 1:
        return b[:-2] + b[-1:]
    if len(b) == 1:
        return a[:-1]
    batch = broadcast(a[:-2], b[:-2])
    return None if batch is None else batch + (a[-2], b[-1])


def transpose(x, axes):
    if x is None:
        return None
    if axes is None:
        return tuple(reversed(x))
    return tuple(x[i] for i in axes)


def expand_dims(x, axis):
    if x is None:
        return None
    axes = axis if isinstance(axis, tuple) else (axis,)
    rank = len(x) + len(axes)
    new = {a % rank for a in axes}
    rest = iter(x)
    return tuple(ONE if i in new else next(rest) for i in range(rank))


def squeeze(x, axis):
    if x is None:
        return None
    if axis is None:
        if any(d == ANY or isinstance(d, tuple) for d in x):
            return None
        return tuple(d for d in x if d != ONE)
    axes = _axes(axis, len(x))
    return tuple(d for i, d in enumerate(x) if i not in axes)


def concatenate(shapes, axis: int):
    known = [s for s in shapes if s is not None]
    if len(known) < len(shapes) or not known:
        return None
    rank = len(known[0])
    if any(len(s) != rank for s in known) or rank == 0:
        return None
    a = axis % rank
    out = list(known[0])
    for s in known[1:]:
        out = [join(x, y) if i != a else N for i, (x, y) in enumerate(zip(out, s))]
    out[a] = N if len(shapes) > 1 else out[a]
    return tuple(out)


def stack(shapes, axis: int):
    base = shapes[0]
    for s in shapes[1:]:
        base = join(base, s)
    if base is None:
        return None
    rank = len(base) + 1
    a = axis % rank
    size = N if len(shapes) > 1 else ONE
    return base[:a] + (size,) + base[a:]


def parse(text: str) -> tuple:
    """A shape as a user writes it (``adc compile --shape X=batch,64``).

    Each axis is ``1`` (it may be stretched to match other arrays), ``?``
    (unknown), or any other number or name: an axis that is never stretched.
    An empty text is a scalar.
    """
    dims = []
    for part in text.replace("(", "").replace(")", "").split(","):
        part = part.strip()
        if not part:
            continue
        if part == "1":
            dims.append(ONE)
        elif part == "?":
            dims.append(ANY)
        elif part.isidentifier() or part.isdigit():
            dims.append(N)
        else:
            raise ValueError(f"an axis is 1, ?, a number or a name, not {part!r}")
    return tuple(dims)


def show(shape) -> str:
    """How a shape is written in messages and docs: ``(n, 1)``, ``()``, ``(?)``."""
    if shape is None:
        return "(any shape)"
    if shape == TUPLE:
        return "(a shape tuple)"
    dims = [
        f"len({d[0]}, axis {d[1]}){d[2]:+d}" if isinstance(d, tuple) else str(d)
        for d in shape
    ]
    return "(" + ", ".join(dims) + ("," if len(shape) == 1 else "") + ")"


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
    start ≥ 0 (or none) and stop < 0 (or none), max(len + stop - start, 0)."""
    if step is not None:
        return None
    first = 0 if start is None else getattr(start, "value", None)
    last = 0 if stop is None else getattr(stop, "value", None)
    if type(first) is not int or type(last) is not int or first < 0:
        return None
    if last > 0 or (stop is not None and last == 0):  # x[a:b], x[a:0]: fixed
        return None
    if first == 0 and last == 0:
        return d  # x[:]
    if isinstance(d, tuple):  # a slice of a slice: the same root
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
    if e.prim == "construct" and params["fn"] in sized and params["args"][0][1] < 0:
        return shape
    return None


def infer(fn, same_as: dict | None = None) -> dict:
    """The abstract shape of every value of IR function ``fn``, by name.

    ``same_as`` maps a parameter to another of the same shape (a tangent to
    its primal): their slices get the same named lengths.

    Parameters take ``fn.param_shapes`` (all scalars when that is None).  Branch
    results join the shapes of both arms; loop-carried values are iterated to a
    fixed point (a shape that changes between iterations becomes unknown).
    """
    from ad_compiler.ir.nodes import For, If, Var, While
    from ad_compiler.ir.primitives import PRIMITIVES

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
            tape, items = e.ins[0].name, ins[1:]
            old = tapes.get(tape)
            tapes[tape] = (
                items if old is None else [join(a, b) for a, b in zip(old, items)]
            )
            return
        if e.prim in ("call", "tape"):
            out = SCALAR if e.prim == "call" and all(s == SCALAR for s in ins) else None
            for o in e.outs:
                env[o.name] = out
            return
        if prim.shape is None:
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
        elif e.prim == "getitem" and out is not None:
            out = _named_slices(e, ins, out, params)
        elif e.prim in ("like", "copy") and not e.param("lead"):
            # exactly the shape of a parameter: its slices are named after it
            source = e.ins[1 if e.prim == "like" else 0]
            if getattr(source, "name", None) in params:
                params[e.out.name] = params[source.name]
        elif e.prim in ("reshape", "construct") and (out is None or ANY in out):
            out = _sized_by_a_shape(e, shape_of) or out
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
            block(s.test)
            block(s.body)
            after = [join(c, of(n)) for c, n in zip(current, s.nexts)]
            if after == current:
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
    for name, error in fn.hazards:  # (checked on the function as lowered)
        if env.get(name, SCALAR) != SCALAR:
            raise error  # an in-place `x += v` on an array another name shares
    return env
