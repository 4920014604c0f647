"""Confidence intervals for accuracies, mean scores and paired differences (95%), the exact
McNemar test, and the smallest paired difference an evaluation of n items can detect."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist, stdev

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


def is_binary(scores: list[float]) -> bool:
    """Whether every score is 0 or 1 (right/wrong), so proportion statistics apply.

    >>> is_binary([0, 1.0, 1]), is_binary([0.5, 1])
    (True, False)
    """
    return all(s in (0.0, 1.0) for s in scores)


def mean_interval(scores: list[float], z: float = Z95) -> Interval:
    """Mean score with its 95% CI: Wilson for 0/1 scores (accuracy), otherwise the normal
    interval of a mean (judge scores in [0, 1]), clipped to [0, 1].

    >>> round(mean_interval([1, 0, 0, 0]).low, 3) == round(wilson(1, 4).low, 3)
    True
    >>> iv = mean_interval([0.2, 0.4, 0.6, 0.8]); round(iv.value, 2), round(iv.low, 2), round(iv.high, 2)
    (0.5, 0.25, 0.75)
    """
    n = len(scores)
    if is_binary(scores):
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


def mcnemar_exact(a: list[float], b: list[float]) -> float:
    """Two-sided exact McNemar p-value of 0/1 scores of two conditions on the same items.

    Only the discordant items (right under one condition, wrong under the other) carry
    evidence; under "no difference" each is equally likely to go either way, so their split
    is tested against Binomial(discordant, 1/2). Exact, so it stays valid for the few
    discordant items a small evaluation has, where the paired normal interval does not.

    >>> mcnemar_exact([1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0])  # 5 of 5 discordant one way
    0.0625
    >>> round(mcnemar_exact([1] * 9 + [0] * 11, [0] * 9 + [1] + [0] * 10), 4)  # 9 vs 1
    0.0215
    >>> mcnemar_exact([1, 0], [1, 0])  # no discordant item: no evidence either way
    1.0
    """
    from scipy.stats import binomtest  # late: scipy takes a second to import

    if len(a) != len(b):
        raise ValueError("McNemar's test needs scores on the same items")
    if not (is_binary(a) and is_binary(b)):
        raise ValueError("McNemar's test needs 0/1 scores")
    a_only = sum(x > y for x, y in zip(a, b))
    b_only = sum(y > x for x, y in zip(a, b))
    if a_only + b_only == 0:
        return 1.0
    return float(binomtest(a_only, a_only + b_only, 0.5).pvalue)


def paired_mdd(n: int, discordant_rate: float = 0.2, alpha: float = 0.05,
               power: float = 0.8) -> float:
    """Smallest paired difference of proportions that n items detect with ``power`` at
    two-sided level ``alpha`` (the normal approximation of McNemar's test):

        MDD = (z_{1-alpha/2} + z_{power}) * sqrt(p_disc / n)

    where p_disc is the share of discordant items. It answers "could this evaluation have
    seen a gain of that size at all?" before reading a non-significant difference as "no gain".
    A difference d needs a discordant share of at least d, so p_disc is never taken below the
    MDD itself, which puts a floor of (z_{1-alpha/2} + z_{power})^2 / n under the result (also
    when no item is discordant). It is capped at 1, the largest difference of proportions.

    The discordant share shrinks with the gain: with a 20% share 150 items detect about
    +10 pp; with 15%, 470 items detect about +5 pp (at 20% they would detect 5.8 pp).

    >>> round(paired_mdd(150, 0.2), 3), round(paired_mdd(470, 0.15), 3)
    (0.102, 0.05)
    >>> round(paired_mdd(40, 0.0), 3)  # no discordant item: the floor 2.80^2 / 40
    0.196
    """
    if n <= 0:
        return float("nan")
    k = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return min(1.0, max(k * math.sqrt(discordant_rate / n), k * k / n))


def observed_mdd(a: list[float], b: list[float], alpha: float = 0.05,
                 power: float = 0.8) -> float:
    """The smallest difference a comparison of ``a`` and ``b`` detects at its own n.

    For 0/1 scores: ``paired_mdd`` at the observed discordant share. For graded scores (a
    judge's, in [0, 1]) the discordant-share floor does not apply (every item can differ a
    little); the MDD is that of the paired normal test behind ``paired_difference``:
    (z_{1-alpha/2} + z_{power}) * sd(a - b) / sqrt(n).

    >>> round(observed_mdd([1] * 10 + [0] * 30, [0] * 40), 3)  # a quarter discordant
    0.221
    >>> round(observed_mdd([0.6, 0.7, 0.5, 0.6], [0.5, 0.7, 0.6, 0.5]), 3)
    0.134
    """
    if len(a) != len(b):
        raise ValueError("a minimum detectable difference needs scores on the same items")
    if not a:
        return float("nan")
    if is_binary(a) and is_binary(b):
        return paired_mdd(len(a), sum(x != y for x, y in zip(a, b)) / len(a), alpha, power)
    diffs = [x - y for x, y in zip(a, b)]
    sd = stdev(diffs) if len(diffs) > 1 else 0.0
    k = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return min(1.0, k * sd / math.sqrt(len(diffs)))
