"""Chart builders: a tidy, aggregated frame in, an ``alt.Chart`` out. No ``st.*`` here.

One theme, number formats by KPI unit, tooltips on every mark, and the Okabe-Ito colour-blind-safe palette.
"""

from __future__ import annotations

import altair as alt
import polars as pl

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
GOOD, WARN, BAD = "#009E73", "#E69F00", "#D55E00"
AXIS_FORMATS = {
    "currency": "$,.2s",
    "currency_per_day": "$,.2s",
    "percent": ".0%",
    "days": ",.0f",
    "hours": ",.1f",
    "ratio": ",.1f",
    "count": ",.0f",
}
TOOLTIP_FORMATS = {
    "currency": "$,.0f",
    "currency_per_day": "$,.0f",
    "percent": ".1%",
    "days": ",.1f",
    "hours": ",.1f",
    "ratio": ",.2f",
    "count": ",.0f",
}


def _fmt(unit: str, *, axis: bool = False) -> str:
    return (AXIS_FORMATS if axis else TOOLTIP_FORMATS).get(unit, ",.2f")


def _themed(chart: alt.Chart | alt.LayerChart | alt.FacetChart) -> alt.Chart:
    return (
        chart.configure_axis(labelFontSize=12, titleFontSize=12, grid=False)
        .configure_view(strokeWidth=0)
        .configure_legend(labelFontSize=12, titleFontSize=12)
        .configure_range(category=PALETTE)
    )  # type: ignore[return-value]


def ranked_bars(
    frame: pl.DataFrame, *, segment: str, unit: str, title: str, selection: alt.Parameter | None = None
) -> alt.Chart:
    """Horizontal bars of one KPI per segment, largest first."""
    data = frame.select(pl.col(segment).cast(pl.String), "value").drop_nulls("value")
    height = max(220, 28 * data.height)
    base = (
        alt.Chart(data, title=title)
        .mark_bar(color=PALETTE[0])
        .encode(
            x=alt.X("value:Q", title=None, axis=alt.Axis(format=_fmt(unit, axis=True))),
            y=alt.Y(f"{segment}:N", sort="-x", title=None),
            tooltip=[alt.Tooltip(f"{segment}:N"), alt.Tooltip("value:Q", format=_fmt(unit), title=title)],
        )
        .properties(height=height)
    )
    if selection is not None:
        base = base.add_params(selection).encode(opacity=alt.condition(selection, alt.value(1.0), alt.value(0.35)))
    return _themed(base)


def trend_lines(frame: pl.DataFrame, *, segment: str | None, unit: str, title: str) -> alt.Chart:
    """One line per segment over periods (the periods in the frame's order)."""
    columns = ["period", "value"] + ([segment] if segment else [])
    data = frame.select([pl.col(c).cast(pl.String) if c == segment else pl.col(c) for c in columns])
    order = list(dict.fromkeys(data["period"].to_list()))
    encoding: dict[str, object] = {
        "x": alt.X("period:O", sort=order, title=None, axis=alt.Axis(labelAngle=-40)),
        "y": alt.Y("value:Q", title=None, axis=alt.Axis(format=_fmt(unit, axis=True))),
        "tooltip": [alt.Tooltip("period:O")]
        + ([alt.Tooltip(f"{segment}:N")] if segment else [])
        + [alt.Tooltip("value:Q", format=_fmt(unit), title=title)],
    }
    if segment:
        encoding["color"] = alt.Color(f"{segment}:N", title=None)
    chart = alt.Chart(data, title=title).mark_line(point=True).encode(**encoding).properties(height=220)
    return _themed(chart)


def heatmap(frame: pl.DataFrame, *, segment: str, unit: str, title: str) -> alt.Chart:
    """Segment x period cells coloured by value, with the value in the tooltip."""
    data = frame.select(pl.col(segment).cast(pl.String), "period", "value")
    order = list(dict.fromkeys(data["period"].to_list()))
    chart = (
        alt.Chart(data, title=title)
        .mark_rect()
        .encode(
            x=alt.X("period:O", sort=order, title=None, axis=alt.Axis(labelAngle=-40)),
            y=alt.Y(f"{segment}:N", title=None),
            color=alt.Color(
                "value:Q", title=None, scale=alt.Scale(scheme="blues"), legend=alt.Legend(format=_fmt(unit, axis=True))
            ),
            tooltip=[
                alt.Tooltip(f"{segment}:N"),
                alt.Tooltip("period:O"),
                alt.Tooltip("value:Q", format=_fmt(unit), title=title),
            ],
        )
        .properties(height=max(220, 28 * data[segment].n_unique()))
    )
    return _themed(chart)


