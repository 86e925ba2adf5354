"""``ad_compiler.jit`` (this module: ad_compiler.numba_jit): derivatives (and plain functions) compiled by Numba.

``jit(d)`` takes what the API returns — ``grad``, ``value_and_grad``, a
``vjp`` pullback, ``hessian``, ``hvp`` of scalar code; ``grad`` and
``value_and_grad`` of array code (:class:`JitArrayDerivative`: compiled per
pattern of argument shapes) — or a user's plain function, rewrites its emitted source into the Numba-ready form
(:mod:`ad_compiler.backend.numba_ready`) and compiles it with ``numba.njit``
(nopython mode only: there is no silent fallback to object mode).  The result
computes the same numbers as ``d``; its ``.source`` is the exact text Numba
compiled, ``.python`` the function it stands for.

The compiled function belongs to the live function, as the API's derivatives
do: each call first checks, by identity, the reads the derivative was
compiled from (``d.__adc_deps__``: the globals and closure values lowering
baked in, helpers it calls, the function's ``__code__`` and defaults; for a
plain function its code, defaults and every global it names, which Numba
freezes at compile time).  When one was rebound the derivative is compiled
again (``d``'s own refresh), its new ``.source`` rewritten and compiled by
Numba; each state's compilation is kept, so toggling a global back costs no
new compile.  The check costs ~0.2 µs a call; ``.dispatcher`` skips it.

Numba compiles at the first call (it needs the argument types).  If the
per-column arrays of a tape do not type (a column holding arrays, complex
numbers or integers used as indices), the all-lists form is compiled instead;
if that fails too, the call raises :class:`~ad_compiler.errors.CompileError`
naming the user's line Numba stopped at.  Numba is optional:
``pip install 'ad_compiler[jit]'``.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import linecache
import os
import re
import sys
import tempfile
import textwrap
import types

from ad_compiler.backend.loader import source_of
from ad_compiler.backend.numba_ready import rewrite, user_line
from ad_compiler.callables import ArrayDerivative, Pullback
from ad_compiler.errors import CompileError, UsageError
from ad_compiler.guard import Attributes, defaults_reads, unique, values_key

__all__ = ["jit", "JitFunction"]

INSTALL = "pip install 'ad_compiler[jit]'"


def _numba():
    try:
        import numba
    except ImportError:
        raise UsageError(
            f"ad_compiler.jit needs Numba, which is not installed: {INSTALL}"
        ) from None
    return numba


def jit(d):
    """``d`` compiled by Numba: a :class:`JitFunction`, or for a derivative
    object (pullback, hessian, hvp) the same object running compiled code.

    Raises :class:`UsageError` without Numba, :class:`CompileError` for a
    construct Numba has no form of.
    """
    numba = _numba()
    if isinstance(d, (JitFunction, JitArrayDerivative)):
        return d  # compiled already
    if isinstance(d, ArrayDerivative):
        return JitArrayDerivative(numba, d)
    if isinstance(d, Pullback):
        return _with_compiled(d, jit(d.compiled), source=True)
    if hasattr(d, "variant") and hasattr(d, "mode"):  # a Jacobian or Hessian
        return _jit_derived(d)
    if "compiled" in getattr(d, "__dict__", {}):  # an hvp with defaults
        return _with_compiled(d, jit(d.compiled))
    if inspect.isfunction(d) and isinstance(source_of(d, None), str):
        return JitFunction(numba, d, lambda: _derivative_parts(d))
    if inspect.isfunction(d):
        return _jit_plain(numba, d)
    raise UsageError(f"jit: cannot compile {d!r}: give a derivative or a function")


def _with_compiled(d, compiled, source: bool = False):
    """A copy of derivative object ``d`` calling ``compiled``."""
    new = object.__new__(type(d))
    new.__dict__.update(vars(d))
    new.compiled = compiled
    if source:
        new.source = compiled.source
    return new


def _jit_derived(d):
    if d._run is not None or d.fast is not None:
        raise UsageError(
            f"jit: `{d.__name__}` calls more than one emitted function; this "
            "version compiles hessians of scalar code"
        )
    done: dict[int, JitFunction] = {}

    def variant(args):
        compiled, pre, post = d.variant(args)
        if id(compiled) not in done:
            done[id(compiled)] = jit(compiled)
        return _one_direction_at_a_time(done[id(compiled)], d.n), pre, post

    new = _with_compiled(d, _one_direction_at_a_time(jit(d.compiled), d.n))
    new.variant, new.trees = variant, None  # (parameter trees: not compiled)
    return new


def _one_direction_at_a_time(compiled, n: int):
    """Vector-mode code called once per direction, with numbers for tangents.

    The emitted vector-mode code starts a tangent as the number ``0.0`` and
    lets it become an array of directions: Numba cannot unify a float with an
    array, so the compiled code is called with the ``k`` directions' components
    one at a time (a number each; the code is linear in them) and the results
    stacked back, as the vector-mode call returns them.
    """
    import numpy

    def call(*args):
        point, directions = args[:n], args[n:]
        k = len(directions[0])
        rows = [compiled(*point, *(d[i] for d in directions)) for i in range(k)]
        if not isinstance(rows[0], tuple):
            return numpy.array(rows)
        return tuple(numpy.array(col) for col in zip(*rows))

    call.source, call.jitted = compiled.source, compiled
    return call


def _derivative_parts(d) -> tuple:
    """What to compile for derivative ``d`` as it is now: its current emitted
    source (``d`` recompiled first if a global or closure value it baked in
    was rebound since, as calling ``d`` would), no scope (the emitted module
    is self-contained), and the reads to watch."""
    refresh = getattr(d, "__adc_refresh__", None)
    impl = refresh() if refresh is not None else None
    name = getattr(impl, "__name__", d.__name__)  # (f.__code__ replaced: renamed)
    return name, source_of(d), {}, None, tuple(getattr(d, "__adc_deps__", ()))


def _jit_plain(numba, f) -> JitFunction:
    """A user's function: its own source, undecorated, with its globals."""
    if f.__code__.co_freevars:
        raise CompileError(
            f"jit: `{f.__name__}` reads variables of an enclosing function "
            f"({', '.join(f.__code__.co_freevars)}); Numba compiles module-level functions"
        )
    return JitFunction(numba, f, lambda: _plain_parts(f))


