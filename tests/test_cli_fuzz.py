"""The option fuzzer: random command lines over `adc`'s whole option grammar.

Every subcommand with every option, values drawn from nasty sets (negative,
zero, nan, inf, huge, empty, malformed, non-ASCII; names that exist and names
that do not; files that exist, do not, are directories, are the input itself,
are device nodes), against a few small sample files (scalar code, array code,
a syntax error, a BOM, invalid UTF-8).  Every case must end with exit status
0, 1 or 2, with no traceback and no "internal compiler error" on stderr, within
a time bound.  Most cases run in-process through ``ad_compiler.tools.cli.main``; a
few dozen through a subprocess, as a user runs them.  Writes go to a
temporary folder only.

``ADC_FUZZ_CASES`` (environment variable) sets the number of cases: a few
hundred by default (CI), ``ADC_FUZZ_CASES=10000`` for a local run.  The random
generator is seeded (``ADC_FUZZ_SEED``, default 14), so a failure is reproduced
by its seed and case number, both printed with the command line.
"""

import os
import random
import shlex
import subprocess
import sys
import time

import pytest

from ad_compiler.symbolic.check import OutOfTime, time_budget
from ad_compiler.tools.cli import main

CASES = int(os.environ.get("ADC_FUZZ_CASES", "300"))
SEED = int(os.environ.get("ADC_FUZZ_SEED", "14"))
SUBPROCESS_CASES = min(16, CASES)  # the first ones also run through a subprocess
CASE_SECONDS = 60.0  # no case may take longer (budgets are at most a few seconds)

SCALAR = """import math


def f(x, y):
    return math.log(x) * y + math.sqrt(x * y)


def loop(x, n):
    for i in range(n):
        x = x * 0.5 + math.sin(x)
    return x


def branch(x, y=2.0):
    if x > y:
        return x * y, x
    return x - y, y


def until(x):
    while x > 1e-3:
        x = x / 2.0
    return x


def big(x, a=1e999):
    return x**a + abs(x)
"""

ARRAYS = """import numpy as np


def layer(W, b, X):
    return np.sum(np.tanh(X @ W + b))


def elementwise(x):
    return np.sin(x) * x + np.mean(x)


def scale(x: np.ndarray, n):
    for i in range(n):
        x = x * 0.5
    return x
"""

NAMES = ["x", "y", "n", "a", "W", "b", "X", "z", "", "1x", "é", "x,y", "x,x", "lambda"]
FUNCTIONS = ["f", "loop", "branch", "until", "big", "layer", "elementwise", "scale"]
FUNCTIONS += ["nope", "", "math", "1f"]
NUMBERS = ["0", "1", "2", "-1", "2.5", "-0.0", "1e-300", "1e300", "1e999", "-1e999"]
NUMBERS += ["nan", "inf", "-inf", "100000000", "99999999999999999999", "10**8"]
NUMBERS += ["", "abc", "1_000", "0x10", "３", " 1", "1e", "+2", "Infinity"]
DIMS = ["", "n", "n,3", "3,n", "1", "?", "n,,p", "n,", ",", "(2,3)", "-1", "é", "n, m"]
PARAMS = ["n=1..3", "n=1,2", "n=0..2", "n=1..10**11", "n=5..1", "n=", "=1..2"]
PARAMS += ["n=1..100000000000", "x=1..2", "n=-2..-1", "n=1.5", "n", "n=1..2..3"]
SECONDS = ["0.5", "1", "2", "-1", "nan", "inf", "0", "1e-9", "1e9", "abc", ""]
# values that make sense for the samples, drawn most of the time so that cases
# get past option checking into the compiler
GOOD = {
    id(NAMES): ["x", "y", "n", "a", "x", "W", "b", "X"],
    id(FUNCTIONS): ["f", "loop", "branch", "until", "big", "elementwise", "scale"],
    id(NUMBERS): ["0.5", "1", "2", "3", "0.25", "1.5", "4"],
    id(DIMS): ["", "n", "n,3", "3,n", "1", "?"],
    id(PARAMS): ["n=1..3", "n=1,2", "n=0..2"],
}


# each sample function's parameters: most points name exactly these
PARAMETERS = {
    "f": ["x", "y"],
    "loop": ["x", "n"],
    "branch": ["x", "y"],
    "until": ["x"],
    "big": ["x", "a"],
    "layer": ["W", "b", "X"],
    "elementwise": ["x"],
    "scale": ["x", "n"],
}
FILE_OF = {
    name: "arrays.py" if name in ("layer", "elementwise", "scale") else "scalar.py"
    for name in PARAMETERS
}


