"""Which leading indicators predict this company's results, and by how many weeks, without finding leads in noise.

For every leading KPI with a weekly series (activities, new pipeline, lead response, ...) and each target
(won revenue and deals won by default), :func:`find_leads` measures the lead from the engine's weekly values. Every
pair the call measures (indicator x target x segment) is one family, and every lag 1..max_lag of every pair is
tried, so a finding has to stand out of the noise of all those comparisons at once:

1. **What would fool a naive correlation is removed first.** Counts, money and hours are taken on logs (a dip of
   a third is the same size in a big and a small year). Each series is regressed on a linear trend, the yearly
   cycle (one sine/cosine pair once there is a year of weeks), the quarterly cycle (two pairs), the quarter-end
   weeks (the last week of each fiscal quarter and the one before) and the holiday weeks (Thanksgiving, the week
   before Christmas, Christmas, New Year), and pre-whitened (regression with autoregressive errors).
2. **Both series go through the same filter**: the indicator's own autoregressive filter (order by BIC), then the
   one that whitens what is left of the target (Box-Jenkins' transfer-function identification, symmetric). Two
   series that only share a driver in the same week (a common random walk, a step, a holiday dip) then correlate
   as much with the indicator first as with the target first, whatever the driver's shape.
3. **A lead is a lag >= 1 week at which the indicator-first correlation stands out**: the statistic is the largest,
   over lags k >= 1, of ``|r(k)|`` less whatever the target-first correlation ``r(-k)`` (on the same side) has
   beyond one standard error. A driver the two share in the same week shows up on both sides and is taken off;
   the noise of the target-first side costs a real lead nothing. A same-week link, however strong, is no lead: it
   is reported as moving together in the same week (its own test, ``|r(0)|``).
4. **Significance for the whole family**: block permutations of the whitened indicators, the same permutations
   for every pair of a stretch of weeks (so the dependence between indicators is kept), and Westfall and Young's
   step-down max-T adjustment over the pairs (each pair's statistic standardised on its own permutations):
   ``p_value`` is the family-adjusted p, and a pair is a leader only when it is at most ``alpha``. The confidence interval is Fisher's on the effective sample size (Bartlett),
   simultaneous over every pair and lag (Bonferroni).
5. **Stability**: the best lag found again (within a week, same sign) in each half of the history.
6. **In business units**: the effect is the slope of the target on the indicator ``lag`` weeks earlier, in the
   original units, with the trend and calendar held fixed, per a round amount of the indicator (``step``).
7. **Not enough history** below ``min_weeks`` weekly pairs at the longest lag (26 + 13 weeks by default):
   no number is given then.

Per segment (``by="region"`` etc.), each segment is analysed on its own weeks, all segments in one family.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> drive = rng.normal(size=110)
>>> result = lead_lag(drive[3:], drive[:-3] + rng.normal(size=107) * 0.5, permutations=99)
>>> result.lag_weeks, result.significant
(3, True)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
import polars as pl

from kpi_core import periods as P
from kpi_core.engine import DATED, POINT_IN_TIME, availability, earliest_date, mixed_currencies, report
from kpi_core.formatting import money
from kpi_core.model import Dataset
from kpi_core.registry import BY_ID, REGISTRY, SCOPES, get

Array = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]

DEFAULT_TARGETS: tuple[str, ...] = ("won_revenue", "deals_won")
MAX_LAG = 13
MIN_WEEKS = 26
PERMUTATIONS = 999
ALPHA = 0.05
MAX_GAPS = 0.1
"""Share of weeks without a value (a rate in a week with no leads) that is filled in; more is too little data."""
YEAR_WEEKS = 52.1775
LOG_UNITS = frozenset({"count", "currency", "hours"})
"""Units whose weekly series are taken on logs (shares stay as they are)."""
STRONG = 0.6
MODERATE = 0.4
"""Correlations (after the filters) from which a lead is called strong, moderate; below, weak."""


@dataclass(frozen=True)
class Lead:
    """The lead of one indicator on one target: the best lag and how sure it is.

    ``reason`` says why there is no number (not enough history, no variation); then the other fields are
    empty. ``lag_weeks`` is the best lead of 1 week or more and ``correlation`` the (filtered) correlation there;
    ``p_value`` is adjusted for the whole family of pairs and lags measured together, ``significant`` is
    ``p_value <= alpha``. ``profile`` is the correlation at each lag 0..max_lag (the indicator first),
    ``reverse`` the same with the target first; ``band`` the lead margin (``|profile[k]|`` less the result-first
    excess, see :func:`_reverse_excess`) a lag must reach with every pair and lag counted, and ``thresholds`` what
    ``|profile[k]|`` itself must pass at each lag (at 0, for a same-week link). ``same_week`` says the two move together in the same week beyond
    chance (``same_week_p``, adjusted the same way), which is not a lead. ``effect`` is the change of the target
    ``lag_weeks`` later per ``step`` more of the indicator, in the original units."""

    lag_weeks: int | None
    correlation: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    significant: bool
    weeks: int
    stable: bool | None
    band: float | None = None
    profile: tuple[float, ...] = ()
    reverse: tuple[float, ...] = ()
    halves: tuple[int | None, int | None] = (None, None)
    reason: str | None = None
    same_week: bool = False
    same_week_p: float | None = None
    same_week_band: float | None = None
    effect: float | None = None
    step: float | None = None
    thresholds: tuple[float, ...] = ()


@dataclass(frozen=True)
class LeadingReport:
    """What :func:`find_leads` found.

    ``frame``: one row per indicator, target (and segment), the best lead only: indicator, target, <by>,
    lag_weeks, correlation, ci_low, ci_high, p_value (family-adjusted), significant, weeks, stable, band,
    first_half_lag, second_half_lag, reverse_correlation (target first, same lag), same_week,
    same_week_correlation, same_week_p, strength, step, effect, note (why there is no number). ``profiles``:
    correlation by lag (indicator, target, <by>, lag, correlation, reverse, band: what ``|correlation|`` must pass
    there). ``series``: the weekly values analysed (week, period, <by>, kpi, value). ``family``: what was corrected
    for, in words; ``currency``: the data's."""

    frame: pl.DataFrame
    profiles: pl.DataFrame
    series: pl.DataFrame
    weeks: tuple[date, ...]
    warnings: list[str] = field(default_factory=list)
    family: str = ""
    currency: str = "USD"


def needed_weeks(max_lag: int = MAX_LAG, min_weeks: int = MIN_WEEKS) -> int:
    """Weeks of history needed: ``min_weeks`` weekly pairs even at the longest lag."""
    return min_weeks + max_lag


