"""Colourings of sparsity patterns: which columns (or rows) one derivative
pass may carry together, and checks that a colouring allows it.

A Jacobian ``J`` (m x n) with a known pattern is recovered from ``B = J·S``,
``S`` the n x c seed matrix of a colouring (``S[j, colour(j)] = 1``), when no
two columns of one colour have a non-zero in the same row (*structurally
orthogonal* columns, Curtis, Powell & Reid 1974): then ``J[i, j] =
B[i, colour(j)]``.  That is a distance-1 colouring of the *column
intersection graph* (columns adjacent when they share a row); the rows, for
reverse mode (``Sᵀ·J``), are the same problem on ``Jᵀ``.

A symmetric Hessian needs fewer colours: it is enough that for every
non-zero ``H[i, j]`` either ``j`` is the only column of its colour with a
non-zero in row ``i`` (read ``B[i, colour(j)]``) or ``i`` is the only one of
its colour in row ``j`` (read ``B[j, colour(i)]``, by symmetry).  Such
*symmetrically orthogonal* partitions (Coleman & Moré 1984) are exactly the
*star colourings* of the adjacency graph of H: a distance-1 colouring in
which every path on four vertices uses at least three colours (Gebremedhin,
Manne & Pothen, "What color is your Jacobian?", SIAM Review 47, 2005).  A
tridiagonal Hessian takes 3 colours, where its columns need 3 as well and a
general symmetric band of half-width b takes about b + 1 + b/2.

All colourings are greedy, one vertex at a time in a fixed order (the
largest degree first, and smallest-last: the one with fewer colours is kept), each taking the smallest colour its coloured
neighbours allow; colours are numbered 0, 1, ... .  Finding the optimum is
NP-hard; greedy colourings are within the maximum degree + 1 and, on the
banded, grid and block patterns of PDEs and least squares, usually optimal.
Building the graph is one sparse product in SciPy; the greedy loop runs over
Python lists (about 1 µs per edge: n = 10^5 with a 5-point stencil in a
fraction of a second).
"""

from __future__ import annotations

import numpy

from ad_compiler.errors import UsageError

__all__ = [
    "column_coloring",
    "row_coloring",
    "star_coloring",
    "check_column_coloring",
    "check_star_coloring",
    "largest_first",
    "smallest_last",
]


def scipy_sparse():
    """``scipy.sparse``, or a UsageError saying how to install it."""
    try:
        import scipy.sparse
    except ImportError:
        raise UsageError(
            "sparse Jacobians and Hessians need SciPy: "
            'pip install "ad_compiler[scipy]"'
        ) from None
    return scipy.sparse


def _csr(pattern):
    """The pattern as a CSR matrix of int8 ones (explicit zeros of a value
    matrix count as non-zeros: structure, not values)."""
    sparse = scipy_sparse()
    matrix = sparse.csr_matrix(pattern)
    ones = sparse.csr_matrix(
        (
            numpy.ones(len(matrix.indices), dtype=numpy.int8),
            matrix.indices,
            matrix.indptr,
        ),
        shape=matrix.shape,
    )
    ones.sum_duplicates()
    return ones


def adjacency(graph) -> tuple[list, list]:
    """A square sparse matrix as neighbour lists (indptr, indices as Python
    lists), the diagonal left out: the graph the greedy loops walk."""
    graph = scipy_sparse().csr_matrix(graph)
    graph.setdiag(0)
    graph.eliminate_zeros()
    graph.sort_indices()
    return graph.indptr.tolist(), graph.indices.tolist()


def largest_first(indptr: list) -> list:
    """Vertices by decreasing degree, ties in their natural order (so a band
    or a grid is coloured in order, which is optimal or near it there)."""
    degree = numpy.diff(numpy.asarray(indptr))
    return numpy.argsort(-degree, kind="stable").tolist()


def smallest_last(indptr: list, indices: list) -> list:
    """The smallest-last order (Matula & Beck): repeatedly take out a vertex of
    least degree in what remains; colour in the reverse order of removal, so
    each vertex meets at most as many coloured neighbours as that degree (the
    degeneracy bound).  Bucket queue: O(edges)."""
    n = len(indptr) - 1
    degree = [indptr[v + 1] - indptr[v] for v in range(n)]
    buckets: list[dict] = [{} for _ in range(max(degree, default=0) + 1)]
    for v in range(n):
        buckets[degree[v]][v] = None  # (a dict: insertion-ordered, deterministic)
    removed, order, d = [False] * n, [], 0
    for _ in range(n):
        d = max(d - 1, 0)  # taking one vertex out lowers a degree by one at most
        while not buckets[d]:
            d += 1
        v = next(iter(buckets[d]))
        del buckets[d][v]
        removed[v] = True
        order.append(v)
        for w in indices[indptr[v] : indptr[v + 1]]:
            if not removed[w]:
                k = degree[w]
                del buckets[k][w]
                degree[w] = k - 1
                buckets[k - 1][w] = None
    return order[::-1]


def _fewest(color_with, indptr: list, indices: list) -> numpy.ndarray:
    """The colouring ``color_with(order)`` with the fewer colours of the two
    orders (largest-first and smallest-last): each wins on some patterns."""
    first = color_with(largest_first(indptr))
    last = color_with(smallest_last(indptr, indices))
    return last if len(first) and last.max() < first.max() else first


def _greedy(indptr: list, indices: list, order: list) -> numpy.ndarray:
    """Distance-1 greedy colouring: each vertex the smallest colour none of
    its coloured neighbours has."""
    n = len(indptr) - 1
    color = [-1] * n
    mark = [-1] * (n + 1)  # mark[c] == v: colour c is taken around v
    for v in order:
        for w in indices[indptr[v] : indptr[v + 1]]:
            c = color[w]
            if c >= 0:
                mark[c] = v
        c = 0
        while mark[c] == v:
            c += 1
        color[v] = c
    return numpy.asarray(color, dtype=numpy.intp)


