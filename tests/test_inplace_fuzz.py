"""Writing in place (ad_compiler/backend/inplace.py) changes no value: a differential test.

Hypothesis writes small NumPy functions that write into arrays one element at a
time (loops, nested loops, branches, aliases, accumulators).  Each is compiled
twice, with in-place writes and with a copy on every write; the gradients and
tangents must agree to 1e-12, match central differences, and leave x unwritten.
"""

import importlib.util
import itertools
import os

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from tiers import fast

import ad_compiler.driver
from ad_compiler import grad, jvp
from ad_compiler.opt.literals import float_literals

SETTINGS = settings(
    max_examples=int(os.environ.get("ADC_HYPOTHESIS_EXAMPLES", "40")),
    derandomize=True,  # the same programs every run: CI is not a lottery
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Inputs: distinct, not integers, none within a difference step of the branches' 0.8.
GRID = (0.31, 0.46, 0.58, 0.71, 0.93, 1.07, 1.22, 1.39, 1.54, 1.68)

_counter = itertools.count()


def load(tmp_path, source):
    """Import ``source`` as a fresh module (ad_compiler reads its file) and return f."""
    name = f"adc_inplace_fuzz_{os.getpid()}_{next(_counter)}"
    path = tmp_path / f"{name}.py"
    path.write_text("import numpy as np\n\n\n" + source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def derivatives(f, x, v):
    """f(x) as jvp computes it, grad f(x), J·v and the emitted gradient's source."""
    x_before = x.copy()
    g = grad(f)
    gradient = g(x)
    assert np.array_equal(x, x_before)
    value, tangent = jvp(f, (x,), (v,))
    assert np.array_equal(x, x_before)
    return value, gradient, tangent, g.source


def check(tmp_path, monkeypatch, source, x):
    """In-place and copying derivatives of ``source`` agree, and match differences.

    Returns the two emitted gradients' sources (in place, copying)."""
    v = np.cos(np.arange(len(x)) + 0.5)
    f = load(tmp_path, source)
    value, g, t, inplace_source = derivatives(f, x, v)
    # A second module of the same source: its compilation shares no cache entry.
    with monkeypatch.context() as m:
        m.setattr(ad_compiler.driver, "emitted_form", float_literals)
        value_c, g_c, t_c, copy_source = derivatives(load(tmp_path, source), x, v)
    np.testing.assert_allclose(value, value_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, g_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t, t_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(value, f(x), rtol=1e-12, atol=1e-12)
    eps = 1e-6
    want = np.array(
        [(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(len(x))]
    )
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t, want @ v, rtol=1e-5, atol=1e-5)
    return inplace_source, copy_source


# --- the generator ------------------------------------------------------------------
# Index expressions valid in each context (n >= 2; i - 1 is -1 when i is 0).
TOP = ("0", "1", "len(x) - 1")
IN_I = ("i", "i - 1", "len(x) - 1 - i", "0")
IN_J = ("i", "j", "i - 1")

# Rebinding y or z makes aliases (`* 1.0` is simplified away: the same array).
MOVES = (
    "s = s + np.sum(y * y)",
    "s = s + np.sum(z * x)",
    "z = y * 1.0",
    "y = z * 1.0",
    "z = y * 0.5",
    "y = y + x",
    "z = y.copy()",
)


def atoms(ctx):
    return st.builds("{}[{}]".format, st.sampled_from("xyz"), st.sampled_from(ctx))


def factors(ctx):
    # Bounded multipliers, so that values stay moderate however often they apply.
    return st.one_of(
        st.sampled_from(("0.5", "1.5", "1.0 / (1.0 + s * s)")),
        atoms(ctx).map("np.sin({})".format),
        st.sampled_from(ctx).map("x[{}]".format),
        st.sampled_from(ctx).map("np.exp(x[{}])".format),
    )


def exprs(ctx):
    return st.one_of(
        st.builds("{} * {}".format, factors(ctx), atoms(ctx)),
        st.builds("{} + {}".format, atoms(ctx), factors(ctx)),
        st.builds("{} - {}".format, atoms(ctx), atoms(ctx)),
    )


def simple(ctx):
    """One line: an element write, an accumulation or a rebinding."""
    write = st.builds(
        "{}[{}] = {}".format, st.sampled_from("yz"), st.sampled_from(ctx), exprs(ctx)
    )
    read = atoms(ctx).map("s = s + {0} * {0}".format)
    return st.one_of(write, write, read, st.sampled_from(MOVES)).map(lambda s: [s])


def indent(lines):
    return ["    " + line for line in lines]


def block(statement):
    return st.lists(statement, min_size=1, max_size=3).map(
        lambda ss: [line for s in ss for line in s]
    )


def branch(test, body):
    def make(then, orelse):
        out = [f"if {test}:", *indent(then)]
        return out + (["else:", *indent(orelse)] if orelse else [])

    return st.builds(make, body, st.one_of(st.just([]), body))


def loop(header, body):
    return st.builds(lambda h, b: [h, *indent(b)], header, body)


in_j = st.one_of(simple(IN_J), branch("x[j] > 0.8", block(simple(IN_J))))
in_i = st.one_of(
    simple(IN_I),
    simple(IN_I),
    branch("x[i] > 0.8", block(simple(IN_I))),
    loop(st.just("for j in range(2):"), block(in_j)),
)
top = st.one_of(
    simple(TOP),
    branch("x[0] > 0.8", block(simple(TOP))),
    loop(
        st.sampled_from(("for i in range(len(x)):", "for i in range(1, len(x)):")),
        block(in_i),
    ),
    loop(
        st.sampled_from(("for i in range(len(x)):", "for i in range(1, len(x)):")),
        block(in_i),
    ),
)


def function(y0, z0, body):
    lines = [f"y = {y0}", f"z = {z0}", "s = 0.0", *body]
    lines.append("return np.sum(y * y) + np.sum(z * x) + s")
    return "def f(x):\n" + "".join(f"    {line}\n" for line in lines)


programs = st.builds(
    function,
    st.sampled_from(("np.zeros(len(x))", "x * 1.0", "x * 1.5")),
    st.sampled_from(("y * 1.0", "x * 0.5", "np.zeros(len(x))", "y.copy()")),
    st.lists(top, min_size=1, max_size=4).map(
        lambda ss: [line for s in ss for line in s]
    ),
)
points = st.lists(st.sampled_from(GRID), min_size=2, max_size=5, unique=True).map(
    np.array
)


# The property twice: the full test (slow) and a fast twin (tests/tiers.py).
@pytest.mark.slow
@SETTINGS
@given(source=programs, x=points)
def test_random_writes_in_place_change_nothing(tmp_path, monkeypatch, source, x):
    note(source)
    check(tmp_path, monkeypatch, source, x)


@fast(SETTINGS, examples=2)
@given(source=programs, x=points)
def test_random_writes_in_place_change_nothing_fast(tmp_path, monkeypatch, source, x):
    note(source)
    check(tmp_path, monkeypatch, source, x)


# --- written by hand --------------------------------------------------------------------
CASES = {
    "previous_element": """def f(x):
    y = np.zeros(len(x))
    y[0] = x[0]
    s = 0.0
    for i in range(1, len(x)):
        y[i] = 0.5 * y[i - 1] + x[i] * y[i - 1]
        s = s + np.sum(y * y)
    return np.sum(y * y) + s
""",
    "write_in_branch": """def f(x):
    y = x * 1.0
    t = 0.0
    for i in range(len(x)):
        z = y * 1.0
        if x[i] > 0.8:
            y[i] = np.sin(x[i]) * y[i - 1]
        else:
            y[i - 1] = y[i] - x[i]
        t = t + np.sum(z * x)
    return np.sum(y * y) + t
""",
    "write_after_carried_loop": """def f(x):
    y = x * 2.0
    for i in range(1, len(x)):
        y[i] = y[i - 1] * x[i]
    z = y * 1.0
    for i in range(len(x)):
        y[i] = y[i] * z[len(x) - 1 - i]
    y[0] = z[1] + np.exp(x[0])
    return np.sum(y * y) + np.sum(z * x)
""",
    "alias_read_after_write": """def f(x):
    y = x * 1.0
    z = y * 1.0
    y[0] = z[1] * x[0]
    s = np.sum(z * x)
    z[1] = y[0] - z[0]
    return np.sum(y * y) + np.sum(z * z) + s
""",
    "nested_double_loop": """def f(x):
    y = np.zeros(len(x))
    s = 0.0
    for i in range(len(x)):
        for j in range(2):
            y[j] = y[j] * x[i] + y[i] + j
            if x[j] > 0.8:
                y[i] = y[i] - np.sin(y[j])
        s = s + y[i] * x[i]
    return np.sum(y * y) + s
""",
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.fast_sample(every=8)
def test_written_cases(tmp_path, monkeypatch, name, n):
    x = np.array((0.93, 0.46, 1.39, 0.71, 1.22)[:n])  # both sides of 0.8
    inplace, copying = check(tmp_path, monkeypatch, CASES[name], x)
    # the comparison means something only if the two emitted codes differ
    assert inplace != copying


# --- bugs these tests found, fixed: each stays as a case ---------------------------------
def fixed(source, failed_with, why):
    """A function the first version of inplace.py got wrong: ``failed_with``
    and ``why`` record how (they are documentation, not checks)."""
    return source


FIXED = {
    "alias_written_twice": fixed(
        """def f(x):
    y = np.zeros(len(x))
    z = y * 1.0
    y[0] = x[0]
    z[0] = x[1]
    return np.sum(y * y) + np.sum(z * x)
""",
        AssertionError,
        "inplace._rewrite: y and z are one IR array (`* 1.0` folds away); the first "
        "write is made in place, then the second is sunk past it and made in place "
        "too, so y and z end up one array: f(x) and grad wrong ([1.38, 0.31], not "
        "[1.08, 0.31] at x = [0.31, 0.46])",
    ),
    "carried_adjoint_becomes_number": fixed(
        """def f(x):
    y = x * 2.0
    y[0] = x[1]
    for i in range(len(x)):
        y = x * 0.5
    return np.sum(y * y)
""",
        TypeError,
        "reverse mode, copying too: the loop sets the carried array's adjoint to the "
        "number 0.0 (`y_2_bar, v7 = 0.0, ...`), then `y_2_bar[0]` is indexed after it",
    ),
    "adjoint_starts_from_folded_read": fixed(
        """def f(x):
    z = x * 1.5
    for i in range(len(x)):
        z = x * 0.5
    s = 0.0
    for i in range(len(x)):
        s = s + x[i]
    return np.sum(z * z) + np.sum(z * x) + s
""",
        AssertionError,
        "x_bar's reverse loop starts from z_1 itself and adds into it in place, but "
        "codegen folds `z_1 * 2.0` into a statement after that loop: grad [2.465, "
        "2.69], not [1.465, 1.69] at x = [0.31, 0.46]",
    ),
    "loop_passes_array_on": fixed(
        """def f(x):
    y = x * 2.0
    z = x * 0.5
    for i in range(len(x)):
        z = y * 1.0
    y[0] = x[1]
    return np.sum(y * y) + np.sum(z * x)
""",
        AssertionError,
        "the loop's carried z is y itself after it, but only loop inits are checked "
        "(_loop_inits), not a loop's next values: y[0] is written in place into z too; "
        "grad [1.08, 6.44], not [1.24, 6.44] at x = [0.31, 0.46]",
    ),
    "later_loop_carries_array_passed_on": fixed(
        """def f(x):
    y = x * 2.0
    z = x * 0.5
    for i in range(len(x)):
        z = y * 1.0
    for i in range(len(x)):
        y[i] = x[i]
    return np.sum(y * y) + np.sum(z * x)
""",
        AssertionError,
        "the second loop's carried y is owned by its init y, which the first loop "
        "passed on as z: writing y writes z; grad [1.55, 2.3], not [1.86, 2.76] "
        "at x = [0.31, 0.46]",
    ),
    "tape_keeps_initial_array": fixed(
        """def f(x):
    y = x * 1.5
    z = y * 1.0
    s = 0.0
    for i in range(len(x)):
        s = s + np.sum(y * y)
        y[i] = x[i]
    return np.sum(z * x) + s
""",
        AssertionError,
        "x_bar's reverse loop starts from y (the adjoint of z * x) and adds into it "
        "in place, but the tape's first entry is y too and is read after: grad "
        "[4.805, 5.52], not [2.945, 5.52] at x = [0.31, 0.46]",
    ),
    "read_before_branch_write": fixed(
        """def f(x):
    z = np.zeros(len(x))
    s = z[1] * z[1]
    if x[0] > 0.8:
        z[1] = x[0]
    else:
        z[1] = x[1] - z[1]
    return np.sum(z * x) + s
""",
        UnboundLocalError,
        "writes in branches (new in the working tree): codegen emits the pending "
        "`v2 = z[1]` inside the first branch only, before its in-place write; the "
        "else branch reads v2 unassigned",
    ),
    "one_array_two_carried_tangents": fixed(
        """def f(x):
    y = x * 1.0
    z = np.zeros(len(x))
    for i in range(1, len(x)):
        y[i] = z[0] + 1.5
        z = y.copy()
    for i in range(1, len(x)):
        z[i] = 1.5 * z[0]
    return np.sum(y * y) + np.sum(z * x)
""",
        AssertionError,
        "jvp: y_dot and z_dot are both carried on as the same array y_2_dot (z's "
        "copy has y's tangent), each taken as owned; the second loop writes z_dot "
        "in place, so y_dot too: J v 5.6757, not 1.7266 at x = [0.31, 0.46]",
    ),
    "write_sunk_past_if_passing_it_on": fixed(
        """def f(x):
    y = np.zeros(len(x))
    z = y * 1.0
    y[0] = x[0]
    if x[0] > 0.8:
        z[1] = x[1]
    return np.sum(y * y) + np.sum(z * x)
""",
        AssertionError,
        "y[0] was moved after the `if` whose else branch passes y on as z "
        "(`z_2 = y`), then written in place, so into z too: grad [0.93, 0], "
        "not [0.62, 0] at x = [0.31, 0.46]",
    ),
    "if_passes_on_a_loop_init": fixed(
        """def f(x):
    y = x * 1.5
    z = y * 1.0
    for i in range(1, len(x)):
        y = z * 1.0
    if x[0] > 0.8:
        z[1] = x[1] - z[1]
    for i in range(1, len(x)):
        y[0] = z[0] - x[i - 1]
    return np.sum(y * y) + np.sum(z * x)
""",
        AssertionError,
        "jvp: the second loop's carried y starts from y, which the else branch "
        "passed on as z; owned by that init, it was written in place, so z too: "
        "J v 0.9242, not 1.1962 at x = [0.31, 0.46]",
    ),
    "next_carried_by_two_loops": fixed(
        """def f(x):
    y = np.zeros(len(x))
    z = x * 0.5
    for i in range(len(x)):
        y[len(x) - 1 - i] = x[i] * y[i]
        y[0] = z[i - 1] + x[0]
        for j in range(2):
            z = y.copy()
    return np.sum(y * y) + np.sum(z * x)
""",
        AssertionError,
        "jvp: y_3_dot is the next value of y_1_dot (outer loop) and of z_2_dot "
        "(inner loop: z's copy has y's tangent); y_1_dot was written in place, so "
        "z_dot too: J v 2.5099, not 4.3449 at x = [0.31, 0.46]",
    ),
    "written_in_an_inner_loop_after_a_copy": fixed(
        """def f(x):
    y = x * 1.0
    z = x * 0.5
    for i in range(1, len(x)):
        y[i] = np.sin(z[0]) * y[len(x) - 1 - i]
        z = y * 0.5
        for j in range(2):
            y[i] = np.exp(x[i]) * y[i]
    return np.sum(y * y) + np.sum(z * x)
""",
        AssertionError,
        "jvp: J v 1.1468, not 1.0466 at x = [0.31, 0.46] (grad right)",
    ),
}


@pytest.mark.parametrize("source", list(FIXED.values()), ids=list(FIXED))
@pytest.mark.fast_sample(every=4)
def test_fixed_bugs(tmp_path, monkeypatch, source):
    check(tmp_path, monkeypatch, source, np.array([0.31, 0.46]))


# A reverse-mode bug (not of writing in place: copying failed the same way), found
# by this generator and fixed: an `if` merging an array's adjoint with a branch
# that has none wrote the number 0.0, which a later iteration then indexed.
BRANCH_ZERO_ADJOINT = """def f(x):
    y = x * 1.0
    z = np.zeros(len(x))
    s = 0.0
    for i in range(len(x)):
        for j in range(2):
            if x[j] > 0.8:
                y = z * 1.0
                y[i] = x[j] - x[j]
            else:
                y = y + x
                z[j] = x[j] - x[j]
                s = s + np.sum(y * y)
            if x[j] > 0.8:
                z[i - 1] = np.sin(y[i]) * y[i - 1]
                y[j] = z[i - 1] + np.exp(x[j])
        s = s + y[i - 1] * y[i - 1]
    return np.sum(y * y) + np.sum(z * x) + s
"""


@pytest.mark.slow  # about a second (four compilations); test_fixed_bugs samples the found bugs
def test_an_if_without_an_array_adjoint_in_one_branch(tmp_path, monkeypatch):
    check(tmp_path, monkeypatch, BRANCH_ZERO_ADJOINT, np.array([0.93, 1.07]))


# Found by this generator, and fixed: the reverse sweep's `if` reads an array
# version made inside the forward `if` (np.sum(z * x)'s adjoint is z), but inside a
# branch only the branch's results counted as read after it, so the branch's next
# write into z was made in place.
BRANCH_VERSION_READ_BY_REVERSE_SWEEP = """def f(x):
    z = np.zeros(len(x))
    s = 0.0
    if x[0] < 0.8:
        z[0] = x[0]
        s = np.sum(z * x)
        z[1] = x[1]
    return np.sum(z * x) + s
"""


def test_an_array_version_made_in_a_branch_read_by_the_reverse_sweep(
    tmp_path, monkeypatch
):
    check(
        tmp_path,
        monkeypatch,
        BRANCH_VERSION_READ_BY_REVERSE_SWEEP,
        np.array([0.31, 0.46]),
    )
