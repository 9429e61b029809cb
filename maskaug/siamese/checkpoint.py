"""Checkpoint files (atomic, checksummed) and the random-number states a resume restores."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

MAGIC = b"MASKAUG-CKPT-1\n"
_DIGEST_BYTES = 32  # sha256


class CheckpointError(RuntimeError):
    """A checkpoint file is missing its header, truncated, corrupted or unreadable."""


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` atomically: a temporary file in the same folder, fsync, then `os.replace`.

    The file is ``MAGIC + sha256(payload) + payload`` where the payload is `torch.save`'s
    output, so a reader can tell a complete file from a damaged one.

    Args:
        path: Destination file; its folder is created if needed.
        state: Anything `torch.save` accepts.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC)
            f.write(hashlib.sha256(payload).digest())
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Read a file written by `save_checkpoint`, checking its header and checksum.

    Raises:
        CheckpointError: Naming the file, when it is not a checkpoint, is truncated, fails its
            checksum or cannot be unpickled.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from e
    header = len(MAGIC) + _DIGEST_BYTES
    if not data.startswith(MAGIC):
        raise CheckpointError(f"{path} is not a maskaug checkpoint (bad or missing header)")
    if len(data) <= header:
        raise CheckpointError(f"checkpoint {path} is truncated ({len(data)} bytes)")
    digest, payload = data[len(MAGIC) : header], data[header:]
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(
            f"checkpoint {path} is corrupted or truncated (checksum mismatch, {len(data)} bytes)"
        )
    try:
        return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=False)
    except Exception as e:  # a payload that passed the checksum but was written by something else
        raise CheckpointError(f"cannot unpickle checkpoint {path}: {e}") from e


def rng_state(generators: Sequence[torch.Generator] = ()) -> dict[str, Any]:
    """Capture torch's global states (CPU and every CUDA device) and the given generators' states.

    Only torch's random streams are captured: a dataset that draws from NumPy's or Python's global
    generators does not resume exactly (draw from a `torch.Generator` instead, as the package does).
    """
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": [g.get_state() for g in generators],
    }


def set_rng_state(state: dict[str, Any], generators: Sequence[torch.Generator] = ()) -> None:
    """Restore what `rng_state` captured, into the same generators in the same order."""
    if len(state["generators"]) != len(generators):
        raise ValueError(
            f"the checkpoint holds {len(state['generators'])} generator states but the views use "
            f"{len(generators)} generators"
        )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for g, s in zip(generators, state["generators"]):
        g.set_state(s)


def find_generators(*objects: Any) -> list[torch.Generator]:
    """The `torch.Generator` attributes held by ``objects`` and, for modules, their submodules.

    Searches the attributes of each object, of the modules, datasets and callables it holds (a
    dataset's transform, a ``Subset``'s dataset) and of lists/tuples of them (a ``MultiView``'s
    views), in a deterministic order; each generator is listed once.
    """
    found: dict[int, torch.Generator] = {}
    seen: set[int] = set()

    def visit(obj: Any, depth: int) -> None:
        if id(obj) in seen or depth > 8:
            return
        seen.add(id(obj))
        if isinstance(obj, torch.Generator):
            found.setdefault(id(obj), obj)
            return
        if isinstance(obj, (list, tuple)):
            for item in obj:
                visit(item, depth + 1)
            return
        if isinstance(obj, torch.nn.Module):
            for module in obj.modules():
                if module is not obj:
                    visit(module, depth + 1)
        attributes = getattr(obj, "__dict__", None)
        if isinstance(attributes, dict):
            for value in attributes.values():
                container = isinstance(value, (torch.Generator, list, tuple, torch.nn.Module, Dataset))
                if container or (callable(value) and hasattr(value, "__dict__")):
                    visit(value, depth + 1)

    for obj in objects:
        visit(obj, 0)
    return list(found.values())
