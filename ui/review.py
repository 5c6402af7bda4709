"""The weekly review: run a notebook's cells on the newest snapshot, and build the meeting pack from them.

Cells turn into ``CellResult`` values (numbers already formatted, a chart, a table with the unit of each column,
the cell's commentary) that the review page draws, presentation mode enlarges and the PPTX/PDF pack lays out
(``ui/deck.py``), so the screen, the presentation and the deck always show the same strings. No ``st.*`` here:
``python -m kpi_core pack`` builds the same pack without a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import NamedTuple

import altair as alt
import polars as pl

import kpi_core as K
from kpi_core import breakdowns
from kpi_core import periods as P
from kpi_core import to_date as TD
from kpi_core.changes import check_same_pipeline, push_counts, stage_history_from, what_changed
from kpi_core.formatting import (
    category_label,
    column_label,
    format_column,
    format_delta,
    format_value,
    screen_scale,
)
from kpi_core.notebook import Cell
from kpi_core.registry import target_status, why_unavailable
from kpi_core.snapshots import SnapshotStore
from ui import charts

SPARK_PERIODS = 8
"""Periods in a scorecard card's sparkline (the same as the Scorecard page's)."""
NOUNS = {"owner": "reps", "region": "regions", "product": "products", "team": "teams", "segment": "segments"}
"""What a segment table's rows are, for "and 12 more reps"."""


@dataclass(frozen=True)
class ReviewData:
    """The newest snapshot (and the one before it, for what changed)."""

    latest: K.Dataset
    latest_label: str
    previous: K.Dataset | None = None
    previous_label: str | None = None
    history: tuple[K.Dataset, ...] = ()
    """Every snapshot up to the newest, oldest first (for forecast accuracy and open-pipeline trends)."""
    company: str = ""
    """Whose pipeline it is (the title slide); empty when unknown."""
    imported_quality: pl.DataFrame | None = None
    """What the import found in the newest snapshot's files (kept with it)."""

    @property
    def quality(self) -> pl.DataFrame | None:
        """Every data-quality finding of the newest snapshot: the import's and the preparation's."""
        parts = [q for q in (self.imported_quality, self.latest.quality) if q is not None and q.height]
        return pl.concat(parts, how="diagonal_relaxed") if parts else None

    @property
    def warnings(self) -> list[str]:
        """The data-quality findings worth a reader's attention, one line each."""
        quality = self.quality
        if quality is None or not quality.height:
            return []
        serious = quality.filter(pl.col("severity") != "info")
        return [
            f"{row['table']}: {row['rule']}: {row['rows']:,} row(s); {row['effect']}"
            for row in serious.iter_rows(named=True)
        ]

    @property
    def quality_note(self) -> str:
        quality = self.quality
        warnings = (
            int(quality.filter(pl.col("severity") == "warning")["rows"].sum())
            if quality is not None and quality.height
            else 0
        )
        return f"Data as of {self.latest.as_of:%d %b %Y} ({self.latest_label})" + (
            f"; data quality: {warnings:,} row(s) flagged" if warnings else "; no data-quality warnings"
        )

    @property
    def source(self) -> str:
        """Where the numbers come from, for the title slide."""
        compared = f", compared with {self.previous_label}" if self.previous_label else ""
        kept = f" ({len(self.history)} weekly snapshots kept)" if len(self.history) > 1 else ""
        return f"{self.latest_label}{compared}{kept}"


class Metric(NamedTuple):
    """One number of a cell, formatted: what the screen's metric, the presentation's card and the slide's card show."""

    label: str
    value: str
    delta: str = ""
    tone: str = "neutral"
    """The delta's colour by the KPI's good direction: good, bad or neutral."""
    compared: str = ""
    """What the delta compares with ("vs 2026-Q3"), or why there is none."""
    status: str | None = None
    """On track / at risk / off track, for KPIs measured against a target."""
    spark: tuple[float | None, ...] = ()
    direction: str = "up"
    spark_end: str = "complete"
    """How the sparkline ends (``kpi_core.to_date.SparkEnd``): complete periods; its last point to date (drawn
    apart); or the running period left out (a total while its period runs)."""


