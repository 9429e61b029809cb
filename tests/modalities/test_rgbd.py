"""The RGB-D adapter: colour/depth mask couplings, depth normalization, NYU-style folders, shapes."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.modalities import rgbd as recipe
from benchmarks.modalities.shapes import CLASSES, render_shapes
from maskaug import highpass
from maskaug.adapters import rgbd


def _masks(coupling: str, **kw) -> torch.Tensor:
    mask = rgbd.RGBDMask(coupling=coupling, cell=4, return_mask=True, highpass_sigma=None,
                         generator=torch.Generator().manual_seed(0), **kw)
    return mask(torch.randn(32, 4, 16, 16))[1]


def test_couplings() -> None:
    shared, separate = _masks("shared"), _masks("separate")
    channel, always = _masks("channel"), _masks("channel", channel_independent_prob=1.0)
    assert shared.shape == separate.shape == channel.shape == (32, 4, 16, 16)
    assert torch.equal(shared, shared[:, :1].expand_as(shared))
    assert torch.equal(separate[:, :3], separate[:, :1].expand(32, 3, 16, 16))
    differ = (separate[:, 0] != separate[:, 3]).any(dim=(1, 2))
    assert differ.float().mean() > 0.8  # colour and depth drawn apart
    per_channel = (always[:, 1:] != always[:, :1]).flatten(2).any(dim=2).all(dim=1)
    assert per_channel.float().mean() > 0.8
    # p=0.8: some samples share one mask over all four channels, most do not
    shared_samples = (channel == channel[:, :1]).flatten(1).all(dim=1)
    assert 0 < shared_samples.sum() < 32


@pytest.mark.parametrize(("layout", "shape"), [("b c h w", (8, 4, 16, 16)), ("c h w", (4, 16, 16))])
def test_channel_coupling_without_independent_masks_shares_one_mask(layout: str, shape: tuple[int, ...]) -> None:
    mask = rgbd.RGBDMask(coupling="channel", layout=layout, cell=4, highpass_sigma=None, channel_independent_prob=0.0,
                         return_mask=True, generator=torch.Generator().manual_seed(0))
    _, m = mask(torch.randn(shape))
    assert m.shape == shape and m.any()
    assert torch.equal(m, m.narrow(-3, 0, 1).expand(shape))  # channel 0's mask in all four


def test_highpass_and_fill_come_from_the_core() -> None:
    x = torch.randn(2, 4, 16, 16)
    out = rgbd.RGBDMask(cell=4, ratio=0.0, focal_prob=0.0, highpass_sigma=1.0)(x)
    assert torch.allclose(out, highpass(x, 1.0), atol=1e-5)
    out, m = rgbd.RGBDMask(cell=4, ratio=0.5, fill="constant", highpass_sigma=None, return_mask=True)(x)
    assert (out[m] == 0).all() and torch.equal(out[~m], x[~m])


def test_mask_errors_and_pickling() -> None:
    with pytest.raises(ValueError, match="coupling"):
        rgbd.RGBDMask(coupling="depth")
    with pytest.raises(ValueError, match="layout"):
        rgbd.RGBDMask(layout="b h w c")
    with pytest.raises(ValueError, match=r"4 channels, got shape \(2, 3, 8, 8\)"):
        rgbd.RGBDMask()(torch.randn(2, 3, 8, 8))
    mask = pickle.loads(pickle.dumps(rgbd.RGBDMask(coupling="separate", layout="c h w", cell=4, highpass_sigma=1.0)))
    assert mask(torch.randn(4, 16, 16)).shape == (4, 16, 16)
    assert "coupling='separate'" in repr(mask)


def test_depth_normalization_keeps_missing_at_zero() -> None:
    depth = torch.tensor([[0.0, 1.0], [3.0, 5.0]])
    out = rgbd.normalize_depth(depth, stats=(3.0, 2.0))
    assert out.tolist() == [[0.0, -1.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="std > 0"):
        rgbd.normalize_depth(depth, stats=(1.0, 0.0))
    x = rgbd.to_rgbd(torch.full((3, 2, 2), 255, dtype=torch.uint8), depth, depth_stats=(3.0, 2.0))
    assert x.shape == (4, 2, 2) and torch.allclose(x[0], torch.full((2, 2), (1 - 0.485) / 0.229))
    with pytest.raises(ValueError, match="must match"):
        rgbd.to_rgbd(torch.zeros(3, 2, 2, dtype=torch.uint8), torch.zeros(3, 3))


def test_to_rgbd_refuses_float_colour() -> None:
    with pytest.raises(TypeError, match=r"rgb must be uint8 colour in \[0, 255\], got dtype torch.float32"):
        rgbd.to_rgbd(torch.full((3, 2, 2), 0.5), torch.ones(2, 2))


def _folder(root: Path, names: list[str], *, depth_kind: str = "png", size: tuple[int, int] = (6, 8)) -> Path:
    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    for i, name in enumerate(names):
        Image.fromarray(np.full((*size, 3), 40 * i, dtype=np.uint8)).save(root / "rgb" / f"{name}.png")
        millimetres = np.full(size, 1000 * (i + 1), dtype=np.uint16)
        millimetres[0, 0] = 0  # a missing measurement
        if depth_kind == "png":
            Image.fromarray(millimetres).save(root / "depth" / f"{name}.png")
        else:
            np.save(root / "depth" / f"{name}.npy", millimetres / 1000.0)
    return root


@pytest.mark.parametrize("depth_kind", ["png", "npy"])
def test_folder_pairs_by_name(tmp_path: Path, depth_kind: str) -> None:
    root = _folder(tmp_path / "nyu", ["b", "a"], depth_kind=depth_kind)
    (root / "labels.csv").write_text("name,label\na,kitchen\nb,bedroom\n")
    data = rgbd.RGBDFolder(root, depth_stats=(0.0, 1.0))
    assert data.names == ["a", "b"] and data.classes == ["bedroom", "kitchen"]
    x, label = data[1]
    assert x.shape == (4, 6, 8) and label == 0
    assert x[3, 0, 0] == 0 and torch.allclose(x[3, 1:, 1:], torch.ones(5, 7))  # "b" is at 1 m


def test_folder_without_labels_and_with_a_transform(tmp_path: Path) -> None:
    root = _folder(tmp_path / "nyu", ["a"])
    data = rgbd.RGBDFolder(root, transform=rgbd.RGBDMask(layout="c h w", cell=2, highpass_sigma=None))
    x, label = data[0]
    assert x.shape == (4, 6, 8) and label == -1 and data.classes == []


def test_unpaired_files_are_named(tmp_path: Path) -> None:
    root = _folder(tmp_path / "nyu", ["a", "b", "c"])
    (root / "depth" / "b.png").unlink()
    (root / "rgb" / "c.png").unlink()
    with pytest.raises(rgbd.RGBDDataError, match=r"colour without depth \[b\] \(1\), depth without colour \[c\] \(1\)"):
        rgbd.RGBDFolder(root)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(rgbd.RGBDDataError, match="missing folder .*rgb"):
        rgbd.RGBDFolder(tmp_path / "nowhere")
    root = _folder(tmp_path / "dup", ["a"])
    np.save(root / "depth" / "a.npy", np.ones((6, 8)))
    with pytest.raises(rgbd.RGBDDataError, match="two files named 'a'"):
        rgbd.RGBDFolder(root)
    root = _folder(tmp_path / "labels", ["a", "b"])
    (root / "labels.csv").write_text("name,label\na,1\n")
    with pytest.raises(rgbd.RGBDDataError, match=r"no label for \[b\]"):
        rgbd.RGBDFolder(root)
    (root / "labels.csv").write_text("file,class\na,1\n")
    with pytest.raises(rgbd.RGBDDataError, match="'name,label' header"):
        rgbd.RGBDFolder(root)
    root = _folder(tmp_path / "size", ["a"])
    Image.fromarray(np.zeros((5, 8), dtype=np.uint16)).save(root / "depth" / "a.png")
    with pytest.raises(rgbd.RGBDDataError, match=r"depth of shape \(5, 8\) does not match a.png"):
        rgbd.RGBDFolder(root)[0]
    empty = tmp_path / "empty"
    (empty / "rgb").mkdir(parents=True)
    (empty / "depth").mkdir()
    with pytest.raises(rgbd.RGBDDataError, match="no .png/.jpg/.jpeg files"):
        rgbd.RGBDFolder(empty)


def test_shapes_are_seeded_balanced_and_depth_matters() -> None:
    a = render_shapes(20, size=24, generator=torch.Generator().manual_seed(0))
    b = render_shapes(20, size=24, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    rgb, depth, labels = a
    assert rgb.shape == (20, 3, 24, 24) and rgb.dtype == torch.uint8 and depth.shape == (20, 24, 24)
    assert torch.bincount(labels).tolist() == [4] * len(CLASSES)
    assert 0.0 < (depth == 0).float().mean() < 0.05
    # at the centre, a peaked or domed solid comes closer than a flat one
    centre_depth = depth[:, 10:14, 10:14]
    relief = (centre_depth.amax(dim=(1, 2)) - centre_depth[centre_depth > 0].view(-1).min()) > 0
    assert relief.all()


def test_smoke_preset_end_to_end(tmp_path: Path) -> None:
    result = recipe.run("smoke", out=tmp_path, runs=tmp_path / "runs", progress=False)
    names = [recipe._NAMES[k] for k in recipe.PRESETS["smoke"].arms]
    assert [r["method"] for r in result["rows"]] == names
    for r in result["rows"]:
        assert 0 <= r["knn_top1"] <= 1 and 0 <= r["linear_top1"] <= 1 and r["views_per_s"] > 0
    saved = json.loads((tmp_path / "rgbd-smoke.json").read_text())
    assert saved["rows"] == result["rows"] and "synthetic" in saved["data"]
    assert all(f"| {n} |" in (tmp_path / "rgbd-smoke.md").read_text() for n in names)
