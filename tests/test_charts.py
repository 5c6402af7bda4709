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


WEEK = {
    "start": 23082990.0,
    "new": 1422730.0,
    "pulled_in": 0.0,
    "reopened": 0.0,
    "increased": 47480.0,
    "won": 1190710.0,
    "lost": 1631220.0,
    "pushed_out": 215430.0,
    "removed": 0.0,
    "decreased": 0.0,
    "end": 21515840.0,
}
COUNTS = {"won": 81, "lost": 120, "pushed_out": 13, "new": 124, "increased": 16}


def test_the_waterfall_shows_the_weeks_movements() -> None:
    """Labelled bars on an axis that starts near the week's lowest level (the cut marked), empty steps said."""
    data, floor, top = charts.waterfall_frame(WEEK, counts=COUNTS)
    assert (floor, top) == (19_000_000.0, pytest.approx(24_553_200 + 0.15 * (24_553_200 - 21_515_840)))
    assert data.select("step", "label", "deals").rows() == [
        ("Start", "$23.1M", None),
        ("New", "+$1.4M", 124),
        ("Pulled in", "$0", None),
        ("Reopened", "$0", None),
        ("Increased", "+$47.5k", 16),
        ("Won", "-$1.2M", 81),
        ("Lost", "-$1.6M", 120),
        ("Pushed out", "-$215.4k", 13),
        ("Removed", "$0", None),
        ("Decreased", "$0", None),
        ("End", "$21.5M", None),
    ]
    assert data["low"].min() == floor  # the start and end bars are cut at the axis
    assert data.filter(pl.col("step") == "Lost")["high"][0] - data.filter(pl.col("step") == "Lost")["low"][0] == (
        pytest.approx(1631220.0)
    )
    spec = _spec(charts.waterfall(WEEK, counts=COUNTS))
    assert spec["title"]["subtitle"] == [  # type: ignore[index]
        "Axis starts at $19.0M, not zero, so the week's movements show",
        "No deals pulled in, reopened, removed or decreased",
    ]
    layers = spec["layer"]  # type: ignore[index]
    assert [layer["mark"]["type"] for layer in layers] == ["bar", "text", "point"]  # bars, labels, the cut
    assert layers[0]["encoding"]["y"]["scale"]["domain"] == [floor, top]
    assert layers[0]["encoding"]["x"]["sort"] == [
        "Start",
        "New|124 deals",
        "Increased|16 deals",
        "Won|81 deals",
        "Lost|120 deals",
        "Pushed out|13 deals",
        "End",
    ]


def test_a_waterfall_with_large_movements_starts_at_zero_in_the_data_currency() -> None:
    big = {**dict.fromkeys(WEEK, 0.0), "start": 100.0, "new": 300.0, "lost": 50.0, "end": 350.0}
    _, floor, _ = charts.waterfall_frame(big)
    assert floor == 0.0
    spec = _spec(charts.waterfall(big, currency="EUR"))
    assert spec["config"]["locale"]["number"]["currency"] == ["€", ""]  # type: ignore[index]
    assert spec["title"] == {  # no break to mark on an axis from zero
        "text": "Open pipeline: what changed",
        "subtitle": ["No deals pulled in, reopened, increased, won, pushed out, removed or decreased"],
    }


def test_charts_restyle_for_slides_and_presentation(region_frame: pl.DataFrame) -> None:
    chart = charts.trend_lines(region_frame, segment="region", unit="currency", title="T", zero=False)
    spec = _spec(charts.restyle(chart, font=16, width=600, height=400))
    assert (spec["width"], spec["height"], spec["autosize"]) == (600, 400, {"type": "fit", "contains": "padding"})
    assert spec["config"]["axis"] == {"grid": False, "labelFontSize": 16, "titleFontSize": 16}  # type: ignore[index]
    assert spec["config"]["legend"]["orient"] == "bottom"  # type: ignore[index]
    assert spec["encoding"]["y"]["scale"]["zero"] is False  # type: ignore[index]


def test_count_axes_tick_whole_numbers() -> None:
    """A funnel of three deals, or a count by segment, ticks 0, 1, 2, 3 (ticks of 0.5 printed as '0, 1, 1, 2' read as
    repeated numbers); money and rate axes keep their own steps."""
    funnel = pl.DataFrame(
        {
            "stage": ["Prospecting", "Proposal"],
            "reached": [3, 1],
            "next_rate": [1 / 3, None],
            "cumulative_rate": [1.0, 1 / 3],
        }
    )
    assert _spec(charts.funnel(funnel))["layer"][0]["encoding"]["x"]["axis"]["tickMinStep"] == 1  # type: ignore[index]
    counts = pl.DataFrame({"region": ["EMEA", "APAC"], "value": [2.0, 3.0]})
    bars = _spec(charts.bars_by(counts, category="region", unit="count", title="Deals"))
    assert bars["encoding"]["y"]["axis"]["tickMinStep"] == 1  # type: ignore[index]
    money = _spec(charts.bars_by(counts, category="region", unit="currency", title="Revenue"))
    assert "tickMinStep" not in money["encoding"]["y"]["axis"]  # type: ignore[index]


def test_deals_that_moved_no_money_keep_their_step() -> None:
    """Two deals lost that had no amount yet: the Lost step is drawn at €0 with its two deals, and the subtitle does
    not say that no deal was lost."""
    week = {**WEEK, "lost": 0.0}
    spec = _spec(charts.waterfall(week, counts={**COUNTS, "lost": 2}, currency="EUR"))
    assert "Lost|2 deals" in spec["layer"][0]["encoding"]["x"]["sort"]  # type: ignore[index]
    assert spec["title"]["subtitle"][-1] == "No deals pulled in, reopened, removed or decreased"  # type: ignore[index]


def test_the_trend_shows_the_top_segments_even_in_a_quiet_period() -> None:
    """This quarter everyone is at 0: the trend's segments are those with the most over the periods shown (the
    largest first), not the first names in the alphabet."""
    frame = pl.DataFrame(
        {
            "owner": ["Ann", "Bob", "Cy", "Ann", "Bob", "Cy"],
            "period": ["2018-Q3", "2018-Q3", "2018-Q3", "2018-Q4", "2018-Q4", "2018-Q4"],
            "value": [10.0, 0.0, 50.0, 0.0, 0.0, 0.0],
        }
    )
    assert charts.top_segments(frame, segment="owner", period="2018-Q4", count=2) == ["Cy", "Ann"]
    busy = frame.with_columns(pl.when(pl.col("owner") == "Bob").then(5.0).otherwise(pl.col("value")).alias("value"))
    assert charts.top_segments(busy, segment="owner", period="2018-Q4", count=2) == ["Bob", "Cy"]
