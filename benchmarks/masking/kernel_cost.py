"""What the fused kernel costs a GPU, counted on any machine (no GPU needed).

Compiles maskaug's fused Triton kernel for a CUDA architecture (``--arch``, default 90: the H100
and H200) as a launch on an image batch specializes it, disassembles it with the NVIDIA tools
that ship with Triton, and counts, for each kernel setting of `tune` and three calls (the
high-pass alone; the high-pass and a noise fill under an element mask, as `tune` times it; and
`MSCNMask` with its defaults):

- registers per thread and bytes spilled to local memory (the stack frame);
- SASS instructions in the kernel;
- warp instructions one call issues: each loop's body times its trips over a row, and the noise
  block of a horizontal tile times the share of tiles that hold a masked element (measured on a
  draw of the call's mask, since tiles without one skip the noise).

The kernel issues instructions faster than it waits on memory, so on one device its time follows
the warp instructions while the warps a multiprocessor holds stay the same (the docs give the
measured relation). The count compares kernel variants before a GPU times them; it is a model,
not a measurement.

    python -m benchmarks.masking.kernel_cost --out benchmarks/masking/results/kernel-cost-sm90.json
"""

from __future__ import annotations

import argparse
import collections
import math
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from maskaug import MSCNMask, _triton

from .peers import write_result
from .tune import SETTINGS, describe

#: The element types of the kernel's pointers (the others are bool).
POINTERS = {"x_ptr": "*fp32", "out_ptr": "*fp32", "scratch_ptr": "*fp32", "seed_ptr": "*fp32", "start_ptr": "*i64",
            "extent_ptr": "*i64"}
_LINE = re.compile(r"\s*/\*([0-9a-f]+)\*/\s+(?:@!?U?P\w+\s+)?([A-Z0-9_.]+)\s*([^;]*);")
_TARGET = re.compile(r"\s*(0x[0-9a-f]+)")


@dataclass(frozen=True)
class Call:
    """One call of the fused kernel: its mode (as `maskaug._triton.fused` picks it) and its mask."""

    name: str
    highpass: bool
    mask_mode: int
    boxes: bool
    noise: bool


