"""Statistics, scans and stable reductions: std, var, average, cumsum, cumprod,
diff, ptp, trace, ``np.linalg.norm``, ``scipy.special.logsumexp``, softmax and
log_softmax.

Each is a row with a closed-form rule, so the emitted primal code calls the
function the user called (``np.std(x, axis=0)``) and the derivative code is the
textbook formula.  With ``g`` the adjoint of the output, ``ḡ`` it broadcast
back over the reduced axes, ``c = x − mean(x)`` and ``N`` the number of
elements each output reduces:

* ``var``: ẏ = 2 Σ c ẋ / (N − ddof);  x̄ = 2 c ḡ / (N − ddof)
  (the term in mean(ẋ) vanishes because Σ c = 0);
* ``std`` = √var: ẏ = Σ c ẋ / ((N − ddof) y);  x̄ = c ḡ / ((N − ddof) y)
  (NaN where y = 0, a constant slice: 0/0, as JAX's √var gives);
* ``average`` with weights w: y = Σ w x / Σ w;  ẏ = Σ (w ẋ + ẇ (x − y)) / Σ w;
  x̄ = w ḡ / Σ w;  w̄ = (x − y) ḡ / Σ w (1-D weights along ``axis`` are put
  on that axis first, as NumPy does);
* ``cumsum`` is linear; its transpose is the reversed cumulative sum of g;
* ``cumprod``: ∂y_j/∂x_i = Π_{k≤j, k≠i} x_k for i ≤ j, written without
  dividing by a zero (see :func:`_cumprod_parts`);
* ``diff`` is linear; the transpose of one difference is minus the difference
  of g padded with a zero at each end (``np.diff(g, prepend=0.0, append=0.0)``);
* ``ptp`` = max − min: the derivative of the max minus that of the min (ties
  share, as for max and min);
* ``trace`` is linear; x̄ = g times the identity (``np.eye``) on its two axes;
* ``norm``: the 2-norm and Frobenius norm ẏ = Σ x ẋ / y, x̄ = x ḡ / y (NaN at
  0, as JAX); the 1-norm x̄ = s ḡ with s = +1 where x ≥ 0 and −1 elsewhere
  (JAX's slope of |x| at 0 is +1); the ∞-norms as max / min of |x|, ties
  sharing;
* ``logsumexp`` y = log Σ b e^a: with e = exp(a − y), ȧ's weight is b e
  (the softmax), ḃ's is e;  ā = b e ḡ,  b̄ = e ḡ;
* ``softmax`` s: ṡ = s (ẋ − Σ s ẋ), x̄ = s (g − Σ g s);
  ``log_softmax`` l: l̇ = ẋ − Σ e^l ẋ, x̄ = g − e^l Σ g.

Vector mode (``batch``): the axis moves one to the right for the direction
axis in front (:func:`_reduction_batch` of the reductions); a scan or
``norm`` over the flattened array flattens each direction instead.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy

from ad_compiler.errors import CompileError
from ad_compiler.ir import shapes
from ad_compiler.primitives.arrays import (
    _reduction_batch,
    along,
    expanded,
    keywords,
    reduced_count,
)
from ad_compiler.primitives.registry import (
    PREC_ATOM,
    Batching,
    Equation,
    Ops,
    Params,
    Primitive,
    Value,
    halves,
    linear,
    linear_rules,
    register,
    scipy_module,
)

# (inputs, params) the registry test differentiates: a tuple is an array's shape
_AXES: tuple = (
    (((3, 4),), {}),
    (((3, 4),), {"axis": 0}),
    (((3, 4),), {"axis": 1, "keepdims": True}),
)

# --- helpers ------------------------------------------------------------------------


def _keep(p: Params) -> dict:
    """The reduction's axes, keeping their length 1 (a value that broadcasts
    against the input)."""
    return {"axis": p.get("axis"), "keepdims": True}


def _out(p: Params) -> dict:
    """The reduction's axes as the output has them."""
    return {"axis": p.get("axis"), "keepdims": p.get("keepdims", False)}


def _render(spelled: str, *keys: str):
    """``np.<spelled>(x, key=value ...)``, or ``x.<method>(...)`` with ``method``."""

    def render(params, texts, atoms):
        kw = keywords(params, *keys)
        if params.get("method"):
            method = spelled.rpartition(".")[2]
            return f"{atoms[0]}.{method}({kw.removeprefix(', ')})", PREC_ATOM
        return f"{spelled}({texts[0]}{kw})", PREC_ATOM

    return render


