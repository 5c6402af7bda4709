"""KPI tiles: value, delta coloured by the KPI's good direction, sparkline, status against target."""

from __future__ import annotations

import polars as pl
import streamlit as st

import kpi_core as K
from kpi_core import periods as P
from kpi_core import to_date
from kpi_core.formatting import format_delta, format_value
from kpi_core.registry import (
    change_note,
    sample_words,
    target_status,  # noqa: F401  (the pages call it as tiles.target_status)
)
from ui import guard

STATUS_ICON = {"on track": ":green[● On track]", "at risk": ":orange[● At risk]", "off track": ":red[● Off track]"}


def tile(
    row: dict[str, object],
    *,
    compare_column: str,
    delta_column: str,
    currency: str,
    spark: list[float | None] | None = None,
    status: str | None = None,
) -> None:
    """A KPI's tile: value, delta against ``compare_column``, status, and ``spark`` (one value per period, oldest
    first, the last the tile's own period) drawn by the running-period rule (``kpi_core.to_date.spark``): while the
    tile's period runs, a total's sparkline shows complete periods only (st.metric draws one plain line, so a
    to-date point would read as a collapse), and the help says so."""
    kpi = K.get(str(row["kpi"]))
    value = row["value"] if isinstance(row["value"], float | int) else None
    delta = row[delta_column] if isinstance(row[delta_column], float | int) else None
    basis = row[compare_column]
    compare_text = "vs last year" if compare_column == "last_year" else "vs prior period"
    ptd = " (period to date)" if row.get("period_to_date") else ""
    n = row.get("n")
    compared_n = row.get("last_year_n" if compare_column == "last_year" else "previous_n")
    # a change resting on too few records is said, never coloured as good or bad
    too_few = change_note(
        kpi.id, n if isinstance(n, int) else None, compared_n if isinstance(compared_n, int) else None
    )
    behind = f"\n\n**Behind the value:** {sample_words(kpi.id, n)}" if isinstance(n, int) and kpi.sample_words else ""
    help_text = (
        f"**{kpi.label}** · {kpi.indicator}, {kpi.unit.replace('_', ' ')}, "
        f"{'higher' if kpi.direction == 'up' else 'lower'} is better\n\n{kpi.meaning}\n\n**Formula:** {kpi.formula}\n\n"
        f"**Compared with:** {format_value(basis if isinstance(basis, float | int) else None, kpi.unit, currency)}{ptd}"
        f"{behind}"
    )
    color = "inverse" if kpi.direction == "down" else "off" if kpi.direction == "neutral" else "normal"
    drawn = to_date.spark(spark or [], kpi_id=kpi.id, to_date=bool(row.get("period_to_date")))
    chart = [v if v is not None else 0.0 for v in drawn.values] if any(v is not None for v in drawn.values) else None
    if chart:
        help_text += "\n\n" + spark_help(drawn, str(row.get("period") or ""))
    st.metric(
        kpi.label,
        format_value(value, kpi.unit, currency, compact=True),
        delta=format_delta(delta, kpi.unit, currency) or None,
        delta_color="off" if too_few else color,
        delta_description=("too few to tell" if too_few else compare_text) if delta is not None else None,
        help=help_text,
        border=True,
        chart_data=chart,
        chart_type="line",
    )
    if status:
        st.caption(STATUS_ICON[status])
    note = row.get("note")
    # what to know before reading the value (a missing target, stale pipeline, too few records), said as text
    for text in [t for t in (str(note).split("; ") if note else []) if t] or ([too_few] if too_few else []):
        st.caption(guard.plain(text))
    if too_few and note and too_few not in str(note):
        st.caption(guard.plain(too_few))


def unavailable_list(unavailable: dict[str, str]) -> None:
    if not unavailable:
        return
    with st.expander(f"{len(unavailable)} KPI(s) need more data"):
        for kpi_id, reason in unavailable.items():
            st.markdown(K.why_unavailable(kpi_id, reason))


def spark_series(frame: pl.DataFrame, kpi_id: str) -> list[float | None]:
    """A KPI's values over the frame's periods, oldest first, the running one included (``tile`` applies the
    running-period rule, so a caller passes every period up to the tile's own)."""
    return frame.filter((pl.col("kpi") == kpi_id) & pl.col("stage").is_null())["value"].to_list()


def spark_help(drawn: to_date.Spark, period: str) -> str:
    """What a tile's sparkline shows, for its help ("Sparkline: complete periods (...)" while a total's period runs)."""
    try:
        grain = P.parse(period).grain
    except ValueError:
        grain = "period"
    return to_date.spark_words(drawn.end, period, count=len(drawn.values), grain=grain) + "."


def forecast_tile(accuracy: pl.DataFrame, currency: str = "USD") -> None:
    """Forecast accuracy of the latest closed period (from the kept snapshots), its change and its trend."""
    kpi = K.get("forecast_accuracy")
    rows = accuracy.sort("period").to_dicts()
    last = rows[-1]
    before = rows[-2]["accuracy"] if len(rows) > 1 else None
    delta = last["accuracy"] - before if last["accuracy"] is not None and before is not None else None
    st.metric(
        f"{kpi.label}, {last['period']}",
        format_value(last["accuracy"], "percent"),
        delta=format_delta(delta, "percent") or None,
        delta_description="vs the period before" if delta is not None else None,
        help=f"**{kpi.label}** · lagging, percent, higher is better\n\n{kpi.meaning}\n\n**Formula:** {kpi.formula}\n\n"
        f"Forecast at the start: {format_value(last['forecast'], 'currency', currency, compact=True)}; "
        f"won: {format_value(last['actual'], 'currency', currency, compact=True)}.",
        border=True,
        chart_data=[r["accuracy"] or 0.0 for r in rows] if len(rows) > 1 else None,
        chart_type="line",
    )
    if last["accuracy"] is None:  # nothing won: a forecast cannot be measured against nothing
        st.caption(
            f"No revenue was won in {last['period']}, so the forecast made at its start "
            f"({format_value(last['forecast'], 'currency', currency, compact=True)}) cannot be scored."
        )
