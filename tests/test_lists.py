"""Lists (issue 16, item 4): literals, append/extend, comprehensions, sum, np.stack
and np.array of lists, indexing, and the loops that build them (unrolled).

Every derivative is compared with central differences of the function itself,
in both modes (``grad`` and ``jvp``), some with ``hessian`` too; the static
programs also go through ``adc compile`` in a subprocess.  What is refused is
checked for its message and its place in this file.
"""

import importlib.util
import inspect
import os

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_array_crashes import _central_gradient, _check_grad, _check_jvp
from test_cli import adc
from tiers import fast

from ad_compiler import grad, hessian, jvp
from ad_compiler.errors import UnsupportedError


# --- the forms, each a function of numbers and arrays -----------------------------
def literal_index_len(x, y):
    xs = [x, y * x, 2.0]
    return xs[0] * xs[-1] + xs[1] * len(xs) + sum(xs)


def append_in_range_loop(x, y):
    xs = []
    for i in range(4):
        xs.append(x * i + y * y)
    return sum(xs, 1.5) + xs[-1] * xs[0]


def extend_concat_slices(x, y):
    xs = [x, y]
    xs.extend([x * y, np.sin(x)])
    ys = xs + [y * 3.0]
    head = ys[1:4]
    return sum(head) * ys[-1] + sum(ys[::2]) + len(head)


def comprehension_with_if_and_nested_for(x, y):
    ys = [x**k for k in range(1, 5) if k != 2]
    pairs = [a * b for a in ys for b in (x, y)]
    return sum(ys) + sum(pairs) * y


def comprehension_over_zip_and_enumerate(x, y):
    ws = [1.0, 2.0, 3.0]
    vs = [x, y, x * y]
    dot = sum(w * v for w, v in zip(ws, vs))
    weighted = sum((i + 1) * v * v for i, v in enumerate(vs))
    return dot + weighted


def sum_of_generator(x, y):
    total = sum(np.exp(-k * x) * y for k in range(3))
    for k, v in zip(range(2), reversed([x, y, x * y])):  # x * y, then y
        total = total + (k + 1.0) * v
    return total


def np_array_of_numbers(x, y):
    v = np.array([x, y, x * y])
    M = np.array([[x, y], [y * y, 1.0]])
    return np.sum(v * v) + np.sum(np.array([x, 2.0])) + np.sum(M @ v[:2])


def stack_and_concatenate(x, W):
    rows = [np.tanh(W[i] * x) for i in range(3)]
    A = np.stack(rows, axis=1)
    B = np.concatenate(rows)
    return np.sum(A * A) + np.sum(np.sin(B))


def max_min_of_list(x, y):
    xs = [x * x, y, x + y]
    ys = list((x, y)) + list(tuple(xs))
    return max(xs) - 2.0 * min(xs) + sum(ys[1:])


def item_assignment_and_repeat(x, y):
    xs = [0.0] * 3
    for i in range(3):
        xs[i] = x * (i + 1)
    xs[1] += y
    return xs[0] * xs[1] + xs[2]


def list_merged_after_if(x, y):
    xs = [x, y]
    if x > y:
        xs.append(x * y)
    else:
        xs.append(y - x)
    return sum(xs) * xs[2]


def list_indexed_by_rolled_loop_index(x, y, n):
    cs = [x, y, x * y]
    total = 0.0
    for i in range(n):
        total = total + cs[i] * cs[i]
    return total


def loop_over_lists_of_different_lengths(x, y):
    groups = [[x, y], [x * y, y, 2.0], [np.cos(x)]]
    total = 0.0
    for g in groups:
        total = total + sum(g) * len(g)
    return total


def layers_from_a_built_tuple(x, W1, b1, W2, b2):
    params = ((W1, b1), (W2, b2))
    h = x
    for W, b in params:
        h = np.tanh(W @ h + b)
    return np.sum(h * h)


def layers_indexed_by_a_range_loop(x, W1, b1, W2, b2):
    Ws, bs = [W1, W2], (b1, b2)
    h = x
    for i in range(len(Ws)):  # unrolled: Ws[i] differ in shape
        h = np.tanh(Ws[i] @ h + bs[i])
    return np.sum(h * h)


STEPS = 4  # a module constant: the loops below have a length known when compiling


