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

Numeric globals are read at compile time and baked into the derivative as
literals (as JAX does when it traces a closure).  :func:`recording_reads`
collects every global and closure value a live function's lowering used, so
that the API can check them on each call (:mod:`ad_compiler.guard`) and
compile again when one was rebound.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import inspect
import math
import numbers
import sys
import sysconfig
import threading
import types
from dataclasses import dataclass, field

import numpy

from ad_compiler.errors import Loc, UnsupportedError
from ad_compiler.frontend.bindings import module_bindings
from ad_compiler.frontend.lower_library import COMPOSED
from ad_compiler.frontend.source import lambda_def, locate, made_by_decorator
from ad_compiler.frontend.static_data import (
    static_definition,
    static_shape,
    written_constants,
)
from ad_compiler.guard import Attributes, defaults_reads
from ad_compiler.primitives.table import named

# Functions ad_compiler knows, by qualified name: the names the primitive rows
# list (see ad_compiler/primitives), and the few the front end lowers itself,
# into other primitives (np.square is x * x, np.clip a min of a max, np.full
# np.ones(...) * v, divmod a tuple of // and %), into loops (range,
# enumerate, zip) or from lists (sum, list, tuple, np.array: lower_lists.py).
SUGAR = {
    "numpy": frozenset({"square", "clip", "full", "full_like", "array"}) | COMPOSED,
    "builtins": frozenset(
        {"range", "enumerate", "zip", "divmod", "sum", "list", "tuple", "reversed"}
    ),
}


# The libraries whose functions lowering knows; their sub-modules and objects
# holding functions (``numpy.linalg``, ``scipy.special``, ``scipy.stats.norm``)
# are the dotted prefixes of the known names.
LIBRARIES = ("math", "numpy", "scipy")
KNOWN_FUNCTIONS = frozenset(
    q for q in named("") if q.split(".")[0] in LIBRARIES + ("builtins",)
) | {f"{module}.{name}" for module, names in SUGAR.items() for name in names}


def _namespaces() -> dict[str, frozenset[str]]:
    """Every library module (or namespace object) -> the names of the known
    functions directly in it: ``"numpy.linalg" -> {"solve", ...}``."""
    spaces: dict[str, set[str]] = {m: set() for m in LIBRARIES}
    for q in KNOWN_FUNCTIONS:
        parts = q.split(".")
        if parts[0] not in LIBRARIES:
            continue
        for i in range(1, len(parts) - 1):
            spaces.setdefault(".".join(parts[: i + 1]), set())
        spaces[".".join(parts[:-1])].add(parts[-1])
    return {m: frozenset(names) for m, names in spaces.items()}


MODULES = _namespaces()
MATH_FUNCTIONS = MODULES["math"]
NUMPY_FUNCTIONS = MODULES["numpy"]
BUILTIN_FUNCTIONS = frozenset(
    q.split(".", 1)[1] for q in KNOWN_FUNCTIONS if q.startswith("builtins.")
)
CONSTANTS = {
    "math": {"pi": math.pi, "e": math.e, "tau": math.tau},
    "numpy": {"pi": numpy.pi, "e": numpy.e},
}


@dataclass(frozen=True)
class ModuleRef:
    """A module we understand (``math``, ``numpy``, ``numpy.linalg``,
    ``scipy.special`` ...: a key of :data:`MODULES`), or a namespace object
    of one holding known functions (``scipy.stats.norm``)."""

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
class StaticRef:
    """A str, None or bool read from the function's scope (API only): a static
    value, like a static argument — branches on it are decided while lowering,
    and the derivative is compiled again when the name is rebound (watched)."""

    value: object


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
class DataRef:
    """An array read from the user's scope: a constant of the derivative that
    is not baked in but read again on each call, as ``where[key]`` (``where``
    a globals or attribute dict) or ``where.cell_contents`` (a closure cell).
    The CLI's module constants have ``where`` None and ``source`` the checked
    text of their definition (see :mod:`ad_compiler.frontend.scope_data`)."""

    name: str
    where: object = field(default=None, compare=False, repr=False)
    source: str | None = None
    shape: tuple | None = None  # the CLI's: its abstract shape (ir/shapes.py)


