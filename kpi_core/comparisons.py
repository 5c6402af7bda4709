"""Two-sample comparisons for the 1:1: is one rep's number different from their peers' by more than chance?

Each comparison gives the difference (rep minus peers), its 95% interval and a two-sided p-value that agree with each
other (the interval leaves out zero exactly when p < 0.05):

- :func:`newcombe`: a difference of two proportions, Newcombe's hybrid score interval (his method 10, built from the
  two Wilson intervals); its p-value is the level at which the interval touches zero;
- :func:`welch`: a difference of two means, Welch's t (unequal variances, Satterthwaite's degrees of freedom); the
  1:1 applies it to logarithms of skewed amounts and durations, so the difference is a ratio of typical values;
- :func:`prediction`: one unit's value against the values of ``k`` peer units (each rep's activities per week),
  with the peers' own spread as the noise (at least the Poisson spread of counts): ``t = (x - mean) / (s * sqrt(1 +
  1/k))`` on ``k - 1`` degrees of freedom, so however much reps differ week to week and from each other (the
  overdispersion), that spread is allowed for;
- :func:`holm`: Holm's step-down adjustment of a family of p-values (the chance that any of a rep's comparisons is
  called different when none is stays at most the level).

Plain Python and NumPy (no SciPy): the t distribution comes from the regularized incomplete beta function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

Z95 = 1.959963984540054
"""The two-sided 95% normal quantile."""
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Comparison:
    """A difference (rep minus peers, in the units of the test), its interval and its two-sided p-value."""

    difference: float
    low: float
    high: float
    p_value: float
    method: str


# --- distributions ---


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def beta_regularized(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b).

    >>> round(beta_regularized(2.0, 3.0, 0.4), 6)  # 1 - (0.6^4 + 4 * 0.4 * 0.6^3): 0.5248
    0.5248
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom (a normal beyond a million).

    >>> round(t_two_sided(2.228138851986273, 10), 6), round(t_two_sided(12.706204736174698, 1), 6)
    (0.05, 0.05)
    """
    if not math.isfinite(t):
        return 0.0
    if df > 1e6:
        return 2.0 * (1.0 - _NORMAL.cdf(abs(t)))
    return beta_regularized(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(level: float, df: float) -> float:
    """The two-sided critical value: ``t`` with ``P(|T| >= t) = 1 - level``.

    >>> round(t_quantile(0.95, 10), 6), round(t_quantile(0.95, 3), 6)
    (2.228139, 3.182446)
    """
    tail = 1.0 - level
    z = _NORMAL.inv_cdf(1.0 - tail / 2.0)
    if df > 1e6:
        return z
    # Newton's method on P(|T| >= t) - tail from the normal quantile, kept inside a bracket that halving shrinks
    # whenever a step would leave it
    low, high = 0.0, 10.0
    while t_two_sided(high, df) > tail:
        low, high = high, high * 2.0
    scale = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    t = min(max(z, low), high)
    for _ in range(100):
        excess = t_two_sided(t, df) - tail
        if excess > 0:
            low = t
        else:
            high = t
        density = scale * (1 + t * t / df) ** (-(df + 1) / 2)
        step = t + excess / (2 * density) if density > 0 else (low + high) / 2
        t = step if low < step < high else (low + high) / 2
        if abs(excess) < 1e-14 or high - low < 1e-12 * max(1.0, high):
            break
    return t


# --- proportions ---


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default).

    >>> tuple(round(v, 4) for v in wilson(8, 10))
    (0.4902, 0.9433)
    >>> tuple(round(v, 4) for v in wilson(0, 10))
    (0.0, 0.2775)
    """
    if n <= 0:
        raise ValueError("a proportion of nothing has no interval")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(centre - half, 0.0), min(centre + half, 1.0)


def _newcombe_at(k1: int, n1: int, k2: int, n2: int, z: float) -> tuple[float, float]:
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def newcombe(k1: int, n1: int, k2: int, n2: int, *, level: float = 0.95) -> Comparison:
    """``k1/n1 - k2/n2`` with Newcombe's hybrid score interval and the p-value that goes with it (the two-sided
    level at which the interval's nearer end reaches zero; the interval widens steadily with the level).

    Newcombe (1998), Table II, example (a): 56/70 against 48/80.

    >>> c = newcombe(56, 70, 48, 80)
    >>> round(c.difference, 4), round(c.low, 4), round(c.high, 4), c.p_value < 0.05
    (0.2, 0.0524, 0.3339, True)
    """
    if n1 <= 0 or n2 <= 0:
        raise ValueError("a proportion of nothing has no interval")
    z = _NORMAL.inv_cdf(0.5 + level / 2.0)
    low, high = _newcombe_at(k1, n1, k2, n2, z)
    d = k1 / n1 - k2 / n2
    if d == 0:
        p = 1.0
    else:
        # the z at which the interval's end nearer zero touches it: the end moves monotonically towards (and past)
        # zero as z grows, so halving the bracket finds it
        end = 0 if d > 0 else 1
        a, b = 0.0, 1.0
        while _newcombe_at(k1, n1, k2, n2, b)[end] * d > 0 and b < 64:
            a, b = b, b * 2
        for _ in range(100):
            middle = (a + b) / 2
            if _newcombe_at(k1, n1, k2, n2, middle)[end] * d > 0:
                a = middle
            else:
                b = middle
            if b - a < 1e-10:
                break
        p = 2.0 * (1.0 - _NORMAL.cdf((a + b) / 2))
    return Comparison(d, low, high, min(max(p, 0.0), 1.0), "score interval for a difference of proportions (Newcombe)")


# --- means ---


def welch(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *, level: float = 0.95) -> Comparison:
    """``mean(a) - mean(b)`` with Welch's t interval and p-value (each sample needs two values or more).

    R's ``t.test(extra ~ group, data = sleep)``: t = -1.8608, df = 17.776, p = 0.07939, interval -3.3654832 to
    0.2054832.

    >>> first = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> second = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> c = welch(first, second)
    >>> round(c.difference, 2), round(c.low, 6), round(c.high, 6), round(c.p_value, 5)
    (-1.58, -3.365483, 0.205483, 0.07939)
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size < 2 or y.size < 2:
        raise ValueError("Welch's t needs two values or more on each side")
    d = _rounded(float(x.mean() - y.mean()), x, y)
    vx, vy = _rounded(float(x.var(ddof=1)), x, y) / x.size, _rounded(float(y.var(ddof=1)), x, y) / y.size
    se2 = vx + vy
    method = "Welch's t"
    if se2 <= 0:  # no spread on either side: the same values, or as different as they can be
        return Comparison(d, d, d, 1.0 if d == 0 else 0.0, method)
    df = se2 * se2 / (vx * vx / (x.size - 1) + vy * vy / (y.size - 1))
    se = math.sqrt(se2)
    half = t_quantile(level, df) * se
    return Comparison(d, d - half, d + half, t_two_sided(d / se, df), method)


