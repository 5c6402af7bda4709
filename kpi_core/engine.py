"""The period/segment engine: evaluate KPIs over periods and segments as one set of lazy plans.

``evaluate`` returns one tidy frame: kpi, period, one column per dimension, value, the previous
period's and last year's values (period-to-date aligned when the period is still running) and the
deltas. ``rows_behind`` returns the rows that make up one value, and the rows left out with why.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from kpi_core import periods as P
from kpi_core.formatting import format_value
from kpi_core.model import Dataset
from kpi_core.periods import Grain, Period
from kpi_core.registry import BY_ID, KPI, REGISTRY, SCOPES, dependencies, get, sample_note

Filters = Mapping[str, Sequence[str]]
PeriodSpec = None | int | str | Period | Sequence[str | Period]
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class Window:
    """Rows whose anchor date is in ``[start, end)``; point-in-time measures read ``base`` and ``point``."""

    key: str
    period: Period
    start: date
    end: date
    base: date
    point: date

    @property
    def bucket(self) -> bool:
        """True when the window is a whole period (computable by bucketing dates)."""
        return self.start == self.period.start and self.end == self.period.end


@dataclass(frozen=True)
class Report:
    """What ``evaluate`` computed, which KPIs it could not, and what the user should know."""

    frame: pl.DataFrame
    unavailable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def resolve_periods(dataset: Dataset, grain: Grain, periods: PeriodSpec = None) -> list[Period]:
    """Periods to report: None -> the one holding the as-of date; n -> the last n; labels or Periods."""
    fy = dataset.settings.fiscal_year_start
    current = P.make(dataset.as_of, grain, fy)
    if periods is None:
        return [current]
    if isinstance(periods, int):
        return [P.shift(current, -i, fy) for i in reversed(range(max(periods, 1)))] if grain != "all" else [current]
    items = [periods] if isinstance(periods, str | Period) else list(periods)
    out = []
    for item in items:
        period = item if isinstance(item, Period) else P.parse(item, fy)
        if period.grain != grain:
            raise ValueError(f"period {period.label} is a {period.grain}, but the grain is {grain}")
        out.append(period)
    return out


def _window(key: str, period: Period, start: date, end: date, as_of: date, data_start: date) -> Window:
    if period.grain == "all":
        return Window(key, period, start, end, data_start - timedelta(days=1), as_of)
    point = min(end, as_of + timedelta(days=1)) - timedelta(days=1)
    return Window(key, period, start, end, start - timedelta(days=1), point)


def _windows(
    dataset: Dataset, chosen: list[Period], *, compare: bool, data_start: date
) -> tuple[dict[str, Window], list[tuple[str, str | None, str | None, bool]]]:
    """All windows to compute, and per chosen period its (current, previous, last-year) window keys."""
    fy, as_of = dataset.settings.fiscal_year_start, dataset.as_of
    windows: dict[str, Window] = {}
    links: list[tuple[str, str | None, str | None, bool]] = []
    for period in chosen:
        windows[period.label] = _window(period.label, period, period.start, period.end, as_of, data_start)
        # the period holding the as-of date is still running: its values are to date, whatever is compared
        running = period.grain != "all" and period.contains(as_of)
        if not compare or period.grain == "all":
            links.append((period.label, None, None, running))
            continue
        keys: list[str] = []
        for other in (P.shift(period, -1, fy), P.year_ago(period, fy)):
            if running:
                cut = min(other.start + (as_of - period.start) + timedelta(days=1), other.end)
                key = f"{other.label} to {cut - timedelta(days=1):%m-%d}"
                windows[key] = _window(key, other, other.start, cut, as_of, data_start)
            else:
                key = other.label
                windows.setdefault(key, _window(key, other, other.start, other.end, as_of, data_start))
            keys.append(key)
        links.append((period.label, keys[0], keys[1], running))
    return windows, links


def _filter_expr(frame: pl.LazyFrame | pl.DataFrame, filters: Filters) -> pl.Expr | None:
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    parts = []
    for dim, values in filters.items():
        dtype = schema[dim]
        wanted = [str(v) for v in values]
        if isinstance(dtype, pl.Enum):
            wanted = [v for v in wanted if v in set(dtype.categories.to_list())]
            parts.append(pl.col(dim).is_in(pl.Series(wanted, dtype=dtype).implode()))
        else:
            parts.append(pl.col(dim).cast(pl.String).is_in(wanted))
    return pl.all_horizontal(parts) if parts else None


def _scope_frame(dataset: Dataset, scope: str) -> pl.LazyFrame:
    table = dataset.table(SCOPES[scope].table).lazy()
    if scope in OPEN_SCOPES:
        table = table.filter(pl.col("status") == "open")
    return table


OPEN_SCOPES = frozenset({"open", "pipeline", "stale"})
"""Scopes that read the open deals (as of the as-of date)."""


def _unavailable_reason(
    dataset: Dataset, kpi: KPI, by: Sequence[str], filters: Filters, *, compare: bool, dated: bool = True
) -> str | None:
    if kpi.scope == "snapshots":
        return (
            f"{kpi.label} needs {kpi.needs}; a single export has no history to compare a forecast with: keep "
            "this week's export and the next ones (Data page, or `snapshots save`)."
        )
    if kpi.scope == "growth":
        return None if compare else f"{kpi.label} needs a comparison period."
    if kpi.scope == "derived":
        if (
            kpi.dated
            and dated
            and dataset.has("deals")
            and {"status", "close_date"} <= set(dataset.table("deals").columns)
        ):
            undated = _open_undated(dataset.table("deals"))
            if undated and undated[0] == undated[1]:
                return (
                    f"{kpi.label} needs the expected close date of open deals (it counts the pipeline due in the "
                    f"period): none of the {undated[1]:,} open deals has one. Export the close date column with them."
                )
        return None
    spec = SCOPES[kpi.scope]
    if not dataset.has(spec.table):
        if kpi.scope == "customers":
            return f"{kpi.label} needs {spec.needs}."
        return f"{kpi.label} needs {spec.needs}: upload one."
    frame = dataset.table(spec.table)
    if kpi.scope in ("subscriptions", "targets"):
        columns = {"subscriptions": ["account", "start_date", "mrr"], "targets": ["period_start", "value"]}[kpi.scope]
    else:
        columns = [c for c in kpi.inputs() if not c.startswith("_")]
        if spec.anchor:
            columns.append(spec.anchor)
    missing = [c for c in columns if c not in frame.columns or _all_null(frame, c)]
    if "stalled" in missing and "stage" in frame.columns and not _all_null(frame, "stage"):
        return (
            f"{kpi.label} needs to know how long each open deal has sat in its stage or without activity: upload "
            "the stage history (e.g. Salesforce's Opportunity History) or activities linked to deals."
        )
    if missing:
        wanted = sorted({raw for c in missing for raw in _raw(c)})
        return f"{kpi.label} needs {', '.join(wanted)} in the {spec.table} table ({spec.needs})."
    # an open deal falls in a period by its expected close date; when none has one, the period holding the as-of date
    # takes every open deal (said in a note), but what reads the close date itself cannot be measured
    reads_dates = "close_date" in {raw for c in kpi.inputs() for raw in _raw(c)}
    if kpi.scope in OPEN_SCOPES and reads_dates and {"status", "close_date"} <= set(frame.columns):
        undated = _open_undated(frame)
        if undated and undated[0] == undated[1]:
            return (
                f"{kpi.label} needs the expected close date of open deals: none of the {undated[1]:,} open deals has "
                "one. Export the close date column with them."
            )
    for dim in [*by, *filters]:
        if dim not in frame.columns:
            verb = "split" if dim in by else "filtered"
            return f"{kpi.label} cannot be {verb} by {dim}: the {spec.table} table has no {dim} column."
    return None


def _all_null(frame: pl.DataFrame, column: str) -> bool:
    """True when a column, or every source column of a derived one, holds no values (remembered per frame: the
    availability of every KPI is checked on every evaluation)."""
    known = _EMPTY_COLUMNS.get(id(frame))
    if known is None:
        known = _EMPTY_COLUMNS[id(frame)] = {}
        weakref.finalize(frame, _EMPTY_COLUMNS.pop, id(frame), None)  # forgotten with the frame
    if column not in known:
        sources = [c for c in _raw(column) if c in frame.columns] or [column]
        known[column] = all(frame.get_column(c).null_count() == frame.height for c in sources)
    return known[column]


_EMPTY_COLUMNS: dict[int, dict[str, bool]] = {}


def _open_undated(frame: pl.DataFrame) -> tuple[int, int] | None:
    """(open deals without a close date, open deals) of a deals table, remembered per frame; None without any open."""
    key = (id(frame), "__open_undated")
    if key not in _OPEN_UNDATED:
        counts = frame.select(
            (pl.col("status") == "open").sum().alias("open"),
            ((pl.col("status") == "open") & pl.col("close_date").is_null()).sum().alias("undated"),
        ).row(0)
        _OPEN_UNDATED[key] = (int(counts[1]), int(counts[0])) if counts[0] else None
        weakref.finalize(frame, _OPEN_UNDATED.pop, key, None)
    return _OPEN_UNDATED[key]


_OPEN_UNDATED: dict[tuple[int, str], tuple[int, int] | None] = {}


def _raw(column: str) -> tuple[str, ...]:
    from kpi_core.prepare import DERIVED_FROM

    return DERIVED_FROM.get(column, (column,))


def availability(
    dataset: Dataset,
    kpis: Sequence[str] | None = None,
    *,
    by: Sequence[str] = (),
    filters: Filters | None = None,
    compare: bool = True,
    dated: bool = True,
) -> dict[str, str]:
    """KPI id -> why it cannot be computed on this dataset (KPIs that can are absent); ``dated``: for periods
    (not all time), where open deals need their expected close date."""
    filters = filters or {}
    ids = list(kpis) if kpis else [k.id for k in REGISTRY]
    reasons: dict[str, str] = {}

    def check(kpi_id: str) -> str | None:
        if kpi_id in reasons:
            return reasons[kpi_id]
        kpi = get(kpi_id)
        reason = _unavailable_reason(dataset, kpi, by, filters, compare=compare, dated=dated)
        if reason is None:
            for dep in dependencies(kpi):
                dep_reason = check(dep)
                if dep_reason:
                    dep_kpi = BY_ID[dep]
                    said = f"{dep_kpi.label} needs "
                    if dep_kpi.internal and dep_reason.startswith(said):  # what an internal part needs, said once
                        reason = f"{kpi.label} needs {dep_reason.removeprefix(said)}"
                    else:
                        what = dep_kpi.label.lower() if dep_kpi.internal else dep_kpi.label
                        reason = f"{kpi.label} needs {what}: {dep_reason}"
                    break
        if reason:
            reasons[kpi_id] = reason
        return reason

    for kpi_id in ids:
        check(kpi_id)
    return {k: v for k, v in reasons.items() if k in ids}


WindowRows = Callable[[Sequence[tuple[date, date]]], list[pl.LazyFrame]]
INDEXED_ROWS = 5_000_000
"""Tables from this many rows up are read through an index in date order when they are not stored in it."""


def _window_rows(table: pl.DataFrame, anchor: str, filt: pl.Expr | None, columns: set[str]) -> WindowRows | None:
    """How to read the rows of ``table`` whose ``anchor`` is in each of some ``[start, end)`` spans without
    scanning it: slices when it is stored in date order, else one gather of the needed ``columns`` through an index
    in date order (built once per table); None for a small table (a scan is as fast)."""
    column = table.get_column(anchor)

    def filtered(part: pl.DataFrame) -> pl.LazyFrame:
        return part.lazy() if filt is None else part.lazy().filter(filt)

    if column.flags["SORTED_ASC"]:

        def sliced(spans: Sequence[tuple[date, date]]) -> list[pl.LazyFrame]:
            bounds = [(column.search_sorted(a, "left"), column.search_sorted(b, "left")) for a, b in spans]
            return [filtered(table.slice(lo, max(hi - lo, 0))) for lo, hi in bounds]

        return sliced
    if table.height < INDEXED_ROWS or not column.dtype.is_temporal():
        return None
    index, dates = _date_index(table, anchor)
    narrow = table.select([c for c in table.columns if c in columns])

    def gathered(spans: Sequence[tuple[date, date]]) -> list[pl.LazyFrame]:
        bounds = [(dates.search_sorted(a, "left"), dates.search_sorted(b, "left")) for a, b in spans]
        # one gather for every span (the rows of each are then a zero-copy slice of it)
        rows = narrow[pl.concat([index.slice(lo, max(hi - lo, 0)) for lo, hi in bounds])]
        offsets = [0]
        for lo, hi in bounds:
            offsets.append(offsets[-1] + max(hi - lo, 0))
        return [filtered(rows.slice(a, b - a)) for a, b in itertools.pairwise(offsets)]

    return gathered


def _date_index(table: pl.DataFrame, anchor: str) -> tuple[pl.Series, pl.Series]:
    """The row numbers of ``table`` in ``anchor`` order and the dates in that order (remembered per table)."""
    known = _DATE_INDEX.get(id(table))
    if known is None:
        known = _DATE_INDEX[id(table)] = {}
        weakref.finalize(table, _DATE_INDEX.pop, id(table), None)  # forgotten with the table
    if anchor not in known:
        index = table.select(pl.arg_sort_by(anchor, nulls_last=False, maintain_order=True)).to_series()
        known[anchor] = (index, table.get_column(anchor).gather(index))
    return known[anchor]


_DATE_INDEX: dict[int, dict[str, tuple[pl.Series, pl.Series]]] = {}


def _needed(aggs: Sequence[pl.Expr], dims: Sequence[str], filt: pl.Expr | None, anchor: str) -> set[str]:
    """The columns a plan reads."""
    roots = {name for e in aggs for name in e.meta.root_names()}
    return roots | set(dims) | set(filt.meta.root_names() if filt is not None else ()) | {anchor}


CHAINED_BUCKETS = 12
"""Up to this many whole periods are told apart by date comparisons; more by truncating each date to its period."""
SEPARATE_WINDOWS = 4
"""Up to this many windows of a table in date order are aggregated as plans of their own (run in parallel)."""


def _aggregate(
    lf: pl.LazyFrame,
    anchor: str,
    windows: Sequence[Window],
    dims: Sequence[str],
    aggs: list[pl.Expr],
    grain: Grain,
    fy: int,
    *,
    undated: bool = False,
    ordered: WindowRows | None = None,
) -> list[pl.LazyFrame]:
    """One plan per window kind: whole periods bucketed together, truncated windows filtered.

    ``ordered``: the (filtered) rows of a window by its dates, read in date order (see :func:`_window_rows`)."""
    plans: list[pl.LazyFrame] = []

    def grouped(frame: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
        return frame.group_by(keys).agg(aggs) if keys else frame.select(aggs)

    if ordered is not None and grain != "all":
        # rows read in date order: no date arithmetic per row, and rows outside every window are never read; a few
        # windows are aggregated in plans of their own (run in parallel), many (a trend) in one plan with each
        # window's rows tagged by its number
        parts = ordered([(w.start, w.end) for w in windows])
        if len(windows) <= SEPARATE_WINDOWS:
            return [
                grouped(p, list(dims)).with_columns(_key=pl.lit(w.key)) for p, w in zip(parts, windows, strict=True)
            ]
        tagged = pl.concat([p.with_columns(_window=pl.lit(i, pl.UInt32)) for i, p in enumerate(parts)])
        keys = {i: w.key for i, w in enumerate(windows)}
        return [
            grouped(tagged, ["_window", *dims])
            .with_columns(_key=pl.col("_window").replace_strict(keys, return_dtype=pl.String))
            .drop("_window")
        ]

    buckets = [w for w in windows if w.bucket]
    if grain == "all":
        # all time holds every dated row; ``undated`` keeps rows with no date too (open deals as of now)
        dated = lf if undated else lf.filter(pl.col(anchor).is_not_null())
        for w in buckets:
            plans.append(grouped(dated, list(dims)).with_columns(_key=pl.lit(w.key)))
    elif buckets:
        # whole periods do not overlap: each row is given the number of the one holding it in one pass (a chain of
        # date comparisons is three times cheaper than truncating every date to its period); a period asked for
        # twice (the previous period of a running one that ends with the as-of date) gets the rows under both keys
        ranges: dict[tuple[date, date], list[str]] = {}
        for w in buckets:
            ranges.setdefault((w.start, w.end), []).append(w.key)
        date_ = pl.col(anchor)
        spans = list(ranges)
        if len(spans) <= CHAINED_BUCKETS:
            which = pl.coalesce(
                [pl.when(date_.is_between(*span, closed="left")).then(i) for i, span in enumerate(spans)]
            )
        else:  # a long trend: each date's period start, looked up
            index = {start: i for i, (start, _) in enumerate(spans)}
            which = P.start_expr(anchor, grain, fy).replace_strict(index, default=None, return_dtype=pl.Int32)
        first, last = min(start for start, _ in spans), max(end for _, end in spans)
        bucketed = (
            lf.filter(date_.is_between(first, last, closed="left"))
            .with_columns(_bucket=which)
            .filter(pl.col("_bucket").is_not_null())
        )
        labels = {i: ranges[span] for i, span in enumerate(spans)}
        plans.append(
            grouped(bucketed, ["_bucket", *dims])
            .with_columns(_key=pl.col("_bucket").replace_strict(labels, return_dtype=pl.List(pl.String)))
            .drop("_bucket")
            .explode("_key")
        )
    for w in windows:
        if not w.bucket:
            part = lf.filter(pl.col(anchor).is_between(w.start, w.end, closed="left"))
            plans.append(grouped(part, list(dims)).with_columns(_key=pl.lit(w.key)))
    return plans


def _windows_frame(windows: Sequence[Window], dataset: Dataset) -> pl.DataFrame:
    as_of_next = dataset.as_of + timedelta(days=1)
    return pl.DataFrame(
        {
            "_key": [w.key for w in windows],
            "_pstart": [w.period.start for w in windows],
            "_pend": [w.period.end for w in windows],
            "_base": [w.base for w in windows],
            "_point": [w.point for w in windows],
            "_weeks": [
                max((min(w.end, as_of_next) - max(w.start, w.base + timedelta(days=1))).days, 0) / 7 for w in windows
            ],
            "_months": [max((w.point - w.base).days, 0) / DAYS_PER_MONTH for w in windows],
            "_default_margin": [dataset.settings.gross_margin] * len(windows),
        },
        schema_overrides={"_pstart": pl.Date, "_pend": pl.Date, "_base": pl.Date, "_point": pl.Date},
    )


def _subscription_plans(
    dataset: Dataset, wf: pl.DataFrame, dims: Sequence[str], filt: pl.Expr | None, aggs: list[pl.Expr]
) -> list[pl.LazyFrame]:
    """One plan per window over each account's MRR at the window's start and end."""
    subs = dataset.table("subscriptions").lazy()
    if filt is not None:
        subs = subs.filter(filt)

    def active(at: date) -> pl.Expr:
        return (pl.col("start_date") <= at) & (pl.col("end_date").is_null() | (pl.col("end_date") > at))

    def mrr_at(at: date) -> pl.Expr:
        return pl.when(active(at)).then(pl.col("mrr")).otherwise(0.0).sum()

    # each account's MRR at every window's start and end in one pass over the subscriptions (no copy per window),
    # computed once (cached within the collect) and shared by the windows' plans
    windows = list(wf.select("_key", "_base", "_point", "_months").iter_rows())
    per_account = (
        subs.group_by(["account", *dims])
        .agg(
            [
                mrr_at(at).alias(f"_{edge}{i}")
                for i, (_, base, point, _) in enumerate(windows)
                for edge, at in (("s", base), ("e", point))
            ]
        )
        .cache()
    )
    plans = []
    for i, (key, _, _, months) in enumerate(windows):
        frame = per_account.select(
            *dims,
            pl.col(f"_s{i}").alias("mrr_start"),
            pl.col(f"_e{i}").alias("mrr_end"),
            pl.lit(months, pl.Float64).alias("_months"),
        )
        grouped = frame.group_by(list(dims)).agg(aggs) if dims else frame.select(aggs)
        plans.append(grouped.with_columns(_key=pl.lit(key)))
    return plans


def _target_plan(
    dataset: Dataset, windows: Sequence[Window], dims: Sequence[str], filt: pl.Expr | None, aggs: list[pl.Expr]
) -> pl.LazyFrame:
    """Each window's target (the target rows' values prorated by their overlap with its period; all time: from the
    data's start to the as-of date), with the spans of the target rows that overlap it (``__spans``, to tell whether
    every day of the period has a target)."""
    targets = dataset.table("targets").lazy().filter(pl.col("kpi") == "won_revenue")
    if filt is not None:
        targets = targets.filter(filt)
    bounds = pl.LazyFrame(
        {
            "_key": [w.key for w in windows],
            "_pstart": [_target_span(w)[0] for w in windows],
            "_pend": [_target_span(w)[1] for w in windows],
        },
        schema={"_key": pl.String, "_pstart": pl.Date, "_pend": pl.Date},
    )
    overlap = (
        (pl.min_horizontal("_pend", "period_end") - pl.max_horizontal("_pstart", "period_start"))
        .dt.total_days()
        .clip(lower_bound=0)
    )
    length = (pl.col("period_end") - pl.col("period_start")).dt.total_days()
    spans = pl.struct(start=pl.col("period_start"), end=pl.col("period_end"))
    return (
        targets.join(bounds, how="cross")
        .with_columns(target=pl.col("value") * overlap / length, __overlap=overlap)
        .group_by(["_key", *dims])
        .agg([*aggs, spans.filter(pl.col("__overlap") > 0).unique().alias("__spans")])
    )


def _target_span(window: Window) -> tuple[date, date]:
    """The days a window's target covers: its whole period (attainment to date is read against the full target and
    the share of the period gone), or for all time the data's days up to the as-of date."""
    if window.period.grain == "all":
        return window.base + timedelta(days=1), window.point + timedelta(days=1)
    return window.period.start, window.period.end


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def missing_target_months(start: date, end: date, spans: Sequence[tuple[date, date]]) -> list[str]:
    """The months (``"December 2026"``) holding days of ``[start, end)`` that no target span covers.

    >>> missing_target_months(date(2026, 10, 1), date(2027, 1, 1), [(date(2026, 10, 1), date(2026, 12, 1))])
    ['December 2026']
    >>> missing_target_months(date(2026, 10, 1), date(2027, 1, 1), [(date(2026, 1, 1), date(2027, 1, 1))])
    []
    """
    missing: list[str] = []
    day = start
    ordered = sorted(spans)
    i = 0
    while day < end:
        while i < len(ordered) and ordered[i][1] <= day:
            i += 1
        covering = [s for s in ordered[i:] if s[0] <= day < s[1]]
        if covering:
            day = max(s[1] for s in covering)
            continue
        nxt = min([s[0] for s in ordered[i:] if s[0] > day] + [end])
        while day < nxt:  # the uncovered days, month by month
            name = f"{MONTHS[day.month - 1]} {day.year}"
            if name not in missing:
                missing.append(name)
            day = min(nxt, date(day.year + day.month // 12, day.month % 12 + 1, 1))
    return missing


def words_list(items: Sequence[str], most: int = 4) -> str:
    """``a``, ``a and b``, ``a, b and c``; beyond ``most`` items, the first ones and how many more.

    >>> words_list(["October 2026", "November 2026", "December 2026"])
    'October 2026, November 2026 and December 2026'
    """
    if len(items) > most:
        return f"{', '.join(items[: most - 1])} and {len(items) - most + 1} more"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _complete_targets(wide: pl.DataFrame, windows: Sequence[Window], dataset: Dataset) -> pl.DataFrame:
    """A target is used only when every day of its period has one (``__target_missing`` names the months without):
    a period's quota is never read from some of its months."""
    bounds = {w.key: _target_span(w) for w in windows}
    missing: list[str | None] = []
    for key, spans in zip(wide.get_column("_key").to_list(), wide.get_column("__spans").to_list(), strict=True):
        start, end = bounds[key]
        months = missing_target_months(start, end, [(s["start"], s["end"]) for s in spans or []])
        missing.append(words_list(months) if months else None)
    found = pl.Series("__target_missing", missing, dtype=pl.String)
    return wide.with_columns(found).with_columns(
        _target=pl.when(pl.col("__target_missing").is_null()).then(pl.col("_target"))
    )


def _stage_plans(
    dataset: Dataset, windows: Sequence[Window], dims: Sequence[str], filt: pl.Expr | None, grain: Grain
) -> list[pl.LazyFrame]:
    order = dataset.stage_order
    if not order:
        return []
    names = [*order, "Won"]
    aggs = [
        (
            pl.when((pl.col("reached") >= k).sum() > 0)
            .then((pl.col("reached") >= k + 1).sum() / (pl.col("reached") >= k).sum())
            .otherwise(None)
        ).alias(f"{names[k]} → {names[k + 1]}")
        for k in range(len(order))
    ] + [
        (pl.col("reached") >= k).sum().cast(pl.Float64).alias(f"{N_PREFIX}{names[k]} → {names[k + 1]}")
        for k in range(len(order))
    ]
    lf = _scope_frame(dataset, "stages")
    if filt is not None:
        lf = lf.filter(filt)
    ordered = _window_rows(dataset.table("deals"), "created_date", filt, _needed(aggs, dims, filt, "created_date"))
    fy = dataset.settings.fiscal_year_start
    plans = _aggregate(lf, "created_date", windows, dims, aggs, grain, fy, ordered=ordered)
    out = []
    for plan in plans:
        long = plan.unpivot(index=["_key", *dims], variable_name="stage", value_name="value")
        counted = pl.col("stage").str.starts_with(N_PREFIX)
        counts = long.filter(counted).select(
            "_key", *dims, pl.col("stage").str.strip_prefix(N_PREFIX), pl.col("value").alias("n")
        )
        out.append(
            long.filter(~counted)
            .join(counts, on=["_key", *dims, "stage"], how="left", nulls_equal=True)
            .with_columns(kpi=pl.lit("stage_conversion"))
        )
    return out


def _visit_plans(
    dataset: Dataset, windows: Sequence[Window], dims: Sequence[str], filt: pl.Expr | None, grain: Grain
) -> list[pl.LazyFrame]:
    lf = dataset.table("stage_visits").lazy()
    if filt is not None:
        lf = lf.filter(filt)
    keys, aggs = ["stage", *dims], [pl.col("days").mean().alias("value"), pl.len().cast(pl.Float64).alias("n")]
    ordered = _window_rows(dataset.table("stage_visits"), "exited_day", filt, _needed(aggs, keys, filt, "exited_day"))
    fy = dataset.settings.fiscal_year_start
    plans = _aggregate(lf, "exited_day", windows, keys, aggs, grain, fy, ordered=ordered)
    return [p.with_columns(pl.col("stage").cast(pl.String), kpi=pl.lit("time_in_stage_days")) for p in plans]


def report(
    dataset: Dataset,
    kpis: Sequence[str] | None = None,
    *,
    grain: Grain = "month",
    periods: PeriodSpec = None,
    by: Sequence[str] = (),
    filters: Filters | None = None,
    compare: bool = True,
    split_currencies: bool = True,
) -> Report:
    """Evaluate KPIs and say which could not be computed and why. See :func:`evaluate`.

    When deals are in several currencies (and no rate table converted them), KPIs that add up amounts
    are split by currency (a ``currency`` column) instead of being summed across currencies."""
    filters = {k: list(v) for k, v in (filters or {}).items() if v}
    by = list(dict.fromkeys(by))
    currencies = mixed_currencies(dataset)
    if split_currencies and currencies and "currency" not in by and len(filters.get("currency", [])) != 1:
        return _per_currency(
            dataset, kpis, grain=grain, periods=periods, by=by, filters=filters, compare=compare, currencies=currencies
        )
    known_dims = dataset.dimensions()
    for dim in [*by, *filters]:
        if dim not in known_dims:
            raise ValueError(f"unknown dimension {dim!r}; this data has: {', '.join(known_dims) or 'none'}")
    requested = [get(k).id for k in (kpis or [k.id for k in REGISTRY])]
    unavailable = availability(dataset, requested, by=by, filters=filters, compare=compare, dated=grain != "all")
    wanted = [k for k in requested if k not in unavailable]
    needed: list[str] = []
    for kpi_id in wanted:
        for dep in [*dependencies(get(kpi_id)), kpi_id]:
            if dep not in needed:
                needed.append(dep)

    chosen = resolve_periods(dataset, grain, periods)
    windows, links = _windows(dataset, chosen, compare=compare, data_start=_data_start(dataset))
    wlist = list(windows.values())
    wf = _windows_frame(wlist, dataset)
    fy = dataset.settings.fiscal_year_start

    # the pipeline on the as-of date belongs to the period holding it (and to all time); when no open deal has an
    # expected close date, that period's open pipeline is every open deal (said in a note)
    current = {w.key for w in wlist if w.period.grain == "all" or (w.bucket and w.period.contains(dataset.as_of))}
    open_undated = all_open_undated(dataset)
    if grain != "all" and current and any(get(k).scope == "open" for k in needed) and _has_close_dates(dataset):
        needed += [k for k in STALE_HELPERS if k not in needed]  # how much past-due pipeline sits before the period

    by_scope: dict[str, list[KPI]] = {}
    for kpi_id in needed:
        kpi = get(kpi_id)
        by_scope.setdefault(kpi.scope, []).append(kpi)

    wide_plans: list[tuple[list[KPI], pl.LazyFrame, frozenset[str] | None]] = []
    long_plans: list[pl.LazyFrame] = []
    for scope, members in by_scope.items():
        if scope in ("derived", "growth", "snapshots"):
            continue
        if scope == "stages":
            long_plans += _stage_plans(dataset, wlist, by, _scope_filter(dataset, "stages", filters), grain)
            continue
        if scope == "stage_visits":
            long_plans += _visit_plans(dataset, wlist, by, _scope_filter(dataset, scope, filters), grain)
            continue
        aggs = [k.expr.alias(k.id) for k in members] + [
            k.sample.alias(f"{N_PREFIX}{k.id}") for k in members if k.sample is not None
        ]
        filt = _scope_filter(dataset, scope, filters)
        if scope == "subscriptions":
            wide_plans += [(members, plan, None) for plan in _subscription_plans(dataset, wf, by, filt, aggs)]
            continue
        if scope == "targets":
            wide_plans.append((members, _target_plan(dataset, wlist, by, filt, aggs), None))
            continue
        lf = _scope_frame(dataset, scope)
        if filt is not None:
            lf = lf.filter(filt)
        if scope == "pipeline" or (scope == "open" and open_undated and grain != "all"):
            keys = frozenset(current)
            wide_plans += [(members, plan, keys) for plan in _state_plans(lf, keys, by, aggs)]
            continue
        if scope == "stale":
            running = [w for w in wlist if w.key in current and w.period.grain != "all"]
            keys = frozenset(w.key for w in running)
            wide_plans += [(members, plan, keys) for plan in _stale_plans(lf, running, by, aggs)]
            continue
        anchor = SCOPES[scope].anchor or ""
        ordered = (
            _window_rows(dataset.table(SCOPES[scope].table), anchor, filt, _needed(aggs, by, filt, anchor))
            if scope != "open"
            else None
        )
        # all time holds the closed deals without a close date too (no period can place them)
        undated = scope in ("open", "closed")
        for plan in _aggregate(lf, anchor, wlist, by, aggs, grain, fy, undated=undated, ordered=ordered):
            wide_plans.append((members, plan, None))

    collected = pl.collect_all([plan for _, plan, _ in wide_plans] + long_plans)
    wide_results = collected[: len(wide_plans)]
    long_results = collected[len(wide_plans) :]

    wide = _merge(wide_plans, wide_results, wf, by)
    wide = wide.with_columns(
        [
            pl.lit(None, pl.Float64).alias(k)
            for k in needed
            if get(k).scope not in ("derived", "growth") and k not in wide.columns
        ]
    )
    if "_target" in wide.columns:
        wide = _complete_targets(wide, wlist, dataset)
    for kpi_id in needed:
        kpi = get(kpi_id)
        if kpi.scope == "derived":
            wide = wide.with_columns(kpi.expr.alias(kpi_id))
            samples = [f"{N_PREFIX}{d}" for d in kpi.sample_of if f"{N_PREFIX}{d}" in wide.columns]
            if samples:
                wide = wide.with_columns(pl.min_horizontal(samples).alias(f"{N_PREFIX}{kpi_id}"))
    public = [k for k in wanted if not get(k).per_stage and get(k).scope not in ("growth",)]
    long = wide.select(["_key", *by, *public]).unpivot(index=["_key", *by], variable_name="kpi", value_name="value")
    counts = wide.select(
        "_key",
        *by,
        *[
            (pl.col(f"{N_PREFIX}{k}") if f"{N_PREFIX}{k}" in wide.columns else pl.lit(None)).cast(pl.Float64).alias(k)
            for k in public
        ],
    ).unpivot(index=["_key", *by], variable_name="kpi", value_name="n")
    long = long.join(counts, on=["_key", *by, "kpi"], how="left", nulls_equal=True, maintain_order="left")
    long = long.with_columns(pl.col("value").cast(pl.Float64), stage=pl.lit(None, pl.String))
    stage_frames = [
        f.select(
            "_key",
            *by,
            "kpi",
            pl.col("stage").cast(pl.String),
            pl.col("value").cast(pl.Float64),
            pl.col("n").cast(pl.Float64),
        )
        for f in long_results
        if f.height
    ]
    stage_frames = [f for f in stage_frames if f.get_column("kpi")[0] in wanted]
    if stage_frames:
        long = pl.concat([long, *[f.select(long.columns) for f in stage_frames]], how="vertical_relaxed")

    frame = _compare(long, links, by, wide if "revenue_growth" in wanted else None)
    frame = _decorate(frame, by, dataset.stage_order)
    frame = _with_notes(frame, wide, by, dataset, current=current, open_undated=open_undated and grain != "all")
    warnings = (
        list(dataset.warnings)
        if "stage_conversion" in wanted
        else [w for w in dataset.warnings if not w.startswith("Stage conversion")]
    )
    if grain != "all" and any(get(k).scope in ("closed", "growth") for k in needed):
        warnings += _undated_closed_warning(dataset)
    return Report(frame, {k: unavailable[k] for k in requested if k in unavailable}, warnings)


MONEY_COLUMNS = frozenset({"amount", "gross_profit"})


def is_money(kpi: KPI) -> bool:
    """True when a KPI adds up deal amounts (directly or through the KPIs it is built from)."""
    if kpi.scope == "growth":
        return True
    if kpi.table == "deals" and MONEY_COLUMNS & set(kpi.inputs()):
        return True
    return any(is_money(BY_ID[dep]) for dep in dependencies(kpi) if dep != kpi.id)


def mixed_currencies(dataset: Dataset) -> list[str]:
    """The currencies of the deals when there is more than one (amounts were not converted)."""
    if not dataset.has("deals") or "currency" not in dataset.table("deals").columns:
        return []
    column = dataset.table("deals").get_column("currency")
    if isinstance(column.dtype, pl.Enum) and column.dtype.categories.len() <= 1:
        return []  # one currency in every table: nothing to split (and no scan of the rows)
    found = sorted(str(c) for c in column.drop_nulls().unique().to_list())
    return found if len(found) > 1 else []


def _per_currency(
    dataset: Dataset,
    kpis: Sequence[str] | None,
    *,
    grain: Grain,
    periods: PeriodSpec,
    by: list[str],
    filters: Filters,
    compare: bool,
    currencies: list[str],
) -> Report:
    """Money KPIs split by currency (never summed across currencies); the rest as usual."""
    requested = [get(k).id for k in (kpis or [k.id for k in REGISTRY])]
    money = [k for k in requested if is_money(get(k))]
    other = [k for k in requested if k not in money]
    parts: list[Report] = []
    if other:
        parts.append(
            report(
                dataset,
                other,
                grain=grain,
                periods=periods,
                by=by,
                filters=filters,
                compare=compare,
                split_currencies=False,
            )
        )
    if money:
        parts.append(
            report(dataset, money, grain=grain, periods=periods, by=[*by, "currency"], filters=filters, compare=compare)
        )
    frames = [p.frame for p in parts if p.frame.height]
    frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    if frame.height:
        order = {k: i for i, k in enumerate(requested)}
        periods_seen = {p: i for i, p in enumerate(dict.fromkeys(frame.get_column("period").to_list()))}
        frame = (
            frame.with_columns(
                _o=pl.col("kpi").replace_strict(order, default=len(order)),
                _p=pl.col("period").replace_strict(periods_seen, default=0),
            )
            .sort("_p", "_o", maintain_order=True)
            .drop("_o", "_p")
        )
        columns = [c for c in frame.columns if c != "currency"]
        at = columns.index("stage")
        frame = frame.select([*columns[:at], "currency", *columns[at:]])
    unavailable = {k: r for p in parts for k, r in p.unavailable.items()}
    warnings = [w for p in parts for w in p.warnings]
    warnings.append(
        f"Deals are in several currencies ({', '.join(currencies)}): money KPIs are given per currency, never summed "
        f"across them. Upload a rate table (currency, rate, valid_from) to convert them to {dataset.currency}."
    )
    return Report(frame, {k: unavailable[k] for k in requested if k in unavailable}, list(dict.fromkeys(warnings)))


def evaluate(
    dataset: Dataset,
    kpis: Sequence[str] | None = None,
    *,
    grain: Grain = "month",
    periods: PeriodSpec = None,
    by: Sequence[str] = (),
    filters: Filters | None = None,
    compare: bool = True,
) -> pl.DataFrame:
    """Evaluate KPIs per period and segment into one tidy frame.

    Parameters
    ----------
    kpis: KPI ids (default: the whole catalog). Unavailable ones are left out (see :func:`availability`).
    grain: ``week``, ``month``, ``quarter``, ``year`` or ``all``.
    periods: None for the period holding the as-of date, ``n`` for the last n, or labels/Periods.
    by: dimensions to split by, e.g. ``["region", "product"]``.
    filters: dimension -> allowed values, e.g. ``{"region": ["EMEA"]}``.

    Returns columns kpi, label, indicator, category, unit, direction, period, <by...>, stage, value,
    previous, last_year, delta, delta_pct, last_year_delta, period_to_date (true for the period holding the
    as-of date: its values are to date, with or without comparisons).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import date
    >>> deals = pl.DataFrame({"deal_id": ["1", "2"], "stage": ["Won", "Lost"], "amount": [100.0, 50.0],
    ...                       "close_date": [date(2026, 1, 5), date(2026, 1, 9)]})
    >>> ds = Dataset.prepare({"deals": deals}, as_of=date(2026, 1, 31))
    >>> evaluate(ds, ["won_revenue", "win_rate"], periods=["2026-01"])["value"].to_list()
    [100.0, 0.5]
    """
    return report(dataset, kpis, grain=grain, periods=periods, by=by, filters=filters, compare=compare).frame


def _scope_filter(dataset: Dataset, scope: str, filters: Filters) -> pl.Expr | None:
    if not filters:
        return None
    return _filter_expr(dataset.table(SCOPES[scope].table), filters)


DATED: tuple[tuple[str, str], ...] = (
    ("deals", "created_date"),
    ("deals", "close_date"),
    ("activities", "day"),
    ("leads", "created_day"),
    ("subscriptions", "start_date"),
)
"""The (table, column) pairs whose earliest date is where the data starts."""


def earliest_date(dataset: Dataset, columns: Sequence[tuple[str, str]] = DATED) -> date | None:
    """The earliest date of ``columns`` (table, column) in the data; None when none holds a date."""
    starts: list[date] = []
    for name, column in columns:
        if dataset.has(name) and column in dataset.table(name).columns:
            value = dataset.table(name).get_column(column).min()
            if isinstance(value, date):
                starts.append(value)
    return min(starts) if starts else None


def _data_start(dataset: Dataset) -> date:
    return earliest_date(dataset) or dataset.as_of


def _merge(
    plans: list[tuple[list[KPI], pl.LazyFrame, frozenset[str] | None]],
    results: list[pl.DataFrame],
    wf: pl.DataFrame,
    by: Sequence[str],
) -> pl.DataFrame:
    """Join every scope's aggregates on (window, segment); additive KPIs with no rows are 0 in the windows the scope
    was computed for (all, or the ``frozenset`` of window keys a plan names), unknown in the others."""
    keys = ["_key", *by]
    per_scope: dict[int, list[pl.DataFrame]] = {}
    members_of: dict[int, list[KPI]] = {}
    computed: dict[int, frozenset[str] | None] = {}
    for (members, _, windows), result in zip(plans, results, strict=True):
        per_scope.setdefault(id(members), []).append(result)
        members_of[id(members)] = members
        computed[id(members)] = windows
    frames = [pl.concat(parts, how="vertical_relaxed") for parts in per_scope.values()]
    if by:
        combos = [f.select([pl.col(d).cast(pl.String) for d in by]) for f in frames]
        segments = (
            pl.concat(combos).unique().drop_nulls() if combos else pl.DataFrame(schema={d: pl.String for d in by})
        )
        spine = wf.select("_key").join(segments, how="cross")
    else:
        spine = wf.select("_key")
    wide = spine.join(wf.drop("_pstart", "_pend", "_base", "_point"), on="_key", how="left")
    for sid, frame in zip(per_scope, frames, strict=True):
        frame = frame.with_columns([pl.col(d).cast(pl.String) for d in by], __rows=pl.lit(True))
        wide = wide.join(frame, on=keys, how="left")
        # a window or segment without rows adds up to 0; a value the rows left unknown stays unknown
        empty = pl.col("__rows").is_null()
        if computed[sid] is not None:
            empty = empty & pl.col("_key").is_in(sorted(computed[sid] or ()))
        fills = [
            pl.when(empty).then(pl.col(name).fill_null(0)).otherwise(pl.col(name)).alias(name)
            for k in members_of[sid]
            for name in (k.id, f"{N_PREFIX}{k.id}")
            if name in frame.columns and (k.additive or name.startswith(N_PREFIX))
        ]
        wide = wide.with_columns(fills).drop("__rows")
    return wide


N_PREFIX = "__n_"
"""Prefix of the columns holding how many records each KPI's value rests on."""
STALE_HELPERS = ("_stale_pipeline", "_stale_deals")
"""What a running period's open-pipeline notes read: the open pipeline already past due before the period."""


def _has_close_dates(dataset: Dataset) -> bool:
    return (
        dataset.has("deals")
        and "close_date" in dataset.table("deals").columns
        and "status" in dataset.table("deals").columns
    )


def all_open_undated(dataset: Dataset) -> bool:
    """True when the deals have open deals and none of them has an expected close date."""
    if not _has_close_dates(dataset):
        return False
    undated = _open_undated(dataset.table("deals"))
    return undated is not None and undated[0] == undated[1]


def _state_plans(
    lf: pl.LazyFrame, keys: frozenset[str], dims: Sequence[str], aggs: list[pl.Expr]
) -> list[pl.LazyFrame]:
    """The pipeline on the as-of date (every open deal, whatever its close date), for the windows ``keys``."""
    if not keys:
        return []
    grouped = lf.group_by(list(dims)).agg(aggs) if dims else lf.select(aggs)
    return [grouped.with_columns(_key=pl.lit(key)) for key in sorted(keys)]


def _stale_plans(
    lf: pl.LazyFrame, windows: Sequence[Window], dims: Sequence[str], aggs: list[pl.Expr]
) -> list[pl.LazyFrame]:
    """Open deals due before each window's period (past due on the as-of date): the pipeline a period leaves out."""
    plans = []
    for w in windows:
        part = lf.filter(pl.col("close_date") < w.period.start)
        grouped = part.group_by(list(dims)).agg(aggs) if dims else part.select(aggs)
        plans.append(grouped.with_columns(_key=pl.lit(w.key)))
    return plans


def _compare(
    long: pl.DataFrame,
    links: list[tuple[str, str | None, str | None, bool]],
    by: Sequence[str],
    wide: pl.DataFrame | None,
) -> pl.DataFrame:
    keys = ["kpi", *by, "stage"]
    link = pl.DataFrame(
        links,
        schema={"_key": pl.String, "_prev": pl.String, "_yoy": pl.String, "period_to_date": pl.Boolean},
        orient="row",
    )
    current = long.join(link, on="_key", how="inner")
    other = long.rename({"_key": "_other", "value": "_v", "n": "_n"})
    frame = current.join(
        other.rename({"_other": "_prev", "_v": "previous", "_n": "previous_n"}),
        on=["_prev", *keys],
        how="left",
        nulls_equal=True,
    ).join(
        other.rename({"_other": "_yoy", "_v": "last_year", "_n": "last_year_n"}),
        on=["_yoy", *keys],
        how="left",
        nulls_equal=True,
    )
    # open-pipeline KPIs describe the pipeline as of the export date: another period's value from the same export
    # is not what it was then (that needs snapshot history), so they get no comparison
    as_of_only = pl.col("kpi").is_in(sorted(POINT_IN_TIME))
    frame = frame.with_columns(
        [
            pl.when(as_of_only).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("previous", "last_year", "previous_n", "last_year_n")
        ]
    )
    if wide is not None:
        growth = _growth(wide, link, by)
        frame = pl.concat([frame, growth.select(frame.columns)], how="vertical_relaxed")
    return frame.rename({"_key": "period"}).drop("_prev", "_yoy")


def _point_in_time(kpi: KPI) -> bool:
    return kpi.scope in OPEN_SCOPES or any(_point_in_time(BY_ID[d]) for d in dependencies(kpi) if d != kpi.id)


POINT_IN_TIME = frozenset(k.id for k in REGISTRY if _point_in_time(k))
"""KPIs about open deals as of the as-of date: compared only across snapshots, not across periods."""


def _growth(wide: pl.DataFrame, link: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    won = f"{N_PREFIX}won_revenue"
    revenue = wide.select(
        "_key", *by, pl.col("won_revenue").cast(pl.Float64), pl.col(won).cast(pl.Float64).alias("_won")
    )
    prev = revenue.rename({"_key": "_prev", "won_revenue": "_before", "_won": "_won_before"})
    joined = revenue.join(link, on="_key", how="inner").join(prev, on=["_prev", *by], how="left", nulls_equal=True)
    return joined.select(
        "_key",
        *by,
        kpi=pl.lit("revenue_growth"),
        value=pl.when(pl.col("_before") != 0).then((pl.col("won_revenue") - pl.col("_before")) / pl.col("_before")),
        # a growth rests on the won deals of both periods: the fewer of the two
        n=pl.min_horizontal("_won", "_won_before"),
        stage=pl.lit(None, pl.String),
        _prev=pl.col("_prev"),
        _yoy=pl.col("_yoy"),
        period_to_date=pl.col("period_to_date"),
        previous=pl.lit(None, pl.Float64),
        previous_n=pl.lit(None, pl.Float64),
        last_year=pl.lit(None, pl.Float64),
        last_year_n=pl.lit(None, pl.Float64),
    )


def _decorate(frame: pl.DataFrame, by: Sequence[str], stage_order: Sequence[str]) -> pl.DataFrame:
    ids = [k.id for k in REGISTRY]
    meta = pl.DataFrame(
        {
            "kpi": ids,
            "label": [k.label for k in REGISTRY],
            "indicator": [k.indicator for k in REGISTRY],
            "category": [k.category for k in REGISTRY],
            "unit": [k.unit for k in REGISTRY],
            "direction": [k.direction for k in REGISTRY],
            "_order": list(range(len(ids))),
            "_min": [k.min_sample for k in REGISTRY],
        }
    )
    out = frame.join(meta, on="kpi", how="left").with_columns(
        delta=pl.col("value") - pl.col("previous"),
        delta_pct=pl.when(pl.col("previous") != 0).then(
            (pl.col("value") - pl.col("previous")) / pl.col("previous").abs()
        ),
        last_year_delta=pl.col("value") - pl.col("last_year"),
    )
    periods_order = out.select("period").unique(maintain_order=True).with_row_index("_porder")
    out = out.join(periods_order, on="period", how="left")
    rank = {name: i for i, name in enumerate(stage_order)}
    stage_rank = (
        pl.col("stage").str.split(" → ").list.first().replace_strict(rank, default=len(rank), return_dtype=pl.Int32)
    )
    counts = [pl.col(c).cast(pl.Float64).round(0).cast(pl.Int64) for c in ("n", "previous_n", "last_year_n")]
    out = out.with_columns(counts).with_columns(
        _srank=stage_rank,
        # too few records for a change to be a finding (a KPI's minimum; a census never is)
        small_sample=((pl.col("_min") > 0) & (pl.col("n") < pl.col("_min"))).fill_null(False),
    )
    return out.sort(["_porder", "_order", *by, "_srank", "stage"], nulls_last=True).select(
        "kpi",
        "label",
        "indicator",
        "category",
        "unit",
        "direction",
        "period",
        *by,
        "stage",
        "value",
        "previous",
        "last_year",
        "delta",
        "delta_pct",
        "last_year_delta",
        "period_to_date",
        "n",
        "previous_n",
        "last_year_n",
        "small_sample",
    )


TARGET_NOTED = ("quota_attainment", "pipeline_coverage")
"""KPIs read against a target: they say which months of the period have none."""
STALE_NOTED = ("open_pipeline", "weighted_pipeline", "pipeline_coverage", "_open_deals")
"""KPIs of the pipeline due in a period: they say how much past-due pipeline sits before it."""


def _with_notes(
    frame: pl.DataFrame,
    wide: pl.DataFrame,
    by: Sequence[str],
    dataset: Dataset,
    *,
    current: set[str],
    open_undated: bool,
) -> pl.DataFrame:
    """A ``note`` per row: what a manager should know before reading the value (a target missing some months, the
    past-due pipeline a period leaves out, too few records for a finding, a state of the pipeline in another
    period); null when there is nothing to say."""
    keys = ["period", *by]
    per_kpi: list[dict[str, object]] = []
    rows = wide.rename({"_key": "period"}).with_columns([pl.col(d).cast(pl.String) for d in by])
    currency_of = "currency" if "currency" in by else None
    if "__target_missing" in rows.columns:
        for row in rows.filter(pl.col("__target_missing").is_not_null()).iter_rows(named=True):
            for kpi in TARGET_NOTED:
                per_kpi.append(
                    {**{k: row[k] for k in keys}, "kpi": kpi, "note": f"no target for {row['__target_missing']}"}
                )
    if "_stale_deals" in rows.columns:
        for row in rows.filter(pl.col("_stale_deals") > 0).iter_rows(named=True):
            money = format_value(
                row["_stale_pipeline"],
                "currency",
                str(row[currency_of] if currency_of else dataset.currency),
                compact=True,
            )
            count = int(row["_stale_deals"])
            text = (
                f"not counted: {money} in {count:,} open deal{'s' if count != 1 else ''} due before {row['period']} "
                "(past due: update their close dates or close them)"
            )
            per_kpi += [{**{k: row[k] for k in keys}, "kpi": kpi, "note": text} for kpi in STALE_NOTED]
    as_of = f"{dataset.as_of:%d %b %Y}"
    state = [k.id for k in REGISTRY if k.scope == "pipeline"]
    undated = [k.id for k in BY_ID.values() if k.scope == "open" or k.id == "sales_velocity"]
    for period in frame.get_column("period").unique().to_list():
        if period in current:
            if open_undated:
                text = "no open deal has an expected close date: every open deal is counted, whatever its period"
                per_kpi += [{"period": period, "kpi": k, "note": text} for k in undated]
            continue
        text = f"a state of the pipeline on {as_of}: for {period} it needs a snapshot kept then (weekly history)"
        per_kpi += [{"period": period, "kpi": k, "note": text} for k in state]
        if open_undated:
            text = f"no open deal has an expected close date: only the period holding {as_of} has an open pipeline"
            per_kpi += [{"period": period, "kpi": k, "note": text} for k in undated]
    indexed = frame.with_row_index("__row")
    small = indexed.filter(pl.col("small_sample")).select("__row", "kpi", "n")
    notes = [
        pl.DataFrame(
            {
                "__row": small.get_column("__row"),
                "__sample": [sample_note(k, n) for k, n in small.select("kpi", "n").iter_rows()],
            },
            schema={"__row": pl.UInt32, "__sample": pl.String},
        )
    ]
    out = indexed.join(notes[0], on="__row", how="left", maintain_order="left")
    if per_kpi:
        found = (
            pl.DataFrame(per_kpi, schema={**{k: pl.String for k in keys}, "kpi": pl.String, "note": pl.String})
            .group_by([*keys, "kpi"], maintain_order=True)
            .agg(pl.col("note").unique(maintain_order=True).str.join("; ").alias("__other"))
        )
        out = out.join(found, on=[*keys, "kpi"], how="left", nulls_equal=True, maintain_order="left").with_columns(
            __other=pl.when(pl.col("stage").is_null()).then(pl.col("__other"))
        )
    else:
        out = out.with_columns(__other=pl.lit(None, pl.String))
    note = pl.concat_str(["__sample", "__other"], separator="; ", ignore_nulls=True)
    return out.with_columns(note=pl.when(note != "").then(note)).drop("__row", "__sample", "__other")


def _undated_closed_warning(dataset: Dataset) -> list[str]:
    """What a period view cannot place: closed deals without a close date (all time counts them)."""
    if not _has_close_dates(dataset):
        return []
    won, lost = _closed_undated(dataset.table("deals"))
    if not won and not lost:
        return []
    parts = [f"{won:,} won" if won else "", f"{lost:,} lost" if lost else ""]
    what = " and ".join(p for p in parts if p)
    return [
        f"{what} deal(s) have no close date: no period can place them, so period figures leave them out; all-time "
        "figures (grain: all) count them. Export the close date with them."
    ]


def _closed_undated(frame: pl.DataFrame) -> tuple[int, int]:
    """(won, lost) deals of a deals table without a close date, remembered per frame (asked on every evaluation)."""
    key = id(frame)
    if key not in _CLOSED_UNDATED:
        undated = pl.col("close_date").is_null()
        won, lost = frame.select(
            ((pl.col("status") == "won") & undated).sum().alias("won"),
            ((pl.col("status") == "lost") & undated).sum().alias("lost"),
        ).row(0)
        _CLOSED_UNDATED[key] = (int(won), int(lost))
        weakref.finalize(frame, _CLOSED_UNDATED.pop, key, None)
    return _CLOSED_UNDATED[key]


_CLOSED_UNDATED: dict[int, tuple[int, int]] = {}
