"""Nested `def` and `lambda`, functions as values, closures over the enclosing
function's locals (issue 16, item 2).

Every program is differentiated unchanged, in reverse (grad) and forward (jvp)
mode, and compared with central differences; second order (hessian) where the
program is smooth; the CLI compiles the same kinds of program from a file.
What stays refused is checked for its wording and its place in this file.
"""

from __future__ import annotations

import inspect
import math
import runpy
import subprocess
import sys

import numpy as np
import pytest

from ad_compiler import CompileError, check, grad, hessian, jvp

H = 1e-6


def slope(f, args, tangents, h=H):
    """The derivative of ``f`` at ``args`` along ``tangents`` (numbers or
    arrays, one per argument), by central differences."""
    up = [a + h * t for a, t in zip(args, tangents)]
    down = [a - h * t for a, t in zip(args, tangents)]
    return (f(*up) - f(*down)) / (2 * h)


def central(f, args, i, h=H):
    """∂f/∂args[i] for scalar arguments."""
    return slope(f, args, [float(j == i) for j in range(len(args))], h)


def assert_both_modes(f, args, rel=1e-6):
    """grad and jvp of ``f`` (scalar arguments) against central differences."""
    n = len(args)
    expected = [central(f, args, i) for i in range(n)]
    g = grad(f, argnums=tuple(range(n)))(*args)
    assert g == pytest.approx(expected, rel=rel, abs=1e-8)
    for i in range(n):
        direction = tuple(float(i == j) for j in range(n))
        value, tangent = jvp(f, tuple(args), direction)
        assert value == pytest.approx(f(*args), rel=1e-12)
        assert tangent == pytest.approx(expected[i], rel=rel, abs=1e-8)


# --- the programs -----------------------------------------------------------------------


def apply(f, x):
    """A module-level helper given a function."""
    return f(x) + f(2.0 * x)


def twice(f, x):
    return f(f(x))


def make_scaled_tanh(k):
    """A builder: the function it returns closes over its parameter."""

    def act(t):
        return math.tanh(k * t)

    return act


def make_poly(a, b):
    c = a * b  # a local of the builder, read by the returned lambda

    return lambda t: a * t * t + c * t


def helpers_in_a_loop(x, y):
    def step(t, s=0.5):
        """A helper with a default, a docstring, an early return and a loop."""
        if t > 2.0:
            return t * s
        u = t
        for _ in range(2):
            u = u * y + math.sin(u)
        return u

    total = 0.0
    for i in range(3):
        total = total + step(x + i * 0.1) * (i + 1)
    return total


def lambda_passed_to_a_helper(x, y):
    sq = lambda z: z * z * y  # noqa: E731 - the idiom under test
    return apply(sq, x) + apply(lambda z: math.exp(z * y), x) + twice(math.sin, y)


def returned_and_called(x, y):
    act = make_scaled_tanh(1.5)
    poly = make_poly(y, 2.0)
    return act(x * y) + poly(x) + make_scaled_tanh(y)(x)


def functions_in_a_tuple(x, y):
    relu_ish = lambda t: math.log(1.0 + math.exp(t))  # noqa: E731
    acts = (math.tanh, relu_ish, make_scaled_tanh(0.5))
    return acts[0](x) * acts[1](y) + acts[2](x) + (math.sin, math.cos)[1](x * y)


def reads_the_current_binding(x, y):
    a = x
    h = lambda t: t * a  # noqa: E731
    first = h(y)  # a is x here
    a = x * x
    return first + h(y)  # and x * x here, as a closure cell


def default_captures_at_the_def(x, y):
    total = 0.0
    fs = ()
    for k in (1.0, 2.0, 3.0):
        g = lambda t, k=k: t * k  # noqa: E731 - k bound when the lambda is made
        total = total + g(x)
    a = y
    h = lambda t, a=a: t * a  # noqa: E731
    a = 100.0
    return total + h(x) + len(fs)


def closes_over_the_loop_variable(x, y):
    total = 0.0
    for i in range(4):

        def term(t):
            return t**i + y * i

        total = total + term(x)
    return total


