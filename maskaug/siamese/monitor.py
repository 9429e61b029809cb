"""Run monitoring on rank 0: a progress line with views/s and ETA, JSONL and TensorBoard logs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

try:
    from tqdm.auto import tqdm
except ImportError:  # tqdm is optional
    tqdm = None

try:
    from torch.utils.tensorboard import SummaryWriter
except ImportError:  # tensorboard is optional
    SummaryWriter = None


def format_seconds(seconds: float) -> str:
    """``3725 -> "1:02:05"``."""
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """A progress line over optimizer steps showing views/s and the ETA.

    Uses tqdm when installed, otherwise rewrites one line on ``stream``.

    Args:
        total_steps: Steps of the whole run.
        start_step: Steps already done (a resumed run).
        enabled: False makes every call a no-op (ranks other than 0).
        stream: Where to write.
    """

    def __init__(
        self,
        total_steps: int,
        *,
        start_step: int = 0,
        enabled: bool = True,
        stream: TextIO = sys.stderr,
    ) -> None:
        self.total_steps = total_steps
        self.step = start_step
        self.views = 0
        self.enabled = enabled
        self.stream = stream
        self._start_time = time.perf_counter()
        self._start_step = start_step
        self._bar = None
        if enabled and tqdm is not None:
            self._bar = tqdm(total=total_steps, initial=start_step, unit="step", file=stream, dynamic_ncols=True)

    @property
    def views_per_second(self) -> float:
        """Views per second since this object was made."""
        elapsed = time.perf_counter() - self._start_time
        return self.views / max(elapsed, 1e-9)

    def update(self, views: int, **metrics: float) -> None:
        """Count one step of ``views`` views (over all ranks) and show ``metrics`` (``loss=...``)."""
        self.step += 1
        self.views += views
        if not self.enabled:
            return
        fields = {"views/s": f"{self.views_per_second:.0f}"}
        fields.update({k: f"{v:.4g}" for k, v in metrics.items()})
        if self._bar is not None:
            self._bar.set_postfix(fields, refresh=False)
            self._bar.update(1)
            return
        done = self.step - self._start_step
        elapsed = time.perf_counter() - self._start_time
        eta = elapsed / max(done, 1) * (self.total_steps - self.step)
        text = " ".join(f"{k} {v}" for k, v in fields.items())
        self.stream.write(f"\rstep {self.step}/{self.total_steps} {text} eta {format_seconds(eta)}   ")
        self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            self.stream.write("\n")
            self.stream.flush()


class MetricsLog:
    """Appends one JSON object per record to ``metrics.jsonl``; mirrors scalars to TensorBoard.

    Args:
        out_dir: Folder of ``metrics.jsonl`` (and ``tensorboard/`` when TensorBoard is installed).
        enabled: False makes every call a no-op (ranks other than 0).
    """

    def __init__(self, out_dir: str | Path, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.path = Path(out_dir) / "metrics.jsonl"
        self._writer = None
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if SummaryWriter is not None:
                self._writer = SummaryWriter(str(Path(out_dir) / "tensorboard"))

    def write(self, record: dict[str, Any], *, step: int) -> None:
        """Append ``{"step": step, **record}``."""
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, **record}) + "\n")
        if self._writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._writer.add_scalar(key, value, step)

    def close(self) -> None:
        """Flush TensorBoard."""
        if self._writer is not None:
            self._writer.close()
