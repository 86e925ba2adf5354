"""Lowering of calls: the math/NumPy functions the compiler knows, and the user's
own functions (inlined, recursive, or with a custom derivative).

A mixin of :class:`ad_compiler.frontend.lower.Lowerer`.  A known function
becomes one primitive (``_CALLS``, from the primitive rows' names); a user's function is inlined
with fresh names, unless it calls itself back (then it is lowered once, on its
own, and called) or is marked ``@custom_derivative`` (then it is called as it
is, and its partial derivatives, from the user's function, are inlined).
"""

from __future__ import annotations

import ast
from dataclasses import replace

from ad_compiler.frontend.callees import (
    custom_partials,
    rematerialized,
    returned_count,
    source_of,
)
from ad_compiler.frontend.external import external_source
from ad_compiler.frontend.lower_arrays import (
    _aliased_names,
    check_aliasing,
    known_numpy,
    refuse_alias_write,
    user_call_aliases,
    writes,
)
from ad_compiler.frontend.lower_lists import list_idents
from ad_compiler.frontend.lower_values import (
    DictValue,
    RunList,
    StaticValue,
    TupleValue,
)
from ad_compiler.frontend.recovery import PoisonedRead
from ad_compiler.frontend.scope import FuncRef, OpaqueRef, UserFuncRef, library_advice
from ad_compiler.ir.nodes import Const, Eqn
from ad_compiler.primitives.stats import REQUIRED, SIGNATURES
from ad_compiler.primitives.table import PRIMITIVES, named

# Known function -> primitive, by qualified name (see scope.py): every name an
# elementwise row lists, called with as many arguments as the row has inputs
# (math.log with a base, max of many arguments are lowered first, below)
_CALLS = {
    q: prim
    for module in ("math.", "numpy.", "scipy.", "builtins.")
    for q, prim in named(module, call="plain").items()
    if PRIMITIVES[prim].elementwise
}


