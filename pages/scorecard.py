"""Scorecard: the leading indicators beside the lagging results they drive."""

from __future__ import annotations

import polars as pl
import streamlit as st

import kpi_core as K
from kpi_core import drivers, leading
from kpi_core.engine import POINT_IN_TIME
from ui import guard, leading_charts, presets, state, tables, tiles

state.through_entrypoint()

PER_STAGE = {"stage_conversion", "time_in_stage_days"}

dataset = state.current_dataset()
view = state.current_view(dataset)
currency = state.display_currency(dataset)
fy = dataset.settings.fiscal_year_start

st.title("Scorecard")
top = st.columns([3, 5])
preset = top[0].segmented_control("View", [*presets.SCORECARD, "All"], default="Manager", key="scorecard_preset")
choices = [k.id for k in K.REGISTRY if k.id not in PER_STAGE]
chosen_default = (
    [k for k in presets.SCORECARD.get(preset or "", choices) if k in choices] if preset != "All" else choices
)
chosen = top[1].multiselect(
    "KPIs shown", choices, default=chosen_default, key=f"scorecard_kpis_{preset}", format_func=lambda k: K.get(k).label
)
compare_column, delta_column = state.delta_columns(view)
filters = ", ".join(f"{k}: {', '.join(v)}" for k, v in view.filters) or "all segments"
st.caption(
    f"{state.SOURCES[state.source()]} · {view.period.label} · {filters} · as of {dataset.as_of:%d %b %Y} · "
    f"compared with the {'same period last year' if view.compare == 'last_year' else 'previous period'}{' (period to date)' if view.period.contains(dataset.as_of) else ''}"
)

if not chosen:
    st.info("Choose the KPIs to show above, or pick a view.")
    st.stop()

# one evaluation gives the tiles (the last period, with its comparisons) and the sparklines (all eight)
trend, unavailable, warnings = state.report(view, chosen, periods=view.trailing(8, fy))
frame = trend.filter(pl.col("period") == view.period.label) if trend.height else trend
for warning in warnings:
    st.warning(warning)

elapsed = 1.0
if view.period.contains(dataset.as_of):
    elapsed = ((dataset.as_of - view.period.start).days + 1) / view.period.days

# open-pipeline KPIs and forecast accuracy need history: the kept snapshots of this data, when there are any
store = state.history_store()
kept = state.kept_before(store, dataset) if store is not None else ()
trend_of = state.as_of_trend(dataset, view, chosen)


def with_history(row: dict[str, object]) -> tuple[dict[str, object], list[float | None] | None]:
    """A point-in-time KPI's tile row with its comparison and sparkline from the snapshots (none without)."""
    if str(row["kpi"]) not in trend_of:
        return row, None
    before, earlier = trend_of[str(row["kpi"])]
    value = row["value"] if isinstance(row["value"], float | int) else None
    delta = value - before if value is not None and before is not None else None
    spark = [*earlier, value] if any(v is not None for v in earlier) else None
    return {**row, compare_column: before, delta_column: delta}, spark


forecast = (
    state.forecast_accuracy(str(store.home), kept, view.grain, view.filters, fy)
    if store is not None and "forecast_accuracy" in chosen
    else pl.DataFrame()
)
if forecast.height:
    unavailable = {k: v for k, v in unavailable.items() if k != "forecast_accuracy"}
elif kept and "forecast_accuracy" in unavailable:
    unavailable["forecast_accuracy"] = (
        f"Forecast accuracy needs a closed {view.grain} with a snapshot from its start; the history kept so far "
        f"starts on {kept[0][0]:%d %b %Y}. Choose a shorter grain, or keep exporting weekly."
    )
waiting = (
    f"The history kept since {kept[0][0]:%d %b %Y} does not reach back to the same point of "
    f"{compared.label if (compared := state.compared_period(view, fy)) else 'the period before'} yet."
    if kept
    else "Keep each week's export (Data page) to see its trend here."
)

# what each leading tile leads, measured on this data's weekly history (only when such a tile is shown)
measured = set(leading.DEFAULT_INDICATORS) & set(frame.filter(pl.col("indicator") == "leading")["kpi"].to_list())
# measured once per dataset on all of its history (a lead is a property of the sales process, and a filter change
# must not wait for a new analysis); the Leading indicators page measures it per segment and filter
lead_words = state.lead_tiles(state.dataset_key(), ()) if measured else {}
on_all = " (measured on all the data)" if view.filters else ""

