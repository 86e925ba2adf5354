"""The SymPy backend: IR and rules -> SymPy expressions, to prove derivatives right.

This module and :mod:`ad_compiler.symbolic.unroll` are the only ones that import SymPy,
and they import it lazily.  They read IR and never write it.

* :class:`SympyOps` is a builder whose operations build SymPy expressions, so a
  row of the rule table can be applied symbolically and compared with
  ``sympy.diff`` (``tests/test_rules.py`` does this for every row);
* :func:`to_sympy` turns a :class:`~ad_compiler.ir.nodes.Function` (a primal or an
  emitted derivative) into one SymPy expression per result, unrolling loops
  whose trip count is known and writing branches as ``Piecewise``;
* :mod:`ad_compiler.symbolic.check` uses both to prove emitted derivatives right.
"""

from __future__ import annotations

from ad_compiler.escape import docstring_lines
from ad_compiler.ir.builder import Ops
from ad_compiler.ir.nodes import Function, signature
from ad_compiler.lazy import lazy_import
from ad_compiler.symbolic.unroll import Unroller, apply_sympy, sympy_module


class SympyOps(Ops):
    """Rules applied to SymPy expressions."""

    def apply(self, prim, *ins, **params):
        sp = sympy_module()
        return apply_sympy(prim, *(sp.sympify(i) for i in ins), **params)

    def lit(self, value):
        sp = sympy_module()
        return sp.Rational(value) if isinstance(value, int) else sp.Float(value, 30)


def to_sympy(
    fn: Function, symbols: dict | None = None, program=None, exact: bool = True
) -> tuple:
    """One SymPy expression per result of ``fn`` (see :mod:`ad_compiler.symbolic.unroll`).

    Parameters become real SymPy symbols of the same names (or ``symbols[name]``);
    ``program`` holds the functions it calls by name (default: ``fn.callees``).
    Float literals are kept exact (``2.0 * x`` and ``2 * x`` compare equal)
    unless ``exact`` is false (then they stay floats, to be printed as code).
    Raises :class:`~ad_compiler.symbolic.unroll.NotExpressible` when there is no closed form.
    """
    sp = sympy_module()
    args = [
        (symbols or {}).get(p.name, sp.Symbol(p.name, real=True)) for p in fn.params
    ]
    if program is None:
        program = {g.name: g for g in fn.callees}
    return Unroller(program, exact=exact).call(fn, args)


def symbolic_gradient_source(fn: Function, wrt: tuple[int, ...], doc: str) -> str:
    """Python source of ``fn``'s gradient from ``sympy.diff``, shared work found by
    ``sympy.cse``: the code a computer-algebra system writes, for comparison with
    the emitted reverse-mode code (``adc compile --mode symbolic``).

    The function is ``<name>_grad`` with ``fn``'s parameters, returning one
    partial derivative (or a tuple of them); it needs only ``math``.
    Raises :class:`~ad_compiler.symbolic.unroll.NotExpressible` when ``fn`` has no closed
    form, and for functions SymPy cannot print as plain Python.
    """
    from ad_compiler.symbolic.unroll import NotExpressible

    try:
        return _gradient_source(fn, wrt, doc)
    except (OverflowError, ValueError) as exc:
        # `2 ** 20000` (more digits than Python prints), `1e999 * 0.0`: SymPy's
        # exact numbers go where a float cannot follow
        raise NotExpressible(
            f"`{fn.name}` holds a number SymPy cannot write as a float "
            f"({type(exc).__name__}: {str(exc).split(';')[0]})"
        ) from None


def _gradient_source(fn: Function, wrt: tuple[int, ...], doc: str) -> str:
    PythonCodePrinter = lazy_import("sympy.printing.pycode").PythonCodePrinter

    from ad_compiler.symbolic.check import almost_everywhere
    from ad_compiler.symbolic.unroll import NotExpressible, opaque_calls

    sp = sympy_module()
    if not isinstance(fn.tree, int):
        raise NotExpressible(
            f"`{fn.name}` returns a tuple; symbolic mode writes gradients of "
            "functions with one result"
        )
    xs = [sp.Symbol(p.name, real=True) for p in fn.params]
    (y,) = to_sympy(fn, {str(s): s for s in xs}, exact=False)
    if opaque_calls(y):
        raise NotExpressible(
            f"`{fn.name}` calls a function with a custom derivative, which SymPy "
            "cannot write out"
        )
    grads = [almost_everywhere(sp.diff(y, xs[i])) for i in wrt]
    taken = {p.name for p in fn.params}
    prefix = "t"
    while any(n.startswith(prefix) for n in taken):
        prefix += "_"
    definitions, reduced = sp.cse(grads, symbols=sp.numbered_symbols(prefix))
    printer = PythonCodePrinter(
        {"fully_qualified_modules": True, "standard": "python3"}
    )
    params = signature(fn)  # the defaults kept, as reverse mode keeps them
    doc = "\n    ".join(docstring_lines(doc))  # it names the file: escaped
    doc += "\n    " if "\n" in doc else ""
    lines = [f"def {fn.name}_grad({params}):", f'    """{doc}"""']
    for name, rhs in definitions:
        lines.append(f"    {name} = {printer.doprint(rhs)}")
    results = [printer.doprint(e) for e in reduced]
    lines.append(f"    return {', '.join(results)}")
    text = "\n".join(lines) + "\n"
    if "Not supported" in text:
        raise NotExpressible(
            f"SymPy cannot print the gradient of `{fn.name}` as Python"
        )
    return text
