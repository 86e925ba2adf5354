"""Modules imported on first use (black, SymPy), safely from many threads.

Python's import system lets a second thread see a module another thread is
still executing (``module 'black' has no attribute 'Mode'``).  Guarantee:
:func:`lazy_import` returns a module only once its import has finished, and
imports each module under one lock; after that it is a dict lookup.
"""

from __future__ import annotations

import importlib
import threading

_LOCK = threading.RLock()
_DONE: dict[str, object] = {}


def lazy_import(name: str):
    """The module ``name``, fully imported (the first call imports it)."""
    module = _DONE.get(name)
    if module is None:
        with _LOCK:
            module = _DONE.get(name)
            if module is None:
                module = importlib.import_module(name)
                _DONE[name] = module
    return module
