"""The canonical sales model: table schemas, settings and the ``Dataset`` bundle.

Every import ends in these tables (see the KPI catalog). ``Dataset.prepare`` turns raw canonical
frames into the encoded, enriched frames the engine reads: lookups joined, status derived, strings
encoded once as shared ``pl.Enum`` types, per-deal helper columns computed once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Literal, overload

import polars as pl

TABLES: Mapping[str, Mapping[str, pl.DataType]] = MappingProxyType(
    {
        "deals": {
            "deal_id": pl.String(),
            "deal_name": pl.String(),
            "account": pl.String(),
            "owner": pl.String(),
            "stage": pl.String(),
            "status": pl.String(),
            "amount": pl.Float64(),
            "currency": pl.String(),
            "amount_original": pl.Float64(),
            "currency_original": pl.String(),
            "probability": pl.Float64(),
            "created_date": pl.Date(),
            "close_date": pl.Date(),
            "forecast_category": pl.String(),
            "deal_type": pl.String(),
            "lead_source": pl.String(),
            "lost_reason": pl.String(),
            "pipeline": pl.String(),
            "region": pl.String(),
            "product": pl.String(),
            "segment": pl.String(),
            "team": pl.String(),
            "cost": pl.Float64(),
            "gross_profit": pl.Float64(),
        },
        "stage_history": {"deal_id": pl.String(), "stage": pl.String(), "entered_at": pl.Datetime("us")},
        "activities": {
            "activity_id": pl.String(),
            "owner": pl.String(),
            "type": pl.String(),
            "activity_date": pl.Datetime("us"),
            "deal_id": pl.String(),
            "lead_id": pl.String(),
            "account": pl.String(),
            "completed": pl.Boolean(),
        },
        "leads": {
            "lead_id": pl.String(),
            "owner": pl.String(),
            "source": pl.String(),
            "status": pl.String(),
            "created_at": pl.Datetime("us"),
            "converted": pl.Boolean(),
            "converted_date": pl.Date(),
            "converted_deal_id": pl.String(),
            "first_response_at": pl.Datetime("us"),
            "region": pl.String(),
        },
        "subscriptions": {
            "account": pl.String(),
            "start_date": pl.Date(),
            "end_date": pl.Date(),
            "mrr": pl.Float64(),
            "product": pl.String(),
            "region": pl.String(),
            "segment": pl.String(),
        },
        "targets": {
            "period": pl.String(),
            "kpi": pl.String(),
            "value": pl.Float64(),
            "owner": pl.String(),
            "region": pl.String(),
            "product": pl.String(),
            "team": pl.String(),
        },
        "spend": {
            "period": pl.String(),
            "sales_cost": pl.Float64(),
            "marketing_cost": pl.Float64(),
            "region": pl.String(),
            "segment": pl.String(),
        },
        "rates": {"currency": pl.String(), "rate": pl.Float64(), "valid_from": pl.Date()},
        "reps": {"owner": pl.String(), "team": pl.String(), "manager": pl.String(), "region": pl.String()},
        "users": {
            "user_id": pl.String(),
            "external_id": pl.String(),
            "owner": pl.String(),
            "email": pl.String(),
            "alias": pl.String(),
            "team": pl.String(),
            "manager": pl.String(),
            "region": pl.String(),
        },
        "stages": {
            "stage_id": pl.String(),
            "stage": pl.String(),
            "order": pl.Float64(),
            "pipeline": pl.String(),
            "probability": pl.Float64(),
        },
        "products": {"product": pl.String(), "family": pl.String(), "list_price": pl.Float64()},
        "accounts": {
            "account_id": pl.String(),
            "account": pl.String(),
            "segment": pl.String(),
            "industry": pl.String(),
            "size": pl.String(),
            "region": pl.String(),
        },
    }
)
"""Canonical tables and the dtype of each column they may carry."""

KEY_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "deals": ("deal_id",),
        "stage_history": ("deal_id", "stage", "entered_at"),
        "activities": ("activity_date",),
        "leads": ("lead_id", "created_at"),
        "subscriptions": ("account", "start_date", "mrr"),
        "targets": ("period", "value"),
        "spend": ("period",),
        "rates": ("currency", "rate"),
        "reps": ("owner",),
        "users": ("owner",),
        "stages": ("stage_id", "stage"),
        "products": ("product",),
        "accounts": ("account",),
    }
)
"""Columns a table cannot do without."""

LOOKUPS: Mapping[str, str] = MappingProxyType({"reps": "owner", "products": "product", "accounts": "account"})
"""Lookup table -> the key it joins on."""

DIMENSIONS: tuple[str, ...] = (
    "region",
    "product",
    "owner",
    "team",
    "manager",
    "segment",
    "lead_source",
    "deal_type",
    "pipeline",
    "industry",
    "family",
    "type",
    "source",
    "forecast_category",
    "currency",
)
"""Categorical columns the engine can segment by (when a table has them)."""

STATUSES: tuple[str, ...] = ("open", "won", "lost")
ACTIVITY_TYPES: tuple[str, ...] = ("call", "email", "meeting", "task", "other")
EXISTING_CUSTOMER_TYPES: tuple[str, ...] = ("upsell", "cross-sell", "expansion", "renewal")


@dataclass(frozen=True)
class Settings:
    """Settings that change how KPIs are computed."""

    fiscal_year_start: int = 1
    currency: str | None = None
    """The reporting currency; None: the deals' own when they have one, else USD."""
    stalled_stage_factor: float = 1.5
    stalled_idle_days: int = 30
    response_sla_hours: float = 1.0
    gross_margin: float = 1.0
    stage_order: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.fiscal_year_start <= 12:
            raise ValueError(f"fiscal year start month must be 1-12, got {self.fiscal_year_start}")


