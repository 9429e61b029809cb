"""The recipe pages: their code snippets run, their results blocks match the committed JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.modalities import report
from benchmarks.modalities.common import markdown

PAGES = [report.PAGES / f"{name}.md" for name in ("spectrogram", "video", "rgbd")]


def _snippets(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_snippets_run(page: Path) -> None:
    snippets = _snippets(page)
    assert len(snippets) == 2  # a DataLoader worker and a GPU batch
    for code in snippets:
        exec(compile(code, str(page), "exec"), {})


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_results_blocks_are_up_to_date(page: Path) -> None:
    text = page.read_text()
    assert f"<!-- results:{page.stem}-cpu -->" in text and f"<!-- results:{page.stem}-gpu -->" in text
    assert report.render(text) == text, "run python -m benchmarks.modalities.report"


def test_report_renders_json_or_pending(tmp_path: Path) -> None:
    page = "a\n<!-- results:video-cpu -->\nold\n<!-- /results -->\nb\n"
    assert "*Pending*" in report.render(page, results=tmp_path) and "old" not in report.render(page, results=tmp_path)
    result = {
        "modality": "video", "preset": "cpu", "settings": {"epochs": 2, "batch_size": 8}, "seeds": [0, 1],
        "data": "clips", "device": "CPU: test", "threads": 2, "torch": "2", "date": "today",
        "command": "python -m benchmarks.modalities.video --preset cpu",
        "rows": [
            {"method": "m", "knn_top1": 0.5, "linear_top1": 0.6, "views_per_s": 10.0},
            {"method": "m", "knn_top1": 0.7, "linear_top1": 0.6, "views_per_s": 30.0},
        ],
    }
    (tmp_path / "video-cpu.json").write_text(json.dumps(result))
    rendered = report.render(page, results=tmp_path)
    assert markdown(result) in rendered and rendered.startswith("a\n") and rendered.endswith("b\n")
    assert "| m | 60.0% (range 20.0) | 60.0% (range 0.0) | 20 |" in rendered
    assert "python -m benchmarks.modalities.video --preset cpu" in rendered and "CPU: test" in rendered
