"""Siamese losses as pure functions: NT-Xent, BYOL regression, and their mean over view pairs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .distributed import gather_with_grad, rank_and_world


def nt_xent_loss(z1: Tensor, z2: Tensor, *, temperature: float = 0.2, gather: bool = True) -> Tensor:
    """InfoNCE / NT-Xent between two views, negatives taken from every rank.

    Each of the ``2N`` local embeddings is an anchor; its positive is the other view of the same
    sample and its negatives are the other ``2M - 2`` embeddings of the global batch (``M`` samples
    over all ranks), gathered with a gradient-preserving all-gather. Under DDP, the mean of this
    loss over ranks (what DDP's gradient averaging optimises) equals the single-process loss on
    the global batch.

    Args:
        z1: Embeddings of the first view, ``(N, E)``.
        z2: Embeddings of the second view, ``(N, E)``; row ``i`` pairs with ``z1[i]``.
        temperature: Softmax temperature (MSCN / SimCLR: 0.2).
        gather: Gather negatives from all ranks when a process group is initialised.

    Returns:
        The mean loss over the local anchors, a scalar.

    Shape:
        ``z1, z2: (N, E) -> ()``

    Example:
        ```python
        loss = nt_xent_loss(torch.randn(8, 16), torch.randn(8, 16), temperature=0.2)
        ```
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(
            f"z1 and z2 must both have shape (N, E), got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    n = z1.shape[0]
    z = torch.cat([z1, z2])
    local = F.normalize(z.to(torch.promote_types(z.dtype, torch.float32)), dim=1)  # (2N, E)
    rank, world = rank_and_world() if gather else (0, 1)
    if world > 1:
        everyone = gather_with_grad(local.unflatten(0, (2, n)))  # (world, 2, N, E)
        keys = everyone.transpose(0, 1).flatten(0, 2)  # view 1 of all ranks, then view 2
    else:
        keys = local
    m = keys.shape[0] // 2
    own = torch.arange(n, device=z1.device) + rank * n
    self_index = torch.cat([own, own + m])  # where each anchor sits among the keys
    positive_index = torch.cat([own + m, own])
    logits = local @ keys.T / temperature  # (2N, 2M)
    logits[torch.arange(2 * n, device=z1.device), self_index] = float("-inf")
    return F.cross_entropy(logits, positive_index)


def byol_loss(p1: Tensor, p2: Tensor, t1: Tensor, t2: Tensor) -> Tensor:
    """BYOL's symmetric normalised regression loss.

    ``mean_i ||p1_i/|p1_i| - t2_i/|t2_i|||^2 + mean_i ||p2_i/|p2_i| - t1_i/|t1_i|||^2``, i.e.
    ``(2 - 2 cos(p1, t2)) + (2 - 2 cos(p2, t1))`` averaged over the batch. The targets are
    treated as constants.

    Args:
        p1: Online predictions of view 1, ``(N, E)``.
        p2: Online predictions of view 2, ``(N, E)``.
        t1: Target projections of view 1, ``(N, E)``.
        t2: Target projections of view 2, ``(N, E)``.

    Returns:
        A scalar in ``[0, 8]``.

    Shape:
        ``(N, E) x 4 -> ()``
    """
    shapes = {tuple(t.shape) for t in (p1, p2, t1, t2)}
    if len(shapes) != 1 or p1.ndim != 2:
        raise ValueError(f"p1, p2, t1, t2 must share one shape (N, E), got {sorted(shapes)}")

    def regress(p: Tensor, t: Tensor) -> Tensor:
        dtype = torch.promote_types(p.dtype, torch.float32)
        cos = F.cosine_similarity(p.to(dtype), t.detach().to(dtype), dim=1)
        return (2 - 2 * cos).mean()

    return regress(p1, t2) + regress(p2, t1)


def multi_pair_loss(
    pair_loss: Callable[[int, int], Tensor], pairs: Sequence[tuple[int, int]]
) -> Tensor:
    """The mean of ``pair_loss(i, j)`` over the given view pairs (MSCN's multi-view loss).

    Args:
        pair_loss: Loss between views ``i`` and ``j``, e.g.
            ``lambda i, j: nt_xent_loss(z[i], z[j])``.
        pairs: The ``(i, j)`` index pairs, e.g. ``maskaug.all_pairs(4)`` for 2 standard + 2 masked views.

    Returns:
        The mean pairwise loss, a scalar.
    """
    if len(pairs) == 0:
        raise ValueError("pairs must not be empty")
    return torch.stack([pair_loss(i, j) for i, j in pairs]).mean()
