"""The emitted code runs raw; black runs when ``.source`` is first read
(ad_compiler/backend/loader.py).

Long parameter names make the raw text of these derivatives lines black
rewraps, so formatting changes line numbers and reading ``.source`` has to
swap the code of every function of the module (``_like``, ``_unrepeat`` and
the derivative) for the formatted text's.
"""

import inspect
import linecache
import math
import threading
import traceback

import numpy as np
import pytest

from ad_compiler import grad, hessian, jacfwd, vjp
from ad_compiler.backend import loader
from ad_compiler.backend.loader import raw_source_of, source_of


def repeated_layer(weights_of_the_layer, inputs_of_the_network):
    activations = np.tanh(weights_of_the_layer @ np.repeat(inputs_of_the_network, 2))
    return np.sum(activations * activations) + math.sqrt(
        np.sum(inputs_of_the_network * inputs_of_the_network) + 0.5
    )


def scalar_seed(first_argument_of_the_seed, second_argument_of_the_seed):
    return math.log(first_argument_of_the_seed) * math.sin(
        second_argument_of_the_seed
    ) + first_argument_of_the_seed * math.exp(second_argument_of_the_seed)


W = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
X = np.array([0.5, -1.0])


def module_functions(fn) -> dict:
    """The functions the emitted module of ``fn`` defined (by the file they
    were compiled from: the raw text's or the formatted one's)."""
    return {
        k: v
        for k, v in fn.__globals__.items()
        if inspect.isfunction(v) and v.__code__.co_filename.startswith("<ad_compiler")
    }


def failing_call(d):
    """The last frame of the traceback of a call with mismatched shapes."""
    with pytest.raises(ValueError, match="matmul") as info:
        d(W, np.ones(3))
    return traceback.extract_tb(info.tb)[-1]


def test_the_code_runs_raw_until_the_source_is_read_then_the_formatted_text():
    d = grad(repeated_layer, argnums=(0, 1))
    before = d(W, X)
    fn = d._last  # the emitted function this shape pattern runs
    raw = raw_source_of(fn)
    functions = module_functions(fn)
    assert {"_like", "_unrepeat", "repeated_layer_grad"} <= functions.keys()
    # before any read: the raw lines (one statement per line, with the comments)
    frame = failing_call(d)
    assert frame.filename == fn.__code__.co_filename
    assert raw.splitlines()[frame.lineno - 1].strip() == frame.line
    assert "@" in frame.line
    assert inspect.getsource(fn) in raw
    line = inspect.getsourcelines(repeated_layer)[1] + 1
    assert f"# line {line}: activations = np.tanh(" in raw
    text = d.source
    assert text != raw  # (black rewrapped lines: the code was swapped)
    # every function of the module now runs code compiled from `text`, and
    # linecache holds `text` under that code's file name
    files = {f.__code__.co_filename for f in functions.values()}
    assert len(files) == 1 and files != {frame.filename}
    assert "".join(linecache.getlines(files.pop())) == text
    # tracebacks point at the lines of .source, with their text
    frame = failing_call(d)
    assert text.splitlines()[frame.lineno - 1].strip() == frame.line
    assert "@" in frame.line
    # inspect.getsource is the slice of .source holding the def
    got = inspect.getsource(fn)
    first = fn.__code__.co_firstlineno
    assert got == "".join(
        line + "\n"
        for line in text.splitlines()[first - 1 : first - 1 + got.count("\n")]
    )
    assert got.startswith("def repeated_layer_grad(") and got in text
    # the same numbers, bit for bit
    after = d(W, X)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_reading_the_source_twice_formats_once(monkeypatch):
    calls = []

    def counting(text):
        calls.append(text)
        return real(text)

    real = loader.format_source
    monkeypatch.setattr(loader, "format_source", counting)
    h = hessian(scalar_seed, argnums=(0, 1))
    value = h(1.5, 0.3)
    assert calls == []  # compiling and calling never ran black
    first = h.source
    assert len(calls) == 1 and h.source == first and len(calls) == 1
    assert h(1.5, 0.3) == value


