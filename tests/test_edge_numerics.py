"""Derivatives at the edges of the domain follow JAX's conventions (docs/rules.md,
"At the edges of the domain"), in reverse and forward mode, at second order and
in the module the CLI writes.

The table below hard-codes the values JAX 0.10 gives (``jax.grad``/``jax.jvp``
with float64 enabled) so CI needs no JAX; each row says why the value is what
it is.  Where ad_compiler deliberately differs from JAX (a NaN input gives NaN,
never a clean-looking number; Python's ``max``/``min`` have Python's
semantics), the row says so and the JAX test skips it (``DEVIATIONS``).

When JAX is importable, ``test_table_is_jax`` checks the hard-coded values
against JAX, and ``test_grid_against_jax`` compares every function of
``tests/edge_corpus.py`` with its JAX twin on a grid of 0, -0, ±0.5, ±1, 2,
±inf and nan (every pair, for two inputs) wherever the Python function returns
without raising.
"""

import math
import os
import runpy
import subprocess
import sys

import edge_corpus as ec
import pytest

from ad_compiler import grad, hessian, jvp

INF, NAN = math.inf, math.nan
# NumPy warns where it divides by zero or takes log(0): that is the point here
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
HERE = os.path.dirname(os.path.abspath(__file__))

# (function, point, gradient: one value per parameter, why)
CASES = [
    # --- x ** y: JAX's lax.pow: ∂x = y x^(y-1), ∂y = out · ln(x if x != 0 else 1)
    ("power", (0.0, 2.0), (0.0, 0.0), "2 · 0^1 = 0; ∂y: 0^2 · ln 1"),
    ("power", (0.0, 1.0), (1.0, 0.0), "1 · 0^0 = 1"),
    ("power", (0.0, 0.5), (INF, 0.0), "0.5 · 0^-0.5 = inf: no ZeroDivisionError"),
    ("power", (-0.0, 0.5), (INF, 0.0), "pow(-0, -0.5) = +inf (IEEE)"),
    ("power", (0.0, 0.0), (NAN, 0.0), "a float exponent 0: 0 · 0^-1 = 0 · inf"),
    ("power", (-2.0, 3.0), (12.0, NAN), "3 · (-2)^2; ∂y: ln of a negative base is nan"),
    ("power", (-2.0, 2.0), (-4.0, NAN), "2 · (-2)^1; ∂y nan, not a ValueError"),
    ("power", (2.0, 3.0), (12.0, 8 * math.log(2.0)), "the ordinary case"),
    ("math_pow", (0.0, 0.5), (INF, 0.0), "math.pow spelled: the same convention"),
    ("math_pow", (-2.0, 3.0), (12.0, NAN), "math.pow(-2, 3) = -8 is finite"),
    ("math_pow", (0.0, 0.0), (NAN, 0.0), "as for **"),
    ("builtin_pow", (0.0, 0.5), (INF, 0.0), "pow(x, y) is x ** y"),
    ("builtin_pow", (-2.0, 2.0), (-4.0, NAN), "as for **"),
    ("np_power", (0.0, 0.5), (INF, 0.0), "np.power: the same convention"),
    ("np_power", (-2.0, 3.0), (12.0, NAN), "np.log(-2) is nan too"),
    ("cube", (-2.0,), (12.0,), "an int literal exponent (JAX's integer_pow): 3 · 4"),
    ("to_the_zero", (0.0,), (0.0,), "x ** 0 is the constant 1 (integer_pow 0)"),
    ("to_the_float_zero", (0.0,), (NAN,), "x ** 0.0 is lax.pow: 0.0 · 0^-1"),
    ("to_the_half", (0.0,), (INF,), "x ** 0.5 at 0, like sqrt"),
    ("zero_to_the", (2.0,), (0.0,), "0.0 ** y: 0 · ln 1"),
    ("zero_to_the", (0.0,), (0.0,), "0.0 ** 0 = 1, 1 · ln 1"),
    ("minus_two_to_the", (3.0,), (NAN,), "(-2.0) ** y: ln of a negative base"),
    # --- square roots, hypot, atan2, asin/acos at their singular points
    ("square_root", (0.0,), (INF,), "1 / (2 sqrt 0): inf, not ZeroDivisionError"),
    ("square_root", (-0.0,), (-INF,), "sqrt(-0.0) = -0.0, 1 / -0.0"),
    ("square_root", (4.0,), (0.25,), "the ordinary case"),
    ("np_square_root", (0.0,), (INF,), "np.sqrt of a float: the same"),
    ("root_of_square", (0.0,), (NAN,), "sqrt(x x)' = inf · 2x = inf · 0"),
    ("hypotenuse", (0.0, 0.0), (0.5, 0.5), "JAX: max(|a|, |b|) ties share"),
    ("hypotenuse", (0.0, -0.0), (0.5, 0.5), "as at (0, 0)"),
    ("hypotenuse", (3.0, 0.0), (1.0, 0.0), "a / hypot, b / hypot"),
    ("hypotenuse", (-3.0, 0.0), (-1.0, 0.0), "a / hypot"),
    ("np_hypotenuse", (0.0, 0.0), (0.5, 0.5), "np.hypot: the same"),
    (
        "arctan_of_zero_hypot",
        (1.0,),
        (1.0,),
        "the issue's example: 0.5 · 0 + 0.5 · 0 + 1",
    ),
    ("angle", (0.0, 0.0), (NAN, NAN), "x / (x² + y²) = 0 / 0"),
    ("angle", (0.0, -1.0), (-1.0, -0.0), "x / (x² + y²) = -1; -(y / 1) = -0.0"),
    ("np_angle", (0.0, 0.0), (NAN, NAN), "np.arctan2: the same"),
    ("arcsine", (1.0,), (INF,), "1 / sqrt(1 - 1)"),
    ("arcsine", (-1.0,), (INF,), "1 / sqrt(1 - 1)"),
    ("arccosine", (1.0,), (-INF,), "-1 / sqrt(1 - 1)"),
    ("arccosine", (-1.0,), (-INF,), "-1 / sqrt(1 - 1)"),
    ("np_arcsine", (1.0,), (INF,), "np.arcsin: the same"),
    ("np_logarithm", (0.0,), (INF,), "np.log(0) = -inf does not raise, nor does 1 / 0"),
    ("np_log1p", (-1.0,), (INF,), "1 / (1 + x) at -1"),
    ("np_log2", (0.0,), (INF,), "1 / (x ln 2) at 0"),
    ("tangent", (math.pi / 2,), (1 + math.tan(math.pi / 2) ** 2,), "finite: 1 + tan²"),
    # --- non-smooth points and NaN
    ("absolute", (0.0,), (1.0,), "the branch x >= 0 (JAX)"),
    ("absolute", (-0.0,), (1.0,), "-0.0 >= 0 is true (JAX: 1.0 too)"),
    ("absolute", (-2.0,), (-1.0,), "x < 0"),
    ("absolute", (NAN,), (NAN,), "DEVIATION: JAX gives -1.0; NaN propagates"),
    ("math_fabs", (-0.0,), (1.0,), "math.fabs: as abs"),
    ("math_fabs", (NAN,), (NAN,), "DEVIATION: as abs"),
    ("np_absolute", (0.0,), (1.0,), "np.abs: JAX's 1.0, no longer np.sign's 0"),
    ("np_absolute", (NAN,), (NAN,), "DEVIATION: as abs"),
    (
        "larger",
        (1.0, 1.0),
        (1.0, 0.0),
        "Python's max returns its first argument on a tie",
    ),
    ("larger", (1.0, 2.0), (0.0, 1.0), "y > x: y is returned"),
    ("larger", (NAN, 1.0), (NAN, NAN), "max(nan, 1) is nan (1 > nan is false)"),
    ("larger", (1.0, NAN), (1.0, 0.0), "max(1, nan) is 1: Python's comparison"),
    ("smaller", (1.0, 1.0), (1.0, 0.0), "Python's min: the first on a tie"),
    ("smaller", (NAN, 1.0), (NAN, NAN), "min(nan, 1) is nan"),
    ("smaller", (1.0, NAN), (1.0, 0.0), "min(1, nan) is 1"),
    ("np_larger", (1.0, 1.0), (0.5, 0.5), "np.maximum: JAX shares a tie"),
    ("np_larger", (1.0, 2.0), (0.0, 1.0), "y is larger"),
    ("np_larger", (NAN, 1.0), (NAN, NAN), "DEVIATION: JAX gives (0, 0)"),
    ("np_larger", (1.0, NAN), (NAN, NAN), "DEVIATION: JAX gives (0, 0)"),
    ("np_smaller", (1.0, 1.0), (0.5, 0.5), "np.minimum: a tie shares"),
    ("np_smaller", (NAN, 1.0), (NAN, NAN), "DEVIATION: JAX gives (0, 0)"),
    ("sign_copied", (0.0, 1.0), (1.0, 0.0), "|x|' = 1 at 0 (JAX)"),
    ("sign_copied", (2.0, -0.0), (-1.0, 0.0), "the sign bit of -0.0"),
    ("sign_copied", (NAN, 1.0), (NAN, 0.0), "DEVIATION: JAX gives -1.0"),
    ("np_clipped", (0.5,), (1.0,), "inside"),
    ("np_clipped", (0.0,), (0.5,), "maximum(x, 0) ties at 0: JAX shares"),
    ("np_clipped", (1.0,), (0.5,), "minimum(x, 1) ties at 1"),
    ("np_clipped", (NAN,), (NAN,), "DEVIATION: JAX gives 0.0"),
    ("np_chosen", (NAN,), (2.0,), "np.where follows the comparison: nan > 0 is false"),
    ("np_chosen", (1.0,), (1.0,), "x > 0"),
    ("branch", (NAN,), (2.0,), "an if follows Python's comparison"),
    ("floored", (1.0,), (1.0,), "floor is piecewise constant: 0 + 1"),
    ("remainder", (5.0, 3.0), (1.0, -1.0), "fmod(x, y) = x - n y, n = 1"),
    ("remainder", (NAN, 1.0), (NAN, NAN), "DEVIATION: JAX gives ∂x = 1.0"),
    ("remainder", (-5.0, 3.0), (1.0, 1.0), "n = trunc(-5 / 3) = -1"),
]

