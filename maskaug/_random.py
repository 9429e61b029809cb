"""Random draws that honour an explicit ``torch.Generator`` wherever it lives.

Draws are made on the generator's device (torch requires it) and moved to the target device. With
``generator=None`` they are made directly on the target device from torch's default generator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch


def rand(
    shape: Sequence[int],
    *,
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Uniform ``[0, 1)`` numbers of ``shape`` on ``device``."""
    if generator is None:  # (torch.compile traces symbolic sizes only without a generator argument)
        return torch.rand(tuple(shape), device=device, dtype=dtype)
    out = torch.rand(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return out if generator.device == device else out.to(device)


def randn(
    shape: Sequence[int],
    *,
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Standard normal numbers of ``shape`` on ``device``."""
    if generator is None:
        return torch.randn(tuple(shape), device=device, dtype=dtype)
    out = torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return out if generator.device == device else out.to(device)


def uniform_in(
    bounds: tuple[float, float],
    shape: Sequence[int],
    *,
    generator: torch.Generator | None,
    device: torch.device,
) -> torch.Tensor:
    """Float64 values drawn uniformly from ``[low, high]``; a constant when ``low == high``.

    A constant range draws nothing, so fixing a parameter does not shift the random stream.
    """
    low, high = bounds
    if low == high:
        return torch.full(tuple(shape), low, dtype=torch.float64, device=device)
    u = rand(shape, generator=generator, device=device, dtype=torch.float64)
    return low + (high - low) * u


def spawn(generator: torch.Generator | None, device: torch.device) -> torch.Generator | None:
    """A new generator on ``device``, seeded from the state of ``generator`` (of torch's default
    generator of ``device`` where ``None``), which it leaves as it is; where it cannot make one,
    ``generator`` itself.

    The state is read on the host, so a generator of a GPU costs no synchronization. Two spawns
    with nothing drawn from ``generator`` in between give the same generator: draw before each.
    It cannot make one under ``torch.compile``, during a CUDA graph capture, or from the default
    generator of a device other than the CPU and CUDA.

    Example:
        ```python
        import torch
        from maskaug._random import spawn

        g = torch.Generator().manual_seed(0)
        g.random_()
        state = g.get_state()
        noise = torch.randn(3, generator=spawn(g, torch.device("cpu")))
        assert torch.equal(g.get_state(), state)
        ```
    """
    if torch.compiler.is_compiling() or (device.type == "cuda" and torch.cuda.is_current_stream_capturing()):
        return generator
    source = generator
    if source is None and device.type == "cpu":
        source = torch.default_generator
    elif source is None and device.type == "cuda":
        source = torch.cuda.default_generators[torch.cuda.current_device() if device.index is None else device.index]
    elif source is None:
        return None
    digest = hashlib.blake2b(source.get_state().numpy().tobytes(), digest_size=8).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest, "little") >> 1)
