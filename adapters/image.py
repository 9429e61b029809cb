"""The image adapter: ImageFolder data, SimCLR augmentations, MSCN views, torchvision ResNets.

Pre-training views are made per image in DataLoader workers: the SimCLR augmentations
(RandomResizedCrop, flip, colour jitter, grayscale, Gaussian blur), ImageNet normalization, then an
`maskaug.MSCNMask` (high-pass, then a grid or focal mask) with its own strength per view. The
backbone is a torchvision ResNet without its classifier; evaluation and downstream models put the
same high-pass in front of it with `HighPassFirst`.

Example:
    ```python
    from maskaug.adapters import image

    train, val = image.scan_splits("/data/imagenet")          # checks folders and images
    views = image.pretrain_views(224)                          # 4 views, 6 pairs, MSCN masks
    dataset = image.ImageFolderDataset(train.samples, views)   # yields ([4 x (3, 224, 224)], label)
    backbone = image.resnet_backbone("resnet50")               # (N, 3, H, W) -> (N, 2048)
    ```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torchvision
from torch import Tensor, nn
from torchvision.transforms import v2

from maskaug import HighPass, MultiView, mscn_views
from maskaug.views import MSCN_RATIOS

from maskaug._checks import check_count
from ._image_folder import (
    IMAGE_SUFFIXES,
    ImageDataError,
    ImageFolderDataset,
    ImageFolderIndex,
    OnBadImage,
    scan_image_folder,
    scan_splits,
)

__all__ = [
    "FEATURE_DIMS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_SUFFIXES",
    "HighPassFirst",
    "ImageDataError",
    "ImageFolderDataset",
    "ImageFolderIndex",
    "OnBadImage",
    "classifier_train_transform",
    "eval_transform",
    "pretrain_views",
    "resnet_backbone",
    "scan_image_folder",
    "scan_splits",
    "simclr_augment",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Feature dimension of each supported torchvision ResNet without its classifier.
FEATURE_DIMS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048, "resnet152": 2048}


def _to_normalized_tensor() -> list[nn.Module]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]


def simclr_augment(
    size: int = 224, *, jitter_strength: float = 1.0, blur_prob: float = 0.5, scale: tuple[float, float] = (0.08, 1.0)
) -> v2.Compose:
    """SimCLR's ImageNet augmentations for one view, ending with ImageNet normalization.

    RandomResizedCrop ``size``, horizontal flip, colour jitter (brightness 0.4, contrast 0.4,
    saturation 0.2, hue 0.1, times ``jitter_strength``) with p=0.8, grayscale with p=0.2, and a
    Gaussian blur with sigma in [0.1, 2] and a kernel of 10% of ``size`` with p=``blur_prob``.
    Randomness comes from torch's default generator, which a DataLoader seeds per worker.

    Shape:
        PIL image or ``(3, H, W)`` uint8 tensor -> ``(3, size, size)`` float32.

    Example:
        ```python
        from PIL import Image
        from maskaug.adapters.image import simclr_augment

        view = simclr_augment(32)(Image.new("RGB", (48, 40), "red"))
        assert view.shape == (3, 32, 32)
        ```
    """
    s = jitter_strength
    blur_kernel = max(3, size // 10 // 2 * 2 + 1)
    return v2.Compose(
        [
            v2.ToImage(),
            v2.RandomResizedCrop(size, scale=scale, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.4 * s, 0.4 * s, 0.2 * s, 0.1 * s)], p=0.8),
            v2.RandomGrayscale(p=0.2),
            v2.RandomApply([v2.GaussianBlur(blur_kernel, sigma=(0.1, 2.0))], p=blur_prob),
            *_to_normalized_tensor(),
        ]
    )


def pretrain_views(
    size: int = 224,
    *,
    mask: bool = True,
    highpass: bool = True,
    ratios: Sequence[float | tuple[float, float]] = MSCN_RATIOS,
    highpass_sigma: float = 5.0,
    highpass_kernel_size: int | None = None,
    cell: int = 32,
    **mask_options: Any,
) -> MultiView:
    """MSCN's pre-training views of one image: 2 standard + 2 extra views, all at full resolution.

    Each view is a fresh `simclr_augment`, then (``mask=True``) an `maskaug.MSCNMask` with
    ``layout="c h w"``, the high-pass first, and the view's own masking ratio from ``ratios``
    (paper: grid cells of 32 px, 15% on average, focal masks with p=0.4, noise fill). The
    baselines keep everything else identical: ``mask=False`` high-passes the views without masks;
    ``highpass=False`` masks the normalized views without the high-pass. The loss runs on every
    pair of views (``.pairs``). Masks draw from torch's default generator (seeded per worker).

    Args:
        size: Output side in pixels (paper: 224).
        mask: Apply the MSCN masks.
        highpass: Apply the high-pass (after normalization, before the masks).
        ratios: One masking ratio (or range) per view; its length is the number of views.
        highpass_sigma: High-pass sigma in pixels (paper: 5 at 224 px).
        highpass_kernel_size: Odd number of taps, ``None`` for the full Gaussian.
        cell: Grid cell size in pixels (paper: 32 at 224 px).
        **mask_options: Passed to every `maskaug.MSCNMask` (``focal_prob``, ``noise_std``, ...).

    Shape:
        PIL image -> list of ``len(ratios)`` tensors ``(3, size, size)``.

    Example:
        ```python
        from PIL import Image
        from maskaug.adapters.image import pretrain_views

        views = pretrain_views(32, cell=8, highpass_sigma=1.0)
        out = views(Image.new("RGB", (40, 40), "blue"))
        assert len(out) == 4 and out[0].shape == (3, 32, 32) and len(views.pairs) == 6
        ```
    """
    augment = simclr_augment(size)
    if mask:
        return mscn_views(
            augment,
            ratios=ratios,
            layout="c h w",
            cell=cell,
            highpass_sigma=highpass_sigma if highpass else None,
            highpass_kernel_size=highpass_kernel_size,
            **mask_options,
        )
    if mask_options:
        raise TypeError(f"mask options {sorted(mask_options)} need mask=True")
    if highpass:
        hp = HighPass(highpass_sigma, kernel_size=highpass_kernel_size)
        return MultiView([nn.Sequential(augment, hp) for _ in ratios])
    return MultiView([augment for _ in ratios])


def classifier_train_transform(size: int = 224) -> v2.Compose:
    """Linear-probe and fine-tuning training images: RandomResizedCrop ``size``, flip, normalize.

    The high-pass runs on the device, as the first stage of the model (`HighPassFirst`).

    Shape:
        PIL image -> ``(3, size, size)`` float32.
    """
    return v2.Compose(
        [v2.ToImage(), v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip(), *_to_normalized_tensor()]
    )


def eval_transform(size: int = 224, resize: int | None = None) -> v2.Compose:
    """Test images: resize the short side to ``resize`` (256 for 224), centre-crop ``size``, normalize.

    Args:
        size: Side of the centre crop in pixels, an int >= 1.
        resize: Short side after the resize, an int >= ``size``; ``None`` for
            ``round(size * 256 / 224)``.

    Shape:
        PIL image -> ``(3, size, size)`` float32.

    Raises:
        TypeError: ``size`` or ``resize`` is not an int.
        ValueError: ``size`` is below 1, or ``resize`` below ``size`` (the crop would be padded).
    """
    size = check_count("size", size)
    resize = round(size * 256 / 224) if resize is None else check_count("resize", resize)
    if resize < size:
        raise ValueError(f"resize must be >= size (the centre crop must lie in the image), got resize={resize}, size={size}")
    return v2.Compose([v2.ToImage(), v2.Resize(resize, antialias=True), v2.CenterCrop(size), *_to_normalized_tensor()])


def resnet_backbone(arch: str = "resnet50") -> nn.Module:
    """A randomly initialised torchvision ResNet whose classifier ``fc`` is an identity.

    Its state dict is a torchvision ResNet's without the ``fc.*`` entries, so it loads into
    ``torchvision.models.<arch>()`` with ``strict=False`` (missing exactly ``fc.weight`` and
    ``fc.bias``).

    Args:
        arch: One of `FEATURE_DIMS` (``"resnet50"``, ``"resnet18"``, ...).

    Shape:
        ``(N, 3, H, W) -> (N, FEATURE_DIMS[arch])``.

    Example:
        ```python
        import torch
        from maskaug.adapters.image import resnet_backbone

        assert resnet_backbone("resnet18")(torch.randn(2, 3, 32, 32)).shape == (2, 512)
        ```
    """
    if arch not in FEATURE_DIMS:
        raise ValueError(f"arch must be one of {sorted(FEATURE_DIMS)}, got {arch!r}")
    model = getattr(torchvision.models, arch)(weights=None)
    model.fc = nn.Identity()
    return model


class HighPassFirst(nn.Module):
    """A module with the high-pass as its first stage: ``module(highpass(x))``.

    Downstream models (linear probe, fine-tuning, detection backbones) must see the same
    high-passed input as in pre-training. ``out_channels`` of the wrapped module is kept, so a
    torchvision detection backbone (``model.backbone``) can be wrapped in place.

    Args:
        module: The network to feed, e.g. a ResNet or a detection backbone.
        sigma: High-pass sigma in pixels; ``None`` passes the input through (the no-high-pass
            baseline).
        kernel_size: Odd number of taps, ``None`` for the full Gaussian.

    Shape:
        ``(N, C, H, W)`` -> whatever ``module`` returns.

    Example:
        ```python
        import torch
        from maskaug.adapters.image import HighPassFirst, resnet_backbone

        net = HighPassFirst(resnet_backbone("resnet18"), sigma=1.0)
        assert net(torch.randn(2, 3, 32, 32)).shape == (2, 512)
        ```
    """

    def __init__(self, module: nn.Module, *, sigma: float | None = 5.0, kernel_size: int | None = None) -> None:
        super().__init__()
        self.highpass = nn.Identity() if sigma is None else HighPass(sigma, kernel_size=kernel_size)
        self.module = module
        if hasattr(module, "out_channels"):
            self.out_channels = module.out_channels

    def forward(self, x: Tensor) -> Any:
        return self.module(self.highpass(x))
