"""Parameter trees and static arguments for ``adc compile``.

The CLI reads a file as text, so it cannot see that ``params`` is a list of
``(W, b)`` pairs: the user declares it, in ``--shape``'s syntax extended to
trees.  ``--shape 'params=[("64,h", "h"), ("h,10", "10")]'`` is a Python
literal (parsed with :mod:`ast`, never evaluated) whose containers are tuples,
lists and dicts with string keys and whose leaves are DIMS strings, ``""``
being a number; ``None``, ``True`` and ``False`` are static leaves.  The
result is the treedef :mod:`ad_compiler.trees` gives the API for arguments of
that structure, so the function is lowered exactly as the API lowers it (the
leaves become parameters ``params_0_0`` ...), and ``--fix kind=tanh`` fixes a
parameter to a static (non-numeric) value the same way.

The emitted module then holds the leaves' derivative (``objective_leaves_grad``)
and a wrapper with the user's signature (``objective_grad(params, inputs, ...)``)
that reads the leaves out of its arguments (and out of a direction
``params_dot`` for ``jvp``/``hvp``), calls it and builds the result in the
arguments' structure.  Guarantee: the wrapper returns what the API's
``grad``/``vjp``/``jvp``/``hessian``/``jacobian`` return for arguments of the
declared structure, laid out as JAX lays them out (a gradient of ``[(W, b)]``
is ``[(dW, db)]``; a Hessian is the input's structure of the input's
structure); the leaves' derivative is emitted by the same pipeline as any
other.  Only ``--mode symbolic`` is refused for trees.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass

from ad_compiler import trees
from ad_compiler.driver import WHAT
from ad_compiler.errors import UsageError
from ad_compiler.frontend.lower_trees import is_static_default
from ad_compiler.ir import shapes
from ad_compiler.ir.nodes import default_source, positional, render_tree


@dataclass(frozen=True)
class TreeShape:
    """A tree parameter as ``--shape`` declares it: its treedef and the shape
    of each leaf, in the treedef's (flattening) order."""

    tdef: tuple
    leaves: tuple


def missing_axis(dims: str) -> bool:
    """Whether DIMS has an empty axis (``n,,m``, ``n,``); ``""`` is a number."""
    parts = dims.replace("(", "").replace(")", "").split(",")
    return bool(dims.strip()) and any(not p.strip() for p in parts)


def parse_dims(dims: str) -> tuple:
    """DIMS (``batch,64``, ``(n, m)``, ``""`` for a number) as an abstract
    shape; ValueError saying what is wrong if malformed."""
    if missing_axis(dims):
        raise ValueError("an axis is missing between two commas")
    return shapes.parse(dims)


def is_tree_text(dims: str) -> bool:
    """Whether a ``--shape`` value declares a tree rather than DIMS: it opens a
    list or dict, or quotes its leaves (``("n", "m")`` is a tuple of two
    arrays; ``(n, m)`` one array of two axes, as before)."""
    text = dims.strip()
    return text[:1] in ("[", "{") or '"' in text or "'" in text


