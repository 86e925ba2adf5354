"""The ``adc`` command: a thin shell over :mod:`ad_compiler.tools.files`.

``adc compile f.py`` reads f.py as text (it never imports or runs it) and
writes a Python module with the derivative of each top-level function;
``adc trace f.py --function f --at x1=2 x2=5`` prints the seeds' three trace
tables at that point; ``adc graph`` draws the trace; ``adc check f.py`` proves
the emitted derivatives equal to SymPy's; ``adc swell`` measures expression
swell over a family of functions.

Exit status: 0 on success, 1 when the input cannot be differentiated (with
compiler-style messages on stderr, every error of the file in one run: a
construct outside the subset, a file that is
not valid Python or not UTF-8, ``adc trace`` at a point where the function is
undefined or whose trace passes its step limit; ``adc compile --keep-going``
still writes the functions that compile), 2 for usage errors (a bad
option value, an output file that may not be written, a time budget too small
for ``--mode symbolic``), 130 when interrupted (Ctrl-C).  No Python traceback
reaches the user: an internal failure is reported as such, with status 3.

Text from the command line and file names is echoed only through
:func:`ad_compiler.escape.printable`; files are written only through
:mod:`ad_compiler.tools.outfile` (regular files, never an input, atomically).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import shlex
import stat
import sys
import tokenize

from ad_compiler.backend import numba_ready
from ad_compiler.errors import CompileError, Loc, UsageError
from ad_compiler.escape import printable
from ad_compiler.frontend.source import source_lines
from ad_compiler.ir import shapes
from ad_compiler.tools import cli_trees, outfile, sparsity_cli
from ad_compiler.tools.files import _SELF_CONTAINED as SELF_CONTAINED
from ad_compiler.tools.files import check_file, compile_file, trace_file, trace_ir
from ad_compiler.tools.whole_file import KeptGoing, skipped_lines
from ad_compiler.version import __version__

MAX_SECONDS = 86_400.0  # a time budget beyond a day is a typo, not a plan
MAX_DIGITS = 30
MAX_FAMILY = 1_000  # values of `adc swell --param`


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default exits 2 too; keep its wording
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _output_path(text: str) -> str:
    """``-o``/``--plot``: a path; an empty one is no path (it once meant stdout)."""
    if not text:
        raise argparse.ArgumentTypeError("empty output path")
    return text


def _seconds(text: str) -> float:
    """``--seconds``: a finite number of seconds, more than 0, at most a day."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_SECONDS:  # false for nan too
        raise argparse.ArgumentTypeError(
            f"takes a number of seconds more than 0 and at most {MAX_SECONDS:g}, "
            f"not {text!r}"
        )
    return value


def _whole_number(low: int, high: int | None = None, unit: str = ""):
    """An argparse type: a whole number from ``low`` (to ``high``), else a usage
    error saying so (``--digits``: 0 to :data:`MAX_DIGITS`; ``trace --output``: from 1).
    """
    span = f"from {low}" + (f" to {high}" if high is not None else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"takes a whole number{unit} {span}, not {text!r}"
            )
        return value

    return parse


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
    """The ``adc`` command line: one sub-command per tool."""
    parser = _Parser(
        prog="adc",
        description="ad_compiler: emit readable Python source for derivatives of Python functions.",
    )
    parser.add_argument("--version", action="version", version=f"adc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_compile(sub)
    _add_trace(sub)
    _add_graph(sub)
    _add_check(sub)
    _add_swell(sub)
    sparsity_cli.add_parser(sub, _file_and_functions, _output_path)
    return parser


def _add_compile(sub) -> None:
    """``adc compile``: emit derivative source."""
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
        "trip count, as --mode symbolic needs); a value that is not a number is a "
        "static one (kind='\"tanh\"', kind=None, flag=True; kind=tanh where "
        "the default is a string): branches on it are decided when compiling",
    )
    c.add_argument(
        "--shape",
        nargs="+",
        metavar="NAME=DIMS",
        help="the shape of an array parameter, one axis per comma: X=batch,64 "
        "(an axis written 1 may broadcast, ? is unknown; X= is a scalar); "
        "`X: np.ndarray` annotations say only that X is an array. A parameter that "
        "is a tuple/list/dict of arrays: a Python literal with DIMS strings as "
        'leaves, params=\'[("64,h", "h"), ("h,10", "10")]\'',
    )
    c.add_argument(
        "-o",
        "--output",
        type=_output_path,
        metavar="OUT",
        help="write to OUT (atomically) instead of stdout",
    )
    c.add_argument(
        "--ir", action="store_true", help="print the evaluation trace (IR) instead"
    )
    c.add_argument(
        "--jit",
        action="store_true",
        help="write the Numba-ready form: every function decorated @numba.njit, "
        "list tapes as arrays, index loops (docs/jit.md; the module imports numba)",
    )
    c.add_argument(
        "--checkpoint",
        choices=("revolve",),
        help="reverse mode: checkpoint the outermost `for ... in range(...)` loops "
        "(binomial checkpointing: at most --snapshots states kept, the steps between "
        "them run again; docs/checkpointing.md)",
    )
    c.add_argument(
        "--snapshots",
        type=int,
        metavar="K",
        help="with --checkpoint revolve: the snapshots kept per loop (default 10)",
    )
    c.add_argument(
        "--keep-going",
        action="store_true",
        help="emit the functions that compile, leaving out (and listing, on stderr "
        "and in a comment at the top of the module) the ones that do not; the "
        "exit status is still 1 when any is left out",
    )
    c.add_argument(
        "--seconds",
        type=_seconds,
        default=60.0,
        help="--mode symbolic: SymPy's time budget per function (default 60, as "
        "adc check); running out is an error",
    )


