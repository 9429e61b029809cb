"""The siamese pre-training loop: single process or DDP under torchrun, resumable, monitored."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from maskaug.views import all_pairs

from . import distributed as D
from .checkpoint import find_generators, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import ConfigMismatchError, TrainConfig, check_resumable, differences
from .data import ResumableSampler, epoch_loader
from .ema import ema_momentum, ema_update
from .evaluate import extract_features, knn_accuracy
from .heads import SiameseNetwork, TargetNetwork, byol_predictor, byol_projector, simclr_projector
from .lars import LARS, lars_param_groups
from .losses import byol_loss, multi_pair_loss, nt_xent_loss
from .monitor import MetricsLog, Progress
from .schedule import WarmupCosine

CHECKPOINT_NAME = "checkpoint.pt"
BatchViews = Callable[[Tensor], Sequence[Tensor]]


class NonFiniteLossError(RuntimeError):
    """The loss or a gradient became NaN or infinite on at least one rank; every rank stops.

    It is raised before the optimizer step, so the weights and the last checkpoint stay finite.
    """


@dataclass
class TrainResult:
    """What a finished run reports.

    Attributes:
        network: The online network (unwrapped, on the training device); ``network.backbone`` is
            what evaluation uses.
        target: BYOL's EMA target network, or ``None`` for SimCLR.
        steps: Optimizer steps done in total (including before a resume).
        final_loss: Global mean siamese loss of the last step of this session (NaN if none ran).
        online_linear_top1: Online classifier's top-1 over this session's last epoch of training
            batches (``None`` if none ran).
        knn_top1: Last kNN monitor accuracy on rank 0; ``None`` on other ranks, without monitor
            data, or when the run had already finished (nothing is trained or evaluated again).
        views_per_second: Training throughput of this session over all ranks.
        seconds: Wall time of this session's training loop.
        checkpoint: Path of the run's checkpoint.
    """

    network: SiameseNetwork
    target: TargetNetwork | None
    steps: int
    final_loss: float
    online_linear_top1: float | None
    knn_top1: float | None
    views_per_second: float
    seconds: float
    checkpoint: Path


def build_network(config: TrainConfig, backbone: nn.Module) -> SiameseNetwork:
    """The online network of ``config.method`` around ``backbone`` (heads seeded by ``config.seed``)."""
    hidden, out = config.resolved_proj_hidden_dim, config.proj_out_dim
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.method == "simclr":
            projector, predictor = simclr_projector(config.feature_dim, hidden, out), None
        else:
            projector = byol_projector(config.feature_dim, hidden, out)
            predictor = byol_predictor(out, config.pred_hidden_dim)
        classifier = nn.Linear(config.feature_dim, config.num_classes) if config.num_classes else None
    return SiameseNetwork(backbone, projector, predictor, classifier)


def _autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    if config.precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[config.precision]


def non_finite_gradients(optimizers: Sequence[torch.optim.Optimizer | None], device: torch.device) -> Tensor:
    """1.0 when a gradient of the optimizers' parameters holds NaN or infinity, else 0.0, on ``device``.

    One fused max-norm per dtype of gradients (the largest magnitude: finite exactly when every
    element is, where a 2-norm of finite float16 values can overflow), not an operation per parameter.
    """
    groups: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for opt in optimizers:
        for group in [] if opt is None else opt.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    groups.setdefault((p.grad.device, p.grad.dtype), []).append(p.grad)
    finite = [torch.stack(torch._foreach_norm(grads, math.inf)).isfinite().all().to(device) for grads in groups.values()]
    if not finite:
        return torch.zeros((), device=device)
    return (~torch.stack(finite).all()).float()


def _check_metadata(saved: dict[str, Any] | None, current: dict[str, Any] | None) -> None:
    """Refuse to resume a checkpoint whose metadata differs from the run's, naming the keys."""
    differing = differences(saved or {}, current or {})
    if differing:
        raise ConfigMismatchError(
            f"cannot resume: the checkpoint's metadata differs in {', '.join(differing)}; "
            "use another out_dir or resume=False to start afresh"
        )


