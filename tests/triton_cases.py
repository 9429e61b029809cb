"""Checks of the fused Triton kernels, run on the CPU under ``TRITON_INTERPRET=1``.

``tests/test_triton.py`` runs this file in a subprocess with that variable set (it must be set
before Triton is imported); on a machine with a GPU, run it directly to check the CUDA kernels:
``pytest tests/triton_cases.py --device cuda``.
"""

from __future__ import annotations

import importlib
import logging
import math

import pytest
import torch

import triton
import triton.language as tl

from benchmarks.masking import tune
from maskaug import MSCNMask, _draw, _triton, _triton_draw, apply_mask, highpass
from maskaug.masks import _Geometry, _per_axis_cells, _render
from test_highpass import reference_highpass


@pytest.fixture
def device(request) -> torch.device:
    return torch.device(request.config.getoption("--device"))


def gen(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def test_kernels_are_used(device):
    assert _triton.usable(torch.zeros(2, 2, device=device))
    assert not _triton.usable(torch.zeros(2, 2, dtype=torch.float64, device=device))
    assert not _triton.usable(torch.zeros(2, 2, device=device, requires_grad=True))


@pytest.mark.parametrize("shape", [(1, 40, 36), (2, 3, 37, 130), (2, 1, 3, 20, 20), (17, 300), (1, 70, 200)])
@pytest.mark.parametrize(("sigma", "kernel_size"), [(5.0, None), (5.0, 11), (1.5, None), (10.0, None)])
def test_highpass_matches_float64_reference(device, shape, sigma, kernel_size):
    radius = (kernel_size or 2 * math.ceil(3 * sigma) + 1) // 2
    if min(shape[-2:]) <= radius:
        pytest.skip("axis shorter than the kernel radius")
    x64 = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = reference_highpass(x64.numpy(), sigma, (len(shape) - 2, len(shape) - 1), kernel_size)
    # the kernel itself (on the CPU, highpass takes its own path even under the interpreter)
    got = _triton.fused(x64.float().to(device), sigma=sigma, kernel_size=kernel_size).cpu().double().numpy()
    assert abs(got - expected).max() <= 1e-5 * abs(expected).max()
    if device.type == "cuda":
        got = highpass(x64.float().to(device), sigma, kernel_size=kernel_size).cpu().double().numpy()
        assert abs(got - expected).max() <= 1e-5 * abs(expected).max()


@pytest.mark.parametrize(("shape", "sigma", "dims", "kernel"), [
    ((2, 3, 40, 52), 5.0, (-2, -1), True),
    ((1, 80, 80), 12.0, (-2, -1), False),  # a radius beyond MAX_RADIUS
    ((2, 40, 52, 3), 2.0, (1, 2), False),  # not the last two axes
])
def test_highpass_takes_the_kernel_where_it_can(device, monkeypatch, shape, sigma, dims, kernel):
    # on the CPU, highpass takes its own block-banded path first: turn it off to reach the dispatch
    monkeypatch.setattr(importlib.import_module("maskaug.highpass"), "MATMUL_MAX_LENGTH", 0)
    launches = []
    fused = _triton.fused
    monkeypatch.setattr(_triton, "fused", lambda *args, **kwargs: launches.append(1) or fused(*args, **kwargs))
    x64 = torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = highpass(x64.float().to(device), sigma, dims=dims).cpu().double().numpy()
    expected = reference_highpass(x64.numpy(), sigma, tuple(d % len(shape) for d in dims), None)
    assert abs(got - expected).max() <= 1e-5 * abs(expected).max()
    assert len(launches) == kernel


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_highpass_half_precision(device, dtype):
    x = torch.randn(2, 3, 24, 40, device=device)
    got = highpass(x.to(dtype), 2.0)
    assert got.dtype == dtype
    torch.testing.assert_close(got.float(), highpass(x.double(), 2.0).float(), atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_apply_mask_keeps_unmasked_bits_and_fills(device, dtype):
    x = torch.randn(3, 3, 20, 33, device=device).to(dtype)
    before = x.clone()
    mask = torch.rand(3, 1, 20, 33, device=device) < 0.3
    full = mask.expand_as(x)
    y = apply_mask(x, mask, fill="constant", value=-2.0)
    assert y.dtype == dtype and torch.equal(x, before)
    assert torch.equal(y[~full], x[~full]) and (y[full] == -2).all()
    z = apply_mask(x, mask, fill="noise", noise_std=0.5, generator=gen(1, device))
    assert torch.equal(z[~full], x[~full])


def test_noise_statistics_and_reproducibility(device):
    x = torch.zeros(16, 3, 32, 32, device=device)
    mask = torch.ones(1, 1, 32, 32, dtype=torch.bool, device=device)
    y = apply_mask(x, mask, noise_std=0.5, generator=gen(0, device))
    assert abs(float(y.mean())) < 0.02 and abs(float(y.std()) - 0.5) < 0.02
    corr = torch.corrcoef(torch.stack([y[0].flatten(), y[1].flatten()]))[0, 1]
    assert abs(float(corr)) < 0.05
    assert torch.equal(y, apply_mask(x, mask, noise_std=0.5, generator=gen(0, device)))
    assert not torch.equal(y, apply_mask(x, mask, noise_std=0.5, generator=gen(1, device)))


def test_kernel_normals_are_box_muller_of_the_philox_uniforms(device):
    # the short-series logarithm, sine and cosine against the exact transform of the same draws
    @triton.jit
    def normals(out_ptr, exact_ptr, seed, N: tl.constexpr):
        counters = tl.arange(0, N)
        fast = _triton._normals(seed, counters)
        exact = tl.randn4x(seed, counters)
        for k in tl.static_range(4):
            tl.store(out_ptr + counters * 4 + k, fast[k])
            tl.store(exact_ptr + counters * 4 + k, exact[k])

    out = torch.empty(4 * 4096, device=device)
    exact = torch.empty_like(out)
    normals[(1,)](out, exact, 1234, N=4096)
    assert float((out - exact).abs().max()) < 2e-6
    assert abs(float(out.mean())) < 0.03 and abs(float(out.std()) - 1) < 0.03
    assert float(out.abs().max()) < 5.7  # the radius's uniform is at least 1e-7


@pytest.mark.parametrize("setting", tune.SETTINGS, ids=tune.describe)
def test_kernel_settings_compute_the_same_output(device, setting, monkeypatch):
    # every setting the tuner times: tiles, warps, register caps, programs walking over stripes
    x = torch.randn(2, 2, 37, 130, generator=torch.Generator().manual_seed(0)).to(device)
    mask = torch.rand(x.shape, generator=torch.Generator().manual_seed(1)).to(device) < 0.3
    expected = _triton.fused(x, sigma=1.5, mask=mask, generator=gen(4, device))
    for name, value in setting.items():
        monkeypatch.setattr(_triton, name, value)
    got = _triton.fused(x, sigma=1.5, mask=mask, generator=gen(4, device))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)
    assert torch.equal(got[mask], expected[mask])  # the same noise wherever it is drawn


# the interpreter ignores warps and register caps: one setting per tile and programs per
# multiprocessor, besides the default's (the first)
_TILES = list({(s["TILE"], s["PROGRAMS_PER_SM"]): s for s in tune.SETTINGS}.values())[1:]


@pytest.mark.parametrize("setting", _TILES, ids=tune.describe)
def test_kernel_settings_compute_the_same_drawn_mask(device, setting, monkeypatch):
    # cells read as bits and boxes, in each tile shape the tuner times
    x = torch.randn(2, 3, 37, 70, generator=torch.Generator().manual_seed(0)).to(device)
    drawn = MSCNMask(layout="b c h w", cell=(8, 7), focal_prob=0.5, generator=gen(3, device))._draw(x.shape, device)
    expected = _triton.fused(x, sigma=1.5, drawn=drawn, generator=gen(4, device))
    for name, value in setting.items():
        monkeypatch.setattr(_triton, name, value)
    got = _triton.fused(x, sigma=1.5, drawn=drawn, generator=gen(4, device))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)
    mask = _render(drawn).expand(x.shape)
    assert mask.any() and torch.equal(got[mask], expected[mask])


