"""Rows of the rule table for the array primitives (see :mod:`ad_compiler.ad.rules`).

Elementwise primitives need nothing here: their scalar rules hold per element,
and :func:`ad_compiler.ad.rules.adjoints` sums each adjoint back over the axes its
input was broadcast along.  The rules below are for operations that move,
combine or reduce elements.  With ``g`` the adjoint of the output:

* ``y = Σ_axis x``          ẏ = Σ_axis ẋ             x̄ = g broadcast back along axis
* ``y = mean_axis x``       ẏ = mean_axis ẋ          x̄ = g broadcast back / count
* ``y = max_axis x``        ẏ = Σ m ẋ / Σ m          x̄ = m g / Σ m,  m = (x == y): ties share
* ``y = A @ B``             ẏ = Ȧ B + A Ḃ            Ā = g Bᵀ,  B̄ = Aᵀ g  (the seeds' δ·yᵀ)
* ``y = xᵀ``, reshape ...   the same move of ẋ        the inverse move of g
* ``y = x[i]``              ẏ = ẋ[i]                 x̄ = g placed at i, zeros elsewhere
* ``y = x with x[i] = v``   ẏ = ẋ with ẋ[i] = v̇      x̄ = g with g[i] = 0,  v̄ = g[i]
"""

from __future__ import annotations

from ad_compiler.ir import shapes
from ad_compiler.ir.array_primitives import parse_einsum
from ad_compiler.errors import CompileError
from ad_compiler.ad.rules import defrule


def _halves(args) -> tuple:
    """A tangent rule's ``(*ins, *dins)`` of a primitive with any number of inputs,
    split into the inputs and their tangents."""
    half = len(args) // 2
    return args[:half], args[half:]


def _zero_jvp(b, p, out, *ins_and_tangents):
    return None


def _zero_vjp(b, p, out, g, *ins):
    return (None,) * len(ins)


for _prim in ("shape", "len", "size", "construct"):
    defrule(_prim, jvp=_zero_jvp, vjp=_zero_vjp, params=True)


# --- reductions ---------------------------------------------------------------------
def _expanded(b, p, g):
    """``g`` with the reduced axes put back (length 1), so it broadcasts against x."""
    axis = p.get("axis")
    if axis is None or p.get("keepdims"):
        return g
    return b.apply("expand_dims", g, axis=axis)


def _spread(b, p, g, x):
    """``g`` broadcast back over the axes a reduction of ``x`` summed.

    It is left to broadcast where it is used (an adjoint may be smaller than
    its value, see ``Ops.sum_to``): x̄ of ``np.sum(x)`` is the scalar ȳ.
    """
    return _expanded(b, p, g)


def _reduce(name, b, p, x):
    return b.apply(name, x, **p)


defrule(
    "sum",
    jvp=lambda b, p, out, x, dx: _reduce("sum", b, p, dx),
    vjp=lambda b, p, out, g, x: (_spread(b, p, g, x),),
    params=True,
)


def _count(b, out, x):
    """How many elements each output of a mean averages: size(x) / size(out)."""
    size_x = b.apply("size", x)
    if b.shape(out) == shapes.SCALAR:
        return size_x
    return b.div(size_x, b.apply("size", out))


defrule(
    "mean",
    jvp=lambda b, p, out, x, dx: _reduce("mean", b, p, dx),
    vjp=lambda b, p, out, g, x: (b.div(_spread(b, p, g, x), _count(b, out, x)),),
    params=True,
)


def _extreme_rules(name):
    # The maximum's derivative is the derivative of the element that is the
    # maximum; where several tie, they share it equally (as JAX does).
    def mask(b, p, out, x):
        return b.apply("eq", x, _expanded(b, p, out))

    def share(b, p, m):
        return b.apply("sum", m, axis=p.get("axis"), keepdims=True)

    def jvp(b, p, out, x, dx):
        m = mask(b, p, out, x)
        picked = b.apply("sum", b.mul(m, dx), **p)
        return b.div(picked, b.apply("sum", m, **p))

    def vjp(b, p, out, g, x):
        m = mask(b, p, out, x)
        return (b.div(b.mul(m, _expanded(b, p, g)), share(b, p, m)),)

    defrule(name, jvp=jvp, vjp=vjp, params=True)


_extreme_rules("amax")
_extreme_rules("amin")


def _product_of_others(b, p, out, x):
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
    return b.select(zero, at_zero, b.div(_expanded(b, p, out), safe))


# prod: ∂y/∂x_i = Π_{j≠i} x_j
defrule(
    "prod",
    jvp=lambda b, p, out, x, dx: b.apply(
        "sum", b.mul(_product_of_others(b, p, out, x), dx), **p
    ),
    vjp=lambda b, p, out, g, x: (
        b.mul(_expanded(b, p, g), _product_of_others(b, p, out, x)),
    ),
    params=True,
)


