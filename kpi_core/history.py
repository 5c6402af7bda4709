"""Point-in-time KPIs over time, from kept snapshots.

Open pipeline, weighted pipeline, coverage, stalled and past-due deals describe the pipeline on the day of an
export, so one export cannot say what they were last quarter. A run of weekly snapshots can: for each earlier
period, the snapshot taken at the same point of that period (the same number of days in, or the latest one
before) is evaluated for that period.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

import polars as pl

from kpi_core.engine import POINT_IN_TIME, report
from kpi_core.model import LOOKUPS, Dataset
from kpi_core.periods import Grain, Period

PIPELINE_TABLES = frozenset({"deals", "stage_history", "targets", "rates", "users", "stages", *LOOKUPS})
"""What point-in-time KPIs and forecasts read of a snapshot (with each deal's last activity, from the activities'
links): ``Dataset.prepare(..., tables=PIPELINE_TABLES)`` holds a kept week in a fraction of a full dataset."""

TOLERANCE = timedelta(days=7)
"""A snapshot may be this much older than the point it stands for (weekly exports)."""


def same_point(period: Period, reference: Period, as_of: date) -> date:
    """The day of ``period`` as far in as ``as_of`` is in ``reference`` (its last day when ``period`` is shorter).

    >>> from kpi_core import periods
    >>> same_point(periods.parse("2026-Q3"), periods.parse("2026-Q4"), date(2026, 11, 20))
    datetime.date(2026, 8, 20)
    """
    return min(period.start + (as_of - reference.start), period.end - timedelta(days=1))


def pick(snapshots: Sequence[tuple[date, str]], day: date) -> tuple[date, str] | None:
    """The snapshot that stands for ``day``: the latest taken on or before it, if no more than a week before."""
    earlier = [s for s in sorted(snapshots) if s[0] <= day]
    if not earlier or day - earlier[-1][0] > TOLERANCE:
        return None
    return earlier[-1]


def point_in_time(
    load: Callable[[str], Dataset],
    snapshots: Sequence[tuple[date, str]],
    kpis: Sequence[str],
    *,
    grain: Grain,
    periods: Sequence[Period],
    as_of: date,
    filters: dict[str, list[str]] | None = None,
) -> pl.DataFrame:
    """The point-in-time ``kpis`` of each of ``periods``, each from the snapshot at the same point of it as ``as_of``
    is in the last period: columns period, kpi, value, snapshot (the snapshot's date). Periods without such a
    snapshot are left out; ``load`` prepares a snapshot by its key (the caller caches it)."""
    wanted = [k for k in kpis if k in POINT_IN_TIME]
    rows: list[pl.DataFrame] = []
    if not wanted or not periods:
        return pl.DataFrame(schema={"period": pl.String, "kpi": pl.String, "value": pl.Float64, "snapshot": pl.Date})
    reference = periods[-1]
    for period in periods:
        chosen = pick(snapshots, same_point(period, reference, as_of))
        if chosen is None:
            continue
        dataset = load(chosen[1])
        known = set(dataset.dimensions())
        usable = {k: v for k, v in (filters or {}).items() if k in known}
        result = report(dataset, wanted, grain=grain, periods=[period], filters=usable, compare=False)
        frame = result.frame
        if not frame.height:
            continue
        if "currency" in frame.columns:  # one number per KPI: the rows not split by currency
            frame = frame.filter(pl.col("currency").is_null())
        rows.append(
            frame.filter(pl.col("stage").is_null()).select(
                pl.lit(period.label).alias("period"),
                "kpi",
                pl.col("value").cast(pl.Float64),
                pl.lit(chosen[0]).alias("snapshot"),
            )
        )
    if not rows:
        return pl.DataFrame(schema={"period": pl.String, "kpi": pl.String, "value": pl.Float64, "snapshot": pl.Date})
    return pl.concat(rows, how="vertical_relaxed")