@dataclass(frozen=True)
class Table:
    """A table with human column labels, the unit of each column (``kpi_core.formatting.TABLE_UNITS``) and the
    currency of its money columns. ``noun`` names a row ("deals") for "and 12 more deals"."""

    frame: pl.DataFrame
    units: Mapping[str, str] = field(default_factory=dict)
    currency: str = "USD"
    noun: str = "rows"

    @property
    def height(self) -> int:
        return self.frame.height

    @property
    def columns(self) -> list[str]:
        return self.frame.columns

    def unit(self, column: str) -> str:
        return self.units.get(column, "text")

    def screen(self) -> pl.DataFrame:
        """The frame a screen table shows with its column formats (``kpi_core.formatting.screen_format``):
        percent columns as percent."""
        return self.frame.with_columns(
            pl.col(c) * screen_scale(u)
            for c, u in self.units.items()
            if c in self.frame.columns and screen_scale(u) != 1
        )

    def cells(self) -> list[list[str]]:
        """Every row as text, each column formatted by its unit (the slides' and presentation's tables)."""
        columns = [format_column(self.frame[c].to_list(), self.unit(c), self.currency) for c in self.columns]
        return [list(row) for row in zip(*columns, strict=True)] if columns else []


@dataclass(frozen=True)
class CellResult:
    title: str
    kind: str
    metrics: list[Metric] = field(default_factory=list)
    chart: alt.Chart | None = None
    table: Table | None = None
    text: str = ""
    """The cell's own text: a note's content, any other cell's commentary."""
    note: str = ""
    """What the cell shows (period, comparison), or why it cannot show it."""
    details: Table | None = None
    """Every row behind the cell (e.g. each deal behind each bar of the waterfall)."""
    definitions: tuple[str, ...] = ()
    """What the cell's numbers mean and how they are computed (the slide's speaker notes)."""
    caveats: tuple[str, ...] = ()
    """What the cell could not show, and why."""
    cell_id: str = ""

    @property
    def empty(self) -> bool:
        """Nothing to show but the note (a cell that cannot run says why there)."""
        return not self.metrics and self.chart is None and self.table is None and self.kind != "note"


def _period(cell: Cell, dataset: K.Dataset) -> P.Period:
    fy = dataset.settings.fiscal_year_start
    grain = cell.grain if cell.grain in P.GRAINS else "quarter"
    return P.parse(cell.period, fy) if cell.period else P.make(dataset.as_of, grain, fy)  # type: ignore[arg-type]


def definition(kpi_id: str) -> str:
    kpi = K.get(kpi_id)
    return f"{kpi.label}: {kpi.meaning} Formula: {kpi.formula}."


def tone(delta: float | None, direction: str) -> str:
    """Good, bad or neutral: a rise is good for a KPI where higher is better, bad where lower is better.

    >>> tone(0.05, "up"), tone(0.05, "down"), tone(-3.0, "down"), tone(None, "up"), tone(1.0, "neutral")
    ('good', 'bad', 'good', 'neutral', 'neutral')
    """
    if delta is None or delta == 0 or direction not in ("up", "down"):
        return "neutral"
    return "good" if (delta > 0) == (direction == "up") else "bad"


def run_cell(cell: Cell, data: ReviewData) -> CellResult:
    """A cell's content on the newest snapshot, with its text as commentary; a cell that cannot run says why."""
    return replace(_run(cell, data), text=cell.text, cell_id=cell.id)


def _run(cell: Cell, data: ReviewData) -> CellResult:
    latest = data.latest
    try:
        period = _period(cell, latest)
    except ValueError as exc:
        return CellResult(cell.title, cell.kind, note=str(exc))
    if cell.kind == "note":
        return CellResult(cell.title, cell.kind)
    if cell.kind == "scorecard":
        return _scorecard_cell(cell, data, period)
    if cell.kind == "waterfall":
        return _waterfall_cell(cell, data, period)
    if cell.kind == "funnel":
        funnel = breakdowns.funnel(latest, period, _filters(cell, latest))
        if not funnel.height or not funnel["reached"][0]:
            return CellResult(cell.title, cell.kind, note=f"No deals were created in {period.label}.")
        return CellResult(
            cell.title,
            cell.kind,
            chart=charts.funnel(funnel),
            note=f"Deals created in {period.label}",
            definitions=(
                "Each bar: deals created in the period that reached the stage; the label gives how many and their "
                "share of all deals created.",
                definition("stage_conversion"),
            ),
        )
    if cell.kind == "stalled":
        return _stalled_cell(cell, data, period)
    if cell.kind == "forecast":
        return _forecast_cell(cell, data)
    return _segment_cell(cell, data, period)


