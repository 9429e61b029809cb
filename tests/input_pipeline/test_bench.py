"""Smoke test of the input-pipeline benchmark with tiny settings: every row is measured and written.

No assertion is made on the rates themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.input_pipeline.bench import main


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
