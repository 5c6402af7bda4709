"""The one-on-one: one rep (or any segment value) against their peers, with the size and certainty of each gap.

:func:`coach` compares a rep with their team (the ``team`` or ``manager`` dimension, else the company), their region
or the whole company, over a period and the one before it, on what a manager can talk about in a 1:1: the stage
funnel, win rate, average deal size, cycle length, time in each stage, stalled and past-due deals, activities per
week (in all and by type), lead response and conversion, and quota attainment with its pace. Every value shown is the
engine's (:func:`kpi_core.engine.report` with the rep's or the peers' filter, :func:`kpi_core.breakdowns.funnel`),
the same number the other pages, the deck and the command show; the rows behind them give each difference its
certainty. Each comparison is two-sample, the rep against the peers (computed without the rep), whose own numbers are
as uncertain as the rep's (:mod:`kpi_core.comparisons`):

- **rates** (win rate, stage conversion, lead conversion, stalled and past-due shares): the difference of the two
  proportions with Newcombe's score interval;
- **amounts and durations** (deal size, cycle, time in a stage, lead response): Welch's t on their logarithms (they
  are skewed), so the difference reads as "a typical deal 30% smaller";
- **activities per week**: the rep's weekly rate against the spread of the peers' own weekly rates (how much reps
  differ week to week and from each other is the noise; never less than counts' Poisson spread), t on the peers'
  number minus one degrees of freedom (the mix by type is shown beside it, not judged);
- then **Holm's correction across all the rep's comparisons on the page**: a difference is *beyond the noise* only
  when it survives it (and its 95% interval leaves out zero), so that a rep who is like the team gets any flag at all
  at most :data:`ALPHA` of the time (``benchmarks/sim_coaching.py`` measures it on simulated teams, and the power to
  find a real gap). With fewer than :data:`MIN_SAMPLE` of what is counted it says "3 closed deals: too few to tell".

A difference beyond the noise is **better** or **worse** by the KPI's good direction (the registry's ``direction``):
the 1:1 lists strengths and gaps apart. Each difference that moves revenue carries its **revenue effect**, with its
formula: what the rep would have won at the peers' value, all else the rep's own. The gaps and strengths are ranked by
that effect; the deals to talk about are the rep's stalled, past-due, slipped and largest open deals, each with the
facts behind its flags.
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
from kpi_core.comparisons import Comparison, holm, newcombe, prediction, welch, wilson
from kpi_core.engine import _filter_expr, earliest_date, report
from kpi_core.formatting import format_value, money
from kpi_core.model import DataError, Dataset
from kpi_core.periods import Grain, Period
from kpi_core.registry import BY_ID

Against = Literal["team", "region", "company"]
AGAINST: tuple[Against, ...] = ("team", "region", "company")
ALPHA = 0.10
"""The chance that a rep who is like their peers gets any difference called beyond the noise, across all of the
page's comparisons together (Holm's correction): at most one such rep in ten. A difference must also leave zero out of
its 95% interval."""
LEVEL = 0.95
"""The level of each interval shown."""
MIN_SAMPLE = 10
"""Fewer deals (leads, stage exits) than this: too few to tell, whatever the interval says."""
MIN_PEER_UNITS = 2
"""A spread of weekly rates needs at least this many peers with activity."""
LARGEST = 5
"""How many of the rep's largest open deals are flagged as deals to talk about."""
FOCUS = 3
"""At most this many gaps, and this many strengths, as sentences."""
TEAM_DIMENSIONS = ("team", "manager")
"""Where a rep's team comes from, in order."""

