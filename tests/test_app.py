"""The app through app.py, headless (AppTest): every page, numbers equal kpi_core's, uploads, mapping edits,
filters and query parameters."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import kpi_core as K
from kpi_core.formatting import format_value
from tests import fixtures as F
from tests.conftest import ROOT
from ui import presets

PAGES = [
    "pages/scorecard.py",
    "pages/pipeline.py",
    "pages/activity.py",
    "pages/customers.py",
    "pages/segments.py",
    "pages/data.py",
    "pages/guide.py",
]
MANAGER = presets.SCORECARD["Manager"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    monkeypatch.setenv("KPI_WORKBENCH_PROFILES", str(tmp_path / "profiles"))
    monkeypatch.setenv("KPI_WORKBENCH_HOME", str(tmp_path / "workspace"))
    st.cache_data.clear()
    st.cache_resource.clear()
    # A served app leaves the old pages/-directory mode for good once app.py calls st.navigation; AppTest
    # re-detects the pages/ folder on every run and would then run a switched-to page without app.py.
    original = PagesManager.__init__

    def init(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def shown(at: AppTest) -> dict[str, str]:
    """The scorecard's tiles computed by the engine from the data on screen (forecast accuracy, computed from the
    kept snapshots, is checked in test_history.py)."""
    return {m.label: m.value for m in at.metric if not m.label.startswith("Forecast accuracy, ")}


def expected(dataset: K.Dataset, kpis: list[str], *, currency: str = "USD", **kwargs: object) -> dict[str, str]:
    frame = K.evaluate(dataset, kpis, **kwargs).filter(pl.col("stage").is_null())  # type: ignore[arg-type]
    return {
        K.get(r["kpi"]).label: format_value(r["value"], r["unit"], currency, compact=True)
        for r in frame.iter_rows(named=True)
    }


def test_every_page_renders_through_app_py() -> None:
    at = app().run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
    assert at.title[0].value == "KPI guide"


def test_scorecard_shows_the_engines_numbers(sample: K.Dataset) -> None:
    at = app().run()
    assert shown(at) == expected(sample, MANAGER, grain="quarter")
    labels = [m.label for m in at.metric]
    assert labels.index("Meetings booked") < labels.index("Total revenue (won)")  # leading column first


def test_filter_and_grain_change_recompute(sample: K.Dataset) -> None:
    at = app().run()
    at.multiselect(key="region").set_value(["EMEA"]).run()
    assert not at.exception
    assert shown(at) == expected(sample, MANAGER, grain="quarter", filters={"region": ["EMEA"]})
    at.selectbox(key="grain").set_value("month").run()
    assert at.selectbox(key="period").value == "2026-11"
    assert shown(at) == expected(sample, MANAGER, grain="month", filters={"region": ["EMEA"]})


def test_query_parameters_reproduce_a_view(sample: K.Dataset) -> None:
    at = app()
    at.query_params["grain"] = "quarter"
    at.query_params["period"] = "2026-Q3"
    at.query_params["region"] = "EMEA"
    at.run()
    assert not at.exception
    assert at.selectbox(key="period").value == "2026-Q3"
    assert shown(at) == expected(sample, MANAGER, grain="quarter", periods=["2026-Q3"], filters={"region": ["EMEA"]})
    every = app()
    every.query_params["grain"] = "all"
    every.run()
    assert every.selectbox(key="period").value == "all"
    assert shown(every) == expected(sample, MANAGER, grain="all")


def _upload(at: AppTest, files: list[tuple[str, bytes, str]]) -> AppTest:
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="uploader").set_value(files).run()
    return at


@pytest.mark.parametrize(
    ("name", "make", "mime", "symbol"),
    [
        ("report1467143114250.csv", F.salesforce_report_csv, "text/csv", "$"),
        (
            "hubspot-crm-exports-todos-negocios-2026-03-31.xlsx",
            F.hubspot_spanish_xlsx,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "€",
        ),
    ],
)
def test_upload_an_export_then_see_its_kpis(name: str, make, mime: str, symbol: str) -> None:  # type: ignore[no-untyped-def]
    data = make()
    at = _upload(app().run(), [(name, data, mime)])
    assert not at.exception and not at.error
    assert at.session_state["source"] == "upload"
    assert at.expander[0].label.startswith(f"{name} · deals · ")
    ds = K.Dataset.prepare(K.combine([K.read_file(data, name)]))
    at.switch_page("pages/scorecard.py").run()
    assert ds.as_of == date(2026, 3, 15)
    assert at.selectbox(key="period").value == "2026-Q1"
    assert shown(at) == expected(ds, MANAGER, grain="quarter", currency="EUR" if symbol == "€" else "USD")
    assert shown(at)["Deals won"] == "3" and shown(at)["Total revenue (won)"].startswith(symbol)


def test_a_bad_file_keeps_the_data_and_says_why() -> None:
    at = _upload(app().run(), [("notes.csv", b"colour,size\nred,3\n", "text/csv")])
    assert not at.exception
    assert "notes.csv: no table recognised" in at.error[0].value
    assert "keeps the data it had" in at.error[0].value
    assert at.session_state["source"] == "sample"


def test_mapping_edit_changes_the_data() -> None:
    data = F.salesforce_report_csv()
    at = _upload(app().run(), [("report.csv", data, "text/csv")])
    digest = hashlib.sha256(data).hexdigest()[:20]
    editor = at.data_editor(key=f"mapping_{digest}") if hasattr(at, "data_editor") else None
    assert editor is not None
    rows = editor.value["column"].tolist()
    at.session_state[f"mapping_{digest}"] = {
        "edited_rows": {
            rows.index("Opportunity Name"): {"maps to": ""},
            rows.index("Account Name"): {"maps to": "deal_name"},
        },
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    upload = at.session_state["uploads"][0]
    assert dict(upload.overrides) == {"Opportunity Name": None, "Account Name": "deal_name"}
    mapping = at.data_editor(key=f"mapping_{digest}").value
    assert mapping.set_index("column").loc["Account Name", "maps to"] == "deal_name"


def test_segments_page_charts_and_drilldown(sample: K.Dataset) -> None:
    at = app().run()
    at.switch_page("pages/segments.py").run()
    charts = at.get("vega_lite_chart")
    assert len(charts) == 8  # ranked bars, trend, small multiples and heat map for each of two KPIs
    import json

    spec = json.loads(charts[0].proto.spec)
    bars = spec["layer"][0]
    assert bars["mark"]["type"] == "bar" and bars["encoding"]["x"]["axis"]["format"] == "$,.2s"
    behind = K.rows_behind(sample, "won_revenue", "2026-Q4")
    assert f"{behind.included.height:,} row(s) from the deals table" in at.caption[-1].value or any(
        f"{behind.included.height:,} row(s) from the deals table" in c.value for c in at.caption
    )
    assert at.dataframe[0].value.shape[0] == behind.included.height


def _with_data(chart) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A chart's Vega-Lite spec with the rows Streamlit sent beside it (Arrow) as its datasets."""
    import json

    import pyarrow as pa

    spec = json.loads(chart.proto.spec)
    spec["datasets"] = {
        d.name: pl.from_arrow(pa.ipc.open_stream(d.data.data).read_all()).to_dicts()  # type: ignore[union-attr]
        for d in chart.proto.datasets
    }
    return spec


