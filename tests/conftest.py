import os
import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]  # tests/test_tiers.py runs pytest on a small file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "samples"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Verify the IR after every named pass (ad_compiler.ir.passes): a pass that
# breaks it is named where it broke.  Subprocesses inherit it.
os.environ.setdefault("ADC_VERIFY", "1")


def _keeps(marker, position, item):
    """Whether the case at ``position`` (0-based, in collection order) among its
    test function's parametrized cases belongs to the fast tier."""
    keep = marker.kwargs.get("keep")
    if keep is not None:
        return bool(keep(**item.callspec.params))
    if "first" in marker.kwargs:
        return position < marker.kwargs["first"]
    return position % marker.kwargs["every"] == 0


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.fast_sample(every=k)``, ``(first=n)`` or ``(keep=predicate)``:
    the whole grid of a parametrized test runs in the full suite; only a
    deterministic sample runs in the fast tier (``pytest -m "not slow"``) — every
    k-th case by position, the first included, the first n cases, or the cases
    whose parameters (fixture parameters included) satisfy
    ``predicate(**params)``.  The other cases are marked ``slow`` here, before
    ``-m`` deselects anything (hence ``tryfirst``), so no case is ever dropped
    from the full suite and every case keeps its id."""
    seen = {}
    for item in items:
        marker = item.get_closest_marker("fast_sample")
        if marker is None or not hasattr(item, "callspec"):
            continue
        key = (item.path, item.cls, item.originalname)
        position = seen.get(key, 0)
        seen[key] = position + 1
        if not _keeps(marker, position, item):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def adc_in_process(capsys, monkeypatch):
    """``adc(*args, cwd=None)``: the command run in this process through
    :func:`ad_compiler.tools.cli.main`, answered as the subprocess helpers answer
    (a ``subprocess.CompletedProcess``: ``returncode``, ``stdout``, ``stderr``).

    The fast twin of a CLI test run as a subprocess: the same arguments, file
    and assertions without the interpreter's start-up (about 0.4 s a run).  The
    console script and the ``python -m`` entry point stay checked by subprocess
    tests (``test_cli.py``'s in the fast tier, the slow siblings of each twin)."""
    from ad_compiler.tools.cli import main  # (imported when a test asks for it)

    def run(*args, cwd=None):
        capsys.readouterr()  # what the test printed before is not the command's
        with monkeypatch.context() as patch:
            if cwd is not None:
                patch.chdir(cwd)
            try:
                status = main([str(a) for a in args])
            except SystemExit as exc:  # argparse's own usage errors
                status = exc.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["adc", *args], status, out, err)

    return run
