"""Jacobians, Hessians, Hessian-vector products and derivatives of derivatives.

Every Hessian of the corpus (straight-line code, branches, loops, calls) is
checked against central differences of the emitted gradient and for symmetry;
where SymPy can express a function (loops with a known trip count unrolled,
branches as Piecewise), against ``sympy.diff`` twice; forward- and
reverse-mode Jacobians agree; third derivatives of a few functions against
SymPy.
"""

import inspect
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy
from corpus import CASES, KNOWN_BUGS, POINTS

from ad_compiler import grad, hessian, hvp, jacfwd, jacobian, jacrev
from ad_compiler.api import trace
from ad_compiler.symbolic.check import OutOfTime, _decider, time_budget
from ad_compiler.symbolic.translate import to_sympy
from ad_compiler.symbolic.unroll import NotExpressible, Unroller

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "samples"))
import control_flow  # noqa: E402
import seeds  # noqa: E402


def _nparams(f):
    return f.__code__.co_argcount


def _midpoint(domain):
    """A point in the box; a fixed whole number (a trip count) stays an int."""
    return tuple(
        int(lo) if lo == hi and float(lo).is_integer() else (lo + 2 * hi) / 3
        for lo, hi in domain
    )


def _point(f, domain):
    """The corpus's first random point of ``f`` (off every branch boundary)."""
    return next((x for g, x in POINTS if g is f), None) or _midpoint(domain)


def _scalar_valued(f, x):
    return not isinstance(f(*x), tuple)


SCALAR_CASES = [
    (f, dom)
    for f, dom in CASES
    if f.__name__ not in KNOWN_BUGS and _scalar_valued(f, _midpoint(dom))
]
TUPLE_CASES = [
    (f, dom)
    for f, dom in CASES
    if f.__name__ not in KNOWN_BUGS and not _scalar_valued(f, _midpoint(dom))
]


def _fd_hessian(f, x, h=1e-5):
    """Central differences of the emitted gradient, column by column."""
    g = grad(f, argnums=tuple(range(len(x))))
    n = len(x)
    H = np.zeros((n, n))
    for j in range(n):
        up = list(x)
        down = list(x)
        up[j] += h
        down[j] -= h
        H[:, j] = (np.array(g(*up), float) - np.array(g(*down), float)) / (2 * h)
    return H


@pytest.mark.parametrize(
    "f, dom", SCALAR_CASES, ids=[f.__name__ for f, _ in SCALAR_CASES]
)
@pytest.mark.fast_sample(every=60)
def test_hessian_matches_differences_of_the_gradient_and_is_symmetric(f, dom):
    x = _point(f, dom)
    n = len(x)
    H = np.array(hessian(f, argnums=tuple(range(n)))(*x))
    assert H.shape == (n, n)
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-9)
    # a difference of gradients loses about eps·|∇f|/h (2**70 x: everything)
    scale = float(np.max(np.abs(np.array(grad(f, argnums=tuple(range(n)))(*x), float))))
    fd = _fd_hessian(f, x)
    np.testing.assert_allclose(H, fd, rtol=2e-5, atol=2e-5 + 1e-10 * scale)


def _sympy_hessian(f, x, seconds=5.0):
    """SymPy's Hessian at x: of the whole formula, or, where a trip count or a
    branch depends on the inputs, of the formula along the path x takes (the
    corpus boxes keep that path fixed near x, as adc check's path mode does)."""
    fn = trace(f)
    with time_budget(seconds):
        try:
            (expr,) = to_sympy(fn)
        except NotExpressible:
            point = {p.name: v for p, v in zip(fn.params, x)}
            program = {g.name: g for g in fn.callees}
            unroller = Unroller(program, decide=_decider(point))
            symbols = [sympy.Symbol(p.name, real=True) for p in fn.params]
            (expr,) = unroller.call(fn, symbols)
        symbols = [sympy.Symbol(p.name, real=True) for p in fn.params]
        at = dict(zip(symbols, x))
        return np.array(
            [
                [float(sympy.diff(expr, a, b).subs(at).evalf(30)) for b in symbols]
                for a in symbols
            ]
        )


def _sympy_or_skip(f, x):
    try:
        return _sympy_hessian(f, x)
    except (NotExpressible, OutOfTime) as exc:
        pytest.skip(f"SymPy cannot express {f.__name__}: {str(exc)[:80]}")
    except (TypeError, ValueError) as exc:  # a Piecewise or call it cannot evaluate
        pytest.skip(f"SymPy cannot evaluate {f.__name__}: {str(exc)[:80]}")


