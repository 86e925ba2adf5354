"""Arrays read from the enclosing scope (closures, module globals, a module's
attributes, ``self``'s attributes) and bound methods: constants of the
derivative, read when it is called, never a stale copy; and the CLI's
module-level array constants (frontend/scope_data.py, static_data.py,
methods.py)."""

import dataclasses
import os
import runpy
import subprocess
import sys
import types

import numpy as np
import pytest

from ad_compiler import grad, hessian, jacfwd, jvp, value_and_grad, vjp
from ad_compiler.errors import UnsupportedError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DATA = np.array([[0.2, -0.4, 0.6], [1.0, 0.5, -0.3]])
TARGET = np.array([0.3, -0.1])
data_module = types.ModuleType("data_module")
data_module.X = np.array([[1.0, 0.5], [-0.5, 2.0], [0.3, 0.1]])


def fd_grad(f, w, eps=1e-6):
    """Central differences of a scalar function of one array."""
    out = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[i] = eps
        out[i] = (f(w + e) - f(w - e)) / (2 * eps)
    return out


def fd_hessian(f, w, eps=1e-4):
    return np.array(
        [fd_grad(lambda v: fd_grad(f, v)[i], w, eps) for i in range(w.size)]
    )


def make_loss(X, y):
    def loss(w):
        r = np.tanh(X @ w) - y
        return np.sum(r * r)

    def rebind(new_X, new_y):
        nonlocal X, y
        X, y = new_X, new_y

    return loss, rebind


def global_loss(w):
    return np.sum(np.sin(DATA @ w - TARGET) ** 2)


def module_attribute_loss(w):
    return np.sum(np.exp(data_module.X @ w))


def calls_global_helper(w):
    return helper_reading_data(w) * 0.5


def helper_reading_data(v):
    return np.sum((DATA @ v) ** 2)


W0 = np.array([0.5, -0.2, 0.1])


def check_both_modes(f, w, rtol=1e-6):
    """grad and jvp (every unit direction) against central differences."""
    expected = fd_grad(f, w)
    np.testing.assert_allclose(grad(f)(w), expected, rtol=rtol, atol=1e-8)
    for i in range(w.size):
        value, dot = jvp(f, (w,), (np.eye(w.size)[i],))
        assert value == pytest.approx(f(w), rel=1e-12)
        assert dot == pytest.approx(expected[i], rel=rtol, abs=1e-8)


def test_closure_arrays_from_a_factory_both_modes_and_hessian():
    X = np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 0.9]])
    loss, _ = make_loss(X, np.array([0.1, -0.2, 0.4]))
    w = np.array([0.3, -0.6])
    check_both_modes(loss, w)
    np.testing.assert_allclose(hessian(loss)(w), fd_hessian(loss, w), rtol=1e-5)
    np.testing.assert_allclose(jacfwd(grad(loss))(w), fd_hessian(loss, w), rtol=1e-5)
    value, pullback = vjp(loss, w)
    np.testing.assert_allclose(pullback(2.0)[0], 2 * fd_grad(loss, w), rtol=1e-6)


def test_derivatives_of_derivatives_count_positional_parameters_only():
    X = np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 0.9]])

    def resid(w):
        return np.tanh(X @ w)

    w = np.array([0.3, -0.6])
    J = np.array([fd_grad(lambda v: resid(v)[i], w) for i in range(3)])
    np.testing.assert_allclose(jacfwd(resid)(w), J, rtol=1e-6)
    _, pullback = vjp(resid, w)
    # the pullback's parameter is the seed, after the primal and before `X`
    (jt,) = jacfwd(pullback)(np.ones(3))
    np.testing.assert_allclose(jt, J.T, rtol=1e-6)


def test_the_emitted_code_takes_the_arrays_by_keyword_under_the_users_names():
    loss, _ = make_loss(np.ones((3, 2)), np.zeros(3))
    g = grad(loss)
    g(np.array([0.1, 0.2]))
    assert "def loss_grad(w, *, X, y):" in g.source
    assert "X, y read from its scope (keyword-only)" in g.source
    # self-contained: the values are not in the text
    assert "1.0, 1.0" not in g.source


