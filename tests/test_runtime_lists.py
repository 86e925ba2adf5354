"""Lists whose length is known only at run time (issue 16): `append` in loops
over an array's rows, `range` of a shape, `while` loops, under an `if`;
reads inside the building loop and after it.  Both modes against central
differences, Hessians, `adc compile`, and a located error for each change
that would break the append-only model (frontend/lower_runlists.py)."""

import importlib.util
import time

import numpy as np
import pytest
import runtime_lists as rl
from test_array_crashes import _central_gradient
from test_cli import adc

from ad_compiler import grad, hessian, jacfwd, jvp
from ad_compiler.errors import UnsupportedError

H = 1e-6
RNG = np.random.default_rng(16)
D, T = 3, 4
POINT = (
    RNG.normal(size=(D, D)),
    0.5 * RNG.normal(size=(D, D)),
    RNG.normal(size=(T, D)),
    RNG.normal(size=(T + 1, D)),
)

ARRAY_CASES = [
    rl.rnn_indexed,
    rl.rnn_zip,
    rl.rnn_stacked,
    rl.rnn_summed_and_last,
    rl.range_of_a_shape,
    rl.while_with_conditional_append,
    rl.reads_inside_the_loop,
    rl.numbers_and_np_array,
    rl.enumerated_call,
    rl.stacked_along_an_axis,
    rl.zip_and_enumerate_of_arrays,
]


def _wrt_params(f, point):
    """The gradients with respect to W and U by central differences."""
    return [_central_gradient(f, point, i) for i in (0, 1)]


@pytest.mark.fast_sample(every=8)
@pytest.mark.parametrize("f", ARRAY_CASES, ids=lambda f: f.__name__)
def test_gradient_and_tangent_match_central_differences(f):
    expected = _wrt_params(f, POINT)
    got = grad(f, argnums=(0, 1))(*POINT)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
    dW, dU = RNG.normal(size=(D, D)), RNG.normal(size=(D, D))
    zeros = (np.zeros((T, D)), np.zeros((T + 1, D)))
    y, y_dot = jvp(f, POINT, (dW, dU) + zeros)
    np.testing.assert_allclose(y, f(*POINT), rtol=1e-13)
    np.testing.assert_allclose(
        y_dot, np.sum(expected[0] * dW) + np.sum(expected[1] * dU), rtol=1e-6
    )


@pytest.mark.slow
@pytest.mark.parametrize("f", ARRAY_CASES, ids=lambda f: f.__name__)
def test_jacfwd_in_vector_mode_is_the_gradient(f):
    J = jacfwd(f, argnums=1)(*POINT)
    np.testing.assert_allclose(J, grad(f, argnums=1)(*POINT), rtol=1e-12, atol=1e-14)


def _hessian_by_differences(f, point):
    g = grad(f, argnums=1)
    U = point[1]
    out = np.zeros((D * D, D * D))
    for j in range(D * D):
        step = np.zeros(D * D)
        step[j] = 1e-5
        step = step.reshape(D, D)
        hi = g(point[0], U + step, *point[2:])
        lo = g(point[0], U - step, *point[2:])
        out[:, j] = ((hi - lo) / 2e-5).ravel()
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "f",
    [rl.rnn_indexed, rl.while_with_conditional_append, rl.reads_inside_the_loop],
    ids=lambda f: f.__name__,
)
def test_hessian_forward_over_reverse_matches_differences_of_the_gradient(f):
    Hm = np.asarray(hessian(f, argnums=1)(*POINT)).reshape(D * D, D * D)
    np.testing.assert_allclose(Hm, _hessian_by_differences(f, POINT), atol=1e-6)


def test_scalar_code_both_modes_and_hessian():
    f = rl.scalar_recurrence
    x, n = 0.7, 5
    slope = (f(x + H, n) - f(x - H, n)) / (2 * H)
    assert grad(f)(x, n) == pytest.approx(slope, rel=1e-7)
    assert jvp(f, (x, n), (1.0, 0.0))[1] == pytest.approx(slope, rel=1e-7)
    g = grad(f)
    curvature = (g(x + 1e-5, n) - g(x - 1e-5, n)) / 2e-5
    assert hessian(f)(x, n) == pytest.approx(curvature, rel=1e-6)
    assert grad(f)(x, 0) == 1.0  # no iteration: the list is [x]


