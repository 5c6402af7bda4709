"""The 1:1 (kpi_core.coaching, kpi_core.comparisons): the intervals and tests against published values (Wilson;
Newcombe 1998's worked examples of a difference of proportions; R's Welch t-test on the sleep data; Student's t
table; R's Holm adjustment) and values worked out by hand; a hand-made team where one rep's conversion at one stage is
planted lower finds that stage as a gap, with the revenue effect computed by hand and nothing else flagged; better
and worse by each KPI's good direction (a low stalled share is a strength, listed apart from the gaps); activities per
week against the spread of the peers' weekly rates, by hand; a rep with a handful of deals is never called beyond the
noise; every value the 1:1 shows is the engine's (the same number as every page), past-due and stalled deals included;
the deals to talk about with the facts behind each flag; bad input; the command."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stderr, redirect_stdout
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

import kpi_core as K
from kpi_core import coaching as C
from kpi_core import comparisons as S
from kpi_core import periods as P
from kpi_core.cli import main
from sample_data import load_sample

STAGES = ("Qualification", "Proposal", "Negotiation")
T2 = math.sqrt(2 * 0.95**2 / (1 - 0.95**2))
"""Student's t two-sided 95% critical value on 2 degrees of freedom, from the closed form of its tail."""


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        # Wilson score intervals at 95% as published (e.g. Newcombe 1998, Table I; any Wilson calculator)
        (8, 10, (0.4902, 0.9433)),
        (0, 10, (0.0, 0.2775)),
        (10, 10, (0.7225, 1.0)),
        (5, 10, (0.2366, 0.7634)),
        (81, 263, (0.2553, 0.3662)),
        (15, 40, (0.2422, 0.5297)),
    ],
)
def test_wilson_against_published_values(successes: int, n: int, expected: tuple[float, float]) -> None:
    low, high = C.wilson(successes, n)
    assert (round(low, 4), round(high, 4)) == expected


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # Newcombe (1998), "Interval estimation for the difference between independent proportions", Table II,
        # method 10 (the hybrid score interval), examples (a) to (h)
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.0582, 0.8062)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 20), (-0.1611, 0.2775)),
        ((0, 10, 0, 10), (-0.2775, 0.2775)),
        ((10, 10, 0, 20), (0.6791, 1.0)),
        ((10, 10, 0, 10), (0.6075, 1.0)),
    ],
)
def test_newcombe_against_the_published_examples(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    found = S.newcombe(*counts)
    assert (round(found.low, 4), round(found.high, 4)) == expected
    assert found.difference == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    # its p-value is the level at which the interval touches zero: the interval at 1 - p has zero at its end
    if found.difference != 0 and 1e-12 < found.p_value < 1:
        at_p = S.newcombe(*counts, level=1 - found.p_value)
        assert min(abs(at_p.low), abs(at_p.high)) == pytest.approx(0, abs=1e-7)
        assert (found.low > 0 or found.high < 0) == (found.p_value < 0.05)
    else:
        assert found.p_value == (1.0 if found.difference == 0 else pytest.approx(0, abs=1e-12))


def test_the_t_distribution_against_tables() -> None:
    # two-sided 95% and 99% critical values of Student's t (any statistics table)
    table = {
        1: (12.7062, 63.6567),
        2: (4.3027, 9.9248),
        5: (2.5706, 4.0321),
        10: (2.2281, 3.1693),
        30: (2.0423, 2.7500),
    }
    found = {df: (round(S.t_quantile(0.95, df), 4), round(S.t_quantile(0.99, df), 4)) for df in table}
    assert found == table
    # with two degrees of freedom the tail has a closed form: P(|T| > t) = 1 - t / sqrt(2 + t^2)
    for t in (0.5, 1.7, 4.33, 12.0):
        assert S.t_two_sided(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-10)


def test_welch_against_r() -> None:
    # R: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, p-value = 0.07939,
    # 95 percent confidence interval: -3.3654832 0.2054832
    first = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    second = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    found = S.welch(first, second)
    assert (round(found.difference, 2), round(found.low, 7), round(found.high, 7), round(found.p_value, 5)) == (
        -1.58,
        -3.3654832,
        0.2054832,
        0.07939,
    )
    # no spread on either side: the same values are no difference, whatever rounding says of their logarithms
    same = S.welch([math.log(1000.0)] * 12, [math.log(1000.0)] * 72)
    assert (same.difference, same.p_value) == (0.0, 1.0)


def test_holm_against_r() -> None:
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
    assert S.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert S.holm([]) == []
    assert S.holm([0.2]) == [0.2]


def test_prediction_by_hand() -> None:
    # peers 10, 12, 8 a week: mean 10, variance 4; one more like them lands within t(2) x 2 x sqrt(1 + 1/3)
    found = S.prediction(20.0, [10.0, 12.0, 8.0])
    se = 2 * math.sqrt(4 / 3)
    assert (found.difference, found.low, found.high) == pytest.approx((10.0, 10 - T2 * se, 10 + T2 * se))
    assert found.p_value == pytest.approx(1 - (10 / se) / math.sqrt(2 + (10 / se) ** 2))
    # never less noisy than Poisson counts: a floor above the peers' variance widens the interval
    floored = S.prediction(20.0, [10.0, 10.0, 10.0], floor=2.5)
    assert floored.high - floored.difference == pytest.approx(T2 * math.sqrt(2.5 * 4 / 3), rel=1e-6)


def _deals(owner: str, team: str, outcomes: dict[str, int], start: int) -> list[dict[str, object]]:
    """``outcomes``: how many deals were lost at Proposal, lost at Negotiation, and won; each worth 1,000, created on
    5 Jan 2026 and closed on 10 Feb 2026."""
    stage_of = {
        "lost_proposal": ("Proposal", "lost"),
        "lost_negotiation": ("Negotiation", "lost"),
        "won": ("Won", "won"),
    }
    rows = []
    for kind, count in outcomes.items():
        stage, status = stage_of[kind]
        for _ in range(count):
            rows.append(
                {
                    "deal_id": f"D{start + len(rows)}",
                    "owner": owner,
                    "team": team,
                    "stage": stage,
                    "status": status,
                    "amount": 1000.0,
                    "created_date": date(2026, 1, 5),
                    "close_date": date(2026, 2, 10),
                }
            )
    return rows


PEER = {"lost_proposal": 10, "lost_negotiation": 6, "won": 24}
"""Each peer: 40 deals reach Proposal, 30 go on to Negotiation (75%), 24 are won (80% of those)."""


def _team(rep: dict[str, int]) -> K.Dataset:
    rows = _deals("Ann", "Alpha", rep, 0)
    for i, name in enumerate(("Bea", "Cid", "Dan")):
        rows += _deals(name, "Alpha", PEER, 1000 * (i + 1))
    for i, name in enumerate(("Eve", "Fay")):  # another team, converting everything: never Ann's peers
        rows += _deals(name, "Beta", {"won": 40}, 10_000 * (i + 1))
    return K.Dataset.prepare(
        {"deals": pl.DataFrame(rows)}, as_of=date(2026, 3, 31), settings=K.Settings(stage_order=STAGES)
    )


def test_a_planted_stage_is_found_as_a_gap_with_its_revenue_effect_and_nothing_else() -> None:
    # Ann: 40 deals reach Proposal, 15 go on to Negotiation (37.5%), 12 are won (80% of those, as her peers)
    found = C.coach(_team({"lost_proposal": 25, "lost_negotiation": 3, "won": 12}), "Ann", period="2026-Q1")
    assert (found.peers.against, found.peers.dimension, found.peers.name, found.peers.members) == (
        "team",
        "team",
        "Alpha",
        ("Bea", "Cid", "Dan"),
    )
    # the two-sample comparisons, each by hand from the counts (the peers' 90 of 120 as uncertain as Ann's 15 of 40)
    win = S.newcombe(12, 40, 72, 120)
    stage = S.newcombe(15, 40, 90, 120)
    first = S.newcombe(40, 40, 120, 120)
    last = S.newcombe(12, 15, 72, 90)
    tested = [win.p_value, 1.0, 1.0, first.p_value, stage.p_value, last.p_value]  # size and cycle: equal amounts
    adjusted = S.holm(tested)
    assert adjusted[0] < C.ALPHA and adjusted[4] < C.ALPHA and min(adjusted[1:4] + adjusted[5:]) >= C.ALPHA
    effect = (0.75 - 0.375) * 40 * (12 / 15) * 1000  # peers 90/120 - Ann 15/40, x her win-through 12/15 x $1,000
    assert effect == pytest.approx(12_000)
    d = found.differences
    assert d.columns == list(C.DIFFERENCE_SCHEMA)
    shown = d.select(
        "metric", "stage", "direction", "rep_value", "peer_value", "n", "peer_n", "scale", "beyond_noise", "verdict"
    ).rows()
    assert shown == [
        ("win_rate", None, "up", 0.3, 0.6, 40, 120, "points", True, "worse"),
        ("avg_deal_size", None, "up", 1000.0, 1000.0, 12, 72, "relative", False, "no clear difference"),
        ("sales_cycle_days", None, "down", 36.0, 36.0, 12, 72, "relative", False, "no clear difference"),
        (
            "stage_conversion",
            "Qualification → Proposal",
            "up",
            1.0,
            1.0,
            40,
            120,
            "points",
            False,
            "no clear difference",
        ),
        ("stage_conversion", "Proposal → Negotiation", "up", 0.375, 0.75, 40, 120, "points", True, "worse"),
        ("stage_conversion", "Negotiation → Won", "up", 0.8, 0.8, 15, 90, "points", False, "no clear difference"),
        ("overdue_deals", None, "down", None, None, 0, 0, None, False, "no data"),
    ]
    assert d["p_value"].to_list()[:6] == pytest.approx(tested) and d["p_value"][6] is None
    assert d["p_adjusted"].to_list()[:6] == pytest.approx(adjusted) and d["p_adjusted"][6] is None
    row = d.filter(pl.col("stage") == "Proposal → Negotiation").row(0, named=True)
    assert (row["difference"], row["ci_low"], row["ci_high"], row["focus_rank"]) == (
        stage.difference,
        stage.low,
        stage.high,
        1,
    )
    assert row["revenue_effect"] == pytest.approx(effect)
    assert row["revenue_formula"] == (
        "(peers' conversion − rep's) × rep's deals that reached Proposal (40) × rep's win-through from Negotiation "
        "(80.0%) × rep's average won deal ($1,000)"
    )
    # the win rate is the funnel's consequence: worse, but explained by the stage and not counted again
    win_row = d.filter(pl.col("metric") == "win_rate").row(0, named=True)
    assert (win_row["explained_by"], win_row["focus_rank"], C.verdict_words(win_row)) == (
        "Proposal → Negotiation",
        None,
        "worse (the funnel: Proposal → Negotiation)",
    )
    assert win_row["revenue_effect"] == pytest.approx((0.6 - 0.3) * 40 * 1000)
    assert found.gaps == [
        "Conversion from Proposal to Negotiation: 37.5% for Ann against 75.0% for the team (Alpha), 37.5 points lower "
        f"(95% interval {-stage.high * 100:.1f} to {-stage.low * 100:.1f} points lower; 40 deals that reached "
        "Proposal). At the team's conversion there, Ann would have won $12,000 more in 2026-Q1."
    ]
    assert (found.strengths, found.compared) == ([], 6)
    assert (
        found.summary == "1 gap beyond the noise against the team (Alpha) in 2026-Q1 (6 comparisons judged together)."
    )
    # the funnel beside the team's, with the rep's intervals
    assert found.funnel.select("group", "stage", "reached", "next_rate").rows() == [
        ("rep", "Qualification", 40, 1.0),
        ("rep", "Proposal", 40, 0.375),
        ("rep", "Negotiation", 15, 0.8),
        ("rep", "Won", 12, None),
        ("peers", "Qualification", 120, 1.0),
        ("peers", "Proposal", 120, 0.75),
        ("peers", "Negotiation", 90, 0.8),
        ("peers", "Won", 72, None),
    ]
    # what this data cannot say is said, not shown as zero
    assert sorted(found.unavailable) == [
        "activities",
        "lead_conversion_rate",
        "lead_response_hours",
        "quota_attainment",
        "stalled_deals",
        "time_in_stage_days",
    ]
    assert found.unavailable["stalled_deals"] == (
        "Stalled deals need stage history (time in stage) or activities linked to deals (days without activity)."
    )
    assert found.deals.height == 0
    assert found.warnings == [
        "Ann has no open deals as of 31 Mar 2026",
        "Stage conversion is inferred from each deal's furthest stage (no stage history was loaded); lost deals count "
        "as lost at their last open stage when known, else at the first stage.",
    ]


def test_against_the_company_includes_the_other_team() -> None:
    found = C.coach(
        _team({"lost_proposal": 25, "lost_negotiation": 3, "won": 12}), "Ann", against="company", period="2026-Q1"
    )
    assert found.peers.members == ("Bea", "Cid", "Dan", "Eve", "Fay")
    stage = found.differences.filter(pl.col("stage") == "Proposal → Negotiation").row(0, named=True)
    assert (stage["peer_value"], stage["peer_n"]) == (170 / 200, 200)


def test_a_handful_of_deals_is_never_beyond_the_noise() -> None:
    found = C.coach(_team({"lost_proposal": 4}), "Ann", period="2026-Q1")
    d = found.differences
    assert d.filter(pl.col("beyond_noise")).height == 0
    win = d.filter(pl.col("metric") == "win_rate").row(0, named=True)
    assert (win["rep_value"], win["n"], win["note"], win["verdict"], win["p_adjusted"]) == (
        0.0,
        4,
        "4 closed deals: too few to tell",
        "too few to tell",
        None,
    )
    assert (found.gaps, found.strengths, found.compared) == ([], [], 0)
    assert found.summary == (
        "Nothing stands out: no difference from the team (Alpha) in 2026-Q1 is larger than the noise (0 comparisons "
        "judged together). 4 closed deals: too few to tell."
    )
    assert C.verdict_words(win) == "too few to tell"


def _pipeline_team() -> K.Dataset:
    """Ann and three peers in April 2026: 40 deals each closed in April (Ann won 5, each peer 20), created in January;
    36 open deals each, due in June, whose last activity was either on 25 April or on 5 March (no activity for 56
    days: stalled): 4 of Ann's, 13 of each peer's."""
    deals, activities = [], []
    for owner, won, stalled in (("Ann", 5, 4), ("Bea", 20, 13), ("Cid", 20, 13), ("Dan", 20, 13)):
        for i in range(40):
            deals.append(
                {
                    "deal_id": f"{owner}-c{i}",
                    "owner": owner,
                    "team": "Alpha",
                    "stage": "Won" if i < won else "Lost",
                    "amount": 1000.0,
                    "created_date": date(2026, 1, 10),
                    "close_date": date(2026, 4, 10),
                }
            )
        for i in range(36):
            deal = f"{owner}-o{i}"
            deals.append(
                {
                    "deal_id": deal,
                    "owner": owner,
                    "team": "Alpha",
                    "stage": "Proposal",
                    "amount": 1000.0,
                    "created_date": date(2026, 3, 1),
                    "close_date": date(2026, 6, 15),
                }
            )
            day = datetime(2026, 3, 5, 10) if i < stalled else datetime(2026, 4, 25, 10)
            activities.append({"owner": owner, "type": "call", "deal_id": deal, "activity_date": day})
    return K.Dataset.prepare(
        {"deals": pl.DataFrame(deals), "activities": pl.DataFrame(activities)},
        as_of=date(2026, 4, 30),
        settings=K.Settings(stage_order=STAGES),
    )


def test_better_and_worse_by_each_kpis_good_direction() -> None:
    # a stalled share of 11% against the team's 36% is a strength (fewer is better), listed apart from the gaps;
    # a win rate of 12.5% against 50% is a gap
    data = _pipeline_team()
    found = C.coach(data, "Ann", grain="quarter", period="2026-Q2")
    rows = {r["metric"]: r for r in found.differences.iter_rows(named=True)}
    stalled, win = rows["stalled_deals"], rows["win_rate"]
    expected_stalled = S.newcombe(4, 36, 39, 108)
    expected_win = S.newcombe(5, 40, 60, 120)
    assert {k: stalled[k] for k in ("rep_value", "peer_value", "difference", "ci_low", "ci_high", "verdict")} == {
        "rep_value": 4 / 36,
        "peer_value": 39 / 108,
        "difference": expected_stalled.difference,
        "ci_low": expected_stalled.low,
        "ci_high": expected_stalled.high,
        "verdict": "better",
    }
    assert (stalled["direction"], stalled["note"], stalled["beyond_noise"]) == (
        "down",
        "4 of 36 open deals, as of 30 Apr 2026",
        True,
    )
    assert (win["verdict"], win["difference"], win["revenue_effect"]) == (
        "worse",
        expected_win.difference,
        pytest.approx((0.5 - 0.125) * 40 * 1000),
    )
    assert found.gaps == [
        f"Win rate (count): 12.5% for Ann against 50.0% for the team (Alpha), 37.5 points lower (95% interval "
        f"{-expected_win.high * 100:.1f} to {-expected_win.low * 100:.1f} points lower; 40 closed deals). At the "
        "team's win rate, Ann would have won $15,000 more in 2026-Q2."
    ]
    assert found.strengths == [
        f"Stalled share of open deals: 11.1% for Ann against 36.1% for the team (Alpha), 25.0 points lower (95% "
        f"interval {-expected_stalled.high * 100:.1f} to {-expected_stalled.low * 100:.1f} points lower; 36 open "
        "deals)."
    ]
    # what is counted is the engine's: the stalled deals of the pipeline now, for the rep and for the peers
    now = P.make(data.as_of, "quarter")
    engine = {
        who: K.evaluate(data, ["stalled_deals"], grain="quarter", periods=[now], filters={"owner": owners})["value"][0]
        for who, owners in (("rep", ["Ann"]), ("peers", ["Bea", "Cid", "Dan"]))
    }
    assert engine == {"rep": 4, "peers": 39}
    # nothing else beyond the noise: the no-difference rows say so
    assert sorted(m for m, r in rows.items() if r["beyond_noise"]) == ["stalled_deals", "win_rate"]


def test_past_due_deals_are_the_engines_count_of_the_pipeline_now() -> None:
    # open deals due before the as-of date, in this period and in earlier ones: the 1:1 counts what the engine counts
    # for the period holding the as-of date (the pages' number), over all of the rep's open deals
    rows = []
    ann = [date(2026, 1, 20)] * 3 + [date(2026, 4, 20)] * 2 + [date(2026, 6, 20)] * 7
    peer = [date(2026, 2, 20), date(2026, 4, 10)] + [date(2026, 6, 20)] * 10
    for owner, due in (("Ann", ann), ("Bea", peer), ("Cid", peer)):
        for i, close in enumerate(due):
            rows.append(
                {
                    "deal_id": f"{owner}{i}",
                    "owner": owner,
                    "stage": "Proposal",
                    "amount": 100.0,
                    "created_date": date(2025, 12, 1),
                    "close_date": close,
                }
            )
    data = K.Dataset.prepare({"deals": pl.DataFrame(rows)}, as_of=date(2026, 5, 15))
    found = C.coach(data, "Ann", period="2026-Q2")
    row = found.differences.filter(pl.col("metric") == "overdue_deals").row(0, named=True)
    engine = {
        who: K.evaluate(data, ["overdue_deals"], grain="quarter", periods=["2026-Q2"], filters={"owner": owners})[
            "value"
        ][0]
        for who, owners in (("rep", ["Ann"]), ("peers", ["Bea", "Cid"]))
    }
    assert (row["rep_value"], row["peer_value"], row["n"], row["peer_n"]) == (
        engine["rep"] / 12,
        engine["peers"] / 24,
        12,
        24,
    )
    assert row["note"] == f"{int(engine['rep'])} of 12 open deals, as of 15 May 2026"
    assert found.pipeline_period == P.parse("2026-Q2")
    # every deal past its close date is among the deals to talk about, whichever period it was due in
    listed = found.deals.filter(pl.col("flags").str.contains("past due"))["deal_id"].to_list()
    assert sorted(listed) == ["Ann0", "Ann1", "Ann2", "Ann3", "Ann4"]


def test_activities_per_week_against_the_spread_of_the_peers_by_hand() -> None:
    # February 2026 (28 days, 4 weeks; ISO weeks 5 to 9): Ann 80 activities (20 a week), peers 40, 48 and 32 (10, 12
    # and 8 a week): mean 10, variance 4 (above the Poisson floor 10 / 4 = 2.5), t = 10 / (2 x sqrt(4/3)) on 2
    # degrees of freedom
    acts = []
    for owner, count in (("Ann", 80), ("Bea", 40), ("Cid", 48), ("Dan", 32)):
        acts += [
            {"owner": owner, "type": "call", "activity_date": datetime(2026, 2, 1 + i % 28, 11)} for i in range(count)
        ]
    deals = pl.DataFrame(
        {
            "deal_id": ["1", "2", "3", "4"],
            "owner": ["Ann", "Bea", "Cid", "Dan"],
            "stage": ["Proposal"] * 4,
            "amount": [10.0] * 4,
            "close_date": [date(2026, 3, 15)] * 4,
        }
    )
    data = K.Dataset.prepare({"deals": deals, "activities": pl.DataFrame(acts)}, as_of=date(2026, 2, 28))
    found = C.coach(data, "Ann", grain="month", period="2026-02")
    row = found.differences.filter(pl.col("metric") == "activities_per_rep_week").row(0, named=True)
    se = 2 * math.sqrt(4 / 3)
    t = 10 / se
    assert {k: row[k] for k in ("rep_value", "peer_value", "n", "counted", "peer_n", "scale")} == {
        "rep_value": 20.0,
        "peer_value": 10.0,
        "n": 5,
        "counted": "weeks",
        "peer_n": 3,
        "scale": "per week",
    }
    assert (row["difference"], row["ci_low"], row["ci_high"], row["p_value"]) == pytest.approx(
        (10.0, 10 - T2 * se, 10 + T2 * se, 1 - t / math.sqrt(2 + t * t))
    )
    # the only comparison judged (one deal each is too few to tell): p = 0.049 is under 10% and the interval leaves
    # out zero, so more activity, the good direction, is a strength
    assert (found.compared, row["p_adjusted"], row["verdict"]) == (1, row["p_value"], "better")
    assert (
        row["note"]
        == "activities in 5 of 5 weeks; the peers' own weekly rates 8.0 to 12.0; a week: 20 calls, 0 emails, 0 meetings (peers 10, 0, 0), the mix not judged"
    )
    # the peers' value is the engine's: activities per rep per week over the peers
    engine = K.evaluate(
        data, ["activities_per_rep_week"], grain="month", periods=["2026-02"], filters={"owner": ["Bea", "Cid", "Dan"]}
    )
    assert engine["value"].to_list() == [row["peer_value"]]


def test_the_sample_company_uses_the_engines_numbers(sample: K.Dataset) -> None:
    found = C.coach(sample, "Ben Ito", period="2026-Q3")
    assert found.peers.name == "APAC Farmers" and len(found.peers.members) == 4
    # one number per KPI: every value the 1:1 shows is what the engine gives the pages for the same filter
    for who, owners, column in (("rep", ["Ben Ito"], "rep_value"), ("peers", list(found.peers.members), "peer_value")):
        engine = K.evaluate(
            sample,
            [
                "win_rate",
                "avg_deal_size",
                "sales_cycle_days",
                "time_in_stage_days",
                "activities_per_rep_week",
                "lead_response_hours",
                "lead_conversion_rate",
                "stage_conversion",
            ],
            grain="quarter",
            periods=["2026-Q3"],
            filters={"owner": owners},
            compare=False,
        )
        values = {(r["kpi"], r["stage"]): r["value"] for r in engine.iter_rows(named=True)}
        for r in found.differences.iter_rows(named=True):
            if r["metric"] in ("stalled_deals", "overdue_deals", "quota_attainment"):
                continue
            key = (r["metric"], r["stage"])
            assert r[column] == pytest.approx(values[key]), (who, key)
        now = K.evaluate(
            sample,
            ["stalled_deals", "overdue_deals"],
            grain="quarter",
            periods=[P.make(sample.as_of, "quarter")],
            filters={"owner": owners},
            compare=False,
        )
        counts = dict(zip(now["kpi"], now["value"], strict=True))
        for metric in ("stalled_deals", "overdue_deals"):
            r = found.differences.filter(pl.col("metric") == metric).row(0, named=True)
            n = r["n"] if who == "rep" else r["peer_n"]
            assert r[column] * n == pytest.approx(counts[metric]), (who, metric)
    # the counts behind each rate's comparison give the engine's rates: rep minus peers is the difference tested
    for r in found.differences.filter(pl.col("scale") == "points").iter_rows(named=True):
        assert r["difference"] == pytest.approx(r["rep_value"] - r["peer_value"], abs=1e-12), r["label"]
    # the samples behind the comparisons are the rows behind those values
    closed = sample.table("deals").filter(
        (pl.col("owner") == "Ben Ito")
        & pl.col("close_date").is_between(date(2026, 7, 1), date(2026, 10, 1), closed="left")
        & pl.col("status").is_in(["won", "lost"])
    )
    won = closed.filter(pl.col("status") == "won").height
    win = found.differences.filter(pl.col("metric") == "win_rate").row(0, named=True)
    assert (win["rep_value"], win["n"]) == (won / closed.height, closed.height)
    # every rep of the sample company gets a verdict on each row, the ranked ones beyond the noise, in well under a
    # second each
    for rep in C.reps(sample)[:6]:
        result = C.coach(sample, rep)
        d = result.differences
        assert set(d["verdict"]) <= {"better", "worse", "no clear difference", "too few to tell", "no data", "a total"}
        assert d.filter(pl.col("beyond_noise")).select(pl.col("verdict").is_in(["better", "worse"]).all()).item()
        ranked = d.filter(pl.col("focus_rank").is_not_null())
        assert ranked["beyond_noise"].all() and ranked.height == len(result.gaps) + len(result.strengths)
        judged = d.filter(pl.col("p_adjusted").is_not_null())
        assert judged.height == result.compared
        assert judged["p_adjusted"].to_list() == pytest.approx(S.holm(judged["p_value"].to_list()))


def test_deals_to_talk_about_with_the_facts_behind_each_flag() -> None:
    as_of = date(2026, 6, 30)
    deals = pl.DataFrame(
        {
            "deal_id": ["D1", "D2", "D3", "D4", "D5"],
            "deal_name": ["Past due", "Quiet", "Slipped", "Fine", "Someone else's"],
            "owner": ["Ann", "Ann", "Ann", "Ann", "Bea"],
            "stage": ["Proposal", "Negotiation", "Proposal", "Proposal", "Proposal"],
            "amount": [5000.0, 9000.0, 100.0, 50.0, 99_000.0],
            "created_date": [date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1), date(2026, 6, 1)],
            "close_date": [date(2026, 6, 1), date(2026, 9, 30), date(2026, 8, 1), date(2026, 8, 1), date(2026, 5, 1)],
        }
    )
    activities = pl.DataFrame(
        {
            "owner": ["Ann", "Ann", "Ann", "Ann", "Bea"],
            "type": ["call"] * 5,
            "deal_id": ["D1", "D2", "D3", "D4", "D5"],
            "activity_date": [
                datetime(2026, 6, 25),
                datetime(2026, 5, 1),
                datetime(2026, 6, 29),
                datetime(2026, 6, 29),
                datetime(2026, 6, 1),
            ],
        }
    )
    dataset = K.Dataset.prepare(
        {"deals": deals, "activities": activities}, as_of=as_of, settings=K.Settings(stage_order=STAGES)
    )

    def week(d1: date, d3: date) -> pl.DataFrame:
        return deals.with_columns(
            close_date=pl.when(pl.col("deal_id") == "D3")
            .then(pl.lit(d3))
            .when(pl.col("deal_id") == "D1")
            .then(pl.lit(d1))
            .otherwise("close_date")
        )

    # D3's close date moved out twice (slipped), D1's once (a fact, not a flag)
    history = [
        week(date(2026, 5, 15), date(2026, 6, 15)),
        week(date(2026, 6, 1), date(2026, 7, 1)),
        week(date(2026, 6, 1), date(2026, 8, 1)),
    ]
    found = C.deals_to_discuss(dataset, "Ann", history=history, largest=2)
    assert found.rows() == [
        (
            "D2",
            "Quiet",
            "Negotiation",
            9000.0,
            date(2026, 9, 30),
            "stalled, largest",
            "no activity for 60 days; the largest open deal of 4",
        ),
        (
            "D1",
            "Past due",
            "Proposal",
            5000.0,
            date(2026, 6, 1),
            "past due, largest",
            "close date 1 Jun 2026 passed 29 days ago; close date pushed once in 3 kept snapshots; 2nd largest open deal of 4",
        ),
        (
            "D3",
            "Slipped",
            "Proposal",
            100.0,
            date(2026, 8, 1),
            "slipped",
            "close date pushed 2 times in 3 kept snapshots",
        ),
    ]
    # without history no deal is called slipped
    assert C.deals_to_discuss(dataset, "Ann", largest=2)["deal_id"].to_list() == ["D2", "D1"]


