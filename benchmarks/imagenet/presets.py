"""Presets: ``paper`` (MSCN's ImageNet-1k recipe) and ``tiny`` (small images, ResNet-18, 1 epoch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """Defaults of every step; command-line flags override single fields.

    Attributes:
        arch: torchvision ResNet name.
        image_size: Side of the training crops (paper: 224).
        highpass_sigma: High-pass sigma in pixels (paper: 5 at 224 px).
        cell: Grid mask cell in pixels (paper: 32 at 224 px).
        batch_size: Global pre-training batch (paper: 4096).
        epochs: Pre-training epochs per method (paper: SimCLR 800, BYOL 1000).
        warmup_epochs: LR warm-up (paper: 10).
        proj_hidden_dim: Projector hidden width; ``None`` for the paper's (2048 SimCLR, 4096 BYOL).
        proj_out_dim: Projector output width (paper: 256).
        pred_hidden_dim: BYOL predictor hidden width (paper: 4096).
        knn_every_epochs: Epochs between kNN monitor runs during pre-training (0: never).
        knn_per_class: Training images per class in the kNN monitor's memory bank.
        linear_epochs: Linear-probe epochs (paper: 100).
        linear_batch_size: Linear-probe global batch (paper: 256).
        linear_lr: Linear-probe LR at batch 256 (paper appendix A.2: 1.0).
        linear_weight_decay: Linear-probe weight decay (paper: 1e-6).
        head_norm: Standardize features (BatchNorm without affine, as in MAE's probe) before the
            classifier; the paper's protocol has none.
        finetune_epochs: 1%-label fine-tuning epochs (paper: 20).
        finetune_batch_size: Fine-tuning global batch (paper: 256).
        finetune_backbone_lr: Backbone LR at batch 256 (paper: 0.002).
        finetune_head_lr: Classifier LR at batch 256 (paper: 0.5).
        finetune_milestones: Epochs after which the LRs are multiplied by 0.2 (paper: 12, 16).
        num_workers: DataLoader workers per rank.
    """

    arch: str = "resnet50"
    image_size: int = 224
    highpass_sigma: float = 5.0
    cell: int = 32
    batch_size: int = 4096
    epochs: tuple[tuple[str, int], ...] = (("simclr", 800), ("byol", 1000))
    warmup_epochs: float = 10.0
    proj_hidden_dim: int | None = None
    proj_out_dim: int = 256
    pred_hidden_dim: int = 4096
    knn_every_epochs: int = 10
    knn_per_class: int = 50
    linear_epochs: int = 100
    linear_batch_size: int = 256
    linear_lr: float = 1.0
    linear_weight_decay: float = 1e-6
    head_norm: bool = False
    finetune_epochs: int = 20
    finetune_batch_size: int = 256
    finetune_backbone_lr: float = 0.002
    finetune_head_lr: float = 0.5
    finetune_milestones: tuple[int, ...] = (12, 16)
    num_workers: int = 10

    def pretrain_epochs(self, method: str) -> int:
        """The preset's pre-training epochs for ``method``."""
        return dict(self.epochs)[method]


PRESETS = {
    "paper": Preset(),
    "tiny": Preset(
        arch="resnet18",
        image_size=32,
        highpass_sigma=1.0,
        cell=8,
        batch_size=8,
        epochs=(("simclr", 1), ("byol", 1)),
        warmup_epochs=0.0,
        proj_hidden_dim=64,
        proj_out_dim=32,
        pred_hidden_dim=64,
        knn_every_epochs=1,
        knn_per_class=4,
        linear_batch_size=8,
        linear_epochs=5,
        linear_lr=1.0,
        head_norm=True,
        finetune_epochs=1,
        finetune_batch_size=4,
        finetune_milestones=(1,),
        num_workers=0,
    ),
}
