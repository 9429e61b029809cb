import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from benchmarks.repro import CLAIMS, GRIDS, Experiment, Grid, main, run_grid
from benchmarks.repro import run as run_module
from benchmarks.repro.grid import (
    BYOL_ROWS,
    MASKS_ONLY,
    MASKS_ONLY_HP,
    MSCN,
    RANDOM_INIT,
    RANDOM_INIT_HP,
    STANDARD,
)
from benchmarks.repro.plot import RESULTS, figure, section
from benchmarks.repro.plot import main as plot_main
from benchmarks.repro.run import run_settings, shard_plan


def test_smoke_grid_end_to_end_resume_and_plot(tmp_path: Path, fashion_path: Path, capsys) -> None:
    out = tmp_path / "smoke"
    argv = ["--grid", "smoke", "--data", str(fashion_path), "--out", str(out), "--only", "masks-only", "masks-only-hp"]
    report = main(argv)
    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert not saved["meta"]["complete"] and saved["meta"]["train_size"] == 64 and saved["meta"]["test_size"] == 64
    assert sorted((r["key"], r["seed"]) for r in saved["runs"]) == [
        ("masks-only", 0), ("masks-only", 1), ("masks-only-hp", 0), ("masks-only-hp", 1)]
    for row in saved["rows"]:
        for metric in ("knn_top1", "linear_top1"):
            assert 0 <= row[metric] <= 1 and row[f"{metric}_std"] >= 0
    assert [c["claim"] for c in saved["claims"]] == ["the high-pass lifts mask-only training"]
    text = (out / "results.md").read_text()
    assert "| high-pass (masks only) | masks only, high-pass |" in text
    assert f"--out {out}" in text and "ResNet-18 with a small-image stem" in text

    # a second command keeps the finished runs and runs the rest of the grid, references included
    capsys.readouterr()
    main(argv[:-3])
    assert "24 runs to do (4 kept" in capsys.readouterr().out
    saved = json.loads((out / "results.json").read_text())
    assert saved["meta"]["complete"] and len(saved["runs"]) == 28
    assert [r["key"] for r in saved["rows"]] == [e.key for e in GRIDS["smoke"].experiments]
    assert [c["better"] for c in saved["claims"]] == [c.better for c in CLAIMS]
    assert all(r["train_seconds"] == 0 for r in saved["runs"] if r["key"].startswith("random-init"))
    assert all(r["train_seconds"] > 0 for r in saved["runs"] if not r["key"].startswith("random-init"))
    rows = {r["key"]: r for r in saved["rows"]}
    gain = 100 * (rows["masks-only-hp"]["linear_top1"] - rows["random-init-hp"]["linear_top1"])
    assert f"| masks only, high-pass | {pct(rows['masks-only-hp'])} | {gain:+.1f} | 2 |" in (out / "results.md").read_text()
    commands = saved["meta"]["commands"]
    assert len(commands) == 2 and "--only masks-only masks-only-hp" in commands[0] and "--only" not in commands[1]

    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- repro:smoke:start -->\nold\n<!-- repro:smoke:end -->\nend\n")
    plot_main(["--results", str(out / "results.json"), "--assets", str(tmp_path / "assets"), "--page", str(page)])
    new = page.read_text()
    assert (tmp_path / "assets" / "smoke.png").stat().st_size > 0
    assert "old" not in new and new.startswith("intro\n") and new.endswith("end\n")
    assert "](assets/smoke.png)" in new and "| masks only, high-pass |" in new


def pct(row: dict) -> str:
    return (f"{100 * row['knn_top1']:.1f} ± {100 * row['knn_top1_std']:.1f} | "
            f"{100 * row['linear_top1']:.1f} ± {100 * row['linear_top1_std']:.1f}")


def test_missing_data_stops_with_the_path_and_the_expected_files(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="t10k-images-idx3-ubyte.gz") as info:
        main(["--grid", "smoke", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "out")])
    assert str(tmp_path / "absent") in str(info.value)


def test_unknown_experiment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--grid", "smoke", "--only", "nonsense", "--out", str(tmp_path)])


