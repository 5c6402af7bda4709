"""A real browser (Playwright driving Debian's Chromium) against the served app: upload, numbers, charts,
a filter change, and a screenshot of every page in tests/artifacts/ (look at them after changing a page)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import kpi_core as K
from kpi_core.formatting import format_value
from tests import fixtures as F
from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = ["Scorecard", "Pipeline", "Activity", "Customers", "Segments", "Data", "KPI guide"]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Chromium for the browser tests (.ci/run installs Debian's chromium)")
    pytest.skip("no Chromium on this machine", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(home: Path) -> Iterator[str]:
    """A fresh app server on a free port, stopped by its own PID."""
    port = _free_port()
    env = {**os.environ, "HOME": str(home), "KPI_WORKBENCH_PROFILES": str(home / "profiles")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.fileWatcherType",
            "none",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.25)
        else:
            raise RuntimeError("the app did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(tmp_path_factory.mktemp("home")) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("HOME", str(tmp_path_factory.mktemp("chromium-home")))
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield launched
        launched.close()


def _metric(page, label: str) -> str:  # type: ignore[no-untyped-def]
    tile = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(label, exact=True)).first
    return str(tile.locator('[data-testid="stMetricValue"]').inner_text()).strip()


def _open(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
    page.wait_for_selector(f'h1:has-text("{name}")', timeout=60_000)
    page.wait_for_timeout(1500)


def test_sample_scorecard_upload_filter_and_every_page(server: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    sample = K.Dataset.prepare(__import__("sample_data").load_sample())
    revenue = K.evaluate(sample, ["won_revenue"], grain="quarter")["value"][0]
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.goto(server)
    page.wait_for_selector("svg.marks", timeout=60_000)  # the sparklines drew
    assert _metric(page, "Total revenue (won)") == format_value(revenue, "currency", compact=True)
    for name in PAGES:
        _open(page, name)
        if name in ("Pipeline", "Activity", "Customers", "Segments"):
            page.wait_for_selector("svg.marks", timeout=60_000)
            assert page.locator("svg.marks").count() >= 2, name
        assert page.locator('[data-testid="stException"]').count() == 0, name
        page.screenshot(path=str(ARTIFACTS / f"{name.lower().replace(' ', '_')}.png"), full_page=True)

    # upload a Salesforce report export on the Data page
    report = tmp_path / "report1467143114250.csv"
    report.write_bytes(F.salesforce_report_csv())
    _open(page, "Data")
    page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', str(report))
    page.wait_for_selector("text=report1467143114250.csv · deals · salesforce", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "data_uploaded.png"), full_page=True)
    _open(page, "Scorecard")
    page.wait_for_selector("text=Your data", timeout=60_000)
    assert _metric(page, "Deals won") == "3"
    assert _metric(page, "Total revenue (won)") == format_value(
        sum(d.amount for d in F.DEALS if d.status == "won"), "currency", compact=True
    )

    _open(page, "Segments")
    page.wait_for_selector("svg.marks", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "segments_uploaded.png"), full_page=True)
    _open(page, "Scorecard")

    # a filter: one owner
    owner = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(
        has=page.get_by_text("Owner", exact=True)
    )
    owner.click()
    page.get_by_role("option", name="Ana Núñez").click()
    page.keyboard.press("Escape")
    page.wait_for_function("() => window.location.search.includes('owner=')", timeout=30_000)
    page.wait_for_timeout(2000)
    won_by_ana = [d for d in F.DEALS if d.status == "won" and d.owner == "Ana Núñez"]
    assert _metric(page, "Deals won") == str(len(won_by_ana))
    page.screenshot(path=str(ARTIFACTS / "scorecard_filtered.png"), full_page=True)


def test_a_deep_link_is_the_first_request(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample = K.Dataset.prepare(__import__("sample_data").load_sample())
    won = K.evaluate(sample, ["deals_won"], grain="month", periods=["2026-10"], filters={"region": ["EMEA"]})["value"][
        0
    ]
    with serve(tmp_path) as url:
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        page.goto(f"{url}/scorecard?grain=month&period=2026-10&region=EMEA")
        page.wait_for_selector("svg.marks", timeout=60_000)
        page.wait_for_selector("text=2026-10 · region: EMEA", timeout=60_000)
        assert _metric(page, "Deals won") == f"{won:,.0f}"
        assert page.locator('[data-testid="stSidebar"]').get_by_text("Grain").count() == 1  # app.py's sidebar ran
        page.screenshot(path=str(ARTIFACTS / "deep_link.png"), full_page=True)


def test_weekly_review_and_presentation_mode(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(server)
    page.wait_for_selector("svg.marks", timeout=60_000)
    _open(page, "Weekly review")  # the sample company's own history, ready without a click
    page.wait_for_selector("text=What changed since last week", timeout=120_000)
    page.wait_for_selector("svg.marks", timeout=60_000)
    page.wait_for_timeout(2000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert _metric(page, "Quota attainment").endswith("%") and _metric(page, "Start").startswith("$")
    page.screenshot(path=str(ARTIFACTS / "weekly_review.png"), full_page=True)


FITS = """() => {
  const bottom = Math.max(...[...document.querySelectorAll('[data-testid="stMainBlockContainer"] *')]
    .filter(e => e.getClientRects().length).map(e => e.getBoundingClientRect().bottom));
  const scrolls = [...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
    .concat([document.scrollingElement]).some(e => e.scrollHeight > e.clientHeight + 2);
  const root = parseFloat(getComputedStyle(document.documentElement).fontSize);
  const values = [...document.querySelectorAll('.present-card .value')]
    .map(e => parseFloat(getComputedStyle(e).fontSize) / root);
  return {bottom, height: window.innerHeight, scrolls, values};
}"""


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (1920, 1080)])
def test_presentation_mode_fits_the_screen(server: str, browser, width: int, height: int) -> None:  # type: ignore[no-untyped-def]
    """Every cell on one screen: large type, nothing below the fold, next/previous/exit in view; no navigation.
    The shipped notes are not written yet: Present goes from the first cell with something to show to the last."""
    from kpi_core.notebook import WEEKLY_REVIEW, written

    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{server}/review")
    page.wait_for_selector("text=What changed since last week", timeout=120_000)
    page.get_by_role("button", name="Present").click()
    cells = [c for c in WEEKLY_REVIEW.cells if c.kind != "note" or written(c.text)]
    for number, cell in enumerate(cells, start=1):
        page.wait_for_selector(f'.present-title:text-is("{cell.title}")', timeout=60_000)
        if cell.kind in ("waterfall", "funnel", "segment_chart", "forecast"):
            page.wait_for_selector("svg.marks", timeout=60_000)
        page.wait_for_timeout(1200)
        assert page.locator('[data-testid="stException"]').count() == 0, cell.title
        assert page.locator('[data-testid="stSidebarNav"]').is_visible() is False
        for name in ("◀ Previous", "Next ▶", "Exit"):
            box = page.get_by_role("button", name=name).bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, (cell.title, name)
        fits = page.evaluate(FITS)
        assert fits["bottom"] <= height and not fits["scrolls"], (cell.title, fits)
        if cell.kind in ("scorecard", "waterfall", "stalled", "forecast"):  # values at least 3x the body text
            assert fits["values"] and min(fits["values"]) >= 3, (cell.title, fits["values"])
        page.screenshot(path=str(ARTIFACTS / f"present_{width}x{height}_{number}_{cell.id}.png"))
        if number < len(cells):
            page.get_by_role("button", name="Next ▶").click()
    assert page.get_by_role("button", name="Next ▶").is_disabled()  # the last screen: nothing left out follows
    page.get_by_role("button", name="Exit").click()
    page.wait_for_selector('h1:has-text("Weekly review")', timeout=60_000)
    page.wait_for_selector('[data-testid="stSidebarNav"]', state="visible", timeout=30_000)  # back, with the sidebar


def test_present_on_another_page_keeps_the_navigation(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/scorecard?present=1")
    page.wait_for_selector("svg.marks", timeout=60_000)
    page.wait_for_function("() => !window.location.search.includes('present=')", timeout=30_000)
    assert page.locator('[data-testid="stSidebarNav"]').is_visible()


def test_a_workbook_bomb_takes_down_nothing(server: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The workbooks that kill a reader are refused with a message; the same session and another one go on."""
    from tests.hostile import xfd_single_cell, xfd_without_dimension

    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(server)
    page.wait_for_selector("svg.marks", timeout=60_000)
    _open(page, "Data")
    for name, make, message in (
        ("nodim.xlsx", xfd_without_dimension, "reading it needed more than"),
        ("xfd.xlsx", xfd_single_cell, "a sheet claims 1,048,576 rows by 16,384 columns"),
    ):
        path = tmp_path / name
        path.write_bytes(make())
        page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', str(path))
        page.wait_for_selector(f"text={message}", timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "data_bomb_refused.png"), full_page=True)
    with urllib.request.urlopen(f"{server}/_stcore/health", timeout=5) as response:
        assert response.status == 200  # the server lives
    # the same session still reads a good file
    report = tmp_path / "report1467143114250.csv"
    report.write_bytes(F.salesforce_report_csv())
    page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', str(report))
    page.wait_for_selector("text=report1467143114250.csv · deals · salesforce", timeout=60_000)
    # and another session opens the sample company's scorecard
    other = browser.new_page(viewport={"width": 1500, "height": 1100})
    other.goto(server)
    other.wait_for_selector("svg.marks", timeout=60_000)
    assert _metric(other, "Deals won") != ""


