"""The period still running: how every chart, sparkline and label tells that its values are to date.

The period holding the as-of date has not ended: its values cover the days gone so far (51 of 92 days of 2026-Q4).
A total over those days (won revenue, deals, activities) is a part of what the period will reach, so drawn on the
same line or colour scale as full periods it looks like a collapse that is only the calendar. One rule, used by
every picture of a KPI over periods (the app's charts, the scorecard's tiles, the review's cards and slides):

- the running period is labelled to date (``2026-Q4 to date`` on an axis, ``2026-Q4 (to date, 51 of 92 days)``
  in a tooltip or note) and drawn apart from full periods (hollow, lighter, outlined or dashed);
- a KPI that grows through the period (:func:`grows`: totals, and shares of a whole period's target or starting
  base) is kept off trend lines, colour scales and sparklines: it is shown on its own, beside the period before at
  the same point (the engine's ``previous`` of a running row: day N against day N);
- a rate, average or level (win rate, cycle days, MRR) is on the same scale as full periods, but still marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal, NamedTuple

import polars as pl

from kpi_core import periods as P
from kpi_core.registry import BY_ID

GROWING_SCOPES = frozenset({"closed", "created", "activities", "customers"})
"""Scopes whose additive KPIs add up the rows dated in the period: a total to date is a part of the period's."""
OF_A_WHOLE_PERIOD = frozenset({"quota_attainment", "churn_rate", "revenue_churn_rate", "net_revenue_retention"})
"""Ratios of what happened so far to a whole period's target or starting base: they grow (or shrink) with the days."""

SparkEnd = Literal["complete", "to date", "left out"]
"""How a sparkline ends: every period complete; the last point to date (on the line, drawn apart); or the running
period left out (a KPI that grows: the line shows complete periods only)."""


def grows(kpi_id: str) -> bool:
    """Whether the KPI's value to date is a part of what the whole period will reach (not comparable with a full
    period): totals over the period's rows (revenue, deals, activities, new pipeline, new customers) and ratios of
    them to a whole period's target or starting base (quota attainment, churn). Rates, averages, levels at a date
    (MRR, open pipeline) and KPIs already compared at the same point (revenue growth) do not.

    >>> grows("won_revenue"), grows("win_rate"), grows("quota_attainment"), grows("mrr")
    (True, False, True, False)
    """
    kpi = BY_ID.get(kpi_id)
    if kpi is None:
        return False
    return (kpi.additive and kpi.scope in GROWING_SCOPES) or kpi.id in OF_A_WHOLE_PERIOD


def running(period: P.Period, as_of: date) -> bool:
    """Whether ``period`` holds the as-of date (and so is not over); never the "all" period."""
    return period.grain != "all" and period.contains(as_of)


def elapsed(period: P.Period, as_of: date) -> tuple[int, int] | None:
    """Days gone (the as-of date included) and days in the period, when the period is running; else None.

    >>> elapsed(P.parse("2026-Q4"), date(2026, 11, 20))
    (51, 92)
    """
    if not running(period, as_of):
        return None
    return (as_of - period.start).days + 1, period.days


def label(period_label: str, days: tuple[int, int] | None = None, *, short: bool = True) -> str:
    """The running period as drawn: ``2026-Q4 to date`` (an axis, a legend), or with the days gone
    ``2026-Q4 (to date, 51 of 92 days)`` (a tooltip, a note).

    >>> label("2026-Q4"), label("2026-Q4", (51, 92), short=False), label("2026-Q4", short=False)
    ('2026-Q4 to date', '2026-Q4 (to date, 51 of 92 days)', '2026-Q4 (to date)')
    """
    if short:
        return f"{period_label} to date"
    return f"{period_label} (to date{f', {days[0]} of {days[1]} days' if days else ''})"


def describe(period: P.Period, as_of: date | None) -> str:
    """The period's label, with "to date" and the days gone when it is running (``2026-Q4 (to date, 51 of 92
    days)``); a complete period's label as it is."""
    days = elapsed(period, as_of) if as_of is not None else None
    return label(period.label, days, short=False) if days else period.label


def _parse(text: str, fy: int) -> P.Period | None:
    try:
        return P.parse(text, fy)
    except ValueError:
        return None


def same_point(period: P.Period, as_of: date | None, fy: int = 1) -> str:
    """The period before at the same point, as words: ``2026-Q3 over its first 51 days`` (``2026-Q3 at the same
    point`` when the as-of date is not known).

    >>> same_point(P.parse("2026-Q4"), date(2026, 11, 20)), same_point(P.parse("2026-W47"), None)
    ('2026-Q3 over its first 51 days', '2026-W46 at the same point')
    """
    days = elapsed(period, as_of) if as_of is not None else None
    before = P.shift(period, -1, fy)
    if days is None:
        return f"{before.label} at the same point"
    return f"{before.label} over its first {days[0]} day{'s' if days[0] != 1 else ''}"