def test_concurrent_first_reads_give_one_text_and_calls_keep_their_numbers(
    monkeypatch,
):
    calls = []
    real = loader.format_source

    def slow(text):  # (a wide window for the threads to meet in)
        calls.append(text)
        threading.Event().wait(0.05)
        return real(text)

    monkeypatch.setattr(loader, "format_source", slow)
    _, pullback = vjp(repeated_layer, W, X)
    want = pullback(1.0)
    start = threading.Barrier(6)
    texts, values = [], []

    def read():
        start.wait()
        texts.append(pullback.source)

    def call():
        start.wait()
        for _ in range(20):
            values.append(pullback(1.0))

    threads = [threading.Thread(target=read) for _ in range(4)]
    threads += [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(texts) == 4 and len(set(texts)) == 1 and len(calls) == 1
    assert texts[0] != raw_source_of(pullback.compiled)
    assert len(values) == 40
    for got in values:
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_derivative_objects_read_the_formatted_source():
    """Every ``.source`` is black-clean and is the text of the code that runs."""
    black = pytest.importorskip("black")
    j = jacfwd(scalar_seed, argnums=(0, 1))
    j(1.5, 0.3)
    text = j.source.split("\n", 1)[1]  # (after its header comment)
    assert black.format_str(text, mode=black.Mode()) == text
    assert source_of(j.compiled) == text
    code = inspect.unwrap(j.compiled).__code__  # (through its guard, if any)
    assert "".join(linecache.getlines(code.co_filename)) == text


def test_the_function_handed_out_carries_its_text():
    """``grad`` of scalar code hands out the emitted function itself: its
    ``.source`` is an attribute (formatted when handed out)."""
    g = grad(scalar_seed, argnums=(0, 1))
    assert "source" in vars(g) and g.source == source_of(g)
    assert inspect.getsource(g) in g.source
    assert "\n" + inspect.getsource(g) in g.source


def test_if_black_changed_a_function_the_raw_text_stays_the_source(monkeypatch):
    """The swap is checked: a formatted module whose functions are not the raw
    one's (never seen from black) leaves the raw code running and ``.source``
    the raw text."""
    monkeypatch.setattr(
        loader, "format_source", lambda text: text.replace("def _like(", "def _alike(")
    )
    d = grad(lambda_free_layer, argnums=(0, 1))
    d(W, X)
    fn = d._last
    raw = raw_source_of(fn)
    code = fn.__code__
    assert "def _like(" in raw
    assert d.source == raw and fn.__code__ is code


def lambda_free_layer(weights_of_the_layer, inputs_of_the_network):
    return np.sum(np.tanh(weights_of_the_layer @ np.repeat(inputs_of_the_network, 2)))


SCALE = 2.0


def scaled(x):
    return SCALE * x * x


def test_a_guard_handed_out_keeps_the_text_of_its_current_code(monkeypatch):
    """A derivative that baked in a global is a guard; when the global is
    rebound it compiles again, and its ``.source`` follows."""
    g = grad(scaled)
    assert g(1.0) == 4.0 and "2.0 * x" in g.source
    monkeypatch.setitem(globals(), "SCALE", 3.0)
    assert g(1.0) == 6.0
    assert "3.0 * x" in g.source and "2.0" not in g.source
    assert g.source == source_of(inspect.unwrap(g))


def test_jit_is_given_the_formatted_text_of_an_internal_compilation(monkeypatch):
    """``jit(pullback)`` compiles the pullback's emitted function, which has no
    ``.source`` attribute: it reads the formatted text (Numba itself faked)."""
    from ad_compiler import numba_jit

    given = []

    class Recorded:
        def __init__(self, numba, python, parts):
            _, source, *_ = parts()  # (what JitFunction compiles: name, text ...)
            given.append((python, source))
            self.source = source

    monkeypatch.setattr(numba_jit, "_numba", lambda: None)
    monkeypatch.setattr(numba_jit, "JitFunction", Recorded)
    _, pullback = vjp(scalar_seed, 1.5, 0.3)
    jitted = numba_jit.jit(pullback)
    ((python, source),) = given
    assert python is pullback.compiled and "source" not in vars(python)
    assert source == source_of(python) == jitted.source
    assert "\n" + inspect.getsource(inspect.unwrap(python)) in source
