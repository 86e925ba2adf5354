"""Lowering of NumPy's shape and construction functions, and of ``np.einsum``.

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.  A function is lowered
once, before the shapes of its arguments are known (the API learns them per
call), so what depends on the operands' ranks is a row:
:mod:`ad_compiler.primitives.composites` (``hstack``, ``cross``, ``kron`` ...,
differentiated as their expansion once the ranks are known) or
:mod:`ad_compiler.primitives.construct` (``roll``, ``tile``, ``pad`` ...).
What does not is written here with existing rows:

* ``split``/``array_split``: slices along the axis, their bounds computed from
  ``x.shape`` when the function runs; ``take``: an index (of the flattened
  array without an axis); ``flip`` with an axis, ``fliplr``, ``flipud``: ``::-1``;
* ``ravel``/``flatten``: ``reshape(x, -1)`` (a copy for ``flatten``);
  ``vdot``: ``dot`` of the flattened operands;
* ``meshgrid``: each vector along its own axis, ``broadcast_to`` the grid (a copy);
* ``identity(n)``: ``eye(n)``; ``linspace`` of numbers: NumPy's constant; of
  values: ``start + arange(num) * step``, differentiable in its ends;
* ``asarray`` of a list: ``np.array``'s stacking; of an array: the array;
* ``einsum``: normalised (:func:`~ad_compiler.primitives.composites.contract`)
  to the two-operand row or ``einsum_n``; with ``...`` the row ``einsum_any``.

Static settings (axes, counts, widths, an einsum spec) must be literals.
"""

from __future__ import annotations

import ast

from ad_compiler.frontend.lower_values import RunList, TupleValue
from ad_compiler.ir.nodes import Const
from ad_compiler.primitives.arrays import along
from ad_compiler.primitives.composites import contract

# the NumPy functions lowered here that no row lists: what each becomes, and
# its derivative where it is not smooth (for the generated table of functions)
_LINEAR = "linear: smooth everywhere"
COMPOSED_NOTES: dict[str, tuple[str, str]] = {
    "numpy.ravel": ("np.reshape(x, (-1,)) (reshape)", _LINEAR),
    "numpy.flip": ("x[::-1] along each axis (getitem); all axes: flip_all", _LINEAR),
    "numpy.fliplr": ("x[:, ::-1] (getitem)", _LINEAR),
    "numpy.flipud": ("x[::-1] (getitem)", _LINEAR),
    "numpy.split": ("slices along the axis, bounds from x.shape (getitem)", _LINEAR),
    "numpy.array_split": ("slices, the first len % k one longer (getitem)", _LINEAR),
    "numpy.vdot": ("np.dot of the flattened operands (reshape, dot)", "bilinear"),
    "numpy.take": ("an index along the axis (getitem)", "linear in the array"),
    "numpy.meshgrid": ("each vector np.broadcast_to the grid, copied", _LINEAR),
    "numpy.asarray": ("of a list: as np.array; of an array: the array", _LINEAR),
    "numpy.linspace": (
        "of numbers: a constant; else start + np.arange(num) * step",
        "linear in start and stop",
    ),
    "numpy.identity": ("np.eye(n) (construct)", "a constant: none"),
}
COMPOSED = frozenset(q.removeprefix("numpy.") for q in COMPOSED_NOTES)
# the rows (by function name) whose arguments are read here
_ROW_CALLS = frozenset(
    {"hstack", "vstack", "column_stack", "dstack", "atleast_1d", "atleast_2d"}
    | {"atleast_3d", "moveaxis", "swapaxes", "diag", "diagonal", "cross", "inner"}
    | {"tensordot", "kron", "roll", "triu", "tril", "tile", "repeat", "pad"}
    | {"broadcast_to", "take_along_axis", "einsum", "bincount"}
)
LIBRARY = COMPOSED | _ROW_CALLS
LIBRARY_METHODS = frozenset({"ravel", "flatten", "diagonal", "swapaxes", "repeat"})

_FLIPPED = ("s", False, False, True)  # the index item `::-1` (its step an input)


def _axes(value) -> tuple:
    return (value,) if isinstance(value, int) else tuple(value)


