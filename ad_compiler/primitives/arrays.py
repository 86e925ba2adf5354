"""The array rows: reductions, products and shape changes.

Elementwise NumPy functions (``np.exp``, ``np.maximum``, ``np.where`` ...) are
the scalar rows applied with NumPy's broadcasting; these rows are the
operations that are not elementwise.  Static settings (``axis``, ``keepdims``,
an einsum spec) are equation params; values known only at run time (a
``reshape`` length) are inputs.  With ``g`` the adjoint of the output:

* ``y = Σ_axis x``          ẏ = Σ_axis ẋ             x̄ = g broadcast back along axis
* ``y = mean_axis x``       ẏ = mean_axis ẋ          x̄ = g broadcast back / count
* ``y = max_axis x``        ẏ = Σ m ẋ / Σ m          x̄ = m g / Σ m,  m = (x == y): ties share
* ``y = A @ B``             ẏ = Ȧ B + A Ḃ            Ā = g Bᵀ,  B̄ = Aᵀ g  (the seeds' δ·yᵀ)
* ``y = xᵀ``, reshape ...   the same move of ẋ        the inverse move of g

Each row's vector-mode rule (``batch``, see :mod:`ad_compiler.ad.batching`)
sits beside it: a reduction's ``axis=a`` becomes ``a + 1`` (no axis: the axes
``1 … r``), ``transpose`` keeps axis 0 first, ``reshape`` keeps its length,
``expand_dims``/``squeeze``/``concatenate``/``stack`` shift their axis; a
matrix of directions multiplies as a stack of matrices, ``einsum`` gets a
letter for the directions, ``outer`` is a broadcast product.

Indexing and the internal array rows are in :mod:`ad_compiler.primitives.indexing`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy

from ad_compiler.errors import CompileError
from ad_compiler.ir import shapes
from ad_compiler.primitives.registry import (
    PREC_ATOM,
    PREC_MUL,
    Batching,
    Equation,
    Ops,
    Params,
    Primitive,
    Value,
    batch_elementwise,
    halves,
    linear,
    linear_rules,
    register,
    zero_jvp,
    zero_vjp,
)

# --- rendering helpers ------------------------------------------------------------------


def keywords(params, *names) -> str:
    out = []
    for name in names:
        value = params.get(name)
        if value is None or value is False:
            continue
        out.append(f", {name}={value!r}")
    return "".join(out)


def _np(name, *keys):
    def render(params, texts, atoms):
        return f"np.{name}({texts[0]}{keywords(params, *keys)})", PREC_ATOM

    return render


def leading(x: str, count: int) -> str:
    """The lengths of the first ``count`` axes of ``x``, as a tuple expression."""
    return f"(len({x}),)" if count == 1 else f"np.shape({x})[:{count}]"


# --- reductions ---------------------------------------------------------------------


def expanded(b: Ops, p: Params, g: Value) -> Value:
    """``g`` with the reduced axes put back (length 1), so it broadcasts against x.

    It is left to broadcast where it is used (an adjoint may be smaller than
    its value, see ``Ops.sum_to``): x̄ of ``np.sum(x)`` is the scalar ȳ.
    """
    axis = p.get("axis")
    if axis is None or p.get("keepdims"):
        return g
    return b.apply("expand_dims", g, axis=axis)


def reduced_count(b: Ops, p: Params, out: Value, x: Value) -> Value:
    """How many elements each output of a reduction takes in: the product of x's
    lengths along the reduced axes (``np.size(x)`` for them all), read from
    x's shape alone -- never from ``out``, which the adjoint would otherwise
    compute again for its size (issue 18: no primal work redone for a shape)."""
    axis = p.get("axis")
    if axis is None or b.shape(out) == shapes.SCALAR:
        return b.apply("size", x)
    dims = b.apply("shape", x)
    count = None
    for k in axis if isinstance(axis, tuple) else (axis,):
        length = b.apply("getitem", dims, b.position(k), index=("a",))
        count = length if count is None else b.mul(count, length)
    return count


def _extreme_rules() -> dict:
    # The maximum's derivative is the derivative of the element that is the
    # maximum; where several tie, they share it equally (as JAX does).
    def mask(b: Ops, p: Params, out: Value, x: Value) -> Value:
        return b.apply("eq", x, expanded(b, p, out))

    def jvp(b: Ops, p: Params, out: Value, x: Value, dx: Value) -> Value:
        m = mask(b, p, out, x)
        picked = b.apply("sum", b.mul(m, dx), **p)
        return b.div(picked, b.apply("sum", m, **p))

    def vjp(b: Ops, p: Params, out: Value, g: Value, x: Value) -> tuple:
        m = mask(b, p, out, x)
        share = b.apply("sum", m, axis=p.get("axis"), keepdims=True)
        return (b.div(b.mul(m, expanded(b, p, g)), share),)

    return {"jvp": jvp, "vjp": vjp}


def _product_of_others(b: Ops, p: Params, out: Value, x: Value) -> Value:
    """∂y/∂x_i of y = prod(x): the product of the other elements, shaped like x.

    It is y / x_i where x_i != 0.  Where x_i == 0 it is r, the product of the
    non-zero elements, if x_i is the only zero; r x_l if one other x_l is zero
    (0, but with the right derivative in x_l, so Hessians are right there too);
    else 0.  No 0 / 0 anywhere: the gradient of prod([2, 0, 4]) is [0, 8, 0].
    Third derivatives at three or more exact zeros are 0 where they are r.
    """
    zero = b.apply("eq", x, b.lit(0.0))
    safe = b.select(zero, b.lit(1.0), x)  # the zeros replaced by ones
    keep = {"axis": p.get("axis"), "keepdims": True}
    count = b.apply("sum", zero, **keep)
    rest = b.apply("prod", safe, **keep)
    # Σ of the zeros but x_i itself: the other zero x_l, where there is one
    partner = b.sub(b.apply("sum", b.select(zero, x, b.lit(0.0)), **keep), x)
    two = b.select(b.apply("eq", count, b.lit(2.0)), b.mul(rest, partner), b.lit(0.0))
    at_zero = b.select(b.apply("eq", count, b.lit(1.0)), rest, two)
    return b.select(zero, at_zero, b.div(expanded(b, p, out), safe))


# prod: ∂y/∂x_i = Π_{j≠i} x_j
def _prod_jvp(b: Ops, p: Params, out: Value, x: Value, dx: Value) -> Value:
    return b.apply("sum", b.mul(_product_of_others(b, p, out, x), dx), **p)


def _prod_vjp(b: Ops, p: Params, out: Value, g: Value, x: Value) -> tuple:
    return (b.mul(expanded(b, p, g), _product_of_others(b, p, out, x)),)


def _reduction_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    """Every reduction's vector-mode rule: ``axis=a`` becomes ``a + 1`` (negative
    axes stay), no axis becomes the axes ``1 … r``."""
    r = bt.rank(x)
    axis = p.get("axis")
    if axis is None:
        axis = tuple(range(1, r + 1))
    elif isinstance(axis, tuple):
        axis = tuple(a + 1 if a >= 0 else a for a in axis)
    else:
        axis = axis + 1 if axis >= 0 else axis
    bt.out.append(replace(e, params=tuple(sorted({**p, "axis": axis}.items()))))


def _array_reduction_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    """:func:`_reduction_batch`, spelled as the array's method (``x.sum(axis=(1,))``)
    where ``x`` has directions: with them in front it is an array, and the
    method skips the ``np.sum`` wrapper (a microsecond a call, in loops that
    call a small Jacobian once per item)."""
    if bt.has(x):
        p = {**p, "method": True}
    _reduction_batch(bt, e, p, x)


def _position_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    """np.argmax's vector-mode rule: along an axis, the axis shifts; over the
    whole array (one position of the flattened array) each direction would
    need its own flattening, and is refused (no rule ever applies argmax to a
    value with directions: it has no derivative)."""
    if p.get("axis") is None and bt.has(x):
        bt.error(f"`{e.prim}` without an axis of a value with directions")
    _reduction_batch(bt, e, p, x)


def _reduction(name: str, np_fn, spelled: str | None = None, **fields) -> Primitive:
    """``np.<spelled>(x, axis=, keepdims=)``, or ``x.<spelled>(...)`` with
    ``method``; vector mode shifts its axes (:func:`_reduction_batch`)."""

    def evaluate(x, axis=None, keepdims=False, method=False):
        return np_fn(x, axis=axis, keepdims=keepdims)

    def render(params, texts, atoms):
        # x.sum(axis=0) where x is known to be an array: NumPy's method skips
        # the np.sum wrapper (a microsecond a call); np.sum(x) takes numbers too
        if params.get("method"):
            kw = keywords(params, "axis", "keepdims").removeprefix(", ")
            return f"{atoms[0]}.{spelled}({kw})", PREC_ATOM
        return _np(spelled, "axis", "keepdims")(params, texts, atoms)

    spelled = spelled or name
    fields.setdefault("names", (f"numpy.{spelled}", f"ndarray.{spelled}"))
    return Primitive(
        name,
        1,
        evaluate,
        np_name=f"np.{spelled}",
        call="reduction",
        static=("axis", "keepdims"),
        shape=lambda p, x, loc=None: shapes.reduce(
            x, p.get("axis"), p.get("keepdims", False), loc
        ),
        render=render,
        memory="copy",
        **{"batch": _array_reduction_batch, **fields},
    )


def _extreme_reduction(spelled: str, np_fn) -> Primitive:
    """np.max / np.amax / x.max(), the primitive ``amax`` (and the same for min)."""
    return _reduction(
        "a" + spelled,
        np_fn,
        spelled,
        names=(f"numpy.{spelled}", f"numpy.a{spelled}", f"ndarray.{spelled}"),
        samples=_REDUCE_SAMPLES,
        convention="ties share: the k tied extremes each get 1/k of the "
        "derivative (JAX's choice; np.argmax picks the first, and has none)",
        **_extreme_rules(),
    )


# (inputs, params) the registry test differentiates: a tuple is an array's shape
_REDUCE_SAMPLES: tuple = (
    (((3, 4),), {}),
    (((3, 4),), {"axis": 0}),
    (((3, 4),), {"axis": 1, "keepdims": True}),
)

register(
    # Σ and the mean are linear: the tangent is the reduction of ẋ, the adjoint
    # g spread back over the reduced axes (divided by the count for the mean)
    _reduction(
        "sum",
        numpy.sum,
        samples=_REDUCE_SAMPLES,
        convention="linear: smooth everywhere",
        **linear_rules("sum", lambda b, p, out, g, x: (expanded(b, p, g),)),
    ),
    _reduction(
        "mean",
        numpy.mean,
        samples=_REDUCE_SAMPLES,
        convention="linear: smooth everywhere",
        **linear_rules(
            "mean",
            lambda b, p, out, g, x: (
                b.div(expanded(b, p, g), reduced_count(b, p, out, x)),
            ),
        ),
    ),
    _extreme_reduction("max", numpy.max),
    _extreme_reduction("min", numpy.min),
    # np.argmax / np.argmin: the position of the first extreme, an int: no
    # derivative (a value indexed by it is differentiated, x[np.argmax(x)])
    *(
        _reduction(
            f"arg{which}",
            getattr(numpy, f"arg{which}"),
            differentiable=False,
            result="int",
            jvp=zero_jvp,
            vjp=zero_vjp,
            batch=_position_batch,
            samples=_REDUCE_SAMPLES[1:],
            convention="an int: no derivative; ties pick the first position",
        )
        for which in ("max", "min")
    ),
    _reduction(
        "prod",
        numpy.prod,
        jvp=_prod_jvp,
        vjp=_prod_vjp,
        samples=_REDUCE_SAMPLES,
        convention="smooth everywhere; exact at zeros (the products of the others)",
    ),
)


# --- products -------------------------------------------------------------------------
def _matmul(b: Ops, x: Value, y: Value) -> Value:
    if x is None or y is None:
        return None
    return b.apply("matmul", x, y)


def _swap(b: Ops, x: Value) -> Value:
    """``x`` with its last two axes swapped (``x.T`` for a matrix)."""
    rank = b.rank(x)
    assert rank is not None
    if rank == 2:
        return b.apply("transpose", x, method=True)
    axes = tuple(range(rank - 2)) + (rank - 1, rank - 2)
    return b.apply("transpose", x, axes=axes)


def _matmul_vjp(b: Ops, p: Params, out: Value, g: Value, x: Value, y: Value) -> tuple:
    rx, ry = b.rank(x), b.rank(y)
    if rx is None or ry is None:
        raise CompileError(
            "the adjoint of `@` needs to know how many axes its operands have",
            b.loc,
            hint="give the shapes of the array parameters, as in "
            "`adc compile --shape W=n,m x=m` (the API knows them from the call)",
        )
    if rx == 1 and ry == 1:  # y = Σ x_i y_i
        return (b.mul(g, y), b.mul(g, x))
    if rx == 1:  # (n,) @ (..., n, m) -> (..., m)
        if ry > 2:
            raise CompileError("the adjoint of vector @ stacked matrices", b.loc)
        return (_matmul(b, y, g), b.apply("outer", x, g))
    if ry == 1:  # (..., n, m) @ (m,) -> (..., n)
        if rx > 2:
            raise CompileError("the adjoint of stacked matrices @ vector", b.loc)
        return (b.apply("outer", g, y), _matmul(b, _swap(b, x), g))
    x_bar = b.sum_to(_matmul(b, g, _swap(b, y)), x)
    y_bar = b.sum_to(_matmul(b, _swap(b, x), g), y)
    return (x_bar, y_bar)


def _matmul_jvp(b: Ops, p: Params, out, x, y, dx, dy) -> Value:
    return b.add(_matmul(b, dx, y), _matmul(b, x, dy))


def _dot_jvp(b: Ops, p: Params, out, x, y, dx, dy) -> Value:
    if b.rank(x) == 0 or b.rank(y) == 0:
        return b.add(b.mul(y, dx), b.mul(x, dy))
    return b.add(_matmul(b, dx, y), _matmul(b, x, dy))


def _dot_vjp(b: Ops, p: Params, out: Value, g: Value, x: Value, y: Value) -> tuple:
    if b.rank(x) == 0 or b.rank(y) == 0:  # a product by a scalar
        return (b.sum_to(b.mul(y, g), x), b.sum_to(b.mul(x, g), y))
    return _matmul_vjp(b, p, out, g, x, y)


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


def _outer_shape(a, b):
    """np.outer flattens its operands: a vector's length is kept, else unknown."""

    def length(x):
        if x is not None and x != shapes.TUPLE and len(x) <= 1:
            return x[0] if x else shapes.ONE
        return shapes.ANY

    return (length(a), length(b))


