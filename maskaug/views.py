"""Multi-view helpers: K views of one input and the pairs a siamese loss runs over.

MSCN uses two standard views plus two extra masked views at the same resolution, with masks on
every view at different strengths (asymmetric branches), and a loss on every pair of views.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from maskaug._checks import check_view_ratios
from maskaug.policy import MSCNMask

View = Callable[[torch.Tensor], torch.Tensor]

#: Masking ratios of MSCN's four views: the two standard views differ in strength (asymmetric
#: branches, averaging the paper's 15%), the two extra views use the paper's 15%.
MSCN_RATIOS = (0.10, 0.20, 0.15, 0.15)


def all_pairs(n_views: int) -> list[tuple[int, int]]:
    """Every unordered pair ``(i, j)``, ``i < j``, of ``n_views`` views.

    Example:
        ```python
        from maskaug import all_pairs

        assert all_pairs(3) == [(0, 1), (0, 2), (1, 2)]
        ```
    """
    return list(itertools.combinations(range(n_views), 2))


class MultiView(nn.Module):
    """Make K views of one input and carry the view pairs the loss runs over.

    Args:
        views: one callable per view (an augmentation pipeline ending in an ``MSCNMask``, say).
            Each is called once per forward, so random pipelines give different views.
        pairs: the ``(i, j)`` view pairs for the loss; default every pair.
        shared: an optional callable applied once before the views, its result shared by all of
            them (the paper's "masks on one shared augmented view" ablation).

    Shape:
        - input: whatever the view callables take.
        - output: a list of K tensors.

    Example:
        ```python
        import torch
        from maskaug import MSCNMask, MultiView

        views = MultiView([MSCNMask(layout="c h w", ratio=r) for r in (0.1, 0.2)])
        a, b = views(torch.randn(3, 64, 64))
        assert views.pairs == [(0, 1)]
        ```
    """

    def __init__(
        self,
        views: Sequence[View],
        *,
        pairs: Sequence[tuple[int, int]] | None = None,
        shared: View | None = None,
    ):
        super().__init__()
        if len(views) < 2:
            raise ValueError(f"views must hold at least 2 view callables, got {len(views)}")
        for i, view in enumerate(views):
            if not callable(view):
                raise TypeError(f"views[{i}] must be callable, got {type(view).__name__}")
        if shared is not None and not callable(shared):
            raise TypeError(f"shared must be callable or None, got {type(shared).__name__}")
        self.views = nn.ModuleList([_as_module(v) for v in views])
        self.shared = None if shared is None else _as_module(shared)
        self.pairs = all_pairs(len(views)) if pairs is None else _check_pairs(pairs, len(views))

    def forward(self, x: Any) -> list[torch.Tensor]:
        if self.shared is not None:
            x = self.shared(x)
        return [view(x) for view in self.views]

    def extra_repr(self) -> str:
        return f"n_views={len(self.views)}, pairs={self.pairs}, shared={self.shared is not None}"


def _check_pairs(pairs: Sequence[tuple[int, int]], n_views: int) -> list[tuple[int, int]]:
    out = []
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(i, int) and not isinstance(i, bool) for i in pair):
            raise TypeError(f"pairs must hold (i, j) int pairs, got {pair!r}")
        i, j = pair
        if not (0 <= i < n_views and 0 <= j < n_views) or i == j:
            raise ValueError(f"pair {pair!r} must name two different views in [0, {n_views})")
        if (i, j) in out or (j, i) in out:
            raise ValueError(f"pairs names views {i} and {j} twice (the loss would count the pair twice)")
        out.append((i, j))
    if not out:
        raise ValueError("pairs must not be empty")
    return out


def mscn_views(
    augment: View | None = None,
    *,
    ratios: Sequence[float | tuple[float, float]] = MSCN_RATIOS,
    share_augment: bool = False,
    generator: torch.Generator | None = None,
    **mask_options: Any,
) -> MultiView:
    """MSCN's views: ``augment`` then an `MSCNMask` per view, one ratio per view.

    The default gives four views (two standard, two extra) at ratios 0.10, 0.20, 0.15 and 0.15,
    with the loss on every pair. Masks come after every other augmentation, as in the paper.

    Args:
        augment: the standard augmentation (ending with normalization); drawn afresh per view.
            ``None`` for masks only.
        ratios: one masking ratio (or range) per view; its length is the number of views.
        share_augment: apply ``augment`` once and mask that one view K times (the ablation the
            paper shows to be much worse: 29.1% against 65.6%).
        generator: shared by every view's mask.
        **mask_options: passed to every `MSCNMask` (``layout``, ``cell``, ...).

    Example:
        ```python
        import torch
        from maskaug import mscn_views

        views = mscn_views(layout="c h w", cell=8, highpass_sigma=1.0)
        out = views(torch.randn(3, 32, 32))
        assert len(out) == 4 and len(views.pairs) == 6
        ```
    """
    ratios = check_view_ratios(ratios)
    masks = [MSCNMask(ratio=r, generator=generator, **mask_options) for r in ratios]
    if augment is None or share_augment:
        return MultiView(masks, shared=augment)
    return MultiView([nn.Sequential(_as_module(augment), m) for m in masks])


class _Call(nn.Module):
    """A plain callable as a module, so views move, pickle and print like modules."""

    def __init__(self, fn: View):
        super().__init__()
        self.fn = fn

    def forward(self, x: Any) -> Any:
        return self.fn(x)

    def extra_repr(self) -> str:
        return repr(self.fn)


def _as_module(fn: View) -> nn.Module:
    return fn if isinstance(fn, nn.Module) else _Call(fn)
