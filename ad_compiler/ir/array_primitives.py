"""The array primitives: reductions, products, shape changes, indexing, constructors.

Elementwise NumPy functions (``np.exp``, ``np.maximum``, ``np.where`` ...) are
the scalar primitives of :mod:`ad_compiler.ir.primitives` applied with NumPy's
broadcasting; this module adds the operations that are not elementwise.  Each
row gives how to evaluate it, its abstract shape rule (:mod:`ad_compiler.ir.shapes`)
and how emitted code spells it.  Static settings (``axis``, ``keepdims``, an
index's layout) are equation params; values known only at run time (a
``reshape`` length, a loop index) are inputs.

An index such as ``x[i, 1:, None]`` is stored as a *layout*, one item per
position: ``"a"`` (one input: an int, an int array or a mask), ``("s", start,
stop, step)`` (a slice; each flag says whether that bound is an input),
``None`` (``np.newaxis``) or ``"..."``.
"""

from __future__ import annotations

import numpy

from ad_compiler.ir import shapes
from ad_compiler.errors import CompileError
from ad_compiler.ir.primitives import PREC_ATOM, PREC_MUL, Primitive

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
    rest = len(x) - sum(1 for item in layout if item not in (None, "..."))
    arrays = [p for item, p in zip(_array_items(layout), parts) if item and p != ()]
    if len(arrays) > 1:
        return None  # index arrays broadcast together (and may move): run time
    for item in layout:
        if item is None:
            out.append(shapes.ONE)
        elif item == "...":
            out.extend(x[axis : axis + rest])
            axis += rest
        elif item == "a":
            part = parts.pop(0)
            if part is not None and len(part) == 1 and part != shapes.TUPLE:
                out.append(shapes.ANY)  # a 1-D mask or int array: one axis either way
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


# --- rendering helpers ------------------------------------------------------------------


def _keywords(params, *names) -> str:
    out = []
    for name in names:
        value = params.get(name)
        if value is None or value is False:
            continue
        out.append(f", {name}={value!r}")
    return "".join(out)


def _np(name, *keys):
    def render(params, texts, atoms):
        return f"np.{name}({texts[0]}{_keywords(params, *keys)})", PREC_ATOM

    return render


def _reduction(name: str, np_fn, spelled: str | None = None) -> Primitive:
    def evaluate(x, axis=None, keepdims=False, method=False):
        return np_fn(x, axis=axis, keepdims=keepdims)

    def render(params, texts, atoms):
        # x.sum(axis=0) where x is known to be an array: NumPy's method skips
        # the np.sum wrapper (a microsecond a call); np.sum(x) takes numbers too
        if params.get("method"):
            keywords = _keywords(params, "axis", "keepdims").removeprefix(", ")
            return f"{atoms[0]}.{spelled}({keywords})", PREC_ATOM
        return _np(spelled, "axis", "keepdims")(params, texts, atoms)

    spelled = spelled or name
    return Primitive(
        name,
        1,
        evaluate,
        np_name=f"np.{spelled}",
        shape=lambda p, x, loc=None: shapes.reduce(
            x, p.get("axis"), p.get("keepdims", False), loc
        ),
        render=render,
    )


def _outer_shape(a, b):
    """np.outer flattens its operands: a vector's length is kept, else unknown."""

    def length(x):
        if x is not None and x != shapes.TUPLE and len(x) <= 1:
            return x[0] if x else shapes.ONE
        return shapes.ANY

    return (length(a), length(b))


def _len_shape(x, loc):
    if x == shapes.SCALAR:
        raise CompileError(
            "`len` of a number (a loop over a number's rows)",
            loc,
            hint="this value is a number here, not an array",
        )
    return shapes.SCALAR


def _dot_shape(a, b, loc):
    if a == shapes.SCALAR or b == shapes.SCALAR:
        return shapes.broadcast(a, b)
    if (a is not None and len(a) > 2) or (b is not None and len(b) > 2):
        raise CompileError(
            "`np.dot` of arrays with more than 2 axes is not supported",
            loc,
            hint="use `@` (np.matmul), which broadcasts over the leading axes",
        )
    return shapes.matmul(a, b, loc)


