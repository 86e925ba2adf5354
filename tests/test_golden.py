"""Golden files: the trace IR and the emitted source of every sample function.

The emitted code is the product, so any change to it shows up here as a diff a
reviewer reads.  Regenerate after an intended change with
``ADC_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and review the diff.
"""

import os

import pytest

from ad_compiler.api import compile_file
from ad_compiler.source import module_functions, parse_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
SAMPLE = "samples/seeds.py"
TEXT = open(os.path.join(ROOT, SAMPLE), encoding="utf-8").read()
NAMES = [n.name for n in module_functions(parse_module(TEXT, SAMPLE))]


def check_golden(name: str, actual: str):
    path = os.path.join(GOLDEN, name)
    if os.environ.get("ADC_UPDATE_GOLDEN"):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(actual)
    with open(path, encoding="utf-8") as handle:
        expected = handle.read()
    assert actual == expected, f"{name} changed; see the diff above"


@pytest.mark.parametrize("name", NAMES)
def test_trace_ir(name):
    check_golden(f"{name}.ir.txt", compile_file(TEXT, SAMPLE, [name], ir_only=True))


@pytest.mark.parametrize("name", NAMES)
def test_reverse_source(name):
    check_golden(f"{name}.reverse.py.txt", compile_file(TEXT, SAMPLE, [name]))


@pytest.mark.parametrize("name", NAMES)
def test_forward_source(name):
    check_golden(
        f"{name}.forward.py.txt", compile_file(TEXT, SAMPLE, [name], mode="forward")
    )


def test_output_is_deterministic():
    assert compile_file(TEXT, SAMPLE) == compile_file(TEXT, SAMPLE)
