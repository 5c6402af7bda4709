"""Weekly snapshots of the sample company: the deals as each Friday's export would have shown them.

Built from the final tables: a deal appears once created; it is open until its close date; its stage is
the last one it had entered; the stage history and activities are those dated up to the export; some deals show an earlier expected close date (they slip later) and a smaller
amount (they grow later), so consecutive weeks have wins, losses, pushes, pulls, new and resized deals.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from sample_data.generator import END, STAGE_PROBABILITY, STAGES

LOOKUPS = ("reps", "products", "accounts", "targets")


def weekly_dates(weeks: int = 13, end: date = END) -> list[date]:
    """The as-of dates of ``weeks`` weekly exports ending at ``end`` (oldest first)."""
    return [end - timedelta(days=7 * i) for i in reversed(range(weeks))]


def deals_as_of(tables: dict[str, pl.DataFrame], as_of: date, *, end: date = END, seed: int = 11) -> pl.DataFrame:
    """The deals table an export taken on ``as_of`` would have held (the export on ``end`` is the data itself)."""
    deals = tables["deals"].filter(pl.col("created_date") <= as_of)
    if as_of >= end:
        return deals
    history = tables["stage_history"].filter(pl.col("entered_at").dt.date() <= as_of)
    stage_then = history.sort("entered_at").group_by("deal_id").agg(pl.col("stage").last().alias("stage_then"))
    # stable draws per deal (from its id), so a deal behaves the same way in every week's export
    roll = (pl.col("deal_id").hash(seed=seed) % 100_000).cast(pl.Float64) / 100_000
    when = (pl.col("deal_id").hash(seed=seed + 1) % 100_000).cast(pl.Float64) / 100_000
    probability = dict(zip(STAGES, STAGE_PROBABILITY, strict=True))
    closed_then = (pl.col("status") != "open") & (pl.col("close_date") <= as_of)
    life = (pl.lit(end) - pl.col("created_date")).dt.total_days()
    # the day a slipping deal's close date moved out, and the day a growing deal got bigger
    changed_on = pl.col("created_date") + pl.duration(days=(life * (0.3 + 0.6 * pl.col("_w"))).cast(pl.Int64))
    earlier = pl.col("close_date") - pl.duration(days=(pl.col("_r") * 1000 % 21 + 14).cast(pl.Int64))
    before_change = pl.lit(as_of) < changed_on
    return (
        deals.with_columns(_r=roll, _w=when)
        .join(stage_then, on="deal_id", how="left")
        .with_columns(
            status=pl.when(closed_then).then(pl.col("status")).otherwise(pl.lit("open")),
            stage=pl.when(closed_then)
            .then(pl.col("stage"))
            .otherwise(pl.coalesce(pl.col("stage_then"), pl.lit(STAGES[0]))),
            # a sixth of the deals showed an earlier close date until they slipped
            close_date=pl.when(~closed_then & (pl.col("_r") < 0.16) & before_change & (earlier > as_of))
            .then(earlier)
            .otherwise(pl.col("close_date")),
            # a tenth were smaller until they grew
            amount=pl.when(~closed_then & pl.col("_r").is_between(0.16, 0.26) & before_change)
            .then((pl.col("amount") * 0.085).round(0) * 10)
            .otherwise(pl.col("amount")),
        )
        .with_columns(
            probability=pl.when(pl.col("status") == "won")
            .then(1.0)
            .when(pl.col("status") == "lost")
            .then(0.0)
            .otherwise(pl.col("stage").replace_strict(probability, default=0.1, return_dtype=pl.Float64)),
            forecast_category=pl.when(pl.col("status") == "won")
            .then(pl.lit("Closed"))
            .when(pl.col("status") == "lost")
            .then(pl.lit("Omitted"))
            .otherwise(pl.col("forecast_category")),
            lost_reason=pl.when(pl.col("status") == "lost").then(pl.col("lost_reason")),
        )
        .drop("_r", "_w", "stage_then")
    )


def weekly_snapshots(
    tables: dict[str, pl.DataFrame], weeks: int = 13, end: date = END
) -> list[tuple[date, dict[str, pl.DataFrame]]]:
    """``weeks`` weekly exports (deals, their stage history, the activities logged so far and the lookups), oldest
    first. The newest holds what the sample company holds of each (its deals, stage history and activities are the
    company's own), so a KPI read of the newest week is the one the pages show for the company."""
    lookups = {name: tables[name] for name in LOOKUPS if name in tables}
    return [
        (
            day,
            {
                "deals": deals_as_of(tables, day, end=end),
                # the stage changes known on that day (a Salesforce OpportunityHistory export beside the report)
                "stage_history": tables["stage_history"].filter(pl.col("entered_at").dt.date() <= day),
                # the calls, emails and meetings logged by then (an activities report beside it): stalled deals
                # count a deal with no activity for a month as stalled, as they do on the company's own data
                "activities": tables["activities"].filter(pl.col("activity_date").dt.date() <= day),
                **lookups,
            },
        )
        for day in weekly_dates(weeks, end)
    ]


def seed_store(store: object, tables: dict[str, pl.DataFrame], weeks: int = 13) -> int:
    """Save the sample company's weekly exports in a snapshot store that has none; how many were added."""
    from kpi_core.snapshots import SnapshotStore

    assert isinstance(store, SnapshotStore)
    existing = {s.as_of for s in store.list()}
    added = 0
    for day, snapshot in weekly_snapshots(tables, weeks):
        if day not in existing:
            store.save(snapshot, as_of=day, name=f"Sample company {day.isoformat()}", sources=[("sample company", "")])
            added += 1
    return added
