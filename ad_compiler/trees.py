"""Parameter trees and static arguments, on the API's side (no lowering here).

An argument of a differentiated function is one of:

* a **leaf**: a number (``int``/``float``/NumPy scalar, not ``bool``) or a NumPy
  array — what the emitted code takes as a parameter;
* a **tree**: a ``tuple``, ``list`` or ``dict`` (string keys) of trees and leaves,
  nested to any depth, as JAX and autograd take them;
* a **static** value: anything else hashable (``str``, ``None``, ``bool`` ...).
  The derivative is specialised on it, like JAX's ``static_argnums``.

:func:`treedef` describes an argument without its numbers: container types,
lengths, dict keys, and for each leaf whether it is a number or an array (the
emitted code is compiled once per treedef, so it is the cache key together
with the leaves' shape signature).  :func:`flatten` lists the leaves in a fixed
order (tuples and lists by position, dicts in their keys' insertion order, as
the treedef records them) and :func:`unflatten` puts values back in that
order: ``unflatten(treedef(t), flatten(t)) == t`` for every tree ``t``.
"""

from __future__ import annotations

import keyword

import numpy

__all__ = [
    "LEAF",
    "treedef",
    "flatten",
    "unflatten",
    "leaf_names",
    "is_leaf",
    "is_plain",
]

# The treedef of a leaf; the others are tuples tagged by their first item:
# ("tuple", children), ("list", children), ("dict", keys, children),
# ("static", value).
LEAF = ("leaf",)


def is_leaf(value) -> bool:
    """A number or an array: NumPy's, or another library's that NumPy's
    functions hand themselves to (a Dask array; ``bool`` is not a number
    here: it is static)."""
    if isinstance(value, bool) or isinstance(value, numpy.bool_):
        return False
    if isinstance(value, numpy.ndarray):
        return value.dtype != object
    if hasattr(value, "__array_function__") and hasattr(value, "shape"):
        return getattr(value, "dtype", None) != numpy.dtype(object)
    return isinstance(value, (int, float, numpy.integer, numpy.floating))


def is_plain(args) -> bool:
    """Whether every argument is a leaf: the derivative needs no tree wrapper."""
    return all(is_leaf(a) for a in args)


def treedef(value):
    """The structure of ``value`` without its numbers (hashable)."""
    if is_leaf(value):
        return LEAF
    if isinstance(value, (tuple, list)) and type(value) in (tuple, list):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return (kind, tuple(treedef(v) for v in value))
    if type(value) is dict:
        keys = tuple(value)
        if not all(isinstance(k, str) for k in keys):
            bad = next(k for k in keys if not isinstance(k, str))
            raise TypeError(
                f"dict keys of a parameter tree must be strings, got {bad!r}"
            )
        return ("dict", keys, tuple(treedef(value[k]) for k in keys))
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"cannot use a {type(value).__name__} as an argument: it is not a "
            "number, an array, a tuple/list/dict of those, or a hashable static value"
        ) from None
    # the type is part of the key: 1 == True, but a bool is static and 1 is not
    return ("static", type(value), value)


def same_keys(a, b) -> bool:
    """Whether treedefs ``a`` and ``b`` are equal up to the order of their dicts'
    keys: a tangent or cotangent matched to its primal by key (as JAX, whose
    dicts have sorted keys, matches them); :func:`flatten` with the primal's
    treedef then reads its leaves in the primal's order."""
    return _by_key(a) == _by_key(b)


def _by_key(tdef):
    if tdef == LEAF or tdef[0] == "static":
        return tdef
    if tdef[0] == "dict":
        pairs = sorted(zip(tdef[1], tdef[2]))
        return ("dict", tuple((k, _by_key(t)) for k, t in pairs))
    return (tdef[0], tuple(_by_key(t) for t in tdef[1]))


def call_key(value):
    """A cheap key that determines ``treedef(value)`` and the exact shape of
    every leaf: what a call is dispatched on before anything else (one pass,
    no flattening).  A static value is in it by value."""
    t = type(value)
    if t is float or t is int:
        return t
    if t is numpy.ndarray:
        return value.shape
    if t is tuple or t is list:
        return (t,) + tuple(call_key(v) for v in value)
    if t is dict:
        return (t, tuple(value)) + tuple(call_key(v) for v in value.values())
    if isinstance(value, (numpy.floating, numpy.integer)):
        return t
    if hasattr(value, "__array_function__") and hasattr(value, "shape"):
        return (t, value.shape)  # another library's array (Dask)
    return (t, value)