Verdict = Literal["better", "worse", "no clear difference", "too few to tell", "no data", "a total"]
Scale = Literal["points", "relative", "per week"]
"""How a difference reads: percentage points of a rate; the ratio of typical values minus one (amounts and
durations, compared on logarithms); activities per week."""

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
"""What the engine computes for the rep and for the peers over the period."""
PIPELINE_KPIS = ("stalled_deals", "overdue_deals")
"""The state of the open pipeline: the engine's count for the period holding the as-of date."""
ACTIVITY_KPIS = ("activities_per_rep_week",)
"""What the engine computes for each peer on their own (the spread of weekly rates)."""
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
    "difference": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "scale": pl.String,
    "method": pl.String,
    "p_value": pl.Float64,
    "p_adjusted": pl.Float64,
    "n": pl.Int64,
    "counted": pl.String,
    "peer_n": pl.Int64,
    "beyond_noise": pl.Boolean,
    "verdict": pl.String,
    "revenue_effect": pl.Float64,
    "revenue_formula": pl.String,
    "explained_by": pl.String,
    "note": pl.String,
    "focus_rank": pl.Int64,
}
"""The columns of :attr:`Coaching.differences`: the rep's and the peers' values (the engine's), the difference (rep
minus peers, on ``scale``) with its 95% interval from ``method``, its p-value alone and after Holm's correction across
the page's comparisons (``p_adjusted``, null when not judged), the rep's sample (``n`` ``counted``) and the peers'
(``peer_n``), the ``verdict`` and the revenue effect; ``focus_rank`` orders the gaps, and the strengths, among
themselves."""

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
    """What :func:`coach` found. ``differences`` has :data:`DIFFERENCE_SCHEMA`'s columns, one row per comparison
    (per stage for the funnel and time in stage); ``funnel`` the stage funnel of the rep and the peers (stage, order,
    group, reached, next_rate, ci_low, ci_high: the rep's Wilson interval); ``gaps`` and ``strengths`` the largest
    differences beyond the noise, worse and better by each KPI's good direction, as sentences; ``summary`` one line
    on the whole; ``compared`` how many comparisons were judged together; ``deals`` the deals to talk about
    (:data:`DEAL_SCHEMA`)."""

    segment: str
    value: str
    peers: PeerGroup
    period: Period
    previous: Period | None
    as_of: date
    currency: str
    differences: pl.DataFrame
    funnel: pl.DataFrame
    gaps: list[str]
    strengths: list[str]
    summary: str
    compared: int
    deals: pl.DataFrame
    unavailable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    pipeline_period: Period | None = None
    """The period holding the as-of date, whose open pipeline the stalled and past-due rows describe."""
    as_of_source: str = ""
    """Where the as-of date came from, in words (the dataset's)."""

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
            item = {k: clean(v) for k, v in row.items() if k not in ("ci_low", "ci_high")}
            item["interval"] = None if row["ci_low"] is None else [clean(row["ci_low"]), clean(row["ci_high"])]
            differences.append(item)
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
            "as_of_source": self.as_of_source,
            "currency": self.currency,
            "summary": self.summary,
            "gaps": self.gaps,
            "strengths": self.strengths,
            "compared": self.compared,
            "alpha": ALPHA,
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
    test: Comparison | None = None
    scale: Scale | None = None
    peer_n: int | None = None
    stage: str | None = None
    rep_previous: float | None = None
    revenue_effect: float | None = None
    revenue_formula: str | None = None
    explained_by: str | None = None
    note: str | None = None
    minimum: int = MIN_SAMPLE
    untested: str | None = None
    """Why a row with data on both sides is not judged (too few peers), when that is the reason."""
    total: bool = False
    """A total against a target (quota): no sampling interval, never called beyond the noise."""
    p_adjusted: float | None = None
    beyond_noise: bool | None = None
    verdict: Verdict = "no data"
    focus_rank: int | None = None

    def screen(self, period: str) -> bool:
        """True when this row is judged with the others; otherwise its verdict and note say why not."""
        self.beyond_noise = None if self.total else False
        if self.total:
            self.verdict = "a total"
        elif self.n == 0 or self.rep_value is None:
            self.note = self.note or f"no {self.counted} in {period}"
            self.verdict = "no data"
        elif self.peer_value is None:
            self.note = self.note or "no peer value to compare with"
            self.verdict = "no data"
        elif self.n < self.minimum:
            self.note = f"{self.n} {self.counted}: too few to tell"
            self.verdict = "too few to tell"
        elif self.test is None:
            self.note = self.note or self.untested or "too few to tell"
            self.verdict = "too few to tell"
        else:
            return True
        return False

    def decide(self, adjusted: float) -> None:
        """Beyond the noise when the p-value after the correction is under :data:`ALPHA` and the 95% interval leaves
        out zero; then better or worse by the KPI's good direction."""
        assert self.test is not None
        self.p_adjusted = adjusted
        self.beyond_noise = adjusted < ALPHA and (self.test.low > 0 or self.test.high < 0)
        if not self.beyond_noise:
            self.verdict = "no clear difference"
            return
        higher = self.test.difference > 0
        self.verdict = "better" if higher == (self.direction == "up") else "worse"


def _rates(k: int, n: int, peer_k: int, peer_n: int) -> Comparison | None:
    """The rep's ``k/n`` against the peers' with Newcombe's interval (None when a side has nothing)."""
    if n <= 0 or peer_n <= 0:
        return None
    return newcombe(min(k, n), n, min(peer_k, peer_n), peer_n, level=LEVEL)


