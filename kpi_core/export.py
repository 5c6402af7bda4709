"""Tables for download: spreadsheet formulas neutralised, as CSV or XLSX bytes."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from kpi_core.formatting import count_decimals, excel_format

if TYPE_CHECKING:
    from polars._typing import ColumnFormatDict

FORMULA = r"^[\s\u00a0\u3000]*[=+\-@\uff1d\uff0b\uff0d\uff20]|^[\t\r\n]"
"""A cell a spreadsheet could run as a formula: one starting with = + - @ (or their full-width forms ＝ ＋ － ＠),
also after spaces, or with a tab or line break."""


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells and headers that a spreadsheet would run as a formula get a leading apostrophe.

    >>> neutralise(pl.DataFrame({"a": ["=1+2", "ok", "-3", "@x", "  =SUM(A1)", "＝1+1"]}))["a"].to_list()
    ["'=1+2", 'ok', "'-3", "'@x", "'  =SUM(A1)", "'＝1+1"]
    >>> neutralise(pl.DataFrame({"=HYPERLINK(1)": [1]})).columns
    ["'=HYPERLINK(1)"]
    """
    text = [c for c, t in frame.schema.items() if t == pl.String or isinstance(t, pl.Enum | pl.Categorical)]
    safe = frame.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(FORMULA))
        .then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text
    )
    return safe.rename({c: neutral_text(c) for c in safe.columns if neutral_text(c) != c})


def neutral_text(value: str) -> str:
    """One text, neutralised the same way (for headers, sheet names and labels)."""
    return "'" + value if re.search(FORMULA, value) else value


def to_csv(frame: pl.DataFrame) -> bytes:
    """CSV bytes (UTF-8 with BOM so Excel reads accents) with formulas neutralised."""
    return b"\xef\xbb\xbf" + neutralise(frame).write_csv().encode("utf-8")


def to_xlsx(
    frame: pl.DataFrame, sheet: str = "data", *, units: Mapping[str, str] | None = None, currency: str = "USD"
) -> bytes:
    """XLSX bytes with formulas neutralised (written as text, never as formulas). Columns with a unit (see
    :data:`kpi_core.formatting.TABLE_UNITS`) stay numbers (or dates) with the number format that shows them as
    the screen does: ``$128,380``, ``91.9%``, ``8 Dec 2026``."""
    formats: ColumnFormatDict = {}
    for column, unit in (units or {}).items():
        if column not in frame.columns:
            continue
        decimals = count_decimals(frame[column].to_list()) if unit == "count" else 0
        number_format = excel_format(unit, currency, decimals=decimals)
        if number_format and (frame.schema[column].is_numeric() or frame.schema[column].is_temporal()):
            formats = {**formats, neutral_text(column): number_format}
    buffer = io.BytesIO()
    neutralise(frame).write_excel(buffer, worksheet=sheet[:31], autofit=True, column_formats=formats or None)
    return buffer.getvalue()