def _add_trace(sub) -> None:
    """``adc trace``: the seeds' trace tables."""
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
        type=_whole_number(1),
        metavar="K",
        help="for a function with several results: seed the adjoint of the K-th (default 1)",
    )
    t.add_argument(
        "--digits",
        type=_whole_number(0, MAX_DIGITS, " of digits"),
        default=4,
        help=f"digits after the point (0 to {MAX_DIGITS}; default 4)",
    )
    t.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="json holds infinities and NaN as the strings inf, -inf and nan",
    )


def _add_graph(sub) -> None:
    """``adc graph``: draw the trace."""
    g = sub.add_parser(
        "graph",
        help="draw a function's evaluation trace (Graphviz DOT; SVG/PNG with Graphviz)",
        description="Read FILE statically and draw the trace of one function: DOT "
        "text on stdout or in OUT.dot; OUT.svg or OUT.png need Graphviz's dot program.",
    )
    _file_and_functions(g)
    g.add_argument(
        "-o",
        "--output",
        type=_output_path,
        metavar="OUT",
        help="OUT.dot, OUT.svg or OUT.png",
    )
    g.add_argument(
        "--adjoints", action="store_true", help="also draw the reverse sweep's edges"
    )


def _add_check(sub) -> None:
    """``adc check``: prove derivatives against SymPy."""
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
        type=_seconds,
        default=60.0,
        help="time budget per function (default 60); running out is reported",
    )


def _add_swell(sub) -> None:
    """``adc swell``: the expression-swell table."""
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
    w.add_argument(
        "--plot",
        type=_output_path,
        metavar="PNG",
        help="also plot the table (log scale) into PNG (.png, .svg or .pdf)",
    )
    w.add_argument(
        "--seconds",
        type=_seconds,
        default=20.0,
        help="time budget per value (default 20); larger values are then skipped",
    )


def _error(message: str, status: int = 2) -> int:
    """Say what is wrong (outside text escaped), and give the exit status."""
    print(f"adc: error: {printable(message)}", file=sys.stderr)
    return status


def _values(spec: str):
    """``n=1..12`` or ``n=1,2,4`` as (name, values); None if malformed or more
    than :data:`MAX_FAMILY` values."""
    name, sep, values = spec.partition("=")
    try:
        if ".." in values:
            low, high = (int(v) for v in values.split(".."))
            if high - low >= MAX_FAMILY:
                return None
            out = list(range(low, high + 1))
        else:
            out = [int(v) for v in values.split(",")]
    except ValueError:
        return None
    ok = sep and name.strip().isidentifier() and out and len(out) <= MAX_FAMILY
    return (name.strip(), out) if ok else None


