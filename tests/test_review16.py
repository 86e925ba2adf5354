"""Adversarial review of issue 16: each test is a defect found by trying to
break the merged features, fixed here (the reproducer, asserted right)."""

import textwrap

import numpy as np
import pytest

from ad_compiler import grad, jvp


def test_reassigned_numeric_default_reaches_a_scalar_gradient():
    """``f.__defaults__ = ...`` after ``grad(f)``: the next call uses the new
    default (it used the old one, baked into the guard's own signature)."""

    def f(x, a=2.0):
        return x**a

    df = grad(f)
    assert df(3.0) == pytest.approx(6.0)
    f.__defaults__ = (3.0,)
    assert df(3.0) == pytest.approx(27.0)  # was 6.0: the old default
    assert df(3.0, 2.0) == pytest.approx(6.0)  # an explicit argument still wins


def test_reassigned_numeric_default_reaches_an_array_gradient():
    def f(x, a=2.0):
        return np.sum(x**a)

    x = np.array([0.5, -1.0, 2.0])
    df = grad(f)
    assert np.allclose(df(x), 2 * x)
    f.__defaults__ = (3.0,)
    assert np.allclose(df(x), 3 * x**2)  # was 2 x
    assert np.allclose(jvp(f, (x,), (np.ones(3),))[1], np.sum(3 * x**2))


def test_reassigned_static_default_reaches_a_tree_gradient():
    """A static (str) default reassigned: the derivative specialises on the new value."""

    def f(x, kind="tanh"):
        if kind == "tanh":
            return np.sum(np.tanh(x))
        return np.sum(x * x)

    x = np.array([0.5, -1.0, 2.0])
    df = grad(f)
    assert np.allclose(df(x), 1 - np.tanh(x) ** 2)
    f.__defaults__ = ("square",)
    assert np.allclose(df(x), 2 * x)  # was the tanh branch's
    assert np.allclose(df(x, "tanh"), 1 - np.tanh(x) ** 2)


def test_reassigned_default_of_a_helper_is_seen():
    def helper(z, a=2.0):
        return z**a

    def f(x):
        return helper(x) + x

    df = grad(f)
    assert df(3.0) == pytest.approx(7.0)
    helper.__defaults__ = (3.0,)
    assert df(3.0) == pytest.approx(28.0)


def _inner_grad(t):
    return np.sum(grad(_cubes)(t))


def _cubes(t):
    return np.sum(t**3)


def test_a_derivative_taken_inside_is_refused_at_the_users_call():
    """``grad(s)(t)`` inside the function differentiated: the error named a line
    of ad_compiler's own source (``isinstance`` in callables.py); now the call
    in the user's file."""
    from ad_compiler.errors import UnsupportedError

    with pytest.raises(UnsupportedError) as e:
        grad(_inner_grad)(np.ones(2))
    text = str(e.value)
    assert "test_review16.py" in text and "ad_compiler's own function" in text
    assert "callables.py" not in text


def _uses_a_library_function(x):
    return x * len(textwrap.dedent("ab"))  # pure Python of the standard library


def test_a_standard_library_function_is_refused_at_the_users_call():
    """It was lowered from textwrap.py and the error pointed inside it."""
    from ad_compiler.errors import UnsupportedError

    with pytest.raises(UnsupportedError) as e:
        grad(_uses_a_library_function)(1.0)
    text = str(e.value)
    assert text.startswith(__file__) and "textwrap.py" not in text
    assert "installed module `textwrap`" in text or "module `textwrap`" in text


class _Scaled:
    def __init__(self, a):
        self.a = a

    def inner(self, x):
        return self.a * x

    def loss(self, x):
        return self.inner(x) ** 2


def test_a_method_redefined_on_the_class_is_seen():
    """``Model.inner = ...`` after ``grad(m.loss)``: the gradient (and a fresh
    ``grad(m.loss)``, which hit the cache) used the old method."""
    m = _Scaled(2.0)
    df = grad(m.loss)
    assert df(1.0) == pytest.approx(8.0)
    old = _Scaled.inner
    try:
        _Scaled.inner = _cubic_inner
        assert df(1.0) == pytest.approx(24.0)  # was 8.0
        assert grad(m.loss)(1.0) == pytest.approx(24.0)
    finally:
        _Scaled.inner = old
    assert df(1.0) == pytest.approx(8.0)


def _cubic_inner(self, x):
    return self.a * x**3


class _Ridge:
    def __init__(self, X, lam):
        self.X, self.lam = X, lam

    def loss(self, w):
        return np.sum((self.X @ w) ** 2) + self.lam * np.sum(w * w)


