"""Sparse Jacobians and Hessians: compressed derivative passes over a
colouring's seed matrix, decompressed into ``scipy.sparse.csr_matrix``.

With the pattern P of J (m x n, from :mod:`ad_compiler.sparsity.patterns`)
and a colouring of its columns into c groups of structurally orthogonal
columns (:func:`ad_compiler.sparsity.coloring.column_coloring`), the seed
matrix S (n x c, ``S[j, colour(j)] = 1``) gives ``B = J·S`` in ONE call of
the emitted forward code in vector mode with c directions, and each
non-zero is read back as ``J[i, j] = B[i, colour(j)]``.  In reverse mode the
rows are coloured instead: ``Sᵀ·J`` from one ``vjp_vector`` call with c seeds,
``J[i, j] = (SᵀJ)[colour(i), j]``.  The mode with fewer colours is taken
(forward on a tie: it has no second sweep), as :func:`jacobian` picks by
sizes.  A Hessian is ``H·S`` from one ``hvp_vector`` call (forward over
reverse) with the seed matrix of a star colouring, read back directly: each
``H[i, j]`` is ``B[i, colour(j)]`` when j is alone of its colour in row i,
else ``B[j, colour(i)]`` (the star property says one of the two holds).

Decompression is a gather with the pattern's row and column index arrays, no
loop over entries; the CSR result has exactly the pattern's structure (an
entry of the pattern that is zero at this point is a stored zero).  Pattern
and colouring are found once per argument shapes (and values of the other
arguments) when the pattern is static, at every call otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy

from ad_compiler.ad import jacobians
from ad_compiler.ad.jacobians import defaults_of, with_defaults
from ad_compiler.backend.loader import source_of
from ad_compiler.callables import signature_ir, wrt_of
from ad_compiler.errors import UsageError
from ad_compiler.sparsity import passes, patterns
from ad_compiler.sparsity.coloring import (
    column_coloring,
    row_coloring,
    scipy_sparse,
    star_coloring,
    star_counts,
)

__all__ = [
    "jacobian",
    "hessian",
    "SparseDerivative",
    "Plan",
    "make_plan",
    "decompress",
    "seed_matrix",
]


def seed_matrix(colors: numpy.ndarray) -> numpy.ndarray:
    """The transposed seed matrix ``Sᵀ`` (c x n) of a colouring: row k is the
    sum of the unit vectors of the columns of colour k (one-hot per column)."""
    n = len(colors)
    c = int(colors.max()) + 1 if n else 0
    seeds_t = numpy.zeros((c, n))
    seeds_t[colors, numpy.arange(n)] = 1.0
    return seeds_t


@dataclass
class Plan:
    """What a call with given argument shapes needs: the pattern, the
    colouring, the mode and the index arrays of the gather."""

    pattern: Any  # patterns.Pattern
    colors: numpy.ndarray  # per column (forward, Hessian) or per row (reverse)
    mode: str  # "forward", "reverse" or "forward over reverse"
    seeds_t: numpy.ndarray  # c x n (or c x m in reverse mode)
    indptr: numpy.ndarray  # the pattern's CSR structure
    cols: numpy.ndarray  # of the non-zeros, in CSR order
    out_shapes: list
    gather: numpy.ndarray  # per non-zero, where it is in the pass's flat result

    @property
    def count(self) -> int:
        """The number of directions (colours) of a call."""
        return self.seeds_t.shape[0]


def _structure(matrix):
    """A pattern's CSR (sorted, no duplicates) and the row and column of
    each non-zero."""
    m = scipy_sparse().csr_matrix(matrix, dtype=bool)
    m.sum_duplicates()
    m.sort_indices()
    rows = numpy.repeat(numpy.arange(m.shape[0]), numpy.diff(m.indptr))
    return m, rows, m.indices


def _given(pattern, shape: tuple):
    """A pattern the caller gave (``sparse=``): a Pattern, or a matrix whose
    non-zeros are the pattern, trusted as static."""
    if not isinstance(pattern, patterns.Pattern):
        matrix = scipy_sparse().csr_matrix(pattern)
        pattern = patterns.Pattern(matrix != 0, True, "given by the caller")
    if pattern.matrix.shape != shape:
        raise UsageError(
            f"the given sparsity pattern is {pattern.matrix.shape}, the derivative is {shape}"
        )
    return pattern


def _count(colors: numpy.ndarray) -> int:
    return int(colors.max()) + 1 if len(colors) else 0


def make_plan(pattern, mode: str, colors, out_shapes: list) -> Plan:
    """The plan of a compressed pass in ``mode`` with ``colors`` (of the
    columns for ``"forward"`` and a Hessian, of the rows for ``"reverse"``):
    the seed matrix, and where each non-zero of the pattern is read from the
    pass's result ``Bᵀ`` (c x m forward, c x n reverse and Hessian).

    Forward: ``J[i, j] = Bᵀ[colour(j), i]``; reverse: ``J[i, j] = Bᵀ[colour(i),
    j]``; Hessian (symmetrised pattern): ``H[i, j] = Bᵀ[colour(j), i]`` when j is
    alone of its colour in row i, else ``Bᵀ[colour(i), j]``."""
    matrix = pattern.matrix
    if mode == "forward over reverse":
        matrix = matrix + matrix.T
    matrix, rows, cols = _structure(matrix)
    if mode == "forward":
        gather = (colors[cols], rows)
    elif mode == "reverse":
        gather = (colors[rows], cols)
    else:
        counts = star_counts(matrix, colors)
        direct = counts[rows * _count(colors) + colors[cols]] == 1
        gather = (
            numpy.where(direct, colors[cols], colors[rows]),
            numpy.where(direct, rows, cols),
        )
    seeds_t = seed_matrix(colors)
    # one index into the flat result (a 1-D take: faster than a 2-D gather)
    width = matrix.shape[1] if mode == "reverse" else matrix.shape[0]
    flat = gather[0].astype(numpy.intp) * width + gather[1]
    # (indptr and indices of one integer type: the CSR made per call is not converted)
    cols = cols.astype(matrix.indptr.dtype)
    return Plan(pattern, colors, mode, seeds_t, matrix.indptr, cols, out_shapes, flat)


def decompress(plan: Plan, compressed_t: numpy.ndarray):
    """The CSR matrix of the pattern's structure with the values read from the
    pass's result (``Bᵀ``, c x m or c x n): one gather, no loop over entries."""
    if plan.count:
        values = numpy.take(
            numpy.ascontiguousarray(compressed_t).reshape(-1), plan.gather
        )
    else:
        values = numpy.zeros(len(plan.cols))
    shape = (len(plan.indptr) - 1, plan.pattern.matrix.shape[1])
    return scipy_sparse().csr_matrix((values, plan.cols, plan.indptr), shape=shape)


