"""The adapters' docstring examples run (those that need a user's data folder are left out)."""

from __future__ import annotations

import inspect
import re
import textwrap

import pytest

from maskaug.adapters import rgbd, spectrogram, video

FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)
NEEDS_USER_DATA = ('"/data/', '.npz"')


def _examples() -> list:
    params = []
    for module in (spectrogram, video, rgbd):
        own = [obj for _, obj in inspect.getmembers(module) if getattr(obj, "__module__", None) == module.__name__]
        objects = [module, *own]
        for obj in objects:
            for number, block in enumerate(FENCE.findall(inspect.getdoc(obj) or ""), start=1):
                code = textwrap.dedent(block)
                if not any(marker in code for marker in NEEDS_USER_DATA):
                    name = f"{module.__name__.rsplit('.', 1)[1]}.{getattr(obj, '__name__', '')}:{number}"
                    params.append(pytest.param(code, id=name))
    return params


EXAMPLES = _examples()


def test_every_adapter_has_examples() -> None:
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs(code: str) -> None:
    exec(compile(code, "<docstring>", "exec"), {})
