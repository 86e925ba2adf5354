"""The indexing rows, and the array rows the compiler makes itself.

An index such as ``x[i, 1:, None]`` is stored as a *layout*, one item per
position: ``"a"`` (one input: an int, an int array or a mask), ``("s", start,
stop, step)`` (a slice; each flag says whether that bound is an input),
``None`` (``np.newaxis``) or ``"..."``.  With ``g`` the adjoint of the output:

* ``y = x[i]``              ẏ = ẋ[i]                 x̄ = g placed at i, zeros elsewhere
* ``y = x with x[i] = v``   ẏ = ẋ with ẋ[i] = v̇      x̄ = g with g[i] = 0,  v̄ = g[i]
  (where an index array names a place twice, only the element written there
  last stayed: the others get 0, the ``written`` row)

The compiler's own rows (``sum_to``, ``like``, ``lead``) move tangents and
adjoints between shapes; ``shape``, ``len``, ``size`` and ``construct`` have no
derivative.

In vector mode (the ``batch`` rules, see :mod:`ad_compiler.ad.batching`)
indexing gets a leading ``:``; ``sum_to`` and ``like`` keep the directions in
front of the shape they move to.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy

from ad_compiler.errors import CompileError
from ad_compiler.ir import shapes
from ad_compiler.ir.nodes import Var
from ad_compiler.primitives.registry import (
    HELPERS,
    PREC_ATOM,
    Batching,
    Equation,
    Ops,
    Params,
    Primitive,
    Value,
    halves,
    helper_function,
    linear,
    register,
    zero_jvp,
    zero_vjp,
)

# --- how index layouts become Python ---------------------------------------------------


def index_text(layout, texts) -> str:
    """``i, 1:, None`` from a layout and the texts of its inputs."""
    texts = list(texts)
    items = []
    for item in layout:
        if item == "a":
            items.append(texts.pop(0))
        elif item is None:
            items.append("None")
        elif item == "...":
            items.append("...")
        else:
            bounds = [texts.pop(0) if flag else "" for flag in item[1:]]
            text = f"{bounds[0]}:{bounds[1]}"
            items.append(text + (f":{bounds[2]}" if item[3] else ""))
    return ", ".join(items) if len(items) != 1 else items[0]


def index_value(layout, values):
    """The Python index object of a layout and its input values."""
    values = list(values)
    items = []
    for item in layout:
        if item == "a":
            items.append(values.pop(0))
        elif item is None or item == "...":
            items.append(None if item is None else Ellipsis)
        else:
            bounds = [values.pop(0) if flag else None for flag in item[1:]]
            items.append(slice(*bounds))
    return items[0] if len(items) == 1 else tuple(items)


def _array_items(layout) -> list:
    """Per input of an index layout: whether it is an ``"a"`` item (an int,
    an int array or a mask), as opposed to a slice bound."""
    flags = []
    for item in layout:
        if item == "a":
            flags.append(True)
        elif item is not None and item != "...":
            flags.extend([False] * sum(item[1:]))
    return flags


def _index_shape(x, layout, parts, loc=None):
    if x == shapes.SCALAR:
        raise CompileError(
            "indexing a number", loc, hint="this value is a number here, not an array"
        )
    if x == shapes.TUPLE:
        return (
            shapes.SCALAR if tuple(layout) == ("a",) and tuple(parts) == ((),) else None
        )
    if x is None:
        return None
    out, axis, parts = [], 0, list(parts)
    placed = False  # the joined index arrays' axis is out already
    rest = len(x) - sum(1 for item in layout if item not in (None, "..."))
    arrays = [p for item, p in zip(_array_items(layout), parts) if item and p != ()]
    joined = len(arrays) > 1  # index arrays broadcast together into one axis here
    if joined and not (_adjacent(layout) and all(_vector(p) for p in arrays)):
        return None  # of several axes, or moved to the front: run time
    for item in layout:
        if item is None:
            out.append(shapes.ONE)
        elif item == "...":
            out.extend(x[axis : axis + rest])
            axis += rest
        elif item == "a":
            part = parts.pop(0)
            if _vector(part):
                if not placed:  # a 1-D mask or int array: one axis (all of them)
                    out.append(shapes.ANY)
                placed = joined
            elif part != shapes.SCALAR:
                return None  # an array index: its dtype decides; leave it to run time
            axis += 1
        else:
            used = sum(item[1:])
            del parts[:used]
            out.append(x[axis] if used == 0 else shapes.ANY)
            axis += 1
    if axis > len(x):
        return None
    return tuple(out) + tuple(x[axis:])


def _vector(part) -> bool:
    """Whether an index input is 1-D (an int array or a mask over one axis)."""
    return part is not None and part != shapes.TUPLE and len(part) == 1


def _adjacent(layout) -> bool:
    """Whether the ``"a"`` items (ints, int arrays, masks) of an index are next
    to each other: NumPy then puts their broadcast axes where they stand (else
    first)."""
    at = [i for i, item in enumerate(layout) if item == "a"]
    return at == list(range(at[0], at[0] + len(at))) if at else True


def _render_getitem(params, texts, atoms):
    return f"{atoms[0]}[{index_text(params['index'], texts[1:])}]", PREC_ATOM


def _getitem(x, *parts, index):
    return x[index_value(index, parts)]


def _render_setitem(params, texts, atoms):
    index = index_text(params["index"], texts[2:])
    return f"_assign({texts[0]}, np.s_[{index}], {texts[1]})", PREC_ATOM


def _setitem(x, v, *parts, index, inplace=False):
    # (in place or not, the value is the same: see inplace.py)
    return _assign(x, index_value(index, parts), v)


def _render_unindex(params, texts, atoms):
    index = index_text(params["index"], texts[2:])
    return f"_unindex({texts[0]}, np.s_[{index}], {texts[1]})", PREC_ATOM


def _unindex(x, g, *parts, index, into=False):
    # into: x + (g at index, zeros elsewhere), added into x by the emitted code
    out = _unindex_helper(x, index_value(index, parts), g)
    return x + out if into else out


def _render_construct(params, texts, atoms):
    texts = list(texts)
    args = []
    for kw, count in params["args"]:
        if count < 0:
            text = texts.pop(0)
        else:
            items = [texts.pop(0) for _ in range(count)]
            text = f"({items[0]},)" if count == 1 else f"({', '.join(items)})"
        args.append(f"{kw}={text}" if kw else text)
    return f"np.{params['fn']}({', '.join(args)})", PREC_ATOM


def _construct(*values, fn, args):
    values = list(values)
    pos, kws = [], {}
    for kw, count in args:
        v = values.pop(0) if count < 0 else tuple(values.pop(0) for _ in range(count))
        if kw:
            kws[kw] = v
        else:
            pos.append(v)
    return getattr(numpy, fn)(*pos, **kws)


def _construct_shape(p, *ins, loc=None):
    fn, args = p["fn"], p["args"]
    if fn.endswith("_like"):
        return ins[0]
    if fn == "eye":
        return (shapes.ANY, shapes.ANY)
    if fn == "arange":
        return (shapes.ANY,)
    count = args[0][1] if args else -1
    if count >= 0:
        return tuple(shapes.ANY for _ in range(count))
    first = ins[0] if ins else None
    return (shapes.ANY,) if first == shapes.SCALAR else None


def _len_shape(x, loc):
    if x == shapes.SCALAR:
        raise CompileError(
            "`len` of a number (a loop over a number's rows)",
            loc,
            hint="this value is a number here, not an array",
        )
    return shapes.SCALAR


# np.broadcast takes at most 32 arrays (NPY_MAXARGS before NumPy 2)
BROADCAST_MAX = 32

# the NumPy functions that make a new array from shapes (np.full is lowered as
# np.ones(...) * v, which differentiates in v)
CONSTRUCTORS = ("zeros", "ones", "zeros_like", "ones_like", "eye", "arange")


def _render_shape(params, texts, atoms):
    if params.get("function"):  # x may be a Python number: np.shape(2.0) is ()
        return f"np.shape({texts[0]})", PREC_ATOM
    return f"{atoms[0]}.shape", PREC_ATOM


def _plain_like(params) -> bool:
    return not params.get("lead") and not params.get("copy")


def _render_like(params, texts, atoms):
    if "site" in params:  # a probe's (ad_compiler/sized.py)
        lead = params.get("lead", 0)
        return f"_like_at({params['site']}, {texts[0]}, {texts[1]}, {lead})", PREC_ATOM
    if _plain_like(params):  # usually a no-op: the helper checks first
        return f"_like({texts[0]}, {texts[1]})", PREC_ATOM
    lead = params.get("lead", 0)
    if lead:  # vector mode: mostly t itself (np.broadcast_to costs ~5 µs a call)
        text = f"_like({texts[0]}, {texts[1]}, {lead})"
    else:
        text = f"np.broadcast_to({texts[0]}, np.shape({texts[1]}))"
    # a result handed to the user is a writable array of its own
    return (text + ".copy()" if params.get("copy") else text), PREC_ATOM


def _like(t, x, copy=False, lead=0):
    return numpy.broadcast_to(t, numpy.shape(t)[:lead] + numpy.shape(x))


def _like_shape(p, t, x, loc=None):
    lead = p.get("lead", 0)
    if not lead:
        return x
    if x is None or x == shapes.TUPLE:
        return None
    if t is None or t == shapes.TUPLE or len(t) < lead:
        return (shapes.ANY,) * lead + x
    return t[:lead] + x  # t's directions (the same named length throughout)


def _lead(v, k, at=0):
    s = numpy.shape(v)
    return numpy.broadcast_to(numpy.expand_dims(v, at), s[:at] + (k,) + s[at:])


def _lead_shape(p, v, k, loc=None):
    if v is None or v == shapes.TUPLE:
        return None
    at = p.get("at", 0)
    return v[:at] + (shapes.ANY,) + v[at:]


def _render_lead(params, texts, atoms):
    v, k = texts
    at = params.get("at", 0)
    if not at:
        return f"np.broadcast_to({v}, ({k},) + np.shape({v}))", PREC_ATOM
    s = f"np.shape({v})"
    return (
        f"np.broadcast_to(np.expand_dims({v}, {at}), {s}[:{at}] + ({k},) + {s}[{at}:])",
        PREC_ATOM,
    )


def _set_jvp(b: Ops, p: Params, out: Value, *args: Value) -> Value:
    ins, dins = halves(args)
    x, parts = ins[0], ins[2:]
    dx, dv = dins[0], dins[1]
    if dx is None and dv is None:
        return None
    dx = b.zeros(x) if dx is None else dx
    dv = b.lit(0.0) if dv is None else dv
    return b.apply("setitem", dx, dv, *parts, **p)


def _set_vjp(b: Ops, p: Params, out: Value, g: Value, x, v, *parts) -> tuple:
    read = b.apply("getitem", g, *parts, **p)
    if any(b.shape(a) != shapes.SCALAR for a in parts):
        # an index array may name a place twice: only the last write there stayed
        read = b.apply("written", read, g, *parts, **p)
    elif b.shape(read) not in (shapes.SCALAR, shapes.TUPLE):
        # a row of g, read before g[i] = 0 and used after it: a copy, O(the row),
        # lets that write happen in place (a view would make it copy all of g)
        read = b.apply("copy", read)
    x_bar = b.apply("setitem", g, b.lit(0.0), *parts, **p)
    v_bar = b.sum_to(read, v)
    return (x_bar, v_bar) + (None,) * len(parts)


def _render_written(params, texts, atoms):
    index = index_text(params["index"], texts[2:])
    return f"_written({texts[0]}, {texts[1]}, np.s_[{index}])", PREC_ATOM


def _written_eval(h, x, *parts, index):
    return _written_helper(h, x, index_value(index, parts))


def _written_batch(bt: Batching, e: Equation, p: Params, h, x, *parts) -> None:
    if any(bt.has(a) for a in parts):
        bt.error("an index that depends on the directions")
    if bt.has(x):  # x gives only its shape: one without the directions
        x = bt.template(x)
    # the mask is the same for every direction: it broadcasts over them
    bt.out.append(replace(e, ins=(h, x) + parts))


def _like_jvp(b: Ops, p: Params, out, t, x, dt, dx) -> Value:
    if dt is None:
        return None
    return b.apply("like", dt, x, **p) if p else b.like(dt, x)


def _render_size_of_shape(params, texts, atoms):
    """np.size(x) from x's shape; of several: of their broadcast shape."""
    shapes_text = ", ".join(f"np.shape({t})" for t in texts)
    if len(texts) > 1:
        shapes_text = f"np.broadcast_shapes({shapes_text})"
    return f"np.prod({shapes_text}, dtype=int)", PREC_ATOM


