import gzip
from pathlib import Path

import pytest
import torch

from benchmarks.repro.data import FILES, FashionMNISTError, fashion_mnist, fingerprint, read_idx


def write_idx(path: Path, array: torch.Tensor, *, magic_type: int = 0x08) -> None:
    header = bytes([0, 0, magic_type, array.ndim]) + b"".join(s.to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.numpy().tobytes())


def fake_folder(root: Path, n_train: int = 12, n_test: int = 6) -> None:
    g = torch.Generator().manual_seed(0)
    for split, n in (("train", n_train), ("test", n_test)):
        write_idx(root / FILES[f"{split}_images"], torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8))
        write_idx(root / FILES[f"{split}_labels"], torch.arange(n, dtype=torch.uint8) % 10)


def test_read_idx_round_trips(tmp_path: Path) -> None:
    array = torch.randint(0, 256, (3, 5, 4), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    write_idx(tmp_path / "a.gz", array)
    assert torch.equal(read_idx(tmp_path / "a.gz"), array)


def test_read_idx_rejects_other_types_and_truncated_files(tmp_path: Path) -> None:
    write_idx(tmp_path / "float.gz", torch.zeros(2, 2, dtype=torch.uint8), magic_type=0x0D)
    with pytest.raises(FashionMNISTError, match="unsigned bytes"):
        read_idx(tmp_path / "float.gz")
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(3))
    with pytest.raises(FashionMNISTError, match=r"shape \[10\] \(10 bytes\), the file holds 3"):
        read_idx(tmp_path / "short.gz")


def test_missing_folder_names_the_path_and_the_files(tmp_path: Path) -> None:
    with pytest.raises(FashionMNISTError) as info:
        fashion_mnist(tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message
    assert all(name in message for name in FILES.values())


def test_one_missing_file_is_named(tmp_path: Path) -> None:
    fake_folder(tmp_path)
    (tmp_path / FILES["test_labels"]).unlink()
    with pytest.raises(FashionMNISTError, match="missing t10k-labels-idx1-ubyte.gz"):
        fashion_mnist(tmp_path)


def test_subsets_are_fixed_and_standardised(tmp_path: Path) -> None:
    fake_folder(tmp_path)
    train, test = fashion_mnist(tmp_path, train_limit=5, test_limit=100)
    again, _ = fashion_mnist(tmp_path, train_limit=5)
    x, y = train.tensors
    assert x.shape == (5, 1, 32, 32) and len(test) == 6
    assert torch.equal(x, again.tensors[0]) and torch.equal(y, again.tensors[1])
    assert abs(x.mean().item()) < 1e-5 and abs(x.std().item() - 1) < 1e-5
    other, _ = fashion_mnist(tmp_path, train_limit=5, subset_seed=3)
    assert not torch.equal(other.tensors[1], y) or not torch.equal(other.tensors[0], x)


def test_real_fashion_mnist(fashion_path: Path) -> None:
    train, test = fashion_mnist(fashion_path, train_limit=1000, test_limit=500)
    assert train.tensors[0].shape == (1000, 1, 32, 32) and test.tensors[0].shape == (500, 1, 32, 32)
    assert set(train.tensors[1].tolist()) == set(range(10))


def test_fingerprint_follows_the_contents_not_the_path_or_the_compression(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        fake_folder(tmp_path / name)
    assert fingerprint(tmp_path / "a") == fingerprint(tmp_path / "b")
    name = FILES["test_labels"]
    labels = read_idx(tmp_path / "b" / name)
    with gzip.open(tmp_path / "b" / name, "wb", compresslevel=1) as f:  # same bytes, other compression
        f.write(bytes([0, 0, 8, 1]) + len(labels).to_bytes(4, "big") + labels.numpy().tobytes())
    assert fingerprint(tmp_path / "a") == fingerprint(tmp_path / "b")
    write_idx(tmp_path / "b" / name, (labels + 1) % 10)
    assert fingerprint(tmp_path / "a") != fingerprint(tmp_path / "b")
    with pytest.raises(FashionMNISTError, match="missing"):
        fingerprint(tmp_path / "absent")
