"""Does "What leads revenue" find leads in noise? Simulated companies, whole CRM exports, through find_leads.

Each simulated company is two years (104 complete weeks) of rows: calls, emails and meetings (the activities
table, eight reps), leads with response times and conversions, deals created (lost or open) and deals won. Each
of the nine streams (calls, emails, meetings, leads, lead response, contact within the hour, conversion, deals
created, deals won) follows its own weekly intensity on the log scale; the rows are drawn from it (Poisson
counts, log-normal amounts and response times, Bernoulli conversions). The page's analysis then runs on the
Dataset exactly as the page runs it: every leading indicator with a weekly series (10) against won revenue, deals
won and new opportunities (28 pairs, new pipeline against new opportunities being left out), lags 1 to 13.

Cases where nothing leads anything (every stream its own intensity, or only a driver shared in the same week):

- ``plain``: white noise (sd 0.25 on the log scale).
- ``autocorrelated``: each stream AR(1), phi 0.6.
- ``random_walk``: each stream its own random walk.
- ``common_walk``: one random walk shared by every stream, plus each stream's own noise.
- ``common_step``: one step up (x1.65) on the same week for every stream, at a random week, plus AR(1) noise.
- ``holiday``: a dip shared by every stream at Thanksgiving (-26%), the week before Christmas (-26%), Christmas
  week (-63%) and New Year week (-50%), plus AR(1) noise.

And ``planted``: the autocorrelated company, with deals won following meetings ``lag`` (4) weeks later: a share
(``--share``, 0.6 by default) of the deals-won intensity's variance comes from meetings ``lag`` weeks earlier.
Poisson counts and deal sizes come on top, so after the filters the planted pair correlates at about 0.37 (share
0.6: what the page calls a weak lead), 0.42 (0.8) or 0.47 (1.0: moderate leads).

A company "has a leader" when any row of the report is significant (family-adjusted p <= 0.05). Power: a planted
pair (meetings -> won revenue, meetings -> deals won) significant, with the lag right within a week.

Run: ``python -m benchmarks.sim_leading --companies 40`` (about 1 s per company; the results go in BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

import kpi_core as K
from kpi_core import leading as L

WEEKS = 104
START = date(2024, 1, 1)  # a Monday
TARGETS = ("won_revenue", "deals_won", "new_opportunities")
"""The results the app measures leads on (ui.state.LEAD_TARGETS), every leading indicator against each."""
STREAMS = ("calls", "emails", "meetings", "leads", "response", "contact", "conversion", "created", "won")
NULL_CASES = ("plain", "autocorrelated", "random_walk", "common_walk", "common_step", "holiday")
CASES = (*NULL_CASES, "planted")
PLANTED_LAG = 4
PLANTED_SHARE = 0.6
"""Share of the variance of the deals-won intensity that comes from meetings ``PLANTED_LAG`` weeks earlier."""
REPS = tuple(f"Rep {i}" for i in range(1, 9))
HOLIDAY_DIP = {"thanksgiving": -0.3, "before_christmas": -0.3, "christmas": -1.0, "new_year": -0.7}


def _ar(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """An AR(1) series started from its stationary spread (sd: of the series, not of the shocks)."""
    out = np.empty(n)
    out[0] = rng.normal(0, sd)
    shocks = rng.normal(0, sd * math.sqrt(1 - phi**2), n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def _holidays(starts: Sequence[date]) -> np.ndarray:
    terms = L.calendar_terms(starts)
    columns = {name: i for i, name in enumerate(L.CALENDAR_COLUMNS)}
    return (
        HOLIDAY_DIP["thanksgiving"] * terms[:, columns["Thanksgiving week"]]
        + HOLIDAY_DIP["before_christmas"] * terms[:, columns["week before Christmas"]]
        + HOLIDAY_DIP["christmas"] * terms[:, columns["Christmas week"]]
        + HOLIDAY_DIP["new_year"] * terms[:, columns["New Year week"]]
    )


def intensities(
    case: str, rng: np.random.Generator, *, weeks: int = WEEKS, lag: int = PLANTED_LAG, share: float = PLANTED_SHARE
) -> dict[str, np.ndarray]:
    """Each stream's weekly intensity on the log scale (0 = its usual level)."""
    n = weeks
    starts = [START + timedelta(weeks=i) for i in range(n)]
    own: dict[str, np.ndarray] = {}
    for stream in STREAMS:
        if case == "plain":
            own[stream] = rng.normal(0, 0.25, n)
        elif case == "random_walk":
            own[stream] = np.cumsum(rng.normal(0, 0.08, n))
        elif case == "common_walk":
            own[stream] = rng.normal(0, 0.1, n)
        else:
            own[stream] = _ar(rng, n, 0.6, 0.25)
    shared = np.zeros(n)
    if case == "common_walk":
        shared = np.cumsum(rng.normal(0, 0.08, n))
    elif case == "common_step":
        shared = np.where(np.arange(n) >= rng.integers(int(0.3 * n), int(0.7 * n)), 0.5, 0.0)
    elif case == "holiday":
        shared = _holidays(starts)
    out = {stream: own[stream] + shared for stream in STREAMS}
    if case == "planted":
        # meetings, lag weeks earlier, carry a share of the variance of the deals-won intensity
        earlier = np.concatenate([_ar(rng, lag, 0.6, 0.25), out["meetings"][: n - lag]])
        out["won"] = math.sqrt(share) * earlier + math.sqrt(1 - share) * own["won"]
    return out