def _outer(b: Ops, x: Value, y: Value) -> Value:
    if x is None or y is None:
        return None
    return b.apply("outer", x, y)


def _flat_like(b: Ops, v: Value, x: Value) -> Value:
    """``v`` (a vector) reshaped to ``x``'s shape, unless x is known to be a vector."""
    if b.rank(x) == 1:
        return v
    return b.apply("reshape", v, b.apply("shape", x), packed=True)


def _ravel(b: Ops, x: Value) -> Value:
    if b.rank(x) == 1:
        return x
    return b.apply("reshape", x, -1)


# np.outer(x, y)_ij = x_i y_j (of the flattened x, y): x̄ = g ravel(y), ȳ = ravel(x) g
def _outer_vjp(b: Ops, p: Params, out: Value, g: Value, x: Value, y: Value) -> tuple:
    return (
        _flat_like(b, _matmul(b, g, _ravel(b, y)), x),
        _flat_like(b, _matmul(b, _ravel(b, x), g), y),
    )


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
    dims: dict = {}
    for letters, shape in ((x, a), (y, b)):
        for ch, d in zip(letters, shape):
            dims[ch] = shapes._broadcast_dim(dims.get(ch, shapes.ONE), d)
    return tuple(dims[ch] for ch in out)


def _einsum_adjoint_spec(spec, first: bool, loc) -> str:
    a, c, out = parse_einsum(spec, loc)
    mine, other = (a, c) if first else (c, a)
    if len(set(mine)) != len(mine) or not set(mine) <= set(out) | set(other):
        raise CompileError(
            f"the adjoint of einsum {spec!r} is not supported",
            loc,
            hint="each operand's letters must be distinct and appear in the "
            "other operand or the output",
        )
    return f"{out},{other}->{mine}"


