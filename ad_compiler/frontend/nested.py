"""Lowering of nested functions: ``def`` and ``lambda`` inside the function, and
functions passed around as values.

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.  A ``def`` statement or
a ``lambda`` expression makes a compile-time :class:`FunctionValue`; nothing
reaches the IR until it is called, and a call is inlined exactly like a call to
a module-level helper (:meth:`CallLowering.inline`).  Guarantees:

* names resolve as Python resolves them: a nested function's own parameters
  and assignments are its locals; a free name is the enclosing function's
  local if that function assigns it anywhere (read at the moment of the call,
  as a closure cell is), else the module's name (the enclosing function's
  scope: module constants, closure, builtins);
* defaults are evaluated where the ``def`` or ``lambda`` runs, once;
* a function returned from a helper keeps the helper's names as they were at
  its ``return`` (``make_act("tanh")`` style builders);
* a module-level function or a known one (``np.tanh``) is a value too: it can be
  bound to a name, passed to a helper, put in a tuple and picked by a literal
  index, and called;
* what Python would do differently from an inlined copy is refused at the
  construct: ``nonlocal``/``global`` in a nested function, a write into an
  element of an enclosing function's array, a nested function calling itself,
  a function chosen by a condition only known when the function runs, a
  function returned from the differentiated function.
"""

from __future__ import annotations

import ast
import dataclasses

from ad_compiler.frontend.lower_values import (
    Closure,
    FunctionValue,
    StaticValue,
    TupleValue,
    Unbound,
)
from ad_compiler.frontend.scope import FuncRef, UserFuncRef, classify
from ad_compiler.frontend.source import lambda_def
from ad_compiler.ir.nodes import Const, Var, defined_names


def _declarations(node: ast.FunctionDef):
    """The ``nonlocal``/``global`` statements of a nested function (its own
    nested functions included: they cannot assign our names either)."""
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Nonlocal, ast.Global)):
            yield sub


def _reads(value, names, seen=None) -> bool:
    """Whether a function value's closure (as frozen) or defaults hold one of
    the IR values ``names``."""
    seen = set() if seen is None else seen
    if isinstance(value, TupleValue):
        return any(_reads(v, names, seen) for v in value.items)
    if isinstance(value, Var):
        return value.name in names
    if not isinstance(value, FunctionValue) or id(value) in seen:
        return False
    seen.add(id(value))  # a closure holds its own function: `def g` binds g
    held = list(value.defaults)
    closure = value.closure
    while closure is not None:
        held += list((closure.env or {}).values())
        closure = closure.parent
    return any(_reads(v, names, seen) for v in held)


