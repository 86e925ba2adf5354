"""Lowering of Python lists: literals, ``append``/``extend``, comprehensions,
``sum``/``max``/``min`` of a list, ``np.array``/``np.stack`` of one, and the
loops that build them (unrolled when their length is known when compiling).

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.  A list exists only
while lowering (:class:`~ad_compiler.frontend.lower_values.ListValue`): at each
point of the function its length is known and each item is an IR atom (or a
tuple or list), so the IR never holds a list and every derivative rule applies
unchanged.  ``xs.append(v)`` binds ``xs`` to a list one item longer; ``sum(xs)``
is ``xs[0] + xs[1] + …``; ``np.stack(xs)`` is one ``stack`` equation of the
items.

Guarantees:

* Python's semantics where a list is supported: the same items, in the same
  order, evaluated in the same order (a comprehension's element once per
  item that passes its ``if``\\ s, its later ``for``\\ s once per item of the
  earlier ones);
* a loop whose body changes a list (or a tuple held by a name) is unrolled
  when its number of iterations is known when compiling (``range`` of bounds
  known then, a list or tuple); so is a loop over items of different
  structure.  Any other loop stays a loop, with the code it had before;
* a loop whose number of iterations is known only at run time and whose body
  changes lists only by ``append`` makes them run-time lists, values of the
  IR (:mod:`~ad_compiler.frontend.lower_runlists`, :meth:`unrolled`);
* what cannot be followed is refused at the construct, with what to write:
  another change of a list in a loop whose length is known only at run
  time (an ``extend``, an item assigned, the name rebound), a list
  shared by two names and then changed, a list changed inside a function it
  was passed to, an ``if`` after which a list has a different length on each
  path, ``pop``/``insert`` and the other mutating methods.
"""

from __future__ import annotations

import ast
import itertools
import operator

from ad_compiler.frontend.lower_control import _has_jump, _store_names, _stored_names
from ad_compiler.frontend.lower_trees import TreeNeeded
from ad_compiler.frontend.lower_values import ListValue, RunList, TupleValue
from ad_compiler.frontend.scope import StaticScope, ValueRef
from ad_compiler.ir.nodes import Const, Var

# a fresh ident per list object made while lowering (0: a list made elsewhere)
_IDENTS = itertools.count(1)

# the list methods that change it, besides append and extend
_OTHER_MUTATORS = ("insert", "pop", "remove", "clear", "reverse", "sort")

_RUN_TIME_HINT = (
    "build the list with `xs.append(v)` only (such a list is supported), or "
    "preallocate an array and write its rows (`out = np.zeros((n, m))`, then "
    "`out[t] = ...`), or accumulate a sum (`total = total + ...`); a loop over "
    "`range` with bounds known when compiling, or over a list or tuple, is unrolled"
)

_STATIC_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_STATIC_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class _NotStatic(Exception):
    """The expression's value is known only at run time."""


def _uniform(values) -> bool:
    """Whether a rolled loop can pick item ``k`` of ``values`` by ``select``\\ s:
    all atoms, or all tuples of one width whose columns are uniform.  Static
    values (dict keys), dicts and functions are never picked: such a loop is
    unrolled, each iteration with its own."""
    if any(not isinstance(v, (TupleValue, Var, Const)) for v in values):
        return False
    if not any(isinstance(v, TupleValue) for v in values):
        return True
    if any(not isinstance(v, TupleValue) or isinstance(v, ListValue) for v in values):
        return False
    widths = {len(v.items) for v in values}
    if len(widths) != 1:
        return False
    width = widths.pop()
    return all(_uniform([v.items[j] for v in values]) for j in range(width))


def _count(value) -> bool:
    """Whether ``value`` is an int known now (``[0.0] * n``)."""
    return isinstance(value, Const) and type(value.value) is int


def _idents(value, out: set) -> set:
    """The idents of the lists inside ``value`` (itself included)."""
    if isinstance(value, (ListValue, RunList)):
        out.add(value.ident)
    if isinstance(value, TupleValue):
        for item in value.items:
            _idents(item, out)
    return out


def list_idents(values) -> frozenset:
    """The idents of every list held in ``values`` (an inlined callee's arguments)."""
    out: set = set()
    for v in values:
        _idents(v, out)
    return frozenset(out)


