"""Random draws that honour an explicit ``torch.Generator`` wherever it lives.

Draws are made on the generator's device (torch requires it) and moved to the target device; from a
CPU generator to a GPU they are drawn into pinned memory and copied without waiting for the GPU. With
``generator=None`` they are made directly on the target device from torch's default generator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
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
    pinned = _pinned(generator, device)
    out = torch.rand(tuple(shape), generator=generator, device=generator.device, dtype=dtype, pin_memory=pinned)
    return out if generator.device == device else out.to(device, non_blocking=pinned)


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
    pinned = _pinned(generator, device)
    out = torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=dtype, pin_memory=pinned)
    return out if generator.device == device else out.to(device, non_blocking=pinned)


def _pinned(generator: torch.Generator, device: torch.device) -> bool:
    """Whether draws from ``generator`` for ``device`` go through pinned memory: from the CPU to a
    GPU, where a copy from pageable memory would wait for the GPU to finish its queued work."""
    return generator.device.type == "cpu" and torch.device(device).type == "cuda"


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

    The state is read on the host, so a generator of a GPU costs no synchronization. The whole
    state seeds the new generator: all of mt19937's words on the CPU (`manual_seed` would keep 32
    bits, and two of some tens of thousands of spawns would then share a stream), a 63-bit Philox
    seed on CUDA. Two spawns with nothing drawn from ``generator`` in between give the same
    generator: draw before each (and from one thread at a time). It cannot make one on devices
    other than the CPU and CUDA, under ``torch.compile``, or during a CUDA graph capture.

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
    if device.type not in ("cpu", "cuda") or torch.compiler.is_compiling():
        return generator
    if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
        return generator
    source = generator
    if source is None and device.type == "cpu":
        source = torch.default_generator
    elif source is None:
        index = torch.cuda.current_device() if device.index is None else device.index  # (initializes CUDA)
        source = torch.cuda.default_generators[index]
    state = source.get_state().numpy().tobytes()
    if device.type == "cuda":
        seed = int.from_bytes(hashlib.blake2b(state, digest_size=8).digest(), "little") >> 1
        return torch.Generator(device=device).manual_seed(seed)
    spawned = _cpu_generator(hashlib.shake_256(state).digest(4 * _MT_WORDS))
    return generator if spawned is None else spawned


#: mt19937's words, and where a CPU generator's state (`torch.Generator.get_state`, `_CPU_STATE`
#: bytes) keeps them, one to a little-endian uint64; before them, its initial seed.
_MT_WORDS = 624
_MT_OFFSET = 24
_CPU_STATE = 5056


def _cpu_generator(words: bytes) -> torch.Generator | None:
    """A CPU generator whose mt19937 words are ``words`` (`_MT_WORDS` little-endian uint32), as a
    freshly seeded one, due to mix them before its first draw; ``None`` where this torch lays its
    generators' state out otherwise."""
    generator = torch.Generator()
    state = generator.get_state()  # a fresh generator's: due to mix its words, no normal kept
    if state.numel() != _CPU_STATE:
        return None
    raw = state.numpy()
    raw[:8] = np.frombuffer(words[:8], dtype=np.uint8)  # the initial seed it reports
    raw[_MT_OFFSET : _MT_OFFSET + 8 * _MT_WORDS] = np.frombuffer(words, dtype="<u4").astype("<u8").view(np.uint8)
    generator.set_state(state)
    return generator