class SparseDerivative:
    """``jacobian(f, sparse=True)`` or ``hessian(f, sparse=True)``: a call
    returns a ``scipy.sparse.csr_matrix`` with one row per output element
    (outputs flattened in C order and concatenated) and one column per
    input element (the arguments at ``argnums`` likewise); for a Hessian,
    rows and columns are both the inputs.

    After a call: ``.mode`` (``"forward, 3 colours"`` ...), ``.directions``
    (the derivative directions of that call: its number of colours),
    ``.passes`` (emitted calls made so far) and ``.total_directions``;
    ``.source`` is the emitted vector-mode code it runs.  ``.pattern(*args)``
    and ``.colors(*args)`` give the pattern and colouring for those
    arguments (found once per argument shapes when the pattern is static).
    """

    def __init__(self, f, argnums, kind: str, given=None):
        fn = signature_ir(f)
        self.f, self.kind, self.argnums = f, kind, argnums
        self.wrt, _ = wrt_of(fn, argnums)
        self.tree, self.n = fn.tree, len(fn.params)
        self.defaults = defaults_of(f)
        self.given = given
        self.compiled: Any = None
        self.mode = "not called yet"
        self.directions = self.passes = self.total_directions = 0
        self._plans: dict = {}
        self.__name__ = self.__qualname__ = f"{fn.name}_sparse_{kind}"
        self.__doc__ = f"{self.__name__}: compressed {kind} as scipy.sparse CSR."

    def _code(self, kind: str):
        return passes.code(self.f, kind, self.wrt)

    def _key(self, args: tuple):
        """Argument shapes, and the values of the other non-array arguments."""
        key = []
        for i, a in enumerate(args):
            if isinstance(a, numpy.ndarray) or i in self.wrt:
                key.append(("shape", numpy.shape(a)))
            else:
                try:
                    hash(a)
                    key.append(("value", type(a), a))
                except TypeError:
                    key.append(("object", id(a)))
        return tuple(key)

    def plan(self, args: tuple) -> Plan:
        """The plan for these arguments: cached per :meth:`_key` when the
        pattern is static."""
        args = with_defaults(self.__name__, self.n, self.defaults, tuple(args))
        trees = [i for i in self.wrt if isinstance(args[i], (tuple, list, dict))]
        if trees:
            raise UsageError(
                f"sparse {self.kind} of `{self.__name__.split('_sparse_')[0]}`: argument "
                f"{trees[0]} is a tuple, list or dict; sparse=True takes arrays or "
                "numbers at argnums (a tree's leaves as separate argnums)"
            )
        key = self._key(args)
        found = self._plans.get(key)
        if found is None:
            found = (
                self._hessian_plan(args)
                if self.kind == "hessian"
                else self._jacobian_plan(args)
            )
            if found.pattern.static:
                self._plans[key] = found
        return found

    def _jacobian_plan(self, args: tuple) -> Plan:
        out_shapes = [numpy.shape(y) for y in passes.leaves(self.tree, self.f(*args))]
        m = sum(int(numpy.prod(s)) for s in out_shapes)
        n = sum(int(numpy.size(args[i])) for i in self.wrt)
        if self.given is not None:
            pattern = _given(self.given, (m, n))
        else:
            pattern = patterns.jacobian_pattern(self.f, args, self.argnums)
        by_column = column_coloring(pattern.matrix)
        by_row = row_coloring(pattern.matrix)
        if _count(by_column) <= _count(by_row):
            return make_plan(pattern, "forward", by_column, out_shapes)
        return make_plan(pattern, "reverse", by_row, out_shapes)

    def _hessian_plan(self, args: tuple) -> Plan:
        n = sum(int(numpy.size(args[i])) for i in self.wrt)
        if self.given is not None:
            pattern = _given(self.given, (n, n))
        else:
            pattern = patterns.hessian_pattern(self.f, args, self.argnums)
        colors = star_coloring(pattern.matrix)
        return make_plan(pattern, "forward over reverse", colors, [(n,)])

    def pattern(self, *args):
        """The sparsity pattern (:class:`ad_compiler.sparsity.patterns.Pattern`) at ``args``."""
        return self.plan(args).pattern

    def colors(self, *args) -> numpy.ndarray:
        """The colour of each column (of each row in reverse mode) at ``args``."""
        return self.plan(args).colors

    def __call__(self, *args):
        args = with_defaults(self.__name__, self.n, self.defaults, tuple(args))
        plan = self.plan(args)
        if plan.mode == "forward":
            self.compiled = self._code("jvp")
            _, compressed = passes.forward(
                self.compiled, self.tree, args, self.wrt, plan.seeds_t
            )
        elif plan.mode == "reverse":
            self.compiled = self._code("vjp")
            compressed = passes.reverse(
                self.compiled, args, self.wrt, plan.seeds_t, plan.out_shapes
            )
        else:
            self.compiled = self._code("hvp")
            compressed = passes.hvp(self.compiled, args, self.wrt, plan.seeds_t)
        result = decompress(plan, compressed)
        self.mode = f"{plan.mode}, {plan.count} colour{'' if plan.count == 1 else 's'}"
        self.directions = plan.count
        self.passes += 1
        self.total_directions += plan.count
        return result

    @property
    def source(self) -> str:
        """The emitted vector-mode code the last call ran (forward code before one)."""
        compiled = self.compiled or self._code(
            "hvp" if self.kind == "hessian" else "jvp"
        )
        header = f"# {self.__name__}: {self.mode}, all colours in one call\n"
        return header + source_of(compiled)


