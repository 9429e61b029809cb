"""The spectrogram adapter: log-mel features, MSCN and SpecAugment presets, the spoken-words loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.modalities import spectrogram as recipe
from maskaug import highpass
from maskaug.adapters import spectrogram


def test_logmel_shape_and_leading_axes() -> None:
    wave = torch.randn(3, 2, 16000) * 0.1
    out = spectrogram.LogMel()(wave)
    assert out.shape == (3, 2, 40, 101)
    assert torch.allclose(out[1, 0], spectrogram.LogMel()(wave[1, 0]), atol=1e-5)
    assert torch.isfinite(spectrogram.LogMel()(torch.zeros(16000))).all()
    with pytest.raises(TypeError, match="floating point"):
        spectrogram.LogMel()(torch.zeros(16000, dtype=torch.int16))


@pytest.mark.parametrize("name", ["sample_rate", "n_mels", "n_fft", "hop_length"])
def test_logmel_counts_must_be_positive_ints(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be >= 1, got 0"):
        spectrogram.LogMel(**{name: 0})
    with pytest.raises(TypeError, match=f"{name} must be an int, got 2.5"):
        spectrogram.LogMel(**{name: 2.5})


def test_mscn_preset_masks_time_frequency_cells_per_microphone() -> None:
    mask = spectrogram.mscn_mask(
        cell={"f": 8, "t": 10}, ratio=0.25, focal_prob=0.0, channel_independent_prob=1.0, highpass_axes=None,
        return_mask=True, generator=torch.Generator().manual_seed(0),
    )
    x = torch.randn(4, 2, 40, 100)
    _, m = mask(x)
    assert m.shape == (4, 2, 40, 100)
    # exactly round(0.25 * 5 * 10) = 12 cells of 8 x 10 per clip and microphone, aligned on the grid
    assert (m.sum(dim=(2, 3)) == 12 * 80).all()
    cells = m.view(4, 2, 5, 8, 10, 10)
    assert (cells.all(dim=(3, 5)) == cells.any(dim=(3, 5))).all()
    assert not torch.equal(m[:, 0], m[:, 1])  # each microphone its own mask


@pytest.mark.parametrize(("axes", "dims"), [("f t", (-2, -1)), ("f", (-2,)), ("t", (-1,))])
def test_highpass_axes(axes: str, dims: tuple[int, ...]) -> None:
    x = torch.randn(2, 1, 40, 60)
    mask = spectrogram.mscn_mask(highpass_axes=axes, ratio=0.0, focal_prob=0.0)
    assert torch.allclose(mask(x), highpass(x, 2.0, dims=dims), atol=1e-5)
    assert torch.allclose(spectrogram.eval_highpass(axes)(x), highpass(x, 2.0, dims=dims), atol=1e-5)
    assert spectrogram.eval_highpass(None) is None
    with pytest.raises(ValueError, match="highpass_axes"):
        spectrogram.mscn_mask(highpass_axes="c")


def test_one_clip_layout_for_dataloader_workers() -> None:
    out = spectrogram.mscn_mask(layout="c f t")(torch.randn(1, 40, 101))
    assert out.shape == (1, 40, 101)


def test_specaugment_draws_zero_strips_per_example() -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 1, 40, 101) + 10  # no zeros before masking
    out = spectrogram.specaugment(n_time_masks=0)(x)
    zero = out == 0
    # frequency strips: whole rows over time
    assert torch.equal(zero.all(dim=-1), zero.any(dim=-1))
    rows = zero.all(dim=-1).sum(dim=(1, 2))
    assert rows.max() <= 2 * 7 and len(set(rows.tolist())) > 1  # iid: examples differ
    out = spectrogram.specaugment(n_freq_masks=0)(x)
    zero = out == 0
    assert torch.equal(zero.all(dim=-2), zero.any(dim=-2))


@pytest.mark.parametrize("policy", ["mscn", "specaugment", "both"])
def test_pretrain_views(policy: str) -> None:
    views = spectrogram.pretrain_views(policy=policy, ratios=(0.1, 0.2, 0.3))
    out = views(torch.randn(4, 1, 40, 101))
    assert len(out) == 3 and all(v.shape == (4, 1, 40, 101) for v in out)
    assert views.pairs == [(0, 1), (0, 2), (1, 2)]


def test_both_high_passes_before_the_strips() -> None:
    torch.manual_seed(0)
    views = spectrogram.pretrain_views(policy="both", ratios=(0.0, 0.0), focal_prob=0.0)
    out = views(torch.randn(8, 1, 40, 101) + 10)[0]
    # the strips stay exact zeros ("no information") after the high-pass
    assert ((out == 0).all(dim=-1).sum(dim=(1, 2)) > 0).any()
    with pytest.raises(ValueError, match="policy"):
        spectrogram.pretrain_views(policy="cutout")
    with pytest.raises(TypeError, match="need policy"):
        spectrogram.pretrain_views(policy="specaugment", cell=4)


def _write_npz(path: Path, **drop: bool) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "audio": (rng.standard_normal((6, 1600)) * 1000).astype(np.int16),
        "label": np.array([0, 1, 2, 0, 1, 2]),
        "words": np.array(["yes", "no", "up"]),
        "voice_id": np.array([0, 0, 1, 1, 2, 2]),
        "voices": np.array(["a", "b", "c"]),
        "split": np.array([0, 0, 0, 0, 1, 1]),
        "sample_rate": np.array(1600),
    }
    np.savez(path, **{k: v for k, v in arrays.items() if not drop.get(k)})


def test_load_spoken_words_splits_by_voice(tmp_path: Path) -> None:
    _write_npz(tmp_path / "w.npz")
    train, test = spectrogram.load_spoken_words(tmp_path / "w.npz")
    assert train.audio.shape == (4, 1600) and test.audio.shape == (2, 1600)
    assert train.audio.dtype == torch.float32 and train.audio.abs().max() <= 1
    assert set(train.voices.tolist()).isdisjoint(test.voices.tolist())
    assert train.words == ("yes", "no", "up") and train.sample_rate == 1600


def test_load_spoken_words_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        spectrogram.load_spoken_words(tmp_path / "nowhere.npz")
    _write_npz(tmp_path / "w.npz", split=True)
    with pytest.raises(ValueError, match=r"lacks the keys \['split'\]"):
        spectrogram.load_spoken_words(tmp_path / "w.npz")


@pytest.mark.skipif(not recipe.DATA.is_file(), reason="spoken-words data not present")
def test_smoke_preset_end_to_end(tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere.npz"
    copy.symlink_to(recipe.DATA)  # the data where a user keeps it, given on the command line
    recipe.main(["--preset", "smoke", "--data", str(copy), "--out", str(tmp_path), "--runs", str(tmp_path / "runs")])
    result = json.loads((tmp_path / "spectrogram-smoke.json").read_text())
    names = [recipe._NAMES[k] for k in recipe.PRESETS["smoke"].arms]
    assert [r["method"] for r in result["rows"]] == names
    for r in result["rows"]:
        assert 0 <= r["knn_top1"] <= 1 and 0 <= r["linear_top1"] <= 1 and r["views_per_s"] > 0
    assert result["preset"] == "smoke" and result["device"]
    markdown = (tmp_path / "spectrogram-smoke.md").read_text()
    assert all(f"| {n} |" in markdown for n in names)


def test_missing_data_names_the_flag(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        recipe.main(["--preset", "smoke", "--data", str(tmp_path / "nowhere.npz")])
    assert f"--data {tmp_path / 'nowhere.npz'} does not exist" in capsys.readouterr().err


def test_data_of_the_wrong_kind_names_the_flag(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        recipe.main(["--preset", "smoke", "--data", str(tmp_path)])  # a folder, where a .npz file is read
    assert f"--data {tmp_path} is not a file" in capsys.readouterr().err
