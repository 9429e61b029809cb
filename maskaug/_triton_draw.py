"""`MSCNMask`'s draw on the GPU (Triton): the masks of `maskaug._draw.from_uniforms` in one kernel.

A program per sample reads the sample's row of uniforms and writes its cells (a cell is masked
when fewer than ``count`` cells of the channel score lower, ties going to the lower index), its
box extent, each channel's box corner, and whether it takes its box. The arithmetic is the
float32 arithmetic of `maskaug._draw.from_uniforms`, one rounding per operation (the kernel is
compiled without fused multiply-adds), so both give identical masks. The drawing then costs one
launch instead of a few dozen small torch operations, which is what bounds a GPU call on the host.
"""

from __future__ import annotations

import functools
import math

import torch

from maskaug import _draw, _triton
from maskaug.masks import _Drawn, _Geometry, _grid_sizes

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - triton ships with CUDA builds of torch
    triton = None

#: The most cells per channel the kernel ranks (it compares every pair); more take the torch path.
MAX_CELLS = 1024
#: Cells compared at once, along each side of the pairwise comparison.
BLOCK = 64


def usable(geo: _Geometry, cells: tuple[int, ...], device: torch.device) -> bool:
    """Whether the kernel draws for this geometry on ``device``: two masked axes, at most `MAX_CELLS`
    cells, a device where the fused kernels run, and no ``torch.compile`` tracing (which takes the
    torch operations)."""
    if len(geo.masked) != 2 or torch.compiler.is_compiling():
        return False
    n_cells = math.prod(_grid_sizes(geo, cells))
    return 0 < n_cells <= MAX_CELLS and _triton.runs_on(torch.device(device))


if triton is not None:

    @triton.jit
    def _rint(x):
        """Round half to even, as ``torch.round`` (exact for ``|x| < 2**22``)."""
        up = tl.floor(x + 0.5)
        tie = (up - x == 0.5) & (tl.floor(up * 0.5) != up * 0.5)
        return tl.where(tie, up - 1.0, up)

    @triton.jit(do_not_specialize=["fixed_count"])
    def _draw_kernel(
        u_ptr, cells_ptr, start_ptr, extent_ptr, focal_ptr,
        row_width, n_cells, channels, size_h, size_w, fixed_count,
        ratio_low, ratio_span, scale_low, scale_span, focal_prob, independent_prob, keep_prob,
        RATIO: tl.constexpr, SCALE: tl.constexpr, FOCAL_COIN: tl.constexpr, INDEPENDENT: tl.constexpr,
        KEEP: tl.constexpr, HEAD: tl.constexpr, FOCAL: tl.constexpr, BLOCK: tl.constexpr,
    ):
        sample = tl.program_id(0).to(tl.int64)
        row = u_ptr + sample * row_width
        keep = tl.load(row + KEEP) < keep_prob
        shared = tl.load(row + INDEPENDENT) >= independent_prob
        # a fixed ratio's count comes from the host (rounded in float64); a range's is drawn here
        count = tl.where(fixed_count >= 0, fixed_count.to(tl.float32),
                         _rint((tl.load(row + RATIO) * ratio_span + ratio_low) * n_cells))
        lanes = tl.arange(0, BLOCK)
        channel = 0
        while channel < channels:
            source = tl.where(shared, 0, channel)
            scores = row + HEAD + source * n_cells
            first = 0
            while first < n_cells:
                mine = first + lanes
                score = tl.load(scores + mine, mask=mine < n_cells, other=2.0)
                rank = tl.zeros((BLOCK,), dtype=tl.int32)
                other = 0
                while other < n_cells:
                    theirs = other + lanes
                    against = tl.load(scores + theirs, mask=theirs < n_cells, other=2.0)
                    lower = (against[None, :] < score[:, None]) | (
                        (against[None, :] == score[:, None]) & (theirs[None, :] < mine[:, None])
                    )
                    rank += tl.sum(lower.to(tl.int32), axis=1)
                    other += BLOCK
                masked = tl.where(keep, rank.to(tl.float32) < count, False)
                tl.store(cells_ptr + (sample * channels + channel) * n_cells + mine, masked, mask=mine < n_cells)
                first += BLOCK
            channel += 1
        if FOCAL:
            scale = tl.load(row + SCALE) * scale_span + scale_low
            extent_h = tl.maximum(_rint(scale * size_h), 1.0)
            extent_w = tl.maximum(_rint(scale * size_w), 1.0)
            tl.store(extent_ptr + sample * 2, extent_h.to(tl.int64))
            tl.store(extent_ptr + sample * 2 + 1, extent_w.to(tl.int64))
            room_h = tl.maximum((size_h + 1) - extent_h, 1.0)
            room_w = tl.maximum((size_w + 1) - extent_w, 1.0)
            where = row + HEAD + channels * n_cells
            channel = 0
            while channel < channels:
                source = tl.where(shared, 0, channel)
                corner = start_ptr + (sample * channels + channel) * 2
                tl.store(corner, tl.floor(tl.load(where + source * 2) * room_h).to(tl.int64))
                tl.store(corner + 1, tl.floor(tl.load(where + source * 2 + 1) * room_w).to(tl.int64))
                channel += 1
            tl.store(focal_ptr + sample, keep & (tl.load(row + FOCAL_COIN) < focal_prob))


