"""Moving Fashion-MNIST clips: SimCLR with MSCN video masks against VideoMAE-style tube masking.

``python -m benchmarks.modalities.video --preset cpu`` renders clips of real Fashion-MNIST garments
moving and bouncing on a blank canvas (`maskaug.adapters.video.moving_clips`), pre-trains a small
(2+1)-D ConvNet with each masking policy, and reports kNN and linear-probe accuracy of the garment
class on clips of the test images.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from maskaug import HighPass, MultiView
from maskaug.adapters import video

from .augment import ClipAugment
from .common import SHARED_DATA, Arm, Budget, parse, record, run_arm, write
from .models import ConvNet2Plus1d

#: The Fashion-MNIST folder: ``--data``, else ``$MASKAUG_FASHION_MNIST``, else the copy in
#: ``shared/data`` beside the repository.
DATA = Path(os.environ.get("MASKAUG_FASHION_MNIST", SHARED_DATA / "fashion-mnist"))
CLASSES = 10
#: The views' masking ratios: asymmetric branches, as MSCN's two standard views.
RATIOS = (0.10, 0.20)


@dataclass(frozen=True)
class Preset(Budget):
    """Sizes of one run: training budget, clips, masks, and the arms to compare."""

    train_clips: int = 2000
    test_clips: int = 1000
    frames: int = 8
    canvas: int = 32
    object_size: int = 20
    cell: int = 4
    highpass_sigma: float = 1.0
    videomae_ratio: float = 0.75
    arms: tuple[str, ...] = ("videomae", "frame", "tube", "spacetime", "tube-highpass-thw")


PRESETS = {
    "smoke": Preset(epochs=1, batch_size=32, width=4, probe_epochs=20, knn_k=10, train_clips=64, test_clips=64, frames=4,
                    canvas=16, object_size=10),
    "cpu": Preset(epochs=5, batch_size=128, width=8, train_clips=1500),
    "gpu": Preset(epochs=20, batch_size=256, width=32, train_clips=5000, test_clips=2000, canvas=48, object_size=28,
                  cell=6, highpass_sigma=1.5),
}

_NAMES = {
    "videomae": "SimCLR + VideoMAE tubes",
    "frame": "SimCLR + MSCN per frame",
    "tube": "SimCLR + MSCN tubes",
    "spacetime": "SimCLR + MSCN space-time cells",
    "tube-highpass-thw": "SimCLR + MSCN tubes, high-pass t h w",
}


def clips(preset: Preset, root: Path = DATA) -> tuple[TensorDataset, TensorDataset]:
    """Train and test clips ``(1, T, canvas, canvas)``, standardized, labelled by garment class.

    Clips of the first ``train_clips`` training images (seed 0) and ``test_clips`` test images
    (seed 1): the test garments are never seen in pre-training.
    """
    splits = []
    for seed, (images, labels, n) in enumerate(
        (("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", preset.train_clips),
         ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", preset.test_clips))
    ):
        x = video.load_idx(root / images)[:n]
        y = video.load_idx(root / labels)[:n].long()
        rendered = video.moving_clips(x, frames=preset.frames, size=preset.canvas, object_size=preset.object_size,
                                      generator=torch.Generator().manual_seed(seed))
        splits.append((rendered.float() / 255.0, y))
    (train_x, train_y), (test_x, test_y) = splits
    mean, std = train_x.mean(), train_x.std()
    return TensorDataset((train_x - mean) / std, train_y), TensorDataset((test_x - mean) / std, test_y)


def arm(key: str, preset: Preset) -> Arm:
    """The views and evaluation transform of the arm ``key`` (a key of ``_NAMES``)."""
    if key == "videomae":
        masks = [video.videomae_mask(ratio=preset.videomae_ratio, patch=preset.cell) for _ in RATIOS]
        return Arm(_NAMES[key], MultiView([nn.Sequential(ClipAugment(), m) for m in masks]))
    mode, highpass = (key, "space") if key != "tube-highpass-thw" else ("tube", "spacetime")
    masks = [
        video.mscn_mask(mode, cell=preset.cell, ratio=r, highpass=highpass, highpass_sigma=preset.highpass_sigma)
        for r in RATIOS
    ]
    dims = (-2, -1) if highpass == "space" else (-3, -2, -1)
    return Arm(_NAMES[key], MultiView([nn.Sequential(ClipAugment(), m) for m in masks]),
               HighPass(preset.highpass_sigma, dims=dims))


def run(preset_name: str, *, seeds: Sequence[int] = (0,), out: Path, runs: Path, epochs: int | None = None,
        progress: bool = True, data: Path = DATA) -> dict:
    """Every arm of the preset for every seed, on the Fashion-MNIST folder ``data``; writes and
    returns the JSON record."""
    preset = PRESETS[preset_name]
    if epochs is not None:
        preset = dataclasses.replace(preset, epochs=epochs)
    train, test = clips(preset, data)
    rows = []
    for seed in seeds:
        for key in preset.arms:
            torch.manual_seed(seed)
            backbone = ConvNet2Plus1d(in_channels=1, width=preset.width)
            rows.append(run_arm(arm(key, preset), backbone, train, test, budget=preset, num_classes=CLASSES,
                                seed=seed, out=runs, progress=progress))
    description = (
        f"moving Fashion-MNIST clips ({preset.frames} frames, {preset.canvas}x{preset.canvas} canvas, garments resized to "
        f"{preset.object_size} px, bouncing at 1-3 px/frame), {len(train)} training clips, {len(test)} test clips of "
        f"test-set garments, {CLASSES} classes (chance 10%); VideoMAE ratio {preset.videomae_ratio:.0%}, "
        f"MSCN ratios {RATIOS}, cells of {preset.cell} px"
    )
    result = record(modality="video", preset_name=preset_name, preset=preset, seeds=seeds, data=description, rows=rows)
    write(result, out)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.modalities.video [--preset smoke|cpu|gpu] [--seeds 0 1 2] [--data DIR]``."""
    args = parse("python -m benchmarks.modalities.video", __doc__, list(PRESETS), argv, data=DATA,
                 data_kind="folder")
    start = time.perf_counter()
    result = run(args.preset, seeds=args.seeds, out=args.out, runs=args.runs, epochs=args.epochs, data=args.data)
    print(f"{len(result['rows'])} runs in {time.perf_counter() - start:.0f} s; results in {args.out}")


if __name__ == "__main__":
    main()
