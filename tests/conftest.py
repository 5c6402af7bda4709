from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import settings

import kpi_core as K
from sample_data import load_sample

# CI runs the same examples every time (a fixed seed), so a landing never depends on luck; locally Hypothesis
# explores new examples on each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# an error on a page fails the test instead of becoming the short message users see (ui/guard.py)
os.environ.setdefault("KPI_WORKBENCH_RAISE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MAVEN = SHARED / "data" / "maven-crm"


@pytest.fixture(scope="session")
def sample() -> K.Dataset:
    return K.Dataset.prepare(load_sample())


def d(text: str) -> date:
    return date.fromisoformat(text)


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def small_tables() -> dict[str, pl.DataFrame]:
    """A tiny company whose KPIs for March 2026 are worked out by hand in test_kpis.py."""
    deals = pl.DataFrame(
        {
            "deal_id": ["d1", "d2", "d3", "d4", "d5", "d6"],
            "owner": ["ann", "ann", "bob", "bob", "ann", "bob"],
            "account": ["A", "B", "C", "C", "D", "E"],
            "stage": ["Closed Won", "Closed Lost", "Closed Won", "Closed Won", "Proposal", "Qualification"],
            "amount": [100.0, 50.0, 300.0, 200.0, 400.0, 80.0],
            "probability": [None, None, None, None, 0.5, 0.2],
            "created_date": [
                d("2026-01-10"),
                d("2026-02-01"),
                d("2026-03-01"),
                d("2026-01-15"),
                d("2026-02-10"),
                d("2026-03-20"),
            ],
            "close_date": [
                d("2026-03-05"),
                d("2026-03-10"),
                d("2026-03-21"),
                d("2026-02-14"),
                d("2026-04-15"),
                d("2026-03-25"),
            ],
            "gross_profit": [60.0, None, 150.0, 100.0, None, None],
            "deal_type": ["New Business", "New Business", "Upsell", "New Business", None, None],
        }
    )
    history = pl.DataFrame(
        {
            "deal_id": ["d1", "d1", "d1", "d3", "d3", "d5", "d5", "d6"],
            "stage": [
                "Prospecting",
                "Proposal",
                "Closed Won",
                "Prospecting",
                "Closed Won",
                "Prospecting",
                "Proposal",
                "Qualification",
            ],
            "entered_at": [
                dt("2026-01-10"),
                dt("2026-02-01"),
                dt("2026-03-05"),
                dt("2026-03-01"),
                dt("2026-03-21"),
                dt("2026-02-10"),
                dt("2026-03-05"),
                dt("2026-03-20"),
            ],
        }
    )
    activities = pl.DataFrame(
        {
            "activity_id": ["a1", "a2", "a3", "a4", "a5"],
            "owner": ["ann", "ann", "bob", "bob", "ann"],
            "type": ["Call", "Email", "Meeting", "call", "call"],
            "deal_id": ["d3", None, None, "d6", None],
            "activity_date": [
                dt("2026-03-02 10:00"),
                dt("2026-03-03 11:00"),
                dt("2026-03-10 09:00"),
                dt("2026-03-11 15:00"),
                dt("2026-02-27 12:00"),
            ],
        }
    )
    leads = pl.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4"],
            "owner": ["ann", "bob", "ann", "bob"],
            "created_at": [
                dt("2026-03-01 09:00"),
                dt("2026-03-02 10:00"),
                dt("2026-03-05 12:00"),
                dt("2026-03-06 08:00"),
            ],
            "first_response_at": [dt("2026-03-01 09:30"), dt("2026-03-02 13:00"), None, dt("2026-03-06 09:00")],
            "converted": [True, False, False, True],
        }
    )
    subscriptions = pl.DataFrame(
        {
            "account": ["A", "B", "C", "C", "E", "E"],
            "start_date": [
                d("2026-03-05"),
                d("2025-12-01"),
                d("2026-02-14"),
                d("2026-03-21"),
                d("2026-01-01"),
                d("2026-03-10"),
            ],
            "end_date": [None, d("2026-03-15"), None, None, d("2026-03-10"), None],
            "mrr": [100.0, 50.0, 200.0, 25.0, 40.0, 30.0],
        }
    )
    targets = pl.DataFrame(
        {
            "period": ["2026-03", "2026-03"],
            "kpi": ["won_revenue", "won_revenue"],
            "value": [300.0, 500.0],
            "owner": ["ann", "bob"],
        }
    )
    spend = pl.DataFrame({"period": ["2026-03"], "sales_cost": [1000.0], "marketing_cost": [500.0]})
    reps = pl.DataFrame(
        {"owner": ["ann", "bob"], "team": ["T1", "T2"], "manager": ["Mia", "Max"], "region": ["EMEA", "APAC"]}
    )
    return {
        "deals": deals,
        "stage_history": history,
        "activities": activities,
        "leads": leads,
        "subscriptions": subscriptions,
        "targets": targets,
        "spend": spend,
        "reps": reps,
    }


@pytest.fixture
def small() -> K.Dataset:
    return K.Dataset.prepare(small_tables(), as_of=d("2026-03-31"))
