"""``python -m benchmarks.imagenet pretrain --gpu-augment`` makes the views on the device."""

from __future__ import annotations

import json
import math
from pathlib import Path

from benchmarks.imagenet.cli import main
from benchmarks.imagenet.synthetic import write_image_folder


def test_pretrain_with_gpu_augment(tmp_path: Path) -> None:
    data = write_image_folder(tmp_path / "data", classes=3, train_per_class=8, val_per_class=2, size=(40, 32),
                              suffix=".jpg")
    out = tmp_path / "run"
    main(["pretrain", "--data", str(data), "--out", str(out), "--preset", "tiny", "--gpu-augment", "--canvas", "48",
          "--no-progress", "--device", "cpu"])
    settings = json.loads((out / "imagenet.json").read_text())
    assert settings["gpu_augment"] is True and (out / "checkpoint.pt").is_file()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    end = [r for r in records if r.get("event") == "end"]
    assert len(end) == 1 and end[0]["step"] == 3 and math.isfinite(end[0]["final_loss"])
