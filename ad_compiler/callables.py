"""The derivative objects: what ``grad``, ``jvp``, ``vjp`` ... return, their caches,
and the wiring that compiles them again when the code they read changes.

Every derivative function is the emitted code itself, loaded (no wrapper, so
calling it costs what the code costs), with ``.source`` (the emitted text,
black-formatted when first read: :mod:`ad_compiler.backend.loader`) and
``.ir`` (its IR) -- unless it baked in globals or closure values: then a guard
with the same parameters checks them on each call and compiles again when one
was rebound (:mod:`ad_compiler.guard`, about 0.1 µs a call).  Array code is an
:class:`ArrayDerivative`, compiled per pattern of argument shapes.  Compiled
derivatives are cached per (function, its code, kind, argnums); the source
read is checked to be the code that runs
(:func:`ad_compiler.frontend.source.from_function`).  A derivative of a
derivative emitted here is compiled from its IR (closure).
"""

from __future__ import annotations

import functools
import types
from dataclasses import replace

import numpy as np

from ad_compiler import sized
from ad_compiler.backend.loader import expose, source_of
from ad_compiler.driver import (
    WHAT,
    compile_ir,
    declared_shapes,
    lower,
    no_gc,
    unknown_shapes,
    uses_arrays,
)
from ad_compiler.errors import CompileError, ResultShapeError, UsageError
from ad_compiler.frontend.lower_trees import TreeNeeded
from ad_compiler.frontend.methods import source_and_scope
from ad_compiler.frontend.scope import recording_reads
from ad_compiler.guard import (
    COMPILE_LOCK,
    current,
    current_value,
    defaults_reads,
    guarded,
    is_current,
    live_call_code,
    unbound_names,
    unique,
)
from ad_compiler.ir import shape_infer, shapes
from ad_compiler.ir.nodes import (
    Function,
    Var,
    iter_eqns,
    positional,
    shift_tree,
    tree_leaves,
)
from ad_compiler.trees import is_plain

# ad_compiler.ad.jacobians builds on this module.  The one derivative of it this
# module needs -- a gradient through emitted code that holds a tape, taken in
# forward vector mode -- it registers here when imported (importing it from
# here would tie the two modules in an import cycle).
_forward_gradient = None


def register_forward_gradient(make) -> None:
    """Called by :mod:`ad_compiler.ad.jacobians` with its ``forward_gradient(f,
    argnums, fn, value)``."""
    global _forward_gradient
    _forward_gradient = make


_CACHE: dict[tuple, object] = {}

# ad_compiler.specialized (parameter trees, static arguments) builds on this
# module too, and registers here the derivative of a function that can only be
# compiled once its arguments' structure is seen, and the test for one.
_tree_derivative = None
_static_defaults = None


def register_tree_derivative(make, static_defaults) -> None:
    """Called by :mod:`ad_compiler.specialized` with ``TreeDerivative(f, kind,
    argnums, error)`` and ``has_static_defaults(f)``."""
    global _tree_derivative, _static_defaults
    _tree_derivative, _static_defaults = make, static_defaults


def trace(f) -> Function:
    """The evaluation-trace IR of a Python function."""
    return lower(*source_and_scope(f))


def wrt_of(fn: Function, argnums) -> tuple[tuple[int, ...], object]:
    """Normalise argnums into parameter indices and the shape of the result."""
    return wrt_of_arity(fn.name, len(positional(fn)), argnums)


def wrt_of_arity(name: str, n: int, argnums) -> tuple[tuple[int, ...], object]:
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    if not nums or not all(isinstance(i, int) for i in nums):
        raise UsageError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
    wrt = []
    for i in nums:
        if not -n <= i < n:
            raise UsageError(
                f"argnums {i} is out of range: `{name}` has {n} parameters"
            )
        wrt.append(i % n)
    return tuple(wrt), (0 if single else tuple(range(len(wrt))))


