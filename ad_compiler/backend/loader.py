"""Turning emitted source into a live function, and its formatted source on demand.

:func:`load` executes the raw emitted text (codegen's output before black: valid
Python, one statement per line, with the ``# line N:`` comments) in a fresh
namespace holding nothing but what that text imports, and registers the text
with :mod:`linecache`.  black, a third or more of a first call's compilation,
runs only when someone asks for the source: :func:`source_of` (what every
``.source`` of ad_compiler reads) formats the module the first time, compiles
the formatted text and gives every function the module defined (the
derivative, its helpers ``_like``, ``_sum_to`` ..., recursive callees, copied
custom-derivative functions) the code object of the same name compiled from it,
and registers the formatted text with :mod:`linecache` under its own name.

Guarantees:

* the function is compiled from exactly the text in ``.source``: before the
  first read, tracebacks, debuggers and ``inspect.getsource`` show the raw
  lines (the same statements, one per line); from the first read on, exactly
  the lines of ``.source``, and the code that runs is compiled from it;
* black keeps the syntax tree, so the numbers are the same before and after;
  the swap is checked (each function's name, parameters, flags, free
  variables and defaults must match), and if ever one did not match, no code
  is swapped and ``.source`` is the raw text, which is then what runs;
* formatting happens once per module, under a lock: threads reading the source
  at once get one text; a thread calling the function while another formats
  it is safe (CPython's running frame keeps the code object it started with).

A plain function cannot compute an attribute when it is read, so what the API
hands out as the emitted function itself (``grad`` and ``value_and_grad`` of
scalar code, ``ArrayDerivative.specialize``) is formatted when handed out
(:func:`expose`); internal compilations have no ``.source`` attribute.
"""

from __future__ import annotations

import hashlib
import linecache
import threading
import types

from ad_compiler.backend.codegen import format_source
from ad_compiler.frontend.source import source_lines

_NO_DEFAULT = object()


def load(source: str, name: str, label: str):
    """Execute ``source`` (a module text) and return its function ``name``.

    The text is run as it is (raw: :func:`source_of` formats it when read)."""
    digest = _digest(source)
    filename = _register(source, label, digest)
    namespace: dict[str, object] = {"__name__": f"ad_compiler_generated_{digest}"}
    exec(compile(source, filename, "exec"), namespace)
    fn = namespace[name]
    fn._adc_loaded = _Loaded(source, label, filename, namespace)
    return fn


def source_of(obj, default=_NO_DEFAULT) -> str:
    """The source of a loaded function (black-formatted on the first read, see
    the module docstring), or the ``.source`` of a derivative object; ``default``
    (if given) for an object that has neither."""
    loaded = getattr(obj, "_adc_loaded", None)
    if isinstance(loaded, _Loaded):
        return loaded.formatted()
    if default is _NO_DEFAULT:
        return obj.source
    return getattr(obj, "source", default)


def raw_source_of(fn) -> str:
    """The text :func:`load` ran for ``fn`` (never formatted: to be loaded again
    as part of a larger module)."""
    return fn._adc_loaded.raw


def expose(fn):
    """``fn`` with its formatted source as the attribute ``.source`` (a plain
    function cannot compute an attribute when read: what the API hands out as
    the emitted function itself carries its text).  Objects that are not loaded
    functions are returned as they are (their ``.source`` is a property)."""
    if isinstance(getattr(fn, "_adc_loaded", None), _Loaded) and isinstance(
        fn, types.FunctionType
    ):
        if "source" not in vars(fn):
            fn.source = source_of(fn)
    return fn


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def _register(text: str, label: str, digest: str) -> str:
    """Put ``text`` in :mod:`linecache` under a name of its own and return it."""
    filename = f"<ad_compiler {label} {digest}>"
    # An entry with mtime None is never evicted by linecache.checkcache().
    lines = [line + "\n" for line in source_lines(text)]
    linecache.cache[filename] = (len(text), None, lines, filename)
    return filename


class _Loaded:
    """One loaded module: its raw text, namespace, and formatted text once read."""

    __slots__ = ("raw", "label", "filename", "namespace", "text", "lock")

    def __init__(self, raw: str, label: str, filename: str, namespace: dict):
        self.raw, self.label, self.filename = raw, label, filename
        self.namespace = namespace
        self.text: str | None = None
        self.lock = threading.Lock()

    def formatted(self) -> str:
        text = self.text
        if text is None:
            with self.lock:  # (a second thread waits for the first one's text)
                if self.text is None:
                    self.text = self._format_and_swap()
                text = self.text
        return text

    def _format_and_swap(self) -> str:
        text = format_source(self.raw)
        if text == self.raw:  # already black-clean: the code runs from it
            return text
        filename = _register(text, self.label, _digest(text))
        fresh: dict[str, object] = {"__name__": self.namespace["__name__"]}
        exec(compile(text, filename, "exec"), fresh)
        pairs = _pairs(self.namespace, self.filename, fresh, filename)
        if pairs is None:  # (never seen: black keeps the syntax tree)
            return self.raw
        for old, new in pairs:
            old.__code__ = new.__code__
            old.__doc__ = new.__doc__  # (black re-indents docstrings)
        return text


def _pairs(old: dict, old_file: str, new: dict, new_file: str):
    """``(function of the raw module, its formatted twin)`` for every function
    the raw module defined, or None if one has no twin of the same interface."""
    defined = _defined(old, old_file)
    twins = _defined(new, new_file)
    if defined.keys() != twins.keys():
        return None
    pairs = [(f, twins[k]) for k, f in defined.items()]
    return pairs if all(_same_interface(f, g) for f, g in pairs) else None


def _defined(namespace: dict, filename: str) -> dict:
    """The functions of ``namespace`` whose code was compiled from ``filename``."""
    return {
        k: v
        for k, v in namespace.items()
        if isinstance(v, types.FunctionType) and v.__code__.co_filename == filename
    }


def _same_interface(f, g) -> bool:
    """Whether ``g``'s code can stand in for ``f``'s (same name, parameters,
    locals, flags and free variables; defaults equal by value)."""
    a, b = f.__code__, g.__code__
    return (
        (a.co_name, a.co_argcount, a.co_posonlyargcount, a.co_kwonlyargcount)
        == (b.co_name, b.co_argcount, b.co_posonlyargcount, b.co_kwonlyargcount)
        and (a.co_varnames, a.co_freevars, a.co_cellvars, a.co_flags)
        == (b.co_varnames, b.co_freevars, b.co_cellvars, b.co_flags)
        and repr(f.__defaults__) == repr(g.__defaults__)
        and repr(f.__kwdefaults__) == repr(g.__kwdefaults__)
    )