lead_column, lag_column = st.columns(2, gap="large")
for column, indicator, title in (
    (lead_column, "leading", "Leading indicators"),
    (lag_column, "lagging", "Lagging results"),
):
    with column:
        st.subheader(title)
        rows = [
            r
            for r in frame.filter((pl.col("indicator") == indicator) & pl.col("stage").is_null()).iter_rows(named=True)
        ]
        if not rows:
            st.caption("None of the chosen KPIs is of this kind, or the data cannot support them.")
        grid = st.columns(2)
        for i, row in enumerate(rows):
            with grid[i % 2]:
                spark = None
                if row["kpi"] in POINT_IN_TIME:
                    row, spark = with_history(row)
                value = row["value"] if isinstance(row["value"], float) else None
                same_currency = trend.filter(pl.col("currency") == row["currency"]) if row.get("currency") else trend
                tiles.tile(
                    row,
                    compare_column=compare_column,
                    delta_column=delta_column,
                    currency=str(row.get("currency") or currency),
                    # open-pipeline KPIs: their trend comes from the kept snapshots, never from one export
                    spark=spark if row["kpi"] in POINT_IN_TIME else tiles.spark_series(same_currency, str(row["kpi"])),
                    status=tiles.target_status(str(row["kpi"]), value, elapsed),
                )
                if row["kpi"] in POINT_IN_TIME and spark is None:
                    st.caption(waiting)
                if row["kpi"] in lead_words:
                    st.caption(f"↗ {lead_words[str(row['kpi'])]}{on_all}")
        if indicator == "lagging" and forecast.height:
            with grid[len(rows) % 2]:
                tiles.forecast_tile(forecast, currency)

if measured:
    st.page_link("pages/leading.py", label="What leads revenue here, and by how many weeks →")

# why won revenue changed: the same comparison as the tiles, split into closed deals, win rate and deal size
if view.grain != "all" and "won_revenue" not in unavailable:
    deal_columns = dataset.table("deals").columns if dataset.has("deals") else []
    one_value = {dim for dim, values in view.filters if len(values) == 1}  # nothing to split there
    split_by = next((d for d in ("region", "segment", "team") if d in deal_columns and d not in one_value), None)
    why = state.revenue_drivers(
        state.dataset_key(), view.grain, view.period.label, view.compare, view.filters, split_by
    )
    st.subheader("Why revenue changed")
    if isinstance(why, str):
        st.caption(why)
    else:
        st.markdown(guard.plain(drivers.explain(why, currency)))
    if not isinstance(why, str) and not why.too_few:  # no bridge from a handful of deals: its drivers are not named
        st.altair_chart(
            leading_charts.bridge(
                before=why.before["revenue"] or 0.0,
                effects=why.effects,
                after=why.after["revenue"] or 0.0,
                before_label=why.compared_with,
                after_label=why.period + (" to date" if why.period_to_date else ""),
                currency=currency,
            ),
            width="stretch",
        )
        st.caption(
            "Won revenue = closed deals × win rate × average deal size; each bar is one driver's share of the "
            "change (Shapley weights, exact to the cent)" + (f", added up over each {split_by}." if split_by else ".")
        )

tiles.unavailable_list(unavailable)

with st.expander("Rows behind a number"):
    shown_ids = [r["kpi"] for r in frame.filter(pl.col("stage").is_null()).iter_rows(named=True)]
    if shown_ids:
        kpi_id = st.selectbox(
            "KPI",
            list(dict.fromkeys(shown_ids)),
            index=None,
            placeholder="Choose a KPI to list its rows",
            key="scorecard_rows_kpi",
            format_func=lambda k: K.get(k).label,
        )
    if shown_ids and kpi_id:  # computed only once asked for: a collapsed expander still runs its code
        behind = state.rows_behind(state.dataset_key(), kpi_id, view.period.label, (), view.filters, 1000)
        st.caption(
            f"{behind.total:,} row(s) of the {behind.table} table; {behind.excluded:,} row(s) of the same period "
            "left out (see Segments for why, and for downloads)."
        )
        tables.frame(
            behind.rows,
            hide_index=True,
            width="stretch",
            column_config=state.money_columns(behind.rows, ("amount", "gross_profit", "mrr"), currency),
        )
