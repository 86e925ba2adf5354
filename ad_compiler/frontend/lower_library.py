"""Lowering of NumPy's shape and construction functions, and of ``np.einsum``.

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.  Most of these
functions are compositions of rows the compiler has, written here once the
ranks of their operands are known (the API knows them from the call; the CLI
from ``--shape``), so their derivatives, vector mode and second order come
from those rows:

* ``hstack``/``vstack``/``column_stack``/``dstack``: ``atleast_Nd`` (``expand_dims``)
  then ``concatenate``;  ``ravel``/``flatten``: ``reshape(x, -1)`` (a copy for flatten);
* ``flip``/``fliplr``/``flipud``: ``x[..., ::-1]``;  ``moveaxis``/``swapaxes``: ``transpose``;
* ``split``/``array_split``: slices whose bounds are computed from ``x.shape``
  when the function runs; ``take``: an index;  ``diag``/``diagonal``: an
  index by ``np.arange`` arrays (a write into zeros for ``diag`` of a vector);
* ``cross``: ``a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]`` ... stacked;
* ``inner``/``tensordot``/``kron``: an einsum (``kron`` then a reshape);
  ``vdot``: ``dot`` of the flattened operands;  ``meshgrid``: ``broadcast_to``;
* ``linspace`` of numbers and ``identity``: constants; ``linspace`` of values:
  ``start + arange(num) * step``, differentiable in its ends.

``roll``, ``triu``/``tril``, ``tile``, ``repeat``, ``pad``, ``broadcast_to``,
``take_along_axis`` and einsum of other than two operands are rows
(:mod:`ad_compiler.primitives.construct`); their static settings are
normalised here (axes non-negative, ``reps`` as long as the rank ...).
"""

from __future__ import annotations

import ast

from ad_compiler.frontend.lower_values import TupleValue
from ad_compiler.ir.nodes import Const
from ad_compiler.primitives.arrays import along

# the functions this module lowers (names under numpy.), and the array methods
COMPOSED = frozenset(
    {"hstack", "vstack", "column_stack", "dstack", "atleast_1d", "atleast_2d"}
    | {"atleast_3d", "ravel", "flip", "fliplr", "flipud", "moveaxis", "swapaxes"}
    | {"split", "array_split", "diag", "diagonal", "inner", "tensordot", "vdot"}
    | {"kron", "cross", "take", "meshgrid", "asarray", "linspace", "identity"}
)
ROWS = frozenset(
    {"roll", "triu", "tril", "tile", "repeat", "pad", "broadcast_to"}
    | {"take_along_axis", "einsum"}
)
LIBRARY = COMPOSED | ROWS
LIBRARY_METHODS = frozenset({"ravel", "flatten", "diagonal", "swapaxes", "repeat"})