def test_plot_needs_the_page_markers(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    row = {"key": "standard", "label": "standard", "group": "g", "seeds": [0], "knn_top1": 0.5, "knn_top1_std": None,
           "linear_top1": 0.6, "linear_top1_std": None}
    meta = {"grid": "cpu", "train_size": 1, "test_size": 1, "epochs": 1, "width": 1, "seeds": [0], "device": "d",
            "torch": "t", "date": "d", "command": "c", "note": "n", "batch_size": 1, "knn_k": 1, "probe_epochs": 1}
    results.write_text(json.dumps({"meta": meta, "rows": [row], "claims": [], "chance": 0.1}))
    page = tmp_path / "page.md"
    page.write_text("no markers\n")
    with pytest.raises(ValueError, match="repro:cpu:start"):
        plot_main(["--results", str(results), "--assets", str(tmp_path), "--page", str(page)])


def test_shards_merge_into_the_same_runs_as_one_process(tmp_path: Path, fashion_path: Path, capsys) -> None:
    only = ["--only", "masks-only", "masks-only-hp"]
    common = ["--grid", "smoke", "--data", str(fashion_path), *only]
    whole = main([*common, "--out", str(tmp_path / "whole")])
    for i in range(2):
        main([*common, "--shard", f"{i}/2", "--out", str(tmp_path / f"shard{i}")])
    shards = [json.loads((tmp_path / f"shard{i}" / "results.json").read_text()) for i in range(2)]
    assert [[(r["key"], r["seed"]) for r in s["runs"]] for s in shards] == [
        [("masks-only", 0), ("masks-only-hp", 0)], [("masks-only", 1), ("masks-only-hp", 1)]]

    merged = main(["--grid", "smoke", "--out", str(tmp_path / "merged"), "--merge",
                   str(tmp_path / "shard1"), str(tmp_path / "shard0")])
    assert [(r["key"], r["seed"]) for r in merged["runs"]] == [(r["key"], r["seed"]) for r in whole["runs"]]
    metrics = ("knn_top1", "linear_top1", "final_loss")
    assert [[r[m] for m in metrics] for r in merged["runs"]] == [[r[m] for m in metrics] for r in whole["runs"]]
    assert merged["rows"] == whole["rows"] and len(merged["meta"]["commands"]) == 2
    assert json.loads((tmp_path / "merged" / "results.json").read_text()) == json.loads(json.dumps(merged))

    with pytest.raises(SystemExit, match="repeats run masks-only seed 0"):
        main(["--grid", "smoke", "--out", str(tmp_path / "twice"), "--merge",
              str(tmp_path / "shard0"), str(tmp_path / "whole")])
    with pytest.raises(SystemExit, match="grid"):
        main(["--grid", "cpu", "--out", str(tmp_path / "other"), "--merge", str(tmp_path / "shard0")])
    with pytest.raises(SystemExit):
        main([*common, "--shard", "2/2", "--out", str(tmp_path / "bad")])


def test_an_interrupted_shard_resumes_its_own_runs_and_merges_join_earlier_results(
    tmp_path: Path, fashion_path: Path, capsys
) -> None:
    common = ["--grid", "smoke", "--data", str(fashion_path), "--only", "masks-only", "masks-only-hp"]
    main([*common, "--shard", "0/2", "--out", str(tmp_path / "shard0"), "--time-budget", "0"])  # stops after one
    main([*common, "--shard", "1/2", "--out", str(tmp_path / "shard1")])
    resumed = main([*common, "--shard", "0/2", "--out", str(tmp_path / "shard0")])
    assert [(r["key"], r["seed"]) for r in resumed["runs"]] == [("masks-only", 0), ("masks-only-hp", 0)]
    out = tmp_path / "merged"
    merged = main(["--grid", "smoke", "--out", str(out), "--merge", str(tmp_path / "shard0"), str(tmp_path / "shard1")])
    assert len(merged["runs"]) == 4

    # rows run later join the table: the runs already in OUT are kept
    main(["--grid", "smoke", "--data", str(fashion_path), "--only", "standard", "--out", str(tmp_path / "later")])
    joined = main(["--grid", "smoke", "--out", str(out), "--merge", str(tmp_path / "later")])
    assert sorted((r["key"], r["seed"]) for r in joined["runs"]) == sorted(
        [(k, s) for k in ("masks-only", "masks-only-hp", "standard") for s in (0, 1)])
    assert [r["key"] for r in joined["rows"]] == ["standard", "masks-only", "masks-only-hp"]


def test_time_budget_starts_no_run_past_it(tmp_path: Path, fashion_path: Path, capsys) -> None:
    report = main(["--grid", "smoke", "--data", str(fashion_path), "--out", str(tmp_path), "--only", "masks-only",
                   "--time-budget", "0"])
    assert [(r["key"], r["seed"]) for r in report["runs"]] == [("masks-only", 0)]
    assert "time budget of 0 s reached after 1 runs: the other 1 runs" in capsys.readouterr().out
    assert not report["meta"]["complete"]


def _stub_runs(monkeypatch: pytest.MonkeyPatch, data: str = "files") -> None:
    """Make `run_grid` record runs without training or data: what it keeps and re-runs is the same."""
    monkeypatch.setattr(run_module, "fashion_mnist", lambda path, **limits: (list(range(64)), list(range(64))))
    monkeypatch.setattr(run_module, "fingerprint", lambda path: data)

    def run_one(exp: Experiment, grid: Grid, data: object, *, seed: int, runs_dir: Path) -> dict:
        return {"key": exp.key, "seed": seed, "knn_top1": 0.5, "linear_top1": 0.5, "final_loss": None,
                "views_per_s": None, "train_seconds": 0.0, "eval_seconds": 0.0}

    monkeypatch.setattr(run_module, "run_one", run_one)


def test_a_run_is_reused_only_with_the_same_settings(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    _stub_runs(monkeypatch)
    grid = dataclasses.replace(GRIDS["smoke"], experiments=(MSCN,), seeds=(0,))
    out = tmp_path / "out"

    def call(g: Grid, command: str = "c") -> dict:
        return run_grid(g, data_path=tmp_path / "data", out=out, runs_dir=out / "runs", command=command)

    first = call(grid, "first")["runs"][0]
    assert first["settings"] == run_settings(MSCN, grid, "files")
    assert first["settings"]["experiment"]["ratio"] == MSCN.ratio and first["settings"]["grid"]["epochs"] == 1
    assert "ema_base" not in first["settings"]["grid"]  # BYOL's alone
    assert {"device", "torch", "date"} <= set(first)
    capsys.readouterr()
    assert call(grid)["runs"] == [first]
    assert "0 runs to do (1 kept" in capsys.readouterr().out

    # each change on top of the one before
    masked = dataclasses.replace(MSCN, ratio=0.5, fill="constant")
    blurred = dataclasses.replace(masked, sigma=1.5)
    heads = dataclasses.replace(grid, experiments=(blurred,), ema_base=0.9, proj_out_dim=8)
    changes = [
        (dataclasses.replace(grid, experiments=(masked,)), "experiment.fill, experiment.ratio"),
        (dataclasses.replace(grid, experiments=(blurred,)), "experiment.sigma"),
        (heads, "grid.proj_out_dim"),  # not grid.ema_base: SimCLR has no EMA
        (dataclasses.replace(heads, warmup_epochs=0.0), "grid.warmup_epochs"),
    ]
    for changed, differing in changes:
        report = call(changed)
        assert f"mscn seed 0 ({differing} differ)" in capsys.readouterr().out
        assert len(report["runs"]) == 1
        assert report["runs"][0]["settings"] == run_settings(changed.experiments[0], changed, "files")
    # other files under the same path: the data's fingerprint differs
    monkeypatch.setattr(run_module, "fingerprint", lambda path: "other files")
    report = call(changed)
    assert "mscn seed 0 (data differ)" in capsys.readouterr().out and report["runs"][0]["settings"]["data"] == "other files"
    # a label says nothing about what a run computes, nor BYOL's EMA about a SimCLR run
    call(dataclasses.replace(changed, ema_base=0.5,
                             experiments=(dataclasses.replace(changed.experiments[0], label="renamed"),)))
    assert "0 runs to do (1 kept" in capsys.readouterr().out


BYOL_STANDARD, BYOL_MSCN = BYOL_ROWS


@pytest.mark.parametrize(("exp", "exp_change", "grid_change", "stale"), [
    # BYOL's EMA: only BYOL rows
    (STANDARD, {}, {"ema_base": 0.5}, False),
    (MSCN, {}, {"ema_base": 0.5}, False),
    (RANDOM_INIT, {}, {"ema_base": 0.5}, False),
    (BYOL_STANDARD, {}, {"ema_base": 0.5}, True),
    (BYOL_MSCN, {}, {"ema_base": 0.5}, True),
    # the masks' settings: only rows with masks
    (STANDARD, {"ratio": 0.5}, {}, False),
    (STANDARD, {"cell": 8, "focal_prob": 0.0, "fill": "constant", "share_view": True}, {}, False),
    (BYOL_STANDARD, {"ratio": 0.5}, {}, False),
    (RANDOM_INIT_HP, {"ratio": 0.5, "cell": 8}, {}, False),
    (MSCN, {"ratio": 0.5}, {}, True),
    (MSCN, {"cell": 8}, {}, True),
    (MSCN, {"focal_prob": 0.0}, {}, True),
    (MASKS_ONLY, {"fill": "noise"}, {}, True),
    (MASKS_ONLY, {"share_view": False}, {}, True),
    (STANDARD, {"masks": True}, {}, True),
    # the high-pass sigma: only rows with the high-pass (training or evaluation)
    (STANDARD, {"sigma": 1.5}, {}, False),
    (MASKS_ONLY, {"sigma": 1.5}, {}, False),
    (RANDOM_INIT, {"sigma": 1.5}, {}, False),
    (MSCN, {"sigma": 1.5}, {}, True),
    (MASKS_ONLY_HP, {"sigma": 1.5}, {}, True),
    (RANDOM_INIT_HP, {"sigma": 1.5}, {}, True),
    (MASKS_ONLY, {"highpass": True}, {}, True),
    # pre-training's settings: only rows that pre-train
    (RANDOM_INIT, {"augment": "crop", "method": "byol"}, {}, False),
    (RANDOM_INIT, {}, {"epochs": 2, "batch_size": 16, "warmup_epochs": 0.0, "proj_hidden_dim": 8,
                       "proj_out_dim": 8}, False),
    (STANDARD, {"augment": "crop"}, {}, True),
    (STANDARD, {"method": "byol"}, {}, True),
    (STANDARD, {}, {"epochs": 2}, True),
    (STANDARD, {}, {"proj_hidden_dim": 8}, True),
    (RANDOM_INIT, {"pretrain": True}, {}, True),
    # evaluation and data: every row
    (RANDOM_INIT, {}, {"width": 4}, True),
    (RANDOM_INIT, {}, {"knn_k": 3}, True),
    (RANDOM_INIT, {}, {"probe_epochs": 3}, True),
    (RANDOM_INIT, {}, {"train_limit": 32}, True),
    (STANDARD, {}, {"test_limit": 32}, True),
])
def test_a_run_is_stale_only_when_a_setting_it_uses_changes(
    exp: Experiment, exp_change: dict, grid_change: dict, stale: bool
) -> None:
    grid = dataclasses.replace(GRIDS["smoke"], experiments=(exp,))
    run = {"key": exp.key, "seed": 0, "settings": run_settings(exp, grid, "abc")}
    changed = dataclasses.replace(grid, experiments=(dataclasses.replace(exp, **exp_change),), **grid_change)
    kept, dropped = run_module._check_runs([run], changed, data="abc", keep_old=False, where="x")
    assert (bool(dropped), len(kept)) == (stale, 0 if stale else 1)


def test_a_changed_size_keeps_the_stored_runs_that_do_not_use_it(tmp_path: Path, capsys) -> None:
    # epochs is pre-training's: a random-init run stored with its settings survives a change of it,
    # one stored without them (whose settings are unknown) does not
    grid = dataclasses.replace(GRIDS["smoke"], experiments=(RANDOM_INIT,))
    meta = {k: getattr(grid, k, None) for k in run_module.OLD_RUN_SIZES} | {"grid": grid.name, "train_size": 8,
                                                                          "test_size": 4, "command": "c"}
    stored = {"key": RANDOM_INIT.key, "seed": 0, "settings": run_settings(RANDOM_INIT, grid, "abc")}
    old = {"key": RANDOM_INIT.key, "seed": 1}
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"meta": meta, "runs": [stored, old]}))
    longer = dataclasses.replace(grid, epochs=grid.epochs + 1)
    runs, _, _ = run_module._earlier_runs(path, meta | {"epochs": longer.epochs})
    assert runs == [stored] and "1 runs recorded without their settings were made at other sizes (epochs differ)" in \
        capsys.readouterr().out
    assert run_module._check_runs(runs, longer, data="abc", keep_old=False, where="x") == ([stored], [])