def parse_tree(name: str, dims: str) -> TreeShape:
    """``--shape NAME=TREE``'s value as a :class:`TreeShape`; a usage error
    naming the part that is malformed."""
    try:
        node = ast.parse(dims.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise _malformed(name, dims, "it is not a Python literal") from None
    leaves: list = []
    try:
        tdef = _tree(name, dims, node, leaves)
    except RecursionError:
        raise _malformed(name, dims, "it is nested too deeply") from None
    if tdef == trees.LEAF:
        raise _malformed(name, dims, "a single DIMS string is written unquoted")
    return TreeShape(tdef, tuple(leaves))


def _malformed(name: str, dims: str, why: str) -> UsageError:
    return UsageError(
        f"--shape {name}={dims!r}: {why}; a tree is written as a Python literal of "
        "tuples, lists and dicts (string keys) whose leaves are DIMS strings, '' "
        f'for a number: {name}=\'[("64,h", "h"), ("h,10", "10")]\' or '
        f'{name}=\'{{"w": "n", "b": ""}}\''
    )


def _tree(name: str, dims: str, node: ast.expr, leaves: list):
    """The treedef of one node of a tree literal; its leaves' shapes appended."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            try:
                leaves.append(parse_dims(node.value))
            except ValueError as exc:
                raise _malformed(name, dims, f"in the leaf {node.value!r}, {exc}")
            return trees.LEAF
        if node.value is None or isinstance(node.value, bool):
            return ("static", type(node.value), node.value)
    if isinstance(node, (ast.Tuple, ast.List)):
        kind = "tuple" if isinstance(node, ast.Tuple) else "list"
        return (kind, tuple(_tree(name, dims, e, leaves) for e in node.elts))
    if isinstance(node, ast.Dict):
        keys = []
        for k in node.keys:
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                shown = "**" if k is None else ast.unparse(k)
                raise _malformed(name, dims, f"the dict key {shown} is not a string")
            if k.value in keys:
                raise _malformed(name, dims, f"the dict key {k.value!r} is given twice")
            keys.append(k.value)
        items = tuple(_tree(name, dims, v, leaves) for v in node.values)
        return ("dict", tuple(keys), items)
    raise _malformed(
        name,
        dims,
        f"{ast.unparse(node)!r} is not a DIMS string (in quotes), a tuple, a list "
        "or a dict",
    )


class BareWord(str):
    """A ``--fix`` value that is neither a number nor a literal (``kind=tanh``):
    a string for a parameter whose default is a string, else a typo."""


def with_annotations(node: ast.FunctionDef, shape_of: dict) -> dict:
    """``shape_of`` and, for the parameters it does not name, the trees their
    annotations state fully: ``p: tuple[np.ndarray, float]`` (nested tuples of
    ``ndarray``/``Array`` types, arrays of unknown shape, and ``float``/``int``).
    A ``list`` or ``dict`` annotation does not say the length or the keys: it
    needs ``--shape``."""
    out = dict(shape_of)
    for a in node.args.posonlyargs + node.args.args:
        if a.arg in out or a.annotation is None:
            continue
        leaves: list = []
        tdef = _annotated(a.annotation, leaves)
        if tdef is not None and tdef != trees.LEAF:
            out[a.arg] = TreeShape(tdef, tuple(leaves))
    return out


def _annotated(node: ast.expr, leaves: list):
    """The treedef an annotation states (leaves' shapes appended), or None."""
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) in (
        "tuple",
        "Tuple",
        "typing.Tuple",
    ):
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        items = [_annotated(e, leaves) for e in elts]
        if not items or any(i is None for i in items):
            return None  # tuple[float, ...] or an item it does not state
        return ("tuple", tuple(items))
    text = ast.unparse(node)
    if "ndarray" in text or "Array" in text:
        leaves.append(None)  # an array of unknown shape
        return trees.LEAF
    if text in ("float", "int"):
        leaves.append(shapes.SCALAR)
        return trees.LEAF
    return None


def static_text(value: str):
    """A ``--fix`` value that is not a number: ``None``, ``True``, ``False``, a
    quoted string (``kind='"tanh"'``), or else a :class:`BareWord`."""
    if value in ("None", "True", "False"):
        return {"None": None, "True": True, "False": False}[value]
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return BareWord(value)
    return parsed if isinstance(parsed, str) else BareWord(value)


def _fixed(name: str, value, default):
    """A ``--fix`` value for a parameter with this default (an AST node or
    None): a bare word is a string only where the default is a string (it is
    the typo ``n=ten`` elsewhere)."""
    if not isinstance(value, BareWord):
        return value
    if isinstance(default, ast.Constant) and isinstance(default.value, str):
        return str(value)
    raise UsageError(f"--fix takes NAME=NUMBER, got '{name}={value}'")


def parameter_spec(node: ast.FunctionDef, shape_of: dict, fix: dict):
    """The treedef per parameter ``lower`` takes for ``node`` (None where the
    parameter is lowered as without a spec: a number, an array, or fixed to its
    non-numeric default); None if no parameter is a tree or a static fixed by
    ``--fix``."""
    spec = []
    args = node.args.posonlyargs + node.args.args
    defaults = dict(zip([a.arg for a in args][::-1], node.args.defaults[::-1]))
    for a in args:
        given = shape_of.get(a.arg)
        if isinstance(given, TreeShape):
            if a.arg in fix:
                raise UsageError(
                    f"`{a.arg}` is given both a tree (--shape) and a value (--fix)"
                )
            spec.append(given.tdef)
        elif a.arg in fix and not trees.is_leaf(fix[a.arg]):
            value = _fixed(a.arg, fix[a.arg], defaults.get(a.arg))
            spec.append(("static", type(value), value))
        elif a.arg in fix and a.arg in defaults:  # a number for `scale=None`
            spec.append(trees.LEAF if is_static_default(defaults[a.arg]) else None)
        else:
            spec.append(None)
    return tuple(spec) if any(t is not None for t in spec) else None


@dataclass(frozen=True)
class Layout:
    """How a function's parameters map to the IR's (the leaves): per parameter
    of the user's signature, its name, treedef and IR parameter names (none for
    a static)."""

    params: tuple  # (name, tdef, (leaf names ...)) per parameter of the source

    @property
    def trees(self) -> list[str]:
        """The parameters that are trees."""
        return [n for n, t, _ in self.params if t[0] not in ("leaf", "static")]

    def wrt(self, function: str, names) -> tuple[int, ...]:
        """The IR parameter indices of the parameters ``names`` (default all);
        a usage error for a name that is not a parameter with numbers."""
        leaves = [leaf for _, _, ls in self.params for leaf in ls]
        known = [n for n, _, ls in self.params if ls]
        missing = [w for w in names or () if w not in known]
        if missing:
            raise UsageError(
                f"`{function}` has no parameter to differentiate named "
                f"{', '.join(missing)} (its parameters: {', '.join(known)})"
            )
        by_name = {p[0]: p for p in self.params}
        chosen = [by_name[w] for w in names] if names else self.params
        return tuple(leaves.index(leaf) for _, _, ls in chosen for leaf in ls)

    def declared(self, shape_of: dict) -> dict:
        """``--shape``'s shapes by IR parameter name: a tree's per leaf."""
        out = {}
        for name, _, leaf_names in self.params:
            given = shape_of.get(name)
            if isinstance(given, TreeShape):
                out.update(zip(leaf_names, given.leaves))
            elif given is not None:
                out[name] = given
        return out


def layout(node: ast.FunctionDef, spec, fn) -> Layout:
    """The :class:`Layout` of ``fn``, lowered from ``node`` with ``spec``."""
    statics = dict(fn.statics)
    names = [p.name for p in fn.params]
    it = iter(names)
    out = []
    for i, a in enumerate(node.args.posonlyargs + node.args.args):
        tdef = spec[i] if spec is not None and spec[i] is not None else trees.LEAF
        if a.arg in statics:
            tdef = ("static", None, statics[a.arg])
        elif tdef == trees.LEAF and a.arg not in names:  # --fix made it a constant
            tdef = ("static", None, None)
        out.append((a.arg, tdef, tuple(next(it) for _ in range(trees.count(tdef)))))
    return Layout(tuple(out))


def check_mode(fn_name: str, tree: str, mode: str) -> None:
    """A usage error for the mode trees are not emitted in (symbolic: SymPy
    writes a gradient of numbers)."""
    if mode == "symbolic":
        raise UsageError(
            f"--mode symbolic of a function taking the parameter tree `{tree}` "
            f"({fn_name}) is not supported: SymPy's gradient is written for "
            "numbers; use the default --mode reverse, or pass each number as a "
            "parameter of its own"
        )


def tree_wrapper(lay: Layout, mode: str, kind: str, wrt: tuple, fn, d) -> str:
    """The emitted function with the user's name and parameters, for the leaf
    function ``fn`` (named ``<name>_leaves``) and its derivative ``d``."""
    name = fn.name.removesuffix("_leaves")
    if mode in ("hessian", "jacobian"):
        return matrix_source(name, lay, mode, wrt, fn)
    return wrapper_source(name, lay, kind, wrt, d, d.defaults)


def wrapper_source(
    name: str, lay: Layout, kind: str, wrt: tuple, inner, defaults: tuple
) -> str:
    """The emitted wrapper ``<name>_<kind>`` with the user's parameters: reads
    the leaves (and, for ``jvp`` and ``hvp``, the direction's leaves: a tree
    ``params_dot`` shaped like ``params``), calls ``inner`` (the leaves'
    derivative, an IR function) and builds the result (for ``grad``, ``vjp``
    and ``hvp``: one tree per parameter differentiated, in ``wrt``'s order).

    ``defaults``: the numeric defaults of the last IR parameters (``grad``)."""
    leaf_params = [leaf for _, _, ls in lay.params for leaf in ls]
    extra = [p.name for p in positional(inner)[len(leaf_params) :]]
    taken = {inner.name, name} | set(extra)
    head, lines = _reading_leaves(lay, defaults, taken)
    grads = _free("grads", taken)
    call_args = leaf_params + extra
    if kind in ("jvp", "hvp"):  # directions come structured like the primals
        call_args = list(leaf_params)
        dots = iter(extra)
        for n, t, ls in _differentiated(lay, wrt):
            if t == trees.LEAF:  # a number or an array: its tangent as it is
                head.append(next(dots))
                call_args.append(head[-1])
                continue
            dot = _free(f"{n}_dot", taken)
            head.append(dot)
            for path in trees.paths(dot, t):
                leaf_dot = next(dots)
                lines.append(f"    {leaf_dot} = {path}")
                call_args.append(leaf_dot)
    elif kind == "vjp":
        head += extra
    head += _keyword_only(inner)
    call = f"{inner.name}({', '.join(call_args + _passed_on(inner))})"
    if kind == "jvp":
        lines.append(f"    return {call}")
    else:
        lines.append(f"    {grads} = {call}")
        lines.append(f"    return {_rebuilt(lay, wrt, grads)}")
    structures = ", ".join(
        f"{n} {trees.describe(t)}"
        for n, t, _ in lay.params
        if t[0] not in ("leaf", "static")
    )
    text = (
        f"{WHAT[kind]} of {name}: reads the leaves of {structures}, calls "
        f"{inner.name}"
    )
    text += "." if kind == "jvp" else " and builds the result in the same structure."
    if kind == "hvp":
        text = text.replace(
            "reads the leaves of", "reads the leaves (and the direction's) of"
        )
    body = textwrap.fill(text, 80, initial_indent="    ", subsequent_indent="    ")
    doc = f'    """{body.strip()}\n    """'
    return f"def {name}_{kind}({', '.join(head)}):\n{doc}\n" + "\n".join(lines) + "\n"


def matrix_source(name: str, lay: Layout, which: str, wrt: tuple, fn) -> str:
    """The emitted ``<name>_hessian`` or ``<name>_jacobian``: reads the leaves,
    calls ``fn``'s (the leaf function's) and arranges its blocks as the API
    (and JAX) does: the Hessian as the input's structure of the input's
    structure, the Jacobian as the output's structure of the input's; the
    input is the one parameter differentiated, or the tuple of several."""
    inner = f"{fn.name}_{which}"
    leaf_params = [leaf for _, _, ls in lay.params for leaf in ls]
    taken = {inner, name}
    head, lines = _reading_leaves(lay, fn.defaults, taken)
    head += _keyword_only(fn)
    blocks = _free("blocks", taken)
    lines.append(f"    {blocks} = {inner}({', '.join(leaf_params + _passed_on(fn))})")
    chosen = _differentiated(lay, wrt)
    inputs = (
        chosen[0][1] if len(chosen) == 1 else ("tuple", tuple(t for _, t, _ in chosen))
    )
    k, outputs = len(wrt), len(fn.results)
    # the array code's matrices give one block, not [[block]], for one leaf
    one = fn.param_shapes and k == 1 and (which == "hessian" or outputs == 1)

    def block(o: int, i: int) -> str:
        return blocks if one else f"{blocks}[{o}][{i}]"

    rows = [
        trees.rebuild_text(inputs, [block(o, i) for i in range(k)])
        for o in range(k if which == "hessian" else outputs)
    ]
    if which == "hessian":
        result = trees.rebuild_text(inputs, rows)
        what = (
            f"Hessian of {name}: the blocks of {inner} arranged as the parameters' "
            "structure of their structure (JAX's layout: block [i][j] is the "
            "second derivative in x_i and x_j, of shape x_i.shape + x_j.shape)"
        )
    else:
        result = render_tree(fn.tree, rows)
        what = (
            f"Jacobian of {name}: per output, the blocks of {inner} arranged as "
            "the parameters' structure (JAX's layout: block [o][i] has the shape "
            "output_o.shape + x_i.shape)"
        )
    lines.append(f"    return {result}")
    body = textwrap.fill(
        what + ".", 80, initial_indent="    ", subsequent_indent="    "
    )
    doc = f'    """{body.strip()}\n    """'
    return f"def {name}_{which}({', '.join(head)}):\n{doc}\n" + "\n".join(lines) + "\n"


def _keyword_only(fn) -> list[str]:
    """``*, X=X``: the module constants ``fn`` reads (keyword-only parameters
    whose defaults are the constants copied into the module), taken as it
    takes them."""
    if not fn.keyword_only:
        return []
    return ["*"] + [n if d is None else f"{n}={d}" for n, d in fn.keyword_only]


def _passed_on(fn) -> list[str]:
    return [f"{n}={n}" for n, _ in fn.keyword_only]


def _reading_leaves(lay: Layout, defaults: tuple, taken: set):
    """A wrapper's parameters (the user's, but the statics; numeric defaults
    kept) and its lines reading the trees' leaves into the leaves' names;
    ``taken`` gets every name they bind."""
    leaf_params = [leaf for _, _, ls in lay.params for leaf in ls]
    taken |= {n for n, _, _ in lay.params} | set(leaf_params)
    signature = [n for n, t, _ in lay.params if t[0] != "static"]
    shown = {n: printed for n, printed in _defaults(lay, defaults)}
    head = [f"{n}={shown[n]}" if n in shown else n for n in signature]
    lines = []
    for n, t, ls in lay.params:
        if t != trees.LEAF and t[0] != "static":
            paths = trees.paths(n, t)
            lines += [f"    {leaf} = {path}" for leaf, path in zip(ls, paths)]
    return head, lines


def _defaults(lay: Layout, defaults: tuple):
    """(parameter, printed default) for the user's parameters whose IR
    parameter has a numeric default."""
    leaf_params = [leaf for _, _, ls in lay.params for leaf in ls]
    first = len(leaf_params) - len(defaults)
    by_leaf = {leaf_params[first + i]: d for i, d in enumerate(defaults)}
    for n, t, ls in lay.params:
        if t == trees.LEAF and ls[0] in by_leaf:
            yield n, default_source(by_leaf[ls[0]])


def _rebuilt(lay: Layout, wrt: tuple, grads: str) -> str:
    """The gradients ``grads`` (one per leaf in ``wrt``; not a tuple if only
    one) rebuilt in the structure of their parameters: one tree, or a tuple of
    one per parameter differentiated."""
    parts, j = [], 0
    for _, t, ls in _differentiated(lay, wrt):
        exprs = [
            grads if len(wrt) == 1 else f"{grads}[{j + k}]" for k in range(len(ls))
        ]
        j += len(ls)
        parts.append(trees.rebuild_text(t, exprs))
    return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"


def _differentiated(lay: Layout, wrt: tuple) -> list:
    """The parameters whose leaves ``wrt`` lists (IR indices), in its order:
    the order of their derivatives (a parameter's leaves are consecutive)."""
    leaves = [leaf for _, _, ls in lay.params for leaf in ls]
    first = {leaves[i]: j for j, i in enumerate(wrt)}
    chosen = [p for p in lay.params if p[2] and p[2][0] in first]
    return sorted(chosen, key=lambda p: first[p[2][0]])


def _free(name: str, taken: set) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name
