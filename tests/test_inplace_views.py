"""Views alias their base; pushed views are copied; accumulations add in place.

ad_compiler/backend/inplace.py lets ``y[i] = v`` write into ``y`` while views of
``y`` (rows, ``.T``, reshapes) exist, as long as none of them is read after the
write or kept (carried, pushed, returned).  Each case is compiled twice, in
place and copying on every write (the differential check of
``test_inplace_fuzz``), and checked against central differences; the emitted
sources are checked for which writes happen in place.
"""

import math
from dataclasses import replace

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import assume, given, note
from test_inplace_fuzz import SETTINGS, block, branch, check, indent, load
from tiers import fast

import ad_compiler.driver
from ad_compiler import grad, jvp, vjp
from ad_compiler.backend.codegen import emit_function, helpers_for, imports_for
from ad_compiler.backend.inplace import in_place
from ad_compiler.errors import UnsupportedError
from ad_compiler.ir.nodes import Eqn, Var
from ad_compiler.opt.literals import float_literals

# Functions of a vector x of 6 numbers, seen as a 3 x 2 (or 2 x 3) matrix.
CASES = {
    # reads the previous row, a view of the array it writes: linear, in place
    "previous_row": """def f(x):
    a = np.reshape(x, (3, 2))
    y = np.zeros((3, 2))
    y[0] = a[0]
    for i in range(1, 3):
        y[i] = 0.5 * y[i - 1] + np.sin(a[i])
    return np.sum(y * y)
""",
    # the reverse sweep reads old rows: y's versions are taped (copies)
    "rows_read_by_the_reverse_sweep": """def f(x):
    a = np.reshape(x, (3, 2))
    y = a * 1.0
    for i in range(1, 3):
        y[i] = y[i] * np.cos(y[i - 1])
    return np.sum(y * y)
""",
    # rows written in branches, reading the previous row in one of them
    "rows_in_branches": """def f(x):
    a = np.reshape(x, (3, 2))
    y = np.zeros((3, 2))
    for i in range(3):
        if x[i] > 0.6:
            y[i] = a[i] * y[i - 1]
        else:
            y[i] = np.sin(a[i])
    return np.sum(y * a)
""",
    # columns, reading the previous column (j - 1 is -1 first)
    "column_writes": """def f(x):
    a = np.reshape(x, (2, 3))
    y = np.zeros((2, 3))
    for j in range(3):
        y[:, j] = a[:, j] * np.cos(y[:, j - 1])
    return np.sum(y**2)
""",
    # a row view carried to the next iteration: the array is shared
    "carried_view": """def f(x):
    y = np.reshape(x, (3, 2)) * 1.0
    prev = y[0]
    for i in range(1, 3):
        y[i] = y[i] + np.sin(prev)
        prev = y[i]
    return np.sum(y * y)
""",
    # a recurrence whose weights' adjoint accumulates every step
    "accumulated_outer": """def f(x):
    a = np.reshape(x, (3, 2))
    W = np.zeros((2, 2))
    h = a[0] * 1.0
    for i in range(3):
        h = np.tanh(a[i] + h * x[0])
        W = W + np.outer(h, h)
    return np.sum(W * W)
""",
}

X6 = np.array([0.31, 0.46, 0.58, 0.71, 0.93, 1.07])


@pytest.mark.parametrize("name", CASES)
@pytest.mark.fast_sample(every=6)
def test_views_in_place_change_nothing(tmp_path, monkeypatch, name):
    check(tmp_path, monkeypatch, CASES[name], X6.copy())


def lines(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines()]


def smooth_rows(x):
    """y_0 = x_0, y_i = y_(i-1) / 2 + x_i, row by row; sum of squares."""
    y = np.zeros(x.shape)
    y[0] = x[0]
    for i in range(1, x.shape[0]):
        y[i] = 0.5 * y[i - 1] + x[i]
    return np.sum(y * y)


def central(f, x, eps=1e-6):
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = eps
        out[k] = (f(x + e) - f(x - e)) / (2 * eps)
    return out


def test_a_row_loop_reading_the_previous_row_writes_in_place():
    x = np.random.default_rng(0).normal(size=(5, 3))
    g = grad(smooth_rows)
    np.testing.assert_allclose(g(x), central(smooth_rows, x), rtol=1e-6, atol=1e-8)
    src = lines(g.source)
    assert not any("_assign(y_2" in line for line in src)  # the loops copy nothing
    assert any(line.startswith("y_2[i] = ") for line in src)  # the forward loop
    assert "y_2_bar[i_1] = 0.0" in src  # the reverse loop zeroes the row it read
    v = np.ones_like(x)
    _, t = jvp(smooth_rows, (x,), (v,))
    assert t == pytest.approx(np.sum(central(smooth_rows, x)), rel=1e-6)


