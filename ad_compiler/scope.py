"""What a global name in the user's function refers to.

Lowering asks a scope about every name that is not a local variable, and gets
back one of a few plain answers (:class:`ModuleRef`, :class:`FuncRef`,
:class:`ValueRef`, :class:`UserFuncRef`, :class:`OpaqueRef`).  Two scopes give
those answers:

* :class:`StaticScope` reads a module's AST only — imports, top-level numeric
  constants and function definitions.  The CLI uses it: it never imports or runs
  the file it compiles.
* :class:`RuntimeScope` looks at a live function's globals, closure and builtins.
  The decorator and the API use it, so ``import math as m`` or a closure over a
  constant resolve exactly as Python would.

Numeric globals are read once, at compile time, and baked into the derivative
as literals (as JAX does when it traces a closure).
"""

from __future__ import annotations

import ast
import builtins
import math
import numbers
import types
from dataclasses import dataclass, field

import numpy

# Functions ad_compiler knows, by qualified name.  Lowering maps each to IR.
MATH_FUNCTIONS = frozenset(
    "sin cos tan exp expm1 log log2 log10 log1p sqrt tanh sinh cosh asin acos atan "
    "atan2 hypot fabs pow floor ceil trunc copysign fmod".split()
)
NUMPY_FUNCTIONS = frozenset(
    "sin cos tan exp expm1 log log2 log10 log1p sqrt tanh sinh cosh arcsin arccos "
    "arctan arctan2 hypot abs absolute fabs power square".split()
    # the array functions (see lower_arrays.py)
    + "sum mean max amax min amin prod dot matmul outer einsum transpose reshape "
    "expand_dims squeeze concatenate stack where maximum minimum clip sign shape "
    "size zeros ones zeros_like ones_like full full_like eye arange copy".split()
)
BUILTIN_FUNCTIONS = frozenset(
    {"abs", "pow", "max", "min", "float", "int", "round"}
    | {"range", "enumerate", "zip", "len"}  # what a `for` loop runs over
)
CONSTANTS = {
    "math": {"pi": math.pi, "e": math.e, "tau": math.tau},
    "numpy": {"pi": numpy.pi, "e": numpy.e},
}
MODULES = {"math": MATH_FUNCTIONS, "numpy": NUMPY_FUNCTIONS}


@dataclass(frozen=True)
class ModuleRef:
    """A module we understand: ``math`` or ``numpy``."""

    module: str


@dataclass(frozen=True)
class FuncRef:
    """A known function, e.g. ``math.sin``, ``numpy.exp``, ``builtins.abs``."""

    qualname: str


@dataclass(frozen=True)
class ValueRef:
    """A number known at compile time."""

    value: int | float


@dataclass(frozen=True)
class UserFuncRef:
    """A Python function defined by the user: calls to it are inlined.

    ``node`` is its ``def`` in the module being compiled (the CLI: static), or
    ``obj`` the live function (the API: read through its own source and globals).
    """

    name: str
    node: ast.FunctionDef | None = field(default=None, compare=False, repr=False)
    obj: object = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class OpaqueRef:
    """Something ad_compiler cannot differentiate through; ``what`` says what it is."""

    what: str
    # a live module of the user's (API only): its functions can be looked up
    module: object = field(default=None, compare=False, repr=False)


Ref = ModuleRef | FuncRef | ValueRef | UserFuncRef | OpaqueRef


def attribute(ref: Ref, attr: str) -> Ref:
    """``ref.attr``: ``math.sin`` -> FuncRef, ``math.pi`` -> ValueRef; a function
    of a live module of the user's -> UserFuncRef."""
    if isinstance(ref, OpaqueRef) and ref.module is not None:
        if hasattr(ref.module, attr):
            found = classify(getattr(ref.module, attr))
            if isinstance(found, UserFuncRef):
                return found
        return OpaqueRef(f"an attribute of {ref.what}")
    if isinstance(ref, ModuleRef):
        if attr in MODULES[ref.module]:
            return FuncRef(f"{ref.module}.{attr}")
        if attr in CONSTANTS[ref.module]:
            return ValueRef(CONSTANTS[ref.module][attr])
        return OpaqueRef(
            f"not a function or constant of `{ref.module}` ad_compiler knows"
        )
    return OpaqueRef("an attribute ad_compiler cannot see into")


def _import_ref(module: str, attr: str | None) -> Ref:
    if module not in MODULES:
        if attr is None:
            return OpaqueRef(f"the module `{module}`")
        return OpaqueRef(f"imported from the module `{module}`")
    if attr is None:
        return ModuleRef(module)
    return attribute(ModuleRef(module), attr)