def _reduce_shape(p, x, loc=None):
    return shapes.reduce(x, p.get("axis"), p.get("keepdims", False), loc)


def _flat_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    """Vector mode of a scan over the flattened array (``axis=None``): each
    direction flattened, then scanned along axis 1; else the axis shifts."""
    if p.get("axis") is not None:
        _reduction_batch(bt, e, p, x)
        return
    flat = bt.new("reshape", x, -1, lead=1)
    params = tuple(sorted({**p, "axis": 1}.items()))
    bt.out.append(replace(e, ins=(flat,), params=params))


def _shifted(axis, rank: int, has: bool = True):
    """A reduction's ``axis`` for an operand with the direction axis in front
    (``has``): ``a`` becomes ``a + 1`` (negative axes stay), none the axes 1 … r."""
    if not has:
        return axis
    if axis is None:
        return tuple(range(1, rank + 1))
    if isinstance(axis, tuple):
        return tuple(a + 1 if a >= 0 else a for a in axis)
    return axis + 1 if axis >= 0 else axis


def _reversed(b: Ops, v: Value, axis: int) -> Value:
    """``v`` reversed along ``axis`` (``v[::-1]``, ``v[:, ::-1]``)."""
    return b.apply("getitem", v, -1, index=along(axis, ("s", False, False, True)))


def _scan_axis(b: Ops, p: Params, x: Value):
    """(x as scanned, its axis, a function putting a result back in x's shape):
    a scan without an axis runs over the flattened array."""
    axis = p.get("axis")
    if axis is not None:
        return x, axis, lambda v: v
    if b.rank(x) == 1:
        return x, 0, lambda v: v
    flat = b.apply("reshape", x, -1)
    return flat, 0, lambda v: b.apply("reshape", v, b.apply("shape", x), packed=True)


# --- var, std ------------------------------------------------------------------------


def _centered(b: Ops, p: Params, x: Value) -> Value:
    return b.sub(x, b.apply("mean", x, **_keep(p)))


def _dof(b: Ops, p: Params, out: Value, x: Value) -> Value:
    """N − ddof: the divisor NumPy's var uses."""
    n = reduced_count(b, p, out, x)
    ddof = p.get("ddof") or 0
    return b.sub(n, b.lit(ddof)) if ddof else n


def _var_jvp(b: Ops, p: Params, out, x, dx) -> Value:
    if dx is None:
        return None
    s = b.apply("sum", b.mul(_centered(b, p, x), dx), **_out(p))
    return b.div(b.mul(b.lit(2.0), s), _dof(b, p, out, x))


def _var_vjp(b: Ops, p: Params, out, g, x) -> tuple:
    scale = b.div(b.mul(b.lit(2.0), expanded(b, p, g)), _dof(b, p, out, x))
    return (b.mul(_centered(b, p, x), scale),)


def _std_jvp(b: Ops, p: Params, out, x, dx) -> Value:
    if dx is None:
        return None
    s = b.apply("sum", b.mul(_centered(b, p, x), dx), **_out(p))
    return b.div(s, b.mul(_dof(b, p, out, x), out))


def _std_vjp(b: Ops, p: Params, out, g, x) -> tuple:
    scale = b.mul(_dof(b, p, out, x), expanded(b, p, out))
    return (b.div(b.mul(_centered(b, p, x), expanded(b, p, g)), scale),)


def _moment(name: str, np_fn, jvp, vjp, convention: str) -> Primitive:
    def evaluate(x, axis=None, keepdims=False, ddof=0, method=False):
        return np_fn(x, axis=axis, keepdims=keepdims, ddof=ddof)

    return Primitive(
        name,
        1,
        evaluate,
        names=(f"numpy.{name}", f"ndarray.{name}"),
        np_name=f"np.{name}",
        call="reduction",
        static=("axis", "keepdims", "ddof"),
        shape=_reduce_shape,
        render=_render(f"np.{name}", "axis", "keepdims", "ddof"),
        memory="copy",
        batch=_reduction_batch,
        jvp=jvp,
        vjp=vjp,
        samples=_AXES + ((((3, 4),), {"axis": 1, "ddof": 1}),),
        convention=convention,
    )


# --- average ------------------------------------------------------------------------


