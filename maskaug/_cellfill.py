"""Fill a drawn mask on the CPU cell by cell and box by box, without writing the element mask.

Rendering a mask element by element and scattering noise through it costs more than the
high-pass on a single image. Here the tensor is viewed with every masked axis split into
``(cell, position in the cell)``, so the masked cells of every sample are one indexed assignment
of ``(k, *cells)`` noise, and each box is a slice. This needs every masked axis to be a whole
number of cells; other shapes take the element mask.
"""

from __future__ import annotations

import torch

from maskaug import _random
from maskaug.masks import _Drawn


def usable(x: torch.Tensor, drawn: _Drawn) -> bool:
    """Whether `fill_` can fill ``x`` (on the CPU, eagerly) for ``drawn``."""
    if x.device.type != "cpu" or torch.compiler.is_compiling():
        return False
    return all(size % cell == 0 for size, cell in zip(drawn.geo.masked_sizes, drawn.cells))


def fill_(
    x: torch.Tensor,
    drawn: _Drawn,
    *,
    fill: str,
    noise_std: float,
    value: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Fill the elements of ``x`` that ``drawn`` masks, in place, and return ``x``.

    Noise is drawn for the masked grid cells first (samples, channels and cells in order), then
    for the boxes of each focal sample in turn.

    Shape:
        - x: ``drawn.geo.shape``; every masked axis a multiple of its cell.
        - output: ``x``.
    """
    geo, cells = drawn.geo, drawn.cells
    view = x.permute(geo.order)
    if geo.channel is None:
        view = view.unsqueeze(len(geo.sample))
    lead = len(geo.sample) + 1
    channels = view.shape[len(geo.sample)]

    grid = drawn.grid
    if drawn.focal is not None:
        grid = grid & ~drawn.focal.reshape(*drawn.focal.shape, *(1,) * (len(cells) + 1))
    grid = grid.expand(*view.shape[:lead], *grid.shape[lead:])
    split = view
    for axis, cell in enumerate(cells):
        split = split.unflatten(lead + 2 * axis, (-1, cell))
    # (*S, C, G0, c0, G1, c1, ...) -> (*S, C, G0, G1, ..., c0, c1, ...)
    positions = range(lead + 1, lead + 2 * len(cells), 2)
    by_cell = split.permute(*range(lead), *range(lead, lead + 2 * len(cells), 2), *positions)
    count = int(torch.count_nonzero(grid))
    if count and fill == "noise":
        by_cell[grid] = _random.randn((count, *cells), generator=generator, device=x.device, dtype=x.dtype).mul_(noise_std)
    elif count:
        by_cell[grid] = value

    if drawn.focal is None or not bool(drawn.focal.any()):
        return x
    starts = drawn.start.expand(*view.shape[:lead], -1).tolist()
    extents = drawn.extent.tolist()
    for sample in drawn.focal.nonzero().tolist():
        start, extent = starts, extents
        for index in sample:
            start, extent = start[index], extent[index]
        # channels are indexed, not iterated over: autograd refuses writes into the views of an unbind
        planes = view[tuple(sample)]
        boxes = [(channel, *_slices(corner, extent[0])) for channel, corner in enumerate(start)]
        if drawn.invert:
            kept = [planes[box].clone() for box in boxes]
            planes.copy_(_filler(tuple(planes.shape), x, fill, noise_std, value, generator))
            for box, inside in zip(boxes, kept):
                planes[box] = inside
            continue
        # the box has the same extent in every channel: one draw of noise for all of them
        filler = _filler((channels, *extent[0]), x, fill, noise_std, value, generator)
        for box, part in zip(boxes, filler):
            planes[box] = part
    return x


def _slices(start: list[int], extent: list[int]) -> tuple[slice, ...]:
    return tuple(slice(a, a + e) for a, e in zip(start, extent))


def _filler(shape: tuple[int, ...], like: torch.Tensor, fill: str, noise_std: float, value: float,
            generator: torch.Generator | None) -> torch.Tensor:
    """Noise or ``value`` of ``shape``, with ``like``'s dtype and device."""
    if fill == "noise":
        return _random.randn(shape, generator=generator, device=like.device, dtype=like.dtype).mul_(noise_std)
    return torch.full(shape, value, dtype=like.dtype, device=like.device)
