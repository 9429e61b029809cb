"""Samplers and the applier against slow, loop-based references."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from maskaug import apply_mask, sample_focal_mask, sample_grid_mask

seeds = st.integers(0, 2**63 - 1)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def cells_of(mask2d: torch.Tensor, cell: tuple[int, int]):
    """Yield each cell's block of a 2-D mask (border cells may be partial)."""
    h, w = mask2d.shape
    for top in range(0, h, cell[0]):
        for left in range(0, w, cell[1]):
            yield mask2d[top : top + cell[0], left : left + cell[1]]


def check_grid_unit(mask2d: torch.Tensor, cell: tuple[int, int], ratio: float) -> None:
    """Reference check of one unit: every cell all-or-nothing, exactly round(ratio*n) masked."""
    blocks = list(cells_of(mask2d, cell))
    masked = 0
    for block in blocks:
        assert block.all() or not block.any(), "a cell is partly masked"
        masked += int(block.all())
    assert masked == round(ratio * len(blocks))


@given(
    seed=seeds,
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    cell=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    ratio=st.floats(0.0, 1.0),
    independent=st.booleans(),
)
def test_grid_exact_counts_and_cell_alignment(seed, h, w, cell, ratio, independent):
    mask = sample_grid_mask(
        (3, 2, h, w), cell=cell, ratio=ratio, channel_dim=1, channel_independent=independent, generator=gen(seed)
    )
    assert mask.dtype == torch.bool
    assert mask.shape == (3, 2 if independent else 1, h, w)
    for b, c in itertools.product(range(3), range(mask.shape[1])):
        check_grid_unit(mask[b, c], cell, ratio)


@given(seed=seeds, low=st.floats(0.0, 0.5), width=st.floats(0.0, 0.5))
def test_grid_ratio_range_is_drawn_per_sample_and_shared_by_channels(seed, low, width):
    high = low + width
    mask = sample_grid_mask(
        (16, 3, 20, 20), cell=4, ratio=(low, high), channel_dim=1, channel_independent=True, generator=gen(seed)
    )
    counts = mask.reshape(16, 3, 5, 4, 5, 4)[:, :, :, 0, :, 0].sum(dim=(2, 3))
    assert (counts == counts[:, :1]).all(), "channels of one sample must share the drawn ratio"
    assert (counts >= round(low * 25) - 1).all() and (counts <= round(high * 25) + 1).all()


def test_grid_cells_are_uniform():
    """Each cell is masked with frequency k / n over many samples."""
    mask = sample_grid_mask((4000, 16, 16), cell=4, ratio=0.25, generator=gen(0))
    freq = mask.reshape(4000, 4, 4, 4, 4)[:, :, 0, :, 0].float().mean(0)
    assert torch.allclose(freq, torch.full_like(freq, 0.25), atol=0.03)


def test_grid_on_arbitrary_axes_and_tubes():
    # layout "t c h b": mask h and b axes? any positions: masked axes 0 and 2, channel 1, sample 3
    mask = sample_grid_mask((8, 2, 12, 5), cell=(4, 3), ratio=0.5, dims=(0, 2), channel_dim=1, generator=gen(1))
    assert mask.shape == (8, 1, 12, 5)
    for s in range(5):
        check_grid_unit(mask[:, 0, :, s], (4, 3), 0.5)
    tube = sample_grid_mask((2, 3, 6, 16, 16), cell=(None, 4, 4), ratio=0.3, dims=(2, 3, 4), channel_dim=1, generator=gen(2))
    assert (tube == tube[:, :, :1]).all(), "cell None must span the whole axis"
    for b in range(2):
        check_grid_unit(tube[b, 0, 0], (4, 4), 0.3)


def test_grid_one_dimensional_and_unbatched():
    m = sample_grid_mask((100,), cell=10, ratio=0.3, dims=0, generator=gen(3))
    assert m.shape == (100,) and int(m.sum()) == 30
    m = sample_grid_mask((3, 64, 64), cell=32, ratio=0.5, channel_dim=0, generator=gen(3))
    assert m.shape == (1, 64, 64) and int(m.sum()) == 2 * 32 * 32


