"""MSCN's pre-training views made on the device, a whole batch at once.

The CPU path (`maskaug.adapters.image.pretrain_views`) augments one image at a time in DataLoader
workers; at four views per image it cannot feed a compiled ResNet-50 on one GPU. Here the workers
only decode each image into a fixed-size uint8 canvas (`ToCanvas`, edge-replicated beyond the
image), and `gpu_pretrain_views` makes the K views of the batch on the device:

1. random resized crop: per view a box drawn as torchvision's ``RandomResizedCrop`` draws it
   (`sample_crop_boxes`: scale (0.08, 1), log-uniform ratio (3/4, 4/3), 10 tries, then the centre
   crop), resampled to ``size`` by `torchvision.ops.roi_align` (bilinear; when shrinking, each
   output pixel averages ``ceil(box / size)`` bilinear samples per axis, an antialiasing box
   filter);
2. horizontal flip (p=0.5);
3. colour jitter with p=0.8: brightness, contrast, saturation and hue factors drawn per view, the
   four operations applied in a random order per view (`sample_jitter`, `color_jitter`);
4. grayscale (p=0.2), Gaussian blur (sigma in (0.1, 2), kernel ``size // 10`` made odd, 23 at
   224; p=``blur_prob``) as per-view banded matrix products with reflect padding;
5. ImageNet normalization, then an `maskaug.MSCNMask` per view (high-pass, grid or focal mask,
   fill), the fused Triton kernel on CUDA.

Every per-view decision is drawn for all views at once from the module's ``torch.Generator`` on
the input's device: no Python loop over the batch, no host synchronization. The same code runs on
CPU tensors, which is how the tests compare it with the CPU path.

Differences from the CPU path, none visible in view statistics (the tests check means, spreads,
masked fractions and box distributions): the CPU path rounds to uint8 after every colour operation
and shrinks crops with a triangle antialiasing filter, this path keeps float32 (or float16)
throughout and uses a box filter; at the border of a crop that is enlarged, the outermost bilinear
samples reach half a pixel into the image beyond the box instead of repeating the box's edge;
images larger than the canvas are shrunk to fit it before cropping.

Example:
    ```python
    import torch
    from maskaug.adapters.gpu_augment import ToCanvas, collate_canvases, gpu_pretrain_views
    from torchvision.transforms.v2.functional import to_pil_image

    to_canvas = ToCanvas(64)
    batch = collate_canvases([to_canvas(to_pil_image(torch.randint(0, 256, (3, 40, 56), dtype=torch.uint8)))
                              for _ in range(4)])
    views = gpu_pretrain_views(32, cell=8, highpass_sigma=1.0, generator=torch.Generator().manual_seed(0))
    out = views(batch)                         # 4 tensors (4, 3, 32, 32)
    assert len(out) == 4 and out[0].shape == (4, 3, 32, 32) and len(views.pairs) == 6
    ```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from PIL import Image
from torch import Tensor, nn
from torchvision.ops import roi_align
from torchvision.transforms.v2 import functional as TF

from maskaug import HighPass, MSCNMask
from maskaug._checks import (
    check_count,
    check_generator,
    check_nonnegative,
    check_pair,
    check_probability,
    check_view_ratios,
)
from maskaug.views import MSCN_RATIOS, all_pairs

__all__ = [
    "CanvasBatch",
    "GPUPretrainViews",
    "SimCLRBatchAugment",
    "ToCanvas",
    "blur_matrices",
    "collate_canvases",
    "color_jitter",
    "gaussian_blur",
    "gpu_pretrain_views",
    "resized_crop",
    "sample_crop_boxes",
    "sample_jitter",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: ITU-R 601 luma weights, as torchvision's ``rgb_to_grayscale``.
_LUMA = (0.2989, 0.587, 0.114)


# --------------------------------------------------------------------------- the batch on the wire
class CanvasBatch(NamedTuple):
    """Images of different sizes in one fixed-size uint8 tensor, with their sizes.

    A DataLoader's default collate keeps the type (a named tuple), and ``.to`` moves both parts, so
    the siamese trainer can hand it to ``batch_views`` on the device as it would a tensor. A
    non-blocking copy from pinned memory to CUDA runs on a side stream, which the current stream
    waits for: the copy overlaps the GPU work queued before it (the previous training step)
    instead of following it.

    Attributes:
        pixels: ``(N, 3, S, S)`` uint8 (``(3, S, S)`` for one image); image ``n`` fills
            ``[:h_n, :w_n]``, the rest repeats its last row and column.
        sizes: ``(N, 2)`` int64 ``(h, w)`` (``(2,)`` for one image).
    """

    pixels: Tensor
    sizes: Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> CanvasBatch:
        """Both tensors on ``device``."""
        device = torch.device(device)
        side = device.type == "cuda" and non_blocking and self.pixels.device.type == "cpu" and self.pixels.is_pinned()
        if not side:
            return CanvasBatch(self.pixels.to(device, non_blocking=non_blocking),
                               self.sizes.to(device, non_blocking=non_blocking))
        current = torch.cuda.current_stream(device)
        copy = _copy_stream(device)
        with torch.cuda.stream(copy):
            moved = CanvasBatch(self.pixels.to(device, non_blocking=True), self.sizes.to(device, non_blocking=True))
        current.wait_stream(copy)
        for tensor in moved:  # allocated on the side stream, used on the current one
            tensor.record_stream(current)
        return moved


_COPY_STREAMS: dict[torch.device, torch.cuda.Stream] = {}


def _copy_stream(device: torch.device) -> torch.cuda.Stream:
    """One side stream per CUDA device for host-to-device copies."""
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    if device not in _COPY_STREAMS:
        _COPY_STREAMS[device] = torch.cuda.Stream(device)
    return _COPY_STREAMS[device]


class ToCanvas(nn.Module):
    """Decode-side transform: an RGB image into a ``canvas x canvas`` uint8 `CanvasBatch` item.

    Images whose longer side exceeds ``canvas`` are first shrunk (antialiased bilinear) to fit,
    keeping their aspect ratio; crop boxes are drawn relative to the image's own size, so their
    distribution does not change, only the detail available to crops smaller than the canvas.
    At 512 this leaves ImageNet's typical 500 x 375 photographs untouched.

    Args:
        canvas: Side of the canvas in pixels.

    Shape:
        PIL image or ``(3, H, W)`` uint8 tensor -> `CanvasBatch` of ``(3, canvas, canvas)`` and ``(2,)``.

    Example:
        ```python
        import torch
        from maskaug.adapters.gpu_augment import ToCanvas

        item = ToCanvas(64)(torch.zeros(3, 30, 50, dtype=torch.uint8))
        assert item.pixels.shape == (3, 64, 64) and item.sizes.tolist() == [30, 50]
        ```
    """

    def __init__(self, canvas: int = 512) -> None:
        super().__init__()
        self.canvas = check_count("canvas", canvas)

    def forward(self, image: Image.Image | Tensor) -> CanvasBatch:
        x = TF.pil_to_tensor(image.convert("RGB")) if isinstance(image, Image.Image) else image
        if not isinstance(x, Tensor) or x.dtype != torch.uint8 or x.ndim != 3 or x.shape[0] != 3:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"ToCanvas expects a PIL image or a (3, H, W) uint8 tensor, got {got}")
        h, w = x.shape[1:]
        if h == 0 or w == 0:
            raise ValueError(f"ToCanvas got an empty image of shape {tuple(x.shape)}")
        if max(h, w) > self.canvas:
            factor = self.canvas / max(h, w)
            h, w = max(1, min(self.canvas, round(h * factor))), max(1, min(self.canvas, round(w * factor)))
            x = TF.resize(x, [h, w], antialias=True)
        out = torch.empty(3, self.canvas, self.canvas, dtype=torch.uint8)
        out[:, :h, :w] = x
        out[:, :h, w:] = x[:, :, w - 1 :]
        out[:, h:, :] = out[:, h - 1 : h, :]
        return CanvasBatch(out, torch.tensor([h, w], dtype=torch.int64))

    def extra_repr(self) -> str:
        return f"canvas={self.canvas}"


def collate_canvases(items: Sequence[CanvasBatch]) -> CanvasBatch:
    """Stack `ToCanvas` items into a batch (what a DataLoader's default collate also does).

    Shape:
        N items of ``(3, S, S)`` and ``(2,)`` -> ``(N, 3, S, S)`` and ``(N, 2)``.
    """
    if not items:
        raise ValueError("collate_canvases needs at least one item")
    return CanvasBatch(torch.stack([i.pixels for i in items]), torch.stack([i.sizes for i in items]))


# --------------------------------------------------------------------------- random draws
def _rand(shape: Sequence[int], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Uniform [0, 1) float32 of ``shape`` on ``device``, drawn on the generator's device."""
    source = device if generator is None else generator.device
    return torch.rand(tuple(shape), generator=generator, device=source).to(device)


def _uniform(bounds: tuple[float, float], shape: Sequence[int], generator: torch.Generator | None,
             device: torch.device) -> Tensor:
    low, high = bounds
    return low + (high - low) * _rand(shape, generator, device)


def _check_cpu_range(what: str, values: Tensor, low: float, high: float, hint: str) -> None:
    """Refuse ``values`` outside ``[low, high]``, in one pass, on the CPU only (on a GPU reading
    the result would synchronize the host)."""
    if values.device.type == "cpu" and values.numel():
        least, most = (float(v) for v in torch.aminmax(values))
        if not low <= least <= most <= high:  # (NaN fails every comparison)
            raise ValueError(f"{what} must lie in [{low}, {high}] {hint}, got values in [{least}, {most}]")


def sample_crop_boxes(
    sizes: Tensor,
    *,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    attempts: int = 10,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Random-resized-crop boxes, one per image, as torchvision's ``RandomResizedCrop`` draws them.

    Per image, ``attempts`` candidate boxes are drawn at once (area fraction uniform in ``scale``,
    aspect ratio log-uniform in ``ratio``, sides rounded half to even); the first that fits is
    placed uniformly at integer offsets. When none fits, the centre crop of the whole image with
    its aspect ratio clamped into ``ratio``.

    Args:
        sizes: ``(N, 2)`` integer ``(height, width)`` of each image.
        scale: Range of the box area as a fraction of the image's.
        ratio: Range of the box's width / height.
        attempts: Candidate boxes per image before the fallback (torchvision: 10).
        generator: Source of randomness; ``None`` uses torch's default generator.

    Returns:
        ``(N, 4)`` float32 ``(top, left, height, width)``, integer-valued, on ``sizes``'s device.

    Shape:
        ``(N, 2) -> (N, 4)``.

    Example:
        ```python
        import torch
        from maskaug.adapters.gpu_augment import sample_crop_boxes

        boxes = sample_crop_boxes(torch.tensor([[375, 500]] * 8), generator=torch.Generator().manual_seed(0))
        assert boxes.shape == (8, 4) and bool((boxes[:, 0] + boxes[:, 2] <= 375).all())
        ```
    """
    scale = check_pair("scale", scale, low_open=True)
    ratio = check_pair("ratio", ratio, low_open=True)
    attempts = check_count("attempts", attempts)
    check_generator(generator)
    if not isinstance(sizes, Tensor) or sizes.ndim != 2 or sizes.shape[1] != 2:
        got = tuple(sizes.shape) if isinstance(sizes, Tensor) else type(sizes).__name__
        raise ValueError(f"sizes must be an (N, 2) tensor of (height, width), got {got}")
    device, n = sizes.device, sizes.shape[0]
    height, width = sizes[:, :1].double(), sizes[:, 1:].double()
    area = height * width * (scale[0] + (scale[1] - scale[0]) * _rand((n, attempts), generator, device).double())
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * _rand((n, attempts), generator, device).double())
    w = torch.sqrt(area * aspect).round()
    h = torch.sqrt(area / aspect).round()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.double().argmax(1, keepdim=True)  # the first fitting try (0 when none fits)
    w, h = w.gather(1, first), h.gather(1, first)
    found = fits.any(1, keepdim=True)
    # fallback: the whole image, its aspect ratio clamped into `ratio`, centred
    in_ratio = width / height
    fall_w = torch.where(in_ratio < ratio[0], width, torch.where(in_ratio > ratio[1], (height * ratio[1]).round(), width))
    fall_h = torch.where(in_ratio < ratio[0], (width / ratio[0]).round(), height)
    w, h = torch.where(found, w, fall_w), torch.where(found, h, fall_h)
    offsets = _rand((n, 2), generator, device).double()
    top = torch.where(found, (offsets[:, :1] * (height - h + 1)).floor(), ((height - h) / 2).floor())
    left = torch.where(found, (offsets[:, 1:] * (width - w + 1)).floor(), ((width - w) / 2).floor())
    return torch.cat([top, left, h, w], dim=1).float()


def sample_jitter(
    n: int,
    *,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.2,
    hue: float = 0.1,
    p: float = 0.8,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-image colour jitter parameters, as torchvision's ``RandomApply([ColorJitter(...)], p)``.

    Factors are uniform in ``[max(0, 1 - brightness), 1 + brightness]`` (likewise contrast and
    saturation) and ``[-hue, hue]``; the order of the four operations is a uniformly random
    permutation per image. Images not jittered (probability ``1 - p``) get neutral factors
    (1, 1, 1, 0), which leave them unchanged.

    Args:
        n: Number of images.
        brightness: Brightness strength (SimCLR: 0.4 times the jitter strength).
        contrast: Contrast strength (0.4).
        saturation: Saturation strength (0.2).
        hue: Hue strength, in ``[0, 0.5]`` (0.1).
        p: Probability that an image is jittered at all (0.8).
        generator: Source of randomness; ``None`` uses torch's default generator.
        device: Where the parameters live.

    Returns:
        ``(factors, order)``: ``(n, 4)`` float32 brightness, contrast, saturation and hue
        factors, and ``(n, 4)`` int64 operation indices (0 brightness, 1 contrast,
        2 saturation, 3 hue) in the order they apply.

    Shape:
        ``n -> (n, 4), (n, 4)``.

    Example:
        ```python
        import torch
        from maskaug.adapters.gpu_augment import sample_jitter

        factors, order = sample_jitter(8, generator=torch.Generator().manual_seed(0))
        assert factors.shape == order.shape == (8, 4) and bool((order.sort(1).values == torch.arange(4)).all())
        ```
    """
    n = check_count("n", n, minimum=0)
    strengths = [check_nonnegative(name, v) for name, v in
                 (("brightness", brightness), ("contrast", contrast), ("saturation", saturation), ("hue", hue))]
    if strengths[3] > 0.5:
        raise ValueError(f"hue must lie in [0, 0.5], got {hue!r}")
    p = check_probability("p", p)
    check_generator(generator)
    device = torch.device("cpu") if device is None else torch.device(device)
    bounds = [(max(0.0, 1 - s), 1 + s) for s in strengths[:3]] + [(-strengths[3], strengths[3])]
    u = _rand((n, 4), generator, device)
    factors = torch.stack([low + (high - low) * u[:, i] for i, (low, high) in enumerate(bounds)], dim=1)
    order = _rand((n, 4), generator, device).argsort(dim=1)
    applied = _rand((n, 1), generator, device) < p
    neutral = torch.cat([torch.ones(n, 3, device=device), torch.zeros(n, 1, device=device)], dim=1)
    return torch.where(applied, factors, neutral), order


# --------------------------------------------------------------------------- pixel operations
def _check_images(name: str, x: Tensor, what: str) -> None:
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != 3 or not x.is_floating_point():
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{what} expects {name} of shape (N, 3, H, W) and a floating dtype, got {got}")


def resized_crop(images: Tensor, boxes: Tensor, size: int, *, index: Tensor | None = None) -> Tensor:
    """Crop a box out of an image and resample it to ``size x size``, for every box at once.

    Bilinear, pixel-centre aligned (torchvision's ``align_corners=False``). A box larger than
    ``size`` averages ``ceil(side / size)`` bilinear samples per output pixel and axis, an
    antialiasing box filter (torchvision's ``antialias=True`` uses a triangle filter).

    Args:
        images: ``(N, 3, H, W)`` floating images.
        boxes: ``(K, 4)`` ``(top, left, height, width)`` in pixels, inside the images.
        size: Output side.
        index: ``(K,)`` int64 image of each box; default box ``k`` crops image ``k``.

    Returns:
        ``(K, 3, size, size)``, ``images``'s dtype.

    Shape:
        ``(N, 3, H, W), (K, 4) -> (K, 3, size, size)``.

    Example:
        ```python
        import torch
        from maskaug.adapters.gpu_augment import resized_crop

        images = torch.rand(2, 3, 40, 60)
        boxes = torch.tensor([[0.0, 0.0, 40.0, 60.0], [10.0, 20.0, 8.0, 8.0]])
        assert resized_crop(images, boxes, 16).shape == (2, 3, 16, 16)
        ```
    """
    _check_images("images", images, "resized_crop")
    if index is None:
        if boxes.shape[0] != images.shape[0]:
            raise ValueError(f"resized_crop got {boxes.shape[0]} boxes for {images.shape[0]} images; pass index")
        index = torch.arange(images.shape[0], device=images.device)
    # roi_align computes sample positions in its input's dtype: float16 would snap them to steps of
    # up to 0.25 px on a 500-px image, so half-precision images are cropped in float32
    work = torch.float64 if images.dtype == torch.float64 else torch.float32
    top, left, h, w = boxes.to(work).unbind(1)
    rois = torch.stack([index.to(work), left, top, left + w, top + h], dim=1)
    out = roi_align(images.to(work), rois, output_size=size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    return out.to(images.dtype)


def _gray(x: Tensor) -> Tensor:
    r, g, b = x.unbind(1)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(1)


def _shift_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate the HSV hue of RGB ``x`` in [0, 1] by ``shift`` turns, keeping value and saturation.

    With ``v = max``, ``c = max - min`` and hue ``h``, channel ``n`` (5 red, 3 green, 1 blue) is
    ``v - c * clamp(min(k, 4 - k), 0, 1)`` for ``k = (n + 6 h) mod 6``.
    """
    value, _ = x.max(1, keepdim=True)
    chroma = value - x.min(1, keepdim=True)[0]
    r, g, b = x.unbind(1)
    r, g, b = r.unsqueeze(1), g.unsqueeze(1), b.unsqueeze(1)
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue6 = torch.where(
        value == r, (g - b) / safe, torch.where(value == g, 2 + (b - r) / safe, 4 + (r - g) / safe)
    )
    hue6 = torch.remainder(hue6 + 6 * shift.view(-1, 1, 1, 1), 6.0)
    n = (5 - 2 * torch.arange(3, dtype=x.dtype, device=x.device)).view(1, 3, 1, 1)  # 5, 3, 1
    k = torch.remainder(n + hue6, 6.0)
    return value - chroma * torch.clamp(torch.minimum(k, 4 - k), 0.0, 1.0)


def color_jitter(x: Tensor, factors: Tensor, order: Tensor) -> Tensor:
    """Brightness, contrast, saturation and hue adjustments in a per-image order.

    Each operation is torchvision's on float images: brightness ``clamp(b x)``, contrast
    ``clamp(c x + (1 - c) mean(gray(x)))``, saturation ``clamp(s x + (1 - s) gray(x))``, hue a
    rotation of the HSV hue by ``h`` turns; clamps to [0, 1].

    Args:
        x: ``(N, 3, H, W)`` RGB in [0, 1].
        factors: ``(N, 4)`` brightness, contrast, saturation and hue factors (`sample_jitter`).
        order: ``(N, 4)`` operation indices (0 brightness, 1 contrast, 2 saturation, 3 hue) in
            the order they apply to each image.

    Returns:
        A new ``(N, 3, H, W)`` tensor.

    Shape:
        ``(N, 3, H, W), (N, 4), (N, 4) -> (N, 3, H, W)``.

    Example:
        ```python
        import torch
        from maskaug.adapters.gpu_augment import color_jitter, sample_jitter

        x = torch.rand(4, 3, 16, 16)
        factors, order = sample_jitter(4, generator=torch.Generator().manual_seed(0))
        assert color_jitter(x, factors, order).shape == x.shape
        ```
    """
    _check_images("x", x, "color_jitter")
    n = x.shape[0]
    if factors.shape != (n, 4) or order.shape != (n, 4):
        raise ValueError(f"factors and order must be ({n}, 4), got {tuple(factors.shape)} and {tuple(order.shape)}")
    shape = (-1, 1, 1, 1)
    factors = factors.to(x.dtype)
    for position in range(4):
        op = order[:, position]
        # brightness, contrast and saturation all blend towards a reference: 0, the mean grey
        # level, the grey image; each image takes its own operation of this position
        factor = factors.gather(1, op.clamp(max=2).view(-1, 1)).view(shape)
        factor = torch.where(op.view(shape) == 3, 1.0, factor)
        gray = _gray(x)
        reference = torch.where(op.view(shape) == 1, gray.mean(dim=(1, 2, 3), keepdim=True), gray)
        reference = torch.where(op.view(shape) == 0, 0.0, reference)
        x = torch.clamp(factor * x + (1 - factor) * reference, 0.0, 1.0)
        turn = (op == 3) & (factors[:, 3] != 0)
        x = torch.where(turn.view(shape), _shift_hue(x, factors[:, 3]), x)
    return x


def _reflect(index: Tensor, length: int) -> Tensor:
    index = index.abs()
    return torch.where(index >= length, 2 * (length - 1) - index, index)


def blur_matrices(sigma: Tensor, length: int, kernel_size: int) -> Tensor:
    """Per-image ``(L, L)`` matrices whose product with a vector is its reflect-padded Gaussian blur.

    Taps at integer offsets ``-r..r`` (``r = kernel_size // 2``), ``exp(-x^2 / (2 sigma^2))``
    normalized, as torchvision's ``gaussian_blur``; a ``sigma`` of 0 gives the identity.

    Args:
        sigma: ``(N,)`` standard deviations in pixels (>= 0).
        length: The blurred axis's length (> ``kernel_size // 2``).
        kernel_size: Odd number of taps.

    Shape:
        ``(N,) -> (N, length, length)``.
    """
    radius = kernel_size // 2
    if kernel_size < 1 or kernel_size % 2 == 0 or length <= radius:
        raise ValueError(f"kernel_size must be odd and its radius below length={length}, got {kernel_size}")
    device, n = sigma.device, sigma.shape[0]
    offsets = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    safe = torch.where(sigma > 0, sigma, torch.ones_like(sigma)).float().view(-1, 1)
    taps = torch.exp(-0.5 * (offsets / safe) ** 2)
    taps = taps / taps.sum(1, keepdim=True)
    delta = (offsets == 0).float().expand(n, -1)
    taps = torch.where(sigma.view(-1, 1) > 0, taps, delta)
    rows = torch.arange(length, device=device).repeat_interleave(kernel_size)
    cols = _reflect(rows + torch.arange(-radius, radius + 1, device=device).repeat(length), length)
    flat = torch.zeros(n, length * length, device=device)
    flat.index_add_(1, rows * length + cols, taps.repeat(1, length))
    return flat.view(n, length, length)


def gaussian_blur(x: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Per-image separable Gaussian blur with reflect padding (``sigma`` 0 leaves an image as is).

    Done as two batched matrix products with banded matrices (`blur_matrices`), which beats a
    grouped convolution with one kernel per image on both CPU and GPU.

    Args:
        x: ``(N, C, H, W)`` floating.
        sigma: ``(N,)`` standard deviations in pixels.
        kernel_size: Odd number of taps (torchvision's ``GaussianBlur(kernel_size)``).

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Example:
        ```python
        import torch
        from maskaug.adapters.gpu_augment import gaussian_blur

        x = torch.rand(2, 3, 32, 32)
        y = gaussian_blur(x, torch.tensor([1.5, 0.0]), 7)
        assert torch.equal(y[1], x[1]) and y[0].std() < x[0].std()
        ```
    """
    if not isinstance(x, Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"gaussian_blur expects x of shape (N, C, H, W), floating, got {getattr(x, 'shape', x)}")
    if sigma.shape != (x.shape[0],):
        raise ValueError(f"sigma must be ({x.shape[0]},), got {tuple(sigma.shape)}")
    height, width = x.shape[2], x.shape[3]
    rows = blur_matrices(sigma, height, kernel_size).to(x.dtype).unsqueeze(1)
    cols = rows if width == height else blur_matrices(sigma, width, kernel_size).to(x.dtype).unsqueeze(1)
    return rows @ x @ cols.transpose(-1, -2)


# --------------------------------------------------------------------------- modules
class SimCLRBatchAugment(nn.Module):
    """SimCLR's ImageNet augmentations for K views of every image of a batch, on the batch's device.

    The same operations and parameter distributions as
    `maskaug.adapters.image.simclr_augment` (RandomResizedCrop ``size``, flip, colour jitter
    with p=0.8 in a random order, grayscale p=0.2, Gaussian blur, ImageNet normalization).

    Args:
        size: Output side in pixels (paper: 224).
        views: Views per image.
        jitter_strength: Multiplies the jitter strengths 0.4, 0.4, 0.2, 0.1.
        blur_prob: Probability of the Gaussian blur (sigma in (0.1, 2), kernel ``size // 10``
            made odd, at least 3).
        scale: Crop area range, as a fraction of the image.
        ratio: Crop aspect ratio range.
        compile: Run the pixel operations after the crop through ``torch.compile`` (fuses the
            jitter's many element-wise passes; worth it on CUDA).
        dtype: ``torch.float32`` or ``torch.float16`` for the work after the crop and the views
            (the crop itself samples in float32, where float16 would misplace its positions); half
            precision halves the bytes of the passes after the crop, and its rounding (below
            1/2000 on [0, 1]) stays under the CPU path's uint8 rounding.
        generator: Source of randomness kept by the module; ``None`` uses torch's default
            generator. Keep it on the input's device to avoid host-to-device copies.

    Shape:
        `CanvasBatch` ``(N, 3, S, S)`` uint8 with sizes from `ToCanvas`, or ``(N, 3, H, W)`` uint8
        or float in [0, 1] -> ``(views, N, 3, size, size)`` of ``dtype``. Floats outside [0, 1] and
        sizes outside the canvas are refused on the CPU; on a GPU, where checking would
        synchronize, they are not checked.

    Example:
        ```python
        import torch
        from maskaug.adapters.gpu_augment import SimCLRBatchAugment

        augment = SimCLRBatchAugment(32, views=2, generator=torch.Generator().manual_seed(0))
        views = augment(torch.randint(0, 256, (4, 3, 48, 64), dtype=torch.uint8))
        assert views.shape == (2, 4, 3, 32, 32)
        ```
    """

    def __init__(
        self,
        size: int = 224,
        *,
        views: int = 2,
        jitter_strength: float = 1.0,
        blur_prob: float = 0.5,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        compile: bool = False,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if dtype not in (torch.float32, torch.float16):
            raise TypeError(f"dtype must be torch.float32 or torch.float16, got {dtype!r}")
        self.dtype = dtype
        self.size = check_count("size", size, minimum=2, why="the blur's 3 taps need 2 pixels")
        self.views = check_count("views", views)
        self.jitter_strength = check_nonnegative("jitter_strength", jitter_strength)
        if self.jitter_strength * 0.1 > 0.5:
            raise ValueError(f"jitter_strength must be <= 5 (hue strength 0.1 x it is at most 0.5), got {jitter_strength!r}")
        self.blur_prob = check_probability("blur_prob", blur_prob)
        self.scale = check_pair("scale", scale, low_open=True)
        if self.scale[1] > 1:
            raise ValueError(f"scale must lie in (0, 1], got {scale!r}")
        self.ratio = check_pair("ratio", ratio, low_open=True)
        self.blur_kernel = max(3, self.size // 10 // 2 * 2 + 1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.generator = check_generator(generator)
        if not isinstance(compile, bool):
            raise TypeError(f"compile must be a bool, got {compile!r}")
        self.compile_pixels = compile  # (not `compile`, which would hide nn.Module.compile)
        self._pixels: Callable[..., Tensor] = torch.compile(_pixel_ops, dynamic=False) if compile else _pixel_ops

    def _inputs(self, batch: CanvasBatch | Tensor) -> tuple[Tensor, Tensor, float]:
        """Images in float32 (uint8 values kept as 0..255), their sizes, and the value of 1.0."""
        if isinstance(batch, CanvasBatch):
            pixels, sizes = batch
            square = pixels.ndim == 4 and pixels.shape[-2] == pixels.shape[-1]
            if not square or pixels.shape[1] != 3 or sizes.shape != (pixels.shape[0], 2):
                raise ValueError(
                    f"a CanvasBatch needs pixels (N, 3, S, S) and sizes (N, 2), got {tuple(pixels.shape)} and "
                    f"{tuple(sizes.shape)}"
                )
            _check_cpu_range("a CanvasBatch's sizes", sizes, 1, pixels.shape[-1], "(the canvas side)")
        elif isinstance(batch, Tensor):
            pixels = batch
            if pixels.ndim != 4 or pixels.shape[1] != 3:
                raise ValueError(f"expected a (N, 3, H, W) batch of images, got shape {tuple(pixels.shape)}")
            n, height, width = pixels.shape[0], pixels.shape[2], pixels.shape[3]
            sizes = torch.stack([torch.full((n,), height, device=pixels.device),
                                 torch.full((n,), width, device=pixels.device)], dim=1)
        else:
            raise TypeError(f"expected a CanvasBatch or a (N, 3, H, W) tensor, got {type(batch).__name__}")
        if pixels.dtype != torch.uint8 and not pixels.is_floating_point():
            raise TypeError(f"images must be uint8 or floating, got {pixels.dtype}")
        if pixels.is_floating_point():
            _check_cpu_range("floating images", pixels, 0, 1, "(pass uint8 images for 0..255)")
        # cropped in float32 (`resized_crop`), then turned into ``dtype``
        return pixels.float(), sizes, 255.0 if pixels.dtype == torch.uint8 else 1.0

    def forward(self, batch: CanvasBatch | Tensor) -> Tensor:
        images, sizes, one = self._inputs(batch)
        n, k, device = images.shape[0], self.views, images.device
        g = self.generator
        boxes = sample_crop_boxes(sizes.repeat(k, 1), scale=self.scale, ratio=self.ratio, generator=g)
        index = torch.arange(n, device=device).repeat(k)
        x = resized_crop(images, boxes, self.size, index=index).to(self.dtype)
        if one != 1.0:  # scaled after the crop, on the smaller tensor
            x = x * (1 / one)
        s = self.jitter_strength
        factors, order = sample_jitter(k * n, brightness=0.4 * s, contrast=0.4 * s, saturation=0.2 * s, hue=0.1 * s,
                                       p=0.8, generator=g, device=device)
        flip = _rand((k * n,), g, device) < 0.5
        gray = _rand((k * n,), g, device) < 0.2
        blurred = _rand((k * n,), g, device) < self.blur_prob
        sigma = torch.where(blurred, _uniform((0.1, 2.0), (k * n,), g, device), 0.0)
        if self.mean.device != device:  # moved once (a copy from the host would synchronize every call)
            self.mean, self.std = self.mean.to(device), self.std.to(device)
        mean, std = self.mean.to(self.dtype), self.std.to(self.dtype)
        out = self._pixels(x, flip, factors, order, gray, sigma, self.blur_kernel, mean, std)
        return out.view(k, n, 3, self.size, self.size)

    def extra_repr(self) -> str:
        return (f"size={self.size}, views={self.views}, jitter_strength={self.jitter_strength}, "
                f"blur_prob={self.blur_prob}, blur_kernel={self.blur_kernel}, scale={self.scale}, "
                f"ratio={tuple(round(r, 4) for r in self.ratio)}, compile={self.compile_pixels}, dtype={self.dtype}")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_pixels")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "compile" in state:  # saved by earlier versions, which called the flag `compile`
            state["compile_pixels"] = state.pop("compile")
        self.__dict__.update(state)
        self._pixels = torch.compile(_pixel_ops, dynamic=False) if self.compile_pixels else _pixel_ops


def _pixel_ops(x: Tensor, flip: Tensor, factors: Tensor, order: Tensor, gray: Tensor, sigma: Tensor,
               kernel_size: int, mean: Tensor, std: Tensor) -> Tensor:
    """Flip, jitter, grayscale, blur and normalize the crops (all per-image parameters given)."""
    shape = (-1, 1, 1, 1)
    x = torch.where(flip.view(shape), x.flip(-1), x)
    x = color_jitter(x, factors, order)
    x = torch.where(gray.view(shape), _gray(x).expand_as(x), x)
    x = gaussian_blur(x, sigma, kernel_size)
    return (x - mean) / std


class GPUPretrainViews(nn.Module):
    """K augmented views of a batch, each through its own MSCN mask policy.

    Args:
        augment: Makes ``(K, N, 3, S, S)`` views of a batch (`SimCLRBatchAugment`).
        masks: One callable per view applied to its ``(N, 3, S, S)`` views (an
            `maskaug.MSCNMask` with ``layout="b c h w"``, a `maskaug.HighPass`, or
            ``nn.Identity``). The loss runs on every pair of views (``.pairs``).

    Shape:
        `CanvasBatch` or ``(N, 3, H, W)`` -> list of K tensors ``(N, 3, S, S)``.
    """

    def __init__(self, augment: SimCLRBatchAugment, masks: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(masks) != augment.views:
            raise ValueError(f"masks must hold one module per view ({augment.views}), got {len(masks)}")
        if len(masks) < 2:
            raise ValueError(f"at least 2 views are needed, got {len(masks)}")
        self.augment = augment
        self.masks = nn.ModuleList(masks)
        self.pairs = all_pairs(len(masks))

    def forward(self, batch: CanvasBatch | Tensor) -> list[Tensor]:
        views = self.augment(batch)
        return [mask(view) for mask, view in zip(self.masks, views.unbind(0))]

    def extra_repr(self) -> str:
        return f"n_views={len(self.masks)}, pairs={self.pairs}"


def gpu_pretrain_views(
    size: int = 224,
    *,
    mask: bool = True,
    highpass: bool = True,
    ratios: Sequence[float | tuple[float, float]] = MSCN_RATIOS,
    highpass_sigma: float = 5.0,
    highpass_kernel_size: int | None = None,
    cell: int = 32,
    compile: bool = False,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
    **mask_options: Any,
) -> GPUPretrainViews:
    """The device-side twin of `maskaug.adapters.image.pretrain_views`, same arguments, same views.

    Each view is `SimCLRBatchAugment` then (``mask=True``) an `maskaug.MSCNMask` with
    ``layout="b c h w"`` and the view's ratio from ``ratios``; ``mask=False`` high-passes
    without masks, ``highpass=False`` masks without the high-pass. Feed it batches of
    `ToCanvas` items (``pretrain(..., batch_views=views)``).

    Args:
        size: Output side in pixels (paper: 224).
        mask: Apply the MSCN masks.
        highpass: Apply the high-pass (after normalization, before the masks).
        ratios: One masking ratio (or range) per view; its length is the number of views.
        highpass_sigma: High-pass sigma in pixels (paper: 5 at 224 px).
        highpass_kernel_size: Odd number of taps, ``None`` for the full Gaussian.
        cell: Grid cell size in pixels (paper: 32 at 224 px).
        compile: ``torch.compile`` the pixel operations (`SimCLRBatchAugment`).
        dtype: ``torch.float32`` or ``torch.float16`` views (`SimCLRBatchAugment`).
        generator: Shared by the augmentation and every mask; put it on the training device.
        **mask_options: Passed to every `maskaug.MSCNMask` (``focal_prob``, ``noise_std``, ...).

    Shape:
        `CanvasBatch` ``(N, 3, S, S)`` -> list of ``len(ratios)`` tensors ``(N, 3, size, size)``.

    Example:
        ```python
        import torch
        from maskaug.adapters.gpu_augment import gpu_pretrain_views

        views = gpu_pretrain_views(32, cell=8, highpass_sigma=1.0, generator=torch.Generator().manual_seed(0))
        out = views(torch.randint(0, 256, (2, 3, 40, 40), dtype=torch.uint8))
        assert len(out) == 4 and out[0].shape == (2, 3, 32, 32) and len(views.pairs) == 6
        ```
    """
    ratios = check_view_ratios(ratios)
    augment = SimCLRBatchAugment(size, views=len(ratios), compile=compile, dtype=dtype, generator=generator)
    sigma = highpass_sigma if highpass else None
    if mask:
        masks = [MSCNMask(layout="b c h w", ratio=r, cell=cell, highpass_sigma=sigma,
                          highpass_kernel_size=highpass_kernel_size, generator=generator, **mask_options)
                 for r in ratios]
    else:
        if mask_options:
            raise TypeError(f"mask options {sorted(mask_options)} need mask=True")
        masks = [HighPass(highpass_sigma, kernel_size=highpass_kernel_size) if highpass else nn.Identity()
                 for _ in ratios]
    return GPUPretrainViews(augment, masks)
