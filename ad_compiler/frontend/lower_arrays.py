"""Lowering of NumPy array code: calls with ``axis=``, methods, ``.T``, indexing.

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.  Static settings (``axis``,
``keepdims``, an einsum spec, an index's layout) must be literals and become
equation params; everything else (a reshape length, a loop index used as an
index) is an ordinary input.  ``x[i] = v`` is lowered functionally, to a new
version of ``x`` (``x_1 = setitem(x, v, i)``), so the IR stays single-assignment
and the reverse sweep can still read the ``x`` it needs.
"""

from __future__ import annotations

import ast

from ad_compiler.errors import UnsupportedError
from ad_compiler.frontend.alias_flow import late_reads, list_names, observed_writes
from ad_compiler.frontend.callees import source_of
from ad_compiler.frontend.lower_library import LIBRARY, LIBRARY_METHODS
from ad_compiler.frontend.lower_linalg import LINALG_CALLS, linalg_call
from ad_compiler.frontend.lower_reductions import OWN_LOWERING
from ad_compiler.frontend.lower_values import RunList, TupleValue
from ad_compiler.frontend.scope import FuncRef, ModuleRef, UserFuncRef
from ad_compiler.frontend.scope_data import reads_data
from ad_compiler.ir.nodes import Const, Var
from ad_compiler.primitives.indexing import CONSTRUCTORS
from ad_compiler.primitives.stats import SIGNATURES
from ad_compiler.primitives.table import PRIMITIVES, named

# dict methods other than .values() (a dict of arrays is read by its keys)
_DICT_METHODS = frozenset({"get", "items", "keys", "setdefault", "update", "pop"})


def _key(qualname: str) -> str:
    """How the tables below name a library function: NumPy's without the
    ``numpy.`` (``sum``, ``linalg.solve``), others in full (``scipy.special.logsumexp``).
    """
    return qualname.removeprefix("numpy.")


# np.<name> and x.<name>() reductions (axis=, keepdims=) -> primitive
_REDUCTIONS = {
    _key(q.removeprefix("ndarray.")): prim
    for module in ("numpy.", "ndarray.", "scipy.")
    for q, prim in named(module, call="reduction").items()
}
# the NumPy functions that make new arrays (np.full is np.ones(...) * v)
_CONSTRUCTORS = frozenset(CONSTRUCTORS) | {"full", "full_like"}
# array methods -> the primitive they are
_METHODS = {q.split(".", 1)[1]: prim for q, prim in named("ndarray.").items()}
# np.<name> of the rows that are not elementwise (the elementwise ones, np.sin,
# np.where, np.maximum ..., are lowered as any math function is, but for
# those with static params: np.round's decimals), and np.clip
_NUMPY = {
    _key(q): prim
    for module in ("numpy.", "scipy.")
    for q, prim in named(module).items()
    if not PRIMITIVES[prim].elementwise or PRIMITIVES[prim].call == "static"
}
ARRAY_FUNCTIONS = frozenset(_NUMPY) | {"clip", "full", "full_like"} | LIBRARY


