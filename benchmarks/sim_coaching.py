"""How often the 1:1 calls a chance difference "beyond the noise", and how often it finds a real one.

Simulated teams in which no rep differs from the others in expectation (homogeneous teams of 3, 5, 8, 15 and 40
reps), every rep compared with the rest of their team by :func:`kpi_core.coaching.coach`, the function the page, the
PDF and the command use, on every comparison the page makes (win rate, deal size, cycle, each stage's conversion and
time in stage, stalled and past-due shares, activities per week and by type, lead response and conversion):

- **false flags**: the share of reps with at least one difference called beyond the noise (the goal: at most 10%);
- **power**: in the same teams, one rep converts half as many deals as the others at one stage (a 2x difference, at
  40 deals per rep per quarter): the share of teams in which the 1:1 finds that stage as that rep's gap.

The data is as a CRM exports it: deals with stage history (stage durations lognormal, lost deals dying at each
stage, open deals with a close date that may have passed), deal sizes lognormal, activities with a weekday pattern,
day-to-day overdispersion and a rep-and-quarter intensity that varies (rep-level overdispersion, the same
distribution for every rep), deal-linked touches (so stalled deals come from both rules), and leads with skewed
response times.

    python -m benchmarks.sim_coaching                 # the full run (BENCHMARKS.md has its numbers)
    python -m benchmarks.sim_coaching --teams 4       # fewer teams per size

``tests/test_coaching_sim.py`` runs a reduced version in CI.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

import kpi_core as K
from kpi_core import coaching as C

AS_OF = date(2026, 6, 30)
PERIOD = "2026-Q2"
START = date(2025, 10, 1)
"""Deals are created from here to the as-of date: three quarters, so the period's closed deals include older ones."""
STAGES = ("Qualification", "Discovery", "Proposal", "Negotiation")
CONVERSION = (0.55, 0.6, 0.65, 0.6)
"""Each stage's chance of going on to the next (the last one's: of being won)."""
STAGE_DAYS = (10.0, 14.0, 12.0, 9.0)
"""The median days a deal spends in each stage (lognormal, sigma 0.6)."""
DEAL_SIZE = 18_000.0
"""The median deal (lognormal, sigma 0.7)."""
PROSPECTING = 45.0
"""Activities per rep per week not linked to a deal, before the rep's quarter intensity."""
WEEKDAY = np.array([0.23, 0.22, 0.21, 0.2, 0.14, 0.0, 0.0])
"""Monday to Sunday."""
TYPES = ("call", "email", "meeting")
TYPE_SHARE = (0.5, 0.4, 0.1)
LEADS = 60
"""Leads per rep per quarter."""
SIZES = (3, 5, 8, 15, 40)


@dataclass(frozen=True)
class Team:
    """One simulated team: its tables (canonical names) and its reps."""

    tables: dict[str, pl.DataFrame]
    reps: tuple[str, ...]


