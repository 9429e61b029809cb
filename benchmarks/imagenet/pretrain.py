"""``pretrain``: SimCLR or BYOL with MSCN views on ImageNet, through the shared siamese engine."""

from __future__ import annotations

import argparse

import torch

from maskaug import HighPass
from maskaug.adapters import gpu_augment, image
from maskaug.siamese import TrainConfig, TrainResult, init_distributed, pretrain
from maskaug.siamese.trainer import CHECKPOINT_NAME

from .common import (
    load_splits,
    non_negative_int,
    per_class,
    positive_float,
    positive_int,
    seed_everything,
    SETTINGS_NAME,
    start_afresh_if_asked,
    write_settings,
)
from .presets import Preset

#: Settings of a pre-training run that its TrainConfig does not hold but a resume must keep; the
#: checkpoint stores them, and a resume with others is refused.
VIEW_SETTINGS = ("arch", "image_size", "mask", "highpass_sigma", "highpass_kernel_size", "cell")


def run(args: argparse.Namespace, preset: Preset) -> TrainResult:
    """Scan the data, build the views and the backbone, and pre-train (resuming if possible).

    ``imagenet.json`` is written when a run starts afresh; a resumed run keeps the one it started
    with. With ``--no-resume`` a checkpoint already in ``--out`` is first renamed, on the launch's
    first attempt only (`start_afresh_if_asked`): torchrun's restarts resume.
    """
    env = init_distributed(args.device)
    checkpoint = args.out / CHECKPOINT_NAME
    afresh = start_afresh_if_asked(
        args.no_resume, [checkpoint, args.out / SETTINGS_NAME, args.out / "metrics.jsonl", args.out / "tensorboard"], env, "pretrain")
    train, val = load_splits(args.data, env=env, on_bad_image=args.on_bad_image, verify=args.verify,
                             progress=not args.no_progress)
    sigma = None if args.no_highpass else preset.highpass_sigma
    view_options = dict(mask=not args.no_mask, highpass=not args.no_highpass, highpass_sigma=preset.highpass_sigma,
                        highpass_kernel_size=args.highpass_kernel_size, cell=preset.cell)
    if args.gpu_augment:  # workers decode into canvases; the views are made on the device, per batch
        cuda = env.device.type == "cuda"  # compiled, float16 views (autocast feeds the model bf16 anyway)
        views = gpu_augment.gpu_pretrain_views(preset.image_size, compile=cuda,
                                               dtype=torch.float16 if cuda else torch.float32,
                                               generator=torch.Generator(device=env.device), **view_options)
        dataset = image.ImageFolderDataset(train.samples, gpu_augment.ToCanvas(args.canvas))
    else:
        views = image.pretrain_views(preset.image_size, **view_options)
        dataset = image.ImageFolderDataset(train.samples, views)
    test = image.eval_transform(preset.image_size)
    knn_data = None
    if preset.knn_every_epochs:
        knn_data = (
            image.ImageFolderDataset(per_class(train.samples, preset.knn_per_class), test),
            image.ImageFolderDataset(val.samples, test),
        )
    epochs = preset.pretrain_epochs(args.method) if args.epochs is None else args.epochs
    config = TrainConfig(
        method=args.method,
        feature_dim=image.FEATURE_DIMS[preset.arch],
        global_batch_size=preset.batch_size if args.batch_size is None else args.batch_size,
        epochs=epochs,
        warmup_epochs=min(preset.warmup_epochs, epochs),
        base_lr=args.base_lr,
        proj_hidden_dim=preset.proj_hidden_dim,
        proj_out_dim=preset.proj_out_dim,
        pred_hidden_dim=preset.pred_hidden_dim,
        num_classes=len(train.classes),
        seed=args.seed,
        precision=args.precision,
        out_dir=str(args.out),
        resume=not afresh,
        checkpoint_every_steps=args.checkpoint_every,
        log_every_steps=args.log_every,
        num_workers=preset.num_workers if args.workers is None else args.workers,
        compile=args.compile,
        progress=not args.no_progress,
        knn_every_epochs=preset.knn_every_epochs,
    )
    settings = {
        "step": "pretrain",
        "preset": args.preset,
        "method": args.method,
        "arch": preset.arch,
        "image_size": preset.image_size,
        "mask": not args.no_mask,
        "highpass_sigma": sigma,
        "highpass_kernel_size": args.highpass_kernel_size,
        "cell": preset.cell,
        "gpu_augment": args.gpu_augment,
        "classes": len(train.classes),
        "train_images": len(train),
        "config": config.to_dict(),
    }
    if env.is_main and not checkpoint.exists():
        write_settings(args.out, settings)
    seed_everything(args.seed, 0)  # the same initial weights on every rank
    backbone = image.resnet_backbone(preset.arch)
    eval_highpass = None if sigma is None else HighPass(sigma, kernel_size=args.highpass_kernel_size)
    return pretrain(
        config,
        backbone,
        dataset,
        batch_views=views if args.gpu_augment else None,
        pairs=views.pairs,
        knn_data=knn_data,
        eval_transform=eval_highpass,
        device=args.device,
        metadata={k: settings[k] for k in VIEW_SETTINGS},
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``pretrain``."""
    parser.add_argument("--method", choices=("simclr", "byol"), default="simclr")
    parser.add_argument("--no-mask", action="store_true", help="baseline: no MSCN masks, all else identical")
    parser.add_argument("--no-highpass", action="store_true", help="baseline: no high-pass, all else identical")
    parser.add_argument("--highpass-kernel-size", type=int, default=None, help="odd taps (default: full Gaussian)")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="default: the preset's (SimCLR 800, BYOL 1000); the preset's warm-up is cut to fit")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="global batch (default: the preset's)")
    parser.add_argument("--base-lr", type=positive_float, default=None, help="LR at batch 4096 (default 4.8 / 3.2)")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"), default="auto")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--gpu-augment", action="store_true",
                        help="make the views on the device (workers only decode); same view distribution")
    parser.add_argument("--canvas", type=positive_int, default=512,
                        help="--gpu-augment: side of the decode canvas (larger images are shrunk to fit)")
    parser.add_argument("--checkpoint-every", type=non_negative_int, default=500,
                        help="steps between mid-epoch checkpoints (0: only at epoch ends)")
    parser.add_argument("--log-every", type=positive_int, default=50, help="steps between metrics.jsonl records")
