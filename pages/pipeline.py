"""Pipeline: funnel and stage conversion, time in stage, stalled and past-due deals, coverage, forecast, velocity."""

from __future__ import annotations

import polars as pl
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import kpi_core as K
from kpi_core import periods as P
from kpi_core.formatting import format_delta, format_value
from ui import charts, guard, state, tables, tiles

state.through_entrypoint()

dataset = state.current_dataset()
view = state.current_view(dataset)
currency = state.display_currency(dataset)
st.title("Pipeline")
st.caption(
    f"{view.period.label} · open pipeline as of {dataset.as_of:%d %b %Y} · deals closing in the period; stalled and "
    "past-due deals: every open deal"
)

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
rows = {
    r["kpi"]: r
    for r in frame.filter(pl.col("currency").is_null() if "currency" in frame.columns else pl.lit(True)).iter_rows(
        named=True
    )
}
values = {kpi: row["value"] for kpi, row in rows.items()}


def notes(kpi: str) -> list[str]:
    """What to know before reading a KPI's value here (the engine's note: stale pipeline, a missing target, no close
    dates, too few deals), or why it is unavailable."""
    if kpi in unavailable:
        return [K.why_unavailable(kpi, unavailable[kpi])]
    note = rows.get(kpi, {}).get("note")
    return [t for t in str(note).split("; ") if t] if note else []


def say(kpi: str, where: DeltaGenerator | None = None) -> None:
    for text in notes(kpi):
        (where or st).caption(guard.plain(text))


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
    say(kpi or "weighted_pipeline", column)  # the forecast adds the weighted pipeline: its notes hold for it
    if kpi and spark is None and kpi not in unavailable:
        column.caption(
            f"Trend: the kept history does not reach the same point of "
            f"{compared.label if compared else 'the period before'}."
            if kpi in trend
            else "Trend: keep each week's export (Data page) to see it."
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
    say("pipeline_coverage")

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
    say("_open_deals")
for col, (kpi_id, label) in zip(cols[1:], velocity_parts, strict=True):
    with col:
        st.metric(
            label,
            format_value(values.get(kpi_id), K.get(kpi_id).unit, currency, compact=True),
            border=True,
            help=K.get(kpi_id).formula,
        )
        say(kpi_id)

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
    if view.grain != "all" and not view.period.contains(dataset.as_of):
        # a state of the pipeline: the export tells it for the period holding its as-of date only
        st.info(
            f"{title} are a state of the pipeline on {dataset.as_of:%d %b %Y}: they belong to "
            f"{P.make(dataset.as_of, view.grain, dataset.settings.fiscal_year_start).label}. For {view.period.label}, "
            "they come from the weekly snapshots you keep: the scorecard's trend of each, or the Weekly review run on a "
            "snapshot of that time."
        )
        continue
    behind = state.rows_behind(state.dataset_key(), kpi_id, view.period.label, (), view.filters)
    found = behind.rows
    shown = (
        found.select([c for c in columns if c in found.columns]).sort("amount", descending=True, nulls_last=True)
        if found.height
        else found
    )
    st.caption(f"{behind.total:,} deal(s) · {K.get(kpi_id).formula}")
    money = state.money_columns(found, ["amount"], currency)  # in the rows' own currency
    tables.frame(shown.head(500), hide_index=True, column_config={**config, **money}, width="stretch")
