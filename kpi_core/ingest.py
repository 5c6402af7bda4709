"""The one seam where files become frames: bytes and a file name in, canonical tables out.

This release reads canonical files (CSV or Parquet whose columns are the catalog's names, or the
snake_case names of common public sets such as the Maven CRM data) and recognises each file's table
by its columns.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from kpi_core.model import TABLES, DataError

ALIASES: Mapping[str, str] = {
    # Maven "CRM Sales Opportunities"
    "opportunity_id": "deal_id",
    "sales_agent": "owner",
    "deal_stage": "stage",
    "engage_date": "created_date",
    "close_value": "amount",
    "regional_office": "region",
    "series": "family",
    "sales_price": "list_price",
    "sector": "industry",
}
"""Snake-case header -> canonical column."""

RECOGNISE: tuple[tuple[str, tuple[frozenset[str], ...]], ...] = (
    ("stage_history", (frozenset({"deal_id", "stage", "entered_at"}),)),
    ("deals", (frozenset({"deal_id", "stage"}), frozenset({"deal_id", "status"}))),
    ("activities", (frozenset({"activity_date"}),)),
    ("leads", (frozenset({"lead_id", "created_at"}),)),
    ("subscriptions", (frozenset({"account", "start_date", "mrr"}),)),
    ("spend", (frozenset({"period", "sales_cost"}), frozenset({"period", "marketing_cost"}))),
    ("targets", (frozenset({"period", "value"}),)),
    ("reps", (frozenset({"owner", "team"}), frozenset({"owner", "manager"}), frozenset({"owner", "region"}))),
    ("products", (frozenset({"product", "family"}), frozenset({"product", "list_price"}))),
    (
        "accounts",
        (frozenset({"account", "segment"}), frozenset({"account", "industry"}), frozenset({"account", "size"})),
    ),
)
"""Table kind -> column sets that identify it (first match wins)."""


@dataclass(frozen=True)
class Table:
    """One table read from a file: its kind and its frame in canonical column names."""

    name: str
    kind: str
    frame: pl.DataFrame


def _normalise(header: str) -> str:
    text = header.replace("\ufeff", "").strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def recognise(columns: Iterable[str]) -> str | None:
    """The canonical table a set of (canonical) column names describes, or None."""
    present = set(columns)
    for kind, signatures in RECOGNISE:
        if any(sig <= present for sig in signatures):
            return kind
    return None


def read_table(data: bytes, name: str) -> Table:
    """Read one canonical CSV or Parquet file and recognise its table.

    Raises :class:`DataError` with a message naming the file and what to do.
    """
    if not data:
        raise DataError(f"{name}: the file is empty. Export the report again with its rows.")
    try:
        if name.lower().endswith(".parquet") or data[:4] == b"PAR1":
            frame = pl.read_parquet(io.BytesIO(data))
        else:
            frame = pl.read_csv(io.BytesIO(data), infer_schema=False, encoding="utf8-lossy")
    except Exception as exc:  # polars raises many error types on unreadable input
        raise DataError(f"{name}: could not be read as CSV or Parquet ({exc.__class__.__name__}).") from exc
    renamed: dict[str, str] = {}
    for column in frame.columns:
        key = _normalise(column)
        target = ALIASES.get(key, key)
        if target not in renamed.values():
            renamed[column] = target
    frame = frame.select([pl.col(c).alias(t) for c, t in renamed.items()])
    kind = recognise(frame.columns)
    if kind is None:
        raise DataError(
            f"{name}: no table recognised from columns {', '.join(frame.columns[:20])}. "
            "A deals file needs deal_id and stage or status; activities need activity_date; "
            "leads need lead_id and created_at."
        )
    if frame.height == 0:
        raise DataError(f"{name}: has a header but no rows.")
    known = set(TABLES[kind])
    return Table(name, kind, frame.select([c for c in frame.columns if c in known]))


def load_files(paths: Iterable[str | Path]) -> dict[str, pl.DataFrame]:
    """Read canonical files into raw tables by kind (files of the same kind are stacked)."""
    tables: dict[str, list[pl.DataFrame]] = {}
    for path in paths:
        p = Path(path)
        table = read_table(p.read_bytes(), p.name)
        tables.setdefault(table.kind, []).append(table.frame)
    return {kind: pl.concat(frames, how="diagonal_relaxed") for kind, frames in tables.items()}
