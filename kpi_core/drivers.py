"""Why won revenue changed: closed-deal volume, win rate and deal size, exactly additive.

Won revenue is the product of three drivers: ``closed deals x win rate x average deal size`` (won and lost deals
closed in the period; won / closed; won revenue / won deals). :func:`revenue_drivers` splits the change between a
period and its comparison into one effect per driver with Shapley weights (each driver's change valued at the
average of every order in which the three could have changed), so the effects add up to the change. Money is
counted in whole cents (each deal's amount rounded once), every effect is rounded to the cent with the
remainder going to the largest fractions, and the effects add up to the change to the cent. Split by a
dimension, each segment gets its own effects, the segments' rows add up to the overall change and effects
column by column, and the overall effects are those sums (a shift of deals between segments shows up as the
segments' volume effects, not as a change of the overall win rate or deal size).

A driver without a value (no closed deals, no won deal) takes the comparison's value: revenue is then 0
whatever it is, so no effect is made up. The comparison windows are the engine's: while the period runs, both
are cut to the same number of days (period to date).

>>> effects = decompose((10, 2, 100_000), (10, 4, 200_000))
>>> effects, sum(effects.values())
({'closed_deals': 0, 'win_rate': 100000, 'deal_size': 0}, 100000)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from kpi_core import periods as P
from kpi_core.engine import mixed_currencies
from kpi_core.model import DataError, Dataset
from kpi_core.periods import Grain, Period
from kpi_core.registry import get, is_small, sample_words

EFFECTS: tuple[str, ...] = ("closed_deals", "win_rate", "deal_size")
LABELS = {"closed_deals": "Closed deals", "win_rate": "Win rate", "deal_size": "Deal size"}

Totals = tuple[int, int, int]
"""(closed deals, won deals, won revenue in cents) of one period."""


@dataclass(frozen=True)
class Drivers:
    """The change of won revenue between ``period`` and ``compared_with``, by driver and segment.

    Money in the dataset's currency: ``change`` and ``effects`` (closed_deals, win_rate, deal_size) in units
    (cents exact). ``rows``: per segment of ``by`` (empty without): <by>, revenue, previous, change,
    closed_deals, win_rate, deal_size, largest change first. ``before`` and ``after``: closed deals, won deals,
    win rate, deal size and revenue of the comparison and of the period."""

    period: str
    compared_with: str
    change: float
    effects: dict[str, float]
    rows: pl.DataFrame
    before: dict[str, float | None]
    after: dict[str, float | None]
    by: str | None = None
    period_to_date: bool = False

    @property
    def too_few(self) -> str | None:
        """Why the split is not a finding: fewer closed deals in either period than a win rate needs (the registry's
        minimum); None when both have enough."""
        counts = [(self.after.get("closed_deals"), self.period), (self.before.get("closed_deals"), self.compared_with)]
        for count, label in counts:
            if count is None:  # counts not given (an effect split made by hand): nothing to judge by
                continue
            n = int(count)
            if is_small("win_rate", n):
                return (
                    f"{sample_words('win_rate', n)} in {label}: too few to tell which driver moved revenue (a "
                    f"finding needs {get('win_rate').min_sample})"
                )
        return None

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``python -m kpi_core drivers``."""
        columns = [*([self.by] if self.by else []), "change", *EFFECTS]
        return {
            "period": self.period,
            "compared_with": self.compared_with,
            "change": self.change,
            "effects": dict(self.effects),
            "rows": self.rows.select(columns).to_dicts(),
            "n": {
                "closed_deals": self.after.get("closed_deals"),
                "closed_deals_before": self.before.get("closed_deals"),
            },
            "small_sample": self.too_few is not None,
            "note": self.too_few,
        }


def shapley(before: tuple[float, float, float], after: tuple[float, float, float]) -> tuple[float, float, float]:
    """Shapley effects of three factors on their product: they add up to ``prod(after) - prod(before)``.

    >>> shapley((2.0, 3.0, 4.0), (2.0, 3.0, 5.0))
    (0.0, 0.0, 6.0)
    """
    (a0, b0, c0), (a1, b1, c1) = before, after

    def weight(x0: float, x1: float, y0: float, y1: float) -> float:
        return (x0 * y0 + x1 * y1) / 3 + (x0 * y1 + x1 * y0) / 6

    return (
        (a1 - a0) * weight(b0, b1, c0, c1),
        (b1 - b0) * weight(a0, a1, c0, c1),
        (c1 - c0) * weight(a0, a1, b0, b1),
    )


