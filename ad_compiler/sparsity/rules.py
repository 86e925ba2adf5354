"""Per-primitive sparsity rules: which input elements each output element depends on.

A dependency matrix ``D`` of a value is a boolean ``scipy.sparse`` CSR matrix
with one row per element of the value (flattened in C order) and one column
per differentiated input element: ``D[k, j]`` is true when element ``k`` may
depend on input element ``j``.  A rule gets the equation, the abstract inputs
(:class:`Abstract`: shape, ``dep``, value if known) and the output's shape, and returns one *contribution* per input that
carries a dependency: ``P_k = M_k @ D_k``, the rows of the output element
that operand ``k`` reaches.  The output's pattern is their union; the Hessian
pattern uses them separately (cross terms of a product, see
:func:`curvature`).

**Why a table here and not a field of the registry row.**  The rules fall
into a handful of families (elementwise with broadcasting, gathers, axis
reductions and scans, einsum-like contractions), each needing only the row's
name and params; a registry field would mean editing every row module for a
one-word entry, and the families are easier to read side by side.  What the
row already says is used: ``elementwise`` (the broadcast rule), ``jvp is
zero_jvp`` / ``differentiable`` (no dependency), ``evaluate`` (a gather's
rule is the row evaluated on element ids).  ``RULES`` maps the other rows to a
family; a row in neither is **dense**: every output element depends on every
element of every operand (never silently sparse), listed in ``DENSE`` and
named by ``Pattern.how``.  ``tests/test_sparsity_patterns.py`` checks that
every row is classified and that each row's samples (the registry's) give a
pattern holding their finite-difference Jacobian.

**Gathers** (indexing, reshapes, stacking, padding, ``a[i] = v`` ...): each
output element is a copy of at most one input element.  The row is evaluated
on arrays of element ids (``1 … size``, offset per operand, ``0`` for "no
input", i.e. zeros and constants) and the output's ids *are* the gather map:
exact, vectorised, and right for every index NumPy accepts, basic or
advanced.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

import numpy
import scipy.sparse as sp

from ad_compiler.primitives.composites import normalized_einsum
from ad_compiler.primitives.registry import zero_jvp
from ad_compiler.primitives.table import PRIMITIVES


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()  # a value not known without the differentiated inputs


@dataclass
class Abstract:
    """What the interpreter knows of a value: its concrete ``shape``, its
    dependency matrix ``dep`` (None: depends on no differentiated input) and
    its ``value`` where that is known (:data:`UNKNOWN` otherwise)."""

    shape: tuple
    dep: Any = None
    value: Any = UNKNOWN


class NeedRuntime(Exception):
    """The structure depends on values only known at a point (an index computed
    from the differentiated inputs, a branch or trip count on them)."""


def empty(rows: int, cols: int) -> sp.csr_matrix:
    return sp.csr_matrix((rows, cols), dtype=bool)


def clean(m) -> sp.csr_matrix:
    """``m`` as a canonical boolean CSR (explicit zeros dropped)."""
    m = sp.csr_matrix(m, dtype=bool)
    m.eliminate_zeros()
    return m


def union(mats: list, rows: int, cols: int) -> sp.csr_matrix:
    mats = [m for m in mats if m is not None]
    if not mats:
        return empty(rows, cols)
    if len(mats) == 1 and mats[0].format == "csr" and mats[0].dtype == bool:
        return mats[0]  # (already canonical: no copy)
    out = mats[0]
    for m in mats[1:]:
        out = out + m
    return clean(out)


def take_rows(dep: sp.csr_matrix, rows_of) -> sp.csr_matrix:
    """The rows ``rows_of[k] - 1`` of ``dep`` (0: an empty row): a gather,
    built directly from the CSR arrays (no matrix product)."""
    rows_of = numpy.asarray(rows_of, dtype=numpy.int64).ravel()
    if dep.shape[0] == 0:  # (nothing to take: every row empty)
        return sp.csr_matrix((rows_of.size, dep.shape[1]), dtype=bool)
    hit = rows_of > 0
    src = numpy.where(hit, rows_of - 1, 0)
    starts = dep.indptr[src]
    lens = numpy.where(hit, dep.indptr[src + 1] - starts, 0)
    indptr = numpy.zeros(rows_of.size + 1, dtype=numpy.int64)
    numpy.cumsum(lens, out=indptr[1:])
    total = int(indptr[-1])
    within = numpy.arange(total, dtype=numpy.int64) - numpy.repeat(indptr[:-1], lens)
    indices = dep.indices[numpy.repeat(starts, lens) + within]
    return sp.csr_matrix(
        (numpy.ones(total, dtype=bool), indices, indptr),
        shape=(rows_of.size, dep.shape[1]),
    )


def ids(shape: tuple, offset: int = 0) -> numpy.ndarray:
    """Element ids ``offset + 1 …`` in an array of ``shape``."""
    n = prod(shape)
    return numpy.arange(offset + 1, offset + n + 1, dtype=numpy.int64).reshape(shape)


def broadcast(dep, shape: tuple, out_shape: tuple):
    """The dependencies of ``x`` (of ``shape``) broadcast to ``out_shape``."""
    if tuple(shape) == tuple(out_shape):
        return dep
    picks = numpy.broadcast_to(ids(shape), out_shape)
    return take_rows(dep, picks)


def reduction_map(shape: tuple, axes) -> tuple[sp.csr_matrix, tuple]:
    """The matrix from ``x`` (of ``shape``) to its reduction over ``axes``
    (``None``: all), and the kept shape (reduced axes of length 1)."""
    rank = len(shape)
    if axes is None:
        axes = tuple(range(rank))
    elif isinstance(axes, int):
        axes = (axes,)
    axes = tuple(a % rank for a in axes) if rank else ()
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    target = numpy.broadcast_to(ids(kept), shape).ravel()
    size = prod(shape)
    m = sp.csr_matrix(
        (numpy.ones(size, dtype=bool), (target - 1, numpy.arange(size))),
        shape=(prod(kept), size),
        dtype=bool,
    )
    return m, kept


# --- the families -------------------------------------------------------------------------


def elementwise(e, ins, out_shape):
    """Each output element depends on the operands' elements broadcast to it;
    a product by a known operand not where that operand is exactly 0."""
    parts = [
        broadcast(a.dep, a.shape, out_shape) if a.dep is not None else None for a in ins
    ]
    if e.prim == "mul":
        for k, a in enumerate(ins):
            other = ins[1 - k]
            if a.dep is not None and other.dep is None and other.value is not UNKNOWN:
                parts[k] = _keep_rows(
                    parts[k], numpy.asarray(other.value) != 0, out_shape
                )
    if e.prim == "select" and ins[0].value is not UNKNOWN:  # a known condition
        taken = numpy.asarray(ins[0].value).astype(bool)
        for k, keep in ((1, taken), (2, ~taken)):
            if parts[k] is not None:
                parts[k] = _keep_rows(parts[k], keep, out_shape)
    return parts


def _keep_rows(dep, keep, out_shape):
    """``dep`` with the rows where ``keep`` (broadcast to ``out_shape``) is false emptied."""
    keep = numpy.broadcast_to(keep, out_shape)
    if keep.all():
        return dep
    rows = numpy.where(keep.ravel(), ids(keep.shape).ravel(), 0)
    return take_rows(dep, rows)


def _gather_inputs(e, ins, data):
    """Arguments for evaluating a gather on ids: data operands as ids (offset by
    operand), the rest their known values."""
    args, offsets, total = [], [], 0
    for i, a in enumerate(ins):
        if i in PRIMITIVES[e.prim].shape_only:
            args.append(numpy.zeros(a.shape))
        elif data == "all" or i in data:
            if a.dep is not None:
                args.append(ids(a.shape, total))
                offsets.append((i, total))
                total += prod(a.shape)
            else:
                args.append(numpy.zeros(a.shape, dtype=numpy.int64))
        else:
            if a.value is UNKNOWN:
                raise NeedRuntime(f"`{e.prim}` at an index computed from the inputs")
            args.append(a.value)
    return args, offsets, total


def gather(data="all"):
    """The rule of a row copying elements of its ``data`` operands (positions or
    ``"all"``): the row evaluated on element ids."""

    def rule(e, ins, out_shape):
        args, offsets, total = _gather_inputs(e, ins, data)
        got = numpy.asarray(PRIMITIVES[e.prim].evaluate(*args, **dict(e.params)))
        got = numpy.rint(got).astype(numpy.int64).ravel()
        out = []
        for i, start in offsets:
            size = prod(ins[i].shape)
            local = numpy.where((got > start) & (got <= start + size), got - start, 0)
            out.append(take_rows(ins[i].dep, local))
        return out

    return rule


def transposed_gather(forward: str, data: int, index, into: int | None = None):
    """The rule of a row adding operand ``data`` into zeros of the output's
    shape at an index (``unindex``, ``untake_along``): the transpose of the
    gather ``forward`` evaluated on the output's ids with the index operands
    (positions ``index``).  ``into``: that operand is added whole when the
    equation's ``into`` param is set."""

    def rule(e, ins, out_shape):
        parts = []
        for i in range(2, len(ins)) if index == "parts" else index:
            if ins[i].value is UNKNOWN:
                raise NeedRuntime(f"`{e.prim}` at an index computed from the inputs")
            parts.append(ins[i].value)
        params = {k: v for k, v in e.params if k in ("index", "axis")}
        where = numpy.asarray(
            PRIMITIVES[forward].evaluate(ids(out_shape), *parts, **params)
        )
        g = ins[data]
        src = numpy.broadcast_to(ids(g.shape), where.shape).ravel()
        where = where.ravel()
        m = sp.csr_matrix(
            (numpy.ones(where.size, dtype=bool), (where - 1, src - 1)),
            shape=(prod(out_shape), prod(g.shape)),
            dtype=bool,
        )
        out = [None] * len(ins)
        out[data] = m @ g.dep
        whole = ins[into] if into is not None else None
        if whole is not None and dict(e.params).get("into") and whole.dep is not None:
            out[into] = broadcast(whole.dep, whole.shape, out_shape)
        return out

    return rule


