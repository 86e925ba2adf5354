"""``adc check``: prove every emitted derivative equal to ``sympy.diff``.

For ``f(x1, …, xn)`` with results ``y1, …, ym`` the check converts the trace
and the *emitted* derivatives (the optimised IR that becomes the source, tapes
and recursive helpers included) to SymPy with :class:`~ad_compiler.symbolic.unroll.Unroller`
and proves, with fresh symbols for the cotangents ``ȳ_k`` and tangents ``ẋ_i``:

* reverse mode: ``x̄_i = Σ_k ȳ_k ∂y_k/∂x_i`` for every input (``ȳ = 1`` for a
  scalar ``f``: the gradient);
* forward mode: ``ẏ_k = Σ_i ∂y_k/∂x_i ẋ_i`` for every output.

Each equality is settled one of two ways, and the report says which:

* **symbolic** — the difference, put over a common denominator and expanded,
  is 0 (a ``Piecewise`` difference: every piece is);
* **numeric** — the difference, evaluated with 50 significant digits at random
  points, is below 1e-13 relative to the derivative.  Emitted code holds folded
  constants as doubles (``log(2)`` as 0.6931471805599453), so an exact test
  would fail for the wrong reason.

How the function becomes a formula:

* **whole** — loops with a trip count known without the inputs are unrolled,
  branches become ``Piecewise``: the proof holds for every input;
* **path** — when there is no closed form (a loop that runs until a tolerance
  is met), and points are given, each point fixes the branches and trip
  counts; the proof holds on the region of inputs that takes that path.

Each report also gives the sizes that make symbolic differentiation lose
(expression swell): ``count_ops`` of SymPy's gradient, raw and after ``cse``,
beside the operations the emitted gradient executes.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from ad_compiler.driver import derivative_ir, helper_irs
from ad_compiler.ir.nodes import Function, iter_eqns
from ad_compiler.symbolic.unroll import (
    NotExpressible,
    Unroller,
    as_number,
    is_bool,
    opaque_calls,
    sympy_module,
)

TOLERANCE = 1e-13  # relative, for the numeric comparison at 50 digits
EXPAND_LIMIT = 3000  # tree nodes: beyond this, expanding a difference costs too much
TREE_LIMIT = 100_000  # terms of an unrolled formula (as a tree) worth differentiating
PIECEWISE_LIMIT = 4  # Piecewise terms: beyond this, folding them costs too much
SYMBOLIC_SECONDS = 1.0  # for one symbolic proof before comparing numbers instead


class OutOfTime(Exception):
    """The check's time budget ran out."""


class TooLarge(Exception):
    """The function's formula is too large for SymPy (expression swell)."""


_DEADLINES: list[float] = []  # the budgets running now, innermost last


