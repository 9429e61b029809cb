"""Draw the documentation's figures from scikit-image's bundled photographs.

Run from the repository root::

    python -m docs.scripts.make_figures [--out DIR]

Photographs are resized and centre-cropped to 224 pixels and normalized with the ImageNet mean and
standard deviation, as a backbone sees them. Figures are drawn with matplotlib's object-oriented
API, which renders with Agg and touches no global pyplot state. All randomness comes from seeded
``torch.Generator`` objects, so every run draws the same pictures.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image
from skimage import data

from maskaug import apply_mask, highpass, mscn_views, sample_focal_mask, sample_grid_mask
from maskaug.policy import DEFAULT_NOISE_STD
from maskaug.views import MSCN_RATIOS

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "figures"
SIZE = 224
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
SIGMA = 5.0
CELL = 32
#: Masking ratio of the single-mask panels: the paper's mask-only setting, and easy to see.
RATIO = 0.3
#: High-passed values are shown as ``0.5 + x / (2 * HP_SCALE)``: 0 is mid-grey, +-HP_SCALE saturate.
HP_SCALE = 1.5
SEED = 0
PANEL_INCHES = 2.2
DPI = 90
#: Colours of the saved PNGs: a 256-colour palette keeps each figure small enough to commit.
PALETTE = 256
CHANNELS = (("R", "tab:red"), ("G", "tab:green"), ("B", "tab:blue"))
HIST_BINS = np.linspace(-3.0, 3.0, 121)


def load_photo(name: str) -> torch.Tensor:
    """A scikit-image photograph as a normalized ``3x224x224`` float tensor."""
    rgb = torch.from_numpy(getattr(data, name)()).permute(2, 0, 1).float().div(255)
    height, width = rgb.shape[1:]
    scale = SIZE / min(height, width)
    size = (round(height * scale), round(width * scale))
    rgb = F.interpolate(rgb[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (size[0] - SIZE) // 2, (size[1] - SIZE) // 2
    rgb = rgb[:, top : top + SIZE, left : left + SIZE].clamp(0, 1)
    return (rgb - MEAN) / STD


def raw_rgb(x: torch.Tensor) -> np.ndarray:
    """A normalized image back to displayable RGB in [0, 1]."""
    return (x * STD + MEAN).clamp(0, 1).permute(1, 2, 0).numpy()


def highpassed_rgb(x: torch.Tensor) -> np.ndarray:
    """A high-passed image mapped to [0, 1] with the fixed symmetric scale ``HP_SCALE``."""
    return (0.5 + x / (2 * HP_SCALE)).clamp(0, 1).permute(1, 2, 0).numpy()


def edge_strength(x: torch.Tensor) -> np.ndarray:
    """Gradient magnitude summed over channels (forward differences), for showing edges."""
    dy = F.pad(x[:, 1:] - x[:, :-1], (0, 0, 0, 1))
    dx = F.pad(x[:, :, 1:] - x[:, :, :-1], (0, 1))
    return (dx**2 + dy**2).sqrt().sum(0).numpy()


def show(ax: Axes, image: np.ndarray, title: str, **imshow) -> None:
    ax.imshow(image, interpolation="nearest", **imshow)
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def histogram(ax: Axes, x: torch.Tensor, title: str) -> None:
    """Per-channel histograms of ``x`` (log density), with the fill value 0 marked."""
    for (name, colour), channel in zip(CHANNELS, x):
        ax.hist(channel.flatten().numpy(), bins=HIST_BINS, histtype="step", color=colour, label=name, density=True)
    ax.axvline(0.0, color="black", linestyle=":", linewidth=1, label="fill 0")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=6, loc="upper right")


def grid(generator: torch.Generator, **options) -> torch.Tensor:
    return sample_grid_mask((3, SIZE, SIZE), cell=CELL, ratio=RATIO, channel_dim=0, generator=generator, **options)


def focal(generator: torch.Generator, **options) -> torch.Tensor:
    return sample_focal_mask((3, SIZE, SIZE), scale=0.5, channel_dim=0, generator=generator, **options)


def masked_views_figure(photo: torch.Tensor, generator: torch.Generator) -> Figure:
    """The photo, single masking options, and MSCN's four views."""
    hp = highpass(photo, SIGMA)
    shared = grid(generator)
    zero = dict(fill="constant", value=0.0)
    noise = dict(fill="noise", noise_std=DEFAULT_NOISE_STD, generator=generator)
    views = mscn_views(layout="c h w", generator=generator)
    panels = [
        (raw_rgb(photo), "photo"),
        (highpassed_rgb(hp), f"high-pass (sigma {SIGMA:g})"),
        (raw_rgb(apply_mask(photo, shared, **zero)), f"grid {CELL} px, {RATIO:.0%}, fill 0, raw"),
        (highpassed_rgb(apply_mask(hp, shared, **zero)), "same grid after high-pass"),
        (highpassed_rgb(apply_mask(hp, shared, **noise)), f"noise fill, std {DEFAULT_NOISE_STD:g}"),
        (highpassed_rgb(apply_mask(hp, grid(generator, channel_independent=True), **zero)), "channel-independent grid"),
        (highpassed_rgb(apply_mask(hp, focal(generator), **zero)), "focal: mask a block"),
        (highpassed_rgb(apply_mask(hp, focal(generator, invert=True), **zero)), "inverted focal: keep a window"),
    ]
    for number, (view, module) in enumerate(zip(views(photo), views.views), start=1):
        panels.append((highpassed_rgb(view), f"mscn_views #{number} (ratio {module.ratio[0]:.2f})"))
    fig = Figure(figsize=(4 * PANEL_INCHES, 3 * PANEL_INCHES))
    axes = fig.subplots(3, 4)
    for ax, (image, title) in zip(axes.flat, panels):
        show(ax, image, title)
    fig.tight_layout()
    return fig


