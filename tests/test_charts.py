"""Every chart builder on small tidy frames: a valid Vega-Lite spec with the right formats and no raw rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import altair as alt
import polars as pl
import pytest
import vl_convert
from polars.testing import assert_frame_equal

import kpi_core as K
from kpi_core import breakdowns, to_date
from kpi_core import periods as P
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
    assert bars["layer"][0]["encoding"]["x"]["axis"]["format"] == "$,.2s" and bars["params"][0]["name"] == "pick"  # type: ignore[index]
    assert bars["height"] == 220 + 2 * 16  # room for the two lines saying 2026-Q4 is to date
    lines = _spec(charts.trend_lines(region_frame, segment="region", unit="currency", title="T"))
    shown = [p + (" to date" if p == "2026-Q4" else "") for p in dict.fromkeys(region_frame["period"])]
    assert lines["layer"][0]["encoding"]["x"]["sort"] == shown  # type: ignore[index]
    multiples = _spec(charts.small_multiples(region_frame, segment="region", unit="currency", title="M"))
    assert multiples["facet"]["field"] == "region" and multiples["columns"] == 4  # type: ignore[index]
    heat = _spec(charts.heatmap(region_frame, segment="region", unit="currency", title="H"))
    assert [layer["mark"]["type"] for layer in heat["layer"]] == ["rect", "rect", "text"]  # type: ignore[index]


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
    assert _spec(charts.stacked_activity(weekly, title="w"))["layer"][0]["mark"]["type"] == "bar"  # type: ignore[index]
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
    assert spec["layer"][0]["encoding"]["y"]["scale"]["zero"] is False  # type: ignore[index]


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


# --- the period still running (kpi_core.to_date): marked to date, never drawn as a collapse ---

AS_OF = date(2026, 11, 20)  # day 51 of 2026-Q4's 92; Friday of 2026-W47, day 5 of 7
FILTERS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "!datum.to_date": lambda r: not r["to_date"],
    "datum.to_date": lambda r: bool(r["to_date"]),
    "datum.dash": lambda r: bool(r["dash"]),
    "datum.apart": lambda r: bool(r["apart"]),
    "!datum.apart": lambda r: not r["apart"],
    "datum.to_date && !datum.apart": lambda r: bool(r["to_date"]) and not r["apart"],
    "datum.previous != null": lambda r: r["previous"] is not None,
}
"""The chart builders' layer filters, as Python (a filter not listed here fails the test that meets it)."""


def _drawn(spec: dict[str, Any], *fields: str) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Each layer's mark and the rows it draws (its data through its filters), as tuples of ``fields``."""
    inner = spec.get("spec", spec)
    out = []
    for layer in inner["layer"]:
        rows = spec["datasets"][(layer.get("data") or spec["data"])["name"]]
        for step in layer.get("transform", []):
            rows = [r for r in rows if FILTERS[step["filter"]](r)]
        mark = layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        out.append((mark, [tuple(r.get(f) for f in fields) for r in rows]))
    return out


def _quarters(kpi: str, values: list[float], previous: float) -> pl.DataFrame:
    """Two regions over 2026-Q2, Q3 and Q4 (running), as the engine gives them: Q4's previous is Q3 at day 51."""
    return pl.DataFrame(
        {
            "kpi": [kpi] * 6,
            "period": ["2026-Q2", "2026-Q3", "2026-Q4"] * 2,
            "region": ["EMEA"] * 3 + ["APAC"] * 3,
            "value": values,
            "previous": [None, None, previous, None, None, previous / 2],
            "period_to_date": [False, False, True] * 2,
        }
    )