# Forward mode with one-hot tangents, where it differs from the gradient: the
# zero tangent of the other input still multiplies its (inf or nan) slope, as in
# jax.jvp, and a NaN slope times a zero tangent is NaN.
JVPS = {
    # (-0.0, 0.5) finds this row too: the key tuples compare equal
    ("power", (0.0, 0.5)): (INF, NAN),
    ("power", (0.0, 0.0)): (NAN, NAN),
    ("power", (-2.0, 3.0)): (NAN, NAN),
    ("power", (-2.0, 2.0)): (NAN, NAN),
    ("math_pow", (0.0, 0.5)): (INF, NAN),
    ("math_pow", (-2.0, 3.0)): (NAN, NAN),
    ("math_pow", (0.0, 0.0)): (NAN, NAN),
    ("builtin_pow", (0.0, 0.5)): (INF, NAN),
    ("builtin_pow", (-2.0, 2.0)): (NAN, NAN),
    ("np_power", (0.0, 0.5)): (INF, NAN),
    ("np_power", (-2.0, 3.0)): (NAN, NAN),
    ("larger", (NAN, 1.0)): (NAN, NAN),
    ("smaller", (NAN, 1.0)): (NAN, NAN),
    ("np_larger", (NAN, 1.0)): (NAN, NAN),
    ("np_larger", (1.0, NAN)): (NAN, NAN),
    ("np_smaller", (NAN, 1.0)): (NAN, NAN),
    ("sign_copied", (NAN, 1.0)): (NAN, NAN),
    ("sign_copied", (2.0, -0.0)): (-1.0, -0.0),  # -1 · 0.0 in the x slope
    ("remainder", (NAN, 1.0)): (NAN, NAN),  # -n · 0.0 with n nan
}

