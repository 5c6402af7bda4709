"""The review notebook: an ordered list of cells, each with its own settings, saved by name as readable JSON.

A notebook holds questions, not answers: it re-runs on the newest snapshot, so next week's review asks the
same questions of new data.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from kpi_core.model import DataError
from kpi_core.snapshots import default_home

CELL_KINDS: tuple[str, ...] = ("scorecard", "waterfall", "funnel", "stalled", "segment_chart", "forecast", "note")
CELL_TITLES: Mapping[str, str] = {
    "scorecard": "KPI cards",
    "waterfall": "What changed in the pipeline",
    "funnel": "Stage funnel",
    "stalled": "Stalled deals",
    "segment_chart": "A KPI by segment",
    "forecast": "Forecast accuracy",
    "note": "Text",
}
"""What each kind of cell is called on screen (and the title a new cell starts with)."""
FORMAT = "kpi-workbench-notebook/1"

HINTS: Mapping[str, str] = {
    "this-week": "What moved in the pipeline since last week, and what we do about it.",
    "actions": "Owner, action, date.",
}
"""What the shipped notebook's notes are for, by cell id: shown in the editor while a note is empty, never as content."""
PLACEHOLDERS = frozenset(HINTS.values())
"""Notebooks saved before notes started empty kept these hints as their text: read back as no text."""


def written(text: str) -> str:
    """A cell's own text: ``text`` without surrounding space, or "" when it is empty or still a template's hint.

    >>> written("  Close Acme by Friday. "), written("Owner, action, date."), written(" ")
    ('Close Acme by Friday.', '', '')
    """
    text = text.strip()
    return "" if text in PLACEHOLDERS else text


def new_id() -> str:
    """A cell id: short, random, and never reused for another cell of the notebook."""
    return uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class Cell:
    """One cell: what it shows (``kind``) and its settings. ``period`` None means the current period; ``text`` is
    the cell's commentary (a note's whole content). ``id`` stays with the cell when it moves, so its edit form
    and downloads follow it."""

    kind: str
    title: str
    kpis: tuple[str, ...] = ()
    dimension: str | None = None
    grain: str = "quarter"
    period: str | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    text: str = ""
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.kind not in CELL_KINDS:
            raise DataError(f"unknown cell kind {self.kind!r}; choose one of {', '.join(CELL_KINDS)}")
        if not isinstance(self.id, str) or not self.id.strip():
            raise DataError("a cell needs an id")

    @property
    def hint(self) -> str:
        """What the editor suggests writing while the cell has no text of its own."""
        if self.kind == "note":
            return HINTS.get(self.id, "Write the note here: a note without text is left out of Present and the pack.")
        return "Commentary shown with the cell, on its slide and in its speaker notes."


