"""Gaussian high-pass filtering over any axes: ``x - GaussianBlur_sigma(x)``.

MSCN applies it after normalization, so that 0 means "no information" and the edges of masks
vanish (paper, section 5). The blur is separable: one 1-D convolution per axis, each done on a
view of the input, so any number of axes at any positions costs no transposes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from maskaug import _triton
from maskaug._checks import check_floating, check_positive, normalize_dims


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


def _kernel_size(sigma: float, kernel_size: int | None) -> int:
    if kernel_size is None:
        return 2 * math.ceil(3 * sigma) + 1
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int):
        raise TypeError(f"kernel_size must be an odd int or None, got {kernel_size!r}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size}")
    return kernel_size


#: Longest axis blurred on the CPU by a product with a banded matrix (an ``L x L`` matrix, 4 MiB
#: at this length); longer axes, and every axis off the CPU, use a 1-D convolution.
MATMUL_MAX_LENGTH = 1024


def _reflect(index: torch.Tensor, length: int) -> torch.Tensor:
    index = index.abs()
    return torch.where(index >= length, 2 * (length - 1) - index, index)


def _band_matrix(length: int, taps: torch.Tensor) -> torch.Tensor:
    """The ``(L, L)`` matrix ``M`` with ``M @ v`` = the reflect-padded blur of ``v``."""
    size = taps.numel()
    rows = torch.arange(length, device=taps.device).repeat_interleave(size)
    offsets = torch.arange(size, device=taps.device) - size // 2
    cols = _reflect(rows + offsets.repeat(length), length)
    matrix = torch.zeros(length, length, dtype=taps.dtype, device=taps.device)
    return matrix.index_put_((rows, cols), taps.repeat(length), accumulate=True)


def _blur_axis(x: torch.Tensor, axis: int, taps: torch.Tensor) -> torch.Tensor:
    """Blur contiguous ``x`` (of ``taps``' dtype) along ``axis`` with reflect padding, working on a view ``(before, L, after)``.

    On the CPU a banded matrix product beats a one-input-channel convolution several times over
    (BLAS versus a poorly vectorized convolution); elsewhere, and for long axes, a convolution.
    """
    shape = x.shape
    length = shape[axis]
    before = math.prod(shape[:axis])
    after = math.prod(shape[axis + 1 :])
    if x.device.type == "cpu" and length <= MATMUL_MAX_LENGTH:
        matrix = _band_matrix(length, taps)
        y = x.reshape(before, length, after)
        y = y.squeeze(-1) @ matrix.T if after == 1 else matrix @ y
        return y.reshape(shape)
    radius = taps.numel() // 2
    if after == 1:
        y = F.pad(x.reshape(before, 1, length), (radius, radius), mode="reflect")
        y = F.conv1d(y, taps.view(1, 1, -1))
    else:
        y = F.pad(x.reshape(before, 1, length, after), (0, 0, radius, radius), mode="reflect")
        y = F.conv2d(y, taps.view(1, 1, -1, 1))
    return y.reshape(shape)


def highpass(
    x: torch.Tensor,
    sigma: float = 5.0,
    *,
    dims: int | Sequence[int] = (-2, -1),
    kernel_size: int | None = None,
) -> torch.Tensor:
    """``x`` minus its Gaussian blur along ``dims``, with reflect padding at the borders.

    Paper default: sigma 5 on 224-pixel ImageNet views, applied after normalization, in
    pre-training and in every evaluation. Differentiable; a constant input gives zeros.

    Args:
        x: floating tensor; never modified.
        sigma: Gaussian standard deviation in elements (> 0).
        dims: the filtered axes, any number, at any positions.
        kernel_size: odd number of taps; ``None`` is a full Gaussian (``2 * ceil(3 * sigma) + 1``).
            Public re-implementations of MSCN used 11 or 13 taps with sigma 5.

    Returns:
        A new tensor with ``x``'s shape, dtype and device.

    Raises:
        ValueError: an axis in ``dims`` is not longer than the kernel's radius (reflect padding
            needs it).

    Shape:
        - x: any shape; every axis in ``dims`` longer than ``kernel_size // 2``.
        - output: ``x.shape``.

    Example:
        ```python
        import torch
        from maskaug import highpass

        x = torch.randn(2, 3, 64, 64)
        y = highpass(x, 5.0)
        assert y.shape == x.shape
        assert highpass(torch.full((1, 32, 32), 3.0), 2.0).abs().max() < 1e-5
        ```
    """
    check_floating("x", x, "for highpass")
    axes = normalize_dims("dims", dims, x.ndim, x.shape)
    # half-precision inputs are filtered in float32 and rounded once, like the fused kernels do
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    taps = gaussian_kernel(sigma, kernel_size, dtype=work, device=x.device)
    radius = taps.numel() // 2
    for axis in axes:
        if x.shape[axis] <= radius:
            raise ValueError(
                f"highpass with sigma={sigma}, kernel_size={taps.numel()} needs every axis in dims={dims!r} "
                f"longer than {radius} for reflect padding (axis {axis} is not), got shape {tuple(x.shape)}; "
                "lower sigma or kernel_size"
            )
    if x.numel() == 0:
        return x.clone()
    if _triton.usable(x) and axes == (x.ndim - 2, x.ndim - 1):
        return _triton.fused(x, taps=taps, mask=None)
    signal = x.to(work).contiguous()
    blurred = signal
    for axis in axes:
        blurred = _blur_axis(blurred, axis, taps)
    return (signal - blurred).to(x.dtype)


class HighPass(nn.Module):
    """Module form of `highpass`, for transform pipelines.

    Args:
        sigma: Gaussian standard deviation in elements (paper: 5).
        dims: the filtered axes.
        kernel_size: odd number of taps, ``None`` for the full Gaussian.

    Shape:
        - input: any shape; axes in ``dims`` longer than the kernel radius.
        - output: same shape.

    Example:
        ```python
        import torch
        from maskaug import HighPass

        hp = HighPass(sigma=5.0)
        y = hp(torch.randn(3, 224, 224))
        assert y.shape == (3, 224, 224)
        ```
    """

    def __init__(self, sigma: float = 5.0, *, dims: int | Sequence[int] = (-2, -1), kernel_size: int | None = None):
        super().__init__()
        self.sigma = check_positive("sigma", sigma)
        _kernel_size(self.sigma, kernel_size)
        self.dims = (dims,) if isinstance(dims, int) else tuple(dims)
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return highpass(x, self.sigma, dims=self.dims, kernel_size=self.kernel_size)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, dims={self.dims}, kernel_size={self.kernel_size}"
