"""The video adapter: MSCN presets for clips, VideoMAE-style tube masking, moving-object clips.

Clips use the layout ``"b c t h w"`` (``"c t h w"`` for one clip in a DataLoader worker). The
presets differ only in which axes are masked and how cells extend in time:

* ``"frame"``: ``mask_axes="h w"``, so time is a sample axis and every frame gets its own mask;
* ``"tube"``: cells span the whole clip (``cell={"t": None, ...}``), the same patches masked in
  every frame;
* ``"spacetime"``: cells of ``time_cell`` frames by ``cell`` pixels.

The high-pass runs over space (``"h w"``) or over space and time (``"t h w"``), with one sigma for
every filtered axis. `videomae_mask` is VideoMAE's tube masking (random patches hidden in every
frame, at a high ratio, zero fill) written as a preset of the same grid mask.

`moving_clips` renders the synthetic data of the video recipe: an image (a Fashion-MNIST garment)
moving with a random velocity on a blank canvas and bouncing off its borders.

Example:
    ```python
    import torch
    from maskaug.adapters import video

    clips = torch.randn(2, 1, 8, 32, 32)
    tubes = video.mscn_mask("tube", cell=8, highpass_sigma=1.0)(clips)
    videomae = video.videomae_mask(ratio=0.75, patch=8)(clips)
    ```
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from maskaug import MSCNMask

from maskaug._checks import check_count, check_pair

__all__ = ["MODES", "load_idx", "moving_clips", "mscn_mask", "videomae_mask"]

#: Masked axes and time extent of the cells of each MSCN video preset.
MODES = ("frame", "tube", "spacetime")
_HIGHPASS_AXES = {"space": "h w", "spacetime": "t h w"}


def mscn_mask(
    mode: str = "tube",
    *,
    layout: str = "b c t h w",
    cell: int = 16,
    time_cell: int = 2,
    ratio: float | tuple[float, float] = 0.15,
    highpass: str | None = "space",
    highpass_sigma: float = 5.0,
    **options: Any,
) -> MSCNMask:
    """MSCN masking for clips: per-frame, tube or spatio-temporal cells.

    Focal masks (p=0.4) follow the masked axes. With ``"frame"`` each frame draws its own mask,
    so a focal box is a box in one frame. With ``"tube"`` and ``"spacetime"`` the box spans ``t``
    as it spans ``h`` and ``w``: one ``focal_scale`` (default 0.3-0.6) sets its extent as a
    fraction of every masked axis, the clip's length included, so on 8 frames a box covers 2-5
    consecutive frames, not the whole clip.

    Args:
        mode: ``"frame"``, ``"tube"`` or ``"spacetime"`` (see the module docstring).
        layout: ``"b c t h w"`` for a batch, ``"c t h w"`` for one clip.
        cell: Spatial cell size in pixels.
        time_cell: Cell length in frames for ``"spacetime"``.
        ratio: Grid masking ratio (or a range drawn per sample).
        highpass: ``"space"`` (``h w``), ``"spacetime"`` (``t h w``) or ``None``.
        highpass_sigma: High-pass sigma, in pixels and frames alike; with ``"spacetime"`` the
            clip must be longer than the kernel's radius (``3 * sigma``, rounded up).
        **options: Other `maskaug.MSCNMask` options (``focal_prob``, ``generator``, ...).

    Shape:
        - input: ``(B, C, T, H, W)`` (or ``(C, T, H, W)``).
        - output: the same shape.

    Example:
        ```python
        import torch
        from maskaug.adapters.video import mscn_mask

        mask = mscn_mask("frame", cell=8, highpass=None, focal_prob=0.0, return_mask=True)
        _, m = mask(torch.randn(2, 1, 4, 32, 32))
        assert not torch.equal(m[:, :, 0], m[:, :, 1])   # each frame its own mask
        ```
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if highpass is not None and highpass not in _HIGHPASS_AXES:
        raise ValueError(f"highpass must be 'space', 'spacetime' or None, got {highpass!r}")
    if mode == "frame":
        mask_axes, cells = "h w", {"h": cell, "w": cell}
    else:
        mask_axes, cells = "t h w", {"t": None if mode == "tube" else time_cell, "h": cell, "w": cell}
    return MSCNMask(
        layout=layout,
        mask_axes=mask_axes,
        cell=cells,
        ratio=ratio,
        highpass_sigma=None if highpass is None else highpass_sigma,
        highpass_axes=None if highpass is None else _HIGHPASS_AXES[highpass],
        **options,
    )


