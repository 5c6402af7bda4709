"""Chart builders: a tidy, aggregated frame in, an ``alt.Chart`` out. No ``st.*`` here.

One theme, number formats by KPI unit, tooltips on every mark, and the Okabe-Ito colour-blind-safe palette. The
period still running is drawn by one rule (``kpi_core.to_date``, applied in ``_marked``): labelled to date and drawn
apart; a total so far never on the line or colour scale of full periods, but beside the period before at the same
point.
"""

from __future__ import annotations

from datetime import date

import altair as alt
import polars as pl
from altair.utils.schemapi import UndefinedType

import kpi_core as K
from kpi_core import to_date

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
GOOD, WARN, BAD = "#009E73", "#E69F00", "#D55E00"
TO_DATE_OPACITY = 0.45
"""How much of a full period's colour the running period's bars keep (lighter: not over yet)."""
OUTLINE = "#5B6473"
"""The dashed outline of the running period's heat-map cells."""
EMPTY_CELL = "#F4F6F8"
"""The fill of a running period's cell that stays off the colour scale (a total to date)."""
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
    as_of: date | None = None,
    fy: int = 1,
) -> alt.Chart:
    """Horizontal bars of one KPI per segment, largest first. A period still running is drawn by the rule: lighter
    bars, "to date" in the subtitle, and for a total a tick at each segment's value at the same point of the period
    before (``previous``)."""
    counted = [c for c in ("n", "small_sample") if c in frame.columns]
    data, _ = _marked(
        frame.with_columns(pl.col(segment).cast(pl.String)).drop_nulls("value"),
        [segment, "period", "value", *counted],
        as_of=as_of,
        fy=fy,
    )
    height = max(220, 28 * data.height)
    running = bool(data["to_date"].any())
    value = alt.Tooltip("value:Q", format=_fmt(unit), title=title)
    tooltip = [alt.Tooltip(f"{segment}:N"), *([alt.Tooltip("when:N", title="Period")] if running else []), value]
    # a segment resting on too few records is drawn grey and said to be so: a bar is not a finding from three deals
    small = _small_note(frame) if "small_sample" in data.columns and data["small_sample"].any() else None
    if "n" in data.columns:
        kpi_ids = frame["kpi"].unique().to_list() if "kpi" in frame.columns else []
        words = K.get(str(kpi_ids[0])).sample_words if len(kpi_ids) == 1 else ""
        tooltip.append(alt.Tooltip("n:Q", format=",.0f", title=(words or "records").capitalize()))
    compared = bool(data["previous"].is_not_null().any())
    if compared:
        tooltip += [
            alt.Tooltip("same_point:N", title="Compared with"),
            alt.Tooltip("previous:Q", format=_fmt(unit), title="Its value"),
        ]
    x = alt.X("value:Q", title=None, axis=alt.Axis(format=_fmt(unit, axis=True), tickMinStep=_min_step(unit)))
    y = alt.Y(
        f"{segment}:N",
        # largest first in every layer (a tick's own x is the value before); layers share a sort by max, min or
        # count only (one row per segment: max is the value)
        sort=alt.EncodingSortField("value", op="max", order="descending"),
        title=None,
        # on a slide's fixed height, many segments thin their labels out instead of printing over each other
        axis=alt.Axis(labelOverlap="greedy"),
    )
    bars = (
        alt.Chart()
        .mark_bar(color=PALETTE[0], opacity=TO_DATE_OPACITY if running else 1.0)
        .encode(x=x, y=y, tooltip=tooltip)
    )
    if small:
        bars = bars.encode(color=alt.condition("datum.small_sample", alt.value(SMALL_INK), alt.value(PALETTE[0])))
    if selection is not None:
        full = TO_DATE_OPACITY if running else 1.0
        bars = bars.add_params(selection).encode(
            opacity=alt.condition(selection, alt.value(full), alt.value(0.35 * full))
        )
    layers: list[alt.Chart] = [bars]
    if compared:  # the same segment's value at the same point of the period before, on the bar's row
        layers.append(
            alt.Chart()
            .transform_filter("datum.previous != null")
            .mark_tick(color="#222", thickness=2, size=18)
            .encode(x=alt.X("previous:Q"), y=y, tooltip=tooltip)
        )
    note = _to_date_note(data, "hbars") + ([small] if small else [])
    chart = alt.layer(*layers, data=data, title=_titled(title, note)).properties(
        height=height + _room(note, period_axis=False)
    )
    return _themed(chart, currency=currency)