def test_samples_differ_and_seed_reproduces():
    a = sample_grid_mask((8, 1, 64, 64), cell=8, ratio=0.3, channel_dim=1, generator=gen(5))
    b = sample_grid_mask((8, 1, 64, 64), cell=8, ratio=0.3, channel_dim=1, generator=gen(5))
    assert torch.equal(a, b)
    assert all(not torch.equal(a[0], a[i]) for i in range(1, 8))


def test_generator_leaves_global_rng_untouched():
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.manual_seed(123)
    sample_grid_mask((4, 3, 32, 32), cell=8, ratio=(0.1, 0.5), generator=gen(0))
    sample_focal_mask((4, 3, 32, 32), scale=(0.2, 0.5), generator=gen(0))
    apply_mask(torch.zeros(4, 3, 32, 32), torch.ones(1, dtype=torch.bool), generator=gen(0))
    assert torch.equal(torch.rand(5), expected)


def test_apply_mask_advances_the_generator_by_the_noise_seed_alone():
    # two uniforms a call on every path (the fused kernel draws its noise from them), whatever the mask
    x, mask = torch.zeros(2, 3, 8, 8), torch.rand(2, 1, 8, 8, generator=gen(1)) < 0.5
    generator, expected = gen(0), gen(0)
    first = apply_mask(x, mask, generator=generator)
    second = apply_mask(x, mask, generator=generator)
    torch.rand(4, generator=expected)
    assert torch.equal(generator.get_state(), expected.get_state())
    assert not torch.equal(first[mask.expand_as(x)], second[mask.expand_as(x)]), "each call draws fresh noise"


def test_empty_batch_and_empty_axis():
    assert sample_grid_mask((0, 3, 32, 32), cell=8, ratio=0.5, channel_dim=1).shape == (0, 1, 32, 32)
    assert sample_focal_mask((0, 3, 32, 32), scale=0.5, channel_dim=1).shape == (0, 1, 32, 32)
    assert sample_grid_mask((2, 0, 5), cell=2, ratio=0.5).shape == (2, 0, 5)


def focal_box(mask2d: torch.Tensor) -> tuple[int, int, int, int]:
    """Bounding box (top, left, height, width) of the True region, checked to be a full box."""
    rows = mask2d.any(dim=1).nonzero().flatten()
    cols = mask2d.any(dim=0).nonzero().flatten()
    top, left = int(rows[0]), int(cols[0])
    height, width = int(rows[-1]) - top + 1, int(cols[-1]) - left + 1
    assert mask2d[top : top + height, left : left + width].all()
    assert int(mask2d.sum()) == height * width
    return top, left, height, width


@given(seed=seeds, h=st.integers(1, 48), w=st.integers(1, 48), scale=st.floats(0.05, 1.0), invert=st.booleans())
def test_focal_box_geometry_and_polarity(seed, h, w, scale, invert):
    mask = sample_focal_mask((4, h, w), scale=scale, invert=invert, generator=gen(seed))
    assert mask.shape == (4, h, w)
    for b in range(4):
        box = ~mask[b] if invert else mask[b]
        if invert and not box.any():
            continue
        _, _, height, width = focal_box(box)
        assert height == max(1, round(scale * h))
        assert width == max(1, round(scale * w))


def test_focal_positions_cover_every_placement():
    mask = sample_focal_mask((3000, 10), scale=0.3, dims=-1, generator=gen(7))
    starts = mask.float().argmax(dim=1)
    counts = torch.bincount(starts, minlength=8)
    assert counts.shape == (8,) and (counts > 3000 / 8 * 0.7).all(), counts


def test_focal_channel_independent_boxes_share_the_scale():
    mask = sample_focal_mask(
        (64, 3, 30, 30), scale=(0.2, 0.8), channel_dim=1, channel_independent=True, generator=gen(8)
    )
    sizes = mask.sum(dim=(2, 3))
    assert (sizes == sizes[:, :1]).all()
    moved = (mask != mask[:, :1]).flatten(1).any(dim=1)
    assert moved.float().mean() > 0.5


