"""Big canonical datasets read lazily: Parquet files scanned, dimensions encoded while they are read.

A table of 100M activities holds its owner and type as strings of 16 bytes or more per row; read whole, then
encoded, it would need several times the memory of the encoded table. Scanned, its dimensions are cast to the
dataset's shared ``pl.Enum`` types piece by piece by the streaming engine, so the strings are never held at once.
With ``columns="kpis"`` only what the KPIs read is kept: the activities' own ids are left on disk, and their links
to deals and leads are aggregated straight from the scan (each deal's last activity, each lead's first response).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import polars as pl

from kpi_core.model import DIMENSIONS, TABLES, DataError

Columns = Literal["all", "kpis"]

DETAIL: Mapping[str, tuple[str, ...]] = {
    "activities": ("activity_id", "deal_id", "lead_id", "completed"),
    "deals": ("deal_name", "lost_reason"),
    "leads": ("status",),
}
"""Columns only row-level views show, left out of a dataset prepared with ``columns="kpis"`` (with the columns of
those tables that are not canonical)."""

LINKS = ("deal_id", "lead_id")
"""Activity columns that tie an activity to a deal or a lead."""

DATE_ORDER: Mapping[str, str] = {"activities": "activity_date", "leads": "created_at"}
"""Tables the engine keeps in date order (see :func:`kpi_core.prepare.in_date_order`): when a scanned one is not,
it is sorted while it is read, which needs a fraction of the memory of sorting it afterwards."""


def scan_folder(folder: Path | str) -> dict[str, pl.LazyFrame]:
    """The canonical tables in a folder, scanned lazily: ``<table>.parquet`` or a ``<table>/`` folder of parts."""
    root = Path(folder)
    found: dict[str, pl.LazyFrame] = {}
    for name in TABLES:
        single, parts = root / f"{name}.parquet", root / name
        if single.is_file():
            found[name] = pl.scan_parquet(single)
        elif parts.is_dir() and any(parts.glob("*.parquet")):
            found[name] = pl.scan_parquet(parts / "*.parquet")
    if not found:
        raise DataError(f"{root} holds no canonical Parquet tables (deals.parquet, activities.parquet, ...)")
    return found


def kept_columns(table: str, present: list[str], columns: Columns) -> list[str]:
    """The columns of ``table`` a dataset keeps: all of them, or without the row-level detail for ``"kpis"``."""
    if columns == "all" or table not in DETAIL:
        return present
    return [c for c in present if c in TABLES[table] and c not in DETAIL[table]]


def collect(
    tables: Mapping[str, pl.DataFrame | pl.LazyFrame], *, columns: Columns = "all"
) -> tuple[dict[str, pl.DataFrame], pl.LazyFrame | None]:
    """Every table in memory with its dimensions as the shared Enums, and the activities' links to deals and
    leads as a lazy scan when the activities were read without them."""
    lazy = {n: f for n, f in tables.items() if isinstance(f, pl.LazyFrame)}
    eager = {n: f for n, f in tables.items() if isinstance(f, pl.DataFrame)}
    schemas = {n: f.collect_schema() for n, f in lazy.items()}
    dims = {n: [d for d in DIMENSIONS if d in schemas[n]] for n in lazy}
    # the values of every dimension, from one streaming pass per scanned table (a few columns, not the rows)
    queries = [lazy[n].select([pl.col(d).cast(pl.String).unique().implode() for d in dims[n]]) for n in lazy if dims[n]]
    values: dict[str, set[str]] = {}
    for found in pl.collect_all(queries, engine="streaming"):
        for dim in found.columns:
            values.setdefault(dim, set()).update(v for v in found.get_column(dim)[0] if v is not None)
    for frame in eager.values():
        for dim in (d for d in DIMENSIONS if d in frame.columns):
            values.setdefault(dim, set()).update(frame.get_column(dim).cast(pl.String).drop_nulls().unique().to_list())
    enums = {dim: pl.Enum(sorted(found)) for dim, found in values.items()}

    links = None
    if "activities" in lazy:
        keep = kept_columns("activities", list(schemas["activities"]), columns)
        dropped = [c for c in LINKS if c in schemas["activities"] and c not in keep]
        if dropped:
            links = lazy["activities"].select(*dropped, "activity_date")
    ordered = {n: c for n, c in DATE_ORDER.items() if n in lazy and c in schemas[n]}
    checks = [lazy[n].select((pl.col(c) < pl.col(c).shift(1)).any()) for n, c in ordered.items()]
    unordered = {
        n for n, found in zip(ordered, pl.collect_all(checks, engine="streaming"), strict=True) if found.item()
    }
    plans = []
    for name, lf in lazy.items():
        plan = lf.select(
            [
                pl.col(c).cast(pl.String).cast(enums[c]) if c in dims[name] else pl.col(c)
                for c in kept_columns(name, list(schemas[name]), columns)
            ]
        )
        plans.append(plan.sort(ordered[name], nulls_last=False, maintain_order=True) if name in unordered else plan)
    collected = dict(zip(lazy, pl.collect_all(plans, engine="streaming"), strict=True))
    return {name: collected[name] if name in collected else eager[name] for name in tables}, links
