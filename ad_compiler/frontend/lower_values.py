"""What lowering binds a user's name to, besides IR atoms.

* :class:`TupleValue` — a tuple of values (``t = (a, b)``; ``return t``): it
  exists only while lowering, each item being an atom (or a tuple);
* :class:`Unbound` — a local assigned on only some paths; reading it is an
  error that says which ``if`` or loop did not assign it;
* ``TRUE``/``FALSE`` and :func:`_same`, the literal comparison of atoms that the
  merges of control flow use (``1``, ``1.0`` and ``True`` differ).
"""

from __future__ import annotations

from dataclasses import dataclass

from ad_compiler.ir.nodes import Const


@dataclass(frozen=True)
class Unbound:
    """A local assigned on only some paths: in one arm of an ``if``, or in a loop."""

    name: str
    line: int
    loop: bool = False
    runs: bool = False  # the loop surely runs: a path through its body skips it

    def message(self) -> tuple[str, str]:
        if self.loop and self.runs:
            return (
                f"`{self.name}` may be unbound here: the loop at line {self.line} "
                "does not assign it on every path through its body",
                f"assign `{self.name}` before the loop",
            )
        if self.loop:
            return (
                f"`{self.name}` may be unbound here: it is assigned in the loop at "
                f"line {self.line}, which may run zero times",
                f"assign `{self.name}` before the loop",
            )
        return (
            f"`{self.name}` may be unbound here: the `if` at line {self.line} "
            "assigns it on only some paths",
            "assign it before the `if` or in every branch",
        )


TRUE, FALSE = Const(True), Const(False)


def _same(a, b) -> bool:
    """The same atom, literally: ``1`` and ``1.0`` and ``True`` differ."""
    return a == b and type(getattr(a, "value", a)) is type(getattr(b, "value", b))


@dataclass(frozen=True)
class TupleValue:
    """A tuple of values during lowering (``t = (a, b)``; ``return t``)."""

    items: tuple


class TreeList(TupleValue):
    """A list passed as a parameter tree (``params = [(W1, b1), (W2, b2)]``):
    read like a tuple (indexed, unpacked, iterated, ``len``), never mutated."""


@dataclass(frozen=True)
class DictValue:
    """A dict passed as a parameter tree (``p["w"]``): string keys, in order."""

    keys: tuple
    values: tuple

    def get(self, key):
        return self.values[self.keys.index(key)] if key in self.keys else None


@dataclass(frozen=True)
class StaticValue:
    """A compile-time value that is not a number: a static argument or default
    (``kind="tanh"``, ``None``, ``True``), a string literal, or what comparing
    such values gives (``kind == "tanh"``).  Branches on it are decided while
    lowering; it never becomes an IR atom, except a bool used as a number."""

    value: object
