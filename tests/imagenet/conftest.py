"""A toy ImageFolder and one tiny pre-training run, shared by the entry-point tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from benchmarks.imagenet import main
from benchmarks.imagenet.synthetic import write_image_folder


@pytest.fixture(scope="package", autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread: these tests run tiny ops, which a second thread on a busy machine slows down."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="package")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 separable classes of 32x32 PNGs: 8 training and 4 validation images each."""
    return write_image_folder(tmp_path_factory.mktemp("data") / "toy", classes=3, train_per_class=8, val_per_class=4)


@pytest.fixture(scope="package")
def pretrained(toy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of ``pretrain --preset tiny`` (SimCLR, MSCN masks, 1 epoch)."""
    out = tmp_path_factory.mktemp("runs") / "simclr"
    main(["pretrain", "--data", str(toy), "--out", str(out), "--preset", "tiny", "--no-progress"])
    return out
