"""``adc check`` / ``check()``: emitted derivatives proved equal to sympy.diff.

The SymPy form of a function (``unroll.Unroller``) is tested on its own first:
branches become Piecewise, loops with a known trip count unroll, functions
with a custom derivative become unknowns with the given partials.  Then the
check itself, on the samples (through the CLI), on every function of the
corpus, and on a deliberately wrong rule, which it must catch and name.
"""

import dataclasses
import os

import corpus
import pytest
import seeds
import sympy
from test_cli import adc

from ad_compiler import SourceUnavailableError, check, trace
from ad_compiler.primitives.table import PRIMITIVES
from ad_compiler.symbolic.check import check_function
from ad_compiler.symbolic.translate import to_sympy
from ad_compiler.symbolic.unroll import NotExpressible, apply_sympy
from ad_compiler.tools.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "samples")
x, n = sympy.symbols("x n", real=True)


# --- the SymPy form of a function ---------------------------------------------------------
def branch(x):
    if x > 1.0:
        y = x * x
    else:
        y = 2.0 * x
    return y


def static_loop(x):
    y = x
    for _ in range(3):
        y = y * y + 1.0
    return y


def loop_to_n(x, n):
    y = x
    for _ in range(n):
        y = y * x
    return y


def until_small(x):
    while x > 0.01:
        x = x / 2.0
    return x


def test_a_branch_becomes_piecewise():
    (y,) = to_sympy(trace(branch))
    assert isinstance(y, sympy.Piecewise)
    assert y.subs(x, 3) == 9 and y.subs(x, sympy.Rational(1, 2)) == 1


def test_a_loop_with_a_known_trip_count_is_unrolled():
    (y,) = to_sympy(trace(static_loop))
    expected = ((x**2 + 1) ** 2 + 1) ** 2 + 1
    assert sympy.expand(y - expected) == 0


def test_a_loop_whose_trip_count_is_an_input_has_no_closed_form():
    with pytest.raises(NotExpressible, match="depends on an input"):
        to_sympy(trace(loop_to_n))
    with pytest.raises(NotExpressible, match="depends on an input"):
        to_sympy(trace(until_small))


def test_a_custom_derivative_is_an_unknown_with_the_given_partials():
    import corpus_control

    (y,) = to_sympy(trace(corpus_control.f_custom_erf))
    calls = [a for a in y.atoms(sympy.Function) if getattr(a, "opaque", False)]
    assert calls, y
    # d/dx of the unknown is the user's partial, by the chain rule
    dy = sympy.diff(y, sympy.Symbol("x", real=True))
    assert not dy.has(sympy.Derivative)


@pytest.mark.parametrize(
    "prim", sorted(p for p in PRIMITIVES if PRIMITIVES[p].elementwise)
)
def test_every_primitive_has_a_sympy_form(prim):
    arity = PRIMITIVES[prim].arity
    args = sympy.symbols(f"a0:{arity}", real=True)
    if prim in ("not", "select"):  # a truth value first
        args = (sympy.Gt(args[0], 0),) + args[1:]
    params = PRIMITIVES[prim].sample_params[0]  # (polygamma's order n)
    assert apply_sympy(prim, *args, **params) is not None


# --- the check ---------------------------------------------------------------------------
def test_check_reports_each_input_and_mode():
    report = check(seeds.f)
    assert report.ok and report.formula == "whole"
    assert [(p.mode, p.what, p.method) for p in report.proofs] == [
        ("reverse", "x1_bar", "symbolic"),
        ("reverse", "x2_bar", "symbolic"),
        ("forward", "y_dot", "symbolic"),
    ]
    # expression swell: 4 operations in sympy.diff's gradient, and 4 emitted
    assert (report.size.symbolic, report.size.emitted) == (4, 4)
    assert "f(x1, x2): proved" in report.text()


def test_without_a_closed_form_the_check_follows_the_path_of_each_point():
    report = check(loop_to_n, points=[(1.5, 3), {"x": 0.5, "n": 5}])
    assert report.ok and report.formula == "path"
    assert "along the path each point takes" in report.text()
    unchecked = check(loop_to_n)
    assert not unchecked.checked and not unchecked.ok
    assert "give a point" in unchecked.reason


def logistic_12(x):
    y = x
    for _ in range(12):
        y = 4.0 * y * (1.0 - y)
    return y


def logistic_40(x):
    y = x
    for _ in range(40):
        y = 4.0 * y * (1.0 - y)
    return y


def test_the_time_budget_cuts_off_and_says_so():
    report = check(logistic_12, seconds=0.3)
    assert not report.checked and "cut off after" in report.reason


def test_a_formula_too_large_for_sympy_is_reported_at_once():
    report = check(logistic_40)
    assert not report.checked and "expression swell" in report.reason


def _wrong_sin(monkeypatch):
    # d sin(x) = -cos(x) dx: the sign error a rule author might make
    monkeypatch.setitem(
        PRIMITIVES,
        "sin",
        dataclasses.replace(
            PRIMITIVES["sin"],
            jvp=lambda b, p, out, x, dx: b.neg(b.mul(b.cos(x), dx)),
            vjp=lambda b, p, out, g, x: (b.neg(b.mul(b.cos(x), g)),),
        ),
    )


