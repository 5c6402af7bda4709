"""Presentation mode's large type: HTML for a cell's cards and table (the review page draws it with Streamlit).

The numbers are the cell's own strings (``ui.review``), so a card on the screen reads as the slide does. Values are
3.6 rem against the page's 1 rem body text; every piece of text from the data is escaped.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from ui.review import Metric, Table

TONE_COLOURS = {"good": "#00805A", "bad": "#C24A00", "neutral": "#5B6473"}
STATUS = {"on track": ("#00805A", "On track"), "at risk": ("#A86B00", "At risk"), "off track": ("#C24A00", "Off track")}

VALUE_REM = 3.6
"""A card's value, in rem (the page's body text is 1 rem): more than three times the body text."""

CSS = f"""
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stSidebarNav"],
header[data-testid="stHeader"] {{ display: none !important; }}
[data-testid="stMainBlockContainer"] {{ padding: 1.1rem 2.2rem 0.4rem 2.2rem; max-width: 100%; }}
.present-title {{ font-size: 2.5rem; font-weight: 700; line-height: 1.15; margin: 0; color: #1F2937; }}
.present-note {{ font-size: 1.05rem; color: #5B6473; margin: 0.1rem 0 0.5rem 0; }}
.present-text {{ font-size: 1.55rem; line-height: 1.35; color: #1F2937; border-left: 0.3rem solid #0072B2;
  background: #F2F5F9; padding: 0.5rem 1rem; margin: 0 0 0.7rem 0; border-radius: 0.3rem; }}
.present-body {{ font-size: 2.2rem; line-height: 1.35; color: #1F2937; margin-top: 1.5rem; }}
.present-cards {{ display: grid; gap: 0.9rem; margin-bottom: 0.6rem; }}
.present-card {{ background: #F2F5F9; border-radius: 0.6rem; padding: 0.8rem 1.1rem; min-width: 0; }}
.present-card .label {{ font-size: 1.2rem; color: #5B6473; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }}
.present-card .value {{ font-size: {VALUE_REM}rem; font-weight: 700; line-height: 1.1; color: #1F2937;
  white-space: nowrap; }}
.present-card.small .value {{ font-size: {VALUE_REM}rem; }}
.present-card .delta {{ font-size: 1.3rem; font-weight: 700; }}
.present-card .compared {{ font-size: 1rem; color: #5B6473; font-weight: 400; margin-left: 0.4rem; }}
.present-card .foot {{ display: flex; align-items: flex-end; gap: 1rem; margin-top: 0.3rem; min-height: 0; }}
.present-card .status {{ font-size: 1.05rem; font-weight: 700; white-space: nowrap; }}
table.present-table {{ font-size: 1.15rem; border-collapse: collapse; width: 100%; table-layout: fixed; }}
table.present-table th, table.present-table td {{ white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
table.present-table th {{ background: #0072B2; color: white; text-align: left; padding: 0.3rem 0.6rem; }}
table.present-table td {{ padding: 0.28rem 0.6rem; border-bottom: 1px solid #E5E7EB; }}
table.present-table .num {{ text-align: right; }}
.present-more {{ font-size: 1rem; color: #5B6473; margin-top: 0.3rem; }}
.present-foot {{ font-size: 0.95rem; color: #8A93A1; }}
.present-missing {{ font-size: 1.1rem; color: #5B6473; margin: 0 0 0.5rem 0; }}
.present-left-out {{ font-size: 1.5rem; line-height: 1.4; color: #1F2937; margin-top: 1rem; }}
</style>
"""


def escape(text: str) -> str:
    """Text from the data (names, notes) as HTML text, never markup."""
    return html.escape(text, quote=True)


SPARK_TO_DATE = "#8CC3E6"
"""The running period's end of a sparkline: the accent, lighter (not over yet)."""


def sparkline(values: Sequence[float | None], *, width: int = 160, height: int = 40, end: str = "complete") -> str:
    """An inline SVG line of the values (gaps skipped); "" with fewer than two values. ``end="to date"``
    (``kpi_core.to_date``: a rate's running period) draws the last point apart: a dashed, lighter last segment and
    a hollow ring."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    low, high = min(v for _, v in known), max(v for _, v in known)
    span = high - low
    step = (width - 8) / max(len(values) - 1, 1)
    xy = [(4 + i * step, height / 2 if span == 0 else 4 + (high - v) / span * (height - 8)) for i, v in known]
    apart = end == "to date" and values[-1] is not None
    solid = xy[:-1] if apart else xy
    shapes = []
    if len(solid) > 1:
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py in solid)
        shapes.append(f'<polyline points="{points}" fill="none" stroke="#0072B2" stroke-width="2.5"/>')
    if apart:
        (x0, y0), (x1, y1) = xy[-2], xy[-1]
        shapes.append(
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{SPARK_TO_DATE}" '
            'stroke-width="2.5" stroke-dasharray="4 3"/>'
            f'<circle cx="{x1:.1f}" cy="{y1:.1f}" r="3.2" fill="white" stroke="#0072B2" stroke-width="1.8"/>'
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"{''.join(shapes)}</svg>"
    )
    # an image, not inline SVG: st.html's sanitiser keeps <img> with a data URI
    encoded = base64.b64encode(svg.encode()).decode()
    alt = "trend, the last point to date" if apart else "trend"
    return (
        f'<img class="spark" alt="{alt}" width="{width}" height="{height}" src="data:image/svg+xml;base64,{encoded}">'
    )


def cards(metrics: Sequence[Metric], *, columns: int | None = None, spark: bool = True) -> str:
    """The cell's numbers as large cards: label, value, delta coloured by the KPI's good direction, what it
    compares with, target status and sparkline."""
    if not metrics:
        return ""
    n = len(metrics)
    cols = columns or (n if n <= 4 else 3 if n in (5, 6, 9) else 4)
    track = "minmax(0, 1fr)" if spark else "minmax(0, 24rem)"  # a few numbers above a chart: compact cards
    out = [f'<div class="present-cards" style="grid-template-columns: repeat({cols}, {track});">']
    for metric in metrics:
        parts = [f'<div class="present-card"><div class="label">{escape(metric.label)}</div>']
        parts.append(f'<div class="value">{escape(metric.value)}</div>')
        delta = (
            f'<span class="delta" style="color: {TONE_COLOURS.get(metric.tone, "#5B6473")}">{escape(metric.delta)}</span>'
            if metric.delta
            else ""
        )
        compared = f'<span class="compared">{escape(metric.compared)}</span>' if metric.compared else ""
        parts.append(f"<div>{delta}{compared}&nbsp;</div>")
        foot = []
        if metric.status in STATUS:
            colour, words = STATUS[metric.status]
            foot.append(f'<span class="status" style="color: {colour}">● {words}</span>')
        if spark:
            foot.append(sparkline(metric.spark, end=metric.spark_end))
        if any(foot):
            parts.append(f'<div class="foot">{"".join(foot)}</div>')
        parts.append("</div>")
        out.append("".join(parts))
    out.append("</div>")
    return "".join(out)


def table(data: Table, rows: int) -> str:
    """The first ``rows`` rows of a table in large type, then "and N more"."""
    cells = data.cells()
    numeric = [data.unit(c) != "text" for c in data.columns]
    # numbers, dates and short texts get the width they need; long texts (deal names) share the rest and are
    # shortened with an ellipsis, so nothing runs off the screen and no number is cut
    widths = []
    for j, name in enumerate(data.columns):
        longest = max([len(name)] + [len(row[j]) for row in cells[:rows]])
        widths.append(f"{longest * 0.52 + 1.3:.1f}em" if numeric[j] or longest <= 16 else "")
    if all(widths):
        widths[next(j for j, n in enumerate(numeric) if not n) if not all(numeric) else 0] = ""
    columns = "".join(f'<col style="width: {w}">' if w else "<col>" for w in widths)
    head = "".join(
        f'<th class="{"num" if numeric[j] else ""}">{escape(name)}</th>' for j, name in enumerate(data.columns)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"num" if numeric[j] else ""}">{escape(value)}</td>' for j, value in enumerate(row))
        + "</tr>"
        for row in cells[:rows]
    )
    more = (
        f'<div class="present-more">and {len(cells) - rows:,} more {escape(data.noun)}</div>'
        if len(cells) > rows
        else ""
    )
    return (
        f'<table class="present-table"><colgroup>{columns}</colgroup><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>{more}"
    )


def text(body: str, *, large: bool = False) -> str:
    """A cell's text (a note's content, or another cell's commentary), escaped, line breaks kept."""
    escaped = "<br>".join(escape(line) for line in body.splitlines())
    return f'<div class="{"present-body" if large else "present-text"}">{escaped}</div>'


def unavailable(kpis: Sequence[str]) -> str:
    """The KPIs a cell asked for that the data cannot give, said under its cards (as the slide says it)."""
    return f'<p class="present-missing">Not on this data: {escape("; ".join(kpis))}</p>' if kpis else ""


def left_out(lines: Sequence[str]) -> str:
    """What Present and the pack leave out, with when it comes (the title slide's lines)."""
    if not lines:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<div class="present-left-out"><b>Not in this review yet</b><ul>{items}</ul></div>'
