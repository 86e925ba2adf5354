"""The pipeline, strung together in one place.

    source ─lower→ IR ─named passes (optimise, differentiate, optimise)→ derivative IR
           ─emit (in-place form, names, codegen)→ module text ─load→ function

(black: on the files the CLI writes now; on the API's modules when their
``.source`` is first read, :func:`ad_compiler.backend.loader.source_of`.)

:func:`compile_ir` is the whole pipeline from a function's IR to its loaded
derivative, in order; :func:`lower` (stage 1), :func:`derivative_ir` (stage 2, a
list of named passes: :func:`derivative_passes`), :func:`module_text` and
:func:`emit` (stage 3) are its stages, which the derivative objects
(:mod:`ad_compiler.callables`), the CLI's file entry points
(:mod:`ad_compiler.tools.files`), the Jacobians and the SymPy check share.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import threading
from dataclasses import replace

from ad_compiler.ad.batching import batch
from ad_compiler.ad.forward import jvp as jvp_transform
from ad_compiler.ad.forward import tangent_name
from ad_compiler.ad.reverse import adjoint_name
from ad_compiler.ad.reverse import vjp as vjp_transform
from ad_compiler.backend.codegen import (
    emit_function,
    emit_module,
    format_source,
    helpers_for,
    imports_for,
)
from ad_compiler.backend.copies import drop_unneeded_copies
from ad_compiler.backend.inplace import emitted_form
from ad_compiler.backend.lazy_form import lazy_form
from ad_compiler.backend.list_rows import stack_adjoint_rows
from ad_compiler.backend.loader import load
from ad_compiler.backend.names import bound_names, check_unique, clash_free
from ad_compiler.backend.tuples import fuse_items
from ad_compiler.backend.view_adds import add_through_views, zeros_then_write
from ad_compiler.errors import CompileError, ResultShapeError, UsageError
from ad_compiler.escape import printable
from ad_compiler.frontend.lower import lower_function
from ad_compiler.frontend.source import FunctionSource, source_lines
from ad_compiler.ir import shape_infer, shapes
from ad_compiler.ir.nodes import (
    Const,
    Function,
    ir_indices,
    iter_eqns,
    positional,
    tree_leaves,
)
from ad_compiler.ir.passes import Pass, run_passes, show
from ad_compiler.opt.optimize import optimize
from ad_compiler.opt.shaping import (
    drop_shape_noops,
    own_results,
    select_results,
    specialize,
)
from ad_compiler.opt.tuple_loops import unroll_item_loops
from ad_compiler.primitives.table import PRIMITIVES
from ad_compiler.version import __version__

KINDS = ("grad", "value_and_grad", "vjp", "jvp", "hvp")
# vector mode: many directions (or seeds) in one call, as a leading axis
VECTOR_KINDS = ("jvp_vector", "vjp_vector", "hvp_vector")
# what each kind of derivative is, for docstrings and headers
WHAT = {
    "hvp_vector": "Hessian-vector products along many directions (vector mode)",
    "jvp_vector": "Jacobian-vector products along many directions (vector mode)",
    "vjp_vector": "Vector-Jacobian products of many seeds (vector mode)",
    "hvp": "Hessian-vector product (forward over reverse)",
    "grad": "Gradient",
    "value_and_grad": "Value and gradient",
    "vjp": "Vector-Jacobian product (reverse mode)",
    "jvp": "Jacobian-vector product (forward mode)",
}


# --- the whole pipeline ----------------------------------------------------------------
_GC_LOCK = threading.Lock()
_GC_PAUSES = 0  # compilations under way that asked for the collector to be paused
_GC_WAS_ENABLED = False


@contextlib.contextmanager
def no_gc():
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


@no_gc()
def compile_ir(fn: Function, src: FunctionSource, kind: str, wrt, wrt_tree):
    """The loaded derivative ``kind`` of ``fn`` (lowered from ``src``) with
    respect to the parameters ``wrt``, with ``.ir``, ``.primal_ir`` and ``.src``;
    its source is :func:`ad_compiler.backend.loader.source_of` (black-formatted
    when first read).  ``wrt`` counts the parameters a call passes by position."""
    wrt = ir_indices(fn, wrt)
    try:
        d = derivative_ir(fn, kind, wrt, wrt_tree)
    except CompileError as e:  # (raised while differentiating: show the line)
        if isinstance(e, ResultShapeError):
            _returned_at(src, e)
        if e.source_line is None and e.loc is not None:
            e.source_line = src.line(e.loc)
        raise
    d = replace(
        d, doc=describe(fn, kind, wrt, f"{src.file}:{fn.loc.line}"), lazy=fn.lazy
    )
    helpers = helper_irs(fn, kind.removesuffix("_vector"))
    d, steps, texts = checkpoint_parts(d)
    helpers = [replace(h, lazy=fn.lazy) for h in helpers + steps]
    return load_ir(fn, d, helpers, src, kind, texts)


def load_ir(
    fn: Function, d: Function, helpers, src: FunctionSource, kind: str, texts=()
):
    """The loaded derivative IR ``d`` of ``fn`` (with the functions it calls,
    ``helpers``, and ``texts``: the source of checkpointing drivers): its
    module emitted raw (not run through black: loader.source_of formats it
    when read), with ``.ir``, ``.primal_ir``, ``.src`` and ``.texts``."""
    header = f"{WHAT[kind]} of {fn.name}, emitted by ad_compiler."
    d = replace(d, callees=())
    module = module_text(
        [fn], [d] + list(helpers), src.line, header, tuple(texts), black=False
    )
    compiled = load(module, d.name, f"{kind} of {fn.name}")
    # the functions it calls (a recursive function and its derivatives) go
    # with its IR: differentiating it again differentiates those too
    # (and the custom-derivative functions it calls, copied into its module)
    compiled.ir = replace(d, callees=tuple(helpers), externals=fn.externals)
    compiled.primal_ir = fn
    compiled.src = src  # the user's source: a derivative of this one reads it
    compiled.texts = tuple(texts)
    return compiled


# --- stage 1: source -> IR -------------------------------------------------------------
@no_gc()
def lower(src: FunctionSource, scope, spec=None, collect: bool = False) -> Function:
    """Stage 1: the evaluation-trace IR of a function (dumped as ``lower``);
    ``spec``: a treedef per parameter (:mod:`ad_compiler.trees`); ``collect``:
    go on after an error and raise them all (:mod:`.frontend.recovery`)."""
    fn = lower_function(src, scope, spec, collect)
    show("lower", fn)
    return fn


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


# --- stage 2: IR -> derivative IR, by named passes ---------------------------------------
@no_gc()
def derivative_ir(
    fn: Function, kind: str, wrt: tuple[int, ...], wrt_tree=None
) -> Function:
    """Stage 2: the optimised IR of one derivative of ``fn``.

    ``wrt`` are parameter indices; ``wrt_tree`` shapes the returned derivatives
    (an index into ``wrt`` for a single one, a tuple of indices for several).
    """
    if wrt_tree is None:
        wrt_tree = tuple(range(len(wrt)))
    if kind not in KINDS + VECTOR_KINDS:
        raise UsageError(f"unknown derivative kind {kind!r}; expected one of {KINDS}")
    return run_passes(fn, derivative_passes(fn, kind, wrt, wrt_tree))


def derivative_passes(fn: Function, kind: str, wrt, wrt_tree) -> list[Pass]:
    """The named passes taking ``fn`` to its derivative ``kind``: prepare the
    primal, differentiate, then shape and optimise the derivative."""
    if kind in VECTOR_KINDS:
        return _vector_passes(fn, kind, wrt, wrt_tree)
    # Merge repeated subexpressions of the primal first, so that each is
    # differentiated once (x1 * x2 written twice gets one adjoint).  Array code
    # unrolls its loops over tuples first: their items may differ in shape.
    prepare = [Pass("unroll_item_loops", unroll_item_loops)] if fn.param_shapes else []
    prepare.append(Pass("optimize", optimize))
    name = f"{fn.name}_{kind}"
    if kind == "jvp":
        transform = [
            Pass(
                "jvp", lambda f: replace(jvp_transform(f, wrt), name=name, defaults=())
            )
        ]
    elif kind in ("grad", "value_and_grad"):
        transform = _gradient_passes(fn, kind, wrt, wrt_tree)
    elif kind == "vjp":
        transform = [
            Pass("vjp", lambda f: vjp_transform(f, wrt, wrt_tree)),
            Pass("select_results", lambda d: _adjoints_only(d, name)),
        ]
    else:  # hvp: forward over reverse, the gradient's IR differentiated in forward
        # mode along v: (∇f)'·v = H·v, for the cost of about two gradients
        def gradient(f: Function) -> Function:
            _check_scalar(f, "hessian")  # (its own words, before the gradient's)
            return derivative_ir(f, "grad", wrt, wrt_tree)

        transform = [
            Pass("grad", gradient),
            Pass("jvp", lambda g: jvp_transform(g, wrt)),
            Pass("select_results", lambda d: _adjoints_only(d, name)),
        ]
    finish = [Pass("optimize", optimize)]
    if fn.param_shapes:  # array code: the whole function's shapes say more
        finish.append(Pass("drop_shape_noops", _without_shape_noops))
    finish.append(Pass("own_results", own_results))
    return prepare + transform + finish


def _gradient_passes(fn: Function, kind: str, wrt, wrt_tree) -> list[Pass]:
    """Reverse mode with the seed ȳ = 1; ``grad`` keeps only the adjoints."""
    n = len(fn.params)

    def reverse(f: Function) -> Function:
        _check_scalar(f, kind)
        return vjp_transform(f, wrt, wrt_tree)

    def seed(d: Function) -> Function:
        return specialize(d, {d.params[n].name: Const(1.0)})  # ȳ = 1

    def results(d: Function) -> Function:
        if kind == "grad":
            d = select_results(d, d.tree[1], name=f"{fn.name}_grad")
        else:
            d = replace(d, name=f"{fn.name}_value_and_grad")
        return replace(d, defaults=fn.defaults)

    return [Pass("vjp", reverse), Pass("seed", seed), Pass("select_results", results)]


def _vector_passes(fn: Function, kind: str, wrt, wrt_tree) -> list[Pass]:
    """The one-direction derivative, then a leading axis of directions on its
    direction parameters and derivative results (:mod:`ad_compiler.ad.batching`)."""
    base = kind.removesuffix("_vector")
    n = len(fn.params)

    def vectorize(d: Function) -> Function:
        if fn.param_shapes:  # numbers broadcast against directions unchanged
            results = tree_leaves(d.tree if kind == "hvp_vector" else d.tree[1])
            same_as = {}
            if kind == "vjp_vector":  # a seed per output, shaped like it
                env = shape_infer.infer(fn)
                given = tuple(env.get(getattr(r, "name", None), ()) for r in fn.results)
            else:  # a direction per argument, shaped like it
                given = tuple(fn.param_shapes[i] for i in wrt)
                for j, i in enumerate(wrt):
                    same_as[d.params[n + j].name] = fn.params[i].name
            params = tuple(range(n, len(d.params)))
            d = batch(d, params, tuple(results), given, same_as)
        return replace(d, name=f"{d.name}_vector")

    def derivative(f: Function) -> Function:
        if kind == "vjp_vector":
            return run_passes(f, _vjp_with_values(f, wrt, wrt_tree))
        return derivative_ir(f, base, wrt, wrt_tree)

    return [
        Pass(base, derivative),
        Pass("batch", vectorize),
        Pass("optimize", optimize),
        Pass("own_results", own_results),
    ]


def _vjp_with_values(fn: Function, wrt, wrt_tree) -> list[Pass]:
    """The passes of ``vjp`` keeping the primal's values before the adjoints:
    ``(y, x̄)``, as ``jvp`` returns ``(y, ẏ)``.  Vector mode returns them so that
    ``jacrev`` learns the outputs' shapes from the call itself (its seeds were
    shaped from an earlier call of the same argument shapes, and are checked
    against them) instead of calling ``f`` once more before every call."""
    name = f"{fn.name}_vjp"
    passes = derivative_passes(fn, "vjp", wrt, wrt_tree)
    keep = Pass("select_results", lambda d: replace(d, name=name, defaults=()))
    return [keep if p.name == "select_results" else p for p in passes]


def _check_scalar(fn: Function, kind: str) -> None:
    """A :class:`ResultShapeError` unless ``fn`` returns one number (what
    ``grad`` needs), located where its result is computed (the ``return``,
    see :func:`compile_ir`)."""
    if not isinstance(fn.tree, int):
        found = f"a tuple of {len(fn.results)} values"
        raise ResultShapeError(kind, fn.name, found, _result_loc(fn))
    result = fn.results[0]
    shape = shape_infer.infer(fn).get(getattr(result, "name", None), shapes.SCALAR)
    if fn.param_shapes and shape not in (shapes.SCALAR, None):
        found = f"an array of shape {shapes.show(shape)}"
        raise ResultShapeError(kind, fn.name, found, _result_loc(fn))


def _result_loc(fn: Function):
    """Where ``fn``'s (first) result is computed, else the function itself."""
    name = getattr(fn.results[0], "name", None) if fn.results else None
    for e in fn.body:
        if name in (getattr(o, "name", None) for o in getattr(e, "outs", ())):
            return getattr(e, "loc", None) or fn.loc
    return fn.loc


