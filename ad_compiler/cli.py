"""The ``adc`` command: a thin shell over :mod:`ad_compiler.api`.

``adc compile f.py`` reads f.py as text (it never imports or runs it) and
writes a Python module with the derivative of each top-level function;
``adc trace f.py --function f --at x1=2 x2=5`` prints the seeds' three trace
tables at that point; ``adc graph`` draws the trace; ``adc check f.py`` proves
the emitted derivatives equal to SymPy's; ``adc swell`` measures expression
swell over a family of functions.

Exit status: 0 on success, 1 when the input cannot be differentiated (with a
compiler-style message on stderr), 2 for usage errors.  No Python traceback
reaches the user: an internal failure is reported as such, with status 3.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile

from . import __version__, shapes
from .api import check_file, compile_file, trace_file, trace_ir
from .errors import CompileError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default exits 2 too; keep its wording
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _file_and_functions(p, verb: str | None = None) -> None:
    """FILE, and ``--function``: one required, or (with ``verb``) any number."""
    p.add_argument(
        "file", metavar="FILE", help="the Python file to read (not executed)"
    )
    if verb is None:
        p.add_argument("--function", required=True, metavar="NAME", help="the function")
        return
    p.add_argument(
        "--function",
        action="append",
        metavar="NAME",
        help=f"{verb} only this function (repeatable; default: every top-level function)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="adc",
        description="ad_compiler: emit readable Python source for derivatives of Python functions.",
    )
    parser.add_argument("--version", action="version", version=f"adc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    c = sub.add_parser(
        "compile",
        help="emit derivative source for the functions of a file (never runs the file)",
        description="Read FILE statically and write a module with a derivative of each "
        "top-level function: f_grad (reverse mode, scalar f), f_vjp (reverse mode, "
        "tuple- or array-valued f), f_jvp (forward mode), or f_hvp, f_hessian, "
        "f_jacobian (--mode hvp, hessian, jacobian).",
    )
    _file_and_functions(c, "differentiate")
    c.add_argument(
        "--mode",
        choices=("reverse", "forward", "symbolic", "hessian", "hvp", "jacobian"),
        default="reverse",
        help="reverse (gradient / VJP, the default), forward (JVP), symbolic "
        "(the gradient SymPy writes, with cse: for comparison), hvp (H·v, forward "
        "over reverse), hessian (f_hvp and f_hessian calling it once), jacobian "
        "(forward or reverse mode, whichever the numbers of inputs and outputs favour)",
    )
    c.add_argument(
        "--wrt",
        metavar="X1,X2",
        help="comma-separated parameters to differentiate with respect to (default: all)",
    )
    c.add_argument(
        "--fix",
        nargs="+",
        metavar="NAME=VALUE",
        help="make parameters constants (n=10: a loop over range(n) gets a known "
        "trip count, as --mode symbolic needs)",
    )
    c.add_argument(
        "--shape",
        nargs="+",
        metavar="NAME=DIMS",
        help="the shape of an array parameter, one axis per comma: X=batch,64 "
        "(an axis written 1 may broadcast, ? is unknown; X= is a scalar); "
        "`X: np.ndarray` annotations say only that X is an array",
    )
    c.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write to OUT (atomically) instead of stdout",
    )
    c.add_argument(
        "--ir", action="store_true", help="print the evaluation trace (IR) instead"
    )
    t = sub.add_parser(
        "trace",
        help="print the primal, tangent and adjoint trace tables at a point",
        description="Read FILE statically and print the seeds' three tables for one "
        "function at one point: the forward primal trace, the forward tangent trace "
        "along one input, and the reverse adjoint trace, along the path the point takes.",
    )
    _file_and_functions(t)
    t.add_argument(
        "--at",
        nargs="+",
        required=True,
        metavar="NAME=VALUE",
        help="the point: a value for every parameter",
    )
    t.add_argument("--wrt", metavar="NAME", help="the input of the tangent trace")
    t.add_argument(
        "--output",
        type=int,
        metavar="K",
        help="for a function with several results: seed the adjoint of the K-th (default 1)",
    )
    t.add_argument("--digits", type=int, default=4, help="digits after the point")
    t.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    g = sub.add_parser(
        "graph",
        help="draw a function's evaluation trace (Graphviz DOT; SVG/PNG with Graphviz)",
        description="Read FILE statically and draw the trace of one function: DOT "
        "text on stdout or in OUT.dot; OUT.svg or OUT.png need Graphviz's dot program.",
    )
    _file_and_functions(g)
    g.add_argument("-o", "--output", metavar="OUT", help="OUT.dot, OUT.svg or OUT.png")
    g.add_argument(
        "--adjoints", action="store_true", help="also draw the reverse sweep's edges"
    )
    k = sub.add_parser(
        "check",
        help="prove the emitted derivatives equal to SymPy's (sympy.diff)",
        description="Read FILE statically and prove, for each function, that the "
        "emitted reverse- and forward-mode derivatives equal sympy.diff of the "
        "function: loops with a known trip count unrolled, branches as Piecewise. "
        "Exit status 1 when a derivative differs.",
    )
    _file_and_functions(k, "check")
    k.add_argument(
        "--at",
        nargs="+",
        action="append",
        metavar="NAME=VALUE",
        help="a point (repeatable): a function with no closed form (a loop until "
        "a tolerance) is checked along the path each point takes",
    )
    k.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="time budget per function (default 60); running out is reported",
    )
    w = sub.add_parser(
        "swell",
        help="expression swell: SymPy's gradient against the emitted one over a family",
        description="Read FILE statically; for each value of an integer parameter "
        "(fixed, so loops over it unroll) print the size of sympy.diff's gradient, "
        "raw and after cse, beside the operations of the emitted gradient.",
    )
    _file_and_functions(w)
    w.add_argument(
        "--param",
        required=True,
        metavar="N=A..B",
        help="the parameter to fix and its values: n=1..12 or n=1,2,4,8",
    )
    w.add_argument(
        "--wrt", metavar="X1,X2", help="the inputs of the gradient (default: all)"
    )
    w.add_argument("--plot", metavar="PNG", help="also plot the table (log scale)")
    w.add_argument(
        "--seconds",
        type=float,
        default=20.0,
        help="time budget per value (default 20); larger values are then skipped",
    )
    return parser


def _values(spec: str):
    """``n=1..12`` or ``n=1,2,4`` as (name, values); None if malformed."""
    name, sep, values = spec.partition("=")
    try:
        if ".." in values:
            low, high = values.split("..")
            out = list(range(int(low), int(high) + 1))
        else:
            out = [int(v) for v in values.split(",")]
    except ValueError:
        return None
    return (name.strip(), out) if sep and name.strip() and out else None


def _swell(args) -> int:
    from .swell import swell, swell_plot, swell_text

    text = _read(args.file)
    if text is None:
        return 2
    parsed = _values(args.param)
    if parsed is None:
        print(
            f"adc: error: --param takes NAME=A..B or NAME=A,B,C, got {args.param!r}",
            file=sys.stderr,
        )
        return 2
    name, values = parsed
    wrt = [w.strip() for w in args.wrt.split(",") if w.strip()] if args.wrt else None

    def progress(value):
        print(f"{name} = {value} ...", file=sys.stderr, flush=True)

    def work():
        fn = trace_ir(text, args.file, args.function)
        rows = swell(fn, name, values, wrt, args.seconds, progress)
        if args.plot:
            swell_plot(args.function, name, rows, args.plot)
        return rows

    rows, status = _call(text, work)
    if rows is None:
        return status
    sys.stdout.write(swell_text(args.function, name, wrt, rows))
    if args.plot:
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _shapes(items) -> dict | None:
    """``--shape`` values as abstract shapes by name; None after saying what is wrong."""
    out = {}
    for item in items:
        name, sep, dims = item.partition("=")
        try:
            if not sep or not name.strip().isidentifier():
                raise ValueError("--shape takes NAME=DIMS, like X=batch,64")
            out[name.strip()] = shapes.parse(dims)
        except ValueError as exc:
            print(f"adc: error: {exc} (in {item!r})", file=sys.stderr)
            return None
    return out


def _points(groups) -> list[dict] | None:
    """``--at`` values as dicts; None after saying what is wrong."""
    points = []
    for items in groups:
        point = {}
        for item in items:
            name, sep, value = item.partition("=")
            try:
                point[name.strip()] = (
                    float(value) if "." in value or "e" in value else int(value)
                )
            except ValueError:
                sep = ""
            if not sep:
                print(
                    f"adc: error: --at takes NAME=NUMBER, got {item!r}", file=sys.stderr
                )
                return None
        points.append(point)
    return points


def _check(args) -> int:
    text = _read(args.file)
    if text is None:
        return 2
    points = _points(args.at or [])
    if points is None:
        return 2

    def progress(name):
        print(f"checking {name} ...", file=sys.stderr, flush=True)

    reports, status = _call(
        text,
        lambda: check_file(
            text, args.file, args.function, points, args.seconds, progress
        ),
    )
    if reports is None:
        return status
    for report in reports:
        sys.stdout.write(report.text())
    proved = sum(r.ok for r in reports)
    failed = [r for r in reports if r.checked and not r.ok]
    skipped = len(reports) - proved - len(failed)
    for r in failed:
        for p in r.failures:
            print(
                f"{args.file}: error: the {p.mode}-mode derivative {p.what} of "
                f"`{r.function}` differs from sympy.diff: {p.detail}",
                file=sys.stderr,
            )
    print(
        f"adc check: {proved} proved, {len(failed)} failed, {skipped} not checked",
        file=sys.stderr,
    )
    return 1 if failed else 0


def _graph(args) -> int:
    from .graph import render, to_dot

    text = _read(args.file)
    if text is None:
        return 2
    fn, status = _call(text, lambda: trace_ir(text, args.file, args.function))
    if fn is None:
        return status
    dot = to_dot(fn, adjoints=args.adjoints)
    out = args.output
    if not out:
        sys.stdout.write(dot)
        return 0
    fmt = os.path.splitext(out)[1].lstrip(".").lower()
    if fmt not in ("dot", "gv", "svg", "png"):
        print("adc: error: -o takes a .dot, .svg or .png file", file=sys.stderr)
        return 2
    data = dot.encode()
    if fmt in ("svg", "png"):
        data, status = _call(text, lambda: render(dot, fmt))
        if data is None:
            return status
    try:
        with open(out, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        print(f"adc: error: cannot write {out}: {exc}", file=sys.stderr)
        return 2
    return 0


def _read(path: str) -> str | None:
    """The file's text, or None after saying why it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"adc: error: cannot read {path}: {exc}", file=sys.stderr)
        return None


