"""maskaug's high-pass and masks against kornia, timm, torchvision and torchaudio, on one device.

One run times, on an image batch (default ``256x3x224x224`` on a GPU, ``64x3x224x224`` on a CPU,
more than its caches hold) in float32 and bfloat16: ``x.clone()`` (the memory floor), maskaug
``highpass`` and ``MSCNMask`` (on the fused Triton path where it runs, and on the pure-torch
path), a grouped separable ``conv2d`` high-pass (k=31, the targets' peer), torchvision
``gaussian_blur`` (k=31) as a high-pass, kornia ``RandomErasing``, timm
``RandomErasing(mode="pixel")``, torchvision v2 ``RandomErasing`` (a per-sample loop: it draws one
box per call); and on a
spectrogram batch (``256x1x128x1000`` on a GPU) maskaug in the ``b c f t`` layout against
torchaudio ``FrequencyMasking`` + ``TimeMasking`` with ``iid_masks=True``.

Medians of ``--repeats`` timed calls after ``--warmup`` untimed ones; CUDA events on a GPU,
``perf_counter`` around a synchronized call on a CPU. On a GPU each row is also timed back to
back: the median (and range) of 5 windows of ``--repeats`` calls. Prints a table with ratios to
the floor and the targets, and writes JSON. Peers that are not installed are reported as missing.

Run from the repository root::

    python -m benchmarks.masking.peers                  # on the GPU if there is one
    python -m benchmarks.masking.peers --device cpu
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

import maskaug
from maskaug import MSCNMask, _triton, highpass
from maskaug.highpass import gaussian_kernel

DEFAULT_OUT = Path(__file__).parent / "results"
SIGMA = 5.0

#: The peer high-pass of the targets: a grouped separable convolution, as a user would write it.
SEPARABLE = "highpass, grouped separable conv2d k31"
#: Targets, as (numerator, denominator, at most this ratio), checked on a GPU.
TARGETS = (
    ("highpass + MSCNMask", "clone", 5.0),
    ("highpass + MSCNMask", SEPARABLE, 1 / 8),
    ("highpass + MSCNMask", "kornia RandomErasing", 1 / 2.5),
)
#: Windows of back-to-back calls whose median `pipelined_ms` reports.
WINDOWS = 5


@contextlib.contextmanager
def _torch_path() -> Iterator[None]:
    """Force maskaug's pure-torch path for the duration of a call."""
    old = os.environ.get("MASKAUG_DISABLE_TRITON")
    os.environ["MASKAUG_DISABLE_TRITON"] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ["MASKAUG_DISABLE_TRITON"]
        else:
            os.environ["MASKAUG_DISABLE_TRITON"] = old


