"""A synthetic ImageFolder (``train/`` and ``val/``) of class-dependent stripe patterns.

Class ``k`` shows horizontal stripes, vertical stripes or a checkerboard (``k % 3``) with a period
growing with ``k // 3``, at a random phase, in a bright colour of its own on a dark one, with noise. The classes survive
crops, flips, colour jitter and the high-pass, so a working pipeline learns to tell them apart.
Used by the tests and by ``throughput.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image


#: The bright colour of each class's stripes (red, green, blue, yellow, magenta, cyan).
_PALETTE = ((1.0, 0.1, 0.1), (0.1, 1.0, 0.1), (0.1, 0.1, 1.0), (1.0, 1.0, 0.1), (1.0, 0.1, 1.0), (0.1, 1.0, 1.0))


def pattern(label: int, width: int, height: int, generator: torch.Generator) -> Image.Image:
    """One RGB image of class ``label``."""
    period = (8 + 4 * (label // 3)) * max(1, round(min(width, height) / 32))
    phase = torch.rand(2, generator=generator) * period
    ys = torch.arange(height, dtype=torch.float32)[:, None] + phase[0]
    xs = torch.arange(width, dtype=torch.float32)[None, :] + phase[1]
    horizontal = torch.sin(2 * math.pi * ys / period).expand(height, width)
    vertical = torch.sin(2 * math.pi * xs / period).expand(height, width)
    wave = (horizontal, vertical, horizontal * vertical)[label % 3]
    hue = torch.tensor(_PALETTE[label % len(_PALETTE)])
    bright = 0.7 * hue + 0.3 * torch.rand(3, generator=generator)
    colours = torch.stack([bright, 0.2 * torch.rand(3, generator=generator)])
    weight = (wave > 0).float()[..., None]
    rgb = colours[0] * weight + colours[1] * (1 - weight)
    rgb = rgb + 0.05 * torch.randn(height, width, 3, generator=generator)
    pixels = (rgb.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return Image.fromarray(pixels, mode="RGB")


def write_image_folder(
    root: str | Path,
    *,
    classes: int = 3,
    train_per_class: int = 8,
    val_per_class: int = 4,
    size: tuple[int, int] = (32, 32),
    suffix: str = ".png",
    seed: int = 0,
) -> Path:
    """Write ``root/{train,val}/class_<k>/<k>_<i><suffix>`` and return ``root``.

    Args:
        root: The dataset folder (created).
        classes: Number of classes.
        train_per_class: Training images per class.
        val_per_class: Validation images per class.
        size: ``(width, height)`` of every image.
        suffix: ``".png"`` or ``".jpg"`` (JPEG quality 90).
        seed: Seeds the phases, colours and noise.

    Example:
        ```python
        root = write_image_folder("/tmp/toy", classes=3, train_per_class=8)
        ```
    """
    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label in range(classes):
            folder = root / split / f"class_{label}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                image = pattern(label, *size, generator)
                options = {"quality": 90} if suffix in (".jpg", ".jpeg") else {}
                image.save(folder / f"{split}_{label}_{i}{suffix}", **options)
    return root
