"""Engine benchmark: the generator's company at 1M deals (10M activities, 1M leads) or 10M deals (100M
activities, 10M leads, ten business units of the 1M company).

Times load + prepare from Parquet (lazy scans, only the columns KPIs read), the full scorecard (every KPI, current
and comparison periods, overall and by region, product and owner, monthly) and a filter change (one region, one
quarter), reports peak memory, and runs the same core batch in the engine, in plain pandas and in DuckDB after
asserting all three give the same numbers. Times are medians of ``--runs`` runs with the spread (min-max).

    .venv/bin/python benchmarks/bench_engine.py [--deals 1000000] [--runs 5] [--load-runs 5] [--no-pandas]

Load + prepare is also timed in ``--load-runs`` fresh processes (a server opening the data), with each one's peak.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kpi_core as K  # noqa: E402
from benchmarks.common import RssPeak, company, timed  # noqa: E402
from kpi_core.engine import POINT_IN_TIME, resolve_periods  # noqa: E402
from kpi_core.scan import scan_folder  # noqa: E402

CORE = [
    "won_revenue",
    "deals_won",
    "avg_deal_size",
    "win_rate",
    "win_rate_value",
    "sales_cycle_days",
    "sales_cycle_days_median",
    "new_opportunities",
    "pipeline_created",
    "open_pipeline",
    "weighted_pipeline",
    "overdue_deals",
    "activities",
    "calls",
    "emails",
    "meetings",
    "lead_conversion_rate",
    "leads_contacted_1h",
    "lead_response_hours",
]
DIMS: list[list[str]] = [[], ["region"], ["product"], ["owner"]]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


FRESH_LOAD = """
import resource, sys, time
sys.path.insert(0, {root!r})
import kpi_core as K
from kpi_core.scan import scan_folder
started = time.perf_counter()
ds = K.Dataset.prepare(scan_folder({folder!r}), columns="kpis")
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def fresh_loads(folder: Path, runs: int) -> list[tuple[float, float]]:
    """(seconds, peak MB) of load + prepare in each of ``runs`` fresh processes."""
    out = []
    for _ in range(runs):
        code = FRESH_LOAD.format(root=str(ROOT), folder=str(folder))
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        seconds, mb = done.stdout.split()
        out.append((float(seconds), float(mb)))
    return out


def scorecard(ds: K.Dataset) -> list[pl.DataFrame]:
    return [K.evaluate(ds, grain="month", by=by) for by in DIMS]


def core_batch(ds: K.Dataset) -> list[pl.DataFrame]:
    return [K.evaluate(ds, CORE, grain="month", by=by) for by in DIMS]


Values = dict[tuple[str, str, tuple[str, ...]], float]
Window = tuple[str, Any, Any]
DEAL_COLUMNS = [
    "status",
    "amount",
    "created_date",
    "close_date",
    "cycle_days",
    "win_probability",
    "region",
    "product",
    "owner",
]
ACTIVITY_COLUMNS = ["type", "day", "owner", "region"]
LEAD_COLUMNS = ["created_day", "converted", "response_hours", "owner", "region"]


def _inputs(ds: K.Dataset) -> dict[str, pl.DataFrame]:
    """The columns the core batch reads, as the engine holds them (dimensions as Enums)."""
    return {
        "deals": ds.table("deals").select(DEAL_COLUMNS),
        "activities": ds.table("activities").select(ACTIVITY_COLUMNS),
        "leads": ds.table("leads").select(LEAD_COLUMNS),
    }


def _derive(table: dict[str, list[float]]) -> None:
    """The ratio KPIs from their parts, null when the denominator is zero (as in the engine)."""

    def div(a: str, b: str) -> list[float]:
        return [x / y if y else float("nan") for x, y in zip(table[a], table[b], strict=True)]

    table["avg_deal_size"] = div("won_revenue", "deals_won")
    table["win_rate"] = div("deals_won", "closed_n")
    table["win_rate_value"] = div("won_revenue", "closed_amount")
    table["lead_conversion_rate"] = div("converted", "leads_n")
    table["leads_contacted_1h"] = div("fast", "leads_n")


