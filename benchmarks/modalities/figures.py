"""Draw the modality recipes' figures: ``python -m benchmarks.modalities.figures [--out DIR]``.

* ``rgbd_motorcycle.png``: scikit-image's Middlebury motorcycle (left image and its disparity)
  as a 4-channel RGB-D input, and its masked views under each colour/depth coupling of
  `maskaug.adapters.rgbd.RGBDMask`;
* ``video_masks.png``: one moving Fashion-MNIST clip under VideoMAE tubes and the MSCN
  per-frame, tube and space-time presets;
* ``spectrogram_masks.png``: one spoken word's log-mel features under SpecAugment and MSCN;
* ``rgbd_shapes.png``: two samples of each class of the synthetic RGB-D shapes.

Every random draw comes from a seeded ``torch.Generator``, so every run draws the same pictures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from matplotlib.figure import Figure
from skimage import data

from maskaug.adapters import rgbd, spectrogram, video

from . import spectrogram as spectrogram_recipe
from . import video as video_recipe
from .shapes import CLASSES, render_shapes

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "assets" / "modalities"
SEED = 0


def _show(x: torch.Tensor, scale: float = 1.5) -> np.ndarray:
    """Zero-centred values as an image: 0 is mid-grey, +-scale saturate."""
    return (0.5 + x / (2 * scale)).clamp(0, 1).numpy()


def motorcycle_rgbd(width: int = 368) -> tuple[torch.Tensor, torch.Tensor]:
    """The Middlebury motorcycle's left image and disparity as one normalized 4-channel image.

    Disparity (inverse depth, pixels) stands in for depth: it is standardized over its valid
    pixels, and its missing (non-finite) pixels become 0, "no information".
    """
    left, _, disparity = data.stereo_motorcycle()
    disparity = torch.from_numpy(np.nan_to_num(disparity, nan=0.0, posinf=0.0, neginf=0.0))
    valid = disparity[disparity > 0]
    stats = (valid.mean().item(), valid.std().item())
    x = rgbd.to_rgbd(torch.from_numpy(left).permute(2, 0, 1), disparity, depth_stats=stats)
    height = round(x.shape[1] * width / x.shape[2])
    return F.interpolate(x[None], size=(height, width), mode="nearest")[0], disparity


def rgbd_figure(path: Path) -> None:
    x, disparity = motorcycle_rgbd()
    couplings = list(rgbd.COUPLINGS)
    fig = Figure(figsize=(3 * (1 + len(couplings)), 4.4))
    axes = fig.subplots(2, 1 + len(couplings))
    axes[0, 0].imshow(data.stereo_motorcycle()[0])
    axes[0, 0].set_title("colour (left view)")
    axes[1, 0].imshow(disparity.numpy(), cmap="magma")
    axes[1, 0].set_title("disparity (0 = missing)")
    for col, coupling in enumerate(couplings, start=1):
        mask = rgbd.RGBDMask(coupling=coupling, layout="c h w", cell=32, ratio=0.3, focal_prob=0.0,
                             generator=torch.Generator().manual_seed(SEED))
        view = mask(x)
        axes[0, col].imshow(_show(view[:3].mean(0)), cmap="gray")
        axes[0, col].set_title(f"'{coupling}': colour")
        axes[1, col].imshow(_show(view[3]), cmap="gray")
        axes[1, col].set_title(f"'{coupling}': depth")
    for ax in axes.flat:
        ax.set_axis_off()
    fig.suptitle("RGBDMask on the Middlebury motorcycle: high-pass, then grid masks (30%, cells of 32 px)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def video_figure(path: Path) -> None:
    preset = video_recipe.PRESETS["cpu"]
    images = video.load_idx(video_recipe.DATA / "t10k-images-idx3-ubyte.gz")[:1]
    clip = video.moving_clips(images, frames=preset.frames, size=preset.canvas, object_size=preset.object_size,
                              generator=torch.Generator().manual_seed(SEED)).float() / 255.0
    clip = (clip - clip.mean()) / clip.std()
    g = torch.Generator().manual_seed(SEED)
    rows = {
        "clip": clip[0, 0],
        "VideoMAE 75%": video.videomae_mask(ratio=0.75, patch=preset.cell, layout="c t h w", generator=g)(clip[0])[0],
    }
    for mode in video.MODES:
        mask = video.mscn_mask(mode, layout="c t h w", cell=preset.cell, ratio=0.3, focal_prob=0.0,
                               highpass_sigma=preset.highpass_sigma, generator=g)
        rows[f"MSCN {mode}"] = mask(clip[0])[0]
    fig = Figure(figsize=(preset.frames * 1.2, len(rows) * 1.3))
    axes = fig.subplots(len(rows), preset.frames)
    for r, (name, frames) in enumerate(rows.items()):
        for t in range(preset.frames):
            axes[r, t].imshow(_show(frames[t], 2.0), cmap="gray")
            axes[r, t].set_axis_off()
        axes[r, 0].set_title(name, loc="left", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def spectrogram_figure(path: Path) -> None:
    preset = spectrogram_recipe.PRESETS["cpu"]
    train, _ = spectrogram_recipe.features(preset)
    x = train[0][0][None]
    torch.manual_seed(SEED)  # SpecAugment draws from the global generator
    g = torch.Generator().manual_seed(SEED)
    cell = {"f": preset.cell_f, "t": preset.cell_t}
    rows = {
        "log-mel (standardized)": x,
        "SpecAugment": spectrogram.specaugment(freq_mask_param=preset.freq_mask_param,
                                               time_mask_param=preset.time_mask_param)(x),
        "MSCN grid, high-pass f t": spectrogram.mscn_mask(cell=cell, ratio=0.3, focal_prob=0.0, generator=g)(x),
        "MSCN focal, high-pass f t": spectrogram.mscn_mask(cell=cell, focal_prob=1.0, generator=g)(x),
    }
    fig = Figure(figsize=(4 * len(rows), 2.8))
    axes = fig.subplots(1, len(rows))
    for ax, (name, view) in zip(axes, rows.items()):
        ax.imshow(_show(view[0, 0], 2.5), cmap="magma", origin="lower", aspect="auto")
        ax.set_title(name)
        ax.set_xlabel("frame")
        ax.set_ylabel("mel band")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def shapes_figure(path: Path) -> None:
    rgb, depth, labels = render_shapes(2 * len(CLASSES), size=48, generator=torch.Generator().manual_seed(SEED))
    fig = Figure(figsize=(1.5 * len(labels), 3.4))
    axes = fig.subplots(2, len(labels))
    for i, label in enumerate(labels.tolist()):
        axes[0, i].imshow(rgb[i].permute(1, 2, 0).numpy())
        axes[0, i].set_title(CLASSES[label], fontsize=9)
        shown = np.where(depth[i].numpy() > 0, depth[i].numpy(), np.nan)  # missing depth drawn black
        axes[1, i].imshow(shown, cmap=colormaps["magma_r"].with_extremes(bad="black"))
    for ax in axes.flat:
        ax.set_axis_off()
    fig.suptitle("Synthetic RGB-D shapes: colour (top) and depth (bottom, near is bright, missing is black)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main(argv: list[str] | None = None) -> None:
    """Write the four figures into ``--out`` (default ``docs/assets/modalities``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.modalities.figures", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, draw in (("rgbd_motorcycle.png", rgbd_figure), ("video_masks.png", video_figure),
                       ("spectrogram_masks.png", spectrogram_figure), ("rgbd_shapes.png", shapes_figure)):
        draw(args.out / name)
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
