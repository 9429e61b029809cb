"""The CPU cell-and-box fill: the same elements as the rendered mask, each filled once, the rest untouched."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from maskaug import MSCNMask, _cellfill
from maskaug.masks import _render

LAYOUTS = {
    # layout, mask_axes, shape, cell
    "image batch": ("b c h w", None, (3, 3, 16, 24), 4),
    "one image": ("c h w", None, (3, 16, 16), 8),
    "no channel": ("b h w", None, (2, 12, 16), (4, 8)),
    "video frames": ("b c t h w", "h w", (2, 2, 3, 8, 8), 4),
    "tubes": ("b c t h w", None, (2, 2, 4, 8, 8), (None, 4, 4)),
    "spectrogram": ("b c f t", None, (2, 1, 16, 20), (4, 5)),
}


def policy(layout: str, mask_axes: str | None, cell, seed: int, **kwargs) -> MSCNMask:
    return MSCNMask(layout=layout, mask_axes=mask_axes, cell=cell, highpass_sigma=None,
                    generator=torch.Generator().manual_seed(seed), **kwargs)


@pytest.mark.parametrize("name", LAYOUTS)
@given(
    seed=st.integers(0, 2**32 - 1),
    focal_prob=st.sampled_from([0.0, 0.5, 1.0]),
    independent=st.sampled_from([0.0, 0.5, 1.0]),
    invert=st.booleans(),
    p=st.sampled_from([0.5, 1.0]),
)
def test_constant_fill_writes_exactly_the_rendered_mask(name, seed, focal_prob, independent, invert, p):
    layout, mask_axes, shape, cell = LAYOUTS[name]
    mask_module = policy(layout, mask_axes, cell, seed, focal_prob=focal_prob, focal_invert=invert,
                         channel_independent_prob=independent, p=p, fill="constant", value=7.0)
    drawn = mask_module._draw(shape, torch.device("cpu"))
    x = torch.rand(shape)  # values in [0, 1): 7.0 only where filled
    assert _cellfill.usable(x, drawn)
    out = _cellfill.fill_(x.clone(), drawn, fill="constant", noise_std=1.0, value=7.0, generator=None)
    mask = _render(drawn).expand(shape)
    assert torch.equal(out == 7.0, mask)
    assert torch.equal(out[~mask], x[~mask])


@pytest.mark.parametrize("name", LAYOUTS)
@given(seed=st.integers(0, 2**32 - 1), invert=st.booleans())
def test_noise_fill_changes_exactly_the_rendered_mask(name, seed, invert):
    layout, mask_axes, shape, cell = LAYOUTS[name]
    mask_module = policy(layout, mask_axes, cell, seed, focal_prob=0.5, focal_invert=invert, noise_std=0.5)
    drawn = mask_module._draw(shape, torch.device("cpu"))
    x = torch.full(shape, 100.0)  # far outside the noise: every filled element differs
    out = _cellfill.fill_(x.clone(), drawn, fill="noise", noise_std=0.5, value=0.0,
                          generator=torch.Generator().manual_seed(seed))
    mask = _render(drawn).expand(shape)
    assert torch.equal(out != 100.0, mask)


def test_noise_is_fresh_per_element_with_the_requested_spread():
    shape = (64, 3, 32, 32)
    drawn = policy("b c h w", None, 8, 0, focal_prob=0.5)._draw(shape, torch.device("cpu"))
    out = _cellfill.fill_(torch.zeros(shape), drawn, fill="noise", noise_std=0.3, value=0.0,
                          generator=torch.Generator().manual_seed(1))
    noise = out[_render(drawn).expand(shape)]
    assert noise.numel() > 10_000
    assert abs(float(noise.mean())) < 0.01 and abs(float(noise.std()) - 0.3) < 0.01
    assert noise.unique().numel() > 0.999 * noise.numel()  # float32 normals collide only by chance


def test_the_same_generator_gives_the_same_fill():
    shape = (4, 3, 16, 16)
    drawn = policy("b c h w", None, 4, 0, focal_prob=0.5)._draw(shape, torch.device("cpu"))
    a, b = (_cellfill.fill_(torch.zeros(shape), drawn, fill="noise", noise_std=1.0, value=0.0,
                            generator=torch.Generator().manual_seed(5)) for _ in range(2))
    assert torch.equal(a, b)


def test_partial_cells_and_other_devices_take_the_element_mask():
    drawn = policy("b c h w", None, 5, 0)._draw((2, 3, 16, 16), torch.device("cpu"))
    assert not _cellfill.usable(torch.zeros(2, 3, 16, 16), drawn)
    meta = torch.empty(2, 3, 20, 20, device="meta")
    assert not _cellfill.usable(meta, policy("b c h w", None, 5, 0)._draw(meta.shape, torch.device("cpu")))


@pytest.mark.parametrize("cell", [4, 5])
def test_policy_output_matches_the_element_mask_fill(cell):
    """The policy with cells that divide the image (cell fill) and that don't (element mask) agree."""
    x = torch.randn(4, 3, 20, 20)
    y, mask = policy("b c h w", None, cell, 0, focal_prob=0.5, fill="constant", value=7.0, return_mask=True)(x)
    full = mask.expand_as(x)
    assert torch.equal(y == 7.0, full) and torch.equal(y[~full], x[~full])


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("sigma", [None, 2.0])
def test_inputs_that_need_a_gradient_get_one_through_unmasked_elements(invert, sigma):
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    module = MSCNMask(layout="b c h w", cell=4, focal_prob=1.0, focal_invert=invert, highpass_sigma=sigma,
                      return_mask=True, generator=torch.Generator().manual_seed(0))
    y, mask = module(x)
    y.sum().backward()
    if sigma is None:
        assert torch.equal(x.grad, (~mask.expand_as(x)).float())
    else:
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
