"""maskaug: masking as a general-purpose augmentation for siamese self-supervised learning.

Implements Masked Siamese ConvNets (MSCN): a Gaussian high-pass so that 0 means "no information",
then grid and focal masks with noisy, channel-independent fills, over any axes of any tensor.

Example:
    ```python
    import torch
    from maskaug import MSCNMask

    mask = MSCNMask(layout="b c h w")
    views = mask(torch.randn(4, 3, 224, 224))
    ```
"""

from maskaug.highpass import HighPass, highpass
from maskaug.masks import apply_mask, sample_focal_mask, sample_grid_mask
from maskaug.policy import MSCNMask
from maskaug.views import MultiView, all_pairs, mscn_views

__all__ = [
    "HighPass",
    "MSCNMask",
    "MultiView",
    "all_pairs",
    "apply_mask",
    "highpass",
    "mscn_views",
    "sample_focal_mask",
    "sample_grid_mask",
]
__version__ = "0.1.0"