def test_noise_fill_statistics():
    x = torch.zeros(64, 3, 32, 32)
    mask = torch.ones(1, 1, 32, 32, dtype=torch.bool)
    y = apply_mask(x, mask, fill="noise", noise_std=0.5, generator=gen(0))
    assert abs(float(y.mean())) < 0.01
    assert abs(float(y.std()) - 0.5) < 0.01
    a, b = y[0].flatten(), y[1].flatten()
    corr = torch.corrcoef(torch.stack([a, b]))[0, 1]
    assert abs(float(corr)) < 0.05, "noise must differ between samples"
    left, right = y[:, :, :, :16].flatten(), y[:, :, :, 16:].flatten()
    assert abs(float(torch.corrcoef(torch.stack([left, right]))[0, 1])) < 0.02, "noise must differ between cells"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("fill", ["noise", "constant"])
def test_apply_keeps_unmasked_bits_dtype_and_input(dtype, fill):
    x = torch.randn(4, 3, 16, 16).to(dtype)
    before = x.clone()
    mask = sample_grid_mask(x.shape, cell=4, ratio=0.5, channel_dim=1, generator=gen(0))
    y = apply_mask(x, mask, fill=fill, value=-1.0, generator=gen(1))
    assert y.dtype == dtype and y.shape == x.shape
    assert torch.equal(x, before)
    full = mask.expand_as(x)
    assert torch.equal(y[~full], x[~full])
    if fill == "constant":
        assert (y[full] == -1).all()


def test_apply_batched_equals_unbatched_with_same_mask():
    x = torch.randn(5, 3, 16, 16)
    mask = sample_grid_mask(x.shape, cell=4, ratio=0.4, channel_dim=1, generator=gen(2))
    y = apply_mask(x, mask, fill="constant", value=0.0)
    for i in range(5):
        assert torch.equal(y[i], apply_mask(x[i], mask[i], fill="constant", value=0.0))