class ArrayLowering:
    """The array parts of lowering (mixed into Lowerer)."""

    # --- static arguments -------------------------------------------------------
    def static(self, node: ast.expr, what: str):
        """A literal int, bool, None or tuple of ints (an ``axis=``, ``keepdims=``),
        or a name bound to one when the derivative is compiled (see
        :meth:`ShapeLowering.static_name`)."""
        try:
            value = ast.literal_eval(node)
        except ValueError:
            value = self.static_name(node)  # red(x, axis=0) -> np.sum(a, axis=axis)
        ok = value is None or isinstance(value, (bool, int))
        if isinstance(value, tuple):
            ok = all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        if not ok:
            self.error(
                node,
                f"{what} must be a literal (an int, a tuple of ints, True/False or None)",
                f"it is decided when the derivative is compiled, and "
                f"`{ast.unparse(node)}` is computed when the function runs: write "
                "the value, a module-level constant, or a parameter of your helper "
                "that the call gives a literal",
            )
        return value

    def keywords(self, node: ast.Call, callee: str, allowed: dict) -> dict:
        """``axis=1, keepdims=True`` -> params, each checked to be a literal."""
        out = {}
        for kw in node.keywords:
            if kw.arg not in allowed:
                self.error(
                    kw if kw.arg else node,
                    f"keyword argument `{kw.arg}` to `{callee}` is not supported",
                )
            out[allowed[kw.arg]] = self.static(kw.value, f"`{kw.arg}`")
        return out

    def positional_static(self, node, args, index, name, params):
        """An argument that may be given positionally (``np.sum(x, 0)``)."""
        if len(args) > index:
            if name in params:
                self.error(node, f"`{name}` given twice")
            params[name] = self.static(args[index], f"`{name}`")

    # --- np.<function>(...) -------------------------------------------------------
    def array_function(self, node: ast.Call, name: str, callee: str):
        """Lower a call of ``numpy.<name>`` or a SciPy array function (one of
        ARRAY_FUNCTIONS), spelled as the user called it."""
        if name in LIBRARY:  # shape and construction functions, einsum
            return self.library_function(node, name, callee)
        b = self.b
        ns = "scipy" if name.startswith("scipy.") else "np"
        if name in SIGNATURES:  # multivariate_normal.logpdf(x, mean=m, cov=c)
            node = self.positional_call(node, name, callee)
        args = node.args
        for a in args:
            if isinstance(a, ast.Starred):
                self.unsupported(a)
        if name in LINALG_CALLS:  # keywords, tuples of results: lower_linalg
            return linalg_call(self, node, name, callee)
        row = PRIMITIVES[_NUMPY[name]] if name in _NUMPY else None
        if row is not None and row.static:  # np.sum(x, axis=0), np.stack([a, b], 1)
            params = self.keywords(node, callee, {k: k for k in row.static})
            self.positional_static(node, args, 1, row.static[0], params)
        if name in _REDUCTIONS:
            self.arity(node, callee, args[:1], 1)
            if len(args) > 2:
                self.error(
                    node, f"`{callee}` takes at most 2 positional arguments here"
                )
            x = self.atom(args[0])
            return self.reduction(node, _REDUCTIONS[name], x, params)
        if name in _CONSTRUCTORS:
            return self.construct(node, name, callee)
        if name in OWN_LOWERING:  # np.linalg.norm, np.average, logsumexp
            return OWN_LOWERING[name](self, node, callee)
        if row is not None and row.call == "list":
            xs = self.list_operands(node, callee)  # lower_lists
            if isinstance(xs, RunList):  # (lower_runlists)
                return self.run_list_reduce(node, f"numpy.{row.name}", xs, callee)
            with b.at(self.src.loc(node), ns):
                return b.apply(row.name, *xs, **params)
        if row is not None and row.call == "static":
            if name == "expand_dims" and "axis" not in params:
                self.error(node, "`np.expand_dims` needs an axis")
            x = self.atom(args[0])
            with b.at(self.src.loc(node), ns):
                return b.apply(row.name, x, **params)
        if name == "reshape":
            self.plain_arguments(node, callee)
            self.arity(node, callee, args, 2)
            return self.reshape(node, self.atom(args[0]), [args[1]])
        self.plain_arguments(node, callee)
        values = [self.atom(a) for a in args]
        with b.at(self.src.loc(node), ns):
            if name == "clip":  # clip(x, lo, hi) = minimum(maximum(x, lo), hi)
                self.arity(node, callee, values, 3)
                return b.apply("min", b.apply("max", values[0], values[1]), values[2])
            row = PRIMITIVES[_NUMPY[name]]
            if row.call == "plain":  # np.dot(a, b), np.shape(x) ...
                self.arity(node, callee, values, row.arity)
                return b.apply(row.name, *values)
        self.error(node.func, f"`{callee}` has no derivative rule")

    def reduction(self, node, prim: str, x, params: dict):
        with self.b.at(self.src.loc(node), "np"):
            return self.b.apply(prim, x, **params)

    def reshape(self, node, x, dims: list):
        """``reshape(x, (n, -1))``, ``x.reshape(n, -1)`` or ``reshape(x, other.shape)``."""
        if len(dims) == 1 and isinstance(dims[0], ast.Tuple):
            dims = dims[0].elts
        values = [self.expr(d) for d in dims]
        if len(values) == 1 and isinstance(values[0], TupleValue):
            values = list(values[0].items)  # shape=(2, 3): a tuple of sizes
        if any(isinstance(v, TupleValue) for v in values):
            self.error(node, "a size in `reshape` must be a number", "write (n, -1)")
        with self.b.at(self.src.loc(node), "np"):
            if len(values) == 1 and not isinstance(values[0], Const):
                # one value: a length, or a whole shape (x.shape); decided by its shape
                if self.b.shape(values[0]) == "tuple":
                    return self.b.apply("reshape", x, values[0], packed=True)
            return self.b.apply("reshape", x, *values)

    def construct(self, node: ast.Call, name: str, callee: str):
        """``np.zeros((n, 3))`` and friends: new arrays, with no derivative.

        ``np.full(shape, v)`` depends on ``v``: it is lowered as
        ``np.ones(shape) * v``, which differentiates in ``v``.
        """
        for kw in node.keywords:
            if kw.arg == "dtype":
                self.error(
                    kw.value,
                    f"`dtype=` in `{callee}` is not supported",
                    "arrays are float64",
                )
        if name in ("full", "full_like"):
            return self.full(node, name, callee)
        layout, values = [], []
        for kw, arg in [(None, a) for a in node.args] + [
            (k.arg, k.value) for k in node.keywords
        ]:
            if kw == "dtype":
                self.error(
                    arg,
                    f"`dtype=` in `{callee}` is not supported",
                    "arrays are float64",
                )
            if isinstance(arg, ast.Tuple):
                layout.append((kw or "", len(arg.elts)))
                values += [self.atom(e) for e in arg.elts]
            else:
                layout.append((kw or "", -1))
                values.append(self.atom(arg))
        with self.b.at(self.src.loc(node), "np"):
            return self.b.apply("construct", *values, fn=name, args=tuple(layout))

    def full(self, node: ast.Call, name: str, callee: str):
        args = list(node.args)
        fill = None
        for kw in node.keywords:
            if kw.arg == "fill_value":
                fill = kw.value
            else:
                self.error(
                    kw, f"keyword argument `{kw.arg}` to `{callee}` is not supported"
                )
        if fill is None and len(args) == 2:
            fill = args.pop()
        if fill is None or len(args) != 1:
            self.error(node, f"`{callee}` takes a shape (or an array) and a fill value")
        ones = ast.Call(
            func=ast.Attribute(
                value=node.func.value, attr=name.replace("full", "ones")
            ),
            args=args,
            keywords=[],
        )
        ast.copy_location(ones, node)
        ast.fix_missing_locations(ones)
        value = self.atom(fill)
        base = self.construct(ones, name.replace("full", "ones"), callee)
        with self.b.at(self.src.loc(node)):
            return self.b.mul(base, value)

    # --- methods and attributes ---------------------------------------------------------
    def method_call(self, node: ast.Call, attr: ast.Attribute):
        """``x.sum(axis=0)``, ``x.reshape(n, -1)``, ``x.T`` ... on an array value."""
        name = attr.attr
        found = self.static_str_method(node, attr)  # k.startswith("W") (lower_trees)
        if found is not None:
            return found
        if name in LIBRARY_METHODS:  # x.ravel(), x.repeat(2, axis=0) ...
            return self.library_method(node, attr)
        if name not in _METHODS:
            hint = "call the NumPy function instead (np.sum, np.reshape, ...)"
            if name in _DICT_METHODS:  # p.get("w"): a dict parameter's
                hint = "index the dict by each key (p['w']), or loop over p.values()"
            self.error(attr, f"method `.{name}()` is not supported", hint)
        x = self.atom(attr.value)
        callee = f".{name}"
        row = PRIMITIVES[_METHODS[name]]
        if name in _REDUCTIONS:
            params = self.keywords(node, callee, {k: k for k in row.static})
            self.positional_static(node, node.args, 0, row.static[0], params)
            return self.reduction(node, _REDUCTIONS[name], x, params)
        if name == "reshape":
            self.plain_arguments(node, callee)
            return self.reshape(node, x, list(node.args))
        if name == "copy":  # a new array: writing into it leaves x as it was
            self.plain_arguments(node, callee)
            self.arity(node, callee, node.args, 0)
            with self.b.at(self.src.loc(node), "np"):
                return self.b.apply("copy", x, method=True)
        if name == "transpose":
            self.plain_arguments(node, callee)
            with self.b.at(self.src.loc(node), "np"):
                if not node.args:
                    return self.b.apply("transpose", x)
                axes = node.args[0] if len(node.args) == 1 else ast.Tuple(node.args)
                return self.b.apply("transpose", x, axes=self.static(axes, "the axes"))
        if name == "squeeze":
            params = self.keywords(node, callee, {k: k for k in row.static})
            self.positional_static(node, node.args, 0, row.static[0], params)
            with self.b.at(self.src.loc(node), "np"):
                return self.b.apply("squeeze", x, **params)
        # dot
        self.plain_arguments(node, callee)
        self.arity(node, callee, node.args, 1)
        y = self.atom(node.args[0])
        with self.b.at(self.src.loc(node), "np"):
            return self.b.apply("dot", x, y)

    def array_attribute(self, node: ast.Attribute):
        """``x.T``, ``x.shape``, ``x.size`` of a value."""
        x = self.atom(node.value)
        with self.b.at(self.src.loc(node)):
            if node.attr == "T":
                return self.b.apply("transpose", x, method=True)
            if node.attr == "size":
                return self.b.apply(node.attr, x)
        if node.attr == "shape":
            return self.shape_of(node, x)
        if node.attr == "ndim":
            return self.ndim(node, x)
        self.error(
            node,
            f"attribute `.{node.attr}` is not supported",
            "ad_compiler knows .T, .shape, .ndim and .size of arrays",
        )

    # --- indexing ----------------------------------------------------------------------
    def index(self, node: ast.expr) -> tuple[tuple, list]:
        """The layout and the input values of an index expression."""
        items = node.elts if isinstance(node, ast.Tuple) else [node]
        layout, values = [], []
        for item in items:
            if isinstance(item, ast.Slice):
                bounds = (item.lower, item.upper, item.step)
                layout.append(("s",) + tuple(b is not None for b in bounds))
                values += [self.atom(b) for b in bounds if b is not None]
            elif isinstance(item, ast.Constant) and item.value is None:
                layout.append(None)
            elif isinstance(item, ast.Constant) and item.value is Ellipsis:
                layout.append("...")
            elif self.is_newaxis(item):
                layout.append(None)
            elif isinstance(item, ast.Starred):
                self.unsupported(item)
            else:
                layout.append("a")
                values.append(self.atom(item))
        return tuple(layout), values

    def is_newaxis(self, node: ast.expr) -> bool:
        if not (isinstance(node, ast.Attribute) and node.attr == "newaxis"):
            return False
        base = node.value
        if not isinstance(base, ast.Name) or base.id in self.locals:
            return False
        return self.scope.lookup(base.id) == ModuleRef("numpy")

    def expr_Subscript(self, node: ast.Subscript):
        base = self.expr(node.value)
        item = self.tree_item(node, base)  # p["w"] of a dict parameter
        if item is not None:
            return item
        if isinstance(base, RunList):  # (lower_runlists)
            return self.run_list_item(node, base)
        if hasattr(base, "items"):  # a tuple or list: pick the item (lower_lists)
            return self.sequence_item(node, base)
        self.not_a_function(node.value, base)
        layout, values = self.index(node.slice)
        with self.b.at(self.src.loc(node)):
            return self.b.apply("getitem", base, *values, index=layout)

    def check_number_aliases(self, statement: ast.AST, appended=None) -> None:
        """After ``statement`` is lowered: each of its names that would share an
        array observed to be written is an error if its value is an array --
        known only once the shapes are (a hazard of shape inference); a
        number's value is a copy, and anything else (a list's item ...) is
        refused now.  ``appended``: for ``xs.append(A[j])``, the item's value."""
        for name, error in self.number_aliases.get(id(statement), {}).items():
            value = self.env.get(name) if appended is None else appended
            if isinstance(value, Var):
                self.hazards.append((value.name, error))  # an error if an array
            elif not isinstance(value, Const):
                raise error

    def assign_item(self, target: ast.Subscript, value, op=None):
        """``x[i] = v`` (or ``x[i] += v`` with ``op``): bind ``x`` to a new version."""
        if not isinstance(target.value, ast.Name) or target.value.id not in self.locals:
            hint = "assign into a local name (x = np.zeros(n); x[i] = ...)"
            if isinstance(target.value, ast.Name) and reads_data(self, target.value.id):
                x = target.value.id  # Python would change the user's array
                hint = (
                    f"`{x}` is read from the enclosing scope: write into a copy "
                    f"({x}2 = {x}.copy(); {x}2[...] = ...)"
                )
            self.error(
                target,
                "assignment into an element is supported only for a local array",
                hint,
            )
        name = target.value.id
        x = self.name(target.value, name)
        self.not_a_function(target.value, x)
        if isinstance(x, RunList):  # (lower_runlists)
            self.refuse_run_list_change(target, name)
        if hasattr(x, "items"):  # xs[k] = v on a list (lower_lists)
            return self.assign_sequence_item(target, value, op)
        layout, values = self.index(target.slice)
        with self.b.at(self.src.loc(target)):
            if op is not None:
                current = self.b.apply("getitem", x, *values, index=layout)
                value = self.binop(target, op, current, value)
            new = self.b.apply("setitem", x, value, *values, index=layout)
        return self.bind(name, new)