def test_tuner_times_both_calls_and_keeps_the_defaults(device, tmp_path):
    defaults = (_triton.TILE, _triton.WARPS, _triton.REGISTERS, _triton.PROGRAMS_PER_SM)
    result = tune.main(["--device", str(device), "--batch", "1", "--size", "40", "--dtypes", "float32",
                        "--repeats", "1", "--warmup", "0", "--settings", "2", "--out", str(tmp_path / "tune.json")])
    timed = [(row["call"], row["setting"]) for row in result["rows"] if "median_ms" in row and "call" in row]
    assert timed == [(call, tune.describe(s)) for s in tune.SETTINGS[:2] for call in tune.CALLS]
    assert result["best"]["call"] == "MSCNMask" and result["best"]["setting"] in tune.SETTINGS[:2]
    assert (_triton.TILE, _triton.WARPS, _triton.REGISTERS, _triton.PROGRAMS_PER_SM) == defaults


def test_noise_seed_is_the_bits_of_two_uniforms(device):
    x = torch.randn(2, 2, 20, 24, generator=torch.Generator().manual_seed(0)).to(device)
    mask = torch.rand(x.shape, generator=torch.Generator().manual_seed(1)).to(device) < 0.5
    words = _triton.draw_seed(gen(4, device), device)
    drawn = _triton.fused(x, sigma=1.5, mask=mask, generator=gen(4, device))
    # the kernel reads the first two elements: MSCNMask passes its uniforms, seed columns first
    longer = torch.cat([words, torch.rand(5, device=device)])
    assert torch.equal(_triton.fused(x, sigma=1.5, mask=mask, seed=longer), drawn)
    for changed in (words + torch.tensor([2.0**-20, 0.0], device=device), words + torch.tensor([0.0, 2.0**-20], device=device)):
        other = _triton.fused(x, sigma=1.5, mask=mask, seed=changed)
        assert torch.equal(other[~mask], drawn[~mask]) and not torch.equal(other[mask], drawn[mask])


