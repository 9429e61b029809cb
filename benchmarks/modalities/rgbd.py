"""Synthetic RGB-D shapes: SimCLR without masks against MSCN masks shared, separate or per channel.

``python -m benchmarks.modalities.rgbd --preset cpu`` renders the synthetic set of
`benchmarks.modalities.shapes` (five solids that colour and depth only tell apart together),
pre-trains a small ConvNet on 4-channel RGB-D images with each colour/depth coupling of
`maskaug.adapters.rgbd.RGBDMask`, and reports kNN and linear-probe accuracy on a test set rendered
with another seed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from benchmarks.digits.augment import DigitAugment
from maskaug import HighPass, MultiView
from maskaug.adapters import rgbd

from .common import Arm, Budget, parse, record, run_arm, write
from .models import ConvNet2d
from .shapes import CLASSES, render_shapes

#: The views' masking ratios: asymmetric branches, as MSCN's two standard views.
RATIOS = (0.10, 0.20)


@dataclass(frozen=True)
class Preset(Budget):
    """Sizes of one run: training budget, images, masks, and the arms to compare."""

    train_images: int = 2000
    test_images: int = 1000
    size: int = 32
    cell: int = 4
    highpass_sigma: float = 1.0
    arms: tuple[str, ...] = ("none", "shared", "separate", "channel")


PRESETS = {
    "smoke": Preset(epochs=1, batch_size=32, width=4, probe_epochs=20, knn_k=10, train_images=64, test_images=64,
                    size=16, arms=("none", "highpass", "shared", "separate", "channel")),
    "cpu": Preset(epochs=8, batch_size=128, width=8),
    "gpu": Preset(epochs=30, batch_size=256, width=32, train_images=10000, test_images=5000, size=48, cell=6,
                  highpass_sigma=1.5, arms=("none", "highpass", "shared", "separate", "channel")),
}

_NAMES = {
    "none": "SimCLR (no masks)",
    "highpass": "SimCLR + high-pass, no masks",
    "shared": "SimCLR + MSCN, colour and depth share a mask",
    "separate": "SimCLR + MSCN, colour and depth masked apart",
    "channel": "SimCLR + MSCN, channel-independent (p=0.8)",
}


def shapes(preset: Preset) -> tuple[TensorDataset, TensorDataset]:
    """Synthetic train (seed 0) and test (seed 1) sets of ``(rgbd (4, size, size), class)``.

    Colour is ImageNet-normalized; depth is standardized with the training set's valid depths,
    missing depth staying 0 (`maskaug.adapters.rgbd.to_rgbd`).
    """
    rendered = [render_shapes(n, size=preset.size, generator=torch.Generator().manual_seed(seed))
                for seed, n in enumerate((preset.train_images, preset.test_images))]
    valid = rendered[0][1][rendered[0][1] > 0]
    stats = (valid.mean().item(), valid.std().item())
    return tuple(TensorDataset(rgbd.to_rgbd(rgb, depth, depth_stats=stats), y) for rgb, depth, y in rendered)


def arm(key: str, preset: Preset) -> Arm:
    """The views and evaluation transform of the arm ``key`` (a key of ``_NAMES``)."""
    if key == "none":
        return Arm(_NAMES[key], MultiView([DigitAugment() for _ in RATIOS]))
    if key == "highpass":
        highpass = HighPass(preset.highpass_sigma)
        return Arm(_NAMES[key], MultiView([nn.Sequential(DigitAugment(), highpass) for _ in RATIOS]), highpass)
    masks = [rgbd.RGBDMask(coupling=key, cell=preset.cell, ratio=r, highpass_sigma=preset.highpass_sigma) for r in RATIOS]
    return Arm(_NAMES[key], MultiView([nn.Sequential(DigitAugment(), m) for m in masks]), HighPass(preset.highpass_sigma))


def run(preset_name: str, *, seeds: Sequence[int] = (0,), out: Path, runs: Path, epochs: int | None = None,
        progress: bool = True) -> dict:
    """Every arm of the preset for every seed; writes and returns the JSON record."""
    preset = PRESETS[preset_name]
    if epochs is not None:
        preset = dataclasses.replace(preset, epochs=epochs)
    train, test = shapes(preset)
    rows = []
    for seed in seeds:
        for key in preset.arms:
            torch.manual_seed(seed)
            backbone = ConvNet2d(in_channels=4, width=preset.width)
            rows.append(run_arm(arm(key, preset), backbone, train, test, budget=preset, num_classes=len(CLASSES),
                                seed=seed, out=runs, progress=progress))
    data = (
        f"synthetic RGB-D shapes ({', '.join(CLASSES)}; {preset.size}x{preset.size}, rendered procedurally), "
        f"{len(train)} training and {len(test)} test images (chance 20%); MSCN ratios {RATIOS}, cells of "
        f"{preset.cell} px, high-pass sigma {preset.highpass_sigma}"
    )
    result = record(modality="rgbd", preset_name=preset_name, preset=preset, seeds=seeds, data=data, rows=rows)
    write(result, out)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.modalities.rgbd [--preset smoke|cpu|gpu] [--seeds 0 1 2]``."""
    args = parse("python -m benchmarks.modalities.rgbd", __doc__, list(PRESETS), argv)
    start = time.perf_counter()
    result = run(args.preset, seeds=args.seeds, out=args.out, runs=args.runs, epochs=args.epochs)
    print(f"{len(result['rows'])} runs in {time.perf_counter() - start:.0f} s; results in {args.out}")


if __name__ == "__main__":
    main()