SYMPY_CASES = [(f, d) for f, d in SCALAR_CASES if f.__module__ == "corpus_control"]
SAMPLES = [
    (seeds.f, [(1.5, 2.5), (4.5, 5.5)]),
    (seeds.gaussian, [(0.2, 0.8), (-0.3, 0.3), (0.8, 1.2)]),
    (seeds.sigmoid_log2, [(1.5, 2.5)]),
    (
        seeds.neuron,
        [(0.1, 0.5), (-0.5, -0.1), (0.0, 0.2), (0.5, 1.0), (1.0, 2.0), (0.2, 0.8)],
    ),
    (control_flow.logistic, [(0.2, 0.3), (4.0, 4.0)]),
]


# Cases that take a second or more (SymPy runs out of its 5 s, or unrolls a long
# loop): the full suite only.  The fast tier runs seeds.f and one in 96 of the
# other control-flow functions (the sample `logistic` takes half a second).
SYMPY_COSTLY = {
    "f_recursion_with_loop_and_custom",
    "f_min_max_in_loop",
    "f_rk2_logistic",
    "f_gradient_descent",
    "f_power_iteration",
    "f_leapfrog_pendulum",
    "f_newton_cube_root",
    "f_euler_ode",
    "f_clamp_in_loop",
    "f_fixed_point_cos",
    "f_while_float_time_euler",
    "f_augmented_in_loop",
    "f_while_fixed_point_tolerance",
    "f_trapezoid",
    "f_simpson",
    "f_continued_fraction_tan",
    "f_call_ode_steps",
    "f_babylonian_sqrt",
    "f_continue_inner",
}
SYMPY_FAST = [f for f, _ in SYMPY_CASES if f.__name__ not in SYMPY_COSTLY][::96]
SYMPY_FAST += [seeds.f]


@pytest.mark.parametrize(
    "f, dom", SYMPY_CASES + SAMPLES, ids=[f.__name__ for f, _ in SYMPY_CASES + SAMPLES]
)
@pytest.mark.fast_sample(keep=lambda f, dom: f in SYMPY_FAST)
def test_hessian_and_grad_of_grad_match_sympy(f, dom):
    x = _point(f, dom)
    n = len(x)
    expected = _sympy_or_skip(f, x)
    H = np.array(hessian(f, argnums=tuple(range(n)))(*x))
    np.testing.assert_allclose(H, expected, rtol=1e-8, atol=1e-8)
    # the closure: the gradient's own IR differentiated again (row 0 of H),
    # through the emitted adjoint of a recursive function too
    first = grad(grad(f, argnums=0), argnums=tuple(range(n)))(*x)
    np.testing.assert_allclose(np.array(first), expected[0], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(
    "f, dom", TUPLE_CASES, ids=[f.__name__ for f, _ in TUPLE_CASES]
)
@pytest.mark.fast_sample(every=2)  # the corpus's tuple-valued functions
def test_forward_and_reverse_jacobians_agree(f, dom):
    x = _point(f, dom)
    every = tuple(range(len(x)))
    forward = np.array(jacfwd(f, argnums=every)(*x))
    reverse = np.array(jacrev(f, argnums=every)(*x))
    np.testing.assert_allclose(forward, reverse, rtol=1e-9, atol=1e-9)
    m = len(f(*x))
    assert forward.shape == (m, len(x))
    chosen = jacobian(f, argnums=every)
    assert chosen.mode == ("forward" if len(x) <= m else "reverse")
    np.testing.assert_allclose(np.array(chosen(*x)), forward, rtol=1e-12)


def wide(x):
    """ℝ¹ → ℝ⁴: forward mode is one pass with one direction."""
    return math.sin(x), x * x, math.exp(x), x**3


def tall(a, b, c, d):
    """ℝ⁴ → ℝ²: reverse mode is one pass with two seeds."""
    return a * b + c, math.sin(d) * a


def test_jacobian_picks_the_mode_the_shape_asks_for():
    assert jacobian(wide).mode == "forward"
    assert jacobian(tall, argnums=(0, 1, 2, 3)).mode == "reverse"
    J = jacobian(tall, argnums=(0, 1, 2, 3))(1.0, 2.0, 3.0, 0.5)
    assert J == ((2.0, 1.0, 1.0, 0.0), (math.sin(0.5), 0.0, 0.0, math.cos(0.5)))
    assert jacobian(wide)(0.5) == pytest.approx(
        (math.cos(0.5), 1.0, math.exp(0.5), 0.75)
    )


def cubic_sine(x):
    return x**3 * math.sin(x)


def rational(x):
    return (1 + x * x) / (2 + math.exp(x))


@pytest.mark.parametrize("f", [cubic_sine, rational, seeds.sigmoid_log2])
def test_third_derivatives_match_sympy(f):
    x = sympy.Symbol(trace(f).params[0].name, real=True)
    (expr,) = to_sympy(trace(f))
    third = float(sympy.diff(expr, x, 3).subs(x, 0.7).evalf(30))
    assert grad(grad(grad(f)))(0.7) == pytest.approx(third, rel=1e-10)


def test_hvp_is_h_times_v_without_forming_h():
    f = seeds.gaussian
    x, v = (0.5, 0.1, 1.1), (0.3, -0.2, 0.7)
    every = (0, 1, 2)
    H = np.array(hessian(f, argnums=every)(*x))
    Hv = hvp(f, argnums=every)(*x, *v)
    np.testing.assert_allclose(Hv, H @ np.array(v), rtol=1e-12)
    source = hvp(f, argnums=every).source
    assert "def gaussian_hvp(x, mu, sigma, x_dot, mu_dot, sigma_dot):" in source
    assert "import ad_compiler" not in source


def test_forward_over_reverse_through_a_loop_reads_the_tape_tangents():
    source = hvp(control_flow.logistic).source
    assert "tape.append((l_2_dot, l_2_dot_dot))" in source
    assert "for dl_1, dl_1_dot in reversed(tape):" in source
    # d²/dl² of 4 iterations of the logistic map, by differences of the gradient
    g = grad(control_flow.logistic)
    fd = (g(0.3 + 1e-6, 4) - g(0.3 - 1e-6, 4)) / 2e-6
    assert hessian(control_flow.logistic)(0.3, 4) == pytest.approx(fd, rel=1e-6)


ROOT = Path(__file__).resolve().parents[1]


def _adc_module(*args):
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ad_compiler" not in "".join(
        line for line in proc.stdout.splitlines() if line.startswith(("import", "from"))
    )
    namespace = {}
    exec(proc.stdout, namespace)
    return namespace, proc.stdout