def known_numpy(ref) -> str | None:
    """The name (see ``_key``) of the NumPy or SciPy array function ``ref`` is,
    if it is one."""
    if isinstance(ref, FuncRef) and ref.qualname.startswith(("numpy.", "scipy.")):
        name = _key(ref.qualname)
        if name in ARRAY_FUNCTIONS:
            return name
    return None


# Expressions that may give another name for (part of) the same array in Python:
# NumPy's view-returning methods, functions and attributes (a superset of what
# ad_compiler lowers, so that a view is never missed as more are supported).
_VIEW_METHODS = frozenset(
    {"reshape", "transpose", "squeeze", "view", "ravel", "swapaxes", "diagonal"}
    | {"__array__", "getfield"}
)
_VIEW_FUNCTIONS = frozenset(
    {"reshape", "transpose", "squeeze", "expand_dims", "ravel", "swapaxes"}
    | {"atleast_1d", "atleast_2d", "atleast_3d", "asarray", "asanyarray"}
    | {"ascontiguousarray", "asfortranarray", "require", "moveaxis", "rollaxis"}
    | {"broadcast_to", "broadcast_arrays", "diagonal", "flip", "fliplr", "flipud"}
    | {"rot90", "real", "imag", "split", "array_split", "hsplit", "vsplit", "dsplit"}
    | {"matrix_transpose", "permute_dims", "as_strided", "array"}
)
_VIEW_ATTRIBUTES = frozenset({"T", "mT", "real", "imag", "flat", "base"})
# builtins whose result holds (views of) their arguments: `for w in zip(x, y)`
_CONTAINERS = frozenset({"tuple", "list", "zip", "enumerate", "reversed", "iter"})


