"""What leads revenue (kpi_core.leading): the planted leads of the sample company are found, on the committed
sample, on generated companies with other seeds and on synthetic companies with other planted lags; the controls
(the target shuffled in blocks, an indicator that only shares trend and seasons, a same-week link, a shared
random walk, a shared holiday dip, too little history) are not reported as leads; the family-wise adjustment
matches a by-hand Westfall-Young; the sentences say strength, weeks and the effect in business units (the effect
worked out here with numpy on the same weekly series); and the command's output."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

import kpi_core as K
from kpi_core import leading as L
from kpi_core.analysis_cli import LEAD_COLUMNS
from kpi_core.cli import main
from sample_data import generate

PLANTED = 3
"""The sample company's activity leads deal creation by three weeks (sample_data/generator.py)."""


def near(lag: int | None, planted: int = PLANTED) -> bool:
    return lag is not None and abs(lag - planted) <= 1


def outcome(frame: pl.DataFrame, *keys: str) -> dict[tuple[object, ...], tuple[bool, bool]]:
    """Per row: (found near the planted lag, significant)."""
    return {tuple(r[k] for k in keys): (near(r["lag_weeks"]), r["significant"]) for r in frame.iter_rows(named=True)}


@pytest.fixture(scope="module")
def weekly(sample: K.Dataset) -> pl.DataFrame:
    """The committed sample's weekly series, one column per KPI."""
    series, unavailable = L.weekly_series(sample, [*L.DEFAULT_INDICATORS, "won_revenue", "new_opportunities"])
    assert unavailable == {}
    return series.pivot(on="kpi", index="week", values="value").sort("week")


def test_the_planted_lead_on_the_committed_sample(sample: K.Dataset) -> None:
    found = K.find_leads(sample, ["activities", "calls", "emails"], ["new_opportunities"], permutations=199)
    assert found.frame.select(
        "indicator", "lag_weeks", "significant", "stable", "strength", "same_week", "weeks", "note"
    ).rows() == [
        ("activities", 3, True, True, "strong", False, 104, None),
        ("calls", 3, True, True, "strong", False, 104, None),
        ("emails", 3, True, True, "strong", False, 104, None),
    ]
    assert found.frame["correlation"].min() > 0.7  # type: ignore[operator]
    # the smallest p 199 permutations can give, for the whole family of 3 pairs x 13 lags
    assert found.frame["p_value"].to_list() == [0.005] * 3
    assert (found.family, found.warnings, found.currency) == ("3 pairs x 13 lags", [], "USD")
    # the lag profile peaks there, far above what a bar must pass; the result-first side is flat
    best = found.frame.row(0, named=True)
    profile = found.profiles.filter(pl.col("indicator") == best["indicator"]).sort("lag")
    assert profile["lag"].to_list() == list(range(14))
    peak = profile.row(PLANTED, named=True)
    assert peak["correlation"] == best["correlation"] and peak["reverse"] == best["reverse_correlation"]
    assert peak["correlation"] > 1.5 * peak["band"] and abs(peak["reverse"]) < 0.2
    assert profile.filter(pl.col("lag") != PLANTED)["correlation"].abs().max() < peak["band"]  # type: ignore[operator]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_planted_lead_on_companies_with_other_seeds(seed: int) -> None:
    dataset = K.Dataset.prepare(generate(4000, seed=seed))
    found = K.find_leads(dataset, ["activities"], ["new_opportunities"], permutations=199)
    assert outcome(found.frame, "indicator", "target") == {("activities", "new_opportunities"): (True, True)}


