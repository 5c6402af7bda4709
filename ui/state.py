"""Which data the app shows and the view chosen in the sidebar, with caches keyed on small values.

Big frames live in ``st.cache_resource`` (shared, never copied); results of the engine, which are small,
in ``st.cache_data``. Uploaded bytes are kept once per digest, outside the session state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import polars as pl
import streamlit as st

import kpi_core as K
from kpi_core import periods as P
from kpi_core.history import with_stage_history
from kpi_core.ingest import FileImport, export_as_of
from kpi_core.periods import GRAINS, Grain, Period
from kpi_core.snapshots import SnapshotStore
from sample_data import load_sample, scan_sample
from ui import guard, workspace
from ui.model import Upload

ROOT = Path(__file__).resolve().parents[1]
MAVEN_DIR = ROOT.parent / "shared" / "data" / "maven-crm"
MAVEN_FILES = ("sales_pipeline.csv", "sales_teams.csv", "products.csv", "accounts.csv")
SOURCES = {"upload": "Your data", "sample": "Sample company", "maven": "Maven public data"}
COMPARE = {"previous period": "previous", "same period last year": "last_year"}
"""Comparison choice as shown (and put in the URL) -> the engine's comparison."""
FILTER_DIMS = ("region", "product", "owner", "team", "segment")
MORE_DIMS = ("manager", "lead_source", "deal_type", "pipeline", "industry", "family", "forecast_category", "currency")
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "INR", "BRL", "CAD", "AUD", "CHF")


Key = tuple[str, tuple[Upload, ...], int, str | None]
"""What identifies a dataset: its source, the uploads, the fiscal-year start and the reporting currency."""


@st.cache_resource(show_spinner=False)
def blob_store() -> dict[str, bytes]:
    """Uploaded bytes by digest, read once from the workspace (one copy, shared; never in the session state)."""
    return {}


def remember(data: bytes) -> str:
    """Keep an upload's bytes in the workspace (a reload or a new session of this browser finds them)."""
    digest = hashlib.sha256(data).hexdigest()[:20]
    workspace.save_blob(digest, data)
    blob_store()[digest] = data
    return digest


def blob(digest: str) -> bytes:
    found = blob_store().get(digest)
    if found is None:
        found = blob_store()[digest] = workspace.load_blob(digest)
    return found


@st.cache_resource(max_entries=64, show_spinner="Reading the file…")
def _attempt(upload: Upload) -> FileImport | str:
    """An upload read once (in a worker process), or why it could not be: a refused file is not read again on
    every rerun."""
    from kpi_core.isolation import read_file_isolated

    stages = pl.DataFrame(json.loads(upload.stages)) if upload.stages else None
    try:
        return read_file_isolated(
            blob(upload.digest),
            upload.name,
            overrides=dict(upload.overrides) or None,
            stages=stages,
            sheet=upload.sheet,
        )
    except K.DataError as exc:
        return str(exc)


def imported(upload: Upload) -> FileImport:
    """An upload as imported; :class:`kpi_core.DataError` when it cannot be used."""
    result = _attempt(upload)
    if isinstance(result, str):
        raise K.DataError(result)
    return result


@st.cache_resource(max_entries=6, show_spinner="Preparing the data…")
def dataset_for(source: str, uploads: tuple[Upload, ...], fiscal_year_start: int, currency: str | None) -> K.Dataset:
    settings = K.Settings(fiscal_year_start=fiscal_year_start, currency=currency)
    if source.startswith("snapshot:"):
        return kept_week(source.removeprefix("snapshot:"), settings)
    if source == "maven":
        raw = K.combine(K.read_file((MAVEN_DIR / n).read_bytes(), n) for n in MAVEN_FILES)
    elif source == "upload":
        files = [imported(u) for u in uploads]
        stated = export_as_of(files)  # the day the exports describe, when they say it
        tables = K.combine(files)
        dataset = K.Dataset.prepare(
            tables,
            settings=settings,
            as_of=stated[0] if stated else None,
            as_of_source=stated[1] if stated else None,
        )
        earlier = _earlier_weeks(dataset) if "stage_history" not in tables else []
        if not earlier:
            return dataset
        return K.Dataset.prepare(  # plain weekly reports: the stage history rebuilt as the review rebuilds it
            with_stage_history(tables, dataset.as_of, earlier),
            settings=settings,
            as_of=dataset.as_of,
            as_of_source=dataset.as_of_source,
        )
    else:
        return K.Dataset.prepare(scan_sample(), settings=settings)
    return K.Dataset.prepare(raw, settings=settings, consume=True)