def _dotted(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _aliased_names(value: ast.expr, calls=None) -> set[str]:
    """The names whose array ``value`` may share memory with: ``x``, ``x.T``,
    ``x[1:]``, ``x.reshape(...)``, ``np.transpose(x)``, ``x if c else y``,
    ``(x, y)`` ... (empty for a new array, such as ``x + 1`` or ``x.copy()``).
    Conservative: ``np.reshape(x, s)`` counts both ``np`` and ``x`` (names that
    are not local variables are ignored by the caller).  ``calls(call)`` gives
    the names a call of one of the user's functions may return."""
    if isinstance(value, ast.Name):
        return {value.id}
    if isinstance(value, ast.Attribute) and value.attr in _VIEW_ATTRIBUTES:
        return _aliased_names(value.value, calls)
    if isinstance(value, ast.Attribute) and _dotted(value):  # self.X, data.X
        return {ast.unparse(value)}
    if isinstance(value, (ast.Subscript, ast.Starred, ast.NamedExpr)):
        return _aliased_names(value.value, calls)
    if isinstance(value, ast.IfExp):
        return _aliased_names(value.body, calls) | _aliased_names(value.orelse, calls)
    if isinstance(value, ast.BoolOp):
        return set().union(*(_aliased_names(v, calls) for v in value.values))
    if isinstance(value, (ast.Tuple, ast.List)):  # a tuple holds its arrays
        return set().union(*(_aliased_names(v, calls) for v in value.elts))
    if isinstance(value, ast.Call):
        names = set()
        func = value.func
        if isinstance(func, ast.Attribute):
            if func.attr in _VIEW_METHODS:  # x.reshape(...)
                names |= _aliased_names(func.value, calls)
            if func.attr in _VIEW_FUNCTIONS:  # np.reshape(x, ...), np.asarray(a=x)
                args = value.args[:1] + [
                    k.value for k in value.keywords if k.arg in ("a", "ary", "arr", "x")
                ]
                names = names.union(*(_aliased_names(a, calls) for a in args))
        elif isinstance(func, ast.Name) and func.id in _CONTAINERS:
            names = names.union(*(_aliased_names(a, calls) for a in value.args))
        elif calls is not None:  # a user's function may return (a view of) an argument
            names |= calls(value)
        return names
    return set()


def _bindings(target: ast.expr, value: ast.expr):
    """(name, value) pairs an assignment makes, tuples unpacked pairwise."""
    if isinstance(target, ast.Name):
        yield target.id, value
    elif isinstance(target, (ast.Tuple, ast.List)):
        if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(
            target.elts
        ):
            for t, v in zip(target.elts, value.elts):
                yield from _bindings(t, v)
        else:  # `a, b = t`: either may be a name for t's items
            for t in target.elts:
                yield from _bindings(t, value)


def writes(lowerer, node: ast.FunctionDef, augmented=False) -> tuple[dict, dict]:
    """The names ``node`` writes into (name -> the first write's target):
    ``x[i] = v`` / ``x[i] += v``, and ``x += v`` (in place if x is an array:
    counted if ``augmented`` or ``node`` uses NumPy)."""
    numpy_code = augmented or any(
        isinstance(sub, ast.Name)
        and sub.id not in lowerer.locals
        and lowerer.scope.lookup(sub.id) == ModuleRef("numpy")
        for sub in ast.walk(node)
    )
    written, in_place = {}, {}
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Assign, ast.AugAssign)):
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
            for t in targets:
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                    written.setdefault(t.value.id, t)
                elif isinstance(sub, ast.AugAssign) and isinstance(t, ast.Name):
                    if numpy_code:
                        in_place.setdefault(t.id, t)
    return written, in_place


