import math

import pytest
import torch
from torch import nn

from maskaug.siamese import LARS, lars_param_groups


def test_param_groups_exclude_bn_and_biases() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2, bias=False))
    adapted, excluded = lars_param_groups(model)
    assert [p.shape for p in adapted["params"]] == [(4, 3), (2, 4)]
    assert excluded["lars_exclude"] is True
    assert [p.shape for p in excluded["params"]] == [(4,), (4,), (4,)]  # bias, BN weight, BN bias


def test_one_lars_step_matches_hand_computation() -> None:
    w = nn.Parameter(torch.tensor([[3.0, 4.0]]))  # |w| = 5
    b = nn.Parameter(torch.tensor([1.0]))
    w.grad = torch.tensor([[0.6, 0.8]])
    b.grad = torch.tensor([0.5])
    lr, wd, eta, momentum = 0.1, 0.01, 0.001, 0.9
    opt = LARS(
        [{"params": [w]}, {"params": [b], "lars_exclude": True}],
        lr=lr,
        momentum=momentum,
        weight_decay=wd,
        eta=eta,
    )
    opt.step()
    g = [0.6 + wd * 3.0, 0.8 + wd * 4.0]
    g_norm = math.hypot(*g)
    trust = eta * 5.0 / g_norm
    expected_w = [3.0 - lr * trust * g[0], 4.0 - lr * trust * g[1]]
    assert w.detach().tolist()[0] == pytest.approx(expected_w, rel=1e-6)
    # excluded: plain SGD with momentum, no weight decay, no trust ratio
    assert b.item() == pytest.approx(1.0 - lr * 0.5, rel=1e-6)

    # second step: the momentum buffer carries over
    w.grad = torch.tensor([[0.0, 0.0]])
    b.grad = torch.tensor([0.5])
    w_before = w.detach().clone()
    opt.step()
    assert b.item() == pytest.approx(1.0 - lr * 0.5 - lr * (momentum * 0.5 + 0.5), rel=1e-6)
    g2 = wd * w_before[0]
    trust2 = eta * w_before.norm() / g2.norm()
    v1 = torch.tensor([trust * g[0], trust * g[1]])
    expected_w2 = w_before[0] - lr * (momentum * v1 + trust2 * g2)
    assert torch.allclose(w.detach()[0], expected_w2, rtol=1e-5)


def test_zero_weight_uses_unit_trust() -> None:
    w = nn.Parameter(torch.zeros(2, 2))
    w.grad = torch.ones(2, 2)
    LARS([w], lr=0.5, momentum=0.0, weight_decay=0.1).step()
    assert torch.allclose(w.detach(), torch.full((2, 2), -0.5))


def test_lars_rejects_bad_arguments() -> None:
    p = [nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError, match="momentum"):
        LARS(p, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="lr"):
        LARS(p, lr=-1.0)
