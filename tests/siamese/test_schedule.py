import pytest
import torch
from torch import nn

from maskaug.siamese import LARS, TrainConfig, WarmupCosine, warmup_cosine


def test_warmup_cosine_values() -> None:
    kw = {"total_steps": 100, "warmup_steps": 10, "peak": 2.0}
    assert warmup_cosine(0, **kw) == pytest.approx(0.2)
    assert warmup_cosine(4, **kw) == pytest.approx(1.0)
    assert warmup_cosine(9, **kw) == pytest.approx(2.0)
    assert warmup_cosine(10, **kw) == pytest.approx(2.0)
    assert warmup_cosine(55, **kw) == pytest.approx(1.0)
    assert warmup_cosine(100, **kw) == pytest.approx(0.0)
    assert warmup_cosine(0, total_steps=4, warmup_steps=0, peak=1.0, final=0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        warmup_cosine(0, total_steps=4, warmup_steps=5, peak=1.0)


def test_scheduler_drives_groups_and_round_trips() -> None:
    opt = LARS([nn.Parameter(torch.zeros(2, 2))], lr=0.0)
    sched = WarmupCosine(opt, total_steps=20, warmup_steps=5, peak=1.0)
    lrs = [sched.step() for _ in range(7)]
    assert opt.param_groups[0]["lr"] == lrs[-1] == pytest.approx(warmup_cosine(6, total_steps=20, warmup_steps=5, peak=1.0))
    other = WarmupCosine(opt, total_steps=1, warmup_steps=0, peak=9.0)
    other.load_state_dict(sched.state_dict())
    assert other.step() == pytest.approx(sched.step())


def test_linear_lr_scaling_from_paper() -> None:
    assert TrainConfig(method="simclr", global_batch_size=4096).peak_lr == pytest.approx(4.8)
    assert TrainConfig(method="byol", global_batch_size=256).peak_lr == pytest.approx(0.2)
    assert TrainConfig(method="simclr", global_batch_size=512, base_lr=1.0).peak_lr == pytest.approx(0.125)
