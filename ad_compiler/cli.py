"""The ``adc`` command: a thin shell over :mod:`ad_compiler.api`.

``adc compile f.py`` reads f.py as text (it never imports or runs it) and
writes a Python module with the derivative of each top-level function;
``adc trace f.py --function f --at x1=2 x2=5`` prints the seeds' three trace
tables at that point.

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

from . import __version__
from .api import compile_file, trace_file, trace_ir
from .errors import CompileError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default exits 2 too; keep its wording
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


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
        "tuple-valued f) or f_jvp (forward mode).",
    )
    c.add_argument(
        "file", metavar="FILE", help="the Python file to read (it is not executed)"
    )
    c.add_argument(
        "--function",
        action="append",
        metavar="NAME",
        help="differentiate only this function (repeatable; default: every top-level function)",
    )
    c.add_argument(
        "--mode",
        choices=("reverse", "forward"),
        default="reverse",
        help="reverse (gradient / VJP, the default) or forward (JVP)",
    )
    c.add_argument(
        "--wrt",
        metavar="X1,X2",
        help="comma-separated parameters to differentiate with respect to (default: all)",
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
    t.add_argument(
        "file", metavar="FILE", help="the Python file to read (not executed)"
    )
    t.add_argument("--function", required=True, metavar="NAME", help="the function")
    t.add_argument(
        "--at",
        nargs="+",
        required=True,
        metavar="NAME=VALUE",
        help="the point: a value for every parameter",
    )
    t.add_argument("--wrt", metavar="NAME", help="the input of the tangent trace")
    t.add_argument("--digits", type=int, default=4, help="digits after the point")
    t.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    g = sub.add_parser(
        "graph",
        help="draw a function's evaluation trace (Graphviz DOT; SVG/PNG with Graphviz)",
        description="Read FILE statically and draw the trace of one function: DOT "
        "text on stdout or in OUT.dot; OUT.svg or OUT.png need Graphviz's dot program.",
    )
    g.add_argument(
        "file", metavar="FILE", help="the Python file to read (not executed)"
    )
    g.add_argument("--function", required=True, metavar="NAME", help="the function")
    g.add_argument("-o", "--output", metavar="OUT", help="OUT.dot, OUT.svg or OUT.png")
    g.add_argument(
        "--adjoints", action="store_true", help="also draw the reverse sweep's edges"
    )
    return parser


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
    point = {}
    for item in args.at:
        name, sep, value = item.partition("=")
        try:
            point[name.strip()] = (
                float(value) if "." in value or "e" in value else int(value)
            )
        except ValueError:
            sep = ""
        if not sep:
            print(f"adc: error: --at takes NAME=NUMBER, got {item!r}", file=sys.stderr)
            return 2
    tables, status = _call(
        text, lambda: trace_file(text, args.file, args.function, point, args.wrt)
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
