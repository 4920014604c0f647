"""Confidence intervals (wst.stats)."""

from __future__ import annotations

import math

import pytest

from wst.stats import paired_difference, relative_gain, wilson


def test_wilson_zero_successes_has_zero_low_and_positive_high() -> None:
    iv = wilson(0, 10)
    assert iv.value == 0.0
    assert iv.low == 0.0
    assert iv.high == pytest.approx(0.27753, abs=1e-5)  # z^2 / (n + z^2)


def test_wilson_all_successes_has_one_high_and_low_below_one() -> None:
    iv = wilson(10, 10)
    assert iv.value == 1.0
    assert iv.high == pytest.approx(1.0)
    assert iv.low == pytest.approx(0.72247, abs=1e-5)  # n / (n + z^2)


@pytest.mark.parametrize(
    "successes, n, low, high",
    [
        (81, 263, 0.2553, 0.3662),  # Wikipedia's worked example
        (1, 10, 0.0179, 0.4042),
        (10, 40, 0.1419, 0.4019),
        (5, 10, 0.2366, 0.7634),
    ],
)
def test_wilson_known_values(successes: int, n: int, low: float, high: float) -> None:
    iv = wilson(successes, n)
    assert iv.value == pytest.approx(successes / n)
    assert (iv.low, iv.high) == pytest.approx((low, high), abs=1e-4)


def test_wilson_of_no_items_is_nan() -> None:
    iv = wilson(0, 0)
    assert math.isnan(iv.value) and math.isnan(iv.low) and math.isnan(iv.high)


def test_paired_difference_of_identical_lists_is_zero_with_zero_width() -> None:
    iv = paired_difference([1, 0, 1, 1], [1, 0, 1, 1])
    assert (iv.value, iv.low, iv.high) == (0.0, 0.0, 0.0)


def test_paired_difference_known_value() -> None:
    # diffs 1, 0, 0, 1: mean 0.5, sample sd 0.5774, half width 1.96 * 0.5774 / 2 = 0.5658
    iv = paired_difference([1, 1, 0, 1], [0, 1, 0, 0])
    assert iv.value == pytest.approx(0.5)
    assert iv.low == pytest.approx(0.5 - 0.5658, abs=1e-4)
    assert iv.high == 1.0  # 1.0658, clipped


def test_paired_difference_is_clipped_to_minus_one_one() -> None:
    up = paired_difference([1, 1, 1, 0], [0, 0, 0, 1])  # mean 0.5, half width 0.98
    assert up.value == pytest.approx(0.5)
    assert up.high == 1.0
    assert up.low == pytest.approx(-0.48, abs=1e-3)
    down = paired_difference([0, 0, 0, 1], [1, 1, 1, 0])
    assert down.low == -1.0
    assert down.high == pytest.approx(0.48, abs=1e-3)


def test_paired_difference_single_item_has_zero_width() -> None:
    iv = paired_difference([1], [0])
    assert (iv.value, iv.low, iv.high) == (1.0, 1.0, 1.0)


def test_paired_difference_of_no_items_is_nan() -> None:
    assert math.isnan(paired_difference([], []).value)


def test_paired_difference_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError, match="same items"):
        paired_difference([1, 0, 1], [1, 0])


def test_relative_gain() -> None:
    assert relative_gain(0.3, 0.2) == pytest.approx(50.0)
    assert relative_gain(0.1, 0.2) == pytest.approx(-50.0)
    assert relative_gain(0.2, 0.2) == 0.0


def test_relative_gain_over_zero_baseline_is_nan() -> None:
    assert math.isnan(relative_gain(0.3, 0.0))
    assert math.isnan(relative_gain(0.0, 0.0))
