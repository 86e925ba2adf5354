"""Numba-ready emission: the emitted module rewritten so ``numba.njit`` compiles it.

The default emission (:mod:`ad_compiler.backend.codegen`) is untouched; this
module takes its text and rewrites, statement by statement (the ``# line N``
comments stay, so errors and readers still see the user's lines):

* a list tape ``tape = []`` whose appends all happen directly in the body of
  one ``for _ in range(...)`` loop of the same block (branches allowed, no
  inner loop) becomes a preallocated array of rows, sized by the loop's trip
  count, and a counter: ``tape_rows = np.empty((n, 3), np.float64)`` before
  the loop, ``tape_rows[tape_len, 0] = x; ...; tape_len += 1`` for the append;
  columns holding ``len(...)`` (the bounds of an inner loop's rows) go to an
  ``np.int64`` array ``tape_ints``, every other column is ``np.float64``.  One
  allocation per tape, not one per column: three fresh arrays of 800 kB per
  call cost ~550 page faults a call (malloc gives the memory back between
  calls), one of 2.4 MB is reused;
* other tapes (a ``while`` loop's, an inner loop's shared by all outer
  iterations) stay lists: Numba types a list from its appends;
* ``for a, b in reversed(tape)`` and ``reversed(tape[start:stop])`` become
  index loops ``for tape_i in range(stop - 1, start - 1, -1)`` reading row
  ``tape_i`` (Numba has no ``reversed`` of a list);
* every top-level ``def`` is decorated ``@numba.njit`` (nopython mode: there is
  no object-mode fallback) and the module imports numba.

``rewrite(source, arrays=False)`` keeps every tape a list (the form to retry
when a column's guessed dtype does not type).  Constructs Numba's nopython mode
has no form for are refused here, naming the construct and the user's line:
:class:`~ad_compiler.errors.CompileError`.
"""

from __future__ import annotations

import ast
import re

from ad_compiler.errors import CompileError

__all__ = ["rewrite", "user_line", "NO_NUMBA_FORM"]

# constructs nopython mode cannot compile, by AST node: what to call them
NO_NUMBA_FORM = {
    ast.Try: "try/except",
    ast.With: "a with block",
    ast.Yield: "a generator (yield)",
    ast.YieldFrom: "a generator (yield from)",
    ast.Lambda: "a lambda",
    ast.ClassDef: "a class definition",
    ast.Global: "a global statement",
    ast.Nonlocal: "a nonlocal statement",
    ast.JoinedStr: "an f-string",
    ast.DictComp: "a dict comprehension",
    ast.SetComp: "a set comprehension",
    ast.GeneratorExp: "a generator expression",
}

_LINE = re.compile(r"^\s*# line (\d+): (.*)$")


def user_line(source: str, lineno: int) -> str:
    """The user's line a line of emitted ``source`` comes from: the nearest
    ``# line N: text`` comment at or above it ("" when there is none)."""
    lines = source.splitlines()
    for text in reversed(lines[: max(lineno, 0)]):
        m = _LINE.match(text)
        if m:
            return f"line {m.group(1)}: {m.group(2)}"
    return ""


def rewrite(source: str, arrays: bool = True, cache: bool = False) -> str:
    """``source`` (an emitted module) in the form ``numba.njit`` compiles;
    ``cache``: decorated ``@numba.njit(cache=True)`` (for a module that lives
    in a file: Numba keeps its machine code next to it).

    Guarantees: the functions compute the same values (the tapes hold the same
    rows, read in the same reversed order); the text is black-formatted.
    """
    tree = ast.parse(source)
    _refuse(tree, source)
    _refuse_recursion(tree, source)
    _refuse_big_ints(tree, source)
    module_names = _module_names(tree)
    lines = source.splitlines()
    edits: dict[int, tuple[int, list[str]]] = {}  # first line -> (last, new)
    inserts: dict[int, list[str]] = {}  # before this line
    renames: list[tuple[str, str]] = []  # len(tape) -> tape_len
    uses_np = False
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        if fn.decorator_list:
            raise CompileError(
                f"jit: `{fn.name}` is decorated; Numba-ready emission compiles "
                "undecorated functions"
            )
        taken = module_names | {
            n.id if isinstance(n, ast.Name) else n.arg
            for n in ast.walk(fn)
            if isinstance(n, (ast.Name, ast.arg))
        }
        for tape in _tapes(fn):
            names = _Names(tape.name, taken)  # fresh in this function
            plan = _array_plan(tape) if arrays else None
            if plan is not None:
                uses_np = True
                _edit_array_tape(tape, plan, names, lines, edits, inserts)
                renames.append((tape.name, names.length, fn.lineno, fn.end_lineno))
            _edit_reverse_loops(tape, plan, names, lines, edits)
        _edit_reversed_ranges(fn, lines, edits)
    out = _apply(lines, edits, inserts, renames)
    out = _decorate(out, tree, uses_np, cache)
    return _black(out)


