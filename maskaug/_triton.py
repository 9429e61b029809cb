"""Fused GPU kernel (Triton): the high-pass over the last two axes, the mask and the fill, in one pass.

A program makes a stripe of ``TILE[0]`` rows of one plane (one ``H x W`` image of one channel of
one sample), in float32 on the CUDA cores:

1. the vertical blur of the stripe, ``TILE[1]`` columns at a time, into the program's own
   scratch, transposed. Each row of the stripe's window of input rows (reflected at the borders)
   is loaded once and added, with its tap, to the sum of every output row it reaches: the sums of
   a thread's columns stay in its registers (one per stripe row), so a thread loads each input
   element once where tap by tap it would load it once per tap;
2. the horizontal blur, the same way, from the scratch (where a column of the stripe is a short
   row, and the reflected columns are stored too), over ``TILE[2]`` blocks of ``TILE[3]`` columns
   at a time; subtracted from ``x``; then the mask, the fill and one store.

The Gaussian taps are compiled into the kernel as constants: each ``(sigma, kernel_size)`` compiles
its own kernel the first time it is used (seconds; Triton caches it on disk). The scratch takes
float32 ``(W + 2 * radius)`` (``W`` rounded up to a horizontal tile) per row of the stripes of
every plane: for a ``224 x 224`` image and sigma 5, 1.3 times the input's elements, on top of the
output.

Where the mask is set, the kernel writes noise (Philox, generated in registers, never stored, and
only for tiles with a masked element; four normals per draw, `_normals`) or a constant. The mask
is read either as a tensor of ``x``'s shape, or (for `MSCNMask`) computed in the kernel from the
drawn cells of each plane and its box, so the element mask is never written. A stripe reads each
of its rows of cells once, as the bits of an int32 where the row has at most 32 cells; an element
then tests a bit, where it would otherwise load its cell's byte.

The noise seed is two float32 uniforms drawn from the caller's ``torch.Generator`` (`draw_seed`,
or two columns of `MSCNMask`'s uniforms), whose bits the kernel reads: there is no host
synchronization, and the same generator state gives the same noise. (The torch path draws its
noise from a generator spawned after that draw, `maskaug._random.spawn`, so both paths leave the
caller's generator in the same state.) The launch is registered as
a torch custom op (``torch.library.triton_op``) so that ``torch.compile`` traces through it; eager
calls launch directly. It runs on CUDA tensors, and on CPU tensors under ``TRITON_INTERPRET=1``
(slowly), which is how the tests check it on machines without a GPU.
"""

from __future__ import annotations

import functools
import math
import os
from contextlib import nullcontext

import torch

from maskaug import _random
from maskaug._gaussian import _kernel_size, gaussian_kernel

try:
    import triton
    import triton.language as tl
    from torch.library import wrap_triton
except ImportError:  # pragma: no cover - triton ships with CUDA builds of torch
    triton = None

_INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"

#: A program's tile: its stripe's rows, the columns of a vertical step, and the blocks and columns
#: per block of a horizontal step (powers of two; the columns of a vertical step and the rows times
#: blocks at least the program's threads); and its warps.
TILE = (16, 256, 8, 16)
WARPS = 4
#: Programs per multiprocessor, each walking over stripes with its own scratch (which then stays in
#: the L2 cache); ``None``: one program per stripe.
PROGRAMS_PER_SM = None
#: The most registers a thread may use (``None``: as many as the compiler takes). 128 lets four
#: programs share a multiprocessor, where the compiler's own choice (about 230) lets two.
REGISTERS = 128
#: The largest kernel radius the fused kernel filters (sigma 10.6 with the full Gaussian).
MAX_RADIUS = 32
#: The most cells in a row of a drawn mask that the kernel reads as the bits of one int32.
ROW_BITS = 32
#: The oldest NVIDIA GPUs the kernels run on (compute capability): Ampere, the first with native
#: bfloat16; the kernels were timed on Hopper. Older GPUs, and AMD's, take the pure-torch path.
MIN_CAPABILITY = (8, 0)

_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


