"""The spectrogram adapter: log-mel features, MSCN presets over frequency and time, SpecAugment.

Spectrograms use the layout ``"b c f t"`` (``"c f t"`` for one clip in a DataLoader worker):
``c`` is the microphone channel, ``f`` the mel band, ``t`` the frame. The MSCN preset masks
time-frequency grid cells or one focal block, draws a separate mask per microphone channel with
a high probability, and high-passes over frequency and time (or only one of them, or neither).
The usual baseline, torchaudio's SpecAugment (frequency and time strips), comes as a preset too,
so that an experiment can swap one for the other or chain both.

Example:
    ```python
    import torch
    from maskaug.adapters import spectrogram

    features = spectrogram.LogMel()(torch.randn(2, 16000))   # (2, 40, 101): 2 clips, mono
    mask = spectrogram.mscn_mask(layout="b c f t")
    views = mask(features.unsqueeze(1))                      # (2, 1, 40, 101)
    ```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio
from torch import Tensor, nn

from maskaug import HighPass, MSCNMask, MultiView

from maskaug._checks import check_count

__all__ = [
    "DEFAULT_CELL",
    "LogMel",
    "SpokenWords",
    "eval_highpass",
    "load_spoken_words",
    "mscn_mask",
    "pretrain_views",
    "specaugment",
]

#: Grid cells of 8 mel bands by 10 frames (100 ms at a 10 ms hop): about 5 x 10 cells on one
#: second of 40-band log-mel features, as MSCN's 32-pixel cells give 7 x 7 on a 224-pixel image.
DEFAULT_CELL = {"f": 8, "t": 10}
_HIGHPASS_AXES = {"f t": ("f", "t"), "f": ("f",), "t": ("t",)}
_AXIS_FROM_END = {"f": -2, "t": -1}


class LogMel(nn.Module):
    """Log-mel features of waveforms through torchaudio: ``log(mel power + eps)``.

    Args:
        sample_rate: Sampling rate of the waveforms in Hz, an int >= 1.
        n_mels: Mel bands, an int >= 1.
        n_fft: FFT size, an int >= 1 (400 samples: 25 ms at 16 kHz).
        hop_length: Samples between frames, an int >= 1 (160: 10 ms at 16 kHz).
        eps: Added to the mel power before the log, so silence stays finite.

    Raises:
        TypeError: A count that is not an int.
        ValueError: A count below 1, or ``eps <= 0``.

    Shape:
        - input: ``(..., time)`` float waveforms in [-1, 1] (any leading axes: batch, microphones).
        - output: ``(..., n_mels, 1 + time // hop_length)``.

    Example:
        ```python
        import torch
        from maskaug.adapters.spectrogram import LogMel

        assert LogMel()(torch.zeros(2, 1, 16000)).shape == (2, 1, 40, 101)
        ```
    """

    def __init__(
        self, *, sample_rate: int = 16000, n_mels: int = 40, n_fft: int = 400, hop_length: int = 160, eps: float = 1e-6
    ) -> None:
        super().__init__()
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=check_count("sample_rate", sample_rate),
            n_fft=check_count("n_fft", n_fft),
            hop_length=check_count("hop_length", hop_length),
            n_mels=check_count("n_mels", n_mels),
        )
        self.eps = eps

    def forward(self, waveform: Tensor) -> Tensor:
        if not waveform.is_floating_point():
            raise TypeError(f"waveform must be floating point in [-1, 1], got dtype {waveform.dtype}")
        return torch.log(self.mel(waveform) + self.eps)


def mscn_mask(
    *,
    layout: str = "b c f t",
    cell: int | dict[str, int | None] = DEFAULT_CELL,
    ratio: float | tuple[float, float] = 0.15,
    highpass_axes: str | None = "f t",
    highpass_sigma: float = 2.0,
    **options: Any,
) -> MSCNMask:
    """MSCN masking for spectrograms: time-frequency cells or a focal block, per microphone.

    A preset of `maskaug.MSCNMask` over the ``f`` and ``t`` axes; the channel axis holds the
    microphones, which get separate masks with probability ``channel_independent_prob`` (MSCN's
    default, 0.8). Focal blocks (p=0.4) cover a band of frequencies over a stretch of time.

    Args:
        layout: ``"b c f t"`` for a batch, ``"c f t"`` for one clip in a DataLoader worker.
        cell: Grid cell size: one int for both axes or ``{"f": ..., "t": ...}``; ``None`` for an
            axis makes cells span it (``{"f": None, "t": 10}`` masks whole frames).
        ratio: Grid masking ratio (or a range drawn per sample).
        highpass_axes: ``"f t"``, ``"f"``, ``"t"``, or ``None`` for no high-pass.
        highpass_sigma: High-pass sigma in bins/frames (2: a 13-tap Gaussian, which fits 40 bands).
        **options: Other `maskaug.MSCNMask` options (``focal_prob``, ``noise_std``, ``generator``,
            ``return_mask``, ...).

    Shape:
        - input: ``(B, C, F, T)`` (or ``(C, F, T)``) standardized log-mel features.
        - output: the same shape.

    Example:
        ```python
        import torch
        from maskaug.adapters.spectrogram import mscn_mask

        mask = mscn_mask(return_mask=True, channel_independent_prob=1.0)
        _, m = mask(torch.randn(4, 2, 40, 101))       # two microphones
        assert m.shape == (4, 2, 40, 101)
        ```
    """
    if highpass_axes is not None and highpass_axes not in _HIGHPASS_AXES:
        raise ValueError(f"highpass_axes must be 'f t', 'f', 't' or None, got {highpass_axes!r}")
    return MSCNMask(
        layout=layout,
        mask_axes="f t",
        cell=cell,
        ratio=ratio,
        highpass_sigma=None if highpass_axes is None else highpass_sigma,
        highpass_axes=None if highpass_axes is None else _HIGHPASS_AXES[highpass_axes],
        **options,
    )


def specaugment(
    *, freq_mask_param: int = 8, time_mask_param: int = 20, n_freq_masks: int = 2, n_time_masks: int = 2
) -> nn.Sequential:
    """torchaudio's SpecAugment (without time warping): frequency and time strips, zero fill.

    ``n_freq_masks`` `torchaudio.transforms.FrequencyMasking` and ``n_time_masks``
    `torchaudio.transforms.TimeMasking`, each with ``iid_masks=True`` so that every example and
    microphone of a batch gets its own strips. Widths are uniform in ``[0, param)``. torchaudio
    draws from torch's global generator (it takes none).

    Shape:
        - input: ``(B, C, F, T)`` (``iid_masks`` needs the 4-d batch layout).
        - output: the same shape.

    Example:
        ```python
        import torch
        from maskaug.adapters.spectrogram import specaugment

        assert specaugment()(torch.randn(4, 1, 40, 101)).shape == (4, 1, 40, 101)
        ```
    """
    freq = [torchaudio.transforms.FrequencyMasking(freq_mask_param, iid_masks=True) for _ in range(n_freq_masks)]
    time = [torchaudio.transforms.TimeMasking(time_mask_param, iid_masks=True) for _ in range(n_time_masks)]
    return nn.Sequential(*freq, *time)


def eval_highpass(highpass_axes: str | None = "f t", highpass_sigma: float = 2.0) -> HighPass | None:
    """The high-pass that evaluation puts before the backbone, matching `mscn_mask`'s.

    Returns ``None`` when ``highpass_axes`` is ``None``.

    Shape:
        - input: ``(..., F, T)``.
        - output: the same shape.

    Example:
        ```python
        import torch
        from maskaug.adapters.spectrogram import eval_highpass

        assert eval_highpass("t")(torch.randn(4, 1, 40, 101)).shape == (4, 1, 40, 101)
        ```
    """
    if highpass_axes is None:
        return None
    if highpass_axes not in _HIGHPASS_AXES:
        raise ValueError(f"highpass_axes must be 'f t', 'f', 't' or None, got {highpass_axes!r}")
    return HighPass(highpass_sigma, dims=tuple(_AXIS_FROM_END[a] for a in _HIGHPASS_AXES[highpass_axes]))


def pretrain_views(
    augment: nn.Module | None = None,
    *,
    policy: str = "mscn",
    ratios: Sequence[float] = (0.10, 0.20),
    highpass_axes: str | None = "f t",
    highpass_sigma: float = 2.0,
    specaugment_options: dict[str, int] | None = None,
    generator: torch.Generator | None = None,
    **mask_options: Any,
) -> MultiView:
    """Siamese views of a batch of spectrograms: ``augment``, then the masking ``policy``.

    Args:
        augment: The standard augmentation, drawn afresh per view (``None``: none).
        policy: ``"mscn"`` (`mscn_mask`, one ratio per view), ``"specaugment"``
            (`specaugment`; no high-pass), or ``"both"`` (the high-pass, SpecAugment's strips,
            whose zeros then mean "no information", and MSCN's masks last).
        ratios: One MSCN masking ratio per view; its length is the number of views.
        highpass_axes: ``"f t"``, ``"f"``, ``"t"`` or ``None`` (MSCN policies only).
        highpass_sigma: High-pass sigma in bins and frames.
        specaugment_options: Passed to `specaugment`.
        generator: Shared by the MSCN masks of every view.
        **mask_options: Passed to `mscn_mask` (``cell``, ``focal_prob``, ...).

    Shape:
        - input: ``(B, C, F, T)``.
        - output: a list of ``len(ratios)`` tensors ``(B, C, F, T)``.

    Example:
        ```python
        import torch
        from maskaug.adapters.spectrogram import pretrain_views

        views = pretrain_views(policy="both")
        a, b = views(torch.randn(4, 1, 40, 101))
        assert a.shape == b.shape == (4, 1, 40, 101)
        ```
    """
    if policy not in ("mscn", "specaugment", "both"):
        raise ValueError(f"policy must be 'mscn', 'specaugment' or 'both', got {policy!r}")
    if policy == "specaugment" and mask_options:
        raise TypeError(f"mask options {sorted(mask_options)} need policy='mscn' or 'both'")
    highpass = eval_highpass(highpass_axes, highpass_sigma)
    views = []
    for r in ratios:
        stages = [] if augment is None else [augment]
        if policy == "specaugment":
            stages.append(specaugment(**(specaugment_options or {})))
        elif policy == "mscn":
            stages.append(
                mscn_mask(ratio=r, highpass_axes=highpass_axes, highpass_sigma=highpass_sigma, generator=generator,
                          **mask_options)
            )
        else:
            stages += [] if highpass is None else [highpass]
            stages.append(specaugment(**(specaugment_options or {})))
            stages.append(mscn_mask(ratio=r, highpass_axes=None, generator=generator, **mask_options))
        views.append(nn.Sequential(*stages))
    return MultiView(views)


@dataclass
class SpokenWords:
    """One split of the spoken-words clips.

    Attributes:
        audio: ``(N, samples)`` float32 waveforms in [-1, 1].
        labels: ``(N,)`` int64 word indices.
        voices: ``(N,)`` int64 voice indices.
        words: The word of each label.
        sample_rate: In Hz.
    """

    audio: Tensor
    labels: Tensor
    voices: Tensor
    words: tuple[str, ...]
    sample_rate: int


_SPOKEN_WORDS_KEYS = ("audio", "label", "words", "voice_id", "split", "sample_rate")


def load_spoken_words(path: str | Path) -> tuple[SpokenWords, SpokenWords]:
    """Load an ``.npz`` of one-second clips split by voice: ``(train, test)``.

    The file holds ``audio`` (N, samples) int16, ``label`` (N,), ``words``, ``voice_id`` (N,),
    ``split`` (N,) with 0 = train and 1 = test, and ``sample_rate``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: A key is missing or the arrays disagree in length.

    Example:
        ```python
        from maskaug.adapters.spectrogram import load_spoken_words

        train, test = load_spoken_words("spoken_words_16k.npz")
        train.audio.shape   # (2000, 16000)
        ```
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no spoken-words file at {path}")
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in _SPOKEN_WORDS_KEYS if k not in data.files]
        if missing:
            raise ValueError(f"{path} lacks the keys {missing}; it has {sorted(data.files)}")
        arrays = {k: data[k] for k in _SPOKEN_WORDS_KEYS}
    n = len(arrays["audio"])
    for key in ("label", "voice_id", "split"):
        if len(arrays[key]) != n:
            raise ValueError(f"{path}: '{key}' has {len(arrays[key])} entries for {n} clips")
    audio = torch.from_numpy(arrays["audio"].astype(np.float32) / 32768.0)
    split = torch.from_numpy(arrays["split"])
    words = tuple(str(w) for w in arrays["words"])

    def part(code: int) -> SpokenWords:
        keep = split == code
        return SpokenWords(
            audio=audio[keep],
            labels=torch.from_numpy(arrays["label"]).long()[keep],
            voices=torch.from_numpy(arrays["voice_id"]).long()[keep],
            words=words,
            sample_rate=int(arrays["sample_rate"]),
        )

    return part(0), part(1)