def apportion(values: Sequence[float], total: int) -> list[int]:
    """Round ``values`` to integers that add up to ``total`` exactly (the largest remainders get the rest).

    >>> apportion([0.5, 0.5, 1.0], 2), apportion([-1.4, 3.4], 2)
    ([1, 0, 1], [-1, 3])
    """
    if not values:
        return []
    floors = [math.floor(v) for v in values]
    rest = total - sum(floors)
    # stable sort: ties go to the earlier value; a rest beyond one per value only comes from float error
    order = sorted(range(len(values)), key=lambda i: values[i] - floors[i], reverse=True)
    if rest < 0:
        order.reverse()
    for step in range(abs(rest)):
        floors[order[step % len(values)]] += 1 if rest > 0 else -1
    return floors


def _factors(totals: Totals, other: Totals) -> tuple[float, float, float]:
    """(closed deals, win rate, deal size in cents) of one period; a driver without a value takes the other's."""
    closed, won, cents = totals
    o_closed, o_won, o_cents = other
    other_rate = o_won / o_closed if o_closed else 1.0
    other_size = o_cents / o_won if o_won else 0.0
    rate = won / closed if closed else other_rate
    size = cents / won if won else other_size
    return float(closed), rate, size


def decompose(before: Totals, after: Totals) -> dict[str, int]:
    """Effects in cents of the three drivers between two periods' (closed deals, won deals, won cents).

    They add up exactly to ``after[2] - before[2]``."""
    change = after[2] - before[2]
    raw = shapley(_factors(before, after), _factors(after, before))
    return dict(zip(EFFECTS, apportion(raw, change), strict=True))


def _windows(dataset: Dataset, period: Period, compare: str) -> tuple[tuple[date, date], tuple[date, date], str, bool]:
    """The period's and the comparison's date ranges ``[start, end)``, the comparison's label, and whether the
    period is still running (both then cut to the same number of days, as the engine does)."""
    fy = dataset.settings.fiscal_year_start
    if period.grain == "all":
        raise ValueError("all time has no comparison period: choose a week, month, quarter or year")
    other = P.year_ago(period, fy) if compare == "last_year" else P.shift(period, -1, fy)
    running = period.contains(dataset.as_of)
    if not running:
        return (period.start, period.end), (other.start, other.end), other.label, False
    cut = min(other.start + (dataset.as_of - period.start) + timedelta(days=1), other.end)
    return (period.start, period.end), (other.start, cut), f"{other.label} to {cut - timedelta(days=1):%m-%d}", True


def _totals(closed: pl.DataFrame, window: tuple[date, date], dims: list[str]) -> pl.DataFrame:
    """Closed deals, won deals and won cents per segment in one window."""
    inside = closed.filter(pl.col("close_date").is_between(window[0], window[1], closed="left"))
    aggs = [
        pl.len().cast(pl.Int64).alias("closed"),
        (pl.col("status") == "won").sum().cast(pl.Int64).alias("won"),
        pl.col("_cents").filter(pl.col("status") == "won").sum().cast(pl.Int128).alias("cents"),
    ]
    if dims:
        return inside.group_by(dims).agg(aggs)
    return inside.select(aggs)