def compile_derivative(f, kind: str, argnums=0, arrays: bool = False, checkpoint=()):
    """The emitted, loaded derivative of ``f`` (cached), with ``.source`` and ``.ir``.

    Scalar code is compiled now and returned as the emitted function itself
    (behind a guard if it baked in globals or closure values, see
    :mod:`ad_compiler.guard`).  Array code (NumPy reductions, ``@``, indexing
    ... or parameters annotated as arrays, or ``arrays``: the caller passes
    arrays) is compiled on first call, once per pattern of argument shapes
    (see :class:`ArrayDerivative`).  ``checkpoint``: ``("revolve", k)`` for
    binomial checkpointing of its loops (ad/checkpoint_loops.py).

    The cache key holds ``f`` and what identifies the code it runs now (its
    code object and defaults), so a function redefined or given new code is
    compiled anew.  Threads asking for one derivative at once compile it once.
    """
    if isinstance(argnums, list):
        argnums = tuple(argnums)
    key = (f, _code_identity(f), kind, argnums, arrays, checkpoint)
    if not _hashable(f):  # a method of an object with __eq__ but no __hash__
        with COMPILE_LOCK:
            return _fresh_derivative(f, kind, argnums, arrays, checkpoint)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    with COMPILE_LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            cached = _fresh_derivative(f, kind, argnums, arrays, checkpoint)
            if not isinstance(f, (Pullback, BoundPrimals)):  # (they hold primals)
                _CACHE[key] = cached
    return cached


_NO_CHECKPOINT = (
    "checkpoint= needs a function of numbers and arrays (not parameter trees or "
    "static arguments) that ad_compiler reads from its source"
)


def _hashable(f) -> bool:
    try:
        hash(f)
    except TypeError:
        return False
    return True


def _code_identity(f) -> tuple:
    """What ``f`` runs now: its code object and defaults (by value)."""
    code = getattr(f, "__code__", None)
    return (code, repr(getattr(f, "__defaults__", None)))


def _fresh_derivative(f, kind: str, argnums, arrays: bool, checkpoint=()):
    """:func:`compile_derivative` without the cache: compiled now, behind a
    guard on the globals and closure values the compilation read."""

    def build():
        refresh = getattr(f, "__adc_refresh__", None)
        if refresh is not None:  # a derivative of a guarded derivative
            refresh()
        with recording_reads() as reads:
            compiled = _compile_derivative(f, kind, argnums, arrays, checkpoint)
        own = defaults_reads(f)  # f.__defaults__ reassigned: compiled anew
        return compiled, tuple(reads) + own + getattr(f, "__adc_deps__", ())

    compiled, deps = build()
    if isinstance(compiled, ArrayDerivative):
        compiled.watch(deps, build)
        return compiled
    if not isinstance(compiled, types.FunctionType) or not hasattr(compiled, "ir"):
        return compiled  # (a Jacobian's derivative: its parts are guarded)
    return guarded(compiled, deps, build)