@dataclass(frozen=True)
class OpaqueRef:
    """Something ad_compiler cannot differentiate through; ``what`` says what it is."""

    what: str
    # a live module of the user's (API only): its functions can be looked up
    module: object = field(default=None, compare=False, repr=False)
    # a name in a library ad_compiler does not know (``numpy.fft``): what its
    # attributes are called in messages
    library: str = ""


@dataclass(frozen=True)
class AmbiguousRef(OpaqueRef):
    """A module-level name bound in more than one place, or in a place whose
    effect is not known without running the file (see :mod:`.bindings`).

    ``bindings`` are ``(how, Loc, source line)`` of each binding."""

    name: str = ""
    bindings: tuple = field(default=(), compare=False, repr=False)

    def error(self, loc: Loc, line: str | None) -> UnsupportedError:
        """The error for a use of the name at ``loc``: a note at each binding."""
        hows = ", ".join(f"{how} at line {b.line}" for how, b, _ in self.bindings)
        where = (
            f"more than once in the module ({hows})"
            if len(self.bindings) > 1
            else f"only in a place that may not run ({hows})"
        )
        error = UnsupportedError(
            f"`{self.name}` is bound {where}: which value the function sees is not "
            "known without running the file",
            loc,
            "bind it once, with a plain top-level statement, or pass it as a parameter",
            line,
        )
        error.notes = tuple(
            (f"`{self.name}` is bound here ({how})", b, text)
            for how, b, text in self.bindings
        )
        return error


def checked_lookup(scope, name: str, loc: Loc, line: str | None):
    """``scope.lookup(name)`` for a use at ``loc``; an ambiguous name is an error."""
    ref = scope.lookup(name)
    if isinstance(ref, AmbiguousRef):
        raise ref.error(loc, line)
    return ref


Ref = ModuleRef | FuncRef | ValueRef | UserFuncRef | OpaqueRef | DataRef | StaticRef


def is_data(value) -> bool:
    """Whether a live value is data read per call: a numeric NumPy array."""
    return isinstance(value, numpy.ndarray) and value.dtype.kind in "biuf"


def attribute(ref: Ref, attr: str) -> Ref:
    """``ref.attr``: ``math.sin`` -> FuncRef, ``math.pi`` -> ValueRef; a function
    of a live module of the user's -> UserFuncRef."""
    if isinstance(ref, OpaqueRef) and ref.module is not None:
        return _attribute_of(ref, attr)
    if isinstance(ref, ModuleRef):
        full = f"{ref.module}.{attr}"
        if attr in MODULES[ref.module]:
            return FuncRef(full)
        if full in MODULES:
            return ModuleRef(full)
        if attr in CONSTANTS.get(ref.module, {}):
            return ValueRef(CONSTANTS[ref.module][attr])
        return OpaqueRef(
            f"not a function or constant of `{ref.module}` ad_compiler knows",
            library=full,
        )
    return OpaqueRef("an attribute ad_compiler cannot see into")


def unknown_attribute(ref: OpaqueRef, attr: str) -> OpaqueRef:
    """``ref.attr`` for something that is not known: named in full when ``ref``
    is a name in a library (``numpy.fft.fft``)."""
    if ref.library:
        full = f"{ref.library}.{attr}"
        return OpaqueRef(f"ad_compiler knows no function `{full}`", library=full)
    return OpaqueRef(f"an attribute of {ref.what}")


