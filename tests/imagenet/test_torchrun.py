"""The evaluation steps under ``torchrun`` with 2 CPU ranks (gloo): DDP training, sharded evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_linear_probe_under_torchrun(toy: Path, pretrained: Path, tmp_path: Path) -> None:
    out = tmp_path / "linear"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "benchmarks.imagenet", "linear", "--data", str(toy), "--pretrained", str(pretrained),
               "--out", str(out), "--preset", "tiny", "--epochs", "1", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["images"] == 12  # both ranks' shards of the 12 val images, summed
    assert results["steps"] == 3  # 24 images, global batch 8 split over 2 ranks
    assert "linear: top-1" in done.stdout
