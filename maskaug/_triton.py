"""Fused GPU kernel (Triton): the high-pass over the last two axes, the mask and the fill, in one pass.

Each program makes a stripe of ``TILE_ROWS`` output rows of one plane (one ``H x W`` image of one
channel of one sample), ``CHUNK`` columns at a time, on the tensor cores:

1. it gathers the ``2 * TILE_ROWS`` input rows around the stripe and ``CHUNK`` columns, reflected
   at the borders, so that both blurs become products with fixed banded matrices: the vertical
   blur is ``bh @ rows`` (``bh``: ``TILE_ROWS x 2 * TILE_ROWS``), the horizontal one
   ``current @ t0 + following @ t1`` over two neighbouring chunks (``CHUNK x CHUNK`` each);
2. it subtracts the blur from ``x`` and, where the mask is set, writes noise (Philox, generated
   in registers, never stored) or a constant, and stores the result: ``x`` is read from memory
   about twice (the stripe's halo) and the output written once.

The products run in ``tf32x3`` (three TF32 products, float32 accuracy) on float32 inputs, and
in TF32 on half-precision ones, whose output holds fewer bits than one TF32 product. The mask is read either
as a tensor of ``x``'s shape, or (for `MSCNMask`) computed in the kernel from the drawn cells of
each plane and its box, so the element mask is never written.

The noise seed is drawn from the caller's ``torch.Generator`` as a one-element tensor that the
kernel reads, so there is no host synchronization and the same generator state gives the same
noise. The kernel is registered as a torch custom op (``torch.library.triton_op``) so that
``torch.compile`` traces through it. It runs on CUDA tensors, and on CPU tensors under
``TRITON_INTERPRET=1`` (slowly), which is how the tests check it on machines without a GPU.
"""

from __future__ import annotations

import functools
import os
from contextlib import nullcontext

import torch

from maskaug._gaussian import _kernel_size, gaussian_kernel

try:
    import triton
    import triton.language as tl
    from torch.library import wrap_triton
except ImportError:  # pragma: no cover - triton ships with CUDA builds of torch
    triton = None

_INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"

#: Output rows per program; 64 where the kernel's radius needs it (a radius up to half of it).
TILE_ROWS = 32
#: Columns per step of a program, and the size of the horizontal blur's matrices.
CHUNK = 64
#: Warps per program (8 keeps the 32-row tiles in registers: 4 spilled when compiled for an H100).
NUM_WARPS = 8
#: The largest kernel radius the fused kernel filters (sigma 10.6 with the full Gaussian).
MAX_RADIUS = 32

_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


def usable(x: torch.Tensor, radius: int = 0) -> bool:
    """Whether the fused kernel can run on ``x`` (with a high-pass of ``radius``, if any).

    It needs Triton, a half or single precision ``x`` that does not need a gradient, on CUDA (or
    on the CPU under ``TRITON_INTERPRET=1``), and a radius of at most `MAX_RADIUS`, shorter than
    both filtered axes. Setting
    ``MASKAUG_DISABLE_TRITON=1`` turns it off. Everything else takes the pure-torch path, which
    gives the same masks and agrees on the filtered values within float32 rounding (the noise fill
    is drawn by a different generator algorithm).
    """
    if triton is None or os.environ.get("MASKAUG_DISABLE_TRITON") == "1" or x.dtype not in _DTYPES:
        return False
    if x.requires_grad and torch.is_grad_enabled():
        return False
    if radius > MAX_RADIUS or (radius and (x.ndim < 2 or min(x.shape[-2:]) <= radius)):
        return False  # the torch path filters, or says why it can't
    return x.is_cuda or (_INTERPRET and x.device.type == "cpu")