def reduction(e, ins, out_shape):
    """Each output element depends on the elements reduced into it, of the
    array and of any operand broadcast against it (weights; 1-D weights along
    the axis, as np.average takes them)."""
    x = ins[0]
    axis = dict(e.params).get("axis")
    m, _ = reduction_map(x.shape, axis)
    out = []
    for a in ins:
        if a.dep is None:
            out.append(None)
            continue
        shape = _aligned(a.shape, x.shape, axis)
        if shape is None:
            out.append(dense(e, [a], out_shape)[0])
        else:
            out.append(m @ broadcast(a.dep, shape, x.shape))
    return out


def _aligned(shape, target, axis):
    """``shape`` as it broadcasts against ``target`` (None: it does not)."""
    if isinstance(axis, int) and len(shape) == 1 and len(target) > 1:
        if shape[0] == target[axis]:
            shape = tuple(
                shape[0] if i == axis % len(target) else 1 for i in range(len(target))
            )
    try:
        if numpy.broadcast_shapes(shape, target) == tuple(target):
            return tuple(shape)
    except ValueError:
        pass
    return None


def along_axis(e, ins, out_shape):
    """Each output element depends on the whole line along the axis through it
    (softmax, log_softmax, sort-like rows): reduce, then spread back."""
    x = ins[0]
    axis = dict(e.params).get("axis")  # (None: the whole array, as SciPy's)
    m, _ = reduction_map(x.shape, axis)
    spread = m.T.tocsr() @ (m @ x.dep)
    return [broadcast(clean(spread), x.shape, out_shape)] + [None] * (len(ins) - 1)


