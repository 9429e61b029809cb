"""The results page's tables and plots come from the result files, whatever files exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docs.scripts import results

PEERS = {
    "device": "Some GPU", "device_type": "cuda", "torch": "2.11.0", "maskaug": "0.1.0", "fused_path": True,
    "date": "2026-01-01 00:00 UTC", "command": "python -m benchmarks.masking.peers", "repeats": 20, "warmup": 5,
    "rows": [
        {"group": "image", "name": "clone", "dtype": "float32", "shape": [256, 3, 224, 224], "median_ms": 0.08, "x_floor": 1.0},
        {"group": "image", "name": "highpass + MSCNMask", "dtype": "float32", "shape": [256, 3, 224, 224],
         "median_ms": 0.3, "x_floor": 3.75},
        {"group": "image", "name": "timm RandomErasing pixel", "dtype": "float32", "shape": [256, 3, 224, 224],
         "skipped": "timm is not installed"},
        {"group": "image", "name": "clone", "dtype": "bfloat16", "shape": [256, 3, 224, 224], "median_ms": 0.05, "x_floor": 1.0},
    ],
    "targets": [{"ratio": "highpass + MSCNMask / clone", "measured": 3.75, "at_most": 5.0, "met": True},
                {"ratio": "highpass + MSCNMask / kornia RandomErasing", "measured": None, "at_most": 0.4, "met": None,
                 "missing": ["kornia RandomErasing"]}],
}


def test_peers_table_names_device_date_command_and_skips() -> None:
    text = results.peers_markdown(PEERS)
    for needle in ("Some GPU", "2026-01-01 00:00 UTC", "python -m benchmarks.masking.peers", "| highpass + MSCNMask | 0.300 |",
                   "timm is not installed", "float32 (ms) | float32 x floor | bfloat16 (ms)", "| highpass + MSCNMask / clone | 3.750 | 5.000 | yes |",
                   "| highpass + MSCNMask / kornia RandomErasing | - | 0.400 | not measured (kornia RandomErasing not timed) |"):
        assert needle in text, needle


def test_peers_plot_is_a_png() -> None:
    assert results.png(results.peers_figure(PEERS)).startswith(b"\x89PNG")


def test_blocks_follow_the_files_and_say_when_a_run_is_pending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "MASKING", tmp_path)
    page = "# Results\n\n<!-- results:peers -->\n\ntext\n"
    assert "*Pending*" in results.blocks(page)
    (tmp_path / "peers-cuda.json").write_text(json.dumps(PEERS))
    text = results.blocks(page, page_depth=1)
    assert "### Some GPU" in text and "](../assets/results/peers-cuda.png)" in text and "<!--" not in text
    assert set(results.plots()) >= {"peers-cuda.png"}
