"""Lowering of control flow: blocks, ``if``, ``for``/``while`` loops, ``return``,
``break`` and ``continue``.

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.  Control flow is
structured away: the statements after an ``if`` or loop that may jump are
lowered into each arm that falls through, so every path ends in its own jump
and the arms merge like any value (:class:`Exit`).  A loop becomes one
:class:`~ad_compiler.ir.nodes.For` / :class:`~ad_compiler.ir.nodes.While`
carrying the locals its body reassigns; its length is never unrolled.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from ad_compiler.frontend.lower_values import (
    FALSE,
    TRUE,
    DictValue,
    FunctionValue,
    Poisoned,
    RunList,
    StaticValue,
    TupleValue,
    Unbound,
    _same,
)
from ad_compiler.frontend.recovery import recover, snapshot
from ad_compiler.frontend.scope import FuncRef
from ad_compiler.ir.nodes import Const, For, If, Var, While


@dataclass(frozen=True)
class Exit:
    """How the paths through a block end.

    ``brk`` is true on the paths that leave the innermost loop (a ``break`` or a
    ``return``), ``ret`` on the paths that return, with ``results`` shaped by
    ``tree``.  Each is a constant when every path agrees, else a variable.
    """

    brk: Any = FALSE
    ret: Any = FALSE
    results: tuple = ()
    tree: Any = None


FALLTHROUGH = Exit()
_JUMPS = (ast.Return, ast.Break, ast.Continue)
_LOOPS = (ast.For, ast.While)


def _has_return(stmts: list) -> bool:
    return any(isinstance(n, ast.Return) for s in stmts for n in ast.walk(s))


def _has_jump(stmts: list) -> bool:
    """Whether the statements may return, or break/continue the enclosing loop."""
    for s in stmts:
        if isinstance(s, _JUMPS):
            return True
        if isinstance(s, ast.If) and (_has_jump(s.body) or _has_jump(s.orelse)):
            return True
        if isinstance(s, _LOOPS) and (_has_return(s.body) or _has_jump(s.orelse)):
            return True
    return False


def _has_break(stmts: list) -> bool:
    """Whether the statements break out of the loop they are the body of."""
    for s in stmts:
        if isinstance(s, ast.Break):
            return True
        if isinstance(s, ast.If) and (_has_break(s.body) or _has_break(s.orelse)):
            return True
        if isinstance(s, _LOOPS) and _has_break(s.orelse):
            return True
    return False


def _nonempty_range(args) -> bool:
    values = [a.value if isinstance(a, Const) else None for a in args]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return False
    return values[2] != 0 and len(range(*values)) > 0


def _always_jumps(stmts: list) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, _JUMPS):
        return True
    return (
        isinstance(last, ast.If)
        and _always_jumps(last.body)
        and _always_jumps(last.orelse)
    )


def _store_names(target: ast.AST, names: set[str], items: bool = False) -> None:
    """Add the names ``target`` binds; with ``items``, also ``x`` of ``x[i] = v``
    (which makes a new version of the array ``x``, though Python would not call
    it an assignment to ``x``)."""
    for sub in ast.walk(target):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
        elif (
            items and isinstance(sub, ast.Subscript) and isinstance(sub.ctx, ast.Store)
        ):
            if isinstance(sub.value, ast.Name):
                names.add(sub.value.id)


def _written_items(stmts: list) -> set[str]:
    """The names ``x`` these statements write items of (``x[i] = v``,
    ``x[i] += v``), nested blocks included, nested scopes not."""
    names: set[str] = set()
    stack = list(stmts)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        targets = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
            targets = [stmt.target]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
                    names.add(node.value.id)
        for field in ("body", "orelse", "finalbody"):
            stack.extend(getattr(stmt, field, ()))
    return names


def _stored_names(stmts: list, items: bool = False) -> set[str]:
    """The names these statements (and the blocks inside them) assign (see
    :func:`_store_names` for ``items``)."""
    names: set[str] = set()
    stack = list(stmts)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _store_names(target, names, items)
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            _store_names(stmt.target, names, items)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    _store_names(item.optional_vars, names)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
            continue  # a nested scope: its own names are not ours
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                names.add(alias.asname or alias.name.split(".")[0])
        for field in ("body", "orelse", "finalbody"):
            stack.extend(getattr(stmt, field, ()))
        for handler in getattr(stmt, "handlers", ()):
            if handler.name:
                names.add(handler.name)
            stack.extend(handler.body)
    return names


def _placeholder(target: ast.expr):
    """A value of the shape of an assignment target (never read)."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return TupleValue(tuple(_placeholder(e) for e in target.elts))
    return Const(0.0)


