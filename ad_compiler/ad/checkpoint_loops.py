"""Checkpointed loops in reverse mode: binomial checkpointing (revolve).

``grad(f, checkpoint="revolve", snapshots=k)`` sets ``Function.checkpoint`` to
``("revolve", k)``.  Reverse mode (ad/reverse.py) then gives every outermost
``for ... in range(...)`` loop carrying an active value no tape: its forward
sweep runs the loop as written, and its reverse sweep is one call of an
emitted *driver*, which reverses the loop's iterations keeping at most ``k``
snapshots of what the loop carries (arrays copied) and running forward again
between them, on the optimal binomial schedule (:mod:`ad_compiler.ad.revolve`).

The loop body becomes two emitted functions beside the derivative:

* ``f_step_L(i, carried..., outer...)`` -- one iteration, primal only (advance);
* ``f_step_L_adjoint(..., seeds)`` -- the same iteration reverse-differentiated
  by the ordinary pipeline (its own tape for inner loops: a nested loop is
  taped per step as without checkpointing), returning the adjoints of the
  iteration's start state and of the active values it reads from outside;

and the driver ``f_revolve_L`` (source text, :func:`driver_text`) calls them.
The names end with the loop's line.  Memory: ``k`` states plus one
iteration's tape; time: the loop once in the forward sweep, then
``advances(n, k)`` steps again (:func:`ad_compiler.ad.revolve.advances`)
and each iteration once taped with its adjoint.

A loop that cannot be checkpointed -- a ``while``, a loop that may ``break``
or ``return`` (its trip count is not known when it starts), one appending to
a list made before it -- is taped as usual, and the emitted docstring says so;
if no loop of the function can be checkpointed the request is an error at the
first such loop (:func:`plan`).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from ad_compiler.ad.lists import outer_lists
from ad_compiler.ad.loop_tapes import reads, taped
from ad_compiler.ad.revolve import SPLIT_NAME, SPLIT_TEXT
from ad_compiler.errors import UnsupportedError
from ad_compiler.ir import shapes
from ad_compiler.ir.nodes import (
    For,
    Function,
    If,
    Var,
    While,
    base_name,
    defined_names,
    iter_eqns,
    without_prints,
)


@dataclass
class Checkpointing:
    """One reverse transform's checkpointing: the loops chosen (by identity),
    the ones taped as usual with why, and what it emits beside the derivative
    (``helpers``: ``("step", Function)``, ``("adjoint", vjp Function, name)``
    and ``("text", name, source)`` entries, for :func:`ad_compiler.driver.checkpoint_parts`).
    """

    snapshots: int
    fn: Function
    chosen: dict = field(default_factory=dict)
    refused: list = field(default_factory=list)
    helpers: list = field(default_factory=list)

    def notes(self) -> str:
        """The docstring paragraph saying which loops are checkpointed."""
        lines = []
        if self.chosen:
            at = ", ".join(f"line {s.loc.line}" for s in self.chosen.values())
            lines.append(
                f"Reverse sweep by binomial checkpointing (revolve, at most "
                f"{self.snapshots} snapshots per loop) of the loop at {at}."
            )
        for loc, why in self.refused:
            lines.append(f"The loop at line {loc.line} is taped as usual: {why}.")
        return "\n".join(textwrap.fill(line, 76) for line in lines)


def refusal(s) -> str | None:
    """Why loop ``s`` cannot be checkpointed (None: it can)."""
    if isinstance(s, While):
        return "a `while` loop's trip count is not known when it starts"
    if s.over != "range" or s.items:
        return "it is not a `for ... in range(...)` loop"
    if s.brk is not None:
        return "it may `break` or `return`: its trip count is not known when it starts"
    if outer_lists(s.body) or any(
        e.prim.startswith("list_") for e in iter_eqns(s.body)
    ):
        return (
            "it uses a run-time list: an iteration cannot be run again from "
            "what the loop carries alone"
        )
    return None


def plan(fn: Function, active: set) -> Checkpointing | None:
    """The loops of ``fn`` to checkpoint (its outermost loops carrying an
    active value, also inside branches), or None without ``fn.checkpoint``.

    Raises an :class:`UnsupportedError` at the first loop when none of them
    can be checkpointed (and there is one)."""
    if not fn.checkpoint or fn.checkpoint[0] != "revolve":
        return None
    ck = Checkpointing(fn.checkpoint[1], fn)

    def walk(stmts):
        for s in stmts:
            if isinstance(s, If):
                walk(s.then)
                walk(s.orelse)
            elif isinstance(s, (For, While)) and taped(s, active):
                why = refusal(s)
                if why is None:
                    ck.chosen[id(s)] = s
                else:
                    ck.refused.append((s.loc, why))

    walk(fn.body)
    if ck.refused and not ck.chosen:
        loc, why = ck.refused[0]
        raise UnsupportedError(
            f"cannot checkpoint this loop of `{fn.name}`: {why}",
            loc,
            "checkpoint only outermost `for ... in range(n)` loops without "
            "`break`; or leave out checkpoint= to tape it",
        )
    return ck


def step_function(ck: Checkpointing, s: For, b) -> tuple[Function, list[str]]:
    """One iteration of ``s`` as a function of its index, its carried values
    and what it reads from outside (the names returned beside it, in the
    order of its parameters)."""
    bound = {v.name for v in s.index + s.carried} | defined_names(s.body)
    outside = sorted(
        (reads(s.body) | {a.name for a in s.nexts if isinstance(a, Var)}) - bound
    )
    params = s.index + s.carried + tuple(Var(u) for u in outside)
    fn = ck.fn
    n = len(s.nexts)
    param_shapes = None
    if fn.param_shapes:
        param_shapes = tuple(b.shape(p) for p in params)
    step = Function(
        name=f"{fn.name}_step_{s.loc.line}",
        params=params,
        body=without_prints(s.body),
        results=s.nexts,
        tree=0 if n == 1 else tuple(range(n)),
        loc=s.loc,
        doc=(
            f"One iteration of the loop at line {s.loc.line} of {fn.name} (primal\n"
            "only): the state it ends with, from the state it starts from."
        ),
        user_names=fn.user_names,
        param_shapes=param_shapes,
    )
    return step, outside


class _Names:
    """Readable, distinct names for the driver's parameters and locals (none
    hides a module-level function it calls)."""

    def __init__(self, taken):
        self.taken = set(taken) | {"start", "stop", "stride", "n", "k", "j", "snaps"}

    def __call__(self, name: str) -> str:
        new, k = name, 1
        while new in self.taken:
            new, k = f"{name}_{k}", k + 1
        self.taken.add(new)
        return new


def driver_text(
    ck: Checkpointing,
    s: For,
    outside: list[str],
    active_carried: list[int],
    active_outside: list[str],
    arrays: set[str],
) -> tuple[str, str]:
    """The driver's name and source: the reverse sweep of loop ``s`` by
    binomial checkpointing, calling its step and step adjoint functions.

    Parameters: the range, the loop's initial carried values, the values it
    reads from outside, the adjoints of the active carried values after the
    loop; returns the adjoints of the active carried values before the loop,
    then of the active values from outside (the step adjoint's order)."""
    fname, line, k = ck.fn.name, s.loc.line, ck.snapshots
    name = f"{fname}_revolve_{line}"
    step, adjoint = f"{fname}_step_{line}", f"{fname}_step_{line}_adjoint"
    fresh = _Names({name, step, adjoint, SPLIT_NAME})
    state = [fresh(base_name(c.name) or c.name) for c in s.carried]
    outer = [fresh(base_name(u) or u) for u in outside]
    seeds = [fresh(f"{state[i]}_bar") for i in active_carried]
    outer_bars = [fresh(f"{outer[outside.index(u)]}_bar") for u in active_outside]
    live = [fresh(f"{v}_k") for v in state]
    step_bars = [fresh(f"{o}_k") for o in outer_bars]
    params = ["start", "stop", "stride"] + state + outer + seeds
    copied = [f"{v}.copy()" if c.name in arrays else v for v, c in zip(live, s.carried)]
    step_args = ", ".join(["start + j * stride"] + live + outer)
    adjoint_args = ", ".join(
        ["start + k * stride"]
        + live
        + outer
        + [
            f"{state[i]}_bar" if i in active_carried else "0.0"
            for i in range(len(s.carried))
        ]
    )
    got = seeds + step_bars
    what = ", ".join(base_name(c.name) for c in s.carried)
    lines = [
        f"def {name}({', '.join(params)}):",
        f'    """The reverse sweep of the loop at line {line} of {fname}: the',
        "    adjoints of the state it starts from (and of what it reads) from those",
        "    of the state it ends with, by binomial checkpointing (Griewank's",
        f"    revolve): at most {k} snapshots of what the loop carries ({what}) are",
        '    kept, and the iterations between them are run again."""',
        "    n = len(range(start, stop, stride))",
    ]
    lines += [f"    {o} = 0.0" for o in outer_bars]
    lines += [
        "    # the snapshots: (iteration, the state it starts from), latest last",
        f"    snaps = [(0, {', '.join(state)})]",
        "    for k in range(n - 1, -1, -1):",
        "        # the state iteration k starts from: run forward from the latest",
        "        # snapshot, storing snapshots where the binomial schedule puts them",
        f"        j, {', '.join(live)} = snaps[-1]",
        "        while j < k:",
        f"            for _ in range({SPLIT_NAME}(k + 1 - j, {k + 1} - len(snaps))):",
        f"                {', '.join(live)} = {step}({step_args})",
        "                j += 1",
        "            if j < k:",
        f"                snaps.append((j, {', '.join(copied)}))",
        "        # iteration k once more, taped, and its adjoint",
        f"        {', '.join(got)} = {adjoint}({adjoint_args})",
    ]
    lines += [f"        {o} = {o} + {t}" for o, t in zip(outer_bars, step_bars)]
    lines += [
        "        if snaps[-1][0] == k:",
        "            snaps.pop()  # (reversed: its snapshot is free again)",
        f"    return {', '.join(seeds + outer_bars)}",
    ]
    return name, "\n".join(lines) + "\n"


def checkpoint_call_parts(ck: Checkpointing, s: For, b, active: set, vjp):
    """Make the helpers of loop ``s`` (step, step adjoint, driver text) and
    return ``(driver name, outside names, active carried positions, active
    outside names)``; ``vjp`` is :func:`ad_compiler.ad.reverse.vjp`."""
    step, outside = step_function(ck, s, b)
    act = [i for i, c in enumerate(s.carried) if c.name in active]
    acc = [u for u in outside if u in active]
    first = len(s.index)
    wrt = tuple(first + i for i in act) + tuple(
        first + len(s.carried) + outside.index(u) for u in acc
    )
    tree = 0 if len(wrt) == 1 else tuple(range(len(wrt)))
    adjoint = vjp(step, wrt, tree)
    arrays = {c.name for c in s.carried if b.shape(c) not in (shapes.SCALAR, None)}
    name, text = driver_text(ck, s, outside, act, acc, arrays)
    ck.helpers.append(("step", step))
    ck.helpers.append(("adjoint", adjoint, f"{step.name}_adjoint"))
    ck.helpers.append(("text", name, text))
    if not any(h[0] == "text" and h[1] == SPLIT_NAME for h in ck.helpers):
        ck.helpers.append(("text", SPLIT_NAME, SPLIT_TEXT.strip("\n") + "\n"))
    return name, outside, act, acc
