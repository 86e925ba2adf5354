"""The two tiers themselves: ``fast_sample`` (conftest.py) and ``fast`` (tiers.py).

A small test file is run by pytest in a temporary folder with this folder's
conftest.py: the fast tier (``-m "not slow"``) must run exactly the sample, and
the full suite every case, under the same ids.
"""

from pathlib import Path

from tiers import fast

HERE = Path(__file__).parent

GRID = """
import pytest


@pytest.mark.parametrize("n", range(7))
@pytest.mark.fast_sample(every=3)
def test_every(n):
    pass


@pytest.mark.parametrize("n", range(5))
@pytest.mark.fast_sample(first=2)
def test_first(n):
    pass


@pytest.mark.parametrize("a", [1, 2])
@pytest.mark.parametrize("b", [10, 20, 30])
@pytest.mark.fast_sample(keep=lambda a, b: a + b == 21)
def test_keep(a, b):
    pass


@pytest.mark.slow
def test_slow():
    pass


def test_plain():
    pass
"""


def _ids(pytester, *args):
    pytester.makeconftest((HERE / "conftest.py").read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    slow: slow\n    fast_sample: a sample\n")
    pytester.makepyfile(test_grid=GRID)
    result = pytester.runpytest("--collect-only", "-q", "--strict-markers", *args)
    return [line for line in result.outlines if "::" in line]


def test_the_fast_tier_runs_the_sample_and_the_full_suite_every_case(pytester):
    full = _ids(pytester)
    fast_ids = _ids(pytester, "-m", "not slow")
    every = [f"test_grid.py::test_every[{n}]" for n in range(7)]
    first = [f"test_grid.py::test_first[{n}]" for n in range(5)]
    keep = [f"test_grid.py::test_keep[{b}-{a}]" for b in (10, 20, 30) for a in (1, 2)]
    assert full == every + first + keep + ["test_grid.py::test_slow"] + [
        "test_grid.py::test_plain"
    ]
    assert fast_ids == [
        "test_grid.py::test_every[0]",
        "test_grid.py::test_every[3]",
        "test_grid.py::test_every[6]",
        "test_grid.py::test_first[0]",
        "test_grid.py::test_first[1]",
        "test_grid.py::test_keep[20-1]",
        "test_grid.py::test_plain",
    ]


def test_a_fast_twin_has_few_examples_the_same_every_run():
    from hypothesis import settings

    full = settings(max_examples=60, deadline=None)
    twin = fast(full)
    assert (twin.max_examples, twin.derandomize, twin.deadline) == (4, True, None)
    assert fast(full, examples=2).max_examples == 2


def test_the_marker_expression_without_its_quotes_means_the_same(pytester):
    # `pytest -m not slow`, as a script that drops the quotes passes it: the
    # fast tier, not "file or directory not found: slow"
    quoted = _ids(pytester, "-m", "not slow")
    assert _ids(pytester, "-p", "unquoted_markers", "-m", "not", "slow") == quoted
    # a word that is not a marker keeps its meaning (a path, here a missing one)
    result = pytester.runpytest("-p", "unquoted_markers", "-m", "not", "nosuch")
    assert result.ret != 0
    assert "file or directory not found: nosuch" in "\n".join(result.errlines)