def _no_derivative(name, arity, evaluate, **fields) -> Primitive:
    return Primitive(
        name,
        arity,
        evaluate,
        differentiable=False,
        jvp=zero_jvp,
        vjp=zero_vjp,
        **fields,
    )


# --- vector mode ------------------------------------------------------------------------
WHOLE = ("s", False, False, False)  # the index item `:`


def _index(p: Params) -> tuple:
    """The params with a leading ``:`` on the index (the directions, taken
    whole); an index with ``...`` already takes them (``x[..., 0]`` is
    ``x[:, ..., 0]`` when x has its axes and the directions': one call less
    of NumPy's index parsing)."""
    index = tuple(p["index"])
    if "..." not in index:
        index = (WHOLE,) + index
    return tuple(sorted({**p, "index": index}.items()))


def _selected_rank(bt: Batching, x: Value, parts, layout) -> int:
    s = _index_shape(bt.env.get(x.name), layout, [_shape(bt, a) for a in parts])
    if s is None or s == shapes.TUPLE:
        bt.error("writing into an array at an index whose shape is unknown")
    return len(s)


def _shape(bt: Batching, a: Value):
    return bt.env.get(a.name) if isinstance(a, Var) else shapes.SCALAR


def _getitem_batch(bt: Batching, e: Equation, p: Params, x: Value, *parts) -> None:
    if any(bt.has(a) for a in parts):
        bt.error("an index that depends on the directions")
    bt.out.append(replace(e, params=_index(p)))


