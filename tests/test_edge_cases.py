"""Table-driven edge cases: empty input, nulls, zero denominators, one row, empty periods, fiscal years,
period-to-date comparisons."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

import kpi_core as K

KPIS = ["won_revenue", "deals_won", "avg_deal_size", "win_rate", "sales_cycle_days", "open_pipeline"]


def deals(rows: list[tuple[str, str, float | None, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "deal_id": pl.String,
            "stage": pl.String,
            "amount": pl.Float64,
            "created_date": pl.String,
            "close_date": pl.String,
        },
        orient="row",
    )


@pytest.mark.parametrize(
    ("name", "rows", "expected"),
    [
        (
            "single won deal",
            [("1", "Closed Won", 100.0, "2026-01-01", "2026-01-11")],
            {
                "won_revenue": 100.0,
                "deals_won": 1.0,
                "avg_deal_size": 100.0,
                "win_rate": 1.0,
                "sales_cycle_days": 10.0,
                "open_pipeline": 0.0,
            },
        ),
        (
            "zero denominators: only open deals",
            [("1", "Proposal", 100.0, "2026-01-01", "2026-01-20")],
            {
                "won_revenue": 0.0,
                "deals_won": 0.0,
                "avg_deal_size": None,
                "win_rate": None,
                "sales_cycle_days": None,
                "open_pipeline": 100.0,
            },
        ),
        (
            "null amount on a won deal",
            [("1", "Won", None, "2026-01-01", "2026-01-05"), ("2", "Won", 50.0, "2026-01-01", "2026-01-03")],
            {
                "won_revenue": 50.0,
                "deals_won": 2.0,
                "avg_deal_size": 25.0,
                "win_rate": 1.0,
                "sales_cycle_days": 3.0,
                "open_pipeline": 0.0,
            },
        ),
        (
            "null close date is in no period",
            [("1", "Won", 70.0, "2026-01-01", None), ("2", "Lost", 30.0, "2026-01-01", "2026-01-09")],
            {
                "won_revenue": 0.0,
                "deals_won": 0.0,
                "avg_deal_size": None,
                "win_rate": 0.0,
                "sales_cycle_days": None,
                "open_pipeline": 0.0,
            },
        ),
        (
            "unparseable dates are nulls, not crashes",
            [("1", "Won", 70.0, "yesterday", "2026-01-04"), ("2", "Won", 30.0, "2026-01-02", "2026-01-09")],
            {
                "won_revenue": 100.0,
                "deals_won": 2.0,
                "avg_deal_size": 50.0,
                "win_rate": 1.0,
                "sales_cycle_days": 7.0,
                "open_pipeline": 0.0,
            },
        ),
        (
            "nothing in the period",
            [("1", "Won", 70.0, "2025-01-01", "2025-02-04")],
            {
                "won_revenue": 0.0,
                "deals_won": 0.0,
                "avg_deal_size": None,
                "win_rate": None,
                "sales_cycle_days": None,
                "open_pipeline": 0.0,
            },
        ),
    ],
)
def test_january(
    name: str, rows: list[tuple[str, str, float | None, str | None, str | None]], expected: dict[str, float | None]
) -> None:
    ds = K.Dataset.prepare({"deals": deals(rows)}, as_of=date(2026, 1, 31))
    frame = K.evaluate(ds, KPIS, periods=["2026-01"], compare=False)
    assert dict(frame.select("kpi", "value").rows()) == expected, name


def test_empty_table_is_unavailable_not_zero() -> None:
    ds = K.Dataset.prepare({"deals": deals([])}, as_of=date(2026, 1, 31))
    result = K.report(ds, KPIS, periods=["2026-01"])
    assert result.frame.height == 0
    assert set(result.unavailable) == set(KPIS)
    assert "upload" in result.unavailable["won_revenue"]


def test_missing_tables_name_what_to_upload() -> None:
    ds = K.Dataset.prepare({"deals": deals([("1", "Won", 1.0, "2026-01-01", "2026-01-02")])}, as_of=date(2026, 1, 31))
    reasons = K.availability(ds, ["cac", "activities", "mrr", "quota_attainment", "profit_margin"])
    assert reasons == {
        "cac": "Customer acquisition cost needs a spend table with sales and marketing cost per period: upload one.",
        "activities": "Sales activities needs an activities export (calls, emails, meetings) with owner and date: upload one.",
        "mrr": "MRR needs a subscriptions table (account, start date, end date, MRR): upload one.",
        "quota_attainment": "Quota attainment needs a targets table (period, value, optional owner/region/product/team): upload one.",
        "profit_margin": "Average profit margin needs gross_profit in the deals table (a deals export with stage or status, amount and close date).",
    }


def test_fiscal_year_starting_in_july() -> None:
    rows = [
        ("1", "Won", 10.0, "2026-06-01", "2026-06-30"),
        ("2", "Won", 20.0, "2026-06-01", "2026-07-01"),
        ("3", "Won", 40.0, "2026-06-01", "2026-09-30"),
        ("4", "Won", 80.0, "2026-06-01", "2025-07-15"),
    ]
    ds = K.Dataset.prepare({"deals": deals(rows)}, as_of=date(2026, 10, 31), settings=K.Settings(fiscal_year_start=7))
    frame = K.evaluate(ds, ["won_revenue"], grain="quarter", periods=["FY2027-Q1"])
    assert frame.select("period", "value", "previous", "last_year", "period_to_date").rows() == [
        ("FY2027-Q1", 60.0, 10.0, 80.0, False)
    ]
    year = K.evaluate(ds, ["won_revenue"], grain="year")
    # FY2027 is still running, so FY2026 is compared up to Oct 31 only: deal 4, not deal 1 (June 30)
    assert year.select("period", "value", "previous").rows() == [("FY2027", 60.0, 80.0)]


def test_running_period_compares_period_to_date() -> None:
    rows = [
        ("1", "Won", 100.0, "2026-01-01", "2026-03-10"),  # this month, by the as-of day
        ("2", "Won", 10.0, "2026-01-01", "2026-02-05"),  # February, before day 15
        ("3", "Won", 1000.0, "2026-01-01", "2026-02-20"),  # February, after day 15: not compared
        ("4", "Won", 7.0, "2025-03-15"[:10], "2025-03-15"),  # last March, on day 15
        ("5", "Won", 5000.0, "2025-03-01", "2025-03-16"),
    ]  # last March, after day 15
    ds = K.Dataset.prepare({"deals": deals(rows)}, as_of=date(2026, 3, 15))
    frame = K.evaluate(ds, ["won_revenue"], periods=["2026-03"])
    assert frame.select("period", "value", "previous", "last_year", "period_to_date").rows() == [
        ("2026-03", 100.0, 10.0, 7.0, True)
    ]
    closed = K.evaluate(ds, ["won_revenue"], periods=["2026-02"])
    assert closed.select("period", "value", "previous", "period_to_date").rows() == [("2026-02", 1010.0, 0.0, False)]


def test_last_n_periods_are_in_order(small: K.Dataset) -> None:
    frame = K.evaluate(small, ["won_revenue"], periods=3)
    assert frame.select("period", "value", "previous").rows() == [
        ("2026-01", 0.0, 0.0),
        ("2026-02", 200.0, 0.0),
        ("2026-03", 400.0, 200.0),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": ["planet"]}, "unknown dimension 'planet'"),
        ({"filters": {"planet": ["Mars"]}}, "unknown dimension 'planet'"),
        ({"periods": ["2026-Q1"]}, "is a quarter, but the grain is month"),
        ({"kpis": ["revenue"]}, "unknown KPI 'revenue'"),
    ],
)
def test_bad_arguments_say_what_is_wrong(small: K.Dataset, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, KeyError), match=message):
        K.evaluate(small, **kwargs)  # type: ignore[arg-type]


def test_segment_split_not_possible_is_explained(small: K.Dataset) -> None:
    reasons = K.availability(small, ["activities", "won_revenue"], by=["deal_type"])
    assert reasons == {
        "activities": "Sales activities cannot be split by deal_type: the activities table has no deal_type column."
    }


ORDER = K.Settings(stage_order=("Prospecting", "Proposal", "Negotiation"))


def _opportunities(lost_stage: str) -> dict[str, pl.DataFrame]:
    """Three won and three lost deals (two of them lost at ``lost_stage``), open deals in Negotiation (100 and 300)
    and Prospecting (50); a status column, no probability column, no stage history."""
    rows = [
        ("w1", "Closed Won", "won", 10.0),
        ("w2", "Closed Won", "won", 10.0),
        ("w3", "Closed Won", "won", 10.0),
        ("l1", lost_stage, "lost", 10.0),
        ("l2", lost_stage, "lost", 10.0),
        ("l3", "Closed Lost", "lost", 10.0),
        ("o1", "Negotiation", "open", 100.0),
        ("o2", "Negotiation", "open", 300.0),
        ("o3", "Prospecting", "open", 50.0),
    ]
    deals = pl.DataFrame(rows, schema=["deal_id", "stage", "status", "amount"], orient="row").with_columns(
        close_date=pl.lit(date(2026, 3, 10)), created_date=pl.lit(date(2026, 1, 5))
    )
    return {"deals": deals}


def test_weighted_pipeline_when_lost_deals_do_not_say_how_far_they_got() -> None:
    """Lost deals whose stage is 'Closed Lost' and no stage history: how far they got is unknown, so a win rate per
    stage cannot be measured (Negotiation would read 3 of 3, 100%). Open deals take the overall win rate, 3 of 6,
    and the dataset says so: 0.5 x 450."""
    unknown = K.Dataset.prepare(_opportunities("Closed Lost"), as_of=date(2026, 3, 31), settings=ORDER)
    value = K.evaluate(unknown, ["weighted_pipeline"], grain="all", periods=["all"], compare=False)["value"][0]
    assert value == pytest.approx(0.5 * 450)
    assert [w for w in unknown.warnings if w.startswith("Weighted pipeline")] == [
        "Weighted pipeline weighs open deals without a probability by the overall win rate (50.0%) at every stage: "
        "100% of lost deals do not say how far they got (their stage is a closed one and no stage history was "
        "loaded), so a win rate per stage cannot be measured. Add a probability column or the stage history (e.g. "
        "Salesforce's Opportunity History) for one."
    ]


def test_weighted_pipeline_per_stage_when_lost_deals_keep_their_last_stage() -> None:
    """Two of three lost deals stayed at their last open stage (as Pipedrive writes them): the win rate of deals that
    reached Negotiation is measured, 3 won of 3 won + 2 lost there, and Prospecting's is 3 of 6:
    0.6 x 400 + 0.5 x 50."""
    known = K.Dataset.prepare(_opportunities("Negotiation"), as_of=date(2026, 3, 31), settings=ORDER)
    value = K.evaluate(known, ["weighted_pipeline"], grain="all", periods=["all"], compare=False)["value"][0]
    assert value == pytest.approx(0.6 * 400 + 0.5 * 50)
    assert not [w for w in known.warnings if w.startswith("Weighted pipeline")]


def test_open_deals_without_a_close_date() -> None:
    """Open deals fall in a period by their expected close date. When none has one (a Pipedrive export), the period
    holding the as-of date counts every open deal and says so in a note, earlier periods have none, and what needs
    the date (coverage of the period's target, past-due deals) says it is missing. When
    some lack it, the dataset says how many are left out."""
    deals = pl.DataFrame(
        {
            "deal_id": ["w", "o1", "o2"],
            "stage": ["Closed Won", "Proposal", "Proposal"],
            "amount": [10.0, 100.0, 300.0],
            "created_date": [date(2026, 1, 5), date(2026, 1, 10), date(2026, 3, 20)],
            "close_date": [date(2026, 3, 10), None, None],
        }
    )
    targets = pl.DataFrame({"period": ["2026-Q1", "2025-Q4"], "value": [1000.0, 1000.0]})
    undated = K.Dataset.prepare({"deals": deals, "targets": targets}, as_of=date(2026, 3, 31))
    kpis = ["open_pipeline", "pipeline_coverage", "overdue_deals"]
    quarter = K.report(undated, kpis, grain="quarter", periods=["2025-Q4", "2026-Q1"], compare=False)
    assert quarter.unavailable == {
        "overdue_deals": "Past-due open deals needs the expected close date of open deals: none of the 2 open deals "
        "has one. Export the close date column with them.",
        "pipeline_coverage": "Pipeline coverage needs the expected close date of open deals (it counts the pipeline "
        "due in the period): none of the 2 open deals has one. Export the close date column with them.",
    }
    every_open = "no open deal has an expected close date: every open deal is counted, whatever its period"
    assert quarter.frame.select("period", "kpi", "value", "note").rows() == [
        (
            "2025-Q4",
            "open_pipeline",
            None,
            "no open deal has an expected close date: only the period holding 31 Mar 2026 has an open pipeline",
        ),
        ("2026-Q1", "open_pipeline", 400.0, every_open),
    ]
    every = K.report(undated, ["open_pipeline", "overdue_deals"], grain="all", periods=["all"], compare=False)
    assert every.frame.select("kpi", "value", "note").rows() == [("open_pipeline", 400.0, None)]
    assert list(every.unavailable) == ["overdue_deals"]

    partly = K.Dataset.prepare(
        {"deals": deals.with_columns(close_date=pl.Series([date(2026, 3, 10), date(2026, 3, 20), None]))},
        as_of=date(2026, 3, 31),
    )
    value = K.evaluate(partly, ["open_pipeline"], grain="quarter", periods=["2026-Q1"], compare=False)["value"]
    assert value.to_list() == [100.0]
    assert [w for w in partly.warnings if "expected close date" in w] == [
        "1 of 2 open deals have no expected close date: the open pipeline, weighted pipeline and coverage of a period "
        "leave them out (no period can place them; all time counts them), and they cannot be past due."
    ]


def test_stage_order_from_probabilities_only_when_they_tell_stages_apart() -> None:
    """A CRM that puts 25% on almost every stage (Pipedrive's default) says nothing about the funnel's order: the
    usual words order it (Interest before Proposal before Negotiations before Close). Probabilities that differ by
    stage order it, whatever the names."""
    stages = ["Close", "Interest", "Parked", "Proposal Draft", "Negotiations", "Needs Defined"]

    def order(probabilities: list[float]) -> tuple[str, ...]:
        deals = pl.DataFrame(
            {
                "deal_id": [str(i) for i in range(len(stages))],
                "stage": stages,
                "status": ["open"] * len(stages),
                "amount": [10.0] * len(stages),
                "probability": probabilities,
                "close_date": [date(2026, 3, 20)] * len(stages),
            }
        )
        return K.Dataset.prepare({"deals": deals}, as_of=date(2026, 3, 1)).stage_order

    assert order([0.25, 0.25, 0.25, 0.25, 0.5, 0.25]) == (
        "Interest",
        "Needs Defined",
        "Proposal Draft",
        "Negotiations",
        "Close",
        "Parked",
    )
    assert order([0.9, 0.1, 0.05, 0.4, 0.7, 0.2]) == (
        "Parked",
        "Interest",
        "Needs Defined",
        "Proposal Draft",
        "Negotiations",
        "Close",
    )


def test_won_deals_without_amounts_have_an_unknown_revenue() -> None:
    """January's two won deals have no amount: January's revenue and deal size are unknown (not 0, which would
    make February's deal size look +100 against it), deals won still count them, and why revenue changed says it
    cannot be split. February, with an amount, is measured; a month without won deals is 0."""
    deals = pl.DataFrame(
        {
            "deal_id": ["a", "b", "c", "d"],
            "stage": ["Closed Won", "Closed Won", "Closed Won", "Closed Lost"],
            "amount": [None, None, 100.0, 50.0],
            "close_date": [date(2026, 1, 10), date(2026, 1, 20), date(2026, 2, 5), date(2026, 2, 6)],
        }
    )
    ds = K.Dataset.prepare({"deals": deals}, as_of=date(2026, 3, 31))
    frame = K.evaluate(ds, ["won_revenue", "avg_deal_size", "deals_won"], grain="month", periods=["2026-02"])
    assert frame.select("kpi", "value", "previous", "delta").rows() == [
        ("won_revenue", 100.0, None, None),
        ("deals_won", 1.0, 2.0, -1.0),
        ("avg_deal_size", 100.0, None, None),
    ]
    march = K.evaluate(ds, ["won_revenue"], grain="month", periods=["2026-03"], compare=False)
    assert march["value"].to_list() == [0.0]
    january = K.evaluate(ds, ["won_revenue"], grain="month", periods=["2026-01"], compare=False)
    assert january["value"].to_list() == [None]
    with pytest.raises(K.DataError, match=r"the 2 deal\(s\) won in 2026-01 have no amount"):
        K.revenue_drivers(ds, "2026-02")


def test_stalled_deals_say_what_they_need() -> None:
    """Deals with stages and dates but no stage history or activities: stalled deals say what would measure them."""
    deals = pl.DataFrame(
        {"deal_id": ["a", "b"], "stage": ["Proposal", "Closed Won"], "amount": [10.0, 20.0]}
    ).with_columns(close_date=pl.lit(date(2026, 3, 20)))
    ds = K.Dataset.prepare({"deals": deals}, as_of=date(2026, 3, 1))
    assert K.availability(ds, ["stalled_deals"]) == {
        "stalled_deals": "Stalled deals needs to know how long each open deal has sat in its stage or without "
        "activity: upload the stage history (e.g. Salesforce's Opportunity History) or activities linked to deals."
    }
