"""Lowering of lists whose length is known only at run time: ``xs.append(v)``
in a loop over ``range(n)`` of a run-time ``n``, over an array's rows, in a
``while`` loop, under an ``if`` in such a loop.

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.  Where
:mod:`~ad_compiler.frontend.lower_lists` would have to unroll a loop it
cannot (its number of iterations is not known when compiling) and the loop
changes lists only by ``append``, each such list becomes a
:class:`~ad_compiler.frontend.lower_values.RunList`: an IR variable holding
a Python list used as an append-only buffer, and an int, its length, which
the loop carries like any value.  The rows are in
:mod:`ad_compiler.primitives.lists`, whose docstring gives the model and the
derivatives.

Guarantees:

* Python's semantics: the same items in the same order; ``xs[i]``, ``xs[-1]``,
  ``len(xs)``, ``for v in xs``, ``zip``/``enumerate`` of lists and arrays,
  ``sum(xs)``, ``np.stack(xs)``, ``np.array(xs)``, ``np.concatenate(xs)``
  read the list as it is at that point, also when the reverse sweep
  recomputes an iteration (they index the prefix of length ``n``);
* the emitted code appends with ``xs.append(v)`` (O(1)) under the user's name;
* what would break append-only is refused at the construct, with what to
  write: item assignment, ``pop``/``insert``/``remove``/``sort`` ..., ``extend``,
  rebinding the name in the loop, a list held by two names (or passed to a
  function) and then appended to, a list of tuples, returning the list from
  the differentiated function.
"""

from __future__ import annotations

import ast

from ad_compiler.frontend.lower_control import _store_names, _stored_names
from ad_compiler.frontend.lower_lists import _NotStatic
from ad_compiler.frontend.lower_values import (
    DictValue,
    FunctionValue,
    ListValue,
    RunList,
    TupleValue,
)
from ad_compiler.frontend.scope import UserFuncRef
from ad_compiler.ir.nodes import Const, Eqn, Var

_CHANGE_HINT = (
    "build the list with `append` only, and read it (`xs[i]`, `xs[-1]`, "
    "`np.stack(xs)`); for other changes preallocate an array "
    "(`out = np.zeros((n, m))`, then `out[t] = ...`)"
)


def _appends(stmts: list, names: set) -> dict:
    """The names among ``names`` that ``stmts`` call a list method on, each
    with the first such call."""
    found: dict = {}
    for stmt in stmts:
        for sub in ast.walk(stmt):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Attribute)
                and isinstance(sub.func.value, ast.Name)
                and sub.func.value.id in names
            ):
                found.setdefault(sub.func.value.id, sub)
    return found


