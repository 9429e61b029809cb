import io
import json

from maskaug.siamese import MetricsLog, Progress
from maskaug.siamese import monitor


def test_fallback_progress_line(monkeypatch) -> None:
    monkeypatch.setattr(monitor, "tqdm", None)
    stream = io.StringIO()
    progress = Progress(10, start_step=2, stream=stream)
    progress.update(64, loss=1.5)
    progress.close()
    text = stream.getvalue()
    assert "step 3/10" in text and "views/s" in text and "eta" in text and "loss 1.5" in text
    assert progress.views == 64


def test_metrics_are_appended_as_json_lines(tmp_path) -> None:
    log = MetricsLog(tmp_path)
    log.write({"loss": 1.0}, step=1)
    log.write({"loss": 0.5, "epoch": 0}, step=2)
    log.close()
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines == [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5, "epoch": 0}]
    MetricsLog(tmp_path / "off", enabled=False).write({"loss": 1.0}, step=1)
    assert not (tmp_path / "off").exists()
