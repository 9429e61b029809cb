"""Standard (non-masking) augmentations of the modality recipes, on whole batches, seeded."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from benchmarks.digits.augment import DigitAugment


class SpectrogramAugment(nn.Module):
    """Per-sample time shift (circular, up to ``max_shift`` frames) and gain (a log-domain offset).

    Shape:
        ``(N, C, F, T) -> (N, C, F, T)``
    """

    def __init__(self, *, max_shift: int = 10, gain: float = 0.3, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.max_shift = max_shift
        self.gain = gain
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        n, frames = x.shape[0], x.shape[-1]
        shift = torch.randint(-self.max_shift, self.max_shift + 1, (n,), generator=self.generator).to(x.device)
        index = torch.remainder(torch.arange(frames, device=x.device)[None, :] - shift[:, None], frames)
        shifted = torch.gather(x, -1, index[:, None, None, :].expand_as(x))
        offset = (torch.rand(n, generator=self.generator) * 2 - 1).to(x.device) * self.gain
        return shifted + offset.view(n, 1, 1, 1).to(x.dtype)


class ClipAugment(nn.Module):
    """`DigitAugment` (affine crop, brightness/contrast) drawn once per clip, the same in every frame.

    Shape:
        ``(N, C, T, H, W) -> (N, C, T, H, W)``
    """

    def __init__(self, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.frames = DigitAugment(generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        return self.frames(x.flatten(1, 2)).view_as(x)
