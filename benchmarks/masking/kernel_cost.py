"""What the fused kernel costs a GPU, counted on any machine (no GPU needed).

Compiles maskaug's fused Triton kernel for a CUDA architecture (``--arch``, default 90: the H100
and H200) as a launch on an image batch specializes it, disassembles it with the NVIDIA tools
that ship with Triton, and counts, for each kernel setting of `tune` and three calls (the
high-pass alone; the high-pass and a noise fill under an element mask, as `tune` times it; and
`MSCNMask` with its defaults, whose launch arguments come from a real draw):

- registers per thread and bytes spilled to local memory (the stack frame);
- SASS instructions in the kernel;
- warp instructions one call issues: each loop's body times its trips over a row, and the noise
  block of a horizontal tile times the share of tiles that hold a masked element (measured on the
  call's mask, since tiles without one skip the noise).

The kernel issues instructions faster than it waits on memory, so on one device its time follows
the warp instructions while the warps a multiprocessor holds stay the same (the docs give the
measured relation). The count compares kernel variants before a GPU times them; it is a model,
not a measurement.

    python -m benchmarks.masking.kernel_cost --out benchmarks/masking/results/kernel-cost-sm90.json
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from maskaug import MSCNMask, _triton
from maskaug.masks import _render

from .peers import write_result
from .tune import SETTINGS, describe

#: The element types of the kernel's pointers (the others are bool).
POINTERS = {"x_ptr": "*fp32", "out_ptr": "*fp32", "scratch_ptr": "*fp32", "seed_ptr": "*fp32", "start_ptr": "*i64",
            "extent_ptr": "*i64"}
#: Philox's multipliers as SASS writes them (signed): the noise block draws with them.
_PHILOX = re.compile(r"-0x2daee0ad|-0x3261d2a9|0xd2511f53|0xcd9e8d57", re.IGNORECASE)
_LINE = re.compile(r"\s*/\*([0-9a-f]+)\*/\s+(?:@!?U?P\w+\s+)?([A-Z0-9_.]+)\s*([^;]*);")
_TARGET = re.compile(r"(?:\S+\s*,\s*)*(0x[0-9a-f]+)\s*$")


@dataclass(frozen=True)
class Call:
    """One call of the fused kernel, with the high-pass: its mask (``"none"``, ``"element"``: 15% of
    the elements, or ``"MSCNMask"``: a draw of the default policy)."""

    name: str
    mask: str


#: The calls counted.
CALLS = (Call("high-pass", "none"), Call("high-pass + noise fill, element mask", "element"), Call("MSCNMask", "MSCNMask"))


@dataclass(frozen=True)
class Launch:
    """The mask's part of a launch of the kernel, as `maskaug._triton.fused` passes it: its
    constants, its integers, and the element mask (``None`` without one), ``x``'s shape."""

    constants: dict
    integers: dict
    mask: torch.Tensor | None


def launch(call: Call, shape: tuple[int, ...], seed: int = 0) -> Launch:
    """What a launch of ``call`` on ``shape`` passes about its mask, drawn on the CPU."""
    unused = {"channels": 1, "cell_channels": 1, "box_channels": 1, "grid_h": 1, "grid_w": 1, "cell_h": 1}
    generator = torch.Generator().manual_seed(seed)
    if call.mask == "none":
        return Launch({"MASK": 0, "FOCAL": False, "NOISE": False, "INVERT": False}, unused, None)
    if call.mask == "element":  # as tune.py draws it
        mask = torch.rand(shape, generator=generator) < 0.15
        return Launch({"MASK": 1, "FOCAL": False, "NOISE": True, "INVERT": False}, unused, mask)
    module = MSCNMask(layout="b c h w", generator=generator)
    drawn = module._draw(shape, torch.device("cpu"))
    cells, _, _, _, cell_channels, box_channels = _triton.pack(drawn)
    grid_h, grid_w = cells.shape[-2:]
    constants = {"MASK": _triton.cell_mode(grid_w), "FOCAL": drawn.focal is not None,
                 "NOISE": module.fill == "noise", "INVERT": bool(drawn.invert)}
    integers = {"channels": shape[1], "cell_channels": cell_channels, "box_channels": box_channels,
                "grid_h": grid_h, "grid_w": grid_w, "cell_h": drawn.cells[0]}
    return Launch(constants, integers, _render(drawn).expand(shape))


def _tool(name: str) -> Path:
    import triton

    path = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{name} is not in this Triton's NVIDIA backend ({path}): "
                                "install a CUDA build of torch")
    return path