@pytest.mark.slow  # four `adc compile` runs; test_api_edges keeps one fast
def test_cli_hessian_jacobian_and_hvp_modes():
    ns, text = _adc_module(
        "samples/seeds.py", "--function", "gaussian", "--mode", "hessian"
    )
    every = (0, 1, 2)
    x = (0.5, 0.1, 1.1)
    np.testing.assert_allclose(
        ns["gaussian_hessian"](*x),
        hessian(seeds.gaussian, argnums=every)(*x),
        rtol=1e-12,
    )
    ns, _ = _adc_module("samples/seeds.py", "--function", "gaussian", "--mode", "hvp")
    v = (0.3, -0.2, 0.7)
    np.testing.assert_allclose(
        ns["gaussian_hvp"](*x, *v),
        hvp(seeds.gaussian, argnums=every)(*x, *v),
        rtol=1e-12,
    )
    ns, text = _adc_module(
        "samples/seeds.py", "--function", "bishop_two_outputs", "--mode", "jacobian"
    )
    assert "forward\n    mode, chosen for 2 input(s) and 2 output(s)" in text
    np.testing.assert_allclose(
        ns["bishop_two_outputs_jacobian"](2.0, 5.0),
        jacfwd(seeds.bishop_two_outputs, argnums=(0, 1))(2.0, 5.0),
        rtol=1e-12,
    )
    ns, _ = _adc_module(
        "samples/control_flow.py",
        "--function",
        "logistic",
        "--mode",
        "hessian",
        "--wrt",
        "l",
    )
    assert ns["logistic_hessian"](0.3, 4)[0][0] == pytest.approx(
        hessian(control_flow.logistic)(0.3, 4), rel=1e-12
    )


def line_residuals(a, b):
    """Residuals of the line a·t + b through three points: linear in (a, b)."""
    return a * 0.0 + b - 1.0, a * 1.0 + b - 2.9, a * 2.0 + b - 5.2


def energy(a, b):
    r1, r2, r3 = line_residuals(a, b)
    return 0.5 * (r1 * r1 + r2 * r2 + r3 * r3)


def curve_residuals(a, b):
    return math.exp(a * 0.5) - b, a * a - 2.0 * b + 1.0


def curve_energy(a, b):
    r1, r2 = curve_residuals(a, b)
    return 0.5 * (r1 * r1 + r2 * r2)


def test_gauss_newton_is_the_hessian_for_linear_residuals():
    from ad_compiler import gauss_newton

    G = np.array(gauss_newton(line_residuals, argnums=(0, 1))(0.3, -0.2))
    H = np.array(hessian(energy, argnums=(0, 1))(0.3, -0.2))
    np.testing.assert_allclose(G, H, rtol=1e-12)
    np.testing.assert_allclose(G, [[5.0, 3.0], [3.0, 3.0]], rtol=1e-12)  # JᵀJ by hand


