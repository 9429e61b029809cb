"""The labelled subset of semi-supervised fine-tuning: read from a file list, or drawn per class."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from maskaug.adapters.image import ImageDataError, ImageFolderIndex


def read_subset_file(path: Path, index: ImageFolderIndex) -> list[tuple[str, int]]:
    """The samples named by a file list such as SimCLR's ``1percent.txt`` (one file name a line).

    Names are matched against the file names (not folders) of ``index``.

    Raises:
        ImageDataError: The list is missing or empty, or names files the training split lacks.
    """
    if not path.is_file():
        raise ImageDataError(f"subset file {path} does not exist")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise ImageDataError(f"subset file {path} lists no images")
    by_name = {os.path.basename(p): (p, label) for p, label in index.samples}
    missing = [n for n in names if os.path.basename(n) not in by_name]
    if missing:
        raise ImageDataError(
            f"subset file {path}: {len(missing)} of {len(names)} images are not in {index.root} "
            f"(or were skipped as unreadable), e.g. {missing[:3]}"
        )
    return sorted({by_name[os.path.basename(n)] for n in names}, key=lambda s: (s[1], s[0]))


def draw_subset(index: ImageFolderIndex, percent: float, seed: int) -> list[tuple[str, int]]:
    """``percent``% of each class (at least one image), drawn with a seeded generator.

    The draw depends only on the index, ``percent`` and ``seed``, so every rank and every resumed
    run draws the same subset.
    """
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent!r}")
    generator = torch.Generator().manual_seed(seed)
    by_class: dict[int, list[tuple[str, int]]] = {}
    for sample in index.samples:
        by_class.setdefault(sample[1], []).append(sample)
    chosen = []
    for label in sorted(by_class):
        members = by_class[label]
        count = max(1, round(len(members) * percent / 100))
        order = torch.randperm(len(members), generator=generator)[:count].sort().values
        chosen += [members[i] for i in order.tolist()]
    return chosen


def write_subset_file(path: Path, samples: list[tuple[str, int]]) -> None:
    """Write the subset's file names, one a line, in the format `read_subset_file` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(os.path.basename(p) + "\n" for p, _ in samples))
    os.replace(tmp, path)