def test_runs_without_their_settings_are_reused_only_when_asked(tmp_path: Path, fashion_path: Path, capsys) -> None:
    out = tmp_path / "out"
    argv = ["--grid", "smoke", "--data", str(fashion_path), "--out", str(out), "--only", "masks-only"]
    main(argv)
    saved = json.loads((out / "results.json").read_text())
    for run in saved["runs"]:  # as written before runs stored their settings
        del run["settings"], run["device"], run["torch"], run["date"]
    (out / "results.json").write_text(json.dumps(saved))
    with pytest.raises(SystemExit, match="2 runs recorded without their settings.*--keep-old"):
        main(argv)
    with pytest.raises(SystemExit, match="--keep-old"):
        main(["--grid", "smoke", "--out", str(tmp_path / "merged"), "--merge", str(out)])
    capsys.readouterr()
    report = main([*argv, "--keep-old"])
    text = capsys.readouterr().out
    assert "2 runs recorded without their settings are kept, checked on the sizes alone" in text
    assert "0 runs to do (2 kept" in text
    provenance = {k: saved["meta"][k] for k in run_module.PROVENANCE}  # the file's, where a run records none
    assert report["runs"] == [{**provenance, **run} for run in saved["runs"]]
    assert len(main(["--grid", "smoke", "--out", str(tmp_path / "merged"), "--merge", str(out), "--keep-old"])["runs"]) == 2


