"""Every code block of the documentation pages and the README runs, so the docs never drift.

* A ```` ```python ```` block runs in a fresh namespace, in a temporary working folder.
* A ```` ```bash ```` (or ``sh``, ``shell``) block runs under ``bash -euo pipefail`` in a temporary working folder, with the
  repository on ``PYTHONPATH``, this interpreter's folder first on ``PATH`` (``python`` is the one
  running the tests) and ``TMPDIR`` set to a fresh folder.
* Other fences (``text``, ``console``, none) hold no code and are not run.

A block that cannot run here (it needs ImageNet, several GPUs, or an hour) is marked on the line
just above its fence, with the reason, and is reported as skipped::

    <!-- not-run: needs ImageNet and 8 GPUs -->

A block that needs an optional package says so the same way, and is skipped when the package is
not installed::

    <!-- requires: lightly -->

Pages whose results blocks are written by a script (the modality recipes) and the README record
their not-run blocks in `NOT_RUN` below instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [p for p in [ROOT / "README.md"] if p.is_file()]
RUN = ("python", "py", "bash", "sh", "shell")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
MARK = re.compile(r"^<!--\s*(?P<kind>not-run|requires):\s*(?P<value>.*?)\s*-->\s*$")
BASH_TIMEOUT_S = 120
#: Blocks marked here rather than on their page: (page, text in the block) -> reason.
NOT_RUN = {
    ("docs/recipes/video.md", "python -m benchmarks.modalities.video --preset"): "the experiment itself (minutes)",
    ("docs/recipes/spectrogram.md", "python -m benchmarks.modalities.spectrogram --preset"): "the experiment itself (minutes)",
    ("docs/recipes/rgbd.md", "python -m benchmarks.modalities.rgbd --preset"): "the experiment itself (minutes)",
    ("docs/reproduction.md", "python -m benchmarks.repro --grid"): "the reproduction grids (minutes to an hour)",
    ("docs/gpu-pipeline.md", "--data /data/imagenet"): "needs ImageNet and a GPU",
    ("docs/gpu-pipeline.md", "python -m benchmarks.input_pipeline.bench"): "sized for a GPU and a 16-core host (minutes)",
}


@dataclass(frozen=True)
class Block:
    name: str
    lang: str
    code: str
    not_run: str | None
    requires: tuple[str, ...]


def parse(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` with their markers, in order."""
    lines = page.read_text().splitlines()
    blocks, marks, i, number = [], {}, 0, 0
    rel = page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name
    while i < len(lines):
        line = lines[i]
        mark = MARK.match(line)
        if mark:
            marks.setdefault(mark["kind"], []).append(mark["value"])
            i += 1
            continue
        fence = FENCE.match(line)
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            number += 1
            code = "\n".join(lines[i + 1 : end]) + "\n"
            not_run = (marks.get("not-run") or [None])[0]
            not_run = not_run or next((why for (p, text), why in NOT_RUN.items() if p == rel and text in code), None)
            blocks.append(Block(f"{rel}:{number}", fence["lang"], code, not_run, tuple(marks.get("requires", ()))))
            marks, i = {}, end + 1
            continue
        if line.strip():
            marks = {}
        i += 1
    return blocks


BLOCKS = [b for page in PAGES for b in parse(page) if b.lang in RUN]


def test_docs_have_code_blocks() -> None:
    names = [b.name for b in BLOCKS]
    assert any(name.startswith("docs/index.md") for name in names)
    assert any(name.startswith("docs/recipes/") for name in names)


def test_markers_are_used_sparingly() -> None:
    skipped = [b.name for b in BLOCKS if b.not_run]
    assert len(skipped) <= len(BLOCKS) // 2, skipped


def test_a_marker_binds_to_the_next_fence(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- not-run: needs 8 GPUs -->\n```bash\ntorchrun x\n```\n\n"
                    "<!-- requires: lightly -->\ntext\n```python\npass\n```\n")
    first, second = parse(page)
    assert first.not_run == "needs 8 GPUs" and first.lang == "bash"
    assert second.not_run is None and second.requires == ()  # a line of text in between drops the marker


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_code_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.not_run:
        pytest.skip(f"marked not-run: {block.not_run}")
    for module in block.requires:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs the optional package {module!r}, not installed")
    monkeypatch.chdir(tmp_path)
    if block.lang in ("python", "py"):
        exec(compile(block.code, block.name, "exec"), {"__name__": "__docs__"})
        return
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "TMPDIR": str(scratch),
    }
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=BASH_TIMEOUT_S)
    assert result.returncode == 0, f"{block.name} failed:\n{block.code}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
