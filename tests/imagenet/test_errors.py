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


@pytest.mark.parametrize(
    ("command", "flag", "value", "message"),
    [
        ("linear", "--epochs", "-1", "must be > 0, got -1"),
        ("linear", "--epochs", "0", "must be > 0, got 0"),
        ("linear", "--batch-size", "-8", "must be > 0, got -8"),
        ("linear", "--lr", "-1", "must be a finite number > 0, got -1"),
        ("linear", "--log-every", "0", "must be > 0, got 0"),
        ("linear", "--stop-after", "-2", "must be >= 0, got -2"),
        ("finetune", "--backbone-lr", "0", "must be a finite number > 0, got 0"),
        ("pretrain", "--epochs", "0", "must be > 0, got 0"),
        ("pretrain", "--batch-size", "0", "must be > 0, got 0"),
        ("pretrain", "--base-lr", "nan", "must be a finite number > 0, got nan"),
        ("pretrain", "--workers", "-1", "must be >= 0, got -1"),
    ],
)
def test_bad_flag_values_stop_naming_the_flag(
    command: str, flag: str, value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = [command, "--data", str(tmp_path), "--out", str(tmp_path / "out"), flag, value]
    if command != "pretrain":
        argv += ["--pretrained", str(tmp_path)]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert f"argument {flag}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_subset_files_name_images_of_the_same_name_by_their_paths(tmp_path: Path) -> None:
    from benchmarks.imagenet.subset import read_subset_file, write_subset_file
    from maskaug.adapters.image import ImageDataError, ImageFolderIndex

    root = tmp_path / "train"
    samples = [(str(root / c / cam / f"{i}.png"), label) for label, c in enumerate("ab") for cam in ("cam1", "cam2")
               for i in range(3)]
    index = ImageFolderIndex(root, ["a", "b"], samples)
    write_subset_file(tmp_path / "subset.txt", samples, root)
    assert read_subset_file(tmp_path / "subset.txt", index) == samples
    (tmp_path / "names.txt").write_text("0.png\n")
    with pytest.raises(ImageDataError, match="names 0.png, which 4 images .* share"):
        read_subset_file(tmp_path / "names.txt", index)