@dataclass(frozen=True)
class Notebook:
    """A named, ordered list of cells with distinct ids."""

    name: str
    cells: tuple[Cell, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        cells = []
        for cell in self.cells:  # a copied or hand-edited cell that repeats an id gets its own
            cells.append(cell if cell.id not in seen else replace(cell, id=new_id()))
            seen.add(cells[-1].id)
        object.__setattr__(self, "cells", tuple(cells))

    def index(self, cell_id: str) -> int:
        """The position of the cell with this id."""
        for i, cell in enumerate(self.cells):
            if cell.id == cell_id:
                return i
        raise DataError(f"no cell {cell_id!r} in notebook {self.name!r}")

    def add(self, cell: Cell, at: int | None = None) -> Notebook:
        cells = list(self.cells)
        cells.insert(len(cells) if at is None else at, cell)
        return replace(self, cells=tuple(cells))

    def remove(self, index: int) -> Notebook:
        return replace(self, cells=tuple(c for i, c in enumerate(self.cells) if i != index))

    def move(self, index: int, step: int) -> Notebook:
        """Move a cell up (step -1) or down (step 1); at the ends nothing moves."""
        target = index + step
        if not 0 <= index < len(self.cells) or not 0 <= target < len(self.cells):
            return self
        cells = list(self.cells)
        cells[index], cells[target] = cells[target], cells[index]
        return replace(self, cells=tuple(cells))

    def update(self, index: int, cell: Cell) -> Notebook:
        """The cell at ``index`` replaced by ``cell`` (which keeps the replaced cell's id)."""
        kept = replace(cell, id=self.cells[index].id) if 0 <= index < len(self.cells) else cell
        return replace(self, cells=tuple(kept if i == index else c for i, c in enumerate(self.cells)))

    def to_json(self) -> str:
        cells = [{"id": c.id} | {k: v for k, v in asdict(c).items() if v not in ((), None, "")} for c in self.cells]
        for cell in cells:
            if "filters" in cell:
                cell["filters"] = {k: list(v) for k, v in cell["filters"]}
        return json.dumps({"format": FORMAT, "name": self.name, "cells": cells}, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, origin: str = "notebook") -> Notebook:
        try:
            doc = json.loads(text)
            if doc.get("format") != FORMAT:
                raise ValueError("format")
            cells = []
            for item in doc["cells"]:
                filters = tuple((k, tuple(v)) for k, v in dict(item.pop("filters", {})).items())
                if not str(item.get("id") or "").strip():  # a notebook saved before cells had ids
                    item.pop("id", None)
                if isinstance(item.get("text"), str) and not written(item["text"]):  # a template's hint kept as text
                    item["text"] = ""
                cells.append(Cell(**{**item, "kpis": tuple(item.get("kpis", ())), "filters": filters}))
            return cls(str(doc["name"]), tuple(cells))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{origin}: not a review notebook ({exc.__class__.__name__}: {exc}).") from exc


WEEKLY_REVIEW = Notebook(
    "Weekly pipeline review",
    (
        Cell("note", "This week", id="this-week"),
        Cell(
            "scorecard",
            "Where we stand",
            id="where-we-stand",
            kpis=(
                "won_revenue",
                "quota_attainment",
                "pipeline_coverage",
                "weighted_pipeline",
                "win_rate",
                "new_opportunities",
            ),
        ),
        Cell("waterfall", "What changed since last week", id="what-changed"),
        Cell("funnel", "Stage funnel", id="funnel"),
        Cell("stalled", "Stalled deals to unblock", id="stalled"),
        Cell("segment_chart", "Revenue by region", kpis=("won_revenue",), dimension="region", id="by-region"),
        Cell("forecast", "How good was our forecast", grain="month", id="forecast"),
        Cell("note", "Actions", id="actions"),
    ),
)
"""The notebook that ships: the questions of a weekly pipeline review. Its notes start empty (the editor shows what
they are for, :data:`HINTS`): a note is on a slide once someone has written it."""


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "notebook"


class NotebookStore:
    """Notebooks as readable JSON files in the workspace (``KPI_WORKBENCH_HOME/notebooks``)."""

    def __init__(self, home: Path | None = None) -> None:
        self.folder = (home or default_home()) / "notebooks"
        self.folder.mkdir(parents=True, exist_ok=True)

    def names(self) -> list[str]:
        found = [
            Notebook.from_json(p.read_text(encoding="utf-8"), p.name).name for p in sorted(self.folder.glob("*.json"))
        ]
        return found if WEEKLY_REVIEW.name in found else [WEEKLY_REVIEW.name, *found]

    def load(self, name: str) -> Notebook:
        path = self.folder / f"{_slug(name)}.json"
        if not path.exists():
            if name == WEEKLY_REVIEW.name:
                return WEEKLY_REVIEW
            raise DataError(f"no notebook named {name!r}")
        return Notebook.from_json(path.read_text(encoding="utf-8"), path.name)

    def save(self, notebook: Notebook) -> Path:
        path = self.folder / f"{_slug(notebook.name)}.json"
        handle, temp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(notebook.to_json())
        os.replace(temp, path)
        return path