def runs_on(device: torch.device) -> bool:
    """Whether Triton kernels run on ``device``: an NVIDIA GPU of compute capability
    `MIN_CAPABILITY` or later, or the CPU under ``TRITON_INTERPRET=1``; never with
    ``MASKAUG_DISABLE_TRITON=1``."""
    if triton is None or os.environ.get("MASKAUG_DISABLE_TRITON") == "1":
        return False
    if device.type == "cuda":
        return _supported_gpu(torch.cuda.current_device() if device.index is None else device.index)
    return _INTERPRET and device.type == "cpu"


#: `_supported_gpu` by CUDA device index.
_SUPPORTED_GPUS: dict[int, bool] = {}


@torch.compiler.assume_constant_result  # (run, not traced, under torch.compile)
def _supported_gpu(index: int) -> bool:
    """Whether CUDA device ``index`` is an NVIDIA GPU of compute capability `MIN_CAPABILITY` or later."""
    if index not in _SUPPORTED_GPUS:
        _SUPPORTED_GPUS[index] = torch.version.hip is None and torch.cuda.get_device_capability(index) >= MIN_CAPABILITY
    return _SUPPORTED_GPUS[index]


def usable(x: torch.Tensor, radius: int = 0) -> bool:
    """Whether the fused kernel can run on ``x`` (with a high-pass of ``radius``, if any).

    It needs a device where Triton kernels run (`runs_on`), a half or single precision ``x`` of at
    least two axes that does not need a gradient, planes (the last two axes) of fewer than 2**31
    elements and rows of fewer than 2**22, and a radius of at most `MAX_RADIUS`, shorter than both
    filtered axes. Everything else takes the pure-torch path, which gives the same masks and agrees
    on the filtered values within float32 rounding (the noise fill is drawn by a different
    generator algorithm).
    """
    if x.dtype not in _DTYPES or (x.requires_grad and torch.is_grad_enabled()):
        return False
    if x.ndim < 2 or x.shape[-2] * x.shape[-1] >= 2**31 or x.shape[-1] >= 2**22:
        return False  # offsets in a plane are 32-bit; the cell arithmetic reaches 2**22 columns
    if radius > MAX_RADIUS or min(x.shape[-2:]) <= radius:
        return False  # the torch path filters, or says why it can't
    return runs_on(x.device)