# Second derivatives where the rule's tangent is reused (JAX's jax.hessian)
HESSIANS = [
    ("square_root", 0.0, -INF, "-1/4 x^(-3/2) at 0"),
    ("square_root", 4.0, -0.03125, "the ordinary case"),
    ("to_the_half", 0.0, -INF, "as sqrt"),
    ("root_of_square", 0.0, NAN, "inf · 0 in the first derivative already"),
    ("arcsine", 1.0, INF, "x (1 - x²)^(-3/2) at 1"),
    ("arctan_of_zero_hypot", 1.0, 0.0, "hypot's slopes 1/2 are constants there"),
    ("absolute", 0.0, 0.0, "piecewise linear"),
    ("cube", -2.0, -12.0, "6 x"),
    ("to_the_zero", 0.0, 0.0, "a constant"),
    ("np_logarithm", 0.0, -INF, "-1 / x² at 0"),
]


def same(actual, expected, signed_zero=True) -> bool:
    """Equal as JAX's values are: nan matches nan, infinities exactly, zero with
    its sign (unless ``signed_zero`` is false), other numbers to 1e-12 relative."""
    actual, expected = float(actual), float(expected)
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if expected == 0.0 and signed_zero:
        return actual == 0.0 and math.copysign(1, actual) == math.copysign(1, expected)
    if expected == 0.0 or math.isinf(expected):
        return actual == expected
    return actual == pytest.approx(expected, rel=1e-12)


