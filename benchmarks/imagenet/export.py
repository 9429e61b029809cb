"""``export``: the pre-trained backbone as a torchvision ResNet state dict, plus its high-pass.

The export folder holds ``<arch>.pth`` (a torchvision ResNet state dict; with ``fc.*`` when taken
from a linear or fine-tuning run, so it is a whole classifier) and ``export.json`` (the
architecture and the preprocessing: normalization, then the high-pass). `load_exported` rebuilds
the model with the high-pass as its first stage.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from maskaug.adapters import image
from maskaug.siamese import load_checkpoint

from .classify import CHECKPOINT_NAME
from .common import load_pretrained_backbone

EXPORT_NAME = "export.json"
_NORM_EPS = 1e-5  # nn.BatchNorm1d's default eps, used by the classifier's feature standardization


def export(run: Path, out: Path) -> Path:
    """Write the backbone of a pre-training run, or the classifier of a linear/fine-tuning run.

    Args:
        run: A ``pretrain`` output folder, or a ``linear``/``finetune`` output folder.
        out: The export folder.

    Returns:
        The path of the state dict.
    """
    classify_state = None
    if not (run / "imagenet.json").is_file() and (run / CHECKPOINT_NAME).is_file():
        classify_state = load_checkpoint(run / CHECKPOINT_NAME)
        pretrain_run = Path(classify_state["settings"]["pretrained"])
    else:
        pretrain_run = run
    backbone, settings = load_pretrained_backbone(pretrain_run)
    state: dict[str, Any] = backbone.state_dict()
    num_classes = None
    if classify_state is not None:
        prefix = "backbone.module."
        model = classify_state["model"]
        state = {k[len(prefix) :]: v for k, v in model.items() if k.startswith(prefix)}
        state["fc.weight"], state["fc.bias"] = _fold_norm(model)
        num_classes = int(model["head.bias"].numel())
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{settings['arch']}.pth"
    torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, weights)
    meta = {
        "arch": settings["arch"],
        "weights": weights.name,
        "num_classes": num_classes,
        "source": str(run),
        "method": settings["method"],
        "mask": settings["mask"],
        "image_size": settings["image_size"],
        "normalize_mean": list(image.IMAGENET_MEAN),
        "normalize_std": list(image.IMAGENET_STD),
        "highpass_sigma": settings["highpass_sigma"],
        "highpass_kernel_size": settings["highpass_kernel_size"],
    }
    (out / EXPORT_NAME).write_text(json.dumps(meta, indent=2) + "\n")
    return weights


def _fold_norm(model: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's linear layer with its feature standardization (if any) folded in."""
    weight, bias = model["head.weight"].double(), model["head.bias"].double()
    if "norm.running_mean" in model:
        scale = (model["norm.running_var"].double() + _NORM_EPS).rsqrt()
        bias = bias - weight @ (model["norm.running_mean"].double() * scale)
        weight = weight * scale
    return weight.float(), bias.float()


def load_exported(folder: str | Path) -> image.HighPassFirst:
    """The exported network with the run's high-pass as its first stage.

    Without an exported classifier, ``fc`` is an identity and the model returns features.

    Shape:
        ImageNet-normalized ``(N, 3, H, W)`` -> ``(N, num_classes)`` or ``(N, feature_dim)``.
    """
    folder = Path(folder)
    meta = json.loads((folder / EXPORT_NAME).read_text())
    model = getattr(torchvision.models, meta["arch"])(weights=None, num_classes=meta["num_classes"] or 1000)
    if meta["num_classes"] is None:
        model.fc = nn.Identity()
    model.load_state_dict(torch.load(folder / meta["weights"], map_location="cpu", weights_only=True))
    return image.HighPassFirst(model, sigma=meta["highpass_sigma"], kernel_size=meta["highpass_kernel_size"])


def run(args: argparse.Namespace) -> Path:
    """Export and print where the files went."""
    weights = export(args.pretrained, args.out)
    print(f"exported {weights} and {args.out / EXPORT_NAME}", flush=True)
    return weights


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``export``."""
    parser.add_argument("--pretrained", type=Path, required=True,
                        help="a `pretrain` output folder, or a `linear`/`finetune` one (exports the classifier)")
    parser.add_argument("--out", type=Path, required=True, help="the export folder")

