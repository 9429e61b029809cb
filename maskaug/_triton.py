"""Fused GPU kernel (Triton): the high-pass over the last two axes, the mask and the fill, in one pass.

A program makes a stripe of ``TILE[0]`` rows of one plane (one ``H x W`` image of one channel of
one sample), ``TILE[1]`` columns at a time:

1. the vertical blur of the stripe, tap by tap on the CUDA cores in float32, from the stripe's
   input rows (reflected at the borders), into the program's own scratch, transposed;
2. the horizontal blur, tap by tap from whole aligned rows of that scratch (so that both passes
   load aligned vectors), subtracted from ``x``; then the mask, the fill and one store.

The scratch of all programs together is float32 of about ``x.numel()`` elements (rows padded to a
whole tile): a high-pass call needs that much device memory on top of its output.

Where the mask is set, the kernel writes noise (Philox, generated in registers, never stored, and
only for tiles with a masked element) or a constant. The mask is read either as a tensor of
``x``'s shape, or (for `MSCNMask`) computed in the kernel from the drawn cells of each plane and
its box, so the element mask is never written.

The noise seed is drawn from the caller's ``torch.Generator`` as a one-element tensor that the
kernel reads, so there is no host synchronization and the same generator state gives the same
noise. The launch is registered as a torch custom op (``torch.library.triton_op``) so that
``torch.compile`` traces through it; eager calls launch directly. It runs on CUDA tensors, and on
CPU tensors under ``TRITON_INTERPRET=1`` (slowly), which is how the tests check it on machines
without a GPU.
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

#: ``(rows, columns)`` of a program's tile, its warps, and the taps per step of its loops: small
#: tiles keep a program's registers under 80, so that many programs share a multiprocessor.
TILE = (8, 64)
WARPS = 4
UNROLL = 2
#: The largest kernel radius the fused kernel filters (sigma 10.6 with the full Gaussian).
MAX_RADIUS = 32

_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


def runs_on(device: torch.device) -> bool:
    """Whether Triton kernels run on ``device``: CUDA, or the CPU under ``TRITON_INTERPRET=1``;
    never with ``MASKAUG_DISABLE_TRITON=1``."""
    if triton is None or os.environ.get("MASKAUG_DISABLE_TRITON") == "1":
        return False
    return device.type == "cuda" or (_INTERPRET and device.type == "cpu")


def usable(x: torch.Tensor, radius: int = 0) -> bool:
    """Whether the fused kernel can run on ``x`` (with a high-pass of ``radius``, if any).

    It needs a device where Triton kernels run (`runs_on`), a half or single precision ``x`` that
    does not need a gradient, and a radius of at most `MAX_RADIUS`, shorter than both filtered
    axes. Everything else takes the pure-torch path, which gives the same masks and agrees on the
    filtered values within float32 rounding (the noise fill is drawn by a different generator
    algorithm).
    """
    if x.dtype not in _DTYPES or (x.requires_grad and torch.is_grad_enabled()):
        return False
    if radius > MAX_RADIUS or (radius and (x.ndim < 2 or min(x.shape[-2:]) <= radius)):
        return False  # the torch path filters, or says why it can't
    return runs_on(x.device)


def draw_seed(generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """A one-element int64 Philox seed drawn from ``generator``, on ``device``."""
    source = device if generator is None else generator.device
    seed = torch.randint(0, 2**31 - 1, (1,), generator=generator, device=source, dtype=torch.int64)
    return seed.to(device)


@functools.lru_cache(maxsize=32)
def _taps(sigma: float, size: int, device: torch.device) -> torch.Tensor:
    """The float32 Gaussian taps of the kernel, built on ``device`` (no host copy). Cached: never modify them."""
    with torch.inference_mode(False):
        return gaussian_kernel(sigma, size, dtype=torch.float32, device=device)


if triton is not None:

    @triton.jit
    def _reflect(index, length):
        """Reflect ``index`` once at both ends of ``[0, length)``, then clamp it there (for rows nobody keeps)."""
        index = tl.where(index < 0, -index, index)
        index = tl.where(index >= length, 2 * (length - 1) - index, index)
        return tl.minimum(tl.maximum(index, 0), length - 1)

    @triton.jit
    def _plane_mask(
        plane, rows, cells_ptr, start_ptr, extent_ptr, focal_ptr,
        channels, cell_channels, box_channels, grid_h, grid_w, cell_h, FOCAL: tl.constexpr,
    ):
        """Where a plane's drawn mask lives: its rows of cells, and its box (``focal`` says if it has one)."""
        # the plane's sample and channel; cells and boxes shared by the channels are stored once
        sample = plane // channels
        channel = plane % channels
        cell_plane = sample * cell_channels + channel % cell_channels
        cell_rows = cells_ptr + cell_plane * grid_h * grid_w + (rows // cell_h) * grid_w
        focal = False
        top, left, bottom, right = 0, 0, 0, 0
        if FOCAL:
            focal = tl.load(focal_ptr + sample) != 0
            corner = start_ptr + (sample * box_channels + channel % box_channels) * 2
            top, left = tl.load(corner), tl.load(corner + 1)
            bottom, right = top + tl.load(extent_ptr + sample * 2), left + tl.load(extent_ptr + sample * 2 + 1)
        return cell_rows, focal, top, left, bottom, right

    @triton.jit
    def _mask_fill(
        result, rows, cols, offsets, inside, mask_ptr, cell_rows, cell_w, focal, top, left, bottom, right,
        seed, fill_scale, fill_value,
        MASK: tl.constexpr, FOCAL: tl.constexpr, NOISE: tl.constexpr, INVERT: tl.constexpr,
    ):
        """``result`` with the fill where the mask is set (``MASK`` 1: a dense mask; 2: cells and box)."""
        if MASK == 1:
            hit = tl.load(mask_ptr + offsets, mask=inside, other=0) != 0
        else:
            hit = tl.load(cell_rows + cols // cell_w, mask=inside, other=0) != 0
            if FOCAL:
                in_box = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
                if INVERT:
                    in_box = ~in_box
                hit = tl.where(focal, in_box, hit)
        # (the fill's scalars are float64 under torch.compile: the result stays float32)
        if NOISE:
            # noise depends on the seed and the element only; tiles without a masked element skip it
            if tl.max(hit.to(tl.int32)) > 0:
                result = tl.where(hit, (tl.randn(seed, offsets) * fill_scale).to(tl.float32), result)
        else:
            result = tl.where(hit, fill_value, result).to(tl.float32)
        return result

    @triton.jit
    def _fused(
        x_ptr, out_ptr, taps_ptr, scratch_ptr, mask_ptr, cells_ptr, start_ptr, extent_ptr, focal_ptr, seed_ptr,
        stripes, height, width, channels, cell_channels, box_channels, grid_h, grid_w, cell_h, cell_w,
        fill_scale, fill_value,
        RADIUS: tl.constexpr, MASK: tl.constexpr, FOCAL: tl.constexpr, NOISE: tl.constexpr,
        INVERT: tl.constexpr, TR: tl.constexpr, CW: tl.constexpr, UNROLL: tl.constexpr,
    ):
        stripe = tl.program_id(0)
        plane = (stripe // stripes).to(tl.int64)
        local = tl.arange(0, TR)[:, None]
        lanes = tl.arange(0, CW)[None, :]
        rows = (stripe % stripes) * TR + local
        base = plane * height * width
        # the same indices as a transposed tile: columns down, rows across
        down = tl.arange(0, CW)[:, None]
        across = tl.arange(0, TR)[None, :]
        # this program's scratch: the vertical blur of its stripe, transposed (a row per column, TR
        # long), so that the horizontal pass shifts whole aligned rows of it, as the vertical one
        # shifts rows of x
        slot = scratch_ptr + stripe.to(tl.int64) * width * TR + across
        if RADIUS > 0:
            first = 0
            while first < width:
                first = tl.multiple_of(first, CW)
                cols = first + lanes
                blur = tl.zeros((TR, CW), dtype=tl.float32)
                for k in tl.range(0, 2 * RADIUS + 1, loop_unroll_factor=UNROLL):
                    source = x_ptr + base + _reflect(rows + (k - RADIUS), height) * width + cols
                    blur += tl.load(taps_ptr + k) * tl.load(source, mask=cols < width, other=0.0).to(tl.float32)
                tl.store(slot + (first + down) * TR, tl.trans(blur), mask=first + down < width)
                first += CW
            tl.debug_barrier()  # the scratch holds the stripe's vertical blur, for every thread to read
        cell_rows, focal, top, left, bottom, right = _plane_mask(
            plane, rows, cells_ptr, start_ptr, extent_ptr, focal_ptr,
            channels, cell_channels, box_channels, grid_h, grid_w, cell_h, FOCAL,
        )
        seed = 0
        if NOISE:
            seed = tl.load(seed_ptr)
        first = 0
        while first < width:
            first = tl.multiple_of(first, CW)
            cols = first + lanes
            inside = (rows < height) & (cols < width)
            offsets = base + rows * width + cols
            result = tl.load(x_ptr + offsets, mask=inside, other=0.0).to(tl.float32)
            if RADIUS > 0:
                blur = tl.zeros((CW, TR), dtype=tl.float32)
                if (first >= RADIUS) & (first + CW + RADIUS <= width):  # no column to reflect
                    for k in tl.range(0, 2 * RADIUS + 1, loop_unroll_factor=UNROLL):
                        blur += tl.load(taps_ptr + k) * tl.load(slot + (first + down + (k - RADIUS)) * TR)
                else:
                    for k in tl.range(0, 2 * RADIUS + 1, loop_unroll_factor=UNROLL):
                        shifted = _reflect(first + down + (k - RADIUS), width)
                        blur += tl.load(taps_ptr + k) * tl.load(slot + shifted * TR)
                result -= tl.trans(blur)
            if MASK != 0:
                result = _mask_fill(
                    result, rows, cols, offsets, inside, mask_ptr, cell_rows, cell_w, focal, top, left, bottom,
                    right, seed, fill_scale, fill_value, MASK, FOCAL, NOISE, INVERT,
                )
            tl.store(out_ptr + offsets, result.to(out_ptr.dtype.element_ty), mask=inside)
            first += CW

    def _launch(kernel, x, taps, mask, cells, start, extent, focal, seed, radius, mask_mode, boxes, noise, invert,
                channels, cell_channels, box_channels, cell_h, cell_w, fill_scale, fill_value):
        """Run the kernel on a contiguous ``x`` (``kernel`` maps the Triton kernel to what launches it)."""
        height, width = x.shape[-2], x.shape[-1]
        out = torch.empty_like(x)
        if x.numel() == 0:
            return out
        rows, cols = TILE
        stripes = triton.cdiv(height, rows)
        programs = x.numel() // (height * width) * stripes
        scratch = x.new_empty((programs, width, rows) if radius else (1,), dtype=torch.float32)
        # Triton launches on the current device, which need not be x's
        on_device = torch.cuda.device(x.device) if x.is_cuda and not torch.compiler.is_compiling() else nullcontext()
        with on_device:
            kernel(_fused)[(programs,)](
                x, out, taps, scratch, mask, cells, start, extent, focal, seed,
                stripes, height, width, channels, cell_channels, box_channels, cells.shape[-2], cells.shape[-1],
                cell_h, cell_w, fill_scale, fill_value,
                RADIUS=radius, MASK=mask_mode, FOCAL=boxes, NOISE=noise, INVERT=invert,
                TR=rows, CW=cols, UNROLL=UNROLL, num_warps=WARPS, num_stages=1,
            )
        return out

    @torch.library.triton_op("maskaug::highpass_fill", mutates_args=())
    def highpass_fill(
        x: torch.Tensor,
        taps: torch.Tensor,
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

        ``radius`` 0 skips the high-pass (``taps`` from `_taps` otherwise).
        ``mask_mode`` 0: no mask; 1: ``mask``, bool of ``x``'s shape; 2: the mask of `pack`'s
        tensors, ``cells`` of ``cell_h x cell_w`` elements and, with ``boxes``, ``start``,
        ``extent`` and ``focal``. ``seed``: one-element int64 tensor (used when ``noise``).
        Tensors a mode does not use are never read. This is the traced form of `_launch`, for
        ``torch.compile``; eager calls launch directly.
        """
        return _launch(
            wrap_triton, x, taps, mask, cells, start, extent, focal, seed, radius, mask_mode, boxes, noise, invert,
            channels, cell_channels, box_channels, cell_h, cell_w, fill_scale, fill_value,
        )


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
        ``(cells, start, extent, focal, cell_channels, box_channels)``: the cells as bool
        ``(S * cell_channels, GH, GW)``; the box corners, int64 ``(S * box_channels, 2)``; the box
        extents, int64 ``(S, 2)``; whether each sample gets its box, bool ``(S,)``; the last three
        ``None`` without boxes.
    """
    samples = len(drawn.geo.sample)
    grid = drawn.grid
    cells = grid.reshape(-1, *grid.shape[samples + 1 :]).contiguous()
    if drawn.focal is None:
        return cells, None, None, None, grid.shape[samples], 1
    start = drawn.start.reshape(-1, 2).contiguous()
    extent = drawn.extent.reshape(-1, 2).contiguous()
    focal = drawn.focal.reshape(-1).contiguous()
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
    radius, taps = 0, unused
    if sigma is not None:
        size = _kernel_size(sigma, kernel_size)
        radius, taps = size // 2, _taps(float(sigma), size, x.device)
    dense, cells, start, extent, focal, mode, cell, shares = unused, unused[None, None], None, None, None, 0, (1, 1), (1, 1)
    if drawn is not None:
        cells, start, extent, focal, *shares = pack(drawn, x)
        mode, cell = 2, drawn.cells
    elif mask is not None:
        dense, mode = mask.to(x.device).expand(x.shape).contiguous(), 1
    boxes = start is not None
    noise = mode != 0 and fill == "noise"
    seed = draw_seed(generator, x.device) if noise else unused
    invert = bool(drawn is not None and drawn.invert)
    channels = x.shape[drawn.geo.channel] if drawn is not None and drawn.geo.channel is not None else 1
    args = (
        x, taps, dense, cells, *((start, extent, focal) if boxes else (unused,) * 3), seed, radius, mode,
        boxes, noise, invert, channels, *shares, cell[0], cell[1], float(noise_std), float(value),
    )
    if torch.compiler.is_compiling():
        return highpass_fill(*args)
    return _launch(_as_is, *args)  # eager: no custom-op dispatch on the way to the launch


def _as_is(kernel):
    return kernel
