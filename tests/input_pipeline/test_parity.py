"""The CPU path (`image.pretrain_views`, per image) and the device path (`gpu_pretrain_views`,
per batch, here on CPU tensors) give views with the same statistics for the same settings.

Both paths see the same 16 synthetic photographs-like images (coloured stripe patterns of
different sizes), 20 times each: 320 images, 1,280 views per path. Per view we take the
per-channel mean and standard deviation, the mean absolute horizontal step between neighbouring
pixels (sharpness: crop resampling, antialiasing and blur), the spread across channels
(saturation) and, with masks, the masked fraction. Views are
independent draws, so the difference of the two paths' averages of a statistic has a standard
error ``sqrt(s1^2 / n1 + s2^2 / n2)``; we allow 4.5 of them (a chance of 7e-6 per comparison
that two identical distributions fail, 2e-4 over the ~30 comparisons here). Spreads across
views (standard deviations of a statistic) must agree within 20%: with 1,280 views the standard
error of a standard deviation is about 2%.
"""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from benchmarks.imagenet.synthetic import pattern
from maskaug.adapters import image
from maskaug.adapters.gpu_augment import ToCanvas, collate_canvases, gpu_pretrain_views
from maskaug.views import MSCN_RATIOS

SIZE, CELL, SIGMA = 32, 8, 1.0
REPEATS = 20
SENTINEL = 50.0  # a constant fill no normalized pixel reaches: masked pixels are exactly this


def _images() -> list[Image.Image]:
    g = torch.Generator().manual_seed(0)
    sizes = [(64, 48), (48, 64), (80, 40), (56, 56)]
    return [pattern(label, *sizes[label % 4], g) for label in range(16)]


def _cpu_views(images: list[Image.Image], **options) -> list[torch.Tensor]:
    views = image.pretrain_views(SIZE, cell=CELL, highpass_sigma=SIGMA, **options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        out = [views(im) for _ in range(REPEATS) for im in images]
    return [torch.stack([o[k] for o in out]) for k in range(len(MSCN_RATIOS))]


def _gpu_views(images: list[Image.Image], **options) -> list[torch.Tensor]:
    views = gpu_pretrain_views(SIZE, cell=CELL, highpass_sigma=SIGMA, generator=torch.Generator().manual_seed(2),
                               **options)
    to_canvas = ToCanvas(80)
    batch = collate_canvases([to_canvas(im) for _ in range(REPEATS) for im in images])
    return views(batch)


def _close(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    """The means of two samples of a per-view statistic agree within 4.5 standard errors."""
    se = math.sqrt(a.var().item() / a.numel() + b.var().item() / b.numel())
    assert abs(a.mean().item() - b.mean().item()) <= 4.5 * se + 1e-6, (what, a.mean().item(), b.mean().item(), se)


def _similar_spread(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    ratio = a.std().item() / b.std().item()
    assert 1 / 1.2 <= ratio <= 1.2, (what, ratio)


_STATISTICS = {
    "mean": lambda v, c: v[:, c].mean((1, 2)),
    "std": lambda v, c: v[:, c].std((1, 2)),
    "sharpness": lambda v, c: (v[:, c, :, 1:] - v[:, c, :, :-1]).abs().mean((1, 2)),
}


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return _images()


@pytest.fixture(scope="module")
def plain_cpu(images) -> torch.Tensor:
    """The CPU path's views without masks or high-pass, all views of all images."""
    return torch.cat(_cpu_views(images, mask=False, highpass=False))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_plain_views_have_the_same_channel_statistics(images, plain_cpu, dtype) -> None:
    cpu = plain_cpu
    gpu = torch.cat(_gpu_views(images, mask=False, highpass=False, dtype=dtype))
    assert gpu.dtype == dtype
    gpu = gpu.float()
    assert cpu.shape == gpu.shape == (len(MSCN_RATIOS) * REPEATS * 16, 3, SIZE, SIZE)
    for c in range(3):
        for name, stat in _STATISTICS.items():
            _close(stat(cpu, c), stat(gpu, c), f"channel {c} {name}")
            _similar_spread(stat(cpu, c), stat(gpu, c), f"channel {c} {name}")
    _close(cpu.std(1).mean((1, 2)), gpu.std(1).mean((1, 2)), "saturation")
    # grayscale views (all channels equal after un-normalizing) come at the same rate (p=0.2)
    mean = torch.tensor(image.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(image.IMAGENET_STD).view(1, 3, 1, 1)
    gray = [((v * std + mean).std(1).amax((1, 2)) < 2e-3).float() for v in (cpu, gpu)]
    _close(*gray, "grayscale rate")


def test_masked_views_have_the_same_masked_fraction_and_spread(images) -> None:
    options = dict(fill="constant", value=SENTINEL)
    cpu = _cpu_views(images, **options)
    gpu = _gpu_views(images, **options)
    for k, ratio in enumerate(MSCN_RATIOS):
        masked = [(v == SENTINEL).float().mean((1, 2, 3)) for v in (cpu[k], gpu[k])]
        _close(*masked, f"masked fraction of view {k} (ratio {ratio})")
        _similar_spread(*masked, f"masked fraction of view {k}")
        kept = [torch.where(v == SENTINEL, float("nan"), v) for v in (cpu[k], gpu[k])]
        spread = [torch.stack([x[~x.isnan()].std() for x in v]) for v in kept]
        _close(*spread, f"high-passed spread of view {k}")


def test_the_comparison_detects_a_different_setting(images, plain_cpu) -> None:
    """The same check fails for a device path without colour jitter and blur."""
    cpu = plain_cpu
    views = gpu_pretrain_views(SIZE, mask=False, highpass=False, generator=torch.Generator().manual_seed(2))
    views.augment.jitter_strength, views.augment.blur_prob = 0.0, 0.0
    batch = collate_canvases([ToCanvas(80)(im) for _ in range(REPEATS) for im in images])
    gpu = torch.cat(views(batch))
    for c in range(3):
        with pytest.raises(AssertionError, match="sharpness"):
            _close(_STATISTICS["sharpness"](cpu, c), _STATISTICS["sharpness"](gpu, c), f"channel {c} sharpness")