def _einsum_jvp(b: Ops, p: Params, out, x, y, dx, dy) -> Value:
    spec = p["spec"]
    t1 = None if dx is None else b.apply("einsum", dx, y, spec=spec)
    t2 = None if dy is None else b.apply("einsum", x, dy, spec=spec)
    return b.add(t1, t2)


def _einsum_vjp(b: Ops, p: Params, out: Value, g: Value, x: Value, y: Value) -> tuple:
    """x̄ = einsum(g, y) over x's letters, summed back to x's shape: einsum
    broadcasts a length-1 axis against the other operand's longer one (``j`` of
    ``'ij,jk->ik'`` with x of shape (n, 1), y of shape (m, k)), and the adjoint
    einsum then has the longer length, as for any broadcast."""
    spec = p["spec"]
    x_bar = b.apply("einsum", g, y, spec=_einsum_adjoint_spec(spec, True, b.loc))
    y_bar = b.apply("einsum", g, x, spec=_einsum_adjoint_spec(spec, False, b.loc))
    return (b.sum_to(x_bar, x), b.sum_to(y_bar, y))


# vector mode of the products
def _matmul_batch(bt: Batching, e: Equation, p: Params, x: Value, y: Value) -> None:
    rx, ry = bt.rank(x), bt.rank(y)
    xb, yb = bt.has(x), bt.has(y)
    sx, sy = max(rx, 2) - 2, max(ry, 2) - 2
    if not yb and ((rx >= 2 and sy <= sx) or (rx == 1 and ry <= 2)):
        bt.new("matmul", x, y, out=e.out, ns=e.ns)  # directions as rows or a stack
        return
    if not xb and rx == 1 and ry == 1:
        bt.new("matmul", y, x, out=e.out, ns=e.ns)  # (k, n) @ (n,)
        return
    # vectors as one-row / one-column matrices, stacks aligned behind the directions
    a = bt.new("expand_dims", x, axis=-2) if rx == 1 else x
    b = bt.new("expand_dims", y, axis=-1) if ry == 1 else y
    stack = max(sx, sy)
    a = _stacked(bt, a, stack - sx, xb)
    b = _stacked(bt, b, stack - sy, yb)
    squeeze = {(1, 1): (-2, -1), (1, 0): -2, (0, 1): -1}.get((rx == 1, ry == 1))
    if squeeze is None:
        bt.new("matmul", a, b, out=e.out, ns=e.ns)
        return
    bt.new("squeeze", bt.new("matmul", a, b, ns=e.ns), out=e.out, axis=squeeze)