def test_in_place_mutation_and_rebinding_of_a_closure_are_seen_by_the_next_call():
    X = np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 0.9]])
    y = np.array([0.1, -0.2, 0.4])
    loss, rebind = make_loss(X, y)
    g = grad(loss)
    w = np.array([0.3, -0.6])
    before = g(w)
    X[0, 0] = 3.0  # in place
    after = g(w)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, fd_grad(loss, w), rtol=1e-6)
    rebind(np.arange(8.0).reshape(4, 2) / 10, np.ones(4))  # another shape
    np.testing.assert_allclose(g(w), fd_grad(loss, w), rtol=1e-6)
    _, dot = jvp(loss, (w,), (np.array([1.0, 0.0]),))
    assert dot == pytest.approx(fd_grad(loss, w)[0], rel=1e-6)


def test_module_global_arrays_both_modes_and_rebinding(monkeypatch):
    check_both_modes(global_loss, W0)
    g = grad(global_loss)
    first = g(W0)
    monkeypatch.setitem(globals(), "DATA", np.array([[1.0, 2.0, 3.0]]))
    monkeypatch.setitem(globals(), "TARGET", np.array([0.5]))
    now = g(W0)
    assert now.shape == first.shape and not np.allclose(now, first)
    np.testing.assert_allclose(now, fd_grad(global_loss, W0), rtol=1e-6)
    np.testing.assert_allclose(
        hessian(global_loss)(W0), fd_hessian(global_loss, W0), rtol=1e-5, atol=1e-7
    )


def tuple_and_global(w, s):
    return np.sum(w * TARGET) * s[0] + np.sum(DATA) * s[1]


def test_a_tree_argument_beside_a_global_array(monkeypatch):
    """A tuple argument takes the tree route; the scope arrays are still
    passed to it, live (found by review: a TypeError before)."""
    g = grad(tuple_and_global, argnums=(0, 1))
    w = np.array([0.5, 2.0])
    gw, gs = g(w, (2.0, 3.0))
    np.testing.assert_allclose(gw, TARGET * 2.0)
    np.testing.assert_allclose(gs, (np.sum(w * TARGET), np.sum(DATA)))
    monkeypatch.setitem(globals(), "TARGET", np.array([1.0, 1.0]))
    np.testing.assert_allclose(g(w, (2.0, 3.0))[0], [2.0, 2.0])


def test_a_global_array_read_by_an_inlined_helper():
    check_both_modes(calls_global_helper, W0)
    assert "*, DATA" in grad(calls_global_helper).source


def test_a_module_attribute_array_is_read_live(monkeypatch):
    w = np.array([0.2, -0.1])
    check_both_modes(module_attribute_loss, w)
    g = grad(module_attribute_loss)
    monkeypatch.setattr(data_module, "X", np.array([[2.0, 1.0]]))
    np.testing.assert_allclose(g(w), fd_grad(module_attribute_loss, w), rtol=1e-6)


def shapes_and_methods_of_a_global(w):
    n, d = DATA.shape[0], DATA.shape[1]  # (unpacking `.shape`: part E)
    Y = DATA.copy()
    Y[0, 0] = 0.0  # a copy: the user's DATA is unchanged
    return np.sum(np.tanh(Y.T @ (DATA @ w))) / n + d


def writes_through_an_alias_of_a_global(w):
    Y = DATA
    Y[0, 0] = 1.0
    return np.sum(Y @ w)


def test_attributes_and_methods_of_a_scope_array():
    check_both_modes(shapes_and_methods_of_a_global, W0)


def test_a_write_into_a_scope_array_through_an_alias_is_refused():
    with pytest.raises(UnsupportedError, match="may share its array with `DATA`"):
        grad(writes_through_an_alias_of_a_global)


def writes_into_a_global(w):
    DATA[0, 0] = w[0]
    return np.sum(DATA @ w)


def test_a_write_into_a_scope_array_says_to_write_into_a_copy():
    with pytest.raises(UnsupportedError, match="only for a local array") as exc:
        grad(writes_into_a_global)
    assert "DATA2 = DATA.copy()" in str(exc.value)


def test_a_scope_array_unbound_since_is_a_usage_error():
    def make():
        def f(w):
            return np.sum(Z * w)

        Z = np.ones(2)
        return f, lambda: Z

    f, _ = make()
    g = grad(f)
    g(np.ones(2))
    f.__closure__[0].cell_contents = np.array([2.0, 3.0])
    np.testing.assert_allclose(g(np.ones(2)), [2.0, 3.0])
    del f.__closure__[0].cell_contents
    with pytest.raises(Exception, match="`Z`.*no longer bound"):
        g(np.ones(2))


class Config:
    def __init__(self, scale):
        self.scale = scale


