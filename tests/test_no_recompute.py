"""No emitted derivative computes primal work only to learn a shape.

``opt/shape_sources.py`` rewrites every input that gives only a shape
(``_like``, ``_sum_to``, ``_unindex``, ``np.size``, ``np.shape`` ...) to a
parameter, an ``np.broadcast`` of parameters or a value computed anyway, so
that dead code elimination drops what was kept only for its shape.  These tests
read the emitted SOURCE of the derivatives of every sample, port and benchmark
function (``tests/shape_waste.py``), check that the checker does catch what the
compiler emitted before the pass, and check the loop case that matters most: an
array written row by row in a loop is no longer taped once per iteration for
the reverse sweep to learn its shape.
"""

import ast
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from shape_waste import waste
from test_ports import PORTS, load

from ad_compiler import grad, hessian, jacfwd, jacrev
from ad_compiler.callables import compile_derivative
from ad_compiler.ir.nodes import Eqn, Function, Var
from ad_compiler.opt.shape_sources import shape_sources

ROOT = Path(__file__).resolve().parent.parent

# --- the checker fails on what was emitted before the pass ------------------------

# `adc compile` of the fill loop before the pass (abridged): y_1 * y_1
# computed again for its shape, and a copy of y per iteration kept on the tape
# and copied again in the reverse sweep, only for `_like` to read its shape
OLD_FILL = """
def fill_grad(x, w):
    v1 = x.shape
    n = v1[0]
    y = np.zeros(v1)
    tape = []
    y_1 = y
    for i in range(n):
        tape.append((i, y_1))
        y_1 = _assign(y_1, np.s_[i], np.tanh(x[i] * w))
    y_1_bar = _sum_to(_like(y_1 * 2.0, y_1 * y_1), y_1)
    w_bar = np.zeros(w.shape)
    x_bar = np.zeros(np.shape(x))
    for i_1, y_3 in reversed(tape):
        v12 = x[i_1]
        v13 = v12 * w
        v14 = np.tanh(v13)
        y_4 = _assign(y_3, np.s_[i_1], v14)
        v21 = _like(y_1_bar, y_4)
        y_1_bar = _assign(v21, np.s_[i_1], 0.0)
        x_bar = x_bar + _unindex(x, np.s_[i_1], _like(v12 * v13, v12))
    return x_bar, w_bar
"""

# the gradient of np.mean(expr) before the pass: the whole expression again
OLD_MEAN = """
def nll_grad(p, y):
    v1 = np.log(p)
    v2 = y * v1
    v3 = 1 - y
    v4 = 1 - p
    v5 = np.log(v4)
    v6 = v3 * v5
    v7 = v2 + v6
    v11 = _like(-1.0 / np.size(v7), v7)
    y_bar = _sum_to(_like(v1 * v11, v2), y) - _sum_to(_like(v5 * v11, v6), v3)
    p_bar = _sum_to(_like(-_sum_to(v3 * v11, v5) / v4, v4), p)
    return p_bar, y_bar
"""


def test_the_checker_finds_the_shape_work_the_old_code_did():
    found = waste(OLD_FILL)
    assert "fill_grad: a shape from `y_1 * y_1`" in found
    assert any("`y_4 = _assign(y_3, np.s_[i_1], v14)`" in f for f in found)
    # after the lead's reverse loop reads values from the tape instead of
    # recomputing them, the same shape read is a tape column: y_3 here
    taped = OLD_FILL.replace("        y_4 = _assign(y_3, np.s_[i_1], v14)\n", "")
    taped = taped.replace("_like(y_1_bar, y_4)", "_like(y_1_bar, y_3)")
    found_taped = waste(taped)
    assert "fill_grad: tape column `y_3` is read only for its shape" in found_taped
    found = waste(OLD_MEAN)
    # v7 = v2 + v6 and the products v2, v6 are there only for np.size and _like
    assert {f.split("`")[1].split(" =")[0] for f in found} == {"v2", "v6", "v7"}


def test_the_checker_lets_shapes_read_from_names_and_views_pass():
    ok = """
def f_grad(x, p, y, k):
    shape = np.broadcast(p, y)
    n = x.shape[0]
    g = _like(-1.0 / np.size(shape), shape)
    h = _unindex(np.broadcast_to(x, (k,) + np.shape(x)), np.s_[:, 0], g)
    return _sum_to(g, y) + h[n - 1], np.zeros(np.shape(x))
"""
    assert waste(ok) == []


