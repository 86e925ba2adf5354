"""Jacobians, Hessians and Hessian-vector products, from the emitted code.

Everything here is one emitted pass, run once:

* ``jacfwd(f)`` calls ``f``'s forward-mode code with every input direction at
  once: the tangent of input ``j`` is the unit vector ``e_j``, an array, and
  since a tangent only ever meets the primal values linearly (``cos(x) * ẋ``),
  the emitted scalar code runs unchanged and each output's tangent comes out
  as a row of the Jacobian (*vector mode*);
* ``jacrev(f)`` does the same in reverse mode, with the seeds ``ȳ_i = e_i``:
  each input's adjoint comes out as a column;
* ``jacobian(f)`` picks forward mode when ``f`` has at most as many inputs as
  outputs and reverse mode otherwise, as the seeds prescribe (a forward pass
  per input column, a reverse pass per output row), and says which in ``.mode``;
* ``hessian(f)`` is forward over reverse: the IR of ``grad(f)`` differentiated
  again in forward mode (no text is re-read), run in vector mode; ``hvp(f)``
  is the same code with one direction, ``H·v`` without forming ``H``.

Vector mode covers scalar code (numbers in, numbers out, with loops, branches
and calls); array code would need its rules to carry the extra axis.
"""

from __future__ import annotations

import numpy

from .api import _wrt, compile_derivative, scalar_only, trace_cached
from .errors import UsageError
from .ir import Function

__all__ = ["jacfwd", "jacrev", "jacobian", "hessian", "hvp", "gauss_newton"]


def _scalar_only(fn: Function, what: str) -> None:
    scalar_only(fn, f"{what} is not supported yet for array code (vector mode)")


def _primal_ir(f) -> Function:
    ir = getattr(f, "ir", None)
    return ir if isinstance(ir, Function) else trace_cached(f)


def _unit_vectors(k: int) -> list:
    return list(numpy.eye(k))


def _row(value, k: int) -> numpy.ndarray:
    """A tangent or adjoint as k numbers (a zero comes back as the scalar 0.0)."""
    return numpy.broadcast_to(numpy.asarray(value, dtype=float), (k,))


def _shape_by(tree, items: list):
    """``items`` arranged as ``tree`` (an int: one item; a tuple: a tuple)."""
    if isinstance(tree, int):
        return items[tree]
    if tree == tuple(range(len(items))):
        return tuple(items)  # the flat tuple: no walk per element
    return tuple(_shape_by(t, items) for t in tree)


def _matrix(values, k: int) -> list:
    """Tangents or adjoints (arrays of k, or a scalar zero) as rows of Python
    floats, converted by NumPy in one go (a float() per element costs more than
    the emitted code at n = 1,000)."""
    rows = [
        v if type(v) is numpy.ndarray and v.shape == (k,) else _row(v, k)
        for v in values
    ]
    return numpy.array(rows, dtype=float).tolist()


class Derived:
    """A Jacobian or Hessian function: one call of emitted code in vector mode.

    ``.mode`` is ``"forward"`` or ``"reverse"``; ``.source`` and ``.ir`` are
    those of the emitted function it calls.
    """

    def __init__(self, compiled, mode: str, run, name: str):
        self.compiled, self.mode, self._run = compiled, mode, run
        self.__name__ = self.__qualname__ = name
        self.__doc__ = f"{name}: {mode}-mode code run once in vector mode."

    def __call__(self, *args):
        return self._run(self.compiled, *args)

    @property
    def source(self) -> str:
        header = f"# {self.__name__}: {self.mode} mode, all directions in one call\n"
        return header + self.compiled.source

    @property
    def ir(self):
        return self.compiled.ir


def _forward(f, argnums, fn: Function, name: str) -> Derived:
    """J[i][j] = ∂y_i/∂x_j from one jvp call with ẋ_j = e_j."""
    wrt, wrt_tree = _wrt(fn, argnums)
    compiled = compile_derivative(f, "jvp", tuple(wrt))
    k, n = len(wrt), len(fn.params)

    def run(compiled, *args):
        args = args[:n]
        _, dots = compiled(*args, *_unit_vectors(k))
        outs = list(dots) if isinstance(fn.tree, tuple) else [dots]
        per_output = [_shape_by(wrt_tree, row) for row in _matrix(outs, k)]
        return _shape_by(fn.tree, per_output)

    return Derived(compiled, "forward", run, name)