@no_gc()
def _compile_derivative(f, kind: str, argnums, arrays: bool, checkpoint=()):
    if isinstance(f, ArrayDerivative) and not checkpoint:
        unknown = unknown_shapes(f.fn, declared_shapes(f.src.node))
        if all(s == shapes.SCALAR for s in unknown):  # NumPy functions of numbers
            f = f.compiled_for(unknown)
    if isinstance(f, (Pullback, BoundPrimals)):  # the primals stay bound
        wrt, _ = wrt_of_arity(f.__name__, len(f.interface().params), argnums)
        n = len(f.primals)
        shifted = tuple(i + n for i in wrt)
        inner = compile_derivative(
            f.compiled, kind, shifted[0] if isinstance(argnums, int) else shifted
        )
        # not cached: a pullback holds its primals, and each vjp call makes one
        return BoundPrimals(inner, f.primals)
    if isinstance(f, ArrayDerivative):  # closure for array code, per shape pattern
        wrt, wrt_tree = wrt_of_arity(f.__name__, _arity(f), argnums)
        return ArrayDerivative(f.fn, f.src, kind, wrt, wrt_tree, base=f)
    if hasattr(f, "variant"):  # a jacobian or hessian: forward mode through it
        return f.derivative(kind, argnums)
    if checkpoint and (
        isinstance(f, (Pullback, BoundPrimals, ArrayDerivative))
        or hasattr(f, "variant")
        or hasattr(f, "ir")
        or _static_defaults(f)
    ):
        raise UsageError(_NO_CHECKPOINT)
    if isinstance(getattr(f, "ir", None), Function) and hasattr(f, "src"):
        # closure: a derivative emitted here is differentiated from its IR
        src, fn = f.src, f.ir
        taped = _closure_check(fn, kind)
        if taped and kind in ("grad", "value_and_grad"):
            return _forward_gradient(f, argnums, fn, kind == "value_and_grad")
    else:
        if _static_defaults(f):  # kind="tanh": compiled per value, per call
            return _tree_derivative(f, kind, argnums)
        src, scope = source_and_scope(f)  # (a bound method: without `self`)
        try:
            fn = lower(src, scope)
        except TreeNeeded as e:  # a parameter is a tree: compiled per call
            if checkpoint:
                raise UsageError(_NO_CHECKPOINT) from None
            return _tree_derivative(f, kind, argnums, e)
        if checkpoint:
            fn = replace(fn, checkpoint=checkpoint)
    wrt, wrt_tree = wrt_of(fn, argnums)
    declared = declared_shapes(src.node)
    if arrays or fn.scope_sources or uses_arrays(fn) or None in declared.values():
        compiled = ArrayDerivative(fn, src, kind, wrt, wrt_tree)
        compiled.user_function = (f, argnums)  # called with trees: see _new_sizes
    else:
        compiled = compile_ir(fn, src, kind, wrt, wrt_tree)
    return compiled


def _closure_check(fn: Function, kind: str) -> bool:
    """Whether derivative IR ``fn`` holds a loop's tape; errors for what its
    derivative cannot be yet."""
    taped = False
    known = {g.name for g in fn.callees}
    for e in iter_eqns(fn.body):
        if (
            e.prim == "call"
            and e.param("custom") is None
            and e.param("fn") not in known
        ):
            raise UsageError(
                f"`{fn.name}` calls `{e.param('fn')}`, whose IR it does not hold; "
                "its derivative is not supported"
            )
        taped = taped or e.prim == "tape"
    base = kind.removesuffix("_vector")
    if taped and base in ("vjp", "hvp"):
        what = "a Hessian" if base == "hvp" else "reverse mode"
        raise UsageError(
            f"{what} of `{fn.name}`, which records a loop on a tape, is not "
            "supported yet (it needs reverse mode over the tape); forward mode "
            "over it works (jvp, jacfwd, grad of a one-input gradient)"
        )
    return taped


