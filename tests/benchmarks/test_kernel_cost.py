"""The fused kernel's instruction count, compiled for an H100 on this machine (no GPU needed)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

pytest.importorskip("triton")
from benchmarks.masking import kernel_cost, tune  # noqa: E402

SHAPE = (2, 3, 64, 64)


def _nvidia_tools() -> bool:
    try:
        kernel_cost._tool("cuobjdump")
    except FileNotFoundError:
        return False
    return True


needs_tools = pytest.mark.skipif(not _nvidia_tools(), reason="Triton without its NVIDIA tools")


def test_noisy_share_counts_tiles_holding_a_masked_element():
    mask = torch.zeros(1, 5, 8, dtype=torch.bool)  # tiles of 2 x 4: 3 rows (the last padded) of 2
    mask[0, 0, 0] = True  # tile (0, 0)
    mask[0, 4, 7] = True  # tile (2, 1), in the padded last row of tiles
    assert kernel_cost.noisy_share(mask, 2, 4) == pytest.approx(2 / 6)
    assert kernel_cost.noisy_share(torch.ones(2, 3, 3, dtype=torch.bool), 2, 2) == 1.0


def test_launch_passes_what_the_draw_packs():
    calls = {call.mask: call for call in kernel_cost.CALLS}
    drawn = kernel_cost.launch(calls["MSCNMask"], (2, 3, 64, 64))
    # MSCNMask's defaults: 32-pixel cells read as bits, boxes per channel, noise
    assert drawn.constants == {"MASK": 3, "FOCAL": True, "NOISE": True, "INVERT": False}
    assert drawn.integers == {"channels": 3, "cell_channels": 3, "box_channels": 3, "grid_h": 2, "grid_w": 2,
                              "cell_h": 32}
    assert drawn.mask.shape == (2, 3, 64, 64) and drawn.mask.any()
    assert kernel_cost.launch(calls["MSCNMask"], (1, 3, 64, 1300)).constants["MASK"] == 2  # 41 cells a row
    assert kernel_cost.launch(calls["none"], SHAPE).mask is None


@pytest.fixture(scope="module")
def costs():
    setting = tune.SETTINGS[0]
    calls = {call.mask: call for call in kernel_cost.CALLS}
    drawn = kernel_cost.launch(calls["MSCNMask"], SHAPE)
    one_by_one = dataclasses.replace(drawn, constants={**drawn.constants, "MASK": 2})
    launches = {
        "high-pass": (calls["none"], kernel_cost.launch(calls["none"], SHAPE)),
        "dense noise": (calls["element"], kernel_cost.launch(calls["element"], SHAPE)),
        "cells as bits": (calls["MSCNMask"], drawn),
        "cells one by one": (calls["MSCNMask"], one_by_one),
    }
    return {name: kernel_cost.cost(call, masked, setting, SHAPE, 90, sigma=1.0)
            for name, (call, masked) in launches.items()}


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


def test_branches_without_an_address_or_subroutines_are_refused():
    with pytest.raises(RuntimeError, match="literal target"):
        kernel_cost._branches([(0x10, "BRX", "R2"), (0x20, "BRA", "R4")])
    with pytest.raises(RuntimeError, match="subroutine"):
        kernel_cost._branches([(0x10, "CALL.REL.NOINC", "0x100")])
    assert kernel_cost._branches([(0x30, "BRA.U", "!UP0, 0x10")]) == [(0x30, 0x10)]


@needs_tools
def test_main_writes_a_table(tmp_path):
    out = tmp_path / "cost.json"
    result = kernel_cost.main(["--batch", "1", "--size", "64", "--sigma", "1", "--settings", "1", "--out", str(out)])
    assert [row["call"] for row in result["rows"]] == [call.name for call in kernel_cost.CALLS]
    assert result["arch"] == "sm_90" and out.exists()