def test_a_number_attribute_rebound_to_an_array_is_passed():
    """``self.lam`` 2.0 -> np.array(3.0): the reload made code reading it live,
    but the call under way passed the old (no) scope arrays: TypeError."""
    X = np.arange(6.0).reshape(2, 3)
    w = np.array([0.5, -1.0, 2.0])
    m = _Ridge(X, 2.0)
    df = grad(m.loss)
    assert np.allclose(df(w), 2 * X.T @ X @ w + 4.0 * w)
    m.lam = np.array(3.0)
    assert np.allclose(df(w), 2 * X.T @ X @ w + 6.0 * w)  # was a TypeError


def _act_tree(p):
    v = p["W"] * 2.0
    if p["act"] == "tanh":
        v = np.tanh(v)
    return np.sum(v)


def test_a_tangent_without_the_static_values_says_what_to_write():
    """jvp needs the static leaves repeated in the tangent; the message said
    only that the structure differs."""
    from ad_compiler.errors import UsageError

    p = {"W": np.array([1.0, 2.0]), "act": "tanh"}
    with pytest.raises(UsageError, match="repeat each static value"):
        jvp(_act_tree, (p,), ({"W": np.ones(2), "act": None},))
    y, t = jvp(_act_tree, (p,), ({"W": np.ones(2), "act": "tanh"},))
    assert t == pytest.approx(np.sum(2.0 * (1 - np.tanh(2.0 * p["W"]) ** 2)))


def _prints_its_static(x, s="a", t=None):
    print(s, x, t, f"{s!r:>4}|{x:.1f}")
    return x * x


def test_print_of_a_static_argument(capsys):
    """``print(s)`` of a static default: an internal compiler error in ``adc
    compile`` ('StaticValue' object has no attribute 'name'); now its text."""
    assert grad(_prints_its_static)(1.5) == pytest.approx(3.0)
    assert capsys.readouterr().out == "a 1.5 None  'a'|1.5\n"
    assert grad(_prints_its_static)(1.5, "zz") == pytest.approx(3.0)
    assert capsys.readouterr().out == "zz 1.5 None 'zz'|1.5\n"


def test_adc_compile_prints_a_static_default(tmp_path, capsys):
    from ad_compiler.tools.cli import main

    src = tmp_path / "p.py"
    src.write_text(
        'def f(x, s="{x}\\"\\n", u=True):\n    print(f"{s}|{u}", s, x)\n'
        "    return x * x\n"
    )
    out = tmp_path / "out.py"
    assert main(["compile", str(src), "-o", str(out)]) == 0
    namespace: dict = {}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    capsys.readouterr()
    assert namespace["f_grad"](2.0) == pytest.approx(4.0)
    assert capsys.readouterr().out == '{x}"\n|True {x}"\n 2.0\n'


_DATA = np.arange(6.0).reshape(2, 3) / 4.0


def _tree_on_data(params):
    h = _DATA
    for W, b in params:
        h = np.tanh(h @ W + b)
    return np.sum(h * h)


def test_a_tree_derivative_follows_the_shape_of_the_scope_data():
    """Module data rebound from 2-D to 1-D between calls of a tree gradient:
    the wrapper compiled for the 2-D data was reused (a matmul ValueError)."""
    global _DATA
    rng = np.random.default_rng(3)
    params = [(rng.normal(size=(3, 4)), rng.normal(size=4))]
    params.append((rng.normal(size=(4, 2)), rng.normal(size=2)))
    df = grad(_tree_on_data)
    saved = _DATA
    try:
        for data in (saved, saved[0], saved):
            _DATA = data
            got = df(params)
            W, b = params[0]
            eps = 1e-6
            for i in ((0, 0), (2, 3)):
                W[i] += eps
                up = _tree_on_data(params)
                W[i] -= 2 * eps
                down = _tree_on_data(params)
                W[i] += eps
                assert got[0][0][i] == pytest.approx((up - down) / (2 * eps), abs=1e-6)
    finally:
        _DATA = saved


def _reshaped(x, shape=(2, 3)):
    return np.sum(np.reshape(x, shape)[0] ** 2)


def _reshaped_local(x):
    s = (2, 3)
    return np.sum(np.reshape(x, s)[1] ** 2) + np.sum(x.reshape(s)[0])