# ---------------------------------------------------------------- pandas, written plainly
def to_pandas(ds: K.Dataset) -> dict[str, pd.DataFrame]:
    """The same columns in pandas (dimensions as pandas categoricals, the way a careful pandas user holds them)."""
    return {name: frame.to_pandas() for name, frame in _inputs(ds).items()}


def _grouped(frame: pd.DataFrame, by: list[str]) -> Any:
    if not by:
        return frame.groupby(np.zeros(len(frame), dtype=np.int8))
    if not set(by) <= set(frame.columns):  # this table cannot be split that way (the engine says so too)
        return frame.iloc[:0].groupby(np.zeros(0, dtype=np.int8))
    return frame.groupby(by, observed=True)


def pandas_batch(
    pdf: dict[str, pd.DataFrame], windows: list[Window], as_of: Any, dims: list[list[str]], region: str | None = None
) -> Values:
    deals, acts, leads = pdf["deals"], pdf["activities"], pdf["leads"]
    if region is not None:
        deals, acts, leads = (
            deals[deals["region"] == region],
            acts[acts["region"] == region],
            leads[leads["region"] == region],
        )
    out: Values = {}
    for key, start, end in windows:
        start, end = pd.Timestamp(start), pd.Timestamp(end)
        closed = deals[(deals["close_date"] >= start) & (deals["close_date"] < end)]
        created = deals[(deals["created_date"] >= start) & (deals["created_date"] < end)]
        open_ = closed[closed["status"] == "open"]
        holds = start <= pd.Timestamp(as_of) < end
        overdue = deals[(deals["status"] == "open") & (deals["close_date"] < pd.Timestamp(as_of))]
        a = acts[(acts["day"] >= start) & (acts["day"] < end)]
        le = leads[(leads["created_day"] >= start) & (leads["created_day"] < end)]
        won = closed[closed["status"] == "won"]
        lost_or_won = closed[closed["status"].isin(["won", "lost"])]
        for by in dims:

            def grouped(frame: pd.DataFrame, by: list[str] = by) -> Any:
                return _grouped(frame, by)

            parts = {
                "won_revenue": grouped(won)["amount"].sum(),
                "deals_won": grouped(won)["amount"].size(),
                "closed_n": grouped(lost_or_won)["amount"].size(),
                "closed_amount": grouped(lost_or_won)["amount"].sum(),
                "sales_cycle_days": grouped(won)["cycle_days"].mean(),
                "sales_cycle_days_median": grouped(won)["cycle_days"].median(),
                "new_opportunities": grouped(created)["amount"].size(),
                "pipeline_created": grouped(created)["amount"].sum(),
                "open_pipeline": grouped(open_)["amount"].sum(),
                "weighted_pipeline": grouped(open_.assign(w=open_["amount"] * open_["win_probability"]))["w"].sum(),
                # a state of the pipeline: every open deal due before the as-of date, in the period holding it only
                "overdue_deals": grouped(overdue)["amount"].size() if holds else pd.Series(dtype=float),
                "activities": grouped(a)["type"].size(),
                "calls": grouped(a[a["type"] == "call"])["type"].size(),
                "emails": grouped(a[a["type"] == "email"])["type"].size(),
                "meetings": grouped(a[a["type"] == "meeting"])["type"].size(),
                "leads_n": grouped(le)["converted"].size(),
                "converted": grouped(le)["converted"].sum(),
                "fast": grouped(le.assign(f=(le["response_hours"] >= 0) & (le["response_hours"] <= 1)))["f"].sum(),
                "lead_response_hours": grouped(le[le["response_hours"] >= 0])["response_hours"].median(),
            }
            # segments as plain labels: pandas cannot align categorical indexes whose codes differ in width
            parts = {
                k: v.set_axis(v.index.astype(str)) if isinstance(v.index, pd.CategoricalIndex) else v
                for k, v in parts.items()
            }
            table = pd.DataFrame(parts)
            columns = {c: table[c].tolist() for c in table.columns}
            _derive(columns)
            for i, segment in enumerate(table.index):
                seg = segment if isinstance(segment, tuple) else (segment,)
                for kpi in CORE:
                    value = columns[kpi][i]
                    if pd.notna(value) and value != float("inf"):
                        out[(kpi, key, tuple(str(s) for s in seg) if by else ())] = float(value)
    return out


