from __future__ import annotations

from pathlib import Path

import pytest

from kpi_core.model import DataError
from kpi_core.notebook import WEEKLY_REVIEW, Cell, Notebook, NotebookStore, written


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


def test_cells_keep_their_id_when_moved_edited_or_saved(tmp_path: Path) -> None:
    book = Notebook(
        "Mine", (Cell("note", "A", text="a", id="a"), Cell("funnel", "B", id="b"), Cell("note", "C", id="c"))
    )
    moved = book.move(0, 1).move(1, 1)
    assert [(c.id, c.title, c.text) for c in moved.cells] == [("b", "B", ""), ("c", "C", ""), ("a", "A", "a")]
    edited = moved.update(moved.index("c"), Cell("note", "C2", text="new"))
    assert edited.cells[1] == Cell("note", "C2", text="new", id="c")  # the id stays with the position edited
    assert edited.remove(edited.index("b")).cells == (edited.cells[1], edited.cells[2])
    added = edited.add(Cell("waterfall", "D"))
    assert added.cells[:3] == edited.cells and added.cells[3].id not in {"a", "b", "c"}
    with pytest.raises(DataError, match="no cell 'zzz' in notebook 'Mine'"):
        book.index("zzz")
    store = NotebookStore(tmp_path)
    store.save(added)
    assert store.load("Mine") == added


def test_a_notebook_saved_before_cells_had_ids_gets_them() -> None:
    old = (
        '{"format": "kpi-workbench-notebook/1", "name": "Old", "cells": ['
        '{"kind": "note", "title": "A", "text": "a"}, {"kind": "note", "title": "A", "text": "a"}, '
        '{"kind": "funnel", "title": "B", "id": ""}]}'
    )
    book = Notebook.from_json(old)
    ids = [c.id for c in book.cells]
    assert len(set(ids)) == 3 and all(len(i) == 8 for i in ids)  # generated, and distinct for equal cells
    assert [(c.kind, c.title, c.text) for c in book.cells] == [
        ("note", "A", "a"),
        ("note", "A", "a"),
        ("funnel", "B", ""),
    ]
    again = Notebook.from_json(book.to_json())
    assert again == book  # saved with them, the same ids next time


def test_a_copied_cell_gets_its_own_id() -> None:
    cell = Cell("note", "A", id="same")
    book = Notebook("Copies", (cell, cell))
    assert book.cells[0].id == "same" and book.cells[1].id != "same"
    assert WEEKLY_REVIEW.index("what-changed") == 2
    assert [c.id for c in WEEKLY_REVIEW.cells] == [
        "this-week",
        "where-we-stand",
        "what-changed",
        "funnel",
        "stalled",
        "by-region",
        "forecast",
        "actions",
    ]


def test_the_shipped_notes_start_empty_and_an_old_saved_hint_reads_as_no_text() -> None:
    notes = [c for c in WEEKLY_REVIEW.cells if c.kind == "note"]
    assert [(c.id, c.text, c.hint) for c in notes] == [
        ("this-week", "", "What moved in the pipeline since last week, and what we do about it."),
        ("actions", "", "Owner, action, date."),
    ]
    # a notebook saved while the shipped notes held their hints as text (format 1, unchanged): read back as empty
    old = (
        '{"format": "kpi-workbench-notebook/1", "name": "Weekly pipeline review", "cells": ['
        '{"id": "this-week", "kind": "note", "title": "This week", '
        '"text": "What moved in the pipeline since last week, and what we do about it."}, '
        '{"id": "actions", "kind": "note", "title": "Actions", "text": " Owner, action, date. "}, '
        '{"id": "mine", "kind": "note", "title": "Mine", "text": "Owner: Ben. Action: call Acme. Date: Friday."}, '
        '{"id": "w", "kind": "waterfall", "title": "What changed", "text": "Owner, action, date."}]}'
    )
    book = Notebook.from_json(old)
    assert [(c.id, c.text) for c in book.cells] == [
        ("this-week", ""),
        ("actions", ""),
        ("mine", "Owner: Ben. Action: call Acme. Date: Friday."),
        ("w", ""),
    ]
    assert Notebook.from_json(book.to_json()) == book
    assert Cell("note", "New").hint == "Write the note here: a note without text is left out of Present and the pack."
    assert [written(t) for t in ("", "  ", "Owner, action, date.", " Call Acme. ")] == ["", "", "", "Call Acme."]
