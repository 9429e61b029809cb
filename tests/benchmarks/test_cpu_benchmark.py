"""Smoke test of the CPU masking benchmark: it runs with tiny settings and reports every row.

No assertion is made on the times themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = {
    "clone",
    "highpass k31",
    "highpass k11",
    "MSCNMask",
    "RandomErasing",
    "GaussianBlur(23)",
    "GaussianBlur(31)",
}
RATIOS = {
    "MSCNMask / clone",
    "MSCNMask / GaussianBlur(23)",
    "MSCNMask / RandomErasing",
    "highpass k31 / GaussianBlur(31)",
    "highpass k11 / highpass k31",
}
PIPELINE = {"input", "views_per_repeat", "simclr_views_per_s", "simclr_mscn_views_per_s", "mscn_cost_percent",
            "dataloader"}
LOADER = {"workers", "views_per_epoch", "epochs", "simclr_views_per_s", "simclr_mscn_views_per_s", "views_lost_percent",
          "views_lost_percent_of_pairs"}
METADATA = {"device", "torch", "torchvision", "maskaug", "threads", "date", "command", "repeats", "warmup", "batch"}


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, check=True, capture_output=True, text=True)
    return result.stdout


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The JSON path and printed table of one tiny run."""
    out = tmp_path_factory.mktemp("benchmark") / "cpu.json"
    printed = run("benchmarks.masking.cpu", "--repeats", "2", "--batch", "2", "--threads", "1", "--workers", "1",
                  "--out", str(out))
    return out, printed


def test_cpu_benchmark_writes_every_row(benchmark: tuple[Path, str]) -> None:
    out, printed = benchmark
    result = json.loads(out.read_text())

    assert METADATA <= result.keys()
    assert result["threads"] == 1 and result["batch"] == 2 and result["repeats"] == 2
    assert "--repeats 2 --batch 2" in result["command"]
    for kind in ("sample", "batch"):
        assert set(result["timings_ms"][kind]) == OPERATIONS
        assert all(ms > 0 for ms in result["timings_ms"][kind].values())
        assert set(result["ratios"][kind]) == RATIOS
    assert set(result["pipeline"]) == PIPELINE
    assert result["pipeline"]["simclr_views_per_s"] > 0 and result["pipeline"]["simclr_mscn_views_per_s"] > 0
    loader = result["pipeline"]["dataloader"]
    assert set(loader) == LOADER and loader["workers"] == 1 and loader["epochs"] == 2
    pairs = loader["views_lost_percent_of_pairs"]
    assert pairs["min"] <= pairs["q1"] <= pairs["median"] <= pairs["q3"] <= pairs["max"]
    assert "pairs of neighbouring epochs" in printed
    assert loader["simclr_views_per_s"] > 0 and loader["simclr_mscn_views_per_s"] > 0
    assert "in a DataLoader with 1 workers" in printed
    for name in OPERATIONS | RATIOS:
        assert name in printed


def test_docs_table_renders_a_fresh_result(benchmark: tuple[Path, str]) -> None:
    out, _ = benchmark
    table = run("docs.scripts.bench_table", str(out))
    for name in OPERATIONS | RATIOS:
        assert f"| {name} |" in table
    assert "views/s" in table and json.loads(out.read_text())["command"] in table
    assert "DataLoader, 1 worker process" in table and "in each pair of neighbouring epochs" in table