def funnel(frame: pl.DataFrame) -> alt.Chart:
    """Deals reaching each stage, with next-step and cumulative conversion in the labels and tooltip."""
    data = frame.with_columns(
        label=pl.format(
            "{} · {} of start",
            pl.col("reached").map_elements(lambda v: f"{v:,}", return_dtype=pl.String),
            (pl.col("cumulative_rate") * 100).round(0).cast(pl.Int64).cast(pl.String) + "%",
        )
    )
    order = data["stage"].to_list()
    bars = (
        alt.Chart(data)
        .mark_bar(color=PALETTE[0])
        .encode(
            y=alt.Y("stage:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=200)),
            x=alt.X("reached:Q", title="Deals that reached the stage", axis=alt.Axis(format=",.0f")),
            tooltip=[
                alt.Tooltip("stage:N"),
                alt.Tooltip("reached:Q", format=",.0f", title="Reached"),
                alt.Tooltip("next_rate:Q", format=".1%", title="On to the next stage"),
                alt.Tooltip("cumulative_rate:Q", format=".1%", title="Of all deals"),
            ],
        )
    )
    text = bars.mark_text(align="left", dx=4, color="#333").encode(text="label:N")
    return _themed(alt.layer(bars, text).properties(height=max(220, 44 * data.height), title="Stage funnel"))


def bars_by(frame: pl.DataFrame, *, category: str, unit: str, title: str, sort: list[str] | None = None) -> alt.Chart:
    """Vertical bars of a value per category (kept in the given order)."""
    data = frame.select(pl.col(category).cast(pl.String), "value")
    chart = (
        alt.Chart(data, title=title)
        .mark_bar(color=PALETTE[0])
        .encode(
            x=alt.X(f"{category}:N", sort=sort or None, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format=_fmt(unit, axis=True))),
            tooltip=[alt.Tooltip(f"{category}:N"), alt.Tooltip("value:Q", format=_fmt(unit), title=title)],
        )
        .properties(height=240)
    )
    return _themed(chart)


def stacked_activity(frame: pl.DataFrame, *, title: str) -> alt.Chart:
    """Activities per period stacked by type (columns period, type, value)."""
    order = list(dict.fromkeys(frame["period"].to_list()))
    chart = (
        alt.Chart(frame.select("period", "type", "value"), title=title)
        .mark_bar()
        .encode(
            x=alt.X("period:O", sort=order, title=None, axis=alt.Axis(labelAngle=-40)),
            y=alt.Y("value:Q", title=None, stack="zero", axis=alt.Axis(format=",.0f")),
            color=alt.Color("type:N", title=None, sort=["Calls", "Emails", "Meetings booked"]),
            tooltip=[
                alt.Tooltip("period:O"),
                alt.Tooltip("type:N"),
                alt.Tooltip("value:Q", format=",.0f", title="Activities"),
            ],
        )
        .properties(height=260)
    )
    return _themed(chart)


