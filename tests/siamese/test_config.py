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


@pytest.mark.parametrize("field", ["epochs", "global_batch_size", "num_classes", "knn_every_epochs", "proj_hidden_dim"])
@pytest.mark.parametrize("value", [2.5, 8.0, True])
def test_counts_must_be_ints(field: str, value) -> None:
    with pytest.raises(TypeError, match=rf"{field} must be an int, got {value!r}"):
        TrainConfig(**{field: value})


def test_warmup_must_fit_in_the_run() -> None:
    with pytest.raises(ValueError, match="warmup_epochs must be <= epochs, got warmup_epochs=5 and epochs=1"):
        TrainConfig(epochs=1, warmup_epochs=5)
    assert TrainConfig(epochs=1, warmup_epochs=1).warmup_epochs == 1


def test_differences_name_each_key_with_both_values() -> None:
    from maskaug.siamese.config import differences

    saved, now = {"epochs": 2, "lr": 0.1, "old": 1}, {"epochs": 3, "lr": 0.1, "new": "x"}
    assert differences(saved, now) == ["epochs (checkpoint 2, now 3)", "new (checkpoint missing, now 'x')",
                                       "old (checkpoint 1, now missing)"]
    assert differences(saved, now, ["lr", "epochs"]) == ["epochs (checkpoint 2, now 3)"]
