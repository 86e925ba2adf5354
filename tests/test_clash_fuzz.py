"""Clash fuzzer: user names drawn from the names emitted code uses (issue 14, item 5).

Each case is a small module whose parameters, locals, loop indices and
function names are drawn from the emitted-name space: the helpers
(``_sum_to``, ``_like``, ``_directions``...), derivative names (``f_grad``,
``g_adjoint``, ``h_tangent``...), ``*_bar``, ``*_dot``, ``tape*``, ``v<N>``,
builtins the emitted code calls (``reversed``, ``range``, ``len``, ``float``...),
``math`` and ``np``. The code mixes scalar and NumPy array arithmetic, loops,
branches, calls to a helper of the user's and recursion. Every derivative —
``grad`` and ``jvp`` through the API, and ``adc compile`` in reverse and
forward mode, the emitted module imported and called — must equal central
differences of the user's own function, or be refused with a located error
(``file:line:col: error: ...``); never a wrong number, never another exception.

The number of cases is ``ADC_FUZZ_CASES`` (default 300, under a minute alone; e.g.
``ADC_FUZZ_CASES=10000`` locally), starting at case ``ADC_FUZZ_START``
(default 0: run halves in parallel with START=0 and START=5000); the cases
are seeded (``ADC_FUZZ_SEED``, default 14), so a failure names its case and
replays.
"""

import importlib.util
import os
import random
import re
import sys

import numpy as np
import pytest

from ad_compiler import grad, jvp
from ad_compiler.errors import CompileError
from ad_compiler.tools import cli

CASES = int(os.environ.get("ADC_FUZZ_CASES", "300"))
SEED = int(os.environ.get("ADC_FUZZ_SEED", "14"))
START = int(os.environ.get("ADC_FUZZ_START", "0"))

HELPERS = ["_sum_to", "_like", "_assign", "_unindex", "_directions", "_blocks"]
BUILTINS = ["reversed", "range", "len", "float", "int", "abs", "pow", "max", "min"]
BUILTINS += ["round", "tuple", "sum", "zip", "enumerate", "list"]
DERIVED = ["f_grad", "g_grad", "h_adjoint", "g_adjoint", "g_tangent", "f_jvp", "f_vjp"]
DERIVED += ["f_hvp", "f_value_and_grad", "x_bar", "x_dot", "y_bar", "y_dot", "v1_bar"]
DERIVED += ["v2_dot", "x_1", "y_2_bar", "tape", "tape_1", "tape_bar", "dl_1"]
TEMPS = ["v1", "v2", "v3", "v4", "v10", "rows", "dots", "e", "i", "k", "x", "y"]
VALUE_NAMES = HELPERS + BUILTINS + DERIVED + TEMPS
FUNCTION_NAMES = HELPERS + DERIVED + ["f", "g", "h", "v1", "tape"]
LOCATED = re.compile(r"^\S+:\d+:\d+: error: ", re.M)


