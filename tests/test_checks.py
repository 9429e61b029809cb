"""The shared argument checks: each names the parameter and the value it got."""

from __future__ import annotations

import numpy as np
import pytest

from maskaug._checks import check_count, check_pair


def test_counts_are_ints_of_any_kind_at_least_the_minimum():
    assert check_count("frames", 3) == 3 and check_count("frames", np.int64(3)) == 3
    assert check_count("n", 0, minimum=0) == 0
    for bad in (2.0, 2.5, True, np.bool_(True), "3"):
        with pytest.raises(TypeError, match=f"frames must be an int, got {bad!r}"):
            check_count("frames", bad)
    with pytest.raises(ValueError, match=r"size must be >= 2 \(two pixels at least\), got 1"):
        check_count("size", 1, minimum=2, why="two pixels at least")


def test_pairs_are_ordered_finite_numbers_above_the_bound():
    assert check_pair("speed", (1, 2.5)) == (1.0, 2.5) and check_pair("speed", [0, 0]) == (0.0, 0.0)
    assert check_pair("scale", (0.08, 1.0), low_open=True) == (0.08, 1.0)
    for bad in ("ab", (1.0,), (1, 2, 3), (True, 2), 3.0, (1, "2")):
        with pytest.raises(TypeError, match=r"speed must be a \(low, high\) pair of numbers"):
            check_pair("speed", bad)
    for bad in ((2, 1), (-1, 1), (0, float("inf")), (float("nan"), 1)):
        with pytest.raises(ValueError, match=r"speed must be a \(low, high\) pair with 0 <= low <= high"):
            check_pair("speed", bad)
    with pytest.raises(ValueError, match=r"ratio must be a \(low, high\) pair with 0 < low <= high"):
        check_pair("ratio", (0.0, 1.0), low_open=True)
