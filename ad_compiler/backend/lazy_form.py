"""The emitted form of a derivative compiled for arrays of another library.

A derivative called with Dask arrays (or another library that NumPy's
functions hand themselves to, ``__array_function__``) is compiled with the
IR's ``lazy`` set (:mod:`ad_compiler.callables`).  Its code must build the
library's graph and compute nothing, so where the NumPy form would compute
or convert, this form says it otherwise:

* no write happens in place (:mod:`ad_compiler.backend.inplace` is skipped):
  ``t[i] += g`` into an array of zeros made by NumPy would convert a lazy
  ``g`` to NumPy, computing it; ``t + _unindex(x, i, g)`` stays lazy (the
  helper makes its zeros with ``g``'s library), as does ``np.zeros(n) + g``;
* ``np.size(x)`` is ``np.prod(np.shape(x), dtype=int)`` (Dask implements no
  ``np.size``: it warns), and ``np.broadcast(a, b)``, which converts its
  inputs, is ``np.broadcast_to(0.0, np.broadcast_shapes(...))``: shapes only.

The values are those of the NumPy form; only memory (a new array per write
where NumPy's form writes in place) and what runs when differ.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir.nodes import Function, iter_eqns
from ad_compiler.opt.dce import eliminate_dead_code
from ad_compiler.opt.shape_sources import _map_eqns

# NumPy's spelling -> the one that reads shapes only
_SHAPES_ONLY = {"size": "size_of_shape", "broadcast": "broadcast_of_shapes"}


def lazy_form(fn: Function) -> Function:
    """``fn`` with the spellings above where it was compiled lazy; else ``fn``.
    The size of a broadcast is one expression: ``np.prod(np.broadcast_shapes(
    np.shape(a), np.shape(b)), dtype=int)``."""
    if not fn.lazy:
        return fn
    broadcasts = {
        e.out.name: e.ins for e in iter_eqns(fn.body) if e.prim == "broadcast"
    }

    def respell(e):
        prim = _SHAPES_ONLY.get(e.prim)
        if prim is None:
            return e
        ins = e.ins
        if prim == "size_of_shape" and getattr(ins[0], "name", None) in broadcasts:
            ins = broadcasts[ins[0].name]
        return replace(e, prim=prim, ins=ins, ns="np")

    return eliminate_dead_code(replace(fn, body=_map_eqns(fn.body, respell)))
