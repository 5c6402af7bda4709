"""Answers a VP can defend, through the command line, on a company where the naive answers mislead: stale open deals
due in earlier quarters, a targets table missing a month, won deals without a close date and a quarter with three
closed deals. Every expected number is worked out in plain Python from the rows written to the files."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date

import polars as pl
import pytest

import kpi_core as K
from kpi_core.cli import main

AS_OF = date(2026, 11, 20)
Q3 = (date(2026, 7, 1), date(2026, 10, 1))
Q4 = (date(2026, 10, 1), date(2027, 1, 1))


@dataclass(frozen=True)
class Row:
    id: str
    owner: str
    stage: str
    amount: float
    created: date
    closed: date | None

    @property
    def status(self) -> str:
        return "won" if self.stage == "Closed Won" else "lost" if self.stage == "Closed Lost" else "open"


def _rows() -> list[Row]:
    rows: list[Row] = []
    # Q3: twelve closed deals (nine won), enough for a finding
    for i in range(12):
        stage = "Closed Won" if i < 9 else "Closed Lost"
        rows.append(
            Row(
                f"q3-{i}",
                "Ann Lee" if i % 2 else "Bob Roy",
                stage,
                1000.0 + 100 * i,
                date(2026, 5, 1),
                date(2026, 8, 1 + i),
            )
        )
    # Q4 to date: three closed deals (two won), too few to tell
    rows.append(Row("q4-0", "Ann Lee", "Closed Won", 5000.0, date(2026, 8, 3), date(2026, 10, 7)))
    rows.append(Row("q4-1", "Bob Roy", "Closed Won", 7000.0, date(2026, 9, 1), date(2026, 11, 2)))
    rows.append(Row("q4-2", "Bob Roy", "Closed Lost", 900.0, date(2026, 9, 5), date(2026, 11, 10)))
    # closed deals the CRM left without a close date: no period can place them, all time counts them
    rows.append(Row("nd-0", "Ann Lee", "Closed Won", 3000.0, date(2026, 2, 1), None))
    rows.append(Row("nd-1", "Bob Roy", "Closed Won", 4500.0, date(2026, 3, 1), None))
    rows.append(Row("nd-2", "Bob Roy", "Closed Lost", 700.0, date(2026, 3, 9), None))
    # open deals: stale ones due in Q2 and Q3, past due in Q4, still to come in Q4 and in 2027
    rows.append(Row("o-q2", "Ann Lee", "Proposal", 20000.0, date(2026, 1, 10), date(2026, 6, 15)))
    rows.append(Row("o-q3a", "Bob Roy", "Negotiation", 30000.0, date(2026, 3, 10), date(2026, 8, 20)))
    rows.append(Row("o-q3b", "Ann Lee", "Qualification", 11000.0, date(2026, 4, 10), date(2026, 9, 30)))
    rows.append(Row("o-oct", "Bob Roy", "Proposal", 8000.0, date(2026, 7, 10), date(2026, 10, 31)))
    rows.append(Row("o-dec", "Ann Lee", "Negotiation", 16000.0, date(2026, 8, 10), date(2026, 12, 15)))
    rows.append(Row("o-2027", "Bob Roy", "Qualification", 9000.0, date(2026, 11, 1), date(2027, 2, 1)))
    return rows


# monthly quotas per rep from July to November: December's were never entered
QUOTAS = {
    (m, owner): 4000.0 if owner == "Ann Lee" else 6000.0 for m in range(7, 12) for owner in ("Ann Lee", "Bob Roy")
}


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("misleading")
    deals, targets = folder / "opportunities.csv", folder / "quotas.csv"
    with deals.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["Opportunity ID", "Opportunity Owner", "Stage", "Amount", "Created Date", "Close Date"])
        for r in _rows():
            out.writerow(
                [
                    r.id,
                    r.owner,
                    r.stage,
                    f"{r.amount:.2f}",
                    f"{r.created:%m/%d/%Y}",
                    f"{r.closed:%m/%d/%Y}" if r.closed else "",
                ]
            )
    with targets.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["period", "owner", "value"])
        for (month, owner), value in QUOTAS.items():
            out.writerow([f"2026-{month:02d}", owner, value])
    return [str(deals), str(targets)]


def _json(capsys: pytest.CaptureFixture[str], files: list[str], *args: str) -> dict[str, object]:
    assert main(["compute", *files, "--as-of", AS_OF.isoformat(), "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _closed_in(rows: list[Row], span: tuple[date, date]) -> list[Row]:
    return [r for r in rows if r.status != "open" and r.closed is not None and span[0] <= r.closed < span[1]]


def test_a_quarter_the_naive_answers_get_wrong(capsys: pytest.CaptureFixture[str], company: list[str]) -> None:
    rows = _rows()
    kpis = ["won_revenue", "win_rate", "quota_attainment", "open_pipeline", "pipeline_coverage", "overdue_deals"]
    doc = _json(capsys, company, "--grain", "quarter", "--period", "2026-Q4", *[a for k in kpis for a in ("--kpi", k)])
    got = {r["kpi"]: (r["value"], r["n"], r["small_sample"], r.get("note")) for r in doc["rows"]}  # type: ignore[attr-defined]

    closed = _closed_in(rows, Q4)
    won = [r for r in closed if r.status == "won"]
    open_deals = [r for r in rows if r.status == "open"]
    due_in_q4 = [r for r in open_deals if r.closed and Q4[0] <= r.closed < Q4[1]]
    stale = [r for r in open_deals if r.closed and r.closed < Q4[0]]
    past_due = [r for r in open_deals if r.closed and r.closed < AS_OF]
    stale_note = (
        f"not counted: ${sum(r.amount for r in stale) / 1000:.1f}k in {len(stale)} open deals due before 2026-Q4 "
        "(past due: update their close dates or close them)"
    )
    assert (len(closed), len(won), len(stale), len(past_due)) == (3, 2, 3, 4)  # the company is what it says
    assert got == {
        "won_revenue": (sum(r.amount for r in won), 2, True, "2 won deals: too few to tell (a finding needs 10)"),
        "win_rate": (2 / 3, 3, True, "3 closed deals: too few to tell (a finding needs 10)"),
        # two thirds of a quota is no quota: no attainment, no coverage, and the month without a target is named
        "quota_attainment": (
            None,
            2,
            True,
            "2 won deals: too few to tell (a finding needs 10); no target for December 2026",
        ),
        "open_pipeline": (sum(r.amount for r in due_in_q4), len(due_in_q4), False, stale_note),
        "pipeline_coverage": (None, len(due_in_q4), False, f"no target for December 2026; {stale_note}"),
        # every open deal due before the as-of date, whatever quarter it was due in
        "overdue_deals": (float(len(past_due)), len(open_deals), False, None),
    }
    undated = [r for r in rows if r.status != "open" and r.closed is None]
    assert (
        f"{sum(r.status == 'won' for r in undated)} won and {sum(r.status == 'lost' for r in undated)} lost deal(s) "
        "have no close date: no period can place them, so period figures leave them out; all-time figures (grain: "
        "all) count them. Export the close date with them."
    ) in doc["warnings"]  # type: ignore[operator]


def test_a_complete_quarter_with_enough_deals(capsys: pytest.CaptureFixture[str], company: list[str]) -> None:
    rows = _rows()
    doc = _json(
        capsys, company, "--grain", "quarter", "--period", "2026-Q3", "--kpi", "quota_attainment", "--kpi", "win_rate"
    )
    closed = _closed_in(rows, Q3)
    won = [r for r in closed if r.status == "won"]
    quota = sum(v for (month, _), v in QUOTAS.items() if 7 <= month <= 9)
    got = [(r["kpi"], r["value"], r["n"], r["small_sample"], r.get("note")) for r in doc["rows"]]  # type: ignore[attr-defined]
    assert got == [
        (
            "quota_attainment",
            pytest.approx(sum(r.amount for r in won) / quota),
            9,
            True,
            "9 won deals: too few to tell (a finding needs 10)",
        ),
        ("win_rate", pytest.approx(len(won) / len(closed)), 12, False, None),
    ]


def test_all_time_counts_closed_deals_without_a_close_date(
    capsys: pytest.CaptureFixture[str], company: list[str]
) -> None:
    rows = _rows()
    kpis = ["won_revenue", "deals_won", "win_rate", "avg_deal_size"]
    doc = _json(capsys, company, "--grain", "all", *[a for k in kpis for a in ("--kpi", k)])
    won = [r for r in rows if r.status == "won"]
    closed = [r for r in rows if r.status != "open"]
    revenue = sum(r.amount for r in won)
    assert [(r["kpi"], r["value"], r["n"]) for r in doc["rows"]] == [  # type: ignore[attr-defined]
        ("won_revenue", revenue, len(won)),
        ("deals_won", float(len(won)), len(won)),
        ("avg_deal_size", pytest.approx(revenue / len(won)), len(won)),
        ("win_rate", pytest.approx(len(won) / len(closed)), len(closed)),
    ]
    assert len(won) == 13 and len(closed) == 18


def _deals(rows: list[Row]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "deal_id": [r.id for r in rows],
            "owner": [r.owner for r in rows],
            "stage": [r.stage for r in rows],
            "amount": [r.amount for r in rows],
            "created_date": [r.created for r in rows],
            "close_date": [r.closed for r in rows],
        },
        schema_overrides={"close_date": pl.Date},
    )


def _dataset(targets: pl.DataFrame) -> K.Dataset:
    return K.Dataset.prepare({"deals": _deals(_rows()), "targets": targets}, as_of=AS_OF)


def _months(values: dict[tuple[str, str], float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"period": [p for p, _ in values], "owner": [o for _, o in values], "value": list(values.values())}
    )


def test_a_target_is_used_only_when_every_month_has_one() -> None:
    """Per rep: Ann has every month of Q4, Bob none for December. The team's Q4 is incomplete (Bob's December is
    missing), Ann's is complete; a quarter given as a whole row is complete; so is a year."""
    rows = _rows()
    won_q4 = {
        o: sum(r.amount for r in _closed_in(rows, Q4) if r.status == "won" and r.owner == o)
        for o in ("Ann Lee", "Bob Roy")
    }
    quotas = {(f"2026-{m:02d}", "Ann Lee"): 4000.0 for m in (10, 11, 12)} | {
        (f"2026-{m:02d}", "Bob Roy"): 6000.0 for m in (10, 11)
    }
    by_rep = K.evaluate(
        _dataset(_months(quotas)), ["quota_attainment"], grain="quarter", periods=["2026-Q4"], by=["owner"]
    )
    assert by_rep.select("owner", "value", "note").rows() == [
        ("Ann Lee", won_q4["Ann Lee"] / 12000.0, "1 won deal: too few to tell (a finding needs 10)"),
        ("Bob Roy", None, "1 won deal: too few to tell (a finding needs 10); no target for December 2026"),
    ]
    # the team's Q4 has a target in every month (Ann's December): complete, as the rule says (a month has a target
    # when any row gives one; a rep without one for a month may have joined or left)
    team = K.evaluate(_dataset(_months(quotas)), ["quota_attainment"], grain="quarter", periods=["2026-Q4"])
    assert team.select("value", "note").rows() == [
        (sum(won_q4.values()) / sum(quotas.values()), "2 won deals: too few to tell (a finding needs 10)")
    ]
    # a month of the period is enough to say when a whole quarter is missing
    nothing = K.evaluate(
        _dataset(_months({("2026-07", "Ann Lee"): 1.0})), ["quota_attainment"], grain="month", periods=["2026-11"]
    )
    assert nothing["note"].to_list() == [
        "1 won deal: too few to tell (a finding needs 10); no target for November 2026"
    ]
    for label, value in (("2026-Q4", 30000.0), ("2026", 120000.0)):
        whole = _dataset(pl.DataFrame({"period": [label], "value": [value]}))
        frame = K.evaluate(whole, ["quota_attainment"], grain="quarter", periods=["2026-Q4"], compare=False)
        assert frame["value"].to_list() == [
            pytest.approx(sum(won_q4.values()) / (value * (92 / (92 if label == "2026-Q4" else 365))))
        ]