@contextmanager
def time_budget(seconds: float | None):
    """Raise :class:`OutOfTime` in the block after ``seconds`` (main thread, POSIX).

    SymPy's work is plain Python, so an alarm signal interrupts it cleanly.
    Budgets nest: an inner one re-arms the outer one's alarm when it ends.
    Elsewhere (another thread, Windows) the block runs without a budget.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if usable:
        # Import SymPy before the clock starts: an alarm inside its (long, first)
        # import would leave a half-initialised module behind for every later use.
        sympy_module()
    end = time.monotonic() + (seconds or 0.0)
    outer = _DEADLINES[-1] if _DEADLINES else None
    if not usable or (outer is not None and outer <= end):
        yield  # no alarm here, or the outer one rings first anyway
        return

    def ring(signum, frame):
        # Ring again shortly in case this exception is swallowed: raised inside
        # a garbage-collector callback or a __del__ (hypothesis installs one),
        # Python only prints it, and SymPy would run on without a budget.  The
        # block's exit stops the timer.
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        if _in_gc_callback(frame):
            return  # it would be swallowed (and printed): ring again instead
        raise OutOfTime()

    _DEADLINES.append(end)
    previous = signal.signal(signal.SIGALRM, ring)
    try:  # armed inside: a budget shorter than this line still gets disarmed
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        _disarm()
        _DEADLINES.pop()
        signal.signal(signal.SIGALRM, previous)
        if outer is not None:
            signal.setitimer(signal.ITIMER_REAL, max(outer - time.monotonic(), 1e-3))


def _disarm() -> None:
    """Stop the alarm, even if it rings (and raises) while being stopped."""
    while True:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        except OutOfTime:
            continue


def _in_gc_callback(frame) -> bool:
    """Whether the interrupted code runs in a garbage-collector callback."""
    while frame is not None:
        if frame.f_code.co_name in ("gc_callback", "__del__"):
            return True
        frame = frame.f_back
    return False


@dataclass(frozen=True)
class Proof:
    """One equality: ``what`` (``x̄1``, ``ẏ``) in ``mode``, and how it was settled."""

    mode: str
    what: str
    ok: bool | None  # None: undecided (no point where both sides are defined)
    method: str  # "symbolic" or "numeric"
    detail: str = ""


@dataclass(frozen=True)
class Size:
    """Expression swell of the gradient (all inputs).

    ``symbolic``: ``count_ops`` of SymPy's derivative; ``cse``: the same after
    common-subexpression elimination (its definitions counted too); ``emitted``:
    the operations the emitted reverse-mode derivative executes, loops unrolled;
    ``emitted_lines``: the operations written in its code.
    """

    symbolic: int
    cse: int
    emitted: int
    emitted_lines: int


@dataclass
class CheckReport:
    """What :func:`check_function` found for one function."""

    function: str
    signature: str
    formula: str  # "whole", "path", or "" when the function has no SymPy form
    proofs: list[Proof] = field(default_factory=list)
    reason: str = ""  # why the function was not (wholly) expressed or checked
    size: Size | None = None
    points: list = field(default_factory=list)  # path mode: the points used

    @property
    def checked(self) -> bool:
        return bool(self.proofs)

    @property
    def ok(self) -> bool:
        """True when every equality was proved (and there was at least one)."""
        return self.checked and all(p.ok is True for p in self.proofs)

    @property
    def failures(self) -> list[Proof]:
        return [p for p in self.proofs if p.ok is False]

    @property
    def failed(self) -> bool:
        """True when some equality was found false (undecided ones are not)."""
        return bool(self.failures)

    def text(self) -> str:
        head = f"{self.function}({self.signature})"
        if not self.checked:
            return f"{head}: not checked: {self.reason}\n"
        verdict = "proved" if self.ok else "FAILED" if self.failed else "not proved"
        lines = [f"{head}: {verdict}"]
        if self.formula == "path":
            where = ", ".join(
                "(" + ", ".join(f"{k}={v:g}" for k, v in p.items()) + ")"
                for p in self.points
            )
            lines.append(f"  along the path each point takes: {where}")
            lines.append(f"  ({self.reason})")
        for p in self.proofs:
            how = p.method + (f": {p.detail}" if p.detail else "")
            mark = {True: "ok  ", False: "FAIL", None: "??  "}[p.ok]
            lines.append(f"  {mark} {p.mode:<7} {p.what:<12} {how}")
        if self.size is not None:
            s = self.size
            lines.append(
                f"  size: sympy.diff {s.symbolic:,} ops, after cse {s.cse:,}; "
                f"emitted gradient {s.emitted:,} ops executed ({s.emitted_lines:,} written)"
            )
        return "\n".join(lines) + "\n"


# --- building the formulas -----------------------------------------------------------
def _program(fn: Function, helpers=()) -> dict[str, Function]:
    return {g.name: g for g in tuple(fn.callees) + tuple(helpers)}


def _symbols(names):
    sp = sympy_module()
    return [sp.Symbol(n, real=True) for n in names]


def _derivatives(fn: Function):
    """The emitted reverse- and forward-mode derivative IRs of ``fn`` (all inputs)."""
    every = tuple(range(len(fn.params)))
    kind = "grad" if isinstance(fn.tree, int) else "vjp"
    rev = derivative_ir(fn, kind, every, every)
    fwd = derivative_ir(fn, "jvp", every, every)
    return (
        (rev, _program(fn, helper_irs(fn, kind))),
        (fwd, _program(fn, helper_irs(fn, "jvp"))),
    )


def almost_everywhere(expr):
    """``expr`` without the derivatives of jumps (``floor``, ``sign``, …).

    SymPy differentiates ``floor(x)`` into ``Derivative(floor(x), x)`` and
    ``sign(x)`` into ``2·DiracDelta(x)``: zero wherever the function is smooth,
    which is where emitted code is right (docs/rules.md on non-smooth points).
    """
    sp = sympy_module()
    expr = expr.replace(sp.DiracDelta, lambda *args: sp.Integer(0))
    # replace() works bottom-up: a Derivative inside a Subs goes first
    return expr.replace(
        lambda e: (
            isinstance(e, sp.Derivative) and e.has(sp.floor, sp.ceiling, sp.sign)
        )
        or (isinstance(e, sp.Subs) and e.expr == 0),
        lambda e: sp.Integer(0),
    )


def _formulas(fn: Function, derivatives, unroller_for):
    """Expected and emitted SymPy expressions, one pair per proof, plus op counts."""
    sp = sympy_module()
    (rev, rev_prog), (fwd, fwd_prog) = derivatives
    xs = _symbols([p.name for p in fn.params])
    ys = unroller_for(_program(fn)).call(fn, xs)
    for y in ys:
        if not _small(y, TREE_LIMIT):
            raise TooLarge(
                f"expression swell: unrolled, `{fn.name}` is a formula of more than "
                f"{TREE_LIMIT:,} terms, too large to differentiate symbolically"
            )
    pairs = []
    # reverse: the cotangents are the emitted function's extra parameters
    seeds = _symbols([p.name for p in rev.params[len(fn.params) :]])
    run = unroller_for(rev_prog)
    bars = [as_number(b) for b in run.call(rev, xs + seeds)]  # True is 1
    weights = seeds or [sp.Integer(1)]
    grads = [[almost_everywhere(sp.diff(y, x)) for x in xs] for y in ys]
    for i, x in enumerate(xs):
        expected = sum((w * g[i] for w, g in zip(weights, grads)), sp.Integer(0))
        pairs.append(("reverse", f"{x}_bar", expected, bars[i]))
    emitted_ops = run.ops
    # forward: the tangents are the emitted function's extra parameters
    dots = _symbols([p.name for p in fwd.params[len(fn.params) :]])
    out = unroller_for(fwd_prog).call(fwd, xs + dots)
    tangents = [as_number(t) for t in out[len(ys) :]]
    names = ["y_dot"] if len(ys) == 1 else [f"y{k + 1}_dot" for k in range(len(ys))]
    for k, g in enumerate(grads):
        expected = sum((d * gi for d, gi in zip(dots, g)), sp.Integer(0))
        pairs.append(("forward", names[k], expected, tangents[k]))
    lines = sum(
        1 for e in iter_eqns(rev.body) if e.prim not in ("tape", "push", "print")
    )
    lines += sum(
        1
        for h in rev_prog.values()
        for e in iter_eqns(h.body)
        if e.prim not in ("tape", "push", "print")
    )
    return pairs, grads, emitted_ops, lines


# --- proving ---------------------------------------------------------------------------
def _small(expr, limit: int) -> bool:
    sp = sympy_module()
    for n, _ in enumerate(sp.preorder_traversal(expr)):
        if n > limit:
            return False
    return True


def _is_zero(diff) -> bool:
    """True when expanding and cancelling shows ``diff`` is 0 (every piece of it)."""
    sp = sympy_module()
    if diff == 0:
        return True
    if not _small(diff, EXPAND_LIMIT):
        return False
    if diff.has(sp.Piecewise):
        if diff.count(sp.Piecewise) > PIECEWISE_LIMIT:
            return False  # folding multiplies pieces and simplifies every condition
        diff = sp.piecewise_fold(diff)
    pieces = [e for e, _ in diff.args] if isinstance(diff, sp.Piecewise) else [diff]
    for e in pieces:
        if e == 0:
            continue
        if not _small(e, EXPAND_LIMIT):
            return False
        try:
            if sp.cancel(sp.together(sp.expand(e))) != 0:
                return False
        except (TypeError, ValueError, AttributeError):
            return False  # SymPy cannot put it in canonical form: compare numbers
    return True


def _sample(symbols, points, rng, count=6):
    """Points to compare at: near the given ones, or random in a few ranges."""
    sp = sympy_module()
    out = []
    for i in range(count):
        if points:
            base = points[i % len(points)]
            nudge = 0.0 if i < len(points) else 1e-3
            values = [
                base.get(s.name, rng.uniform(0.5, 1.5)) + rng.uniform(-nudge, nudge)
                for s in symbols
            ]
        else:
            low, high = ((0.5, 1.5), (-2.0, 2.0))[i % 2]
            values = [rng.uniform(low, high) for _ in symbols]
        out.append({s: sp.Float(v, 50) for s, v in zip(symbols, values)})
    return out


def _numeric(expected, emitted, symbols, points, rng):
    """``(worst relative error, points evaluated)`` of ``expected - emitted``."""
    worst, used = 0.0, 0
    for point in _sample(symbols, points, rng):
        try:
            exact, got = (complex(v) for v in evaluate([expected, emitted], point))
        except (TypeError, ValueError, ZeroDivisionError):
            continue  # outside the domain (a complex comparison, a pole)
        if not all(map(_finite, (exact, got))):
            continue
        worst = max(worst, abs(exact - got) / max(1.0, abs(exact)))
        used += 1
    return worst, used


def evaluate(exprs, values: dict) -> list:
    """``exprs`` at ``values`` (symbol -> number), to 50 digits.

    Unrolled loops make trees with much sharing (``l`` appears twice in
    ``4*l*(1 - l)``, each ``l`` a tree again): evaluating the tree visits every
    path, exponentially many.  ``cse`` first turns it back into a sequence of
    small definitions, evaluated once each.
    """
    sp = sympy_module()
    definitions, reduced = sp.cse(list(exprs))
    values = dict(values)
    for name, rhs in definitions:
        values[name] = _at(rhs, values)
    return [_at(e, values) for e in reduced]


def _at(expr, values):
    """``expr`` at ``values``, to 50 digits (a truth value stays one)."""
    value = expr.xreplace(values)
    return value if is_bool(value) else value.evalf(50)


def _finite(z: complex) -> bool:
    return all(abs(v) < float("inf") and v == v for v in (z.real, z.imag))


def _prove(mode, what, expected, emitted, symbols, points, rng) -> Proof:
    # A function with a custom derivative is an unknown: any value will do, as
    # long as both sides hold the same one (its partials are already in place).
    unknowns = opaque_calls(expected) | opaque_calls(emitted)
    if unknowns:
        sp = sympy_module()
        as_symbols = {u: sp.Dummy(str(u.func), real=True) for u in unknowns}
        expected, emitted = expected.xreplace(as_symbols), emitted.xreplace(as_symbols)
        symbols = list(symbols) + list(as_symbols.values())
    try:
        # expanding can take minutes where comparing numbers takes a second
        with time_budget(SYMBOLIC_SECONDS):
            zero = _is_zero(expected - emitted)
    except OutOfTime:
        zero = False
    if zero:
        return Proof(mode, what, True, "symbolic")
    worst, used = _numeric(expected, emitted, symbols, points, rng)
    if used == 0:
        return Proof(  # nothing was compared: not a failure, not a proof
            mode, what, None, "numeric", "no point where both sides are defined"
        )
    if worst < TOLERANCE:
        detail = f"50 digits at {used} points, relative error < {TOLERANCE:g}"
        return Proof(mode, what, True, "numeric", detail)
    detail = f"off by {worst:.3g}, relative, at 50 digits"
    return Proof(mode, what, False, "numeric", detail)


def _merge(proofs: list[Proof]) -> list[Proof]:
    """One proof per (mode, what): path mode proves each along several paths."""
    groups: dict[tuple, list[Proof]] = {}
    for p in proofs:
        groups.setdefault((p.mode, p.what), []).append(p)
    out = []
    for (mode, what), ps in groups.items():
        if len(ps) == 1:
            out.append(ps[0])
            continue
        bad = [p for p in ps if not p.ok]
        if bad:
            out.append(bad[0])
        elif all(p.method == "symbolic" for p in ps):
            out.append(Proof(mode, what, True, "symbolic", f"on all {len(ps)} paths"))
        else:
            n = sum(p.method == "symbolic" for p in ps)
            detail = f"{n} of {len(ps)} paths symbolically, the rest at 50 digits"
            out.append(Proof(mode, what, True, "numeric", detail))
    return out


def sympy_sizes(exprs) -> tuple[int, int]:
    """``count_ops`` of SymPy expressions, raw and after ``cse`` (definitions included)."""
    sp = sympy_module()
    raw = sum(sp.count_ops(e) for e in exprs)
    definitions, reduced = sp.cse(list(exprs))
    shared = sum(sp.count_ops(v) for _, v in definitions)
    return raw, shared + sum(sp.count_ops(e) for e in reduced)


def _swell(grads, emitted_ops: int, lines: int, scalar: bool) -> Size | None:
    if not scalar:
        return None
    return Size(*sympy_sizes(grads[0]), emitted_ops, lines)


def check_function(
    fn: Function, points: list[dict] | None = None, seconds: float | None = 60.0
) -> CheckReport:
    """Prove the emitted derivatives of ``fn`` (all inputs, both modes).

    ``points`` (``{name: value}``) are used when ``fn`` has no closed form
    (the path each takes is checked) and to pick where to compare numerically.
    ``seconds`` bounds the whole check; running out is reported, not raised.
    """
    signature = ", ".join(p.name for p in fn.params)
    report = CheckReport(fn.name, signature, "")
    rng = random.Random(0)
    started = time.monotonic()
    try:
        with time_budget(seconds):
            derivatives = _derivatives(fn)
            try:
                pairs, grads, ops, lines = _formulas(fn, derivatives, Unroller)
                runs = [(pairs, None)]
                report.formula = "whole"
            except NotExpressible as exc:
                report.reason = str(exc)
                names = {p.name for p in fn.params}
                points = [p for p in points or () if names <= set(p)]
                if not points:
                    report.reason += (
                        f"; give a point (a value for each of {', '.join(sorted(names))}) "
                        "to check along the path it takes"
                    )
                    return report
                report.formula, report.points = "path", list(points)
                runs = []
                for point in points:
                    decide = _decider(point)
                    pairs, grads, ops, lines = _formulas(
                        fn, derivatives, lambda prog: Unroller(prog, decide=decide)
                    )
                    runs.append((pairs, point))
            for pairs, point in runs:
                for mode, what, expected, emitted in pairs:
                    symbols = sorted(
                        expected.free_symbols | emitted.free_symbols, key=str
                    )
                    near = [point] if point is not None else points
                    report.proofs.append(
                        _prove(mode, what, expected, emitted, symbols, near, rng)
                    )
            report.proofs = _merge(report.proofs)
            if report.formula == "whole":
                report.size = _swell(grads, ops, lines, isinstance(fn.tree, int))
    except OutOfTime:
        report.proofs.clear()
        report.reason = (
            f"cut off after {time.monotonic() - started:.0f} s "
            "(the unrolled formulas are too large for SymPy in the time budget)"
        )
    except (NotExpressible, TooLarge) as exc:  # not even along the given paths
        report.proofs.clear()
        report.reason = str(exc)
    return report


def _decider(point: dict):
    """Decide a condition or trip count by its value at ``point`` (path mode)."""
    sp = sympy_module()

    def decide(expr):
        at = {s: sp.Float(point.get(s.name, 1), 50) for s in expr.free_symbols}
        try:
            (value,) = evaluate([expr], at)
        except TypeError as exc:  # SymPy refuses to order NaN: no path to follow
            raise NotExpressible(f"cannot decide {expr} at {point}: {exc}") from None
        if is_bool(value) and value not in (sp.true, sp.false):
            raise NotExpressible(f"cannot decide {expr} at {point}")
        return value

    return decide
