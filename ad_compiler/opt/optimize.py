"""The optimiser: :func:`simplify`, dead code and tape counters, to a fixed point.

Every pass keeps the IR valid and its meaning; each runs as a named pass
(:mod:`ad_compiler.ir.passes`: verified after, printed with ``ADC_DUMP_IR``).
"""

from __future__ import annotations

from ad_compiler.ir.nodes import Function
from ad_compiler.ir.passes import Pass, apply
from ad_compiler.opt.dce import eliminate_dead_code
from ad_compiler.opt.simplify import simplify
from ad_compiler.opt.tapes import untape_counters

SIMPLIFY = Pass("simplify", simplify)
ELIMINATE_DEAD_CODE = Pass("eliminate_dead_code", eliminate_dead_code)
UNTAPE_COUNTERS = Pass("untape_counters", untape_counters)


def optimize(fn: Function, max_rounds: int = 1) -> Function:
    """Simplify and remove dead code, ``max_rounds`` times or until nothing changes.

    One round reaches the fixed point: ``simplify`` walks forwards and rewrites each
    equation after its inputs are final, and removing dead code enables no rewrite
    (``tests/test_passes.py`` checks that a second round changes nothing).
    """
    for _ in range(max_rounds):
        before = fn
        fn = apply(ELIMINATE_DEAD_CODE, apply(SIMPLIFY, fn))
        untaped = apply(UNTAPE_COUNTERS, fn)
        if untaped is not fn:
            fn = apply(ELIMINATE_DEAD_CODE, apply(SIMPLIFY, untaped))
        if fn is before:
            break
    return fn