def mark(
    frame: pl.DataFrame,
    *,
    as_of: date | None = None,
    fy: int = 1,
    growing: bool | None = None,
    period: str = "period",
) -> pl.DataFrame:
    """``frame`` (a row per period, or per period and segment) with what a chart needs to draw the running period:

    - ``to_date``: the row's period is still running (the engine's ``period_to_date``; without that column, the
      period label holding ``as_of``);
    - ``shown``: the period as an axis shows it (``2026-Q4 to date`` for the running one);
    - ``when``: the period as a tooltip says it (``2026-Q4 (to date, 51 of 92 days)`` when ``as_of`` is given);
    - ``apart``: to date and of a KPI that :func:`grows` (the row's ``kpi``, or ``growing`` for all rows): kept
      off the line and the colour scale of full periods;
    - ``same_point``: for running rows, the period before at the same point (``2026-Q3 over its first 51 days``).

    >>> frame = pl.DataFrame({"kpi": ["won_revenue"] * 2, "period": ["2026-Q3", "2026-Q4"],
    ...                       "value": [10.0, 4.0], "period_to_date": [False, True]})
    >>> mark(frame, as_of=date(2026, 11, 20)).select("shown", "when", "apart", "same_point").rows()
    [('2026-Q3', '2026-Q3', False, None), ('2026-Q4 to date', '2026-Q4 (to date, 51 of 92 days)', True, '2026-Q3 over its first 51 days')]
    """
    labels: list[str | None] = frame.get_column(period).cast(pl.String).to_list()
    found = {text: _parse(text, fy) for text in dict.fromkeys(labels) if text is not None}
    if "period_to_date" in frame.columns:
        to_date = [bool(v) for v in frame.get_column("period_to_date").fill_null(False).to_list()]
    else:  # a frame of the app's own (MRR movements): the period label holding the as-of date
        to_date = [
            as_of is not None and text is not None and (p := found[text]) is not None and running(p, as_of)
            for text in labels
        ]
    shown: list[str | None] = []
    when: list[str | None] = []
    points: list[str | None] = []
    for text, current in zip(labels, to_date, strict=True):
        parsed = found.get(text) if text is not None else None
        if not current or text is None:
            shown.append(text)
            when.append(text)
            points.append(None)
            continue
        days = elapsed(parsed, as_of) if parsed is not None and as_of is not None else None
        shown.append(label(text))
        when.append(label(text, days, short=False))
        points.append(same_point(parsed, as_of, fy) if parsed is not None else "the period before at the same point")
    if growing is not None:
        grown = [growing] * frame.height
    elif "kpi" in frame.columns:
        grown = [grows(str(k)) for k in frame.get_column("kpi").to_list()]
    else:
        grown = [False] * frame.height
    return frame.with_columns(
        to_date=pl.Series(to_date, dtype=pl.Boolean),
        shown=pl.Series(shown, dtype=pl.String),
        when=pl.Series(when, dtype=pl.String),
        apart=pl.Series([t and g for t, g in zip(to_date, grown, strict=True)], dtype=pl.Boolean),
        same_point=pl.Series(points, dtype=pl.String),
    )


class Spark(NamedTuple):
    """A sparkline's points and how it ends (:data:`SparkEnd`)."""

    values: tuple[float | None, ...]
    end: SparkEnd


def spark(values: Sequence[float | None], *, kpi_id: str, to_date: bool) -> Spark:
    """A KPI's sparkline (one value per period, oldest first, the last the period shown) by the rule: when the last
    period is still running, a KPI that :func:`grows` leaves it out (the line shows complete periods, never a drop
    that is only the calendar); any other KPI keeps it as its last point, to be drawn apart.

    >>> spark([5.0, 6.0, 2.5], kpi_id="won_revenue", to_date=True)
    Spark(values=(5.0, 6.0), end='left out')
    >>> spark([0.3, 0.4, 0.35], kpi_id="win_rate", to_date=True)
    Spark(values=(0.3, 0.4, 0.35), end='to date')
    """
    if not to_date or not values:
        return Spark(tuple(values), "complete")
    if grows(kpi_id):
        return Spark(tuple(values[:-1]), "left out")
    return Spark(tuple(values), "to date")


GRAIN_PLURALS = {"week": "weeks", "month": "months", "quarter": "quarters", "year": "years"}


def spark_words(end: SparkEnd, period_label: str, *, count: int, grain: str) -> str:
    """What a sparkline shows, for a tile's help or a card's note.

    >>> spark_words("left out", "2026-Q4", count=7, grain="quarter")
    'Sparkline: complete periods (the last 7 quarters; 2026-Q4 is to date and left out)'
    >>> spark_words("to date", "2026-Q4", count=8, grain="quarter")
    'Sparkline: the last 8 quarters, the last point (2026-Q4) to date'
    """
    plural = GRAIN_PLURALS.get(grain, "periods")
    if end == "left out":
        return f"Sparkline: complete periods (the last {count} {plural}; {period_label} is to date and left out)"
    if end == "to date":
        return f"Sparkline: the last {count} {plural}, the last point ({period_label}) to date"
    return f"Sparkline: the last {count} {plural}"