def scan(e, ins, out_shape):
    """cumsum/cumprod: element k along the axis depends on elements 0 … k."""
    x = ins[0]
    axis = dict(e.params).get("axis")
    shape = x.shape if axis is not None else (prod(x.shape),)
    axis = 0 if axis is None else axis % len(shape)
    idx = numpy.moveaxis(ids(shape), axis, -1).reshape(-1, shape[axis])
    rows_k, cols_j = numpy.tril_indices(shape[axis])
    rows = idx[:, rows_k].ravel() - 1
    cols = idx[:, cols_j].ravel() - 1
    size = prod(shape)
    t = sp.csr_matrix(
        (numpy.ones(rows.size, dtype=bool), (rows, cols)), shape=(size, size)
    )
    return [clean(t @ x.dep)]


def diff(e, ins, out_shape):
    """np.diff: element k along the axis depends on elements k and k + 1, n
    times over (``padded``: a zero before and after first)."""
    x = ins[0]
    p = dict(e.params)
    n, axis = p.get("n", 1), p.get("axis", -1)
    dep, shape = x.dep, tuple(x.shape)
    if p.get("padded"):
        widths = [(0, 0)] * len(shape)
        widths[axis] = (1, 1)
        padded = numpy.pad(ids(shape), widths)
        dep, shape = take_rows(dep, padded), padded.shape
    for _ in range(n):
        i = ids(shape)
        hi = numpy.take(i, range(1, shape[axis]), axis=axis)
        lo = numpy.take(i, range(0, shape[axis] - 1), axis=axis)
        dep = clean(take_rows(dep, hi) + take_rows(dep, lo))
        shape = hi.shape
    return [dep]