def _stacked(bt: Batching, a: Value, missing: int, has: bool) -> Value:
    if has:
        return bt.expand(a, missing)
    axis = tuple(range(missing + 1))
    return bt.new("expand_dims", a, axis=axis[0] if len(axis) == 1 else axis)


def _dot_batch(bt: Batching, e: Equation, p: Params, x: Value, y: Value) -> None:
    if bt.rank(x) == 0 or bt.rank(y) == 0:  # a product by a number
        batch_elementwise(bt, replace(e, prim="mul", ns="py", params=()), {}, x, y)
        return
    _matmul_batch(bt, e, p, x, y)


def _outer_batch(bt: Batching, e: Equation, p: Params, x: Value, y: Value) -> None:
    def flat(a, axis):
        if bt.has(a):
            a = bt.new("reshape", a, -1, lead=1)
        elif bt.rank(a) != 1:
            a = bt.new("reshape", a, -1)
        return bt.new("expand_dims", a, axis=axis) if axis is not None else a

    a = flat(x, -1)
    b = flat(y, -2 if bt.has(y) else None)
    bt.new("mul", a, b, out=e.out, ns="py")


def _einsum_batch(bt: Batching, e: Equation, p: Params, x: Value, y: Value) -> None:
    a, c, out = parse_einsum(p["spec"], bt.loc)
    letter = next(ch for ch in "zyxwvutsrqponmlkjihgfedcba" if ch not in a + c)
    a = letter + a if bt.has(x) else a
    c = letter + c if bt.has(y) else c
    bt.new("einsum", x, y, out=e.out, spec=f"{a},{c}->{letter}{out}")


