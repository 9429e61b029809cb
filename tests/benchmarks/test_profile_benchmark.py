"""Smoke test of the masking profile: each half of an MSCNMask call is timed and its operations counted."""

from __future__ import annotations

import json

from benchmarks.masking import profile


def test_profile_times_the_call_and_counts_its_operations(tmp_path, capsys):
    out = tmp_path / "profile.json"
    profile.main(["--device", "cpu", "--batch", "2", "--size", "32", "--repeats", "2", "--warmup", "1",
                  "--out", str(out)])
    result = json.loads(out.read_text())
    rows = {row["name"]: row for row in result["rows"]}
    whole, draw = rows["MSCNMask (high-pass, masks, noise fill)"], rows["draw the masks"]
    for row in (whole, draw):
        assert row["issue_ms"] > 0 and row["isolated_ms"] > 0 and row["pipelined_ms"] > 0
        assert row["launches"] >= 1 and row["top_us"]
    # the whole call issues the draw and more
    assert whole["launches"] > draw["launches"]
    assert "aten::bmm" in whole["top_us"]  # the CPU high-pass
    assert result["shape"] == [2, 3, 32, 32] and "draw the masks" in capsys.readouterr().out
