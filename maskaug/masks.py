"""Mask samplers and the mask applier.

Samplers see shapes, never pixels: they return boolean masks (``True`` = masked) that broadcast to
the tensor they describe. `apply_mask` fills the masked elements. Every sampler is
vectorized over samples: one call draws the masks of a whole batch on the target device.

Axes fall into three roles:

* **masked axes** (``dims``): cut into cells (grid masks) or covered by a box (focal masks);
* the **channel axis** (``channel_dim``, optional): shared by one mask, or one mask per channel
  when ``channel_independent=True``;
* **sample axes**: every other axis (batch, and for example time in per-frame video masks).
  Each index of the sample axes gets its own mask.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

import torch

from maskaug import _random, _triton
from maskaug._checks import Range, check_bool, check_generator, check_nonnegative, check_range, normalize_dims

Cell = int | None | Sequence[int | None]


@dataclass(frozen=True)
class _Geometry:
    """How the axes of ``shape`` split into sample, channel and masked axes.

    Masks are built in the canonical order ``(*sample, channel, *masked)`` (the channel axis has
    size 1 when it is absent or shared) and permuted back to the order of ``shape``.
    """

    shape: tuple[int, ...]
    masked: tuple[int, ...]
    channel: int | None
    sample: tuple[int, ...]
    channels: int

    @classmethod
    def of(
        cls, shape: Sequence[int], dims: int | Sequence[int], channel_dim: int | None, independent: bool
    ) -> _Geometry:
        shape = _check_shape(shape)
        ndim = len(shape)
        masked = normalize_dims("dims", dims, ndim, shape)
        check_bool("channel_independent", independent)
        channel = None
        if channel_dim is not None:
            if isinstance(channel_dim, bool) or not isinstance(channel_dim, int):
                raise TypeError(f"channel_dim must be an int or None, got {channel_dim!r}")
            (channel,) = normalize_dims("channel_dim", channel_dim, ndim, shape)
            if channel in masked:
                raise ValueError(f"channel_dim={channel_dim} is also one of dims={tuple(masked)} for shape {shape}")
        if independent and channel is None:
            raise ValueError("channel_independent=True needs a channel_dim")
        sample = tuple(a for a in range(ndim) if a not in masked and a != channel)
        channels = shape[channel] if (independent and channel is not None) else 1
        return cls(shape, masked, channel, sample, channels)

    @property
    def sample_sizes(self) -> tuple[int, ...]:
        return tuple(self.shape[a] for a in self.sample)

    @property
    def masked_sizes(self) -> tuple[int, ...]:
        return tuple(self.shape[a] for a in self.masked)

    @property
    def order(self) -> list[int]:
        """The axes of ``shape`` in the canonical order: sample axes, the channel axis if any, masked axes."""
        return [*self.sample, *([] if self.channel is None else [self.channel]), *self.masked]

    def to_layout(self, canonical: torch.Tensor) -> torch.Tensor:
        """Permute a ``(*sample, channel, *masked)`` tensor into the axis order of ``shape``.

        Without a channel axis the size-1 canonical channel axis is dropped.
        """
        if self.channel is None:
            canonical = canonical.squeeze(len(self.sample))
        order = self.order
        inverse = [order.index(a) for a in range(len(self.shape))]
        return canonical.permute(inverse)


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, torch.Tensor):
        raise TypeError("shape must be a sequence of ints (for example x.shape), got a tensor")
    if isinstance(shape, str) or not isinstance(shape, Iterable):
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}")
    sizes = tuple(shape)
    if any(isinstance(s, (bool, np.bool_)) for s in sizes):
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}")
    try:  # ints of any kind (numpy's too, and the symbolic sizes torch.compile traces), never a float
        out = tuple(s if isinstance(s, (int, torch.SymInt)) else operator.index(s) for s in sizes)
    except TypeError:
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}") from None
    if any(s < 0 for s in out):
        raise ValueError(f"shape must not have negative sizes, got {out}")
    return out


def _per_axis_cells(cell: Cell, sizes: tuple[int, ...]) -> tuple[int, ...]:
    """One cell size per masked axis; ``None`` means the cell spans the whole axis (a tube)."""
    if cell is None or (isinstance(cell, int) and not isinstance(cell, bool)):
        cells = (cell,) * len(sizes)
    elif isinstance(cell, Sequence) and not isinstance(cell, str):
        cells = tuple(cell)
        if len(cells) != len(sizes):
            raise ValueError(f"cell={tuple(cell)!r} gives {len(cells)} sizes for {len(sizes)} masked axes")
    else:
        raise TypeError(f"cell must be an int, None, or one of those per masked axis, got {cell!r}")
    out = []
    for c, size in zip(cells, sizes):
        if c is None:
            out.append(max(size, 1))
        elif isinstance(c, bool) or not isinstance(c, int):
            raise TypeError(f"cell must be an int, None, or one of those per masked axis, got {cell!r}")
        elif c < 1:
            raise ValueError(f"cell sizes must be >= 1, got cell={cell!r}")
        else:
            out.append(c)
    return tuple(out)


def _resolve_device(device: torch.device | str | None) -> torch.device:
    return torch.device("cpu") if device is None else torch.device(device)


def sample_grid_mask(
    shape: Sequence[int],
    *,
    cell: Cell,
    ratio: Range,
    dims: int | Sequence[int] = (-2, -1),
    channel_dim: int | None = None,
    channel_independent: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Random grid mask: exactly ``round(ratio * n_cells)`` cells masked per sample.

    The axes in ``dims`` are cut into cells of size ``cell``, starting at index 0; cells at the far
    border may be partial. For every sample (every index of the axes that are neither masked nor
    the channel axis) and, with ``channel_independent=True``, for every channel, the masked cells
    are a uniformly random subset of size ``round(ratio * n_cells)`` (Python's rounding, half to
    even). MSCN's ImageNet default is 32-pixel cells and a 15% ratio.

    Args:
        shape: shape of the tensor the mask is for (for example ``x.shape``).
        cell: cell size, an int for every masked axis or one per axis. ``None`` makes a cell span
            the whole axis (for video, ``cell=(None, 16, 16)`` over ``t h w`` gives tube masks).
        ratio: fraction of cells to mask, in ``[0, 1]``; a ``(low, high)`` pair draws a ratio
            uniformly per sample (shared by the channels of that sample).
        dims: the masked axes, any number, at any positions.
        channel_dim: the channel axis, if any. Without ``channel_independent`` the mask has size 1
            along it and every channel shares the mask.
        channel_independent: draw a separate mask for every channel.
        generator: source of randomness; ``None`` uses torch's default generator.
        device: device of the returned mask (CPU by default).

    Returns:
        A bool tensor with ``shape``'s sizes on sample and masked axes, and ``C`` (independent) or
        1 (shared) on the channel axis, so it broadcasts to ``shape``.

    Shape:
        - shape: ``(*S, C, *M)`` in any axis order, with ``M`` the masked axes.
        - output: same rank; channel size ``C`` or ``1``.

    Example:
        ```python
        import torch
        from maskaug import sample_grid_mask

        g = torch.Generator().manual_seed(0)
        mask = sample_grid_mask((8, 3, 224, 224), cell=32, ratio=0.15, channel_dim=1, generator=g)
        assert mask.shape == (8, 1, 224, 224)
        assert mask.float().mean() == 7 * 32 * 32 / 224**2  # round(0.15 * 49) = 7 cells
        ```
    """
    geo = _Geometry.of(shape, dims, channel_dim, channel_independent)
    ratio_range = check_range("ratio", ratio, low=0.0, high=1.0)
    check_generator(generator)
    device = _resolve_device(device)
    cells = _per_axis_cells(cell, geo.masked_sizes)
    grid = _draw_grid(geo, cells, ratio_range, generator=generator, device=device)
    return _render(_Drawn(geo, cells, grid))


