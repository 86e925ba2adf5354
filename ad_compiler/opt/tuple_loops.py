"""Loops over a tuple of arrays, unrolled before array code is differentiated.

``for W in (W1, W2): x = np.tanh(x @ W)`` is lowered to a ``range`` loop whose
item is picked by ``select``s (``W = W1 if k == 0 else W2``), which keeps scalar
code a loop.  With arrays of different shapes that loop is not one computation
repeated: ``x`` changes shape from one iteration to the next, and in reverse mode
the adjoint of the picked item would be added to every item's adjoint.  A person
writes such a loop out by hand; so does :func:`unroll_item_loops`, once the
shapes are known to be arrays: each iteration becomes straight-line code with
its own names, the index a constant, so the ``select``s fold away and every
value keeps one static shape.

Guarantees: the result computes the same values as the loop (the body is
copied once per item, in order, with the carried values threaded through);
single assignment holds (every name the body binds gets a fresh name per copy);
loops with a ``break`` (or a ``return`` inside) are left as they are.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.ir.nodes import (
    _TEMP,
    Const,
    For,
    Function,
    If,
    Namer,
    Var,
    While,
    base_name,
    defined_names,
    map_atoms,
    verify,
)


def unroll_item_loops(fn: Function) -> Function:
    """``fn`` with every loop over a tuple's items (``For.items``) unrolled."""
    if not _has_item_loop(fn.body):
        return fn
    unroller = _Unroller(Namer.for_function(fn))
    body = unroller.block(fn.body)
    results = tuple(unroller.final(a) for a in fn.results)
    return verify(replace(fn, body=body, results=results))


def _has_item_loop(stmts) -> bool:
    for s in stmts:
        if isinstance(s, For) and s.items:
            return True
        if isinstance(s, If) and (_has_item_loop(s.then) or _has_item_loop(s.orelse)):
            return True
        if isinstance(s, (For, While)) and _has_item_loop(s.test + s.body):
            return True
    return False


def _constant_range(s: For) -> range | None:
    values = [a.value if isinstance(a, Const) else None for a in s.args]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return range(*values) if values[2] else None


class _Unroller:
    """Unrolls item loops, innermost first.  An unrolled loop's carried values
    no longer exist: ``finals`` maps each to its value after the last copy, and
    every statement is rewritten through it once its blocks are done (a value
    bound in a block is seen outside only through its statement's fields)."""

    def __init__(self, namer: Namer):
        self.namer = namer
        self.finals: dict[str, object] = {}

    def final(self, a):
        while isinstance(a, Var) and a.name in self.finals:
            a = self.finals[a.name]
        return a

    def block(self, stmts) -> tuple:
        out = []
        for s in stmts:
            if isinstance(s, If):
                s = replace(s, then=self.block(s.then), orelse=self.block(s.orelse))
            elif isinstance(s, While):
                s = replace(s, test=self.block(s.test), body=self.block(s.body))
            elif isinstance(s, For):
                s = replace(s, body=self.block(s.body))
            s = map_atoms((s,), self.final)[0]
            if isinstance(s, For) and s.items and s.brk is None and _constant_range(s):
                out.extend(self.unrolled(s))
            else:
                out.append(s)
        return tuple(out)

    def unrolled(self, s: For) -> list:
        """The body once per item, in order, the carried values threaded through."""
        bound = defined_names(s.body)
        current = list(s.inits)
        out = []
        for j in _constant_range(s):
            renames = {v.name: c for v, c in zip(s.carried, current)}
            renames[s.index[0].name] = Const(j)
            for name in sorted(bound):  # x_2 -> x_3, x_4 ...; v5 -> a new temporary
                temp = _TEMP.match(name)
                renames[name] = (
                    self.namer.temp() if temp else self.namer.fresh(base_name(name))
                )

            def sub(a, renames=renames):
                return renames.get(a.name, a) if isinstance(a, Var) else a

            out.extend(map_atoms(s.body, sub, rename_outs=True))
            current = [sub(a) for a in s.nexts]
        for v, c in zip(s.carried, current):
            self.finals[v.name] = c
        return out
