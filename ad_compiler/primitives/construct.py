"""Shape and construction rows: NumPy functions that move, copy or contract elements.

Most of NumPy's shape functions (``hstack``, ``flip``, ``moveaxis``, ``cross``,
``kron`` ...) are compositions of the rows of :mod:`ad_compiler.primitives.arrays`
and :mod:`ad_compiler.primitives.indexing`, written by the front end
(:mod:`ad_compiler.frontend.lower_library`).  The rows here are the ones that
are not: each is linear in its array input, so with ``g`` the adjoint of the
output its tangent is the function of the tangent and its adjoint is the
transpose below (another row, whose own transpose is the first):

* ``roll(x, s, axis)``            x̄ = roll(g, -s, axis)
* ``triu(x, k)``, ``tril(x, k)``  x̄ = triu(g, k), tril(g, k)   (a mask: self-adjoint)
* ``tile(x, reps)``               x̄ = untile(g, reps): g cut into ``reps`` blocks, summed
* ``repeat(x, r, axis)``          x̄ = unrepeat(g, r, axis): each run of r summed
* ``pad(x, widths)``              x̄ = g with the padding cut off (an index of slices)
* ``broadcast_to(x, shape)``      x̄ = sum_to(g, x)
* ``take_along_axis(x, i, axis)`` x̄ = zeros with g added at i (``np.add.at``)
* ``bincount(i, w, m)``           w̄ = take_along_axis(g, i, 0) = g[i] (linear in the
  weights; the integer indices and the minimum length are not differentiated)

and ``einsum_n``, NumPy's einsum of any number of operands (linear in each):
ẏ = Σ_k einsum(…, ẋ_k, …), x̄_k = einsum("O,…->X_k", g, the others), summed
back to x_k's shape where a length-1 axis was broadcast.

The static settings arrive normalised (an axis of ``None`` becomes a
flattened operand in the front end; ``tile``'s ``reps`` as long as the rank
and einsum's explicit letters come from the composite rows of
:mod:`ad_compiler.primitives.composites`; ``pad``'s widths are read per axis
with the rank), so each row's vector-mode rule only makes room for the leading
axis of directions: ``roll``'s, ``repeat``'s and ``take_along_axis``'s axes
shift by one, ``tile`` repeats it once, ``pad`` pads it by nothing,
``broadcast_to`` keeps it in front, ``einsum_n`` gives it a letter, and
``triu``/``tril`` need nothing (NumPy applies them to the last two axes).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy

from ad_compiler.ir import shapes
from ad_compiler.primitives.arrays import keywords
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
)


def _with(p: Params, **changes) -> tuple:
    return tuple(sorted({**p, **changes}.items()))


def _shift(axis):
    """An axis (or tuple of axes) behind the direction axis: non-negative ones + 1."""
    if isinstance(axis, tuple):
        return tuple(a + 1 if a >= 0 else a for a in axis)
    return axis + 1 if axis >= 0 else axis


def _shift_batch(*keys: str):
    """The vector-mode rule of a row whose params ``keys`` are axes."""

    def rule(bt: Batching, e: Equation, p: Params, *ins: Value) -> None:
        changes = {k: _shift(p[k]) for k in keys if p.get(k) is not None}
        bt.out.append(replace(e, params=_with(p, **changes)))

    return rule


def _same_batch(bt: Batching, e: Equation, p: Params, *ins: Value) -> None:
    bt.out.append(e)  # (triu, tril: NumPy applies them to the last two axes)


def _render(name: str, *keys: str, positional: tuple[str, ...] = ()):
    """``np.<name>(x, <positional params>, key=value ...)``."""

    def render(params, texts, atoms):
        args = "".join(f", {params[k]!r}" for k in positional)
        return f"np.{name}({texts[0]}{args}{keywords(params, *keys)})", PREC_ATOM

    return render


def _call_helper(name: str, *keys: str):
    def render(params, texts, atoms):
        args = "".join(f", {params[k]!r}" for k in keys)
        return f"{name}({', '.join(texts)}{args})", PREC_ATOM

    return render


def _same_shape(p, x, *rest, loc=None):
    return x


def _loose(x, keep=lambda i: False):
    """``x``'s rank with every axis of unknown length but those ``keep`` names."""
    if x is None or x == shapes.TUPLE:
        return None
    return tuple(d if keep(i) else shapes.ANY for i, d in enumerate(x))


