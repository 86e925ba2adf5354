"""Lowering: a function's AST -> IR (the evaluation trace).

One ``stmt_<Node>`` / ``expr_<Node>`` method per supported node; every other
node is rejected by name, with its location and a hint (see ``UNSUPPORTED``).

Guarantees:

* the result is valid IR (:func:`ad_compiler.ir.nodes.verify`): one primitive per
  equation, single assignment, every equation located in the user's file;
* Python's evaluation order is kept: operands left to right, so the trace reads
  like the seeds' (``v1 = log(x1)``, ``v2 = x1 * x2`` ...);
* names resolve as Python resolves them: a name assigned anywhere in the
  function is local everywhere in it; other names go to the scope (module
  imports and constants, closure, builtins);
* the user's names are kept: ``z = x * y`` binds ``z``, and a reassigned ``x``
  becomes ``x_1``, ``x_2`` ...; only sub-expressions get temporaries ``v1 … vN``.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
from dataclasses import dataclass
from typing import Any

from ad_compiler.ir.builder import IRBuilder
from ad_compiler.errors import UnsupportedError
from ad_compiler.ir.nodes import (
    Atom,
    Const,
    Eqn,
    For,
    Function,
    If,
    Namer,
    Var,
    While,
    blocks,
    defined_names,
    loop_reads,
    own_reads,
    verify,
)
from ad_compiler.frontend.scope import (
    checked_lookup,
    FuncRef,
    ModuleRef,
    OpaqueRef,
    RuntimeScope,
    UserFuncRef,
    ValueRef,
    attribute,
    literal_number,
)
from ad_compiler.frontend.lower_arrays import (
    refuse_alias_write,
    ArrayLowering,
    _aliased_names,
    check_aliasing,
    known_numpy,
    user_call_aliases,
    writes,
)
from ad_compiler.frontend.decorators import check_decorators
from ad_compiler.frontend.external import external_source
from ad_compiler.frontend.source import FunctionSource, from_function

# Node -> (what the user wrote, how to get around it).
UNSUPPORTED = {
    ast.AsyncFor: ("`async for` loop", "differentiate a plain `def` function"),
    ast.AsyncWith: ("`async with` statement", "differentiate a plain `def` function"),
    ast.Try: ("`try` statement", "exceptions have no derivative; remove the try block"),
    ast.With: ("`with` statement", "move the context manager outside the function"),
    ast.Raise: ("`raise` statement", "check inputs before calling the derivative"),
    ast.Assert: ("`assert` statement", "check inputs before calling the derivative"),
    ast.Global: ("`global` declaration", "pass the value in as a parameter"),
    ast.Nonlocal: ("`nonlocal` declaration", "pass the value in as a parameter"),
    ast.Delete: (
        "`del` statement",
        "remove it; names are freed when the function returns",
    ),
    ast.ClassDef: ("class definition", "define classes outside the function"),
    ast.FunctionDef: ("nested function definition", "define helpers at module level"),
    ast.AsyncFunctionDef: ("`async def`", "differentiate a plain `def` function"),
    ast.Import: ("`import` inside a function", "import at the top of the module"),
    ast.ImportFrom: ("`import` inside a function", "import at the top of the module"),
    ast.Lambda: ("`lambda`", "define the function with `def` at module level"),
    ast.ListComp: ("list comprehension", "write the sum out explicitly"),
    ast.SetComp: ("set comprehension", "return numbers, not sets"),
    ast.DictComp: ("dict comprehension", "return numbers, not dicts"),
    ast.GeneratorExp: ("generator expression", "write the sum out explicitly"),
    ast.Yield: ("`yield`", "generators cannot be differentiated; return a value"),
    ast.YieldFrom: (
        "`yield from`",
        "generators cannot be differentiated; return a value",
    ),
    ast.Await: ("`await`", "differentiate a plain `def` function"),
    ast.NamedExpr: (
        "assignment expression (`:=`)",
        "use a separate assignment statement",
    ),
    ast.List: ("list", "use a tuple, or separate values"),
    ast.Dict: ("dict", "use separate values"),
    ast.Set: ("set", "use separate values"),
    ast.JoinedStr: ("f-string", "derivatives are of numbers; remove the string"),
    ast.Starred: ("star-unpacking", "unpack into named values"),
    ast.Slice: ("slice", "pass the elements as separate parameters"),
}
if hasattr(ast, "Match"):
    UNSUPPORTED[ast.Match] = ("`match` statement", "write it with if/elif/else")

_COMPARE = {
    ast.Gt: "gt",
    ast.Lt: "lt",
    ast.GtE: "ge",
    ast.LtE: "le",
    ast.Eq: "eq",
    ast.NotEq: "ne",
}
_BINOPS = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}
_BINOP_WORDS = {
    ast.FloorDiv: (
        "floor division `//`",
        "its derivative is zero almost everywhere; use `/`",
    ),
    ast.Mod: ("remainder `%`", "write x - n * y with n known"),
    ast.LShift: ("shift `<<`", "bit operations have no derivative"),
    ast.RShift: ("shift `>>`", "bit operations have no derivative"),
    ast.BitOr: ("bitwise `|`", "bit operations have no derivative"),
    ast.BitAnd: ("bitwise `&`", "bit operations have no derivative"),
    ast.BitXor: ("bitwise `^`", "for a power write `**`"),
}

# Known function -> primitive, by qualified name (see scope.py).
_UNARY = {
    **{
        f"math.{n}": n
        for n in "sin cos tan exp expm1 log2 log10 log1p sqrt tanh sinh cosh".split()
    },
    **{f"math.{n}": n for n in "asin acos atan".split()},
    "math.fabs": "abs",
    **{
        f"numpy.{n}": n
        for n in "sin cos tan exp expm1 log log2 log10 log1p sqrt".split()
    },
    **{f"numpy.{n}": n for n in "tanh sinh cosh".split()},
    "numpy.arcsin": "asin",
    "numpy.arccos": "acos",
    "numpy.arctan": "atan",
    "numpy.abs": "abs",
    "numpy.absolute": "abs",
    "numpy.fabs": "abs",
    "builtins.abs": "abs",
    "builtins.float": "float",
    "builtins.int": "int",
    "builtins.round": "round",
    "math.floor": "floor",
    "math.ceil": "ceil",
    "math.trunc": "trunc",
}
_BINARY = {
    "math.atan2": "atan2",
    "math.hypot": "hypot",
    "numpy.arctan2": "atan2",
    "numpy.hypot": "hypot",
    "numpy.power": "pow",
    "math.pow": "pow",
    "builtins.pow": "pow",
    "math.copysign": "copysign",
    "math.fmod": "fmod",
}


@dataclass(frozen=True)
class Unbound:
    """A local assigned on only some paths: in one arm of an ``if``, or in a loop."""

    name: str
    line: int
    loop: bool = False
    runs: bool = False  # the loop surely runs: a path through its body skips it

    def message(self) -> tuple[str, str]:
        if self.loop and self.runs:
            return (
                f"`{self.name}` may be unbound here: the loop at line {self.line} "
                "does not assign it on every path through its body",
                f"assign `{self.name}` before the loop",
            )
        if self.loop:
            return (
                f"`{self.name}` may be unbound here: it is assigned in the loop at "
                f"line {self.line}, which may run zero times",
                f"assign `{self.name}` before the loop",
            )
        return (
            f"`{self.name}` may be unbound here: the `if` at line {self.line} "
            "assigns it on only some paths",
            "assign it before the `if` or in every branch",
        )


TRUE, FALSE = Const(True), Const(False)


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


# Expressions nested deeper than this are refused (Lowerer.check_nesting).
MAX_NESTING = 80
# Lowered without recursion (Lowerer.arithmetic, chain, expr_BoolOp): any depth.
# Names and literals (and `math.sin`, `x.T`) are leaves, not a level.
_FLAT_EXPRS = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Name, ast.Constant)


def _same(a, b) -> bool:
    """The same atom, literally: ``1`` and ``1.0`` and ``True`` differ."""
    return a == b and type(getattr(a, "value", a)) is type(getattr(b, "value", b))


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


@dataclass(frozen=True)
class TupleValue:
    """A tuple of values during lowering (``t = (a, b)``; ``return t``)."""

    items: tuple


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


def _assigned_names(node: ast.FunctionDef, text: str) -> set[str]:
    """The names Python treats as local to the function (besides its parameters).

    Only statements bind names, except the walrus, so only statements and their
    targets are visited (a full ``ast.walk`` costs a third of lowering on long
    functions); a function whose ``text`` contains ``:=`` is walked in full.
    """
    names = _stored_names(node.body)
    if ":=" in text:
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr):
                names.add(sub.target.id)
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


class Lowerer(ArrayLowering):
    """Lowers one function; use :func:`lower_function`."""

    def __init__(self, src: FunctionSource, scope):
        self.src = src
        self.scope = scope
        node = src.node
        self.params = [a.arg for a in node.args.posonlyargs + node.args.args]
        text = "\n".join(
            src.lines[
                node.lineno - 1 + src.line_offset : node.end_lineno + src.line_offset
            ]
        )
        self.locals = _assigned_names(node, text) | set(self.params)
        self.namer = Namer(taken=set(self.locals))
        # shapes are not known while lowering (the same IR serves every call)
        self.b = IRBuilder(self.namer, {})
        self.env: dict[str, object] = {}
        self.used: set[str] = set()
        self.depth = (
            0  # how many branches and loops deep the statement being lowered is
        )
        self.loops = 0  # how many loops deep: `break` and `continue` need one
        # the functions being inlined, outermost first (a call back into one of
        # them is recursion)
        self.stack = ((src.file, node.lineno + src.line_offset),)
        # shared by every function lowered for one compilation: the recursive
        # functions lowered on their own (name -> Function, None while lowering)
        # and the source of the custom-derivative functions called
        self.program: dict[str, Function | None] = {}
        self.late: set[str] = set()  # see loop(): carried only in case they are read
        self.externals: dict[str, str] = {}
        self.top = True
        # `x += v` where another name may share x: (x's value, the error to
        # raise if that value is an array; see lower_arrays.check_aliasing)
        self.in_place_aliases: dict = {}
        self.hazards: list = []

    def lookup(self, node: ast.AST, name: str):
        """What the global ``name`` used at ``node`` is; an ambiguous one is an error."""
        loc = self.src.loc(node)
        return checked_lookup(self.scope, name, loc, self.src.line(loc))

    # --- errors ------------------------------------------------------------------
    def error(self, node: ast.AST, message: str, hint: str | None = None):
        loc = self.src.loc(node)
        raise UnsupportedError(message, loc, hint, self.src.line(loc))

    def unsupported(self, node: ast.AST):
        what, hint = UNSUPPORTED.get(type(node), (None, None))
        if what is None:
            what = f"`{type(node).__name__}` syntax"
            hint = "rewrite it with assignments, arithmetic and math functions"
        self.error(node, f"{what} is not supported", hint)

    # --- the function ----------------------------------------------------------------
    def check_signature(self) -> None:
        node = self.src.node
        args = node.args
        if args.vararg or args.kwarg:
            star = args.vararg or args.kwarg
            self.error(
                star, "star-parameters are not supported", "list the parameters by name"
            )
        if args.kwonlyargs:
            self.error(
                args.kwonlyargs[0],
                "keyword-only parameters are not supported",
                "make them positional parameters",
            )

    def lower_function_body(self):
        """The function's statements, lowered: ``(results, tree)``."""
        node = self.src.node
        body = list(node.body)
        if ast.get_docstring(node, clean=True) is not None:
            body = body[1:]
        returned = self.lower_body(body)
        if returned is None:
            self.error(
                node,
                f"function `{node.name}` does not return a value",
                "add a `return`",
            )
        return returned

    def run(self) -> Function:
        node = self.src.node
        self.lookup(node, node.name)  # a function defined twice: which one is meant?
        self.check_signature()
        self.check_nesting(node)
        check_aliasing(self, node)
        params = tuple(Var(p) for p in self.params)
        for p in params:
            self.env[p.name] = p
            self.used.add(p.name)
        defaults = tuple(self.default(d) for d in node.args.defaults)
        doc = ast.get_docstring(node, clean=True)
        results, tree = self.lower_function_body()
        callees = ()
        if self.top:
            callees = tuple(f for f in self.program.values() if f is not None)
        body = _drop_unread(tuple(self.b.eqns), self.late, results)
        fn = Function(
            name=node.name,
            params=params,
            body=body,
            results=results,
            tree=tree,
            defaults=defaults,
            loc=self.src.loc(node),
            doc=doc,
            user_names=frozenset(self.locals),
            callees=callees,
            externals=tuple(sorted(self.externals.items())) if self.top else (),
            hazards=tuple(self.hazards),
        )
        return verify(fn)

    def check_nesting(self, node: ast.FunctionDef) -> None:
        """Refuse, at the place, an expression nested deeper than :data:`MAX_NESTING`.

        Arithmetic, ``and``/``or`` and comparison chains are lowered without
        recursion, so any length Python parses is fine.  Every other expression
        inside another (a conditional expression, a call's argument, a
        subscript ...) is lowered, and later differentiated and printed, by
        recursion, and a conditional expression becomes a nested ``if``
        statement in emitted code, which Python's tokenizer limits to 100
        levels of indentation.  The walk itself is iterative.
        """
        todo = [(node, 0)]
        while todo:
            n, depth = todo.pop()
            leaf = isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            if isinstance(n, ast.expr) and not isinstance(n, _FLAT_EXPRS) and not leaf:
                depth += 1
                if depth > MAX_NESTING:
                    self.error(
                        n,
                        f"expression too deeply nested (more than {MAX_NESTING} "
                        "levels of conditional expressions, calls or subscripts)",
                        "compute the inner parts in separate statements",
                    )
            todo.extend((child, depth) for child in ast.iter_child_nodes(n))

    def default(self, node: ast.expr) -> Const:
        value = literal_number(node)
        if value is None and isinstance(node, ast.Name):
            ref = self.lookup(node, node.id)
            if isinstance(ref, ValueRef):
                value = ref.value
        if value is None:
            self.error(
                node, "a default value must be a number", "use a numeric literal"
            )
        return Const(value)

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
            if isinstance(stmt, _JUMPS):
                return self.jump(stmt, rest)
            if isinstance(stmt, ast.If) and _has_jump([stmt]):
                cond = self.condition(stmt.test)
                arms = [
                    lambda block=block: self.lower_seq(
                        list(block) + ([] if _always_jumps(block) else list(rest))
                    )
                    for block in (stmt.body, stmt.orelse)
                ]
                return self.split(stmt, cond, arms, terminal=True)
            if isinstance(stmt, _LOOPS):
                with self.b.at(self.src.loc(stmt)):
                    exit, broke = self.loop(stmt)
                return self.after_loop(stmt, exit, broke, rest)
            method = getattr(self, f"stmt_{type(stmt).__name__}", None)
            if method is None:
                self.unsupported(stmt)
            with self.b.at(self.src.loc(stmt)):
                method(stmt)
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
                if isinstance(a, TupleValue) or isinstance(b, TupleValue):
                    self.error(
                        node,
                        f"`{name}` holds a tuple assigned inside a branch; not supported",
                    )
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
        arms = [lambda: self.lower_seq(stmt.body), lambda: self.lower_seq(stmt.orelse)]
        self.split(stmt, cond, arms, terminal=False)

    # --- loops -----------------------------------------------------------------------------
    def loop(self, stmt) -> tuple[Exit, Any]:
        """Lower a ``for`` or ``while`` loop into a :class:`For` / :class:`While`.

        The locals the body assigns that were bound before the loop become the
        loop's carried values; a ``return`` inside sets carried flag and result
        values and stops the loop.  Returns how the loop exits (its ``ret`` and
        ``results``) and whether it ended by ``break`` (for the ``else`` block).
        """
        line = stmt.lineno + self.src.line_offset
        assigned = _stored_names(stmt.body, items=True)
        target, over, args = None, "while", ()
        if isinstance(stmt, ast.For):
            target = stmt.target
            _store_names(target, assigned)
            over, args = self.iteration(stmt.iter)
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
        names = [
            n for n in sorted(assigned) if n in env and not isinstance(env[n], Unbound)
        ]
        inits = [env[n] for n in names]
        carried = [self.phi_name(n) for n in names]
        inner = dict(env)
        inner.update(zip(names, carried))
        for n in assigned - set(names):
            inner[n] = Unbound(n, line, loop=True)
        self.env = inner
        self.depth += 1
        test, cond = (), None
        if isinstance(stmt, ast.While):
            with self.b.block() as eqns:
                cond = self.condition(stmt.test)
            test = tuple(eqns)
            self.env = dict(inner)
        self.loops += 1
        index = ()
        with self.b.block() as body:
            if isinstance(stmt, ast.For):
                index = self.bind_target(stmt, over, args, rows)
            exit = self.lower_seq(stmt.body)
        self.loops -= 1
        self.depth -= 1
        nexts = []
        for n in names:
            value = self.env[n]
            if isinstance(value, TupleValue):
                self.error(
                    stmt, f"`{n}` is assigned a tuple in the loop; not supported"
                )
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
                results.append(self.namer.temp())
                extra.append((results[-1], Const(0.0), value))
        if stmt.orelse and not _same(exit.brk, FALSE):
            broke = self.namer.temp()
            extra.append((broke, FALSE, exit.brk))
        carried += [c for c, _, _ in extra]
        inits += [i for _, i, _ in extra]
        nexts += [n for _, _, n in extra]
        brk = None if _same(exit.brk, FALSE) else exit.brk
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
        self.env = dict(env)
        self.env.update(zip(names + late, carried))
        for n in assigned - set(names) - set(late):
            self.env[n] = Unbound(n, line, loop=True, runs=surely_runs)
        if isinstance(stmt, ast.While) and not _has_break(stmt.body):
            if isinstance(cond, Const) and cond.value and not _same(ret, FALSE):
                ret = TRUE  # `while True:` without `break` ends only by returning
        exit = Exit(ret, ret, tuple(results) if results is not FALSE else (), exit.tree)
        return exit, broke

    def iteration(self, node: ast.expr):
        """What a ``for`` loop runs over: ``("range", (start, stop, step))`` or
        ``("items", [item, ...])`` for a tuple, a list or ``enumerate``/``zip`` of them.
        """
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
            if isinstance(value, Const):
                self.items(node)  # the error: a loop over a number
            # an array: its rows, `for row in X` being `for i in range(len(X))`
            with self.b.at(self.src.loc(node)):
                return "rows", (value, self.b.apply("len", value))
        return "items", self.items(node)

    def plain_arguments(self, node: ast.Call, name: str) -> None:
        if node.keywords:
            self.error(
                node.keywords[0], f"keyword arguments to `{name}` are not supported"
            )
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.unsupported(arg)

    def items(self, node: ast.expr, what: str = "a `for` loop over") -> list:
        """The items of a tuple, a list, or ``enumerate``/``zip`` of them (nested
        too), which a loop runs over: their number is known now."""
        if isinstance(node, ast.List):
            return [self.expr(e) for e in node.elts]
        if isinstance(node, ast.Call):
            ref = self.resolve(node.func)
            q = ref.qualname if isinstance(ref, FuncRef) else None
            if q in ("builtins.enumerate", "builtins.zip"):
                self.plain_arguments(node, q[9:])
            if q == "builtins.enumerate":
                if not 1 <= len(node.args) <= 2:
                    self.error(
                        node,
                        f"`enumerate` takes 1 or 2 arguments, got {len(node.args)}",
                    )
                items = self.items(node.args[0], what)
                start = 0
                if len(node.args) == 2:
                    start = literal_number(node.args[1])
                    if not isinstance(start, int):
                        self.error(
                            node.args[1],
                            "the start of `enumerate` must be an integer literal",
                        )
                return [
                    TupleValue((Const(start + j), item)) for j, item in enumerate(items)
                ]
            if q == "builtins.zip":
                columns = [self.items(a, what) for a in node.args]
                return [TupleValue(row) for row in zip(*columns)]
        value = self.expr(node) if not isinstance(node, ast.Call) else None
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
        if all(_same(v, values[0]) for v in values):
            return values[0]
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
        with self.b.at(self.src.loc(node)):
            return self.atom(node)

    # --- statements ------------------------------------------------------------------
    def stmt_Pass(self, stmt: ast.Pass):
        pass

    def stmt_Expr(self, stmt: ast.Expr):
        self.expr(stmt.value)  # evaluated for its errors; its value is unused

    def stmt_Assign(self, stmt: ast.Assign):
        value = self.expr(stmt.value)
        for target in stmt.targets:
            value = self.assign(target, value)  # `a = b = e`: b aliases the bound a

    def stmt_AnnAssign(self, stmt: ast.AnnAssign):
        if stmt.value is None:
            return
        self.assign(stmt.target, self.expr(stmt.value))

    def stmt_AugAssign(self, stmt: ast.AugAssign):
        if isinstance(stmt.target, ast.Subscript):
            self.assign_item(stmt.target, self.expr(stmt.value), stmt.op)
            return
        if not isinstance(stmt.target, ast.Name):
            self.assign_target_error(stmt.target)
        current = self.name(stmt.target, stmt.target.id)
        error = self.in_place_aliases.get(stmt.target.id)
        if error is not None and isinstance(current, Var):
            self.hazards.append((current.name, error))  # an error if it is an array
        value = self.binop(stmt, stmt.op, current, self.expr(stmt.value))
        self.assign(stmt.target, value)

    def stmt_Return(self, stmt: ast.Return):
        if stmt.value is None:
            self.error(
                stmt, "`return` without a value", "return the number to differentiate"
            )
        with self.b.at(self.src.loc(stmt)):
            value = self.expr(stmt.value)
        if isinstance(value, TupleValue):
            items = []
            for item in value.items:
                if isinstance(item, TupleValue):
                    self.error(stmt.value, "returning nested tuples is not supported")
                items.append(item)
            return tuple(items), tuple(range(len(items)))
        return (value,), 0

    # --- assignment --------------------------------------------------------------------
    def assign(self, target: ast.expr, value):
        """Bind ``target`` to ``value``; returns the value as bound (it may be renamed)."""
        if isinstance(target, ast.Name):
            return self.bind(target.id, value)
        elif isinstance(target, ast.Subscript):
            return self.assign_item(target, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if any(isinstance(e, ast.Starred) for e in target.elts):
                self.unsupported(
                    next(e for e in target.elts if isinstance(e, ast.Starred))
                )
            if not isinstance(value, TupleValue):
                self.error(target, "cannot unpack a single number", "unpack a tuple")
            if len(value.items) != len(target.elts):
                self.error(
                    target,
                    f"cannot unpack {len(value.items)} values into {len(target.elts)} names",
                )
            items = [
                self.assign(elt, item) for elt, item in zip(target.elts, value.items)
            ]
            return TupleValue(tuple(items))
        self.assign_target_error(target)

    def assign_target_error(self, target: ast.expr):
        if isinstance(target, ast.Attribute):
            self.error(
                target,
                "assignment to an attribute is not supported",
                "use a local name",
            )
        if isinstance(target, ast.Subscript):
            self.error(
                target, "assignment to an element is not supported", "use a local name"
            )
        self.unsupported(target)

    def bind(self, name: str, value):
        if self.depth > 0:
            # inside a branch a value gets a version of the user's name (y_1); the
            # merge after the `if` gets the name itself, and the emitted branch
            # reads `y = x * 2` because codegen folds the version into the merge
            bound = self.b.bind(value, name)
            self.env[name] = bound
            return bound
        if isinstance(value, TupleValue):
            # The tuple's temporaries are now reachable through `name`: renaming
            # one later (`u, v = t`) would leave `t` pointing at a stale name.
            self.b.keep_names(value.items)
            self.env[name] = value
            return value
        if name in self.used:
            bound = self.b.bind(value, name)
        else:
            bound = self.b.bind(value, name, reserved=True)
            if isinstance(bound, Var) and bound.name == name:
                self.used.add(
                    name
                )  # later assignments to `name` become name_1, name_2...
        self.env[name] = bound
        return bound

    # --- expressions ------------------------------------------------------------------------
    def expr(self, node: ast.expr):
        method = getattr(self, f"expr_{type(node).__name__}", None)
        if method is None:
            self.unsupported(node)
        return method(node)

    def atom(self, node: ast.expr) -> Atom:
        value = self.expr(node)
        if isinstance(value, TupleValue):
            self.error(
                node,
                "a tuple cannot be used as a number",
                "index it into separate names",
            )
        return value

    def expr_Constant(self, node: ast.Constant):
        value = node.value
        if not isinstance(value, (bool, int, float)):
            kind = (
                "complex number" if isinstance(value, complex) else type(value).__name__
            )
            self.error(
                node, f"{kind} literal is not supported", "only numbers and True/False"
            )
        if type(value) is int and abs(value) > sys.float_info.max:
            # every use of it with a float raises OverflowError when the function runs
            self.error(
                node,
                "integer literal is too large for a float",
                "write it as a float, at most 1.7976931348623157e308",
            )
        return Const(value)

    def expr_Tuple(self, node: ast.Tuple):
        return TupleValue(tuple(self.expr(e) for e in node.elts))

    def expr_Name(self, node: ast.Name):
        return self.name(node, node.id)

    def name(self, node: ast.AST, name: str):
        if name in self.locals:
            if name not in self.env:
                self.error(
                    node,
                    f"local variable `{name}` is used before it is assigned",
                    "assign it first (Python would raise UnboundLocalError here)",
                )
            value = self.env[name]
            if isinstance(value, Unbound):
                self.error(node, *value.message())
            return value
        ref = self.lookup(node, name)
        return self.ref_value(node, name, ref)

    def ref_value(self, node: ast.AST, name: str, ref):
        if isinstance(ref, ValueRef):
            return Const(ref.value)
        if ref is None:
            self.error(node, f"name `{name}` is not defined", "define or import it")
        if isinstance(ref, (FuncRef, UserFuncRef)):
            self.error(node, f"function `{name}` used as a value", "call it")
        if isinstance(ref, ModuleRef):
            self.error(
                node, f"module `{name}` used as a value", "call one of its functions"
            )
        self.error(
            node,
            f"`{name}` is not a number ad_compiler can use ({ref.what})",
            "pass it in as a parameter (arrays are welcome there); the emitted "
            "code is self-contained, so only numbers are copied into it",
        )

    def resolve(self, node: ast.expr):
        """What a callee or attribute chain refers to, without evaluating it."""
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                self.error(
                    node, f"calling the local value `{node.id}` is not supported"
                )
            ref = self.lookup(node, node.id)
            if ref is None:
                self.error(
                    node, f"name `{node.id}` is not defined", "define or import it"
                )
            return ref
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if isinstance(base, ModuleRef) or getattr(base, "module", None):
                return attribute(base, node.attr)
            if isinstance(base, OpaqueRef):
                return OpaqueRef(f"an attribute of {base.what}")
            return OpaqueRef("an attribute ad_compiler cannot see into")
        self.unsupported(node)

    def of_value(self, node: ast.expr) -> bool:
        """Whether ``node.attr`` is an attribute of a value (``x.T``), not of a module."""
        base = node
        while isinstance(base, ast.Attribute):
            base = base.value
        return not isinstance(base, ast.Name) or base.id in self.locals

    def expr_Attribute(self, node: ast.Attribute):
        if self.of_value(node.value):
            return self.array_attribute(node)
        return self.ref_value(node, ast.unparse(node), self.resolve(node))

    def expr_UnaryOp(self, node: ast.UnaryOp):
        return self.arithmetic(node)

    def unary(self, node: ast.UnaryOp, operand):
        if isinstance(node.op, ast.UAdd):
            return operand
        with self.b.at(self.src.loc(node)):
            if isinstance(node.op, ast.USub):
                return self.b.neg(operand)
            return self.b.apply("not", operand)

    def arithmetic(self, node: ast.expr):
        """A tree of ``+ - * / ** -x not x`` lowered without recursion, operands
        left to right as Python evaluates them: a 100,000-term sum is a spine of
        that depth, and only the operands that are something else (calls,
        subscripts ...) are lowered by :meth:`atom`."""
        todo, values = [(node, False)], []
        while todo:
            n, ready = todo.pop()
            if ready and isinstance(n, ast.BinOp):
                right = values.pop()
                values.append(self.binop(n, n.op, values.pop(), right))
            elif ready:
                values.append(self.unary(n, values.pop()))
            elif isinstance(n, ast.BinOp):
                todo += [(n, True), (n.right, False), (n.left, False)]
            elif (
                isinstance(n, ast.UnaryOp)
                and (literal := literal_number(n)) is not None
            ):
                values.append(Const(literal))
            elif isinstance(n, ast.UnaryOp):
                if isinstance(n.op, ast.Invert):
                    self.error(
                        n, "bitwise `~` is not supported", "it has no derivative"
                    )
                todo += [(n, True), (n.operand, False)]
            else:
                values.append(self.atom(n))
        return values[0]

    def expr_Compare(self, node: ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                word = {
                    ast.Is: "is",
                    ast.IsNot: "is not",
                    ast.In: "in",
                    ast.NotIn: "not in",
                }
                self.error(
                    node,
                    f"comparison `{word[type(op)]}` is not supported",
                    "compare numbers",
                )
        return self.chain(node, self.atom(node.left), node.ops, node.comparators)

    def chain(self, node, left, ops, comparators):
        """``left op0 c0 op1 c1 ...``: each later link is evaluated only if the
        earlier ones hold, and each comparand once, as Python does.

        The links are a sequence of ``if``s, not a nest: link k runs under the
        result so far, and hands the next link its comparand (a value computed
        in its branch) as an output, so a chain of any length lowers flat.
        """
        right = self.atom(comparators[0])
        with self.b.at(self.src.loc(node)):
            result = self.b.apply(_COMPARE[type(ops[0])], left, right)
        for k in range(1, len(ops)):
            last = k == len(ops) - 1
            result, right = self.link(node, result, right, ops[k], comparators[k], last)
        return result

    def link(self, node, so_far, left, op, comparator, last: bool):
        """``so_far and (left op comparator)``; returns it and the comparand."""
        env = self.env
        self.depth += 1
        with self.b.block() as eqns:
            right = self.atom(comparator)
            with self.b.at(self.src.loc(node)):
                holds = self.b.apply(_COMPARE[type(op)], left, right)
        self.depth -= 1
        self.env = env
        loc = self.src.loc(node)
        outs, tv, ev = [self.namer.temp()], [holds], [so_far]
        self.b.renameable(outs[0])
        if not last and isinstance(right, Var) and right.name in defined_names(eqns):
            # the next link reads it; on the other side it is never read
            outs.append(self.namer.temp())
            tv.append(right)
            ev.append(left)
            self.b.renameable(outs[1])
        self.b.emit(If(so_far, tuple(eqns), (), tuple(outs), tuple(tv), tuple(ev), loc))
        return outs[0], outs[-1] if len(outs) == 2 else right

    def short_circuit(self, node, first, rest, on_true: bool):
        """``first and rest()`` (``on_true``) or ``first or rest()``, evaluating
        ``rest`` only when Python would."""
        env = self.env
        self.depth += 1
        with self.b.block() as eqns:
            second = rest()
        self.depth -= 1
        self.env = env
        out = self.namer.temp()
        loc = self.src.loc(node)
        self.b.renameable(out)
        if on_true:
            stmt = If(first, tuple(eqns), (), (out,), (second,), (first,), loc)
        else:
            stmt = If(first, (), tuple(eqns), (out,), (first,), (second,), loc)
        self.b.emit(stmt)
        return out

    def expr_BoolOp(self, node: ast.BoolOp):
        result = self.atom(node.values[0])
        for value in node.values[1:]:
            result = self.short_circuit(
                node, result, lambda v=value: self.atom(v), isinstance(node.op, ast.And)
            )
        return result

    def expr_IfExp(self, node: ast.IfExp):
        cond = self.condition(node.test)
        env = self.env
        arms = []
        for part in (node.body, node.orelse):
            self.depth += 1
            with self.b.block() as eqns:
                value = self.atom(part)
            self.depth -= 1
            self.env = env
            arms.append((tuple(eqns), value))
        (then, t), (orelse, e) = arms
        out = self.namer.temp()
        self.b.renameable(out)
        self.b.emit(If(cond, then, orelse, (out,), (t,), (e,), self.src.loc(node)))
        return out

    def expr_BinOp(self, node: ast.BinOp):
        return self.arithmetic(node)

    def binop(self, node: ast.AST, op: ast.operator, left, right):
        prim = _BINOPS.get(type(op))
        if prim is None:
            what, hint = _BINOP_WORDS.get(type(op), (type(op).__name__, None))
            self.error(node, f"{what} is not supported", hint)
        if isinstance(left, TupleValue) or isinstance(right, TupleValue):
            self.error(node, "arithmetic on tuples is not supported")
        with self.b.at(self.src.loc(node)):
            return self.b.apply(prim, left, right)

    def expr_Call(self, node: ast.Call):
        if isinstance(node.func, ast.Attribute) and self.of_value(node.func.value):
            return self.method_call(node, node.func)
        ref = self.resolve(node.func)
        callee = ast.unparse(node.func)
        array_function = known_numpy(ref)
        if array_function is not None:
            return self.array_function(node, array_function, callee)
        if isinstance(ref, UserFuncRef):
            return self.call_user(node, callee, ref)
        if not isinstance(ref, FuncRef):
            what = f" ({ref.what})" if isinstance(ref, OpaqueRef) else ""
            self.error(
                node.func,
                f"call to `{callee}` is not supported{what}",
                "call it from a function of yours marked @custom_derivative(partials), "
                "giving its derivative; ad_compiler itself knows arithmetic, the "
                "math/NumPy elementary functions and abs, min, max, pow, float, int, round",
            )
        self.plain_arguments(node, callee)
        q = ref.qualname
        if q in ("builtins.range", "builtins.enumerate", "builtins.zip"):
            self.error(
                node,
                f"`{callee}` is supported only as what a `for` loop runs over",
                "use it in a `for` statement",
            )
        if q == "builtins.len":
            self.arity(node, callee, node.args, 1)
            arg = node.args[0]
            if isinstance(arg, (ast.Name, ast.Attribute, ast.Subscript)):
                value = self.expr(arg)
                if not isinstance(
                    value, TupleValue
                ):  # an array: its length at run time
                    with self.b.at(self.src.loc(node)):
                        return self.b.apply("len", value)
            return Const(len(self.items(arg, "`len` of")))
        if q in ("builtins.max", "builtins.min") and len(node.args) < 2:
            self.error(
                node,
                f"`{callee}` of one iterable is not supported",
                "pass the values as separate arguments",
            )
        args = [self.atom(a) for a in node.args]
        ns = {"numpy": "np", "math": "math"}.get(q.split(".")[0], "py")
        with self.b.at(self.src.loc(node), ns):
            if q == "math.log":  # log(x) or log(x, base) = log(x) / log(base)
                self.arity(node, callee, args, 1, also=2)
                if len(args) == 2:
                    return self.b.div(self.b.log(args[0]), self.b.log(args[1]))
                return self.b.log(args[0])
            if q == "numpy.square":  # x * x: the same value, and one adjoint term
                self.arity(node, callee, args, 1)
                return self.b.mul(args[0], args[0])
            if q in ("builtins.max", "builtins.min"):
                # max(a, b, c) = max(max(a, b), c): the first maximal argument wins
                result = args[0]
                for arg in args[1:]:
                    result = self.b.apply(q.split(".")[1], result, arg)
                return result
            if q in _UNARY:
                self.arity(node, callee, args, 1)
                return self.b.apply(_UNARY[q], *args)
            if q in _BINARY:
                self.arity(node, callee, args, 2)
                return self.b.apply(_BINARY[q], *args)
        self.error(node.func, f"`{callee}` has no derivative rule")

    # --- calls to the user's functions -----------------------------------------------------
    def call_user(self, node: ast.Call, callee: str, ref: UserFuncRef):
        """A call to another of the user's functions, inlined: its body is lowered
        here, its parameters bound to the arguments, its names made fresh."""
        src, scope = _source_of(ref, self.src, self.scope)
        inner = Lowerer(src, scope)
        key = inner.stack[0]
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.unsupported(arg)
        args = [self.expr(a) for a in node.args]
        values = dict(zip(inner.params, args))
        if len(args) > len(inner.params):
            self.error(
                node,
                f"`{callee}` takes {len(inner.params)} arguments, got {len(args)}",
            )
        for kw in node.keywords:
            if kw.arg is None:
                self.error(kw, "`**` arguments are not supported", "pass them by name")
            if kw.arg not in inner.params:
                self.error(kw, f"`{callee}` has no parameter named `{kw.arg}`")
            if kw.arg in values:
                self.error(kw, f"`{callee}` got two values for `{kw.arg}`")
            values[kw.arg] = self.expr(kw.value)
        inner.check_signature()
        defaults = src.node.args.defaults
        first = len(inner.params) - len(defaults)
        for i, p in enumerate(inner.params):
            if p not in values:
                if i < first:
                    self.error(
                        node, f"missing argument `{p}` in the call to `{callee}`"
                    )
                values[p] = inner.default(defaults[i - first])
        self.check_written_arguments(node, callee, inner)
        partials = custom_partials(ref, src, scope)
        if partials is not None:
            return self.call_custom(node, callee, ref, src, inner, values, partials)
        if key in self.stack:
            return self.call_recursive(node, callee, src, scope, inner, values)
        return self.inline(inner, values)

    def check_written_arguments(self, node: ast.Call, callee: str, inner: "Lowerer"):
        """Reject a call whose callee writes into a parameter given (a view of)
        one of this function's arrays: the callee is inlined, its write a new
        version of its own name, while in Python the caller's array changes."""
        written, in_place = writes(inner, inner.src.node, augmented=True)
        if not written and not in_place:
            return
        calls = user_call_aliases(self.scope, self.src, self.locals)
        given = dict(zip(inner.params, node.args))
        given.update({kw.arg: kw.value for kw in node.keywords})
        for param, arg in given.items():
            write = written.get(param) or in_place.get(param)
            if write is None:
                continue
            names = _aliased_names(arg, calls)
            sources = sorted(n for n in names if n in self.locals)
            if not sources:
                continue
            message = (
                f"`{param}` may share its array with `{sources[0]}`, and "
                f"`{param}` is written into (line {inner.src.loc(write).line}"
                f" of `{callee}`): Python would change both"
            )
            hint = f"pass a copy: {ast.unparse(arg)}.copy()"
            refuse_alias_write(self, node, inner, param, written, message, hint)

    def inline(self, inner: "Lowerer", values: dict):
        """Lower ``inner``'s body here, its parameters bound to ``values``."""
        # the callee builds into this function's body, with its names made unique
        inner.namer, inner.b = self.namer, self.b
        inner.stack = self.stack + inner.stack
        inner.program, inner.externals = self.program, self.externals
        inner.used = set(inner.locals)
        inner.env = values
        inner.hazards = self.hazards
        check_aliasing(inner, inner.src.node)  # the callee's own writes and aliases
        results, tree = inner.lower_function_body()
        if isinstance(tree, int):
            return results[tree]
        return TupleValue(tuple(results[i] for i in tree))

    def scalar_args(self, node, callee, inner, values) -> tuple:
        args = tuple(values[p] for p in inner.params)
        if any(isinstance(a, TupleValue) for a in args):
            self.error(node, f"passing a tuple to `{callee}` is not supported here")
        return args

    def call_recursive(self, node, callee, src, scope, inner, values):
        """A recursive call stays a call: the callee is lowered on its own, once,
        and its derivatives are emitted as functions calling each other."""
        args = self.scalar_args(node, callee, inner, values)
        name = src.node.name
        if name not in self.program:
            self.program[name] = None  # being lowered: its own calls find it here
            alone = Lowerer(src, scope)
            alone.program, alone.externals, alone.top = (
                self.program,
                self.externals,
                False,
            )
            self.program[name] = alone.run()
        n = _returned_count(src.node)
        outs = tuple(self.namer.temp() for _ in range(n))
        with self.b.at(self.src.loc(node)):
            if n == 1:
                self.b.renameable(outs[0])
            self.b.emit(Eqn("call", outs, args, self.b.loc, "py", (("fn", name),)))
        return outs[0] if n == 1 else TupleValue(outs)

    def call_custom(self, node, callee, ref, src, inner, values, partials):
        """``f(x, y)`` with a custom derivative: a call to ``f`` as it is, and its
        partial derivatives ``∂f/∂x, ∂f/∂y`` from the user's function, inlined."""
        args = self.scalar_args(node, callee, inner, values)
        p_src, p_scope = _source_of(partials, src, self.scope)
        p_inner = Lowerer(p_src, p_scope)
        if len(p_inner.params) != len(args):
            self.error(
                node,
                f"the partial derivatives of `{callee}` take {len(p_inner.params)} "
                f"arguments, but `{callee}` takes {len(args)}",
            )
        p_inner.check_signature()
        got = self.inline(p_inner, dict(zip(p_inner.params, args)))
        parts = got.items if isinstance(got, TupleValue) else (got,)
        if len(parts) != len(args) or any(isinstance(p, TupleValue) for p in parts):
            self.error(
                node,
                f"the partial derivatives of `{callee}` must be {len(args)} numbers, "
                "one per parameter",
            )
        name = src.node.name
        self.externals[name] = external_source(src, ref.obj, self.scope)
        out = self.namer.temp()
        params = (("custom", len(args)), ("fn", name))
        with self.b.at(self.src.loc(node)):
            self.b.renameable(out)
            self.b.emit(
                Eqn("call", (out,), args + tuple(parts), self.b.loc, "py", params)
            )
        return out

    def arity(self, node, callee, args, n, also=None):
        if len(args) != n and len(args) != also:
            expected = f"{n}" if also is None else f"{n} or {also}"
            plural = "s" if (also or n) != 1 else ""
            self.error(
                node, f"`{callee}` takes {expected} argument{plural}, got {len(args)}"
            )


def lower_function(src: FunctionSource, scope) -> Function:
    """The IR of one function (see the module docstring for what is guaranteed)."""
    return Lowerer(src, scope).run()


def _source_of(ref: UserFuncRef, src: FunctionSource, scope):
    """The source and scope of a user function: the same file (static) or its own."""
    if ref.node is not None:
        callee = FunctionSource(ref.node, src.file, src.lines)
        check_decorators(callee, scope, called_from=src.node.name)
        return callee, scope
    return from_function(ref.obj), RuntimeScope(ref.obj)


def _returned_count(node: ast.FunctionDef) -> int:
    """How many values a function returns (a tuple literal's length, else 1)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Tuple):
            return len(sub.value.elts)
    return 1


def custom_partials(ref: UserFuncRef, src: FunctionSource, scope):
    """The function giving the partial derivatives of a ``@custom_derivative``
    function (see :func:`ad_compiler.custom_derivative`), or None."""
    if ref.obj is not None:
        partials = getattr(ref.obj, "__adc_partials__", None)
        if partials is None:
            return None
        return UserFuncRef(getattr(partials, "__name__", "?"), obj=partials)
    for dec in src.node.decorator_list:
        if not isinstance(dec, ast.Call):
            continue
        if ast.unparse(dec.func).split(".")[-1] != "custom_derivative":
            continue
        loc = src.loc(dec)
        if len(dec.args) != 1 or not isinstance(dec.args[0], ast.Name) or dec.keywords:
            raise UnsupportedError(
                "custom_derivative takes the name of one function",
                loc,
                "write @custom_derivative(partials) with a module-level `def partials`",
                src.line(loc),
            )
        partials = checked_lookup(scope, dec.args[0].id, loc, src.line(loc))
        if not isinstance(partials, UserFuncRef):
            raise UnsupportedError(
                f"`{dec.args[0].id}` is not a function defined in this module",
                loc,
                "define the partial derivatives with `def` in the same file",
                src.line(loc),
            )
        return partials
    return None


def _placeholder(target: ast.expr):
    """A value of the shape of an assignment target (never read)."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return TupleValue(tuple(_placeholder(e) for e in target.elts))
    return Const(0.0)


def _drop_unread(body: tuple, late: set, results) -> tuple:
    """The body without the carried values in ``late`` that nothing reads."""
    if not late:
        return body
    unread = set(late)

    def reads(stmts, read):
        for s in stmts:
            atoms = own_reads(s)
            if isinstance(s, (For, While)):  # a next of an unread value is not read
                nexts = [n for c, n in zip(s.carried, s.nexts) if c.name not in unread]
                atoms = loop_reads(s) + (s.cond, s.brk) + tuple(nexts)
            read.update(a.name for a in atoms if isinstance(a, Var))
            for block in blocks(s):
                reads(block, read)

    while True:
        read = {a.name for a in results if isinstance(a, Var)}
        reads(body, read)
        if not unread & read:
            break
        unread -= read

    def rewrite(stmts):
        out = []
        for s in stmts:
            if isinstance(s, (For, While)):
                keep = [k for k, c in enumerate(s.carried) if c.name not in unread]
                s = dataclasses.replace(
                    s,
                    carried=tuple(s.carried[k] for k in keep),
                    inits=tuple(s.inits[k] for k in keep),
                    nexts=tuple(s.nexts[k] for k in keep),
                    body=rewrite(s.body),
                )
            elif isinstance(s, If):
                s = dataclasses.replace(
                    s, then=rewrite(s.then), orelse=rewrite(s.orelse)
                )
            out.append(s)
        return tuple(out)

    return rewrite(body) if unread else body