def _filters(cell: Cell, dataset: K.Dataset) -> dict[str, list[str]]:
    """The cell's filters this data can apply."""
    return {k: list(v) for k, v in cell.filters if k in dataset.dimensions()}


def _scorecard_cell(cell: Cell, data: ReviewData, period: P.Period) -> CellResult:
    latest = data.latest
    fy = latest.settings.fiscal_year_start
    filters = _filters(cell, latest)
    wanted = [K.get(k).id for k in cell.kpis if k in K.BY_ID] or None
    trailing = [period] if period.grain == "all" else [P.shift(period, -i, fy) for i in reversed(range(SPARK_PERIODS))]
    result = K.report(latest, wanted, grain=period.grain, periods=trailing, filters=filters)
    frame = result.frame.filter(pl.col("stage").is_null())
    if "currency" in frame.columns:  # deals in several currencies: one card per KPI, the first currency's
        frame = frame.sort(pl.col("currency").is_not_null()).unique(
            ["kpi", "period"], keep="first", maintain_order=True
        )
    current = {r["kpi"]: r for r in frame.filter(pl.col("period") == period.label).iter_rows(named=True)}
    order = list(wanted) if wanted else list(current)
    compared = None if period.grain == "all" else P.shift(period, -1, fy)
    as_of_trend = _as_of_trend(data, [k for k in order if k in current], period, compared, trailing[:-1], filters)
    elapsed = ((latest.as_of - period.start).days + 1) / period.days if period.contains(latest.as_of) else 1.0
    history_start = min((d.as_of for d in data.history), default=latest.as_of)
    metrics = []
    left_out = False  # a total's sparkline ends with the last complete period: the note says so
    for kpi_id in order:
        if kpi_id not in current:
            continue
        row, kpi = current[kpi_id], K.get(kpi_id)
        currency = str(row.get("currency") or latest.currency)
        value = row["value"]
        spark_end = "complete"
        if kpi_id in as_of_trend:  # open pipeline: compared across snapshots, never across periods of one export
            before, earlier = as_of_trend[kpi_id]
            delta = value - before if value is not None and before is not None else None
            spark = tuple([*earlier, value]) if any(v is not None for v in earlier) else ()
            missing = f"no comparison yet (history since {history_start.day} {history_start:%b})"
        else:
            delta = row["delta"]
            series = frame.filter(pl.col("kpi") == kpi_id)["value"].to_list()
            drawn = TD.spark(series, kpi_id=kpi_id, to_date=bool(row.get("period_to_date")))
            spark, spark_end = (
                (drawn.values, drawn.end) if sum(v is not None for v in drawn.values) > 1 else ((), "complete")
            )
            left_out |= spark_end == "left out"
            missing = "no comparison for the period before"
        metrics.append(
            Metric(
                kpi.label,
                format_value(value, kpi.unit, currency, compact=True),
                format_delta(delta, kpi.unit, currency),
                tone(delta, kpi.direction),
                (f"vs {compared.label}" if compared else "") if delta is not None else missing,
                target_status(kpi_id, value, elapsed),
                spark,
                kpi.direction,
                spark_end,
            )
        )
    caveats = tuple(why_unavailable(k, reason) for k, reason in result.unavailable.items())
    to_date = " (to date)" if period.contains(latest.as_of) and compared else ""
    note = f"{period.label}{to_date}" + (f", compared with {compared.label} at the same point" if compared else "")
    if left_out:
        note += f"; sparklines of totals: complete {TD.GRAIN_PLURALS.get(period.grain, 'periods')}"
    return CellResult(
        cell.title,
        cell.kind,
        metrics=metrics,
        note=note,
        definitions=tuple(definition(k) for k in order if k in current),
        caveats=caveats,
    )


