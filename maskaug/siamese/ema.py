"""The EMA target update and its cosine momentum schedule (BYOL)."""

from __future__ import annotations

import math

import torch
from torch import nn


def ema_momentum(step: int, total_steps: int, base: float = 0.996) -> float:
    """BYOL's momentum ``1 - (1 - base) * (cos(pi * step / total_steps) + 1) / 2``.

    Rises from ``base`` at step 0 to 1 at ``total_steps``.

    Example:
        ```python
        ema_momentum(0, 100)    # 0.996
        ema_momentum(50, 100)   # 0.998
        ema_momentum(100, 100)  # 1.0
        ```
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps!r}")
    progress = min(max(step, 0), total_steps) / total_steps
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """In place: ``target_param = momentum * target_param + (1 - momentum) * online_param``.

    Buffers (BatchNorm running statistics) are copied from the online module. The two modules
    must have the same structure.
    """
    target_params = list(target.parameters())
    online_params = list(online.parameters())
    if len(target_params) != len(online_params):
        raise ValueError(
            f"target and online differ in structure: {len(target_params)} vs "
            f"{len(online_params)} parameters"
        )
    for t, o in zip(target_params, online_params):
        t.lerp_(o.detach(), 1.0 - momentum)
    for t, o in zip(target.buffers(), online.buffers()):
        t.copy_(o)
