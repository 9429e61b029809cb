import json
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from benchmarks.digits import Preset, main, run  # noqa: E402
from benchmarks.digits.run import table  # noqa: E402

MICRO = Preset(epochs=1, batch_size=64, width=4, image_size=16, train_limit=256, probe_epochs=40, knn_k=10)


def test_main_job_runs_end_to_end(tmp_path: Path) -> None:
    rows = run(MICRO, out=tmp_path, seed=0)
    assert [r["method"] for r in rows] == ["SimCLR (no masks)", "SimCLR + MSCN"]
    for r in rows:
        # ten balanced classes: chance is 10%
        assert r["knn_top1"] > 0.3 and r["linear_top1"] > 0.3, r
        assert r["views_per_s"] > 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["method"] for r in saved["rows"]] == [r["method"] for r in rows]
    markdown = (tmp_path / "results.md").read_text()
    assert table(rows) in markdown
    assert "| SimCLR (no masks) |" in markdown and "| SimCLR + MSCN |" in markdown


def test_command_line_rejects_bad_epochs() -> None:
    with pytest.raises(SystemExit):
        main(["--epochs", "0"])
