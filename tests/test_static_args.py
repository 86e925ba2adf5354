"""Static arguments: strings, None, booleans (and other hashable non-numbers)
passed to a differentiated function or used as its defaults, like JAX's
static_argnums but automatic.

The derivative is specialised on their values (compiled once per value); a
comparison of static values, ``x is None``, ``not``/``and``/``or`` of them are
decided while compiling, and only the branch taken is lowered.
"""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ad_compiler import grad, jvp, value_and_grad, vjp
from ad_compiler.ad.jacobians import hessian
from ad_compiler.backend.loader import source_of
from ad_compiler.errors import CompileError, UsageError

EPS = 1e-6


def activation(x, kind="tanh"):
    if kind == "tanh":
        return math.tanh(x)
    elif kind == "relu":
        return max(x, 0.0)
    elif kind in ("square", "sq"):
        return x * x
    return x


def neuron(w, x, kind="tanh", scale=None, flag=True):
    s = 1.0 if scale is None else scale
    y = activation(w * x, kind)  # a static passed on to a helper
    if not flag:
        return y
    if scale is not None and flag:
        y = y * s
    return y * w


def named(w, kind):
    """A static with no default: given by the caller."""
    if kind == "odd":
        return w**3
    return w**2


def central(f, args, i=0):
    hi, lo = list(args), list(args)
    hi[i] += EPS
    lo[i] -= EPS
    return (f(*hi) - f(*lo)) / (2 * EPS)


CASES = [
    (0.7, 1.3, "tanh", None, True),
    (0.7, 1.3, "relu", None, True),
    (-0.7, 1.3, "relu", 2.0, True),
    (0.7, 1.3, "sq", 2.5, True),
    (0.7, 1.3, "identity", 2.5, False),
]


@pytest.mark.parametrize("args", CASES)
def test_static_arguments_both_modes_against_central_differences(args):
    for i in (0, 1):
        want = central(neuron, args, i)
        assert grad(neuron, argnums=i)(*args) == pytest.approx(want, abs=1e-7)
        dots = [0.0, 0.0]
        dots[i] = 1.0
        scale_dot = None if args[3] is None else 0.0  # a number: a tangent too
        y, ydot = jvp(neuron, args, (*dots, None, scale_dot, None))
        assert y == pytest.approx(neuron(*args)) and ydot == pytest.approx(want)
        _, pullback = vjp(neuron, *args)
        assert pullback(1.0)[i] == pytest.approx(want, abs=1e-7)
        bars = pullback(1.0)
        assert bars[2] is None and bars[4] is None  # statics: no cotangent
        assert (bars[3] is None) == (args[3] is None)


def test_defaults_and_keywords_select_the_values():
    d = grad(neuron)
    assert d(0.7, 1.3) == pytest.approx(central(neuron, (0.7, 1.3)))
    relu = d(0.7, 1.3, kind="relu")
    assert relu == pytest.approx(2 * 0.7 * 1.3)  # (w x) w
    assert grad(named)(2.0, "odd") == 12.0 and grad(named)(2.0, "even") == 4.0


def test_only_the_branch_taken_is_compiled_and_each_value_once():
    d = grad(neuron)
    d(0.7, 1.3, "relu")
    relu = d._last
    text = source_of(relu)  # (an internal compilation: no .source attribute)
    assert "tanh" not in text and "max(" in text and d.source == text
    assert (
        "Compiled for the static arguments kind='relu', scale=None, flag=True only."
        in (text.replace("\n    ", " "))
    )
    d(0.1, 2.0, "relu")
    assert d._last is relu
    d(0.1, 2.0, "tanh")
    assert d._last is not relu and "math.tanh" in d.source


def test_value_and_grad_and_hessian_with_statics():
    value, g = value_and_grad(named)(2.0, "odd")
    assert (value, g) == (8.0, 12.0)
    assert hessian(named)(2.0, "odd") == pytest.approx(12.0)
    assert hessian(named)(2.0, "even") == pytest.approx(2.0)


def test_a_boolean_argument_is_static_and_decides_the_branch():
    def f(x, square):
        if square:
            return x * x
        return np.sin(x)

    assert grad(f)(3.0, True) == 6.0
    assert grad(f)(3.0, False) == pytest.approx(math.cos(3.0))


def test_is_none_of_an_array_argument_is_false():
    def f(x, mask=None):
        m = np.ones_like(x) if mask is None else mask
        return np.sum(x * x * m)

    x = np.arange(3.0)
    assert np.allclose(grad(f)(x), 2 * x)
    assert np.allclose(grad(f)(x, np.array([0.0, 1.0, 2.0])), 2 * x * [0.0, 1.0, 2.0])


def test_differentiating_a_static_argument_is_a_usage_error():
    with pytest.raises(UsageError, match="argument 2, 'tanh': it is a static"):
        grad(neuron, argnums=2)(0.7, 1.3)


def test_a_static_used_as_a_number_is_a_located_error():
    def f(x, kind="tanh"):
        return x * kind

    with pytest.raises(CompileError) as info:
        grad(f)(1.0)
    assert (
        info.value.message
        == "`kind` is 'tanh', a static (compile-time) value, not a number"
    )
    assert "kind" in info.value.source_line and "comparison" in info.value.hint


def test_a_string_literal_used_as_a_number_keeps_its_message():
    def f(x):
        return x + "no"

    with pytest.raises(CompileError, match="str literal is not supported") as info:
        grad(f)
    assert 'kind == "tanh"' in info.value.hint


def test_a_docstring_like_string_statement_is_ignored():
    def f(x):
        y = x * x
        "a note in the middle"
        return y

    assert grad(f)(2.0) == 4.0


CLI_FILE = """
import math


def act(x, kind="tanh", scale=None):
    s = 1.0 if scale is None else scale
    if kind == "tanh":
        y = math.tanh(x)
    else:
        y = x
    return s * y * x


def needs_value(x, kind):
    if kind == "sq":
        return x * x
    return x
"""


def _compile(tmp_path, function):
    path = tmp_path / "statics.py"
    path.write_text(textwrap.dedent(CLI_FILE))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ad_compiler.tools.cli",
            "compile",
            str(path),
            "--function",
            function,
        ],
        capture_output=True,
        text=True,
    )


@pytest.mark.slow  # a subprocess
def test_cli_compiles_for_the_default_values_and_says_so(tmp_path):
    proc = _compile(tmp_path, "act")
    assert proc.returncode == 0, proc.stderr
    assert "def act_grad(x):" in proc.stdout
    assert (
        "Compiled for the static arguments kind='tanh', scale=None only." in proc.stdout
    )
    namespace = {}
    exec(proc.stdout, namespace)
    x = 0.8
    want = math.tanh(x) + (1 - math.tanh(x) ** 2) * x
    assert namespace["act_grad"](x) == pytest.approx(want)


@pytest.mark.slow  # a subprocess
def test_cli_refuses_a_static_without_default_at_its_use(tmp_path):
    proc = _compile(tmp_path, "needs_value")
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.endswith(
        "15:8: error: `kind` is compared with 'sq': it is a static argument"
    )
    assert "needs it to have a default" in proc.stderr


def test_in_of_a_number_says_what_to_write():
    def f(x):
        return x * (x in (1.0, 2.0))

    with pytest.raises(CompileError) as info:
        grad(f)
    assert info.value.message.startswith("comparison `in` of a number")
    assert "==" in info.value.hint
