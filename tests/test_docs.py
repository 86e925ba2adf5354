"""The documentation cannot go stale.

Every fenced block in README.md and docs/*.md carries a marker saying where
its text comes from (docs/regenerate.py explains them); the slow test runs
``python docs/regenerate.py --check``, which re-runs every command and
interactive session the docs show and fails with a diff when the committed
text differs.  The fast tests check the markers, the function listings, the
session runner and the rules for prose (no links out of the repository, no
internal tracker numbers).
"""

import ast
import functools
import importlib.util
import os
import re
import subprocess
import sys

import pytest
from test_architecture import parsed, statements

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "regenerate", os.path.join(ROOT, "docs", "regenerate.py")
)
regenerate = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("regenerate", regenerate)  # dataclasses look the module up
_spec.loader.exec_module(regenerate)

DOCUMENTS = regenerate.documents()


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def test_the_documents_are_found():
    assert "README.md" in DOCUMENTS and "docs/architecture.md" in DOCUMENTS
    assert len(DOCUMENTS) >= 10


@pytest.mark.parametrize("path", DOCUMENTS)
def test_every_block_says_where_its_text_comes_from(path):
    assert regenerate.unmarked(path) == []


def test_an_unmarked_block_is_reported():
    lines = "text\n\n```python\nx = 1\n```\n".split("\n")
    (block,) = regenerate.find_blocks(lines)
    assert block.kind is None and block.body == "x = 1"
    marked = "<!-- generated:\n$ adc a\n$ adc b -->\n```\nold\n```".split("\n")
    (block,) = regenerate.find_blocks(marked)
    assert block.kind == "generated" and block.arg == "$ adc a\n$ adc b"
    assert block.start == 3 and block.end == 5


def test_a_stale_block_is_rewritten_and_the_others_kept():
    text = (
        "Text.\n\n<!-- generated: def samples/seeds.py f -->\n```python\nstale\n```\n\n"
        "<!-- file: g.py -->\n```python\nkept = 1\n```\n"
    )
    new = regenerate.rewrite(text)
    assert new == text.replace(
        "stale", regenerate.function_source("samples/seeds.py", "f")
    )
    assert new.startswith("Text.\n") and "def f(x1, x2):" in new and "kept = 1" in new


def test_a_command_block_shows_the_command_and_its_output():
    """One cheap command (no Python): the scratch directory holds the files of
    ``file:`` blocks, and its path never shows."""
    text = (
        "<!-- file: a.txt -->\n```\nhello\n```\n"
        "<!-- generated: $ cat a.txt; pwd -->\n```\n```\n"
    )
    new = regenerate.rewrite(text)
    assert new.endswith(
        "<!-- generated: $ cat a.txt; pwd -->\n```\n$ cat a.txt; pwd\nhello\n.\n```\n"
    )


def test_a_block_that_needs_a_missing_module_is_kept_and_one_present_rewritten():
    """``needs MODULE``: docs/scaling.md's Dask table is regenerated where Dask
    is installed (CI), kept as it is where not."""
    text = (
        "<!-- generated:\nneeds no_such_module_adc\n$ echo new -->\n```\nold\n```\n"
        "<!-- generated:\nneeds json\n$ echo new -->\n```\nold\n```\n"
    )
    new = regenerate.rewrite(text)
    first, second = new.split("```\n<!--")
    assert "```\nold\n" in first and "$ echo new\nnew\n```" in second


@pytest.mark.parametrize("path", DOCUMENTS)
def test_function_listings_match_their_files(path):
    """The ``def FILE NAME`` listings, which need no command run (the slow
    test checks them too, with everything else)."""
    blocks = regenerate.find_blocks(_read(path).split("\n"))
    for b in blocks:
        sources = b.arg.split("\n") if b.kind == "generated" else []
        listed = {"def": regenerate.function_source, "row": regenerate.row_source}
        if sources and all(s.split()[0] in listed for s in sources):
            want = "\n".join(listed[s.split()[0]](*s.split()[1:]) for s in sources)
            assert b.body == want, f"{path}:{b.start + 1}"


def test_a_row_listing_is_the_registering_statement_and_its_comments():
    text = regenerate.row_source("ad_compiler/primitives/special.py", "erf")
    assert text.startswith("# d erf(x)")
    assert "register(" in text and '"erf",' in text and text.endswith(")")
    assert '"erfc"' not in text  # the next row is not part of it
    with pytest.raises(SystemExit, match="registers no primitive 'no_such'"):
        regenerate.row_source("ad_compiler/primitives/special.py", "no_such")


