"""The weekly review: cells on the newest snapshot, presentation mode, and the PPTX meeting pack."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import kpi_core as K
from kpi_core.notebook import WEEKLY_REVIEW
from kpi_core.snapshots import SnapshotStore
from sample_data import load_sample
from sample_data.history import seed_store
from tests.conftest import ROOT
from tests.test_app import _isolated  # noqa: F401  (the same isolation: caches, profiles, pages folder)
from ui import review


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KPI_WORKBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def history() -> review.ReviewData:
    import tempfile

    store = SnapshotStore(Path(tempfile.mkdtemp()))
    seed_store(store, load_sample())
    snapshots = store.list()
    history = tuple(K.Dataset.prepare(store.load(s.id)[1], as_of=s.as_of) for s in snapshots)
    return review.ReviewData(history[-1], snapshots[-1].name, history[-2], snapshots[-2].name, history)


def test_every_default_cell_runs(history: review.ReviewData) -> None:
    results = [review.run_cell(cell, history) for cell in WEEKLY_REVIEW.cells]
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
    waterfall = results[2]
    assert [m[0] for m in waterfall.metrics] == ["Start", "End"]
    assert "Sample company 2026-11-13 to Sample company 2026-11-20" in waterfall.note
    assert waterfall.details is not None and set(waterfall.details["category"]) >= {"won", "lost", "new"}
    assert "pushes" in waterfall.details.columns and waterfall.details["pushes"].max() >= 1
    forecast = results[6]
    assert [m[0] for m in forecast.metrics] == ["Accuracy, 2026-10", "Forecast at the start", "Won"]
    assert forecast.table is not None and forecast.table["period"].to_list() == ["2026-09", "2026-10"]


def test_the_meeting_pack_opens_in_python_pptx(history: review.ReviewData) -> None:
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    results = [review.run_cell(cell, history) for cell in WEEKLY_REVIEW.cells]
    deck = Presentation(
        io.BytesIO(review.pptx("Weekly pipeline review", results, history.quality_note, history.latest.as_of))
    )
    slides = list(deck.slides)
    assert len(slides) == len(WEEKLY_REVIEW.cells) + 1  # a cover, then one slide per cell
    titles = [s.shapes[0].text_frame.text for s in slides[1:]]
    assert titles == [c.title for c in WEEKLY_REVIEW.cells]
    pictures = [sum(sh.shape_type == MSO_SHAPE_TYPE.PICTURE for sh in s.shapes) for s in slides[1:]]
    assert pictures == [0, 0, 1, 1, 0, 1, 1, 0]
    tables = [sum(sh.has_table for sh in s.shapes) for s in slides[1:]]
    assert tables == [0, 0, 1, 0, 1, 1, 1, 0]
    footers = [s.shapes[-1].text_frame.text for s in slides[1:]]
    assert all("Data as of 20 Nov 2026" in f for f in footers)


def test_review_page_seeds_history_edits_and_presents(home: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/review.py").run()  # no data of the team's yet: the sample company's own history
    assert not at.exception
    assert any("sample company's thirteen weekly exports" in c.value for c in at.caption)
    assert [s.value for s in at.subheader] == [c.title for c in WEEKLY_REVIEW.cells]
    assert len(SnapshotStore(home / "sample-company").list()) == 13 and SnapshotStore(home).list() == []
    at.button(key="down_0").click().run()
    assert [s.value for s in at.subheader][:2] == ["Where we stand", "This week"]
    at.button(key="remove_7").click().run()
    assert len(at.subheader) == len(WEEKLY_REVIEW.cells) - 1
    at.text_input(key="save_name").set_value("Friday review").run()
    at.button(key="save_book").click().run()
    assert (home / "notebooks" / "friday-review.json").exists()
    at.button(key="present").click().run()
    assert at.query_params["present"] == ["1"] or at.query_params["present"] == "1"
    assert next(m.value for m in at.markdown) == "# Where we stand"
    assert not at.text_input  # no editing controls while presenting
    at.button(key="next").click().run()
    assert next(m.value for m in at.markdown) == "# This week"


def test_the_meeting_pack_as_pdf(history: review.ReviewData) -> None:
    import re

    results = [review.run_cell(cell, history) for cell in WEEKLY_REVIEW.cells]
    document = review.pdf("Weekly pipeline review", results, history.quality_note, history.latest.as_of)
    assert document.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b(?!s)", document)) == len(WEEKLY_REVIEW.cells) + 1
    assert len(re.findall(rb"/Subtype /Image", document)) == sum(r.chart is not None for r in results)
