"""Smoke test of the throughput script with tiny settings: every row is measured and written.

No assertion is made on the rates themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.imagenet.throughput import main


def test_throughput_reports_loader_and_model_rows(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    main(["--arch", "resnet18", "--images", "10", "--source-size", "64", "48", "--size", "32", "--cell", "8",
          "--batch", "4", "--workers", "0", "--loader-batches", "2", "--model-steps", "2", "--device", "cpu",
          "--out", str(out)])
    result = json.loads(out.read_text())
    names = [row["what"] for row in result["rows"]]
    assert len(names) == 4 and names[-1].startswith("model step: resnet18 SimCLR, 4 views x 4")
    assert sum("DataLoader" in n for n in names) == 3 and any("masks" in n and "no masks" not in n for n in names)
    assert all(row["views_per_s"] > 0 for row in result["rows"])
    assert result["device"] == "cpu"
