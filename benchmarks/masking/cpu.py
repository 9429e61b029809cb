"""CPU speed of maskaug's high-pass and masking, against torchvision peers and a SimCLR pipeline.

Times, in one run, each operation on one ``3x224x224`` sample (as in a DataLoader worker) and on a
batch: the median over ``--repeats`` timed calls after a warm-up, the operations taking turns so
that changes in the machine's load affect them alike. Then measures a standard
torchvision v2 SimCLR CPU pipeline in views per second, with and without :class:`MSCNMask`
appended, to give the cost of masking in the data loader: in this process (``--threads``
intra-op threads), and in a ``DataLoader`` with ``--workers`` worker processes, where pipelines
run in training (one thread each, as torch sets in workers). Every view gets the same random
crop, jitter and blur decisions with and without the mask, so the two differ by the mask alone.
Prints a table and writes JSON.

Run from the repository root::

    python -m benchmarks.masking.cpu --repeats 30 --batch 32 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch
import torchvision
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

import maskaug
from maskaug import MSCNMask, highpass

DEFAULT_OUT = Path(__file__).parent / "results" / "cpu.json"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIZE = 224
#: A typical ImageNet photograph, height x width.
PHOTO_SIZE = (375, 500)
WARMUP = 3
#: Batches per timed DataLoader epoch.
LOADER_BATCHES = 8

#: (numerator, denominator) rows compared in the ratio table.
RATIOS = (
    ("MSCNMask", "clone"),
    ("MSCNMask", "GaussianBlur(23)"),
    ("MSCNMask", "RandomErasing"),
    ("highpass k31", "GaussianBlur(31)"),
    ("highpass k11", "highpass k31"),
)

Op = Callable[[torch.Tensor], object]


def timed_ms(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """The wall time of each call in milliseconds, ``repeats`` times, after ``WARMUP`` untimed calls of each.

    The calls are timed in turn, once per repeat, so that a change in the machine's load during
    the run affects all of them alike and their ratios stay fair.
    """
    for call in calls.values():
        for _ in range(WARMUP):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(1e3 * (time.perf_counter() - start))
    return times


def median_ms(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The median of `timed_ms`'s times of each call."""
    return {name: statistics.median(ms) for name, ms in timed_ms(calls, repeats).items()}


def per_sample(op: Op) -> Op:
    """Apply ``op`` to each sample of a batch in a Python loop (for one-box-per-call transforms),
    stacked into one batch tensor as the other operations return."""
    return lambda batch: torch.stack([op(sample) for sample in batch])


def operations(batched: bool, generator: torch.Generator) -> dict[str, Op]:
    """The timed operations, in table order, for one ``c h w`` sample or a ``b c h w`` batch."""
    layout = "b c h w" if batched else "c h w"
    erasing = v2.RandomErasing(p=1.0, value="random")
    return {
        "clone": torch.Tensor.clone,
        "highpass k31": lambda x: highpass(x, 5.0),
        "highpass k11": lambda x: highpass(x, 5.0, kernel_size=11),
        "MSCNMask": MSCNMask(layout=layout, generator=generator),
        "RandomErasing": per_sample(erasing) if batched else erasing,
        "GaussianBlur(23)": v2.GaussianBlur(kernel_size=23, sigma=5.0),
        "GaussianBlur(31)": v2.GaussianBlur(kernel_size=31, sigma=5.0),
    }


