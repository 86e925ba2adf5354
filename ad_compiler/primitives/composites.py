"""Composite rows: NumPy functions whose derivatives are those of a composition.

``np.hstack``, ``np.cross``, ``np.kron`` ... depend on their operands' ranks
(``hstack`` joins vectors end to end but matrices side by side), which the
front end does not know: the API lowers a function once and learns the shapes
per call.  Each is one row spelled as NumPy's own call (``np.cross(a, b)``) and
evaluated by NumPy, declared by ``expand(b, p, *ins)``: the same function
written with other rows, given the ranks (``b.rank``).  Its rules run that
expansion where the shapes are known:

* tangent: the expansion is replayed forward through its rows' tangent rules
  (ẏ of ``np.cross(a, b)`` is the cross product's components' product rule);
* adjoint: the expansion is recorded, then walked backwards through its rows'
  adjoint rules, each intermediate adjoint summed (a small reverse sweep);
* shape: the expansion run on abstract shapes.

* vector mode: the expansion written with each row's own vector-mode rule
  (:meth:`~ad_compiler.primitives.registry.Batching.apply`).

So a composite's first and higher derivatives are exactly those of its
expansion, which the registry test checks against central differences of
NumPy's function.  Its derivatives never contain the composite row itself:
the emitted primal reads ``np.cross(a, b)``, the derivative code the rows of
its expansion (``a[..., 1] * b[..., 2] - ...``).
"""

from __future__ import annotations

from typing import Callable

import numpy

from ad_compiler.errors import CompileError
from ad_compiler.ir import shapes
from ad_compiler.primitives.arrays import along, keywords
from ad_compiler.primitives.registry import (
    PREC_ATOM,
    REGISTRY,
    Batching,
    Equation,
    Ops,
    Params,
    Primitive,
    Value,
    halves,
    register,
)

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _Unknown(Exception):
    """A rank the expansion needs is not known (yet): the shape is unknown."""


class _Recording:
    """The ops ``b``, with every application recorded (the expansion's tape)."""

    def __init__(self, b: Ops):
        self.b = b
        self.tape: list = []
        self.loc = getattr(b, "loc", None)

    def apply(self, prim: str, *ins: Value, **params) -> Value:
        out = self.b.apply(prim, *ins, **params)
        self.tape.append((prim, out, ins, params))
        return out

    def lit(self, value):
        return self.b.lit(value)

    def shape(self, x):
        return self.b.shape(x)

    def rank(self, x):
        return self.b.rank(x)

    def add(self, x, y):
        return self.apply("add", x, y)

    def sub(self, x, y):
        return self.apply("sub", x, y)

    def mul(self, x, y):
        return self.apply("mul", x, y)


class _Shapes:
    """Ops on abstract shapes: each value is its shape (the shape rule)."""

    loc = None

    def apply(self, prim: str, *ins, **params):
        row = REGISTRY[prim]
        ins = tuple(s if isinstance(s, (tuple, str)) or s is None else () for s in ins)
        if row.shape is None:
            return shapes.broadcast(*ins)
        return row.shape(params, *ins, loc=None)

    def lit(self, value):
        return shapes.SCALAR

    def shape(self, x):
        return x

    def rank(self, x):
        return None if x is None or x == shapes.TUPLE else len(x)

    def add(self, x, y):
        return self.apply("add", x, y)

    sub = mul = add


def rank_of(b, x, what: str) -> int:
    """``x``'s number of axes, which ``what`` needs (an error if unknown)."""
    r = b.rank(x)
    if r is None:
        if isinstance(b, _Shapes):
            raise _Unknown
        raise CompileError(
            f"`{what}` needs to know how many axes its operands have",
            b.loc,
            hint="give the shapes of the array parameters, as in "
            "`adc compile --shape x=n,3` (the API knows them from the call)",
        )
    return r


