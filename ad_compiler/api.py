"""The public API and the one place the pipeline stages are strung together.

    source ─parse→ AST ─lower→ IR ─jvp / vjp→ derivative IR ─optimize→ IR ─codegen→ text ─black→ source ─load→ function

The decorator and the CLI are thin shells over :func:`derivative_ir`,
:func:`emit` and :func:`compile_file`.  JAX's names and conventions:

* ``grad(f, argnums=0)`` — ∂f/∂args[argnums] (a tuple when ``argnums`` is a tuple);
  also ``@grad`` and ``@grad(argnums=(0, 1))``;
* ``value_and_grad(f, argnums=0)`` — ``(f(*args), grad(f)(*args))``;
* ``jvp(f, primals, tangents)`` — ``(y, ẏ)``;
* ``vjp(f, *primals)`` — ``(y, pullback)`` with ``pullback(ȳ)`` the tuple of input adjoints;
* ``trace(f)`` — the IR of ``f``.

Every derivative function is the emitted code itself, loaded (no wrapper, so
calling it costs what the code costs), with ``.source`` (the emitted text) and
``.ir`` (its IR) -- unless it baked in globals or closure values: then a guard
with the same parameters checks them on each call and compiles again when one
was rebound (:mod:`ad_compiler.guard`, about 0.1 µs a call).  Compiled
derivatives are cached per (function, its code, kind, argnums); the source
read is checked to be the code that runs (:func:`ad_compiler.frontend.source.from_function`).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import threading
import types
from dataclasses import replace

from ad_compiler.version import __version__
from ad_compiler.backend.codegen import (
    emit_function,
    emit_module,
    format_source,
    helpers_for,
    imports_for,
)
from ad_compiler.ad.batching import batch
from ad_compiler.errors import CompileError, CompileErrors, UsageError
from ad_compiler.escape import printable
from ad_compiler.ad.forward import jvp as jvp_transform
from ad_compiler.ad.forward import tangent_name
from ad_compiler.ir import shapes
from ad_compiler.ir.nodes import (
    Const,
    For,
    Function,
    Var,
    blocks,
    iter_eqns,
    shift_tree,
    tree_leaves,
)
from ad_compiler.ir.primitives import PRIMITIVES
from ad_compiler.backend.loader import load
from ad_compiler.backend.inplace import emitted_form
from ad_compiler.frontend.lower import lower_function
from ad_compiler.opt.passes import (
    drop_shape_noops,
    fix_parameters,
    optimize,
    own_results,
    select_results,
    specialize,
)
from ad_compiler.ad.reverse import adjoint_name
from ad_compiler.ad.reverse import vjp as vjp_transform
from ad_compiler.frontend.decorators import check_decorators
from ad_compiler.guard import COMPILE_LOCK, current, guarded, is_current, unique
from ad_compiler.frontend.scope import RuntimeScope, StaticScope, recording_reads
from ad_compiler.backend.names import (
    bound_names,
    check_unique,
    clash_free,
    rename_params,
)
from ad_compiler.frontend.source import (
    FunctionSource,
    from_function,
    module_functions,
    parse_module,
    source_lines,
)
from ad_compiler.opt.tuple_loops import unroll_item_loops

# what the emitted Hessian and Jacobian wrappers read besides their parameters
WRAPPER_GLOBALS = frozenset({"np", "tuple", "float", "range", "_directions", "_blocks"})
KINDS = ("grad", "value_and_grad", "vjp", "jvp", "hvp")
# vector mode: many directions (or seeds) in one call, as a leading axis
VECTOR_KINDS = ("jvp_vector", "vjp_vector", "hvp_vector")
_WHAT = {
    "hvp_vector": "Hessian-vector products along many directions (vector mode)",
    "jvp_vector": "Jacobian-vector products along many directions (vector mode)",
    "vjp_vector": "Vector-Jacobian products of many seeds (vector mode)",
    "hvp": "Hessian-vector product (forward over reverse)",
    "grad": "Gradient",
    "value_and_grad": "Value and gradient",
    "vjp": "Vector-Jacobian product (reverse mode)",
    "jvp": "Jacobian-vector product (forward mode)",
}


# --- pipeline ----------------------------------------------------------------------
_GC_LOCK = threading.Lock()
_GC_PAUSES = 0  # compilations under way that asked for the collector to be paused
_GC_WAS_ENABLED = False


@contextlib.contextmanager
def _no_gc():
    """Pause the cyclic garbage collector while compiling.

    Compiling makes many small objects and no cycles; collections would make
    emission time grow faster than linearly.  Nested and concurrent compilations
    share one pause, and the collector's state is restored by the last to finish.
    """
    global _GC_PAUSES, _GC_WAS_ENABLED
    with _GC_LOCK:
        if _GC_PAUSES == 0:
            _GC_WAS_ENABLED = gc.isenabled()
            gc.disable()
        _GC_PAUSES += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PAUSES -= 1
            if _GC_PAUSES == 0 and _GC_WAS_ENABLED:
                gc.enable()


@_no_gc()
def lower(src: FunctionSource, scope) -> Function:
    """Stage 1: the evaluation-trace IR of a function."""
    return lower_function(src, scope)


@_no_gc()
def derivative_ir(
    fn: Function, kind: str, wrt: tuple[int, ...], wrt_tree=None
) -> Function:
    """Stage 2: the optimised IR of one derivative of ``fn``.

    ``wrt`` are parameter indices; ``wrt_tree`` shapes the returned derivatives
    (an index into ``wrt`` for a single one, a tuple of indices for several).
    """
    if wrt_tree is None:
        wrt_tree = tuple(range(len(wrt)))
    # Merge repeated subexpressions of the primal first, so that each is
    # differentiated once (x1 * x2 written twice gets one adjoint).  Array code
    # unrolls its loops over tuples first: their items may differ in shape.
    if fn.param_shapes:
        fn = unroll_item_loops(fn)
    fn = optimize(fn)
    if kind == "jvp":
        d = jvp_transform(fn, wrt)
        d = replace(d, name=f"{fn.name}_jvp", defaults=())
    elif kind in ("grad", "value_and_grad"):
        if not isinstance(fn.tree, int):
            raise UsageError(
                f"{kind}() needs `{fn.name}` to return one scalar, but it returns a tuple of "
                f"{len(fn.results)} values; use vjp() for several outputs"
            )
        result = fn.results[0]
        shape = shapes.infer(fn).get(getattr(result, "name", None), shapes.SCALAR)
        if fn.param_shapes and shape not in (shapes.SCALAR, None):
            raise UsageError(
                f"{kind}() needs `{fn.name}` to return one scalar, but it returns an "
                f"array of shape {shapes.show(shape)}; reduce it (np.sum) or use vjp()"
            )
        d = vjp_transform(fn, wrt, wrt_tree)
        seed = d.params[len(fn.params)]
        d = specialize(d, {seed.name: Const(1.0)})  # ȳ = 1
        if kind == "grad":
            d = select_results(d, d.tree[1], name=f"{fn.name}_grad")
        else:
            d = replace(d, name=f"{fn.name}_value_and_grad")
        d = replace(d, defaults=fn.defaults)
    elif kind == "vjp":
        d = vjp_transform(fn, wrt, wrt_tree)
        d = select_results(d, d.tree[1], name=f"{fn.name}_vjp")
        d = replace(d, defaults=())
    elif kind in VECTOR_KINDS:
        # the one-direction derivative, then a leading axis of directions on
        # its direction parameters and derivative results (batching.py)
        d = derivative_ir(fn, kind.removesuffix("_vector"), wrt, wrt_tree)
        n = len(fn.params)
        results = tree_leaves(d.tree[1] if kind == "jvp_vector" else d.tree)
        if fn.param_shapes:  # numbers broadcast against directions unchanged
            same_as = {}
            if kind == "vjp_vector":  # a seed per output, shaped like it
                env = shapes.infer(fn)
                given = tuple(env.get(getattr(r, "name", None), ()) for r in fn.results)
            else:  # a direction per argument, shaped like it
                given = tuple(fn.param_shapes[i] for i in wrt)
                for j, i in enumerate(wrt):
                    same_as[d.params[n + j].name] = fn.params[i].name
            params = tuple(range(n, len(d.params)))
            d = batch(d, params, tuple(results), given, same_as)
        return own_results(optimize(replace(d, name=f"{d.name}_vector")))
    elif kind == "hvp":
        # forward over reverse: the gradient's IR, differentiated in forward
        # mode along v: (∇f)'·v = H·v, for the cost of about two gradients
        g = derivative_ir(fn, "grad", wrt, wrt_tree)
        d = jvp_transform(g, wrt)
        d = select_results(d, d.tree[1], name=f"{fn.name}_hvp")
        d = replace(d, defaults=())
    else:
        raise UsageError(f"unknown derivative kind {kind!r}; expected one of {KINDS}")
    d = optimize(d)
    if d.param_shapes:  # array code: the whole function's shapes say more
        d = optimize(drop_shape_noops(d))
    return own_results(d)


@_no_gc()
def helper_irs(fn: Function, kind: str) -> list[Function]:
    """The functions a derivative of ``fn`` calls besides math/numpy: for each
    recursive function ``g`` it calls, ``g_tangent`` (forward mode), or ``g``
    itself and ``g_adjoint`` (reverse mode), all with respect to every argument."""
    if kind == "hvp":
        # the gradient calls g and g_adjoint; its tangent calls their tangents
        first = helper_irs(fn, "grad")
        out = list(first)
        for h in first:
            every = tuple(range(len(h.params)))
            d = jvp_transform(h, every)
            flat = tuple(range(len(d.results)))
            d = replace(d, name=tangent_name(h.name), defaults=(), tree=flat)
            params = ", ".join(p.name for p in h.params)
            doc = f"The values and tangents of {h.name}({params})."
            out.append(replace(optimize(d), doc=doc))
        return out
    out = []
    for g in fn.callees:
        g = optimize(g)
        every = tuple(range(len(g.params)))
        if kind == "jvp":
            d = jvp_transform(g, every)
            flat = tuple(range(len(d.results)))  # values, then tangents: unpacked flat
            d = replace(d, name=tangent_name(g.name), defaults=(), tree=flat)
            what = "values and tangents"
        else:
            out.append(replace(g, doc=f"{g.name} as traced, for its adjoint below."))
            d = vjp_transform(g, every, 0 if len(every) == 1 else every)
            d = select_results(d, d.tree[1], name=adjoint_name(g.name))
            d = replace(d, defaults=())
            what = "adjoints of the arguments (recomputing the call)"
        params = ", ".join(p.name for p in g.params)
        doc = f"The {what} of {g.name}({params}), which is recursive."
        out.append(replace(optimize(d), doc=doc))
    return out


def module_text(
    main: list[Function], functions: list[Function], lines, header, extra=()
) -> str:
    """One module: the copied custom-derivative functions, then ``functions``,
    then ``extra`` (source text of functions calling them).

    Every name it binds at module level is bound once (:func:`names.check_unique`),
    and no local of an emitted function hides a global it reads
    (:func:`names.clash_free`)."""
    functions = [emitted_form(f) for f in functions]
    imports = imports_for(functions)
    if extra and "import numpy as np" not in imports:
        imports.append("import numpy as np")
    externals = {}
    for fn in main:
        externals.update(fn.externals)
    defs = helpers_for(functions)
    parts = [(n, f"the helper `{n}`", t) for d in defs for n, t in bound_names(d)]
    for name, text in externals.items():
        body = []
        for line in source_lines(text):
            if line.startswith(("import ", "from ")):
                if line not in imports:
                    imports.append(line)
            else:
                body.append(line)
        defs.append("\n".join(body).strip("\n") + "\n")
        what = f"the copy of your function `{name}` (it has a custom derivative)"
        parts += [(n, what, t) for n, t in bound_names(defs[-1])]
    parts += [(n, f"`{t}`", t) for line in imports for n, t in bound_names(line)]
    parts += [(n, f"the function `{n}`", t) for w in extra for n, t in bound_names(w)]
    module_names = {n for n, _, _ in parts} | {f.name for f in functions}
    seen = set()
    for f in functions:
        f = clash_free(f, module_names, emit_function)
        text = emit(f, lines, black=False)
        # a function emitted twice under one name is the same one if it comes
        # from the same def (a recursive helper of a first and a second derivative)
        origin = f"{f.loc.file}:{f.loc.line}" if f.loc is not None else text
        parts.append((f.name, _what(f), origin))
        if f.name not in seen:
            seen.add(f.name)
            defs.append(text)
    loc = main[0].loc if main else None
    check_unique(parts, loc, lines(loc) if lines and loc else None)
    defs += list(extra)
    return format_source(emit_module(defs, header, imports))


def _what(f: Function) -> str:
    """How an error names an emitted function: its name and its docstring's first line."""
    first = source_lines(f.doc or "")[:1]
    return f"`{f.name}` ({first[0].rstrip('.')})" if first else f"`{f.name}`"