def all_same(actual, expected, signed_zero=True) -> bool:
    return len(actual) == len(expected) and all(
        same(a, e, signed_zero) for a, e in zip(actual, expected)
    )


def as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, tuple) else (value,)


def case_id(case) -> str:
    return f"{case[0]}{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.fast_sample(
    keep=lambda case: CASES.index(case) % 4 == 0
)  # one case in four; test_jvp the next one
def test_grad(case):
    name, point, expected, _ = case
    df = grad(getattr(ec, name), argnums=tuple(range(len(point))))
    assert all_same(as_tuple(df(*point)), expected), df.source


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.fast_sample(
    keep=lambda case: CASES.index(case) % 4 == 1
)  # one case in four; test_grad the one before
def test_jvp(case):
    name, point, expected, _ = case
    expected = JVPS.get((name, point), expected)
    for k in range(len(point)):
        tangents = tuple(1.0 if i == k else 0.0 for i in range(len(point)))
        _, dy = jvp(getattr(ec, name), point, tangents)
        assert same(dy, expected[k]), (name, point, k, dy)


@pytest.mark.parametrize("case", HESSIANS, ids=lambda c: f"{c[0]}({c[1]})")
@pytest.mark.fast_sample(every=2)
def test_hessian(case):
    name, x, expected, _ = case
    assert same(hessian(getattr(ec, name))(x), expected)


@pytest.fixture(scope="module")
def emitted():
    """The reverse- and forward-mode modules `adc compile` writes for the corpus."""
    modules = {}
    for mode in ("reverse", "forward"):
        proc = subprocess.run(
            [sys.executable, "-m", "ad_compiler.tools.cli", "compile", "edge_corpus.py"]
            + ["--mode", mode],
            capture_output=True,
            text=True,
            cwd=HERE,
        )
        assert proc.returncode == 0, proc.stderr
        modules[mode] = proc.stdout
    return modules


def _load(text, tmp_path, mode):
    path = tmp_path / f"edge_{mode}.py"
    path.write_text(text)
    return runpy.run_path(str(path))


@pytest.mark.slow  # two `adc compile` runs: about 3.5 s
def test_cli_emitted_modules(emitted, tmp_path):
    reverse = _load(emitted["reverse"], tmp_path, "reverse")
    forward = _load(emitted["forward"], tmp_path, "forward")
    for name, point, expected, _ in CASES:
        assert all_same(as_tuple(reverse[f"{name}_grad"](*point)), expected), name
        along = JVPS.get((name, point), expected)
        for k in range(len(point)):
            tangents = [1.0 if i == k else 0.0 for i in range(len(point))]
            _, dy = forward[f"{name}_jvp"](*point, *tangents)
            assert same(dy, along[k]), (name, point, k)


