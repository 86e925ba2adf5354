"""The everyday idioms of issue 16, each in one small function of
``tests/idioms16.py``, differentiated unchanged: through the API in both modes,
and through ``adc compile --keep-going`` (the file is static; only the helper
whose ``axis`` is a run-time parameter is left out, and said so)."""

import contextlib
import io
import os
import runpy
import subprocess
import sys

import idioms16
import numpy as np
import pytest

from ad_compiler import grad, jvp

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = np.random.default_rng(1)
W, X = RNG.normal(size=3), RNG.normal(size=(4, 3))
PARAMS = [
    (RNG.normal(size=(3, 4)), RNG.normal(size=4)),
    (RNG.normal(size=(4, 2)), RNG.normal(size=2)),
]
NAMES = sorted(n for n in dir(idioms16) if n.startswith("p_"))


def arguments(name):
    if name == "p_tree":
        return (PARAMS, X)
    if name == "p_dict":
        return ({"w": W, "b": 0.3}, X)
    f = getattr(idioms16, name)
    return (W, X) if "X" in f.__code__.co_varnames[:2] else (W,)


def first_array(tree):
    """The array the directional checks move: w, or the tree's first leaf."""
    if isinstance(tree, dict):
        return tree["w"]
    if isinstance(tree, (list, tuple)):
        return first_array(tree[0])
    return tree


def moved(args, direction, h):
    """``args`` with their first array moved by ``h·direction``."""
    first = args[0]
    if isinstance(first, dict):
        return ({**first, "w": first["w"] + h * direction},) + args[1:]
    if isinstance(first, list):
        (W1, b1), rest = first[0], first[1:]
        return ([(W1 + h * direction, b1)] + rest,) + args[1:]
    return (first + h * direction,) + args[1:]


def quiet(call):
    with contextlib.redirect_stdout(io.StringIO()):  # p_print prints
        return call()


def directional(f, args, direction, h=1e-6):
    return quiet(
        lambda: (f(*moved(args, direction, h)) - f(*moved(args, direction, -h)))
        / (2 * h)
    )


@pytest.mark.fast_sample(every=8)
@pytest.mark.parametrize("name", NAMES)
def test_both_modes_through_the_api(name):
    f, args = getattr(idioms16, name), arguments(name)
    direction = np.random.default_rng(2).normal(size=np.shape(first_array(args[0])))
    expected = directional(f, args, direction)
    g = quiet(lambda: grad(f)(*args))
    assert np.sum(first_array(g) * direction) == pytest.approx(
        expected, rel=1e-6, abs=1e-9
    )
    if name in ("p_tree", "p_dict"):  # a tangent tree: zero but the moved leaf
        zero = (
            {"w": np.zeros(3), "b": 0.0}
            if name == "p_dict"
            else [
                (np.zeros((3, 4)), np.zeros(4)),
                (np.zeros((4, 2)), np.zeros(2)),
            ]
        )
        tangents = (moved((zero,), direction, 1.0)[0], np.zeros_like(X))
    else:
        tangents = (direction,) + tuple(np.zeros_like(a) for a in args[1:])
    _, ydot = quiet(lambda: jvp(f, args, tangents))
    assert ydot == pytest.approx(expected, rel=1e-6, abs=1e-9)


@pytest.mark.slow  # a subprocess
def test_the_static_file_through_adc_compile(tmp_path):
    out = tmp_path / "idioms16_grad.py"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ad_compiler.tools.cli",
            "compile",
            os.path.join(HERE, "idioms16.py"),
            "--keep-going",
            "--shape",
            "w=3",
            "X=n,3",
            "a=n,3",
            'params=[("3,4", "4"), ("4,2", "2")]',
            'p={"w": "3", "b": ""}',
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1  # one function left out, and said so
    assert "adc: skipped `red`" in proc.stderr
    emitted = runpy.run_path(str(out))
    direction = np.random.default_rng(3).normal(size=3)
    for name in NAMES:
        f, args = getattr(idioms16, name), arguments(name)
        if name == "p_tree":
            direction_here = np.random.default_rng(3).normal(size=(3, 4))
        else:
            direction_here = direction
        g = quiet(lambda: emitted[f"{name}_grad"](*args))
        g = g[0] if isinstance(g, tuple) else g
        expected = directional(f, args, direction_here)
        got = np.sum(first_array(g) * direction_here)
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-9), name
