"""The 1:1 (kpi_core.coaching): Wilson intervals against published values; a hand-made team where one rep's
conversion at one stage is planted lower finds that stage, with the revenue effect computed by hand and nothing else
flagged; a rep with a handful of deals is never called beyond the noise; the deals to talk about with the facts
behind each flag; bad input; the command."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from datetime import date, datetime

import polars as pl
import pytest

import kpi_core as K
from kpi_core import coaching as C
from kpi_core.cli import main

STAGES = ("Qualification", "Proposal", "Negotiation")


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


def test_bootstrap_is_seeded_and_exact_on_constant_values() -> None:
    values = [3.0, 9.0, 4.0, 12.0, 7.0, 5.0, 8.0, 15.0, 6.0, 2.0, 11.0]
    assert C.bootstrap(values) == C.bootstrap(values)  # the same every run
    low, high = C.bootstrap(values)
    assert low < sum(values) / len(values) < high
    assert C.bootstrap([1000.0] * 40) == (1000.0, 1000.0)
    assert C.bootstrap([2.0] * 5 + [10.0] * 5, "median") == (2.0, 10.0)


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


def test_a_planted_stage_is_found_with_its_revenue_effect_and_nothing_else() -> None:
    # Ann: 40 deals reach Proposal, 15 go on to Negotiation (37.5%), 12 are won (80% of those, as her peers)
    found = C.coach(_team({"lost_proposal": 25, "lost_negotiation": 3, "won": 12}), "Ann", period="2026-Q1")
    assert (found.peers.against, found.peers.dimension, found.peers.name, found.peers.members) == (
        "team",
        "team",
        "Alpha",
        ("Bea", "Cid", "Dan"),
    )
    d = found.differences
    flagged = d.filter(pl.col("beyond_noise")).select("metric", "stage", "explained_by").rows()
    # the stage, and the win rate as its consequence (not counted again); nothing else
    assert flagged == [
        ("win_rate", None, "Proposal → Negotiation"),
        ("stage_conversion", "Proposal → Negotiation", None),
    ]
    stage = d.filter(pl.col("stage") == "Proposal → Negotiation").row(0, named=True)
    low, high = C.wilson(15, 40)
    # by hand: (peers 90/120 - Ann 15/40) x 40 deals at Proposal x Ann's win-through from Negotiation 12/15 x $1,000
    effect = (0.75 - 0.375) * 40 * (12 / 15) * 1000
    assert effect == pytest.approx(12_000)
    assert {k: stage[k] for k in ("rep_value", "peer_value", "n", "ci_low", "ci_high", "focus_rank")} == {
        "rep_value": 0.375,
        "peer_value": 0.75,
        "n": 40,
        "ci_low": low,
        "ci_high": high,
        "focus_rank": 1,
    }
    assert stage["revenue_effect"] == pytest.approx(effect)
    assert stage["revenue_formula"] == (
        "(peers' conversion − rep's) × rep's deals that reached Proposal (40) × rep's win-through from Negotiation "
        "(80.0%) × rep's average won deal ($1,000)"
    )
    assert found.focus == [
        "Conversion from Proposal to Negotiation: 37.5% for Ann against 75.0% for the team (Alpha) (40 deals that "
        "reached Proposal; 95% interval 24.2% to 53.0%). At the team's conversion there, Ann would have won $12,000 "
        "more in 2026-Q1."
    ]
    # everything else equal: the same values, so within the noise
    rows = {(r["metric"], r["stage"]): r for r in d.iter_rows(named=True)}
    assert {k: (r["rep_value"], r["peer_value"], r["beyond_noise"]) for k, r in rows.items()} == {
        ("win_rate", None): (0.3, 0.6, True),
        ("avg_deal_size", None): (1000.0, 1000.0, False),
        ("sales_cycle_days", None): (36.0, 36.0, False),
        ("stage_conversion", "Qualification → Proposal"): (1.0, 1.0, False),
        ("stage_conversion", "Proposal → Negotiation"): (0.375, 0.75, True),
        ("stage_conversion", "Negotiation → Won"): (0.8, 0.8, False),
        ("overdue_deals", None): (None, None, False),
    }
    assert rows[("win_rate", None)]["revenue_effect"] == pytest.approx((0.6 - 0.3) * 40 * 1000)
    assert rows[("avg_deal_size", None)]["revenue_effect"] == 0.0
    assert rows[("overdue_deals", None)]["note"] == "no open deals as of 31 Mar 2026"
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
    assert stage["peer_value"] == 170 / 200


def test_a_handful_of_deals_is_never_beyond_the_noise() -> None:
    found = C.coach(_team({"lost_proposal": 4}), "Ann", period="2026-Q1")
    d = found.differences
    assert d.filter(pl.col("beyond_noise")).height == 0
    win = d.filter(pl.col("metric") == "win_rate").row(0, named=True)
    assert (win["rep_value"], win["n"], win["note"]) == (0.0, 4, "4 closed deals: too few to tell")
    assert found.focus == [
        "Nothing stands out: no difference from the team (Alpha) in 2026-Q1 is larger than the noise. "
        "4 closed deals: too few to tell."
    ]
    assert C.noise_words(win) == "too few to tell"


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


def test_the_sample_company_uses_the_engines_numbers(sample: K.Dataset) -> None:
    found = C.coach(sample, "Ben Ito", period="2026-Q3")
    assert found.peers.name == "APAC Farmers" and len(found.peers.members) == 4
    engine = K.evaluate(
        sample, ["win_rate", "avg_deal_size"], grain="quarter", periods=["2026-Q3"], filters={"owner": ["Ben Ito"]}
    )
    values = dict(zip(engine["kpi"], engine["value"], strict=True))
    rows = {r["metric"]: r for r in found.differences.iter_rows(named=True) if r["stage"] is None}
    closed = sample.table("deals").filter(
        (pl.col("owner") == "Ben Ito")
        & pl.col("close_date").is_between(date(2026, 7, 1), date(2026, 10, 1), closed="left")
        & pl.col("status").is_in(["won", "lost"])
    )
    won = closed.filter(pl.col("status") == "won").height
    assert rows["win_rate"]["rep_value"] == values["win_rate"] == won / closed.height
    assert rows["win_rate"]["n"] == closed.height
    assert (rows["win_rate"]["ci_low"], rows["win_rate"]["ci_high"]) == C.wilson(won, closed.height)
    assert rows["avg_deal_size"]["rep_value"] == values["avg_deal_size"]
    peers = K.evaluate(
        sample, ["win_rate"], grain="quarter", periods=["2026-Q3"], filters={"owner": list(found.peers.members)}
    )
    assert rows["win_rate"]["peer_value"] == peers["value"][0]
    # every rep of the sample company gets a focus and a list of deals, in well under a second each
    for rep in C.reps(sample)[:8]:
        result = C.coach(sample, rep)
        assert result.focus and all(s.endswith(".") for s in result.focus)
        ranked = result.differences.filter(pl.col("focus_rank").is_not_null()).sort("focus_rank")
        assert ranked["beyond_noise"].all()
        effects = [abs(e) for e in ranked["revenue_effect"].to_list() if e is not None]
        assert effects == sorted(effects, reverse=True)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_the_command() -> None:
    code, out, _ = _run("coaching", "--sample", "--owner", "Ben Ito", "--period", "2026-Q4", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == [
        "segment",
        "owner",
        "peers",
        "period",
        "previous_period",
        "as_of",
        "currency",
        "focus",
        "differences",
        "deals",
        "unavailable",
        "warnings",
    ]
    assert data["peers"] == {"against": "team", "dimension": "team", "name": "APAC Farmers", "members": 4, "note": ""}
    assert (data["period"], data["previous_period"]) == ("2026-Q4", "2026-Q3")
    assert data["focus"][0].startswith("Conversion from Qualification to Needs Analysis: 40.0% for Ben Ito")
    first = next(d for d in data["differences"] if d["focus_rank"] == 1)
    assert set(first) >= {"metric", "rep_value", "peer_value", "interval", "n", "beyond_noise", "revenue_effect"}
    assert first["beyond_noise"] is True and first["revenue_effect"] > 0 and len(first["interval"]) == 2
    assert data["deals"] and {"deal_id", "flags", "facts"} <= set(data["deals"][0])

    code, out, _ = _run("coaching", "--sample", "--owner", "Ben Ito", "--against", "region", "--grain", "month")
    assert code == 0
    assert "against the region (APAC)" in out and "Deals to talk about:" in out and "Beyond noise" in out

    code, out, err = _run("coaching", "--sample", "--owner", "Nobody")
    assert code == 2
    assert "error: no owner named 'Nobody' in the deals." in err
