"""Every chart builder on small tidy frames: a valid Vega-Lite spec with the right formats and no raw rows."""

from __future__ import annotations

import altair as alt
import polars as pl
import pytest

import kpi_core as K
from kpi_core import breakdowns
from ui import charts


@pytest.fixture(scope="module")
def region_frame(sample: K.Dataset) -> pl.DataFrame:
    return K.evaluate(sample, ["won_revenue"], grain="quarter", periods=4, by=["region"])


def _spec(chart: alt.Chart) -> dict[str, object]:
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    data = spec.get("datasets", {})
    assert all(len(rows) < 5000 for rows in data.values())  # aggregated, far below Altair's limit
    return spec


def test_segment_charts(region_frame: pl.DataFrame) -> None:
    current = region_frame.filter(pl.col("period") == region_frame["period"][-1])
    bars = _spec(
        charts.ranked_bars(
            current,
            segment="region",
            unit="currency",
            title="Q",
            selection=alt.selection_point(fields=["region"], name="pick"),
        )
    )
    assert bars["encoding"]["x"]["axis"]["format"] == "$,.2s" and bars["params"][0]["name"] == "pick"  # type: ignore[index]
    assert bars["height"] == 220
    lines = _spec(charts.trend_lines(region_frame, segment="region", unit="currency", title="T"))
    assert lines["encoding"]["x"]["sort"] == list(dict.fromkeys(region_frame["period"]))  # type: ignore[index]
    multiples = _spec(charts.small_multiples(region_frame, segment="region", unit="currency", title="M"))
    assert multiples["facet"]["field"] == "region" and multiples["columns"] == 4  # type: ignore[index]
    heat = _spec(charts.heatmap(region_frame, segment="region", unit="currency", title="H"))
    assert heat["mark"]["type"] == "rect"  # type: ignore[index]


def test_pipeline_activity_and_customer_charts(sample: K.Dataset) -> None:
    funnel = breakdowns.funnel(sample)
    spec = _spec(charts.funnel(funnel))
    assert len(spec["layer"]) == 2  # type: ignore[arg-type]
    assert _spec(
        charts.bars_by(
            pl.DataFrame({"stage": ["A", "B"], "value": [3.0, 4.5]}), category="stage", unit="days", title="x"
        )
    )
    weekly = K.evaluate(sample, ["calls", "emails", "meetings"], grain="week", periods=4).select(
        "period", pl.col("label").alias("type"), "value"
    )
    assert _spec(charts.stacked_activity(weekly, title="w"))["mark"]["type"] == "bar"  # type: ignore[index]
    reps = K.evaluate(sample, ["activities"], grain="week", periods=4, by=["owner"])
    assert _spec(charts.rep_week_heatmap(reps, title="r"))
    bins = breakdowns.distribution(pl.Series([0.5, 2.0, 30.0]), [0, 1, 24], ["< 1 h", "1-24 h", "> 24 h"]).with_columns(
        band=pl.lit("late")
    )
    assert _spec(charts.response_histogram(bins, sla_hours=1.0))
    months = K.resolve_periods(sample, "month", 3)
    moves = breakdowns.mrr_movements(sample, months)
    assert _spec(charts.mrr_movements(moves))
    cohorts = breakdowns.cohort_retention(sample)
    assert _spec(charts.cohort_heatmap(cohorts))


def test_mrr_movements_balance(sample: K.Dataset) -> None:
    months = K.resolve_periods(sample, "month", 6)
    wide = breakdowns.mrr_movements(sample, months).pivot(on="movement", index="period", values="mrr")
    for row in wide.iter_rows(named=True):
        assert row["start"] + row["new"] + row["expansion"] + row["contraction"] + row["churn"] == pytest.approx(
            row["end"]
        )
    mrr = K.evaluate(sample, ["mrr"], grain="month", periods=months, compare=False)
    assert wide["end"].to_list() == pytest.approx(mrr["value"].to_list())


def test_funnel_matches_stage_conversion(sample: K.Dataset) -> None:
    period = K.resolve_periods(sample, "quarter", 2)[0]
    funnel = breakdowns.funnel(sample, period)
    conversion = K.evaluate(sample, ["stage_conversion"], grain="quarter", periods=[period], compare=False)
    assert funnel["next_rate"].drop_nulls().to_list() == pytest.approx(conversion["value"].to_list())
    assert (
        funnel["reached"][0] == K.evaluate(sample, ["new_opportunities"], grain="quarter", periods=[period])["value"][0]
    )
