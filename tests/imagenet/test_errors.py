"""Data problems stop each step before any training, with a message naming the folder or file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.imagenet import main
from benchmarks.imagenet.synthetic import write_image_folder


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    return write_image_folder(tmp_path / "data", classes=3, train_per_class=8, val_per_class=2)


def _pretrain(data: Path, out: Path, *extra: str) -> None:
    main(["pretrain", "--data", str(data), "--out", str(out), "--preset", "tiny", "--no-progress", *extra])


def test_missing_data_folder(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"dataset folder .*nowhere does not exist"):
        _pretrain(tmp_path / "nowhere", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_empty_class(data: Path, tmp_path: Path) -> None:
    for path in (data / "train" / "class_1").iterdir():
        path.unlink()
    with pytest.raises(SystemExit, match=r"class folder .*train/class_1 holds no images"):
        _pretrain(data, tmp_path / "out")


def test_train_val_class_mismatch(data: Path, tmp_path: Path) -> None:
    shutil.rmtree(data / "val" / "class_0")
    with pytest.raises(SystemExit, match=r"classes of .*val differ .*missing \[class_0\]"):
        _pretrain(data, tmp_path / "out")


def test_unreadable_image_stops_unless_skipped(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = data / "train" / "class_2" / "zz_broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff broken jpeg")
    with pytest.raises(SystemExit, match=r"cannot read image .*zz_broken\.jpg"):
        _pretrain(data, tmp_path / "stopped")
    assert not (tmp_path / "stopped" / "checkpoint.pt").exists()
    _pretrain(data, tmp_path / "skipped", "--on-bad-image", "skip", "--epochs", "1", "--batch-size", "24")
    assert "skipped unreadable image" in capsys.readouterr().err
    assert (tmp_path / "skipped" / "checkpoint.pt").exists()


def test_evaluation_needs_a_pretraining_run(data: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"is not a pre-training run folder: .*imagenet.json is missing"):
        main(["linear", "--data", str(data), "--pretrained", str(tmp_path), "--out", str(tmp_path / "lin"),
              "--preset", "tiny", "--no-progress"])
