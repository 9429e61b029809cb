"""Where one ``MSCNMask`` call spends its time on a device: issuing work on the host, or running it.

For the policy with its defaults (high-pass, masks, noise fill) on an image batch, and for its two
halves (drawing the masks; the fused high-pass and fill of the drawn masks), prints and writes:

- ``issue_ms``: host time to issue one call (median; the device is idle when it starts);
- ``isolated_ms``: one call from start to finish on the device (median; as ``peers.py`` times);
- ``pipelined_ms``: device time per call over ``--repeats`` calls issued back to back, where the
  host runs ahead of the device (the cost in a training step that hides the host time);
- ``launches``: device kernels per call, and the kernels that take the most device time
  (from ``torch.profiler``);
- ``host_top_us``: the Python functions and built-ins that take the most host time per call
  (from ``cProfile``, their own time).

When ``issue_ms`` is above ``pipelined_ms``, the host is the bottleneck: fewer operations, not
faster kernels, make the call cheaper. On a CPU every time is host time and ``launches`` counts
the operators. Run from the repository root::

    python -m benchmarks.masking.profile --out benchmarks/masking/results/profile-cuda.json
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from maskaug import MSCNMask, _triton

from .peers import device_name, write_result

SIGMA = 5.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def issue_ms(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median host time of one call of ``fn``, started on an idle device."""
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    _sync(device)
    return statistics.median(times)


def device_ms(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[float, float]:
    """``(isolated, pipelined)`` milliseconds per call of ``fn`` (wall time with a sync on a CPU)."""
    if device.type != "cuda":
        return (issue_ms(fn, device, repeats),) * 2
    isolated = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        _sync(device)
        start.record()
        fn()
        end.record()
        end.synchronize()
        isolated.append(start.elapsed_time(end))
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    _sync(device)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    end.synchronize()
    return statistics.median(isolated), start.elapsed_time(end) / repeats


def kernels(fn: Callable[[], object], device: torch.device, calls: int = 3, top: int = 8) -> dict:
    """Device kernels per call of ``fn`` and the ``top`` ones by device time (operators on a CPU)."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(calls):
            fn()
        _sync(device)
    if device.type == "cuda":
        events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        timed = [(e.name, e.device_time_total) for e in events]
    else:
        events = [e for e in prof.events() if e.cpu_parent is None and e.name.startswith("aten::")]
        timed = [(e.name, e.cpu_time_total) for e in events]
    totals: dict[str, float] = {}
    for name, us in timed:
        totals[name] = totals.get(name, 0.0) + us / calls
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:top]
    return {"launches": len(events) / calls, "top_us": {name[:80]: round(us, 2) for name, us in ranked}}


def host_hotspots(fn: Callable[[], object], device: torch.device, calls: int = 20, top: int = 10) -> dict:
    """Host microseconds per call of ``fn`` in the functions that take the most (their own time)."""
    profiler = cProfile.Profile()
    _sync(device)
    profiler.enable()
    for _ in range(calls):
        fn()
    profiler.disable()
    _sync(device)
    stats = pstats.Stats(profiler).stats
    ranked = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
    return {f"{Path(file).name}:{line}({name})"[:80]: round(own * 1e6 / calls, 1)
            for (file, line, name), (_, _, own, _, _) in ranked}


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    generator = torch.Generator(device).manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=generator, device=device)
    policy = MSCNMask(layout="b c h w", highpass_sigma=SIGMA, generator=generator)
    plan = policy._plan(x, policy._settings)  # what a call works out once for x's shape, dtype and device
    drawn, _ = policy._drawn(plan, device)
    calls = {
        "MSCNMask (high-pass, masks, noise fill)": lambda: policy(x),
        "draw the masks": lambda: policy._drawn(plan, device),
    }
    if _triton.usable(x, radius=15) and _triton.packs(drawn.geo, x):
        calls["fused high-pass and fill of drawn masks"] = lambda: _triton.fused(
            x, sigma=SIGMA, drawn=drawn, noise_std=policy.noise_std, generator=generator
        )
    rows = []
    for name, fn in calls.items():
        for _ in range(args.warmup):
            fn()
        isolated, pipelined = device_ms(fn, device, args.repeats)
        row = {"name": name, "issue_ms": issue_ms(fn, device, args.repeats), "isolated_ms": isolated,
               "pipelined_ms": pipelined, **kernels(fn, device), "host_top_us": host_hotspots(fn, device)}
        rows.append(row)
        print(f"{name:<42} issue {row['issue_ms']:8.3f} ms  isolated {isolated:8.3f} ms  "
              f"pipelined {pipelined:8.3f} ms  {row['launches']:5.0f} launches", flush=True)
        for kernel, us in row["top_us"].items():
            print(f"    {us:10.1f} us  {kernel}")
        for function, us in row["host_top_us"].items():
            print(f"    {us:10.1f} us  host: {function}")
    return {
        "device": device_name(device),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "shape": list(x.shape),
        "fused_path": _triton.usable(x, radius=15),
        "repeats": args.repeats,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True, help="JSON path")
    args = parser.parse_args(argv)
    for name in ("batch", "size", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    result = run(args)
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