def _attribute_of(ref: OpaqueRef, attr: str) -> Ref:
    """An attribute of a live module or object of the user's: its own
    (``vars``) arrays are read live (DataRef), numbers baked in and watched,
    functions and objects looked into; a method of its class is the bound
    method (inlined).  Nothing is read through a property or other
    descriptor, which would run the user's code."""
    obj = ref.module
    own = getattr(obj, "__dict__", {})
    # a name in a library module is named in full in the error (numpy.fft.fft)
    full = f"{ref.library}.{attr}" if ref.library else ""
    if attr in own:
        value = own[attr]
    else:
        static = inspect.getattr_static(obj, attr, None)
        if static is None or full:
            return OpaqueRef(f"an attribute of {ref.what}", library=full)
        if not isinstance(obj, types.ModuleType):
            # watched as `obj.attr` resolves without running descriptors: the
            # class's method redefined (`Model.predict = ...`) or an instance
            # attribute set over it later compiles again (a view of its own:
            # objects may define __eq__, so views are not shared)
            record_read(Attributes(obj, static=True), attr, static, ref)
        if isinstance(static, staticmethod) and inspect.isfunction(static.__func__):
            return UserFuncRef(attr, obj=static.__func__)
        if not inspect.isfunction(static) or isinstance(obj, types.ModuleType):
            what = type(static).__name__
            return OpaqueRef(
                f"`{attr}` is not a value of {ref.what} itself ({what}); "
                "properties and class attributes are not read"
            )
        return UserFuncRef(attr, obj=getattr(obj, attr))  # a bound method
    if is_data(value):
        return DataRef(attr, own)
    found = classify(value)
    if isinstance(found, (UserFuncRef, ValueRef, StaticRef)) or (
        isinstance(found, OpaqueRef) and found.module is not None
    ):
        record_read(own, attr, value, found)
        return found
    return OpaqueRef(f"an attribute of {ref.what}", library=full)


def _import_ref(module: str, attr: str | None) -> Ref:
    """What ``import module`` (``attr`` None) or ``from module import attr`` binds."""
    if module not in MODULES:
        # a library's module ad_compiler knows nothing of (numpy.fft): its
        # functions are named in full in the error at the call
        library = module.split(".")[0] in LIBRARIES
        if attr is None:
            return OpaqueRef(f"the module `{module}`", library=module * library)
        full = f"{module}.{attr}" * library
        return OpaqueRef(f"imported from the module `{module}`", library=full)
    if attr is None:
        return ModuleRef(module)
    return attribute(ModuleRef(module), attr)


def literal_number(node: ast.expr) -> int | float | None:
    """The value of ``2``, ``-1.5``, ``+3``; None for anything else.

    Iterative: ``- - - ... - 2`` as deep as Python parses costs no recursion.
    """
    negate = False
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        negate ^= isinstance(node.op, ast.USub)
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if not isinstance(node.value, bool):
            return -node.value if negate else node.value
    return None


