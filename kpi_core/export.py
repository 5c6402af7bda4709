"""Tables for download: spreadsheet formulas neutralised, as CSV or XLSX bytes."""

from __future__ import annotations

import io

import polars as pl

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe.

    >>> neutralise(pl.DataFrame({"a": ["=1+2", "ok", "-3", "@x"]}))["a"].to_list()
    ["'=1+2", 'ok', "'-3", "'@x"]
    """
    text = [c for c, t in frame.schema.items() if t == pl.String or isinstance(t, pl.Enum | pl.Categorical)]
    return frame.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(r"^[=+\-@\t\r]"))
        .then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text
    )


def to_csv(frame: pl.DataFrame) -> bytes:
    """CSV bytes (UTF-8 with BOM so Excel reads accents) with formulas neutralised."""
    return b"\xef\xbb\xbf" + neutralise(frame).write_csv().encode("utf-8")


def to_xlsx(frame: pl.DataFrame, sheet: str = "data") -> bytes:
    """XLSX bytes with formulas neutralised (written as text, never as formulas)."""
    buffer = io.BytesIO()
    neutralise(frame).write_excel(buffer, worksheet=sheet[:31], autofit=True)
    return buffer.getvalue()
