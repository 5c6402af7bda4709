"""The weekly review: run a notebook's cells on the newest snapshot, and build the meeting pack from them.

Cells turn into ``CellResult`` values (numbers already formatted, a chart, a table with the unit of each column,
the cell's commentary) that the review page draws, presentation mode enlarges and the PPTX/PDF pack lays out
(``ui/deck.py``), so the screen, the presentation and the deck always show the same strings. No ``st.*`` here:
``python -m kpi_core pack`` builds the same pack without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import NamedTuple

import altair as alt
import polars as pl

import kpi_core as K
from kpi_core import breakdowns
from kpi_core import periods as P
from kpi_core import to_date as TD
from kpi_core.changes import push_counts, shared_deals, what_changed
from kpi_core.formatting import (
    category_label,
    column_label,
    format_column,
    format_delta,
    format_value,
    screen_scale,
)
from kpi_core.notebook import Cell, written
from kpi_core.registry import change_note, target_status, why_unavailable
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
    other_pipelines: tuple[str, ...] = ()
    """Kept snapshots up to the newest that are another company's or pipeline's (they share almost no deals with it):
    left out of the comparison, the trends, forecast accuracy and the count of kept weeks."""

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
        kept = f"{len(self.history)} weekly snapshots kept" if len(self.history) > 1 else ""
        others = len(self.other_pipelines)
        if others:
            names = ", ".join(self.other_pipelines[-3:]) + (", …" if others > 3 else "")
            kept += (
                f"{'; ' if kept else ''}{others} kept snapshot{'s' if others > 1 else ''} of another company or "
                f"pipeline left out: {names}"
            )
        return f"{self.latest_label}{compared}" + (f" ({kept})" if kept else "")


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


NEXT_WEEK = "Next week, with two kept snapshots"
"""When a cell that compares two kept weeks (or reads the stage history rebuilt from them) first has something."""
NOT_IN_DATA = "Not in this data"
NOTHING_YET = "Nothing to show yet"
SETTINGS = "To fix in the cell's settings"
"""A cell asking for something no data can give (a period that does not exist)."""
UNWRITTEN = "Notes with no text yet"
"""A note still empty (or holding its template's hint): left out, and not worth a line on the cover."""


class LeftOut(NamedTuple):
    """Why a cell is not on a slide or in Present, and when it will be (the cover groups cells by ``when``)."""

    why: str
    """The whole reason, as the screen and the title slide's speaker notes say it."""
    when: str
    """:data:`NEXT_WEEK`, a date ("From 31 Aug 2018, once 2018-08 has closed"), :data:`NOT_IN_DATA`,
    :data:`NOTHING_YET`, :data:`SETTINGS` or :data:`UNWRITTEN`."""
    short: str = ""
    """A few words for the cover, after the cell's title ("no region column")."""


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
    unavailable: tuple[str, ...] = ()
    """The KPIs the cell asked for that this data cannot give, each with what it needs in a few words ("Quota
    attainment (needs a targets table)"): said on the slide and in Present, under the cards that could be made."""
    cell_id: str = ""
    left_out: LeftOut | None = None
    """Set when the cell cannot be made from this data (or is a note with no text): it is left out of Present and
    the pack, and named on the title slide."""

    @property
    def empty(self) -> bool:
        """Nothing to show but the note (a cell that cannot run says why there)."""
        return not self.metrics and self.chart is None and self.table is None and self.kind != "note"

    @property
    def shown(self) -> bool:
        """Whether the cell is on a slide and a screen of Present."""
        return self.left_out is None


def shown(results: Sequence[CellResult]) -> list[CellResult]:
    """The cells Present and the pack show, in order: those that can be made from the data."""
    return [r for r in results if r.shown]


def left_out(results: Sequence[CellResult], *, notes: bool = False) -> list[str]:
    """The cells left out, grouped by when they come, each named once: the title slide's lines.

    ``notes`` adds the unwritten notes (the title slide's speaker notes name them; its face does not).

    >>> cells = [CellResult("What changed", "waterfall", left_out=LeftOut("needs two", NEXT_WEEK)),
    ...          CellResult("By region", "segment_chart", left_out=LeftOut("no region", NOT_IN_DATA, "no region column")),
    ...          CellResult("Forecast", "forecast", left_out=LeftOut("needs two", NEXT_WEEK)),
    ...          CellResult("Actions", "note", left_out=LeftOut("no text", UNWRITTEN))]
    >>> left_out(cells)
    ['Next week, with two kept snapshots: What changed, Forecast', 'Not in this data: By region (no region column)']
    """
    groups: dict[str, list[str]] = {}
    for result in results:
        missing = result.left_out
        if missing is None or (missing.when == UNWRITTEN and not notes):
            continue
        groups.setdefault(missing.when, []).append(result.title + (f" ({missing.short})" if missing.short else ""))
    last = (NOT_IN_DATA, NOTHING_YET, SETTINGS, UNWRITTEN)
    order = sorted(groups, key=lambda when: (when != NEXT_WEEK, last.index(when) if when in last else -1))
    return [f"{when}: {', '.join(groups[when])}" for when in order]


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
    """A cell's content on the newest snapshot, with its own text as commentary (a template's hint is no text).

    A cell that cannot be made from this data (it needs two kept weeks, a column the data lacks, or has nothing in
    its period), and a note with no text, is left out of Present and the pack (``left_out`` says why and when it
    comes); on screen it says why."""
    text = written(cell.text)
    result = replace(_run(cell, data), text=text, cell_id=cell.id)
    if result.left_out is not None:
        return replace(result, note=result.left_out.why)
    if cell.kind == "note" and not text:
        return replace(result, left_out=LeftOut(f"{cell.title}: no text yet.", UNWRITTEN))
    if result.empty:
        why = result.note or f"{cell.title}: nothing to show."
        return replace(result, note=why, left_out=LeftOut(why, NOTHING_YET))
    return result


def lacking(cell: Cell, dataset: K.Dataset) -> list[str]:
    """The dimensions a cell splits or filters by that the data does not have. Such a cell is left out and says
    so: a split by region never silently becomes a split by owner, nor a filter on region no filter at all.

    A segment chart splits by its dimension (region unless chosen), a forecast by its dimension when it has one."""
    split = (cell.dimension or "region") if cell.kind == "segment_chart" else cell.dimension
    wanted = [split] if split and cell.kind in ("segment_chart", "forecast") else []
    wanted += [k for k, _ in cell.filters]
    have = set(dataset.dimensions())
    return [d for d in dict.fromkeys(wanted) if d not in have]


def _lacks(cell: Cell, missing: list[str]) -> CellResult:
    words = [d.replace("_", " ") for d in missing]
    columns = " or ".join(words) + (" column" if len(words) == 1 else " columns")
    used = "filters by" if all(d in dict(cell.filters) and d != cell.dimension for d in missing) else "splits by"
    why = (
        f"This data has no {columns}: {cell.title} {used} {' and '.join(words)} and is left out (choose another "
        "dimension in Edit this cell, or keep an export that has it)."
    )
    return CellResult(cell.title, cell.kind, left_out=LeftOut(why, NOT_IN_DATA, f"no {columns}"))


def _needs(reason: str) -> str:
    """A few words of what an unavailable KPI needs, for the cover ("needs a targets table").

    >>> _needs("Quota attainment needs a targets table: upload one."), _needs("no rows")
    ('needs a targets table', '')
    """
    found = re.search(r"\bneeds? (.{3,60}?)(?: with |[:.;(]|$)", reason)
    return f"needs {found.group(1).strip()}" if found else ""


def _run(cell: Cell, data: ReviewData) -> CellResult:
    latest = data.latest
    try:
        period = _period(cell, latest)
    except ValueError as exc:
        return CellResult(cell.title, cell.kind, left_out=LeftOut(str(exc), SETTINGS))
    if cell.kind == "note":
        return CellResult(cell.title, cell.kind)
    missing = lacking(cell, latest)
    if missing:
        return _lacks(cell, missing)
    if cell.kind == "scorecard":
        return _scorecard_cell(cell, data, period)
    if cell.kind == "waterfall":
        return _waterfall_cell(cell, data, period)
    if cell.kind == "funnel":
        funnel = breakdowns.funnel(latest, period, _filters(cell, latest))
        if not funnel.height or not funnel["reached"][0]:
            why = f"No deals were created in {period.label}."
            return CellResult(
                cell.title, cell.kind, left_out=LeftOut(why, NOTHING_YET, f"no deals created in {period.label}")
            )
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
    """The cell's filters (a cell filtering by a dimension the data lacks never gets here: see :func:`lacking`)."""
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
    spark_cut = False  # a total's sparkline ends with the last complete period: the note says so
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
            spark_cut |= spark_end == "left out"
            missing = "no comparison for the period before"
        # the engine's word on the value: a change from too few records is said, never coloured good or bad; a value
        # the engine could not give says why (a target missing a month)
        too_few = change_note(kpi_id, row.get("n"), row.get("previous_n")) if kpi_id not in as_of_trend else None
        notes = [t for t in str(row.get("note") or "").split("; ") if t]
        if too_few and delta is not None:
            said = f"too few to tell: {too_few.split(': too few')[0].removeprefix('compared with ')}"
        elif value is None and notes:
            said = notes[-1]
        else:
            said = (f"vs {compared.label}" if compared else "") if delta is not None else missing
        metrics.append(
            Metric(
                kpi.label,
                format_value(value, kpi.unit, currency, compact=True),
                format_delta(delta, kpi.unit, currency),
                "neutral" if too_few else tone(delta, kpi.direction),
                said,
                target_status(kpi_id, value, elapsed),
                spark,
                kpi.direction,
                spark_end,
            )
        )
    caveats = tuple(why_unavailable(k, reason) for k, reason in result.unavailable.items())
    if not metrics:
        shorts = [n for n in dict.fromkeys(_needs(r) for r in result.unavailable.values()) if n]
        return CellResult(
            cell.title,
            cell.kind,
            caveats=caveats,
            left_out=LeftOut(
                " ".join(caveats) or f"No KPI of {cell.title} has a value in {period.label}.",
                NOT_IN_DATA if caveats else NOTHING_YET,
                "; ".join(shorts[:2]),
            ),
        )
    to_date = " (to date)" if period.contains(latest.as_of) and compared else ""
    note = f"{period.label}{to_date}" + (f", compared with {compared.label} at the same point" if compared else "")
    if spark_cut:
        note += f"; sparklines of totals: complete {TD.GRAIN_PLURALS.get(period.grain, 'periods')}"
    asked = [k for k in wanted or () if k in result.unavailable]  # every KPI (none chosen): the cards say enough
    return CellResult(
        cell.title,
        cell.kind,
        metrics=metrics,
        note=note,
        definitions=tuple(definition(k) for k in order if k in current),
        caveats=caveats,
        unavailable=tuple(
            K.get(k).label + (f" ({_needs(result.unavailable[k])})" if _needs(result.unavailable[k]) else "")
            for k in asked
        ),
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
        why = (
            "What changed needs two kept snapshots of this pipeline: keep next week's export beside this one."
            if not data.other_pipelines
            else "What changed needs two kept snapshots of this pipeline: the one kept before it is another company's "
            "or pipeline's, so they are not compared. Keep next week's export of this one beside it."
        )
        return CellResult(cell.title, cell.kind, left_out=LeftOut(why, NEXT_WEEK))
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
        # weekly reports without stage history get one rebuilt from the kept weeks once there are two of them
        rebuilt = not latest.has("stage_history") and len(data.history) < 2 and latest.has("deals")
        short = "" if rebuilt else "no stage history or activities" if not latest.has("activities") else ""
        return CellResult(
            cell.title,
            cell.kind,
            left_out=LeftOut(
                missing["stalled_deals"],
                NEXT_WEEK if rebuilt else NOT_IN_DATA,
                short or _needs(missing["stalled_deals"]),
            ),
        )
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
    dim = cell.dimension or "region"  # the data has it (see lacking): a split is never by another dimension
    words = dim.replace("_", " ")
    result = K.report(latest, [kpi_id], grain=period.grain, periods=[period], by=[dim], filters=_filters(cell, latest))
    if kpi_id in result.unavailable:
        why = why_unavailable(kpi_id, result.unavailable[kpi_id])
        return CellResult(cell.title, cell.kind, left_out=LeftOut(why, NOT_IN_DATA, _needs(why)))
    frame = result.frame.filter(pl.col(dim).is_not_null() & pl.col("stage").is_null())
    kpi = K.get(kpi_id)
    table = frame.select(pl.col(dim).cast(pl.String).alias(column_label(dim)), pl.col("value").alias(kpi.label)).sort(
        kpi.label, descending=True, nulls_last=True
    )
    return CellResult(
        cell.title,
        cell.kind,
        chart=charts.ranked_bars(
            frame,
            segment=dim,
            unit=kpi.unit,
            title=f"{kpi.label} by {words}, {period.label}",
            currency=latest.currency,
        ),
        table=Table(table, {kpi.label: kpi.unit}, latest.currency, NOUNS.get(dim, "rows")),
        note=f"{kpi.label} by {words}, {period.label}",
        definitions=(definition(kpi_id),),
    )


def _forecast_cell(cell: Cell, data: ReviewData) -> CellResult:
    from kpi_core.forecast import forecast_accuracy

    currency = data.latest.currency
    grain = cell.grain if cell.grain in ("week", "month", "quarter", "year") else "month"
    by = [cell.dimension] if cell.dimension else []
    frame = forecast_accuracy(list(data.history), grain=grain, by=by)  # type: ignore[arg-type]
    if frame.height == 0:
        when, why = _first_forecast(data, grain)
        return CellResult(cell.title, cell.kind, left_out=LeftOut(why, when))
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


def _first_forecast(data: ReviewData, grain: str) -> tuple[str, str]:
    """When forecast accuracy first has a value, and why not yet: the first period that starts with a kept snapshot
    (the one on or before its first day, else one in its first week: ``kpi_core.forecast``) has to close, and a week
    kept on or after its last day gives what was won."""
    fy = data.latest.settings.fiscal_year_start
    first = min((d.as_of for d in data.history), default=data.latest.as_of)
    period = P.make(first, grain, fy)  # type: ignore[arg-type]
    if first >= period.start + timedelta(days=7):
        period = P.shift(period, 1, fy)
    last_day = period.end - timedelta(days=1)
    why = (
        f"Forecast accuracy compares the forecast made at a period's start with what was won: the first period with "
        f"a kept snapshot from its start is {period.label}, measured once it has closed and a week kept on or after "
        f"{last_day:%-d %b %Y} says what was won. Keep saving the weekly exports."
    )
    if last_day <= data.latest.as_of:  # already past: the weeks kept since do not reach it
        return "With more kept weeks", (
            "Forecast accuracy needs a kept snapshot from the start of a closed period and one after its end: keep "
            "saving the weekly exports."
        )
    return f"From {last_day:%-d %b %Y}, once {period.label} has closed", why


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


def prepare_latest(store: SnapshotStore, ids: Sequence[str], settings: K.Settings | None = None) -> K.Dataset:
    """The newest of ``ids`` (kept weeks of one pipeline, oldest first); when its files carry no stage history, one
    rebuilt from those weeks (``kpi_core.history.prepare_week``, as the pages prepare a kept week), so time in stage
    and stalled deals work on plain weekly reports."""
    from kpi_core.history import prepare_week

    return prepare_week([(s.as_of, t) for s, t in (store.load(i) for i in ids)], settings)


def prepare_snapshot(store: SnapshotStore, snapshot_id: str, settings: K.Settings | None = None) -> K.Dataset:
    snapshot, tables = store.load(snapshot_id)
    return K.Dataset.prepare(tables, as_of=snapshot.as_of, settings=settings)


def this_pipeline(weeks: Sequence[K.Dataset]) -> list[bool]:
    """Which of the kept ``weeks`` (oldest first, the reviewed one last) are exports of the reviewed one's pipeline
    (``kpi_core.history.of_pipeline``: the rule that decides which kept weeks stand for the data on screen)."""
    from kpi_core.history import of_pipeline

    def deals(week: K.Dataset) -> pl.DataFrame | None:
        return week.table("deals") if week.has("deals") else None

    return of_pipeline(deals(weeks[-1]), [deals(w) for w in weeks]) if weeks else []


def load_review(
    store: SnapshotStore,
    ordered: Sequence[str],
    position: int,
    *,
    prepared: Callable[[str], K.Dataset] | None = None,
    latest: Callable[[tuple[str, ...]], K.Dataset] | None = None,
    company: str = "",
    pipeline: Callable[[str], K.Dataset] | None = None,
    settings: K.Settings | None = None,
) -> tuple[ReviewData, str | None]:
    """The review of snapshot ``ordered[position]``: it and the kept weeks before it that are exports of its pipeline
    (the one just before them is what it is compared with); and, when kept weeks of another company or pipeline were
    left out, why. Those weeks are left out of everything: the comparison, the stage history rebuilt from the weeks,
    the trends, forecast accuracy and the count of kept weeks.

    ``prepared`` and ``latest`` prepare snapshots (the page passes cached ones, prepared with the ``settings`` of the
    data on screen); ``pipeline``, when given, reads the weeks before the previous one as their pipeline only (all
    the trends, forecasts and push counts read of them)."""
    prepare_one = prepared or (lambda i: prepare_snapshot(store, i, settings))
    prepare_last = latest or (lambda ids: prepare_latest(store, ids, settings))
    earlier = pipeline or prepare_one
    names = {s.id: s.name for s in store.list()}
    chosen = ordered[position]
    before = list(ordered[:position])
    kept = this_pipeline([earlier(i) for i in [*before, chosen]])[:-1] if before else []
    run = [i for i, ok in zip(before, kept, strict=True) if ok] + [chosen]
    others = tuple(names[i] for i, ok in zip(before, kept, strict=True) if not ok)
    history = (
        *[earlier(i) for i in run[:-2]],
        *[prepare_one(i) for i in run[-2:-1]],
        prepare_last(tuple(run)),
    )
    previous = run[-2] if len(run) > 1 else None
    refused = None
    if others:
        left = ", ".join(repr(n) for n in others)
        share = min(
            (
                shared_deals(earlier(i).table("deals"), history[-1].table("deals"))
                for i, ok in zip(before, kept, strict=True)
                if not ok
            ),
            default=0.0,
        )
        refused = (
            f"{left} and {names[chosen]!r} share {share:.0%} of their deals: they look like two different companies "
            f"or pipelines, so {'they are' if len(others) > 1 else 'it is'} left out of the review of "
            f"{names[chosen]!r} (its comparison, trends, forecast accuracy and count of kept weeks)."
        )
    data = ReviewData(
        history[-1],
        names[chosen],
        history[-2] if previous else None,
        names.get(previous or ""),
        history,
        company,
        store.quality(chosen),
        others,
    )
    return data, refused
