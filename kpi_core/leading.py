"""Which leading indicators predict this company's results, and by how many weeks.

For every leading KPI with a weekly series (activities, new pipeline, lead response, ...) and each target
(won revenue and deals won by default), :func:`find_leads` measures the lead from the engine's weekly values:

1. **What would fool a naive correlation is removed first.** Each series is regressed on a linear trend, the
   yearly cycle (one sine/cosine pair once there is a year of weeks), the quarterly cycle (two pairs) and the
   quarter-end weeks (the last week of each fiscal quarter and the one before), and each is pre-whitened by its
   own autoregressive filter (order by BIC; a filter close to a difference absorbs a random-walk trend), the
   calendar regression done on the filtered series (regression with autoregressive errors). This is Haugh's
   test: two white series that are independent correlate by chance with variance 1/n at every lag. Two series
   that only share a trend, a season or quarter-end spikes then no longer correlate.
2. **Correlation at lags 0..max_lag** weeks (the indicator ``lag`` weeks before the target).
3. **Significance that respects autocorrelation and the lags tried**: the largest absolute correlation over
   all lags is compared with the same maximum after block permutations of the whitened indicator (blocks keep
   what autocorrelation is left), so ``p_value`` is already corrected for trying every lag; the
   ``band`` is the matching critical correlation. The confidence interval is Fisher's, on the effective
   sample size (Bartlett's correction for the autocorrelation of both filtered series).
4. **Stability**: the best lag found again (within a week, same sign) in each half of the history.
5. **Not enough history** below ``min_weeks`` weekly pairs at the longest lag (26 + 13 weeks by default):
   no number is given then.

Per segment (``by="region"`` etc.), each segment is analysed on its own weeks.

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
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
import polars as pl

from kpi_core import periods as P
from kpi_core.engine import DATED, POINT_IN_TIME, availability, earliest_date, mixed_currencies, report
from kpi_core.model import Dataset
from kpi_core.registry import BY_ID, REGISTRY, SCOPES, get

Array = npt.NDArray[np.float64]

DEFAULT_TARGETS: tuple[str, ...] = ("won_revenue", "deals_won")
MAX_LAG = 13
MIN_WEEKS = 26
PERMUTATIONS = 999
ALPHA = 0.05
MAX_GAPS = 0.1
"""Share of weeks without a value (a rate in a week with no leads) that is filled in; more is too little data."""
YEAR_WEEKS = 52.1775


@dataclass(frozen=True)
class Lead:
    """The lead of one indicator on one target: the best lag and how sure it is.

    ``reason`` says why there is no number (not enough history, no variation); then the other fields are
    empty. ``profile`` is the correlation at each lag 0..max_lag, ``band`` the correlation any lag must pass to
    be significant at ``alpha`` with every lag tried."""

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
    halves: tuple[int | None, int | None] = (None, None)
    reason: str | None = None


@dataclass(frozen=True)
class LeadingReport:
    """What :func:`find_leads` found.

    ``frame``: one row per indicator, target (and segment), the best lag only: indicator, target, <by>,
    lag_weeks, correlation, ci_low, ci_high, p_value, significant, weeks, stable, band, first_half_lag,
    second_half_lag, note (why there is no number). ``profiles``: correlation by lag (indicator, target, <by>,
    lag, correlation, band). ``series``: the weekly values analysed (week, period, <by>, kpi, value)."""

    frame: pl.DataFrame
    profiles: pl.DataFrame
    series: pl.DataFrame
    weeks: tuple[date, ...]
    warnings: list[str] = field(default_factory=list)


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


def calendar_terms(starts: Sequence[date], fiscal_year_start: int = 1) -> Array:
    """Regressors for what the calendar does to every series: yearly and quarterly cycles, quarter-end weeks.

    One row per week (by its Monday); the yearly pair only with a year of weeks (fewer cannot tell a season from
    a trend).

    >>> calendar_terms([date(2026, 3, 23), date(2026, 3, 30), date(2026, 4, 6)]).shape
    (3, 6)
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
        year = 2 * math.pi * (middle - date(2000, 1, 3)).days / 7 / YEAR_WEEKS
        rows.append(
            [
                math.sin(phase),
                math.cos(phase),
                math.sin(2 * phase),
                math.cos(2 * phase),
                float(closing),
                float(before),
                math.sin(year),
                math.cos(year),
            ]
        )
    terms = np.array(rows, dtype=np.float64).reshape(len(rows), 8)
    return terms if len(rows) >= YEAR_WEEKS else terms[:, :6]


