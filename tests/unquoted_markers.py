"""``pytest -m not slow`` read as ``pytest -m "not slow"``.

A script that drops the quotes (a shell's word splitting, a hook that joins
arguments with spaces) hands pytest the marker expression ``not`` and a path
``slow``: an invalid expression and a missing file, so the run fails before
any test ("file or directory not found: slow").  Loaded by ``-p`` from
pyproject.toml's addopts, this plugin joins the two words back, and only when
the word after ``not`` is a registered marker and not a path that exists, so
no meaningful command line changes its meaning.
"""

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    markers = {
        line.split(":")[0].split("(")[0].strip()
        for line in early_config.getini("markers")
    }
    for i in range(len(args) - 2):
        if args[i] == "-m" and args[i + 1] == "not":
            word = args[i + 2]
            if word in markers and not os.path.exists(word):
                args[i + 1 : i + 3] = [f"not {word}"]
            return
