"""Segments: KPIs by dimension over periods, ranked, as trends and as a heat map; click to drill down."""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

import kpi_core as K
from kpi_core.export import to_csv, to_xlsx
from ui import charts, state, tables

state.through_entrypoint()

dataset = state.current_dataset()
view = state.current_view(dataset)
fy = dataset.settings.fiscal_year_start
st.title("Segments")

choices = [k.id for k in K.REGISTRY if not k.per_stage and k.scope != "snapshots"]
dims = [d for d in dataset.dimensions() if d not in ("type", "source")]
top = st.columns([3, 2, 1])
kpis = top[0].multiselect(
    "KPIs", choices, default=["won_revenue", "win_rate"], key="seg_kpis", format_func=lambda k: K.get(k).label
)
dim = top[1].selectbox(
    "Split by",
    dims,
    index=dims.index("region") if "region" in dims else 0,
    key="seg_dim",
    format_func=lambda d: d.replace("_", " ").capitalize(),
)
count = (
    top[2].number_input("Periods", min_value=2, max_value=24, value=6, key="seg_periods") if view.grain != "all" else 1
)
chosen_periods = view.trailing(int(count), fy)
if not kpis or not dim:
    st.info("Choose at least one KPI and a dimension.")
    st.stop()

picked: dict[str, str] = {}
for kpi_id in kpis:
    kpi = K.get(kpi_id)
    frame, unavailable, _ = state.report(view, [kpi_id], periods=chosen_periods, by=(dim,))
    st.subheader(kpi.label)
    if kpi_id in unavailable:
        st.info(unavailable[kpi_id])
        continue
    frame = frame.filter(pl.col(dim).is_not_null())
    money = state.display_currency(dataset)  # the charts' money symbol
    if "currency" in frame.columns and frame["currency"].n_unique() > 1:
        st.caption("Several currencies: showing the most common one; the table below has them all.")
        top_currency = frame.group_by("currency").len().sort("len", descending=True)["currency"][0]
        frame = frame.filter(pl.col("currency") == top_currency)
        money = str(top_currency or money)
    current = frame.filter(pl.col("period") == view.period.label)
    pick = alt.selection_point(fields=[dim], name="pick")
    left, right = st.columns([2, 3], gap="large")
    with left:
        event = st.altair_chart(
            charts.ranked_bars(
                current,
                segment=dim,
                unit=kpi.unit,
                title=f"{view.period.label}",
                selection=pick,
                currency=money,
                as_of=dataset.as_of,
                fy=fy,
            ),
            on_select="rerun",
            key=f"bars_{kpi_id}",
            width="stretch",
        )
        selected = event.get("selection", {}).get("pick", []) if isinstance(event, dict) else []
        if selected:
            picked[kpi_id] = str(selected[0].get(dim))
    with right:
        leaders = charts.top_segments(frame, segment=dim, period=view.period.label)
        trend = frame.filter(pl.col(dim).cast(pl.String).is_in(leaders))
        if view.grain != "all":
            st.altair_chart(
                charts.trend_lines(
                    trend,
                    segment=dim,
                    unit=kpi.unit,
                    title="Trend (top 8 segments)",
                    currency=money,
                    as_of=dataset.as_of,
                    fy=fy,
                ),
                width="stretch",
            )
    if view.grain != "all":
        st.altair_chart(
            charts.small_multiples(
                trend,
                segment=dim,
                unit=kpi.unit,
                title="Each segment on its own (top 8)",
                currency=money,
                as_of=dataset.as_of,
                fy=fy,
            ),
            width="content",
        )
    if view.grain != "all":
        st.altair_chart(
            charts.heatmap(
                frame,
                segment=dim,
                unit=kpi.unit,
                title=f"{kpi.label} by {dim.replace('_', ' ')} and period",
                currency=money,
                as_of=dataset.as_of,
                fy=fy,
            ),
            width="stretch",
        )

st.divider()
st.subheader("Rows behind a value")
values = state.dimension_values(dataset, dim)
cols = st.columns(3)
drill_kpi = cols[0].selectbox("KPI", kpis, key="drill_kpi", format_func=lambda k: K.get(k).label)
default_segment = picked.get(drill_kpi)
segment_options = ["(all)", *values]
index = segment_options.index(default_segment) if default_segment in segment_options else 0
segment = cols[1].selectbox(
    dim.replace("_", " ").capitalize(), segment_options, index=index, key=f"drill_segment_{default_segment}"
)
period_label = cols[2].selectbox("Period", [p.label for p in reversed(chosen_periods)], key="drill_period")
chosen_segment = () if segment == "(all)" else ((dim, segment),)
try:
    behind = state.rows_behind(state.dataset_key(), drill_kpi, period_label, chosen_segment, view.filters, 200_000)
except ValueError as exc:
    st.info(str(exc))
    st.stop()
st.caption(
    f"{behind.total:,} row(s) from the {behind.table} table make up {K.get(drill_kpi).label} in {period_label}"
    f"{'' if segment == '(all)' else f' for {segment}'}; {behind.excluded:,} row(s) of the same period were left out."
)
config = state.money_columns(behind.rows, ("amount", "gross_profit", "mrr", "value"), state.display_currency(dataset))
tables.frame(behind.rows.head(2000), hide_index=True, column_config=config, width="stretch")
if behind.excluded:
    with st.expander("Rows left out, and why"):
        tables.frame(behind.reasons, hide_index=True)
        tables.frame(behind.excluded_rows, hide_index=True)


def full_table() -> pl.DataFrame:
    """Every row (the cached copy keeps the first 200,000), built only when a download is clicked."""
    if behind.total <= behind.rows.height:
        return behind.rows
    rows = K.rows_behind(dataset, drill_kpi, period_label, dict(chosen_segment) or None).included
    for name, values_chosen in view.filters:
        if name in rows.columns:
            rows = rows.filter(pl.col(name).cast(pl.String).is_in(list(values_chosen)))
    return rows.select(behind.rows.columns)


stem = f"{drill_kpi}_{period_label}_{segment}".replace(" ", "_").replace("/", "-")
cols = st.columns(2)
# the files are built only when clicked (an XLSX of 100k rows takes seconds)
cols[0].download_button("Download CSV", lambda: to_csv(full_table()), f"{stem}.csv", "text/csv", key="dl_csv")
if behind.total <= 100_000:
    cols[1].download_button(
        "Download XLSX",
        lambda: to_xlsx(behind.rows, sheet=drill_kpi),
        f"{stem}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="dl_xlsx",
    )
else:
    cols[1].caption("XLSX is offered up to 100,000 rows; use CSV for more.")