def synthetic_company(lag: int, *, seed: int, weeks: int = 104, strength: float = 1.0) -> K.Dataset:
    """A company whose activity leads deal creation by ``lag`` weeks (``strength`` 0: no lead at all): one
    autoregressive intensity drives both, with a trend and a yearly season they share either way."""
    rng = np.random.default_rng(seed)
    start = date(2024, 1, 1)  # a Monday
    total = weeks + lag
    drive = np.zeros(total)
    for t in range(1, total):
        drive[t] = 0.7 * drive[t - 1] + rng.normal(0, 0.35)
    season = 0.25 * np.sin(2 * np.pi * np.arange(total) / 52.18)
    trend = np.linspace(0, 0.5, total)
    other = np.zeros(total)
    for t in range(1, total):
        other[t] = 0.7 * other[t - 1] + rng.normal(0, 0.35)
    deal_drive = strength * drive + (1 - strength) * other
    activity_counts = rng.poisson(300 * np.exp(drive[lag:] + season[lag:] + trend[lag:]))
    deal_counts = rng.poisson(40 * np.exp(deal_drive[:weeks] + season[lag:] + trend[lag:]))
    activity_days = np.concatenate([rng.integers(0, 5, n) + 7 * w for w, n in enumerate(activity_counts)])
    deal_days = np.concatenate([rng.integers(0, 5, n) + 7 * w for w, n in enumerate(deal_counts)])
    activities = pl.DataFrame(
        {
            "activity_id": [f"a{i}" for i in range(activity_days.size)],
            "owner": rng.choice(["Ann", "Bob", "Cy"], activity_days.size).tolist(),
            "type": "call",
            "activity_date": [datetime(2024, 1, 1, 10) + timedelta(days=int(d)) for d in activity_days],
        }
    )
    deals = pl.DataFrame(
        {
            "deal_id": [f"d{i}" for i in range(deal_days.size)],
            "owner": rng.choice(["Ann", "Bob", "Cy"], deal_days.size).tolist(),
            "stage": rng.choice(["Closed Won", "Closed Lost"], deal_days.size).tolist(),
            "amount": rng.integers(10, 100, deal_days.size) * 100.0,
            "created_date": [start + timedelta(days=int(d)) for d in deal_days],
            "close_date": [start + timedelta(days=int(d) + 30) for d in deal_days],
        }
    )
    return K.Dataset.prepare({"activities": activities, "deals": deals}, as_of=start + timedelta(weeks=weeks))


@pytest.mark.parametrize(("lag", "seed"), [(1, 11), (6, 12), (10, 13)])
def test_other_planted_lags_are_found(lag: int, seed: int) -> None:
    found = K.find_leads(synthetic_company(lag, seed=seed), ["activities"], ["new_opportunities"], permutations=199)
    row = found.frame.row(0, named=True)
    assert (row["lag_weeks"], row["significant"], row["weeks"], row["strength"]) == (lag, True, 104, "strong")


def test_a_company_with_no_lead_says_so() -> None:
    """Activity and deals share a trend and a season but activity does not drive deals: no lead is reported."""
    results = [
        K.find_leads(
            synthetic_company(4, seed=seed, strength=0.0), ["activities"], ["new_opportunities"], permutations=199
        )
        .frame.select("significant")
        .item()
        for seed in range(20, 30)
    ]
    assert sum(results) <= 1  # 10 companies, one pair each: at the nominal 5% one false lead is already unlucky


def block_shuffle(values: np.ndarray, seed: int, block: int = 8) -> np.ndarray:
    """The target's weeks in blocks of ``block``, the blocks in a random order: no lead can survive it."""
    rng = np.random.default_rng(seed)
    blocks = [values[i : i + block] for i in range(0, values.size, block)]
    return np.concatenate([blocks[i] for i in rng.permutation(len(blocks))])


def naive_significant(x: np.ndarray, y: np.ndarray, seed: int) -> bool:
    """What a naive test does: correlate the raw weekly levels, shuffle weeks freely (no whitening, no blocks)."""
    rng = np.random.default_rng(seed)
    observed = np.abs(L._cross(x[None, :], y, L.MAX_LAG)[0, L.MAX_LAG :]).max()
    shuffled = np.stack([rng.permutation(x) for _ in range(99)])
    null = np.abs(L._cross(shuffled, y, L.MAX_LAG)[:, L.MAX_LAG :]).max(axis=1)
    return bool((1 + (null >= observed).sum()) / 100 <= 0.05)


def nominal_bound(tests: int, alpha: float = L.ALPHA) -> float:
    """The largest rate of significant findings that is not significantly above ``alpha`` (binomial, one-sided
    1%): more would mean the test finds leads where there are none more often than it says."""
    tail, k = 1.0, 0
    while tail > 0.01:
        tail -= math.comb(tests, k) * alpha**k * (1 - alpha) ** (tests - k)
        k += 1
    return (k - 1) / tests