def nested_twice(x, y):
    def outer(t):
        def inner(s):
            return s * t * y  # t from outer, y from the function

        return inner(t) + inner(1.0)

    return outer(x) + outer(y)


USE_TANH = 1  # a module-level flag: a branch on it is decided now


def make_chosen():
    def smooth(t):
        return math.tanh(t)

    if USE_TANH:
        return smooth
    return lambda t: t * t


def chosen_by_a_constant(x, y):
    act = make_chosen()
    if USE_TANH:
        g = math.sin
    else:
        g = math.cos
    return act(x) * y + g(y)


def closure_over_a_carried_value(x, y):
    s = x
    g = lambda t: t * s + y  # noqa: E731 - s is the loop's current value
    for _ in range(3):
        s = g(x) * 0.5 + s
    return s


softplus = lambda t: math.log(1.0 + math.exp(t))  # noqa: E731 - a module-level lambda
scaled = lambda t, k=2.0: k * t  # noqa: E731


def calls_module_level_lambdas(x, y):
    return softplus(x * y) + scaled(x) + apply(softplus, y) + scaled(y, k=x)


def uses_a_module_helper_as_a_value(x, y):
    f = make_scaled_tanh
    g = f(2.0)
    act = math.sin
    return act(x) + g(y) + apply(math.exp, x * 0.1)


CASES = [
    helpers_in_a_loop,
    lambda_passed_to_a_helper,
    returned_and_called,
    functions_in_a_tuple,
    reads_the_current_binding,
    default_captures_at_the_def,
    closes_over_the_loop_variable,
    nested_twice,
    uses_a_module_helper_as_a_value,
    calls_module_level_lambdas,
    closure_over_a_carried_value,
    chosen_by_a_constant,
]


@pytest.mark.fast_sample(every=6)
@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_both_modes_match_central_differences(f):
    assert_both_modes(f, [0.7, 1.3])
    assert_both_modes(f, [2.4, 0.6])  # the early return of helpers_in_a_loop


def test_closures_see_the_binding_at_the_call():
    # h(y) with a = x, then with a = x * x: d/dx = y + 2 x y
    x, y = 0.7, 1.3
    assert reads_the_current_binding(x, y) == pytest.approx(x * y + x * x * y)
    assert grad(reads_the_current_binding)(x, y) == pytest.approx(y + 2 * x * y)
    # defaults are evaluated at the def: 1 + 2 + 3, then a = y (not 100)
    assert grad(default_captures_at_the_def)(x, y) == pytest.approx(6.0 + y)


@pytest.mark.parametrize(
    "f",
    [returned_and_called, nested_twice, helpers_in_a_loop],
    ids=lambda f: f.__name__,
)
def test_second_order_matches_differences_of_the_gradient(f):
    x, y = 0.7, 1.3
    hess = np.array(hessian(f, argnums=(0, 1))(x, y))
    g = grad(f, argnums=(0, 1))
    for i in range(2):
        column = [central(lambda *a: g(*a)[j], (x, y), i, 1e-5) for j in range(2)]
        assert hess[:, i] == pytest.approx(column, rel=1e-5, abs=1e-7)


def test_the_emitted_code_has_no_trace_of_the_functions():
    # inlined: the gradient is straight-line arithmetic on the parameters
    source = grad(lambda_passed_to_a_helper).source
    code = [line for line in source.splitlines() if not line.strip().startswith("#")]
    assert "lambda" not in "\n".join(code).split('"""')[-1]
    assert sum(line.startswith("def ") for line in code) == 1


@pytest.mark.slow  # SymPy: about a second
def test_sympy_proves_a_nested_scalar_case():
    report = check(returned_and_called)
    assert report.ok, report.text()


# --- arrays --------------------------------------------------------------------------


def mlp(x, W1, W2):
    def layer(W, h, act=np.tanh):
        return act(W @ h)

    softplus = lambda z: np.log(1.0 + np.exp(z))  # noqa: E731
    h = layer(W1, x)
    return np.sum(layer(W2, h, softplus))