def test_seed_is_float32_whatever_the_default_dtype(device):
    x = torch.randn(2, 2, 20, 24, generator=torch.Generator().manual_seed(0)).to(device)
    mask = torch.rand(x.shape, generator=torch.Generator().manual_seed(1)).to(device) < 0.5
    expected = apply_mask(x, mask, noise_std=0.5, generator=gen(4, device))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert torch.equal(apply_mask(x, mask, noise_std=0.5, generator=gen(4, device)), expected)
    finally:
        torch.set_default_dtype(previous)
    with pytest.raises(ValueError, match="seed must be a contiguous float32 tensor"):
        _triton.fused(x, sigma=None, mask=mask, seed=torch.zeros(2, dtype=torch.float64, device=device))


def test_shapes_beyond_the_kernels_arithmetic_take_the_torch_path(device):
    one = torch.zeros(1, 1, device=device)
    assert _triton.usable(one.expand(1, 2**22 - 1)) and not _triton.usable(one.expand(1, 2**22))
    assert _triton.usable(one.expand(2**16 - 1, 2**15)) and not _triton.usable(one.expand(2**16, 2**15))
    assert not _triton.usable(torch.zeros(10, device=device))  # a plane needs two axes
    y = MSCNMask(layout="t", cell=2, highpass_sigma=None, fill="constant", return_mask=True)
    out, mask = y(torch.ones(10, device=device))
    assert torch.equal(out, torch.where(mask, 0.0, 1.0))


def test_one_tap_high_pass_is_zero(device):
    x = torch.randn(2, 5, 7, device=device)
    assert torch.equal(_triton.fused(x, sigma=1.0, kernel_size=1), torch.zeros_like(x))
    out, mask = MSCNMask(layout="b h w", cell=2, highpass_sigma=1.0, highpass_kernel_size=1, fill="constant",
                         value=3.0, return_mask=True)(x)
    assert torch.equal(out, torch.where(mask, 3.0, 0.0))


def test_taps_are_a_constant_under_torch_compile(device):
    tap = torch.compile(lambda x: x * _triton._taps(2.0, 13)[6], fullgraph=True, backend="eager")
    x = torch.ones(3, device=device)
    assert torch.equal(tap(x), x * _triton._taps(2.0, 13)[6])


