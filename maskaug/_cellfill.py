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
    for each box in turn.

    Shape:
        - x: ``drawn.geo.shape``; every masked axis a multiple of its cell.
        - output: ``x``.
    """
    geo, cells = drawn.geo, drawn.cells
    order = [*geo.sample, *([] if geo.channel is None else [geo.channel]), *geo.masked]
    view = x.permute(order)
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
    if fill == "noise":
        count = int(torch.count_nonzero(grid))
        by_cell[grid] = _random.randn((count, *cells), generator=generator, device=x.device, dtype=x.dtype).mul_(noise_std)
    else:
        by_cell[grid] = value

    if drawn.focal is None or not bool(drawn.focal.any()):
        return x
    starts = drawn.start.expand(*view.shape[:lead], -1).tolist()
    extents = drawn.extent.tolist()
    for sample in drawn.focal.nonzero().tolist():
        start, extent = starts, extents
        for index in sample:
            start, extent = start[index], extent[index]
        for channel in range(channels):
            box = tuple(slice(a, a + e) for a, e in zip(start[channel], extent[0]))
            plane = view[(*sample, channel)]
            if drawn.invert:
                kept = plane[box].clone()
                _fill_all(plane, fill, noise_std, value, generator)
                plane[box] = kept
            else:
                _fill_all(plane[box], fill, noise_std, value, generator)
    return x


def _fill_all(part: torch.Tensor, fill: str, noise_std: float, value: float, generator: torch.Generator | None) -> None:
    """Overwrite every element of the view ``part`` with noise or ``value``."""
    if fill == "noise":
        part.copy_(_random.randn(part.shape, generator=generator, device=part.device, dtype=part.dtype).mul_(noise_std))
    else:
        part.fill_(value)