def _as_of_trend(
    data: ReviewData,
    kpis: list[str],
    period: P.Period,
    compared: P.Period | None,
    earlier: list[P.Period],
    filters: dict[str, list[str]],
) -> dict[str, tuple[float | None, list[float | None]]]:
    """Open-pipeline KPIs from the kept snapshots, as the Scorecard page takes them: the value at the same point
    of the compared period, and of each earlier period of the sparkline (``kpi_core.history``)."""
    from kpi_core import history
    from kpi_core.engine import POINT_IN_TIME

    wanted = [k for k in kpis if k in POINT_IN_TIME]
    if not wanted:
        return {}
    if not data.history or period.grain == "all":
        return {k: (None, []) for k in wanted}
    kept = [(d.as_of, str(i)) for i, d in enumerate(data.history) if d.as_of <= data.latest.as_of]
    labels = list(dict.fromkeys([p.label for p in earlier] + ([compared.label] if compared else [])))
    fy = data.latest.settings.fiscal_year_start
    series = history.point_in_time(
        lambda key: data.history[int(key)],
        kept,
        wanted,
        grain=period.grain,
        periods=[*(P.parse(label, fy) for label in labels), period],
        as_of=data.latest.as_of,
        filters=filters,
    )
    out: dict[str, tuple[float | None, list[float | None]]] = {}
    for kpi in wanted:
        rows = series.filter(pl.col("kpi") == kpi)
        by_period = dict(zip(rows["period"].to_list(), rows["value"].to_list(), strict=True))
        out[kpi] = (by_period.get(compared.label) if compared else None, [by_period.get(p.label) for p in earlier])
    return out


WATERFALL_DEFINITION = (
    "What changed: every open deal closing in the period, in either snapshot, falls in one category (removed, won, "
    "lost, pushed out, reopened, new, pulled in, increased, decreased); start + what came in - what went out = end, "
    "to the cent. A deal's amount is what it moved: its earlier amount when it went out, its later one when it came "
    "in, the difference when it grew or shrank (the amounts of a category add up to its bar)."
)


def _waterfall_cell(cell: Cell, data: ReviewData, period: P.Period) -> CellResult:
    latest = data.latest
    if data.previous is None:
        return CellResult(
            cell.title,
            cell.kind,
            note="What changed needs two snapshots: save this week's export next to last week's.",
        )
    currency = latest.currency
    moved = what_changed(data.previous.table("deals"), latest.table("deals"), period, latest.stage_order)
    change = moved.waterfall["end"] - moved.waterfall["start"]
    metrics = [
        Metric("Start", format_value(moved.waterfall["start"], "currency", currency, compact=True)),
        Metric(
            "End",
            format_value(moved.waterfall["end"], "currency", currency, compact=True),
            format_delta(change, "currency", currency),
            tone(change, "up"),
            "vs start",
        ),
    ]
    changed = moved.deals.filter(pl.col("category") != "unchanged").sort("effect", descending=True)
    table = Table(
        changed.select(
            pl.col("category").map_elements(category_label, return_dtype=pl.String).alias("What happened"),
            pl.col("deal_name").alias("Deal"),
            pl.col("owner").cast(pl.String).alias("Owner"),
            pl.col("effect").alias("Amount"),
        ),
        {"Amount": "currency"},
        currency,
        "deals",
    )
    details = changed.join(
        push_counts([d.table("deals") for d in (data.history or (data.previous, latest))]), on="deal_id", how="left"
    )
    units = {
        "amount_before": "currency",
        "amount_after": "currency",
        "effect": "currency",
        "close_date_before": "date",
        "close_date_after": "date",
        "pushes": "count",
    }
    details = details.with_columns(
        pl.col("category").map_elements(category_label, return_dtype=pl.String),
        *[pl.col(c).cast(pl.String) for c in ("owner", "status_before", "status_after") if c in details.columns],
    )
    return CellResult(
        cell.title,
        cell.kind,
        metrics=metrics,
        chart=charts.waterfall(moved.waterfall, counts=moved.counts, currency=currency),
        table=table,
        note=f"{data.previous_label} to {data.latest_label}, open pipeline closing in {period.label}",
        details=Table(
            details.rename({c: column_label(c) for c in details.columns}),
            {column_label(c): u for c, u in units.items()},
            currency,
            "deals",
        ),
        definitions=(WATERFALL_DEFINITION,),
    )