def test_a_target_shuffled_in_blocks_gives_findings_at_the_nominal_rate(weekly: pl.DataFrame) -> None:
    starts = weekly["week"].to_list()
    indicators = ["activities", "meetings", "pipeline_created", "lead_response_hours", "lead_conversion_rate"]
    hits = naive = tests = 0
    for target in ("won_revenue", "new_opportunities"):
        y = weekly[target].to_numpy()
        for seed in range(60):
            shuffled = block_shuffle(y, seed)
            for name in indicators:
                x = weekly[name].to_numpy()
                units = (K.get(name).unit, K.get(target).unit)
                hits += L.lead_lag(x, shuffled, starts=starts, permutations=99, seed=seed, units=units).significant
                naive += naive_significant(x, shuffled, seed)
                tests += 1
    bound = nominal_bound(tests)
    assert (tests, hits / tests <= bound, naive / tests > bound) == (600, True, True)


def test_an_indicator_that_only_shares_trend_seasons_and_holidays_is_not_a_leader(weekly: pl.DataFrame) -> None:
    """An indicator made of revenue's trend, a yearly season, quarter-end spikes and the year-end dip (shared with
    the target) plus its own noise: naively it correlates with revenue at every lag; here it is no leader."""
    starts = weekly["week"].to_list()
    n = len(starts)
    t = np.arange(n)
    terms = L.calendar_terms(starts)
    column = {name: i for i, name in enumerate(L.CALENDAR_COLUMNS)}
    quarter_end = terms[:, column["quarter-end week"]]
    dip = 0.5 * terms[:, column["Christmas week"]] + 0.3 * terms[:, column["New Year week"]]
    season = np.sin(2 * np.pi * t / L.YEAR_WEEKS)
    revenue = weekly["won_revenue"].to_numpy()
    target = (revenue + revenue.mean() * 0.3 * season) * (1 - dip)
    hits = naive = 0
    runs = 300
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        noise = np.zeros(n)
        for week in range(1, n):
            noise[week] = 0.6 * noise[week - 1] + rng.normal(0, 0.3)
        indicator = (100 + 40 * t / n + 15 * season + 10 * quarter_end + 5 * noise) * (1 - dip)
        units = ("count", "currency")
        hits += L.lead_lag(indicator, target, starts=starts, permutations=99, seed=seed, units=units).significant
        naive += naive_significant(indicator, target, seed)
    assert (naive / runs > 0.9, hits / runs <= nominal_bound(runs)) == (True, True)


def ar(rng: np.random.Generator, n: int, phi: float, sd: float = 1.0) -> np.ndarray:
    out = np.zeros(n + 50)
    for t in range(1, n + 50):
        out[t] = phi * out[t - 1] + rng.normal(0, sd)
    return out[50:]


def test_moving_together_in_the_same_week_is_no_lead() -> None:
    """A result that follows its indicator in the same week (however strongly), and two series that share one
    random walk in the same week: no lead of a week or more is claimed; the same-week link is said."""
    same, walk = [], []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        x = ar(rng, 104, 0.6)
        same.append(L.lead_lag(x + 20, 0.8 * x + ar(rng, 104, 0.8, 0.6) + 20, permutations=99, seed=seed))
        common = np.cumsum(rng.normal(0, 1, 104))
        walk.append(
            L.lead_lag(common + rng.normal(0, 1, 104), common + rng.normal(0, 2, 104), permutations=99, seed=seed)
        )
    assert (sum(r.significant for r in same), sum(r.same_week for r in same)) == (0, 30)
    # one pair each, tested at 5%: 1.5 false leads expected of 30; the shared walk is seen in the same week
    assert (sum(r.significant for r in walk) <= 3, sum(r.same_week for r in walk) >= 25) == (True, True)
    assert L.finding(
        {
            "indicator": "meetings",
            "target": "won_revenue",
            "lag_weeks": 2,
            "significant": False,
            "same_week": True,
            "note": None,
        }
    ) == ("Meetings booked and won revenue move together in the same week, but neither moves first: that is no lead.")


