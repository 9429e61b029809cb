"""Tile shapes of the fused Triton kernel, timed against the memory floor on one device.

For each dtype and each ``(TILE_ROWS, NUM_WARPS)`` setting, the median time of the fused high-pass
with a noise fill (``maskaug._triton.fused``) on the image batch, next to ``x.clone()``. Each
setting's output is checked against the default's first: one that changes the result by more than
float32 rounding (1e-5 of the largest value) is reported, not timed. Prints a table; writes JSON.

    python -m benchmarks.masking.tune --out benchmarks/masking/results/tune-cuda.json
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

import torch

from maskaug import _triton

from .peers import device_name, time_ms, write_result

TILES = ((32, 4), (32, 8), (64, 4), (64, 8), (32, 2))


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
    default = (_triton.TILE_ROWS, _triton.NUM_WARPS)
    rows = []
    try:
        for dtype_name in args.dtypes:
            x = torch.randn(args.batch, 3, args.size, args.size, generator=generator, device=device)
            x = x.to(getattr(torch, dtype_name))
            mask = torch.rand(x.shape, generator=generator, device=device) < 0.15
            floor = time_ms(x.clone, device=device, repeats=args.repeats, warmup=args.warmup)
            rows.append({"dtype": dtype_name, "tile": "clone", "median_ms": floor, "x_floor": 1.0})
            print(f"{dtype_name:<9} {'clone':<10} {floor:8.3f} ms", flush=True)
            reference = None
            for tile in (default, *(t for t in TILES if t != default)):
                _triton.TILE_ROWS, _triton.NUM_WARPS = tile
                call = fused_call(x, mask, seed=1)
                out = call()
                row = {"dtype": dtype_name, "tile": f"{tile[0]} rows, {tile[1]} warps"}
                if reference is None:
                    reference = out.float()
                if (out.float() - reference).abs().max() > 1e-5 * reference.abs().max():
                    row["skipped"] = "differs from the default setting's output"
                else:
                    row["median_ms"] = time_ms(call, device=device, repeats=args.repeats, warmup=args.warmup)
                    row["x_floor"] = row["median_ms"] / floor
                rows.append(row)
                shown = row.get("skipped") or f"{row['median_ms']:8.3f} ms {row['x_floor']:6.2f}x floor"
                print(f"{dtype_name:<9} {row['tile']:<18} {shown}", flush=True)
    finally:
        _triton.TILE_ROWS, _triton.NUM_WARPS = default
    return {
        "device": device_name(device),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "shape": [args.batch, 3, args.size, args.size],
        "default_tile": f"{default[0]} rows, {default[1]} warps",
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
    parser.add_argument("--out", type=Path, required=True, help="JSON path")
    args = parser.parse_args(argv)
    result = run(args)
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