def parse_einsum(spec: str, loc=None) -> tuple[str, str, str]:
    """``"ij,jk->ik"`` -> ``("ij", "jk", "ik")``; the implicit output is the
    letters that appear once, in alphabetical order, as NumPy does."""
    spec = spec.replace(" ", "")
    ins, arrow, out = spec.partition("->")
    parts = ins.split(",")
    given = set(parts[0] + parts[-1])
    if (
        len(parts) != 2
        or not all(_EINSUM_LETTERS.issuperset(p) for p in parts + [out])
        or not given.issuperset(out)
        or len(set(out)) != len(out)
    ):
        raise CompileError(
            f"einsum {spec!r} is not supported",
            loc,
            hint="use a two-operand form without `...`, ASCII letters only, each "
            "output letter once and from an operand, like 'ij,jk->ik'",
        )
    a, c = parts
    if not arrow:
        letters = a + c
        out = "".join(sorted(ch for ch in set(letters) if letters.count(ch) == 1))
    return a, c, out


# the subscripts NumPy's einsum takes (str.isalpha would admit any script's letters)
_EINSUM_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _einsum_shape(p, a, b, loc=None):
    """Each output letter's axis, from the operand(s) it labels."""
    x, y, out = parse_einsum(p["spec"], loc)
    if a is None or b is None or len(a) != len(x) or len(y) != len(b):
        return None
    dims = {}
    for letters, shape in ((x, a), (y, b)):
        for ch, d in zip(letters, shape):
            dims[ch] = shapes._broadcast_dim(dims.get(ch, shapes.ONE), d)
    return tuple(dims[ch] for ch in out)


def _render_transpose(params, texts, atoms):
    axes = params.get("axes")
    if axes is None and params.get("method"):
        return f"{atoms[0]}.T", PREC_ATOM
    return f"np.transpose({texts[0]}{_keywords(params, 'axes')})", PREC_ATOM


def _leading(x: str, count: int) -> str:
    """The lengths of the first ``count`` axes of ``x``, as a tuple expression."""
    return f"(len({x}),)" if count == 1 else f"np.shape({x})[:{count}]"


def _render_reshape(params, texts, atoms):
    x, dims = texts[0], list(texts[1:])
    lead = params.get("lead", 0)
    if params.get("packed"):  # reshape(x, s) with s one value (x.shape, a tuple)
        if lead:
            return f"np.reshape({x}, {_leading(x, lead)} + {dims[0]})", PREC_ATOM
        return f"np.reshape({x}, {dims[0]})", PREC_ATOM
    target = dims[0] + "," if len(dims) == 1 else ", ".join(dims)
    if lead:
        return f"np.reshape({x}, {_leading(x, lead)} + ({target}))", PREC_ATOM
    return f"np.reshape({x}, ({target}))", PREC_ATOM


def _reshape(x, *dims, packed=False, lead=0):
    """``lead``: the first ``lead`` axes (vector mode's directions) are kept."""
    target = tuple(dims[0]) if packed else dims
    return numpy.reshape(x, numpy.shape(x)[:lead] + target)


def _reshape_shape(p, x, *dims, loc=None):
    if p.get("packed"):
        return None
    return tuple(shapes.ANY for _ in range(len(dims) + p.get("lead", 0)))


def _like(t, x, copy=False, lead=0):
    return numpy.broadcast_to(t, numpy.shape(t)[:lead] + numpy.shape(x))


def _like_shape(p, t, x, loc=None):
    lead = p.get("lead", 0)
    if not lead:
        return x
    return None if x is None or x == shapes.TUPLE else (shapes.ANY,) * lead + x


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


def _render_join(name):
    def render(params, texts, atoms):
        return f"np.{name}(({', '.join(texts)},){_keywords(params, 'axis')})", PREC_ATOM

    return render


def _render_getitem(params, texts, atoms):
    return f"{atoms[0]}[{index_text(params['index'], texts[1:])}]", PREC_ATOM


def _getitem(x, *parts, index):
    return x[index_value(index, parts)]


def _render_setitem(params, texts, atoms):
    index = index_text(params["index"], texts[2:])
    return f"_assign({texts[0]}, np.s_[{index}], {texts[1]})", PREC_ATOM


def _setitem(x, v, *parts, index, inplace=False):
    # (in place or not, the value is the same: see inplace.py)
    return _assign(x, index_value(index, parts), v)  # noqa: F821  (from HELPERS)


def _render_unindex(params, texts, atoms):
    index = index_text(params["index"], texts[2:])
    return f"_unindex({texts[0]}, np.s_[{index}], {texts[1]})", PREC_ATOM


def _unindex(x, g, *parts, index, into=False):
    # into: x + (g at index, zeros elsewhere), added into x by the emitted code
    out = _unindex_helper(x, index_value(index, parts), g)  # noqa: F821
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


