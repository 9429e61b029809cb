"""Run a grid of experiments: pre-train, evaluate with kNN and a linear probe, write the tables."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from maskaug import HighPass, MultiView, mscn_views
from maskaug.siamese import TrainConfig, extract_features, knn_accuracy, linear_probe, pretrain

from .augment import GrayAugment
from .data import CLASSES, ENV_VAR, FashionMNISTError, default_path, fashion_mnist, fingerprint
from .grid import CELL, CLAIMS, GPU_VIEWS_PER_SECOND, GRIDS, SIGMA, Experiment, Grid
from .model import ResNet18
from .stats import welch

CHANCE = 1 / CLASSES


def training_device() -> torch.device:
    """Where `maskaug.siamese.pretrain` trains in a single process: the GPU when there is one."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_views(exp: Experiment, device: torch.device | str = "cpu") -> MultiView:
    """The two views of ``exp``, made on the device from a batch: augmentation, high-pass, masks.

    The views' generators live on ``device`` (the batches'), so no random draw crosses to the host.
    """
    if exp.augment == "standard":
        augment = GrayAugment(generator=torch.Generator(device))
    else:  # the paper's mask-only setting: a random resized crop and nothing else
        augment = GrayAugment(flip=0.0, jitter=0.0, generator=torch.Generator(device))
    if not exp.masks:
        return MultiView([augment, augment])
    return mscn_views(
        augment,
        ratios=(exp.ratio, exp.ratio),
        share_augment=exp.share_view,
        generator=torch.Generator(device),
        layout="b c h w",
        cell=exp.cell,
        focal_prob=exp.focal_prob,
        fill=exp.fill,
        highpass_sigma=exp.sigma if exp.highpass else None,
    )


def run_one(exp: Experiment, grid: Grid, data: tuple[Any, Any], *, seed: int, runs_dir: Path) -> dict[str, Any]:
    """Pre-train one model on ``data[0]`` (unless ``exp.pretrain`` is off) and evaluate it on
    ``data[1]`` (the test split).

    The backbone sees high-passed input in evaluation when it was trained with it.
    """
    train, test = data
    torch.manual_seed(seed)
    device = training_device()
    backbone = ResNet18(width=grid.width).to(device)
    eval_transform = HighPass(exp.sigma) if exp.highpass else None
    if exp.pretrain:
        trained = _pretrain(exp, grid, backbone, train, seed=seed, runs_dir=runs_dir, eval_transform=eval_transform)
    else:
        trained = {"final_loss": None, "views_per_s": None, "train_seconds": 0.0}
    eval_start = time.perf_counter()
    train_f = extract_features(backbone, train, device=device, transform=eval_transform)
    test_f = extract_features(backbone, test, device=device, transform=eval_transform)
    knn = knn_accuracy(*(t.to(device) for t in (*train_f, *test_f)), k=grid.knn_k)
    probe = linear_probe(*train_f, *test_f, epochs=grid.probe_epochs, batch_size=256, lr=0.1, seed=seed,
                         device=device)
    return {
        "key": exp.key,
        "seed": seed,
        "knn_top1": knn,
        "linear_top1": probe.test_top1,
        **trained,
        "eval_seconds": time.perf_counter() - eval_start,
    }


def _pretrain(
    exp: Experiment, grid: Grid, backbone: ResNet18, train: Any, *, seed: int, runs_dir: Path, eval_transform: Any
) -> dict[str, Any]:
    """Pre-train ``backbone`` in place with ``exp``'s views and method; returns the training figures."""
    config = TrainConfig(
        method=exp.method,
        feature_dim=backbone.feature_dim,
        global_batch_size=grid.batch_size,
        epochs=grid.epochs,
        warmup_epochs=min(grid.warmup_epochs, grid.epochs),
        proj_hidden_dim=grid.proj_hidden_dim,
        proj_out_dim=grid.proj_out_dim,
        pred_hidden_dim=grid.proj_hidden_dim,
        ema_base=grid.ema_base,
        seed=seed,
        out_dir=str(runs_dir / exp.key / f"seed{seed}"),
        resume=False,
        knn_every_epochs=0,
        checkpoint_every_epochs=grid.epochs,  # one checkpoint, at the end: the runs are minutes long
        log_every_steps=20,
    )
    views = build_views(exp, training_device())
    result = pretrain(config, backbone, train, batch_views=views, eval_transform=eval_transform)
    return {"final_loss": result.final_loss, "views_per_s": result.views_per_second, "train_seconds": result.seconds}


