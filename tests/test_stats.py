"""Confidence intervals, the exact McNemar test and minimum detectable differences
(wst.stats)."""

from __future__ import annotations

import math
import statistics

import pytest

from wst.stats import (
    mcnemar_exact,
    observed_mdd,
    paired_difference,
    paired_mdd,
    relative_gain,
    wilson,
)


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


def _pairs(a_only: int, b_only: int, both: int = 0, neither: int = 0) -> tuple[list, list]:
    """Paired 0/1 scores with the given counts of (1, 0), (0, 1), (1, 1) and (0, 0) items."""
    a = [1] * a_only + [0] * b_only + [1] * both + [0] * neither
    b = [0] * a_only + [1] * b_only + [1] * both + [0] * neither
    return a, b


@pytest.mark.parametrize(
    "a_only, b_only, p",
    [
        (5, 0, 0.0625),  # 2 * 0.5^5
        (9, 1, 0.021484375),  # 2 * (1 + 10) / 1024
        (3, 3, 1.0),
        (10, 3, 0.09228515625),  # 2 * P(X <= 3), X ~ Bin(13, 1/2)
    ],
)
def test_mcnemar_exact_known_values(a_only: int, b_only: int, p: float) -> None:
    assert mcnemar_exact(*_pairs(a_only, b_only, both=7, neither=4)) == pytest.approx(p)


def test_mcnemar_exact_is_symmetric_and_ignores_concordant_items() -> None:
    a, b = _pairs(8, 2)
    assert mcnemar_exact(a, b) == mcnemar_exact(b, a)
    assert mcnemar_exact(a, b) == mcnemar_exact(*_pairs(8, 2, both=50, neither=50))


def test_mcnemar_exact_without_discordant_items_is_one() -> None:
    assert mcnemar_exact(*_pairs(0, 0, both=3, neither=3)) == 1.0
    assert mcnemar_exact([], []) == 1.0


def test_mcnemar_exact_rejects_judge_scores_and_unpaired_lists() -> None:
    with pytest.raises(ValueError, match="0/1"):
        mcnemar_exact([0.5, 1], [0, 1])
    with pytest.raises(ValueError, match="same items"):
        mcnemar_exact([1, 0], [1])


def test_paired_mdd_reproduces_the_usual_sample_sizes() -> None:
    # 80% power, two-sided 0.05: about 150 items for +10 pp, about 470 for +5 pp.
    assert paired_mdd(150, 0.2) == pytest.approx(0.10, abs=0.005)
    assert paired_mdd(470, 0.15) == pytest.approx(0.05, abs=0.002)
    assert paired_mdd(40, 0.2) == pytest.approx(0.198, abs=0.002)  # today's 40 real problems


def test_paired_mdd_shrinks_with_n_and_grows_with_discordance() -> None:
    assert paired_mdd(400, 0.2) == pytest.approx(paired_mdd(100, 0.2) / 2)
    assert paired_mdd(200, 0.3) > paired_mdd(200, 0.2)
    assert paired_mdd(200, 0.2, power=0.9) > paired_mdd(200, 0.2)
    assert paired_mdd(200, 0.2, alpha=0.01) > paired_mdd(200, 0.2)


def test_paired_mdd_floor_cap_and_empty() -> None:
    k2 = 2.801585 ** 2
    assert paired_mdd(100, 0.0) == pytest.approx(k2 / 100, abs=1e-4)  # a gain d needs d discordant
    assert paired_mdd(100, 0.01) == pytest.approx(k2 / 100, abs=1e-4)
    assert paired_mdd(3, 0.5) == 1.0
    assert math.isnan(paired_mdd(0))


def test_observed_mdd_uses_the_discordant_share() -> None:
    a, b = _pairs(30, 10, both=80, neither=80)  # 40 of 200 discordant
    assert observed_mdd(a, b) == pytest.approx(paired_mdd(200, 0.2))
    # graded scores: the paired normal test's MDD, no discordant-share floor
    judge = observed_mdd([0.5, 0.7, 0.9, 0.6], [0.4, 0.7, 0.5, 0.6])
    assert judge == pytest.approx(2.8016 * statistics.stdev([0.1, 0, 0.4, 0]) / 2, abs=1e-4)
    assert observed_mdd([0.7] * 120, [0.69] * 120) == 0.0 < paired_mdd(120, 0.0)
    assert math.isnan(observed_mdd([], []))
    with pytest.raises(ValueError, match="same items"):
        observed_mdd([1], [])
