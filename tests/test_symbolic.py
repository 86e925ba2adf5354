"""The SymPy backend proves emitted gradients equal to sympy.diff of the trace."""

import dataclasses

import pytest

import seeds
from ad_compiler import grad, trace
from ad_compiler.ir import Const
from ad_compiler.symbolic import check_gradient, to_sympy

SCALAR = ["f", "bishop", "gaussian", "sigmoid_log2", "neuron"]


@pytest.mark.parametrize("name", SCALAR)
def test_emitted_gradient_equals_sympy_diff(name):
    fn = getattr(seeds, name)
    primal = trace(fn)
    wrt = tuple(range(len(primal.params)))
    report = check_gradient(primal, grad(fn, argnums=wrt).ir, wrt)
    assert report.ok, report.failures
    assert set(report.methods) == {p.name for p in primal.params}


def test_a_wrong_gradient_is_caught_and_named():
    primal = trace(seeds.f)
    g = grad(seeds.f, argnums=(0, 1)).ir
    # corrupt one literal of the emitted gradient: x1_bar = x2 + 1.0 / x1 -> x2 + 2.0 / x1
    body = tuple(
        dataclasses.replace(
            e, ins=tuple(Const(2.0) if a == Const(1.0) else a for a in e.ins)
        )
        for e in g.body
    )
    report = check_gradient(primal, dataclasses.replace(g, body=body), (0, 1))
    assert not report.ok
    assert report.failures == [report.failures[0]] and "∂f/∂x1" in report.failures[0]
    assert report.methods == {"x2": "symbolic"}


def test_trace_to_sympy_matches_the_formula():
    import sympy

    (y,) = to_sympy(trace(seeds.f))
    x1, x2 = sympy.symbols("x1 x2", real=True)
    assert sympy.simplify(y - (sympy.log(x1) + x1 * x2 - sympy.sin(x2))) == 0


def test_control_flow_has_no_single_formula_and_says_so():
    import corpus_control
    from ad_compiler import UsageError

    with pytest.raises(UsageError, match="straight-line code only"):
        to_sympy(trace(corpus_control.f_range_sum_powers))