register(
    Primitive(
        "matmul",
        2,
        numpy.matmul,
        infix="@",
        prec=PREC_MUL,
        names=("numpy.matmul",),
        samples=((((2, 3), (3, 4)), {}), (((3,), (3, 4)), {}), (((2, 3), (3,)), {})),
        shape=lambda p, a, b, loc=None: shapes.matmul(a, b, loc),
        memory="copy",
        jvp=_matmul_jvp,
        vjp=_matmul_vjp,
        batch=_matmul_batch,
    ),
    # np.dot: a product by a scalar, or the matrix product of 1-D and 2-D arrays
    Primitive(
        "dot",
        2,
        numpy.dot,
        np_name="np.dot",
        names=("numpy.dot", "ndarray.dot"),
        samples=((((2, 3), (3, 4)), {}), (((3,), (3,)), {})),
        shape=lambda p, a, b, loc=None: _dot_shape(a, b, loc),
        render=lambda p, t, a: (f"np.dot({t[0]}, {t[1]})", PREC_ATOM),
        memory="copy",
        jvp=_dot_jvp,
        vjp=_dot_vjp,
        batch=_dot_batch,
    ),
    Primitive(
        "outer",
        2,
        numpy.outer,
        names=("numpy.outer",),
        samples=((((3,), (4,)), {}),),
        shape=lambda p, a, b, loc=None: _outer_shape(a, b),
        render=lambda p, t, a: (f"np.outer({t[0]}, {t[1]})", PREC_ATOM),
        memory="copy",
        jvp=lambda b, p, out, x, y, dx, dy: b.add(_outer(b, dx, y), _outer(b, x, dy)),
        vjp=_outer_vjp,
        batch=_outer_batch,
    ),
    Primitive(
        "einsum",
        2,
        lambda a, b, spec: numpy.einsum(spec, a, b),
        names=("numpy.einsum",),
        samples=((((2, 3), (3, 4)), {"spec": "ij,jk->ik"}),),
        call="own",
        shape=_einsum_shape,
        render=lambda p, t, a: (f"np.einsum({p['spec']!r}, {t[0]}, {t[1]})", PREC_ATOM),
        memory="view",  # einsum may return a view of an operand
        jvp=_einsum_jvp,
        vjp=_einsum_vjp,
        batch=_einsum_batch,
    ),
)


