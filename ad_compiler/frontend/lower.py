"""Lowering: a function's AST -> IR (the evaluation trace).

One ``stmt_<Node>`` / ``expr_<Node>`` method per supported node; every other
node is rejected by name, with its location and a hint (see ``UNSUPPORTED``).
:class:`Lowerer` holds the state and the statements; its mixins lower the rest:
control flow (:mod:`.lower_control`), expressions (:mod:`.lower_exprs`), calls
(:mod:`.lower_calls`), NumPy array code (:mod:`.lower_arrays`) and lists
(:mod:`.lower_lists`).

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

from ad_compiler.errors import CompileErrors, UnsupportedError
from ad_compiler.frontend.lower_arrays import ArrayLowering, check_aliasing
from ad_compiler.frontend.lower_calls import CallLowering
from ad_compiler.frontend.lower_control import ControlLowering, _stored_names
from ad_compiler.frontend.lower_exprs import ExpressionLowering
from ad_compiler.frontend.lower_library import LibraryLowering
from ad_compiler.frontend.lower_lists import ListLowering
from ad_compiler.frontend.lower_runlists import RunListLowering
from ad_compiler.frontend.lower_shapes import ShapeLowering
from ad_compiler.frontend.lower_trees import _UNKNOWN, TreeLowering, static_default
from ad_compiler.frontend.lower_values import RunList, StaticValue, TupleValue
from ad_compiler.frontend.nested import NestedLowering
from ad_compiler.frontend.prints import is_print, lower_print
from ad_compiler.frontend.recovery import (
    Recovery,
    TooManyErrors,
    poison_signature,
    recover,
)
from ad_compiler.frontend.scope import ValueRef, checked_lookup, literal_number
from ad_compiler.frontend.scope_data import scope_fields
from ad_compiler.frontend.source import FunctionSource
from ad_compiler.ir.builder import IRBuilder
from ad_compiler.ir.nodes import (
    Const,
    For,
    Function,
    If,
    Namer,
    Var,
    While,
    blocks,
    loop_reads,
    own_reads,
    verify,
)

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
    ast.AsyncFunctionDef: ("`async def`", "differentiate a plain `def` function"),
    ast.Import: ("`import` inside a function", "import at the top of the module"),
    ast.ImportFrom: ("`import` inside a function", "import at the top of the module"),
    ast.SetComp: ("set comprehension", "return numbers, not sets"),
    ast.DictComp: ("dict comprehension", "return numbers, not dicts"),
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
    ast.Dict: ("dict", "use separate values"),
    ast.Set: ("set", "use separate values"),
    ast.JoinedStr: ("f-string", "derivatives are of numbers; remove the string"),
    ast.Starred: ("star-unpacking", "unpack into named values"),
    ast.Slice: ("slice", "pass the elements as separate parameters"),
}
if hasattr(ast, "Match"):
    UNSUPPORTED[ast.Match] = ("`match` statement", "write it with if/elif/else")


# Expressions nested deeper than this are refused (Lowerer.check_nesting).
MAX_NESTING = 80
# Lowered without recursion (Lowerer.arithmetic, chain, expr_BoolOp): any depth.
# Names and literals (and `math.sin`, `x.T`) are leaves, not a level.
_FLAT_EXPRS = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Name, ast.Constant)


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


class Lowerer(
    ControlLowering,
    ExpressionLowering,
    CallLowering,
    ArrayLowering,
    ShapeLowering,
    NestedLowering,
    ListLowering,
    RunListLowering,
    TreeLowering,
    LibraryLowering,
):
    """Lowers one function; use :func:`lower_function`."""

    def __init__(self, src: FunctionSource, scope, spec=None):
        self.src = src
        self.spec = spec  # a treedef per parameter (ad_compiler.trees), or None
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
        # id(statement) -> {name: error}: `s = A[j]` whose A is written while s
        # is still read -- wrong only if A[j] is an array (check_number_aliases)
        self.number_aliases: dict = {}
        self.hazards: list = []
        self.recovery = None  # a frontend.recovery.Recovery: collect every error
        self.poisoned = False  # a statement failed (recovery.py)
        self.shapes_taken: dict = {}  # x.shape's value -> x (see lower_shapes)
        self.outermost = False  # set by run(): not inlined into another function
        # the lists the caller passed to this (inlined) function: changing one
        # here would change the caller's too (lower_lists.check_unshared)
        self.lists_passed_in: frozenset = frozenset()
        self.summing = False  # lower_lists.summed_items: trying to unroll a sum
        # (the value of `name = value` being lowered, name): a comprehension
        # made a run-time list names its buffer after it (lower_runlists)
        self.assigned_value: tuple | None = None
        self.buffer_names: dict = {}
        # arrays read from the user's scope: extra parameters (scope_data.py)
        self.scope_data: dict = {}

    def lookup(self, node: ast.AST, name: str):
        """What the global ``name`` used at ``node`` is; an ambiguous one is an error."""
        loc = self.src.loc(node)
        return checked_lookup(self.scope, name, loc, self.src.line(loc))

    # --- errors ------------------------------------------------------------------
    def error(self, node: ast.AST, message: str, hint: str | None = None):
        raise self.error_at(node, message, hint)

    def error_at(self, node: ast.AST, message: str, hint: str | None = None):
        """The error :meth:`error` raises, to raise later."""
        loc = self.src.loc(node)
        return UnsupportedError(message, loc, hint, self.src.line(loc))

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
        self.outermost = True  # its results are the IR's: numbers, not functions
        self.lookup(node, node.name)  # a function defined twice: which one is meant?
        self.checked(self.check_signature)
        self.checked(lambda: self.check_nesting(node))
        self.checked(lambda: check_aliasing(self, node))
        params = self.bind_parameters(self.spec)  # the leaves of trees, no statics
        if self.recovery is not None:  # the star and keyword-only ones were refused
            poison_signature(self)
        defaults = self.checked(lambda: self.numeric_defaults(self.spec), ())
        statics = tuple(self.static_params().items())
        doc = ast.get_docstring(node, clean=True)
        results, tree = self.checked(self.lower_function_body, ((), 0))
        if self.recovery is not None:
            self.recovery.raise_errors()  # the IR built beside them is not used
        callees = ()
        if self.top:
            callees = tuple(f for f in self.program.values() if f is not None)
        body = _drop_unread(tuple(self.b.eqns), self.late, results)
        params += tuple(v for v, _ in self.scope_data.values())
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
            statics=statics,
            **scope_fields(self),
        )
        return verify(fn)

    def checked(self, step, failed=None):
        """``step()``; with a :attr:`recovery`, ``failed`` after recording its error
        (a check before lowering, or the body: see :mod:`.recovery`)."""
        try:
            return step()
        except Exception as exc:
            recover(self, None, exc, (self.env, self.depth, self.loops))
            return failed

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
        static = static_default(node)  # "tanh", None, True: a compile-time value
        if static is not _UNKNOWN:
            return StaticValue(static)
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

    # --- statements ------------------------------------------------------------------
    def stmt_Pass(self, stmt: ast.Pass):
        pass

    def stmt_Expr(self, stmt: ast.Expr):
        if is_print(self, stmt.value):
            return lower_print(self, stmt.value)  # kept: an effect
        self.expr(stmt.value)  # evaluated for its errors; its value is unused

    def stmt_Assign(self, stmt: ast.Assign):
        target = stmt.targets[0]
        if len(stmt.targets) == 1 and isinstance(target, ast.Name):
            self.assigned_value = (stmt.value, target.id)  # (lower_runlists)
        value = self.expr(stmt.value)
        for target in stmt.targets:
            value = self.assign(target, value)  # `a = b = e`: b aliases the bound a
        self.check_number_aliases(stmt)

    def stmt_AnnAssign(self, stmt: ast.AnnAssign):
        if stmt.value is None:
            return
        self.assign(stmt.target, self.expr(stmt.value))
        self.check_number_aliases(stmt)

    def stmt_AugAssign(self, stmt: ast.AugAssign):
        if isinstance(stmt.target, ast.Subscript):
            self.assign_item(stmt.target, self.expr(stmt.value), stmt.op)
            return
        if not isinstance(stmt.target, ast.Name):
            self.assign_target_error(stmt.target)
        current = self.name(stmt.target, stmt.target.id)
        if hasattr(current, "ident"):  # xs += ys on a list: lower_lists
            return self.extend_in_place(stmt, current)
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
        if self.outermost:
            self.not_a_function(stmt.value, value, "return what it computes: call it")
            if isinstance(value, RunList) or (
                isinstance(value, TupleValue)
                and any(isinstance(v, RunList) for v in value.items)
            ):
                self.error(
                    stmt.value,
                    "returning a list whose length is known only at run time "
                    "from the differentiated function is not supported",
                    "return an array: `np.stack(xs)` (or `np.array(xs)` of numbers)",
                )
        self.check_returned(stmt.value, value)
        value = self.escape(value)  # a function handed out keeps our names as now
        if isinstance(value, TupleValue):
            items = []
            for item in value.items:
                if isinstance(item, TupleValue):
                    self.error(
                        stmt.value,
                        "returning nested tuples is not supported",
                        "return a flat tuple: `return a, b, c` for `return a, (b, c)`",
                    )
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
                shape = self.unpack_shape(target, value)  # n, d = X.shape
                if shape is None:
                    self.check_unpack(target, value)  # a tree parameter? (lower_trees)
                    self.error(
                        target, "cannot unpack a single number", "unpack a tuple"
                    )
                value = shape
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
        if isinstance(value, RunList):  # a buffer and a length, named already
            self.env[name] = value
            return value
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


def lower_function(
    src: FunctionSource, scope, spec=None, collect: bool = False
) -> Function:
    """The IR of one function (see the module docstring for what is guaranteed).

    ``spec``: a treedef per parameter (:mod:`ad_compiler.trees`): tree
    parameters become their leaves, static ones none (see :mod:`.lower_trees`).
    With ``collect``, lowering goes on after an error and raises every error of
    the function at the end (:mod:`ad_compiler.frontend.recovery`): one
    :class:`~ad_compiler.errors.CompileError`, or ``CompileErrors`` for several.
    """
    lowerer = Lowerer(src, scope, spec)
    if not collect:
        return lowerer.run()
    lowerer.recovery = Recovery()
    try:
        return lowerer.run()
    except TooManyErrors:
        errors = CompileErrors(lowerer.recovery.errors)
        errors.stopped = True
        raise errors from None


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
