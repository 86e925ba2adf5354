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
  lets the adjoint of ``x[1:] - x[:-1]`` skip the sums back);
* ``(root, axis, (a, b))`` -- the length of ``x[a:b]`` for constants
  ``0 ≤ a, b``: min(b, len) - a, at least 0 (``cam[0:3]`` and its tangent's
  ``cam_dot[0:3]`` have one length, so no broadcast is needed between them).

A shape is a tuple of those (``()`` is a scalar: a Python number or a 0-d
array), or ``None`` when even the number of axes is unknown.  The API reads the
abstract shapes of the arguments it is called with (and compiles once per
pattern); the CLI, which never runs the file, knows them from annotations or
not at all.  Where a shape is not known well enough, the emitted code decides
at run time, through a small helper written into the emitted module.

Every primitive's shape rule is the ``shape`` field of its registry row;
:func:`ad_compiler.ir.shape_infer.infer` runs the rules over a whole function,
through branches (shapes must agree, or become unknown) and loops (iterated to
a fixed point).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy

from ad_compiler.errors import CompileError

ONE, N, ANY = 1, "n", "?"
SCALAR: tuple = ()
TUPLE = "tuple"  # the value is a tuple of ints (``x.shape``), not an array

UNSEEN = "unseen"  # the item shape of a list made empty (no item seen yet)


@dataclass(frozen=True)
class ListOf:
    """A run-time list (see :mod:`ad_compiler.primitives.lists`) whose items
    all have the shape ``item`` (``UNSEEN``: none seen yet)."""

    item: object


# An axis is ONE, N or ANY; a shape is a tuple of axes, TUPLE, or None (unknown).
Axis = int | str
Shape = tuple[Axis, ...] | str | None


def of_value(value) -> Shape:
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
    if isinstance(a, ListOf) and isinstance(b, ListOf):
        if UNSEEN in (a.item, b.item):
            return a if b.item == UNSEEN else b
        return ListOf(join(a.item, b.item))
    if isinstance(a, ListOf) or isinstance(b, ListOf):
        return None
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
        out = [_join_dim(x, y) if i != a else N for i, (x, y) in enumerate(zip(out, s))]
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
    dims: list[Axis] = []
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
    dims = [_show_dim(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(shape) == 1 else "") + ")"


def _show_dim(d) -> str:
    if not isinstance(d, tuple):
        return str(d)
    if isinstance(d[2], tuple):  # the length of x[a:b] along that axis
        return f"len({d[0]}[{d[2][0]}:{d[2][1]}], axis {d[1]})"
    return f"len({d[0]}, axis {d[1]}){d[2]:+d}"