def construct_l(d):
    """A builder of a lower-triangular matrix from a vector (a GMM idiom)."""

    def L(v):
        out = np.zeros((d, d))
        k = 0
        for i in range(d):
            for j in range(i + 1):
                out[i, j] = v[k]
                k = k + 1
        return out

    return L


def quad_form(v, x):
    L = construct_l(2)
    M = L(v)
    return np.sum((M @ x) ** 2)


@pytest.mark.parametrize("f", [mlp, quad_form], ids=lambda f: f.__name__)
def test_array_programs_match_central_differences(f):
    rng = np.random.default_rng(3)
    shapes = {"mlp": [(3,), (4, 3), (2, 4)], "quad_form": [(3,), (2,)]}[f.__name__]
    args = [rng.normal(size=s) for s in shapes]
    n = len(args)
    grads = grad(f, argnums=tuple(range(n)))(*args)
    for i, (a, g) in enumerate(zip(args, grads)):
        expected = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            tangents = [np.zeros_like(b) for b in args]
            tangents[i][idx] = 1.0
            expected[idx] = slope(f, args, tangents)
        assert g == pytest.approx(expected, rel=1e-5, abs=1e-8)
        tangents = [np.ones_like(b) if j == i else 0 * b for j, b in enumerate(args)]
        _, t = jvp(f, tuple(args), tuple(tangents))
        assert t == pytest.approx(expected.sum(), rel=1e-5, abs=1e-8)


def lstm_loss(Wx, Wh, b, X):
    """An LSTM over the rows of X with nested helpers returning a tuple."""
    n = 3

    def sigmoid(z):
        return 0.5 * (np.tanh(0.5 * z) + 1.0)

    def cell(h, c, x):
        gates = Wx @ x + Wh @ h + b
        i = sigmoid(gates[0:n])
        f = sigmoid(gates[n : 2 * n])
        o = sigmoid(gates[2 * n : 3 * n])
        c = f * c + i * np.tanh(gates[3 * n : 4 * n])
        return o * np.tanh(c), c

    h = np.zeros(n)
    c = np.zeros(n)
    for x in X:
        h, c = cell(h, c, x)
    return np.sum(h * h)


def test_an_lstm_with_nested_cells_in_both_modes():
    rng = np.random.default_rng(0)
    args = [rng.normal(size=s) for s in [(12, 2), (12, 3), (12,), (4, 2)]]
    grads = grad(lstm_loss, argnums=(0, 1, 2))(*args)
    for i in range(3):
        a = args[i]
        direction = rng.normal(size=a.shape)
        tangents = [np.zeros_like(b) for b in args]
        tangents[i] = direction
        expected = slope(lstm_loss, args, tangents)
        assert np.sum(grads[i] * direction) == pytest.approx(expected, rel=1e-5)
        _, t = jvp(lstm_loss, tuple(args), tuple(tangents))
        assert t == pytest.approx(expected, rel=1e-5)


def reads_before_the_write(x):
    X = np.zeros(3)
    total = lambda: np.sum(X * x)  # noqa: E731 - a new array, not a view of X
    s = total()
    X[0] = 1.0
    return s + np.sum(X * x)


def test_a_new_array_from_a_nested_function_is_not_an_alias():
    x = np.array([0.5, 2.0, -1.0])
    assert grad(reads_before_the_write)(x) == pytest.approx([1.0, 0.0, 0.0])


# --- closures made by the caller (the API) ------------------------------------------------


def make_loss(scale):
    def helper(t):
        return math.sin(t) * scale

    def loss(x):
        square = lambda t: t * t  # noqa: E731
        return helper(x) * square(x)

    return loss


def test_a_module_level_helper_reached_through_a_closure():
    loss = make_loss(3.0)
    assert grad(loss)(0.8) == pytest.approx(central(loss, (0.8,), 0), rel=1e-6)


# --- the CLI -------------------------------------------------------------------------------

