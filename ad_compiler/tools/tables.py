"""Trace tables: the seeds' forward primal, forward tangent and reverse adjoint traces.

For a function and a point, :func:`trace_tables` runs the IR on Python numbers
along the path the point takes (the branches taken, every iteration of every
loop), then walks that straight-line execution twice more with the rule table:
forwards for the tangent of one input (``v̇ᵢ = Σ ∂vᵢ/∂vⱼ v̇ⱼ``), backwards for
the adjoints (``v̄ⱼ += v̄ᵢ ∂vᵢ/∂vⱼ``, each accumulation its own row, as the seeds
write them).

Guarantees: every formula and every number comes from the same rule row that
generates code (:mod:`ad_compiler.ad.rules`), applied once to text and once to
numbers, so a table never disagrees with the emitted derivative's maths.  A value
computed again in a later iteration is listed again, as ``name#k`` for its k-th
computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ad_compiler.ad.rules import rule_for
from ad_compiler.errors import CompileError, UsageError
from ad_compiler.ir.builder import NumericOps, Ops
from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    For,
    Function,
    If,
    Var,
    While,
    tree_leaves,
    without_prints,
)
from ad_compiler.primitives.table import PRIMITIVES


@dataclass(frozen=True)
class Row:
    """One line of a table: ``name = formula = value`` (source line ``line``)."""

    name: str
    formula: str
    value: float
    line: int | None = None


@dataclass
class Tables:
    """The three traces of ``function`` at ``point``, the tangent along ``wrt``."""

    function: str
    point: dict
    wrt: str
    seeded: str = ""  # for several outputs: the one whose adjoint is seeded
    primal: list[Row] = field(default_factory=list)
    tangent: list[Row] = field(default_factory=list)
    adjoint: list[Row] = field(default_factory=list)

    def _adjoint_title(self) -> str:
        title = "Reverse adjoint trace"
        return f"{title} (seed {self.seeded}_bar = 1)" if self.seeded else title

    def text(self, digits: int = 4) -> str:
        """The tables as aligned text."""
        out = []
        titles = (
            ("Forward primal trace", self.primal),
            (f"Forward tangent trace (d/d{self.wrt})", self.tangent),
            (self._adjoint_title(), self.adjoint),
        )
        for title, rows in titles:
            out += [title, "-" * len(title)]
            width = max((len(r.name) for r in rows), default=0)
            formula = max((len(r.formula) for r in rows), default=0)
            for r in rows:
                value = _number(r.value, digits)
                out.append(f"{r.name:<{width}} = {r.formula:<{formula}} = {value}")
            out.append("")
        return "\n".join(out)

    def markdown(self, digits: int = 4) -> str:
        out = []
        for title, rows in (
            ("Forward primal trace", self.primal),
            (f"Forward tangent trace (d/d{self.wrt})", self.tangent),
            (self._adjoint_title(), self.adjoint),
        ):
            out += [
                f"### {title}",
                "",
                "| value | formula | number |",
                "|---|---|---:|",
            ]
            for r in rows:
                formula = r.formula.replace("|", "\\|")
                out.append(f"| `{r.name}` | `{formula}` | {_number(r.value, digits)} |")
            out.append("")
        return "\n".join(out)

    def as_dict(self) -> dict:
        """The tables as JSON-ready data: non-finite numbers as strings (see
        :func:`_json_number`), so ``json.dumps(..., allow_nan=False)`` holds."""

        def rows(rs):
            return [
                {
                    "name": r.name,
                    "formula": r.formula,
                    "value": _json_number(r.value),
                    "line": r.line,
                }
                for r in rs
            ]

        return {
            "function": self.function,
            "point": {k: _json_number(v) for k, v in self.point.items()},
            "wrt": self.wrt,
            "seeded": self.seeded or None,
            "primal": rows(self.primal),
            "tangent": rows(self.tangent),
            "adjoint": rows(self.adjoint),
        }


def _json_number(value):
    """A number as JSON holds it: JSON has no infinity or NaN, so those are the
    strings ``"inf"``, ``"-inf"`` and ``"nan"`` (which ``float()`` reads back)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _number(value: float, digits: int) -> str:
    if isinstance(value, (bool, int)):
        return str(value)
    return f"{value:.{digits}f}" if math.isfinite(value) else str(value)