def test_bad_input_gets_a_message() -> None:
    dataset = _team({"lost_proposal": 25, "lost_negotiation": 3, "won": 12})
    with pytest.raises(K.DataError, match=r"no owner named 'Anne' in the deals\. Did you mean Ann\?"):
        C.coach(dataset, "Anne")
    with pytest.raises(K.DataError, match="needs a deals export"):
        C.coach(
            K.Dataset.prepare(
                {"activities": pl.DataFrame({"owner": ["Ann"], "activity_date": [datetime(2026, 1, 1)]})}
            ),
            "Ann",
        )
    no_owner = K.Dataset.prepare({"deals": pl.DataFrame({"deal_id": ["1"], "stage": ["Won"], "amount": [1.0]})})
    with pytest.raises(K.DataError, match="the deals have no owner column"):
        C.coach(no_owner, "Ann")
    # a rep alone in a team of their own: compared with the company, and said
    alone = pl.DataFrame(_deals("Ann", "Solo", {"won": 3}, 0) + _deals("Bea", "Alpha", PEER, 100))
    found = C.coach(K.Dataset.prepare({"deals": alone}, as_of=date(2026, 3, 31)), "Ann", period="2026-Q1")
    assert (found.peers.against, found.peers.members) == ("company", ("Bea",))
    assert found.warnings[0] == "Ann is the only rep of team Solo: compared with the rest of the company instead"


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_the_command(tmp_path: Path) -> None:
    code, out, _ = _run("coaching", "--sample", "--owner", "Chloe Patel", "--period", "2026-Q4", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == [
        "segment",
        "owner",
        "peers",
        "period",
        "previous_period",
        "as_of",
        "as_of_source",
        "currency",
        "summary",
        "gaps",
        "strengths",
        "compared",
        "alpha",
        "differences",
        "deals",
        "unavailable",
        "warnings",
    ]
    found = C.coach(K.Dataset.prepare(load_sample()), "Chloe Patel", period="2026-Q4")
    assert data["peers"] == {"against": "team", "dimension": "team", "name": "APAC Farmers", "members": 4, "note": ""}
    assert (data["period"], data["previous_period"], data["alpha"]) == ("2026-Q4", "2026-Q3", C.ALPHA)
    assert (data["summary"], data["gaps"], data["strengths"], data["compared"]) == (
        found.summary,
        found.gaps,
        found.strengths,
        found.compared,
    )
    assert data["strengths"][0].startswith("Conversion from Prospecting to Qualification: 65.9% for Chloe Patel")
    first = next(d for d in data["differences"] if d["focus_rank"] == 1)
    assert set(first) == (set(C.DIFFERENCE_SCHEMA) - {"ci_low", "ci_high"}) | {"interval"}
    assert (first["beyond_noise"], first["verdict"], first["revenue_effect"] < 0, len(first["interval"])) == (
        True,
        "better",
        True,
        2,
    )
    assert data["deals"] and {"deal_id", "flags", "facts"} <= set(data["deals"][0])

    pdf = tmp_path / "1-1.pdf"
    code, out, _ = _run(
        "coaching", "--sample", "--owner", "Ben Ito", "--against", "region", "--grain", "month", "--out", str(pdf)
    )
    assert code == 0
    assert "against the region (APAC)" in out and "Deals to talk about:" in out and "Verdict" in out
    assert "judged together (Holm's correction at 10%" in out
    assert pdf.read_bytes().startswith(b"%PDF")

    code, out, err = _run("coaching", "--sample", "--owner", "Nobody")
    assert code == 2
    assert "error: no owner named 'Nobody' in the deals." in err
