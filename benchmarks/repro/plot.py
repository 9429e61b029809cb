"""Plot committed reproduction results and put them on the docs page.

Run from the repository root::

    python -m benchmarks.repro.plot [--results benchmarks/repro/results/cpu/results.json] \
        [--assets docs/assets/repro] [--page docs/reproduction.md]

For each results file it draws ``ASSETS/<grid>.png`` (linear-probe and kNN top-1 per experiment,
mean over seeds with the seed spread as error bars) and replaces the page's text between
``<!-- repro:<grid>:start -->`` and ``<!-- repro:<grid>:end -->`` with the results table and the
figure. Drawn with matplotlib's object-oriented API (Agg, no global pyplot state).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from .run import markdown

RESULTS = Path(__file__).resolve().parent / "results"


def figure(report: dict[str, Any]) -> Figure:
    """Horizontal bars per experiment: linear top-1 (bars, seed spread) and kNN top-1 (dots)."""
    rows = report["rows"]
    fig = Figure(figsize=(8, 0.45 * len(rows) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    y = list(range(len(rows)))[::-1]
    groups = sorted({r["group"] for r in rows}, key=[r["group"] for r in rows].index)
    colours = {g: f"C{i}" for i, g in enumerate(groups)}

    def spread(r: dict[str, Any], metric: str) -> float:
        std = r[f"{metric}_std"]
        return 0.0 if std is None else 100 * std

    ax.barh(y, [100 * r["linear_top1"] for r in rows], xerr=[spread(r, "linear_top1") for r in rows],
            color=[colours[r["group"]] for r in rows], alpha=0.8, capsize=3, label="linear probe")
    ax.errorbar([100 * r["knn_top1"] for r in rows], y, xerr=[spread(r, "knn_top1") for r in rows],
                fmt="o", color="black", capsize=3, label="kNN")
    ax.set_yticks(y, [r["label"] for r in rows])
    ax.set_xlabel("test top-1 (%), mean over seeds ± std")
    low = max(0.0, 100 * min(min(r["linear_top1"], r["knn_top1"]) for r in rows) - 10)
    if 100 * report["chance"] >= low:
        ax.axvline(100 * report["chance"], color="grey", linestyle=":", label="chance")
    ax.set_xlim(low, 100)
    meta = report["meta"]
    devices = list(dict.fromkeys(r.get("device", meta["device"]) for r in report.get("runs", ()))) or [meta["device"]]
    ax.set_title(f"Fashion-MNIST, grid '{meta['grid']}' ({' + '.join(devices)})\n{meta['train_size']} training images, "
                 f"{meta['epochs']} epochs, width {meta['width']}, {len(meta['seeds'])} seeds", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def section(report: dict[str, Any], image: str) -> str:
    """The page's text for one grid: its table (headings one level down) and the figure."""
    text = markdown(report["meta"], report["rows"], report["claims"], report.get("runs", ())).replace("# ", "### ", 1)
    status = "" if report["meta"].get("complete", True) else "\n*Incomplete: some experiments or seeds of the grid have not run.*\n"
    return f"{text}{status}\n![Results of grid {report['meta']['grid']}]({image})\n"


def update_page(page: Path, grid: str, text: str) -> None:
    """Replace the text between the grid's markers on ``page``; the markers must be there."""
    start, end = f"<!-- repro:{grid}:start -->", f"<!-- repro:{grid}:end -->"
    content = page.read_text()
    if start not in content or end not in content:
        raise ValueError(f"{page} has no '{start}' ... '{end}' markers for grid {grid!r}")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    page.write_text(f"{head}{start}\n{text}{end}{tail}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.repro.plot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, nargs="+", default=[RESULTS / "cpu" / "results.json"])
    parser.add_argument("--assets", type=Path, default=Path("docs/assets/repro"))
    parser.add_argument("--page", type=Path, default=Path("docs/reproduction.md"))
    args = parser.parse_args(argv)
    args.assets.mkdir(parents=True, exist_ok=True)
    for path in args.results:
        if not path.is_file():
            raise SystemExit(f"error: no results at {path}; run python -m benchmarks.repro --grid NAME --out DIR first")
        report = json.loads(path.read_text())
        grid = report["meta"]["grid"]
        image = args.assets / f"{grid}.png"
        figure(report).savefig(image, dpi=110)
        update_page(args.page, grid, section(report, os.path.relpath(image, args.page.parent)))
        print(f"{path} -> {image}, section '{grid}' of {args.page}")


if __name__ == "__main__":
    main()
