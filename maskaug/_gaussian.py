"""Gaussian taps: the kernel of the high-pass, shared by the torch path and the fused kernel."""

from __future__ import annotations

import math

import torch

from maskaug._checks import check_positive


def gaussian_kernel(sigma: float, kernel_size: int | None = None, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """Normalized 1-D Gaussian taps at integer offsets.

    Args:
        sigma: standard deviation in elements (> 0).
        kernel_size: odd number of taps; ``None`` gives the full Gaussian, ``2 * ceil(3 * sigma) + 1``
            taps (31 for sigma 5). A smaller size truncates the Gaussian and renormalizes it.

    Shape:
        - output: ``(kernel_size,)``

    Example:
        ```python
        from maskaug.highpass import gaussian_kernel

        k = gaussian_kernel(5.0)
        assert k.shape == (31,) and abs(float(k.sum()) - 1.0) < 1e-12
        ```
    """
    sigma = check_positive("sigma", sigma)
    size = _kernel_size(sigma, kernel_size)
    offsets = torch.arange(size, dtype=torch.float64, device=device) - size // 2
    taps = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (taps / taps.sum()).to(dtype)


def _kernel_size(sigma: float, kernel_size: int | None, names: tuple[str, str] = ("sigma", "kernel_size")) -> int:
    """The taps of a Gaussian of ``sigma``: ``kernel_size`` (checked), or the full Gaussian's
    ``2 * ceil(3 * sigma) + 1``. Errors call the two parameters ``names``."""
    name = names[1]
    if kernel_size is None:
        if not math.isfinite(3 * sigma):
            raise ValueError(f"{names[0]}={sigma!r} is too large: its Gaussian would have infinitely many taps")
        return 2 * math.ceil(3 * sigma) + 1
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int):
        raise TypeError(f"{name} must be an odd int or None, got {kernel_size!r}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"{name} must be a positive odd int, got {kernel_size}")
    return kernel_size
