"""Scorecard: leading indicators beside the lagging results they drive."""

from __future__ import annotations

from typing import cast

import polars as pl
import streamlit as st

import kpi_core as K
from kpi_core.formatting import format_delta, format_value
from kpi_core.periods import GRAINS, Grain
from sample_data import load_sample


@st.cache_resource(show_spinner="Loading the sample company…")
def sample_dataset() -> K.Dataset:
    return K.Dataset.prepare(load_sample())


@st.cache_data(show_spinner=False)
def scorecard(grain: str) -> tuple[pl.DataFrame, dict[str, str]]:
    result = K.report(sample_dataset(), grain=cast(Grain, grain))
    return result.frame, result.unavailable


dataset = sample_dataset()
grain = st.sidebar.selectbox("Grain", GRAINS, index=GRAINS.index("quarter"), key="grain")
frame, unavailable = scorecard(grain)
currency = dataset.settings.currency
period = frame["period"][0] if frame.height else "—"

st.title("Scorecard")
st.caption(
    f"Sample company · {period} · as of {dataset.as_of:%d %b %Y} · compared with the previous period, period-to-date"
)

leading, lagging = st.columns(2, gap="large")
for column, indicator, title in ((leading, "leading", "Leading indicators"), (lagging, "lagging", "Lagging results")):
    with column:
        st.subheader(title)
        rows = frame.filter(pl.col("indicator") == indicator, pl.col("stage").is_null())
        tiles = st.columns(2)
        for i, row in enumerate(rows.iter_rows(named=True)):
            kpi = K.get(row["kpi"])
            with tiles[i % 2]:
                st.metric(
                    kpi.label,
                    format_value(row["value"], kpi.unit, currency, compact=True),
                    delta=format_delta(row["delta"], kpi.unit, currency) or None,
                    delta_color="inverse" if kpi.direction == "down" else "normal",
                    help=f"{kpi.meaning}\n\nFormula: {kpi.formula}",
                    border=True,
                )

if unavailable:
    with st.expander(f"{len(unavailable)} KPI(s) unavailable on this data"):
        for kpi_id, reason in unavailable.items():
            st.write(f"**{K.get(kpi_id).label}**: {reason}")
