"""Evaluation of a frozen backbone: feature extraction, weighted kNN, linear probe."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset


@torch.no_grad()
def extract_features(
    backbone: nn.Module,
    dataset: Dataset,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    transform: Callable[[Tensor], Tensor] | None = None,
    num_workers: int = 0,
) -> tuple[Tensor, Tensor]:
    """Features of every ``(input, label)`` item of ``dataset`` from a frozen backbone.

    The backbone runs in eval mode (restored afterwards) without gradients. The loader draws its
    seeds from a generator of its own, so extracting features leaves torch's global RNG untouched
    (a training run that monitors itself still resumes exactly).

    Args:
        backbone: Maps ``(N, ...)`` inputs to ``(N, D)`` features.
        dataset: Yields ``(input, label)`` pairs.
        batch_size: Inference batch size.
        device: Where the backbone runs.
        transform: Applied to each batch on ``device`` before the backbone (e.g. a high-pass).
        num_workers: DataLoader workers.

    Returns:
        ``(features (len, D) float32 on CPU, labels (len,) int64)``.
    """
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, generator=torch.Generator().manual_seed(0)
    )
    was_training = backbone.training
    backbone.eval()
    features, labels = [], []
    try:
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            if transform is not None:
                x = transform(x)
            features.append(backbone(x).float().cpu())
            labels.append(torch.as_tensor(y))
    finally:
        backbone.train(was_training)
    return torch.cat(features), torch.cat(labels).long()


@torch.no_grad()
def knn_predict(
    train_features: Tensor,
    train_labels: Tensor,
    query_features: Tensor,
    *,
    k: int = 200,
    temperature: float = 0.1,
    num_classes: int | None = None,
    chunk_size: int = 1024,
) -> Tensor:
    """Weighted k-NN class predictions with cosine similarity (Wu et al., 2018).

    Each of the ``k`` nearest training samples votes for its class with weight
    ``exp(cos / temperature)``.

    Shape:
        ``train (M, D), labels (M,), query (N, D) -> (N,)``
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    classes = int(train_labels.max()) + 1 if num_classes is None else num_classes
    k = min(k, train_features.shape[0])
    bank = F.normalize(train_features.float(), dim=1)
    predictions = []
    for start in range(0, query_features.shape[0], chunk_size):
        query = F.normalize(query_features[start : start + chunk_size].float(), dim=1)
        sim, idx = (query @ bank.T).topk(k, dim=1)
        votes = torch.zeros(query.shape[0], classes, device=query.device)
        votes.scatter_add_(1, train_labels[idx], (sim / temperature).exp())
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions)


def knn_accuracy(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    *,
    k: int = 200,
    temperature: float = 0.1,
) -> float:
    """Top-1 accuracy of `knn_predict` on a labelled test set, in ``[0, 1]``.

    Example:
        ```python
        acc = knn_accuracy(*extract_features(net, train), *extract_features(net, test), k=20)
        ```
    """
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    predicted = knn_predict(
        train_features, train_labels, test_features, k=k, temperature=temperature, num_classes=classes
    )
    return (predicted == test_labels).float().mean().item()


@dataclass(frozen=True)
class ProbeResult:
    """Top-1 accuracies of a linear probe, in ``[0, 1]``."""

    train_top1: float
    test_top1: float


def linear_probe(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    *,
    epochs: int = 100,
    batch_size: int = 256,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-6,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> ProbeResult:
    """Train a linear classifier on frozen features with SGD + momentum and a cosine LR.

    Features are standardised with the training set's per-dimension mean and std (a
    BatchNorm without affine, frozen), which makes one LR work across backbones.

    Args:
        train_features: ``(M, D)`` features of the training set.
        train_labels: ``(M,)`` int labels.
        test_features: ``(N, D)``.
        test_labels: ``(N,)``.
        epochs: Passes over the training features (MSCN: 100).
        batch_size: Mini-batch size (MSCN: 256).
        lr: Peak learning rate, decayed by a per-step cosine to 0.
        momentum: SGD momentum.
        weight_decay: SGD weight decay (MSCN: 1e-6).
        seed: Seeds the initialisation and the shuffling.
        device: Where the probe trains (a GPU makes the 100 epochs quick); default the features'
            device. The initialisation and the shuffling are drawn on the CPU, so the result does
            not depend on it beyond floating-point rounding.

    Returns:
        The final train and test top-1 accuracies.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs!r} and {batch_size!r}")
    generator = torch.Generator().manual_seed(seed)
    device = train_features.device if device is None else torch.device(device)
    train_features, test_features = train_features.to(device), test_features.to(device)
    train_labels, test_labels = train_labels.to(device), test_labels.to(device)
    mean = train_features.mean(dim=0)
    std = train_features.std(dim=0).clamp_min(1e-6)
    x_train = (train_features.float() - mean) / std
    x_test = (test_features.float() - mean) / std
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    head = nn.Linear(x_train.shape[1], classes)
    bound = 1 / math.sqrt(x_train.shape[1])
    with torch.no_grad():
        head.weight.uniform_(-bound, bound, generator=generator)
        head.bias.zero_()
    head.to(device)
    optimizer = torch.optim.SGD(head.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(x_train.shape[0] / batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    for _ in range(epochs):
        order = torch.randperm(x_train.shape[0], generator=generator).to(device)
        for start in range(0, x_train.shape[0], batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(head(x_train[batch]), train_labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    with torch.no_grad():
        train_top1 = (head(x_train).argmax(1) == train_labels).float().mean().item()
        test_top1 = (head(x_test).argmax(1) == test_labels).float().mean().item()
    return ProbeResult(train_top1=train_top1, test_top1=test_top1)