def test_generator_leaves_global_rng_untouched(device):
    x = torch.randn(2, 3, 16, 16, device=device)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    MSCNMask(layout="b c h w", cell=4, highpass_sigma=1.0, generator=gen(2, device))(x)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("fill", ["constant", "noise"])
@pytest.mark.parametrize("shape", [(4, 3, 30, 41), (4, 3, 32, 40)])  # element fill, cell fill on the torch path
def test_policy_fast_path_matches_torch_path(device, fill, shape, monkeypatch):
    x = torch.randn(shape, device=device)
    options = dict(layout="b c h w", cell=8, highpass_sigma=2.0, fill=fill, return_mask=True)

    def calls() -> list[tuple[torch.Tensor, torch.Tensor]]:  # consecutive calls: the generator carries on
        module = MSCNMask(generator=gen(3, device), **options)
        return [module(x) for _ in range(3)]

    fast = calls()
    monkeypatch.setenv("MASKAUG_DISABLE_TRITON", "1")
    slow = calls()
    for call, ((fast_out, fast_mask), (slow_out, slow_mask)) in enumerate(zip(fast, slow)):
        assert torch.equal(fast_mask, slow_mask), f"call {call}: the same generator must give the same masks on both paths"
        keep = ~fast_mask.expand_as(x)
        torch.testing.assert_close(fast_out[keep], slow_out[keep], atol=1e-5, rtol=1e-5)
        if fill == "constant":
            assert torch.equal(fast_out[~keep], slow_out[~keep])
    assert not torch.equal(fast[0][1], fast[1][1])


def test_apply_mask_leaves_the_generator_alike_on_both_paths(device, monkeypatch):
    x = torch.randn(2, 3, 20, 24, device=device)
    mask = torch.rand(2, 1, 20, 24, device=device) < 0.3

    def state() -> torch.Tensor:
        generator = gen(5, device)
        apply_mask(x, mask, noise_std=0.5, generator=generator)
        return generator.get_state()

    fast = state()
    monkeypatch.setenv("MASKAUG_DISABLE_TRITON", "1")
    assert torch.equal(fast, state())


def test_gradients_take_the_torch_path(device):
    x = torch.randn(1, 1, 12, 12, dtype=torch.float32, device=device, requires_grad=True)
    highpass(x, 1.0).sum().backward()
    assert x.grad is not None


def test_empty_batch(device):
    assert highpass(torch.randn(0, 3, 32, 32, device=device), 5.0).shape == (0, 3, 32, 32)
    y = MSCNMask(layout="b c h w", cell=8, highpass_sigma=2.0)(torch.randn(0, 3, 32, 32, device=device))
    assert y.shape == (0, 3, 32, 32)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_kernel_half_precision_rounds_once(device, dtype):
    x = torch.randn(2, 3, 40, 70, device=device).to(dtype)
    got = _triton.fused(x, sigma=2.0)
    assert got.dtype == dtype
    expected = highpass(x.double(), 2.0).to(dtype)
    torch.testing.assert_close(got.float(), expected.float(), atol=1e-2, rtol=1e-2)


POLICIES = {
    "grid, shared": dict(focal_prob=0.0, channel_independent_prob=0.0),
    "focal, independent": dict(focal_prob=1.0, channel_independent_prob=1.0),
    "mixed": dict(focal_prob=0.5, channel_independent_prob=0.5, p=0.8),
    "inverted focal": dict(focal_prob=0.5, focal_invert=True),
    "ratio range": dict(ratio=(0.1, 0.5), focal_prob=0.3),
}
LAYOUTS = {"b c h w": (4, 3, 30, 70), "c h w": (3, 33, 40), "b h w": (3, 20, 24), "h w": (36, 65)}


