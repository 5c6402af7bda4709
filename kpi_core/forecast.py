"""Forecast accuracy from snapshot history: the forecast made at a period's start against what was won.

For each closed period P with a snapshot taken at its start (the latest one on or before P's first day, else
one in P's first week), the forecast is the revenue already won in P by then plus the weighted open pipeline
closing in P (and, where the data has forecast categories, the Commit deals at full amount). Actual is the
won revenue of P in the latest data. ``accuracy = 1 - |forecast - actual| / actual``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from kpi_core import periods as P
from kpi_core.model import Dataset
from kpi_core.periods import Grain, Period

SCHEMA = {
    "period": pl.String,
    "snapshot": pl.Date,
    "week": pl.Int32,
    "forecast": pl.Float64,
    "forecast_commit": pl.Float64,
    "actual": pl.Float64,
    "accuracy": pl.Float64,
    "accuracy_commit": pl.Float64,
}


def _forecast(snapshot: Dataset, period: Period, by: Sequence[str]) -> pl.DataFrame:
    deals = snapshot.table("deals")
    in_period = pl.col("close_date").is_between(period.start, period.end, closed="left").fill_null(False)
    won_to_date = (pl.col("status") == "won") & in_period & (pl.col("close_date") <= snapshot.as_of)
    open_in_period = (pl.col("status") == "open") & in_period
    commit = (
        pl.col("forecast_category").cast(pl.String).str.to_lowercase().is_in(["commit", "forecast"])
        if "forecast_category" in deals.columns
        else pl.lit(False)
    )
    amount = pl.col("amount").fill_null(0.0)
    aggs = [
        (
            amount.filter(won_to_date).sum()
            + (amount * pl.col("win_probability").fill_null(0.0)).filter(open_in_period).sum()
        ).alias("forecast"),
        (amount.filter(won_to_date).sum() + amount.filter(open_in_period & commit).sum()).alias("forecast_commit"),
    ]
    keys = [pl.col(d).cast(pl.String) for d in by]
    return deals.group_by(keys).agg(aggs) if by else deals.select(aggs)


def _actual(latest: Dataset, period: Period, by: Sequence[str]) -> pl.DataFrame:
    deals = latest.table("deals").filter(
        (pl.col("status") == "won") & pl.col("close_date").is_between(period.start, period.end, closed="left")
    )
    agg = pl.col("amount").fill_null(0.0).sum().alias("actual")
    keys = [pl.col(d).cast(pl.String) for d in by]
    return deals.group_by(keys).agg(agg) if by else deals.select(agg)


def forecast_accuracy(
    history: Sequence[Dataset],
    *,
    grain: Grain = "month",
    by: Sequence[str] = (),
    weekly: bool = False,
    fiscal_year_start: int | None = None,
) -> pl.DataFrame:
    """Forecast accuracy per closed period (and per segment of ``by``) from prepared snapshots, oldest first;
    the last snapshot gives the actual results. With ``weekly``, one row per snapshot taken during each
    period too (week 0 is the period's start), for the trend of the forecast through the period. Quarters and
    years start in ``fiscal_year_start`` (default: the latest snapshot's setting).

    Returns columns period, <by...>, snapshot, week, forecast, forecast_commit, actual, accuracy, accuracy_commit.
    """
    if len(history) < 2:
        return pl.DataFrame(schema={**SCHEMA, **{d: pl.String for d in by}})
    snapshots = sorted(history, key=lambda d: d.as_of)
    latest = snapshots[-1]
    fy = fiscal_year_start or latest.settings.fiscal_year_start
    first = P.make(snapshots[0].as_of, grain, fy)
    rows: list[pl.DataFrame] = []
    period = first
    while period.end <= latest.as_of + timedelta(days=1):
        at_start = [s for s in snapshots if s.as_of <= period.start] or [
            s for s in snapshots if s.as_of < period.start + timedelta(days=7)
        ]
        if at_start:
            start_snapshot = at_start[-1] if at_start[-1].as_of <= period.start else at_start[0]
            during = (
                [s for s in snapshots if period.start < s.as_of < period.end and s.as_of > start_snapshot.as_of]
                if weekly
                else []
            )
            actual = _actual(latest, period, by)
            for week, snapshot in enumerate([start_snapshot, *during]):
                made = _forecast(snapshot, period, by)
                joined = (
                    made.join(actual, on=list(by), how="full", coalesce=True)
                    if by
                    else pl.concat([made, actual], how="horizontal")
                )
                rows.append(
                    joined.with_columns(
                        period=pl.lit(period.label),
                        snapshot=pl.lit(snapshot.as_of, pl.Date),
                        week=pl.lit(week, pl.Int32),
                    )
                )
        period = P.shift(period, 1, fy)
    if not rows:
        return pl.DataFrame(schema={**SCHEMA, **{d: pl.String for d in by}})
    frame = pl.concat(rows, how="diagonal_relaxed").with_columns(
        pl.col("forecast", "forecast_commit", "actual").fill_null(0.0),
    )
    accuracy = [
        pl.when(pl.col("actual") > 0).then(1 - (pl.col(c) - pl.col("actual")).abs() / pl.col("actual")).alias(name)
        for c, name in (("forecast", "accuracy"), ("forecast_commit", "accuracy_commit"))
    ]
    return (
        frame.with_columns(accuracy)
        .select("period", *by, *[c for c in SCHEMA if c != "period"])
        .sort("period", *by, "week")
    )


def prepare_history(snapshots: Sequence[tuple[date, dict[str, pl.DataFrame]]]) -> list[Dataset]:
    """Prepared datasets of stored snapshots (their own as-of dates), oldest first."""
    return [Dataset.prepare(tables, as_of=day) for day, tables in sorted(snapshots, key=lambda s: s[0])]