def _setitem_batch(bt: Batching, e: Equation, p: Params, x, v, *parts) -> None:
    if any(bt.has(a) for a in parts):
        bt.error("an index that depends on the directions")
    if not bt.has(x):
        x = bt.materialize(x, bt.rank(x))
    if bt.has(v):
        v = bt.expand(v, _selected_rank(bt, e.ins[0], parts, p["index"]) - bt.rank(v))
    bt.out.append(replace(e, ins=(x, v) + parts, params=_index(p)))


def _unindex_batch(bt: Batching, e: Equation, p: Params, x, g, *parts) -> None:
    if any(bt.has(a) for a in parts):
        bt.error("an index that depends on the directions")
    base = bt.template(x)
    g = bt.expand(g, _selected_rank(bt, x, parts, p["index"]) - bt.rank(g))
    full = bt.new("lead", base, bt.k)
    bt.out.append(replace(e, ins=(full, g) + parts, params=_index(p)))


def _render_sum_to(params, texts, atoms):
    lead = params.get("lead", 0)
    more = f", {lead}" if lead else ""
    if "site" in params:  # a probe's (ad_compiler/sized.py)
        return f"_sum_to_at({params['site']}, {texts[0]}, {texts[1]}{more})", PREC_ATOM
    return f"_sum_to({texts[0]}, {texts[1]}{more})", PREC_ATOM


