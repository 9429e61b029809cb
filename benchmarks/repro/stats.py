"""Welch's t-test for two rows of seeds, in plain Python (no scipy on the benchmark's path)."""

from __future__ import annotations

import math
from dataclasses import dataclass


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)``, by its continued fraction (Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side only
        return 1.0 - _betainc(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 500):
        step = 1.0
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            step = c * d
            fraction *= step
        if abs(step - 1.0) < 1e-15:
            break
    return front * fraction / a


def t_two_sided_p(t: float, df: float) -> float:
    """``P(|T| > |t|)`` for Student's t with ``df`` (possibly fractional) degrees of freedom."""
    if df <= 0:
        raise ValueError(f"df must be positive, got {df}")
    return _betainc(df / 2, 0.5, df / (df + t * t))


def t_critical(df: float, confidence: float = 0.95) -> float:
    """The two-sided critical value: ``P(|T| > value) = 1 - confidence`` for Student's t with ``df``
    degrees of freedom (fractional ones too, as Welch's approximation gives); 1.96 in the limit."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if df <= 0:
        raise ValueError(f"df must be positive, got {df}")
    alpha = 1 - confidence
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > alpha:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_two_sided_p(mid, df) > alpha:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * high:
            break
    return (low + high) / 2


@dataclass(frozen=True)
class Welch:
    """Welch's test of a difference of two means: t, its degrees of freedom, and the half-width of
    the difference's confidence interval (``critical * standard_error``)."""

    difference: float
    standard_error: float
    df: float
    t: float
    half_width: float

    @property
    def clear(self) -> bool:
        """The difference is outside the interval's half-width: significant, two-sided."""
        return abs(self.difference) > self.half_width


def welch(
    mean_a: float, std_a: float, n_a: int, mean_b: float, std_b: float, n_b: int, *, floor: float = 0.0,
    confidence: float = 0.95,
) -> Welch:
    """Welch's unequal-variance t-test of ``mean_a - mean_b`` from sample standard deviations.

    Each mean's standard error (``std / sqrt(n)``) is raised to at least ``floor``: seeds that tie
    exactly (std 0) would otherwise make any difference infinitely significant, though an accuracy
    measured on a test set is only known to one test sample's worth (``1 / test_size``).

    Raises:
        ValueError: A row has fewer than two samples (no spread to test against).
    """
    if n_a < 2 or n_b < 2:
        raise ValueError(f"Welch's test needs at least 2 samples per row, got {n_a} and {n_b}")
    se_a = max(std_a / math.sqrt(n_a), floor)
    se_b = max(std_b / math.sqrt(n_b), floor)
    var = se_a**2 + se_b**2
    difference = mean_a - mean_b
    if var == 0:
        return Welch(difference, 0.0, math.inf, math.copysign(math.inf, difference) if difference else 0.0, 0.0)
    # Welch-Satterthwaite degrees of freedom, between min(n) - 1 and n_a + n_b - 2
    df = var**2 / (se_a**4 / (n_a - 1) + se_b**4 / (n_b - 1))
    se = math.sqrt(var)
    return Welch(difference, se, df, difference / se, t_critical(df, confidence) * se)