def test_the_running_period_rule() -> None:
    """Which KPIs grow through a period, the labels, and what a chart's frame is given (whole frames, by hand)."""
    assert {k.id for k in K.REGISTRY if to_date.grows(k.id)} == {
        "won_revenue",
        "deals_won",
        "activities",
        "calls",
        "emails",
        "meetings",
        "new_opportunities",
        "pipeline_created",
        "new_customers",
        "quota_attainment",
        "churn_rate",
        "revenue_churn_rate",
        "net_revenue_retention",
    }
    assert to_date.elapsed(P.parse("2026-Q4"), AS_OF) == (51, 92)
    assert to_date.elapsed(P.parse("2026-Q3"), AS_OF) is None
    assert to_date.elapsed(P.parse("all"), AS_OF) is None
    assert to_date.describe(P.parse("2026-W47"), AS_OF) == "2026-W47 (to date, 5 of 7 days)"
    assert to_date.describe(P.parse("2026-Q3"), AS_OF) == "2026-Q3"
    frame = _quarters("won_revenue", [3.0, 3.5, 1.9, 2.0, 2.2, 1.1], 1.2)
    marked = to_date.mark(frame.drop("period_to_date"), as_of=AS_OF).filter(pl.col("region") == "EMEA")
    assert_frame_equal(
        marked.select("period", "to_date", "shown", "when", "apart", "same_point"),
        pl.DataFrame(
            {
                "period": ["2026-Q2", "2026-Q3", "2026-Q4"],
                "to_date": [False, False, True],
                "shown": ["2026-Q2", "2026-Q3", "2026-Q4 to date"],
                "when": ["2026-Q2", "2026-Q3", "2026-Q4 (to date, 51 of 92 days)"],
                "apart": [False, False, True],
                "same_point": [None, None, "2026-Q3 over its first 51 days"],
            }
        ),
    )
    # the engine's flag wins; a rate is marked to date but stays on the line; no as-of date: no days
    rate = to_date.mark(_quarters("win_rate", [0.3] * 6, 0.2))
    assert (
        rate.filter(pl.col("to_date"))[["when", "apart", "same_point"]].rows()
        == [("2026-Q4 (to date)", False, "2026-Q3 at the same point")] * 2
    )


@pytest.mark.parametrize(
    ("kpi", "running", "expected"),
    [
        ("won_revenue", True, to_date.Spark((5.0, 6.0), "left out")),
        ("won_revenue", False, to_date.Spark((5.0, 6.0, 2.5), "complete")),
        ("win_rate", True, to_date.Spark((5.0, 6.0, 2.5), "to date")),
        ("mrr", True, to_date.Spark((5.0, 6.0, 2.5), "to date")),
        ("quota_attainment", True, to_date.Spark((5.0, 6.0), "left out")),
    ],
)
def test_a_sparkline_of_a_total_leaves_the_running_period_out(kpi: str, running: bool, expected: to_date.Spark) -> None:
    assert to_date.spark([5.0, 6.0, 2.5], kpi_id=kpi, to_date=running) == expected


def test_a_totals_trend_draws_the_running_period_off_its_line() -> None:
    """Won revenue by region: the line joins complete quarters only; 2026-Q4 so far is a hollow point labelled to
    date, beside a dash at 2026-Q3's value over its first 51 days; the subtitle says so."""
    frame = _quarters("won_revenue", [3.0, 3.5, 1.9, 2.0, 2.2, 1.1], 1.2)
    spec = _spec(charts.trend_lines(frame, segment="region", unit="currency", title="Trend", as_of=AS_OF))
    assert _drawn(spec, "region", "shown", "value", "previous") == [
        (
            "line",
            [
                ("EMEA", "2026-Q2", 3.0, None),
                ("EMEA", "2026-Q3", 3.5, None),
                ("APAC", "2026-Q2", 2.0, None),
                ("APAC", "2026-Q3", 2.2, None),
            ],
        ),
        ("point", [("EMEA", "2026-Q4 to date", 1.9, 1.2), ("APAC", "2026-Q4 to date", 1.1, 0.6)]),
        ("tick", [("EMEA", "2026-Q4 to date", 1.9, 1.2), ("APAC", "2026-Q4 to date", 1.1, 0.6)]),
    ]
    point, tick = spec["layer"][1], spec["layer"][2]
    assert point["mark"] == {"type": "point", "filled": False, "opacity": 1, "size": 80, "strokeWidth": 2}
    assert tick["encoding"]["y"]["field"] == "previous"
    assert spec["layer"][0]["encoding"]["x"]["sort"] == ["2026-Q2", "2026-Q3", "2026-Q4 to date"]
    assert spec["title"] == {
        "text": "Trend",
        "subtitle": [
            "2026-Q4 (to date, 51 of 92 days): ○ the value so far, off the line of complete periods",
            "— 2026-Q3 over its first 51 days, for comparison",
        ],
    }
    # the same segments one by one: the area covers complete quarters, the running one is apart
    multiples = _spec(charts.small_multiples(frame, segment="region", unit="currency", title="M", as_of=AS_OF))
    assert [(mark, len(rows)) for mark, rows in _drawn(multiples, "region")] == [("area", 4), ("point", 2), ("tick", 2)]