class ControlLowering:
    """The control-flow parts of lowering (mixed into Lowerer)."""

    # --- blocks and branches ------------------------------------------------------------
    def lower_body(self, stmts: list):
        """Lower a function's statements; ``(results, tree)`` if they return, else None."""
        exit = self.lower_seq(stmts)
        if _same(exit.ret, FALSE):
            return None
        return exit.results, exit.tree

    def lower_seq(self, stmts: list) -> Exit:
        """Lower statements in order and say how their paths end.

        Control flow is structured away the way a compiler does it: at an ``if``
        or a loop that may ``return``, ``break`` or ``continue``, the statements
        after it are lowered into each arm that can fall through, so every path
        ends in its own jump and the arms merge like any value (see :class:`Exit`).
        """
        for i, stmt in enumerate(stmts):
            rest = stmts[i + 1 :]
            saved = snapshot(self)
            try:
                if isinstance(stmt, _JUMPS):
                    return self.jump(stmt, rest)
                if isinstance(stmt, ast.If) and _has_jump([stmt]):
                    cond = self.condition(stmt.test)
                    taken = self.decided(cond)
                    if taken is not None:  # a static condition: only that branch
                        block = stmt.body if taken else stmt.orelse
                        return self.lower_seq(
                            list(block) + ([] if _always_jumps(block) else list(rest))
                        )
                    arms = [
                        lambda block=block: self.lower_seq(
                            list(block) + ([] if _always_jumps(block) else list(rest))
                        )
                        for block in (stmt.body, stmt.orelse)
                    ]
                    return self.split(stmt, cond, arms, terminal=True)
                if isinstance(stmt, _LOOPS):
                    with self.b.at(self.src.loc(stmt)):
                        iterated = self.unrolled(stmt)  # lower_lists: True if unrolled
                        if iterated is True:
                            continue
                        exit, broke = self.loop(stmt, iterated)
                    return self.after_loop(stmt, exit, broke, rest)
                method = getattr(self, f"stmt_{type(stmt).__name__}", None)
                if method is None:
                    self.unsupported(stmt)
                with self.b.at(self.src.loc(stmt)):
                    method(stmt)
            except Exception as exc:  # collecting every error: see recovery.py
                recover(self, stmt, exc, saved, _stored_names([stmt]))
                if _has_jump([stmt]):  # its paths' ends are unknown: say it returns
                    self.lower_seq(rest)  # (after the rest's own errors)
                    return Exit(TRUE, TRUE, (Poisoned("<poisoned return>"),), 0)
        return FALLTHROUGH

    def jump(self, stmt: ast.stmt, rest: list) -> Exit:
        word = {ast.Return: "return", ast.Break: "break", ast.Continue: "continue"}
        word = word[type(stmt)]
        if rest:
            self.error(
                rest[0],
                f"code after `{word}` is not supported",
                "remove the unreachable code",
            )
        if isinstance(stmt, ast.Return):
            results, tree = self.stmt_Return(stmt)
            return Exit(TRUE, TRUE, results, tree)
        if self.loops == 0:
            self.error(stmt, f"`{word}` outside a loop", "use it inside a loop")
        return Exit(TRUE if word == "break" else FALSE)

    def after_loop(self, stmt, exit: Exit, broke, rest: list) -> Exit:
        """What follows a loop: its ``return`` if it returned, else its ``else``
        block if it did not ``break``, then ``rest``."""
        if _same(exit.ret, TRUE):  # `while True:` left only by `return`
            return Exit(TRUE, TRUE, exit.results, exit.tree)
        if not _same(exit.ret, FALSE):
            arms = [
                lambda: Exit(TRUE, TRUE, exit.results, exit.tree),
                lambda: self.after_loop(stmt, FALLTHROUGH, broke, rest),
            ]
            return self.split(stmt, exit.ret, arms, terminal=True)
        if not stmt.orelse:
            return self.lower_seq(rest)
        # an `else` that always jumps (returns) is not followed by `rest`
        orelse = list(stmt.orelse) + ([] if _always_jumps(stmt.orelse) else rest)
        if _same(broke, FALSE):
            return self.lower_seq(orelse)
        arms = [lambda: self.lower_seq(list(rest)), lambda: self.lower_seq(orelse)]
        return self.split(stmt, broke, arms, terminal=True)

    def split(self, node, cond, arms, terminal: bool) -> Exit:
        """Lower two arms on ``cond`` into an ``If`` and merge what they leave behind.

        ``arms`` are functions lowering each arm and returning its :class:`Exit`.
        A ``terminal`` split's arms hold the rest of the block too; at the top of
        the function every path through it must then ``return``.
        """
        env = self.env
        lowered = []
        for lower_arm in arms:
            self.env = dict(env)
            self.depth += 1
            with self.b.block() as eqns:
                exit = lower_arm()
            self.depth -= 1
            lowered.append((tuple(eqns), self.env, exit))
        (then, t_env, t), (orelse, e_env, e) = lowered
        lowered_envs = ((t_env, t), (e_env, e))
        if terminal and self.loops == 0:
            for exit in (t, e):
                if not _same(exit.ret, TRUE):
                    where = "`if`" if isinstance(node, ast.If) else "loop"
                    self.error(
                        node,
                        f"not every path through this {where} returns a value",
                        f"end every branch, or the code after the {where}, with a `return`",
                    )
        returns = [not _same(x.ret, FALSE) for x in (t, e)]
        if all(returns) and t.tree != e.tree:
            where = "`if`" if isinstance(node, ast.If) else "loop"
            self.error(
                node,
                f"the paths through this {where} return different numbers of values",
                "return a tuple of the same length on every path",
            )
        outs, tv, ev = [], [], []

        def phi(a, b, out=None):
            if _same(a, b) and out is None:
                return a
            chosen = self.merge_functions(node, None, a, b, cond, (then, orelse))
            if chosen is not None:
                return chosen
            out = out or self.namer.temp()
            outs.append(out)
            tv.append(a)
            ev.append(b)
            return out

        self.env = dict(env)
        # a path that returns leaves nothing behind: merge the names of the others
        envs = [None if _same(x.ret, TRUE) else x_env for x_env, x in lowered_envs]
        if envs != [None, None]:
            t_env, e_env = (env if x is None else x for x in envs)
            for name in sorted(set(t_env) | set(e_env)):
                a, b, before = t_env.get(name), e_env.get(name), env.get(name)
                if a is before and b is before:
                    continue
                if any(v is None or isinstance(v, Unbound) for v in (a, b)):
                    self.env[name] = Unbound(name, node.lineno + self.src.line_offset)
                    continue
                if isinstance(a, (StaticValue, DictValue)) or isinstance(
                    b, (StaticValue, DictValue)
                ):
                    if a == b:
                        self.env[name] = a
                        continue
                    self.error(
                        node,
                        f"`{name}` is given different static values or dicts in the "
                        "branches of this `if`; not supported",
                        "assign it before the `if`",
                    )
                if isinstance(a, RunList) or isinstance(b, RunList):
                    self.env[name] = self.merge_run_lists(node, name, a, b, phi)
                    continue
                if isinstance(a, TupleValue) or isinstance(b, TupleValue):
                    # item by item, the same length on both paths (lower_lists)
                    self.env[name] = self.merge_sequences(node, name, a, b, phi)
                    continue
                chosen = self.merge_functions(node, name, a, b, cond, (then, orelse))
                if chosen is not None:
                    self.env[name] = chosen
                    continue
                self.env[name] = phi(a, b, self.phi_name(name))
        brk = phi(t.brk, e.brk)
        ret = phi(t.ret, e.ret)
        results, tree = (), None
        if any(returns):
            tree = t.tree if returns[0] else e.tree
            n = len(t.results if returns[0] else e.results)
            zero = (Const(0.0),) * n
            results = tuple(
                phi(a, b)
                for a, b in zip(
                    t.results if returns[0] else zero, e.results if returns[1] else zero
                )
            )
        loc = self.src.loc(node)
        self.b.emit(If(cond, then, orelse, tuple(outs), tuple(tv), tuple(ev), loc))
        return Exit(brk, ret, results, tree)

    def stmt_If(self, stmt: ast.If):
        cond = self.condition(stmt.test)
        taken = self.decided(cond)
        if taken is not None:  # a static condition: only that branch is lowered
            self.lower_seq(stmt.body if taken else stmt.orelse)
            return
        arms = [lambda: self.lower_seq(stmt.body), lambda: self.lower_seq(stmt.orelse)]
        self.split(stmt, cond, arms, terminal=False)

    # --- loops -----------------------------------------------------------------------------
    def loop(self, stmt, iterated=None) -> tuple[Exit, Any]:
        """Lower a ``for`` or ``while`` loop into a :class:`For` / :class:`While`.

        The locals the body assigns that were bound before the loop become the
        loop's carried values; a ``return`` inside sets carried flag and result
        values and stops the loop.  Returns how the loop exits (its ``ret`` and
        ``results``) and whether it ended by ``break`` (for the ``else`` block).
        ``iterated``: what a ``for`` runs over, if already lowered.
        """
        line = stmt.lineno + self.src.line_offset
        assigned = _stored_names(stmt.body, items=True)
        target, over, args = None, "while", ()
        if isinstance(stmt, ast.For):
            target = stmt.target
            _store_names(target, assigned)
            over, args = iterated or self.iteration(stmt.iter)
            self._no_writes_into_what_is_iterated(stmt, over)
        rows = None
        if over == "rows":
            (rows, length), over = args, "range"
            args = (Const(0), length, Const(1))
        env = self.env
        for name in sorted(assigned):
            if isinstance(env.get(name), TupleValue):
                self.error(
                    stmt,
                    f"`{name}` holds a tuple and is reassigned in the loop; not supported",
                    "unpack the tuple into separate names before the loop",
                )
            if isinstance(env.get(name), FunctionValue):
                self.error(
                    stmt,
                    f"`{name}` holds a function and is rebound in the loop; not supported",
                    "bind it once, before the loop or inside it",
                )
        lists = self.carried_lists(stmt)  # run-time lists: their lengths carried
        assigned |= lists
        names = [
            n for n in sorted(assigned) if n in env and not isinstance(env[n], Unbound)
        ]
        inits, carried, inner = self.carried_values(env, names, lists)
        for n in assigned - set(names):
            inner[n] = Unbound(n, line, loop=True)
        self.env = inner
        self.depth += 1
        test, cond = (), None
        if isinstance(stmt, ast.While):
            with self.b.block() as eqns:
                cond = self.condition(stmt.test)
                if isinstance(cond, StaticValue):  # `while flag:` tests a constant
                    cond = Const(cond.value)
            test = tuple(eqns)
            self.env = dict(inner)
        self.loops += 1
        self.b.loop_depth += 1
        index = ()
        try:
            with self.b.block() as body:
                if isinstance(stmt, ast.For):
                    index = self.bind_target(stmt, over, args, rows)
                exit = self.lower_seq(stmt.body)
        finally:
            self.b.loop_depth -= 1
        self.loops -= 1
        self.depth -= 1
        nexts = []
        for n in names:
            value = self.env[n]
            if n in lists:
                value = value.n  # (the same buffer: check_append_only)
            if isinstance(value, TupleValue):
                self.error(
                    stmt, f"`{n}` is assigned a tuple in the loop; not supported"
                )
            self.merge_functions(stmt, n, value, None)
            nexts.append(value)
        extra = []  # (carried, init, next) for the flags and returned values
        surely_runs = (
            (over == "range" and _nonempty_range(args))
            or (over == "items" and bool(args))
            or (isinstance(cond, Const) and bool(cond.value))
        )
        # names first bound in a loop sure to run (its variable too), bound on
        # every path through the body, are bound after it; the init is never seen
        late = []
        if surely_runs:
            for n in sorted(assigned - set(names)):
                value = self.env.get(n)
                if isinstance(value, (Var, Const)):
                    late.append(n)
                    extra.append((self.phi_name(n), Const(0.0), value))
                    self.late.add(extra[-1][0].name)
        ret = results = broke = FALSE
        if not _same(exit.ret, FALSE):
            ret = self.namer.temp()
            extra.append((ret, FALSE, exit.ret))
            results = []
            for value in exit.results:
                self.merge_functions(stmt, None, value, None)
                results.append(self.namer.temp())
                extra.append((results[-1], Const(0.0), value))
        if stmt.orelse and not _same(exit.brk, FALSE):
            broke = self.namer.temp()
            extra.append((broke, FALSE, exit.brk))
        carried += [c for c, _, _ in extra]
        inits += [i for _, i, _ in extra]
        nexts += [n for _, _, n in extra]
        self.emit_loop(
            stmt, over, args, index, test, cond, body, carried, inits, nexts, exit.brk
        )
        self.env = dict(env)
        self.env.update(zip(names + late, carried))
        self.rebind_lists(env, names, carried, lists)
        for n in assigned - set(names) - set(late):
            self.env[n] = Unbound(n, line, loop=True, runs=surely_runs)
        if isinstance(stmt, ast.While) and not _has_break(stmt.body):
            if isinstance(cond, Const) and cond.value and not _same(ret, FALSE):
                ret = TRUE  # `while True:` without `break` ends only by returning
        exit = Exit(ret, ret, tuple(results) if results is not FALSE else (), exit.tree)
        return exit, broke

    def emit_loop(
        self, stmt, over, args, index, test, cond, body, carried, inits, nexts, brk
    ):
        """Emit the :class:`For` or :class:`While` that :meth:`loop` has lowered;
        ``brk`` is the flag its body sets to leave it (``FALSE``: never left early)."""
        brk = None if _same(brk, FALSE) else brk
        loc = self.src.loc(stmt)
        if isinstance(stmt, ast.While):
            self.b.emit(
                While(
                    tuple(carried),
                    tuple(inits),
                    test,
                    cond,
                    tuple(body),
                    tuple(nexts),
                    brk,
                    loc,
                )
            )
        else:
            self.b.emit(
                For(
                    "range",
                    index,
                    tuple(
                        args
                        if over == "range"
                        else (Const(0), Const(len(args)), Const(1))
                    ),
                    tuple(carried),
                    tuple(inits),
                    tuple(body),
                    tuple(nexts),
                    brk,
                    loc,
                    items=over == "items",
                )
            )

    def iteration(self, node: ast.expr):
        """What a ``for`` loop runs over: ``("range", (start, stop, step))`` or
        ``("items", [item, ...])`` for a tuple, a list or ``enumerate``/``zip`` of them.
        """
        found = self.dict_items(node)  # a dict parameter, its .items() ...
        if found is not None:
            return "items", found
        found = self.run_time_zip(
            node
        )  # a run-time list, zip(xs, ...) (lower_runlists)
        if found is not None:
            return found
        if isinstance(node, ast.Call):
            ref = self.resolve(node.func)
            q = ref.qualname if isinstance(ref, FuncRef) else None
            if q == "builtins.range":
                self.plain_arguments(node, "range")
                if not 1 <= len(node.args) <= 3:
                    self.error(
                        node, f"`range` takes 1 to 3 arguments, got {len(node.args)}"
                    )
                args = [self.atom(a) for a in node.args]
                if len(args) == 1:
                    args = [Const(0)] + args
                if len(args) == 2:
                    args.append(Const(1))
                return "range", tuple(args)
        if not isinstance(node, (ast.List, ast.Tuple, ast.Call)):
            value = self.expr(node)
            if isinstance(value, TupleValue):
                return "items", list(value.items)
            self.not_a_function(node, value, "call it")
            if isinstance(value, Const):
                self.items(node)  # the error: a loop over a number
            # an array: its rows, `for row in X` being `for i in range(len(X))`
            with self.b.at(self.src.loc(node)):
                return "rows", (value, self.b.apply("len", value))
        return "items", self.items(node)

    def _no_writes_into_what_is_iterated(self, stmt: ast.For, over: str) -> None:
        """``for row in y`` (or ``enumerate(y)``, ``zip(y, ...)``, a tuple holding
        y) whose body writes ``y[...] = v``: Python's iterator sees the writes in
        the rows still to come, the IR's rows would not; refused, not guessed."""
        if over == "range":
            return
        iterated = {n.id for n in ast.walk(stmt.iter) if isinstance(n, ast.Name)}
        for name in sorted(iterated & _written_items(stmt.body)):
            self.error(
                stmt.iter,
                f"the loop runs over `{name}` and writes into `{name}`: "
                "later items would see the writes; not supported",
                f"loop over `range(len({name}))` and read `{name}[i]` where it is needed",
            )

    def items(self, node: ast.expr, what: str = "a `for` loop over") -> list:
        """The items of a tuple, a list, or ``enumerate``/``zip`` of them (nested
        too), which a loop runs over: their number is known now."""
        found = self.dict_items(node)  # a dict parameter, its .items() ...
        if found is not None:
            return found
        if isinstance(node, ast.List):
            return [self.expr(e) for e in node.elts]
        if isinstance(node, ast.Call):
            ref = self.resolve(node.func)
            q = ref.qualname if isinstance(ref, FuncRef) else None
            if q == "builtins.zip":
                self.plain_arguments(node, "zip")
            if q == "builtins.enumerate":
                start = self.enumerate_start(node)  # (lower_runlists)
                items = self.items(node.args[0], what)
                return [
                    TupleValue((Const(start + j), item)) for j, item in enumerate(items)
                ]
            if q == "builtins.zip":
                columns = [self.items(a, what) for a in node.args]
                return [TupleValue(row) for row in zip(*columns)]
        value = None
        if self.is_range(node):  # zip(range(3), t): bounds known now (lower_lists)
            bounds = self.static_range(node)
            value = bounds and TupleValue(tuple(Const(i) for i in range(*bounds)))
        else:  # a tuple, a list, list(t), reversed(t), a helper returning a tuple
            value = self.expr(node)
        if not isinstance(value, TupleValue):
            self.error(
                node,
                f"{what} `{ast.unparse(node)}` is not supported",
                (
                    "`len` takes a tuple or list written in the function"
                    if what.startswith("`len`")
                    else "use range(...), a tuple or list of values, or "
                    "enumerate/zip of them"
                ),
            )
        return list(value.items)

    def bind_target(self, stmt: ast.For, over: str, args, rows=None) -> tuple:
        """Bind the loop variable(s) at the top of the body; returns the loop's index.

        ``rows``: the loop runs over this array's rows (``row = X[i]``).
        """
        target = stmt.target
        if isinstance(rows, tuple):  # a run-time list, or zip/enumerate with one
            index = self.namer.fresh("t")
            with self.b.at(self.src.loc(stmt.iter)):
                self.bind_rows(target, rows, index)
            return (index,)
        if rows is not None:
            index = self.namer.fresh("i")
            with self.b.at(self.src.loc(stmt.iter)):
                self.assign(target, self.b.apply("getitem", rows, index, index=("a",)))
            return (index,)
        if over == "range":
            if not isinstance(target, ast.Name):
                self.error(target, "a `range` loop needs one loop variable")
            index = (
                self.phi_name(target.id)
                if target.id in self.locals
                else self.namer.fresh(target.id)
            )
            start, step = args[0], args[2]
            if isinstance(start, Const) and isinstance(step, Const):
                if start.value >= 0 and step.value > 0:  # (lower_runlists)
                    self.b.nonneg.add(index.name)
            self.env[target.id] = index
            return (index,)
        index = self.namer.fresh("k")
        # item k of the tuple: `x if k == 0 else y if k == 1 else z`, so the loop
        # stays a loop whose length is the tuple's
        if args:
            self.assign(target, self.pick(stmt, index, args))
        else:  # an empty tuple: the body never runs, the names only need values
            self.assign(target, _placeholder(target))
        return (index,)

    def pick(self, stmt, k: Var, values: list):
        """The ``k``-th of ``values`` (atoms or tuples of the same shape)."""
        if all(isinstance(v, TupleValue) for v in values):
            widths = {len(v.items) for v in values}
            if len(widths) != 1:
                self.error(stmt.iter, "the items of this loop have different lengths")
            return TupleValue(
                tuple(
                    self.pick(stmt, k, [v.items[j] for v in values])
                    for j in range(widths.pop())
                )
            )
        if any(isinstance(v, TupleValue) for v in values):
            self.error(stmt.iter, "the items of this loop mix numbers and tuples")
        if any(isinstance(v, FunctionValue) for v in values):
            self.error(
                stmt.iter,
                "a loop over functions is not supported",
                "call each function in turn, written out",
            )
        if all(_same(v, values[0]) for v in values):
            return values[0]
        self.check_pickable(stmt, values)  # not static values (dict keys ...)
        numbers = [v.value if isinstance(v, Const) else None for v in values]
        if all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
                return self.b.add(k, Const(numbers[0])) if numbers[0] else k
        result = values[-1]
        for j in range(len(values) - 2, -1, -1):
            result = self.b.select(self.b.apply("eq", k, Const(j)), values[j], result)
        return result

    def phi_name(self, name: str) -> Var:
        """The variable merging a user's name after a branch: `y`, or `y_1` if taken."""
        if name not in self.used:
            self.used.add(name)
            return Var(name)
        return self.namer.fresh(name)

    def condition(self, node: ast.expr):
        """The atom a branch tests, or a :class:`StaticValue` (decided now)."""
        with self.b.at(self.src.loc(node)):
            value = self.expr(node)
            if isinstance(value, StaticValue) and not isinstance(value.value, bool):
                return StaticValue(bool(value.value))
            return (
                value if isinstance(value, StaticValue) else self.atom_of(node, value)
            )