def _reverse(f, argnums, fn: Function, name: str) -> Derived:
    """J[i][j] = ∂y_i/∂x_j from one vjp call with ȳ_i = e_i."""
    wrt, wrt_tree = _wrt(fn, argnums)
    compiled = compile_derivative(f, "vjp", tuple(wrt))
    m, n = len(fn.results), len(fn.params)

    def run(compiled, *args):
        args = args[:n]
        bars = compiled(*args, *_unit_vectors(m))
        bars = bars if isinstance(bars, tuple) else (bars,)
        rows = numpy.array(_matrix(bars, m)).T.tolist()  # one column per input
        per_output = [_shape_by(wrt_tree, row) for row in rows]
        return _shape_by(fn.tree, per_output)

    return Derived(compiled, "reverse", run, name)


def jacfwd(f, argnums=0) -> Derived:
    """The Jacobian of ``f`` in forward mode: ``J[output][argnum]``."""
    fn = _primal_ir(f)
    _scalar_only(fn, "jacfwd")
    return _forward(f, argnums, fn, f"{fn.name}_jacfwd")


def jacrev(f, argnums=0) -> Derived:
    """The Jacobian of ``f`` in reverse mode: ``J[output][argnum]``."""
    fn = _primal_ir(f)
    _scalar_only(fn, "jacrev")
    return _reverse(f, argnums, fn, f"{fn.name}_jacrev")


def jacobian(f, argnums=0) -> Derived:
    """The Jacobian of ``f`` in the cheaper mode: forward when ``f`` has no more
    inputs (in ``argnums``) than outputs, reverse otherwise; ``.mode`` says which."""
    fn = _primal_ir(f)
    _scalar_only(fn, "jacobian")
    wrt, _ = _wrt(fn, argnums)
    if len(wrt) <= len(fn.results):
        return _forward(f, argnums, fn, f"{fn.name}_jacobian")
    return _reverse(f, argnums, fn, f"{fn.name}_jacobian")


def hvp(f, argnums=0):
    """``(x, v) ↦ H(x)·v`` without forming H: the emitted forward-over-reverse
    code, called with the point and one direction per argnum (``.source``)."""
    fn = _primal_ir(f)
    _scalar_only(fn, "hvp")
    return compile_derivative(f, "hvp", argnums)


def hessian(f, argnums=0) -> Derived:
    """∂²f/∂x_i∂x_j, forward over reverse, in one vector-mode call: ``H[i][j]``
    (a number for an int ``argnums``)."""
    fn = _primal_ir(f)
    _scalar_only(fn, "hessian")
    if not isinstance(fn.tree, int):
        raise UsageError(f"hessian() needs `{fn.name}` to return one number")
    wrt, wrt_tree = _wrt(fn, argnums)
    compiled = compile_derivative(f, "hvp", tuple(wrt))
    k, n = len(wrt), len(fn.params)

    def run(compiled, *args):
        rows = compiled(*args[:n], *_unit_vectors(k))
        rows = rows if isinstance(rows, tuple) else (rows,)
        matrix = _matrix(rows, k)
        if isinstance(wrt_tree, int):
            return matrix[0][0]
        return tuple(_shape_by(wrt_tree, row) for row in matrix)

    return Derived(compiled, "forward over reverse", run, f"{fn.name}_hessian")


