"""Every ```python block of the documentation pages and the README runs, so the docs never drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [p for p in [ROOT / "README.md"] if p.is_file()]
FENCE = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def code_blocks() -> list:
    params = []
    for page in PAGES:
        for number, block in enumerate(FENCE.findall(page.read_text()), start=1):
            name = f"{page.relative_to(ROOT)}:{number}"
            params.append(pytest.param(name, block, id=name))
    return params


BLOCKS = code_blocks()


def test_docs_have_code_blocks() -> None:
    assert any(name.startswith("docs/index.md") for name, _ in (p.values for p in BLOCKS))


@pytest.mark.parametrize(("name", "code"), BLOCKS)
def test_code_block_runs(name: str, code: str) -> None:
    exec(compile(code, name, "exec"), {"__name__": "__docs__"})