def gmm_log_likelihood(X, mu1, mu2, mu3, log_w):
    mus = [mu1, mu2, mu3]
    terms = []
    for k in range(len(mus)):
        diff = X - mus[k]
        terms.append(log_w[k] - 0.5 * np.sum(diff * diff, axis=1))
    T = np.stack(terms, axis=1)
    m = np.max(T, axis=1, keepdims=True)
    return np.sum(m[:, 0] + np.log(np.sum(np.exp(T - m), axis=1)))


def rnn_collecting_states(xs, Wx, Wh, b, h0):
    h = h0
    hs = []
    for t in range(STEPS):
        h = np.tanh(Wx @ xs[t] + Wh @ h + b)
        hs.append(h)
    H = np.stack(hs)
    return np.sum(H**2) + sum(np.sum(s) for s in hs[1:])


def mlp_collecting_activations(x, W1, b1, W2, b2):
    params = [(W1, b1), (W2, b2)]
    acts = [x]
    for W, b in params:
        acts.append(np.tanh(W @ acts[-1] + b))
    return sum(np.sum(a * a) for a in acts)


def sum_of_generator_over_run_time_range(x, n):
    odd = sum(x**k / (k + 1.0) for k in range(n) if k % 2 == 0)
    return odd + sum([x * k for k in range(n)], 1.0)


def sum_of_generator_over_rows(w, X, y):
    squares = sum((np.dot(X[i], w) - y[i]) ** 2 for i in range(len(X)))
    return squares + sum(np.tanh(np.dot(row, w)) for row in X)


def sum_filtered_at_run_time(x, y):
    return sum(v * v for v in (x, y, x * y) if v > 0.5) + sum(
        x**k for k in range(4) if k != 2
    )


def extends_with_plus_equals(x, y):
    xs = [x]
    for i in range(2):
        xs += [y * i, x * x]
    xs += (y,)
    return sum(xs) * xs[-2]


def helper_returning_a_list(x, y):
    ps = powers(x, 3)
    return sum(p * y for p in ps)


def powers(x, n):
    out = []
    for k in range(n):
        out.append(x**k)
    return out


SCALAR = [
    literal_index_len,
    append_in_range_loop,
    extend_concat_slices,
    comprehension_with_if_and_nested_for,
    comprehension_over_zip_and_enumerate,
    sum_of_generator,
    np_array_of_numbers,
    max_min_of_list,
    item_assignment_and_repeat,
    list_merged_after_if,
    loop_over_lists_of_different_lengths,
    helper_returning_a_list,
    sum_filtered_at_run_time,
    extends_with_plus_equals,
]
POINTS = [(0.7, 1.3), (1.4, -0.6)]


@pytest.mark.parametrize("f", SCALAR, ids=[f.__name__ for f in SCALAR])
@pytest.mark.fast_sample(every=8)
@pytest.mark.parametrize("point", POINTS, ids=["a", "b"])
def test_scalar_forms_match_central_differences_in_both_modes(f, point):
    _check_grad(f, list(point))
    _check_jvp(f, list(point), np.random.default_rng(3))


@pytest.mark.fast_sample(first=1)
@pytest.mark.parametrize(
    "f",
    [append_in_range_loop, comprehension_with_if_and_nested_for, np_array_of_numbers],
)
def test_hessian_of_list_code_matches_differences_of_the_gradient(f):
    args = (0.7, 1.3)
    H = hessian(f, argnums=(0, 1))(*args)
    g = grad(f, argnums=(0, 1))
    for j in range(2):
        column = _central_gradient(lambda *a: g(*a)[j], list(args), 0)
        np.testing.assert_allclose(H[j][0], column, rtol=1e-5, atol=1e-7)


def test_sum_of_a_generator_of_run_time_length_is_a_loop():
    f = sum_of_generator_over_run_time_range
    for n in (0, 1, 4):
        got = grad(f)(0.7, n)
        np.testing.assert_allclose(got, _central_gradient(f, [0.7, n], 0), rtol=1e-6)
        y, y_dot = jvp(f, (0.7, n), (1.0, 0.0))
        np.testing.assert_allclose(y_dot, got, rtol=1e-12)
    assert "in range(n)" in grad(f).source  # the loop stays a loop


def test_a_rolled_loop_indexes_a_list_by_its_index():
    f = list_indexed_by_rolled_loop_index
    for n in (0, 2, 3):
        got = grad(f, argnums=(0, 1))(0.7, 1.3, n)
        want = [_central_gradient(f, [0.7, 1.3, n], i) for i in (0, 1)]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert "for i in range(n)" in grad(f).source  # the loop stays a loop


