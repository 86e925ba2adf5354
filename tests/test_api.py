"""The JAX-style API and the decorator: conventions, caching, .source/.ir, scopes."""

import inspect
import math

import numpy as np
import pytest

from ad_compiler import (
    CompileError,
    UsageError,
    grad,
    jvp,
    trace,
    value_and_grad,
    vjp,
)
from ad_compiler.ir.nodes import Function

SCALE = 3.0


def poly(x, y):
    return x * x * y + SCALE * y


@grad
def decorated(x):
    return math.sin(x) * x


@grad(argnums=(0, 1))
def decorated_both(x, y):
    return x * math.exp(y)


def with_default(x, k=2.5):
    return k * x * x


def numpy_spelling(x, y):
    return np.sin(x) * np.exp(y) + np.arctan2(y, x) + np.square(x)


def test_grad_argnums_int_and_tuple_and_negative():
    assert grad(poly)(2.0, 3.0) == pytest.approx(12.0)
    assert grad(poly, argnums=1)(2.0, 3.0) == pytest.approx(4.0 + SCALE)
    assert grad(poly, argnums=-1)(2.0, 3.0) == pytest.approx(4.0 + SCALE)
    assert grad(poly, argnums=(1, 0))(2.0, 3.0) == pytest.approx((4.0 + SCALE, 12.0))


def test_bad_argnums_are_usage_errors():
    with pytest.raises(UsageError, match="out of range"):
        grad(poly, argnums=2)
    with pytest.raises(UsageError, match="argnums must be an int or a tuple of ints"):
        grad(poly, argnums="x")


def test_decorator_forms():
    assert decorated(0.5) == pytest.approx(math.cos(0.5) * 0.5 + math.sin(0.5))
    assert decorated_both(2.0, 0.5) == pytest.approx(
        (math.exp(0.5), 2.0 * math.exp(0.5))
    )
    assert decorated.__name__ == "decorated_grad"


def test_value_and_grad_returns_the_exact_value():
    y, g = value_and_grad(poly)(2.0, 3.0)
    assert y == poly(2.0, 3.0)
    assert g == pytest.approx(12.0)


def test_jvp_and_vjp_conventions():
    y, y_dot = jvp(poly, (2.0, 3.0), (1.0, 0.0))
    assert (y, y_dot) == (poly(2.0, 3.0), pytest.approx(12.0))
    y, pullback = vjp(poly, 2.0, 3.0)
    assert y == poly(2.0, 3.0)
    assert pullback(2.0) == pytest.approx((24.0, 2 * (4.0 + SCALE)))
    with pytest.raises(UsageError, match="takes 2 arguments, got 1 primals"):
        jvp(poly, (2.0,), (1.0,))
    with pytest.raises(UsageError, match="got 2 primals but 1 tangents"):
        jvp(poly, (2.0, 3.0), (1.0,))


def test_source_ir_and_getsource():
    g = grad(poly, argnums=(0, 1))
    assert isinstance(g.ir, Function)
    assert g.source.startswith('"""')
    assert "def poly_grad(x, y):" in g.source
    assert inspect.getsource(g) in g.source
    assert "ad_compiler" not in [
        line.split()[1] for line in g.source.splitlines() if line.startswith("import")
    ]
    # the source is self-contained: executing it alone gives the same function
    namespace = {}
    exec(g.source, namespace)
    assert namespace["poly_grad"](2.0, 3.0) == g(2.0, 3.0)


def test_compiled_derivatives_are_cached():
    assert grad(poly, argnums=1) is grad(poly, argnums=1)
    assert grad(poly, argnums=0) is not grad(poly, argnums=1)


def test_defaults_are_kept():
    g = grad(with_default)
    assert "def with_default_grad(x, k=2.5):" in g.source
    assert g(2.0) == pytest.approx(10.0)
    assert g(2.0, 1.0) == pytest.approx(4.0)


def test_numpy_scalar_twins_keep_numpy_semantics():
    g = grad(numpy_spelling, argnums=(0, 1))
    assert "import numpy as np" in g.source and "np.cos(x)" in g.source
    x, y = 0.7, 0.3
    expected_x = np.cos(x) * np.exp(y) - y / (x * x + y * y) + 2 * x
    expected_y = np.sin(x) * np.exp(y) + x / (x * x + y * y)
    assert g(x, y) == pytest.approx((expected_x, expected_y), rel=1e-13)


def test_closures_and_globals_resolve_like_python():
    def make(k):
        def scaled(x):
            return k * math.sin(x) + SCALE

        return scaled

    assert grad(make(4.0))(0.2) == pytest.approx(4.0 * math.cos(0.2))
    assert grad(make(-1.0))(0.2) == pytest.approx(-math.cos(0.2))


def test_local_names_shadow_globals():
    def shadow(x):
        SCALE = x * x
        return SCALE * 2.0

    assert grad(shadow)(3.0) == pytest.approx(12.0)


def test_errors_in_nested_functions_point_at_the_file_column():
    def nested(x):
        return x << 2

    with pytest.raises(CompileError) as info:
        grad(nested)
    line = inspect.getsourcelines(nested)[1] + 1
    text = open(__file__, encoding="utf-8").read().splitlines()[line - 1]
    assert (info.value.loc.line, info.value.loc.col) == (line, text.index("x << 2") + 1)


def test_trace_prints_like_the_seeds():
    text = str(trace(poly))
    assert text.splitlines()[0] == "def poly(x, y):"
    assert "v1 = x * x" in text and "3.0 * y" in text


def test_reassignment_and_tuple_unpacking():
    def swap(a, b):
        a, b = b, a * b
        a += b
        a *= a
        return a

    # a' = b + a b, result (b + a b)^2
    ga, gb = grad(swap, argnums=(0, 1))(2.0, 3.0)
    inner = 3.0 + 6.0
    assert (ga, gb) == pytest.approx((2 * inner * 3.0, 2 * inner * 3.0))
    assert "a_1" in str(trace(swap))


def test_calls_resolve_through_closures_and_globals_of_other_modules():
    """A helper reached through a closure, and one imported from another module
    (resolved in *its* module's globals), are inlined like any call."""
    import corpus_control

    scale = 3.0

    def local_helper(u, k=2.0):
        return k * math.sin(u) * scale

    def f(x, y):
        return local_helper(x) + corpus_control.h_poly(y, c=x) + local_helper(y, k=x)

    x, y = 0.4, -0.7
    gx, gy = grad(f, argnums=(0, 1))(x, y)
    h = 1e-6
    assert gx == pytest.approx((f(x + h, y) - f(x - h, y)) / (2 * h), rel=1e-7)
    assert gy == pytest.approx((f(x, y + h) - f(x, y - h)) / (2 * h), rel=1e-7)
    source = grad(f, argnums=(0, 1)).source
    assert "local_helper" not in source and "h_poly" not in source  # inlined


def test_custom_derivative_functions_are_copied_into_the_emitted_module():
    import corpus_control

    g = grad(corpus_control.f_custom_erf)
    assert "def h_erf(x):" in g.source and "math.erf(x)" in g.source
    assert "custom_derivative" not in g.source  # the decorator is not copied
    x = 0.3
    want = math.erf(x) + x * 2 / math.sqrt(math.pi) * math.exp(-x * x)
    want += 2 * 2 / math.sqrt(math.pi) * math.exp(-4 * x * x)
    assert g(x) == pytest.approx(want, rel=1e-14)