def _marked(
    frame: pl.DataFrame,
    columns: list[str],
    *,
    as_of: date | None,
    fy: int,
    growing: bool | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """``columns`` of the frame with the running period marked by the one rule (``kpi_core.to_date.mark``: ``shown``
    on the axis, ``when`` in tooltips, ``to_date``, ``apart``, ``same_point``), ``previous`` kept only where it is
    the comparison drawn beside a total to date, ``dash`` on the rows the dashed end of a line joins; and the
    periods' axis order."""
    extra = [c for c in ("kpi", "period_to_date", "previous") if c in frame.columns and c not in columns]
    data = to_date.mark(frame.select(*columns, *extra), as_of=as_of, fy=fy, growing=growing)
    previous = pl.col("previous") if "previous" in data.columns else pl.lit(None, pl.Float64)
    data = data.with_columns(previous=pl.when(pl.col("apart")).then(previous).cast(pl.Float64))
    order = list(dict.fromkeys(data["shown"].to_list()))
    on_line = data.filter(pl.col("to_date") & ~pl.col("apart"))
    complete = data.filter(~pl.col("to_date"))["shown"].to_list()
    joined = complete[-1] if on_line.height and complete else None
    data = data.with_columns(
        dash=(pl.col("to_date") & ~pl.col("apart")) | (pl.col("shown") == pl.lit(joined, pl.String)).fill_null(False)
    )
    return data.drop("kpi", "period_to_date", strict=False), order


def _period_x(order: list[str], **axis: object) -> alt.X:
    """The periods' axis, in order, every period named: the running one's "to date" label must never be the one a
    crowded axis thins out (slanted labels whose boxes touch do not print over each other)."""
    return alt.X("shown:O", sort=order, title=None, axis=alt.Axis(labelAngle=-40, labelOverlap=False, **axis))


def _to_date_note(data: pl.DataFrame, kind: str) -> list[str]:
    """The subtitle saying how the running period is drawn (nothing when every period is complete); ``kind`` is
    line, heat, bars (vertical: the comparison a horizontal tick) or hbars (horizontal: a vertical tick)."""
    running = data.filter(pl.col("to_date"))
    if not running.height:
        return []
    when = str(running["when"][0])
    if not running["apart"].any():
        how = {"line": "the dashed end of the line, hollow point", "heat": "outlined cells"}
        return [f"{when}: {how.get(kind, 'lighter bars')}"]
    how = {
        "line": "○ the value so far, off the line of complete periods",
        "heat": "outlined cells with the value so far, off the colour scale",
    }
    lines = [f"{when}: {how.get(kind, 'lighter bars, the value so far')}"]
    compared = running.filter(pl.col("previous").is_not_null())
    if compared.height and kind != "heat":
        lines.append(f"{'|' if kind == 'hbars' else '—'} {compared['same_point'][0]}, for comparison")
    return lines


SMALL_INK = "#b9bec7"
"""Segments resting on too few records for a finding."""


def _small_note(frame: pl.DataFrame) -> str:
    """The subtitle naming the grey bars: "grey: fewer than 10 closed deals, too few to tell"."""
    kpi_ids = frame["kpi"].unique().to_list() if "kpi" in frame.columns else []
    if len(kpi_ids) == 1:
        kpi = K.get(str(kpi_ids[0]))
        return f"grey: fewer than {kpi.min_sample} {kpi.sample_words}, too few to tell"
    return "grey: too few records to tell"


def _titled(title: str, note: list[str]) -> str | alt.Title:
    return alt.Title(title, subtitle=note) if note else title


def _room(note: list[str], *, period_axis: bool = True) -> int:
    """Pixels a chart grows by for its to-date subtitle lines and, on a period axis, the longer slanted "to date"
    label: a chart stretched to its column fits its height, titles and labels included, so the plot keeps its own."""
    return 16 * len(note) + (30 if note and period_axis else 0)


def _trend_layers(
    data: pl.DataFrame,
    *,
    x: alt.X,
    y: alt.Y,
    tooltip: list[alt.Tooltip],
    value_format: str,
    color: alt.Color | None,
    area: bool,
    ink: str = PALETTE[0],
) -> list[alt.Chart]:
    """A trend over periods by the running-period rule: the line (or area) joins complete periods; the running
    period is a hollow point, on a dashed end of the line for a rate, off the line for a total (beside a dash at the
    period before's value at the same point)."""
    shared: dict[str, object] = {"x": x, "y": y, "tooltip": tooltip}
    if color is not None:
        shared["color"] = color
    base = alt.Chart().encode(**shared)
    fixed = {"color": ink} if color is None else {}  # one ink, or the segment's colour
    complete = base.transform_filter("!datum.to_date")
    layers = [
        complete.mark_area(line={"color": ink}, color=PALETTE[4], opacity=0.5)
        if area
        else complete.mark_line(point=alt.OverlayMarkDef(filled=True, **fixed), **fixed)
    ]
    if not data["to_date"].any():
        return layers
    running_tooltip = [*tooltip]
    if data["previous"].is_not_null().any():
        running_tooltip += [
            alt.Tooltip("same_point:N", title="Compared with"),
            alt.Tooltip("previous:Q", format=value_format, title="Its value"),
        ]
    if data["dash"].any():
        layers.append(base.transform_filter("datum.dash").mark_line(strokeDash=[4, 3], **fixed))
    layers.append(
        base.transform_filter("datum.to_date")
        .mark_point(filled=False, size=80, strokeWidth=2, opacity=1, **fixed)
        .encode(tooltip=running_tooltip)
    )
    if data["previous"].is_not_null().any():
        layers.append(
            base.transform_filter("datum.previous != null")
            .mark_tick(thickness=2, size=14, **fixed)
            .encode(y=alt.Y("previous:Q"), tooltip=running_tooltip)
        )
    return layers


def trend_lines(
    frame: pl.DataFrame,
    *,
    segment: str | None,
    unit: str,
    title: str,
    currency: str = "USD",
    zero: bool = True,
    as_of: date | None = None,
    fy: int = 1,
) -> alt.Chart:
    """One line per segment over periods (the periods in the frame's order); ``zero=False`` lets the value axis
    start near the lowest value, where the differences between the lines are the point.

    The period still running (the frame's ``period_to_date``; with ``as_of``, its days gone in the tooltip) is
    drawn by ``kpi_core.to_date``'s rule: a hollow point labelled "to date", on a dashed end of the line for a rate,
    off the line for a total, beside a dash at the period before's value at the same point (``previous``)."""
    columns = ["period", "value"] + ([segment] if segment else [])
    data, order = _marked(
        frame.with_columns(pl.col(segment).cast(pl.String)) if segment else frame, columns, as_of=as_of, fy=fy
    )
    tooltip = (
        [alt.Tooltip("when:N", title="Period")]
        + ([alt.Tooltip(f"{segment}:N")] if segment else [])
        + [alt.Tooltip("value:Q", format=_fmt(unit), title=title)]
    )
    layers = _trend_layers(
        data,
        x=_period_x(order),
        y=alt.Y(
            "value:Q",
            title=None,
            axis=alt.Axis(format=_fmt(unit, axis=True), tickMinStep=_min_step(unit)),
            scale=alt.Scale(zero=zero, nice=True),
        ),
        tooltip=tooltip,
        value_format=_fmt(unit),
        color=alt.Color(f"{segment}:N", title=None) if segment else None,
        area=False,
    )
    note = _to_date_note(data, "line")
    chart = alt.layer(*layers, data=data, title=_titled(title, note)).properties(height=220 + _room(note))
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


def _heat(
    data: pl.DataFrame,
    order: list[str],
    *,
    row: str,
    row_title: str | None,
    value: alt.Tooltip,
    legend: alt.Legend,
    legend_title: str | None,
    text_format: str,
    title: str,
    height: int,
    label_overlap: bool = True,
) -> alt.LayerChart:
    """Row x period cells coloured by value, with the running period by the rule: its column labelled to date and
    outlined; a total to date shows its value as text on a plain cell and stays off the colour scale (a part of a
    period coloured as a whole one reads as a collapse)."""
    base = alt.Chart().encode(
        x=_period_x(order),
        y=alt.Y(f"{row}:N", title=None, axis=alt.Axis(labelOverlap=label_overlap)),
        tooltip=[
            alt.Tooltip(f"{row}:N", title=row_title or alt.Undefined),
            alt.Tooltip("when:N", title="Period"),
            value,
        ],
    )
    colour = alt.Color("value:Q", title=legend_title, scale=alt.Scale(scheme="blues"), legend=legend)
    layers = [base.transform_filter("!datum.apart").mark_rect().encode(color=colour)]
    if data["to_date"].any():
        outline = {"stroke": OUTLINE, "strokeDash": [3, 2], "strokeWidth": 1.5}
        if data["apart"].any():
            layers.append(base.transform_filter("datum.apart").mark_rect(fill=EMPTY_CELL, **outline))
            layers.append(
                base.transform_filter("datum.apart")
                .mark_text(color="#222", fontSize=10)
                .encode(text=alt.Text("value:Q", format=text_format))
            )
        if (data["to_date"] & ~data["apart"]).any():
            layers.append(
                base.transform_filter("datum.to_date && !datum.apart").mark_rect(fill=None, **outline)  # type: ignore[arg-type]
            )
    note = _to_date_note(data, "heat")
    return alt.layer(*layers, data=data, title=_titled(title, note)).properties(height=height + _room(note))


def heatmap(
    frame: pl.DataFrame,
    *,
    segment: str,
    unit: str,
    title: str,
    currency: str = "USD",
    as_of: date | None = None,
    fy: int = 1,
) -> alt.Chart:
    """Segment x period cells coloured by value, with the value in the tooltip; the period still running is
    outlined and labelled to date, and a total to date is written in its cell instead of coloured (see
    ``_heat``)."""
    data, order = _marked(
        frame.with_columns(pl.col(segment).cast(pl.String)), [segment, "period", "value"], as_of=as_of, fy=fy
    )
    chart = _heat(
        data,
        order,
        row=segment,
        row_title=None,
        value=alt.Tooltip("value:Q", format=_fmt(unit), title=title),
        legend=alt.Legend(format=_fmt(unit, axis=True)),
        legend_title=None,
        text_format=_fmt(unit, axis=True),
        title=title,
        height=max(220, 28 * data[segment].n_unique()),
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


def stacked_activity(frame: pl.DataFrame, *, title: str, as_of: date | None = None, fy: int = 1) -> alt.Chart:
    """Activities per period stacked by type (columns period, type, value; with the engine's ``kpi``,
    ``period_to_date`` and ``previous``, the running week by the rule: lighter bars labelled to date, beside a tick
    at the week before's total at the same point)."""
    data, order = _marked(frame, ["period", "type", "value"], as_of=as_of, fy=fy, growing=True)
    x = _period_x(order)
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("value:Q", title=None, stack="zero", axis=alt.Axis(format=",.0f")),
            color=alt.Color("type:N", title=None, sort=["Calls", "Emails", "Meetings booked"]),
            opacity=alt.condition("datum.to_date", alt.value(TO_DATE_OPACITY), alt.value(1.0)),
            tooltip=[
                alt.Tooltip("when:N", title="Period"),
                alt.Tooltip("type:N"),
                alt.Tooltip("value:Q", format=",.0f", title="Activities"),
            ],
        )
    )
    layers: list[alt.Chart] = [bars]
    before = data.filter(pl.col("previous").is_not_null())
    if before.height:  # every type added up: the week before over the same days
        totals = before.group_by("shown", "same_point").agg(pl.col("previous").sum())
        layers.append(
            alt.Chart(totals)
            .mark_tick(color="#222", thickness=2, size=26)
            .encode(
                x=x,
                y=alt.Y("previous:Q"),
                tooltip=[
                    alt.Tooltip("same_point:N", title="Compared with"),
                    alt.Tooltip("previous:Q", format=",.0f", title="Activities"),
                ],
            )
        )
    note = _to_date_note(data, "bars")
    chart = alt.layer(*layers, title=_titled(title, note)).properties(height=260 + _room(note))
    return _themed(chart)


