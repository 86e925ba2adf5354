"""The emitted wrappers of ``adc compile --mode hessian | jacobian``.

A module with array Hessians or Jacobians gets ``_directions`` and ``_blocks``
(:data:`VECTOR_HELPERS`) once, and per function a wrapper calling the emitted
vector-mode code once with every unit direction (or seed) at once; the API's
equivalents are :mod:`ad_compiler.ad.jacobians`.
"""

from __future__ import annotations

from ad_compiler.ir.nodes import Function, positional, signature

VECTOR_HELPERS = '''
def _directions(args):
    """The unit directions of vector mode for array arguments: one array of
    shape (K,) + a.shape per argument, K their total size."""
    dims = [np.shape(a) for a in args]
    starts = np.cumsum([0] + [int(np.prod(s)) for s in dims])
    e = np.eye(starts[-1])
    return [e[:, a:b].reshape((len(e),) + s) for a, b, s in zip(starts, starts[1:], dims)]


def _blocks(results, args):
    """Blocks [o][i] of a Jacobian, of shape results[o].shape[1:] + args[i].shape,
    from each result along all unit directions of args (a leading axis of K),
    each an array of its own."""
    dims = [np.shape(a) for a in args]
    starts = np.cumsum([0] + [int(np.prod(s)) for s in dims])
    return tuple(
        tuple(
            np.array(np.reshape(r[a:b], (b - a, -1)).T.reshape(np.shape(r)[1:] + s))
            for a, b, s in zip(starts, starts[1:], dims)
        )
        for r in results
    )
'''


def _array_hessian_source(fn: Function, wrt: tuple, hvp_name: str) -> str:
    params = ", ".join(p.name for p in positional(fn))
    names = ", ".join(fn.params[i].name for i in wrt)
    args = _tuple_text(fn.params[i].name for i in wrt)
    rows = "(rows,)" if len(wrt) == 1 else "rows"
    pick = "[0][0]" if len(wrt) == 1 else ""
    return (
        f"def {fn.name}_hessian({signature(fn)}):\n"
        f'    """Hessian of {fn.name} in {names}: {hvp_name} (forward over reverse)\n'
        f"    along every unit direction at once (vector mode); block [i][j] has the\n"
        f'    shape x_i.shape + x_j.shape."""\n'
        f"    rows = {hvp_name}({params}, *_directions(({args})){_keywords(fn)})\n"
        f"    return _blocks({rows}, ({args})){pick}\n"
    )


def _array_jacobian_source(fn: Function, wrt: tuple, target: str) -> str:
    params = ", ".join(p.name for p in positional(fn))
    names = ", ".join(fn.params[i].name for i in wrt)
    args = _tuple_text(fn.params[i].name for i in wrt)
    dots = "(dots,)" if isinstance(fn.tree, int) else "dots"
    pick = "[0][0]" if len(wrt) == 1 and isinstance(fn.tree, int) else ""
    return (
        f"def {fn.name}_jacobian({signature(fn)}):\n"
        f'    """Jacobian of {fn.name} in {names}: forward mode, {target} with every\n'
        f"    input direction at once (vector mode); block [o][i] has the shape\n"
        f"    output_o.shape + x_i.shape.  (Forward mode: which mode is cheaper depends\n"
        f'    on the sizes; ad_compiler.jacobian chooses per call.)"""\n'
        f"    _, dots = {target}({params}, *_directions(({args})){_keywords(fn)})\n"
        f"    return _blocks({dots}, ({args})){pick}\n"
    )


def _keywords(fn: Function) -> str:
    """``, W=W``: the keyword-only parameters (module constants) passed on."""
    return "".join(f", {n}={n}" for n, _ in fn.keyword_only)


def _tuple_text(items) -> str:
    items = list(items)
    return items[0] + "," if len(items) == 1 else ", ".join(items)


def _unit(fn: Function) -> str:
    """A name for the identity matrix that no parameter has (it is bound first)."""
    name = "e"
    while any(p.name == name for p in fn.params):
        name += "_"
    return name


def hessian_source(fn: Function, wrt: tuple, hvp_name: str) -> str:
    """A function calling the emitted ``hvp_name`` once, along every direction."""
    if fn.param_shapes:
        return _array_hessian_source(fn, wrt, hvp_name)
    params = ", ".join(p.name for p in positional(fn))
    k = len(wrt)
    names = ", ".join(fn.params[i].name for i in wrt)
    e = _unit(fn)
    dirs = ", ".join(f"{e}[{j}]" for j in range(k))
    rows = "(rows,)" if k == 1 else "rows"
    return (
        f"def {fn.name}_hessian({signature(fn)}):\n"
        f'    """Hessian of {fn.name} in {names}, as rows: {hvp_name} (forward over\n'
        f"    reverse) along every direction at once (vector mode).\n"
        f'    """\n'
        f"    {e} = np.eye({k})\n"
        f"    rows = {hvp_name}({params}, {dirs}{_keywords(fn)})\n"
        f"    return tuple(tuple(np.broadcast_to(r, ({k},)).tolist()) for r in {rows})\n"
    )


def jacobian_source(fn: Function, wrt: tuple, target: str, mode: str) -> str:
    """A function calling the emitted ``target`` (jvp or vjp) once: J as rows."""
    if fn.param_shapes:
        return _array_jacobian_source(fn, wrt, target)
    params = ", ".join(p.name for p in positional(fn))
    k, m = len(wrt), len(fn.results)
    names = ", ".join(fn.params[i].name for i in wrt)
    head = (
        f"def {fn.name}_jacobian({signature(fn)}):\n"
        f'    """Jacobian of {fn.name} in {names}, as rows (one per output): {mode}\n'
        f"    mode, chosen for {k} input(s) and {m} output(s), in one call of {target}\n"
        f"    with every {'input direction' if mode == 'forward' else 'output seed'}"
        f" at once (vector mode).\n"
        f'    """\n'
    )
    e = _unit(fn)
    if mode == "forward":
        dirs = ", ".join(f"{e}[{j}]" for j in range(k))
        dots = "(dots,)" if isinstance(fn.tree, int) else "dots"
        return head + (
            f"    {e} = np.eye({k})\n"
            f"    _, dots = {target}({params}, {dirs}{_keywords(fn)})\n"
            f"    return tuple(tuple(np.broadcast_to(d, ({k},)).tolist()) for d in {dots})\n"
        )
    seeds = ", ".join(f"{e}[{i}]" for i in range(m))
    bars = "(bars,)" if k == 1 else "bars"
    return head + (
        f"    {e} = np.eye({m})\n"
        f"    bars = {target}({params}, {seeds}{_keywords(fn)})\n"
        f"    columns = [np.broadcast_to(b, ({m},)) for b in {bars}]\n"
        f"    return tuple(tuple(float(c[i]) for c in columns) for i in range({m}))\n"
    )
