"""The device path's SimCLR augmentations against kornia's, on the same batch.

Both make ``--views`` views of 224 px (RandomResizedCrop, flip, colour jitter p=0.8, grayscale
p=0.2, Gaussian blur 23 taps p=0.5, normalization) from 500 x 375 images (``--source-size``), on
the default device. kornia needs one image size per batch and draws from torch's global generator
(one jitter order per batch); ours takes canvases of mixed sizes, a ``torch.Generator`` and a
per-view order. Prints milliseconds per batch and views/s; kornia is optional (``pip install
kornia``).

``python -m benchmarks.input_pipeline.kornia_compare [--views 256] [--repeats 10] [--out compare.json]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from maskaug.adapters import gpu_augment

IMAGENET_MEAN = torch.tensor(gpu_augment.IMAGENET_MEAN)
IMAGENET_STD = torch.tensor(gpu_augment.IMAGENET_STD)


def _time(fn: Callable[[], Any], repeats: int, device: torch.device) -> float:
    """Median seconds of ``fn`` after two warm-up calls."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def kornia_pipeline(size: int) -> nn.Module:
    """kornia's equivalent of SimCLR's augmentations (raises ImportError without kornia)."""
    import kornia.augmentation as K

    blur = max(3, size // 10 // 2 * 2 + 1)
    return nn.Sequential(
        K.RandomResizedCrop((size, size), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
        K.RandomHorizontalFlip(),
        K.ColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8),
        K.RandomGrayscale(p=0.2),
        K.RandomGaussianBlur((blur, blur), (0.1, 2.0), p=0.5),
        K.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Time both pipelines and print a table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.input_pipeline.kornia_compare")
    parser.add_argument("--views", type=int, default=256, help="views per batch")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--source-size", type=int, nargs=2, default=(500, 375), metavar=("W", "H"))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    g = torch.Generator(device=device).manual_seed(0)
    width, height = args.source_size
    images = torch.randint(0, 256, (args.views, 3, height, width), dtype=torch.uint8, device=device, generator=g)
    floats = images.float() / 255
    rows = []

    def row(name: str, fn: Callable[[], Tensor]) -> None:
        seconds = _time(fn, args.repeats, device)
        rows.append({"what": name, "ms": seconds * 1e3, "views_per_s": args.views / seconds})
        print(f"{name:55s} {seconds * 1e3:9.1f} ms {args.views / seconds:10,.0f} views/s", flush=True)

    ours = gpu_augment.SimCLRBatchAugment(args.size, views=1, generator=g).to(device)
    row("maskaug SimCLRBatchAugment (eager)", lambda: ours(images))
    if device.type == "cuda":
        compiled = gpu_augment.SimCLRBatchAugment(args.size, views=1, compile=True, generator=g).to(device)
        row("maskaug SimCLRBatchAugment (compiled pixel ops)", lambda: compiled(images))
    try:
        theirs = kornia_pipeline(args.size).to(device)
    except ImportError:
        print("kornia is not installed: its row is skipped", flush=True)
    else:
        row("kornia.augmentation, same operations", lambda: theirs(floats))
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    result = {"device": device_name, "threads": torch.get_num_threads(), "settings": vars(args) | {"out": str(args.out)},
              "rows": rows}
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
