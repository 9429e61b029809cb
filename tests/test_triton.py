"""Run the fused-kernel checks under the Triton interpreter, in a subprocess.

``TRITON_INTERPRET`` must be set before Triton is imported, so the checks live in
``triton_cases.py`` and run in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("triton")


def test_fused_kernels_under_the_interpreter():
    here = Path(__file__).parent
    env = dict(os.environ, TRITON_INTERPRET="1")
    env.pop("MASKAUG_DISABLE_TRITON", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(here / "triton_cases.py")],
        cwd=here.parent, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


@pytest.fixture
def gpu(monkeypatch):
    """Make ``runs_on`` see CUDA device 0 with the compute capability and vendor a test sets."""
    from maskaug import _triton

    found = {"capability": (9, 0)}
    monkeypatch.delenv("MASKAUG_DISABLE_TRITON", raising=False)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    def capability(index: int) -> tuple[int, int]:
        torch._dynamo.graph_break()  # a full graph only where the check runs outside the trace
        return found["capability"]

    monkeypatch.setattr(torch.cuda, "get_device_capability", capability)
    _triton._SUPPORTED_GPUS.clear()
    yield found
    _triton._SUPPORTED_GPUS.clear()


@pytest.mark.parametrize(("capability", "hip", "expected"), [
    ((9, 0), None, True), ((8, 0), None, True), ((7, 5), None, False), ((9, 4), "6.2", False),
])
def test_older_and_amd_gpus_take_the_torch_path(gpu, monkeypatch, capability, hip, expected):
    from maskaug import _triton

    gpu["capability"] = capability
    monkeypatch.setattr(torch.version, "hip", hip)
    assert _triton.runs_on(torch.device("cuda")) is expected
    assert _triton.runs_on(torch.device("cuda", 0)) is expected


def test_the_gpu_check_is_a_constant_under_torch_compile(gpu):
    from maskaug import _triton

    gpu["capability"] = (7, 0)
    fused = torch.compile(lambda x: x + _triton.runs_on(torch.device("cuda", 0)), fullgraph=True, backend="eager")
    assert torch.equal(fused(torch.zeros(2)), torch.zeros(2))
