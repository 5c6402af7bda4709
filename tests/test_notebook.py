from __future__ import annotations

from pathlib import Path

import pytest

from kpi_core.model import DataError
from kpi_core.notebook import WEEKLY_REVIEW, Cell, Notebook, NotebookStore


def test_cells_are_added_moved_edited_and_removed() -> None:
    book = (
        Notebook("Mine").add(Cell("note", "A", text="hello")).add(Cell("funnel", "B")).add(Cell("waterfall", "C"), at=0)
    )
    assert [c.title for c in book.cells] == ["C", "A", "B"]
    assert [c.title for c in book.move(2, -1).cells] == ["C", "B", "A"]
    assert book.move(0, -1) == book  # nothing above the first cell
    edited = book.update(1, Cell("note", "A2", text="bye"))
    assert [c.title for c in edited.remove(0).cells] == ["A2", "B"]
    with pytest.raises(DataError, match="unknown cell kind 'pie'"):
        Cell("pie", "x")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    store = NotebookStore(tmp_path)
    assert store.names() == ["Weekly pipeline review"] and store.load("Weekly pipeline review") == WEEKLY_REVIEW
    book = WEEKLY_REVIEW.add(
        Cell(
            "segment_chart",
            "Win rate by owner",
            kpis=("win_rate",),
            dimension="owner",
            grain="month",
            period="2026-10",
            filters=(("region", ("EMEA", "APAC")),),
        )
    )
    book = Notebook("Friday review", book.cells)
    path = store.save(book)
    assert path.name == "friday-review.json"
    text = path.read_text()
    assert '"region": [\n' in text and '"kind": "segment_chart"' in text  # a readable file
    assert store.load("Friday review") == book
    assert store.names() == ["Weekly pipeline review", "Friday review"]
    with pytest.raises(DataError, match="not a review notebook"):
        Notebook.from_json('{"format": "other"}', "x.json")