def gauss_newton(residuals, argnums=0) -> Derived:
    """The outer-product approximation of the Hessian of E = ½ Σₙ rₙ² (the seeds'
    H ≈ Σₙ ∇rₙ ∇rₙᵀ): ``JᵀJ`` from one Jacobian of ``residuals`` (a function
    returning the tuple of the rₙ), in the mode :func:`jacobian` picks.

    The exact Hessian is JᵀJ + Σₙ rₙ ∇²rₙ; the second term vanishes where the
    residuals do, or where they are linear in the parameters, and JᵀJ is
    positive semi-definite everywhere, which is what Gauss–Newton and
    Levenberg–Marquardt steps need.
    """
    jac = jacobian(residuals, argnums)

    def run(compiled, *args):
        J = numpy.atleast_2d(numpy.array(jac(*args), dtype=float))
        if J.shape[0] == 1 and isinstance(_primal_ir(residuals).tree, int):
            J = J.reshape(1, -1)
        G = J.T @ J
        if isinstance(_wrt(_primal_ir(residuals), argnums)[1], int):
            return float(G[0, 0])
        return tuple(tuple(float(v) for v in row) for row in G)

    return Derived(jac, jac.mode, run, f"{_primal_ir(residuals).name}_gauss_newton")


def forward_gradient(f, argnums, fn: Function, value: bool) -> Derived:
    """``grad`` of a derivative whose code holds a tape (a reverse sweep over a
    loop): forward mode in vector mode through it, one call."""
    wrt, wrt_tree = _wrt(fn, argnums)
    compiled = compile_derivative(f, "jvp", tuple(wrt))
    k, n = len(wrt), len(fn.params)

    def run(compiled, *args):
        y, dot = compiled(*args[:n], *_unit_vectors(k))
        g = _shape_by(wrt_tree, _row(dot, k).tolist())
        return (y, g) if value else g

    return Derived(compiled, "forward", run, f"{fn.name}_grad")


# --- emitted wrappers (adc compile --mode hessian | jacobian) -----------------------------
def hessian_source(fn: Function, wrt: tuple, hvp_name: str) -> str:
    """A function calling the emitted ``hvp_name`` once, along every direction."""
    params = ", ".join(p.name for p in fn.params)
    k = len(wrt)
    names = ", ".join(fn.params[i].name for i in wrt)
    dirs = ", ".join(f"e[{j}]" for j in range(k))
    rows = "(rows,)" if k == 1 else "rows"
    return (
        f"def {fn.name}_hessian({params}):\n"
        f'    """Hessian of {fn.name} in {names}, as rows: {hvp_name} (forward over\n'
        f"    reverse) along every direction at once (vector mode).\n"
        f'    """\n'
        f"    e = np.eye({k})\n"
        f"    rows = {hvp_name}({params}, {dirs})\n"
        f"    return tuple(tuple(np.broadcast_to(r, ({k},)).tolist()) for r in {rows})\n"
    )


def jacobian_source(fn: Function, wrt: tuple, target: str, mode: str) -> str:
    """A function calling the emitted ``target`` (jvp or vjp) once: J as rows."""
    params = ", ".join(p.name for p in fn.params)
    k, m = len(wrt), len(fn.results)
    names = ", ".join(fn.params[i].name for i in wrt)
    head = (
        f"def {fn.name}_jacobian({params}):\n"
        f'    """Jacobian of {fn.name} in {names}, as rows (one per output): {mode}\n'
        f"    mode, chosen for {k} input(s) and {m} output(s), in one call of {target}\n"
        f"    with every {'input direction' if mode == 'forward' else 'output seed'}"
        f" at once (vector mode).\n"
        f'    """\n'
    )
    if mode == "forward":
        dirs = ", ".join(f"e[{j}]" for j in range(k))
        dots = "(dots,)" if isinstance(fn.tree, int) else "dots"
        return head + (
            f"    e = np.eye({k})\n"
            f"    _, dots = {target}({params}, {dirs})\n"
            f"    return tuple(tuple(np.broadcast_to(d, ({k},)).tolist()) for d in {dots})\n"
        )
    seeds = ", ".join(f"e[{i}]" for i in range(m))
    bars = "(bars,)" if k == 1 else "bars"
    return head + (
        f"    e = np.eye({m})\n"
        f"    bars = {target}({params}, {seeds})\n"
        f"    columns = [np.broadcast_to(b, ({m},)) for b in {bars}]\n"
        f"    return tuple(tuple(float(c[i]) for c in columns) for i in range({m}))\n"
    )