def describe(fn: Function, kind: str, wrt: tuple[int, ...], origin: str) -> str:
    """The docstring of an emitted derivative."""
    names = ", ".join(fn.params[i].name for i in wrt)
    params = ", ".join(p.name for p in fn.params)
    return (
        f"{_WHAT[kind]} of {fn.name}({params}) with respect to {names}.\n\n"
        f"Emitted by ad_compiler {__version__} from {printable(origin)}; "
        "regenerate rather than edit."
    )


def emit(d: Function, lines=None, black: bool = True) -> str:
    """Stage 3: the Python source of one derivative function (black-formatted)."""
    text = emit_function(d, lines)
    return format_source(text) if black else text


# --- the decorator / JAX-style API ----------------------------------------------------
_CACHE: dict[tuple, object] = {}


def trace(f) -> Function:
    """The evaluation-trace IR of a Python function."""
    return lower(from_function(f), RuntimeScope(f))


def _wrt(fn: Function, argnums) -> tuple[tuple[int, ...], object]:
    """Normalise argnums into parameter indices and the shape of the result."""
    return _wrt_of(fn.name, len(fn.params), argnums)


def _wrt_of(name: str, n: int, argnums) -> tuple[tuple[int, ...], object]:
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


def compile_derivative(f, kind: str, argnums=0, arrays: bool = False):
    """The emitted, loaded derivative of ``f`` (cached), with ``.source`` and ``.ir``.

    Scalar code is compiled now and returned as the emitted function itself
    (behind a guard if it baked in globals or closure values, see
    :mod:`ad_compiler.guard`).  Array code (NumPy reductions, ``@``, indexing
    ... or parameters annotated as arrays, or ``arrays``: the caller passes
    arrays) is compiled on first call, once per pattern of argument shapes
    (see :class:`ArrayDerivative`).

    The cache key holds ``f`` and what identifies the code it runs now (its
    code object and defaults), so a function redefined or given new code is
    compiled anew.  Threads asking for one derivative at once compile it once.
    """
    if isinstance(argnums, list):
        argnums = tuple(argnums)
    key = (f, _code_identity(f), kind, argnums, arrays)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    with COMPILE_LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            cached = _fresh_derivative(f, kind, argnums, arrays)
            if not isinstance(f, (Pullback, BoundPrimals)):  # (they hold primals)
                _CACHE[key] = cached
    return cached


