"""MSCN's ImageNet reference run: ``python -m benchmarks.imagenet pretrain|linear|finetune|export``.

Each step runs as one process or under ``torchrun`` (one GPU, several GPUs, several nodes), resumes
from the checkpoint in its ``--out`` folder, and logs to ``metrics.jsonl`` and TensorBoard.
See ``docs/imagenet.md``.
"""

from .cli import build_parser, main
from .export import export, load_exported
from .presets import PRESETS, Preset

__all__ = ["PRESETS", "Preset", "build_parser", "export", "load_exported", "main"]