class Case:
    """One generated module: its text, the function to differentiate, its arguments."""

    def __init__(self, rng: random.Random, arrays: bool):
        self.rng, self.arrays = rng, arrays
        self.defs: list[str] = []
        self.used_functions: set[str] = set()
        n = rng.choice((2, 3))
        self.main = self.function_name()
        names = self.fresh_names(n + 4)
        self.params, locals_ = names[:n], names[n:]
        body = self.body(self.params, locals_)
        self.defs.append(f"def {self.main}({', '.join(self.params)}):\n{body}")
        self.text = "import math\nimport numpy as np\n\n\n" + "\n\n".join(self.defs)
        self.args = [self.value(i) for i in range(n)]

    def value(self, i):
        if self.arrays and i < 2:
            return np.array([0.3, -0.4, 0.5]) + 0.1 * i
        return 0.6 + 0.15 * i

    def function_name(self) -> str:
        while True:
            name = self.rng.choice(FUNCTION_NAMES)
            if name not in self.used_functions:
                self.used_functions.add(name)
                return name

    def fresh_names(self, k: int) -> list[str]:
        pool = [n for n in VALUE_NAMES if n not in self.used_functions]
        if self.rng.random() < 0.05:  # rarely: a local hiding a module (refused)
            pool += ["math", "np"]
        return self.rng.sample(pool, k)

    def unary(self, a: str, names) -> str:
        """A smooth function of ``a`` that does not need a name the function hides."""
        choices = [f"{a} * {a}", f"0.5 * {a} + 1.0"]
        if "math" not in names and not self.arrays:
            choices += [f"math.sin({a})", f"math.exp(0.3 * {a})"]
        if "np" not in names:
            choices += [f"np.tanh({a})", f"np.cos({a})"]
        return self.rng.choice(choices)

    def body(self, params, locals_) -> str:
        rng, names = self.rng, set(params) | set(locals_)
        a, b = params[0], params[1]
        acc, other, idx, last = locals_
        lines = [f"{acc} = {self.unary(a, names)} + {b}"]
        if rng.random() < 0.6 and "range" not in names:
            lines += [
                f"for {idx} in range({rng.choice((1, 2, 3))}):",
                f"    {acc} = {acc} * {b} + {self.unary(acc, names)} * 0.25",
            ]
        scalar = not self.arrays or len(params) == 3  # the last parameter
        if rng.random() < 0.5 and (scalar or "np" not in names):
            test = f"np.sum({a}) > np.sum({b})" if self.arrays else f"{a} > {b}"
            if self.arrays and "np" in names:
                test = f"{params[-1]} > 0.5"
            lines += [
                f"if {test}:",
                f"    {other} = {acc} * {a}",
                "else:",
                f"    {other} = {acc} + {self.unary(b, names)}",
            ]
        else:
            lines.append(f"{other} = {acc} * {a}")
        if rng.random() < 0.5:
            helper = self.helper()
            if helper not in names:
                lines.append(f"{other} = {helper}({other}, {b})")
        if rng.random() < 0.35 and not self.arrays:
            rec = self.recursive()
            if rec not in names:
                lines.append(f"{other} = {rec}({other}, 2)")
        total = f"np.sum({other})" if self.arrays and "np" not in names else other
        if self.arrays and "np" in names:
            total = f"{other}.sum()"
        scale = params[-1] if scalar else "1.5"
        lines.append(f"{last} = {total} * {scale}")
        lines.append(f"return {last}")
        return "".join(f"    {line}\n" for line in lines)

    def helper(self) -> str:
        name = self.function_name()
        p, q, r = self.fresh_names(3)
        expr = self.unary(p, {p, q, r})
        self.defs.append(
            f"def {name}({p}, {q}):\n    {r} = {expr} * {q}\n    return {r} + {p}\n"
        )
        return name

    def recursive(self) -> str:
        name = self.function_name()
        p, n, r = self.fresh_names(3)
        expr = self.unary(r, {p, n, r})
        self.defs.append(
            f"def {name}({p}, {n}):\n"
            f"    if {n} <= 0:\n        return {p}\n"
            f"    {r} = {name}({p}, {n} - 1)\n"
            f"    return {expr} * 0.5 + {p}\n"
        )
        return name


def central(fn, args, direction, h=1e-6):
    up = [a + h * d for a, d in zip(args, direction)]
    down = [a - h * d for a, d in zip(args, direction)]
    return (fn(*up) - fn(*down)) / (2 * h)


def unit(args, i, index=None):
    out = [np.zeros_like(a) if isinstance(a, np.ndarray) else 0.0 for a in args]
    if isinstance(args[i], np.ndarray):
        out[i][index] = 1.0
    else:
        out[i] = 1.0
    return out


def expected_gradient(fn, args):
    grads = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            g = np.array([central(fn, args, unit(args, i, j)) for j in range(a.size)])
            grads.append(g)
        else:
            grads.append(central(fn, args, unit(args, i)))
    return tuple(grads)


def close(got, want) -> bool:
    got = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    want = tuple(want) if isinstance(want, (tuple, list)) else (want,)
    return len(got) == len(want) and all(
        np.allclose(g, w, rtol=1e-5, atol=1e-6) for g, w in zip(got, want)
    )


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def refused(exc: Exception) -> bool:
    return isinstance(exc, CompileError) and bool(LOCATED.search(str(exc)))