def _stalled_cell(cell: Cell, data: ReviewData, period: P.Period) -> CellResult:
    latest = data.latest
    missing = K.availability(latest, ["stalled_deals"])
    if missing:
        return CellResult(cell.title, cell.kind, note=missing["stalled_deals"])
    rows = K.rows_behind(latest, "stalled_deals", period).included
    columns = [c for c in ("deal_name", "owner", "stage", "amount", "close_date") if c in rows.columns]
    frame = (
        rows.sort("amount", descending=True, nulls_last=True)
        .select(columns)
        .with_columns(pl.col(c).cast(pl.String) for c in ("owner", "stage") if c in columns)
        .rename({c: column_label(c) for c in columns})
    )
    return CellResult(
        cell.title,
        cell.kind,
        metrics=[Metric("Stalled deals", format_value(float(rows.height), "count"))],
        table=Table(frame, {"Amount": "currency", "Close date": "date"}, latest.currency, "deals"),
        note=f"Open deals closing in {period.label}, largest first",
        definitions=(definition("stalled_deals"),),
    )


def _segment_cell(cell: Cell, data: ReviewData, period: P.Period) -> CellResult:
    latest = data.latest
    kpi_id = (cell.kpis or ("won_revenue",))[0]
    dims = latest.dimensions()
    wanted = cell.dimension or "region"
    dim = wanted if wanted in dims else next((d for d in ("owner", "region", "product", "team") if d in dims), None)
    if dim is None:
        return CellResult(
            cell.title, cell.kind, note=f"This data has no {wanted} (or any other dimension) to split by."
        )
    result = K.report(latest, [kpi_id], grain=period.grain, periods=[period], by=[dim], filters=_filters(cell, latest))
    if kpi_id in result.unavailable:
        return CellResult(cell.title, cell.kind, note=result.unavailable[kpi_id])
    frame = result.frame.filter(pl.col(dim).is_not_null() & pl.col("stage").is_null())
    kpi = K.get(kpi_id)
    table = frame.select(pl.col(dim).cast(pl.String).alias(column_label(dim)), pl.col("value").alias(kpi.label)).sort(
        kpi.label, descending=True, nulls_last=True
    )
    return CellResult(
        cell.title,
        cell.kind,
        chart=charts.ranked_bars(
            frame, segment=dim, unit=kpi.unit, title=f"{kpi.label}, {period.label}", currency=latest.currency
        ),
        table=Table(table, {kpi.label: kpi.unit}, latest.currency, NOUNS.get(dim, "rows")),
        note=f"{kpi.label} by {dim}, {period.label}" + ("" if dim == wanted else f" (this data has no {wanted})"),
        definitions=(definition(kpi_id),),
    )


def _forecast_cell(cell: Cell, data: ReviewData) -> CellResult:
    from kpi_core.forecast import forecast_accuracy

    currency = data.latest.currency
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
    before = overall.row(-2, named=True)["accuracy"] if overall.height > 1 else None
    delta = last["accuracy"] - before if last["accuracy"] is not None and before is not None else None
    metrics = [
        Metric(
            f"Accuracy, {last['period']}",
            format_value(last["accuracy"], "percent"),
            format_delta(delta, "percent"),
            tone(delta, "up"),
            f"vs {overall.row(-2, named=True)['period']}" if delta is not None else "",
        ),
        Metric("Forecast at the start", format_value(last["forecast"], "currency", currency, compact=True)),
        Metric("Won", format_value(last["actual"], "currency", currency, compact=True)),
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
        trend,
        segment="series",
        unit="currency",
        title=f"Forecast for {last['period']}, week by week",
        currency=currency,
        zero=False,
    )
    table = frame.select(
        pl.col("period").alias("Period"),
        *[pl.col(d).cast(pl.String).alias(column_label(d)) for d in by],
        pl.col("snapshot").alias("Forecast made"),
        pl.col("forecast").alias("Forecast"),
        pl.col("actual").alias("Won"),
        pl.col("accuracy").alias("Accuracy"),
    )
    return CellResult(
        cell.title,
        cell.kind,
        metrics=metrics,
        chart=chart,
        table=Table(
            table,
            {"Forecast made": "date", "Forecast": "currency", "Won": "currency", "Accuracy": "percent"},
            currency,
            "periods",
        ),
        note="Forecast = won so far + weighted open pipeline closing in the period, from the snapshot at its start",
        definitions=(definition("forecast_accuracy"),),
    )