def team(
    reps: int,
    *,
    seed: int,
    deals_per_quarter: int = 40,
    planted: float = 1.0,
    planted_stage: int = 0,
) -> Team:
    """A team of ``reps`` reps who differ in nothing but chance, except that the first rep's conversion at
    ``planted_stage`` is ``planted`` times the others' (1.0: no difference)."""
    rng = np.random.default_rng(seed)
    names = tuple(f"Rep {i + 1:02d}" for i in range(reps))
    days = (AS_OF - START).days + 1
    quarters = days / 91.25
    per_rep = rng.poisson(deals_per_quarter * quarters, reps)
    owner = np.repeat(np.arange(reps), per_rep)
    n = owner.size
    created = rng.integers(0, days, n)
    amount = np.round(DEAL_SIZE * rng.lognormal(0.0, 0.7, n), -1)

    # --- each deal walks through the stages: how long it stays in each, and whether it goes on
    durations = np.array(STAGE_DAYS)[None, :] * rng.lognormal(0.0, 0.6, (n, len(STAGES)))
    durations = np.maximum(np.round(durations), 1).astype(np.int64)
    chance = np.tile(np.array(CONVERSION), (n, 1))
    chance[owner == 0, planted_stage] *= planted
    goes_on = rng.random((n, len(STAGES))) < chance
    # the stage a deal ends at (lost there, or won after the last): the first stage it does not go on from
    fails = ~goes_on
    last = np.where(fails.any(axis=1), fails.argmax(axis=1), len(STAGES) - 1)
    won = goes_on.all(axis=1)
    entered = created[:, None] + np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(durations, axis=1)], axis=1)
    ended = entered[np.arange(n), last + 1]  # the day it was won or lost
    today = days - 1
    open_now = ended > today
    status = np.where(open_now, "open", np.where(won, "won", "lost"))
    # the stage an open deal is in today
    current = np.where(open_now, (entered[:, : len(STAGES)] <= today).sum(axis=1) - 1, last)
    # open deals carry the close date the rep expects (some already passed); closed ones the day they closed
    expected = created + np.round(np.sum(STAGE_DAYS) * rng.lognormal(0.0, 0.35, n)).astype(np.int64)
    close = np.where(open_now, expected, ended)
    stage = np.where(open_now, np.array(STAGES)[current], np.where(won, "Closed Won", "Closed Lost"))
    ids = [f"D{i:06d}" for i in range(n)]
    deals = pl.DataFrame(
        {
            "deal_id": ids,
            "deal_name": [f"Account {i} - Product" for i in range(n)],
            "owner": [names[i] for i in owner],
            "stage": stage,
            "status": status,
            "amount": amount,
            "created_date": _dates(created),
            "close_date": _dates(close),
        }
    )

    # --- stage history: every stage entered up to today, and the closing stage of closed deals
    reached = np.where(open_now, current, last)
    rows = reached + 1 + (~open_now).astype(np.int64)
    deal = np.repeat(np.arange(n), rows)
    position = np.arange(rows.sum()) - np.repeat(np.cumsum(rows) - rows, rows)
    closing = (~open_now)[deal] & (position == rows[deal] - 1)
    day = entered[deal, np.minimum(position, len(STAGES) - 1)]
    day = np.where(closing, ended[deal], day)
    history_stage = np.where(
        closing,
        np.where(won[deal], "Closed Won", "Closed Lost"),
        np.array(STAGES)[np.minimum(position, len(STAGES) - 1)],
    )
    history = pl.DataFrame(
        {
            "deal_id": [ids[i] for i in deal],
            "stage": history_stage,
            "entered_at": _datetimes(day * 86_400 + 9 * 3600 + position * 60),
        }
    )

    # --- activities: prospecting by the rep's intensity in each quarter (the same distribution for every rep),
    # weekday pattern, day-to-day overdispersion; plus touches on each deal while it is alive (a fifth go quiet)
    quarter_of_day = np.array([_quarter(START + timedelta(days=int(d))) for d in range(days)])
    quarter_ids = np.unique(quarter_of_day, return_inverse=True)[1]
    intensity = rng.gamma(25.0, 1 / 25.0, (reps, quarter_ids.max() + 1))
    weekday = np.array([(START + timedelta(days=d)).weekday() for d in range(days)])
    mean_day = PROSPECTING * WEEKDAY[weekday][None, :] * intensity[:, quarter_ids]
    counts = rng.poisson(mean_day * rng.gamma(4.0, 0.25, mean_day.shape))
    act_rep = np.repeat(np.repeat(np.arange(reps), days), counts.ravel())
    act_day = np.repeat(np.tile(np.arange(days), reps), counts.ravel())
    act_deal = np.full(act_rep.size, -1)
    quiet = rng.random(n) < 0.2
    life_end = np.where(open_now, np.where(quiet, np.maximum(created + 1, today - 40), today), ended)
    life = np.maximum(life_end - created, 1)
    touches = rng.poisson(life / 9.0)
    touch_deal = np.repeat(np.arange(n), touches)
    touch_day = created[touch_deal] + (rng.random(touch_deal.size) * life[touch_deal]).astype(np.int64)
    act_rep = np.concatenate([act_rep, owner[touch_deal]])
    act_day = np.concatenate([act_day, touch_day])
    act_deal = np.concatenate([act_deal, touch_deal])
    kind = rng.choice(len(TYPES), act_rep.size, p=TYPE_SHARE)
    order = np.argsort(act_day, kind="stable")
    act_rep, act_day, act_deal, kind = act_rep[order], act_day[order], act_deal[order], kind[order]
    activities = pl.DataFrame(
        {
            "owner": pl.Series(names).gather(act_rep),
            "type": pl.Series(TYPES).gather(kind),
            "activity_date": _datetimes(act_day * 86_400 + rng.integers(8 * 3600, 18 * 3600, act_rep.size)),
            "deal_id": pl.Series(ids).gather(np.maximum(act_deal, 0)),
        }
    ).with_columns(deal_id=pl.when(pl.Series(act_deal >= 0)).then(pl.col("deal_id")))

    # --- leads: response times lognormal (median 1.5 hours), some never answered
    lead_counts = rng.poisson(LEADS * quarters, reps)
    lead_rep = np.repeat(np.arange(reps), lead_counts)
    m = lead_rep.size
    lead_created = rng.integers(0, days, m) * 86_400 + rng.integers(7 * 3600, 20 * 3600, m)
    hours = rng.lognormal(np.log(1.5), 1.1, m)
    answered = rng.random(m) > 0.08
    converted = rng.random(m) < np.where(answered & (hours <= 1), 0.3, np.where(answered, 0.2, 0.02))
    leads = pl.DataFrame(
        {
            "lead_id": [f"L{i:06d}" for i in range(m)],
            "owner": pl.Series(names).gather(lead_rep),
            "created_at": _datetimes(lead_created),
            "first_response_at": _datetimes(lead_created + (hours * 3600).astype(np.int64)),
            "converted": converted,
        }
    ).with_columns(first_response_at=pl.when(pl.Series(answered)).then(pl.col("first_response_at")))
    team_table = pl.DataFrame({"owner": list(names), "team": ["Team"] * reps})
    tables = {
        "deals": deals,
        "stage_history": history,
        "activities": activities,
        "leads": leads,
        "reps": team_table,
    }
    return Team(tables, names)


