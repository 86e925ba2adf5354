"""``adc sparsity FILE --function f --shape x=100``: a sparsity pattern from the text.

The file is read as text and lowered, never imported or run; the pattern is
the static one (:func:`ad_compiler.sparsity.patterns.analyse_ir`) for the
shapes given by ``--shape`` (concrete sizes: ``x=100``, ``u=30,30``, ``t=``
for a number) and the values given by ``--fix`` (``n=10``), which are not
differentiated.  A function whose pattern depends on the values of its
inputs (a branch, an index or a trip count on them) is a usage error: the
API finds that one at a point.  The pattern is printed as
:class:`~ad_compiler.sparsity.patterns.Pattern` prints (a picture up to
60 x 60, else a summary), and drawn into ``-o OUT.png`` (matplotlib).
"""

from __future__ import annotations

import ast

import numpy

from ad_compiler.errors import UsageError
from ad_compiler.ir.nodes import positional


def add_parser(sub, file_and_function, output_path) -> None:
    """``adc sparsity``'s options (FILE and --function as the other commands)."""
    s = sub.add_parser(
        "sparsity",
        help="the Jacobian (or Hessian) sparsity pattern of a function, from its text",
        description="Read FILE statically and find the sparsity pattern of one "
        "function's Jacobian (--hessian: Hessian) for the shapes given: a picture "
        "(# a non-zero) up to 60 x 60, else a summary; -o OUT.png draws it.",
    )
    file_and_function(s)
    s.add_argument(
        "--shape",
        nargs="+",
        default=[],
        metavar="NAME=DIMS",
        help="the size of each differentiated parameter: x=100, u=30,30 (x= a number)",
    )
    s.add_argument(
        "--fix",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="parameters not differentiated, with their values (n=10)",
    )
    s.add_argument("--hessian", action="store_true", help="the Hessian's pattern")
    s.add_argument(
        "-o", "--output", type=output_path, metavar="OUT", help="draw it into OUT.png"
    )


def _shapes(specs: list[str]) -> dict:
    out = {}
    for spec in specs:
        name, sep, dims = spec.partition("=")
        try:
            shape = tuple(int(d) for d in dims.split(",")) if dims.strip() else ()
        except ValueError:
            shape = None
        if (
            not sep
            or not name.isidentifier()
            or shape is None
            or min(shape, default=0) < 0
        ):
            raise UsageError(
                f"--shape takes NAME=SIZES with whole numbers, not {spec!r}"
            )
        out[name] = shape
    return out


def _fixed(specs: list[str]) -> dict:
    out = {}
    for spec in specs:
        name, sep, text = spec.partition("=")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = None
            sep = ""
        if not sep or not name.isidentifier():
            raise UsageError(
                f"--fix takes NAME=VALUE with a Python literal, not {spec!r}"
            )
        out[name] = numpy.asarray(value) if isinstance(value, list) else value
    return out


def module_constants(text: str, file: str) -> dict:
    """The module array constants of a file, by name: each defined by checked
    literal text (NumPy constructors of literal numbers only,
    :mod:`ad_compiler.frontend.static_data`, the text the emitted module
    copies), evaluated with NumPy and nothing else."""
    from ad_compiler.frontend.scope import DataRef, StaticScope
    from ad_compiler.frontend.source import parse_module, source_lines

    module = parse_module(text, file)
    scope = StaticScope(module, file, tuple(source_lines(text)))
    values = {}
    for name, ref in scope.refs.items():
        if isinstance(ref, DataRef) and ref.source is not None:
            namespace: dict = {"__builtins__": {}, "np": numpy}
            exec(ref.source, namespace)  # (checked literals, as emitted code runs it)
            values[name] = namespace[name]
    return values


def pattern_of_file(fn, shapes: dict, fixed: dict, hessian: bool, constants=None):
    """The static :class:`Pattern` of the IR ``fn`` for these shapes and values
    (``constants``: the module arrays it reads, by name)."""
    from ad_compiler.sparsity.patterns import (
        Pattern,
        analyse_ir,
        hessian_matrix,
        jacobian_matrix,
    )

    constants = constants or {}
    missing_data = [n for n, _ in fn.keyword_only if n not in constants]
    if missing_data:
        raise UsageError(
            f"`{fn.name}` reads `{missing_data[0]}`, not known from the file"
        )
    live = tuple(constants[n] for n, _ in fn.keyword_only)
    params = [p.name for p in positional(fn)]
    unknown = sorted((set(shapes) | set(fixed)) - set(params))
    if unknown:
        raise UsageError(f"`{fn.name}` has no parameter {unknown[0]}")
    missing = [p for p in params if p not in shapes and p not in fixed]
    if missing:
        raise UsageError(
            f"give the shape (--shape {missing[0]}=...) or the value "
            f"(--fix {missing[0]}=...) of {', '.join(missing)}"
        )
    args = tuple(fixed[p] if p in fixed else numpy.zeros(shapes[p]) for p in params)
    wrt = tuple(i for i, p in enumerate(params) if p in shapes)
    run, results, how = analyse_ir(fn, args, wrt, live, hessian, at_point=False)
    ncols = sum(int(numpy.prod(shapes[params[i]])) for i in wrt)
    if run is None:
        raise UsageError(f"no pattern for `{fn.name}`: {how}")
    if hessian:
        matrix = hessian_matrix(fn, run, results)
    else:
        matrix = jacobian_matrix(fn, run, results, ncols)
    return Pattern(matrix, True, how)


def run(args, read, call, write) -> int:
    """``adc sparsity``: print the pattern, and draw it into ``-o``."""
    from ad_compiler.tools.files import trace_ir

    text = read(args.file)
    shapes, fixed = _shapes(args.shape), _fixed(args.fix)

    def work():
        fn = trace_ir(text, args.file, args.function)
        constants = module_constants(text, args.file) if fn.keyword_only else {}
        return pattern_of_file(fn, shapes, fixed, args.hessian, constants)

    pattern, status = call(text, work)
    if pattern is None:
        return status
    print(pattern)
    if args.output:
        write(args.output, pattern)
    return 0