def test_a_wrong_rule_is_caught_and_the_function_and_input_named(monkeypatch, capsys):
    _wrong_sin(monkeypatch)
    report = check(seeds.f)
    assert not report.ok
    assert {(p.mode, p.what) for p in report.failures} == {
        ("reverse", "x2_bar"),
        ("forward", "y_dot"),
    }
    status = main(["check", os.path.join(SAMPLES, "seeds.py"), "--function", "f"])
    err = capsys.readouterr().err
    assert status == 1
    assert "the reverse-mode derivative x2_bar of `f` differs from sympy.diff" in err
    assert "1 failed" in err


def test_a_wrong_rule_inside_a_loop_is_caught_too(monkeypatch):
    def sines(x):
        s = 0.0
        for i in range(3):
            s = s + math.sin(x * i)
        return s

    import math

    _wrong_sin(monkeypatch)
    report = check(sines)
    assert report.formula == "whole" and not report.ok


# --- the samples, through the CLI --------------------------------------------------------
SAMPLE_POINTS = ["--at", "l=0.3", "n=8", "--at", "a=2.0"]
SAMPLE_POINTS += ["--at", "x=0.2", "limit=3.0", "--at", "x=1.1", "n=5"]


@pytest.mark.parametrize(
    "sample, extra, count",
    [
        # a subprocess proving seven functions; the fast tier keeps the
        # `adc check` run below, and proves corpus functions in-process
        pytest.param("seeds.py", [], 7, marks=pytest.mark.slow),
        # about 8 s: SymPy unrolls the loops of every control-flow sample
        pytest.param("control_flow.py", SAMPLE_POINTS, 9, marks=pytest.mark.slow),
    ],
)
def test_adc_check_proves_every_sample(sample, extra, count):
    run = adc("check", sample, *extra, cwd=SAMPLES)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"adc check: {count} proved, 0 failed, 0 not checked" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.slow  # a subprocess; test_a_loop_whose_trip_count_is_an_input_has_no_closed_form is fast
def test_adc_check_explains_what_sympy_cannot_express(tmp_path):
    path = tmp_path / "tol.py"
    path.write_text(
        "def until_small(x):\n    while x > 0.01:\n        x = x / 2.0\n    return x\n"
    )
    run = adc("check", str(path))
    assert run.returncode == 0
    assert "until_small(x): not checked: the loop at line 2" in run.stdout
    assert "0 proved, 0 failed, 1 not checked" in run.stderr


def test_check_takes_a_function():
    with pytest.raises(SourceUnavailableError, match="not a Python function"):
        check(42)


# --- every function of the corpus --------------------------------------------------------
# Functions whose unrolled formulas are too large for SymPy (expression swell):
# the check says so at once rather than running out of time.
TOO_LARGE = {
    "f_rk2_logistic",
    "f_leapfrog_pendulum",
    "f_newton_cube_root",
    "f_gradient_descent",
    "f_power_iteration",
}
SECONDS = 30.0


# The fast tier proves one corpus function in eighty, leaving out those that
# take a second or more.
CHECK_COSTLY = {
    "f_while_newton_sqrt",
    "f_continued_fraction_tan",
    "f_euler_ode",
    "f_augmented_in_loop",
    "f_fixed_point_cos",
    "f_min_max_in_loop",
    "f_call_ode_steps",
    "f_call_helper_returns_in_loop",
    "f_clamp_in_loop",
    "f_babylonian_sqrt",
    "f_compound_interest",
    "f_while_float_time_euler",
}


def _quick_to_prove(f, domain, seed):
    return seed % 160 == 0 and f.__name__ not in CHECK_COSTLY


@pytest.mark.fast_sample(keep=_quick_to_prove)
@pytest.mark.parametrize(
    "f, domain, seed",
    [(f, d, s) for s, (f, d) in enumerate(corpus.CASES) if f not in corpus.KNOWN_BUGS],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_every_corpus_function_is_proved(f, domain, seed):
    fn = trace(f)
    names = [p.name for p in fn.params]
    points = [dict(zip(names, x)) for x in corpus.points(domain, seed, 2)]
    report = check_function(fn, points, SECONDS)
    if f.__name__ in TOO_LARGE:
        assert not report.checked and "expression swell" in report.reason
        return
    assert report.ok, report.text()


def test_an_undecided_equality_is_neither_proved_nor_failed():
    """Where no sample point has both sides defined (a formula that overflows
    everywhere, a domain SymPy's sampler misses), nothing was compared: the
    report says "not proved" and `adc check` counts it as not checked, exit 0
    (it used to be a failure, exit 1, with nothing wrong)."""
    from ad_compiler.symbolic.check import CheckReport, Proof

    undecided = Proof("forward", "y_dot", None, "numeric", "no point defined")
    proved = Proof("reverse", "x_bar", True, "symbolic")
    report = CheckReport("f", "x", "whole", [proved, undecided])
    assert report.checked and not report.ok and not report.failed
    assert report.failures == []
    assert report.text().splitlines()[:3] == [
        "f(x): not proved",
        "  ok   reverse x_bar        symbolic",
        "  ??   forward y_dot        numeric: no point defined",
    ]
    wrong = CheckReport("g", "x", "whole", [Proof("reverse", "x_bar", False, "n")])
    assert wrong.failed and wrong.text().startswith("g(x): FAILED")
