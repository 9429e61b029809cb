"""Pre-train SimCLR on digits without and with MSCN masks, evaluate both, print a table."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Subset

from maskaug import HighPass, MSCNMask, MultiView
from maskaug.siamese import TrainConfig, extract_features, knn_accuracy, linear_probe, pretrain

from .augment import DigitAugment
from .data import digits_splits
from .model import SmallResNet

CHANCE = 0.1


@dataclass(frozen=True)
class Preset:
    """Sizes of one benchmark run."""

    epochs: int
    batch_size: int
    width: int
    image_size: int = 32
    train_limit: int | None = None  # use only the first N training images (a quick smoke run)
    cell: int = 8
    ratio: float = 0.15
    highpass_sigma: float = 1.25
    base_lr: float = 4.8
    probe_epochs: int = 100
    knn_k: int = 20


PRESETS = {
    "default": Preset(epochs=30, batch_size=128, width=8),
    "tiny": Preset(epochs=10, batch_size=128, width=8, probe_epochs=50),
}


def _views(preset: Preset, masked: bool) -> MultiView:
    standard = [DigitAugment() for _ in range(2)]
    if not masked:
        return MultiView(standard)
    highpass = HighPass(sigma=preset.highpass_sigma)
    mask = dict(layout="b c h w", cell=preset.cell, ratio=preset.ratio, highpass_sigma=preset.highpass_sigma)
    return MultiView(
        [nn.Sequential(a, highpass) for a in standard]
        + [nn.Sequential(DigitAugment(), MSCNMask(**mask)) for _ in range(2)]
    )


def run_row(name: str, preset: Preset, *, masked: bool, out: Path, seed: int) -> dict[str, Any]:
    """Pre-train one model, then evaluate it with kNN and a linear probe on the test split.

    Runs on CUDA when available, else on the CPU. With masks, the backbone sees high-passed input
    in pre-training (every view) and in evaluation, as in the paper.
    """
    train, test = digits_splits(size=preset.image_size, seed=seed)
    if preset.train_limit is not None:
        train = Subset(train, range(preset.train_limit))
    eval_transform = HighPass(sigma=preset.highpass_sigma) if masked else None
    torch.manual_seed(seed)
    backbone = SmallResNet(width=preset.width)
    config = TrainConfig(
        method="simclr",
        feature_dim=backbone.feature_dim,
        global_batch_size=preset.batch_size,
        epochs=preset.epochs,
        warmup_epochs=min(2, preset.epochs),
        base_lr=preset.base_lr,
        proj_hidden_dim=4 * backbone.feature_dim,
        proj_out_dim=64,
        num_classes=10,
        seed=seed,
        out_dir=str(out / "runs" / ("simclr_mscn" if masked else "simclr")),
        resume=False,
        knn_k=preset.knn_k,
        knn_every_epochs=max(preset.epochs // 4, 1),
        log_every_steps=10,
    )
    start = time.perf_counter()
    result = pretrain(
        config, backbone, train, batch_views=_views(preset, masked), knn_data=(train, test), eval_transform=eval_transform
    )
    net = result.network.backbone
    device = next(net.parameters()).device
    train_f = extract_features(net, train, device=device, transform=eval_transform)
    test_f = extract_features(net, test, device=device, transform=eval_transform)
    knn = knn_accuracy(*train_f, *test_f, k=preset.knn_k)
    probe = linear_probe(*train_f, *test_f, epochs=preset.probe_epochs, batch_size=256, lr=0.1, seed=seed,
                         device=device)
    return {
        "method": name,
        "knn_top1": knn,
        "linear_top1": probe.test_top1,
        "views_per_s": result.views_per_second,
        "train_seconds": result.seconds,
        "seconds": time.perf_counter() - start,
    }


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The comparison as a markdown table."""
    lines = [
        "| method | kNN top-1 | linear top-1 | views/s | time |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {100 * r['knn_top1']:.1f}% | {100 * r['linear_top1']:.1f}% | "
            f"{r['views_per_s']:.0f} | {r['seconds']:.0f} s |"
        )
    return "\n".join(lines)


def run(preset: Preset, *, out: Path, seed: int = 0) -> list[dict[str, Any]]:
    """Both rows, written to ``out/results.json`` and ``out/results.md``; returns the rows."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [
        run_row("SimCLR (no masks)", preset, masked=False, out=out, seed=seed),
        run_row("SimCLR + MSCN", preset, masked=True, out=out, seed=seed),
    ]
    text = table(rows)
    (out / "results.json").write_text(
        json.dumps({"preset": dataclasses.asdict(preset), "seed": seed, "chance": CHANCE, "rows": rows}, indent=2)
    )
    (out / "results.md").write_text(
        f"SimCLR on scikit-learn digits ({preset.image_size}x{preset.image_size}), {preset.epochs} epochs, "
        f"seed {seed}; chance is {100 * CHANCE:.0f}%.\n\n{text}\n"
    )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.digits [--preset tiny] [--epochs N] [--out DIR] [--seed S]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.digits", description=__doc__)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--out", type=Path, default=Path("runs/digits"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    preset = PRESETS[args.preset]
    if args.epochs is not None:
        if args.epochs < 1:
            parser.error(f"--epochs must be >= 1, got {args.epochs}")
        preset = dataclasses.replace(preset, epochs=args.epochs)
    start = time.perf_counter()
    rows = run(preset, out=args.out, seed=args.seed)
    print()
    print(table(rows))
    print(f"\ntotal {time.perf_counter() - start:.0f} s; results in {args.out}/results.json and results.md")


if __name__ == "__main__":
    main()
