"""What changed between two snapshots: table-driven categories and a waterfall that always balances."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kpi_core as K
from kpi_core import periods as P
from kpi_core.changes import balance, push_counts, what_changed

Q4 = P.parse("2026-Q4")
IN, OUT, LATER = date(2026, 11, 15), date(2026, 9, 30), date(2027, 2, 1)

Row = tuple[str, float | None, date | None] | None  # status, amount, close date; None: not in the snapshot


def frame(row: Row, deal_id: str = "006000000000001AAA") -> pl.DataFrame:
    schema = {"deal_id": pl.String, "status": pl.String, "amount": pl.Float64, "close_date": pl.Date}
    if row is None:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame([(deal_id, *row)], schema=schema, orient="row")


@pytest.mark.parametrize(
    ("name", "before", "after", "category", "effect"),
    [
        ("gone from the export", ("open", 100.0, IN), None, "removed", 100.0),
        ("won", ("open", 100.0, IN), ("won", 120.0, IN), "won", 100.0),
        ("lost", ("open", 100.0, IN), ("lost", 100.0, IN), "lost", 100.0),
        ("close date moved to next quarter", ("open", 100.0, IN), ("open", 100.0, LATER), "pushed_out", 100.0),
        ("won earlier, open again", ("won", 100.0, IN), ("open", 80.0, IN), "reopened", 80.0),
        ("not there before", None, ("open", 60.0, IN), "new", 60.0),
        (
            "open before but closing later, now this quarter",
            ("open", 90.0, LATER),
            ("open", 95.0, IN),
            "pulled_in",
            95.0,
        ),
        (
            "open earlier quarter (overdue) then pulled into scope",
            ("open", 90.0, OUT),
            ("open", 90.0, IN),
            "pulled_in",
            90.0,
        ),
        ("bigger", ("open", 100.0, IN), ("open", 130.0, IN), "increased", 30.0),
        ("smaller", ("open", 100.0, IN), ("open", 70.5, IN), "decreased", 29.5),
        ("same", ("open", 100.0, IN), ("open", 100.0, IN), "unchanged", 0.0),
        ("amount missing before counts as 0", ("open", None, IN), ("open", 10.0, IN), "increased", 10.0),
    ],
)
def test_each_deal_falls_in_one_category(name: str, before: Row, after: Row, category: str, effect: float) -> None:
    # the later export writes the id with 15 characters: still the same record
    result = what_changed(frame(before), frame(after, "006000000000001"), Q4)
    assert result.deals.select("category", "effect").rows() == [(category, effect)], name
    assert balance(result.waterfall) == result.waterfall["end"]


def test_out_of_scope_both_times_is_not_listed() -> None:
    result = what_changed(frame(("open", 5.0, LATER)), frame(("open", 6.0, LATER)), Q4)
    assert result.deals.height == 0 and result.waterfall["start"] == 0 and result.waterfall["end"] == 0


def test_whole_pipeline_without_a_period() -> None:
    before = pl.DataFrame(
        {
            "deal_id": ["a", "b", "c"],
            "status": ["open"] * 3,
            "amount": [10.0, 20.0, 30.0],
            "close_date": [IN, LATER, OUT],
        }
    )
    after = pl.DataFrame(
        {
            "deal_id": ["a", "b", "d"],
            "status": ["open", "won", "open"],
            "amount": [15.0, 20.0, 5.0],
            "close_date": [LATER, LATER, IN],
        }
    )
    result = what_changed(before, after)
    assert result.waterfall == {
        "start": 60.0,
        "new": 5.0,
        "pulled_in": 0.0,
        "reopened": 0.0,
        "increased": 5.0,
        "won": 20.0,
        "lost": 0.0,
        "pushed_out": 0.0,
        "removed": 30.0,
        "decreased": 0.0,
        "end": 20.0,
    }
    assert result.counts == {"removed": 1, "won": 1, "new": 1, "increased": 1}


def test_stage_moves_and_push_counter() -> None:
    before = pl.DataFrame(
        {
            "deal_id": ["a", "b"],
            "status": ["open", "open"],
            "amount": [1.0, 1.0],
            "close_date": [IN, IN],
            "stage": ["Qualification", "Proposal"],
        }
    )
    after = before.with_columns(stage=pl.Series(["Proposal", "Qualification"]))
    moves = (
        what_changed(before, after, Q4, ["Qualification", "Proposal"])
        .deals.select("deal_id", "stage_move")
        .sort("deal_id")
    )
    assert moves.rows() == [("a", "advanced"), ("b", "regressed")]
    weeks = [
        pl.DataFrame({"deal_id": ["a", "b"], "close_date": [date(2026, 10, d), date(2026, 11, 1)]})
        for d in (1, 8, 8, 15)
    ]
    assert push_counts(weeks).rows() == [("a", 2), ("b", 0)]


statuses = st.sampled_from(["open", "open", "open", "won", "lost"])
dates = st.sampled_from([IN, OUT, LATER, date(2026, 10, 1), date(2026, 12, 31), None])
amounts = st.one_of(st.none(), st.decimals(0, 10**7, places=2).map(float))
snapshot = st.dictionaries(
    st.sampled_from([f"d{i}" for i in range(30)]), st.tuples(statuses, amounts, dates), max_size=30
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=snapshot, after=snapshot, scoped=st.booleans())
def test_the_waterfall_always_balances(before: dict[str, Row], after: dict[str, Row], scoped: bool) -> None:
    def to_frame(rows: dict[str, Row]) -> pl.DataFrame:
        return pl.DataFrame(
            [(k, *v) for k, v in rows.items() if v],
            schema={"deal_id": pl.String, "status": pl.String, "amount": pl.Float64, "close_date": pl.Date},
            orient="row",
        )

    result = what_changed(to_frame(before), to_frame(after), Q4 if scoped else None)
    assert balance(result.waterfall) == result.waterfall["end"]
    assert result.deals["deal_id"].is_unique().all()
    assert sum(result.counts.values()) + int((result.deals["category"] == "unchanged").sum()) == result.deals.height


def test_stage_history_rebuilt_from_snapshots_gives_time_in_stage() -> None:
    import kpi_core as K
    from kpi_core.changes import stage_history_from

    weeks = [
        (date(2026, 10, 2), pl.DataFrame({"deal_id": ["a", "b"], "stage": ["Prospecting", "Prospecting"]})),
        (date(2026, 10, 9), pl.DataFrame({"deal_id": ["a", "b"], "stage": ["Prospecting", "Proposal"]})),
        (date(2026, 10, 16), pl.DataFrame({"deal_id": ["a", "b"], "stage": ["Proposal", "Proposal"]})),
    ]
    history = stage_history_from(weeks)
    assert history.select("deal_id", "stage", pl.col("entered_at").dt.date()).rows() == [
        ("a", "Prospecting", date(2026, 10, 2)),
        ("a", "Proposal", date(2026, 10, 16)),
        ("b", "Prospecting", date(2026, 10, 2)),
        ("b", "Proposal", date(2026, 10, 9)),
    ]
    deals = weeks[-1][1].with_columns(amount=pl.lit(1.0), close_date=pl.lit(date(2026, 12, 1)))
    ds = K.Dataset.prepare({"deals": deals, "stage_history": history}, as_of=date(2026, 10, 16))
    frame = K.evaluate(ds, ["time_in_stage_days"], grain="quarter", compare=False)
    assert frame.select("stage", "value").rows() == [("Prospecting", 10.5)]  # a 14 days, b 7 days


SALESFORCE_STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
]


def test_stage_order_from_weekly_exports_follows_the_crm_not_the_entry_rank() -> None:
    """Plain weekly Salesforce reports: deals are first seen in every stage; a history rebuilt from the snapshots
    must not reorder the funnel by the mean rank at which stages were entered."""
    from datetime import timedelta

    from kpi_core.changes import stage_history_from

    weeks = []
    for w in range(6):
        rows = [(f"006{i:012d}", SALESFORCE_STAGES[min(w, 7)], 100.0) for i in range(20)]  # start, move on weekly
        rows += [(f"007{i:012d}", "Negotiation/Review", 100.0) for i in range(20)]  # first seen late, stay
        rows += [(f"008{i:012d}", "Perception Analysis", 100.0) for i in range(w * 3)]  # new, mid-funnel
        frame = pl.DataFrame(rows, schema=["deal_id", "stage", "amount"], orient="row")
        weeks.append((date(2026, 1, 2) + timedelta(days=7 * w), frame))
    history = stage_history_from(weeks)
    deals = weeks[-1][1].with_columns(close_date=pl.lit(date(2026, 3, 31)))
    dataset = K.Dataset.prepare({"deals": deals, "stage_history": history}, as_of=date(2026, 2, 6))
    assert dataset.stage_order == tuple(s for s in SALESFORCE_STAGES if s != "Proposal/Price Quote")  # never seen


def test_custom_stages_are_ordered_by_the_moves_deals_made() -> None:
    from datetime import datetime

    stages = ["Lead", "Scoping", "Pitch", "Paperwork"]
    rows = []
    for d in range(30):
        for k, stage in enumerate(stages[: 1 + d % 4]):
            rows.append((f"d{d}", stage, datetime(2026, 1, 1 + k)))
    rows.append(("d99", "Pitch", datetime(2026, 1, 1)))  # one deal that went back once
    rows.append(("d99", "Scoping", datetime(2026, 1, 2)))
    history = pl.DataFrame(rows, schema=["deal_id", "stage", "entered_at"], orient="row")
    deals = pl.DataFrame({"deal_id": [f"d{d}" for d in range(30)], "stage": [stages[d % 4] for d in range(30)]})
    dataset = K.Dataset.prepare({"deals": deals, "stage_history": history})
    assert dataset.stage_order == tuple(stages)


def test_the_share_of_shared_deals_of_big_exports_is_measured_on_a_sample() -> None:
    """Two 1M-deal exports sharing 70% of their deals (one with Salesforce's 18-character ids, the other with their
    15-character form) and two sharing none: the share, measured on the same sixteenth of the ids on both sides, is
    within a point of the truth."""
    from kpi_core.changes import SHARE_SAMPLED_FROM, shared_deals

    n = 1_000_000
    assert n > SHARE_SAMPLED_FROM
    first = pl.DataFrame({"deal_id": [f"006{i:012d}AbC" for i in range(n)]})
    moved_on = pl.DataFrame({"deal_id": [f"006{i:012d}" for i in range(300_000, 300_000 + n)]})
    other = pl.DataFrame({"deal_id": [f"X-{i}" for i in range(n)]})
    assert abs(shared_deals(first, moved_on) - 0.7) < 0.01
    assert shared_deals(first, other) == 0.0
    assert shared_deals(first, first) == 1.0
