"""``linear`` and ``finetune``: a classifier on the pre-trained backbone, under DDP, resumable.

``linear`` trains a linear layer on the frozen backbone (kept in eval mode); ``finetune`` trains
the backbone too, on a labelled subset. Both put the pre-training's high-pass in front of the
backbone (`maskaug.adapters.image.HighPassFirst`) and report top-1 and top-5 on the val split.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset

from maskaug.adapters import image
from maskaug.siamese import (
    ConfigMismatchError,
    DistEnv,
    MetricsLog,
    Progress,
    ResumableSampler,
    epoch_loader,
    init_distributed,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from maskaug.siamese import distributed as D
from maskaug.siamese.config import differences
from maskaug.siamese.trainer import non_finite_gradients

from .common import (
    load_pretrained_backbone,
    load_splits,
    non_negative_int,
    positive_float,
    positive_int,
    seed_everything,
    start_afresh_if_asked,
)
from .presets import Preset
from .subset import draw_subset, read_subset_file, write_subset_file

CHECKPOINT_NAME = "checkpoint.pt"
RESULTS_NAME = "results.json"
REFERENCE_BATCH = 256  # the paper's evaluation LRs are given at batch 256


class Classifier(nn.Module):
    """``head(backbone(x))``; with ``frozen`` the backbone stays in eval mode without gradients.

    Shape:
        ``(N, 3, H, W) -> (N, num_classes)``.
    """

    def __init__(
        self, backbone: nn.Module, feature_dim: int, num_classes: int, *, frozen: bool, head_norm: bool, seed: int
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.norm = nn.BatchNorm1d(feature_dim, affine=False) if head_norm else nn.Identity()
        self.head = nn.Linear(feature_dim, num_classes)
        nn.init.normal_(self.head.weight, std=0.01, generator=torch.Generator().manual_seed(seed))
        nn.init.zeros_(self.head.bias)
        self.frozen = frozen
        if frozen:
            backbone.requires_grad_(False)

    def train(self, mode: bool = True) -> Classifier:
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        if self.frozen:
            with torch.no_grad():
                features = self.backbone(x)
            return self.head(self.norm(features.float()))
        return self.head(self.norm(self.backbone(x)))


def lr_factor(settings: dict[str, Any], step: int, epoch: int, total_steps: int) -> float:
    """Linear probe: cosine from 1 to 0 over the steps; fine-tuning: x0.2 after each milestone."""
    if settings["mode"] == "linear":
        return 0.5 * (1 + math.cos(math.pi * step / total_steps))
    return 0.2 ** sum(epoch >= m for m in settings["milestones"])


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Any, *, env: DistEnv, batch_size: int, num_workers: int) -> dict[str, float]:
    """Top-1 and top-5 accuracy over ``dataset``, each rank taking every ``world_size``-th image.

    The loader has a generator of its own: evaluating leaves torch's global RNG, which a resumed
    run replays, untouched.
    """
    shard = Subset(dataset, range(env.rank, len(dataset), env.world_size))
    loader = DataLoader(shard, batch_size=batch_size, num_workers=num_workers, pin_memory=env.device.type == "cuda",
                        generator=torch.Generator().manual_seed(0))
    was_training = model.training
    model.eval()
    counts = torch.zeros(3, device=env.device)
    amp = env.device.type == "cuda"
    for x, y in loader:
        x, y = x.to(env.device, non_blocking=True), y.to(env.device, non_blocking=True)
        with torch.autocast(env.device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x).float()
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hits = top == y[:, None]
        counts += torch.stack([hits[:, 0].sum(), hits.any(1).sum(), torch.tensor(len(y), device=env.device)]).float()
    model.train(was_training)
    correct1, correct5, n = D.all_sum(counts).tolist()
    return {"top1": correct1 / n, "top5": correct5 / n, "images": int(n)}


def _training_samples(args: argparse.Namespace, train: image.ImageFolderIndex) -> list[tuple[str, int]]:
    if args.mode == "linear":
        return train.samples
    if args.subset_file is not None:
        return read_subset_file(args.subset_file, train)
    return draw_subset(train, args.percent, args.seed)


def _subset_name(args: argparse.Namespace) -> str:
    if args.subset_file is not None:
        return str(args.subset_file.resolve())
    return f"{args.percent}% per class, seed {args.seed}"


def _given(value: Any, default: Any) -> Any:
    """A flag's value, or ``default`` when the flag was not given (``None``)."""
    return default if value is None else value