def test_a_rates_trend_keeps_the_running_period_on_a_dashed_end() -> None:
    """Win rate is not partial in scale: 2026-Q4 stays on the line, on a dashed segment from 2026-Q3, hollow."""
    frame = _quarters("win_rate", [0.30, 0.35, 0.40, 0.25, 0.20, 0.22], 0.3)
    spec = _spec(charts.trend_lines(frame, segment="region", unit="percent", title="Win rate", as_of=AS_OF))
    assert _drawn(spec, "region", "shown") == [
        ("line", [("EMEA", "2026-Q2"), ("EMEA", "2026-Q3"), ("APAC", "2026-Q2"), ("APAC", "2026-Q3")]),
        ("line", [("EMEA", "2026-Q3"), ("EMEA", "2026-Q4 to date"), ("APAC", "2026-Q3"), ("APAC", "2026-Q4 to date")]),
        ("point", [("EMEA", "2026-Q4 to date"), ("APAC", "2026-Q4 to date")]),
    ]
    assert spec["layer"][1]["mark"]["strokeDash"] == [4, 3]
    assert spec["title"]["subtitle"] == ["2026-Q4 (to date, 51 of 92 days): the dashed end of the line, hollow point"]
    # every period complete: one plain line, no subtitle
    done = _spec(
        charts.trend_lines(frame.filter(~pl.col("period_to_date")), segment="region", unit="percent", title="W")
    )
    assert [mark for mark, _ in _drawn(done, "shown")] == ["line"] and done["title"] == "W"


def test_heat_maps_keep_a_total_to_date_off_the_colour_scale() -> None:
    """The coloured cells are the complete quarters; 2026-Q4's revenue so far is written in a plain, outlined cell.
    A rate keeps its colour, outlined."""
    frame = _quarters("won_revenue", [3.0, 3.5, 1.9, 2.0, 2.2, 1.1], 1.2)
    spec = _spec(charts.heatmap(frame, segment="region", unit="currency", title="H", as_of=AS_OF))
    complete = [("EMEA", "2026-Q2", 3.0), ("EMEA", "2026-Q3", 3.5), ("APAC", "2026-Q2", 2.0), ("APAC", "2026-Q3", 2.2)]
    running = [("EMEA", "2026-Q4 to date", 1.9), ("APAC", "2026-Q4 to date", 1.1)]
    assert _drawn(spec, "region", "shown", "value") == [("rect", complete), ("rect", running), ("text", running)]
    assert [("color" in layer["encoding"]) for layer in spec["layer"]] == [True, False, False]
    assert spec["layer"][1]["mark"] == {
        "type": "rect",
        "fill": charts.EMPTY_CELL,
        "stroke": charts.OUTLINE,
        "strokeDash": [3, 2],
        "strokeWidth": 1.5,
    }
    assert spec["title"]["subtitle"] == [
        "2026-Q4 (to date, 51 of 92 days): outlined cells with the value so far, off the colour scale"
    ]
    rate = _spec(charts.heatmap(_quarters("win_rate", [0.3] * 6, 0.2), segment="region", unit="percent", title="R"))
    assert [(mark, len(rows)) for mark, rows in _drawn(rate, "shown")] == [("rect", 6), ("rect", 2)]
    assert "color" in rate["layer"][0]["encoding"] and rate["layer"][1]["mark"]["fill"] is None
    # weeks of activity per rep: a count, so the running week is written, not coloured, even without a kpi column
    reps = pl.DataFrame(
        {"owner": ["Ann", "Ann"], "period": ["2026-W46", "2026-W47"], "value": [40.0, 12.0]},
    )
    weekly = _spec(charts.rep_week_heatmap(reps, title="R", as_of=AS_OF))
    assert _drawn(weekly, "owner", "shown", "value") == [
        ("rect", [("Ann", "2026-W46", 40.0)]),
        ("rect", [("Ann", "2026-W47 to date", 12.0)]),
        ("text", [("Ann", "2026-W47 to date", 12.0)]),
    ]