class ArrayDerivative:
    """A derivative of array code, compiled per pattern of argument shapes.

    NumPy broadcasts an axis exactly when its length is 1, so the emitted code
    depends only on each argument's number of axes and which of them have
    length 1 (:func:`ad_compiler.ir.shapes.signature`), never on the sizes: one
    compilation serves every batch size.  ``.source`` and ``.ir`` are those of
    the most recent call's compilation; before any call, of the compilation
    for arguments of unknown shape (the code ``adc compile`` writes).
    """

    def __init__(self, fn, src, kind, wrt, wrt_tree, base=None):
        self.fn, self.src, self.kind = fn, src, kind
        self.wrt, self.wrt_tree = wrt, wrt_tree
        # base: the ArrayDerivative this one differentiates (closure), whose
        # emitted code for each shape pattern is differentiated from its IR
        self.base = base
        self.n = len(positional(fn)) if base is None else _arity(base)
        # (param name, where, key): the arrays read from the user's scope, passed
        # by keyword on every call as bound then (frontend/scope_data.py)
        self.live = fn.scope_sources if base is None else base.live
        self.primal_ir = fn
        self._by_sizes: dict = {}  # exact argument shapes -> compiled (the fast path)
        self._sized = 0  # shape sets given code of their own (ad_compiler/sized.py)
        self._by_signature: dict = {}
        self._last = None
        target = fn_wrapper_target(fn, kind)
        if base is not None:
            target.__name__ = target.__qualname__ = f"{base.__name__}_{kind}"
            target.__doc__ = f"{WHAT[kind]} of {base.__name__}, from its IR."
        functools.update_wrapper(self, target)
        self.__class__ = _with_fast_call(self.n, False, _live_kinds(self.live))

    def compiled_for(self, signature, lazy: bool = False):
        """The compilation for arguments of these abstract shapes; ``lazy``:
        for arrays of another library (Dask), emitted so as to compute nothing
        itself (the IR's ``lazy``, docs/scaling.md)."""
        compiled = self._by_signature.get((signature, lazy))
        if compiled is not None:
            return compiled
        with COMPILE_LOCK:  # threads meeting new shapes at once compile once
            return self._compile_for(signature, lazy)

    def _compile_for(self, signature, lazy: bool = False):
        if self.base is not None:
            return self._derivative_of_base(signature, lazy)
        compiled = self._by_signature.get((signature, lazy))
        if compiled is None:
            fn = replace(self.fn, param_shapes=signature)
            # the compile errors of these shapes (len of a number ...)
            inferred = shape_infer.infer(fn)
            scalars = all(s == shapes.SCALAR for s in signature)
            # numbers in, but arrays made inside (np.array([x, y])): array code
            scalars = scalars and not shape_infer.makes_arrays(inferred)
            # numbers only: the plain scalar compilation (no shape bookkeeping)
            shaped = None if scalars else signature
            fn = replace(self.fn, param_shapes=shaped, lazy=lazy and not scalars)
            with no_gc():
                compiled = compile_ir(fn, self.src, self.kind, self.wrt, self.wrt_tree)
            self._by_signature[(signature, lazy)] = compiled
        return compiled

    def _derivative_of_base(self, signature, lazy: bool = False):
        compiled = self._by_signature.get((signature, lazy))
        if compiled is None:
            own = signature[: self.n]  # then the scope arrays' shapes
            shapes_in = own[: self.base.n] + signature[self.n :]
            inner = self.base.compiled_for(shapes_in, lazy)
            fn = inner.ir
            if _closure_check(fn, self.kind) and self.kind in (
                "grad",
                "value_and_grad",
            ):
                raise UsageError(
                    f"grad of `{fn.name}`, which records a loop on a tape, is not "
                    "supported yet for array code; jvp and jacfwd of it work"
                )
            with no_gc():
                compiled = compile_ir(fn, inner.src, self.kind, self.wrt, self.wrt_tree)
            self._by_signature[(signature, lazy)] = compiled
        return compiled

    def watch(self, deps, build) -> None:
        """Check ``deps`` (the globals and closure values lowering read) on each
        call, and lower ``fn`` again with ``build()`` when one was rebound."""
        deps = unique(deps)
        if deps:
            self._deps, self._build = deps, build
            self.__class__ = _with_fast_call(self.n, True, _live_kinds(self.live))

    @property
    def __adc_deps__(self) -> tuple:
        """The globals and closure values its code was lowered with (watched)."""
        return getattr(self, "_deps", ())

    def __adc_refresh__(self) -> None:
        """Lower again now if one of them was rebound (a derivative of this one
        asks before compiling itself)."""
        if self.__adc_deps__ and not is_current(self._deps):
            self._reload()

    def _reload(self) -> None:
        """Lower the function again: a global or closure value it read changed."""
        with COMPILE_LOCK:
            if is_current(self._deps):
                return
            new, deps = self._build()
            if not isinstance(new, ArrayDerivative):
                raise UsageError(
                    f"`{self.fn.name}` changed from array code to scalar code since "
                    f"{self.__name__} was compiled; differentiate it again"
                )
            self.fn = self.primal_ir = new.fn
            self.src, self._by_sizes, self._by_signature = new.src, {}, {}
            self._sized = 0
            self.live = new.live
            self.__class__ = _with_fast_call(self.n, True, _live_kinds(self.live))
            self._last = None
            self._deps = tuple((w, n, current(w, n)) for w, n, _ in unique(deps))

    def specialize(self, *primals):
        """The emitted function for arguments shaped like ``primals`` (and of
        their library: Dask arrays get the lazy compilation), with its
        ``.source``."""
        return expose(self.code_for(*primals))

    def code_for(self, *primals):
        """:meth:`specialize` without reading the source (see
        :func:`ad_compiler.backend.loader.source_of`)."""
        live = self.live_values()
        lazy = any(map(is_lazy, primals)) or any(map(is_lazy, live))
        return self.compiled_for(self._signature(primals, live), lazy)

    def _signature(self, primals, live) -> tuple:
        signature = shapes.signature(primals)
        signature += (shapes.SCALAR,) * (self.n - len(signature))  # defaults
        return signature + shapes.signature(live)

    def live_values(self) -> tuple:
        """The scope arrays as bound now (what the next call passes)."""
        try:
            return tuple(current_value(w, k) for _, w, k in self.live)
        except (KeyError, ValueError):
            self._unbound()

    def _unbound(self):
        names = unbound_names(self.live)
        raise UsageError(
            f"`{self.__name__}` reads `{names[0] if names else '?'}` from the "
            "scope of the function it differentiates, but that name is no longer "
            "bound; bind it again (or differentiate the function again)"
        )

    def __call__(self, *args):  # replaced by _with_fast_call's, which does the same
        live = self.live_values()
        try:
            compiled = self._by_sizes[self._sizes(args, live)]
        except (KeyError, IndexError):
            compiled = self._new_sizes(args, live)
        self._last = compiled
        return compiled(*args, **{p: v for (p, _, _), v in zip(self.live, live)})

    def _sizes(self, args, live=()) -> tuple:
        own = sum(
            ((getattr(args[i], "shape", None), type(args[i])) for i in range(self.n)),
            (),
        )
        return own + tuple(getattr(v, "shape", None) for v in live)

    def _new_sizes(self, args, live=()):
        """The compiled function for arguments of shapes not seen before."""
        routed = self._tree_route(args)
        if routed is not None:  # a tuple, list, dict or static argument
            return routed
        lazy = any(map(is_lazy, args)) or any(map(is_lazy, live))
        try:
            compiled = self.compiled_for(self._signature(args[: self.n], live), lazy)
        except ResultShapeError as e:
            raise self._restated(e, args) from None
        if len(args) >= self.n and len(self._by_sizes) < 64:
            key = self._sizes(args, live)
            if not lazy and self._sized < sized.MOST_SIZES:
                probing = self._probing(compiled, key)
                if probing is not None:  # files the code for these sizes
                    return probing
            self._by_sizes[key] = compiled
        return compiled

    def _probing(self, compiled, key):
        """The first call for the exact shapes ``key``, which files the code
        for them (:mod:`ad_compiler.sized`); None if ``compiled`` has no
        broadcast or sum back to leave out."""
        sites = getattr(compiled, "_probe_sites", None)
        if sites is None:
            sites = compiled._probe_sites = sized.probe_sites(compiled.ir)
        if not sites:
            return None
        self._sized += 1

        def record(final):
            self._by_sizes[key] = final
            self._last = final

        return sized.Probing(compiled, self.kind, sites, record)

    user_function = None  # (f, argnums) of a grad or value_and_grad of f

    def _restated(self, error: ResultShapeError, args) -> ResultShapeError:
        """``error`` saying the shape the function returns for ``args`` (found by
        calling it, on this error's path only) instead of the abstract one the
        compilation knows for every size, ``(n, n)``."""
        user = self.user_function or getattr(self.base, "user_function", None)
        if user is None or not error.found.startswith("an array"):
            return error
        try:
            result = user[0](*args[: self.n])
        except Exception:  # (the derivative would fail too: say what is known)
            return error
        if isinstance(result, tuple):
            return error.restate(f"a tuple of {len(result)} values")
        shape = getattr(result, "shape", None)
        if shape is None:
            return error
        return error.restate(f"an array of shape {tuple(shape)}")

    def _tree_route(self, args):
        """The wrapper for trees or static values among ``args`` (not cached
        by shape: their structure matters); None for numbers and arrays."""
        if self.user_function is None or is_plain(args):
            return None
        f, argnums = self.user_function
        if self.kind not in ("grad", "value_and_grad"):
            raise UsageError(
                f"{self.kind} of `{f.__name__}` with a tuple, list, dict or static "
                "argument is not supported; grad, value_and_grad, jvp, vjp, "
                "jacfwd, jacrev, jacobian and hessian take parameter trees"
            )
        routed = getattr(self, "_trees", None)
        if routed is None:
            routed = self._trees = _tree_derivative(f, self.kind, argnums)
        full = routed.bind(args)  # the defaults filled in
        wrapper = routed.for_arguments(full)
        return lambda *_, **live: wrapper(*full, **live)  # (the scope arrays)

    def _current(self):
        if self._last is not None:
            return self._last
        unknown = unknown_shapes(self.fn, declared_shapes(self.src.node))
        user = len(positional(self.fn))  # then a derivative's own, then scope arrays
        unknown = unknown[:user] + (None,) * (self.n - user) + unknown[user:]
        try:
            return self.compiled_for(unknown)
        except CompileError as e:
            raise UsageError(
                f"the code depends on the arguments' shapes ({e.message}); "
                "call the derivative once and then read .source, or read "
                ".specialize(*args).source"
            ) from None

    @property
    def source(self) -> str:
        return source_of(self._current())

    @property
    def ir(self):
        return self._current().ir