def literal_number(node: ast.expr) -> int | float | None:
    """The value of ``2``, ``-1.5``, ``+3``; None for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = literal_number(node.operand)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if not isinstance(node.value, bool):
            return node.value
    return None


class StaticScope:
    """Names bound at the top level of a module, read from its AST alone."""

    def __init__(self, module: ast.Module):
        self.refs: dict[str, Ref] = {}
        self.imports: dict[str, str] = {}  # name -> the import line binding it
        counts: dict[str, int] = {}
        for stmt in module.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for alias in stmt.names:
                    one = type(stmt)(**{**stmt.__dict__, "names": [alias]})
                    bound = alias.asname or alias.name.split(".")[0]
                    self.imports[bound] = ast.unparse(one)
            for name, ref in self._bindings(stmt):
                counts[name] = counts.get(name, 0) + 1
                self.refs[name] = ref
        for name, n in counts.items():
            if n > 1 and not isinstance(self.refs[name], (ModuleRef, FuncRef)):
                self.refs[name] = OpaqueRef("bound more than once at module level")

    @staticmethod
    def _bindings(stmt: ast.stmt):
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    yield alias.asname, _import_ref(alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    yield top, _import_ref(top, None)
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if alias.name == "*":
                    continue
                yield alias.asname or alias.name, _import_ref(
                    stmt.module or "", alias.name
                )
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if isinstance(stmt, ast.FunctionDef):
                yield stmt.name, UserFuncRef(stmt.name, node=stmt)
            else:
                yield stmt.name, OpaqueRef("an `async def` function")
        elif isinstance(stmt, ast.ClassDef):
            yield stmt.name, OpaqueRef("a class")
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = literal_number(stmt.value) if stmt.value is not None else None
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        if value is not None and isinstance(target, ast.Name):
                            if not isinstance(stmt, ast.AugAssign):
                                yield node.id, ValueRef(value)
                                continue
                        yield node.id, OpaqueRef(
                            "a module-level value not known without running the file"
                        )

    def lookup(self, name: str) -> Ref | None:
        if name in self.refs:
            return self.refs[name]
        if name in BUILTIN_FUNCTIONS:
            return FuncRef(f"builtins.{name}")
        if hasattr(builtins, name):
            return OpaqueRef("a builtin")
        return None


_KNOWN_OBJECTS: dict[int, str] = {}
for _module, _names in (("math", MATH_FUNCTIONS), ("numpy", NUMPY_FUNCTIONS)):
    _mod = math if _module == "math" else numpy
    for _name in sorted(_names):
        _KNOWN_OBJECTS.setdefault(id(getattr(_mod, _name)), f"{_module}.{_name}")
for _name in BUILTIN_FUNCTIONS:
    _KNOWN_OBJECTS[id(getattr(builtins, _name))] = f"builtins.{_name}"


def classify(value) -> Ref:
    """What a live Python object means to the compiler."""
    if value is math:
        return ModuleRef("math")
    if value is numpy:
        return ModuleRef("numpy")
    if isinstance(value, bool):
        return OpaqueRef("a bool")
    if isinstance(value, types.ModuleType):
        return OpaqueRef(f"the module `{value.__name__}`", module=value)
    if isinstance(value, numbers.Real) and not isinstance(value, numpy.ndarray):
        return ValueRef(
            int(value) if isinstance(value, numbers.Integral) else float(value)
        )
    qualname = _KNOWN_OBJECTS.get(id(value))
    if qualname is not None:
        return FuncRef(qualname)
    if callable(value) and hasattr(value, "__code__"):
        return UserFuncRef(getattr(value, "__name__", "?"), obj=value)
    return OpaqueRef(f"a value of type `{type(value).__name__}`")


class RuntimeScope:
    """Names as a live function sees them: closure, then globals, then builtins."""

    def __init__(self, fn):
        self.globals = getattr(fn, "__globals__", {})
        self.closure: dict[str, object] = {}
        code = getattr(fn, "__code__", None)
        cells = getattr(fn, "__closure__", None) or ()
        if code is not None:
            for name, cell in zip(code.co_freevars, cells):
                try:
                    self.closure[name] = cell.cell_contents
                except (
                    ValueError
                ):  # an empty cell: bound later in the enclosing function
                    self.closure[name] = None

    def lookup(self, name: str) -> Ref | None:
        for table in (self.closure, self.globals):
            if name in table:
                return classify(table[name])
        if hasattr(builtins, name):
            value = getattr(builtins, name)
            ref = classify(value)
            return ref if isinstance(ref, FuncRef) else OpaqueRef("a builtin")
        return None
