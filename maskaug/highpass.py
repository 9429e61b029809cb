"""Gaussian high-pass filtering over any axes: ``x - GaussianBlur_sigma(x)``.

MSCN applies it after normalization, so that 0 means "no information" and the edges of masks
vanish (paper, section 5). The blur is separable, one 1-D blur per axis. On the CPU each is a
batched product of a small band of the kernel with strided windows of the reflect-padded input,
which moves the blurred axis to the front, so passes over the axes from the last to the first need
no transposes; elsewhere each is a 1-D convolution on a view of the input.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from maskaug import _triton
from maskaug._checks import check_floating, check_positive, normalize_dims
from maskaug._gaussian import _kernel_size, gaussian_kernel


#: Longest axis blurred on the CPU by block-banded matrix products; longer axes, and every axis
#: off the CPU, use a 1-D convolution.
MATMUL_MAX_LENGTH = 1024

#: Outputs per block of the CPU's block-banded product. A block of ``b`` outputs is the product of
#: a ``(b, b + 2 * radius)`` band of the kernel with ``b + 2 * radius`` inputs, so an output costs
#: ``b + 2 * radius`` multiply-adds: 46 for sigma 5 where a dense ``224 x 224`` matrix costs 224.
#: Smaller blocks waste fewer multiplications on zeros but make smaller, less efficient products;
#: 16 was fastest on 3x224x224 samples and on batches of 32 (2 threads, AVX-512, MKL).
BLOCK = 16


@dataclass(frozen=True)
class _Plan:
    """How `_blur_last_to_front` cuts an axis of ``length`` into blocks of outputs.

    Blocks whose inputs all lie inside the axis ("interior") share one band of the kernel and read
    evenly spaced windows of the input; the blocks near the borders have their own matrices, with
    the reflected taps folded in, so the input is never padded.

    Attributes:
        block: outputs per block (the last block may have fewer).
        interior: the range of interior block indices.
        band: ``(block, block + 2 * radius)`` taps of an interior block.
        edges: per border block: its first output, its first input and its ``(outputs, inputs)`` matrix.
    """

    block: int
    interior: range
    band: torch.Tensor
    edges: tuple[tuple[int, int, torch.Tensor], ...]


@functools.lru_cache(maxsize=64)
def _plan(length: int, sigma: float, size: int, dtype: torch.dtype) -> _Plan:
    """The blocks of `_Plan` for an axis of ``length`` (> radius) and ``size`` taps.

    Cached, and shared between calls: never modify its tensors. Built outside inference mode, so
    that a first call under `torch.inference_mode` does not cache tensors autograd later refuses.
    """
    radius = size // 2
    count = -(-length // BLOCK)
    block = -(-length // count)
    width = min(block + 2 * radius, length)
    first = -(-radius // block)
    interior = range(first, max(first, (length - radius - block) // block + 1))
    with torch.inference_mode(False):
        taps = gaussian_kernel(sigma, size)
        shift = torch.arange(block + size - 1) - torch.arange(block)[:, None]
        band = torch.where((shift >= 0) & (shift < size), taps[shift.clamp(0, size - 1)], 0.0)
        edges = []
        for index in [i for i in range(count) if i not in interior]:
            out_start = index * block
            outputs = torch.arange(out_start, min(out_start + block, length))
            source = (outputs[:, None] + torch.arange(-radius, radius + 1)).abs()
            source = torch.where(source >= length, 2 * (length - 1) - source, source)
            in_start = min(max(out_start - radius, 0), length - width)
            matrix = torch.zeros(len(outputs), width, dtype=torch.float64)
            rows = torch.arange(len(outputs))[:, None].expand_as(source)
            matrix.index_put_((rows, source - in_start), taps.expand_as(source), accumulate=True)
            edges.append((out_start, in_start, matrix.to(dtype)))
        return _Plan(block, interior, band.to(dtype), tuple(edges))


def _blur_last_to_front(y: torch.Tensor, sigma: float, size: int, into: torch.Tensor | None) -> torch.Tensor:
    """Blur ``y`` along its last axis with reflect padding; the blurred axis comes out first.

    The rows of ``y`` (every axis but the last, flattened) are the columns of every product: one
    batched product of the band with strided windows of the input blurs the interior blocks
    (``out[i] = band @ window[i]``), and one product per border block the rest, each written in
    place into the output, which is why the blurred axis comes out first.

    Args:
        into: a flat buffer of at least ``y.numel()`` elements to write the output into; ``None``
            for a new tensor (as autograd needs).

    Shape:
        - y: ``(*rest, L)``, ``L`` longer than ``size // 2``.
        - output: ``(L, *rest)``, contiguous.
    """
    *rest, length = y.shape
    rows = math.prod(rest)
    plan = _plan(length, sigma, size, y.dtype)
    flat = y.reshape(rows, length).contiguous()
    # (first output, taps (n, outputs, inputs), inputs (n, inputs, rows)) of each product
    products = []
    block, interior = plan.block, plan.interior
    if len(interior):
        width = plan.band.shape[1]
        first = interior.start * block - (width - block) // 2
        span = flat[:, first : first + (len(interior) - 1) * block + width]
        windows = span.unfold(1, width, block).permute(1, 2, 0)  # (n, width, rows), strided views
        products.append((interior.start * block, plan.band.expand(len(interior), -1, -1), windows))
    for out_start, in_start, matrix in plan.edges:
        products.append((out_start, matrix[None], flat[:, in_start : in_start + matrix.shape[1]].T[None]))
    if into is None:
        products.sort(key=lambda product: product[0])
        out = torch.cat([torch.bmm(taps, inputs).view(-1, rows) for _, taps, inputs in products])
    else:
        out = into[: length * rows].view(length, rows)
        for out_start, taps, inputs in products:
            count, outputs, _ = taps.shape
            torch.bmm(taps, inputs, out=out[out_start : out_start + count * outputs].view(count, outputs, rows))
    return out.view(length, *rest)


def _blur_cpu(
    x: torch.Tensor, axes: tuple[int, ...], sigma: float, size: int, scratch: list[torch.Tensor] | None
) -> tuple[torch.Tensor, int]:
    """Blur ``x`` along ``axes`` by block-banded products; a view in ``x``'s axis order.

    Each pass blurs the last axis of its input and moves it to the front (`_blur_last_to_front`),
    so starting from ``x`` with the blurred axes last, passes over them from the last to the first
    leave them first and in order: no transposes between passes, and one permutation at the end.
    The passes write into the two ``scratch`` buffers in turn (new tensors when it is ``None``).

    Returns:
        The blur, and which scratch buffer holds it.
    """
    others = tuple(a for a in range(x.ndim) if a not in axes)
    y = x.permute(*others, *axes)
    for index, _ in enumerate(axes):
        y = _blur_last_to_front(y, sigma, size, None if scratch is None else scratch[index % 2])
    order = (*axes, *others)
    return y.permute([order.index(a) for a in range(x.ndim)]), (len(axes) - 1) % 2


#: Elements high-passed at a time on the CPU (2 MiB of float32): a batch is cut into chunks of
#: samples this size, so that each pass reads what the previous one left in the caches. Batches of
#: 3x224x224 samples go 1.6x faster in chunks of 3 samples than whole (2 threads, 32 samples).
CHUNK = 2**19


def _highpass_cpu(x: torch.Tensor, axes: tuple[int, ...], sigma: float, size: int) -> torch.Tensor:
    """``x`` minus its blur along ``axes`` by `_blur_cpu`; in chunks along axis 0 unless it is blurred.

    The passes take turns in two buffers, reused from chunk to chunk (nothing is concatenated),
    and a single chunk's result goes into the buffer the last pass read.

    Shape:
        - x: any shape, float32 or float64.
        - output: ``x.shape``, contiguous.
    """
    if (x.requires_grad and torch.is_grad_enabled()) or torch.compiler.is_compiling():
        # autograd refuses results written in place; torch.compile plans its own buffers (and the
        # chunks and products written in place would fix the batch size of what it traces)
        return x - _blur_cpu(x, axes, sigma, size, None)[0]
    per_index = x[:1].numel()
    whole = 0 in axes or x.numel() <= CHUNK or per_index == 0
    step = x.shape[0] if whole else max(1, CHUNK // per_index)
    scratch = [x.new_empty(min(x.numel(), step * per_index)) for _ in range(2)]
    if whole:
        blurred, last = _blur_cpu(x, axes, sigma, size, scratch)
        return torch.sub(x, blurred, out=scratch[1 - last][: x.numel()].view(x.shape))
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    for part, target in zip(x.split(step), out.split(step)):
        torch.sub(part, _blur_cpu(part, axes, sigma, size, scratch)[0], out=target)
    return out


def _conv_axis(x: torch.Tensor, axis: int, taps: torch.Tensor) -> torch.Tensor:
    """Blur contiguous ``x`` (of ``taps``' dtype) along ``axis`` with reflect padding by a convolution.

    Works on a view ``(before, L, after)``, so any axis costs no transpose.
    """
    shape = x.shape
    length = shape[axis]
    before = math.prod(shape[:axis])
    after = math.prod(shape[axis + 1 :])
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

    A non-finite element makes every output it reaches non-finite; on the CPU the products also
    multiply it by the zeros of their band, so along each filtered axis the NaNs reach the one or
    two blocks of 16 outputs whose inputs include it, not only the kernel's support.

    On a GPU, filtering the last two axes runs a Triton kernel with the taps compiled in: the first
    call with a new ``(sigma, kernel_size)`` compiles it (5 to 25 s; Triton keeps it in its disk
    cache for later processes).

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
    # half-precision inputs are filtered in float32 and rounded once, like the fused kernel does
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    sigma = check_positive("sigma", sigma)
    size = _kernel_size(sigma, kernel_size)
    radius = size // 2
    for axis in axes:
        if x.shape[axis] <= radius:
            raise ValueError(
                f"highpass with sigma={sigma}, kernel_size={size} needs every axis in dims={dims!r} "
                f"longer than {radius} for reflect padding (axis {axis} is not), got shape {tuple(x.shape)}; "
                "lower sigma or kernel_size"
            )
    if x.numel() == 0:
        return x.clone()
    if x.device.type == "cpu" and all(x.shape[axis] <= MATMUL_MAX_LENGTH for axis in axes):
        return _highpass_cpu(x.to(work), axes, sigma, size).to(x.dtype)
    if _triton.usable(x, radius) and axes == (x.ndim - 2, x.ndim - 1):
        return _triton.fused(x, sigma=sigma, kernel_size=size)
    taps = gaussian_kernel(sigma, size, dtype=work, device=x.device)
    signal = x.to(work).contiguous()
    blurred = signal
    for axis in axes:
        blurred = _conv_axis(blurred, axis, taps)
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
