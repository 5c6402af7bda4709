"""The snapshot store: imported datasets kept as history, embedded (Parquet tables plus a SQLite catalog).

Writes are atomic: a snapshot's tables go to a temporary folder that is renamed into place, and only then
is it entered in the catalog (one SQLite transaction). A process killed at any point leaves earlier
snapshots intact and no half snapshot listed; leftovers are swept on the next open. The same content is
never stored twice, and nothing is overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from kpi_core.model import DataError

SCHEMA = """
create table if not exists snapshots (
    id text primary key,
    name text not null unique,
    as_of text not null,
    created text not null,
    sources text not null,
    mapping text not null,
    tables text not null
)
"""


def default_home() -> Path:
    return Path(os.environ.get("KPI_WORKBENCH_HOME", Path.home() / ".kpi_workbench"))


@dataclass(frozen=True)
class Snapshot:
    """One stored snapshot: its content id, name, as-of date and where it came from."""

    id: str
    name: str
    as_of: date
    created: str
    sources: tuple[tuple[str, str], ...]
    mapping: str
    tables: tuple[str, ...]


def content_id(tables: Mapping[str, pl.DataFrame]) -> str:
    """A digest of the tables' contents (same rows, same id, whatever the file they came from)."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        frame = tables[name]
        digest.update(name.encode())
        digest.update(str(frame.schema).encode())
        digest.update(str(frame.height).encode())
        if frame.height:
            digest.update(frame.hash_rows(seed=7).sort().to_numpy().tobytes())
    return digest.hexdigest()[:16]


class SnapshotStore:
    """Snapshots in a workspace folder (``KPI_WORKBENCH_HOME``, default ``~/.kpi_workbench``)."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home or default_home()
        self.folder = self.home / "snapshots"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.catalog = self.home / "catalog.sqlite"
        with self._db() as db:
            db.execute(SCHEMA)
        self._sweep()

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.catalog, timeout=30, isolation_level=None)

    def _sweep(self) -> None:
        """Remove what a killed write left behind: temporary folders and folders the catalog never got."""
        known = {s.id for s in self.list()}
        for path in self.folder.iterdir():
            if path.name.startswith(".tmp-") or (path.is_dir() and path.name not in known):
                shutil.rmtree(path, ignore_errors=True)

    def list(self) -> list[Snapshot]:
        with self._db() as db:
            rows = db.execute(
                "select id, name, as_of, created, sources, mapping, tables from snapshots order by as_of, created"
            ).fetchall()
        return [
            Snapshot(
                r[0],
                r[1],
                date.fromisoformat(r[2]),
                r[3],
                tuple(tuple(s) for s in json.loads(r[4])),
                r[5],
                tuple(json.loads(r[6])),
            )
            for r in rows
        ]

    def get(self, ref: str) -> Snapshot:
        """A snapshot by id (or a unique id prefix), name, or as-of date (the latest of that day)."""
        snapshots = self.list()
        for match in (
            [s for s in snapshots if s.id == ref or s.name == ref],
            [s for s in snapshots if s.id.startswith(ref)],
            [s for s in snapshots if s.as_of.isoformat() == ref][-1:],
        ):
            if len(match) == 1:
                return match[0]
        known = ", ".join(f"{s.name} ({s.as_of})" for s in snapshots) or "none yet"
        raise DataError(f"no snapshot {ref!r}; the snapshots are: {known}")

    def save(
        self,
        tables: Mapping[str, pl.DataFrame],
        *,
        as_of: date,
        name: str | None = None,
        sources: Sequence[tuple[str, str]] = (),
        mapping: Mapping[str, object] | None = None,
    ) -> Snapshot:
        """Store tables as a snapshot; the same content returns the snapshot already stored."""
        sid = content_id(tables)
        existing = [s for s in self.list() if s.id == sid]
        if existing:
            return existing[0]
        label = name or f"{as_of.isoformat()} snapshot"
        if any(s.name == label for s in self.list()):
            raise DataError(f"a snapshot named {label!r} already exists; choose another name")
        temp = self.folder / f".tmp-{uuid.uuid4().hex}"
        temp.mkdir()
        for table, frame in tables.items():
            path = temp / f"{table}.parquet"
            frame.write_parquet(path)
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        final = self.folder / sid
        os.replace(temp, final)
        snapshot = Snapshot(
            sid,
            label,
            as_of,
            datetime.now(UTC).isoformat(timespec="seconds"),
            tuple((str(a), str(b)) for a, b in sources),
            json.dumps(mapping or {}, sort_keys=True),
            tuple(sorted(tables)),
        )
        with self._db() as db:
            db.execute(
                "insert into snapshots values (?, ?, ?, ?, ?, ?, ?)",
                (
                    snapshot.id,
                    snapshot.name,
                    snapshot.as_of.isoformat(),
                    snapshot.created,
                    json.dumps(snapshot.sources),
                    snapshot.mapping,
                    json.dumps(snapshot.tables),
                ),
            )
        return snapshot

    def load(self, ref: str) -> tuple[Snapshot, dict[str, pl.DataFrame]]:
        snapshot = self.get(ref)
        folder = self.folder / snapshot.id
        return snapshot, {t: pl.read_parquet(folder / f"{t}.parquet") for t in snapshot.tables}

    def rename(self, ref: str, name: str) -> Snapshot:
        snapshot = self.get(ref)
        if any(s.name == name and s.id != snapshot.id for s in self.list()):
            raise DataError(f"a snapshot named {name!r} already exists; choose another name")
        with self._db() as db:
            db.execute("update snapshots set name = ? where id = ?", (name, snapshot.id))
        return self.get(snapshot.id)

    def delete(self, ref: str) -> Snapshot:
        snapshot = self.get(ref)
        with self._db() as db:
            db.execute("delete from snapshots where id = ?", (snapshot.id,))
        shutil.rmtree(self.folder / snapshot.id, ignore_errors=True)
        return snapshot