def _returned_at(src: FunctionSource, error: ResultShapeError) -> None:
    """Point ``error`` at the value of the ``return`` of ``src``'s function when
    it has just one (else at where the result is computed)."""
    returns = [
        r
        for r in _own_statements(src.node)
        if isinstance(r, ast.Return) and r.value is not None
    ]
    if len(returns) == 1:
        error.loc = src.loc(returns[0].value)
        error.source_line = None


def _own_statements(node: ast.FunctionDef):
    """The nodes of ``node``'s body, without those of nested functions."""
    todo = list(node.body)
    while todo:
        sub = todo.pop()
        yield sub
        if not isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(sub))


def _adjoints_only(d: Function, name: str) -> Function:
    """A vjp's (or jvp's) derivative results only, without the primal's values."""
    return replace(select_results(d, d.tree[1], name=name), defaults=())


def _without_shape_noops(d: Function) -> Function:
    """``d`` optimised, without the broadcasts and sums back its shapes show to
    do nothing -- looked for again after optimising: what CSE merged (a
    recomputed ``2 * b`` and the forward's) and the twins tape columns make
    show more of them."""
    if not d.param_shapes:
        return d
    d = optimize(drop_shape_noops(d))
    again = drop_shape_noops(d)
    return d if again is d else optimize(again)


