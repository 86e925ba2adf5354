"""Lowering of parameter trees and static values.

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.

* A parameter given a tree treedef (:mod:`ad_compiler.trees`) is bound to a
  compile-time value whose leaves are IR parameters with readable names
  (``params_0_1``, ``p_w``): a :class:`TupleValue`, a :class:`TreeList` or a
  :class:`DictValue`.  Indexing it with a constant, unpacking it, ``len`` and
  passing it (or a part) to a helper work on that value; no equation is made.
* A static argument, a non-numeric default, a string literal and ``None`` are
  :class:`StaticValue` s.  Comparisons of static values (``kind == "tanh"``,
  ``x is None``, ``x is not None``, ``kind in ("a", "b")``), ``not``, ``and``/
  ``or`` of them are evaluated now, and an ``if`` or conditional expression on
  one lowers only the branch taken.  A number is never ``None`` nor a string,
  so ``x is None`` for a number ``x`` is decided too (false).

Guarantee: a static value never reaches the IR, except a ``bool`` used as a
number (``Const(True)``); using any other one as a number is a located error.

When a function is lowered without a treedef for its parameters (``adc
compile``, or the API before it has seen the arguments) and it uses a
parameter as a tree or a static value, :class:`TreeNeeded` is raised: the API
then compiles per call, once it knows the arguments' structure.
"""

from __future__ import annotations

import ast
import operator

from ad_compiler import trees
from ad_compiler.errors import UnsupportedError
from ad_compiler.frontend.lower_values import (
    DictValue,
    StaticValue,
    TreeList,
    TupleValue,
)
from ad_compiler.frontend.scope import literal_number
from ad_compiler.ir.nodes import Const, Var

# the methods of a static string whose results are static values (bool, str)
_STR_METHODS = frozenset(
    {"startswith", "endswith", "lower", "upper", "casefold", "strip", "lstrip"}
    | {"rstrip", "isdigit", "isalpha", "isidentifier", "removeprefix"}
    | {"removesuffix", "isupper", "islower"}
)


class TreeNeeded(UnsupportedError):
    """A parameter is used as a tree or a static value, but was lowered as a
    number (its argument's structure is not known yet)."""


_STATIC_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_UNKNOWN = object()  # a number known only when the function runs
# where a parameter tree's structure is not known (adc compile; the API
# before it has seen the arguments)
_TREE_HINT = (
    "a parameter that is a tuple, list or dict of arrays is a tree: the API "
    "(grad(f)(params, ...)) compiles it for the structure it is called with; "
    "for `adc compile`, declare its structure, leaves as DIMS strings: "
    '--shape \'params=[("n,h", "h"), ("h,1", "1")]\' (docs/arrays.md)'
)


def static_default(node: ast.expr):
    """The value of a default that is not a number (``"tanh"``, ``None``,
    ``True``, a tuple of those); ``_UNKNOWN`` for anything else."""
    if literal_number(node) is not None:
        return _UNKNOWN
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN
    if isinstance(value, (str, bool, bytes, type(None), tuple, frozenset)):
        return value
    return _UNKNOWN


def is_static_default(node: ast.expr) -> bool:
    """Whether a default is a static value (:func:`static_default`)."""
    return static_default(node) is not _UNKNOWN


