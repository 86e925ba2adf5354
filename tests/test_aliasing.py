"""Writes through a name the alias check must see (issue 14): a view made by a
NumPy function or method, an inlined callee writing into its parameter, a loop
variable over a tuple of arrays.  Each is refused, never silently wrong."""

import numpy as np
import pytest

from ad_compiler import grad
from ad_compiler.errors import CompileError


def a11(X):
    Y = np.reshape(X, (4,))
    Y[0] = 0.0
    return np.sum(X**2)


def np_squeeze(X):
    Y = np.squeeze(X)
    Y[0] = 0.0
    return np.sum(X**2)


def np_transpose(X):
    Y = np.transpose(X)
    Y[0] = 0.0
    return np.sum(X**2)


def np_expand_dims(X):
    Y = np.expand_dims(X, 0)
    Y[0] = 0.0
    return np.sum(X**2)


def method_reshape(X):
    Y = X.reshape(4)
    Y[0] = 0.0
    return np.sum(X**2)


def method_transpose(X):
    Y = X.transpose()
    Y[0] = 0.0
    return np.sum(X**2)


def method_squeeze(X):
    Y = X.squeeze()
    Y[0] = 0.0
    return np.sum(X**2)


def attribute_T(X):
    Y = X.T
    Y[0] = 0.0
    return np.sum(X**2)


def nested_views(X):
    Y = np.reshape(np.transpose(X[:]), (4,))
    Y[0] = 0.0
    return np.sum(X**2)


def written_source(X):
    Y = np.reshape(X, (4,))
    X[0] = 0.0
    return np.sum(Y**2)


VIEWS = [
    a11,
    np_squeeze,
    np_transpose,
    np_expand_dims,
    method_reshape,
    method_transpose,
    method_squeeze,
    attribute_T,
    nested_views,
]


@pytest.mark.parametrize("f", VIEWS, ids=lambda f: f.__name__)
def test_a_write_into_a_view_is_refused(f):
    with pytest.raises(CompileError) as info:
        grad(f)(np.arange(1.0, 5.0).reshape(2, 2))
    assert info.value.message.startswith(
        "`Y` may share its array with `X`, and `Y` is written into (line "
    )
    assert info.value.hint.startswith("make a copy: Y = ")


def test_a_write_into_the_source_of_a_view_is_refused():
    with pytest.raises(CompileError, match="`Y` may share its array with `X`, and `X`"):
        grad(written_source)(np.arange(1.0, 5.0).reshape(2, 2))


def copied(X):
    Y = np.reshape(X, (4,)).copy()
    Y[0] = 0.0
    return np.sum(X**2) + np.sum(Y)


def test_a_write_into_a_copy_of_a_view_is_fine():
    X = np.arange(1.0, 5.0).reshape(2, 2)
    np.testing.assert_allclose(grad(copied)(X), 2 * X + [[0.0, 1.0], [1.0, 1.0]])


def zero_first(Z):
    Z[0] = Z[0] * 0.0
    return 1.0


def a6(X):
    s = zero_first(X)
    return np.sum(X * X) * s


def add_one(Z):
    Z += 1.0
    return 1.0


def a6_in_place(X):
    s = add_one(X)
    return np.sum(X * X) * s


def a6_view(X):
    s = zero_first(X.T)
    return np.sum(X * X) * s


def a6_fresh(X):
    s = zero_first(X * 1.0)
    return np.sum(X * X) * s


def test_a_callee_writing_into_a_callers_array_is_refused():
    X = np.arange(1.0, 5.0).reshape(2, 2)
    for f in (a6, a6_view):
        with pytest.raises(CompileError) as info:
            grad(f)(X)
        assert info.value.message.startswith(
            "`Z` may share its array with `X`, and `Z` is written into (line "
        )
        assert info.value.loc.line == f.__code__.co_firstlineno + 1
    with pytest.raises(CompileError, match="`Z` may share its array with `X`"):
        grad(a6_in_place)(X)
    # a new array as the argument: nothing of the caller's is changed
    np.testing.assert_allclose(grad(a6_fresh)(X), 2 * X)