def test_a_session_shows_values_prints_and_errors():
    body = (
        ">>> x = 2\n>>> x * 3\nstale output\n>>> print('a\\nb')\n"
        ">>> def f(y):\n...     return y * y\n...\n>>> 1 / 0\n"
    )
    assert regenerate.run_session(body) == (
        ">>> x = 2\n>>> x * 3\n6\n>>> print('a\\nb')\na\nb\n"
        ">>> def f(y):\n...     return y * y\n...\n>>> 1 / 0\n"
        "Traceback (most recent call last):\n  ...\n"
        "ZeroDivisionError: division by zero"
    )


@pytest.mark.slow  # imports the compiler and compiles: about 1 s on its own
def test_a_function_defined_in_a_session_has_no_source_as_at_the_prompt():
    """So a session cannot show what a reader's own prompt would refuse."""
    shown = regenerate.run_session(
        ">>> from ad_compiler import grad\n>>> def f(x):\n"
        "...     return x * x * x\n...\n>>> grad(f)(2.0)\n"
    )
    assert "SourceUnavailableError" in shown.split(">>> grad(f)(2.0)\n")[1]


_LINK = re.compile(r"\]\(([^)]*)\)|<(https?://[^>]*)>|(https?://\S+)")


@pytest.mark.parametrize("path", DOCUMENTS)
def test_links_stay_inside_the_repository(path):
    """A link is a path in the repository that exists (anchors not checked
    here; ``mkdocs build --strict`` checks them for docs/)."""
    base = os.path.dirname(os.path.join(ROOT, path))
    for m in _LINK.finditer(_read(path)):
        target = m.group(1)
        assert target is not None and "://" not in target, f"{path}: {m.group(0)}"
        file = target.split("#")[0]
        if file:
            assert os.path.exists(os.path.join(base, file)), f"{path}: {target}"


_JARGON = re.compile(r"\b(issue|stop|session) #?\d+\b", re.I)


@pytest.mark.parametrize("path", DOCUMENTS)
def test_no_tracker_numbers(path):
    """Prose a newcomer can decode: no "issue 5" or "stop 11"."""
    assert _JARGON.findall(_read(path)) == []


@pytest.mark.slow
def test_every_listing_is_what_the_code_gives_today():
    """Runs every command and session the docs show (about a minute)."""
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "docs", "regenerate.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (
        "the docs differ from what the code gives; run `python docs/regenerate.py` "
        "and review the diff:\n" + proc.stdout + proc.stderr
    )


def test_the_site_shows_a_readme_link_outside_docs_as_a_path():
    """README.md is the site's home page, and its links are relative to the
    repository root: `docs/x.md` becomes the page `x.md`, and a file outside
    docs/ (`tests/README.md`, which has no page) its path in code, not a dead
    link that fails `mkdocs build --strict`."""
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location(
        "mkdocs_hooks", os.path.join(ROOT, "docs", "mkdocs_hooks.py")
    )
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)

    class Page:
        class file:
            src_uri = "index.md"

    text = "see [tests/README.md](tests/README.md) and [rules](docs/rules.md)"
    config = {"docs_dir": os.path.join(ROOT, "docs")}
    shown = hooks.on_page_markdown(text, Page, config, None)
    assert shown == "see `tests/README.md` and [rules](rules.md)"


# placeholders the prose uses for the user's files (`adc compile f.py -o out.py`)
_PLACEHOLDERS = {"f.py", "out.py"}
_MODULE_FILE = re.compile(r"(?<![\w.])([\w/]+\.py)\b")
_QUALIFIED = re.compile(r"(?<![\w.])([a-z_]+)\.([A-Za-z_]\w*)")


def _package_modules() -> dict[str, list[str]]:
    """Module basename -> the dotted names of the package's modules so named."""
    out: dict[str, list[str]] = {}
    for base, _, names in os.walk(os.path.join(ROOT, "ad_compiler")):
        for name in names:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(base, name), ROOT)[:-3]
                dotted = rel.replace(os.sep, ".").removesuffix(".__init__")
                out.setdefault(dotted.rsplit(".", 1)[-1], []).append(dotted)
    return out