# ---------------------------------------------------------------- DuckDB, one grouping-sets query per table
def to_duckdb(ds: K.Dataset) -> duckdb.DuckDBPyConnection:
    """The same columns as DuckDB tables (Enums arrive as DuckDB ENUMs), loaded outside the timing."""
    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count() or 2}")
    for name, frame in _inputs(ds).items():
        arrow = frame.to_arrow()  # noqa: F841 (read by the SQL below)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM arrow")
    return con


SQL = {
    "deals": (
        ["region", "product", "owner"],
        """
        sum(amount) FILTER (won AND closed) AS won_revenue,
        count(*) FILTER (won AND closed) AS deals_won,
        count(*) FILTER (status IN ('won', 'lost') AND closed) AS closed_n,
        sum(amount) FILTER (status IN ('won', 'lost') AND closed) AS closed_amount,
        avg(cycle_days) FILTER (won AND closed) AS sales_cycle_days,
        median(cycle_days) FILTER (won AND closed) AS sales_cycle_days_median,
        count(*) FILTER (created) AS new_opportunities,
        sum(amount) FILTER (created) AS pipeline_created,
        sum(amount) FILTER (status = 'open' AND closed) AS open_pipeline,
        sum(amount * win_probability) FILTER (status = 'open' AND closed) AS weighted_pipeline,
        count(*) FILTER (status = 'open' AND close_date < $as_of AND $holds) AS overdue_deals
        FROM (SELECT *, status = 'won' AS won, close_date >= $start AND close_date < $end AS closed,
              created_date >= $start AND created_date < $end AS created FROM deals {where})
        """,
    ),
    "activities": (
        ["region", "owner"],
        """
        count(*) AS activities,
        count(*) FILTER (type = 'call') AS calls,
        count(*) FILTER (type = 'email') AS emails,
        count(*) FILTER (type = 'meeting') AS meetings
        FROM activities WHERE day >= $start AND day < $end {and_where}
        """,
    ),
    "leads": (
        ["region", "owner"],
        """
        count(*) AS leads_n,
        count(*) FILTER (converted) AS converted,
        count(*) FILTER (response_hours >= 0 AND response_hours <= 1) AS fast,
        median(response_hours) FILTER (response_hours >= 0) AS lead_response_hours
        FROM leads WHERE created_day >= $start AND created_day < $end {and_where}
        """,
    ),
}


def duckdb_batch(
    con: duckdb.DuckDBPyConnection, windows: list[Window], as_of: Any, dims: list[list[str]], region: str | None = None
) -> Values:
    out: Values = {}
    for key, start, end in windows:
        rows: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, Any]] = {}
        for name, (present, body) in SQL.items():
            sets = [by for by in dims if set(by) <= set(present)]
            if not sets:
                continue
            used = sorted({d for by in sets for d in by}, key=present.index)
            grouping = ", ".join("(" + ", ".join(by) + ")" for by in sets)
            select = ", ".join([*used, f"grouping({', '.join(used)}) AS gid"]) if used else "0 AS gid"
            where = "WHERE region = $region" if region is not None else ""
            sql = f"SELECT {select}, " + body.format(where=where, and_where=where.replace("WHERE", "AND"))
            sql += f" GROUP BY GROUPING SETS ({grouping})" if used else ""
            params: dict[str, Any] = {"start": start, "end": end}
            if name == "deals":
                params["as_of"] = as_of
                params["holds"] = bool(start <= as_of < end)  # past-due deals: a state of the period holding as-of
            if region is not None:
                params["region"] = region
            cursor = con.execute(sql, params)
            names = [d[0] for d in cursor.description]
            for record in (dict(zip(names, r, strict=True)) for r in cursor.fetchall()):
                gid = record["gid"]
                grouped_by = [d for i, d in enumerate(used) if not gid >> (len(used) - 1 - i) & 1]
                if any(record[d] is None for d in grouped_by):
                    continue  # rows without that dimension form no segment (as in the engine and pandas)
                segment = (tuple(grouped_by), tuple(str(record[d]) for d in grouped_by))
                rows.setdefault(segment, {}).update({k: v for k, v in record.items() if k not in used and k != "gid"})
        for (by, seg), values in rows.items():
            parts = {k: [float(v) if v is not None else float("nan")] for k, v in values.items()}
            for part in ("won_revenue", "deals_won", "closed_n", "closed_amount", "converted", "leads_n", "fast"):
                parts.setdefault(part, [float("nan")])
            _derive(parts)
            for kpi in CORE:
                value = parts.get(kpi, [float("nan")])[0]
                if value == value and not (kpi == "overdue_deals" and not (start <= as_of < end)):  # not NaN
                    out[(kpi, key, seg if by else ())] = value
    return out