_FLIPPED = ("s", False, False, True)  # the index item `::-1` (its step an input)
_WHOLE = ("s", False, False, False)
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


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
        or a tuple (of tuples) of them."""
        node = args.get(name)
        if node is None:
            return default
        try:
            value = ast.literal_eval(node)
        except ValueError:
            value = self.static_name(node)

        def ok(v):
            if isinstance(v, tuple):
                return all(ok(i) for i in v)
            return isinstance(v, kinds) and not (isinstance(v, bool) and int in kinds)

        if not (ok(value) or (value is None and default is None)):
            self.error(
                node,
                f"`{name}` must be a literal here",
                "it is decided when the derivative is compiled: write the value, "
                "or a module-level constant",
            )
        return value

    def known_rank(self, node: ast.AST, x, callee: str) -> int:
        r = self.b.rank(x)
        if r is None:
            self.error(
                node,
                f"`{callee}` needs to know how many axes its operand has",
                "give the shapes of the array parameters, as in "
                "`adc compile --shape x=n,3` (the API knows them from the call)",
            )
        return r

    def axis_of(self, node, axis: int, rank: int, callee: str) -> int:
        if not -max(rank, 1) <= axis < max(rank, 1):
            self.error(node, f"axis {axis} is out of range in `{callee}`")
        return axis % max(rank, 1)

    # --- dispatch ------------------------------------------------------------------------
    def library_function(self, node: ast.Call, name: str, callee: str):
        """Lower ``np.<name>(...)`` for ``name`` in :data:`LIBRARY`."""
        loc = self.src.loc(node)
        if name == "einsum":
            return self.einsum_call(node, callee)
        method = getattr(self, "lib_" + name)
        with self.b.at(loc, "np"):
            return method(node, callee)

    def library_method(self, node: ast.Call, attr: ast.Attribute):
        """``x.ravel()``, ``x.flatten()``, ``x.diagonal()``, ``x.swapaxes(i, j)``,
        ``x.repeat(r, axis)``: the functions with ``x`` first."""
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

    # --- atleast, stacking ------------------------------------------------------------
    def at_least(self, node, x, n: int, callee: str):
        """``np.atleast_<n>d(x)``: length-1 axes added as NumPy adds them."""
        r = self.known_rank(node, x, callee)
        if r >= n:
            return x
        new = {
            1: {0: (0,)},
            2: {0: (0, 1), 1: (0,)},
            3: {0: (0, 1, 2), 1: (0, 2), 2: (2,)},
        }[n][r]
        return self.b.apply("expand_dims", x, axis=new[0] if len(new) == 1 else new)

    def _atleast(self, node, callee, n):
        args = [self.atom(a) for a in node.args]
        if node.keywords or not args:
            self.error(node, f"`{callee}` takes arrays, and no keywords")
        out = [self.at_least(node, x, n, callee) for x in args]
        return out[0] if len(out) == 1 else TupleValue(tuple(out))

    def lib_atleast_1d(self, node, callee):
        return self._atleast(node, callee, 1)

    def lib_atleast_2d(self, node, callee):
        return self._atleast(node, callee, 2)

    def lib_atleast_3d(self, node, callee):
        return self._atleast(node, callee, 3)

    def _stacked(self, node, callee, n: int, axis: int, columns=False):
        self.bound_arguments(node, callee, ("tup",))
        xs = self.list_operands(node, callee)
        if columns:  # column_stack: vectors become columns
            xs = [
                (
                    self.b.apply(
                        "expand_dims", self.at_least(node, x, 1, callee), axis=1
                    )
                    if self.known_rank(node, x, callee) < 2
                    else x
                )
                for x in xs
            ]
        xs = [self.at_least(node, x, n, callee) for x in xs]
        if n == 1 and all(self.b.rank(x) == 1 for x in xs):
            axis = 0  # hstack of vectors joins them end to end
        return self.b.apply("concatenate", *xs, axis=axis)

    def lib_hstack(self, node, callee):
        return self._stacked(node, callee, 1, 1)

    def lib_vstack(self, node, callee):
        return self._stacked(node, callee, 2, 0)

    def lib_column_stack(self, node, callee):
        return self._stacked(node, callee, 2, 1, columns=True)

    def lib_dstack(self, node, callee):
        return self._stacked(node, callee, 3, 2)

    # --- moves -------------------------------------------------------------------------
    def lib_ravel(self, node, callee):
        args = self.bound_arguments(node, callee, ("a",))
        x = self.atom(args["a"])
        if self.b.rank(x) == 1:
            return x
        return self.b.apply("reshape", x, -1)

    def lib_asarray(self, node, callee):
        args = self.bound_arguments(node, callee, ("a",))
        value = self.expr(args["a"])
        if isinstance(value, TupleValue):
            return self.array_of(node, value, callee)
        self.not_a_function(args["a"], value)
        return value  # already an array (or a number): np.asarray returns it

    def flipped(self, node, x, axes, callee):
        r = self.known_rank(node, x, callee)
        axes = range(r) if axes is None else axes
        axes = {self.axis_of(node, a, r, callee) for a in axes}
        layout = [_FLIPPED if a in axes else _WHOLE for a in range(r)]
        while layout and layout[-1] == _WHOLE:
            layout.pop()
        steps = [Const(-1)] * len(axes)
        return self.b.apply("getitem", x, *steps, index=tuple(layout))

    def lib_flip(self, node, callee):
        args = self.bound_arguments(node, callee, ("m", "axis"))
        axis = self.literal(args, "axis", None)
        axes = (axis,) if isinstance(axis, int) else axis
        return self.flipped(node, self.atom(args["m"]), axes, callee)

    def lib_fliplr(self, node, callee):
        args = self.bound_arguments(node, callee, ("m",))
        return self.flipped(node, self.atom(args["m"]), (1,), callee)

    def lib_flipud(self, node, callee):
        args = self.bound_arguments(node, callee, ("m",))
        return self.flipped(node, self.atom(args["m"]), (0,), callee)

    def lib_moveaxis(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "source", "destination"), 3)
        x = self.atom(args["a"])
        r = self.known_rank(node, x, callee)

        def axes(name):
            value = self.literal(args, name, 0)
            value = (value,) if isinstance(value, int) else value
            return [self.axis_of(node, a, r, callee) for a in value]

        source, destination = axes("source"), axes("destination")
        if len(source) != len(destination):
            self.error(node, "`source` and `destination` must have as many axes")
        order = [a for a in range(r) if a not in source]
        for dest, src in sorted(zip(destination, source)):
            order.insert(dest, src)
        return self.b.apply("transpose", x, axes=tuple(order))

    def lib_swapaxes(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "axis1", "axis2"), 3)
        x = self.atom(args["a"])
        r = self.known_rank(node, x, callee)
        i = self.axis_of(node, self.literal(args, "axis1", 0), r, callee)
        j = self.axis_of(node, self.literal(args, "axis2", 0), r, callee)
        order = list(range(r))
        order[i], order[j] = j, i
        return self.b.apply("transpose", x, axes=tuple(order))

    # --- pieces ------------------------------------------------------------------------
    def length(self, x, axis: int):
        """``x.shape[axis]``, read when the function runs."""
        return self.b.apply("getitem", self.b.apply("shape", x), axis, index=("a",))

    def _pieces(self, node, callee, even: bool):
        args = self.bound_arguments(
            node, callee, ("ary", "indices_or_sections", "axis"), 2
        )
        x = self.atom(args["ary"])
        axis = self.literal(args, "axis", 0)
        cut = self.literal(args, "indices_or_sections", 0)
        if isinstance(cut, int):
            if cut < 1:
                self.error(node, "the number of sections must be at least 1")
            n = self.length(x, axis)
            size, rest = self.b.apply("floordiv", n, cut), self.b.apply("mod", n, cut)
            starts = []
            for i in range(cut):  # array_split: the first n % cut pieces one longer
                start = self.b.mul(Const(i), size) if i else None
                if i and not even:
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
        if axis is None:
            x, axis = self.b.apply("reshape", x, -1), 0
        return self.b.apply("getitem", x, i, index=along(axis, "a"))

    def diagonal_of(self, node, x, offset: int, callee: str):
        """``x[i, i + offset]`` for the ``i`` where both are in range (2-D ``x``)."""
        if self.known_rank(node, x, callee) != 2:
            self.error(
                node,
                f"`{callee}` is supported for a matrix (2 axes) here",
                "take each matrix's diagonal in a loop",
            )
        rows, cols = self.length(x, 0), self.length(x, 1)
        s0, s1 = max(-offset, 0), max(offset, 0)
        count = self.b.apply(
            "min", self.b.sub(rows, Const(s0)), self.b.sub(cols, Const(s1))
        )
        count = self.b.apply("max", count, Const(0))
        i = self.b.apply("construct", count, fn="arange", args=(("", -1),))
        rows_i = self.b.add(i, Const(s0)) if s0 else i
        cols_i = self.b.add(i, Const(s1)) if s1 else i
        picked = self.b.apply("getitem", x, rows_i, cols_i, index=("a", "a"))
        return self.b.apply("reshape", picked, -1)  # (a vector: its rank known)

    def lib_diagonal(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "offset", "axis1", "axis2"))
        if self.literal(args, "axis1", 0) != 0 or self.literal(args, "axis2", 1) != 1:
            self.error(node, f"`axis1`/`axis2` in `{callee}` are not supported")
        x = self.atom(args["a"])
        return self.diagonal_of(node, x, self.literal(args, "offset", 0), callee)

    def lib_diag(self, node, callee):
        args = self.bound_arguments(node, callee, ("v", "k"))
        v, k = self.atom(args["v"]), self.literal(args, "k", 0)
        if self.known_rank(node, v, callee) != 1:
            return self.diagonal_of(node, v, k, callee)
        # a vector onto the k-th diagonal of a square of zeros, written flat
        n = self.b.apply("len", v)
        side = self.b.add(n, Const(abs(k))) if k else n
        flat = self.b.apply(
            "construct", self.b.mul(side, side), fn="zeros", args=(("", -1),)
        )
        i = self.b.apply("construct", n, fn="arange", args=(("", -1),))
        s0, s1 = max(-k, 0), max(k, 0)  # element t sits at row t + s0, column t + s1
        at = self.b.add(self.b.mul(self.b.add(i, Const(s0)) if s0 else i, side), i)
        at = self.b.add(at, Const(s1)) if s1 else at
        written = self.b.apply("setitem", flat, v, at, index=("a",))
        return self.b.apply("reshape", written, side, side)

    # --- products ------------------------------------------------------------------------
    def lib_cross(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "b", "axis"), 2)
        a, b = self.atom(args["a"]), self.atom(args["b"])
        axis = self.literal(args, "axis", -1)
        for x in (a, b):
            self.known_rank(node, x, callee)
        comps = []
        for x in (a, b):
            comps.append(
                [
                    self.b.apply("getitem", x, i, index=along(axis, "a"))
                    for i in range(3)
                ]
            )
        (a0, a1, a2), (b0, b1, b2) = comps
        mul, sub = self.b.mul, self.b.sub
        c = (
            sub(mul(a1, b2), mul(a2, b1)),
            sub(mul(a2, b0), mul(a0, b2)),
            sub(mul(a0, b1), mul(a1, b0)),
        )
        return self.b.apply("stack", *c, axis=axis)

    def lib_inner(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "b"), 2)
        a, b = self.atom(args["a"]), self.atom(args["b"])
        ra, rb = self.known_rank(node, a, callee), self.known_rank(node, b, callee)
        if ra == 0 or rb == 0:
            return self.b.mul(a, b)
        x, y = _LETTERS[: ra - 1], _LETTERS[ra - 1 : ra + rb - 2]
        return self.contraction(node, f"{x}Z,{y}Z->{x}{y}", [a, b], False)

    def lib_tensordot(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "b", "axes"), 2)
        a, b = self.atom(args["a"]), self.atom(args["b"])
        ra, rb = self.known_rank(node, a, callee), self.known_rank(node, b, callee)
        axes = self.literal(args, "axes", 2)
        if isinstance(axes, int):
            pairs = list(zip(range(ra - axes, ra), range(axes)))
        else:
            left, right = ((v,) if isinstance(v, int) else v for v in axes)
            pairs = list(zip(left, right))
        pairs = [(i % max(ra, 1), j % max(rb, 1)) for i, j in pairs]
        x = list(_LETTERS[:ra])
        y = list(_LETTERS[ra : ra + rb])
        for i, j in pairs:
            y[j] = x[i]
        summed = {x[i] for i, _ in pairs}
        out = [c for c in x if c not in summed] + [c for c in y if c not in summed]
        spec = f"{''.join(x)},{''.join(y)}->{''.join(out)}"
        return self.contraction(node, spec, [a, b], False)

    def lib_vdot(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "b"), 2)
        flat = [self.lib_ravel_value(self.atom(args[k])) for k in ("a", "b")]
        return self.b.apply("dot", *flat)

    def lib_ravel_value(self, x):
        return x if self.b.rank(x) == 1 else self.b.apply("reshape", x, -1)

    def lib_kron(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "b"), 2)
        a, b = self.atom(args["a"]), self.atom(args["b"])
        ra, rb = self.known_rank(node, a, callee), self.known_rank(node, b, callee)
        r = max(ra, rb, 1)
        a, b = (self.at_least_rank(x, rx, r) for x, rx in ((a, ra), (b, rb)))
        x, y = _LETTERS[:r], _LETTERS[r : 2 * r]
        spec = f"{x},{y}->{''.join(p + q for p, q in zip(x, y))}"
        blocks = self.contraction(node, spec, [a, b], False)
        if r == 1:
            return self.b.apply("reshape", blocks, -1)
        sizes = [self.b.mul(self.length(a, i), self.length(b, i)) for i in range(r - 1)]
        return self.b.apply("reshape", blocks, *sizes, -1)

    def at_least_rank(self, x, rank: int, r: int):
        if rank >= r:
            return x
        axes = tuple(range(r - rank))
        return self.b.apply("expand_dims", x, axis=axes[0] if len(axes) == 1 else axes)

    # --- grids and constants ----------------------------------------------------------
    def lib_meshgrid(self, node, callee):
        indexing = "xy"
        for kw in node.keywords:
            if kw.arg != "indexing":
                self.error(
                    kw, f"keyword argument `{kw.arg}` to `{callee}` is not supported"
                )
            indexing = ast.literal_eval(kw.value)
        xs = [self.atom(a) for a in node.args]
        for x in xs:
            if self.known_rank(node, x, callee) != 1:
                self.error(node, f"`{callee}` takes vectors here")
        n = len(xs)
        where = list(range(n))  # the axis each vector runs along
        if indexing == "xy" and n >= 2:
            where[0], where[1] = 1, 0
        dims = [None] * n
        for x, w in zip(xs, where):
            dims[w] = self.b.apply("len", x)
        grids = []
        for x, w in zip(xs, where):
            others = tuple(a for a in range(n) if a != w)
            if others:
                x = self.b.apply(
                    "expand_dims", x, axis=others[0] if len(others) == 1 else others
                )
            spread = self.b.apply("broadcast_to", x, *dims)
            grids.append(self.b.apply("copy", spread))  # NumPy's are writable copies
        return TupleValue(tuple(grids))

    def lib_identity(self, node, callee):
        args = self.bound_arguments(node, callee, ("n",))
        n = self.atom(args["n"])
        return self.b.apply("construct", n, fn="eye", args=(("", -1),))

    def lib_linspace(self, node, callee):
        args = self.bound_arguments(
            node, callee, ("start", "stop", "num", "endpoint"), 2
        )
        start, stop = self.atom(args["start"]), self.atom(args["stop"])
        num = self.literal(args, "num", 50)
        endpoint = self.literal(args, "endpoint", True, kinds=(bool,))
        if isinstance(start, Const) and isinstance(stop, Const):  # NumPy's own values
            kw = (("", -1), ("", -1), ("", -1), ("endpoint", -1))
            return self.b.apply(
                "construct", start, stop, num, endpoint, fn="linspace", args=kw
            )
        if self.b.rank(start) != 0 or self.b.rank(stop) != 0:
            self.error(node, f"`{callee}` takes numbers for its ends here")
        # start + k * step: differentiable in the ends
        steps = num - 1 if endpoint else num
        step = self.b.div(self.b.sub(stop, start), Const(float(max(steps, 1))))
        k = self.b.apply("construct", Const(num), fn="arange", args=(("", -1),))
        return self.b.add(start, self.b.mul(k, step))

    # --- the rows of primitives/construct.py ---------------------------------------------
    def lib_roll(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "shift", "axis"), 2)
        x = self.atom(args["a"])
        shift = self.literal(args, "shift", 0)
        axis = self.literal(args, "axis", None)
        if axis is not None:
            return self.b.apply("roll", x, shift=shift, axis=axis)
        if not isinstance(shift, int):
            self.error(node, f"`{callee}` without an axis takes one shift")
        if self.known_rank(node, x, callee) == 1:
            return self.b.apply("roll", x, shift=shift, axis=0)
        flat = self.b.apply("roll", self.b.apply("reshape", x, -1), shift=shift, axis=0)
        return self.b.apply("reshape", flat, self.b.apply("shape", x), packed=True)

    def _triangle(self, node, callee, name):
        args = self.bound_arguments(node, callee, ("m", "k"))
        x = self.atom(args["m"])
        if self.known_rank(node, x, callee) < 2:
            self.error(node, f"`{callee}` of a vector is not supported", "use a matrix")
        return self.b.apply(name, x, k=self.literal(args, "k", 0))

    def lib_triu(self, node, callee):
        return self._triangle(node, callee, "triu")

    def lib_tril(self, node, callee):
        return self._triangle(node, callee, "tril")

    def lib_tile(self, node, callee):
        args = self.bound_arguments(node, callee, ("A", "reps"), 2)
        x = self.atom(args["A"])
        reps = self.literal(args, "reps", 1)
        reps = (reps,) if isinstance(reps, int) else tuple(reps)
        r = self.known_rank(node, x, callee)
        x = self.at_least_rank(x, r, len(reps))  # NumPy's promotion, made explicit
        reps = (1,) * (r - len(reps)) + reps
        return self.b.apply("tile", x, reps=reps)

    def lib_repeat(self, node, callee):
        args = self.bound_arguments(node, callee, ("a", "repeats", "axis"), 2)
        x = self.atom(args["a"])
        repeats = self.literal(args, "repeats", 1)
        if not isinstance(repeats, int) or repeats < 0:
            self.error(node, f"`{callee}` is supported with one literal count")
        axis = self.literal(args, "axis", None)
        if axis is None:
            x, axis = self.lib_ravel_value(x), 0
        elif self.b.rank(x) is not None:
            axis = self.axis_of(node, axis, self.b.rank(x), callee)
        return self.b.apply("repeat", x, repeats=repeats, axis=axis)

    def lib_pad(self, node, callee):
        args = self.bound_arguments(
            node, callee, ("array", "pad_width", "mode", "constant_values"), 2
        )
        x = self.atom(args["array"])
        if self.literal(args, "mode", "constant", kinds=(str,)) != "constant":
            self.error(node, f"`{callee}` is supported with mode='constant'")
        if self.literal(args, "constant_values", 0, kinds=(int, float)) != 0:
            self.error(
                node,
                "padding with other than zeros is not supported",
                "pad with zeros and add the constant times a padded mask",
            )
        width = self.literal(args, "pad_width", 0)
        r = self.known_rank(node, x, callee)
        if isinstance(width, int):
            width = ((width, width),)
        elif all(isinstance(w, int) for w in width):
            width = (tuple(width) * (2 if len(width) == 1 else 1),)
        width = tuple(tuple(w) * (2 if len(w) == 1 else 1) for w in width)
        if len(width) == 1:
            width = width * r
        if len(width) != r or any(len(w) != 2 or min(w) < 0 for w in width):
            self.error(node, f"`pad_width` does not fit an array of {r} axes")
        return self.b.apply("pad", x, widths=width)

    def lib_broadcast_to(self, node, callee):
        args = self.bound_arguments(node, callee, ("array", "shape"), 2)
        x = self.atom(args["array"])
        shape = args["shape"]
        if isinstance(shape, ast.Tuple):
            dims = [self.atom(d) for d in shape.elts]
        else:
            value = self.expr(shape)
            if not isinstance(value, TupleValue):
                if self.b.shape(value) == "tuple":
                    self.error(
                        node,
                        f"`{callee}` of a shape read as one value",
                        "write the lengths: (n, m), or (*x.shape,)",
                    )
                value = TupleValue((value,))
            dims = list(value.items)
        return self.b.apply("broadcast_to", x, *dims)

    def lib_take_along_axis(self, node, callee):
        args = self.bound_arguments(node, callee, ("arr", "indices", "axis"), 3)
        x, i = self.atom(args["arr"]), self.atom(args["indices"])
        axis = self.literal(args, "axis", None)
        if axis is None:
            x, axis = self.lib_ravel_value(x), 0
        elif self.b.rank(x) is not None:
            axis = self.axis_of(node, axis, self.b.rank(x), callee)
        return self.b.apply("take_along_axis", x, i, axis=axis)

    # --- einsum -------------------------------------------------------------------------
    def einsum_call(self, node: ast.Call, callee: str):
        """``np.einsum(spec, *operands, optimize=...)``: the spec normalised
        (``...`` spelled with letters, the output explicit) and the letters
        only one operand has and the output has not summed out first; then the
        two-operand row, or ``einsum_n`` (which keeps ``optimize``: the sizes,
        and so the best order, are known only when the function runs)."""
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
        xs = [self.atom(a) for a in args[1:]]
        with self.b.at(self.src.loc(node), "np"):
            return self.contraction(node, args[0].value, xs, optimize)

    def contraction(self, node, spec: str, xs: list, optimize):
        """The einsum of ``xs`` by ``spec`` (any NumPy spec without repeated
        letters in one operand), lowered as described in :meth:`einsum_call`."""
        ranks = [self.b.rank(x) for x in xs]
        parts, out = normalized_einsum(
            spec, ranks, lambda m, h=None: self.error(node, m, h)
        )
        for k, (x, letters) in enumerate(zip(xs, parts)):
            others = set(out).union(*(parts[:k] + parts[k + 1 :]))
            alone = [i for i, ch in enumerate(letters) if ch not in others]
            if alone:  # summed out of this operand alone: a sum first
                axis = alone[0] if len(alone) == 1 else tuple(alone)
                xs[k] = self.b.apply("sum", x, axis=axis)
                parts[k] = "".join(ch for ch in letters if ch in others)
        if len(xs) == 1 and parts[0] == out:
            return xs[0]
        spec = ",".join(parts) + "->" + out
        if len(xs) == 2 and not optimize:
            return self.b.apply("einsum", *xs, spec=spec)
        return self.b.apply("einsum_n", *xs, spec=spec, optimize=optimize or False)


def normalized_einsum(spec: str, ranks: list, error) -> tuple[list[str], str]:
    """An einsum spec with ``...`` replaced by letters (right-aligned, as NumPy
    broadcasts) and its output made explicit (NumPy's implicit output: the
    ``...`` axes, then the letters used once, in alphabetical order).  ``ranks``:
    the operands' numbers of axes (None: unknown); ``error(message, hint)`` raises."""
    spec = spec.replace(" ", "")
    ins, arrow, out = spec.partition("->")
    parts = ins.split(",")
    if len(parts) != len(ranks):
        error(
            f"einsum {spec!r} names {len(parts)} operands, and {len(ranks)} are given"
        )
    used = set(spec) - set(".,->")
    if not used <= set(_LETTERS):
        error(f"einsum {spec!r} is not supported", "use ASCII letters only")
    spare = [ch for ch in _LETTERS if ch not in used]
    lengths = []
    for p, r in zip(parts, ranks):
        if "..." not in p:
            lengths.append(0)
            continue
        if r is None:
            error(
                f"einsum {spec!r} with `...` needs to know how many axes its "
                "operands have",
                "give the shapes, as in `adc compile --shape x=n,3`",
            )
        lengths.append(r - len(p.replace("...", "")))
    dots = "".join(spare[: max(lengths, default=0)])
    parts = [
        p.replace("...", dots[len(dots) - n :] if n else "")
        for p, n in zip(parts, lengths)
    ]
    if arrow:
        out = out.replace("...", dots)
    else:
        letters = "".join(parts)
        out = dots + "".join(
            sorted(ch for ch in set(letters) - set(dots) if letters.count(ch) == 1)
        )
    for p, r in zip(parts, ranks):
        if r is not None and len(p) != r:
            error(
                f"einsum {spec!r}: an operand has {r} axes, and its letters say {len(p)}"
            )
        if len(set(p)) != len(p):
            error(
                f"einsum {spec!r} repeats a letter in one operand (a diagonal)",
                "take the diagonal first (np.diagonal), or write the sum",
            )
    if len(set(out)) != len(out) or not set(out) <= set("".join(parts)):
        error(f"einsum {spec!r}: each output letter once, and from an operand")
    return parts, out