# --- roll, triu, tril -------------------------------------------------------------------
def _negated(shift):
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


_ROLL = linear(
    "roll",
    1,
    lambda x, shift, axis: numpy.roll(x, shift, axis),
    names=("numpy.roll",),
    samples=((((4, 3),), {"shift": 1, "axis": 0}), (((5,),), {"shift": -2, "axis": 0})),
    call="own",
    shape=_same_shape,
    render=_render("roll", "axis", positional=("shift",)),
    memory="new",
    batch=_shift_batch("axis"),
    convention="linear: smooth everywhere",
    transpose=lambda b, p, out, g, x: (
        b.apply("roll", g, shift=_negated(p["shift"]), axis=p["axis"]),
    ),
)


def _triangle(name: str) -> Primitive:
    fn = getattr(numpy, name)
    return linear(
        name,
        1,
        lambda x, k=0: fn(x, k),
        names=(f"numpy.{name}",),
        samples=((((3, 3),), {}), (((3, 4),), {"k": 1}), (((2, 3, 3),), {"k": -1})),
        call="own",
        shape=_same_shape,
        render=_render(name, "k"),
        memory="new",
        batch=_same_batch,
        convention="linear: smooth everywhere",
        transpose=lambda b, p, out, g, x: (b.apply(name, g, **p),),
    )


# --- tile and repeat, with the sums that undo them ------------------------------------------
def _tile_shape(p, x, loc=None):
    reps = p["reps"]
    return _loose(x, lambda i: reps[i] == 1)


def _untile_batch(bt: Batching, e: Equation, p: Params, *ins: Value) -> None:
    bt.out.append(replace(e, params=_with(p, reps=(1,) + tuple(p["reps"]))))


_UNTILE = '''
def _untile(g, reps):
    """The adjoint of np.tile(x, reps) (len(reps) == x.ndim): g cut into its
    reps blocks along each axis, the blocks summed."""
    shape = np.shape(g)
    split = sum(((r, n // r) for r, n in zip(reps, shape)), ())
    return np.sum(np.reshape(g, split), axis=tuple(range(0, len(split), 2)))
'''

_UNREPEAT = '''
def _unrepeat(g, repeats, axis):
    """The adjoint of np.repeat(x, repeats, axis) (an int repeats): each run of
    `repeats` elements along the axis summed."""
    shape = np.shape(g)
    axis = axis % len(shape)
    runs = shape[:axis] + (shape[axis] // repeats, repeats) + shape[axis + 1 :]
    return np.sum(np.reshape(g, runs), axis=axis + 1)
'''

_UNTAKE = '''
def _untake_along(x, indices, g, axis):
    """The adjoint of np.take_along_axis(x, indices, axis): zeros of x's shape
    with g added where it was read (an index may repeat: every read adds)."""
    out = np.zeros(np.shape(x))
    where = list(np.ix_(*[np.arange(n) for n in np.shape(g)]))
    where[axis] = np.broadcast_to(indices, np.shape(g))
    np.add.at(out, tuple(where), g)
    return out
'''

HELPERS.update({"_untile": _UNTILE, "_unrepeat": _UNREPEAT, "_untake_along": _UNTAKE})
_untile: Callable = helper_function("_untile")
_unrepeat: Callable = helper_function("_unrepeat")
_untake_along: Callable = helper_function("_untake_along")

