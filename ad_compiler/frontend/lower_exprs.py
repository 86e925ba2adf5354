"""Lowering of expressions: names, literals, arithmetic, comparisons, ``and``/``or``
and conditional expressions.

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.  Operands are lowered
left to right, as Python evaluates them; arithmetic, comparison chains and
``and``/``or`` are lowered without recursion (any length Python parses), and
the parts Python evaluates only sometimes (``b`` in ``a and b``, a later link
of ``a < b < c``, the arms of ``x if c else y``) become ``If`` statements.
"""

from __future__ import annotations

import ast
import sys

from ad_compiler.frontend.lower_values import (
    Poisoned,
    RunList,
    StaticValue,
    TupleValue,
    Unbound,
)
from ad_compiler.frontend.recovery import PoisonedRead
from ad_compiler.frontend.scope import (
    DataRef,
    FuncRef,
    ModuleRef,
    OpaqueRef,
    StaticRef,
    UserFuncRef,
    ValueRef,
    attribute,
    literal_number,
    unknown_attribute,
)
from ad_compiler.frontend.scope_data import data_param
from ad_compiler.ir.nodes import Atom, Const, If, Var, defined_names

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
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
}
_BINOP_WORDS = {
    ast.LShift: ("shift `<<`", "bit operations have no derivative"),
    ast.RShift: ("shift `>>`", "bit operations have no derivative"),
    ast.BitOr: ("bitwise `|`", "bit operations have no derivative"),
    ast.BitAnd: ("bitwise `&`", "bit operations have no derivative"),
    ast.BitXor: ("bitwise `^`", "for a power write `**`"),
}


class ExpressionLowering:
    """The expression parts of lowering (mixed into Lowerer)."""

    # --- expressions ------------------------------------------------------------------------
    def expr(self, node: ast.expr):
        method = getattr(self, f"expr_{type(node).__name__}", None)
        if method is None:
            self.unsupported(node)
        return method(node)

    def atom(self, node: ast.expr) -> Atom:
        value = self.expr(node)
        if isinstance(value, TupleValue) or isinstance(value, RunList):
            self.error(
                node,
                "a tuple or list cannot be used as a number or array",
                "index it, sum it with sum(xs), or make an array: np.array(xs)",
            )
        self.not_a_function(node, value)
        return self.atom_of(node, value)  # dicts, static values (see lower_trees)

    def expr_Constant(self, node: ast.Constant):
        value = node.value
        if isinstance(value, str) or value is None:
            return StaticValue(value)  # an error only where used as a number
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
            if isinstance(value, Poisoned):  # its statement's error is reported
                raise PoisonedRead(f"`{name}` is poisoned")
            return value
        value = self.free_value(node, name)  # an enclosing function's (nested.py)
        if value is not None:
            return value
        ref = self.lookup(node, name)
        return self.ref_value(node, name, ref)

    def ref_value(self, node: ast.AST, name: str, ref):
        if isinstance(ref, ValueRef):
            return Const(ref.value)
        if isinstance(ref, StaticRef):  # `act` of a factory: decided now
            return StaticValue(ref.value)
        if isinstance(ref, DataRef):
            return data_param(self, node, ref)
        if ref is None:
            self.error(node, f"name `{name}` is not defined", "define or import it")
        if isinstance(ref, (FuncRef, UserFuncRef)):
            return self.global_function(name, ref)  # a value until called (nested.py)
        if isinstance(ref, ModuleRef):
            self.error(
                node, f"module `{name}` used as a value", "call one of its functions"
            )
        self.error(
            node,
            f"`{name}` is not a number ad_compiler can use ({ref.what})",
            "pass it in as a parameter (arrays are welcome there); from the "
            "enclosing scope only numbers and NumPy arrays are read",
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
            if isinstance(base, ModuleRef) or getattr(base, "module", None) is not None:
                return attribute(base, node.attr)
            if isinstance(base, OpaqueRef):
                return unknown_attribute(base, node.attr)
            return OpaqueRef("an attribute ad_compiler cannot see into")
        self.unsupported(node)

    def of_value(self, node: ast.expr) -> bool:
        """Whether ``node.attr`` is an attribute of a value (``x.T``), not of a module."""
        base = node
        while isinstance(base, ast.Attribute):
            base = base.value
        if not isinstance(base, ast.Name) or base.id in self.locals:
            return True
        if self.enclosing(base.id) is not None:  # a nested function's free name
            return True
        return isinstance(self.resolve(node), DataRef)  # `X.T`, X from the scope

    def expr_Attribute(self, node: ast.Attribute):
        if self.of_value(node.value):
            return self.array_attribute(node)
        return self.ref_value(node, ast.unparse(node), self.resolve(node))

    def expr_UnaryOp(self, node: ast.UnaryOp):
        if isinstance(node.op, ast.Not):  # `not flag` of a static flag: decided now
            return self.static_not(node)
        return self.arithmetic(node)

    def unary(self, node: ast.UnaryOp, operand):
        if isinstance(operand, TupleValue):
            self.error(node.operand, "arithmetic on tuples or lists is not supported")
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
            else:  # a list or tuple too: `xs + [v]` (binop)
                values.append(self.expr(n))
        return values[0]

    def expr_Compare(self, node: ast.Compare):
        left = self.expr(node.left)
        static = self.static_compare(node, left)  # kind == "tanh", x is None ...
        if static is not None:
            return static
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
        return self.chain(
            node, self.atom_of(node.left, left), node.ops, node.comparators
        )

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
        first = self.expr(node.values[0])
        if isinstance(first, StaticValue):
            return self.static_boolop(node, first)
        result = self.atom_of(node.values[0], first)
        for value in node.values[1:]:
            result = self.short_circuit(
                node, result, lambda v=value: self.atom(v), isinstance(node.op, ast.And)
            )
        return result

    def expr_IfExp(self, node: ast.IfExp):
        cond = self.condition(node.test)
        taken = self.decided(cond)
        if taken is not None:  # a static condition: only that arm exists
            return self.expr(node.body if taken else node.orelse)
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
            joined = self.sequence_binop(op, left, right)  # xs + ys, xs * 3
            if joined is None:
                self.error(node, "arithmetic on tuples or lists is not supported")
            return joined
        if isinstance(left, StaticValue) or isinstance(right, StaticValue):
            joined = self.static_binop(op, left, right)  # "W_" + name
            if joined is not None:
                return joined
            left = self.atom_of(getattr(node, "left", node), left)
            right = self.atom_of(getattr(node, "right", node), right)
        self.not_a_function(node, TupleValue((left, right)))
        with self.b.at(self.src.loc(node)):
            return self.b.apply(prim, left, right)

    def static_binop(self, op: ast.operator, left, right):
        """``+`` of two static strings, ``*`` of a static string and an int
        known now: the static value (dict keys built from names); else None."""
        a = (
            left.value
            if isinstance(left, StaticValue)
            else getattr(left, "value", left)
        )
        b = (
            right.value
            if isinstance(right, StaticValue)
            else getattr(right, "value", right)
        )
        if isinstance(op, ast.Add) and isinstance(a, str) and isinstance(b, str):
            return StaticValue(a + b)
        if isinstance(op, ast.Mult) and isinstance(a, str) and type(b) is int:
            if len(a) * max(b, 0) <= 10_000:  # a name, not a way to fill memory
                return StaticValue(a * b)
        return None
