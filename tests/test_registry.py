"""Every row of the primitive registry, checked for what it declares.

The test walks the registry itself (no list of primitives is kept here), so a
new row is checked the moment it is registered:

1. each Python name the row lists reaches it from user code (a tiny function
   calling it by that name is lowered, and its trace applies the primitive);
2. the tangent rule against central finite differences of the evaluation,
   at points of the row's sample domain;
3. the adjoint rule against the tangent rule (the dot-product identity
   ⟨ȳ, J·ẋ⟩ = ⟨Jᵀ·ȳ, ẋ⟩);
4. both rules against ``sympy.diff`` of the row's SymPy translation, where that
   derivative is a closed form (not for the non-smooth rows, whose branches
   are checked by the finite differences and by hand below);
5. rows without a derivative (comparisons, rounding, shapes) have zero rules.

The array rows are checked on arrays in the same way (tangent against finite
differences, adjoint against tangent) with the samples each row declares, and
their vector-mode batching rules against a loop over single directions.
"""

import builtins
import importlib.util
import math
import random

import numpy
import pytest
import sympy

from ad_compiler import CompileError, trace
from ad_compiler.ad.rules import rule_for
from ad_compiler.ir.builder import NumericOps
from ad_compiler.ir.nodes import iter_eqns
from ad_compiler.primitives.registry import zero_jvp, zero_vjp
from ad_compiler.primitives.table import PRIMITIVES, named, where
from ad_compiler.symbolic.translate import SympyOps
from ad_compiler.symbolic.unroll import apply_sympy

ROWS = sorted(n for n, r in PRIMITIVES.items() if not r.effect and n != "call")
SCALAR_ROWS = [n for n in ROWS if PRIMITIVES[n].elementwise]
ARRAY_ROWS = [n for n in ROWS if not PRIMITIVES[n].elementwise]
NAMES = sorted((q, row.name) for row in PRIMITIVES.values() for q in row.names)
# each row's first name in NAMES (its builtins or math name when it has one)
FIRST_NAME = {prim: q for q, prim in reversed(NAMES)}


def params_of(prim):
    return PRIMITIVES[prim].sample_params


def points(prim, n=6):
    """Points inside the row's sample domain (and at their negation for
    ``signed`` rows, whose derivative depends on the sign)."""
    row = PRIMITIVES[prim]
    rng = random.Random(prim)
    domain = row.domain or ((-2, 2),) * row.arity
    for _ in range(n):
        x = [rng.uniform(lo, hi) for lo, hi in domain]
        if row.signed and rng.random() < 0.5:
            x = [-v for v in x]
        yield x


def evaluate(prim, x, p=None):
    return PRIMITIVES[prim].evaluate(*x, **(p or {}))


def tangent(prim, x, dx, p=None):
    b = NumericOps()
    p = p or {}
    d = PRIMITIVES[prim].jvp(b, p, evaluate(prim, x, p), *x, *dx)
    return 0.0 if d is None else d


def adjoint(prim, x, g, p=None):
    b = NumericOps()
    p = p or {}
    cts = PRIMITIVES[prim].vjp(b, p, evaluate(prim, x, p), g, *x)
    return [0.0 if c is None else c for c in cts]


# --- every row has both rules; the names reach it -------------------------------------
def test_every_row_has_both_rules_and_a_missing_one_is_a_clear_error():
    for prim in ROWS:
        row = rule_for(prim)
        assert callable(row.jvp) and callable(row.vjp), prim
        if not row.differentiable:
            assert (row.jvp, row.vjp) == (zero_jvp, zero_vjp), prim
    with pytest.raises(CompileError, match="primitive `nosuch` has no derivative rule"):
        rule_for("nosuch")


def test_the_derived_tables_are_the_rows_fields():
    assert "sin" in where(result="float") and "add" not in where(result="float")
    assert where(result="bool") == {"eq", "ne", "lt", "le", "gt", "ge", "not"}
    assert named("math.")["math.fabs"] == "abs"
    assert named("numpy.", call="reduction")["numpy.max"] == "amax"
    # every qualified name reaches one row only
    seen = [q for q, _ in NAMES]
    assert len(seen) == len(set(seen))


