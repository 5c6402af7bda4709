"""Point-in-time KPIs over time, from kept snapshots.

Open pipeline, weighted pipeline, coverage, stalled and past-due deals describe the pipeline on the day of an
export, so one export cannot say what they were last quarter. A run of weekly snapshots can: for each earlier
period, the snapshot taken at the same point of that period (the same number of days in, or the latest one
before) is evaluated for that period.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta

import polars as pl

from kpi_core.changes import same_pipeline, stage_history_from
from kpi_core.engine import POINT_IN_TIME, report
from kpi_core.model import LOOKUPS, Dataset, Settings
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


def of_pipeline(reviewed: pl.DataFrame | None, weeks: Sequence[pl.DataFrame | None]) -> list[bool]:
    """Which kept weeks (their deals) are exports of the pipeline of ``reviewed`` (the deals on screen or reviewed):
    they share its deals (:func:`kpi_core.changes.same_pipeline`). Only those stand for its history: its comparison,
    trends, forecast accuracy, rebuilt stage history and count of kept weeks. A side without deal ids cannot tell,
    and is kept.

    >>> a = pl.DataFrame({"deal_id": [str(i) for i in range(10)]})
    >>> b = pl.DataFrame({"deal_id": [f"x{i}" for i in range(10)]})
    >>> of_pipeline(a, [a.head(8), b, None])
    [True, False, True]
    """
    if reviewed is None or "deal_id" not in reviewed.columns:
        return [True] * len(weeks)
    return [week is None or "deal_id" not in week.columns or same_pipeline(week, reviewed) for week in weeks]


def with_stage_history(
    tables: Mapping[str, pl.DataFrame], as_of: date, earlier: Sequence[tuple[date, pl.DataFrame]]
) -> dict[str, pl.DataFrame]:
    """``tables`` with a stage history rebuilt from the deals of the ``earlier`` kept weeks of its pipeline (oldest
    first) and its own, when its files carry none: a deal entered a stage on the first week that shows it there. So
    time in stage, stalled deals and the funnel work on plain weekly reports, the same on every page and in the
    review. Without earlier weeks (or deals) the tables are returned as they are."""
    if "stage_history" in tables or "deals" not in tables or not earlier:
        return dict(tables)
    return {**tables, "stage_history": stage_history_from([*earlier, (as_of, tables["deals"])])}


def prepare_week(weeks: Sequence[tuple[date, Mapping[str, pl.DataFrame]]], settings: Settings | None = None) -> Dataset:
    """The last of ``weeks`` (kept weeks of one pipeline, oldest first, with their as-of dates) prepared as of its
    date, with the stage history rebuilt from all of them when its files carry none (:func:`with_stage_history`)."""
    *earlier, (as_of, tables) = weeks
    rebuilt = with_stage_history(tables, as_of, [(day, t["deals"]) for day, t in earlier if "deals" in t])
    return Dataset.prepare(rebuilt, as_of=as_of, settings=settings)