def assert_same(engine: Values, other: Values, what: str) -> int:
    """Every value the other engine produced equals the engine's (a segment the engine has no row for holds only
    zero counts there); the engine's extra keys are zero counts or sums."""
    checked = 0
    for key, value in other.items():
        got = engine.get(key, 0.0 if value == 0 else None)
        assert got is not None and abs(got - value) <= 1e-9 * max(1.0, abs(value)), (what, key, got, value)
        checked += 1
    return checked


def _spread(times: list[float]) -> str:
    return f"min {min(times) * 1000:,.0f}, max {max(times) * 1000:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--load-runs", type=int, default=5, help="fresh processes timing load + prepare")
    parser.add_argument("--no-pandas", action="store_true", help="skip pandas (its 10M run needs about 10 GB more)")
    args = parser.parse_args()
    big = args.deals >= 10_000_000
    targets = {"scorecard": 4000 if big else 350, "filter": 400 if big else 40, "load": 60 if big else 2.5}
    peak_target = 8192 if big else 1536

    folder = company(args.deals)
    loads = fresh_loads(folder, args.load_runs)
    with RssPeak() as loading:
        started = time.perf_counter()
        ds = K.Dataset.prepare(scan_folder(folder), columns="kpis")
        load_s = time.perf_counter() - started
    sizes = {n: ds.table(n).height for n in ("deals", "activities", "leads")}
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"polars {pl.__version__}, pandas {pd.__version__}, duckdb {duckdb.__version__}; {date.today()}"
    )
    print(
        f"data: {sizes['deals']:,} deals, {sizes['activities']:,} activities, {sizes['leads']:,} leads; "
        f"load + prepare from Parquet {load_s:.2f} s (target <= {targets['load']} s), peak {loading.mb:,.0f} MB"
    )
    if loads:
        seconds, mbs = [s for s, _ in loads], [m for _, m in loads]
        print(
            f"load + prepare in {len(loads)} fresh processes: median {np.median(seconds):.2f} s (min "
            f"{min(seconds):.2f}, max {max(seconds):.2f}); process peak median {np.median(mbs):,.0f} MB (min "
            f"{min(mbs):,.0f}, max {max(mbs):,.0f})"
        )

    scorecard(ds)  # warm-up
    with RssPeak() as evaluating:
        times, frames = timed(lambda: scorecard(ds), args.runs)
    print(
        f"full scorecard (all {len(K.REGISTRY)} KPIs x overall/region/product/owner, month + comparisons): "
        f"{np.median(times) * 1000:,.0f} ms median of {args.runs} ({_spread(times)}; target <= "
        f"{targets['scorecard']:,} ms); {sum(f.height for f in frames):,} rows"
    )
    region = str(ds.table("deals").get_column("region").drop_nulls()[0])
    quarter = resolve_periods(ds, "quarter", 2)[0]

    def filtered() -> pl.DataFrame:
        return K.evaluate(ds, grain="quarter", periods=[quarter], filters={"region": [region]})

    filtered()
    with RssPeak() as filtering:
        times, _ = timed(filtered, args.runs)
    print(
        f"filter change (all KPIs, region={region}, {quarter.label}): {np.median(times) * 1000:,.0f} ms median "
        f"({_spread(times)}; target <= {targets['filter']} ms)"
    )
    print(
        f"peak memory: whole process {peak_mb():,.0f} MB (target <= {peak_target:,} MB): loading and preparing "
        f"{loading.mb:,.0f} MB, evaluating {max(evaluating.mb, filtering.mb):,.0f} MB"
    )

    # the same core batch in the engine, in DuckDB and in plain pandas, checked to give the same numbers
    month = resolve_periods(ds, "month")[0]
    cut = ds.as_of - month.start
    prev = K.periods.shift(month, -1)
    last_year = K.periods.year_ago(month)
    windows: list[Window] = [
        (month.label, month.start, month.end),
        (
            f"{prev.label} to {(prev.start + cut):%m-%d}",
            prev.start,
            min(prev.start + cut + timedelta(days=1), prev.end),
        ),
        (
            f"{last_year.label} to {(last_year.start + cut):%m-%d}",
            last_year.start,
            min(last_year.start + cut + timedelta(days=1), last_year.end),
        ),
    ]
    core_batch(ds)
    core_times, core_frames = timed(lambda: core_batch(ds), args.runs)
    engine: Values = {}
    for frame, by in zip(core_frames, DIMS, strict=True):
        for row in frame.iter_rows(named=True):
            seg = tuple(str(row[d]) for d in by)
            for column, key in (("value", windows[0][0]), ("previous", windows[1][0]), ("last_year", windows[2][0])):
                if row[column] is not None:
                    engine[(row["kpi"], key, seg)] = row[column]
    q_windows: list[Window] = [(quarter.label, quarter.start, quarter.end)]

    def engine_filter() -> pl.DataFrame:
        return K.evaluate(ds, CORE, grain="quarter", periods=[quarter], filters={"region": [region]}, compare=False)

    engine_filter()
    ef_times, ef = timed(engine_filter, args.runs)
    engine_q: Values = {
        (r["kpi"], quarter.label, ()): r["value"] for r in ef.iter_rows(named=True) if r["value"] is not None
    }

    def without_comparisons(values: Values) -> Values:
        # open-pipeline KPIs are as of the export date: the engine gives them no comparison windows
        return {k: v for k, v in values.items() if not (k[0] in POINT_IN_TIME and k[1] != windows[0][0])}

    con = to_duckdb(ds)
    duck_batch = lambda: duckdb_batch(con, windows, ds.as_of, DIMS)  # noqa: E731
    duck_filter = lambda: duckdb_batch(con, q_windows, ds.as_of, [[]], region=region)  # noqa: E731
    duck_batch()
    duck_times, duck = timed(duck_batch, args.runs)
    duck_f_times, duck_f = timed(duck_filter, args.runs)
    checked = assert_same(engine, without_comparisons(duck), "duckdb")
    assert_same(engine_q, duck_f, "duckdb filter")
    con.close()
    lines = [("duckdb", duck_times, duck_f_times, checked)]
    if not args.no_pandas:
        pdf = to_pandas(ds)
        runs = max(1, args.runs // 2)
        pandas_times, plain = timed(lambda: pandas_batch(pdf, windows, ds.as_of, DIMS), runs)
        pandas_f_times, pf = timed(lambda: pandas_batch(pdf, q_windows, ds.as_of, [[]], region=region), runs)
        checked = assert_same(engine, without_comparisons(plain), "pandas")
        assert_same(engine_q, pf, "pandas filter")
        lines.append(("pandas", pandas_times, pandas_f_times, checked))
        del pdf
    core_ms, ef_ms = np.median(core_times) * 1000, np.median(ef_times) * 1000
    print(
        f"core batch ({len(CORE)} KPIs x overall/region/product/owner x 3 windows): engine {core_ms:,.0f} ms "
        f"({_spread(core_times)}); filter change on it {ef_ms:,.0f} ms ({_spread(ef_times)})"
    )
    for name, batch_times, filter_times, checked in lines:
        other_ms, other_f_ms = np.median(batch_times) * 1000, np.median(filter_times) * 1000
        print(
            f"  {name}: same numbers ({checked:,} values checked); batch {other_ms:,.0f} ms ({_spread(batch_times)}) "
            f"= {other_ms / core_ms:.1f}x the engine's time; filter {other_f_ms:,.0f} ms ({_spread(filter_times)}) "
            f"= {other_f_ms / ef_ms:.1f}x  (aim >= {5 if name == 'pandas' else 1.5}x)"
        )


if __name__ == "__main__":
    main()
