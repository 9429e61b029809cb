"""Where the tests find Fashion-MNIST: ``../shared/data/fashion-mnist`` beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fashion-mnist"


@pytest.fixture
def fashion_path() -> Path:
    if not (DATA / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"Fashion-MNIST not found in {DATA}")
    return DATA
