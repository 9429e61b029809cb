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
