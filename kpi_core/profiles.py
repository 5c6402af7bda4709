"""Mapping profiles: a confirmed mapping saved under the file's header signature, applied next time.

Profiles live as one JSON file each in a folder (``KPI_WORKBENCH_PROFILES``, default
``~/.kpi_workbench/profiles``) and can be exported and imported as JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kpi_core.model import DataError

FORMAT = "kpi-workbench-mapping/1"


@dataclass(frozen=True)
class Profile:
    """A saved mapping: header signature, table kind, original header -> canonical column (or None)."""

    signature: str
    kind: str
    mapping: dict[str, str | None]
    source: str = "generic"
    stage_map: list[dict[str, object]] = field(default_factory=list)
    name: str = ""


def default_folder() -> Path:
    return Path(os.environ.get("KPI_WORKBENCH_PROFILES", Path.home() / ".kpi_workbench" / "profiles"))


class ProfileStore:
    """Profiles on disk, one JSON file per header signature (written atomically)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_folder()

    def _path(self, signature: str) -> Path:
        return self.folder / f"{signature}.json"

    def get(self, signature: str) -> Profile | None:
        path = self._path(signature)
        if not path.exists():
            return None
        return parse(path.read_text(encoding="utf-8"), str(path))[0]

    def save(self, profile: Profile) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": FORMAT, "profiles": [asdict(profile)]}, indent=1, ensure_ascii=False)
        handle, temp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        final = self._path(profile.signature)
        os.replace(temp, final)
        return final

    def all(self) -> list[Profile]:
        if not self.folder.exists():
            return []
        return [
            p for path in sorted(self.folder.glob("*.json")) for p in parse(path.read_text(encoding="utf-8"), path.name)
        ]

    def export_json(self) -> str:
        return json.dumps({"format": FORMAT, "profiles": [asdict(p) for p in self.all()]}, indent=1, ensure_ascii=False)

    def import_json(self, text: str, origin: str = "profiles.json") -> list[Profile]:
        profiles = parse(text, origin)
        for profile in profiles:
            self.save(profile)
        return profiles


def parse(text: str, origin: str) -> list[Profile]:
    """Profiles from exported JSON; a clear :class:`DataError` when the file is not one."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{origin}: not a mapping-profile file (invalid JSON at line {exc.lineno}).") from exc
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT or not isinstance(doc.get("profiles"), list):
        raise DataError(f"{origin}: not a mapping-profile file (expected format {FORMAT!r}).")
    out = []
    for item in doc["profiles"]:
        try:
            mapping = {str(k): (None if v is None else str(v)) for k, v in dict(item["mapping"]).items()}
            out.append(
                Profile(
                    str(item["signature"]),
                    str(item["kind"]),
                    mapping,
                    str(item.get("source", "generic")),
                    list(item.get("stage_map", [])),
                    str(item.get("name", "")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{origin}: a profile is missing its signature, kind or mapping.") from exc
    return out


def profile_of(imported: object, *, name: str = "") -> Profile:
    """A profile from a file's import (its current mapping, as the user confirmed it)."""
    from kpi_core.ingest import FileImport

    assert isinstance(imported, FileImport)
    table = imported.tables[0]
    stage_rows = table.stage_map.to_dicts() if table.stage_map is not None else []
    return Profile(
        table.signature,
        table.kind,
        {
            m.original: m.canonical
            for m in table.mapping
            if m.canonical is not None and not m.canonical.startswith("entered:")
        },
        imported.source,
        stage_rows,
        name or imported.name,
    )
