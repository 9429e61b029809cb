"""Fused GPU kernels (Triton): the high-pass over the last two axes, the mask and the fill.

The pure-torch path needs a padded copy and a convolution per axis, a full tensor of noise and a
``where``; here two passes do it all:

1. ``_blur_rows``: Gaussian blur along the last axis, reflect-indexed, into a float32 buffer;
2. ``_finish``: blur that buffer along the second-to-last axis, subtract it from ``x`` and, where
   the mask is set, write noise (Philox, generated in registers, never stored) or a constant.

The noise seed is drawn from the caller's ``torch.Generator`` as a one-element tensor that the
kernel reads, so there is no host synchronization and the same generator state gives the same
noise. Kernels are registered as torch custom ops (``torch.library.triton_op``) so that
``torch.compile`` traces through them. They run on CUDA tensors, and on CPU tensors under
``TRITON_INTERPRET=1`` (slowly), which is how the tests check them on machines without a GPU.
"""

from __future__ import annotations

import os

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - triton ships with CUDA builds of torch
    triton = None

_INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"

#: The tile of each program: on an H100 4x256 ran the fused high-pass and noise fill of a
#: 256x3x224x224 batch in 1.78 ms (float32), against 2.66 ms for 8x128
#: (``python -m benchmarks.masking.tune``; benchmarks/masking/results/tune-cuda.json).
BLOCK_ROWS = 4
BLOCK_COLS = 256


_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


def usable(x: torch.Tensor) -> bool:
    """Whether the fused kernels can run on ``x``.

    They need Triton, a half or single precision ``x`` that does not need a gradient, on CUDA (or
    on the CPU under ``TRITON_INTERPRET=1``). Setting ``MASKAUG_DISABLE_TRITON=1`` turns them off.
    Everything else takes the pure-torch path, which gives the same masks and agrees on the filtered
    values within float32 rounding (the noise fill is drawn by a different generator algorithm).
    """
    if triton is None or os.environ.get("MASKAUG_DISABLE_TRITON") == "1" or x.dtype not in _DTYPES:
        return False
    if x.requires_grad and torch.is_grad_enabled():
        return False
    return x.is_cuda or (_INTERPRET and x.device.type == "cpu")