def _names(text: str | None, option: str = "--wrt") -> list[str] | None:
    """``x1,x2`` as names: identifiers, each once (a usage error otherwise)."""
    if not text:
        return None
    names = [w.strip() for w in text.split(",") if w.strip()]
    for name in names:
        if not name.isidentifier():
            raise UsageError(f"{option} takes parameter names, not {name!r}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"{option} names {', '.join(twice)} twice")
    return names or None


def _swell(args) -> int:
    from ad_compiler.tools.swell import PLOT_FORMATS, swell, swell_plot, swell_text

    parsed = _values(args.param)
    if parsed is None:
        return _error(
            f"--param takes NAME=A..B or NAME=A,B,C (integers, at most {MAX_FAMILY} "
            f"values), got {args.param!r}"
        )
    name, values = parsed
    fmt = os.path.splitext(args.plot or "")[1].lstrip(".").lower()
    if args.plot:
        outfile.check_target(args.plot, [args.file], "--plot")
        if fmt not in PLOT_FORMATS:
            return _error("--plot takes a .png, .svg or .pdf file")
    text = _read(args.file)
    wrt = _names(args.wrt)

    def progress(value):
        print(f"{name} = {value} ...", file=sys.stderr, flush=True)

    def work():
        fn = trace_ir(text, args.file, args.function)
        rows = swell(fn, name, values, wrt, args.seconds, progress)
        if args.plot:
            data = swell_plot(args.function, name, rows, fmt)
            outfile.write(args.plot, data, [args.file], "--plot")
        return rows

    rows, status = _call(text, work)
    if rows is None:
        return status
    sys.stdout.write(swell_text(args.function, name, wrt, rows))
    if args.plot:
        print(f"wrote {printable(args.plot)}", file=sys.stderr)
    return 0


def _shapes(items) -> dict:
    """``--shape`` values as abstract shapes by name, or a tree's
    :class:`cli_trees.TreeShape` (a usage error if malformed)."""
    out = {}
    for item in items:
        name, sep, dims = item.partition("=")
        name = name.strip()
        if sep and name.isidentifier() and cli_trees.is_tree_text(dims):
            if name in out:
                raise UsageError(f"--shape gives {name} twice")
            out[name] = cli_trees.parse_tree(name, dims)  # a tuple/list/dict
            continue
        if not sep or not name.isidentifier() or cli_trees.missing_axis(dims):
            raise UsageError(
                f"--shape takes NAME=DIMS, one axis per comma (X=batch,64; X= for a "
                f"scalar), got {item!r}"
            )
        if name in out:
            raise UsageError(f"--shape gives {name} twice")
        try:
            out[name] = shapes.parse(dims)
        except ValueError as exc:
            raise UsageError(f"--shape: {exc} (in {item!r})") from None
    return out


def _number(text: str):
    """An integer if ``text`` spells one, else a float (``2``, ``2.5``, ``1e-3``,
    ``inf``, ``nan``); ValueError if neither."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _points(groups, option: str = "--at", statics: bool = False) -> list[dict]:
    """``--at``/``--fix`` values as dicts, each name once (a usage error otherwise).
    With ``statics`` a value that is not a number is a static one (``None``,
    ``True``, a string: :func:`cli_trees.static_text`)."""
    points = []
    for items in groups:
        point = {}
        for item in items:
            name, sep, value = item.partition("=")
            name = name.strip()
            try:
                number = _number(value.strip())
            except ValueError:
                if statics and value.strip():
                    number = cli_trees.static_text(value.strip())
                else:
                    sep = ""
            if not sep or not name.isidentifier():
                raise UsageError(f"{option} takes NAME=NUMBER, got {item!r}")
            if name in point:
                raise UsageError(f"{option} gives {name} twice")
            point[name] = number
        points.append(point)
    return points


def _check(args) -> int:
    text = _read(args.file)
    points = _points(args.at or [])

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
    failed = [r for r in reports if r.failed]
    skipped = len(reports) - proved - len(failed)
    for r in failed:
        for p in r.failures:
            print(
                f"{printable(args.file)}: error: the {p.mode}-mode derivative "
                f"{p.what} of `{r.function}` differs from sympy.diff: {p.detail}",
                file=sys.stderr,
            )
    print(
        f"adc check: {proved} proved, {len(failed)} failed, {skipped} not checked",
        file=sys.stderr,
    )
    return 1 if failed else 0


def _graph(args) -> int:
    from ad_compiler.tools.graph import render, to_dot

    out = args.output
    fmt = os.path.splitext(out or "")[1].lstrip(".").lower()
    if out:
        outfile.check_target(out, [args.file])
        if fmt not in ("dot", "gv", "svg", "png"):
            return _error("-o takes a .dot, .gv, .svg or .png file")
    text = _read(args.file)
    fn, status = _call(text, lambda: trace_ir(text, args.file, args.function))
    if fn is None:
        return status
    dot = to_dot(fn, adjoints=args.adjoints)
    if not out:
        sys.stdout.write(dot)
        return 0
    data = dot.encode()
    if fmt in ("svg", "png"):
        data, status = _call(text, lambda: render(dot, fmt))
        if data is None:
            return status
    outfile.write(out, data, [args.file])
    return 0


MAX_INPUT = 16 * 1024 * 1024  # bytes: far beyond any source worth differentiating

_KINDS = {
    stat.S_IFDIR: "Is a directory",
    stat.S_IFIFO: "it is a FIFO (named pipe), not a regular file",
    stat.S_IFCHR: "it is a character device, not a regular file",
    stat.S_IFBLK: "it is a block device, not a regular file",
    stat.S_IFSOCK: "it is a socket, not a regular file",
}


def _read_bytes(path: str) -> bytes:
    """The bytes of ``path``, a regular file of at most :data:`MAX_INPUT` bytes;
    anything else a usage error.  Opened without blocking (a FIFO with no writer
    would wait forever) and read at most one byte past the limit (``/dev/zero``
    never ends)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = _KINDS.get(stat.S_IFMT(mode), "it is not a regular file")
        raise UsageError(f"cannot read {path}: {kind}")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_INPUT + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT:
        raise UsageError(
            f"cannot read {path}: it is larger than {MAX_INPUT // 2**20} MiB"
        )
    return data


def _read(path: str) -> str:
    """The file's text, decoded as Python decodes source (UTF-8, a BOM, or a
    coding cookie).  Unreadable: a usage error; not decodable: a located
    :class:`CompileError` (``file:line:col: error: ...``)."""
    data = _read_bytes(path)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # a bad coding cookie, or a BOM with another one
        raise CompileError(str(exc), Loc(path, exc.lineno or 1, 1)) from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _undecodable(path, data, exc, encoding) from None
    except LookupError:  # `# coding: rot13`: a codec, but not a text encoding
        cookie = 1 if b"coding" in data.split(b"\n", 1)[0] else 2
        raise CompileError(
            f"the coding comment names `{encoding}`, which is not a text encoding",
            Loc(path, cookie, 1),
        ) from None
    text = text[1:] if text.startswith("\ufeff") else text
    # universal newlines, as open() in text mode and Python's tokenizer read them
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _undecodable(path, data: bytes, exc: UnicodeDecodeError, encoding) -> CompileError:
    """Where a file stops being ``encoding``: line and column (in characters)."""
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    line = data.count(b"\n", 0, exc.start) + 1
    col = len(data[line_start : exc.start].decode(encoding, errors="replace")) + 1
    byte = data[exc.start : exc.end].hex(" ")
    return CompileError(
        f"the file is not valid {encoding.upper()}: bytes {byte} cannot be decoded "
        "(Python reads source as UTF-8 unless a coding comment says otherwise)",
        Loc(path, line, col),
    )


def _call(text, work):
    """``(work(), 0)``, or ``(None, status)`` after printing the error: 1 for what
    cannot be differentiated (compiler-style, with the source line), 2 for usage."""
    try:
        return work(), 0
    except CompileError as exc:
        lines = source_lines(text) if text is not None else []
        print(exc.with_source(lines).render(), file=sys.stderr)
        return None, 1
    except UsageError as exc:
        return None, _error(str(exc))


def _trace(args) -> int:
    import json

    text = _read(args.file)
    point = _points([args.at])[0]
    tables, status = _call(
        text,
        lambda: trace_file(
            text, args.file, args.function, point, args.wrt, args.output
        ),
    )
    if tables is None:
        return status
    if args.format == "json":
        data = json.dumps(tables.as_dict(), indent=2, allow_nan=False)
        sys.stdout.write(data + "\n")
    elif args.format == "markdown":
        sys.stdout.write(tables.markdown(args.digits))
    else:
        sys.stdout.write(tables.text(args.digits))
    return 0


def _numba_ready(module: str) -> str:
    """``--jit``: the module in the form ``numba.njit`` compiles (docs/jit.md),
    ``cache=True``: a module written to be kept in a file."""
    now = "Numba-ready (--jit): needs numba and numpy besides math."
    return numba_ready.rewrite(module.replace(SELF_CONTAINED, now, 1), cache=True)


def _checkpoint_option(args) -> tuple:
    """``("revolve", k)`` from --checkpoint/--snapshots, or ``()``."""
    if args.checkpoint is None:
        if args.snapshots is not None:
            raise UsageError("--snapshots goes with --checkpoint revolve")
        return ()
    if args.mode != "reverse":
        raise UsageError("--checkpoint goes with --mode reverse (the default)")
    k = 10 if args.snapshots is None else args.snapshots
    if k < 1:
        raise UsageError(f"--snapshots must be at least 1, got {k}")
    return ("revolve", k)


def _compile(args, argv: list[str]) -> int:
    out = args.output
    if out:
        outfile.check_target(out, [args.file])
    text = _read(args.file)
    wrt = _names(args.wrt)
    fix = _points([args.fix], "--fix", statics=True)[0] if args.fix else None
    shape_of = _shapes(args.shape or [])
    command = "adc " + " ".join(shlex.quote(a) for a in argv)

    def work():
        if args.jit and (args.ir or args.mode == "symbolic"):
            raise UsageError(
                "--jit writes derivative code: not with --ir or --mode symbolic"
            )
        try:
            module = compile_file(
                text,
                args.file,
                functions=args.function,
                mode=args.mode,
                wrt=wrt,
                ir_only=args.ir,
                command=command,
                fix=fix,
                shape_of=shape_of,
                seconds=args.seconds,
                keep_going=args.keep_going,
                checkpoint=_checkpoint_option(args),
            )
            return _numba_ready(module) if args.jit else module
        except KeptGoing as kept:  # some functions left out: report them below
            if args.jit:
                kept.module = _numba_ready(kept.module)
            report = kept.report
            _call(text, lambda: _raise(report.error()))
            for line in skipped_lines(report):
                print(line, file=sys.stderr)
            return kept

    module_text, status = _call(text, work)
    if isinstance(module_text, KeptGoing):
        module_text, status = module_text.module, 1
    if module_text is None:
        return status
    if out:
        outfile.write(out, module_text.encode("utf-8"), [args.file])
    else:
        sys.stdout.write(module_text)
    return status


def _raise(error: Exception):
    raise error


def _sparsity(args) -> int:
    if args.output:
        outfile.check_target(args.output, [args.file])
        if not args.output.lower().endswith(".png"):
            return _error("-o takes a .png file")

    def write(path, pattern):
        image = io.BytesIO()
        pattern.plot(image)
        outfile.write(path, image.getvalue(), [args.file])

    return sparsity_cli.run(args, _read, _call, write)


_COMMANDS = {
    "trace": _trace,
    "graph": _graph,
    "check": _check,
    "swell": _swell,
    "sparsity": _sparsity,
}


def _forget_the_interrupt() -> None:
    """Make the interpreter forget the KeyboardInterrupt :func:`main` has handled.

    CPython records a KeyboardInterrupt that ends a *string* ``exec`` or
    ``eval`` (SymPy builds some functions with one, and so does the registry
    for its helpers) as unhandled, even when a caller catches it as ``main``
    does; under ``python -m`` the interpreter then ends by killing itself with
    SIGINT (exit -2) instead of exiting with the 130 returned here.  Ctrl-C landing
    inside such a call is a matter of timing, hence an exit status that
    changed with the machine's load.  Every string ``exec`` clears that
    record before it runs, so an empty one clears it (CPython 3.10 to 3.13).
    """
    exec("")


def main(argv=None) -> int:
    """Run ``adc`` on ``argv`` (default ``sys.argv[1:]``); the exit status.

    Never raises (but ``SystemExit`` from argparse, status 2 or 0 for
    ``--help``): usage errors are 2, input that cannot be differentiated 1,
    Ctrl-C 130, and an internal failure 3 with a one-line report."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        if args.command in _COMMANDS:
            return _COMMANDS[args.command](args)
        return _compile(args, argv)
    except KeyboardInterrupt:
        print("adc: interrupted", file=sys.stderr)
        _forget_the_interrupt()
        return 130
    except BrokenPipeError:  # `adc compile f.py | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except UsageError as exc:
        return _error(str(exc))
    except CompileError as exc:  # raised before any source is known (decoding)
        print(exc.render(), file=sys.stderr)
        return 1
    except Exception as exc:  # a bug in ad_compiler: say so, without a traceback
        print(
            f"adc: internal compiler error: {type(exc).__name__}: "
            f"{printable(str(exc))}\n"
            "This is a bug in ad_compiler; please report it with the input file.",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