def trace(e, ins, out_shape):
    """np.trace: each output element depends on its diagonal's elements."""
    x = ins[0]
    p = dict(e.params)
    diagonal = numpy.diagonal(
        ids(x.shape), p.get("offset", 0), p.get("axis1", 0), p.get("axis2", 1)
    )
    m, _ = reduction_map(diagonal.shape, -1)
    return [clean(m @ take_rows(x.dep, diagonal))]


def _letters_of(e, ins):
    """Einsum letters for each operand and the output, for the product rows."""
    ranks = [len(a.shape) for a in ins]
    p = dict(e.params)
    name = e.prim
    if name in ("einsum", "einsum_n", "einsum_any"):
        return normalized_einsum(p["spec"], ranks)
    a, b = ranks
    if name == "outer":
        return ["a", "b"], "ab"
    if name == "inner" or (name == "dot" and 0 not in ranks and b == 1):
        left = "ABCDEFG"[: max(a - 1, 0)] + "z"
        right = "HIJKLMN"[: max(b - 1, 0)] + "z"
        return [left, right], left[:-1] + right[:-1]
    if name == "dot" and 0 in ranks:
        left, right = "ABCDEFG"[:a], "ABCDEFG"[:b]
        return [left, right], left if a else right
    if name == "dot":  # dot(a, b)[i, j, k, m] = sum(a[i, j, :] * b[k, :, m])
        left = "ABCDEFG"[: a - 1] + "z"
        right = "HIJKLMN"[: b - 2] + "z" + "y"
        return [left, right], left[:-1] + right[:-2] + "y"
    if name == "matmul":
        batch = "ABCDEFG"[: max(a, b) - 2] if max(a, b) > 2 else ""
        left = (batch[len(batch) - (a - 2) :] if a > 2 else "") + "iz"[-min(a, 2) :]
        right = (batch[len(batch) - (b - 2) :] if b > 2 else "") + "zk"[: min(b, 2)]
        out = batch + ("i" if a >= 2 else "") + ("k" if b >= 2 else "")
        return [left, right], out
    if name == "tensordot":
        axes = p.get("axes", 2)
        if isinstance(axes, int):
            pairs = list(zip(range(a - axes, a), range(axes)))
        else:
            left_ax, right_ax = ((v,) if isinstance(v, int) else v for v in axes)
            pairs = [(i % a, j % b) for i, j in zip(left_ax, right_ax)]
        left = list("ABCDEFGH"[:a])
        right = list("IJKLMNOP"[:b])
        for k, (i, j) in enumerate(pairs):
            left[i] = right[j] = "stuvwxyz"[k]
        summed = {left[i] for i, _ in pairs}
        out = [c for c in left if c not in summed] + [
            c for c in right if c not in summed
        ]
        return ["".join(left), "".join(right)], "".join(out)
    raise KeyError(name)


