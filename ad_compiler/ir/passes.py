"""Named passes: each step of the pipeline is a :class:`Pass`, a name and a function
IR -> IR, run by :func:`run_passes` (or one at a time by :func:`apply`).

After each pass:

* the IR is verified (:func:`ad_compiler.ir.nodes.verify`); a broken invariant is a
  :class:`~ad_compiler.errors.VerificationError` naming the pass (the innermost
  one, when a pass runs others: ``optimize`` runs ``simplify`` ...);
* with ``ADC_DUMP_IR=all`` in the environment the IR is printed to stderr under
  the header ``--- IR of <function> after <pass> ---``; ``ADC_DUMP_IR=simplify,vjp``
  prints it after those passes only.  An unknown name is a
  :class:`~ad_compiler.errors.UsageError` listing the names (:data:`PASS_NAMES`).

Verifying after every pass costs about 2% of compiling (``benchmarks/bench_emit.py``
measures it), so it is always on: a broken pass is caught where it broke.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Callable

from ad_compiler.errors import UsageError, VerificationError
from ad_compiler.ir.nodes import Function, verify

# Every pass name, in pipeline order (what ADC_DUMP_IR accepts besides `all`).
PASS_NAMES = (
    "unroll_item_loops",
    "optimize",
    "simplify",
    "eliminate_dead_code",
    "untape_counters",
    "jvp",
    "vjp",
    "seed",
    "select_results",
    "grad",
    "batch",
    "drop_shape_noops",
    "own_results",
)


@dataclass(frozen=True)
class Pass:
    """One named step: ``run`` maps a valid IR function to a valid IR function."""

    name: str
    run: Callable[[Function], Function]

    def __post_init__(self):
        if self.name not in PASS_NAMES:
            raise ValueError(f"pass `{self.name}` is not listed in PASS_NAMES")


def apply(p: Pass, fn: Function) -> Function:
    """Run one pass, then verify its result and dump it if asked."""
    try:
        out = p.run(fn)
        verify(out, p.name)
    except VerificationError as e:  # raised inside: by the innermost named pass
        raise e.after(p.name)
    dump = dumped()
    if dump is not None and (not dump or p.name in dump):
        print(f"--- IR of {out.name} after {p.name} ---\n{out}", file=sys.stderr)
    return out


def run_passes(fn: Function, passes: list[Pass]) -> Function:
    """``fn`` through every pass in order (see :func:`apply`)."""
    for p in passes:
        fn = apply(p, fn)
    return fn


def dumped() -> frozenset[str] | None:
    """The passes ``ADC_DUMP_IR`` asks to print after: None for none, an empty
    set for all (``all``, or ``1`` as older versions spelled it)."""
    value = os.environ.get("ADC_DUMP_IR", "").strip()
    if not value:
        return None
    if value in ("all", "1"):
        return frozenset()
    names = frozenset(n.strip() for n in value.split(",") if n.strip())
    unknown = sorted(names - set(PASS_NAMES))
    if unknown:
        raise UsageError(
            f"ADC_DUMP_IR: no pass is named {', '.join(unknown)}; "
            f"use `all` or some of: {', '.join(PASS_NAMES)}"
        )
    return names
