"""The CLI's file entry points: ``adc compile``, ``adc trace``, ``adc check`` and
``adc swell`` on a file's text, which is parsed and never imported or run.

:func:`compile_file` writes one self-contained module of derivatives,
:func:`trace_ir` / :func:`trace_file` give a function's trace and the seeds'
tables, :func:`check_file` proves a file's derivatives against SymPy.  They
share the pipeline's stages (:mod:`ad_compiler.driver`) with the API.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from ad_compiler.ad.wrappers import VECTOR_HELPERS, hessian_source, jacobian_source
from ad_compiler.backend.codegen import emit_module, format_source
from ad_compiler.backend.names import rename_params
from ad_compiler.driver import (
    array_operations,
    checkpoint_parts,
    declared_shapes,
    derivative_ir,
    describe,
    helper_irs,
    lower,
    module_text,
    no_gc,
    unknown_shapes,
    uses_arrays,
)
from ad_compiler.errors import CompileError, UsageError
from ad_compiler.escape import printable
from ad_compiler.frontend.decorators import check_decorators
from ad_compiler.frontend.scope import StaticScope
from ad_compiler.frontend.scope_data import constant_shapes
from ad_compiler.frontend.source import (
    FunctionSource,
    module_functions,
    parse_module,
    source_lines,
)
from ad_compiler.ir import shape_infer, shapes
from ad_compiler.ir.nodes import Const, For, Function, Var, blocks, positional
from ad_compiler.opt.shaping import fix_parameters
from ad_compiler.opt.tuple_loops import unroll_item_loops
from ad_compiler.primitives.lists import LIST_ROWS
from ad_compiler.tools import cli_trees
from ad_compiler.tools.whole_file import (
    FileReport,
    KeptGoing,
    comment_block,
    with_comments,
)
from ad_compiler.version import __version__

# what the emitted Hessian and Jacobian wrappers read besides their parameters
WRAPPER_GLOBALS = frozenset({"np", "tuple", "float", "range", "_directions", "_blocks"})


@no_gc()
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
    keep_going: bool = False,
    checkpoint: tuple = (),
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
    Raises :class:`CompileError` (every function's errors: see
    :mod:`ad_compiler.tools.whole_file`) or :class:`UsageError`.  With
    ``keep_going``, the functions that fail are left out and, if there are any,
    :class:`KeptGoing` is raised, holding the module of the others (with the
    skipped ones listed in a comment block) and the errors.  ``checkpoint``:
    ``("revolve", k)`` checkpoints reverse mode's loops (docs/checkpointing.md).
    """
    lines = tuple(source_lines(text))
    if mode == "symbolic" and not ir_only:
        for name, given in (shape_of or {}).items():
            if isinstance(given, cli_trees.TreeShape):
                cli_trees.check_mode("--shape", name, mode)
        return _symbolic_module(text, file, functions, wrt, command, fix, seconds)
    traces, derivatives, primals, wrappers = [], [], [], []
    report = [] if keep_going else None
    layouts: dict = {}  # per function taking a parameter tree
    lowered = _lower_file(text, file, functions, fix, shape_of or {}, report, layouts)
    for fn in lowered:
        traces.append(str(fn))
        if ir_only:
            continue
        lay = layouts.get(fn.name)
        if lay is not None:  # a function of trees: its leaves' derivative
            cli_trees.check_mode(f"`{fn.name}`", lay.trees[0], mode)
            idx, fn = lay.wrt(fn.name, wrt), replace(fn, name=f"{fn.name}_leaves")
        else:
            idx = _wrt_by_name(fn, wrt)
        scalar = isinstance(fn.tree, int) and _returns_number(fn)
        kind = "jvp" if mode == "forward" else ("grad" if scalar else "vjp")
        if mode in ("hessian", "hvp", "jacobian"):
            kind = _second_order_kind(fn, mode, idx)
        tree = 0 if len(idx) == 1 else tuple(range(len(idx)))
        if checkpoint and mode == "reverse":
            fn = replace(fn, checkpoint=checkpoint)
        try:
            d = derivative_ir(fn, kind, idx, tree)
        except CompileError as exc:
            name_unshaped(exc, fn.params, fn.param_shapes)
            if report is None:
                raise
            report[0].add(fn.name, exc)
            continue
        d = replace(d, doc=describe(fn, kind, idx, f"{file}:{fn.loc.line}"))
        d, steps, texts = checkpoint_parts(d)
        derivatives += [d] + helper_irs(fn, kind) + steps
        wrappers += [t for t in texts if t not in wrappers]
        primals.append(fn)
        if mode in ("hessian", "jacobian"):
            # the wrapper's text reads these globals: no parameter may hide one
            fn = rename_params(fn, WRAPPER_GLOBALS | {d.name})
        if mode == "hessian":
            wrappers.append(hessian_source(fn, idx, d.name))
        elif mode == "jacobian":
            chosen = "reverse" if kind == "vjp" else "forward"
            wrappers.append(jacobian_source(fn, idx, d.name, chosen))
        if lay is not None:  # the user's function, taking the trees
            wrappers.append(cli_trees.tree_wrapper(lay, mode, kind, idx, fn, d))
    if ir_only:
        return _kept(report, "\n".join(traces) if traces else None)
    if any("_directions(" in w for w in wrappers):
        wrappers.insert(0, VECTOR_HELPERS.strip("\n") + "\n")
    header = _header(
        f"Derivatives emitted by ad_compiler {__version__}",
        file,
        command,
        _SELF_CONTAINED,
    )
    if not primals:
        return _kept(report, None)
    module = module_text(
        primals, derivatives, lambda loc: _line(lines, loc), header, wrappers
    )
    if "\nimport scipy" in module:  # the source called SciPy, and so does this
        module = module.replace(_SELF_CONTAINED, _WITH_SCIPY, 1)
    if report and report[0].failures:
        module = format_source(with_comments(module, comment_block(report[0])))
    return _kept(report, module)