def contraction_map(letters: str, shape: tuple, out: str, out_shape: tuple):
    """The matrix from an operand (``letters``, ``shape``) to an einsum output
    (``out``, ``out_shape``): output element o meets operand element a when
    they agree on every letter both carry (a letter of length 1 in the operand
    is broadcast: it agrees with every output coordinate)."""
    size = prod(shape)
    coords = numpy.indices(shape).reshape(len(shape), size)  # (0 rows: a number)
    valid = numpy.ones(size, dtype=bool)
    first: dict = {}
    for axis, ch in enumerate(letters):  # a repeated letter: a diagonal
        if ch in first:
            valid &= coords[axis] == coords[first[ch]]
        else:
            first[ch] = axis
    out_len = dict(zip(out, out_shape))
    # a letter of length 1 on one side only is broadcast: it matches anything
    shared = [
        ch
        for ch in out
        if ch in first and (shape[first[ch]] == 1) == (out_len[ch] == 1)
    ]
    dims = tuple(out_len[ch] for ch in shared)
    key_a = numpy.zeros(size, dtype=numpy.int64)
    key_o = numpy.zeros(prod(out_shape), dtype=numpy.int64)
    if shared:
        oc = numpy.indices(out_shape).reshape(len(out_shape), prod(out_shape))
        key_a = numpy.asarray(
            numpy.ravel_multi_index(tuple(coords[first[ch]] for ch in shared), dims)
        )
        key_o = numpy.asarray(
            numpy.ravel_multi_index(tuple(oc[out.index(ch)] for ch in shared), dims)
        )
    nkeys = prod(dims)
    hit = numpy.nonzero(valid)[0]
    r = sp.csr_matrix(
        (numpy.ones(hit.size, dtype=bool), (key_a[hit], hit)), shape=(nkeys, size)
    )
    b = sp.csr_matrix(
        (numpy.ones(key_o.size, dtype=bool), (numpy.arange(key_o.size), key_o)),
        shape=(key_o.size, nkeys),
    )
    return b @ r


KNOWN_LIMIT = 4_000_000  # output x operand elements, for products by known arrays


def _flat_outer(e, ins):
    if e.prim == "outer":  # np.outer ravels its operands
        return [Abstract((prod(a.shape),), a.dep, a.value) for a in ins]
    return ins


def contraction(e, ins, out_shape):
    """A product (matmul, dot, einsum ...): output element o meets the operand
    elements agreeing with it on their shared letters.  With every other
    operand known, only where the known operands are non-zero: the product
    evaluated with a unit tensor for the active operand and the others'
    non-zero masks (no cancellation: the masks are non-negative)."""
    ins = _flat_outer(e, ins)
    letters, out = _letters_of(e, ins)
    active = [k for k, a in enumerate(ins) if a.dep is not None]
    known = all(a.value is not UNKNOWN for k, a in enumerate(ins) if k not in active)
    parts = []
    for s, a in zip(letters, ins):
        if a.dep is None:
            parts.append(None)
            continue
        size = prod(a.shape)
        if len(active) == 1 and known and size * prod(out_shape) <= KNOWN_LIMIT:
            m = _known_contraction(letters, out, ins, active[0], out_shape)
        else:
            m = contraction_map(s, a.shape, out, out_shape)
        parts.append(m @ a.dep)
    return parts


def _known_contraction(letters, out, ins, k, out_shape):
    spare = [
        c
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        if c not in "".join(letters) + out
    ]
    rank = len(ins[k].shape)
    extra = "".join(spare[:rank])
    size = prod(ins[k].shape)
    unit = numpy.eye(size).reshape(tuple(ins[k].shape) * 2)
    ops, specs = [], []
    for j, (s, a) in enumerate(zip(letters, ins)):
        if j == k:
            ops.append(unit)
            specs.append(s + extra)
        else:
            ops.append((numpy.asarray(a.value) != 0).astype(float))
            specs.append(s)
    spec = ",".join(specs) + "->" + out + extra
    got = numpy.einsum(spec, *ops)
    got = numpy.broadcast_to(got, tuple(out_shape) + tuple(ins[k].shape))
    return clean(sp.csr_matrix(got.reshape(prod(out_shape), size) != 0))