def rnn(x, W):
    """An RNN: the reverse sweep adds h_t's outer product into W̄ every step."""
    h = np.zeros(W.shape[0])
    s = 0.0
    for t in range(x.shape[0]):
        h = np.tanh(W @ h + x[t])
        s = s + np.sum(h * h)
    return s


def test_a_recurrent_weights_adjoint_accumulates_in_place():
    rng = np.random.default_rng(3)
    x, W = rng.normal(size=(5, 3)), 0.4 * rng.normal(size=(3, 3))
    g = grad(rnn, 1)
    got = g(x, W)
    assert any(line.startswith("W_bar += np.outer(") for line in lines(g.source))
    eps = 1e-6
    want = np.zeros_like(W)
    for k in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[k] = eps
        want[k] = (rnn(x, W + e) - rnn(x, W - e)) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def int_accumulator(x):
    """An int array accumulates a float vector: ``+=`` would raise."""
    c = np.arange(len(x))
    for i in range(3):
        c = c + x * i
    return np.sum(c * x)


def test_an_int_accumulator_is_not_added_into():
    x = np.linspace(0.2, 1.1, 4)
    g = grad(int_accumulator)
    assert g(x) == pytest.approx(2 * 3 * x + np.arange(4))
    assert not any(" += " in line for line in lines(g.source))
    _, t = jvp(int_accumulator, (x,), (np.ones(4),))
    assert t == pytest.approx(np.sum(6 * x + np.arange(4)))


# --- a view pushed on a tape -----------------------------------------------------


def sin_rows(x):
    y = np.zeros(x.shape)
    y[0] = x[0]
    for i in range(1, x.shape[0]):
        y[i] = np.sin(y[i - 1]) + x[i]
    return np.sum(y * y)


def run(fn, *args):
    src = "\n".join(imports_for([fn]) + helpers_for([fn])) + "\n" + emit_function(fn)
    scope = {"math": math, "np": np}
    exec(src, scope)
    return scope[fn.name](*args), src


def test_a_pushed_row_is_copied_and_the_writes_happen_in_place():
    """The reverse sweep tapes the row y[i - 1] its adjoint reads (a storing
    loop, ad/reverse.py): a view of y, which the loop writes, so the tape gets
    a copy made right after it, and y is written in place."""
    g = grad(sin_rows)
    x = np.random.default_rng(1).uniform(0.2, 1.0, size=(6, 3))
    got = g(x)
    eps = 1e-6
    for idx in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[idx] = eps
        fd = (sin_rows(x + e) - sin_rows(x - e)) / (2 * eps)
        assert got[idx] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    src_lines = lines(g.source)
    copies = [  # (spelled v.copy(): a copy of an array NumPy made)
        line.split(" = ")[0]
        for line in src_lines
        if "= np.copy(v" in line or ("= v" in line and line.endswith(".copy()"))
    ]
    assert any(f"tape.append((i, {c}))" in src_lines for c in copies), g.source
    assert any(line.startswith("y_2[i] = ") for line in src_lines), g.source
    assert not any("_assign(y_2" in line for line in src_lines), g.source


# --- a view read after the write (only the compiler makes such IR) ---------------


def transposed_row(x):
    y = x * 2.0
    r = y.T[1]
    s = r * 3.0
    y[0] = np.sum(s)
    return np.sum(y * y)


def after_the_write(*late):
    """The first six equations of transposed_row's gradient (y = 2x, r = y.T[1]
    a view of a view, y_1 = y with y[0] = sum(3r)) and then ``late``."""
    g = grad(transposed_row)
    g(np.ones((3, 2)))
    head = g.ir.body[:6]
    assert [e.prim for e in head][1:3] == ["transpose", "getitem"]
    assert head[-1].prim == "setitem" and head[-1].out == Var("y_1")
    return replace(g.ir, body=head + late, results=(late[-1].out,))


def eqn(prim, out, *ins, ns="py"):
    return Eqn(
        prim,
        (Var(out),),
        tuple(Var(a) if isinstance(a, str) else a for a in ins),
        None,
        ns,
    )


def test_a_view_read_with_the_written_array_forces_the_copy():
    # w = r @ y_1 reads both: r must still be the column before the write
    fn = after_the_write(eqn("matmul", "w", "r", "y_1"), eqn("sum", "t", "w", ns="np"))
    x = np.arange(6.0).reshape(3, 2)
    y = 2 * x
    r = y.T[1].copy()
    y[0] = np.sum(3 * r)
    want = np.sum(r @ y)
    assert run(fn, x)[0] == want
    got, src = run(in_place(fn), x)
    assert got == want
    assert "_assign(" in src


def test_a_view_read_before_the_write_lets_it_happen_in_place():
    # r is read (as w) after the write in the IR, but w does not need y_1:
    # the write moves below it and happens in place
    fn = after_the_write(
        eqn("mul", "w", "r", "r"),
        eqn("sum", "u", "w", ns="np"),
        eqn("sum", "v", "y_1", ns="np"),
        eqn("add", "t", "u", "v"),
    )
    x = np.arange(6.0).reshape(3, 2)
    want, _ = run(fn, x)
    got, src = run(in_place(fn), x)
    assert got == want
    assert "_assign(" not in src and "y[0] = " in src


