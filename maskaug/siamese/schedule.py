"""Per-step learning-rate schedule: linear warm-up, then cosine decay."""

from __future__ import annotations

import math
from typing import Any

from torch.optim import Optimizer


def warmup_cosine(step: int, *, total_steps: int, warmup_steps: int, peak: float, final: float = 0.0) -> float:
    """The LR at ``step``: linear from ``peak / warmup_steps`` up to ``peak``, then cosine to ``final``.

    Example:
        ```python
        warmup_cosine(0, total_steps=100, warmup_steps=10, peak=1.0)   # 0.1
        warmup_cosine(9, total_steps=100, warmup_steps=10, peak=1.0)   # 1.0
        warmup_cosine(55, total_steps=100, warmup_steps=10, peak=1.0)  # 0.5
        ```
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps!r}")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps must be in [0, {total_steps}], got {warmup_steps!r}")
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min(step - warmup_steps, decay_steps) / decay_steps
    return final + (peak - final) * (1 + math.cos(math.pi * progress)) / 2


class WarmupCosine:
    """Sets every group's ``lr`` of an optimizer to `warmup_cosine` times the group's scale.

    Call `step` once per optimizer step, before it. A group may hold ``lr_scale`` (default 1).

    Args:
        optimizer: The optimizer whose groups to drive.
        total_steps: Schedule length in steps.
        warmup_steps: Warm-up length in steps.
        peak: LR after warm-up.
        final: LR at the end.
    """

    def __init__(
        self, optimizer: Optimizer, *, total_steps: int, warmup_steps: int, peak: float, final: float = 0.0
    ) -> None:
        warmup_cosine(0, total_steps=total_steps, warmup_steps=warmup_steps, peak=peak, final=final)
        self.optimizer = optimizer
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.peak = peak
        self.final = final
        self.last_step = -1

    def step(self) -> float:
        """Advance one step and apply its LR; returns the LR."""
        self.last_step += 1
        lr = warmup_cosine(
            self.last_step,
            total_steps=self.total_steps,
            warmup_steps=self.warmup_steps,
            peak=self.peak,
            final=self.final,
        )
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        return lr

    def state_dict(self) -> dict[str, Any]:
        """The schedule's parameters and position."""
        return {
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "peak": self.peak,
            "final": self.final,
            "last_step": self.last_step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict`'s position and parameters."""
        self.total_steps = state["total_steps"]
        self.warmup_steps = state["warmup_steps"]
        self.peak = state["peak"]
        self.final = state["final"]
        self.last_step = state["last_step"]
