"""Module-level array constants the CLI can copy without running the file.

``adc compile`` never imports the file it reads, so a module constant is
known only if its definition can be checked from the text: a call of a NumPy
constructor (:data:`CONSTRUCTORS`) on literal numbers, tuples and lists, such
as ``W = np.array([[1.0, 2.0], [3.0, 4.0]])``, ``GRID = np.linspace(0, 1, 5)``
or ``Z = np.zeros((3, 2))``.  The emitted module gets a copy of it respelled
from the parsed values (see docs/security.md), and the derivatives take the
constant as a keyword-only parameter defaulting to it
(:mod:`ad_compiler.frontend.scope_data`).  Anything else (``X = load()``,
``np.load("f.npy")``) is not known without running the file: using it is an
error saying so.
"""

from __future__ import annotations

import ast
import math

import numpy

from ad_compiler.ir import shapes

# The NumPy constructors a module constant may be defined with (the CLI copies
# the definition into the emitted module): literal arguments only, each a
# shape, a count or values, so the copy runs nothing of the user's.
CONSTRUCTORS = frozenset(
    {"array", "asarray", "zeros", "ones", "full", "eye", "identity", "linspace"}
    | {"arange", "diag"}
)
MAX_ELEMENTS = 10**6  # a bigger constant belongs in a file passed as a parameter
_KEYWORDS = {"endpoint": bool, "num": int, "k": int}


def static_definition(value: ast.expr, numpy_names: set[str]):
    """``(text, None)``: the checked text of a module constant defined by
    ``value`` (``np.array([[1.0, 2.0]])``, ``np.linspace(0, 1, 5)``,
    ``np.zeros((3, 2))`` ...), respelled with ``np.``; or ``(None, why)``.

    Guarantees: the text is built from the parsed literals (numbers, and
    tuples/lists of them), never copied from the file; it calls one of
    :data:`CONSTRUCTORS` and makes at most :data:`MAX_ELEMENTS` numbers."""
    call = value
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id in numpy_names
    ):
        return None, "it is not a NumPy constructor call with literal arguments"
    name = call.func.attr
    if name not in CONSTRUCTORS:
        return None, f"`np.{name}(...)` cannot be evaluated from the text alone"
    args = [_literal(a) for a in call.args]
    if any(a is None for a in args):
        return None, f"an argument of `np.{name}(...)` is not a literal"
    keywords = []
    for kw in call.keywords:
        got = _literal(kw.value) if kw.arg in _KEYWORDS else None
        if got is None or not isinstance(got, _KEYWORDS[kw.arg]):
            return None, f"`np.{name}(...)` takes only literal positional arguments"
        if kw.arg == "num" and got > MAX_ELEMENTS:
            return None, f"it makes more than {MAX_ELEMENTS} numbers"
        keywords.append(f"{kw.arg}={got!r}")
    if _elements(name, args) > MAX_ELEMENTS:
        return None, f"it makes more than {MAX_ELEMENTS} numbers"
    text = ", ".join([repr(a) for a in args] + keywords)
    return f"np.{name}({text})", None


def static_shape(text: str):
    """The abstract shape (:mod:`ad_compiler.ir.shapes`) of the value a
    definition checked by :func:`static_definition` makes; None if NumPy
    refuses its arguments.  The constructor is called on the parsed literals
    (bounded in size), as the emitted module will; nothing else runs."""
    call = ast.parse(text, mode="eval").body
    args = [_literal(a) for a in call.args]
    keywords = {kw.arg: _literal(kw.value) for kw in call.keywords}
    try:
        value = getattr(numpy, call.func.attr)(*args, **keywords)
    except (ValueError, TypeError):
        return None
    return shapes.of_value(value)


def _literal(node: ast.expr):
    """A number, bool, or (nested) tuple/list of numbers; None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    try:  # parses literals only: it runs nothing
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if _numbers(value) else None


def _numbers(value) -> bool:
    """Whether ``value`` is a real number or a (nested) tuple/list of them."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, (tuple, list)):
            todo.extend(v)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        elif not math.isfinite(v):  # `inf` would be an undefined name
            return False
    return True


