"""Tables and plots of the committed benchmark results, for the documentation.

Every table and plot of the results pages is drawn here from the JSON files that the benchmarks
write and the repository commits; nothing is copied by hand:

* ``benchmarks/masking/results/cpu.json``: masking cost on the CPU (``benchmarks.masking.cpu``);
* ``benchmarks/masking/results/peers-<device>.json``: maskaug against kornia, timm, torchvision and
  torchaudio (``benchmarks.masking.peers``);
* ``benchmarks/modalities/results/<modality>-<preset>.json``: the modality experiments;
* ``benchmarks/repro/results/<grid>/results.json``: the small-scale reproductions of the paper.

The site's hook (``docs/scripts/hooks.py``) calls `blocks` and `plots` at build time. From the
command line, ``python -m docs.scripts.results [--out DIR]`` prints the markdown and writes the
plots, to look at them without building the site.
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure

from benchmarks.modalities.common import markdown as modality_markdown
from benchmarks.modalities.common import summarize
from docs.scripts.bench_table import render as cpu_markdown

ROOT = Path(__file__).resolve().parents[2]
MASKING = ROOT / "benchmarks" / "masking" / "results"
MODALITIES = ROOT / "benchmarks" / "modalities" / "results"
REPRO = ROOT / "benchmarks" / "repro" / "results"
#: Where the plots go in the site, relative to the site root.
PLOT_DIR = "assets/results"
#: Section titles of the modalities, by the ``modality`` field of their results.
MODALITY_NAMES = {"image": "Images", "rgbd": "RGB-D", "video": "Video", "spectrogram": "Spectrograms"}
DPI = 90


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def peers_files() -> list[Path]:
    return sorted(MASKING.glob("peers-*.json"))


def modality_files() -> list[Path]:
    return sorted(MODALITIES.glob("*.json"))


def repro_files() -> list[Path]:
    return sorted(REPRO.glob("*/results.json"))


# ------------------------------------------------------------------------------------------ tables
def provenance(device: str, date: str, command: str) -> list[str]:
    return [f"Measured on **{device}** on {date}. Command:", "", "```bash", command, "```", ""]


def peers_markdown(result: dict) -> str:
    """Tables of a ``benchmarks.masking.peers`` result: one per input, float32 and bfloat16 side by side."""
    rows = result["rows"]
    dtypes = list(dict.fromkeys(r["dtype"] for r in rows))
    lines = provenance(result["device"], result["date"], result["command"])
    lines[0] = (
        f"Measured on **{result['device']}** (torch {result['torch']}, fused Triton path "
        f"{'used' if result['fused_path'] else 'not available'}) on {result['date']}, median of "
        f"{result['repeats']} timed calls after {result['warmup']} warm-up calls. Command:"
    )
    # on a GPU, each call timed alone (host time included) and calls issued back to back (device time)
    piped = any("pipelined_ms" in r for r in rows)
    for group in dict.fromkeys(r["group"] for r in rows):
        shape = next(r["shape"] for r in rows if r["group"] == group)
        header = " | ".join(f"{d} (ms) | {d} x floor" + (f" | {d} back to back (ms)" if piped else "") for d in dtypes)
        lines += [f"**{group}, batch {'x'.join(map(str, shape))}**", "", f"| operation | {header} |",
                  "|---|" + ("---:|---:|---:|" if piped else "---:|---:|") * len(dtypes)]
        for name in dict.fromkeys(r["name"] for r in rows if r["group"] == group):
            cells = []
            for dtype in dtypes:
                row = next((r for r in rows if r["group"] == group and r["name"] == name and r["dtype"] == dtype), {})
                if "median_ms" in row:
                    floor = f"{row['x_floor']:.1f}" if "x_floor" in row else "-"
                    cells.append(f"{row['median_ms']:.3f} | {floor}")
                else:
                    cells.append(f"- | {row.get('skipped', 'not run')}")
                if piped:
                    cells[-1] += f" | {row['pipelined_ms']:.3f}" if "pipelined_ms" in row else " | -"
            lines.append(f"| {name} | {' | '.join(cells)} |")
        lines.append("")
    if result["targets"]:
        piped_targets = {t["ratio"]: t for t in result.get("targets_pipelined", [])}
        extra = " | back to back | met back to back" if piped_targets else ""
        lines += [f"| target | measured | at most | met{extra} |", "|---|---:|---:|---|" + ("---:|---|" if extra else "")]
        def verdict(target: dict) -> tuple[str, str]:  # the "measured" and "met" cells
            if target.get("measured") is None:
                return "-", f"not measured ({', '.join(target.get('missing', []))} not timed)"
            return f"{target['measured']:.3f}", "yes" if target["met"] else "no"

        for t in result["targets"]:
            measured, met = verdict(t)
            line = f"| {t['ratio']} | {measured} | {t['at_most']:.3f} | {met} |"
            if extra and t["ratio"] in piped_targets:
                line += " {} | {} |".format(*verdict(piped_targets[t["ratio"]]))
            elif extra:
                line += " - | - |"
            lines.append(line)
        lines.append("")
    return "\n".join(lines)


def repro_markdown(report: dict) -> str:
    """The table of one reproduction grid: each experiment's mean top-1 over seeds, and the claims."""
    meta = report["meta"]
    lines = provenance(meta["device"], meta["date"], meta["command"])
    lines[0] = (
        f"Grid `{meta['grid']}`: {meta['train_size']} training and {meta['test_size']} test images, "
        f"{meta['epochs']} epochs, width {meta['width']}, seeds {', '.join(map(str, meta['seeds']))}"
        f"{'' if meta.get('complete', True) else ' (incomplete: some runs have not finished)'}. " + lines[0]
    )

    def pct(row: dict, metric: str) -> str:
        std = row[f"{metric}_std"]
        return f"{100 * row[metric]:.1f}%" + ("" if std is None else f" ± {100 * std:.1f}")

    lines += ["| experiment | seeds | kNN top-1 | linear top-1 |", "|---|---:|---:|---:|"]
    lines += [f"| {r['label']} | {len(r['seeds'])} | {pct(r, 'knn_top1')} | {pct(r, 'linear_top1')} |"
              for r in report["rows"]]
    lines += ["", "| the paper's claim | paper | difference here (linear top-1) | verdict |", "|---|---|---:|---|"]
    lines += [f"| {c['claim']} | {c['paper']} | "
              + ("-" if c["difference"] is None else f"{100 * c['difference']:+.1f} points")
              + f" | {c['verdict']} |" for c in report["claims"]]
    return "\n".join(lines) + "\n"


