"""The team's workspace on disk: this browser's uploads (kept across pages, reloads and new sessions of the same
browser), the team's kept snapshots, and the sample company's separate, read-only history.

One deployment's workspace is one team's (``KPI_WORKBENCH_HOME``): every session sees the same kept snapshots
and notebooks. Uploads not yet kept belong to the browser that made them: they are stored under a random token
carried in the page address (``?ws=…``), so a reload finds them and another person's session never does.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path

import streamlit as st

import kpi_core as K
from kpi_core.snapshots import SnapshotStore, default_home, sample_home
from ui.model import Upload

TOKEN = "ws"
DRAFT_DAYS = 60
"""Uploads nobody has opened for this many days are removed."""


def home() -> Path:
    return default_home()


def token() -> str:
    """This browser's token: from the address, else from the session, else a new one (put in the address)."""
    found = st.query_params.get(TOKEN)
    if isinstance(found, str) and re.fullmatch(r"[0-9a-f]{16}", found):
        st.session_state["workspace_token"] = found
        return found
    current = st.session_state.get("workspace_token")
    if not isinstance(current, str):
        import uuid

        current = uuid.uuid4().hex[:16]
        st.session_state["workspace_token"] = current
    st.query_params[TOKEN] = current
    return current


def _drafts(folder: Path) -> Path:
    path = folder / "drafts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _blobs() -> Path:
    path = home() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_blob(digest: str, data: bytes) -> None:
    path = _blobs() / digest
    if not path.exists():
        staged = path.with_suffix(f".{time.time_ns()}.partial")
        staged.write_bytes(data)
        staged.replace(path)


def load_blob(digest: str) -> bytes:
    return (_blobs() / digest).read_bytes()


def load_uploads(browser: str) -> tuple[Upload, ...]:
    """The uploads this browser left, as it set them up (mapping edits, stage map, sheet)."""
    path = _drafts(home()) / f"{browser}.json"
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return ()
    uploads = []
    for row in rows:
        if (_blobs() / str(row.get("digest", ""))).exists():
            overrides = tuple((str(a), b if b is None else str(b)) for a, b in row.get("overrides", []))
            uploads.append(Upload(str(row["digest"]), str(row["name"]), overrides, row.get("stages"), row.get("sheet")))
    path.touch()
    return tuple(uploads)


def save_uploads(browser: str, uploads: tuple[Upload, ...]) -> None:
    path = _drafts(home()) / f"{browser}.json"
    staged = path.with_suffix(f".{time.time_ns()}.partial")
    staged.write_text(json.dumps([asdict(u) for u in uploads], indent=1))
    staged.replace(path)
    _forget_old()


def _forget_old() -> None:
    """Remove uploads no browser has opened for :data:`DRAFT_DAYS` days, and files no upload refers to."""
    cutoff = time.time() - DRAFT_DAYS * 86400
    used: set[str] = set()
    for path in _drafts(home()).glob("*.json"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            continue
        try:
            used.update(str(r.get("digest")) for r in json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    for blob in _blobs().iterdir():
        if blob.name not in used and blob.stat().st_mtime < time.time() - 3600:
            blob.unlink(missing_ok=True)


@st.cache_resource(show_spinner=False)
def team_store(folder: str) -> SnapshotStore:
    return SnapshotStore(Path(folder))


def team() -> SnapshotStore:
    """The team's kept snapshots."""
    return team_store(str(home()))


@st.cache_resource(show_spinner="Preparing the sample company's thirteen weekly exports…")
def sample_store(folder: str) -> SnapshotStore:
    """The sample company's history: its own workspace, filled on first use and never written by the user."""
    from sample_data import load_sample
    from sample_data.history import seed_store

    store = SnapshotStore(Path(folder))
    if not store.list():
        seed_store(store, load_sample())
    return store


def sample() -> SnapshotStore:
    return sample_store(str(sample_home(home())))


@st.cache_resource(max_entries=64, show_spinner="Preparing a snapshot…")
def prepared(folder: str, snapshot_id: str) -> K.Dataset:
    """A kept snapshot, prepared once (shared by every session and page)."""
    snapshot, tables = SnapshotStore(Path(folder)).load(snapshot_id)
    return K.Dataset.prepare(tables, as_of=snapshot.as_of)


@st.cache_resource(max_entries=64, show_spinner="Reading the pipeline of a kept week…")
def pipeline(folder: str, snapshot_id: str) -> K.Dataset:
    """A kept snapshot's pipeline (``kpi_core.history.PIPELINE_TABLES``, only the columns KPIs read): all the
    scorecard's trends and forecast accuracy need of a week, without its activities and leads; prepared once and
    kept on disk (``SnapshotStore.pipeline``), held once per server."""
    return SnapshotStore(Path(folder)).pipeline(snapshot_id)