ARRAYS = [
    (stack_and_concatenate, [(), (3, 4)]),
    (layers_from_a_built_tuple, [(3,), (5, 3), (5,), (2, 5), (2,)]),
    (mlp_collecting_activations, [(3,), (5, 3), (5,), (2, 5), (2,)]),
    (layers_indexed_by_a_range_loop, [(3,), (5, 3), (5,), (2, 5), (2,)]),
    (sum_of_generator_over_rows, [(3,), (5, 3), (5,)]),
    (gmm_log_likelihood, [(6, 2), (2,), (2,), (2,), (3,)]),
    (rnn_collecting_states, [(4, 3), (5, 3), (5, 5), (5,), (5,)]),
]


@pytest.mark.fast_sample(first=2)
@pytest.mark.parametrize("f,shapes", ARRAYS, ids=[f.__name__ for f, _ in ARRAYS])
def test_array_forms_match_central_differences_in_both_modes(f, shapes):
    rng = np.random.default_rng(5)
    args = [float(rng.normal()) if s == () else rng.normal(size=s) for s in shapes]
    _check_grad(f, args)
    _check_jvp(f, args, rng)


@pytest.mark.fast_sample(first=1)
@pytest.mark.parametrize(
    "f,shapes", ARRAYS[1:], ids=[f.__name__ for f, _ in ARRAYS[1:]]
)
def test_hessian_of_array_list_code_matches_differences_of_the_gradient(f, shapes):
    rng = np.random.default_rng(7)
    args = [rng.normal(size=s) for s in shapes]
    H = hessian(f, argnums=0)(*args)
    g = grad(f, argnums=0)
    for j in np.ndindex(shapes[0]):
        column = _central_gradient(lambda *a: g(*a)[j], args, 0)
        np.testing.assert_allclose(H[j], column, rtol=1e-5, atol=1e-7)


def test_a_loop_that_builds_a_list_is_unrolled_and_reads_as_straight_code():
    source = grad(append_in_range_loop).source
    code = [line for line in source.splitlines() if not line.strip().startswith("#")]
    assert not any("for " in line or "tape" in line for line in code)
    assert not any(".append(" in line for line in code)  # a list only while compiling
    assert "# line 35: xs.append(x * i + y * y)" in source  # located in the user's file


# --- what is refused, and where -----------------------------------------------------
def appends_through_an_alias(x):
    xs = [x]
    ys = xs
    xs.append(2.0 * x)
    return sum(ys)


def extends_through_an_alias(x):
    xs = [x]
    ys = xs
    xs += [2.0 * x]  # in place: ys sees it too
    return sum(ys)


def pops(x):
    xs = [x, 2.0 * x]
    xs.pop()
    return sum(xs)


def appends_in_one_branch(x):
    xs = [x]
    if x > 0.0:
        xs.append(x * x)
    return sum(xs)


def filters_on_a_run_time_value(x, y):
    return np.sum(np.array([v for v in (x, y) if v > 0.0]))


def appends_to_a_passed_list(x):
    xs = [x]
    add_square(xs, x)
    return sum(xs)


def add_square(xs, x):
    xs.append(x * x)
    return x


def writes_an_array_after_appending_it(x):
    row = np.zeros(3)
    xs = []
    xs.append(row)
    row[0] = x  # Python changes xs[0] too
    return np.sum(xs[0]) * x


def breaks_in_an_unrolled_loop(x):
    xs = []
    for i in range(3):
        xs.append(x * i)
        if i == 1:
            break
    return sum(xs)


REFUSED = [
    (appends_through_an_alias, "`xs` is also held by `ys`"),
    (pops, "the list method `.pop()` is not supported"),
    (extends_through_an_alias, "`xs` is also held by `ys`"),
    (appends_in_one_branch, "`xs` has 2 items after one path"),
    (filters_on_a_run_time_value, "depends on a value known only at run time"),
    (appends_to_a_passed_list, "`xs` was passed in to this function"),
    (breaks_in_an_unrolled_loop, "are not supported in a loop that is unrolled"),
    (writes_an_array_after_appending_it, "`xs` may share its array with `row`"),
]


@pytest.mark.fast_sample(every=3)
@pytest.mark.parametrize("f,message", REFUSED, ids=[f.__name__ for f, _ in REFUSED])
def test_refusals_name_the_construct_and_say_what_to_write(f, message):
    with pytest.raises(UnsupportedError) as info:
        grad(f)
    err = info.value
    assert message in str(err)
    assert err.hint  # what to write instead
    assert err.loc.file == __file__ or err.loc.file.endswith("test_lists.py")
    lines, first = inspect.getsourcelines(
        f if f is not appends_to_a_passed_list else add_square
    )
    assert first <= err.loc.line < first + len(lines)  # in the user's function


