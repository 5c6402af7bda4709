"""What leads revenue in the app, through app.py: the page names the planted leader with its lag, its charts draw
the engine's numbers, a short upload says there is not enough history; the scorecard's leading tiles carry their
finding and the revenue change its bridge; and a real-browser screenshot of the page (tests/artifacts/leading.png)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import kpi_core as K
from kpi_core import drivers as D
from kpi_core import leading as L
from kpi_core.formatting import format_delta
from tests import fixtures as F
from tests.conftest import ROOT
from tests.test_app import _isolated  # noqa: F401  (caches, profiles, workspace folder, pages folder)
from ui import guard, presets

PAGE = "pages/leading.py"


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def charts(at: AppTest) -> list[dict[str, object]]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def plotted(at: AppTest, index: int) -> pl.DataFrame:
    """The data a chart was drawn from (the Arrow table sent with it)."""
    import pyarrow as pa

    chart = at.get("vega_lite_chart")[index].proto
    raw = chart.datasets[0].data.data if chart.datasets else chart.data.data
    return pl.from_arrow(pa.ipc.open_stream(raw).read_all())  # type: ignore[return-value]


@pytest.fixture(scope="module")
def expected(sample: K.Dataset) -> K.LeadingReport:
    """What the page should say: the analysis it runs, computed here on its own."""
    return K.find_leads(sample, targets=["won_revenue", "deals_won", "new_opportunities"])


def test_the_page_names_the_planted_leader(sample: K.Dataset, expected: K.LeadingReport) -> None:
    at = app().run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    assert at.title[0].value == "What leads revenue"
    assert expected.family == "28 pairs x 13 lags"
    assert f"({expected.family})" in at.caption[0].value
    leaders = expected.frame.filter(pl.col("significant"))
    order = {"won_revenue": 0, "deals_won": 1, "new_opportunities": 2}
    leaders = leaders.sort(
        pl.col("target").replace_strict(order), pl.col("correlation").abs(), descending=[False, True]
    )
    numbered = [m for m in at.markdown if m.value[:2] in {f"{i}." for i in range(1, 10)}]
    rows = list(leaders.iter_rows(named=True))
    assert [(m.value, m.help) for m in numbered] == [
        (f"{i}. {L.finding(r, 'USD')}", L.details(r, expected.family)) for i, r in enumerate(rows, start=1)
    ]
    # activity leads deal creation by three weeks (planted); nothing leads revenue or deals won beyond chance once
    # all 28 pairs x 13 lags are counted (meetings' r = 0.31 at 4 weeks was a finding before)
    assert [(r["indicator"], r["target"], r["lag_weeks"]) for r in rows] == [
        ("activities", "new_opportunities", 3),
        ("activities_per_rep_week", "new_opportunities", 3),
        ("calls", "new_opportunities", 3),
        ("emails", "new_opportunities", 3),
        ("meetings", "new_opportunities", 3),
    ][: len(rows)] and len(rows) >= 4
    assert numbered[0].value.startswith(
        "1. Changes in sales activities show up in new opportunities about 3 weeks later (a strong lead, stable "
        "across both halves of the history): weeks with "
    )
    nothing = [m.value for m in at.markdown if m.value.startswith("- **No measurable lead")]
    assert nothing == [
        f"- **No measurable lead on {words}**: none of the 10 indicator(s) moves ahead of it by 1 to 13 weeks beyond "
        "what chance gives, once every indicator, result and lead tried is counted."
        for words in ("won revenue", "deals won")
    ]
    # "look closer" opens on the strongest leader: the lag profile drawn is the analysis' own, with its bands
    best = leaders.sort(pl.col("correlation").abs(), descending=True).row(0, named=True)
    assert at.selectbox(key="lead_pair").value == (best["indicator"], best["target"])
    profile, overlay, segments = charts(at)
    assert (profile["layer"][0]["mark"]["type"], overlay["mark"]["type"], "facet" in segments) == ("bar", "line", True)
    drawn = plotted(at, 0).select("lag", "correlation", "reverse", "band")
    wanted = expected.profiles.filter(
        (pl.col("indicator") == best["indicator"]) & (pl.col("target") == best["target"])
    ).select("lag", "correlation", "reverse", "band")
    assert drawn.equals(wanted)


def test_look_closer_and_per_segment(sample: K.Dataset) -> None:
    at = app().run()
    at.switch_page(PAGE).run()
    at.selectbox(key="lead_pair").set_value(("activities", "new_opportunities")).run()
    at.segmented_control(key="lead_dim").set_value("team").run()
    assert not at.exception
    split = K.find_leads(sample, ["activities"], ["new_opportunities"], by="team", permutations=499)
    found = split.frame.filter(pl.col("significant")).height
    assert split.family == "8 pairs over 8 team segments x 13 lags"
    assert (
        f"A lead found in {found} of 8 team segment(s). Each segment is measured on its own weeks, all segments "
        f"counted together ({split.family}); segments with less history need a stronger link."
    ) in [c.value for c in at.caption]
    assert found >= 6  # the planted lead holds in most teams, each on its own two years
    table = at.dataframe[-1].value
    assert sorted(table["team"]) == sorted(split.frame["team"].to_list())
    assert (table["Best lead (weeks)"].tolist(), table["Leader"].tolist(), table["Reading"].tolist()) == (
        split.frame["lag_weeks"].to_list(),
        split.frame["significant"].to_list(),
        [L.short_finding(r) for r in split.frame.iter_rows(named=True)],
    )


def test_a_short_upload_says_not_enough_history() -> None:
    at = app().run()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="uploader").set_value([("report.csv", F.salesforce_report_csv(), "text/csv")]).run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and warnings[0].startswith("Not enough history to measure a lead:")
    assert "needs 39. No number is given from less." in warnings[0]
    assert not at.get("vega_lite_chart")


def test_the_scorecard_tiles_carry_the_finding_and_revenue_its_bridge(
    sample: K.Dataset, expected: K.LeadingReport
) -> None:
    at = app().run()
    assert not at.exception
    # a leading tile says what it leads only when the lead survives every pair and lag tried (hedged when weak or
    # unstable); nothing otherwise
    shown = [k for k in presets.SCORECARD["Manager"] if k in L.DEFAULT_INDICATORS]
    frame = expected.frame
    words = {}
    for kpi in shown:
        rows = {r["target"]: r for r in frame.filter(pl.col("indicator") == kpi).iter_rows(named=True)}
        leads = [
            rows[t] for t in ("won_revenue", "deals_won", "new_opportunities") if t in rows and rows[t]["significant"]
        ]
        if leads:
            text = L.short_finding(leads[0])
            if leads[0]["target"] == "new_opportunities":
                text += "; no measurable lead on won revenue"
            words[kpi] = text[:1].upper() + text[1:]
    captions = [c.value.removeprefix("↗ ") for c in at.caption if c.value.startswith("↗ ")]
    labels = [m.label for m in at.metric]
    assert captions == [words[k] for k in sorted(words, key=lambda k: labels.index(K.get(k).label))]
    assert "Leads new opportunities by about 3 weeks; no measurable lead on won revenue" in captions
    assert not any("won revenue by" in c for c in captions)  # nothing leads revenue beyond chance here
    # the bridge explains the revenue tile's change, by region, to the cent
    why = K.revenue_drivers(sample, "2026-Q4", grain="quarter", by="region")
    tile = next(m for m in at.metric if m.label == "Total revenue (won)")
    assert tile.delta == format_delta(why.change, "currency")
    assert guard.plain(D.explain(why)) in [m.value for m in at.markdown]  # shown as text, never Markdown
    bridge = next(c for c in charts(at) if c.get("layer") and c["layer"][0]["encoding"]["x"]["field"] == "step")
    assert bridge["layer"][0]["encoding"]["x"]["sort"] == [
        "2026-Q3 to 08-20",
        "Closed deals",
        "Win rate",
        "Deal size",
        "2026-Q4 to date",
    ]


def test_screenshot_of_the_page(tmp_path: Path) -> None:
    """The page in a real browser (Debian's Chromium): charts drawn, no error; the screenshot is to look at."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, serve  # skips this test without Chromium

    ARTIFACTS.mkdir(exist_ok=True)
    with serve(tmp_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2400})
        page.goto(f"{url}/leading")
        page.wait_for_selector('h1:has-text("What leads revenue")', timeout=60_000)
        page.wait_for_selector("text=By segment", timeout=60_000)
        page.wait_for_function("document.querySelectorAll('svg.marks').length >= 3", timeout=60_000)
        page.wait_for_timeout(1000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("Changes in sales activities show up in new opportunities about 3 weeks later").count()
        page.get_by_text("Every indicator against every result").click()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "leading.png"), full_page=True)
        page.goto(url)
        page.wait_for_selector("text=Why revenue changed", timeout=60_000)
        page.wait_for_timeout(2000)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "scorecard_bridge.png"), full_page=True)
        browser.close()