# Argument lists tried for a name whose row lowers it its own way (einsum's
# spec, reshape's dims, a list of arrays...): the first that lowers is kept.
_OWN_ARGUMENTS = ["x", "x, 0", "x, y", "'ij,jk->ik', x, y", "[x, y]", "(2, 3)", ""]
# (scipy.linalg.cho_solve takes the pair cho_factor returns)
_OWN_ARGUMENTS.append("(x, True), y")
_OWN_ARGUMENTS += ["x, 0, 1", "x, y, 0"]  # moveaxis, swapaxes; take_along_axis
_OWN_ARGUMENTS.append("1, x")  # scipy.special.polygamma(n, x): the order first


def _call_text(qualified: str, args: str) -> str:
    module, _, attr = qualified.partition(".")
    if module == "builtins":
        return f"{attr}({args})"
    if module == "ndarray":
        first, _, rest = args.partition(",")
        return f"{first}.{attr}({rest.strip()})"
    return f"{module}.{attr}({args})"


def _module(tmp_path, text: str):
    """A module defining ``f(x, y, z)`` that returns ``text``, imported."""
    path = tmp_path / f"m{abs(hash(text))}.py"
    scipy = "import scipy.special\n" if "scipy." in text else ""
    path.write_text(
        f"import math\nimport numpy\n{scipy}\n\ndef f(x, y, z):\n"
        f"    return {text}\n"
    )
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lowered(tmp_path, text: str):
    return trace(_module(tmp_path, text).f)


@pytest.mark.parametrize("qualified,prim", NAMES)
# the fast tier reaches every row, by one of its names; the full suite by each
@pytest.mark.fast_sample(keep=lambda qualified, prim: FIRST_NAME[prim] == qualified)
def test_each_listed_name_reaches_its_row_from_user_code(tmp_path, qualified, prim):
    row = PRIMITIVES[prim]
    if row.call == "plain":
        tries = [", ".join("xyz"[: row.arity])]
    elif row.call == "reduction":
        tries = ["x"]
    else:
        tries = _OWN_ARGUMENTS
    for args in tries:
        try:
            fn = _lowered(tmp_path, _call_text(qualified, args))
        except CompileError:
            continue
        if any(e.prim == prim for e in iter_eqns(fn.body)):
            return
    pytest.fail(f"`{qualified}` does not lower to `{prim}`")


# The library a qualified name belongs to, as an equation's ``ns`` records it.
_NS = {"math": "math", "numpy": "np", "builtins": "py", "scipy": "scipy"}
SPELLED = [
    (q, prim)
    for q, prim in NAMES
    if PRIMITIVES[prim].elementwise
    and PRIMITIVES[prim].call == "plain"
    and q.partition(".")[0] in _NS
]


def _live(qualified: str):
    """The function a qualified name is (``scipy.special.expit``)."""
    module, *path = qualified.split(".")
    if module == "scipy":
        obj = importlib.import_module("scipy." + path.pop(0))
    else:
        obj = {"math": math, "numpy": numpy, "builtins": builtins}[module]
    for part in path:
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("qualified,prim", SPELLED)
def test_the_emitted_spelling_computes_what_the_user_called(qualified, prim):
    """Emitted code calls the row's spelling for the user's library
    (``np_name`` for a NumPy name ...), and constant folding evaluates it:
    it must be the function the user called, not only a row with right rules
    (``np_name="np.arctan"`` on the arctanh row passes every rule check)."""
    module, _, attr = qualified.partition(".")
    called = _live(qualified)
    spelled = PRIMITIVES[prim].evaluator(_NS[module])
    for p in params_of(prim):
        for x in points(prim):
            want, got = called(*x, **p), spelled(*x, **p)
            assert got == pytest.approx(want, rel=1e-12, nan_ok=True), (qualified, x)


