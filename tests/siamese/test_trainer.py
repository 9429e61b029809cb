import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from maskaug.siamese import CheckpointError, ConfigMismatchError, NonFiniteLossError, load_checkpoint, pretrain

from ._workers import NoisyViews, Points, tiny_backbone, tiny_config

REPO = Path(__file__).resolve().parents[2]


def train_in_subprocess(out_dir: Path, *extra: str, launcher: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    # torchrun's rendezvous store, shared with the workers since torch 2.4, can hand restarted
    # workers the addresses of the previous round (pytorch/pytorch#135712); keep them apart.
    env = {**os.environ, "PYTHONPATH": str(REPO), "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
    command = [sys.executable, "-m", *launcher, "tests.siamese._workers", str(out_dir), *extra]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the launcher and every worker it started
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_killed_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    # 48 samples, batch 8: 6 steps per epoch, 12 in all; checkpoints at steps 4, 6, 8, 12.
    # The kill comes while fetching step 10's batch (item 9 * 8 + 1), mid-epoch 2.
    full = train_in_subprocess(tmp_path / "full")
    assert full.returncode == 0, full.stderr
    killed = train_in_subprocess(tmp_path / "resumed", "--kill-at-fetch", str(9 * 8 + 1))
    assert killed.returncode == -signal.SIGKILL
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 8
    resumed = train_in_subprocess(tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stderr

    a = assert_same_weights(tmp_path / "full", tmp_path / "resumed")
    # the run actually learned something and the check is not vacuous: weights moved from init
    torch.manual_seed(7)
    initial = tiny_backbone().state_dict()
    assert not torch.equal(initial["0.weight"], a["network"]["backbone.0.weight"])


def assert_same_weights(run_a: Path, run_b: Path) -> dict:
    a = load_checkpoint(run_a / "checkpoint.pt")
    b = load_checkpoint(run_b / "checkpoint.pt")
    assert a["step"] == b["step"] == 12
    for part in ("network", "target"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after resuming"
    return a


def test_torchrun_restarts_a_killed_worker_and_resumes_exactly(tmp_path: Path) -> None:
    # 2 gloo ranks, local batch 4: rank 1 dies while fetching step 10's batch (item 9 * 4 + 1);
    # torchrun restarts both workers, which resume from the step-8 checkpoint. A restart round
    # can itself fail while gloo reconnects (a peer's socket reset); more rounds absorb that, and
    # every round resumes from the same checkpoint, so the final weights are the same.
    torchrun = ("torch.distributed.run", "--standalone", "--nproc-per-node", "2", "--max-restarts", "3", "-m")
    full = train_in_subprocess(tmp_path / "full", launcher=torchrun)
    assert full.returncode == 0, full.stderr[-3000:]
    crashed = train_in_subprocess(
        tmp_path / "resumed", "--kill-at-fetch", str(9 * 4 + 1), "--kill-rank", "1", launcher=torchrun
    )
    assert crashed.returncode == 0, crashed.stderr[-3000:]
    assert "exitcode: -9" in crashed.stderr  # the worker really died of SIGKILL and was restarted
    assert_same_weights(tmp_path / "full", tmp_path / "resumed")


def test_resume_refuses_a_config_that_matters(tmp_path: Path) -> None:
    pretrain(tiny_config(tmp_path, epochs=1), tiny_backbone(), Points(), batch_views=NoisyViews(), device="cpu")
    with pytest.raises(ConfigMismatchError, match=r"base_lr \(checkpoint 40.0, now 1.0\)"):
        pretrain(tiny_config(tmp_path, epochs=1, base_lr=1.0), tiny_backbone(), Points(), batch_views=NoisyViews())
    with pytest.raises(ConfigMismatchError, match="global_batch_size"):
        pretrain(tiny_config(tmp_path, epochs=1, global_batch_size=16), tiny_backbone(), Points(), batch_views=NoisyViews())
    # runtime fields may change: the finished run resumes and has nothing left to do
    result = pretrain(
        tiny_config(tmp_path, epochs=1, log_every_steps=5, checkpoint_every_steps=0),
        tiny_backbone(),
        Points(),
        batch_views=NoisyViews(),
        device="cpu",
    )
    assert result.steps == 6
    # a damaged checkpoint stops the resume with an error naming the file
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="checkpoint.pt is corrupted or truncated"):
        pretrain(tiny_config(tmp_path, epochs=1), tiny_backbone(), Points(), batch_views=NoisyViews(), device="cpu")


def test_views_made_by_the_dataset(tmp_path: Path) -> None:
    class PairDataset(Points):
        pairs = [(0, 1)]

        def __getitem__(self, i: int):
            x, y = super().__getitem__(i)
            return [x, x.flip(0)], y

    cfg = tiny_config(tmp_path, method="simclr", epochs=1, num_classes=0)
    result = pretrain(cfg, tiny_backbone(), PairDataset(), knn_data=(Points(), Points()), device="cpu")
    assert result.steps == 6 and result.target is None
    assert 0.0 <= result.knn_top1 <= 1.0
    assert (tmp_path / "metrics.jsonl").read_text().count('"loss"') == 6


def test_global_batch_must_divide_and_fit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="smaller than global_batch_size=64"):
        pretrain(tiny_config(tmp_path, global_batch_size=64), tiny_backbone(), Points(), batch_views=NoisyViews())


def test_checkpoints_every_few_epochs_and_always_at_the_end(tmp_path: Path, monkeypatch) -> None:
    import maskaug.siamese.trainer as trainer_module

    saved_at = []
    save = trainer_module.save_checkpoint

    def recording_save(path, state):
        saved_at.append((state["epoch"], state["step"]))
        save(path, state)

    monkeypatch.setattr(trainer_module, "save_checkpoint", recording_save)
    config = tiny_config(tmp_path, epochs=5, checkpoint_every_epochs=2, checkpoint_every_steps=0)
    result = pretrain(config, tiny_backbone(), Points(), batch_views=NoisyViews(), device="cpu")
    assert [epoch for epoch, _ in saved_at] == [2, 4, 5]
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == result.steps == saved_at[-1][1]
    # a step checkpoint that falls on the end of an epoch without one is still written
    saved_at.clear()
    config = tiny_config(tmp_path / "steps", epochs=2, checkpoint_every_epochs=2, checkpoint_every_steps=3)
    pretrain(config, tiny_backbone(), Points(), batch_views=NoisyViews(), device="cpu")
    assert saved_at == [(0, 3), (1, 6), (1, 9), (2, 12)]
    with pytest.raises(ValueError, match="checkpoint_every_epochs must be >= 1, got 0"):
        tiny_config(tmp_path, checkpoint_every_epochs=0)


class _InfGrad(torch.autograd.Function):
    """The identity whose backward pass overflows: a finite loss with infinite gradients."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


class _InfGradAt(torch.nn.Module):
    def __init__(self, at_call: int) -> None:
        super().__init__()
        self.calls, self.at_call = 0, at_call

    def forward(self, x):
        self.calls += self.training
        return _InfGrad.apply(x) if self.calls == self.at_call and self.training else x


def test_non_finite_gradients_stop_before_the_step_and_keep_the_checkpoint(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, method="simclr", checkpoint_every_steps=1, precision="fp32")
    with pytest.raises(NonFiniteLossError, match=r"non-finite gradients \(finite loss\) at step 3 .*checkpoint.pt"):
        pretrain(config, tiny_backbone(_InfGradAt(3)), Points(), batch_views=NoisyViews(), device="cpu")
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 2
    assert all(v.isfinite().all() for v in state["network"].values() if v.is_floating_point())


def test_fp16_leaves_overflowing_gradients_to_the_scaler(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, method="simclr", epochs=1, precision="fp16")
    result = pretrain(config, tiny_backbone(_InfGradAt(3)), Points(), batch_views=NoisyViews(), device="cpu")
    assert result.steps == 6  # the scaler skipped the overflowing step and lowered its scale
    assert load_checkpoint(tmp_path / "checkpoint.pt")["scaler"]["scale"] < 2.0**16


class _StopAt(Points):
    """Points that interrupt the run when item number ``at`` is fetched."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def __getitem__(self, i: int):
        self.fetched += 1
        if self.fetched == self.at:
            raise KeyboardInterrupt("interrupted")
        return self.x[i], self.y[i]


def test_resume_after_the_knn_monitor_is_exact(tmp_path: Path) -> None:
    # the epoch-1 checkpoint is written before the kNN monitor runs: the monitor must not draw
    # from the RNG that the checkpoint saved
    config = dict(checkpoint_every_steps=0, knn_every_epochs=1, knn_k=5)
    knn = (Points(24), Points(12))
    pretrain(tiny_config(tmp_path / "full", **config), tiny_backbone(), Points(), batch_views=NoisyViews(),
             knn_data=knn, device="cpu")
    with pytest.raises(KeyboardInterrupt):  # at the first fetch of epoch 2 (6 steps of 8 samples)
        pretrain(tiny_config(tmp_path / "resumed", **config), tiny_backbone(), _StopAt(6 * 8 + 1),
                 batch_views=NoisyViews(), knn_data=knn, device="cpu")
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 6
    pretrain(tiny_config(tmp_path / "resumed", **config), tiny_backbone(), Points(), batch_views=NoisyViews(),
             knn_data=knn, device="cpu")
    assert_same_weights(tmp_path / "full", tmp_path / "resumed")


def test_resume_refuses_other_metadata(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, epochs=1)
    pretrain(config, tiny_backbone(), Points(), batch_views=NoisyViews(), device="cpu", metadata={"mask": True})
    assert load_checkpoint(tmp_path / "checkpoint.pt")["metadata"] == {"mask": True}
    with pytest.raises(ConfigMismatchError, match=r"metadata differs in mask \(checkpoint True, now False\)"):
        pretrain(config, tiny_backbone(), Points(), batch_views=NoisyViews(), device="cpu", metadata={"mask": False})


def test_resume_refuses_a_dataset_of_another_size(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, epochs=1)
    pretrain(config, tiny_backbone(), Points(), batch_views=NoisyViews(), device="cpu")
    with pytest.raises(ConfigMismatchError, match=r"dataset of 48 samples \(6 steps per epoch\), now 96 samples"):
        pretrain(config, tiny_backbone(), Points(96), batch_views=NoisyViews(), device="cpu")
    with pytest.raises(ConfigMismatchError, match=r"now 50 samples \(6 steps per epoch"):  # same steps, other order
        pretrain(config, tiny_backbone(), Points(50), batch_views=NoisyViews(), device="cpu")


def test_checkpoints_without_the_dataset_size_resume(tmp_path: Path) -> None:
    # checkpoints of earlier versions hold neither the dataset size nor metadata: nothing to check
    from maskaug.siamese.checkpoint import save_checkpoint

    config = tiny_config(tmp_path, epochs=1)
    pretrain(config, tiny_backbone(), Points(), batch_views=NoisyViews(), device="cpu")
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    for key in ("dataset_size", "steps_per_epoch", "metadata"):
        del state[key]
    save_checkpoint(tmp_path / "checkpoint.pt", state)
    assert pretrain(config, tiny_backbone(), Points(), batch_views=NoisyViews(), metadata={"views": 2},
                    device="cpu").steps == 6


def test_a_finished_run_returns_at_once(tmp_path: Path, monkeypatch, capsys) -> None:
    import maskaug.siamese.trainer as trainer_module

    config = tiny_config(tmp_path, epochs=1)
    pretrain(config, tiny_backbone(), Points(), batch_views=NoisyViews(), knn_data=(Points(), Points()), device="cpu")
    metrics = (tmp_path / "metrics.jsonl").read_text()

    def knn(self):
        raise AssertionError("the kNN monitor ran again")

    monkeypatch.setattr(trainer_module._Run, "_knn", knn)
    result = pretrain(config, tiny_backbone(), Points(), batch_views=NoisyViews(), knn_data=(Points(), Points()),
                      device="cpu")
    assert result.steps == 6 and result.knn_top1 is None
    assert (tmp_path / "metrics.jsonl").read_text() == metrics
    assert "pre-training already finished: steps 6" in capsys.readouterr().out
