"""Parameter trees from the command line: ``adc compile --shape 'params=[...]'``.

The CLI reads files as text, so a parameter that is a list of ``(W, b)`` pairs
is declared with ``--shape``; the emitted module then has the leaves'
derivative and a wrapper taking the user's arguments.  Its gradients must
equal the API's (same structure) and central differences; forward mode must
agree with reverse mode; malformed declarations are usage errors (exit 2), and
a declaration the function does not use that way is a located compile error.
"""

import math
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ad_compiler import grad, vjp
from ad_compiler.tools.cli import main

PORTS = Path(__file__).resolve().parent.parent / "samples" / "ports"
MLP_SHAPES = ['params=[("64,h", "h"), ("h,10", "10")]', "inputs=n,64", "targets=n,10"]
GMM_SHAPES = [
    "alphas=k",
    'means=["d", "d", "d"]',
    'qs=["d", "d", "d"]',
    'ls=["d,d", "d,d", "d,d"]',
    "X=n,d",
    "gamma=",
    "m=",
]


def adc(*args):
    return subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", *args],
        capture_output=True,
        text=True,
    )


def emitted(tmp_path, *args) -> dict:
    """The module ``adc compile`` writes for ``args``, run (it must be black-clean)."""
    import black

    proc = adc("compile", *args)
    assert proc.returncode == 0, proc.stderr
    assert black.format_str(proc.stdout, mode=black.Mode()) == proc.stdout
    imports = [
        ln for ln in proc.stdout.splitlines() if ln.startswith(("import", "from"))
    ]
    assert set(imports) <= {"import math", "import numpy as np"}  # self-contained
    out = tmp_path / "emitted.py"
    out.write_text(proc.stdout)
    return runpy.run_path(str(out))


def flat(tree):
    if isinstance(tree, dict):
        return [x for k in tree for x in flat(tree[k])]
    if isinstance(tree, (tuple, list)):
        return [x for item in tree for x in flat(item)]
    return [np.asarray(tree, dtype=float)]


def same_structure(a, b) -> bool:
    if isinstance(a, dict):
        return type(b) is dict and list(a) == list(b)
    if isinstance(a, (tuple, list)):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(same_structure(x, y) for x, y in zip(a, b))
        )
    return not isinstance(b, (tuple, list, dict))


def directional(f, tree, direction, rebuild, eps=1e-6) -> float:
    """Central difference of ``f`` at ``tree`` along ``direction`` (flat leaves)."""
    leaves = flat(tree)
    plus = rebuild([x + eps * d for x, d in zip(leaves, direction)])
    minus = rebuild([x - eps * d for x, d in zip(leaves, direction)])
    return (f(plus) - f(minus)) / (2 * eps)


def mlp_problem(rng):
    mlp = runpy.run_path(str(PORTS / "mlp.py"))
    params = mlp["init_params"](0.5, [64, 7, 10], rng)
    X = rng.standard_normal((6, 64))
    Y = np.eye(10)[rng.integers(0, 10, 6)]
    return mlp, params, X, Y


def mlp_module(tmp_path, *args):
    """The module of the MLP's objective differentiated with respect to ``params``."""
    mlp = str(PORTS / "mlp.py")
    shape = () if "--shape" in args else ("--shape", *MLP_SHAPES)
    command = [mlp, "--function", "objective", "--wrt", "params", *args, *shape]
    return emitted(tmp_path, *command)


def pairs(leaves):
    return [(leaves[0], leaves[1]), (leaves[2], leaves[3])]