def _live_kinds(live) -> tuple:
    """What the fast call of a derivative reading ``live`` is written for."""
    return tuple((p, isinstance(w, types.CellType), k) for p, w, k in live)


def is_lazy(value) -> bool:
    """Whether ``value`` is an array of a library other than NumPy that NumPy's
    functions hand themselves to (``__array_function__``: Dask, CuPy ...)."""
    return hasattr(value, "__array_function__") and not isinstance(value, np.ndarray)


@functools.lru_cache(maxsize=None)
def _with_fast_call(n: int, watched: bool = False, live: tuple = ()) -> type:
    """ArrayDerivative with ``__call__`` written out for ``n`` parameters
    (``watched``: first checking the globals and closure values it read;
    ``live``: then fetching the scope arrays, see :func:`_live_kinds`).

    The dispatch runs on every call, so it is spelled without a loop: the key
    is the tuple of the arguments' exact shapes, a dict hit in well under a
    microsecond.
    """
    # (with the type: a tuple argument never takes the compilation of a
    # number's, nor a Dask array that of a NumPy array of its shape)
    key = "".join(
        f"getattr(args[{i}], 'shape', None), type(args[{i}]), " for i in range(n)
    )
    fetch, shape_key, kwargs = live_call_code(live)
    # after a reload, the call starts over: the new compilation may read other
    # scope arrays (a number attribute rebound to an array), fetched by new code
    check = (
        "    if not is_current(self._deps):\n"
        "        self._reload()\n"
        "        return self(*args)\n"
    )
    text = (
        "def __call__(self, *args):\n"
        + (check if watched else "")
        + fetch
        + "    try:\n"
        f"        compiled = self._by_sizes[({key}{shape_key})]\n"
        "    except (KeyError, IndexError):\n"
        f"        compiled = self._new_sizes(args{', live' if live else ''})\n"
        "    self._last = compiled\n"
        f"    return compiled(*args{kwargs})\n"
    )
    namespace: dict = {"is_current": is_current}
    exec(text, namespace)
    call = namespace["__call__"]
    return type("ArrayDerivative", (ArrayDerivative,), {"__call__": call})


