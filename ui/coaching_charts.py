"""Chart builders for the 1:1: tidy frames in, Altair charts out. No ``st.*`` here."""

from __future__ import annotations

import altair as alt
import polars as pl

from kpi_core.formatting import format_value
from ui.charts import PALETTE

MUTED = "#9AA3AE"


def _themed(chart: alt.LayerChart) -> alt.Chart:
    return (
        chart.configure_axis(labelFontSize=12, titleFontSize=12, grid=False)
        .configure_view(strokeWidth=0)
        .configure_legend(labelFontSize=12, titleFontSize=12, orient="top", title=None, labelLimit=0)
        .configure_title(fontSize=14, anchor="start")
    )  # type: ignore[return-value]


def funnel_frame(funnel: pl.DataFrame, *, rep: str, peers: str) -> pl.DataFrame:
    """The funnel's next-step conversions as one row per step and group: step ("A → B"), order, group (the rep's
    name or the peers'), rate, ci_low, ci_high (the rep's 95% interval), deals (that reached the first stage)."""
    rows = []
    for group, name in (("rep", rep), ("peers", peers)):
        part = funnel.filter(pl.col("group") == group).sort("order")
        stages = part["stage"].to_list()
        for i, row in enumerate(part.iter_rows(named=True)):
            if i + 1 >= len(stages) or row["next_rate"] is None:
                continue
            rows.append(
                {
                    "step": f"{stages[i]} → {stages[i + 1]}",
                    "order": i,
                    "group": name,
                    "rate": row["next_rate"],
                    "ci_low": row["ci_low"] if group == "rep" else None,
                    "ci_high": row["ci_high"] if group == "rep" else None,
                    "deals": int(row["reached"]),
                }
            )
    schema = {
        "step": pl.String,
        "order": pl.Int64,
        "group": pl.String,
        "rate": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "deals": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def funnel(frame: pl.DataFrame, *, rep: str, peers: str, title: str) -> alt.Chart:
    """Each stage-to-stage conversion of the rep beside the peers', the rep's 95% interval as a line through its bar.

    ``frame``: :func:`funnel_frame`."""
    steps = frame.sort("order")["step"].unique(maintain_order=True).to_list()
    base = alt.Chart(frame, title=title)
    colour = alt.Color("group:N", scale=alt.Scale(domain=[rep, peers], range=[PALETTE[0], MUTED]))
    bars = base.mark_bar().encode(
        x=alt.X(
            "step:N",
            sort=steps,
            title=None,
            # each step on two lines ("Proposal →", "Negotiation"), so that every step keeps its label
            axis=alt.Axis(
                labelAngle=0,
                labelLimit=200,
                labelOverlap=False,
                labelExpr="[split(datum.label, ' → ')[0] + ' →', split(datum.label, ' → ')[1]]",
            ),
        ),
        xOffset=alt.XOffset("group:N", sort=[rep, peers]),
        y=alt.Y("rate:Q", title="On to the next stage", axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
        color=colour,
        tooltip=[
            alt.Tooltip("step:N", title="Step"),
            alt.Tooltip("group:N", title="Who"),
            alt.Tooltip("rate:Q", format=".1%", title="Conversion"),
            alt.Tooltip("ci_low:Q", format=".1%", title="95% interval from"),
            alt.Tooltip("ci_high:Q", format=".1%", title="to"),
            alt.Tooltip("deals:Q", format=",.0f", title="Deals at the first stage"),
        ],
    )
    whiskers = (
        base.transform_filter(alt.datum.ci_low != None)  # noqa: E711 (a Vega expression, not Python)
        .mark_rule(color="#1F2937", strokeWidth=1.5)
        .encode(
            x=alt.X("step:N", sort=steps),
            xOffset=alt.XOffset("group:N", sort=[rep, peers]),
            y="ci_low:Q",
            y2="ci_high:Q",
        )
    )
    return _themed(alt.layer(bars, whiskers).properties(height=280))


def gaps_frame(differences: pl.DataFrame, currency: str) -> pl.DataFrame:
    """The rep against the peers on each KPI, as a relative gap: label, gap (rep / peers - 1), low, high (the rep's
    interval the same way), noise ("beyond the noise" or "within the noise"), and the formatted values for the
    tooltip. KPIs without a peer value, or a peer value of zero, are left out (no relative gap)."""
    rows = []
    for r in differences.iter_rows(named=True):
        peer, rep = r["peer_value"], r["rep_value"]
        if peer is None or rep is None or peer == 0:
            continue
        unit = r["unit"]
        rows.append(
            {
                "label": r["label"],
                "gap": rep / peer - 1,
                "low": None if r["ci_low"] is None else r["ci_low"] / peer - 1,
                "high": None if r["ci_high"] is None else r["ci_high"] / peer - 1,
                "noise": "beyond the noise" if r["beyond_noise"] else "within the noise",
                "rep": format_value(rep, unit, currency),
                "peers": format_value(peer, unit, currency),
                "interval": "—"
                if r["ci_low"] is None
                else f"{format_value(r['ci_low'], unit, currency)} to {format_value(r['ci_high'], unit, currency)}",
            }
        )
    schema = {
        "label": pl.String,
        "gap": pl.Float64,
        "low": pl.Float64,
        "high": pl.Float64,
        "noise": pl.String,
        "rep": pl.String,
        "peers": pl.String,
        "interval": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def gaps(frame: pl.DataFrame, *, title: str) -> alt.Chart:
    """Each KPI's gap to the peers (0 = the same), with the rep's 95% interval: a line that crosses zero is within
    the noise. ``frame``: :func:`gaps_frame`."""
    order = frame["label"].to_list()
    data = frame.with_columns(
        pl.col("gap").clip(-1.5, 3.0), pl.col("low").clip(-1.5, 3.0), pl.col("high").clip(-1.5, 3.0)
    )
    base = alt.Chart(data, title=title)
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260, labelOverlap=False))
    colour = alt.Color(
        "noise:N", scale=alt.Scale(domain=["beyond the noise", "within the noise"], range=[PALETTE[5], MUTED])
    )
    tooltip = [
        alt.Tooltip("label:N", title="KPI"),
        alt.Tooltip("rep:N", title="Rep"),
        alt.Tooltip("peers:N", title="Peers"),
        alt.Tooltip("interval:N", title="Rep's 95% interval"),
        alt.Tooltip("noise:N", title="Difference"),
    ]
    interval = base.mark_rule(strokeWidth=2).encode(y=y, x="low:Q", x2="high:Q", color=colour, tooltip=tooltip)
    point = base.mark_point(filled=True, size=70).encode(
        y=y,
        x=alt.X("gap:Q", title="Rep against the peers (0 = the same)", axis=alt.Axis(format="+.0%")),
        color=colour,
        tooltip=tooltip,
    )
    zero = base.mark_rule(color="#444", strokeDash=[4, 3]).encode(x=alt.datum(0))
    # a step per KPI, not a total height: a page that fits charts to its column counts the title, legend and axis in
    # a total height, which left a few KPIs a few pixels each
    return _themed(alt.layer(interval, point, zero).properties(height=alt.Step(28)))
