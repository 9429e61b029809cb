"""Projection and prediction heads, and the online network that carries them."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def mlp(dims: Sequence[int], *, last_bn: bool) -> nn.Sequential:
    """An MLP head: ``Linear -> BN -> ReLU`` between layers (linears before a BN have no bias).

    Args:
        dims: Widths, input first: ``(2048, 2048, 256)`` gives two linear layers.
        last_bn: Put a BatchNorm after the last linear too (SimCLR) or nothing (BYOL).

    Returns:
        The head as an ``nn.Sequential``.

    Shape:
        ``(N, dims[0]) -> (N, dims[-1])``

    Example:
        ```python
        head = mlp((512, 2048, 256), last_bn=True)
        head(torch.randn(8, 512)).shape  # (8, 256)
        ```
    """
    if len(dims) < 2 or any(d < 1 for d in dims):
        raise ValueError(f"dims must hold >= 2 positive widths, got {tuple(dims)!r}")
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        last = i == len(dims) - 2
        with_bn = not last or last_bn
        layers.append(nn.Linear(d_in, d_out, bias=not with_bn))
        if not last:
            layers += [nn.BatchNorm1d(d_out), nn.ReLU(inplace=True)]
        elif last_bn:
            layers.append(nn.BatchNorm1d(d_out))
    return nn.Sequential(*layers)


def simclr_projector(in_dim: int = 2048, hidden_dim: int = 2048, out_dim: int = 256) -> nn.Sequential:
    """SimCLR's projector, 2048-2048-256 with BatchNorm after every layer (MSCN section 4)."""
    return mlp((in_dim, hidden_dim, out_dim), last_bn=True)


def byol_projector(in_dim: int = 2048, hidden_dim: int = 4096, out_dim: int = 256) -> nn.Sequential:
    """BYOL's projector, 2048-4096-256: BN and ReLU between, nothing after the last linear."""
    return mlp((in_dim, hidden_dim, out_dim), last_bn=False)


def byol_predictor(dim: int = 256, hidden_dim: int = 4096) -> nn.Sequential:
    """BYOL's predictor, 256-4096-256: BN and ReLU between, nothing after the last linear."""
    return mlp((dim, hidden_dim, dim), last_bn=False)


class SiameseNetwork(nn.Module):
    """Backbone, projector, optional predictor and optional online linear classifier.

    The classifier reads *detached* backbone features, so its loss trains only itself.

    Args:
        backbone: Maps a batch of inputs to features ``(N, D)``.
        projector: Maps ``(N, D)`` to embeddings ``(N, E)``.
        predictor: BYOL's predictor ``(N, E) -> (N, E)``, or ``None``.
        classifier: A linear layer ``(N, D) -> (N, classes)``, or ``None``.

    Shape:
        ``forward(x)`` with ``x`` of shape ``(N, ...)`` returns ``(features (N, D),
        projections (N, E), predictions (N, E) or None, logits (N, classes) or None)``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        projector: nn.Module,
        predictor: nn.Module | None = None,
        classifier: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = projector
        self.predictor = predictor
        self.classifier = classifier

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        features = self.backbone(x)
        if features.ndim != 2:
            raise ValueError(
                f"the backbone must return features of shape (N, D), got {tuple(features.shape)}"
            )
        projections = self.projector(features)
        predictions = None if self.predictor is None else self.predictor(projections)
        logits = None if self.classifier is None else self.classifier(features.detach())
        return features, projections, predictions, logits


class TargetNetwork(nn.Module):
    """BYOL's target branch: a backbone and a projector, updated only by EMA.

    Shape:
        ``(N, ...) -> (N, E)``
    """

    def __init__(self, backbone: nn.Module, projector: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = projector
        self.requires_grad_(False)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        return self.projector(self.backbone(x))