def history_weeks(dataset: Dataset) -> list[P.Period]:
    """The complete ISO weeks of the data: from the first whole week to the last one ended by the as-of date."""
    # subscriptions' start dates reach back to long-held accounts: the weekly series start with the sales data
    first = earliest_date(dataset, [c for c in DATED if c[0] != "subscriptions"])
    if first is None:
        return []
    monday = first if first.weekday() == 0 else first + timedelta(days=7 - first.weekday())
    last = P.make(dataset.as_of + timedelta(days=1), "week").start  # the week after the last complete one
    weeks = []
    day = monday
    while day < last:
        weeks.append(P.make(day, "week"))
        day += timedelta(days=7)
    return weeks


def _thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def _holds(start: date, day: date) -> bool:
    return start <= day <= start + timedelta(days=6)


CALENDAR_COLUMNS = (
    "quarter sin",
    "quarter cos",
    "half-quarter sin",
    "half-quarter cos",
    "quarter-end week",
    "week before quarter end",
    "Thanksgiving week",
    "week before Christmas",
    "Christmas week",
    "New Year week",
    "year sin",
    "year cos",
)
"""The columns of :func:`calendar_terms`, in order (the yearly pair only with a year of weeks)."""


def calendar_terms(starts: Sequence[date], fiscal_year_start: int = 1) -> Array:
    """Regressors for what the calendar does to every series: quarterly cycles, quarter-end weeks, holiday weeks
    (:data:`CALENDAR_COLUMNS`) and the yearly cycle.

    One row per week (by its Monday); the yearly pair only with a year of weeks (fewer cannot tell a season from
    a trend).

    >>> calendar_terms([date(2026, 3, 23), date(2026, 3, 30), date(2026, 4, 6)]).shape
    (3, 10)
    """
    rows = []
    for start in starts:
        middle = start + timedelta(days=3)
        quarter = P.make(middle, "quarter", fiscal_year_start)
        phase = 2 * math.pi * (middle - quarter.start).days / quarter.days
        last_day = quarter.end - timedelta(days=1)
        week_end = start + timedelta(days=6)
        closing = start <= last_day <= week_end or start <= quarter.start - timedelta(days=1) <= week_end
        before = start + timedelta(days=7) <= last_day <= week_end + timedelta(days=7)
        christmas = date(start.year, 12, 25)
        new_year = date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, 1, 1)
        year = 2 * math.pi * (middle - date(2000, 1, 3)).days / 7 / YEAR_WEEKS
        rows.append(
            [
                math.sin(phase),
                math.cos(phase),
                math.sin(2 * phase),
                math.cos(2 * phase),
                float(closing),
                float(before),
                float(_holds(start, _thanksgiving(start.year))),
                float(_holds(start + timedelta(days=7), christmas)),
                float(_holds(start, christmas)),
                float(_holds(start, new_year)),
                math.sin(year),
                math.cos(year),
            ]
        )
    width = len(CALENDAR_COLUMNS)
    terms = np.array(rows, dtype=np.float64).reshape(len(rows), width)
    return terms if len(rows) >= YEAR_WEEKS else terms[:, : width - 2]


@functools.lru_cache(maxsize=16)
def _calendar(starts: tuple[date, ...], fiscal_year_start: int) -> Array:
    """Every calendar term for a run of weeks (computed once; pairs take their rows)."""
    terms = calendar_terms(starts, fiscal_year_start)
    width = len(CALENDAR_COLUMNS)
    if terms.shape[1] < width:
        terms = np.column_stack([terms, np.zeros((len(starts), width - terms.shape[1]))])
    return terms


def _design(weeks: int, terms: Array | None) -> Array:
    """Intercept, trend and the calendar terms of a stretch of weeks (a column never set is no regressor; the
    yearly pair only with a year of weeks)."""
    design = np.column_stack([np.ones(weeks), np.arange(weeks, dtype=np.float64) / weeks])
    if terms is not None:
        design = np.column_stack([design, terms if weeks >= YEAR_WEEKS else terms[:, :-2]])
    return np.asarray(design[:, np.abs(design).sum(axis=0) > 0], dtype=np.float64)


def to_log(values: Array, unit: str | None) -> Array:
    """A weekly series on the scale it is analysed on: counts and hours as ``log(1 + v)``, money as
    ``log(v + c)`` with ``c`` the 10th percentile of its non-zero weeks (about one deal when deals are few, so a
    week without one is no outlier); shares, and anything with a negative value, as they are.

    >>> to_log(np.array([0.0, 1.0, 3.0]), "count").round(3).tolist()
    [0.0, 0.693, 1.386]
    """
    if unit not in LOG_UNITS or values.size == 0 or float(np.nanmin(values)) < 0:
        return values.astype(np.float64)
    offset = 1.0
    if unit == "currency":
        positive = values[values > 0]
        offset = max(1.0, float(np.quantile(positive, 0.1))) if positive.size else 1.0
    return np.asarray(np.log(values + offset), dtype=np.float64)


def _residual(series: Array, design: Array) -> Array:
    beta, *_ = np.linalg.lstsq(design, series, rcond=None)
    return np.asarray(series - design @ beta, dtype=np.float64)


def _lagged(series: Array, order: int, start: int) -> Array:
    """Columns series[t-1], ..., series[t-order] for t >= start."""
    n = series.size
    return np.column_stack([series[start - i - 1 : n - i - 1] for i in range(order)])


def ar_filter(series: Array, max_order: int) -> Array:
    """Coefficients of the autoregressive model of ``series`` (order 0..max_order, by BIC: a filter fitted to
    chance wiggles would make the test lenient)."""
    n = series.size
    common = series[max_order:]
    best: tuple[float, Array] = (math.inf, np.zeros(0))
    for order in range(max_order + 1):
        if order == 0:
            residual = common - common.mean()
            phi = np.zeros(0)
        else:
            design = np.column_stack([np.ones(n - max_order), _lagged(series, order, max_order)])
            beta, *_ = np.linalg.lstsq(design, common, rcond=None)
            residual = common - design @ beta
            phi = np.asarray(beta[1:], dtype=np.float64)
        variance = float(residual @ residual) / common.size
        bic = common.size * math.log(max(variance, 1e-300)) + order * math.log(common.size)
        if bic < best[0] - 1e-9:
            best = (bic, phi)
    return best[1]


def _apply(series: Array, phi: Array) -> Array:
    """The autoregressive filter ``e[t] = s[t] - sum(phi[i] * s[t-1-i])`` along the first axis (weeks)."""
    order = phi.size
    if order == 0:
        return series.copy()
    n = series.shape[0]
    out = series[order:].copy()
    for i in range(order):
        out -= phi[i] * series[order - i - 1 : n - i - 1]
    return np.asarray(out, dtype=np.float64)


def _basis(design: Array) -> Array:
    """An orthonormal basis of the columns of ``design`` (collinear or empty columns dropped)."""
    u, s, _ = np.linalg.svd(design, full_matrices=False)
    return np.asarray(u[:, s > 1e-10 * max(float(s.max(initial=0.0)), 1e-300)], dtype=np.float64)


def _project(series: Array, basis: Array) -> Array:
    """What is left of a series (or of each row) once the basis is regressed out."""
    return np.asarray(series - (series @ basis) @ basis.T, dtype=np.float64)