def _code_identity(f) -> tuple:
    """What ``f`` runs now: its code object and defaults (by value)."""
    code = getattr(f, "__code__", None)
    return (code, repr(getattr(f, "__defaults__", None)))


def _fresh_derivative(f, kind: str, argnums, arrays: bool):
    """:func:`compile_derivative` without the cache: compiled now, behind a
    guard on the globals and closure values the compilation read."""

    def build():
        refresh = getattr(f, "__adc_refresh__", None)
        if refresh is not None:  # a derivative of a guarded derivative
            refresh()
        with recording_reads() as reads:
            compiled = _compile_derivative(f, kind, argnums, arrays)
        return compiled, tuple(reads) + getattr(f, "__adc_deps__", ())

    compiled, deps = build()
    if isinstance(compiled, ArrayDerivative):
        compiled.watch(deps, build)
        return compiled
    if not isinstance(compiled, types.FunctionType) or not hasattr(compiled, "ir"):
        return compiled  # (a Jacobian's derivative: its parts are guarded)
    return guarded(compiled, deps, build)


@_no_gc()
def _compile_derivative(f, kind: str, argnums, arrays: bool):
    if isinstance(f, ArrayDerivative):
        unknown = unknown_shapes(f.fn, declared_shapes(f.src.node))
        if all(s == shapes.SCALAR for s in unknown):  # NumPy functions of numbers
            f = f.compiled_for(unknown)
    if isinstance(f, (Pullback, BoundPrimals)):  # the primals stay bound
        wrt, _ = _wrt_of(f.__name__, len(f.interface().params), argnums)
        n = len(f.primals)
        shifted = tuple(i + n for i in wrt)
        inner = compile_derivative(
            f.compiled, kind, shifted[0] if isinstance(argnums, int) else shifted
        )
        # not cached: a pullback holds its primals, and each vjp call makes one
        return BoundPrimals(inner, f.primals)
    if isinstance(f, ArrayDerivative):  # closure for array code, per shape pattern
        wrt, wrt_tree = _wrt_of(f.__name__, f.n, argnums)
        return ArrayDerivative(f.fn, f.src, kind, wrt, wrt_tree, base=f)
    if hasattr(f, "variant"):  # a jacobian or hessian: forward mode through it
        from ad_compiler.ad.jacobians import (
            forward_of_derived,
            jvp_of_derived,
        )  # (a cycle)

        if kind == "jvp":
            return jvp_of_derived(f, argnums)
        if kind not in ("grad", "value_and_grad"):
            raise UsageError(
                f"{kind} of `{f.__name__}` is not supported: reverse mode through "
                "a jacobian or hessian is not written; jvp, jacfwd and grad are"
            )
        derived = forward_of_derived(f, argnums, f"{f.__name__}_grad")
        if kind == "grad":
            return derived
        return lambda *args: (f(*args), derived(*args))
    if isinstance(getattr(f, "ir", None), Function) and hasattr(f, "src"):
        # closure: a derivative emitted here is differentiated from its IR
        src, fn = f.src, f.ir
        taped = _closure_check(fn, kind)
        if taped and kind in ("grad", "value_and_grad"):
            from ad_compiler.ad.jacobians import forward_gradient

            return forward_gradient(f, argnums, fn, kind == "value_and_grad")
    else:
        src = from_function(f)
        fn = lower(src, RuntimeScope(f))
    wrt, wrt_tree = _wrt(fn, argnums)
    declared = declared_shapes(src.node)
    if arrays or uses_arrays(fn) or any(s is None for s in declared.values()):
        compiled = ArrayDerivative(fn, src, kind, wrt, wrt_tree)
    else:
        compiled = _compile(fn, src, kind, wrt, wrt_tree)
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