# --- the scalar rows: rules against finite differences, each other and SymPy --------
@pytest.mark.parametrize("prim", SCALAR_ROWS)
def test_tangent_rule_matches_finite_differences(prim):
    for p in params_of(prim):
        for x in points(prim):
            for k in range(len(x)):
                if k in underivable(prim):
                    continue  # (its rules give None: see the next test)
                dx = [1.0 if j == k else None for j in range(len(x))]
                h = 1e-6 * max(1.0, abs(x[k]))
                up, down = list(x), list(x)
                up[k] += h
                down[k] -= h
                fd = (evaluate(prim, up, p) - evaluate(prim, down, p)) / (2 * h)
                assert tangent(prim, x, dx, p) == pytest.approx(
                    fd, rel=1e-6, abs=1e-7
                ), (prim, p, x, k)


def underivable(prim) -> set:
    """The inputs a row has no derivative in (a shape parameter of a CDF)."""
    return {i for i, _ in PRIMITIVES[prim].underivable}


def test_underivable_inputs_get_no_tangent_or_adjoint_from_the_rules():
    rows = [n for n in SCALAR_ROWS if underivable(n)]
    assert {"t_logcdf", "gamma_logcdf", "beta_logcdf"} <= set(rows)
    for prim in rows:
        x = next(points(prim))
        for k in underivable(prim):
            dx = [1.0 if j == k else None for j in range(len(x))]
            assert tangent(prim, x, dx) == 0.0, prim
            assert adjoint(prim, x, 1.0)[k] == 0.0, prim


@pytest.mark.parametrize("prim", SCALAR_ROWS)
def test_adjoint_rule_is_the_transpose_of_the_tangent_rule(prim):
    rng = random.Random(1)
    for p in params_of(prim):
        for x in points(prim):
            dx = [rng.uniform(-1, 1) for _ in x]
            g = rng.uniform(-1, 1)
            lhs = g * tangent(prim, x, dx, p)
            rhs = sum(c * d for c, d in zip(adjoint(prim, x, g, p), dx))
            assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-14), (prim, p, x)


# atoms of a derivative SymPy gives that are not a closed form to compare with
_NOT_CLOSED = (
    sympy.Derivative,
    sympy.Subs,
    sympy.DiracDelta,
    sympy.Heaviside,
    sympy.sign,
    sympy.Piecewise,
)


def sympy_check(prim, row, p=None) -> list[str] | None:
    """Where a row's rules disagree with sympy.diff of its translation (empty
    when they are right; None when SymPy's derivative is not a closed form)."""
    p = p or {}
    xs = sympy.symbols(f"x0:{row.arity}", positive=True)
    dxs = sympy.symbols(f"d0:{row.arity}", real=True)
    g = sympy.Symbol("g", real=True)
    out = apply_sympy(prim, *xs, **p)
    skip = {i for i, _ in row.underivable}  # no rule there to compare
    exact = [sympy.S.Zero if i in skip else _diff(out, x) for i, x in enumerate(xs)]
    if any(e.has(*_NOT_CLOSED) or e.has(sympy.Max, sympy.Min) for e in exact):
        return None
    b = SympyOps()
    wrong = []
    jvp = row.jvp(b, p, out, *xs, *dxs)
    at = _sample_points(row, xs, dxs, g)
    if not _zero((jvp or 0) - sum(e * d for e, d in zip(exact, dxs)), at):
        wrong.append("jvp")
    for x, e, ct in zip(xs, exact, row.vjp(b, p, out, g, *xs)):
        if not _zero((ct or 0) - g * e, at):
            wrong.append(f"vjp wrt {x}")
    return wrong


def _diff(out, x):
    """sympy.diff, with floor's derivative zero (a step: the rules' convention
    between the integers)."""
    return sympy.diff(out, x).replace(
        lambda a: isinstance(a, sympy.Derivative) and isinstance(a.expr, sympy.floor),
        lambda a: sympy.S.Zero,
    )


def _sample_points(row, xs, dxs, g) -> list[dict]:
    """Substitutions at three points of the row's sample domain."""
    rng = random.Random(row.name)
    domain = row.domain or ((-2, 2),) * row.arity
    return [
        {
            **{x: rng.uniform(lo, hi) for x, (lo, hi) in zip(xs, domain)},
            **{d: rng.uniform(-1, 1) for d in dxs},
            g: rng.uniform(-1, 1),
        }
        for _ in range(3)
    ]