def _sum_to_jvp(b: Ops, p: Params, out, g, x, dg, dx) -> Value:
    if dg is None:
        return None
    return b.apply("sum_to", dg, x, **p) if p else b.sum_to(dg, x)


def _sum_to_vjp(b: Ops, p: Params, out, gg, g, x) -> tuple:
    lead, rg, rx = p.get("lead", 0), b.rank(g), b.rank(x)
    if lead and rg is not None and rx is not None and rg > lead + rx:
        # the axes summed away behind the directions come back as length 1
        gg = b.apply("expand_dims", gg, axis=tuple(range(lead, rg - rx)))
    return b.like(gg, g), None


def _sum_to_batch(bt: Batching, e: Equation, p: Params, g: Value, x: Value) -> None:
    lead = p.get("lead", 0)
    if lead:  # vector mode of vector-mode code: ours go in front of the directions
        if not bt.has(g) or bt.rank(g) < bt.rank(x) + lead:
            bt.error("a sum back to a shape of values without all their directions")
        bt.new("sum_to", g, bt.template(x), out=e.out, ns=e.ns, lead=lead + 1)
        return
    rg, rx = bt.rank(g), bt.rank(x)
    how = shapes.reduced_axes(bt.env.get(g.name), bt.env.get(x.name))
    if how is not None:
        lead, keep = how
        if lead:
            g = bt.new("sum", g, axis=tuple(range(1, lead + 1)), method=True)
        if keep:
            g = bt.new("sum", g, axis=tuple(a + 1 for a in keep), keepdims=True)
        if g is e.ins[0]:
            bt.alias[e.out.name] = g  # nothing to sum
        else:
            bt.rename(g, e.out)
        return
    if rg > rx:
        g = bt.new("sum", g, axis=tuple(range(1, rg - rx + 1)), method=True)
    g = bt.expand(g, rx - rg)  # (the directions are kept in front: lead=1)
    bt.new("sum_to", g, bt.template(x), out=e.out, ns=e.ns, lead=1)