class Grammar:
    """Random command lines, given the files and folders one case may touch."""

    def __init__(self, rng: random.Random, folder: str, inputs: list[str]):
        self.rng, self.folder, self.inputs = rng, folder, inputs

    def pick(self, pool):
        """From ``pool``; most of the time from its sensible values."""
        good = GOOD.get(id(pool))
        if good and self.rng.random() < 0.7:
            return self.rng.choice(good)
        return self.rng.choice(pool)

    def maybe(self, p=0.5) -> bool:
        return self.rng.random() < p

    def name_values(self, k: int) -> list[str]:
        return [f"{self.pick(NAMES)}={self.pick(NUMBERS)}" for _ in range(k)]

    def names(self) -> str:
        return ",".join(self.pick(NAMES) for _ in range(self.rng.randint(1, 3)))

    def output(self, suffixes) -> str:
        f = self.folder
        pool = [os.path.join(f, f"out{s}") for s in suffixes]
        pool += ["out.py", "out.txt", f, os.devnull, os.path.join(f, "no", "x.py")]
        pool += [self.pick(self.inputs), os.path.join(f, "link.py"), ""]
        return self.pick(pool)

    def command(self) -> list[str]:
        verbs = ["compile", "trace", "graph", "check", "swell"]
        verb = self.pick(verbs * 8 + ["bogus", ""])
        self.function = self.rng.choice(list(PARAMETERS))
        source = os.path.join(self.folder, FILE_OF[self.function])
        source = source if self.maybe(0.7) else self.pick(self.inputs)
        argv = [verb, source] if verb else []
        options = getattr(self, f"_{verb}", lambda: [])()
        self.rng.shuffle(options)
        for group in options:
            argv += group
        if self.maybe(0.05):
            argv.insert(
                self.rng.randint(0, len(argv)), self.pick(["--help", "-x", "--"])
            )
        return argv

    def _function(self, required: bool) -> list[list[str]]:
        if required or self.maybe():
            count = 1 if required else self.rng.randint(1, 2)
            names = [self.function] + [self.pick(FUNCTIONS) for _ in range(count)]
            if self.maybe(0.2):
                names[0] = self.pick(FUNCTIONS)
            return [["--function", name] for name in names[:count]]
        return []

    def point(self) -> list[str]:
        """``--at`` values: the function's parameters, sometimes others."""
        if self.maybe(0.7):
            values = [self.pick(NUMBERS) for _ in PARAMETERS[self.function]]
            return [f"{n}={v}" for n, v in zip(PARAMETERS[self.function], values)]
        return self.name_values(self.rng.randint(1, 3))

    def _compile(self) -> list[list[str]]:
        out = self._function(False)
        modes = ["reverse", "forward", "symbolic", "hessian", "hvp", "jacobian", "x"]
        if self.maybe(0.7):
            out.append(["--mode", self.pick(modes)])
        if self.maybe(0.3):
            out.append(["--wrt", self.names()])
        if self.maybe(0.3):
            out.append(["--fix", *self.name_values(self.rng.randint(1, 2))])
        if self.maybe(0.3):
            shapes = [f"{self.pick(NAMES)}={self.pick(DIMS)}" for _ in range(2)]
            out.append(["--shape", *shapes[: self.rng.randint(1, 2)]])
        if self.maybe(0.3):
            out.append(["-o", self.output([".py", ".txt"])])
        if self.maybe(0.1):
            out.append(["--ir"])
        out.append(["--seconds", self.pick(SECONDS[:3])])  # bound symbolic mode
        if self.maybe(0.1):
            out.append(["--seconds", self.pick(SECONDS)])
        return out

    def _trace(self) -> list[list[str]]:
        out = self._function(True)
        if self.maybe(0.95):
            out.append(["--at", *self.point()])
        if self.maybe(0.3):
            out.append(["--wrt", self.pick(NAMES)])
        if self.maybe(0.2):
            out.append(["--output", self.pick(["1", "2", "0", "-1", "3", "x", "1e9"])])
        if self.maybe(0.3):
            out.append(["--digits", self.pick(["0", "4", "-5", "17", "31", "1e3", ""])])
        if self.maybe(0.3):
            out.append(["--format", self.pick(["text", "markdown", "json", "xml"])])
        return out

    def _graph(self) -> list[list[str]]:
        out = self._function(True)
        if self.maybe(0.3):
            out.append(["-o", self.output([".dot", ".gv", ".svg", ".png", ".pdf"])])
        if self.maybe(0.3):
            out.append(["--adjoints"])
        return out

    def _check(self) -> list[list[str]]:
        out = self._function(False)
        for _ in range(self.rng.choice([0, 0, 1, 2])):
            out.append(["--at", *self.point()])
        out.append(["--seconds", self.pick(SECONDS[:3])])
        if self.maybe(0.1):
            out.append(["--seconds", self.pick(SECONDS)])
        return out

    def _swell(self) -> list[list[str]]:
        out = self._function(True)
        if self.maybe(0.95):
            out.append(["--param", self.pick(PARAMS)])
        if self.maybe(0.3):
            out.append(["--wrt", self.names()])
        if self.maybe(0.2):
            out.append(["--plot", self.output([".png", ".svg", ".pdf", ".gif"])])
        out.append(["--seconds", self.pick(SECONDS[:2])])
        if self.maybe(0.1):
            out.append(["--seconds", self.pick(SECONDS)])
        return out