def calls(width: int) -> tuple[Call, ...]:
    """The calls counted, on planes ``width`` wide (`MSCNMask`'s 32-pixel cells of a row are read
    as the bits of a word up to 32 cells, one by one beyond)."""
    return (
        Call("high-pass", True, 0, False, False),
        Call("high-pass + noise fill, element mask", True, 1, False, True),
        Call("MSCNMask", True, 3 if -(-width // 32) <= 32 else 2, True, True),
    )


def _tool(name: str) -> Path:
    import triton

    path = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / name
    if not path.exists():
        raise SystemExit(f"{name} is not in this Triton's NVIDIA backend ({path}): install a CUDA build of torch")
    return path


def compile_kernel(call: Call, setting: dict, shape: tuple[int, ...], arch: int, sigma: float = 5.0):
    """The fused kernel compiled for ``sm_<arch>``, with the constants and the integer
    specialization (multiples of 16, ones) of a launch on a contiguous float32 ``shape``."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    tile, warps, registers = setting["TILE"], setting["WARPS"], setting["REGISTERS"]
    rows, vertical, blocks, block = tile
    height, width = shape[-2:]
    taps = _triton._taps(sigma, _triton._kernel_size(sigma, None)) if call.highpass else ()
    radius = len(taps) // 2
    grid_h, grid_w = -(-height // 32), -(-width // 32)  # MSCNMask's default cells
    values = {
        "total": math.prod(shape[:-2]) * -(-height // rows), "stripes": -(-height // rows), "height": height,
        "width": width, "padded": -(-width // (blocks * block)) * blocks * block + 2 * radius,
        "channels": shape[-3], "cell_channels": shape[-3], "box_channels": 1, "grid_h": grid_h,
        "grid_w": grid_w, "cell_h": 32,
    }
    constants = {
        "TAPS": tuple(taps), "HIGHPASS": call.highpass, "RADIUS": radius, "MASK": call.mask_mode,
        "FOCAL": call.boxes, "NOISE": call.noise, "INVERT": False, "TR": rows, "VW": vertical, "HB": blocks,
        "HC": block, "TR_LEVELS": rows.bit_length() - 1, "HC_LEVELS": block.bit_length() - 1,
    }
    names = _triton._fused.arg_names
    signature, attrs = {}, {}
    for index, name in enumerate(names):
        if name in constants or values.get(name) == 1:
            signature[name] = "constexpr"
            constants.setdefault(name, 1)
        elif name.endswith("_ptr"):
            signature[name] = POINTERS.get(name, "*i1")
            attrs[(index,)] = [["tt.divisibility", 16]]
        elif name in values:
            signature[name] = "i32"
            if values[name] % 16 == 0:
                attrs[(index,)] = [["tt.divisibility", 16]]
        else:
            signature[name] = "fp32"
    fixed = {(names.index(name),): value for name, value in constants.items() if name in names}
    source = ASTSource(_triton._fused, signature, fixed, attrs)
    options = {"num_warps": warps, "num_stages": 1, **({} if registers is None else {"maxnreg": registers})}
    return triton.compile(source, target=GPUTarget("cuda", arch, 32), options=options)


def disassemble(kernel) -> tuple[list[tuple[int, str, str]], dict[str, int]]:
    """The kernel's SASS as ``(address, opcode, operands)``, and its registers and stack bytes."""
    with tempfile.TemporaryDirectory() as folder:
        cubin = Path(folder) / "kernel.cubin"
        cubin.write_bytes(kernel.asm["cubin"])
        sass = subprocess.run([_tool("cuobjdump"), "-sass", cubin], capture_output=True, text=True, check=True).stdout
        usage = subprocess.run([_tool("cuobjdump"), "-res-usage", cubin], capture_output=True, text=True,
                               check=True).stdout
    lines = [(int(m[1], 16), m[2], m[3]) for m in map(_LINE.match, sass.splitlines()) if m]
    resources = {key: int(re.search(rf"{key}:(\d+)", usage)[1]) for key in ("REG", "STACK")}
    return lines, resources


def _branches(lines):
    """``(address, target)`` of every branch with a literal target."""
    found = []
    for address, opcode, operands in lines:
        target = _TARGET.match(operands)
        if opcode.startswith("BRA") and target:
            found.append((address, int(target[1], 16)))
    return found


def issued(lines, call: Call, trips: tuple[int, ...], noisy: float) -> tuple[float, float, int]:
    """Instructions a thread issues per program (outside the loop over stripes) and per stripe,
    and the noise block's length.

    Loops are the spans of backward branches: the largest walks over stripes, the others (the
    vertical pass, then the horizontal one, in address order) take ``trips``. The noise block is
    the largest forward branch inside the horizontal loop, run in a share ``noisy`` of its trips.
    """
    loops = sorted(((target, address) for address, target in _branches(lines) if target < address),
                   key=lambda span: span[0] - span[1])
    stripe, inner = loops[0], sorted(loops[1:])
    if len(inner) != len(trips):
        raise RuntimeError(f"expected {len(trips)} loops inside the loop over stripes, found {len(inner)}: "
                           "the kernel's structure changed, update kernel_cost.issued")
    horizontal = inner[-1]
    block = (0, 0)
    if call.noise:
        forward = [(address, target) for address, target in _branches(lines)
                   if horizontal[0] <= address < target <= horizontal[1]]
        block = max(forward, key=lambda span: span[1] - span[0])
    per_program = per_stripe = 0.0
    for address, opcode, _ in lines:
        if opcode == "NOP":
            continue
        if not stripe[0] <= address <= stripe[1]:
            per_program += 1
            continue
        weight = 1.0
        for (start, end), count in zip(inner, trips):
            if start <= address <= end:
                weight *= count
        if block[0] < address < block[1]:
            weight *= noisy
        per_stripe += weight
    return per_program, per_stripe, (block[1] - block[0]) // 16


def noisy_share(mask: torch.Tensor, rows: int, columns: int) -> float:
    """The share of tiles of ``rows x columns`` (over the last two axes) that hold a masked element."""
    height, width = mask.shape[-2:]
    padded = torch.zeros((*mask.shape[:-2], -(-height // rows) * rows, -(-width // columns) * columns),
                         dtype=torch.bool)
    padded[..., :height, :width] = mask
    tiles = padded.unflatten(-1, (-1, columns)).unflatten(-3, (-1, rows)).any(dim=(-3, -1))
    return float(tiles.float().mean())


def masks(shape: tuple[int, ...], seed: int = 0) -> dict[str, torch.Tensor]:
    """The mask of each call that has one, drawn on the CPU."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "high-pass + noise fill, element mask": torch.rand(shape, generator=generator) < 0.15,  # as tune.py draws it
        "MSCNMask": MSCNMask(layout="b c h w", generator=generator).sample_mask(shape).expand(shape),
    }


def cost(call: Call, setting: dict, shape: tuple[int, ...], arch: int, mask: torch.Tensor | None, *,
         processors: int = 132, sigma: float = 5.0) -> dict:
    """One row of the table: ``call`` with the kernel ``setting`` on ``shape`` for ``sm_<arch>``
    (``processors`` multiprocessors, for settings that size the grid by them)."""
    rows, vertical, blocks, block = setting["TILE"]
    height, width = shape[-2:]
    lines, resources = disassemble(compile_kernel(call, setting, shape, arch, sigma))
    trips = ((-(-width // vertical),) if call.highpass else ()) + (-(-width // (blocks * block)),)
    noisy = None if not call.noise else 1.0 if mask is None else noisy_share(mask, rows, blocks * block)
    per_program, per_stripe, noise_block = issued(lines, call, trips, noisy or 0.0)
    stripes = math.prod(shape[:-2]) * -(-height // rows)
    per_sm = setting["PROGRAMS_PER_SM"]
    programs = stripes if per_sm is None else min(stripes, per_sm * processors)
    opcodes = collections.Counter(opcode.split(".")[0] for _, opcode, _ in lines)
    return {
        "call": call.name,
        "setting": describe(setting),
        "registers": resources["REG"],
        "spill_bytes": resources["STACK"],
        "sass_instructions": sum(n for opcode, n in opcodes.items() if opcode != "NOP"),
        "noise_block": noise_block,
        "noisy_tiles": None if noisy is None else round(noisy, 4),
        "warp_instructions_m": round((programs * per_program + stripes * per_stripe) * setting["WARPS"] / 1e6, 2),
    }


def run(args: argparse.Namespace) -> dict:
    shape = (args.batch, 3, args.size, args.size)
    drawn = masks(shape)
    settings = SETTINGS[: args.settings] if args.settings else SETTINGS
    rows = []
    print(f"{'call':<40} {'setting':<76} {'regs':>4} {'spill':>5} {'sass':>5} {'noisy':>6} {'warp instr':>11}")
    for call in calls(args.size):
        for setting in settings:
            row = cost(call, setting, shape, args.arch, drawn.get(call.name), processors=args.processors,
                       sigma=args.sigma)
            rows.append(row)
            noisy = "-" if row["noisy_tiles"] is None else f"{row['noisy_tiles']:.3f}"
            print(f"{row['call']:<40} {row['setting']:<76} {row['registers']:>4} {row['spill_bytes']:>5} "
                  f"{row['sass_instructions']:>5} {noisy:>6} {row['warp_instructions_m']:>10.1f}M", flush=True)
    return {
        "arch": f"sm_{args.arch}",
        "triton": __import__("triton").__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "shape": list(shape),
        "sigma": args.sigma,
        "model": "warp instructions issued per call, from the SASS; not a timing",
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", type=int, default=90, help="CUDA compute capability times 10 (90: H100, H200)")
    parser.add_argument("--processors", type=int, default=132, help="multiprocessors (132: H100 SXM, H200)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--sigma", type=float, default=5.0, help="the high-pass's sigma (5: MSCNMask's default)")
    parser.add_argument("--settings", type=int, default=0, help="count only the first N settings (default all)")
    parser.add_argument("--out", type=Path, required=True, help="JSON path")
    args = parser.parse_args(argv)
    result = run(args)
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