def _zero(expr, at: list[dict]) -> bool:
    """Whether ``expr`` is zero: simplified to 0, or else (an identity SymPy
    does not prove, through incomplete gamma/beta functions and exp(loggamma))
    zero to 1e-9 at each sample point, evaluated numerically."""
    if sympy.simplify(expr) == 0:
        return True
    for point in at:
        value = sympy.N(expr.subs(point))
        if not value.is_number or abs(complex(value)) > 1e-9:
            return False
    return True


# SymPy cannot simplify the incomplete gamma/beta identities of the log-CDFs:
# their check ends in the numeric fallback after 2-11 s, so the full suite runs it
_SLOW_SYMPY = {"t_logcdf", "beta_logcdf", "gamma_logcdf"}
# Over a quarter of a second each (SymPy simplifies their derivative at length):
# the full suite only.  The fast tier checks one other row in six.
_COSTLY_SYMPY = {"beta_logpdf", "t_logpdf", "acosh", "norm_pdf"}


def _quick_sympy_sample(prim):
    return prim not in _COSTLY_SYMPY and SCALAR_ROWS.index(prim) % 6 == 0


@pytest.mark.parametrize(
    "prim",
    [
        pytest.param(p, marks=pytest.mark.slow) if p in _SLOW_SYMPY else p
        for p in SCALAR_ROWS
    ],
)
@pytest.mark.fast_sample(keep=_quick_sympy_sample)
def test_rules_agree_with_sympy_diff(prim):
    row = PRIMITIVES[prim]
    for p in params_of(prim):
        wrong = sympy_check(prim, row, p)
        if wrong is None:
            # only a non-smooth row may lack a closed-form derivative; every
            # float-valued function is smooth where it is defined
            assert row.result != "float", prim
            continue
        assert wrong == [], (prim, p)


def test_sympy_check_catches_a_wrong_rule():
    import dataclasses

    sin = PRIMITIVES["sin"]
    wrong_sin = dataclasses.replace(
        sin,
        jvp=lambda b, p, out, x, dx: b.mul(b.sin(x), dx),  # should be cos(x)
        vjp=lambda b, p, out, g, x: (b.mul(b.cos(x), g),),
    )
    assert sympy_check("sin", wrong_sin) == ["jvp"]
    wrong_div = dataclasses.replace(
        PRIMITIVES["div"],
        vjp=lambda b, p, out, g, x, y: (b.div(g, y), b.div(b.mul(out, g), y)),
    )  # the sign of ȳ dropped
    assert sympy_check("div", wrong_div) == ["vjp wrt x1"]


def test_branch_rules_take_the_branch_python_takes():
    # select: the branch the condition picks, both ways
    assert adjoint("select", [True, 2.0, 3.0], 1.0) == [0.0, 1.0, 0.0]
    assert adjoint("select", [False, 2.0, 3.0], 1.0) == [0.0, 0.0, 1.0]
    # max/min return their first argument on a tie, and so does the derivative
    assert tangent("max", [1.0, 1.0], [1.0, None]) == 1.0
    assert tangent("max", [1.0, 1.0], [None, 1.0]) == 0.0
    assert adjoint("max", [1.0, 2.0], 1.0) == [0.0, 1.0]
    assert adjoint("min", [1.0, 1.0], 1.0) == [1.0, 0.0]
    assert adjoint("min", [3.0, 2.0], 1.0) == [0.0, 1.0]
    # fmod(1, 0.1): the true quotient is 9 although 1 / 0.1 rounds to 10
    assert math.fmod(1.0, 0.1) == pytest.approx(0.1)
    assert adjoint("fmod", [1.0, 0.1], 1.0) == [1.0, -9.0]


def test_abs_derivative_at_zero_is_that_of_the_branch_x_ge_0():
    # -0.0 >= 0 is true in Python: the branch `x if x >= 0 else -x` is taken at
    # both zeros, and JAX's d|x|/dx is 1.0 at 0.0 and at -0.0
    assert tangent("abs", [0.0], [1.0]) == 1.0
    assert tangent("abs", [-0.0], [1.0]) == 1.0
    assert tangent("abs", [-2.0], [1.0]) == -1.0
    assert math.isnan(tangent("abs", [math.nan], [1.0]))


