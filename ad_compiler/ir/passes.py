"""Named passes: each step of the pipeline is a :class:`Pass`, a name and a function
IR -> IR, run by :func:`run_passes` (or one at a time by :func:`apply`).

* Verification (:func:`ad_compiler.ir.nodes.verify`): a broken invariant is a
  :class:`~ad_compiler.errors.VerificationError` naming the pass.  With
  ``ADC_VERIFY=1`` (the test suite sets it) the IR is verified after every pass,
  nested ones too (``optimize`` runs ``simplify`` ...), and the error names the
  innermost pass that broke it.  Without it, :func:`run_passes` verifies once,
  after its last pass, and the error lists the passes that ran: verifying after
  every pass costs about 14% of compiling (measured on the samples and a
  2,000-operation function: 0.39 s against 0.35 s), too much to pay on every
  call when the passes are tested with it on.  The transforms (lowering, jvp,
  vjp, batching) verify their own output either way.
* Dumps: ``ADC_DUMP_IR=all`` prints the IR to stderr after lowering and after
  every pass, under the header ``--- IR of <function> after <pass> ---``; ``ADC_DUMP_IR=simplify,vjp``
  after those passes only.  An unknown name is a
  :class:`~ad_compiler.errors.UsageError` listing the names (:data:`PASS_NAMES`).
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
    "lower",  # not a pass: the trace lowering gives (source -> IR), dumped as one
    "unroll_item_loops",
    "optimize",
    "unread_zeroing",
    "simplify",
    "shape_sources",
    "eliminate_dead_code",
    "untape_counters",
    "jvp",
    "vjp",
    "seed",
    "select_results",
    "grad",
    "hvp",
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
    """Run one pass, then verify its result (with ``ADC_VERIFY=1``) and dump it if asked."""
    try:
        out = p.run(fn)
        if verifying_each():
            verify(out, p.name)
    except VerificationError as e:  # raised inside: by the innermost named pass
        raise e.after(p.name)
    show(p.name, out)
    return out


def show(stage: str, fn: Function) -> None:
    """Print ``fn`` to stderr as the IR after ``stage`` if ADC_DUMP_IR asks for it."""
    dump = dumped()
    if dump is not None and (not dump or stage in dump):
        print(f"--- IR of {fn.name} after {stage} ---\n{fn}", file=sys.stderr)


def run_passes(fn: Function, passes: list[Pass]) -> Function:
    """``fn`` through every pass in order (see :func:`apply`), verified at the end."""
    for p in passes:
        fn = apply(p, fn)
    if passes and not verifying_each():
        try:
            verify(fn)
        except VerificationError as e:
            raise e.after_one_of(tuple(p.name for p in passes))
    return fn


def verifying_each() -> bool:
    """Whether to verify after every pass (``ADC_VERIFY=1``; unset, empty, ``0``,
    ``false``, ``no`` or ``off`` in any case mean no)."""
    value = os.environ.get("ADC_VERIFY", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def dumped() -> frozenset[str] | None:
    """The passes ``ADC_DUMP_IR`` asks to print after: None for none, an empty
    set for all (``all``, or ``1`` as older versions spelled it)."""
    value = os.environ.get("ADC_DUMP_IR", "").strip()
    if not value:
        return None
    if value in ("all", "1"):
        return frozenset()
    names = frozenset(n.strip() for n in value.split(",") if n.strip())
    if not names:  # "," names no pass (the empty set would mean all)
        return None
    unknown = sorted(names - set(PASS_NAMES) - {"all"})
    if unknown:
        raise UsageError(
            f"ADC_DUMP_IR: no pass is named {', '.join(unknown)}; "
            f"use `all` or some of: {', '.join(PASS_NAMES)}"
        )
    return frozenset() if "all" in names else names
