"""LARS: SGD with momentum and a layer-wise trust ratio, skipping BatchNorm and biases."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer


def lars_param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Split a model's trainable parameters into LARS groups.

    One-dimensional parameters (BatchNorm weights and biases, every linear/conv bias) go into a
    group with ``lars_exclude=True``: no weight decay and no trust-ratio adaptation (SimCLR, BYOL).

    Returns:
        ``[{"params": [...]}, {"params": [...], "lars_exclude": True}]``
    """
    adapted, excluded = [], []
    for p in model.parameters():
        if p.requires_grad:
            (excluded if p.ndim <= 1 else adapted).append(p)
    return [{"params": adapted}, {"params": excluded, "lars_exclude": True}]


class LARS(Optimizer):
    """Layer-wise Adaptive Rate Scaling (You et al., 2017) as used by SimCLR and BYOL.

    For each parameter ``w`` with gradient ``g`` in a group without ``lars_exclude``::

        g = g + weight_decay * w
        g = g * eta * ||w|| / ||g||      (only when both norms are > 0)

    then, for every parameter, ``v = momentum * v + g`` and ``w = w - lr * v``. Parameters in a
    group with ``lars_exclude=True`` get plain SGD with momentum.

    Args:
        params: Parameters or groups, e.g. `lars_param_groups(model)`.
        lr: Learning rate.
        momentum: Momentum factor.
        weight_decay: L2 weight decay for the adapted parameters.
        eta: Trust coefficient.

    Example:
        ```python
        opt = LARS(lars_param_groups(model), lr=0.3, weight_decay=1e-6)
        ```
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        *,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 0.001,
    ) -> None:
        if lr < 0:
            raise ValueError(f"lr must be >= 0, got {lr!r}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        if eta <= 0:
            raise ValueError(f"eta must be > 0, got {eta!r}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "eta": eta,
            "lars_exclude": False,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # noqa: D102 - Optimizer.step
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if not group["lars_exclude"]:
                    g = g.add(p, alpha=group["weight_decay"])
                    w_norm = torch.linalg.vector_norm(p)
                    g_norm = torch.linalg.vector_norm(g)
                    trust = torch.where(
                        (w_norm > 0) & (g_norm > 0),
                        group["eta"] * w_norm / g_norm,
                        torch.ones_like(w_norm),
                    )
                    g = g.mul(trust)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                buf.mul_(group["momentum"]).add_(g)
                p.add_(buf, alpha=-group["lr"])
        return loss