@pytest.fixture
def sample_folder(tmp_path):
    """The sample inputs (and a place for outputs), all in a temporary folder."""
    (tmp_path / "scalar.py").write_text(SCALAR)
    (tmp_path / "arrays.py").write_text(ARRAYS)
    (tmp_path / "syntax.py").write_text("def f(x):\n    return x +\n")
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + SCALAR.encode())
    (tmp_path / "latin.py").write_bytes(b"def f(x):\n    return x  # caf\xe9\n")
    (tmp_path / "empty.py").write_text("")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link.py").symlink_to(tmp_path / "scalar.py")
    return tmp_path


def _inputs(folder) -> list[str]:
    names = ["scalar.py", "scalar.py", "arrays.py", "syntax.py", "bom.py"]
    names += ["latin.py", "empty.py", "folder", "missing.py", "link.py"]
    return [str(folder / n) for n in names]


def _why(err: str) -> str:
    """The line of stderr that says what went wrong."""
    lines = err.strip().splitlines() or [""]
    return next((x for x in lines if "internal compiler" in x), lines[-1])


def _bad(status, err: str) -> bool:
    return status not in (0, 1, 2) or "Traceback" in err or "internal compiler" in err


def run_in_process(sample_folder, capsys, monkeypatch, cases):
    monkeypatch.chdir(sample_folder)  # relative outputs land in the temporary folder
    rng = random.Random(SEED)
    grammar = Grammar(rng, str(sample_folder), _inputs(sample_folder))
    failures, statuses = [], {}
    for case in range(cases):
        argv = grammar.command()
        started = time.monotonic()
        try:
            with time_budget(CASE_SECONDS):
                status = main(argv)
        except SystemExit as exc:  # argparse: usage errors and --help
            status = exc.code
        except OutOfTime:
            status = "timeout"
        _, err = capsys.readouterr()
        seconds = time.monotonic() - started
        statuses[status] = statuses.get(status, 0) + 1
        if _bad(status, err) or seconds > CASE_SECONDS:
            failures.append(
                f"case {case}: adc {shlex.join(argv)} -> {status}: {_why(err)}"
            )
    print(f"{cases} cases, seed {SEED}, exit statuses {statuses}")
    assert not failures, "\n".join(failures[:40])


@pytest.mark.slow
def test_random_command_lines_exit_0_1_or_2_without_a_traceback(
    sample_folder, capsys, monkeypatch
):
    run_in_process(sample_folder, capsys, monkeypatch, CASES)


def test_the_first_random_command_lines(sample_folder, capsys, monkeypatch):
    """The fast tier's sample: the first few seeded command lines, in-process."""
    run_in_process(sample_folder, capsys, monkeypatch, 5)


@pytest.mark.slow
def test_random_command_lines_through_a_subprocess(sample_folder):
    rng = random.Random(SEED + 1)
    grammar = Grammar(rng, str(sample_folder), _inputs(sample_folder))
    failures = []
    for case in range(SUBPROCESS_CASES):
        argv = grammar.command()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "ad_compiler.tools.cli", *argv],
                capture_output=True,
                text=True,
                errors="replace",
                cwd=sample_folder,
                timeout=CASE_SECONDS,
            )
        except subprocess.TimeoutExpired:
            failures.append(f"case {case}: adc {shlex.join(argv)} -> timeout")
            continue
        if _bad(proc.returncode, proc.stderr):
            failures.append(
                f"case {case}: adc {shlex.join(argv)} -> {proc.returncode}: "
                + _why(proc.stderr)
            )
    assert not failures, "\n".join(failures)
