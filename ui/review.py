"""The weekly review: run a notebook's cells on the newest snapshot, and build the meeting pack from them.

Cells turn into ``CellResult`` values (numbers, a chart, a table, text) that the review page draws and the
PPTX pack lays out, so the screen and the deck always show the same thing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

import altair as alt
import polars as pl

import kpi_core as K
from kpi_core import breakdowns
from kpi_core import periods as P
from kpi_core.changes import push_counts, what_changed
from kpi_core.formatting import format_delta, format_value
from kpi_core.notebook import Cell
from ui import charts


@dataclass(frozen=True)
class ReviewData:
    """The newest snapshot (and the one before it, for what changed)."""

    latest: K.Dataset
    latest_label: str
    previous: K.Dataset | None = None
    previous_label: str | None = None
    history: tuple[K.Dataset, ...] = ()
    """Every snapshot up to the newest, oldest first (for forecast accuracy)."""

    @property
    def quality_note(self) -> str:
        quality = self.latest.quality
        warnings = (
            int(quality.filter(pl.col("severity") == "warning")["rows"].sum())
            if quality is not None and quality.height
            else 0
        )
        return f"Data as of {self.latest.as_of:%d %b %Y} ({self.latest_label})" + (
            f"; data quality: {warnings:,} row(s) flagged" if warnings else "; no data-quality warnings"
        )


@dataclass(frozen=True)
class CellResult:
    title: str
    kind: str
    metrics: list[tuple[str, str, str]] = field(default_factory=list)
    chart: alt.Chart | None = None
    table: pl.DataFrame | None = None
    text: str = ""
    note: str = ""
    details: pl.DataFrame | None = None
    """Every row behind the cell (e.g. each deal behind each bar of the waterfall)."""


def _period(cell: Cell, dataset: K.Dataset) -> P.Period:
    fy = dataset.settings.fiscal_year_start
    grain = cell.grain if cell.grain in P.GRAINS else "quarter"
    return P.parse(cell.period, fy) if cell.period else P.make(dataset.as_of, grain, fy)  # type: ignore[arg-type]


def run_cell(cell: Cell, data: ReviewData) -> CellResult:
    """A cell's content on the newest snapshot; a cell that cannot run says why instead."""
    latest = data.latest
    filters = {k: list(v) for k, v in cell.filters if k in latest.dimensions()}  # a filter this data cannot apply
    try:
        period = _period(cell, latest)
    except ValueError as exc:
        return CellResult(cell.title, cell.kind, note=str(exc))
    currency = latest.currency
    if cell.kind == "note":
        return CellResult(cell.title, cell.kind, text=cell.text)
    if cell.kind == "scorecard":
        result = K.report(latest, list(cell.kpis) or None, grain=period.grain, periods=[period], filters=filters)
        metrics = [
            (
                r["label"],
                format_value(r["value"], r["unit"], currency, compact=True),
                format_delta(r["delta"], r["unit"], currency),
            )
            for r in result.frame.filter(pl.col("stage").is_null()).iter_rows(named=True)
        ]
        missing = "; ".join(result.unavailable.values())
        return CellResult(
            cell.title,
            cell.kind,
            metrics=metrics,
            note=f"{period.label}, compared with the previous period. {missing}".strip(),
        )
    if cell.kind == "waterfall":
        if data.previous is None:
            return CellResult(
                cell.title,
                cell.kind,
                note="What changed needs two snapshots: save this week's export next to last week's.",
            )
        moved = what_changed(data.previous.table("deals"), latest.table("deals"), period, latest.stage_order)
        metrics = [
            ("Start", format_value(moved.waterfall["start"], "currency", currency, compact=True), ""),
            (
                "End",
                format_value(moved.waterfall["end"], "currency", currency, compact=True),
                format_delta(moved.waterfall["end"] - moved.waterfall["start"], "currency", currency),
            ),
        ]
        table = (
            moved.deals.filter(pl.col("category") != "unchanged")
            .sort("effect", descending=True)
            .head(15)
            .select(
                pl.col("category").str.replace("_", " ").alias("What happened"),
                pl.col("deal_name").alias("Deal"),
                pl.col("owner").alias("Owner"),
                pl.col("amount_before").alias("Before"),
                pl.col("amount_after").alias("Now"),
            )
        )
        return CellResult(
            cell.title,
            cell.kind,
            metrics=metrics,
            chart=charts.waterfall(moved.waterfall),
            table=table,
            note=f"{data.previous_label} to {data.latest_label}, open pipeline closing in {period.label}",
            details=moved.deals.filter(pl.col("category") != "unchanged").join(
                push_counts([d.table("deals") for d in (data.history or (data.previous, latest))]),
                on="deal_id",
                how="left",
            ),
        )
    if cell.kind == "funnel":
        funnel = breakdowns.funnel(latest, period, filters)
        if not funnel.height or not funnel["reached"][0]:
            return CellResult(cell.title, cell.kind, note=f"No deals were created in {period.label}.")
        return CellResult(cell.title, cell.kind, chart=charts.funnel(funnel), note=f"Deals created in {period.label}")
    if cell.kind == "stalled":
        missing = K.availability(latest, ["stalled_deals"])
        if missing:
            return CellResult(cell.title, cell.kind, note=missing["stalled_deals"])
        rows = K.rows_behind(latest, "stalled_deals", period).included
        columns = [c for c in ("deal_name", "owner", "stage", "amount", "close_date") if c in rows.columns]
        names = {
            "deal_name": "Deal",
            "owner": "Owner",
            "stage": "Stage",
            "amount": "Amount",
            "close_date": "Close date",
        }
        table = (
            rows.sort("amount", descending=True, nulls_last=True).select(columns).head(15).rename(names, strict=False)
        )
        return CellResult(
            cell.title,
            cell.kind,
            metrics=[("Stalled deals", f"{rows.height:,}", "")],
            table=table,
            note=f"Open deals closing in {period.label}, largest first",
        )
    if cell.kind == "forecast":
        return _forecast_cell(cell, data)
    # segment_chart
    kpi_id = (cell.kpis or ("won_revenue",))[0]
    dims = latest.dimensions()
    wanted = cell.dimension or "region"
    dim = wanted if wanted in dims else next((d for d in ("owner", "region", "product", "team") if d in dims), None)
    if dim is None:
        return CellResult(
            cell.title, cell.kind, note=f"This data has no {wanted} (or any other dimension) to split by."
        )
    result = K.report(latest, [kpi_id], grain=period.grain, periods=[period], by=[dim], filters=filters)
    if kpi_id in result.unavailable:
        return CellResult(cell.title, cell.kind, note=result.unavailable[kpi_id])
    frame = result.frame.filter(pl.col(dim).is_not_null())
    kpi = K.get(kpi_id)
    return CellResult(
        cell.title,
        cell.kind,
        chart=charts.ranked_bars(frame, segment=dim, unit=kpi.unit, title=f"{kpi.label}, {period.label}"),
        table=frame.select(pl.col(dim).cast(pl.String), pl.col("value").alias(kpi.label)),
        note="" if dim == wanted else f"By {dim}: this data has no {wanted}.",
    )


