"""Settings of the fused Triton kernel, timed against the memory floor on one device.

For each dtype and each setting of the kernel (its tile shape, warps, register limit and programs
per multiprocessor: the constants of `maskaug._triton`), the median time of the fused high-pass
with a noise fill (``maskaug._triton.fused``) on the image batch, next to ``x.clone()``. Each
setting's output is checked against the float64 high-pass first: one that misses it by more than
float32 rounding (1e-5 of the largest value, on the unmasked elements) is reported, not timed.
Prints a table; writes JSON.

    python -m benchmarks.masking.tune --out benchmarks/masking/results/tune-cuda.json
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

import torch

from maskaug import _triton, highpass

from .peers import device_name, time_ms, write_result

SETTINGS = (
    dict(TILE=(16, 256, 8, 16), WARPS=4, REGISTERS=128, PROGRAMS_PER_SM=None),
    dict(TILE=(16, 256, 8, 16), WARPS=4, REGISTERS=128, PROGRAMS_PER_SM=4),
    dict(TILE=(16, 32, 2, 16), WARPS=1, REGISTERS=128, PROGRAMS_PER_SM=None),
    dict(TILE=(16, 32, 2, 16), WARPS=1, REGISTERS=128, PROGRAMS_PER_SM=16),
    dict(TILE=(16, 256, 16, 16), WARPS=8, REGISTERS=128, PROGRAMS_PER_SM=None),
    dict(TILE=(16, 256, 16, 16), WARPS=8, REGISTERS=128, PROGRAMS_PER_SM=2),
    dict(TILE=(8, 256, 8, 16), WARPS=2, REGISTERS=128, PROGRAMS_PER_SM=None),
    dict(TILE=(16, 256, 8, 16), WARPS=4, REGISTERS=None, PROGRAMS_PER_SM=None),
)


def describe(setting: dict) -> str:
    return ", ".join(f"{name.lower()}={value}" for name, value in setting.items())


def fused_call(x: torch.Tensor, mask: torch.Tensor, seed: int):
    """The fused high-pass and noise fill of ``x`` under ``mask``, with a fixed noise seed."""
    def call() -> torch.Tensor:
        return _triton.fused(x, sigma=5.0, mask=mask, generator=torch.Generator(x.device).manual_seed(seed))

    return call


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    if not _triton.usable(torch.empty(1, device=device)):
        raise SystemExit(f"the fused kernels do not run on {device} (a CPU needs TRITON_INTERPRET=1)")
    generator = torch.Generator(device).manual_seed(0)
    defaults = {name: getattr(_triton, name) for setting in SETTINGS for name in setting}
    settings = SETTINGS[: args.settings] if args.settings else SETTINGS
    rows = []
    best = None
    try:
        for dtype_name in args.dtypes:
            x = torch.randn(args.batch, 3, args.size, args.size, generator=generator, device=device)
            x = x.to(getattr(torch, dtype_name))
            mask = torch.rand(x.shape, generator=generator, device=device) < 0.15
            expected = highpass(x.double(), 5.0)
            scale = expected.abs().max()
            floor = time_ms(x.clone, device=device, repeats=args.repeats, warmup=args.warmup)
            rows.append({"dtype": dtype_name, "setting": "clone", "median_ms": floor, "x_floor": 1.0})
            print(f"{dtype_name:<9} {'clone':<76} {floor:8.3f} ms", flush=True)
            tolerance = 1e-5 if x.dtype == torch.float32 else 1e-2
            for setting in settings:
                for name, value in {**defaults, **setting}.items():
                    setattr(_triton, name, value)
                call = fused_call(x, mask, seed=1)
                out = call()
                row = {"dtype": dtype_name, "setting": describe(setting)}
                error = float(((out.double() - expected).abs() * ~mask).max() / scale)
                if not error <= tolerance:
                    row["skipped"] = f"misses the float64 high-pass by {error:.1e} of its largest value"
                else:
                    row["median_ms"] = time_ms(call, device=device, repeats=args.repeats, warmup=args.warmup)
                    row["x_floor"] = row["median_ms"] / floor
                rows.append(row)
                if "median_ms" in row and (best is None or row["median_ms"] < best[0]) and dtype_name == args.dtypes[0]:
                    best = (row["median_ms"], setting)
                shown = row.get("skipped") or f"{row['median_ms']:8.3f} ms {row['x_floor']:6.2f}x floor"
                print(f"{dtype_name:<9} {row['setting']:<76} {shown}", flush=True)
    finally:
        for name, value in defaults.items():
            setattr(_triton, name, value)
    return {
        "device": device_name(device),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "shape": [args.batch, 3, args.size, args.size],
        "defaults": describe(defaults),
        "best": None if best is None else {"dtype": args.dtypes[0], "median_ms": best[0], "setting": best[1]},
        "repeats": args.repeats,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--settings", type=int, default=0, help="time only the first N settings (default all)")
    parser.add_argument("--out", type=Path, required=True, help="JSON path")
    args = parser.parse_args(argv)
    result = run(args)
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
