import math
import random

import pytest
import torch

from benchmarks.repro.grid import CLAIMS, GPU_VIEWS_PER_SECOND, GRIDS, MASKS_ONLY, MASKS_ONLY_HP, MSCN, SHARED, STANDARD
from benchmarks.repro.run import build_views, judge, markdown, summarize


def test_keys_are_unique_and_the_smoke_grid_runs_the_gpu_grid() -> None:
    for grid in GRIDS.values():
        keys = [e.key for e in grid.experiments]
        assert len(keys) == len(set(keys)), grid.name
        assert len(grid.seeds) >= 2
    assert GRIDS["smoke"].experiments == GRIDS["gpu"].experiments
    gpu_keys = {e.key for e in GRIDS["gpu"].experiments}
    assert all(c.better in gpu_keys and c.worse in gpu_keys for c in CLAIMS)


def test_gpu_grid_fits_ten_minutes_at_the_measured_rate() -> None:
    grid = GRIDS["gpu"]
    runs = len(grid.experiments) * len(grid.seeds)
    pretrained = sum(e.pretrain for e in grid.experiments) * len(grid.seeds)
    training = pretrained * grid.views_per_run(60_000) / GPU_VIEWS_PER_SECOND
    assert training + runs * 10 <= 600  # about 10 s per run for evaluation and start-up


def test_every_experiment_makes_two_views_of_the_batch() -> None:
    x = torch.randn(4, 1, 32, 32)
    for exp in GRIDS["gpu"].experiments:
        views = build_views(exp)
        out = views(x)
        assert len(out) == 2 and all(v.shape == x.shape for v in out), exp.key
        assert not torch.equal(out[0], out[1]), exp.key


def test_masks_only_zeroes_exactly_the_ratio_of_cells() -> None:
    x = torch.randn(8, 1, 32, 32)
    for view in build_views(MASKS_ONLY)(x):
        zero_fraction = (view == 0).float().mean(dim=(1, 2, 3))
        assert torch.equal(zero_fraction, torch.full((8,), round(0.3 * 64) / 64))


def test_high_pass_is_applied_only_where_the_row_says() -> None:
    flat = torch.full((4, 1, 32, 32), 5.0)  # any crop of a flat image is flat; its high-pass is 0
    assert all(torch.allclose(v, torch.zeros_like(v), atol=1e-5) for v in build_views(MASKS_ONLY_HP)(flat))
    for view in build_views(MASKS_ONLY)(flat):
        kept = (view - 5).abs() < 1e-5
        assert (kept | (view == 0)).all() and kept.float().mean() == pytest.approx(1 - round(0.3 * 64) / 64)
    assert all(v.abs().max() > 1 for v in build_views(STANDARD)(flat))


def test_shared_view_differs_only_where_masked() -> None:
    x = torch.randn(16, 1, 32, 32)
    shared = build_views(SHARED)(x)
    separate = build_views(MSCN)(x)
    same_shared = (shared[0] == shared[1]).float().mean()
    same_separate = (separate[0] == separate[1]).float().mean()
    assert same_shared > 0.5 and same_separate < 0.05


def run(key: str, seed: int, knn: float, linear: float) -> dict:
    return {"key": key, "seed": seed, "knn_top1": knn, "linear_top1": linear}


def test_summary_is_mean_and_sample_std_over_seeds() -> None:
    grid = GRIDS["cpu"]
    rows = summarize(grid, [run("mscn", 0, 0.5, 0.6), run("mscn", 1, 0.7, 0.8), run("standard", 0, 0.4, 0.4)])
    assert [r["key"] for r in rows] == ["standard", "mscn"]  # grid order, only what ran
    mscn = rows[1]
    assert mscn["seeds"] == [0, 1]
    assert mscn["linear_top1"] == pytest.approx(0.7) and mscn["linear_top1_std"] == pytest.approx(math.sqrt(0.02))
    assert rows[0]["knn_top1_std"] is None


