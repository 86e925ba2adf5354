"""Turning emitted source into a live function.

Guarantees: the function is compiled from exactly the text in ``.source``, in a
fresh namespace holding nothing but what that text imports, and the text is
registered with :mod:`linecache` so ``inspect.getsource``, tracebacks and
debuggers show the emitted lines.
"""

from __future__ import annotations

import hashlib
import linecache

from ad_compiler.frontend.source import source_lines


def load(source: str, name: str, label: str):
    """Execute ``source`` (a module text) and return its function ``name``."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    filename = f"<ad_compiler {label} {digest}>"
    # An entry with mtime None is never evicted by linecache.checkcache().
    lines = [line + "\n" for line in source_lines(source)]
    linecache.cache[filename] = (len(source), None, lines, filename)
    namespace: dict[str, object] = {"__name__": f"ad_compiler_generated_{digest}"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]
