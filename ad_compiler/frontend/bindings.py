"""Every place a module binds a module-level name, read from its AST alone.

The CLI never runs the file it compiles, so it can only use a module-level
name whose value a reader sees without running anything: one plain top-level
statement binding it (``N = 3``, ``import math``, ``def g``).  Anything else
that may rebind a module-level name makes its value depend on what ran before
the call: an assignment, import, ``def`` or ``class`` inside a top-level
``if``/``try``/``for``/``while``/``with``/``match``, a ``for``/``with``/``except``
target, a walrus at module level, an augmented assignment, ``del``, a
``global`` statement in a function that then assigns or deletes the name,
``globals()[...] = ...``.  :func:`module_bindings` finds all of them (not the
names bound in a function's or class's own scope), with what kind of binding
each is, and what may rebind any name: ``globals()`` passed around, ``exec``,
``from m import *``, any ``setattr``/``sys.modules``/``import_module``/``__import__``
use, and an attribute write on an imported name or a call's result (the module
may import itself: ``import c; c.A = 3.0``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# calls that can bind any module-level name
_DYNAMIC = frozenset({"globals", "vars", "locals", "exec", "eval"})
_NAMESPACES = ("globals", "vars", "locals")
# names whose mere use may reach this module's namespace (`setattr(sys.modules[...])`)
_REACHING = frozenset({"setattr", "delattr", "__import__", "import_module", "modules"})
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_COMPOUND = {
    ast.If: "an `if`",
    ast.For: "a `for` loop",
    ast.AsyncFor: "a `for` loop",
    ast.While: "a `while` loop",
    ast.With: "a `with`",
    ast.AsyncWith: "a `with`",
    ast.Try: "a `try`",
    ast.Match: "a `match`",
}
if hasattr(ast, "TryStar"):
    _COMPOUND[ast.TryStar] = "a `try`"


@dataclass(frozen=True)
class Binding:
    """``name`` bound at ``node``; ``how`` says how, for a message ("inside an `if`")."""

    name: str
    node: ast.AST
    how: str


@dataclass
class ModuleBindings:
    plain: list  # Binding: one plain top-level statement each
    other: list  # Binding: every other binding of a module-level name
    dynamic: list  # Binding with name "*": may bind any name


def _names_stored(target: ast.AST):
    for node in ast.walk(target):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            yield node


def module_bindings(module: ast.Module) -> ModuleBindings:
    """The bindings of module-level names in ``module`` (see the module docstring)."""
    found = ModuleBindings([], [], [])
    walker = _Walker(found)
    for node in ast.walk(module):  # a module imported anywhere may be this one
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                walker.imported.add(bound)
                if isinstance(node, ast.Import):
                    walker.modules.add(bound)
        elif isinstance(node, ast.Attribute):
            walker.bases.add(id(node.value))
        elif isinstance(node, ast.Call):
            walker.bases.add(id(node.func))
    for stmt in module.body:
        walker.top_level(stmt)
    return found


class _Walker:
    def __init__(self, found: ModuleBindings):
        self.found = found
        self.keyed: set[int] = set()  # `globals()` calls read or written by key
        self.imported: set[str] = set()  # every name an import binds, anywhere
        self.modules: set[str] = set()  # the names `import m` binds, anywhere
        self.bases: set[int] = set()  # `m` of `m.attr` and of `m(...)`

    def add(self, name: str, node: ast.AST, how: str, plain: bool = False):
        (self.found.plain if plain else self.found.other).append(
            Binding(name, node, how)
        )

    # --- top-level statements: plain bindings, and what their parts bind ---------------
    def top_level(self, stmt: ast.stmt):
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for name in _names_stored(target):
                    self.add(name.id, name, "an assignment", plain=True)
                self.walk(target, None, None)  # `globals()["N"] = ...`, `x[i] = ...`
            self.walk(stmt.value, "module", "a walrus")
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name != "*":
                    bound = alias.asname or alias.name.split(".")[0]
                    self.add(bound, stmt, "an import", plain=True)
            self.dynamic(stmt)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "a class" if isinstance(stmt, ast.ClassDef) else "a `def`"
            self.add(stmt.name, stmt, kind, plain=True)
            for part in self.scoped(stmt, "module", "a walrus"):
                self.walk(*part)
        elif isinstance(stmt, ast.AnnAssign):
            return  # `N: float` alone binds nothing
        elif isinstance(stmt, ast.AugAssign):
            self.walk(stmt, "module", "an augmented assignment")
        else:
            where = _COMPOUND.get(type(stmt))
            self.walk(stmt, "module", f"inside {where}" if where else None)

    # --- everything else ------------------------------------------------------------
    def walk(self, node: ast.AST, scope, how: str | None):
        """Record what ``node`` and everything in it binds in the module.
        ``scope`` is ``"module"``, or the set of names a function declared
        ``global``, or None (a class body, a lambda, a comprehension: only
        walruses and `global` reach out).  Iterative, in source order: a
        2,000-term expression is as deep as the tree gets."""
        todo = [(node, scope, how)]
        while todo:
            node, scope, how = todo.pop()
            todo.extend(reversed(self.visit(node, scope, how)))

    def visit(self, node: ast.AST, scope, how) -> list:
        """Record what ``node`` itself binds; the ``(node, scope, how)`` to walk
        next, in order."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if scope == "module":
                self.add(node.name, node, how or "a nested `def`")
            return self.scoped(node, scope, how)
        if isinstance(node, ast.Lambda):
            return _each(node.args.defaults + node.args.kw_defaults, scope, how)
        if isinstance(node, _COMPREHENSIONS):  # its targets are its own
            parts = [getattr(node, f, None) for f in ("elt", "key", "value")]
            for gen in node.generators:
                parts += [gen.iter, *gen.ifs]
            return _each(parts, scope, how)
        self.binding(node, scope, how)
        self.dynamic(node)
        if isinstance(node, ast.NamedExpr):
            if scope == "module" or (
                isinstance(scope, set) and node.target.id in scope
            ):
                self.add(node.target.id, node.target, "a walrus")
            return [(node.value, scope, how)]
        return _each(ast.iter_child_nodes(node), scope, how)

    def scoped(self, node, scope, how) -> list:
        """A def or class: its decorators, defaults and bases in the enclosing
        scope, its body in its own (what to walk, in order)."""
        out = _each(node.decorator_list, scope, how)
        if isinstance(node, ast.ClassDef):
            out += _each(node.bases + [k.value for k in node.keywords], scope, how)
            # `global` in a class body applies to the class's own scope
            declared = _own_globals(node)
            if not declared:
                return out + _each(node.body, None, how)
            return out + _each(node.body, declared, f"`global` in `{node.name}`")
        args = node.args
        out += _each(args.defaults + args.kw_defaults, scope, how)
        declared = {
            name
            for sub in ast.walk(node)
            if isinstance(sub, ast.Global)
            for name in sub.names
        }
        # `global` applies to this function's own scope
        return out + _each(node.body, declared, f"`global` in `{node.name}`")

    def binding(self, node: ast.AST, scope, how):
        """The names ``node`` itself binds, if they are module-level names."""
        names: list[tuple[str, ast.AST]] = []
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.append((node.id, node))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    names.append((alias.asname or alias.name.split(".")[0], node))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.append((node.name, node))
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.append((node.name, node))
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.append((node.rest, node))
        elif isinstance(node, ast.Subscript) and _is_namespace(node.value):
            key = node.slice
            stored = isinstance(node.ctx, (ast.Store, ast.Del))
            if not stored:
                self.keyed.add(id(node.value))  # a read by key binds nothing
            elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                self.keyed.add(id(node.value))
                names.append((key.value, node))
        for name, where in names:
            if (
                scope == "module"
                or (isinstance(scope, set) and name in scope)
                or isinstance(node, ast.Subscript)  # globals() is the module's anywhere
            ):
                self.add(name, where, _how(node, how))

    def dynamic(self, node: ast.AST):
        reaching = None
        if isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if "*" in names:
                self.found.dynamic.append(
                    Binding(
                        "*",
                        node,
                        f"`from {'.' * node.level}{node.module or ''} import *`",
                    )
                )
            reaching = next((n for n in names if n in _REACHING), None)
        elif isinstance(node, ast.Name) and node.id in _REACHING:
            reaching = node.id
        elif isinstance(node, ast.Attribute) and node.attr in _REACHING:
            reaching = node.attr
        if reaching is not None:
            shown = "sys.modules" if reaching == "modules" else reaching
            shown += "" if reaching == "modules" else "()"
            self.found.dynamic.append(Binding("*", node, f"`{shown}`"))
            return
        if isinstance(node, ast.Attribute) and isinstance(
            node.ctx, (ast.Store, ast.Del)
        ):
            if self.may_be_module(node.value):
                # `import c; c.A = 3.0`, `import_module(__name__).A = 3.0`
                self.found.dynamic.append(Binding("*", node, "an attribute write"))
            return
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "__dict__"
            and self.may_be_module(node.value)
        ):
            self.found.dynamic.append(Binding("*", node, "`__dict__`"))
            return
        if (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and node.id in self.modules
            and id(node) not in self.bases
        ):
            # `import c; g(c)`: whatever receives the module may write to it
            what = f"`{node.id}` passed on as a value"
            self.found.dynamic.append(Binding("*", node, what))
            return
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _DYNAMIC
        ):
            if node.func.id in _NAMESPACES and node.args:
                if node.func.id == "vars" and self.may_be_module(node.args[0]):
                    self.found.dynamic.append(Binding("*", node, "`vars()`"))
                return  # vars(obj): an object's attributes
            if id(node) not in self.keyed:
                self.found.dynamic.append(Binding("*", node, f"`{node.func.id}()`"))

    def may_be_module(self, node: ast.AST) -> bool:
        """Whether ``node`` may be a module, this one included: an imported
        name (or an attribute of one), or anything computed (a call, an item)."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return not isinstance(node, ast.Name) or node.id in self.imported


def _own_globals(node: ast.ClassDef) -> set:
    """The names a ``global`` in the class body itself (not a nested scope) declares."""
    out, todo = set(), list(node.body)
    while todo:
        sub = todo.pop()
        if isinstance(sub, ast.Global):
            out.update(sub.names)
        elif not isinstance(
            sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
        ):
            todo.extend(ast.iter_child_nodes(sub))
    return out


def _is_namespace(node: ast.AST) -> bool:
    """Whether ``node`` is ``globals()`` (or ``vars()``, ``locals()``)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _NAMESPACES
        and not node.args
    )


def _how(node: ast.AST, how: str | None) -> str:
    if isinstance(node, ast.Subscript):
        return "`globals()[...]`"
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Del):
        return "`del`"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return f"an import{' ' + how if how else ''}"
    return how or "a binding"


def _each(nodes, scope, how) -> list:
    """``(node, scope, how)`` for each node present (defaults may be None)."""
    return [(node, scope, how) for node in nodes if node is not None]