def _weights(b: Ops, p: Params, x: Value, w: Value) -> tuple[Value, tuple]:
    """The weights as they broadcast against x, and the axes added to 1-D
    weights along ``axis`` (NumPy's rule: their length is that axis')."""
    rx, rw = b.rank(x), b.rank(w)
    if rw == 1 and rx is not None and rx > 1:
        axis = p.get("axis")
        if not isinstance(axis, int):
            raise CompileError(
                "1-D weights of `np.average` need one axis of the array", b.loc
            )
        others = tuple(i for i in range(rx) if i != axis % rx)
        added = others[0] if len(others) == 1 else others
        return b.apply("expand_dims", w, axis=added), others
    if rx is None or rw is None:
        raise CompileError(
            "`np.average` with weights needs to know how many axes its operands have",
            b.loc,
            hint="give the shapes of the array parameters (`adc compile --shape "
            "x=n w=n`; the API knows them from the call)",
        )
    return w, ()


def _average_jvp(b: Ops, p: Params, out, *args) -> Value:
    (x, *w), (dx, *dw) = halves(args)
    if not w:
        return None if dx is None else b.apply("average", dx, **p)
    wb, others = _weights(b, p, x, w[0])
    total = b.apply("sum", wb, **_out(p))
    t = None if dx is None else b.mul(wb, dx)
    if dw[0] is not None:
        dwb = dw[0] if not others else b.apply("expand_dims", dw[0], axis=others)
        t = b.add(t, b.mul(dwb, b.sub(x, expanded(b, p, out))))
    return b.div(b.apply("sum", t, **_out(p)), total) if t is not None else None


def _average_vjp(b: Ops, p: Params, out, g, x, *w) -> tuple:
    if not w:
        count = reduced_count(b, p, out, x)
        return (b.div(expanded(b, p, g), count),)
    wb, others = _weights(b, p, x, w[0])
    share = b.div(expanded(b, p, g), b.apply("sum", wb, **_keep(p)))
    x_bar = b.sum_to(b.mul(wb, share), x)
    w_bar = b.sum_to(b.mul(b.sub(x, expanded(b, p, out)), share), wb)
    if others:
        w_bar = b.apply("squeeze", w_bar, axis=others)
    return (x_bar, w_bar)


def _average_batch(bt: Batching, e: Equation, p: Params, x: Value, *w: Value) -> None:
    """Without weights a mean; with weights Σ x w / Σ w written out (the
    weights' shape need not match x's once directions are added)."""
    if not w:
        _reduction_batch(bt, replace(e, prim="mean"), p, x)
        return
    rx, wb, has_w = bt.rank(x), w[0], bt.has(w[0])
    axis = p.get("axis")
    if bt.rank(wb) == 1 and rx > 1 and isinstance(axis, int):  # 1-D along `axis`
        added = tuple(i for i in range(rx) if i != axis % rx)
        wb = bt.new("expand_dims", wb, axis=tuple(a + has_w for a in added))
    elif has_w:
        wb = bt.expand(wb, rx - bt.rank(wb))

    keep = p.get("keepdims", False)
    product = bt.new("mul", x, wb, ns="py")
    num = bt.new("sum", product, axis=_shifted(axis, rx), keepdims=keep)
    den = bt.new("sum", wb, axis=_shifted(axis, rx, has_w), keepdims=keep)
    bt.new("div", num, den, out=e.out, ns="py")


def _average(x, w=None, axis=None, keepdims=False):
    return numpy.average(x, axis=axis, weights=w, keepdims=keepdims)


def _render_average(params, texts, atoms):
    kw = keywords(params, "axis")
    if len(texts) > 1:
        kw += f", weights={texts[1]}"
    return f"np.average({texts[0]}{kw}{keywords(params, 'keepdims')})", PREC_ATOM


# --- cumsum, cumprod, diff -------------------------------------------------------------


def _cumsum_transpose(b: Ops, p: Params, out, g, x) -> tuple:
    """x̄_i = Σ_{j≥i} g_j: the cumulative sum of g from the end."""
    flat, axis, back = _scan_axis(b, p, x)
    g = b.like(g, out)  # (an adjoint may be a number standing for an array)
    reverse = _reversed(b, b.apply("cumsum", _reversed(b, g, axis), axis=axis), axis)
    return (back(reverse),)