class _SafeNumbers(NumericOps):
    """Numbers, where a partial nobody needs may be undefined (``log`` of a
    negative base for an integer exponent): nan, never read."""

    def apply(self, prim, *ins):
        try:
            return super().apply(prim, *ins)
        except (ValueError, ZeroDivisionError, OverflowError):
            return math.nan


class TextOps(Ops):
    """Rules applied to text: ``b.mul("x2", "x1_dot")`` is ``"x2 * x1_dot"``."""

    def apply(self, prim: str, *ins):
        args = [a if _simple(a) else f"({a})" for a in ins]
        return PRIMITIVES[prim].show(args)

    def lit(self, value):
        return repr(value)


def _simple(text: str) -> bool:
    return " " not in text or (text.startswith("(") and text.endswith(")"))


@dataclass(frozen=True)
class _Step:
    """One computation of the execution: ``out = prim(ins)`` (``prim`` None: a copy)."""

    out: str
    prim: str | None
    ins: tuple  # instance names, or numbers for constants
    ns: str
    line: int | None


# Rows of one table at most: a table this long is already unreadable, and the limit
# bounds the time and the memory of `adc trace` whatever the loop or the point.
MAX_STEPS = 100_000
# An integer this many bits long is computed on as a float: Python's integers
# never overflow, so `x = x * x` in a loop, or `x ** y` at y = 10**9, would
# otherwise take unbounded time and memory inside one operation.
MAX_INT_BITS = 1024


def _bounded(prim: str, args: list) -> list:
    """``args``, integers that would make ``prim`` huge turned into floats."""
    ints = [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
    if not ints:
        return args
    big = any(a.bit_length() > MAX_INT_BITS for a in ints)
    if prim == "pow" and len(ints) == 2 and abs(args[0]) > 1:
        big = big or abs(args[1]) * args[0].bit_length() > MAX_INT_BITS
    if not big:
        return args
    try:
        return [float(a) if isinstance(a, int) else a for a in args]
    except OverflowError:  # beyond a float too: its infinity, with its sign
        return [
            (math.inf if a > 0 else -math.inf) if isinstance(a, int) else a
            for a in args
        ]


def _evaluate(s: Eqn, args: list):
    """``s``'s primitive on numbers; a located error where it is undefined there."""
    try:
        return PRIMITIVES[s.prim].evaluator(s.ns)(*_bounded(s.prim, args))
    except (ArithmeticError, ValueError, TypeError) as exc:
        shown = PRIMITIVES[s.prim].show([_repr(a) for a in args], s.ns)
        where = f" at line {s.loc.line}" if s.loc is not None else ""
        raise CompileError(
            f"{_reason(exc)}{where}: {shown} at the point given", loc=s.loc
        ) from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, OverflowError) and not isinstance(exc.args[0], str):
        return "result out of a float's range"  # its args are (errno, strerror)
    return str(exc)


def _repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _range_args(s, args: list) -> list:
    """The arguments of ``range`` in loop ``s``: integers, or a usage error."""
    for a in args:
        if not isinstance(a, int):
            where = f" at line {s.loc.line}" if s.loc is not None else ""
            raise UsageError(
                f"`range`{where} takes integers, and the point (--at) gives it "
                f"{_repr(a)}"
            )
    return args


def _too_long(s) -> CompileError:
    return CompileError(
        f"the trace at this point takes more than {MAX_STEPS:,} steps, more than "
        "a table can show (adc trace's limit); trace a point with fewer iterations",
        loc=s.loc,
    )