def composite(
    name: str,
    arity: int,
    evaluate: Callable,
    expand: Callable,
    *,
    render: Callable,
    memory: str = "new",
    **fields,
) -> Primitive:
    """A row spelled and evaluated as NumPy's ``name``, differentiated as
    ``expand(b, p, *ins)`` (see the module docstring).  ``memory``: "view"
    where NumPy's function may return a view of its input (moveaxis ...)."""

    def shape(p, *ins, loc=None):
        ops = _Shapes()
        ops.loc = loc  # (an error the expansion raises points at the call)
        try:
            return expand(ops, p, *ins)
        except _Unknown:
            return None

    def jvp(b: Ops, p: Params, out: Value, *args: Value) -> Value:
        ins, dins = halves(args)
        rec = _Recording(b)
        y = expand(rec, p, *ins)
        tangent = {id(x): d for x, d in zip(ins, dins) if d is not None}
        for prim, o, xs, params in rec.tape:
            ds = [tangent.get(id(x)) for x in xs]
            if any(d is not None for d in ds):
                row = REGISTRY[prim]
                if not row.elementwise:  # (as ad.rules.tangent: at full shape)
                    ds = [b.like(d, x) for d, x in zip(ds, xs)]
                assert row.jvp is not None  # (every differentiable row has one)
                d = row.jvp(b, params, o, *xs, *ds)
                if d is not None:
                    tangent[id(o)] = d
        return tangent.get(id(y))

    def vjp(b: Ops, p: Params, out: Value, g: Value, *ins: Value) -> tuple:
        rec = _Recording(b)
        y = expand(rec, p, *ins)
        adjoint = {id(y): g}
        for prim, o, xs, params in reversed(rec.tape):
            go = adjoint.pop(id(o), None)
            if go is None:
                continue
            if o is y:  # the composite's own output: no recomputation to shape by
                o = out
            for x, c in zip(xs, _adjoints(b, prim, params, o, go, xs)):
                if c is not None and not isinstance(x, int):  # (a literal index)
                    adjoint[id(x)] = b.add(adjoint.get(id(x)), c)
        seen: set = set()
        cts = []
        for x in ins:  # an operand given twice (cross(a, a)) gets its adjoint once
            cts.append(None if id(x) in seen else adjoint.get(id(x)))
            seen.add(id(x))
        return tuple(cts)

    return Primitive(
        name,
        arity,
        evaluate,
        call="own",
        shape=shape,
        render=render,
        memory=memory,
        jvp=jvp,
        vjp=vjp,
        batch=_batch_by(expand),
        **fields,
    )


def _adjoints(b: Ops, prim: str, params, out, g, xs) -> tuple:
    """As :func:`ad_compiler.ad.rules.adjoints`: each contribution shaped like
    its input (an elementwise row's summed back over the axes it stretched)."""
    row = REGISTRY[prim]
    assert row.vjp is not None  # (every differentiable row has one)
    if not row.elementwise:
        return row.vjp(b, params, out, b.like(g, out), *xs)
    cts = []
    for ct, x in zip(row.vjp(b, params, out, g, *xs), xs):
        sx, so = b.shape(x), b.shape(out)
        if ct is not None and not (
            sx == so and so is not None and shapes.ANY not in so
        ):
            ct = b.sum_to(b.like(ct, out), x)
        cts.append(ct)
    return tuple(cts)


class _InBatch:
    """Ops writing an expansion in vector mode: each row through its own rule."""

    def __init__(self, bt: Batching):
        self.bt, self.loc = bt, bt.loc

    def apply(self, prim: str, *ins, **params):
        return self.bt.apply(prim, *ins, **params)

    def lit(self, value):
        return value

    def shape(self, x):
        return self.bt.env.get(x.name) if hasattr(x, "name") else shapes.SCALAR

    def rank(self, x):
        return self.bt.rank(x) if hasattr(x, "name") else 0

    def add(self, x, y):
        return self.apply("add", x, y, ns="py")

    def sub(self, x, y):
        return self.apply("sub", x, y, ns="py")

    def mul(self, x, y):
        return self.apply("mul", x, y, ns="py")


