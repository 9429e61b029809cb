"""Code run in child processes by the siamese tests: tiny training runs and gloo workers."""

from __future__ import annotations

import argparse
import os
import signal
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from maskaug.siamese import NonFiniteLossError, TrainConfig, nt_xent_loss, pretrain, shutdown


class Points(Dataset):
    """A fixed random dataset of 8-d points with 3 classes; optionally SIGKILLs its own process.

    ``kill_at_fetch=k`` kills the process when item number ``k`` (counting from 1) is fetched;
    under torchrun, only on rank ``kill_rank``.
    """

    def __init__(self, n: int = 48, kill_at_fetch: int = 0, kill_rank: int = 0) -> None:
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, 8, generator=g)
        self.y = torch.randint(0, 3, (n,), generator=g)
        self.kill_at_fetch = kill_at_fetch if int(os.environ.get("RANK", "0")) == kill_rank else 0
        self.fetched = 0

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        self.fetched += 1
        if self.fetched == self.kill_at_fetch:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.x[i], self.y[i]


class NoisyViews(nn.Module):
    """K views of a batch: the input plus Gaussian noise drawn from the module's own generator."""

    def __init__(self, k: int = 3) -> None:
        super().__init__()
        self.k = k
        self.generator = torch.Generator()

    def forward(self, x: Tensor) -> list[Tensor]:
        return [x + 0.3 * torch.randn(x.shape, generator=self.generator) for _ in range(self.k)]


class NaNAt(nn.Module):
    """Passes features through, but returns NaN at call ``at_call`` on rank ``on_rank``."""

    def __init__(self, at_call: int, on_rank: int) -> None:
        super().__init__()
        self.calls = 0
        self.at_call = at_call
        self.on_rank = on_rank

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            self.calls += 1
            rank = dist.get_rank() if dist.is_initialized() else 0
            if self.calls == self.at_call and rank == self.on_rank:
                return x * float("nan")
        return x


def tiny_backbone(extra: nn.Module | None = None) -> nn.Module:
    torch.manual_seed(7)
    layers = [nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 16)]
    return nn.Sequential(*layers, *([extra] if extra is not None else []))


def tiny_config(out_dir: str | Path, **overrides) -> TrainConfig:
    fields = dict(
        method="byol",
        feature_dim=16,
        global_batch_size=8,
        epochs=2,
        warmup_epochs=1,
        base_lr=40.0,
        proj_hidden_dim=32,
        proj_out_dim=8,
        pred_hidden_dim=32,
        num_classes=3,
        seed=3,
        out_dir=str(out_dir),
        checkpoint_every_steps=4,
        log_every_steps=1,
        progress=False,
    )
    fields.update(overrides)
    return TrainConfig(**fields)


def _setup(rank: int, world: int, out: str) -> None:
    # rendezvous through a file: no port to race for with other processes on the machine
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world))
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback: nothing to resolve, nothing to route
    store = Path(out) / "store"
    dist.init_process_group(
        "gloo", init_method=f"file://{store}", rank=rank, world_size=world, timeout=timedelta(seconds=60)
    )


def loss_and_grads(rank: int, world: int, out: str) -> None:
    """One NT-Xent step over 3 views on this rank's share of a fixed global batch, under DDP."""
    if world > 1:
        _setup(rank, world, out)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8)).double()  # no BatchNorm
    g = torch.Generator().manual_seed(1)
    views = [torch.randn(12, 6, generator=g, dtype=torch.float64) for _ in range(3)]
    n = 12 // world
    local = [v[rank * n : (rank + 1) * n] for v in views]
    net = DistributedDataParallel(model) if world > 1 else model
    z = net(torch.cat(local)).chunk(3)
    pairs = [(0, 1), (0, 2), (1, 2)]
    loss = torch.stack([nt_xent_loss(z[i], z[j], temperature=0.2) for i, j in pairs]).mean()
    loss.backward()
    global_loss = loss.detach().clone()
    if world > 1:
        dist.all_reduce(global_loss)
        global_loss /= world
    torch.save({"loss": global_loss, "grads": [p.grad for p in model.parameters()]}, Path(out) / f"rank{rank}.pt")
    if world > 1:
        dist.destroy_process_group()


def non_finite_run(rank: int, world: int, out: str) -> None:
    """A 2-rank pre-training run whose backbone emits NaN at step 3 on rank 1."""
    _setup(rank, world, out)
    backbone = tiny_backbone(NaNAt(at_call=3, on_rank=1))
    cfg = tiny_config(Path(out) / "run", checkpoint_every_steps=1, method="simclr", global_batch_size=8)
    try:
        pretrain(cfg, backbone, Points(), batch_views=NoisyViews(), device="cpu")
        message = "finished"
    except NonFiniteLossError as e:
        message = f"NonFiniteLossError: {e}"
    (Path(out) / f"rank{rank}.txt").write_text(message)
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--kill-at-fetch", type=int, default=0)
    parser.add_argument("--kill-rank", type=int, default=0)
    args = parser.parse_args()
    cfg = tiny_config(args.out_dir)
    dataset = Points(kill_at_fetch=args.kill_at_fetch, kill_rank=args.kill_rank)
    pretrain(cfg, tiny_backbone(), dataset, batch_views=NoisyViews(), device="cpu")
    shutdown()


if __name__ == "__main__":
    main()
