"""Small backbones for the modality recipes: a strided 2-D ConvNet and a (2+1)-D ConvNet for clips."""

from __future__ import annotations

from torch import Tensor, nn


def _conv_bn(conv: nn.Module, channels: int, norm: type[nn.Module]) -> list[nn.Module]:
    return [conv, norm(channels), nn.ReLU(inplace=True)]


class ConvNet2d(nn.Module):
    """Five 3x3 conv-BN-ReLU layers (two of stride 2), then global average pooling.

    For spectrograms ``(N, mics, F, T)`` and RGB-D images ``(N, 4, H, W)`` of a few dozen pixels.

    Shape:
        ``(N, in_channels, H, W) -> (N, 4 * width)``
    """

    def __init__(self, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.feature_dim = 4 * width
        plan = [(in_channels, width, 1), (width, 2 * width, 2), (2 * width, 2 * width, 1), (2 * width, 4 * width, 2),
                (4 * width, 4 * width, 1)]
        layers: list[nn.Module] = []
        for c_in, c_out, stride in plan:
            layers += _conv_bn(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), c_out, nn.BatchNorm2d)
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvNet2Plus1d(nn.Module):
    """(2+1)-D convolutions: each layer a 1x3x3 spatial conv then a 3x1x1 temporal conv.

    A stride-2 spatial stem, then two factorized layers that halve space (the last one halves
    time too), then global average pooling over time and space.

    Shape:
        ``(N, in_channels, T, H, W) -> (N, 4 * width)``
    """

    def __init__(self, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.feature_dim = 4 * width
        layers: list[nn.Module] = []
        plan = [(in_channels, width, 1, 2), (width, 2 * width, 1, 2), (2 * width, 4 * width, 2, 2)]
        for c_in, c_out, t_stride, s_stride in plan:
            layers += _conv_bn(
                nn.Conv3d(c_in, c_out, (1, 3, 3), (1, s_stride, s_stride), (0, 1, 1), bias=False), c_out, nn.BatchNorm3d
            )
            temporal = nn.Conv3d(c_out, c_out, (3, 1, 1), (t_stride, 1, 1), (1, 0, 0), bias=False)
            layers += _conv_bn(temporal, c_out, nn.BatchNorm3d)
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool3d(1), nn.Flatten())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
