"""Which aliases can observe a write: the flow part of the alias check.

``x[i] = v`` is lowered to a new version of ``x`` (see
:mod:`ad_compiler.frontend.lower_arrays`); in Python it changes the one array
object, which every other name for it (``y = x``, ``x.T``, ``x[1:]``) shows.
The two agree unless some name for the array is *read after* a write made
through another name for it.  So an alias taken after the last write
(``a[0] = x; b = a.T``, ``out = h[1:]`` after a fill loop) is harmless, and
so is a view read before the next write and bound again before it is read
(``prev = h[t - 1]; h[t] = f(prev)`` in a loop).

The function body is flattened into a small program of events in Python's
evaluation order (``read n``, ``write n``, ``bind n``, and jumps for ``if``,
loops, ``break``, ``continue`` and ``return``).  For each alias ``t = view of
s`` the program is walked from the binding, along every path (a loop's body
is followed by its next iteration), remembering which names of the alias's
group (``t``, ``s`` and every name aliased to them, transitively) have been
written since.  A read of a group name other than one written is an
observation: the alias is refused, naming that write.  The walk stops where
``t`` is bound again (that alias is over; a new one starts there, checked on
its own).  Branches are not decided (both arms are paths), so the check is
conservative: it may refuse a program whose write is never observed on a
path that really runs, never the other way round.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass
class Program:
    """Events in evaluation order: ``(op, name, node)``; ``op`` is ``read``,
    ``write``, ``bind``, ``alias`` (a binding to check starts here, ``name``
    its index), ``jump`` (``name`` the list of targets; no fall-through) or
    ``fork`` (``name`` the targets besides the next event)."""

    ops: list

    def here(self) -> int:
        return len(self.ops)


def list_names(node: ast.FunctionDef) -> frozenset:
    """The local names that always hold a list: every binding of the name is
    ``name = [...]`` (a display or comprehension, or ``list(...)``) or
    ``name += ...`` (which extends it); never a parameter."""
    args = node.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    ok: dict[str, bool] = {}
    direct = set()  # the Name nodes bound by the two forms above
    for sub in ast.walk(node):
        if isinstance(sub, ast.Assign):
            for t, value in _paired(sub.targets, sub.value):
                direct.add(id(t))
                ok[t.id] = ok.get(t.id, True) and _makes_a_list(value)
        elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
            direct.add(id(sub.target))
            ok.setdefault(sub.target.id, True)
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Name)
            and isinstance(sub.ctx, (ast.Store, ast.Del))
            and id(sub) not in direct
        ):
            ok[sub.id] = False  # bound some other way (a loop, unpacking ...)
    return frozenset(n for n, good in ok.items() if good and n not in params)


def late_reads(node: ast.FunctionDef) -> set[str]:
    """Every name a nested function or lambda of ``node`` reads (when it runs,
    which may be later)."""
    return {
        n.id
        for sub in ast.walk(node)
        if isinstance(sub, (ast.Lambda, ast.FunctionDef)) and sub is not node
        for n in ast.walk(sub)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _paired(targets, value):
    """(name node, value) of each plain name an assignment binds, tuples of
    names unpacked pairwise from a tuple display (``a, b = [], []``)."""
    for t in targets:
        if isinstance(t, ast.Name):
            yield t, value
        elif (
            isinstance(t, ast.Tuple)
            and isinstance(value, ast.Tuple)
            and len(t.elts) == len(value.elts)
        ):
            for e, v in zip(t.elts, value.elts):
                if isinstance(e, ast.Name):
                    yield e, v


def _makes_a_list(value) -> bool:
    return isinstance(value, (ast.List, ast.ListComp)) or (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "list"
    )


class _Flattener:
    def __init__(self, aliases: dict, augmented: bool, params: list):
        self.p = Program([])
        # lists no other name holds: `xs[k] = v` rebinds one of their items,
        # writing into no array (see observed_writes)
        self.slots: frozenset = frozenset()
        # the caller still holds the arguments: at a return it sees them
        self.params = params
        self.late: list = []  # names read by nested functions and lambdas
        self.augmented = augmented  # whether `x += v` may write into an array
        self.aliases = aliases  # id(statement) -> [alias index ...]
        self.loops: list = []  # (head, [indices of jumps to the exit to patch])

    def emit(self, op, name=None, node=None) -> int:
        self.p.ops.append([op, name, node])
        return len(self.p.ops) - 1

    def reads(self, node) -> None:
        """The names ``node`` reads, in evaluation order (a walk is close enough:
        a name read twice is one observation either way)."""
        if node is None:
            return
        for sub in _ordered(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                self.emit("read", sub.id, sub)
            elif isinstance(sub, ast.NamedExpr):
                self.emit("bind", sub.target.id, sub)

    def target(self, t, stmt) -> None:
        if isinstance(t, ast.Name):
            self.emit("bind", t.id, stmt)
        elif isinstance(t, ast.Subscript):
            self.reads(t.slice)
            base = t.value
            if isinstance(base, ast.Name) and base.id in self.slots:
                self.emit("read", base.id, t)  # an item rebound: no array written
            elif isinstance(base, ast.Name):
                self.emit("write", base.id, t)
            else:
                self.reads(base)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                self.target(e.value if isinstance(e, ast.Starred) else e, stmt)
        else:
            self.reads(t)

    def marks(self, stmt) -> None:
        for k in self.aliases.get(id(stmt), ()):
            self.emit("alias", k, stmt)

    def block(self, stmts) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s) -> None:
        if isinstance(s, ast.Assign):
            self.reads(s.value)
            for t in s.targets:
                self.target(t, s)
            self.marks(s)
        elif isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.reads(s.value)
                self.target(s.target, s)
                self.marks(s)
        elif isinstance(s, ast.AugAssign):
            self.reads(s.value)
            if isinstance(s.target, ast.Name) and s.target.id in self.slots:
                self.emit("read", s.target.id, s.target)  # `xs += ys`: items added
                self.marks(s)
            elif isinstance(s.target, ast.Name):  # in place for an array: a write
                self.emit("read", s.target.id, s.target)
                op = "write" if self.augmented else "bind"
                self.emit(op, s.target.id, s.target)
            else:
                self.reads(s.target.value)
                self.target(s.target, s)
        elif isinstance(s, ast.If):
            self.reads(s.test)
            fork = self.emit("fork", [])
            self.block(s.body)
            jump = self.emit("jump", [])
            self.p.ops[fork][1].append(self.p.here())
            self.block(s.orelse)
            self.p.ops[jump][1].append(self.p.here())
        elif isinstance(s, (ast.For, ast.AsyncFor, ast.While)):
            self.loop(s)
        elif isinstance(s, ast.Break):
            self.loops[-1][1].append(self.emit("jump", []))
        elif isinstance(s, ast.Continue):
            self.emit("jump", [self.loops[-1][0]])
        elif isinstance(s, ast.Return):
            self.reads(s.value)
            self.returns()
        elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.reads(s)  # what a nested function reads, read where it is made
            self.emit("bind", s.name, s)
        else:  # expressions and whatever else: everything it names, read
            self.reads(s)
            for sub in ast.walk(s):  # xs.append(row): the list holds row from here
                if isinstance(sub, ast.Call):
                    self.marks(sub)

    def returns(self) -> None:
        """The end of the function: the caller reads its arguments (a write
        into a view of one changes the caller's array), and a nested function
        or lambda may be called up to here, reading what it names when it
        runs; no path goes on."""
        for name in self.params:
            self.emit("read", name, None)
        for name in self.late:
            self.emit("read", name, "nested")
        self.emit("jump", [])

    def loop(self, s) -> None:
        """``head: [test] fork(out); [bind target]; body; jump head; out: orelse``;
        ``break`` jumps past the ``else``, ``continue`` to the head."""
        is_for = not isinstance(s, ast.While)
        if is_for:
            self.reads(s.iter)
        head = self.p.here()
        if not is_for:
            self.reads(s.test)
        fork = self.emit("fork", [])
        if is_for:
            self.target(s.target, s)
            self.marks(s)
        self.loops.append((head, []))
        self.block(s.body)
        self.emit("jump", [head])
        _, exits = self.loops.pop()
        self.p.ops[fork][1].append(self.p.here())
        self.block(s.orelse)
        for j in exits:
            self.p.ops[j][1].append(self.p.here())


def _ordered(node):
    """The nodes under ``node`` in (roughly) evaluation order: a pre-order walk."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        todo.extend(reversed(list(ast.iter_child_nodes(n))))


def _groups(pairs) -> dict:
    """name -> the set of names aliased to it, transitively (union-find)."""
    parent: dict = {}

    def find(n):
        while parent.setdefault(n, n) != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for _, target, source in pairs:
        parent[find(target)] = find(source)
    members: dict = {}
    for n in list(parent):
        members.setdefault(find(n), set()).add(n)
    return {n: members[find(n)] for n in parent}


def observed_writes(
    node: ast.FunctionDef,
    pairs: list,
    augmented: bool,
    outside: tuple = (),
    slots: frozenset = frozenset(),
) -> list:
    """For each ``(statement, target, source)`` alias in ``pairs`` (``target``
    bound to (a view of) ``source`` by ``statement``), the write through a name
    of its group that a later read of another of its names can observe, as
    ``(pair, written name, the write's target node, (the name read, the read's
    node))``; pairs whose writes are
    never observed are left out.  ``augmented``: ``x += v`` writes into ``x``
    (NumPy code), else it binds a new number.  ``outside``: names of arrays the
    function reads from its scope, which (like the parameters) the caller sees
    after the return.  ``slots``: lists no other name holds, whose ``xs[k] =
    v`` rebinds an item (the array it held is not written)."""
    aliases: dict = {}
    for k, (stmt, _, _) in enumerate(pairs):
        aliases.setdefault(id(stmt), []).append(k)
    args = node.args
    params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    flat = _Flattener(aliases, augmented, params + list(outside))
    flat.slots = slots
    flat.late = sorted(late_reads(node))
    flat.block(node.body)
    flat.returns()
    ops = flat.p.ops
    starts = {op[1]: i for i, op in enumerate(ops) if op[0] == "alias"}
    groups = _groups(pairs)
    found = []
    for k, pair in enumerate(pairs):
        group = groups[pair[1]]
        if k in starts:
            hit = _walk(ops, starts[k] + 1, pair[1], group)
        else:  # a binding in a nested function: any write counts (conservative)
            writes = [i for i, op in enumerate(ops) if op[0] == "write"]
            hit = next(((ops[i][1], i, i) for i in writes if ops[i][1] in group), None)
        if hit is not None:
            found.append((pair, hit[0], ops[hit[1]][2], ops[hit[2]][1:]))
    return found


def _walk(ops: list, start: int, target: str, group: set):
    """The first (name, op index of the write, op index of the read) of a write
    to a name of ``group`` that a read of another name of it observes on some
    path from ``start`` before ``target`` is bound again; None if none.

    A may-analysis to a fixed point: ``pending[pc]`` is the set of the writes
    (name, op index) into the group's names made on some path from ``start``
    to ``pc``.  A read of ``y`` at ``pc`` observes a write to ``x != y``
    exactly when such a write is in that union (each holds on its own path),
    so merging paths loses nothing, and the work is linear in the program
    times the group's writes."""
    pending: dict[int, frozenset] = {}
    todo = [(start, frozenset())]
    while todo:
        pc, writes = todo.pop()
        if pc >= len(ops) or pc in pending and writes <= pending[pc]:
            continue
        writes = writes | pending.get(pc, frozenset())
        pending[pc] = writes
        op, name, _ = ops[pc]
        if op == "jump":
            todo.extend((t, writes) for t in name)
            continue
        if op == "fork":
            todo.extend((t, writes) for t in name)
        elif op == "bind" and name == target:
            continue  # this alias is over (the next one is checked on its own)
        elif op == "write" and name in group:
            writes = writes | {(name, pc)}
        elif op == "read" and name in group:
            seen = sorted((at, w) for w, at in writes if w != name)
            if seen:
                return seen[0][1], seen[0][0], pc
        todo.append((pc + 1, writes))
    return None
