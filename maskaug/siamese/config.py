"""The training configuration: one dataclass, with the fields that must match on resume."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Method = Literal["simclr", "byol"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]

# Paper defaults (MSCN, section 4 / appendix): base LR at a global batch of 4096.
BASE_LR = {"simclr": 4.8, "byol": 3.2}
WEIGHT_DECAY = {"simclr": 1e-6, "byol": 1.5e-6}
REFERENCE_BATCH = 4096

#: The fields that count something: integers, never floats or bools.
_COUNTS = (
    "feature_dim",
    "global_batch_size",
    "epochs",
    "proj_out_dim",
    "pred_hidden_dim",
    "num_classes",
    "seed",
    "checkpoint_every_epochs",
    "checkpoint_every_steps",
    "log_every_steps",
    "num_workers",
    "knn_k",
    "knn_every_epochs",
)


def _runtime(default: Any) -> Any:
    """A field that may change between a run and its resumption (paths, logging, speed knobs)."""
    return field(default=default, metadata={"runtime": True})


@dataclass
class TrainConfig:
    """Everything that defines a siamese pre-training run.

    The runtime fields (``out_dir``, ``resume``, ``checkpoint_every_*``, ``log_every_steps``,
    ``num_workers``, ``compile``, ``channels_last``, ``progress`` and the ``knn_*`` monitor
    settings) may differ when a run resumes; every other field must equal the one stored in the
    checkpoint, or the resume is refused naming the field (see `ConfigMismatchError`).

    Args:
        method: ``"simclr"`` (NT-Xent, temperature ``temperature``) or ``"byol"`` (EMA target and
            predictor).
        feature_dim: Output dimension D of the backbone (2048 for ResNet-50).
        global_batch_size: Samples per optimizer step summed over all ranks; must divide by the
            world size.
        epochs: Pre-training epochs (sets the length of the LR and EMA schedules).
        warmup_epochs: Linear LR warm-up length, at most ``epochs`` (paper: 10 of 800).
        base_lr: LR at a global batch of 4096; ``None`` uses the paper's (4.8 SimCLR, 3.2 BYOL).
            The applied peak LR is ``base_lr * global_batch_size / 4096``.
        weight_decay: LARS weight decay; ``None`` uses 1e-6 (SimCLR) or 1.5e-6 (BYOL).
        momentum: LARS momentum.
        lars_eta: LARS trust coefficient.
        temperature: NT-Xent temperature (paper: 0.2).
        proj_hidden_dim: Projector hidden width; ``None`` gives 2048 (SimCLR) or 4096 (BYOL).
        proj_out_dim: Projector output width (256).
        pred_hidden_dim: BYOL predictor hidden width (4096).
        ema_base: Initial EMA momentum of the BYOL target (0.996), rising to 1 on a cosine.
        num_classes: Classes of the online linear classifier; 0 disables it.
        classifier_lr: SGD learning rate of the online linear classifier.
        seed: Seeds the model initialisation, the data order and every random stream.
        precision: ``"auto"`` (bf16 autocast on CUDA, fp32 on CPU), ``"bf16"``, ``"fp16"``
            (with a gradient scaler) or ``"fp32"``.
        out_dir: Where the checkpoint, ``metrics.jsonl`` and TensorBoard logs go.
        resume: Resume from ``out_dir/checkpoint.pt`` if it exists; ``False`` starts afresh.
        checkpoint_every_epochs: Checkpoint at the end of every this many epochs (>= 1); the last
            epoch always ends with one. Short runs of many models save time and disk with more.
        checkpoint_every_steps: Also checkpoint every this many steps (0: only at epoch ends).
        log_every_steps: Append a step record to ``metrics.jsonl`` every this many steps.
        num_workers: DataLoader worker processes per rank.
        compile: Wrap the online network with `torch.compile`.
        channels_last: Use channels-last memory format on CUDA for 4-D inputs.
        progress: Show a progress line on rank 0.
        knn_k: Neighbours of the epoch-end kNN monitor.
        knn_temperature: Temperature of the kNN monitor's weighted votes.
        knn_every_epochs: Run the kNN monitor every this many epochs (0: never).

    Example:
        ```python
        cfg = TrainConfig(method="byol", feature_dim=512, global_batch_size=256, epochs=100)
        cfg.peak_lr  # 3.2 * 256 / 4096 = 0.2
        ```
    """

    method: Method = "simclr"
    feature_dim: int = 2048
    global_batch_size: int = 4096
    epochs: int = 800
    warmup_epochs: float = 10.0
    base_lr: float | None = None
    weight_decay: float | None = None
    momentum: float = 0.9
    lars_eta: float = 0.001
    temperature: float = 0.2
    proj_hidden_dim: int | None = None
    proj_out_dim: int = 256
    pred_hidden_dim: int = 4096
    ema_base: float = 0.996
    num_classes: int = 0
    classifier_lr: float = 0.1
    seed: int = 0
    precision: Precision = "auto"
    out_dir: str = _runtime("runs/siamese")
    resume: bool = _runtime(True)
    checkpoint_every_epochs: int = _runtime(1)
    checkpoint_every_steps: int = _runtime(0)
    log_every_steps: int = _runtime(50)
    num_workers: int = _runtime(0)
    compile: bool = _runtime(False)
    channels_last: bool = _runtime(True)
    progress: bool = _runtime(True)
    knn_k: int = _runtime(200)
    knn_temperature: float = _runtime(0.1)
    knn_every_epochs: int = _runtime(1)

    def __post_init__(self) -> None:
        counts = _COUNTS if self.proj_hidden_dim is None else (*_COUNTS, "proj_hidden_dim")
        for name in counts:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}")
        if self.method not in BASE_LR:
            raise ValueError(f"method must be 'simclr' or 'byol', got {self.method!r}")
        if self.precision not in ("auto", "bf16", "fp16", "fp32"):
            raise ValueError(
                f"precision must be 'auto', 'bf16', 'fp16' or 'fp32', got {self.precision!r}"
            )
        positive = {
            "feature_dim": self.feature_dim,
            "global_batch_size": self.global_batch_size,
            "epochs": self.epochs,
            "proj_out_dim": self.proj_out_dim,
            "pred_hidden_dim": self.pred_hidden_dim,
            "temperature": self.temperature,
            "knn_k": self.knn_k,
            "knn_temperature": self.knn_temperature,
            "classifier_lr": self.classifier_lr,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        non_negative = {
            "warmup_epochs": self.warmup_epochs,
            "num_classes": self.num_classes,
            "checkpoint_every_steps": self.checkpoint_every_steps,
            "num_workers": self.num_workers,
            "knn_every_epochs": self.knn_every_epochs,
        }
        for name, value in non_negative.items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if self.warmup_epochs > self.epochs:
            raise ValueError(
                f"warmup_epochs must be <= epochs, got warmup_epochs={self.warmup_epochs!r} and epochs={self.epochs!r}"
            )
        if self.checkpoint_every_epochs < 1:
            raise ValueError(f"checkpoint_every_epochs must be >= 1, got {self.checkpoint_every_epochs!r}")
        if self.log_every_steps < 1:
            raise ValueError(f"log_every_steps must be >= 1, got {self.log_every_steps!r}")
        if not 0.0 <= self.ema_base <= 1.0:
            raise ValueError(f"ema_base must be in [0, 1], got {self.ema_base!r}")
        if self.base_lr is not None and self.base_lr <= 0:
            raise ValueError(f"base_lr must be > 0, got {self.base_lr!r}")

    @property
    def peak_lr(self) -> float:
        """The LR after warm-up: ``base_lr * global_batch_size / 4096`` (linear scaling)."""
        base = BASE_LR[self.method] if self.base_lr is None else self.base_lr
        return base * self.global_batch_size / REFERENCE_BATCH

    @property
    def resolved_weight_decay(self) -> float:
        """The weight decay in use (the method's default when ``weight_decay`` is None)."""
        return WEIGHT_DECAY[self.method] if self.weight_decay is None else self.weight_decay

    @property
    def resolved_proj_hidden_dim(self) -> int:
        """The projector's hidden width (2048 SimCLR, 4096 BYOL when ``proj_hidden_dim`` is None)."""
        if self.proj_hidden_dim is not None:
            return self.proj_hidden_dim
        return 2048 if self.method == "simclr" else 4096

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (stored in checkpoints and logs)."""
        return dataclasses.asdict(self)


class ConfigMismatchError(ValueError):
    """A checkpoint was written with a configuration that differs in a field that matters."""


def differences(saved: Mapping[str, Any], current: Mapping[str, Any], names: Iterable[str] | None = None) -> list[str]:
    """``"name (checkpoint X, now Y)"`` for each of ``names`` (default: every key of either) on which
    a checkpoint's ``saved`` values and the run's ``current`` ones differ; a missing value reads
    ``missing``."""
    shown = []
    for name in sorted(saved.keys() | current.keys()) if names is None else names:
        was = repr(saved[name]) if name in saved else "missing"
        now = repr(current[name]) if name in current else "missing"
        if name not in saved or name not in current or saved[name] != current[name]:
            shown.append(f"{name} (checkpoint {was}, now {now})")
    return shown


def check_resumable(saved: dict[str, Any], current: TrainConfig) -> None:
    """Refuse to resume when a field that defines the run differs from the checkpoint's.

    Args:
        saved: The config dict stored in the checkpoint.
        current: The config of the run that wants to resume.

    Raises:
        ConfigMismatchError: Naming every differing field with both values.
    """
    names = [f.name for f in dataclasses.fields(current) if not f.metadata.get("runtime")]
    differing = differences(saved, current.to_dict(), names)
    if differing:
        raise ConfigMismatchError(
            "cannot resume: the checkpoint was written by a run whose config differs in "
            + ", ".join(differing)
            + "; use another out_dir or resume=False to start afresh"
        )