@functools.lru_cache(maxsize=16)
def _calendar(starts: tuple[date, ...], fiscal_year_start: int) -> Array:
    """Every calendar term for a run of weeks (computed once; pairs take their rows)."""
    terms = calendar_terms(starts, fiscal_year_start)
    if terms.shape[1] < 8:
        terms = np.column_stack([terms, np.zeros((len(starts), 8 - terms.shape[1]))])
    return terms


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
    """The autoregressive filter ``e[t] = s[t] - sum(phi[i] * s[t-1-i])`` on a series (or on each column)."""
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


def _profile(x: Array, y: Array, max_lag: int) -> Array:
    """Pearson correlation of x[t] with y[t + lag] for lag 0..max_lag (each lag on its own overlap)."""
    out = np.empty(max_lag + 1)
    n = x.size
    for lag in range(max_lag + 1):
        a = x[: n - lag] - x[: n - lag].mean()
        b = y[lag:] - y[lag:].mean()
        denominator = math.sqrt(float(a @ a) * float(b @ b))
        out[lag] = float(a @ b) / denominator if denominator > 0 else 0.0
    return out


def _profiles(xs: Array, y: Array, max_lag: int) -> Array:
    """:func:`_profile` for every row of ``xs`` at once (the permutations)."""
    rows, n = xs.shape
    out = np.empty((rows, max_lag + 1))
    for lag in range(max_lag + 1):
        a = xs[:, : n - lag]
        a = a - a.mean(axis=1, keepdims=True)
        b = y[lag:] - y[lag:].mean()
        denominator = np.sqrt((a * a).sum(axis=1) * float(b @ b))
        out[:, lag] = np.divide(a @ b, denominator, out=np.zeros(rows), where=denominator > 0)
    return out


def _block_permutations(x: Array, count: int, rng: np.random.Generator) -> Array:
    """``count`` copies of ``x`` with its blocks (of about n^(1/3) weeks) put in random orders: each copy is
    rotated by a random number of weeks, cut into blocks, and the blocks shuffled (the few weeks that do not fill
    a block stay at the end)."""
    n = x.size
    size = max(2, round(n ** (1 / 3)))
    blocks = n // size
    rotated = (np.arange(n)[None, :] + rng.integers(0, n, count)[:, None]) % n
    order = np.argsort(rng.random((count, blocks)), axis=1)
    inside = (order[:, :, None] * size + np.arange(size)[None, None, :]).reshape(count, blocks * size)
    tail = np.broadcast_to(np.arange(blocks * size, n), (count, n - blocks * size))
    return np.asarray(x[np.take_along_axis(rotated, np.concatenate([inside, tail], axis=1), axis=1)], dtype=np.float64)


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


