"""What leads revenue (kpi_core.leading): the planted leads of the sample company are found, on the committed
sample, on generated companies with other seeds and on synthetic companies with other planted lags; the controls
(the target shuffled in blocks, an indicator that only shares trend and seasons, too little history) are not
reported as leads; and the command's output."""

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
    assert outcome(found.frame, "indicator") == {
        ("activities",): (True, True),
        ("calls",): (True, True),
        ("emails",): (True, True),
    }
    assert found.frame["stable"].to_list() == [True, True, True]
    assert found.frame["weeks"].to_list() == [104, 104, 104]
    assert found.frame["correlation"].min() > 0.7  # type: ignore[operator]
    assert found.warnings == []
    # the lag profile peaks there, far above the significance band
    best = found.frame.row(0, named=True)
    profile = found.profiles.filter(pl.col("indicator") == best["indicator"]).sort("correlation", descending=True)
    assert profile["lag"][0] == best["lag_weeks"]
    assert profile["correlation"][0] > 2 * best["band"] > 2 * profile["correlation"][1]


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
    assert (row["lag_weeks"], row["significant"], row["weeks"]) == (lag, True, 104)


def test_a_company_with_no_lead_says_so() -> None:
    """Activity and deals share a trend and a season but activity does not drive deals: no lead is reported."""
    results = [
        K.find_leads(synthetic_company(4, seed=seed, strength=0.0), ["activities"], ["new_opportunities"])
        .frame.select("significant")
        .item()
        for seed in range(20, 30)
    ]
    assert sum(results) <= 1  # 10 companies: at the nominal 5% one false lead is already unlucky


def block_shuffle(values: np.ndarray, seed: int, block: int = 8) -> np.ndarray:
    """The target's weeks in blocks of ``block``, the blocks in a random order: no lead can survive it."""
    rng = np.random.default_rng(seed)
    blocks = [values[i : i + block] for i in range(0, values.size, block)]
    return np.concatenate([blocks[i] for i in rng.permutation(len(blocks))])


def naive_significant(x: np.ndarray, y: np.ndarray, seed: int) -> bool:
    """What a naive test does: correlate the raw weekly levels, shuffle weeks freely (no whitening, no blocks)."""
    rng = np.random.default_rng(seed)
    observed = np.abs(L._profile(x, y, L.MAX_LAG)).max()
    shuffled = np.stack([rng.permutation(x) for _ in range(99)])
    null = np.abs(L._profiles(shuffled, y, L.MAX_LAG)).max(axis=1)
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
                hits += L.lead_lag(x, shuffled, starts=starts, permutations=99, seed=seed).significant
                naive += naive_significant(x, shuffled, seed)
                tests += 1
    bound = nominal_bound(tests)
    assert (tests, hits / tests <= bound, naive / tests > bound) == (600, True, True)


def test_an_indicator_that_only_shares_trend_and_seasons_is_not_a_leader(weekly: pl.DataFrame) -> None:
    """An indicator made of revenue's trend, a yearly season and quarter-end spikes (shared with the target) plus
    its own noise: naively it correlates with revenue at every lag; here it is no leader."""
    starts = weekly["week"].to_list()
    n = len(starts)
    t = np.arange(n)
    quarter_end = L.calendar_terms(starts)[:, 4]
    season = np.sin(2 * np.pi * t / L.YEAR_WEEKS)
    revenue = weekly["won_revenue"].to_numpy()
    target = revenue + revenue.mean() * 0.3 * season
    hits = naive = 0
    runs = 600
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        noise = np.zeros(n)
        for week in range(1, n):
            noise[week] = 0.6 * noise[week - 1] + rng.normal(0, 0.3)
        indicator = 100 + 40 * t / n + 15 * season + 10 * quarter_end + 5 * noise
        hits += L.lead_lag(indicator, target, starts=starts, permutations=99, seed=seed).significant
        naive += naive_significant(indicator, target, seed)
    assert (naive / runs > 0.9, hits / runs <= nominal_bound(runs)) == (True, True)