def _cross(xs: Array, y: Array, max_lag: int) -> Array:
    """Pearson correlation of each row of ``xs`` at week t-k with ``y`` at week t, for k = -max_lag..max_lag
    (column ``max_lag + k``; each lag on its own overlap): positive k, the row first.

    >>> x, y = np.array([[1.0, 3, 2, 5, 4]]), np.array([0.0, 1, 3, 2, 5])
    >>> bool(np.isclose(_cross(x, y, 1)[0, 2], np.corrcoef(x[0, :4], y[1:])[0, 1]))
    True
    """
    n = xs.shape[1]
    lags = np.arange(-max_lag, max_lag + 1)
    weeks = np.arange(n)[:, None]
    # inside[t, j]: week t of the row is in the overlap at lag lags[j]; shifted[t, j] = y[t + lags[j]] there: every
    # lag's sums come out of three matrix products
    inside = (weeks >= np.maximum(0, -lags)) & (weeks < n - np.maximum(0, lags))
    shifted = np.where(inside, y[np.clip(weeks + lags, 0, n - 1)], 0.0)
    m = (n - np.abs(lags)).astype(np.float64)
    sa, saa, products = xs @ inside, (xs * xs) @ inside, xs @ shifted
    sb, sbb = shifted.sum(axis=0), (shifted * shifted).sum(axis=0)
    covariance = products - sa * sb / m
    spread = np.maximum((saa - sa * sa / m) * (sbb - sb * sb / m), 0.0)
    denominator = np.sqrt(spread)
    return np.asarray(np.divide(covariance, denominator, out=np.zeros_like(covariance), where=denominator > 1e-300))


def _reverse_excess(ahead: Array, behind: Array, weeks: int) -> Array:
    """How much of the result-first correlation, on the side of the indicator-first one, goes beyond one standard
    error (1/sqrt(weeks)): a driver both share in the same week shows up on both sides and is taken off a lead; the
    noise of the result-first side costs nothing."""
    return np.asarray(np.maximum(0.0, np.sign(ahead) * behind - 1 / math.sqrt(weeks)), dtype=np.float64)


def _lead_statistic(cross: Array, max_lag: int, weeks: int, reach: int | None = None) -> tuple[Array, Array]:
    """For each row of :func:`_cross` (over ``weeks`` weeks): the largest lead margin over k = 1..reach,
    ``|r(k)|`` less the result-first excess at k (:func:`_reverse_excess`), and the k."""
    reach = max_lag if reach is None else reach
    ahead = cross[:, max_lag + 1 : max_lag + 1 + reach]
    behind = cross[:, max_lag - reach : max_lag][:, ::-1]
    margin = np.abs(ahead) - _reverse_excess(ahead, behind, weeks)
    best = np.argmax(margin, axis=1)
    return np.asarray(margin[np.arange(margin.shape[0]), best], dtype=np.float64), best + 1


def _block_indices(n: int, count: int, rng: np.random.Generator) -> Indices:
    """``count`` rearrangements of ``n`` weeks: each rotated by a random number of weeks, cut into blocks of about
    n^(1/3) weeks (what autocorrelation is left stays inside them), the blocks shuffled (the few weeks that do not
    fill a block stay at the end)."""
    size = max(2, round(n ** (1 / 3)))
    blocks = n // size
    rotated = (np.arange(n)[None, :] + rng.integers(0, n, count)[:, None]) % n
    order = np.argsort(rng.random((count, blocks)), axis=1)
    inside = (order[:, :, None] * size + np.arange(size)[None, None, :]).reshape(count, blocks * size)
    tail = np.broadcast_to(np.arange(blocks * size, n), (count, n - blocks * size))
    return np.asarray(np.take_along_axis(rotated, np.concatenate([inside, tail], axis=1), axis=1), dtype=np.intp)


def _standardised(stats: Array) -> tuple[Array, Array, Array]:
    """Each row on its own scale: (stats - mean) / sd over the row, the mean, the sd. The observed column is counted
    like every permuted one: leaving it out would shrink the permuted values against it (a liberal test)."""
    mean = stats.mean(axis=1, keepdims=True)
    spread = stats.std(axis=1, keepdims=True)
    spread = np.where(spread > 1e-12, spread, 1.0)
    return (stats - mean) / spread, mean[:, 0], spread[:, 0]


def step_down(stats: Array) -> Array:
    """Westfall and Young's step-down max-T adjustment: ``stats`` holds one row per hypothesis, column 0 the
    observed statistic (larger is stronger), the other columns the same statistic under one shared permutation
    each (so the dependence between hypotheses is kept). Each row is standardised on its own null, then compared
    with the largest permuted value among it and every less significant hypothesis. Returns each hypothesis's
    p-value adjusted for the whole family (strong control of the family-wise error rate under subset pivotality).

    >>> step_down(np.array([[5.0, 1.0, 2.0, 0.0], [0.5, 1.0, 0.0, 2.0]])).round(2).tolist()
    [0.25, 0.75]
    """
    z = _standardised(stats)[0]
    order = np.argsort(-z[:, 0], kind="stable")
    # top[i, b]: the largest standardised statistic of permutation b among the i-th most significant hypothesis
    # and every less significant one
    top = np.maximum.accumulate(z[order][::-1], axis=0)[::-1]
    adjusted = np.maximum.accumulate((top >= z[order, 0][:, None] - 1e-12).mean(axis=1))
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


def _band(stats: Array, alpha: float) -> Array:
    """Per hypothesis, the statistic it must reach to be significant for the family (single step): the
    ``1 - alpha`` quantile of the family's largest standardised permuted statistic, on each one's own scale."""
    z, mean, spread = _standardised(stats)
    critical = float(np.quantile(z[:, 1:].max(axis=0), 1 - alpha))
    return np.asarray(mean + critical * spread, dtype=np.float64)


def _acf(series: Array, lags: int) -> Array:
    centred = series - series.mean()
    total = float(centred @ centred)
    if total <= 0:
        return np.zeros(lags)
    return np.array([float(centred[: -k or None] @ centred[k:]) / total for k in range(1, lags + 1)])


