"""Lowering of the reductions whose arguments are read their own way:
``np.linalg.norm`` (``ord`` may be ``np.inf`` or ``'fro'``), ``np.average``
(an array of ``weights``) and ``scipy.special.logsumexp`` (an array ``b``).

Each function takes the :class:`~ad_compiler.frontend.lower.Lowerer` and the
call; static settings must be literals, as for every reduction (see
:meth:`ArrayLowering.static`), and an argument the row has no rule for is a
located error naming what to write instead.
"""

from __future__ import annotations

import ast
import math
from functools import partial

from ad_compiler.frontend.scope import ModuleRef


def _arguments(lowerer, node: ast.Call, callee: str, order: tuple, refused: dict):
    """The call's arguments by parameter name (positional ones in ``order``);
    a parameter in ``refused`` is an error with its hint."""
    if len(node.args) > len(order):
        lowerer.error(node, f"`{callee}` takes at most {len(order)} arguments here")
    given = dict(zip(order, node.args))
    for kw in node.keywords:
        if kw.arg is None or kw.arg in given:
            lowerer.error(kw if kw.arg else node, f"an argument of `{callee}` twice")
        given[kw.arg] = kw.value
    for name, value in given.items():
        if isinstance(value, ast.Starred):
            lowerer.unsupported(value)
        if name in refused:
            lowerer.error(
                value, f"`{name}=` of `{callee}` is not supported", refused[name]
            )
        if name not in order:
            lowerer.error(
                value, f"keyword argument `{name}` to `{callee}` is not supported"
            )
    return given


def _statics(lowerer, given: dict, names: tuple) -> dict:
    return {
        name: lowerer.static(given[name], f"`{name}`")
        for name in names
        if name in given
    }


def _order(lowerer, node: ast.expr):
    """The ``ord`` of a norm: None, an int, 'fro', or ±np.inf (math.inf)."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if (
        isinstance(node, ast.Attribute)
        and node.attr == "inf"
        and isinstance(node.value, ast.Name)
        and node.value.id not in lowerer.locals
        and lowerer.scope.lookup(node.value.id)
        in (ModuleRef("numpy"), ModuleRef("math"))
    ):
        return sign * math.inf
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and sign == 1:
        return node.value  # 'fro' (the row's shape rule refuses the others)
    try:
        value = ast.literal_eval(node)
    except ValueError:
        value = "?"
    if value is None or type(value) in (int, float):
        return value if value is None else sign * value
    lowerer.error(
        node,
        "the `ord` of `np.linalg.norm` must be written as a literal",
        "write 1, 2, np.inf, -np.inf, 'fro' or None",
    )


def lower_norm(lowerer, node: ast.Call, callee: str):
    """``np.linalg.norm(x, ord=None, axis=None, keepdims=False)``."""
    given = _arguments(lowerer, node, callee, ("x", "ord", "axis", "keepdims"), {})
    if "x" not in given:
        lowerer.error(node, f"`{callee}` needs an array")
    params = _statics(lowerer, given, ("axis", "keepdims"))
    if "ord" in given:
        order = _order(lowerer, given["ord"])
        if order is not None:
            params["ord"] = order
    x = lowerer.atom(given["x"])
    with lowerer.b.at(lowerer.src.loc(node), "np"):
        return lowerer.b.apply("norm", x, **params)


def _weighted(lowerer, node, callee, order, refused, prim: str):
    """A reduction of ``order[0]`` with static ``axis``, ``keepdims`` and an
    optional array of weights ``order[2]``: the row ``prim`` of one or two inputs.
    (ns "np": the rules' exp, sum ... are NumPy's; a SciPy row spells its call
    itself, and the emitted module imports scipy.special for it.)"""
    given = _arguments(lowerer, node, callee, order, refused)
    if order[0] not in given:
        lowerer.error(node, f"`{callee}` needs an array")
    params = _statics(lowerer, given, ("axis", "keepdims"))
    ins = [lowerer.atom(given[order[0]])]
    weights = given.get(order[2])
    if weights is not None and not (
        isinstance(weights, ast.Constant) and weights.value is None
    ):
        ins.append(lowerer.atom(weights))
    with lowerer.b.at(lowerer.src.loc(node), "np"):
        return lowerer.b.apply(prim, *ins, **params)


def lower_average(lowerer, node: ast.Call, callee: str):
    """``np.average(a, axis=None, weights=None, keepdims=False)``."""
    refused = {"returned": "compute the sum of the weights yourself: np.sum(w)"}
    order = ("a", "axis", "weights", "returned", "keepdims")
    return _weighted(lowerer, node, callee, order, refused, "average")


def lower_logsumexp(lowerer, node: ast.Call, callee: str):
    """``scipy.special.logsumexp(a, axis=None, b=None, keepdims=False)``."""
    refused = {
        "return_sign": "keep Σ b e^a positive (return_sign is for signed sums), "
        "or write the sum out with np.exp"
    }
    order = ("a", "axis", "b", "keepdims", "return_sign")
    return _weighted(lowerer, node, callee, order, refused, "logsumexp")


def lower_softmax(lowerer, node: ast.Call, callee: str, prim: str):
    """``scipy.special.softmax(x, axis=None)`` and ``log_softmax``."""
    given = _arguments(lowerer, node, callee, ("x", "axis"), {})
    if "x" not in given:
        lowerer.error(node, f"`{callee}` needs an array")
    params = _statics(lowerer, given, ("axis",))
    x = lowerer.atom(given["x"])
    with lowerer.b.at(lowerer.src.loc(node), "np"):  # (as for logsumexp)
        return lowerer.b.apply(prim, x, **params)


# the array functions (by lower_arrays' key) lowered here
OWN_LOWERING = {
    "linalg.norm": lower_norm,
    "average": lower_average,
    "scipy.special.logsumexp": lower_logsumexp,
    "scipy.special.softmax": partial(lower_softmax, prim="softmax"),
    "scipy.special.log_softmax": partial(lower_softmax, prim="log_softmax"),
}