@functools.lru_cache(maxsize=None)
def _names_in(dotted: str) -> set[str]:
    """The names a module of the package defines or imports, and its submodules."""
    path = os.path.join(ROOT, *dotted.split("."))
    path = os.path.join(path, "__init__.py") if os.path.isdir(path) else path + ".py"
    tree = parsed()[dotted][2]  # the trees test_architecture parsed (once a run)
    # the nodes with a name: statements (def, class), except clauses, the aliases
    # of an import and the patterns of a match case; walking statements alone
    # (test_architecture.statements) spares the expressions, nine nodes in ten
    nodes = []
    for n in statements(tree):
        nodes.append(n)
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            nodes += n.names
        elif isinstance(n, ast.match_case):
            nodes += ast.walk(n.pattern)
    names = {getattr(n, "name", None) or getattr(n, "asname", None) for n in nodes}
    for n in nodes:
        if isinstance(n, (ast.Assign, ast.AnnAssign)):
            for t in n.targets if isinstance(n, ast.Assign) else [n.target]:
                names.update(e.id for e in ast.walk(t) if isinstance(e, ast.Name))
        if isinstance(n, ast.alias):
            names.add((n.asname or n.name).split(".")[0])
    if os.path.basename(path) == "__init__.py":  # a package: its modules' names too
        folder = os.path.dirname(path)
        for entry in os.listdir(folder):
            sub = entry.removesuffix(".py")
            names.add(sub)
            if entry.endswith(".py") and sub != "__init__":
                names |= _names_in(f"{dotted}.{sub}")
    return names - {None}


@pytest.mark.parametrize("path", DOCUMENTS + ["tests/README.md"])
def test_the_modules_and_names_the_prose_cites_exist(path):
    """`lower_arrays.py`, `passes.float_literals`: a module or a name the prose
    cites (outside listings) is one the package or the repository has, so a
    moved or renamed one cannot leave the docs pointing at nothing."""
    text = _read(path)
    scratch = set(re.findall(r"<!-- file: (\S+) -->", text))
    files = set(_PLACEHOLDERS) | scratch
    for _, folders, names in os.walk(ROOT):
        folders[:] = [d for d in folders if not d.startswith(".")]  # .git, venvs
        files.update(n for n in names if n.endswith(".py"))
    modules = _package_modules()
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    wrong = []
    for code in re.findall(r"`([^`\n]+)`", prose):
        wrong += [
            f for f in _MODULE_FILE.findall(code) if os.path.basename(f) not in files
        ]
        for module, name in _QUALIFIED.findall(code):
            if (
                module in modules
                and name != "py"
                and not any(name in _names_in(m) for m in modules[module])
            ):
                wrong.append(f"{module}.{name}")
    assert wrong == []


def test_every_function_user_code_may_call_is_in_the_reference():
    """Every qualified name of every row, and every name the front end lowers
    itself (scope.SUGAR), is listed in docs/functions.md's generated table
    with its primitive, and the page holds what the generator prints now, so
    a row added to the registry is never supported silently."""
    from ad_compiler.frontend.scope import SUGAR
    from ad_compiler.primitives.table import PRIMITIVES
    from ad_compiler.tools.functions import render, written

    text = _read("docs/functions.md")
    assert render() in text  # (docs/regenerate.py --check: the same, in CI)
    listed = set()
    for line in text.splitlines():
        names, arrow, rest = line.partition("  →  ")
        if arrow:
            prim = rest.split(":")[0]
            listed |= {(name, prim) for name in names.split(", ")}
    missing = [
        (q, row.name)
        for row in PRIMITIVES.values()
        for q in row.names
        if (written(q), row.name) not in listed
    ]
    missing += [
        f"{module}.{name}"
        for module, names in SUGAR.items()
        for name in names
        if (written(f"{module}.{name}"), "(front end)") not in listed
    ]
    assert missing == []


def test_every_row_states_its_derivative_convention():
    """Primitive.convention, shown in the generated table, is filled for every
    row user code or a rule can reach (not the tape and call statements)."""
    from ad_compiler.primitives.table import PRIMITIVES

    empty = [
        name
        for name, row in PRIMITIVES.items()
        if not row.effect and name != "call" and not row.convention.strip()
    ]
    assert empty == []
