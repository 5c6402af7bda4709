"""Chart builders for the 1:1: tidy frames in, Altair charts out. No ``st.*`` here.

Colours say better or worse by each KPI's good direction: green for a difference beyond the noise that is better,
red for one that is worse, grey for no clear difference (and a lighter grey when there is too little to tell)."""

from __future__ import annotations

import altair as alt
import polars as pl

from kpi_core.coaching import difference_text
from kpi_core.formatting import format_value
from ui.charts import BAD, GOOD, PALETTE

MUTED = "#9AA3AE"
FAINT = "#CDD3DA"
BETTER, WORSE, UNCLEAR, TOO_FEW = "better", "worse", "no clear difference", "too few to tell"
SHADES = {BETTER: GOOD, WORSE: BAD, UNCLEAR: MUTED, TOO_FEW: FAINT}
"""The colour of each verdict on every chart of the page (the PDF uses the deck's darker print shades)."""


def _themed(chart: alt.LayerChart) -> alt.Chart:
    return (
        chart.configure_axis(labelFontSize=12, titleFontSize=12, grid=False)
        .configure_view(strokeWidth=0)
        .configure_legend(labelFontSize=12, titleFontSize=12, orient="top", title=None, labelLimit=0)
        .configure_title(fontSize=14, anchor="start")
    )  # type: ignore[return-value]


def shade(verdict: str | None, beyond_noise: bool | None) -> str:
    """The verdict a chart colours by: better or worse only beyond the noise; too few to tell; else no clear
    difference.

    >>> shade("worse", True), shade("no clear difference", False), shade("too few to tell", False), shade("a total", None)
    ('worse', 'no clear difference', 'too few to tell', 'no clear difference')
    """
    if beyond_noise and verdict in (BETTER, WORSE):
        return str(verdict)
    return TOO_FEW if verdict in (TOO_FEW, "no data") else UNCLEAR


def funnel_frame(funnel: pl.DataFrame, differences: pl.DataFrame, *, rep: str, peers: str) -> pl.DataFrame:
    """The funnel's next-step conversions as one row per step and group: step ("A → B"), order, group (the rep's
    name or the peers'), rate, ci_low, ci_high (the rep's 95% interval), deals (that reached the first stage), and
    shade: the rep's verdict at that step (better, worse, no clear difference, too few to tell), "peers" for theirs."""
    verdicts = {
        r["stage"]: shade(r["verdict"], r["beyond_noise"])
        for r in differences.filter(pl.col("metric") == "stage_conversion").iter_rows(named=True)
    }
    rows = []
    for group, name in (("rep", rep), ("peers", peers)):
        part = funnel.filter(pl.col("group") == group).sort("order")
        stages = part["stage"].to_list()
        for i, row in enumerate(part.iter_rows(named=True)):
            if i + 1 >= len(stages) or row["next_rate"] is None:
                continue
            step = f"{stages[i]} → {stages[i + 1]}"
            rows.append(
                {
                    "step": step,
                    "order": i,
                    "group": name,
                    "rate": row["next_rate"],
                    "ci_low": row["ci_low"] if group == "rep" else None,
                    "ci_high": row["ci_high"] if group == "rep" else None,
                    "deals": int(row["reached"]),
                    "shade": verdicts.get(step, UNCLEAR) if group == "rep" else "peers",
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
        "shade": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def funnel(frame: pl.DataFrame, *, rep: str, peers: str, title: str) -> alt.Chart:
    """Each stage-to-stage conversion of the rep beside the peers', the rep's bars coloured by their verdict (green
    better, red worse beyond the noise, else blue) with the rep's 95% interval as a line through each bar.

    ``frame``: :func:`funnel_frame`."""
    steps = frame.sort("order")["step"].unique(maintain_order=True).to_list()
    names = {
        BETTER: f"{rep}: better, beyond the noise",
        WORSE: f"{rep}: worse, beyond the noise",
        UNCLEAR: rep,
        TOO_FEW: f"{rep}: too few to tell",
        "peers": peers,
    }
    colours = {BETTER: GOOD, WORSE: BAD, UNCLEAR: PALETTE[0], TOO_FEW: "#8FBCDB", "peers": MUTED}
    present = [s for s in (UNCLEAR, BETTER, WORSE, TOO_FEW, "peers") if s in set(frame["shade"].to_list())]
    data = frame.with_columns(legend=pl.col("shade").replace_strict(names, return_dtype=pl.String))
    base = alt.Chart(data, title=title)
    colour = alt.Color(
        "legend:N",
        scale=alt.Scale(domain=[names[s] for s in present], range=[colours[s] for s in present]),
        sort=[names[s] for s in present],
        legend=alt.Legend(orient="bottom", columns=2, labelLimit=0),
    )
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
            alt.Tooltip("shade:N", title="Against the peers"),
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
    """Each comparison as a relative difference from the peers: label, gap (rates: the difference over the peers'
    rate; amounts and durations: typical ratio minus one; activities per week: the difference over the peers'
    rate), low and high (its 95% interval the same way), shade (better, worse, no clear difference, too few to tell),
    and the formatted values for the tooltip. Rows without an interval, or a peer value of zero where the difference
    is divided by it, are left out."""
    rows = []
    for r in differences.iter_rows(named=True):
        peer, rep = r["peer_value"], r["rep_value"]
        if r["difference"] is None or peer is None or rep is None:
            continue
        if r["scale"] == "relative":
            scale = 1.0
        elif peer:
            scale = 1.0 / abs(peer)
        else:
            continue
        unit = r["unit"]
        rows.append(
            {
                "label": r["label"],
                "gap": r["difference"] * scale,
                "low": r["ci_low"] * scale,
                "high": r["ci_high"] * scale,
                "shade": shade(r["verdict"], r["beyond_noise"]),
                "rep": format_value(rep, unit, currency),
                "peers": format_value(peer, unit, currency),
                "difference": difference_text(r),
                "sample": f"{r['n']:,} {r['counted']}",
            }
        )
    schema = {
        "label": pl.String,
        "gap": pl.Float64,
        "low": pl.Float64,
        "high": pl.Float64,
        "shade": pl.String,
        "rep": pl.String,
        "peers": pl.String,
        "difference": pl.String,
        "sample": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def gaps(frame: pl.DataFrame, *, title: str) -> alt.Chart:
    """Each KPI's difference from the peers (0 = the same) with its 95% interval, coloured by its verdict: green
    better and red worse beyond the noise, grey otherwise. ``frame``: :func:`gaps_frame`."""
    order = frame["label"].to_list()
    data = frame.with_columns(
        pl.col("gap").clip(-1.5, 3.0), pl.col("low").clip(-1.5, 3.0), pl.col("high").clip(-1.5, 3.0)
    )
    base = alt.Chart(data, title=title)
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260, labelOverlap=False))
    domain = [BETTER, WORSE, UNCLEAR, TOO_FEW]
    colour = alt.Color(
        "shade:N",
        scale=alt.Scale(domain=domain, range=[SHADES[s] for s in domain]),
        legend=alt.Legend(
            orient="bottom",
            columns=2,
            labelLimit=0,
            labelExpr="datum.label == 'better' || datum.label == 'worse' ? "
            "datum.label + ', beyond the noise' : datum.label",
        ),
    )
    tooltip = [
        alt.Tooltip("label:N", title="KPI"),
        alt.Tooltip("rep:N", title="Rep"),
        alt.Tooltip("peers:N", title="Peers"),
        alt.Tooltip("difference:N", title="Difference (95% interval)"),
        alt.Tooltip("sample:N", title="Rep's sample"),
        alt.Tooltip("shade:N", title="Verdict"),
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
