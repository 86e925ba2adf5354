"""`adc graph`: the evaluation trace as Graphviz DOT, and as an image where Graphviz is."""

import os
import re
import shutil
import subprocess
import sys

import control_flow
import pytest
import seeds

from ad_compiler import trace
from ad_compiler.tools.graph import to_dot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def nodes_and_edges(dot):
    nodes = dict(re.findall(r'^\s*(n\d+) \[label="(.*?)"', dot, re.M))
    edges = re.findall(r"^\s*(n\d+) -> (n\d+)", dot, re.M)
    return nodes, edges


def test_the_seeds_trace_is_the_seeds_graph():
    dot = to_dot(trace(seeds.f))
    nodes, edges = nodes_and_edges(dot)
    assert list(nodes.values()) == [
        "x1",
        "x2",
        "v1 = log(x1)",
        "v2 = x1 * x2",
        "v3 = v1 + v2",
        "v4 = sin(x2)",
        "v5 = v3 - v4",
        "return v5",
    ]
    label = {v: k for k, v in nodes.items()}
    named = {(nodes[a], nodes[b]) for a, b in edges}
    assert ("x1", "v2 = x1 * x2") in named and ("x2", "v4 = sin(x2)") in named
    assert ("v5 = v3 - v4", "return v5") in named and len(edges) == 9
    assert dot == to_dot(trace(seeds.f))  # deterministic
    assert dot.count("{") == dot.count("}") and label["return v5"]


def test_branches_and_loops_are_clusters_and_adjoint_edges_reverse():
    fn = trace(control_flow.first_crossing)
    dot = to_dot(fn)
    assert 'label="for i"' in dot and 'label="if v2"' in dot
    nodes, edges = nodes_and_edges(dot)
    assert all(a in nodes and b in nodes for a, b in edges)
    with_adjoints = to_dot(fn, adjoints=True)
    assert with_adjoints.count("style=dashed") == len(edges)


@pytest.mark.slow  # two subprocesses; the in-process to_dot tests above are fast
def test_adc_graph_writes_dot_and_an_image_or_says_why_not(tmp_path):
    base = [sys.executable, "-m", "ad_compiler.tools.cli", "graph", "samples/seeds.py"]
    base += ["--function", "f"]
    proc = subprocess.run(base, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.startswith('digraph "f" {')
    svg = tmp_path / "f.svg"
    proc = subprocess.run(
        base + ["-o", str(svg)], capture_output=True, text=True, cwd=ROOT
    )
    if shutil.which("dot"):
        assert proc.returncode == 0 and "<svg" in svg.read_text()
    else:
        assert proc.returncode == 2 and "Graphviz's `dot` program is not installed" in (
            proc.stderr
        )
        assert "Traceback" not in proc.stderr and not svg.exists()
