"""Settings of the fused Triton kernel, timed against the memory floor on one device.

For each dtype and each setting of the kernel (its tile shape, warps, register limit and programs
per multiprocessor: the constants of `maskaug._triton`), the median time of two calls of the fused
kernel (``maskaug._triton.fused``) on the image batch, next to ``x.clone()``: the high-pass with a
noise fill under an element mask (15% of the elements, so every tile draws noise), and the
high-pass with `MSCNMask`'s drawn mask (its defaults: cells and boxes computed in the kernel, and
noise drawn only in the tiles that hold a masked element, a share that depends on the tile). Each
output is checked first, and reported instead of timed where it is off: against the float64
high-pass on the unmasked elements (within float32 rounding, 1e-5 of the largest value), and
against the default setting's output on the masked ones (the noise depends on the element only).
The best setting is the fastest `MSCNMask` call in the first dtype. Prints a table; writes JSON.

The settings are the default and the candidates that ``benchmarks.masking.kernel_cost`` counts
fewer instructions for (or that show what the register cap and the programs per multiprocessor do).

    python -m benchmarks.masking.tune --out benchmarks/masking/results/tune-cuda.json
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

from maskaug import MSCNMask, _triton, highpass
from maskaug.masks import _render

from .peers import device_name, time_ms, write_result

SETTINGS = (
    dict(TILE=(16, 256, 8, 16), WARPS=4, REGISTERS=128, PROGRAMS_PER_SM=None),
    dict(TILE=(16, 256, 8, 16), WARPS=4, REGISTERS=128, PROGRAMS_PER_SM=4),
    dict(TILE=(16, 256, 8, 8), WARPS=4, REGISTERS=128, PROGRAMS_PER_SM=None),
    dict(TILE=(32, 128, 4, 8), WARPS=4, REGISTERS=128, PROGRAMS_PER_SM=None),
    dict(TILE=(32, 128, 4, 8), WARPS=4, REGISTERS=168, PROGRAMS_PER_SM=None),
    dict(TILE=(16, 256, 4, 8), WARPS=2, REGISTERS=128, PROGRAMS_PER_SM=None),
    dict(TILE=(16, 256, 4, 16), WARPS=2, REGISTERS=128, PROGRAMS_PER_SM=None),
    dict(TILE=(16, 256, 8, 16), WARPS=4, REGISTERS=None, PROGRAMS_PER_SM=None),
)
#: The calls timed for each setting; the best setting is the fastest on the last.
CALLS = ("element mask", "MSCNMask")


def describe(setting: dict) -> str:
    return ", ".join(f"{name.lower()}={value}" for name, value in setting.items())


def fused_calls(x: torch.Tensor, seed: int) -> dict[str, tuple[Callable[[], torch.Tensor], torch.Tensor]]:
    """Each of `CALLS` on ``x``, with its element mask: the fused high-pass and noise fill under a
    random element mask, and under `MSCNMask`'s drawn mask; a fixed noise seed."""
    generator = torch.Generator(x.device).manual_seed(seed)
    dense = torch.rand(x.shape, generator=generator, device=x.device) < 0.15
    drawn = MSCNMask(layout="b c h w", generator=generator)._draw(x.shape, x.device)

    def call(**mask) -> Callable[[], torch.Tensor]:
        return lambda: _triton.fused(x, sigma=5.0, generator=torch.Generator(x.device).manual_seed(seed), **mask)

    return {"element mask": (call(mask=dense), dense), "MSCNMask": (call(drawn=drawn), _render(drawn).expand(x.shape))}


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    if not _triton.runs_on(device):
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
            calls = fused_calls(x, seed=1)
            for name, value in defaults.items():
                setattr(_triton, name, value)
            fills = {call_name: call()[mask] for call_name, (call, mask) in calls.items()}
            expected = highpass(x.double(), 5.0)
            scale = expected.abs().max()
            floor = time_ms(x.clone, device=device, repeats=args.repeats, warmup=args.warmup)
            rows.append({"dtype": dtype_name, "setting": "clone", "median_ms": floor, "x_floor": 1.0})
            print(f"{dtype_name:<9} {'clone':<90} {floor:8.3f} ms", flush=True)
            tolerance = 1e-5 if x.dtype == torch.float32 else 1e-2
            for setting in settings:
                for name, value in {**defaults, **setting}.items():
                    setattr(_triton, name, value)
                for call_name, (call, mask) in calls.items():
                    row = {"dtype": dtype_name, "call": call_name, "setting": describe(setting)}
                    out = call()
                    error = float(((out.double() - expected).abs() * ~mask).max() / scale)
                    if not error <= tolerance:
                        row["skipped"] = f"misses the float64 high-pass by {error:.1e} of its largest value"
                    elif not torch.equal(out[mask], fills[call_name]):
                        row["skipped"] = "fills the mask otherwise than the default setting"
                    else:
                        row["median_ms"] = time_ms(call, device=device, repeats=args.repeats, warmup=args.warmup)
                        row["x_floor"] = row["median_ms"] / floor
                    rows.append(row)
                    if ("median_ms" in row and call_name == CALLS[-1] and dtype_name == args.dtypes[0]
                            and (best is None or row["median_ms"] < best[0])):
                        best = (row["median_ms"], setting)
                    shown = row.get("skipped") or f"{row['median_ms']:8.3f} ms {row['x_floor']:6.2f}x floor"
                    print(f"{dtype_name:<9} {call_name:<13} {row['setting']:<76} {shown}", flush=True)
    finally:
        for name, value in defaults.items():
            setattr(_triton, name, value)
    return {
        "device": device_name(device),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "shape": [args.batch, 3, args.size, args.size],
        "defaults": describe(defaults),
        "best": None if best is None else {"dtype": args.dtypes[0], "call": CALLS[-1], "median_ms": best[0],
                                           "setting": best[1]},
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
