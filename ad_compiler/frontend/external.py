"""The copy of a ``@custom_derivative`` function that goes into an emitted module.

Emitted code calls a function with a custom derivative as it is, so the
emitted module carries its own copy of it.  That copy is not the user's text:
it is rebuilt from a checked syntax tree and printed with ``ast.unparse``.

Guarantees: :func:`external_source` returns only

* import lines of ``math`` and ``numpy`` (``import numpy as np``,
  ``from math import erf``) and ``NAME = <number>`` lines, for the module-level
  names the function reads;
* the ``def``: its name, its positional parameters with numbers as defaults,
  no annotations and no decorators, its docstring (printed by ``ast.unparse``,
  which escapes every control character and quote) and a body in the subset
  below.  Comments are not part of the tree, so none is copied.

The body may hold assignments (to names, tuples of names and subscripts),
``+=``-style updates, ``if``, ``for``, ``while``, ``break``, ``continue``,
``pass`` and ``return``, and expressions made of numbers, ``True``/``False``,
names, operators, comparisons, ``a if c else b``, tuples, subscripts and
slices, and calls of: any public function of ``math``, NumPy's ufuncs and the
NumPy functions ad_compiler knows, the builtins ad_compiler knows
(``abs``, ``pow``, ``max``, ``min``, ``float``, ``int``, ``round``, ``range``,
``enumerate``, ``zip``, ``len``) and the array methods and attributes it knows
(``x.sum()``, ``x.T``...).  The names it reads are its parameters and locals,
``math``/``numpy`` and what they export, and module-level numbers.  Anything
else — a string, another function of the file, an import of another module,
``getattr``, an attribute starting with ``_`` — is refused with an
:class:`UnsupportedError` pointing at it.  So the copy can compute, and
nothing else: nothing from the input reaches the emitted module except checked
identifiers, numbers and an escaped docstring.
"""

from __future__ import annotations

import ast
import math
import numbers

import numpy

from ad_compiler.errors import UnsupportedError
from ad_compiler.frontend.scope import (
    BUILTIN_FUNCTIONS,
    NUMPY_FUNCTIONS,
    FuncRef,
    ModuleRef,
    ValueRef,
    checked_lookup,
    literal_number,
    record_read,
)
from ad_compiler.frontend.source import FunctionSource
from ad_compiler.primitives.table import named

_MODULES = {"math": math, "numpy": numpy}
# attributes of an array value a copied function may use
_VALUE_ATTRIBUTES = frozenset(q.split(".", 1)[1] for q in named("ndarray.")) | {
    "T",
    "shape",
    "size",
    "ndim",
}
_NUMPY_CONSTANTS = frozenset({"pi", "e", "inf", "nan", "newaxis"})
_HINT = (
    "a function with a custom derivative is copied into emitted code: it may use "
    "numbers, its parameters, math/numpy functions, module-level numbers and "
    "the builtins ad_compiler knows"
)
# statements and expressions copied as they are, their fields rebuilt
_SIMPLE_STMTS = (ast.Break, ast.Continue, ast.Pass)
_OPERATORS = (ast.operator, ast.unaryop, ast.boolop, ast.cmpop)


def module_attribute_ok(module: str, attr: str) -> bool:
    """Whether ``module.attr`` may appear in a copy: a pure function or a constant."""
    if attr.startswith("_"):
        return False
    value = getattr(_MODULES[module], attr, None)
    if module == "math":
        return callable(value) or isinstance(value, float)
    return (
        attr in NUMPY_FUNCTIONS
        or attr in _NUMPY_CONSTANTS
        or isinstance(value, numpy.ufunc)
    )


