"""Argument checks shared by the adapters: each names the parameter and the value received."""

from __future__ import annotations

import math
import numbers


def check_count(name: str, value: int, *, minimum: int = 1) -> int:
    """Validate an integer count ``>= minimum`` (a size, a number of frames or bands) and return it.

    Raises:
        TypeError: ``value`` is not an integer (a float such as ``2.5`` or ``2.0``, or a bool).
        ValueError: ``value`` is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_pair(name: str, value: tuple[float, float], *, low: float = 0.0) -> tuple[float, float]:
    """Validate a ``(low, high)`` pair of finite numbers with ``low <= value[0] <= value[1]``.

    Raises:
        TypeError: ``value`` is not a pair of numbers.
        ValueError: a number is not finite, is below ``low``, or the pair is reversed.
    """
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in value)
    ):
        raise TypeError(f"{name} must be a (low, high) pair of numbers, got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and low <= lo <= hi):
        raise ValueError(f"{name} must be a (low, high) pair with {low:g} <= low <= high, both finite, got {value!r}")
    return lo, hi