class StaticScope:
    """Names bound at the top level of a module, read from its AST alone.

    A name bound by exactly one plain top-level statement (``N = 3``,
    ``import math``, ``def g``; an import repeated verbatim counts once) has
    the value that statement gives.  A name bound twice, or anywhere else
    (inside a top-level ``if``/``try``/``for``/``with``, by a walrus, ``+=``,
    ``del``, ``global`` in a function, ``globals()[...]``), or any module
    constant of a file that calls ``globals()``/``exec``, is an
    :class:`AmbiguousRef`: its value depends on what ran before the call, so
    using it is an error pointing at every binding.  Two plain assignments
    are refused too: Python would use whichever ran last before the call,
    which a reader of the text cannot know.
    """

    def __init__(self, module: ast.Module, file: str = "<module>", lines=()):
        self.file, self.lines = file, tuple(lines)
        self.refs: dict[str, Ref] = {}
        self.imports: dict[str, str] = {}  # name -> the import line binding it
        seen: dict[str, list] = {}  # name -> the refs of its plain bindings
        for stmt in module.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for alias in stmt.names:
                    one = type(stmt)(**{**stmt.__dict__, "names": [alias]})
                    bound = alias.asname or alias.name.split(".")[0]
                    self.imports[bound] = ast.unparse(one)
            for name, ref in self._bindings(stmt):
                seen.setdefault(name, []).append(ref)
                self.refs[name] = ref
        self._constants(module)
        self._ambiguous(module_bindings(module), seen)

    def _constants(self, module: ast.Module) -> None:
        """Module-level arrays defined by checked literal text
        (:mod:`.static_data`): a :class:`DataRef` carrying that text; any other
        non-number constant says why it is not known."""
        numpy_names = {n for n, r in self.refs.items() if r == ModuleRef("numpy")}
        for stmt in module.body:
            if not (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(self.refs.get(stmt.targets[0].id), OpaqueRef)
            ):
                continue
            name = stmt.targets[0].id
            text, why = static_definition(stmt.value, numpy_names)
            shape = static_shape(text) if text is not None else None
            if shape is not None:
                self.refs[name] = DataRef(name, None, f"{name} = {text}", shape)
            else:
                why = why or "NumPy refuses the arguments of its definition"
                self.refs[name] = OpaqueRef(
                    "a module-level value not known without running the file: "
                    f"{why}; pass it as a parameter, or define it with np.array, "
                    "np.zeros, np.linspace ... of literal numbers"
                )
        data = {n for n, r in self.refs.items() if isinstance(r, DataRef)}
        for name, line in written_constants(module, data).items():
            self.refs[name] = OpaqueRef(
                "a module-level array the file may write into after defining it "
                f"(line {line}), so its value is not known without running the "
                "file; pass it as a parameter, or define it once, unchanged"
            )

    def _ambiguous(self, found, seen: dict) -> None:
        """Replace the refs of names bound more than once by :class:`AmbiguousRef`."""
        places: dict[str, list] = {}
        for b in found.plain + found.other:
            places.setdefault(b.name, []).append(b)
        others = {b.name for b in found.other}
        for name, bs in places.items():
            refs = seen.get(name, [])
            same_import = all(
                isinstance(r, (ModuleRef, FuncRef)) and r == refs[0] for r in refs
            )
            if name not in others and (len(bs) == 1 or same_import):
                constant = isinstance(self.refs.get(name), (ValueRef, DataRef))
                if not (found.dynamic and constant):
                    continue
                bs = bs + found.dynamic  # a constant `globals()` may rebind
            self.refs[name] = AmbiguousRef(
                "bound in more than one place", name=name, bindings=self._notes(bs)
            )

    def _notes(self, bindings) -> tuple:
        out = []
        for b in sorted(bindings, key=lambda b: (b.node.lineno, b.node.col_offset)):
            loc = locate(b.node, self.file, self.lines)
            line = self.lines[loc.line - 1] if loc.line <= len(self.lines) else None
            out.append((b.how, loc, line))
        return tuple(out)

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
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if isinstance(stmt.value, ast.Lambda) and len(targets) == 1:
                if isinstance(targets[0], ast.Name):  # `sq = lambda z: z * z`
                    node = lambda_def(stmt.value)
                    yield targets[0].id, UserFuncRef(targets[0].id, node=node)
                    return
            value = literal_number(stmt.value)
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        if value is not None and isinstance(target, ast.Name):
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


def _live(path: str):
    """The live object named ``path`` (``"numpy.linalg.solve"``) if its library
    is imported already, else None: nothing is imported here (the user's
    objects can only come from a library the user imported)."""
    parts = path.split(".")
    obj = sys.modules.get(parts[0])
    for part in parts[1:]:
        obj = getattr(obj, part, None) if obj is not None else None
    return obj


_KNOWN_OBJECTS: dict[int, Ref] = {}
_KNOWN_LOADED: set[str] = set()  # the libraries _KNOWN_OBJECTS covers
_KNOWN_LOCK = threading.Lock()


def known_object(value) -> Ref | None:
    """The module, namespace or function of a library ``value`` is, if it is a
    known one: ``numpy.linalg`` -> ModuleRef, ``scipy.special.gammaln`` (the
    live ufunc) -> FuncRef.  Objects first seen under two names (``np.abs``
    is ``np.absolute``) get the first in sorted order."""
    loaded = {lib for lib in LIBRARIES + ("builtins",) if lib in sys.modules}
    if not loaded <= _KNOWN_LOADED:
        with _KNOWN_LOCK:
            table = dict(_KNOWN_OBJECTS)
            for path in sorted(MODULES):
                obj = _live(path) if path.split(".")[0] in loaded else None
                if obj is not None:
                    table.setdefault(id(obj), ModuleRef(path))
            for q in sorted(KNOWN_FUNCTIONS):
                obj = _live(q) if q.split(".")[0] in loaded else None
                if obj is not None and not isinstance(obj, types.ModuleType):
                    table.setdefault(id(obj), FuncRef(q))
            _KNOWN_OBJECTS.update(table)
            _KNOWN_LOADED.update(loaded)
    return _KNOWN_OBJECTS.get(id(value))


