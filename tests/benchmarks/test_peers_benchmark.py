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


def test_targets_are_ratios_of_float32_image_rows_and_name_what_was_not_timed():
    def row(name: str, ms: float, dtype: str = "float32") -> dict:
        return {"group": "image", "name": name, "dtype": dtype, "median_ms": ms}

    rows = [row("clone", 0.1), row("highpass + MSCNMask", 0.45), row(peers.SEPARABLE, 4.0),
            row("highpass + MSCNMask", 0.01, "bfloat16"), {"group": "image", "name": "kornia RandomErasing",
                                                            "dtype": "float32", "skipped": "kornia is not installed"}]
    found = {t["ratio"]: t for t in peers.targets(rows)}
    assert [t["ratio"] for t in found.values()] == [f"{a} / {b}" for a, b, _ in peers.TARGETS]
    floor = found["highpass + MSCNMask / clone"]
    assert abs(floor["measured"] - 4.5) < 1e-9 and floor["met"] is True
    separable = found[f"highpass + MSCNMask / {peers.SEPARABLE}"]
    assert abs(separable["measured"] - 0.1125) < 1e-9 and separable["met"] is True
    kornia = found["highpass + MSCNMask / kornia RandomErasing"]
    assert kornia["measured"] is None and kornia["met"] is None and kornia["missing"] == ["kornia RandomErasing"]
    assert "not measured (kornia RandomErasing not timed)" in peers.describe_target(kornia)
    assert peers.describe_target(floor).endswith("met") and "NOT" not in peers.describe_target(floor)