def test_a_lead_hidden_in_a_family_is_still_found() -> None:
    """One moderate-to-strong lead (r about 0.6 at 5 weeks) among 20 pairs of noise: the family's adjustment keeps
    it, at the right lag, and nothing else comes out."""
    rng = np.random.default_rng(3)
    xs = [ar(rng, 110, 0.5) for _ in range(10)]
    ys = [ar(rng, 105, 0.5) for _ in range(2)]
    ys[0] = 0.75 * xs[0][:105] / xs[0].std() + ys[0][:105] / ys[0].std()
    pairs = [L.Pair(x[5:], y, key=str(i)) for y in ys for i, x in enumerate(xs)]
    leads = L.lead_family(pairs, permutations=199, seed=1)
    assert [(i, lead.lag_weeks) for i, lead in enumerate(leads) if lead.significant] == [(0, 5)]


def by_hand_step_down(stats: np.ndarray) -> list[float]:
    """Westfall and Young's step-down max-T written out: standardise each row over all its columns, go down the
    hypotheses from the strongest, compare with the largest of it and every weaker one in each column."""
    z = (stats - stats.mean(axis=1, keepdims=True)) / stats.std(axis=1, keepdims=True)
    order = sorted(range(len(z)), key=lambda i: -z[i, 0])
    adjusted: dict[int, float] = {}
    running = 0.0
    for rank, i in enumerate(order):
        weaker = order[rank:]
        count = sum(1 for b in range(z.shape[1]) if max(z[j, b] for j in weaker) >= z[i, 0])
        running = max(running, count / z.shape[1])
        adjusted[i] = running
    return [adjusted[i] for i in range(len(z))]


def test_step_down_matches_the_procedure_by_hand() -> None:
    rng = np.random.default_rng(0)
    stats = np.abs(rng.normal(size=(6, 40)))
    stats[2, 0] += 3.0  # one strong hypothesis
    assert L.step_down(stats).tolist() == pytest.approx(by_hand_step_down(stats))
    # exchangeable columns: the family-wise error is the nominal one
    hits = sum(L.step_down(np.abs(rng.normal(size=(20, 200)))).min() <= 0.05 for _ in range(2000))
    assert 0.035 <= hits / 2000 <= 0.065


def test_too_short_a_history_gives_no_number() -> None:
    rng = np.random.default_rng(0)
    short = L.lead_lag(rng.normal(size=38), rng.normal(size=38))
    assert short == L.Lead(None, None, None, None, None, False, 38, None, reason="not enough history: 38 weeks of 39")
    flat = L.lead_lag(np.ones(60), rng.normal(size=60))
    assert flat == L.Lead(None, None, None, None, None, False, 60, None, reason="no variation")
    gappy = rng.normal(size=60) + 5
    gappy[10:20] = np.nan
    assert L.lead_lag(gappy, rng.normal(size=60) + 5).reason == "not enough history: 10 of 60 weeks empty"
    with pytest.raises(ValueError, match="max_lag must be at least 1"):
        L.lead_lag(rng.normal(size=60), rng.normal(size=60), max_lag=0)


def test_a_short_export_says_not_enough_history() -> None:
    dataset = synthetic_company(3, seed=1, weeks=30)
    found = K.find_leads(dataset, ["activities"], ["new_opportunities"], permutations=99)
    assert found.frame.drop("indicator", "target").row(0, named=True) == {
        "lag_weeks": None,
        "correlation": None,
        "ci_low": None,
        "ci_high": None,
        "p_value": None,
        "significant": False,
        "weeks": 30,
        "stable": None,
        "band": None,
        "first_half_lag": None,
        "second_half_lag": None,
        "reverse_correlation": None,
        "same_week": False,
        "same_week_correlation": None,
        "same_week_p": None,
        "strength": None,
        "step": None,
        "effect": None,
        "note": "not enough history: 30 weeks of 39",
    }
    assert (found.profiles.height, found.family) == (0, "")
    assert found.warnings == [
        "Not enough history: 30 complete week(s) of data; measuring a lead of up to 13 weeks needs at least 39. "
        "No number is given from less."
    ]
    row = found.frame.row(0, named=True)
    assert (L.finding(row), L.short_finding(row), L.details(row)) == (
        "Sales activities and new opportunities: not enough history: 30 weeks of 39; no number is given from so "
        "little data.",
        "not enough history to measure a lead",
        "not enough history: 30 weeks of 39",
    )