def sample_focal_mask(
    shape: Sequence[int],
    *,
    scale: Range,
    dims: int | Sequence[int] = (-2, -1),
    channel_dim: int | None = None,
    channel_independent: bool = False,
    invert: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Focal mask: one axis-aligned box per sample, placed uniformly.

    The box spans ``max(1, round(s * L))`` elements of every masked axis of length ``L``, with one
    scale ``s`` per sample (drawn uniformly from ``scale`` when it is a range, shared by all masked
    axes so the box keeps the input's aspect ratio). Its start along each axis is uniform over
    every position where it fits. With ``channel_independent=True`` every channel gets its own box
    position (the scale stays per sample).

    Args:
        shape: shape of the tensor the mask is for.
        scale: box extent as a fraction of each masked axis, in ``(0, 1]``, or a ``(low, high)``
            range drawn per sample.
        dims: the masked axes.
        channel_dim: the channel axis, if any.
        channel_independent: draw a separate box for every channel.
        invert: mask everything *outside* the box (keep a focal window) instead of the box.
        generator: source of randomness; ``None`` uses torch's default generator.
        device: device of the returned mask (CPU by default).

    Returns:
        A bool tensor that broadcasts to ``shape`` (channel size ``C`` or ``1``).

    Shape:
        - shape: ``(*S, C, *M)`` in any axis order.
        - output: same rank; channel size ``C`` or ``1``.

    Example:
        ```python
        import torch
        from maskaug import sample_focal_mask

        mask = sample_focal_mask((4, 64, 64), scale=0.5, generator=torch.Generator().manual_seed(0))
        assert mask.shape == (4, 64, 64)
        assert (mask.sum(dim=(1, 2)) == 32 * 32).all()
        ```
    """
    geo = _Geometry.of(shape, dims, channel_dim, channel_independent)
    scale_range = check_range("scale", scale, low=0.0, high=1.0, low_open=True)
    check_bool("invert", invert)
    check_generator(generator)
    device = _resolve_device(device)
    sizes = geo.masked_sizes
    start, extent = _draw_focal(geo, scale_range, generator=generator, device=device)
    sides = _sides(start, extent, sizes)
    return geo.to_layout(_as(_box(sides, [(size,) for size in sizes], invert), torch.bool))


def _draw_grid(
    geo: _Geometry,
    cells: tuple[int, ...],
    ratio: tuple[float, float],
    *,
    generator: torch.Generator | None,
    device: torch.device,
) -> torch.Tensor:
    """Draw which cells of a grid are masked: exactly ``round(ratio * n_cells)`` per sample and channel.

    Shape:
        - output: bool ``(*S, C, *G)``, ``G`` the number of cells along each masked axis.
    """
    grid = _grid_sizes(geo, cells)
    n_cells = math.prod(grid)
    if ratio[0] == ratio[1]:  # a fixed ratio draws nothing (see _random.uniform_in); both rounds go half to even
        counts = round(ratio[0] * n_cells)
    else:
        ratios = _random.uniform_in(ratio, (*geo.sample_sizes, 1, 1), generator=generator, device=device)
        counts = torch.round(ratios * n_cells)
    scores = _random.rand((*geo.sample_sizes, geo.channels, n_cells), generator=generator, device=device)
    return _lowest(scores, counts).reshape(*geo.sample_sizes, geo.channels, *grid)


def _grid_sizes(geo: _Geometry, cells: tuple[int, ...]) -> tuple[int, ...]:
    """The number of cells along each masked axis (the last cell may be cut by the border)."""
    return tuple(math.ceil(size / c) for size, c in zip(geo.masked_sizes, cells))


def _lowest(scores: torch.Tensor, counts: int | torch.Tensor) -> torch.Tensor:
    """Whether each score is among the ``counts`` lowest of its row (ties go to the lower index).

    Shape:
        - scores: ``(..., n)``; counts: an int, or integers broadcastable to ``scores``.
        - output: bool, ``scores.shape``.
    """
    return scores.argsort(dim=-1, stable=True).argsort(dim=-1, stable=True) < counts


def _draw_focal(
    geo: _Geometry,
    scale: tuple[float, float],
    *,
    generator: torch.Generator | None,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one box per sample (per channel when independent): its start and extent along each masked axis.

    The extent is per sample (shared by the channels); the box never reaches past an axis.

    Shape:
        - output: ``start`` int64 ``(*S, C, M)`` and ``extent`` int64 ``(*S, 1, M)``, ``M`` the
          number of masked axes.
    """
    # filled on the device: a tensor built from a list, or an indexed assignment, would be a
    # synchronizing copy from the host
    masked_sizes = geo.masked_sizes
    if len(set(masked_sizes)) <= 1:
        sizes = torch.full((len(masked_sizes),), masked_sizes[0] if masked_sizes else 0, dtype=torch.float64, device=device)
    else:
        sizes = torch.empty(len(masked_sizes), dtype=torch.float64, device=device)
        for axis, size in enumerate(masked_sizes):
            sizes.narrow(0, axis, 1).fill_(size)
    scales = _random.uniform_in(scale, (*geo.sample_sizes, 1), generator=generator, device=device)
    where = _random.rand((*geo.sample_sizes, geo.channels, len(masked_sizes)), generator=generator, device=device)
    extent = torch.round(scales[..., None] * sizes).clamp_(min=1)
    # float32 positions times float64 room: the product is taken in float64
    start = torch.floor_(where * (sizes + 1 - extent).clamp_(min=1))
    return start.long(), extent.long()


def _sides(start: torch.Tensor, extent: torch.Tensor, lengths: Sequence[int]) -> list[torch.Tensor]:
    """The box of `_draw_focal` as one indicator per masked axis, over ``lengths[a]`` positions.

    Shape:
        - start: ``(*S, C, M)``; extent: broadcastable to it.
        - output: one bool ``(*S, C, lengths[a])`` per masked axis, True inside the box.
    """
    index = torch.arange(max((0, *lengths)), device=start.device)
    inside = (index >= start[..., None]) & (index < (start + extent)[..., None])
    return [inside[..., axis, :length] for axis, length in enumerate(lengths)]


def _box(
    sides: Sequence[torch.Tensor],
    split: Sequence[Sequence[int]],
    invert: bool,
    only: torch.Tensor | None = None,
) -> torch.Tensor:
    """The box whose extents along the masked axes are ``sides``, or its complement, as 0/1 bytes.

    Bytes, not bools: products of bytes are vectorized on the CPU, logical operations on bools
    are several times slower.

    Args:
        sides: along each masked axis, True inside the box, from `_sides`.
        split: the sizes each masked axis is laid out as: ``(size,)``, or ``(n_cells, cell)``.
        invert: return the complement.
        only: per sample, whether it gets a box; the others get zeros.

    Shape:
        - sides: bool ``(*S, C, prod(split[a]))`` each.
        - only: bool ``(*S,)``.
        - output: uint8 ``(*S, C, *split[0], *split[1], ...)``.
    """
    rank = sum(len(part) for part in split)
    box = None
    start = 0
    for side, part in zip(sides, split):
        shape = [1] * rank
        shape[start : start + len(part)] = part
        start += len(part)
        side = _as(side.reshape(*side.shape[:-1], *shape), torch.uint8)
        box = side if box is None else box * side
    if invert:
        box = 1 - box
    if only is not None:
        box = box * _as(only.reshape(*only.shape, *(1,) * (rank + 1)), torch.uint8)
    return box


@dataclass(frozen=True)
class _Drawn:
    """A drawn mask before it is written out element by element: grid cells and, per sample, a box.

    Where ``focal`` is True a sample is masked by its box (or, with ``invert``, outside it), and
    by its grid cells elsewhere. `_render` writes the element mask; the CPU and GPU fills can work
    from this description directly.

    Shape:
        - grid: bool ``(*S, C, *G)``, ``G`` the number of cells along each masked axis.
        - start: int64 ``(*S, C, M)``, or ``None`` without boxes.
        - extent: int64 ``(*S, 1, M)``, or ``None``.
        - focal: bool ``(*S,)``, or ``None``.
    """

    geo: _Geometry
    cells: tuple[int, ...]
    grid: torch.Tensor
    start: torch.Tensor | None = None
    extent: torch.Tensor | None = None
    focal: torch.Tensor | None = None
    invert: bool = False


def _render(drawn: _Drawn) -> torch.Tensor:
    """The element mask of ``drawn``: its box where ``focal`` is True, its masked cells elsewhere.

    The box is laid out with each masked axis split into ``(cell, position in the cell)``, so that
    merging the axes back is a reshape and cutting partial cells at the far borders a view. On the
    CPU, a box or a grid that no sample uses is not written at all.

    Shape:
        - output: bool, ``geo.shape``'s sizes on sample and masked axes, ``C`` on the channel axis.
    """
    geo, cells, grid, focal = drawn.geo, drawn.cells, drawn.grid, drawn.focal
    lead = grid.shape[: grid.ndim - len(cells)]
    counts = grid.shape[len(lead) :]
    split = list(zip(counts, cells))
    full = [n * c for n, c in split]
    host = grid.device.type == "cpu" and not torch.compiler.is_compiling()
    boxes = int(torch.count_nonzero(focal)) if host and focal is not None else None
    if focal is None or boxes == 0:
        mask = _expand_cells(grid, cells)
    else:
        sides = _sides(drawn.start, drawn.extent, full)
        if boxes == focal.numel():
            mask = _as(_box(sides, split, drawn.invert), torch.bool)
        else:
            box = _box(sides, split, drawn.invert, only=focal).reshape(*lead, *full)
            rest = grid & ~focal.reshape(*focal.shape, *(1,) * (len(cells) + 1))
            mask = _as(box + _as(_expand_cells(rest, cells), torch.uint8), torch.bool)
    mask = mask.reshape(*lead, *full)
    return geo.to_layout(mask[(..., *(slice(0, size) for size in geo.masked_sizes))])


def _as(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A bool tensor as uint8 or back (0 and 1 only): a view, or a copy under ``torch.compile``,
    whose inductor cannot lower a view between bool and uint8."""
    return mask.to(dtype) if torch.compiler.is_compiling() else mask.view(dtype)


def _expand_cells(grid: torch.Tensor, cells: Sequence[int]) -> torch.Tensor:
    """Repeat each cell's entry over the elements of the cell.

    Shape:
        - grid: ``(*lead, *G)``.
        - output: ``(*lead, *(G[a] * cells[a]))``.
    """
    first = grid.ndim - len(cells)
    for axis in reversed(range(len(cells))):
        grid = grid.repeat_interleave(cells[axis], dim=first + axis)
    return grid


def _check_fill_value(value: float, dtype: torch.dtype) -> None:
    """Refuse a constant fill that ``dtype`` cannot hold exactly (no wrapping, rounding or overflow)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"value must be a number, got {value!r}")
    if dtype.is_floating_point:
        if math.isfinite(value) and abs(value) > torch.finfo(dtype).max:
            raise ValueError(f"value={value!r} overflows x's dtype {dtype}")
        return
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"value={value!r} is not representable in x's dtype {dtype}")
    low, high = (0, 1) if dtype == torch.bool else (torch.iinfo(dtype).min, torch.iinfo(dtype).max)
    if not low <= value <= high:
        raise ValueError(f"value={value!r} is outside the range [{low}, {high}] of x's dtype {dtype}")


def apply_mask(
    x: torch.Tensor,
    mask: torch.Tensor,
    *,
    fill: str = "noise",
    noise_std: float = 1.0,
    value: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Return a copy of ``x`` whose masked elements are filled; the rest is bit-identical.

    Args:
        x: the input; never modified.
        mask: bool tensor that broadcasts to ``x.shape`` (``True`` = masked).
        fill: ``"noise"`` for fresh iid Gaussian noise ``N(0, noise_std**2)`` per masked element,
            ``"constant"`` for ``value``. On a high-passed input 0 means "no information", so
            ``fill="constant"`` with ``value=0`` is the plain MSCN mask.
        noise_std: standard deviation of the noise fill (>= 0).
        value: the constant fill.
        generator: source of the noise; ``None`` uses torch's default generator. A noise fill
            advances it by two uniforms, the noise's seed, on the fused and the torch path alike
            (in eager mode, on the CPU and CUDA); a constant fill draws nothing.

    Returns:
        A new tensor with ``x``'s shape, dtype and device.

    Shape:
        - x: any shape.
        - mask: broadcastable to ``x.shape``.
        - output: ``x.shape``.

    Example:
        ```python
        import torch
        from maskaug import apply_mask

        x = torch.randn(2, 3, 8, 8)
        mask = torch.zeros(2, 1, 8, 8, dtype=torch.bool)
        mask[:, :, :4] = True
        y = apply_mask(x, mask, fill="constant", value=0.0)
        assert (y[:, :, :4] == 0).all() and torch.equal(y[:, :, 4:], x[:, :, 4:])
        ```
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a bool tensor, got {got}")
    try:
        broadcast = torch.broadcast_shapes(mask.shape, x.shape)
    except RuntimeError:
        broadcast = None
    if broadcast != x.shape:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to x of shape {tuple(x.shape)}")
    if fill not in ("noise", "constant"):
        raise ValueError(f"fill must be 'noise' or 'constant', got {fill!r}")
    check_generator(generator)
    if fill == "noise":
        if not x.is_floating_point():
            raise TypeError(f"fill='noise' needs a floating x, got {x.dtype}; use fill='constant'")
        noise_std = check_nonnegative("noise_std", noise_std)
    else:
        _check_fill_value(value, x.dtype)
    return _fill(x, mask, fill=fill, noise_std=noise_std, value=value, generator=generator, overwrite=False)


def _fill(
    x: torch.Tensor,
    mask: torch.Tensor,
    *,
    fill: str,
    noise_std: float,
    value: float,
    generator: torch.Generator | None,
    overwrite: bool,
    seed: torch.Tensor | None = None,
) -> torch.Tensor:
    """`apply_mask` on checked arguments; ``overwrite=True`` lets it fill ``x`` itself, a temporary of the caller's.

    The noise's seed is ``seed`` (the caller's uniforms, as `maskaug._triton.fused` takes it), or
    two uniforms drawn from ``generator``. Either way, in eager mode on the CPU and CUDA outside a
    graph capture, ``generator`` advances by that seed alone: the fused kernel draws its noise from
    the seed, the torch operations from a generator spawned from ``generator``
    (`maskaug._random.spawn`). So the masks a caller draws next are the same on every path.

    Shape:
        - x: any shape.
        - mask: broadcastable to ``x.shape``.
        - output: ``x.shape``.
    """
    if _triton.usable(x):  # (two axes at least)
        return _triton.fused(x, sigma=None, mask=mask, fill=fill, noise_std=noise_std, value=value,
                             generator=generator, seed=seed)
    if fill == "noise":
        if seed is None:  # drawn as the kernel draws its seed, to advance generator alike (where it lives: no copy)
            _triton.draw_seed(generator, x.device if generator is None else generator.device)
        generator = _random.spawn(generator, x.device)
    if fill == "noise" and x.device.type == "cpu" and not torch.compiler.is_compiling():
        # On the CPU a data-dependent size costs no synchronization: draw noise only where needed.
        # Every element of the mask stands for x.numel() / mask.numel() elements of x.
        count = int(torch.count_nonzero(mask)) * (x.numel() // mask.numel()) if x.numel() else 0
        noise = _random.randn((count,), generator=generator, device=x.device, dtype=x.dtype).mul_(noise_std)
        return (x if overwrite else x.clone()).masked_scatter_(mask, noise)
    if fill == "noise":
        filler = _random.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * noise_std
    else:
        filler = torch.full((), value, dtype=x.dtype, device=x.device)
    return torch.where(mask.to(x.device), filler, x)