def _dates(offsets: np.ndarray) -> pl.Series:
    return pl.Series((np.datetime64(START, "D") + offsets.astype("timedelta64[D]")).astype("datetime64[D]"))


def _datetimes(seconds: np.ndarray) -> pl.Series:
    base = np.datetime64(datetime(START.year, START.month, START.day), "s")
    return pl.Series((base + seconds.astype("timedelta64[s]")).astype("datetime64[us]"))


def _quarter(day: date) -> int:
    return day.year * 4 + (day.month - 1) // 3


def dataset(simulated: Team) -> K.Dataset:
    """The team's tables prepared as an upload is."""
    return K.Dataset.prepare(simulated.tables, as_of=AS_OF, settings=K.Settings(stage_order=STAGES))


@dataclass
class Tally:
    """What a run found, per team size."""

    reps: dict[int, int] = field(default_factory=dict)
    flagged: dict[int, int] = field(default_factory=dict)
    flags: dict[int, int] = field(default_factory=dict)
    """Differences called beyond the noise (to see how many per flagged rep)."""
    by_metric: dict[str, int] = field(default_factory=dict)
    teams: dict[int, int] = field(default_factory=dict)
    found: dict[int, int] = field(default_factory=dict)
    """Teams in which the planted stage was found as the rep's gap."""
    tested: dict[int, int] = field(default_factory=dict)
    """Comparisons judged per rep (the family the correction covers), summed."""
    seconds: float = 0.0

    def rate(self, size: int | None = None) -> float:
        sizes = [size] if size is not None else list(self.reps)
        reps = sum(self.reps.get(s, 0) for s in sizes)
        return sum(self.flagged.get(s, 0) for s in sizes) / reps if reps else float("nan")

    def power(self, size: int | None = None) -> float:
        sizes = [size] if size is not None else list(self.teams)
        teams = sum(self.teams.get(s, 0) for s in sizes)
        return sum(self.found.get(s, 0) for s in sizes) / teams if teams else float("nan")


