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
@pytest.mark.fast_sample(every=3)  # a subprocess each
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
