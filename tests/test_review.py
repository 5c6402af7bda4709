"""The weekly review: cells on the newest snapshot, edit forms that follow their cell, presentation mode, and the
meeting pack (PPTX and PDF) checked for what a VP would see: formatted numbers, slides that fit, Unicode text."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import kpi_core as K
from kpi_core import cli
from kpi_core import periods as P
from kpi_core.formatting import format_delta, format_value, screen_format
from kpi_core.notebook import PLACEHOLDERS, WEEKLY_REVIEW, Cell, Notebook
from kpi_core.snapshots import SnapshotStore, sample_home
from sample_data import load_sample
from sample_data.history import seed_store
from tests.conftest import ROOT, SHARED
from tests.test_app import _isolated  # noqa: F401  (the same isolation: caches, profiles, pages folder)
from ui import deck, review

NOTES = {"this-week": "Two wins closed; EMEA slipped a week.", "actions": "Ben: call Acme by Friday."}
WRITTEN = Notebook(
    WEEKLY_REVIEW.name, tuple(replace(c, text=NOTES[c.id]) if c.id in NOTES else c for c in WEEKLY_REVIEW.cells)
)
"""The shipped notebook once the team has written its notes: every cell has a slide on the sample company."""
UNICODE = "Zürich – 東京 – Łódź ✓ €"
GREEK, CYRILLIC = "Καλημέρα κόσμε", "Привет, мир"
EMU = 914400


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KPI_WORKBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    store = SnapshotStore(tmp_path_factory.mktemp("history"))
    seed_store(store, load_sample())
    return store


@pytest.fixture(scope="module")
def history(store: SnapshotStore) -> review.ReviewData:
    """The sample company's last week, loaded as the page and the CLI load it."""
    ordered = [s.id for s in store.list()]
    data, refused = review.load_review(store, ordered, len(ordered) - 1, company="Sample company")
    assert refused is None
    return data


@pytest.fixture(scope="module")
def results(history: review.ReviewData) -> list[review.CellResult]:
    return [review.run_cell(cell, history) for cell in WRITTEN.cells]


@pytest.fixture(scope="module")
def deck_bytes(history: review.ReviewData, results: list[review.CellResult]) -> bytes:
    return review.pptx(WEEKLY_REVIEW.name, results, history.quality_note, history.latest.as_of, data=history)


def test_every_default_cell_runs(results: list[review.CellResult]) -> None:
    kinds = [(r.kind, r.chart is not None, r.table is not None and r.table.height > 0) for r in results]
    assert kinds == [
        ("note", False, False),
        ("scorecard", False, False),
        ("waterfall", True, True),
        ("funnel", True, False),
        ("stalled", False, True),
        ("segment_chart", True, True),
        ("forecast", True, True),
        ("note", False, False),
    ]
    assert [r.cell_id for r in results] == [c.id for c in WEEKLY_REVIEW.cells]
    assert [r.left_out for r in results] == [None] * 8  # everything can be made from the sample's thirteen weeks
    waterfall = results[2]
    assert [m.label for m in waterfall.metrics] == ["Start", "End"]
    assert waterfall.note == "Sample company 2026-11-13 to Sample company 2026-11-20, open pipeline closing in 2026-Q4"
    assert waterfall.table is not None and waterfall.table.columns == ["What happened", "Deal", "Owner", "Amount"]
    assert waterfall.details is not None and {"Won", "Lost", "New"} <= set(waterfall.details.frame["What happened"])
    assert waterfall.details.columns[:6] == ["Deal id", "What happened", "Deal", "Owner", "Before", "Now"]
    assert waterfall.details.frame["Times pushed"].max() >= 1
    forecast = results[6]
    assert [m.label for m in forecast.metrics] == ["Accuracy, 2026-10", "Forecast at the start", "Won"]
    assert forecast.table is not None and forecast.table.frame["Period"].to_list() == ["2026-09", "2026-10"]
    assert forecast.table.cells() == [
        ["2026-09", "28 Aug 2026", "$7,765,857", "$7,187,190", "91.9%"],
        ["2026-10", "25 Sep 2026", "$4,851,558", "$4,725,290", "97.3%"],
    ]


def test_scorecard_cards_keep_the_kpi_order_and_colour_deltas_by_direction(
    history: review.ReviewData, results: list[review.CellResult]
) -> None:
    cell = WEEKLY_REVIEW.cells[1]
    period = P.make(history.latest.as_of, "quarter")
    frame = K.report(history.latest, list(cell.kpis), grain="quarter", periods=[period]).frame
    rows = {r["kpi"]: r for r in frame.filter(pl.col("stage").is_null()).iter_rows(named=True)}
    expected = []
    for kpi_id in cell.kpis:  # the order the cell asked for, not the registry's
        kpi, row = K.get(kpi_id), rows[kpi_id]
        delta = None if kpi_id in ("pipeline_coverage", "weighted_pipeline") else row["delta"]  # open pipeline
        expected.append(
            (
                kpi.label,
                format_value(row["value"], kpi.unit, compact=True),
                format_delta(delta, kpi.unit),
                "neutral" if delta is None else "good" if (delta > 0) == (kpi.direction == "up") else "bad",
            )
        )
    assert [(m.label, m.value, m.delta, m.tone) for m in results[1].metrics] == expected
    assert [m.status for m in results[1].metrics] == [None, "at risk", "on track", None, None, None]
    assert [m.compared for m in results[1].metrics] == [
        "vs 2026-Q3",
        "vs 2026-Q3",
        "no comparison yet (history since 28 Aug)",  # Q3 at the same point is before the kept history
        "no comparison yet (history since 28 Aug)",
        "vs 2026-Q3",
        "vs 2026-Q3",
    ]
    # 2026-Q4 runs (51 of 92 days): a total's sparkline shows the seven complete quarters before it, never a drop
    # that is only the calendar; win rate keeps Q4 as its last point, drawn apart; open pipeline has no history yet
    assert [(len(m.spark), m.spark_end) for m in results[1].metrics] == [
        (7, "left out"),
        (7, "left out"),
        (0, "complete"),
        (0, "complete"),
        (8, "to date"),
        (7, "left out"),
    ]
    trailing = [P.shift(period, -i) for i in reversed(range(8))]
    series = K.report(history.latest, ["won_revenue", "win_rate"], grain="quarter", periods=trailing).frame
    revenue = series.filter(pl.col("kpi") == "won_revenue")
    assert results[1].metrics[0].spark == tuple(revenue["value"].to_list()[:-1])
    assert results[1].metrics[4].spark == tuple(series.filter(pl.col("kpi") == "win_rate")["value"].to_list())
    assert results[1].note == (
        "2026-Q4 (to date), compared with 2026-Q3 at the same point; sparklines of totals: complete quarters"
    )
    assert expected[-1][3] == "bad" and expected[0][3] == "good"  # fewer new opportunities: red; more revenue: green


def test_the_review_target_status_is_the_scorecard_tiles(history: review.ReviewData) -> None:
    """One rule for the review's cards and the scorecard's tiles (kpi_core.registry), checked by hand."""
    from ui import tiles

    assert review.target_status is tiles.target_status
    cases = {
        ("quota_attainment", 0.45, 0.5): "at risk",  # pace 0.9
        ("quota_attainment", 0.5, 0.5): "on track",
        ("quota_attainment", 0.2, 0.5): "off track",
        ("pipeline_coverage", 3.0, 0.1): "on track",
        ("pipeline_coverage", 2.9, 1.0): "at risk",
        ("pipeline_coverage", 1.9, 1.0): "off track",
        ("win_rate", 0.9, 1.0): None,
        ("quota_attainment", None, 1.0): None,
    }
    assert {case: review.target_status(*case) for case in cases} == cases


def _sprintf(fmt: str, value: float) -> str:
    """What sprintf-js (the screen table's formatter) prints for the printf formats screen_format makes."""
    match = re.fullmatch(r"(?P<pre>[^%]*)%(?P<comma>,?)\.(?P<digits>\d)f(?P<post>.*)", fmt)
    assert match, fmt
    number = f"{abs(value):{',' if match['comma'] else ''}.{match['digits']}f}"
    return match["pre"] + ("-" if value < 0 else "") + number + match["post"].replace("%%", "%")