def _cumprod_parts(b: Ops, x: Value, axis: int) -> dict:
    """The pieces of cumprod's derivative along ``axis``, with z the first zero.

    ∂y_j/∂x_i (i ≤ j) is y_j / x_i for i < z (no zero divided by);
    Π_{k≤j, k≠z} x_k = y1_j for i = z, y1 the cumulative product with that
    zero replaced by one; and x_z · y1_j / x_i for i > z up to the next zero
    (0, since x_z = 0, but its derivative in x_z is right, so the Hessian is
    exact at one zero); after a second zero it is 0.  Values are exact at any
    number of zeros; second derivatives wherever the axis has at most one.
    ``before``, ``first``, ``between`` mark those positions; ``safe`` is x
    with ones at its zeros, ``xz`` the first zero (broadcast).
    """
    zero = b.apply("eq", x, b.lit(0.0))
    seen = b.apply("cumsum", zero, axis=axis)  # zeros up to and including i
    before = b.apply("eq", seen, b.lit(0.0))
    first = b.apply("eq", b.mul(zero, seen), b.lit(1.0))
    between = b.apply("eq", b.add(seen, zero), b.lit(1.0))  # one zero before i
    keep = {"axis": axis, "keepdims": True}
    return {
        "before": before,
        "first": first,
        "between": between,
        "safe": b.select(zero, b.lit(1.0), x),
        "y1": b.apply("cumprod", b.select(first, b.lit(1.0), x), axis=axis),
        "xz": b.apply("sum", b.select(first, x, None), **keep),
    }


def _cumprod_jvp(b: Ops, p: Params, out, x, dx) -> Value:
    if dx is None:
        return None
    flat, axis, back = _scan_axis(b, p, x)
    if flat is not x:
        dx = b.apply("reshape", dx, -1)  # (out is flat already)
    c = _cumprod_parts(b, flat, axis)
    ratio = b.div(dx, c["safe"])

    def summed(mask, v):
        return b.apply("cumsum", b.select(mask, v, None), axis=axis)

    later = b.add(summed(c["first"], dx), b.mul(c["xz"], summed(c["between"], ratio)))
    return b.add(b.mul(out, summed(c["before"], ratio)), b.mul(c["y1"], later))


def _cumprod_vjp(b: Ops, p: Params, out, g, x) -> tuple:
    flat, axis, back = _scan_axis(b, p, x)
    g = b.like(g, out)
    c = _cumprod_parts(b, flat, axis)

    def from_end(v):
        return _reversed(b, b.apply("cumsum", _reversed(b, v, axis), axis=axis), axis)

    rest = from_end(b.mul(g, c["y1"]))
    early = b.select(c["before"], b.div(from_end(b.mul(g, out)), c["safe"]), None)
    at_zero = b.select(c["first"], rest, None)
    late = b.select(c["between"], b.div(b.mul(c["xz"], rest), c["safe"]), None)
    return (back(b.add(b.add(early, at_zero), late)),)


def _scan(name: str, np_fn, **fields) -> Primitive:
    def evaluate(x, axis=None, method=False):
        return np_fn(x, axis=axis)

    def shape(p, x, loc=None):
        if p.get("axis") is None:
            return None if x is None else (shapes.ANY,) if len(x) != 1 else x
        if x is not None:
            shapes._axes(p["axis"], len(x), loc)
        return x

    return Primitive(
        name,
        1,
        evaluate,
        names=(f"numpy.{name}", f"ndarray.{name}"),
        np_name=f"np.{name}",
        call="reduction",
        static=("axis",),
        shape=shape,
        render=_render(f"np.{name}", "axis"),
        memory="copy",
        batch=_flat_batch,
        samples=((((4,),), {}), (((3, 4),), {}), (((3, 4),), {"axis": 1})),
        **fields,
    )


def _diff(x, n=1, axis=-1, padded=False):
    if padded:  # the adjoint's form: g with a zero before and after
        return numpy.diff(x, n=n, axis=axis, prepend=0.0, append=0.0)
    return numpy.diff(x, n=n, axis=axis)


def _render_diff(params, texts, atoms):
    kw = ""
    if params.get("n", 1) != 1:
        kw += f", n={params['n']!r}"
    if params.get("axis", -1) != -1:
        kw += f", axis={params['axis']!r}"
    if params.get("padded"):
        kw += ", prepend=0.0, append=0.0"
    return f"np.diff({texts[0]}{kw})", PREC_ATOM


