"""MultiView and the MSCN view helper."""

from __future__ import annotations

import pickle

import pytest
import torch

from maskaug import MSCNMask, MultiView, all_pairs, mscn_views
from maskaug.views import MSCN_RATIOS


def test_all_pairs():
    assert all_pairs(2) == [(0, 1)]
    assert len(all_pairs(4)) == 6


def test_views_are_independent_draws_with_their_own_strengths():
    views = mscn_views(layout="c h w", cell=4, highpass_sigma=1.0, focal_prob=0.0, channel_independent_prob=0.0,
                       fill="constant", return_mask=True, generator=torch.Generator().manual_seed(0))
    out = views(torch.randn(3, 40, 40))
    assert len(out) == len(MSCN_RATIOS) and views.pairs == all_pairs(4)
    counts = [int(mask.sum()) // 16 for _, mask in out]
    assert counts == [round(r * 100) for r in MSCN_RATIOS]


def test_augment_is_drawn_per_view_unless_shared():
    calls = []

    def augment(x):
        calls.append(1)
        return x + torch.randn(())

    x = torch.zeros(1, 16, 16)
    separate = mscn_views(augment, ratios=(0.0, 0.0), layout="c h w", highpass_sigma=None, focal_prob=0.0)
    a, b = separate(x)
    assert len(calls) == 2 and not torch.equal(a, b)
    calls.clear()
    shared = mscn_views(augment, ratios=(0.0, 0.0), layout="c h w", highpass_sigma=None, focal_prob=0.0,
                        share_augment=True)
    a, b = shared(x)
    assert len(calls) == 1 and torch.equal(a, b)


def test_custom_pairs_and_modules_pickle():
    views = MultiView([MSCNMask(cell=4, highpass_sigma=None), MSCNMask(cell=4, highpass_sigma=None),
                       MSCNMask(cell=4, highpass_sigma=None)], pairs=[(0, 1), (0, 2)])
    assert views.pairs == [(0, 1), (0, 2)]
    clone = pickle.loads(pickle.dumps(views))
    assert clone.pairs == views.pairs and len(clone(torch.randn(3, 8, 8))) == 3


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ([[lambda x: x]], {}, ValueError, "at least 2"),
        ([[lambda x: x, 3]], {}, TypeError, r"views\[1\]"),
        ([[lambda x: x, lambda x: x]], dict(pairs=[(0, 2)]), ValueError, "pair"),
        ([[lambda x: x, lambda x: x]], dict(pairs=[(1, 1)]), ValueError, "pair"),
        ([[lambda x: x, lambda x: x]], dict(pairs=[]), ValueError, "pairs"),
        ([[lambda x: x, lambda x: x]], dict(pairs=[(True, False)]), TypeError, "pairs"),
        ([[lambda x: x, lambda x: x]], dict(pairs=[(0, 1), (1, 0)]), ValueError, "twice"),
    ],
)
def test_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        MultiView(*args, **kwargs)


@pytest.mark.parametrize(("ratios", "error"), [([0.1], ValueError), (0.15, TypeError), ("0.1 0.2", TypeError)])
def test_mscn_views_needs_a_ratio_per_view(ratios, error):
    with pytest.raises(error, match="ratios"):
        mscn_views(ratios=ratios)


def test_mscn_views_takes_ratios_from_any_iterable():
    import numpy as np

    assert len(mscn_views(ratios=np.array([0.1, 0.2, 0.3]), layout="c h w", cell=4).views) == 3
    assert len(mscn_views(ratios=(r for r in (0.1, 0.2)), layout="c h w", cell=4).views) == 2
