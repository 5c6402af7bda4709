"""Customers: MRR and ARR movements, churn and retention, acquisition cost and lifetime value, cohorts."""

from __future__ import annotations

import polars as pl
import streamlit as st

from kpi_core import periods as P
from ui import charts, presets, state, tables, tiles

state.through_entrypoint()

dataset = state.current_dataset()
view = state.current_view(dataset)
currency = state.display_currency(dataset)
fy = dataset.settings.fiscal_year_start
st.title("Customers")

kpis = presets.CUSTOMERS
frame, unavailable, warnings = state.report(view, kpis)
compare_column, delta_column = state.delta_columns(view)
rows = list(frame.filter(pl.col("stage").is_null()).iter_rows(named=True))
grid = st.columns(5)
for i, row in enumerate(rows):
    with grid[i % 5]:
        tiles.tile(
            row, compare_column=compare_column, delta_column=delta_column, currency=str(row.get("currency") or currency)
        )
tiles.unavailable_list(unavailable)

if dataset.has("subscriptions"):
    months = [
        P.shift(
            P.make(min(view.period.end, dataset.as_of) if view.grain != "all" else dataset.as_of, "month", fy), -i, fy
        )
        for i in reversed(range(12))
    ]
    movements = state.mrr_movements(state.dataset_key(), tuple(m.label for m in months), view.filters)
    st.altair_chart(charts.mrr_movements(movements, currency, as_of=dataset.as_of, fy=fy), width="stretch")
    with st.expander("MRR movements as a table"):
        table = movements.pivot(on="movement", index="period", values="mrr").select(
            "period", "start", "new", "expansion", "contraction", "churn", "end"
        )
        tables.frame(
            table,
            hide_index=True,
            width="stretch",
            column_config=state.money_columns(table, [c for c in table.columns if c != "period"], currency, decimals=0),
        )
    cohorts = state.cohort_retention(state.dataset_key(), view.filters)
    if cohorts.height:
        st.altair_chart(charts.cohort_heatmap(cohorts), width="stretch")
else:
    st.info(
        "MRR, churn and cohorts need a subscriptions table (account, start date, end date, MRR). Load one on the Data page."
    )