# --- the array rows, on arrays -----------------------------------------------------------
def _array_samples(prim):
    """(inputs, params, which inputs are differentiable) per declared sample."""
    rng = numpy.random.default_rng(len(prim))
    for sample in PRIMITIVES[prim].samples:
        ins, p = sample[0], dict(sample[1])
        values = []
        active = []
        for s in ins:
            if isinstance(s, tuple):  # a shape: a random float array
                values.append(rng.uniform(0.5, 2.0, size=s))
                active.append(True)
            else:  # a static input (a length, an index): as it is
                values.append(s)
                active.append(False)
        yield values, p, active


@pytest.mark.parametrize(
    "prim",
    [p for p in ARRAY_ROWS if PRIMITIVES[p].samples and PRIMITIVES[p].differentiable],
)
def test_array_rules_against_differences_and_each_other(prim):
    row = PRIMITIVES[prim]
    b = NumericOps()
    rng = numpy.random.default_rng(7)
    for x, p, active in _array_samples(prim):
        out = row.evaluate(*x, **p)
        dx = [
            rng.uniform(-1, 1, size=numpy.shape(v)) if a else None
            for v, a in zip(x, active)
        ]
        h = 1e-6
        up = [v + h * d if a else v for v, d, a in zip(x, dx, active)]
        down = [v - h * d if a else v for v, d, a in zip(x, dx, active)]
        fd = (row.evaluate(*up, **p) - row.evaluate(*down, **p)) / (2 * h)
        jvp = row.jvp(b, p, out, *x, *dx)
        numpy.testing.assert_allclose(
            numpy.broadcast_to(jvp, numpy.shape(out)), fd, rtol=1e-6, atol=1e-8
        )
        g = rng.uniform(-1, 1, size=numpy.shape(out))
        cts = row.vjp(b, p, out, g, *x)
        lhs = float(numpy.sum(g * jvp))
        rhs = sum(
            float(numpy.sum(numpy.broadcast_to(c, numpy.shape(v)) * d))
            for c, d, v, a in zip(cts, dx, x, active)
            if a and c is not None
        )
        assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12), (prim, p)


def test_every_differentiable_array_row_declares_samples():
    missing = [
        p
        for p in ARRAY_ROWS
        if PRIMITIVES[p].differentiable and not PRIMITIVES[p].samples
    ]
    assert missing == []


# --- the helpers written into emitted code ------------------------------------------------
def test_the_polygamma_helper_matches_mpmath():
    import mpmath

    from ad_compiler.primitives.registry import helper_function

    polygamma = helper_function("_polygamma")
    rng = random.Random(5)
    mpmath.mp.dps = 30
    for n in range(5):
        for x in [rng.uniform(0.01, 40) for _ in range(40)] + [1e-3, 1.0, 1e6]:
            exact = float(mpmath.polygamma(n, x))
            assert polygamma(n, x) == pytest.approx(exact, rel=2e-14), (n, x)
        for x in [rng.uniform(-6, 0) for _ in range(40)] + [-0.5, -100.25]:
            exact = float(mpmath.polygamma(n, x))
            assert polygamma(n, x) == pytest.approx(exact, rel=1e-10), (n, x)
        assert math.isnan(polygamma(n, 0.0)) and math.isnan(polygamma(n, -3.0))


SCALAR_ONLY = sorted(n for n, r in PRIMITIVES.items() if r.scalar_only)


@pytest.mark.parametrize("prim", SCALAR_ONLY)
def test_a_math_function_without_a_numpy_twin_refuses_arrays(prim):
    from ad_compiler.ir import shapes
    from ad_compiler.ir.builder import IRBuilder
    from ad_compiler.ir.nodes import Namer, Var

    row = PRIMITIVES[prim]
    b = IRBuilder(Namer(), {"x": (shapes.N,), "y": shapes.SCALAR})
    with pytest.raises(CompileError, match=f"`{row.math_name}` takes numbers"):
        b.apply(prim, *[Var("x")] * row.arity)
    assert b.apply(prim, *[Var("y")] * row.arity) is not None  # numbers are fine


