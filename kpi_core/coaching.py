"""The one-on-one: one rep (or any segment value) against their peers, with the size and certainty of each gap.

:func:`coach` compares a rep with their team (the ``team`` or ``manager`` dimension, else the company), their region
or the whole company, over a period and the one before it, on what a manager can talk about in a 1:1: the stage
funnel, win rate, average deal size, cycle length, time in each stage, stalled and past-due deals, activity volume
and mix, lead response and conversion, and quota attainment with its pace. Values come from the engine
(:func:`kpi_core.engine.report` with the rep's or the peers' filter, :func:`kpi_core.breakdowns.funnel`); the rows
behind them give each difference its certainty:

- **rates** (win rate, stage conversion, lead conversion, shares) get a Wilson score interval;
- **means and medians** (deal size, cycle, time in stage, lead response, activities per week) a seeded percentile
  bootstrap (the same numbers every run);
- a difference is **beyond the noise** when the rep's 95% interval excludes the peers' value (the peers computed
  without the rep) and the rep has at least :data:`MIN_SAMPLE` of what is counted; with fewer it says so
  ("3 deals: too few to tell").

Each difference that moves revenue carries its **revenue effect**, with its formula next to it: what the rep would
have won at the peers' value, all else the rep's own. The focus is the two or three largest differences beyond the
noise, ranked by that effect, as sentences; the deals to talk about are the rep's stalled, past-due, slipped and
largest open deals, each with the facts behind its flags.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import polars as pl

from kpi_core import periods as P
from kpi_core.breakdowns import funnel
from kpi_core.engine import _filter_expr, report
from kpi_core.formatting import format_value, money
from kpi_core.model import DataError, Dataset
from kpi_core.periods import Grain, Period
from kpi_core.registry import BY_ID

Against = Literal["team", "region", "company"]
AGAINST: tuple[Against, ...] = ("team", "region", "company")
Z95 = 1.959963984540054
"""The two-sided 95% normal quantile."""
MIN_SAMPLE = 10
"""Fewer deals (leads, activities, days...) than this: too few to tell, whatever the interval says."""
DRAWS = 2000
"""Bootstrap resamples per interval."""
SEED = 14
"""The bootstrap's seed: the same data gives the same intervals every run."""
LARGEST = 5
"""How many of the rep's largest open deals are flagged as deals to talk about."""
FOCUS = 3
"""At most this many focus sentences."""
TEAM_DIMENSIONS = ("team", "manager")
"""Where a rep's team comes from, in order."""

ENGINE_KPIS = (
    "win_rate",
    "avg_deal_size",
    "sales_cycle_days",
    "time_in_stage_days",
    "activities",
    "calls",
    "emails",
    "meetings",
    "activities_per_rep_week",
    "lead_response_hours",
    "lead_conversion_rate",
    "quota_attainment",
    "_target",
)
"""What the engine computes for the rep and for the peers."""
SHOWN = (
    "win_rate",
    "avg_deal_size",
    "sales_cycle_days",
    "time_in_stage_days",
    "activities",
    "lead_response_hours",
    "lead_conversion_rate",
    "quota_attainment",
)
"""The engine KPIs whose absence the 1:1 reports (the others are parts of these)."""

DIFFERENCE_SCHEMA: dict[str, Any] = {
    "metric": pl.String,
    "stage": pl.String,
    "label": pl.String,
    "unit": pl.String,
    "direction": pl.String,
    "rep_value": pl.Float64,
    "rep_previous": pl.Float64,
    "peer_value": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n": pl.Int64,
    "counted": pl.String,
    "beyond_noise": pl.Boolean,
    "revenue_effect": pl.Float64,
    "revenue_formula": pl.String,
    "explained_by": pl.String,
    "note": pl.String,
    "focus_rank": pl.Int64,
}
"""The columns of :attr:`Coaching.differences`."""

DEAL_SCHEMA: dict[str, Any] = {
    "deal_id": pl.String,
    "deal_name": pl.String,
    "stage": pl.String,
    "amount": pl.Float64,
    "close_date": pl.Date,
    "flags": pl.String,
    "facts": pl.String,
}
"""The columns of :attr:`Coaching.deals`."""