def _effective_size(x: Array, y: Array, pairs: int) -> float:
    """Bartlett's effective number of independent pairs for the correlation of two autocorrelated series."""
    lags = max(1, min(x.size // 4, 20))
    inflation = 1 + 2 * float(_acf(x, lags) @ _acf(y, lags))
    return float(min(max(pairs / max(inflation, 1e-9), 4.0), pairs))


def _prepare_pair(indicator: Array, target: Array) -> tuple[slice, str | None]:
    """The span of weeks both series cover (leading and trailing empty weeks dropped), or why there is none."""
    both = ~np.isnan(indicator) & ~np.isnan(target) & (indicator != 0) & (target != 0)
    present = np.flatnonzero(both)
    if present.size == 0:
        return slice(0, 0), "no weeks with both values"
    return slice(int(present[0]), int(present[-1]) + 1), None


def _fill_gaps(series: Array) -> tuple[Array, int]:
    """Weeks without a value filled in linearly from their neighbours; how many there were."""
    missing = np.isnan(series)
    if not missing.any():
        return series, 0
    index = np.arange(series.size)
    filled = series.copy()
    filled[missing] = np.interp(index[missing], index[~missing], series[~missing])
    return filled, int(missing.sum())


def _no_number(weeks: int, reason: str) -> Lead:
    return Lead(None, None, None, None, None, False, weeks, None, reason=reason)


def nice_step(values: Array, unit: str | None) -> float:
    """A round amount of an indicator to state an effect per: the spread of ``values`` (its weekly swings) rounded
    to 1, 2 or 5 times a power of ten (at least 1 for counts, 1 point for shares).

    >>> nice_step(np.array([10.0, 22.0, 15.0, 31.0]), "count"), nice_step(np.array([0.2, 0.3, 0.25]), "percent")
    (10.0, 0.05)
    """
    spread = float(np.std(values)) if values.size > 1 else 0.0
    scale = 100.0 if unit == "percent" else 1.0
    spread *= scale
    if not math.isfinite(spread) or spread <= 0:
        return 1.0 / scale
    power = 10.0 ** math.floor(math.log10(spread))
    step = min((1.0, 2.0, 5.0, 10.0), key=lambda m: abs(math.log(spread / (m * power)))) * power
    if unit in ("count", "percent"):
        step = max(step, 1.0)
    return step / scale


def lagged_effect(indicator: Array, target: Array, lag: int, design: Array | None = None) -> float:
    """The slope of ``target`` at week t on ``indicator`` at week t - lag (same units as the data), with the
    columns of ``design`` (intercept, trend, calendar; one row per week) held fixed.

    >>> round(lagged_effect(np.array([1.0, 4, 2, 8, 5, 7]), np.array([0.0, 3, 12, 6, 24, 15]), 1), 6)
    3.0
    """
    n = indicator.size
    columns = np.ones((n - lag, 1)) if design is None else design[lag:]
    regressors = np.column_stack([columns, indicator[: n - lag]])
    beta, *_ = np.linalg.lstsq(regressors, target[lag:], rcond=None)
    return float(beta[-1])


@dataclass(frozen=True, eq=False)
class Pair:
    """One indicator and one target, weekly: the same weeks, oldest first, NaN where a week has no value.

    Pairs with the same ``key`` share their indicator (its filter is fitted once); ``units`` (KPI units, or None)
    say which series are taken on logs."""

    indicator: Array
    target: Array
    key: str = ""
    units: tuple[str | None, str | None] = (None, None)


@dataclass(frozen=True, eq=False)
class _Ready:
    index: int
    key: str
    x: Array
    y: Array
    tx: Array
    ty: Array
    units: tuple[str | None, str | None]


@dataclass(frozen=True, eq=False)
class _Measured:
    ready: _Ready
    design: Array
    hx: Array
    hy: Array
    cross: Array
    lead: Array
    same: Array


def _ready(index: int, pair: Pair, need: int) -> tuple[tuple[int, int], _Ready] | Lead:
    """The pair's stretch of weeks and its series (gaps filled, on their analysis scale), or why no number."""
    x_all = np.asarray(pair.indicator, dtype=np.float64)
    y_all = np.asarray(pair.target, dtype=np.float64)
    if x_all.shape != y_all.shape or x_all.ndim != 1:
        raise ValueError("the indicator and the target need the same weeks")
    span, why = _prepare_pair(x_all, y_all)
    x, y = x_all[span], y_all[span]
    weeks = x.size
    if why is not None or weeks < need:
        return _no_number(weeks, f"not enough history: {weeks} weeks of {need}")
    x, x_gaps = _fill_gaps(x)
    y, y_gaps = _fill_gaps(y)
    if max(x_gaps, y_gaps) > MAX_GAPS * weeks:
        return _no_number(weeks, f"not enough history: {max(x_gaps, y_gaps)} of {weeks} weeks empty")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return _no_number(weeks, "no variation")
    tx, ty = to_log(x, pair.units[0]), to_log(y, pair.units[1])
    return (span.start, span.stop), _Ready(index, pair.key, x, y, tx, ty, pair.units)


def _measure_stretch(
    members: list[_Ready], design: Array, max_lag: int, permutations: int, rng: np.random.Generator
) -> list[_Measured | tuple[int, Lead]]:
    """Every pair of one stretch of weeks through the same steps, with the same permutations of the weeks."""
    n = design.shape[0]
    top = max(1, min(8, n // 10))
    out: list[_Measured | tuple[int, Lead]] = []
    live: list[_Ready] = []
    filters: dict[str, Array] = {}
    for m in members:
        rx, ry = _residual(m.tx, design), _residual(m.ty, design)
        if any(np.ptp(r) < 1e-12 * max(1.0, float(np.abs(v).max())) for r, v in ((rx, m.tx), (ry, m.ty))):
            out.append((m.index, _no_number(n, "no variation beyond trend and calendar")))
            continue
        live.append(m)
        if m.key not in filters:
            filters[m.key] = ar_filter(rx, top)
    if not live:
        return out
    # first filter: each indicator's own, applied to it, to its targets and to the calendar (Box-Jenkins); every
    # series of the stretch starts at the same week so that one rearrangement of the weeks serves every pair
    cut = max(phi.size for phi in filters.values())

    def first(values: Array, phi: Array) -> Array:
        return _apply(values, phi)[cut - phi.size :]

    rearranged = _block_indices(n - cut, permutations, rng)
    indicators: dict[str, tuple[Array, Array, Array]] = {}
    for key, phi in filters.items():
        tx = next(m.tx for m in live if m.key == key)
        basis = _basis(first(design, phi))
        ex = _project(first(tx, phi), basis)
        indicators[key] = (basis, ex, ex[rearranged])
    seconds: list[tuple[_Ready, Array, Array]] = []
    for m in live:
        ey = _project(first(m.ty, filters[m.key]), indicators[m.key][0])
        seconds.append((m, ey, ar_filter(ey, min(4, top))))
    # second filter: what whitens the filtered target, applied to both series again (the same filter on both keeps
    # a shared driver symmetric between the indicator first and the target first)
    cut_second = max(g.size for _, _, g in seconds)
    for m, ey, g in seconds:
        _, ex, shuffled = indicators[m.key]

        def second(values: Array, g: Array = g) -> Array:
            return _apply(values, g)[cut_second - g.size :]

        basis = _basis(second(first(design, filters[m.key])))
        hx = _project(second(ex), basis)
        hy = _project(second(ey), basis)
        # the second projection removes what the first would have (the calendar's filtered columns span it)
        null = _cross(_project(second(shuffled.T).T, basis), hy, max_lag)
        cross = _cross(hx[None, :], hy, max_lag)[0]
        weeks = hx.size
        lead = np.concatenate(
            [_lead_statistic(cross[None, :], max_lag, weeks)[0], _lead_statistic(null, max_lag, weeks)[0]]
        )
        same = np.abs(np.concatenate([[cross[max_lag]], null[:, max_lag]]))
        out.append(_Measured(m, design, hx, hy, cross, lead, same))
    return out


def _halves(
    hx: Array, hy: Array, lag: int, r: float, max_lag: int
) -> tuple[tuple[int | None, int | None], bool | None]:
    """The best lead in each half of the history, and whether both agree with ``lag`` (within a week, same sign)."""
    half = hx.size // 2
    reach = min(max_lag, half - 12)
    if reach < lag:
        return (None, None), None
    found: list[int] = []
    agree = True
    for part in (slice(0, half), slice(half, hx.size)):
        cross = _cross(hx[part][None, :], hy[part], reach)
        best = int(_lead_statistic(cross, reach, part.stop - part.start)[1][0])
        found.append(best)
        agree = agree and abs(best - lag) <= 1 and bool(np.sign(cross[0, reach + best]) == np.sign(r))
    return (found[0], found[1]), agree


def lead_family(
    pairs: Sequence[Pair],
    *,
    starts: Sequence[date] | None = None,
    fiscal_year_start: int = 1,
    max_lag: int = MAX_LAG,
    min_weeks: int = MIN_WEEKS,
    permutations: int = PERMUTATIONS,
    alpha: float = ALPHA,
    seed: int = 0,
) -> list[Lead]:
    """The lead of each pair, every pair and lag 1..max_lag measured as one family (see the module's steps).

    ``starts`` (the Monday of each week, as long as the series) adds the calendar terms; without it only the
    trend is removed. Weeks before both series start and after either ends are left out; weeks without a value
    inside are filled in when they are at most a tenth. The p-values are adjusted for every pair that gets a number.
    """
    if max_lag < 1:
        raise ValueError("a lead is 1 week or more: max_lag must be at least 1")
    need = needed_weeks(max_lag, min_weeks)
    leads: dict[int, Lead] = {}
    stretches: dict[tuple[int, int], list[_Ready]] = {}
    for index, pair in enumerate(pairs):
        prepared = _ready(index, pair, need)
        if isinstance(prepared, Lead):
            leads[index] = prepared
        else:
            stretches.setdefault(prepared[0], []).append(prepared[1])
    rng = np.random.default_rng(seed)
    measured: list[_Measured] = []
    for (a, b), members in stretches.items():
        terms = _calendar(tuple(starts), fiscal_year_start)[a:b] if starts is not None else None
        for result in _measure_stretch(members, _design(b - a, terms), max_lag, permutations, rng):
            if isinstance(result, _Measured):
                measured.append(result)
            else:
                leads[result[0]] = result[1]
    if measured:
        lead_stats = np.stack([m.lead for m in measured])
        same_stats = np.stack([m.same for m in measured])
        lead_p, lead_band = step_down(lead_stats), _band(lead_stats, alpha)
        same_p, same_band = step_down(same_stats), _band(same_stats, alpha)
        # the interval at the lag picked is simultaneous over every pair and lag of the family (Bonferroni)
        z = NormalDist().inv_cdf(1 - alpha / (2 * len(measured) * max_lag))
        for i, m in enumerate(measured):
            leads[m.ready.index] = _lead(m, max_lag, z, alpha, (lead_p[i], lead_band[i]), (same_p[i], same_band[i]))
    return [leads[i] for i in range(len(pairs))]


def _lead(
    m: _Measured, max_lag: int, z: float, alpha: float, lead: tuple[float, float], same: tuple[float, float]
) -> Lead:
    cross = m.cross
    lag = int(_lead_statistic(cross[None, :], max_lag, m.hx.size)[1][0])
    r = float(cross[max_lag + lag])
    n_eff = _effective_size(m.hx, m.hy, m.hx.size - lag)
    centre = math.atanh(max(min(r, 0.999999), -0.999999))
    spread = z / math.sqrt(max(n_eff - 3, 1.0))
    halves, stable = _halves(m.hx, m.hy, lag, r, max_lag)
    # a typical swing of the indicator beyond its trend and calendar, in its own units
    step = nice_step(_residual(m.ready.x, m.design), m.ready.units[0])
    return Lead(
        lag_weeks=lag,
        correlation=r,
        ci_low=math.tanh(centre - spread),
        ci_high=math.tanh(centre + spread),
        p_value=float(lead[0]),
        significant=bool(lead[0] <= alpha),
        weeks=m.ready.x.size,
        stable=stable,
        band=float(lead[1]),
        profile=tuple(float(v) for v in cross[max_lag:]),
        thresholds=(
            float(same[1]),
            *(float(lead[1] + e) for e in _reverse_excess(cross[max_lag + 1 :], cross[:max_lag][::-1], m.hx.size)),
        ),
        reverse=tuple(float(v) for v in cross[max_lag::-1]),
        halves=halves,
        same_week=bool(same[0] <= alpha),
        same_week_p=float(same[0]),
        same_week_band=float(same[1]),
        effect=lagged_effect(m.ready.x, m.ready.y, lag, m.design) * step,
        step=step,
    )


def lead_lag(
    indicator: Sequence[float | None] | Array,
    target: Sequence[float | None] | Array,
    *,
    starts: Sequence[date] | None = None,
    fiscal_year_start: int = 1,
    max_lag: int = MAX_LAG,
    min_weeks: int = MIN_WEEKS,
    permutations: int = PERMUTATIONS,
    alpha: float = ALPHA,
    seed: int = 0,
    units: tuple[str | None, str | None] = (None, None),
) -> Lead:
    """The lead of one weekly indicator on one weekly target (same weeks, oldest first): a family of one pair, so
    the p-value counts the lags tried only. ``units``: KPI units of the two (counts, money and hours go on logs).
    """
    x = np.array([np.nan if v is None else v for v in indicator], dtype=np.float64)
    y = np.array([np.nan if v is None else v for v in target], dtype=np.float64)
    if x.size != y.size:
        raise ValueError("the indicator and the target need the same weeks")
    return lead_family(
        [Pair(x, y, units=units)],
        starts=starts,
        fiscal_year_start=fiscal_year_start,
        max_lag=max_lag,
        min_weeks=min_weeks,
        permutations=permutations,
        alpha=alpha,
        seed=seed,
    )[0]


def weekly_series(
    dataset: Dataset,
    kpis: Sequence[str],
    *,
    by: str | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
    weeks: Sequence[P.Period] | None = None,
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Each KPI's value in every complete week (week, period, <by>, kpi, value), and the KPIs that cannot be."""
    chosen = list(weeks) if weeks is not None else history_weeks(dataset)
    dims = [by] if by else []
    schema = {"week": pl.Date, "period": pl.String, **{d: pl.String for d in dims}, "kpi": pl.String}
    empty = pl.DataFrame(schema={**schema, "value": pl.Float64})
    if not chosen or not kpis:
        return empty, {}
    result = report(
        dataset,
        list(dict.fromkeys(kpis)),
        grain="week",
        periods=chosen,
        by=dims,
        filters=filters,
        compare=False,
        split_currencies=False,
    )
    if not result.frame.height:
        return empty, result.unavailable
    starts = pl.DataFrame({"period": [w.label for w in chosen], "week": [w.start for w in chosen]})
    frame = (
        result.frame.filter(pl.col("stage").is_null())
        .select("period", *[pl.col(d).cast(pl.String) for d in dims], "kpi", "value")
        .join(starts, on="period", how="inner")
        .select("week", "period", *dims, "kpi", "value")
        .sort([*dims, "kpi", "week"])
    )
    return frame, result.unavailable


def weekly_reason(kpi_id: str) -> str | None:
    """Why a KPI has no weekly series from one export (None when it has one)."""
    kpi = get(kpi_id)
    if kpi_id in POINT_IN_TIME:
        return f"{kpi.label} describes the pipeline as of the export date: one export has no weekly history of it."
    if kpi.scope in ("growth", "snapshots", "subscriptions") or kpi.per_stage:
        return f"{kpi.label} has no weekly series to measure a lead with."
    return None


DEFAULT_INDICATORS: tuple[str, ...] = tuple(
    k.id for k in REGISTRY if k.indicator == "leading" and weekly_reason(k.id) is None
)
"""Every leading KPI with a weekly series: activities, calls, emails, meetings, activities per rep, lead response,
leads contacted within an hour, new opportunities, new pipeline, lead conversion (open-pipeline KPIs describe
only the export date, stage KPIs are per stage)."""


def family_words(pairs: int, max_lag: int, by: str | None = None, segments: int = 0) -> str:
    """What a family of tests was corrected for, in words: ``28 pairs x 13 lags``."""
    where = f" over {segments} {by.replace('_', ' ')} segment{'s' if segments != 1 else ''}" if by else ""
    return f"{pairs} pair{'s' if pairs != 1 else ''}{where} x {max_lag} lag{'s' if max_lag != 1 else ''}"


def find_leads(
    dataset: Dataset,
    indicators: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    *,
    by: str | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
    max_lag: int = MAX_LAG,
    min_weeks: int = MIN_WEEKS,
    permutations: int = PERMUTATIONS,
    alpha: float = ALPHA,
    seed: int = 0,
) -> LeadingReport:
    """Measure how many weeks each leading indicator leads each target, overall or per segment of ``by``: every
    indicator x target x segment x lag of the call is one family (:func:`lead_family`).

    Parameters
    ----------
    indicators: KPI ids (default :data:`DEFAULT_INDICATORS`).
    targets: KPI ids (default won revenue and deals won); any KPI with a weekly series.
    by: one dimension (``region``, ``team``, ``owner``...): each segment analysed on its own weeks.
    max_lag: the longest lead tried, in weeks (1 or more). min_weeks: weekly pairs needed at the longest lag.
    permutations: block permutations for the p-values (fewer is faster and coarser). seed: for repeatable p-values.

    Examples
    --------
    >>> from sample_data import generate
    >>> ds = Dataset.prepare(generate(3000, seed=3))
    >>> found = find_leads(ds, ["activities"], ["new_opportunities"], permutations=99).frame
    >>> found.select("indicator", "target", "lag_weeks", "significant").row(0)
    ('activities', 'new_opportunities', 3, True)
    """
    if max_lag < 1:
        raise ValueError("a lead is 1 week or more: max_lag must be at least 1")
    wanted_targets = list(dict.fromkeys(get(t).id for t in (targets or DEFAULT_TARGETS)))
    wanted_indicators = list(dict.fromkeys(get(i).id for i in (indicators or DEFAULT_INDICATORS)))
    warnings: list[str] = []
    for kpi_id in dict.fromkeys([*wanted_targets, *wanted_indicators]):
        reason = weekly_reason(kpi_id)
        if reason:
            warnings.append(reason)
    wanted_targets = [t for t in wanted_targets if weekly_reason(t) is None]
    wanted_indicators = [i for i in wanted_indicators if weekly_reason(i) is None]
    if by and by not in dataset.dimensions():
        raise ValueError(f"unknown dimension {by!r}; this data has: {', '.join(dataset.dimensions()) or 'none'}")
    unavailable = availability(
        dataset, [*wanted_targets, *wanted_indicators], by=[by] if by else [], filters=filters, compare=False
    )
    warnings += [f"{reason}" for reason in unavailable.values()]
    wanted_targets = [t for t in wanted_targets if t not in unavailable]
    wanted_indicators = [i for i in wanted_indicators if i not in unavailable]
    if mixed_currencies(dataset) and not (filters and len(filters.get("currency", ())) == 1):
        warnings.append(
            "Deals are in several currencies: money series here add amounts in different currencies. Filter one "
            "currency, or upload a rate table, for money leads you can trust."
        )

    weeks = history_weeks(dataset)
    dims = [by] if by else []
    series, _ = weekly_series(
        dataset, list(dict.fromkeys([*wanted_targets, *wanted_indicators])), by=by, filters=filters, weeks=weeks
    )
    need = needed_weeks(max_lag, min_weeks)
    if len(weeks) < need:
        warnings.append(
            f"Not enough history: {len(weeks)} complete week(s) of data; measuring a lead of up to {max_lag} weeks "
            f"needs at least {need}. No number is given from less."
        )
    index = {w.start: i for i, w in enumerate(weeks)}
    starts = [w.start for w in weeks]
    values: dict[tuple[str | None, str], Array] = {}
    for key, group in series.group_by([*dims, "kpi"], maintain_order=True):
        segment = str(key[0]) if dims else None
        kpi_id = str(key[-1])
        array = np.full(len(weeks), np.nan)
        for week, value in zip(group["week"].to_list(), group["value"].to_list(), strict=True):
            if value is not None:
                array[index[week]] = value
        values[(segment, kpi_id)] = array
    segments: list[str | None] = [None]
    if dims:
        segments = list(sorted({s for s, _ in values if s is not None}))

    # two KPIs counted from the same rows in the same period (new pipeline and new opportunities: the deals created)
    # move together by construction: such a pair is not a lead, and is not measured
    same_rows = {
        (i, t)
        for t in wanted_targets
        for i in wanted_indicators
        if i != t and get(i).scope == get(t).scope and get(i).scope != "derived"
    }
    warnings += [
        f"{get(i).label} is not measured against {get(t).label.lower()}: both are counted from the same "
        f"{SCOPES[get(i).scope].table} in each period, so they move together by construction."
        for i, t in sorted(same_rows)
    ]
    pairs: list[Pair] = []
    names: list[tuple[str | None, str, str]] = []
    empty = np.full(len(weeks), np.nan)
    for segment in segments:
        for target in wanted_targets:
            for indicator in wanted_indicators:
                if indicator == target or (indicator, target) in same_rows:
                    continue
                pairs.append(
                    Pair(
                        values.get((segment, indicator), empty),
                        values.get((segment, target), empty),
                        key=f"{segment}|{indicator}",
                        units=(get(indicator).unit, get(target).unit),
                    )
                )
                names.append((segment, indicator, target))
    leads = lead_family(
        pairs,
        starts=starts,
        fiscal_year_start=dataset.settings.fiscal_year_start,
        max_lag=max_lag,
        min_weeks=min_weeks,
        permutations=permutations,
        alpha=alpha,
        seed=seed,
    )
    rows: list[dict[str, object]] = []
    profiles: list[dict[str, object]] = []
    used: set[tuple[str | None, str]] = set()
    for (segment, indicator, target), lead in zip(names, leads, strict=True):
        used.update({(segment, indicator), (segment, target)})
        dim_values = {by: segment} if by else {}
        lag = lead.lag_weeks
        rows.append(
            {
                "indicator": indicator,
                "target": target,
                **dim_values,
                "lag_weeks": lag,
                "correlation": lead.correlation,
                "ci_low": lead.ci_low,
                "ci_high": lead.ci_high,
                "p_value": lead.p_value,
                "significant": lead.significant,
                "weeks": lead.weeks,
                "stable": lead.stable,
                "band": lead.band,
                "first_half_lag": lead.halves[0],
                "second_half_lag": lead.halves[1],
                "reverse_correlation": lead.reverse[lag] if lag is not None else None,
                "same_week": lead.same_week,
                "same_week_correlation": lead.profile[0] if lead.profile else None,
                "same_week_p": lead.same_week_p,
                "strength": strength(lead.correlation),
                "step": lead.step,
                "effect": lead.effect,
                "note": lead.reason,
            }
        )
        for k, (r, back, passing) in enumerate(zip(lead.profile, lead.reverse, lead.thresholds, strict=True)):
            profiles.append(
                {
                    "indicator": indicator,
                    "target": target,
                    **dim_values,
                    "lag": k,
                    "correlation": r,
                    "reverse": back,
                    "band": passing,
                }
            )
    key_schema = {"indicator": pl.String, "target": pl.String, **{d: pl.String for d in dims}}
    frame = pl.DataFrame(rows, schema={**key_schema, **FRAME_SCHEMA}, orient="row")
    short = frame.filter(pl.col("note").is_not_null()).height
    if dims and short:
        warnings.append(
            f"{short} of {frame.height} {by} pair(s) have no number: not enough history in that segment "
            f"(each needs {need} weeks with data)."
        )
    order = {t: i for i, t in enumerate(wanted_targets)}
    frame = (
        frame.with_columns(
            _t=pl.col("target").replace_strict(order, default=len(order)),
            _s=pl.col("correlation").abs().fill_null(-1.0),
        )
        .sort([*dims, "_t", "significant", "_s"], descending=[*[False] * len(dims), False, True, True])
        .drop("_t", "_s")
    )
    profile_frame = pl.DataFrame(
        profiles,
        schema={**key_schema, "lag": pl.Int64, "correlation": pl.Float64, "reverse": pl.Float64, "band": pl.Float64},
        orient="row",
    )
    pairs_frame = pl.DataFrame(
        {**{d: [s for s, _ in used] for d in dims}, "kpi": [k for _, k in used]},
        schema={**{d: pl.String for d in dims}, "kpi": pl.String},
    )
    kept = series.join(pairs_frame, on=[*dims, "kpi"], how="semi").sort([*dims, "kpi", "week"])
    measured = frame.height - short
    family = family_words(measured, max_lag, by, len(segments)) if measured else ""
    return LeadingReport(
        frame,
        profile_frame,
        kept,
        tuple(starts),
        list(dict.fromkeys(warnings)),
        family=family,
        currency=dataset.currency,
    )


FRAME_SCHEMA: dict[str, pl.DataType] = {
    "lag_weeks": pl.Int64(),
    "correlation": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "p_value": pl.Float64(),
    "significant": pl.Boolean(),
    "weeks": pl.Int64(),
    "stable": pl.Boolean(),
    "band": pl.Float64(),
    "first_half_lag": pl.Int64(),
    "second_half_lag": pl.Int64(),
    "reverse_correlation": pl.Float64(),
    "same_week": pl.Boolean(),
    "same_week_correlation": pl.Float64(),
    "same_week_p": pl.Float64(),
    "strength": pl.String(),
    "step": pl.Float64(),
    "effect": pl.Float64(),
    "note": pl.String(),
}
"""The columns of :attr:`LeadingReport.frame` after the indicator, the target and the segment."""


IN_WORDS = {"won_revenue": "won revenue"}
"""KPIs whose catalog label reads awkwardly inside a sentence."""


def _name(label: str) -> str:
    """A KPI label inside a sentence: ``Sales activities`` -> ``sales activities``, ``MRR`` stays."""
    return label if len(label) > 1 and label[1].isupper() else label[:1].lower() + label[1:]


def kpi_words(kpi_id: str) -> str:
    """How a sentence names a KPI: ``won revenue``, ``new opportunities``."""
    return IN_WORDS.get(kpi_id) or _name(BY_ID[kpi_id].label)


def strength(correlation: float | None) -> str | None:
    """``strong``, ``moderate`` or ``weak`` for a correlation (after the filters); None without one.

    >>> strength(0.72), strength(-0.45), strength(0.2), strength(None)
    ('strong', 'moderate', 'weak', None)
    """
    if correlation is None or not math.isfinite(correlation):
        return None
    size = abs(correlation)
    return "strong" if size >= STRONG else "moderate" if size >= MODERATE else "weak"


def weeks_words(lag: int, *, about: bool = True) -> str:
    """``about 4 weeks``, ``about a week``; without ``about``: ``4 weeks``, ``1 week``."""
    if not about:
        return f"{lag} week{'s' if lag != 1 else ''}"
    return "about a week" if lag == 1 else f"about {lag} weeks"


def _significant(value: float, digits: int = 3) -> float:
    """``value`` to ``digits`` significant figures: 12,345.6 -> 12,300."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _amount(value: float, unit: str, currency: str) -> str:
    """A positive amount of a KPI in its unit, rounded for a sentence: ``$12,300``, ``2.3``, ``40``."""
    rounded = _significant(value, 3 if value >= 100 else 2)
    if unit in ("currency", "currency_per_day"):
        return money(rounded, currency)
    if unit == "percent":
        return f"{rounded * 100:.1f}".removesuffix(".0") + " points"
    if unit == "hours":
        return f"{rounded:,g} hour{'s' if rounded != 1 else ''}"
    return f"{rounded:,.0f}" if rounded >= 10 or float(rounded).is_integer() else f"{rounded:,.1f}"


def change_words(kpi_id: str, step: float, currency: str = "USD") -> str:
    """The weeks an effect is stated for: ``weeks with 10 more meetings booked``, ``weeks when lead response time
    (median) was 1 hour longer``, ``weeks when leads contacted within 1 hour was 5 points higher``.

    >>> change_words("pipeline_created", 50000.0), change_words("lead_response_hours", 1.0)
    ('weeks with $50,000 more new pipeline', 'weeks when lead response time (median) was 1 hour longer')
    """
    unit = BY_ID[kpi_id].unit
    amount = _amount(step, unit, currency)
    if unit == "hours":
        return f"weeks when {kpi_words(kpi_id)} was {amount} longer"
    if unit == "percent":
        return f"weeks when {kpi_words(kpi_id)} was {amount} higher"
    return f"weeks with {amount} more {kpi_words(kpi_id)}"


def effect_words(kpi_id: str, effect: float, currency: str = "USD") -> str:
    """The change of a result in its unit: ``about $12,300 more won revenue``, ``about 2.3 fewer deals won``.

    >>> effect_words("won_revenue", 12345.6), effect_words("deals_won", -2.34)
    ('about $12,300 more won revenue', 'about 2.3 fewer deals won')
    """
    unit = BY_ID[kpi_id].unit
    amount = _amount(abs(effect), unit, currency)
    if unit in ("percent", "hours", "days", "ratio"):
        return f"{kpi_words(kpi_id)} about {amount} {'higher' if effect >= 0 else 'lower'}"
    more = "more" if effect >= 0 else ("fewer" if unit == "count" else "less")
    return f"about {amount} {more} {kpi_words(kpi_id)}"


def _stability(stable: object) -> str:
    if stable is True:
        return "stable across both halves of the history"
    if stable is False:
        return "not stable across the history: treat it with care"
    return "too little history to check it in both halves"


def finding(row: Mapping[str, object], currency: str = "USD") -> str:
    """One plain sentence for a row of :attr:`LeadingReport.frame`: how strong, how many weeks, and the effect
    in business units (the statistics are in :func:`details`).

    >>> finding({"indicator": "meetings", "target": "won_revenue", "lag_weeks": 4, "correlation": 0.45,
    ...          "significant": True, "stable": True, "step": 10.0, "effect": 12345.0, "note": None})
    'Changes in meetings booked show up in won revenue about 4 weeks later (a moderate lead, stable across both halves of the history): weeks with 10 more meetings booked have been followed by about $12,300 more won revenue 4 weeks later.'
    """
    indicator_id, target_id = str(row["indicator"]), str(row["target"])
    indicator = BY_ID[indicator_id].label
    target = kpi_words(target_id)
    note = row.get("note")
    if note:
        return f"{indicator} and {target}: {note}; no number is given from so little data."
    lag = row["lag_weeks"]
    if not row["significant"] or not isinstance(lag, int):
        if row.get("same_week"):
            return f"{indicator} and {target} move together in the same week, but neither moves first: that is no lead."
        return (
            f"No measurable lead of {kpi_words(indicator_id)} on {target}: no lead of a week or more stands out of "
            "chance once every pair and lag tried is counted."
        )
    words = strength(row["correlation"] if isinstance(row["correlation"], float) else None) or "weak"
    sentence = (
        f"Changes in {kpi_words(indicator_id)} show up in {target} {weeks_words(lag)} later "
        f"(a {words} lead, {_stability(row.get('stable'))})"
    )
    step, effect = row.get("step"), row.get("effect")
    if isinstance(step, float) and isinstance(effect, float) and math.isfinite(effect):
        return (
            f"{sentence}: {change_words(indicator_id, step, currency)} have been followed by "
            f"{effect_words(target_id, effect, currency)} {weeks_words(lag, about=False)} later."
        )
    return f"{sentence}."


def details(row: Mapping[str, object], family: str = "") -> str:
    """The statistics behind a finding, for a help tooltip: r, its interval, the target-first correlation, the
    family-adjusted p-value and what it was corrected for, the same-week link, the halves.

    >>> print(details({"lag_weeks": 4, "correlation": 0.45, "ci_low": 0.1, "ci_high": 0.7, "p_value": 0.012,
    ...                "reverse_correlation": -0.05, "same_week_correlation": 0.3, "same_week_p": 0.2, "weeks": 102,
    ...                "first_half_lag": 4, "second_half_lag": 5, "note": None}, "28 pairs x 13 lags"))
    r = 0.45 at 4 weeks (95% CI 0.10 to 0.70, simultaneous over every pair and lag); with the result first, r = -0.05. Family-adjusted p = 0.012 (corrected for 28 pairs x 13 lags: Westfall-Young step-down over block permutations). Same week: r = 0.30 (p = 0.200). Best lead in each half of the history: 4 and 5 weeks. 102 weeks, counts and money on logs, after trend, yearly and quarterly cycles, quarter-end and holiday weeks are removed and both series go through the same pre-whitening filters.
    """
    if row.get("note"):
        return str(row["note"])
    parts = [
        f"r = {row['correlation']:.2f} at {row['lag_weeks']} week{'s' if row['lag_weeks'] != 1 else ''} "
        f"(95% CI {row['ci_low']:.2f} to {row['ci_high']:.2f}, simultaneous over every pair and lag); with the "
        f"result first, r = {row['reverse_correlation']:.2f}.",
        f"Family-adjusted p = {row['p_value']:.3f}"
        + (f" (corrected for {family}: Westfall-Young step-down over block permutations)." if family else "."),
        f"Same week: r = {row['same_week_correlation']:.2f} (p = {row['same_week_p']:.3f}).",
    ]
    halves = (row.get("first_half_lag"), row.get("second_half_lag"))
    if all(isinstance(h, int) for h in halves):
        parts.append(f"Best lead in each half of the history: {halves[0]} and {halves[1]} weeks.")
    parts.append(
        f"{row['weeks']} weeks, counts and money on logs, after trend, yearly and quarterly cycles, quarter-end and "
        "holiday weeks are removed and both series go through the same pre-whitening filters."
    )
    return " ".join(parts)


def short_finding(row: Mapping[str, object]) -> str:
    """A tile's few words: ``leads won revenue by about 6 weeks``, hedged when weak or unstable (``may lead won
    revenue by about 4 weeks (weak, not stable across the history)``), or ``no measurable lead on won revenue``."""
    target = kpi_words(str(row["target"]))
    if row.get("note"):
        return "not enough history to measure a lead"
    lag = row["lag_weeks"]
    if not row["significant"] or not isinstance(lag, int):
        if row.get("same_week"):
            return f"moves with {target} in the same week (no lead)"
        return f"no measurable lead on {target}"
    hedges = []
    if strength(row["correlation"] if isinstance(row["correlation"], float) else None) in ("weak", None):
        hedges.append("weak")
    if row.get("stable") is False:
        hedges.append("not stable across the history")
    if hedges:
        return f"may lead {target} by {weeks_words(lag)} ({', '.join(hedges)})"
    return f"leads {target} by {weeks_words(lag)}"