def _compile(fn: Function, src, kind: str, wrt, wrt_tree):
    try:
        d = derivative_ir(fn, kind, wrt, wrt_tree)
    except CompileError as e:  # (raised while differentiating: show the line)
        if e.source_line is None and e.loc is not None:
            e.source_line = src.line(e.loc)
        raise
    d = replace(d, doc=describe(fn, kind, wrt, f"{src.file}:{fn.loc.line}"))
    header = f"{_WHAT[kind]} of {fn.name}, emitted by ad_compiler."
    helpers = helper_irs(fn, kind.removesuffix("_vector"))
    module = module_text([fn], [d] + helpers, src.line, header)
    compiled = load(module, d.name, f"{kind} of {fn.name}")
    compiled.source = module
    # the functions it calls (a recursive function and its derivatives) go
    # with its IR: differentiating it again differentiates those too
    # (and the custom-derivative functions it calls, copied into its module)
    compiled.ir = replace(d, callees=tuple(helpers), externals=fn.externals)
    compiled.primal_ir = fn
    compiled.src = src  # the user's source: a derivative of this one reads it
    return compiled


def array_operations(fn: Function):
    """The equations of ``fn`` that only arrays have (reductions, ``@``, indexing ...)."""
    return (e for e in iter_eqns(fn.body) if PRIMITIVES[e.prim].shape is not None)


def uses_arrays(fn: Function) -> bool:
    """Whether ``fn`` may take arrays: it calls NumPy or uses an array operation.

    Code of only operators and ``math`` functions is compiled for numbers (and
    its derivative is the emitted function itself, with no dispatch cost).
    """
    calls_numpy = any(e.ns == "np" for e in iter_eqns(fn.body))
    return calls_numpy or any(True for _ in array_operations(fn))


def declared_shapes(node: ast.FunctionDef) -> dict:
    """The abstract shapes the parameters' annotations declare, by name:
    ``x: np.ndarray`` an array of unknown shape (None), ``x: float`` a scalar."""
    out = {}
    for a in node.args.posonlyargs + node.args.args:
        text = ast.unparse(a.annotation) if a.annotation is not None else ""
        if "ndarray" in text or "Array" in text:
            out[a.arg] = None
        elif text in ("float", "int", "bool"):
            out[a.arg] = shapes.SCALAR
    return out