def contraction_cross(e, ins, out_shape):
    """The Hessian's cross terms of a product of two active operands: the pairs
    of elements that meet in one term (agree on their common letters), each
    pair's dependencies: ``D_aᵀ C D_b``."""
    ins = _flat_outer(e, ins)
    letters, out = _letters_of(e, ins)
    live = [(s, a) for s, a in zip(letters, ins) if a.dep is not None]
    terms = []
    for i, (sa, a) in enumerate(live):
        for sb, b in live[i + 1 :]:
            if len(set(sb)) != len(sb):  # a diagonal: per output element
                return None
            meet = contraction_map(sa, a.shape, sb, b.shape)  # (b x a)
            terms.append(clean(a.dep.T @ (meet.T @ b.dep)))
    return terms


def kron(e, ins, out_shape):
    a, b = ins
    ones_a = numpy.ones(a.shape, dtype=numpy.int64)
    ones_b = numpy.ones(b.shape, dtype=numpy.int64)
    out = []
    for arg, picks in (
        (a, numpy.kron(ids(a.shape), ones_b)),
        (b, numpy.kron(ones_a, ids(b.shape))),
    ):
        out.append(None if arg.dep is None else take_rows(arg.dep, picks))
    return out


def dense(e, ins, out_shape):
    """No rule: every output element depends on every element of every operand."""
    size = prod(out_shape)
    spread = numpy.ones((size, 1), dtype=bool)
    out = []
    for a in ins:
        if a.dep is None:
            out.append(None)
            continue
        any_row = clean(sp.csr_matrix(a.dep.sum(axis=0) > 0))
        out.append(clean(sp.csr_matrix(spread) @ any_row))
    return out


def last_axis(e, ins, out_shape):
    """cross: each output element depends on the operands' whole last axis
    (along another axis: dense)."""
    if dict(e.params).get("axis", -1) not in (-1, len(ins[0].shape) - 1):
        return dense(e, ins, out_shape)
    out = []
    for a in ins:
        if a.dep is None:
            out.append(None)
            continue
        m, kept = reduction_map(a.shape, -1)
        line = broadcast(clean(m.T.tocsr() @ (m @ a.dep)), a.shape, out_shape)
        out.append(line)
    return out


_GATHERS = {
    "getitem": (0,),
    "setitem": (0, 1),
    "reshape": (0,),
    "transpose": (0,),
    "moveaxis": (0,),
    "swapaxes": (0,),
    "squeeze": (0,),
    "expand_dims": (0,),
    "atleast_1d": (0,),
    "atleast_2d": (0,),
    "atleast_3d": (0,),
    "flip_all": (0,),
    "roll": (0,),
    "broadcast_to": (0,),
    "tile": (0,),
    "tile_any": (0,),
    "repeat": (0,),
    "diag": (0,),
    "diagonal": (0,),
    "tril": (0,),
    "triu": (0,),
    "linalg_tri": (0,),
    "copy": (0,),
    "pad": (0,),
    "take_along_axis": (0,),
    "lead": (0,),
    "like": (0,),
    "concatenate": "all",
    "stack": "all",
    "hstack": "all",
    "vstack": "all",
    "dstack": "all",
    "column_stack": "all",
    "linalg_block": (0,),
    "linalg_blocks": "all",
}

RULES: dict = {name: gather(data) for name, data in _GATHERS.items()}
RULES.update(
    {
        "unindex": transposed_gather("getitem", 1, "parts", into=0),
        "untake_along": transposed_gather("take_along_axis", 2, (1,)),
        "written": gather((0,)),
        "sum": reduction,
        "mean": reduction,
        "prod": reduction,
        "amax": reduction,
        "amin": reduction,
        "ptp": reduction,
        "std": reduction,
        "var": reduction,
        "average": reduction,
        "logsumexp": reduction,
        "norm": reduction,
        "sum_to": None,  # (set below: a reduction to the second operand's shape)
        "softmax": along_axis,
        "log_softmax": along_axis,
        "cumsum": scan,
        "cumprod": scan,
        "diff": diff,
        "trace": trace,
        "matmul": contraction,
        "dot": contraction,
        "inner": contraction,
        "outer": contraction,
        "tensordot": contraction,
        "einsum": contraction,
        "einsum_n": contraction,
        "einsum_any": contraction,
        "kron": kron,
        "cross": last_axis,
    }
)


