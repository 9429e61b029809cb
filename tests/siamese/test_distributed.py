"""Two gloo processes against one process. The model has no BatchNorm: with BatchNorm, each rank
normalises with its own statistics (SyncBatchNorm needs CUDA), so losses would differ by design."""

import shutil
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from maskaug.siamese import load_checkpoint

from . import _workers


def spawn(fn, world: int, out: Path, *, attempts: int = 2) -> None:
    """Run ``fn`` on ``world`` gloo ranks; a rendezvous that hangs (seen rarely on a loaded machine,
    inside gloo's connection set-up) is killed and started afresh, up to ``attempts`` times."""
    for _ in range(attempts):
        shutil.rmtree(out, ignore_errors=True)  # every attempt starts from nothing
        out.mkdir(parents=True)
        context = mp.start_processes(fn, args=(world, str(out)), nprocs=world, join=False, start_method="spawn")
        for _ in range(120):
            if context.join(timeout=1):
                return
        for p in context.processes:
            p.kill()
    pytest.fail(f"distributed workers did not finish within 120 s, {attempts} times")


def test_two_ranks_match_one_process(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    _workers.loss_and_grads(0, 1, str(one))
    spawn(_workers.loss_and_grads, 2, two)
    single = torch.load(one / "rank0.pt")
    for rank in range(2):
        got = torch.load(two / f"rank{rank}.pt")
        assert torch.allclose(got["loss"], single["loss"], rtol=1e-10, atol=1e-12)
        for g_dist, g_one in zip(got["grads"], single["grads"]):
            assert torch.allclose(g_dist, g_one, rtol=1e-9, atol=1e-12)


def test_non_finite_loss_stops_every_rank(tmp_path: Path) -> None:
    spawn(_workers.non_finite_run, 2, tmp_path)
    messages = [(tmp_path / f"rank{r}.txt").read_text() for r in range(2)]
    for message in messages:
        assert message.startswith("NonFiniteLossError")
        assert "step 3" in message
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["network"].values() if v.is_floating_point())
