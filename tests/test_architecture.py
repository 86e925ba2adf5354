"""The package's shape: no import cycles, modules and functions of a readable size,
and ``import ad_compiler`` that loads none of the heavy optional libraries."""

import ast
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ad_compiler"
MAX_MODULE_LINES = 900
MAX_FUNCTION_LINES = 120


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@functools.lru_cache(maxsize=None)
def parsed() -> dict[str, tuple[Path, str, ast.Module]]:
    """Every module's path, text and syntax tree (read once for all the tests)."""
    out = {}
    for name, path in modules().items():
        text = path.read_text()
        out[name] = (path, text, ast.parse(text, str(path)))
    return out


# the fields of a statement (or of an except clause, a match case) that hold statements
_STATEMENT_LISTS = ("body", "orelse", "finalbody", "handlers", "cases")


def statements(tree: ast.AST):
    """Every statement of ``tree``, at any depth (in functions, classes, loops,
    ``try`` and ``match``), and the except clauses and match cases holding them.

    An import and a ``def`` are statements, so they are all here; expressions
    (nine in ten nodes) are never entered, which makes this several times
    faster than ``ast.walk`` over a package.  The order is not ``ast.walk``'s."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for field in _STATEMENT_LISTS:
            stack.extend(getattr(node, field, None) or ())


def packages_above(name: str) -> list[str]:
    """The sub-packages Python imports before ``name`` (their ``__init__`` runs
    first): ``ad_compiler.ir.nodes`` needs ``ad_compiler.ir``.

    The root package is left out: its ``__init__`` is the public facade, which
    imports the API and so, through it, nearly everything; it runs before any
    submodule whichever is imported first, and a module that reads a name from
    it (``from ad_compiler import grad``) is counted by that import itself.
    """
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts))]


def imported(tree: ast.AST, here: str, is_package: bool, known: set[str]) -> set[str]:
    """The package modules an import anywhere in ``tree`` loads (inside functions
    too), with the sub-packages above each (see :func:`packages_above`)."""
    out: set[str] = set()
    for node in statements(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package this module is in
                anchor = here.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` loads the submodule pkg.mod; `from pkg import
            # name` reads pkg itself
            subs = [f"{base}.{a.name}" for a in node.names]
            targets = [s for s in subs if s in known]
            if len(targets) < len(subs):
                targets.append(base)
        for target in targets:
            if target in known:
                out.add(target)
                out.update(p for p in packages_above(target) if p in known)
    return out


def import_graph() -> dict[str, set[str]]:
    known = set(parsed())
    graph = {}
    for name, (path, _, tree) in parsed().items():
        edges = imported(tree, name, path.name == "__init__.py", known)
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's
    algorithm, written with an explicit stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def cycle_path(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """One import path around a group of mutually importing modules, from its
    first module back to it (a breadth-first search inside the group): the
    imports to read when breaking the cycle."""
    start, members = group[0], set(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if w not in came_from:
                    came_from[w] = v
                    following.append(w)
        frontier = following
    return group  # (not reached: a group of more than one module has a cycle)


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    # the message shows an import path, not the group in alphabetical order
    graph = {"a": {"c"}, "b": {"a"}, "c": {"b"}}
    assert cycle_path(graph, cycles(graph)[0]) == ["a", "c", "b", "a"]


def test_imports_count_inside_functions_and_the_packages_above():
    tree = ast.parse("def f():\n    from ad_compiler.ir.nodes import Var\n")
    known = {"ad_compiler", "ad_compiler.ir", "ad_compiler.ir.nodes"}
    assert imported(tree, "ad_compiler.x", False, known) == known - {"ad_compiler"}
    tree = ast.parse("from ad_compiler.ir import nodes\nfrom ad_compiler import grad")
    assert imported(tree, "ad_compiler.x", False, known) == known


# (the registry removed the cycles of {ir.nodes, ir.primitives,
# ir.array_primitives, ir.shapes} and {ad.rules, ad.array_rules}: none is left)
KNOWN_CYCLES: list[set[str]] = []


def test_no_import_cycles():
    graph = import_graph()
    found = cycles(graph)
    new = [c for c in found if not any(set(c) <= k for k in KNOWN_CYCLES)]
    assert (
        not new
    ), "import cycles (each an import path; the group in brackets):\n" + "\n".join(
        f"{' -> '.join(cycle_path(graph, c))}  [{', '.join(c)}]" for c in new
    )


def test_modules_and_functions_stay_readable():
    offenders = []
    for name, (_, text, tree) in parsed().items():
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{name}: {lines} lines (module)")
        for node in statements(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    offenders.append(
                        f"{name}.{node.name}: {length} lines (line {node.lineno})"
                    )
    print("\n".join(offenders))
    assert not offenders, "too long:\n" + "\n".join(offenders)


HEAVY = ["sympy", "black", "scipy", "numba", "dask", "matplotlib"]


@pytest.mark.slow  # a fresh interpreter: about 1 s on a loaded machine
def test_importing_the_package_loads_no_heavy_library():
    code = (
        "import json, sys\nimport ad_compiler\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == []


def documented_modules() -> dict[str, set[str]]:
    """The modules docs/architecture.md's package table names, by package."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("| package | what it does | modules |", 1)[1].split("\n\n")[0]
    out: dict[str, set[str]] = {}
    for row in table.strip().split("\n")[1:]:
        package, _, listed = row.strip("|").split(" | ")
        out[package.strip(" `/")] = set(re.findall(r"`(\w+)\.py`", listed))
    return out


def test_the_architecture_table_names_every_module():
    # the map a newcomer reads first: it cannot lose or gain a module silently
    shown = documented_modules()
    for package in [PACKAGE, *sorted(p.parent for p in PACKAGE.glob("*/__init__.py"))]:
        key = package.name
        assert key in shown, f"docs/architecture.md has no row for {key}/"
        actual = {p.stem for p in package.glob("*.py")} - {"__init__"}
        assert shown.pop(key) == actual, key
    assert not shown, f"rows for packages that do not exist: {sorted(shown)}"


def test_the_lowerer_mixins_never_define_one_method_twice():
    """Each mixin of ``Lowerer`` owns its methods: a second definition of a name
    in another mixin would silently win or lose by the order of the bases."""
    from ad_compiler.frontend.lower import Lowerer

    owner: dict[str, str] = {}
    for base in Lowerer.__mro__:
        if base is object:
            continue
        for name, value in vars(base).items():
            if name.startswith("__") or not callable(value):
                continue
            assert name not in owner, f"`{name}` in {owner[name]} and {base.__name__}"
            owner[name] = base.__name__