def _sum_to(e, ins, out_shape):
    """``sum_to(g, x)``: ``g`` summed over the axes it was broadcast along (its
    first ``lead`` axes kept): each element of ``g`` goes to the output element
    it broadcasts from."""
    g = ins[0]
    lead = dict(e.params).get("lead", 0)
    extra = len(g.shape) - len(out_shape)
    target = ids(tuple(out_shape)).reshape(
        tuple(out_shape[:lead]) + (1,) * extra + tuple(out_shape[lead:])
    )
    where = numpy.broadcast_to(target, g.shape).ravel()
    size = prod(g.shape)
    m = sp.csr_matrix(
        (numpy.ones(size, dtype=bool), (where - 1, numpy.arange(size))),
        shape=(prod(out_shape), size),
    )
    return [m @ g.dep, None]


RULES["sum_to"] = _sum_to


# the rows whose value is independent of the operands' values (shapes, sizes ...)
# or that have no derivative: no dependency
def no_dependency(name: str) -> bool:
    row = PRIMITIVES[name]
    return not row.differentiable or row.jvp is zero_jvp


def family(name: str) -> str:
    """How a row's pattern is found: "none", "elementwise", "rule", "dense"."""
    if no_dependency(name):
        return "none"
    if name in RULES:
        return "rule"
    if PRIMITIVES[name].elementwise:
        return "elementwise"
    return "dense"


DENSE = sorted(n for n in PRIMITIVES if family(n) == "dense")


def contributions(e, ins, out_shape):
    """One contribution ``P_k`` per input (None where it carries none), and
    whether the row had no rule (dense)."""
    fam = family(e.prim)
    if fam == "elementwise":
        return elementwise(e, ins, out_shape), False
    if fam == "rule":
        return RULES[e.prim](e, ins, out_shape), False
    return dense(e, ins, out_shape), True


# --- curvature: which rows add to the Hessian pattern --------------------------------------

# linear in every operand that carries a derivative (the others: indices,
# shapes, a condition): no second derivative
_LINEAR = {
    "add",
    "sub",
    "neg",
    "positive",
    "sum",
    "mean",
    "cumsum",
    "diff",
    "trace",
    "select",
    "sum_to",
    "unindex",
    "untake_along",
    "written",
    "unrepeat",
    "untile",
    "float",
    "deg2rad",
    "rad2deg",
} | set(_GATHERS)
# piecewise linear: the second derivative is zero wherever it exists (and AD
# gives zero at the kinks too)
_PIECEWISE = {"abs", "max", "min", "amax", "amin", "ptp", "fmax", "fmin", "copysign"}
# multilinear: linear in each operand separately (cross terms only)
_MULTILINEAR = {
    "mul",
    "matmul",
    "dot",
    "inner",
    "outer",
    "tensordot",
    "einsum",
    "einsum_n",
    "einsum_any",
    "kron",
    "cross",
}
# linear in the operands at these positions when only they carry a derivative
_LINEAR_IN = {
    "div": (0,),
    "fdiv": (0,),
    "div_or": (0,),
    "fmod": (0,),  # (piecewise linear in x: x - c * trunc(x / c))
    "mod": (0,),
}


def curvature(name: str, active: list[int]) -> str:
    """``"linear"`` (no Hessian term), ``"multilinear"`` (cross terms between
    distinct operands) or ``"nonlinear"`` (every pair of the output element's
    dependencies); a row not listed is nonlinear."""
    if no_dependency(name) or name in _LINEAR or name in _PIECEWISE:
        return "linear"
    if name in _MULTILINEAR:
        return "linear" if len(active) <= 1 else "multilinear"
    if name in _LINEAR_IN and set(active) <= set(_LINEAR_IN[name]):
        return "linear"
    return "nonlinear"
