"""Sparsity patterns of Jacobians and Hessians -- PROVISIONAL, replaced by
sp1's (detection from the IR, issue 21).  This one has exactly the shared
interface and finds the pattern from dense derivatives at two points (the
given one and a random perturbation of it), computed in chunks of unit
directions through the emitted vector-mode code, so that it needs no more
memory than a chunk: a non-zero there is a non-zero of the pattern.  It is
not conservative (an entry zero at both points is missed) and costs n/256
derivative passes; it is ``static`` only so that the caller caches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy

from ad_compiler.callables import signature_ir, wrt_of
from ad_compiler.sparsity import passes
from ad_compiler.sparsity.coloring import scipy_sparse

__all__ = ["Pattern", "jacobian_pattern", "hessian_pattern"]

_CHUNK = 256  # unit directions per pass
PROVISIONAL = True  # (benchmarks/bench_sparse.py gives the pattern at n = 10^5)


@dataclass(frozen=True)
class Pattern:
    """A sparsity pattern: ``matrix`` (CSR, bool) has rows = outputs and
    columns = inputs; ``static``: it holds at every point with these argument
    shapes; ``how``: one line saying how it was found."""

    matrix: Any
    static: bool
    how: str


def _points(args: tuple, wrt: tuple) -> list:
    rng = numpy.random.default_rng(0)
    other = list(args)
    for i in wrt:
        a = numpy.asarray(args[i], dtype=float)
        other[i] = a + 0.1 * (1.0 + numpy.abs(a)) * rng.standard_normal(a.shape)
    return [tuple(args), tuple(other)]


def _found(run, n: int, rows: int):
    """The non-zeros of ``run(seeds_t)`` (c x rows results per chunk of
    unit directions) as a rows x n bool CSR matrix."""
    sparse = scipy_sparse()
    found = []
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        seeds_t = numpy.zeros((stop - start, n))
        seeds_t[numpy.arange(stop - start), numpy.arange(start, stop)] = 1.0
        block = sparse.coo_matrix(run(seeds_t) != 0)  # (columns of this chunk) x rows
        found.append(
            sparse.coo_matrix(
                (block.data, (block.col, block.row + start)), shape=(rows, n)
            )
        )
    total = sum(found) if found else sparse.csr_matrix((rows, n), dtype=bool)
    return sparse.csr_matrix(total, dtype=bool)


def _pattern(f, args: tuple, argnums, kind: str) -> Pattern:
    """The non-zeros of the dense ``kind`` ("jvp" or "hvp") derivative at the
    two points, together (symmetrised for a Hessian)."""
    fn = signature_ir(f)
    wrt, _ = wrt_of(fn, argnums)
    compiled = passes.code(f, kind, wrt)
    n = sum(int(numpy.size(args[i])) for i in wrt)
    total = None
    for point in _points(args, wrt):
        if kind == "hvp":
            rows = n

            def run(seeds_t, point=point):
                return passes.hvp(compiled, point, wrt, seeds_t)

        else:
            rows = sum(int(numpy.size(y)) for y in passes.leaves(fn.tree, f(*point)))

            def run(seeds_t, point=point):
                return passes.forward(compiled, fn.tree, point, wrt, seeds_t)[1]

        found = _found(run, n, rows)
        total = found if total is None else total + found
    if kind == "hvp":
        total = total + total.T
    matrix = scipy_sparse().csr_matrix(total, dtype=bool)
    return Pattern(matrix, True, "provisional: dense at two points")


def jacobian_pattern(f, args: tuple, argnums=0) -> Pattern:
    """The pattern of the Jacobian of ``f`` at ``args`` (provisional: see the module)."""
    return _pattern(f, args, argnums, "jvp")


def hessian_pattern(f, args: tuple, argnums=0) -> Pattern:
    """The pattern of the Hessian of ``f`` at ``args`` (provisional: see the module)."""
    return _pattern(f, args, argnums, "hvp")
