"""Text from outside the source (file names, paths, the command line) made safe to echo.

:func:`printable` is the one gate such text passes before it reaches emitted
code (module headers, docstrings), DOT labels or a terminal.  It guarantees a
single line of printable characters: nothing in it can end a line, a comment
or a string early for Python's tokenizer (``\\n``, ``\\r``, ``\\x0c``, NUL,
U+2028, U+2029, U+0085 are all escaped) or drive a terminal (ESC, BEL,
bidirectional overrides, invalid UTF-8 carried as lone surrogates).
"""

from __future__ import annotations

import re
import unicodedata


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


# Characters shown escaped: controls (ESC, CR, form feed, NEL...), format
# characters (the bidirectional overrides that reorder what a reader sees),
# line and paragraph separators, lone surrogates.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _visible_char(c: str) -> str:
    if c == "\t" or unicodedata.category(c) not in _HIDDEN_CATEGORIES:
        return c
    code = ord(c)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str) -> str:
    """``text`` with every control or format character (tabs excepted) written as
    its Python escape (``\\x1b``, ``\\u202e``): safe to print or to put in a comment."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(map(_visible_char, text))


# where Python's tokenizer ends a line (str.splitlines also splits at \x0c, \v, ...)
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def docstring_lines(doc: str) -> list[str]:
    """The lines of ``doc`` as the inside of a triple-double-quoted literal.

    Whatever ``doc`` holds (a user's docstring, a header naming files), the
    literal ends where it should and its value is ``doc`` (stripped, each line
    break a ``\\n``), while its text shows control and format characters as
    escapes (:func:`visible`): backslashes are doubled, every third quote of a
    run of double quotes is escaped, and so is a last double quote, which would
    touch the closing quotes.
    """
    doc = doc.strip().replace("\\", "\\\\")
    last = '\\"' if doc.endswith('"') else ""  # a quote touching the closing ones
    doc = (doc[:-1] if last else doc).replace('"""', '""\\"')
    lines = [visible(line) for line in LINE_BREAK.split(doc)]
    lines[-1] += last
    return lines
