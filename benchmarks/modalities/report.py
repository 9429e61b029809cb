"""Copy the committed results into the recipe pages: ``python -m benchmarks.modalities.report``.

Each recipe page (``docs/recipes/<modality>.md``) holds one block per preset between
``<!-- results:<modality>-<preset> -->`` and ``<!-- /results -->``. This script rewrites every
block from ``results/<modality>-<preset>.json`` (or says that the run is pending), so the pages
show the committed JSON and never a hand-edited copy; ``--check`` only reports stale pages.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .common import RESULTS, markdown

PAGES = Path(__file__).resolve().parents[2] / "docs" / "recipes"
_BLOCK = re.compile(r"(<!-- results:(?P<key>[\w-]+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S)


def block(key: str, results: Path = RESULTS) -> str:
    """The markdown of ``results/<key>.json``, or a pending note when it does not exist."""
    path = results / f"{key}.json"
    if not path.is_file():
        modality, preset = key.rsplit("-", 1)
        return (
            f"*Pending*: no committed `{preset}` run yet. Run "
            f"`python -m benchmarks.modalities.{modality} --preset {preset}` on a GPU and commit "
            f"`benchmarks/modalities/results/{key}.json`.\n"
        )
    return markdown(json.loads(path.read_text()))


def render(page: str, results: Path = RESULTS) -> str:
    """``page`` with every results block rewritten."""
    return _BLOCK.sub(lambda m: m.group(1) + "\n" + block(m.group("key"), results) + "\n" + m.group(4), page)


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check``, verify) the results blocks of every recipe page."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.modalities.report", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is out of date, change nothing")
    args = parser.parse_args(argv)
    stale = []
    for page in sorted(PAGES.glob("*.md")):
        text = page.read_text()
        new = render(text)
        if new != text:
            stale.append(page)
            if not args.check:
                page.write_text(new)
    for page in stale:
        print(f"{'stale' if args.check else 'updated'}: {page}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