def kept_week(snapshot_id: str, settings: K.Settings) -> K.Dataset:
    """A team's kept week as the pages show it: prepared as the Weekly review prepares it (with the stage history
    rebuilt from the kept weeks of its pipeline up to it when its files carry none), so both read one number."""
    from kpi_core.history import of_pipeline, prepare_week

    store = workspace.team()
    folder = str(store.home)
    kept = store.list()
    chosen = next(i for i, s in enumerate(kept) if s.id == snapshot_id)
    before = [s.id for s in kept[:chosen]]
    deals = _pipeline_deals(folder, [*before, snapshot_id])
    run = [i for i, ok in zip(before, of_pipeline(deals[-1], deals[:-1]), strict=True) if ok] + [snapshot_id]
    weeks = [(s.as_of, t) for s, t in (store.load(i) for i in run)]
    return prepare_week(weeks, settings)


def _pipeline_deals(folder: str, ids: Sequence[str]) -> list[pl.DataFrame | None]:
    """The deals of kept weeks, read as their pipeline (held once per server)."""
    weeks = [workspace.pipeline(folder, i) for i in ids]
    return [w.table("deals") if w.has("deals") else None for w in weeks]


def _earlier_weeks(dataset: K.Dataset) -> list[tuple[date, pl.DataFrame]]:
    """The deals of the team's kept weeks before an upload that are exports of its pipeline (oldest first): what its
    stage history is rebuilt from when its files carry none (as the Weekly review rebuilds a kept week's)."""
    from kpi_core.history import of_pipeline

    if not dataset.has("deals") or "deal_id" not in dataset.table("deals").columns:
        return []
    store = workspace.team()
    before = [s for s in store.list() if s.as_of < dataset.as_of]
    if not before:
        return []
    mine = of_pipeline(dataset.table("deals"), _pipeline_deals(str(store.home), [s.id for s in before]))
    weeks = [(s.as_of, store.load(s.id)[1]) for s, ok in zip(before, mine, strict=True) if ok]
    return [(day, tables["deals"]) for day, tables in weeks if "deals" in tables]


def guarded_dataset(key: Key) -> K.Dataset | None:
    """The dataset for ``key`` prepared now (None, with the message shown, when it cannot be)."""
    return guard.guarded("preparing the data", lambda: dataset_for(*key))


def dataset_summary(dataset: K.Dataset) -> str:
    """What a dataset holds, in a line: rows per table and the as-of date."""
    sizes = [f"{dataset.table(n).height:,} {n.replace('_', ' ')}" for n in SUMMARY_TABLES if dataset.has(n)]
    return f"Prepared {', '.join(sizes) or 'no fact table'}; as of {dataset.as_of:%d %b %Y}"


SUMMARY_TABLES = ("deals", "activities", "leads", "subscriptions", "stage_history")


def headline(dataset: K.Dataset) -> str:
    """The quarter's headline numbers, computed as a first look (and a check that the KPIs compute)."""
    from kpi_core.formatting import format_value

    frame = K.evaluate(dataset, ["won_revenue", "win_rate", "open_pipeline"], grain="quarter", compare=False)
    parts = [
        f"{row['label']} {format_value(row['value'], row['unit'], dataset.currency, compact=True)}"
        for row in frame.iter_rows(named=True)
        if row["value"] is not None and row.get("currency") is None
    ]
    period = frame.get_column("period")[0] if frame.height else ""
    return f"This quarter ({period}): {', '.join(parts)}" if parts else "KPIs computed"


def maven_available() -> bool:
    return all((MAVEN_DIR / n).exists() for n in MAVEN_FILES)


def uploads() -> tuple[Upload, ...]:
    """This browser's uploads: kept in the session, and in the workspace for a reload or a new session."""
    if "uploads" not in st.session_state:
        st.session_state["uploads"] = list(workspace.load_uploads(workspace.token()))
    return tuple(st.session_state.get("uploads", ()))


def set_uploads(chosen: list[Upload] | tuple[Upload, ...]) -> None:
    st.session_state["uploads"] = list(chosen)
    workspace.save_uploads(workspace.token(), tuple(chosen))


def newest_kept() -> str | None:
    """The id of the team's newest kept snapshot (what "Your data" shows when nothing is uploaded)."""
    kept = workspace.team().list()
    return kept[-1].id if kept else None