@no_gc()
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
    # array code: a recursive function, lowered on its own, is called with the
    # shapes every call of it agrees on (not as if it took numbers)
    called = shape_infer.callee_shapes(fn) if fn.param_shapes else {}
    for g in fn.callees:
        if fn.param_shapes and g.param_shapes is None:
            unknown = (None,) * len(g.params)
            g = replace(g, param_shapes=called.get(g.name, unknown))
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
        why = "marked @checkpoint" if g.checkpoint == ("remat",) else "recursive"
        doc = f"The {what} of {g.name}({params}), which is {why}."
        out.append(replace(optimize(d), doc=doc))
    return out


def checkpoint_parts(d: Function) -> tuple[Function, list[Function], list[str]]:
    """What derivative ``d`` with checkpointed loops calls (ad/checkpoint_loops.py):
    ``d`` with its docstring saying which loops are checkpointed, the loops'
    step and step adjoint functions (optimised) and the drivers' source text."""
    steps, texts, notes = [], [], []
    for h in d.helpers:
        if h[0] == "step":
            steps.append(optimize(h[1]))
        elif h[0] == "adjoint":
            a = select_results(h[1], h[1].tree[1], name=h[2])
            doc = (
                f"One iteration of the loop at line {a.loc.line}, taped, and its\n"
                "adjoint: the adjoints of the state it starts from (and of the\n"
                "values it reads) from those of the state it ends with."
            )
            steps.append(replace(optimize(replace(a, defaults=())), doc=doc))
        elif h[0] == "text":
            texts.append(h[2])
        elif h[1]:
            notes.append(h[1])
    if notes:
        d = replace(d, doc=(d.doc or "") + "\n\n" + "\n".join(notes))
    return d, steps, texts