def test_comparisons_use_like_for_like_targets() -> None:
    """Q3's attainment is compared with Q2's only when Q2 had a complete target too."""
    quotas = {(f"2026-{m:02d}", o): 5000.0 for m in range(5, 13) for o in ("Ann Lee", "Bob Roy")}
    frame = K.evaluate(_dataset(_months(quotas)), ["quota_attainment"], grain="quarter", periods=["2026-Q3"])
    assert frame.select("previous", "delta").rows() == [(None, None)]  # April has no target: Q2 has none
    full = quotas | {("2026-04", o): 5000.0 for o in ("Ann Lee", "Bob Roy")}
    frame = K.evaluate(_dataset(_months(full)), ["quota_attainment"], grain="quarter", periods=["2026-Q3"])
    q3 = sum(r.amount for r in _closed_in(_rows(), Q3) if r.status == "won")
    assert frame.select("value", "previous").rows() == [(pytest.approx(q3 / 30000.0), 0.0)]


def test_the_rows_behind_stale_pipeline_and_all_time() -> None:
    """The rows behind past-due deals and all-time revenue are the ones the values count."""
    dataset = _dataset(_months(QUOTAS))
    overdue = K.rows_behind(dataset, "overdue_deals", "2026-Q4")
    assert sorted(overdue.included["deal_id"].to_list()) == ["o-oct", "o-q2", "o-q3a", "o-q3b"]
    assert K.rows_behind(dataset, "overdue_deals", "2026-Q3").included.height == 0  # a state of the pipeline now
    revenue = K.rows_behind(dataset, "won_revenue", "all")
    assert sorted(revenue.included["deal_id"].to_list()) == sorted(r.id for r in _rows() if r.status == "won")
    assert K.exclusions(dataset, "won_revenue", "2026-Q4").rows() == [
        ("no close date, so in no period", 3),  # closed without a date: all time counts them, no quarter can
        ("status is open", 2),  # o-oct and o-dec
        ("status is lost", 1),
    ]
