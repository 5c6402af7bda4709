"""The 1:1 page through app.py: the rep picker is bound to the URL; the summary, the gaps (red) and the strengths
(green) apart, and the charts are the core's own, coloured by verdict; the table shows every revenue effect in full as
money; a plain report without stage history, activities or leads says what it cannot measure; the one-page PDF names
its data, keeps every text inside the page and its box, colours verdicts by good and bad, and is saved as an image to
look at (tests/artifacts/coaching_pdf.png); and a real-browser screenshot of the page (tests/artifacts/coaching.png)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

import kpi_core as K
from kpi_core import coaching as C
from kpi_core.formatting import money
from tests import fixtures as F
from tests.conftest import ROOT
from tests.test_app import _isolated  # noqa: F401  (caches, profiles, workspace folder, pages folder)
from tests.test_leading_app import plotted
from ui import coaching_charts, coaching_pdf
from ui.deck import INK, MUTED, TONES, Measure, PdfFonts, Text

PAGE = "pages/coaching.py"
ARTIFACTS = ROOT / "tests" / "artifacts"


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)


def test_the_page_shows_the_rep_beside_the_team(sample: K.Dataset) -> None:
    at = app().run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    assert at.title[0].value == "1:1"
    assert at.selectbox(key="rep").value == C.reps(sample)[0]
    at.selectbox(key="rep").set_value("Chloe Patel").run()
    assert not at.exception and not at.error
    # bound to the URL like the sidebar's controls (?rep=Chloe+Patel; the browser keeps the address in step)
    assert (at.selectbox(key="rep").proto.query_param_key, at.selectbox(key="against").proto.query_param_key) == (
        "rep",
        "against",
    )
    expected = C.coach(sample, "Chloe Patel", grain="quarter", period="2026-Q4")
    # the summary, then the gaps (red) and the strengths (green) apart, money shown as money (not a formula)
    markdown = [m.value for m in at.markdown]
    assert f"**{expected.summary}**" in markdown
    assert [m for m in markdown if m.startswith("#### ")] == [
        "#### :red[Gaps: worse than the team (APAC Farmers)]",
        "#### :green[Strengths: better than the team (APAC Farmers)]",
    ]
    strengths = [m for m in markdown if m.startswith(":green[**")]
    assert strengths == [
        f":green[**{i}.**] {s.replace('$', chr(92) + '$')}" for i, s in enumerate(expected.strengths, start=1)
    ]
    assert strengths[0].startswith(":green[**1.**] Conversion from Prospecting to Qualification: 65.9% for Chloe")
    assert [m for m in markdown if m.startswith(":red[**")] == []
    assert "None beyond the noise." in [c.value for c in at.caption]
    # the funnel and the KPI gaps are drawn from the core's numbers, coloured by verdict
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(specs) == 2
    peers = "APAC Farmers (without Chloe Patel)"
    funnel = plotted(at, 0)
    want = coaching_charts.funnel_frame(expected.funnel, expected.differences, rep="Chloe Patel", peers=peers)
    assert funnel.select(want.columns).sort("group", "order").equals(want.sort("group", "order"))
    assert funnel.filter(pl.col("step") == "Prospecting → Qualification", pl.col("group") == "Chloe Patel")[
        "shade"
    ].to_list() == ["better"]
    gaps = plotted(at, 1)
    want_gaps = coaching_charts.gaps_frame(expected.differences, "USD").with_columns(
        pl.col("gap", "low", "high").clip(-1.5, 3.0)  # what the axis shows of a very wide interval
    )
    assert_frame_equal(gaps.select(want_gaps.columns), want_gaps, check_exact=False, rel_tol=1e-12)
    # every KPI in the table, numbers formatted by unit, the revenue effect a number shown in full as money
    table = at.dataframe[0].value
    assert table["KPI"].tolist() == expected.differences["label"].to_list()
    step = table[table["KPI"] == "Prospecting to Qualification"].iloc[0]
    row = expected.differences.filter(pl.col("stage") == "Prospecting → Qualification").row(0, named=True)
    assert (step["Chloe Patel"], step["Peers"], step["Verdict"], step["Difference (95% interval)"]) == (
        "65.9%",
        "45.1%",
        "better",
        C.difference_text(row),
    )
    assert row["revenue_effect"] < -25_000 and step["Revenue effect"] == money(row["revenue_effect"], "USD")
    win = table[table["KPI"] == "Win rate (count)"].iloc[0]
    assert (win["Verdict"], win["Note"]) == ("better", "explained by the funnel: Prospecting → Qualification")
    # the revenue effect next to the verdict, not after the sample and the notes
    assert list(table.columns)[5:8] == ["Verdict", "Revenue effect", "p after 18 comparisons"]
    config = json.loads(at.dataframe[0].proto.columns)
    assert config["Revenue effect"] == {
        "width": "medium",
        "help": "What the rep would have won more (+) or less (-) at the peers' value, all else the rep's own",
        "type_config": {"type": "text"},
    }
    deals = at.dataframe[1].value
    assert deals["Deal"].tolist()[:3] == expected.deals["deal_name"].to_list()[:3]
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


def test_the_pdf_is_one_page_with_every_text_inside(sample: K.Dataset, tmp_path: Path) -> None:
    fonts = PdfFonts.find()
    measure = Measure.for_pdf(fonts)
    for rep in ("Ben Ito", "Chloe Patel", "Pablo Quispe", "Ava Brooks"):
        found = C.coach(sample, rep)
        slide = coaching_pdf.layout(found, source="Sample company", measure=measure)
        texts = [e for e in slide.elements if isinstance(e, Text)]
        for e in texts:
            assert e.x >= 0.5 and e.y + e.h <= 7.1 + 1e-6, (rep, e.name, e.lines)
            for line in e.lines:
                assert measure.width(line, e.size, e.bold) <= e.w + 0.01, (rep, e.name, line)
        table = [e for e in texts if e.name == "kpi-cell"]
        assert table and all(e.x + e.w <= coaching_pdf.SPLIT - 0.2 for e in table), rep
        # every revenue effect and difference in full (only KPI names may be shortened)
        rows = list(found.differences.iter_rows(named=True))
        cells = {e.lines[0] for e in table}
        shown = [r for r in rows if r["label"] in cells or any(c.startswith(r["label"][:8]) for c in cells)]
        for r in shown:
            if r["revenue_effect"] is not None:
                assert C.revenue_text(r["revenue_effect"], "USD") in cells, (rep, r["label"])
            assert C.difference_text(r) in cells, (rep, r["label"])
        # the verdicts beyond the noise in their colour: better green, worse red; the others muted
        verdicts = {(e.lines[0], e.color) for e in table if e.lines[0] in ("better", "worse", "no clear difference")}
        assert verdicts <= {("better", TONES["good"]), ("worse", TONES["bad"]), ("no clear difference", MUTED)}
        # the gaps and the strengths whole, apart, each in its colour
        for kind, sentences in (("worse", found.gaps), ("better", found.strengths)):
            parts = [e for e in texts if e.name == kind]
            assert [" ".join(e.lines) for e in parts] == sentences
            assert all(e.color == INK for e in parts)
            head = next(e for e in texts if e.name == f"{kind}-head")
            assert head.color == coaching_pdf.TONE[kind]
        # the data it is about: the source, the as-of date and where it came from, the period, the peer group
        data = " ".join(next(e for e in texts if e.name == "data").lines)
        assert data == (
            "Data: Sample company · as of 20 Nov 2026, the latest created date of a deal in the data · stalled and "
            "past-due deals: the open pipeline on that date"
        )
        subtitle = next(e for e in texts if e.name == "subtitle").lines[0]
        assert subtitle.startswith(f"2026-Q4 (to 20 Nov 2026) beside 2026-Q3 · against {found.peers.words}")
    pdf = coaching_pdf.one_page(C.coach(sample, "Chloe Patel"), source="Sample company")
    assert (
        pdf.startswith(b"%PDF")
        and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page>") + pdf.count(b"/Type /Page/") <= 1
    )
    (tmp_path / "1-1.pdf").write_bytes(pdf)
    ARTIFACTS.mkdir(exist_ok=True)
    if shutil.which("pdftoppm"):  # the page as an image, to look at
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-singlefile", str(tmp_path / "1-1.pdf"), str(ARTIFACTS / "coaching_pdf")],
            check=True,
        )


def test_screenshot_of_the_page(tmp_path: Path) -> None:
    """The page in a real browser (Debian's Chromium): charts drawn, no error; the screenshot is to look at."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, serve  # skips this test without Chromium

    ARTIFACTS.mkdir(exist_ok=True)
    with serve(tmp_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2200})
        page.goto(f"{url}/coaching?rep=Chloe+Patel")
        page.wait_for_selector('h1:has-text("1:1")', timeout=60_000)
        page.wait_for_selector("text=Deals to talk about", timeout=120_000)
        page.wait_for_function("document.querySelectorAll('svg.marks').length >= 2", timeout=60_000)
        page.wait_for_timeout(1500)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("Strengths: better than the team (APAC Farmers)").count()
        assert page.get_by_text("Page not found").count() == 0
        page.screenshot(path=str(ARTIFACTS / "coaching.png"), full_page=True)
        browser.close()