def is_static(tdef) -> bool:
    return tdef[0] == "static"


def children(tdef) -> tuple:
    """The treedefs of a container's items (empty for a leaf or a static)."""
    if tdef[0] in ("tuple", "list"):
        return tdef[1]
    if tdef[0] == "dict":
        return tdef[2]
    return ()


def flatten(value, tdef=None) -> list:
    """The leaves of ``value`` in treedef order (statics have none)."""
    tdef = treedef(value) if tdef is None else tdef
    if tdef == LEAF:
        return [value]
    if tdef[0] == "dict":
        items = [value[k] for k in tdef[1]]
    elif tdef[0] in ("tuple", "list"):
        items = list(value)
    else:
        return []
    return [leaf for v, t in zip(items, children(tdef)) for leaf in flatten(v, t)]


def count(tdef) -> int:
    """How many leaves a tree of this treedef has."""
    if tdef == LEAF:
        return 1
    return sum(count(t) for t in children(tdef))


def unflatten(tdef, leaves):
    """The tree of ``tdef`` with ``leaves`` (a sequence, consumed in order) at
    its leaves; a static gets ``None`` (it has no derivative)."""
    it = iter(leaves)

    def build(t):
        if t == LEAF:
            return next(it)
        if t[0] == "static":
            return None
        items = [build(c) for c in children(t)]
        if t[0] == "tuple":
            return tuple(items)
        if t[0] == "list":
            return items
        return dict(zip(t[1], items))

    return build(tdef)


def leaf_names(name: str, tdef) -> list[str]:
    """Readable, deterministic names of the leaves: ``params_0_1`` (item 1 of
    item 0), ``p_w`` (key ``"w"`` of a dict; a key that is not an identifier,
    or is a keyword, is named by its position)."""
    if tdef == LEAF:
        return [name]
    if tdef[0] == "dict":
        parts = [
            k if k.isidentifier() and not keyword.iskeyword(k) else str(i)
            for i, k in enumerate(tdef[1])
        ]
    else:
        parts = [str(i) for i in range(len(children(tdef)))]
    out: list[str] = []
    for part, t in zip(parts, children(tdef)):
        out += leaf_names(f"{name}_{part}", t)
    return out


def paths(expr: str, tdef) -> list[str]:
    """Python expressions reading each leaf from ``expr``: ``params[0][1]``, ``p['w']``."""
    if tdef == LEAF:
        return [expr]
    if tdef[0] == "dict":
        # str.__repr__: a key of a str subclass cannot spell its own text
        subs = [f"{expr}[{str.__repr__(k)}]" for k in tdef[1]]
    else:
        subs = [f"{expr}[{i}]" for i in range(len(children(tdef)))]
    return [p for s, t in zip(subs, children(tdef)) for p in paths(s, t)]


def _spelled(tdef, items: list[str]) -> str:
    """A container of ``tdef`` spelled in Python around its items' texts."""
    if tdef[0] == "tuple":
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if tdef[0] == "list":
        return "[" + ", ".join(items) + "]"
    pairs = (f"{str.__repr__(k)}: {v}" for k, v in zip(tdef[1], items))
    return "{" + ", ".join(pairs) + "}"


def rebuild_text(tdef, leaves: list[str]) -> str:
    """Python source building the tree of ``tdef`` from the expressions ``leaves``
    (a static argument's place gets ``None``)."""
    it = iter(leaves)

    def text(t) -> str:
        if t == LEAF:
            return next(it)
        if t[0] == "static":
            return "None"
        return _spelled(t, [text(c) for c in children(t)])

    return text(tdef)


def describe(tdef) -> str:
    """A short description for docstrings: ``[(leaf, leaf), (leaf, leaf)]``."""
    if tdef == LEAF:
        return "leaf"
    if tdef[0] == "static":
        return repr(tdef[2])
    return _spelled(tdef, [describe(c) for c in children(tdef)])