@pytest.mark.parametrize("currency", ["USD", "EUR", "CHF"])
@pytest.mark.parametrize(
    ("unit", "values"),
    [
        ("currency", [0.0, 128380.0, 7765857.4, 1234567890.0]),
        ("percent", [0.0, 0.91948, 0.0005, 1.25]),
        ("days", [0.0, 12.35, 1234.5]),
        ("hours", [0.4, 36.0]),
        ("ratio", [0.5, 10.130774]),
        ("count", [0.0, 462.0, 12345.0]),
        ("currency_per_day", [1234.6, 99.0]),
    ],
)
def test_screen_tables_show_what_the_slides_show(currency: str, unit: str, values: list[float]) -> None:
    """The screen's column format (a printf string, percent shown x100) prints the slides' text."""
    table = review.Table(pl.DataFrame({"x": values}), {"x": unit}, currency)
    screen = table.screen()["x"].to_list()
    assert [_sprintf(screen_format(unit, currency) or "", v) for v in screen] == [row[0] for row in table.cells()]


def test_a_table_downloads_as_xlsx_with_numbers_and_formats(results: list[review.CellResult]) -> None:
    from kpi_core.export import to_xlsx

    table = results[6].table
    assert table is not None
    data = to_xlsx(table.frame, units=table.units, currency=table.currency)
    read = pl.read_excel(io.BytesIO(data))
    assert read.columns == ["Period", "Forecast made", "Forecast", "Won", "Accuracy"]
    assert read["Accuracy"].to_list() == pytest.approx(table.frame["Accuracy"].to_list())  # numbers, not text
    styles = zipfile.ZipFile(io.BytesIO(data)).read("xl/styles.xml").decode()
    formats = sorted(set(re.findall(r'formatCode="([^"]+)"', styles)))
    assert formats == ["&quot;$&quot;#,##0", "0.0%", "d mmm yyyy"]


# --- the deck ---


def _deck(data: bytes) -> Any:
    from pptx import Presentation

    return Presentation(io.BytesIO(data))


def _texts(slide: Any) -> list[str]:
    out = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            out += [p.text for p in shape.text_frame.paragraphs]
        if getattr(shape, "has_table", False) and shape.has_table:
            out += [cell.text for row in shape.table.rows for cell in row.cells]
    return out


def _shape(slide: Any, name: str) -> list[Any]:
    return [s for s in slide.shapes if s.name == name]


def _box(shape: Any) -> tuple[float, float, float, float]:
    return shape.left / EMU, shape.top / EMU, (shape.left + shape.width) / EMU, (shape.top + shape.height) / EMU


def test_the_deck_is_16_9_with_a_title_slide_and_a_slide_per_cell(deck_bytes: bytes) -> None:
    pack = _deck(deck_bytes)
    assert (round(pack.slide_width / EMU, 3), round(pack.slide_height / EMU, 3)) == (13.333, 7.5)  # 16:9
    slides = list(pack.slides)
    titles = [_shape(s, "title")[0].text_frame.text for s in slides]
    assert titles == [
        "Weekly pipeline review",
        *[c.title for c in WEEKLY_REVIEW.cells],
        "Appendix: What changed since last week",
        "Appendix: What changed since last week",
        "Appendix: Stalled deals to unblock",
        "Appendix: Stalled deals to unblock",
    ]
    cover = {s.name: s.text_frame.text for s in slides[0].shapes if s.has_text_frame and s.text_frame.text}
    assert cover == {
        "company": "Sample company",
        "title": "Weekly pipeline review",
        "week": "Week 47, 2026 · as of Friday 20 November 2026",
        "source": "Data: Sample company 2026-11-20, compared with Sample company 2026-11-13 (13 weekly snapshots kept)",
        "quality": "No data-quality warnings",
    }
    pages = [_shape(s, "page")[0].text_frame.text for s in slides[1:]]
    assert pages == [f"{n} / {len(slides)}" for n in range(2, len(slides) + 1)]
    footers = {_shape(s, "footnote")[0].text_frame.text for s in slides[1:]}
    assert footers == {"Data as of 20 Nov 2026 (Sample company 2026-11-20); no data-quality warnings"}


def _check_layout(data: bytes) -> None:
    """Nothing leaves a slide; nothing overlaps (but a card holds its texts); every line fits its box's width
    (measured with the deck's font) and a box is as tall as its lines; a table ends above the footer, with rows
    of one height and cells whose text fits (nothing wraps)."""
    pack = _deck(data)
    width, height = pack.slide_width / EMU, pack.slide_height / EMU
    measure = deck.Measure.for_pptx()
    for number, slide in enumerate(pack.slides, start=1):
        boxes = [(s.name, _box(s)) for s in slide.shapes]
        outside = [(n, b) for n, b in boxes if b[0] < 0 or b[1] < 0 or b[2] > width + 1e-6 or b[3] > height + 1e-6]
        assert outside == [], number
        clashes = []
        for i, (a, (ax0, ay0, ax1, ay1)) in enumerate(boxes):
            for b, (bx0, by0, bx1, by1) in boxes[i + 1 :]:
                overlap = min(ax1, bx1) - max(ax0, bx0) > 1e-3 and min(ay1, by1) - max(ay0, by0) > 1e-3
                contained = (ax0 <= bx0 and ay0 <= by0 and bx1 <= ax1 + 1e-6 and by1 <= ay1 + 1e-6) or (
                    bx0 <= ax0 and by0 <= ay0 and ax1 <= bx1 + 1e-6 and ay1 <= by1 + 1e-6
                )
                if overlap and not contained:
                    clashes.append((a, b))
        assert clashes == [], (number, clashes)
        rule = _shape(slide, "rule")
        for shape in slide.shapes:
            if shape.has_text_frame and shape.text_frame.text:
                paragraphs = shape.text_frame.paragraphs
                size = paragraphs[0].runs[0].font.size.pt
                bold = bool(paragraphs[0].runs[0].font.bold)
                assert shape.height / EMU >= deck.line_height(size) * len(paragraphs) - 1e-3, (number, shape.name)
                for p in paragraphs:
                    assert measure.width(p.text, size, bold) <= shape.width / EMU + 1e-3, (number, p.text)
            if shape.has_table:
                table = shape.table
                heights = {row.height for row in table.rows}
                assert len(heights) == 1 and shape.height == sum(row.height for row in table.rows)
                assert rule and shape.top + shape.height <= rule[0].top, number  # above the footer
                for row in table.rows:
                    for j, cell in enumerate(row.cells):
                        run = cell.text_frame.paragraphs[0].runs[0]
                        room = table.columns[j].width / EMU - 2 * deck.CELL_PAD
                        assert measure.width(cell.text, run.font.size.pt, bool(run.font.bold)) <= room, cell.text


def test_the_sample_pack_fits_its_slides(deck_bytes: bytes) -> None:
    _check_layout(deck_bytes)


def test_a_crowded_pack_still_fits(history: review.ReviewData) -> None:
    """Twelve KPIs, a long title and commentary, 40 reps in a table, a forecast by region: still nothing off a
    slide, nothing over anything, every table in its budget."""
    long = "A very long title for a cell that someone typed without thinking about the width of a slide at all"
    commentary = " ".join(["The pipeline moved a lot this week and we need to talk about why."] * 8)
    per_stage = {"stage_conversion", "time_in_stage_days"}
    kpis = [k.id for k in K.REGISTRY if k.id not in per_stage and not K.availability(history.latest, [k.id])][:12]
    book = Notebook(
        "Crowded",
        (
            Cell("scorecard", long, kpis=tuple(kpis), text=commentary, id="s"),
            Cell(
                "segment_chart", "Win rate by owner", kpis=("win_rate",), dimension="owner", text="Two lines.\nOf text."
            ),
            Cell("forecast", "Forecast by region", grain="month", dimension="region", id="f"),
            Cell("waterfall", "What changed", text=commentary, id="w"),
            Cell("stalled", "Stalled", period="2026", grain="year", id="t"),
            Cell("note", long, text=commentary * 3, id="n"),
        ),
    )
    results = [review.run_cell(cell, history) for cell in book.cells]
    assert [m.label for m in results[0].metrics] == [K.get(k).label for k in kpis] and len(kpis) == 12
    assert results[1].table is not None and results[1].table.height == 40
    data = review.pptx(long, results, history.quality_note, history.latest.as_of, data=history)
    _check_layout(data)
    titles = [_shape(s, "title")[0].text_frame.text for s in _deck(data).slides]
    assert all(t.endswith("…") for t in (titles[0], titles[1], titles[6]))  # shortened, never wrapped off


