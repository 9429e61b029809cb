"""What every step shares: the checked dataset splits, the run settings file, the pretrained backbone."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from maskaug.adapters import image
from maskaug.siamese import DistEnv, load_checkpoint
from maskaug.siamese.distributed import barrier

#: Written by ``pretrain`` into its output folder; read by ``linear``, ``finetune`` and ``export``.
SETTINGS_NAME = "imagenet.json"


def load_splits(
    data: Path, *, env: DistEnv, on_bad_image: image.OnBadImage, verify: bool, progress: bool = True
) -> tuple[image.ImageFolderIndex, image.ImageFolderIndex]:
    """Scan ``data/train`` and ``data/val`` once per job and share the verdict with every rank.

    Rank 0 lists and (with ``verify``) opens every image; the other ranks only list the folders and
    drop the files rank 0 skipped, so a job of many ranks reads each image header once.

    Raises:
        image.ImageDataError: On every rank, with rank 0's message (missing folder, empty class,
            unreadable image, train/val class mismatch).
    """
    verdict: list[Any] = [None]
    splits = None
    if env.is_main:
        try:
            splits = image.scan_splits(data, on_bad_image=on_bad_image, verify=verify, progress=progress)
            verdict[0] = ("ok", [p for split in splits for p, _ in split.skipped])
        except image.ImageDataError as e:
            verdict[0] = ("error", str(e))
    if env.world_size > 1:
        dist.broadcast_object_list(verdict, src=0)
    status, payload = verdict[0]
    if status == "error":
        raise image.ImageDataError(payload)
    if splits is None:
        listed = image.scan_splits(data, on_bad_image=on_bad_image, verify=False)
        skipped = set(payload)
        for split in listed:
            split.samples = [s for s in split.samples if s[0] not in skipped]
        splits = listed
    if env.is_main:
        for split in splits:
            for path, reason in split.skipped:
                print(f"skipped unreadable image {path}: {reason}", file=sys.stderr)
    return splits


def per_class(samples: list[tuple[str, int]], limit: int) -> list[tuple[str, int]]:
    """The first ``limit`` samples of each class (samples are sorted by class)."""
    counts: dict[int, int] = {}
    out = []
    for path, label in samples:
        if counts.get(label, 0) < limit:
            counts[label] = counts.get(label, 0) + 1
            out.append((path, label))
    return out


def write_settings(out: Path, settings: dict[str, Any]) -> None:
    """Write the run settings next to the checkpoint (rank 0 only)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / SETTINGS_NAME).write_text(json.dumps(settings, indent=2) + "\n")


def start_afresh_if_asked(no_resume: bool, paths: list[Path], env: DistEnv, step: str) -> bool:
    """With ``--no-resume`` on a launch's first attempt, rename ``paths`` aside as one set
    (`set_aside`; on the main rank, before any other work, so that an attempt that dies early
    leaves nothing a restart could resume); every rank waits for it. A restart by ``torchrun
    --max-restarts`` (``TORCHELASTIC_RESTART_COUNT`` above 0) resumes the checkpoint that the
    launch's first attempt wrote. Returns whether the run starts afresh."""
    afresh = no_resume and int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) == 0
    if afresh and env.is_main:
        moved = set_aside(paths)
        if moved:
            print(f"{step}: starting afresh; the previous run's {', '.join(p.name for p in moved)} are now "
                  f"{', '.join(str(p) for p in moved.values())}", flush=True)
    barrier()
    return afresh


def set_aside(paths: list[Path]) -> dict[Path, Path]:
    """Rename those of ``paths`` that exist to ``<name>.old<N>``, with one ``N`` for the set (the
    first free for every one of them), so that no later run resumes them and the files of one run
    keep one number.

    Returns:
        The moved paths and where each went.
    """
    present = [path for path in paths if path.exists()]
    n = 1
    while any(path.with_name(f"{path.name}.old{n}").exists() for path in paths):
        n += 1
    moved = {path: path.with_name(f"{path.name}.old{n}") for path in present}
    for path, target in moved.items():
        path.rename(target)
    return moved


def read_settings(run: Path) -> dict[str, Any]:
    """The settings of a pre-training run folder.

    Raises:
        FileNotFoundError: ``run`` is not a pre-training output folder.
    """
    path = run / SETTINGS_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{run} is not a pre-training run folder: {path} is missing (pass the --out folder of "
            "`python -m benchmarks.imagenet pretrain`)"
        )
    return json.loads(path.read_text())


def load_pretrained_backbone(run: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The pre-trained backbone of a run folder (from its checkpoint) and the run's settings.

    Returns:
        ``(backbone, settings)``: a torchvision ResNet without classifier holding the online
        network's backbone weights, on the CPU.
    """
    settings = read_settings(run)
    state = load_checkpoint(run / "checkpoint.pt")["network"]
    backbone = image.resnet_backbone(settings["arch"])
    prefix = "backbone."
    backbone.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
    return backbone, settings


def positive_int(text: str) -> int:
    """An argparse type: an integer > 0 (argparse names the flag when it is not)."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def seed_everything(seed: int, rank: int) -> None:
    """Seed torch's default generator for this rank (the DataLoader reseeds its workers)."""
    torch.manual_seed(seed * 1_000_003 + rank)