def _module_names(tree: ast.Module) -> set:
    """The names a module binds at the top (functions, imports), and the two
    the rewrite imports: fresh names must avoid them."""
    names = {"np", "numba"}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
    return names


class _Tape:
    """A list tape of one function: where it is made, appended to and read."""

    def __init__(self, name: str, made: ast.Assign, block: list):
        self.name, self.made, self.block = name, made, block
        self.appends: list[tuple[ast.Expr, list]] = []  # with the loops around
        self.reads: list[ast.For] = []  # the reversed(...) loops


class _Names:
    """The fresh names a tape's rewrite introduces (never an existing name)."""

    def __init__(self, tape: str, taken: set):
        def fresh(base):
            while base in taken:
                base += "_"
            taken.add(base)
            return base

        self.length, self.index = fresh(f"{tape}_len"), fresh(f"{tape}_i")
        self._fresh, self.arrays, self.dtypes = fresh, {}, []

    def cell(self, j: int, row: str) -> str:
        """Column ``j`` of row ``row``: ``tape_rows[row, k]`` (floats) or
        ``tape_ints[row, k]``, k its place among the columns of its dtype."""
        dtype = self.dtypes[j]
        k = self.dtypes[:j].count(dtype)
        return f"{self.array(dtype)}[{row}, {k}]"

    def array(self, dtype: str) -> str:
        if dtype not in self.arrays:
            kind = "ints" if dtype == "np.int64" else "rows"
            self.arrays[dtype] = self._fresh(f"{self.length[:-4]}_{kind}")
        return self.arrays[dtype]


def _refuse(tree: ast.Module, source: str) -> None:
    for node in ast.walk(tree):
        what = NO_NUMBA_FORM.get(type(node))
        if what is not None:
            where = user_line(source, node.lineno)
            raise CompileError(
                f"jit: {what} has no Numba (nopython) form"
                + (f" ({where})" if where else f" (emitted line {node.lineno})")
            )


def _refuse_recursion(tree: ast.Module, source: str) -> None:
    """Numba compiles a recursive function only given its type signature."""
    defs = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    calls = {
        name: {
            n.func.id
            for n in ast.walk(f)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id in defs
        }
        for name, f in defs.items()
    }
    for name, f in defs.items():
        seen, todo = set(), list(calls[name])
        while todo:
            callee = todo.pop()
            if callee == name:
                where = user_line(source, f.body[0].lineno + 1)
                raise CompileError(
                    f"jit: recursion (`{name}` reaches itself) has no Numba form "
                    "without explicit type signatures, which jit does not write yet"
                    + (f" ({where})" if where else "")
                )
            if callee not in seen:
                seen.add(callee)
                todo.extend(calls[callee])


def _refuse_big_ints(tree: ast.Module, source: str) -> None:
    """Integers past 64 bits: Numba's ints wrap where Python's grow."""
    for node in ast.walk(tree):
        value = None
        if isinstance(node, ast.Constant) and type(node.value) is int:
            value = node.value
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Pow)
            and all(
                isinstance(o, ast.Constant) and type(o.value) is int
                for o in (node.left, node.right)
            )
            and 0 <= node.right.value <= 4096
        ):
            value = node.left.value**node.right.value
        if value is not None and not -(2**63) <= value < 2**63:
            where = user_line(source, node.lineno)
            raise CompileError(
                f"jit: the integer {ast.unparse(node)} does not fit in 64 bits, "
                "Numba's integers" + (f" ({where})" if where else "")
            )