def _diff_shape(p, x, loc=None):
    if x is None:
        return None
    if x == shapes.SCALAR:
        raise CompileError("`np.diff` of a number", loc, hint="it takes an array")
    axis = shapes._axes(p.get("axis", -1), len(x), loc)[0]
    return x[:axis] + (shapes.ANY,) + x[axis + 1 :]


def _diff_transpose(b: Ops, p: Params, out, g, x) -> tuple:
    """Dᵀ g = −(g padded with zeros, differenced): n times for the n-th difference;
    the padded form's transpose is −D."""
    axis = p.get("axis", -1)
    g = b.like(g, out)
    if p.get("padded"):
        return (b.neg(b.apply("diff", g, axis=axis)),)
    n = p.get("n", 1)
    for _ in range(n):
        g = b.apply("diff", g, axis=axis, padded=True)
    return (g if n % 2 == 0 else b.neg(g),)


def _diff_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    axis = p.get("axis", -1)  # (the last axis stays the last)
    params = {**p, "axis": axis + 1 if axis >= 0 else axis}
    bt.out.append(replace(e, params=tuple(sorted(params.items()))))


# --- ptp ------------------------------------------------------------------------------


def _shares(b: Ops, p: Params, x: Value) -> Value:
    """m_max / Σ m_max − m_min / Σ m_min: each tied extreme's share."""

    def share(prim):
        m = b.apply("eq", x, b.apply(prim, x, **_keep(p)))
        return b.div(m, b.apply("sum", m, **_keep(p)))

    return b.sub(share("amax"), share("amin"))


def _ptp_jvp(b: Ops, p: Params, out, x, dx) -> Value:
    if dx is None:
        return None
    return b.apply("sum", b.mul(_shares(b, p, x), dx), **_out(p))


def _ptp_vjp(b: Ops, p: Params, out, g, x) -> tuple:
    return (b.mul(_shares(b, p, x), expanded(b, p, g)),)


# --- trace ----------------------------------------------------------------------------


def _trace_axes(p: Params, rank: int) -> tuple[int, int]:
    return p.get("axis1", 0) % rank, p.get("axis2", 1) % rank


def _trace_shape(p, x, loc=None):
    if x is None:
        return None
    if len(x) < 2:
        raise CompileError("`np.trace` of an array with fewer than 2 axes", loc)
    a1, a2 = _trace_axes(p, len(x))
    if a1 == a2:
        raise CompileError("`np.trace` needs two different axes", loc)
    return tuple(d for i, d in enumerate(x) if i not in (a1, a2))


def _trace_transpose(b: Ops, p: Params, out, g, x) -> tuple:
    """x̄ = g on the diagonal (offset ``offset``) of the two axes: g times
    ``np.eye(n, m, k=offset)`` placed on those axes."""
    rank = b.rank(x)
    if rank is None:
        raise CompileError(
            "the adjoint of `np.trace` needs to know how many axes its operand has",
            b.loc,
            hint="give the shape of the array parameter (`adc compile --shape "
            "A=n,n`; the API knows it from the call)",
        )
    a1, a2 = _trace_axes(p, rank)
    lo, hi = min(a1, a2), max(a1, a2)
    offset = p.get("offset", 0) if a1 < a2 else -p.get("offset", 0)
    size = b.apply("shape", x)
    n = b.apply("getitem", size, lo, index=("a",))
    m = b.apply("getitem", size, hi, index=("a",))
    layout = (("", -1), ("", -1)) + ((("k", -1),) if offset else ())
    extra = (offset,) if offset else ()
    eye = b.apply("construct", n, m, *extra, fn="eye", args=layout)
    if rank > 2:
        others = tuple(i for i in range(rank) if i not in (lo, hi))
        eye = b.apply("expand_dims", eye, axis=others)
        g = b.apply("expand_dims", g, axis=(lo, hi))
    return (b.mul(g, eye),)


def _trace_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    r = bt.rank(x)
    a1, a2 = _trace_axes(p, r)
    params = {**p, "axis1": a1 + 1, "axis2": a2 + 1}
    bt.out.append(replace(e, params=tuple(sorted(params.items()))))


def _render_trace(params, texts, atoms):
    kw = keywords(params, "offset")
    if params.get("axis1", 0) != 0 or params.get("axis2", 1) != 1:
        kw += f", axis1={params.get('axis1', 0)!r}, axis2={params.get('axis2', 1)!r}"
    if params.get("method"):
        return f"{atoms[0]}.trace({kw.removeprefix(', ')})", PREC_ATOM
    return f"np.trace({texts[0]}{kw})", PREC_ATOM


