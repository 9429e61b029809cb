import math
import statistics

import pytest

from benchmarks.repro.stats import t_critical, t_two_sided_p, welch


def tail_by_quadrature(t: float, df: float, steps: int = 20_000) -> float:
    """``P(|T| > t)`` as ``1 - 2 * integral of the density from 0 to t`` (Simpson's rule, float64)."""
    norm = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def density(x: float) -> float:
        return norm * (1 + x * x / df) ** (-(df + 1) / 2)

    h = t / steps
    total = density(0) + density(t) + sum((4 if i % 2 else 2) * density(i * h) for i in range(1, steps))
    return 1 - 2 * total * h / 3


@pytest.mark.parametrize("df", [1, 1.09, 1.5, 1.99, 3.3, 7.5, 30])
def test_tail_and_critical_value_match_the_integrated_density(df: float) -> None:
    for t in (0.5, 2.0, 4.3, 10.0):
        assert t_two_sided_p(t, df) == pytest.approx(tail_by_quadrature(t, df), abs=1e-9)
    assert tail_by_quadrature(t_critical(df), df) == pytest.approx(0.05, abs=1e-9)


def test_critical_values_match_the_closed_forms_and_the_normal_limit() -> None:
    p = 0.975
    assert t_critical(1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)  # Cauchy: 12.706
    assert t_critical(2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-10)  # 4.303
    assert t_critical(1e6) == pytest.approx(statistics.NormalDist().inv_cdf(p), abs=1e-5)  # 1.96
    assert t_critical(1.5) > t_critical(2) > t_critical(3)  # fractional df between the integers


def test_welch_degrees_of_freedom_and_half_width() -> None:
    test = welch(0.80, 0.01, 2, 0.70, 0.01, 2)
    assert test.df == pytest.approx(2) and test.standard_error == pytest.approx(0.01)
    assert test.t == pytest.approx(10) and test.half_width == pytest.approx(t_critical(2) * 0.01) and test.clear
    # unequal spreads: Welch-Satterthwaite, between min(n) - 1 and n_a + n_b - 2
    test = welch(0.5, 0.1, 3, 0.4, 0.01, 5)
    va, vb = 0.1**2 / 3, 0.01**2 / 5
    assert test.df == pytest.approx((va + vb) ** 2 / (va**2 / 2 + vb**2 / 4)) and 2 <= test.df <= 6


def test_tied_seeds_are_floored_at_one_test_sample() -> None:
    # both rows' seeds tie exactly: without a floor any difference would be infinitely clear
    assert math.isinf(welch(0.8851, 0.0, 2, 0.885, 0.0, 2).t)
    tied = welch(0.8851, 0.0, 2, 0.885, 0.0, 2, floor=1 / 10_000)
    assert tied.t == pytest.approx(0.0001 / math.sqrt(2e-8)) and not tied.clear
    assert welch(0.8900, 0.0, 2, 0.885, 0.0, 2, floor=1 / 10_000).clear


def test_welch_needs_two_samples_a_row() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        welch(0.5, 0.1, 1, 0.4, 0.1, 2)
    with pytest.raises(ValueError, match="df"):
        t_critical(0)
