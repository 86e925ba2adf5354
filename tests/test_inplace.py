"""Writes in place (ad_compiler/backend/inplace.py): only where nothing can tell.

Each function below writes into arrays one element at a time.  Its gradient,
tangent and Hessian are checked against central differences whichever way the
emitted code writes; the emitted source is checked for which writes happen in
place (``y[i] = v``) and which must still copy (``_assign``): a copy is needed
wherever the old array is still read afterwards, e.g. by a reverse sweep.
"""

import re

import numpy as np
import pytest
import writes

from ad_compiler import grad, hessian, jvp


def keeps_versions(x):
    """The reverse sweep needs every version of y: the forward sweep must copy."""
    y = np.zeros(len(x))
    s = 0.0
    for i in range(len(x)):
        y[i] = x[i]
        s = s + np.sum(y * y)
    return s


def branchy(x):
    """Writes in branches, into an array from outside them."""
    y = np.zeros(len(x))
    for i in range(len(x)):
        if x[i] > 0.5:
            y[i] = x[i] ** 2
        else:
            y[i] = -x[i]
    return np.sum(y * x)


def branch_keeps_old(x):
    """The old y is read after the branch that writes it (as z): it copies."""
    y = np.zeros(len(x))
    t = 0.0
    for i in range(len(x)):
        z = y * 1.0  # z is y itself once `* 1.0` is simplified away
        if x[i] > 0.5:
            y[i] = x[i] ** 2
        t = t + np.sum(z * x)
    return t + np.sum(y)


def outer_fill(x):
    """A matrix filled by a double loop."""
    n = len(x)
    a = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            a[i, j] = x[i] * x[j] + j
    return np.sum(a * a)


def repeated_reads(x, idx):
    """x[idx] with repeats in idx, read in a loop: x̄ adds every read."""
    s = 0.0
    for k in range(3):
        s = s + np.sum(x[idx] ** 2) * (k + 1)
    return s


def written_then_read(x):
    """A straight-line write after a read of the same array."""
    y = x * 2.0
    z = np.sum(y)
    y[0] = z * x[1]
    return np.sum(y * y) + z


def two_loops(x):
    """The second loop starts from the first's array and reads it: it copies."""
    y = np.zeros(len(x))
    for i in range(len(x)):
        y[i] = x[i] ** 2
    z = y * 1.0  # z is y itself once `* 1.0` is simplified away
    for i in range(len(x)):
        y[i] = y[i] * z[len(x) - 1 - i]
    return np.sum(y) + np.sum(z)


FUNCTIONS = [
    two_loops,
    writes.squares,
    writes.smooth,
    keeps_versions,
    branchy,
    branch_keeps_old,
    outer_fill,
    written_then_read,
]


def central(f, x, *rest, eps=1e-6):
    return np.array(
        [
            (f(x + eps * e, *rest) - f(x - eps * e, *rest)) / (2 * eps)
            for e in np.eye(len(x))
        ]
    )


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n", [2, 3, 8])
@pytest.mark.fast_sample(every=12)
def test_derivatives_match_differences(f, n):
    x = np.linspace(0.2, 1.1, n)
    want = central(f, x)
    x_before = x.copy()
    assert grad(f)(x) == pytest.approx(want, rel=1e-6, abs=1e-6)
    v = np.cos(np.arange(n))
    assert jvp(f, (x,), (v,))[1] == pytest.approx(want @ v, rel=1e-6, abs=1e-6)
    h = hessian(f)(x)
    h_want = central(lambda z: grad(f)(z), x)
    assert h == pytest.approx(h_want, rel=1e-5, abs=1e-5)
    assert np.array_equal(x, x_before)  # the caller's array is never written


def test_repeated_index_reads_all_add():
    x = np.array([0.5, -1.0, 2.0])
    idx = np.array([0, 2, 2])
    got = grad(repeated_reads)(x, idx)
    assert got == pytest.approx(central(repeated_reads, x, idx), rel=1e-6)
    assert np.array_equal(got, 6 * 2 * x * np.array([1, 0, 2]))


def code(f) -> str:
    """The emitted gradient for a vector argument, lines stripped."""
    g = grad(f)
    g(np.linspace(0.2, 1.1, 4))
    return "\n".join(line.strip() for line in g.source.splitlines())


def test_element_loops_write_in_place():
    src = code(writes.smooth)
    assert "_assign" not in src and "_unindex" not in src  # no copies left
    assert "v5 = y_2[i - 1]\ny_2[i] = 0.5 * v5 + x[i]" in src  # the forward loop
    assert "y_2_bar[i_1] = 0.0" in src  # the reverse loop: what it reads, then
    assert "y_2_bar[i_1 - 1] += 0.5 * v15_bar" in src  # the adjoint of y[i - 1]
    assert "tape" not in src  # the reverse loop counts down a range


def test_writes_the_reverse_sweep_needs_undone_still_copy():
    src = code(keeps_versions)
    assert "_assign(" in src and "tape.append" in src
    assert "y_1[i] =" not in src


def test_a_branch_writes_in_place_when_nothing_reads_the_array_after_it():
    src = code(branchy)
    assert "y_1[i] = v3**2" in src and "y_1[i] = -v3" in src
    # ȳ starts as x (from np.sum(y * x)): copied once, then written in place
    assert "y_1_bar = np.copy(x)" in src and "y_1_bar[i_1] = 0.0" in src
    assert "_assign" not in src


def test_a_branch_write_copies_when_the_old_array_is_read_after_it():
    src = code(branch_keeps_old)
    assert "y_2 = _assign(y_1, np.s_[i], v3**2)" in src


@pytest.mark.slow  # a subprocess; the in-place writes of .source are checked above
def test_in_place_writes_show_in_the_cli_module(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    sample = Path(writes.__file__)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ad_compiler.tools.cli",
            "compile",
            str(sample),
            "--shape",
            "x=n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # squares' gradient needs no forward loop at all (its tape stored nothing
    # the adjoint reads); smooth's forward loop writes in place
    assert "_assign" not in out and "y_2[i] = 0.5 * v5 + x[i]" in out
    namespace: dict = {}
    exec(compile(out, "writes_grad.py", "exec"), namespace)
    x = np.linspace(0.2, 1.1, 6)
    assert namespace["squares_grad"](x) == pytest.approx(2 * x)


def test_an_array_a_taped_loop_starts_from_copies():
    src = code(two_loops)
    # the second loop starts from y_1 and reads it (as z) in its body: it starts
    # from one copy and writes into that in place; its tape keeps the numbers
    # its reverse sweep reads (y[i] before the write), never a version of y
    assert re.search(r"(v\d+) = y_1\.copy\(\)\ny_3 = \1\n", src), src
    assert "y_3[i_1] = v6 * v10" in src and "tape_1.append((i_1, v6))" in src
    assert "y_1[i] = x[i] ** 2" in src and "_assign" not in src
    # the last loop adds in place, and reads each row of ȳ once: no zeroing
    assert "x_bar[i_3] += 2 * x[i_3] * y_1_bar_1[i_3]" in src
