"""The optimiser: :func:`simplify`, shape sources, dead code and tape counters,
to a fixed point.

Every pass keeps the IR valid and its meaning; each runs as a named pass
(:mod:`ad_compiler.ir.passes`: verified after, printed with ``ADC_DUMP_IR``).
"""

from __future__ import annotations

from ad_compiler.ir.nodes import Function
from ad_compiler.ir.passes import Pass, apply
from ad_compiler.opt.dce import eliminate_dead_code
from ad_compiler.opt.shape_sources import shape_sources
from ad_compiler.opt.simplify import simplify
from ad_compiler.opt.tapes import untape_counters
from ad_compiler.opt.zeroing import unread_zeroing

SIMPLIFY = Pass("simplify", simplify)
ELIMINATE_DEAD_CODE = Pass("eliminate_dead_code", eliminate_dead_code)
UNTAPE_COUNTERS = Pass("untape_counters", untape_counters)
SHAPE_SOURCES = Pass("shape_sources", shape_sources)
UNREAD_ZEROING = Pass("unread_zeroing", unread_zeroing)


def _round(fn: Function) -> Function:
    # shape_sources after simplify (it reads the CSE'd body) and before dead
    # code, which then drops what was kept only for its shape
    # unread_zeroing first: simplify then stops carrying what it passes on
    fn = apply(UNREAD_ZEROING, fn)
    return apply(ELIMINATE_DEAD_CODE, apply(SHAPE_SOURCES, apply(SIMPLIFY, fn)))


def optimize(fn: Function, max_rounds: int = 1) -> Function:
    """Simplify, read shapes from where they cost nothing, and remove dead code,
    ``max_rounds`` times or until nothing changes.

    One round reaches the fixed point: ``simplify`` walks forwards and rewrites each
    equation after its inputs are final, and removing dead code enables no rewrite
    (``tests/test_passes.py`` checks that a second round changes nothing).
    """
    for _ in range(max_rounds):
        before = fn
        fn = _round(fn)
        untaped = apply(UNTAPE_COUNTERS, fn)
        if untaped is not fn:
            fn = _round(untaped)
        if fn is before:
            break
    return fn