LOG_OFFSET = {"currency": 1.0, "days": 1.0, "hours": 1 / 60}
"""What is added before taking logarithms, by unit: the resolution of the data (a unit of money, a day, a minute),
so that a zero (an instant reply, a same-day close) stays a small value instead of minus infinity."""


def _logs(mine: np.ndarray, theirs: np.ndarray, unit: str) -> Comparison | None:
    """Skewed amounts or durations: Welch's t on ``log(offset + value)`` (:data:`LOG_OFFSET`), given back as the
    ratio of typical values minus one (None when a side has fewer than two values)."""
    if mine.size < 2 or theirs.size < 2:
        return None
    offset = LOG_OFFSET[unit]
    found = welch(np.log(np.maximum(mine, 0.0) + offset), np.log(np.maximum(theirs, 0.0) + offset), level=LEVEL)
    return Comparison(
        math.expm1(found.difference),
        math.expm1(found.low),
        math.expm1(found.high),
        found.p_value,
        "Welch's t on logarithms",
    )


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


def _by_value(frame: pl.DataFrame, segment: str, currency: str) -> dict[str, dict[tuple[str, str | None], Any]]:
    """An engine report split by ``segment``: each value's (kpi, stage) -> value."""
    out: dict[str, dict[tuple[str, str | None], Any]] = {}
    if not frame.height or segment not in frame.columns:
        return out
    for key, part in frame.partition_by(segment, as_dict=True).items():
        if key[0] is not None:
            out[str(key[0])] = _values_of(part, currency)
    return out


def _column(frame: pl.DataFrame, column: str) -> np.ndarray:
    if not frame.height or column not in frame.columns:
        return np.array([], dtype=np.float64)
    return frame.get_column(column).drop_nulls().cast(pl.Float64).to_numpy()


def _closed(dataset: Dataset, filters: dict[str, list[str]], period: Period) -> pl.DataFrame:
    closed = _in(dataset, "deals", filters, "close_date", period)
    return closed.filter(pl.col("status").is_in(["won", "lost"])) if closed.height else closed


