"""Confidence intervals for accuracies, mean scores and paired differences (95%)."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959964


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float


def wilson(successes: float, n: int, z: float = Z95) -> Interval:
    """Wilson score interval of a proportion; sound at 0/n and n/n, unlike the normal one.

    >>> iv = wilson(10, 40); round(iv.value, 3), round(iv.low, 3), round(iv.high, 3)
    (0.25, 0.142, 0.402)
    """
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(scores: list[float], z: float = Z95) -> Interval:
    """Mean score with its 95% CI: Wilson for 0/1 scores (accuracy), otherwise the normal
    interval of a mean (judge scores in [0, 1]), clipped to [0, 1].

    >>> round(mean_interval([1, 0, 0, 0]).low, 3) == round(wilson(1, 4).low, 3)
    True
    >>> iv = mean_interval([0.2, 0.4, 0.6, 0.8]); round(iv.value, 2), round(iv.low, 2), round(iv.high, 2)
    (0.5, 0.25, 0.75)
    """
    n = len(scores)
    if n == 0 or all(s in (0.0, 1.0) for s in scores):
        return wilson(sum(scores), n, z)
    m = sum(scores) / n
    var = sum((s - m) ** 2 for s in scores) / (n - 1) if n > 1 else 0.0
    half = z * math.sqrt(var / n)
    return Interval(m, max(0.0, m - half), min(1.0, m + half))


def paired_difference(a: list[float], b: list[float], z: float = Z95) -> Interval:
    """Mean of ``a - b`` over the same items, with a normal CI from the paired differences.

    Pairing removes the item-difficulty variance that two independent CIs would double count.

    >>> iv = paired_difference([1, 1, 0, 1], [0, 1, 0, 0]); round(iv.value, 2), round(iv.low, 2)
    (0.5, -0.07)
    """
    if len(a) != len(b):
        raise ValueError("paired difference needs scores on the same items")
    n = len(a)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    diffs = [x - y for x, y in zip(a, b)]
    m = sum(diffs) / n
    var = sum((d - m) ** 2 for d in diffs) / (n - 1) if n > 1 else 0.0
    half = z * math.sqrt(var / n)
    return Interval(m, max(-1.0, m - half), min(1.0, m + half))


def relative_gain(value: float, baseline: float) -> float:
    """Gain over the baseline in percent (the paper's headline measure); NaN if baseline is 0.

    >>> relative_gain(0.3, 0.2)
    50.0
    """
    if baseline == 0:
        return float("nan")
    return round(100.0 * (value - baseline) / baseline, 6)