def _kept(report: list | None, output: str | None) -> str:
    """``output``, unless ``--keep-going`` left functions out: then
    :class:`KeptGoing` with it."""
    if report and report[0].failures:
        raise KeptGoing(report[0], output)
    return output


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
    # a loop over a tuple of differently shaped arrays is unrolled before it is
    # differentiated; unrolled, the result's shape is known more often
    shape = shape_infer.infer(unroll_item_loops(fn)).get(result.name)
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
    report: list | None = None,
    layouts: dict | None = None,
) -> list[Function]:
    """The IR of the named top-level functions (default: all but the opaque ones),
    with the parameters in ``fix`` made constants where a function has them, and
    the parameters' shapes of array code as annotated or given in ``shape_of``.

    Raises every error of every function that fails, together (each function
    lowered collecting its errors; see :mod:`ad_compiler.tools.whole_file`).
    With ``report`` (an empty list), the functions that fail are left out and
    the list gets their :class:`FileReport` instead (``--keep-going``).

    A parameter ``shape_of`` declares a tree (:mod:`.cli_trees`), or ``fix``
    fixes to a static value, is lowered as the API lowers it; ``layouts`` then
    gets the function's :class:`cli_trees.Layout` by name."""
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
    out, failed = [], FileReport(file, module_functions(module))
    trees_of = {n.name: cli_trees.with_annotations(n, shape_of or {}) for n in nodes}
    specs = {
        n.name: cli_trees.parameter_spec(n, trees_of[n.name], fix or {}) for n in nodes
    }
    for node in nodes:
        given = None
        try:
            src = FunctionSource(node, file, lines)
            check_decorators(src, scope)
            fn = lower(src, scope, specs[node.name], collect=True)
            lay = cli_trees.layout(node, specs[node.name], fn)
            declared = {**declared_shapes(node), **constant_shapes(fn, scope)}
            declared.update(lay.declared(trees_of[node.name]))
            if uses_arrays(fn) or any(s != shapes.SCALAR for s in declared.values()):
                given = unknown_shapes(fn, declared)
                made = shape_infer.infer(replace(fn, param_shapes=given))
                if any(s != shapes.SCALAR for s in given) or (
                    shape_infer.makes_arrays(made)  # np.array([x, y]) of numbers
                ):
                    fn = replace(fn, param_shapes=given)
                    shape_infer.infer(fn)  # its compile errors, on the trace as lowered
            out.append(fn)
        except CompileError as exc:
            if given is not None:
                name_unshaped(exc, fn.params, given)
            failed.add(node.name, exc)  # keep going: report every function's errors
    if failed.failures and report is None:
        raise failed.error()
    if report is not None:
        report.append(failed)
    # a skipped function's parameters are known names too (--keep-going), as
    # are the trees and statics (not parameters of the IR)
    also = {a.arg for n in nodes if n.name in failed.names() for a in n.args.args}
    also |= {a.arg for n in nodes if specs[n.name] for a in n.args.args}
    _known_names(out, shape_of or {}, "--shape", also)
    if fix:
        _known_names(out, fix, "--fix", also)
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
    if layouts is not None:
        by_name = {n.name: n for n in nodes}
        for fn in out:
            lay = cli_trees.layout(by_name[fn.name], specs[fn.name], fn)
            if lay.trees:
                layouts[fn.name] = lay
    return out