_TILE = linear(
    "tile",
    1,
    lambda x, reps: numpy.tile(x, reps),
    samples=((((2, 3),), {"reps": (2, 1)}), (((3,),), {"reps": (3,)})),
    call="own",
    shape=_tile_shape,
    render=_render("tile", positional=("reps",)),
    memory="new",
    batch=_untile_batch,
    convention="linear: smooth everywhere",
    transpose=lambda b, p, out, g, x: (b.apply("untile", g, **p),),
)
_UNTILE_ROW = linear(
    "untile",
    1,
    lambda g, reps: _untile(g, reps),
    samples=((((4, 3),), {"reps": (2, 1)}),),
    shape=_tile_shape,
    render=_call_helper("_untile", "reps"),
    helper="_untile",
    memory="new",
    batch=_untile_batch,
    convention="linear: smooth everywhere",
    transpose=lambda b, p, out, g, x: (b.apply("tile", g, **p),),
)


def _repeat_shape(p, x, loc=None):
    axis = p["axis"]
    rank = 0 if x is None or x == shapes.TUPLE else len(x)
    return _loose(x, lambda i: i != axis % max(rank, 1))


_REPEAT = linear(
    "repeat",
    1,
    lambda x, repeats, axis: numpy.repeat(x, repeats, axis),
    names=("numpy.repeat",),
    samples=(
        (((2, 3),), {"repeats": 2, "axis": 1}),
        (((3,),), {"repeats": 3, "axis": 0}),
    ),
    call="own",
    shape=_repeat_shape,
    render=_render("repeat", "axis", positional=("repeats",)),
    memory="new",
    batch=_shift_batch("axis"),
    convention="linear: smooth everywhere",
    transpose=lambda b, p, out, g, x: (b.apply("unrepeat", g, **p),),
)
_UNREPEAT_ROW = linear(
    "unrepeat",
    1,
    lambda g, repeats, axis: _unrepeat(g, repeats, axis),
    samples=((((4, 3),), {"repeats": 2, "axis": 0}),),
    shape=_repeat_shape,
    render=_call_helper("_unrepeat", "repeats", "axis"),
    helper="_unrepeat",
    memory="new",
    batch=_shift_batch("axis"),
    convention="linear: smooth everywhere",
    transpose=lambda b, p, out, g, x: (b.apply("repeat", g, **p),),
)


# --- pad (constant zeros) -------------------------------------------------------------------
def pad_widths(width, rank: int | None) -> tuple:
    """NumPy's ``pad_width`` (an int, a pair, one pair per axis ...) as one
    ``(before, after)`` pair per axis."""
    if isinstance(width, int):
        width = ((width, width),)
    elif all(isinstance(w, int) for w in width):
        width = (tuple(width),)
    width = tuple(tuple(w) * (2 if len(w) == 1 else 1) for w in width)
    if len(width) > 1:
        return width
    assert rank is not None  # (one pair for every axis: the rank is known here)
    return width * rank


def _unpad(b: Ops, p: Params, g: Value, x: Value) -> Value:
    """g[b0 : -a0 or None, ...]: the padding cut off (static slices)."""
    layout, bounds = [], []
    for before, after in pad_widths(p["widths"], b.rank(x)):
        layout.append(("s", bool(before), bool(after), False))
        bounds += ([before] if before else []) + ([-after] if after else [])
    return b.apply(
        "getitem", g, *bounds, index=tuple(layout)
    )  # (ints: b.lit makes floats)


def _pad_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    widths = ((0, 0),) + pad_widths(p["widths"], bt.rank(x))
    bt.out.append(replace(e, params=_with(p, widths=widths)))


def _pad_shape(p, x, loc=None):
    if x is None or x == shapes.TUPLE:
        return None
    widths = pad_widths(p["widths"], len(x))
    return _loose(x, lambda i: widths[i] == (0, 0))