def _alias_pairs(node: ast.FunctionDef, lists: frozenset = frozenset()):
    """(statement, name, value) for each name an assignment or loop binds, and
    for each list of ``lists`` given an item (``xs[k] = v``, ``xs += [v]``)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Assign):
            pairs = [p for t in sub.targets for p in _bindings(t, sub.value)]
            pairs += [
                (t.value.id, sub.value)  # the list holds v itself
                for t in sub.targets
                if isinstance(t, ast.Subscript)
                and isinstance(t.value, ast.Name)
                and t.value.id in lists
            ]
        elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
            if sub.target.id not in lists:
                continue
            pairs = [(sub.target.id, sub.value)]  # xs += [row]: xs holds row
        elif isinstance(sub, ast.AnnAssign) and sub.value is not None:
            pairs = list(_bindings(sub.target, sub.value))
        elif isinstance(sub, (ast.For, ast.AsyncFor)):
            # `for w in (x, y)`: w is each of them in turn; `for r in x`: rows
            if isinstance(sub.iter, (ast.Tuple, ast.List)):
                items = [
                    e.value if isinstance(e, ast.Starred) else e for e in sub.iter.elts
                ]
            else:
                items = [sub.iter]
            pairs = [p for item in items for p in _bindings(sub.target, item)]
        elif (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in ("append", "extend")
            and isinstance(sub.func.value, ast.Name)
        ):  # xs.append(row): the list holds row itself, as xs = [row] would
            pairs = [(sub.func.value.id, a) for a in sub.args]
        else:
            continue
        for target, value in pairs:
            yield sub, target, value


def nested_reads(node: ast.FunctionDef) -> set[str]:
    """The names a nested function or lambda of ``node`` may return (a view
    of), following its own assignments: what a call of a local function value
    (unknown from the text alone) may share an array with, besides its
    arguments.  A call inside may return any of its arguments."""

    def calls(call: ast.Call) -> set[str]:
        args = list(call.args) + [k.value for k in call.keywords]
        return set().union(*(_aliased_names(a, calls) for a in args))

    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Lambda):
            names |= _aliased_names(sub.body, calls)
        elif isinstance(sub, ast.FunctionDef) and sub is not node:
            names |= _returned_names(sub, calls)
    return names


def _returned_names(node: ast.FunctionDef, calls) -> set[str]:
    """The names (parameters, locals, free names) whose array a function may
    return, following its assignments back from its ``return``s."""
    edges: dict[str, set] = {}
    for _, target, value in _alias_pairs(node):
        edges.setdefault(target, set()).update(_aliased_names(value, calls))
    todo = set()
    for r in ast.walk(node):
        if isinstance(r, ast.Return) and r.value is not None:
            todo |= _aliased_names(r.value, calls)
    returned: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in returned:
            returned.add(name)
            todo |= edges.get(name, set())
    return returned


def user_call_aliases(scope, src, local_names, depth: int = 0):
    """``calls`` for :func:`_aliased_names`: the caller's names a call of one of
    the user's functions may return (``def ident(z): return z.T``), read from
    the callee's source; every argument's when it cannot be read."""

    def calls(call: ast.Call) -> set[str]:
        func = call.func
        if not isinstance(func, ast.Name):
            return set()
        args = list(call.args) + [k.value for k in call.keywords]
        everything = set().union(*(_aliased_names(a, calls) for a in args))
        given = set()  # a function given may return what it returns
        if any(isinstance(a, (ast.Lambda, ast.Name)) for a in args):
            given = nested_reads(src.node)
        everything |= given
        if func.id in local_names:  # a function value: see nested_reads
            return everything | nested_reads(src.node)
        if not everything:
            return set()
        try:
            ref = scope.lookup(func.id)
        except Exception:
            return everything
        if not isinstance(ref, UserFuncRef):
            return set()  # builtins and NumPy (views: see _VIEW_FUNCTIONS)
        if depth > 8:
            return everything
        try:
            callee, callee_scope = source_of(ref, src, scope)
        except Exception:
            return everything
        cnode = callee.node
        params = [a.arg for a in cnode.args.posonlyargs + cnode.args.args]
        params += [a.arg for a in cnode.args.kwonlyargs]
        names = set(params) | {
            n.id
            for n in ast.walk(cnode)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        inner = user_call_aliases(callee_scope, callee, names, depth + 1)
        returned = _returned_names(cnode, inner)
        result = set()
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred):
                return everything
            if i < len(params) and params[i] in returned:
                result |= _aliased_names(a, calls)
        for k in call.keywords:
            if k.arg is None or k.arg in returned:
                result |= _aliased_names(k.value, calls)
        return result | given

    return calls


def check_aliasing(lowerer, node: ast.FunctionDef) -> None:
    """Reject a write into an array that another name may share and read later.

    ``x[i] = v`` is lowered to a new version of ``x``; in Python it changes the
    one array object, and so every other name for it (``y = x``, a slice or
    ``.T`` of it).  ``x += v`` changes an array in place too.  The two agree
    unless another name for the array is read after the write
    (:func:`ad_compiler.frontend.alias_flow.observed_writes` follows the paths
    from each alias): an alias taken after the last write, or one bound anew
    before it is read again, is fine.  Conservative (both arms of a branch
    count), and never silently different from Python.  Augmented assignments
    count as writes only in code that calls NumPy (for numbers, ``s = t;
    s += 1`` leaves ``t`` alone).
    """
    written, in_place = writes(lowerer, node)
    if not written and not in_place:
        return
    calls = user_call_aliases(lowerer.scope, lowerer.src, lowerer.locals)
    lists = list_names(node)
    values = {}  # (statement, target, source) -> the value bound
    for sub, target, value in _alias_pairs(node, lists):
        for source in sorted(_aliased_names(value, calls) - {target}):
            if source in lowerer.locals or reads_data(lowerer, source):
                values.setdefault((sub, target, source), value)
    pairs = list(values)
    outside = tuple(sorted({s for _, _, s in pairs if s not in lowerer.locals}))
    slots = _unshared_lists(node, lists, values, calls)
    found = observed_writes(node, pairs, bool(in_place), outside, slots)
    # the pair whose own name is written first: its message is the plainest
    found.sort(key=lambda f: f[1] not in (f[0][1], f[0][2]))
    for (sub, target, source), name, write, (seen, read) in found:
        line = lowerer.src.loc(write).line
        if read is None and seen in outside:  # the user's data, read again later
            when = "after the return: it is the function's data from its scope"
        elif read is None:  # an argument: the caller reads it after the return
            when = "by the caller, which passed it"
        elif read == "nested":
            when = "by a nested function or lambda, which may run later"
        else:
            seen_line = lowerer.src.loc(read).line
            when = f"line {seen_line}" + (
                ", in the loop's next iteration" if seen_line <= line else ""
            )
        holder = f"an item of `{target}`" if target in lists else f"`{target}`"
        message = (
            f"{holder} may share its array with `{source}`, and "
            f"`{name}` is written into (line {line}) before `{seen}` is read "
            f"({when}): Python would change both"
        )
        if isinstance(sub, (ast.For, ast.AsyncFor)):
            hint = f"write into a copy: {target} = {target}.copy() first"
        elif isinstance(sub, ast.Call):  # xs.append(row)
            row = ast.unparse(sub.args[0])
            hint = f"append a copy: {target}.append({row}.copy())"
        elif isinstance(sub, ast.AugAssign):  # xs += [row]
            hint = f"add copies: {target}.append(row.copy()) for each row"
        elif target in lists and any(
            isinstance(t, ast.Subscript) for t in sub.targets
        ):  # xs[k] = row
            item = next(t for t in sub.targets if isinstance(t, ast.Subscript))
            value = ast.unparse(sub.value)
            hint = f"store a copy: {ast.unparse(item)} = {value}.copy()"
        else:
            hint = f"make a copy: {target} = {ast.unparse(sub.value)}.copy()"
        if _maybe_number(sub, values[sub, target, source]):
            # `s = A[j]`: a number (a copy) if A has one axis; decided once the
            # shapes are known (Lowerer.check_number_aliases)
            error = lowerer.error_at(sub, message, hint)
            lowerer.number_aliases.setdefault(id(sub), {}).setdefault(target, error)
            continue
        if isinstance(write, ast.Subscript):
            lowerer.error(sub, message, hint)
        refuse_alias_write(lowerer, sub, lowerer, name, {}, message, hint)


def _unshared_lists(node, lists: frozenset, values: dict, calls) -> frozenset:
    """The lists of ``lists`` that no other name can hold: never the value
    itself (not an item: ``xs[k]``, ``for r in xs``) of another binding, nor
    read by a nested function.  ``xs[k] = v`` on one of them rebinds an item
    and writes into no array another name sees."""
    held = set()
    for (sub, _, _), value in values.items():
        if isinstance(sub, (ast.For, ast.AsyncFor)) and not isinstance(
            sub.iter, (ast.Tuple, ast.List)
        ):
            continue  # `for r in xs`: r is each item, not the list
        held |= _object_names(value, calls)
    return frozenset(lists - held - late_reads(node))


def _object_names(value: ast.expr, calls) -> set[str]:
    """The names whose object itself (not an item of it) ``value`` may be."""
    if isinstance(value, ast.Subscript):
        return set()  # an item (or a new list of them: xs[1:])
    if isinstance(value, (ast.Starred, ast.NamedExpr)):
        return _object_names(value.value, calls)
    if isinstance(value, ast.IfExp):
        return _object_names(value.body, calls) | _object_names(value.orelse, calls)
    if isinstance(value, ast.BoolOp):
        return set().union(*(_object_names(v, calls) for v in value.values))
    if isinstance(value, (ast.Tuple, ast.List)):
        return set().union(*(_object_names(v, calls) for v in value.elts))
    return _aliased_names(value, calls)


def _maybe_number(statement: ast.stmt, value: ast.expr) -> bool:
    """Whether ``name = value`` may bind a number rather than a view: ``A[j]``
    or ``A[i, j]`` (no slice, ``None`` or ``...`` in the index) is one item,
    a NumPy scalar that shares no memory, when ``A`` has as many axes as
    the index has entries (a view of a row or block otherwise)."""
    if not isinstance(statement, (ast.Assign, ast.AnnAssign, ast.Call)):
        return False  # (a Call: xs.append(A[j]), the item appended)
    if not isinstance(value, ast.Subscript):
        return False
    index = value.slice
    entries = index.elts if isinstance(index, ast.Tuple) else [index]
    return not any(
        isinstance(e, (ast.Slice, ast.Starred))
        or (isinstance(e, ast.Constant) and e.value in (None, Ellipsis))
        for e in entries
    )


def refuse_alias_write(at, node, owner, name, written, message, hint) -> None:
    """``name`` may share its array with another: refuse now, at ``node`` of
    ``at``, if ``name`` is written by subscript (in ``written``); else note the
    error in ``owner.in_place_aliases``, raised if ``name += v`` turns out to
    be in place (only an array's is: decided once the shapes are known, see
    Lowerer.stmt_AugAssign)."""
    if name in written:
        at.error(node, message, hint)
    loc = at.src.loc(node)
    error = UnsupportedError(message, loc, hint, at.src.line(loc))
    owner.in_place_aliases.setdefault(name, error)
