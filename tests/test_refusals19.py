"""False refusals and misleading errors found in review 18 (session 19).

What now compiles is checked against central differences; what must still be
refused is checked for its wording and its place (file:line:col).
"""

import inspect

import numpy as np
import pytest
from test_loop_tapes import central  # central differences of a scalar function

from ad_compiler import grad
from ad_compiler.errors import CompileError, UnsupportedError


def where(f, text: str) -> str:
    """``file:line:col`` of the first line of ``f``'s source containing ``text``
    (col is where ``text`` starts, 1-based)."""
    lines, first = inspect.getsourcelines(f)
    for k, line in enumerate(lines):
        if text in line:
            return f"{inspect.getsourcefile(f)}:{first + k}:{line.index(text) + 1}"
    raise AssertionError(text)


# --- 1. `s = A[j]` is a number when A has one axis ---------------------------------


def item_kept_2d(x):
    A = x * 1.0
    s = A[0, 1]  # all of A's axes indexed: a number
    A[0, 1] = 5.0
    return s * np.sum(A)


def item_in_loop_1d(x):
    n = x.shape[0]
    A = np.ones(n)
    t = 0.0
    for j in range(n):
        s = A[j]
        A[j] = A[j] * x[j] + s
        t = t + s * A[(j + 1) % n]
    return t


@pytest.mark.parametrize("f", [item_kept_2d, item_in_loop_1d])
def test_an_item_read_before_a_write_is_a_copy(f):
    x = np.random.default_rng(0).uniform(-0.9, 0.9, (4, 3))
    x = x if f is item_kept_2d else x[:, 0].copy()
    np.testing.assert_allclose(grad(f)(x), central(f, x), rtol=1e-6, atol=1e-8)


def row_view_2d(x):
    A = x * 1.0
    s = A[0]  # a row: a view of A
    A[0, 1] = 5.0
    return np.sum(s * A)


def test_a_row_read_before_a_write_is_still_refused_as_a_view():
    with pytest.raises(UnsupportedError) as info:
        grad(row_view_2d)(np.ones((4, 3)))
    text = str(info.value)
    assert text.startswith(where(row_view_2d, "s = A[0]") + ": error: ")
    assert "`s` may share its array with `A`" in text
    assert "hint: make a copy: s = A[0].copy()" in text


# --- 3. grad of a function that does not return one number ------------------------


def outer_of(x):
    y = x * 2.0
    return np.outer(y, x)


def two_values(x, y):
    return x + y, x * y


def test_grad_of_an_array_names_the_shape_of_this_call_at_the_return():
    from ad_compiler import value_and_grad
    from ad_compiler.errors import ResultShapeError, UsageError

    for make, kind in ((grad, "grad"), (value_and_grad, "value_and_grad")):
        with pytest.raises(ResultShapeError) as info:
            make(outer_of)(np.ones(3))
        assert isinstance(info.value, UsageError)  # what callers caught before
        text = str(info.value)
        assert text.startswith(
            where(outer_of, "np.outer(y, x)")
            + f": error: {kind}() needs `outer_of` to return a scalar (one number), but it "
            "returns an array of shape (3, 3)\n"
        )
        assert "    return np.outer(y, x)\n" in text
        assert "hint: for the derivatives of every output use jacrev(outer_of)" in text
        assert "vjp(outer_of, ...)" in text


def test_grad_and_hessian_of_a_tuple_are_located_with_their_own_names():
    from ad_compiler import hessian
    from ad_compiler.errors import ResultShapeError

    with pytest.raises(ResultShapeError) as info:
        grad(two_values)(1.0, 2.0)
    assert str(info.value).startswith(
        where(two_values, "x + y, x * y") + ": error: grad() needs `two_values` "
        "to return a scalar (one number), but it returns a tuple of 2 values"
    )
    for args in ((1.0, 2.0), (np.ones(2), np.ones(2))):
        with pytest.raises(ResultShapeError) as info:
            hessian(two_values)(*args)
        text = str(info.value)
        assert (
            ": error: hessian() needs `two_values` to return a scalar (one number)"
            in text
        )
        assert "hint: for the second derivatives of every output use " in text
        assert "jacfwd(jacrev(two_values))" in text


def test_hessian_of_an_array_names_the_shape_of_this_call():
    from ad_compiler import hessian

    with pytest.raises(CompileError) as info:
        hessian(outer_of)(np.ones(4))
    assert (
        "hessian() needs `outer_of` to return a scalar (one number), but it returns an "
        in (str(info.value))
    )
    assert "array of shape (4, 4)" in str(info.value)


# --- 6. np.bincount with weights -----------------------------------------------------

LABELS = np.array([0, 2, 2, 1, 4, 2, 0])