def test_gauss_newton_drops_the_residual_curvature_term():
    """H = JᵀJ + Σ rₙ ∇²rₙ: the difference is exactly the second term."""
    from ad_compiler import gauss_newton

    a, b = 0.4, 0.7
    G = np.array(gauss_newton(curve_residuals, argnums=(0, 1))(a, b))
    H = np.array(hessian(curve_energy, argnums=(0, 1))(a, b))
    r1, r2 = curve_residuals(a, b)
    curvature = r1 * np.array([[0.25 * math.exp(0.5 * a), 0], [0, 0]]) + r2 * np.array(
        [[2.0, 0], [0, 0]]
    )
    np.testing.assert_allclose(H - G, curvature, rtol=1e-10, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(G) >= -1e-12)


def test_closure_combinations():
    """jvp and vjp of a gradient, value_and_grad of one, all from its IR."""
    from ad_compiler import jvp, value_and_grad, vjp

    g = grad(seeds.f, argnums=0)  # ∂f/∂x1 = 1/x1 + x2
    assert jvp(g, (2.0, 5.0), (1.0, 0.0)) == (5.5, -0.25)
    assert vjp(g, 2.0, 5.0)[1](1.0) == (-0.25, 1.0)
    assert value_and_grad(g)(2.0, 5.0) == (5.5, -0.25)


def test_nested_vector_mode_to_the_third_and_fourth_order_through_a_loop():
    """grad of a gradient through a loop is forward mode over the taped code
    (a Derived); its derivatives are forward mode again (nested vector mode)."""
    logistic = control_flow.logistic
    h = hessian(logistic)  # d²/dl² at a fixed trip count
    third = grad(grad(grad(logistic)))(0.3, 4)
    fd = (h(0.3 + 1e-5, 4) - h(0.3 - 1e-5, 4)) / 2e-5
    assert third == pytest.approx(fd, rel=1e-6)
    assert grad(h)(0.3, 4) == pytest.approx(third, rel=1e-12)
    fourth = hessian(h)(0.3, 4)
    fd = (grad(h)(0.3 + 1e-5, 4) - grad(h)(0.3 - 1e-5, 4)) / 2e-5
    assert fourth == pytest.approx(fd, rel=1e-6)


def _may_call_a_python_function(f):
    """Whether ``f``'s code (its nested code included) names a global or a
    closure cell bound to a Python function: a function that names none cannot
    call one, so its trace has no callees.  This spares tracing the whole corpus
    at collection (about 2 s) to find the few that keep a call."""
    codes, names = [f.__code__], set()
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if hasattr(c, "co_names"))
    bound = [f.__globals__.get(n) for n in names]
    bound += [cell.cell_contents for cell in f.__closure__ or ()]
    return any(inspect.isfunction(g) for g in bound)


# Exactly the cases whose trace keeps a call (recursion): the filter above only
# decides which functions are worth tracing.
RECURSIVE = [
    (f, dom)
    for f, dom in SCALAR_CASES
    if _may_call_a_python_function(f) and trace(f).callees
]


@pytest.mark.parametrize("f, dom", RECURSIVE, ids=[f.__name__ for f, _ in RECURSIVE])
@pytest.mark.fast_sample(every=7)
def test_third_derivatives_of_recursive_functions_through_their_adjoints(f, dom):
    """grad of grad of grad calls p_adjoint_adjoint_adjoint ...: the functions a
    derivative calls go with its IR, and are differentiated with it."""
    x = _point(f, dom)
    third = grad(grad(grad(f)))(*x)
    h = 1e-5
    up, down = list(x), list(x)
    up[0] += h
    down[0] -= h
    fd = (hessian(f)(*up) - hessian(f)(*down)) / (2 * h)
    assert third == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_the_third_derivative_tensor_of_two_variables_matches_sympy():
    f = seeds.f  # ln x1 + x1 x2 - sin x2
    x1, x2 = sympy.symbols("x1 x2", real=True)
    (expr,) = to_sympy(trace(f))
    T = jacfwd(hessian(f, argnums=(0, 1)), argnums=(0, 1))(2.0, 5.0)
    for i, a in enumerate((x1, x2)):
        for j, b in enumerate((x1, x2)):
            for k, c in enumerate((x1, x2)):
                want = float(sympy.diff(expr, a, b, c).subs({x1: 2.0, x2: 5.0}))
                assert T[i][j][k] == pytest.approx(want, rel=1e-12, abs=1e-12)