def a7(X):
    for W in (X, X):
        W[0] = W[0] * 2.0
    return np.sum(X * X)


def a7_named(X):
    T = (X, X)
    for W in T:
        W[0] = W[0] * 2.0
    return np.sum(X * X)


def test_a_loop_variable_over_a_tuple_of_arrays_is_an_alias():
    X = np.arange(1.0, 5.0).reshape(2, 2)
    with pytest.raises(CompileError, match="`W` may share its array with `X`"):
        grad(a7)(X)
    with pytest.raises(CompileError, match="`W` may share its array with `T`"):
        grad(a7_named)(X)


@pytest.mark.parametrize("f", [a11, a6, a7], ids=lambda f: f.__name__)
@pytest.mark.slow  # a subprocess each; test_a_write_into_a_view_is_refused is fast
def test_the_cli_refuses_too(f, tmp_path):
    import inspect
    import subprocess
    import sys

    src = "import numpy as np\n\n\n" + inspect.getsource(zero_first)
    src += "\n\n" + inspect.getsource(f)
    path = tmp_path / "m.py"
    path.write_text(src)
    out = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(path)]
        + ["--function", f.__name__, "--shape", "X=2,2"],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "may share its array with `X`" in out.stderr


def ident(z):
    return z


def view_of(z):
    w = z.T
    return w


def new_of(z):
    return z * 2.0


def through_ident(X):
    Y = ident(X)
    Y[0] = 0.0
    return np.sum(X**2)


def through_a_view_of(X):
    Y = view_of(z=X)
    Y[0] = 0.0
    return np.sum(X**2)


def through_a_new_array(X):
    Y = new_of(X)
    Y[0] = 0.0
    return np.sum(X**2) + np.sum(Y)


def test_a_user_function_returning_its_argument_is_an_alias():
    X = np.arange(1.0, 5.0).reshape(2, 2)
    for f in (through_ident, through_a_view_of):
        with pytest.raises(CompileError, match="`Y` may share its array with `X`"):
            grad(f)(X)
    np.testing.assert_allclose(
        grad(through_a_new_array)(X), 2 * X + [[0.0, 0.0], [2.0, 2.0]]
    )


# --- issue 16: an alias that cannot observe a write is fine ----------------------------
def view_after_the_last_write(x):
    a = np.zeros(3)
    a[0] = x[0] * x[1]
    b = a.T
    return np.sum(b * x)


def slice_after_a_fill_loop(x):
    h = np.zeros(3)
    for i in range(3):
        h[i] = x[i] ** 2
    out = h[1:]
    return np.sum(out * out)


def row_reads_after_the_writes(x):
    s2 = np.zeros((3, 3))
    for i in range(3):
        s2[i] = x * (i + 1.0)
    t = 0.0
    for i in range(3):
        r = s2[i]
        t = t + np.sum(r**2)
    return t


def recurrence_through_a_named_row(x):
    h = np.zeros((4, 3))
    h[0] = x
    for t in range(1, 4):
        prev = h[t - 1]  # read before the write, bound anew before read again
        h[t] = np.tanh(prev * 0.5 + 1.0)
    return np.sum(h)


def alias_never_read_after(x):
    a = x * 1.0
    b = a[1:]
    s = np.sum(b)
    a[0] = 3.0
    return np.sum(a) * s


SAFE = [
    view_after_the_last_write,
    slice_after_a_fill_loop,
    row_reads_after_the_writes,
    recurrence_through_a_named_row,
    alias_never_read_after,
]


