"""Chart builders: a tidy, aggregated frame in, an ``alt.Chart`` out. No ``st.*`` here.

One theme, number formats by KPI unit, tooltips on every mark, and the Okabe-Ito colour-blind-safe palette.
"""

from __future__ import annotations

import altair as alt
import polars as pl
from altair.utils.schemapi import UndefinedType

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


def _min_step(unit: str) -> float | UndefinedType:
    """Counts are whole: an axis of small counts ticks 0, 1, 2, never 0, 0, 0, 1, 1 (ticks of 0.2 read as 0)."""
    return 1 if unit == "count" else alt.Undefined


def _locale(currency: str) -> dict[str, object]:
    """Vega's number locale with the currency's symbol, so ``$,.2s`` axes read ``€20M`` for euros."""
    from kpi_core.formatting import SYMBOLS

    symbol = SYMBOLS.get(currency)
    return {
        "decimal": ".",
        "thousands": ",",
        "grouping": [3],
        "currency": [symbol, ""] if symbol else ["", f" {currency}"],
    }


def _themed(chart: alt.Chart | alt.LayerChart | alt.FacetChart, *, font: int = 12, currency: str = "USD") -> alt.Chart:
    """The one theme: axis, legend, title and text-mark sizes from ``font``; the currency's symbol on axes."""
    styled = (
        chart.configure_axis(labelFontSize=font, titleFontSize=font, grid=False)
        .configure_view(strokeWidth=0)
        .configure_legend(labelFontSize=font, titleFontSize=font)
        .configure_title(fontSize=font + 2, subtitleFontSize=font - 1, anchor="start")
        .configure_text(fontSize=font)
        .configure_range(category=PALETTE)
    )
    styled.config.locale = alt.Locale(number=_locale(currency))  # type: ignore[union-attr]
    return styled  # type: ignore[return-value]


def restyle(chart: alt.Chart, *, font: int, width: int | None = None, height: int | None = None) -> alt.Chart:
    """A themed chart with another type size (presentation mode, slides) and, when given, an exact outer size
    (``autosize: fit``: the image is ``width`` x ``height`` pixels, axes and title included)."""
    config = chart.config
    styled = chart.copy(deep=True)
    styled.config = config.copy(deep=True) if config is not alt.Undefined else alt.Config()
    styled.config.axis = alt.AxisConfig(labelFontSize=font, titleFontSize=font, grid=False)
    styled.config.legend = alt.LegendConfig(labelFontSize=font, titleFontSize=font, orient="bottom")
    styled.config.title = alt.TitleConfig(fontSize=font + 2, subtitleFontSize=font - 1, anchor="start")
    styled.config.text = alt.MarkConfig(fontSize=font)
    if width is not None or height is not None:
        if isinstance(styled, alt.FacetChart):
            return styled
        sized = styled.properties(
            **({"width": width} if width is not None else {}),
            **({"height": height} if height is not None else {}),
            autosize=alt.AutoSizeParams(type="fit", contains="padding"),
        )
        return sized  # type: ignore[return-value]
    return styled


def ranked_bars(
    frame: pl.DataFrame,
    *,
    segment: str,
    unit: str,
    title: str,
    selection: alt.Parameter | None = None,
    currency: str = "USD",
) -> alt.Chart:
    """Horizontal bars of one KPI per segment, largest first."""
    data = frame.select(pl.col(segment).cast(pl.String), "value").drop_nulls("value")
    height = max(220, 28 * data.height)
    base = (
        alt.Chart(data, title=title)
        .mark_bar(color=PALETTE[0])
        .encode(
            x=alt.X("value:Q", title=None, axis=alt.Axis(format=_fmt(unit, axis=True), tickMinStep=_min_step(unit))),
            # on a slide's fixed height, many segments thin their labels out instead of printing over each other
            y=alt.Y(f"{segment}:N", sort="-x", title=None, axis=alt.Axis(labelOverlap="greedy")),
            tooltip=[alt.Tooltip(f"{segment}:N"), alt.Tooltip("value:Q", format=_fmt(unit), title=title)],
        )
        .properties(height=height)
    )
    if selection is not None:
        base = base.add_params(selection).encode(opacity=alt.condition(selection, alt.value(1.0), alt.value(0.35)))
    return _themed(base, currency=currency)