# --- stage 3: derivative IR -> module text ------------------------------------------------
def module_text(
    main: list[Function],
    functions: list[Function],
    lines,
    header,
    extra=(),
    black: bool = True,
) -> str:
    """One module: the copied custom-derivative functions, then ``functions``,
    then ``extra`` (source text of functions calling them); black-formatted, or
    with ``black=False`` the raw text (valid Python, one statement per line:
    what :func:`ad_compiler.backend.loader.load` runs).

    Every name it binds at module level is bound once (:func:`names.check_unique`),
    and no local of an emitted function hides a global it reads
    (:func:`names.clash_free`)."""
    functions = [
        fuse_items(
            zeros_then_write(
                drop_unneeded_copies(
                    add_through_views(emitted_form(stack_adjoint_rows(lazy_form(f))))
                )
            )
        )
        for f in functions
    ]
    imports = imports_for(functions)
    if any("np." in w for w in extra) and "import numpy as np" not in imports:
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
    text = emit_module(defs, header, imports)
    return format_source(text) if black else text


def _what(f: Function) -> str:
    """How an error names an emitted function: its name and its docstring's first line."""
    first = source_lines(f.doc or "")[:1]
    return f"`{f.name}` ({first[0].rstrip('.')})" if first else f"`{f.name}`"


def describe(fn: Function, kind: str, wrt: tuple[int, ...], origin: str) -> str:
    """The docstring of an emitted derivative."""
    names = ", ".join(fn.params[i].name for i in wrt)
    params = ", ".join(p.name for p in positional(fn))
    scope = ", ".join(n for n, _ in fn.keyword_only)
    read = f"; {scope} read from its scope (keyword-only)" if scope else ""
    fixed = ""
    if fn.statics:  # static arguments: this code is for these values only
        shown = ", ".join(f"{n}={printable(repr(v))}" for n, v in fn.statics)
        fixed = f"Compiled for the static arguments {shown} only.\n\n"
    return (
        f"{WHAT[kind]} of {fn.name}({params}) with respect to {names}{read}.\n\n"
        + fixed
        + f"Emitted by ad_compiler {__version__} from {printable(origin)}; "
        "regenerate rather than edit."
    )


def emit(d: Function, lines=None, black: bool = True) -> str:
    """Stage 3: the Python source of one derivative function (black-formatted)."""
    text = emit_function(d, lines)
    return format_source(text) if black else text