def test_the_weekly_loop_in_a_browser(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Upload week 11, visit another page, reload, keep it, upload week 12, keep it, review, visit the sample
    company and come back: a screenshot of each step in tests/artifacts/loop_*.png."""
    from tests.test_workspace import WEEK_1, WEEK_2, week

    ARTIFACTS.mkdir(exist_ok=True)
    files = []
    for name, rows, generated in (
        ("report-week11.csv", WEEK_1, "3/13/2026"),
        ("report-week12.csv", WEEK_2, "3/20/2026"),
    ):
        path = tmp_path / name
        path.write_bytes(week(rows, generated))
        files.append(path)
    with serve(tmp_path) as url:
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(url)
        page.wait_for_selector("svg.marks", timeout=60_000)
        _open(page, "Data")
        page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', str(files[0]))
        page.wait_for_selector("text=report-week11.csv · deals", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "loop_1_uploaded.png"), full_page=True)
        _open(page, "Scorecard")
        page.wait_for_selector("text=not kept as history yet", timeout=60_000)
        page.reload()
        page.wait_for_selector("text=report-week11.csv (not kept as history yet)", timeout=60_000)
        _open(page, "Data")
        page.wait_for_selector("text=report-week11.csv · deals", timeout=60_000)
        page.get_by_role("button", name="Keep as the snapshot of 13 Mar").click()
        page.wait_for_selector("text=Kept as 'Week 11 (13 Mar 2026)'", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "loop_2_kept.png"), full_page=True)
        page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', str(files[1]))
        page.wait_for_selector("text=report-week12.csv · deals", timeout=60_000)
        page.get_by_role("button", name="Keep as the snapshot of 20 Mar").click()
        page.wait_for_selector("text=Kept as 'Week 12 (20 Mar 2026)'", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "loop_3_second_week.png"), full_page=True)
        _open(page, "Weekly review")
        page.wait_for_selector("text=Week 11 (13 Mar 2026) to Week 12 (20 Mar 2026)", timeout=60_000)
        page.wait_for_selector("svg.marks", timeout=60_000)
        page.wait_for_timeout(1000)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "loop_4_review.png"), full_page=True)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="Sample company").click()
        page.wait_for_selector("text=thirteen weekly exports", timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "loop_5_sample.png"), full_page=True)
        sidebar.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="Your data").click()
        page.wait_for_selector("text=Week 11 (13 Mar 2026) to Week 12 (20 Mar 2026)", timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0