def _arity(d: ArrayDerivative) -> int:
    """How many arguments the emitted code of ``d`` takes."""
    base = d.kind.removesuffix("_vector")
    if base == "vjp":  # one seed per output
        return d.n + len(d.fn.results if d.base is None else _interface(d.base).results)
    if base in ("jvp", "hvp"):  # one direction per argument differentiated
        return d.n + len(d.wrt)
    return d.n


def _interface(d: ArrayDerivative) -> Function:
    """The parameters and results of ``d``'s emitted code, as an IR function
    without a body (what a Jacobian of it needs to know before any call)."""
    fn = d.fn if d.base is None else _interface(d.base)
    params = positional(fn)  # the scope arrays are passed by the object itself
    base = d.kind.removesuffix("_vector")
    if base in ("jvp", "hvp"):
        params += tuple(Var(f"{fn.params[i].name}_dot") for i in d.wrt)
    elif base == "vjp":
        params += tuple(Var(f"y{i}_bar") for i in range(len(fn.results)))
    if base == "jvp":
        tree = (fn.tree, shift_tree(fn.tree, len(fn.results)))
    elif base == "value_and_grad":
        tree = (0, shift_tree(d.wrt_tree, 1))
    else:
        tree = d.wrt_tree
    results = tuple(Var(f"r{i}") for i in range(len(tree_leaves(tree))))
    return Function(name=d.__name__, params=params, body=(), results=results, tree=tree)