def _tapes(fn: ast.FunctionDef) -> list[_Tape]:
    """The list tapes of ``fn`` used only as tapes (made empty, appended to,
    read by ``reversed``, measured by ``len``); other lists are left alone."""
    found: dict[str, _Tape] = {}
    for block in _blocks(fn):
        for stmt in block:
            name = _assigned_name(stmt)
            if name and isinstance(stmt.value, ast.List) and not stmt.value.elts:
                found.setdefault(name, _Tape(name, stmt, block))
    ok = {name: True for name in found}
    _visit(fn.body, [], found, ok)
    return [t for name, t in found.items() if ok[name] and t.reads]


def _blocks(node):
    """Every statement list inside ``node``."""
    for field in ("body", "orelse", "finalbody"):
        block = getattr(node, field, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield block
            for stmt in block:
                yield from _blocks(stmt)


def _visit(block: list, loops: list, found: dict, ok: dict) -> None:
    """Sort each use of a tape: an append (with its enclosing loops), a
    reversed read, a ``len``; any other use disqualifies the tape."""
    for stmt in block:
        if _is_append(stmt, found):
            found[stmt.value.func.value.id].appends.append((stmt, list(loops)))
            parts = [stmt.value.args[0]]
        elif isinstance(stmt, ast.For) and _reversed_of(stmt.iter, found):
            found[_reversed_of(stmt.iter, found)].reads.append(stmt)
            parts = [stmt.target] + _slice_bounds(stmt.iter)
        elif any(stmt is t.made for t in found.values()):
            parts = []
        else:
            parts = [
                v
                for _, value in ast.iter_fields(stmt)
                for v in (value if isinstance(value, list) else [value])
                if isinstance(v, ast.expr)
            ]
        for part in parts:
            _check_names(part, found, ok)
        inner = loops + [stmt] if isinstance(stmt, (ast.For, ast.While)) else loops
        for field in ("body", "orelse"):
            sub = getattr(stmt, field, None)
            if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                _visit(sub, inner, found, ok)


def _check_names(node, found: dict, ok: dict) -> None:
    """A tape named in ``node`` other than as ``len(tape)`` disqualifies it."""
    lens = {
        id(n.args[0])
        for n in ast.walk(node)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id == "len"
        and len(n.args) == 1
    }
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id in found and id(n) not in lens:
            ok[n.id] = False


def _is_append(stmt, found) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Call)
        and isinstance(stmt.value.func, ast.Attribute)
        and stmt.value.func.attr == "append"
        and isinstance(stmt.value.func.value, ast.Name)
        and stmt.value.func.value.id in found
        and len(stmt.value.args) == 1
    )


def _reversed_of(node, found) -> str | None:
    """The tape ``node`` is ``reversed(tape)`` or ``reversed(tape[a:b])`` of."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "reversed"
        and len(node.args) == 1
    ):
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Subscript) and isinstance(arg.slice, ast.Slice):
        if arg.slice.step is None:
            arg = arg.value
    if isinstance(arg, ast.Name) and arg.id in found:
        return arg.id
    return None


def _slice_bounds(node: ast.Call) -> list:
    arg = node.args[0]
    if isinstance(arg, ast.Subscript):
        return [b for b in (arg.slice.lower, arg.slice.upper) if b is not None]
    return []


def _array_plan(tape: _Tape):
    """``(loop, trip count, column dtypes)`` when the tape can be arrays: every
    append directly in one ``for _ in range(...)`` loop that follows the tape's
    making in its block, each append a tuple of the same width; else None."""
    loops = {id(loops[-1]) if loops else None for _, loops in tape.appends}
    if len(loops) != 1 or None in loops:
        return None
    loop = tape.appends[0][1][-1]
    if loop not in tape.block or not isinstance(loop, ast.For) or loop.orelse:
        return None
    count = _trip_count(loop.iter)
    rows = [s.value.args[0] for s, _ in tape.appends]
    widths = {len(r.elts) if isinstance(r, ast.Tuple) else 1 for r in rows}
    if count is None or len(widths) != 1:
        return None
    width = widths.pop()
    lens = _len_names(tape)
    dtypes = []
    for j in range(width):
        cells = [r.elts[j] if isinstance(r, ast.Tuple) else r for r in rows]
        ints = all(isinstance(c, ast.Name) and c.id in lens for c in cells)
        dtypes.append("np.int64" if ints else "np.float64")
    return loop, count, dtypes


def _trip_count(node, steps: bool = False) -> str | None:
    """The trip count of ``range(n)`` / ``range(a, b)``, as text, else None
    (with ``steps``, any ``range`` call gives "")."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
    ):
        return None
    if steps:
        return ""
    if len(node.args) == 1:
        return f"max({ast.unparse(node.args[0])}, 0)"
    if len(node.args) == 2:
        a, b = (ast.unparse(x) for x in node.args)
        return f"max(({b}) - ({a}), 0)"
    return None