# --- np.linalg.norm ---------------------------------------------------------------------


def norm_kind(p: Params, rank: int | None, loc=None) -> str:
    """Which norm ``np.linalg.norm(x, ord, axis)`` computes, of those with a
    rule: "two" (the 2-norm of the elements reduced: vector 2-norm, Frobenius),
    "one", "inf" or "-inf" (vector norms); a located error for the others."""
    ord_, axis = p.get("ord"), p.get("axis")
    if isinstance(axis, tuple) and len(axis) == 1:
        axis = axis[0]
    if axis is None:
        matrix = rank == 2 if rank is not None else None
    else:
        matrix = isinstance(axis, tuple)
    if ord_ is None:
        return "two"  # the 2-norm of the elements reduced, whatever the rank
    if matrix is None:
        raise CompileError(
            f"`np.linalg.norm` with ord={_ord_text(ord_)} needs to know whether it "
            "is a vector or a matrix norm",
            loc,
            hint="give the array's shape (`adc compile --shape x=n`), or an axis "
            "(axis=-1 for a vector)",
        )
    if matrix and ord_ == "fro":
        return "two"
    if not matrix and ord_ in (1, 2, math.inf, -math.inf):
        return {1: "one", 2: "two", math.inf: "inf", -math.inf: "-inf"}[ord_]
    what = "matrix" if matrix else "vector"
    raise CompileError(
        f"the {what} norm ord={_ord_text(ord_)} of `np.linalg.norm` has no "
        "derivative rule",
        loc,
        hint="supported: vector ord 1, 2, np.inf, -np.inf or None; matrix 'fro' "
        "or None; or write the norm out (np.max(np.sum(np.abs(A), axis=0)))",
    )


def _ord_text(ord_) -> str:
    if ord_ in (math.inf, -math.inf):
        return "np.inf" if ord_ > 0 else "-np.inf"
    return repr(ord_)


def _render_norm(params, texts, atoms):
    ord_ = params.get("ord")
    text = texts[0] if ord_ is None else f"{texts[0]}, {_ord_text(ord_)}"
    return f"np.linalg.norm({text}{keywords(params, 'axis', 'keepdims')})", PREC_ATOM


def _norm_shape(p, x, loc=None):
    if x is not None and x != shapes.TUPLE:
        norm_kind(p, len(x), loc)
    return _reduce_shape(p, x, loc)


def _norm_slope(b: Ops, p: Params, out: Value, x: Value) -> Value:
    """∂y/∂x, shaped like x (the out value broadcast back where it is used)."""
    kind = norm_kind(p, b.rank(x), b.loc)
    if kind == "two":
        return b.div(x, expanded(b, p, out))
    sign = b.select(b.apply("ge", x, b.lit(0.0)), b.lit(1.0), b.lit(-1.0))
    if kind == "one":
        return sign
    m = b.apply("eq", b.apply("abs", x), expanded(b, p, out))
    return b.div(b.mul(m, sign), b.apply("sum", m, **_keep(p)))


def _norm_batch(bt: Batching, e: Equation, p: Params, x: Value) -> None:
    if p.get("axis") is not None or bt.rank(x) <= 2:
        _reduction_batch(bt, e, p, x)
        return
    if p.get("keepdims"):
        bt.error("`np.linalg.norm` of all the axes of an N-D array, keepdims=True,")
    flat = bt.new("reshape", x, -1, lead=1)
    params = tuple(sorted({**p, "axis": 1}.items()))
    bt.out.append(replace(e, ins=(flat,), params=params))


# --- logsumexp, softmax, log_softmax ---------------------------------------------------


def _logsumexp(a, b=None, axis=None, keepdims=False):
    special = scipy_module("scipy.special")
    return special.logsumexp(a, axis=axis, b=b, keepdims=keepdims)


def _render_logsumexp(params, texts, atoms):
    kw = keywords(params, "axis")
    if len(texts) > 1:
        kw += f", b={texts[1]}"
    kw += keywords(params, "keepdims")
    return f"scipy.special.logsumexp({texts[0]}{kw})", PREC_ATOM


def _lse_weights(b: Ops, p: Params, out, a) -> Value:
    """exp(a − y): each term's share of the sum, before the weights b."""
    return b.exp(b.sub(a, expanded(b, p, out)))