def test_array_code_follows_the_same_conventions():
    # the same rows elementwise, through NumPy (which never raises)
    import numpy as np
    from array_edges import hypot_sum, power_sum, root_sum

    with np.errstate(all="ignore"):
        x = np.array([0.0, -0.0, 4.0])
        assert [float(v) for v in grad(root_sum)(x)] == [INF, -INF, 0.25]
        a, b = np.array([0.0, 3.0]), np.array([0.0, 4.0])
        ga, gb = grad(hypot_sum, argnums=(0, 1))(a, b)
        assert list(ga) == [0.5, 0.6] and list(gb) == [0.5, 0.8]
        x, y = np.array([0.0, 0.0, 0.0, -2.0]), np.array([2.0, 0.5, 0.0, 3.0])
        gx, gy = grad(power_sum, argnums=(0, 1))(x, y)
        assert all_same(gx, (0.0, INF, NAN, 12.0))
        assert all_same(gy, (0.0, 0.0, 0.0, NAN))


GRID = (0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, INF, -INF, NAN)
FUNCTIONS = [
    n
    for n in dir(ec)
    if callable(getattr(ec, n)) and getattr(ec, n).__module__ == ec.__name__
]


def grid_points(name):
    arity = getattr(ec, name).__code__.co_argcount
    if arity == 1:
        return [(x,) for x in GRID]
    return [(x, y) for x in GRID for y in GRID]


def value_at(fn, point):
    """``fn(*point)`` as a real number, or None where Python raises (math domain
    errors, 0.0 ** -1) or the value is complex ((-0.5) ** 0.5)."""
    import numpy as np

    try:
        with np.errstate(all="ignore"):
            value = fn(*point)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return None if isinstance(value, complex) else float(value)


def finite_value(fn, point) -> bool:
    value = value_at(fn, point)
    return value is not None and math.isfinite(value)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.fast_sample(every=2)
def test_never_raises_where_the_function_is_finite(name):
    import numpy as np

    fn = getattr(ec, name)
    df = grad(fn, argnums=tuple(range(fn.__code__.co_argcount)))
    for point in grid_points(name):
        if finite_value(fn, point):
            with np.errstate(all="ignore"):
                df(*point)  # raises nothing


# A NaN input whose value comes out NaN gives a NaN derivative, but for a
# branch on it (np.where, if: Python's comparison picks one), a function whose
# derivative does not involve the input (floor(x) + x: 0 + 1), and slopes that
# are exact whatever x is: x ** 1.0 is x (slope 1 · nan ** 0.0 = 1, as in JAX),
# copysign(x, y) does not vary with y (its sign bit is read, not differentiated),
# and fmod(x, y) = x - n y has slope 1 in x (n is piecewise constant).
NAN_IN_NAN_OUT = [n for n in FUNCTIONS if n not in ("np_chosen", "branch", "floored")]
POWERS = ("power", "math_pow", "builtin_pow", "np_power")
EXACT_AT_NAN = {("sign_copied", 1)}


def exponent_one(name, point) -> bool:
    return name in POWERS and point[1] == 1.0


@pytest.mark.parametrize("name", NAN_IN_NAN_OUT)
def test_nan_inputs_propagate(name):
    import numpy as np

    fn = getattr(ec, name)
    arity = fn.__code__.co_argcount
    df = grad(fn, argnums=tuple(range(arity)))
    for point in grid_points(name):
        if not any(map(math.isnan, point)) or exponent_one(name, point):
            continue
        value = value_at(fn, point)
        if value is None or not math.isnan(value):
            continue
        with np.errstate(all="ignore"):
            slopes = as_tuple(df(*point))
        for k, (x, slope) in enumerate(zip(point, slopes)):
            if math.isnan(x) and (name, k) not in EXACT_AT_NAN:
                assert math.isnan(slope), (name, point, slopes)


# --- against JAX itself ----------------------------------------------------------------------
# where ad_compiler deliberately differs (see docs/rules.md): NaN in, NaN out;
# Python's max/min; hypot at an infinite argument (JAX's hypot gives nan slopes)
DEVIATIONS = {"larger", "smaller", "branch"}
NAN_DEVIATIONS = {
    "absolute",
    "math_fabs",
    "np_absolute",
    "np_larger",
    "np_smaller",
    "sign_copied",
    "np_clipped",
    "remainder",
}