def draw_seed(generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """A one-element int64 Philox seed drawn from ``generator``, on ``device``."""
    source = device if generator is None else generator.device
    seed = torch.randint(0, 2**31 - 1, (1,), generator=generator, device=source, dtype=torch.int64)
    return seed.to(device)


@functools.lru_cache(maxsize=32)
def _matrices(sigma: float, size: int, tile_rows: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """The float32 blur matrices ``(bh, t0, t1)`` of the kernel, built on ``device`` (no host copy).

    ``bh[i, j] = taps[j - i]``, ``t0[k, j] = taps[k - j]``, ``t1[k, j] = taps[CHUNK + k - j]``, zero
    where the tap index is outside the kernel. Cached: never modify them.
    """
    with torch.inference_mode(False):
        taps = gaussian_kernel(sigma, size, dtype=torch.float32, device=device)

        def banded(rows: int, cols: int, shift: int) -> torch.Tensor:
            offset = torch.arange(cols, device=device) - torch.arange(rows, device=device)[:, None] + shift
            inside = (offset >= 0) & (offset < size)
            return torch.where(inside, taps[offset.clamp(0, size - 1)], 0.0).contiguous()

        bh = banded(tile_rows, 2 * tile_rows, 0)
        t0 = banded(CHUNK, CHUNK, 0).T.contiguous()
        t1 = banded(CHUNK, CHUNK, CHUNK).T.contiguous()
        return bh, t0, t1


if triton is not None:

    @triton.jit
    def _reflect(index, length):
        """Reflect ``index`` once at both ends of ``[0, length)``, then clamp it there (for rows nobody keeps)."""
        index = tl.where(index < 0, -index, index)
        index = tl.where(index >= length, 2 * (length - 1) - index, index)
        return tl.minimum(tl.maximum(index, 0), length - 1)

    @triton.jit
    def _fused(
        x_ptr, out_ptr, bh_ptr, t0_ptr, t1_ptr, mask_ptr, cells_ptr, start_ptr, extent_ptr, focal_ptr, seed_ptr,
        height, width, radius, channels, cell_channels, box_channels, grid_h, grid_w, cell_h, cell_w,
        fill_scale, fill_value,
        HIGHPASS: tl.constexpr, PRECISION: tl.constexpr, MASK: tl.constexpr, FOCAL: tl.constexpr,
        NOISE: tl.constexpr, INVERT: tl.constexpr, TR: tl.constexpr, CW: tl.constexpr, CHUNKS: tl.constexpr,
    ):
        plane = tl.program_id(0).to(tl.int64)
        first_row = tl.program_id(1) * TR
        base = plane * height * width
        rows = first_row + tl.arange(0, TR)[:, None]
        lanes = tl.arange(0, CW)[None, :]
        if HIGHPASS:
            # the input rows of the stripe, reflected: the vertical blur is then the same band everywhere
            sources = _reflect(first_row - radius + tl.arange(0, 2 * TR), height)[:, None] * width
            band = tl.arange(0, TR)[:, None] * (2 * TR) + tl.arange(0, 2 * TR)[None, :]
            square = tl.arange(0, CW)[:, None] * CW + lanes
            # chunk c of the reflected columns holds input columns reflect(c * CW + j - radius)
            window = tl.load(x_ptr + base + sources + _reflect(lanes - radius, width)).to(tl.float32)
            current = tl.dot(tl.load(bh_ptr + band), window, input_precision=PRECISION)
        if MASK == 2:
            # the plane's sample and channel; cells and boxes shared by the channels are stored once
            sample = plane // channels
            channel = plane % channels
            cell_plane = sample * cell_channels + channel % cell_channels
            cell_rows = cells_ptr + cell_plane * grid_h * grid_w + (rows // cell_h) * grid_w
            if FOCAL:
                focal = tl.load(focal_ptr + sample) != 0
                corner = start_ptr + (sample * box_channels + channel % box_channels) * 2
                top, left = tl.load(corner), tl.load(corner + 1)
                bottom, right = top + tl.load(extent_ptr + sample * 2), left + tl.load(extent_ptr + sample * 2 + 1)
        if NOISE:
            seed = tl.load(seed_ptr)
        # a loop, not unrolled: the matrices are loaded where they are used, so nothing spills
        for chunk in tl.range(0, CHUNKS):
            cols = chunk * CW + lanes
            inside = (rows < height) & (cols < width)
            offsets = base + rows * width + cols
            result = tl.load(x_ptr + offsets, mask=inside, other=0.0).to(tl.float32)
            if HIGHPASS:
                window = tl.load(x_ptr + base + sources + _reflect(cols + CW - radius, width)).to(tl.float32)
                following = tl.dot(tl.load(bh_ptr + band), window, input_precision=PRECISION)
                result -= tl.dot(current, tl.load(t0_ptr + square), input_precision=PRECISION)
                result -= tl.dot(following, tl.load(t1_ptr + square), input_precision=PRECISION)
                current = following
            if MASK != 0:
                if MASK == 1:
                    hit = tl.load(mask_ptr + offsets, mask=inside, other=0) != 0
                else:
                    hit = tl.load(cell_rows + cols // cell_w, mask=inside, other=0) != 0
                    if FOCAL:
                        in_box = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
                        if INVERT:
                            in_box = ~in_box
                        hit = tl.where(focal, in_box, hit)
                if NOISE:
                    filler = tl.randn(seed, offsets) * fill_scale
                else:
                    filler = tl.zeros((TR, CW), dtype=tl.float32) + fill_value
                result = tl.where(hit, filler, result)
            tl.store(out_ptr + offsets, result.to(out_ptr.dtype.element_ty), mask=inside)

    @torch.library.triton_op("maskaug::highpass_fill", mutates_args=())
    def highpass_fill(
        x: torch.Tensor,
        bh: torch.Tensor,
        t0: torch.Tensor,
        t1: torch.Tensor,
        mask: torch.Tensor,
        cells: torch.Tensor,
        start: torch.Tensor,
        extent: torch.Tensor,
        focal: torch.Tensor,
        seed: torch.Tensor,
        radius: int,
        mask_mode: int,
        boxes: bool,
        noise: bool,
        invert: bool,
        channels: int,
        cell_channels: int,
        box_channels: int,
        cell_h: int,
        cell_w: int,
        fill_scale: float,
        fill_value: float,
    ) -> torch.Tensor:
        """``where(mask, fill, x - blur(x))`` over the last two axes of a contiguous ``x``.

        ``radius`` 0 skips the high-pass (``bh``, ``t0``, ``t1`` from `_matrices` otherwise).
        ``mask_mode`` 0: no mask; 1: ``mask``, uint8 of ``x``'s shape; 2: the mask of `pack`'s
        tensors, ``cells`` of ``cell_h x cell_w`` elements and, with ``boxes``, ``start``,
        ``extent`` and ``focal``. ``seed``: one-element int64 tensor (used when ``noise``).
        Tensors a mode does not use are never read.
        """
        height, width = x.shape[-2], x.shape[-1]
        out = torch.empty_like(x)
        if x.numel() == 0:
            return out
        tile_rows = bh.shape[0] if radius else TILE_ROWS
        planes = x.numel() // (height * width)
        grid = (planes, triton.cdiv(height, tile_rows))
        # the matrices are float32; half-precision inputs and outputs need no more than one TF32 product
        precision = "tf32x3" if x.dtype == torch.float32 else "tf32"
        kernel = _fused if _INTERPRET else wrap_triton(_fused)
        # Triton launches on the current device, which need not be x's
        on_device = torch.cuda.device(x.device) if x.is_cuda and not torch.compiler.is_compiling() else nullcontext()
        with on_device:
            kernel[grid](
                x, out, bh, t0, t1, mask, cells, start, extent, focal, seed,
                height, width, radius, channels, cell_channels, box_channels, cells.shape[-2], cells.shape[-1],
                cell_h, cell_w, fill_scale, fill_value,
                HIGHPASS=radius > 0, PRECISION=precision, MASK=mask_mode, FOCAL=boxes, NOISE=noise, INVERT=invert,
                TR=tile_rows, CW=CHUNK, CHUNKS=triton.cdiv(width, CHUNK), num_warps=NUM_WARPS, num_stages=1,
            )
        return out


def packs(drawn, x: torch.Tensor) -> bool:
    """Whether the kernel can compute ``drawn``'s mask itself (see `pack`)."""
    return len(drawn.geo.masked) == 2 and drawn.geo.order == list(range(x.ndim))


def pack(drawn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None,
                                           torch.Tensor | None, int, int]:
    """A drawn mask (a ``maskaug.masks._Drawn``) as the kernel reads it: views of its own tensors.

    The kernel computes the mask of a plane from its cells and box when ``x``'s axes are the
    sample axes, then the channel axis (if any), then the two masked axes, in that order
    (`packs`). Cells and box corners shared by the channels of a sample are stored once; the
    kernel finds them from the plane's sample and channel.

    Returns:
        ``(cells, start, extent, focal, cell_channels, box_channels)``: the cells as uint8
        ``(S * cell_channels, GH, GW)``; the box corners, int64 ``(S * box_channels, 2)``; the box
        extents, int64 ``(S, 2)``; whether each sample gets its box, uint8 ``(S,)``; the last three
        ``None`` without boxes.
    """
    samples = len(drawn.geo.sample)
    grid = drawn.grid
    cells = grid.reshape(-1, *grid.shape[samples + 1 :]).contiguous().view(torch.uint8)
    if drawn.focal is None:
        return cells, None, None, None, grid.shape[samples], 1
    start = drawn.start.reshape(-1, 2).contiguous()
    extent = drawn.extent.reshape(-1, 2).contiguous()
    focal = drawn.focal.reshape(-1).contiguous().view(torch.uint8)
    return cells, start, extent, focal, grid.shape[samples], drawn.start.shape[samples]


def fused(
    x: torch.Tensor,
    *,
    sigma: float | None,
    kernel_size: int | None = None,
    mask: torch.Tensor | None = None,
    drawn=None,
    fill: str = "noise",
    noise_std: float = 1.0,
    value: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """High-pass over the last two axes (when ``sigma`` is given), then mask and fill.

    The mask is ``mask``, or the drawn mask ``drawn`` (a ``maskaug.masks._Drawn`` that `packs`
    accepts), or none.

    Shape:
        - x: ``(..., H, W)``, half or single precision, on CUDA (or CPU under the interpreter).
        - mask: bool, broadcastable to ``x.shape``.
        - output: ``x.shape`` and ``x.dtype``.
    """
    x = x.contiguous()
    unused = x.new_empty(1, dtype=torch.int64)  # for the tensors a mode never reads
    radius = 0
    bh = t0 = t1 = unused
    if sigma is not None:
        size = _kernel_size(sigma, kernel_size)
        radius = size // 2
        bh, t0, t1 = _matrices(float(sigma), size, TILE_ROWS if 2 * radius <= TILE_ROWS else 64, x.device)
    mask_u8, cells, start, extent, focal, mode, cell, shares = unused, unused[None, None], None, None, None, 0, (1, 1), (1, 1)
    if drawn is not None:
        cells, start, extent, focal, *shares = pack(drawn, x)
        mode, cell = 2, drawn.cells
    elif mask is not None:
        mask_u8, mode = mask.to(x.device).expand(x.shape).contiguous().view(torch.uint8), 1
    boxes = start is not None
    noise = mode != 0 and fill == "noise"
    seed = draw_seed(generator, x.device) if noise else unused
    invert = bool(drawn is not None and drawn.invert)
    channels = x.shape[drawn.geo.channel] if drawn is not None and drawn.geo.channel is not None else 1
    return highpass_fill(
        x, bh, t0, t1, mask_u8, cells, *((start, extent, focal) if boxes else (unused,) * 3), seed, radius, mode,
        boxes, noise, invert, channels, *shares, cell[0], cell[1], float(noise_std), float(value),
    )
