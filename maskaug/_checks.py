"""Argument and shape checks shared by the public functions.

Every check raises with the parameter's name and the value received, so a user can find the
mistake without reading the library.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

import numpy as np
import torch

Range = float | tuple[float, float]


def check_range(name: str, value: Range, *, low: float, high: float, low_open: bool = False) -> tuple[float, float]:
    """Validate a number or a ``(low, high)`` pair inside ``[low, high]`` and return it as a pair.

    ``low_open=True`` excludes ``low`` itself (for scales and sigmas that must be positive).
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number or a (low, high) pair, got {value!r}")
    if isinstance(value, (int, float)):
        pair = (float(value), float(value))
    elif isinstance(value, Sequence) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        pair = (float(value[0]), float(value[1]))
    else:
        raise TypeError(f"{name} must be a number or a (low, high) pair, got {value!r}")
    lo_bracket = "(" if low_open else "["
    for v in pair:
        below = v <= low if low_open else v < low
        if math.isnan(v) or below or v > high:
            raise ValueError(f"{name} must lie in {lo_bracket}{low}, {high}], got {value!r}")
    if pair[0] > pair[1]:
        raise ValueError(f"{name} range must have low <= high, got {value!r}")
    return pair


def check_probability(name: str, value: float) -> float:
    """Validate a probability in ``[0, 1]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return float(value)


def check_positive(name: str, value: float) -> float:
    """Validate a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_nonnegative(name: str, value: float) -> float:
    """Validate a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a non-negative number, got {value!r}")
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return float(value)


def check_count(name: str, value: object, *, minimum: int = 1, why: str = "") -> int:
    """Validate an integer count ``>= minimum`` (a size, a number of frames or views), Python's or
    numpy's; ``why`` (if any) ends the error for a value below ``minimum``.

    Raises:
        TypeError: ``value`` is not an integer (a float such as ``2.5`` or ``2.0``, or a bool).
        ValueError: ``value`` is below ``minimum``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}{f' ({why})' if why else ''}, got {value!r}")
    return int(value)


def check_pair(name: str, value: object, *, low: float = 0.0, low_open: bool = False) -> tuple[float, float]:
    """Validate a ``(low, high)`` pair of finite numbers with ``low <= value[0] <= value[1]``
    (``low < value[0]`` with ``low_open``).

    Raises:
        TypeError: ``value`` is not a pair of numbers.
        ValueError: a number is not finite, is below ``low``, or the pair is reversed.
    """
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sequence)
        or len(value) != 2
        or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) for v in value)
    ):
        raise TypeError(f"{name} must be a (low, high) pair of numbers, got {value!r}")
    first, second = float(value[0]), float(value[1])
    above = first > low if low_open else first >= low
    if not (math.isfinite(first) and math.isfinite(second) and above and first <= second):
        bound = f"{low:g} {'<' if low_open else '<='} low <= high"
        raise ValueError(f"{name} must be a (low, high) pair with {bound}, both finite, got {value!r}")
    return first, second


def check_bool(name: str, value: object) -> bool:
    """Validate a bool, Python's or numpy's (no other truthy or falsy value)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def check_generator(generator: object) -> torch.Generator | None:
    """Validate a ``torch.Generator`` or ``None``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def check_view_ratios(ratios: object) -> list:
    """Validate one masking ratio (or range) per view, for at least 2 views; returned as a list
    (any iterable is taken; each ratio is checked where its mask is made)."""
    if isinstance(ratios, str) or not isinstance(ratios, Iterable):
        raise TypeError(f"ratios must be a sequence with a ratio (or range) per view, got {ratios!r}")
    ratios = list(ratios)
    if len(ratios) < 2:
        raise ValueError(f"ratios must give a ratio (or range) for each of at least 2 views, got {ratios!r}")
    return ratios


def normalize_dims(name: str, dims: int | Sequence[int], ndim: int, shape: Sequence[int]) -> tuple[int, ...]:
    """Turn possibly negative axis indices into sorted, unique, non-negative ones.

    Raises:
        ValueError: an axis out of range for a tensor of rank ``ndim``, a repeated axis, or no axis.
    """
    if isinstance(dims, int) and not isinstance(dims, bool):
        dims = (dims,)
    if not isinstance(dims, Sequence) or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"{name} must be an int or a sequence of ints, got {dims!r}")
    if len(dims) == 0:
        raise ValueError(f"{name} must name at least one axis, got {dims!r}")
    out = []
    for d in dims:
        if not -ndim <= d < ndim:
            raise ValueError(f"{name}={tuple(dims)!r} names axis {d}, out of range for shape {tuple(shape)} (rank {ndim})")
        out.append(d % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}={tuple(dims)!r} repeats an axis for shape {tuple(shape)}")
    return tuple(sorted(out))


def check_floating(name: str, x: torch.Tensor, why: str) -> None:
    """Raise ``TypeError`` unless ``x`` has a floating dtype."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype {why}, got {x.dtype}")