def test_per_segment_with_a_segment_too_short(sample: K.Dataset) -> None:
    raw = {name: sample.tables[name] for name in ("deals", "activities")}
    cut = sample.as_of - timedelta(weeks=30)
    keep_late = (pl.col("region") != "LATAM") | (pl.col("day") >= cut)
    late = K.Dataset.prepare(
        {
            "deals": raw["deals"].filter((pl.col("region") != "LATAM") | (pl.col("created_date") >= cut)),
            "activities": raw["activities"].filter(keep_late),
        },
        as_of=sample.as_of,
    )
    found = K.find_leads(late, ["activities"], ["new_opportunities"], by="region", permutations=199)
    assert outcome(found.frame, "region") == {
        ("APAC",): (True, True),
        ("EMEA",): (True, True),
        ("LATAM",): (False, False),
        ("North America",): (True, True),
    }
    assert found.frame.filter(pl.col("region") == "LATAM")["note"].to_list() == ["not enough history: 30 weeks of 39"]
    assert found.family == "3 pairs over 4 region segments x 13 lags"
    assert set(found.series["region"].unique().to_list()) == {"APAC", "EMEA", "LATAM", "North America"}


def test_what_cannot_be_measured_is_said(sample: K.Dataset) -> None:
    found = K.find_leads(sample, ["open_pipeline", "activities"], ["won_revenue"], by="segment", permutations=19)
    assert (found.frame.height, found.family) == (0, "")
    assert found.warnings == [
        "Open pipeline describes the pipeline as of the export date: one export has no weekly history of it.",
        "Sales activities cannot be split by segment: the activities table has no segment column.",
    ]
    with pytest.raises(ValueError, match="unknown dimension 'colour'"):
        K.find_leads(sample, by="colour")


def test_calendar_terms_mark_quarter_ends_and_holidays() -> None:
    mondays = [date(2026, 3, 16) + timedelta(weeks=i) for i in range(4)]  # quarter ends Tuesday 31 March
    terms = L.calendar_terms(mondays)
    assert terms.shape == (4, 10)
    assert terms[:, 4].tolist() == [0.0, 0.0, 1.0, 0.0]  # the week holding 31 March
    assert terms[:, 5].tolist() == [0.0, 1.0, 0.0, 0.0]  # the week before it
    fiscal = L.calendar_terms([date(2026, 6, 22), date(2026, 6, 29)], fiscal_year_start=4)
    assert fiscal[:, 4].tolist() == [0.0, 1.0]
    # Thanksgiving Thursday 26 November 2026, Christmas Friday 25 December, New Year Friday 1 January 2027
    weeks = [date(2026, 11, 16) + timedelta(weeks=i) for i in range(9)]
    holidays = L.calendar_terms(weeks)[:, 6:10]
    assert {L.CALENDAR_COLUMNS[6 + j]: [str(weeks[i]) for i in np.flatnonzero(holidays[:, j])] for j in range(4)} == {
        "Thanksgiving week": ["2026-11-23"],
        "week before Christmas": ["2026-12-14"],
        "Christmas week": ["2026-12-21"],
        "New Year week": ["2026-12-28"],
    }
    assert L.calendar_terms([date(2024, 1, 1) + timedelta(weeks=i) for i in range(60)]).shape == (60, 12)


def test_history_weeks_are_complete_weeks(small: K.Dataset) -> None:
    weeks = L.history_weeks(small)  # first deal created Saturday 10 January 2026; as of Tuesday 31 March
    assert (weeks[0].label, weeks[-1].label, len(weeks)) == ("2026-W03", "2026-W13", 11)


def test_logs_and_round_steps() -> None:
    assert L.to_log(np.array([0.0, 9.0, 99.0]), "count").tolist() == pytest.approx([0.0, math.log(10), math.log(100)])
    money = np.array([0.0, 1000.0, 2000.0, 50_000.0])
    offset = float(np.quantile([1000.0, 2000.0, 50_000.0], 0.1))
    assert L.to_log(money, "currency").tolist() == pytest.approx(np.log(money + offset).tolist())
    assert L.to_log(np.array([0.2, 0.4]), "percent").tolist() == [0.2, 0.4]
    assert L.to_log(np.array([-1.0, 4.0]), "count").tolist() == [-1.0, 4.0]
    steps = [
        L.nice_step(np.array([0.0, v]), unit)
        for v, unit in ((14.0, "count"), (0.9, "count"), (3000.0, "currency"), (0.06, "percent"), (1.5, "hours"))
    ]
    assert steps == [5.0, 1.0, 2000.0, 0.02, 1.0]


