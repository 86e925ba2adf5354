"""Python's `//` and `%` and NumPy's floor_divide / mod / remainder.

`x // y` = floor(x / y) is piecewise constant (zero derivative); `x % y` =
x - n y with n = floor(x / y) has d = dx - n dy.  Derivatives are compared
with central differences at points away from the jumps (x / y an integer),
with Python's sign rules (the result has the sign of y) on negative operands.
"""

from __future__ import annotations

import importlib.util
import math
import warnings

import black
import numpy as np
import pytest

from ad_compiler import grad, hessian, jvp
from ad_compiler.tools.cli import main as adc

H = 1e-6


def central(f, args, i, h=H):
    """∂f/∂args[i] by central differences."""
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def remainder_terms(x, y):
    return (x % y) * x + (x // y) * y + (x * x) % 1.7 + 5.0 % y


def mixed_int_float(x, y):
    return (x % 3) * y + (7 // 2) * x + y % 2 + (x * 2) // 1 * 0.5


def cube_of_remainder(x, y):
    return (x % y) ** 3 + x * (x // y)


# (x, y) in each sign quadrant, none near a jump of any term above
POINTS = [(2.3, 0.7), (-2.3, 0.7), (2.3, -0.7), (-2.3, -0.7), (1.15, 0.45)]


def test_python_sign_rules_are_kept():
    assert -2.3 % 0.7 > 0 and 2.3 % -0.7 < 0  # the sign of y, unlike math.fmod
    for x, y in [(-7, 3), (7, -3), (-7, -3), (7.5, -2)]:
        # d(x % y)/dy = -floor(x / y): -(-3), -(-3), -2, -(-4)
        g = grad(_mod, argnums=(0, 1))(x, y)
        assert g == (1.0, -math.floor(x / y))


def _mod(x, y):
    return x % y


@pytest.mark.parametrize("x,y", POINTS)
def test_reverse_and_forward_match_central_differences(x, y):
    g = grad(remainder_terms, argnums=(0, 1))(x, y)
    expected = [central(remainder_terms, (x, y), i) for i in (0, 1)]
    assert g == pytest.approx(expected, rel=1e-6, abs=1e-6)
    for i, direction in enumerate([(1.0, 0.0), (0.0, 1.0)]):
        value, tangent = jvp(remainder_terms, (x, y), direction)
        assert value == remainder_terms(x, y)
        assert tangent == pytest.approx(expected[i], rel=1e-6, abs=1e-6)


def test_int_and_float_operands_mix():
    x, y = 4.6, 1.3
    g = grad(mixed_int_float, argnums=(0, 1))(x, y)
    expected = [central(mixed_int_float, (x, y), i) for i in (0, 1)]
    assert g == pytest.approx(expected, rel=1e-6)
    assert g == pytest.approx((y + 3.0, x % 3 + 1.0))


@pytest.mark.parametrize("x,y", POINTS[:3])
def test_second_order_of_the_remainder(x, y):
    r, n = x % y, math.floor(x / y)
    # (x % y) ** 3: d/dx 3 r², d/dy -3 n r²; second: 6r, -6nr, 6n²r
    hess = hessian(cube_of_remainder, argnums=(0, 1))(x, y)
    assert np.array(hess) == pytest.approx(
        np.array([[6 * r, -6 * n * r], [-6 * n * r, 6 * n * n * r]]), rel=1e-9
    )


def alternating(x, n):
    s = 0.0
    for i in range(n):
        if i % 2 == 0:
            s = s + x * i
        else:
            s = s - x
    return s * (n // 2)


def test_loop_index_parity_branch():
    # n = 5: i = 0, 2, 4 add 6x, i = 1, 3 subtract 2x; times 5 // 2 = 2
    assert alternating(1.5, 5) == 12.0
    assert grad(alternating)(1.5, 5) == 8.0
    assert jvp(alternating, (1.5, 5), (1.0, 0.0)) == (12.0, 8.0)
    # n = 6: 0 + 2 + 4 = 6x, minus 3x, times 3
    assert grad(alternating)(0.5, 6) == 9.0


HALF = 7


def halves(x):
    s = 0.0
    for i in range(HALF // 2):
        s = s + x * (i % 2) + x % 1.5
    return s


def test_known_sizes_fold_at_compile_time():
    g = grad(halves)
    code = [line for line in g.source.splitlines() if "#" not in line]
    assert "reversed(range(3))" in "\n".join(code)  # HALF // 2, folded
    assert g(1.2) == pytest.approx(central(halves, (1.2,), 0))


def on_arrays(x, y):
    a = np.mod(x, 0.7) * x + np.remainder(y, 1.3) + np.floor_divide(x, 0.3)
    return np.sum(a + x % y[:, None] + (y // 0.4) * y[:, None])


def test_arrays_and_broadcasting():
    x = np.array([0.45, 1.9, -2.5])
    y = np.array([0.55, -0.9, 1.1])
    gx, gy = grad(on_arrays, argnums=(0, 1))(x, y)
    for i in range(3):
        e = np.eye(3)[i] * H
        assert gx[i] == pytest.approx(
            (on_arrays(x + e, y) - on_arrays(x - e, y)) / (2 * H), rel=1e-6
        )
        assert gy[i] == pytest.approx(
            (on_arrays(x, y + e) - on_arrays(x, y - e)) / (2 * H), rel=1e-6
        )


def test_at_y_zero_python_raises_and_numpy_gives_nan():
    with pytest.raises(ZeroDivisionError):
        grad(_mod)(2.0, 0.0)  # as the function itself does
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gx, gy = grad(on_arrays, argnums=(0, 1))(np.ones(2), np.array([0.0, 0.7]))
    # x % y[:, None] at y = 0 is nan: x̄ and the y = 0 element of ȳ are nan
    assert np.isnan(gx).all() and np.isnan(gy[0]) and not np.isnan(gy[1])


CLI_SOURCE = """\
import numpy as np


def f(x, y):
    return (x % y) * x + x // y * y


def g(x, n):
    s = 0.0
    for i in range(n // 2):
        if i % 2 == 0:
            s = s + x * i
        else:
            s = s - x % 1.5
    return s


def h(x):
    return np.sum(np.mod(x, 0.7) * x + np.floor_divide(x, 0.3))
"""


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.fast_sample(first=1)  # black and a compile each; the modes share the CLI
def test_adc_compile_emits_self_contained_black_clean_code(tmp_path, mode):
    src, out = tmp_path / "prog.py", tmp_path / "out.py"
    src.write_text(CLI_SOURCE)
    assert adc(["compile", str(src), "--mode", mode, "-o", str(out)]) == 0
    text = out.read_text()
    assert black.format_str(text, mode=black.Mode()) == text  # black-clean
    spec = importlib.util.spec_from_file_location("emitted", out)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # needs only math and numpy
    ns: dict = {}
    exec(CLI_SOURCE, ns)
    if mode == "reverse":
        assert "%" in text and "//" in text
        assert mod.f_grad(-2.3, 0.7) == pytest.approx(
            [central(ns["f"], (-2.3, 0.7), i) for i in (0, 1)], rel=1e-6
        )
        # range(10 // 2): +x·i for i = 0, 2, 4, -(x % 1.5) for i = 1, 3
        assert mod.g_grad(1.5, 10)[0] == 4.0
        x = np.array([0.4, 1.9, 2.3])
        assert mod.h_grad(x) == pytest.approx(x + np.mod(x, 0.7))
    else:
        value, tangent = mod.f_jvp(2.3, -0.7, 0.0, 1.0)
        assert value == ns["f"](2.3, -0.7)
        assert tangent == pytest.approx(central(ns["f"], (2.3, -0.7), 1), rel=1e-6)


def cubed_remainders(x):
    return np.sum(np.mod(x, 0.7) ** 3 + (x // 0.3) * x)


def test_vector_mode_hessian_and_jacobian_of_arrays():
    from ad_compiler import jacfwd

    x = np.array([0.45, 1.9, -2.5])
    r = np.mod(x, 0.7)
    assert np.asarray(hessian(cubed_remainders)(x)) == pytest.approx(np.diag(6 * r))
    assert np.asarray(jacfwd(_mod)(x, 0.7)) == pytest.approx(np.eye(3))
