"""Random draws that honour an explicit ``torch.Generator`` wherever it lives.

Draws are made on the generator's device (torch requires it) and moved to the target device. With
``generator=None`` they are made directly on the target device from torch's default generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def rand(
    shape: Sequence[int],
    *,
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Uniform ``[0, 1)`` numbers of ``shape`` on ``device``."""
    if generator is None:  # (torch.compile traces symbolic sizes only without a generator argument)
        return torch.rand(tuple(shape), device=device, dtype=dtype)
    out = torch.rand(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return out if generator.device == device else out.to(device)


def randn(
    shape: Sequence[int],
    *,
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Standard normal numbers of ``shape`` on ``device``."""
    if generator is None:
        return torch.randn(tuple(shape), device=device, dtype=dtype)
    out = torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return out if generator.device == device else out.to(device)


def uniform_in(
    bounds: tuple[float, float],
    shape: Sequence[int],
    *,
    generator: torch.Generator | None,
    device: torch.device,
) -> torch.Tensor:
    """Float64 values drawn uniformly from ``[low, high]``; a constant when ``low == high``.

    A constant range draws nothing, so fixing a parameter does not shift the random stream.
    """
    low, high = bounds
    if low == high:
        return torch.full(tuple(shape), low, dtype=torch.float64, device=device)
    u = rand(shape, generator=generator, device=device, dtype=torch.float64)
    return low + (high - low) * u