def videomae_mask(
    *,
    layout: str = "b c t h w",
    ratio: float = 0.9,
    patch: int = 16,
    return_mask: bool = False,
    generator: torch.Generator | None = None,
) -> MSCNMask:
    """VideoMAE's tube masking as a preset of the grid mask: the baseline of the video recipe.

    Random ``patch`` x ``patch`` patches, the same in every frame, at a high ratio (VideoMAE:
    90%), filled with zeros; no focal masks, no per-channel masks, no high-pass.

    Shape:
        - input: ``(B, C, T, H, W)`` (or ``(C, T, H, W)``).
        - output: the same shape.

    Example:
        ```python
        import torch
        from maskaug.adapters.video import videomae_mask

        mask = videomae_mask(patch=8, ratio=0.75, layout="c t h w", return_mask=True)
        _, m = mask(torch.randn(1, 4, 32, 32))
        assert torch.equal(m[:, 0], m[:, 3]) and m.float().mean() == 0.75  # 12 of 16 patches, all frames
        ```
    """
    return MSCNMask(
        layout=layout,
        mask_axes="t h w",
        cell={"t": None, "h": patch, "w": patch},
        ratio=ratio,
        focal_prob=0.0,
        channel_independent_prob=0.0,
        fill="constant",
        value=0.0,
        highpass_sigma=None,
        return_mask=return_mask,
        generator=generator,
    )


def moving_clips(
    images: Tensor,
    *,
    frames: int = 8,
    size: int = 48,
    object_size: int | None = None,
    speed: tuple[float, float] = (1.0, 3.0),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Clips of each image moving in a straight line and bouncing off the canvas borders.

    Each image starts at a uniformly random position with a uniformly random direction and a
    speed (pixels per frame) uniform in ``speed``; positions fold back at the borders like a
    ball bouncing, and are rounded to whole pixels. The background is 0. One image per clip, all
    clips drawn at once; the same ``generator`` state gives the same clips.

    Args:
        images: ``(N, h, w)`` grey images, uint8 or float.
        frames: Frames per clip (T), an int >= 1.
        size: Canvas side in pixels, an int >= 1.
        object_size: Resize each image to this side (an int >= 1) first (bilinear); ``None``
            keeps it.
        speed: ``(low, high)`` speed range in pixels per frame, ``0 <= low <= high``.
        generator: Source of randomness.

    Returns:
        ``(N, 1, frames, size, size)`` clips, ``images``' dtype.

    Raises:
        TypeError: A count that is not an int, or ``speed`` that is not a pair of numbers.
        ValueError: The image does not fit on the canvas, or a bad range or count.

    Example:
        ```python
        import torch
        from maskaug.adapters.video import moving_clips

        clips = moving_clips(torch.ones(3, 28, 28), frames=8, size=48, generator=torch.Generator().manual_seed(0))
        assert clips.shape == (3, 1, 8, 48, 48) and clips[0, 0, 0].sum() == 28 * 28
        ```
    """
    if images.ndim != 3:
        raise ValueError(f"images must be (N, h, w), got shape {tuple(images.shape)}")
    frames = check_count("frames", frames)
    size = check_count("size", size)
    low, high = check_pair("speed", speed)
    if object_size is not None:
        object_size = check_count("object_size", object_size)
        side = (object_size, object_size)
        resized = F.interpolate(images[:, None].float(), side, mode="bilinear", antialias=True)[:, 0]
        images = resized if images.is_floating_point() else resized.round().clamp(0, 255).to(images.dtype)
    n, h, w = images.shape
    if h > size or w > size:
        raise ValueError(f"images of {h}x{w} do not fit on a canvas of size={size}; lower object_size")
    room = torch.tensor([size - h, size - w], dtype=torch.float32)
    start = torch.rand(n, 2, generator=generator) * room
    angle = torch.rand(n, generator=generator) * 2 * torch.pi
    speeds = low + torch.rand(n, generator=generator) * (high - low)
    velocity = torch.stack([angle.sin(), angle.cos()], dim=1) * speeds[:, None]
    travel = start[:, None, :] + velocity[:, None, :] * torch.arange(frames, dtype=torch.float32)[None, :, None]
    # bouncing: fold the straight path into [0, room] (a triangle wave of period 2 * room)
    period = (2 * room).clamp_min(1e-6)
    folded = torch.remainder(travel, period)
    offset = torch.where(folded > room, period - folded, folded).round().long()  # (N, T, 2)
    rows = torch.arange(size)[None, None, :] - offset[..., :1]  # (N, T, size): image row under canvas row
    cols = torch.arange(size)[None, None, :] - offset[..., 1:]
    inside = ((rows >= 0) & (rows < h))[..., :, None] & ((cols >= 0) & (cols < w))[..., None, :]
    picked = images[
        torch.arange(n)[:, None, None, None],
        rows.clamp(0, h - 1)[..., :, None],
        cols.clamp(0, w - 1)[..., None, :],
    ]
    return torch.where(inside, picked, torch.zeros((), dtype=images.dtype))[:, None]


def load_idx(path: str | Path) -> Tensor:
    """Read an IDX file of unsigned bytes, gzip-compressed or not (Fashion-MNIST's format).

    Args:
        path: An images file (``...-idx3-ubyte.gz``) or a labels file (``...-idx1-ubyte.gz``).

    Returns:
        A uint8 tensor of the shape the header gives: ``(N, rows, cols)`` or ``(N,)``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file is not an IDX file of unsigned bytes, or is truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no IDX file at {path}")
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (header {raw[:4].hex()})")
    rank = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    body = 4 + 4 * rank
    if len(raw) - body != int(np.prod(shape)):
        raise ValueError(f"{path}: the header gives shape {shape}, but the file holds {len(raw) - body} bytes")
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=body).reshape(shape).copy())