def _check_mask_in_kernel(device, layout, shape, cell, settings):
    module = MSCNMask(layout=layout, cell=cell, highpass_sigma=None, generator=gen(4, device), **settings)
    drawn = module._draw(shape, device)
    assert _triton.packs(drawn.geo, torch.empty(shape))
    x = torch.rand(shape, device=device)
    mask = _render(drawn).expand(shape)
    constant = _triton.fused(x, sigma=None, drawn=drawn, fill="constant", value=5.0)
    assert torch.equal(constant == 5.0, mask) and torch.equal(constant[~mask], x[~mask])
    # noise: the element mask read from memory and the mask computed in the kernel give the same bits
    packed = _triton.fused(x, sigma=2.0, drawn=drawn, noise_std=0.5, generator=gen(9, device))
    dense = _triton.fused(x, sigma=2.0, mask=mask, noise_std=0.5, generator=gen(9, device))
    assert torch.equal(packed, dense)
    return drawn


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_mask_computed_in_the_kernel_is_the_drawn_mask(device, policy, layout):
    drawn = _check_mask_in_kernel(device, layout, LAYOUTS[layout], (8, 7), POLICIES[policy])
    assert drawn.grid.shape[-1] <= 32  # a row of cells is read as the bits of a word


@pytest.mark.parametrize("policy", ["mixed", "inverted focal"])
@pytest.mark.parametrize(("layout", "shape", "row_cells"), [
    ("b c h w", (4, 3, 30, 70), 35), ("h w", (36, 65), 33),  # read cell by cell
    ("b c h w", (2, 3, 12, 64), 32),  # the last bit of a word is its sign bit
])
def test_rows_of_many_cells(device, policy, layout, shape, row_cells):
    drawn = _check_mask_in_kernel(device, layout, shape, (3, 2), POLICIES[policy])
    assert drawn.grid.shape[-1] == row_cells


def _drawn_both_ways(module: MSCNMask, shape, u_of):
    """The draw kernel's masks and the torch operations', from the same uniforms ``u_of(shape)``."""
    policy = module._settings.policy
    geo = _Geometry.of(shape, module.mask_dims, module.layout.channel, module._independent(module._settings))
    cells = _per_axis_cells(module.cell, geo.masked_sizes)
    assert _triton_draw.usable(geo, cells, u_of.device)
    u = u_of(_draw.uniforms(geo, _draw.width(geo, cells), generator=gen(5, u_of.device), device=u_of.device))
    return _triton_draw.draw(u, geo, cells, policy), _draw.from_uniforms(u, geo, cells, policy)


def _same_draw(kernel, reference):
    assert torch.equal(kernel.grid, reference.grid)
    for name in ("start", "extent", "focal"):
        a, b = getattr(kernel, name), getattr(reference, name)
        assert (a is None and b is None) or torch.equal(a, b), name


class _AsIs:
    def __init__(self, device):
        self.device = device

    def __call__(self, u):
        return u


class _Coarse(_AsIs):
    """Uniforms on a grid of quarters: equal scores, and products that fall exactly between two integers."""

    def __call__(self, u):
        return torch.floor(u * 4) / 4


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_draw_kernel_gives_the_masks_of_the_torch_draw(device, policy, layout):
    module = MSCNMask(layout=layout, cell=(8, 7), highpass_sigma=None, **POLICIES[policy])
    _same_draw(*_drawn_both_ways(module, LAYOUTS[layout], _AsIs(device)))


@pytest.mark.parametrize("cell", [(8, 7), 2, (1, 3)])
def test_draw_kernel_breaks_ties_and_rounds_as_the_torch_draw(device, cell):
    # ratio 0.5 of an odd number of cells and a box of half an odd side round exactly half-way
    module = MSCNMask(layout="b c h w", cell=cell, ratio=(0.25, 0.75), focal_prob=0.5, focal_scale=(0.5, 0.5),
                      channel_independent_prob=0.5, p=0.75, highpass_sigma=None)
    kernel, reference = _drawn_both_ways(module, (6, 3, 35, 21), _Coarse(device))
    _same_draw(kernel, reference)
    # 17.5 rounds up to 18, 10.5 down to 10 (half to even)
    assert int(reference.grid.sum()) > 0 and (reference.extent.cpu() == torch.tensor([18, 10])).all()


