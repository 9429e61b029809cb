"""Axis layouts such as ``"b c h w"``: parsed and checked once.

``b`` is the batch axis and ``c`` the channel axis; every other name is a masked axis unless the
policy is told otherwise. Names are Python identifiers separated by spaces, each used once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

BATCH = "b"
CHANNEL = "c"


@dataclass(frozen=True)
class Layout:
    """A parsed layout: the axis names in order."""

    names: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Layout:
        if not isinstance(text, str):
            raise TypeError(f"layout must be a string such as 'b c h w', got {text!r}")
        names = tuple(text.split())
        if not names:
            raise ValueError(f"layout must name at least one axis, got {text!r}")
        for name in names:
            if not name.isidentifier():
                raise ValueError(f"layout {text!r} has an invalid axis name {name!r}")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"layout {text!r} repeats axis {repeated[0]!r}")
        return cls(names)

    def __str__(self) -> str:
        return " ".join(self.names)

    @property
    def channel(self) -> int | None:
        return self.names.index(CHANNEL) if CHANNEL in self.names else None

    @property
    def spatial(self) -> tuple[str, ...]:
        """Names that are neither the batch nor the channel axis."""
        return tuple(n for n in self.names if n not in (BATCH, CHANNEL))

    def named(self, names: str | Sequence[str] | None) -> tuple[str, ...]:
        """The axis names of ``names`` in the order given (default: every spatial axis), unchecked."""
        if names is None:
            return self.spatial
        return tuple(names.split()) if isinstance(names, str) else tuple(names)

    def indices(self, param: str, names: str | Sequence[str] | None) -> tuple[int, ...]:
        """Axis indices of ``names`` (default: every spatial axis), checked against the layout, in layout order."""
        chosen = self.named(names)
        if not chosen:
            raise ValueError(f"{param} must name at least one axis of layout '{self}'")
        for name in chosen:
            if name not in self.names:
                raise ValueError(f"{param} names axis {name!r}, which is not in layout '{self}'")
            if name in (BATCH, CHANNEL):
                raise ValueError(f"{param} names axis {name!r}; the batch and channel axes cannot be masked or filtered")
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"{param}={names!r} repeats an axis")
        return tuple(sorted(self.names.index(n) for n in chosen))

    def check(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` has one axis per name."""
        if x.ndim != len(self.names):
            raise ValueError(
                f"layout '{self}' expects a {len(self.names)}-d tensor, got shape {tuple(x.shape)}"
            )
