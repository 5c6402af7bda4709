"""Hypothesis: additive KPIs summed over segments equal the total."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kpi_core as K

ADDITIVE = [k.id for k in K.REGISTRY if k.additive and k.table in ("deals", "activities")]
START = date(2025, 1, 1)

deal_rows = st.lists(
    st.tuples(
        st.sampled_from(["Won", "Lost", "Proposal", "Negotiation"]),
        st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False).map(lambda x: round(x, 2))),
        st.integers(0, 700),
        st.one_of(st.none(), st.integers(0, 200)),
        st.sampled_from(["EMEA", "APAC", "Americas", None]),
        st.sampled_from(["Alpha", "Beta", "Gamma"]),
        st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
    ),
    min_size=1,
    max_size=60,
)


def build(rows: list[tuple[str, float | None, int, int | None, str | None, str, float | None]]) -> K.Dataset:
    deals = pl.DataFrame(
        {
            "deal_id": [str(i) for i in range(len(rows))],
            "stage": [r[0] for r in rows],
            "amount": [r[1] for r in rows],
            "created_date": [START + timedelta(days=r[2]) for r in rows],
            "close_date": [None if r[3] is None else START + timedelta(days=r[2] + r[3]) for r in rows],
            "region": [r[4] for r in rows],
            "product": [r[5] for r in rows],
            "probability": [r[6] for r in rows],
        }
    )
    activities = pl.DataFrame(
        {
            "activity_id": [f"a{i}" for i in range(len(rows))],
            "owner": ["x"] * len(rows),
            "type": ["call", "email", "meeting"] * (len(rows) // 3) + ["call"] * (len(rows) % 3),
            "activity_date": [START + timedelta(days=r[2]) for r in rows],
            "region": [r[4] for r in rows],
            "product": [r[5] for r in rows],
        }
    ).with_columns(pl.col("activity_date").cast(pl.Datetime("us")))
    return K.Dataset.prepare({"deals": deals, "activities": activities}, as_of=date(2026, 12, 31))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=deal_rows,
    grain=st.sampled_from(["month", "quarter", "year", "all"]),
    dim=st.sampled_from(["region", "product"]),
)
def test_additive_kpis_sum_over_segments_to_the_total(rows, grain, dim) -> None:  # type: ignore[no-untyped-def]
    ds = build(rows)
    periods = None if grain == "all" else 6
    total = K.evaluate(ds, ADDITIVE, grain=grain, periods=periods, compare=False)
    split = K.evaluate(ds, ADDITIVE, grain=grain, periods=periods, by=[dim], compare=False)
    # rows with no segment value are their own (null) segment in the total but not in the split
    nulls = ds.table("deals").get_column(dim).null_count() + ds.table("activities").get_column(dim).null_count()
    summed = split.group_by("kpi", "period").agg(pl.col("value").sum()).sort("kpi", "period")
    expected = total.select("kpi", "period", "value").sort("kpi", "period")
    if nulls == 0:
        assert summed.to_dicts() == expected.to_dicts() or _close(summed, expected)
    else:
        assert (
            summed.join(expected, on=["kpi", "period"], suffix="_t").filter(pl.col("value") > pl.col("value_t") + 1e-6)
        ).height == 0


def _close(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    joined = a.join(b, on=["kpi", "period"], suffix="_t", how="full", coalesce=True).fill_null(0.0)
    return joined.filter((pl.col("value") - pl.col("value_t")).abs() > 1e-6 * (1 + pl.col("value_t").abs())).height == 0
