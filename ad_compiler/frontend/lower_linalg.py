"""Lowering the calls of ``np.linalg`` and ``scipy.linalg`` functions that take
keywords or return tuples (the plain ones, ``solve``, ``inv``, ``det``, ``pinv``,
``expm``, are lowered as any plain array function).

A function returning a tuple (``slogdet`` -> ``(sign, logabsdet)``, ``eigh``
-> ``(w, V)``, ``qr``, ``svd``, ``lstsq``, ``cho_factor``) lowers to a tuple of
values, one equation per item, each spelled as the call indexed
(``np.linalg.slogdet(a)[1]``); the user's ``sign, logdet = np.linalg.slogdet(A)``
unpacks it like any tuple.  Static settings (``lower=True``, ``UPLO="U"``,
``full_matrices=False``) must be literals; they become equation params, and
the SciPy spelling gets the param ``scipy=True``.
"""

from __future__ import annotations

import ast

from ad_compiler.frontend.lower_values import TupleValue, Unbound
from ad_compiler.ir.nodes import Const


class NotComputed(Unbound):
    """An item of a returned tuple that ad_compiler does not compute (lstsq's
    residuals, rank and singular values): an error where it is read."""

    def message(self) -> tuple[str, str]:
        return (
            f"`{self.name}` is not supported (only the solution of lstsq, item 0, is)",
            "compute it from the solution: the residuals as "
            "np.sum((A @ x - b) ** 2, axis=0), singular values with np.linalg.svd",
        )


