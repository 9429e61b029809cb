"""Standard augmentations for grayscale images, on a whole batch on the device.

Random resized crop, horizontal flip and brightness/contrast jitter, each with per-sample
parameters drawn from the module's ``torch.Generator`` (SimCLR's recipe less colour: the images
have one channel, so hue, saturation and grayscale conversion have nothing to act on).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GrayAugment(nn.Module):
    """Per-sample random resized crop, flip and intensity jitter of ``(N, C, H, W)`` batches.

    Args:
        crop_scale: Range of the crop's area as a fraction of the image (SimCLR: 0.08-1; small
            images keep more, 0.2-1 by default). ``None`` turns cropping off.
        crop_ratio: Range of the crop's aspect ratio (drawn log-uniformly).
        flip: Probability of a horizontal flip.
        jitter: Maximum brightness shift (in units of the data's std) and relative contrast change.
        jitter_prob: Probability that a sample is jittered at all.
        generator: Source of randomness; draws are made on its device (the default generator's
            on the CPU when ``None``) and moved to the batch's device.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``, same dtype and device.

    Example:
        ```python
        import torch
        from benchmarks.repro.augment import GrayAugment

        augment = GrayAugment(generator=torch.Generator().manual_seed(0))
        assert augment(torch.randn(8, 1, 32, 32)).shape == (8, 1, 32, 32)
        ```
    """

    def __init__(
        self,
        *,
        crop_scale: tuple[float, float] | None = (0.2, 1.0),
        crop_ratio: tuple[float, float] = (3 / 4, 4 / 3),
        flip: float = 0.5,
        jitter: float = 0.4,
        jitter_prob: float = 0.8,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if crop_scale is not None and not 0 < crop_scale[0] <= crop_scale[1] <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {crop_scale}")
        if not 0 < crop_ratio[0] <= crop_ratio[1]:
            raise ValueError(f"crop_ratio must satisfy 0 < low <= high, got {crop_ratio}")
        for name, p in (("flip", flip), ("jitter_prob", jitter_prob)):
            if not 0 <= p <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        if jitter < 0:
            raise ValueError(f"jitter must be >= 0, got {jitter}")
        self.crop_scale = crop_scale
        self.crop_ratio = crop_ratio
        self.flip = flip
        self.jitter = jitter
        self.jitter_prob = jitter_prob
        self.generator = generator

    def _uniform(self, n: int, low: float, high: float, device: torch.device) -> Tensor:
        where = "cpu" if self.generator is None else self.generator.device
        return (torch.rand(n, generator=self.generator, device=where) * (high - low) + low).to(device)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"GrayAugment expects (N, C, H, W) batches, got shape {tuple(x.shape)}")
        n, device = x.shape[0], x.device
        if self.crop_scale is not None:
            area = self._uniform(n, *self.crop_scale, device)
            ratio = self._uniform(n, math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1]), device).exp()
            width = (area * ratio).sqrt().clamp(max=1.0)  # fractions of the image side
            height = (area / ratio).sqrt().clamp(max=1.0)
        else:
            width = height = torch.ones(n, device=device)
        centre_x = self._uniform(n, -1.0, 1.0, device) * (1 - width)
        centre_y = self._uniform(n, -1.0, 1.0, device) * (1 - height)
        mirror = torch.where(self._uniform(n, 0.0, 1.0, device) < self.flip, -1.0, 1.0)
        zero = torch.zeros_like(width)
        theta = torch.stack(
            [torch.stack([width * mirror, zero, centre_x], 1), torch.stack([zero, height, centre_y], 1)], 1
        )
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        jittered = (self._uniform(n, 0.0, 1.0, device) < self.jitter_prob).to(x.dtype).view(n, 1, 1, 1)
        brightness = self._uniform(n, -self.jitter, self.jitter, device).view(n, 1, 1, 1).to(x.dtype)
        contrast = self._uniform(n, 1 - self.jitter, 1 + self.jitter, device).view(n, 1, 1, 1).to(x.dtype)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        return out + jittered * ((out - mean) * (contrast - 1) + brightness)

    def extra_repr(self) -> str:
        return (
            f"crop_scale={self.crop_scale}, crop_ratio={self.crop_ratio}, flip={self.flip}, "
            f"jitter={self.jitter}, jitter_prob={self.jitter_prob}"
        )