def rep_week_heatmap(frame: pl.DataFrame, *, title: str) -> alt.Chart:
    """Activities per rep per week (columns owner, period, value)."""
    data = frame.select(pl.col("owner").cast(pl.String), "period", "value")
    order = list(dict.fromkeys(data["period"].to_list()))
    chart = (
        alt.Chart(data, title=title)
        .mark_rect()
        .encode(
            x=alt.X("period:O", sort=order, title=None, axis=alt.Axis(labelAngle=-40)),
            y=alt.Y("owner:N", title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color("value:Q", title="Activities", scale=alt.Scale(scheme="blues")),
            tooltip=[
                alt.Tooltip("owner:N", title="Rep"),
                alt.Tooltip("period:O"),
                alt.Tooltip("value:Q", format=",.0f", title="Activities"),
            ],
        )
        .properties(height=max(220, 18 * data["owner"].n_unique()))
    )
    return _themed(chart)


def response_histogram(frame: pl.DataFrame, *, sla_hours: float) -> alt.Chart:
    """Leads per response-time bin, coloured by SLA band (columns bin, order, count, band)."""
    order = frame.sort("order")["bin"].to_list()
    chart = (
        alt.Chart(frame, title=f"Lead response time (SLA {sla_hours:g} h)")
        .mark_bar()
        .encode(
            x=alt.X("bin:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("count:Q", title="Leads", axis=alt.Axis(format=",.0f")),
            color=alt.Color(
                "band:N",
                title=None,
                scale=alt.Scale(
                    domain=["within SLA", "late", "very late", "never"], range=[GOOD, WARN, BAD, "#999999"]
                ),
            ),
            tooltip=[
                alt.Tooltip("bin:N", title="Response"),
                alt.Tooltip("count:Q", format=",.0f", title="Leads"),
                alt.Tooltip("band:N"),
            ],
        )
        .properties(height=240)
    )
    return _themed(chart)


def mrr_movements(frame: pl.DataFrame) -> alt.Chart:
    """Monthly MRR movements as diverging stacked bars, with the ending MRR as a line."""
    moves = frame.filter(pl.col("movement").is_in(["new", "expansion", "contraction", "churn"]))
    ends = frame.filter(pl.col("movement") == "end")
    order = list(dict.fromkeys(frame["period"].to_list()))
    names = ["new", "expansion", "contraction", "churn"]
    bars = (
        alt.Chart(moves)
        .mark_bar()
        .encode(
            x=alt.X("period:O", sort=order, title=None, axis=alt.Axis(labelAngle=-40)),
            y=alt.Y("mrr:Q", title="MRR change", axis=alt.Axis(format="$,.2s")),
            color=alt.Color(
                "movement:N",
                sort=names,
                scale=alt.Scale(domain=names, range=[PALETTE[0], PALETTE[4], PALETTE[1], PALETTE[5]]),
                title=None,
            ),
            tooltip=[
                alt.Tooltip("period:O"),
                alt.Tooltip("movement:N"),
                alt.Tooltip("mrr:Q", format="$,.0f", title="MRR"),
            ],
        )
    )
    line = (
        alt.Chart(ends)
        .mark_line(point=True, color="#333")
        .encode(
            x=alt.X("period:O", sort=order),
            y=alt.Y("mrr:Q", title="Ending MRR", axis=alt.Axis(format="$,.2s")),
            tooltip=[alt.Tooltip("period:O"), alt.Tooltip("mrr:Q", format="$,.0f", title="Ending MRR")],
        )
    )
    return _themed(
        alt.layer(bars, line)
        .resolve_scale(y="independent")
        .properties(height=280, title="MRR: new, expansion, contraction and churn")
    )


def cohort_heatmap(frame: pl.DataFrame) -> alt.Chart:
    """Share of each monthly cohort still a customer, by months since joining."""
    base = alt.Chart(frame).encode(
        x=alt.X("age:O", title="Months since first subscription", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("cohort:O", title=None),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "retained:Q", title=None, scale=alt.Scale(scheme="greens", domain=[0.5, 1]), legend=alt.Legend(format=".0%")
        ),
        tooltip=[
            alt.Tooltip("cohort:O"),
            alt.Tooltip("age:O", title="Months"),
            alt.Tooltip("customers:Q", format=",.0f", title="Cohort size"),
            alt.Tooltip("retained:Q", format=".1%", title="Retained"),
        ],
    )
    text = base.mark_text(fontSize=11, color="#222").encode(text=alt.Text("retained:Q", format=".0%"))
    height = max(220, 26 * frame["cohort"].n_unique())
    return _themed(alt.layer(cells, text).properties(height=height, title="Customer retention by cohort"))


def small_multiples(frame: pl.DataFrame, *, segment: str, unit: str, title: str, columns: int = 4) -> alt.FacetChart:
    """One small trend chart per segment, sharing the y scale, so shapes compare at a glance."""
    data = frame.select(pl.col(segment).cast(pl.String), "period", "value").drop_nulls("value")
    order = list(dict.fromkeys(data["period"].to_list()))
    base = (
        alt.Chart(data)
        .mark_area(line={"color": PALETTE[0]}, color=PALETTE[4], opacity=0.5)
        .encode(
            x=alt.X("period:O", sort=order, title=None, axis=alt.Axis(labelAngle=-40, labelFontSize=10)),
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format=_fmt(unit, axis=True), tickCount=3)),
            tooltip=[
                alt.Tooltip(f"{segment}:N"),
                alt.Tooltip("period:O"),
                alt.Tooltip("value:Q", format=_fmt(unit), title=title),
            ],
        )
        .properties(width=170, height=150)
    )
    chart = base.facet(
        facet=alt.Facet(f"{segment}:N", title=None, header=alt.Header(labelFontSize=12)), columns=columns
    )
    return _themed(chart.properties(title=title))  # type: ignore[return-value]


def waterfall(waterfall: dict[str, float]) -> alt.Chart:
    """The pipeline waterfall: start, what came in, what went out, end."""
    steps = [
        ("start", "Start", "total"),
        ("new", "New", "in"),
        ("pulled_in", "Pulled in", "in"),
        ("reopened", "Reopened", "in"),
        ("increased", "Increased", "in"),
        ("won", "Won", "out"),
        ("lost", "Lost", "out"),
        ("pushed_out", "Pushed out", "out"),
        ("removed", "Removed", "out"),
        ("decreased", "Decreased", "out"),
        ("end", "End", "total"),
    ]
    rows, level = [], 0.0
    for key, label, kind in steps:
        amount = waterfall.get(key, 0.0)
        if kind == "total":
            rows.append({"step": label, "low": 0.0, "high": amount, "amount": amount, "kind": "total"})
            level = amount
        else:
            signed = amount if kind == "in" else -amount
            rows.append(
                {
                    "step": label,
                    "low": min(level, level + signed),
                    "high": max(level, level + signed),
                    "amount": signed,
                    "kind": "in" if kind == "in" else "out",
                }
            )
            level += signed
    data = pl.DataFrame(rows)
    order = [label for _, label, _ in steps]
    chart = (
        alt.Chart(data, title="Open pipeline: what changed")
        .mark_bar()
        .encode(
            x=alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("low:Q", title=None, axis=alt.Axis(format="$,.2s"), scale=alt.Scale(zero=False)),
            y2="high:Q",
            color=alt.Color(
                "kind:N", scale=alt.Scale(domain=["total", "in", "out"], range=[PALETTE[0], GOOD, BAD]), legend=None
            ),
            tooltip=[alt.Tooltip("step:N"), alt.Tooltip("amount:Q", format="$,.0f", title="Amount")],
        )
        .properties(height=300)
    )
    return _themed(chart)