def test_reshape_to_a_tuple_held_in_a_name():
    """``np.reshape(x, shape)`` with ``shape=(2, 3)`` a default or a local tuple:
    a TypeError from inside the IR ("Const holds a bool, int or float")."""
    x = np.arange(1.0, 7.0)
    assert np.allclose(grad(_reshaped)(x), [2, 4, 6, 0, 0, 0])
    assert np.allclose(grad(_reshaped)(x, (3, 2)), [2, 4, 0, 0, 0, 0])
    assert np.allclose(grad(_reshaped_local)(x), [1, 1, 1, 8, 10, 12])
    assert jvp(_reshaped_local, (x,), (np.ones(6),))[1] == pytest.approx(33.0)


_WRITTEN = """import numpy as np

W = np.array([1.0, 2.0])
W[0] = 7.0
U = np.array([1.0, 2.0])
U2 = U
U2[1] = 9.0
T = np.array([1.0, 2.0])
np.copyto(T, np.array([5.0, 5.0]))
S = np.array([1.0, 2.0])
S.fill(4.0)
K = np.array([1.0, 2.0])
print(K, np.sum(K))


def w(x):
    return np.sum(W * x)


def u(x):
    return np.sum(U * x)


def t(x):
    return np.sum(T * x)


def s(x):
    return np.sum(S * x)


def k(x):
    return np.sum(K * x)
"""


@pytest.mark.fast_sample(first=1)
@pytest.mark.parametrize("name, line", [("w", 4), ("u", 6), ("t", 9), ("s", 11)])
def test_adc_refuses_a_module_array_the_file_writes_into(tmp_path, capsys, name, line):
    """``W = np.array([1.0, 2.0])`` then ``W[0] = 7.0``: adc copied the
    definition and emitted a gradient for [1, 2] (silently wrong); now the use
    is refused, naming the line of the write.  Only reading it (print, np.sum
    at module level) keeps it a constant."""
    from ad_compiler.tools.cli import main

    src = tmp_path / "m.py"
    src.write_text(_WRITTEN)
    assert main(["compile", str(src), "--function", name]) == 1
    err = capsys.readouterr().err
    assert f"may write into after defining it (line {line})" in err
    assert main(["compile", str(src), "--function", "k"]) == 0
    assert "K = np.array([1.0, 2.0])" in capsys.readouterr().out


def _make_loss(act, bias=None):
    def loss(w):
        h = np.tanh(w) if act == "tanh" else w * w
        if bias is not None:
            h = h + bias
        return np.sum(h * h)

    return loss


class _Act:
    def __init__(self, act):
        self.act = act

    def loss(self, w):
        if self.act == "tanh":
            return np.sum(np.tanh(w))
        return np.sum(w * w)


def test_a_factory_closing_over_a_string_or_none():
    """``make(act="tanh")`` returning ``loss(w)``: the closed-over str (and
    None) was refused ("`act` is not a number ad_compiler can use"); now a
    static value, decided while lowering, watched like a global."""
    w = np.array([0.5, -1.0])
    t = np.tanh(w)
    assert np.allclose(grad(_make_loss("tanh"))(w), 2 * t * (1 - t**2))
    assert np.allclose(grad(_make_loss("sq"))(w), 4 * w**3)
    b = np.array([1.0, 2.0])
    assert np.allclose(grad(_make_loss("sq", b))(w), 2 * (w * w + b) * 2 * w)
    m = _Act("tanh")
    df = grad(m.loss)
    assert np.allclose(df(w), 1 - t**2)
    m.act = "square"  # rebound: compiled again for the new value
    assert np.allclose(df(w), 2 * w)


def _depth(p, n):
    if n == 0:
        return p[0]
    return np.tanh(_depth(p, n - 1) * p[1]) + p[0]


def _calls_depth(x):
    return np.sum(_depth([x, x[::-1]], 3))


def test_a_list_passed_to_a_recursive_function_says_what_to_write():
    """The message named a tuple (it is a list) and gave no alternative."""
    from ad_compiler.errors import UnsupportedError

    with pytest.raises(UnsupportedError) as e:
        grad(_calls_depth)(np.array([0.5, -1.0]))
    assert "nor a list" in str(e.value) and "separate arguments" in str(e.value)


def _nested_out(x):
    return np.sin(x), [x * 2.0, np.sum(x)]


def test_returning_nested_tuples_says_what_to_write():
    from ad_compiler.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match="return a flat tuple"):
        jvp(_nested_out, (np.ones(2),), (np.ones(2),))


def _activated(x, act=np.tanh):
    return np.sum(act(x))


def _cube(z):
    return z**3