def _image(name: str, alt: str, page_depth: int) -> str:
    return f"![{alt}]({'../' * page_depth}{PLOT_DIR}/{name})"


def peers_block(page_depth: int = 0) -> str:
    files = peers_files()
    if not files:
        return ("*Pending*: no committed result yet. Run `python -m benchmarks.masking.peers` on the machine "
                "to measure and commit `benchmarks/masking/results/peers-<device>.json`.\n")
    out = []
    for path in files:
        result = _load(path)
        out += [f"### {result['device']}", "", f"From `{_rel(path)}`.", "",
                _image(f"{path.stem}.png", f"Time per call on {result['device']}", page_depth), "",
                peers_markdown(result)]
    return "\n".join(out)


def modalities_block(page_depth: int = 0) -> str:
    files = modality_files()
    if not files:
        return "*Pending*: no committed modality result yet.\n"
    out = []
    for path in files:
        result = _load(path)
        name = MODALITY_NAMES.get(result["modality"], result["modality"])
        out += [f"### {name}, preset `{result['preset']}`", "",
                f"From `{_rel(path)}`.", "",
                _image(f"{path.stem}.png", f"Top-1 of each method, {result['modality']} {result['preset']}", page_depth),
                "", modality_markdown(result)]
    return "\n".join(out)


def repro_block(page_depth: int = 0) -> str:
    files = repro_files()
    if not files:
        return "*Pending*: no committed reproduction result yet.\n"
    out = []
    for path in files:
        report = _load(path)
        out += [f"### Grid `{report['meta']['grid']}`", "", f"From `{_rel(path)}`.", "",
                _image(f"repro-{report['meta']['grid']}.png", f"Top-1 of each experiment, grid {report['meta']['grid']}",
                       page_depth), "", repro_markdown(report)]
    return "\n".join(out)