class Model:
    def __init__(self, X, y):
        self.X, self.y = X, y
        self.cfg = Config(2.0)

    def predict(self, w):
        return np.tanh(self.X @ w)

    def loss(self, w, bias):
        r = self.predict(w) + bias - self.y
        return self.cfg.scale * np.sum(r * r)

    def writes_through_an_alias(self, w):
        X = self.X
        X[0, 0] = 1.0
        return np.sum(X @ w)

    def loss1(self, w):
        return self.loss(w, 0.25) + self.offset(w[0])

    @staticmethod
    def offset(t):
        return 0.5 * t * t

    @property
    def weights(self):
        return self.X

    def by_property(self, w):
        return np.sum(self.weights @ w)


class Child(Model):
    def loss(self, w, bias):
        return super().loss(w, bias) * 2.0


def test_bound_methods_differentiate_the_explicit_arguments():
    m = Model(np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 0.9]]), np.zeros(3))
    w, b = np.array([0.3, -0.6]), 0.25
    check_both_modes(m.loss1, w)  # a method calling a method calling a method
    g = grad(m.loss, argnums=(0, 1))
    gw, gb = g(w, b)
    np.testing.assert_allclose(gw, fd_grad(lambda v: m.loss(v, b), w), rtol=1e-6)
    assert gb == pytest.approx(
        (m.loss(w, b + 1e-6) - m.loss(w, b - 1e-6)) / 2e-6, rel=1e-6
    )
    _, dot = jvp(m.loss, (w, b), (np.zeros(2), 1.0))
    assert dot == pytest.approx(gb, rel=1e-12)
    h = hessian(m.loss)(w, b)
    np.testing.assert_allclose(h, fd_hessian(lambda v: m.loss(v, b), w), rtol=1e-5)
    assert "def loss_grad(w, bias, *, X, y):" in g.source


def test_a_bound_methods_attributes_are_read_live():
    m = Model(np.array([[0.5, -1.0], [2.0, 0.3]]), np.zeros(2))
    w, b = np.array([0.3, -0.6]), 0.0
    g = value_and_grad(m.loss)
    g(w, b)
    m.X[1, 1] = 5.0  # in place
    m.y = np.array([1.0, -1.0])  # rebound
    m.cfg.scale = 3.0  # a number: baked in, watched, compiled again
    value, gw = g(w, b)
    assert value == pytest.approx(m.loss(w, b), rel=1e-12)
    np.testing.assert_allclose(gw, fd_grad(lambda v: m.loss(v, b), w), rtol=1e-6)
    m.cfg = Config(0.5)  # the object holding the number rebound
    np.testing.assert_allclose(
        g(w, b)[1], fd_grad(lambda v: m.loss(v, b), w), rtol=1e-6
    )


def test_a_write_through_an_alias_of_selfs_array_is_refused():
    m = Model(np.ones((2, 2)), np.zeros(2))
    with pytest.raises(UnsupportedError, match="share its array with `self.X`"):
        grad(m.writes_through_an_alias)


def test_super_and_properties_are_refused_with_what_to_write():
    child = Child(np.ones((2, 2)), np.zeros(2))
    with pytest.raises(UnsupportedError, match=r"super\(\)") as exc:
        grad(child.loss)
    assert "module-level function" in str(exc.value)
    assert "test_scope_data.py" in str(exc.value)
    m = Model(np.ones((2, 2)), np.zeros(2))
    with pytest.raises(UnsupportedError, match="properties"):
        grad(m.by_property)


# --- the CLI: module-level array constants, from the text alone -----------------------

CONSTANTS = """\
import numpy as np

W = np.array([[1.0, 2.0], [3.0, -4.0]])
GRID = np.linspace(0, 1, 2)
Z = np.zeros((2,))


def f(x):
    return np.sum(np.tanh(W @ x + GRID) + Z * x)
"""