def _call(text: str, work):
    """``(work(), 0)``, or ``(None, status)`` after printing the error: 1 for what
    cannot be differentiated (compiler-style, with the source line), 2 for usage."""
    try:
        return work(), 0
    except CompileError as exc:
        print(exc.with_source(text.splitlines()).render(), file=sys.stderr)
        return None, 1
    except UsageError as exc:
        print(f"adc: error: {exc}", file=sys.stderr)
        return None, 2


def _trace(args) -> int:
    import json

    text = _read(args.file)
    if text is None:
        return 2
    points = _points([args.at])
    if points is None:
        return 2
    point = points[0]
    tables, status = _call(
        text,
        lambda: trace_file(
            text, args.file, args.function, point, args.wrt, args.output
        ),
    )
    if tables is None:
        return status
    if args.format == "json":
        sys.stdout.write(json.dumps(tables.as_dict(), indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(tables.markdown(args.digits))
    else:
        sys.stdout.write(tables.text(args.digits))
    return 0


def _write_atomically(path: str, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename it into place."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".adc-", suffix=".py", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(
            tmp, 0o666 & ~umask
        )  # mkstemp makes it 0600; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _compile(args, argv: list[str]) -> int:
    out = args.output
    if out:
        if (
            os.path.exists(out)
            and os.path.exists(args.file)
            and os.path.samefile(out, args.file)
        ):
            print(
                f"adc: error: refusing to overwrite the input file {args.file}",
                file=sys.stderr,
            )
            return 2
        if os.path.isdir(out):
            print(f"adc: error: output {out} is a directory", file=sys.stderr)
            return 2
        if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            print(
                f"adc: error: the folder of output {out} does not exist",
                file=sys.stderr,
            )
            return 2
    text = _read(args.file)
    if text is None:
        return 2
    wrt = [w.strip() for w in args.wrt.split(",") if w.strip()] if args.wrt else None
    fix = _points([args.fix]) if args.fix else [None]
    if fix is None:
        return 2
    shape_of = _shapes(args.shape or [])
    if shape_of is None:
        return 2
    command = "adc " + " ".join(shlex.quote(a) for a in argv)
    module_text, status = _call(
        text,
        lambda: compile_file(
            text,
            args.file,
            functions=args.function,
            mode=args.mode,
            wrt=wrt,
            ir_only=args.ir,
            command=command,
            fix=fix[0],
            shape_of=shape_of,
        ),
    )
    if module_text is None:
        return status
    if out:
        try:
            _write_atomically(out, module_text)
        except OSError as exc:
            print(f"adc: error: cannot write {out}: {exc}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(module_text)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "trace":
            return _trace(args)
        if args.command == "graph":
            return _graph(args)
        if args.command == "check":
            return _check(args)
        if args.command == "swell":
            return _swell(args)
        return _compile(args, argv)
    except Exception as exc:  # a bug in ad_compiler: say so, without a traceback
        print(
            f"adc: internal compiler error: {type(exc).__name__}: {exc}\n"
            "This is a bug in ad_compiler; please report it with the input file.",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
