"""Text from outside the source (file names, paths, the command line) made safe to echo.

:func:`printable` is the one gate such text passes before it reaches emitted
code (module headers, docstrings), DOT labels or a terminal.  It guarantees a
single line of printable characters: nothing in it can end a line, a comment
or a string early for Python's tokenizer (``\\n``, ``\\r``, ``\\x0c``, NUL,
U+2028, U+2029, U+0085 are all escaped) or drive a terminal (ESC, BEL,
bidirectional overrides, invalid UTF-8 carried as lone surrogates).
"""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with the backslash and every non-printable character written as a
    Python escape (``\\n``, ``\\x1b``, ``\\u2028``): one line, printable, and
    reversible (a backslash is doubled, so an escape cannot be faked).

    Quotes are left alone: where the result goes inside a string literal, the
    writer of that literal escapes its delimiter.
    """
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    if ch.isprintable():
        return ch
    return repr(ch)[1:-1]  # '\n', '\x0c', '\u2028', '\udcff': Python's own escapes


def docstring_body(text: str) -> str:
    """``text`` escaped to sit between the triple double quotes of a docstring:
    backslashes doubled and every ``"`` escaped, so no quote in it can close
    the string, whatever follows (the docstring's value is ``text`` again)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')