def _forecast_cell(cell: Cell, data: ReviewData) -> CellResult:
    from kpi_core.forecast import forecast_accuracy

    grain = cell.grain if cell.grain in ("week", "month", "quarter", "year") else "month"
    by = [cell.dimension] if cell.dimension else []
    frame = forecast_accuracy(list(data.history), grain=grain, by=by)  # type: ignore[arg-type]
    if frame.height == 0:
        return CellResult(
            cell.title,
            cell.kind,
            note="Forecast accuracy needs snapshots from the start of a closed period: keep saving the weekly exports.",
        )
    overall = forecast_accuracy(list(data.history), grain=grain) if by else frame  # type: ignore[arg-type]
    last = overall.row(-1, named=True)
    metrics = [
        (f"Accuracy, {last['period']}", format_value(last["accuracy"], "percent"), ""),
        ("Forecast at the start", format_value(last["forecast"], "currency", compact=True), ""),
        ("Won", format_value(last["actual"], "currency", compact=True), ""),
    ]
    # how the forecast for the last closed period moved, week by week, against what was won
    weekly = forecast_accuracy(list(data.history), grain=grain, weekly=True)  # type: ignore[arg-type]
    points = weekly.filter(pl.col("period") == last["period"]).select(
        pl.col("snapshot").cast(pl.String).alias("period"), "forecast", "actual"
    )
    trend = pl.concat(
        [
            points.select("period", pl.col("forecast").alias("value"), series=pl.lit("forecast that week")),
            points.select("period", pl.col("actual").alias("value"), series=pl.lit("won in the end")),
        ]
    )
    chart = charts.trend_lines(
        trend, segment="series", unit="currency", title=f"Forecast for {last['period']}, week by week"
    )
    table = frame.select(
        "period", *by, pl.col("snapshot").cast(pl.String).alias("forecast made"), "forecast", "actual", "accuracy"
    )
    return CellResult(
        cell.title,
        cell.kind,
        metrics=metrics,
        chart=chart,
        table=table,
        note="Forecast = won so far + weighted open pipeline closing in the period, from the snapshot at its start",
    )