def weighted_sums(w, labels, centers):
    """Per-cluster sums of squared weights, then a smooth function of them."""
    sums = np.bincount(labels, weights=w * w, minlength=len(centers))
    counts = np.bincount(labels, np.ones(len(labels)), len(centers))
    return np.sum(np.sin(sums) * centers / (counts + 1.0))


def test_bincount_is_linear_in_its_weights_in_every_mode():
    from ad_compiler import hessian, jacfwd, jacrev

    w = np.linspace(0.1, 0.9, 7)
    centers = np.arange(1.0, 7.0)  # minlength 6 > max(labels) + 1

    def f(v):
        return weighted_sums(v, LABELS, centers)

    want = central(f, w)
    for d in (grad, jacfwd, jacrev):
        np.testing.assert_allclose(
            d(weighted_sums)(w, LABELS, centers), want, rtol=1e-6, atol=1e-8
        )
    H = hessian(weighted_sums)(w, LABELS, centers)
    H_fd = np.array(
        [
            central(lambda v: grad(weighted_sums)(v, LABELS, centers)[k], w)
            for k in range(7)
        ]
    )
    np.testing.assert_allclose(H, H_fd, rtol=1e-5, atol=1e-7)


def unweighted_counts(x, labels):
    return np.sum(x * np.bincount(labels))


def test_bincount_without_weights_is_refused_with_a_float_spelling():
    with pytest.raises(UnsupportedError) as info:
        grad(unweighted_counts)(np.ones(5), LABELS)
    text = str(info.value)
    assert text.startswith(
        where(unweighted_counts, "np.bincount(labels)")
        + ": error: `np.bincount` without weights (integer counts) is not supported"
    )
    assert (
        "hint: count in floats: np.bincount(labels, weights=np.ones(len(labels)))"
        in (text)
    )


# --- 5. a list of rows whose items are rebound --------------------------------------


def rows_rebound(x):
    state = np.tanh(x)
    hidden = []
    for i in range(3):
        hidden.append(state[i])  # views of state's rows
    new_row = hidden[0] * 2.0
    hidden[0] = new_row  # rebinds the item: state is not written
    for t in range(2):
        hidden[1] = hidden[1] * hidden[2]
    return np.sum(hidden[0] * hidden[1]) + np.sum(state)


def test_rebinding_an_item_of_a_list_of_rows_writes_no_array():
    x = np.random.default_rng(1).uniform(-0.9, 0.9, (3, 4))
    np.testing.assert_allclose(
        grad(rows_rebound)(x), central(rows_rebound, x), rtol=1e-6, atol=1e-8
    )


def row_written_after_append(x):
    state = np.tanh(x)
    hidden = []
    for i in range(3):
        hidden.append(state[i])
    state[1] = state[1] * 3.0  # hidden[1] is that row: Python changes it too
    return np.sum(hidden[1])


def row_stored_in_a_slot(x):
    state = np.tanh(x)
    hidden = [state[0] * 1.0]
    hidden[0] = state[1]
    state[1] = state[1] * 3.0
    return np.sum(hidden[0])


def row_added_by_plus(x):
    state = np.tanh(x)
    hidden = []
    hidden += [state[1]]
    state[1] = state[1] * 3.0
    return np.sum(hidden[0])


@pytest.mark.parametrize(
    "f,at,hint",
    [
        (row_written_after_append, "hidden.append(state[i])", "append a copy: "),
        (row_stored_in_a_slot, "hidden[0] = state[1]", "store a copy: "),
        (row_added_by_plus, "hidden += [state[1]]", "add copies: "),
    ],
)
def test_a_row_held_by_a_list_and_then_written_is_refused(f, at, hint):
    # (the last two were differentiated silently wrong before: the list's item
    # was not seen to share state's row)
    with pytest.raises(UnsupportedError) as info:
        grad(f)(np.ones((3, 4)))
    text = str(info.value)
    assert text.startswith(
        where(f, at) + ": error: an item of `hidden` may share its array with "
        "`state`, and `state` is written into"
    )
    assert "hint: " + hint in text


def run_time_list_assigned_in_a_loop(x):
    n = x.shape[0]
    hidden = []
    for i in range(n):
        hidden.append(x[i] * 1.0)
    for t in range(n):
        hidden[t] = hidden[t] * 2.0
    return np.sum(hidden[0][0:2])


def test_a_run_time_list_assigned_into_in_a_loop_is_refused_for_what_it_is():
    # (was "indexing a number" at the read after the loop: the list was
    # carried through the loop as if an array)
    with pytest.raises(UnsupportedError) as info:
        grad(run_time_list_assigned_in_a_loop)(np.ones((3, 4)))
    text = str(info.value)
    assert text.startswith(
        where(run_time_list_assigned_in_a_loop, "hidden[t] = ")
        + ": error: `hidden` is a list whose length is known only at run time; "
        "it can be appended to, not reassigned or assigned into"
    )