def execute(fn: Function, args: dict) -> tuple[list[_Step], dict, list]:
    """Run ``fn`` on numbers along the path taken; the steps, values and results.

    Bounded: more than :data:`MAX_STEPS` operations and loop iterations raise a
    :class:`CompileError` at the statement reached; an operation undefined at
    the point (``log(0)``) raises one located at it.
    """
    values: dict[str, float] = {}
    current: dict[str, str] = {}  # IR name -> the instance holding its value now
    seen: dict[str, int] = {}
    steps: list[_Step] = []
    work = [0]  # operations and iterations so far

    def tick(s) -> None:
        work[0] += 1
        if work[0] > MAX_STEPS:
            raise _too_long(s)

    def bind(name: str) -> str:
        seen[name] = seen.get(name, 0) + 1
        inst = name if seen[name] == 1 else f"{name}#{seen[name]}"
        current[name] = inst
        return inst

    def ref(a):
        return a.value if isinstance(a, Const) else current[a.name]

    def val(r):
        return values[r] if isinstance(r, str) else r

    def copy(out: Var, a, line):
        source = ref(a)
        inst = bind(out.name)
        values[inst] = val(source)
        steps.append(_Step(inst, None, (source,), "py", line))

    def run(stmts):
        for s in stmts:
            line = s.loc.line if s.loc is not None else None
            if isinstance(s, Eqn):
                if s.prim in ("call", "tape", "push"):
                    raise UsageError(
                        "trace tables cover arithmetic, branches and loops; "
                        f"`{fn.name}` calls a function it does not inline"
                    )
                tick(s)
                ins = tuple(ref(a) for a in s.ins)
                value = _evaluate(s, [val(i) for i in ins])
                inst = bind(s.out.name)
                values[inst] = value
                steps.append(_Step(inst, s.prim, ins, s.ns, line))
            elif isinstance(s, If):
                taken = bool(val(ref(s.cond)))
                run(s.then if taken else s.orelse)
                for o, v in zip(s.outs, s.then_vals if taken else s.else_vals):
                    copy(o, v, line)
            else:
                run_loop(s, line)

    def run_loop(s, line):
        for c, init in zip(s.carried, s.inits):
            copy(c, init, line)
        indices = iter(())
        if isinstance(s, For):
            if s.over != "range":
                raise UsageError("trace tables run primal code only")
            indices = iter(range(*_range_args(s, [val(ref(a)) for a in s.args])))
        while True:
            tick(s)
            if isinstance(s, While):
                run(s.test)
                if not val(ref(s.cond)):
                    return
            else:
                index = next(indices, None)
                if index is None:
                    return
                values[bind(s.index[0].name)] = index
            run(s.body)
            sources = [ref(n) for n in s.nexts]  # all read before any is assigned
            stop = s.brk is not None and bool(val(ref(s.brk)))
            for c, source in zip(s.carried, sources):
                inst = bind(c.name)
                values[inst] = val(source)
                steps.append(_Step(inst, None, (source,), "py", line))
            if stop:
                return

    for p in fn.params:
        inst = bind(p.name)
        values[inst] = args[p.name]
    run(fn.body)
    return steps, values, [ref(r) for r in fn.results]


