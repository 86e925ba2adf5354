"""Jacobian and Hessian sparsity patterns of a user function, found from its IR.

``jacobian_pattern(f, args, argnums)`` and ``hessian_pattern(f, args, argnums)``
give a :class:`Pattern`: a boolean CSR matrix whose rows are the outputs'
elements (flattened in C order, the leaves of the returned tree one after
another) and whose columns are the elements of the differentiated arguments
(flattened, in ``argnums`` order).

**Guarantee: conservative.**  Every entry the derivative can have non-zero is
in the pattern; an entry in the pattern may still be zero (a *false
non-zero*: ``x - x``, a product with a zero, a branch not taken).

* ``static=True``: found from the IR with the arguments' shapes only (and the
  values of the arguments not differentiated, such as an int ``n``); it holds
  at **every** point with those shapes and those other values.
* ``static=False`` (the runtime fallback): the structure depended on the
  differentiated values (a branch on them, an index computed from them, a
  ``while`` loop testing them); the same interpreter ran along the path the
  given point takes, so the pattern holds **at this point** (and at any point
  taking the same branches, trip counts and indices).

``how`` says which, and names the rows that had no rule and were taken as
dense (every output element depending on every element of their operands).
See docs/sparsity_patterns.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

import numpy

from ad_compiler.errors import UsageError
from ad_compiler.ir.nodes import positional, tree_leaves

__all__ = ["Pattern", "jacobian_pattern", "hessian_pattern", "sparsity"]

PICTURE_LIMIT = 60  # rows and columns drawn as text; larger: a summary


def _scipy():
    try:
        import scipy.sparse as sp
    except ImportError:
        raise UsageError(
            "sparsity patterns need SciPy, which is not installed; "
            'install it: pip install "ad_compiler[scipy]"'
        ) from None
    return sp


@dataclass(frozen=True)
class Pattern:
    """A sparsity pattern: ``matrix`` (scipy.sparse CSR, dtype bool; rows the
    outputs' elements, columns the inputs'), whether it is ``static`` (holds
    at every point with these shapes) or found at the point given, and
    ``how`` it was found (one line)."""

    matrix: Any
    static: bool
    how: str

    @property
    def shape(self) -> tuple:
        return self.matrix.shape

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def summary(self) -> str:
        rows, cols = self.matrix.shape
        per_row = numpy.diff(self.matrix.indptr)
        coo = self.matrix.tocoo()
        band = int(numpy.abs(coo.row - coo.col).max()) if coo.nnz else 0
        return (
            f"{rows} x {cols} pattern, {self.nnz} non-zeros "
            f"({self.nnz / max(rows * cols, 1):.3%}), "
            f"at most {int(per_row.max()) if rows else 0} a row, bandwidth {band}; "
            f"{self.how}"
        )

    def __str__(self) -> str:
        rows, cols = self.matrix.shape
        if rows > PICTURE_LIMIT or cols > PICTURE_LIMIT or not rows or not cols:
            return self.summary()
        dense = self.matrix.toarray()
        lines = ["".join("#" if v else "." for v in row) for row in dense]
        return "\n".join(lines + [self.summary()])

    def plot(self, path) -> None:
        """Write a PNG spy picture of the pattern to ``path`` (a file name or a
        binary file; needs matplotlib)."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise UsageError(
                "Pattern.plot needs matplotlib, which is not installed; "
                'install it: pip install "ad_compiler[plot]"'
            ) from None
        rows, cols = self.matrix.shape
        fig, ax = plt.subplots(figsize=(5, 5 * rows / max(cols, 1) if cols else 5))
        marker = max(0.5, min(6.0, 300.0 / max(rows, cols, 1)))
        ax.spy(self.matrix, markersize=marker, color="black")
        ax.set_title(f"{rows} x {cols}, {self.nnz} non-zeros", fontsize=9)
        fig.savefig(path, dpi=100, bbox_inches="tight", format="png")
        plt.close(fig)


def _primal(f):
    """The IR ``f`` runs and the values of the scope arrays it reads."""
    from ad_compiler.callables import trace_cached
    from ad_compiler.frontend.lower_trees import TreeNeeded
    from ad_compiler.guard import current_value

    try:
        fn = trace_cached(f)
    except TreeNeeded as exc:
        raise UsageError(
            f"{exc.message}: sparsity patterns take arrays and numbers as "
            "arguments, not trees or static values (pass a tree's leaves as "
            "separate arguments)"
        ) from None
    live = tuple(current_value(w, k) for _, w, k in fn.scope_sources)
    return fn, live


def _arguments(fn, args, wrt, live, runtime: bool, ncols: int):
    from ad_compiler.sparsity.rules import UNKNOWN, Abstract

    sp = _scipy()
    starts, start = {}, 0
    for i in wrt:  # columns in argnums order
        starts[i] = start
        start += prod(numpy.shape(args[i]))
    out = []
    for i, value in enumerate(args):
        shape = tuple(numpy.shape(value))
        if i in starts:
            size, start = prod(shape), starts[i]
            dep = sp.csr_matrix(
                (
                    numpy.ones(size, dtype=bool),
                    (numpy.arange(size), numpy.arange(start, start + size)),
                ),
                shape=(size, ncols),
            )
            out.append(Abstract(shape, dep, value if runtime else UNKNOWN))
        else:
            out.append(Abstract(shape, None, value))
    for value in live:  # scope arrays: keyword-only parameters after the user's
        out.append(Abstract(tuple(numpy.shape(value)), None, value))
    return out