def test_finding_sentences() -> None:
    base = {
        "indicator": "meetings",
        "target": "won_revenue",
        "lag_weeks": 6,
        "correlation": 0.68,
        "ci_low": 0.31,
        "ci_high": 0.86,
        "p_value": 0.004,
        "significant": True,
        "weeks": 104,
        "stable": True,
        "first_half_lag": 6,
        "second_half_lag": 7,
        "reverse_correlation": 0.05,
        "same_week": False,
        "same_week_correlation": 0.12,
        "same_week_p": 0.4,
        "strength": "strong",
        "step": 10.0,
        "effect": 12_345.6,
        "note": None,
    }
    weak = {**base, "lag_weeks": 1, "correlation": -0.33, "stable": False, "effect": -2_340.0, "step": 5.0}
    hours = {**base, "indicator": "lead_response_hours", "target": "deals_won", "step": 1.0, "effect": -2.34}
    share = {**base, "indicator": "leads_contacted_1h", "target": "new_opportunities", "step": 0.05, "effect": 14.2}
    money = {**base, "indicator": "pipeline_created", "step": 50_000.0, "effect": 9_876.0, "stable": None}
    assert [
        L.finding(base),
        L.finding(weak, "EUR"),
        L.finding(hours),
        L.finding(share),
        L.finding(money, "GBP"),
        L.finding({**base, "significant": False, "p_value": 0.41}),
        L.short_finding(base),
        L.short_finding(weak),
        L.short_finding({**base, "stable": False}),
        L.short_finding({**base, "significant": False}),
        L.short_finding({**base, "significant": False, "same_week": True}),
    ] == [
        "Changes in meetings booked show up in won revenue about 6 weeks later (a strong lead, stable across both "
        "halves of the history): weeks with 10 more meetings booked have been followed by about $12,300 more won "
        "revenue 6 weeks later.",
        "Changes in meetings booked show up in won revenue about a week later (a weak lead, not stable across the "
        "history: treat it with care): weeks with 5 more meetings booked have been followed by about €2,340 less "
        "won revenue 1 week later.",
        "Changes in lead response time (median) show up in deals won about 6 weeks later (a strong lead, stable "
        "across both halves of the history): weeks when lead response time (median) was 1 hour longer have been "
        "followed by about 2.3 fewer deals won 6 weeks later.",
        "Changes in leads contacted within 1 hour show up in new opportunities about 6 weeks later (a strong lead, "
        "stable across both halves of the history): weeks when leads contacted within 1 hour was 5 points higher "
        "have been followed by about 14 more new opportunities 6 weeks later.",
        "Changes in new pipeline show up in won revenue about 6 weeks later (a strong lead, too little history to "
        "check it in both halves): weeks with £50,000 more new pipeline have been followed by about £9,880 more won "
        "revenue 6 weeks later.",
        "No measurable lead of meetings booked on won revenue: no lead of a week or more stands out of chance once "
        "every pair and lag tried is counted.",
        "leads won revenue by about 6 weeks",
        "may lead won revenue by about a week (weak, not stable across the history)",
        "may lead won revenue by about 6 weeks (not stable across the history)",
        "no measurable lead on won revenue",
        "moves with won revenue in the same week (no lead)",
    ]
    assert L.details(base, "28 pairs x 13 lags") == (
        "r = 0.68 at 6 weeks (95% CI 0.31 to 0.86, simultaneous over every pair and lag); with the result first, "
        "r = 0.05. Family-adjusted p = 0.004 (corrected for 28 pairs x 13 lags: Westfall-Young step-down over block "
        "permutations). Same week: r = 0.12 (p = 0.400). Best lead in each half of the history: 6 and 7 weeks. 104 "
        "weeks, counts and money on logs, after trend, yearly and quarterly cycles, quarter-end and holiday weeks "
        "are removed and both series go through the same pre-whitening filters."
    )


