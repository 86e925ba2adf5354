"""The evaluation trace as a graph: Graphviz DOT text, and an image when Graphviz is there.

:func:`to_dot` draws a function's IR as the seeds draw an evaluation trace:
inputs (boxes), one node per operation (ellipses, labelled ``v3 = v1 + v2``),
the outputs (double boxes), and an edge from every value to each operation that
reads it.  Branches and loops are drawn as clusters holding their blocks;
``adjoints=True`` adds, dashed and reversed, the edges the reverse sweep
follows.  The text is deterministic (the same IR gives the same DOT).
:func:`render` turns DOT into SVG or PNG with Graphviz's ``dot`` program, and
says so plainly when it is not installed.
"""

from __future__ import annotations

import shutil
import subprocess

from ad_compiler.errors import UsageError
from ad_compiler.escape import printable
from ad_compiler.ir.nodes import Const, Eqn, Function, If, Var, While


def to_dot(fn: Function, adjoints: bool = False) -> str:
    """The DOT text of ``fn``'s trace."""
    lines = [
        f"digraph {_quoted(fn.name)} {{",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
    ]
    edges: list[tuple[str, str]] = []
    producer: dict[str, str] = {}  # value name -> node id
    counter = iter(range(1, 1_000_000))

    def node(label: str, shape: str, indent: str) -> str:
        nid = f"n{next(counter)}"
        lines.append(f"{indent}{nid} [label={_quoted(label)}, shape={shape}];")
        return nid

    def read(a, nid: str) -> None:
        if isinstance(a, Var) and a.name in producer:
            edges.append((producer[a.name], nid))

    def block(stmts, indent: str) -> None:
        for s in stmts:
            if isinstance(s, Eqn):
                nid = node(str(s), "ellipse", indent)
                for a in s.ins:
                    read(a, nid)
                for o in s.outs:
                    producer[o.name] = nid
            elif isinstance(s, If):
                cluster(
                    f"if {s.cond}",
                    indent,
                    s.cond,
                    [("then", s.then, s.then_vals), ("else", s.orelse, s.else_vals)],
                    s.outs,
                )
            else:
                head = (
                    "while"
                    if isinstance(s, While)
                    else f"for {', '.join(map(str, s.index))}"
                )
                init = node(
                    "carry "
                    + ", ".join(f"{c} = {i}" for c, i in zip(s.carried, s.inits)),
                    "box",
                    indent,
                )
                for a in s.inits + tuple(getattr(s, "args", ())):
                    read(a, init)
                for c in s.carried + tuple(s.index):
                    producer[c.name] = init
                parts = [("test", s.test, ())] if isinstance(s, While) else []
                parts.append(("body", s.body, s.nexts))
                cluster(head, indent, s.cond, parts, s.carried)

    def cluster(title, indent, cond, parts, outs) -> None:
        cid = f"cluster_{next(counter)}"
        lines.append(f"{indent}subgraph {cid} {{")
        lines.append(f"{indent}  label={_quoted(title)}; style=rounded;")
        ends = []
        for _, stmts, vals in parts:
            block(stmts, indent + "  ")
            ends += list(vals)
        lines.append(f"{indent}}}")
        if outs:
            merge = node(", ".join(o.name for o in outs), "box", indent)
            for v in ends:
                read(v, merge)
            if cond is not None:
                read(cond, merge)
            for o in outs:
                producer[o.name] = merge

    for p in fn.params:
        producer[p.name] = node(p.name, "box", "  ")
    block(fn.body, "  ")
    for r in fn.results:
        label = str(r) if isinstance(r, Const) else r.name
        out = node(f"return {label}", "doubleoctagon", "  ")
        read(r, out)
    edges = list(dict.fromkeys(edges))  # a value read twice by one node: one edge
    for a, b in edges:
        lines.append(f"  {a} -> {b};")
    if adjoints:
        for a, b in edges:
            lines.append(f'  {b} -> {a} [style=dashed, color="#c0392b"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    """``text`` as a DOT string: one printable line (:func:`printable`), its
    backslashes and quotes escaped, so no label can end early or add attributes."""
    text = printable(text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render(dot: str, fmt: str) -> bytes:
    """``dot`` drawn as ``fmt`` (svg or png) by Graphviz's ``dot`` program."""
    program = shutil.which("dot")
    if program is None:
        raise UsageError(
            "Graphviz's `dot` program is not installed, so no image can be drawn; "
            "write the DOT text instead (-o FILE.dot) or install Graphviz"
        )
    done = subprocess.run(
        [program, f"-T{fmt}"], input=dot.encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise UsageError(f"Graphviz failed: {done.stderr.decode(errors='replace')}")
    return done.stdout