def classify(value) -> Ref:
    """What a live Python object means to the compiler."""
    if value is None or isinstance(value, (bool, str)):
        return StaticRef(value)  # kind = "tanh" in a factory: a static value
    known = known_object(value)
    if known is not None:
        return known
    library = library_name(value)
    if isinstance(value, types.ModuleType):
        what = f"the module `{value.__name__}`"
        return OpaqueRef(what, module=value, library=library or "")
    if library is not None:  # np.fft.fft, scipy.special.jv: refused at the call
        return OpaqueRef(f"`{library}`, a function of a library", library=library)
    if isinstance(value, numbers.Real) and not isinstance(value, numpy.ndarray):
        if isinstance(value, float):  # the plain value, not the subclass's __float__
            return ValueRef(float.__float__(value))
        return ValueRef(
            int(value) if isinstance(value, numbers.Integral) else float(value)
        )
    if inspect.isfunction(value) and hasattr(value, "__adc_deps__"):
        # a guarded derivative (ad_compiler.guard): its emitted code for the
        # values bound now, which the caller's derivative then depends on too
        impl = value.__adc_refresh__()
        for where, name, read in value.__adc_deps__:
            record_read(where, name, read, OpaqueRef("watched"))
        value = impl
    if callable(value) and hasattr(value, "__code__"):
        library = _library_of(value)
        if library is not None:  # refused at the call site in the user's file
            return OpaqueRef(library)
        return UserFuncRef(getattr(value, "__name__", "?"), obj=value)
    decorated = made_by_decorator(value)
    if decorated is not None:  # e.g. @functools.lru_cache: it cannot see inside
        return OpaqueRef(decorated)
    if _plain_object(value):  # its attributes are looked into (attribute())
        return OpaqueRef(f"the object `{type(value).__name__}`", module=value)
    return OpaqueRef(f"a value of type `{type(value).__name__}`")


def _library_of(value) -> str | None:
    """The library a function comes from (ad_compiler itself, the standard
    library or an installed package), or None for the user's own code.  Its
    source is not the user's: lowering it would report errors inside it."""
    module = getattr(value, "__module__", None) or ""
    if module == "ad_compiler" or module.startswith("ad_compiler."):
        return "ad_compiler's own function: a derivative taken inside the function differentiated"
    filename = getattr(getattr(value, "__code__", None), "co_filename", "")
    if filename and any(filename.startswith(root) for root in _LIBRARY_ROOTS if root):
        return f"a function of the installed module `{module or '?'}`, not of your file"
    return None


_LIBRARY_ROOTS = tuple(
    {sysconfig.get_paths()[k] + "/" for k in ("stdlib", "purelib", "platlib")}
)


def _plain_object(value) -> bool:
    """An instance of a user's class: its own attributes may be read."""
    return (
        hasattr(value, "__dict__")
        and not isinstance(value, (type, types.FunctionType, types.MethodType))
        and type(value).__module__ != "builtins"
        and not callable(value)
    )


_READS = threading.local()


@contextlib.contextmanager
def recording_reads():
    """Collect, in the list yielded, ``(where, name, value)`` for every global
    (``where`` the globals dict) and closure value (``where`` the cell) that a
    :class:`RuntimeScope` of this thread resolves to something lowering bakes
    in: numbers, the user's functions, the user's modules.  Names resolving to
    ``math``/``numpy`` and their functions are not collected (they are assumed
    never rebound: checking them would cost every call of every derivative).
    A compilation nested in another adds its reads to the outer one's too."""
    outer = getattr(_READS, "reads", None)
    reads: list = []
    _READS.reads = reads
    try:
        yield reads
    finally:
        _READS.reads = outer
        if outer is not None:
            outer.extend(reads)