def _logsumexp_jvp(b: Ops, p: Params, out, *args) -> Value:
    (a, *w), (da, *dw) = halves(args)
    e = _lse_weights(b, p, out, a)
    t = None if da is None else b.mul(b.mul(w[0], e) if w else e, da)
    if w and dw[0] is not None:
        t = b.add(t, b.mul(e, dw[0]))
    return None if t is None else b.apply("sum", t, **_out(p))


def _logsumexp_vjp(b: Ops, p: Params, out, g, a, *w) -> tuple:
    e = b.mul(_lse_weights(b, p, out, a), expanded(b, p, g))
    if not w:
        return (b.sum_to(e, a),)
    return (b.sum_to(b.mul(w[0], e), a), b.sum_to(e, w[0]))


def _logsumexp_batch(bt: Batching, e: Equation, p: Params, *ins: Value) -> None:
    """The operands' axes aligned (as NumPy broadcasts them), then the axes shift."""
    r = max(bt.rank(v) for v in ins)
    aligned = tuple(bt.expand(v, r - bt.rank(v)) if bt.has(v) else v for v in ins)
    params = tuple(sorted({**p, "axis": _shifted(p.get("axis"), r)}.items()))
    bt.out.append(replace(e, ins=aligned, params=params))


def _softmax_jvp(b: Ops, p: Params, out, x, dx) -> Value:
    if dx is None:
        return None
    mean = b.apply("sum", b.mul(out, dx), **_keep(p))
    return b.mul(out, b.sub(dx, mean))


def _softmax_vjp(b: Ops, p: Params, out, g, x) -> tuple:
    mean = b.apply("sum", b.mul(g, out), **_keep(p))
    return (b.mul(out, b.sub(g, mean)),)


def _log_softmax_jvp(b: Ops, p: Params, out, x, dx) -> Value:
    if dx is None:
        return None
    return b.sub(dx, b.apply("sum", b.mul(b.exp(out), dx), **_keep(p)))


def _log_softmax_vjp(b: Ops, p: Params, out, g, x) -> tuple:
    g = b.like(g, out)
    return (b.sub(g, b.mul(b.exp(out), b.apply("sum", g, **_keep(p)))),)


def _scipy_axis(name: str, jvp, vjp) -> Primitive:
    """``scipy.special.<name>(x, axis=...)``: softmax and log_softmax."""

    def evaluate(x, axis=None):
        return getattr(scipy_module("scipy.special"), name)(x, axis=axis)

    return Primitive(
        name,
        1,
        evaluate,
        names=(f"scipy.special.{name}",),
        call="own",  # (frontend/lower_reductions.py)
        shape=lambda p, x, loc=None: x,
        render=_render(f"scipy.special.{name}", "axis"),
        render_module="scipy.special",
        memory="copy",
        shaped_like=0,
        batch=_reduction_batch,
        jvp=jvp,
        vjp=vjp,
        samples=((((4,),), {}), (((3, 4),), {"axis": 1}), (((3, 4),), {})),
        convention="smooth everywhere",
    )


_TIES = "ties share: the k tied extremes each get 1/k of the derivative (JAX's choice)"

