"""Spoken words: SimCLR with SpecAugment, with MSCN masks, and with both; tested on unseen accents.

``python -m benchmarks.modalities.spectrogram --preset cpu`` pre-trains a small ConvNet on log-mel
features of the training voices' clips with each masking policy, then reports kNN and
linear-probe accuracy on the clips of the held-out voices: two accents never heard in training
(their voice variants are heard with other accents). The clips are synthetic speech from the
espeak-ng synthesizer (see ``load_spoken_words``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from maskaug.adapters import spectrogram

from .augment import SpectrogramAugment
from .common import SHARED_DATA, Arm, Budget, parse, record, run_arm, write
from .models import ConvNet2d

#: The spoken-words file: ``--data``, else ``$MASKAUG_SPOKEN_WORDS``, else the copy in
#: ``shared/data`` beside the repository.
DATA = Path(os.environ.get("MASKAUG_SPOKEN_WORDS", SHARED_DATA / "spoken-words" / "spoken_words_16k.npz"))
CLASSES = 20


@dataclass(frozen=True)
class Preset(Budget):
    """Sizes of one run: training budget, features, masks, and the arms to compare."""

    n_mels: int = 32
    hop_length: int = 320
    cell_f: int = 8
    cell_t: int = 5
    highpass_sigma: float = 2.0
    freq_mask_param: int = 6
    time_mask_param: int = 10
    train_limit: int | None = None
    test_limit: int | None = None
    arms: tuple[str, ...] = ("specaugment", "mscn", "mscn-no-highpass", "mscn-highpass-t", "both")


PRESETS = {
    "smoke": Preset(epochs=1, batch_size=32, width=4, probe_epochs=20, knn_k=10, train_limit=128, test_limit=64),
    "cpu": Preset(epochs=8, batch_size=128, width=8),
    "gpu": Preset(
        epochs=60, batch_size=256, width=32, n_mels=40, hop_length=160, cell_t=10, freq_mask_param=8,
        time_mask_param=20,
    ),
}

_HIGHPASS = {"specaugment": None, "mscn": "f t", "mscn-no-highpass": None, "mscn-highpass-t": "t", "both": "f t"}
_NAMES = {
    "specaugment": "SimCLR + SpecAugment",
    "mscn": "SimCLR + MSCN (high-pass f t)",
    "mscn-no-highpass": "SimCLR + MSCN (no high-pass)",
    "mscn-highpass-t": "SimCLR + MSCN (high-pass t)",
    "both": "SimCLR + SpecAugment + MSCN",
}


def features(preset: Preset, path: Path = DATA) -> tuple[TensorDataset, TensorDataset]:
    """Log-mel features ``(1, n_mels, frames)`` of the train and test voices, standardized per band.

    Bands are standardized with the training clips' mean and std, so the high-pass and the masks
    see zero-mean input.
    """
    train, test = spectrogram.load_spoken_words(path)
    logmel = spectrogram.LogMel(sample_rate=train.sample_rate, n_mels=preset.n_mels, hop_length=preset.hop_length)
    splits = []
    for part, limit in ((train, preset.train_limit), (test, preset.test_limit)):
        keep = _subset(len(part.labels), limit)
        splits.append((logmel(part.audio[keep]).unsqueeze(1), part.labels[keep]))
    (train_x, train_y), (test_x, test_y) = splits
    mean = train_x.mean(dim=(0, 1, 3), keepdim=True)
    std = train_x.std(dim=(0, 1, 3), keepdim=True)
    return TensorDataset((train_x - mean) / std, train_y), TensorDataset((test_x - mean) / std, test_y)


def _subset(n: int, limit: int | None) -> torch.Tensor:
    """A fixed, class-mixed subset: every ``n // limit``-th clip (all clips when ``limit`` is None)."""
    if limit is None or limit >= n:
        return torch.arange(n)
    return torch.linspace(0, n - 1, limit).round().long()


def arm(key: str, preset: Preset) -> Arm:
    """The views and evaluation transform of the arm ``key`` (a key of ``_NAMES``)."""
    augment = SpectrogramAugment(max_shift=preset.cell_t * 2)
    policy = {"specaugment": "specaugment", "both": "both"}.get(key, "mscn")
    options = {} if policy == "specaugment" else {"cell": {"f": preset.cell_f, "t": preset.cell_t}}
    views = spectrogram.pretrain_views(
        augment,
        policy=policy,
        highpass_axes=_HIGHPASS[key],
        highpass_sigma=preset.highpass_sigma,
        specaugment_options={"freq_mask_param": preset.freq_mask_param, "time_mask_param": preset.time_mask_param},
        **options,
    )
    return Arm(_NAMES[key], views, spectrogram.eval_highpass(_HIGHPASS[key], preset.highpass_sigma))


def run(preset_name: str, *, seeds: Sequence[int] = (0,), out: Path, runs: Path, epochs: int | None = None,
        progress: bool = True, data: Path = DATA) -> dict:
    """Every arm of the preset for every seed, on the spoken-words file ``data``; writes and
    returns the JSON record."""
    preset = PRESETS[preset_name]
    if epochs is not None:
        preset = dataclasses.replace(preset, epochs=epochs)
    train, test = features(preset, data)
    rows = []
    for seed in seeds:
        for key in preset.arms:
            torch.manual_seed(seed)
            backbone = ConvNet2d(in_channels=1, width=preset.width)
            rows.append(run_arm(arm(key, preset), backbone, train, test, budget=preset, num_classes=CLASSES,
                                seed=seed, out=runs, progress=progress))
    description = (
        f"spoken words (synthetic speech by espeak-ng voices), {len(train)} training clips, {len(test)} test clips "
        f"of two unseen accents, {CLASSES} words (chance 5%), log-mel {preset.n_mels} bands x "
        f"{train[0][0].shape[-1]} frames"
    )
    result = record(modality="spectrogram", preset_name=preset_name, preset=preset, seeds=seeds, data=description, rows=rows)
    write(result, out)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.modalities.spectrogram [--preset smoke|cpu|gpu] [--seeds 0 1 2] [--data FILE]``."""
    args = parse("python -m benchmarks.modalities.spectrogram", __doc__, list(PRESETS), argv, data=DATA)
    start = time.perf_counter()
    result = run(args.preset, seeds=args.seeds, out=args.out, runs=args.runs, epochs=args.epochs, data=args.data)
    print(f"{len(result['rows'])} runs in {time.perf_counter() - start:.0f} s; results in {args.out}")


if __name__ == "__main__":
    main()
