"""``ad_compiler.jit``: emitted derivatives of scalar code compiled by Numba.

Each compiled derivative is compared with the Python one it stands for (to
1e-12, relative); the Numba-ready source is checked for the forms it promises
(tape columns as arrays for range loops, index loops, ``@numba.njit``).  The
tests that compile skip when Numba is not installed; each compile takes about
a second, so they are in the slow tier except the logistic map's.
"""

import math
import sys

import numpy as np
import pytest
from scalar_loops import logistic, newton_sqrt, pendulum

from ad_compiler import (
    CompileError,
    UsageError,
    custom_derivative,
    grad,
    hessian,
    hvp,
    jit,
    value_and_grad,
    vjp,
)
from ad_compiler.backend.numba_ready import rewrite


def softplus_partials(x):
    return 1.0 / (1.0 + math.exp(-x))


@custom_derivative(softplus_partials)
def softplus(x):
    return math.log1p(math.exp(x))


def through_custom(x, n):
    s = 0.0
    for i in range(n):
        s = s + softplus(x * s - 1.0)
    return s


def nested(x, n, m):
    s = 0.0
    for i in range(n):
        for j in range(m):
            s = s + math.sin(x * s + j)
    return s


def stops_early(x, n):
    s = x
    for i in range(n):
        s = math.sin(s) * x + 0.1 * s
        if s > 0.9:
            break
    if s < 0.0:
        return -s * x
    return s * s


def guarded(x):
    try:
        return math.log(x)
    except ValueError:
        return 0.0


def mlp(W1, b1, W2, b2, X, Y):
    H = np.tanh(X @ W1 + b1)
    diff = H @ W2 + b2 - Y
    return 0.5 * np.sum(diff * diff) / len(X)


def wrong_type(x):
    return len(x) * x


def close(a, b):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        if isinstance(u, tuple):
            close(u, v)
        else:
            assert math.isclose(float(u), float(v), rel_tol=1e-12, abs_tol=1e-300)


@pytest.fixture
def numba(monkeypatch, tmp_path):
    monkeypatch.setenv("ADC_JIT_CACHE", str(tmp_path))  # Numba's cache: here
    return pytest.importorskip("numba")


@pytest.mark.slow
def test_logistic_gradient_as_python_with_column_arrays(numba):
    g = grad(logistic, argnums=(0, 1))
    j = jit(g)
    for n in (0, 1, 10, 200):
        close(j(3.7, 0.3, n), g(3.7, 0.3, n))
    assert "@numba.njit" in j.source and "import numba" in j.source
    assert "np.empty((max(n, 0), 3), np.float64)" in j.source  # a range loop: rows
    assert "reversed(" not in j.source and ".append(" not in j.source
    assert "numba" not in g.source  # the default emission is as it was


@pytest.mark.slow
def test_pendulum_gradient_wrt_angle_and_length(numba):
    g = grad(pendulum, argnums=(0, 1))
    j = jit(g)
    close(j(0.5, 1.2, 1000), g(0.5, 1.2, 1000))
    assert j.python is g


@pytest.mark.slow
def test_newton_while_loop_keeps_a_list_tape(numba):
    g = grad(newton_sqrt)
    j = jit(g)
    for a in (2.0, 9.0, 0.3):
        close(j(a), g(a))
    close(j(2.0), 0.5 / math.sqrt(2.0))
    assert "tape.append(" in j.source  # no trip count before the loop
    assert "in range(len(tape) - 1, -1, -1)" in j.source


@pytest.mark.slow
def test_nested_loops_read_slices_of_the_inner_tape(numba):
    g = grad(nested)
    j = jit(g)
    close(j(0.3, 5, 7), g(0.3, 5, 7))
    # the outer tape keeps the inner one's row bounds: integer columns
    assert "np.int64" in j.source
    assert "reversed(" not in j.source


@pytest.mark.slow
def test_break_and_early_return(numba):
    g = grad(stops_early)
    j = jit(g)
    for x, n in ((0.7, 50), (-0.4, 50), (0.2, 3), (1.5, 10)):
        close(j(x, n), g(x, n))


@pytest.mark.slow
def test_second_order_and_pullbacks(numba):
    args = (0.5, 1.2, 300)
    h = hessian(pendulum, argnums=(0, 1))
    close(jit(h)(*args), h(*args))
    v = hvp(pendulum, argnums=(0, 1))
    close(jit(v)(*args, 1.0, -0.5), v(*args, 1.0, -0.5))
    _, pullback = vjp(logistic, 3.7, 0.3, 50)
    jp = jit(pullback)
    close(jp(2.0), pullback(2.0))
    assert "@numba.njit" in jp.source
    vg = value_and_grad(logistic)
    close(jit(vg)(3.7, 0.3, 50), vg(3.7, 0.3, 50))


