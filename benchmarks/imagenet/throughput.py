"""Throughput of the ImageNet run: the adapter's DataLoader (views/s) and the model step (views/s).

Writes synthetic ImageNet-sized JPEGs into a temporary folder, then measures in one run:

1. views/s of the CPU pipeline through `maskaug.adapters.image` in DataLoader workers: SimCLR's 2
   plain views, MSCN's 4 views with the high-pass but no masks (``--no-mask``), and MSCN's 4
   views with the high-pass and masks;
2. views/s of one SimCLR training step (backbone, projector, NT-Xent on every view pair, LARS) on
   synthetic tensors, bf16 autocast and channels-last on CUDA.

The defaults are sized to finish in under 3 minutes on one H100 with 16 CPU cores (not measured
yet); the CPU smoke test uses ``--arch resnet18 --images 8 --source-size 64 48 --size 32 --batch 4 --workers 0``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, RandomSampler

from maskaug import MultiView, all_pairs
from maskaug.adapters import image
from maskaug.siamese import LARS, TrainConfig, build_network, lars_param_groups, multi_pair_loss, nt_xent_loss

from .synthetic import write_image_folder


def loader_rate(dataset: image.ImageFolderDataset, *, batch: int, batches: int, workers: int, views: int) -> float:
    """Views per second delivered by a DataLoader over ``dataset`` after one warm-up batch."""
    sampler = RandomSampler(dataset, replacement=True, num_samples=batch * (batches + 1),
                            generator=torch.Generator().manual_seed(0))
    loader = DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers,
                        persistent_workers=False, prefetch_factor=4 if workers else None)
    iterator = iter(loader)
    next(iterator)  # start the workers
    start = time.perf_counter()
    count = sum(1 for _ in iterator)
    return count * batch * views / (time.perf_counter() - start)


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_step(arch: str, *, batch: int, views: int, device: torch.device, compile: bool = False) -> Callable[[Tensor], None]:
    """One SimCLR training step on ``(views * batch, 3, S, S)`` input: backbone and projector (bf16
    autocast and channels-last on CUDA), NT-Xent in float32 over every pair of views, LARS."""
    torch.manual_seed(0)
    cuda = device.type == "cuda"
    config = TrainConfig(method="simclr", feature_dim=image.FEATURE_DIMS[arch], global_batch_size=batch)
    network = build_network(config, image.resnet_backbone(arch)).to(device)
    if cuda:
        network = network.to(memory_format=torch.channels_last)
    optimizer = LARS(lars_param_groups(network), lr=config.peak_lr, weight_decay=config.resolved_weight_decay)
    model = torch.compile(network) if compile else network
    pairs = all_pairs(views)

    def step(x: Tensor) -> None:
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            z = model(x)[1]
        zs = z.float().chunk(views)
        loss = multi_pair_loss(lambda i, j: nt_xent_loss(zs[i], zs[j], temperature=0.2), pairs)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def model_rate(arch: str, *, batch: int, views: int, size: int, steps: int, device: torch.device) -> float:
    """Views per second of `make_step` on synthetic ``(views * batch, 3, size, size)`` input."""
    step = make_step(arch, batch=batch, views=views, device=device)
    x = torch.randn(views * batch, 3, size, size, device=device)
    for _ in range(2):  # warm-up: cuDNN autotuning, allocator
        step(x)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(x)
    sync(device)
    return steps * views * batch / (time.perf_counter() - start)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure every row and return them with the settings."""
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = []
    with tempfile.TemporaryDirectory(prefix="maskaug-throughput-") as tmp:
        classes = 10
        write_image_folder(tmp, classes=classes, train_per_class=max(1, args.images // classes), val_per_class=0,
                           size=tuple(args.source_size), suffix=".jpg")
        samples = image.scan_image_folder(Path(tmp) / "train").samples
        pipelines = [
            ("SimCLR, 2 views (no high-pass, no masks)", MultiView([image.simclr_augment(args.size)] * 2)),
            ("MSCN, 4 views, high-pass, no masks", image.pretrain_views(args.size, mask=False, cell=args.cell)),
            ("MSCN, 4 views, high-pass + masks", image.pretrain_views(args.size, cell=args.cell)),
        ]
        for name, views in pipelines:
            rate = loader_rate(image.ImageFolderDataset(samples, views), batch=args.batch, batches=args.loader_batches,
                               workers=args.workers, views=len(views.views))
            rows.append({"what": f"DataLoader: {name}", "views_per_s": rate})
            print(f"{rows[-1]['what']}: {rate:.0f} views/s", flush=True)
    rate = model_rate(args.arch, batch=args.batch, views=4, size=args.size, steps=args.model_steps, device=device)
    precision = "bf16 autocast, channels-last" if device.type == "cuda" else "fp32"
    rows.append({"what": f"model step: {args.arch} SimCLR, 4 views x {args.batch}, {precision}", "views_per_s": rate})
    print(f"{rows[-1]['what']}: {rate:.0f} views/s", flush=True)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    result = {"device": device_name, "workers": args.workers, "settings": vars(args) | {"out": str(args.out)},
              "rows": rows}
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: ``python -m benchmarks.imagenet.throughput [--arch resnet50] [--workers 16] ...``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.imagenet.throughput", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(image.FEATURE_DIMS), default="resnet50")
    parser.add_argument("--images", type=int, default=1000, help="synthetic JPEGs to write")
    parser.add_argument("--source-size", type=int, nargs=2, default=(500, 375), metavar=("W", "H"))
    parser.add_argument("--size", type=int, default=224, help="view side")
    parser.add_argument("--cell", type=int, default=32, help="mask grid cell")
    parser.add_argument("--batch", type=int, default=64, help="images per batch (4 views each in the model step)")
    parser.add_argument("--workers", type=int, default=16, help="DataLoader workers")
    parser.add_argument("--loader-batches", type=int, default=20, help="timed DataLoader batches per pipeline")
    parser.add_argument("--model-steps", type=int, default=30, help="timed model steps")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