def check_case(k: int, tmp_path) -> str:
    """``"ok"`` or ``"refused"``; raises AssertionError on a wrong number."""
    rng = random.Random(SEED * 1_000_003 + k)
    case = Case(rng, arrays=rng.random() < 0.3)
    path = tmp_path / f"clash_{k}.py"
    path.write_text(case.text)
    label = f"case {k} (ADC_FUZZ_SEED={SEED}):\n{case.text}"
    user = getattr(load(path, f"clash_{k}"), case.main)
    args = case.args
    value = user(*args)
    want = expected_gradient(user, args)
    direction = [
        np.full_like(a, 0.7) if isinstance(a, np.ndarray) else 0.7 for a in args
    ]
    want_dot = central(user, args, direction)
    outcomes = []
    argnums = tuple(range(len(args)))
    try:
        got = grad(user, argnums=argnums)(*args)
        assert close(got, want), f"grad {got} != {want}\n{label}"
        y, y_dot = jvp(user, tuple(args), tuple(direction))
        assert close(y, value) and close(y_dot, want_dot), f"jvp {y_dot}\n{label}"
        outcomes.append("ok")
    except CompileError as exc:
        assert refused(exc), f"unlocated error {exc}\n{label}"
        outcomes.append("refused")
    shapes = []
    if case.arrays:
        shapes = ["--shape"] + [f"{case.params[i]}=3" for i in range(2)]
    for mode in ("reverse", "forward"):
        out = tmp_path / f"clash_{k}_{mode}.py"
        argv = ["compile", str(path), "--function", case.main, "--mode", mode]
        code = cli.main(argv + shapes + ["-o", str(out)])
        if code == 1:
            outcomes.append("refused")
            continue
        assert code == 0, f"adc exit {code}\n{label}"
        emitted = load(out, f"clash_{k}_{mode}")
        if mode == "reverse":
            gradient = getattr(emitted, f"{case.main}_grad", None)
            if gradient is None:  # array code whose scalar parameter has no --shape
                got = getattr(emitted, f"{case.main}_vjp")(*args, 1.0)
            else:
                got = gradient(*args)
            assert close(got, want), f"adc reverse {got} != {want}\n{label}"
        else:
            y, y_dot = getattr(emitted, f"{case.main}_jvp")(*args, *direction)
            assert close(y, value) and close(y_dot, want_dot), f"adc forward\n{label}"
        outcomes.append("ok")
    return "ok" if "ok" in outcomes else "refused"


def run_clash_fuzz(tmp_path, capsys, start, cases):
    results = {"ok": 0, "refused": 0}
    for k in range(start, start + cases):
        results[check_case(k, tmp_path)] += 1
        capsys.readouterr()  # adc's messages for refused cases
        if (k + 1 - start) % 500 == 0:
            with capsys.disabled():
                print(f"clash fuzz: {k + 1 - start} cases from {start}: {results}")
    print(f"clash fuzz: {cases} cases, {results}")
    # most cases compile: the fuzzer tests derivatives, not only refusals
    assert results["ok"] >= 0.6 * cases, results


@pytest.mark.slow
def test_clash_fuzz(tmp_path, capsys):
    run_clash_fuzz(tmp_path, capsys, START, CASES)


def test_clash_fuzz_first_cases(tmp_path, capsys):
    """The fast tier's sample: the first few seeded cases (ADC_FUZZ_SEED)."""
    run_clash_fuzz(tmp_path, capsys, 0, 4)