# --- moving elements ----------------------------------------------------------------------
def _inverse(axes):
    if axes is None:
        return None
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a] = i
    return tuple(inv)


def _render_transpose(params, texts, atoms):
    axes = params.get("axes")
    if axes is None and params.get("method"):
        return f"{atoms[0]}.T", PREC_ATOM
    return f"np.transpose({texts[0]}{keywords(params, 'axes')})", PREC_ATOM


def _render_reshape(params, texts, atoms):
    x, dims = texts[0], list(texts[1:])
    lead = params.get("lead", 0)
    if params.get("packed"):  # reshape(x, s) with s one value (x.shape, a tuple)
        if lead:
            return f"np.reshape({x}, {leading(x, lead)} + {dims[0]})", PREC_ATOM
        return f"np.reshape({x}, {dims[0]})", PREC_ATOM
    target = dims[0] + "," if len(dims) == 1 else ", ".join(dims)
    if lead:
        return f"np.reshape({x}, {leading(x, lead)} + ({target}))", PREC_ATOM
    return f"np.reshape({x}, ({target}))", PREC_ATOM


def _reshape(x, *dims, packed=False, lead=0):
    """``lead``: the first ``lead`` axes (vector mode's directions) are kept."""
    target = tuple(dims[0]) if packed else dims
    return numpy.reshape(x, numpy.shape(x)[:lead] + target)


