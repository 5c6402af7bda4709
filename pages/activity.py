"""Activity: activity by type per rep per week, lead response times against the SLA, a leaderboard."""

from __future__ import annotations

import polars as pl
import streamlit as st

import kpi_core as K
from kpi_core import periods as P
from kpi_core.formatting import format_value, screen_format
from ui import charts, state, tables

state.through_entrypoint()

dataset = state.current_dataset()
view = state.current_view(dataset)
currency = state.display_currency(dataset)
fy = dataset.settings.fiscal_year_start
st.title("Activity")

if dataset.has("activities"):
    weeks = [
        P.shift(
            P.make(min(view.period.end, dataset.as_of), "week", fy)
            if view.grain != "all"
            else P.make(dataset.as_of, "week", fy),
            -i,
            fy,
        )
        for i in reversed(range(12))
    ]
    weekly = state.View("week", weeks[-1], view.compare, view.filters)
    by_type, _, _ = state.report(weekly, ["calls", "emails", "meetings"], periods=weeks)
    # the engine's kpi, period_to_date and previous (the week before at the same point) draw the running week
    by_type = by_type.select("kpi", "period", pl.col("label").alias("type"), "value", "period_to_date", "previous")
    st.altair_chart(
        charts.stacked_activity(
            by_type, title="Activities per week by type (last 12 weeks)", as_of=dataset.as_of, fy=fy
        ),
        width="stretch",
    )
    per_rep, unavailable_rep, _ = state.report(weekly, ["activities"], periods=weeks, by=("owner",))
    if per_rep.height:
        st.altair_chart(
            charts.rep_week_heatmap(per_rep, title="Activities per rep per week", as_of=dataset.as_of, fy=fy),
            width="stretch",
        )
else:
    st.info(K.availability(dataset, ["activities"])["activities"])

st.subheader(f"Lead response time · leads created in {view.period.label}")
sla = dataset.settings.response_sla_hours
if dataset.has("leads") and "response_hours" in dataset.table("leads").columns:
    table = state.response_times(state.dataset_key(), view.period.label, view.filters)
    table = table.with_columns(
        band=pl.when(pl.col("bin") == "never")
        .then(pl.lit("never"))
        .when(pl.col("order") == 0)
        .then(pl.lit("within SLA"))
        .when(pl.col("order") <= 2)
        .then(pl.lit("late"))
        .otherwise(pl.lit("very late"))
    )
    cols = st.columns([3, 1])
    cols[0].altair_chart(charts.response_histogram(table, sla_hours=sla), width="stretch")
    frame, _, _ = state.report(view, ["lead_response_hours", "leads_contacted_1h", "lead_conversion_rate"])
    for row in frame.iter_rows(named=True):
        cols[1].metric(
            row["label"], format_value(row["value"], row["unit"], currency), border=True, help=K.get(row["kpi"]).formula
        )
else:
    st.info(
        K.availability(dataset, ["lead_response_hours"]).get(
            "lead_response_hours", "Lead response needs a leads export."
        )
    )

st.subheader(f"Leaderboard · {view.period.label}")
board_kpis = ["won_revenue", "deals_won", "win_rate", "quota_attainment", "pipeline_created", "activities", "meetings"]
board, board_missing, _ = state.report(view, board_kpis, by=("owner",))
if board.height:
    wide = board.filter(pl.col("owner").is_not_null()).pivot(
        on="kpi", index="owner", values="value", aggregate_function="first"
    )
    counts = state.closed_deals_by_owner(state.dataset_key(), view.period.label, view.filters)
    wide = wide.with_columns(
        pl.col("owner").cast(pl.String),
        closed_deals=pl.col("owner").cast(pl.String).replace_strict(counts, default=0, return_dtype=pl.Int64),
    ).with_columns(
        note=pl.when(pl.col("closed_deals") < 5)
        .then(pl.lit("⚠ fewer than 5 closed deals: win rate is noisy"))
        .otherwise(pl.lit(""))
    )
    order = [c for c in ["owner", *board_kpis, "closed_deals", "note"] if c in wide.columns]
    wide = wide.select(order).sort(
        "won_revenue" if "won_revenue" in wide.columns else "owner", descending=True, nulls_last=True
    )
    config = {
        "owner": "Rep",
        "won_revenue": st.column_config.NumberColumn("Won revenue", format=screen_format("currency", currency)),
        "deals_won": st.column_config.NumberColumn("Deals won", format="%d"),
        "win_rate": st.column_config.NumberColumn("Win rate", format="percent"),
        "quota_attainment": st.column_config.NumberColumn("Quota attainment", format="percent"),
        "pipeline_created": st.column_config.NumberColumn("New pipeline", format=screen_format("currency", currency)),
        "activities": st.column_config.NumberColumn("Activities", format="%d"),
        "meetings": st.column_config.NumberColumn("Meetings", format="%d"),
        "closed_deals": st.column_config.NumberColumn("Closed deals", format="%d"),
        "note": "Sample size",
    }
    tables.frame(wide, hide_index=True, column_config=config, width="stretch")
for kpi_id, reason in board_missing.items():
    st.caption(K.why_unavailable(kpi_id, reason))