# --- 2 and 4. recursive functions of arrays: grad, and hessian --------------------------


def product_down(x, n):
    return x[0] if n == 0 else x[n] * product_down(x, n - 1)


def sin_tail(x):
    if x.shape[0] == 1:
        return x[0] * x[0]
    return np.sin(x[0]) * sin_tail(x[1:])  # a shorter array at each call


def layers(W, v, n):
    if n == 0:
        return np.sum(v * v)
    return layers(W, np.tanh(W @ v), n - 1)  # `@` needs the ranks of W and v


X4 = np.array([1.1, 0.7, 1.3, 0.9])
W4 = np.random.default_rng(0).normal(size=(4, 4)) * 0.5


@pytest.mark.parametrize(
    "f,args",
    [(product_down, (X4, 3)), (sin_tail, (X4,)), (layers, (W4, X4, 2))],
    ids=["product_down", "sin_tail", "layers"],
)
def test_grad_of_a_recursive_function_indexing_its_array(f, args):
    # (was "indexing a number": the recursive function was compiled for numbers)
    x = args[0]
    rest = args[1:]
    np.testing.assert_allclose(
        grad(f)(*args), central(lambda v: f(v, *rest), x), rtol=1e-6, atol=1e-8
    )


@pytest.mark.parametrize(
    "f,args",
    [(product_down, (X4, 3)), (sin_tail, (X4,)), (layers, (W4, X4, 2))],
    ids=["product_down", "sin_tail", "layers"],
)
@pytest.mark.fast_sample(first=1)
def test_hessian_of_a_recursive_function_of_arrays(f, args):
    # (was refused: vector mode cannot pass directions through the emitted
    # recursive call; one Hessian-vector product per direction instead)
    from ad_compiler import hessian

    at = 1 if f is layers else 0  # layers: with respect to v
    x, rest = args[at], args[:at] + args[at + 1 :]

    def gradient(v):
        full = rest[:at] + (v,) + rest[at:]
        return grad(f, at)(*full)

    H = hessian(f, at)(*args)
    want = np.array([central(lambda v: gradient(v)[k], x) for k in range(len(x))])
    np.testing.assert_allclose(H, want, rtol=1e-5, atol=1e-6)


def numbers_appended_then_written(x):
    state = np.tanh(x)
    n = x.shape[0]
    fixed, grown = [], []
    for i in range(3):
        fixed.append(state[i])  # numbers: copies
    for i in range(n):
        grown.append(state[i])  # a list whose length is known at run time
    state[1] = state[1] * 3.0
    return fixed[1] * grown[2] + fixed[0] * np.sum(state)


def test_numbers_appended_from_a_vector_are_copies():
    x = np.random.default_rng(2).uniform(-0.9, 0.9, 5)
    np.testing.assert_allclose(
        grad(numbers_appended_then_written)(x),
        central(numbers_appended_then_written, x),
        rtol=1e-6,
        atol=1e-8,
    )
    with pytest.raises(UnsupportedError, match="an item of `fixed` may share"):
        grad(numbers_appended_then_written)(np.ones((5, 2)))  # rows: views


def test_jacobians_of_a_recursive_function_of_arrays():
    # (were refused like the Hessian: one jvp or vjp per direction now)
    from ad_compiler import hessian, jacfwd, jacrev

    H = hessian(product_down)(X4, 3)
    for jac in (jacfwd, jacrev):
        np.testing.assert_allclose(jac(grad(product_down))(X4, 3), H, rtol=1e-10)
        np.testing.assert_allclose(
            jac(product_down)(X4, 3), grad(product_down)(X4, 3), rtol=1e-12
        )


RECURSIVE_FILE = """import numpy as np


def product_down(x, n):
    return x[0] if n == 0 else x[n] * product_down(x, n - 1)


def uses(x):
    return product_down(x, 3) + np.sum(x)
"""


def test_the_cli_hessian_of_recursive_array_code_names_the_one_direction_modes(
    tmp_path, capsys
):
    from ad_compiler.tools.cli import main

    path = tmp_path / "rec.py"
    path.write_text(RECURSIVE_FILE)
    args = [str(path), "--function", "uses", "--shape", "x=n"]
    assert main(["compile", *args, "--mode", "hessian"]) == 1
    err = capsys.readouterr().err
    assert f"{path}:5:39: error: a call of a recursive function is not supported" in err
    assert "hint: take one direction per call: `adc compile --mode hvp`" in err
    out = tmp_path / "rec_hvp.py"
    assert main(["compile", *args, "--mode", "hvp", "-o", str(out)]) == 0
    namespace: dict = {}
    exec(out.read_text(), namespace)
    v = np.array([0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(
        namespace["uses_hvp"](X4, v),
        central(lambda y: grad(product_down)(y, 3) @ v, X4),
        rtol=1e-6,
    )
