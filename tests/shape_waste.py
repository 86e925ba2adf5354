"""What an emitted module computes only to learn a shape (``tests/test_no_recompute.py``).

:func:`waste` reads emitted source text (it never runs it) and lists, per
derivative function:

* a shape argument that is an expression: ``np.size(y * np.log(p))``,
  ``_like(g, y_1 * y_1)``, ``(a @ b).shape`` — the argument of ``np.shape``,
  ``np.size``, ``.shape``, the second of ``_like``/``_sum_to`` and the first of
  ``_unindex``/``_untake_along`` must be a name, a name's attribute or a
  subscript of a name (``x.shape[0]`` reads no data);
* a name bound by primal work (arithmetic, a NumPy call, ``_assign``'s copy)
  that nothing reads except as a shape argument: the work is done only for the
  shape, which the shapes of the parameters already give;
* a value taken from a tape (``for i, y_3 in reversed(tape)``) read only as a
  shape argument: a tape column, a copy per iteration, kept for a shape.
"""

from __future__ import annotations

import ast

# call -> the position of its argument that gives only a shape
SHAPE_ARGUMENT = {
    "np.size": 0,
    "np.shape": 0,
    "_like": 1,
    "_sum_to": 1,
    "_unindex": 0,
    "_untake_along": 0,
}
# calls that compute nothing from the data: a shape, a length, a broadcast
# view, an object of shapes, a reshaped view
FREE = {
    "np.shape",
    "np.size",
    "len",
    "np.broadcast",
    "np.broadcast_to",
    "np.reshape",
    "_like",
}


def _called(node) -> str | None:
    f = node.func if isinstance(node, ast.Call) else None
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f"{f.value.id}.{f.attr}"
    return None


def _simple(node) -> bool:
    """A name, a name's attribute, or a subscript of either (``x.shape[0]``),
    or what computes nothing from data (vector mode's view of ``x`` with k
    directions in front, ``np.broadcast_to(x, (k,) + np.shape(x))``)."""
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) or _free(node)


def _free(node) -> bool:
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    if isinstance(node, ast.UnaryOp):  # -1
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, (ast.Attribute, ast.Subscript)):
        return _free(node.value)
    if isinstance(node, ast.Tuple):
        return all(_free(e) for e in node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        # a tuple of sizes joined to a shape: (k,) + np.shape(x)
        joined = isinstance(node.left, ast.Tuple) or _called(node.left) == "np.shape"
        return joined and _free(node.left) and _free(node.right)
    if isinstance(node, ast.Call) and _called(node) in FREE:
        return all(_free(a) for a in node.args) and not node.keywords
    return False


def _shape_arguments(fn: ast.FunctionDef) -> list:
    """Every node that stands in a shape argument's place."""
    out = []
    for node in ast.walk(fn):
        name = _called(node)
        if name in SHAPE_ARGUMENT and len(node.args) > SHAPE_ARGUMENT[name]:
            out.append(node.args[SHAPE_ARGUMENT[name]])
        elif isinstance(node, ast.Attribute) and node.attr == "shape":
            out.append(node.value)
    return out


def _works(value) -> bool:
    """Whether computing ``value`` reads data: arithmetic, or a call that is not
    free (see :data:`FREE`)."""
    return not _free(value)


def _taped(fn: ast.FunctionDef) -> set[str]:
    """The names a reverse loop unpacks from a tape."""
    names = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.For) and _called(node.iter) == "reversed":
            source = node.iter.args[0] if node.iter.args else None
            if isinstance(source, ast.Subscript):  # reversed(tape_1[start:stop])
                source = source.value
            if isinstance(source, ast.Name) and source.id.startswith("tape"):
                targets = node.target.elts if isinstance(node.target, ast.Tuple) else []
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _read_for_shapes(fn: ast.FunctionDef, shape_args: list) -> set[str]:
    """The names read only as shape arguments, or only by the values of other
    such names (``v7 = v2 + v6`` read only by ``np.size(v7)``: v2, v6, v7)."""
    as_shape = {id(n) for n in shape_args if isinstance(n, ast.Name)}
    uses: dict[str, list] = {}  # name -> per read: None (a shape) or the reader

    def reads(node, owner):
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                uses.setdefault(n.id, []).append(None if id(n) in as_shape else owner)

    for stmt in ast.walk(fn):
        if isinstance(stmt, ast.Assign):
            target = stmt.targets[0] if len(stmt.targets) == 1 else None
            owner = target.id if isinstance(target, ast.Name) else ""
            reads(stmt.value, owner)
            for t in stmt.targets:
                if not isinstance(t, ast.Name):
                    reads(t, "")
        elif isinstance(stmt, (ast.AugAssign, ast.Return, ast.Expr)):
            reads(stmt, "")
        elif isinstance(stmt, (ast.For, ast.While, ast.If)):
            reads(stmt.iter if isinstance(stmt, ast.For) else stmt.test, "")
    only: set[str] = set()
    while True:
        more = {
            n
            for n, u in uses.items()
            if n not in only and all(o is None or o in only and o != n for o in u)
        }
        if not more:
            return only
        only |= more


def waste(source: str) -> list[str]:
    """The shapes ``source`` (an emitted module) computes or keeps data for."""
    found = []
    for fn in ast.parse(source).body:
        if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_"):
            continue
        shape_args = _shape_arguments(fn)
        for node in shape_args:
            if not _simple(node):
                found.append(f"{fn.name}: a shape from `{ast.unparse(node)}`")
        only_shape = _read_for_shapes(fn, shape_args)
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in only_shape
                and _works(node.value)
            ):
                name = node.targets[0].id
                found.append(
                    f"{fn.name}: `{name} = {ast.unparse(node.value)}` "
                    "is read only for its shape"
                )
        for name in sorted((_taped(fn) - _thin(fn)) & only_shape):
            found.append(f"{fn.name}: tape column `{name}` is read only for its shape")
    return found


def _thin(fn: ast.FunctionDef) -> set[str]:
    """The tape columns pushed as ``_like(0.0, v)``: an array of v's shape that
    holds no data (a zero-strided view of one number)."""
    pushed: dict[str, list] = {}  # tape -> the items of its push
    for node in ast.walk(fn):
        call = node.value if isinstance(node, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "append"
            and isinstance(call.func.value, ast.Name)
            and call.args
        ):
            item = call.args[0]
            pushed[call.func.value.id] = (
                item.elts if isinstance(item, ast.Tuple) else [item]
            )
    names = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.For) and _called(node.iter) == "reversed":
            source = node.iter.args[0] if node.iter.args else None
            if isinstance(source, ast.Subscript):
                source = source.value
            items = pushed.get(source.id, []) if isinstance(source, ast.Name) else []
            targets = node.target.elts if isinstance(node.target, ast.Tuple) else []
            for t, item in zip(targets, items):
                if (
                    isinstance(t, ast.Name)
                    and isinstance(item, ast.Call)
                    and _called(item) == "_like"
                    and isinstance(item.args[0], ast.Constant)
                ):
                    names.add(t.id)
    return names
