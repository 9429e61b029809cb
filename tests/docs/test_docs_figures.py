"""The figure script draws every documented figure, reproducibly, at a committable size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "assets" / "figures"
FIGURES = ("masked_views.png", "highpass.png")
MAX_BYTES = 300 * 1024


def make_figures(out: Path) -> None:
    subprocess.run([sys.executable, "-m", "docs.scripts.make_figures", "--out", str(out)], cwd=ROOT, check=True)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("figures")
    make_figures(out)
    return out


@pytest.mark.parametrize("name", FIGURES)
def test_figure_is_drawn_small_and_like_the_committed_one(drawn: Path, name: str) -> None:
    path = drawn / name
    assert 0 < path.stat().st_size <= MAX_BYTES
    with Image.open(path) as image, Image.open(COMMITTED / name) as committed:
        assert image.format == "PNG"
        assert image.size == committed.size


def test_figures_are_reproducible(drawn: Path, tmp_path: Path) -> None:
    make_figures(tmp_path)
    for name in FIGURES:
        assert (tmp_path / name).read_bytes() == (drawn / name).read_bytes(), name