def jax_twins():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    twins = {
        "power": lambda x, y: x**y,
        "math_pow": lambda x, y: x**y,
        "builtin_pow": lambda x, y: x**y,
        "np_power": jnp.power,
        "cube": lambda x: x**3,
        "to_the_zero": lambda x: x**0,
        "to_the_float_zero": lambda x: x**0.0,
        "to_the_half": lambda x: x**0.5,
        "zero_to_the": lambda y: 0.0**y,
        "minus_two_to_the": lambda y: (-2.0) ** y,
        "square_root": jnp.sqrt,
        "np_square_root": jnp.sqrt,
        "root_of_square": lambda x: jnp.sqrt(x * x),
        "hypotenuse": jnp.hypot,
        "np_hypotenuse": jnp.hypot,
        "arctan_of_zero_hypot": lambda a: jnp.arctan(jnp.hypot(a - a, a - a)) + a,
        "angle": jnp.arctan2,
        "np_angle": jnp.arctan2,
        "arcsine": jnp.arcsin,
        "arccosine": jnp.arccos,
        "np_arcsine": jnp.arcsin,
        "np_logarithm": jnp.log,
        "np_log1p": jnp.log1p,
        "np_log2": jnp.log2,
        "tangent": jnp.tan,
        "absolute": jnp.abs,
        "math_fabs": jnp.abs,
        "np_absolute": jnp.abs,
        "np_larger": jnp.maximum,
        "np_smaller": jnp.minimum,
        "sign_copied": jnp.copysign,
        "np_clipped": lambda x: jnp.clip(x, 0.0, 1.0),
        "np_chosen": lambda x: jnp.where(x > 0.0, x, 2.0 * x),
        "floored": lambda x: jnp.floor(x) + x,
        "remainder": jnp.fmod,
    }
    return jax, twins


def jax_grad(jax, twin, point):
    argnums = tuple(range(len(point)))
    return tuple(float(v) for v in jax.grad(twin, argnums=argnums)(*point))


@pytest.mark.slow
def test_table_is_jax():
    jax, twins = jax_twins()
    for name, point, expected, why in CASES:
        if name in DEVIATIONS or why.startswith("DEVIATION"):
            continue
        assert all_same(jax_grad(jax, twins[name], point), expected), name
        along = JVPS.get((name, point), expected)
        for k in range(len(point)):
            tangents = tuple(1.0 if i == k else 0.0 for i in range(len(point)))
            dy = jax.jvp(twins[name], point, tangents)[1]
            assert same(dy, along[k]), (name, point, k)
    for name, x, expected, _ in HESSIANS:
        assert same(jax.hessian(twins[name])(x), expected), name


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in FUNCTIONS if n not in DEVIATIONS])
def test_grid_against_jax(name):
    import numpy as np

    jax, twins = jax_twins()
    fn = getattr(ec, name)
    df = grad(fn, argnums=tuple(range(fn.__code__.co_argcount)))
    wrong = []
    for point in grid_points(name):
        if name in NAN_DEVIATIONS and any(map(math.isnan, point)):
            continue
        if "hypot" in name and any(map(math.isinf, point)):
            continue
        if value_at(fn, point) is None:
            continue  # the function itself raises: nothing to follow
        with np.errstate(all="ignore"):
            ours = as_tuple(df(*point))
        theirs = jax_grad(jax, twins[name], point)
        # the sign of a zero slope is an accident of either implementation
        if not all_same(ours, theirs, signed_zero=False):
            wrong.append((point, ours, theirs))
    assert wrong == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        n
        for n in FUNCTIONS
        if n not in DEVIATIONS and getattr(ec, n).__code__.co_argcount == 1
    ],
)
def test_hessian_grid_against_jax(name):
    # second order: the rules' tangents differentiated again (forward over reverse)
    import numpy as np

    jax, twins = jax_twins()
    fn = getattr(ec, name)
    h = hessian(fn)
    wrong = []
    for (x,) in grid_points(name):
        if name in NAN_DEVIATIONS and math.isnan(x):
            continue
        if value_at(fn, (x,)) is None:
            continue
        with np.errstate(all="ignore"):
            ours = h(x)
        theirs = jax.hessian(twins[name])(x)
        if not same(ours, theirs, signed_zero=False):
            wrong.append((x, ours, float(theirs)))
    assert wrong == []