@pytest.mark.parametrize(
    "better, worse, verdict",
    [((0.80, 0.81), (0.60, 0.61), "agrees"), ((0.60, 0.61), (0.80, 0.81), "disagrees"),
     ((0.70, 0.80), (0.65, 0.75), "within noise"),
     # t = 3.5 on 2 degrees of freedom (5% needs 4.30): beyond twice the combined spread, not significant
     ((0.80, 0.81), (0.775, 0.785), "within noise")],
)
def test_claims_need_a_difference_beyond_the_seed_spread(better, worse, verdict) -> None:
    runs = [run("masks-only-hp", s, v, v) for s, v in enumerate(better)]
    runs += [run("masks-only", s, v, v) for s, v in enumerate(worse)]
    verdicts = judge(summarize(GRIDS["cpu"], runs), test_size=2000)
    assert [v["claim"] for v in verdicts] == ["the high-pass lifts mask-only training"]
    assert verdicts[0]["verdict"] == verdict
    assert verdicts[0]["difference"] == pytest.approx(sum(better) / 2 - sum(worse) / 2)


def test_identical_rows_of_two_seeds_are_rarely_called_clear() -> None:
    rng = random.Random(0)
    trials, clear = 2000, 0
    for _ in range(trials):
        runs = [run(key, seed, 0.0, 0.8 + 0.01 * rng.gauss(0, 1)) for key in ("mscn", "standard") for seed in (0, 1)]
        verdict = next(v for v in judge(summarize(GRIDS["cpu"], runs), test_size=10**9) if v["worse"] == "standard")
        clear += verdict["verdict"] != "within noise"
    assert clear / trials <= 0.05  # a 5% test; twice the combined spread called 10.6% of these clear


def test_seeds_that_tie_do_not_make_any_difference_clear() -> None:
    runs = [run("mscn", s, 0.0, 0.8851) for s in (0, 1)] + [run("standard", s, 0.0, 0.885) for s in (0, 1)]
    (verdict,) = (v for v in judge(summarize(GRIDS["gpu"], runs), test_size=10_000) if v["worse"] == "standard")
    assert verdict["verdict"] == "within noise" and verdict["noise"] > verdict["difference"] > 0
    runs = [run("mscn", s, 0.0, 0.8900) for s in (0, 1)] + [run("standard", s, 0.0, 0.885) for s in (0, 1)]
    (verdict,) = (v for v in judge(summarize(GRIDS["gpu"], runs), test_size=10_000) if v["worse"] == "standard")
    assert verdict["verdict"] == "agrees" and verdict["df"] == pytest.approx(2)


def test_one_seed_is_within_noise() -> None:
    runs = [run("mscn", 0, 0.0, 0.9), run("standard", 0, 0.0, 0.1)]
    (verdict,) = (v for v in judge(summarize(GRIDS["gpu"], runs), test_size=10_000) if v["worse"] == "standard")
    assert verdict["verdict"] == "within noise" and verdict["noise"] is None


def test_gain_is_measured_against_random_weights_on_the_same_input() -> None:
    runs = [run(key, seed, v, v) for seed in (0, 1) for key, v in
            (("random-init", 0.7), ("random-init-hp", 0.5), ("mscn", 0.6), ("mscn-sigma-1.5", 0.65), ("standard", 0.75))]
    meta = {"grid": "gpu", "device": "d", "torch": "t", "date": "d", "command": "c", "train_size": 1, "test_size": 1,
            "note": "n", "width": 1, "epochs": 1, "batch_size": 1, "seeds": [0, 1], "knn_k": 1, "probe_epochs": 1}
    lines = markdown(meta, summarize(GRIDS["gpu"], runs), []).splitlines()
    row = {line.split(" | ")[1]: line for line in lines if line.startswith("| ") and " | " in line}
    assert row["SimCLR, standard augmentations"].endswith("| +5.0 | 2 |")
    assert row["SimCLR, standard augmentations + MSCN masks"].endswith("| +10.0 | 2 |")
    assert row["MSCN, high-pass sigma 1.5 px"].endswith("|  | 2 |")  # no reference at that sigma
