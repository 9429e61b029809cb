"""ImageFolder-style datasets (``root/<class>/<image>``), checked before any training starts.

The checks name the folder or file at fault: a missing directory, a class folder without images,
an image that cannot be read (reported, then skipped or fatal), or train and val splits whose
classes differ.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS

from maskaug.siamese.monitor import Progress

#: File suffixes read as images (lower case): those torchvision's ImageFolder reads.
IMAGE_SUFFIXES = tuple(IMG_EXTENSIONS)

OnBadImage = Literal["stop", "skip"]


class ImageDataError(ValueError):
    """An image dataset on disk is missing, empty, unreadable or inconsistent."""


@dataclass
class ImageFolderIndex:
    """The classes and images of one split, as found on disk.

    Attributes:
        root: The split's folder.
        classes: Class folder names, sorted; the label of a class is its position here.
        samples: ``(path, label)`` of every readable image, sorted by class then path.
        skipped: ``(path, reason)`` of the images left out because they could not be read.
    """

    root: Path
    classes: list[str]
    samples: list[tuple[str, int]]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".")


def _images_under(folder: Path) -> list[str]:
    """The image files in ``folder`` and its sub-folders at any depth (links followed, hidden
    entries left out), in torchvision's ImageFolder's order: folder by folder, the folders sorted
    by path, each folder's files sorted by name."""
    folders = []
    for parent, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        folders.append((parent, sorted(f for f in files if _is_image(f))))
    return [os.path.join(parent, f) for parent, files in sorted(folders) for f in files]


def _verify(path: str) -> str | None:
    """``None`` when PIL reads the file's header and structure, else the reason it cannot."""
    try:
        with Image.open(path) as image:
            image.verify()
    except Exception as e:  # PIL raises many kinds for damaged files
        return f"{type(e).__name__}: {e}"
    return None


def scan_image_folder(
    root: str | os.PathLike[str],
    *,
    classes: Sequence[str] | None = None,
    on_bad_image: OnBadImage = "stop",
    verify: bool = True,
    threads: int = 16,
    progress: bool = False,
) -> ImageFolderIndex:
    """List the classes and images of an ImageFolder split and check that they can be used.

    Args:
        root: The split's folder, holding one sub-folder of images per class (images in its own
            sub-folders count too, as in torchvision's ImageFolder).
        classes: Expected class names (another split's); their order sets the labels. A split
            with different class folders is refused, naming the classes that differ.
        on_bad_image: ``"stop"`` raises at the first unreadable image; ``"skip"`` reports it in
            ``skipped`` and leaves it out.
        verify: Open every image with PIL to check it (ImageNet's 1.28M files take a few
            minutes); ``False`` only lists files.
        threads: Threads that verify images.
        progress: Show a progress line while verifying.

    Returns:
        An `ImageFolderIndex`.

    Raises:
        ImageDataError: ``root`` is missing or holds no class folders, a class folder holds no
            images, ``classes`` differ from the folders found, or an image is unreadable with
            ``on_bad_image="stop"``.

    Example:
        ```python
        index = scan_image_folder("/data/imagenet/train", on_bad_image="skip")
        print(len(index.classes), len(index), index.skipped[:3])
        ```
    """
    if on_bad_image not in ("stop", "skip"):
        raise ValueError(f"on_bad_image must be 'stop' or 'skip', got {on_bad_image!r}")
    root = Path(root)
    if not root.is_dir():
        raise ImageDataError(f"image folder {root} does not exist or is not a directory")
    found = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not found:
        raise ImageDataError(f"image folder {root} holds no class sub-folders (expected {root}/<class>/<image>)")
    if classes is not None:
        expected = list(classes)
        repeated = sorted(c for c, n in collections.Counter(expected).items() if n > 1)
        if repeated:
            raise ImageDataError(f"classes lists {', '.join(repeated)} more than once")
        missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
        if missing or extra:
            raise ImageDataError(
                f"the classes of {root} differ from the training split's: "
                f"missing {_few(missing)}, unexpected {_few(extra)}"
            )
        found = expected
    samples: list[tuple[str, int]] = []
    for label, name in enumerate(found):
        folder = root / name
        files = _images_under(folder)
        if not files:
            raise ImageDataError(f"class folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        samples += [(f, label) for f in files]
    skipped: list[tuple[str, str]] = []
    if verify:
        bar = Progress(len(samples), enabled=progress)
        kept = []
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for (path, label), reason in zip(samples, pool.map(_verify, (p for p, _ in samples), chunksize=64)):
                bar.update(1)
                if reason is None:
                    kept.append((path, label))
                    continue
                if on_bad_image == "stop":
                    bar.close()
                    raise ImageDataError(
                        f"cannot read image {path} ({reason}); remove it or pass on_bad_image='skip' "
                        "(--on-bad-image skip) to leave such files out"
                    )
                skipped.append((path, reason))
        bar.close()
        samples = kept
        present = {label for _, label in samples}
        emptied = [name for label, name in enumerate(found) if label not in present]
        if emptied:
            folders = _few([str(root / c) for c in emptied])
            raise ImageDataError(f"every image of class folder(s) {folders} is unreadable")
    return ImageFolderIndex(root=root, classes=list(found), samples=samples, skipped=skipped)


def _few(names: Sequence[str], limit: int = 5) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return f"[{shown}{', ...' if len(names) > limit else ''}] ({len(names)})"


def scan_splits(
    root: str | os.PathLike[str], *, on_bad_image: OnBadImage = "stop", verify: bool = True, progress: bool = False
) -> tuple[ImageFolderIndex, ImageFolderIndex]:
    """Scan ``root/train`` and ``root/val`` and check that they hold the same classes.

    Raises:
        ImageDataError: As `scan_image_folder`, naming the split at fault.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImageDataError(f"dataset folder {root} does not exist (expected {root}/train and {root}/val)")
    train = scan_image_folder(root / "train", on_bad_image=on_bad_image, verify=verify, progress=progress)
    val = scan_image_folder(
        root / "val", classes=train.classes, on_bad_image=on_bad_image, verify=verify, progress=progress
    )
    return train, val


class ImageFolderDataset(Dataset):
    """Images of an `ImageFolderIndex` (or a subset of its samples) through a transform.

    Args:
        samples: ``(path, label)`` pairs, e.g. ``index.samples``.
        transform: Applied to the RGB PIL image; its result is the item's input (a tensor, or a
            list of views).

    Raises at read time:
        ImageDataError: Naming the file, when an image that passed the scan fails to decode.
    """

    def __init__(self, samples: Sequence[tuple[str, int]], transform: Callable[[Image.Image], Any]) -> None:
        if not samples:
            raise ImageDataError("the dataset holds no images")
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB")
        except Exception as e:
            raise ImageDataError(f"cannot decode image {path}: {type(e).__name__}: {e}") from e
        return self.transform(rgb), label