def has_own_data() -> bool:
    return bool(uploads()) or newest_kept() is not None


def source() -> str:
    chosen = st.session_state.get("source") or ("upload" if has_own_data() else "sample")
    if chosen == "upload" and not has_own_data():
        return "sample"
    if chosen == "maven" and not maven_available():
        return "sample"
    return str(chosen)


def dataset_key() -> Key:
    chosen = source()
    if chosen == "upload" and not uploads():
        chosen = f"snapshot:{newest_kept()}"
    return (
        chosen,
        uploads() if chosen == "upload" else (),
        int(st.session_state.get("fiscal_year_start", 1)),
        st.session_state.get("reporting_currency"),
    )


def current_dataset() -> K.Dataset:
    return dataset_for(*dataset_key())


def describe() -> str:
    """Which data is on screen, in a few words (the sidebar says it on every page)."""
    key = dataset_key()[0]
    if key.startswith("snapshot:"):
        kept = workspace.team().get(key.removeprefix("snapshot:"))
        return f"Your data: the snapshot {kept.name!r}, kept"
    if key == "upload":
        names = ", ".join(u.name for u in uploads())
        kept_ids = {s.sources for s in workspace.team().list()}
        state_text = "kept" if tuple((u.name, u.digest) for u in uploads()) in kept_ids else "not kept as history yet"
        return f"Your data: {names} ({state_text})"
    return SOURCES[key]


@dataclass(frozen=True)
class View:
    """What the sidebar chose: grain, period, comparison and segment filters."""

    grain: Grain
    period: Period
    compare: str
    filters: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def filter_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.filters}

    def trailing(self, n: int, fy: int) -> list[Period]:
        """The ``n`` periods ending with the chosen one (for sparklines and trends)."""
        if self.grain == "all":
            return [self.period]
        return [P.shift(self.period, -i, fy) for i in reversed(range(n))]


def period_options(dataset: K.Dataset, grain: Grain) -> list[str]:
    """Period labels to offer: the last two years up to the one holding the as-of date, newest first."""
    fy = dataset.settings.fiscal_year_start
    current = P.make(dataset.as_of, grain, fy)
    if grain == "all":
        return ["all"]
    count = {"week": 104, "month": 24, "quarter": 8, "year": 3}[grain]
    return [P.shift(current, -i, fy).label for i in range(count)]


def current_view(dataset: K.Dataset) -> View:
    fy = dataset.settings.fiscal_year_start
    grain = cast(Grain, st.session_state.get("grain", "quarter"))
    if grain not in GRAINS:
        grain = "quarter"
    label = st.session_state.get("period")
    try:
        period = P.parse(str(label), fy) if label else P.make(dataset.as_of, grain, fy)
        if period.grain != grain:
            raise ValueError
    except ValueError:
        period = P.make(dataset.as_of, grain, fy)
    dims = set(dataset.dimensions())
    filters = tuple(
        (dim, tuple(st.session_state.get(dim) or ()))
        for dim in (*FILTER_DIMS, *MORE_DIMS)
        if dim in dims and st.session_state.get(dim)
    )
    return View(grain, period, COMPARE.get(str(st.session_state.get("compare")), "previous"), filters)