def trend_lines(
    frame: pl.DataFrame, *, segment: str | None, unit: str, title: str, currency: str = "USD", zero: bool = True
) -> alt.Chart:
    """One line per segment over periods (the periods in the frame's order); ``zero=False`` lets the value axis
    start near the lowest value, where the differences between the lines are the point."""
    columns = ["period", "value"] + ([segment] if segment else [])
    data = frame.select([pl.col(c).cast(pl.String) if c == segment else pl.col(c) for c in columns])
    order = list(dict.fromkeys(data["period"].to_list()))
    encoding: dict[str, object] = {
        "x": alt.X("period:O", sort=order, title=None, axis=alt.Axis(labelAngle=-40)),
        "y": alt.Y(
            "value:Q",
            title=None,
            axis=alt.Axis(format=_fmt(unit, axis=True), tickMinStep=_min_step(unit)),
            scale=alt.Scale(zero=zero, nice=True),
        ),
        "tooltip": [alt.Tooltip("period:O")]
        + ([alt.Tooltip(f"{segment}:N")] if segment else [])
        + [alt.Tooltip("value:Q", format=_fmt(unit), title=title)],
    }
    if segment:
        encoding["color"] = alt.Color(f"{segment}:N", title=None)
    chart = alt.Chart(data, title=title).mark_line(point=True).encode(**encoding).properties(height=220)
    return _themed(chart, currency=currency)


def top_segments(frame: pl.DataFrame, *, segment: str, period: str, count: int = 8) -> list[str]:
    """The segments a trend chart shows: the top ``count`` by their value in ``period``, then over every period shown
    (a quiet period, where all are 0, ranks no one), then by name."""
    ranked = (
        frame.group_by(pl.col(segment).cast(pl.String))
        .agg(
            pl.col("value").filter(pl.col("period") == period).sum().alias("now"),
            pl.col("value").sum().alias("all"),
        )
        .sort("now", "all", segment, descending=[True, True, False], nulls_last=True)
    )
    return ranked.get_column(segment).drop_nulls().head(count).to_list()


def heatmap(frame: pl.DataFrame, *, segment: str, unit: str, title: str, currency: str = "USD") -> alt.Chart:
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
    return _themed(chart, currency=currency)


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
            x=alt.X(
                "reached:Q",
                title="Deals that reached the stage",
                axis=alt.Axis(format=",.0f", tickMinStep=1),
                # room on the right for the longest bar's label
                scale=alt.Scale(domain=[0, max(1, int(data["reached"].max() or 0)) * 1.3], nice=False),
            ),
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


def bars_by(
    frame: pl.DataFrame,
    *,
    category: str,
    unit: str,
    title: str,
    sort: list[str] | None = None,
    currency: str = "USD",
) -> alt.Chart:
    """Vertical bars of a value per category (kept in the given order)."""
    data = frame.select(pl.col(category).cast(pl.String), "value")
    chart = (
        alt.Chart(data, title=title)
        .mark_bar(color=PALETTE[0])
        .encode(
            x=alt.X(f"{category}:N", sort=sort or None, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format=_fmt(unit, axis=True), tickMinStep=_min_step(unit))),
            tooltip=[alt.Tooltip(f"{category}:N"), alt.Tooltip("value:Q", format=_fmt(unit), title=title)],
        )
        .properties(height=240)
    )
    return _themed(chart, currency=currency)


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


def mrr_movements(frame: pl.DataFrame, currency: str = "USD") -> alt.Chart:
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
        .properties(height=280, title="MRR: new, expansion, contraction and churn"),
        currency=currency,
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