@pytest.mark.parametrize(
    "f",
    [rl.nested_loops_and_negative_indices, rl.a_list_made_in_each_iteration],
    ids=lambda f: f.__name__,
)
def test_nested_loops_both_modes_and_hessian(f):
    w, X = 0.4, RNG.normal(size=(3, 4))
    slope = (f(w + H, X) - f(w - H, X)) / (2 * H)
    g = grad(f)
    assert g(w, X) == pytest.approx(slope, rel=1e-6)
    assert jvp(f, (w, X), (1.0, 0 * X))[1] == pytest.approx(slope, rel=1e-6)
    curvature = (g(w + 1e-5, X) - g(w - 1e-5, X)) / 2e-5
    assert hessian(f)(w, X) == pytest.approx(curvature, rel=1e-5)


def test_emitted_code_appends_under_the_users_names_and_reads_a_prefix():
    g = grad(rl.reads_inside_the_loop, argnums=1)
    g(*POINT)
    text = g.source
    assert "hs = [np.zeros(" in text  # the non-empty start, under the user's name
    assert "hs.append(" in text
    assert "= n_hs - 1" in text  # xs[-1] inside the loop: the prefix's last item
    assert "hs_bar = [np.zeros_like(v) for v in hs]" in text
    reverse = text.split("reversed(tape)")[1].splitlines()
    assert not [s for s in reverse if s.strip().startswith("hs.append(")]


def states_of_steps(U, inputs):
    h = np.zeros(U.shape[0])
    hs = []
    for x in inputs:
        h = np.tanh(U @ h + x)
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def test_a_list_argument_is_still_unrolled_and_an_array_one_is_not():
    """The same source, called with the steps as a list of arrays (a tree: the
    loop is unrolled) and as one array (a run-time list)."""
    g = grad(states_of_steps)
    U, inputs = POINT[1], POINT[2]
    as_array = g(U, inputs)
    assert "hs.append(" in g.source  # (.source: of the last call's structure)
    as_list = g(U, list(inputs))
    assert "hs.append(" not in g.source
    np.testing.assert_allclose(as_list, as_array, rtol=1e-12)
    np.testing.assert_allclose(
        as_array, _central_gradient(states_of_steps, (U, inputs), 0), rtol=1e-6
    )


@pytest.mark.slow
def test_work_is_linear_in_the_number_of_appends():
    """grad of a loop of T appends read by index: ten times the appends take
    about ten times as long (a copy per iteration would take a hundred)."""
    f = rl.numbers_and_np_array
    g = grad(f, argnums=1)

    def seconds(n):
        point = (POINT[0], POINT[1], RNG.normal(size=(n, D)), POINT[3])
        g(*point)
        start = time.perf_counter()
        g(*point)
        return time.perf_counter() - start

    small, large = seconds(1_000), seconds(10_000)
    assert large < 30 * small


# --- refused: what would break append-only --------------------------------------------
def pops_in_the_loop(x, n):
    xs = [x]
    for t in range(n):
        xs.append(xs[-1] * x)
        xs.pop()
    return sum(xs)


def assigns_an_item_in_the_loop(x, n):
    xs = []
    for t in range(n):
        xs.append(x * t)
        xs[0] = x
    return sum(xs)


def rebinds_in_the_loop(x, n):
    xs = []
    for t in range(n):
        xs.append(x)
        xs = xs + [x]
    return sum(xs)


def appends_through_an_alias(x, n):
    xs = []
    ys = xs
    for t in range(n):
        xs.append(x * t)
    return sum(ys)


def appends_while_iterating(x, n):
    xs = [x]
    for t in range(n):
        xs.append(x)
    for v in xs:
        xs.append(v * x)
    return sum(xs)


def sorts_after_the_loop(x, n):
    xs = []
    for t in range(n):
        xs.append(x * t)
    xs.sort()
    return sum(xs)


def returns_the_list(x, n):
    xs = []
    for t in range(n):
        xs.append(x * t)
    return xs


def _helper_appends(xs, v):
    xs.append(v)
    return 0.0


def appends_in_a_helper(x, n):
    xs = []
    for t in range(n):
        xs.append(x)
    for t in range(n):
        _helper_appends(xs, x)
    return sum(xs)


REFUSED = [
    (pops_in_the_loop, "`xs.pop()` on a list whose length is known only at run time"),
    (assigns_an_item_in_the_loop, "it can be appended to, not reassigned"),
    (rebinds_in_the_loop, "it can be appended to, not reassigned"),
    (appends_through_an_alias, "`xs` is also held by `ys`"),
    (appends_while_iterating, "`xs` is appended to in a loop over it"),
    (sorts_after_the_loop, "`xs.sort()` on a list whose length is known only"),
    (returns_the_list, "returning a list whose length is known only at run time"),
    (appends_in_a_helper, "`xs` was passed in to this function and is appended"),
]