def _like_batch(bt: Batching, e: Equation, p: Params, t: Value, x: Value) -> None:
    st = bt.env.get(t.name) if isinstance(t, Var) else shapes.SCALAR
    plain = not p.get("copy") and not p.get("lead")
    if plain and st == bt.env.get(getattr(x, "name", "")):
        if st is not None and st != shapes.TUPLE and shapes.ANY not in st:
            bt.alias[e.out.name] = t  # already of x's shape
            return
    t = bt.expand(t, bt.rank(x) + p.get("lead", 0) - bt.rank(t))
    params = tuple(sorted({**p, "lead": p.get("lead", 0) + 1}.items()))
    bt.out.append(replace(e, ins=(t, bt.template(x)), params=params))


def _copy_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    bt.out.append(e)


def _lead_batch(bt: Batching, e: Equation, p: Params, v: Value, k: Value) -> None:
    # vector mode of vector-mode code: the new directions go behind ours
    bt.out.append(
        replace(e, params=tuple(sorted({**p, "at": p.get("at", 0) + 1}.items())))
    )


register(
    linear(
        "getitem",
        -1,
        _getitem,
        shape=lambda p, x, *parts, loc=None: _index_shape(x, p["index"], parts, loc),
        samples=(
            (((4, 3), 1), {"index": ("a",)}),
            (((4, 3), 1, 3), {"index": (("s", True, True, False),)}),
        ),
        render=_render_getitem,
        memory="view",
        batch=_getitem_batch,
        transpose=lambda b, p, out, g, x, *parts: (
            (b.apply("unindex", x, g, *parts, **p),) + (None,) * len(parts)
        ),
    ),
    # x with x[index] = v, as a new array: `x[i] = v` in the user's code
    Primitive(
        "setitem",
        -1,
        _setitem,
        shape=lambda p, x, v, *parts, loc=None: x,
        samples=((((4, 3), (3,), 1), {"index": ("a",)}),),
        render=_render_setitem,
        helper=lambda params: None if params.get("inplace") else "_assign",
        memory="new",
        shaped_like=0,
        jvp=_set_jvp,
        batch=_setitem_batch,
        vjp=_set_vjp,
    ),
    # the adjoint of x[index]: g where x[index] was read, zeros elsewhere;
    # unindex(x, g, i) is linear in g: its tangent and adjoint are the same moves
    linear(
        "unindex",
        -1,
        _unindex,
        at=1,
        shape=lambda p, x, g, *parts, loc=None: x,
        samples=(((numpy.zeros((4, 3)), (3,), 1), {"index": ("a",)}),),
        render=_render_unindex,
        helper=lambda params: None if params.get("into") else "_unindex",
        memory="new",
        batch=_unindex_batch,
        shape_only=(0,),
        shaped_like=0,
        transpose=lambda b, p, out, gg, x, g, *parts: (
            (None, b.apply("getitem", gg, *parts, **p)) + (None,) * len(parts)
        ),
    ),
    # g summed over the axes along which x was broadcast (shapes known at run
    # time); sum_to and like are each other's adjoint (both linear in their
    # first input)
    Primitive(
        "sum_to",
        2,
        lambda g, x, lead=0: _sum_to(g, x, lead),
        shape=_like_shape,
        samples=((((4, 3), numpy.zeros(3)), {}), (((2, 4, 3), (3,)), {"lead": 1})),
        render=_render_sum_to,
        helper="_sum_to",
        memory="view",
        batch=_sum_to_batch,
        shape_only=(1,),
        shaped_like=1,
        jvp=_sum_to_jvp,
        vjp=_sum_to_vjp,
    ),
    # t broadcast to x's shape (a tangent that is a scalar stands for an array);
    # lead: to (len(t),) + x's shape (t has vector mode's directions in front)
    Primitive(
        "like",
        2,
        _like,
        shape=_like_shape,
        samples=((((3,), numpy.zeros((4, 3))), {}),),
        repeats=lambda p: (0,) if p.get("lead") else (),
        render=_render_like,
        helper=lambda params: (
            "_like" if _plain_like(params) or params.get("lead") else None
        ),
        memory="view",
        batch=_like_batch,
        shape_only=(1,),
        shaped_like=1,
        jvp=_like_jvp,
        vjp=lambda b, p, out, gg, t, x: (b.sum_to(gg, t), None),
    ),
    # v with a leading axis of k directions (vector mode): broadcast, not
    # copied; its adjoint sums over that axis
    linear(
        "lead",
        2,
        _lead,
        shape=_lead_shape,
        samples=((((3,), 2), {}), (((3,), 2), {"at": 1})),
        render=_render_lead,
        repeats=lambda p: (0,),
        memory="view",
        batch=_lead_batch,
        transpose=lambda b, p, out, g, v, k: (
            b.apply("sum", g, axis=p.get("at", 0)),
            None,
        ),
    ),
    # a copy is the same values
    Primitive(
        "copy",
        1,
        lambda x, method=False: numpy.copy(x),
        names=("numpy.copy", "ndarray.copy"),
        samples=((((3,),), {}),),
        shape=lambda p, x, loc=None: x,
        render=lambda p, t, a: (
            (f"{a[0]}.copy()" if p.get("method") else f"np.copy({t[0]})"),
            PREC_ATOM,
        ),
        memory="new",
        batch=_copy_batch,
        shaped_like=0,
        jvp=lambda b, p, out, x, dx: dx,
        vjp=lambda b, p, out, g, x: (g,),
    ),
    # --- not differentiable: shapes, sizes, new arrays ---
    _no_derivative(
        "shape",
        1,
        numpy.shape,
        names=("numpy.shape",),
        shape=lambda p, x, loc=None: shapes.TUPLE,
        render=_render_shape,
        memory="copy",
        shape_only=(0,),
    ),
    _no_derivative(
        "len",
        1,
        len,
        py_name="len",
        names=("builtins.len",),
        call="own",
        shape=lambda p, x, loc=None: _len_shape(x, loc),
        result="int",
        memory="copy",
        shape_only=(0,),
    ),
    _no_derivative(
        "size",
        1,
        numpy.size,
        np_name="np.size",
        names=("numpy.size",),
        shape=lambda p, x, loc=None: shapes.SCALAR,
        result="int",
        memory="copy",
        shape_only=(0,),
    ),
    # the broadcast shape of its inputs, without computing anything: what
    # opt/shape_sources.py gives np.shape, np.size, _like ... in place of an
    # expression kept only for its shape (np.broadcast has .shape and .size)
    _no_derivative(
        "broadcast",
        -1,
        numpy.broadcast,
        np_name="np.broadcast",
        shape=lambda p, *xs, loc=None: shapes.broadcast(*xs),
        memory="view",
        shape_only=tuple(range(BROADCAST_MAX)),
    ),
    # the same two for arrays of other libraries (a derivative compiled lazy,
    # backend/lazy_form.py): Dask implements neither np.size nor np.broadcast
    # (np.broadcast would compute its inputs); these read shapes only
    _no_derivative(
        "size_of_shape",
        -1,
        lambda *xs: int(
            numpy.prod(numpy.broadcast_shapes(*map(numpy.shape, xs)), dtype=int)
        ),
        render=_render_size_of_shape,
        shape=lambda p, *xs, loc=None: shapes.SCALAR,
        result="int",
        memory="copy",
        shape_only=tuple(range(BROADCAST_MAX)),
    ),
    _no_derivative(
        "broadcast_of_shapes",
        -1,
        lambda *xs: numpy.broadcast_to(
            0.0, numpy.broadcast_shapes(*(numpy.shape(x) for x in xs))
        ),
        render=lambda p, texts, atoms: (
            "np.broadcast_to(0.0, np.broadcast_shapes("
            + ", ".join(f"np.shape({t})" for t in texts)
            + "))",
            PREC_ATOM,
        ),
        shape=lambda p, *xs, loc=None: shapes.broadcast(*xs),
        memory="view",
        shape_only=tuple(range(BROADCAST_MAX)),
    ),
    _no_derivative(
        "construct",
        -1,
        _construct,
        names=tuple(f"numpy.{n}" for n in CONSTRUCTORS),
        call="own",
        shape=_construct_shape,
        render=_render_construct,
        memory="new",
    ),
)


