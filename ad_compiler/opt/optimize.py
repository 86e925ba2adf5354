"""The optimiser: :func:`simplify`, dead code and tape counters, to a fixed point.

Every pass keeps the IR valid and its meaning.  Set ``ADC_DUMP_IR=1`` to print
the IR after every pass to stderr.
"""

from __future__ import annotations

import os
import sys


from ad_compiler.ir.nodes import (
    Function,
    verify,
)
from ad_compiler.opt.dce import eliminate_dead_code
from ad_compiler.opt.simplify import simplify
from ad_compiler.opt.tapes import untape_counters


def _dump(name: str, fn: Function) -> None:
    if os.environ.get("ADC_DUMP_IR"):
        print(f"--- IR after {name} ---\n{fn}", file=sys.stderr)


def optimize(fn: Function, max_rounds: int = 1) -> Function:
    """Simplify and remove dead code, ``max_rounds`` times or until nothing changes.

    One round reaches the fixed point: ``simplify`` walks forwards and rewrites each
    equation after its inputs are final, and removing dead code enables no rewrite
    (``tests/test_passes.py`` checks that a second round changes nothing).
    """
    for _ in range(max_rounds):
        before = fn
        fn = simplify(fn)
        _dump("simplify", fn)
        fn = eliminate_dead_code(fn)
        _dump("eliminate_dead_code", fn)
        untaped = untape_counters(fn)
        if untaped is not fn:
            fn = eliminate_dead_code(simplify(untaped))
            _dump("untape_counters", fn)
        if fn is before:
            break
    return verify(fn)