def test_apply_constant_on_integers():
    x = torch.arange(16, dtype=torch.uint8).reshape(4, 4)
    mask = torch.eye(4, dtype=torch.bool)
    y = apply_mask(x, mask, fill="constant", value=255)
    assert y.dtype == torch.uint8 and (y.diagonal() == 255).all()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: sample_grid_mask((2, 8, 8), cell=4, ratio=1.5), ValueError, "ratio"),
        (lambda: sample_grid_mask((2, 8, 8), cell=4, ratio=(0.5, 0.1)), ValueError, "ratio"),
        (lambda: sample_grid_mask((2, 8, 8), cell=4, ratio="a"), TypeError, "ratio"),
        (lambda: sample_grid_mask((2, 8, 8), cell=0, ratio=0.1), ValueError, "cell"),
        (lambda: sample_grid_mask((2, 8, 8), cell=(4, 4, 4), ratio=0.1), ValueError, "cell"),
        (lambda: sample_grid_mask((2, 8, 8), cell=4.0, ratio=0.1), TypeError, "cell"),
        (lambda: sample_grid_mask((2, 8, 8), cell=4, ratio=0.1, dims=(1, 1)), ValueError, "repeats"),
        (lambda: sample_grid_mask((2, 8, 8), cell=4, ratio=0.1, dims=(3,)), ValueError, "out of range"),
        (lambda: sample_grid_mask((2, 8, 8), cell=4, ratio=0.1, channel_dim=1), ValueError, "channel_dim"),
        (lambda: sample_grid_mask((2, 8, 8), cell=4, ratio=0.1, channel_independent=True), ValueError, "channel_dim"),
        (lambda: sample_grid_mask((2.7, 8, 8), cell=4, ratio=0.1), TypeError, "shape"),
        (lambda: sample_grid_mask("288", cell=4, ratio=0.1), TypeError, "shape"),
        (lambda: sample_grid_mask((2, 3, 8, 8), cell=4, ratio=0.1, channel_dim=(0, 1)), TypeError, "channel_dim"),
        (lambda: sample_grid_mask((2, 3, 8, 8), cell=4, ratio=0.1, channel_dim=1, channel_independent="no"),
         TypeError, "channel_independent"),
        (lambda: sample_grid_mask((2, 8, 8), cell=4, ratio=0.1, generator=42), TypeError, "generator"),
        (lambda: sample_focal_mask((2, 8, 8), scale=0.5, generator=42), TypeError, "generator"),
        (lambda: sample_focal_mask((2, 8, 8), scale=0.5, invert=1), TypeError, "invert"),
        (lambda: apply_mask(torch.zeros(2, 8), torch.ones(1, dtype=torch.bool), generator=42), TypeError, "generator"),
        (lambda: sample_focal_mask((2, 8, 8), scale=0.0), ValueError, "scale"),
        (lambda: sample_focal_mask((2, 8, 8), scale=1.2), ValueError, "scale"),
        (lambda: apply_mask(torch.zeros(2, 8, 8), torch.zeros(3, 8, 8, dtype=torch.bool)), ValueError, "broadcast"),
        (lambda: apply_mask(torch.zeros(2, 8, 8), torch.zeros(2, 8, 8)), TypeError, "bool"),
        (lambda: apply_mask(torch.zeros(2, 8, 8, dtype=torch.int64), torch.zeros(1, dtype=torch.bool)), TypeError, "floating"),
        (lambda: apply_mask(torch.zeros(2, 8), torch.zeros(1, dtype=torch.bool), fill="zero"), ValueError, "fill"),
        (lambda: apply_mask(torch.zeros(2, 8), torch.zeros(1, dtype=torch.bool), noise_std=-1.0), ValueError, "noise_std"),
        (lambda: apply_mask(torch.zeros(2, dtype=torch.int32), torch.ones(1, dtype=torch.bool), fill="constant", value=0.5), ValueError, "value"),
        (lambda: apply_mask(torch.zeros(2, dtype=torch.uint8), torch.ones(1, dtype=torch.bool), fill="constant", value=-1), ValueError, "outside the range"),
        (lambda: apply_mask(torch.zeros(2, dtype=torch.uint8), torch.ones(1, dtype=torch.bool), fill="constant", value=300), ValueError, "outside the range"),
        (lambda: apply_mask(torch.zeros(2, dtype=torch.bool), torch.ones(1, dtype=torch.bool), fill="constant", value=5), ValueError, "outside the range"),
        (lambda: apply_mask(torch.zeros(2, dtype=torch.int64), torch.ones(1, dtype=torch.bool), fill="constant", value=float("nan")), ValueError, "value=nan"),
        (lambda: apply_mask(torch.zeros(2, dtype=torch.float16), torch.ones(1, dtype=torch.bool), fill="constant", value=1e6), ValueError, "overflows"),
    ],
)
def test_bad_input_names_the_parameter(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_shapes_take_ints_of_any_kind():
    import numpy as np

    shape = (np.int64(2), 8, torch.tensor(8).item())
    assert sample_grid_mask(shape, cell=4, ratio=0.5).shape == (2, 8, 8)
    assert sample_grid_mask(np.array([2, 8, 8]), cell=4, ratio=0.5, channel_dim=0,
                            channel_independent=np.True_).shape == (2, 8, 8)


def test_mask_count_matches_reference_rounding():
    for n_cells, ratio in [(49, 0.15), (49, 0.5), (10, 0.25), (4, 0.625)]:
        side = int(math.isqrt(n_cells))
        if side * side != n_cells:
            mask = sample_grid_mask((1, n_cells), cell=1, ratio=ratio, dims=-1)
        else:
            mask = sample_grid_mask((1, side, side), cell=1, ratio=ratio)
        assert int(mask.sum()) == round(ratio * n_cells)