def test_a_function_passed_as_a_static_argument():
    """``act=np.tanh`` (a default or an argument): "`act` is called but is not
    a function"; now called like the function it holds."""
    x = np.array([0.5, -1.0])
    assert np.allclose(grad(_activated)(x), 1 - np.tanh(x) ** 2)
    assert np.allclose(grad(_activated)(x, np.sin), np.cos(x))
    assert np.allclose(grad(_activated)(x, _cube), 3 * x**2)
    y, t = jvp(_activated, (x, np.sin), (np.ones(2), np.sin))
    assert t == pytest.approx(np.sum(np.cos(x)))


def _sum_of_leaves(params, kind="a"):
    s = 0.0
    for v in params.values():
        s = s + np.sum(v**2)
    return s


class _Sneaky(str):
    """A str whose repr is code."""

    def __repr__(self):
        return "__import__('os').getcwd()"


class _SneakyStatic:
    """A static value whose repr closes a docstring."""

    def __repr__(self):
        return '"""+__import__("os").getcwd()+"""'

    def __eq__(self, other):
        return isinstance(other, _SneakyStatic)

    def __hash__(self):
        return 7


@pytest.mark.parametrize(
    "key",
    ['x"""+__import__("os").getcwd()+"""', "y\\", "z\n\r\x00", _Sneaky("k")],
)
def test_dict_keys_and_statics_cannot_spell_code(key, monkeypatch):
    """A dict key of a parameter tree went into the wrapper's docstring by
    ``repr``: a key holding ``\"\"\"`` closed it and the rest ran as code when
    the gradient was called (``os.system``); a str subclass's ``__repr__``
    spelled the key.  Now: the docstring is escaped and keys are spelled by
    ``str.__repr__``; any other static value appears only in the docstring."""
    import os

    calls = []
    monkeypatch.setattr(os, "getcwd", lambda: calls.append(1) or "")
    p = {key: np.array([1.0, 2.0]), "w": np.array([3.0])}
    df = grad(_sum_of_leaves)
    g = df(p, _SneakyStatic())
    assert np.allclose(g[key], [2.0, 4.0]) and np.allclose(g["w"], [6.0])
    g = df(p)
    assert np.allclose(g[key], [2.0, 4.0])
    assert calls == []
    assert "__import__('os')" not in df.source


def test_a_function_name_is_not_spelled_into_the_wrapper(monkeypatch):
    """``f.__name__`` (any text) named the wrapper: ``def <name>_grad(...)``;
    a name holding a newline and a statement ran it when the wrapper loaded."""
    import os

    calls = []
    monkeypatch.setattr(os, "getcwd", lambda: calls.append(1) or "")

    def f(p, kind="a"):
        return np.sum(p[0] ** 2)

    f.__name__ = "x(p, kind):\n    pass\nimport os; os.getcwd()\ndef y"
    g = grad(f)((np.ones(2), 1.0))
    assert np.allclose(g[0], 2.0) and g[1] == 0.0
    assert calls == []


def test_an_instance_attribute_set_over_a_method_is_seen():
    """``m.inner = fn`` after ``grad(m.loss)``: the instance attribute shadows
    the class's method from then on; the gradient kept the method's."""
    m = _Scaled(2.0)
    df = grad(m.loss)
    assert df(1.0) == pytest.approx(8.0)
    m.inner = lambda x: m.a * x**3  # noqa: E731  (the instance's own now)
    assert df(1.0) == pytest.approx(24.0)
    del m.inner
    assert df(1.0) == pytest.approx(8.0)


def _dict_get(p):
    return np.sum(p.get("a", np.zeros(2)) ** 2)


def test_a_dict_method_is_refused_with_a_dict_hint():
    """``p.get("a", ...)`` on a dict parameter: the hint said to call the NumPy
    function instead."""
    from ad_compiler.errors import UnsupportedError

    with pytest.raises(UnsupportedError) as e:
        grad(_dict_get)({"a": np.ones(2)})
    assert "index the dict by each key" in str(e.value)


def _helper_square(z):
    return z * z


def _helper_cube(z):
    return z**3


def _calls_helper(x):
    return _helper_square(x) + x


def test_a_helper_given_new_code_is_seen():
    """``helper.__code__ = other.__code__``: the helper is the same object, so
    the guard (by identity) kept the old derivative."""
    df = grad(_calls_helper)
    assert df(2.0) == pytest.approx(5.0)
    saved = _helper_square.__code__
    try:
        _helper_square.__code__ = _helper_cube.__code__
        assert df(2.0) == pytest.approx(13.0)
    finally:
        _helper_square.__code__ = saved
    assert df(2.0) == pytest.approx(5.0)
