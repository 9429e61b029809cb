"""mkdocs hooks (``hooks:`` in ``mkdocs.yml``): everything the site computes at build time.

* ``on_config``: mkdocstrings reads the sources statically, and ``adapters/`` is installed as
  ``maskaug.adapters`` without living under ``maskaug/``; a mirror of the package made of symbolic
  links (``build/api-src/maskaug``, with ``adapters`` inside it) lets the API reference use the
  import names users type.
* ``on_files``: the results plots, drawn from the committed JSON files by `docs.scripts.results`,
  join the site under ``assets/results/``.
* ``on_page_markdown``: a line that is exactly a results marker (``<!-- results:cpu -->``,
  ``<!-- results:peers -->``, ``<!-- results:modalities -->``, ``<!-- results:repro -->``) becomes
  the tables of the committed results.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # mkdocs loads hooks by path; the scripts import the repository's modules
    sys.path.insert(0, str(ROOT))

from docs.scripts import results  # noqa: E402
MIRROR = ROOT / "build" / "api-src"


def make_mirror(mirror: Path = MIRROR) -> Path:
    """``mirror/maskaug``: links to every entry of ``maskaug/``, plus ``adapters`` -> ``adapters/``.

    Updated in place (missing links made, stale ones removed), so that builds running side by side
    never see it half made.
    """
    package = mirror / "maskaug"
    package.mkdir(parents=True, exist_ok=True)
    wanted = {entry.name: entry for entry in (ROOT / "maskaug").iterdir() if entry.name != "__pycache__"}
    wanted["adapters"] = ROOT / "adapters"
    for link in package.iterdir():
        if link.name not in wanted or not link.is_symlink() or link.resolve() != wanted[link.name].resolve():
            if link.is_symlink() or link.is_file():
                link.unlink(missing_ok=True)
            else:
                shutil.rmtree(link)
    for name, target in sorted(wanted.items()):
        if not (package / name).is_symlink():
            try:
                (package / name).symlink_to(target, target_is_directory=target.is_dir())
            except FileExistsError:  # made by a build running beside this one
                pass
    return mirror


@event_priority(100)  # before mkdocstrings reads its search paths, which must exist by then
def on_config(config: Any, **kwargs: Any) -> Any:
    make_mirror()
    return config


def on_files(files: Files, *, config: Any, **kwargs: Any) -> Files:
    for name, data in results.plots().items():
        files.append(File.generated(config, f"{results.PLOT_DIR}/{name}", content=data))
    return files


def on_page_markdown(markdown: str, *, page: Any, **kwargs: Any) -> str:
    depth = page.file.src_uri.count("/")
    return results.blocks(markdown, page_depth=depth)