def test_bars_of_a_running_period_are_lighter_beside_the_same_point_before() -> None:
    frame = _quarters("won_revenue", [3.0, 3.5, 1.9, 2.0, 2.2, 1.1], 1.2).filter(pl.col("period") == "2026-Q4")
    spec = _spec(charts.ranked_bars(frame, segment="region", unit="currency", title="2026-Q4", as_of=AS_OF))
    assert _drawn(spec, "region", "value", "previous") == [
        ("bar", [("EMEA", 1.9, 1.2), ("APAC", 1.1, 0.6)]),
        ("tick", [("EMEA", 1.9, 1.2), ("APAC", 1.1, 0.6)]),
    ]
    assert spec["layer"][0]["mark"]["opacity"] == charts.TO_DATE_OPACITY
    # largest first, in every layer: the sort survives Vega-Lite's merge of the layers' scales (a "sum" would not)
    compiled = vl_convert.vegalite_to_vega(json.dumps(spec))
    y = next(scale for scale in compiled["scales"] if scale["name"] == "y")
    assert y["domain"]["sort"] == {"op": "max", "field": "value", "order": "descending"}
    assert spec["title"]["subtitle"] == [
        "2026-Q4 (to date, 51 of 92 days): lighter bars, the value so far",
        "| 2026-Q3 over its first 51 days, for comparison",
    ]
    # activities by type per week: the running week lighter, the week before's total over the same days as a tick
    weeks = pl.DataFrame(
        {
            "kpi": ["calls", "emails"] * 2,
            "period": ["2026-W46", "2026-W46", "2026-W47", "2026-W47"],
            "type": ["Calls", "Emails"] * 2,
            "value": [100.0, 80.0, 70.0, 50.0],
            "period_to_date": [False, False, True, True],
            "previous": [90.0, 85.0, 75.0, 60.0],
        }
    )
    stacked = _spec(charts.stacked_activity(weeks, title="A", as_of=AS_OF))
    assert _drawn(stacked, "shown", "previous") == [
        ("bar", [("2026-W46", None), ("2026-W46", None), ("2026-W47 to date", 75.0), ("2026-W47 to date", 60.0)]),
        ("tick", [("2026-W47 to date", 135.0)]),
    ]
    assert stacked["layer"][0]["encoding"]["opacity"]["condition"]["value"] == charts.TO_DATE_OPACITY


def test_mrr_movements_mark_the_running_month(sample: K.Dataset) -> None:
    months = K.resolve_periods(sample, "month", 3)
    moves = breakdowns.mrr_movements(sample, months)
    spec = _spec(charts.mrr_movements(moves, as_of=sample.as_of))
    assert spec["layer"][0]["encoding"]["x"]["sort"] == ["2026-09", "2026-10", "2026-11 to date"]
    line = spec["layer"][1]
    drawn = _drawn({**line, "datasets": spec["datasets"]}, "shown")
    assert [(mark, [s for (s,) in rows]) for mark, rows in drawn] == [
        ("line", ["2026-09", "2026-10"]),
        ("line", ["2026-10", "2026-11 to date"]),
        ("point", ["2026-11 to date"]),
    ]
    assert spec["title"]["subtitle"] == ["2026-11 (to date, 20 of 30 days): lighter bars, hollow point"]
