import pytest
import torch
from torch import nn

from maskaug.siamese import ema_momentum, ema_update


def test_ema_momentum_cosine_schedule() -> None:
    assert ema_momentum(0, 100) == pytest.approx(0.996)
    assert ema_momentum(50, 100) == pytest.approx(0.998)
    assert ema_momentum(25, 100) == pytest.approx(1 - 0.004 * (1 + 2**-0.5) / 2)
    assert ema_momentum(100, 100) == pytest.approx(1.0)
    assert ema_momentum(0, 10, base=0.99) == pytest.approx(0.99)
    with pytest.raises(ValueError, match="total_steps"):
        ema_momentum(0, 0)


def test_ema_update_hand_computed() -> None:
    online, target = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        online.weight.copy_(torch.tensor([[1.0, 2.0]]))
        online.bias.fill_(4.0)
        target.weight.copy_(torch.tensor([[3.0, -2.0]]))
        target.bias.fill_(0.0)
    ema_update(target, online, 0.75)
    assert torch.allclose(target.weight, torch.tensor([[2.5, -1.0]]))
    assert torch.allclose(target.bias, torch.tensor([1.0]))
    assert torch.equal(online.weight, torch.tensor([[1.0, 2.0]]))


def test_ema_update_copies_buffers() -> None:
    online, target = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    online.running_mean.fill_(2.0)
    ema_update(target, online, 0.9)
    assert torch.equal(target.running_mean, online.running_mean)
