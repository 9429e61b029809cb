"""The video adapter: the moving-clip generator, MSCN presets, VideoMAE tubes, IDX reading."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.modalities import video as recipe
from maskaug import highpass
from maskaug.adapters import video


def _clips(seed: int, **kw) -> torch.Tensor:
    images = torch.arange(5 * 12 * 12, dtype=torch.uint8).view(5, 12, 12) % 200 + 1
    return video.moving_clips(images, generator=torch.Generator().manual_seed(seed), **kw)


def test_clips_are_deterministic_and_leave_the_global_rng_alone() -> None:
    state = torch.get_rng_state()
    a, b, c = _clips(0, size=32), _clips(0, size=32), _clips(1, size=32)
    assert torch.equal(torch.get_rng_state(), state)
    assert a.shape == (5, 1, 8, 32, 32) and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)


def _positions(clips: torch.Tensor) -> torch.Tensor:
    """Top-left corner of the (nonzero) object in every frame: (N, T, 2)."""
    on = clips[:, 0] > 0
    rows = on.any(dim=-1).float().argmax(dim=-1)
    cols = on.any(dim=-2).float().argmax(dim=-1)
    return torch.stack([rows, cols], dim=-1)


def test_objects_move_whole_within_bounds_and_bounce() -> None:
    clips = _clips(3, size=24, frames=40, speed=(2.0, 3.0))
    images = torch.arange(5 * 12 * 12, dtype=torch.uint8).view(5, 12, 12) % 200 + 1
    # the whole image is on the canvas in every frame
    per_frame = clips.sum(dim=(1, 3, 4), dtype=torch.int64)
    assert torch.equal(per_frame, images.sum(dim=(1, 2), dtype=torch.int64)[:, None].expand(5, 40))
    pos = _positions(clips)
    step = (pos[:, 1:] - pos[:, :-1]).float().norm(dim=-1)
    assert (step <= 3.0 + 1.5).all() and (step > 0).float().mean() > 0.9  # moving, at the set speed
    assert pos.min() >= 0 and pos.max() <= 24 - 12
    direction = torch.sign(pos[:, 1:] - pos[:, :-1])
    turned = (direction[:, 1:] * direction[:, :-1] < 0).any(dim=(1, 2))
    assert turned.all()  # 40 frames at >= 2 px/frame on 12 px of room: every object bounces


def test_object_size_and_fit_errors() -> None:
    assert _clips(0, size=16, object_size=8).shape == (5, 1, 8, 16, 16)
    with pytest.raises(ValueError, match="do not fit on a canvas of size=10"):
        _clips(0, size=10)
    with pytest.raises(ValueError, match=r"\(N, h, w\)"):
        video.moving_clips(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="speed"):
        _clips(0, size=32, speed=(3.0, 1.0))


def test_counts_and_speed_are_checked_not_reinterpreted() -> None:
    with pytest.raises(TypeError, match="frames must be an int, got 2.5"):
        _clips(0, size=32, frames=2.5)
    with pytest.raises(ValueError, match="frames must be >= 1, got 0"):
        _clips(0, size=32, frames=0)
    with pytest.raises(ValueError, match="object_size must be >= 1, got 0"):
        _clips(0, size=32, object_size=0)
    with pytest.raises(TypeError, match=r"speed must be a \(low, high\) pair of numbers, got \(1.0,\)"):
        _clips(0, size=32, speed=(1.0,))
    with pytest.raises(ValueError, match=r"speed must be a \(low, high\) pair with 0 <= low <= high"):
        _clips(0, size=32, speed=(-1.0, 1.0))
    assert _clips(0, size=32, frames=3, speed=[0, 0]).shape == (5, 1, 3, 32, 32)


def _mask(mode: str, **kw) -> torch.Tensor:
    policy = video.mscn_mask(mode, cell=4, ratio=0.25, focal_prob=0.0, highpass=None, return_mask=True,
                             generator=torch.Generator().manual_seed(0), **kw)
    return policy(torch.randn(6, 1, 8, 16, 16))[1]


def test_frame_tube_and_spacetime_cells() -> None:
    frame, tube, spacetime = _mask("frame"), _mask("tube"), _mask("spacetime", time_cell=2)
    assert frame.shape == tube.shape == spacetime.shape == (6, 1, 8, 16, 16)
    # per frame: 4 of 16 cells in every frame, frames differ
    assert (frame.sum(dim=(3, 4)) == 4 * 16).all() and not torch.equal(frame[:, :, 0], frame[:, :, 1])
    # tubes: one spatial pattern through the clip
    assert torch.equal(tube, tube[:, :, :1].expand_as(tube)) and (tube[:, :, 0].sum(dim=(2, 3)) == 4 * 16).all()
    # space-time: constant within pairs of frames, different across pairs
    assert torch.equal(spacetime[:, :, 0::2], spacetime[:, :, 1::2])
    assert not torch.equal(spacetime[:, :, 0], spacetime[:, :, 2])
    assert (spacetime.sum(dim=(1, 2, 3, 4)) == round(0.25 * 64) * 2 * 16).all()


@pytest.mark.parametrize("mode", ["tube", "spacetime"])
def test_focal_boxes_span_a_fraction_of_the_clip_as_documented(mode: str) -> None:
    policy = video.mscn_mask(mode, cell=4, focal_prob=1.0, highpass=None, return_mask=True,
                             generator=torch.Generator().manual_seed(0))
    m = policy(torch.randn(64, 1, 8, 16, 16))[1][:, 0]
    frames = m.flatten(2).any(dim=2)  # (N, T): frames the box reaches
    counts = frames.sum(dim=1)
    # focal_scale 0.3-0.6 of 8 frames: round(2.4) = 2 to round(4.8) = 5 consecutive frames, not the clip
    assert counts.min() >= 2 and counts.max() <= 5
    first = frames.float().argmax(dim=1)
    span = torch.arange(8)[None] - first[:, None]
    assert torch.equal(frames, (span >= 0) & (span < counts[:, None]))


@pytest.mark.parametrize(("mode", "dims"), [("space", (-2, -1)), ("spacetime", (-3, -2, -1))])
def test_highpass_over_space_or_space_and_time(mode: str, dims: tuple[int, ...]) -> None:
    x = torch.randn(2, 1, 8, 16, 16)
    out = video.mscn_mask("tube", cell=4, ratio=0.0, focal_prob=0.0, highpass=mode, highpass_sigma=1.0)(x)
    assert torch.allclose(out, highpass(x, 1.0, dims=dims), atol=1e-5)
    with pytest.raises(ValueError, match="highpass"):
        video.mscn_mask("tube", highpass="time")
    with pytest.raises(ValueError, match="mode"):
        video.mscn_mask("cube")


def test_videomae_tubes_are_a_grid_preset() -> None:
    policy = video.videomae_mask(ratio=0.9, patch=4, return_mask=True, generator=torch.Generator().manual_seed(0))
    x = torch.randn(3, 2, 8, 16, 16) + 5
    out, m = policy(x)
    assert torch.equal(m, m[:, :1, :1].expand_as(m))  # same in every frame and channel
    assert (m[:, 0, 0].sum(dim=(1, 2)) == round(0.9 * 16) * 16).all()
    assert (out[m.expand_as(out)] == 0).all() and torch.equal(out[~m.expand_as(out)], x[~m.expand_as(x)])


def _idx(path: Path, array: np.ndarray, code: int = 0x08) -> None:
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_load_idx_round_trip_and_errors(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    _idx(tmp_path / "images.gz", images)
    assert torch.equal(video.load_idx(tmp_path / "images.gz"), torch.from_numpy(images.astype(np.uint8)))
    _idx(tmp_path / "labels.gz", np.array([3, 1, 4]))
    assert video.load_idx(tmp_path / "labels.gz").tolist() == [3, 1, 4]
    _idx(tmp_path / "floats.gz", images, code=0x0D)
    with pytest.raises(ValueError, match="not an IDX file of unsigned bytes"):
        video.load_idx(tmp_path / "floats.gz")
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="holds 3 bytes"):
        video.load_idx(tmp_path / "short.gz")
    with pytest.raises(FileNotFoundError, match="missing.gz"):
        video.load_idx(tmp_path / "missing.gz")


@pytest.mark.skipif(not (recipe.DATA / "t10k-images-idx3-ubyte.gz").is_file(), reason="Fashion-MNIST not present")
def test_smoke_preset_end_to_end(tmp_path: Path) -> None:
    result = recipe.run("smoke", out=tmp_path, runs=tmp_path / "runs", progress=False)
    names = [recipe._NAMES[k] for k in recipe.PRESETS["smoke"].arms]
    assert [r["method"] for r in result["rows"]] == names
    for r in result["rows"]:
        assert 0 <= r["knn_top1"] <= 1 and 0 <= r["linear_top1"] <= 1 and r["views_per_s"] > 0
    saved = json.loads((tmp_path / "video-smoke.json").read_text())
    assert saved["rows"] == result["rows"] and saved["settings"]["frames"] == 4
    assert all(f"| {n} |" in (tmp_path / "video-smoke.md").read_text() for n in names)


def test_data_of_the_wrong_kind_names_the_flag(tmp_path: Path, capsys) -> None:
    archive = tmp_path / "train-images-idx3-ubyte.gz"
    archive.write_bytes(b"")
    with pytest.raises(SystemExit):
        recipe.main(["--preset", "smoke", "--data", str(archive)])  # a file, where a folder is read
    assert f"--data {archive} is not a folder" in capsys.readouterr().err