def _plain_parts(f) -> tuple:
    """``f``'s source as it is now (its code may have been replaced), its
    globals (Numba freezes them at compile time) and what to watch: ``f``'s
    code and defaults, and every global its code names."""
    text = textwrap.dedent(inspect.getsource(f))
    tree = ast.parse(text)
    fn = tree.body[0]
    first = fn.lineno - 1  # after the decorators
    text = "\n".join(text.splitlines()[first:]) + "\n"
    start = f.__code__.co_firstlineno + first
    where = inspect.getsourcefile(f) or "<unknown>"

    def line_of(lineno: int, compiled: str) -> str:
        # the compiled text is the function's, with an import and a decorator
        # above and black's layout: find its line among the user's lines
        said = compiled.splitlines()[lineno - 1].strip()
        mine = [line.strip() for line in text.splitlines()]
        at = mine.index(said) if said in mine else None
        if at is None:
            return f"{where}: {said}"
        return f"{where}:{start + at}: {said}"

    scope = f.__globals__
    names = [name for name in _global_names(f.__code__) if name in scope]
    reads = [(scope, name, scope[name]) for name in names]
    deps = defaults_reads(f, code=True) + tuple(reads)
    return f.__code__.co_name, text, dict(scope), line_of, deps


def _global_names(code) -> list[str]:
    """The names ``code`` (and the code nested in it) may read as globals."""
    names = list(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names += _global_names(const)
    return list(dict.fromkeys(names))


def _cache_dir() -> str | None:
    """The directory where jit writes the Numba-ready modules of derivatives
    so that Numba's ``cache=True`` keeps their machine code between processes
    (``$ADC_JIT_CACHE``, else ``~/.cache/ad_compiler/jit``; ``ADC_JIT_CACHE=``
    empty: no caching), or None when it cannot be written.

    Only derivatives are cached: their emitted module is self-contained (the
    globals they read are baked into the text), so the file's name, a hash
    of that text, says everything the machine code depends on.  A plain
    function reads its globals, which Numba freezes at compile time and its
    cache does not watch: it is compiled from memory."""
    path = os.environ.get("ADC_JIT_CACHE")
    if path == "":
        return None
    path = path or os.path.join(os.path.expanduser("~"), ".cache", "ad_compiler", "jit")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def _cached_file(directory: str, name: str, source: str) -> str | None:
    """The file in ``directory`` holding ``source`` (written now if new), named
    by its hash so that it never changes once written; None if it cannot be."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    path = os.path.join(directory, f"adc_jit_{name}_{digest}.py")
    if os.path.exists(path):
        return path
    try:
        fd, scratch = tempfile.mkstemp(suffix=".py", dir=directory)
        with os.fdopen(fd, "w") as file:
            file.write(source)
        os.replace(scratch, path)  # atomic: a racing process writes the same text
    except OSError:
        return None
    return path


def _freshness(deps: tuple):
    """A function telling whether every ``(where, name, value)`` read still
    holds (by identity), spelled out without a loop (it runs on every call);
    None when there is nothing to watch."""
    if not deps:
        return None
    namespace: dict = {}
    tests = []
    for i, (where, name, value) in enumerate(deps):
        namespace[f"w{i}"], namespace[f"n{i}"], namespace[f"v{i}"] = where, name, value
        if isinstance(where, types.CellType):
            tests.append(f"w{i}.cell_contents is v{i}")
        elif type(where) is Attributes and not where.static and name.isidentifier():
            namespace[f"w{i}"] = where.obj  # f.__code__: an attribute read
            tests.append(f"w{i}.{name} is v{i}")
        else:
            tests.append(f"w{i}[n{i}] is v{i}")
    text = (
        "def fresh():\n"
        "    try:\n"
        f"        return {' and '.join(tests)}\n"
        "    except (KeyError, ValueError, AttributeError):  # unbound since\n"
        "        return False\n"
    )
    exec(text, namespace)
    return namespace["fresh"]


class JitFunction:
    """The Numba-compiled form of an emitted derivative or a plain function.

    ``.source``: the exact module text compiled (``@numba.njit`` defs);
    ``.python``: the Python function it computes the same values as;
    ``.dispatcher``: Numba's compiled function (call it directly to save the
    wrapper's ~0.4 µs, at the price of the currency check: it is the code of
    the function as it was when last called through the wrapper).

    ``parts()`` gives what to compile now: ``(name, source, scope, line_of,
    deps)``, ``deps`` the ``(where, name, value)`` reads to watch.
    """

    def __init__(self, numba, python, parts):
        self.python, self.__name__ = python, python.__name__
        self._numba, self._parts = numba, parts
        self._loaded: dict = {}  # (source, values read) -> its compiled forms
        self._renew()

    def _renew(self) -> None:
        """Compile what the function is now (or take it from ``_loaded``: a
        global toggled back compiles once) and watch what it read."""
        name, source, scope, line_of, deps = self._parts()
        key = (source, values_key(deps))
        self._now = self._loaded.get(key)
        if self._now is None:
            cache = None if scope else _cache_dir()  # (see _cache_dir)
            forms = [rewrite(source, k, cache is not None) for k in (True, False)]
            self._now = {
                "cache": cache,
                "forms": list(dict.fromkeys(forms)),  # arrays first, then lists
                "scope": scope,
                "line_of": line_of,
                "name": name,
            }
            self._load(0)
            self._loaded[key] = self._now
            if len(self._loaded) > 16:  # the oldest goes
                del self._loaded[next(iter(self._loaded))]
        self.source, self.dispatcher = self._now["source"], self._now["dispatcher"]
        self._fresh = _freshness(unique(deps))

    def _load(self, k: int) -> None:
        now = self._now
        now["form"], now["source"] = k, now["forms"][k]
        filename = None
        if now["cache"] is not None:
            filename = _cached_file(now["cache"], now["name"], now["source"])
        if filename is None:  # compiled from memory, its text in linecache
            filename = f"<adc-jit {self.__name__} {id(now)} {k}>"
            lines = now["source"].splitlines(keepends=True)
            linecache.cache[filename] = (len(now["source"]), None, lines, filename)
        namespace = dict(now["scope"])
        namespace["__name__"] = f"adc_jit_{self.__name__}"
        if now["cache"] is not None and os.path.isabs(filename):
            # a module of its own, importable by name: Numba's cache rebuilds
            # the machine code's environment by importing the function's module
            module = types.ModuleType(os.path.basename(filename)[:-3])
            module.__file__ = filename
            sys.modules[module.__name__] = module
            namespace = module.__dict__
        exec(compile(now["source"], filename, "exec"), namespace)
        now["dispatcher"], now["filename"] = namespace[now["name"]], filename
        self.source, self.dispatcher = now["source"], now["dispatcher"]

    def __call__(self, *args):
        if self._fresh is not None and not self._fresh():
            self._renew()  # the function, or a global it reads, changed
        try:
            return self.dispatcher(*args)
        except self._numba.core.errors.NumbaError as error:
            if self._now["form"] + 1 < len(self._now["forms"]):
                self._load(self._now["form"] + 1)
                return self(*args)
            raise CompileError(self._explain(error)) from None

    def _explain(self, error) -> str:
        """Numba's refusal with the user's line it happened at."""
        message = str(error)
        filename, line_of = self._now["filename"], self._now["line_of"]
        # (Numba prints a file's path relative to the working directory)
        name = re.escape(os.path.basename(filename))
        found = re.findall(rf'File "[^"]*?{name}", line (\d+)', message)
        where = ""
        if found:
            lineno = int(found[-1])
            if line_of is not None:
                where = line_of(lineno, self.source)
            else:
                where = user_line(self.source, lineno) or f"emitted line {lineno}"
        first = next(
            (
                line.strip()
                for line in message.splitlines()
                if line.strip() and not line.startswith(("Failed in", "During:"))
            ),
            message,
        )
        return (
            f"jit: Numba (nopython mode) cannot compile `{self.__name__}`"
            + (f" at {where}" if where else "")
            + f": {first}  (no fallback to object mode; read .source)"
        )


class JitArrayDerivative:
    """``jit`` of a derivative of array code: per pattern of argument shapes,
    the emitted function for it (``d.specialize(*args)``, as the derivative
    itself runs) compiled by Numba, at the first call with that pattern.

    Arrays must be NumPy arrays of numbers and the code within Numba's NumPy
    subset (a construct outside it is a ``CompileError`` naming the line);
    derivatives reading arrays from their scope or called with parameter
    trees are refused.  Stays current as the derivative does: when a global
    it read was rebound, every compilation is dropped and made anew.
    ``.source``/``.dispatcher``: those of the most recent call's compilation.
    """

    def __init__(self, numba, d: ArrayDerivative):
        if d.live:
            raise UsageError(
                f"jit: `{d.__name__}` reads arrays from its scope "
                f"({', '.join(k for _, _, k in d.live)}); pass them as arguments"
            )
        self.python, self.__name__, self._numba = d, d.__name__, numba
        self._by_shapes: dict = {}  # exact shapes -> JitFunction
        self._by_code: dict = {}  # id(emitted function) -> (it, JitFunction)
        self._last = None
        self._watch()

    def _watch(self) -> None:
        self._deps = tuple(self.python.__adc_deps__)
        self._fresh = _freshness(unique(self._deps))

    def __call__(self, *args):
        if self._fresh is not None and not self._fresh():
            self.python.__adc_refresh__()  # lowered again: compile anew
            self._by_shapes, self._by_code = {}, {}
            self._watch()
        key = tuple(getattr(a, "shape", type(a)) for a in args)
        compiled = self._by_shapes.get(key)
        if compiled is None:
            compiled = self._by_shapes[key] = self._for(args)
        self._last = compiled
        return compiled(*args)

    def _for(self, args) -> JitFunction:
        emitted = self.python.specialize(*args)
        found = self._by_code.get(id(emitted))
        if found is None:
            made = JitFunction(self._numba, emitted, lambda: _derivative_parts(emitted))
            found = self._by_code[id(emitted)] = (emitted, made)
        return found[1]

    @property
    def source(self) -> str:
        if self._last is None:
            raise UsageError(
                f"jit: `{self.__name__}` is compiled per pattern of argument "
                "shapes; call it once, then read .source"
            )
        return self._last.source

    @property
    def dispatcher(self):
        return None if self._last is None else self._last.dispatcher
