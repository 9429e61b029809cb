"""Modality-free siamese self-supervised training: losses, heads, EMA, LARS, the loop, evaluation.

The ImageNet recipe and each modality recipe are configurations of `pretrain`:

```python
from maskaug.siamese import TrainConfig, pretrain

cfg = TrainConfig(method="simclr", feature_dim=2048, global_batch_size=4096, epochs=800)
result = pretrain(cfg, backbone, dataset, batch_views=views)
```
"""

from .checkpoint import CheckpointError, find_generators, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import ConfigMismatchError, TrainConfig, check_resumable
from .data import ResumableSampler, epoch_loader
from .distributed import DistEnv, gather_with_grad, init_distributed, shutdown
from .ema import ema_momentum, ema_update
from .evaluate import ProbeResult, extract_features, knn_accuracy, knn_predict, linear_probe
from .heads import SiameseNetwork, TargetNetwork, byol_predictor, byol_projector, mlp, simclr_projector
from .lars import LARS, lars_param_groups
from .losses import byol_loss, multi_pair_loss, nt_xent_loss
from .monitor import MetricsLog, Progress
from .schedule import WarmupCosine, warmup_cosine
from .trainer import NonFiniteLossError, TrainResult, build_network, pretrain, summary

__all__ = [
    "CheckpointError",
    "ConfigMismatchError",
    "DistEnv",
    "LARS",
    "MetricsLog",
    "NonFiniteLossError",
    "Progress",
    "ProbeResult",
    "ResumableSampler",
    "SiameseNetwork",
    "TargetNetwork",
    "TrainConfig",
    "TrainResult",
    "WarmupCosine",
    "build_network",
    "byol_loss",
    "byol_predictor",
    "byol_projector",
    "check_resumable",
    "ema_momentum",
    "ema_update",
    "epoch_loader",
    "extract_features",
    "find_generators",
    "gather_with_grad",
    "init_distributed",
    "knn_accuracy",
    "knn_predict",
    "lars_param_groups",
    "linear_probe",
    "load_checkpoint",
    "mlp",
    "multi_pair_loss",
    "nt_xent_loss",
    "pretrain",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
    "shutdown",
    "simclr_projector",
    "summary",
    "warmup_cosine",
]
