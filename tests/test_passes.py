"""Optimisation passes: identities, CSE, DCE, and that one round is a fixed point."""

import math
from fractions import Fraction

import corpus
import pytest
import seeds

from ad_compiler import grad, trace
from ad_compiler.backend.codegen import emit_function
from ad_compiler.driver import derivative_ir
from ad_compiler.ir.nodes import Const, Eqn, Function, Var
from ad_compiler.opt.dce import eliminate_dead_code
from ad_compiler.opt.literals import float_literals
from ad_compiler.opt.optimize import optimize
from ad_compiler.opt.simplify import simplify

FUNCTIONS = [f for f, _ in corpus.CASES if f.__name__ not in corpus.KNOWN_BUGS] + [
    seeds.f,
    seeds.bishop,
    seeds.gaussian,
    seeds.sigmoid_log2,
    seeds.neuron,
]


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("kind", ["vjp", "jvp"])
@pytest.mark.fast_sample(every=24)
def test_one_round_of_optimisation_is_a_fixed_point(f, kind):
    fn = trace(f)
    d = derivative_ir(fn, kind, tuple(range(len(fn.params))))
    assert simplify(d) is d
    assert eliminate_dead_code(d) is d


def fn_of(*eqns, results, params=("x", "y")):
    return Function("t", tuple(Var(p) for p in params), tuple(eqns), results)


def eqn(prim, out, *ins):
    return Eqn(
        prim,
        (Var(out),),
        tuple(Var(i) if isinstance(i, str) else Const(i) for i in ins),
    )


def test_identities_fold_and_copy_propagate():
    fn = fn_of(
        eqn("mul", "a", "x", 1.0),
        eqn("add", "b", "a", 0),
        eqn("neg", "c", "y"),
        eqn("add", "d", "b", "c"),
        eqn("mul", "e", 2, 3),
        eqn("mul", "f", "d", "e"),
        results=(Var("f"),),
    )
    out = optimize(fn)
    assert [str(e) for e in out.body] == ["d = x - y", "f = d * 6"]


def test_common_subexpressions_merge_and_commute():
    fn = fn_of(
        eqn("mul", "a", "x", "y"),
        eqn("mul", "b", "y", "x"),
        eqn("sin", "c", "a"),
        eqn("sin", "d", "b"),
        eqn("add", "e", "c", "d"),
        results=(Var("e"),),
    )
    assert [str(e) for e in optimize(fn).body] == [
        "a = x * y",
        "c = sin(a)",
        "e = c + c",
    ]


def test_multiplying_by_zero_is_not_folded():
    # x * 0 is nan for infinite x: folding it would be silently wrong
    fn = fn_of(eqn("mul", "a", "x", 0), results=(Var("a"),))
    assert [str(e) for e in optimize(fn).body] == ["a = x * 0"]


def test_negations_move_outwards_and_cancel():
    fn = fn_of(
        eqn("neg", "n", "y"),
        eqn("mul", "m", "x", "n"),
        eqn("sub", "s", "x", "m"),
        results=(Var("s"),),
    )
    assert [str(e) for e in optimize(fn).body][-1] == "s = x + v1"


def test_dead_code_is_removed_but_results_kept():
    fn = fn_of(
        eqn("exp", "a", "x"),
        eqn("log", "b", "y"),
        results=(Var("a"),),
    )
    assert [str(e) for e in eliminate_dead_code(fn).body] == ["a = exp(x)"]


def test_a_gradient_does_no_work_for_inactive_inputs():
    g = grad(seeds.f, argnums=0)
    # ∂f/∂x1 = 1/x1 + x2: no sin or cos of x2 is computed
    code = [line for line in g.source.splitlines() if not line.strip().startswith("#")]
    assert not [line for line in code if "sin(" in line or "cos(" in line]
    assert g(2.0, 5.0) == pytest.approx(5.5)


def test_power_of_two_scaling_reassociates_only_to_reuse_a_value():
    # 2 * (s * g) == (2 * s) * g exactly; it is rewritten because t = 2 * s exists
    fn = fn_of(
        eqn("mul", "t", 2.0, "x"),
        eqn("mul", "u", "t", "y"),
        eqn("mul", "m", "x", "y"),
        eqn("mul", "w", 2.0, "m"),
        eqn("add", "r", "u", "w"),
        results=(Var("r"),),
    )
    assert [str(e) for e in optimize(fn).body] == [
        "t = 2.0 * x",
        "u = t * y",
        "r = u + u",
    ]
    # 3 * (x * y) is not exact to reassociate, and nothing would be reused: kept
    fn = fn_of(
        eqn("mul", "m", "x", "y"), eqn("mul", "w", 3.0, "m"), results=(Var("w"),)
    )
    assert [str(e) for e in optimize(fn).body] == ["m = x * y", "w = 3.0 * m"]


def test_constants_merge_when_one_is_a_power_of_two():
    # (2 d) 0.5 == (2 * 0.5) d exactly: the gradient of 0.5 * d ** 2 is d itself
    fn = fn_of(
        eqn("sub", "d", "x", "y"),
        eqn("mul", "t", 2, "d"),
        eqn("mul", "g", "t", 0.5),
        results=(Var("g"),),
    )
    assert [str(e) for e in optimize(fn).body] == ["d = x - y"]
    # 3 (5 x) rounds differently from 15 x: kept
    fn = fn_of(
        eqn("mul", "t", 5.0, "x"), eqn("mul", "g", 3.0, "t"), results=(Var("g"),)
    )
    assert [str(e) for e in optimize(fn).body] == ["t = 5.0 * x", "g = 3.0 * t"]


