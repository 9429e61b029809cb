"""Run a grid of experiments: pre-train, evaluate with kNN and a linear probe, write the tables."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
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
from .data import CLASSES, ENV_VAR, FashionMNISTError, default_path, fashion_mnist
from .grid import CELL, CLAIMS, GPU_VIEWS_PER_SECOND, GRIDS, SIGMA, Experiment, Grid
from .model import ResNet18

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


def judge(rows: Sequence[dict[str, Any]], metric: str = "linear_top1") -> list[dict[str, Any]]:
    """Each paper claim whose two rows ran: the difference of means and whether it is clear.

    A difference is clear when it exceeds twice the combined seed spread,
    ``2 * sqrt(std_a**2 + std_b**2)``; otherwise it is within the noise of this run.
    """
    by_key = {r["key"]: r for r in rows}
    verdicts = []
    for claim in CLAIMS:
        if claim.better not in by_key or claim.worse not in by_key:
            continue
        a, b = by_key[claim.better], by_key[claim.worse]
        diff = a[metric] - b[metric]
        stds = (a[f"{metric}_std"], b[f"{metric}_std"])
        noise = None if None in stds else 2 * math.sqrt(stds[0] ** 2 + stds[1] ** 2)
        if noise is None or abs(diff) <= noise:
            verdict = "within noise"
        else:
            verdict = "agrees" if diff > 0 else "disagrees"
        verdicts.append({"claim": claim.text, "paper": claim.paper, "better": claim.better, "worse": claim.worse,
                         "difference": diff, "noise": noise, "verdict": verdict})
    return verdicts


def _pct(mean: float, std: float | None) -> str:
    return f"{100 * mean:.1f}" if std is None else f"{100 * mean:.1f} ± {100 * std:.1f}"


def _input(row: dict[str, Any]) -> float | None:
    """What the backbone sees: the high-pass sigma, or None for raw pixels."""
    return row.get("sigma", SIGMA) if row.get("highpass") else None


def markdown(meta: dict[str, Any], rows: Sequence[dict[str, Any]], verdicts: Sequence[dict[str, Any]]) -> str:
    """The results as markdown: set-up, the table (mean ± std over seeds), the claims."""
    lines = [
        f"# Reproduction grid `{meta['grid']}` on Fashion-MNIST",
        "",
        f"- device: {meta['device']}; torch {meta['torch']}; {meta['date']}",
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
                  "(clear: the difference exceeds twice the combined spread):", "",
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


#: The sizes that must match for earlier runs in ``results.json`` to be kept.
SAME_RUN = ("grid", "train_size", "test_size", "epochs", "batch_size", "width", "knn_k", "probe_epochs")


def _earlier_runs(path: Path, meta: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The runs and commands of an earlier ``results.json`` of the same grid at the same sizes."""
    if not path.is_file():
        return [], []
    earlier = json.loads(path.read_text())
    differing = [k for k in SAME_RUN if earlier["meta"].get(k) != meta[k]]
    if differing:
        print(f"{path} was written at other sizes ({', '.join(differing)} differ): starting afresh", flush=True)
        return [], []
    return earlier["runs"], earlier["meta"].get("commands", [earlier["meta"]["command"]])


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
) -> dict[str, Any]:
    """Every experiment of ``grid`` (or those named in ``only``) for every seed of the grid.

    ``out/results.json`` and ``results.md`` are rewritten after each run, so an interrupted grid
    keeps its finished runs; unless ``fresh``, runs already in ``out/results.json`` (same grid,
    same sizes) are kept and not run again, so a grid resumes, and rows or seeds run later join
    the table.

    Runs go in the grid's order, every seed of an experiment before the next experiment, so a
    budget that runs out drops the last rows (the grid lists them by importance). ``shard=(i, n)``
    takes every n-th run from the i-th, so n processes with their own ``out`` share a grid (see
    `merge`); ``time_budget`` (seconds) starts no run that would end past it at the mean pace so far.
    """
    data = fashion_mnist(data_path, train_limit=grid.train_limit, test_limit=grid.test_limit)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "grid": grid.name, "command": command, "device": device_name(), "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "train_size": len(data[0]), "test_size": len(data[1]), "epochs": grid.epochs, "batch_size": grid.batch_size,
        "width": grid.width, "knn_k": grid.knn_k, "probe_epochs": grid.probe_epochs,
        "note": grid.note, "sigma": SIGMA,
    }
    keys = {e.key for e in grid.experiments}
    runs, commands = ([], []) if fresh else _earlier_runs(out / "results.json", meta)
    runs = [r for r in runs if r["key"] in keys]
    meta["commands"] = [*commands, command]
    done = {(r["key"], r["seed"]) for r in runs}
    chosen = [e for e in grid.experiments if only is None or e.key in only]
    # a shard's runs are fixed by the whole plan, so that a resumed shard takes up its own runs
    plan = [(seed, exp) for exp in chosen for seed in grid.seeds][shard[0] :: shard[1]]
    plan = [(seed, exp) for seed, exp in plan if (exp.key, seed) not in done]
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
        run = run_one(exp, grid, data, seed=seed, runs_dir=runs_dir)
        runs.append(run)
        elapsed = time.perf_counter() - start
        print(f"[{i}/{len(plan)}] {exp.key} seed {seed}: kNN {100 * run['knn_top1']:.1f}%, "
              f"linear {100 * run['linear_top1']:.1f}%; {elapsed / 60:.1f} min elapsed, "
              f"~{elapsed / i * (len(plan) - i) / 60:.1f} min left", flush=True)
        report = _write(out, grid, meta, runs)
    return report or _write(out, grid, meta, runs)


