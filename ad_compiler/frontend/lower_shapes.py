"""Lowering of sizes and other integers: ``n, d = X.shape``, ``X.ndim``,
``divmod``, and static settings (``axis=``) given through the user's names.

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.  Sizes have no
derivative: ``X.shape``, ``len(X)``, ``X.size`` and ``X.ndim`` are
``shape``/``len``/``size`` equations whose adjoints and tangents are zero, so
integer arithmetic on them (``n // 2``, ``2 * d``) is arithmetic on constants
of the derivative.

* ``n, d = X.shape`` (or ``s = X.shape; n, d = s``) binds each name to an item
  of the shape, ``n = s[0]``, ``d = s[1]``.  Python raises ``ValueError`` when
  ``X`` has another number of axes; the derivative refuses it instead, when its
  array shapes are known (:func:`ad_compiler.ir.shape_infer.infer` checks the
  rank recorded in ``Function.hazards``).
* ``divmod(a, b)`` is the tuple ``(a // b, a % b)``: Python defines it so for
  ints and floats, and NumPy's ``divmod`` of arrays is
  ``(np.floor_divide, np.remainder)``, the same pair.
* A static setting (``axis``, ``keepdims``, ``ord`` ...) may be a literal, a
  module-level constant, or a name bound to one: the parameter of an inlined
  helper given a literal (``red(x, 0)``, ``red(x, axis=1)``) or its default
  (``def red(a, axis=-1)``).  It is decided when the derivative is compiled.
"""

from __future__ import annotations

import ast

from ad_compiler.frontend.lower_values import TupleValue
from ad_compiler.ir.nodes import Const, Eqn, Var
from ad_compiler.ir.shapes import TUPLE


class ShapeLowering:
    """The size and integer parts of lowering (mixed into Lowerer)."""

    # --- n, d = X.shape --------------------------------------------------------------
    def shape_of(self, node: ast.AST, x):
        """``x.shape``, remembered as the shape of ``x`` so that unpacking it can
        check the number of axes."""
        with self.b.at(self.src.loc(node)):
            out = self.b.apply("shape", x)
        if isinstance(out, Var) and isinstance(x, Var):
            text = ast.unparse(node.value) if isinstance(node, ast.Attribute) else None
            self.shapes_taken[out.name] = (x, text or x.name)
        return out

    def unpack_shape(self, target: ast.Tuple | ast.List, value):
        """``n, d = s`` for ``s`` a shape: ``n = s[0]``, ``d = s[1]``; None when
        ``value`` is not a shape (the caller reports that)."""
        if not isinstance(value, Var) or self.b.shape(value) != TUPLE:
            return None
        array, text = self.shapes_taken.get(value.name, (None, None))
        for eqn in self.b.eqns:  # `s = X.shape` renamed the value X.shape gave
            if isinstance(eqn, Eqn) and eqn.prim == "shape" and eqn.outs == (value,):
                array = eqn.ins[0]
                texts = [t for a, t in self.shapes_taken.values() if a == array]
                text = texts[-1] if texts else getattr(array, "name", None)
        count = len(target.elts)
        loc = self.src.loc(target)
        if isinstance(array, Var):
            error = self.error_at(
                target,
                f"cannot unpack the shape of `{text}` into {count} names: "
                "it has another number of axes",
                f"unpack as many names as it has axes, or index the shape: "
                f"`{text}.shape[0]`",
            )
            self.hazards.append((array.name, error, count))
        items = []
        with self.b.at(loc):
            for k in range(count):
                items.append(self.b.apply("getitem", value, Const(k), index=("a",)))
        return TupleValue(tuple(items))

    def ndim(self, node: ast.AST, x):
        """``x.ndim`` = ``len(x.shape)`` (no derivative, like every size)."""
        shape = self.shape_of(node, x)
        with self.b.at(self.src.loc(node)):
            return self.b.apply("len", shape)

    # --- divmod ------------------------------------------------------------------------
    def divmod(self, node: ast.Call, callee: str):
        """``divmod(a, b)`` = ``(a // b, a % b)``, both differentiated as the
        ``floordiv`` and ``mod`` rows are (``a % b`` has slope 1 in ``a`` and
        ``-(a // b)`` in ``b``; ``a // b`` is flat)."""
        self.plain_arguments(node, callee)
        self.arity(node, callee, node.args, 2)
        a, b = (self.atom(arg) for arg in node.args)
        with self.b.at(self.src.loc(node)):
            return TupleValue(
                (self.b.apply("floordiv", a, b), self.b.apply("mod", a, b))
            )

    # --- static settings through names -----------------------------------------------
    def static_name(self, node: ast.expr):
        """The compile-time value of a name (or a tuple of names) used as a static
        setting, or ``_NOT_STATIC``: a local bound to a constant (an inlined
        helper's parameter given a literal, or its default) or a module constant."""
        if isinstance(node, ast.Tuple):
            values = [self.static_name(e) for e in node.elts]
            return _NOT_STATIC if _NOT_STATIC in values else tuple(values)
        if not isinstance(node, ast.Name):
            return _NOT_STATIC
        value = self.name(node, node.id)
        return _constant(value)


class _NotStatic:
    def __repr__(self) -> str:
        return "<not static>"


_NOT_STATIC = _NotStatic()


def _constant(value):
    """The Python value of a constant (or a tuple of constants), else _NOT_STATIC."""
    if isinstance(value, TupleValue):
        items = [_constant(v) for v in value.items]
        return _NOT_STATIC if _NOT_STATIC in items else tuple(items)
    if isinstance(value, Const):
        return value.value
    if hasattr(value, "value") and value.value is None:  # a static None (if any)
        return None
    return _NOT_STATIC
