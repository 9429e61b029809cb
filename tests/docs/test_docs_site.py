"""The documentation site builds in mkdocs' strict mode (no broken links, references or pages)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_is_strict_clean(tmp_path: Path) -> None:
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason=f"{module} is needed to build the docs (pip install '.[docs]')")
    site = tmp_path / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml")]
    result = subprocess.run(
        [*command, "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr
    for page in ("index.html", "concepts/index.html", "api/index.html", "benchmarks/index.html"):
        assert (site / page).is_file(), page
    assert (site / "assets" / "figures" / "masked_views.png").is_file()
    assert not (site / "scripts").exists(), "the docs scripts must stay out of the site"
    benchmarks = (site / "benchmarks" / "index.html").read_text()
    assert "MSCNMask / GaussianBlur(23)" in benchmarks and "cpu-benchmark-table" not in benchmarks
