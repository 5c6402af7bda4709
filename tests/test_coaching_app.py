"""The 1:1 page through app.py: the rep picker is bound to the URL, the focus sentences and the charts are the core's
own, a plain report without stage history, activities or leads says what it cannot measure; the one-page PDF keeps
every text inside the page and its box; and a real-browser screenshot of the page (tests/artifacts/coaching.png)."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

import kpi_core as K
from kpi_core import coaching as C
from tests import fixtures as F
from tests.conftest import ROOT
from tests.test_app import _isolated  # noqa: F401  (caches, profiles, workspace folder, pages folder)
from tests.test_leading_app import plotted
from ui import coaching_charts, coaching_pdf
from ui.deck import Grid, Measure, PdfFonts, Text, W, line_height

PAGE = "pages/coaching.py"


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)


def test_the_page_shows_the_rep_beside_the_team(sample: K.Dataset) -> None:
    at = app().run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    assert at.title[0].value == "1:1"
    assert at.selectbox(key="rep").value == C.reps(sample)[0]
    at.selectbox(key="rep").set_value("Ben Ito").run()
    assert not at.exception and not at.error
    # bound to the URL like the sidebar's controls (?rep=Ben+Ito; the browser keeps the address in step)
    assert (at.selectbox(key="rep").proto.query_param_key, at.selectbox(key="against").proto.query_param_key) == (
        "rep",
        "against",
    )
    expected = C.coach(sample, "Ben Ito", grain="quarter", period="2026-Q4")
    sentences = [m.value for m in at.markdown if m.value[:2] in {"1.", "2.", "3."}]
    assert sentences == [f"{i}. {s}" for i, s in enumerate(expected.focus, start=1)]
    assert sentences[0].startswith("1. Conversion from Qualification to Needs Analysis: 40.0% for Ben Ito")
    # the funnel and the KPI gaps are drawn from the core's numbers
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(specs) == 2
    peers = "APAC Farmers (without Ben Ito)"
    funnel = plotted(at, 0)
    want = coaching_charts.funnel_frame(expected.funnel, rep="Ben Ito", peers=peers)
    assert funnel.select(want.columns).sort("group", "order").equals(want.sort("group", "order"))
    gaps = plotted(at, 1)
    assert gaps["label"].to_list() == coaching_charts.gaps_frame(expected.differences, "USD")["label"].to_list()
    # every KPI in the table, numbers formatted by unit
    table = at.dataframe[0].value
    assert table["KPI"].tolist() == expected.differences["label"].to_list()
    win = table[table["KPI"] == "Win rate (count)"].iloc[0]
    assert (win["Ben Ito"], win["Peers"], win["Beyond the noise"]) == (
        "28.4%",
        "43.3%",
        "yes (the funnel: Qualification → Needs Analysis)",
    )
    deals = at.dataframe[1].value
    assert deals["Deal"].tolist()[:3] == [
        "Rholumnet - Cobalt Security",
        "Paxhelworks - Beacon CRM",
        "Kelveltech - Beacon Service",
    ]
    # another peer group: the region
    at.selectbox(key="against").set_value("region").run()
    assert not at.exception and any("against the region (APAC)" in c.value for c in at.caption)


def test_a_rep_from_the_url_and_one_that_is_not_there() -> None:
    at = app()
    at.query_params["rep"] = "Ben Ito"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception and at.selectbox(key="rep").value == "Ben Ito"
    at = app()
    at.query_params["rep"] = "Nobody"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error and at.selectbox(key="rep").value == "Ava Brooks"


def test_a_plain_report_says_what_it_cannot_measure() -> None:
    at = app().run()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="uploader").set_value([("report.csv", F.salesforce_report_csv(), "text/csv")]).run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    captions = " ".join(c.value for c in at.caption)
    assert "Not measured: Sales activities needs an activities export" in captions
    assert "Stage conversion is inferred" in captions or "Not measured: Stage conversion" in captions


def test_the_pdf_is_one_page_with_every_text_inside(sample: K.Dataset) -> None:
    fonts = PdfFonts.find()
    measure = Measure.for_pdf(fonts)
    for rep in ("Ben Ito", "Yara Khan", "Ava Brooks"):
        found = C.coach(sample, rep)
        slide = coaching_pdf.layout(found, company="Sample company", measure=measure)
        for e in slide.elements:
            if isinstance(e, Text):
                assert e.x >= 0.5 and e.y + e.h <= 7.0 + 1e-6, (rep, e.name, e.lines)
                for line in e.lines:
                    assert measure.width(line, e.size, e.bold) <= e.w + 0.01, (rep, e.name, line)
            if isinstance(e, Grid):
                assert e.x + e.w <= coaching_pdf.SPLIT - 0.2 and e.y + e.h <= 7.0, rep
                for row in e.rows:
                    for value, width in zip(row, e.widths, strict=True):
                        assert measure.width(value, e.size) <= width, (rep, value)
        deals = [e for e in slide.elements if isinstance(e, Text) and e.name.startswith("deal")]
        assert all(e.x >= coaching_pdf.SPLIT and e.x + e.w <= W - 0.5 + 1e-6 for e in deals)
        focus = [e for e in slide.elements if isinstance(e, Text) and e.name == "focus"]
        assert [" ".join(e.lines) for e in focus] == found.focus  # every sentence whole
        assert all(line_height(e.size) > 0 for e in focus)
    pdf = coaching_pdf.one_page(C.coach(sample, "Ben Ito"))
    assert (
        pdf.startswith(b"%PDF")
        and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page>") + pdf.count(b"/Type /Page/") <= 1
    )


def test_screenshot_of_the_page(tmp_path: Path) -> None:
    """The page in a real browser (Debian's Chromium): charts drawn, no error; the screenshot is to look at."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, serve  # skips this test without Chromium

    ARTIFACTS.mkdir(exist_ok=True)
    with serve(tmp_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2200})
        page.goto(f"{url}/coaching?rep=Ben+Ito")
        page.wait_for_selector('h1:has-text("1:1")', timeout=60_000)
        page.wait_for_selector("text=Deals to talk about", timeout=120_000)
        page.wait_for_function("document.querySelectorAll('svg.marks').length >= 2", timeout=60_000)
        page.wait_for_timeout(1500)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("Where Ben Ito differs most").count()
        assert page.get_by_text("Page not found").count() == 0
        page.screenshot(path=str(ARTIFACTS / "coaching.png"), full_page=True)
        browser.close()