def prediction(
    value: float, others: Sequence[float] | np.ndarray, *, level: float = 0.95, floor: float = 0.0
) -> Comparison:
    """``value - mean(others)`` judged against the spread of ``others``: would one more unit like the others land
    this far from their mean? ``t = d / (s * sqrt(1 + 1/k))`` on ``k - 1`` degrees of freedom (``k`` >= 2), where
    ``s**2`` is the others' variance, or ``floor`` when that is larger (a rate of counts is never less noisy than
    Poisson counts: ``floor`` = mean / exposure).

    >>> c = prediction(10.0, [4.0, 6.0, 5.0, 5.0])  # mean 5, s = sqrt(2/3), se = s * sqrt(1.25)
    >>> round(c.difference, 3), round(c.low, 3), round(c.high, 3), round(c.p_value, 4)
    (5.0, 2.095, 7.905, 0.012)
    """
    peers = np.asarray(others, dtype=np.float64)
    k = peers.size
    if k < 2:
        raise ValueError("a spread needs two peers or more")
    d = _rounded(float(value - peers.mean()), peers, np.array([value]))
    se = math.sqrt(max(_rounded(float(peers.var(ddof=1)), peers, peers), floor) * (1.0 + 1.0 / k))
    method = "the peers' spread (t)"
    if se <= 0:
        return Comparison(d, d, d, 1.0 if d == 0 else 0.0, method)
    half = t_quantile(level, k - 1) * se
    return Comparison(d, d - half, d + half, t_two_sided(d / se, k - 1), method)


def _rounded(value: float, *samples: np.ndarray) -> float:
    """``value`` as zero when it is within rounding of zero for numbers of the samples' size (the mean of twelve
    equal logarithms can differ from another's in the last bit; that is no difference).

    >>> _rounded(4.4e-16, np.array([3.58, 3.58])), _rounded(0.01, np.array([3.58, 3.58]))
    (0.0, 0.01)
    """
    size = max((float(np.max(np.abs(s))) for s in samples if s.size), default=1.0)
    return 0.0 if abs(value) <= 1e-12 * max(size, 1.0) ** 2 else value


# --- many comparisons ---


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values, in the order given: the i-th smallest times (m - i + 1), never below the one before
    it, at most 1. A comparison is beyond the noise at level ``a`` when its adjusted p-value is below ``a``: the chance
    of calling any of them different when none is stays at most ``a``.

    R's ``p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm")``: 0.03 0.06 0.06 0.02.

    >>> [round(p, 6) for p in holm([0.01, 0.04, 0.03, 0.005])]
    [0.03, 0.06, 0.06, 0.02]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
