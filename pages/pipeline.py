"""Pipeline: funnel and stage conversion, time in stage, stalled and past-due deals, coverage, forecast, velocity."""

from __future__ import annotations

import polars as pl
import streamlit as st

import kpi_core as K
from kpi_core.formatting import format_delta, format_value
from ui import charts, state, tables, tiles

state.through_entrypoint()

dataset = state.current_dataset()
view = state.current_view(dataset)
currency = state.display_currency(dataset)
st.title("Pipeline")
st.caption(f"{view.period.label} · open pipeline as of {dataset.as_of:%d %b %Y} · deals closing in the period")

if not dataset.has("deals"):
    st.info("The pipeline needs a deals export. Load one on the Data page.")
    st.stop()

kpis = [
    "open_pipeline",
    "weighted_pipeline",
    "won_revenue",
    "pipeline_coverage",
    "sales_velocity",
    "win_rate",
    "avg_deal_size",
    "sales_cycle_days",
    "_open_deals",
]
frame, unavailable, warnings = state.report(view, kpis)
values = {
    r["kpi"]: r["value"]
    for r in frame.filter(pl.col("currency").is_null() if "currency" in frame.columns else pl.lit(True)).iter_rows(
        named=True
    )
}
for warning in warnings:
    st.warning(warning)

st.subheader("Coverage and forecast")
cols = st.columns(4)
forecast = (
    (values.get("won_revenue") or 0.0) + (values.get("weighted_pipeline") or 0.0)
    if "weighted_pipeline" in values
    else None
)
money_tiles = [
    ("Open pipeline", values.get("open_pipeline"), K.get("open_pipeline").formula),
    ("Weighted pipeline", values.get("weighted_pipeline"), K.get("weighted_pipeline").formula),
    (
        "Forecast (won + weighted)",
        forecast,
        "Won revenue to date in the period plus the weighted open pipeline closing in it.",
    ),
]
trend = state.as_of_trend(dataset, view, ["open_pipeline", "weighted_pipeline", "pipeline_coverage"])
compared = state.compared_period(view, dataset.settings.fiscal_year_start)
where = f"the same point of {compared.label}" if compared else ""


def change(kpi: str, value: float | None, unit: str) -> tuple[str | None, list[float] | None]:
    """The change since the same point of the compared period and the trend, from the kept snapshots."""
    if kpi not in trend:
        return None, None
    before, earlier = trend[kpi]
    delta = value - before if value is not None and before is not None else None
    points = [*earlier, value]
    return format_delta(delta, unit, currency) or None, [v or 0.0 for v in points] if any(earlier) else None


money_kpis = ["open_pipeline", "weighted_pipeline", None]
for column, (label, value, explained), kpi in zip(cols, money_tiles, money_kpis, strict=False):
    delta, spark = change(kpi, value, "currency") if kpi else (None, None)
    column.metric(
        label,
        format_value(value, "currency", currency, compact=True),
        delta=delta,
        delta_description=f"vs {where}" if delta else None,
        border=True,
        help=explained,
        chart_data=spark,
        chart_type="line",
    )
    if kpi and spark is None:
        column.caption(
            f"The kept history does not reach the same point of {compared.label if compared else 'the period before'}."
            if kpi in trend
            else "Keep each week's export (Data page) to see its trend."
        )
with cols[3]:
    coverage = values.get("pipeline_coverage")
    delta, spark = change("pipeline_coverage", coverage, "ratio")
    st.metric(
        "Coverage of the remaining target",
        format_value(coverage, "ratio"),
        delta=delta,
        delta_description=f"vs {where}" if delta else None,
        border=True,
        help=K.get("pipeline_coverage").meaning,
        chart_data=spark,
        chart_type="line",
    )
    status = tiles.target_status("pipeline_coverage", coverage, 1.0)
    if status:
        st.caption(tiles.STATUS_ICON[status])

st.subheader("Sales velocity and its four components")
cols = st.columns(5)
velocity_parts = [
    ("sales_velocity", "Velocity"),
    ("win_rate", "Win rate"),
    ("avg_deal_size", "Average deal size"),
    ("sales_cycle_days", "Sales cycle"),
]
with cols[0]:
    # every open deal closing in the period, with an amount or not (the rows behind open pipeline are those with one)
    opened = values.get("_open_deals")
    st.metric(
        "Open opportunities",
        "—" if opened is None else f"{opened:,.0f}",
        border=True,
        help=unavailable.get("_open_deals") or "Open deals closing in the period.",
    )
for col, (kpi_id, label) in zip(cols[1:], velocity_parts, strict=True):
    with col:
        st.metric(
            label,
            format_value(values.get(kpi_id), K.get(kpi_id).unit, currency, compact=True),
            border=True,
            help=K.get(kpi_id).formula,
        )

left, right = st.columns(2, gap="large")
with left:
    funnel = state.funnel(state.dataset_key(), view.period.label if view.grain != "all" else None, view.filters)
    if funnel.height and funnel["reached"][0]:
        st.altair_chart(charts.funnel(funnel), width="stretch")
        inferred = not dataset.has("stage_history")
        st.caption(
            f"Deals created in {view.period.label}. "
            + ("Inferred from each deal's furthest stage (no stage history)." if inferred else "From stage history.")
        )
    else:
        st.info("No deals were created in this period.")
with right:
    stages, _, _ = state.report(view, ["time_in_stage_days"])
    if stages.height:
        data = stages.select(pl.col("stage"), pl.col("value"))
        st.altair_chart(
            charts.bars_by(
                data,
                category="stage",
                unit="days",
                title="Average days in stage (stages left in the period)",
                sort=list(dataset.stage_order),
            ),
            width="stretch",
        )
    else:
        st.info(
            unavailable.get("time_in_stage_days")
            or "Time in stage needs stage history (Salesforce OpportunityHistory or "
            "HubSpot 'Date entered' columns); no stage was left in this period."
        )

columns = [
    "deal_id",
    "deal_name",
    "account",
    "owner",
    "stage",
    "amount",
    "close_date",
    "created_date",
    "stage_entered_at",
    "last_activity",
]
config = {
    "deal_id": "Deal",
    "deal_name": "Name",
    "account": "Account",
    "owner": "Owner",
    "stage": "Stage",
    "close_date": st.column_config.DateColumn("Close date"),
    "created_date": st.column_config.DateColumn("Created"),
    "stage_entered_at": st.column_config.DatetimeColumn("In stage since", format="D MMM YYYY"),
    "last_activity": st.column_config.DateColumn("Last activity"),
}
missing = K.availability(dataset, ["stalled_deals", "overdue_deals"])
for kpi_id, title in (("stalled_deals", "Stalled deals"), ("overdue_deals", "Past-due open deals")):
    st.subheader(title)
    if kpi_id in missing:
        st.info(missing[kpi_id])
        continue
    behind = state.rows_behind(state.dataset_key(), kpi_id, view.period.label, (), view.filters)
    rows = behind.rows
    shown = (
        rows.select([c for c in columns if c in rows.columns]).sort("amount", descending=True, nulls_last=True)
        if rows.height
        else rows
    )
    scope = "all open deals" if view.grain == "all" else f"open deals closing in {view.period.label}"
    st.caption(f"{behind.total:,} deal(s) · {scope} · {K.get(kpi_id).formula}")
    money = state.money_columns(rows, ["amount"], currency)  # in the rows' own currency
    tables.frame(shown.head(500), hide_index=True, column_config={**config, **money}, width="stretch")