# --- products -------------------------------------------------------------------------
def _matmul(b, x, y):
    if x is None or y is None:
        return None
    return b.apply("matmul", x, y)


def _swap(b, x):
    """``x`` with its last two axes swapped (``x.T`` for a matrix)."""
    rank = b.rank(x)
    if rank == 2:
        return b.apply("transpose", x, method=True)
    axes = tuple(range(rank - 2)) + (rank - 1, rank - 2)
    return b.apply("transpose", x, axes=axes)


def _matmul_vjp(b, p, out, g, x, y):
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


defrule(
    "matmul",
    jvp=lambda b, p, out, x, y, dx, dy: b.add(_matmul(b, dx, y), _matmul(b, x, dy)),
    vjp=_matmul_vjp,
    params=True,
)


def _dot_jvp(b, p, out, x, y, dx, dy):
    if b.rank(x) == 0 or b.rank(y) == 0:
        return b.add(b.mul(y, dx), b.mul(x, dy))
    return b.add(_matmul(b, dx, y), _matmul(b, x, dy))


def _dot_vjp(b, p, out, g, x, y):
    if b.rank(x) == 0 or b.rank(y) == 0:  # a product by a scalar
        return (b.sum_to(b.mul(y, g), x), b.sum_to(b.mul(x, g), y))
    return _matmul_vjp(b, p, out, g, x, y)


defrule("dot", jvp=_dot_jvp, vjp=_dot_vjp, params=True)


def _outer(b, x, y):
    if x is None or y is None:
        return None
    return b.apply("outer", x, y)


def _flat_like(b, v, x):
    """``v`` (a vector) reshaped to ``x``'s shape, unless x is known to be a vector."""
    if b.rank(x) == 1:
        return v
    return b.apply("reshape", v, b.apply("shape", x), packed=True)


def _ravel(b, x):
    if b.rank(x) == 1:
        return x
    return b.apply("reshape", x, -1)


# np.outer(x, y)_ij = x_i y_j (of the flattened x, y): x̄ = g ravel(y), ȳ = ravel(x) g
defrule(
    "outer",
    jvp=lambda b, p, out, x, y, dx, dy: b.add(_outer(b, dx, y), _outer(b, x, dy)),
    vjp=lambda b, p, out, g, x, y: (
        _flat_like(b, _matmul(b, g, _ravel(b, y)), x),
        _flat_like(b, _matmul(b, _ravel(b, x), g), y),
    ),
    params=True,
)


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


def _einsum_jvp(b, p, out, x, y, dx, dy):
    spec = p["spec"]
    t1 = None if dx is None else b.apply("einsum", dx, y, spec=spec)
    t2 = None if dy is None else b.apply("einsum", x, dy, spec=spec)
    return b.add(t1, t2)


def _einsum_vjp(b, p, out, g, x, y):
    """x̄ = einsum(g, y) over x's letters, summed back to x's shape: einsum
    broadcasts a length-1 axis against the other operand's longer one (``j`` of
    ``'ij,jk->ik'`` with x of shape (n, 1), y of shape (m, k)), and the adjoint
    einsum then has the longer length, as for any broadcast."""
    spec = p["spec"]
    x_bar = b.apply("einsum", g, y, spec=_einsum_adjoint_spec(spec, True, b.loc))
    y_bar = b.apply("einsum", g, x, spec=_einsum_adjoint_spec(spec, False, b.loc))
    return (b.sum_to(x_bar, x), b.sum_to(y_bar, y))


defrule("einsum", jvp=_einsum_jvp, vjp=_einsum_vjp, params=True)


# --- moving elements ----------------------------------------------------------------------
def _inverse(axes):
    if axes is None:
        return None
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a] = i
    return tuple(inv)


defrule(
    "transpose",
    jvp=lambda b, p, out, x, dx: b.apply("transpose", dx, **p),
    vjp=lambda b, p, out, g, x: (
        b.apply("transpose", g, axes=_inverse(p.get("axes")), method=p.get("method")),
    ),
    params=True,
)


def _reshape_rules():
    def jvp(b, p, out, *args):
        ins, dins = _halves(args)
        if dins[0] is None:
            return None
        return b.apply("reshape", dins[0], *ins[1:], **p)

    def vjp(b, p, out, g, x, *dims):
        back = b.apply("reshape", g, b.apply("shape", x), packed=True)
        return (back,) + (None,) * len(dims)

    defrule("reshape", jvp=jvp, vjp=vjp, params=True)


_reshape_rules()

defrule(
    "expand_dims",
    jvp=lambda b, p, out, x, dx: b.apply("expand_dims", dx, **p),
    vjp=lambda b, p, out, g, x: (b.apply("squeeze", g, axis=p["axis"]),),
    params=True,
)
defrule(
    "squeeze",
    jvp=lambda b, p, out, x, dx: b.apply("squeeze", dx, **p),
    vjp=lambda b, p, out, g, x: (
        b.apply("reshape", g, b.apply("shape", x), packed=True),
    ),
    params=True,
)