def _settings(args: argparse.Namespace, preset: Preset, pretrained: dict[str, Any], world_size: int) -> dict[str, Any]:
    linear = args.mode == "linear"
    batch = _given(args.batch_size, preset.linear_batch_size if linear else preset.finetune_batch_size)
    if batch % world_size:
        raise ValueError(f"--batch-size {batch} does not divide over {world_size} ranks")
    scale = batch / REFERENCE_BATCH
    return {
        "mode": args.mode,
        "pretrained": str(args.pretrained.resolve()),
        "arch": pretrained["arch"],
        "highpass_sigma": pretrained["highpass_sigma"],
        "highpass_kernel_size": pretrained["highpass_kernel_size"],
        "image_size": pretrained["image_size"],
        "epochs": _given(args.epochs, preset.linear_epochs if linear else preset.finetune_epochs),
        "batch_size": batch,
        "head_lr": _given(args.lr, preset.linear_lr if linear else preset.finetune_head_lr) * scale,
        "backbone_lr": 0.0 if linear else _given(args.backbone_lr, preset.finetune_backbone_lr) * scale,
        "weight_decay": preset.linear_weight_decay if linear else 0.0,
        "momentum": 0.9,
        "milestones": list(preset.finetune_milestones),
        "subset": None if linear else _subset_name(args),
        "head_norm": preset.head_norm if args.head_norm is None else args.head_norm,
        "seed": args.seed,
    }


def _build(
    settings: dict[str, Any], backbone: nn.Module, classes: int, *, env: DistEnv, seed: int
) -> tuple[Classifier, nn.Module, torch.optim.Optimizer]:
    """The classifier on the device, its DDP wrapper (itself on one rank) and its SGD optimizer."""
    seed_everything(seed, 0)
    wrapped = image.HighPassFirst(
        backbone, sigma=settings["highpass_sigma"], kernel_size=settings["highpass_kernel_size"]
    )
    frozen = settings["mode"] == "linear"
    model = Classifier(wrapped, image.FEATURE_DIMS[settings["arch"]], classes, frozen=frozen,
                       head_norm=settings["head_norm"], seed=seed)
    cuda = env.device.type == "cuda"
    if cuda and env.world_size > 1 and not frozen:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(env.device)
    if cuda:
        model.to(memory_format=torch.channels_last)
    groups = [{"params": list(model.head.parameters()), "base_lr": settings["head_lr"]}]
    if not frozen:
        groups.append({"params": list(model.backbone.parameters()), "base_lr": settings["backbone_lr"]})
    optimizer = torch.optim.SGD(
        groups, lr=settings["head_lr"], momentum=settings["momentum"], weight_decay=settings["weight_decay"]
    )
    net: nn.Module = model
    if env.world_size > 1:
        net = DistributedDataParallel(model, device_ids=[env.device.index] if cuda else None)
    return model, net, optimizer