def test_segments_page_draws_the_running_quarter_apart(sample: K.Dataset) -> None:
    """2026-Q4 runs (51 of 92 days): the revenue trend's line joins the five complete quarters, Q4 so far is a
    hollow point beside Q3 at the same point; the heat map colours complete quarters only; win rate stays on its
    line with a dashed end. The numbers are the engine's."""
    from tests.test_charts import _drawn

    at = app().run()
    at.switch_page("pages/segments.py").run()
    specs = [_with_data(c) for c in at.get("vega_lite_chart")]
    revenue = K.evaluate(sample, ["won_revenue"], grain="quarter", periods=6, by=["region"])
    rows = [(r["region"], r["period"], r["value"], r["previous"]) for r in revenue.iter_rows(named=True)]
    complete = sorted((g, p, v) for g, p, v, _ in rows if p != "2026-Q4")
    running = sorted((g, "2026-Q4 to date", v, before) for g, p, v, before in rows if p == "2026-Q4")
    assert len(complete) == 20 and len(running) == 4
    trend = [(mark, sorted(drawn)) for mark, drawn in _drawn(specs[1], "region", "shown", "value", "previous")]
    assert trend == [
        ("line", sorted((g, p, v, None) for g, p, v in complete)),
        ("point", running),
        ("tick", running),
    ]
    assert specs[1]["title"]["subtitle"][0] == (
        "2026-Q4 (to date, 51 of 92 days): ○ the value so far, off the line of complete periods"
    )
    heat = [(mark, sorted(drawn)) for mark, drawn in _drawn(specs[3], "region", "shown", "value")]
    assert heat == [("rect", complete), ("rect", [r[:3] for r in running]), ("text", [r[:3] for r in running])]
    multiples = _drawn(specs[2], "shown")
    assert [(mark, {s for (s,) in drawn}) for mark, drawn in multiples] == [
        ("area", {"2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"}),
        ("point", {"2026-Q4 to date"}),
        ("tick", {"2026-Q4 to date"}),
    ]
    assert specs[0]["layer"][0]["mark"]["opacity"] == 0.45  # this quarter's bars: lighter, to date
    win_rate = [(mark, {s for _, s in drawn}) for mark, drawn in _drawn(specs[5], "region", "shown")]
    assert win_rate == [
        ("line", {"2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"}),
        ("line", {"2026-Q3", "2026-Q4 to date"}),
        ("point", {"2026-Q4 to date"}),
    ]