def test_draw_kernel_counts_a_fixed_ratio_in_float64(device):
    # 0.15 * 190 = 28.5 rounds to 28 (half to even); float32 arithmetic gives 29
    module = MSCNMask(layout="b h w", cell=1, ratio=0.15, focal_prob=0.0, highpass_sigma=None)
    kernel, reference = _drawn_both_ways(module, (3, 19, 10), _AsIs(device))
    _same_draw(kernel, reference)
    assert (kernel.grid.sum(dim=(-2, -1)) == 28).all()


def test_policy_compiles_with_inductor(device):
    if device.type != "cuda":
        pytest.skip("torch.compile cannot launch Triton kernels on CPU tensors (test_policy.py compiles the torch path)")
    x = torch.randn(4, 3, 32, 32, device=device)
    module = MSCNMask(layout="b c h w", cell=8, highpass_sigma=2.0, focal_prob=0.5, fill="constant", value=7.0,
                      return_mask=True)
    got, mask = torch.compile(module, fullgraph=True)(x)
    full = mask.expand_as(x)
    assert mask.any() and (got[full] == 7.0).all()
    torch.testing.assert_close(got[~full], highpass(x.double(), 2.0).float()[~full], atol=1e-5, rtol=1e-5)


def test_policy_compiles_with_noise_and_no_high_pass(device):
    # the kernel's unread tensors are x itself: the op must still find that it writes only its output
    # (torch's own logger, which does not propagate, says when it cannot and every input gets copied)
    if device.type != "cuda":
        pytest.skip("torch.compile cannot launch Triton kernels on CPU tensors (test_policy.py compiles the torch path)")
    x = torch.randn(4, 3, 32, 32, device=device)
    module = MSCNMask(layout="b c h w", cell=8, highpass_sigma=None, noise_std=0.5, return_mask=True,
                      generator=gen(0, device))
    records = []
    listener = logging.Handler(logging.WARNING)
    listener.emit = records.append
    analysis = logging.getLogger("torch._higher_order_ops.triton_kernel_wrap")
    analysis.addHandler(listener)
    try:
        got, mask = torch.compile(module, fullgraph=True)(x)
    finally:
        analysis.removeHandler(listener)
    assert not [r.getMessage() for r in records if "mutated" in r.getMessage()]
    full = mask.expand_as(x)
    assert mask.any() and torch.equal(got[~full], x[~full])
    assert abs(float(got[full].std()) - 0.5) < 0.1


def test_compiled_policy_takes_new_batch_sizes_and_other_settings(device):
    # the kernels' launch under symbolic batch sizes, and each module's numbers as constants
    if device.type != "cuda":
        pytest.skip("torch.compile cannot launch Triton kernels on CPU tensors (test_policy.py compiles the torch path)")
    torch._dynamo.reset()
    for sigma, value in ((1.0, 5.0), (2.0, 7.0)):
        module = MSCNMask(layout="b c h w", cell=8, highpass_sigma=sigma, fill="constant", value=value, return_mask=True)
        compiled = torch.compile(module, fullgraph=True)
        for batch in (4, 2, 3):
            x = torch.randn(batch, 3, 32, 32, device=device)
            got, mask = compiled(x)
            full = mask.expand_as(x)
            assert got.shape == x.shape and (got[full] == value).all()
            torch.testing.assert_close(got[~full], highpass(x.double(), sigma).float()[~full], atol=1e-5, rtol=1e-5)


def test_layouts_the_kernel_cannot_mask_read_the_element_mask(device):
    x = torch.randn(2, 3, 4, 16, 16, device=device)
    module = MSCNMask(layout="b c t h w", mask_axes="h w", cell=4, highpass_sigma=1.0, return_mask=True,
                      fill="constant", value=9.0, generator=gen(0, device))
    assert not _triton.packs(module._draw(x.shape, device).geo, x)
    y, mask = module(x)
    assert torch.equal(y == 9.0, mask.expand_as(x))


def test_axes_shorter_than_the_radius_are_refused_as_on_the_torch_path(device):
    x = torch.randn(2, 3, 10, 40, device=device)
    assert not _triton.usable(x, radius=15) and _triton.usable(x, radius=9)
    with pytest.raises(ValueError, match="longer than 15"):
        MSCNMask(layout="b c h w", cell=5)(x)