def _open(dataset: Dataset, filters: dict[str, list[str]]) -> pl.DataFrame:
    deals = _in(dataset, "deals", filters, None, None)
    return deals.filter(pl.col("status") == "open") if deals.height else deals


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
    >>> found.peers.name, found.gaps, found.strengths, found.summary[:20]
    ('the company', [], [], 'Nothing stands out: ')
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
    now = P.make(dataset.as_of, grain, fy)
    peers = peer_group(dataset, value, against, segment=segment)
    currency = dataset.currency
    rep_filter = {segment: [value]}
    peer_filter = {segment: list(peers.members)}
    warnings: list[str] = [peers.note] if peers.note else []

    mine = report(dataset, list(ENGINE_KPIS), grain=grain, periods=[chosen], filters=rep_filter)
    rep = _values_of(mine.frame, currency)
    rep_before = _prev(mine.frame, currency) if previous is not None else {}
    pipeline = report(dataset, list(PIPELINE_KPIS), grain=grain, periods=[now], filters=rep_filter, compare=False)
    rep_now = _values_of(pipeline.frame, currency)
    peer: dict[tuple[str, str | None], float | None] = {}
    peer_now: dict[tuple[str, str | None], float | None] = {}
    if peers.members:
        theirs = report(dataset, list(ENGINE_KPIS), grain=grain, periods=[chosen], filters=peer_filter, compare=False)
        peer = _values_of(theirs.frame, currency)
        peer_now = _values_of(
            report(dataset, list(PIPELINE_KPIS), grain=grain, periods=[now], filters=peer_filter, compare=False).frame,
            currency,
        )
    else:
        warnings.append(f"{value} has no peers to compare with in this data")
    unavailable = {k: r for k, r in mine.unavailable.items() if k in SHOWN}
    label = "all time" if chosen.grain == "all" else chosen.label
    rows: list[_Row] = []

    # --- won and lost deals: win rate, deal size, cycle
    closed = _closed(dataset, rep_filter, chosen)
    peer_closed = _closed(dataset, peer_filter, chosen) if peers.members else pl.DataFrame()
    won = closed.filter(pl.col("status") == "won") if closed.height else closed
    peer_won = peer_closed.filter(pl.col("status") == "won") if peer_closed.height else peer_closed
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
            BY_ID["win_rate"].direction,
            rep.get(("win_rate", None)),
            peer.get(("win_rate", None)),
            n,
            "closed deals",
            _rates(k, n, peer_won.height, peer_closed.height),
            "points",
            peer_closed.height,
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
        amounts, peer_amounts = _column(won, "amount"), _column(peer_won, "amount")
        r = _Row(
            "avg_deal_size",
            BY_ID["avg_deal_size"].label,
            "currency",
            BY_ID["avg_deal_size"].direction,
            avg_won,
            peer_avg,
            int(amounts.size),
            "won deals",
            _logs(amounts, peer_amounts, "currency"),
            "relative",
            int(peer_amounts.size),
            rep_previous=rep_before.get(("avg_deal_size", None)),
        )
        if avg_won is not None and peer_avg is not None:
            r.revenue_effect = (peer_avg - avg_won) * won_count
            r.revenue_formula = f"(peers' average won deal − rep's) × rep's won deals ({won_count})"
        rows.append(r)
    if "sales_cycle_days" not in mine.unavailable and "cycle_days" in won.columns:
        cycles, peer_cycles = _column(won, "cycle_days"), _column(peer_won, "cycle_days")
        rows.append(
            _Row(
                "sales_cycle_days",
                BY_ID["sales_cycle_days"].label,
                "days",
                BY_ID["sales_cycle_days"].direction,
                rep.get(("sales_cycle_days", None)),
                peer.get(("sales_cycle_days", None)),
                int(cycles.size),
                "won deals",
                _logs(cycles, peer_cycles, "days"),
                "relative",
                int(peer_cycles.size),
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
        peer_visits = (
            _in(dataset, "stage_visits", peer_filter, "exited_day", chosen) if peers.members else visits.clear()
        )
        for stage in dataset.stage_order:
            days = _column(visits.filter(pl.col("stage").cast(pl.String) == stage) if visits.height else visits, "days")
            peer_days = _column(
                peer_visits.filter(pl.col("stage").cast(pl.String) == stage) if peer_visits.height else peer_visits,
                "days",
            )
            rows.append(
                _Row(
                    "time_in_stage_days",
                    f"Time in {stage}",
                    "days",
                    BY_ID["time_in_stage_days"].direction,
                    rep.get(("time_in_stage_days", stage)),
                    peer.get(("time_in_stage_days", stage)),
                    int(days.size),
                    f"deals that left {stage}",
                    _logs(days, peer_days, "days"),
                    "relative",
                    int(peer_days.size),
                    stage=stage,
                    rep_previous=rep_before.get(("time_in_stage_days", stage)),
                )
            )
    elif "time_in_stage_days" not in unavailable:
        unavailable["time_in_stage_days"] = BY_ID["time_in_stage_days"].label + " needs stage history or snapshots."

    # --- the open pipeline now: stalled and past-due shares (the engine's counts over all open deals)
    open_mine = _open(dataset, rep_filter)
    open_peers = _open(dataset, peer_filter) if peers.members else pl.DataFrame()
    day = _day(dataset.as_of)
    for metric, what in (
        ("stalled_deals", "Stalled share of open deals"),
        ("overdue_deals", "Past-due share of open deals"),
    ):
        if metric in pipeline.unavailable:
            unavailable[metric] = (
                f"{BY_ID[metric].label} need stage history (time in stage) or activities linked to deals (days "
                "without activity)."
                if metric == "stalled_deals"
                else f"{BY_ID[metric].label} need open deals with a close date."
            )
            continue
        n, peer_n = open_mine.height, open_peers.height
        k = min(int(rep_now.get((metric, None)) or 0), n)
        peer_k = min(int(peer_now.get((metric, None)) or 0), peer_n)
        rows.append(
            _Row(
                metric,
                what,
                "percent",
                BY_ID[metric].direction,
                k / n if n else None,
                peer_k / peer_n if peer_n else None,
                n,
                "open deals",
                _rates(k, n, peer_k, peer_n),
                "points",
                peer_n,
                note=f"{k} of {n} open deals, as of {day}" if n else f"no open deals as of {day}",
            )
        )

    # --- activities per week, in all and by type: each rep's weekly rate, against the spread of the peers' rates
    if dataset.has("activities") and "activities" not in mine.unavailable:
        rows.append(_activity_row(dataset, chosen, segment, value, peers, rep, rep_before, peer, mine.unavailable))
    else:
        unavailable.setdefault("activities", BY_ID["activities"].label + " needs " + BY_ID["activities"].needs + ".")

    # --- leads: response and conversion
    if dataset.has("leads"):
        leads = _in(dataset, "leads", rep_filter, "created_day", chosen)
        peer_leads = _in(dataset, "leads", peer_filter, "created_day", chosen) if peers.members else leads.clear()
        if "lead_response_hours" not in mine.unavailable and "response_hours" in leads.columns:
            hours = _column(leads.filter(pl.col("response_hours") >= 0), "response_hours")
            peer_hours = (
                _column(peer_leads.filter(pl.col("response_hours") >= 0), "response_hours")
                if peer_leads.height
                else np.array([])
            )
            rows.append(
                _Row(
                    "lead_response_hours",
                    BY_ID["lead_response_hours"].label,
                    "hours",
                    BY_ID["lead_response_hours"].direction,
                    rep.get(("lead_response_hours", None)),
                    peer.get(("lead_response_hours", None)),
                    int(hours.size),
                    "leads answered",
                    _logs(hours, peer_hours, "hours"),
                    "relative",
                    int(peer_hours.size),
                    rep_previous=rep_before.get(("lead_response_hours", None)),
                )
            )
        if "lead_conversion_rate" not in mine.unavailable and "converted" in leads.columns:
            n, peer_n = leads.height, peer_leads.height
            k = int(leads.get_column("converted").fill_null(False).sum()) if n else 0
            peer_k = int(peer_leads.get_column("converted").fill_null(False).sum()) if peer_n else 0
            rows.append(
                _Row(
                    "lead_conversion_rate",
                    BY_ID["lead_conversion_rate"].label,
                    "percent",
                    BY_ID["lead_conversion_rate"].direction,
                    rep.get(("lead_conversion_rate", None)),
                    peer.get(("lead_conversion_rate", None)),
                    n,
                    "leads",
                    _rates(k, n, peer_k, peer_n),
                    "points",
                    peer_n,
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
        rows.append(
            _Row(
                "quota_attainment",
                BY_ID["quota_attainment"].label,
                "percent",
                BY_ID["quota_attainment"].direction,
                attainment,
                peer.get(("quota_attainment", None)),
                won_count,
                "won deals",
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

    # --- every comparison judged together: Holm's correction across the page
    family = [r for r in rows if r.screen(label)]
    for r, adjusted in zip(family, holm([r.test.p_value for r in family if r.test is not None]), strict=True):
        r.decide(adjusted)
    _explain_win_rate(rows)
    gaps, strengths, summary = _lists(rows, value, peers, label, currency, len(family))
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
                "difference": r.test.difference if r.test else None,
                "ci_low": r.test.low if r.test else None,
                "ci_high": r.test.high if r.test else None,
                "scale": r.scale if r.test else None,
                "method": r.test.method if r.test else None,
                "p_value": r.test.p_value if r.test else None,
                "p_adjusted": r.p_adjusted,
                "n": r.n,
                "counted": r.counted,
                "peer_n": r.peer_n,
                "beyond_noise": r.beyond_noise,
                "verdict": r.verdict,
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
        warnings.append(f"{value} has no open deals as of {day}")
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
        gaps,
        strengths,
        summary,
        len(family),
        deals,
        unavailable,
        list(dict.fromkeys(warnings)),
        now,
        dataset.as_of_source,
    )


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _prev(frame: pl.DataFrame, currency: str) -> dict[tuple[str, str | None], float | None]:
    if not frame.height:
        return {}
    if "currency" in frame.columns:
        frame = frame.filter(pl.col("currency").is_null() | (pl.col("currency").cast(pl.String) == currency))
    return {(r["kpi"], r["stage"]): r["previous"] for r in frame.iter_rows(named=True)}


def _per_week(values: dict[tuple[str, str | None], Any], kind: str | None) -> float | None:
    """Activities (of ``kind``: calls, emails, meetings; all when None) per rep per week, from the engine's
    ``activities_per_rep_week`` = activities / (reps with activity x weeks): the type's share of those activities."""
    per_week = values.get(("activities_per_rep_week", None))
    if per_week is None:
        return None
    if kind is None:
        return float(per_week)
    total = values.get(("activities", None))
    if not total:
        return None
    return float(values.get((kind, None)) or 0.0) * float(per_week) / float(total)


def _window(dataset: Dataset, period: Period) -> tuple[date, date]:
    """The days the engine counts a period's activities over: its days up to the as-of date (all time: from the
    first date in the data), as [start, end)."""
    start = (earliest_date(dataset) or dataset.as_of) if period.grain == "all" else period.start
    return start, max(min(period.end, dataset.as_of + timedelta(days=1)), start)


def _weeks(start: date, end: date) -> list[tuple[int, int]]:
    """The ISO weeks (year, week) the days ``[start, end)`` touch.

    >>> _weeks(date(2026, 6, 28), date(2026, 7, 7))  # Sunday of week 26, then week 27 and Monday of week 28
    [(2026, 26), (2026, 27), (2026, 28)]
    """
    weeks: list[tuple[int, int]] = []
    day = start
    while day < end:
        iso = day.isocalendar()
        if not weeks or weeks[-1] != (iso.year, iso.week):
            weeks.append((iso.year, iso.week))
        day += timedelta(days=1)
    return weeks


def _activity_row(
    dataset: Dataset,
    period: Period,
    segment: str,
    value: str,
    peers: PeerGroup,
    rep: dict[tuple[str, str | None], float | None],
    rep_before: dict[tuple[str, str | None], float | None],
    peer: dict[tuple[str, str | None], float | None],
    unavailable: dict[str, str],
) -> _Row:
    """Activities per week: the rep's weekly rate (the engine's) against the peers' (the engine's: the mean over
    peers with activity), judged against the spread of each peer's own weekly rate. The mix by type (calls, emails,
    meetings a week) is in the note, shown but not judged: each judged comparison costs the others certainty."""
    rates: list[float] = []
    if peers.members:
        each = report(
            dataset,
            list(ACTIVITY_KPIS),
            grain=period.grain,
            periods=[period],
            by=[segment],
            filters={segment: list(peers.members)},
            compare=False,
        )
        units = _by_value(each.frame, segment, dataset.currency)
        rates = [r for r in (_per_week(u, None) for u in units.values()) if r is not None]
    start, end = _window(dataset, period)
    weeks = _weeks(start, end)
    acts = _in(dataset, "activities", {segment: [value]}, "day", period)
    active = 0
    if acts.height:
        days = acts.filter(pl.col("day").is_between(start, end, closed="left")).get_column("day")
        active = (days.dt.iso_year().cast(pl.Int64) * 100 + days.dt.week().cast(pl.Int64)).n_unique()
    rate = _per_week(rep, None)
    # the Poisson floor of a weekly rate's variance: its mean over the weeks it is counted over
    exposure = max((end - start).days, 1) / 7
    floor = float(np.mean(rates)) / exposure if rates else 0.0
    test = (
        prediction(rate, rates, level=LEVEL, floor=floor) if rate is not None and len(rates) >= MIN_PEER_UNITS else None
    )
    note = None
    if rate is not None:
        note = f"activities in {active} of {len(weeks)} weeks"
        if rates:
            note += f"; the peers' own weekly rates {min(rates):,.1f} to {max(rates):,.1f}"
        kinds = [k for k in ("calls", "emails", "meetings") if k not in unavailable]
        if kinds:
            mix = ", ".join(f"{format_value(_per_week(rep, k), 'count')} {k}" for k in kinds)
            theirs = ", ".join(format_value(_per_week(peer, k), "count") for k in kinds)
            note += f"; a week: {mix} (peers {theirs}), the mix not judged"
    return _Row(
        "activities_per_rep_week",
        "Activities per week",
        "count",
        BY_ID["activities_per_rep_week"].direction,
        rate,
        _per_week(peer, None),
        len(weeks),
        "weeks",
        test,
        "per week",
        len(rates),
        rep_previous=_per_week(rep_before, None),
        minimum=1,
        untested=f"{len(rates)} peer(s) with activities: too few to tell how much reps differ",
        note=note,
    )


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
    """The funnel of the rep and of the peers, with Wilson intervals of each of the rep's next-step conversions."""
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
            if group == "rep" and i + 1 < len(reached) and n:
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
        peer_n, peer_k = (peer_reached[i], peer_reached[i + 1]) if peer_reached else (0, 0)
        peer_rate = peer_k / peer_n if peer_n else None
        rate = k / n if n else None
        name = f"{stages[i]} → {stages[i + 1]}"
        r = _Row(
            "stage_conversion",
            f"{stages[i]} to {stages[i + 1]}",
            "percent",
            BY_ID["stage_conversion"].direction,
            rate,
            peer_rate,
            n,
            f"deals that reached {stages[i]}",
            _rates(k, n, peer_k, peer_n),
            "points",
            peer_n,
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
    """The win rate is the funnel's product: when a stage's conversion is beyond the noise in the same direction,
    the win rate's gap is that stage's gap seen from the end, so it is not counted again."""
    for r in rows:
        if r.metric != "win_rate" or not r.beyond_noise:
            continue
        stages = [
            s
            for s in rows
            if s.metric == "stage_conversion" and s.beyond_noise and s.verdict == r.verdict and s.revenue_effect
        ]
        if stages:
            r.explained_by = ", ".join(s.stage or "" for s in stages)


def _lists(
    rows: list[_Row], value: str, peers: PeerGroup, period: str, currency: str, compared: int
) -> tuple[list[str], list[str], str]:
    """The gaps and the strengths beyond the noise as sentences (those that move revenue first, by the size of their
    revenue effect, then the others by their relative size; at most :data:`FOCUS` of each), and a summary line."""
    flagged = [r for r in rows if r.beyond_noise and r.explained_by is None]
    lists: dict[str, list[str]] = {}
    for verdict in ("worse", "better"):
        mine = [r for r in flagged if r.verdict == verdict]
        priced = sorted(
            (r for r in mine if r.revenue_effect is not None and round(r.revenue_effect) != 0),
            key=lambda r: -abs(r.revenue_effect or 0.0),
        )
        unpriced = sorted((r for r in mine if r not in priced), key=lambda r: -_relative(r))
        chosen = (priced + unpriced)[:FOCUS]
        for rank, r in enumerate(chosen, start=1):
            r.focus_rank = rank
        lists[verdict] = [_sentence(r, value, peers, period, currency) for r in chosen]
    judged = f"{compared} comparison{'s' if compared != 1 else ''} judged together"
    if not flagged:
        summary = (
            f"Nothing stands out: no difference from {peers.words} in {period} is larger than the noise ({judged})."
        )
        small = [r for r in rows if r.metric == "win_rate" and 0 < r.n < MIN_SAMPLE]
        if small:
            summary += f" {small[0].n} closed deals: too few to tell."
    else:
        worse, better = (sum(r.verdict == v for r in flagged) for v in ("worse", "better"))
        parts = [
            f"{worse} gap{'s' if worse != 1 else ''}" if worse else "",
            f"{better} strength" + ("s" if better != 1 else "") if better else "",
        ]
        summary = (
            f"{' and '.join(p for p in parts if p)} beyond the noise against {peers.words} in {period} ({judged})."
        )
        summary = summary[0].upper() + summary[1:]
    return lists["worse"], lists["better"], summary


def _relative(r: _Row) -> float:
    """How far the rep is from the peers, relative to the peers' value."""
    if r.test is None:
        return 0.0
    if r.scale == "relative":
        return abs(r.test.difference)
    return abs(r.test.difference) / abs(r.peer_value) if r.peer_value else abs(r.test.difference)


def _words(scale: str | None, unit: str, difference: float, low: float, high: float) -> tuple[str, str]:
    """A difference and its interval in words.

    >>> _words("points", "percent", -0.183, -0.32, -0.031)
    ('18.3 points lower', '3.1 to 32.0 points lower')
    >>> _words("relative", "hours", 3.06, 1.8, 4.87)
    ('typically 4.1 times as long', '2.8 to 5.9 times as long')
    >>> _words("relative", "currency", -0.31, -0.46, 0.05)
    ('typically 31% lower', 'from 46% lower to 5% higher')
    """
    up, down = ("longer", "shorter") if unit in ("days", "hours") else ("higher", "lower")
    if scale == "per week":
        up, down = "more", "fewer"
    if scale == "relative" and difference >= 1 and low >= 0:  # twice or more: a ratio reads better than +306%
        times = "as long" if unit in ("days", "hours") else "as high"
        return f"typically {1 + difference:.1f} times {times}", f"{1 + low:.1f} to {1 + high:.1f} times {times}"

    def amount(v: float) -> str:
        if scale == "points":
            return f"{abs(v) * 100:.1f}"
        if scale == "relative":
            return f"{abs(v):.1%}" if abs(v) < 0.01 else f"{abs(v):.0%}"
        return f"{abs(v):,.1f}"

    tail = {"points": " points", "relative": "", "per week": " a week"}.get(scale or "", "")
    word = up if difference > 0 else down
    prefix = "typically " if scale == "relative" else ""
    head = f"{prefix}{amount(difference)}{tail} {word}"
    if low > 0:
        interval = f"{amount(low)} to {amount(high)}{tail} {up}"
    elif high < 0:
        interval = f"{amount(high)} to {amount(low)}{tail} {down}"
    else:
        interval = f"from {amount(low)}{tail} {down} to {amount(high)}{tail} {up}"
    return head, interval


def _sentence(r: _Row, value: str, peers: PeerGroup, period: str, currency: str) -> str:
    def fmt(v: float | None) -> str:
        return format_value(v, r.unit, currency)

    assert r.test is not None
    what = f"Conversion from {r.label}" if r.metric == "stage_conversion" else r.label
    head, interval = _words(r.scale, r.unit, r.test.difference, r.test.low, r.test.high)
    sentence = (
        f"{what}: {fmt(r.rep_value)} for {value} against {fmt(r.peer_value)} for {peers.words}, {head} "
        f"(95% interval {interval}; {r.n} {r.counted})."
    )
    effect = r.revenue_effect
    if effect is None or round(effect) == 0:
        return sentence
    rate_words = {
        "stage_conversion": "conversion there",
        "win_rate": "win rate",
        "avg_deal_size": "average won deal",
    }.get(r.metric, r.label.lower())
    if effect > 0:
        return f"{sentence} At {_possessive(peers)} {rate_words}, {value} would have won {money(effect, currency)} more in {period}."
    return (
        f"{sentence} Worth {money(-effect, currency)} in {period}: at {_possessive(peers)} {rate_words}, {value} would "
        "have won that much less."
    )


def _possessive(peers: PeerGroup) -> str:
    if peers.dimension is None:
        return "the company's"
    return "the team's" if peers.dimension in TEAM_DIMENSIONS else f"the {peers.dimension.replace('_', ' ')}'s"


def difference_text(row: dict[str, Any]) -> str:
    """A difference and its 95% interval for a table cell (rep minus peers), by its scale; a dash when none.

    >>> difference_text({"scale": "points", "difference": -0.183, "ci_low": -0.32, "ci_high": -0.031})
    '-18.3 pts (-32.0 to -3.1)'
    >>> difference_text({"scale": "relative", "difference": -0.31, "ci_low": -0.46, "ci_high": -0.12})
    '-31% typical (-46% to -12%)'
    >>> difference_text({"scale": "relative", "difference": 3.06, "ci_low": 1.8, "ci_high": 4.87})
    '×4.1 typical (×2.8 to ×5.9)'
    >>> difference_text({"scale": "per week", "difference": 9.25, "ci_low": -2.0, "ci_high": 20.5})
    '+9.2/week (-2.0 to +20.5)'
    """
    d, low, high = row.get("difference"), row.get("ci_low"), row.get("ci_high")
    if d is None or low is None or high is None:
        return "—"
    scale = row.get("scale")
    if scale == "points":
        return f"{d * 100:+.1f} pts ({low * 100:+.1f} to {high * 100:+.1f})"
    if scale == "relative" and d >= 1 and low >= 0:  # twice or more: a ratio reads better than +306%
        return f"×{1 + d:.1f} typical (×{1 + low:.1f} to ×{1 + high:.1f})"
    if scale == "relative":
        return f"{_percent(d)} typical ({_percent(low)} to {_percent(high)})"
    return f"{d:+,.1f}/week ({low:+,.1f} to {high:+,.1f})"


def _percent(value: float) -> str:
    """A signed relative difference: whole percent, one decimal under one percent (never "-0%").

    >>> _percent(-0.31), _percent(-0.0012), _percent(0.0), _percent(0.004)
    ('-31%', '-0.1%', '+0%', '+0.4%')
    """
    if value == 0:
        return "+0%"
    return f"{value:+.1%}" if abs(value) < 0.01 else f"{value:+.0%}"


def revenue_text(value: float | None, currency: str) -> str:
    """A revenue effect for a table cell: money with its sign (what the rep would have won more, or less, at the peers'
    value); a dash when the comparison moves no revenue.

    >>> revenue_text(12000.0, "USD"), revenue_text(-186652.04, "USD"), revenue_text(-5.0, "CHF"), revenue_text(None, "USD")
    ('+$12,000', '-$186,652', '-5 CHF', '—')
    """
    if value is None or not math.isfinite(value):
        return "—"
    return ("+" if value >= 0 else "") + money(value, currency)


def p_text(value: float | None) -> str:
    """A p-value for a table cell: ``0.3%``, ``<0.1%``, ``100%``; a dash when the row was not judged.

    >>> p_text(0.0031), p_text(0.00004), p_text(1.0), p_text(None)
    ('0.3%', '<0.1%', '100%', '—')
    """
    if value is None:
        return "—"
    if value < 0.001:
        return "<0.1%"
    return f"{value:.0%}" if value >= 0.1 else f"{value:.1%}"


def verdict_words(row: dict[str, Any]) -> str:
    """A comparison's verdict for a table cell: better or worse (beyond the noise, by the KPI's good direction), no
    clear difference, too few to tell, no data, a total.

    >>> verdict_words({"verdict": "worse", "explained_by": None})
    'worse'
    >>> verdict_words({"verdict": "worse", "explained_by": "Proposal → Negotiation"})
    'worse (the funnel: Proposal → Negotiation)'
    """
    verdict = str(row["verdict"])
    if verdict in ("better", "worse") and row.get("explained_by"):
        return f"{verdict} (the funnel: {row['explained_by']})"
    return verdict


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


def reps(dataset: Dataset, segment: str = "owner") -> list[str]:
    """The values of ``segment`` the deals hold (the reps the 1:1 can be about)."""
    if not dataset.has("deals"):
        return []
    return _values(dataset, segment)