def compile_kernel(call: Call, masked: Launch, setting: dict, shape: tuple[int, ...], arch: int, sigma: float = 5.0):
    """The fused kernel compiled for ``sm_<arch>``, with the constants and the integer
    specialization (multiples of 16, ones) of a launch on a contiguous float32 ``shape``."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    height, width = shape[-2:]
    taps = _triton._taps(sigma, _triton._kernel_size(sigma, None))
    stripes, total, padded = _triton.launch_sizes(shape, len(taps) // 2, setting["TILE"])
    integers = {"total": total, "stripes": stripes, "height": height, "width": width, "padded": padded,
                **masked.integers}
    constants = {**masked.constants, **_triton.filter_constants(taps, setting["TILE"])}
    names = _triton._fused.arg_names
    signature, attrs = {}, {}
    for index, name in enumerate(names):
        if name in constants or integers.get(name) == 1:
            signature[name] = "constexpr"
            constants.setdefault(name, 1)
        elif name.endswith("_ptr"):
            signature[name] = POINTERS.get(name, "*i1")
            attrs[(index,)] = [["tt.divisibility", 16]]
        elif name in integers:
            signature[name] = "i32"
            if integers[name] % 16 == 0:
                attrs[(index,)] = [["tt.divisibility", 16]]
        else:
            signature[name] = "fp32"
    fixed = {(names.index(name),): value for name, value in constants.items()}
    source = ASTSource(_triton._fused, signature, fixed, attrs)
    options = {"num_warps": setting["WARPS"], "num_stages": 1}
    if setting["REGISTERS"] is not None:
        options["maxnreg"] = setting["REGISTERS"]
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


def _branches(lines) -> list[tuple[int, int]]:
    """``(address, target)`` of every branch; an error if one's target is not an address."""
    found = []
    for address, opcode, operands in lines:
        if opcode.startswith("CALL"):
            raise RuntimeError(f"the kernel calls a subroutine at {address:#x} ({operands}), which this count "
                               "does not follow: keep the kernel's arithmetic free of 64-bit divisions")
        if opcode.startswith("BRA"):
            target = _TARGET.match(operands)
            if target is None:
                raise RuntimeError(f"a branch at {address:#x} without a literal target: {operands!r}")
            found.append((address, int(target[1], 16)))
    return found


def issued(lines, noise: bool, trips: tuple[int, ...], noisy: float) -> tuple[float, float, int]:
    """Instructions a thread issues per program (before the loop over stripes, and after it up to
    an exit) and per stripe, and the noise block's length (0 without ``noise``).

    Loops are the spans of backward branches: the largest walks over stripes, the others (the
    vertical pass, then the horizontal one, in address order) take ``trips``. The noise block is
    the largest forward branch inside the horizontal loop, run in a share ``noisy`` of its trips;
    it must draw with Philox's multipliers.
    """
    branches = _branches(lines)
    loops = sorted(((target, address) for address, target in branches if target < address),
                   key=lambda span: span[0] - span[1])
    if len(loops) != len(trips) + 1:
        raise RuntimeError(f"expected a loop over stripes around {len(trips)} loops, found {len(loops)} loops: "
                           "the kernel's structure changed, update kernel_cost.issued")
    stripe, inner = loops[0], sorted(loops[1:])
    block = (0, 0)
    if noise:
        horizontal = inner[-1]
        forward = [(address, target) for address, target in branches
                   if horizontal[0] <= address < target <= horizontal[1]]
        block = max(forward, key=lambda span: span[1] - span[0])
        if not any(_PHILOX.search(operands) for address, _, operands in lines if block[0] < address < block[1]):
            raise RuntimeError("the largest branch in the horizontal loop does not draw noise: "
                               "update kernel_cost.issued")
    end = min((address for address, opcode, _ in lines if opcode == "EXIT" and address > stripe[1]), default=stripe[1])
    per_program = per_stripe = 0.0
    for address, opcode, _ in lines:
        if opcode == "NOP" or address > end:
            continue  # past the last exit: padding
        if not stripe[0] <= address <= stripe[1]:
            per_program += 1
            continue
        weight = 1.0
        for (start, stop), count in zip(inner, trips):
            if start <= address <= stop:
                weight *= count
        if block[0] < address < block[1]:
            weight *= noisy
        per_stripe += weight
    return per_program, per_stripe, (block[1] - block[0]) // 16


def noisy_share(mask: torch.Tensor, rows: int, columns: int) -> float:
    """The share of tiles of ``rows x columns`` (over the last two axes of a bool ``mask``) that
    hold a masked element."""
    height, width = mask.shape[-2:]
    padded = torch.zeros((*mask.shape[:-2], -(-height // rows) * rows, -(-width // columns) * columns),
                         dtype=torch.bool)
    padded[..., :height, :width] = mask
    tiles = padded.unflatten(-1, (-1, columns)).unflatten(-3, (-1, rows)).any(dim=(-3, -1))
    return float(tiles.float().mean())


def cost(call: Call, masked: Launch, setting: dict, shape: tuple[int, ...], arch: int, *,
         processors: int = 132, sigma: float = 5.0) -> dict:
    """One row of the table: ``call`` (with ``masked``, its `launch` on ``shape``) under the kernel
    ``setting``, for ``sm_<arch>`` (``processors`` multiprocessors, for settings that size the
    grid by them)."""
    rows, vertical, blocks, block = setting["TILE"]
    height, width = shape[-2:]
    lines, resources = disassemble(compile_kernel(call, masked, setting, shape, arch, sigma))
    trips = (-(-width // vertical), -(-width // (blocks * block)))
    noise = masked.constants["NOISE"]
    noisy = noisy_share(masked.mask, rows, blocks * block) if noise else None
    per_program, per_stripe, noise_block = issued(lines, noise, trips, noisy or 0.0)
    stripes = _triton.launch_sizes(shape, 0, setting["TILE"])[1]
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
    settings = SETTINGS[: args.settings] if args.settings else SETTINGS
    rows = []
    print(f"{'call':<40} {'setting':<76} {'regs':>4} {'spill':>5} {'sass':>5} {'noisy':>6} {'warp instr':>11}")
    for call in CALLS:
        masked = launch(call, shape)
        for setting in settings:
            row = cost(call, masked, setting, shape, args.arch, processors=args.processors, sigma=args.sigma)
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
    try:
        _tool("cuobjdump")
    except FileNotFoundError as error:
        raise SystemExit(str(error)) from None
    result = run(args)
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