@functools.lru_cache(maxsize=64)
def _arguments(geo: _Geometry, cells: tuple[int, ...], policy: _draw.Policy) -> tuple[tuple[int, ...], tuple]:
    """The cell grid and the kernel's scalar arguments of a draw (worked out once per geometry and policy)."""
    grid = _grid_sizes(geo, cells)
    n_cells, sizes = math.prod(grid), geo.masked_sizes
    ratio, scale = policy.ratio, policy.focal_scale
    scalars = (
        n_cells, geo.channels, sizes[0], sizes[1], _draw.fixed_count(ratio, n_cells),
        *(float(v) for v in (ratio[0], ratio[1] - ratio[0], scale[0], scale[1] - scale[0], policy.focal_prob,
                             policy.channel_independent_prob, policy.p)),
    )
    return grid, scalars


def draw(u: torch.Tensor, geo: _Geometry, cells: tuple[int, ...], policy: _draw.Policy) -> _Drawn:
    """`maskaug._draw.from_uniforms` in one kernel launch, where `usable`.

    Shape:
        - u: float32 ``(*S, HEAD + C * (n + 2))`` (`maskaug._draw.uniforms`).
    """
    grid, scalars = _arguments(geo, cells, policy)
    lead, channels = geo.sample_sizes, geo.channels
    masked = torch.empty((*lead, channels, *grid), dtype=torch.bool, device=u.device)
    focal = policy.focal_prob > 0
    start = torch.empty((*lead, channels, 2), dtype=torch.int64, device=u.device) if focal else None
    extent = torch.empty((*lead, 1, 2), dtype=torch.int64, device=u.device) if focal else None
    flags = torch.empty((*lead,), dtype=torch.bool, device=u.device) if focal else None
    samples = math.prod(lead)
    if samples:
        u = u.contiguous()
        unused = masked  # for the tensors a draw without boxes never writes
        with _triton.on_device(u):
            _draw_kernel[(samples,)](
                u, masked, unused if start is None else start, unused if extent is None else extent,
                unused if flags is None else flags, u.shape[-1], *scalars,
                RATIO=_draw.RATIO, SCALE=_draw.SCALE, FOCAL_COIN=_draw.FOCAL, INDEPENDENT=_draw.INDEPENDENT,
                KEEP=_draw.KEEP, HEAD=_draw.HEAD, FOCAL=focal, BLOCK=BLOCK, num_warps=4, enable_fp_fusion=False,
            )
    return _Drawn(geo, cells, masked, start, extent, flags, policy.focal_invert)