def summarize(grid: Grid, runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and sample standard deviation over seeds (None for one seed), per experiment, in the grid's order."""
    rows = []
    for exp in grid.experiments:
        done = [r for r in runs if r["key"] == exp.key]
        if not done:
            continue
        row: dict[str, Any] = {"key": exp.key, "label": exp.label, "group": exp.group, "highpass": exp.highpass,
                               "sigma": exp.sigma, "pretrain": exp.pretrain, "seeds": [r["seed"] for r in done]}
        for metric in ("knn_top1", "linear_top1"):
            values = [r[metric] for r in done]
            row[metric] = statistics.fmean(values)
            row[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else None
        rows.append(row)
    return rows


def judge(rows: Sequence[dict[str, Any]], metric: str = "linear_top1", *, test_size: int) -> list[dict[str, Any]]:
    """Each paper claim whose two rows ran: the difference of means and whether it is clear.

    A difference is clear when Welch's t-test over the seeds finds it at the two-sided 5% level
    (`benchmarks.repro.stats.welch`, with its fractional degrees of freedom); ``noise`` is the
    half-width of the difference's 95% interval. Each row's standard error counts as at least one
    test image's worth of accuracy (``1 / test_size``), so seeds that tie exactly do not make a
    difference infinitely clear (a floor far below the test set's sampling error, which the
    verdicts do not count). A row with one seed has no spread: its claims are within noise.
    """
    by_key = {r["key"]: r for r in rows}
    verdicts = []
    for claim in CLAIMS:
        if claim.better not in by_key or claim.worse not in by_key:
            continue
        a, b = by_key[claim.better], by_key[claim.worse]
        diff = a[metric] - b[metric]
        test = None
        if a[f"{metric}_std"] is not None and b[f"{metric}_std"] is not None:
            test = welch(a[metric], a[f"{metric}_std"], len(a["seeds"]), b[metric], b[f"{metric}_std"],
                         len(b["seeds"]), floor=1 / test_size)
        if test is None or not test.clear:
            verdict = "within noise"
        else:
            verdict = "agrees" if diff > 0 else "disagrees"
        verdicts.append({"claim": claim.text, "paper": claim.paper, "better": claim.better, "worse": claim.worse,
                         "difference": diff, "noise": None if test is None else test.half_width,
                         "t": None if test is None else test.t, "df": None if test is None else test.df,
                         "verdict": verdict})
    return verdicts


def _pct(mean: float, std: float | None) -> str:
    return f"{100 * mean:.1f}" if std is None else f"{100 * mean:.1f} ± {100 * std:.1f}"


def _input(row: dict[str, Any]) -> float | None:
    """What the backbone sees: the high-pass sigma, or None for raw pixels."""
    return row.get("sigma", SIGMA) if row.get("highpass") else None


def _provenance_lines(meta: dict[str, Any], runs: Sequence[dict[str, Any]]) -> list[str]:
    """Where and when the runs ran: one line per device and torch version, with its dates.

    A run recorded without them (older results) counts as the file's: ``meta``'s device, torch, date.
    """
    if not runs:
        return [f"- device: {meta['device']}; torch {meta['torch']}; {meta['date']}"]
    groups: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        where = (run.get("device", meta["device"]), run.get("torch", meta["torch"]))
        groups.setdefault(where, []).append(run.get("date", meta["date"]))
    lines = []
    for (device, version), dates in groups.items():
        first, last = min(dates), max(dates)
        when = first if first == last else f"{first} to {last}"
        count = "" if len(groups) == 1 else f" ({len(dates)} runs)"
        lines.append(f"- device: {device}; torch {version}; {when}{count}")
    return lines


def markdown(
    meta: dict[str, Any], rows: Sequence[dict[str, Any]], verdicts: Sequence[dict[str, Any]],
    runs: Sequence[dict[str, Any]] = (),
) -> str:
    """The results as markdown: set-up (where ``runs`` ran), the table (mean ± std over seeds), the claims."""
    lines = [
        f"# Reproduction grid `{meta['grid']}` on Fashion-MNIST",
        "",
        *_provenance_lines(meta, runs),
        *(f"- command: `{c}`" for c in meta.get("commands", [meta["command"]])),
        f"- data: {meta['train_size']} training images, {meta['test_size']} test images ({meta['note']})",
        f"- backbone: ResNet-18 with a small-image stem (3x3 convolution, no max-pool), width {meta['width']} "
        f"({8 * meta['width']} features); 28x28 images upscaled to 32x32, one channel",
        f"- pre-training: {meta['epochs']} epochs, batch {meta['batch_size']}, 2 views, LARS with the paper's "
        f"base LR scaled to the batch; seeds {', '.join(map(str, meta['seeds']))}",
        f"- masks: cells of {CELL} px and high-pass sigma {SIGMA:.2f} px (the paper's 32 px and 5 px at 224 px, "
        "scaled to 32 px) unless the row says otherwise; focal probability 0.4, noise fill",
        f"- evaluation on the test images: weighted kNN (k={meta['knn_k']}) and a linear probe "
        f"({meta['probe_epochs']} epochs) on frozen features; high-passed input where training used it; "
        f"chance is {100 * CHANCE:.0f}%",
        "",
        "| claim | experiment | kNN top-1 (%) | linear top-1 (%) | linear gain over random weights | seeds |",
        "|---|---|---:|---:|---:|---:|",
    ]
    # what pre-training added to the randomly initialised network on the same input
    references = {_input(r): r for r in rows if not r.get("pretrain", True)}
    for r in rows:
        reference = references.get(_input(r))
        gain = "" if reference is None or reference is r else f"{100 * (r['linear_top1'] - reference['linear_top1']):+.1f}"
        lines.append(
            f"| {r['group']} | {r['label']} | {_pct(r['knn_top1'], r['knn_top1_std'])} | "
            f"{_pct(r['linear_top1'], r['linear_top1_std'])} | {gain} | {len(r['seeds'])} |"
        )
    if verdicts:
        lines += ["", "Mean ± sample standard deviation over seeds. The paper's claims, on linear top-1 "
                  "(clear: Welch's t-test over the seeds at the two-sided 5% level; noise: the half-width of "
                  "the difference's 95% interval):", "",
                  "| claim | paper (ImageNet) | here (points) | verdict |", "|---|---|---:|---|"]
        for v in verdicts:
            noise = "one seed" if v["noise"] is None else f"noise {100 * v['noise']:.1f}"
            lines.append(f"| {v['claim']} | {v['paper']} | {100 * v['difference']:+.1f} ({noise}) | {v['verdict']} |")
    return "\n".join(lines) + "\n"


def device_name() -> str:
    """The accelerator's name, or the CPU model with its core count."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"CPU: {model}, {torch.get_num_threads()} threads"


#: The sizes that must match for the runs of an earlier ``results.json`` to be considered at all.
SAME_RUN = ("grid", "train_size", "test_size")
#: The sizes that runs recorded without their settings are checked on besides (a run with its
#: settings is checked on every setting it uses, `run_settings`).
OLD_RUN_SIZES = ("epochs", "batch_size", "width", "knn_k", "probe_epochs")


class StaleRunsError(ValueError):
    """Stored runs whose settings are unknown (recorded without them) and not to be reused."""


#: Fields that name or gather experiments without changing what a run computes.
_NOT_SETTINGS = frozenset({"key", "label", "group", "name", "experiments", "seeds", "note"})


#: Experiment fields that only the masks use (`build_views` ignores them without ``masks``).
_MASK_FIELDS = frozenset({"share_view", "ratio", "cell", "focal_prob", "fill"})
#: Experiment fields that only pre-training uses: the views and the method.
_PRETRAIN_FIELDS = frozenset({"augment", "masks", "method"}) | _MASK_FIELDS
#: Grid fields that only pre-training uses (`_pretrain`'s `TrainConfig`); ``ema_base`` only BYOL's.
_PRETRAIN_GRID_FIELDS = frozenset(
    {"epochs", "batch_size", "warmup_epochs", "proj_hidden_dim", "proj_out_dim", "ema_base"})
_BYOL_GRID_FIELDS = frozenset({"ema_base"})


def _unused_fields(exp: Experiment) -> tuple[frozenset[str], frozenset[str]]:
    """The experiment fields and grid fields that cannot change a run of ``exp`` (see `run_one`):
    those of pre-training when it does not pre-train, the masks' when it has none, the high-pass
    sigma without the high-pass, BYOL's EMA for another method. Any other field counts."""
    exp_unused: set[str] = set()
    grid_unused: set[str] = set()
    if not exp.pretrain:
        exp_unused |= _PRETRAIN_FIELDS
        grid_unused |= _PRETRAIN_GRID_FIELDS
    elif not exp.masks:
        exp_unused |= _MASK_FIELDS
    if not exp.highpass:
        exp_unused.add("sigma")
    if exp.method != "byol":
        grid_unused |= _BYOL_GRID_FIELDS
    return frozenset(exp_unused), frozenset(grid_unused)


def run_settings(exp: Experiment, grid: Grid, data: str | None = None) -> dict[str, Any]:
    """What decides the outcome of a run of ``exp`` in ``grid`` (besides its seed), as stored in
    its record: the fields of the experiment and of the grid that the run uses (not names, labels,
    the list of experiments or the seeds; not the fields `_unused_fields` names, such as the masks'
    of a row without masks or BYOL's EMA of a SimCLR row), and ``data``, the `fingerprint` of the
    Fashion-MNIST files.

    A stored run is reused only where these match (`_differing`).
    """
    exp_unused, grid_unused = _unused_fields(exp)
    settings: dict[str, Any] = {
        "experiment": {f.name: getattr(exp, f.name) for f in dataclasses.fields(exp)
                       if f.name not in _NOT_SETTINGS | exp_unused},
        "grid": {f.name: getattr(grid, f.name) for f in dataclasses.fields(grid)
                 if f.name not in _NOT_SETTINGS | grid_unused},
    }
    if data is not None:
        settings["data"] = data
    return json.loads(json.dumps(settings))  # as it reads back from results.json


def _differing(stored: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """The settings (``experiment.ratio``, ``grid.ema_base``, ``data``) in which ``stored`` and
    ``expected`` differ, one holding a field the other lacks included; ``data`` is compared only
    when both have it (a merge does not know the data)."""
    names = []
    for part in sorted(set(stored) | set(expected)):
        if part not in stored or part not in expected:
            if part != "data":
                names.append(part)
        elif isinstance(stored[part], dict) and isinstance(expected[part], dict):
            a, b = stored[part], expected[part]
            names += [f"{part}.{k}" for k in sorted(a.keys() | b.keys()) if k not in a or k not in b or a[k] != b[k]]
        elif stored[part] != expected[part]:
            names.append(part)
    return names


def _check_runs(
    runs: Sequence[dict[str, Any]], grid: Grid, *, data: str | None, keep_old: bool, where: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """``runs`` split into those made with ``grid``'s settings (on ``data``; None: any data) and
    descriptions of the others (experiments the grid does not have, or other settings).

    A run recorded without its settings (written before runs stored them) is kept with ``keep_old``,
    as checked on the sizes of `SAME_RUN` and `OLD_RUN_SIZES` alone, and said so; without
    ``keep_old`` it is refused.

    Raises:
        StaleRunsError: ``runs`` holds runs without their settings and ``keep_old`` is off.
    """
    old = [r for r in runs if "settings" not in r]
    if old and not keep_old:
        raise StaleRunsError(
            f"{where} holds {len(old)} runs recorded without their settings (written before runs stored them), "
            "so whether they match the grid's experiments is unknown: pass --keep-old to reuse them as checked on "
            "the sizes alone, or run them again (--fresh; for a merge, remove them)")
    if old:
        print(f"{where}: {len(old)} runs recorded without their settings are kept, checked on the sizes alone "
              "(--keep-old)", flush=True)
    experiments = {e.key: e for e in grid.experiments}
    kept, stale = [], []
    for run in runs:
        if run["key"] not in experiments:
            stale.append(f"{run['key']} seed {run['seed']} (not an experiment of grid {grid.name})")
            continue
        if "settings" in run:
            differing = _differing(run["settings"], run_settings(experiments[run["key"]], grid, data))
            if differing:
                stale.append(f"{run['key']} seed {run['seed']} ({', '.join(differing)} differ)")
                continue
        kept.append(run)
    return kept, stale


def _earlier_runs(path: Path, meta: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], dict[str, Any] | None]:
    """The runs, commands and meta of an earlier ``results.json`` of the same grid at the same sizes."""
    if not path.is_file():
        return [], [], None
    earlier = json.loads(path.read_text())
    differing = [k for k in SAME_RUN if earlier["meta"].get(k) != meta[k]]
    if differing:
        print(f"{path} was written at other sizes ({', '.join(differing)} differ): starting afresh", flush=True)
        return [], [], None
    runs = _stamped(earlier["runs"], earlier["meta"])
    other = [k for k in OLD_RUN_SIZES if earlier["meta"].get(k) != meta[k]]
    old = [r for r in runs if "settings" not in r]
    if other and old:  # the others are checked on their own settings
        print(f"{path}: {len(old)} runs recorded without their settings were made at other sizes "
              f"({', '.join(other)} differ): dropped", flush=True)
        runs = [r for r in runs if "settings" in r]
    return runs, earlier["meta"].get("commands", [earlier["meta"]["command"]]), earlier["meta"]


#: Where and when a run ran: stored in each run, and in the meta as of the latest run written.
PROVENANCE = ("device", "torch", "date")


def _stamped(runs: list[dict[str, Any]], meta: dict[str, Any]) -> list[dict[str, Any]]:
    """``runs`` read from a file whose meta is ``meta``: those recorded without their device, torch
    and date (older files) get the file's, before runs of other files join them."""
    return [{**{k: meta[k] for k in PROVENANCE if k in meta}, **run} for run in runs]


def _here_and_now() -> dict[str, str]:
    return {"device": device_name(), "torch": torch.__version__,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def shard_plan(
    grid: Grid, shard: tuple[int, int] = (0, 1), only: Sequence[str] | None = None
) -> list[tuple[int, Experiment]]:
    """The ``(seed, experiment)`` runs of shard ``shard=(i, n)``: every n-th run of the whole grid
    from the i-th, in the grid's order (every seed of an experiment before the next), then those of
    ``only``. The shards are cut before ``only``, so a run belongs to the same shard whatever
    ``only`` says: a resumed shard takes up its own runs, and shards called with other ``only``
    sets never run the same run.
    """
    plan = [(seed, exp) for exp in grid.experiments for seed in grid.seeds][shard[0] :: shard[1]]
    return [(seed, exp) for seed, exp in plan if only is None or exp.key in only]


def run_grid(
    grid: Grid,
    *,
    data_path: Path,
    out: Path,
    runs_dir: Path,
    command: str,
    only: Sequence[str] | None = None,
    fresh: bool = False,
    shard: tuple[int, int] = (0, 1),
    time_budget: float | None = None,
    keep_old: bool = False,
) -> dict[str, Any]:
    """Every experiment of ``grid`` (or those named in ``only``) for every seed of the grid.

    ``out/results.json`` and ``results.md`` are rewritten after each run, so an interrupted grid
    keeps its finished runs; unless ``fresh``, runs already in ``out/results.json`` (same grid,
    same sizes, and the same `run_settings` on the same data) are kept and not run again, so a grid
    resumes, and rows or seeds run later join the table. A kept run made with other settings is
    dropped and, if planned, run again. Runs stored without their settings (older files) are reused
    only with ``keep_old``.

    Runs go in the grid's order, every seed of an experiment before the next experiment, so a
    budget that runs out drops the last rows (the grid lists them by importance). ``shard=(i, n)``
    takes every n-th run of the whole grid from the i-th, then those of ``only``, so n processes
    with their own ``out`` share a grid (see `merge`) and never share a run whatever ``only`` they
    are given; ``time_budget`` (seconds) starts no run that would end past it at the mean pace so far.

    Raises:
        StaleRunsError: ``out/results.json`` holds runs without their settings and ``keep_old`` is off.
    """
    data = fashion_mnist(data_path, train_limit=grid.train_limit, test_limit=grid.test_limit)
    data_id = fingerprint(data_path)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "grid": grid.name, "command": command, **_here_and_now(),
        "train_size": len(data[0]), "test_size": len(data[1]), "epochs": grid.epochs, "batch_size": grid.batch_size,
        "width": grid.width, "knn_k": grid.knn_k, "probe_epochs": grid.probe_epochs,
        "note": grid.note, "sigma": SIGMA,
    }
    runs, commands, earlier = ([], [], None) if fresh else _earlier_runs(out / "results.json", meta)
    if earlier is not None:  # until a run finishes, the file's command and provenance stand
        meta.update({k: earlier[k] for k in ("command", *PROVENANCE) if k in earlier})
    meta["commands"] = commands
    runs, stale = _check_runs(runs, grid, data=data_id, keep_old=keep_old, where=str(out / "results.json"))
    if stale:
        print(f"{len(stale)} runs of {out / 'results.json'} are dropped (run again where planned): "
              f"{'; '.join(stale)}", flush=True)
    done = {(r["key"], r["seed"]) for r in runs}
    plan = [(seed, exp) for seed, exp in shard_plan(grid, shard, only) if (exp.key, seed) not in done]
    views = sum(grid.views_per_run(len(data[0])) for _, exp in plan if exp.pretrain)
    print(f"grid {grid.name}: {len(plan)} runs to do ({len(runs)} kept from {out / 'results.json'}), "
          f"{views / 1e6:.2f}M training views (~{views / GPU_VIEWS_PER_SECOND / 60:.1f} min of training at "
          f"{GPU_VIEWS_PER_SECOND} views/s on an H200)", flush=True)
    start = time.perf_counter()
    report: dict[str, Any] = {}
    for i, (seed, exp) in enumerate(plan, 1):
        elapsed = time.perf_counter() - start
        if time_budget is not None and i > 1 and elapsed * i / (i - 1) > time_budget:
            print(f"time budget of {time_budget:.0f} s reached after {i - 1} runs: the other "
                  f"{len(plan) - i + 1} runs are left for a later call", flush=True)
            break
        print(f"[{i}/{len(plan)}] {exp.key} seed {seed}: {exp.label}", flush=True)
        run = {**run_one(exp, grid, data, seed=seed, runs_dir=runs_dir), "settings": run_settings(exp, grid, data_id),
               **_here_and_now()}
        runs.append(run)
        meta.update(command=command, commands=[*commands, command], **{k: run[k] for k in PROVENANCE})
        elapsed = time.perf_counter() - start
        print(f"[{i}/{len(plan)}] {exp.key} seed {seed}: kNN {100 * run['knn_top1']:.1f}%, "
              f"linear {100 * run['linear_top1']:.1f}%; {elapsed / 60:.1f} min elapsed, "
              f"~{elapsed / i * (len(plan) - i) / 60:.1f} min left", flush=True)
        report = _write(out, grid, meta, runs)
    return report or _write(out, grid, meta, runs)


def _write(out: Path, grid: Grid, meta: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Summarise ``runs`` into ``out/results.json`` and ``results.md``; returns the report."""
    rows = summarize(grid, runs)
    verdicts = judge(rows, test_size=meta["test_size"])
    done = {(r["key"], r["seed"]) for r in runs}
    complete = all((e.key, seed) in done for e in grid.experiments for seed in grid.seeds)
    meta = {**meta, "seeds": sorted({r["seed"] for r in runs}), "complete": complete}
    report = {"meta": meta, "runs": runs, "rows": rows, "claims": verdicts, "chance": CHANCE}
    _replace(out / "results.json", json.dumps(report, indent=2) + "\n")
    _replace(out / "results.md", markdown(report["meta"], rows, verdicts, runs))
    return report


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a killed run leaves the previous file)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def merge(grid: Grid, sources: Sequence[Path], out: Path, *, keep_old: bool = False) -> dict[str, Any]:
    """One report in ``out`` from the ``results.json`` of several shards of ``grid`` (same sizes).

    Runs already in ``out/results.json`` (same grid, same sizes, the grid's settings, the sources'
    data) are kept, so rows run later join the table; a source's run replaces the one kept there.
    Merging ``out`` into itself recomputes its rows, verdicts and ``results.md`` from its runs.
    The meta's device, torch and date are those of the newest file merged. Runs stored without
    their settings (older files) are taken only with ``keep_old``.

    Raises:
        ValueError: A source is of another grid or other sizes, holds runs made with other settings
            than the grid's (or, without ``keep_old``, without them), two sources hold the same run,
            or the sources' runs were made on different data.
    """
    reports = [json.loads((Path(source) / "results.json").read_text()) for source in sources]
    if not reports:
        raise ValueError("merge needs at least one source folder")
    # the first source's data sizes, and the grid's own sizes (that runs recorded without their
    # settings are checked on)
    meta = {**reports[0]["meta"], **{k: getattr(grid, k) for k in OLD_RUN_SIZES}}
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    commands: list[str] = []
    for source, report in zip(sources, reports, strict=True):
        sizes = SAME_RUN + (OLD_RUN_SIZES if any("settings" not in r for r in report["runs"]) else ())
        differing = [k for k in sizes if report["meta"].get(k) != meta.get(k)]
        if report["meta"]["grid"] != grid.name or differing:
            raise ValueError(f"{source}/results.json is of grid {report['meta']['grid']!r} or other sizes "
                             f"({', '.join(differing) or 'grid'} differ from grid {grid.name}'s and {sources[0]}'s)")
        checked, stale = _check_runs(_stamped(report["runs"], report["meta"]), grid, data=None, keep_old=keep_old,
                                     where=f"{source}/results.json")
        if stale:
            raise ValueError(f"{source}/results.json holds runs made otherwise than grid {grid.name} says: "
                             f"{'; '.join(stale)}")
        for run in checked:
            if (run["key"], run["seed"]) in runs:
                raise ValueError(f"{source}/results.json repeats run {run['key']} seed {run['seed']}")
            runs[run["key"], run["seed"]] = run
        commands += [c for c in report["meta"].get("commands", [report["meta"]["command"]]) if c not in commands]
    data = sorted({r["settings"]["data"] for r in runs.values() if "data" in r.get("settings", {})})
    if len(data) > 1:
        raise ValueError(f"the sources' runs were made on different data (Fashion-MNIST fingerprints {data})")
    kept, kept_commands, kept_meta = _earlier_runs(out / "results.json", meta)
    kept, stale = _check_runs([r for r in kept if (r["key"], r["seed"]) not in runs], grid,
                              data=data[0] if data else None, keep_old=keep_old, where=str(out / "results.json"))
    if stale:
        print(f"{len(stale)} runs of {out / 'results.json'} are dropped: {'; '.join(stale)}", flush=True)
    runs = {(r["key"], r["seed"]): r for r in kept} | runs
    commands = [*kept_commands, *(c for c in commands if c not in kept_commands)]
    writers = [r["meta"] for r in reports if r["runs"]] + ([kept_meta] if kept else [])  # files that ran something
    newest = max(writers or [meta], key=lambda m: m["date"])
    order = {(exp.key, seed): i for i, (exp, seed) in enumerate((e, s) for e in grid.experiments for s in grid.seeds)}
    ordered = sorted(runs.values(), key=lambda r: order.get((r["key"], r["seed"]), len(order)))
    out.mkdir(parents=True, exist_ok=True)
    return _write(out, grid, {**meta, **{k: newest[k] for k in PROVENANCE}, "commands": commands}, ordered)


def _shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as ``(I, N)`` with ``0 <= I < N``."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N such as 0/4, got {text!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected 0 <= I < N, got {text!r}")
    return i, n


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: ``python -m benchmarks.repro --grid {gpu,cpu,smoke} [--data DIR] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.repro", description=__doc__)
    parser.add_argument("--grid", choices=sorted(GRIDS), required=True, help="which experiments at which size")
    parser.add_argument("--data", type=Path, default=None,
                        help=f"Fashion-MNIST folder (default: ${ENV_VAR}, else {default_path()})")
    parser.add_argument("--out", type=Path, default=None, help="where results.json/.md go (default runs/repro/GRID)")
    parser.add_argument("--runs", type=Path, default=None, help="checkpoints and logs (default OUT/runs)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="override the grid's seeds")
    parser.add_argument("--only", nargs="+", default=None, metavar="KEY", help="run only these experiments")
    parser.add_argument("--fresh", action="store_true", help="ignore the runs already in OUT/results.json")
    parser.add_argument("--keep-old", action="store_true",
                        help="reuse (or merge) runs that older versions stored without their settings, "
                             "checked on the sizes alone")
    parser.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                        help="run every N-th run of the whole grid from the I-th (0-based; then those of --only), "
                             "for N processes sharing a GPU")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="start no run that would end past this many seconds at the pace so far")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="DIR",
                        help="run nothing: merge the results.json of these shard folders into OUT "
                             "(--merge OUT recomputes OUT's tables and verdicts from its runs)")
    args = parser.parse_args(argv)
    grid = GRIDS[args.grid]
    if args.seeds is not None:
        grid = dataclasses.replace(grid, seeds=tuple(args.seeds))
    if args.only is not None:
        known = {e.key for e in grid.experiments}
        unknown = sorted(set(args.only) - known)
        if unknown:
            parser.error(f"--only: unknown experiments {unknown}; grid {grid.name} has {sorted(known)}")
    out = args.out or Path("runs/repro") / grid.name
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    if args.merge is not None:
        try:
            report = merge(grid, args.merge, out, keep_old=args.keep_old)
        except (OSError, ValueError, KeyError) as e:
            raise SystemExit(f"error: --merge: {e}") from e
        print((out / "results.md").read_text())
        return report
    try:
        report = run_grid(grid, data_path=args.data or default_path(), out=out, runs_dir=args.runs or out / "runs",
                          command=f"python -m benchmarks.repro {argv_text}", only=args.only, fresh=args.fresh,
                          shard=args.shard, time_budget=args.time_budget, keep_old=args.keep_old)
    except (FashionMNISTError, StaleRunsError) as e:
        raise SystemExit(f"error: {e}") from e
    print()
    print((out / "results.md").read_text())
    return report