# --- the CLI: a static file, compiled without running it ----------------------------
CLI_PROGRAM = """
import numpy as np


def features(x, y):
    xs = []
    for k in range(1, 4):
        xs.append(x ** k * y)
    ys = [np.sin(v) for v in xs if True]
    return sum(ys) + np.sum(np.array(xs)) + max(xs)
"""


@pytest.mark.slow  # a subprocess
def test_adc_compile_emits_a_module_that_runs_on_its_own(tmp_path):
    src = tmp_path / "feat.py"
    src.write_text(CLI_PROGRAM)
    proc = adc("compile", str(src), "--function", "features")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "feat_grad.py"
    out.write_text(proc.stdout)
    emitted = _load(out)
    original = _load(src)
    got = emitted.features_grad(0.8, 1.1)
    f = original.features
    want = [_central_gradient(f, [0.8, 1.1], i) for i in (0, 1)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- random list-building loops --------------------------------------------------------
HYPOTHESIS = settings(
    max_examples=int(os.environ.get("ADC_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ITEMS = ("x * {i}", "np.sin(x + {i})", "y * x ** 2", "x * y + {i}", "np.exp(-x * y)")
USES = (
    "sum(xs)",
    "sum(xs, y)",
    "np.sum(np.array(xs) ** 2)",
    "xs[0] * xs[-1]",
    "sum(v * w for v, w in zip(xs, xs[1:]))",
    "max(xs)",
    "len(xs) * y",
)


@st.composite
def list_programs(draw):
    """A function building a list in 1-3 loops over ranges known when compiling
    (nested, with appends in both arms of a run-time `if`, with reads of the
    items so far), or comprehensions, then reading it."""
    lines = ["def f(x, y):", "    xs = [y]"]
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(0, 3))
        item = draw(st.sampled_from(ITEMS)).format(i="i")
        other = draw(st.sampled_from(ITEMS)).format(i="len(xs)")
        form = draw(st.sampled_from(["append", "extend", "nested", "if", "concat"]))
        if form == "append":
            lines += [f"    for i in range({n}):", f"        xs.append({item})"]
        elif form == "extend":
            lines += [f"    xs.extend([{item} for i in range({n}) if i != 1])"]
        elif form == "nested":
            lines += [
                f"    for i in range({n}):",
                "        for j in range(i):",
                f"            xs.append(xs[j] * {item})",
            ]
        elif form == "if":
            lines += [
                f"    for i in range({n}):",
                "        if xs[-1] > 0.5:",
                f"            xs.append({item})",
                "        else:",
                f"            xs.append({other})",
            ]
        else:
            lines += [f"    for i in range({n}):", f"        xs = xs + [{item}]"]
    uses = draw(st.lists(st.sampled_from(USES), min_size=1, max_size=3))
    lines.append("    return " + " + ".join(uses))
    return "\n".join(lines) + "\n"


def _check_program(tmp_path, text, point):
    path = tmp_path / f"prog_{abs(hash(text))}.py"
    path.write_text("import numpy as np\n\n\n" + text)
    f = _load(path).f
    _check_grad(f, list(point))
    _check_jvp(f, list(point), np.random.default_rng(0))


@pytest.mark.slow
@HYPOTHESIS
@given(text=list_programs(), point=st.sampled_from(POINTS))
def test_random_list_building_loops_match_central_differences(tmp_path, text, point):
    _check_program(tmp_path, text, point)


@fast(HYPOTHESIS)
@given(text=list_programs(), point=st.sampled_from(POINTS))
def test_random_list_building_loops_match_central_differences_fast(
    tmp_path, text, point
):
    _check_program(tmp_path, text, point)


def negative_run_time_index(x, y, z, n):
    xs = [x, 2 * y, z * z]
    s = 0.0
    for i in range(-1, -n - 1, -1):
        s = s + xs[i] * (i + 5)
    return s


def test_a_negative_run_time_index_picks_from_the_end():
    """xs[i] with i = -1, -2, -3 known only at run time: Python's items from the
    end (the chain of selects once fell through to the last item for all)."""
    g = grad(negative_run_time_index, argnums=(0, 1, 2))(1.0, 2.0, 3.0, 3)
    assert g == (2.0, 6.0, 24.0)
    assert negative_run_time_index(1.0, 2.0, 3.0, 3) == 50.0