def draw_seed(generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """The noise seed's two float32 uniforms, drawn from ``generator``, on ``device``.

    The kernel joins their bit patterns (each under 2**30, 24 random bits) into one Philox seed.
    """
    return _random.rand((2,), generator=generator, device=device, dtype=torch.float32)


def on_device(x: torch.Tensor):
    """A context that makes ``x``'s device current where it is not (Triton launches on the current device)."""
    if x.is_cuda and not torch.compiler.is_compiling() and x.device.index != torch.cuda.current_device():
        return torch.cuda.device(x.device)
    return nullcontext()


@functools.lru_cache(maxsize=8)
def _processors(device: torch.device) -> int:
    """The multiprocessors of a CUDA ``device`` (1 elsewhere: the interpreter runs one program at a time)."""
    return torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else 1


@functools.lru_cache(maxsize=32)
@torch.compiler.assume_constant_result
def _taps(sigma: float, size: int) -> tuple[float, ...]:
    """The float32 Gaussian taps, as Python floats: the kernel is compiled with them as constants.

    ``torch.compile`` takes the result as a constant instead of tracing the taps' computation.
    """
    return tuple(gaussian_kernel(sigma, size, dtype=torch.float32).tolist())


if triton is not None:

    @triton.jit
    def _reflect(index, length):
        """Reflect ``index`` once at both ends of ``[0, length)`` (``|index|``, or its mirror at the far
        end where that is smaller), then clamp it at 0 (for rows nobody keeps)."""
        index = tl.abs(index)
        return tl.maximum(tl.minimum(index, 2 * (length - 1) - index), 0)

    @triton.jit
    def _plane_mask(
        plane, rows, height, cells_ptr, start_ptr, extent_ptr, focal_ptr,
        channels, cell_channels, box_channels, grid_h, grid_w, cell_h, MASK: tl.constexpr, FOCAL: tl.constexpr,
    ):
        """Where the drawn mask of plane ``plane`` (an int32 index) lives, for the ``(R, 1)`` ``rows``
        of a stripe: pointers to its rows of cells; with ``MASK`` 3, their cells as the bits of one
        int32 per row (0 otherwise); and its box (``focal`` says if it has one; 32-bit corners)."""
        # the plane's sample and channel (32-bit divisions); cells and boxes shared by the channels
        # are stored once
        sample = plane // channels
        channel = plane % channels
        cell_plane = (sample * cell_channels + channel % cell_channels).to(tl.int64)
        cell_rows = cells_ptr + cell_plane * grid_h * grid_w + (rows // cell_h) * grid_w
        row_bits = 0
        if MASK == 3:
            # bit j of a row's word is cell j of the row: a tile then tests a bit per element where
            # it would gather a byte (rows past the plane get no bits)
            j = tl.arange(0, 32)[None, :]  # ROW_BITS cells
            bits = tl.load(cell_rows + j, mask=(j < grid_w) & (rows < height), other=0).to(tl.int32)
            row_bits = tl.sum(bits << j, axis=1)[:, None]
        focal = False
        top, left, bottom, right = 0, 0, 0, 0
        if FOCAL:
            focal = tl.load(focal_ptr + sample) != 0
            corner = start_ptr + (sample * box_channels + channel % box_channels) * 2
            top, left = tl.load(corner).to(tl.int32), tl.load(corner + 1).to(tl.int32)
            bottom = top + tl.load(extent_ptr + sample * 2).to(tl.int32)
            right = left + tl.load(extent_ptr + sample * 2 + 1).to(tl.int32)
        return cell_rows, row_bits, focal, top, left, bottom, right

    @triton.jit
    def _normals(seed, counters):
        """Four standard normals per counter: Philox (`tl.randint4x`), then Box-Muller with a
        logarithm and a sine and cosine from short series, within 2e-6 of the exact transform
        (`tl.randn4x` of the same draws), in about a third of the instructions."""
        bits = tl.randint4x(seed, counters)
        # uniforms in [1e-7, 1) for the radii, in [0, 1) for the angles (31 random bits each)
        u = ()
        for k in tl.static_range(4):
            b = bits[k].to(tl.int32, bitcast=True)
            u = u + (tl.where(b < 0, -b - 1, b).to(tl.float32) * 4.6566127342e-10,)
        normals = ()
        for pair in tl.static_range(2):
            # ln u = e ln 2 + ln m, m in [sqrt(1/2), sqrt(2)): ln m = 2 atanh(s), s = (m - 1) / (m + 1)
            radius_u = tl.maximum(u[2 * pair], 1.0e-7)
            b = radius_u.to(tl.int32, bitcast=True)
            m = ((b & 0x7FFFFF) | 0x3F800000).to(tl.float32, bitcast=True)
            e = ((b >> 23) & 0xFF) - 127
            big = m > 1.4142135
            m = tl.where(big, m * 0.5, m)
            e = tl.where(big, e + 1, e)
            s = (m - 1.0) / (m + 1.0)
            s2 = s * s
            log_u = e.to(tl.float32) * 0.6931471805599453 + 2.0 * s * (
                1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))))
            )
            radius = tl.sqrt(-2.0 * log_u)
            # the angle 2 pi v: a quarter turn q and theta in [-pi/4, pi/4]
            v = u[2 * pair + 1]
            q = tl.floor(v * 4.0 + 0.5)
            theta = (v - q * 0.25) * 6.283185307179586
            t2 = theta * theta
            sin = theta * (1.0 + t2 * (-1.0 / 6.0 + t2 * (1.0 / 120.0 + t2 * (-1.0 / 5040.0 + t2 * (1.0 / 362880.0)))))
            cos = 1.0 + t2 * (-0.5 + t2 * (1.0 / 24.0 + t2 * (-1.0 / 720.0 + t2 * (1.0 / 40320.0))))
            turn = q.to(tl.int32) & 3
            cos_v = tl.where(turn == 0, cos, tl.where(turn == 1, -sin, tl.where(turn == 2, -cos, sin)))
            sin_v = tl.where(turn == 0, sin, tl.where(turn == 1, cos, tl.where(turn == 2, -sin, -cos)))
            normals = normals + (radius * cos_v, radius * sin_v)
        return normals

    @triton.jit
    def _mask_fill(
        result, rows, first, cols, width, row_starts, inside, mask_ptr, cell_rows, row_bits, cell_w_inverse, focal,
        top, left, bottom, right, seed, fill_scale, fill_value,
        MASK: tl.constexpr, FOCAL: tl.constexpr, NOISE: tl.constexpr, INVERT: tl.constexpr,
    ):
        """``result`` with the fill where the mask is set (``MASK`` 1: a dense mask; 2: cells read from
        `_plane_mask`'s ``cell_rows``, 3: from its ``row_bits``; and boxes).

        ``result`` is the tile of ``rows`` (``(R, 1)``) and ``cols`` (``(1, C)``, from ``first``),
        ``row_starts`` the offsets of its rows' first elements in ``x``.

        ``cell_w_inverse`` is ``1 / cell_w`` in float32: ``(col + 0.5) * cell_w_inverse`` truncates
        to ``col // cell_w`` for every column under 2**22 (`usable` checks it), in three instructions
        where an integer division by a run-time value takes about twenty.
        """
        if MASK == 1:
            hit = tl.load(mask_ptr + row_starts + cols, mask=inside, other=0) != 0
        else:
            column_cells = ((cols.to(tl.float32) + 0.5) * cell_w_inverse).to(tl.int32)
            if MASK == 2:
                hit = tl.load(cell_rows + column_cells, mask=inside, other=0) != 0
            else:
                # a column's bit (none past the width, where a shift could reach 32)
                bit = tl.where(cols < width, 1 << tl.minimum(column_cells, 31), 0)
                hit = (row_bits & bit) != 0
            if FOCAL:
                # a row test and a column test, then one and per element
                in_box = ((rows >= top) & (rows < bottom)) & ((cols >= left) & (cols < right))
                if INVERT:
                    in_box = ~in_box
                hit = tl.where(focal, in_box, hit)
        # (the fill's scalars are float64 under torch.compile: the result stays float32)
        if NOISE:
            # noise depends on the seed and the element only: one Philox draw gives the normals of
            # four neighbouring elements of a row. Tiles without a masked element skip it.
            if tl.max(hit.to(tl.int32)) > 0:
                quads = first + tl.arange(0, result.shape[1] // 4)[None, :] * 4
                normals = _normals(seed, row_starts + quads)
                noise = tl.reshape(_stack(normals, 2), result.shape)
                result = tl.where(hit, (noise * fill_scale).to(tl.float32), result)
        else:
            result = tl.where(hit, fill_value, result).to(tl.float32)
        return result

    @triton.jit
    def _slide(sums, values, TAPS: tl.constexpr, j: tl.constexpr, RADIUS: tl.constexpr):
        """``sums[i] += TAPS[j - i] * values`` for the outputs ``i`` that window element ``j`` reaches."""
        updated = ()
        for i in tl.static_range(len(sums)):
            total = sums[i]
            if j - i >= 0 and j - i <= 2 * RADIUS:
                total += TAPS[j - i] * values
            updated = updated + (total,)
        return updated

    @triton.jit
    def _pair(parts, HALF: tl.constexpr):
        """``join(parts[p], parts[p + HALF])`` for each ``p < HALF``."""
        paired = ()
        for p in tl.static_range(HALF):
            paired = paired + (tl.join(parts[p], parts[p + HALF]),)
        return paired

    @triton.jit
    def _stack(parts, LEVELS: tl.constexpr):
        """``2**LEVELS`` tensors of one shape ``S`` as one tensor ``(*S, 2, ..., 2)`` that reshapes to
        ``(*S, 2**LEVELS)`` with ``parts[i]`` at ``i``."""
        for level in tl.static_range(LEVELS):
            parts = _pair(parts, (1 << LEVELS) >> (level + 1))
        return parts[0]

    @triton.jit
    def _stripe(
        x_ptr, out_ptr, slot, mask_ptr, cells_ptr, start_ptr, extent_ptr, focal_ptr, seed, stripe, local,
        stripes, height, width, channels, cell_channels, box_channels, grid_h, grid_w, cell_h,
        cell_w_inverse, fill_scale, fill_value,
        TAPS: tl.constexpr, HIGHPASS: tl.constexpr, RADIUS: tl.constexpr, MASK: tl.constexpr,
        FOCAL: tl.constexpr, NOISE: tl.constexpr, INVERT: tl.constexpr,
        TR: tl.constexpr, VW: tl.constexpr, HB: tl.constexpr, HC: tl.constexpr,
        TR_LEVELS: tl.constexpr, HC_LEVELS: tl.constexpr,
    ):
        """One stripe of ``TR`` rows (``local``: ``arange(TR)``), with the program's scratch ``slot``."""
        plane_index = stripe // stripes
        plane = plane_index.to(tl.int64)
        first_row = (stripe % stripes) * TR
        rows = first_row + local[:, None]
        base = plane * height * width
        if HIGHPASS:
            # vertical: each of the TR + 2 * RADIUS input rows of the stripe's window is loaded once
            # and added, with its tap, to each of the TR output rows it reaches (sums in registers)
            across = tl.arange(0, VW)
            first = 0
            while first < width:
                first = tl.multiple_of(first, VW)
                cols = first + across
                sums = (tl.zeros((VW,), dtype=tl.float32),) * TR
                for j in tl.static_range(TR + 2 * RADIUS):
                    source = x_ptr + base + _reflect(first_row + j - RADIUS, height) * width + cols
                    row = tl.load(source, mask=cols < width, other=0.0).to(tl.float32)
                    sums = _slide(sums, row, TAPS, j, RADIUS)
                blur = tl.reshape(_stack(sums, TR_LEVELS), (VW, TR))
                column = cols[:, None]
                tl.store(slot + column * TR + local[None, :], blur, mask=column < width)
                tl.store(slot - column * TR + local[None, :], blur, mask=(column >= 1) & (column <= RADIUS))
                mirror = 2 * (width - 1) - column
                right = (column < width - 1) & (mirror < width + RADIUS)
                tl.store(slot + mirror * TR + local[None, :], blur, mask=right)
                first += VW
            tl.debug_barrier()  # the scratch holds the stripe's vertical blur, for every thread to read
        cell_rows, row_bits, focal, top, left, bottom, right = _plane_mask(
            plane_index, rows, height, cells_ptr, start_ptr, extent_ptr, focal_ptr,
            channels, cell_channels, box_channels, grid_h, grid_w, cell_h, MASK, FOCAL,
        )
        # a tile of HB blocks of HC neighbouring columns
        blocks = tl.arange(0, HB)[None, :] * HC
        lanes = tl.arange(0, HB * HC)[None, :]
        first = 0
        while first < width:
            first = tl.multiple_of(first, HB * HC)
            cols = first + lanes
            inside = (rows < height) & (cols < width)
            row_starts = base + rows * width
            result = tl.load(x_ptr + row_starts + cols, mask=inside, other=0.0).to(tl.float32)
            if HIGHPASS:
                # horizontal, the same way: each column of a block's window (a row of the scratch,
                # the stripe's TR values) is loaded once and added to the block's HC output columns
                sums = (tl.zeros((TR, HB), dtype=tl.float32),) * HC
                # (the last tile's columns past the width + RADIUS read scratch nobody wrote: they
                # reach only outputs past the width, which are never stored)
                window = slot + (first + blocks - RADIUS) * TR + local[:, None]
                for j in tl.static_range(HC + 2 * RADIUS):
                    column = tl.load(window + j * TR)
                    sums = _slide(sums, column, TAPS, j, RADIUS)
                result -= tl.reshape(_stack(sums, HC_LEVELS), (TR, HB * HC))
            if MASK != 0:
                result = _mask_fill(
                    result, rows, first, cols, width, row_starts, inside, mask_ptr, cell_rows, row_bits,
                    cell_w_inverse, focal, top, left, bottom, right, seed, fill_scale, fill_value, MASK, FOCAL, NOISE,
                    INVERT,
                )
            tl.store(out_ptr + row_starts + cols, result.to(out_ptr.dtype.element_ty), mask=inside)
            first += HB * HC

    @triton.jit
    def _fused(
        x_ptr, out_ptr, scratch_ptr, mask_ptr, cells_ptr, start_ptr, extent_ptr, focal_ptr, seed_ptr,
        total, stripes, height, width, padded, channels, cell_channels, box_channels, grid_h, grid_w, cell_h,
        cell_w_inverse, fill_scale, fill_value,
        TAPS: tl.constexpr, HIGHPASS: tl.constexpr, RADIUS: tl.constexpr, MASK: tl.constexpr,
        FOCAL: tl.constexpr, NOISE: tl.constexpr, INVERT: tl.constexpr,
        TR: tl.constexpr, VW: tl.constexpr, HB: tl.constexpr, HC: tl.constexpr,
        TR_LEVELS: tl.constexpr, HC_LEVELS: tl.constexpr,
    ):
        # the program's scratch: the vertical blur of its stripe, transposed (a row of TR values per
        # column), so that the horizontal pass reads a column of the stripe as one short row; its
        # first RADIUS rows and those from the width on hold the reflected columns, so that the
        # horizontal pass reads every column of its window at a fixed offset
        slot = scratch_ptr + (tl.program_id(0).to(tl.int64) * padded + RADIUS) * TR
        seed = 0
        if NOISE:
            # the bit patterns of two uniforms in [0, 1) (each under 2**30) joined into one seed
            high = tl.load(seed_ptr).to(tl.int32, bitcast=True).to(tl.int64)
            seed = (high << 30) | tl.load(seed_ptr + 1).to(tl.int32, bitcast=True).to(tl.int64)
        local = tl.arange(0, TR)
        stripe = tl.program_id(0)
        while stripe < total:
            _stripe(
                x_ptr, out_ptr, slot, mask_ptr, cells_ptr, start_ptr, extent_ptr, focal_ptr, seed, stripe, local,
                stripes, height, width, channels, cell_channels, box_channels, grid_h, grid_w, cell_h,
                cell_w_inverse, fill_scale, fill_value,
                TAPS, HIGHPASS, RADIUS, MASK, FOCAL, NOISE, INVERT, TR, VW, HB, HC, TR_LEVELS, HC_LEVELS,
            )
            if HIGHPASS:
                tl.debug_barrier()  # every thread is done with the scratch before the next stripe
            stripe += tl.num_programs(0)

    def _launch(kernel, x, taps, mask, cells, start, extent, focal, seed, mask_mode, boxes, noise, invert,
                channels, cell_channels, box_channels, grid_h, grid_w, cell_h, cell_w, fill_scale, fill_value):
        """Run the kernel on a contiguous ``x`` (``kernel`` maps the Triton kernel to what launches it)."""
        height, width = x.shape[-2], x.shape[-1]
        if TILE[2] * TILE[3] % 4:
            raise ValueError(f"TILE's horizontal tile must hold a multiple of 4 columns (four normals a draw): {TILE}")
        out = torch.empty_like(x)
        if x.numel() == 0:
            return out
        stripes, total, padded = launch_sizes(x.shape, len(taps) // 2, TILE)
        programs = total if PROGRAMS_PER_SM is None else min(total, PROGRAMS_PER_SM * _processors(x.device))
        # without a high-pass the kernel never touches the scratch: any tensor stands in for it
        scratch = x.new_empty((programs, padded, TILE[0]), dtype=torch.float32) if taps else x
        with on_device(x):
            kernel(_fused)[(programs,)](
                x, out, scratch, mask, cells, start, extent, focal, seed,
                total, stripes, height, width, padded, channels, cell_channels, box_channels,
                grid_h, grid_w, cell_h, 1.0 / cell_w, fill_scale, fill_value,
                MASK=mask_mode, FOCAL=boxes, NOISE=noise, INVERT=invert, **filter_constants(taps, TILE),
                **_register_limit(), num_warps=WARPS, num_stages=1,
            )
        return out

    def _register_limit() -> dict:
        """The launch option that caps registers (torch.compile's launcher takes no such option)."""
        return {} if REGISTERS is None or torch.compiler.is_compiling() else {"maxnreg": REGISTERS}

    @torch.library.triton_op("maskaug::highpass_fill", mutates_args=())
    def highpass_fill(
        x: torch.Tensor,
        taps: list[float],
        mask: torch.Tensor,
        cells: torch.Tensor,
        start: torch.Tensor,
        extent: torch.Tensor,
        focal: torch.Tensor,
        seed: torch.Tensor,
        mask_mode: int,
        boxes: bool,
        noise: bool,
        invert: bool,
        channels: int,
        cell_channels: int,
        box_channels: int,
        grid_h: int,
        grid_w: int,
        cell_h: int,
        cell_w: int,
        fill_scale: float,
        fill_value: float,
    ) -> torch.Tensor:
        """``where(mask, fill, x - blur(x))`` over the last two axes of a contiguous ``x``.

        ``taps``: the high-pass's Gaussian taps (`_taps`), none to skip it.
        ``mask_mode`` 0: no mask; 1: ``mask``, bool of ``x``'s shape; 2: the mask of `pack`'s
        tensors, ``cells`` (``grid_h x grid_w`` per plane) of ``cell_h x cell_w`` elements and,
        with ``boxes``, ``start``, ``extent`` and ``focal``; 3: the same, read as a word of bits
        per row of cells (``grid_w`` at most 32). ``seed``: float32, on ``x``'s device, whose
        first two elements in memory are uniforms (`draw_seed`; read when ``noise``). Tensors a
        mode does not use are never read: any tensor (``x``) stands in for them. This is the
        traced form of `_launch`, for ``torch.compile``; eager calls launch directly.
        """
        return _launch(
            wrap_triton, x, taps, mask, cells, start, extent, focal, seed, mask_mode, boxes, noise, invert,
            channels, cell_channels, box_channels, grid_h, grid_w, cell_h, cell_w, fill_scale, fill_value,
        )


def launch_sizes(shape: tuple[int, ...], radius: int, tile: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """``(stripes per plane, stripes in all, scratch columns per program)`` of a launch of the fused
    kernel on a non-empty ``shape`` with a high-pass of ``radius`` (0 for none), under ``tile``
    (`TILE`'s form). A program's scratch holds RADIUS reflected columns, the columns of its
    horizontal tiles, and RADIUS more."""
    height, width = shape[-2], shape[-1]
    rows, _, blocks, block = tile
    stripes = -(-height // rows)
    return stripes, math.prod(shape[:-2]) * stripes, -(-width // (blocks * block)) * blocks * block + 2 * radius


def filter_constants(taps: tuple[float, ...], tile: tuple[int, int, int, int]) -> dict:
    """The fused kernel's compile-time constants of a high-pass of ``taps`` (none to skip it) under ``tile``."""
    rows, vertical, blocks, block = tile
    return dict(TAPS=tuple(taps), HIGHPASS=bool(taps), RADIUS=len(taps) // 2, TR=rows, VW=vertical, HB=blocks,
                HC=block, TR_LEVELS=rows.bit_length() - 1, HC_LEVELS=block.bit_length() - 1)


def cell_mode(grid_w: int) -> int:
    """The kernel's mask mode for drawn cells in rows of ``grid_w`` (`highpass_fill`): 3, a row read
    as the bits of an int32, where it has at most `ROW_BITS` cells; 2, cell by cell, beyond."""
    return 3 if grid_w <= ROW_BITS else 2


def packs(geo, x: torch.Tensor) -> bool:
    """Whether the kernel can compute the mask of a draw of geometry ``geo`` (a
    ``maskaug.masks._Geometry``) itself (see `pack`)."""
    return len(geo.masked) == 2 and geo.order == list(range(x.ndim))


def pack(drawn) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, int, int]:
    """A drawn mask (a ``maskaug.masks._Drawn``) as the kernel reads it: its own tensors, contiguous.

    The kernel computes the mask of a plane from its cells and box when the input's axes are the
    sample axes, then the channel axis (if any), then the two masked axes, in that order
    (`packs`). Cells and box corners shared by the channels of a sample are stored once; the
    kernel finds them from the plane's sample and channel.

    Returns:
        ``(cells, start, extent, focal, cell_channels, box_channels)``: the cells, bool
        ``(*S, cell_channels, GH, GW)``; the box corners, int64 ``(*S, box_channels, 2)``; the box
        extents, int64 ``(*S, 1, 2)``; whether each sample gets its box, bool ``(*S,)``; the last
        three ``None`` without boxes. The kernel reads them as ``(S * cell_channels, GH, GW)``,
        ``(S * box_channels, 2)``, ``(S, 2)`` and ``(S,)``.
    """
    samples = len(drawn.geo.sample)
    grid = drawn.grid
    if drawn.focal is None:
        return grid.contiguous(), None, None, None, grid.shape[samples], 1
    start, extent, focal = drawn.start.contiguous(), drawn.extent.contiguous(), drawn.focal.contiguous()
    return grid.contiguous(), start, extent, focal, grid.shape[samples], drawn.start.shape[samples]


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
    seed: torch.Tensor | None = None,
) -> torch.Tensor:
    """High-pass over the last two axes (when ``sigma`` is given), then mask and fill.

    The mask is ``mask``, or the drawn mask ``drawn`` (a ``maskaug.masks._Drawn`` that `packs`
    accepts), or none. The noise seed is ``seed`` (a contiguous float32 tensor on ``x``'s device
    whose first two elements are uniforms, as `draw_seed` gives), or drawn from ``generator``.

    Shape:
        - x: ``(..., H, W)``, half or single precision, on CUDA (or CPU under the interpreter).
        - mask: bool, broadcastable to ``x.shape``.
        - output: ``x.shape`` and ``x.dtype``.
    """
    x = x.contiguous()
    taps = () if sigma is None else _taps(float(sigma), _kernel_size(sigma, kernel_size))
    # x stands in for the tensors a mode never reads
    dense, cells, start, extent, focal, mode, grid, cell, shares = x, x, x, x, x, 0, (1, 1), (1, 1), (1, 1)
    if drawn is not None:
        cells, packed_start, packed_extent, packed_focal, *shares = pack(drawn)
        if packed_start is not None:
            start, extent, focal = packed_start, packed_extent, packed_focal
        grid, cell = cells.shape[-2:], drawn.cells
        mode = cell_mode(grid[1])
    elif mask is not None:
        dense, mode = mask.to(x.device).expand(x.shape).contiguous(), 1
    boxes = drawn is not None and drawn.focal is not None
    noise = mode != 0 and fill == "noise"
    if not noise:
        seed = x
    elif seed is None:
        seed = draw_seed(generator, x.device)
    elif seed.dtype != torch.float32 or not seed.is_contiguous() or seed.device != x.device or (
        x.numel() and seed.numel() < 2  # (an empty x launches nothing)
    ):
        raise ValueError(f"seed must be a contiguous float32 tensor of at least 2 elements on {x.device}, "
                         f"got {seed.dtype} of shape {tuple(seed.shape)} on {seed.device}")
    invert = bool(drawn is not None and drawn.invert)
    channels = x.shape[drawn.geo.channel] if drawn is not None and drawn.geo.channel is not None else 1
    args = (
        x, taps, dense, cells, start, extent, focal, seed, mode, boxes, noise, invert, channels, *shares,
        grid[0], grid[1], cell[0], cell[1], float(noise_std), float(value),
    )
    if torch.compiler.is_compiling():
        return highpass_fill(*args)
    return _launch(_as_is, *args)  # eager: no custom-op dispatch on the way to the launch


def _as_is(kernel):
    return kernel
