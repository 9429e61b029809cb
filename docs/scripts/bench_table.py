"""Render the committed CPU benchmark JSON as markdown, for the documentation.

The site renders the committed result at build time (the ``<!-- results:cpu -->`` marker, see
``docs/scripts/results.py``), so it always shows the committed JSON, never a pasted copy. From the
command line, ``python -m docs.scripts.bench_table [JSON]`` prints the markdown of any result file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JSON = ROOT / "benchmarks" / "masking" / "results" / "cpu.json"


def render(result: dict) -> str:
    """Markdown tables for a result written by ``benchmarks.masking.cpu``."""
    timings, ratios, pipe = result["timings_ms"], result["ratios"], result["pipeline"]
    load = result["load_average_1min"]
    lines = [
        f"Measured on **{result['device']}** with {result['threads']} threads, torch {result['torch']}, "
        f"torchvision {result['torchvision']}, on {result['date']} "
        f"(1-minute load average {load['before']:.2f} before, {load['after']:.2f} after). "
        f"Median of {result['repeats']} timed calls after {result['warmup']} warm-up calls. Command:",
        "",
        "```bash",
        result["command"],
        "```",
        "",
        f"| operation | one sample 3x224x224 (ms) | batch {result['batch']}x3x224x224 (ms) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {ms:.3f} | {timings['batch'][name]:.3f} |" for name, ms in timings["sample"].items()]
    lines += ["", "| ratio | one sample | batch |", "|---|---:|---:|"]
    lines += [f"| {name} | {ratios['sample'][name]:.2f} | {ratios['batch'][name]:.2f} |" for name in ratios["sample"]]
    loader = pipe["dataloader"]
    workers = f"{loader['workers']} worker process{'es' if loader['workers'] != 1 else ''}"
    lost = 100 * (1 - pipe["simclr_mscn_views_per_s"] / pipe["simclr_views_per_s"])
    lines += [
        "",
        f"| SimCLR CPU pipeline, input {pipe['input']}, views/s | DataLoader, {workers} | "
        f"in one process, {result['threads']} threads |",
        "|---|---:|---:|",
        f"| torchvision v2 SimCLR augmentation | {loader['simclr_views_per_s']:.1f} | {pipe['simclr_views_per_s']:.1f} |",
        f"| same + `MSCNMask(layout=\"c h w\")` | {loader['simclr_mscn_views_per_s']:.1f} | "
        f"{pipe['simclr_mscn_views_per_s']:.1f} |",
        f"| views/s lost to masking | {loader['views_lost_percent']:.1f}% | {lost:.1f}% |",
        "",
        f"Views/s in one process: from the median of {result['repeats']} repeats of {pipe['views_per_repeat']} views; "
        f"in the DataLoader: the median of {loader.get('epochs', 'its')} epochs of {loader['views_per_epoch']} views.",
    ]
    pairs = loader.get("views_lost_percent_of_pairs")  # (runs before it was recorded lack it)
    if pairs:
        lines[-1] += (
            f" The epochs of the two pipelines alternate; in each pair of neighbouring epochs the mask cost "
            f"{pairs['min']:.1f} to {pairs['max']:.1f}% of the views/s (quartiles {pairs['q1']:.1f}, "
            f"{pairs['median']:.1f} and {pairs['q3']:.1f}%)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="?", type=Path, default=DEFAULT_JSON, help="benchmark result file")
    args = parser.parse_args(argv)
    print(render(json.loads(args.json.read_text())))


if __name__ == "__main__":
    main()
