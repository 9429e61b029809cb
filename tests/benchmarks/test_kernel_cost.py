"""The fused kernel's instruction count, compiled for an H100 on this machine (no GPU needed)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")
from benchmarks.masking import kernel_cost, tune  # noqa: E402

SHAPE = (2, 3, 64, 64)


def _nvidia_tools() -> bool:
    try:
        kernel_cost._tool("cuobjdump")
    except SystemExit:
        return False
    return True


needs_tools = pytest.mark.skipif(not _nvidia_tools(), reason="Triton without its NVIDIA tools")


def test_noisy_share_counts_tiles_holding_a_masked_element():
    mask = torch.zeros(1, 5, 8, dtype=torch.bool)  # tiles of 2 x 4: 3 rows (the last padded) of 2
    mask[0, 0, 0] = True  # tile (0, 0)
    mask[0, 4, 7] = True  # tile (2, 1), in the padded last row of tiles
    assert kernel_cost.noisy_share(mask, 2, 4) == pytest.approx(2 / 6)
    assert kernel_cost.noisy_share(torch.ones(2, 3, 3, dtype=torch.bool), 2, 2) == 1.0


@pytest.fixture(scope="module")
def costs():
    setting = tune.SETTINGS[0]
    mask = kernel_cost.masks(SHAPE)["MSCNMask"]
    calls = {
        "high-pass": kernel_cost.Call("high-pass", True, 0, False, False),
        "dense noise": kernel_cost.Call("dense noise", True, 1, False, True),
        "cells as bits": kernel_cost.Call("MSCNMask", True, 3, True, True),
        "cells one by one": kernel_cost.Call("MSCNMask", True, 2, True, True),
    }
    return {name: kernel_cost.cost(call, setting, SHAPE, 90, None if name in ("high-pass", "dense noise") else mask,
                                   sigma=1.0)
            for name, call in calls.items()}


@needs_tools
def test_counts_follow_the_work(costs):
    assert costs["high-pass"]["noise_block"] == 0 and costs["high-pass"]["noisy_tiles"] is None
    assert costs["dense noise"]["noise_block"] > 100 and costs["dense noise"]["noisy_tiles"] == 1.0
    assert costs["high-pass"]["warp_instructions_m"] < costs["dense noise"]["warp_instructions_m"]
    assert 0 < costs["cells as bits"]["noisy_tiles"] < 1
    for row in costs.values():
        assert row["registers"] <= 128 and row["sass_instructions"] > 100


@needs_tools
def test_cells_read_as_bits_cost_fewer_instructions_than_cell_by_cell(costs):
    assert costs["cells as bits"]["warp_instructions_m"] < 0.97 * costs["cells one by one"]["warp_instructions_m"]


@needs_tools
def test_main_writes_a_table(tmp_path):
    out = tmp_path / "cost.json"
    result = kernel_cost.main(["--batch", "1", "--size", "64", "--sigma", "1", "--settings", "1", "--out", str(out)])
    assert [row["call"] for row in result["rows"]] == [call.name for call in kernel_cost.calls(64)]
    assert result["arch"] == "sm_90" and out.exists()
