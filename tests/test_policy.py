"""MSCNMask: the whole policy, its randomness, its layouts and its errors."""

from __future__ import annotations

import copy
import pickle
import warnings

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset

from maskaug import MSCNMask, apply_mask, highpass, sample_grid_mask
from maskaug.policy import MAX_PLANS


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def small(**kwargs) -> MSCNMask:
    options = dict(layout="b c h w", cell=4, highpass_sigma=1.0)
    options.update(kwargs)
    return MSCNMask(**options)


def test_same_seed_same_output_and_different_samples():
    x = torch.randn(6, 3, 32, 32)
    a = small(generator=gen(0))(x)
    b = small(generator=gen(0))(x)
    c = small(generator=gen(1))(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    _, mask = small(generator=gen(0), return_mask=True, fill="constant")(x)
    assert all(not torch.equal(mask[0], mask[i]) for i in range(1, 6))


def test_generator_leaves_global_rng_untouched():
    x = torch.randn(4, 3, 16, 16)
    torch.manual_seed(0)
    expected = torch.rand(4)
    torch.manual_seed(0)
    small(generator=gen(3), p=0.5, channel_independent_prob=0.5)(x)
    assert torch.equal(torch.rand(4), expected)


@pytest.mark.parametrize("shape", [(4, 3, 16, 16), (4, 3, 18, 17)])  # filled cell by cell, element by element
def test_the_noise_advances_the_generator_no_further_than_the_masks(shape):
    # a call advances the module's generator by its uniforms alone, as on the fused path, whose
    # noise they seed: with noise or a constant, the next call's masks are the same
    x = torch.randn(shape)
    noisy = small(generator=gen(0), return_mask=True)
    constant = small(generator=gen(0), return_mask=True, fill="constant")
    calls = [(noisy(x), constant(x)) for _ in range(3)]
    for (_, noisy_mask), (_, constant_mask) in calls:
        assert torch.equal(noisy_mask, constant_mask)
    assert torch.equal(noisy.generator.get_state(), constant.generator.get_state())
    (first, first_mask), _ = calls[0]
    (second, second_mask), _ = calls[1]
    both = (first_mask & second_mask).expand(shape)
    assert both.any() and not torch.equal(first[both], second[both]), "each call draws fresh noise"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_dtype_shape_and_input_preserved(dtype):
    x = torch.randn(3, 3, 16, 16).to(dtype)
    before = x.clone()
    y, mask = small(return_mask=True, generator=gen(0))(x)
    assert y.dtype == dtype and y.shape == x.shape and mask.dtype == torch.bool
    assert torch.equal(x, before)


def test_unmasked_elements_are_the_highpassed_input():
    x = torch.randn(4, 3, 16, 16)
    y, mask = small(return_mask=True, generator=gen(0))(x)
    hp = highpass(x, 1.0)
    keep = ~mask.expand_as(x)
    assert torch.equal(y[keep], hp[keep])


def test_batch_of_size_zero():
    y, mask = small(return_mask=True)(torch.randn(0, 3, 16, 16))
    assert y.shape == (0, 3, 16, 16) and mask.shape[0] == 0


def test_sample_of_batch_equals_unbatched_call_with_the_same_mask():
    x = torch.randn(4, 3, 16, 16)
    batched = small(fill="constant", return_mask=True, generator=gen(0))
    y, mask = batched(x)
    for i in range(4):
        single = highpass(x[i], 1.0)
        assert torch.equal(y[i], apply_mask(single, mask[i], fill="constant", value=0.0))


def test_policy_choices_are_per_sample():
    x = torch.zeros(400, 3, 16, 16)
    _, mask = small(fill="constant", return_mask=True, focal_prob=0.5, channel_independent_prob=0.5, p=0.8,
                    highpass_sigma=None, generator=gen(0))(x)
    masked_any = mask.flatten(1).any(dim=1)
    assert 0.7 < masked_any.float().mean() < 0.9
    independent = (mask != mask[:, :1]).flatten(1).any(dim=1)
    assert 0.3 < independent.float().mean() < 0.7
    grid_like = torch.stack([_is_grid(m[0], 4, 0.15) for m in mask])
    assert 0.3 < (grid_like & masked_any).float().mean() / masked_any.float().mean() < 0.7


def _is_grid(mask2d: torch.Tensor, cell: int, ratio: float) -> torch.Tensor:
    cells = mask2d.reshape(16 // cell, cell, 16 // cell, cell)
    uniform = (cells.all(dim=(1, 3)) | ~cells.any(dim=(1, 3))).all()
    return uniform & (cells[:, 0, :, 0].sum() == round(ratio * (16 // cell) ** 2))


def test_grid_only_policy_has_exact_counts_per_channel():
    _, mask = small(return_mask=True, focal_prob=0.0, channel_independent_prob=1.0, ratio=0.25, generator=gen(0))(
        torch.randn(8, 3, 16, 16)
    )
    assert mask.shape == (8, 3, 16, 16)
    per_channel = mask.reshape(8, 3, 4, 4, 4, 4)[:, :, :, 0, :, 0].sum(dim=(2, 3))
    assert (per_channel == 4).all()
    assert (mask != mask[:, :1]).any()


def test_shared_channels_without_independence():
    _, mask = small(return_mask=True, channel_independent_prob=0.0)(torch.randn(4, 3, 16, 16))
    assert mask.shape == (4, 1, 16, 16)


@pytest.mark.parametrize("fill", ["noise", "constant"])
def test_p_zero_leaves_highpassed_input(fill):
    x = torch.randn(4, 3, 16, 16)
    assert torch.equal(small(p=0.0, fill=fill)(x), highpass(x, 1.0))


def test_video_per_frame_and_tube_masks():
    x = torch.randn(2, 3, 6, 16, 16)
    per_frame = MSCNMask(layout="b c t h w", mask_axes="h w", cell=4, focal_prob=0.0, channel_independent_prob=0.0,
                         highpass_sigma=1.0, return_mask=True, generator=gen(0))
    _, mask = per_frame(x)
    assert mask.shape == (2, 1, 6, 16, 16)
    assert any(not torch.equal(mask[:, :, 0], mask[:, :, t]) for t in range(1, 6))
    tube = MSCNMask(layout="b c t h w", cell={"t": None, "h": 4, "w": 4}, focal_prob=0.0, highpass_sigma=None,
                    return_mask=True, generator=gen(0))
    _, mask = tube(x)
    assert (mask == mask[:, :, :1]).all()


def test_spectrogram_layout_masks_frequency_and_time():
    x = torch.randn(2, 1, 32, 100)
    mask_module = MSCNMask(layout="b c f t", cell=(8, 10), highpass_sigma=1.0, return_mask=True, focal_prob=0.0,
                           generator=gen(0))
    y, mask = mask_module(x)
    assert y.shape == x.shape and mask.shape == (2, 1, 32, 100)
    assert int(mask[0].sum()) == round(0.15 * 40) * 80


def test_unbatched_single_sample_in_a_worker_layout():
    y, mask = MSCNMask(return_mask=True, generator=gen(0))(torch.randn(3, 64, 64))
    assert y.shape == (3, 64, 64) and mask.shape == (3, 64, 64)


@pytest.mark.parametrize("fill", ["constant", "noise"])
@pytest.mark.parametrize("paper", [False, True], ids=["small", "paper-defaults"])
def test_compiles_without_graph_breaks(fill, paper):
    # at the paper's sigma 5 on 96 px the CPU high-pass has interior blocks (strided windows) too
    module = MSCNMask(layout="b c h w", fill=fill, return_mask=True) if paper else small(fill=fill, return_mask=True)
    compiled = torch.compile(module, fullgraph=True, backend="eager")
    x = torch.randn(2, 3, 96, 96) if paper else torch.randn(2, 3, 16, 16)
    torch.manual_seed(0)
    expected, expected_mask = module(x)
    torch.manual_seed(0)
    got, mask = compiled(x)
    assert torch.equal(mask, expected_mask), "the same seed must give the same masks compiled or not"
    keep = ~mask.expand_as(x)
    assert torch.equal(got[keep], expected[keep])
    if fill == "constant":
        assert torch.equal(got, expected)


@pytest.mark.parametrize(
    "options",
    [dict(fill="constant", focal_prob=0.5), dict(highpass_sigma=None), dict(channel_independent_prob=0.5, ratio=(0.1, 0.5))],
    ids=["focal", "no-high-pass", "ranges"],
)
def test_compiled_module_takes_new_shapes(options):
    # from the second shape on, torch.compile traces symbolic sizes (the last batch of an epoch)
    torch._dynamo.reset()
    module = small(cell=8, return_mask=True, **options)
    graphs = []

    def backend(graph, inputs):
        graphs.append(graph)
        return graph.forward

    compiled = torch.compile(module, fullgraph=True, backend=backend)
    for batch in (4, 2, 3, 5):
        compiled(torch.randn(batch, 3, 32, 32))
    assert len(graphs) == 2, "one graph for the first batch size, one symbolic graph for every other"
    compiled = torch.compile(module, fullgraph=True, backend="eager")
    for shape in ((4, 3, 32, 32), (2, 3, 32, 32), (3, 3, 40, 48)):
        x = torch.randn(shape)
        torch.manual_seed(1)
        expected = module(x)[1]
        torch.manual_seed(1)
        got, mask = compiled(x)
        assert got.shape == shape and torch.equal(mask, expected)


def test_fixed_ratio_masks_round_ratio_times_cells():
    # 0.15 * 190 = 28.5 rounds to 28 (half to even, as sample_grid_mask); float32 arithmetic gives 29
    module = MSCNMask(layout="b h w", cell=1, ratio=0.15, focal_prob=0.0, highpass_sigma=None, return_mask=True)
    _, mask = module(torch.zeros(3, 19, 10))
    assert (mask.sum(dim=(1, 2)) == 28).all()
    assert (sample_grid_mask((3, 19, 10), cell=1, ratio=0.15, dims=(1, 2)).sum(dim=(1, 2)) == 28).all()


def test_compiles_with_inductor():
    # inductor lowers the whole policy, focal boxes and returned mask included
    module = small(fill="constant", value=7.0, focal_prob=0.5, return_mask=True)
    x = torch.randn(4, 3, 16, 16)
    got, mask = torch.compile(module)(x)
    full = mask.expand_as(x)
    assert mask.any() and (got[full] == 7.0).all()
    torch.testing.assert_close(got[~full], highpass(x, module.highpass_sigma)[~full])


def test_pickles_and_reprs():
    module = small(generator=gen(4))
    clone = pickle.loads(pickle.dumps(module))
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(module(x), clone(x))
    text = repr(module)
    for part in ("layout='b c h w'", "cell=(4, 4)", "ratio=0.15", "focal_prob=0.4", "noise_std=0.2"):
        assert part in text


class _Constant(Dataset):
    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return self.transform(torch.zeros(1, 16, 16))


def test_dataloader_workers_draw_different_masks():
    transform = MSCNMask(cell=4, highpass_sigma=None, fill="constant", value=1.0, focal_prob=0.0)
    loader = DataLoader(_Constant(transform), batch_size=4, num_workers=2, generator=gen(0))
    first, second = list(loader)
    assert not torch.equal(first, second), "two workers produced the same masks"
    again = torch.cat(list(DataLoader(_Constant(transform), batch_size=4, num_workers=2, generator=gen(0))))
    assert torch.equal(torch.cat([first, second]), again), "seeded DataLoader must reproduce"


@given(seed=st.integers(0, 2**32), ratio=st.floats(0, 1), focal=st.floats(0, 1), indep=st.floats(0, 1))
def test_masked_fraction_is_sane(seed, ratio, focal, indep):
    _, mask = small(ratio=ratio, focal_prob=focal, channel_independent_prob=indep, return_mask=True,
                    generator=gen(seed))(torch.randn(3, 3, 16, 16))
    assert mask.shape[1] in (1, 3)
    if focal == 0:
        per_unit = mask.reshape(3, mask.shape[1], -1).sum(-1)
        assert (per_unit == round(ratio * 16) * 16).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(ratio=-0.1), ValueError, "ratio"),
        (dict(ratio=(0.2, 0.1)), ValueError, "ratio"),
        (dict(cell=0), ValueError, "cell"),
        (dict(cell={"h": 4}), ValueError, "cell"),
        (dict(cell="4"), TypeError, "cell"),
        (dict(focal_prob=1.5), ValueError, "focal_prob"),
        (dict(focal_scale=0.0), ValueError, "focal_scale"),
        (dict(channel_independent_prob=-1), ValueError, "channel_independent_prob"),
        (dict(p=2), ValueError, "'p'|p must"),
        (dict(fill="zeros"), ValueError, "fill"),
        (dict(noise_std=-1.0), ValueError, "noise_std"),
        (dict(highpass_sigma=0.0), ValueError, "highpass_sigma"),
        (dict(highpass_kernel_size=4), ValueError, "kernel_size"),
        (dict(layout="b c h h"), ValueError, "repeats axis 'h'"),
        (dict(layout="b c h-w"), ValueError, "invalid axis name"),
        (dict(layout=""), ValueError, "at least one axis"),
        (dict(mask_axes="z"), ValueError, "mask_axes names axis 'z'"),
        (dict(mask_axes="c"), ValueError, "mask_axes"),
        (dict(highpass_axes="q"), ValueError, "highpass_axes"),
        (dict(generator=0), TypeError, "generator"),
        (dict(fill="constant", value=float("nan")), ValueError, "value must be finite"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, error, match):
    with pytest.raises(error, match=match):
        small(**kwargs)


def test_layout_rank_mismatch_names_layout_and_shape():
    with pytest.raises(ValueError, match=r"layout 'b c h w' expects a 4-d tensor, got shape \(3, 16, 16\)"):
        small()(torch.randn(3, 16, 16))


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="floating"):
        small()(torch.zeros(2, 3, 16, 16, dtype=torch.uint8))


def test_a_changed_setting_applies_to_the_next_call():
    # a module works out how to handle a shape on its first call; changing a setting starts over
    module = small(highpass_sigma=None, fill="constant", value=1.0, focal_prob=0.0, generator=gen(0), return_mask=True)
    x = torch.zeros(2, 3, 16, 16, dtype=torch.float16)
    out, mask = module(x)
    assert mask.any() and (out[mask.expand_as(x)] == 1.0).all()
    module.value, module.ratio = 2.0, (1.0, 1.0)
    out, mask = module(x)
    assert mask.all() and (out == 2.0).all()
    module.value = 1e5
    with pytest.raises(ValueError, match="overflows x's dtype torch.float16"):
        module(x)


def test_calls_on_several_shapes_draw_as_fresh_modules_do():
    shapes = [(2, 3, 16, 16), (1, 3, 8, 12), (2, 3, 16, 16)] + [(1, 1, 8, 8 + n) for n in range(MAX_PLANS + 2)]
    kept = small(generator=gen(1))
    fresh_generator = gen(1)
    for shape in shapes:
        x = torch.randn(shape, generator=gen(2))
        assert torch.equal(kept(x), small(generator=fresh_generator)(x))
    assert 0 < len(kept._plans) <= MAX_PLANS


def test_copies_never_share_what_a_module_worked_out():
    module = small(highpass_sigma=None, fill="constant", value=1.0, generator=gen(0))
    x = torch.zeros(2, 3, 16, 16, dtype=torch.float16)
    module(x)
    for copy_of in (copy.copy, copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))):
        other = copy_of(module)
        other.value = 1e5  # clears the copy's plans only; the module's stay valid for it
        module(x)
        with pytest.raises(ValueError, match="overflows"):
            other(x)


def test_modules_pickled_with_unchecked_settings_load_checked():
    # earlier versions kept a setting changed after construction as it was given, and no checked copy
    module = MSCNMask(layout="b c h w", mask_axes="w h", cell=(4, 8), highpass_sigma=None, return_mask=True)
    state = module.__getstate__()
    for name in ("_settings", "_key", "_mask_names"):
        del state[name]
    state.update(ratio=0.3, cell=(8, 4))  # a bare number; cells in layout order
    old = MSCNMask.__new__(MSCNMask)
    old.__setstate__(state)
    old.generator, module.generator = gen(2), gen(2)
    module.ratio = 0.3
    x = torch.randn(2, 3, 32, 32)
    assert old.ratio == (0.3, 0.3) and torch.equal(old(x)[1], module(x)[1])


def test_settings_changed_after_construction_are_checked_when_set():
    module = small(generator=gen(0))
    for ratio, shown in (([0.2, 0.4], "(0.2, 0.4)"), (0.3, "0.3")):  # a number or any pair, as in __init__
        module.ratio = ratio
        assert module(torch.randn(2, 3, 16, 16)).shape == (2, 3, 16, 16)
        assert f"ratio={shown}," in repr(module)
    refused = [
        ("focal_prob", 1.5, ValueError), ("focal_invert", "False", TypeError), ("fill", "zeros", ValueError),
        ("noise_std", -5.0, ValueError), ("value", float("nan"), ValueError), ("highpass_sigma", 0.0, ValueError),
        ("highpass_sigma", 1e308, ValueError), ("highpass_kernel_size", 4, ValueError), ("p", -0.1, ValueError),
        ("return_mask", "yes", TypeError), ("generator", 42, TypeError), ("cell", 0, ValueError),
    ]
    before = repr(module)
    for name, value, error in refused:
        with pytest.raises(error, match=name if name != "cell" else "cell sizes"):
            setattr(module, name, value)
    assert repr(module) == before, "a refused setting leaves the module as it was"
    module.cell = {"h": 8, "w": 4}  # any form __init__ takes
    module.generator, module.return_mask = gen(5), True
    same = small(cell=(8, 4), ratio=0.3, generator=gen(5), return_mask=True)
    x = torch.randn(1, 3, 16, 16)
    assert module.cell == (8, 4) and torch.equal(module(x)[1], same(x)[1])
    for name in ("layout", "mask_dims", "highpass_dims"):
        with pytest.raises(AttributeError, match=f"{name} is fixed"):
            setattr(module, name, getattr(module, name))


def test_a_sequence_of_cells_follows_the_order_of_mask_axes():
    options = dict(layout="b c h w", ratio=0.5, focal_prob=0.0, highpass_sigma=None, return_mask=True)
    module = MSCNMask(mask_axes="w h", cell=(4, 16), **options)
    assert module.cell == (4, 16) and "mask_axes='w h', cell=(4, 16)" in repr(module)
    module.cell = module.cell  # read and set back: the same cells
    same = MSCNMask(cell={"h": 16, "w": 4}, generator=gen(3), **options)
    module.generator = gen(3)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(module(x)[1], same(x)[1])


def test_cells_too_large_to_mask_anything_are_reported_once_per_shape():
    module = MSCNMask(layout="b c h w", highpass_sigma=None)  # 32-pixel cells, 15%: one cell of a 32x32 image
    with pytest.warns(UserWarning, match=r"\(h w: \(32, 32\)\) into 1 cell\(s\), too few for ratio=0.15") as record:
        module(torch.randn(2, 3, 32, 32))
    assert record[0].filename == __file__, "the warning points at the module's caller"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module(torch.randn(2, 3, 32, 32))  # the kept plan: no second warning
        MSCNMask(layout="b c h w", highpass_sigma=None)(torch.randn(2, 3, 96, 96))  # 9 cells: 1 masked
        MSCNMask(layout="b c h w", highpass_sigma=None, p=0.0)(torch.randn(2, 3, 32, 32))  # masks nothing anyway


def test_high_pass_too_wide_for_the_input_names_the_module_settings():
    with pytest.raises(ValueError, match="highpass_sigma=5.0.*h, w of shape .*highpass_sigma=None"):
        MSCNMask(layout="b c h w")(torch.randn(2, 1, 8, 8))


def test_compiled_modules_with_other_numbers_trace_them_as_constants():
    # a second module with other numbers must not make them symbols (the checks and kernels need numbers)
    torch._dynamo.reset()
    x = torch.randn(2, 3, 32, 32)
    for sigma, p in ((1.0, 1.0), (2.0, 0.5), (3.0, 0.8)):
        module = small(highpass_sigma=sigma, p=p, fill="constant", value=sigma, return_mask=True)
        got, mask = torch.compile(module, fullgraph=True, backend="eager")(x)
        assert (got[mask.expand_as(x)] == sigma).all()
        torch.testing.assert_close(got[~mask.expand_as(x)], highpass(x, sigma)[~mask.expand_as(x)])
    module.value = 9.0  # a changed setting reaches the compiled module
    compiled = torch.compile(module, fullgraph=True, backend="eager")
    got, mask = compiled(x)
    assert mask.any() and (got[mask.expand_as(x)] == 9.0).all()


def test_meta_tensors_keep_their_shape():
    x = torch.empty(2, 3, 32, 32, device="meta")
    assert small(generator=gen(0))(x).shape == x.shape
    assert apply_mask(x, torch.zeros(2, 1, 32, 32, dtype=torch.bool, device="meta"), generator=gen(0)).shape == x.shape
