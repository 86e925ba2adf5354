"""Golden files: the trace IR and the emitted source of every sample function.

The emitted code is the product, so any change to it shows up here as a diff a
reviewer reads.  Regenerate after an intended change with
``ADC_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and review the diff.
"""

import os

import pytest

from ad_compiler.frontend.source import module_functions, parse_module
from ad_compiler.tools.files import _has_custom_derivative, compile_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
SAMPLES = ("samples/seeds.py", "samples/control_flow.py")
TEXTS = {s: open(os.path.join(ROOT, s), encoding="utf-8").read() for s in SAMPLES}
# (sample, function): every function `adc compile` differentiates by default
CASES = [
    (sample, node.name)
    for sample in SAMPLES
    for node in module_functions(parse_module(TEXTS[sample], sample))
    if not _has_custom_derivative(node)
]
IDS = [name for _, name in CASES]
SAMPLE = SAMPLES[0]
TEXT = TEXTS[SAMPLE]


def check_golden(name: str, actual: str):
    path = os.path.join(GOLDEN, name)
    if os.environ.get("ADC_UPDATE_GOLDEN"):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(actual)
    with open(path, encoding="utf-8") as handle:
        expected = handle.read()
    assert actual == expected, f"{name} changed; see the diff above"


@pytest.mark.parametrize("sample, name", CASES, ids=IDS)
def test_trace_ir(sample, name):
    text = compile_file(TEXTS[sample], sample, [name], ir_only=True)
    check_golden(f"{name}.ir.txt", text)


@pytest.mark.parametrize("sample, name", CASES, ids=IDS)
@pytest.mark.fast_sample(keep=lambda sample, name: CASES.index((sample, name)) % 2 == 0)
def test_reverse_source(sample, name):
    check_golden(f"{name}.reverse.py.txt", compile_file(TEXTS[sample], sample, [name]))


@pytest.mark.parametrize("sample, name", CASES, ids=IDS)
@pytest.mark.fast_sample(keep=lambda sample, name: CASES.index((sample, name)) % 2 == 1)
def test_forward_source(sample, name):
    text = compile_file(TEXTS[sample], sample, [name], mode="forward")
    check_golden(f"{name}.forward.py.txt", text)


def test_output_is_deterministic():
    assert compile_file(TEXT, SAMPLE) == compile_file(TEXT, SAMPLE)