def chart_image(chart: alt.Chart, fmt: str = "png") -> bytes:
    """A chart as PNG or SVG bytes (rendered offline)."""
    import vl_convert as vlc

    if not isinstance(chart, alt.FacetChart):
        chart = chart.properties(width=760)  # on screen charts take the page's width; an image needs its own
    spec = chart.to_json()
    return vlc.vegalite_to_png(spec, scale=2) if fmt == "png" else vlc.vegalite_to_svg(spec).encode("utf-8")


def pptx(title: str, results: list[CellResult], footnote: str, as_of: date) -> bytes:
    """The meeting pack: one slide per cell with its title, numbers, chart image, native table and footnote."""
    from pptx import Presentation
    from pptx.util import Inches, Pt

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    blank = deck.slide_layouts[6]

    def text(slide, x: float, y: float, w: float, h: float, body: str, size: int, bold: bool = False) -> None:  # type: ignore[no-untyped-def]
        box = slide.shapes.add_textbox(Inches(x), Inches(y), Inches(w), Inches(h)).text_frame
        box.word_wrap = True
        box.text = body
        for paragraph in box.paragraphs:
            for run in paragraph.runs:
                run.font.size, run.font.bold = Pt(size), bold

    cover = deck.slides.add_slide(blank)
    text(cover, 0.8, 2.6, 11.5, 1.2, title, 40, bold=True)
    text(cover, 0.8, 3.8, 11.5, 0.8, f"As of {as_of:%d %B %Y}", 20)
    for result in results:
        slide = deck.slides.add_slide(blank)
        text(slide, 0.5, 0.3, 12.3, 0.8, result.title, 30, bold=True)
        top = 1.2
        if result.metrics:
            width = 12.3 / max(len(result.metrics), 1)
            for i, (label, value, delta) in enumerate(result.metrics[:6]):
                text(
                    slide, 0.5 + i * width, top, width, 1.0, f"{label}\n{value}" + (f"  ({delta})" if delta else ""), 16
                )
            top += 1.2
        if result.text:
            text(slide, 0.5, top, 12.3, 3.0, result.text, 22)
        left = 0.5
        if result.chart is not None:
            picture = io.BytesIO(chart_image(result.chart))
            if result.table is not None and result.table.height:
                slide.shapes.add_picture(picture, Inches(0.5), Inches(top), width=Inches(6.4))
                left = 7.2
            else:
                slide.shapes.add_picture(picture, Inches(0.5), Inches(top), height=Inches(6.6 - top))
        if result.table is not None and result.table.height:
            table = result.table.head(12)
            shape = slide.shapes.add_table(
                table.height + 1,
                table.width,
                Inches(left),
                Inches(top),
                Inches(13.333 - left - 0.5),
                Inches(0.3 * (table.height + 1)),
            ).table
            for j, name in enumerate(table.columns):
                shape.cell(0, j).text = name.replace("_", " ")
            for i, row in enumerate(table.iter_rows(), start=1):
                for j, value in enumerate(row):
                    shape.cell(i, j).text = (
                        "" if value is None else (f"{value:,.0f}" if isinstance(value, float) else str(value))
                    )
            for row in shape.rows:
                for cell in row.cells:
                    for paragraph in cell.text_frame.paragraphs:
                        for run in paragraph.runs:
                            run.font.size = Pt(11)
        note = f"{result.note}  ·  {footnote}" if result.note else footnote
        text(slide, 0.5, 6.9, 12.3, 0.4, note, 10)
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def pdf(title: str, results: list[CellResult], footnote: str, as_of: date) -> bytes:
    """The meeting pack as a PDF: a cover, then one landscape page per cell (title, numbers, chart, table, note)."""
    from fpdf import FPDF

    def clean(value: object) -> str:  # the built-in PDF fonts cover Latin-1 only
        return str(value).encode("latin-1", "replace").decode("latin-1")

    doc = FPDF(orientation="L", unit="mm", format="A4")
    doc.set_auto_page_break(auto=False)
    doc.add_page()
    doc.set_font("Helvetica", "B", 32)
    doc.set_xy(20, 80)
    doc.cell(0, 14, clean(title))
    doc.set_font("Helvetica", "", 16)
    doc.set_xy(20, 98)
    doc.cell(0, 10, f"As of {as_of:%d %B %Y}")
    for result in results:
        doc.add_page()
        doc.set_font("Helvetica", "B", 22)
        doc.set_xy(12, 10)
        doc.cell(0, 12, clean(result.title))
        y = 26.0
        if result.metrics:
            doc.set_font("Helvetica", "", 12)
            line = "    ".join(
                f"{label}: {value}" + (f" ({delta})" if delta else "") for label, value, delta in result.metrics[:6]
            )
            doc.set_xy(12, y)
            doc.multi_cell(273, 6, clean(line))
            y = doc.get_y() + 3
        if result.text:
            doc.set_font("Helvetica", "", 16)
            doc.set_xy(12, y)
            doc.multi_cell(273, 8, clean(result.text))
            y = doc.get_y() + 3
        has_table = result.table is not None and result.table.height > 0
        if result.chart is not None:
            doc.image(
                io.BytesIO(chart_image(result.chart)),
                x=12,
                y=y,
                w=150 if has_table else 273,
                h=190 - y - 6,
                keep_aspect_ratio=True,
            )
        if has_table and result.table is not None:
            table = result.table.head(12)
            x = 170 if result.chart is not None else 12
            width = (285 - x) / max(table.width, 1)
            doc.set_font("Helvetica", "B", 8)
            doc.set_xy(x, y)
            chars = max(int(width / 1.7), 4)  # what fits in a cell at 8 pt
            for name in table.columns:
                doc.cell(width, 6, clean(name.replace("_", " "))[:chars], border=1)
            doc.set_font("Helvetica", "", 8)
            for row in table.iter_rows():
                doc.set_xy(x, doc.get_y() + 6)
                for value in row:
                    shown = "" if value is None else (f"{value:,.0f}" if isinstance(value, float) else str(value))
                    doc.cell(width, 6, clean(shown)[:chars], border=1)
        doc.set_font("Helvetica", "", 8)
        doc.set_xy(12, 198)
        doc.cell(0, 5, clean(f"{result.note}  ·  {footnote}" if result.note else footnote)[:220])
    return bytes(doc.output())