def fn_wrapper_target(fn: Function, kind: str):
    """A stand-in carrying the name and docstring ``functools.update_wrapper`` copies."""

    def target():
        pass

    target.__name__ = target.__qualname__ = f"{fn.name}_{kind}"
    target.__doc__ = f"{WHAT[kind]} of {fn.name} (compiled per argument shape pattern)."
    return target


def trace_cached(f) -> Function:
    """:func:`trace`, cached per function and the code it runs now."""
    return _trace_of(f, _code_identity(f)) if _hashable(f) else trace(f)


@functools.lru_cache(maxsize=None)
def _trace_of(f, identity) -> Function:
    return trace(f)


def any_array(values) -> bool:
    return any(shapes.of_value(v) != shapes.SCALAR for v in values)


class Pullback:
    """``ȳ ↦ ȳᵀ·J`` at fixed primals: the emitted vjp with the primals bound.

    It can be differentiated again (``jvp``, ``jacfwd`` ... of it, from the
    emitted vjp's IR, the primals staying bound): :class:`BoundPrimals`.
    """

    def __init__(self, compiled, primals: tuple):
        self.compiled, self.primals = compiled, primals
        self.outputs = len(compiled.primal_ir.results)
        self.multiple = not isinstance(compiled.primal_ir.tree, int)
        self.ir = compiled.ir
        self.__name__ = f"{compiled.primal_ir.name}_pullback"

    @functools.cached_property
    def source(self) -> str:  # (cached in the instance: it may be assigned)
        return source_of(self.compiled)

    def __call__(self, y_bar):
        seeds = tuple(y_bar) if self.multiple else (y_bar,)
        if len(seeds) != self.outputs:
            raise UsageError(
                f"pullback needs {self.outputs} cotangents, got {len(seeds)}"
            )
        return self.compiled(*self.primals, *seeds)

    def interface(self) -> Function:
        """Its one parameter (ȳ) and its results (one adjoint per primal)."""
        if self.multiple:
            raise UsageError(
                f"`{self.__name__}` takes a tuple of {self.outputs} cotangents; "
                "differentiating it is supported for a function of one output"
            )
        return replace(self.ir, params=(Var("y_bar"),), body=())


class BoundPrimals:
    """A derivative of a :class:`Pullback`: the emitted derivative of its vjp,
    called with the pullback's primals in front of the arguments."""

    def __init__(self, compiled, primals: tuple):
        self.compiled, self.primals = compiled, primals
        self.__name__ = getattr(compiled, "__name__", "derivative")
        self.arrays = any_array(primals)  # array code, whatever it is called with

    def __call__(self, *args):
        return self.compiled(*self.primals, *args)

    def interface(self) -> Function:
        """The parameters after the bound primals, and the results."""
        ir = signature_ir(self.compiled)
        return replace(ir, params=ir.params[len(self.primals) :], body=())

    @property
    def source(self) -> str:
        return source_of(self.compiled)

    @property
    def ir(self):
        return self.compiled.ir


def signature_ir(f) -> Function:
    """The parameters and results ``f`` is called with (its body if it has one)."""
    if isinstance(f, ArrayDerivative):
        return _interface(f)
    if hasattr(f, "interface"):  # a pullback, its derivatives, a jacobian ...
        return f.interface()
    ir = getattr(f, "ir", None)  # a derivative emitted here: its own IR
    ir = ir if isinstance(ir, Function) else trace_cached(f)
    if ir.keyword_only:  # scope arrays: passed by the derivative object itself
        ir = replace(ir, params=positional(ir), keyword_only=())
    return ir