# The helpers emitted code calls, written into each module that uses them (the
# emitted code imports only math and numpy).  Keep them in step with the
# evaluators above: tests run both.
HELPERS.update(
    {
        "_sum_to": '''
def _sum_to(g, x, lead=0):
    """g summed over the axes along which x was broadcast (it may stay smaller);
    lead: g's first `lead` axes (vector mode's directions) are kept in front."""
    if getattr(g, "shape", ())[lead:] == getattr(x, "shape", ()):
        return g  # the usual case, checked first (a number's shape is ())
    g_shape = np.shape(g)
    shape = g_shape[:lead] + np.shape(x) if lead else np.shape(x)
    if g_shape == shape:
        return g
    extra = len(g_shape) - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(lead, lead + extra)))
        g_shape = g_shape[:lead] + g_shape[lead + extra :]
    skip = len(shape) - len(g_shape)
    keep = tuple(
        i - skip
        for i, n in enumerate(shape)
        if n == 1 and i >= skip and g_shape[i - skip] != 1
    )
    return np.sum(g, axis=keep, keepdims=True) if keep else g
''',
        "_like": '''
def _like(t, x, lead=0):
    """t broadcast to x's shape behind its first `lead` axes (vector mode's
    directions): a view, or t itself when it has that shape."""
    if getattr(t, "shape", ())[lead:] == getattr(x, "shape", ()):
        return t  # the usual case, checked first (a number's shape is ())
    shape = np.shape(t)[:lead] + np.shape(x) if lead else np.shape(x)
    return t if np.shape(t) == shape else np.broadcast_to(t, shape)
''',
        "_unindex": '''
def _unindex(x, index, g):
    """The adjoint of x[index]: g where x[index] was read, zeros elsewhere
    (zeros of g's library where g is not NumPy's: a Dask array stays lazy)."""
    if hasattr(g, "__array_function__") and type(g) is not np.ndarray:
        out = np.zeros_like(g, dtype=float, shape=np.shape(x))
    else:
        out = np.zeros(np.shape(x))
    if type(index) in (int, slice):  # the usual case: no index array
        out[index] = g
        return out
    parts = index if isinstance(index, tuple) else (index,)
    if any(
        (isinstance(p, list) and np.asarray(p).dtype != bool)
        or (hasattr(p, "__array_function__") and p.dtype != bool)  # (Dask's too)
        for p in parts
    ):
        np.add.at(out, index, g)  # an index may repeat: every read adds
    else:
        out[index] = g
    return out
''',
        "_written": '''
def _written(h, x, index):
    """h (shaped like x[index]) where each element of the write x[index] = v
    stayed, zeros where a later element of it landed on the same place."""
    parts = index if isinstance(index, tuple) else (index,)
    if not any(
        (isinstance(p, list) and np.asarray(p).dtype != bool)
        or (hasattr(p, "__array_function__") and p.dtype != bool)  # (Dask's too)
        for p in parts
    ):
        return h  # no index array: no place is written twice
    owner = np.full(np.shape(x), -1)
    shape = np.shape(owner[index])
    ids = np.arange(np.prod(shape, dtype=int)).reshape(shape)
    owner[index] = ids  # as NumPy writes: the last element wins
    return np.where(owner[index] == ids, h, 0.0)  # (h may have directions in front)
''',
        "_assign": '''
def _assign(x, index, v):
    """x with x[index] = v, as a new array: the reverse sweep still needs x
    (copied by x's library where x is not NumPy's: a Dask array stays lazy)."""
    if hasattr(x, "__array_function__") and type(x) is not np.ndarray:
        out = x.copy()
    else:
        out = np.copy(x)
    out[index] = v
    return out
''',
    }
)


# the evaluators are the emitted helpers themselves: one text, two uses
_sum_to: Callable = helper_function("_sum_to")
_assign = helper_function("_assign")
_unindex_helper = helper_function("_unindex")
_written_helper = helper_function("_written")


# h where each element of a write x[index] = v stayed (the adjoint of v: a
# place an index array names twice keeps only the last element written there)
register(
    linear(
        "written",
        -1,
        _written_eval,
        shape=lambda p, h, x, *parts, loc=None: h,
        samples=((((3,), numpy.zeros(4), numpy.array([0, 2, 2])), {"index": ("a",)}),),
        render=_render_written,
        helper="_written",
        memory="new",
        shape_only=(1,),
        shaped_like=0,
        batch=_written_batch,
        transpose=lambda b, p, out, g, h, x, *parts: (
            (b.apply("written", g, x, *parts, **p),) + (None,) * (1 + len(parts))
        ),
        convention="linear (a 0/1 mask): smooth everywhere",
    ),
)
