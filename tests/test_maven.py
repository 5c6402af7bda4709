"""Independent check on the public Maven CRM data: plain Python with the csv module against the engine."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from datetime import date

import pytest

import kpi_core as K
from kpi_core import periods as P
from tests.conftest import MAVEN


def plain_python() -> dict[tuple[str, str], dict[str, float | None]]:
    """(period label, region) -> KPIs, from the raw CSVs; 'all' and '*' are the totals."""
    region_of = {}
    with open(MAVEN / "sales_teams.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            region_of[row["sales_agent"]] = row["regional_office"]
    groups: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    with open(MAVEN / "sales_pipeline.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["deal_stage"] not in ("Won", "Lost"):
                continue
            closed = date.fromisoformat(row["close_date"])
            quarter = f"{closed.year}-Q{(closed.month - 1) // 3 + 1}"
            for key in (
                (quarter, "*"),
                ("all", "*"),
                (quarter, region_of[row["sales_agent"]]),
                ("all", region_of[row["sales_agent"]]),
            ):
                groups[key].append(row)
    out = {}
    for key, rows in groups.items():
        won = [r for r in rows if r["deal_stage"] == "Won"]
        revenue = sum(int(r["close_value"]) for r in won)
        cycles = [(date.fromisoformat(r["close_date"]) - date.fromisoformat(r["engage_date"])).days for r in won]
        out[key] = {
            "won_revenue": float(revenue),
            "deals_won": float(len(won)),
            "win_rate": len(won) / len(rows),
            "avg_deal_size": revenue / len(won) if won else None,
            "sales_cycle_days": sum(cycles) / len(cycles) if cycles else None,
            "sales_cycle_days_median": float(statistics.median(cycles)) if cycles else None,
        }
    return out


KPIS = ["won_revenue", "deals_won", "win_rate", "avg_deal_size", "sales_cycle_days", "sales_cycle_days_median"]


@pytest.fixture(scope="module")
def maven() -> K.Dataset:
    files = [MAVEN / n for n in ("sales_pipeline.csv", "sales_teams.csv", "products.csv", "accounts.csv")]
    return K.Dataset.prepare(K.load_files(files))


@pytest.fixture(scope="module")
def expected() -> dict[tuple[str, str], dict[str, float | None]]:
    return plain_python()


def test_maven_loads_as_one_dataset(maven: K.Dataset) -> None:
    assert maven.table("deals").height == 8800
    assert maven.as_of == date(2017, 12, 31)
    assert sorted(maven.table("deals").get_column("region").drop_nulls().cast(str).unique()) == [
        "Central",
        "East",
        "West",
    ]


def test_maven_totals_match_plain_python_exactly(
    maven: K.Dataset, expected: dict[tuple[str, str], dict[str, float | None]]
) -> None:
    frame = K.evaluate(maven, KPIS, grain="all")
    assert dict(frame.select("kpi", "value").rows()) == expected[("all", "*")]
    assert expected[("all", "*")]["won_revenue"] == 10_005_534.0  # the figure the data set is known by


def test_maven_quarters_match_plain_python_exactly(
    maven: K.Dataset, expected: dict[tuple[str, str], dict[str, float | None]]
) -> None:
    quarters = [P.parse(q) for q in ("2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4")]
    frame = K.evaluate(maven, KPIS, grain="quarter", periods=quarters, compare=False)
    got = {(r["period"], "*"): {} for r in frame.iter_rows(named=True)}
    for r in frame.iter_rows(named=True):
        got[(r["period"], "*")][r["kpi"]] = r["value"]
    assert got == {k: v for k, v in expected.items() if k[0] != "all" and k[1] == "*"}


def test_maven_by_region_matches_plain_python_exactly(
    maven: K.Dataset, expected: dict[tuple[str, str], dict[str, float | None]]
) -> None:
    frame = K.evaluate(maven, KPIS, grain="all", by=["region"])
    got: dict[tuple[str, str], dict[str, float | None]] = defaultdict(dict)
    for r in frame.iter_rows(named=True):
        got[("all", r["region"])][r["kpi"]] = r["value"]
    assert dict(got) == {k: v for k, v in expected.items() if k[0] == "all" and k[1] != "*"}


def test_open_maven_deals_have_no_close_date_and_count_in_all_time_pipeline(maven: K.Dataset) -> None:
    open_amount = K.evaluate(maven, ["open_pipeline", "new_opportunities"], grain="all")
    # Engaging/Prospecting deals carry no close value or close date in this data set
    assert dict(open_amount.select("kpi", "value").rows()) == {"open_pipeline": 0.0, "new_opportunities": 8300.0}