class NestedLowering:
    """Nested functions and function values (mixed into Lowerer)."""

    closure: Closure | None = None  # the enclosing functions' names, if nested

    # --- making function values ----------------------------------------------------------
    def stmt_FunctionDef(self, stmt: ast.FunctionDef):
        if stmt.decorator_list:
            self.error(
                stmt.decorator_list[0],
                "a decorator on a nested function is not supported",
                "define the function at module level to decorate it",
            )
        for decl in _declarations(stmt):
            word = "nonlocal" if isinstance(decl, ast.Nonlocal) else "global"
            name = decl.names[0]
            self.error(
                decl,
                f"`{word} {name}`: a nested function assigning to a name outside "
                "it is not supported",
                f"return the new value and assign it where `{name}` lives: "
                f"{name} = {stmt.name}(...)",
            )
        self.env[stmt.name] = self.function_value(stmt, stmt.name)

    def expr_Lambda(self, node: ast.Lambda):
        return self.function_value(lambda_def(node), "lambda")

    def function_value(self, node: ast.FunctionDef, name: str) -> FunctionValue:
        # defaults are evaluated here, left to right, as Python does at the def
        defaults = tuple(self.expr(d) for d in node.args.defaults)
        closure = Closure(frozenset(self.locals), owner=self, parent=self.closure)
        return FunctionValue(name, node, self.src, self.scope, closure, defaults)

    def global_function(self, name: str, ref) -> FunctionValue:
        """A module-level or known function used as a value (``act = np.tanh``)."""
        return FunctionValue(name, ref=ref)

    # --- names --------------------------------------------------------------------------
    def enclosing(self, name: str) -> Closure | None:
        """The closure binding ``name`` (innermost first), None if it is global."""
        closure = self.closure
        while closure is not None and name not in closure.names:
            closure = closure.parent
        return closure

    def free_value(self, node: ast.AST, name: str):
        """The enclosing function's current binding of the free name ``name``,
        or None when no enclosing function assigns it (a global)."""
        closure = self.enclosing(name)
        if closure is None:
            return None
        value = closure.bindings().get(name)
        if value is None:
            self.error(
                node,
                f"`{name}` is read by a nested function before the enclosing "
                "function assigns it",
                f"assign `{name}` before the call (Python would raise NameError)",
            )
        if isinstance(value, Unbound):
            self.error(node, *value.message())
        return value

    def callee_value(self, func: ast.expr):
        """The function value a call calls when its callee is not a global name
        or attribute chain: a local or enclosing name, a tuple item, a call's
        result, a ``lambda``.  None for a callee the scope resolves."""
        if isinstance(func, ast.Attribute):
            return None
        if isinstance(func, ast.Name):
            if func.id not in self.locals and self.enclosing(func.id) is None:
                return None
            value = self.name(func, func.id)
        else:
            value = self.expr(func)
        if isinstance(value, StaticValue) and callable(value.value):
            # a function passed as a static argument (`act=np.tanh`): what the
            # scope would make of it, had the function named it
            ref = classify(value.value)
            if isinstance(ref, (FuncRef, UserFuncRef)):
                return self.global_function(ast.unparse(func), ref)
        if not isinstance(value, FunctionValue):
            what = ast.unparse(func)
            self.error(
                func,
                f"`{what}` is called but is not a function",
                "call a function: a def, a lambda, or a helper passed in",
            )
        return value

    # --- where a function value may not go ------------------------------------------------
    def not_a_function(self, node: ast.AST, value, hint: str = "call it") -> None:
        """Refuse a function value where a number (or tuple) is needed."""
        items = value.items if isinstance(value, TupleValue) else (value,)
        for item in items:
            if isinstance(item, TupleValue):
                self.not_a_function(node, item, hint)
            elif isinstance(item, FunctionValue):
                name = node.id if isinstance(node, ast.Name) else item.name
                self.error(node, f"function `{name}` used as a value", hint)

    def merge_functions(self, node, name: str | None, a, b, cond=None, arms=()):
        """Two paths bind ``name`` (or return) ``a`` and ``b``: when one is a
        function, the one a condition known now (``cond`` a constant) takes,
        unless it reads values made inside its arm (``arms``: the two arms'
        IR), which do not exist after the ``if``; else an error.  None when
        neither is a function."""
        if not (isinstance(a, FunctionValue) or isinstance(b, FunctionValue)):
            return None
        if isinstance(cond, Const):
            chosen = a if cond.value else b
            made = defined_names(arms[0] if cond.value else arms[1]) if arms else ()
            if not _reads(chosen, made):
                return chosen
            self.error(
                node,
                f"{f'`{name}`' if name else 'the function returned'} is made in "
                "this `if` from values computed in the branch taken",
                "make the function before the `if`, or call it inside the branch",
            )
        what = f"`{name}` is" if name else "the values returned are"
        self.error(
            node,
            f"{what} a different function on each path, chosen when the "
            "function runs",
            "call the functions in the branches, or choose by a constant",
        )

    def escape(self, value):
        """``value`` as a ``return`` hands it out: function values made here
        keep this function's names as they are now (its cells no longer change)."""
        if isinstance(value, TupleValue):
            return TupleValue(tuple(self.escape(v) for v in value.items))
        if isinstance(value, FunctionValue) and value.closure is not None:
            return dataclasses.replace(value, closure=self.frozen(value.closure))
        return value

    def frozen(self, closure: Closure | None) -> Closure | None:
        if closure is None:
            return None
        parent = self.frozen(closure.parent)
        if closure.owner is self:
            return Closure(closure.names, env=dict(self.env), parent=parent)
        return dataclasses.replace(closure, parent=parent)

    # --- calling one ------------------------------------------------------------------
    def call_function_value(self, node: ast.Call, callee: str, fn: FunctionValue):
        """``g(x)`` for a nested ``def`` or ``lambda`` ``g``: inlined, its free
        names read from its closure."""
        src = dataclasses.replace(fn.src, node=fn.node)
        inner = type(self)(src, fn.scope)
        inner.closure = fn.closure
        loc = src.loc(fn.node)
        inner.stack = ((loc.file, loc.line, loc.col),)  # two lambdas on a line differ
        if inner.stack[0] in self.stack:
            self.error(
                node,
                f"the nested function `{callee}` calls itself; not supported",
                "define it at module level (recursion is supported there), passing "
                "what it reads from the enclosing function as parameters",
            )
        inner.check_signature()  # (located at the def or lambda)
        values = self.arguments(node, callee, inner, fn.defaults)
        self.check_written_arguments(node, callee, inner)
        self.check_closure_writes(inner)
        return self.inline(inner, values)

    def check_closure_writes(self, inner) -> None:
        """Refuse a nested function writing into an element of an enclosing
        function's array: Python changes that array, an inlined copy would not."""
        fn = inner.src.node.name
        for sub in ast.walk(inner.src.node):
            if not isinstance(sub, (ast.Assign, ast.AugAssign)):
                continue
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
            for t in targets:
                if not (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)):
                    continue
                name = t.value.id
                if name not in inner.locals and inner.enclosing(name) is not None:
                    inner.error(
                        t,
                        f"a nested function writing into `{name}` of the enclosing "
                        "function is not supported",
                        f"pass `{name}` in as a parameter and return the new "
                        f"array: {name} = {fn}({name}, ...) in the enclosing "
                        "function",
                    )