def false_flags(sizes: Sequence[int] = SIZES, *, teams: int = 20, seed: int = 1, tally: Tally | None = None) -> Tally:
    """Coach every rep of ``teams`` homogeneous teams of each size; count the reps with any flag."""
    tally = tally or Tally()
    started = time.perf_counter()
    for size in sizes:
        for t in range(teams):
            simulated = team(size, seed=seed * 100_003 + size * 1009 + t)
            data = dataset(simulated)
            for rep in simulated.reps:
                found = C.coach(data, rep, period=PERIOD)
                flagged = found.differences.filter(pl.col("beyond_noise").fill_null(False))
                tally.reps[size] = tally.reps.get(size, 0) + 1
                tally.flagged[size] = tally.flagged.get(size, 0) + int(flagged.height > 0)
                tally.flags[size] = tally.flags.get(size, 0) + flagged.height
                tally.tested[size] = tally.tested.get(size, 0) + int(
                    found.differences["p_adjusted"].is_not_null().sum()
                )
                for metric in flagged["metric"].to_list():
                    tally.by_metric[metric] = tally.by_metric.get(metric, 0) + 1
    tally.seconds += time.perf_counter() - started
    return tally


def power(
    sizes: Sequence[int] = SIZES,
    *,
    teams: int = 20,
    seed: int = 2,
    planted: float = 0.5,
    planted_stage: int = 0,
    tally: Tally | None = None,
) -> Tally:
    """In teams where the first rep converts ``planted`` times the others at ``planted_stage``: the share of teams
    in which the 1:1 of that rep calls that stage a gap beyond the noise."""
    tally = tally or Tally()
    started = time.perf_counter()
    step = f"{STAGES[planted_stage]} → {_next(planted_stage)}"
    for size in sizes:
        for t in range(teams):
            simulated = team(size, seed=seed * 100_003 + size * 1009 + t, planted=planted, planted_stage=planted_stage)
            found = C.coach(dataset(simulated), simulated.reps[0], period=PERIOD)
            row = found.differences.filter((pl.col("metric") == "stage_conversion") & (pl.col("stage") == step))
            hit = row.height == 1 and bool(row["beyond_noise"][0]) and row["verdict"][0] == "worse"
            tally.teams[size] = tally.teams.get(size, 0) + 1
            tally.found[size] = tally.found.get(size, 0) + int(hit)
    tally.seconds += time.perf_counter() - started
    return tally


def _next(stage: int) -> str:
    return STAGES[stage + 1] if stage + 1 < len(STAGES) else "Won"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--teams", type=int, default=40, help="simulated teams per size (default 40)")
    parser.add_argument("--power-teams", type=int, default=100, help="teams per size with a planted gap (100)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"{date.today()} · {platform.processor() or platform.machine()} · Python {sys.version.split()[0]}")
    null = false_flags(teams=args.teams, seed=args.seed)
    print(f"\nHomogeneous teams ({args.teams} per size, every rep against the rest of the team, {null.seconds:.0f} s):")
    print(f"{'reps':>5} {'reps coached':>13} {'any flag':>9} {'flags/rep':>10} {'tested/rep':>11}")
    for size in SIZES:
        reps = null.reps[size]
        print(
            f"{size:>5} {reps:>13} {null.rate(size):>9.1%} {null.flags[size] / reps:>10.3f} "
            f"{null.tested[size] / reps:>11.1f}"
        )
    print(f"{'all':>5} {sum(null.reps.values()):>13} {null.rate():>9.1%}")
    print("flags by metric:", dict(sorted(null.by_metric.items(), key=lambda kv: -kv[1])))
    planted = power(teams=args.power_teams, seed=args.seed + 1)
    print(
        f"\nOne rep converting half as often at {STAGES[0]} → {STAGES[1]} (40 deals a quarter; "
        f"{args.power_teams} teams per size, {planted.seconds:.0f} s):"
    )
    for size in SIZES:
        print(f"{size:>5} reps: found in {planted.power(size):.0%} of teams")
    print(f"  all: {planted.power():.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
