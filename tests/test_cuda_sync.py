"""On a GPU: drawing and applying masks makes no host synchronization.

Skipped where CUDA is missing; `benchmarks/masking/device_check.sh` runs it on a GPU.
"""

from __future__ import annotations

import pytest
import torch

from maskaug import MSCNMask, apply_mask, sample_focal_mask, sample_grid_mask

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _no_sync(call) -> object:
    call()  # warm-up: kernels load, Triton compiles
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        return call()
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize(
    ("layout", "shape", "options"),
    [
        ("b c h w", (8, 3, 64, 64), {"cell": 16, "focal_prob": 0.5, "channel_independent_prob": 0.5, "p": 0.8}),
        ("b c h w", (8, 3, 64, 64), {"cell": 16, "focal_prob": 1.0, "focal_invert": True}),
        ("c h w", (3, 64, 64), {"cell": 16, "fill": "constant"}),
        ("b c t h w", (2, 3, 4, 32, 32), {"cell": (None, 8, 8), "highpass_sigma": 1.0, "ratio": (0.1, 0.3)}),
    ],
)
def test_mscn_mask_makes_no_host_synchronization(layout: str, shape: tuple, options: dict) -> None:
    generator = torch.Generator("cuda").manual_seed(0)
    mask = MSCNMask(layout=layout, generator=generator, **options)
    x = torch.randn(shape, device="cuda")
    out = _no_sync(lambda: mask(x))
    assert out.shape == x.shape and out.device == x.device
    assert _no_sync(lambda: mask.sample_mask(shape, device="cuda")).device.type == "cuda"


def test_samplers_make_no_host_synchronization() -> None:
    generator = torch.Generator("cuda").manual_seed(0)
    shape = (8, 3, 64, 64)
    common = dict(dims=(2, 3), channel_dim=1, channel_independent=True, generator=generator, device="cuda")
    assert _no_sync(lambda: sample_grid_mask(shape, cell=16, ratio=0.3, **common)).shape == shape
    assert _no_sync(lambda: sample_focal_mask(shape, scale=(0.3, 0.6), **common)).shape == shape


@pytest.mark.parametrize("seeded", [True, False])
def test_the_torch_path_makes_no_host_synchronization(monkeypatch: pytest.MonkeyPatch, seeded: bool) -> None:
    # its noise comes from a generator spawned from the state of the module's (or of the default
    # CUDA generator), read on the host
    monkeypatch.setenv("MASKAUG_DISABLE_TRITON", "1")
    generator = torch.Generator("cuda").manual_seed(0) if seeded else None
    mask = MSCNMask(layout="b c h w", cell=16, generator=generator)
    x = torch.randn(8, 3, 64, 64, device="cuda")
    assert _no_sync(lambda: mask(x)).shape == x.shape
    where = torch.rand(8, 1, 64, 64, device="cuda") < 0.3
    assert _no_sync(lambda: apply_mask(x, where, generator=generator)).shape == x.shape


def test_a_cpu_generator_makes_no_host_synchronization() -> None:
    # its draws go to the GPU from pinned memory, without waiting for the GPU
    mask = MSCNMask(layout="b c h w", cell=16, generator=torch.Generator().manual_seed(0), return_mask=True)
    x = torch.randn(8, 3, 64, 64, device="cuda")
    out, where = _no_sync(lambda: mask(x))
    assert out.device == x.device and where.device == x.device
    reference = MSCNMask(layout="b c h w", cell=16, generator=torch.Generator().manual_seed(0), return_mask=True)
    reference(x.cpu())  # the warm-up call of _no_sync
    assert torch.equal(reference(x.cpu())[1], where.cpu()), "the same masks as on the CPU, from the same generator"