def row_figure(panels: int, rows: int = 1) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(panels * PANEL_INCHES, rows * PANEL_INCHES))
    axes = np.atleast_2d(fig.subplots(rows, panels))
    return fig, axes


def masking_problem_figure(photo: torch.Tensor, generator: torch.Generator) -> Figure:
    """The paper's Figure 1 (a, b): a photo, its masked version, and their colour histograms."""
    masked = apply_mask(photo, grid(generator), fill="constant", value=0.0)
    fig, axes = row_figure(4)
    show(axes[0, 0], raw_rgb(photo), "photo")
    show(axes[0, 1], raw_rgb(masked), f"grid mask, {RATIO:.0%}, fill 0")
    histogram(axes[0, 2], photo, "colours of the photo")
    histogram(axes[0, 3], masked, "colours after masking")
    fig.tight_layout()
    return fig


def highpass_fix_figure(photo: torch.Tensor, generator: torch.Generator) -> Figure:
    """The paper's Figure 2: after the high-pass, the mask's edges vanish (edge maps, same scale)."""
    hp = highpass(photo, SIGMA)
    mask = grid(generator)
    masked_raw = apply_mask(photo, mask, fill="constant", value=0.0)
    masked_hp = apply_mask(hp, mask, fill="constant", value=0.0)
    edge_max = float(np.percentile(edge_strength(masked_raw), 99.5))
    edges = dict(cmap="magma", vmin=0, vmax=edge_max)
    fig, axes = row_figure(3, rows=2)
    show(axes[0, 0], raw_rgb(photo), "photo")
    show(axes[0, 1], raw_rgb(masked_raw), "masked, fill 0")
    show(axes[0, 2], edge_strength(masked_raw), "edges: the mask's borders", **edges)
    show(axes[1, 0], highpassed_rgb(hp), f"high-pass (sigma {SIGMA:g})")
    show(axes[1, 1], highpassed_rgb(masked_hp), "high-pass, same mask, fill 0")
    show(axes[1, 2], edge_strength(masked_hp), "edges: the borders are gone", **edges)
    fig.tight_layout()
    return fig


def histograms_figure(photo: torch.Tensor, generator: torch.Generator) -> Figure:
    """The paper's Figure 7: histograms with and without the high-pass, before and after masking."""
    hp = highpass(photo, SIGMA)
    mask = grid(generator)
    fig, axes = row_figure(4)
    histogram(axes[0, 0], photo, "normalized image")
    histogram(axes[0, 1], apply_mask(photo, mask, fill="constant", value=0.0), "normalized + mask: a spike")
    histogram(axes[0, 2], hp, "high-passed image")
    histogram(axes[0, 3], apply_mask(hp, mask, fill="constant", value=0.0), "high-passed + mask: 0 is the mode")
    fig.tight_layout()
    return fig


def kernels_figure(photo: torch.Tensor, generator: torch.Generator) -> Figure:
    """The blur, and the high-pass with the full 31-tap Gaussian and with a truncated 11-tap one."""
    hp = highpass(photo, SIGMA)
    fig, axes = row_figure(4)
    show(axes[0, 0], raw_rgb(photo), "photo (normalized)")
    show(axes[0, 1], raw_rgb(photo - hp), f"blur (sigma {SIGMA:g}, 31 taps)")
    show(axes[0, 2], highpassed_rgb(hp), "high-pass, 31 taps")
    show(axes[0, 3], highpassed_rgb(highpass(photo, SIGMA, kernel_size=11)), "high-pass, 11 taps")
    fig.tight_layout()
    return fig