class RunListLowering:
    """The run-time list parts of lowering (mixed into Lowerer)."""

    # --- making them ----------------------------------------------------------------
    def appends_only(self, changed: dict) -> bool:
        """Whether the first change of each list in ``changed`` is an ``append``
        (:meth:`run_time_lists` refuses the later ones that are not)."""
        return all(
            isinstance(self.env.get(name), ListValue)
            and isinstance(node, ast.Call)
            and node.func.attr == "append"
            for name, node in changed.items()
        )

    def run_time_lists(self, stmt, changed: dict) -> None:
        """Turn the lists ``stmt``'s body appends to into run-time lists."""
        for name in sorted(changed):
            xs = self.env[name]
            self.check_unshared(changed[name], name, xs)
            self.check_append_only(stmt, name)
            for item in xs.items:
                if not isinstance(item, (Var, Const)):
                    self.error(
                        changed[name],
                        f"`{name}` holds tuples or lists and is appended to in a "
                        "loop whose number of iterations is known only at run time",
                        "keep one list per item of the tuple (`hs.append(h)`, "
                        "`cs.append(c)`)",
                    )
            with self.b.at(self.src.loc(stmt)):
                buf = self.b.apply("list_new", *xs.items)
            shown = self.buffer_names.pop(name, name)  # (listed_in_a_loop)
            buf = self.b.bind(buf, self.phi_name(shown).name, reserved=True)
            self.b.shapes.pop(buf.name, None)
            self.env[name] = RunList(buf, Const(len(xs.items)), xs.ident)

    def check_append_only(self, stmt, name: str) -> None:
        """Refuse a loop that rebinds or assigns into the run-time list ``name``."""
        if name in _stored_names(stmt.body, items=True) or (
            isinstance(stmt, ast.For) and name in _target_names(stmt.target)
        ):
            node = next(
                sub
                for s in stmt.body + [stmt]
                for sub in ast.walk(s)
                if isinstance(sub, (ast.Name, ast.Subscript))
                and isinstance(sub.ctx, ast.Store)
                and (getattr(sub, "id", None) == name or _subscripted(sub) == name)
            )
            self.refuse_run_list_change(node, name)

    def refuse_run_list_change(self, node, name: str):
        self.error(
            node,
            f"`{name}` is a list whose length is known only at run time; "
            "it can be appended to, not reassigned or assigned into",
            _CHANGE_HINT,
        )

    def carried_lists(self, stmt) -> set:
        """The names bound to run-time lists that ``stmt``'s body appends to (a
        loop carries their lengths)."""
        held = {n for n, v in self.env.items() if isinstance(v, RunList)}
        found = _appends(stmt.body, held)
        # one only assigned into (or rebound) would be carried as if an array
        for name in sorted(held & _stored_names(stmt.body, items=True)):
            self.check_append_only(stmt, name)
        for name in found:
            self.check_append_only(stmt, name)
            if isinstance(stmt, ast.For) and name in _iterated(stmt.iter):
                self.error(
                    found[name],
                    f"`{name}` is appended to in a loop over it; Python would "
                    "run over the items appended too",
                    f"loop over a copy made first (`for v in np.stack({name}):`) "
                    f"or over `range(n)` with `n = len({name})` taken before",
                )
        return set(found)

    def carried_values(self, env: dict, names: list, lists: set):
        """A loop's (inits, carried variables, the body's environment) for the
        locals ``names`` it carries; of a run-time list, its length."""
        inits = [env[n].n if n in lists else env[n] for n in names]
        carried = [
            self.namer.fresh(f"n_{env[n].buf.name}") if n in lists else self.phi_name(n)
            for n in names
        ]
        inner = dict(env)
        inner.update(zip(names, carried))
        self.env, saved = inner, self.env
        self.rebind_lists(env, names, carried, lists)
        self.env = saved
        return inits, carried, inner

    def rebind_lists(self, env: dict, names: list, carried: list, lists: set):
        """Bind each run-time list among ``names`` to its buffer and the length
        its loop carries (in ``self.env``)."""
        for n, c in zip(names, carried):
            if n in lists:
                self.env[n] = RunList(env[n].buf, c, env[n].ident)

    def listed_in_a_loop(self, comp):
        """``[f(v) for v in xs if c]`` with a loop of run-time length: lowered
        as ``items = []; for v in xs: if c: items.append(f(v))``, which makes
        the same items in the same order, a run-time list."""

        def append(acc: str) -> ast.stmt:
            method = ast.Attribute(ast.Name(acc, ast.Load()), "append", ast.Load())
            return ast.Expr(ast.Call(method, [comp.elt], []))

        named = self.assigned_value
        shown = named[1] if named is not None and named[0] is comp else "items"
        return self.comprehension_loop(comp, comp, "items", ast.List([]), append, shown)

    # --- changing them -----------------------------------------------------------------
    def run_list_method(self, node: ast.Call, func: ast.Attribute, name: str):
        """``xs.append(v)``: the only change a run-time list takes."""
        xs = self.env[name]
        if func.attr != "append":
            self.error(
                func,
                f"`{name}.{func.attr}()` on a list whose length is known only at "
                "run time is not supported",
                _CHANGE_HINT,
            )
        self.plain_arguments(node, f"{name}.append")
        self.arity(node, f"{name}.append", node.args, 1)
        self.check_unshared_run(node, name, xs)
        value = self.atom(node.args[0])
        self.check_number_aliases(node, value)  # xs.append(A[j])
        with self.b.at(self.src.loc(node)):
            self.b.emit(Eqn("list_append", (), (xs.buf, value, xs.n), self.b.loc))
            n = self.b.add(xs.n, Const(1))
        n = self.b.bind(n, f"n_{xs.buf.name}")
        self.env[name] = RunList(xs.buf, n, xs.ident)
        return TupleValue(())

    def check_unshared_run(self, node, name: str, xs: RunList) -> None:
        if xs.ident in self.lists_passed_in:
            self.error(
                node,
                f"`{name}` was passed in to this function and is appended to here; "
                "Python would change the caller's list too",
                "append in the function that made the list, or return the item",
            )
        for other, value in self.env.items():
            if other == name:
                continue
            if (isinstance(value, RunList) and value.ident == xs.ident) or (
                isinstance(value, TupleValue) and xs.ident in _held(value)
            ):
                self.error(
                    node,
                    f"`{name}` is also held by `{other}`, and is changed here: "
                    f"Python would change `{other}` too",
                    "append through one name only, and bind the other after "
                    "the list is complete",
                )

    # --- reading them ------------------------------------------------------------------
    def whole(self) -> bool:
        """Whether the code being lowered is outside every loop: there the
        buffer is exactly the list (the reverse sweep never recomputes it)."""
        return self.b.loop_depth == 0

    def run_list_index(self, node, xs: RunList, i):
        """The buffer index of ``xs[i]``: ``i`` itself where it is known to be
        non-negative, else ``n + i`` for a negative ``i`` -- outside loops too:
        the adjoint adds into the list of adjoints of the *last* buffer, which
        later appends may have made longer than the list read here."""
        if isinstance(i, Const):
            if type(i.value) is not int:
                self.error(node, "a list index must be an integer")
            if i.value >= 0:
                return i
            return self.b.sub(xs.n, Const(-i.value))
        if i.name in self.b.nonneg:
            return i
        negative = self.b.apply("lt", i, Const(0))
        return self.b.select(negative, self.b.add(i, xs.n), i)

    def run_list_item(self, node: ast.Subscript, xs: RunList):
        if isinstance(node.slice, ast.Slice):
            self.error(
                node,
                "a slice of a list whose length is known only at run time is "
                "not supported",
                "stack it first (`np.stack(xs)[a:b]`), or index its items",
            )
        i = self.atom(node.slice)
        with self.b.at(self.src.loc(node)):
            return self.b.apply("list_get", xs.buf, self.run_list_index(node, xs, i))

    def run_list_reduce(self, node: ast.Call, q: str, xs: RunList, callee: str):
        """``sum(xs)``, ``np.array(xs)``/``np.stack(xs)``, ``np.concatenate(xs)``."""
        prim = {
            "builtins.sum": "list_sum",
            "numpy.array": "list_stack",
            "numpy.stack": "list_stack",
            "numpy.concatenate": "list_concat",
        }.get(q)
        if prim is None:
            self.error(
                node,
                f"`{callee}` of a list whose length is known only at run time is "
                "not supported",
                "use sum(xs), np.stack(xs), np.concatenate(xs), or a loop over it",
            )
        axis = self.stack_axis(node, prim, callee)
        ns = "py" if prim == "list_sum" else "np"
        with self.b.at(self.src.loc(node), ns):
            out = self.b.apply(prim, xs.buf, xs.n, whole=self.whole())
            if not axis:
                return out
            # np.stack(xs, axis=a) is np.stack(xs) with its first axis moved to
            # a (a rank-independent row: its rules are built once ranks are known)
            return self.b.apply("moveaxis", out, source=(0,), destination=(axis,))

    def stack_axis(self, node: ast.Call, prim: str, callee: str) -> int:
        """The literal ``axis`` of ``np.stack(xs, axis)`` (0 when not given); any
        other argument of a run-time list's reduction is refused."""
        args, keywords = node.args[1:], list(node.keywords)
        axis_node = None
        if prim == "list_stack" and "stack" in callee:
            if args:
                axis_node, args = args[0], args[1:]
            found = [k for k in keywords if k.arg == "axis"]
            if found and axis_node is None:
                axis_node = found[0].value
                keywords.remove(found[0])
        if args or keywords:
            self.error(
                node,
                f"`{callee}` of a list whose length is known only at run time "
                "takes the list alone"
                + (
                    " (and `axis`)"
                    if prim == "list_stack" and "stack" in callee
                    else ""
                ),
                (
                    "add the start after: `start + sum(xs)`"
                    if prim == "list_sum"
                    else "stack or join along the first axis, then move it "
                    "(`np.moveaxis(np.stack(xs), 0, 1)`)"
                ),
            )
        if axis_node is None:
            return 0
        axis = self.static(axis_node, "`axis`")
        if not isinstance(axis, int) or isinstance(axis, bool):
            self.error(axis_node, "`axis` must be an int here")
        return axis

    # --- loops over them -----------------------------------------------------------------
    def run_time_zip(self, node: ast.expr):
        """What a ``for`` over a run-time list, or over ``zip``/``enumerate``
        with one, runs over: ``("rows", (parts, length))`` (see
        :meth:`bind_rows`); None if no run-time list is involved."""
        if isinstance(node, ast.Name) and isinstance(self.env.get(node.id), RunList):
            xs = self.env[node.id]
            return "rows", (("list", xs), xs.n)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return None
        q = getattr(self.resolve(node.func), "qualname", None)
        if q not in ("builtins.zip", "builtins.enumerate"):
            return None
        if not any(
            isinstance(a, ast.Name)
            and isinstance(self.env.get(a.id), RunList)
            or isinstance(a, ast.Call)
            and self.run_time_zip_probe(a)
            or q == "builtins.enumerate"  # enumerate(zip(A, B)) of arrays' rows
            and isinstance(a, ast.Call)
            and self.runs_over_rows(a)
            for a in node.args
        ):
            if q == "builtins.zip" and any(
                self.returns_values(a) or self.names_an_array(a) for a in node.args
            ):
                return self.zip_of_values(node)
            if q == "builtins.enumerate" and node.args:
                if self.returns_values(node.args[0]) or self.names_an_array(
                    node.args[0]
                ):
                    return self.enumerate_of_value(node)
            return None
        if q == "builtins.enumerate":
            start = self.enumerate_start(node)
            inner = self.run_time_zip(node.args[0])
            if inner is None:
                self.error(node, "`enumerate` takes a list and an integer literal")
            part, length = inner[1]
            return "rows", (("enumerate", start, part), length)
        self.plain_arguments(node, "zip")
        return self.zip_of_values(node)

    def returns_values(self, node) -> bool:
        """Whether ``node`` calls a function of the user's (or a nested one):
        what it returns, a run-time list perhaps, is known once it is lowered."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return False
        if isinstance(self.env.get(node.func.id), FunctionValue):
            return True
        return node.func.id not in self.locals and isinstance(
            self.lookup(node.func, node.func.id), UserFuncRef
        )

    def zip_of_values(self, node: ast.Call):
        """``zip(f(...), ...)``, ``zip(A, B)``: each argument lowered once; a
        run-time list or an array among them makes it a run-time loop, else
        the items are zipped."""
        values = [self.expr(a) for a in node.args]
        if any(isinstance(v, (RunList, Var)) for v in values):  # (an array: its rows)
            parts, length = [], None
            with self.b.at(self.src.loc(node)):
                for a, value in zip(node.args, values):
                    part, n = self.zip_part(a, value)
                    parts.append(part)
                    length = n if length is None else self.b.apply("min", length, n)
            return "rows", (("zip", tuple(parts)), length)
        for a, value in zip(node.args, values):
            if not isinstance(value, TupleValue):
                self.error(
                    a,
                    f"a `for` loop over `{ast.unparse(a)}` is not supported",
                    "use range(...), a tuple or list of values, or enumerate/zip "
                    "of them",
                )
        return "items", [TupleValue(row) for row in zip(*(v.items for v in values))]

    def enumerate_of_value(self, node: ast.Call):
        """``enumerate(f(...))``: the list ``f`` returns, lowered once;
        ``enumerate(xs, 1)`` or ``enumerate(xs, start=1)`` counts from 1."""
        start = self.enumerate_start(node)
        value = self.expr(node.args[0])
        if isinstance(value, RunList):
            return "rows", (("enumerate", start, ("list", value)), value.n)
        if isinstance(value, Var):  # an array: its rows, counted from start
            with self.b.at(self.src.loc(node)):
                length = self.b.apply("len", value)
            return "rows", (("enumerate", start, ("array", value)), length)
        if not isinstance(value, TupleValue):
            self.error(node.args[0], "`enumerate` of a value that is not a list")
        items = [TupleValue((Const(start + j), v)) for j, v in enumerate(value.items)]
        return "items", items

    def enumerate_start(self, node: ast.Call) -> int:
        """The start of ``enumerate(xs)``, ``enumerate(xs, k)`` or
        ``enumerate(xs, start=k)``: an int known when compiling."""
        given = list(node.args[1:]) + [k.value for k in node.keywords]
        if (
            len(node.args) < 1
            or len(given) > 1
            or any(k.arg != "start" for k in node.keywords)
            or any(isinstance(a, ast.Starred) for a in node.args)
        ):
            self.error(node, "`enumerate` takes a list and an integer `start`")
        try:
            start = self.static_value(given[0]) if given else 0
        except _NotStatic:
            start = None
        if type(start) is not int:
            self.error(
                given[0], "the start of `enumerate` must be an int known when compiling"
            )
        return start

    def names_an_array(self, node) -> bool:
        """Whether ``node`` is a local name holding an array (or number), or a
        constant item of one or of a tree: a ``zip``/``enumerate`` of it runs
        over its rows, their number known at run time (``for q, l in zip(qs,
        ls)``)."""
        if isinstance(node, ast.Subscript):  # a leaf of a tree: `p["mu"]`, `ps[0]`
            base = node.value  # or an item of an array: `X[0]` (numbers too)
            return isinstance(self.tree_leaf(node), Var) or (
                isinstance(base, ast.Name)
                and base.id in self.locals
                and isinstance(self.env.get(base.id), Var)
            )
        return isinstance(node, ast.Name) and isinstance(self.env.get(node.id), Var)

    def tree_leaf(self, node: ast.Subscript):
        """The value of ``p["k"]`` or ``ps[i]`` for a local tree ``p`` and a
        literal key or index, found without lowering anything; None otherwise."""
        base, key = node.value, node.slice
        if not (isinstance(base, ast.Name) and base.id in self.locals):
            return None
        tree = self.env.get(base.id)
        if not isinstance(key, ast.Constant):
            return None
        if isinstance(tree, DictValue) and isinstance(key.value, str):
            return tree.get(key.value)
        if isinstance(tree, TupleValue) and type(key.value) is int:
            if -len(tree.items) <= key.value < len(tree.items):
                return tree.items[key.value]
        return None

    def zip_part(self, a, value):
        """One argument of a run-time ``zip``: a run-time list or an array."""
        if isinstance(value, RunList):
            return ("list", value), value.n
        if isinstance(value, Var):
            return ("array", value), self.b.apply("len", value)
        self.error(
            a,
            "`zip` with a list whose length is known only at run time "
            "takes such lists and arrays",
            "index the other sequence by the loop's index instead",
        )

    def run_time_zip_probe(self, node) -> bool:
        """Whether ``node`` is ``zip``/``enumerate`` of a run-time list's name."""
        return isinstance(node.func, ast.Name) and any(
            isinstance(a, ast.Name) and isinstance(self.env.get(a.id), RunList)
            for a in node.args
        )

    def bind_rows(self, target, part, index):
        """The loop variable(s) of iteration ``index`` of a run-time list loop."""
        self.b.nonneg.add(index.name)
        self.assign(target, self.row_value(part, index))

    def row_value(self, part, index):
        kind = part[0]
        if kind == "list":
            return self.b.apply("list_get", part[1].buf, index)
        if kind == "array":
            return self.b.apply("getitem", part[1], index, index=("a",))
        if kind == "enumerate":
            start = part[1]
            k = self.b.add(index, Const(start)) if start else index
            return TupleValue((k, self.row_value(part[2], index)))
        return TupleValue(tuple(self.row_value(p, index) for p in part[1]))

    # --- merging at the end of an `if` ----------------------------------------------------
    def merge_run_lists(self, node, name: str, a, b, phi):
        if not (isinstance(a, RunList) and isinstance(b, RunList)) or a.buf != b.buf:
            self.error(
                node,
                f"`{name}` holds a different list on each path through this `if`",
                "append to the same list on every path (`xs.append(v)` in a branch "
                "is fine); make a new list before the `if`",
            )
        n = phi(a.n, b.n, None if a.n == b.n else self.namer.fresh(f"n_{a.buf.name}"))
        return RunList(a.buf, n, a.ident)


def _iterated(node) -> set:
    """The names a ``for`` runs over the items of: ``xs``, ``zip(xs, ys)``,
    ``enumerate(xs)`` (not ``range(len(xs))``: its length is taken once)."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in ("zip", "enumerate", "reversed"):
            return set().union(*(_iterated(a) for a in node.args))
    return set()


def _target_names(target) -> set:
    names: set = set()
    _store_names(target, names)
    return names


def _subscripted(node) -> str | None:
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return node.value.id
    return None


def _held(value) -> set:
    out: set = set()
    for item in value.items:
        if isinstance(item, (ListValue, RunList)):
            out.add(item.ident)
        if isinstance(item, TupleValue):
            out |= _held(item)
    return out