BLOCKS: dict[str, Callable[[int], str]] = {
    "<!-- results:cpu -->": lambda depth: cpu_markdown(_load(MASKING / "cpu.json")),
    "<!-- results:peers -->": peers_block,
    "<!-- results:modalities -->": modalities_block,
    "<!-- results:repro -->": repro_block,
}


def blocks(markdown: str, page_depth: int = 0) -> str:
    """``markdown`` with every line that is exactly a key of `BLOCKS` replaced by its block."""
    if not any(marker in markdown for marker in BLOCKS):
        return markdown
    return "\n".join(BLOCKS[line.strip()](page_depth) if line.strip() in BLOCKS else line
                     for line in markdown.splitlines())


# ------------------------------------------------------------------------------------------- plots
def _barh(labels: list[str], series: dict[str, list[float]], xlabel: str, title: str, *, log: bool = False) -> Figure:
    """Horizontal grouped bars, one group per label, first label on top."""
    fig = Figure(figsize=(8, 0.32 * len(labels) * max(1, len(series)) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    height = 0.8 / len(series)
    for k, (name, values) in enumerate(series.items()):
        y = [len(labels) - 1 - i + (len(series) - 1 - 2 * k) * height / 2 for i in range(len(labels))]
        bars = ax.barh(y, [v if v == v else 0 for v in values], height=height, label=name, color=f"C{k}")
        ax.bar_label(bars, labels=["" if v != v else f"{v:.3g}" for v in values], fontsize=6, padding=2)
    ax.set_yticks(range(len(labels))[::-1], labels, fontsize=7)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    if log:
        ax.set_xscale("log")
    ax.margins(x=0.15)
    if len(series) > 1:
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=len(series), frameon=False)
    return fig


def peers_figure(result: dict) -> Figure:
    rows = [r for r in result["rows"] if "median_ms" in r]
    labels = list(dict.fromkeys(f"{r['group']}: {r['name']}" for r in rows))
    dtypes = list(dict.fromkeys(r["dtype"] for r in rows))
    times = {(f"{r['group']}: {r['name']}", r["dtype"]): r["median_ms"] for r in rows}
    series = {d: [times.get((label, d), float("nan")) for label in labels] for d in dtypes}
    return _barh(labels, series, "median time per call (ms, log scale)", f"{result['device']}, {result['date']}", log=True)


def modality_figure(result: dict) -> Figure:
    summary = summarize(result["rows"])
    series = {"kNN top-1 (%)": [100 * s["knn"][0] for s in summary],
              "linear top-1 (%)": [100 * s["linear"][0] for s in summary]}
    title = f"{result['modality']}, preset {result['preset']}, {result['device']}, {result['date']}"
    return _barh([s["method"] for s in summary], series, "test top-1 (%)", title)


def repro_figure(report: dict) -> Figure:
    rows = report["rows"]
    series = {"kNN top-1 (%)": [100 * r["knn_top1"] for r in rows],
              "linear top-1 (%)": [100 * r["linear_top1"] for r in rows]}
    meta = report["meta"]
    return _barh([r["label"] for r in rows], series, "test top-1 (%), mean over seeds",
                 f"grid {meta['grid']}, {meta['device']}, {meta['date']}")


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def plots() -> dict[str, bytes]:
    """Every results plot as ``{file name: PNG bytes}``, drawn from the committed JSON files."""
    out = {f"{p.stem}.png": png(peers_figure(_load(p))) for p in peers_files()}
    out.update({f"{p.stem}.png": png(modality_figure(_load(p))) for p in modality_files()})
    for path in repro_files():
        report = _load(path)
        out[f"repro-{report['meta']['grid']}.png"] = png(repro_figure(report))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the plots into this folder")
    args = parser.parse_args(argv)
    for marker, block in BLOCKS.items():
        print(f"{marker}\n\n{block(0)}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, data in plots().items():
            (args.out / name).write_bytes(data)
            print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