@pytest.mark.parametrize(
    "text, main, args",
    [
        # a parameter named like the builtin the reverse sweep calls
        (
            "def f(reversed, x):\n    for i in range(3):\n        x = x * reversed\n    return x\n",
            "f",
            (0.7, 0.9),
        ),
        # a helper of the user's named like an emitted helper and a derivative
        (
            "def _sum_to(a, b):\n    return a * b\n\n\ndef f_grad(x, y):\n    return _sum_to(x, y) * x\n",
            "f_grad",
            (0.7, 0.9),
        ),
        # locals named like temporaries, tapes, adjoints and tangents
        (
            "import math\n\n\ndef g(v1, tape):\n    x_bar = v1 * tape\n    x_dot = math.sin(x_bar)\n    for v2 in range(2):\n        x_dot = x_dot * tape\n    return x_dot + x_bar\n",
            "g",
            (0.7, 0.9),
        ),
        # a recursive function beside a function named like its adjoint's primal
        (
            "import math\n\n\ndef h_adjoint(x, n):\n    if n <= 0:\n        return x\n    return math.sin(h_adjoint(x, n - 1))\n\n\ndef h(x):\n    return h_adjoint(x, 2) * x\n",
            "h",
            (0.7,),
        ),
    ],
)
def test_named_clashes_give_the_right_derivative(tmp_path, text, main, args):
    path = tmp_path / "named.py"
    path.write_text(text)
    user = getattr(load(path, "named"), main)
    want = expected_gradient(user, list(args))
    assert close(grad(user, argnums=tuple(range(len(args))))(*args), want)
    out = tmp_path / "named_grad.py"
    assert cli.main(["compile", str(path), "--function", main, "-o", str(out)]) == 0
    assert close(getattr(load(out, "named_grad"), f"{main}_grad")(*args), want)


def test_two_functions_named_alike_in_the_emitted_module_are_refused(tmp_path, capsys):
    # g's adjoint is called g_adjoint, and so is the user's recursive function:
    # before, the module kept the first and the gradient called the wrong one
    text = (
        "import math\n\n\ndef g(x, n):\n    if n <= 0:\n        return x\n"
        "    return math.sin(g(x, n - 1))\n\n\n"
        "def g_adjoint(x, n):\n    if n <= 0:\n        return x\n"
        "    return math.cos(g_adjoint(x, n - 1))\n\n\n"
        "def both(x):\n    return g(x, 2) * g_adjoint(x, 2)\n"
    )
    path = tmp_path / "both.py"
    path.write_text(text)
    assert cli.main(["compile", str(path), "--function", "both"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"{path}:16:1: error: the emitted module would bind `g_adjoint` twice: "
        "`g_adjoint` (The adjoints of the arguments (recomputing the call) of g(x, n), "
        "which is recursive) and `g_adjoint` (g_adjoint as traced, for its adjoint "
        "below); nothing is merged silently\n"
    ), err
    with pytest.raises(CompileError, match="would bind `g_adjoint` twice"):
        grad(load(path, "both").both)(0.7)


@pytest.mark.parametrize(
    "text, main, what",
    [
        # the reverse sweep calls reversed(tape): a module-level `reversed` would answer
        (
            "from ad_compiler import custom_derivative\n\n\ndef hp(x):\n    return 1.0\n\n\n"
            "@custom_derivative(hp)\ndef reversed(x):\n    return x\n\n\n"
            "def f(x):\n    for i in range(3):\n        x = reversed(x) * x\n    return x\n",
            "f",
            "the copy of your function `reversed` (it has a custom derivative)",
        ),
        # a recursive function is copied into the module under its own name
        (
            "import math\n\n\ndef abs(x, n):\n    if n <= 0:\n        return x\n"
            "    return math.sin(abs(x, n - 1))\n\n\ndef g(x):\n    return abs(x, 2) * x\n",
            "g",
            "`abs` (abs as traced, for its adjoint below)",
        ),
    ],
)
def test_a_module_level_name_hiding_a_builtin_is_refused(
    tmp_path, capsys, text, main, what
):
    path = tmp_path / "hide.py"
    path.write_text(text)
    assert cli.main(["compile", str(path), "--function", main]) == 1
    err = capsys.readouterr().err
    name = what.split("`")[1]
    line = text.split("\n").index(f"def {main}(x):") + 1
    assert err.startswith(
        f"{path}:{line}:1: error: {what} would be named `{name}` in the emitted "
        "module, hiding the builtin emitted code uses\n"
    ), err