def _batch_by(expand: Callable):
    """Vector mode of a composite: its expansion, each row batched by its rule."""

    def rule(bt: Batching, e: Equation, p: Params, *ins: Value) -> None:
        bt.alias[e.outs[0].name] = expand(_InBatch(bt), p, *ins)

    return rule


def _np_call(name: str, *keys: str, joined=False):
    """``np.<name>(a, b, key=value ...)``; ``joined``: of one tuple ``(a, b)``."""

    def render(params, texts, atoms):
        args = ", ".join(texts)
        if joined:  # (black would spread `(x, y,)` over lines)
            args = f"({args},)" if len(texts) == 1 else f"({args})"
        return f"np.{name}({args}{keywords(params, *keys)})", PREC_ATOM

    return render


# --- the expansions ------------------------------------------------------------------------
_NEW_AXES: dict[int, dict[int, tuple[int, ...]]] = {
    1: {0: (0,)},
    2: {0: (0, 1), 1: (0,)},
    3: {0: (0, 1, 2), 1: (0, 2), 2: (2,)},
}


def at_least(b, x, n: int, what: str):
    """``np.atleast_<n>d(x)``: length-1 axes added where NumPy adds them."""
    r = rank_of(b, x, what)
    if r >= n:
        return x
    new = _NEW_AXES[n][r]
    return b.apply("expand_dims", x, axis=new[0] if len(new) == 1 else new)


def leading_ones(b, x, count: int):
    """``x`` with ``count`` length-1 axes in front."""
    if count <= 0:
        return x
    axes = tuple(range(count))
    return b.apply("expand_dims", x, axis=axes[0] if count == 1 else axes)


def _stacker(name: str, n: int, axis: int, columns=False):
    what = f"np.{name}"

    def expand(b, p, *xs):
        if columns:  # column_stack: vectors become columns
            xs = tuple(
                (
                    b.apply("expand_dims", at_least(b, x, 1, what), axis=1)
                    if rank_of(b, x, what) < 2
                    else x
                )
                for x in xs
            )
        xs = tuple(at_least(b, x, n, what) for x in xs)
        joined = 0 if n == 1 and all(b.rank(x) == 1 for x in xs) else axis
        return b.apply("concatenate", *xs, axis=joined)

    return expand


def _flip_all(b, p, x):
    r = rank_of(b, x, "np.flip")
    return b.apply("getitem", x, *([-1] * r), index=(("s", False, False, True),) * r)


def _transposed(order_of, what: str):
    def expand(b, p, x):
        r = rank_of(b, x, what)
        return b.apply("transpose", x, axes=tuple(order_of(p, r)))

    return expand


def _normal(axis: int, r: int) -> int:
    if not -max(r, 1) <= axis < max(r, 1):
        raise CompileError(f"axis {axis} is out of range for {r} axes", None)
    return axis % max(r, 1)