def _elements(name: str, args: list) -> float:
    """An upper bound of how many numbers ``np.name(*args)`` makes (inf for
    arguments NumPy would refuse)."""
    if not args:
        return math.inf
    first = args[0]
    if name in ("array", "asarray"):
        return str(first).count(",") + 1
    if name == "diag":
        return (str(first).count(",") + 1) ** 2
    if name in ("zeros", "ones", "full", "eye", "identity"):
        n = _product(first if isinstance(first, (tuple, list)) else (first,))
        if name == "eye" and len(args) > 1:
            return n * _product((args[1],))
        return n * n if name in ("eye", "identity") else n
    if name == "linspace":
        return _product((args[2],)) if len(args) > 2 else 50
    numbers = [
        a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)
    ]
    if len(numbers) != len(args) or len(args) > 3:  # arange
        return math.inf
    start, stop, step = (0, first, 1) if len(args) == 1 else (*args, 1)[:3]
    return math.inf if step == 0 else max(0.0, (stop - start) / step) + 1


def _product(shape) -> float:
    out = 1
    for d in shape:
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            return math.inf
        out *= d
    return out


# methods of an ndarray that write into it
_WRITING_METHODS = frozenset(
    {"fill", "sort", "partition", "put", "itemset", "resize", "setfield"}
    | {"byteswap", "setflags"}
)


# NumPy functions that write into an argument (np.add.at, rng.shuffle: by name)
_NUMPY_WRITERS = frozenset(
    {"copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis"}
    | {"at", "shuffle"}
)
# builtins that only read their arguments
_READERS = frozenset({"print", "len", "repr", "str", "float", "int", "type", "id"})


def _may_write_arguments(func: ast.expr) -> bool:
    """Whether a call of ``func`` may write into an array passed to it: any
    function but the builtins that only read and NumPy's functions (``np.sum``),
    except those that write (``np.copyto``)."""
    if isinstance(func, ast.Name):
        return func.id not in _READERS
    if isinstance(func, ast.Attribute):
        root: ast.expr = func
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in ("np", "numpy"):
            return func.attr in _NUMPY_WRITERS
    return True


def written_constants(module: ast.Module, names: set[str]) -> dict[str, int]:
    """The module constants among ``names`` that the file may write into after
    defining them, each with the line of the first such place (the CLI copies
    the definition only, so their value is not known without running the file).

    Conservative, from the text alone: anywhere in the file, ``W[...] = ``,
    ``W[...] += ``, ``del W[...]``, ``W.fill(...)`` (and the other writing
    methods), ``out=W``; at module level (outside a ``def``), ``W`` passed to
    a call (``np.copyto(W, ...)``) or bound to another name (``U = W``, whose
    writes would reach ``W``).  A function's local of the same name counts too."""
    found: dict[str, int] = {}

    def note(name: str, node: ast.AST) -> None:
        if name in names:  # the first place in the file
            line = getattr(node, "lineno", 0)
            found[name] = min(found.get(name, line), line)

    def visit(node: ast.AST, top: bool) -> None:
        if isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load):
            base = node.value
            while isinstance(base, ast.Subscript):  # W[0][1] = ...
                base = base.value
            if isinstance(base, ast.Name):
                note(base.id, node)
        elif isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr in _WRITING_METHODS
                and isinstance(func.value, ast.Name)
            ):
                note(func.value.id, node)
            for kw in node.keywords:
                if kw.arg == "out":
                    for sub in ast.walk(kw.value):
                        if isinstance(sub, ast.Name):
                            note(sub.id, node)
            if top and _may_write_arguments(func):
                for arg in node.args:
                    if isinstance(arg, ast.Name):
                        note(arg.id, node)
        elif top and isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
            value = node.value
            items = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
            for item in items:
                if isinstance(item, ast.Name):
                    note(item.id, node)

    if not names:
        return found
    # iterative: a 100,000-term expression is a tree that deep (no recursion)
    todo: list[tuple[ast.AST, bool]] = [(module, True)]
    while todo:
        node, top = todo.pop()
        visit(node, top)
        for child in ast.iter_child_nodes(node):
            nested = top and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            todo.append((child, nested))
    return found