@pytest.mark.parametrize("prim", SCALAR_ONLY)
def test_a_scalar_only_function_of_an_array_is_a_located_error(tmp_path, prim):
    from ad_compiler import grad

    name = PRIMITIVES[prim].math_name
    args = ", ".join(["x"] * PRIMITIVES[prim].arity)
    f = _module(tmp_path, f"numpy.sum({name}({args}))").f
    assert any(e.prim == prim for e in iter_eqns(trace(f).body))  # shapes unknown
    with pytest.raises(CompileError, match=f"`{name}` takes numbers") as error:
        grad(f)(numpy.ones(3), 1.0, 1.0)
    assert error.value.loc is not None and error.value.loc.line == 6


# --- vector mode: each row's batching rule against a loop of directions ---------------------
BATCHED_ROWS = sorted(n for n in ROWS if PRIMITIVES[n].batch is not None)


def test_every_array_row_reachable_with_directions_has_a_batching_rule():
    # an array row may lack one only if no input of it ever carries directions
    # (it reads only shapes, or makes a new array from them)
    without = {n for n in ARRAY_ROWS if PRIMITIVES[n].batch is None}
    assert {"shape", "len", "size", "construct"} <= without
    # (a row of any number of inputs, np.broadcast, lists every position it takes)
    assert all(
        PRIMITIVES[n].shape_only
        == tuple(range(PRIMITIVES[n].arity if PRIMITIVES[n].arity >= 0 else 32))
        for n in without - {"construct"}
    )
    # the elementwise ones get the helper's rule: none is left out
    assert all(PRIMITIVES[n].batch is not None for n in SCALAR_ROWS)


def _run(fn, *args):
    """Emit ``fn``'s IR as Python (with the helpers it calls) and run it."""
    from ad_compiler.backend.codegen import emit_function, helpers_for, imports_for

    namespace = {"np": numpy, "math": math}
    exec("\n".join(imports_for([fn])), namespace)  # import scipy.special ...
    for helper in helpers_for([fn]):
        exec(helper, namespace)
    exec(emit_function(fn), namespace)
    return namespace[fn.name](*args)


def _spelling(row) -> str:
    """The library a row is called from in these tests: NumPy's twin when it
    has one, else SciPy's, else math's, else Python's."""
    if row.np_name:
        return "np"
    return "scipy" if row.scipy_name else "math" if row.math_name else "py"


def _one_equation(prim, values, p, ns="np"):
    """``f`` applying ``prim`` once: every array (or number) in ``values`` is a
    parameter, each int (a length, an index) a literal; and the parameters'
    positions in ``values``."""
    from ad_compiler.ir import shapes
    from ad_compiler.ir.nodes import Const, Eqn, Function, Var

    taken = [j for j, v in enumerate(values) if not isinstance(v, int)]
    ins = tuple(Var(f"x{j}") if j in taken else Const(v) for j, v in enumerate(values))
    out = Var("y")
    fn = Function(
        name="f",
        params=tuple(Var(f"x{j}") for j in taken),
        body=(Eqn(prim, (out,), ins, None, ns, tuple(sorted(p.items()))),),
        results=(out,),
        param_shapes=tuple(shapes.of_value(values[j]) for j in taken),
    )
    return fn, taken


def _against_a_loop(prim, values, p, active, draw, expected, ns="np") -> int:
    """The row's rule (through :func:`batch`) applied once to a stack of k
    directions of input ``i`` equals ``expected`` of each direction alone, for
    every ``i`` in ``active``; how many inputs were checked."""
    from ad_compiler.ad.batching import batch
    from ad_compiler.ir import shapes

    fn, taken = _one_equation(prim, values, p, ns)
    k, checked = 3, 0
    for i in (j for j in taken if active[j]):
        at = taken.index(i)
        batched = batch(fn, (at,), (0,), (shapes.of_value(values[i]),))
        stack = draw(i, (k,) + numpy.shape(values[i]))
        args = [values[j] for j in taken]
        got = _run(batched, *args[:at], stack, *args[at + 1 :])
        assert numpy.shape(got)[:1] == (k,), (prim, i)
        for d in range(k):
            one = list(values)
            one[i] = stack[d]
            numpy.testing.assert_allclose(got[d], expected(one), rtol=1e-12)
        checked += 1
    return checked