class LibraryLowering:
    """NumPy's shape and construction functions (mixed into Lowerer)."""

    # --- arguments -------------------------------------------------------------------
    def bound_arguments(self, node: ast.Call, callee: str, names, required=1) -> dict:
        """The call's arguments by parameter name (NumPy's names), as syntax."""
        for a in node.args:
            if isinstance(a, ast.Starred):
                self.unsupported(a)
        if len(node.args) > len(names):
            self.error(node, f"`{callee}` takes at most {len(names)} arguments here")
        out = dict(zip(names, node.args))
        for kw in node.keywords:
            if kw.arg not in names:
                self.error(
                    kw if kw.arg else node,
                    f"keyword argument `{kw.arg}` to `{callee}` is not supported",
                )
            if kw.arg in out:
                self.error(kw, f"`{kw.arg}` given twice")
            out[kw.arg] = kw.value
        for name in names[:required]:
            if name not in out:
                self.error(node, f"`{callee}` needs its argument `{name}`")
        return out

    def literal(self, args: dict, name: str, default, kinds=(int,)):
        """A static argument: a literal (or a name bound to one) of ``kinds``,
        or a tuple (of tuples) of them; ``default`` when it is not given."""
        node = args.get(name)
        if node is None:
            return default
        try:
            value = ast.literal_eval(node)
        except ValueError:
            value = self.static_name(node)
        if isinstance(value, list):
            value = tuple(value)

        def ok(v):
            if isinstance(v, (tuple, list)):
                return all(ok(i) for i in v)
            return isinstance(v, kinds) and not (
                isinstance(v, bool) and bool not in kinds
            )

        if not (ok(value) or (value is None and default is None)):
            self.error(
                node,
                f"`{name}` must be a literal here",
                "it is decided when the derivative is compiled: write the value, "
                "or a module-level constant",
            )
        return (
            tuple(tuple(v) if isinstance(v, list) else v for v in value)
            if isinstance(value, tuple)
            else value
        )

    # --- dispatch ------------------------------------------------------------------------
    def library_function(self, node: ast.Call, name: str, callee: str):
        """Lower ``np.<name>(...)`` for ``name`` in :data:`LIBRARY`."""
        with self.b.at(self.src.loc(node), "np"):
            return getattr(self, "lib_" + name)(node, callee)

    def library_method(self, node: ast.Call, attr: ast.Attribute):
        """``x.ravel()``, ``x.flatten()``, ``x.diagonal()``, ``x.swapaxes(i, j)``,
        ``x.repeat(r, axis)``: the function of ``x`` and the arguments."""
        call = ast.Call(
            func=attr, args=[attr.value] + node.args, keywords=node.keywords
        )
        ast.copy_location(call, node)
        name = "ravel" if attr.attr == "flatten" else attr.attr
        with self.b.at(self.src.loc(node), "np"):
            value = getattr(self, "lib_" + name)(call, f".{attr.attr}")
            if attr.attr == "flatten":  # a copy, as NumPy's
                value = self.b.apply("copy", value)
            return value

    def _operands(self, node, callee, names, required, row, **statics):
        """``row`` of the first ``required`` arguments, the others static."""
        args = self.bound_arguments(node, callee, names, required)
        xs = [self.atom(args[n]) for n in names[:required]]
        params = {k: self.literal(args, k, *spec) for k, spec in statics.items()}
        return self.b.apply(
            row, *xs, **{k: v for k, v in params.items() if v is not None}
        )

    # --- rows of composites.py ------------------------------------------------------------
    def _stacked(self, node, callee, row):
        self.bound_arguments(node, callee, ("tup",))
        xs = self.list_operands(node, callee)
        if isinstance(xs, RunList):
            self.error(
                node,
                f"`{callee}` of a list whose length is known only at run time "
                "is not supported",
                "use np.stack or np.concatenate (with axis=) on it",
            )
        return self.b.apply(row, *xs)

    def lib_hstack(self, node, callee):
        return self._stacked(node, callee, "hstack")

    def lib_vstack(self, node, callee):
        return self._stacked(node, callee, "vstack")

    def lib_column_stack(self, node, callee):
        return self._stacked(node, callee, "column_stack")

    def lib_dstack(self, node, callee):
        return self._stacked(node, callee, "dstack")

    def _atleast(self, node, callee, n):
        if node.keywords or not node.args:
            self.error(node, f"`{callee}` takes arrays, and no keywords")
        out = [self.b.apply(f"atleast_{n}d", self.atom(a)) for a in node.args]
        return out[0] if len(out) == 1 else TupleValue(tuple(out))

    def lib_atleast_1d(self, node, callee):
        return self._atleast(node, callee, 1)

    def lib_atleast_2d(self, node, callee):
        return self._atleast(node, callee, 2)

    def lib_atleast_3d(self, node, callee):
        return self._atleast(node, callee, 3)

    def lib_moveaxis(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "source", "destination"), 3)
        source = _axes(self.literal(args, "source", 0))
        destination = _axes(self.literal(args, "destination", 0))
        if len(source) != len(destination):
            self.error(node, "`source` and `destination` must name as many axes")
        x = self.atom(args["a"])
        return self.b.apply("moveaxis", x, source=source, destination=destination)

    def lib_swapaxes(self, node, callee):
        return self._operands(
            node, callee, ("a", "axis1", "axis2"), 1, "swapaxes", axis1=(0,), axis2=(0,)
        )

    def lib_diag(self, node, callee):
        return self._operands(node, callee, ("v", "k"), 1, "diag", k=(0,))

    def lib_diagonal(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "offset", "axis1", "axis2"))
        if self.literal(args, "axis1", 0) != 0 or self.literal(args, "axis2", 1) != 1:
            self.error(
                node,
                f"`axis1`/`axis2` in `{callee}` are not supported",
                "move the two axes to the front first (np.moveaxis)",
            )
        offset = self.literal(args, "offset", 0)
        return self.b.apply("diagonal", self.atom(args["a"]), offset=offset)

    def lib_cross(self, node, callee):
        return self._operands(node, callee, ("a", "b", "axis"), 2, "cross", axis=(-1,))

    def lib_inner(self, node, callee):
        return self._operands(node, callee, ("a", "b"), 2, "inner")

    def lib_tensordot(self, node, callee):
        return self._operands(
            node, callee, ("a", "b", "axes"), 2, "tensordot", axes=(2,)
        )

    def lib_kron(self, node, callee):
        return self._operands(node, callee, ("a", "b"), 2, "kron")

    def lib_tile(self, node, callee):
        args = self.bound_arguments(node, callee, ("A", "reps"), 2)
        reps = _axes(self.literal(args, "reps", 1))
        return self.b.apply("tile_any", self.atom(args["A"]), reps=reps)

    # --- rows of construct.py -------------------------------------------------------------
    def lib_roll(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "shift", "axis"), 2)
        x = self.atom(args["a"])
        shift = self.literal(args, "shift", 0)
        axis = self.literal(args, "axis", None)
        if axis is not None:
            if isinstance(shift, tuple) != isinstance(axis, tuple):
                shift, axis = _axes(shift), _axes(axis)
                shift = shift * len(axis) if len(shift) == 1 else shift
            return self.b.apply("roll", x, shift=shift, axis=axis)
        if not isinstance(shift, int):
            self.error(node, f"`{callee}` without an axis takes one shift")
        # no axis: the flattened array rolled, and given its shape back
        flat = self.b.apply("roll", self.b.apply("reshape", x, -1), shift=shift, axis=0)
        return self.b.apply("reshape", flat, self.b.apply("shape", x), packed=True)

    def lib_triu(self, node, callee):
        return self._operands(node, callee, ("m", "k"), 1, "triu", k=(0,))

    def lib_tril(self, node, callee):
        return self._operands(node, callee, ("m", "k"), 1, "tril", k=(0,))

    def lib_repeat(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "repeats", "axis"), 2)
        x = self.atom(args["a"])
        repeats = self.literal(args, "repeats", 1)
        if not isinstance(repeats, int) or repeats < 0:
            self.error(
                node,
                f"`{callee}` is supported with one count for every element",
                "repeat each piece separately and join them with np.concatenate",
            )
        axis = self.literal(args, "axis", None)
        if axis is None:  # NumPy repeats the flattened array
            x, axis = self.b.apply("reshape", x, -1), 0
        return self.b.apply("repeat", x, repeats=repeats, axis=axis)

    def lib_pad(self, node, callee):
        names = ("array", "pad_width", "mode", "constant_values")
        args = self.bound_arguments(node, callee, names, 2)
        if self.literal(args, "mode", "constant", kinds=(str,)) != "constant":
            self.error(node, f"`{callee}` is supported with mode='constant'")
        if self.literal(args, "constant_values", 0, kinds=(int, float)) != 0:
            self.error(
                node,
                "padding with other than zeros is not supported",
                "pad with zeros, then add the constant times a padded mask",
            )
        width = self.literal(args, "pad_width", 0)
        return self.b.apply("pad", self.atom(args["array"]), widths=width)

    def lib_broadcast_to(self, node, callee):
        args = self.bound_arguments(node, callee, ("array", "shape"), 2)
        x = self.atom(args["array"])
        shape = args["shape"]
        if isinstance(shape, ast.Tuple):
            dims = [self.atom(d) for d in shape.elts]
        else:
            value = self.expr(shape)
            if not isinstance(value, TupleValue):
                if self.b.shape(value) == "tuple":  # A.shape: one value
                    return self.b.apply("broadcast_to", x, value, packed=True)
                value = TupleValue((value,))
            dims = list(value.items)
        return self.b.apply("broadcast_to", x, *dims)

    def lib_take_along_axis(self, node, callee):
        args = self.bound_arguments(node, callee, ("arr", "indices", "axis"), 3)
        x, i = self.atom(args["arr"]), self.atom(args["indices"])
        axis = self.literal(args, "axis", None)
        if axis is None:
            x, axis = self.b.apply("reshape", x, -1), 0
        return self.b.apply("take_along_axis", x, i, axis=axis)

    def lib_bincount(self, node, callee):
        """``np.bincount(x, weights, minlength=0)``: linear in the weights, the
        integer labels ``x`` and the length not differentiated.  Without
        weights NumPy counts in integers, which no row computes: refused."""
        args = self.bound_arguments(node, callee, ("x", "weights", "minlength"))
        weights = args.get("weights")
        if weights is None or (
            isinstance(weights, ast.Constant) and weights.value is None
        ):
            x = ast.unparse(args["x"])
            self.error(
                node,
                f"`{callee}` without weights (integer counts) is not supported",
                f"count in floats: {callee}({x}, weights=np.ones(len({x})))",
            )
        i = self.atom(args["x"])
        m = self.atom(args["minlength"]) if "minlength" in args else 0
        return self.b.apply("bincount", i, self.atom(weights), m)

    def lib_einsum(self, node: ast.Call, callee: str):
        """``np.einsum(spec, *operands, optimize=...)``; see
        :func:`~ad_compiler.primitives.composites.contract`."""
        optimize = False
        for kw in node.keywords:
            if kw.arg != "optimize":
                self.error(
                    kw, f"keyword argument `{kw.arg}` to `{callee}` is not supported"
                )
            optimize = self.literal(
                {"optimize": kw.value}, "optimize", False, (bool, str)
            )
        args = node.args
        if not args or not (
            isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)
        ):
            self.error(
                node,
                "`np.einsum` is supported with a literal spec first",
                "write np.einsum('ij,jk->ik', a, b)",
            )
        for a in args:
            if isinstance(a, ast.Starred):
                self.unsupported(a)
        spec = args[0].value
        xs = [self.atom(a) for a in args[1:]]
        if "..." in spec:  # the letters `...` stands for are known with the ranks
            return self.b.apply("einsum_any", *xs, spec=spec, optimize=optimize)
        return contract(self.b, spec, xs, optimize)

    # --- compositions ---------------------------------------------------------------------
    def lib_ravel(self, node, callee):
        args = self.bound_arguments(node, callee, ("a",))
        return self.b.apply("reshape", self.atom(args["a"]), -1)

    def lib_asarray(self, node, callee):
        args = self.bound_arguments(node, callee, ("a",))
        value = self.expr(args["a"])
        if isinstance(value, TupleValue):
            return self.array_of(node, value, callee)
        self.not_a_function(args["a"], value)
        return value  # an array (or a number) already: np.asarray gives it back

    def flipped(self, x, axes):
        for axis in axes:
            x = self.b.apply("getitem", x, Const(-1), index=along(axis, _FLIPPED))
        return x

    def lib_flip(self, node, callee):
        args = self.bound_arguments(node, callee, ("m", "axis"))
        axis = self.literal(args, "axis", None)
        x = self.atom(args["m"])
        if axis is None:  # every axis: as many as x has, known with the shapes
            return self.b.apply("flip_all", x)
        return self.flipped(x, _axes(axis))

    def lib_fliplr(self, node, callee):
        return self.flipped(
            self.atom(self.bound_arguments(node, callee, ("m",))["m"]), (1,)
        )

    def lib_flipud(self, node, callee):
        return self.flipped(
            self.atom(self.bound_arguments(node, callee, ("m",))["m"]), (0,)
        )

    def length(self, x, axis: int):
        """``x.shape[axis]``, read when the function runs."""
        return self.b.apply("getitem", self.b.apply("shape", x), axis, index=("a",))

    def _pieces(self, node, callee, even: bool):
        names = ("ary", "indices_or_sections", "axis")
        args = self.bound_arguments(node, callee, names, 2)
        x = self.atom(args["ary"])
        axis = self.literal(args, "axis", 0)
        cut = self.literal(args, "indices_or_sections", 0)
        if isinstance(cut, int):
            if cut < 1:
                self.error(node, "the number of sections must be at least 1")
            n = self.length(x, axis)
            size, rest = self.b.apply("floordiv", n, cut), self.b.apply("mod", n, cut)
            starts = [None]
            for i in range(1, cut):  # array_split: the first n % cut pieces one longer
                start = self.b.mul(Const(i), size)
                if not even:
                    start = self.b.add(start, self.b.apply("min", Const(i), rest))
                starts.append(start)
        else:
            starts = [None] + [Const(i) for i in cut]
        pieces = []
        for start, stop in zip(starts, starts[1:] + [None]):
            item = ("s", start is not None, stop is not None, False)
            bounds = [v for v in (start, stop) if v is not None]
            pieces.append(self.b.apply("getitem", x, *bounds, index=along(axis, item)))
        return TupleValue(tuple(pieces))

    def lib_split(self, node, callee):
        return self._pieces(node, callee, True)

    def lib_array_split(self, node, callee):
        return self._pieces(node, callee, False)

    def lib_take(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "indices", "axis"), 2)
        x, i = self.atom(args["a"]), self.atom(args["indices"])
        axis = self.literal(args, "axis", None)
        if axis is None:  # NumPy takes from the flattened array
            x, axis = self.b.apply("reshape", x, -1), 0
        return self.b.apply("getitem", x, i, index=along(axis, "a"))

    def lib_vdot(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "b"), 2)
        flat = [self.b.apply("reshape", self.atom(args[k]), -1) for k in ("a", "b")]
        return self.b.apply("dot", *flat)

    def lib_meshgrid(self, node, callee):
        indexing = "xy"
        for kw in node.keywords:
            if kw.arg != "indexing":
                self.error(
                    kw, f"keyword argument `{kw.arg}` to `{callee}` is not supported"
                )
            indexing = self.literal({"indexing": kw.value}, "indexing", "xy", (str,))
        xs = [self.atom(a) for a in node.args]
        n = len(xs)
        where = list(range(n))  # the axis of the grid each vector runs along
        if indexing == "xy" and n >= 2:
            where[0], where[1] = 1, 0
        dims = [None] * n
        for x, w in zip(xs, where):
            dims[w] = self.b.apply("len", x)
        grids = []
        for x, w in zip(xs, where):
            others = tuple(a for a in range(n) if a != w)
            if others:
                axis = others[0] if len(others) == 1 else others
                x = self.b.apply("expand_dims", x, axis=axis)
            spread = self.b.apply("broadcast_to", x, *dims)
            grids.append(self.b.apply("copy", spread))  # NumPy's are writable copies
        return TupleValue(tuple(grids))

    def lib_identity(self, node, callee):
        n = self.atom(self.bound_arguments(node, callee, ("n",))["n"])
        return self.b.apply("construct", n, fn="eye", args=(("", -1),))

    def lib_linspace(self, node, callee):
        names = ("start", "stop", "num", "endpoint")
        args = self.bound_arguments(node, callee, names, 2)
        start, stop = self.atom(args["start"]), self.atom(args["stop"])
        num = self.literal(args, "num", 50)
        endpoint = self.literal(args, "endpoint", True, kinds=(bool,))
        if isinstance(start, Const) and isinstance(stop, Const):  # NumPy's own values
            layout = (("", -1),) * 3 + (("endpoint", -1),)
            values = (start, stop, Const(num), Const(endpoint))
            return self.b.apply("construct", *values, fn="linspace", args=layout)
        # start + k * step: differentiable in the ends
        steps = num - 1 if endpoint else num
        step = self.b.div(self.b.sub(stop, start), Const(float(max(steps, 1))))
        k = self.b.apply("construct", Const(num), fn="arange", args=(("", -1),))
        return self.b.add(start, self.b.mul(k, step))
