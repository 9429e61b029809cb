import pytest
import torch
from torch import nn

from maskaug.siamese import TrainConfig, build_network, byol_predictor, byol_projector, simclr_projector


def layer_kinds(head: nn.Sequential) -> list[str]:
    return [type(m).__name__ for m in head]


def test_paper_head_shapes() -> None:
    simclr = simclr_projector()
    assert layer_kinds(simclr) == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d"]
    assert (simclr[0].in_features, simclr[0].out_features, simclr[3].out_features) == (2048, 2048, 256)
    byol = byol_projector()
    assert layer_kinds(byol) == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert (byol[0].in_features, byol[0].out_features, byol[3].out_features) == (2048, 4096, 256)
    assert byol[3].bias is not None
    predictor = byol_predictor()
    assert (predictor[0].in_features, predictor[0].out_features, predictor[3].out_features) == (256, 4096, 256)


def test_network_dims_follow_config() -> None:
    cfg = TrainConfig(method="byol", feature_dim=12, proj_hidden_dim=20, proj_out_dim=6, pred_hidden_dim=10, num_classes=4)
    net = build_network(cfg, nn.Linear(5, 12))
    feats, z, p, logits = net(torch.randn(3, 5))
    assert feats.shape == (3, 12) and z.shape == (3, 6) and p.shape == (3, 6) and logits.shape == (3, 4)
    logits.sum().backward()
    assert net.backbone.weight.grad is None  # the classifier reads detached features
    with pytest.raises(ValueError, match="features of shape"):
        build_network(cfg, nn.Identity())(torch.randn(2, 3, 4))