class TreeLowering:
    """The tree and static parts of lowering (mixed into Lowerer)."""

    # names of the top-level parameters lowered as numbers for want of their
    # arguments' structure (a tree use of one raises TreeNeeded)
    eager_params: frozenset = frozenset()

    # --- parameters ------------------------------------------------------------------
    def bind_parameters(self, spec) -> tuple:
        """Bind each parameter in ``self.env``; the IR parameters (the leaves).

        ``spec`` is one treedef per parameter (or None: each parameter a number
        or array, except one with a non-numeric default, fixed to it; a None
        in ``spec`` says the same of one parameter).
        """
        node = self.src.node
        defaults = node.args.defaults
        first = len(self.params) - len(defaults)
        params = []
        eager = set()
        for i, name in enumerate(self.params):
            tdef = None if spec is None else spec[i]
            if tdef is None:  # not given (`adc compile` gives only the trees)
                value = static_default(defaults[i - first]) if i >= first else _UNKNOWN
                tdef = trees.LEAF if value is _UNKNOWN else ("static", None, value)
                if tdef == trees.LEAF:
                    eager.add(name)
            self.used.add(name)
            if tdef == trees.LEAF:
                var = Var(name)
                self.env[name] = var
                params.append(var)
                continue
            leaves = [self.namer.fresh(n) for n in trees.leaf_names(name, tdef)]
            self.env[name] = _tree_value(tdef, iter(leaves))
            params += leaves
        if eager:
            self.eager_params = frozenset(eager)
        return tuple(params)

    def numeric_defaults(self, spec) -> tuple:
        """The defaults of the IR parameters that are numbers: for a function
        lowered without a spec (with one, every argument is passed)."""
        if spec is not None and all(t is not None for t in spec):
            return ()
        out = []
        defaults = self.src.node.args.defaults
        first = len(self.params) - len(defaults)
        for i, d in enumerate(defaults):
            given = None if spec is None else spec[first + i]
            if given is not None and given[0] == "static":
                continue  # not a parameter of the IR
            if given in (None, trees.LEAF) and static_default(d) is _UNKNOWN:
                out.append(self.default(d))
            elif given is not None:  # a tree's leaves, or a number given for a
                out = []  # static default, have no defaults: only later ones do
        return tuple(out)

    def static_params(self) -> dict:
        """The parameters bound to a static value, and their values."""
        return {p: v.value for p, v in self.env.items() if isinstance(v, StaticValue)}

    # --- values ----------------------------------------------------------------------
    def atom_of(self, node: ast.expr, value):
        """``value`` (lowered from ``node``) as an IR atom, or a located error."""
        if isinstance(value, (TupleValue, DictValue)):
            what = "a dict" if isinstance(value, DictValue) else "a tuple"
            self.error(
                node,
                f"{what} cannot be used as a number",
                "index it into separate names",
            )
        if isinstance(value, StaticValue):
            if isinstance(value.value, bool):
                return Const(value.value)
            if isinstance(node, ast.Constant):
                self.error(
                    node,
                    f"{type(node.value).__name__} literal is not supported",
                    "only numbers and True/False are numbers; a string or None is a "
                    'compile-time value: compare it (kind == "tanh"), branch on it '
                    "or pass it to a helper",
                )
            self.error(
                node,
                f"`{ast.unparse(node)}` is {value.value!r}, a static (compile-time) "
                "value, not a number",
                "use it in a comparison or an `if` (decided when compiling), or "
                "pass a number instead",
            )
        return value

    def tree_item(self, node: ast.Subscript, base):
        """``base[k]`` for a tree ``base`` and a constant ``k``; None if ``base``
        is not a tree."""
        if isinstance(base, DictValue):
            key = self.static_key(node.slice)
            if not isinstance(key, str) or key not in base.keys:
                keys = ", ".join(repr(k) for k in base.keys)
                self.error(
                    node,
                    f"this dict has no key {key!r} (its keys: {keys})",
                    "index a dict parameter with one of its keys, a string literal",
                )
            return base.get(key)
        if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            name = ast.unparse(node.value)
            if isinstance(base, Var) and self.eager_params:  # from a tree, maybe
                raise TreeNeeded(
                    f"`{name}` is indexed by a string, as a dict parameter is",
                    self.src.loc(node),
                    _TREE_HINT,
                    self.src.line(self.src.loc(node)),
                )
            self.error(
                node,
                f"`{name}` is not a dict: it cannot be indexed by a string",
                "index a dict parameter, or a tuple by an int literal",
            )
        return None

    def static_key(self, node: ast.expr):
        value = self.expr(node)
        if isinstance(value, StaticValue):
            return value.value
        if isinstance(value, Const):
            return value.value
        self.error(node, "a dict is indexed by a string literal here")

    def check_unpack(self, target: ast.expr, value) -> None:
        """Unpacking a number: when it may be a tree parameter lowered as a
        number, the API retries with the arguments' structure."""
        if isinstance(value, StaticValue):  # `for a, b in p` over a dict's keys
            self.error(
                target,
                f"cannot unpack {value.value!r}, a static value (a dict key or a "
                "string)",
                "a loop over a dict runs over its keys: loop over p.items() or "
                "p.values()",
            )
        if self.eager_params and isinstance(value, Var):
            raise TreeNeeded(
                "cannot unpack a single number",
                self.src.loc(target),
                "unpack a tuple or list; " + _TREE_HINT,
                self.src.line(self.src.loc(target)),
            )

    def dict_items(self, node: ast.expr):
        """The items a loop over a dict parameter runs over: its keys (``for k
        in p``, ``p.keys()``), values (``p.values()``) or ``(key, value)`` pairs
        (``p.items()``); None when ``node`` is not one of those."""
        method = None
        base = node
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("keys", "values", "items")
            and not node.args
            and not node.keywords
        ):
            method, base = node.func.attr, node.func.value
        if not isinstance(base, ast.Name) or base.id not in self.locals:
            return None
        value = self.env.get(base.id)
        if method is not None and isinstance(value, Var) and self.eager_params:
            raise TreeNeeded(
                f"`{base.id}.{method}()` of a number: `{base.id}` is a dict parameter",
                self.src.loc(node),
                _TREE_HINT,
                self.src.line(self.src.loc(node)),
            )
        if not isinstance(value, DictValue):
            return None
        keys = [StaticValue(k) for k in value.keys]
        if method == "values":
            return list(value.values)
        if method == "items":
            return [TupleValue(kv) for kv in zip(keys, value.values)]
        return keys

    def check_pickable(self, stmt, values) -> None:
        """A loop's variable is one IR value for every iteration: differing
        static values (the keys of a dict) cannot be."""
        if any(isinstance(v, (StaticValue, DictValue)) for v in values):
            self.error(
                stmt.iter,
                "the items of this loop are different static values (dict keys, "
                "strings) or dicts; a loop variable cannot hold them",
                "loop over p.values(), or index the dict by each key",
            )

    # --- comparisons and conditions -----------------------------------------------------
    def static_operand(self, node: ast.expr, value):
        """The Python value of an operand of a static comparison, ``_UNKNOWN``
        for a number known only at run time."""
        if isinstance(value, StaticValue):
            return value.value
        if isinstance(value, Const):
            return value.value
        if isinstance(value, TupleValue):
            return tuple(self.static_operand(node, v) for v in value.items)
        if isinstance(value, DictValue):  # `"w" in p` asks for a key
            return value.keys
        if isinstance(value, Var):
            return _UNKNOWN
        return _UNKNOWN

    def static_compare(self, node: ast.Compare, left):
        """``left op c ...`` evaluated now if it compares static values (or a
        number with None or a string); None when it is a comparison of numbers."""
        statics = [left] + [None] * len(node.comparators)
        involved = isinstance(left, StaticValue) or any(
            isinstance(op, (ast.Is, ast.IsNot, ast.In, ast.NotIn)) for op in node.ops
        )
        involved = involved or any(  # `x == "a"`, `x != None`
            isinstance(c, ast.Constant)
            and (c.value is None or isinstance(c.value, str))
            for c in node.comparators
        )
        if not involved:
            return None
        for i, c in enumerate(node.comparators):
            statics[i + 1] = self.expr(c)
        operands = [node.left] + list(node.comparators)
        result = True
        for i, op in enumerate(node.ops):
            a, b = statics[i], statics[i + 1]
            x = self.static_operand(operands[i], a)
            y = self.static_operand(operands[i + 1], b)
            holds = self.decide(node, op, operands[i], operands[i + 1], x, y, a, b)
            result = result and holds
        return StaticValue(result)

    def decide(self, node, op, left_node, right_node, x, y, a, b) -> bool:
        """One link of a static comparison."""
        unknown = (x is _UNKNOWN, y is _UNKNOWN)
        if not any(unknown):
            try:
                return bool(_STATIC_COMPARE[type(op)](x, y))
            except TypeError as e:
                self.error(node, f"cannot compare these values: {e}")
        # a number known only at run time compared with a static value
        other = y if unknown[0] else x
        number = a if unknown[0] else b
        eager = isinstance(number, Var) and number.name in self.eager_params
        if eager and (other is None or isinstance(other, str)):
            param = ast.unparse(left_node if unknown[0] else right_node)
            given = f"'{param}=\"{other}\"'" if isinstance(other, str) else "None"
            given = f"{param}=None" if other is None else given
            raise TreeNeeded(
                f"`{param}` is compared with {other!r}: it is a static argument",
                self.src.loc(node),
                "call the derivative with the value (it is compiled for each "
                "value); `adc compile` needs it to have a default, or its value "
                f"on the command line: --fix {given}",
                self.src.line(self.src.loc(node)),
            )
        if isinstance(op, (ast.Is, ast.Eq)) and (
            other is None or isinstance(other, str)
        ):
            return False  # a number is never None nor a string
        if isinstance(op, (ast.IsNot, ast.NotEq)) and (
            other is None or isinstance(other, str)
        ):
            return True
        if isinstance(op, (ast.In, ast.NotIn)):
            word = "in" if isinstance(op, ast.In) else "not in"
            self.error(
                node,
                f"comparison `{word}` of a number known only at run time is not "
                "supported",
                "compare with == and combine the tests with `or`",
            )
        if isinstance(op, (ast.Is, ast.IsNot)):
            self.error(
                node,
                f"comparison `{'is' if isinstance(op, ast.Is) else 'is not'}` is "
                "not supported",
                "compare numbers with == and !=; `is` is for None and static values",
            )
        self.error(
            node,
            "this comparison mixes a number with a static value",
            "compare numbers with numbers, static values with static values",
        )

    def decided(self, cond):
        """The truth of a condition known now (a static value), else None."""
        if isinstance(cond, StaticValue):
            return bool(cond.value)
        return None

    def static_not(self, node: ast.UnaryOp):
        """``not v`` of a static value; None otherwise (then lowered as usual)."""
        if not isinstance(node.op, ast.Not):
            return None
        value = self.expr(node.operand)
        if isinstance(value, StaticValue):
            return StaticValue(not value.value)
        with self.b.at(self.src.loc(node)):
            return self.b.apply("not", self.atom_of(node.operand, value))

    def static_boolop(self, node: ast.BoolOp, first):
        """``a and b ...`` / ``a or b ...`` whose first operand is static:
        Python's short-circuit, now."""
        is_and = isinstance(node.op, ast.And)
        if bool(first.value) != is_and or len(node.values) == 1:
            return first  # decided by the first operand
        rest = node.values[1:]
        if len(rest) == 1:
            return self.expr(rest[0])
        return self.expr(ast.copy_location(ast.BoolOp(node.op, rest), rest[0]))

    def static_str_method(self, node: ast.Call, attr: ast.Attribute):
        """``k.startswith("W")``, ``kind.lower()`` ... on a static string (a dict
        key in an unrolled loop, a static argument) with static arguments: the
        value, a static value itself (branches on it are decided when
        compiling); None when ``attr.value`` is not a static string."""
        if attr.attr not in _STR_METHODS or not self.is_static_str(attr.value):
            return None
        value = self.expr(attr.value)  # (a name, a literal: nothing is emitted)
        args = []
        for a in node.args:
            arg = self.expr(a)
            if not isinstance(arg, StaticValue) or isinstance(a, ast.Starred):
                self.error(
                    a,
                    f"the arguments of `.{attr.attr}()` on a static string must be "
                    "static too (string literals, static arguments)",
                )
            args.append(arg.value)
        if node.keywords:
            self.error(node, f"`.{attr.attr}()` takes positional arguments here")
        try:
            return StaticValue(getattr(value.value, attr.attr)(*args))
        except TypeError as e:
            self.error(node, f"`{ast.unparse(node)}`: {e}")

    def is_static_str(self, node: ast.expr) -> bool:
        """Whether ``node`` is a static string known without lowering anything: a
        string literal, a local name bound to one, or a string method of one."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        if isinstance(node, ast.Name):
            value = self.env.get(node.id) if node.id in self.locals else None
            return isinstance(value, StaticValue) and isinstance(value.value, str)
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _STR_METHODS
            and self.is_static_str(node.func.value)
        )

    def check_returned(self, node: ast.expr, value) -> None:
        """A static value or a dict is not a result (a derivative is of numbers)."""
        items = value.items if isinstance(value, TupleValue) else (value,)
        for item in items:
            if isinstance(item, StaticValue) and not isinstance(item.value, bool):
                self.error(
                    node,
                    f"returning {item.value!r} is not supported",
                    "return numbers or arrays",
                )
            if isinstance(item, DictValue):
                self.error(
                    node,
                    "returning a dict is not supported",
                    "return its items as a tuple",
                )


def _tree_value(tdef, leaves):
    """The lowering value of a parameter of treedef ``tdef`` with leaves ``leaves``."""
    if tdef == trees.LEAF:
        return next(leaves)
    if tdef[0] == "static":
        return StaticValue(tdef[2])
    items = tuple(_tree_value(t, leaves) for t in trees.children(tdef))
    if tdef[0] == "tuple":
        return TupleValue(items)
    if tdef[0] == "list":
        return TreeList(items)
    return DictValue(tdef[1], items)