def small_multiples(
    frame: pl.DataFrame, *, segment: str, unit: str, title: str, columns: int = 4, currency: str = "USD"
) -> alt.FacetChart:
    """One small trend chart per segment, sharing the y scale, so shapes compare at a glance."""
    data = frame.select(pl.col(segment).cast(pl.String), "period", "value").drop_nulls("value")
    order = list(dict.fromkeys(data["period"].to_list()))
    base = (
        alt.Chart(data)
        .mark_area(line={"color": PALETTE[0]}, color=PALETTE[4], opacity=0.5)
        .encode(
            x=alt.X("period:O", sort=order, title=None, axis=alt.Axis(labelAngle=-40, labelFontSize=10)),
            y=alt.Y(
                "value:Q",
                title=None,
                axis=alt.Axis(format=_fmt(unit, axis=True), tickCount=3, tickMinStep=_min_step(unit)),
            ),
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
    return _themed(chart.properties(title=title), currency=currency)  # type: ignore[return-value]


WATERFALL_STEPS = (
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
)


def _nice_step(span: float) -> float:
    """A round tick step for about five ticks over ``span`` (1, 2, 2.5 or 5 times a power of ten)."""
    import math

    raw = max(span, 1e-9) / 5
    power = 10 ** math.floor(math.log10(raw))
    return min((m * power for m in (1, 2, 2.5, 5, 10)), key=lambda step: abs(step - raw))


def waterfall_frame(
    waterfall: dict[str, float], *, counts: dict[str, int] | None = None, currency: str = "USD"
) -> tuple[pl.DataFrame, float, float]:
    """The waterfall's bars (step, low, high, amount, kind, label, deals) and the value axis' domain.

    The axis starts near the lowest level of the week, not at zero, when zero would squash the movements into
    slivers; the start and end bars are then cut at the axis (a broken axis, marked on the chart)."""
    from kpi_core.formatting import format_delta, format_value

    rows, level, levels = [], 0.0, []
    for key, label, kind in WATERFALL_STEPS:
        amount = float(waterfall.get(key, 0.0))
        deals = (counts or {}).get(key)
        if kind == "total":
            low, high, signed, level = 0.0, amount, amount, amount
            text = format_value(amount, "currency", currency, compact=True)
        else:
            signed = amount if kind == "in" else -amount
            low, high = min(level, level + signed), max(level, level + signed)
            level += signed
            text = format_delta(signed, "currency", currency) if amount else format_value(0.0, "currency", currency)
        levels.append(level)
        rows.append(
            {
                "step": label,
                "axis_label": label if deals is None else f"{label}|{deals:,} deal{'s' if deals != 1 else ''}",
                "low": low,
                "high": high,
                "amount": signed,
                "kind": kind,
                "label": text,
                "deals": deals,
            }
        )
    lowest, highest = min(levels), max(levels)
    span = highest - lowest or max(abs(highest) * 0.1, 1.0)
    floor = lowest - 0.6 * span
    if floor <= 0.25 * highest:  # the movements are large next to the totals: a plain axis from zero
        floor = min(0.0, lowest)
    step = _nice_step(highest + 0.15 * span - floor)
    floor = (floor // step) * step
    top = highest + 0.15 * span
    data = pl.DataFrame(rows).with_columns(low=pl.max_horizontal(pl.col("low"), pl.lit(floor)))
    return data, floor, top


def _none_of(labels: list[str]) -> str:
    """``No deals were pulled in, reopened or removed`` from the labels of the empty steps."""
    words = [label.lower() for label in labels]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return f"No deals {listed}"


def waterfall(waterfall: dict[str, float], *, counts: dict[str, int] | None = None, currency: str = "USD") -> alt.Chart:
    """The pipeline waterfall: start, what came in, what went out, end; every bar labelled with its amount, on
    an axis that starts near the week's lowest level so the movements show (the break is marked)."""
    data, floor, top = waterfall_frame(waterfall, counts=counts, currency=currency)
    # a step without deals is said, not drawn; deals that moved no money (no amount yet) keep their bar and count
    none = (pl.col("kind") != "total") & (pl.col("amount") == 0) & pl.col("deals").fill_null(0).eq(0)
    empty = data.filter(none)
    data = data.filter(~none)
    order = data["axis_label"].to_list()
    broken = floor > 0
    subtitle = [
        *([f"Axis starts at {_money_tick(floor, currency)}, not zero, so the week's movements show"] if broken else []),
        *([_none_of(empty["step"].to_list())] if empty.height else []),
    ]
    title = alt.Title("Open pipeline: what changed", subtitle=subtitle or alt.Undefined)
    base = alt.Chart(data).encode(
        x=alt.X(
            "axis_label:N",
            sort=order,
            title=None,
            axis=alt.Axis(labelAngle=0, labelExpr="split(datum.label, '|')", labelLimit=160, labelPadding=6),
        )
    )
    bars = base.mark_bar().encode(
        y=alt.Y(
            "low:Q",
            title=None,
            axis=alt.Axis(format="$,.2s", tickCount=5),
            scale=alt.Scale(domain=[floor, top], zero=False, nice=False, clamp=True),
        ),
        y2="high:Q",
        color=alt.Color(
            "kind:N", scale=alt.Scale(domain=["total", "in", "out"], range=[PALETTE[0], GOOD, BAD]), legend=None
        ),
        tooltip=[
            alt.Tooltip("step:N", title="Step"),
            alt.Tooltip("label:N", title="Amount"),
            alt.Tooltip("deals:Q", format=",.0f", title="Deals"),
        ],
    )
    labels = base.mark_text(baseline="bottom", dy=-4, color="#222", fontWeight="bold").encode(
        y=alt.Y("high:Q"), text=alt.Text("label:N")
    )
    layers: list[alt.Chart] = [bars, labels]
    if broken:  # two white slashes across the cut start and end bars
        cut = floor + (top - floor) * 0.05
        marks = (
            alt.Chart(data.filter(pl.col("kind") == "total").with_columns(cut=pl.lit(cut)))
            .mark_point(
                shape="M-1,0.2L1,-0.2M-1,0.7L1,0.3", size=500, stroke="white", strokeWidth=3, filled=False, opacity=1
            )
            .encode(x=alt.X("axis_label:N", sort=order), y=alt.Y("cut:Q"))
        )
        layers.append(marks)
    return _themed(alt.layer(*layers, title=title).properties(height=320), currency=currency)


def _money_tick(value: float, currency: str) -> str:
    from kpi_core.formatting import format_value

    return format_value(value, "currency", currency, compact=True)