def _write(out: Path, grid: Grid, meta: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Summarise ``runs`` into ``out/results.json`` and ``results.md``; returns the report."""
    rows = summarize(grid, runs)
    verdicts = judge(rows)
    done = {(r["key"], r["seed"]) for r in runs}
    complete = all((e.key, seed) in done for e in grid.experiments for seed in grid.seeds)
    meta = {**meta, "seeds": sorted({r["seed"] for r in runs}), "complete": complete}
    report = {"meta": meta, "runs": runs, "rows": rows, "claims": verdicts, "chance": CHANCE}
    _replace(out / "results.json", json.dumps(report, indent=2) + "\n")
    _replace(out / "results.md", markdown(report["meta"], rows, verdicts))
    return report


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a killed run leaves the previous file)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def merge(grid: Grid, sources: Sequence[Path], out: Path) -> dict[str, Any]:
    """One report in ``out`` from the ``results.json`` of several shards of ``grid`` (same sizes).

    Runs already in ``out/results.json`` (same grid, same sizes) are kept, so rows run later join
    the table; a source's run replaces the one kept there.

    Raises:
        ValueError: A source is of another grid or other sizes, or two sources hold the same run.
    """
    reports = [json.loads((Path(source) / "results.json").read_text()) for source in sources]
    if not reports:
        raise ValueError("merge needs at least one source folder")
    meta = reports[0]["meta"]
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    commands: list[str] = []
    for source, report in zip(sources, reports, strict=True):
        differing = [k for k in SAME_RUN if report["meta"].get(k) != meta.get(k)]
        if report["meta"]["grid"] != grid.name or differing:
            raise ValueError(f"{source}/results.json is of grid {report['meta']['grid']!r} or other sizes "
                             f"({', '.join(differing) or 'grid'} differ from {sources[0]})")
        for run in report["runs"]:
            if (run["key"], run["seed"]) in runs:
                raise ValueError(f"{source}/results.json repeats run {run['key']} seed {run['seed']}")
            runs[run["key"], run["seed"]] = run
        commands += [c for c in report["meta"].get("commands", [report["meta"]["command"]]) if c not in commands]
    kept, kept_commands = _earlier_runs(out / "results.json", meta)
    runs = {(r["key"], r["seed"]): r for r in kept} | runs
    commands = [*kept_commands, *(c for c in commands if c not in kept_commands)]
    order = {(exp.key, seed): i for i, (exp, seed) in enumerate((e, s) for e in grid.experiments for s in grid.seeds)}
    ordered = sorted(runs.values(), key=lambda r: order.get((r["key"], r["seed"]), len(order)))
    out.mkdir(parents=True, exist_ok=True)
    return _write(out, grid, {**meta, "commands": commands}, ordered)


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
    parser.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                        help="run every N-th run of the grid from the I-th (0-based), for N processes sharing a GPU")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="start no run that would end past this many seconds at the pace so far")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="DIR",
                        help="run nothing: merge the results.json of these shard folders into OUT")
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
            report = merge(grid, args.merge, out)
        except (OSError, ValueError, KeyError) as e:
            raise SystemExit(f"error: --merge: {e}") from e
        print((out / "results.md").read_text())
        return report
    try:
        report = run_grid(grid, data_path=args.data or default_path(), out=out, runs_dir=args.runs or out / "runs",
                          command=f"python -m benchmarks.repro {argv_text}", only=args.only, fresh=args.fresh,
                          shard=args.shard, time_budget=args.time_budget)
    except FashionMNISTError as e:
        raise SystemExit(f"error: {e}") from e
    print()
    print((out / "results.md").read_text())
    return report
