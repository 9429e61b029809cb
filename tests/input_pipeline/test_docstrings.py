"""The docstring examples of `maskaug.adapters.gpu_augment` run."""

from __future__ import annotations

import inspect
import re
import textwrap

import pytest

from maskaug.adapters import gpu_augment

FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _examples() -> list:
    objects = [gpu_augment, *(getattr(gpu_augment, name) for name in gpu_augment.__all__)]
    return [
        pytest.param(textwrap.dedent(block), id=f"{getattr(obj, '__name__', '')}:{number}")
        for obj in objects
        for number, block in enumerate(FENCE.findall(inspect.getdoc(obj) or ""), start=1)
    ]


EXAMPLES = _examples()


def test_the_module_has_examples() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs(code: str) -> None:
    exec(compile(code, "<docstring>", "exec"), {})
