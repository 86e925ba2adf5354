"""``print(...)`` in a differentiated function (issue 16, item 7): kept in the
primal sweep of the emitted code, so each call of a derivative prints what one
call of the function prints, in the same order, once — reverse mode does not
print again while it recomputes loop iterations, and forward mode, vector mode
and Hessians copy the print once.  Strings are re-rendered from their parsed
values, never copied from the input.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ad_compiler import grad, hessian, jacfwd, jvp, value_and_grad
from ad_compiler.errors import CompileError


def looped(x, y):
    s = 0.0
    for i in range(3):
        s = s + x * y * i
        print("it", i, f"s={s:.3f}", sep=" | ")
    if s > 1:
        print("big", end="!\n")
    print(f"{x!r} and {s * 2:>8.2f} {{braces}}")
    return s * x


def network(W, x):
    h = np.tanh(W @ x)
    print("h", h, f"norm {np.sum(h**2):.4f}")
    total = 0.0
    for i in range(3):
        total = total + h[i] ** 2 * x[i]
        print(i, total)
    return total


def while_loop(x):
    while x < 10.0:
        print("x =", x)
        x = x * 2.0
    return x * x


def run_and_capture(capsys, f, *args):
    """What calling ``f(*args)`` prints (its value is dropped)."""
    capsys.readouterr()
    f(*args)
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "f, args",
    [(looped, (1.5, 2.0)), (while_loop, (3.0,)), (looped, (0.1, 0.2))],
    ids=["looped", "while_loop", "looped_small"],
)
def test_each_derivative_prints_what_the_function_prints_once(capsys, f, args):
    expected = run_and_capture(capsys, f, *args)
    assert expected
    assert run_and_capture(capsys, grad(f), *args) == expected
    assert run_and_capture(capsys, value_and_grad(f), *args) == expected
    tangents = tuple(1.0 for _ in args)
    assert run_and_capture(capsys, lambda: jvp(f, args, tangents)) == expected
    assert run_and_capture(capsys, hessian(f), *args) == expected


def test_the_derivatives_are_unchanged_by_the_prints(capsys):
    h = 1e-6
    for x, y in [(1.5, 2.0), (0.1, 0.2)]:
        expected = (looped(x + h, y) - looped(x - h, y)) / (2 * h)
        assert grad(looped)(x, y) == pytest.approx(expected, rel=1e-6)
        assert jvp(looped, (x, y), (1.0, 0.0))[1] == pytest.approx(expected, rel=1e-6)
    capsys.readouterr()


def test_array_code_prints_once_in_every_mode(capsys):
    W = np.arange(9.0).reshape(3, 3) / 10
    x = np.array([0.1, 0.2, 0.3])
    expected = run_and_capture(capsys, network, W, x)
    assert "norm " in expected and expected.count("\n") == 4
    assert run_and_capture(capsys, grad(network), W, x) == expected
    assert run_and_capture(capsys, lambda: jvp(network, (W, x), (W, x))) == expected
    vector = jacfwd(grad(network, argnums=1), argnums=1)
    assert run_and_capture(capsys, vector, W, x) == expected
    g = grad(network)(W, x)
    capsys.readouterr()
    h = 1e-6
    e = np.zeros_like(W)
    e[1, 2] = h
    assert g[1, 2] == pytest.approx(
        (network(W + e, x) - network(W - e, x)) / (2 * h), rel=1e-6
    )
    capsys.readouterr()


def test_the_emitted_print_reads_like_the_users():
    source = grad(looped).source
    assert 'print("it", i, f"s={s_1:.3f}", sep=" | ")' in source
    assert 'print("big", end="!\\n")' in source
    assert 'print(f"{x!r} and {s * 2:>8.2f} {{braces}}")' in source
    # the reverse sweep recomputes nothing that prints
    calls = [line for line in source.splitlines() if line.strip().startswith("print(")]
    assert len(calls) == 3


def quoted_value(W, x):
    print(f"sum {np.einsum('ij,j->i', W, x)[0]:.3f} {W[0, 1]!r}")
    return np.sum(W * W)


def test_a_value_spelled_with_quotes_is_formatted_outside_an_fstring(capsys):
    W = np.arange(4.0).reshape(2, 2)
    x = np.array([1.0, 2.0])
    g = grad(quoted_value)
    source = g.source
    assert (
        """print("sum " + format(np.einsum("ij,j->i", W, x)[0], ".3f") + " " + """
        """repr(W[0, 1]))"""
    ) in source
    expected = run_and_capture(capsys, quoted_value, W, x)
    assert expected == f"sum 2.000 {W[0, 1]!r}\n"
    assert run_and_capture(capsys, g, W, x) == expected


def hostile(x):
    print('"); import os  #', "\x1b[2J", f"{x:.2f}\\n{{}}'''")
    return x * x


def test_strings_are_rendered_from_their_values_never_copied(capsys):
    g = grad(hostile)
    source = g.source
    assert "import os" not in source.replace("'\"); import os  #'", "")
    assert "\\x1b[2J" in source and "\x1b" not in source
    expected = run_and_capture(capsys, hostile, 1.25)
    assert run_and_capture(capsys, g, 1.25) == expected
    assert expected.startswith("\"); import os  # \x1b[2J 1.25\\n{}'''")


def to_a_file(x):
    print(x, file=None)
    return x


def dynamic_spec(x):
    w = 3
    print(f"{x:{w}}")
    return x


def odd_spec(x):
    print(f"{x:'>8}")
    return x


def a_tuple(x):
    print((x, x))
    return x


def recursive(x, n):
    print("level", n)
    if n <= 0:
        return x
    return x * recursive(x, n - 1)


def computed_sep(x):
    print(x, x, sep=x)
    return x


@pytest.mark.parametrize(
    "f, message",
    [
        (to_a_file, "`file=` in `print` is not supported"),
        (dynamic_spec, "a format spec computed when the function runs"),
        (odd_spec, "this format spec is not supported in `print`"),
        (a_tuple, "printing a tuple is not supported"),
        (recursive, "`print` in a recursive function is not supported"),
        (computed_sep, "`sep=` of `print` must be a string literal"),
    ],
    ids=lambda p: getattr(p, "__name__", "")[:20],
)
def test_what_print_cannot_do_is_refused_at_the_call(f, message):
    with pytest.raises(CompileError) as info:
        grad(f)(1.5, 2) if f is recursive else grad(f)(1.5)
    assert info.value.message.startswith(message)
    assert info.value.hint
    assert "print" in info.value.source_line


CLI_FILE = """\
import numpy as np


