"""Why won revenue changed (kpi_core.drivers): closed deals x win rate x deal size, effects adding up to the change
to the cent and segments to the total; hand-made frames with known answers, the engine's own comparison, a
Hypothesis property and the command."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from dataclasses import replace
from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import kpi_core as K
from kpi_core import drivers as D
from kpi_core.cli import main


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # twice the closed deals at half the win rate, same size: the two effects cancel exactly
        ((10, 5, 500_000), (20, 5, 500_000), {"closed_deals": 375_000, "win_rate": -375_000, "deal_size": 0}),
        # only the win rate moved: all of the change is the win rate's
        ((10, 2, 100_000), (10, 4, 200_000), {"closed_deals": 0, "win_rate": 100_000, "deal_size": 0}),
        # only the size moved
        ((8, 4, 40_000), (8, 4, 52_000), {"closed_deals": 0, "win_rate": 0, "deal_size": 12_000}),
        # nothing won before: the size is undefined then and takes today's (no size effect is made up)
        ((4, 0, 0), (5, 2, 30_000), {"closed_deals": 3_000, "win_rate": 27_000, "deal_size": 0}),
        # nothing closed before: the whole change is volume
        ((0, 0, 0), (3, 1, 10_000), {"closed_deals": 10_000, "win_rate": 0, "deal_size": 0}),
        # nothing closed in either
        ((0, 0, 0), (0, 0, 0), {"closed_deals": 0, "win_rate": 0, "deal_size": 0}),
        # a cent that cannot be split: it goes to one effect, never lost
        ((3, 1, 100), (3, 1, 101), {"closed_deals": 0, "win_rate": 0, "deal_size": 1}),
    ],
)
def test_decompose_known_answers(
    before: tuple[int, int, int], after: tuple[int, int, int], expected: dict[str, int]
) -> None:
    effects = D.decompose(before, after)
    assert effects == expected
    assert sum(effects.values()) == after[2] - before[2]


def test_three_drivers_doubling_share_the_change() -> None:
    """2 -> 4 closed deals, 50% -> 100% win rate, $1 -> $2 deal size: by symmetry a third of $7 each, and the
    cent that does not divide goes to one of them."""
    effects = D.decompose((2, 1, 100), (4, 4, 800))
    assert sorted(effects.values()) == [233, 233, 234]


def test_apportion_keeps_the_total() -> None:
    assert D.apportion([], 0) == []
    assert D.apportion([1 / 3, 1 / 3, 1 / 3], 1) == [1, 0, 0]
    assert D.apportion([-0.5, -0.5, 2.0], 1) == [0, -1, 2]
    assert D.apportion([2.6, -0.3, 0.7], 3) == [2, 0, 1]  # floors 2, -1, 0; the two largest fractions (.7) get +1


def _deal(i: int, stage: str, amount: float, closed: date, region: str | None) -> dict[str, object]:
    return {"deal_id": f"d{i}", "stage": stage, "amount": amount, "close_date": closed, "region": region}


def hand_made() -> K.Dataset:
    """January: EMEA 2 won of 4 (100 + 300), APAC 1 won of 1 (50.25); February: EMEA 3 won of 3 (100 each), APAC
    nothing, one deal with no region won (10.10); an open deal and a deal closing in March never count."""
    d = date
    deals = [
        _deal(1, "Closed Won", 100.0, d(2026, 1, 5), "EMEA"),
        _deal(2, "Closed Won", 300.0, d(2026, 1, 6), "EMEA"),
        _deal(3, "Closed Lost", 80.0, d(2026, 1, 7), "EMEA"),
        _deal(4, "Closed Lost", 20.0, d(2026, 1, 8), "EMEA"),
        _deal(5, "Closed Won", 50.25, d(2026, 1, 20), "APAC"),
        _deal(6, "Closed Won", 100.0, d(2026, 2, 2), "EMEA"),
        _deal(7, "Closed Won", 100.0, d(2026, 2, 3), "EMEA"),
        _deal(8, "Closed Won", 100.0, d(2026, 2, 4), "EMEA"),
        _deal(9, "Closed Won", 10.10, d(2026, 2, 5), None),
        _deal(10, "Proposal", 999.0, d(2026, 2, 6), "APAC"),
        _deal(11, "Closed Won", 777.0, d(2026, 3, 2), "APAC"),
    ]
    return K.Dataset.prepare({"deals": pl.DataFrame(deals)}, as_of=d(2026, 3, 31))


def test_hand_made_overall() -> None:
    found = K.revenue_drivers(hand_made(), "2026-02", grain="month")
    # before: 5 closed, 3 won, 450.25; after: 4 closed, 4 won, 310.10 (change -140.15)
    assert (found.period, found.compared_with, found.change, found.period_to_date) == (
        "2026-02",
        "2026-01",
        -140.15,
        False,
    )
    n0, w0, s0 = 5, 3 / 5, 45025 / 3
    n1, w1, s1 = 4, 1.0, 31010 / 4
    closed = (n1 - n0) * ((w0 * s0 + w1 * s1) / 3 + (w0 * s1 + w1 * s0) / 6)
    rate = (w1 - w0) * ((n0 * s0 + n1 * s1) / 3 + (n0 * s1 + n1 * s0) / 6)
    size = (s1 - s0) * ((n0 * w0 + n1 * w1) / 3 + (n0 * w1 + n1 * w0) / 6)
    assert (round(closed, 2), round(rate, 2), round(size, 2)) == (-8862.47, 20726.61, -25879.14)
    # in cents they add up to -14015.00; rounded to the nearest cent they would not (-14014): the floors leave two
    # cents, which the two largest fractions (.86 and .61) take
    assert found.effects == {"closed_deals": -88.63, "win_rate": 207.27, "deal_size": -258.79}
    assert found.before == {
        "closed_deals": 5.0,
        "won_deals": 3.0,
        "win_rate": 0.6,
        "deal_size": 150.08333333333334,
        "revenue": 450.25,
    }
    assert found.after == {
        "closed_deals": 4.0,
        "won_deals": 4.0,
        "win_rate": 1.0,
        "deal_size": 77.525,
        "revenue": 310.1,
    }
    assert found.rows.height == 0
    # four and five closed deals: the split is exact, but too few to call a driver the reason
    too_few = "4 closed deals in 2026-02: too few to tell which driver moved revenue (a finding needs 10)"
    assert found.to_dict() == {
        "period": "2026-02",
        "compared_with": "2026-01",
        "change": -140.15,
        "effects": {"closed_deals": -88.63, "win_rate": 207.27, "deal_size": -258.79},
        "rows": [],
        "n": {"closed_deals": 4.0, "closed_deals_before": 5.0},
        "small_sample": True,
        "note": too_few,
    }
    assert K.drivers.explain(found) == f"Won revenue fell $140 against 2026-01; {too_few}."


def test_hand_made_by_region_adds_up() -> None:
    found = K.revenue_drivers(hand_made(), "2026-02", by="region")
    expected = pl.DataFrame(
        {
            "region": ["EMEA", "APAC", None],
            "revenue": [300.0, 0.0, 10.1],
            "previous": [400.0, 50.25, 0.0],
            "change": [-100.0, -50.25, 10.1],
            # EMEA: 4 closed at 50% and $200 -> 3 closed at 100% and $100; APAC: nothing closed now, so all of it is
            # volume; no region: nothing before, all volume
            "closed_deals": [-108.33, -50.25, 10.1],
            "win_rate": [266.67, 0.0, 0.0],
            "deal_size": [-258.34, 0.0, 0.0],
        }
    )
    assert_frame_equal(found.rows, expected)
    assert found.effects == {"closed_deals": -148.48, "win_rate": 266.67, "deal_size": -258.34}
    assert round(sum(found.effects.values()), 2) == found.change == -140.15
    assert found.to_dict()["rows"] == [
        {"region": "EMEA", "change": -100.0, "closed_deals": -108.33, "win_rate": 266.67, "deal_size": -258.34},
        {"region": "APAC", "change": -50.25, "closed_deals": -50.25, "win_rate": 0.0, "deal_size": 0.0},
        {"region": None, "change": 10.1, "closed_deals": 10.1, "win_rate": 0.0, "deal_size": 0.0},
    ]
    # four closed deals: too few to name a driver; the same split, from enough deals, names them largest first
    assert D.explain(found) == (
        "Won revenue fell $140 against 2026-01; 4 closed deals in 2026-02: too few to tell which driver moved revenue "
        "(a finding needs 10)."
    )
    plenty = {"closed_deals": 40.0}
    assert D.explain(replace(found, before=plenty, after=plenty)) == (
        "Won revenue fell $140 against 2026-01: a higher win rate added $267, smaller deals took $258, fewer closed "
        "deals took $148; by region, the biggest changes were in EMEA (-$100) and APAC (-$50)."
    )
    filtered = K.revenue_drivers(hand_made(), "2026-02", filters={"region": ["EMEA"]})
    assert (filtered.change, filtered.effects) == (
        -100.0,
        {"closed_deals": -108.33, "win_rate": 266.67, "deal_size": -258.34},
    )


def cents(value: float) -> int:
    return round(value * 100)


@pytest.mark.parametrize(
    ("grain", "period", "compare"),
    [("quarter", "2026-Q4", "previous"), ("quarter", "2026-Q3", "last_year"), ("month", "2026-11", "last_year")],
)
def test_the_change_is_the_scorecards(sample: K.Dataset, grain: str, period: str, compare: str) -> None:
    """The change explained is the one the revenue tile shows (period to date included), to the cent."""
    row = K.evaluate(sample, ["won_revenue"], grain=grain, periods=[period]).row(0, named=True)  # type: ignore[arg-type]
    delta = row["delta"] if compare == "previous" else row["last_year_delta"]
    found = K.revenue_drivers(sample, period, grain=grain, compare=compare, by="segment")  # type: ignore[arg-type]
    assert cents(found.change) == cents(delta)
    assert found.period_to_date == row["period_to_date"]
    assert sum(cents(v) for v in found.effects.values()) == cents(found.change)
    assert sum(cents(v) for v in found.rows["change"]) == cents(found.change)
    for name in D.EFFECTS:
        assert sum(cents(v) for v in found.rows[name]) == cents(found.effects[name])
    for r in found.rows.iter_rows(named=True):
        assert sum(cents(r[name]) for name in D.EFFECTS) == cents(r["change"])


def test_what_cannot_be_explained() -> None:
    with pytest.raises(ValueError, match="all time has no comparison period"):
        K.revenue_drivers(hand_made(), "all")
    with pytest.raises(ValueError, match="period 2026-02 is a month, but the grain is quarter"):
        K.revenue_drivers(hand_made(), "2026-02", grain="quarter")
    with pytest.raises(ValueError, match="the deals table has no 'colour' column"):
        K.revenue_drivers(hand_made(), "2026-02", by="colour")
    mixed = K.Dataset.prepare(
        {
            "deals": pl.DataFrame(
                {
                    "deal_id": ["1", "2"],
                    "stage": ["Closed Won", "Closed Won"],
                    "amount": [1.0, 2.0],
                    "currency": ["USD", "EUR"],
                    "close_date": [date(2026, 1, 5), date(2026, 2, 5)],
                }
            )
        },
        as_of=date(2026, 2, 28),
    )
    with pytest.raises(K.DataError, match=r"several currencies \(EUR, USD\)"):
        K.revenue_drivers(mixed, "2026-02")
    assert K.revenue_drivers(mixed, "2026-02", filters={"currency": ["EUR"]}).change == 2.0


STATUSES = st.sampled_from(["Closed Won", "Closed Lost", "Proposal"])
REGIONS = st.sampled_from(["EMEA", "APAC", "LATAM", None])
AMOUNTS = st.integers(min_value=-50_000, max_value=5_000_000).map(lambda c: c / 100)


@settings(max_examples=60, deadline=None)
@given(
    deals=st.lists(st.tuples(STATUSES, AMOUNTS, st.integers(0, 58), REGIONS), min_size=1, max_size=40),
    compare=st.sampled_from(["previous", "last_year"]),
)
def test_effects_and_segments_always_add_up(deals: list[tuple[str, float, int, str | None]], compare: str) -> None:
    def closing(day: int) -> date:
        """previous: 1 January to 28 February 2026; last year: February 2025, then February 2026 (and a few days
        of March, in neither period)."""
        if compare == "previous":
            return date(2026, 1, 1) + timedelta(days=day)
        return date(2025, 2, 1) + timedelta(days=day) if day < 29 else date(2026, 2, 1) + timedelta(days=day - 29)

    rows = [
        {"deal_id": str(i), "stage": stage, "amount": amount, "close_date": closing(day), "region": region}
        for i, (stage, amount, day, region) in enumerate(deals)
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "deal_id": pl.String,
            "stage": pl.String,
            "amount": pl.Float64,
            "close_date": pl.Date,
            "region": pl.String,
        },
    )
    dataset = K.Dataset.prepare({"deals": frame}, as_of=date(2026, 3, 15))
    overall = K.revenue_drivers(dataset, "2026-02", compare=compare)
    split = K.revenue_drivers(dataset, "2026-02", compare=compare, by="region")
    won = frame.filter(pl.col("stage") == "Closed Won")
    now = sum(
        cents(a) for a, c in zip(won["amount"], won["close_date"], strict=True) if c.month == 2 and c.year == 2026
    )
    then_year, then_month = (2026, 1) if compare == "previous" else (2025, 2)
    then = sum(
        cents(a)
        for a, c in zip(won["amount"], won["close_date"], strict=True)
        if (c.year, c.month) == (then_year, then_month)
    )
    assert cents(overall.change) == cents(split.change) == now - then
    assert sum(cents(v) for v in overall.effects.values()) == now - then
    assert sum(cents(v) for v in split.effects.values()) == now - then
    assert sum(cents(v) for v in split.rows["change"]) == now - then
    for name in D.EFFECTS:
        assert sum(cents(v) for v in split.rows[name]) == cents(split.effects[name])
    for r in split.rows.iter_rows(named=True):
        assert sum(cents(r[name]) for name in D.EFFECTS) == cents(r["change"])


@given(
    before=st.tuples(st.integers(0, 500), st.integers(0, 500), st.integers(-(10**12), 10**12)),
    after=st.tuples(st.integers(0, 500), st.integers(0, 500), st.integers(-(10**12), 10**12)),
)
def test_decompose_always_adds_up(before: tuple[int, int, int], after: tuple[int, int, int]) -> None:
    def valid(t: tuple[int, int, int]) -> tuple[int, int, int]:
        closed, won, amount = t
        won = min(won, closed)
        return (closed, won, amount if won else 0)

    b, a = valid(before), valid(after)
    assert sum(D.decompose(b, a).values()) == a[2] - b[2]


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def test_drivers_command_json(sample: K.Dataset) -> None:
    options = ["--grain", "quarter", "--period", "2026-Q3", "--by", "region", "--format", "json"]
    code, out = _run(["drivers", "--sample", *options])
    assert code == 0
    result = json.loads(out)
    found = K.revenue_drivers(sample, "2026-Q3", grain="quarter", by="region")
    assert result == found.to_dict()
    assert list(result) == ["period", "compared_with", "change", "effects", "rows", "n", "small_sample", "note"]
    assert (result["small_sample"], result["note"]) == (False, None)  # hundreds of closed deals in both quarters
    assert (result["period"], result["compared_with"]) == ("2026-Q3", "2026-Q2")
    assert list(result["effects"]) == ["closed_deals", "win_rate", "deal_size"]
    assert [list(r) for r in result["rows"]] == [["region", "change", "closed_deals", "win_rate", "deal_size"]] * 4
    assert sum(cents(r["change"]) for r in result["rows"]) == cents(result["change"])


def test_drivers_command_table(sample: K.Dataset) -> None:
    code, out = _run(["drivers", "--sample", "--grain", "month", "--compare", "last_year"])
    assert code == 0
    found = K.revenue_drivers(sample, "2026-11", grain="month", compare="last_year")
    lines = out.splitlines()
    assert lines[1] == f"Won revenue, 2026-11 (period to date) against 2025-11 to 11-20: +${found.change:,.2f}"
    assert lines[-1] == D.explain(found)
    assert _run(["drivers", "--sample", "--grain", "month", "--period", "2026-Q3"])[0] == 2