def _render_shape(params, texts, atoms):
    return f"{atoms[0]}.shape", PREC_ATOM


def _plain_like(params) -> bool:
    return not params.get("lead") and not params.get("copy")


def _render_like(params, texts, atoms):
    if _plain_like(params):  # usually a no-op: the helper checks first
        return f"_like({texts[0]}, {texts[1]})", PREC_ATOM
    lead = params.get("lead", 0)
    lead = f"{_leading(texts[0], lead)} + " if lead else ""
    text = f"np.broadcast_to({texts[0]}, {lead}np.shape({texts[1]}))"
    # a result handed to the user is a writable array of its own
    return (text + ".copy()" if params.get("copy") else text), PREC_ATOM


ARRAY_PRIMITIVES = [
    _reduction("sum", numpy.sum),
    _reduction("mean", numpy.mean),
    _reduction("amax", numpy.max, "max"),
    _reduction("amin", numpy.min, "min"),
    _reduction("prod", numpy.prod),
    Primitive(
        "matmul",
        2,
        numpy.matmul,
        infix="@",
        prec=PREC_MUL,
        shape=lambda p, a, b, loc=None: shapes.matmul(a, b, loc),
    ),
    # np.dot: a product by a scalar, or the matrix product of 1-D and 2-D arrays
    Primitive(
        "dot",
        2,
        numpy.dot,
        np_name="np.dot",
        shape=lambda p, a, b, loc=None: _dot_shape(a, b, loc),
        render=lambda p, t, a: (f"np.dot({t[0]}, {t[1]})", PREC_ATOM),
    ),
    Primitive(
        "outer",
        2,
        numpy.outer,
        shape=lambda p, a, b, loc=None: _outer_shape(a, b),
        render=lambda p, t, a: (f"np.outer({t[0]}, {t[1]})", PREC_ATOM),
    ),
    Primitive(
        "einsum",
        2,
        lambda a, b, spec: numpy.einsum(spec, a, b),
        shape=_einsum_shape,
        render=lambda p, t, a: (f"np.einsum({p['spec']!r}, {t[0]}, {t[1]})", PREC_ATOM),
    ),
    Primitive(
        "transpose",
        1,
        lambda x, axes=None, method=False: numpy.transpose(x, axes),
        shape=lambda p, x, loc=None: shapes.transpose(x, p.get("axes")),
        render=_render_transpose,
    ),
    Primitive(
        "reshape",
        -1,
        _reshape,
        shape=_reshape_shape,
        render=_render_reshape,
        repeats=lambda p: (0,) if p.get("lead") else (),
    ),
    Primitive(
        "expand_dims",
        1,
        lambda x, axis: numpy.expand_dims(x, axis),
        shape=lambda p, x, loc=None: shapes.expand_dims(x, p["axis"]),
        render=_np("expand_dims", "axis"),
    ),
    Primitive(
        "squeeze",
        1,
        lambda x, axis=None: numpy.squeeze(x, axis),
        shape=lambda p, x, loc=None: shapes.squeeze(x, p.get("axis")),
        render=_np("squeeze", "axis"),
    ),
    Primitive(
        "concatenate",
        -1,
        lambda *xs, axis=0: numpy.concatenate(xs, axis=axis),
        shape=lambda p, *xs, loc=None: shapes.concatenate(xs, p.get("axis", 0)),
        render=_render_join("concatenate"),
    ),
    Primitive(
        "stack",
        -1,
        lambda *xs, axis=0: numpy.stack(xs, axis=axis),
        shape=lambda p, *xs, loc=None: shapes.stack(xs, p.get("axis", 0)),
        render=_render_join("stack"),
    ),
    Primitive(
        "getitem",
        -1,
        _getitem,
        shape=lambda p, x, *parts, loc=None: _index_shape(x, p["index"], parts, loc),
        render=_render_getitem,
    ),
    # x with x[index] = v, as a new array: `x[i] = v` in the user's code
    Primitive(
        "setitem",
        -1,
        _setitem,
        shape=lambda p, x, v, *parts, loc=None: x,
        render=_render_setitem,
    ),
    # the adjoint of x[index]: g where x[index] was read, zeros elsewhere
    Primitive(
        "unindex",
        -1,
        _unindex,
        shape=lambda p, x, g, *parts, loc=None: x,
        render=_render_unindex,
    ),
    # g summed over the axes along which x was broadcast (shapes known at run time)
    Primitive(
        "sum_to",
        2,
        lambda g, x: _sum_to(g, x),  # noqa: F821  (defined below, from HELPERS)
        shape=lambda p, g, x, loc=None: x,
        render=lambda p, t, a: (f"_sum_to({t[0]}, {t[1]})", PREC_ATOM),
    ),
    # t broadcast to x's shape (a tangent that is a scalar stands for an array);
    # lead: to (len(t),) + x's shape (t has vector mode's directions in front)
    Primitive(
        "like",
        2,
        _like,
        shape=_like_shape,
        repeats=lambda p: (0,) if p.get("lead") else (),
        render=_render_like,
    ),
    # v with a leading axis of k directions (vector mode): broadcast, not copied
    Primitive(
        "lead",
        2,
        _lead,
        shape=_lead_shape,
        render=_render_lead,
        repeats=lambda p: (0,),
    ),
    # --- not differentiable: shapes, sizes, new arrays ---
    Primitive(
        "shape",
        1,
        numpy.shape,
        shape=lambda p, x, loc=None: shapes.TUPLE,
        render=_render_shape,
        differentiable=False,
    ),
    Primitive(
        "len",
        1,
        len,
        py_name="len",
        shape=lambda p, x, loc=None: _len_shape(x, loc),
        differentiable=False,
    ),
    Primitive(
        "copy",
        1,
        lambda x, method=False: numpy.copy(x),
        shape=lambda p, x, loc=None: x,
        render=lambda p, t, a: (
            (f"{a[0]}.copy()" if p.get("method") else f"np.copy({t[0]})"),
            PREC_ATOM,
        ),
    ),
    Primitive(
        "size",
        1,
        numpy.size,
        np_name="np.size",
        shape=lambda p, x, loc=None: shapes.SCALAR,
        differentiable=False,
    ),
    Primitive(
        "construct",
        -1,
        _construct,
        shape=_construct_shape,
        render=_render_construct,
        differentiable=False,
    ),
]