class DataError(ValueError):
    """Input that cannot be used, with a message for the person who supplied it."""


@overload
def conform(name: str, frame: pl.DataFrame) -> pl.DataFrame: ...
@overload
def conform(name: str, frame: pl.LazyFrame) -> pl.LazyFrame: ...
@overload
def conform(name: str, frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame: ...
def conform(name: str, frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """Cast a frame (or a lazy scan) to the canonical dtypes of table ``name``; unknown columns are kept as they
    are."""
    schema = TABLES[name]
    found = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    missing = [c for c in KEY_COLUMNS[name] if c not in found]
    if missing:
        raise DataError(f"the {name} table needs column(s) {', '.join(missing)}; it has {', '.join(found)}")
    casts = []
    for column, dtype in schema.items():
        if column not in found or found[column] == dtype:
            continue
        source = found[column]
        expr = pl.col(column)
        if dtype == pl.Date() and source == pl.String():
            expr = expr.str.to_date(strict=False)
        elif isinstance(dtype, pl.Datetime) and source == pl.String():
            expr = expr.str.to_datetime(strict=False, time_unit="us")
        elif dtype == pl.Boolean() and source == pl.String():
            expr = expr.str.to_lowercase().is_in(["1", "true", "yes", "y", "t"]).and_(expr.is_not_null())
        elif dtype == pl.String():
            expr = expr.cast(pl.String) if not source.is_temporal() else expr.dt.strftime("%Y-%m-%d")
        casts.append(expr.cast(dtype, strict=False).alias(column))
    return frame.with_columns(casts) if casts else frame


@dataclass(frozen=True, eq=False)
class Dataset:
    """The tables present, the as-of date and the settings. Frames are immutable and shared.

    Build with :meth:`Dataset.prepare`; ``tables`` then holds the enriched, encoded frames.
    """

    tables: Mapping[str, pl.DataFrame]
    as_of: date
    settings: Settings = field(default_factory=Settings)
    stage_order: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    quality: pl.DataFrame | None = None
    currency: str = "USD"
    """The reporting currency: money KPIs are in it (or split per currency when deals hold several)."""
    as_of_source: str = ""
    """Where the as-of date came from, in words."""

    def has(self, name: str) -> bool:
        return name in self.tables and self.tables[name].height > 0

    def table(self, name: str) -> pl.DataFrame:
        return self.tables[name]

    def dimensions(self) -> list[str]:
        """Dimensions present in at least one fact table."""
        present: set[str] = set()
        for name in ("deals", "activities", "leads", "subscriptions"):
            if name in self.tables:
                present.update(c for c in self.tables[name].columns if c in DIMENSIONS)
        return [d for d in DIMENSIONS if d in present]

    @classmethod
    def prepare(
        cls,
        raw: Mapping[str, pl.DataFrame | pl.LazyFrame],
        *,
        as_of: date | None = None,
        settings: Settings | None = None,
        as_of_source: str | None = None,
        consume: bool = False,
        columns: Literal["all", "kpis"] = "all",
        tables: Collection[str] | None = None,
    ) -> Dataset:
        """Canonical frames in, an engine-ready dataset out.

        Frames may be lazy scans (see :func:`kpi_core.scan.scan_folder`): they are read with their dimensions
        encoded on the way in; ``columns="kpis"`` then keeps only what the KPIs read (no activity ids). With
        ``consume=True`` the frames are taken out of ``raw`` (a dict) as they are used, so a big dataset is never
        held twice: what a caller that reads files only to prepare them should pass. ``tables`` prepares only those
        tables (their lookups must be among them); activities left out still give each deal its last activity
        (read from their links alone, which is all stalled deals need).

        >>> import polars as pl
        >>> ds = Dataset.prepare({"deals": pl.DataFrame({"deal_id": ["1"], "stage": ["Won"]})})
        >>> ds.table("deals")["status"].to_list()
        ['won']
        """
        from kpi_core import prepare as _prepare
        from kpi_core import scan

        settings = settings or Settings()
        given: dict[str, pl.DataFrame | pl.LazyFrame]
        if consume and isinstance(raw, dict):
            given = {name: conform(name, raw.pop(name)) for name in list(raw) if name in TABLES}
        else:
            given = {name: conform(name, frame) for name, frame in raw.items() if name in TABLES}
        del raw  # let frames the caller no longer holds go as soon as their prepared version exists
        links = None
        if tables is not None:
            left_out = {name: given.pop(name) for name in list(given) if name not in tables}
            activities = left_out.get("activities")
            if activities is not None and {"deal_id", "activity_date"} <= set(activities.collect_schema()):
                links = activities.lazy().select("deal_id", "activity_date")
            del left_out, activities
        if any(isinstance(f, pl.LazyFrame) for f in given.values()):
            collected, scanned_links = scan.collect(given, columns=columns)
            links = links if links is not None else scanned_links
        else:
            collected = {name: frame for name, frame in given.items() if isinstance(frame, pl.DataFrame)}
        given.clear()
        return _prepare.build(collected, as_of=as_of, settings=settings, as_of_source=as_of_source, links=links)


def to_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value