def test_numbers_are_formatted_and_equal_the_screen(deck_bytes: bytes, results: list[review.CellResult]) -> None:
    pack = _deck(deck_bytes)
    slides = list(pack.slides)
    everything = [t for s in slides for t in _texts(s)] + [s.notes_slide.notes_text_frame.text for s in slides]
    assert [t for t in everything if re.search(r"\b(None|nan|NaN|inf|null)\b", t)] == []
    # the scorecard's cards: each value under its label, as on screen; percent ends in %, money has its symbol
    cards = slides[2]
    labels = [s.text_frame.text for s in _shape(cards, "label")]
    values = [s.text_frame.text for s in _shape(cards, "value")]
    assert list(zip(labels, values, strict=True)) == [(m.label, m.value) for m in results[1].metrics]
    for metric in results[1].metrics:
        unit = next(k.unit for k in K.REGISTRY if k.label == metric.label)
        if unit == "percent":
            assert metric.value.endswith("%") and (not metric.delta or metric.delta.endswith(" pp"))
        if unit == "currency":
            assert metric.value.startswith("$") and (not metric.delta or metric.delta[1] == "$")
    deltas = [
        (s.text_frame.text, str(s.text_frame.paragraphs[0].runs[0].font.color.rgb)) for s in _shape(cards, "delta")
    ]
    assert deltas == [
        (m.delta, deck.TONES[m.tone]) for m in results[1].metrics if m.delta
    ]  # green when good, red when bad
    assert [s.text_frame.text for s in _shape(cards, "status")] == ["● At risk", "● On track"]
    assert len(_shape(cards, "sparkline")) == 4
    # win rate's running quarter: two dashes, then the last dash into a hollow ring, in the lighter accent
    ends = _shape(cards, "sparkline-to-date")
    assert [str(s.line.color.rgb) for s in ends] == [deck.SPARK_TO_DATE] * 3
    # tables: the screen table's first rows, cell for cell (numbers whole; long names shortened with an ellipsis)
    for slide, result in ((slides[3], results[2]), (slides[5], results[4]), (slides[7], results[6])):
        table = next(s for s in slide.shapes if s.has_table).table
        shown = [[c.text for c in row.cells] for row in table.rows]
        assert result.table is not None and shown[0] == result.table.columns
        for got, want in zip(shown[1:], result.table.cells(), strict=False):
            for g, w, unit in zip(got, want, [result.table.unit(c) for c in result.table.columns], strict=True):
                assert g == w if unit != "text" else (g == w or (g.endswith("…") and w.startswith(g[:-1]))), (g, w)
            for g, unit in zip(got, [result.table.unit(c) for c in result.table.columns], strict=True):
                assert unit != "currency" or g.startswith("$") or g == "—"
                assert unit != "percent" or g.endswith("%")
    assert any(c.endswith("…") for c in _texts(slides[3])), "long deal names are shortened"


def test_rows_that_do_not_fit_go_to_the_appendix(deck_bytes: bytes, results: list[review.CellResult]) -> None:
    slides = list(_deck(deck_bytes).slides)
    stalled = slides[5]
    shown = len(next(s for s in stalled.shapes if s.has_table).table.rows) - 1
    more = _shape(stalled, "more")[0].text_frame.text
    total = results[4].table.height  # type: ignore[union-attr]
    assert more == f"and {total - shown:,} more deals: the next 32 in the appendix (slides 12–13), all in the download"
    first, second = slides[11], slides[12]
    assert _shape(first, "subtitle")[0].text_frame.text == f"Deals {shown + 1}–{shown + 16} of {total}"
    appendix_rows = [[c.text for c in row.cells] for row in next(s for s in first.shapes if s.has_table).table.rows]
    assert [r[3] for r in appendix_rows[1:]] == [r[3] for r in results[4].table.cells()[shown : shown + 16]]  # type: ignore[union-attr]
    assert _shape(second, "more")[0].text_frame.text == (
        f"and {total - shown - 32:,} more deals: every row is in the table's download on the Weekly review page"
    )


def test_speaker_notes_hold_commentary_definitions_and_data_quality(history: review.ReviewData) -> None:
    book = Notebook(
        "Mine",
        (
            Cell("waterfall", "What changed", text="Two big losses in EMEA.\nCall them back.", id="w"),
            Cell("scorecard", "Numbers", kpis=("win_rate", "won_revenue"), text="Win rate is up.", id="s"),
        ),
    )
    results = [review.run_cell(cell, history) for cell in book.cells]
    assert [r.text for r in results] == ["Two big losses in EMEA.\nCall them back.", "Win rate is up."]
    assert [m.label for m in results[1].metrics] == ["Win rate (count)", "Total revenue (won)"]
    slides = list(_deck(review.pptx("Mine", results, history.quality_note, history.latest.as_of)).slides)
    assert [_shape(s, "commentary-text")[0].text_frame.text for s in slides[1:3]] == [
        "Two big losses in EMEA.\nCall them back.",
        "Win rate is up.",
    ]
    notes = slides[2].notes_slide.notes_text_frame.text
    win_rate = K.get("win_rate")
    assert notes == "\n\n".join(
        [
            "Numbers",
            "Win rate is up.",
            "2026-Q4 (to date), compared with 2026-Q3 at the same point; sparklines of totals: complete quarters",
            "Definitions:\n"
            f"- {win_rate.label}: {win_rate.meaning} Formula: {win_rate.formula}.\n"
            f"- {review.definition('won_revenue')}",
            "Data quality: Data as of 20 Nov 2026 (Sample company 2026-11-20); no data-quality warnings.",
        ]
    )
    assert "Call them back." in slides[1].notes_slide.notes_text_frame.text
    assert review.WATERFALL_DEFINITION in slides[1].notes_slide.notes_text_frame.text


def test_a_cell_that_cannot_run_is_named_on_the_cover_not_given_a_slide(history: review.ReviewData) -> None:
    alone = replace(history, previous=None, previous_label=None)
    book = Notebook(
        "x",
        (
            Cell("waterfall", "What changed", id="w"),
            Cell("funnel", "Funnel", id="f"),
            Cell("note", "Actions", id="actions"),
            Cell("segment_chart", "Win rate by planet", kpis=("win_rate",), dimension="planet", id="p"),
            Cell("scorecard", "Q9", kpis=("win_rate",), period="2026-Q9", id="q"),
        ),
    )
    results = [review.run_cell(cell, alone) for cell in book.cells]
    assert [r.left_out for r in results] == [
        review.LeftOut(
            "What changed needs two kept snapshots of this pipeline: keep next week's export beside this one.",
            review.NEXT_WEEK,
        ),
        None,
        review.LeftOut("Actions: no text yet.", review.UNWRITTEN),
        review.LeftOut(
            "This data has no planet column: Win rate by planet splits by planet and is left out (choose another "
            "dimension in Edit this cell, or keep an export that has it).",
            review.NOT_IN_DATA,
            "no planet column",
        ),
        review.LeftOut(
            "'2026-Q9' is not a period label; use e.g. 2026-W47, 2026-11, 2026-Q4, FY2027-Q1, 2026 or all",
            review.SETTINGS,
        ),
    ]
    assert results[0].note == results[0].left_out.why  # type: ignore[union-attr]  # the screen says why
    slides = list(_deck(review.pptx("x", results, "footnote", history.latest.as_of, data=alone)).slides)
    assert [_shape(s, "title")[0].text_frame.text for s in slides] == ["x", "Funnel"]
    assert _shape(slides[0], "left-out")[0].text_frame.text == (
        "Next week, with two kept snapshots: What changed\nNot in this data: Win rate by planet (no planet column)\n"
        "To fix in the cell's settings: Q9"
    )
    notes = slides[0].notes_slide.notes_text_frame.text
    assert notes.endswith(
        "Not in this pack:\n"
        "Next week, with two kept snapshots: What changed\n"
        "Not in this data: Win rate by planet (no planet column)\n"
        "To fix in the cell's settings: Q9\n"
        "Notes with no text yet: Actions\n"
        f"- What changed: {results[0].left_out.why}\n"  # type: ignore[union-attr]
        f"- Actions: {results[2].left_out.why}\n"  # type: ignore[union-attr]
        f"- Win rate by planet: {results[3].left_out.why}\n"  # type: ignore[union-attr]
        f"- Q9: {results[4].left_out.why}"  # type: ignore[union-attr]
    )


# --- the PDF ---


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def unicode_results(history: review.ReviewData) -> list[review.CellResult]:
    book = Notebook(
        "Ünïcode",
        (
            Cell("note", UNICODE, text=f"{UNICODE}\n{GREEK}\n{CYRILLIC}", id="u"),
            Cell("stalled", "Stalled", text=f"{GREEK} · {CYRILLIC}", id="s"),
        ),
    )
    return [review.run_cell(cell, history) for cell in book.cells]