def test_too_short_a_history_gives_no_number() -> None:
    rng = np.random.default_rng(0)
    short = L.lead_lag(rng.normal(size=38), rng.normal(size=38))
    assert short == L.Lead(None, None, None, None, None, False, 38, None, reason="not enough history: 38 weeks of 39")
    flat = L.lead_lag(np.ones(60), rng.normal(size=60))
    assert flat == L.Lead(None, None, None, None, None, False, 60, None, reason="no variation")
    gappy = rng.normal(size=60) + 5
    gappy[10:20] = np.nan
    assert L.lead_lag(gappy, rng.normal(size=60) + 5).reason == "not enough history: 10 of 60 weeks empty"


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
        "note": "not enough history: 30 weeks of 39",
    }
    assert found.profiles.height == 0
    assert found.warnings == [
        "Not enough history: 30 complete week(s) of data; measuring a lead of up to 13 weeks needs at least 39. "
        "No number is given from less."
    ]
    assert L.finding(found.frame.row(0, named=True)) == (
        "Sales activities and new opportunities: not enough history: 30 weeks of 39; no number is given from so "
        "little data."
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
    found = K.find_leads(late, ["activities"], ["new_opportunities"], by="region", permutations=99)
    assert outcome(found.frame, "region") == {
        ("APAC",): (True, True),
        ("EMEA",): (True, True),
        ("LATAM",): (False, False),
        ("North America",): (True, True),
    }
    assert found.frame.filter(pl.col("region") == "LATAM")["note"].to_list() == ["not enough history: 30 weeks of 39"]
    assert set(found.series["region"].unique().to_list()) == {"APAC", "EMEA", "LATAM", "North America"}


def test_what_cannot_be_measured_is_said(sample: K.Dataset) -> None:
    found = K.find_leads(sample, ["open_pipeline", "activities"], ["won_revenue"], by="segment", permutations=19)
    assert found.frame.height == 0
    assert found.warnings == [
        "Open pipeline describes the pipeline as of the export date: one export has no weekly history of it.",
        "Sales activities cannot be split by segment: the activities table has no segment column.",
    ]
    with pytest.raises(ValueError, match="unknown dimension 'colour'"):
        K.find_leads(sample, by="colour")


def test_calendar_terms_mark_quarter_ends() -> None:
    mondays = [date(2026, 3, 16) + timedelta(weeks=i) for i in range(4)]  # quarter ends Tuesday 31 March
    terms = L.calendar_terms(mondays)
    assert terms[:, 4].tolist() == [0.0, 0.0, 1.0, 0.0]  # the week holding 31 March
    assert terms[:, 5].tolist() == [0.0, 1.0, 0.0, 0.0]  # the week before it
    fiscal = L.calendar_terms([date(2026, 6, 22), date(2026, 6, 29)], fiscal_year_start=4)
    assert fiscal[:, 4].tolist() == [0.0, 1.0]


def test_history_weeks_are_complete_weeks(small: K.Dataset) -> None:
    weeks = L.history_weeks(small)  # first deal created Saturday 10 January 2026; as of Tuesday 31 March
    assert (weeks[0].label, weeks[-1].label, len(weeks)) == ("2026-W03", "2026-W13", 11)


def test_finding_sentences() -> None:
    base = {
        "indicator": "meetings",
        "target": "won_revenue",
        "lag_weeks": 6,
        "correlation": 0.58,
        "ci_low": 0.31,
        "ci_high": 0.76,
        "p_value": 0.004,
        "significant": True,
        "weeks": 104,
        "stable": True,
        "note": None,
    }
    assert [
        L.finding(base),
        L.finding({**base, "stable": False, "correlation": -0.4}),
        L.finding({**base, "lag_weeks": 0}),
        L.finding({**base, "significant": False, "p_value": 0.41}),
        L.short_finding(base),
        L.short_finding({**base, "significant": False}),
    ] == [
        "Changes in meetings booked show up in won revenue about 6 weeks later: r = 0.58 (95% CI 0.31 to 0.76), "
        "stable across both halves of the 104 weeks of history.",
        "Changes in meetings booked show up in won revenue about 6 weeks later, in the opposite direction: "
        "r = -0.40 (95% CI 0.31 to 0.76), but not at the same lag in both halves of the history: treat it with care.",
        "Meetings booked moves with won revenue in the same week: r = 0.58 (95% CI 0.31 to 0.76); no lead.",
        "No measurable lead of meetings booked on won revenue: the strongest correlation, r = 0.58 at 6 weeks, is "
        "within what chance gives over 104 weeks (p = 0.41).",
        "leads won revenue by ~6 weeks",
        "no measurable lead on won revenue",
    ]


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def test_leading_command_json() -> None:
    options = ["--by", "region", "--permutations", "99", "--format", "json"]
    code, out = _run(["leading", "--sample", "--indicator", "activities", "--target", "new_opportunities", *options])
    assert code == 0
    result = json.loads(out)
    assert list(result) == ["rows", "warnings"] and result["warnings"] == []
    assert [list(row) for row in result["rows"]] == [
        [
            "indicator",
            "target",
            "lag_weeks",
            "correlation",
            "ci_low",
            "ci_high",
            "p_value",
            "significant",
            "weeks",
            "stable",
            "region",
        ]
    ] * 4
    assert [(r["region"], near(r["lag_weeks"]), r["significant"]) for r in result["rows"]] == [
        ("APAC", True, True),
        ("EMEA", True, True),
        ("LATAM", True, True),
        ("North America", True, True),
    ]


def test_leading_command_table_names_the_planted_leader() -> None:
    code, out = _run(["leading", "--sample", "--target", "new_opportunities", "--permutations", "99"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("As of 2026-11-20")
    activity = next(line for line in lines if line.startswith("Sales activities "))
    assert activity.split()[2:4] == ["New", "opportunities"] and "3 wk " in activity
    assert "  Changes in sales activities show up in new opportunities about 3 weeks later: r = 0.88" in out


def test_leading_command_errors() -> None:
    assert _run(["leading", "--sample", "--target", "no_such_kpi"])[0] == 2
    assert _run(["leading", "--sample", "--permutations", "5"])[0] == 2


def test_kpis_counted_from_the_same_rows_are_not_a_lead(sample: K.Dataset) -> None:
    """New pipeline and new opportunities both count the deals created in each week: they move together by
    construction, so the pair is not measured (and the report says why); activities still are."""
    found = K.find_leads(sample, ["pipeline_created", "activities"], ["new_opportunities"], permutations=99)
    assert found.frame.select("indicator", "target").unique().rows() == [("activities", "new_opportunities")]
    assert (
        "New pipeline is not measured against new opportunities: both are counted from the same deals in each "
        "period, so they move together by construction." in found.warnings
    )
