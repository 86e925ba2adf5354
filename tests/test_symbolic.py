"""The SymPy form of a trace: the seeds' formula, and the emitted gradient's."""

import seeds
import sympy

from ad_compiler import grad, trace
from ad_compiler.symbolic.translate import to_sympy


def test_trace_to_sympy_matches_the_formula():
    (y,) = to_sympy(trace(seeds.f))
    x1, x2 = sympy.symbols("x1 x2", real=True)
    assert sympy.simplify(y - (sympy.log(x1) + x1 * x2 - sympy.sin(x2))) == 0


def test_emitted_gradient_to_sympy_is_the_seeds_adjoints():
    g = grad(seeds.f, argnums=(0, 1)).ir
    x1, x2 = sympy.symbols("x1 x2", real=True)
    x1_bar, x2_bar = to_sympy(g)
    assert sympy.simplify(x1_bar - (1 / x1 + x2)) == 0
    assert sympy.simplify(x2_bar - (x1 - sympy.cos(x2))) == 0
    at = {x1: 2, x2: 5}
    assert round(float(x1_bar.subs(at)), 3) == 5.5
    assert round(float(x2_bar.subs(at)), 3) == 1.716
