"""The table of every library function user code may call, generated from the registry.

``python -m ad_compiler.tools.functions`` prints it; docs/functions.md holds
it as a ``generated`` block that ``docs/regenerate.py`` rewrites (and
``--check`` keeps honest in CI).  Nothing in it is kept by hand but the notes
on the few names the front end lowers itself (:data:`SUGAR_NOTES`): every
qualified name of every row (``Primitive.names``) is listed, with the
primitive it lowers to, how emitted code spells it, and the row's
``convention`` (the derivative at non-smooth points), grouped by library.  A
row added to the registry appears with no edit here.
"""

from __future__ import annotations

from ad_compiler.frontend.lower_library import COMPOSED_NOTES
from ad_compiler.frontend.scope import SUGAR
from ad_compiler.primitives.stats import SIGNATURES
from ad_compiler.primitives.table import PRIMITIVES, Primitive

# the groups, in the order shown; a name of another library gets its own
# group after these (its first two dotted parts: ``numpy.fft``)
GROUPS = (
    "builtins",
    "math",
    "numpy",
    "numpy.linalg",
    "ndarray methods",
    "scipy.special",
    "scipy.linalg",
    "scipy.stats",
)

# the names the front end lowers into other primitives or into loops (see
# scope.SUGAR and frontend/lower_*.py): (what it becomes, its derivative)
SUGAR_NOTES: dict[str, tuple[str, str]] = {
    "numpy.square": ("x * x (mul)", "smooth everywhere"),
    "numpy.clip": (
        "np.minimum(np.maximum(x, lo), hi) (max, min)",
        "as np.maximum/np.minimum: at a bound x = lo or x = hi the derivative is shared ½/½",
    ),
    "numpy.full": ("np.ones(shape) * v", "linear in v; the shape has none"),
    "numpy.full_like": ("np.ones_like(x) * v", "linear in v; x gives only its shape"),
    "numpy.array": (
        "of a (nested) list of numbers or arrays: np.stack (stack)",
        "linear: smooth everywhere",
    ),
    "builtins.range": (
        "only what a for loop or comprehension runs over",
        "integers: none",
    ),
    "builtins.enumerate": (
        "only what a for loop or comprehension runs over",
        "the items': the count has none",
    ),
    "builtins.zip": ("only what a for loop or comprehension runs over", "the items'"),
    "builtins.divmod": ("(a // b, a % b) (floordiv, mod)", "as // and %"),
    "builtins.sum": (
        "of a list, tuple or generator: start + xs[0] + xs[1] + … (add)",
        "linear: smooth everywhere",
    ),
    "builtins.list": ("of a list, tuple or generator: its items", "linear"),
    "builtins.tuple": ("of a list, tuple or generator: its items", "linear"),
    "builtins.reversed": ("of a list or tuple: its items reversed", "linear"),
}
SUGAR_NOTES.update(COMPOSED_NOTES)  # NumPy's shape functions (frontend/lower_library)


def group_of(qualified: str) -> str:
    """The group a qualified name is listed in (``"numpy.linalg.solve"`` ->
    ``"numpy.linalg"``, ``"ndarray.sum"`` -> ``"ndarray methods"``)."""
    parts = qualified.split(".")
    if parts[0] == "ndarray":
        return "ndarray methods"
    if parts[0] in ("builtins", "math"):
        return parts[0]
    if parts[0] == "numpy":
        return "numpy" if len(parts) == 2 else ".".join(parts[:2])
    return ".".join(parts[:2]) if len(parts) > 2 else parts[0]


def written(qualified: str) -> str:
    """How user code writes the name (with the usual ``np`` alias)."""
    module, _, rest = qualified.partition(".")
    if module == "builtins":
        return rest
    if module == "numpy":
        return "np." + rest
    if module == "ndarray":
        return "x." + rest
    return qualified


_NS = {
    "builtins": "py",
    "math": "math",
    "numpy": "np",
    "ndarray": "np",
    "scipy": "scipy",
}


def spelled(row: Primitive, qualified: str) -> str:
    """How the emitted code spells a call of ``row`` by the name ``qualified``."""
    ns = _NS.get(qualified.split(".")[0], "py")
    args = ["x", "y", "z", "w", "v"][: row.arity] if row.arity >= 0 else ["…"]
    if qualified in SIGNATURES:  # scipy.stats: the parameters by name
        args = [name for name, _ in SIGNATURES[qualified]]
    name = row.call_name(ns)
    if name and "{" not in name:
        return f"{name}({', '.join(args)})"
    if name:  # a template: "{1} if {0} else {2}"
        return name.format(*args)
    if row.infix:
        return f"x {row.infix} y"
    if row.prefix:
        return f"{row.prefix}x"
    try:
        return row.show(args, ns)
    except (KeyError, IndexError, TypeError):  # a spelling that needs its params
        return f"{row.render_module} code of its own"


def entries() -> dict[str, list[tuple[str, str, str, str]]]:
    """group -> [(names as written, primitive, emitted spelling, convention)]:
    one entry per row and group (a row's names in one group share it), then
    one per front-end name."""
    groups: dict[str, dict[str, list[str]]] = {}
    for row in PRIMITIVES.values():
        for q in row.names:
            groups.setdefault(group_of(q), {}).setdefault(row.name, []).append(q)
    table: dict[str, list[tuple[str, str, str, str]]] = {}
    for group, rows in groups.items():
        for prim, names in rows.items():
            row = PRIMITIVES[prim]
            shown = ", ".join(written(q) for q in sorted(names))
            line = (shown, prim, spelled(row, sorted(names)[0]), row.convention)
            table.setdefault(group, []).append(line)
    for module, names in SUGAR.items():
        for attr in sorted(names):
            q = f"{module}.{attr}"
            becomes, convention = SUGAR_NOTES.get(q, ("lowered by the front end", ""))
            line = (written(q), "(front end)", becomes, convention)
            table.setdefault(group_of(q), []).append(line)
    return table


def render() -> str:
    """The table as text: a heading per group, then an entry per function,
    its derivative convention indented below it."""
    table = entries()
    order = [g for g in GROUPS if g in table] + sorted(set(table) - set(GROUPS))
    out = []
    for group in order:
        out.append(f"## {group}")
        for names, prim, emitted, convention in sorted(table[group]):
            out.append(f"{names}  →  {prim}: {emitted}")
            out.append(f"    {convention or '(no convention stated)'}")
        out.append("")
    return "\n".join(out).rstrip("\n")


def main() -> int:
    print(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
