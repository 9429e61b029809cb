"""Process-group plumbing: set-up from torchrun's environment, gradient-preserving all-gather."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits: its rank, the world size and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that writes checkpoints, logs and the progress line."""
        return self.rank == 0


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed(device: str | torch.device | None = None) -> DistEnv:
    """Join the process group that ``torchrun`` describes, or run as a single process.

    With ``WORLD_SIZE > 1`` in the environment (set by ``torchrun``), initialises the default
    group from ``env://`` with NCCL on CUDA and gloo on CPU, unless one is already initialised.

    Args:
        device: Force a device (``"cpu"``); by default ``cuda:LOCAL_RANK`` when CUDA is available.

    Returns:
        The process's `DistEnv`.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    rank, world = rank_and_world()
    return DistEnv(rank=rank, world_size=world, local_rank=local_rank, device=device)


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.stack(parts)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)  # every rank's loss depends on every rank's slice
        return grad[dist.get_rank()]


def gather_with_grad(x: Tensor) -> Tensor:
    """All-gather ``x`` from every rank, keeping the gradient path to each rank's own slice.

    The backward pass sums the incoming gradients over ranks, so the gradient of rank ``r``'s
    slice collects the contributions of every rank's loss. Every rank must pass the same shape.

    Shape:
        ``(*S) -> (world_size, *S)``; without a process group, ``x.unsqueeze(0)``.
    """
    if rank_and_world()[1] == 1:
        return x.unsqueeze(0)
    return _GatherWithGrad.apply(x)


def all_sum(values: Tensor) -> Tensor:
    """The sum of ``values`` over ranks (a copy; identity without a process group)."""
    out = values.clone()
    if rank_and_world()[1] > 1:
        dist.all_reduce(out)
    return out


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's picklable ``obj``, in rank order, on every rank."""
    world = rank_and_world()[1]
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if rank_and_world()[1] > 1:
        dist.barrier()


def shutdown() -> None:
    """Wait for every rank, then tear the process group down (no-op without one).

    Call it once at the end of a ``torchrun`` program: a gloo process group still alive when the
    interpreter exits can abort the process ("terminate called without an active exception").
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