def simclr_pipeline() -> v2.Compose:
    """The standard SimCLR view augmentation, as a torchvision v2 CPU pipeline on uint8 images.

    Its jitter strengths are those of the protocol the paper trains with (Barlow Twins'; the
    image adapter's `simclr_augment` too). SimCLR's own code jitters harder (0.8, 0.8, 0.8, 0.2)
    at the same cost: the four operations run whatever their strengths.
    """
    return v2.Compose(
        [
            v2.RandomResizedCrop(SIZE),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
            v2.RandomGrayscale(p=0.2),
            v2.RandomApply([v2.GaussianBlur(kernel_size=23)], p=0.5),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


class _Views(Dataset):
    """``length`` views of one photograph through ``transform``; view ``i`` always gets the same random choices.

    Seeding torch's generator per view makes the pipelines with and without the mask crop, jitter
    and blur every view alike, wherever and whenever a worker makes it.
    """

    def __init__(self, photo: torch.Tensor, transform: Op, length: int):
        self.photo, self.transform, self.length = photo, transform, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        torch.manual_seed(index)
        return self.transform(self.photo)


def loader_epochs_ms(pipelines: dict[str, Op], photo: torch.Tensor, *, workers: int, batch: int,
                     batches: int, repeats: int) -> dict[str, list[float]]:
    """The time of each of ``repeats`` epochs of ``batches`` batches of each pipeline, in a
    ``DataLoader`` of ``workers`` persistent worker processes.

    ``WARMUP`` epochs warm each loader up (worker start, first calls); then the pipelines take
    turns, one timed epoch each per repeat, so that an epoch of one has a neighbour of the other.
    """
    loaders = {
        name: DataLoader(_Views(photo, p, batch * batches), batch_size=batch, num_workers=workers,
                         persistent_workers=workers > 0)
        for name, p in pipelines.items()
    }

    def epoch(loader: DataLoader) -> None:
        for _ in loader:
            pass

    return timed_ms({name: (lambda loader=loader: epoch(loader)) for name, loader in loaders.items()}, repeats)


def _spread(values: list[float]) -> dict[str, float]:
    """The lowest, the quartiles and the highest of ``values``."""
    if len(values) < 2:
        return {"min": values[0], "q1": values[0], "median": values[0], "q3": values[0], "max": values[0]}
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"min": min(values), "q1": q1, "median": median, "q3": q3, "max": max(values)}


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, or the platform's description where there is none."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(repeats: int, batch: int, workers: int, seed: int = 0) -> dict:
    """Time every operation and the SimCLR pipeline; return the results as a JSON-ready dict."""
    generator = torch.Generator().manual_seed(seed)
    inputs = {
        "sample": torch.randn(3, SIZE, SIZE, generator=generator),
        "batch": torch.randn(batch, 3, SIZE, SIZE, generator=generator),
    }
    timings = {}
    for kind, x in inputs.items():
        ops = operations(kind == "batch", generator)
        timings[kind] = median_ms({name: (lambda op=op: op(x)) for name, op in ops.items()}, repeats)
    ratios = {
        kind: {f"{num} / {den}": row[num] / row[den] for num, den in RATIOS} for kind, row in timings.items()
    }

    photo = torch.randint(0, 256, (3, *PHOTO_SIZE), dtype=torch.uint8, generator=generator)
    plain = simclr_pipeline()
    masked = v2.Compose([plain, MSCNMask(layout="c h w", generator=generator)])
    pipelines = {"plain": plain, "masked": masked}
    views = _Views(photo, plain, batch)  # the same views for both: seeded per view

    def repeat(pipeline: Op) -> None:
        views.transform = pipeline
        for index in range(batch):
            views[index]

    # One repeat makes ``batch`` views; views per second follow from the median time of a repeat.
    ms = median_ms({name: (lambda p=p: repeat(p)) for name, p in pipelines.items()}, repeats)
    rate, rate_masked = (batch / (ms[name] / 1e3) for name in pipelines)
    epochs = loader_epochs_ms(pipelines, photo, workers=workers, batch=batch, batches=LOADER_BATCHES,
                              repeats=repeats)
    per_epoch = batch * LOADER_BATCHES
    loader = {name: per_epoch / (statistics.median(ms) / 1e3) for name, ms in epochs.items()}
    # each repeat's pair of neighbouring epochs: the share of views/s the mask cost in that pair
    pairs = [100 * (1 - plain / masked) for plain, masked in zip(epochs["plain"], epochs["masked"])]
    pipeline = {
        "input": f"uint8 3x{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}",
        "views_per_repeat": batch,
        "simclr_views_per_s": rate,
        "simclr_mscn_views_per_s": rate_masked,
        "mscn_cost_percent": 100 * (rate / rate_masked - 1),
        "dataloader": {
            "workers": workers,
            "views_per_epoch": per_epoch,
            "epochs": repeats,
            "simclr_views_per_s": loader["plain"],
            "simclr_mscn_views_per_s": loader["masked"],
            "views_lost_percent": 100 * (1 - loader["masked"] / loader["plain"]),
            "views_lost_percent_of_pairs": _spread(pairs),
        },
    }
    return {"timings_ms": timings, "ratios": ratios, "pipeline": pipeline}


def format_report(result: dict) -> str:
    """The results as plain-text tables."""
    timings, ratios, pipe = result["timings_ms"], result["ratios"], result["pipeline"]
    batch = f"batch {result['batch']}x3x{SIZE}x{SIZE}"
    lines = [
        f"{result['device']}, torch {result['torch']}, {result['threads']} threads, {result['date']}",
        f"1-minute load average: {result['load_average_1min']['before']:.2f} before, "
        f"{result['load_average_1min']['after']:.2f} after",
        "",
        f"{'median ms':<22}{'sample 3x224x224':>18}{batch:>24}",
    ]
    lines += [f"{name:<22}{ms:>18.3f}{timings['batch'][name]:>24.3f}" for name, ms in timings["sample"].items()]
    lines += ["", f"{'ratio':<36}{'sample':>10}{'batch':>10}"]
    lines += [f"{name:<36}{ratios['sample'][name]:>10.2f}{ratios['batch'][name]:>10.2f}" for name in ratios["sample"]]
    loader = pipe["dataloader"]
    lines += [
        "",
        f"SimCLR pipeline ({pipe['input']}), in this process: {pipe['simclr_views_per_s']:.1f} views/s; "
        f"with MSCNMask: {pipe['simclr_mscn_views_per_s']:.1f} views/s; "
        f"{100 * (1 - pipe['simclr_mscn_views_per_s'] / pipe['simclr_views_per_s']):.1f}% of views/s lost",
        f"in a DataLoader with {loader['workers']} workers: {loader['simclr_views_per_s']:.1f} views/s; "
        f"with MSCNMask: {loader['simclr_mscn_views_per_s']:.1f} views/s; {loader['views_lost_percent']:.1f}% lost",
    ]
    pairs = loader.get("views_lost_percent_of_pairs")
    if pairs:
        lines.append(f"  lost in each of {loader['epochs']} pairs of neighbouring epochs: {pairs['min']:.1f} to "
                     f"{pairs['max']:.1f}%, quartiles {pairs['q1']:.1f}, {pairs['median']:.1f}, {pairs['q3']:.1f}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per row (median reported)")
    parser.add_argument("--batch", type=int, default=32, help="batch size, and views per pipeline repeat")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="DataLoader worker processes for the pipeline's views/s (0: in the main process)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result path")
    args = parser.parse_args(argv)
    for name in ("repeats", "batch", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.workers < 0:
        parser.error(f"--workers must be >= 0, got {args.workers}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    argv = sys.argv[1:] if argv is None else argv
    load_before = os.getloadavg()[0]
    timed = run(args.repeats, args.batch, args.workers)
    result = {
        "device": cpu_name(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "maskaug": maskaug.__version__,
        "threads": torch.get_num_threads(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "-m", "benchmarks.masking.cpu", *argv]),
        "repeats": args.repeats,
        "warmup": WARMUP,
        "batch": args.batch,
        # Other processes on the machine slow the timings down; the 1-minute load shows how busy it was.
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        **timed,
    }
    print(format_report(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