@dataclass(frozen=True)
class Company:
    case: str
    seed: int
    dataset: K.Dataset


def _stamps(days: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """Timestamps: 9:00 on ``START + days``, plus ``minutes``."""
    start = np.datetime64(datetime(START.year, START.month, START.day, 9), "ms")
    return start + (days * 1440 + minutes).astype("timedelta64[m]").astype("timedelta64[ms]")


def _dates(days: np.ndarray) -> np.ndarray:
    return np.datetime64(START, "D") + days.astype("timedelta64[D]")


def _days(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """A working day (0-4) in each row's week, for ``counts[w]`` rows in week w."""
    weeks = np.repeat(np.arange(counts.size), counts)
    return weeks * 7 + rng.integers(0, 5, weeks.size)


def company(
    case: str, seed: int, *, weeks: int = WEEKS, lag: int = PLANTED_LAG, share: float = PLANTED_SHARE
) -> Company:
    """One simulated company's CRM export (activities, leads, deals) for ``case`` (``share``: how strong the
    planted lead is, for ``planted``)."""
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}; one of {', '.join(CASES)}")
    rng = np.random.default_rng([seed, CASES.index(case)])
    z = intensities(case, rng, weeks=weeks, lag=lag, share=share)
    parts = []
    for kind, level in (("call", 120.0), ("email", 200.0), ("meeting", 50.0)):
        days = _days(rng, rng.poisson(level * np.exp(z[f"{kind}s"])))
        parts.append(
            pl.DataFrame(
                {
                    "type": [kind] * days.size,
                    "owner": rng.choice(REPS, days.size).tolist(),
                    "activity_date": _stamps(days, rng.integers(0, 480, days.size)),
                }
            )
        )
    activities = pl.concat(parts).with_row_index("activity_id").with_columns(pl.format("A{}", "activity_id"))

    lead_weeks = np.repeat(np.arange(weeks), rng.poisson(40.0 * np.exp(z["leads"])))
    lead_days = lead_weeks * 7 + rng.integers(0, 5, lead_weeks.size)
    created = _stamps(lead_days, rng.integers(0, 480, lead_days.size))
    # response: log-normal around 2 hours times the week's intensity; contact within the hour: its own stream
    hours = np.exp(np.log(2.0) + z["response"][lead_weeks] + rng.normal(0, 1.0, lead_weeks.size))
    quick = rng.random(lead_weeks.size) < 1 / (1 + np.exp(-(-1.0 + z["contact"][lead_weeks])))
    hours = np.where(quick, np.minimum(hours, rng.uniform(0.05, 0.95, lead_weeks.size)), np.maximum(hours, 1.05))
    converted = rng.random(lead_weeks.size) < 1 / (1 + np.exp(-(-1.1 + z["conversion"][lead_weeks])))
    leads = pl.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(lead_weeks.size)],
            "owner": rng.choice(REPS, lead_weeks.size).tolist(),
            "created_at": created,
            "first_response_at": created + (hours * 3_600_000).astype("timedelta64[ms]"),
            "converted": converted,
        }
    ).with_columns(
        converted_date=pl.when("converted").then(pl.col("created_at").dt.date() + pl.duration(days=3)),
    )

    made = _days(rng, rng.poisson(25.0 * np.exp(z["created"])))
    won = _days(rng, rng.poisson(20.0 * np.exp(z["won"])))
    deals = pl.DataFrame(
        {
            "deal_id": [f"D{i}" for i in range(made.size + won.size)],
            "owner": rng.choice(REPS, made.size + won.size).tolist(),
            "stage": ["Closed Lost"] * made.size + ["Closed Won"] * won.size,
            "amount": np.round(rng.lognormal(math.log(20_000), 0.5, made.size + won.size), 2),
            # created deals: created that week, lost some weeks later; won deals: no creation date (an export of
            # closed deals), so that deal creation neither leads the wins nor moves with them by construction
            "created_date": pl.Series(
                np.concatenate([_dates(made), np.full(won.size, np.datetime64("NaT"), "datetime64[D]")])
            ),
            "close_date": _dates(np.concatenate([made + rng.integers(20, 90, made.size), won])),
        }
    )
    as_of = START + timedelta(weeks=weeks)
    deals = deals.with_columns(
        close_date=pl.when(pl.col("close_date") < as_of).then(pl.col("close_date")),
        stage=pl.when(pl.col("close_date") < as_of).then(pl.col("stage")).otherwise(pl.lit("Negotiation")),
    )
    dataset = K.Dataset.prepare(
        {"activities": activities, "leads": leads, "deals": deals}, as_of=as_of - timedelta(days=1)
    )
    return Company(case, seed, dataset)