def _joined_tangent(name):
    def jvp(b, p, out, *args):
        ins, dins = _halves(args)
        if all(d is None for d in dins):
            return None
        filled = [b.zeros(x) if d is None else d for x, d in zip(ins, dins)]
        return b.apply(name, *filled, **p)

    return jvp


def _along(b, axis: int, item):
    """An index layout selecting ``item`` along ``axis`` (the rest taken whole)."""
    whole = ("s", False, False, False)
    if axis >= 0:
        return (whole,) * axis + (item,)
    return ("...", item) + (whole,) * (-axis - 1)


def _concatenate_vjp(b, p, out, g, *xs):
    axis = p.get("axis", 0)
    start, cts = None, []
    for x in xs:
        length = b.apply("getitem", b.apply("shape", x), axis, index=("a",))
        stop = length if start is None else b.add(start, length)
        item = ("s", start is not None, True, False)
        bounds = (stop,) if start is None else (start, stop)
        cts.append(b.apply("getitem", g, *bounds, index=_along(b, axis, item)))
        start = stop
    return tuple(cts)


defrule(
    "concatenate",
    jvp=_joined_tangent("concatenate"),
    vjp=_concatenate_vjp,
    params=True,
)


def _stack_vjp(b, p, out, g, *xs):
    axis = p.get("axis", 0)
    return tuple(
        b.apply("getitem", g, i, index=_along(b, axis, "a")) for i in range(len(xs))
    )


defrule("stack", jvp=_joined_tangent("stack"), vjp=_stack_vjp, params=True)


# --- indexing ----------------------------------------------------------------------------
def _getitem_rules():
    def jvp(b, p, out, *args):
        ins, dins = _halves(args)
        if dins[0] is None:
            return None
        return b.apply("getitem", dins[0], *ins[1:], **p)

    def vjp(b, p, out, g, x, *parts):
        return (b.apply("unindex", x, g, *parts, **p),) + (None,) * len(parts)

    defrule("getitem", jvp=jvp, vjp=vjp, params=True)

    def set_jvp(b, p, out, *args):
        ins, dins = _halves(args)
        x, parts = ins[0], ins[2:]
        dx, dv = dins[0], dins[1]
        if dx is None and dv is None:
            return None
        dx = b.zeros(x) if dx is None else dx
        dv = b.lit(0.0) if dv is None else dv
        return b.apply("setitem", dx, dv, *parts, **p)

    def set_vjp(b, p, out, g, x, v, *parts):
        x_bar = b.apply("setitem", g, b.lit(0.0), *parts, **p)
        v_bar = b.sum_to(b.apply("getitem", g, *parts, **p), v)
        return (x_bar, v_bar) + (None,) * len(parts)

    defrule("setitem", jvp=set_jvp, vjp=set_vjp, params=True)

    # unindex(x, g, i) is linear in g: its tangent and adjoint are the same moves
    def un_jvp(b, p, out, *args):
        ins, dins = _halves(args)
        if dins[1] is None:
            return None
        return b.apply("unindex", ins[0], dins[1], *ins[2:], **p)

    def un_vjp(b, p, out, gg, x, g, *parts):
        return (None, b.apply("getitem", gg, *parts, **p)) + (None,) * len(parts)

    defrule("unindex", jvp=un_jvp, vjp=un_vjp, params=True)


_getitem_rules()

# sum_to and like are each other's adjoint (both linear in their first input)
defrule(
    "sum_to",
    jvp=lambda b, p, out, g, x, dg, dx: None if dg is None else b.sum_to(dg, x),
    vjp=lambda b, p, out, gg, g, x: (b.like(gg, g), None),
    params=True,
)
defrule(
    "like",
    jvp=lambda b, p, out, t, x, dt, dx: (
        None if dt is None else b.apply("like", dt, x, **p) if p else b.like(dt, x)
    ),
    vjp=lambda b, p, out, gg, t, x: (b.sum_to(gg, t), None),
    params=True,
)

# lead(v, k) repeats v along a new axis (at position `at`) of length k: its
# adjoint sums over that axis
defrule(
    "lead",
    jvp=lambda b, p, out, v, k, dv, dk: (
        None if dv is None else b.apply("lead", dv, k, **p)
    ),
    vjp=lambda b, p, out, g, v, k: (b.apply("sum", g, axis=p.get("at", 0)), None),
    params=True,
)

# a copy is the same values
defrule(
    "copy",
    jvp=lambda b, p, out, x, dx: dx,
    vjp=lambda b, p, out, g, x: (g,),
    params=True,
)
