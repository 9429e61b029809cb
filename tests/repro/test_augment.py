import pytest
import torch

from benchmarks.repro.augment import GrayAugment


def batch(n: int = 6) -> torch.Tensor:
    return torch.randn(n, 1, 32, 32, generator=torch.Generator().manual_seed(0))


def test_identity_settings_return_the_input() -> None:
    x = batch()
    out = GrayAugment(crop_scale=None, flip=0.0, jitter=0.0)(x)
    assert torch.allclose(out, x, atol=1e-5)
    full_crop = GrayAugment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip=0.0, jitter=0.0)
    assert torch.allclose(full_crop(x), x, atol=1e-5)


def test_flip_mirrors_every_sample() -> None:
    x = batch()
    assert torch.allclose(GrayAugment(crop_scale=None, flip=1.0, jitter=0.0)(x), x.flip(-1), atol=1e-5)


def test_jitter_is_a_per_sample_affine_change_within_range() -> None:
    x = batch(64)
    jitter = 0.4
    out = GrayAugment(crop_scale=None, flip=0.0, jitter=jitter, jitter_prob=1.0,
                      generator=torch.Generator().manual_seed(1))(x)
    contrast = out.std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3))
    shift = out.mean(dim=(1, 2, 3)) - x.mean(dim=(1, 2, 3))
    assert (contrast >= 1 - jitter - 1e-4).all() and (contrast <= 1 + jitter + 1e-4).all()
    assert (shift.abs() <= jitter + 1e-4).all()
    assert contrast.std() > 0.05 and shift.std() > 0.05  # per sample, not one draw for the batch
    untouched = GrayAugment(crop_scale=None, flip=0.0, jitter=jitter, jitter_prob=0.0)(x)
    assert torch.allclose(untouched, x, atol=1e-5)


def test_crops_zoom_in_per_sample() -> None:
    # a horizontal ramp: a crop of width fraction w, stretched to the full side, has w times its slope
    ramp = torch.linspace(-1, 1, 32).expand(8, 1, 32, 32).contiguous()
    out = GrayAugment(crop_scale=(0.2, 0.5), flip=0.0, jitter=0.0, generator=torch.Generator().manual_seed(2))(ramp)
    slope = (out[..., 20] - out[..., 11]).mean(dim=(1, 2)) / (ramp[..., 20] - ramp[..., 11]).mean(dim=(1, 2))
    widths = (0.2 * 3 / 4) ** 0.5, (0.5 * 4 / 3) ** 0.5
    assert (slope > widths[0] - 1e-3).all() and (slope < widths[1] + 1e-3).all() and slope.std() > 0.05


def test_generator_makes_views_reproducible_and_spares_the_global_rng() -> None:
    x = batch()
    state = torch.random.get_rng_state()
    a = GrayAugment(generator=torch.Generator().manual_seed(5))(x)
    b = GrayAugment(generator=torch.Generator().manual_seed(5))(x)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, b) and a.dtype == x.dtype
    assert not torch.equal(a, GrayAugment(generator=torch.Generator().manual_seed(6))(x))


@pytest.mark.parametrize(
    "kwargs", [dict(crop_scale=(0.0, 1.0)), dict(crop_scale=(0.5, 0.2)), dict(crop_ratio=(2.0, 1.0)),
               dict(flip=1.5), dict(jitter_prob=-0.1), dict(jitter=-1.0)]
)
def test_bad_arguments_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        GrayAugment(**kwargs)


def test_wrong_rank_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*\(1, 32, 32\)"):
        GrayAugment()(torch.zeros(1, 32, 32))
