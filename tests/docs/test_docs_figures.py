"""The figure script draws every documented figure, reproducibly, at a committable size, and the
committed figures are the ones it draws (``make figures`` redraws them)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from docs.scripts.make_figures import FIGURES

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "assets" / "figures"
MAX_BYTES = 300 * 1024


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("figures")
    subprocess.run([sys.executable, "-m", "docs.scripts.make_figures", "--out", str(out)], cwd=ROOT, check=True)
    return out


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_is_small_and_the_committed_one(drawn: Path, name: str) -> None:
    path = drawn / name
    assert 0 < path.stat().st_size <= MAX_BYTES
    with Image.open(path) as image:
        assert image.format == "PNG"
    assert path.read_bytes() == (COMMITTED / name).read_bytes(), f"{name} is stale: run `make figures` and commit it"


def test_every_figure_is_shown_and_every_shown_figure_is_drawn() -> None:
    shown = set()
    for page in (ROOT / "docs").rglob("*.md"):
        shown |= set(re.findall(r"assets/figures/([\w-]+\.png)", page.read_text()))
    assert shown == set(FIGURES)
    assert {p.name for p in COMMITTED.glob("*.png")} == set(FIGURES), "a committed figure has no script"