def test_shards_are_cut_from_the_whole_grid_before_only() -> None:
    grid = GRIDS["gpu"]
    keys = [e.key for e in grid.experiments]
    for n in (2, 3, 4, 5):
        whole = [shard_plan(grid, (i, n)) for i in range(n)]
        assert sorted((e.key, s) for plan in whole for s, e in plan) == sorted((k, s) for k in keys for s in grid.seeds)
        for only in (keys[-2:], keys[4:6], keys[::3], ["mscn"]):
            for i in range(n):
                assert shard_plan(grid, (i, n), only) == [(s, e) for s, e in whole[i] if e.key in only]


def test_shards_called_with_other_only_sets_merge_without_repeats(tmp_path: Path, fashion_path: Path) -> None:
    common = ["--grid", "smoke", "--data", str(fashion_path)]
    for only in (["masks-only-hp"], ["masks-only", "masks-only-hp"]):
        for i in range(3):
            main([*common, "--only", *only, "--shard", f"{i}/3", "--out", str(tmp_path / f"shard{i}")])
    sources = [str(tmp_path / f"shard{i}") for i in range(3)]
    merged = main(["--grid", "smoke", "--out", str(tmp_path / "merged"), "--merge", *sources])
    assert sorted((r["key"], r["seed"]) for r in merged["runs"]) == [
        ("masks-only", 0), ("masks-only", 1), ("masks-only-hp", 0), ("masks-only-hp", 1)]