@pytest.mark.parametrize("f,message", REFUSED, ids=[f.__name__ for f, _ in REFUSED])
def test_changes_that_break_append_only_are_located_errors(f, message):
    with pytest.raises(UnsupportedError) as info:
        grad(f)(0.5, 3)
    text = str(info.value)
    assert message in text
    assert "hint:" in text
    assert info.value.loc is not None and info.value.loc.line > 0


# --- adc compile ----------------------------------------------------------------------
COMPILED = [
    "rnn_indexed",
    "rnn_stacked",
    "while_with_conditional_append",
    "stacked_along_an_axis",
    "zip_and_enumerate_of_arrays",
]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_adc_compile_emits_a_module_that_runs(tmp_path, mode):
    path = rl.__file__
    args = ["compile", path, "--mode", mode, "-o", str(tmp_path / "out.py")]
    args += ["--shape", "W=d,d", "U=d,d", "inputs=t,d", "targets=s,d"]
    for name in COMPILED:
        args += ["--function", name]
    proc = adc(*args)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "out.py").read_text()
    assert "outputs.append(" in text and "import ad_compiler" not in text
    spec = importlib.util.spec_from_file_location("emitted", tmp_path / "out.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in COMPILED:
        f = getattr(rl, name)
        expected = _wrt_params(f, POINT)
        if mode == "reverse":
            got = getattr(module, f"{name}_grad")(*POINT)
            for g, e in zip(got[:2], expected):
                np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
        else:
            dW = RNG.normal(size=(D, D))
            zeros = [np.zeros_like(a) for a in POINT[1:]]
            _, y_dot = getattr(module, f"{name}_jvp")(*POINT, dW, *zeros)
            assert y_dot == pytest.approx(np.sum(expected[0] * dW), rel=1e-6)


@pytest.mark.slow
def test_adc_compile_hessian_of_a_run_time_list(tmp_path):
    out = tmp_path / "hessian.py"
    proc = adc(
        "compile",
        rl.__file__,
        "--function",
        "rnn_indexed",
        "--mode",
        "hessian",
        "--wrt",
        "U",
        "--shape",
        "W=d,d",
        "U=d,d",
        "inputs=t,d",
        "targets=s,d",
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    spec = importlib.util.spec_from_file_location("emitted_hessian", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    Hm = np.asarray(module.rnn_indexed_hessian(*POINT)).reshape(D * D, D * D)
    expected = _hessian_by_differences(rl.rnn_indexed, POINT)
    np.testing.assert_allclose(Hm, expected, atol=1e-6)


@pytest.mark.slow  # a subprocess (test_adc_compile_emits_a_module_that_runs is the fast twin's)
def test_adc_compile_of_the_gmm_port_with_array_parameters(tmp_path):
    """samples/ports/gmm.py with its per-cluster parameters as arrays (K rows,
    K known at run time): the list of per-cluster terms is a run-time list
    stacked along axis 1, and the prior a `sum` over `zip(qs, ls)` rows."""
    from pathlib import Path

    gmm = Path(__file__).resolve().parent.parent / "samples" / "ports" / "gmm.py"
    out = tmp_path / "gmm_grad.py"
    shapes = ["alphas=k", "means=k,d", "qs=k,d", "ls=k,d,d", "X=n,d", "gamma=", "m="]
    proc = adc("compile", str(gmm), "--function", "gmm_objective", "--shape", *shapes)
    assert proc.returncode == 0, proc.stderr
    out.write_text(proc.stdout)
    assert "terms.append(" in proc.stdout and "import ad_compiler" not in proc.stdout
    spec = importlib.util.spec_from_file_location("gmm_grad", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    spec = importlib.util.spec_from_file_location("gmm_port", gmm)
    port = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(port)
    rng = np.random.default_rng(3)
    K, d, n = 3, 2, 5
    point = (
        rng.normal(size=K),
        rng.normal(size=(K, d)),
        0.1 * rng.normal(size=(K, d)),
        0.1 * rng.normal(size=(K, d, d)),
    )
    X = rng.normal(size=(n, d))
    got = module.gmm_objective_grad(*point, X, 1.0, 0)
    for i in range(4):
        expected = _central_gradient(lambda *p: port.gmm_objective(*p, X), point, i)
        np.testing.assert_allclose(got[i], expected, rtol=1e-6, atol=1e-8)