def revenue_drivers(
    dataset: Dataset,
    period: str | Period,
    *,
    grain: Grain | None = None,
    compare: str = "previous",
    by: str | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
) -> Drivers:
    """Split the change of won revenue between ``period`` and its comparison into its three drivers.

    Parameters
    ----------
    period: a label (``2026-Q4``) or Period; ``grain`` checks the label's grain when given.
    compare: ``previous`` (the period before) or ``last_year`` (the same period a year earlier).
    by: a deals dimension (``region``, ``segment``, ``owner``...): one row per segment, deals without a value in
        their own row (``None``).
    filters: dimension -> allowed values.

    Examples
    --------
    >>> from datetime import date
    >>> deals = pl.DataFrame({"deal_id": ["1", "2", "3", "4"], "stage": ["Won", "Lost", "Won", "Won"],
    ...     "amount": [100.0, 50.0, 100.0, 300.0],
    ...     "close_date": [date(2026, 1, 5), date(2026, 1, 9), date(2026, 2, 3), date(2026, 2, 4)]})
    >>> ds = Dataset.prepare({"deals": deals}, as_of=date(2026, 3, 1))
    >>> found = revenue_drivers(ds, "2026-02")
    >>> found.compared_with, found.change, found.effects
    ('2026-01', 300.0, {'closed_deals': 0.0, 'win_rate': 150.0, 'deal_size': 150.0})
    """
    fy = dataset.settings.fiscal_year_start
    chosen = period if isinstance(period, Period) else P.parse(period, fy)
    if grain is not None and chosen.grain != grain:
        raise ValueError(f"period {chosen.label} is a {chosen.grain}, but the grain is {grain}")
    if compare not in ("previous", "last_year"):
        raise ValueError(f"compare must be previous or last_year, not {compare!r}")
    if not dataset.has("deals"):
        raise DataError("why revenue changed needs a deals export with status, amount and close date: upload one")
    deals = dataset.table("deals")
    for column in ("status", "close_date", "amount"):
        if column not in deals.columns or deals.get_column(column).null_count() == deals.height:
            raise DataError(f"why revenue changed needs {column} in the deals table")
    filters = {k: list(v) for k, v in (filters or {}).items() if v}
    currencies = mixed_currencies(dataset)
    if currencies and len(filters.get("currency", [])) != 1 and by != "currency":
        raise DataError(
            f"Deals are in several currencies ({', '.join(currencies)}): revenue cannot be added across them. "
            "Filter one currency, split by currency, or upload a rate table."
        )
    for dim in [*filters, *([by] if by else [])]:
        if dim not in deals.columns:
            raise ValueError(f"the deals table has no {dim!r} column; it has: {', '.join(dataset.dimensions())}")
    dims = [by] if by else []
    now, then, label, running = _windows(dataset, chosen, compare)
    # the two windows' rows first (a cheap date test on every deal, only the columns read), then status and filters
    closed = deals.select(list(dict.fromkeys(["status", "close_date", "amount", *filters, *dims]))).filter(
        pl.col("close_date").is_between(now[0], now[1], closed="left")
        | pl.col("close_date").is_between(then[0], then[1], closed="left")
    )
    closed = closed.filter(pl.col("status").cast(pl.String).is_in(["won", "lost"]))
    for dim, values in filters.items():
        closed = closed.filter(pl.col(dim).cast(pl.String).is_in(values))
    closed = closed.select(
        "status",
        "close_date",
        *[pl.col(d).cast(pl.String) for d in dims],
        _cents=(pl.col("amount").fill_null(0.0) * 100).round(0).cast(pl.Int128),
        _known=pl.col("amount").is_not_null(),
    ).with_columns(pl.col("status").cast(pl.String))
    for window, name in ((now, chosen.label), (then, label)):
        won = closed.filter(
            pl.col("close_date").is_between(window[0], window[1], closed="left") & (pl.col("status") == "won")
        )
        if won.height and not won.get_column("_known").any():
            raise DataError(
                f"the {won.height:,} deal(s) won in {name} have no amount, so their revenue is unknown and why "
                "revenue changed cannot be split: export the amounts"
            )

    after = _totals(closed, now, dims)
    before = _totals(closed, then, dims)

    def as_totals(row: Mapping[str, object] | None) -> Totals:
        if row is None:
            return (0, 0, 0)
        return (int(row["closed"] or 0), int(row["won"] or 0), int(row["cents"] or 0))  # type: ignore[call-overload]

    summary_before = as_totals(before.select(pl.col("closed", "won", "cents").sum()).row(0, named=True))
    summary_after = as_totals(after.select(pl.col("closed", "won", "cents").sum()).row(0, named=True))
    rows: list[dict[str, object]] = []
    if by:
        keys = sorted(
            set(before.get_column(by).to_list()) | set(after.get_column(by).to_list()),
            key=lambda v: (v is None, str(v)),
        )
        b_rows = {r[by]: r for r in before.iter_rows(named=True)}
        a_rows = {r[by]: r for r in after.iter_rows(named=True)}
        totals = dict.fromkeys(EFFECTS, 0)
        for key in keys:
            b, a = as_totals(b_rows.get(key)), as_totals(a_rows.get(key))
            effects = decompose(b, a)
            for name in EFFECTS:
                totals[name] += effects[name]
            rows.append(
                {
                    by: key,
                    "revenue": a[2] / 100,
                    "previous": b[2] / 100,
                    "change": (a[2] - b[2]) / 100,
                    **{name: effects[name] / 100 for name in EFFECTS},
                }
            )
        overall = totals
    else:
        overall = decompose(summary_before, summary_after)
    schema = {
        **({by: pl.String} if by else {}),
        "revenue": pl.Float64,
        "previous": pl.Float64,
        "change": pl.Float64,
        **{name: pl.Float64 for name in EFFECTS},
    }
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    if frame.height:
        frame = frame.sort(pl.col("change").abs(), descending=True, maintain_order=True)

    def describe(t: Totals) -> dict[str, float | None]:
        closed_count, won, cents = t
        return {
            "closed_deals": float(closed_count),
            "won_deals": float(won),
            "win_rate": won / closed_count if closed_count else None,
            "deal_size": cents / won / 100 if won else None,
            "revenue": cents / 100,
        }

    return Drivers(
        period=chosen.label,
        compared_with=label,
        change=(summary_after[2] - summary_before[2]) / 100,
        effects={name: overall[name] / 100 for name in EFFECTS},
        rows=frame,
        before=describe(summary_before),
        after=describe(summary_after),
        by=by,
        period_to_date=running,
    )