def grid_figure(photo: torch.Tensor, generator: torch.Generator) -> Figure:
    """Grid masks: the ratio and the cell size, on the high-passed photo."""
    hp = highpass(photo, SIGMA)
    settings = [(32, 0.15), (32, 0.30), (32, 0.50), (16, 0.30)]
    fig, axes = row_figure(len(settings))
    for ax, (cell, ratio) in zip(axes.flat, settings):
        mask = sample_grid_mask((3, SIZE, SIZE), cell=cell, ratio=ratio, channel_dim=0, generator=generator)
        show(ax, highpassed_rgb(apply_mask(hp, mask, fill="constant", value=0.0)), f"cells of {cell} px, {ratio:.0%}")
    fig.tight_layout()
    return fig


def focal_figure(photo: torch.Tensor, generator: torch.Generator) -> Figure:
    """Focal masks and their polarity: mask a block, or keep a window."""
    hp = highpass(photo, SIGMA)
    fig, axes = row_figure(4)
    for k, ax in enumerate(axes.flat):
        invert = k >= 2
        mask = sample_focal_mask((3, SIZE, SIZE), scale=(0.3, 0.6), channel_dim=0, invert=invert, generator=generator)
        show(ax, highpassed_rgb(apply_mask(hp, mask, fill="constant", value=0.0)),
             "focal_invert=True: keep a window" if invert else "focal: mask a block")
    fig.tight_layout()
    return fig


def noise_figure(photo: torch.Tensor, generator: torch.Generator) -> Figure:
    """Fills: the constant 0 and Gaussian noise of two strengths, on the same mask."""
    hp = highpass(photo, SIGMA)
    mask = grid(generator)
    fig, axes = row_figure(3)
    show(axes[0, 0], highpassed_rgb(apply_mask(hp, mask, fill="constant", value=0.0)), 'fill="constant", 0')
    for ax, std in zip(axes.flat[1:], (DEFAULT_NOISE_STD, 1.0)):
        filled = apply_mask(hp, mask, fill="noise", noise_std=std, generator=generator)
        show(ax, highpassed_rgb(filled), f'fill="noise", std {std:g}')
    fig.tight_layout()
    return fig


def channel_figure(photo: torch.Tensor, generator: torch.Generator) -> Figure:
    """One mask shared by the channels, against one mask per channel (and each channel's mask)."""
    hp = highpass(photo, SIGMA)
    shared = grid(generator)
    independent = grid(generator, channel_independent=True)
    fig, axes = row_figure(5)
    show(axes[0, 0], highpassed_rgb(apply_mask(hp, shared, fill="constant", value=0.0)), "shared by R, G, B")
    show(axes[0, 1], highpassed_rgb(apply_mask(hp, independent, fill="constant", value=0.0)), "channel-independent")
    for ax, (name, colour), channel in zip(axes.flat[2:], CHANNELS, independent):
        show(ax, channel.float().numpy(), f"mask of channel {name}", cmap="gray_r", vmin=0, vmax=1)
    fig.tight_layout()
    return fig


def multiview_figure(photo: torch.Tensor, generator: torch.Generator) -> Figure:
    """mscn_views: four views, each from its own draw of the augmentation, then its own mask."""
    from torchvision.transforms import v2

    augment = v2.Compose([
        v2.RandomResizedCrop(SIZE, scale=(0.3, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        v2.RandomGrayscale(p=0.2),
        v2.Normalize(MEAN.flatten().tolist(), STD.flatten().tolist()),
    ])
    views = mscn_views(augment, layout="c h w", generator=generator)
    rgb = (photo * STD + MEAN).clamp(0, 1)
    with torch.random.fork_rng():  # torchvision's augmentations draw from the global generator
        torch.manual_seed(SEED)
        drawn = views(rgb)
    fig, axes = row_figure(5)
    show(axes[0, 0], raw_rgb(photo), "photo")
    for number, (ax, view, ratio) in enumerate(zip(axes.flat[1:], drawn, MSCN_RATIOS), start=1):
        show(ax, highpassed_rgb(view), f"view {number}, ratio {ratio:.2f}")
    fig.tight_layout()
    return fig


FIGURES = {
    "masked_views.png": (masked_views_figure, "chelsea"),
    "masking_problem.png": (masking_problem_figure, "astronaut"),
    "highpass_fix.png": (highpass_fix_figure, "astronaut"),
    "histograms.png": (histograms_figure, "astronaut"),
    "highpass_kernels.png": (kernels_figure, "astronaut"),
    "strategy_grid.png": (grid_figure, "coffee"),
    "strategy_focal.png": (focal_figure, "coffee"),
    "strategy_noise.png": (noise_figure, "coffee"),
    "strategy_channel.png": (channel_figure, "coffee"),
    "strategy_multiview.png": (multiview_figure, "chelsea"),
}


def save_png(fig: Figure, path: Path) -> None:
    """Save ``fig`` as a palette PNG, without metadata, so reruns give identical files."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    Image.open(buffer).convert("RGB").quantize(colors=PALETTE).save(path, optimize=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNG files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for filename, (draw, photo) in FIGURES.items():
        fig = draw(load_photo(photo), torch.Generator().manual_seed(SEED))
        path = args.out / filename
        save_png(fig, path)
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