def _array_rule_checked(prim) -> int:
    row = PRIMITIVES[prim]
    rng = numpy.random.default_rng(11)
    checked = 0
    for values, p, active in _array_samples(prim):
        checked += _against_a_loop(
            prim,
            values,
            p,
            active,
            lambda i, shape: rng.uniform(0.5, 2.0, size=shape),
            lambda one, p=p: row.evaluate(*one, **p),
        )
    return checked


def _elementwise_rule_checked(prim) -> tuple[int, int]:
    """The row with directions on each input in turn, on arrays of shape (3,),
    on numbers, and with the input that has directions a number beside arrays
    (its directions must not pair with their elements: a missing axis would
    pair them, silently, as k = 3 here).  A case whose values the row's
    spelling does not take without directions either (``a if d else b`` of an
    array ``d``) is skipped.  How many cases matched a loop, and how many the
    rule refused with a "not supported in vector mode" error."""
    row = PRIMITIVES[prim]
    ns = _spelling(row)
    rng = numpy.random.default_rng(len(prim))
    domain = row.domain or ((-2, 2),) * row.arity

    def draw(i, shape):  # (a number as a Python float)
        value = rng.uniform(*domain[i], size=shape)
        return float(value) if shape == () else value

    checked = refused = 0
    for p in params_of(prim):
        for i in range(row.arity):
            for shape_i, others in (((3,), (3,)), ((), (3,)), ((), ())):
                values = [draw(j, others) for j in range(row.arity)]
                values[i] = draw(i, shape_i)
                fn, _ = _one_equation(prim, values, p, ns)
                try:
                    _run(fn, *values)
                except (TypeError, ValueError):
                    continue  # not a program without directions either
                active = [j == i for j in range(row.arity)]
                try:
                    checked += _against_a_loop(
                        prim,
                        values,
                        p,
                        active,
                        draw,
                        lambda one, fn=fn: _run(fn, *one),
                        ns,
                    )
                except CompileError as error:
                    assert "not supported in vector mode" in str(error), prim
                    refused += 1
    return checked, refused


@pytest.mark.parametrize("prim", BATCHED_ROWS)
@pytest.mark.fast_sample(every=4)
def test_batching_rule_matches_a_loop_of_single_directions(prim):
    """The row's ``batch`` rule applied once to a stack of k inputs (vector
    mode's leading axis) equals the row applied to each of the k inputs, for
    every input that may carry directions, alone; or the rule refuses with a
    compile error, never code that fails or differs when run.  Array rows are
    checked on their samples (against their evaluation); elementwise rows on
    arrays and numbers of their sample domain (against the same equation run
    without directions)."""
    row = PRIMITIVES[prim]
    if not row.elementwise:
        assert _array_rule_checked(prim), prim
        return
    checked, refused = _elementwise_rule_checked(prim)
    # a call by a name that takes no arrays and has no NumPy twin (math.erf,
    # int) is refused, and only such a call or a spelling for numbers is
    ns = _spelling(row)
    if ns in ("math", "py") and row.call_name(ns) is not None:
        assert refused and not checked, prim
    else:
        assert checked or row.render_module == "math", prim


def test_a_row_without_a_batching_rule_is_a_located_error(tmp_path, monkeypatch):
    import dataclasses

    from ad_compiler import jacfwd

    f = _module(tmp_path, "numpy.outer(x, y) * z").f
    monkeypatch.setitem(
        PRIMITIVES, "outer", dataclasses.replace(PRIMITIVES["outer"], batch=None)
    )
    x = numpy.array([1.0, 2.0])
    with pytest.raises(CompileError, match="`outer` is not supported in vector mode"):
        jacfwd(f)(x, x, 2.0)
    with pytest.raises(CompileError) as error:
        jacfwd(f)(x, x, 2.0)
    assert error.value.loc is not None and error.value.loc.line == 6