@dataclass(frozen=True)
class Outcome:
    case: str
    """The case, with the planted share for ``planted`` (``planted 0.6``)."""
    seed: int
    leaders: int
    """Rows called leaders (significant)."""
    planted_found: bool
    """A planted pair (meetings -> won revenue or deals won) significant with the lag right within a week."""
    planted_lag: int | None
    planted_r: float | None
    """The stronger planted pair's best lead and its correlation after the filters."""


PLANTED_PAIRS = (("meetings", "won_revenue"), ("meetings", "deals_won"))
"""The pairs the planted lead is in: meetings lead the won deals, so both their count and their revenue."""


def analyse(one: Company, *, permutations: int = L.PERMUTATIONS, lag: int = PLANTED_LAG, label: str = "") -> Outcome:
    """The page's analysis of one company (find_leads, every indicator against the app's three results)."""
    found = K.find_leads(one.dataset, targets=list(TARGETS), permutations=permutations, seed=one.seed)
    frame = found.frame
    planted = [
        frame.filter((pl.col("indicator") == indicator) & (pl.col("target") == target)).row(0, named=True)
        for indicator, target in PLANTED_PAIRS
    ]
    right = [r for r in planted if r["significant"] and r["lag_weeks"] is not None and abs(r["lag_weeks"] - lag) <= 1]
    best = max(planted, key=lambda r: abs(r["correlation"] or 0.0))
    return Outcome(
        label or one.case,
        one.seed,
        int(frame["significant"].sum()),
        bool(right),
        best["lag_weeks"],
        best["correlation"],
    )


def run(
    cases: Sequence[str],
    companies: int,
    *,
    permutations: int = L.PERMUTATIONS,
    first_seed: int = 0,
    shares: Sequence[float] = (PLANTED_SHARE,),
) -> list[Outcome]:
    """``companies`` simulated companies per case (seeds ``first_seed`` on), each through the page's analysis;
    the planted case once per share in ``shares``."""
    jobs = [
        (case, share, f"planted {share:g}" if case == "planted" else case)
        for case in cases
        for share in (shares if case == "planted" else (PLANTED_SHARE,))
    ]
    return [
        analyse(company(case, seed, share=share), permutations=permutations, label=label)
        for case, share, label in jobs
        for seed in range(first_seed, first_seed + companies)
    ]


def summary(outcomes: Sequence[Outcome]) -> pl.DataFrame:
    """Per case: companies, companies with any leader, planted leads found with the lag right within a week, and
    the median correlation after the filters of the planted pair."""
    frame = pl.DataFrame(
        {
            "case": [o.case for o in outcomes],
            "any_leader": [o.leaders > 0 for o in outcomes],
            "planted_found": [o.planted_found for o in outcomes],
            "planted_r": [abs(o.planted_r) if o.planted_r is not None else None for o in outcomes],
        }
    )
    return frame.group_by("case", maintain_order=True).agg(
        companies=pl.len(),
        with_a_leader=pl.col("any_leader").sum(),
        planted_found=pl.col("planted_found").sum(),
        planted_r=pl.col("planted_r").median(),
    )


def _interval(hits: int, total: int) -> str:
    """Wilson's 95% interval of a share, in percent."""
    if total == 0:
        return ""
    z = 1.96
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return f"{100 * max(0.0, centre - half):.0f}-{100 * min(1.0, centre + half):.0f}%"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--companies", type=int, default=40, help="companies per case")
    parser.add_argument("--permutations", type=int, default=L.PERMUTATIONS)
    parser.add_argument("--case", action="append", choices=CASES, help="one case (repeatable; default: all)")
    parser.add_argument(
        "--share",
        action="append",
        type=float,
        help=f"planted share of the deals-won intensity (repeatable; default {PLANTED_SHARE})",
    )
    args = parser.parse_args(argv)
    cases = args.case or list(CASES)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, polars "
        f"{pl.__version__}, numpy {np.__version__}; {date.today()}"
    )
    print(f"command: python -m benchmarks.sim_leading {' '.join(argv if argv is not None else sys.argv[1:])}")
    started = time.perf_counter()
    outcomes = run(cases, args.companies, permutations=args.permutations, shares=args.share or (PLANTED_SHARE,))
    elapsed = time.perf_counter() - started
    for row in summary(outcomes).iter_rows(named=True):
        line = (
            f"{row['case']:>14}: {row['with_a_leader']:>3} of {row['companies']} companies with any leader "
            f"({100 * row['with_a_leader'] / row['companies']:.1f}%, 95% CI "
            f"{_interval(row['with_a_leader'], row['companies'])})"
        )
        if row["case"].startswith("planted"):
            line += (
                f"; planted lead found, lag right within a week: {row['planted_found']} of {row['companies']} "
                f"({100 * row['planted_found'] / row['companies']:.1f}%, 95% CI "
                f"{_interval(row['planted_found'], row['companies'])}); its r after the filters: median "
                f"{row['planted_r']:.2f}"
            )
        print(line)
    print(f"{len(outcomes)} companies in {elapsed:.0f} s ({elapsed / max(1, len(outcomes)):.2f} s each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