def _seed_generators(generators: Sequence[torch.Generator], seed: int, rank: int) -> None:
    for i, g in enumerate(generators):
        g.manual_seed((seed * 1_000_003 + rank) * 8191 + i + 1)


class _Run:
    """The state of one pre-training session; `pretrain` is its public face."""

    def __init__(
        self,
        config: TrainConfig,
        backbone: nn.Module,
        dataset: Dataset,
        *,
        batch_views: BatchViews | None,
        pairs: Sequence[tuple[int, int]] | None,
        knn_data: tuple[Dataset, Dataset] | None,
        eval_transform: Callable[[Tensor], Tensor] | None,
        generators: Sequence[torch.Generator],
        device: str | torch.device | None,
        metadata: dict[str, Any] | None,
    ) -> None:
        self.config = config
        self.metadata = metadata
        self.env = D.init_distributed(device)
        if config.global_batch_size % self.env.world_size:
            raise ValueError(
                f"global_batch_size={config.global_batch_size} does not divide over "
                f"world_size={self.env.world_size} ranks"
            )
        self.local_batch = config.global_batch_size // self.env.world_size
        self.dataset = dataset
        self.batch_views = batch_views
        view_source = dataset if batch_views is None else batch_views
        self.pairs = pairs if pairs is not None else getattr(view_source, "pairs", None)
        self.knn_data = knn_data
        self.eval_transform = eval_transform
        self.generators = list(generators) + [
            g for g in find_generators(batch_views, dataset) if all(g is not h for h in generators)
        ]
        self.out_dir = Path(config.out_dir)
        self.checkpoint_path = self.out_dir / CHECKPOINT_NAME
        device = self.env.device
        self.device = device
        self.amp_dtype = _autocast_dtype(config, device)
        self.channels_last = config.channels_last and device.type == "cuda"
        if isinstance(batch_views, nn.Module):
            batch_views.to(device)

        network = build_network(config, backbone)
        if self.env.world_size > 1 and device.type == "cuda":
            network = nn.SyncBatchNorm.convert_sync_batchnorm(network)
        network.to(device)
        if self.channels_last:
            network.to(memory_format=torch.channels_last)
        self.network = network
        self.target = None
        if config.method == "byol":
            self.target = TargetNetwork(copy.deepcopy(network.backbone), copy.deepcopy(network.projector))
        ssl_modules = nn.ModuleList([network.backbone, network.projector, network.predictor])
        self.optimizer = LARS(
            lars_param_groups(ssl_modules),
            lr=config.peak_lr,
            momentum=config.momentum,
            weight_decay=config.resolved_weight_decay,
            eta=config.lars_eta,
        )
        self.classifier_optimizer = None
        if network.classifier is not None:
            self.classifier_optimizer = torch.optim.SGD(
                network.classifier.parameters(), lr=config.classifier_lr, momentum=0.9
            )
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        model: nn.Module = network
        if self.env.world_size > 1:
            model = DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None)
        self.model = torch.compile(model) if config.compile else model

        self.sampler = ResumableSampler(
            dataset, batch_size=self.local_batch, world_size=self.env.world_size, rank=self.env.rank, seed=config.seed
        )
        self.steps_per_epoch = self.sampler.batches_per_epoch
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"the dataset ({len(dataset)} samples) is smaller than global_batch_size={config.global_batch_size}"
            )
        self.total_steps = config.epochs * self.steps_per_epoch
        self.scheduler = WarmupCosine(
            self.optimizer,
            total_steps=self.total_steps,
            warmup_steps=round(config.warmup_epochs * self.steps_per_epoch),
            peak=config.peak_lr,
        )
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.resumed = False
        self.last_lr, self.last_num_views = 0.0, 0
        if config.resume and self.checkpoint_path.exists():
            self._load()
        else:
            torch.manual_seed(config.seed * 1_000_003 + self.env.rank)
            _seed_generators(self.generators, config.seed, self.env.rank)

    # ----------------------------------------------------------------- checkpoints
    def _save(self) -> None:
        rng = D.gather_objects(rng_state(self.generators))
        if self.env.is_main:
            save_checkpoint(
                self.checkpoint_path,
                {
                    "config": self.config.to_dict(),
                    "metadata": self.metadata,
                    "world_size": self.env.world_size,
                    "dataset_size": len(self.dataset),
                    "steps_per_epoch": self.steps_per_epoch,
                    "step": self.step,
                    "epoch": self.epoch,
                    "batch_in_epoch": self.batch_in_epoch,
                    "network": self.network.state_dict(),
                    "target": None if self.target is None else self.target.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "classifier_optimizer": None
                    if self.classifier_optimizer is None
                    else self.classifier_optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(),
                    "scaler": self.scaler.state_dict(),
                    "rng": rng,
                },
            )
        D.barrier()

    def _load(self) -> None:
        # on the CPU: RNG states must stay CPU tensors; load_state_dict moves weights to the device
        state = load_checkpoint(self.checkpoint_path, map_location="cpu")
        check_resumable(state["config"], self.config)
        if "metadata" in state:  # (checkpoints of earlier versions have neither it nor the dataset size)
            _check_metadata(state["metadata"], self.metadata)
        saved_size = (state.get("dataset_size", len(self.dataset)), state.get("steps_per_epoch", self.steps_per_epoch))
        if saved_size != (len(self.dataset), self.steps_per_epoch):
            raise ConfigMismatchError(
                f"cannot resume: the checkpoint was written with a dataset of {saved_size[0]} samples "
                f"({saved_size[1]} steps per epoch), now {len(self.dataset)} samples ({self.steps_per_epoch} steps "
                f"per epoch over {self.env.world_size} ranks), so neither the data order nor the LR schedule "
                "would continue; use the same dataset, another out_dir or resume=False to start afresh"
            )
        try:
            self.network.load_state_dict(state["network"])
            if self.target is not None:
                self.target.load_state_dict(state["target"])
        except RuntimeError as e:
            raise ValueError(f"the backbone does not match the one in {self.checkpoint_path}: {e}") from e
        self.optimizer.load_state_dict(state["optimizer"])
        if self.classifier_optimizer is not None:
            self.classifier_optimizer.load_state_dict(state["classifier_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        if state["world_size"] == self.env.world_size:
            set_rng_state(state["rng"][self.env.rank], self.generators)
        else:  # a different number of ranks cannot continue the old per-rank streams
            torch.manual_seed((self.config.seed * 1_000_003 + self.env.rank) * 7 + self.step)
            _seed_generators(self.generators, self.config.seed + self.step, self.env.rank)
        self.resumed = True

    # ----------------------------------------------------------------- one step
    def _views(self, inputs: Any) -> list[Tensor]:
        if self.batch_views is not None:
            views = list(self.batch_views(inputs.to(self.device, non_blocking=True)))
        else:
            if not isinstance(inputs, (list, tuple)):
                raise TypeError(
                    "without batch_views the dataset must yield (list_of_views, label), got inputs of "
                    f"type {type(inputs).__name__}"
                )
            views = [v.to(self.device, non_blocking=True) for v in inputs]
        if len(views) < 2 or len({tuple(v.shape) for v in views}) != 1:
            raise ValueError(
                f"expected >= 2 views of one shape, got shapes {[tuple(v.shape) for v in views]}"
            )
        return views

    def _train_step(self, inputs: Any, labels: Tensor) -> list[float]:
        """One optimizer step; returns its statistics summed over ranks: ``[loss, non-finite loss flag,
        ce, correct, count, non-finite gradient flag]``, read to the host once (for the non-finite check)."""
        views = self._views(inputs)
        k, n = len(views), views[0].shape[0]
        pairs = self.pairs if self.pairs is not None else all_pairs(k)
        if any(not 0 <= i < k or not 0 <= j < k or i == j for i, j in pairs):
            raise ValueError(f"pairs {list(pairs)} do not index {k} views")
        x = torch.cat(views)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        lr = self.scheduler.step()
        cfg = self.config
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            _, z, p, logits = self.model(x)
            targets = None if self.target is None else self.target(x)
        # the losses run outside autocast: they compute in float32 (float64 inputs stay float64)
        if cfg.method == "simclr":
            zs = z.chunk(k)
            loss = multi_pair_loss(lambda i, j: nt_xent_loss(zs[i], zs[j], temperature=cfg.temperature), pairs)
        else:
            ps, ts = p.chunk(k), targets.chunk(k)
            loss = multi_pair_loss(lambda i, j: byol_loss(ps[i], ps[j], ts[i], ts[j]), pairs)
        total = loss
        ce = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device)
        if logits is not None:
            labels = labels.to(self.device, non_blocking=True)
            first = logits[:n].float()
            ce = F.cross_entropy(first, labels)
            correct = (first.argmax(1) == labels).sum().float()
            total = total + ce
        self.optimizer.zero_grad(set_to_none=True)
        if self.classifier_optimizer is not None:
            self.classifier_optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        # with fp16 the scaler skips steps whose gradients overflow; otherwise they are an error
        bad_grads = torch.zeros((), device=self.device)
        if not self.scaler.is_enabled():
            bad_grads = non_finite_gradients([self.optimizer, self.classifier_optimizer], self.device)
        # one collective per step: [loss, non-finite flag, ce, correct, count, bad-gradient flag]
        stats = D.all_sum(
            torch.stack(
                [
                    loss.detach().float(),
                    (~torch.isfinite(total.detach())).float(),
                    ce.detach().float(),
                    correct,
                    torch.tensor(float(n), device=self.device),
                    bad_grads,
                ]
            )
        )
        values = stats.tolist()  # the step's one host synchronization
        if values[1] > 0 or values[5] > 0:
            what = "loss" if values[1] > 0 else "gradients (finite loss)"
            raise NonFiniteLossError(
                f"non-finite {what} at step {self.step + 1} (epoch {self.epoch}) on at least one rank; "
                f"stopped every rank before the optimizer step; the last good checkpoint is {self.checkpoint_path}"
            )
        self.scaler.step(self.optimizer)
        if self.classifier_optimizer is not None:
            self.scaler.step(self.classifier_optimizer)
        self.scaler.update()
        if self.target is not None:
            tau = ema_momentum(self.step + 1, self.total_steps, cfg.ema_base)
            ema_update(self.target.backbone, self.network.backbone, tau)
            ema_update(self.target.projector, self.network.projector, tau)
        self.last_lr, self.last_num_views = lr, k
        return values

    # ----------------------------------------------------------------- loop
    def _knn(self) -> float:
        memory, queries = self.knn_data
        backbone = self.network.backbone
        train = extract_features(backbone, memory, device=self.device, transform=self.eval_transform)
        test = extract_features(backbone, queries, device=self.device, transform=self.eval_transform)
        return knn_accuracy(*train, *test, k=self.config.knn_k, temperature=self.config.knn_temperature)

    def run(self) -> TrainResult:
        cfg, main = self.config, self.env.is_main
        if self.epoch >= cfg.epochs:  # a finished run launched again: nothing to train or log
            if main:
                print(f"pre-training already finished: steps {self.step}, checkpoint {self.checkpoint_path}",
                      flush=True)
            return TrainResult(network=self.network, target=self.target, steps=self.step, final_loss=math.nan,
                               online_linear_top1=None, knn_top1=None, views_per_second=0.0, seconds=0.0,
                               checkpoint=self.checkpoint_path)
        log = MetricsLog(self.out_dir, enabled=main)
        progress = Progress(self.total_steps, start_step=self.step, enabled=main and cfg.progress)
        if main and not self.resumed:
            log.write({"event": "start", "config": cfg.to_dict(), "world_size": self.env.world_size}, step=0)
        final_loss, online_top1, knn_top1 = math.nan, None, None
        start = time.perf_counter()
        self.network.train()
        try:
            while self.epoch < cfg.epochs:
                loader = epoch_loader(
                    self.dataset,
                    self.sampler,
                    epoch=self.epoch,
                    skip_batches=self.batch_in_epoch,
                    seed=cfg.seed,
                    rank=self.env.rank,
                    num_workers=cfg.num_workers,
                    pin_memory=self.device.type == "cuda",
                )
                correct = count = 0.0  # the online classifier's, this epoch
                for inputs, labels in loader:
                    values = self._train_step(inputs, torch.as_tensor(labels))
                    self.step += 1
                    self.batch_in_epoch += 1
                    correct, count = correct + values[3], count + values[4]
                    loss = values[0] / self.env.world_size
                    final_loss = loss
                    progress.update(cfg.global_batch_size * self.last_num_views, loss=loss, lr=self.last_lr)
                    if self.step % cfg.log_every_steps == 0:
                        record = {"epoch": self.epoch, "loss": loss, "lr": self.last_lr, "views_per_s": progress.views_per_second}
                        if self.network.classifier is not None:
                            record.update(
                                linear_loss=values[2] / self.env.world_size,
                                linear_top1=values[3] / values[4],
                            )
                        log.write(record, step=self.step)
                    save = bool(cfg.checkpoint_every_steps) and self.step % cfg.checkpoint_every_steps == 0
                    if self.batch_in_epoch == self.steps_per_epoch:
                        self.epoch, self.batch_in_epoch = self.epoch + 1, 0
                        save |= self.epoch % cfg.checkpoint_every_epochs == 0 or self.epoch == cfg.epochs
                    if save:
                        self._save()
                record = {"epoch": self.epoch, "event": "epoch_end"}
                if self.network.classifier is not None and count > 0:
                    online_top1 = correct / count
                    record["online_linear_top1"] = online_top1
                if self.knn_data is not None and cfg.knn_every_epochs and (
                    self.epoch % cfg.knn_every_epochs == 0 or self.epoch == cfg.epochs
                ):
                    if main:
                        knn_top1 = self._knn()
                        record["knn_top1"] = knn_top1
                    D.barrier()
                log.write(record, step=self.step)
        finally:
            progress.close()
            log.close()
        seconds = time.perf_counter() - start
        if self.knn_data is not None and knn_top1 is None and main:
            knn_top1 = self._knn()
        result = TrainResult(
            network=self.network,
            target=self.target,
            steps=self.step,
            final_loss=final_loss,
            online_linear_top1=online_top1,
            knn_top1=knn_top1,
            views_per_second=progress.views_per_second,
            seconds=seconds,
            checkpoint=self.checkpoint_path,
        )
        if main:
            log.write({"event": "end", "final_loss": final_loss, "knn_top1": knn_top1,
                       "online_linear_top1": online_top1, "views_per_s": result.views_per_second,
                       "seconds": seconds}, step=self.step)
            print(summary(result), flush=True)
        return result


def summary(result: TrainResult) -> str:
    """A short human-readable summary of a finished run."""
    parts = [f"steps {result.steps}", f"final loss {result.final_loss:.4f}"]
    if result.online_linear_top1 is not None:
        parts.append(f"online linear top-1 {100 * result.online_linear_top1:.1f}%")
    if result.knn_top1 is not None:
        parts.append(f"kNN top-1 {100 * result.knn_top1:.1f}%")
    parts += [f"{result.views_per_second:.0f} views/s", f"{result.seconds:.1f} s", f"checkpoint {result.checkpoint}"]
    return "pre-training done: " + ", ".join(parts)


def pretrain(
    config: TrainConfig,
    backbone: nn.Module,
    dataset: Dataset,
    *,
    batch_views: BatchViews | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
    knn_data: tuple[Dataset, Dataset] | None = None,
    eval_transform: Callable[[Tensor], Tensor] | None = None,
    generators: Sequence[torch.Generator] = (),
    device: str | torch.device | None = None,
    metadata: dict[str, Any] | None = None,
) -> TrainResult:
    """Pre-train ``backbone`` with SimCLR or BYOL over every pair of K views.

    Runs as one process, or under ``torchrun`` with DDP (NCCL on CUDA, gloo on CPU): the global
    batch is split over ranks, BatchNorm becomes SyncBatchNorm on CUDA (on CPU each rank keeps
    its own batch statistics), NT-Xent negatives come from every rank. With an existing
    ``out_dir/checkpoint.pt`` (and ``config.resume``) the run continues where it stopped, exactly,
    so ``torchrun --max-restarts N`` recovers from a crash; a finished run returns at once.
    (With torch >= 2.4, run such torchrun jobs with ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1``:
    the rendezvous store shared with the workers can give restarted workers the previous
    round's addresses, pytorch/pytorch#135712.)

    Views come either from the dataset (it yields ``(list_of_K_views, label)``, built per sample,
    e.g. in DataLoader workers) or from ``batch_views`` applied on the device to each batch
    (the dataset yields ``(input, label)``; e.g. a ``maskaug.MultiView`` of
    ``MSCNMask(layout="b c h w")``). The loss is averaged over ``pairs``; by default the
    ``.pairs`` of ``batch_views`` (or of the dataset), else every pair ``i < j``.

    Exact resumption replays the data order and restores torch's global RNG states (CPU and
    CUDA; not NumPy's or Python's) and every `torch.Generator` that the views hold (found by attribute
    search, plus ``generators``); the trainer seeds these generators from ``config.seed`` and
    the rank when a run starts. With ``num_workers > 0``, randomness drawn inside workers is
    seeded per (epoch, resume point), so only datasets whose per-sample randomness depends on
    the index alone resume bit-exactly.

    Args:
        config: The run's `TrainConfig`.
        backbone: Maps a batch of views ``(N, ...)`` to features ``(N, config.feature_dim)``.
            Build it after seeding torch for a reproducible initialisation.
        dataset: Yields ``(input, label)`` or ``(list_of_views, label)``; labels train the
            online linear classifier when ``config.num_classes > 0``.
        batch_views: Makes K views from a batch on the device, or ``None``.
        pairs: The view pairs of the loss.
        knn_data: ``(memory_set, query_set)`` of ``(input, label)`` for the epoch-end kNN
            monitor (evaluated on rank 0).
        eval_transform: Applied on the device to monitor batches (e.g. ``maskaug.HighPass``).
        generators: Extra generators to checkpoint.
        device: Force a device; default ``cuda:LOCAL_RANK`` if available, else CPU.
        metadata: Settings of the run that ``config`` does not hold (how the views are made, say),
            as a picklable dict; stored in every checkpoint, and a resume with other metadata is
            refused like one with another config.

    Returns:
        A `TrainResult`.

    Raises:
        ValueError: The global batch does not divide over the ranks, or the dataset is too small.
        ConfigMismatchError: The checkpoint was written with a different config or metadata, or
            with a dataset of another size (or of other steps per epoch).
        CheckpointError: The checkpoint file is damaged.
        NonFiniteLossError: The loss or (without an fp16 gradient scaler) a gradient became
            non-finite on some rank (all ranks raise, before the optimizer step).

    Example:
        ```python
        cfg = TrainConfig(method="simclr", feature_dim=512, global_batch_size=512, epochs=100)
        views = maskaug.MultiView([standard, standard, masked, masked])
        result = pretrain(cfg, resnet18(), train_set, batch_views=views)
        ```
    """
    return _Run(
        config,
        backbone,
        dataset,
        batch_views=batch_views,
        pairs=pairs,
        knn_data=knn_data,
        eval_transform=eval_transform,
        generators=generators,
        device=device,
        metadata=metadata,
    ).run()