register(
    _moment(
        "var",
        numpy.var,
        _var_jvp,
        _var_vjp,
        "smooth everywhere",
    ),
    _moment(
        "std",
        numpy.std,
        _std_jvp,
        _std_vjp,
        "NaN where the slice is constant (std 0: 0/0, as JAX's √var gives)",
    ),
    Primitive(
        "average",
        -1,
        _average,
        names=("numpy.average",),
        call="own",
        shape=lambda p, x, *w, loc=None: _reduce_shape(p, x, loc),
        render=_render_average,
        memory="copy",
        batch=_average_batch,
        jvp=_average_jvp,
        vjp=_average_vjp,
        samples=(
            (((3, 4),), {"axis": 0}),
            (((3, 4), (3, 4)), {}),
            (((3, 4), (3, 4)), {"axis": 1}),
            (((3, 4), (4,)), {"axis": 1}),
            (((3, 4), (3,)), {"axis": 0, "keepdims": True}),
        ),
        convention="smooth where the weights' sum is not 0",
    ),
    _scan(
        "cumsum",
        numpy.cumsum,
        **linear_rules("cumsum", _cumsum_transpose),
        convention="linear: smooth everywhere",
    ),
    _scan(
        "cumprod",
        numpy.cumprod,
        jvp=_cumprod_jvp,
        vjp=_cumprod_vjp,
        convention="smooth everywhere; exact at zeros (never divides by one); "
        "second derivatives exact where a slice has at most one zero",
    ),
    linear(
        "diff",
        1,
        _diff,
        names=("numpy.diff",),
        np_name="np.diff",
        call="reduction",
        static=("n", "axis"),
        shape=_diff_shape,
        render=_render_diff,
        memory="copy",
        batch=_diff_batch,
        transpose=_diff_transpose,
        samples=(
            (((5,),), {}),
            (((3, 4),), {"axis": 0}),
            (((3, 5),), {"n": 2}),
            (((4,),), {"padded": True}),
        ),
        convention="linear: smooth everywhere",
    ),
    Primitive(
        "ptp",
        1,
        lambda x, axis=None, keepdims=False, method=False: numpy.ptp(
            x, axis=axis, keepdims=keepdims
        ),
        names=("numpy.ptp",),
        np_name="np.ptp",
        call="reduction",
        static=("axis", "keepdims"),
        shape=_reduce_shape,
        render=_render("np.ptp", "axis", "keepdims"),
        memory="copy",
        batch=_reduction_batch,
        jvp=_ptp_jvp,
        vjp=_ptp_vjp,
        samples=_AXES,
        convention="max − min: " + _TIES,
    ),
    linear(
        "trace",
        1,
        lambda x, offset=0, axis1=0, axis2=1, method=False: numpy.trace(
            x, offset, axis1, axis2
        ),
        names=("numpy.trace", "ndarray.trace"),
        np_name="np.trace",
        call="reduction",
        static=("offset", "axis1", "axis2"),
        shape=_trace_shape,
        render=_render_trace,
        memory="copy",
        batch=_trace_batch,
        transpose=_trace_transpose,
        samples=(
            (((3, 3),), {}),
            (((3, 4),), {"offset": 1}),
            (((2, 3, 4),), {"axis1": 2, "axis2": 0, "offset": -1}),
        ),
        convention="linear: smooth everywhere",
    ),
    Primitive(
        "norm",
        1,
        lambda x, ord=None, axis=None, keepdims=False: numpy.linalg.norm(
            x, ord, axis, keepdims
        ),
        names=("numpy.linalg.norm",),
        call="own",
        shape=_norm_shape,
        render=_render_norm,
        memory="copy",
        batch=_norm_batch,
        jvp=lambda b, p, out, x, dx: (
            None
            if dx is None
            else b.apply("sum", b.mul(_norm_slope(b, p, out, x), dx), **_out(p))
        ),
        vjp=lambda b, p, out, g, x: (
            b.mul(_norm_slope(b, p, out, x), expanded(b, p, g)),
        ),
        samples=(
            (((4,),), {}),
            (((3, 4),), {}),
            (((3, 4),), {"ord": "fro"}),
            (((3, 4),), {"axis": 1, "keepdims": True}),
            (((3, 4),), {"axis": (0, 1)}),
            (((4,),), {"ord": 1}),
            (((3, 4),), {"ord": 1, "axis": 0}),
            (((4,),), {"ord": 2}),
            (((4,),), {"ord": math.inf}),
            (((3, 4),), {"ord": -math.inf, "axis": 1}),
        ),
        convention="2-norm and 'fro': NaN at 0 (JAX's); ord=1: the slope of |x| "
        "at 0 is +1 (JAX's); ord=±inf: " + _TIES,
    ),
    Primitive(
        "logsumexp",
        -1,
        _logsumexp,
        names=("scipy.special.logsumexp",),
        call="own",
        shape=lambda p, a, *w, loc=None: _reduce_shape(
            p, a if not w else shapes.broadcast(a, *w), loc
        ),
        render=_render_logsumexp,
        render_module="scipy.special",
        memory="copy",
        batch=_logsumexp_batch,
        jvp=_logsumexp_jvp,
        vjp=_logsumexp_vjp,
        samples=(
            (((4,),), {}),
            (((3, 4),), {"axis": 1}),
            (((3, 4),), {"axis": 0, "keepdims": True}),
            (((3, 4), (3, 4)), {"axis": 1}),
            (((3, 4), (4,)), {}),
        ),
        convention="smooth where Σ b e^a > 0 (computed stably: e^(a − max))",
    ),
    _scipy_axis("softmax", _softmax_jvp, _softmax_vjp),
    _scipy_axis("log_softmax", _log_softmax_jvp, _log_softmax_vjp),
)
