"""``adc swell``: expression swell, the reason symbolic differentiation loses.

For a family of functions — one integer parameter fixed to each value in turn,
so that loops over it unroll — the report sets three sizes side by side:

* ``sympy.diff``: ``count_ops`` of SymPy's gradient of the unrolled function,
  the expression a computer-algebra system hands back;
* ``after cse``: the same after common-subexpression elimination (the
  definitions counted too), SymPy's best effort at sharing work;
* ``emitted``: the operations ad_compiler's reverse-mode gradient executes
  (loops unrolled, as in the two SymPy columns), and how many it writes.

For the logistic map ``l ← 4·l·(1 − l)`` iterated ``n`` times the first column
grows geometrically (82,176 operations at n = 10) while the emitted gradient
grows by a constant number of operations per step.  Symbolic work is bounded
by a time budget per value: a value that runs out is reported as cut off, and
larger values are not tried.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from ad_compiler.driver import derivative_ir, helper_irs
from ad_compiler.errors import UsageError
from ad_compiler.ir.nodes import Function, iter_eqns
from ad_compiler.opt.shaping import fix_parameters
from ad_compiler.symbolic.check import (
    OutOfTime,
    almost_everywhere,
    sympy_sizes,
    time_budget,
)
from ad_compiler.symbolic.unroll import NotExpressible, Unroller, sympy_module


@dataclass(frozen=True)
class SwellRow:
    """One member of the family: sizes, or why they are missing."""

    value: int
    symbolic: int | None
    cse: int | None
    emitted: int | None
    emitted_lines: int | None
    seconds: float
    note: str = ""


def swell(
    fn: Function,
    param: str,
    values,
    wrt: list[str] | None = None,
    seconds: float | None = 20.0,
    progress=None,
) -> list[SwellRow]:
    """The swell table of ``fn`` over ``param`` in ``values`` (gradient w.r.t. ``wrt``)."""
    sp = sympy_module()
    fix_parameters(fn, {param: 0})  # an unknown name is an error before any work
    _check_wrt(fn, param, wrt)
    rows: list[SwellRow] = []
    for value in values:
        if rows and rows[-1].note.startswith(("cut off", "skipped")):
            rows.append(SwellRow(value, None, None, None, None, 0.0, "skipped"))
            continue
        if progress is not None:
            progress(value)
        f = fix_parameters(fn, {param: value})
        names = [p.name for p in f.params]
        idx = tuple(names.index(w) for w in wrt) if wrt else tuple(range(len(names)))
        d = derivative_ir(f, "grad", idx, idx)
        program = {g.name: g for g in tuple(f.callees) + tuple(helper_irs(f, "grad"))}
        lines = sum(
            1
            for g in (d, *program.values())
            for e in iter_eqns(g.body)
            if e.prim not in ("tape", "push", "print")
        )
        xs = [sp.Symbol(n, real=True) for n in names]
        started = time.monotonic()
        symbolic = cse = emitted = None
        note = ""
        try:
            with time_budget(seconds):
                run = Unroller(program)
                run.call(d, xs)
                emitted = run.ops
                (y,) = Unroller(program).call(f, xs)
                grads = [almost_everywhere(sp.diff(y, xs[i])) for i in idx]
                symbolic, cse = sympy_sizes(grads)
        except OutOfTime:
            note = f"cut off after {seconds:g} s"
        except NotExpressible as exc:
            note = f"skipped: {exc}"
        rows.append(
            SwellRow(
                value,
                symbolic,
                cse,
                emitted,
                lines,
                time.monotonic() - started,
                note,
            )
        )
    return rows


def _check_wrt(fn: Function, param: str, wrt) -> None:
    """A usage error unless ``wrt`` names distinct parameters other than ``param``."""
    inputs = [p.name for p in fn.params if p.name != param]
    for w in wrt or ():
        if w not in inputs:
            why = (
                "is the parameter --param fixes in"
                if w == param
                else "is not a parameter of"
            )
            raise UsageError(
                f"--wrt {w} {why} `{fn.name}` (its inputs: {', '.join(inputs)})"
            )
    if wrt and len(set(wrt)) < len(wrt):
        raise UsageError(f"--wrt names a parameter twice: {', '.join(wrt)}")
    if not inputs:
        raise UsageError(f"`{fn.name}` has no input left once {param} is fixed")


def swell_text(name: str, param: str, wrt, rows: list[SwellRow]) -> str:
    """The table as aligned text."""
    head = f"Expression swell of the gradient of {name}"
    head += f" with respect to {', '.join(wrt)}" if wrt else ""
    out = [head, ""]
    columns = (param, "sympy.diff", "after cse", "emitted ops", "written", "seconds")
    table = [columns]
    for r in rows:
        cells = [r.value, r.symbolic, r.cse, r.emitted, r.emitted_lines]
        text = [f"{c:,}" if isinstance(c, int) else "-" for c in cells]
        table.append((*text, f"{r.seconds:.2f}" + (f"  {r.note}" if r.note else "")))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        cells = [row[i].rjust(widths[i]) for i in range(5)]
        out.append("  ".join(cells) + "  " + row[5])
    growth = [
        b.symbolic / a.symbolic
        for a, b in zip(rows, rows[1:])
        if a.symbolic and b.symbolic and a.value + 1 == b.value
    ]
    if growth:
        out += [
            "",
            f"sympy.diff grows {growth[-1]:.2f}x per step at the end "
            f"(geometric mean {_geomean(growth):.2f}x); the emitted gradient grows "
            f"by {_step(rows)} operations per step.",
        ]
    return "\n".join(out) + "\n"


def _geomean(xs) -> float:
    product = 1.0
    for x in xs:
        product *= x
    return product ** (1 / len(xs))


def _step(rows) -> str:
    done = [r for r in rows if r.emitted is not None]
    if len(done) < 2:
        return "?"
    a, b = done[-2], done[-1]
    return f"{(b.emitted - a.emitted) / (b.value - a.value):g}"


PLOT_FORMATS = ("png", "svg", "pdf")


def swell_plot(name: str, param: str, rows: list[SwellRow], fmt: str) -> bytes:
    """The three sizes plotted on a log scale, as ``fmt`` (one of
    :data:`PLOT_FORMATS`) data to write (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(
            "--plot needs matplotlib: pip install matplotlib (or the [plot] extra)"
        ) from None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = (
        ("symbolic", "sympy.diff (count_ops)", "o-"),
        ("cse", "sympy.diff after cse", "s-"),
        ("emitted", "ad_compiler, operations executed", "^-"),
    )
    for field, label, style in series:
        pts = [(r.value, getattr(r, field)) for r in rows if getattr(r, field)]
        if pts:
            ax.plot(*zip(*pts), style, label=label)
    ax.set_yscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel("operations in the gradient")
    ax.set_title(f"Expression swell: the gradient of {name}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format=fmt)
    plt.close(fig)
    return buffer.getvalue()
