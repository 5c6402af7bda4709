from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpi_core import periods as P


@pytest.mark.parametrize(
    ("day", "grain", "fy", "expected"),
    [
        (date(2026, 11, 23), "week", 1, ("2026-W48", date(2026, 11, 23), date(2026, 11, 30))),
        (date(2027, 1, 1), "week", 1, ("2026-W53", date(2026, 12, 28), date(2027, 1, 4))),
        (date(2017, 3, 1), "week", 1, ("2017-W09", date(2017, 2, 27), date(2017, 3, 6))),
        (date(2026, 11, 23), "month", 1, ("2026-11", date(2026, 11, 1), date(2026, 12, 1))),
        (date(2026, 11, 23), "quarter", 1, ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1))),
        (date(2026, 11, 23), "year", 1, ("2026", date(2026, 1, 1), date(2027, 1, 1))),
        (date(2026, 7, 1), "quarter", 7, ("FY2027-Q1", date(2026, 7, 1), date(2026, 10, 1))),
        (date(2026, 6, 30), "quarter", 7, ("FY2026-Q4", date(2026, 4, 1), date(2026, 7, 1))),
        (date(2026, 11, 23), "year", 7, ("FY2027", date(2026, 7, 1), date(2027, 7, 1))),
        (date(2026, 2, 15), "quarter", 2, ("FY2027-Q1", date(2026, 2, 1), date(2026, 5, 1))),
        (date(2026, 1, 15), "quarter", 2, ("FY2026-Q4", date(2025, 11, 1), date(2026, 2, 1))),
        (date(2026, 11, 23), "all", 1, ("all", P.ALL_START, P.ALL_END)),
    ],
)
def test_period_of_a_day(day: date, grain: P.Grain, fy: int, expected: tuple[str, date, date]) -> None:
    period = P.make(day, grain, fy)
    assert (period.label, period.start, period.end) == expected
    assert P.parse(period.label, fy) == period


def test_previous_and_year_ago() -> None:
    q = P.parse("2026-Q1")
    assert (P.shift(q, -1).label, P.year_ago(q).label) == ("2025-Q4", "2025-Q1")
    w = P.parse("2026-W01")
    assert (P.shift(w, -1).label, P.year_ago(w).label) == ("2025-W52", "2025-W01")
    fy = P.parse("FY2027-Q1", 7)
    assert (P.shift(fy, -1, 7).label, P.year_ago(fy, 7).label) == ("FY2026-Q4", "FY2026-Q1")


@pytest.mark.parametrize("text", ["", "2026-13", "Q4", "2026-W60", "FY-2026"])
def test_bad_labels_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="period label"):
        P.parse(text)


@given(
    days=st.lists(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)), min_size=1, max_size=30),
    grain=st.sampled_from(["week", "month", "quarter", "year"]),
    fy=st.integers(1, 12),
)
def test_polars_buckets_match_python(days: list[date], grain: P.Grain, fy: int) -> None:
    frame = pl.DataFrame({"day": days}).with_columns(start=P.start_expr("day", grain, fy))
    assert frame["start"].to_list() == [P.period_start(day, grain, fy) for day in days]
    for day in days:
        period = P.make(day, grain, fy)
        assert period.contains(day)
        assert P.shift(P.shift(period, 1, fy), -1, fy) == period
        assert P.shift(period, 1, fy).start == period.end
        assert period.end - period.start >= timedelta(days=7)
