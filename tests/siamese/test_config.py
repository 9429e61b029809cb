import pytest

from maskaug.siamese import ConfigMismatchError, TrainConfig, check_resumable


def test_invalid_values_are_named() -> None:
    with pytest.raises(ValueError, match="method"):
        TrainConfig(method="moco")
    with pytest.raises(ValueError, match="global_batch_size must be > 0, got 0"):
        TrainConfig(global_batch_size=0)
    with pytest.raises(ValueError, match="ema_base"):
        TrainConfig(ema_base=1.5)


def test_runtime_fields_may_change_but_others_not() -> None:
    saved = TrainConfig(seed=1).to_dict()
    check_resumable(saved, TrainConfig(seed=1, out_dir="elsewhere", log_every_steps=7, num_workers=4))
    with pytest.raises(ConfigMismatchError, match=r"seed \(checkpoint 1, now 2\)"):
        check_resumable(saved, TrainConfig(seed=2))
    with pytest.raises(ConfigMismatchError, match="method.*proj_out_dim"):
        check_resumable(saved, TrainConfig(seed=1, method="byol", proj_out_dim=128))
