"""Derivatives that stay current with the globals and closure values they bake in.

Lowering a live function reads some of its globals and closure cells (a
module-level ``a = 2.0``, a function it calls) and bakes what it read into the
derivative.  :func:`guarded` returns a function that checks, on every call and
by identity, that each of those names is still bound to the object read, and
otherwise compiles the derivative again from the function as it now is (the
same answer as ``grad(f)`` compiled afresh).  Compilations are kept per set of
values read (numbers by value), so toggling a global back and forth compiles
each variant once.

Guarantees: a derivative that read nothing is returned as it is (no wrapper,
no cost); a guarded one has the emitted function's parameters and defaults,
costs one extra Python call and one identity test per name read, and carries
the current compilation's attributes (``.source``, ``.ir`` ...).  Every
compilation and refresh holds :data:`COMPILE_LOCK`, so threads racing on one
derivative compile it once.
"""

from __future__ import annotations

import inspect
import numbers
import threading
import types
import weakref

from ad_compiler.backend.loader import expose
from ad_compiler.errors import UsageError

# Held by every compilation (re-entrant: compilations nest).
COMPILE_LOCK = threading.RLock()

_MISSING = object()  # a name no longer bound


def current(where, name: str):
    """The object ``name`` is bound to now in ``where`` (a globals dict or a cell)."""
    if isinstance(where, types.CellType):
        try:
            return where.cell_contents
        except ValueError:  # an empty cell
            return _MISSING
    return where.get(name, _MISSING)


def current_value(where, key: str):
    """``where[key]``, or the contents of the cell ``where``; KeyError or
    ValueError when unbound (a scope array read live, see
    :mod:`ad_compiler.frontend.scope_data`)."""
    if isinstance(where, types.CellType):
        return where.cell_contents
    return where[key]


class Attributes:
    """An object's attributes seen as a mapping, so that a guard watches a
    function's ``__defaults__`` or a class's methods the way it watches a
    global: by identity (assigning ``f.__defaults__`` or ``Model.predict``
    binds a new object).  ``static``: looked up with
    ``inspect.getattr_static``, which runs no descriptor of the user's."""

    __slots__ = ("obj", "static", "__weakref__")

    def __init__(self, obj, static: bool = False):
        self.obj, self.static = obj, static

    def __getitem__(self, name: str):
        if self.static:
            found = inspect.getattr_static(self.obj, name, _MISSING)
            if found is _MISSING:
                raise KeyError(name)
            return found
        return getattr(self.obj, name)

    def get(self, name: str, default=None):
        try:
            return self[name]
        except (KeyError, AttributeError):
            return default


_ATTRIBUTES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def attributes(f) -> Attributes:
    """The one :class:`Attributes` view of the function ``f`` (one per function,
    so that reads through it are told apart by identity like globals dicts)."""
    view = _ATTRIBUTES.get(f)
    if view is None:
        view = _ATTRIBUTES[f] = Attributes(f)
    return view


def defaults_reads(f, code: bool = False) -> tuple:
    """``(where, name, value)`` reads of ``f``'s defaults (positional and
    keyword-only) and, with ``code``, its code object: lowering bakes them into
    the derivative, so ``f.__defaults__ = ...`` (or, for a helper it calls,
    ``helper.__code__ = ...``) compiles it again.  Empty for a function without
    defaults unless ``code``.  A bound method's are its function's."""
    f = getattr(f, "__func__", f)
    if not isinstance(f, types.FunctionType):
        return ()
    view = attributes(f)
    names = ("__code__",) if code else ()
    return tuple(
        (view, name, getattr(f, name))
        for name in names + ("__defaults__", "__kwdefaults__")
        if getattr(f, name) is not None
    )


def unbound_names(live) -> list[str]:
    """The names of ``(param, where, key)`` scope arrays no longer bound."""
    return [k for _, w, k in live if current(w, k) is _MISSING]


def live_call_code(live: tuple) -> tuple[str, str, str]:
    """The parts of a derivative's fast call that pass its scope arrays:
    statements fetching them into ``live`` (from ``self.live``), the items
    they add to the shape key, and the keyword arguments passing them.
    ``live`` holds ``(param, is a cell, key)``; names and keys are Python
    identifiers (checked), so they are spelled as such in the text."""
    if not live:
        return "", "", ""
    fetches, shapes, kwargs = [], [], []
    for i, (param, cell, key) in enumerate(live):
        if not (param.isidentifier() and key.isidentifier()):
            raise ValueError(f"not an identifier: {param!r}, {key!r}")
        fetches.append(f"L[{i}][1].cell_contents" if cell else f"L[{i}][1][{key!r}]")
        shapes.append(f"getattr(live[{i}], 'shape', None), ")
        kwargs.append(f", {param}=live[{i}]")
    fetch = (
        "    L = self.live\n"
        "    try:\n"
        f"        live = ({', '.join(fetches)},)\n"
        "    except (KeyError, ValueError):  # unbound since\n"
        "        self._unbound()\n"
    )
    return fetch, "".join(shapes), "".join(kwargs)


def unique(reads) -> tuple:
    """``(where, name, value)`` reads with one entry per name and place."""
    seen, out = set(), []
    for where, name, value in reads:
        if (id(where), name) not in seen:
            seen.add((id(where), name))
            out.append((where, name, value))
    return tuple(out)


def values_key(deps) -> tuple:
    """What the compilation depends on: numbers by value, other objects by identity."""
    out = []
    for where, name, _ in deps:
        value = current(where, name)
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            out.append((id(where), name, type(value), repr(value)))
        else:
            out.append((id(where), name, id(value)))
    return tuple(out)