def test_a_call_that_runs_nothing_leaves_the_provenance(
    tmp_path: Path, fashion_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["--grid", "smoke", "--data", str(fashion_path), "--out", str(tmp_path), "--only", "masks-only"]
    first = main(argv)
    assert all(r["device"] == first["meta"]["device"] and r["torch"] == torch.__version__ for r in first["runs"])
    monkeypatch.setattr(run_module, "device_name", lambda: "Elsewhere GPU")
    again = main([*argv, "--seeds", "0", "1"])  # nothing left to run
    assert again["meta"] == first["meta"] and "Elsewhere" not in (tmp_path / "results.md").read_text()
    later = main([*argv[:-1], "masks-only-hp"])
    assert later["meta"]["device"] == "Elsewhere GPU" and len(later["meta"]["commands"]) == 2
    assert [r["device"] == "Elsewhere GPU" for r in later["runs"]] == [False, False, True, True]
    text = (tmp_path / "results.md").read_text()
    assert f"- device: {first['meta']['device']}; torch {torch.__version__}; " in text and "(2 runs)" in text
    assert "- device: Elsewhere GPU; torch" in text
    assert f"({first['meta']['device']} + Elsewhere GPU)" in figure(later).axes[0].get_title()


def synthetic(grid: Grid, runs: list[tuple[Experiment, int]], *, data: str = "abc", **meta: object) -> dict:
    """A results.json of ``grid`` holding ``runs`` made with ``grid``'s settings on ``data``."""
    return {"meta": {"grid": grid.name, "command": "c", "commands": ["c"], "device": "d", "torch": "t",
                     "date": "2026-01-01 00:00 UTC", "train_size": 64, "test_size": 64, "epochs": grid.epochs,
                     "batch_size": grid.batch_size, "width": grid.width, "knn_k": grid.knn_k,
                     "probe_epochs": grid.probe_epochs, "note": "", "sigma": 0.7, **meta},
            "runs": [{"key": e.key, "seed": s, "knn_top1": 0.5, "linear_top1": 0.5 + 0.01 * s,
                      "settings": run_settings(e, grid, data), "device": "d", "torch": "t",
                      "date": "2026-01-01 00:00 UTC"} for e, s in runs]}


def test_merge_takes_only_runs_of_the_grids_settings_and_one_data_set(tmp_path: Path, capsys) -> None:
    grid = GRIDS["smoke"]
    changed = dataclasses.replace(grid, ema_base=0.5)
    byol = BYOL_ROWS[0]

    def folder(name: str, report: dict) -> str:
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(report))
        return str(tmp_path / name)

    good = folder("good", synthetic(grid, [(MSCN, 0), (MSCN, 1)], date="2026-01-02 00:00 UTC", device="new"))
    stale = folder("stale", synthetic(changed, [(STANDARD, 0), (byol, 0)]))
    other_data = folder("other", synthetic(grid, [(STANDARD, 0)], data="xyz"))
    with pytest.raises(SystemExit, match=r"runs made otherwise than grid smoke says: byol-standard seed 0 \(grid.ema_base differ\)$"):
        main(["--grid", "smoke", "--out", str(tmp_path / "m"), "--merge", good, stale])
    with pytest.raises(SystemExit, match="different data"):
        main(["--grid", "smoke", "--out", str(tmp_path / "m"), "--merge", good, other_data])
    # runs already in OUT made otherwise are dropped, the others kept; the newest file's provenance
    out = tmp_path / "out"
    folder("out", synthetic(grid, [(STANDARD, 0), (MASKS_ONLY, 0)]))
    report = json.loads((out / "results.json").read_text())
    report["runs"][1]["settings"]["experiment"]["ratio"] = 0.9
    (out / "results.json").write_text(json.dumps(report))
    empty = folder("empty", {**synthetic(grid, [], date="2026-02-01 00:00 UTC", device="idle"), "runs": []})
    merged = main(["--grid", "smoke", "--out", str(out), "--merge", good, empty])
    assert "masks-only seed 0 (experiment.ratio differ)" in capsys.readouterr().out
    assert [(r["key"], r["seed"]) for r in merged["runs"]] == [("standard", 0), ("mscn", 0), ("mscn", 1)]
    assert merged["meta"]["device"] == "new" and merged["meta"]["date"] == "2026-01-02 00:00 UTC"