# --- random row programs: in place and copying agree ----------------------------
# x is 3 x 2, and so is y, written row by row (and column by
# column), reading other rows, its previous row and views of itself.

ROWS = ("y[i]", "y[i - 1]", "y[2 - i]", "y[0]", "a[i]", "a[2 - i]")
COLUMN_WRITES = (
    "y[:, i % 2] = 0.7 * y[:, 1 - i % 2] + a[:, i % 2]",
    "y[:, 1] = np.sin(y[:, 0]) * x[i, 0]",
)


def row_expr():
    row = st.sampled_from(ROWS)
    return st.one_of(
        st.builds("0.5 * {} + np.sin({})".format, row, row),
        st.builds("{} * {}".format, row, st.sampled_from(("x[i]", "0.9", "x[i, 1]"))),
        st.builds("np.cos({}) - {}".format, row, row),
    )


def row_statement():
    write = st.builds("y[i] = {}".format, row_expr()).map(lambda s: [s])
    read = st.builds(
        "s = s + np.sum({} * {})".format, st.sampled_from(ROWS), row_expr()
    )
    moves = st.sampled_from(
        ("z = y[i] * 2.0", "s = s + np.sum(z * y[i - 1])", "y[i - 1] = z * 0.5")
    )
    one = st.one_of(write, write, read.map(lambda s: [s]), moves.map(lambda s: [s]))
    columns = st.sampled_from(COLUMN_WRITES).map(lambda s: [s])
    return st.one_of(one, one, columns, branch("x[i, 0] > 0.6", block(one)))


def row_function(y0, header, body):
    lines = ["a = x * 1.0", f"y = {y0}", "z = a[0] * 1.0", "s = 0.0"]
    lines += [header, *indent(body)]
    lines.append("return np.sum(y * y) + s + np.sum(z)")
    return "def f(x):\n" + "".join(f"    {line}\n" for line in lines)


row_programs = st.builds(
    row_function,
    st.sampled_from(("np.zeros((3, 2))", "a * 1.0", "a.copy()")),
    st.sampled_from(("for i in range(3):", "for i in range(1, 3):")),
    st.lists(row_statement(), min_size=1, max_size=4).map(
        lambda ss: [line for s in ss for line in s]
    ),
)


X32 = X6.reshape(3, 2)


def check_matrix(tmp_path, monkeypatch, source) -> str:
    """``check`` for a 3 x 2 matrix x (the shapes known: rows are written in
    place); returns the in-place gradient's source."""
    v = np.cos(np.arange(6.0) + 0.5).reshape(3, 2)
    f = load(tmp_path, source)
    gf = grad(f)
    g, (value, t) = gf(X32.copy()), jvp(f, (X32.copy(),), (v,))
    with monkeypatch.context() as m:
        m.setattr(ad_compiler.driver, "emitted_form", float_literals)
        f_c = load(tmp_path, source)
        g_c, (value_c, t_c) = grad(f_c)(X32.copy()), jvp(f_c, (X32.copy(),), (v,))
    np.testing.assert_allclose(g, g_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose([value, t], [value_c, t_c], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, central(f, X32.copy()), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        t, np.sum(central(f, X32.copy()) * v), rtol=1e-5, atol=1e-5
    )
    return gf.source


def check_rows(tmp_path, monkeypatch, source):
    note(source)
    try:
        check_matrix(tmp_path, monkeypatch, source)
    except UnsupportedError:
        assume(False)  # e.g. a write into y while z may still view it


@pytest.mark.slow
@SETTINGS
@given(source=row_programs)
def test_random_row_writes_in_place_change_nothing(tmp_path, monkeypatch, source):
    check_rows(tmp_path, monkeypatch, source)


@fast(SETTINGS, examples=2)
@given(source=row_programs)
def test_random_row_writes_in_place_change_nothing_fast(tmp_path, monkeypatch, source):
    check_rows(tmp_path, monkeypatch, source)


def shifted(x):
    y = np.zeros(len(x))
    y[0] = x[1] * 3.0
    y[1:] = x[:-1]
    return y * x


def test_a_fused_add_does_not_read_a_view_past_a_write():
    """ȳ[1:] (a view, through _sum_to) is added into x̄[:-1]: fused into
    ``x_bar[:-1] += g`` at the add, that read would come after ``ȳ[1:] = 0``."""
    x = np.array([0.3, -1.2, 0.8, 2.0])
    y_bar = np.array([1.0, -0.5, 2.0, 0.25])
    _, pullback = vjp(shifted, x)
    jacobian = np.array([jvp(shifted, (x,), (e,))[1] for e in np.eye(4)]).T
    np.testing.assert_allclose(pullback(y_bar)[0], jacobian.T @ y_bar, rtol=1e-12)