def _analyse(f, args: tuple, argnums, hessian: bool):
    """Run the interpreter statically, then at the point if it must; the
    IR, the interpreter, the results and how."""
    from ad_compiler.callables import wrt_of

    _scipy()
    fn, live = _primal(f)
    n = len(positional(fn))
    if len(args) != n:
        raise UsageError(f"`{fn.name}` takes {n} arguments, {len(args)} given")
    wrt, _ = wrt_of(fn, argnums)
    return (fn,) + analyse_ir(fn, args, wrt, live, hessian)


def analyse_ir(fn, args, wrt, live=(), hessian=False, at_point=True):
    """The interpreter run on ``fn`` (the IR), its results and how: statically
    with ``args``' shapes (and the values of those not in ``wrt``), then, if the
    structure needs the point's values and ``at_point``, at ``args``.  Without
    ``at_point`` (the CLI: shapes only) such a function is a usage error."""
    from ad_compiler.sparsity.abstract import Interpreter, Unsupported
    from ad_compiler.sparsity.rules import NeedRuntime

    ncols = sum(prod(numpy.shape(args[i])) for i in wrt)
    reason = None
    for runtime in (False, True) if at_point else (False,):
        run = Interpreter(ncols, runtime, hessian, fn.callees)
        try:
            results = run.run(fn, _arguments(fn, args, wrt, live, runtime, ncols))
        except NeedRuntime as why:
            reason = str(why)
            continue
        except Unsupported as why:
            return None, None, f"dense: the function uses {why}, not analysed"
        how = (
            "static: IR" if not runtime else f"runtime: traced at the point ({reason})"
        )
        if run.dense_rows:
            how += "; dense (no rule): " + ", ".join(sorted(run.dense_rows))
        return run, results, how
    raise UsageError(
        f"the pattern of `{fn.name}` depends on the values of its inputs ({reason}); "
        "find it at a point with sparsity(f)(*args) from Python"
    )


def jacobian_matrix(fn, run, results, ncols: int):
    """The Jacobian pattern's matrix from an interpreter's results."""
    sp = _scipy()
    blocks = []
    for k in tree_leaves(fn.tree):
        r = results[k]
        size = prod(r.shape)
        empty = sp.csr_matrix((size, ncols), dtype=bool)
        blocks.append(r.dep if r.dep is not None else empty)
    if not blocks:
        return sp.csr_matrix((0, ncols), dtype=bool)
    return _bool(sp.vstack(blocks, format="csr"))


def hessian_matrix(fn, run, results):
    """The Hessian pattern's matrix (symmetric) from an interpreter's run."""
    leaves = tree_leaves(fn.tree)
    if len(leaves) != 1 or prod(results[leaves[0]].shape) != 1:
        raise UsageError(
            f"a Hessian pattern of `{fn.name}`, which does not return one number"
        )
    h = run.hessian_pattern()
    return _bool(h + h.T)


def jacobian_pattern(f, args: tuple, argnums=0) -> Pattern:
    """The Jacobian sparsity pattern of ``f`` at arguments of the shapes (and
    non-differentiated values) of ``args``; see the module docstring."""
    sp = _scipy()
    fn, run, results, how = _analyse(f, tuple(args), argnums, hessian=False)
    ncols = _ncols(fn, args, argnums)
    if run is None:
        rows = _dense_rows(f, args)
        ones = numpy.ones((rows, ncols), dtype=bool)
        return Pattern(sp.csr_matrix(ones), False, how)
    matrix = jacobian_matrix(fn, run, results, ncols)
    return Pattern(matrix, how.startswith("static"), how)


def hessian_pattern(f, args: tuple, argnums=0) -> Pattern:
    """The Hessian sparsity pattern of ``f`` (returning one number): symmetric,
    over the columns of :func:`jacobian_pattern`."""
    sp = _scipy()
    fn, run, results, how = _analyse(f, tuple(args), argnums, hessian=True)
    ncols = _ncols(fn, args, argnums)
    if run is None:
        ones = numpy.ones((ncols, ncols), dtype=bool)
        return Pattern(sp.csr_matrix(ones), False, how)
    return Pattern(hessian_matrix(fn, run, results), how.startswith("static"), how)


def _ncols(fn, args, argnums) -> int:
    from ad_compiler.callables import wrt_of

    wrt, _ = wrt_of(fn, argnums)
    return sum(prod(numpy.shape(args[i])) for i in wrt)


def _dense_rows(f, args) -> int:
    out = f(*args)
    leaves = out if isinstance(out, tuple) else (out,)
    return sum(int(numpy.size(v)) for v in leaves)


def _bool(m):
    m = m.tocsr().astype(bool)
    m.eliminate_zeros()
    m.sort_indices()
    return m


def sparsity(f, argnums=0, hessian: bool = False):
    """The sparsity pattern of ``f``'s Jacobian (or, with ``hessian=True``, of
    its Hessian; ``f`` then returns one number) with respect to the arguments
    ``argnums``: ``sparsity(f)(*args)`` is a :class:`Pattern` for arguments of
    the shapes of ``args`` (and, for those not differentiated, their values).

    ``Pattern.matrix`` is a boolean ``scipy.sparse`` CSR matrix, rows the
    outputs' elements and columns the inputs' (both flattened in C order);
    every entry the derivative can have non-zero is in it.  ``static`` says
    whether it holds at every point with those shapes (found from the IR) or
    only at the point given (the structure depended on the differentiated
    values: a branch, an index or a trip count; see ``how``).  ``print`` it for
    a picture (``#`` a non-zero) or a summary, ``.plot("p.png")`` for a spy
    plot.  See docs/sparsity_patterns.md.
    """
    find = hessian_pattern if hessian else jacobian_pattern

    def pattern(*args) -> Pattern:
        return find(f, args, argnums)

    pattern.__name__ = f"{getattr(f, '__name__', 'f')}_sparsity"
    pattern.__doc__ = f"The {'Hessian' if hessian else 'Jacobian'} sparsity pattern."
    return pattern
