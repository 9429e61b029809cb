"""The documentation site builds in mkdocs' strict mode (no broken links, references or pages)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def nav_pages(nav: list) -> list[str]:
    pages = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_the_nav_lists_existing_pages() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    listed = set(nav_pages(config["nav"]))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert listed <= pages, listed - pages


def test_mkdocs_build_is_strict_clean(built_site: Path) -> None:
    for page in ("index.html", "concepts/index.html", "api/index.html", "benchmarks/index.html",
                 "recipes/image/index.html"):
        assert (built_site / page).is_file(), page
    assert (built_site / "assets" / "figures" / "masked_views.png").is_file()
    assert not (built_site / "scripts").exists(), "the docs scripts must stay out of the site"


def test_results_are_rendered_from_the_committed_files(built_site: Path) -> None:
    benchmarks = (built_site / "benchmarks" / "index.html").read_text()
    assert "MSCNMask / GaussianBlur(23)" in benchmarks
    assert "results:" not in benchmarks, "a results marker was left in the page"
    assert list((built_site / "assets" / "results").glob("*.png")), "no results plot was drawn"


def test_api_reference_covers_core_engine_and_adapters(built_site: Path) -> None:
    api = (built_site / "api" / "index.html").read_text()
    for name in ("maskaug.MSCNMask", "maskaug.siamese.trainer.pretrain", "maskaug.siamese.losses.nt_xent_loss",
                 "maskaug.adapters.image.pretrain_views", "maskaug.adapters.video.mscn_mask"):
        assert f'id="{name}"' in api, name
