import json
from pathlib import Path

import pytest

from benchmarks.repro import CLAIMS, GRIDS, main
from benchmarks.repro.plot import main as plot_main


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
