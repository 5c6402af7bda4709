"""Periods: half-open date ranges at a grain, fiscal quarters/years and their labels.

A period is ``[start, end)``. Weeks are ISO weeks (Monday start); quarters and years follow the
fiscal-year start month (1 = calendar year). Fiscal years are named by the calendar year in which
they end (a year starting July 2026 is ``FY2027``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, get_args

import polars as pl

Grain = Literal["week", "month", "quarter", "year", "all"]
GRAINS: tuple[Grain, ...] = get_args(Grain)
ALL_START = date(1900, 1, 1)
ALL_END = date(2200, 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    """One period: ``[start, end)`` at a grain, with its catalog label."""

    start: date
    end: date
    grain: Grain
    label: str

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _fiscal(fy_start: int) -> bool:
    return fy_start != 1


def period_start(day: date, grain: Grain, fy_start: int = 1) -> date:
    """First day of the period of ``grain`` that holds ``day``."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return date(day.year, day.month, 1)
    if grain == "all":
        return ALL_START
    months_into_year = (day.month - fy_start) % 12
    if grain == "quarter":
        return _add_months(date(day.year, day.month, 1), -(months_into_year % 3))
    return _add_months(date(day.year, day.month, 1), -months_into_year)


def period_end(start: date, grain: Grain) -> date:
    if grain == "week":
        return start + timedelta(days=7)
    if grain == "all":
        return ALL_END
    return _add_months(start, {"month": 1, "quarter": 3, "year": 12}[grain])


def label(start: date, grain: Grain, fy_start: int = 1) -> str:
    """Catalog label: ``2026-W47``, ``2026-11``, ``2026-Q4``/``FY2027-Q1``, ``2026``/``FY2027``, ``all``."""
    if grain == "week":
        iso = start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if grain == "month":
        return f"{start.year}-{start.month:02d}"
    if grain == "all":
        return "all"
    prefix = f"FY{period_start(start, 'year', fy_start).year + 1}" if _fiscal(fy_start) else str(start.year)
    if grain == "year":
        return prefix
    quarter = ((start.month - fy_start) % 12) // 3 + 1
    return f"{prefix}-Q{quarter}"


def make(start_day: date, grain: Grain, fy_start: int = 1) -> Period:
    """The period of ``grain`` holding ``start_day``."""
    start = period_start(start_day, grain, fy_start)
    return Period(start, period_end(start, grain), grain, label(start, grain, fy_start))


def shift(period: Period, steps: int, fy_start: int = 1) -> Period:
    """The period ``steps`` periods after (negative: before) ``period``."""
    if period.grain == "all":
        return period
    if period.grain == "week":
        return make(period.start + timedelta(days=7 * steps), "week", fy_start)
    months = {"month": 1, "quarter": 3, "year": 12}[period.grain]
    return make(_add_months(period.start, months * steps), period.grain, fy_start)


def year_ago(period: Period, fy_start: int = 1) -> Period:
    """The same period one year earlier (the ISO week of the same number for weeks)."""
    if period.grain == "week":
        return shift(period, -52, fy_start)
    if period.grain == "all":
        return period
    return make(_add_months(period.start, -12), period.grain, fy_start)


_LABEL = re.compile(
    r"^(?:(?P<all>all)|(?P<wy>\d{4})-W(?P<w>\d{2})|(?P<my>\d{4})-(?P<m>\d{2})"
    r"|(?P<fy>FY)?(?P<qy>\d{4})-Q(?P<q>[1-4])|(?P<yfy>FY)?(?P<y>\d{4}))$",
    re.IGNORECASE,
)


def parse(text: str, fy_start: int = 1) -> Period:
    """Period from its label (``2026-W47``, ``2026-11``, ``2026-Q4``, ``FY2027-Q1``, ``2026``, ``all``).

    >>> parse("2026-Q4").start
    datetime.date(2026, 10, 1)
    """
    found = _LABEL.match(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a period label; use e.g. 2026-W47, 2026-11, 2026-Q4, FY2027-Q1, 2026 or all")
    try:
        return _from_match(found.groupdict(), fy_start)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid period label (no such week or month)") from None


def _from_match(g: dict[str, str | None], fy_start: int) -> Period:
    if g["all"]:
        return Period(ALL_START, ALL_END, "all", "all")
    if g["w"]:
        return make(date.fromisocalendar(int(g["wy"] or 0), int(g["w"]), 1), "week", fy_start)
    if g["m"]:
        return make(date(int(g["my"] or 0), int(g["m"]), 1), "month", fy_start)
    if g["q"]:
        year, quarter = int(g["qy"] or 0), int(g["q"])
        if g["fy"] and fy_start != 1:
            return make(_add_months(date(year - 1, fy_start, 1), 3 * (quarter - 1)), "quarter", fy_start)
        return make(date(year, 3 * quarter - 2, 1), "quarter", fy_start)
    year = int(g["y"] or 0)
    if g["yfy"] and fy_start != 1:
        return make(date(year - 1, fy_start, 1), "year", fy_start)
    return make(date(year, max(fy_start, 1), 1), "year", fy_start)


def start_expr(column: str | pl.Expr, grain: Grain, fy_start: int = 1) -> pl.Expr:
    """Polars expression: the start date of the ``grain`` period holding each date."""
    col = pl.col(column) if isinstance(column, str) else column
    col = col.cast(pl.Date)
    if grain == "week":
        return col.dt.truncate("1w")
    if grain == "month":
        return col.dt.truncate("1mo")
    if grain == "all":
        return pl.lit(ALL_START, dtype=pl.Date)
    every = "1q" if grain == "quarter" else "1y"
    if fy_start == 1:
        return col.dt.truncate(every)
    shift_months = fy_start - 1
    return col.dt.offset_by(f"-{shift_months}mo").dt.truncate(every).dt.offset_by(f"{shift_months}mo")
