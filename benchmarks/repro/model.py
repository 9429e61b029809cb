"""ResNet-18 with a small-image stem (3x3 convolution, stride 1, no max-pool), of any width."""

from __future__ import annotations

from torch import Tensor, nn

from benchmarks.digits.model import BasicBlock


class ResNet18(nn.Module):
    """ResNet-18 for 32x32 inputs: a 3x3 stem, four stages of two basic blocks, global pooling.

    ``width=64`` is the usual CIFAR-style ResNet-18 (512 features); smaller widths scale every
    stage's channels alike, for CPU runs.

    Shape:
        ``(N, in_channels, H, W) -> (N, 8 * width)``
    """

    def __init__(self, in_channels: int = 1, width: int = 64) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        self.feature_dim = 8 * width
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        c_in = width
        for stage, c_out in enumerate((width, 2 * width, 4 * width, 8 * width)):
            layers += [BasicBlock(c_in, c_out, 1 if stage == 0 else 2), BasicBlock(c_out, c_out, 1)]
            c_in = c_out
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