@st.cache_data(max_entries=512, show_spinner=False)
def cached_report(
    key: Key,
    kpis: tuple[str, ...] | None,
    grain: str,
    periods: tuple[str, ...],
    by: tuple[str, ...],
    filters: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[pl.DataFrame, dict[str, str], list[str]]:
    """The engine's report for small, hashable arguments (the dataset is found by its key)."""
    dataset = dataset_for(*key)
    result = K.report(
        dataset,
        list(kpis) if kpis else None,
        grain=cast(Grain, grain),
        periods=list(periods),
        by=list(by),
        filters={k: list(v) for k, v in filters},
    )
    return result.frame, result.unavailable, result.warnings


def report(
    view: View, kpis: list[str] | None = None, *, periods: list[Period] | None = None, by: tuple[str, ...] = ()
) -> tuple[pl.DataFrame, dict[str, str], list[str]]:
    chosen = periods or [view.period]
    return cached_report(
        dataset_key(), tuple(kpis) if kpis else None, view.grain, tuple(p.label for p in chosen), by, view.filters
    )


def delta_columns(view: View) -> tuple[str, str]:
    """The comparison value and delta columns for the chosen comparison."""
    return ("last_year", "last_year_delta") if view.compare == "last_year" else ("previous", "delta")


def display_currency(dataset: K.Dataset) -> str:
    """The currency money KPIs are in (see :attr:`kpi_core.Dataset.currency`)."""
    return dataset.currency


def currency_assumed(dataset: K.Dataset) -> bool:
    """Whether the money's currency was assumed (the files name none and none was chosen)."""
    quality = dataset.quality
    return quality is not None and quality.height > 0 and "amounts name no currency" in quality["rule"].to_list()


def money_columns(frame: pl.DataFrame, columns: Sequence[str], currency: str, *, decimals: int = 2) -> dict[str, Any]:
    """Screen formats of a table's money columns, in the money's own currency: the dataset's, or the one a
    ``currency`` column of the rows holds; plain numbers (beside that column) when the rows are in several."""
    from kpi_core.formatting import screen_format

    if "currency" in frame.columns:
        held = frame.get_column("currency").drop_nulls().unique()
        currency = str(held[0]) if held.len() == 1 else currency if held.len() == 0 else ""
    number = screen_format("currency", currency, decimals=decimals) if currency else f"%,.{decimals}f"
    return {
        c: st.column_config.NumberColumn(c.replace("_", " ").capitalize(), format=number)
        for c in columns
        if c in frame.columns
    }


def dimension_values(dataset: K.Dataset, dim: str) -> list[str]:
    """The values a filter can take: the categories of the dimension's shared Enum (no scan of the rows)."""
    for name in ("deals", "activities", "leads", "subscriptions"):
        if dataset.has(name) and dim in dataset.table(name).columns:
            dtype = dataset.table(name).schema[dim]
            if isinstance(dtype, pl.Enum):
                return sorted(dtype.categories.to_list())
            return sorted(dataset.table(name).get_column(dim).cast(pl.String).drop_nulls().unique().to_list())
    return []


def through_entrypoint() -> None:
    """Make sure the page runs inside app.py (its sidebar and navigation).

    Streamlit treats a folder named ``pages/`` beside the entry script as the old multipage layout until
    ``st.navigation`` has run once in the process. A server whose first request is a deep link
    (``/segments?grain=quarter``) would then run the page file alone, without the sidebar. Leaving that mode
    and rerunning sends the same URL through app.py."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


@dataclass(frozen=True)
class Behind:
    """The rows behind one value, as the pages show them (cached; at most ``limit`` rows kept)."""

    table: str
    rows: pl.DataFrame
    total: int
    excluded: int
    reasons: pl.DataFrame
    excluded_rows: pl.DataFrame


HIDDEN_COLUMNS = frozenset(
    {"reached", "win_probability", "existing_customer", "stalled", "overdue", "cycle_days", "status"}
)


@st.cache_data(max_entries=64, show_spinner=False)
def rows_behind(
    key: Key,
    kpi: str,
    period: str,
    segment: tuple[tuple[str, str], ...],
    filters: tuple[tuple[str, tuple[str, ...]], ...],
    limit: int = 100_000,
) -> Behind:
    """``kpi_core.rows_behind`` for the view's filters, computed once per set of arguments."""
    dataset = dataset_for(*key)
    behind = K.rows_behind(dataset, kpi, period, dict(segment) or None)
    rows = behind.included
    for dim, chosen in filters:
        if dim in rows.columns:
            rows = rows.filter(pl.col(dim).cast(pl.String).is_in(list(chosen)))
    reasons = (
        behind.excluded.group_by("reason").agg(pl.len().alias("rows")).sort("rows", descending=True)
        if "reason" in behind.excluded.columns
        else pl.DataFrame(schema={"reason": pl.String, "rows": pl.UInt32})
    )
    visible = [c for c in rows.columns if c not in HIDDEN_COLUMNS]
    left_out = behind.excluded.select([c for c in ["reason", *visible] if c in behind.excluded.columns]).head(1000)
    return Behind(
        behind.table, rows.select(visible).head(limit), rows.height, behind.excluded.height, reasons, left_out
    )


def raw_tables() -> dict[str, pl.DataFrame]:
    """The canonical tables behind the data now shown, as imported (for keeping a snapshot)."""
    chosen = dataset_key()[0]
    if chosen.startswith("snapshot:"):
        return workspace.team().load(chosen.removeprefix("snapshot:"))[1]
    if chosen == "maven":
        return K.combine(K.read_file((MAVEN_DIR / n).read_bytes(), n) for n in MAVEN_FILES)
    if chosen == "upload":
        return K.combine(imported(u) for u in uploads())
    return load_sample()


def import_quality() -> pl.DataFrame | None:
    """What the import found in the uploaded files behind the data now shown (kept with a snapshot of them)."""
    if dataset_key()[0] != "upload":
        return None
    found = [result.quality for result in (imported(u) for u in uploads()) if result.quality.height]
    return pl.concat(found, how="diagonal_relaxed") if found else None


# Small results the pages chart, computed once per dataset, period and filters (reruns then cost nothing).
FilterKey = tuple[tuple[str, tuple[str, ...]], ...]
RESPONSE_BINS = ([0.0, 1.0, 4.0, 24.0, 72.0], ["< 1 h", "1-4 h", "4-24 h", "1-3 days", "> 3 days"])


def _with_filters(rows: pl.DataFrame, filters: FilterKey) -> pl.DataFrame:
    for dim, chosen in filters:
        if dim in rows.columns:
            rows = rows.filter(pl.col(dim).cast(pl.String).is_in(list(chosen)))
    return rows


@st.cache_data(max_entries=64, show_spinner=False)
def response_times(key: Key, period: str, filters: FilterKey) -> pl.DataFrame:
    """Leads created in the period per response-time bin, with a 'never' bin: bin, order, count."""
    from kpi_core import breakdowns

    leads = _with_filters(K.rows_behind(dataset_for(*key), "leads_contacted_1h", period).included, filters)
    hours = leads["response_hours"]
    table = breakdowns.distribution(hours.filter(hours >= 0), *RESPONSE_BINS)
    never = pl.DataFrame(
        {"bin": ["never"], "order": [len(RESPONSE_BINS[1])], "count": [hours.null_count()]}, schema=table.schema
    )
    return pl.concat([table, never])


@st.cache_data(max_entries=64, show_spinner=False)
def closed_deals_by_owner(key: Key, period: str, filters: FilterKey) -> dict[str, int]:
    """How many deals each rep closed (won or lost) in the period: the sample size behind their win rate."""
    closed = _with_filters(K.rows_behind(dataset_for(*key), "win_rate", period).included, filters)
    return dict(closed.group_by(pl.col("owner").cast(pl.String)).len().iter_rows()) if "owner" in closed.columns else {}


@st.cache_data(max_entries=32, show_spinner=False)
def mrr_movements(key: Key, months: tuple[str, ...], filters: FilterKey) -> pl.DataFrame:
    from kpi_core import breakdowns

    dataset = dataset_for(*key)
    fy = dataset.settings.fiscal_year_start
    return breakdowns.mrr_movements(dataset, [P.parse(m, fy) for m in months], {k: list(v) for k, v in filters})


@st.cache_data(max_entries=32, show_spinner=False)
def cohort_retention(key: Key, filters: FilterKey) -> pl.DataFrame:
    from kpi_core import breakdowns

    return breakdowns.cohort_retention(dataset_for(*key), filters={k: list(v) for k, v in filters})


@st.cache_data(max_entries=32, show_spinner=False)
def funnel(key: Key, period: str | None, filters: FilterKey) -> pl.DataFrame:
    from kpi_core import breakdowns

    dataset = dataset_for(*key)
    chosen = P.parse(period, dataset.settings.fiscal_year_start) if period else None
    return breakdowns.funnel(dataset, chosen, {k: list(v) for k, v in filters})


def history_store() -> SnapshotStore | None:
    """The kept snapshots of the data on screen: the team's for your data, the sample company's for the sample."""
    chosen = source()
    if chosen == "sample":
        return workspace.sample()
    if chosen == "upload":
        return workspace.team()
    return None


def kept_before(store: SnapshotStore, dataset: K.Dataset) -> tuple[tuple[date, str], ...]:
    """(as-of date, id) of the snapshots taken up to the as-of date of the data on screen that are exports of its
    pipeline (they share its deals): the history it can lean on. Another company's kept weeks never stand for it."""
    key, folder = dataset_key(), str(store.home)
    return tuple(
        (s.as_of, s.id) for s in store.list() if s.as_of <= dataset.as_of and of_this_pipeline(key, folder, s.id)
    )


# held once per server (a property of the data and the snapshot, kept when small results are cleared)
@st.cache_resource(max_entries=512, show_spinner=False)
def of_this_pipeline(key: Key, folder: str, snapshot_id: str) -> bool:
    """Whether a kept snapshot is an export of the pipeline of the data ``key`` (see ``kpi_core.changes``)."""
    from kpi_core.changes import same_pipeline

    dataset = dataset_for(*key)
    if not dataset.has("deals") or "deal_id" not in dataset.table("deals").columns:
        return False
    kept = workspace.pipeline(folder, snapshot_id)
    return (
        kept.has("deals")
        and "deal_id" in kept.table("deals").columns
        and same_pipeline(kept.table("deals"), dataset.table("deals"))
    )


@st.cache_data(max_entries=128, show_spinner=False)
def point_in_time(
    folder: str,
    snapshots: tuple[tuple[date, str], ...],
    kpis: tuple[str, ...],
    grain: str,
    periods: tuple[str, ...],
    as_of: date,
    filters: FilterKey,
    fiscal_year_start: int,
) -> pl.DataFrame:
    """Open-pipeline KPIs of earlier periods from the kept snapshots (see :mod:`kpi_core.history`)."""
    from kpi_core import history

    return history.point_in_time(
        lambda sid: workspace.pipeline(folder, sid),
        snapshots,
        kpis,
        grain=cast(Grain, grain),
        periods=[P.parse(p, fiscal_year_start) for p in periods],
        as_of=as_of,
        filters={k: list(v) for k, v in filters},
    )


@st.cache_data(max_entries=32, show_spinner=False)
def forecast_accuracy(
    folder: str,
    snapshots: tuple[tuple[date, str], ...],
    grain: str,
    filters: FilterKey = (),
    fiscal_year_start: int = 1,
) -> pl.DataFrame:
    """Forecast accuracy of each closed period with a snapshot from its start (see :mod:`kpi_core.forecast`), for
    the chosen segments: their forecasts and results added up, then compared."""
    from kpi_core.forecast import forecast_accuracy as accuracy

    if len(snapshots) < 2 or grain not in ("week", "month", "quarter", "year"):
        return pl.DataFrame()
    history = [workspace.pipeline(folder, sid) for _, sid in snapshots]
    dims = [d for d, _ in filters if d in history[-1].dimensions()]
    if not dims:
        return accuracy(history, grain=grain, fiscal_year_start=fiscal_year_start)
    frame = accuracy(history, grain=grain, by=dims, fiscal_year_start=fiscal_year_start)
    for dim, chosen in filters:
        if dim in dims:
            frame = frame.filter(pl.col(dim).cast(pl.String).is_in(list(chosen)))
    return (
        frame.group_by("period", "snapshot")
        .agg(pl.col("forecast").sum(), pl.col("actual").sum())
        .with_columns(
            accuracy=pl.when(pl.col("actual") > 0).then(
                1 - (pl.col("forecast") - pl.col("actual")).abs() / pl.col("actual")
            )
        )
        .sort("period")
    )


PER_YEAR = {"week": 52, "month": 12, "quarter": 4, "year": 1}


def compared_period(view: View, fy: int) -> Period | None:
    """The period the view compares with: the one before, or the same one a year earlier."""
    if view.grain == "all":
        return None
    back = PER_YEAR[view.grain] if view.compare == "last_year" else 1
    return P.shift(view.period, -back, fy)


def as_of_trend(dataset: K.Dataset, view: View, kpis: list[str]) -> dict[str, tuple[float | None, list[float | None]]]:
    """For open-pipeline KPIs, from the kept snapshots: the value at the same point of the compared period, and of
    each of the seven periods before the chosen one (empty without history)."""
    from kpi_core.engine import POINT_IN_TIME

    wanted = tuple(k for k in kpis if k in POINT_IN_TIME)
    store = history_store()
    kept = kept_before(store, dataset) if store is not None else ()
    if not wanted or not kept or view.grain == "all" or store is None:
        return {}
    fy = dataset.settings.fiscal_year_start
    trailing = view.trailing(8, fy)[:-1]
    compared = compared_period(view, fy)
    labels = tuple(dict.fromkeys([p.label for p in trailing] + ([compared.label] if compared else [])))
    series = point_in_time(
        str(store.home), kept, wanted, view.grain, (*labels, view.period.label), dataset.as_of, view.filters, fy
    )
    out: dict[str, tuple[float | None, list[float | None]]] = {}
    for kpi in wanted:
        rows = series.filter(pl.col("kpi") == kpi)
        by_period = dict(zip(rows["period"].to_list(), rows["value"].to_list(), strict=True))
        out[kpi] = (by_period.get(compared.label) if compared else None, [by_period.get(p.label) for p in trailing])
    return out


# What leads revenue (kpi_core.leading) and why it changed (kpi_core.drivers), cached on small keys.
LEAD_TARGETS = ("won_revenue", "deals_won", "new_opportunities")
"""The results the app measures leads on: the lagging results, and new opportunities, where revenue starts."""
LEAD_DIMS = ("region", "team", "owner", "manager")
"""Dimensions a lead can be measured per segment on (the activities and leads tables carry them too)."""


# held once per server (shared by every session, kept when small results are cleared): a property of the data
@st.cache_resource(max_entries=32, show_spinner="Measuring which indicators lead…")
def lead_analysis(
    key: Key,
    filters: FilterKey,
    targets: tuple[str, ...] = LEAD_TARGETS,
    indicators: tuple[str, ...] | None = None,
    by: str | None = None,
    max_lag: int = 13,
) -> K.LeadingReport:
    """``kpi_core.find_leads`` on the data on screen (fewer permutations per segment: many more pairs)."""
    return K.find_leads(
        dataset_for(*key),
        list(indicators) if indicators else None,
        list(targets),
        by=by,
        filters={k: list(v) for k, v in filters},
        max_lag=max_lag,
        permutations=999 if by is None else 499,
    )


def lead_tiles(key: Key, filters: FilterKey) -> dict[str, str]:
    """For each leading KPI whose lead survives the correction for every pair and lag the analysis tried, the few
    words its scorecard tile carries: its lead on won revenue (or deals won), else on new opportunities, hedged
    when weak or not stable ("May lead won revenue by about 4 weeks (weak, not stable across the history)").
    A KPI without a surviving lead gets nothing."""
    from kpi_core import leading

    frame = lead_analysis(key, filters).frame
    out: dict[str, str] = {}
    for kpi in frame["indicator"].unique(maintain_order=True).to_list():
        rows = {r["target"]: r for r in frame.filter(pl.col("indicator") == kpi).iter_rows(named=True)}
        leads = [r for t in LEAD_TARGETS if (r := rows.get(t)) is not None and r["significant"]]
        if not leads:
            continue
        words = leading.short_finding(leads[0])
        if leads[0]["target"] == "new_opportunities":
            words += "; no measurable lead on won revenue"
        out[kpi] = words[:1].upper() + words[1:]
    return out


@st.cache_data(max_entries=64, show_spinner=False)
def revenue_drivers(
    key: Key, grain: str, period: str, compare: str, filters: FilterKey, by: str | None
) -> K.Drivers | str:
    """``kpi_core.revenue_drivers`` for the view, or why it cannot be computed."""
    dataset = dataset_for(*key)
    try:
        return K.revenue_drivers(
            dataset,
            period,
            grain=cast(Grain, grain),
            compare=compare,
            by=by,
            filters={k: list(v) for k, v in filters},
        )
    except (K.DataError, ValueError) as exc:
        return str(exc)


# The 1:1 (kpi_core.coaching), cached on small keys.
@st.cache_data(max_entries=64, show_spinner="Comparing with the team…")
def coaching(
    key: Key,
    rep: str,
    against: str,
    grain: str,
    period: str,
    history: tuple[str, tuple[tuple[date, str], ...]] | None = None,
) -> K.Coaching | str:
    """``kpi_core.coaching.coach`` for one rep, or why it cannot be done. ``history``: the folder and the (as-of date,
    id) of the kept snapshots whose deals show which close dates slipped."""
    from kpi_core import coaching as C

    dataset = dataset_for(*key)
    deals = [workspace.pipeline(history[0], sid).table("deals") for _, sid in history[1]] if history else None
    try:
        return C.coach(
            dataset,
            rep,
            against=cast(C.Against, against),
            grain=cast(Grain, grain),
            period=period,
            history=deals,
        )
    except (K.DataError, ValueError) as exc:
        return str(exc)


def coaching_history(dataset: K.Dataset) -> tuple[str, tuple[tuple[date, str], ...]] | None:
    """The kept snapshots of the data on screen up to its as-of date (None when fewer than two are kept)."""
    store = history_store()
    if store is None:
        return None
    kept = kept_before(store, dataset)
    return (str(store.home), tuple(sorted(kept))) if len(kept) > 1 else None
