"""Forecast accuracy from snapshots, on a hand-computed case and on the sample company's history."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

import kpi_core as K
from kpi_core.forecast import forecast_accuracy, prepare_history


def snap(day: date, rows: list[tuple[str, str, float, date, float, str]]) -> K.Dataset:
    deals = pl.DataFrame(
        rows,
        schema={
            "deal_id": pl.String,
            "stage": pl.String,
            "amount": pl.Float64,
            "close_date": pl.Date,
            "probability": pl.Float64,
            "forecast_category": pl.String,
        },
        orient="row",
    )
    reps = pl.DataFrame({"owner": ["ann"], "region": ["EMEA"]})
    return K.Dataset.prepare({"deals": deals.with_columns(owner=pl.lit("ann")), "reps": reps}, as_of=day)


START = snap(
    date(2026, 9, 30),
    [
        ("A", "Proposal", 100.0, date(2026, 10, 10), 0.5, "Pipeline"),
        ("B", "Negotiation", 200.0, date(2026, 10, 20), 0.25, "Commit"),
        ("C", "Proposal", 300.0, date(2026, 11, 5), 0.5, "Pipeline"),  # closes after October: not in its forecast
    ],
)
WEEK_1 = snap(
    date(2026, 10, 7),
    [
        ("A", "Proposal", 100.0, date(2026, 10, 10), 0.5, "Pipeline"),
        ("B", "Negotiation", 200.0, date(2026, 10, 20), 0.25, "Commit"),
        ("D", "Proposal", 80.0, date(2026, 10, 25), 0.6, "Pipeline"),
    ],
)
LATEST = snap(
    date(2026, 11, 2),
    [
        ("A", "Closed Won", 100.0, date(2026, 10, 10), 1.0, "Closed"),
        ("B", "Closed Lost", 200.0, date(2026, 10, 21), 0.0, "Omitted"),
        ("D", "Closed Won", 80.0, date(2026, 10, 25), 1.0, "Closed"),
        ("C", "Proposal", 300.0, date(2026, 11, 5), 0.5, "Pipeline"),
    ],
)


def test_forecast_accuracy_by_hand() -> None:
    frame = forecast_accuracy([START, WEEK_1, LATEST], grain="month", weekly=True)
    assert frame.rows() == [
        # forecast at the start: A 100 x 0.5 + B 200 x 0.25 = 100; commit: B at full amount = 200; actual: A + D = 180
        (
            "2026-10",
            date(2026, 9, 30),
            0,
            100.0,
            200.0,
            180.0,
            pytest.approx(1 - 80 / 180),
            pytest.approx(1 - 20 / 180),
        ),
        # a week in: D (80 x 0.6) joined the forecast
        (
            "2026-10",
            date(2026, 10, 7),
            1,
            148.0,
            200.0,
            180.0,
            pytest.approx(1 - 32 / 180),
            pytest.approx(1 - 20 / 180),
        ),
    ]


def test_forecast_accuracy_per_region() -> None:
    frame = forecast_accuracy([START, LATEST], grain="month", by=["region"])
    assert frame.select("period", "region", "forecast", "actual").rows() == [("2026-10", "EMEA", 100.0, 180.0)]


def test_no_history_no_rows() -> None:
    assert forecast_accuracy([LATEST]).height == 0


def test_the_sample_history_has_forecast_accuracy() -> None:
    from sample_data import load_sample
    from sample_data.history import weekly_snapshots

    history = prepare_history(weekly_snapshots(load_sample()))
    frame = forecast_accuracy(history, grain="month")
    assert frame["period"].to_list() == ["2026-09", "2026-10"]
    assert frame["accuracy"].drop_nulls().len() == 2 and frame.filter(pl.col("accuracy") > 0).height >= 1


def test_quarters_follow_the_fiscal_year() -> None:
    """With a fiscal year starting in November, FY2027-Q1 runs from 1 November to 31 January: the snapshot of 30
    September stands for its start (the latest one before it), and its forecast
    is C at 50% = 150 (A and B close in October, outside it) against D's 80 won: accuracy 1 - 70 / 80. In calendar
    quarters the same snapshots give 2026-Q4 instead: A, B and C weighted (250) against A and D won (180)."""
    q_start = snap(
        date(2026, 9, 30),
        [
            ("A", "Proposal", 100.0, date(2026, 10, 10), 0.5, "Pipeline"),
            ("B", "Negotiation", 200.0, date(2026, 10, 20), 0.25, "Commit"),
            ("C", "Proposal", 300.0, date(2026, 11, 5), 0.5, "Pipeline"),
        ],
    )
    q_end = snap(
        date(2027, 2, 3),
        [
            ("A", "Closed Won", 100.0, date(2026, 10, 10), 1.0, "Closed"),
            ("B", "Closed Lost", 200.0, date(2026, 10, 21), 0.0, "Omitted"),
            ("D", "Closed Won", 80.0, date(2026, 12, 15), 1.0, "Closed"),
            ("C", "Closed Lost", 300.0, date(2026, 11, 5), 0.0, "Omitted"),
        ],
    )
    fiscal = forecast_accuracy([q_start, q_end], grain="quarter", fiscal_year_start=11)
    assert fiscal.select("period", "snapshot", "forecast", "actual").rows() == [
        ("FY2027-Q1", date(2026, 9, 30), 150.0, 80.0)
    ]
    assert fiscal["accuracy"].to_list() == pytest.approx([1 - 70 / 80])
    calendar = forecast_accuracy([q_start, q_end], grain="quarter")
    assert calendar.select("period", "snapshot", "forecast", "actual").rows() == [
        ("2026-Q4", date(2026, 9, 30), 250.0, 180.0)
    ]