def chart_image(
    chart: alt.Chart, fmt: str = "png", *, width: int = 760, height: int | None = None, font: int | None = None
) -> bytes:
    """A chart as PNG or SVG bytes (rendered offline); with ``height``, exactly ``width`` x ``height`` pixels
    (before the PNG's 2x scale), and with ``font``, in that type size."""
    import vl_convert as vlc

    if not isinstance(chart, alt.FacetChart):
        if font is not None or height is not None:
            chart = charts.restyle(chart, font=font or 12, width=width, height=height)
        else:
            chart = chart.properties(width=width)  # on screen charts take the page's width; an image needs its own
    spec = {**chart.to_dict(), "background": "white"}  # a slide or a file has no theme to inherit
    return vlc.vegalite_to_png(spec, scale=2) if fmt == "png" else vlc.vegalite_to_svg(spec).encode("utf-8")


def pptx(title: str, results: list[CellResult], footnote: str, as_of: date, *, data: ReviewData | None = None) -> bytes:
    """The meeting pack as a 16:9 PowerPoint deck: a title slide, one slide per cell, appendix slides for the
    rows a slide had no room for; speaker notes with the commentary, definitions and data-quality notes."""
    from ui import deck

    return deck.to_pptx(deck.build(title, results, footnote, as_of, data=data, measure=deck.Measure.for_pptx()))


def pdf(title: str, results: list[CellResult], footnote: str, as_of: date, *, data: ReviewData | None = None) -> bytes:
    """The same pack as a PDF (16:9 pages, an embedded Unicode font)."""
    from ui import deck

    fonts = deck.PdfFonts.find()
    return deck.to_pdf(
        deck.build(title, results, footnote, as_of, data=data, measure=deck.Measure.for_pdf(fonts)), fonts
    )


# --- loading the snapshots a review runs on (the page caches these; the CLI calls them directly) ---


def prepare_latest(store: SnapshotStore, ids: Sequence[str]) -> K.Dataset:
    """The newest of ``ids``; when its files carry no stage history, one rebuilt from all the snapshots, so time
    in stage and stalled deals work on plain weekly reports."""
    loaded = [store.load(i) for i in ids]
    snapshot, tables = loaded[-1]
    if "stage_history" not in tables and len(loaded) > 1:
        tables = {
            **tables,
            "stage_history": stage_history_from([(s.as_of, t["deals"]) for s, t in loaded if "deals" in t]),
        }
    return K.Dataset.prepare(tables, as_of=snapshot.as_of)


def prepare_snapshot(store: SnapshotStore, snapshot_id: str) -> K.Dataset:
    snapshot, tables = store.load(snapshot_id)
    return K.Dataset.prepare(tables, as_of=snapshot.as_of)


def load_review(
    store: SnapshotStore,
    ordered: Sequence[str],
    position: int,
    *,
    prepared: Callable[[str], K.Dataset] | None = None,
    latest: Callable[[tuple[str, ...]], K.Dataset] | None = None,
    company: str = "",
    pipeline: Callable[[str], K.Dataset] | None = None,
) -> tuple[ReviewData, str | None]:
    """The review of snapshot ``ordered[position]``: it, the one before it (when it is the same pipeline) and every
    one up to it; and, when the one before is another pipeline, why it is not compared. ``prepared`` and
    ``latest`` prepare snapshots (the page passes cached ones); ``pipeline``, when given, reads the weeks before
    the previous one as their pipeline only (all the trends, forecasts and push counts read of them)."""
    prepare_one = prepared or (lambda i: prepare_snapshot(store, i))
    prepare_last = latest or (lambda ids: prepare_latest(store, ids))
    earlier = pipeline or prepare_one
    names = {s.id: s.name for s in store.list()}
    history = (
        *[earlier(i) for i in ordered[: max(position - 1, 0)]],
        *[prepare_one(i) for i in ordered[max(position - 1, 0) : position]],
        prepare_last(tuple(ordered[: position + 1])),
    )
    previous = ordered[position - 1] if position > 0 else None
    refused = None
    if previous is not None and history[-2].has("deals") and history[-1].has("deals"):
        try:
            check_same_pipeline(
                history[-2].table("deals"),
                history[-1].table("deals"),
                repr(names[previous]),
                repr(names[ordered[position]]),
            )
        except K.DataError as exc:
            previous, refused = None, str(exc)
    data = ReviewData(
        history[-1],
        names[ordered[position]],
        history[-2] if previous else None,
        names.get(previous or ""),
        history,
        company,
        store.quality(ordered[position]),
    )
    return data, refused