def unknown_shapes(fn: Function, declared: dict) -> tuple:
    """Parameter shapes when no call says: as declared; else unknown (None) in
    code with array operations, and numbers in elementwise code (np.sin(x))."""
    arrays = any(True for _ in array_operations(fn))
    default = None if arrays else shapes.SCALAR
    return tuple(declared.get(p.name, default) for p in fn.params)


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
        self.n = len(fn.params) if base is None else _arity(base)
        self.primal_ir = fn
        self._by_sizes: dict = {}  # exact argument shapes -> compiled (the fast path)
        self._by_signature: dict = {}
        self._last = None
        target = fn_wrapper_target(fn, kind)
        if base is not None:
            target.__name__ = target.__qualname__ = f"{base.__name__}_{kind}"
            target.__doc__ = f"{_WHAT[kind]} of {base.__name__}, from its IR."
        functools.update_wrapper(self, target)
        self.__class__ = _with_fast_call(self.n)

    def compiled_for(self, signature):
        compiled = self._by_signature.get(signature)
        if compiled is not None:
            return compiled
        with COMPILE_LOCK:  # threads meeting new shapes at once compile once
            return self._compile_for(signature)

    def _compile_for(self, signature):
        if self.base is not None:
            return self._derivative_of_base(signature)
        compiled = self._by_signature.get(signature)
        if compiled is None:
            scalars = all(s == shapes.SCALAR for s in signature)
            fn = replace(self.fn, param_shapes=signature)
            shapes.infer(fn)  # the compile errors of these shapes (len of a number ...)
            # numbers only: the plain scalar compilation (no shape bookkeeping)
            fn = replace(self.fn, param_shapes=None if scalars else signature)
            with _no_gc():
                compiled = _compile(fn, self.src, self.kind, self.wrt, self.wrt_tree)
            self._by_signature[signature] = compiled
        return compiled

    def _derivative_of_base(self, signature):
        compiled = self._by_signature.get(signature)
        if compiled is None:
            inner = self.base.compiled_for(signature[: self.base.n])
            fn = inner.ir
            if _closure_check(fn, self.kind) and self.kind in (
                "grad",
                "value_and_grad",
            ):
                raise UsageError(
                    f"grad of `{fn.name}`, which records a loop on a tape, is not "
                    "supported yet for array code; jvp and jacfwd of it work"
                )
            with _no_gc():
                compiled = _compile(fn, inner.src, self.kind, self.wrt, self.wrt_tree)
            self._by_signature[signature] = compiled
        return compiled

    def watch(self, deps, build) -> None:
        """Check ``deps`` (the globals and closure values lowering read) on each
        call, and lower ``fn`` again with ``build()`` when one was rebound."""
        deps = unique(deps)
        if deps:
            self._deps, self._build = deps, build
            self.__class__ = _with_fast_call(self.n, True)

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
            self._last = None
            self._deps = tuple((w, n, current(w, n)) for w, n, _ in unique(deps))

    def specialize(self, *primals):
        """The emitted function for arguments shaped like ``primals``."""
        signature = shapes.signature(primals)
        signature += (shapes.SCALAR,) * (self.n - len(signature))  # defaults
        return self.compiled_for(signature)

    def __call__(self, *args):  # replaced by _with_fast_call's, which does the same
        try:
            compiled = self._by_sizes[self._sizes(args)]
        except (KeyError, IndexError):
            compiled = self._new_sizes(args)
        self._last = compiled
        return compiled(*args)

    def _sizes(self, args) -> tuple:
        return tuple(getattr(args[i], "shape", None) for i in range(self.n))

    def _new_sizes(self, args):
        """The compiled function for arguments of shapes not seen before."""
        compiled = self.specialize(*args[: self.n])
        if len(args) >= self.n and len(self._by_sizes) < 64:
            self._by_sizes[self._sizes(args)] = compiled
        return compiled

    def _current(self):
        if self._last is not None:
            return self._last
        unknown = unknown_shapes(self.fn, declared_shapes(self.src.node))
        unknown += (None,) * (self.n - len(unknown))  # a derivative's own parameters
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
        return self._current().source

    @property
    def ir(self):
        return self._current().ir


@functools.lru_cache(maxsize=None)
def _with_fast_call(n: int, watched: bool = False) -> type:
    """ArrayDerivative with ``__call__`` written out for ``n`` parameters
    (``watched``: first checking the globals and closure values it read).

    The dispatch runs on every call, so it is spelled without a loop: the key
    is the tuple of the arguments' exact shapes, a dict hit in well under a
    microsecond.
    """
    key = "".join(f"getattr(args[{i}], 'shape', None), " for i in range(n))
    check = "    if not is_current(self._deps):\n        self._reload()\n"
    text = (
        "def __call__(self, *args):\n" + (check if watched else "") + "    try:\n"
        f"        compiled = self._by_sizes[({key})]\n"
        "    except (KeyError, IndexError):\n"
        "        compiled = self._new_sizes(args)\n"
        "    self._last = compiled\n"
        "    return compiled(*args)\n"
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
    params = tuple(fn.params)
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
    target.__doc__ = (
        f"{_WHAT[kind]} of {fn.name} (compiled per argument shape pattern)."
    )
    return target


def custom_derivative(partials):
    """Give a function the derivative ad_compiler cannot work out itself.

    ``partials`` is a plain function with the same parameters that returns the
    partial derivatives ``(∂f/∂x1, ∂f/∂x2, ...)`` (one number for one
    parameter), written in the subset ad_compiler reads.  Derivatives through
    ``f`` call ``f`` as it is and use ``partials`` for the chain rule; the
    emitted module carries a copy of ``f``'s ``def`` and the imports it uses::

        def erf_partials(x):
            return 2 / math.sqrt(math.pi) * math.exp(-x * x)

        @custom_derivative(erf_partials)
        def erf(x):
            return math.erf(x)

    The CLI recognises the decorator by name, without running the file.
    """

    def mark(f):
        f.__adc_partials__ = partials
        return f

    return mark


def grad(f=None, argnums=0):
    """∂f/∂args[argnums] as emitted Python; usable as ``@grad`` or ``@grad(argnums=...)``."""
    if f is None:
        return functools.partial(grad, argnums=argnums)
    return compile_derivative(f, "grad", argnums)


def value_and_grad(f=None, argnums=0):
    """A function returning ``(f(*args), grad(f, argnums)(*args))`` in one pass."""
    if f is None:
        return functools.partial(value_and_grad, argnums=argnums)
    return compile_derivative(f, "value_and_grad", argnums)


def _all_argnums(f, primals) -> tuple[tuple[int, ...], tuple]:
    """The argnums of ``primals`` (every parameter, or as JAX a prefix of them
    when the rest have defaults) and the primals completed with those defaults."""
    ir = _signature_ir(f)
    n, defaults = len(ir.params), tuple(c.value for c in ir.defaults)
    if not n - len(defaults) <= len(primals) <= n:
        takes = f"{n}" if not defaults else f"{n - len(defaults)} to {n}"
        raise UsageError(
            f"`{f.__name__}` takes {takes} arguments, got {len(primals)} primals"
        )
    missing = n - len(primals)
    filled = tuple(primals) + (defaults[len(defaults) - missing :] if missing else ())
    return tuple(range(len(primals))), filled


def trace_cached(f) -> Function:
    """:func:`trace`, cached per function and the code it runs now."""
    return _trace_of(f, _code_identity(f))


@functools.lru_cache(maxsize=None)
def _trace_of(f, identity) -> Function:
    return trace(f)


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J·tangents)``; outputs shaped like ``f``'s."""
    primals, tangents = tuple(primals), tuple(tangents)
    argnums, filled = _all_argnums(f, primals)
    if len(tangents) != len(primals):
        raise UsageError(f"got {len(primals)} primals but {len(tangents)} tangents")
    compiled = compile_derivative(f, "jvp", argnums, _any_array(primals))
    return compiled(*filled, *tangents)  # the defaults' tangents are 0