def _known_names(
    functions: list[Function], given: dict, option: str, also=frozenset()
) -> None:
    """A usage error naming ``option`` unless every name in ``given`` is a
    parameter of one of ``functions`` (or in ``also``)."""
    unknown = set(given) - {p.name for fn in functions for p in fn.params} - also
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
        if e.prim in LIST_ROWS:
            raise UsageError(
                f"`{fn.name}` builds a list whose length is known only at run time"
                f"{where} (`append` in a loop over `range(n)`, an array's rows or a "
                f"`while`); {what}: give the loop bounds known when compiling "
                "(literals or module constants), so that the list is unrolled"
            )
        raise UsageError(
            f"`{fn.name}` uses the array operation `{e.prim}`{where}; {what} "
            "(for arrays see docs/arrays.md)"
        )


def _wrt_by_name(fn: Function, wrt: list[str] | None) -> tuple[int, ...]:
    names = [p.name for p in positional(fn)]  # not the module constants read
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
            try:
                return lower(src, scope, collect=True)
            except CompileError as exc:  # every error, with the summary
                report = FileReport(file, module_functions(module))
                report.add(function, exc)
                raise report.error() from None
    raise UsageError(f"{file} has no top-level function named `{function}`")


def trace_file(text: str, file: str, function: str, point: dict, wrt=None, output=None):
    """The trace tables (:mod:`ad_compiler.tools.tables`) of a file's function at a point."""
    from ad_compiler.tools.tables import trace_tables

    fn = trace_ir(text, file, function)
    scalar_only(fn, "adc trace prints the seeds' tables of scalar code")
    return trace_tables(fn, point, wrt, output)


# what the emitted module's header says it needs (it imports scipy only when
# the source called SciPy)
_SELF_CONTAINED = "Self-contained: needs only math (and numpy if the source used it)."
_WITH_SCIPY = (
    "Self-contained: needs only math, numpy and scipy (the source called SciPy)."
)


def name_unshaped(exc: CompileError, params, param_shapes) -> None:
    """Name, in an error's hint asking for shapes (``--shape``), the parameters
    whose shape is still unknown: an unannotated number is one of them in array
    code, and ``--shape q=`` (or ``q: float``) is what declares it a scalar."""
    names = [p.name for p, s in zip(params, param_shapes or ()) if s is None]
    for error in getattr(exc, "errors", None) or (exc,):
        if names and error.hint and "--shape" in error.hint:
            error.hint += (
                f"; no shape is known for {', '.join(names)} "
                f"(`--shape {names[0]}=n,m` for an array, `{names[0]}=` or "
                f"`{names[0]}: float` for a number)"
            )
