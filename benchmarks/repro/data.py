"""Fashion-MNIST from its four IDX gz files, upscaled to 32x32 and standardised."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

#: The files of the Fashion-MNIST release (Zalando, MIT licence), as found in ``--data``.
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
#: Where Debian's ``dataset-fashion-mnist`` installs the files.
SYSTEM_PATH = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "MASKAUG_FASHION_MNIST"
CLASSES = 10


class FashionMNISTError(FileNotFoundError):
    """The Fashion-MNIST folder is missing, incomplete or holds damaged files."""


def default_path() -> Path:
    """``$MASKAUG_FASHION_MNIST`` when set, else Debian's install location."""
    return Path(os.environ.get(ENV_VAR, SYSTEM_PATH))


def read_idx(path: Path) -> torch.Tensor:
    """One gzipped IDX file (unsigned bytes) as a uint8 tensor of the shape its header gives."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise FashionMNISTError(f"{path} is not an IDX file of unsigned bytes (header {data[:4]!r})")
    rank = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    body = data[4 + 4 * rank :]
    expected = 1
    for size in shape:
        expected *= size
    if len(body) != expected:
        raise FashionMNISTError(f"{path}: the header gives shape {shape} ({expected} bytes), the file holds {len(body)}")
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(shape)


def fingerprint(root: str | Path) -> str:
    """A short hash of the four files' decompressed contents: the same images and labels give the
    same value wherever the folder is (a path says nothing about what is in it).

    Raises:
        FashionMNISTError: A file is missing.
    """
    root = Path(root)
    _check_folder(root)
    digest = hashlib.sha256()
    for name in FILES.values():
        with gzip.open(root / name, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def _check_folder(root: Path) -> None:
    missing = [name for name in FILES.values() if not (root / name).is_file()]
    if missing:
        raise FashionMNISTError(
            f"Fashion-MNIST not found in {root}: missing {', '.join(missing)}. Expected the four IDX gz files "
            f"{', '.join(FILES.values())}; pass --data DIR or set ${ENV_VAR} "
            f"(Debian's dataset-fashion-mnist installs them in {SYSTEM_PATH})."
        )


def _subset(n_total: int, limit: int | None, seed: int) -> torch.Tensor:
    """A fixed random subset of ``limit`` indices (all of them, in order, when ``limit`` is None)."""
    if limit is None or limit >= n_total:
        return torch.arange(n_total)
    if limit < 1:
        raise ValueError(f"a subset needs at least 1 image, got {limit}")
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:limit].sort().values


def fashion_mnist(
    root: str | Path,
    *,
    size: int = 32,
    train_limit: int | None = None,
    test_limit: int | None = None,
    subset_seed: int = 0,
) -> tuple[TensorDataset, TensorDataset]:
    """Train and test splits of ``(image (1, size, size) float32, label)``.

    Images are scaled to [0, 1], upscaled bilinearly from 28 to ``size`` pixels (a ResNet with a
    small-image stem expects 32x32), then standardised with the training subset's mean and std, so
    the high-pass sees zero-mean input as after ImageNet normalisation.

    Args:
        root: The folder holding the four files of `FILES`.
        size: Side of the upscaled images.
        train_limit: Keep a fixed random subset of this many training images (None: all 60k).
        test_limit: Likewise for the 10k test images.
        subset_seed: Seeds the subsets (kept fixed across training seeds).

    Raises:
        FashionMNISTError: A file is missing or damaged; the message names the folder and the files.
    """
    root = Path(root)
    _check_folder(root)
    splits = []
    for split, limit in (("train", train_limit), ("test", test_limit)):
        images = read_idx(root / FILES[f"{split}_images"])
        labels = read_idx(root / FILES[f"{split}_labels"])
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise FashionMNISTError(
                f"{root}: {split} images {tuple(images.shape)} and labels {tuple(labels.shape)} do not match"
            )
        keep = _subset(labels.shape[0], limit, subset_seed)
        x = images[keep].unsqueeze(1).float() / 255.0
        splits.append((F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False), labels[keep].long()))
    (train_x, train_y), (test_x, test_y) = splits
    mean, std = train_x.mean(), train_x.std()
    return TensorDataset((train_x - mean) / std, train_y), TensorDataset((test_x - mean) / std, test_y)