def test_the_pdf_embeds_a_unicode_font(history: review.ReviewData, unicode_results: list[review.CellResult]) -> None:
    fonts = deck.PdfFonts.find()
    if fonts.regular is None:
        pytest.skip("DejaVu Sans is not installed (Debian: fonts-dejavu-core; .ci/run installs it)")
    data = review.pdf("Ünïcode pack", unicode_results, history.quality_note, history.latest.as_of, data=history)
    assert b"/FontFile2" in data and b"DejaVuSans" in data  # embedded, not a core font
    text = _pdf_text(data)
    for sample in ("Zürich", "Łódź", "✓", "€", GREEK, CYRILLIC, "Ünïcode pack", "Sample company"):
        assert sample in text, sample
    if fonts.cjk is not None:
        assert UNICODE in text
    else:  # no Noto CJK font here: the PDF says so instead of printing question marks
        assert "Zürich – □□ – Łódź ✓ €" in text  # the rest of the line intact, no question marks
        assert "2 CJK character(s) are shown as □: no Noto CJK font is installed" in text.replace("\n", " ")
    assert "$135,860" in text  # the stalled table's first amount, with its symbol


def test_cjk_text_uses_a_cjk_font_when_one_is_installed(
    monkeypatch: pytest.MonkeyPatch, history: review.ReviewData, unicode_results: list[review.CellResult]
) -> None:
    """With a CJK font (Debian's Noto CJK; on a machine without it, any installed CJK font stands in) the
    characters round-trip."""
    candidates = [*deck.CJK_FONTS, "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"]
    found = [c for c in candidates if Path(c).exists()]
    if not found or deck.PdfFonts.find().regular is None:
        pytest.skip("no CJK font on this machine")
    monkeypatch.setattr(deck, "CJK_FONTS", (found[0],))
    deck._coverage.cache_clear()
    data = review.pdf("CJK", unicode_results, history.quality_note, history.latest.as_of)
    text = _pdf_text(data)
    assert UNICODE in text and "□" not in text


def test_without_dejavu_the_pdf_falls_back_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    history: review.ReviewData,
    unicode_results: list[review.CellResult],
) -> None:
    monkeypatch.setattr(deck, "DEJAVU", tmp_path)
    monkeypatch.setattr(deck, "CJK_FONTS", ())
    deck._coverage.cache_clear()
    data = review.pdf("Fallback", unicode_results, history.quality_note, history.latest.as_of)
    text = _pdf_text(data).replace("\n", " ")
    assert "This PDF uses the core Helvetica font (Latin-1 only): install DejaVu Sans" in text
    assert "Z?rich" not in text and "Zürich" in text and "?ód?" in text  # Latin-1 kept, the rest marked


def test_the_pdf_has_the_decks_pages_and_charts(
    history: review.ReviewData, results: list[review.CellResult], deck_bytes: bytes
) -> None:
    from pypdf import PdfReader

    document = review.pdf("Weekly pipeline review", results, history.quality_note, history.latest.as_of, data=history)
    pages = PdfReader(io.BytesIO(document)).pages
    assert len(pages) == len(_deck(deck_bytes).slides)
    assert {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in pages} == {(960, 540)}  # 16:9
    assert len(re.findall(rb"/Subtype /Image", document)) == sum(r.chart is not None for r in results)
    text = _pdf_text(document)
    for metric in results[1].metrics:
        assert metric.value in text
    stalled = results[4].table
    assert stalled is not None and f"and {stalled.height - 10:,} more deals" in text


# --- the page ---


def _cell_inputs(at: AppTest, cell_id: str) -> dict[str, object]:
    generation = at.session_state["review_generation"]
    key = f"{generation}_{cell_id}"
    return {
        "title": at.text_input(key=f"title_{key}").value,
        "kpis": list(at.multiselect(key=f"kpis_{key}").value),
        "text": at.text_area(key=f"text_{key}").value,
    }


def _book(at: AppTest) -> Notebook:
    return Notebook.from_json(at.session_state["review_book"])


