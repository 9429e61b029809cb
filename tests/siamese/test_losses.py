import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from maskaug import all_pairs
from maskaug.siamese import byol_loss, multi_pair_loss, nt_xent_loss


def nt_xent_reference(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> float:
    """SimCLR's loss written as loops over anchors, in float64."""
    z = torch.cat([z1, z2]).double()
    z = z / z.norm(dim=1, keepdim=True)
    n = z1.shape[0]
    total = 0.0
    for a in range(2 * n):
        positive = (a + n) % (2 * n)
        denominator = sum(math.exp(float(z[a] @ z[b]) / temperature) for b in range(2 * n) if b != a)
        total += -math.log(math.exp(float(z[a] @ z[positive]) / temperature) / denominator)
    return total / (2 * n)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 6), e=st.integers(2, 5), t=st.sampled_from([0.1, 0.2, 1.0]))
def test_nt_xent_matches_loop_reference(seed: int, n: int, e: int, t: float) -> None:
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, e, generator=g, dtype=torch.float64)
    z2 = torch.randn(n, e, generator=g, dtype=torch.float64)
    got = nt_xent_loss(z1, z2, temperature=t)
    assert got.item() == pytest.approx(nt_xent_reference(z1, z2, t), rel=1e-9, abs=1e-9)


def test_nt_xent_is_symmetric_and_rewards_agreement() -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    assert nt_xent_loss(z1, z2).item() == pytest.approx(nt_xent_loss(z2, z1).item(), rel=1e-6)
    assert nt_xent_loss(z1, z1 * 3).item() < nt_xent_loss(z1, z2).item()


def test_nt_xent_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        nt_xent_loss(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent_loss(torch.randn(4, 3), torch.randn(4, 3), temperature=0.0)


def test_multi_pair_loss_is_mean_of_pairwise_losses() -> None:
    g = torch.Generator().manual_seed(1)
    zs = [torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(4)]
    pairs = all_pairs(4)
    assert pairs == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    got = multi_pair_loss(lambda i, j: nt_xent_loss(zs[i], zs[j], temperature=0.2), pairs)
    expected = sum(nt_xent_reference(zs[i], zs[j], 0.2) for i, j in pairs) / len(pairs)
    assert got.item() == pytest.approx(expected, rel=1e-9)
    only = multi_pair_loss(lambda i, j: nt_xent_loss(zs[i], zs[j]), [(2, 3)])
    assert only.item() == pytest.approx(nt_xent_reference(zs[2], zs[3], 0.2), rel=1e-9)
    with pytest.raises(ValueError, match="pairs"):
        multi_pair_loss(lambda i, j: torch.zeros(()), [])


def test_byol_loss_hand_computed() -> None:
    p1 = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    p2 = torch.tensor([[0.0, 1.0], [3.0, 0.0]])
    t1 = torch.tensor([[1.0, 1.0], [0.0, -1.0]])
    t2 = torch.tensor([[5.0, 0.0], [1.0, 0.0]])
    # cos(p1, t2) = [1, 0]; cos(p2, t1) = [1/sqrt2, 0]
    expected = ((2 - 2 * 1) + (2 - 0)) / 2 + ((2 - 2 / math.sqrt(2)) + (2 - 0)) / 2
    assert byol_loss(p1, p2, t1, t2).item() == pytest.approx(expected, rel=1e-6)


def test_byol_loss_gives_no_gradient_to_targets() -> None:
    p1, p2, t1, t2 = (torch.randn(3, 4, requires_grad=True) for _ in range(4))
    byol_loss(p1, p2, t1, t2).backward()
    assert t1.grad is None and t2.grad is None
    assert p1.grad is not None and p1.grad.abs().sum() > 0