def test_int_literals_beside_certain_floats_are_printed_as_floats():
    fn = fn_of(
        eqn("exp", "e", "x"),
        eqn("add", "a", 1, "e"),  # e is a float: 1.0 + e
        eqn("mul", "b", 2, "y"),  # y may be an int (or a Fraction): kept
        eqn("floor", "f", "x"),
        eqn("sub", "c", "f", 1),  # math.floor gives an int: kept
        eqn("neg", "n", "e"),
        eqn("div", "q", 3, "n"),  # a negated float is a float
        eqn("mul", "r", "a", 2),  # so is arithmetic with one
        results=(Var("a"), Var("b"), Var("c"), Var("q"), Var("r")),
    )
    body = tuple(_in_math(e) for e in fn.body)
    fn = Function(fn.name, fn.params, body, fn.results, tree=(0, 1, 2, 3, 4))
    out = float_literals(fn)
    assert [str(e) for e in out.body] == [
        "e = exp(x)",
        "a = 1.0 + e",
        "b = 2 * y",
        "f = floor(x)",
        "c = f - 1",
        "n = -e",
        "q = 3.0 / n",
        "r = a * 2.0",
    ]
    # the same numbers, bit for bit (Python converts the int that way anyway)
    for x, y in [(0.3, 2), (-1.7, Fraction(1, 3)), (2, 5)]:
        assert _run(out, x, y) == _run(fn, x, y)
        assert [type(v) for v in _run(out, x, y)] == [type(v) for v in _run(fn, x, y)]


def cube_plus_sigmoid(x):
    return x**3 + 1 / (1 + math.exp(-x))


def test_derivative_constants_are_floats_but_int_exponents_stay_ints():
    g = grad(cube_plus_sigmoid)
    code = "\n".join(
        line for line in g.source.splitlines() if not line.strip().startswith("#")
    )
    assert "x**2" in code and "x**2.0" not in code  # 3 x ** 2, as written
    assert "1.0 + " in code and "1 + " not in code  # beside math.exp: a float
    s = 1 / (1 + math.exp(-0.7))
    assert g(0.7) == pytest.approx(3 * 0.7**2 + s * (1 - s), rel=1e-14)


def _in_math(e):
    return (
        Eqn(e.prim, e.outs, e.ins, e.loc, "math") if e.prim in ("exp", "floor") else e
    )


def _run(fn, *args):
    src = emit_function(fn)
    scope = {"math": math}
    exec(src, scope)
    return scope[fn.name](*args)


def halve(x):
    y = x
    while y > 1.0:
        y = y * 0.5
    return y


def grow(x, limit):
    s = x
    for i in range(100):
        s = s * 1.1
        if s > limit:
            break
    return s * x


def sum_of_powers(x, n):
    s = 0.0
    for i in range(n):
        s = s + x**i
    return s


@pytest.mark.parametrize(
    "f, x, want",
    [
        (halve, (5.0,), 0.125),  # 5 -> 2.5 -> 1.25 -> 0.625: three halvings
        (grow, (1.0, 1.5), 1.1**5 * 2),  # five steps pass 1.5; d(s x)/dx = 2 s
        (sum_of_powers, (2.0, 4), 0 + 1 + 2 * 2 + 3 * 4),
    ],
)
def test_tapes_that_only_count_become_counts(f, x, want):
    """No list where the reverse sweep needs only how many iterations ran."""
    g = grad(f)
    assert "tape" not in g.source and "reversed(range(" in g.source
    assert g(*x) == pytest.approx(want, rel=1e-12)


def rounds_away(x):
    return x * ((2**53 + 1) * 1.0 - 2**53)


def int_over_one(x):
    n = 2**53 + 1
    return x * (n / 1 - 2**53) + x * ((n + 0.0) - 2**53) + x * ((n * -1.0) + 2**53)


def test_a_float_identity_on_an_int_is_not_dropped():
    """`n * 1.0` is a float: (2**53 + 1) * 1.0 rounds to 2**53, so the
    derivative is 0.0, where the ints' exact difference would give 1."""
    assert float(rounds_away(3.0)) == 0.0
    assert grad(rounds_away)(3.0) == 0.0
    assert grad(int_over_one)(3.0) == 0.0
    fn = fn_of(
        eqn("add", "n", 2**53, 1),
        eqn("mul", "a", "n", 1.0),
        eqn("mul", "b", "x", 1.0),
        eqn("mul", "c", "n", 1),
        eqn("add", "d", "a", "b"),
        eqn("add", "e", "d", "c"),
        results=(Var("e"),),
    )
    assert [str(e) for e in simplify(fn).body] == [
        "n = 9007199254740992 + 1",
        "a = n * 1.0",
        "d = a + x",
        "e = d + n",
    ]


def _logistic(r, x0, n):
    x = x0
    for i in range(n):
        x = r * x * (1.0 - x)
    return x


def test_a_common_factor_carried_around_a_loop_is_factored_out():
    # x̄ <- r (v4 x̄) - v3 x̄ is (r v4 - v3) x̄: one multiply by x̄ per step
    g = grad(_logistic, argnums=(0, 1))
    assert "(v4 * r - v3) * x0_bar" in g.source
    assert g.source.count("x0_bar") == 5  # no other product reads x̄ twice
    r, x0, n = 3.7, 0.3, 6
    xs, x = [], x0
    for _ in range(n):
        xs.append(x)
        x = r * x * (1.0 - x)
    x_bar, r_bar = 1.0, 0.0
    for x in reversed(xs):
        r_bar += x * (1.0 - x) * x_bar
        x_bar *= r * (1.0 - 2.0 * x)
    got = g(r, x0, n)
    assert math.isclose(got[0], r_bar, rel_tol=1e-13)
    assert math.isclose(got[1], x_bar, rel_tol=1e-13)