def _reshape_shape(p, x, *dims, loc=None):
    if p.get("packed"):
        return None
    return tuple(shapes.ANY for _ in range(len(dims) + p.get("lead", 0)))


def _back_to_shape_of(b: Ops, g: Value, x: Value) -> Value:
    return b.apply("reshape", g, b.apply("shape", x), packed=True)


def _render_join(name):
    def render(params, texts, atoms):
        return f"np.{name}(({', '.join(texts)},){keywords(params, 'axis')})", PREC_ATOM

    return render


def _joined_tangent(name):
    def jvp(b: Ops, p: Params, out: Value, *args: Value) -> Value:
        ins, dins = halves(args)
        if all(d is None for d in dins):
            return None
        filled = [b.zeros(x) if d is None else d for x, d in zip(ins, dins)]
        return b.apply(name, *filled, **p)

    return jvp


def along(axis: int, item) -> tuple:
    """An index layout selecting ``item`` along ``axis`` (the rest taken whole)."""
    whole = ("s", False, False, False)
    if axis >= 0:
        return (whole,) * axis + (item,)
    return ("...", item) + (whole,) * (-axis - 1)


def _concatenate_vjp(b: Ops, p: Params, out: Value, g: Value, *xs: Value) -> tuple:
    axis = p.get("axis", 0)
    start, cts = None, []
    for x in xs:
        length = b.apply("getitem", b.apply("shape", x), axis, index=("a",))
        stop = length if start is None else b.add(start, length)
        item = ("s", start is not None, True, False)
        bounds = (stop,) if start is None else (start, stop)
        cts.append(b.apply("getitem", g, *bounds, index=along(axis, item)))
        start = stop
    return tuple(cts)


def _stack_vjp(b: Ops, p: Params, out: Value, g: Value, *xs: Value) -> tuple:
    axis = p.get("axis", 0)
    return tuple(
        b.apply("getitem", g, i, index=along(axis, "a")) for i in range(len(xs))
    )


# vector mode of the moves: axis 0 (the directions) stays in front
def _transpose_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    r = bt.rank(x)
    axes = p.get("axes")
    if axes is None:
        axes = tuple(range(r, 0, -1))
    else:
        axes = tuple(a % r + 1 for a in axes)
    bt.new("transpose", x, out=e.out, axes=(0,) + axes)


def _reshape_batch(bt: Batching, e: Equation, p: Params, x: Value, *dims) -> None:
    lead = p.get("lead", 0) + 1  # the directions, and any already in front
    bt.out.append(replace(e, params=tuple(sorted({**p, "lead": lead}.items()))))


def _expand_dims_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    _shifted(bt, e, p, "axis")


def _squeeze_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    if p.get("axis") is None:
        s = bt.env.get(x.name)
        if s is None or any(d != shapes.ONE and shapes.may_be_one(d) for d in s):
            bt.error("`np.squeeze` without an axis, of an array of unknown shape,")
        axes = tuple(i for i, d in enumerate(s) if d == shapes.ONE)
        p = {**p, "axis": axes}
    _shifted(bt, e, p, "axis")


