"""Rows for lists whose length is known only at run time (``xs.append(v)`` in a
loop over ``range(n)``, a ``while`` ...): values of the IR held in a real
Python list.

The model (see :mod:`ad_compiler.frontend.lower_runlists`): a run-time list is
an **append-only buffer** ``buf`` (a Python list) and a list *value* is a
prefix of it, ``buf[:n]``, with ``n`` an int of the IR.  Appending never
changes an existing prefix, so every value a loop records for its reverse
sweep (the length ``n`` is carried by the loop, so recorded) stays valid
while later iterations append.  Reads index the prefix (``xs[-1]`` is
``buf[n - 1]``); a read outside every loop (``whole``) is spelled on the
buffer itself, which is then exactly the list (``np.stack(outputs)``).

Every row is an ``effect``: never merged with another, folded, or moved
past an append (a read of a buffer is a read of mutable state).  Their
derivatives are the list's items' (``ad/lists.py`` applies them):

* tangent: a list of tangents built alongside (``outputs_dot.append(h_dot)``);
  each read of ``xs`` is the same read of ``xs_dot``;
* adjoint: a list of adjoints ``xs_bar``, made as zeros shaped like the items
  (``[np.zeros_like(v) for v in xs]``) when the reverse sweep reaches the end
  of the block that made ``xs``; a read ``y = xs[i]`` adds ``ȳ`` into
  ``xs_bar[i]``; ``np.stack`` adds each row of ``ȳ``, ``sum`` adds ``ȳ`` to
  each item; the adjoint of ``xs.append(v)`` at position ``n`` is
  ``v̄ = xs_bar[n]``, of the initial items ``[a, b]`` ``xs_bar[0]``, ``xs_bar[1]``.

All of these are O(1) per item (O(rows) for a stack), so the work of either
sweep is linear in the number of appends.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir import shapes
from ad_compiler.primitives.registry import (
    HELPERS,
    PREC_ATOM,
    Primitive,
    register,
)

# the rows, by what they do
MAKERS = frozenset({"list_new", "list_zeros", "list_rows"})  # bind a new buffer
# add into (mutate) their first input: an effect without outputs
MUTATORS = frozenset(
    {"list_append", "list_add_at", "list_add_rows", "list_add_all", "list_add_pieces"}
)
READERS = frozenset({"list_get", "list_stack", "list_sum", "list_concat"})
LIST_ROWS = MAKERS | MUTATORS | READERS


def _prefix(buf: str, n: str, p) -> str:
    """The list value: the whole buffer outside loops, else its first n items."""
    return buf if p.get("whole") else f"{buf}[:{n}]"


def _render_new(params, texts, atoms):
    return f"[{', '.join(texts)}]", PREC_ATOM


def _render_append(params, texts, atoms):
    buf, v, _n = texts
    return f"{atoms[0]}.append({v})", PREC_ATOM


def _render_get(params, texts, atoms):
    return f"{atoms[0]}[{texts[1]}]", PREC_ATOM


def _lead(params) -> str:
    return ", axis=1" if params.get("lead") else ""


def _render_stack(params, texts, atoms):
    return f"np.stack({_prefix(atoms[0], texts[1], params)}{_lead(params)})", PREC_ATOM


def _render_concat(params, texts, atoms):
    text = _prefix(atoms[0], texts[1], params)
    return f"np.concatenate({text}{_lead(params)})", PREC_ATOM


def _render_sum(params, texts, atoms):
    return f"sum({_prefix(atoms[0], texts[1], params)})", PREC_ATOM


def _render_zeros(params, texts, atoms):
    if len(texts) == 2:  # with a leading axis of k directions
        return f"[np.zeros(({texts[1]},) + np.shape(v)) for v in {atoms[0]}]", PREC_ATOM
    return f"[np.zeros_like(v) for v in {atoms[0]}]", PREC_ATOM


def _render_add_at(params, texts, atoms):
    slot = f"{atoms[0]}[{texts[1]}]"  # (not +=: a number slot may get directions)
    return f"{slot} = {slot} + {texts[2]}", PREC_ATOM


def _render_add_rows(params, texts, atoms):
    rows = texts[1] if not params.get("lead") else f"np.swapaxes({texts[1]}, 0, 1)"
    return f"_add_rows({texts[0]}, {rows})", PREC_ATOM


def _render_add_all(params, texts, atoms):
    return f"_add_to_each({texts[0]}, {texts[1]}, {texts[2]})", PREC_ATOM


def _render_add_pieces(params, texts, atoms):
    axis = 1 if params.get("lead") else 0
    item_axis = 1 if params.get("lead_items") else 0
    bar, g, buf, n = texts
    return f"_add_pieces({bar}, {g}, {buf}, {n}, {axis}, {item_axis})", PREC_ATOM


HELPERS["_add_rows"] = '''
def _add_rows(xs_bar, rows):
    """The adjoint of np.stack(xs): row k of its adjoint is added to xs_bar[k]."""
    for k, row in enumerate(rows):
        xs_bar[k] = xs_bar[k] + row
'''

HELPERS["_rows_of"] = '''
def _rows_of(g, xs):
    """The adjoints of xs's items after np.stack(xs[:n]) got the adjoint g: the
    rows of g (views), then zeros for the items not stacked."""
    rows = list(g)
    rows += [np.zeros_like(v) for v in xs[len(rows) :]]
    return rows
'''

HELPERS["_add_to_each"] = '''
def _add_to_each(xs_bar, g, n):
    """The adjoint of sum(xs[:n]): g is added to each of the first n adjoints."""
    for k in range(n):
        xs_bar[k] = xs_bar[k] + g
'''

HELPERS["_add_pieces"] = '''
def _add_pieces(xs_bar, g, xs, n, axis, item_axis):
    """The adjoint of np.concatenate(xs[:n]): g cut back into the items' pieces
    (along axis 1 of g, and of the items, where they carry directions)."""
    start = 0
    for k in range(n):
        stop = start + np.shape(xs[k])[item_axis]
        xs_bar[k] = xs_bar[k] + (g[start:stop] if axis == 0 else g[:, start:stop])
        start = stop
'''


def _add_rows(xs_bar, rows):
    for k, row in enumerate(rows):
        xs_bar[k] = xs_bar[k] + row


def _rows_of(g, xs):
    import numpy

    rows = list(g)
    rows += [numpy.zeros_like(v) for v in xs[len(rows) :]]
    return rows


def _add_to_each(xs_bar, g, n):
    for k in range(n):
        xs_bar[k] = xs_bar[k] + g


def _add_pieces(xs_bar, g, xs, n, axis=0, item_axis=0):
    import numpy

    start = 0
    for k in range(n):
        stop = start + numpy.shape(xs[k])[item_axis]
        xs_bar[k] = xs_bar[k] + (g[start:stop] if axis == 0 else g[:, start:stop])
        start = stop


def _items(p, buf, n):
    return buf if p.get("whole") else buf[:n]


def _add_at(xs, i, g):
    xs[i] = xs[i] + g


def _item_shape(shape):
    if shape == shapes.SCALAR:  # code compiled for numbers: lists of numbers
        return shapes.SCALAR
    if not isinstance(shape, shapes.ListOf) or shape.item == shapes.UNSEEN:
        return None
    return shape.item


def _stacked(p, buf, n, loc=None):
    item = _item_shape(buf)
    return None if item in (None, shapes.TUPLE) else (shapes.ANY,) + item


def _concatenated(p, buf, n, loc=None):
    item = _item_shape(buf)
    if item in (None, shapes.TUPLE) or not item:
        return None
    return (shapes.ANY,) + item[1:]


def _zeros_shape(p, buf, *k, loc=None):
    item = _item_shape(buf)
    if not k:
        return buf
    return shapes.ListOf(None if item is None else (shapes.ANY,) + item)


def _new_shape(p, *items, loc=None):
    item = items[0] if items else shapes.UNSEEN
    for other in items[1:]:
        item = shapes.join(item, other)
    return shapes.ListOf(item)


def _evaluate_zeros(buf, k=None):
    import numpy

    if k is None:
        return [numpy.zeros_like(v) for v in buf]
    return [numpy.zeros((k,) + numpy.shape(v)) for v in buf]


def _evaluate_new(*items):
    return list(items)


def _evaluate_append(buf, v, n):
    buf.append(v)


def _tangent(prim):
    """A read of a list: the same read of the list of tangents."""

    def jvp(b, p, out, *args):
        half = len(args) // 2
        ins, dins = args[:half], args[half:]
        if dins[0] is None:
            return None
        return b.apply(prim, dins[0], *ins[1:], **p)

    return jvp


def _no_vjp(*args):  # (applied by ad/lists.py: an adjoint list is changed in place)
    raise AssertionError("the adjoints of list rows are applied by ad/lists.py")


def _batch(bt, e, p, *ins) -> None:
    """Vector mode: the items of a list with directions carry the direction
    axis (an item without them is broadcast to have it where it joins such a
    list); reads are oblivious to it, except that a stack or concatenation of
    the items is along their axis 1 and the adjoint's rows are cut along it."""
    lifted = lambda a: a if bt.has(a) else bt.materialize(a, bt.rank(a))  # noqa: E731
    if e.prim == "list_new" and bt.has(e.out):
        e = replace(e, ins=tuple(lifted(a) for a in ins))
    elif e.prim == "list_append" and bt.has(ins[0]):
        e = replace(e, ins=(ins[0], lifted(ins[1]), ins[2]))
    elif e.prim == "list_zeros" and bt.has(e.out) and not bt.has(ins[0]):
        e = replace(e, ins=(ins[0], bt.k))  # zeros with the direction axis
    elif e.prim in ("list_stack", "list_concat") and bt.has(ins[0]):
        e = replace(e, params=tuple(sorted({**p, "lead": True}.items())))
    elif e.prim in ("list_add_rows", "list_add_pieces") and bt.has(ins[1]):
        lead = {"lead": True}
        if e.prim == "list_add_pieces" and bt.has(ins[2]):
            lead["lead_items"] = True
        e = replace(e, params=tuple(sorted({**p, **lead}.items())))
    bt.out.append(e)


