"""Breakdowns the pages chart: the stage funnel, MRR movements, cohort retention, value distributions.

Each returns a small tidy frame (far below Altair's 5,000-row limit) computed from a prepared dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from kpi_core import periods as P
from kpi_core.engine import Filters, _filter_expr
from kpi_core.model import Dataset
from kpi_core.periods import Period


def _filtered(dataset: Dataset, table: str, filters: Filters | None) -> pl.DataFrame:
    frame = dataset.table(table)
    usable = {k: v for k, v in (filters or {}).items() if v and k in frame.columns}
    expr = _filter_expr(frame, usable) if usable else None
    return frame.filter(expr) if expr is not None else frame


def funnel(dataset: Dataset, period: Period | None = None, filters: Filters | None = None) -> pl.DataFrame:
    """Deals created in ``period`` (all time when None) that reached each stage, with next-step and
    cumulative conversion: columns stage, order, reached, next_rate, cumulative_rate.

    >>> from datetime import date
    >>> deals = pl.DataFrame({"deal_id": ["1", "2", "3"], "stage": ["Proposal", "Won", "Lost"], "probability": [0.5, 1.0, 0.0],
    ...                       "created_date": [date(2026, 1, 2)] * 3})
    >>> funnel(Dataset.prepare({"deals": deals})).select("stage", "reached").rows()
    [('Proposal', 3), ('Won', 1)]
    """
    if not dataset.has("deals") or not dataset.stage_order:
        return pl.DataFrame(
            schema={
                "stage": pl.String,
                "order": pl.Int32,
                "reached": pl.UInt32,
                "next_rate": pl.Float64,
                "cumulative_rate": pl.Float64,
            }
        )
    deals = _filtered(dataset, "deals", filters)
    if period is not None and period.grain != "all" and "created_date" in deals.columns:
        deals = deals.filter(pl.col("created_date").is_between(period.start, period.end, closed="left"))
    names = [*dataset.stage_order, "Won"]
    counts = deals.select([(pl.col("reached") >= k).sum().alias(str(k)) for k in range(len(names))]).row(0)
    rows = []
    for k, name in enumerate(names):
        reached = int(counts[k])
        following = int(counts[k + 1]) if k + 1 < len(names) else None
        rows.append(
            {
                "stage": name,
                "order": k + 1,
                "reached": reached,
                "next_rate": (following / reached) if following is not None and reached else None,
                "cumulative_rate": (reached / counts[0]) if counts[0] else None,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "stage": pl.String,
            "order": pl.Int32,
            "reached": pl.UInt32,
            "next_rate": pl.Float64,
            "cumulative_rate": pl.Float64,
        },
    )


def mrr_movements(dataset: Dataset, chosen: Sequence[Period], filters: Filters | None = None) -> pl.DataFrame:
    """Per period: MRR at the start and end and its movements (new, expansion, contraction, churn; the
    last two negative), so ``start + new + expansion + contraction + churn = end``."""
    if not dataset.has("subscriptions"):
        return pl.DataFrame(schema={"period": pl.String, "movement": pl.String, "mrr": pl.Float64})
    subs = _filtered(dataset, "subscriptions", filters)
    windows = pl.DataFrame(
        {
            "period": [p.label for p in chosen],
            "_order": list(range(len(chosen))),
            "_base": [p.start - timedelta(days=1) for p in chosen],
            "_point": [min(p.end, dataset.as_of + timedelta(days=1)) - timedelta(days=1) for p in chosen],
        }
    )

    def active(at: str) -> pl.Expr:
        return (pl.col("start_date") <= pl.col(at)) & (pl.col("end_date").is_null() | (pl.col("end_date") > pl.col(at)))

    per_account = (
        subs.lazy()
        .join(windows.lazy(), how="cross")
        .group_by("period", "_order", "account")
        .agg(m0=pl.col("mrr").filter(active("_base")).sum(), m1=pl.col("mrr").filter(active("_point")).sum())
    )
    d = pl.col("m1") - pl.col("m0")
    totals = (
        per_account.group_by("period", "_order")
        .agg(
            start=pl.col("m0").sum(),
            new=pl.col("m1").filter(pl.col("m0") <= 0).sum(),
            expansion=d.filter((pl.col("m0") > 0) & (d > 0)).sum(),
            contraction=d.filter((pl.col("m0") > 0) & (pl.col("m1") > 0) & (d < 0)).sum(),
            churn=(-pl.col("m0")).filter((pl.col("m0") > 0) & (pl.col("m1") <= 0)).sum(),
            end=pl.col("m1").sum(),
        )
        .collect()
    )
    return (
        totals.unpivot(index=["period", "_order"], variable_name="movement", value_name="mrr")
        .sort("_order", "movement")
        .drop("_order")
    )


def cohort_retention(dataset: Dataset, *, months: int = 12, filters: Filters | None = None) -> pl.DataFrame:
    """Customer retention by monthly cohort (month of the first subscription): columns cohort, age
    (months since joining), customers (cohort size), retained (share still active at the end of that month)."""
    schema = {"cohort": pl.String, "age": pl.Int32, "customers": pl.UInt32, "retained": pl.Float64}
    if not dataset.has("subscriptions"):
        return pl.DataFrame(schema=schema)
    subs = _filtered(dataset, "subscriptions", filters)
    first = subs.group_by("account").agg(pl.col("start_date").min().alias("first"))
    cohorts = first.with_columns(cohort=pl.col("first").dt.truncate("1mo"))
    last_cohort = date(dataset.as_of.year, dataset.as_of.month, 1)
    cohorts = cohorts.filter(pl.col("cohort") >= P.shift(P.make(last_cohort, "month"), -(months - 1)).start)
    ages = pl.DataFrame({"age": list(range(months))}, schema={"age": pl.Int32})
    grid = (
        cohorts.join(ages, how="cross")
        .with_columns(at=pl.col("cohort").dt.offset_by(pl.format("{}mo", pl.col("age") + 1)) - pl.duration(days=1))
        .filter(pl.col("at") <= dataset.as_of)
    )
    alive = (
        grid.join(subs.select("account", "start_date", "end_date"), on="account")
        .filter(
            (pl.col("start_date") <= pl.col("at"))
            & (pl.col("end_date").is_null() | (pl.col("end_date") > pl.col("at")))
        )
        .select("account", "age")
        .unique()
    )
    sizes = cohorts.group_by("cohort").agg(pl.len().alias("customers"))
    kept = (
        grid.join(alive.with_columns(kept=pl.lit(1)), on=["account", "age"], how="left")
        .group_by("cohort", "age")
        .agg(pl.col("kept").sum().alias("kept"))
    )
    return (
        kept.join(sizes, on="cohort")
        .with_columns(retained=pl.col("kept") / pl.col("customers"), cohort=pl.col("cohort").dt.strftime("%Y-%m"))
        .select("cohort", "age", "customers", "retained")
        .sort("cohort", "age")
    )


def distribution(values: pl.Series, edges: Sequence[float], labels: Sequence[str]) -> pl.DataFrame:
    """Counts of values in bins ``[edges[i], edges[i+1])`` (the last bin open-ended), in bin order.

    >>> distribution(pl.Series([0.5, 2.0, 30.0]), [0, 1, 24], ["< 1 h", "1-24 h", "> 24 h"]).rows()
    [('< 1 h', 0, 1), ('1-24 h', 1, 1), ('> 24 h', 2, 1)]
    """
    frame = pl.DataFrame({"v": values.drop_nulls().cast(pl.Float64)})
    index = pl.lit(0, pl.Int32)
    for i, edge in enumerate(edges[1:], start=1):
        index = pl.when(pl.col("v") >= edge).then(pl.lit(i, pl.Int32)).otherwise(index)
    counts = dict(frame.group_by(index.alias("bin")).len().iter_rows())
    return pl.DataFrame(
        {
            "bin": list(labels),
            "order": list(range(len(labels))),
            "count": [counts.get(i, 0) for i in range(len(labels))],
        },
        schema={"bin": pl.String, "order": pl.Int32, "count": pl.UInt32},
    )