CLI_SOURCE = """\
import math

import numpy as np


def apply(f, x):
    return f(x) + 1.0


cube = lambda t: t * t * t


def make_act(k):
    def act(t):
        return math.tanh(k * t)

    return act


def scalar(x, y):
    sq = lambda z: z * z * y

    def g(t, s=2.0):
        if t > 1.0:
            return t * s
        return t * y

    total = 0.0
    for i in range(3):
        total = total + g(x + i)
    pick = (math.sin, math.cos)[0]
    return apply(sq, x) + make_act(0.5)(y) + total + pick(x) + cube(y)


def net(v, W):
    def layer(h):
        return np.tanh(W @ h)

    return np.sum(layer(layer(v)))
"""


@pytest.mark.slow  # a subprocess
def test_adc_compile_emits_the_same_derivatives(tmp_path):
    src, out = tmp_path / "prog.py", tmp_path / "out.py"
    src.write_text(CLI_SOURCE)
    # apply and make_act are helpers, not functions to differentiate
    cmd = [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(src)]
    cmd += ["--function", "scalar", "--function", "net"]
    cmd += ["--shape", "W=3,3", "v=3", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (
        subprocess.run([sys.executable, "-m", "black", "--check", str(out)]).returncode
        == 0
    )
    emitted = runpy.run_path(str(out))  # self-contained: needs only math and numpy
    ns = runpy.run_path(str(src))
    for x, y in [(0.3, 1.2), (0.8, -0.4)]:
        expected = [central(ns["scalar"], (x, y), i) for i in (0, 1)]
        assert emitted["scalar_grad"](x, y) == pytest.approx(expected, rel=1e-6)
    rng = np.random.default_rng(0)
    x, W = rng.normal(size=3), rng.normal(size=(3, 3))
    gx = np.array(
        [central(lambda *a: ns["net"](np.array(a), W), list(x), i) for i in range(3)]
    )
    assert emitted["net_grad"](x, W)[0] == pytest.approx(gx, rel=1e-6)


@pytest.mark.slow  # a subprocess
def test_adc_compile_locates_an_error_inside_a_nested_function(tmp_path):
    src = tmp_path / "bad.py"
    src.write_text(
        "import math\n\n\ndef f(x):\n    def g(t):\n        return math.gamma(t)\n\n"
        "    return g(x)\n"
    )
    cmd = [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"{src}:6:16: error: `math.gamma` is not supported")


# --- what stays refused ------------------------------------------------------------------------


def assigns_nonlocal(x):
    calls = 0.0

    def bump(y):
        nonlocal calls
        calls += 1.0
        return y * x

    return bump(x) + calls


def recursive_nested(x):
    def fact(t, n):
        if n <= 1:
            return t
        return t * fact(t, n - 1)

    return fact(x, 3)


def chosen_at_run_time(x):
    if x > 0:
        f = math.sin
    else:
        f = math.cos
    return f(x)


def made_in_a_constant_branch(x):
    if USE_TANH:
        act = make_scaled_tanh(x * 2.0)  # k is computed inside the branch
    else:
        act = math.sin
    return act(x)


def returns_a_function(x):
    return make_scaled_tanh(x)


def writes_into_the_enclosing_array(x):
    out = np.zeros(3)

    def fill(v):
        out[0] = v
        return v

    return fill(x) + np.sum(out)


def read_before_assignment(x):
    g = lambda t: t * late  # noqa: E731
    first = g(x)
    late = 2.0
    return first + late


def loop_over_functions(x):
    total = 0.0
    for f in (math.sin, math.cos):
        total = total + f(x)
    return total


def error_inside_a_nested_function(x):
    def helper(t):
        return math.gamma(t)

    return helper(x)


def view_through_a_lambda(x):
    X = np.ones(3) * x
    get = lambda: X[1:]  # noqa: E731 - a view of X, which is then written
    b = get()
    X[1] = 5.0
    return np.sum(b) * x


def call_first(f):
    return f()


def view_through_a_helper(x):
    X = np.ones(3) * x
    b = call_first(lambda: X)  # X itself, which is then written
    X[0] = 5.0
    return np.sum(b) * x


def length_of_a_function(x):
    g = lambda t: t  # noqa: E731
    return len(g) * x


def misuses_a_function(x):
    g = math.sin
    s = 0.0
    for r in g:
        s = s + r * x
    return s + g[0]


def star_lambda(x):
    g = lambda *t: t[0]  # noqa: E731
    return g(x)


def calls_a_number(x):
    y = x * 2.0
    return y(x)


def _where(f, snippet):
    """(line, column) of ``snippet`` in ``f``'s source in this file (the first
    occurrence after the ``def`` line)."""
    lines, start = inspect.getsourcelines(f)
    for k, line in enumerate(lines[1:], 1):
        if snippet in line:
            return start + k, line.index(snippet) + 1
    raise AssertionError(snippet)


REFUSED = {
    assigns_nonlocal: (
        "nonlocal calls",
        "`nonlocal calls`: a nested function assigning to a name outside it is "
        "not supported",
        "return the new value and assign it where `calls` lives: calls = bump(...)",
    ),
    recursive_nested: (
        "fact(t, n - 1)",
        "the nested function `fact` calls itself; not supported",
        "define it at module level",
    ),
    chosen_at_run_time: (
        "if x > 0:",
        "`f` is a different function on each path, chosen when the function runs",
        "call the functions in the branches",
    ),
    made_in_a_constant_branch: (
        "if USE_TANH:",
        "`act` is made in this `if` from values computed in the branch taken",
        "make the function before the `if`",
    ),
    returns_a_function: (
        "make_scaled_tanh(x)",
        "function `act` used as a value",
        "return what it computes",
    ),
    writes_into_the_enclosing_array: (
        "out[0]",
        "a nested function writing into `out` of the enclosing function is not "
        "supported",
        "pass `out` in as a parameter and return the new array",
    ),
    read_before_assignment: (
        "late",
        "`late` is read by a nested function before the enclosing function assigns it",
        "assign `late` before the call",
    ),
    error_inside_a_nested_function: (
        "math.gamma",
        "`math.gamma` is not supported: ad_compiler has no derivative rule for it",
        "custom_derivative",
    ),
    view_through_a_lambda: (
        "b = get()",
        "`b` may share its array with `X`, and `X` is written into (line "
        f"{_where(view_through_a_lambda, 'X[1] = 5.0')[0]}) before `b` is read (line "
        f"{_where(view_through_a_lambda, 'return np.sum(b)')[0]}): Python would change both",
        "make a copy: b = get().copy()",
    ),
    view_through_a_helper: (
        "b = call_first(lambda: X)",
        "`b` may share its array with `X`, and `X` is written into (line "
        f"{_where(view_through_a_helper, 'X[0] = 5.0')[0]}) before `b` is read (line "
        f"{_where(view_through_a_helper, 'return np.sum(b)')[0]}): Python would change both",
        "make a copy",
    ),
    length_of_a_function: ("g)", "function `g` used as a value", "call it"),
    misuses_a_function: ("g:", "function `g` used as a value", "call it"),
    star_lambda: (
        "t: t[0]",
        "star-parameters are not supported",
        "list the parameters",
    ),
    calls_a_number: ("y(x)", "`y` is called but is not a function", "call a function"),
}


@pytest.mark.fast_sample(every=3)
@pytest.mark.parametrize("f", list(REFUSED), ids=lambda f: f.__name__)
def test_refusals_name_the_construct_and_the_alternative(f):
    snippet, message, hint = REFUSED[f]
    with pytest.raises(CompileError) as info:
        grad(f)(0.5)
    err = info.value
    assert err.message == message
    assert hint in (err.hint or "")
    assert (err.loc.file, (err.loc.line, err.loc.col)) == (__file__, _where(f, snippet))


def test_a_loop_over_functions_is_unrolled():
    """Each iteration calls its own function (the loop is written out)."""
    d = grad(loop_over_functions)
    assert d(0.3) == pytest.approx(math.cos(0.3) - math.sin(0.3))
    assert "for " not in d.source