def number_text(value) -> str:
    """Source text for a number, including the infinities and NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value!r}")'
    return repr(value)


def external_source(node_src: FunctionSource, fn=None, scope=None) -> str:
    """The checked copy of a custom-derivative function (see the module docstring).

    ``fn`` is the live function (API), else ``scope`` is the file's
    :class:`~ad_compiler.frontend.scope.StaticScope` (CLI).
    """
    copier = _Copier(node_src, fn, scope)
    text = ast.unparse(copier.function())
    lines = sorted(set(copier.bindings.values()))
    lines = [line for line in lines if line]
    return "\n".join(lines + ([""] if lines else []) + [text])


class _Copier:
    def __init__(self, src: FunctionSource, fn, scope):
        self.src, self.fn, self.scope = src, fn, scope
        self.bindings: dict[str, str] = {}  # global name -> its line ("" builtin)
        node = src.node
        self.locals = {a.arg for a in node.args.posonlyargs + node.args.args}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                self.locals.add(sub.id)

    def fail(self, node: ast.AST, message: str):
        loc = self.src.loc(node)
        raise UnsupportedError(message, loc, _HINT, self.src.line(loc))

    # --- the def ------------------------------------------------------------------
    def function(self) -> ast.FunctionDef:
        node = self.src.node
        for dec in node.decorator_list:
            func = dec.func if isinstance(dec, ast.Call) else dec
            if ast.unparse(func).split(".")[-1] != "custom_derivative":
                self.fail(
                    dec,
                    f"`{node.name}` has a custom derivative and the decorator "
                    f"`@{ast.unparse(func)}`, which cannot be copied into emitted code",
                )
        body = list(node.body)
        doc = []
        if ast.get_docstring(node, clean=False) is not None:
            text = ast.get_docstring(node, clean=True)
            doc, body = [ast.Expr(ast.Constant(text))], body[1:]
        out = ast.FunctionDef(
            name=node.name,
            args=self.arguments(node.args),
            body=doc + (self.stmts(body) or [ast.Pass()]),
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        out.type_params = []  # Python 3.12's field; unused before
        return ast.fix_missing_locations(out)

    def arguments(self, args: ast.arguments) -> ast.arguments:
        for star in (args.vararg, args.kwarg, *args.kwonlyargs):
            if star is not None:
                self.fail(star, "star and keyword-only parameters cannot be copied")
        defaults = []
        for d in args.defaults:
            value = literal_number(d)
            if value is None:
                self.fail(d, "a default value of a copied function must be a number")
            defaults.append(ast.Constant(value))
        return ast.arguments(
            posonlyargs=[ast.arg(a.arg) for a in args.posonlyargs],
            args=[ast.arg(a.arg) for a in args.args],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=defaults,
        )

    # --- statements -----------------------------------------------------------------
    def stmts(self, body: list) -> list:
        return [self.stmt(s) for s in body]

    def stmt(self, s: ast.stmt) -> ast.stmt:
        if isinstance(s, ast.Return) and s.value is not None:
            return ast.Return(self.expr(s.value))
        if isinstance(s, ast.Assign):
            return ast.Assign([self.target(t) for t in s.targets], self.expr(s.value))
        if isinstance(s, ast.AugAssign):
            return ast.AugAssign(
                self.target(s.target), self.op(s.op), self.expr(s.value)
            )
        if isinstance(s, ast.If):
            return ast.If(self.expr(s.test), self.stmts(s.body), self.stmts(s.orelse))
        if isinstance(s, (ast.For, ast.While)) and s.orelse:
            self.fail(s, "a loop's `else` cannot be copied into emitted code")
        if isinstance(s, ast.For):
            target, over = self.target(s.target), self.expr(s.iter)
            return ast.For(target, over, self.stmts(s.body), [])
        if isinstance(s, ast.While):
            return ast.While(self.expr(s.test), self.stmts(s.body), [])
        if isinstance(s, _SIMPLE_STMTS):
            return type(s)()
        self.fail(
            s, f"`{type(s).__name__}` statement cannot be copied into emitted code"
        )

    def target(self, t: ast.expr) -> ast.expr:
        if isinstance(t, ast.Name):
            return ast.Name(t.id, ast.Store())
        if isinstance(t, (ast.Tuple, ast.List)):
            return ast.Tuple([self.target(e) for e in t.elts], ast.Store())
        if isinstance(t, ast.Subscript):
            return ast.Subscript(self.expr(t.value), self.expr(t.slice), ast.Store())
        self.fail(t, "this assignment target cannot be copied into emitted code")

    # --- expressions ----------------------------------------------------------------
    def op(self, op):
        if not isinstance(op, _OPERATORS):
            self.fail(op, "unknown operator")
        return type(op)()

    def expr(self, e: ast.expr) -> ast.expr:
        method = getattr(self, f"expr_{type(e).__name__}", None)
        if method is None:
            self.fail(e, f"`{type(e).__name__}` cannot be copied into emitted code")
        return method(e)

    def expr_Constant(self, e: ast.Constant):
        v = e.value
        if isinstance(v, bool) or (
            isinstance(v, numbers.Real) and isinstance(v, (int, float))
        ):
            return ast.Constant(v)
        self.fail(
            e, f"a {type(v).__name__} constant cannot be copied into emitted code"
        )

    def expr_BinOp(self, e):
        return ast.BinOp(self.expr(e.left), self.op(e.op), self.expr(e.right))

    def expr_UnaryOp(self, e):
        return ast.UnaryOp(self.op(e.op), self.expr(e.operand))

    def expr_BoolOp(self, e):
        return ast.BoolOp(self.op(e.op), [self.expr(v) for v in e.values])

    def expr_Compare(self, e):
        ops = [self.op(o) for o in e.ops]
        return ast.Compare(
            self.expr(e.left), ops, [self.expr(c) for c in e.comparators]
        )

    def expr_IfExp(self, e):
        return ast.IfExp(self.expr(e.test), self.expr(e.body), self.expr(e.orelse))

    def expr_Tuple(self, e):
        return ast.Tuple([self.expr(v) for v in e.elts], ast.Load())

    def expr_Subscript(self, e):
        return ast.Subscript(self.expr(e.value), self.expr(e.slice), ast.Load())

    def expr_Slice(self, e):
        parts = [
            None if p is None else self.expr(p) for p in (e.lower, e.upper, e.step)
        ]
        return ast.Slice(*parts)

    def expr_Call(self, e: ast.Call):
        func, args = self.expr(e.func), []
        for a in e.args:
            if isinstance(a, ast.Starred):
                self.fail(a, "`*` arguments cannot be copied into emitted code")
            args.append(self.expr(a))
        keywords = []
        for kw in e.keywords:
            if kw.arg is None:
                self.fail(kw, "`**` arguments cannot be copied into emitted code")
            keywords.append(ast.keyword(kw.arg, self.expr(kw.value)))
        return ast.Call(func, args, keywords)

    def expr_Attribute(self, e: ast.Attribute):
        base = e.value
        if isinstance(base, ast.Name) and base.id not in self.locals:
            module = self.module_of(base)
            if module is not None and module_attribute_ok(module, e.attr):
                return ast.Attribute(ast.Name(base.id, ast.Load()), e.attr, ast.Load())
            self.fail(e, f"`{ast.unparse(e)}` cannot be copied into emitted code")
        value = self.expr(base)
        if e.attr not in _VALUE_ATTRIBUTES:
            self.fail(e, f"attribute `.{e.attr}` cannot be copied into emitted code")
        return ast.Attribute(value, e.attr, ast.Load())

    def expr_Name(self, e: ast.Name):
        if e.id not in self.locals and e.id not in self.bindings:
            line = self.binding(e)
            if line is None:
                self.fail(e, f"`{e.id}` cannot be copied into emitted code")
            self.bindings[e.id] = line
        return ast.Name(e.id, ast.Load())

    # --- global names ---------------------------------------------------------------
    def module_of(self, name: ast.Name) -> str | None:
        """``math`` or ``numpy`` if ``name`` is bound to that module, else None."""
        if self.fn is not None:
            value = self.fn.__globals__.get(name.id)
            found = [m for m, mod in _MODULES.items() if mod is value]
        else:
            ref = self.lookup(name)
            # (only math and numpy themselves: a copy calls nothing else)
            found = [ref.module] if isinstance(ref, ModuleRef) else []
            found = [m for m in found if m in _MODULES]
        if not found:
            return None
        self.bindings[name.id] = (
            f"import {found[0]}"
            if found[0] == name.id
            else f"import {found[0]} as {name.id}"
        )
        return found[0]

    def lookup(self, node: ast.Name):
        loc = self.src.loc(node)
        return checked_lookup(self.scope, node.id, loc, self.src.line(loc))

    def binding(self, node: ast.Name) -> str | None:
        """The line giving emitted code the module-level name ``node``, ``""`` for
        a builtin, None if it cannot be given."""
        name = node.id
        if self.module_of(node) is not None:
            return self.bindings[name]
        if self.fn is not None:
            return self._runtime_binding(name)
        ref = self.lookup(node)
        if isinstance(ref, ValueRef):
            return f"{name} = {number_text(ref.value)}"
        if isinstance(ref, FuncRef):
            module, _, attr = ref.qualname.rpartition(".")
            if module not in _MODULES and module != "builtins":
                return None  # numpy.linalg, scipy: not copied (the module docstring)
            if module == "builtins":
                return "" if attr in BUILTIN_FUNCTIONS and attr == name else None
            return _from_import(module, attr, name)
        imported = self.scope.imports.get(name)
        if imported is not None:  # `from math import erf`: not in the rule table
            stmt = ast.parse(imported).body[0]
            if isinstance(stmt, ast.ImportFrom) and stmt.level == 0:
                module, attr = stmt.module, stmt.names[0].name
                if module in _MODULES and module_attribute_ok(module, attr):
                    return _from_import(module, attr, name)
        return None

    def _runtime_binding(self, name: str) -> str | None:
        g = self.fn.__globals__
        if name not in g:
            return "" if name in BUILTIN_FUNCTIONS else None
        value = g[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            record_read(g, name, value, ValueRef(value))  # copied: watched (guard.py)
            plain = float(value) if isinstance(value, float) else int(value)
            return f"{name} = {number_text(plain)}"  # not numpy's repr
        for module, mod in _MODULES.items():
            attr = getattr(value, "__name__", None)
            if isinstance(attr, str) and getattr(mod, attr, None) is value:
                if module_attribute_ok(module, attr):
                    return _from_import(module, attr, name)
        return None


def _from_import(module: str, attr: str, name: str) -> str:
    alias = f" as {name}" if name != attr else ""
    return f"from {module} import {attr}{alias}"