def _money(amount: float, currency: str) -> str:
    from kpi_core.formatting import money

    return money(amount, currency, compact=True)


def explain(found: Drivers, currency: str = "USD") -> str:
    """One sentence naming the biggest effects (and segments) behind the change.

    >>> found = Drivers("2026-Q4", "2026-Q3", 1000.0, {"closed_deals": 1500.0, "win_rate": -700.0,
    ...     "deal_size": 200.0}, pl.DataFrame(), {}, {})
    >>> explain(found)
    'Won revenue rose $1.0k against 2026-Q3: more closed deals added $1.5k, a lower win rate took $700, bigger deals added $200.'
    """
    change = found.change
    against = found.compared_with
    if found.period_to_date:
        other, _, day = against.partition(" to ")
        against = f"the same days of {other}" + (f" (to {day})" if day else "")
    if change == 0 and all(v == 0 for v in found.effects.values()):
        return f"Won revenue did not change against {against}."
    if found.too_few:  # a change, but no driver can be named from so few deals
        verb = "rose" if change > 0 else "fell" if change < 0 else "did not change overall"
        amount = f" {_money(abs(change), currency)}" if change else ""
        return f"Won revenue {verb}{amount} against {against}; {found.too_few}."
    verb = "rose" if change > 0 else "fell" if change < 0 else "did not change overall"
    amount = f" {_money(abs(change), currency)}" if change else ""
    words = {
        "closed_deals": ("more closed deals", "fewer closed deals"),
        "win_rate": ("a higher win rate", "a lower win rate"),
        "deal_size": ("bigger deals", "smaller deals"),
    }
    ranked = sorted(EFFECTS, key=lambda k: abs(found.effects[k]), reverse=True)
    parts = [
        f"{words[k][0] if found.effects[k] > 0 else words[k][1]} {'added' if found.effects[k] > 0 else 'took'} "
        f"{_money(abs(found.effects[k]), currency)}"
        for k in ranked
        if found.effects[k] != 0
    ]
    sentence = f"Won revenue {verb}{amount} against {against}: {', '.join(parts)}"
    if found.by and found.rows.height:
        top = [r for r in found.rows.iter_rows(named=True) if r["change"] != 0][:2]
        if top:
            named = " and ".join(
                f"{r[found.by] if r[found.by] is not None else f'no {found.by}'} "
                f"({'+' if r['change'] > 0 else '-'}{_money(abs(r['change']), currency)})"
                for r in top
            )
            sentence += f"; by {found.by.replace('_', ' ')}, the biggest changes were in {named}"
    return sentence + "."