def _shifted(bt: Batching, e: Equation, p: Params, key: str) -> None:
    axis = p.get(key, 0)
    if isinstance(axis, tuple):
        axis = tuple(a + 1 if a >= 0 else a for a in axis)
    else:
        axis = axis + 1 if axis >= 0 else axis
    bt.out.append(replace(e, params=tuple(sorted({**p, key: axis}.items()))))


def _joined_batch(bt: Batching, e: Equation, p: Params, *xs: Value) -> None:
    """concatenate, stack: the operands without directions get them (broadcast)."""
    ins = tuple(a if bt.has(a) else bt.materialize(a, bt.rank(a)) for a in xs)
    _shifted(bt, replace(e, ins=ins), p, "axis")


register(
    linear(
        "transpose",
        1,
        lambda x, axes=None, method=False: numpy.transpose(x, axes),
        names=("numpy.transpose", "ndarray.transpose"),
        samples=((((2, 3),), {}), (((2, 3, 4),), {"axes": (1, 0, 2)})),
        call="static",
        static=("axes",),
        shape=lambda p, x, loc=None: shapes.transpose(x, p.get("axes")),
        render=_render_transpose,
        memory="view",
        batch=_transpose_batch,
        transpose=lambda b, p, out, g, x: (
            b.apply(
                "transpose", g, axes=_inverse(p.get("axes")), method=p.get("method")
            ),
        ),
    ),
    linear(
        "reshape",
        -1,
        _reshape,
        names=("numpy.reshape", "ndarray.reshape"),
        samples=((((2, 3), 3, 2), {}),),
        call="own",
        shape=_reshape_shape,
        render=_render_reshape,
        repeats=lambda p: (0,) if p.get("lead") else (),
        memory="view",
        batch=_reshape_batch,
        transpose=lambda b, p, out, g, x, *dims: (
            (_back_to_shape_of(b, g, x),) + (None,) * len(dims)
        ),
    ),
    linear(
        "expand_dims",
        1,
        lambda x, axis: numpy.expand_dims(x, axis),
        names=("numpy.expand_dims",),
        samples=((((3,),), {"axis": 0}),),
        call="static",
        static=("axis",),
        shape=lambda p, x, loc=None: shapes.expand_dims(x, p["axis"]),
        render=_np("expand_dims", "axis"),
        memory="view",
        batch=_expand_dims_batch,
        transpose=lambda b, p, out, g, x: (b.apply("squeeze", g, axis=p["axis"]),),
    ),
    linear(
        "squeeze",
        1,
        lambda x, axis=None: numpy.squeeze(x, axis),
        names=("numpy.squeeze", "ndarray.squeeze"),
        samples=((((1, 3),), {"axis": 0}),),
        call="static",
        static=("axis",),
        shape=lambda p, x, loc=None: shapes.squeeze(x, p.get("axis")),
        render=_np("squeeze", "axis"),
        memory="view",
        batch=_squeeze_batch,
        transpose=lambda b, p, out, g, x: (_back_to_shape_of(b, g, x),),
    ),
    Primitive(
        "concatenate",
        -1,
        lambda *xs, axis=0: numpy.concatenate(xs, axis=axis),
        names=("numpy.concatenate",),
        samples=((((2, 3), (4, 3)), {"axis": 0}),),
        call="list",
        static=("axis",),
        shape=lambda p, *xs, loc=None: shapes.concatenate(xs, p.get("axis", 0)),
        render=_render_join("concatenate"),
        memory="copy",
        batch=_joined_batch,
        jvp=_joined_tangent("concatenate"),
        vjp=_concatenate_vjp,
    ),
    Primitive(
        "stack",
        -1,
        lambda *xs, axis=0: numpy.stack(xs, axis=axis),
        names=("numpy.stack",),
        samples=((((3,), (3,)), {}), (((3,), (3,)), {"axis": 1})),
        call="list",
        static=("axis",),
        shape=lambda p, *xs, loc=None: shapes.stack(xs, p.get("axis", 0)),
        render=_render_join("stack"),
        memory="copy",
        batch=_joined_batch,
        jvp=_joined_tangent("stack"),
        vjp=_stack_vjp,
    ),
)