# --- the loop case: an array written row by row is not taped for its shape ---------

FILL = '''
import numpy as np


def fill(x, w):
    n = x.shape[0]
    y = np.zeros(x.shape)
    for i in range(n):
        y[i] = np.tanh(x[i] * w)
    return np.sum(y * y)


def fill_sized(x, w, m):
    """y's shape is no parameter's: the reverse sweep reads the loop's result."""
    y = np.zeros((x.shape[0], m))
    for i in range(x.shape[0]):
        y[i] = np.tanh(x[i] * w)
    return np.sum(y * y)


def mean_of(a, b):
    return np.mean(a * np.log(b) + (1.0 - a) * np.log(b))
'''


@pytest.fixture(scope="module")
def fills(tmp_path_factory):
    path = tmp_path_factory.mktemp("fill") / "fill_loops.py"
    path.write_text(FILL)
    spec = importlib.util.spec_from_file_location("fill_loops", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fill_gradient(x, w):
    t = np.tanh(x * w)
    g = 2.0 * t * (1.0 - t * t)
    return g * w, np.sum(g * x, axis=0)


def test_a_row_written_in_a_loop_is_not_taped_for_its_shape(fills):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((6, 4)), rng.standard_normal(4)
    g = grad(fills.fill, argnums=(0, 1))
    got = g(x, w)
    source = g.source
    assert waste(source) == []
    # the forward loop keeps no version of y: its tape holds the rows of tanh
    # the reverse loop reads (a storing loop), and y is written in place
    assert re.search(r"tape\.append\(\(i, v\d+\)\)", source), source
    assert "_assign(y_1," not in source and "_assign(y," not in source
    for a, b in zip(got, _fill_gradient(x, w)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_loop_carried_shape_is_read_outside_the_loop(fills):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((5, 3)), rng.standard_normal(3)
    g = grad(fills.fill_sized, argnums=(0, 1))
    got = g(x, w, 3)
    source = g.source
    assert waste(source) == [], source
    # y_1's versions: none kept (the tape holds tanh's rows: a storing loop)
    assert re.search(r"tape\.append\(\(i, v\d+\)\)", source), source
    for a, b in zip(got, _fill_gradient(x, w)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_broadcast_shape_comes_from_the_parameters_alone(fills):
    """One compiled derivative serves (4, 3) with (3,), (3, 3) with (3, 1) ...:
    the size comes from np.broadcast(a, b) at run time, never from a shape
    guessed at compile time.  mean(a log b + (1 - a) log b) = mean(log b)
    broadcast: d/da = 0, d/db = 1 / (b * b.size)."""
    g = grad(fills.mean_of, argnums=(0, 1))
    rng = np.random.default_rng(2)
    for a_shape, b_shape in [((4, 3), (3,)), ((3, 3), (3, 1)), ((2, 1), (1, 5))]:
        a = rng.uniform(0.1, 0.9, a_shape)
        b = rng.uniform(0.5, 2.0, b_shape)
        ga, gb = g(a, b)
        np.testing.assert_array_equal(ga, np.zeros(a_shape))
        np.testing.assert_allclose(gb, 1.0 / (b * b.size), rtol=1e-12)
        source = g.specialize(a, b).source
        assert "np.broadcast(a, b)" in source and waste(source) == []


# --- the pass itself ----------------------------------------------------------------


def test_scalar_code_is_returned_as_it_is():
    x, y, v = Var("x"), Var("y"), Var("v")
    fn = Function("f", (x, y), (Eqn("mul", (v,), (x, y)),), (v,))
    assert shape_sources(fn) is fn


GROW = """
import numpy as np


def grow(x):
    a = x
    for i in range(3):
        a = np.concatenate([a, x])
    return np.mean(a * 2.0)
"""


def test_a_carried_value_that_changes_shape_gets_no_source(tmp_path):
    """np.concatenate grows the carried array: its shape is not its init's, so
    the size read after the loop is not rewritten to the init's (x's)."""
    grow = _from_text(tmp_path, "grow_in_a_loop", GROW).grow
    x = np.arange(1.0, 4.0)
    g = grad(grow)
    np.testing.assert_allclose(g(x), np.full(3, 4 * 2.0 / 12), rtol=1e-12)
    assert "np.size(x)" not in g.source


# --- every sample, port and benchmark function -------------------------------------


def _file_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _from_text(tmp: Path, name: str, text: str):
    path = tmp / f"{name}.py"
    path.write_text(text)
    return _file_module(name, path)


def _strings(path: Path) -> dict:
    """The module-level string constants of a file, read without running it."""
    out = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    out[target.id] = node.value.value
    return out


def _cases(tmp: Path) -> dict:
    """name -> (a derivative object, its arguments); "<function> jvp" -> (the
    function, its arguments)."""
    import test_ports

    rng = np.random.default_rng(0)
    out, primals = {}, {}
    for name, f, args, argnums in test_ports.problems():
        out[f"ports.{name} grad"] = (grad(f, argnums=argnums), args)
    sys.path.insert(0, str(PORTS))
    try:
        from ba_data import make_problem
    finally:
        sys.path.remove(str(PORTS))
    ba, problem = load("ba"), make_problem(n=2, m=3, p=5, seed=4)
    out["ports.ba grad"] = (grad(ba.ba_objective, argnums=(0, 1, 2)), problem)
    out["ports.ba jacrev"] = (jacrev(ba.ba_residuals, argnums=(0, 1, 2)), problem)
    out["ports.ba jacfwd"] = (jacfwd(ba.ba_residuals, argnums=(0, 1, 2)), problem)
    primals["ports.ba"] = ba.ba_objective
    glm = load("glm")
    data, beta = glm.Simulated(n=30, seed=1), np.array([0.2, 0.5, -0.3])
    poisson = (beta, data.X, data.y_poisson)
    out["ports.glm poisson grad"] = (grad(glm.poisson_loglik), poisson)
    out["ports.glm poisson hessian"] = (hessian(glm.poisson_loglik), poisson)
    negbin = (beta, -0.4, data.X, data.y_negbin)
    out["ports.glm negbin grad"] = (grad(glm.negbin_loglik, argnums=(0, 1)), negbin)
    primals["ports.glm negbin"] = glm.negbin_loglik
    softmax = load("softmax")
    X, W = rng.standard_normal((5, 3)), rng.standard_normal((3, 2))
    Y = np.eye(2)[rng.integers(0, 2, 5)]
    for f in (softmax.loss, softmax.loss_log_softmax):
        out[f"ports.softmax.{f.__name__} grad"] = (
            grad(f, argnums=(0, 1)),
            (W, rng.standard_normal(2), X, Y),
        )
    writes = _file_module("sample_writes", ROOT / "samples" / "writes.py")
    x = np.linspace(0.1, 1.0, 7)
    for f in (writes.squares, writes.smooth):
        out[f"writes.{f.__name__} grad"] = (grad(f), (x,))
        out[f"writes.{f.__name__} hessian"] = (hessian(f), (x,))
        primals[f"writes.{f.__name__}"] = f
    networks = _file_module("sample_networks", ROOT / "samples" / "networks.py")
    W1, b1 = rng.standard_normal((4, 3)), rng.standard_normal(4)
    W2, b2 = rng.standard_normal((2, 4)), rng.standard_normal(2)
    layers = (W1, b1, W2, b2)
    out["networks.two_layer_sigmoid grad"] = (
        grad(networks.two_layer_sigmoid, argnums=(0, 1, 2, 3)),
        layers + (rng.standard_normal(3), rng.standard_normal(2)),
    )
    T = (W1.T.copy(), b1, W2.T.copy(), b2, X, rng.standard_normal((5, 2)))
    out["networks.tanh_mlp grad"] = (grad(networks.tanh_mlp, argnums=(0, 1, 2, 3)), T)
    primals["networks.tanh_mlp"] = networks.tanh_mlp
    primals["networks.logistic_regression"] = networks.logistic_regression
    logistic = (rng.standard_normal(3), 0.1, X, (rng.random(5) > 0.5) * 1.0)
    out["networks.logistic_regression grad"] = (
        grad(networks.logistic_regression, argnums=(0, 1)),
        logistic,
    )
    out["networks.logistic_regression hessian"] = (
        hessian(networks.logistic_regression),
        logistic,
    )
    out["networks.softmax_classifier grad"] = (
        grad(networks.softmax_classifier, argnums=(0, 1)),
        (W, rng.standard_normal(2), X, Y),
    )
    benchmarks = ROOT / "benchmarks"
    mlp_loss = _file_module(
        "bench_mlp_loss", benchmarks / "handwritten_mlp.py"
    ).mlp_loss
    # (bench_higher.py is read, not imported: importing it sets up its timing)
    bench_higher = _strings(benchmarks / "bench_higher.py")
    out["benchmarks.mlp_loss grad"] = (grad(mlp_loss, argnums=(0, 1, 2, 3)), T)
    rosen = _from_text(tmp, "bench_rosen_array", bench_higher["ROSEN_ARRAY"]).rosen
    out["benchmarks.rosen grad"] = (grad(rosen), (x,))
    out["benchmarks.rosen hessian"] = (hessian(rosen), (x,))
    primals["benchmarks.rosen"] = rosen
    jac = _from_text(tmp, "bench_jacobian_arrays", bench_higher["JACOBIAN_ARRAYS"])
    A, t = rng.standard_normal((7, 4)), np.linspace(0.0, 1.0, 7)
    for mode in (jacfwd, jacrev):
        out[f"benchmarks.tall {mode.__name__}"] = (mode(jac.tall), (x[:4], A, t))
        out[f"benchmarks.wide {mode.__name__}"] = (
            mode(jac.wide),
            (x[:4], rng.standard_normal((2, 4))),
        )
    # forward mode (jvp) of some of the functions of plain array parameters
    for name, f in primals.items():
        out[f"{name} jvp"] = (f, out[f"{name} grad"][1])
    return out


NAMES = [
    "ports.mlp grad",
    "ports.rnn grad",
    "ports.lstm grad",
    "ports.gmm grad",
    "ports.gp grad",
    "ports.gp_cho grad",
    "ports.gp_slogdet grad",
    "ports.ba grad",
    "ports.ba jacrev",
    "ports.ba jacfwd",
    "ports.glm poisson grad",
    "ports.glm poisson hessian",
    "ports.glm negbin grad",
    "ports.softmax.loss grad",
    "ports.softmax.loss_log_softmax grad",
    "writes.squares grad",
    "writes.squares hessian",
    "writes.smooth grad",
    "writes.smooth hessian",
    "networks.two_layer_sigmoid grad",
    "networks.tanh_mlp grad",
    "networks.logistic_regression grad",
    "networks.logistic_regression hessian",
    "networks.softmax_classifier grad",
    "benchmarks.mlp_loss grad",
    "benchmarks.rosen grad",
    "benchmarks.rosen hessian",
    "benchmarks.tall jacfwd",
    "benchmarks.wide jacfwd",
    "benchmarks.tall jacrev",
    "benchmarks.wide jacrev",
]
FAST = {"networks.logistic_regression grad", "writes.smooth hessian"}


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return _cases(tmp_path_factory.mktemp("bench_sources"))


@pytest.mark.fast_sample(keep=lambda name: name in FAST)
@pytest.mark.parametrize("name", NAMES)
def test_no_derivative_computes_anything_only_for_a_shape(cases, name):
    derivative, args = cases[name]
    derivative(*args)
    source = derivative.source
    assert waste(source) == [], source


JVP = [
    "networks.logistic_regression",
    "networks.tanh_mlp",
    "writes.smooth",
    "ports.ba",
    "ports.glm negbin",
    "benchmarks.rosen",
]


@pytest.mark.fast_sample(keep=lambda name: name == "networks.logistic_regression")
@pytest.mark.parametrize("name", JVP)
def test_no_forward_derivative_computes_anything_only_for_a_shape(cases, name):
    f, args = cases[f"{name} jvp"]
    compiled = compile_derivative(f, "jvp", tuple(range(len(args))), True)
    tangents = [np.ones(np.shape(a)) for a in args]
    source = compiled.specialize(*args, *tangents).source
    assert waste(source) == [], source