# --- intervals ---


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default).

    >>> tuple(round(v, 4) for v in wilson(8, 10))
    (0.4902, 0.9433)
    >>> tuple(round(v, 4) for v in wilson(0, 10))
    (0.0, 0.2775)
    """
    if n <= 0:
        raise ValueError("a proportion of nothing has no interval")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(centre - half, 0.0), min(centre + half, 1.0)


def bootstrap(
    values: Sequence[float] | np.ndarray,
    statistic: Literal["mean", "median"] = "mean",
    *,
    draws: int = DRAWS,
    seed: int = SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """A percentile bootstrap interval of the mean (or median), seeded so it is the same every run.

    >>> bootstrap([5.0] * 12)
    (5.0, 5.0)
    >>> low, high = bootstrap([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    >>> 3.5 < low < 5.5 < high < 7.5
    True
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("no values to resample")
    rng = np.random.default_rng(seed)
    stats = np.empty(draws)
    chunk = max(1, min(draws, 4_000_000 // data.size))  # at most a few million values drawn at once
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        sample = data[rng.integers(0, data.size, size=(size, data.size))]
        stats[start : start + size] = sample.mean(axis=1) if statistic == "mean" else np.median(sample, axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    return float(low), float(high)


def excludes(low: float, high: float, value: float) -> bool:
    """True when ``value`` lies outside ``[low, high]`` (with room for rounding).

    >>> excludes(0.49, 0.94, 0.95), excludes(1000.0, 1000.0, 1000.0000000001)
    (True, False)
    """
    room = 1e-9 * max(1.0, abs(value))
    return value < low - room or value > high + room


# --- the peer group ---


@dataclass(frozen=True)
class PeerGroup:
    """Whom the rep is compared with: ``against`` as used (a team asked for in data without teams is the company),
    the dimension and value that define it, the peers' values of the rep's dimension, and a note when the group is
    not the one asked for."""

    against: Against
    dimension: str | None
    name: str
    members: tuple[str, ...]
    note: str = ""

    @property
    def words(self) -> str:
        """How sentences name the group: "the team (EMEA Hunters)", "the company"."""
        if self.dimension is None:
            return "the rest of the company"
        kind = "team" if self.dimension in TEAM_DIMENSIONS else self.dimension.replace("_", " ")
        return f"the {kind} ({self.name})"


def _values(dataset: Dataset, dimension: str) -> list[str]:
    frame = dataset.table("deals")
    if dimension not in frame.columns:
        return []
    return sorted(frame.get_column(dimension).cast(pl.String).drop_nulls().unique().to_list())


def _most_common(dataset: Dataset, dimension: str, segment: str, value: str) -> str | None:
    deals = dataset.table("deals")
    if dimension not in deals.columns:
        return None
    found = (
        deals.filter(pl.col(segment).cast(pl.String) == value)
        .select(pl.col(dimension).cast(pl.String))
        .drop_nulls()
        .to_series()
    )
    if not found.len():
        return None
    counts = found.value_counts(sort=True)
    return str(counts.row(0)[0])


def peer_group(dataset: Dataset, value: str, against: Against = "team", *, segment: str = "owner") -> PeerGroup:
    """The peers of ``value`` (a rep, or any value of ``segment``): the other reps of its team (the ``team`` or
    ``manager`` dimension, whichever the data has), of its region, or of the company; a smaller group than asked
    for when the data cannot tell, said in ``note``."""
    everyone = [v for v in _values(dataset, segment) if v != value]
    company = PeerGroup("company", None, "the company", tuple(everyone))
    if against == "company" or segment != "owner":
        note = (
            "" if against == "company" else f"a {against} is a group of reps: each {segment} is compared with the rest"
        )
        return PeerGroup("company", None, "the company", company.members, note)
    dimensions = TEAM_DIMENSIONS if against == "team" else ("region",)
    for dimension in dimensions:
        group = _most_common(dataset, dimension, segment, value)
        if group is None:
            continue
        deals = dataset.table("deals")
        members = sorted(
            deals.filter(pl.col(dimension).cast(pl.String) == group)
            .get_column(segment)
            .cast(pl.String)
            .drop_nulls()
            .unique()
            .to_list()
        )
        members = [m for m in members if m != value]
        if members:
            return PeerGroup(against, dimension, group, tuple(members))
        note = f"{value} is the only rep of {dimension} {group}: compared with the rest of the company instead"
        return PeerGroup("company", None, "the company", company.members, note)
    what = "team or manager" if against == "team" else "region"
    return PeerGroup(
        "company", None, "the company", company.members, f"the data has no {what}: compared with the company"
    )


# --- the comparison ---


@dataclass(frozen=True)
class Coaching:
    """What :func:`coach` found. ``differences`` has :data:`DIFFERENCE_SCHEMA`'s columns, one row per metric (per
    stage for the funnel and time in stage); ``funnel`` the stage funnel of the rep and the peers (stage, order,
    group, reached, next_rate, ci_low, ci_high); ``deals`` the deals to talk about (:data:`DEAL_SCHEMA`)."""

    segment: str
    value: str
    peers: PeerGroup
    period: Period
    previous: Period | None
    as_of: date
    currency: str
    differences: pl.DataFrame
    funnel: pl.DataFrame
    focus: list[str]
    deals: pl.DataFrame
    unavailable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON the ``coaching`` command prints."""

        def clean(v: Any) -> Any:
            if isinstance(v, float):
                return None if not math.isfinite(v) else round(v, 6)
            if isinstance(v, date):
                return v.isoformat()
            return v

        differences = []
        for row in self.differences.iter_rows(named=True):
            differences.append(
                {
                    "metric": row["metric"],
                    "stage": row["stage"],
                    "label": row["label"],
                    "unit": row["unit"],
                    "rep_value": clean(row["rep_value"]),
                    "rep_previous": clean(row["rep_previous"]),
                    "peer_value": clean(row["peer_value"]),
                    "interval": None if row["ci_low"] is None else [clean(row["ci_low"]), clean(row["ci_high"])],
                    "n": row["n"],
                    "counted": row["counted"],
                    "beyond_noise": row["beyond_noise"],
                    "revenue_effect": clean(row["revenue_effect"]),
                    "revenue_formula": row["revenue_formula"],
                    "explained_by": row["explained_by"],
                    "note": row["note"],
                    "focus_rank": row["focus_rank"],
                }
            )
        return {
            "segment": self.segment,
            "owner" if self.segment == "owner" else "value": self.value,
            "peers": {
                "against": self.peers.against,
                "dimension": self.peers.dimension,
                "name": self.peers.name,
                "members": len(self.peers.members),
                "note": self.peers.note,
            },
            "period": self.period.label,
            "previous_period": self.previous.label if self.previous else None,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "focus": self.focus,
            "differences": differences,
            "deals": [{k: clean(v) for k, v in row.items()} for row in self.deals.iter_rows(named=True)],
            "unavailable": self.unavailable,
            "warnings": self.warnings,
        }


@dataclass
class _Row:
    metric: str
    label: str
    unit: str
    direction: str
    rep_value: float | None
    peer_value: float | None
    n: int
    counted: str
    interval: tuple[float, float] | None
    stage: str | None = None
    rep_previous: float | None = None
    revenue_effect: float | None = None
    revenue_formula: str | None = None
    explained_by: str | None = None
    note: str | None = None
    beyond_noise: bool | None = None
    focus_rank: int | None = None
    total: bool = False
    """A total against a target (quota): no sampling interval, never called beyond the noise."""

    def judge(self, period: str) -> None:
        """Beyond the noise or not, and why not."""
        if self.total:
            self.beyond_noise = None
        elif self.n == 0:
            self.note = self.note or f"no {self.counted} in {period}"
            self.beyond_noise = False
        elif self.peer_value is None:
            self.note = self.note or "no peer value to compare with"
            self.beyond_noise = False
        elif self.n < MIN_SAMPLE:
            self.note = f"{self.n} {self.counted}: too few to tell"
            self.beyond_noise = False
        elif self.interval is None:
            self.beyond_noise = False
        else:
            self.beyond_noise = excludes(*self.interval, self.peer_value)


def _period(dataset: Dataset, grain: Grain, period: str | Period | None) -> Period:
    fy = dataset.settings.fiscal_year_start
    if period is None:
        return P.make(dataset.as_of, grain, fy)
    chosen = period if isinstance(period, Period) else P.parse(period, fy)
    if chosen.grain != grain:
        raise DataError(f"period {chosen.label} is a {chosen.grain}, but the grain is {grain}")
    return chosen


def _in(
    dataset: Dataset, table: str, filters: dict[str, list[str]], anchor: str | None, period: Period | None
) -> pl.DataFrame:
    """The rows of ``table`` of the segment, dated in ``period`` (by ``anchor``; all of them when None)."""
    if not dataset.has(table):
        return pl.DataFrame()
    frame = dataset.table(table)
    usable = {k: v for k, v in filters.items() if k in frame.columns}
    if len(usable) < len(filters):
        return frame.clear()
    expr = _filter_expr(frame, usable)
    if expr is not None:
        frame = frame.filter(expr)
    if anchor is not None and period is not None and period.grain != "all" and anchor in frame.columns:
        frame = frame.filter(pl.col(anchor).is_between(period.start, period.end, closed="left"))
    return frame


def _values_of(frame: pl.DataFrame, currency: str) -> dict[tuple[str, str | None], float | None]:
    """(kpi, stage) -> value of an engine report (money KPIs in the reporting currency when split by currency)."""
    if not frame.height:
        return {}
    if "currency" in frame.columns:
        frame = frame.filter(pl.col("currency").is_null() | (pl.col("currency").cast(pl.String) == currency))
    return {(r["kpi"], r["stage"]): r["value"] for r in frame.iter_rows(named=True)}


def coach(
    dataset: Dataset,
    value: str,
    *,
    segment: str = "owner",
    against: Against = "team",
    grain: Grain = "quarter",
    period: str | Period | None = None,
    history: Sequence[pl.DataFrame] | None = None,
) -> Coaching:
    """Compare one rep (``value`` of ``segment``) with their peers over ``period`` (default: the one holding the
    as-of date) and the one before it.

    ``history``: the deals tables of kept snapshots, oldest first, to find slipped deals (close date pushed more
    than once); without it no deal is called slipped.

    >>> import polars as pl
    >>> from datetime import date
    >>> deals = pl.DataFrame({"deal_id": [str(i) for i in range(8)], "owner": ["Ann"] * 4 + ["Bo"] * 4,
    ...     "stage": ["Won", "Lost"] * 4, "amount": [100.0] * 8, "close_date": [date(2026, 1, 5)] * 8})
    >>> found = coach(Dataset.prepare({"deals": deals}, as_of=date(2026, 1, 31)), "Ann", grain="month")
    >>> found.peers.name, found.focus[0][:20]
    ('the company', 'Nothing stands out: ')
    """
    if not dataset.has("deals"):
        raise DataError("the 1:1 needs a deals export (with owner, stage or status, amount and close date)")
    dims = dataset.dimensions()
    if segment not in dims or segment not in dataset.table("deals").columns:
        raise DataError(f"the deals have no {segment} column: the 1:1 compares one {segment} with the others")
    known = _values(dataset, segment)
    if value not in known:
        close = difflib.get_close_matches(value, known, n=3, cutoff=0.5)
        hint = (
            f" Did you mean {', '.join(close)}?"
            if close
            else f" This data has {len(known)}: {', '.join(known[:8])}" + ("…" if len(known) > 8 else ".")
        )
        raise DataError(f"no {segment} named {value!r} in the deals.{hint}")
    if against not in AGAINST:
        raise DataError(f"--against must be one of {', '.join(AGAINST)}")
    chosen = _period(dataset, grain, period)
    fy = dataset.settings.fiscal_year_start
    previous = None if grain == "all" else P.shift(chosen, -1, fy)
    peers = peer_group(dataset, value, against, segment=segment)
    currency = dataset.currency
    rep_filter = {segment: [value]}
    peer_filter = {segment: list(peers.members)}
    warnings: list[str] = [peers.note] if peers.note else []

    mine = report(dataset, list(ENGINE_KPIS), grain=grain, periods=[chosen], filters=rep_filter)
    rep = _values_of(mine.frame, currency)
    rep_before = _prev(mine.frame, currency) if previous is not None else {}
    if peers.members:
        theirs = report(dataset, list(ENGINE_KPIS), grain=grain, periods=[chosen], filters=peer_filter, compare=False)
        peer = _values_of(theirs.frame, currency)
    else:
        peer = {}
        warnings.append(f"{value} has no peers to compare with in this data")
    unavailable = {k: r for k, r in mine.unavailable.items() if k in SHOWN}
    label = "all time" if chosen.grain == "all" else chosen.label
    rows: list[_Row] = []

    # --- won and lost deals: win rate, deal size, cycle
    closed = _in(dataset, "deals", rep_filter, "close_date", chosen)
    if closed.height:
        closed = closed.filter(pl.col("status").is_in(["won", "lost"]))
    won = closed.filter(pl.col("status") == "won") if closed.height else closed
    won_count = won.height
    avg_won = rep.get(("avg_deal_size", None))
    peer_avg = peer.get(("avg_deal_size", None))
    deal_size = avg_won if avg_won is not None else peer_avg
    if "win_rate" not in mine.unavailable:
        k, n = won_count, closed.height
        r = _Row(
            "win_rate",
            BY_ID["win_rate"].label,
            "percent",
            "up",
            rep.get(("win_rate", None)),
            peer.get(("win_rate", None)),
            n,
            "closed deals",
            wilson(k, n) if n else None,
            rep_previous=rep_before.get(("win_rate", None)),
        )
        if r.rep_value is not None and r.peer_value is not None and deal_size is not None:
            r.revenue_effect = (r.peer_value - r.rep_value) * n * deal_size
            r.revenue_formula = (
                f"(peers' win rate − rep's) × rep's closed deals ({n}) × rep's average won deal "
                f"({money(deal_size, currency)})"
            )
        rows.append(r)
    if "avg_deal_size" not in mine.unavailable and "amount" in won.columns:
        amounts = won.get_column("amount").drop_nulls().to_numpy() if won.height else np.array([])
        r = _Row(
            "avg_deal_size",
            BY_ID["avg_deal_size"].label,
            "currency",
            "up",
            avg_won,
            peer_avg,
            int(amounts.size),
            "won deals",
            bootstrap(amounts) if amounts.size else None,
            rep_previous=rep_before.get(("avg_deal_size", None)),
        )
        if avg_won is not None and peer_avg is not None:
            r.revenue_effect = (peer_avg - avg_won) * won_count
            r.revenue_formula = f"(peers' average won deal − rep's) × rep's won deals ({won_count})"
        rows.append(r)
    if "sales_cycle_days" not in mine.unavailable and "cycle_days" in won.columns:
        cycles = won.get_column("cycle_days").drop_nulls().to_numpy() if won.height else np.array([])
        rows.append(
            _Row(
                "sales_cycle_days",
                BY_ID["sales_cycle_days"].label,
                "days",
                "down",
                rep.get(("sales_cycle_days", None)),
                peer.get(("sales_cycle_days", None)),
                int(cycles.size),
                "won deals",
                bootstrap(cycles) if cycles.size else None,
                rep_previous=rep_before.get(("sales_cycle_days", None)),
            )
        )

    # --- the funnel: stage-to-stage conversion of the deals created in the period
    funnel_frame = _funnel(dataset, chosen, rep_filter, peer_filter if peers.members else None)
    rows += _stage_rows(dataset, funnel_frame, previous, rep_filter, avg_won, peer_avg, currency)
    if not dataset.stage_order:
        unavailable["stage_conversion"] = "Stage conversion needs deals with stages (and ideally stage history)."

    # --- time in each stage (completed stage visits left in the period)
    if dataset.has("stage_visits") and "time_in_stage_days" not in mine.unavailable:
        visits = _in(dataset, "stage_visits", rep_filter, "exited_day", chosen)
        for stage in dataset.stage_order:
            days = (
                visits.filter(pl.col("stage").cast(pl.String) == stage).get_column("days").drop_nulls().to_numpy()
                if visits.height
                else np.array([])
            )
            rows.append(
                _Row(
                    "time_in_stage_days",
                    f"Time in {stage}",
                    "days",
                    "down",
                    rep.get(("time_in_stage_days", stage)),
                    peer.get(("time_in_stage_days", stage)),
                    int(days.size),
                    f"deals that left {stage}",
                    bootstrap(days) if days.size else None,
                    stage=stage,
                    rep_previous=rep_before.get(("time_in_stage_days", stage)),
                )
            )
    elif "time_in_stage_days" not in unavailable:
        unavailable["time_in_stage_days"] = BY_ID["time_in_stage_days"].label + " needs stage history or snapshots."

    # --- open deals now: stalled and past-due shares
    open_mine = _in(dataset, "deals", rep_filter, None, None)
    open_mine = open_mine.filter(pl.col("status") == "open") if open_mine.height else open_mine
    open_peers = _in(dataset, "deals", peer_filter, None, None) if peers.members else pl.DataFrame()
    open_peers = open_peers.filter(pl.col("status") == "open") if open_peers.height else open_peers
    for column, metric, what in (
        ("stalled", "stalled_deals", "Stalled share of open deals"),
        ("overdue", "overdue_deals", "Past-due share of open deals"),
    ):
        if column not in dataset.table("deals").columns:
            unavailable[metric] = (
                f"{BY_ID[metric].label} need stage history (time in stage) or activities linked to deals (days "
                "without activity)."
                if column == "stalled"
                else f"{BY_ID[metric].label} need open deals with a close date."
            )
            continue
        n = open_mine.height
        k = int(open_mine.get_column(column).fill_null(False).sum()) if n else 0
        peer_n = open_peers.height
        peer_share = int(open_peers.get_column(column).fill_null(False).sum()) / peer_n if peer_n else None
        rows.append(
            _Row(
                metric,
                what,
                "percent",
                "down",
                k / n if n else None,
                peer_share,
                n,
                "open deals",
                wilson(k, n) if n else None,
                note=f"{k} of {n} open deals, as of {_day(dataset.as_of)}"
                if n
                else f"no open deals as of {_day(dataset.as_of)}",
            )
        )

    # --- activity volume and mix
    if dataset.has("activities") and "activities" not in mine.unavailable:
        acts = _in(dataset, "activities", rep_filter, "day", chosen)
        calendar = _days(dataset, chosen)
        daily = np.zeros(len(calendar))
        if acts.height and calendar:
            index = {d: i for i, d in enumerate(calendar)}
            for day, count in acts.group_by("day").len().iter_rows():
                if day in index:
                    daily[index[day]] = count
        rows.append(
            _Row(
                "activities_per_rep_week",
                "Activities per week",
                "count",
                "up",
                float(daily.mean() * 7) if calendar else None,
                peer.get(("activities_per_rep_week", None)),
                len(calendar),
                "days",
                _weekly(bootstrap(daily)) if calendar else None,
                rep_previous=_per_week(rep_before),
            )
        )
        total = acts.height
        for kind in ("calls", "emails", "meetings"):
            if kind in mine.unavailable:
                continue
            k = int(rep.get((kind, None)) or 0)
            peer_total = peer.get(("activities", None))
            peer_kind = peer.get((kind, None))
            rows.append(
                _Row(
                    f"{kind}_share",
                    f"{BY_ID[kind].label} share of activities",
                    "percent",
                    "neutral",
                    k / total if total else None,
                    (peer_kind or 0.0) / peer_total if peer_total else None,
                    total,
                    "activities",
                    wilson(k, total) if total else None,
                )
            )
    else:
        unavailable.setdefault("activities", BY_ID["activities"].label + " needs " + BY_ID["activities"].needs + ".")

    # --- leads: response and conversion
    if dataset.has("leads"):
        leads = _in(dataset, "leads", rep_filter, "created_day", chosen)
        if "lead_response_hours" not in mine.unavailable and "response_hours" in leads.columns:
            hours = leads.filter(pl.col("response_hours") >= 0).get_column("response_hours").to_numpy()
            rows.append(
                _Row(
                    "lead_response_hours",
                    BY_ID["lead_response_hours"].label,
                    "hours",
                    "down",
                    rep.get(("lead_response_hours", None)),
                    peer.get(("lead_response_hours", None)),
                    int(hours.size),
                    "leads answered",
                    bootstrap(hours, "median") if hours.size else None,
                    rep_previous=rep_before.get(("lead_response_hours", None)),
                )
            )
        if "lead_conversion_rate" not in mine.unavailable and "converted" in leads.columns:
            n = leads.height
            k = int(leads.get_column("converted").fill_null(False).sum()) if n else 0
            rows.append(
                _Row(
                    "lead_conversion_rate",
                    BY_ID["lead_conversion_rate"].label,
                    "percent",
                    "up",
                    rep.get(("lead_conversion_rate", None)),
                    peer.get(("lead_conversion_rate", None)),
                    n,
                    "leads",
                    wilson(k, n) if n else None,
                    rep_previous=rep_before.get(("lead_conversion_rate", None)),
                )
            )
    else:
        unavailable.setdefault("lead_conversion_rate", BY_ID["lead_conversion_rate"].label + " needs a leads export.")

    # --- quota attainment and pace: totals against a target, no sampling interval
    attainment = rep.get(("quota_attainment", None))
    if attainment is not None:
        elapsed = _elapsed(chosen, dataset.as_of)
        pace = attainment / elapsed if elapsed else None
        target = rep.get(("_target", None))
        peer_attainment = peer.get(("quota_attainment", None))
        rows.append(
            _Row(
                "quota_attainment",
                BY_ID["quota_attainment"].label,
                "percent",
                "up",
                attainment,
                peer_attainment,
                won_count,
                "won deals",
                None,
                rep_previous=rep_before.get(("quota_attainment", None)),
                total=True,
                note=(
                    f"a total against the target ({money(target or 0.0, currency)}): no sampling interval"
                    + (
                        f"; {elapsed:.0%} of the period gone, on pace for {pace:.0%} by its end"
                        if pace is not None and elapsed < 1
                        else ""
                    )
                ),
            )
        )

    for r in rows:
        r.judge(label)
    _explain_win_rate(rows)
    focus = _focus(rows, value, peers, label, currency)  # "in 2026-Q4", "in all time"
    differences = pl.DataFrame(
        [
            {
                "metric": r.metric,
                "stage": r.stage,
                "label": r.label,
                "unit": r.unit,
                "direction": r.direction,
                "rep_value": r.rep_value,
                "rep_previous": r.rep_previous,
                "peer_value": r.peer_value,
                "ci_low": r.interval[0] if r.interval else None,
                "ci_high": r.interval[1] if r.interval else None,
                "n": r.n,
                "counted": r.counted,
                "beyond_noise": r.beyond_noise,
                "revenue_effect": r.revenue_effect,
                "revenue_formula": r.revenue_formula,
                "explained_by": r.explained_by,
                "note": r.note,
                "focus_rank": r.focus_rank,
            }
            for r in rows
        ],
        schema=DIFFERENCE_SCHEMA,
    )
    deals = deals_to_discuss(dataset, value, segment=segment, history=history)
    if not open_mine.height:
        warnings.append(f"{value} has no open deals as of {_day(dataset.as_of)}")
    warnings += [w for w in dataset.warnings if w.startswith("Stage conversion")]
    return Coaching(
        segment,
        value,
        peers,
        chosen,
        previous,
        dataset.as_of,
        currency,
        differences,
        funnel_frame,
        focus,
        deals,
        unavailable,
        list(dict.fromkeys(warnings)),
    )


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _prev(frame: pl.DataFrame, currency: str) -> dict[tuple[str, str | None], float | None]:
    if not frame.height:
        return {}
    if "currency" in frame.columns:
        frame = frame.filter(pl.col("currency").is_null() | (pl.col("currency").cast(pl.String) == currency))
    return {(r["kpi"], r["stage"]): r["previous"] for r in frame.iter_rows(named=True)}


def _weekly(daily: tuple[float, float]) -> tuple[float, float]:
    return daily[0] * 7, daily[1] * 7


def _per_week(before: dict[tuple[str, str | None], float | None]) -> float | None:
    return before.get(("activities_per_rep_week", None))


def _days(dataset: Dataset, period: Period) -> list[date]:
    """The days of ``period`` up to the as-of date (all time: from the first activity)."""
    if period.grain == "all":
        first = dataset.table("activities").get_column("day").min()
        start = first if isinstance(first, date) else dataset.as_of
    else:
        start = period.start
    end = min(period.end, dataset.as_of + timedelta(days=1))
    return [start + timedelta(days=i) for i in range(max((end - start).days, 0))]


def _elapsed(period: Period, as_of: date) -> float:
    """The share of ``period`` gone by the as-of date."""
    if period.grain == "all" or as_of >= period.end - timedelta(days=1):
        return 1.0
    if as_of < period.start:
        return 0.0
    return ((as_of - period.start).days + 1) / period.days


def _funnel(
    dataset: Dataset, period: Period, rep_filter: dict[str, list[str]], peer_filter: dict[str, list[str]] | None
) -> pl.DataFrame:
    """The funnel of the rep and of the peers, with Wilson intervals of each next-step conversion."""
    schema = {
        "stage": pl.String,
        "order": pl.Int32,
        "group": pl.String,
        "reached": pl.UInt32,
        "next_rate": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
    }
    parts = []
    for group, filters in (("rep", rep_filter), ("peers", peer_filter)):
        if filters is None:
            continue
        frame = funnel(dataset, period, filters)
        if not frame.height:
            continue
        reached = frame.get_column("reached").to_list()
        lows, highs = [], []
        for i, n in enumerate(reached):
            if i + 1 < len(reached) and n:
                low, high = wilson(int(reached[i + 1]), int(n))
            else:
                low, high = None, None
            lows.append(low)
            highs.append(high)
        parts.append(
            frame.select("stage", "order", "reached", "next_rate").with_columns(
                group=pl.lit(group),
                ci_low=pl.Series(lows, dtype=pl.Float64),
                ci_high=pl.Series(highs, dtype=pl.Float64),
            )
        )
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).select(list(schema)).cast(schema)  # type: ignore[arg-type]


def _stage_rows(
    dataset: Dataset,
    frame: pl.DataFrame,
    previous: Period | None,
    rep_filter: dict[str, list[str]],
    avg_won: float | None,
    peer_avg: float | None,
    currency: str,
) -> list[_Row]:
    inferred = not dataset.has("stage_history")
    deal_size, size_whose = (avg_won, "rep's") if avg_won is not None else (peer_avg, "peers'")
    if not frame.height:
        return []
    rep = frame.filter(pl.col("group") == "rep").sort("order")
    peers = frame.filter(pl.col("group") == "peers").sort("order")
    stages = rep.get_column("stage").to_list()
    reached = [int(v) for v in rep.get_column("reached").to_list()]
    peer_reached = [int(v) for v in peers.get_column("reached").to_list()] if peers.height else []
    before = funnel(dataset, previous, rep_filter) if previous is not None else None
    before_rates = before.get_column("next_rate").to_list() if before is not None and before.height else []
    rows = []
    for i in range(len(stages) - 1):
        n, k = reached[i], reached[i + 1]
        peer_rate = peer_reached[i + 1] / peer_reached[i] if peer_reached and peer_reached[i] else None
        rate = k / n if n else None
        name = f"{stages[i]} → {stages[i + 1]}"
        r = _Row(
            "stage_conversion",
            f"{stages[i]} to {stages[i + 1]}",
            "percent",
            "up",
            rate,
            peer_rate,
            n,
            f"deals that reached {stages[i]}",
            wilson(k, n) if n else None,
            stage=name,
            rep_previous=before_rates[i] if i < len(before_rates) else None,
            note="inferred from each deal's furthest stage (no stage history)" if inferred else None,
        )
        # what the deals the rep would have moved on at the peers' conversion were worth: the rep's own win-through
        # from the next stage (the peers' when no deal of the rep got there) and average won deal
        if k:
            through, whose = reached[-1] / k, "rep's"
        elif peer_reached and peer_reached[i + 1]:
            through, whose = peer_reached[-1] / peer_reached[i + 1], "peers'"
        else:
            through, whose = None, ""
        if rate is not None and peer_rate is not None and through is not None and deal_size is not None:
            r.revenue_effect = (peer_rate - rate) * n * through * deal_size
            won_step = (
                "" if i + 1 == len(stages) - 1 else f" × {whose} win-through from {stages[i + 1]} ({through:.1%})"
            )
            r.revenue_formula = (
                f"(peers' conversion − rep's) × rep's deals that reached {stages[i]} ({n}){won_step} × "
                f"{size_whose} average won deal ({money(deal_size, currency)})"
            )
        rows.append(r)
    return rows


def _explain_win_rate(rows: list[_Row]) -> None:
    """The win rate is the funnel's product: when a stage's conversion is beyond the noise, the win rate's gap is
    that stage's gap seen from the end, so it is not counted again."""
    stages = [r for r in rows if r.metric == "stage_conversion" and r.beyond_noise and r.revenue_effect is not None]
    for r in rows:
        if r.metric == "win_rate" and r.beyond_noise and stages:
            r.explained_by = ", ".join(s.stage or "" for s in stages)


def _focus(rows: list[_Row], value: str, peers: PeerGroup, period: str, currency: str) -> list[str]:
    """The largest differences beyond the noise as sentences: those that move revenue first, ranked by their revenue
    effect, then the others by their relative size; at most :data:`FOCUS`."""
    flagged = [r for r in rows if r.beyond_noise and r.explained_by is None]
    priced = sorted(
        (r for r in flagged if r.revenue_effect is not None and round(r.revenue_effect) != 0),
        key=lambda r: -abs(r.revenue_effect or 0.0),
    )
    unpriced = sorted((r for r in flagged if r not in priced), key=lambda r: -_relative(r))
    chosen = (priced + unpriced)[:FOCUS]
    for rank, r in enumerate(chosen, start=1):
        r.focus_rank = rank
    if not chosen:
        sentence = f"Nothing stands out: no difference from {peers.words} in {period} is larger than the noise."
        small = [r for r in rows if r.metric == "win_rate" and 0 < r.n < MIN_SAMPLE]
        if small:
            sentence += f" {small[0].n} closed deals: too few to tell."
        return [sentence]
    return [_sentence(r, value, peers, period, currency) for r in chosen]


def _relative(r: _Row) -> float:
    """How far the rep is from the peers, relative to the peers' value."""
    if r.rep_value is None or r.peer_value is None:
        return 0.0
    gap = abs(r.rep_value - r.peer_value)
    return gap / abs(r.peer_value) if r.peer_value else gap


def _sentence(r: _Row, value: str, peers: PeerGroup, period: str, currency: str) -> str:
    def fmt(v: float | None) -> str:
        return format_value(v, r.unit, currency)

    low, high = r.interval or (None, None)
    what = f"Conversion from {r.label}" if r.metric == "stage_conversion" else r.label
    head = (
        f"{what}: {fmt(r.rep_value)} for {value} against {fmt(r.peer_value)} for {peers.words} "
        f"({r.n} {r.counted}; 95% interval {fmt(low)} to {fmt(high)})."
    )
    if r.revenue_effect is None:
        return f"{head} It does not enter won revenue on its own: no revenue figure."
    effect = r.revenue_effect
    rate_words = {
        "stage_conversion": "conversion there",
        "win_rate": "win rate",
        "avg_deal_size": "average won deal",
    }.get(r.metric, r.label.lower())
    if effect > 0:
        tail = (
            f"At {_possessive(peers)} {rate_words}, {value} would have won {money(effect, currency)} more in {period}."
        )
    else:
        tail = (
            f"{value} does better here: at {_possessive(peers)} {rate_words}, {value} would have won "
            f"{money(-effect, currency)} less in {period}."
        )
    return f"{head} {tail}"


def _possessive(peers: PeerGroup) -> str:
    if peers.dimension is None:
        return "the company's"
    return "the team's" if peers.dimension in TEAM_DIMENSIONS else f"the {peers.dimension.replace('_', ' ')}'s"


# --- deals to talk about ---


def deals_to_discuss(
    dataset: Dataset,
    value: str,
    *,
    segment: str = "owner",
    history: Sequence[pl.DataFrame] | None = None,
    largest: int = LARGEST,
) -> pl.DataFrame:
    """The rep's open deals worth a word: stalled, past due, slipped (close date pushed more than once across the
    kept snapshots in ``history``, oldest first) and the ``largest`` by amount, each with the facts behind its flags
    (:data:`DEAL_SCHEMA`), flagged most first, then by amount."""
    from kpi_core.changes import deal_key, push_counts

    deals = _in(dataset, "deals", {segment: [value]}, None, None)
    if not deals.height:
        return pl.DataFrame(schema=DEAL_SCHEMA)
    deals = deals.filter(pl.col("status") == "open")
    if not deals.height:
        return pl.DataFrame(schema=DEAL_SCHEMA)
    settings, as_of = dataset.settings, dataset.as_of
    medians: dict[str, float] = {}
    if dataset.has("stage_visits"):
        medians = {
            str(s): float(m)
            for s, m in dataset.table("stage_visits").group_by("stage").agg(pl.col("days").median()).iter_rows()
            if m is not None
        }
    pushes: dict[str, int] = {}
    if history and len(history) > 1:
        counted = push_counts(list(history))
        pushes = {str(d): int(p) for d, p in counted.iter_rows()}
    keys = deals.select(deal_key().alias("k")).to_series().to_list() if "deal_id" in deals.columns else []
    amounts = deals.get_column("amount").to_list() if "amount" in deals.columns else [None] * deals.height
    ranked = sorted(((a, i) for i, a in enumerate(amounts) if a is not None), reverse=True)
    rank_of = {i: n for n, (_, i) in enumerate(ranked[:largest], start=1)}
    out = []
    for i, row in enumerate(deals.iter_rows(named=True)):
        flags: list[str] = []
        facts: list[str] = []
        stage = str(row.get("stage") or "")
        if row.get("stalled"):
            flags.append("stalled")
            entered = row.get("stage_entered_at")
            limit = medians.get(stage)
            if entered is not None and limit is not None:
                in_stage = (as_of - entered.date()).days
                if in_stage > limit * settings.stalled_stage_factor:
                    facts.append(f"{in_stage} days in {stage} (the median deal leaves it after {limit:.0f})")
            last = row.get("last_activity") or row.get("created_date")
            if last is not None and (as_of - last).days > settings.stalled_idle_days:
                facts.append(f"no activity for {(as_of - last).days} days")
        if row.get("overdue") and row.get("close_date") is not None:
            flags.append("past due")
            close = row["close_date"]
            facts.append(f"close date {close.day} {close:%b %Y} passed {(as_of - close).days} days ago")
        times = pushes.get(keys[i], 0) if keys else 0
        if times > 1:
            flags.append("slipped")
            facts.append(f"close date pushed {times} times in {len(history or ())} kept snapshots")
        elif times == 1:  # once is not a slip, but worth knowing about a deal flagged for something else
            facts.append(f"close date pushed once in {len(history or ())} kept snapshots")
        if i in rank_of:
            flags.append("largest")
            facts.append(f"{_ordinal(rank_of[i])} largest open deal of {len(ranked)}")
        if not flags:
            continue
        out.append(
            {
                "deal_id": str(row.get("deal_id") or ""),
                "deal_name": None if row.get("deal_name") is None else str(row["deal_name"]),
                "stage": stage,
                "amount": row.get("amount"),
                "close_date": row.get("close_date"),
                "flags": ", ".join(flags),
                "facts": "; ".join(facts),
                "_n": len([f for f in flags if f != "largest"]),
            }
        )
    if not out:
        return pl.DataFrame(schema=DEAL_SCHEMA)
    frame = pl.DataFrame(out, schema={**DEAL_SCHEMA, "_n": pl.Int64})
    return frame.sort(["_n", "amount"], descending=True, nulls_last=True).drop("_n")


def _ordinal(n: int) -> str:
    """How a rank reads before "largest".

    >>> _ordinal(1), _ordinal(2), _ordinal(3), _ordinal(4)
    ('the', '2nd', '3rd', '4th')
    """
    return {1: "the", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def noise_words(row: dict[str, Any]) -> str:
    """A difference's certainty in a few words, for a table cell.

    >>> noise_words({"beyond_noise": True, "explained_by": None, "note": None, "n": 40})
    'yes'
    >>> noise_words({"beyond_noise": False, "explained_by": None, "note": "3 deals: too few to tell", "n": 3})
    'too few to tell'
    """
    if row["beyond_noise"] is None:
        return "a total"
    if row["beyond_noise"]:
        return f"yes (the funnel: {row['explained_by']})" if row["explained_by"] else "yes"
    note = row["note"] or ""
    if "too few" in note:
        return "too few to tell"
    if row["n"] == 0:
        return "no data"
    return "no"


def reps(dataset: Dataset, segment: str = "owner") -> list[str]:
    """The values of ``segment`` the deals hold (the reps the 1:1 can be about)."""
    if not dataset.has("deals"):
        return []
    return _values(dataset, segment)