def _any_array(values) -> bool:
    return any(shapes.of_value(v) != shapes.SCALAR for v in values)


def vjp(f, *primals):
    """Reverse mode: ``(f(*primals), pullback)`` with ``pullback(ȳ) = ȳᵀ·J`` per input."""
    argnums, filled = _all_argnums(f, primals)
    compiled = compile_derivative(f, "vjp", argnums, _any_array(primals))
    if isinstance(compiled, ArrayDerivative):
        compiled = compiled.specialize(*filled)
    return f(*primals), Pullback(compiled, filled)


class Pullback:
    """``ȳ ↦ ȳᵀ·J`` at fixed primals: the emitted vjp with the primals bound.

    It can be differentiated again (``jvp``, ``jacfwd`` ... of it, from the
    emitted vjp's IR, the primals staying bound): :class:`BoundPrimals`.
    """

    def __init__(self, compiled, primals: tuple):
        self.compiled, self.primals = compiled, primals
        self.outputs = len(compiled.primal_ir.results)
        self.multiple = not isinstance(compiled.primal_ir.tree, int)
        self.source, self.ir = compiled.source, compiled.ir
        self.__name__ = f"{compiled.primal_ir.name}_pullback"

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
        self.arrays = _any_array(primals)  # array code, whatever it is called with

    def __call__(self, *args):
        return self.compiled(*self.primals, *args)

    def interface(self) -> Function:
        """The parameters after the bound primals, and the results."""
        ir = _signature_ir(self.compiled)
        return replace(ir, params=ir.params[len(self.primals) :], body=())

    @property
    def source(self) -> str:
        return self.compiled.source

    @property
    def ir(self):
        return self.compiled.ir


def _signature_ir(f) -> Function:
    """The parameters and results ``f`` is called with (its body if it has one)."""
    if isinstance(f, ArrayDerivative):
        return _interface(f)
    if hasattr(f, "interface"):  # a pullback, its derivatives, a jacobian ...
        return f.interface()
    ir = getattr(f, "ir", None)  # a derivative emitted here: its own IR
    return ir if isinstance(ir, Function) else trace_cached(f)


# --- the CLI's entry point --------------------------------------------------------------
@_no_gc()
def compile_file(
    text: str,
    file: str,
    functions: list[str] | None = None,
    mode: str = "reverse",
    wrt: list[str] | None = None,
    ir_only: bool = False,
    command: str = "",
    fix: dict | None = None,
    shape_of: dict | None = None,
    seconds: float | None = 60.0,
) -> str:
    """Derivatives of a file's top-level functions, as one self-contained module.

    The file is parsed, never imported or run.  ``mode`` is ``reverse`` (a
    ``f_grad`` for a scalar function, a ``f_vjp`` taking one cotangent per output
    otherwise) or ``forward`` (``f_jvp``).  ``wrt`` names parameters (default all).
    With ``ir_only`` the primal traces are returned instead of source.
    ``fix`` (``{"n": 10}``) makes parameters constants, in every function that has them.
    ``shape_of`` (``{"X": ("n", "n")}``, see :func:`ad_compiler.ir.shapes.parse`)
    gives parameters' shapes beyond what their annotations say.
    ``seconds`` bounds the symbolic mode's SymPy work per function, as
    ``adc check``'s budget does (running out is a :class:`UsageError`).
    Raises :class:`CompileError` (the first error) or :class:`UsageError`.
    """
    lines = tuple(source_lines(text))
    if mode == "symbolic" and not ir_only:
        return _symbolic_module(text, file, functions, wrt, command, fix, seconds)
    traces, derivatives, primals, wrappers = [], [], [], []
    for fn in _lower_file(text, file, functions, fix, shape_of or {}):
        traces.append(str(fn))
        if ir_only:
            continue
        idx = _wrt_by_name(fn, wrt)
        scalar = isinstance(fn.tree, int) and _returns_number(fn)
        kind = "jvp" if mode == "forward" else ("grad" if scalar else "vjp")
        if mode in ("hessian", "hvp", "jacobian"):
            kind = _second_order_kind(fn, mode, idx)
        tree = 0 if len(idx) == 1 else tuple(range(len(idx)))
        d = derivative_ir(fn, kind, idx, tree)
        d = replace(d, doc=describe(fn, kind, idx, f"{file}:{fn.loc.line}"))
        derivatives += [d] + helper_irs(fn, kind)
        primals.append(fn)
        if mode in ("hessian", "jacobian"):
            from ad_compiler.ad.jacobians import (
                hessian_source,
                jacobian_source,
            )  # (a cycle)

            # the wrapper's text reads these globals: no parameter may hide one
            fn = rename_params(fn, WRAPPER_GLOBALS | {d.name})
        if mode == "hessian":
            wrappers.append(hessian_source(fn, idx, d.name))
        elif mode == "jacobian":
            chosen = "reverse" if kind == "vjp" else "forward"
            wrappers.append(jacobian_source(fn, idx, d.name, chosen))
    if ir_only:
        return "\n".join(traces)
    if any("_directions(" in w for w in wrappers):
        from ad_compiler.ad.jacobians import VECTOR_HELPERS

        wrappers.insert(0, VECTOR_HELPERS.strip("\n") + "\n")
    header = _header(
        f"Derivatives emitted by ad_compiler {__version__}",
        file,
        command,
        "Self-contained: needs only math (and numpy if the source used it).",
    )
    return module_text(
        primals, derivatives, lambda loc: _line(lines, loc), header, wrappers
    )


