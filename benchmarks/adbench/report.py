"""The README's results section and the plot, from results.json.

``write_readme(results, template, out)`` replaces what lies between the markers
``<!-- results: begin -->`` and ``<!-- results: end -->`` of ``template`` with
tables of ``results`` and writes ``out``.  Every number in those tables is a
number of results.json printed by :func:`fmt` or :func:`fmt_error`
(tests/test_adbench.py checks it).  ``plot(results, path)`` draws
derivative / objective against size per tool and form, one panel per problem,
and the fill loop's gradient time against n; it needs matplotlib, and says so
when it is missing.  Both again from a folder's results.json, with any Python
that has matplotlib::

    python benchmarks/adbench/report.py [FOLDER]   # default: benchmarks/adbench
"""

import json
import re
import sys
from pathlib import Path

BEGIN, END = "<!-- results: begin -->", "<!-- results: end -->"
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")


def fmt(x):
    """3 significant digits, no exponent below 10^6."""
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:#.3g}".rstrip(".")


def fmt_error(x):
    return "-" if x is None else f"{x:.0e}"


def numbers_of(results):
    """Every way a number of ``results`` may be printed, and the numbers inside
    its strings: what the README's tables may contain."""
    found = set()

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, bool):
            return
        elif isinstance(value, (int, float)):
            found.update({fmt(value), fmt_error(value), str(value)})
        elif isinstance(value, str):
            found.update(NUMBER.findall(value))

    walk(results)
    return found


def tables(results):
    """The results section: the per-problem tables, GMM memory, the fill loop."""
    meta = results["meta"]
    out = [
        f"One run of `python benchmarks/adbench/run.py{' --quick' if meta['quick'] else ''}`"
        f" at commit {meta['commit']}, {meta['date']}, {meta['seconds']} s;",
        f"{meta['python']}. One thread; minimum over interleaved rounds",
        f"({meta['budget_s']} s a case). Times in ms.",
        "",
    ]
    if results.get("targets"):
        out += [
            '### The issue\'s targets (its "Done when" lines)',
            "",
            "| what | limit | measured | met |",
            "|---|---:|---:|---|",
        ]
        for t in results["targets"]:
            met = "yes" if t["met"] else "**no**"
            out.append(f"| {t['what']} | {t['limit']} | {fmt(t['value'])} | {met} |")
        out.append("")
    problems = []
    for row in results["rows"]:
        if row["problem"] not in problems:
            problems.append(row["problem"])
    for problem in problems:
        out += [
            f"### {problem}",
            "",
            "| size | tool | form | objective | derivative | ÷ objective |"
            " ÷ NumPy objective | vs reference | vs differences |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results["rows"]:
            if r["problem"] == problem:
                out.append(
                    f"| {r['size']} | {r['tool']} | {r['form']} | {fmt(r['objective_ms'])}"
                    f" | {fmt(r['derivative_ms'])} | **{fmt(r['ratio'])}** |"
                    f" {fmt(r['ratio_numpy'])} | {fmt_error(r['vs_reference'])} |"
                    f" {fmt_error(r['vs_differences'])} |"
                )
        out.append("")
    if results["memory"]:
        out += [
            "### Peak memory (GMM, tracemalloc, MB)",
            "",
            "| size | tool | form | objective | inputs | derivative |"
            " ÷ (objective + inputs) |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        for m in results["memory"]:
            out.append(
                f"| {m['size']} | {m['tool']} | {m['form']} | {fmt(m['objective_MB'])}"
                f" | {fmt(m['inputs_MB'])} | {fmt(m['derivative_MB'])} | **{fmt(m['ratio'])}** |"
            )
        out.append("")
    if results["fill"]:
        out += [
            "### The fill loop (ad_compiler grad)",
            "",
            "| n | objective | gradient | ÷ objective | gradient ÷ gradient at the first n |",
            "|---:|---:|---:|---:|---:|",
        ]
        for f in results["fill"]:
            out.append(
                f"| {f['n']} | {fmt(f['objective_ms'])} | {fmt(f['gradient_ms'])}"
                f" | {fmt(f['ratio'])} | **{fmt(f['growth'])}** |"
            )
        out.append("")
    if meta["failures"]:
        out += ["**Failed checks (not timed):** " + "; ".join(meta["failures"]), ""]
    for note in meta["notes"]:
        out.append(f"* {note}")
    return "\n".join(out).rstrip() + "\n"


def write_readme(results, template, out):
    text = Path(template).read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    Path(out).write_text(head + BEGIN + "\n" + tables(results) + END + tail)
    print(f"wrote {out}")


def plot(results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "no matplotlib: no plot (pip install matplotlib, or run "
            f"`python benchmarks/adbench/report.py {Path(path).parent}` elsewhere)"
        )
        return
    problems = []
    for row in results["rows"]:
        if row["problem"] not in problems:
            problems.append(row["problem"])
    panels = len(problems) + (1 if results["fill"] else 0)
    cols = 3
    fig, axes = plt.subplots(
        (panels + cols - 1) // cols,
        cols,
        figsize=(15, 4.5 * ((panels + cols - 1) // cols)),
    )
    axes = list(axes.flat)
    for ax, problem in zip(axes, problems):
        lines = {}
        for r in results["rows"]:
            if r["problem"] == problem:
                key = f"{r['tool']} ({r['form']})"
                lines.setdefault(key, []).append((r["work"], r["ratio"], r["size"]))
        for key, points in lines.items():
            points.sort()
            style = "-" if "ad_compiler" in key else "--"  # ours solid, peers dashed
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                style,
                marker="o" if key.endswith("(loop)") else "s",  # loop: circles
                label=key,
            )
        _style(ax, problem, "size (work: see README)", "derivative / objective")
    if results["fill"]:
        ax = axes[len(problems)]
        n = [f["n"] for f in results["fill"]]
        g = [f["gradient_ms"] for f in results["fill"]]
        ax.plot(n, g, marker="o", label="ad_compiler grad")
        ax.plot(n, [g[0] * k / n[0] for k in n], ":", label="linear from the first n")
        _style(ax, "fill loop: gradient time", "n (rows of 50)", "ms")
    for ax in axes[panels:]:
        ax.set_visible(False)
    fig.suptitle(f"ADBench ported: {results['meta']['python']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def _style(ax, title, xlabel, ylabel):
    """Log-log axes with a title, labels, a legend and a grid."""
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # 20, 500 rather than 2x10^1 ...
        axis.set_major_formatter(FormatStrFormatter("%g"))
        axis.set_minor_formatter(NullFormatter())
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
    saved = json.loads((folder / "results.json").read_text())
    write_readme(saved, folder / "README.md", folder / "README.md")
    plot(saved, folder / "ratios.png")