def test_tile_sparklines_leave_a_totals_running_quarter_out(sample: K.Dataset) -> None:
    """st.metric draws one plain line: won revenue's sparkline is the seven complete quarters (its help says so),
    win rate's all eight, the last to date."""
    at = app().run()
    trailing = K.resolve_periods(sample, "quarter", 8)
    frame = K.evaluate(sample, ["won_revenue", "win_rate"], grain="quarter", periods=trailing)
    tiles = {m.label: m.proto for m in at.metric}
    revenue, win_rate = tiles["Total revenue (won)"], tiles["Win rate (count)"]
    assert list(revenue.chart_data) == frame.filter(pl.col("kpi") == "won_revenue")["value"].to_list()[:-1]
    assert revenue.help.endswith("Sparkline: complete periods (the last 7 quarters; 2026-Q4 is to date and left out).")
    assert list(win_rate.chart_data) == pytest.approx(frame.filter(pl.col("kpi") == "win_rate")["value"].to_list())
    assert win_rate.help.endswith("Sparkline: the last 8 quarters, the last point (2026-Q4) to date.")


def test_pipeline_and_customers_show_the_engines_numbers(sample: K.Dataset) -> None:
    at = app().run()
    at.switch_page("pages/pipeline.py").run()
    values = {
        r["kpi"]: r["value"] for r in K.evaluate(sample, grain="quarter").iter_rows(named=True) if r["stage"] is None
    }
    numbers = shown(at)
    assert numbers["Open pipeline"] == format_value(values["open_pipeline"], "currency", compact=True)
    assert numbers["Weighted pipeline"] == format_value(values["weighted_pipeline"], "currency", compact=True)
    assert numbers["Forecast (won + weighted)"] == format_value(
        values["won_revenue"] + values["weighted_pipeline"], "currency", compact=True
    )
    assert numbers["Velocity"] == format_value(values["sales_velocity"], "currency_per_day", compact=True)
    # every open deal closing in the quarter, with an amount or not
    open_q4 = sample.table("deals").filter(
        (pl.col("status") == "open") & pl.col("close_date").is_between(date(2026, 10, 1), date(2026, 12, 31))
    )
    assert numbers["Open opportunities"] == f"{open_q4.height:,}"
    at.switch_page("pages/customers.py").run()
    assert shown(at) == expected(
        sample,
        presets.CUSTOMERS,
        grain="quarter",
    )
    assert len(at.get("vega_lite_chart")) == 2  # MRR movements and cohorts


def test_scorecard_rows_behind_one_click_away(sample: K.Dataset) -> None:
    at = app().run()
    at.selectbox(key="scorecard_rows_kpi").set_value("deals_won").run()
    table = at.dataframe[-1].value
    assert len(table) == K.rows_behind(sample, "deals_won", "2026-Q4").included.height


def test_pipeline_tables_follow_the_period(sample: K.Dataset) -> None:
    at = app().run()
    at.switch_page("pages/pipeline.py").run()
    stalled = K.evaluate(sample, ["stalled_deals", "overdue_deals"], grain="quarter")
    counts = dict(stalled.select("kpi", "value").rows())
    assert len(at.dataframe[0].value) == min(counts["stalled_deals"], 500)  # the table shows the 500 largest
    assert len(at.dataframe[1].value) == min(counts["overdue_deals"], 500)
    captions = [c.value for c in at.caption]
    assert any(c == f"{counts['stalled_deals']:,.0f} deal(s) · {K.get('stalled_deals').formula}" for c in captions)
    # an earlier quarter: the export cannot tell its stalled deals (a state of the pipeline), and says where to look
    at.selectbox(key="period").set_value("2026-Q3").run()
    assert [i.value for i in at.info] == [
        f"{title} are a state of the pipeline on 20 Nov 2026: they belong to 2026-Q4. For 2026-Q3, they come from "
        "the weekly snapshots you keep: the scorecard's trend of each, or the Weekly review run on a snapshot of that "
        "time."
        for title in ("Stalled deals", "Past-due open deals")
    ]