def _on_torch_path(fn: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        with _torch_path():
            return fn()

    return call


def time_ms(fn: Callable[[], object], *, device: torch.device, repeats: int, warmup: int) -> float:
    """Median time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
    else:
        for _ in range(repeats):
            begin = time.perf_counter()
            fn()
            times.append((time.perf_counter() - begin) * 1e3)
    return statistics.median(times)


def pipelined_ms(fn: Callable[[], object], *, device: torch.device, repeats: int) -> tuple[float, float, float]:
    """Time per call of ``fn`` over ``repeats`` calls issued back to back (CUDA only): the median,
    fastest and slowest of `WINDOWS` such windows.

    The host runs ahead of the device when a call's host time is shorter than its device time, as
    in a training step; where it is not, this is the host's pace. `time_ms` times single calls,
    host time included.
    """
    per_call = []
    for _ in range(WINDOWS):
        torch.cuda.synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            fn()
        end.record()
        end.synchronize()
        per_call.append(start.elapsed_time(end) / repeats)
    return statistics.median(per_call), min(per_call), max(per_call)


def separable_conv_highpass(x: torch.Tensor, sigma: float, kernel_size: int = 31) -> torch.Tensor:
    """The peer high-pass: ``x`` minus its Gaussian blur by a grouped separable convolution (one
    reflect pad, a ``1 x k`` then a ``k x 1`` depthwise ``conv2d``), in ``x``'s dtype.

    Shape:
        - x: ``(N, C, H, W)``; output: the same.
    """
    channels, radius = x.shape[1], kernel_size // 2
    taps = gaussian_kernel(sigma, kernel_size, dtype=x.dtype, device=x.device)
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    across = F.conv2d(padded, taps.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return x - F.conv2d(across, taps.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def image_ops(
    x: torch.Tensor, generator: torch.Generator, compile: bool = True
) -> dict[str, Callable[[], object] | str]:
    """The image-batch operations by row name; a string explains why a row cannot run."""
    layout = dict(layout="b c h w", generator=generator)
    mscn = MSCNMask(**layout)
    mask_only = MSCNMask(highpass_sigma=None, **layout)
    ops: dict[str, Callable[[], object] | str] = {
        "clone": x.clone,
        "highpass": lambda: highpass(x, SIGMA),
        SEPARABLE: lambda: separable_conv_highpass(x, SIGMA),
        "highpass, maskaug torch path": _on_torch_path(lambda: highpass(x, SIGMA)),
        "highpass + MSCNMask": lambda: mscn(x),
        "highpass + MSCNMask, torch path": _on_torch_path(lambda: mscn(x)),
        "MSCNMask without high-pass": lambda: mask_only(x),
    }
    if not _triton.usable(x):
        ops["highpass"] = ops["highpass + MSCNMask"] = "fused path does not run here"
    if not compile:
        ops["highpass + MSCNMask, torch.compile"] = "not asked for (--no-compile)"
    elif x.is_cuda:  # the policy's small operations fused by inductor (its warm-up calls compile it)
        compiled = torch.compile(MSCNMask(layout="b c h w"))  # torch's own generator: dynamo traces no Generator
        ops["highpass + MSCNMask, torch.compile"] = lambda: compiled(x)
    else:
        ops["highpass + MSCNMask, torch.compile"] = "compiled on a GPU only (minutes of compilation on a CPU)"

    from torchvision.transforms import v2
    from torchvision.transforms.v2 import functional as TF

    ops["torchvision gaussian_blur k31 high-pass"] = lambda: x - TF.gaussian_blur(x, [31, 31], [SIGMA, SIGMA])
    erase = v2.RandomErasing(p=1.0)
    ops["torchvision v2 RandomErasing (per-sample loop)"] = lambda: torch.stack([erase(sample) for sample in x])

    if importlib.util.find_spec("kornia") is None:
        ops["kornia RandomErasing"] = "kornia is not installed"
    else:
        import kornia.augmentation as K

        kornia_erase = K.RandomErasing(p=1.0).to(x.device)
        ops["kornia RandomErasing"] = lambda: kornia_erase(x)

    if importlib.util.find_spec("timm") is None:
        ops["timm RandomErasing pixel"] = "timm is not installed"
    else:
        from timm.data.random_erasing import RandomErasing

        timm_erase = RandomErasing(probability=1.0, mode="pixel", device=str(x.device))
        ops["timm RandomErasing pixel"] = lambda: timm_erase(x.clone())
    return ops


def spectrogram_ops(s: torch.Tensor, generator: torch.Generator) -> dict[str, Callable[[], object] | str]:
    """Spectrogram-batch operations: maskaug in ``b c f t`` against torchaudio SpecAugment."""
    ops: dict[str, Callable[[], object] | str] = {"clone": s.clone}
    grid = MSCNMask(layout="b c f t", cell=(16, 50), highpass_sigma=None, fill="constant", focal_prob=0.0,
                    generator=generator)
    full = MSCNMask(layout="b c f t", cell=(16, 50), highpass_sigma=2.0, generator=generator)
    ops["maskaug grid mask, fill 0 (b c f t)"] = lambda: grid(s)
    ops["maskaug high-pass + MSCNMask (b c f t)"] = lambda: full(s)
    if importlib.util.find_spec("torchaudio") is None:
        ops["torchaudio FrequencyMasking + TimeMasking"] = "torchaudio is not installed"
    else:
        import torchaudio.transforms as T

        freq, tim = T.FrequencyMasking(27, iid_masks=True), T.TimeMasking(100, iid_masks=True)
        ops["torchaudio FrequencyMasking + TimeMasking"] = lambda: tim(freq(s))
    return ops


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({torch.get_num_threads()} threads)"
    return platform.processor() or "cpu"


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    on_gpu = device.type == "cuda"
    batch = args.batch or (256 if on_gpu else 64)  # on a CPU, 37 MB: more than its caches (and fresh memory)
    spec_batch = args.spec_batch or (256 if on_gpu else 8)
    generator = torch.Generator(device=device).manual_seed(0)
    rows = []
    for dtype_name in args.dtypes:
        dtype = getattr(torch, dtype_name)
        x = torch.randn(batch, 3, args.size, args.size, generator=generator, device=device).to(dtype)
        s = torch.randn(spec_batch, 1, args.spec_freq, args.spec_time, generator=generator, device=device).to(dtype)
        for group, tensor, ops in (("image", x, image_ops(x, generator, args.compile)),
                                   ("spectrogram", s, spectrogram_ops(s, generator))):
            floor = None
            for name, op in ops.items():
                row = {"group": group, "name": name, "dtype": dtype_name, "shape": list(tensor.shape)}
                if isinstance(op, str):
                    row["skipped"] = op
                else:
                    try:
                        row["median_ms"] = time_ms(op, device=device, repeats=args.repeats, warmup=args.warmup)
                        if on_gpu:
                            median, fastest, slowest = pipelined_ms(op, device=device, repeats=args.repeats)
                            row.update(pipelined_ms=median, pipelined_range_ms=[fastest, slowest])
                    except (RuntimeError, TypeError, ValueError) as error:
                        row["skipped"] = f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
                if name == "clone":
                    floor = row.get("median_ms")
                if "median_ms" in row and floor:
                    row["x_floor"] = row["median_ms"] / floor
                rows.append(row)
                _print_row(row)
    return {
        "device": device_name(device),
        "device_type": device.type,
        "torch": torch.__version__,
        "maskaug": maskaug.__version__,
        "fused_path": _triton.runs_on(device),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m benchmarks.masking.peers " + shlex.join(sys.argv[1:]),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "rows": rows,
        "targets": targets(rows) if on_gpu else [],
        "targets_pipelined": targets(rows, "pipelined_ms") if on_gpu else [],
    }


def targets(rows: list[dict], key: str = "median_ms") -> list[dict]:
    """The GPU targets on the float32 image batch, with the measured ratio (of ``key``) and whether it
    is met; a target whose rows were not timed (a peer not installed) has ``measured`` and ``met``
    ``None`` and names them under ``missing``."""
    times = {r["name"]: r[key] for r in rows if r["group"] == "image" and r["dtype"] == "float32" and key in r}
    out = []
    for numerator, denominator, limit in TARGETS:
        target = {"ratio": f"{numerator} / {denominator}", "measured": None, "at_most": limit, "met": None}
        missing = [name for name in (numerator, denominator) if name not in times]
        if missing:
            target["missing"] = missing
        else:
            target["measured"] = times[numerator] / times[denominator]
            target["met"] = target["measured"] <= limit
        out.append(target)
    return out


def describe_target(target: dict) -> str:
    """A target's measured ratio and verdict, or which rows it misses."""
    if target["measured"] is None:
        return f"not measured ({', '.join(target['missing'])} not timed)"
    return f"{target['measured']:.3f} (at most {target['at_most']:.3f}) {'met' if target['met'] else 'NOT met'}"


def _print_row(row: dict) -> None:
    label = f"{row['group']:<11} {row['dtype']:<8} {row['name']:<48}"
    if "skipped" in row:
        print(f"{label} {'-':>10}   ({row['skipped']})", flush=True)
    else:
        floor = f"{row['x_floor']:8.1f}x floor" if "x_floor" in row else ""
        pipelined = f"  back to back {row['pipelined_ms']:8.3f} ms" if "pipelined_ms" in row else ""
        print(f"{label} {row['median_ms']:10.3f} ms {floor}{pipelined}", flush=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--batch", type=int, default=0, help="image batch (default 256 on a GPU, 64 on a CPU)")
    parser.add_argument("--size", type=int, default=224, help="image side")
    parser.add_argument("--spec-batch", type=int, default=0, help="spectrogram batch (default 256 on a GPU, 8 on a CPU)")
    parser.add_argument("--spec-freq", type=int, default=128)
    parser.add_argument("--spec-time", type=int, default=1000)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="skip the torch.compile row (its compilation takes a minute or more)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default results/peers-<device type>.json)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    result = run(args)
    for kind, key in (("", "targets"), (" (back to back)", "targets_pipelined")):
        for t in result[key]:
            print(f"target{kind} {t['ratio']}: {describe_target(t)}")
    write_result(result, args.out or DEFAULT_OUT / f"peers-{result['device_type']}.json")
    return result


def write_result(result: dict, out: Path) -> None:
    """Write a benchmark's result as indented JSON, making its folder, and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