def trace_tables(
    fn: Function, point: dict, wrt: str | None = None, output: int | None = None
) -> Tables:
    """The primal, tangent (along ``wrt``, default the first parameter) and adjoint
    traces of ``fn`` at ``point`` (parameter name -> number).

    For a function with several results (``y1, y2, …``) the tangent trace ends
    in every ``yk_dot`` (a Jacobian column) and the adjoint trace seeds
    ``y{output}_bar = 1`` (a Jacobian row; ``output`` counts from 1, default 1).
    """
    names = [p.name for p in fn.params]
    unknown = [n for n in point if n not in names]
    if unknown:
        raise UsageError(
            f"`{fn.name}` has no parameter named {', '.join(unknown)} "
            f"(its parameters: {', '.join(names)})"
        )
    missing = [n for n in names if n not in point]
    if missing:
        raise UsageError(f"give a value for {', '.join(missing)} (as name=value)")
    wrt = wrt or names[0]
    if wrt not in names:
        raise UsageError(f"`{fn.name}` has no parameter named {wrt}")
    leaves = tree_leaves(fn.tree)
    labels = ["y"] if isinstance(fn.tree, int) else [f"y{k + 1}" for k in leaves]
    if output is not None and not 1 <= output <= len(leaves):
        raise UsageError(
            f"`{fn.name}` has {len(leaves)} outputs; --output takes 1..{len(leaves)}"
        )
    seeded = (output or 1) - 1
    # the tables are of values: the function's prints have none
    fn = replace(fn, body=without_prints(fn.body))
    steps, values, results = execute(fn, point)
    tables = Tables(
        fn.name, dict(point), wrt, labels[seeded] if len(labels) > 1 else ""
    )
    num, text = _SafeNumbers(), TextOps()
    for p in names:
        tables.primal.append(Row(p, "input", values[p]))
    for st in steps:
        formula = _formula(st)
        tables.primal.append(Row(st.out, formula, values[st.out], st.line))
    outs = [results[i] for i in leaves]
    for label, result in zip(labels, outs):
        if label != result:  # a result the user already named y1 is shown above
            value = values[result] if isinstance(result, str) else result
            tables.primal.append(Row(label, str(result), value))
    active = set(names)
    for st in steps:
        if any(isinstance(i, str) and i in active for i in st.ins):
            active.add(st.out)
    _tangents(tables, steps, values, wrt, names, num, text)
    dots = {r.name: r.value for r in tables.tangent}
    for label, result in zip(labels, outs):
        if label == result and len(labels) > 1:
            continue
        dot = dots.get(f"{result}_dot", 0.0)
        shown = f"{result}_dot" if isinstance(result, str) else "0"
        tables.tangent.append(Row(f"{label}_dot", shown, dot))
    _adjoints(tables, steps, values, outs[seeded], names, num, text, active)
    return tables


def _formula(st: _Step) -> str:
    if st.prim is None:
        return str(st.ins[0])
    return PRIMITIVES[st.prim].show([str(i) for i in st.ins], st.ns)


def _tangents(tables, steps, values, wrt, names, num, text):
    dot_val = {wrt: 1.0}
    for p in names:
        tables.tangent.append(Row(f"{p}_dot", "seed", 1.0 if p == wrt else 0.0))
    for st in steps:
        dv = [dot_val.get(i) if isinstance(i, str) else None for i in st.ins]
        dt = [
            f"{i}_dot" if isinstance(i, str) and i in dot_val else None for i in st.ins
        ]
        if st.prim is None:
            value, formula = dv[0], dt[0]
        else:
            rule = rule_for(st.prim)
            ins = [values[i] if isinstance(i, str) else i for i in st.ins]
            value = rule.jvp(num, {}, values[st.out], *ins, *dv)
            value = None if all(d is None for d in dv) else value
            formula = None
            if value is not None:
                shown = [str(i) for i in st.ins]
                formula = rule.jvp(text, {}, st.out, *shown, *dt)
        if value is not None:
            dot_val[st.out] = value
        tables.tangent.append(
            Row(f"{st.out}_dot", formula or "0", value or 0.0, st.line)
        )


def _adjoints(tables, steps, values, result, names, num, text, active):
    bar: dict[str, float] = {}
    if isinstance(result, str):
        bar[result] = 1.0
        tables.adjoint.append(Row(f"{result}_bar", "seed", 1.0))
    for st in reversed(steps):
        g = bar.get(st.out)
        if g is None:
            continue
        g_name = f"{st.out}_bar"
        if st.prim is None:
            cts, texts = [g], [g_name]
        else:
            rule = rule_for(st.prim)
            ins = [values[i] if isinstance(i, str) else i for i in st.ins]
            cts = rule.vjp(num, {}, values[st.out], g, *ins)
            texts = rule.vjp(text, {}, st.out, g_name, *[str(i) for i in st.ins])
        for i, ct, t in zip(st.ins, cts, texts):
            if ct is None or not isinstance(i, str) or i not in active:
                continue
            name = f"{i}_bar"
            if i in bar:
                bar[i] = bar[i] + ct
                tables.adjoint.append(Row(name, f"{name} + {t}", bar[i], st.line))
            else:
                bar[i] = ct
                tables.adjoint.append(Row(name, t, ct, st.line))
    for p in names:
        tables.adjoint.append(Row(f"{p}_bar", "result", bar.get(p, 0.0)))