def test_pipeline_counts_follow_the_filters(sample: K.Dataset) -> None:
    at = app().run()
    at.switch_page("pages/pipeline.py").run()
    at.multiselect(key="region").set_value(["EMEA"]).run()
    assert not at.exception
    emea = sample.table("deals").filter(
        (pl.col("status") == "open")
        & pl.col("close_date").is_between(date(2026, 10, 1), date(2026, 12, 31))
        & (pl.col("region") == "EMEA")
    )
    assert shown(at)["Open opportunities"] == f"{emea.height:,}"


def test_a_file_name_is_shown_as_a_name_not_as_markdown() -> None:
    name = "[click me](http://example.invalid) **bold** $x^2$.csv"
    at = _upload(app().run(), [(name, b"colour,size\nred,3\n", "text/csv")])
    assert not at.exception
    shown = at.error[0].value
    assert shown.startswith(r"\[click me\]\(http://example.invalid\) \*\*bold\*\* \$x^2\$.csv: no table recognised")


def test_money_in_every_table_and_chart_is_in_the_datas_currency() -> None:
    """A euro export: every table on every page formats money in euros (never the dollar a page assumed), and
    every chart that formats money draws its symbol from a euro locale."""
    import json

    data = F.hubspot_spanish_xlsx()
    name = "hubspot-crm-exports-todos-negocios-2026-03-31.xlsx"
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    at = _upload(app().run(), [(name, data, mime)])
    formats: dict[str, list[str]] = {}
    locales: dict[str, list[object]] = {}
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
        for chart in at.get("vega_lite_chart"):
            spec = chart.proto.spec
            if "$," in spec:  # a money format: its "$" is the locale's currency symbol
                locales.setdefault(page, []).append(json.loads(spec)["config"]["locale"]["number"]["currency"])
        for frame in at.main.dataframe:
            for column in json.loads(frame.proto.columns or "{}").values():
                number = column.get("type_config", {})
                if number.get("type") == "number" and number.get("format"):
                    formats.setdefault(page, []).append(number["format"])
        # an empty cell shows a dash, as tiles and slides write a missing value, never "None"
        shown_only = [f for f in at.main.dataframe if f.proto.editing_mode == f.proto.EditingMode.READ_ONLY]
        assert all(frame.proto.placeholder == "—" for frame in shown_only), page
    money = {page: [f for f in found if "$" in f or "€" in f or f == "dollar"] for page, found in formats.items()}
    assert money.get("pages/pipeline.py") and money.get("pages/segments.py")
    assert {f for found in money.values() for f in found} <= {"€%,.0f", "€%,.2f"}
    assert locales.get("pages/segments.py")
    assert all(found == ["€", ""] for charts in locales.values() for found in charts), locales


def test_open_opportunities_count_deals_without_an_amount() -> None:
    """Three open deals close this quarter, one with no amount yet: three open opportunities (the amount only
    decides what they add to the pipeline)."""
    rows = (
        "Opportunity Name,Stage,Amount,Created Date,Close Date\n"
        "A,Closed Won,100,3/1/2026,3/10/2026\n"
        "B,Prospecting,200,3/1/2026,3/20/2026\n"
        "C,Prospecting,,3/1/2026,3/24/2026\n"
        "D,Proposal,300,3/1/2026,3/25/2026\n"
    )
    at = _upload(app().run(), [("opportunities.csv", rows.encode(), "text/csv")])
    at.switch_page("pages/pipeline.py").run()
    assert not at.exception
    assert at.selectbox(key="period").value == "2026-Q1"
    assert shown(at)["Open opportunities"] == "3"
    assert shown(at)["Open pipeline"] == format_value(500.0, "currency", compact=True)
    # plain numbers name no currency: the sidebar says the dollars are an assumption, and where to change it
    assert any(
        "Money in USD (assumed: the files do not name a currency; set it under More filters and settings)." in c.value
        for c in at.sidebar.caption
    )
