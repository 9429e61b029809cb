"""The labelled subset of semi-supervised fine-tuning: read from a file list, or drawn per class."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from maskaug.adapters.image import ImageDataError, ImageFolderIndex


def read_subset_file(path: Path, index: ImageFolderIndex) -> list[tuple[str, int]]:
    """The samples named by a file list, one image a line: a file name, as in SimCLR's
    ``1percent.txt``, or a path relative to the split's folder (``class/sub/image.jpg``, as
    `write_subset_file` writes), which images of the same name in different folders need.

    Raises:
        ImageDataError: The list is missing or empty, names files the training split lacks, or
            names a file name that several of its images share.
    """
    if not path.is_file():
        raise ImageDataError(f"subset file {path} does not exist")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise ImageDataError(f"subset file {path} lists no images")
    by_path = {_relative(p, index.root): (p, label) for p, label in index.samples}
    by_name: dict[str, list[tuple[str, int]]] = {}
    for p, label in index.samples:
        by_name.setdefault(os.path.basename(p), []).append((p, label))
    chosen, missing = set(), []
    for name in names:
        if "/" in name:
            if name not in by_path:
                missing.append(name)
            else:
                chosen.add(by_path[name])
        elif name not in by_name:
            missing.append(name)
        elif len(by_name[name]) > 1:
            raise ImageDataError(f"subset file {path} names {name}, which {len(by_name[name])} images of "
                                 f"{index.root} share; give its path relative to that folder")
        else:
            chosen.add(by_name[name][0])
    if missing:
        raise ImageDataError(
            f"subset file {path}: {len(missing)} of {len(names)} images are not in {index.root} "
            f"(or were skipped as unreadable), e.g. {missing[:3]}"
        )
    return sorted(chosen, key=lambda s: (s[1], s[0]))


def _relative(image: str, root: Path) -> str:
    return Path(image).relative_to(root).as_posix()


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


def write_subset_file(path: Path, samples: list[tuple[str, int]], root: Path) -> None:
    """Write the subset's images as paths relative to the split's folder ``root``, one a line, as
    `read_subset_file` reads them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(_relative(p, root) + "\n" for p, _ in samples))
    os.replace(tmp, path)