_PAD = linear(
    "pad",
    1,
    lambda x, widths: numpy.pad(x, widths),
    names=("numpy.pad",),
    samples=(
        (((2, 3),), {"widths": ((1, 0), (2, 1))}),
        (((3,),), {"widths": 2}),
    ),
    call="own",
    shape=_pad_shape,
    render=_render("pad", positional=("widths",)),
    memory="new",
    batch=_pad_batch,
    convention="linear: smooth everywhere",
    transpose=lambda b, p, out, g, x: (_unpad(b, p, g, x),),
)


# --- broadcast_to ---------------------------------------------------------------------------
def _broadcast_to(x, *dims, lead=0, packed=False):
    """``packed``: one input, the whole shape (``A.shape``)."""
    target = tuple(dims[0]) if packed else dims
    return numpy.broadcast_to(x, numpy.shape(x)[:lead] + target)


def _render_broadcast_to(params, texts, atoms):
    x, dims = texts[0], texts[1:]
    target = f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"
    if params.get("packed"):
        target = dims[0]
    lead = params.get("lead", 0)
    if lead:
        target = f"np.shape({x})[:{lead}] + {target}"
    return f"np.broadcast_to({x}, {target})", PREC_ATOM


def _broadcast_to_batch(bt: Batching, e: Equation, p: Params, x, *dims) -> None:
    if any(bt.has(d) for d in dims):
        bt.error("a shape that depends on the directions")
    if p.get("packed"):
        bt.error("`np.broadcast_to` to a whole shape value (write its lengths)")
    lead = p.get("lead", 0)
    x = bt.expand(x, len(dims) + lead - bt.rank(x))
    bt.out.append(replace(e, ins=(x,) + tuple(dims), params=_with(p, lead=lead + 1)))


_BROADCAST_TO = linear(
    "broadcast_to",
    -1,
    _broadcast_to,
    names=("numpy.broadcast_to",),
    samples=((((3,), 2, 3), {}), (((2, 1), 2, 4), {})),
    call="own",
    shape=lambda p, x, *dims, loc=None: (
        None if p.get("packed") else (shapes.ANY,) * (len(dims) + p.get("lead", 0))
    ),
    render=_render_broadcast_to,
    repeats=lambda p: (0,) if p.get("lead") else (),
    memory="view",
    batch=_broadcast_to_batch,
    convention="linear: smooth everywhere",
    transpose=lambda b, p, out, g, x, *dims: (b.sum_to(g, x),) + (None,) * len(dims),
)


# --- take_along_axis -----------------------------------------------------------------------
def _indices_behind(bt: Batching, i: Value) -> Value:
    """An index array without directions, given a length-1 axis for them."""
    return bt.new("expand_dims", i, axis=0)


def _take_batch(bt: Batching, e: Equation, p: Params, x, i) -> None:
    if bt.has(i):
        bt.error("an index that depends on the directions")
    if not bt.has(x):
        x = bt.materialize(x, bt.rank(x))
    ins = (x, _indices_behind(bt, i))
    bt.out.append(replace(e, ins=ins, params=_with(p, axis=_shift(p["axis"]))))


def _untake_batch(bt: Batching, e: Equation, p: Params, x, i, g) -> None:
    if bt.has(i):
        bt.error("an index that depends on the directions")
    full = bt.new("lead", bt.template(x), bt.k)
    ins = (full, _indices_behind(bt, i), g)
    bt.out.append(replace(e, ins=ins, params=_with(p, axis=_shift(p["axis"]))))