def test_edit_forms_follow_their_cell(home: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/review.py").run()
    assert not at.exception
    assert [s.value for s in at.subheader] == [c.title for c in WEEKLY_REVIEW.cells]
    before = {c.id: c for c in _book(at).cells}
    at.button(key="down_this-week").click().run()
    assert [c.id for c in _book(at).cells][:2] == ["where-we-stand", "this-week"]
    assert [s.value for s in at.subheader][:2] == ["Where we stand", "This week"]
    assert _cell_inputs(at, "this-week") == {"title": "This week", "kpis": [], "text": ""}  # its hint is no text
    generation = at.session_state["review_generation"]
    assert at.text_area(key=f"text_{generation}_this-week").placeholder == (
        "What moved in the pipeline since last week, and what we do about it."
    )
    assert _cell_inputs(at, "where-we-stand") == {
        "title": "Where we stand",
        "kpis": list(WEEKLY_REVIEW.cells[1].kpis),
        "text": "",
    }
    # Apply with nothing changed changes nothing
    at.button(key="apply_this-week").click().run()
    assert {c.id: c for c in _book(at).cells} == before
    # an edit changes its own cell only, and the KPI order chosen is kept
    generation = at.session_state["review_generation"]
    at.text_input(key=f"title_{generation}_where-we-stand").set_value("Where we stand now")
    at.multiselect(key=f"kpis_{generation}_where-we-stand").set_value(["win_rate", "won_revenue"])
    at.text_area(key=f"text_{generation}_where-we-stand").set_value("Win rate up again.")
    at.button(key="apply_where-we-stand").click().run()
    after = {c.id: c for c in _book(at).cells}
    assert after["where-we-stand"] == replace(
        before["where-we-stand"],
        title="Where we stand now",
        kpis=("win_rate", "won_revenue"),
        text="Win rate up again.",
    )
    assert {k: v for k, v in after.items() if k != "where-we-stand"} == {
        k: v for k, v in before.items() if k != "where-we-stand"
    }
    assert [m.label for m in at.metric][:2] == ["Win rate (count)", "Total revenue (won)"]
    assert any(i.value == "Win rate up again." for i in at.info)  # the commentary, on screen
    # removing and adding cells leaves the others as they were
    at.button(key="remove_stalled").click().run()
    assert at.selectbox(key="new_kind").options == [
        "KPI cards",
        "What changed in the pipeline",
        "Stage funnel",
        "Stalled deals",
        "A KPI by segment",
        "Forecast accuracy",
        "Text",
    ]  # in words, never the cell kinds' ids
    at.selectbox(key="new_kind").set_value("note").run()
    at.button(key="add_cell").click().run()
    cells = _book(at).cells
    assert [c.id for c in cells][:-1] == [i for i in after if i != "stalled"]
    assert {c.id: c for c in cells[:-1]} == {k: v for k, v in after.items() if k != "stalled"}
    assert cells[-1].kind == "note" and cells[-1].id not in after and cells[-1].title == "Text"
    assert _cell_inputs(at, "actions")["title"] == "Actions"


def test_the_screen_shows_what_the_slides_show(home: Path, results: list[review.CellResult]) -> None:
    """The page's numbers are the pack's strings: metrics as they are, tables through their column formats."""
    import json

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/review.py").run()
    assert [(m.label, m.value) for m in at.metric] == [(m.label, m.value) for r in results for m in r.metrics]
    tables = [r.table for r in results if r.table is not None]
    frames = list(at.main.dataframe)[: len(tables) + 1]  # the waterfall's deals behind each bar come second
    for table, shown in zip(tables, [frames[0], *frames[2:]], strict=True):
        config = json.loads(shown.proto.columns)
        screen = []
        for j, column in enumerate(table.columns):
            kind = config.get(column, {}).get("type_config", {})
            values = shown.value[column].to_list()
            if kind.get("type") == "number":
                screen.append([_sprintf(kind["format"], v) if v == v else "—" for v in values])
            elif kind.get("type") == "date":
                assert kind["format"] == "D MMM YYYY"
                screen.append([row[j] for row in table.cells()])  # formatted in the browser (see the slides' test)
            else:
                screen.append(["—" if v is None else str(v) for v in values])
        assert [list(row) for row in zip(*screen, strict=True)] == table.cells()


def test_another_notebook_gets_fresh_forms(home: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/review.py").run()
    generation = at.session_state["review_generation"]
    at.text_input(key=f"title_{generation}_actions").set_value("Next steps")
    at.button(key="apply_actions").click().run()
    at.text_input(key="save_name").set_value("Friday review").run()
    at.button(key="save_book").click().run()
    assert (home / "notebooks" / "friday-review.json").exists()
    saved = Notebook.from_json((home / "notebooks" / "friday-review.json").read_text())
    assert [c.id for c in saved.cells] == [c.id for c in WEEKLY_REVIEW.cells]  # ids are saved with the cells
    # the shipped notebook again: its own values, although its cells have the same ids
    at.selectbox(key="review_notebook").set_value("Weekly pipeline review").run()
    at.selectbox(key="review_notebook").set_value("Friday review").run()
    assert at.session_state["review_generation"] > generation
    assert _cell_inputs(at, "actions")["title"] == "Next steps"
    # a half-typed edit in one notebook does not show up in another's form
    generation = at.session_state["review_generation"]
    at.text_input(key=f"title_{generation}_actions").set_value("typed, not applied").run()
    at.selectbox(key="review_notebook").set_value("Weekly pipeline review").run()
    assert _cell_inputs(at, "actions")["title"] == "Actions"


def test_presentation_mode(home: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/review.py").run()
    at.button(key="present").click().run()
    assert at.query_params["present"] in (["1"], "1")
    html = [h.proto.body for h in at.get("html")]
    # the shipped notes are not written yet: Present starts with the first cell that has something to show
    assert '<p class="present-title">Where we stand</p>' in html
    assert not any("What moved in the pipeline" in h or "Owner, action, date" in h for h in html)
    assert not at.main.text_input and not at.main.multiselect  # no editing controls while presenting
    cards = next(h for h in html if 'class="present-cards"' in h)
    assert [re.sub(r"<[^>]+>", "", v) for v in re.findall(r'<div class="value">(.*?)</div>', cards)] == [
        "$7.6M",
        "51.7%",
        "3.01x",
        "$8.1M",
        "37.8%",
        "1,550",
    ]
    assert 'style="color: #C24A00">-466</span>' in cards  # fewer new opportunities: bad news, in red
    # sparklines of revenue, attainment, win rate and new opportunities: win rate's running quarter drawn apart
    assert re.findall(r'alt="(trend[^"]*)"', cards) == ["trend", "trend", "trend, the last point to date", "trend"]
    titles = []
    for _ in range(8):
        titles += [
            re.sub(r"<[^>]+>", "", h)
            for h in (h.proto.body for h in at.get("html"))
            if h.startswith('<p class="present-title">')
        ]
        if at.button(key="next").disabled:
            break
        at.button(key="next").click().run()
    assert titles == [c.title for c in WEEKLY_REVIEW.cells if c.kind != "note"]  # the deck's slides, in order
    at.button(key="exit_present").click().run()
    assert "present" not in at.query_params
    assert [s.value for s in at.subheader][:1] == ["This week"]


def test_sparklines_draw_a_running_periods_last_point_apart() -> None:
    """Present mode's SVG and the slides' lines: a rate's running period is a dashed, lighter last segment into a
    hollow ring, the line before it solid; complete periods (or a total without its running period) one line."""
    from xml.etree import ElementTree

    from ui import present

    def svg(html: str) -> list[tuple[str, dict[str, str]]]:
        data = re.search(r"base64,([^\"]+)", html)
        assert data is not None
        root = ElementTree.fromstring(base64.b64decode(data.group(1)))
        return [(e.tag.split("}")[-1], e.attrib) for e in root]

    values = [0.30, 0.40, 0.35]
    whole = svg(present.sparkline(values, width=100, height=40))
    assert [(tag, a["points"]) for tag, a in whole] == [("polyline", "4.0,36.0 50.0,4.0 96.0,20.0")]
    apart = svg(present.sparkline(values, width=100, height=40, end="to date"))
    assert apart == [
        ("polyline", {"points": "4.0,36.0 50.0,4.0", "fill": "none", "stroke": "#0072B2", "stroke-width": "2.5"}),
        (
            "line",
            {
                "x1": "50.0",
                "y1": "4.0",
                "x2": "96.0",
                "y2": "20.0",
                "stroke": present.SPARK_TO_DATE,
                "stroke-width": "2.5",
                "stroke-dasharray": "4 3",
            },
        ),
        (
            "circle",
            {"cx": "96.0", "cy": "20.0", "r": "3.2", "fill": "white", "stroke": "#0072B2", "stroke-width": "1.8"},
        ),
    ]
    lines = deck._sparkline(values, 1.0, 2.0, 2.0, 0.5, end="to date")
    assert [(p.name, p.color, len(p.points)) for p in lines] == [
        ("sparkline", deck.ACCENT, 2),
        ("sparkline-to-date", deck.SPARK_TO_DATE, 2),
        ("sparkline-to-date", deck.SPARK_TO_DATE, 2),
        ("sparkline-to-date", deck.SPARK_TO_DATE, 18),
    ]
    assert lines[0].points == ((1.0, 2.5), (2.0, 2.0))
    ring = lines[-1].points[1:]
    centre = (sum(x for x, _ in ring[:-1]) / 16, sum(y for _, y in ring[:-1]) / 16)
    assert centre == pytest.approx((3.0, 2.25))  # the running quarter's point
    assert [(p.name, len(p.points)) for p in deck._sparkline(values, 1.0, 2.0, 2.0, 0.5)] == [("sparkline", 3)]


def test_present_affects_only_the_review_page(home: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception
    assert "present" not in at.query_params  # the scorecard drops it: its navigation stays
    assert [t.value for t in at.title] == ["Scorecard"]


# --- the command ---


def _slide_texts(data: bytes) -> list[list[str]]:
    return [_texts(s) for s in _deck(data).slides]


def test_the_pack_command(home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "pack.pptx"
    assert cli.main(["pack", "--format", "pptx", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"error: no snapshots kept in {home} yet: keep each week's export as a snapshot (python -m kpi_core "
        "snapshots save EXPORT.csv, or 'Keep as the snapshot' on the Data page); the pack compares the newest "
        "with the one before it\n"
    )
    assert not out.exists()
    store = SnapshotStore(sample_home())
    seed_store(store, load_sample())
    assert cli.main(["pack", "--sample-history", "--format", "pptx", "--out", str(out)]) == 0
    assert capsys.readouterr().out == (
        f"wrote {out}: 'Weekly pipeline review', 6 of 8 cells, on Sample company 2026-11-20, compared with "
        "Sample company 2026-11-13\n"
        "  not in the pack: Notes with no text yet: This week, Actions\n"
    )
    ordered = [s.id for s in store.list()]
    data, _ = review.load_review(store, ordered, len(ordered) - 1, company="Sample company")
    results = [review.run_cell(c, data) for c in WEEKLY_REVIEW.cells]
    page = review.pptx(WEEKLY_REVIEW.name, results, data.quality_note, data.latest.as_of, data=data)
    assert _slide_texts(out.read_bytes()) == _slide_texts(page)  # the page's pack, word for word
    pdf = tmp_path / "week.pdf"
    assert cli.main(["pack", "--sample-history", "--snapshot", "2026-11-13", "--format", "pdf", "--out", str(pdf)]) == 0
    assert "Sample company 2026-11-13 (Sample company 2026-11-13)" not in capsys.readouterr().out
    assert pdf.read_bytes().startswith(b"%PDF-") and "Data as of 13 Nov 2026" in _pdf_text(pdf.read_bytes())
    assert cli.main(["pack", "--sample-history", "--notebook", "nope", "--format", "pdf", "--out", str(pdf)]) == 2
    assert capsys.readouterr().err == "error: no notebook named 'nope'\n"


def test_the_pack_command_without_the_sample_history(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["pack", "--sample-history", "--format", "pdf", "--out", str(home / "x.pdf")]) == 2
    assert capsys.readouterr().err == (
        f"error: no snapshots kept in {home / 'sample-company'} yet: fill the sample company's history first: "
        "python -m sample_data --snapshots\n"
    )


def test_earlier_weeks_read_as_their_pipeline_give_the_same_review(
    store: SnapshotStore, results: list[review.CellResult]
) -> None:
    """The page reads the weeks before the previous one as their pipeline only (less memory for big exports): every
    default cell shows the same numbers, tables and notes as with every week fully prepared."""
    ordered = [s.id for s in store.list()]
    assert len(ordered) > 3
    data, _ = review.load_review(store, ordered, len(ordered) - 1, company="Sample company", pipeline=store.pipeline)
    assert all("activities" not in d.tables and "stage_visits" in d.tables for d in data.history[:-2])
    again = [review.run_cell(cell, data) for cell in WRITTEN.cells]
    for before, after in zip(results, again, strict=True):
        assert (after.title, after.metrics, after.text, after.note, after.caveats) == (
            before.title,
            before.metrics,
            before.text,
            before.note,
            before.caveats,
        )
        for table_before, table_after in ((before.table, after.table), (before.details, after.details)):
            assert (table_before is None) == (table_after is None)
            if table_before is not None and table_after is not None:
                assert table_after.frame.equals(table_before.frame), before.title


def test_the_review_reports_what_the_import_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A week kept from a file with rows missing their amount: the review's note and warnings (the slides' footer
    and speaker notes) say so, as the Data page did, instead of 'no data-quality warnings'. The snapshot keeps the
    import's findings, whether kept from the command or the app."""
    from kpi_core.cli import main as cli

    rows = ["Opportunity Name,Stage,Amount,Created Date,Close Date"]
    rows += [
        f"Deal {i},{'Closed Won' if i % 3 else 'Prospecting'},{'' if i < 4 else 100 + i},1/15/2026,3/{i + 13}/2026"
        for i in range(12)
    ]
    export = tmp_path / "report.csv"
    export.write_text("\n".join(rows) + "\n")
    home = tmp_path / "home"
    monkeypatch.setenv("KPI_WORKBENCH_HOME", str(home))
    assert cli(["snapshots", "save", str(export), "--as-of", "2026-03-20"]) == 0
    store = SnapshotStore(home)
    kept = store.list()
    found = store.quality(kept[0].id)
    assert found is not None
    missing = found.filter(pl.col("rule") == "missing amount").row(0, named=True)
    assert (missing["severity"], missing["rows"]) == ("warning", 4)
    data, _ = review.load_review(store, [kept[0].id], 0)
    assert data.quality_note == "Data as of 20 Mar 2026 (2026-03-20 snapshot); data quality: 4 row(s) flagged"
    assert [w for w in data.warnings if "missing amount" in w] == [
        f"deals: missing amount: 4 row(s); {missing['effect']}"
    ]


# --- a deck that fits the data it has ---

REAL = SHARED / "data" / "realworld"
FIRST_WEEK = REAL / "parkbee-sf-report" / "salesforce_opportunities.csv"
"""A real Salesforce opportunity report (590 deals, one currency, no region, stage history or activities)."""
NOT_CONTENT = ("needs two snapshots", "needs two kept snapshots", "No deals were created", "needs snapshots")
"""What a slide that cannot be made used to show as its content (the title slide's speaker notes may explain it)."""


def _everything(data: bytes) -> list[str]:
    """Every text of a deck: its slides' and its speaker notes'."""
    slides = list(_deck(data).slides)
    return [t for s in slides for t in _texts(s)] + [s.notes_slide.notes_text_frame.text for s in slides]


def _cover(data: bytes) -> dict[str, str]:
    first = _deck(data).slides[0]
    return {s.name: s.text_frame.text for s in first.shapes if s.has_text_frame and s.text_frame.text}


@pytest.mark.skipif(not FIRST_WEEK.exists(), reason="the shared real-world exports are not on this machine")
def test_the_first_weeks_pack_has_only_the_slides_its_data_can_make(
    home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One real export kept, nothing before it: the pack is the scorecard and the funnel; what needs two kept weeks,
    a closed month, or a region column is named once on the title slide with when it comes; no placeholder."""
    assert cli.main(["snapshots", "save", str(FIRST_WEEK), "--name", "week 1"]) == 0
    capsys.readouterr()
    out = tmp_path / "week1.pptx"
    assert cli.main(["pack", "--format", "pptx", "--out", str(out), "--company", "ParkBee"]) == 0
    assert capsys.readouterr().out == (
        f"wrote {out}: 'Weekly pipeline review', 2 of 8 cells, on week 1, nothing to compare with\n"
        "  not in the pack: Next week, with two kept snapshots: What changed since last week, Stalled deals to "
        "unblock\n"
        "  not in the pack: From 31 Aug 2018, once 2018-08 has closed: How good was our forecast\n"
        "  not in the pack: Not in this data: Revenue by region (no region column)\n"
        "  not in the pack: Notes with no text yet: This week, Actions\n"
    )
    data = out.read_bytes()
    slides = list(_deck(data).slides)
    assert [_shape(s, "title")[0].text_frame.text for s in slides] == [
        "Weekly pipeline review",
        "Where we stand",
        "Stage funnel",
    ]
    store = SnapshotStore(home)
    week, _ = review.load_review(store, [store.list()[0].id], 0, company="ParkBee")
    assert week.latest.as_of == date(2018, 7, 27)
    assert _cover(data) == {
        "company": "ParkBee",
        "title": "Weekly pipeline review",
        "week": "Week 30, 2018 · as of Friday 27 July 2018",
        "source": "Data: week 1",
        "quality": week.quality_note.split("; ", 1)[-1].capitalize(),
        "left-out-title": "Not in this pack",
        "left-out": "Next week, with two kept snapshots: What changed since last week, Stalled deals to unblock\n"
        "From 31 Aug 2018, once 2018-08 has closed: How good was our forecast\n"
        "Not in this data: Revenue by region (no region column)",
    }
    # every slide shows something: the cards that can be made (and what cannot, said), the funnel
    results = [review.run_cell(cell, week) for cell in WEEKLY_REVIEW.cells]
    cards = results[1]
    assert [(m.label, m.value) for m in cards.metrics] == [
        (K.get(k).label, format_value(v, K.get(k).unit, week.latest.currency, compact=True))
        for k, v in _values(week.latest, ["won_revenue", "weighted_pipeline", "win_rate", "new_opportunities"])
    ]
    assert [s.text_frame.text for s in _shape(slides[1], "value")] == [m.value for m in cards.metrics]
    # a quarter of 3 won deals and 8 closed ones: the changes are said to be too few to tell, never coloured
    frame = K.evaluate(week.latest, ["won_revenue", "win_rate", "new_opportunities"], grain="quarter")
    n = dict(frame.select("kpi", "n").rows())
    assert (n["won_revenue"], n["win_rate"]) == (3, 8)
    assert [(m.label, m.tone, m.compared) for m in cards.metrics if m.delta] == [
        ("Total revenue (won)", "neutral", "too few to tell: 3 won deals"),
        ("Win rate (count)", "neutral", "too few to tell: 8 closed deals"),
        ("New opportunities", "bad", "vs 2018-Q2"),
    ]
    assert [" ".join(s.text_frame.text.split()) for s in _shape(slides[1], "compared")] == [
        "too few to tell: 3 won deals",  # wrapped under the delta on the slide
        "no comparison yet (history since 27 Jul)",
        "too few to tell: 8 closed deals",
        "vs 2018-Q2",
    ]
    assert [s.text_frame.text for s in _shape(slides[1], "unavailable")] == [
        "Not on this data: Quota attainment (needs a targets table); Pipeline coverage (needs a targets table)"
    ]
    assert len(_shape(slides[2], "chart")) == 1
    faces = [t for s in slides for t in _texts(s)]
    assert [t for t in faces if any(p in t for p in NOT_CONTENT)] == []
    assert [t for t in _everything(data) if any(p in t for p in PLACEHOLDERS)] == []
    _check_layout(data)
    pdf = tmp_path / "week1.pdf"
    assert cli.main(["pack", "--format", "pdf", "--out", str(pdf), "--company", "ParkBee"]) == 0
    text = _pdf_text(pdf.read_bytes())
    assert text.count("Not in this pack") == 1 and not any(p in text for p in (*PLACEHOLDERS, *NOT_CONTENT))
    from pypdf import PdfReader

    assert len(PdfReader(io.BytesIO(pdf.read_bytes())).pages) == 3


def _values(dataset: K.Dataset, kpis: list[str], period: P.Period | None = None) -> list[tuple[str, float | None]]:
    """The engine's value of each KPI for the period holding the as-of date (or ``period``), in the order asked."""
    chosen = period or P.make(dataset.as_of, "quarter")
    frame = K.report(dataset, kpis, grain=chosen.grain, periods=[chosen]).frame.filter(pl.col("stage").is_null())
    if "currency" in frame.columns:
        frame = frame.filter(pl.col("currency").is_null())
    found = dict(zip(frame["kpi"].to_list(), frame["value"].to_list(), strict=True))
    return [(k, found[k]) for k in kpis if k in found]


def test_the_shipped_notebook_on_the_sample_has_no_placeholder(history: review.ReviewData) -> None:
    """The shipped notebook as it is (its notes not written yet): a slide per cell that has something to show, the
    notes left out (named in the title slide's speaker notes only), no hint shown as content anywhere."""
    results = [review.run_cell(cell, history) for cell in WEEKLY_REVIEW.cells]
    data = review.pptx(WEEKLY_REVIEW.name, results, history.quality_note, history.latest.as_of, data=history)
    titles = [_shape(s, "title")[0].text_frame.text for s in _deck(data).slides]
    assert titles == [
        "Weekly pipeline review",
        "Where we stand",
        "What changed since last week",
        "Stage funnel",
        "Stalled deals to unblock",
        "Revenue by region",
        "How good was our forecast",
        "Appendix: What changed since last week",
        "Appendix: What changed since last week",
        "Appendix: Stalled deals to unblock",
        "Appendix: Stalled deals to unblock",
    ]
    assert set(_cover(data)) == {"company", "title", "week", "source", "quality"}  # nothing left out worth a line
    notes = _deck(data).slides[0].notes_slide.notes_text_frame.text
    assert notes.endswith(
        "Not in this pack:\nNotes with no text yet: This week, Actions\n"
        "- This week: This week: no text yet.\n- Actions: Actions: no text yet."
    )
    assert [t for t in _everything(data) if any(p in t for p in PLACEHOLDERS)] == []  # the PDF draws these slides


def test_a_dimension_the_data_lacks_is_said_never_replaced(history: review.ReviewData) -> None:
    """A split or filter by a dimension the data does not have leaves the cell out with that reason (it never
    shows owners under a region title); a split the data has names it in the chart's title and the note."""
    no_region = replace(
        history, latest=K.Dataset.prepare({"deals": load_sample()["deals"]}, as_of=history.latest.as_of)
    )
    assert "region" not in no_region.latest.dimensions()
    cells = (
        Cell("segment_chart", "Revenue by region", kpis=("won_revenue",), dimension="region", id="r"),
        Cell("segment_chart", "Revenue by rep", kpis=("won_revenue",), dimension="owner", id="o"),
        Cell("funnel", "EMEA funnel", filters=(("region", ("EMEA",)),), id="f"),
        Cell("forecast", "Forecast by region", dimension="region", id="fr"),
    )
    results = [review.run_cell(c, no_region) for c in cells]
    assert [(r.left_out.short if r.left_out else None) for r in results] == [
        "no region column",
        None,
        "no region column",
        "no region column",
    ]
    assert results[0].note == (
        "This data has no region column: Revenue by region splits by region and is left out (choose another "
        "dimension in Edit this cell, or keep an export that has it)."
    )
    assert results[2].note.startswith("This data has no region column: EMEA funnel filters by region")
    by_rep = results[1]
    assert by_rep.note == "Total revenue (won) by owner, 2026-Q4" and by_rep.table is not None
    assert by_rep.table.columns == ["Owner", "Total revenue (won)"]
    assert (
        by_rep.chart is not None and by_rep.chart.to_dict()["title"]["text"] == "Total revenue (won) by owner, 2026-Q4"
    )
    assert review.left_out(results) == [
        "Not in this data: Revenue by region (no region column), EMEA funnel (no region column), "
        "Forecast by region (no region column)"
    ]


def _deals_csv(rows: list[tuple[str, str, str, int, str, str]]) -> bytes:
    lines = ["Opportunity ID,Opportunity Name,Stage,Amount,Created Date,Close Date,Opportunity Owner"]
    lines += [
        f"{i},{name},{stage},{amount},{created},{close},Ann Lee" for i, name, stage, amount, created, close in rows
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_refused_comparison_refuses_everywhere(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two companies' exports kept one after the other: the review of the second leaves the first out of everything:
    no comparison, no stage of the first company in the funnel, no forecast accuracy from its snapshot, and the
    cover counts only the second's kept weeks; Present shows what the deck shows."""
    first = [
        (
            f"006A{i:011d}",
            f"Acme {i}",
            ("Prospecting", "Negotiation", "Closed Won")[i % 3],
            1000 + i,
            "2026-02-10",
            "2026-03-20",
        )
        for i in range(30)
    ]
    second = [
        (
            f"B-{i}",
            f"Brightly {i}",
            ("Discovery", "Demo", "Contract", "Closed Won")[i % 4],
            2000 + i,
            "2026-04-01" if i % 2 else "2026-03-10",
            "2026-03-25" if i % 4 == 3 else "2026-05-20",
        )
        for i in range(40)
    ]
    (tmp_path / "acme-2026-03-02.csv").write_bytes(_deals_csv(first))
    (tmp_path / "brightly-2026-04-06.csv").write_bytes(_deals_csv(second))
    assert cli.main(["snapshots", "save", str(tmp_path / "acme-2026-03-02.csv"), "--name", "Acme"]) == 0
    assert cli.main(["snapshots", "save", str(tmp_path / "brightly-2026-04-06.csv"), "--name", "Brightly"]) == 0
    capsys.readouterr()
    store = SnapshotStore(home)
    ordered = [s.id for s in store.list()]
    data, refused = review.load_review(store, ordered, 1)
    assert refused == (
        "'Acme' and 'Brightly' share 0% of their deals: they look like two different companies or pipelines, so it "
        "is left out of the review of 'Brightly' (its comparison, trends, forecast accuracy and count of kept weeks)."
    )
    assert (len(data.history), data.previous, data.other_pipelines) == (1, None, ("Acme",))
    assert data.source == "Brightly (1 kept snapshot of another company or pipeline left out: Acme)"
    assert data.latest.stage_order == ("Discovery", "Demo", "Contract")
    book = Notebook("Review", tuple(c for c in WEEKLY_REVIEW.cells if c.kind != "note"))
    results = [review.run_cell(cell, data) for cell in book.cells]
    funnel = results[2]
    assert funnel.chart is not None
    # the 20 deals Brightly created in 2026-Q2 (odd ids): 10 in Demo, 10 won; no stage of Acme's
    rows = funnel.chart.to_dict()["datasets"].popitem()[1]
    assert [(r["stage"], r["reached"]) for r in rows] == [
        ("Discovery", 20),
        ("Demo", 20),
        ("Contract", 10),
        ("Won", 10),
    ]
    assert [(r.title, r.left_out.when if r.left_out else "") for r in results] == [
        ("Where we stand", ""),
        ("What changed since last week", review.NEXT_WEEK),
        ("Stage funnel", ""),
        ("Stalled deals to unblock", review.NEXT_WEEK),
        ("Revenue by region", review.NOT_IN_DATA),
        ("How good was our forecast", "From 30 Apr 2026, once 2026-04 has closed"),
    ]
    deck_bytes = review.pptx(book.name, results, data.quality_note, data.latest.as_of, data=data)
    assert [_shape(s, "title")[0].text_frame.text for s in _deck(deck_bytes).slides] == [
        "Review",
        "Where we stand",
        "Stage funnel",
    ]
    assert _cover(deck_bytes)["source"] == f"Data: {data.source}"
    assert not any("%" in t and "Accuracy" in t for t in _everything(deck_bytes))
    # the page, its warning and Present: the same cells as the deck
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/review.py").run()
    assert not at.exception
    assert [w.value for w in at.warning] == [refused]
    at.button(key="present").click().run()
    titles = []
    for _ in range(8):
        titles += [
            re.sub(r"<[^>]+>", "", h.proto.body)
            for h in at.get("html")
            if h.proto.body.startswith('<p class="present-title">')
        ]
        if at.button(key="next").disabled:
            break
        at.button(key="next").click().run()
    assert titles == ["Where we stand", "Stage funnel"]


# --- one number per KPI ---


def test_one_number_per_kpi_on_every_surface(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The sample company, its quarter: the Scorecard's tiles, the Pipeline page's stalled and past-due deals, the
    review's cards, Present, the deck and ``compute`` show one value per KPI, the engine's for the company's data.
    (The review's newest kept week is the company's own data, activities included: stalled deals read a month
    without activity as stalled there too; it showed 462 against the Pipeline page's 578.)"""
    import json

    sample = K.Dataset.prepare(load_sample())
    quarter = P.make(sample.as_of, "quarter")
    kpis = [*WEEKLY_REVIEW.cells[1].kpis, "stalled_deals", "overdue_deals"]
    values = dict(_values(sample, kpis, quarter))
    assert set(values) == set(kpis)
    text = {K.get(k).label: format_value(v, K.get(k).unit, compact=True) for k, v in values.items()}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()  # the Scorecard: the Manager's tiles
    assert {m.label: m.value for m in at.metric if m.label in text} == text
    at.switch_page("pages/pipeline.py").run()
    counts = [c.value.split(" deal(s) · ")[0] for c in at.caption if " deal(s) · open deals " in c.value]
    assert counts == [text["Stalled deals"], text["Past-due open deals"]]
    at.switch_page("pages/review.py").run()
    cards = {m.label: m.value for m in at.metric if m.label in text}
    assert cards == {
        label: text[label] for label in (*[K.get(k).label for k in WEEKLY_REVIEW.cells[1].kpis], "Stalled deals")
    }
    at.button(key="present").click().run()
    screens: dict[str, list[str]] = {}
    for _ in range(8):
        html = [h.proto.body for h in at.get("html")]
        title = next(re.sub(r"<[^>]+>", "", h) for h in html if h.startswith('<p class="present-title">'))
        screens[title] = [
            re.sub(r"<[^>]+>", "", v) for h in html for v in re.findall(r'<div class="value">(.*?)</div>', h)
        ]
        if at.button(key="next").disabled:
            break
        at.button(key="next").click().run()
    assert screens["Stalled deals to unblock"] == [text["Stalled deals"]]
    assert screens["Where we stand"] == [text[K.get(k).label] for k in WEEKLY_REVIEW.cells[1].kpis]
    store = SnapshotStore(sample_home())
    ordered = [s.id for s in store.list()]
    data, _ = review.load_review(store, ordered, len(ordered) - 1, company="Sample company")
    results = [review.run_cell(c, data) for c in WEEKLY_REVIEW.cells if c.kind in ("scorecard", "stalled")]
    slides = {
        _shape(s, "title")[0].text_frame.text: s for s in _deck(review.pptx("x", results, "", data.latest.as_of)).slides
    }
    assert [s.text_frame.text for s in _shape(slides["Stalled deals to unblock"], "value")] == [text["Stalled deals"]]
    assert [s.text_frame.text for s in _shape(slides["Where we stand"], "value")] == screens["Where we stand"]
    from pypdf import PdfReader

    pages = {  # the PDF pack: each page's text, by its title (its first line)
        text.split("\n", 1)[0]: text
        for text in (
            p.extract_text() for p in PdfReader(io.BytesIO(review.pdf("x", results, "", data.latest.as_of))).pages
        )
    }
    for title, shown in (
        ("Where we stand", screens["Where we stand"]),
        ("Stalled deals to unblock", [text["Stalled deals"]]),
    ):
        assert all(value in pages[title] for value in shown), (title, shown)
    assert (
        cli.main(
            [
                "compute",
                "--sample",
                "--grain",
                "quarter",
                "--kpi",
                "stalled_deals",
                "--period",
                quarter.label,
                "--format",
                "json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["kpi"], r["value"]) for r in rows] == [("stalled_deals", values["stalled_deals"])]


def test_plain_weekly_reports_read_one_stalled_count_on_the_pages_and_in_the_review(home: Path, tmp_path: Path) -> None:
    """Three kept weekly reports with no stage history: the stage history is rebuilt from the weeks for the pages
    (the newest kept week, or the same export uploaded) as for the review, so both count the same stalled deals.

    By hand: deals entered a stage on the first week that shows it there. Prospecting was left after 7 days by the
    seven deals that moved (median 7, stalled beyond 10.5 days); Qualification after 28, 28 and 7 days (median 28,
    stalled beyond 42). On 6 Nov, D5-D8 have sat in Prospecting since 2 Oct (35 days): stalled; D1-D4 in
    Qualification since 9 Oct (28 days) and D9-D10 in Proposal since 6 Nov are not. Four stalled deals."""
    stages = {
        "2026-10-02": ["Prospecting"] * 10 + ["Qualification", "Prospecting"],
        "2026-10-09": ["Qualification"] * 4
        + ["Prospecting"] * 4
        + ["Qualification"] * 2
        + ["Closed Won", "Closed Lost"],
        "2026-11-06": ["Qualification"] * 4 + ["Prospecting"] * 4 + ["Proposal"] * 2 + ["Closed Won", "Closed Lost"],
    }
    files = {}
    for day, week in stages.items():
        rows = [
            (
                f"D{i + 1}",
                f"Deal {i + 1}",
                stage,
                1000 * (i + 1),
                "2026-09-01",
                "2026-10-08" if "Closed" in stage else "2026-12-15",
            )
            for i, stage in enumerate(week)
        ]
        files[day] = tmp_path / f"pipeline-{day}.csv"
        files[day].write_bytes(_deals_csv(rows))
        assert cli.main(["snapshots", "save", str(files[day])]) == 0
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/pipeline.py").run()
    assert not at.exception

    def stalled_caption() -> list[str]:
        formula = K.get("stalled_deals").formula
        return [c.value.split(" · ")[0] for c in at.caption if c.value.endswith(f" deal(s) · {formula}")][:1]

    assert stalled_caption() == ["4 deal(s)"]
    at.switch_page("pages/review.py").run()
    assert [m.value for m in at.metric if m.label == "Stalled deals"] == ["4"]
    # the same week uploaded (not the kept copy): the pages rebuild its stage history from the weeks kept before it
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="uploader").set_value(
        [(files["2026-11-06"].name, files["2026-11-06"].read_bytes(), "text/csv")]
    ).run()
    at.switch_page("pages/pipeline.py").run()
    assert at.session_state["source"] == "upload" and not at.exception
    assert stalled_caption() == ["4 deal(s)"]


def test_the_review_reads_its_weeks_with_the_settings_of_the_data_on_screen(store: SnapshotStore) -> None:
    """A fiscal year starting in February on screen: the review's cards are the fiscal quarter's, the engine's
    numbers for the company's data with that setting (the pages' numbers)."""
    ordered = [s.id for s in store.list()]
    settings = K.Settings(fiscal_year_start=2)
    data, _ = review.load_review(store, ordered, len(ordered) - 1, pipeline=store.pipeline, settings=settings)
    assert (data.latest.settings, data.previous.settings) == (settings, settings)  # type: ignore[union-attr]
    quarter = P.make(data.latest.as_of, "quarter", 2)
    assert quarter.label == "FY2027-Q4"  # November 2026 is in the fourth quarter of the year starting February 2026
    cell = Cell("scorecard", "Cards", kpis=("won_revenue", "win_rate", "stalled_deals"), id="c")
    result = review.run_cell(cell, data)
    assert result.note.startswith("FY2027-Q4 (to date), compared with FY2027-Q3")
    company = K.Dataset.prepare(load_sample(), settings=settings)
    assert [m.value for m in result.metrics] == [
        format_value(v, K.get(k).unit, compact=True) for k, v in _values(company, list(cell.kpis), quarter)
    ]


def test_present_with_nothing_to_show_says_what_comes_and_when(home: Path, tmp_path: Path) -> None:
    """A notebook that only asks what changed, on the first kept week: the page says what Present and the pack
    leave out; Present says there is nothing to present yet, and when it comes, and exits."""
    from kpi_core.notebook import NotebookStore

    rows = [(f"D{i}", f"Deal {i}", "Prospecting", 1000 + i, "2026-09-01", "2026-12-15") for i in range(8)]
    (tmp_path / "pipeline-2026-11-06.csv").write_bytes(_deals_csv(rows))
    assert cli.main(["snapshots", "save", str(tmp_path / "pipeline-2026-11-06.csv"), "--name", "week 1"]) == 0
    NotebookStore(home).save(Notebook("Only changes", (Cell("waterfall", "What changed", id="w"),)))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/review.py").run()
    at.selectbox(key="review_notebook").set_value("Only changes").run()
    assert [c.value for c in at.caption if c.value.startswith("Not in Present")] == [
        "Not in Present or the meeting pack: Next week, with two kept snapshots: What changed"
    ]
    at.button(key="present").click().run()
    assert not at.exception
    html = [h.proto.body for h in at.get("html")]
    assert '<p class="present-title">Only changes</p>' in html
    assert any("Nothing to present yet on this data." in h for h in html)
    assert (
        '<div class="present-left-out"><b>Not in this review yet</b><ul><li>Next week, with two kept snapshots: '
        "What changed</li></ul></div>"
    ) in html
    at.button(key="exit_present").click().run()
    assert "present" not in at.query_params and [s.value for s in at.subheader] == ["What changed"]