def test_merged_runs_recorded_without_provenance_keep_their_file_s(tmp_path: Path) -> None:
    # runs of older files carry no device, torch or date: they keep their own file's, not the newest's
    grid = GRIDS["smoke"]

    def folder(name: str, report: dict) -> str:
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(report))
        return str(tmp_path / name)

    old = synthetic(grid, [(STANDARD, 0), (STANDARD, 1)], device="old GPU", torch="1.0")
    for run in old["runs"]:
        del run["settings"], run["device"], run["torch"], run["date"]
    where = {"device": "new GPU", "torch": "9.9", "date": "2027-01-01 00:00 UTC"}
    report = synthetic(grid, [(MSCN, 0)], **where)
    report["runs"][0].update(where)
    new = folder("new", report)
    out = tmp_path / "out"
    folder("out", old)
    merged = main(["--grid", "smoke", "--out", str(out), "--merge", new, "--keep-old"])
    assert [r["device"] for r in merged["runs"]] == ["old GPU", "old GPU", "new GPU"]
    text = (out / "results.md").read_text()
    assert "- device: old GPU; torch 1.0; 2026-01-01 00:00 UTC (2 runs)" in text
    assert "- device: new GPU; torch 9.9; 2027-01-01 00:00 UTC (1 runs)" in text
    # an older source is checked on the grid's sizes, whichever source comes first
    longer = synthetic(grid, [(STANDARD, 0)], epochs=grid.epochs + 98)
    del longer["runs"][0]["settings"]
    with pytest.raises(SystemExit, match=r"epochs differ from grid smoke's"):
        main(["--grid", "smoke", "--out", str(tmp_path / "m"), "--merge", folder("longer", longer), new, "--keep-old"])


@pytest.mark.parametrize("grid", ["cpu", "gpu"])
def test_committed_results_are_what_the_current_code_derives_from_their_runs(tmp_path: Path, grid: str) -> None:
    """Merging a results folder into itself recomputes its rows, verdicts and markdown."""
    committed = RESULTS / grid
    copy = tmp_path / grid
    shutil.copytree(committed, copy)
    report = main(["--grid", grid, "--out", str(copy), "--merge", str(copy), "--keep-old"])
    assert report == json.loads((committed / "results.json").read_text())
    assert (copy / "results.md").read_text() == (committed / "results.md").read_text()
    page = (Path(__file__).resolve().parents[2] / "docs" / "reproduction.md").read_text()
    assert section(report, f"assets/repro/{grid}.png") in page
