"""The API differentiates the function object it is given, never stale text.

Edited module files, functions redefined in a file, notebook cells whose name
is reused, globals and closure values changed after compiling, decorators (API
and CLI).  Expected derivatives are worked out by hand in comments; where a
function is not a simple polynomial they are checked against central
differences.
"""

import functools
import importlib.util
import itertools
import linecache
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ad_compiler import (
    CompileError,
    SourceUnavailableError,
    StaleSourceError,
    grad,
    hessian,
    jacfwd,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_COUNT = itertools.count()


def _import(path):
    """Import the file at ``path`` as a fresh module (a unique name each time)."""
    name = f"stale_mod_{next(_COUNT)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path, text, bump=0):
    path.write_text(textwrap.dedent(text))
    if bump:  # a new mtime, as an editor's save gives (linecache compares it)
        st = os.stat(path)
        os.utime(path, (st.st_atime + bump, st.st_mtime + bump))


def _cell(name, text):
    """Run ``text`` as a notebook cell named ``name`` does (IPython registers the
    cell's text in linecache, then execs the code compiled under that name)."""
    text = textwrap.dedent(text)
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    namespace = {"__name__": "__main__"}
    exec(compile(text, name, "exec"), namespace)
    return namespace


def _central(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


# --- edited files ---------------------------------------------------------------------
def test_file_edited_after_import_same_length(tmp_path):
    path = tmp_path / "mod_same.py"
    _write(path, "def f(x):\n    return 3.0 * x * x\n")
    mod = _import(path)
    # same length, same lines, another function: 4.0 instead of 3.0
    _write(path, "def f(x):\n    return 4.0 * x * x\n", bump=10)
    with pytest.raises(StaleSourceError) as info:
        grad(mod.f)
    message = str(info.value)
    assert str(path) in message and "`f`" in message
    assert "reload the module" in message


def test_file_edited_after_import_other_length_and_lines(tmp_path):
    path = tmp_path / "mod_len.py"
    _write(path, "def g(x):\n    return x\n\n\ndef f(x):\n    return 3.0 * x * x\n")
    mod = _import(path)
    # f stays at line 5 but its body changed
    _write(
        path, "def g(x):\n    return x\n\n\ndef f(x):\n    return x ** 3 + 1.0\n", 10
    )
    with pytest.raises(StaleSourceError, match="its code differs"):
        grad(mod.f)
    # lines inserted above: line 5 now starts another function
    text = "import math\n\n\n\ndef h(x):\n    return x\n\n\ndef f(x):\n    return x\n"
    _write(path, text, 20)
    with pytest.raises(StaleSourceError, match="no `f` starts at line 5"):
        grad(mod.f)
    # the text no longer parses at all
    _write(path, "def g(x:\n", 30)
    with pytest.raises(StaleSourceError, match=r"mod_len\.py"):
        grad(mod.f)


def test_reloaded_module_is_differentiated_anew(tmp_path):
    path = tmp_path / "mod_reload.py"
    _write(path, "def f(x):\n    return 3.0 * x * x\n")
    mod = _import(path)
    assert grad(mod.f)(1.0) == 6.0  # d/dx 3x² = 6x
    _write(path, "def f(x):\n    return 5.0 * x * x\n", bump=10)
    spec = importlib.util.spec_from_file_location(mod.__name__, path)
    spec.loader.exec_module(mod)  # importlib.reload of a file-loaded module
    assert grad(mod.f)(1.0) == 10.0  # d/dx 5x² = 10x


def test_function_redefined_in_the_same_file(tmp_path):
    path = tmp_path / "mod_twice.py"
    _write(
        path,
        """
        def f(x):
            return x * x

        first = f


        def f(x):
            return x * x * x
        """,
    )
    mod = _import(path)
    assert grad(mod.f)(2.0) == 12.0  # the live f: 3x² at 2
    assert grad(mod.first)(2.0) == 4.0  # the first f, still alive: 2x at 2


def test_new_code_object_on_the_same_function_compiles_anew(tmp_path):
    path = tmp_path / "mod_code.py"
    _write(path, "def f(x):\n    return x * x\n\n\ndef g(x):\n    return 7.0 * x\n")
    mod = _import(path)
    assert grad(mod.f)(3.0) == 6.0
    mod.f.__code__ = mod.g.__code__  # what IPython's autoreload does
    assert grad(mod.f)(3.0) == 7.0


# --- notebook cells -------------------------------------------------------------------
def test_reused_cell_name_never_returns_another_cells_derivative():
    first = _cell(
        "<cell-3>", "def f(x):\n    return x * x\n\n\ndef g(x):\n    return x\n"
    )
    assert grad(first["f"])(3.0) == 6.0
    # the same cell name, re-run with other text (IPython counts cells per kernel)
    second = _cell("<cell-3>", "def f(x):\n    return 10.0 * x\n")
    assert grad(second["f"])(3.0) == 10.0
    assert grad(first["f"])(3.0) == 6.0  # compiled from its own text before
    with pytest.raises(StaleSourceError, match="<cell-3>"):
        grad(first["g"])  # its text is gone: never the new cell's
    linecache.cache.pop("<cell-3>")


def test_exec_without_registered_text_is_unavailable_not_stale():
    namespace = {}
    exec(compile("def f(x):\n    return x * x\n", "<cell-none>", "exec"), namespace)
    with pytest.raises(SourceUnavailableError, match="cannot read the source"):
        grad(namespace["f"])


def test_cell_redefining_a_function_is_compiled_anew():
    a = _cell("<cell-7>", "def f(x):\n    return x * x * x\n")
    b = _cell("<cell-8>", "def f(x):\n    return x * x\n")
    assert grad(a["f"])(2.0) == 12.0 and grad(b["f"])(2.0) == 4.0
    assert grad(a["f"])(2.0) == 12.0


# --- globals and closure values -------------------------------------------------------
SCALE = 2.0


def scaled(x):
    return SCALE * x * x


def uses_scaled(x):
    return scaled(x) + x


def test_changed_global_gives_the_new_derivative():
    global SCALE
    df = grad(scaled)
    try:
        assert df(1.0) == 4.0  # 2·SCALE·x with SCALE = 2
        SCALE = 5.0
        assert df(1.0) == 10.0  # SCALE = 5, same as grad(scaled) compiled afresh
        assert grad(scaled)(1.0) == 10.0
        assert "5.0" in df.source
        SCALE = 2.0
        assert df(1.0) == 4.0
    finally:
        SCALE = 2.0


def test_changed_global_seen_through_an_inlined_callee_and_second_derivatives():
    global SCALE
    df, d2f, h = grad(uses_scaled), grad(grad(uses_scaled)), hessian(uses_scaled)
    try:
        assert (df(1.0), d2f(1.0), h(1.0)) == (5.0, 4.0, 4.0)  # 2·S·x + 1, 2·S, 2·S
        SCALE = 3.0
        assert (df(1.0), d2f(1.0), h(1.0)) == (7.0, 6.0, 6.0)
    finally:
        SCALE = 2.0


def test_rebound_callee_is_inlined_anew():
    namespace = _cell(
        "<cell-callee>",
        """
        def g(x):
            return x * x

        def f(x):
            return g(x) + 1.0
        """,
    )
    df = grad(namespace["f"])
    assert df(3.0) == 6.0
    _cell("<cell-callee-2>", "def g(x):\n    return x * x * x\n")
    namespace["g"] = _cell("<cell-callee-2>", "def g(x):\n    return x * x * x\n")["g"]
    assert df(3.0) == 27.0  # 3x² at 3


def test_changed_closure_value_gives_the_new_derivative():
    def make(c):
        def f(x):
            return c * x * x

        def set_c(value):
            nonlocal c
            c = value

        return f, set_c

    f, set_c = make(3.0)
    df = grad(f)
    assert df(1.0) == 6.0
    set_c(0.5)
    assert df(1.0) == 1.0


def test_array_code_sees_a_changed_global():
    global SCALE

    def loss(w):
        return np.sum(SCALE * w * w)

    df = grad(loss)
    w = np.array([1.0, -2.0])
    try:
        np.testing.assert_allclose(df(w), 4.0 * w)  # 2·SCALE·w
        SCALE = 0.5
        np.testing.assert_allclose(df(w), 1.0 * w)
    finally:
        SCALE = 2.0


def test_guard_keeps_parameters_defaults_and_source():
    global SCALE

    def f(_adc_fresh, x=2.0):  # a parameter named like the guard's locals
        return SCALE * _adc_fresh * x

    df = grad(f, argnums=(0, 1))
    assert df(1.0) == (4.0, 2.0)  # default x = 2: (S·x, S·_adc_fresh)
    SCALE = 3.0
    try:
        assert df(1.0, 1.0) == (3.0, 3.0)
        assert "3.0" in df.source
    finally:
        SCALE = 2.0


def test_scalar_derivative_without_globals_is_the_emitted_function():
    def f(x):
        return x * x

    df = grad(f)
    assert df.__code__.co_filename.startswith("<ad_compiler grad of f")


# --- decorators: the API ----------------------------------------------------------------
def twice(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)

    return wrapper


@twice
def doubled_square(x):
    return x * x


def registered(fn):  # returns the function itself, as registries do
    registered.seen = fn
    return fn


@registered
def plain_cube(x):
    return x * x * x


@functools.lru_cache(maxsize=None)
def cached_square(x):
    return x * x


def calls_doubled(x):
    return doubled_square(x) + np.sin(x)


def test_grad_of_a_wraps_wrapper_differentiates_the_wrapper():
    # doubled_square is the wrapper: 2x², whose derivative 4x is 12 at 3
    # (inspect.getsource would follow __wrapped__ to x², giving 6)
    assert grad(doubled_square)(3.0) == 12.0
    assert "x_bar = x * 4.0" in grad(doubled_square).source


def test_inlined_wrapped_callee_runs_the_wrapper():
    df = grad(calls_doubled)  # 2x² + sin x: 4x + cos x
    assert df(0.5) == pytest.approx(2.0 + np.cos(0.5), rel=1e-12)
    assert df(0.5) == pytest.approx(_central(calls_doubled, 0.5), rel=1e-7)


def test_decorator_returning_the_function_itself_is_proven_harmless():
    # the object given runs exactly this def's code (checked): 3x² at 2
    assert registered.seen is plain_cube
    assert grad(plain_cube)(2.0) == 12.0


def test_decorator_making_a_non_function_is_refused_at_the_decorator():
    with pytest.raises(CompileError) as info:
        grad(cached_square)
    error = info.value
    line = cached_square.__wrapped__.__code__.co_firstlineno
    assert str(error.loc) == f"{__file__}:{line}:2"
    assert error.message == (
        "`@functools.lru_cache(maxsize=None)` makes `cached_square` a "
        "`_lru_cache_wrapper`, not a Python function: ad_compiler cannot see what "
        "the decorator does"
    )
    assert "^~~~" in error.render()


# --- decorators: the CLI ----------------------------------------------------------------
DECORATED = """\
import functools
import math
from ad_compiler import custom_derivative, grad


def erf_partials(x):
    return 2.0 / math.sqrt(math.pi) * math.exp(-x * x)


@custom_derivative(erf_partials)
def erf(x):
    return math.erf(x)


@functools.lru_cache(maxsize=None)
def cached(x):
    return x * x


@grad
def target(x):
    return erf(x) * x


def uses_cached(x):
    return cached(x) + 1.0


def uses_target(x):
    return target(x) * 2.0
"""


def _adc(*args, cwd):
    exe = os.path.join(os.path.dirname(sys.executable), "adc")
    return subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def _refused(tmp_path, function, adc=_adc) -> str:
    """The errors of `adc compile f.py --function <function>` on DECORATED (exit 1)."""
    (tmp_path / "f.py").write_text(DECORATED)
    run = adc("compile", "f.py", "--function", function, cwd=tmp_path)
    assert run.returncode == 1
    return run.stderr


def test_cli_refuses_an_unknown_decorator_on_the_target(tmp_path, adc_in_process):
    """(In-process; the slow tests below run the console script.)"""
    stderr = _refused(tmp_path, "cached", adc_in_process)
    assert stderr.startswith(
        "f.py:15:2: error: `cached` is decorated with "
        "`@functools.lru_cache(maxsize=None)`, which ad_compiler cannot see through"
    )
    assert "    @functools.lru_cache(maxsize=None)\n     ^~~~" in stderr
    assert "hint: remove the decorator" in stderr


@pytest.mark.slow  # two subprocesses; the decorated target's refusal is fast
def test_cli_refuses_an_unknown_decorator_on_an_inlined_callee(tmp_path):
    assert _refused(tmp_path, "uses_cached").startswith(
        "f.py:15:2: error: `cached`, called from `uses_cached`, is decorated with "
        "`@functools.lru_cache(maxsize=None)`"
    )
    # a callee decorated with @grad is bound to its gradient when the file runs
    assert _refused(tmp_path, "uses_target").startswith(
        "f.py:20:2: error: `target`, called from `uses_target`, is decorated with "
        "`@grad`"
    )


@pytest.mark.slow  # a subprocess; the API's decorator tests above are fast
def test_cli_reads_past_ad_compilers_own_decorators(tmp_path):
    (tmp_path / "f.py").write_text(DECORATED)
    out = tmp_path / "out.py"
    run = _adc("compile", "f.py", "--function", "target", "-o", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    namespace = {}
    exec(out.read_text(), namespace)
    # d/dx erf(x)·x = erf'(x)·x + erf(x)
    x = 0.7
    expected = 2 / np.sqrt(np.pi) * np.exp(-x * x) * x + __import__("math").erf(x)
    assert namespace["target_grad"](x) == pytest.approx(expected, rel=1e-12)


@pytest.mark.slow  # a subprocess; the decorated target's refusal is fast
def test_cli_refuses_a_grad_imported_from_elsewhere(tmp_path):
    (tmp_path / "g.py").write_text(
        "from jax import grad\n\n\n@grad\ndef f(x):\n    return x * x\n"
    )
    run = _adc("compile", "g.py", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr.startswith("g.py:4:2: error: `f` is decorated with `@grad`")


# --- more values baked in: through modules, custom derivatives, second derivatives ----
def test_function_of_another_module_rebound_is_inlined_anew(tmp_path):
    helpers = tmp_path / "helpers_mod.py"
    _write(
        helpers, "def g(x):\n    return x * x\n\n\ndef g3(x):\n    return x * x * x\n"
    )
    mod = _import(helpers)
    user = _cell("<cell-uses-module>", "def f(x):\n    return helpers.g(x)\n")
    user["helpers"] = mod
    df = grad(user["f"])
    assert df(2.0) == 4.0  # 2x
    mod.g = mod.g3
    assert df(2.0) == 12.0  # 3x²


def test_constant_copied_with_a_custom_derivative_is_watched():
    namespace = _cell(
        "<cell-custom>",
        """
        from ad_compiler import custom_derivative

        K = 2.0

        def p(x):
            return K

        @custom_derivative(p)
        def lin(x):
            return K * x

        def f(x):
            return lin(x) * 3.0
        """,
    )
    df = grad(namespace["f"])
    assert df(1.0) == 6.0  # 3·K
    namespace["K"] = 5.0
    assert df(1.0) == 15.0


def test_second_derivative_of_array_code_sees_a_changed_global():
    global SCALE

    def loss(w):
        return np.sum(SCALE * w * w * w)

    w = np.array([1.0, 2.0])
    H = hessian(loss)
    J = jacfwd(grad(loss))
    try:
        np.testing.assert_allclose(H(w), np.diag(6.0 * SCALE * w))  # 6·S·w
        SCALE = 1.0
        np.testing.assert_allclose(H(w), np.diag(6.0 * w))
        np.testing.assert_allclose(J(w), np.diag(6.0 * w))
    finally:
        SCALE = 2.0


class Model:
    @staticmethod
    def energy(x):
        return x * x * x

    def __private(self, x):  # a mangled name: the code compares as compiled
        return x

    def scaled(self, x):
        return self.__private(x) * 2.0


def test_methods_and_staticmethods_are_read_in_their_class():
    assert grad(Model.energy)(2.0) == 12.0  # 3x² at 2
    # the check compiles the whole file, so a class body is no false alarm:
    # `self.__private` is a method call ad_compiler does not support (not stale)
    with pytest.raises(CompileError, match="not supported"):
        grad(Model.scaled, argnums=1)


def calls_cached(x):
    return cached_square(x) + x


def test_callee_made_a_non_function_by_a_decorator_is_named():
    with pytest.raises(CompileError) as info:
        grad(calls_cached)
    assert info.value.message.startswith(
        "call to `cached_square` is not supported (a `_lru_cache_wrapper` made by "
        "`@functools.lru_cache(maxsize=None)` on `cached_square`)"
    )
    assert info.value.loc.line == calls_cached.__code__.co_firstlineno + 1


def test_deleted_file_is_stale(tmp_path):
    path = tmp_path / "mod_gone.py"
    _write(path, "def f(x):\n    return x * x\n")
    mod = _import(path)
    path.unlink()
    linecache.checkcache(str(path))
    with pytest.raises(StaleSourceError, match="that file no longer exists"):
        grad(mod.f)


def test_a_derivative_called_inside_a_differentiated_function_stays_current():
    global SCALE
    d_scaled = grad(scaled)  # 2·SCALE·x, watching SCALE

    def uses(x):
        return d_scaled(x) * x  # 2·SCALE·x²

    du = grad(uses)
    try:
        assert du(1.0) == 8.0  # 4·SCALE·x
        SCALE = 3.0
        assert du(1.0) == 12.0
    finally:
        SCALE = 2.0


def recoded(fn):  # a decorator that patches the function's code
    fn.__code__ = fn.__code__.replace(co_consts=(None, 5.0))
    return fn


@recoded
def swapped(x):
    return x * 3.0


def other_code(x):
    return 7.0 * x


def borrowed(fn):  # a decorator giving the function another def's code
    fn.__code__ = other_code.__code__
    return fn


@borrowed
def lent(x):
    return x * x


def test_decorator_replacing_the_code_is_refused_and_named():
    assert swapped(1.0) == 5.0  # what runs is not what the text says
    with pytest.raises(StaleSourceError) as info:
        grad(swapped)
    assert str(info.value).endswith(
        "(or the decorator `@recoded` replaced its code, which ad_compiler cannot "
        "see through)"
    )


def test_code_borrowed_from_another_def_is_that_defs_derivative():
    assert grad(lent)(1.0) == 7.0  # lent runs other_code: 7x