def _joined(name, np_name, render, shape):
    """np.stack / np.concatenate of the list's items (along axis 1 with
    directions, ``lead``)."""

    def evaluate(buf, n, whole=False, lead=False):
        import numpy

        items = _items({"whole": whole}, buf, n)
        return getattr(numpy, np_name)(items, axis=1 if lead else 0)

    return _row(name, 2, evaluate, render, shape, jvp=_tangent(name))


def _row(name, arity, evaluate, render, shape=None, **fields):
    return Primitive(
        name,
        arity,
        evaluate,
        effect=True,
        render=render,
        render_module="np",
        statement=True,
        shape=shape,
        jvp=fields.pop("jvp", None),
        vjp=_no_vjp,
        batch=_batch,
        **fields,
    )


register(
    # [a, b]: a new buffer holding the initial items (params: none)
    _row("list_new", -1, _evaluate_new, _render_new, _new_shape),
    # buf.append(v); its third input is the length before (the adjoint's index)
    _row("list_append", 3, _evaluate_append, _render_append),
    # buf[i] (i already made non-negative: buf[n - 1] for xs[-1], n the length then)
    _row(
        "list_get",
        2,
        lambda buf, i: buf[i],
        _render_get,
        lambda p, buf, i, loc=None: _item_shape(buf),
        memory="view",  # (the item itself)
        jvp=_tangent("list_get"),
    ),
    # np.stack / sum / np.concatenate of buf[:n] (params: whole, lead)
    _joined("list_stack", "stack", _render_stack, _stacked),
    _row(
        "list_sum",
        2,
        lambda buf, n, whole=False, lead=False: sum(_items({"whole": whole}, buf, n)),
        _render_sum,
        lambda p, buf, n, loc=None: _item_shape(buf),
        jvp=_tangent("list_sum"),
    ),
    _joined("list_concat", "concatenate", _render_concat, _concatenated),
    # the adjoint list: zeros shaped like each item of buf
    _row(
        "list_zeros",
        -1,
        _evaluate_zeros,
        _render_zeros,
        _zeros_shape,
    ),
    # a fresh adjoint list whose first add is a stack's adjoint g: g's rows (views),
    # zeros after them (made only by backend/list_rows.py, in emitted form)
    _row(
        "list_rows",
        2,
        _rows_of,
        lambda params, texts, atoms: (f"_rows_of({texts[0]}, {atoms[1]})", PREC_ATOM),
        lambda p, g, buf, loc=None: buf,
        helper="_rows_of",
    ),
    # the adjoints, added in place into the list: xs_bar[i] = xs_bar[i] + g; rows; each; pieces
    _row("list_add_at", 3, _add_at, _render_add_at),
    _row(
        "list_add_rows",
        2,
        lambda bar, g, lead=False: _add_rows(bar, g if not lead else g.swapaxes(0, 1)),
        _render_add_rows,
        helper="_add_rows",
    ),
    _row(
        "list_add_all",
        3,
        lambda bar, g, n, lead=False: _add_to_each(bar, g, n),
        _render_add_all,
        helper="_add_to_each",
    ),
    _row(
        "list_add_pieces",
        4,
        lambda bar, g, buf, n, lead=False, lead_items=False: _add_pieces(
            bar, g, buf, n, 1 if lead else 0, 1 if lead_items else 0
        ),
        _render_add_pieces,
        helper="_add_pieces",
    ),
)
