import torch
import torchvision
from torch import nn

from benchmarks.repro.model import ResNet18


def test_full_width_matches_torchvision_resnet18_with_a_small_stem() -> None:
    reference = torchvision.models.resnet18(weights=None)
    reference.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
    reference.maxpool = nn.Identity()
    reference.fc = nn.Identity()
    ours = ResNet18(width=64)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(ours) == count(reference)
    assert ours.feature_dim == 512


def test_narrow_network_keeps_the_resolution_until_the_first_stride() -> None:
    net = ResNet18(width=4)
    x = torch.randn(3, 1, 32, 32)
    assert net(x).shape == (3, 32)
    assert net.net[:4](x).shape == (3, 4, 32, 32)  # stem and first block: no stride, no max-pool