def _header(what: str, file: str, command: str, note: str) -> str:
    """A module's header: what, from which file, by which command.  The file name
    and the command line are outside text: they appear only :func:`printable`."""
    header = f"{what} from {printable(file)}"
    if command:
        header += f" by `{printable(command)}`"
    return f"{header}.\n\n{note}"


def _second_order_kind(fn: Function, mode: str, wrt: tuple) -> str:
    """The derivative ``adc compile --mode hessian|hvp|jacobian`` emits for ``fn``.

    For array code the Hessian and Jacobian call the vector-mode variants
    (directions as a leading axis); a Jacobian of array code is taken in
    forward mode, since which mode is cheaper depends on sizes only known
    when it runs (``jacobian()`` in the API chooses per call).
    """
    if mode == "jacobian":  # a forward pass per input, a reverse pass per output
        if fn.param_shapes:
            return "jvp_vector"
        return "jvp" if len(wrt) <= len(fn.results) else "vjp"
    if not isinstance(fn.tree, int):
        raise UsageError(f"--mode {mode} needs `{fn.name}` to return one number")
    return "hvp_vector" if fn.param_shapes and mode == "hessian" else "hvp"


def _returns_number(fn: Function) -> bool:
    """Whether ``adc compile`` writes ``fn``'s gradient rather than a VJP: unless
    its one result is known to be an array (``--shape`` made it so).  A result
    of unknown shape gets the gradient of the sum of its entries, as
    docs/arrays.md promises: the CLI cannot tell, and a number's gradient is
    what scalar code using NumPy functions (``np.mean(x) + x``) needs."""
    if not fn.param_shapes:
        return True
    result = fn.results[0]
    if not isinstance(result, Var):
        return True
    shape = shapes.infer(fn).get(result.name)
    return shape is None or shape == shapes.SCALAR


def _symbolic_module(text, file, functions, wrt, command, fix, seconds) -> str:
    """``compile_file(mode="symbolic")``: gradients written from sympy.diff,
    ``seconds`` at most for each function."""
    from ad_compiler.symbolic.check import OutOfTime, time_budget
    from ad_compiler.symbolic.translate import symbolic_gradient_source
    from ad_compiler.symbolic.unroll import NotExpressible

    defs = []
    for fn in _lower_file(text, file, functions, fix):
        idx = _wrt_by_name(fn, wrt)
        names = ", ".join(fn.params[i].name for i in idx)
        params = ", ".join(p.name for p in fn.params)
        doc = (
            f"Gradient of {fn.name}({params}) with respect to {names}.\n\n"
            "Written from sympy.diff after sympy.cse: symbolic differentiation, for\n"
            "comparison with the default reverse mode.  Emitted by ad_compiler\n"
            f"{__version__} from {printable(file)}:{fn.loc.line}; regenerate rather than edit."
        )
        try:
            with time_budget(seconds):
                defs.append(symbolic_gradient_source(fn, idx, doc))
        except OutOfTime:
            raise UsageError(
                f"cannot write `{fn.name}` symbolically within {seconds:g} seconds "
                "(--seconds; expression swell); the default --mode reverse handles it"
            ) from None
        except NotExpressible as exc:
            raise UsageError(
                f"cannot write `{fn.name}` symbolically: {exc}; "
                "the default --mode reverse handles it"
            ) from None
    uses_math = any("math." in d for d in defs)
    header = _header(
        f"Gradients written by SymPy (ad_compiler {__version__}, symbolic mode)",
        file,
        command,
        "Self-contained: needs only math.",
    )
    return format_source(
        emit_module(defs, header, ["import math"] if uses_math else [])
    )


