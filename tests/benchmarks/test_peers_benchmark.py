"""Smoke test of the peers benchmark: every row runs (or says why not) and lands in the JSON."""

from __future__ import annotations

import json

from benchmarks.masking import peers


def test_peers_benchmark_runs_every_row(tmp_path):
    out = tmp_path / "peers.json"
    peers.main([
        "--device", "cpu", "--batch", "2", "--size", "64", "--spec-batch", "2", "--spec-freq", "32",
        "--spec-time", "100", "--dtypes", "float32", "--repeats", "1", "--warmup", "0", "--out", str(out),
    ])
    result = json.loads(out.read_text())
    names = {row["name"] for row in result["rows"]}
    for expected in ("clone", "highpass, grouped separable conv2d k31", "highpass, maskaug torch path",
                     "highpass + MSCNMask, torch path",
                     "torchvision gaussian_blur k31 high-pass", "kornia RandomErasing", "timm RandomErasing pixel",
                     "torchvision v2 RandomErasing (per-sample loop)", "torchaudio FrequencyMasking + TimeMasking",
                     "maskaug grid mask, fill 0 (b c f t)"):
        assert expected in names
    timed = [row for row in result["rows"] if "median_ms" in row]
    assert all(row["median_ms"] > 0 for row in timed)
    assert result["device_type"] == "cpu" and result["command"].startswith("python -m benchmarks.masking.peers")


def test_the_separable_conv_peer_computes_the_same_high_pass():
    import torch

    from maskaug import highpass

    x = torch.randn(2, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(peers.separable_conv_highpass(x, 5.0), highpass(x, 5.0), atol=1e-5, rtol=1e-5)
