"""Drill-down: the rows behind one KPI value, and the rows left out of it with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from kpi_core import periods as P
from kpi_core.engine import OPEN_SCOPES, _data_start, _window, all_open_undated
from kpi_core.model import Dataset
from kpi_core.periods import Period
from kpi_core.registry import BY_ID, KPI, SCOPES, dependencies, get


@dataclass(frozen=True)
class RowsBehind:
    """``included``: the rows a value is computed from. ``excluded``: rows of the same period and
    segment (or with no date to place them) left out, with a ``reason`` column."""

    kpi: str
    period: str
    table: str
    included: pl.DataFrame
    excluded: pl.DataFrame


def _base_kpi(kpi: KPI) -> KPI:
    """For a derived KPI, the row-level KPI its value mostly rests on."""
    if kpi.scope in ("derived", "growth"):
        for dep in dependencies(kpi):
            candidate = BY_ID[dep]
            if candidate.scope not in ("derived", "growth", "targets"):
                return candidate
    return kpi


def rows_behind(
    dataset: Dataset, kpi: str, period: str | Period, segment: Mapping[str, str] | None = None
) -> RowsBehind:
    """Rows behind ``kpi`` in ``period`` for ``segment`` (dimension -> value).

    >>> import polars as pl
    >>> from datetime import date
    >>> deals = pl.DataFrame({"deal_id": ["1", "2"], "stage": ["Won", "Lost"], "amount": [100.0, 50.0],
    ...                       "close_date": [date(2026, 1, 5), date(2026, 1, 9)]})
    >>> ds = Dataset.prepare({"deals": deals}, as_of=date(2026, 1, 31))
    >>> rows_behind(ds, "won_revenue", "2026-01").included["deal_id"].to_list()
    ['1']
    """
    spec = _base_kpi(get(kpi))
    fy = dataset.settings.fiscal_year_start
    chosen = period if isinstance(period, Period) else P.parse(period, fy)
    scope = SCOPES[spec.scope]
    if not dataset.has(scope.table):
        empty = pl.DataFrame()
        return RowsBehind(kpi, chosen.label, scope.table, empty, empty)
    frame = dataset.table(scope.table)
    for dim, value in (segment or {}).items():
        if dim not in frame.columns:
            raise ValueError(f"{scope.table} has no {dim} column")
        frame = frame.filter(pl.col(dim).cast(pl.String) == str(value))
    window = _window(chosen.label, chosen, chosen.start, chosen.end, dataset.as_of, _data_start(dataset))
    if spec.scope == "subscriptions":
        active = (pl.col("start_date") <= window.point) & (
            pl.col("end_date").is_null() | (pl.col("end_date") > window.point)
        )
        was = (pl.col("start_date") <= window.base) & (
            pl.col("end_date").is_null() | (pl.col("end_date") > window.base)
        )
        included = frame.filter(active | was)
        excluded = frame.filter(~(active | was)).with_columns(reason=pl.lit("not active at the period's start or end"))
        return RowsBehind(kpi, chosen.label, scope.table, included, excluded)
    # the pipeline on the as-of date belongs to the period holding it (and to all time), whatever the deals' close
    # dates; so does every open deal when none has a close date (the engine's rule, see kpi_core.engine.report)
    current = chosen.grain == "all" or chosen.contains(dataset.as_of)
    state = spec.scope == "pipeline" or (spec.scope == "open" and chosen.grain != "all" and all_open_undated(dataset))
    anchor = scope.anchor or "close_date"
    if chosen.grain == "all" or state:
        in_period = pl.lit(current)
    else:
        in_period = pl.col(anchor).is_between(window.start, window.end, closed="left")
    reasons: list[tuple[pl.Expr, str]] = []
    # all time holds open deals and closed ones without a date too (no period can place them)
    if not (state or (spec.scope in ("open", "closed") and chosen.grain == "all")):
        reasons.append((pl.col(anchor).is_null(), f"no {scope.anchor_label}, so in no period"))
    counted = spec.rows if spec.rows is not None else pl.lit(True)
    if spec.scope in OPEN_SCOPES:
        counted = (pl.col("status") == "open") & counted
    status_only = spec.rows is None or set(spec.rows.meta.root_names()) <= {"status"}
    if scope.table == "deals" and status_only:
        reasons.append((~counted.fill_null(False), "status is not counted by this KPI"))
    elif spec.rows is not None or spec.scope in OPEN_SCOPES:
        reasons.append((~counted.fill_null(False), f"not counted: {spec.formula}"))
    if "amount" in spec.inputs() and "amount" in frame.columns:
        reasons.append((pl.col("amount").is_null(), "no amount"))
    reason = pl.lit(None, pl.String)
    for condition, text in reversed(reasons):
        reason = pl.when(condition).then(pl.lit(text)).otherwise(reason)
    if "status" in frame.columns:
        reason = (
            pl.when(reason == "status is not counted by this KPI")
            .then(pl.lit("status is ") + pl.col("status").cast(pl.String))
            .otherwise(reason)
        )
    marked = frame.with_columns(reason=reason)
    in_scope = in_period.fill_null(False) | (pl.col(anchor).is_null() if not state else pl.lit(False))
    if spec.scope in OPEN_SCOPES and chosen.grain != "all":
        in_scope = in_scope & (pl.col("status") == "open")
    relevant = marked.filter(in_scope)
    included = relevant.filter(pl.col("reason").is_null()).drop("reason")
    excluded = relevant.filter(pl.col("reason").is_not_null())
    return RowsBehind(kpi, chosen.label, scope.table, included, excluded)


def exclusions(
    dataset: Dataset, kpi: str, period: str | Period, segment: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """How many rows one KPI value left out, and why: columns ``reason``, ``rows``.

    >>> import polars as pl
    >>> from datetime import date
    >>> deals = pl.DataFrame({"deal_id": ["1", "2", "3"], "stage": ["Won", "Lost", "Won"], "amount": [100.0, 50.0, 7.0],
    ...                       "close_date": [date(2026, 1, 5), date(2026, 1, 9), None]})
    >>> exclusions(Dataset.prepare({"deals": deals}, as_of=date(2026, 1, 31)), "won_revenue", "2026-01").rows()
    [('no close date, so in no period', 1), ('status is lost', 1)]
    """
    behind = rows_behind(dataset, kpi, period, segment)
    if "reason" not in behind.excluded.columns:
        return pl.DataFrame(schema={"reason": pl.String, "rows": pl.UInt32})
    return (
        behind.excluded.group_by("reason").agg(pl.len().alias("rows")).sort("rows", "reason", descending=[True, False])
    )
