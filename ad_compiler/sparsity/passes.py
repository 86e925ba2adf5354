"""One derivative pass over many directions, as matrices: the emitted
vector-mode code (``jvp_vector``, ``vjp_vector``, ``hvp_vector``) called with
the rows of a seed matrix as its stacked directions, its results flattened
into a matrix with one row per direction.

Columns (inputs) are the elements of the arguments at ``wrt`` flattened in
C order and concatenated in that order; rows of a Jacobian (outputs) are the
elements of the returned leaves, likewise.  A seed matrix ``Sᵀ`` (c x n) is
cut into one array of shape ``(c,) + shape`` per argument (or per output, in
reverse mode), which is how the emitted code takes c directions at once.
"""

from __future__ import annotations

import math

import numpy

from ad_compiler.ad.jacobians import PerDirection
from ad_compiler.callables import compile_derivative, signature_ir

__all__ = ["code", "split", "flatten", "leaves", "forward", "reverse", "hvp"]


def code(f, kind: str, wrt: tuple):
    """The emitted vector-mode ``kind`` code of ``f`` (``jvp``, ``vjp``,
    ``hvp``) for array arguments, taking its directions stacked along a
    leading axis; for a function calling a recursive one (whose emitted
    code takes one direction) the one-direction code called per direction
    (:class:`ad_compiler.ad.jacobians.PerDirection`)."""
    primal = signature_ir(f)
    if primal.callees:
        seeds = len(primal.results) if kind == "vjp" else len(wrt)
        return PerDirection(
            compile_derivative(f, kind, wrt, arrays=True), kind, wrt, seeds, f
        )
    return compile_derivative(f, f"{kind}_vector", wrt, arrays=True)


def split(seeds_t: numpy.ndarray, shapes: list) -> list:
    """A c x n seed matrix (one direction a row) cut into one ``(c,) + shape``
    array per argument of ``shapes`` (their sizes summing to n)."""
    c = seeds_t.shape[0]
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(seeds_t[:, start : start + size].reshape((c,) + tuple(shape)))
        start += size
    return out


def flatten(stacks, c: int, shapes: list) -> numpy.ndarray:
    """Per-argument (or per-output) results of c directions (``(c,) + shape``
    each; a zero may come back as the number 0.0) as one c x n matrix."""
    parts = [
        (
            s  # the usual case, checked first: a stack of the right shape
            if type(s) is numpy.ndarray and s.shape == (c,) + tuple(shape)
            else numpy.broadcast_to(numpy.asarray(s, dtype=float), (c,) + tuple(shape))
        ).reshape(c, -1)
        for s, shape in zip(stacks, shapes)
    ]
    if not parts:
        return numpy.zeros((c, 0))
    return numpy.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def leaves(tree, value) -> list:
    """The values at the leaves of ``tree`` (an int: one value; a tuple of
    trees) in ``value``."""
    if isinstance(tree, int):
        return [value]
    return [leaf for t, v in zip(tree, value) for leaf in leaves(t, v)]


def forward(compiled, tree, args: tuple, wrt: tuple, seeds_t) -> tuple:
    """``(values, (J·S)ᵀ)``: one ``jvp_vector`` call along the rows of
    ``seeds_t`` (c x n); the values are the output leaves."""
    shapes = [numpy.shape(args[i]) for i in wrt]
    values, dots = compiled(*args, *split(seeds_t, shapes))
    ys = leaves(tree, values)
    dots = leaves(tree, dots)
    return ys, flatten(dots, seeds_t.shape[0], [numpy.shape(y) for y in ys])


def reverse(compiled, args: tuple, wrt: tuple, seeds_t, out_shapes: list):
    """``Sᵀ·J`` (c x n): one ``vjp_vector`` call with the rows of ``seeds_t``
    (c x m, over the outputs) as the seeds of the outputs."""
    _, bars = compiled(*args, *split(seeds_t, out_shapes))
    bars = bars if isinstance(bars, tuple) else (bars,)
    shapes = [numpy.shape(args[i]) for i in wrt]
    return flatten(bars, seeds_t.shape[0], shapes)


def hvp(compiled, args: tuple, wrt: tuple, seeds_t) -> numpy.ndarray:
    """``(H·S)ᵀ`` (c x n): one ``hvp_vector`` call along the rows of ``seeds_t``."""
    shapes = [numpy.shape(args[i]) for i in wrt]
    rows = compiled(*args, *split(seeds_t, shapes))
    rows = rows if isinstance(rows, tuple) else (rows,)
    return flatten(rows, seeds_t.shape[0], shapes)
