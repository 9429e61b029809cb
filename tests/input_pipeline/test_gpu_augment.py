"""The batched augmentations of `maskaug.adapters.gpu_augment`, each against torchvision's own.

Crop boxes are compared in distribution with ``RandomResizedCrop.make_params``; the colour
jitter, the blur and the crop resampling against torchvision's functional kernels applied one
image at a time (the slow, obviously correct reference).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from maskaug.adapters.gpu_augment import (
    CanvasBatch,
    SimCLRBatchAugment,
    ToCanvas,
    collate_canvases,
    color_jitter,
    gaussian_blur,
    gpu_pretrain_views,
    resized_crop,
    sample_crop_boxes,
    sample_jitter,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _ks(a: torch.Tensor, b: torch.Tensor) -> float:
    """Two-sample Kolmogorov-Smirnov statistic."""
    grid = torch.cat([a, b]).sort().values
    cdf_a = torch.searchsorted(a.sort().values, grid, right=True) / a.numel()
    cdf_b = torch.searchsorted(b.sort().values, grid, right=True) / b.numel()
    return float((cdf_a - cdf_b).abs().max())


def _torchvision_boxes(height: int, width: int, n: int, seed: int) -> torch.Tensor:
    crop = v2.RandomResizedCrop(8, antialias=True)
    image = torch.zeros(3, height, width, dtype=torch.uint8)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        params = [crop.make_params([image]) for _ in range(n)]
    return torch.tensor([[p["top"], p["left"], p["height"], p["width"]] for p in params], dtype=torch.float32)


# --------------------------------------------------------------------------- crop boxes
@given(seed=st.integers(0, 2**31 - 1), height=st.integers(1, 300), width=st.integers(1, 300))
def test_boxes_lie_inside_the_image_with_integer_corners(seed: int, height: int, width: int) -> None:
    boxes = sample_crop_boxes(torch.tensor([[height, width]] * 16), generator=_gen(seed))
    top, left, h, w = boxes.unbind(1)
    assert bool((boxes == boxes.round()).all())
    assert bool((top >= 0).all() and (left >= 0).all() and (h >= 1).all() and (w >= 1).all())
    assert bool((top + h <= height).all() and (left + w <= width).all())


@pytest.mark.parametrize("height, width", [(375, 500), (24, 64)])
def test_box_scale_ratio_and_position_match_torchvision(height: int, width: int) -> None:
    n = 4000
    ours = sample_crop_boxes(torch.tensor([[height, width]] * n), generator=_gen(1))
    theirs = _torchvision_boxes(height, width, n, seed=2)
    # KS critical value at alpha = 1e-3 for two samples of 4000 (c(alpha) = 1.95)
    critical = 1.95 * math.sqrt(2 / n)
    for name, stat in [
        ("scale", lambda b: b[:, 2] * b[:, 3] / (height * width)),
        ("log ratio", lambda b: torch.log(b[:, 3] / b[:, 2])),
        ("relative top", lambda b: b[:, 0] / height),
        ("relative left", lambda b: b[:, 1] / width),
    ]:
        assert _ks(stat(ours), stat(theirs)) < critical, name
    scales = ours[:, 2] * ours[:, 3] / (height * width)
    ratios = ours[:, 3] / ours[:, 2]
    # rounding the sides moves scale and ratio a little beyond their ranges on small images
    slack = 2.5 / min(height, width)
    assert scales.min() >= 0.08 - 2 * slack and scales.max() <= 1.0
    assert ratios.min() >= 3 / 4 - 3 * slack and ratios.max() <= 4 / 3 + 3 * slack


@pytest.mark.parametrize("height, width", [(10, 200), (200, 10), (5, 5)])
def test_fallback_is_torchvisions_centre_crop(height: int, width: int) -> None:
    ours = sample_crop_boxes(torch.tensor([[height, width]] * 64), generator=_gen(0))
    theirs = _torchvision_boxes(height, width, 64, seed=0)
    if height == width:  # 5 x 5: most draws fit; the fallback is the whole image
        assert ours[:, 2:].max() <= 5
    else:
        assert torch.equal(ours, theirs) and len(ours.unique(dim=0)) == 1


# --------------------------------------------------------------------------- colour jitter
def _reference_jitter(x: torch.Tensor, factors: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    ops = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    out = []
    for image, f, o in zip(x, factors.tolist(), order.tolist()):
        for op in o:
            image = ops[op](image, f[op])
        out.append(image)
    return torch.stack(out)


def test_color_jitter_matches_torchvision_in_each_images_order() -> None:
    g = _gen(3)
    orders = torch.tensor(list(itertools.permutations(range(4))))  # all 24 orders
    n = len(orders)
    x = torch.rand(n, 3, 12, 10, generator=g)
    factors, _ = sample_jitter(n, p=1.0, generator=g)
    factors[:, 3] = torch.rand(n, generator=g) - 0.5  # hue shifts over the whole [-0.5, 0.5)
    factors[:, :3] = torch.rand(n, 3, generator=g) * 2  # strong factors so that clamps matter
    ours = color_jitter(x, factors, orders)
    assert torch.allclose(ours, _reference_jitter(x, factors, orders), atol=2e-5)
    # the order matters: the reversed orders give other images
    assert not torch.allclose(ours, color_jitter(x, factors, orders.flip(1)), atol=1e-3)


def test_neutral_jitter_leaves_images_unchanged() -> None:
    x = torch.rand(4, 3, 8, 8, generator=_gen(0))
    factors = torch.tensor([[1.0, 1.0, 1.0, 0.0]] * 4)
    order = torch.stack([torch.randperm(4, generator=_gen(i)) for i in range(4)])
    assert torch.equal(color_jitter(x, factors, order), x)


def test_jitter_probability_ranges_and_order_distribution() -> None:
    n = 20000
    factors, order = sample_jitter(n, generator=_gen(5))
    jittered = (factors != torch.tensor([1.0, 1.0, 1.0, 0.0])).any(1)
    sd = math.sqrt(0.8 * 0.2 / n)
    assert abs(jittered.float().mean().item() - 0.8) < 4 * sd
    f = factors[jittered]
    lows, highs = torch.tensor([0.6, 0.6, 0.8, -0.1]), torch.tensor([1.4, 1.4, 1.2, 0.1])
    assert bool((f >= lows).all() and (f <= highs).all())
    # uniform: the mean is the range's centre within 4 standard errors
    centre, spread = (lows + highs) / 2, (highs - lows) / math.sqrt(12)
    assert bool(((f.mean(0) - centre).abs() < 4 * spread / math.sqrt(len(f))).all())
    assert bool((order.sort(1).values == torch.arange(4)).all())  # every row is a permutation
    for position in range(4):
        counts = torch.bincount(order[:, position], minlength=4).float() / n
        assert bool(((counts - 0.25).abs() < 4 * math.sqrt(0.25 * 0.75 / n)).all())


def test_zero_strengths_and_p_zero_give_neutral_factors() -> None:
    factors, _ = sample_jitter(5, brightness=0, contrast=0, saturation=0, hue=0, generator=_gen(0))
    assert torch.equal(factors, torch.tensor([[1.0, 1.0, 1.0, 0.0]] * 5))
    factors, _ = sample_jitter(5, p=0.0, generator=_gen(0))
    assert torch.equal(factors, torch.tensor([[1.0, 1.0, 1.0, 0.0]] * 5))


# --------------------------------------------------------------------------- blur and crop
@pytest.mark.parametrize("kernel_size", [3, 23])
def test_blur_matches_torchvision_per_image(kernel_size: int) -> None:
    g = _gen(4)
    x = torch.rand(5, 3, 30, 26, generator=g)
    sigma = torch.tensor([0.1, 0.5, 1.0, 2.0, 0.0])
    ours = gaussian_blur(x, sigma, kernel_size)
    reference = [TF.gaussian_blur(image, [kernel_size, kernel_size], [s, s]) if s > 0 else image
                 for image, s in zip(x, sigma.tolist())]
    assert torch.allclose(ours, torch.stack(reference), atol=1e-5)
    assert torch.equal(ours[4], x[4])


def test_enlarging_crops_are_torchvisions_bilinear_resize() -> None:
    g = _gen(6)
    x = torch.rand(3, 3, 16, 20, generator=g)
    full = torch.tensor([[0.0, 0.0, 16.0, 20.0]] * 3)
    ours = resized_crop(x, full, 40)
    assert torch.allclose(ours, TF.resize(x, [40, 40], antialias=False), atol=1e-5)
    box = torch.tensor([[3.0, 5.0, 10.0, 8.0]] * 3)
    ours = resized_crop(x, box, 32)
    reference = TF.resized_crop(x, 3, 5, 10, 8, [32, 32], antialias=False)
    # the outermost samples may reach half a pixel beyond the box; inside they coincide
    assert torch.allclose(ours[..., 2:-2, 2:-2], reference[..., 2:-2, 2:-2], atol=1e-5)


def test_shrinking_crops_are_antialiased_like_torchvision() -> None:
    ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(128.0), indexing="ij")
    smooth = torch.stack([torch.sin(ys / 9), torch.cos(xs / 13), torch.sin((xs + ys) / 17)]) * 0.5 + 0.5
    stripes = ((xs // 1) % 2).expand(3, -1, -1)  # 1-pixel stripes alias badly without a filter
    x = torch.stack([smooth, stripes])
    ours = resized_crop(x, torch.tensor([[0.0, 0.0, 96.0, 128.0]] * 2), 24)
    reference = TF.resize(x, [24, 24], antialias=True)
    assert (ours[0] - reference[0]).abs().mean() < 0.01
    # the stripes average to grey (within 0.1; torchvision's triangle filter, 0.02), where plain
    # bilinear sampling aliases them into bands (0.33 from grey)
    assert (ours[1] - 0.5).abs().max() < 0.1
    assert (TF.resize(x[1], [24, 24], antialias=False) - 0.5).abs().max() > 0.3


# --------------------------------------------------------------------------- canvases and modules
def _canvas_batch(n: int = 6, canvas: int = 48, seed: int = 0) -> CanvasBatch:
    g = _gen(seed)
    sizes = [(20 + 3 * i, 40 - 2 * i) for i in range(n)]
    to_canvas = ToCanvas(canvas)
    return collate_canvases([to_canvas(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
                             for h, w in sizes])


def test_canvas_holds_the_image_and_repeats_its_edges() -> None:
    image = torch.randint(0, 256, (3, 5, 7), generator=_gen(0), dtype=torch.uint8)
    item = ToCanvas(9)(image)
    assert item.sizes.tolist() == [5, 7]
    assert torch.equal(item.pixels[:, :5, :7], image)
    assert torch.equal(item.pixels[:, :5, 7:], image[:, :, 6:].expand(3, 5, 2))
    assert torch.equal(item.pixels[:, 5:, :], item.pixels[:, 4:5, :].expand(3, 4, 9))


def test_canvas_shrinks_larger_images_keeping_their_aspect() -> None:
    item = ToCanvas(50)(torch.full((3, 80, 200), 7, dtype=torch.uint8))
    assert item.sizes.tolist() == [20, 50] and bool((item.pixels == 7).all())


def test_canvas_batches_pass_a_dataloader_and_move() -> None:
    items = [ToCanvas(16)(torch.zeros(3, 4 + i, 9, dtype=torch.uint8)) for i in range(4)]
    batch = next(iter(DataLoader(items, batch_size=4)))
    assert isinstance(batch, CanvasBatch) and batch.pixels.shape == (4, 3, 16, 16)
    moved = batch.to("cpu", non_blocking=True)
    assert isinstance(moved, CanvasBatch) and moved.sizes[:, 0].tolist() == [4, 5, 6, 7]


def test_views_are_seeded_and_leave_input_and_global_rng_alone() -> None:
    batch = _canvas_batch()
    before = batch.pixels.clone()
    state = torch.get_rng_state()
    a = gpu_pretrain_views(24, cell=8, highpass_sigma=1.0, generator=_gen(7))(batch)
    b = gpu_pretrain_views(24, cell=8, highpass_sigma=1.0, generator=_gen(7))(batch)
    c = gpu_pretrain_views(24, cell=8, highpass_sigma=1.0, generator=_gen(8))(batch)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(batch.pixels, before)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.allclose(a[0], c[0])
    assert all(v.dtype == torch.float32 and v.shape == (6, 3, 24, 24) for v in a)


def test_an_empty_batch_gives_empty_views() -> None:
    empty = CanvasBatch(torch.zeros(0, 3, 16, 16, dtype=torch.uint8), torch.zeros(0, 2, dtype=torch.int64))
    views = gpu_pretrain_views(8, cell=4, highpass_sigma=1.0, generator=_gen(0))(empty)
    assert [tuple(v.shape) for v in views] == [(0, 3, 8, 8)] * 4


def test_views_of_one_image_differ() -> None:
    views = SimCLRBatchAugment(16, views=4, generator=_gen(0))(_canvas_batch(n=2))
    assert views.shape == (4, 2, 3, 16, 16)
    for i, j in itertools.combinations(range(4), 2):
        assert not torch.allclose(views[i], views[j])


def test_half_precision_views_follow_the_single_precision_ones() -> None:
    batch = _canvas_batch()
    single = SimCLRBatchAugment(24, views=2, generator=_gen(3))(batch)
    half = SimCLRBatchAugment(24, views=2, dtype=torch.float16, generator=_gen(3))(batch)
    assert half.dtype == torch.float16
    # the same draws; rounding to 11 bits, amplified by at most 1 / 0.225 in the normalization
    assert (half.float() - single).abs().mean() < 5e-3


def test_half_precision_crops_sample_where_single_precision_ones_do() -> None:
    # columns 0/1 in turn, a crop at x = 440 enlarged 4x: float16 coordinates there step by 0.25 px
    stripes = (torch.arange(512) % 2).float().expand(1, 3, 8, 512).contiguous()
    boxes = torch.tensor([[0.0, 440.0, 8.0, 4.0]])
    single = resized_crop(stripes, boxes, 16)
    assert (resized_crop(stripes.half(), boxes, 16).float() - single).abs().max() < 1e-3
    views = [SimCLRBatchAugment(24, views=2, dtype=dtype, generator=_gen(3))(stripes.expand(4, 3, 8, 512))
             for dtype in (torch.float32, torch.float16)]
    assert (views[1].float() - views[0]).abs().max() < 0.05  # float16 rounding of normalized values only


def test_the_module_keeps_nn_module_compile() -> None:
    import pickle

    augment = SimCLRBatchAugment(16, compile=False)
    assert callable(augment.compile) and "compile=False" in repr(augment)
    state = augment.__getstate__()
    state["compile"] = state.pop("compile_pixels")  # as earlier versions saved it
    old = SimCLRBatchAugment.__new__(SimCLRBatchAugment)
    old.__setstate__(state)
    assert callable(pickle.loads(pickle.dumps(old)).compile) and "compile=False" in repr(old)


def test_plain_tensor_batches_are_accepted() -> None:
    augment = SimCLRBatchAugment(16, views=2, generator=_gen(0))
    uint8 = torch.randint(0, 256, (3, 3, 20, 20), generator=_gen(1), dtype=torch.uint8)
    from_uint8 = augment(uint8)
    augment.generator.manual_seed(0)
    from_float = augment(uint8.float() / 255)
    assert torch.allclose(from_uint8, from_float, atol=1e-5)


def test_modules_pickle_and_print() -> None:
    import pickle

    views = gpu_pretrain_views(24, cell=8, highpass_sigma=1.0, generator=_gen(0))
    copy = pickle.loads(pickle.dumps(views))
    batch = _canvas_batch()
    assert all(torch.equal(u, v) for u, v in zip(views(batch), copy(batch)))
    assert "blur_kernel=3" in repr(views) and "n_views=4" in repr(views)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: SimCLRBatchAugment(0), ValueError, "size"),
        (lambda: SimCLRBatchAugment(16, views=0), ValueError, "views"),
        (lambda: SimCLRBatchAugment(16, blur_prob=1.5), ValueError, "blur_prob"),
        (lambda: SimCLRBatchAugment(16, scale=(0.5, 0.1)), ValueError, "scale"),
        (lambda: SimCLRBatchAugment(16, scale=(0.1, 2.0)), ValueError, "scale"),
        (lambda: SimCLRBatchAugment(16, ratio=(0.0, 1.0)), ValueError, "ratio"),
        (lambda: SimCLRBatchAugment(16, ratio="wide"), TypeError, "ratio"),
        (lambda: SimCLRBatchAugment(16, jitter_strength=-1), ValueError, "jitter_strength"),
        (lambda: SimCLRBatchAugment(16, generator=0), TypeError, "generator"),
        (lambda: SimCLRBatchAugment(16, compile="yes"), TypeError, "compile"),
        (lambda: SimCLRBatchAugment(16, dtype=torch.bfloat16), TypeError, "dtype"),
        (lambda: SimCLRBatchAugment(1), ValueError, "size must be >= 2 \\(the blur.s 3 taps need 2 pixels\\), got 1"),
        (lambda: SimCLRBatchAugment(8)(torch.full((1, 3, 8, 8), 255.0)), ValueError, r"\[0, 1\]"),
        (lambda: SimCLRBatchAugment(8)(torch.full((1, 3, 8, 8), float("nan"))), ValueError, r"\[0, 1\].*nan"),
        (lambda: SimCLRBatchAugment(16, views=2.0), TypeError, "views must be an int, got 2.0"),
        (lambda: sample_crop_boxes(torch.tensor([[4, 4]]), scale=(0.0, 1.0)), ValueError, r"0 < low <= high"),
        (lambda: SimCLRBatchAugment(8)(CanvasBatch(torch.zeros(1, 3, 16, 16, dtype=torch.uint8), torch.tensor([[64, 8]]))),
         ValueError, r"sizes must lie in \[1, 16\]"),
        (lambda: SimCLRBatchAugment(8)(CanvasBatch(torch.zeros(1, 3, 16, 32, dtype=torch.uint8), torch.tensor([[30, 8]]))),
         ValueError, r"pixels \(N, 3, S, S\).*\(1, 3, 16, 32\)"),
        (lambda: gpu_pretrain_views(16, ratios=()), ValueError, "ratios"),
        (lambda: ToCanvas(0), ValueError, "canvas"),
        (lambda: ToCanvas(16)(torch.zeros(1, 4, 4, dtype=torch.uint8)), ValueError, r"\(3, H, W\) uint8"),
        (lambda: sample_crop_boxes(torch.tensor([4, 4])), ValueError, "sizes"),
        (lambda: sample_crop_boxes(torch.tensor([[4, 4]]), attempts=0), ValueError, "attempts"),
        (lambda: sample_jitter(3, hue=0.7), ValueError, "hue"),
        (lambda: sample_jitter(3, p=-0.1), ValueError, "p must"),
        (lambda: SimCLRBatchAugment(16)(torch.zeros(2, 1, 8, 8)), ValueError, r"\(N, 3, H, W\)"),
        (lambda: SimCLRBatchAugment(16)([1, 2]), TypeError, "CanvasBatch"),
        (lambda: gpu_pretrain_views(16, mask=False, cell=8, noise_std=0.1), TypeError, "need mask=True"),
        (lambda: gaussian_blur(torch.zeros(2, 3, 8, 8), torch.zeros(3), 3), ValueError, "sigma"),
        (lambda: gaussian_blur(torch.zeros(1, 3, 8, 8), torch.ones(1), 4), ValueError, "kernel_size"),
    ],
)
def test_bad_arguments_are_named(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()