def test_the_effect_in_business_units_is_the_lagged_regression(sample: K.Dataset, weekly: pl.DataFrame) -> None:
    """The sentence's effect, worked out here: new opportunities regressed on activities three weeks earlier with
    intercept, trend and the calendar terms (numpy least squares), per a round step of the activities' spread
    beyond trend and calendar."""
    found = K.find_leads(sample, ["activities"], ["new_opportunities"], permutations=199)
    row = found.frame.row(0, named=True)
    x, y = weekly["activities"].to_numpy(), weekly["new_opportunities"].to_numpy()
    n, lag = x.size, row["lag_weeks"]
    design = np.column_stack([np.ones(n), np.arange(n) / n, L.calendar_terms(weekly["week"].to_list())])
    design = design[:, np.abs(design).sum(axis=0) > 0]
    slope = np.linalg.lstsq(np.column_stack([design[lag:], x[: n - lag]]), y[lag:], rcond=None)[0][-1]
    spread = np.std(x - design @ np.linalg.lstsq(design, x, rcond=None)[0])
    step = 10 ** math.floor(math.log10(spread))
    step = min((step, 2 * step, 5 * step, 10 * step), key=lambda s: abs(math.log(spread / s)))
    assert (n, lag, row["step"], row["effect"]) == (104, 3, pytest.approx(step), pytest.approx(slope * step))
    effect = float(f"{slope * step:.{3 if slope * step >= 100 else 2}g}")
    assert L.finding(row, found.currency) == (
        "Changes in sales activities show up in new opportunities about 3 weeks later (a strong lead, stable across "
        f"both halves of the history): weeks with {step:,.0f} more sales activities have been followed by about "
        f"{effect:,.0f} more new opportunities 3 weeks later."
    )


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def test_leading_command_json() -> None:
    options = ["--by", "region", "--permutations", "199", "--format", "json"]
    code, out = _run(["leading", "--sample", "--indicator", "activities", "--target", "new_opportunities", *options])
    assert code == 0
    result = json.loads(out)
    assert list(result) == ["family", "rows", "warnings"]
    assert (result["family"], result["warnings"]) == ("4 pairs over 4 region segments x 13 lags", [])
    assert [list(row) for row in result["rows"]] == [[*LEAD_COLUMNS, "finding", "region"]] * 4
    assert [(r["region"], near(r["lag_weeks"]), r["significant"], r["strength"]) for r in result["rows"]] == [
        ("APAC", True, True, "strong"),
        ("EMEA", True, True, "moderate"),
        ("LATAM", True, True, "strong"),
        ("North America", True, True, "moderate"),
    ]
    assert all(
        r["finding"].startswith("Changes in sales activities show up in new opportunities about 3 weeks")
        for r in result["rows"]
    )


def test_leading_command_table_names_the_planted_leader() -> None:
    code, out = _run(["leading", "--sample", "--target", "new_opportunities", "--permutations", "199"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("As of 2026-11-20")
    activity = next(line for line in lines if line.startswith("Sales activities "))
    assert activity.split()[2:6] == ["New", "opportunities", "3", "wk"] and " strong " in activity
    assert "p (adj.): adjusted for every pair and lag measured together (8 pairs x 13 lags)." in lines
    assert any(
        line.startswith("  Changes in sales activities show up in new opportunities about 3 weeks later (a strong lead")
        for line in lines
    )


def test_leading_command_errors() -> None:
    assert _run(["leading", "--sample", "--target", "no_such_kpi"])[0] == 2
    assert _run(["leading", "--sample", "--permutations", "5"])[0] == 2
    assert _run(["leading", "--sample", "--max-lag", "0"])[0] == 2


def test_kpis_counted_from_the_same_rows_are_not_a_lead(sample: K.Dataset) -> None:
    """New pipeline and new opportunities both count the deals created in each week: they move together by
    construction, so the pair is not measured (and the report says why); activities still are."""
    found = K.find_leads(sample, ["pipeline_created", "activities"], ["new_opportunities"], permutations=99)
    assert found.frame.select("indicator", "target").unique().rows() == [("activities", "new_opportunities")]
    assert (
        "New pipeline is not measured against new opportunities: both are counted from the same deals in each "
        "period, so they move together by construction." in found.warnings
    )