@pytest.mark.slow  # subprocesses
def test_mlp_objective_from_the_cli_matches_the_api_and_central_differences(tmp_path):
    rng = np.random.default_rng(1)
    mlp, params, X, Y = mlp_problem(rng)
    ns = mlp_module(tmp_path)
    g = ns["objective_grad"](params, X, Y)  # reg: its default, kept in the signature
    api = grad(mlp["objective"])(params, X, Y)
    assert same_structure(g, params) and same_structure(g, api)
    for a, b in zip(flat(g), flat(api)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    direction = [rng.standard_normal(x.shape) for x in flat(params)]
    fd = directional(lambda p: mlp["objective"](p, X, Y), params, direction, pairs)
    dot = sum(np.sum(a * d) for a, d in zip(flat(g), direction))
    assert dot == pytest.approx(fd, rel=1e-6)
    assert np.abs(dot) > 1e-3  # the check compares something


@pytest.mark.slow  # subprocesses
def test_mlp_forward_mode_takes_the_tangent_as_a_tree(tmp_path):
    rng = np.random.default_rng(2)
    mlp, params, X, Y = mlp_problem(rng)
    ns = mlp_module(tmp_path, "--mode", "forward", "--shape", *MLP_SHAPES, "reg=")
    direction = [rng.standard_normal(x.shape) for x in flat(params)]
    value, tangent = ns["objective_jvp"](params, X, Y, 1e-3, pairs(direction))
    assert value == pytest.approx(mlp["objective"](params, X, Y), rel=1e-13)
    fd = directional(lambda p: mlp["objective"](p, X, Y), params, direction, pairs)
    assert tangent == pytest.approx(fd, rel=1e-6)


@pytest.mark.slow  # subprocesses
def test_gmm_lists_of_cluster_arrays_from_the_cli(tmp_path):
    gmm = runpy.run_path(str(PORTS / "gmm.py"))
    alphas, means, qs, ls, X = gmm["make_problem"](n=20, d=3, k=3, seed=3)
    ns = emitted(
        tmp_path,
        str(PORTS / "gmm.py"),
        "--function",
        "gmm_objective",
        "--wrt",
        "alphas,means,qs,ls",
        "--shape",
        *GMM_SHAPES,
    )
    g = ns["gmm_objective_grad"](alphas, means, qs, ls, X)
    api = grad(gmm["gmm_objective"], argnums=(0, 1, 2, 3))(alphas, means, qs, ls, X)
    assert same_structure(g, api) and isinstance(g[1], list)
    for a, b in zip(flat(g), flat(api)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    args = (alphas, means, qs, ls)
    rng = np.random.default_rng(4)
    direction = [rng.standard_normal(x.shape) for x in flat(args)]

    def rebuild(leaves):
        return (leaves[0], leaves[1:4], leaves[4:7], leaves[7:10])

    fd = directional(lambda a: gmm["gmm_objective"](*a, X), args, direction, rebuild)
    dot = sum(np.sum(a * d) for a, d in zip(flat(g), direction))
    assert dot == pytest.approx(fd, rel=1e-6)


DICT_MODEL = """import numpy as np


def model(p, x, kind="tanh"):
    act = np.tanh(p["w"] * x) if kind == "tanh" else np.sin(p["w"] * x)
    return np.sum(act) + p["b"] ** 2, np.sum(p["w"] * p["w"])
"""


@pytest.mark.slow  # subprocesses
def test_a_dict_tree_with_a_static_fixed_on_the_command_line_gets_a_vjp(tmp_path):
    src = tmp_path / "model.py"
    src.write_text(DICT_MODEL)
    shape = ['p={"w": "n", "b": ""}', "x=n"]
    ns = emitted(tmp_path, str(src), "--fix", "kind=sin", "--shape", *shape)
    model = runpy.run_path(str(src))["model"]
    rng = np.random.default_rng(5)
    p, x = {"w": rng.standard_normal(4), "b": 0.7}, rng.standard_normal(4)
    bars = (0.3, -1.1)
    p_bar, x_bar = ns["model_vjp"](p, x, *bars)
    assert list(p_bar) == ["w", "b"]

    def scalar(q, y=x):
        out = model(q, y, "sin")
        return bars[0] * out[0] + bars[1] * out[1]

    eps = 1e-6
    for key in ("w", "b"):
        e = np.zeros_like(np.asarray(p[key], dtype=float))
        for i in np.ndindex(e.shape):
            e[i] = 1
            up, down = dict(p), dict(p)
            up[key], down[key] = p[key] + eps * e, p[key] - eps * e
            fd = (scalar(up) - scalar(down)) / (2 * eps)
            assert np.asarray(p_bar[key])[i] == pytest.approx(fd, rel=1e-6, abs=1e-9)
            e[i] = 0
    fd_x = [
        (scalar(p, x + eps * e) - scalar(p, x - eps * e)) / (2 * eps) for e in np.eye(4)
    ]
    np.testing.assert_allclose(x_bar, fd_x, rtol=1e-6)
    # kind="tanh", the default, is another function: sin's derivative is not it
    ns_tanh = emitted(tmp_path, str(src), "--shape", *shape)
    assert not np.allclose(ns_tanh["model_vjp"](p, x, *bars)[1], x_bar)


@pytest.mark.parametrize(
    "spec, says",
    [
        ('params=[("64,h", "h"), ("h,10" "10")', "not a Python literal"),
        ('params=[(64, "h")]', "'64' is not a DIMS string"),
        ('params=[("6,,4", "h")]', "an axis is missing"),
        ('params=[("n!", "h")]', "an axis is 1, ?, a number or a name"),
        ('params={1: "n"}', "the dict key 1 is not a string"),
        ('params={"a": "n", "a": "m"}', "given twice"),
        ('params="n"', "written unquoted"),
        ("params=[__import__('os').system('true')]", "is not a DIMS string"),
    ],
)
def test_malformed_tree_declarations_are_usage_errors(spec, says, capsys):
    status = main(["compile", str(PORTS / "mlp.py"), "--shape", spec])
    err = capsys.readouterr().err
    assert status == 2
    assert says in err and "leaves are DIMS strings" in err


def test_symbolic_mode_and_a_tree_with_a_value_are_refused_clearly(capsys):
    args = ["compile", str(PORTS / "mlp.py"), "--function", "objective"]
    status = main(args + ["--mode", "symbolic", "--shape", *MLP_SHAPES])
    err = capsys.readouterr().err
    assert status == 2
    assert "--mode symbolic of a function taking the parameter tree `params`" in err
    status = main(args + ["--fix", "params=1", "--shape", *MLP_SHAPES])
    assert status == 2
    assert "given both a tree (--shape) and a value" in capsys.readouterr().err


@pytest.mark.parametrize(
    "spec, line, says",
    [
        ('params={"w": "64,h"}', 43, "cannot unpack 'w', a static value"),
        ('params=[("64,h", "h", "h")]', 43, "cannot unpack 3 values into 2 names"),
        # W a vector: inputs @ W is too, and log_softmax's axis=1 does not exist
        ('params=[("64", "h"), ("h,10", "10")]', 37, "axis 1 is out of range"),
    ],
)
def test_a_declaration_the_function_does_not_fit_is_a_located_error(
    spec, line, says, capsys
):
    mlp = str(PORTS / "mlp.py")
    args = ["compile", mlp, "--function", "objective", "--wrt", "params"]
    status = main(args + ["--shape", spec, "inputs=n,64", "targets=n,10"])
    err = capsys.readouterr().err
    assert status == 1
    assert f"mlp.py:{line}:" in err and says in err, err


def test_without_a_declaration_the_hint_says_how_to_declare(capsys):
    status = main(["compile", str(PORTS / "mlp.py"), "--function", "objective"])
    err = capsys.readouterr().err
    assert status == 1 and "mlp.py:43:9: error: cannot unpack" in err
    assert "--shape 'params=[(" in err


STATIC_NO_DEFAULT = """def f(x, kind, scale=None):
    if scale is None:
        scale = 2.0
    if kind == "sq":
        return x * x * scale
    return x * scale
"""


def test_fix_gives_static_values_as_literals(tmp_path, capsys):
    src = tmp_path / "static.py"
    src.write_text(STATIC_NO_DEFAULT)
    out = tmp_path / "out.py"
    assert main(["compile", str(src), "-o", str(out)]) == 1
    assert "--fix 'kind=\"sq\"'" in capsys.readouterr().err  # the hint says how
    # a bare word is a typo for a parameter whose default is not a string
    assert main(["compile", str(src), "--fix", "kind=sq"]) == 2
    assert "--fix takes NAME=NUMBER, got 'kind=sq'" in capsys.readouterr().err
    assert main(["compile", str(src), "--fix", 'kind="sq"', "-o", str(out)]) == 0
    f_grad = runpy.run_path(str(out))["f_grad"]
    assert f_grad(3.0) == pytest.approx(12.0)  # d/dx 2x² at 3
    # a number for a None default: the parameter is that constant
    args = ["compile", str(src), "--fix", 'kind="sq"', "scale=5", "-o", str(out)]
    assert main(args) == 0
    assert runpy.run_path(str(out))["f_grad"](3.0) == pytest.approx(30.0)
    assert main(["compile", str(src), "--fix", "kind=None", "-o", str(out)]) == 0
    assert runpy.run_path(str(out))["f_grad"](3.0) == pytest.approx(2.0)


SCALAR_PAIR = """import math


def f(p, p_0, grads):
    a, b = p
    return math.sin(a) * b + p_0 * grads
"""


def test_a_tuple_of_numbers_needs_no_numpy_and_names_do_not_collide(tmp_path):
    src, out = tmp_path / "pair.py", tmp_path / "out.py"
    src.write_text(SCALAR_PAIR)
    assert main(["compile", str(src), "--shape", 'p=("", "")', "-o", str(out)]) == 0
    text = out.read_text()
    assert "import numpy" not in text  # math code stays math code
    (pa, pb), p0, g = runpy.run_path(str(out))["f_grad"]((0.5, 2.0), 3.0, 4.0)
    assert (pa, pb) == pytest.approx((2.0 * math.cos(0.5), math.sin(0.5)), rel=1e-15)
    assert (p0, g) == (4.0, 3.0)  # `p_0` and `grads` are not the tree's leaves


ANNOTATED = """import numpy as np


def f(p: tuple[np.ndarray, float], x: np.ndarray, q: tuple[float, ...]):
    w, b = p
    return np.sum(np.tanh(w * x) + b) * q[0]
"""


def test_a_tuple_annotation_that_states_the_structure_needs_no_shape(tmp_path):
    src, out = tmp_path / "annotated.py", tmp_path / "out.py"
    src.write_text(ANNOTATED)
    args = ["compile", str(src), "--wrt", "p", "-o", str(out)]
    # `q: tuple[float, ...]` does not say its length: it is declared
    assert main(args + ["--shape", 'q=("",)']) == 0
    grad_p = runpy.run_path(str(out))["f_grad"]
    rng = np.random.default_rng(6)
    w, x, b = rng.standard_normal(3), rng.standard_normal(3), 0.4
    w_bar, b_bar = grad_p((w, b), x, (1.5,))
    np.testing.assert_allclose(w_bar, 1.5 * x * (1 - np.tanh(w * x) ** 2), rtol=1e-14)
    assert b_bar == pytest.approx(1.5 * 3)


def test_wrt_order_is_the_order_of_the_results_and_of_the_tangents(tmp_path):
    src, out = tmp_path / "pair.py", tmp_path / "out.py"
    src.write_text(SCALAR_PAIR)
    base = ["compile", str(src), "--shape", 'p=("", "")', "--wrt", "grads,p"]
    assert main(base + ["-o", str(out)]) == 0
    g_bar, (pa, pb) = runpy.run_path(str(out))["f_grad"]((0.5, 2.0), 3.0, 4.0)
    assert (g_bar, pa, pb) == (3.0, 2.0 * math.cos(0.5), math.sin(0.5))
    assert main(base + ["--mode", "forward", "-o", str(out)]) == 0
    f_jvp = runpy.run_path(str(out))["f_jvp"]
    assert f_jvp((0.5, 2.0), 3.0, 4.0, 1.0, (0.0, 0.0))[1] == 3.0
    assert f_jvp((0.5, 2.0), 3.0, 4.0, 0.0, (0.0, 1.0))[1] == math.sin(0.5)


@pytest.mark.slow  # a subprocess over the whole file
def test_keep_going_over_the_whole_mlp_file_emits_every_tree_function(tmp_path):
    shape = [*MLP_SHAPES, "Z=n,10", "reg="]
    proc = adc("compile", str(PORTS / "mlp.py"), "--keep-going", "--shape", *shape)
    assert proc.returncode == 1  # init_params, accuracy ... are left out
    assert (
        "mlp.py:69:12: error: `numpy.load` (called as `np.load`) is not supported"
        in proc.stderr
    )
    out = tmp_path / "mlp_grads.py"
    out.write_text(proc.stdout)
    ns = runpy.run_path(str(out))
    rng = np.random.default_rng(7)
    mlp, params, X, Y = mlp_problem(rng)
    l2 = ns["l2_norm_grad"](params)  # one function of a tree: its gradient
    assert same_structure(l2, params)
    for g, p in zip(flat(l2), flat(params)):
        np.testing.assert_allclose(g, 2 * p, rtol=1e-15)
    y_bar = rng.standard_normal((6, 10))
    cotangent, inputs_bar = ns["predict_vjp"](params, X, y_bar)
    assert same_structure(cotangent, params) and inputs_bar.shape == X.shape
    api = vjp(mlp["predict"], params, X)[1](y_bar)
    for a, b in zip(flat((cotangent, inputs_bar)), flat(api)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.slow  # a subprocess
def test_mlp_hvp_takes_the_direction_as_a_tree(tmp_path):
    rng = np.random.default_rng(8)
    mlp, params, X, Y = mlp_problem(rng)
    ns = mlp_module(tmp_path, "--mode", "hvp", "--shape", *MLP_SHAPES, "reg=")
    v = [rng.standard_normal(x.shape) for x in flat(params)]
    hv = ns["objective_hvp"](params, X, Y, 1e-3, pairs(v))
    assert same_structure(hv, params)
    # H·v is the directional derivative of the gradient along v
    g = grad(mlp["objective"])
    eps = 1e-5
    up = g(pairs([p + eps * d for p, d in zip(flat(params), v)]), X, Y)
    down = g(pairs([p - eps * d for p, d in zip(flat(params), v)]), X, Y)
    for h, a, b in zip(flat(hv), flat(up), flat(down)):
        np.testing.assert_allclose(h, (a - b) / (2 * eps), rtol=1e-5, atol=1e-8)


MATRICES = """import numpy as np


def model(p, x):
    return np.sum(np.sin(p["w"] * x)) + p["b"] ** 2, np.sum(p["w"] * p["w"])


def energy(p, x):
    return np.sum(np.tanh(p["w"] * x) * p["v"]) + p["b"] ** 2 * np.sum(x)


def single(q, x):
    (w,) = q
    return np.sum(np.tanh(w * x) ** 2)
"""


def matrix_module(tmp_path, function, mode, *shape):
    src, out = tmp_path / "matrices.py", tmp_path / f"{function}_{mode}.py"
    src.write_text(MATRICES)
    args = ["compile", str(src), "--function", function, "--mode", mode]
    assert (
        main(
            args
            + ["--wrt", "p" if function != "single" else "q"]
            + ["--shape", *shape, "x=n", "-o", str(out)]
        )
        == 0
    )
    return runpy.run_path(str(src)), runpy.run_path(str(out))


def assert_same_tree(a, b):
    assert same_structure(a, b)
    for x, y in zip(flat(a), flat(b)):
        assert np.shape(x) == np.shape(y)
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


@pytest.mark.slow  # three compilations in vector mode
def test_hessian_and_jacobian_of_trees_are_arranged_as_the_api_arranges_them(tmp_path):
    from ad_compiler import hessian, jacobian

    rng = np.random.default_rng(9)
    x = rng.standard_normal(3)
    p = {"w": rng.standard_normal(3), "v": rng.standard_normal(3), "b": 0.3}
    src, ns = matrix_module(
        tmp_path, "energy", "hessian", 'p={"w": "n", "v": "n", "b": ""}'
    )
    H = ns["energy_hessian"](p, x)
    assert np.shape(H["w"]["v"]) == (3, 3) and np.shape(H["b"]["w"]) == (3,)
    assert_same_tree(H, hessian(src["energy"])(p, x))
    q = {"w": p["w"], "b": 0.3}
    src, ns = matrix_module(tmp_path, "model", "jacobian", 'p={"w": "n", "b": ""}')
    assert_same_tree(ns["model_jacobian"](q, x), jacobian(src["model"])(q, x))
    src, ns = matrix_module(tmp_path, "single", "hessian", 'q=("n",)')
    H = ns["single_hessian"]((p["w"],), x)
    assert np.shape(H[0][0]) == (3, 3)  # one leaf: ((block,),)
    assert_same_tree(H, hessian(src["single"])((p["w"],), x))


CONSTANT = """import numpy as np

X = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, -1.0]])


def loss(p, y):
    w, b = p
    return np.sum((X @ w + b - y) ** 2)
"""


def test_a_module_constant_is_passed_on_keyword_only_by_the_wrapper(tmp_path):
    src, out = tmp_path / "constant.py", tmp_path / "out.py"
    src.write_text(CONSTANT)
    args = ["compile", str(src), "--shape", 'p=("2", "")', "y=3", "-o", str(out)]
    assert main(args + ["--wrt", "p"]) == 0
    assert "def loss_grad(p, y, *, X=X):" in out.read_text()
    ns, loss = runpy.run_path(str(out)), runpy.run_path(str(src))["loss"]
    p, y = (np.array([0.3, -0.2]), 0.1), np.array([1.0, 0.0, 2.0])
    assert_same_tree(ns["loss_grad"](p, y), grad(loss)(p, y))
    other = np.eye(3, 2)  # the constant is the default, and may be passed
    w_bar, b_bar = ns["loss_grad"](p, y, X=other)
    np.testing.assert_allclose(w_bar, 2 * other.T @ (other @ p[0] + p[1] - y))
