"""On a GPU: the device path runs without host synchronization and matches its CPU run in statistics.

Skipped where CUDA is missing (the CPU tests cover the same code on CPU tensors).
"""

from __future__ import annotations

import pytest
import torch

from maskaug.adapters.gpu_augment import CanvasBatch, gpu_pretrain_views

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _batch(device: str) -> CanvasBatch:
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (64, 3, 96, 96), generator=g, dtype=torch.uint8)
    sizes = torch.tensor([[96, 96], [72, 96], [96, 64], [60, 80]] * 16)
    return CanvasBatch(pixels, sizes).to(device)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_cuda_views_make_no_host_synchronization(dtype: torch.dtype) -> None:
    views = gpu_pretrain_views(64, cell=16, dtype=dtype, generator=torch.Generator("cuda").manual_seed(0))
    batch = _batch("cuda")
    views(batch)  # warm-up: kernels load, Triton compiles
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = views(batch)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(v.device.type == "cuda" and v.dtype == dtype and v.shape == (64, 3, 64, 64) for v in out)


def test_cuda_and_cpu_views_have_the_same_statistics() -> None:
    per_device = []
    for device in ("cpu", "cuda"):
        views = gpu_pretrain_views(64, cell=16, fill="constant", value=50.0,
                                   generator=torch.Generator(device).manual_seed(0))
        out = torch.cat(views(_batch(device))).float().cpu()
        masked = out == 50.0
        kept = out[~masked]
        per_device.append(torch.stack([masked.float().mean(), kept.mean(), kept.std()]))
    cpu, cuda = per_device
    # 256 views each: the masked fraction within 0.03, the high-passed mean within 5% of the spread, the spread within 10%
    assert abs(cpu[0] - cuda[0]) < 0.03 and abs(cpu[1] - cuda[1]) < 0.05 * cpu[2]
    assert abs(cpu[2] / cuda[2] - 1) < 0.1


def test_pinned_batches_reach_the_device_intact_through_the_side_stream() -> None:
    batch = _batch("cpu")
    pinned = CanvasBatch(batch.pixels.pin_memory(), batch.sizes.pin_memory())
    busy = torch.randn(4096, 4096, device="cuda")
    for _ in range(8):  # queue work on the current stream that the copy may overlap
        busy = busy @ busy.T / 4096
    moved = pinned.to("cuda", non_blocking=True)
    checksum = moved.pixels.long().sum()  # runs on the current stream, after the copy
    assert torch.equal(moved.pixels.cpu(), batch.pixels) and torch.equal(moved.sizes.cpu(), batch.sizes)
    assert checksum.item() == batch.pixels.long().sum().item()