_TAKE_ALONG = linear(
    "take_along_axis",
    2,
    lambda x, i, axis: numpy.take_along_axis(x, i, axis),
    names=("numpy.take_along_axis",),
    samples=(
        (((3, 4), numpy.array([[0], [3], [1]])), {"axis": 1}),
        (((3, 4), numpy.array([[2, 0, 0, 1]])), {"axis": 0}),
    ),
    call="own",
    shape=lambda p, x, i, loc=None: _loose(x),
    render=lambda p, t, a: (
        f"np.take_along_axis({t[0]}, {t[1]}, axis={p['axis']!r})",
        PREC_ATOM,
    ),
    memory="new",
    batch=_take_batch,
    convention="linear in the array; the integer indices are not differentiated",
    transpose=lambda b, p, out, g, x, i: (
        b.apply("untake_along", x, i, g, **p),
        None,
    ),
)
_UNTAKE_ROW = linear(
    "untake_along",
    3,
    lambda x, i, g, axis: _untake_along(x, i, g, axis),
    at=2,
    samples=(
        ((numpy.zeros((3, 4)), numpy.array([[0], [3], [1]]), (3, 1)), {"axis": 1}),
    ),
    shape=lambda p, x, i, g, loc=None: x,
    render=_call_helper("_untake_along", "axis"),
    helper="_untake_along",
    memory="new",
    batch=_untake_batch,
    shape_only=(0,),
    shaped_like=0,
    convention="linear: smooth everywhere",
    transpose=lambda b, p, out, gg, x, i, g: (
        None,
        None,
        b.apply("take_along_axis", gg, i, **p),
    ),
)


# --- bincount ----------------------------------------------------------------------------
# y[j] = Σ_{n: i[n] = j} w[n], of length max(m, max(i) + 1): linear in the weights w,
# so ẏ = bincount(i, ẇ, m) (the same length: the same i and m) and w̄[n] = g[i[n]].
# Vector mode: w's leading axis of directions kept in front (``lead``), each row of
# directions counted by the helper _bincount_rows.
_BINCOUNT_ROWS = '''
def _bincount_rows(indices, weights, minlength):
    """np.bincount(indices, weights=w, minlength) of each row w of `weights`
    (its last axis the one `indices` labels), as the rows of one array."""
    weights = np.asarray(weights, dtype=float)
    top = int(np.max(indices)) + 1 if np.size(indices) else 0
    out = np.zeros(weights.shape[:-1] + (max(minlength, top),))
    np.add.at(np.moveaxis(out, -1, 0), indices, np.moveaxis(weights, -1, 0))
    return out
'''
HELPERS["_bincount_rows"] = _BINCOUNT_ROWS
_bincount_rows: Callable = helper_function("_bincount_rows")


def _bincount(i, w, minlength, lead=0):
    if lead:
        return _bincount_rows(i, w, minlength)
    return numpy.bincount(i, weights=w, minlength=minlength)


def _bincount_shape(p, i, w, m, loc=None):
    lead = p.get("lead", 0)
    if lead and (w is None or w == shapes.TUPLE):
        return None
    return (tuple(w[:lead]) if lead else ()) + (shapes.ANY,)


def _render_bincount(p, t, a):
    if p.get("lead"):
        return f"_bincount_rows({t[0]}, {t[1]}, {t[2]})", PREC_ATOM
    return f"np.bincount({t[0]}, weights={t[1]}, minlength={t[2]})", PREC_ATOM


def _bincount_batch(bt: Batching, e: Equation, p: Params, i, w, m) -> None:
    if bt.has(i) or bt.has(m):
        bt.error("an index or length that depends on the directions")
    bt.out.append(replace(e, params=_with(p, lead=1)))


_BINCOUNT = linear(
    "bincount",
    3,
    _bincount,
    at=1,
    names=("numpy.bincount",),
    samples=(
        ((numpy.array([0, 2, 2, 1, 4, 2]), (6,), 0), {}),
        ((numpy.array([1, 1, 3]), (3,), 6), {}),
    ),
    call="own",
    shape=_bincount_shape,
    render=_render_bincount,
    helper=lambda p: "_bincount_rows" if p.get("lead") else None,
    result="float",
    memory="new",
    batch=_bincount_batch,
    convention="linear in the weights; the integer indices are not differentiated",
    transpose=lambda b, p, out, g, i, w, m: (
        None,
        b.apply("take_along_axis", g, i, axis=0),
        None,
    ),
)


