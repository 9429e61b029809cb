"""The data order of a run: a per-epoch seeded shuffle, split over ranks, resumable mid-epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler


class ResumableSampler(Sampler[int]):
    """A `DistributedSampler` (shuffled by ``seed + epoch``) that can start after some batches.

    Every rank sees ``len(dataset) // world_size`` indices per epoch; the union over ranks of
    batch ``s`` is the same set of samples whatever the world size. `set_epoch` takes the number
    of local batches to skip, so a resumed run continues with exactly the samples an
    uninterrupted run would have drawn next.

    Args:
        dataset: The dataset to index.
        batch_size: Local (per-rank) batch size.
        world_size: Number of ranks.
        rank: This rank.
        seed: Base seed of the shuffle.
    """

    def __init__(self, dataset: Dataset, *, batch_size: int, world_size: int, rank: int, seed: int) -> None:
        self.inner = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.batch_size = batch_size
        self.skip_batches = 0

    @property
    def batches_per_epoch(self) -> int:
        """Full local batches per epoch (the last partial batch is dropped)."""
        return len(self.inner) // self.batch_size

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        """Select the epoch's shuffle and how many local batches of it are already done."""
        if not 0 <= skip_batches <= self.batches_per_epoch:
            raise ValueError(f"skip_batches must be in [0, {self.batches_per_epoch}], got {skip_batches!r}")
        self.inner.set_epoch(epoch)
        self.skip_batches = skip_batches

    def __iter__(self) -> Iterator[int]:
        indices = list(self.inner)[: self.batches_per_epoch * self.batch_size]
        return iter(indices[self.skip_batches * self.batch_size :])

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.skip_batches) * self.batch_size


def epoch_loader(
    dataset: Dataset,
    sampler: ResumableSampler,
    *,
    epoch: int,
    skip_batches: int,
    seed: int,
    rank: int,
    num_workers: int,
    pin_memory: bool,
) -> DataLoader:
    """The DataLoader of one epoch, its worker seeds fixed by ``(seed, epoch, skip_batches, rank)``.

    The loader owns a seeded generator, so creating it never consumes the global torch RNG.
    """
    sampler.set_epoch(epoch, skip_batches)
    key = ((seed * 1_000_003 + epoch) * 1_000_003 + skip_batches) * 4099 + rank
    generator = torch.Generator().manual_seed(key % 2**63)
    return DataLoader(
        dataset,
        batch_size=sampler.batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=True,
        generator=generator,
        persistent_workers=False,
    )