# The primitives emitted as a call of a helper function, and the helper.
HELPER_OF = {
    "sum_to": "_sum_to",
    # (writes in place are statements: x[i] = v, t[i] += g; see inplace.py)
    "unindex": lambda params: None if params.get("into") else "_unindex",
    "setitem": lambda params: None if params.get("inplace") else "_assign",
    "like": lambda params: "_like" if _plain_like(params) else None,
}

# The helpers emitted code calls, written into each module that uses them (the
# emitted code imports only math and numpy).  Keep them in step with the
# evaluators above: tests run both.
HELPERS = {
    "_sum_to": '''
def _sum_to(g, x):
    """g summed over the axes along which x was broadcast (it may stay smaller)."""
    shape, g_shape = np.shape(x), np.shape(g)
    if g_shape == shape:
        return g
    lead = len(g_shape) - len(shape)
    if lead > 0:
        g = np.sum(g, axis=tuple(range(lead)))
        g_shape = g_shape[lead:]
    skip = len(shape) - len(g_shape)
    keep = tuple(
        i - skip
        for i, n in enumerate(shape)
        if n == 1 and i >= skip and g_shape[i - skip] != 1
    )
    return np.sum(g, axis=keep, keepdims=True) if keep else g
''',
    "_like": '''
def _like(t, x):
    """t broadcast to x's shape (a view; t itself when it has that shape)."""
    shape = np.shape(x)
    return t if np.shape(t) == shape else np.broadcast_to(t, shape)
''',
    "_unindex": '''
def _unindex(x, index, g):
    """The adjoint of x[index]: g where x[index] was read, zeros elsewhere."""
    out = np.zeros(np.shape(x))
    parts = index if isinstance(index, tuple) else (index,)
    if any(isinstance(p, (list, np.ndarray)) and np.asarray(p).dtype != bool for p in parts):
        np.add.at(out, index, g)  # an index may repeat: every read adds
    else:
        out[index] = g
    return out
''',
    "_assign": '''
def _assign(x, index, v):
    """x with x[index] = v, as a new array: the reverse sweep still needs x."""
    out = np.copy(x)
    out[index] = v
    return out
''',
}


def _helper(name: str):
    """A helper as a Python function: the evaluator is the emitted text itself."""
    namespace = {"np": numpy}
    exec(HELPERS[name], namespace)
    return namespace[name]


# the evaluators are the emitted helpers themselves: one text, two uses
_sum_to = _helper("_sum_to")
_assign = _helper("_assign")
_unindex_helper = _helper("_unindex")