# --- einsum of any number of operands ----------------------------------------------------
def einsum_parts(spec: str) -> tuple[list[str], str]:
    """``"ij,jk->ik"`` (normalised: explicit output, no ``...``) -> (inputs, output)."""
    ins, _, out = spec.partition("->")
    return ins.split(","), out


def _einsum_n(*xs, spec, optimize=False):
    return numpy.einsum(spec, *xs, optimize=optimize)


def _einsum_n_shape(p, *ins, loc=None):
    parts, out = einsum_parts(p["spec"])
    dims: dict = {}
    for letters, shape in zip(parts, ins):
        if shape is None or shape == shapes.TUPLE or len(shape) != len(letters):
            return None
        for ch, d in zip(letters, shape):
            dims[ch] = shapes._broadcast_dim(dims.get(ch, shapes.ONE), d)
    return tuple(dims[ch] for ch in out)


def _render_einsum_n(params, texts, atoms):
    extra = f", optimize={params['optimize']!r}" if params.get("optimize") else ""
    return f"np.einsum({params['spec']!r}, {', '.join(texts)}{extra})", PREC_ATOM


def _einsum_n_jvp(b: Ops, p: Params, out: Value, *args: Value) -> Value:
    ins, dins = halves(args)
    total = None
    for k, d in enumerate(dins):
        if d is not None:
            moved = ins[:k] + (d,) + ins[k + 1 :]
            total = b.add(total, b.apply("einsum_n", *moved, **p))
    return total


def _einsum_n_vjp(b: Ops, p: Params, out: Value, g: Value, *xs: Value) -> tuple:
    """x̄_k = einsum("O,<the others>-><x_k's letters>", g, the others); the
    front end makes each operand's letters distinct and each appear in another
    operand or the output, so this is an einsum (no letter to broadcast)."""
    parts, result = einsum_parts(p["spec"])
    cts = []
    for k, x in enumerate(xs):
        others = [xs[j] for j in range(len(xs)) if j != k]
        letters = [parts[j] for j in range(len(xs)) if j != k]
        spec = ",".join([result] + letters) + "->" + parts[k]
        ct = b.apply("einsum_n", g, *others, spec=spec, optimize=p.get("optimize"))
        cts.append(b.sum_to(ct, x))
    return tuple(cts)


def _einsum_n_batch(bt: Batching, e: Equation, p: Params, *xs: Value) -> None:
    parts, result = einsum_parts(p["spec"])
    used = set("".join(parts))
    letter = next(
        ch
        for ch in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA"
        if ch not in used
    )
    parts = [letter + s if bt.has(x) else s for s, x in zip(parts, xs)]
    spec = ",".join(parts) + "->" + letter + result
    bt.out.append(replace(e, params=_with(p, spec=spec)))


_EINSUM_N = Primitive(
    "einsum_n",
    -1,
    _einsum_n,
    samples=(
        (((2, 3), (3, 4), (4, 2)), {"spec": "ij,jk,kl->il"}),
        (((2, 3), (3,), (2,)), {"spec": "ij,j,i->", "optimize": True}),
        (((3, 2),), {"spec": "ij->ji"}),
    ),
    shape=_einsum_n_shape,
    render=_render_einsum_n,
    memory="view",  # einsum may return a view of an operand
    jvp=_einsum_n_jvp,
    vjp=_einsum_n_vjp,
    batch=_einsum_n_batch,
    convention="multilinear: smooth everywhere",
)

register(
    _ROLL,
    _triangle("triu"),
    _triangle("tril"),
    _TILE,
    _UNTILE_ROW,
    _REPEAT,
    _UNREPEAT_ROW,
    _PAD,
    _BROADCAST_TO,
    _TAKE_ALONG,
    _UNTAKE_ROW,
    _BINCOUNT,
    _EINSUM_N,
)
