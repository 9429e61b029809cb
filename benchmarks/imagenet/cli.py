"""``python -m benchmarks.imagenet {pretrain,linear,finetune,export} ...`` (also under ``torchrun``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from maskaug.adapters.image import ImageDataError
from maskaug.siamese import shutdown

from . import classify, export, pretrain
from .common import non_negative_int
from .presets import PRESETS


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="folder with train/<class>/* and val/<class>/*")
    parser.add_argument("--out", type=Path, required=True, help="output folder (checkpoint, metrics, results)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="paper")
    parser.add_argument("--workers", type=non_negative_int, default=None, help="DataLoader workers per rank")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--on-bad-image", choices=("stop", "skip"), default="stop",
                        help="an unreadable image stops the run, or is reported and left out")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="do not open every image before training (faster start)")
    parser.add_argument("--no-resume", action="store_true",
                        help="start afresh: the previous run's files in --out (checkpoint.pt, metrics.jsonl, "
                        "tensorboard/, and imagenet.json or results.json and a drawn subset.txt) are first renamed "
                        "to <name>.old<N>, kept but never resumed (torchrun's restarts of the launch resume its own)")
    parser.add_argument("--no-progress", action="store_true", help="no progress line")
    parser.add_argument("--device", default=None, help="force a device (default: cuda:LOCAL_RANK, else cpu)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per step."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.imagenet",
        description="MSCN on ImageNet-1k: pre-train, evaluate (linear probe, 1%% fine-tuning), export.",
    )
    steps = parser.add_subparsers(dest="command", required=True)
    p = steps.add_parser("pretrain", help="SimCLR or BYOL pre-training with MSCN masks")
    _data_arguments(p)
    pretrain.add_arguments(p)
    p = steps.add_parser("linear", help="linear probe on the frozen backbone (top-1, top-5)")
    _data_arguments(p)
    classify.add_arguments(p, "linear")
    p = steps.add_parser("finetune", help="semi-supervised fine-tuning on 1%% of the labels")
    _data_arguments(p)
    classify.add_arguments(p, "finetune")
    p = steps.add_parser("export", help="the backbone as a torchvision state dict, plus its high-pass")
    export.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run one step; data errors exit with their message."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "export":
            export.run(args)
            return
        preset = PRESETS[args.preset]
        if args.command == "pretrain":
            pretrain.run(args, preset)
        else:
            classify.run(args, preset)
    except (ImageDataError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    shutdown()
