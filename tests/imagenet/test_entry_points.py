"""Each step of ``python -m benchmarks.imagenet`` end to end on a toy ImageFolder with the tiny preset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import torchvision

from benchmarks.imagenet import load_exported, main
from benchmarks.imagenet import classify
from benchmarks.imagenet import pretrain as pretrain_step
from benchmarks.imagenet.classify import Classifier, _build, _resume, _saved_run, evaluate
from benchmarks.imagenet.common import load_pretrained_backbone
from maskaug.adapters import image
from maskaug.siamese import DistEnv, load_checkpoint

CHANCE = 1 / 3


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_pretrain_writes_checkpoint_settings_and_metrics(pretrained: Path) -> None:
    settings = json.loads((pretrained / "imagenet.json").read_text())
    assert settings["arch"] == "resnet18" and settings["mask"] and settings["highpass_sigma"] == 1.0
    assert settings["config"]["global_batch_size"] == 8 and settings["config"]["epochs"] == 1
    state = load_checkpoint(pretrained / "checkpoint.pt")
    assert state["step"] == 3 and state["epoch"] == 1  # 24 images, batch 8
    assert any(r.get("event") == "end" for r in _metrics(pretrained))


def test_pretrain_resumes_a_finished_run_without_training(toy: Path, pretrained: Path, capsys) -> None:
    before = load_checkpoint(pretrained / "checkpoint.pt")["network"]
    metrics = (pretrained / "metrics.jsonl").read_text()
    main(["pretrain", "--data", str(toy), "--out", str(pretrained), "--preset", "tiny", "--no-progress"])
    after = load_checkpoint(pretrained / "checkpoint.pt")
    assert after["step"] == 3
    assert all(torch.equal(before[k], after["network"][k]) for k in before)
    assert (pretrained / "metrics.jsonl").read_text() == metrics  # no kNN monitor, no second "end" record
    assert "pre-training already finished: steps 3" in capsys.readouterr().out


@pytest.mark.parametrize("baseline", ["--no-mask", "--no-highpass"])
def test_pretrain_baselines(toy: Path, tmp_path: Path, baseline: str) -> None:
    main(["pretrain", "--data", str(toy), "--out", str(tmp_path), "--preset", "tiny", "--method", "byol",
          "--no-progress", baseline])
    settings = json.loads((tmp_path / "imagenet.json").read_text())
    assert settings["mask"] == (baseline != "--no-mask")
    assert settings["highpass_sigma"] == (None if baseline == "--no-highpass" else 1.0)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 3


@pytest.fixture(scope="module")
def linear(toy: Path, pretrained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("linear")
    main(["linear", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(out), "--preset", "tiny",
          "--no-progress"])
    return out


def test_linear_probe_beats_chance(linear: Path) -> None:
    results = json.loads((linear / "results.json").read_text())
    assert results["finished"] and results["images"] == 12
    assert results["top1"] > CHANCE + 0.15
    assert results["top5"] == 1.0  # 3 classes
    assert results["settings"]["head_lr"] == pytest.approx(1.0 * 8 / 256)


def test_linear_probe_keeps_the_backbone_frozen(linear: Path, pretrained: Path) -> None:
    backbone, _ = load_pretrained_backbone(pretrained)
    model = load_checkpoint(linear / "checkpoint.pt")["model"]
    prefix = "backbone.module."
    for key, value in backbone.state_dict().items():
        assert torch.equal(model[prefix + key], value), key


def test_linear_probe_resumes_exactly(toy: Path, pretrained: Path, linear: Path, tmp_path: Path) -> None:
    args = ["linear", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(tmp_path), "--preset", "tiny",
            "--no-progress"]
    main(args + ["--stop-after", "4"])  # mid-epoch 2 of 5
    stopped = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (stopped["step"], stopped["epoch"], stopped["batch_in_epoch"]) == (4, 1, 1)
    assert not (tmp_path / "results.json").exists()
    main(args)
    resumed = load_checkpoint(tmp_path / "checkpoint.pt")["model"]
    straight = load_checkpoint(linear / "checkpoint.pt")["model"]
    assert torch.equal(resumed["head.weight"], straight["head.weight"])
    assert json.loads((tmp_path / "results.json").read_text())["top1"] == json.loads(
        (linear / "results.json").read_text())["top1"]


def test_resume_keeps_the_rng_states_on_the_cpu(pretrained: Path, linear: Path) -> None:
    # mapped to the training device, the saved RNG states would land on a GPU, where
    # torch.set_rng_state refuses them; the "meta" device stands for that GPU here
    state = load_checkpoint(linear / "checkpoint.pt")
    backbone, _ = load_pretrained_backbone(pretrained)
    with torch.random.fork_rng(devices=[]):
        cpu = DistEnv(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
        model, _, optimizer = _build(state["settings"], backbone, 3, env=cpu, seed=0)
        elsewhere = DistEnv(rank=0, world_size=1, local_rank=0, device=torch.device("meta"))
        saved = _saved_run(linear / "checkpoint.pt", state["settings"])
        position = _resume(linear / "checkpoint.pt", saved, model, optimizer, env=elsewhere)
        assert torch.equal(torch.get_rng_state(), state["rng"][0]["torch"])
    assert position == (state["step"], state["epoch"], state["batch_in_epoch"])
    assert torch.equal(model.head.weight, state["model"]["head.weight"])


def test_resume_on_a_training_set_of_another_size_is_refused(pretrained: Path, linear: Path) -> None:
    state = load_checkpoint(linear / "checkpoint.pt")
    images, steps = state["size"]
    backbone, _ = load_pretrained_backbone(pretrained)
    cpu = DistEnv(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    model, _, optimizer = _build(state["settings"], backbone, 3, env=cpu, seed=0)
    with torch.random.fork_rng(devices=[]):
        with pytest.raises(ValueError, match=rf"written for {images} training images \({steps} steps per epoch\), "
                                             rf"now {3 * images} \({3 * steps}\)"):
            _resume(linear / "checkpoint.pt", state, model, optimizer, env=cpu, size=(3 * images, 3 * steps))
        assert _resume(linear / "checkpoint.pt", state, model, optimizer, env=cpu,
                       size=(images, steps)) == (state["step"], state["epoch"], state["batch_in_epoch"])


def test_evaluation_leaves_the_global_rng_untouched() -> None:
    # --eval-every evaluates after the epoch-end checkpoint, whose RNG state a resumed run replays
    model = torch.nn.Linear(3, 4)
    data = torch.utils.data.TensorDataset(torch.zeros(5, 3), torch.arange(5) % 4)
    cpu = DistEnv(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    before = torch.get_rng_state()
    assert evaluate(model, data, env=cpu, batch_size=2, num_workers=0)["images"] == 5
    assert torch.equal(torch.get_rng_state(), before)


def test_the_probe_refuses_the_pre_training_run_s_folder(toy: Path, pretrained: Path) -> None:
    # --no-resume there would set the pre-training run aside
    before = sorted(p.name for p in pretrained.iterdir())
    with pytest.raises(ValueError, match=r"--out .* is the pre-training run's folder \(--pretrained\)"):
        main(["linear", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(pretrained), "--preset",
              "tiny", "--no-progress", "--no-resume"])
    assert sorted(p.name for p in pretrained.iterdir()) == before


def test_resume_with_other_settings_is_refused(toy: Path, pretrained: Path, linear: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot resume .*epochs"):
        main(["linear", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(linear), "--preset", "tiny",
              "--no-progress", "--epochs", "7"])


def test_finetune_on_a_drawn_subset(toy: Path, pretrained: Path, tmp_path: Path) -> None:
    main(["finetune", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(tmp_path), "--preset", "tiny",
          "--percent", "50", "--no-progress"])
    names = (tmp_path / "subset.txt").read_text().split()
    assert len(names) == 12 and all(sum(f"train_{k}_" in n for n in names) == 4 for k in range(3))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["train_images"] == 12 and 0 <= results["top1"] <= 1
    model = load_checkpoint(tmp_path / "checkpoint.pt")["model"]
    backbone, _ = load_pretrained_backbone(pretrained)
    assert not torch.equal(model["backbone.module.conv1.weight"], backbone.conv1.weight)  # the backbone trained
    with pytest.raises(ValueError, match=r"cannot resume .*subset"):  # leaving the subset list as it was
        main(["finetune", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(tmp_path), "--preset",
              "tiny", "--percent", "100", "--no-progress"])
    assert (tmp_path / "subset.txt").read_text().split() == names


def test_finetune_reads_a_subset_file(toy: Path, pretrained: Path, tmp_path: Path) -> None:
    listing = tmp_path / "1percent.txt"
    listing.write_text("".join(f"train_{k}_{i}.png\n" for k in range(3) for i in (0, 5)))
    out = tmp_path / "run"
    main(["finetune", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(out), "--preset", "tiny",
          "--subset-file", str(listing), "--no-progress"])
    assert json.loads((out / "results.json").read_text())["train_images"] == 6
    listing.write_text("train_0_0.png\nn01440764_10026.JPEG\n")
    with pytest.raises(SystemExit, match=r"1 of 2 images are not in .*n01440764_10026\.JPEG"):
        main(["finetune", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(tmp_path / "again"),
              "--preset", "tiny", "--subset-file", str(listing), "--no-progress"])


def test_export_backbone_loads_into_torchvision(pretrained: Path, tmp_path: Path) -> None:
    main(["export", "--pretrained", str(pretrained), "--out", str(tmp_path)])
    backbone, _ = load_pretrained_backbone(pretrained)
    reference = torchvision.models.resnet18()
    missing, unexpected = reference.load_state_dict(torch.load(tmp_path / "resnet18.pth"), strict=False)
    assert sorted(missing) == ["fc.bias", "fc.weight"] and not unexpected
    reference.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(reference.eval()(x), backbone.eval()(x))
        exported = load_exported(tmp_path).eval()
        assert torch.equal(exported(x), image.HighPassFirst(backbone, sigma=1.0)(x))
    meta = json.loads((tmp_path / "export.json").read_text())
    assert meta["highpass_sigma"] == 1.0 and meta["num_classes"] is None


def test_export_of_a_linear_run_is_a_whole_classifier(linear: Path, tmp_path: Path) -> None:
    main(["export", "--pretrained", str(linear), "--out", str(tmp_path)])
    classifier = torchvision.models.resnet18(num_classes=3)
    classifier.load_state_dict(torch.load(tmp_path / "resnet18.pth"))  # strict: fc included
    state = load_checkpoint(linear / "checkpoint.pt")["model"]
    backbone, _ = load_pretrained_backbone(Path(state_settings(linear)["pretrained"]))
    trained = Classifier(image.HighPassFirst(backbone, sigma=1.0), 512, 3, frozen=True, head_norm=True, seed=0)
    trained.load_state_dict(state)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(load_exported(tmp_path).eval()(x), trained.eval()(x), atol=1e-4)


def state_settings(run: Path) -> dict:
    return load_checkpoint(run / "checkpoint.pt")["settings"]


def test_pretrain_refuses_to_resume_with_other_views(toy: Path, pretrained: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot resume.*mask \(checkpoint True, now False\)"):
        main(["pretrain", "--data", str(toy), "--out", str(pretrained), "--preset", "tiny", "--no-progress",
              "--no-mask"])
    assert json.loads((pretrained / "imagenet.json").read_text())["mask"] is True


def test_a_refused_resume_leaves_the_settings_file_alone(toy: Path, pretrained: Path) -> None:
    before = (pretrained / "imagenet.json").read_text()
    with pytest.raises(ValueError, match=r"cannot resume.*method \(checkpoint 'simclr', now 'byol'\)"):
        main(["pretrain", "--data", str(toy), "--out", str(pretrained), "--preset", "tiny", "--no-progress",
              "--method", "byol"])
    assert (pretrained / "imagenet.json").read_text() == before


def test_no_resume_sets_the_old_checkpoint_aside(toy: Path, pretrained: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "run"
    shutil.copytree(pretrained, out)  # a finished run with masks
    masked = (out / "checkpoint.pt").read_bytes()
    args = ["pretrain", "--data", str(toy), "--out", str(out), "--preset", "tiny", "--no-progress", "--no-mask"]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pretrain_step, "load_splits", interrupted)
    with pytest.raises(KeyboardInterrupt):  # the first thing a launch does is set the old run aside
        main([*args, "--no-resume"])
    assert (out / "checkpoint.pt.old1").read_bytes() == masked and not (out / "checkpoint.pt").exists()
    # the run's other files go with it, under the same number
    assert json.loads((out / "imagenet.json.old1").read_text())["mask"] is True
    assert (out / "metrics.jsonl.old1").is_file() and not (out / "metrics.jsonl").exists()
    monkeypatch.undo()
    main(args)  # starts afresh rather than resuming the run with masks
    assert load_checkpoint(out / "checkpoint.pt")["metadata"]["mask"] is False
    assert json.loads((out / "imagenet.json").read_text())["mask"] is False


def test_linear_no_resume_sets_the_old_run_aside(toy: Path, pretrained: Path, linear: Path, tmp_path: Path,
                                                 monkeypatch) -> None:
    out = tmp_path / "run"
    shutil.copytree(linear, out)  # a finished probe
    main(["linear", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(out), "--preset", "tiny",
          "--no-progress", "--no-resume", "--epochs", "2", "--stop-after", "1"])
    assert load_checkpoint(out / "checkpoint.pt.old1")["step"] == load_checkpoint(linear / "checkpoint.pt")["step"]
    assert (out / "results.json.old1").read_text() == (linear / "results.json").read_text()
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 1 and not (out / "results.json").exists()
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")  # torchrun restarting that launch: it resumes
    main(["linear", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(out), "--preset", "tiny",
          "--no-progress", "--no-resume", "--epochs", "2", "--stop-after", "2"])
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 3 and not (out / "checkpoint.pt.old2").exists()  # 1 + 2


def test_a_finished_linear_run_exits_at_once(toy: Path, pretrained: Path, linear: Path, monkeypatch, capsys) -> None:
    results = (linear / "results.json").read_text()

    def evaluate(*args, **kwargs):
        raise AssertionError("a finished run evaluated again")

    def load_splits(*args, **kwargs):
        raise AssertionError("a finished run scanned the data again")

    monkeypatch.setattr(classify, "evaluate", evaluate)
    monkeypatch.setattr(classify, "load_splits", load_splits)
    main(["linear", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(linear), "--preset", "tiny",
          "--no-progress"])
    assert (linear / "results.json").read_text() == results
    assert f"linear: already finished; results in {linear / 'results.json'}" in capsys.readouterr().out


def test_non_finite_gradients_stop_the_probe_before_the_step(toy: Path, pretrained: Path, tmp_path: Path,
                                                            monkeypatch) -> None:
    cross_entropy, calls = torch.nn.functional.cross_entropy, []

    def overflowing_at_step_3(*args, **kwargs):  # a finite loss whose gradients are infinite
        calls.append(1)
        loss = cross_entropy(*args, **kwargs)
        if len(calls) == 3:
            loss.register_hook(lambda grad: grad * float("inf"))
        return loss

    monkeypatch.setattr(classify.F, "cross_entropy", overflowing_at_step_3)
    with pytest.raises(FloatingPointError, match=r"non-finite gradients \(finite loss\) at step 3, stopped before"):
        main(["linear", "--data", str(toy), "--pretrained", str(pretrained), "--out", str(tmp_path), "--preset",
              "tiny", "--no-progress", "--checkpoint-every", "1"])
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 2
    assert all(v.isfinite().all() for v in state["model"].values() if v.is_floating_point())
