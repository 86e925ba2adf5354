"""What lowering binds a user's name to, besides IR atoms.

* :class:`TupleValue` — a tuple of values (``t = (a, b)``; ``return t``): it
  exists only while lowering, each item being an atom (or a tuple);
* :class:`ListValue` — a list, a tuple that ``append``/``extend`` make longer;
* :class:`Unbound` — a local assigned on only some paths; reading it is an
  error that says which ``if`` or loop did not assign it;
* ``TRUE``/``FALSE`` and :func:`_same`, the literal comparison of atoms that the
  merges of control flow use (``1``, ``1.0`` and ``True`` differ).
"""

from __future__ import annotations

from dataclasses import dataclass

from ad_compiler.ir.nodes import Const, Var


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


@dataclass(frozen=True, slots=True)
class Poisoned(Var):
    """What a name is bound to after the statement binding it failed, when every
    error of a file is collected (:mod:`ad_compiler.frontend.recovery`).  An atom
    like any other to the merges of branches and loops (the IR built after an
    error is never used); reading it by name is a quiet cascade, not an error
    of its own."""


@dataclass(eq=False)
class Closure:
    """The enclosing function's names as a nested function sees them.

    While the enclosing function is being lowered, ``owner`` is its lowerer and
    a read gets the binding current at that moment, as a Python closure cell
    does; once that function has returned, ``env`` holds its names as they were
    at the ``return`` (the cells can no longer change).  ``parent`` is the
    closure of the enclosing function itself, for defs nested deeper.
    """

    names: frozenset
    owner: object = None
    env: dict | None = None
    parent: "Closure | None" = None

    def bindings(self) -> dict:
        return self.owner.env if self.env is None else self.env


@dataclass(frozen=True, eq=False)
class FunctionValue:
    """A function as a value while lowering: a nested ``def`` or a ``lambda``
    (``node``, read in ``src`` with names resolved in ``closure`` then
    ``scope``), or a module-level function or known function held by a name
    (``ref``: ``act = np.tanh``, ``apply(helper, x)``).  Calling one inlines it;
    it never reaches the IR.  ``defaults`` are the values of the parameters'
    defaults, evaluated where the ``def`` ran, as Python does.
    """

    name: str
    node: object = None
    src: object = None
    scope: object = None
    closure: Closure | None = None
    defaults: tuple = ()
    ref: object = None


@dataclass(frozen=True)
class ListValue(TupleValue):
    """A Python list during lowering, of a length known at each point.

    ``xs.append(v)`` binds ``xs`` to a new ``ListValue`` one item longer with
    the same ``ident``: the ident stands for the list object, so that two names
    for one list (which an append through one of them would desynchronise) are
    found and refused.  A list is a tuple to everything that only reads it
    (unpacking, iteration, ``len``, indexing).
    """

    ident: int = 0


@dataclass(frozen=True)
class RunList:
    """A list whose length is known only at run time (built by ``append`` in a
    loop over ``range(n)``, an array's rows, a ``while`` ...): the prefix
    ``buf[:n]`` of the append-only buffer ``buf``, an IR variable holding a
    Python list (see :mod:`ad_compiler.primitives.lists`), ``n`` an int atom.
    ``ident`` stands for the list object, as a :class:`ListValue`'s does."""

    buf: Var
    n: object
    ident: int


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