def rep_week_heatmap(frame: pl.DataFrame, *, title: str, as_of: date | None = None, fy: int = 1) -> alt.Chart:
    """Activities per rep per week (columns owner, period, value); the running week outlined and labelled to date,
    its counts so far written in their cells, off the colour scale (see ``_heat``)."""
    data, order = _marked(
        frame.with_columns(pl.col("owner").cast(pl.String)),
        ["owner", "period", "value"],
        as_of=as_of,
        fy=fy,
        growing=True,
    )
    chart = _heat(
        data,
        order,
        row="owner",
        row_title="Rep",
        value=alt.Tooltip("value:Q", format=",.0f", title="Activities"),
        legend=alt.Legend(),
        legend_title="Activities",
        text_format=",.0f",
        title=title,
        height=max(220, 18 * data["owner"].n_unique()),
        label_overlap=False,
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


def mrr_movements(frame: pl.DataFrame, currency: str = "USD", *, as_of: date | None = None, fy: int = 1) -> alt.Chart:
    """Monthly MRR movements as diverging stacked bars, with the ending MRR as a line. The month still running
    (holding ``as_of``) is labelled to date: its movements so far as lighter bars, its MRR as of the as-of date a
    hollow point on a dashed end of the line."""
    data, order = _marked(frame, ["period", "movement", "mrr"], as_of=as_of, fy=fy)
    moves = data.filter(pl.col("movement").is_in(["new", "expansion", "contraction", "churn"]))
    ends = data.filter(pl.col("movement") == "end")
    names = ["new", "expansion", "contraction", "churn"]
    x = _period_x(order)
    bars = (
        alt.Chart(moves)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("mrr:Q", title="MRR change", axis=alt.Axis(format="$,.2s")),
            color=alt.Color(
                "movement:N",
                sort=names,
                scale=alt.Scale(domain=names, range=[PALETTE[0], PALETTE[4], PALETTE[1], PALETTE[5]]),
                title=None,
            ),
            opacity=alt.condition("datum.to_date", alt.value(TO_DATE_OPACITY), alt.value(1.0)),
            tooltip=[
                alt.Tooltip("when:N", title="Period"),
                alt.Tooltip("movement:N"),
                alt.Tooltip("mrr:Q", format="$,.0f", title="MRR"),
            ],
        )
    )
    line = _trend_layers(
        ends,
        x=alt.X("shown:O", sort=order),
        y=alt.Y("mrr:Q", title="Ending MRR", axis=alt.Axis(format="$,.2s")),
        tooltip=[alt.Tooltip("when:N", title="Period"), alt.Tooltip("mrr:Q", format="$,.0f", title="Ending MRR")],
        value_format="$,.0f",
        color=None,
        area=False,
        ink="#333",
    )
    note = (
        []
        if not data["to_date"].any()
        else [f"{data.filter(pl.col('to_date'))['when'][0]}: lighter bars, hollow point"]
    )
    return _themed(
        alt.layer(bars, alt.layer(*line, data=ends))
        .resolve_scale(y="independent")
        .properties(height=280 + _room(note), title=_titled("MRR: new, expansion, contraction and churn", note)),
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
    frame: pl.DataFrame,
    *,
    segment: str,
    unit: str,
    title: str,
    columns: int = 4,
    currency: str = "USD",
    as_of: date | None = None,
    fy: int = 1,
) -> alt.FacetChart:
    """One small trend chart per segment, sharing the y scale, so shapes compare at a glance; the period still
    running is drawn as in ``trend_lines`` (the area covers complete periods)."""
    data, order = _marked(
        frame.with_columns(pl.col(segment).cast(pl.String)).drop_nulls("value"),
        [segment, "period", "value"],
        as_of=as_of,
        fy=fy,
    )
    layers = _trend_layers(
        data,
        x=_period_x(order, labelFontSize=10),
        y=alt.Y(
            "value:Q",
            title=None,
            axis=alt.Axis(format=_fmt(unit, axis=True), tickCount=3, tickMinStep=_min_step(unit)),
        ),
        tooltip=[
            alt.Tooltip(f"{segment}:N"),
            alt.Tooltip("when:N", title="Period"),
            alt.Tooltip("value:Q", format=_fmt(unit), title=title),
        ],
        value_format=_fmt(unit),
        color=None,
        area=True,
    )
    chart = (
        alt.layer(*layers, data=data)
        .properties(width=170, height=150)
        .facet(facet=alt.Facet(f"{segment}:N", title=None, header=alt.Header(labelFontSize=12)), columns=columns)
    )
    return _themed(chart.properties(title=_titled(title, _to_date_note(data, "line"))), currency=currency)  # type: ignore[return-value]


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
