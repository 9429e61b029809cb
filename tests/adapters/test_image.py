"""The image adapter: folder checks with clear errors, MSCN views and their baselines, ResNets."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader

from benchmarks.imagenet.synthetic import write_image_folder
from maskaug import highpass
from maskaug.adapters import image


@pytest.fixture()
def toy(tmp_path: Path) -> Path:
    return write_image_folder(tmp_path / "toy", classes=3, train_per_class=4, val_per_class=2)


def test_scan_lists_classes_and_images(toy: Path) -> None:
    train, val = image.scan_splits(toy)
    assert train.classes == val.classes == ["class_0", "class_1", "class_2"]
    assert len(train) == 12 and len(val) == 6 and not train.skipped
    assert [label for _, label in train.samples] == [0] * 4 + [1] * 4 + [2] * 4
    assert all(Path(p).parent.name == f"class_{label}" for p, label in train.samples)


def test_scan_finds_what_torchvision_image_folder_finds(toy: Path) -> None:
    nested = toy / "train" / "class_1" / "more" / "deeper"
    nested.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(nested / "a.tif")
    Image.new("L", (8, 8)).save(toy / "train" / "class_2" / "b.pgm")
    (toy / "train" / "class_2" / ".hidden").mkdir()
    Image.new("RGB", (8, 8)).save(toy / "train" / "class_2" / ".hidden" / "c.png")
    ours = image.scan_image_folder(toy / "train").samples
    theirs = torchvision.datasets.ImageFolder(str(toy / "train")).samples
    assert len(ours) == 14 and ours == [s for s in theirs if "/." not in s[0]]  # in its order; hidden left out
    with pytest.raises(image.ImageDataError, match=r"classes lists class_0 more than once"):
        image.scan_image_folder(toy / "train", classes=["class_0", "class_1", "class_0"])


def test_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(image.ImageDataError, match="does not exist"):
        image.scan_splits(tmp_path / "nowhere")
    (tmp_path / "data" / "train" / "a").mkdir(parents=True)
    with pytest.raises(image.ImageDataError, match=r"train/a holds no images"):
        image.scan_splits(tmp_path / "data")


def test_missing_val_split_is_named(toy: Path) -> None:
    shutil.rmtree(toy / "val")
    with pytest.raises(image.ImageDataError, match=r"val does not exist"):
        image.scan_splits(toy)


def test_empty_class_is_named(toy: Path) -> None:
    (toy / "train" / "class_3").mkdir()
    (toy / "train" / "class_3" / "notes.txt").write_text("not an image")
    with pytest.raises(image.ImageDataError, match=r"class folder .*class_3 holds no images"):
        image.scan_image_folder(toy / "train")


def test_class_mismatch_names_the_classes(toy: Path) -> None:
    (toy / "val" / "class_2").rename(toy / "val" / "class_9")
    with pytest.raises(image.ImageDataError, match=r"missing \[class_2\].*unexpected \[class_9\]"):
        image.scan_splits(toy)


def test_unreadable_image_stops_or_is_skipped(toy: Path) -> None:
    bad = toy / "train" / "class_1" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(image.ImageDataError, match=r"cannot read image .*broken\.png.*--on-bad-image skip"):
        image.scan_image_folder(toy / "train")
    index = image.scan_image_folder(toy / "train", on_bad_image="skip")
    assert [p for p, _ in index.skipped] == [str(bad)]
    assert len(index) == 12 and str(bad) not in {p for p, _ in index.samples}
    assert len(image.scan_image_folder(toy / "train", verify=False)) == 13


def test_class_of_only_unreadable_images_is_refused(toy: Path) -> None:
    for path in (toy / "train" / "class_0").iterdir():
        path.write_bytes(b"garbage")
    with pytest.raises(image.ImageDataError, match=r"every image of class folder.*class_0.*unreadable"):
        image.scan_image_folder(toy / "train", on_bad_image="skip")


def test_dataset_names_a_file_that_fails_to_decode(toy: Path) -> None:
    index = image.scan_image_folder(toy / "train")
    path = Path(index.samples[0][0])
    path.write_bytes(path.read_bytes()[:40])  # truncated after the scan
    dataset = image.ImageFolderDataset(index.samples, image.eval_transform(32))
    with pytest.raises(image.ImageDataError, match=rf"cannot decode image .*{path.name}"):
        dataset[0]
    assert dataset[1][0].shape == (3, 32, 32)


def test_bad_on_bad_image_value() -> None:
    with pytest.raises(ValueError, match="on_bad_image must be 'stop' or 'skip', got 'ignore'"):
        image.scan_image_folder(".", on_bad_image="ignore")


@pytest.fixture()
def photo() -> Image.Image:
    g = torch.Generator().manual_seed(0)
    pixels = (torch.rand(48, 40, 3, generator=g) * 255).to(torch.uint8).numpy()
    return Image.fromarray(pixels, mode="RGB")


def test_pretrain_views_are_four_masked_views_with_six_pairs(photo: Image.Image) -> None:
    views = image.pretrain_views(32, cell=8, highpass_sigma=1.0)
    out = views(photo)
    assert len(out) == 4 and all(v.shape == (3, 32, 32) and v.dtype == torch.float32 for v in out)
    assert views.pairs == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert [m.ratio for m in (v[1] for v in views.views)] == [(0.1, 0.1), (0.2, 0.2), (0.15, 0.15), (0.15, 0.15)]


def _first_view(photo: Image.Image, **options) -> torch.Tensor:
    torch.manual_seed(7)
    return image.pretrain_views(32, cell=8, highpass_sigma=1.0, **options)(photo)[0]


def test_no_mask_baseline_differs_only_by_the_masks(photo: Image.Image) -> None:
    masked, plain = _first_view(photo), _first_view(photo, mask=False)
    same = torch.isclose(masked, plain, atol=1e-6)
    assert 0.5 < same.float().mean() < 1.0  # masked cells differ, the rest is the same high-passed view
    torch.manual_seed(7)
    reference = highpass(image.simclr_augment(32)(photo), 1.0)
    assert torch.allclose(plain, reference, atol=1e-6)


def test_no_highpass_baseline_masks_the_normalized_view(photo: Image.Image) -> None:
    masked = _first_view(photo, highpass=False)
    torch.manual_seed(7)
    normalized = image.simclr_augment(32)(photo)
    same = torch.isclose(masked, normalized, atol=1e-6)
    assert 0.5 < same.float().mean() < 1.0
    assert torch.allclose(_first_view(photo, mask=False, highpass=False), normalized)


def test_mask_options_need_masks() -> None:
    with pytest.raises(TypeError, match=r"mask options \['noise_std'\] need mask=True"):
        image.pretrain_views(32, mask=False, noise_std=0.1)


def test_eval_and_classifier_transforms(photo: Image.Image) -> None:
    assert image.eval_transform(224).transforms[1].size == [256]
    assert image.eval_transform(32)(photo).shape == (3, 32, 32)
    assert image.classifier_train_transform(32)(photo).shape == (3, 32, 32)


def test_eval_transform_refuses_a_resize_smaller_than_the_crop() -> None:
    with pytest.raises(ValueError, match=r"resize must be >= size .* got resize=16, size=32"):
        image.eval_transform(32, resize=16)
    with pytest.raises(ValueError, match="size must be >= 1, got 0"):
        image.eval_transform(0)
    with pytest.raises(TypeError, match="resize must be an int, got 40.5"):
        image.eval_transform(32, resize=40.5)
    assert image.eval_transform(32, resize=32).transforms[1].size == [32]


def test_backbone_state_dict_loads_into_torchvision_resnet50() -> None:
    torch.manual_seed(0)
    backbone = image.resnet_backbone("resnet50").eval()
    reference = torchvision.models.resnet50()
    missing, unexpected = reference.load_state_dict(backbone.state_dict(), strict=False)
    assert sorted(missing) == ["fc.bias", "fc.weight"] and not unexpected
    reference.fc = torch.nn.Identity()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(reference.eval()(x), backbone(x))
        assert backbone(x).shape == (1, image.FEATURE_DIMS["resnet50"])


def test_unknown_arch() -> None:
    with pytest.raises(ValueError, match="arch must be one of .* got 'vgg16'"):
        image.resnet_backbone("vgg16")


def test_highpass_first_filters_then_runs_the_module() -> None:
    module = torch.nn.Conv2d(3, 4, 3)
    module.out_channels = 4
    wrapped = image.HighPassFirst(module, sigma=1.0)
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(wrapped(x), module(highpass(x, 1.0)))
    assert wrapped.out_channels == 4
    assert torch.equal(image.HighPassFirst(module, sigma=None)(x), module(x))


def test_views_in_dataloader_workers(toy: Path) -> None:
    index = image.scan_image_folder(toy / "train")
    views = image.pretrain_views(32, cell=8, highpass_sigma=1.0)
    dataset = image.ImageFolderDataset(index.samples, views)
    assert pickle.loads(pickle.dumps(dataset)).transform.pairs == views.pairs  # spawn-started workers
    loader = DataLoader(dataset, batch_size=6, num_workers=2, generator=torch.Generator().manual_seed(0))
    (first, labels), (second, _) = list(loader)
    assert len(first) == 4 and all(v.shape == (6, 3, 32, 32) for v in first) and labels.tolist() == [0] * 4 + [1] * 2
    assert not torch.equal(first[2], first[3])  # each view draws its own crop and mask