class CallLowering:
    """The call parts of lowering (mixed into Lowerer)."""

    def plain_arguments(self, node: ast.Call, name: str) -> None:
        if node.keywords:
            self.error(
                node.keywords[0], f"keyword arguments to `{name}` are not supported"
            )
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.unsupported(arg)

    def expr_Call(self, node: ast.Call):
        if isinstance(node.func, ast.Attribute) and self.of_value(node.func.value):
            if self.is_sequence_method(node.func):  # xs.append(v): lower_lists
                return self.sequence_method(node, node.func)
            return self.method_call(node, node.func)
        callee = ast.unparse(node.func)
        fn = self.callee_value(node.func)  # a nested def, lambda, function value
        if fn is not None and fn.ref is None:
            return self.call_function_value(node, callee, fn)
        ref = self.resolve(node.func) if fn is None else fn.ref
        if isinstance(ref, FuncRef) and self.is_list_call(node, ref.qualname):
            return self.list_call(node, ref.qualname, callee)  # sum(xs) ...
        array_function = known_numpy(ref)
        if array_function is not None:
            return self.array_function(node, array_function, callee)
        if isinstance(ref, UserFuncRef):
            return self.call_user(node, callee, ref)
        if isinstance(ref, OpaqueRef) and ref.library:  # np.fft.fft, la.foo ...
            self.error(
                node.func,
                f"`{ref.library}`"
                + (f" (called as `{callee}`)" if callee != ref.library else "")
                + " is not supported: ad_compiler has no derivative rule for it",
                library_advice(ref.library),
            )
        if not isinstance(ref, FuncRef):
            what = f" ({ref.what})" if isinstance(ref, OpaqueRef) else ""
            self.error(
                node.func,
                f"call to `{callee}` is not supported{what}",
                "call it from a function of yours marked @custom_derivative(partials), "
                "giving its derivative; ad_compiler itself knows arithmetic, the "
                "math/NumPy elementary functions and abs, min, max, pow, float, int, round",
            )
        if ref.qualname in SIGNATURES:  # norm.logpdf(x, scale=s): keywords, defaults
            node = self.positional_call(node, ref.qualname, callee)
        self.plain_arguments(node, callee)
        q = ref.qualname
        if q in ("builtins.range", "builtins.enumerate", "builtins.zip"):
            self.error(
                node,
                f"`{callee}` is supported only as what a `for` loop runs over",
                "use it in a `for` statement",
            )
        if q == "builtins.divmod":
            return self.divmod(node, callee)
        if q == "builtins.len":
            self.arity(node, callee, node.args, 1)
            arg = node.args[0]
            if isinstance(arg, (ast.Name, ast.Attribute, ast.Subscript)):
                value = self.expr(arg)
                self.not_a_function(
                    arg, value, "call it, or count the items of a tuple"
                )
                if isinstance(value, DictValue):
                    return Const(len(value.keys))
                if isinstance(value, RunList):  # (lower_runlists)
                    return value.n
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
        ns = {"numpy": "np", "math": "math", "scipy": "scipy"}.get(
            q.split(".")[0], "py"
        )
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
            if q in _CALLS:
                self.arity(node, callee, args, PRIMITIVES[_CALLS[q]].arity)
                return self.b.apply(_CALLS[q], *args)
            if q == "scipy.special.polygamma":
                return self.order_call(node, callee, args)
        self.error(node.func, f"`{callee}` has no derivative rule")

    # --- calls to the user's functions -----------------------------------------------------
    def call_user(self, node: ast.Call, callee: str, ref: UserFuncRef):
        """A call to another of the user's functions, inlined: its body is lowered
        here, its parameters bound to the arguments, its names made fresh."""
        src, scope = source_of(ref, self.src, self.scope)
        inner = type(self)(src, scope)
        key = inner.stack[0]
        values = self.arguments(node, callee, inner)
        self.check_written_arguments(node, callee, inner)
        partials = custom_partials(ref, src, scope)
        if partials is not None:
            return self.call_custom(node, callee, ref, src, inner, values, partials)
        if key in self.stack:
            return self.call_recursive(node, callee, src, scope, inner, values)
        if rematerialized(ref, src, scope):  # @checkpoint: a call, as recursion's
            return self.call_recursive(node, callee, src, scope, inner, values, True)
        return self.inline(inner, values)

    def arguments(self, node: ast.Call, callee: str, inner, defaults=None) -> dict:
        """The call's arguments bound to ``inner``'s parameters (keywords, then
        defaults: ``defaults``' values if given, else the ``def``'s literals)."""
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
        nodes = inner.src.node.args.defaults
        first = len(inner.params) - len(nodes)
        for i, p in enumerate(inner.params):
            if p not in values:
                if i < first:
                    self.error(
                        node, f"missing argument `{p}` in the call to `{callee}`"
                    )
                if defaults is not None:
                    values[p] = defaults[i - first]
                else:
                    values[p] = inner.default(nodes[i - first])
        return values

    def check_written_arguments(self, node: ast.Call, callee: str, inner: CallLowering):
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

    def inline(self, inner: CallLowering, values: dict):
        """Lower ``inner``'s body here, its parameters bound to ``values``."""
        # the callee builds into this function's body, with its names made unique
        inner.namer, inner.b = self.namer, self.b
        inner.stack = self.stack + inner.stack
        inner.program, inner.externals = self.program, self.externals
        inner.scope_data = self.scope_data
        inner.used = set(inner.locals)
        inner.env = values
        inner.lists_passed_in = list_idents(values.values())
        inner.hazards = self.hazards
        inner.recovery = self.recovery  # its errors are collected with ours
        inner.eager_params = self.eager_params
        check_aliasing(inner, inner.src.node)  # the callee's own writes and aliases
        results, tree = inner.lower_function_body()
        if inner.poisoned:  # its errors are recorded; what it returns is unknown
            raise PoisonedRead(f"`{inner.src.node.name}` has errors")
        if isinstance(tree, int):
            return results[tree]
        return TupleValue(tuple(results[i] for i in tree))

    def scalar_args(self, node, callee, inner, values) -> tuple:
        args = tuple(values[p] for p in inner.params)
        if any(isinstance(a, TupleValue) for a in args):
            self.error(
                node,
                f"passing a tuple to `{callee}` is not supported here",
                "nor a list: it is recursive or has a custom derivative; pass the "
                "items as separate arguments (`g(a, b)` for `g((a, b))`)",
            )
        self.not_a_function(node, TupleValue(args), "pass the numbers it computes")
        if any(isinstance(a, (DictValue, StaticValue)) for a in args):
            self.error(
                node,
                f"passing a dict or a static value to `{callee}` is not supported "
                "here (it is recursive or has a custom derivative)",
                "pass numbers; branch on the static value before the call",
            )
        return args

    def call_recursive(self, node, callee, src, scope, inner, values, remat=False):
        """A recursive call stays a call: the callee is lowered on its own, once,
        and its derivatives are emitted as functions calling each other.
        ``remat``: the callee is marked ``@checkpoint`` (its IR says so)."""
        args = self.scalar_args(node, callee, inner, values)
        name = src.node.name
        if name not in self.program:
            self.program[name] = None  # being lowered: its own calls find it here
            alone = type(self)(src, scope)
            alone.program, alone.externals, alone.top = (
                self.program,
                self.externals,
                False,
            )
            self.program[name] = alone.run()
            if remat:
                self.program[name] = replace(self.program[name], checkpoint=("remat",))
        n = returned_count(src.node)
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
        p_src, p_scope = source_of(partials, src, self.scope)
        p_inner = type(self)(p_src, p_scope)
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

    def order_call(self, node: ast.Call, callee: str, args: list):
        """``scipy.special.polygamma(n, x)``: the order ``n`` first, a literal
        int >= 0 (a param of the row: the derivative is the order n + 1)."""
        self.arity(node, callee, args, 2)
        n = args[0]
        if not (isinstance(n, Const) and type(n.value) is int and n.value >= 0):
            self.error(
                node.args[0],
                f"the order `n` of `{callee}` must be a literal int >= 0",
                "write the number, as in polygamma(1, x) (it is decided when the "
                "derivative is compiled); for the order 0, digamma(x)",
            )
        return self.b.apply("scipy_polygamma", args[1], n=n.value)

    def positional_call(self, node: ast.Call, q: str, callee: str) -> ast.Call:
        """``node`` with its keyword arguments put in place and the defaults
        written out, by the signature of ``q`` (:data:`SIGNATURES`): every
        parameter is an input of the row, so a keyword argument is as
        differentiable as a positional one."""
        signature = SIGNATURES[q]
        names = [name for name, _ in signature]
        if len(node.args) > len(signature):
            self.arity(node, callee, node.args, len(signature))
        given: dict[str, ast.expr] = dict(zip(names, node.args))
        for kw in node.keywords:
            if kw.arg not in names:
                self.error(
                    kw if kw.arg else node,
                    f"keyword argument `{kw.arg}` to `{callee}` is not supported",
                    f"`{callee}` takes {', '.join(names)}",
                )
            if kw.arg in given:
                self.error(kw, f"`{kw.arg}` given twice to `{callee}`")
            given[kw.arg] = kw.value
        args = []
        for name, default in signature:
            if name in given:
                args.append(given[name])
            elif default is REQUIRED:
                self.error(node, f"`{callee}` needs its argument `{name}`")
            else:
                args.append(ast.copy_location(ast.Constant(default), node))
        return ast.copy_location(ast.Call(node.func, args, []), node)