def loss(X, w):
    n, d = X.shape
    r = X @ w
    print("loss", np.sum(r**2) / n, f"{d} features", sep="; ")
    for i in range(2):
        print("row", i, r[i])
    return np.sum(r**2) / (2 * n)
"""


@pytest.mark.slow  # a subprocess, and running its output
def test_the_cli_emits_the_prints_and_they_print_the_same(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(CLI_FILE)
    out = tmp_path / "out.py"
    run = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", str(path)]
        + ["--shape", "X=n,3", "w=3", "--wrt", "w", "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    script = (
        "import numpy as np, runpy\n"
        f"m = runpy.run_path({str(path)!r})\n"
        f"g = runpy.run_path({str(out)!r})\n"
        "X = np.arange(12.0).reshape(4, 3) / 7\n"
        "w = np.array([0.5, -1.0, 2.0])\n"
        "m['loss'](X, w)\n"
        "print('---')\n"
        "g['loss_grad'](X, w)\n"
    )
    both = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    mine, emitted = both.split("---\n")
    assert mine.count("\n") == 3 and "3 features" in mine
    assert emitted == mine


def ints_and_floats(x):
    n = 3
    for i in range(n):
        print(1, i, i * 1.0, n // 2, 2 * 3, -0.0, True, 1e300 * 10)
        x = x * 1.5 + i
    print()
    print("a", "b", sep="")
    return x


def test_numbers_print_with_their_python_types(capsys):
    expected = run_and_capture(capsys, ints_and_floats, 2.0)
    assert "1 0 0.0 1 6 -0.0 True 1e+301" in expected  # `i * 1.0` is a float
    assert run_and_capture(capsys, grad(ints_and_floats), 2.0) == expected
    jvp_run = run_and_capture(capsys, lambda: jvp(ints_and_floats, (2.0,), (1.0,)))
    assert jvp_run == expected