def _len_names(tape: _Tape) -> set:
    """Names assigned ``len(...)`` in the function's statements near the tape
    (the row bounds an outer tape keeps of an inner one)."""
    names = set()
    for block in [tape.block] + [list(ast.walk(s)) for s in tape.block]:
        for stmt in block:
            name = _assigned_name(stmt)
            if (
                name
                and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name)
                and stmt.value.func.id == "len"
            ):
                names.add(name)
    return names


def _assigned_name(stmt) -> str | None:
    """The one name ``stmt`` assigns (``name = ...``), else None."""
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
    ):
        return stmt.targets[0].id
    return None


def _indent(lines: list[str], lineno: int) -> str:
    text = lines[lineno - 1]
    return text[: len(text) - len(text.lstrip())]


def _edit_array_tape(tape, plan, names, lines, edits, inserts) -> None:
    loop, count, dtypes = plan
    pad = _indent(lines, tape.made.lineno)
    edits[tape.made.lineno] = (tape.made.end_lineno, [f"{pad}{names.length} = 0"])
    lead = _indent(lines, loop.lineno)
    names.dtypes = dtypes
    inserts.setdefault(loop.lineno, []).extend(
        f"{lead}{names.array(dtype)} = np.empty(({count}, {dtypes.count(dtype)}), {dtype})"
        for dtype in dict.fromkeys(dtypes)
    )
    for stmt, _ in tape.appends:
        row = stmt.value.args[0]
        cells = row.elts if isinstance(row, ast.Tuple) else [row]
        pad = _indent(lines, stmt.lineno)
        new = [
            f"{pad}{names.cell(j, names.length)} = {ast.unparse(c)}"
            for j, c in enumerate(cells)
        ]
        edits[stmt.lineno] = (stmt.end_lineno, new + [f"{pad}{names.length} += 1"])


def _edit_reverse_loops(tape, plan, names, lines, edits) -> None:
    size = names.length if plan is not None else f"len({tape.name})"
    for loop in tape.reads:
        arg = loop.iter.args[0]
        lower, upper = "0", size
        if isinstance(arg, ast.Subscript):
            if arg.slice.lower is not None:
                lower = ast.unparse(arg.slice.lower)
            if arg.slice.upper is not None:
                upper = ast.unparse(arg.slice.upper)
        stop = "-1" if lower == "0" else f"{_paren(lower)} - 1"
        pad = _indent(lines, loop.lineno)
        head = f"{pad}for {names.index} in range({_paren(upper)} - 1, {stop}, -1):"
        body = _indent(lines, loop.body[0].lineno)
        if plan is None:
            row = [f"{body}{ast.unparse(loop.target)} = {tape.name}[{names.index}]"]
        else:
            cells = [names.cell(j, names.index) for j in range(len(plan[2]))]
            targets = loop.target.elts if isinstance(loop.target, ast.Tuple) else None
            if targets is not None and len(targets) == len(cells):
                row = [f"{body}{ast.unparse(t)} = {c}" for t, c in zip(targets, cells)]
            else:
                value = cells[0] if len(cells) == 1 else f"({', '.join(cells)})"
                row = [f"{body}{ast.unparse(loop.target)} = {value}"]
        # the loop's head may span lines (black); the body keeps its lines
        edits[loop.lineno] = (loop.iter.end_lineno, [head] + row)


