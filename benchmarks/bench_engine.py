"""Engine benchmark: 1M deals, 10M activities, 1M leads from the sample generator.

Times the full scorecard (every KPI, current and comparison periods, overall and by region, product and
owner, monthly) and a filter change (one region, one quarter), reports peak memory, and times the same
core batch written plainly in pandas after asserting both give the same numbers.

    .venv/bin/python benchmarks/bench_engine.py [--deals 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kpi_core as K  # noqa: E402
from benchmarks.common import RssPeak, company, median_time  # noqa: E402
from kpi_core.engine import POINT_IN_TIME, resolve_periods  # noqa: E402

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


def scorecard(ds: K.Dataset) -> list[pl.DataFrame]:
    return [K.evaluate(ds, grain="month", by=by) for by in DIMS]


def core_batch(ds: K.Dataset) -> list[pl.DataFrame]:
    return [K.evaluate(ds, CORE, grain="month", by=by) for by in DIMS]


# ---------------------------------------------------------------- pandas, written plainly
def to_pandas(ds: K.Dataset) -> dict[str, pd.DataFrame]:
    def plain(frame: pl.DataFrame, cols: list[str]) -> pd.DataFrame:
        out = frame.select(cols).with_columns(
            [pl.col(c).cast(pl.String) for c in cols if isinstance(frame.schema[c], pl.Enum)]
        )
        return out.to_pandas()

    return {
        "deals": plain(
            ds.table("deals"),
            [
                "status",
                "amount",
                "created_date",
                "close_date",
                "cycle_days",
                "win_probability",
                "region",
                "product",
                "owner",
            ],
        ),
        "activities": plain(ds.table("activities"), ["type", "day", "owner", "region"]),
        "leads": plain(
            ds.table("leads"), ["created_day", "converted", "response_hours", "owner", "region", "lead_source"]
        ),
    }


def _grouped(frame: pd.DataFrame, by: list[str]) -> Any:
    if not by:
        return frame.groupby(np.zeros(len(frame), dtype=np.int8))
    if not set(by) <= set(frame.columns):  # this table cannot be split that way (the engine says so too)
        return frame.iloc[:0].groupby(np.zeros(0, dtype=np.int8))
    return frame.groupby(by, observed=True)


def pandas_batch(
    pdf: dict[str, pd.DataFrame],
    windows: list[tuple[str, Any, Any]],
    as_of: Any,
    dims: list[list[str]],
    region: str | None = None,
) -> dict[tuple[str, str, tuple[str, ...]], float]:
    deals, acts, leads = pdf["deals"], pdf["activities"], pdf["leads"]
    if region is not None:
        deals, acts, leads = (
            deals[deals["region"] == region],
            acts[acts["region"] == region],
            leads[leads["region"] == region],
        )
    out: dict[tuple[str, str, tuple[str, ...]], float] = {}
    for key, start, end in windows:
        start, end = pd.Timestamp(start), pd.Timestamp(end)
        closed = deals[(deals["close_date"] >= start) & (deals["close_date"] < end)]
        created = deals[(deals["created_date"] >= start) & (deals["created_date"] < end)]
        open_ = closed[closed["status"] == "open"]
        a = acts[(acts["day"] >= start) & (acts["day"] < end)]
        le = leads[(leads["created_day"] >= start) & (leads["created_day"] < end)]
        for by in dims:

            def grouped(frame: pd.DataFrame, by: list[str] = by) -> Any:
                return _grouped(frame, by)

            won = closed[closed["status"] == "won"]
            lost_or_won = closed[closed["status"].isin(["won", "lost"])]
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
                "overdue_deals": grouped(open_[open_["close_date"] < pd.Timestamp(as_of)])["amount"].size(),
                "activities": grouped(a)["type"].size(),
                "calls": grouped(a[a["type"] == "call"])["type"].size(),
                "emails": grouped(a[a["type"] == "email"])["type"].size(),
                "meetings": grouped(a[a["type"] == "meeting"])["type"].size(),
                "leads_n": grouped(le)["converted"].size(),
                "converted": grouped(le)["converted"].sum(),
                "fast": grouped(le.assign(f=(le["response_hours"] >= 0) & (le["response_hours"] <= 1)))["f"].sum(),
                "lead_response_hours": grouped(le[le["response_hours"] >= 0])["response_hours"].median(),
            }
            table = pd.DataFrame(parts)
            table["avg_deal_size"] = table["won_revenue"] / table["deals_won"]
            table["win_rate"] = table["deals_won"] / table["closed_n"]
            table["win_rate_value"] = table["won_revenue"] / table["closed_amount"]
            table["lead_conversion_rate"] = table["converted"] / table["leads_n"]
            table["leads_contacted_1h"] = table["fast"] / table["leads_n"]
            for segment, row in table.iterrows():
                seg = segment if isinstance(segment, tuple) else (segment,)
                for kpi in CORE:
                    value = row[kpi]
                    if pd.notna(value) and value != float("inf"):
                        out[(kpi, key, tuple(str(s) for s in seg) if by else ())] = float(value)
    return out


def assert_same(
    engine: dict[tuple[str, str, tuple[str, ...]], float], plain: dict[tuple[str, str, tuple[str, ...]], float]
) -> int:
    """Every value pandas produced equals the engine's; the engine's extra keys are zero counts/sums."""
    checked = 0
    for key, value in plain.items():
        got = engine.get(key)
        assert got is not None and abs(got - value) <= 1e-9 * max(1.0, abs(value)), (key, got, value)
        checked += 1
    for key, value in engine.items():
        if key not in plain:
            assert value == 0, (key, value)
    return checked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    folder = company(args.deals)
    started = time.perf_counter()
    ds = K.Dataset.prepare({p.stem: pl.read_parquet(p) for p in folder.glob("*.parquet")})
    load_s = time.perf_counter() - started
    sizes = {n: ds.table(n).height for n in ("deals", "activities", "leads")}
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {__import__('os').cpu_count()} cores, "
        f"python {platform.python_version()}, polars {pl.__version__}, pandas {pd.__version__}"
    )
    print(
        f"data: {sizes['deals']:,} deals, {sizes['activities']:,} activities, {sizes['leads']:,} leads; "
        f"load and prepare {load_s:.2f} s, peak so far {peak_mb():,.0f} MB"
    )

    scorecard(ds)  # warm-up
    with RssPeak() as evaluating:
        full_s, frames = median_time(lambda: scorecard(ds), args.runs)
    print(
        f"full scorecard (all {len(K.REGISTRY)} KPIs x overall/region/product/owner, month + comparisons): "
        f"{full_s * 1000:.0f} ms median of {args.runs}  (target <= 1000 ms); {sum(f.height for f in frames):,} rows"
    )
    region = str(ds.table("deals").get_column("region").drop_nulls()[0])
    quarter = resolve_periods(ds, "quarter", 2)[0]

    def filtered() -> pl.DataFrame:
        return K.evaluate(ds, grain="quarter", periods=[quarter], filters={"region": [region]})

    with RssPeak() as filtering:
        filter_s, _ = median_time(filtered, args.runs)
    print(f"filter change (all KPIs, region={region}, {quarter.label}): {filter_s * 1000:.0f} ms  (target <= 150 ms)")
    print(
        f"peak memory: whole process (load + prepare + evaluate) {peak_mb():,.0f} MB, while evaluating "
        f"{max(evaluating.mb, filtering.mb):,.0f} MB  (target <= 2500 MB)"
    )

    # the same core batch, in the engine and in plain pandas
    pdf = to_pandas(ds)
    month = resolve_periods(ds, "month")[0]
    cut = ds.as_of - month.start
    from datetime import timedelta

    prev = K.periods.shift(month, -1)
    last_year = K.periods.year_ago(month)
    windows = [
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
    core_s, core_frames = median_time(lambda: core_batch(ds), args.runs)
    pandas_s, plain = median_time(lambda: pandas_batch(pdf, windows, ds.as_of, DIMS), max(1, args.runs // 2))
    engine = {}
    for frame, by in zip(core_frames, DIMS, strict=True):
        for row in frame.iter_rows(named=True):
            seg = tuple(str(row[d]) for d in by)
            for column, key in (("value", windows[0][0]), ("previous", windows[1][0]), ("last_year", windows[2][0])):
                if row[column] is not None:
                    engine[(row["kpi"], key, seg)] = row[column]
    # open-pipeline KPIs are as of the export date: the engine gives them no comparison windows
    plain = {k: v for k, v in plain.items() if not (k[0] in POINT_IN_TIME and k[1] != windows[0][0])}
    checked = assert_same(engine, plain)
    print(f"same numbers: {checked:,} values checked against pandas")
    print(
        f"core batch ({len(CORE)} KPIs): polars engine {core_s * 1000:.0f} ms, pandas {pandas_s * 1000:.0f} ms, "
        f"ratio {pandas_s / core_s:.1f}x  (aim >= 2x)"
    )
    q_windows = [(quarter.label, quarter.start, quarter.end)]

    def engine_filter() -> pl.DataFrame:
        return K.evaluate(ds, CORE, grain="quarter", periods=[quarter], filters={"region": [region]}, compare=False)

    ef_s, ef = median_time(engine_filter, args.runs)
    pf_s, pf = median_time(lambda: pandas_batch(pdf, q_windows, ds.as_of, [[]], region=region), args.runs)
    assert_same(
        {(r["kpi"], quarter.label, ()): r["value"] for r in ef.iter_rows(named=True) if r["value"] is not None}, pf
    )
    print(
        f"filter change, core batch: polars engine {ef_s * 1000:.0f} ms, pandas {pf_s * 1000:.0f} ms, ratio {pf_s / ef_s:.1f}x  (aim >= 3x)"
    )


if __name__ == "__main__":
    main()
