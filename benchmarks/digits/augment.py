"""Standard augmentations for digits, on a whole batch: random affine crop and intensity jitter."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DigitAugment(nn.Module):
    """Per-sample random scale, rotation, shear and translation, then brightness/contrast jitter.

    No flips (digits are not mirror-symmetric). All draws come from ``generator``.

    Args:
        scale: Range of the zoom factor (>1 zooms in, like a random resized crop).
        degrees: Maximum absolute rotation.
        shear: Maximum absolute shear (radians).
        translate: Maximum absolute shift as a fraction of the image size.
        jitter: Maximum relative brightness and contrast change.
        generator: Source of randomness.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``
    """

    def __init__(
        self,
        *,
        scale: tuple[float, float] = (0.8, 1.3),
        degrees: float = 15.0,
        shear: float = 0.2,
        translate: float = 0.12,
        jitter: float = 0.3,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.degrees = degrees
        self.shear = shear
        self.translate = translate
        self.jitter = jitter
        self.generator = generator

    def _uniform(self, n: int, low: float, high: float, device: torch.device) -> Tensor:
        return (torch.rand(n, generator=self.generator) * (high - low) + low).to(device)

    def forward(self, x: Tensor) -> Tensor:
        n, device = x.shape[0], x.device
        zoom = self._uniform(n, *self.scale, device)
        angle = self._uniform(n, -self.degrees, self.degrees, device) * math.pi / 180
        shear = self._uniform(n, -self.shear, self.shear, device)
        shift = torch.stack([self._uniform(n, -self.translate, self.translate, device) for _ in range(2)], 1) * 2
        cos, sin = angle.cos() / zoom, angle.sin() / zoom
        theta = torch.stack(
            [torch.stack([cos, -sin + shear * cos, shift[:, 0]], 1), torch.stack([sin, cos + shear * sin, shift[:, 1]], 1)],
            1,
        )
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        background = x.amin(dim=(1, 2, 3), keepdim=True)
        out = F.grid_sample(x - background, grid, align_corners=False, padding_mode="zeros") + background
        brightness = self._uniform(n, -self.jitter, self.jitter, device).view(n, 1, 1, 1)
        contrast = self._uniform(n, 1 - self.jitter, 1 + self.jitter, device).view(n, 1, 1, 1)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        return (out - mean) * contrast + mean + brightness

