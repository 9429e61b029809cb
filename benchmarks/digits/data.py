"""scikit-learn's bundled digits (1797 real 8x8 images), upscaled and split with a fixed seed."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import TensorDataset


def digits_splits(*, size: int = 32, test_fraction: float = 0.3, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """Stratified train/test splits of ``(image (1, size, size), label)``, standardised.

    Images are scaled to [0, 1], upscaled bilinearly, then standardised with the training split's
    mean and std (so a high-pass sees zero-mean input, as after ImageNet normalisation).
    """
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_idx, test_idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=test_fraction, stratify=digits.target, random_state=seed
    )
    train_x, test_x = images[train_idx], images[test_idx]
    mean, std = train_x.mean(), train_x.std()
    return (
        TensorDataset((train_x - mean) / std, labels[train_idx]),
        TensorDataset((test_x - mean) / std, labels[test_idx]),
    )