def _sparse(f, argnums, kind: str, sparse) -> SparseDerivative:
    scipy_sparse()  # a UsageError now when SciPy is missing
    return SparseDerivative(f, argnums, kind, None if sparse is True else sparse)


def jacobian(f, argnums=0, sparse=False):
    """The Jacobian of ``f`` in the cheaper mode: forward when ``f`` has no more
    inputs (in ``argnums``) than outputs, reverse otherwise; ``.mode`` says
    which (:func:`ad_compiler.ad.jacobians.jacobian`: ``J[output][argnum]``,
    each block of shape ``output.shape + argument.shape``; parameter trees
    arranged as JAX arranges them).

    ``sparse=True``: a call returns a ``scipy.sparse.csr_matrix`` with a row
    per output element (the outputs flattened in C order and concatenated)
    and a column per element of the arguments at ``argnums`` (likewise),
    from the sparsity pattern, a colouring of its columns (or rows: the mode
    with fewer colours) and ONE call of the emitted vector-mode code with one
    direction per colour (docs/sparsity.md).  ``sparse=`` a matrix or a
    :class:`ad_compiler.sparsity.patterns.Pattern`: that pattern, trusted,
    instead of the one found.  Needs SciPy."""
    if sparse is False or sparse is None:
        return jacobians.jacobian(f, argnums)
    return _sparse(f, argnums, "jacobian", sparse)


def hessian(f, argnums=0, sparse=False):
    """∂²f/∂x_i∂x_j, forward over reverse, in one vector-mode call
    (:func:`ad_compiler.ad.jacobians.hessian`: ``H[i][j]``, a number for an
    int ``argnums`` and numbers; for arrays, of shape
    ``x_i.shape + x_j.shape``).

    ``sparse=True``: a call returns a ``scipy.sparse.csr_matrix`` over the
    elements of the arguments at ``argnums`` (flattened in C order and
    concatenated, rows and columns alike), from the sparsity pattern, a star
    colouring and ONE call of the emitted Hessian-vector-product code with
    one direction per colour (a tridiagonal Hessian: 3), each entry read
    directly from the result (docs/sparsity.md).  ``sparse=`` a matrix or a
    Pattern: that pattern, trusted.  Needs SciPy."""
    if sparse is False or sparse is None:
        return jacobians.hessian(f, argnums)
    return _sparse(f, argnums, "hessian", sparse)