def _is_list_method(node: ast.AST, names: set) -> str | None:
    """``n`` of a call ``n.append(...)`` (any list method) with ``n`` in ``names``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in names
        and node.func.attr in ("append", "extend") + _OTHER_MUTATORS
    ):
        return node.func.value.id
    return None


class ListLowering:
    """The list parts of lowering (mixed into Lowerer)."""

    # --- making lists -------------------------------------------------------------
    def new_list(self, items, ident: int | None = None) -> ListValue:
        """A list of ``items``; a new list object unless ``ident`` is given."""
        items = tuple(items)
        self.b.keep_names(items)  # the items are now reachable from the list
        return ListValue(items, next(_IDENTS) if ident is None else ident)

    def expr_List(self, node: ast.List):
        return self.new_list(self.spliced(node.elts))

    def spliced(self, elts) -> list:
        """The values of a literal's elements, ``*xs`` spliced in."""
        out = []
        for e in elts:
            if isinstance(e, ast.Starred):
                value = self.expr(e.value)
                if not isinstance(value, TupleValue):
                    self.error(e, "only a list or tuple can be star-unpacked here")
                out.extend(value.items)
            else:
                out.append(self.expr(e))
        return out

    def expr_ListComp(self, node: ast.ListComp):
        if self.runs_at_run_time(node):  # a run-time list (lower_runlists)
            return self.listed_in_a_loop(node)
        return self.new_list(self.comprehension(node))

    def expr_GeneratorExp(self, node: ast.GeneratorExp):
        # consumed once, whole, by what it is passed to (sum, np.stack ...): a list
        if self.runs_at_run_time(node):
            return self.listed_in_a_loop(node)
        return self.new_list(self.comprehension(node))

    def comprehension(self, node) -> list:
        """The items of a comprehension, unrolled: its loops must have lengths
        known when compiling and its ``if``\\ s be decided then."""
        names: set[str] = set()
        for gen in node.generators:
            _store_names(gen.target, names)
        saved = self.env, self.locals
        # a comprehension's names are its own: bound here, gone after it
        self.locals = self.locals | names
        self.namer.taken |= names  # IR names are never reused, here or after
        self.env = dict(self.env)
        out: list = []
        try:
            self.generate(node, 0, out)
        finally:
            self.env, self.locals = saved
        return out

    def generate(self, node, k: int, out: list) -> None:
        if k == len(node.generators):
            out.append(self.expr(node.elt))
            return
        gen = node.generators[k]
        if gen.is_async:
            self.error(gen.iter, "`async for` in a comprehension is not supported")
        for item in self.known_items(gen.iter, "a comprehension"):
            self.assign(gen.target, item)
            if all(self.comprehension_keeps(cond) for cond in gen.ifs):
                self.generate(node, k + 1, out)

    def comprehension_keeps(self, cond: ast.expr) -> bool:
        """The value of a comprehension's ``if``, which must be known when compiling
        (in :meth:`summed_items`, :class:`_NotStatic` if it is not)."""
        try:
            return bool(self.static_value(cond))
        except _NotStatic:
            if self.summing:
                raise
            self.error(
                cond,
                "this `if` of a comprehension depends on a value known only at "
                "run time, so the number of items is not known when compiling",
                "keep every item and choose its value: "
                "`sum(x if x > 0 else 0.0 for x in xs)`",
            )

    def known_items(self, node: ast.expr, what: str) -> list:
        """The items ``node`` runs over, their number known when compiling."""
        found = self.dict_items(node)  # a dict parameter, its .items() ...
        if found is not None:
            return found
        if self.is_range(node):
            bounds = self.static_range(node)
            if bounds is None:
                self.error(
                    node,
                    f"{what} over `{ast.unparse(node)}`: its length is known only "
                    "at run time",
                    "use bounds known when compiling (literals, module constants, "
                    "`len` of a list), or " + _RUN_TIME_HINT,
                )
            return [Const(i) for i in range(*bounds)]
        if isinstance(node, ast.Call) and getattr(
            self.resolve(node.func), "qualname", None
        ) not in ("builtins.enumerate", "builtins.zip"):
            value = self.expr(node)  # list(t), a helper returning a list ...
            if isinstance(value, TupleValue):
                return list(value.items)
            self.error(
                node,
                f"{what} over `{ast.unparse(node)}`, which is not a list or tuple",
                "use range(...), a list or tuple, or enumerate/zip of them",
            )
        over, args = self.iteration(node)
        if over != "items":
            self.error(
                node,
                f"{what} over the rows of an array: their number is known only at "
                "run time",
                "use array operations on the whole array (np.sum(x), np.max(x) "
                "...), or " + _RUN_TIME_HINT,
            )
        return list(args)

    def is_range(self, node: ast.expr) -> bool:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return False
        if node.func.id in self.locals:
            return False
        ref = self.lookup(node.func, node.func.id)
        return getattr(ref, "qualname", None) == "builtins.range"

    def static_range(self, node: ast.Call) -> tuple | None:
        """``range(...)``'s (start, stop, step) if they are known when compiling."""
        if node.keywords or not 1 <= len(node.args) <= 3:
            return None
        try:
            values = [self.static_value(a) for a in node.args]
        except _NotStatic:
            return None
        if not all(type(v) is int for v in values) or (
            len(values) == 3 and values[2] == 0
        ):
            return None
        return tuple(values) if len(values) > 1 else (0, values[0])

    # --- values known when compiling ------------------------------------------------
    def static_value(self, node: ast.expr):
        """The value of an integer/boolean expression made of literals, names bound
        to numbers known now (loop indices of unrolled loops, module constants),
        ``len`` of lists, arithmetic and comparisons; :class:`_NotStatic` if it
        depends on a value known only at run time.  Nothing is emitted."""
        if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                value = self.env.get(node.id)
                if isinstance(value, Const):
                    return value.value
                raise _NotStatic
            ref = self.lookup(node, node.id)
            if isinstance(ref, ValueRef):
                return ref.value
            raise _NotStatic
        if isinstance(node, ast.UnaryOp):
            value = self.static_value(node.operand)
            if isinstance(node.op, ast.USub):
                return -value
            if isinstance(node.op, ast.Not):
                return not value
            if isinstance(node.op, ast.UAdd):
                return value
        if isinstance(node, ast.BinOp) and type(node.op) in _STATIC_BINOPS:
            left, right = self.static_value(node.left), self.static_value(node.right)
            try:
                return _STATIC_BINOPS[type(node.op)](left, right)
            except ArithmeticError:
                raise _NotStatic from None  # Python's error, raised at run time
        if isinstance(node, ast.Compare) and all(
            type(op) in _STATIC_COMPARE for op in node.ops
        ):
            left = self.static_value(node.left)
            for op, comparator in zip(node.ops, node.comparators):
                right = self.static_value(comparator)
                if not _STATIC_COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            values = [self.static_value(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return next((v for v in values if not v), values[-1])
            return next((v for v in values if v), values[-1])
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "len"
            and node.func.id not in self.locals
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in self.locals
        ):
            value = self.env.get(node.args[0].id)
            if isinstance(value, TupleValue):
                return len(value.items)
        raise _NotStatic

    # --- loops that build lists: unrolled ---------------------------------------------
    def changed_sequences(self, stmts: list) -> dict:
        """The names bound now to a list or tuple that ``stmts`` change (append to,
        write an item of, or reassign), each with the first place it happens."""
        held = {n for n, v in self.env.items() if isinstance(v, TupleValue)}
        if not held:
            return {}
        found: dict = {}
        for stmt in stmts:
            for sub in ast.walk(stmt):
                name = _is_list_method(sub, held)
                if name is None and isinstance(sub, (ast.Assign, ast.AugAssign)):
                    stored = _stored_names([sub], items=True) & held
                    name = min(stored) if stored else None
                if name is None and isinstance(sub, ast.For):
                    stored: set = set()
                    _store_names(sub.target, stored)
                    name = min(stored & held) if stored & held else None
                if name is not None and name not in found:
                    found[name] = sub
        return found

    def indexes_items(self, stmts: list) -> bool:
        """Whether ``stmts`` index a list or tuple held by a name with an index
        that is not a literal (``Ws[i]``): unrolled, each copy picks its item,
        which may differ in shape from the others (a chain of ``select``\\ s
        could not pick among arrays of different shapes)."""
        held = {n for n, v in self.env.items() if isinstance(v, TupleValue)}
        return any(
            isinstance(sub, ast.Subscript)
            and isinstance(sub.value, ast.Name)
            and sub.value.id in held
            and not isinstance(sub.slice, (ast.Constant, ast.UnaryOp, ast.Slice))
            for stmt in stmts
            for sub in ast.walk(stmt)
        )

    def unrolled(self, stmt):
        """Lower ``stmt`` unrolled if it must be (see the module docstring) and
        return True; else return what a ``for`` runs over (for :meth:`loop`)."""
        changed = self.changed_sequences(stmt.body)
        if isinstance(stmt, ast.While):
            if changed and not self.appends_only(changed):
                self.refuse_run_time(changed)
            if changed:
                self.run_time_lists(stmt, changed)
            return None
        values = None
        if self.is_range(stmt.iter):
            bounds = self.static_range(stmt.iter)
            if not changed and (bounds is None or not self.indexes_items(stmt.body)):
                return None  # a range loop stays a loop (lower_control.iteration)
            if bounds is not None:
                values = [Const(i) for i in range(*bounds)]
        else:
            over, args = self.iteration(stmt.iter)
            if over == "items":
                values = list(args)
            if not changed and (over != "items" or _uniform(values)):
                return over, args
        if values is None:
            # lists appended to at run time (lower_runlists); over a parameter,
            # once its argument's structure is known (a tuple: unrolled)
            if self.appends_only(changed):
                # (adc compile: a parameter not declared a tree is an array)
                static = isinstance(self.scope, StaticScope)
                if self.iterates_parameter(stmt.iter) and not static:
                    self.refuse_run_time(changed, stmt.iter, leaves_suffice=True)
                self.run_time_lists(stmt, changed)
                return None if self.is_range(stmt.iter) else (over, args)
            self.refuse_run_time(changed, stmt.iter)
        if _has_jump(stmt.body) or _has_jump(stmt.orelse):
            jump = next(
                n
                for s in stmt.body + stmt.orelse
                for n in ast.walk(s)
                if isinstance(n, (ast.Break, ast.Continue, ast.Return))
            )
            self.error(
                jump,
                "`break`, `continue` and `return` are not supported in a loop that "
                "is unrolled (it changes a list or tuple, or runs over items of "
                "different structure)",
                "compute a flag and test it with `if`, and leave the loop at its end",
            )
        for value in values:
            with self.b.at(self.src.loc(stmt.target)):
                self.assign(stmt.target, value)
            self.lower_seq(stmt.body)
        if stmt.orelse:  # no `break`: the `else` block always runs
            self.lower_seq(stmt.orelse)
        return True

    def refuse_run_time(
        self, changed: dict, over: ast.expr | None = None, leaves_suffice=False
    ):
        name, node = min(changed.items(), key=lambda kv: (kv[1].lineno, kv[0]))
        what = (
            f"`{name}.{node.func.attr}`"
            if isinstance(node, ast.Call)
            else f"changing `{name}` (a list or tuple)"
        )
        message = (
            f"{what} in a loop whose number of iterations is known only at run "
            "time is not supported"
        )
        if over is not None and self.iterates_parameter(over):
            # `range(len(p))`, `zip(p, q)`: known once p's structure is
            loc = self.src.loc(node)
            error = TreeNeeded(message, loc, _RUN_TIME_HINT, self.src.line(loc))
            # compiled for its leaves: an array argument needs no structure
            error.leaves_suffice = leaves_suffice
            raise error
        self.error(node, message, _RUN_TIME_HINT)

    def iterates_parameter(self, over: ast.expr) -> bool:
        """Whether a loop over ``over`` runs over a parameter lowered before its
        argument's structure is known (``p``, ``len(p)``, ``zip(p, q)`` ...): a
        tuple or list argument would give the loop a known number of items."""
        if not self.eager_params:
            return False
        todo = [over]
        while todo:
            n = todo.pop()
            if isinstance(n, ast.Name):
                if n.id in self.eager_params and self.env.get(n.id) is not None:
                    return True
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
                if n.func.id in ("len", "zip", "enumerate", "reversed"):
                    todo.extend(n.args)
                elif n.func.id == "range":  # range(len(p)), not range(n)
                    todo.extend(a for a in n.args if isinstance(a, ast.Call))
        return False

    # --- methods and item assignment --------------------------------------------------
    def is_sequence_method(self, func: ast.Attribute) -> bool:
        return (
            isinstance(func.value, ast.Name)
            and func.value.id in self.locals
            and isinstance(self.env.get(func.value.id), (TupleValue, RunList))
        )

    def sequence_method(self, node: ast.Call, func: ast.Attribute):
        """``xs.append(v)`` and ``xs.extend(ys)``; the other methods are refused."""
        name = func.value.id
        xs = self.name(func.value, name)
        if isinstance(xs, RunList):  # its length known only at run time
            return self.run_list_method(node, func, name)
        if not isinstance(xs, ListValue):
            self.error(func, f"a tuple has no method `.{func.attr}`")
        if func.attr not in ("append", "extend"):
            hint = {
                "pop": "read the item (`v = xs[-1]`), then rebuild: `xs = xs[:-1]`",
                "insert": "build a new list: `xs = xs[:i] + [v] + xs[i:]`",
            }.get(func.attr, "build a new list with slices, `+` or a comprehension")
            self.error(func, f"the list method `.{func.attr}()` is not supported", hint)
        self.plain_arguments(node, f"{name}.{func.attr}")
        self.arity(node, f"{name}.{func.attr}", node.args, 1)
        self.check_unshared(node, name, xs)
        if func.attr == "append":
            added = [self.expr(node.args[0])]
            self.check_number_aliases(node, added[0])  # xs.append(A[j])
        else:
            added = self.known_items(node.args[0], "`extend` with an iteration")
        self.bind(name, self.new_list(xs.items + tuple(added), xs.ident))
        return TupleValue(())  # None: using it as a number is an error

    def extend_in_place(self, stmt: ast.AugAssign, xs: ListValue):
        """``xs += ys``: Python extends the list object itself (every name for it
        sees the new items), unlike ``xs = xs + ys``."""
        name = stmt.target.id
        if not isinstance(stmt.op, ast.Add):
            self.error(stmt, "arithmetic on tuples or lists is not supported")
        self.check_unshared(stmt, name, xs)
        added = self.known_items(stmt.value, "`+=` with an iteration")
        return self.bind(name, self.new_list(xs.items + tuple(added), xs.ident))

    def check_unshared(self, node: ast.AST, name: str, xs: ListValue) -> None:
        """Refuse to change a list that another name (or list) also holds, or that
        was passed in: Python would change it there too."""
        if xs.ident == 0 or xs.ident in self.lists_passed_in:
            self.error(
                node,
                f"`{name}` was passed in to this function and is changed here; "
                "Python would change the caller's list too",
                f"build a new list: `{name} = {name} + [v]`, and return it",
            )
        for other, value in self.env.items():
            held = _idents(value, set())
            if xs.ident in held and (other != name or not isinstance(value, ListValue)):
                self.error(
                    node,
                    f"`{name}` is also held by `{other}`, and is changed here: "
                    f"Python would change `{other}` too",
                    (
                        f"copy it where the second name is made: `{other} = list({name})`"
                        if isinstance(value, ListValue)
                        else "build the container after the list is complete"
                    ),
                )

    def assign_sequence_item(self, target: ast.Subscript, value, op=None):
        """``xs[i] = v`` (or ``xs[i] += v``) on a list, ``i`` known when compiling."""
        name = target.value.id
        xs = self.name(target.value, name)
        if not isinstance(xs, ListValue):
            self.error(target, "a tuple's items cannot be assigned (it is immutable)")
        k = self.static_index(target.slice, len(xs.items), "an index assigned to")
        self.check_unshared(target, name, xs)
        if op is not None:
            value = self.binop(target, op, xs.items[k], value)
        items = list(xs.items)
        items[k] = value
        return self.bind(name, self.new_list(items, xs.ident))

    # --- reading lists ------------------------------------------------------------------
    def static_index(self, node: ast.expr, n: int, what: str) -> int:
        try:
            k = self.static_value(node)
        except _NotStatic:
            self.error(
                node,
                f"{what} a list must be known when compiling",
                "use a literal, or an index of a loop over `range` with known bounds",
            )
        if type(k) is not int or not -n <= k < n:
            self.error(node, f"index {k!r} is out of range for a list of {n} items")
        return k

    def sequence_item(self, node: ast.Subscript, base: TupleValue):
        """``xs[k]`` (``k`` known now, or a loop's index), ``xs[a:b:c]`` (known now)."""
        s = node.slice
        if isinstance(s, ast.Slice):
            bounds = []
            for part in (s.lower, s.upper, s.step):
                try:
                    bounds.append(None if part is None else self.static_value(part))
                except _NotStatic:
                    self.error(
                        part,
                        "the bounds of a slice of a list must be known when compiling",
                        "use literals or `len(xs)`",
                    )
            items = base.items[slice(*bounds)]
            return (
                self.new_list(items)
                if isinstance(base, ListValue)
                else TupleValue(items)
            )
        try:
            k = self.static_value(s)
        except _NotStatic:
            return self.picked(node, base)
        if type(k) is not int or not -len(base.items) <= k < len(base.items):
            self.error(node, f"index {k!r} is out of range for {len(base.items)} items")
        return base.items[k]

    def picked(self, node: ast.Subscript, base: TupleValue):
        """``xs[i]`` with ``i`` known at run time (a rolled loop's index):
        ``xs[0] if i % n == 0 else xs[1] if i % n == 1 else …`` for ``n`` items."""
        if any(isinstance(v, TupleValue) for v in base.items) or not base.items:
            self.error(
                node,
                "a list or tuple indexed by a value known only at run time must hold numbers",
                "loop over the list itself: `for item in xs:`",
            )
        k = self.atom(node.slice)
        with self.b.at(self.src.loc(node)):
            # Python's xs[-1] is the last item: k % n picks it (an index out of
            # range, where Python raises IndexError, wraps around too)
            k = self.b.apply("mod", k, Const(len(base.items)))
            result = base.items[-1]
            for j in range(len(base.items) - 2, -1, -1):
                hit = self.b.apply("eq", k, Const(j))
                result = self.b.select(hit, base.items[j], result)
        return result

    def sequence_binop(self, op: ast.operator, left, right):
        """``xs + ys`` and ``xs * n`` (``n`` known now); None where Python refuses."""
        if isinstance(op, ast.Add) and type(left) is type(right):
            seq, items = left, left.items + right.items
        elif (
            isinstance(op, ast.Mult) and isinstance(left, TupleValue) and _count(right)
        ):
            seq, items = left, left.items * right.value
        elif (
            isinstance(op, ast.Mult) and isinstance(right, TupleValue) and _count(left)
        ):
            seq, items = right, right.items * left.value
        else:
            return None
        return self.new_list(items) if isinstance(seq, ListValue) else TupleValue(items)

    def merge_sequences(self, node, name: str, a, b, phi):
        """``name`` after an ``if``: a list (tuple) of the same length on both
        paths, merged item by item."""
        if not (isinstance(a, TupleValue) and isinstance(b, TupleValue)) or (
            isinstance(a, ListValue) != isinstance(b, ListValue)
        ):
            self.error(
                node,
                f"`{name}` holds a list or tuple on one path through this `if` "
                "and a number on the other",
                "give it the same kind of value on every path",
            )
        if len(a.items) != len(b.items):
            self.error(
                node,
                f"`{name}` has {len(a.items)} items after one path through this "
                f"`if` and {len(b.items)} after the other: its length must be "
                "known when compiling",
                f"add an item on every path (`{name}.append(v if c else 0.0)`)",
            )
        items = [
            (
                self.merge_sequences(node, name, x, y, phi)
                if isinstance(x, TupleValue) or isinstance(y, TupleValue)
                else phi(x, y)
            )
            for x, y in zip(a.items, b.items)
        ]
        if isinstance(a, ListValue):
            same = a.ident == b.ident
            return self.new_list(items, a.ident if same else None)
        return TupleValue(tuple(items))

    # --- builtins and NumPy functions of lists ------------------------------------------
    def list_operands(self, node: ast.Call, callee: str) -> list:
        """The arrays of ``np.stack(xs)`` / ``np.concatenate(xs)``."""
        arg = node.args[0] if node.args else None
        if isinstance(arg, (ast.List, ast.Tuple)) and not any(
            isinstance(e, ast.Starred) for e in arg.elts
        ):
            return [self.atom(e) for e in arg.elts]
        value = self.expr(arg) if arg is not None else None
        if isinstance(value, RunList):
            return value
        if not isinstance(value, TupleValue):
            self.error(
                node,
                f"`{callee}` needs a list or tuple of arrays",
                f"write {callee}([a, b]), or pass a list built in the function",
            )
        if not value.items:
            self.error(
                node, f"`{callee}` of an empty list", "give it at least one array"
            )
        for item in value.items:
            if isinstance(item, TupleValue):
                self.error(
                    node,
                    f"`{callee}` of a list of lists is not supported",
                    "stack the inner lists first",
                )
        return list(value.items)

    def is_list_call(self, node: ast.Call, q: str) -> bool:
        if q in ("builtins.sum", "builtins.list", "builtins.tuple", "numpy.array"):
            return True
        if q == "builtins.reversed":
            return True
        return q in ("builtins.max", "builtins.min") and len(node.args) == 1

    def list_call(self, node: ast.Call, q: str, callee: str):
        """``sum``, ``list``, ``tuple``, ``reversed``, ``max``/``min`` of one
        list, ``np.array``."""
        if q != "numpy.array":
            self.plain_arguments(node, callee)
        elif node.keywords:
            self.error(
                node.keywords[0],
                f"keyword argument `{node.keywords[0].arg}` to `{callee}` is not supported",
                "arrays are float64",
            )
        limit = 2 if q == "builtins.sum" else 1
        if not 1 <= len(node.args) <= limit:
            self.arity(node, callee, node.args, 1, also=limit if limit > 1 else None)
        arg = node.args[0]
        value = None  # a list returned by a call, lowered once
        if isinstance(arg, ast.Name) or (
            isinstance(arg, ast.Call)
            and not self.is_range(arg)
            and getattr(self.resolve(arg.func), "qualname", None)
            not in ("builtins.enumerate", "builtins.zip")
        ):
            value = self.expr(arg)
            if isinstance(value, RunList):  # (lower_runlists)
                return self.run_list_reduce(node, q, value, callee)
        if q == "numpy.array":
            return self.array_of(node, value or self.expr(arg), callee)
        if q == "builtins.sum" and self.runs_at_run_time(arg):
            return self.summed_in_a_loop(node, arg)
        if q == "builtins.sum" and isinstance(arg, (ast.GeneratorExp, ast.ListComp)):
            items = self.summed_items(arg)
            if items is None:  # an `if` decided at run time: a loop adding
                return self.summed_in_a_loop(node, arg)
        elif isinstance(value, TupleValue):
            items = list(value.items)
        else:
            items = self.known_items(arg, f"`{callee}`")
        if q == "builtins.list":
            return self.new_list(items)
        if q == "builtins.reversed":  # an iterator in Python; read as a list here
            return self.new_list(items[::-1])
        if q == "builtins.tuple":
            return TupleValue(tuple(items))
        for item in items:
            if isinstance(item, TupleValue):
                self.error(
                    node, f"`{callee}` of a list of lists or tuples is not supported"
                )
        with self.b.at(self.src.loc(node)):
            if q == "builtins.sum":  # start + xs[0] + xs[1] + ..., left to right
                if len(node.args) == 2:
                    items = [self.atom(node.args[1])] + items
                if not items:
                    return Const(0)
                result = items[0]
                for item in items[1:]:
                    result = self.b.add(result, item)
                return result
            if not items:
                self.error(node, f"`{callee}` of an empty list", "Python raises here")
            prim = q.split(".")[1]
            result = items[0]  # the first maximal item wins, as in Python
            for item in items[1:]:
                result = self.b.apply(prim, result, item)
            return result

    def summed_items(self, comp) -> list | None:
        """The items of ``sum``'s comprehension, unrolled; None (and nothing
        emitted) if one of its ``if``\\ s is decided only at run time."""
        outer, self.summing = self.summing, True
        undecided = False
        try:
            with self.b.block() as eqns:  # kept aside until the items are known
                items = self.comprehension(comp)
        except _NotStatic:
            undecided = True
        finally:
            self.summing = outer
        if undecided:
            return None
        for eqn in eqns:
            self.b.emit(eqn)
        return items

    def runs_at_run_time(self, node: ast.expr) -> bool:
        """Whether ``node`` is a comprehension one of whose loops has a length
        known only at run time: ``range(n)`` of such an ``n``, or an array's rows."""
        if not isinstance(node, (ast.GeneratorExp, ast.ListComp)):
            return False
        for gen in node.generators:
            if self.is_range(gen.iter) and self.static_range(gen.iter) is None:
                return True
            if self.runs_over_rows(gen.iter):
                return True
        return False

    def runs_over_rows(self, node: ast.expr) -> bool:
        """Whether iterating ``node`` runs over an array's rows or a run-time
        list: such a name, a tree's leaf (``p["mu"]``), or ``zip``/``enumerate``
        (nested too: ``enumerate(zip(hs, xs))``) with one of those."""
        if isinstance(node, ast.Name) and node.id in self.locals:
            return not isinstance(self.env.get(node.id), TupleValue)
        if isinstance(node, ast.Subscript):
            return self.names_an_array(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("zip", "enumerate") and node.func.id not in self.locals:
                return any(
                    self.names_an_array(a)
                    or isinstance(a, ast.Name)
                    and isinstance(self.env.get(a.id), RunList)
                    or isinstance(a, ast.Call)
                    and self.runs_over_rows(a)
                    for a in node.args
                )
        return False

    def summed_in_a_loop(self, node: ast.Call, comp) -> object:
        """``sum(f(v) for v in range(n) if c)`` with ``n`` known only at run time:
        lowered as the loop ``total = start; for v in range(n): if c: total =
        total + f(v)``, which adds the same terms in the same order (the
        comprehension's names stay its own)."""
        start = node.args[1] if len(node.args) == 2 else ast.Constant(0)

        def add(acc: str) -> ast.stmt:
            return ast.Assign(
                targets=[ast.Name(acc, ast.Store())],
                value=ast.BinOp(ast.Name(acc, ast.Load()), ast.Add(), comp.elt),
            )

        return self.comprehension_loop(comp, node, "total", start, add)

    def comprehension_loop(
        self, comp, at: ast.AST, base: str, init, each, shown=None
    ) -> object:
        """Lower ``acc = init`` then the comprehension ``comp``'s loops (its
        ``for``\\ s nested, its ``if``\\ s inside) around the statement
        ``each(acc)``, located at ``at``; the comprehension's names stay its
        own.  Returns what ``acc`` holds after the loops (``acc``: ``base``, or
        ``base_1`` ... if that name is taken; ``shown``: the name a list made
        there has in the emitted code)."""
        acc, k = base, 0
        while acc in self.locals or acc in self.used or acc in self.namer.taken:
            k += 1
            acc = f"{base}_{k}"
        stmt = each(acc)
        if shown is not None:
            self.buffer_names[acc] = shown
        names: set[str] = {acc}
        for gen in reversed(comp.generators):
            if gen.is_async:
                self.error(gen.iter, "`async for` in a comprehension is not supported")
            for cond in reversed(gen.ifs):
                stmt = ast.If(test=cond, body=[stmt], orelse=[])
            stmt = ast.For(target=gen.target, iter=gen.iter, body=[stmt], orelse=[])
            _store_names(gen.target, names)
        init = ast.Assign(targets=[ast.Name(acc, ast.Store())], value=init)
        stmts = [init, stmt]
        for s in stmts:
            for sub in ast.walk(s):  # located at `at`, for messages and comments
                if not hasattr(sub, "lineno") or sub is s or sub is stmt:
                    ast.copy_location(sub, at)
        saved = self.env, self.locals
        self.locals = self.locals | names
        self.namer.taken |= names  # IR names are never reused, here or after
        self.env = dict(self.env)
        try:
            self.lower_seq(stmts)
            return self.env[acc]
        finally:
            self.env, self.locals = saved

    def array_of(self, node: ast.Call, value, callee: str):
        """``np.array(xs)``: the items stacked along a new first axis (nested lists
        stacked first, so ``np.array([[a, b], [c, d]])`` is a 2 x 2 array)."""
        if not isinstance(value, TupleValue):
            self.error(
                node,
                f"`{callee}` of an array or number is not supported",
                "use the value itself, or `x.copy()` for a copy of an array",
            )
        if not value.items:
            self.error(node, f"`{callee}` of an empty list", "use np.zeros(0)")
        items = [
            self.array_of(node, v, callee) if isinstance(v, TupleValue) else v
            for v in value.items
        ]
        with self.b.at(self.src.loc(node), "np"):
            return self.b.apply("stack", *items)
