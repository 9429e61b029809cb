"""What the three modality recipes share: one arm's pre-train + evaluation, the run record, tables."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from maskaug.siamese import TrainConfig, extract_features, knn_accuracy, linear_probe, pretrain

RESULTS = Path(__file__).resolve().parent / "results"
#: The data folder beside the repository, where the recipes look for their data by default.
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass(frozen=True)
class Budget:
    """The training and evaluation sizes every recipe preset has."""

    epochs: int
    batch_size: int
    width: int
    base_lr: float = 4.8
    probe_epochs: int = 100
    knn_k: int = 20


@dataclass
class Arm:
    """One row of a comparison: a name, the views of a batch, and the evaluation transform.

    ``eval_transform`` (a high-pass, for MSCN arms) runs before the backbone in evaluation, as
    in pre-training.
    """

    name: str
    views: nn.Module
    eval_transform: Callable[[Tensor], Tensor] | None = None


def run_arm(
    arm: Arm,
    backbone: nn.Module,
    train: Dataset,
    test: Dataset,
    *,
    budget: Budget,
    num_classes: int,
    seed: int,
    out: Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Pre-train ``backbone`` with SimCLR on ``arm.views``, then kNN and a linear probe on ``test``.

    Runs on CUDA when available, else on the CPU. Build ``backbone`` after seeding torch.
    """
    config = TrainConfig(
        method="simclr",
        feature_dim=backbone.feature_dim,
        global_batch_size=budget.batch_size,
        epochs=budget.epochs,
        warmup_epochs=min(2, budget.epochs),
        base_lr=budget.base_lr,
        proj_hidden_dim=4 * backbone.feature_dim,
        proj_out_dim=64,
        num_classes=num_classes,
        seed=seed,
        out_dir=str(out / "runs" / _slug(arm.name)),
        resume=False,
        knn_k=budget.knn_k,
        knn_every_epochs=0,
        log_every_steps=10,
        progress=progress,
    )
    start = time.perf_counter()
    result = pretrain(config, backbone, train, batch_views=arm.views, eval_transform=arm.eval_transform)
    net = result.network.backbone
    device = next(net.parameters()).device
    train_f = extract_features(net, train, device=device, transform=arm.eval_transform)
    test_f = extract_features(net, test, device=device, transform=arm.eval_transform)
    knn = knn_accuracy(*train_f, *test_f, k=budget.knn_k)
    probe = linear_probe(*train_f, *test_f, epochs=budget.probe_epochs, batch_size=256, lr=0.1, seed=seed,
                         device=device)
    row = {
        "method": arm.name,
        "seed": seed,
        "knn_top1": knn,
        "linear_top1": probe.test_top1,
        "final_loss": result.final_loss,
        "views_per_s": result.views_per_second,
        "train_seconds": result.seconds,
        "seconds": time.perf_counter() - start,
    }
    if progress:
        print(f"{arm.name} (seed {seed}): kNN {100 * knn:.1f}%, linear {100 * probe.test_top1:.1f}%", flush=True)
    return row


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")


def device_name() -> str:
    """The GPU's name when CUDA is used, else the CPU model (from ``/proc/cpuinfo`` on Linux)."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"CPU: {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return f"CPU: {platform.processor() or platform.machine()}"


def source_version() -> str | None:
    """``git describe --always --dirty`` of the checkout, or ``None`` outside a git checkout."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def record(*, modality: str, preset_name: str, preset: Any, seeds: Sequence[int], data: str, rows: list[dict]) -> dict:
    """The JSON record of a run: what ran, where, when, with which command, and the rows."""
    return {
        "modality": modality,
        "preset": preset_name,
        "settings": dataclasses.asdict(preset),
        "seeds": list(seeds),
        "data": data,
        "device": device_name(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "source": source_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m " + shlex.join([f"benchmarks.modalities.{modality}", *sys.argv[1:]]),
        "rows": rows,
    }


def summarize(rows: list[dict]) -> list[dict]:
    """Mean (and spread over seeds) of each method's accuracies, in first-seen order."""
    by_method: dict[str, list[dict]] = {}
    for r in rows:
        by_method.setdefault(r["method"], []).append(r)
    out = []
    for method, rs in by_method.items():
        knn = torch.tensor([r["knn_top1"] for r in rs])
        lin = torch.tensor([r["linear_top1"] for r in rs])
        out.append(
            {
                "method": method,
                "seeds": len(rs),
                "knn": (knn.mean().item(), (knn.max() - knn.min()).item()),
                "linear": (lin.mean().item(), (lin.max() - lin.min()).item()),
                "views_per_s": sum(r["views_per_s"] for r in rs) / len(rs),
            }
        )
    return out


def markdown(result: dict) -> str:
    """The run as markdown: one line of provenance, the command, and the table."""
    settings = result["settings"]
    head = (
        f"Preset `{result['preset']}`: {settings['epochs']} epochs, batch {settings['batch_size']}, "
        f"seeds {', '.join(map(str, result['seeds']))}; {result['data']}. "
        f"Measured on **{result['device']}** ({result['threads']} threads, torch {result['torch']}) on "
        f"{result['date']}" + (f", source `{result['source']}`." if result.get("source") else ".")
    )
    lines = [head, "", "```bash", result["command"], "```", ""]
    lines += ["| method | kNN top-1 | linear top-1 | views/s |", "|---|---:|---:|---:|"]
    for s in summarize(result["rows"]):
        spread = s["seeds"] > 1
        knn = f"{100 * s['knn'][0]:.1f}%" + (f" (range {100 * s['knn'][1]:.1f})" if spread else "")
        lin = f"{100 * s['linear'][0]:.1f}%" + (f" (range {100 * s['linear'][1]:.1f})" if spread else "")
        lines.append(f"| {s['method']} | {knn} | {lin} | {s['views_per_s']:.0f} |")
    return "\n".join(lines) + "\n"


def write(result: dict, out: Path) -> Path:
    """Write ``<modality>-<preset>.json`` and ``.md`` into ``out``; returns the JSON path."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{result['modality']}-{result['preset']}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    return stem.with_suffix(".json")


def parse(
    prog: str, description: str | None, presets: Sequence[str], argv: Sequence[str] | None, *, data: Path | None = None,
    data_kind: str = "file",
) -> argparse.Namespace:
    """The command line every recipe takes: ``--preset``, ``--seeds``, ``--out``, ``--epochs``; and
    ``--data`` (default ``data``) for a recipe that reads a dataset, which must be a ``data_kind``
    (``"file"`` or ``"folder"``)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    if data is not None:
        parser.add_argument("--data", type=Path, default=data, help=f"the dataset (default: {data})")
    parser.add_argument("--preset", choices=list(presets), default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON and markdown go")
    parser.add_argument("--runs", type=Path, default=Path("runs/modalities"), help="checkpoints and logs")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    if data is not None and not (args.data.is_file() if data_kind == "file" else args.data.is_dir()):
        parser.error(f"--data {args.data} " + (f"is not a {data_kind}" if args.data.exists() else "does not exist"))
    return args