def column_coloring(pattern) -> numpy.ndarray:
    """A colour per column of ``pattern`` (m x n) such that no two columns of
    one colour share a row: distance-1 colouring of the column intersection
    graph ``PᵀP`` (the better of two vertex orders).  ``J·S`` for the seed matrix of these
    colours holds every entry of J once (:mod:`ad_compiler.sparsity.compressed`)."""
    p = _csr(pattern)
    if p.shape[1] == 0:
        return numpy.zeros(0, dtype=numpy.intp)
    indptr, indices = adjacency((p.T @ p).tocsr())
    return _fewest(lambda order: _greedy(indptr, indices, order), indptr, indices)


def row_coloring(pattern) -> numpy.ndarray:
    """A colour per row such that no two rows of one colour share a column:
    the column colouring of the transpose (for reverse mode, ``Sᵀ·J``)."""
    return column_coloring(_csr(pattern).T)


def star_coloring(pattern) -> numpy.ndarray:
    """A star colouring of the symmetric ``pattern`` (n x n): a colour per
    vertex such that adjacent vertices differ and no path on four vertices
    is two-coloured, so that every entry of H is read directly from ``H·S``
    (:func:`check_star_coloring` says how).

    Greedy (the better of two orders).  When vertex v is coloured, the colour c it
    takes must not close a two-coloured path ``v-w-x-y`` (v at its end: w of
    colour k, x of colour c, y ≠ w of colour k: x has two neighbours of
    colour k) nor ``a-v-w-x`` (v inside: a and w both neighbours of v of
    colour k, x a neighbour of w of colour c).  Each path is checked when
    its last vertex is coloured, which is one of those two cases, so the
    colouring is a star colouring; ``count[x]`` (the colours of x's coloured
    neighbours, counted) makes each check one look-up: O(Σ deg²).
    """
    p = _csr(pattern)
    if p.shape[0] != p.shape[1]:
        raise UsageError(f"a star colouring needs a square pattern, not {p.shape}")
    indptr, indices = adjacency(((p + p.T) > 0).astype(numpy.int8))
    return _fewest(lambda order: _star(indptr, indices, order), indptr, indices)


def _star(indptr: list, indices: list, order: list) -> numpy.ndarray:
    """:func:`star_coloring`'s greedy loop, in ``order``."""
    n = len(indptr) - 1
    color = [-1] * n
    count: list[dict] = [
        {} for _ in range(n)
    ]  # count[x][k]: x's neighbours of colour k
    mark = [-1] * (n + 1)
    for v in order:
        around = indices[indptr[v] : indptr[v + 1]]
        mine = count[v]
        for w in around:
            k = color[w]
            if k < 0:
                continue
            mark[k] = v
            inside = mine[k] >= 2  # v already has another neighbour of colour k
            for x in indices[indptr[w] : indptr[w + 1]]:
                c = color[x]
                if c >= 0 and x != v and (inside or count[x].get(k, 0) >= 2):
                    mark[c] = v
        c = 0
        while mark[c] == v:
            c += 1
        color[v] = c
        for w in around:
            seen = count[w]
            seen[c] = seen.get(c, 0) + 1
    return numpy.asarray(color, dtype=numpy.intp)


def check_column_coloring(pattern, colors) -> bool:
    """Whether no two columns of one colour have a non-zero in the same row
    (so ``J·S`` holds each entry of J alone in its row and colour)."""
    p = _csr(pattern)
    colors = numpy.asarray(colors)
    if colors.shape != (p.shape[1],) or (colors < 0).any():
        return False
    c = int(colors.max()) + 1 if len(colors) else 0
    rows = numpy.repeat(numpy.arange(p.shape[0]), numpy.diff(p.indptr))
    keys = rows * c + colors[p.indices]
    return bool(len(keys) == len(numpy.unique(keys)))


def star_counts(p, colors) -> numpy.ndarray:
    """``counts[i * c + k]``: the non-zeros of row i of the symmetric pattern
    ``p`` (CSR) in columns of colour k (the number of terms ``B[i, k]`` sums)."""
    c = int(colors.max()) + 1 if len(colors) else 0
    rows = numpy.repeat(numpy.arange(p.shape[0]), numpy.diff(p.indptr))
    return numpy.bincount(rows * c + colors[p.indices], minlength=p.shape[0] * c)


def check_star_coloring(pattern, colors) -> bool:
    """Whether ``colors`` is a star colouring of the symmetric ``pattern``:
    adjacent vertices differ, and for every off-diagonal non-zero (i, j)
    column j is alone of its colour in row i, or i alone of its colour in
    row j (the symmetrically orthogonal partition that direct recovery of a
    symmetric matrix from ``H·S`` needs, equivalent to the star property)."""
    p = _csr(pattern)
    p = _csr((p + p.T) > 0)
    colors = numpy.asarray(colors)
    if colors.shape != (p.shape[0],) or (colors < 0).any():
        return False
    if not len(colors):
        return True
    c = int(colors.max()) + 1
    rows = numpy.repeat(numpy.arange(p.shape[0]), numpy.diff(p.indptr))
    cols = p.indices
    off = rows != cols
    if (colors[rows[off]] == colors[cols[off]]).any():
        return False
    counts = star_counts(p, colors)
    direct = counts[rows * c + colors[cols]] == 1
    mirrored = counts[cols * c + colors[rows]] == 1
    return bool((direct | mirrored).all())
