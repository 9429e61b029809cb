"""Is the ImageNet run input-bound? Model-only and end-to-end views/s, CPU path against device path.

From one run, for SimCLR with MSCN's 4 views (ResNet-50, bf16 autocast, channels-last, compiled):

1. ``model``: training steps on a fixed synthetic batch (the rate the GPU allows);
2. ``cpu_path``: end to end, views made per image in DataLoader workers
   (`maskaug.adapters.image.pretrain_views`), then the same step;
3. ``gpu_path``: end to end, workers only decode into canvases
   (`maskaug.adapters.gpu_augment.ToCanvas`) and the views are made on the device
   (`maskaug.adapters.gpu_augment.gpu_pretrain_views`), then the same step.

End-to-end rates skip ``workers * 2 + 2`` warm-up steps (the DataLoader's prefetched batches),
so the timed steps run at whichever is slower, input or model. Also reported: the device path's
augmentation alone (views/s, synchronized). The targets of the device path: at least 90% of the
model-only rate and at least 1.4 times the CPU path.

Images are synthetic ImageNet-sized JPEGs written to a temporary folder (``--images``,
``--source-size``), or any ImageFolder given with ``--data`` (its ``train/`` split if it has
one). The defaults are sized for about 4 minutes on one H100/H200 with 16 CPU cores, compile
times included. A CPU smoke run: ``--arch resnet18 --images 8 --source-size 64 48 --size 32
--cell 8 --batch 4 --workers 0 --steps 2 --no-compile``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, RandomSampler

from benchmarks.imagenet.synthetic import write_image_folder
from benchmarks.imagenet.throughput import make_step, sync
from maskaug.adapters import gpu_augment, image
from maskaug.views import MSCN_RATIOS

VIEWS = len(MSCN_RATIOS)


def _timed(batches: Iterator[Any], work: Callable[[Any], None], *, warmup: int, steps: int,
           device: torch.device) -> float:
    """Seconds of ``steps`` calls of ``work`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        work(next(batches))
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        work(next(batches))
    sync(device)
    return time.perf_counter() - start


def _loader(samples: list[tuple[str, int]], transform: Any, args: argparse.Namespace, device: torch.device,
            count: int) -> Iterator[Any]:
    dataset = image.ImageFolderDataset(samples, transform)
    sampler = RandomSampler(dataset, replacement=True, num_samples=args.batch * count,
                            generator=torch.Generator().manual_seed(0))
    loader = DataLoader(dataset, batch_size=args.batch, sampler=sampler, num_workers=args.workers,
                        pin_memory=device.type == "cuda", drop_last=True,
                        prefetch_factor=2 if args.workers else None)
    return (inputs for inputs, _ in loader)


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Measure the three rates (and the device path's augmentation alone) and return the report."""
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    views_per_step = VIEWS * args.batch
    warmup = 2 * args.workers + 2
    total = warmup + args.steps
    rows: dict[str, dict[str, Any]] = {}

    def record(key: str, what: str, seconds: float, steps: int) -> None:
        rate = steps * views_per_step / seconds
        rows[key] = {"what": what, "views_per_s": rate, "seconds": seconds, "steps": steps}
        print(f"{what}: {rate:,.0f} views/s", flush=True)

    step = make_step(args.arch, batch=args.batch, views=VIEWS, device=device, compile=args.compile)
    start = time.perf_counter()
    x = torch.randn(views_per_step, 3, args.size, args.size, device=device)
    step(x)
    sync(device)
    first_step = time.perf_counter() - start
    repeat = iter(lambda: x, None)
    record("model", f"model only: {args.arch}, {VIEWS} views x {args.batch}",
           _timed(repeat, step, warmup=2, steps=args.steps, device=device), args.steps)

    with tempfile.TemporaryDirectory(prefix="maskaug-input-") as tmp:
        if args.data is None:
            root = write_image_folder(tmp, classes=10, train_per_class=max(1, args.images // 10), val_per_class=0,
                                      size=tuple(args.source_size), suffix=".jpg")
            folder = root / "train"
        else:
            folder = args.data / "train" if (args.data / "train").is_dir() else args.data
        samples = image.scan_image_folder(folder, verify=False).samples

        cpu_views = image.pretrain_views(args.size, cell=args.cell)
        batches = _loader(samples, cpu_views, args, device, total)

        def cpu_work(views: list[Tensor]) -> None:
            step(torch.cat([v.to(device, non_blocking=True) for v in views]))

        record("cpu_path", f"end to end, CPU path ({args.workers} workers)",
               _timed(batches, cpu_work, warmup=warmup, steps=args.steps, device=device), args.steps)

        batches = _loader(samples, gpu_augment.ToCanvas(args.canvas), args, device, total + 3 + args.steps)
        gpu_views, compile_error = _device_views(args, device, next(batches).to(device))

        def gpu_work(batch: gpu_augment.CanvasBatch) -> None:
            step(torch.cat(gpu_views(batch.to(device, non_blocking=True))))

        record("gpu_path", f"end to end, device path ({args.workers} workers decoding)",
               _timed(batches, gpu_work, warmup=warmup, steps=args.steps, device=device), args.steps)

        resident = next(batches).to(device)
        record("gpu_augment", "device path's augmentation alone (batch on the device)",
               _timed(iter(lambda: resident, None), gpu_views, warmup=2, steps=args.steps, device=device),
               args.steps)
        host_syncs = _host_syncs(gpu_views, resident, device)
        print(f"host synchronizations in the device path: {host_syncs}", flush=True)

    model, cpu, gpu = (rows[k]["views_per_s"] for k in ("model", "cpu_path", "gpu_path"))
    targets = {
        "gpu_path / model": gpu / model,
        "gpu_path / cpu_path": gpu / cpu,
        "met": gpu >= 0.9 * model and gpu >= 1.4 * cpu,
    }
    print(f"device path: {gpu / model:.1%} of model-only, {gpu / cpu:.2f}x the CPU path "
          f"(targets: >= 90%, >= 1.4x): {'met' if targets['met'] else 'not met'}", flush=True)
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpu_count": len(_cpus()),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "torch": torch.__version__,
        "precision": "bf16 autocast, channels-last" if device.type == "cuda" else "fp32",
        "compiled": args.compile,
        "first_step_s": first_step,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": rows,
        "host_syncs": host_syncs,
        "compile_augment_error": compile_error,
        "targets": targets,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _device_views(args: argparse.Namespace, device: torch.device,
                  batch: gpu_augment.CanvasBatch) -> tuple[torch.nn.Module, str | None]:
    """The device path's views module, tried once on ``batch``; eager if compiling it fails."""
    dtype = getattr(torch, args.augment_dtype)

    def build(compile: bool) -> torch.nn.Module:
        generator = torch.Generator(device=device).manual_seed(0)
        return gpu_augment.gpu_pretrain_views(args.size, cell=args.cell, compile=compile, dtype=dtype,
                                              generator=generator).to(device)

    views = build(args.compile_augment)
    try:
        views(batch)
    except Exception as e:  # a compiler failure must not cost the other rows
        if not args.compile_augment:
            raise
        print(f"compiling the device path failed, measuring it eager: {type(e).__name__}: {e}", flush=True)
        views = build(False)
        return views, f"{type(e).__name__}: {e}"
    return views, None


def _host_syncs(views: Callable[[Any], Any], batch: Any, device: torch.device) -> str:
    """``"none"`` when making views under CUDA's sync debug mode raises nothing, else the error."""
    if device.type != "cuda":
        return "not checked (CPU)"
    torch.cuda.set_sync_debug_mode("error")
    try:
        views(batch)
    except RuntimeError as e:
        return f"found: {e}"
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return "none"


def _cpus() -> set[int]:
    import os

    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: ``python -m benchmarks.input_pipeline.bench [--workers 16] [--out bench.json] ...``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.input_pipeline.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="an ImageFolder (default: synthetic JPEGs)")
    parser.add_argument("--images", type=int, default=320, help="synthetic JPEGs to write (drawn with replacement)")
    parser.add_argument("--source-size", type=int, nargs=2, default=(500, 375), metavar=("W", "H"))
    parser.add_argument("--arch", choices=sorted(image.FEATURE_DIMS), default="resnet50")
    parser.add_argument("--size", type=int, default=224, help="view side")
    parser.add_argument("--cell", type=int, default=32, help="mask grid cell")
    parser.add_argument("--canvas", type=int, default=512, help="canvas side of the device path")
    parser.add_argument("--batch", type=int, default=64, help="images per step (4 views each)")
    parser.add_argument("--workers", type=int, default=16, help="DataLoader workers")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per row")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="eager model")
    parser.add_argument("--compile-augment", action=argparse.BooleanOptionalAction, default=None,
                        help="torch.compile the device path's pixel operations (default: on CUDA)")
    parser.add_argument("--augment-dtype", choices=("float32", "float16"), default=None,
                        help="the device path's working precision (default: float16 on CUDA, else float32)")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    args = parser.parse_args(argv)
    cuda = (args.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    if args.compile_augment is None:
        args.compile_augment = cuda
    if args.augment_dtype is None:
        args.augment_dtype = "float16" if cuda else "float32"
    command = shlex.join(["python", "-m", "benchmarks.input_pipeline.bench", *(sys.argv[1:] if argv is None else argv)])
    return run(args, command)


if __name__ == "__main__":
    main()