def adc(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(
        [sys.executable, "-m", "ad_compiler.tools.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


@pytest.mark.slow  # subprocesses
def test_cli_copies_checked_module_constants_and_the_derivatives_match(tmp_path):
    src = tmp_path / "consts.py"
    src.write_text(CONSTANTS)
    user = runpy.run_path(str(src))
    x = np.array([0.3, -0.4])
    expected = fd_grad(user["f"], x)
    modes = (("reverse", "f_grad"), ("forward", "f_jvp"), ("hessian", "f_hessian"))
    for mode, name in modes:
        proc = adc("compile", str(src), "--mode", mode, "--shape", "x=n")
        assert proc.returncode == 0, proc.stderr
        assert "W = np.array([[1.0, 2.0], [3.0, -4.0]])" in proc.stdout
        assert "*, W=W, GRID=GRID, Z=Z" in proc.stdout
        out = tmp_path / f"consts_{mode}.py"
        out.write_text(proc.stdout)
        got = runpy.run_path(str(out))[name]
        if mode == "reverse":
            np.testing.assert_allclose(got(x), expected, rtol=1e-6)
            # the constant is a parameter: another W can be passed by keyword
            assert not np.allclose(got(x, W=np.eye(2)), got(x))
        elif mode == "forward":
            value, dot = got(x, np.array([0.0, 1.0]))
            assert value == pytest.approx(user["f"](x), rel=1e-12)
            assert dot == pytest.approx(expected[1], rel=1e-6)
        else:
            np.testing.assert_allclose(got(x), fd_hessian(user["f"], x), rtol=1e-5)


@pytest.mark.slow  # subprocesses
@pytest.mark.parametrize(
    "definition, why",
    [
        ('np.load("f.npy")', "np.load(...)` cannot be evaluated"),
        ("load()", "not a NumPy constructor call"),
        ('np.array(__import__("os").system("touch PWNED"))', "not a literal"),
        ("np.zeros((100000, 100000))", "more than 1000000 numbers"),
        ("np.array([1.0, 2.0], dtype=object)", "literal positional arguments"),
    ],
)
def test_cli_refuses_module_constants_it_cannot_know_without_running(
    tmp_path, definition, why
):
    src = tmp_path / "bad.py"
    src.write_text(
        f"import numpy as np\nX = {definition}\n\n\ndef f(x):\n    return np.sum(X * x)\n"
    )
    proc = adc("compile", str(src), cwd=tmp_path)
    assert proc.returncode != 0
    assert f"{src}:6:" in proc.stderr  # the use, in the user's file
    assert "not known without running the file" in proc.stderr
    assert why in proc.stderr and "pass it as a parameter" in proc.stderr
    assert not (tmp_path / "PWNED").exists()


class Settings:
    pass


SETTINGS = Settings()
SETTINGS.scale = 2.0


def uses_settings(w):
    return SETTINGS.scale * np.sum(w * w)


def test_numbers_of_an_object_are_baked_in_and_watched(monkeypatch):
    g = grad(uses_settings)
    np.testing.assert_allclose(g(W0), 4 * W0)
    monkeypatch.setattr(SETTINGS, "scale", 3.0)
    np.testing.assert_allclose(g(W0), 6 * W0)
    assert "w * 6.0" in g.source  # baked in as a literal, compiled again


@dataclasses.dataclass
class Regression:  # eq=True: instances (and so their bound methods) are unhashable
    X: np.ndarray

    def loss(self, w):
        return np.sum((self.X @ w) ** 2)


def test_methods_of_unhashable_objects():
    model = Regression(np.eye(2))
    w = np.array([1.0, -2.0])
    np.testing.assert_allclose(grad(model.loss)(w), 2 * w)
    model.X = 3 * np.eye(2)
    np.testing.assert_allclose(grad(model.loss)(w), 18 * w)
    _, dot = jvp(model.loss, (w,), (np.array([1.0, 0.0]),))
    assert dot == pytest.approx(18.0)


def test_the_minibatch_sample_trains_and_its_gradient_matches_differences():
    sys.path.insert(0, os.path.join(ROOT, "samples"))
    try:
        import scope_data as sample
    finally:
        sys.path.pop(0)
    model, W, b, losses, d_loss = sample.train(epochs=2, batch=300)
    assert losses[1] < losses[0] < np.log(10)
    model.X, model.Y = model.X[:50], model.Y[:50]  # another batch, another size
    gW, gb = d_loss(W, b)
    rng = np.random.default_rng(1)
    for i, j in zip(rng.integers(0, 64, 4), rng.integers(0, 10, 4)):
        E = np.zeros_like(W)
        E[i, j] = 1e-6
        fd = (model.loss(W + E, b) - model.loss(W - E, b)) / 2e-6
        assert gW[i, j] == pytest.approx(fd, rel=1e-5, abs=1e-9)
    e = np.eye(10)[3] * 1e-6
    assert gb[3] == pytest.approx(
        (model.loss(W, b + e) - model.loss(W, b - e)) / 2e-6, rel=1e-5
    )