def record_read(where, name: str, value, ref: "Ref") -> None:
    """Note that lowering used ``value``, read as ``name`` from ``where``."""
    reads = getattr(_READS, "reads", None)
    if reads is not None and not isinstance(ref, (ModuleRef, FuncRef)):
        reads.append((where, name, value))
        reads.extend(defaults_reads(value, code=True))  # a helper's, baked in too


class RuntimeScope:
    """Names as a live function sees them: closure, then globals, then builtins."""

    def __init__(self, fn):
        self.globals = getattr(fn, "__globals__", {})
        self.closure: dict[str, object] = {}
        self.cells: dict[str, object] = {}
        code = getattr(fn, "__code__", None)
        cells = getattr(fn, "__closure__", None) or ()
        if code is not None:
            for name, cell in zip(code.co_freevars, cells):
                self.cells[name] = cell
                try:
                    self.closure[name] = cell.cell_contents
                except (
                    ValueError
                ):  # an empty cell: bound later in the enclosing function
                    self.closure[name] = None

    def lookup(self, name: str) -> Ref | None:
        if name in self.closure:
            value = self.closure[name]
            if is_data(value):
                return DataRef(name, self.cells[name])
            ref = classify(value)
            record_read(self.cells[name], name, value, ref)
            return ref
        if name in self.globals:
            value = self.globals[name]
            if is_data(value):
                return DataRef(name, self.globals)
            ref = classify(value)
            record_read(self.globals, name, value, ref)
            return ref
        if hasattr(builtins, name):
            value = getattr(builtins, name)
            ref = classify(value)
            return ref if isinstance(ref, FuncRef) else OpaqueRef("a builtin")
        return None


def library_name(value) -> str | None:
    """The public qualified name of a module or function of a library whose
    functions lowering knows some of (``numpy.fft.fft``, ``scipy.special.jv``),
    for errors that name it in full; None for anything else.  Private
    modules are left out of the name (``scipy.special._logsumexp``)."""
    name = getattr(value, "__name__", None)
    if not isinstance(name, str):
        return None
    if isinstance(value, types.ModuleType):
        return name if name.split(".")[0] in LIBRARIES else None
    module = getattr(value, "__module__", None)
    if module is None and isinstance(value, numpy.ufunc):
        module = _ufunc_module(value)  # (SciPy's ufuncs do not say)
    if not isinstance(module, str) or module.split(".")[0] not in LIBRARIES:
        return None
    public = [part for part in module.split(".") if not part.startswith("_")]
    return ".".join(public + [name])


def _ufunc_module(value) -> str | None:
    """The loaded library module (``scipy.special``) holding the ufunc ``value``."""
    for path in ("numpy", "scipy.special"):
        if getattr(sys.modules.get(path), value.__name__, None) is value:
            return path
    return None


def library_advice(full: str) -> str:
    """What to do about a call of ``full``, a library function lowering does
    not know: the supported names of its module closest to it (or of another
    module, by the same name), or that the module has none; and
    ``@custom_derivative`` in any case."""
    import difflib

    module, _, attr = full.rpartition(".")
    known = sorted(MODULES.get(module, ()))
    close = [f"{module}.{n}" for n in difflib.get_close_matches(attr, known, n=3)]
    close += sorted(f"{m}.{attr}" for m, names in MODULES.items() if attr in names)
    if close:
        also = ", ".join(f"`{q}`" for q in dict.fromkeys(close))
        advice = f"ad_compiler supports {also}; if that is not what you need, "
    elif known:
        count = f"{len(known)} function" + "s" * (len(known) != 1)
        advice = (
            f"ad_compiler supports {count} of `{module}` "
            "(docs/functions.md lists them), none like this one; "
        )
    else:
        advice = f"ad_compiler supports no function of `{module}`; "
    return (
        advice + f"call `{attr}` from a function of yours marked "
        "@custom_derivative(partials), giving its derivative"
    )
