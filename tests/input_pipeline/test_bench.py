"""Smoke tests of the input-pipeline benchmarks with tiny settings: every row is measured and written.

No assertion is made on the rates themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.input_pipeline.bench import main
from benchmarks.input_pipeline.kornia_compare import main as compare_main


def test_bench_reports_model_cpu_and_device_paths(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    main(["--arch", "resnet18", "--images", "10", "--source-size", "64", "48", "--size", "32", "--cell", "8",
          "--canvas", "64", "--batch", "2", "--workers", "0", "--steps", "1", "--no-compile", "--device", "cpu",
          "--out", str(out)])
    result = json.loads(out.read_text())
    assert set(result["rows"]) == {"model", "cpu_path", "gpu_path", "gpu_augment"}
    assert all(row["views_per_s"] > 0 and row["steps"] == 1 for row in result["rows"].values())
    assert result["device"] == "cpu" and result["settings"]["arch"] == "resnet18"
    assert result["command"].startswith("python -m benchmarks.input_pipeline.bench --arch resnet18")
    assert set(result["targets"]) == {"gpu_path / model", "gpu_path / cpu_path", "met"}
    assert "T" in result["date"]


def test_kornia_comparison_reports_both_pipelines(tmp_path: Path) -> None:
    pytest.importorskip("kornia")
    out = tmp_path / "compare.json"
    compare_main(["--views", "2", "--size", "16", "--source-size", "40", "30", "--repeats", "1", "--device", "cpu",
                  "--out", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert rows[0]["what"].startswith("maskaug") and rows[-1]["what"].startswith("kornia")
    assert all(row["views_per_s"] > 0 for row in rows)