def _edit_reversed_ranges(fn, lines, edits) -> None:
    """``for i in reversed(range(...))`` as the same range walked backwards
    (Numba has no ``reversed`` of a range); a step that is not a literal
    integer is left for Numba to refuse."""
    for loop in ast.walk(fn):
        if (
            not (
                isinstance(loop, ast.For)
                and isinstance(loop.iter, ast.Call)
                and isinstance(loop.iter.func, ast.Name)
                and loop.iter.func.id == "reversed"
                and len(loop.iter.args) == 1
                and _trip_count(loop.iter.args[0], steps=True) is not None
            )
            or loop.lineno in edits
        ):
            continue
        walk = _backwards(loop.iter.args[0])
        if walk is None:
            continue
        line = lines[loop.lineno - 1]
        head = line[: line.index("for ")]
        text = f"{head}for {ast.unparse(loop.target)} in {walk}:"
        edits[loop.lineno] = (loop.iter.end_lineno, [text])


def _backwards(node: ast.Call) -> str | None:
    """``range(...)`` walked from its last element to its first, as text."""
    args = [ast.unparse(a) for a in node.args]
    if len(args) == 1:
        return f"range({_paren(args[0])} - 1, -1, -1)"
    a, b = args[0], args[1]
    if len(args) == 2:
        return f"range({_paren(b)} - 1, {_paren(a)} - 1, -1)"
    step = node.args[2]
    if not (isinstance(step, ast.Constant) and type(step.value) is int):
        if not (
            isinstance(step, ast.UnaryOp)
            and isinstance(step.op, ast.USub)
            and isinstance(step.operand, ast.Constant)
            and type(step.operand.value) is int
        ):
            return None
        s = -step.operand.value
    else:
        s = step.value
    if s == 0:
        return None
    # the last element: a + k*s with k the count less one
    edge = f"({b}) - ({a}) - 1" if s > 0 else f"({b}) - ({a}) + 1"
    last = f"({a}) + (({edge}) // {s}) * {s}"
    return f"range({last}, ({a}) - {s}, {-s})"


def _paren(text: str) -> str:
    """``text`` bracketed when it is more than a name or a call (for ``- 1``)."""
    node = ast.parse(text, mode="eval").body
    return text if isinstance(node, (ast.Name, ast.Call, ast.Constant)) else f"({text})"


def _apply(lines, edits, inserts, renames) -> str:
    out, i = [], 1
    while i <= len(lines):
        out.extend(inserts.get(i, []))
        if i in edits:
            last, new = edits[i]
            out.extend(new)
            i = last + 1
            continue
        line = lines[i - 1]
        for tape, length, first, last in renames:  # len(tape) in its function
            if first <= i <= last:
                line = re.sub(rf"\blen\({re.escape(tape)}\)", length, line)
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


def _decorate(text: str, tree: ast.Module, uses_np: bool, cache: bool) -> str:
    """Import numba (and numpy when the tapes need it); ``@numba.njit`` each def."""
    decorator = "@numba.njit(cache=True)" if cache else "@numba.njit"
    text = re.sub(r"^def ", f"{decorator}\ndef ", text, flags=re.M)
    imports = ["import numba"]
    has_np = any(
        isinstance(n, ast.Import) and any(a.asname == "np" for a in n.names)
        for n in tree.body
    )
    if uses_np and not has_np:
        imports.append("import numpy as np")
    lines = text.splitlines()
    at = _after_docstring(tree)
    return "\n".join(lines[:at] + [""] + imports + lines[at:]) + "\n"


def _after_docstring(tree: ast.Module) -> int:
    first = tree.body[0] if tree.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first.end_lineno
    return 0


def _black(text: str) -> str:
    import black

    return black.format_str(text, mode=black.Mode())
