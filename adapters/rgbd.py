"""The RGB-D adapter: 4-channel MSCN masks, depth normalization, NYU-Depth-v2-style folders.

RGB-D images use the layout ``"b c h w"`` with 4 channels, colour first and depth last. Depth is
normalized so that 0 means "no information", as after MSCN's high-pass: valid depths are
standardized, and missing depths (0 in the sensor's output) stay 0. `RGBDMask` runs MSCN's
policy on the 4-channel image with one of three couplings between colour and depth:

* ``"shared"``: one mask for all four channels (the same hole in colour and depth);
* ``"separate"``: one mask for the colour channels, another for depth;
* ``"channel"``: MSCN's channel-independent masks over all four channels, with probability
  ``channel_independent_prob``.

It draws its mask with `maskaug.MSCNMask.sample_mask` on one mask channel per group of channels
and hands it to the core's `maskaug.highpass` and `maskaug.apply_mask`.

`RGBDFolder` reads a folder that a user supplies (NYU-Depth-v2 exported as images, say):
``rgb/NAME.png`` (or ``.jpg``) paired by name with ``depth/NAME.png`` (16-bit, millimetres) or
``depth/NAME.npy`` (metres), and an optional ``labels.csv`` with ``name,label`` rows.

Example:
    ```python
    import torch
    from maskaug.adapters import rgbd

    mask = rgbd.RGBDMask(coupling="separate", cell=8, highpass_sigma=1.0)
    views = mask(torch.randn(2, 4, 32, 32))          # colour and depth masked apart
    ```
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import Dataset

from maskaug import MSCNMask, apply_mask, highpass

__all__ = [
    "COUPLINGS",
    "NYU_DEPTH_STATS",
    "RGBDDataError",
    "RGBDFolder",
    "RGBDMask",
    "normalize_depth",
    "to_rgbd",
]

#: Channel groups that share a mask under each coupling (channels 0-2 colour, 3 depth).
COUPLINGS = {"shared": ((0, 1, 2, 3),), "separate": ((0, 1, 2), (3,)), "channel": ((0,), (1,), (2,), (3,))}
#: Mean and standard deviation of valid NYU-Depth-v2 depths in metres (indoor scenes, 0.5-10 m).
NYU_DEPTH_STATS = (2.8, 1.4)
_RGB_MEAN = (0.485, 0.456, 0.406)
_RGB_STD = (0.229, 0.224, 0.225)
_RGB_SUFFIXES = (".png", ".jpg", ".jpeg")
_DEPTH_SUFFIXES = (".png", ".npy")


class RGBDMask(nn.Module):
    """MSCN masking of 4-channel RGB-D images, with colour and depth masks coupled or not.

    The high-pass (over ``h w``) runs on every channel first, then a grid or focal mask per
    sample, drawn by a `maskaug.MSCNMask` with one mask channel per group of `COUPLINGS`, then
    the fill.

    Args:
        coupling: ``"shared"``, ``"separate"`` or ``"channel"`` (see the module docstring).
        layout: ``"b c h w"`` for a batch, ``"c h w"`` for one image in a DataLoader worker.
        cell: Grid cell size in pixels.
        ratio: Grid masking ratio (or a range drawn per sample).
        highpass_sigma: High-pass sigma in pixels; ``None`` for none.
        highpass_kernel_size: Odd number of taps, ``None`` for the full Gaussian.
        channel_independent_prob: For ``"channel"``: probability that a sample gets a mask per
            channel (else one for all four).
        fill: ``"noise"`` or ``"constant"``.
        noise_std: Standard deviation of the noise fill.
        return_mask: Return ``(x_masked, mask)``; the mask has 4 channels.
        generator: Source of randomness.
        **options: Other `maskaug.MSCNMask` options (``focal_prob``, ``focal_scale``, ...).

    Shape:
        - input: ``(B, 4, H, W)`` (or ``(4, H, W)``), normalized colour then depth.
        - output: the same shape; the mask is bool ``(B, 4, H, W)``.

    Example:
        ```python
        import torch
        from maskaug.adapters.rgbd import RGBDMask

        mask = RGBDMask(coupling="separate", cell=8, return_mask=True, generator=torch.Generator().manual_seed(0))
        _, m = mask(torch.randn(16, 4, 32, 32))
        assert torch.equal(m[:, 0], m[:, 2]) and not torch.equal(m[:, 0], m[:, 3])
        ```
    """

    def __init__(
        self,
        *,
        coupling: str = "channel",
        layout: str = "b c h w",
        cell: int = 32,
        ratio: float | tuple[float, float] = 0.15,
        highpass_sigma: float | None = 5.0,
        highpass_kernel_size: int | None = None,
        channel_independent_prob: float = 0.8,
        fill: str = "noise",
        noise_std: float = 0.2,
        return_mask: bool = False,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        if coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {sorted(COUPLINGS)}, got {coupling!r}")
        if layout not in ("b c h w", "c h w"):
            raise ValueError(f"layout must be 'b c h w' or 'c h w', got {layout!r}")
        self.coupling = coupling
        self.policy = MSCNMask(
            layout=layout,
            cell=cell,
            ratio=ratio,
            # one mask channel per group: "separate" always draws one per group, "shared" has one group
            channel_independent_prob=channel_independent_prob if coupling == "channel" else 1.0,
            fill=fill,
            noise_std=noise_std,
            highpass_sigma=highpass_sigma,
            highpass_kernel_size=highpass_kernel_size,
            generator=generator,
            **options,
        )
        groups = COUPLINGS[coupling]
        group_of_channel = torch.tensor([i for c in range(4) for i, g in enumerate(groups) if c in g])
        self.register_buffer("group_of_channel", group_of_channel, persistent=False)
        self.return_mask = bool(return_mask)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        channel = self.policy.layout.channel
        if x.ndim != len(self.policy.layout.names) or x.shape[channel] != 4:
            raise ValueError(
                f"RGBDMask expects layout '{self.policy.layout}' with 4 channels, got shape {tuple(x.shape)}"
            )
        shape = list(x.shape)
        shape[channel] = len(COUPLINGS[self.coupling])
        # the policy's mask has one channel where no sample is channel-independent: expand it to
        # one channel per group, then give every channel its group's mask
        groups = self.policy.sample_mask(shape, device=x.device).expand(shape)
        mask = groups.index_select(channel, self.group_of_channel.to(x.device))
        p = self.policy
        if p.highpass_sigma is not None:
            x = highpass(x, p.highpass_sigma, dims=p.highpass_dims, kernel_size=p.highpass_kernel_size)
        out = apply_mask(x, mask, fill=p.fill, noise_std=p.noise_std, value=p.value, generator=p.generator)
        return (out, mask) if self.return_mask else out

    def extra_repr(self) -> str:
        return f"coupling='{self.coupling}'"


def normalize_depth(depth: Tensor, *, stats: tuple[float, float] = NYU_DEPTH_STATS, invalid: float = 0.0) -> Tensor:
    """Standardize depth with ``(mean, std)``, leaving missing depths at 0 ("no information").

    Args:
        depth: Depths in metres; ``invalid`` marks missing measurements.
        stats: ``(mean, std)`` of valid depths (default NYU-Depth-v2's, `NYU_DEPTH_STATS`).
        invalid: The value of missing depths in ``depth``.

    Shape:
        - depth: any shape.
        - output: the same shape, float32.

    Example:
        ```python
        import torch
        from maskaug.adapters.rgbd import normalize_depth

        assert normalize_depth(torch.tensor([0.0, 3.0, 5.0]), stats=(3.0, 2.0)).tolist() == [0.0, 0.0, 1.0]
        ```
    """
    mean, std = stats
    if std <= 0:
        raise ValueError(f"stats must be (mean, std) with std > 0, got {stats!r}")
    depth = depth.float()
    return torch.where(depth == invalid, torch.zeros((), dtype=torch.float32), (depth - mean) / std)


def to_rgbd(rgb: Tensor, depth: Tensor, *, depth_stats: tuple[float, float] = NYU_DEPTH_STATS) -> Tensor:
    """Stack ImageNet-normalized colour and normalized depth into one 4-channel image.

    Args:
        rgb: uint8 colour in [0, 255], ``(..., 3, H, W)``; float colour is refused rather than
            guessed at (convert ``[0, 1]`` floats with ``(rgb * 255).round().to(torch.uint8)``).
        depth: Depth in metres, ``(..., 1, H, W)`` or ``(..., H, W)``; 0 where missing.
        depth_stats: ``(mean, std)`` for `normalize_depth`.

    Shape:
        - output: ``(..., 4, H, W)`` float32.

    Raises:
        TypeError: ``rgb`` is not uint8.
        ValueError: The colour and depth sizes differ.

    Example:
        ```python
        import torch
        from maskaug.adapters.rgbd import to_rgbd

        x = to_rgbd(torch.zeros(3, 8, 8, dtype=torch.uint8), torch.full((8, 8), 2.8))
        assert x.shape == (4, 8, 8) and (x[3] == 0).all()
        ```
    """
    if rgb.dtype != torch.uint8:
        raise TypeError(f"rgb must be uint8 colour in [0, 255], got dtype {rgb.dtype}")
    if depth.ndim == rgb.ndim - 1:
        depth = depth.unsqueeze(-3)
    if rgb.shape[-3] != 3 or rgb.shape[-2:] != depth.shape[-2:] or depth.shape[-3] != 1:
        raise ValueError(
            f"rgb (..., 3, H, W) and depth (..., 1, H, W) must match, got {tuple(rgb.shape)} and {tuple(depth.shape)}"
        )
    mean = torch.tensor(_RGB_MEAN).view(3, 1, 1)
    std = torch.tensor(_RGB_STD).view(3, 1, 1)
    colour = (rgb.float() / 255.0 - mean) / std
    return torch.cat([colour, normalize_depth(depth, stats=depth_stats)], dim=-3)


class RGBDDataError(ValueError):
    """An RGB-D folder is missing, incomplete, or its files do not pair up."""


class RGBDFolder(Dataset):
    """RGB-D pairs from a folder: ``rgb/NAME.{png,jpg}`` with ``depth/NAME.{png,npy}``.

    Depth PNGs are 16-bit integers in millimetres divided by ``depth_scale`` to give metres
    (NYU-Depth-v2 and most exports: 1000); ``.npy`` files hold metres. 0 marks missing depth.
    ``labels.csv`` (optional) has a ``name,label`` header and one row per image; integer labels
    are used as is, other labels are numbered in sorted order.

    Args:
        root: The folder holding ``rgb/`` and ``depth/``.
        transform: Applied to each 4-channel image (e.g. a resize or an `RGBDMask`).
        depth_scale: Depth PNG units per metre.
        depth_stats: ``(mean, std)`` for `normalize_depth`.

    Raises:
        RGBDDataError: A subfolder is missing or empty, a file has no partner (the message names
            them), two files share a name, a label is missing or unknown.

    Shape:
        - item: ``(rgbd (4, H, W) float32, label)``; label is -1 without ``labels.csv``.

    Example:
        ```python
        from maskaug.adapters.rgbd import RGBDFolder

        data = RGBDFolder("/data/nyu")
        rgbd, label = data[0]          # (4, 480, 640)
        ```
    """

    def __init__(
        self,
        root: str | Path,
        *,
        transform: Callable[[Tensor], Tensor] | None = None,
        depth_scale: float = 1000.0,
        depth_stats: tuple[float, float] = NYU_DEPTH_STATS,
    ) -> None:
        self.root = Path(root)
        if depth_scale <= 0:
            raise ValueError(f"depth_scale must be > 0, got {depth_scale!r}")
        rgb = _index(self.root / "rgb", _RGB_SUFFIXES)
        depth = _index(self.root / "depth", _DEPTH_SUFFIXES)
        no_depth, no_rgb = sorted(set(rgb) - set(depth)), sorted(set(depth) - set(rgb))
        if no_depth or no_rgb:
            raise RGBDDataError(
                f"unpaired files in {self.root}: colour without depth {_some(no_depth)}, depth without colour "
                f"{_some(no_rgb)} (files pair by name: rgb/NAME.png with depth/NAME.png or depth/NAME.npy)"
            )
        self.names = sorted(rgb)
        self.pairs = [(rgb[n], depth[n]) for n in self.names]
        self.labels, self.classes = _labels(self.root / "labels.csv", self.names)
        self.transform = transform
        self.depth_scale = depth_scale
        self.depth_stats = depth_stats

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        rgb_path, depth_path = self.pairs[index]
        with Image.open(rgb_path) as im:
            rgb = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)
        if depth_path.suffix == ".npy":
            depth = torch.from_numpy(np.load(depth_path).astype(np.float32))
        else:
            with Image.open(depth_path) as im:
                depth = torch.from_numpy(np.asarray(im).astype(np.float32)) / self.depth_scale
        if depth.ndim != 2 or depth.shape != rgb.shape[1:]:
            raise RGBDDataError(
                f"{depth_path}: depth of shape {tuple(depth.shape)} does not match {rgb_path.name} "
                f"of size {tuple(rgb.shape[1:])}"
            )
        x = to_rgbd(rgb, depth, depth_stats=self.depth_stats)
        if self.transform is not None:
            x = self.transform(x)
        return x, self.labels[index]


def _index(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    if not folder.is_dir():
        raise RGBDDataError(f"missing folder {folder}")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in suffixes:
            continue
        if path.stem in found:
            raise RGBDDataError(f"two files named {path.stem!r} in {folder}: {found[path.stem].name} and {path.name}")
        found[path.stem] = path
    if not found:
        raise RGBDDataError(f"no {'/'.join(suffixes)} files in {folder}")
    return found


def _labels(path: Path, names: list[str]) -> tuple[list[int], list[str]]:
    if not path.exists():
        return [-1] * len(names), []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"name", "label"} <= set(reader.fieldnames):
            raise RGBDDataError(f"{path} must have a 'name,label' header, got {reader.fieldnames}")
        given = {row["name"]: row["label"] for row in reader}
    missing = [n for n in names if n not in given]
    if missing:
        raise RGBDDataError(f"{path} has no label for {_some(missing)}")
    values = [given[n] for n in names]
    if all(v.lstrip("-").isdigit() for v in values):
        return [int(v) for v in values], sorted(set(values), key=int)
    classes = sorted(set(values))
    return [classes.index(v) for v in values], classes


def _some(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit]) or "none"
    return f"[{shown}{', ...' if len(names) > limit else ''}] ({len(names)})"
