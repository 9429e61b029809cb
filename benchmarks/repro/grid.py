"""The experiments of the reproduction and the named grids (sizes) that run them.

Scaling from ImageNet (224 px) to 32 px inputs (Fashion-MNIST's 28 px upscaled): the paper's
32-pixel cells are 1/7 of the side, so cells of 4 px (1/8 of 32) are the nearest whole size, and its
high-pass sigma of 5 px becomes 5 * 32 / 224 = 0.71 px. Masking ratios are fractions and need no
scaling. The images have one channel, so channel-independent masks do nothing here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

#: The paper's high-pass sigma (5 px at 224 px) scaled to 32 px.
SIGMA = 5 * 32 / 224
#: The paper's 32-pixel cells at 224 px, scaled to 32 px and rounded to a divisor of the side.
CELL = 4
#: Throughput that plans the GPU grid (ResNet-18 with the small stem, bf16, measured on an H200).
GPU_VIEWS_PER_SECOND = 50_000


@dataclass(frozen=True)
class Experiment:
    """One row of the results: how the two views are made and which method learns from them.

    Attributes:
        key: Short unique name (used in file names and the JSON).
        label: What the row is, for the table.
        group: The paper's claim the row belongs to.
        augment: ``"standard"`` (crop, flip, jitter) or ``"crop"`` (random resized crop only).
        masks: Apply `maskaug.MSCNMask` after the augmentation, on each view.
        highpass: High-pass the input (in training and evaluation).
        sigma: The high-pass sigma in pixels.
        share_view: Augment once and mask that one view twice.
        ratio: Grid masking ratio of both views.
        cell: Grid cell size in pixels.
        focal_prob: Probability of a focal mask instead of a grid.
        fill: ``"noise"`` or ``"constant"`` (zero: "no information" after the high-pass).
        method: ``"simclr"`` or ``"byol"``.
        pretrain: ``False`` evaluates the randomly initialised backbone (a reference row: what the
            input representation alone gives).
    """

    key: str
    label: str
    group: str
    augment: str = "standard"
    masks: bool = True
    highpass: bool = True
    sigma: float = SIGMA
    share_view: bool = False
    ratio: float = 0.15
    cell: int = CELL
    focal_prob: float = 0.4
    fill: str = "noise"
    method: str = "simclr"
    pretrain: bool = True


REFERENCE = "reference (no pre-training)"
RANDOM_INIT = Experiment("random-init", "random weights", REFERENCE, masks=False, highpass=False, pretrain=False)
RANDOM_INIT_HP = dataclasses.replace(
    RANDOM_INIT, key="random-init-hp", label="random weights, high-passed input", highpass=True
)
STANDARD = Experiment("standard", "SimCLR, standard augmentations", "MSCN improves SimCLR", masks=False, highpass=False)
MSCN = Experiment("mscn", "SimCLR, standard augmentations + MSCN masks", "MSCN improves SimCLR")
#: The paper's mask-only setting: two 30% grid masks on one random crop, nothing else, zero fill.
MASKS_ONLY = Experiment(
    "masks-only", "masks only, no high-pass", "high-pass (masks only)", augment="crop", highpass=False,
    share_view=True, ratio=0.3, focal_prob=0.0, fill="constant",
)
MASKS_ONLY_HP = dataclasses.replace(MASKS_ONLY, key="masks-only-hp", label="masks only, high-pass", highpass=True)
SHARED = dataclasses.replace(
    MSCN, key="mscn-shared", label="standard + MSCN, masks on one shared view", group="masks on different views",
    share_view=True,
)
SWEEP = "ratio and cell size"


def ratio_row(ratio: float) -> Experiment:
    return dataclasses.replace(MSCN, key=f"mscn-ratio-{ratio:.2f}", label=f"MSCN, ratio {ratio:.0%}", group=SWEEP, ratio=ratio)


def cell_row(cell: int) -> Experiment:
    return dataclasses.replace(MSCN, key=f"mscn-cell-{cell}", label=f"MSCN, cell {cell} px", group=SWEEP, cell=cell)


def sigma_row(sigma: float) -> Experiment:
    return dataclasses.replace(
        MSCN, key=f"mscn-sigma-{sigma:.1f}", label=f"MSCN, high-pass sigma {sigma:.1f} px", group="high-pass sigma",
        sigma=sigma,
    )


BYOL_ROWS = (
    dataclasses.replace(STANDARD, key="byol-standard", label="BYOL, standard augmentations", group="BYOL", method="byol"),
    dataclasses.replace(MSCN, key="byol-mscn", label="BYOL, standard augmentations + MSCN masks", group="BYOL", method="byol"),
)


@dataclass(frozen=True)
class Claim:
    """A comparison the paper makes: it reports ``better`` above ``worse`` (ImageNet, linear probe)."""

    text: str
    better: str
    worse: str
    paper: str


CLAIMS = (
    Claim("the high-pass lifts mask-only training", "masks-only-hp", "masks-only", "30.2% vs 21.0%"),
    Claim("MSCN masks improve SimCLR", "mscn", "standard", "MSCN above SimCLR (Table 1)"),
    Claim("masks must go on different views", "mscn", "mscn-shared", "65.6% vs 29.1%"),
    Claim("MSCN with BYOL", "byol-standard", "byol-mscn", "MSCN below BYOL (Tables 1, 3)"),
)


@dataclass(frozen=True)
class Grid:
    """Sizes of a run of the experiments: data subset, network width, schedule, seeds."""

    name: str
    experiments: tuple[Experiment, ...]
    epochs: int
    batch_size: int
    width: int
    train_limit: int | None
    test_limit: int | None
    seeds: tuple[int, ...] = (0, 1)
    warmup_epochs: float = 1.0
    proj_hidden_dim: int = 512
    proj_out_dim: int = 128
    ema_base: float = 0.99
    probe_epochs: int = 100
    knn_k: int = 20
    note: str = ""

    def views_per_run(self, train_size: int) -> int:
        """Training views of one pre-training run on ``train_size`` images (2 views per image)."""
        return self.epochs * (train_size // self.batch_size) * self.batch_size * 2


_MAIN = (RANDOM_INIT, RANDOM_INIT_HP, STANDARD, MSCN, MASKS_ONLY, MASKS_ONLY_HP, SHARED)
#: sigma 1.5 px: the CPU grid found the scaled 0.71 px filter to remove most of what a randomly
#: initialised network can use on these small images.
_FULL = _MAIN + (ratio_row(0.3), ratio_row(0.5), cell_row(2), cell_row(8), sigma_row(1.5)) + BYOL_ROWS

GRIDS = {
    # Everything at once on a GPU: 12 pre-trained experiments x 2 seeds x 4 epochs of 60k images x
    # 2 views is 11.5M views, about 4 minutes at 50k views/s; each of the 28 runs (the reference
    # rows only evaluate) adds about 10 s of start-up and evaluation (features, kNN over 60k and a
    # 30-epoch linear probe, all on the GPU): 8 to 9 minutes in one process. benchmarks/repro/
    # gpu_grid.sh runs it as 4 processes sharing the GPU, which overlap one's evaluation and
    # host-side work with the others' training: about 6 minutes (24 of the 28 runs, all but
    # BYOL's, took 4.5 minutes on an H100).
    "gpu": Grid(
        "gpu", _FULL, epochs=4, batch_size=512, width=64, train_limit=None, test_limit=None,
        proj_hidden_dim=2048, proj_out_dim=256, knn_k=200, probe_epochs=30,
        note="full Fashion-MNIST; BYOL's EMA starts at 0.99 (the paper's 0.996 is for long runs)",
    ),
    # A narrow ResNet-18 on a subset: what two shared CPU cores manage in 30 to 45 minutes
    # (about 150 training views/s).
    "cpu": Grid(
        "cpu", _MAIN + (ratio_row(0.5), cell_row(8)), epochs=3, batch_size=128, width=8, train_limit=4096,
        test_limit=2000, warmup_epochs=0.5, proj_hidden_dim=256, proj_out_dim=64,
        note="a fixed random subset; a narrow ResNet-18 (width 8: 8-16-32-64 channels)",
    ),
    # The same experiments at toy size: checks the code end to end in seconds.
    "smoke": Grid(
        "smoke", _FULL, epochs=1, batch_size=32, width=2, train_limit=64, test_limit=64, warmup_epochs=0.5,
        proj_hidden_dim=32, proj_out_dim=16, probe_epochs=5, knn_k=5, note="toy size: checks the code, says nothing",
    ),
}