def _moved(p, r):
    source = [_normal(a, r) for a in p["source"]]
    destination = [_normal(a, r) for a in p["destination"]]
    order = [a for a in range(r) if a not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return order


def _swapped(p, r):
    order = list(range(r))
    i, j = _normal(p["axis1"], r), _normal(p["axis2"], r)
    order[i], order[j] = j, i
    return order


def _length(b, x, axis: int):
    """``x.shape[axis]``, read when the function runs."""
    return b.apply("getitem", b.apply("shape", x), axis, index=("a",))


def _arange(b, n):
    return b.apply("construct", n, fn="arange", args=(("", -1),))


def _diagonal(b, x, offset: int, what: str):
    """``x[i, i + offset]`` for every ``i`` where both are in range (2-D ``x``)."""
    if rank_of(b, x, what) != 2:
        raise CompileError(
            f"`{what}` is supported for a matrix (2 axes) here",
            b.loc,
            hint="take each matrix's diagonal in a loop",
        )
    s0, s1 = max(-offset, 0), max(offset, 0)
    rows, cols = _length(b, x, 0), _length(b, x, 1)
    count = b.apply("min", b.sub(rows, s0), b.sub(cols, s1))
    i = _arange(b, b.apply("max", count, 0))
    picked = b.apply(
        "getitem",
        x,
        b.add(i, s0) if s0 else i,
        b.add(i, s1) if s1 else i,
        index=("a", "a"),
    )
    return b.apply("reshape", picked, -1)  # (a vector: so its rank is known)


def _diag(b, p, v):
    k = p.get("k", 0)
    if rank_of(b, v, "np.diag") != 1:
        return _diagonal(b, v, k, "np.diag")
    # the vector written onto the k-th diagonal of a square of zeros, flat:
    # element t goes to row t + s0, column t + s1
    n = b.apply("len", v)
    side = b.add(n, abs(k)) if k else n
    flat = b.apply("construct", b.mul(side, side), fn="zeros", args=(("", -1),))
    t = _arange(b, n)
    s0, s1 = max(-k, 0), max(k, 0)
    at = b.add(b.mul(b.add(t, s0) if s0 else t, side), t)
    at = b.add(at, s1) if s1 else at
    written = b.apply("setitem", flat, v, at, index=("a",))
    return b.apply("reshape", written, side, side)


def _cross(b, p, x, y):
    axis = p.get("axis", -1)
    (a0, a1, a2), (b0, b1, b2) = (
        [b.apply("getitem", v, i, index=along(axis, "a")) for i in range(3)]
        for v in (x, y)
    )
    c0 = b.sub(b.mul(a1, b2), b.mul(a2, b1))
    c1 = b.sub(b.mul(a2, b0), b.mul(a0, b2))
    c2 = b.sub(b.mul(a0, b1), b.mul(a1, b0))
    return b.apply("stack", c0, c1, c2, axis=axis)


def _inner(b, p, x, y):
    ra, rb = rank_of(b, x, "np.inner"), rank_of(b, y, "np.inner")
    if ra == 0 or rb == 0:
        return b.mul(x, y)
    a, c = _LETTERS[: ra - 1], _LETTERS[ra - 1 : ra + rb - 2]
    return contract(b, f"{a}Z,{c}Z->{a}{c}", [x, y])


def _tensordot(b, p, x, y):
    ra, rb = rank_of(b, x, "np.tensordot"), rank_of(b, y, "np.tensordot")
    axes = p.get("axes", 2)
    if isinstance(axes, int):
        pairs = list(zip(range(ra - axes, ra), range(axes)))
    else:
        left, right = ((v,) if isinstance(v, int) else v for v in axes)
        pairs = list(zip(left, right))
    a, c = list(_LETTERS[:ra]), list(_LETTERS[ra : ra + rb])
    for i, j in pairs:
        c[_normal(j, rb)] = a[_normal(i, ra)]
    summed = {a[_normal(i, ra)] for i, _ in pairs}
    out = [ch for ch in a + c if ch not in summed]
    return contract(b, f"{''.join(a)},{''.join(c)}->{''.join(out)}", [x, y])


def _kron(b, p, x, y):
    ra, rb = rank_of(b, x, "np.kron"), rank_of(b, y, "np.kron")
    r = max(ra, rb, 1)
    x, y = leading_ones(b, x, r - ra), leading_ones(b, y, r - rb)
    a, c = _LETTERS[:r], _LETTERS[r : 2 * r]
    blocks = contract(b, f"{a},{c}->{''.join(i + j for i, j in zip(a, c))}", [x, y])
    sizes = [b.mul(_length(b, x, i), _length(b, y, i)) for i in range(r - 1)]
    return b.apply("reshape", blocks, *sizes, -1)


def _tile(b, p, x):
    reps = p["reps"]
    r = rank_of(b, x, "np.tile")
    x = leading_ones(b, x, len(reps) - r)  # NumPy's promotion, made explicit
    return b.apply("tile", x, reps=(1,) * (r - len(reps)) + tuple(reps))


def _einsum(b, p, *xs):
    return contract(b, p["spec"], list(xs), p.get("optimize") or False)


# --- einsum: normalised, then the two-operand row or einsum_n -----------------------------
def normalized_einsum(spec: str, ranks: list, loc=None) -> tuple[list[str], str]:
    """An einsum spec with ``...`` replaced by letters (right-aligned, as NumPy
    broadcasts) and its output made explicit (NumPy's implicit output: the
    ``...`` axes, then the letters used once, in alphabetical order).  ``ranks``:
    the operands' numbers of axes (None: unknown; needed only with ``...``)."""

    def error(why):
        # (the spec reaches emitted code as a string literal: letters only)
        raise CompileError(f"einsum {spec!r} is not supported", loc, hint=why)

    spec = spec.replace(" ", "")
    ins, arrow, out = spec.partition("->")
    parts = ins.split(",")
    if len(parts) != len(ranks):
        error(f"it names {len(parts)} operands, and {len(ranks)} are given")
    bare = [p.replace("...", "", 1) for p in parts + [out]]
    if not all(set(p) <= set(_LETTERS) for p in bare):
        error(
            "use ASCII letters, commas, one `->` and at most one `...` an operand, "
            "like 'ij,jk->ik'"
        )
    spare = [ch for ch in _LETTERS if ch not in spec]
    lengths = []
    for part, r in zip(parts, ranks):
        if "..." in part and r is None:
            raise _Unknown
        lengths.append(r - len(part) + 3 if "..." in part else 0)
    if min(lengths, default=0) < 0:
        error("an operand has fewer axes than letters")
    dots = "".join(spare[: max(lengths, default=0)])
    parts = [
        part.replace("...", dots[len(dots) - n :] if n else "")
        for part, n in zip(parts, lengths)
    ]
    if arrow:
        out = out.replace("...", dots)
    else:
        letters = "".join(parts)
        once = sorted(ch for ch in set(letters) - set(dots) if letters.count(ch) == 1)
        out = dots + "".join(once)
    for part, r in zip(parts, ranks):
        if r is not None and len(part) != r:
            error(f"an operand has {r} axes, and {len(part)} letters")
    if len(set(out)) != len(out) or not set(out) <= set("".join(parts)):
        error("each output letter must appear once, and in an operand")
    return parts, out


def _diagonals(b, x, letters: str):
    """``x`` with each repeated letter (``'ii'``: a diagonal) read once: x
    times the identity on those two axes, summed over the second, so that
    every operand's letters are distinct (its adjoint is then an einsum)."""
    while len(set(letters)) != len(letters):
        ch = next(c for c in letters if letters.count(c) > 1)
        i = letters.index(ch)
        j = letters.index(ch, i + 1)
        n = b.apply("getitem", b.apply("shape", x), i, index=("a",))
        eye = b.apply("construct", n, fn="eye", args=(("", -1),))
        others = tuple(a for a in range(len(letters)) if a not in (i, j))
        if others:  # the identity's axes at i and j, length 1 elsewhere
            axis = others[0] if len(others) == 1 else others
            eye = b.apply("expand_dims", eye, axis=axis)
        x = b.apply("sum", b.mul(x, eye), axis=j)
        letters = letters[:j] + letters[j + 1 :]
    return x, letters


def contract(b, spec: str, xs: list, optimize=False):
    """The einsum of ``xs`` by ``spec``: normalised, the letters one operand
    alone has (and the output not) summed out of it first, so that each
    operand's adjoint is an einsum of the others; then the two-operand row
    ``einsum`` or ``einsum_n`` (which keeps ``optimize``: the sizes, and so the
    best order of the pairwise contractions, are known only when it runs)."""
    ranks = [b.rank(x) for x in xs]
    parts, out = normalized_einsum(spec, ranks, b.loc)
    xs = list(xs)
    for k, letters in enumerate(parts):
        xs[k], parts[k] = _diagonals(b, xs[k], letters)
    for k, letters in enumerate(parts):
        others = set(out).union(*(parts[:k] + parts[k + 1 :]))
        alone = [i for i, ch in enumerate(letters) if ch not in others]
        if alone:
            xs[k] = b.apply(
                "sum", xs[k], axis=alone[0] if len(alone) == 1 else tuple(alone)
            )
            parts[k] = "".join(ch for ch in letters if ch in others)
    if len(xs) == 1 and parts[0] == out:
        return xs[0]
    spec = ",".join(parts) + "->" + out
    if len(xs) == 2 and not optimize:
        return b.apply("einsum", *xs, spec=spec)
    return b.apply("einsum_n", *xs, spec=spec, optimize=optimize)


def _np_fn(name: str):
    fn = getattr(numpy, name)
    return lambda *xs, **kw: fn(*xs, **kw)


_STACK_SAMPLES: dict = {
    "hstack": ((((3,), (2,)), {}), (((2, 3), (2, 1)), {})),
    "vstack": ((((3,), (3,)), {}), (((2, 3), (1, 3)), {})),
    "dstack": ((((3,), (3,)), {}), (((2, 3), (2, 3)), {})),
    "column_stack": ((((3,), (3,)), {}), (((3, 2), (3,)), {})),
}


def _stacking(name: str, n: int, axis: int, **kw) -> Primitive:
    fn = getattr(numpy, name)
    return composite(
        name,
        -1,
        lambda *xs: fn(xs),
        _stacker(name, n, axis, **kw),
        names=(f"numpy.{name}",),
        render=_np_call(name, joined=True),
        samples=_STACK_SAMPLES[name],
        convention="linear: smooth everywhere",
    )


def _atleast(n: int) -> Primitive:
    name = f"atleast_{n}d"
    return composite(
        name,
        1,
        _np_fn(name),
        lambda b, p, x: at_least(b, x, n, f"np.{name}"),
        names=(f"numpy.{name}",),
        render=_np_call(name),
        memory="view",
        samples=((((3,),), {}), (((2, 3),), {})),
        convention="linear: smooth everywhere",
    )


register(
    _stacking("hstack", 1, 1),
    _stacking("vstack", 2, 0),
    _stacking("dstack", 3, 2),
    _stacking("column_stack", 2, 1, columns=True),
    _atleast(1),
    _atleast(2),
    _atleast(3),
    composite(
        "flip_all",
        1,
        numpy.flip,
        _flip_all,
        render=_np_call("flip"),
        samples=((((2, 3),), {}),),
        memory="view",
        convention="linear: smooth everywhere",
    ),
    composite(
        "moveaxis",
        1,
        lambda x, source, destination: numpy.moveaxis(x, source, destination),
        _transposed(_moved, "np.moveaxis"),
        names=("numpy.moveaxis",),
        render=lambda p, t, a: (
            f"np.moveaxis({t[0]}, {p['source']!r}, {p['destination']!r})",
            PREC_ATOM,
        ),
        samples=((((2, 3, 4),), {"source": (0,), "destination": (-1,)}),),
        memory="view",
        convention="linear: smooth everywhere",
    ),
    composite(
        "swapaxes",
        1,
        lambda x, axis1, axis2: numpy.swapaxes(x, axis1, axis2),
        _transposed(_swapped, "np.swapaxes"),
        names=("numpy.swapaxes",),
        render=lambda p, t, a: (
            f"np.swapaxes({t[0]}, {p['axis1']!r}, {p['axis2']!r})",
            PREC_ATOM,
        ),
        samples=((((2, 3, 4),), {"axis1": 0, "axis2": 2}),),
        memory="view",
        convention="linear: smooth everywhere",
    ),
    composite(
        "diag",
        1,
        lambda v, k=0: numpy.diag(v, k),
        _diag,
        names=("numpy.diag",),
        render=_np_call("diag", "k"),
        samples=((((3,),), {}), (((3,),), {"k": 1}), (((3, 4),), {"k": -1})),
        memory="view",
        convention="linear: smooth everywhere",
    ),
    composite(
        "diagonal",
        1,
        lambda x, offset=0: numpy.diagonal(x, offset),
        lambda b, p, x: _diagonal(b, x, p.get("offset", 0), "np.diagonal"),
        names=("numpy.diagonal",),
        render=_np_call("diagonal", "offset"),
        samples=((((3, 4),), {}), (((4, 3),), {"offset": 1})),
        memory="view",
        convention="linear: smooth everywhere",
    ),
    composite(
        "cross",
        2,
        lambda a, c, axis=-1: numpy.cross(a, c, axis=axis),
        _cross,
        names=("numpy.cross",),
        render=lambda p, t, a: (
            (
                f"np.cross({t[0]}, {t[1]}{keywords({'axis': p.get('axis')}, 'axis')})"
                if p.get("axis", -1) != -1
                else f"np.cross({t[0]}, {t[1]})"
            ),
            PREC_ATOM,
        ),
        samples=(
            (((3,), (3,)), {}),
            (((4, 3), (3,)), {}),
            (((3, 2), (3, 2)), {"axis": 0}),
        ),
        convention="bilinear: smooth everywhere",
    ),
    composite(
        "inner",
        2,
        numpy.inner,
        _inner,
        names=("numpy.inner",),
        render=_np_call("inner"),
        samples=((((3,), (3,)), {}), (((2, 3), (4, 3)), {})),
        convention="bilinear: smooth everywhere",
    ),
    composite(
        "tensordot",
        2,
        lambda a, c, axes=2: numpy.tensordot(a, c, axes),
        _tensordot,
        names=("numpy.tensordot",),
        render=_np_call("tensordot", "axes"),
        samples=((((2, 3), (2, 3)), {}), (((2, 3), (3, 4)), {"axes": 1})),
        convention="bilinear: smooth everywhere",
    ),
    composite(
        "kron",
        2,
        numpy.kron,
        _kron,
        names=("numpy.kron",),
        render=_np_call("kron"),
        samples=((((2, 3), (2, 2)), {}), (((3,), (2,)), {})),
        convention="bilinear: smooth everywhere",
    ),
    composite(
        "tile_any",
        1,
        lambda x, reps: numpy.tile(x, reps),
        _tile,
        names=("numpy.tile",),
        render=lambda p, t, a: (f"np.tile({t[0]}, {p['reps']!r})", PREC_ATOM),
        samples=((((3,),), {"reps": (2, 2)}), (((2, 3),), {"reps": (2,)})),
        convention="linear: smooth everywhere",
    ),
    composite(
        "einsum_any",
        -1,
        lambda *xs, spec, optimize=False: numpy.einsum(spec, *xs, optimize=optimize),
        _einsum,
        render=lambda p, t, a: (
            f"np.einsum({p['spec']!r}, {', '.join(t)}"
            + (f", optimize={p['optimize']!r})" if p.get("optimize") else ")"),
            PREC_ATOM,
        ),
        samples=(
            (((2, 3), (3, 4)), {"spec": "...j,jk"}),
            (((2, 3, 4), (4,)), {"spec": "...k,k->...", "optimize": True}),
            (((2, 3, 3),), {"spec": "...ii->...i"}),
        ),
        memory="view",
        convention="multilinear: smooth everywhere",
    ),
)


# Rows whose value derivative code computes from their expansion: NumPy's
# np.cross costs ~15-20 µs a call (its axis handling is Python), its expansion
# on 3-vectors a few, and forward mode computes the expansion's components for
# the tangent anyway (ad/forward.py).  The products are NumPy's own
# (a1 b2 - a2 b1 ...), so the value is the same.
PRIMAL_BY_EXPANSION: dict[str, Callable] = {"cross": _cross}