@pytest.mark.fast_sample(every=2)
@pytest.mark.parametrize("f", SAFE, ids=lambda f: f.__name__)
def test_an_alias_no_later_write_reaches_is_accepted(f):
    from ad_compiler import jvp

    x = np.array([0.3, 0.7, 1.1])
    h = 1e-6
    expected = np.array(
        [(f(x + e) - f(x - e)) / (2 * h) for e in np.eye(3) * h], dtype=float
    )
    np.testing.assert_allclose(grad(f)(x), expected, rtol=1e-6, atol=1e-8)
    v = np.array([1.0, -2.0, 0.5])
    assert jvp(f, (x,), (v,))[1] == pytest.approx(expected @ v, rel=1e-6)


def write_then_read_in_the_next_iteration(x):
    a = x * 1.0
    b = a[1:]
    for i in range(3):
        if i > 0:
            x = x + np.sum(b)
        a[i] = x[i]
    return np.sum(a)


def write_in_a_branch(x):
    a = x * 1.0
    b = a.T
    if x[0] > 0:
        a[0] = 5.0
    return np.sum(b)


def write_seen_through_a_chain(x):
    a = x * 1.0
    b = a[:]
    c = b[1:]
    a[0] = 3.0
    return np.sum(c)


def augmented_write(x):
    a = x * 1.0
    b = a[:]
    a += 1.0
    return np.sum(b)


def row_written_while_bound(x):
    h = np.zeros((3, 3))
    h[0] = x
    for t in range(1, 3):
        prev = h[t - 1]
        h[t - 1] = prev * 2.0
        h[t] = prev
    return np.sum(h)


# each: the write's line and the read's line, from the def
UNSAFE = [
    (write_then_read_in_the_next_iteration, 6, 5, "`b`"),
    (write_in_a_branch, 4, 5, "`b`"),
    (write_seen_through_a_chain, 4, 5, "`c`"),
    (augmented_write, 3, 4, "`b`"),
    (row_written_while_bound, 5, 6, "`prev`"),
]


@pytest.mark.parametrize(
    "f, write, read, seen", UNSAFE, ids=[u[0].__name__ for u in UNSAFE]
)
def test_an_alias_a_later_write_reaches_is_refused(f, write, read, seen):
    first = f.__code__.co_firstlineno
    with pytest.raises(CompileError) as info:
        grad(f)(np.array([0.3, 0.7, 1.1]))
    message = info.value.message
    assert "may share its array with" in message
    assert f"is written into (line {first + write}) before {seen} is read" in message
    assert f"(line {first + read}" in message


@pytest.mark.slow  # a subprocess; test_an_alias_no_later_write_reaches_is_accepted covers the rule
def test_the_cli_accepts_a_view_taken_after_the_writes(tmp_path):
    import inspect
    import subprocess
    import sys

    src = "import numpy as np\n\n\n" + inspect.getsource(slice_after_a_fill_loop)
    path = tmp_path / "m.py"
    path.write_text(src)
    out = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(path)]
        + ["--shape", "x=3"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    namespace: dict = {}
    exec(out.stdout, namespace)
    x = np.array([0.3, 0.7, 1.1])
    np.testing.assert_allclose(
        namespace["slice_after_a_fill_loop_grad"](x),
        [0.0, 4 * x[1] ** 3, 4 * x[2] ** 3],
    )


def write_into_a_view_of_an_argument(x):
    a = x[1:]
    a[0] = 3.0
    return np.sum(a * a)


def test_a_write_into_a_view_of_an_argument_is_seen_by_the_caller():
    with pytest.raises(CompileError) as info:
        grad(write_into_a_view_of_an_argument)(np.ones(3))
    assert info.value.message.endswith(
        "before `x` is read (by the caller, which passed it): Python would change both"
    )


def write_on_each_path(x):
    a = x * 1.0
    b = a.T
    if x[0] > 0:
        a[0] = 1.0
        return np.sum(a)
    a[1] = 2.0
    return np.sum(b)


def test_the_write_named_is_one_the_read_can_see():
    first = write_on_each_path.__code__.co_firstlineno
    with pytest.raises(CompileError) as info:
        grad(write_on_each_path)(np.ones(3))
    assert f"written into (line {first + 6}) before `b` is read (line {first + 7})" in (
        info.value.message
    )
