"""The random draw of `MSCNMask`: every random number of a call in one uniform tensor, then the masks.

One ``torch.rand`` call draws a row of uniforms per sample (each index of the sample axes):

======================  =====================================================================
column                  use
======================  =====================================================================
``SEED``, ``SEED + 1``  the bits of the fused kernel's noise seed (the first sample's only)
``RATIO``               the masking ratio, when it is a range
``SCALE``               the focal box's extent (a fraction of each masked axis), when a range
``FOCAL``               focal box (``< focal_prob``) or grid
``INDEPENDENT``         one mask per channel (``< channel_independent_prob``) or channel 0's
``KEEP``                masked at all (``< p``)
``HEAD`` ... ``+ C*n``  the cell scores of each of the ``C`` channels (``n`` cells each)
then ``C * M``          the box position of each channel along each of the ``M`` masked axes
======================  =====================================================================

A sample masks, per channel, its ``round(ratio * n)`` cells of lowest score (ties go to the lower
cell index), or its box. Every column is drawn whether it is used or not, so that for a given
geometry (sizes, cells, and whether channels may get their own masks) the same generator gives
the same masks whatever the probabilities. `from_uniforms` computes the masks with torch
operations, in float32 (a fixed ratio's count in float64, on the host); the GPU computes the
same numbers with one Triton kernel (`maskaug._triton_draw`), which gives identical masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from maskaug import _random
from maskaug.masks import _Drawn, _Geometry, _grid_sizes, _lowest

SEED, RATIO, SCALE, FOCAL, INDEPENDENT, KEEP = 0, 2, 3, 4, 5, 6
HEAD = 7


@dataclass(frozen=True)
class Policy:
    """The parameters of a draw (see `MSCNMask`); ranges are ``(low, high)``."""

    ratio: tuple[float, float]
    focal_prob: float
    focal_scale: tuple[float, float]
    focal_invert: bool
    channel_independent_prob: float
    p: float


def width(geo: _Geometry, cells: tuple[int, ...]) -> int:
    """The uniforms a sample draws: ``HEAD + C * (n + M)``, ``n`` cells and ``M`` masked axes."""
    return HEAD + geo.channels * (math.prod(_grid_sizes(geo, cells)) + len(geo.masked))


def uniforms(geo: _Geometry, width: int, *, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """The uniforms of one draw, ``width`` (from `width`) per sample.

    Shape:
        - output: float32 ``(*S, width)``.
    """
    return _random.rand((*geo.sample_sizes, width), generator=generator, device=device)


def affine(u: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    """``low + (high - low) * u`` in float32, one rounding per operation (the GPU kernel does the same)."""
    low, high = bounds
    return (u * (high - low)) + low


def fixed_count(ratio: tuple[float, float], n_cells: int) -> int:
    """The number of masked cells of a fixed ratio (half to even, as `sample_grid_mask`); -1 for a range."""
    return round(ratio[0] * n_cells) if ratio[0] == ratio[1] else -1


def from_uniforms(u: torch.Tensor, geo: _Geometry, cells: tuple[int, ...], policy: Policy) -> _Drawn:
    """The masks that the uniforms ``u`` (from `uniforms`) give, computed with torch operations.

    Decisions that a parameter fixes (a fixed ratio, ``p = 1``, a square box) skip their
    operations: one sample in a ``DataLoader`` worker pays for every operation it issues.
    """
    grid = _grid_sizes(geo, cells)
    n_cells, axes, channels = math.prod(grid), len(grid), geo.channels
    scores = u[..., HEAD : HEAD + channels * n_cells].unflatten(-1, (channels, n_cells))
    where = u[..., HEAD + channels * n_cells :].unflatten(-1, (channels, axes))
    keep = None if policy.p >= 1 else u[..., KEEP] < policy.p
    if channels > 1 and policy.channel_independent_prob < 1:  # shared samples take channel 0's scores and box
        shared = (u[..., INDEPENDENT] >= policy.channel_independent_prob)[..., None, None]
        scores = torch.where(shared, scores[..., :1, :], scores)
        where = torch.where(shared, where[..., :1, :], where)
    counts = fixed_count(policy.ratio, n_cells)
    if counts < 0:
        counts = torch.round(affine(u[..., RATIO], policy.ratio) * n_cells).long()[..., None, None]
    masked = _lowest(scores, counts)
    if keep is not None:
        masked &= keep[..., None, None]
    drawn = _Drawn(geo, cells, masked.unflatten(-1, grid), invert=policy.focal_invert)
    if policy.focal_prob == 0:
        return drawn
    scale = affine(u[..., SCALE], policy.focal_scale)[..., None, None]
    sizes = geo.masked_sizes
    if len(set(sizes)) == 1:  # the same extent and room along every axis
        extent = torch.round(scale * sizes[0]).clamp_(min=1)
        room = (sizes[0] + 1 - extent).clamp_(min=1)
        extent = extent.expand(*extent.shape[:-1], axes)
    else:
        extent = torch.cat([torch.round(scale * size).clamp_(min=1) for size in sizes], dim=-1)
        room = torch.cat([(size + 1 - extent[..., a : a + 1]).clamp_(min=1) for a, size in enumerate(sizes)], dim=-1)
    start = torch.floor(where * room)
    focal = u[..., FOCAL] < policy.focal_prob
    if keep is not None:
        focal &= keep
    return _Drawn(geo, cells, drawn.grid, start.long(), extent.long(), focal, policy.focal_invert)