def _best(profile: Array) -> int:
    return int(np.argmax(np.abs(profile)))


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
) -> Lead:
    """The lead of one weekly indicator on one weekly target (same weeks, oldest first).

    ``starts`` (the Monday of each week) adds the calendar terms (yearly and quarterly cycles, quarter-end
    weeks); without it only the trend is removed before pre-whitening. Weeks before both series start and after
    either ends are left out; weeks without a value inside are filled in when they are at most a tenth.
    """
    x_all = np.array([np.nan if v is None else v for v in indicator], dtype=np.float64)
    y_all = np.array([np.nan if v is None else v for v in target], dtype=np.float64)
    if x_all.size != y_all.size:
        raise ValueError("the indicator and the target need the same weeks")
    span, why = _prepare_pair(x_all, y_all)
    x, y = x_all[span], y_all[span]
    weeks = x.size
    need = needed_weeks(max_lag, min_weeks)
    if why is not None or weeks < need:
        return _no_number(weeks, f"not enough history: {weeks} weeks of {need}")
    x, x_gaps = _fill_gaps(x)
    y, y_gaps = _fill_gaps(y)
    if max(x_gaps, y_gaps) > MAX_GAPS * weeks:
        return _no_number(weeks, f"not enough history: {max(x_gaps, y_gaps)} of {weeks} weeks empty")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return _no_number(weeks, "no variation")

    design = np.column_stack([np.ones(weeks), np.arange(weeks, dtype=np.float64) / weeks])
    if starts is not None:
        terms = _calendar(tuple(starts), fiscal_year_start)[span]
        design = np.column_stack([design, terms if weeks >= YEAR_WEEKS else terms[:, :6]])
        design = design[:, np.abs(design).sum(axis=0) > 0]  # a quarter-end column never set is no regressor
    rx, ry = _residual(x, design), _residual(y, design)
    if any(np.ptp(r) < 1e-12 * max(1.0, float(np.abs(v).max())) for r, v in ((rx, x), (ry, y))):
        return _no_number(weeks, "no variation beyond trend and calendar")
    # each series whitened by its own autoregressive filter (Haugh's test: two white series correlate by chance
    # with variance 1/n at every lag, whatever filter the data chose), then regressed on the calendar filtered
    # the same way (regression with autoregressive errors); permuted copies are projected like the indicator, so
    # observed and permuted correlations live in the same space
    top = max(1, min(8, weeks // 10))
    phi_x, phi_y = ar_filter(rx, top), ar_filter(ry, top)
    cut = max(phi_x.size, phi_y.size)
    basis = _basis(_apply(design, phi_x)[cut - phi_x.size :])
    ex = _project(_apply(x, phi_x)[cut - phi_x.size :], basis)
    fy = _project(_apply(y, phi_y)[cut - phi_y.size :], _basis(_apply(design, phi_y)[cut - phi_y.size :]))

    profile = _profile(ex, fy, max_lag)
    lag = _best(profile)
    r = float(profile[lag])
    observed = abs(r)
    rng = np.random.default_rng(seed)
    shuffled = _project(_block_permutations(ex, permutations, rng), basis)
    null = np.abs(_profiles(shuffled, fy, max_lag)).max(axis=1)
    p_value = (1 + int((null >= observed - 1e-12).sum())) / (permutations + 1)
    band = float(np.quantile(null, 1 - alpha))

    pairs = ex.size - lag
    n_eff = _effective_size(ex, fy, pairs)
    z = NormalDist().inv_cdf(1 - alpha / (2 * (max_lag + 1)))  # simultaneous over the lags tried (Bonferroni)
    centre = math.atanh(max(min(r, 0.999999), -0.999999))
    spread = z / math.sqrt(max(n_eff - 3, 1.0))
    ci = (math.tanh(centre - spread), math.tanh(centre + spread))

    half = ex.size // 2
    reach = min(max_lag, half - 12)
    halves: list[int | None] = []
    signs: list[bool] = []
    for part in (slice(0, half), slice(half, ex.size)):
        if reach < lag:
            halves.append(None)
            continue
        inner = _profile(ex[part], fy[part], reach)
        best = _best(inner)
        halves.append(best)
        signs.append(bool(np.sign(inner[best]) == np.sign(r)))
    stable = None if None in halves else all(abs(h - lag) <= 1 for h in halves if h is not None) and all(signs)
    return Lead(
        lag_weeks=lag,
        correlation=r,
        ci_low=ci[0],
        ci_high=ci[1],
        p_value=p_value,
        significant=p_value <= alpha,
        weeks=weeks,
        stable=stable,
        band=band,
        profile=tuple(float(v) for v in profile),
        halves=(halves[0], halves[1]),
    )


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


def _pair_seed(seed: int, *names: str) -> int:
    return (seed * 1_000_003 + zlib.crc32("|".join(names).encode())) % (2**32)


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
    """Measure how many weeks each leading indicator leads each target, overall or per segment of ``by``.

    Parameters
    ----------
    indicators: KPI ids (default :data:`DEFAULT_INDICATORS`).
    targets: KPI ids (default won revenue and deals won); any KPI with a weekly series.
    by: one dimension (``region``, ``team``, ``owner``...): each segment analysed on its own weeks.
    max_lag: the longest lead tried, in weeks. min_weeks: weekly pairs needed at the longest lag.
    permutations: block permutations for the p-value (fewer is faster and coarser). seed: for repeatable p-values.

    Examples
    --------
    >>> from sample_data import generate
    >>> ds = Dataset.prepare(generate(3000, seed=3))
    >>> found = find_leads(ds, ["activities"], ["new_opportunities"], permutations=99).frame
    >>> found.select("indicator", "target", "lag_weeks", "significant").row(0)
    ('activities', 'new_opportunities', 3, True)
    """
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
    fy = dataset.settings.fiscal_year_start

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
    rows: list[dict[str, object]] = []
    profiles: list[dict[str, object]] = []
    used: set[tuple[str | None, str]] = set()
    for segment in segments:
        for target in wanted_targets:
            for indicator in wanted_indicators:
                if indicator == target or (indicator, target) in same_rows:
                    continue
                empty = np.full(len(weeks), np.nan)
                x = values.get((segment, indicator), empty)
                y = values.get((segment, target), empty)
                lead = lead_lag(
                    x,
                    y,
                    starts=starts,
                    fiscal_year_start=fy,
                    max_lag=max_lag,
                    min_weeks=min_weeks,
                    permutations=permutations,
                    alpha=alpha,
                    seed=_pair_seed(seed, indicator, target, segment or ""),
                )
                used.update({(segment, indicator), (segment, target)})
                dim_values = {by: segment} if by else {}
                rows.append(
                    {
                        "indicator": indicator,
                        "target": target,
                        **dim_values,
                        "lag_weeks": lead.lag_weeks,
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
                        "note": lead.reason,
                    }
                )
                for lag, r in enumerate(lead.profile):
                    profiles.append(
                        {
                            "indicator": indicator,
                            "target": target,
                            **dim_values,
                            "lag": lag,
                            "correlation": r,
                            "band": lead.band,
                        }
                    )
    key_schema = {"indicator": pl.String, "target": pl.String, **{d: pl.String for d in dims}}
    frame = pl.DataFrame(
        rows,
        schema={
            **key_schema,
            "lag_weeks": pl.Int64,
            "correlation": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "p_value": pl.Float64,
            "significant": pl.Boolean,
            "weeks": pl.Int64,
            "stable": pl.Boolean,
            "band": pl.Float64,
            "first_half_lag": pl.Int64,
            "second_half_lag": pl.Int64,
            "note": pl.String,
        },
        orient="row",
    )
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
        schema={**key_schema, "lag": pl.Int64, "correlation": pl.Float64, "band": pl.Float64},
        orient="row",
    )
    pairs = pl.DataFrame(
        {**{d: [s for s, _ in used] for d in dims}, "kpi": [k for _, k in used]},
        schema={**{d: pl.String for d in dims}, "kpi": pl.String},
    )
    kept = series.join(pairs, on=[*dims, "kpi"], how="semi").sort([*dims, "kpi", "week"])
    return LeadingReport(frame, profile_frame, kept, tuple(starts), list(dict.fromkeys(warnings)))


IN_WORDS = {"won_revenue": "won revenue"}
"""KPIs whose catalog label reads awkwardly inside a sentence."""


def _name(label: str) -> str:
    """A KPI label inside a sentence: ``Sales activities`` -> ``sales activities``, ``MRR`` stays."""
    return label if len(label) > 1 and label[1].isupper() else label[:1].lower() + label[1:]


def kpi_words(kpi_id: str) -> str:
    """How a sentence names a KPI: ``won revenue``, ``new opportunities``."""
    return IN_WORDS.get(kpi_id) or _name(BY_ID[kpi_id].label)


def finding(row: Mapping[str, object]) -> str:
    """One plain sentence for a row of :attr:`LeadingReport.frame`.

    >>> finding({"indicator": "activities", "target": "new_opportunities", "lag_weeks": 3, "correlation": 0.87,
    ...          "ci_low": 0.8, "ci_high": 0.92, "p_value": 0.001, "significant": True, "weeks": 100, "stable": True})
    'Changes in sales activities show up in new opportunities about 3 weeks later: r = 0.87 (95% CI 0.80 to 0.92), stable across both halves of the 100 weeks of history.'
    """
    indicator = BY_ID[str(row["indicator"])].label
    target = kpi_words(str(row["target"]))
    weeks = row["weeks"]
    note = row.get("note")
    if note:
        return f"{indicator} and {target}: {note}; no number is given from so little data."
    r = row["correlation"]
    lag = row["lag_weeks"]
    assert isinstance(r, float) and isinstance(lag, int)
    if not row["significant"]:
        return (
            f"No measurable lead of {kpi_words(str(row['indicator']))} on {target}: the strongest correlation, r = {r:.2f} at "
            f"{lag} week{'s' if lag != 1 else ''}, is within what chance gives over {weeks} weeks "
            f"(p = {row['p_value']:.2f})."
        )
    ci = f"r = {r:.2f} (95% CI {row['ci_low']:.2f} to {row['ci_high']:.2f})"
    if lag == 0:
        return f"{indicator} moves with {target} in the same week: {ci}; no lead."
    direction = "" if r > 0 else ", in the opposite direction"
    if row["stable"] is True:
        stability = f"stable across both halves of the {weeks} weeks of history"
    elif row["stable"] is False:
        stability = "but not at the same lag in both halves of the history: treat it with care"
    else:
        stability = "too little history to check it in both halves"
    return (
        f"Changes in {kpi_words(str(row['indicator']))} show up in {target} about {lag} week{'s' if lag != 1 else ''} "
        f"later{direction}: {ci}, {stability}."
    )


def short_finding(row: Mapping[str, object]) -> str:
    """A tile's few words: ``leads won revenue by ~6 weeks`` or ``no measurable lead``."""
    target = kpi_words(str(row["target"]))
    if row.get("note"):
        return "not enough history to measure a lead"
    lag = row["lag_weeks"]
    if not row["significant"] or not isinstance(lag, int):
        return f"no measurable lead on {target}"
    if lag == 0:
        return f"moves with {target} in the same week (no lead)"
    return f"leads {target} by ~{lag} week{'s' if lag != 1 else ''}"