def is_current(deps) -> bool:
    return all(current(where, name) is value for where, name, value in deps)


def guarded(impl, deps, build):
    """``impl`` (an emitted function) checked on each call against ``deps``
    (``(where, name, value)`` reads); ``build()`` compiles anew and returns
    ``(impl, deps)``.  Without deps, ``impl`` itself."""
    deps = unique(deps)
    if not deps:
        return impl
    namespace: dict = {}
    guard = _guard_function(impl, deps, namespace)
    variants = {values_key(deps): (impl, deps)}

    def refresh():
        """The compilation for the values bound now (compiled if new)."""
        with COMPILE_LOCK:
            impl, deps = namespace["_impl"], namespace["_deps"]
            if is_current(deps):  # another thread refreshed it meanwhile
                return impl
            key = values_key(deps)
            found = variants.get(key)
            if found is None:
                found = build()
                if not isinstance(found[0], types.FunctionType):
                    raise UsageError(
                        f"`{impl.__name__}` was compiled for numbers, but the values "
                        "it reads now make it array code; differentiate it again"
                    )
                variants[key] = found
                if len(variants) > 32:  # the oldest variant goes
                    del variants[next(iter(variants))]
            impl, deps = found[0], unique(found[1])
            deps = tuple((w, n, current(w, n)) for w, n, _ in deps)
            _install(guard, impl, deps, namespace)
            return impl

    namespace["_refresh"] = refresh
    guard.__adc_refresh__ = refresh
    _install(guard, impl, deps, namespace)
    return guard


def _guard_function(impl, deps, namespace: dict):
    exec("def _placeholder():\n    pass\n", namespace)
    guard = namespace.pop("_placeholder")
    guard.__name__ = guard.__qualname__ = impl.__name__
    guard.__defaults__ = impl.__defaults__
    return guard


def _prefix(params: list) -> str:
    """A prefix for the guard's own names that no parameter starts with."""
    prefix = "_adc_"
    while any(p.startswith(prefix) for p in params):
        prefix = "_" + prefix
    return prefix


def _guard_code(impl, deps):
    """The code of a guard calling ``_impl`` while every dep holds."""
    code = impl.__code__
    names = list(code.co_varnames[: code.co_argcount])
    params, p = ", ".join(names), _prefix(names)
    tests = []
    for i, (where, _, _) in enumerate(deps):
        if isinstance(where, types.CellType):
            tests.append(f"{p}w{i}.cell_contents is {p}v{i}")
        else:
            tests.append(f"{p}w{i}[{p}n{i}] is {p}v{i}")
    text = (
        f"def {impl.__name__}({params}):\n"
        "    try:\n"
        f"        {p}fresh = {' and '.join(tests) or 'True'}\n"
        "    except (KeyError, ValueError):  # unbound since: compile again\n"
        f"        {p}fresh = False\n"
        f"    if {p}fresh:\n"
        f"        return {p}impl({params})\n"
        f"    {p}old = {p}defaults\n"
        f"    {p}new = {p}refresh()\n"
        f"    return {p}new(*{p}redefault([{params}], {p}old, {p}new))\n"
    )
    scratch: dict = {}
    exec(compile(text, f"<ad_compiler guard of {impl.__name__}>", "exec"), scratch)
    return scratch[impl.__name__].__code__, p


def _redefault(args: list, old, new) -> list:
    """The arguments of a call that found the guard stale, with each one the
    guard's old defaults supplied replaced by the new compilation's default:
    Python bound the guard's defaults before the guard could see that
    ``f.__defaults__`` had been reassigned.  An argument is taken for a default
    when it is that very object (identity)."""
    old, fresh = old or (), getattr(new, "__defaults__", None) or ()
    if len(old) != len(fresh) or len(old) > len(args):
        return args
    start = len(args) - len(old)
    for k, value in enumerate(old):
        if args[start + k] is value:
            args[start + k] = fresh[k]
    return args


def _install(guard, impl, deps, namespace: dict) -> None:
    """Make ``guard`` call ``impl`` while ``deps`` hold, with ``impl``'s attributes."""
    shape = (impl.__code__.co_varnames[: impl.__code__.co_argcount],) + tuple(
        isinstance(where, types.CellType) for where, _, _ in deps
    )
    if shape != namespace.get("_shape"):
        guard.__code__, namespace["_p"] = _guard_code(impl, deps)
        namespace["_shape"] = shape
    p = namespace["_p"]
    for i, (where, name, value) in enumerate(deps):
        namespace[f"{p}w{i}"], namespace[f"{p}n{i}"] = where, name
        namespace[f"{p}v{i}"] = value
    namespace[f"{p}impl"], namespace[f"{p}refresh"] = impl, namespace["_refresh"]
    namespace[f"{p}defaults"], namespace[f"{p}redefault"] = (
        impl.__defaults__,
        _redefault,
    )
    namespace["_impl"], namespace["_deps"] = impl, deps
    guard.__defaults__ = impl.__defaults__
    if "source" in vars(guard):  # handed out with its text: so is the new code
        expose(impl)
    for attr, value in vars(impl).items():
        if not attr.startswith("__adc_"):
            setattr(guard, attr, value)
    guard.__doc__ = impl.__doc__
    guard.__wrapped__ = impl  # inspect.getsource(guard): the emitted code
    guard.__adc_deps__ = deps
