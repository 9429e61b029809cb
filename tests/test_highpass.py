"""High-pass against a float64, loop-based reference."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maskaug import HighPass, highpass
highpass_module = importlib.import_module("maskaug.highpass")
from maskaug.highpass import gaussian_kernel


@pytest.fixture(params=["matmul", "conv"])
def blur_path(request, monkeypatch):
    """Run a test on the CPU's block-banded path and on the convolution path."""
    if request.param == "conv":
        monkeypatch.setattr(highpass_module, "MATMUL_MAX_LENGTH", 0)
    return request.param


def reference_highpass(x: np.ndarray, sigma: float, axes: tuple[int, ...], kernel_size: int | None) -> np.ndarray:
    """x - blur(x), with the Gaussian written out and reflect padding done by index arithmetic."""
    radius = math.ceil(3 * sigma) if kernel_size is None else kernel_size // 2
    offsets = np.arange(-radius, radius + 1)
    taps = np.exp(-(offsets**2) / (2 * sigma**2))
    taps /= taps.sum()
    blurred = x.astype(np.float64)
    for axis in axes:
        n = blurred.shape[axis]
        out = np.zeros_like(blurred)
        for i in range(n):
            for t, w in zip(offsets, taps):
                j = i + t
                j = -j if j < 0 else (2 * (n - 1) - j if j >= n else j)
                out_index = [slice(None)] * blurred.ndim
                out_index[axis] = i
                in_index = [slice(None)] * blurred.ndim
                in_index[axis] = j
                out[tuple(out_index)] += w * blurred[tuple(in_index)]
        blurred = out
    return x.astype(np.float64) - blurred


def test_kernel_is_a_normalized_gaussian():
    k = gaussian_kernel(5.0)
    assert k.shape == (31,)
    assert torch.isclose(k.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.equal(k, k.flip(0))
    assert k.argmax() == 15
    ratio = k[15 + 5] / k[15]
    assert math.isclose(float(ratio), math.exp(-0.5), rel_tol=1e-12)
    assert gaussian_kernel(5.0, 11).shape == (11,)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the path is fixed per test
@given(
    seed=st.integers(0, 2**32 - 1),
    sigma=st.floats(0.5, 3.0),
    kernel_size=st.sampled_from([None, 3, 5, 7]),
    axes=st.sampled_from([(-1,), (-2, -1), (0, 2), (1,), (0, 1, 2)]),
)
def test_matches_float64_reference(blur_path, seed, sigma, kernel_size, axes):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(12, 11, 13, generator=g, dtype=torch.float64)
    radius = math.ceil(3 * sigma) if kernel_size is None else kernel_size // 2
    if radius >= 11:
        return
    expected = reference_highpass(x.numpy(), sigma, tuple(a % 3 for a in axes), kernel_size)
    got = highpass(x, sigma, dims=axes, kernel_size=kernel_size)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)
    got32 = highpass(x.float(), sigma, dims=axes, kernel_size=kernel_size).double().numpy()
    scale = np.abs(expected).max()
    assert np.abs(got32 - expected).max() <= 1e-5 * scale


def test_image_batch_paper_setting_matches_reference(blur_path):
    x = torch.randn(2, 3, 40, 36, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = reference_highpass(x.numpy(), 5.0, (2, 3), None)
    np.testing.assert_allclose(highpass(x, 5.0).numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    ("length", "kernel_size"),
    [
        (16, 5),  # one block
        (17, 5),  # two blocks of 9, one output dropped
        (47, 31),  # three blocks of 16, the longer padding still shorter than the axis
        (17, 33),  # two blocks would need a padding as long as the axis: one block
        (64, 7),  # four blocks of 16
    ],
)
def test_block_edges_match_reference(blur_path, length, kernel_size):
    x = torch.randn(3, length, length + 3, generator=torch.Generator().manual_seed(length), dtype=torch.float64)
    for axes in ((1,), (2,), (1, 2), (0, 2)):
        if min(x.shape[a] for a in axes) <= kernel_size // 2:
            continue
        expected = reference_highpass(x.numpy(), 4.0, axes, kernel_size)
        got = highpass(x, 4.0, dims=axes, kernel_size=kernel_size)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_preserves_dtype_shape_and_input(blur_path, dtype):
    x = torch.randn(2, 3, 24, 24).to(dtype)
    before = x.clone()
    y = highpass(x, 2.0)
    assert y.dtype == dtype and y.shape == x.shape and y.device == x.device
    assert torch.equal(x, before)
    tol = {torch.float16: 2e-2, torch.bfloat16: 1e-1}.get(dtype, 1e-5)
    torch.testing.assert_close(y.double(), highpass(x.double(), 2.0), atol=tol, rtol=tol)


def test_constant_input_gives_zeros(blur_path):
    x = torch.full((3, 50, 50), 7.5)
    assert highpass(x, 5.0).abs().max() < 1e-5


def test_differentiable(blur_path):
    x = torch.randn(1, 1, 20, 20, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: highpass(t, 1.5), (x,))


def test_differentiable_after_a_first_call_in_inference_mode():
    x = torch.randn(1, 1, 23, 29, dtype=torch.float64)
    with torch.inference_mode():
        expected = highpass(x, 1.25)
    leaf = x.clone().requires_grad_()
    y = highpass(leaf, 1.25)
    (grad,) = torch.autograd.grad(y.sum(), leaf)
    torch.testing.assert_close(y.detach(), expected)
    assert torch.isfinite(grad).all()


def test_batched_equals_unbatched():
    x = torch.randn(4, 3, 32, 32)
    batched = highpass(x, 3.0)
    for i in range(4):
        torch.testing.assert_close(batched[i], highpass(x[i], 3.0))


@pytest.mark.parametrize("dims", [(-2, -1), (0, 2), (3,)])
def test_chunked_batch_equals_whole(monkeypatch, dims):
    x = torch.randn(5, 3, 20, 22, dtype=torch.float64, requires_grad=True)
    whole = highpass(x, 1.0, dims=dims)
    monkeypatch.setattr(highpass_module, "CHUNK", 2 * 3 * 20 * 22)  # chunks of 2, 2 and 1 samples
    chunked = highpass(x, 1.0, dims=dims)
    assert chunked.is_contiguous()
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)
    (grad,) = torch.autograd.grad(chunked.sum(), x)
    assert torch.isfinite(grad).all()


def test_empty_batch():
    assert highpass(torch.randn(0, 3, 32, 32), 5.0).shape == (0, 3, 32, 32)


def test_module_matches_function_and_reprs():
    hp = HighPass(sigma=2.0, dims=(-1,), kernel_size=5)
    x = torch.randn(2, 16, 16)
    assert torch.equal(hp(x), highpass(x, 2.0, dims=(-1,), kernel_size=5))
    assert "sigma=2.0" in repr(hp)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(sigma=0.0), ValueError, "sigma"),
        (dict(sigma=-1.0), ValueError, "sigma"),
        (dict(sigma=2.0, kernel_size=4), ValueError, "kernel_size"),
        (dict(sigma=2.0, kernel_size=2.5), TypeError, "kernel_size"),
        (dict(sigma=2.0, dims=(0, 0)), ValueError, "repeats"),
        (dict(sigma=2.0, dims=(5,)), ValueError, "out of range"),
        (dict(sigma=5.0), ValueError, "longer than 15"),
        (dict(sigma=1e308), ValueError, "sigma=1e\\+308 is too large"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        highpass(torch.randn(3, 12, 12), **kwargs)


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="floating"):
        highpass(torch.zeros(3, 32, 32, dtype=torch.uint8), 1.0)