def _lower_file(
    text: str,
    file: str,
    functions: list[str] | None,
    fix: dict | None = None,
    shape_of: dict | None = None,
) -> list[Function]:
    """The IR of the named top-level functions (default: all but the opaque ones),
    with the parameters in ``fix`` made constants where a function has them, and
    the parameters' shapes of array code as annotated or given in ``shape_of``.

    Raises the compile errors of every function that fails, together."""
    module = parse_module(text, file)
    lines = tuple(source_lines(text))
    scope = StaticScope(module, file, lines)
    nodes = module_functions(module)
    if functions:
        known = {n.name for n in nodes}
        for name in functions:
            if name not in known:
                raise UsageError(f"{file} has no top-level function named `{name}`")
        nodes = [n for n in nodes if n.name in functions]
    else:  # a function with a custom derivative is opaque: its derivative is given
        nodes = [n for n in nodes if not _has_custom_derivative(n)]
    if not nodes:
        raise UsageError(f"{file} defines no top-level function to differentiate")
    out, errors = [], []
    for node in nodes:
        try:
            src = FunctionSource(node, file, lines)
            check_decorators(src, scope)
            fn = lower(src, scope)
            declared = {**declared_shapes(node), **(shape_of or {})}
            if uses_arrays(fn) or any(s != shapes.SCALAR for s in declared.values()):
                given = unknown_shapes(fn, declared)
                if any(s != shapes.SCALAR for s in given):
                    fn = replace(fn, param_shapes=given)
                    shapes.infer(fn)  # its compile errors, on the trace as lowered
            out.append(fn)
        except CompileError as exc:
            errors.append(exc)  # keep going: report every function's first error
    if errors:
        raise errors[0] if len(errors) == 1 else CompileErrors(errors)
    _known_names(out, shape_of or {}, "--shape")
    if fix:
        _known_names(out, fix, "--fix")
        before, out = out, [
            fix_parameters(
                fn, {p.name: fix[p.name] for p in fn.params if p.name in fix}
            )
            for fn in out
        ]
        for fn, fixed in zip(before, out):
            _integer_ranges(fixed.body, "--fix")
            if fn.params and not fixed.params:
                raise UsageError(
                    f"--fix makes every parameter of `{fn.name}` a constant: "
                    "nothing is left to differentiate"
                )
    return out


def _known_names(functions: list[Function], given: dict, option: str) -> None:
    """A usage error naming ``option`` unless every name in ``given`` is a
    parameter of one of ``functions``."""
    unknown = set(given) - {p.name for fn in functions for p in fn.params}
    if unknown:
        raise UsageError(
            f"{option}: no function has a parameter named {', '.join(sorted(unknown))}"
        )


def _integer_ranges(stmts, option: str) -> None:
    """A usage error naming ``option`` if a constant it made reaches ``range`` as
    a non-integer: the emitted loop would raise TypeError when it runs."""
    for s in stmts:
        if isinstance(s, For) and s.over == "range":
            for a in s.args:
                if isinstance(a, Const) and not isinstance(a.value, int):
                    where = f" at line {s.loc.line}" if s.loc is not None else ""
                    raise UsageError(
                        f"{option} gives `range`{where} the non-integer {a.value!r}; "
                        "range takes integers"
                    )
        for block in blocks(s):
            _integer_ranges(block, option)


def check_file(
    text: str,
    file: str,
    functions: list[str] | None = None,
    points: list[dict] | None = None,
    seconds: float | None = 60.0,
    progress=None,
) -> list:
    """:func:`ad_compiler.symbolic.check.check_function` for each function of a file's text.

    The file is parsed, never run.  ``progress(name)`` is called before each check.
    """
    from ad_compiler.symbolic.check import check_function

    reports = []
    lowered = _lower_file(text, file, functions)
    for point in points or ():
        _known_names(lowered, point, "--at")
    for fn in lowered:
        scalar_only(fn, "adc check proves scalar code against SymPy")
        if progress is not None:
            progress(fn.name)
        reports.append(check_function(fn, points, seconds))
    return reports


def scalar_only(fn: Function, what: str) -> None:
    """A usage error naming the first array operation of ``fn``, if it has one."""
    for e in array_operations(fn):
        where = f" at line {e.loc.line}" if e.loc else ""
        raise UsageError(
            f"`{fn.name}` uses the array operation `{e.prim}`{where}; {what} "
            "(for arrays see docs/arrays.md)"
        )


def check(f, points=None, seconds: float | None = 60.0):
    """Prove the emitted derivatives of ``f`` equal to SymPy's; a
    :class:`~ad_compiler.symbolic.check.CheckReport` (``.ok``, ``.text()``).

    ``points`` — ``{name: value}`` dicts or tuples of arguments — are where to
    check along the path taken when ``f`` has no closed form (a loop until a
    tolerance), and where to compare numerically when needed.
    """
    from ad_compiler.symbolic.check import check_function

    fn = trace(f)
    names = [p.name for p in fn.params]
    given = [p if isinstance(p, dict) else dict(zip(names, p)) for p in points or ()]
    return check_function(fn, given or None, seconds)


def _wrt_by_name(fn: Function, wrt: list[str] | None) -> tuple[int, ...]:
    names = [p.name for p in fn.params]
    if not wrt:
        return tuple(range(len(names)))
    missing = [w for w in wrt if w not in names]
    if missing:
        raise UsageError(
            f"`{fn.name}` has no parameter named {', '.join(missing)} "
            f"(its parameters: {', '.join(names)})"
        )
    return tuple(names.index(w) for w in wrt)


def _line(lines, loc):
    if 1 <= loc.line <= len(lines):
        return lines[loc.line - 1]
    return None


def _has_custom_derivative(node) -> bool:
    return any(
        isinstance(d, ast.Call)
        and ast.unparse(d.func).split(".")[-1] == "custom_derivative"
        for d in node.decorator_list
    )


def trace_ir(text: str, file: str, function: str) -> Function:
    """The IR of one function of a file's text; the file is parsed, never run."""
    module = parse_module(text, file)
    for node in module_functions(module):
        if node.name == function:
            lines = tuple(source_lines(text))
            src = FunctionSource(node, file, lines)
            scope = StaticScope(module, file, lines)
            check_decorators(src, scope)
            return lower(src, scope)
    raise UsageError(f"{file} has no top-level function named `{function}`")


def trace_file(text: str, file: str, function: str, point: dict, wrt=None, output=None):
    """The trace tables (:mod:`ad_compiler.tools.tables`) of a file's function at a point."""
    from ad_compiler.tools.tables import trace_tables

    fn = trace_ir(text, file, function)
    scalar_only(fn, "adc trace prints the seeds' tables of scalar code")
    return trace_tables(fn, point, wrt, output)