def _saved_run(checkpoint: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The state in ``checkpoint`` (``None`` where there is none), loaded on the CPU (RNG states must
    stay CPU tensors; `_resume` moves the weights to the device).

    Raises:
        ConfigMismatchError: The checkpoint was written with other settings.
    """
    if not checkpoint.exists():
        return None
    state = load_checkpoint(checkpoint, map_location="cpu")
    differing = differences(state["settings"], settings, sorted(settings))
    if differing:
        raise ConfigMismatchError(
            f"cannot resume {checkpoint}: it was written with other settings: {', '.join(differing)}; "
            "use another --out or --no-resume"
        )
    return state


def _resume(
    checkpoint: Path, state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer, *, env: DistEnv,
    size: tuple[int, int] | None = None,
) -> tuple[int, int, int]:
    """Restore the model, the optimizer and this rank's RNG states from ``state``, read from
    ``checkpoint`` by `_saved_run`.

    ``size``: the run's ``(training images, steps per epoch)``, checked against the checkpoint's
    (checkpoints of earlier versions hold none).

    Returns:
        ``(step, epoch, batch_in_epoch)`` of the checkpoint.

    Raises:
        ConfigMismatchError: The checkpoint was written for another training set size.
    """
    saved = state.get("size")
    if size is not None and saved is not None and tuple(saved) != tuple(size):
        raise ConfigMismatchError(
            f"cannot resume {checkpoint}: it was written for {saved[0]} training images ({saved[1]} steps per "
            f"epoch), now {size[0]} ({size[1]}); use another --out or --no-resume"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if state["world_size"] == env.world_size:
        set_rng_state(state["rng"][env.rank])
    return state["step"], state["epoch"], state["batch_in_epoch"]


def run(args: argparse.Namespace, preset: Preset) -> dict[str, Any]:
    """Train the classifier (resuming from ``out/checkpoint.pt``), evaluate it, write results.

    A finished run (its checkpoint at the last epoch, its results written) returns its results at once.
    """
    out: Path = args.out
    if out.resolve() == args.pretrained.resolve():  # (--no-resume would set the pre-training run aside)
        raise ValueError(f"--out {out} is the pre-training run's folder (--pretrained): give the {args.mode} run "
                         f"its own, for example {out / args.mode}")
    env = init_distributed(args.device)
    checkpoint = out / CHECKPOINT_NAME
    previous = [checkpoint, out / RESULTS_NAME, out / "metrics.jsonl", out / "tensorboard"]
    if args.mode == "finetune" and args.subset_file is None:  # the subset this run drew and wrote
        previous.append(out / "subset.txt")
    afresh = start_afresh_if_asked(args.no_resume, previous, env, args.mode)
    backbone, pretrained = load_pretrained_backbone(args.pretrained)
    settings = _settings(args, preset, pretrained, env.world_size)
    saved = None if afresh else _saved_run(checkpoint, settings)  # checked before the data is scanned
    if saved is not None and saved["epoch"] >= settings["epochs"] and (out / RESULTS_NAME).is_file():
        if env.is_main:
            print(f"{args.mode}: already finished; results in {out / RESULTS_NAME}", flush=True)
        return json.loads((out / RESULTS_NAME).read_text())
    train, val = load_splits(args.data, env=env, on_bad_image=args.on_bad_image, verify=args.verify,
                             progress=not args.no_progress)
    samples = _training_samples(args, train)
    size = settings["image_size"]
    dataset = image.ImageFolderDataset(samples, image.classifier_train_transform(size))
    test_set = image.ImageFolderDataset(val.samples, image.eval_transform(size))
    local_batch = settings["batch_size"] // env.world_size
    sampler = ResumableSampler(
        dataset, batch_size=local_batch, world_size=env.world_size, rank=env.rank, seed=args.seed
    )
    steps_per_epoch = sampler.batches_per_epoch
    if steps_per_epoch == 0:
        raise ValueError(
            f"{len(dataset)} training images are fewer than the batch size {settings['batch_size']}"
        )
    total_steps = settings["epochs"] * steps_per_epoch
    workers = preset.num_workers if args.workers is None else args.workers

    model, net, optimizer = _build(settings, backbone, len(train.classes), env=env, seed=args.seed)
    cuda = env.device.type == "cuda"

    step = epoch = batch_in_epoch = 0
    if saved is not None:
        step, epoch, batch_in_epoch = _resume(checkpoint, saved, model, optimizer, env=env,
                                              size=(len(dataset), steps_per_epoch))
        del saved  # (its weights: not kept through training)
    if env.is_main and args.mode == "finetune" and args.subset_file is None:  # after the resume check passed
        write_subset_file(out / "subset.txt", samples, train.root)

    def save() -> None:
        rng = D.gather_objects(rng_state())
        if env.is_main:
            save_checkpoint(
                checkpoint,
                {"settings": settings, "size": (len(dataset), steps_per_epoch), "world_size": env.world_size,
                 "step": step, "epoch": epoch, "batch_in_epoch": batch_in_epoch, "model": model.state_dict(),
                 "optimizer": optimizer.state_dict(), "rng": rng},
            )
        D.barrier()

    start_step = step
    log = MetricsLog(out, enabled=env.is_main)
    progress = Progress(total_steps, start_step=step, enabled=env.is_main and not args.no_progress)
    net.train()
    try:
        while epoch < settings["epochs"]:
            loader = epoch_loader(dataset, sampler, epoch=epoch, skip_batches=batch_in_epoch, seed=args.seed,
                                  rank=env.rank, num_workers=workers, pin_memory=cuda)
            for x, y in loader:
                factor = lr_factor(settings, step, epoch, total_steps)
                for group in optimizer.param_groups:
                    group["lr"] = group["base_lr"] * factor
                x, y = x.to(env.device, non_blocking=True), y.to(env.device, non_blocking=True)
                if cuda:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(env.device.type, dtype=torch.bfloat16, enabled=cuda):
                    loss = F.cross_entropy(net(x).float(), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                # one collective: the loss, and whether a rank's gradients hold NaN or infinity;
                # checked before the step, so that bad weights never reach a checkpoint
                stats = D.all_sum(torch.stack([loss.detach(), non_finite_gradients([optimizer], env.device)]))
                loss_sum, bad_gradients = stats.tolist()
                if not math.isfinite(loss_sum) or bad_gradients:
                    what = "loss" if not math.isfinite(loss_sum) else "gradients (finite loss)"
                    raise FloatingPointError(
                        f"non-finite {what} at step {step + 1}, stopped before the optimizer step; "
                        f"the last good checkpoint is {checkpoint}"
                    )
                optimizer.step()
                step, batch_in_epoch = step + 1, batch_in_epoch + 1
                mean_loss = loss_sum / env.world_size
                lr = settings["head_lr"] * factor
                progress.update(settings["batch_size"], loss=mean_loss, lr=lr)
                if step % args.log_every == 0:
                    log.write({"epoch": epoch, "loss": mean_loss, "head_lr": lr}, step=step)
                if batch_in_epoch == steps_per_epoch:
                    epoch, batch_in_epoch = epoch + 1, 0
                    save()
                elif args.checkpoint_every and step % args.checkpoint_every == 0:
                    save()
                if args.stop_after and step - start_step >= args.stop_after:
                    if batch_in_epoch:
                        save()
                    break
            if args.stop_after and step - start_step >= args.stop_after:
                break
            if args.eval_every and epoch % args.eval_every == 0 and epoch < settings["epochs"]:
                metrics = evaluate(model, test_set, env=env, batch_size=local_batch, num_workers=workers)
                log.write({"epoch": epoch, "event": "eval", **metrics}, step=step)
    finally:
        progress.close()
    if epoch < settings["epochs"]:
        log.close()
        if env.is_main:
            print(f"{args.mode}: stopped after step {step} of {total_steps}; run the same command to continue",
                  flush=True)
        return {"settings": settings, "steps": step, "finished": False}
    metrics = evaluate(model, test_set, env=env, batch_size=local_batch, num_workers=workers)
    result = {"settings": settings, "train_images": len(dataset), "steps": step, "finished": True, **metrics}
    if env.is_main:
        log.write({"epoch": epoch, "event": "end", **metrics}, step=step)
        (out / RESULTS_NAME).write_text(json.dumps(result, indent=2) + "\n")
        print(f"{args.mode}: top-1 {100 * metrics['top1']:.2f}%, top-5 {100 * metrics['top5']:.2f}% "
              f"on {metrics['images']} val images; results in {out / RESULTS_NAME}", flush=True)
    log.close()
    return result


def add_arguments(parser: argparse.ArgumentParser, mode: str) -> None:
    """The flags of ``linear`` or ``finetune``."""
    parser.set_defaults(mode=mode)
    parser.add_argument("--pretrained", type=Path, required=True, help="the --out folder of `pretrain`")
    parser.add_argument("--epochs", type=positive_int, default=None, help="default: the preset's")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="global batch (paper: 256)")
    if mode == "linear":
        parser.add_argument("--lr", type=positive_float, default=None, help="LR at batch 256 (paper: 1.0)")
    else:
        parser.add_argument("--lr", type=positive_float, default=None, help="classifier LR at batch 256 (paper: 0.5)")
        parser.add_argument("--backbone-lr", type=positive_float, default=None,
                            help="backbone LR at batch 256 (paper: 0.002)")
        parser.add_argument("--percent", type=float, default=1.0, help="labelled percent drawn per class")
        parser.add_argument("--subset-file", type=Path, default=None,
                            help="file list of the labelled images (e.g. SimCLR's 1percent.txt)")
    parser.add_argument("--head-norm", action=argparse.BooleanOptionalAction, default=None,
                        help="standardize features with a BatchNorm without affine before the linear layer "
                        "(default: the preset's; off in the paper preset)")
    parser.add_argument("--eval-every", type=non_negative_int, default=0, help="epochs between val evaluations (0: at the end)")
    parser.add_argument("--checkpoint-every", type=non_negative_int, default=1000,
                        help="steps between mid-epoch checkpoints (0: only at epoch ends)")
    parser.add_argument("--stop-after", type=non_negative_int, default=0,
                        help="checkpoint and stop after this many steps of this session (fits a job time limit; "
                        "run the same command again to continue)")
    parser.add_argument("--log-every", type=positive_int, default=50, help="steps between metrics.jsonl records")