def draw_seed(generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """A one-element int64 Philox seed drawn from ``generator``, on ``device``."""
    source = device if generator is None else generator.device
    seed = torch.randint(0, 2**31 - 1, (1,), generator=generator, device=source, dtype=torch.int64)
    return seed.to(device)


if triton is not None:

    def _launch(kernel):
        """The kernel as torch.compile can trace it (the interpreter's kernels are launched directly)."""
        return kernel if _INTERPRET else torch.library.wrap_triton(kernel)

    @triton.jit
    def _reflect(index, length):
        index = tl.where(index < 0, -index, index)
        return tl.where(index >= length, 2 * (length - 1) - index, index)

    @triton.jit
    def _blur_rows(
        x_ptr, taps_ptr, out_ptr, n_rows, width,
        RADIUS: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr,
    ):
        rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)[:, None]
        cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)[None, :]
        inside = (rows < n_rows) & (cols < width)
        acc = tl.zeros((BLOCK_R, BLOCK_C), dtype=tl.float32)
        for t in tl.static_range(2 * RADIUS + 1):
            src = _reflect(cols + (t - RADIUS), width)
            value = tl.load(x_ptr + rows * width + src, mask=inside, other=0.0).to(tl.float32)
            acc += tl.load(taps_ptr + t) * value
        tl.store(out_ptr + rows * width + cols, acc, mask=inside)

    @triton.jit
    def _finish(
        x_ptr, blurred_ptr, taps_ptr, mask_ptr, seed_ptr, out_ptr,
        n_rows, height, width, fill_scale, fill_value,
        RADIUS: tl.constexpr, HIGHPASS: tl.constexpr, MASKED: tl.constexpr, NOISE: tl.constexpr,
        BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr,
    ):
        rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)[:, None]
        cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)[None, :]
        inside = (rows < n_rows) & (cols < width)
        offsets = rows * width + cols
        result = tl.load(x_ptr + offsets, mask=inside, other=0.0)
        if HIGHPASS:
            plane_start = (rows // height) * height
            h = rows % height
            acc = tl.zeros((BLOCK_R, BLOCK_C), dtype=tl.float32)
            for t in tl.static_range(2 * RADIUS + 1):
                src = plane_start + _reflect(h + (t - RADIUS), height)
                acc += tl.load(taps_ptr + t) * tl.load(blurred_ptr + src * width + cols, mask=inside, other=0.0)
            result = result.to(tl.float32) - acc
        if MASKED:
            hit = tl.load(mask_ptr + offsets, mask=inside, other=0) != 0
            if NOISE:
                filler = tl.randn(tl.load(seed_ptr), offsets) * fill_scale
            else:
                filler = tl.zeros((BLOCK_R, BLOCK_C), dtype=tl.float32) + fill_value
            result = tl.where(hit, filler.to(result.dtype), result)
        tl.store(out_ptr + offsets, result.to(out_ptr.dtype.element_ty), mask=inside)

    @torch.library.triton_op("maskaug::highpass_fill", mutates_args=())
    def highpass_fill(
        x: torch.Tensor,
        taps: torch.Tensor,
        mask: torch.Tensor,
        seed: torch.Tensor,
        highpass: bool,
        masked: bool,
        noise: bool,
        fill_scale: float,
        fill_value: float,
    ) -> torch.Tensor:
        """``where(mask, fill, x - blur(x))`` over the last two axes of a contiguous ``x``.

        ``taps`` are float32 Gaussian taps; ``mask`` is a uint8 tensor of ``x``'s shape (ignored
        unless ``masked``); ``seed`` a one-element int64 tensor (used when ``noise``).
        """
        height, width = x.shape[-2], x.shape[-1]
        n_rows = x.numel() // width if width else 0
        out = torch.empty_like(x)
        if x.numel() == 0:
            return out
        radius = taps.numel() // 2
        grid = (triton.cdiv(n_rows, BLOCK_ROWS), triton.cdiv(width, BLOCK_COLS))
        blurred = x
        if highpass:
            blurred = torch.empty(x.shape, dtype=torch.float32, device=x.device)
            _launch(_blur_rows)[grid](
                x, taps, blurred, n_rows, width, RADIUS=radius, BLOCK_R=BLOCK_ROWS, BLOCK_C=BLOCK_COLS
            )
        _launch(_finish)[grid](
            x, blurred, taps, mask, seed, out, n_rows, height, width, fill_scale, fill_value,
            RADIUS=radius, HIGHPASS=highpass, MASKED=masked, NOISE=noise, BLOCK_R=BLOCK_ROWS, BLOCK_C=BLOCK_COLS,
        )
        return out


def fused(
    x: torch.Tensor,
    *,
    taps: torch.Tensor | None,
    mask: torch.Tensor | None,
    fill: str = "noise",
    noise_std: float = 1.0,
    value: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """High-pass over the last two axes (when ``taps`` is given), then mask and fill (when ``mask`` is).

    Shape:
        - x: ``(..., H, W)``, any float dtype, on CUDA (or CPU under the interpreter).
        - mask: bool, broadcastable to ``x.shape``.
        - output: ``x.shape`` and ``x.dtype``.
    """
    x = x.contiguous()
    highpass = taps is not None
    masked = mask is not None
    noise = masked and fill == "noise"
    taps_f32 = taps.to(device=x.device, dtype=torch.float32) if highpass else x.new_zeros(1, dtype=torch.float32)
    if masked:
        mask_u8 = mask.to(x.device).expand(x.shape).contiguous().view(torch.uint8)
    else:
        mask_u8 = x.new_zeros(1, dtype=torch.uint8)
    seed = draw_seed(generator, x.device) if noise else x.new_zeros(1, dtype=torch.int64)
    return highpass_fill(x, taps_f32, mask_u8, seed, highpass, masked, noise, float(noise_std), float(value))