@pytest.mark.slow
def test_plain_function(numba):
    j = jit(pendulum)
    close(j(0.5, 1.2, 1000), pendulum(0.5, 1.2, 1000))
    assert j.source.startswith("import numba\n")


@pytest.mark.slow
def test_source_is_what_numba_compiled(numba, tmp_path):
    # (written to a file and imported: cache=True needs a file to cache for)
    import importlib.util

    j = jit(grad(logistic, argnums=(0, 1)))
    assert "@numba.njit(cache=True)\ndef logistic_grad(" in j.source
    path = tmp_path / "copied.py"
    path.write_text(j.source)
    spec = importlib.util.spec_from_file_location("copied", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    compiled = module.logistic_grad
    assert isinstance(compiled, numba.core.registry.CPUDispatcher)
    close(compiled(3.7, 0.3, 40), j(3.7, 0.3, 40))


def test_without_numba_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba: ImportError
    with pytest.raises(UsageError, match=r"pip install 'ad_compiler\[jit\]'"):
        jit(grad(logistic))


def test_a_construct_without_a_numba_form_is_named(numba):
    with pytest.raises(CompileError, match="try/except has no Numba"):
        jit(guarded)
    text = "def f(x):\n    # line 7: y = g(x)\n    return [k for k in {x: 1}]\n"
    text = text.replace("[k for k in {x: 1}]", "{k: 1 for k in (x,)}")
    with pytest.raises(CompileError, match=r"dict comprehension .*line 7: y = g\(x\)"):
        rewrite(text)


@pytest.mark.slow
def test_a_typing_failure_names_the_users_line(numba):
    j = jit(wrong_type)
    with pytest.raises(CompileError, match=r"test_jit.py:\d+: return len\(x\) \* x"):
        j(1.5)


def test_adc_compile_jit_writes_a_numba_module(tmp_path, capsys):
    from ad_compiler.tools.cli import main

    source = tmp_path / "loops.py"
    source.write_text(
        "import math\n\n\n"
        "def logistic(r, x0, n):\n"
        "    x = x0\n"
        "    for i in range(n):\n"
        "        x = r * x * (1.0 - x)\n"
        "    return x\n\n\n"
        "def newton_sqrt(a):\n"
        "    x = a\n"
        "    while abs(x * x - a) > 1e-12:\n"
        "        x = 0.5 * (x + a / x)\n"
        "    return x\n"
    )
    out = tmp_path / "loops_jit.py"
    assert main(["compile", str(source), "--jit", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.count("@numba.njit(cache=True)\ndef ") == 2
    assert "\nimport numba\n" in text
    # each function's len(tape) stays its own: the array tape's counter is
    # logistic's, newton_sqrt keeps its list
    newton = text[text.index("def newton_sqrt_grad") :]
    assert "range(len(tape) - 1, -1, -1)" in newton and "tape_len" not in newton
    assert main(["compile", str(source), "--jit", "--ir"]) == 2
    assert "--jit writes derivative code" in capsys.readouterr().err


@pytest.mark.slow
def test_corpus_listing_is_current(numba):
    """docs/jit_corpus.md, what jit makes of every corpus function, is what
    docs/jit_corpus.py computes now: a function that starts or stops compiling,
    or a compiled derivative that differs from the Python one, shows here."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "docs", "jit_corpus.py")
    spec = importlib.util.spec_from_file_location("jit_corpus", path)
    listing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(listing)
    text = listing.listing()
    assert "DIFFERS" not in text
    with open(listing.TARGET) as file:
        assert file.read() == text, "run: python docs/jit_corpus.py"
    assert text.count("compiles, matches") >= 240


@pytest.mark.parametrize("step", [1, 2, 3, -1, -2, -3])
def test_reversed_range_walked_backwards(step):
    """The rewrite of ``reversed(range(a, b, s))``: the same elements, backwards."""
    import ast

    from ad_compiler.backend.numba_ready import _backwards

    for a in range(-5, 6):
        for b in range(-5, 6):
            text = _backwards(ast.parse(f"range({a}, {b}, {step})", mode="eval").body)
            assert list(eval(text)) == list(reversed(range(a, b, step)))
    for n in (-2, 0, 3):
        text = _backwards(ast.parse(f"range({n})", mode="eval").body)
        assert list(eval(text)) == list(reversed(range(n)))


@pytest.mark.slow
def test_adc_compile_jit_module_runs_compiled(numba, tmp_path):
    import importlib.util

    from ad_compiler.tools.cli import main

    source = tmp_path / "pend.py"
    source.write_text(
        "import math\n\n\n"
        "def pendulum(theta0, L, n):\n"
        "    th = theta0\n"
        "    w = 0.0\n"
        "    for i in range(n):\n"
        "        w = w - 0.00981 / L * math.sin(th)\n"
        "        th = th + 0.001 * w\n"
        "    return th\n"
    )
    out = tmp_path / "pend_jit.py"
    assert (
        main(["compile", str(source), "--jit", "--wrt", "theta0,L", "-o", str(out)])
        == 0
    )
    spec = importlib.util.spec_from_file_location("pend_jit", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.pendulum_grad, numba.core.registry.CPUDispatcher)
    close(
        module.pendulum_grad(0.5, 1.2, 500),
        grad(pendulum, argnums=(0, 1))(0.5, 1.2, 500),
    )


@pytest.mark.slow
def test_custom_derivative_compiled_too(numba):
    g = grad(through_custom)
    j = jit(g)
    close(j(0.3, 20), g(0.3, 20))
    # the user's copy, compiled (and cached: the module is self-contained)
    assert "@numba.njit(cache=True)\ndef softplus(x):" in j.source


SCALE = 2.0


def cube(x):
    return x * x * x


def square(x):
    return x * x


def scaled_loop(x, n):
    s = x
    for i in range(n):
        s = SCALE * square(s) * 0.1 + math.sin(s)
    return s


def scaled_loop_v2(x, n):
    s = x
    for i in range(n):
        s = math.cos(s) * x
    return s


def scaled(x):
    return SCALE * x


@pytest.mark.slow
def test_a_jitted_derivative_follows_the_live_function(numba, monkeypatch):
    """A global the function reads, a helper it calls and its own code, each
    changed after jit: the next call compiles the derivative of the function as
    it is now (as the API's derivative does), and toggling back reuses the
    first compilation."""
    module = sys.modules[__name__]
    g = grad(scaled_loop)
    j = jit(g)
    close(j(0.3, 5), g(0.3, 5))
    first = j.dispatcher
    monkeypatch.setattr(module, "SCALE", 3.0)
    close(j(0.3, 5), g(0.3, 5))
    assert "3.0" in j.source and j.dispatcher is not first
    original, before = square, j(0.3, 5)
    monkeypatch.setattr(module, "square", cube)
    close(j(0.3, 5), g(0.3, 5))
    assert j(0.3, 5) != before
    monkeypatch.setattr(module, "square", original)
    monkeypatch.setattr(module, "SCALE", 2.0)
    close(j(0.3, 5), g(0.3, 5))
    assert j.dispatcher is first  # compiled once per state
    monkeypatch.setattr(scaled_loop, "__code__", scaled_loop_v2.__code__)
    close(j(0.3, 5), g(0.3, 5))
    assert "math.cos" in j.source


@pytest.mark.slow
def test_a_jitted_plain_function_follows_its_globals(numba, monkeypatch):
    j = jit(scaled)
    assert j(1.5) == 3.0
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 5.0)
    assert j(1.5) == 7.5  # Numba froze 2.0; jit compiled again


@pytest.mark.slow
def test_array_gradient_compiled_per_shape_pattern(numba, monkeypatch):
    """A derivative of NumPy code: compiled per pattern of argument shapes,
    the same numbers as the Python one, plain NumPy calls in .source."""
    rng = np.random.default_rng(0)
    args = [
        rng.standard_normal(s) for s in ((4, 5), (5,), (5, 3), (3,), (6, 4), (6, 3))
    ]
    g = grad(mlp, argnums=(0, 1, 2, 3))
    j = jit(g)
    for got, want in zip(j(*args), g(*args)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert "@numba.njit" in j.source and "_like" not in j.source
    first = j.dispatcher
    args[4], args[5] = args[4][:2], args[5][:2]  # another batch size: same code
    for got, want in zip(j(*args), g(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert j.dispatcher is first


@pytest.mark.slow
def test_compiled_derivatives_are_cached_between_processes(numba, tmp_path):
    """A derivative's Numba-ready module is written to the cache directory
    under the hash of its text and compiled with cache=True: a second process
    loads the machine code instead of compiling it."""
    import os
    import subprocess

    script = (
        "import sys\n"
        "from scalar_loops import logistic\n"
        "from ad_compiler import grad, jit\n"
        "j = jit(grad(logistic, argnums=(0, 1)))\n"
        "j(3.2, 0.3, 10)\n"
        "print(sum(j.dispatcher.stats.cache_hits.values()), j.source.count('cache=True'))\n"
    )
    samples = os.path.join(os.path.dirname(__file__), "..", "samples")
    env = dict(os.environ, ADC_JIT_CACHE=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join([samples, env.get("PYTHONPATH", "")])
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    assert [r.stdout.split() for r in runs] == [["0", "1"], ["1", "1"]], runs
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".py")]) == 1


def uses_fmod(x):
    return math.fmod(x, 0.7) * x


@pytest.mark.slow
def test_a_cached_derivative_refused_by_numba_names_the_users_line(numba):
    # the derivative's module is a cached file: Numba prints its path
    # relative to the working directory, and the line is still found
    with pytest.raises(CompileError, match=r"at line \d+: return math\.fmod"):
        jit(grad(uses_fmod))(1.3)