# --- nan at every order ----------------------------------------------------------------
# The non-smooth rules' nan fall-back is nan_of(x) (x - x), whose derivatives are nan
# at nan again: x itself would differentiate to a clean dx, a constant to 0.
SCALAR_AT_NAN = [
    "abs_scaled",
    "fabs_scaled",
    "sign_copied_scaled",
    "remainder_scaled",
    "python_remainder_scaled",
]
ARRAY_AT_NAN = [
    "np_abs_sum",
    "np_clipped_squares",
    "np_sign_times",
]


@pytest.mark.parametrize("name", SCALAR_AT_NAN)
def test_nan_at_every_order_scalar(name):
    import nan_corpus as nc

    from ad_compiler import jacfwd

    f = getattr(nc, name)
    assert math.isnan(grad(f)(NAN))
    assert math.isnan(hessian(f)(NAN))
    assert math.isnan(jacfwd(hessian(f))(NAN))
    assert not math.isnan(hessian(f)(1.5))


@pytest.mark.slow  # to the third order, over half a second; test_nan_at_every_order_array is fast
def test_nan_at_every_order_builtin_max_min():
    import nan_corpus as nc

    from ad_compiler import jacfwd

    g = grad(nc.extremes, argnums=(0, 1))(NAN, 1.0)
    assert all(math.isnan(v) for v in g)
    h = hessian(nc.extremes, argnums=(0, 1))(NAN, 1.0)
    assert all(math.isnan(v) for row in h for v in row), h
    third = jacfwd(hessian(nc.extremes))(NAN, 1.0)
    assert math.isnan(third)
    assert hessian(nc.extremes, argnums=(0, 1))(2.0, 1.0) == ((0.0, 0.0), (0.0, 0.0))


@pytest.mark.parametrize("point", [(NAN, 1.0), (5.0, NAN)])
def test_nan_at_every_order_fmod_both_arguments(point):
    import nan_corpus as nc

    assert all(math.isnan(v) for v in grad(nc.remainder_both, argnums=(0, 1))(*point))
    h = hessian(nc.remainder_both, argnums=(0, 1))(*point)
    assert all(math.isnan(v) for row in h for v in row), h


@pytest.mark.parametrize("name", ARRAY_AT_NAN)
def test_nan_at_every_order_array(name):
    import nan_array_corpus as nc
    import numpy as np

    from ad_compiler import jacfwd

    f = getattr(nc, name)
    X = np.array([NAN, 0.5, -3.0])
    assert np.isnan(grad(f)(X)[0]) and not np.isnan(grad(f)(X)[1:]).any()
    H = np.asarray(hessian(f)(X))
    assert np.isnan(H[0]).all() and not np.isnan(H[1:, 1:]).any(), H
    T = np.asarray(jacfwd(hessian(f))(X))
    assert np.isnan(T[0, 0, 0]) and not np.isnan(T[1:, 1:, 1:]).any(), T


def test_nan_at_every_order_numpy_maximum_minimum():
    import nan_array_corpus as nc
    import numpy as np

    X, Y = np.array([NAN, 2.0, -3.0]), np.array([1.0, 1.0, 1.0])
    (hxx, hxy), (hyx, hyy) = hessian(nc.np_extremes, argnums=(0, 1))(X, Y)
    for h in (hxx, hxy, hyx, hyy):
        assert np.isnan(h[0]).all() and not np.isnan(h[1:, 1:]).any(), h


@pytest.mark.slow  # one `adc compile` run
def test_cli_hessian_module_is_nan_at_nan(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", "compile", "nan_corpus.py"]
        + ["--mode", "hessian"],
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    assert proc.returncode == 0, proc.stderr
    module = _load(proc.stdout, tmp_path, "hessian")
    assert (
        "x_bar_dot = 3.0 * (0.0 if x >= 0.0 else (0.0 if x < 0.0 else (x - x) * x_dot))"
        in proc.stdout
    )
    for name in SCALAR_AT_NAN:
        assert math.isnan(module[f"{name}_hessian"](NAN)[0][0]), name
    h = module["extremes_hessian"](NAN, 1.0)
    assert all(math.isnan(v) for row in h for v in row), h