def _literal(lw, node: ast.expr, what: str):
    """A literal static setting: a bool, an int, a string or None."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        return lw.static(node, what)


def _settings(lw, node: ast.Call, callee: str, allowed: dict, arrays: int) -> dict:
    """The keywords (and positional settings after ``arrays`` arrays) of a call:
    ``allowed`` maps each name to its default and the values accepted (None:
    any literal)."""
    out = {k: default for k, (default, _) in allowed.items()}
    names = list(allowed)
    for i, arg in enumerate(node.args[arrays:]):
        if i >= len(names):
            lw.error(arg, f"`{callee}` takes at most {arrays + len(names)} arguments")
        out[names[i]] = _literal(lw, arg, f"`{names[i]}`")
    for kw in node.keywords:
        if kw.arg not in allowed:
            lw.error(
                kw if kw.arg else node,
                f"keyword argument `{kw.arg}` to `{callee}` is not supported",
                f"the supported ones: {', '.join(allowed) or 'none'}",
            )
        out[kw.arg] = _literal(lw, kw.value, f"`{kw.arg}`")
    for k, (_, accepted) in allowed.items():
        if accepted is not None and out[k] not in accepted:
            where = next((kw for kw in node.keywords if kw.arg == k), node)
            lw.error(
                where,
                f"`{k}={out[k]!r}` of `{callee}` is not supported",
                f"write one of: {', '.join(repr(v) for v in accepted)}",
            )
    return out


_BOOL = (True, False)
# what each name reads: the number of arrays, then its settings
_SPECS = {
    "linalg.slogdet": (1, {}),
    "linalg.cholesky": (1, {"upper": (False, _BOOL)}),
    "scipy.linalg.cholesky": (
        1,
        {"lower": (False, _BOOL), "check_finite": (True, None)},
    ),
    "scipy.linalg.solve_triangular": (
        2,
        {
            "trans": (0, (0, 1, 2, "N", "T", "C")),
            "lower": (False, _BOOL),
            "unit_diagonal": (False, _BOOL),
            "overwrite_b": (False, None),
            "check_finite": (True, None),
        },
    ),
    "scipy.linalg.cho_factor": (
        1,
        {"lower": (False, _BOOL), "check_finite": (True, None)},
    ),
    "scipy.linalg.cho_solve": (2, {"check_finite": (True, None)}),
    "linalg.eigh": (1, {"UPLO": ("L", ("L", "U"))}),
    "linalg.eigvalsh": (1, {"UPLO": ("L", ("L", "U"))}),
    "scipy.linalg.eigh": (1, {"lower": (True, _BOOL), "eigvals_only": (False, _BOOL)}),
    "scipy.linalg.eigvalsh": (1, {"lower": (True, _BOOL)}),
    "linalg.qr": (1, {"mode": ("reduced", ("reduced", "r"))}),
    "scipy.linalg.qr": (1, {"mode": ("full", ("full", "economic", "r"))}),
    "linalg.svd": (
        1,
        {"full_matrices": (True, _BOOL), "compute_uv": (True, _BOOL)},
    ),
    "linalg.svdvals": (1, {}),
    "scipy.linalg.svd": (
        1,
        {"full_matrices": (True, _BOOL), "compute_uv": (True, _BOOL)},
    ),
    "scipy.linalg.svdvals": (1, {}),
    "linalg.lstsq": (2, {"rcond": (None, None)}),
    "scipy.linalg.lstsq": (2, {}),
    "linalg.matrix_power": (1, {"n": (None, None)}),
}
LINALG_CALLS = frozenset(_SPECS)


def linalg_call(lw, node: ast.Call, name: str, callee: str):
    """Lower ``callee(...)``, the function ``name`` (a key of ``_SPECS``)."""
    arrays, allowed = _SPECS[name]
    lw.plain_arguments(ast.Call(node.func, node.args, []), callee)
    if len(node.args) < arrays:
        lw.error(node, f"`{callee}` takes {arrays} array argument(s)")
    s = _settings(lw, node, callee, allowed, arrays)
    sp = name.startswith("scipy.")
    kind = {"scipy": True} if sp else {}
    b = lw.b
    if name.endswith("cho_solve"):
        return _cho_solve(lw, node, callee)
    values = [lw.atom(a) for a in node.args[:arrays]]
    short = name.rpartition(".")[2]
    with b.at(lw.src.loc(node), "scipy" if sp else "np"):
        if short == "slogdet":
            return TupleValue(
                (b.apply("slogdet_sign", *values), b.apply("slogdet", *values))
            )
        if short == "cholesky":
            lower = s["lower"] if sp else not s["upper"]
            return b.apply("cholesky", *values, lower=lower, **kind)
        if short == "solve_triangular":
            trans = {"N": 0, "T": 1, "C": 1, 2: 1}.get(s["trans"], s["trans"])
            p = {
                "trans": trans,
                "lower": s["lower"],
                "unit_diagonal": s["unit_diagonal"],
            }
            return b.apply(
                "solve_triangular", *values, **{k: v for k, v in p.items() if v}
            )
        if short == "cho_factor":
            c = b.apply(
                "cho_factor", *values, **({"lower": True} if s["lower"] else {})
            )
            return TupleValue((c, Const(bool(s["lower"]))))
        if short in ("eigh", "eigvalsh"):
            lower = s["lower"] if sp else s["UPLO"] == "L"
            p = {**kind, **({} if lower else {"lower": False})}
            w = b.apply(
                "eigh_w",
                *values,
                **p,
                **({"only": True} if short == "eigvalsh" else {}),
            )
            if short == "eigvalsh" or s.get("eigvals_only"):
                return w
            return TupleValue((w, b.apply("eigh_v", *values, **p)))
        if short == "qr":
            return _qr(b, values, s["mode"], kind)
        if short in ("svd", "svdvals"):
            return _svd(b, values, s, short, kind)
        if short == "lstsq":
            rcond = {} if s.get("rcond") is None else {"rcond": s["rcond"]}
            x = b.apply("lstsq", *values, **kind, **rcond)
            line = node.lineno
            rest = tuple(NotComputed(f"{callee}(...)[{i}]", line) for i in (1, 2, 3))
            return TupleValue((x, *rest))
        if short == "matrix_power":
            n = s["n"]
            if not isinstance(n, int) or isinstance(n, bool):
                lw.error(node, f"the power of `{callee}` must be a literal int")
            return b.apply("matrix_power", *values, n=n)
    raise AssertionError(name)  # every key of _SPECS is handled above


def _qr(b, values, mode, kind):
    if kind and mode == "economic":
        p = {**kind, "economic": True}
    else:
        p = dict(kind)
    r = b.apply("qr_r", *values, **p)
    if mode == "r":
        return TupleValue((r,)) if kind else r
    return TupleValue((b.apply("qr_q", *values, **p), r))


def _svd(b, values, s, short, kind):
    p = dict(kind)
    if short == "svdvals" or not s["compute_uv"]:
        return b.apply("svd_s", *values, **p)
    if s["full_matrices"]:
        p["full"] = True
    return TupleValue(
        tuple(b.apply(part, *values, **p) for part in ("svd_u", "svd_s", "svd_vh"))
    )


def _cho_solve(lw, node: ast.Call, callee: str):
    """``cho_solve((c, lower), b)``: the pair as cho_factor returns it, or written
    out with a literal ``lower``."""
    pair = lw.expr(node.args[0])
    lower = (
        pair.items[1] if isinstance(pair, TupleValue) and len(pair.items) == 2 else None
    )
    if not isinstance(lower, Const) or not isinstance(lower.value, bool):
        lw.error(
            node.args[0],
            f"the first argument of `{callee}` must be the pair cho_factor returns, "
            "(c, lower) with lower True or False",
            "pass what scipy.linalg.cho_factor returned, or write (c, True)",
        )
    c = lw.atom_of(node.args[0], pair.items[0])
    x = lw.atom(node.args[1])
    with lw.b.at(lw.src.loc(node), "scipy"):
        return lw.b.apply("cho_solve", c, x, **({"lower": True} if lower.value else {}))
