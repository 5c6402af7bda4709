"""The snapshot store and the `changes` / `snapshots` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from kpi_core.cli import main
from kpi_core.model import DataError
from kpi_core.snapshots import SnapshotStore
from tests.conftest import ROOT


def deals(*rows: tuple[str, str, float, str]) -> dict[str, pl.DataFrame]:
    frame = pl.DataFrame(
        rows,
        schema={"deal_id": pl.String, "stage": pl.String, "amount": pl.Float64, "close_date": pl.String},
        orient="row",
    ).with_columns(pl.col("close_date").str.to_date())
    return {"deals": frame}


def test_save_list_rename_delete_and_no_duplicates(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    week1 = store.save(deals(("1", "Proposal", 10.0, "2026-11-30")), as_of=date(2026, 11, 13), name="week 46")
    again = store.save(deals(("1", "Proposal", 10.0, "2026-11-30")), as_of=date(2026, 11, 13), name="other name")
    assert again == week1  # the same content is stored once
    week2 = store.save(deals(("1", "Closed Won", 10.0, "2026-11-18")), as_of=date(2026, 11, 20))
    assert [(s.name, s.as_of) for s in store.list()] == [
        ("week 46", date(2026, 11, 13)),
        ("2026-11-20 snapshot", date(2026, 11, 20)),
    ]
    with pytest.raises(DataError, match="already exists"):
        store.rename(week2.id, "week 46")
    store.rename(week2.id, "week 47")
    assert store.load("week 47")[1]["deals"]["stage"].to_list() == ["Closed Won"]
    assert store.get(week1.id[:6]).name == "week 46" and store.get("2026-11-13").name == "week 46"
    store.delete("week 46")
    assert [s.name for s in store.list()] == ["week 47"]
    assert sorted(p.name for p in store.folder.iterdir()) == [week2.id]
    with pytest.raises(DataError, match="no snapshot 'week 46'; the snapshots are: week 47 \\(2026-11-20\\)"):
        store.get("week 46")


KILL = """
import os, signal, sys
sys.path.insert(0, {root!r})
from datetime import date
import polars as pl
import kpi_core.snapshots as S
where = {where!r}
if where == "tables":
    original = pl.DataFrame.write_parquet
    def write(self, path, *a, **k):
        original(self, path, *a, **k)
        os.kill(os.getpid(), signal.SIGKILL)  # killed after the first table, before the rest
    pl.DataFrame.write_parquet = write
else:
    original_replace = S.os.replace
    def replace(a, b):
        original_replace(a, b)
        os.kill(os.getpid(), signal.SIGKILL)  # killed after the folder is in place, before the catalog knows it
    S.os.replace = replace
store = S.SnapshotStore(__import__("pathlib").Path({home!r}))
big = pl.DataFrame({{"deal_id": [str(i) for i in range(50000)], "stage": ["Proposal"] * 50000}})
store.save({{"deals": big, "activities": pl.DataFrame({{"activity_date": ["2026-11-01"]}})}}, as_of=date(2026, 11, 27))
"""


@pytest.mark.parametrize("where", ["tables", "catalog"])
def test_a_process_killed_mid_write_leaves_the_store_intact(tmp_path: Path, where: str) -> None:
    store = SnapshotStore(tmp_path)
    earlier = store.save(deals(("1", "Proposal", 10.0, "2026-11-30")), as_of=date(2026, 11, 20), name="week 47")
    done = subprocess.run(
        [sys.executable, "-c", KILL.format(root=str(ROOT), where=where, home=str(tmp_path))], capture_output=True
    )
    assert done.returncode == -9  # really killed
    reopened = SnapshotStore(tmp_path)
    assert reopened.load("week 47")[1]["deals"].height == 1  # the earlier one is intact and readable
    if where == "tables":  # no half snapshot listed; the half-written folder swept
        assert [s.name for s in reopened.list()] == ["week 47"]
        assert sorted(p.name for p in reopened.folder.iterdir()) == [earlier.id]
    else:  # complete and in place, but the catalog never heard of it: recovered from its manifest
        assert [s.name for s in reopened.list()] == ["week 47", "2026-11-27 snapshot"]
        assert reopened.load("2026-11-27 snapshot")[1]["deals"].height == 50_000
    reopened.save(deals(("2", "Proposal", 5.0, "2026-12-01")), as_of=date(2026, 11, 27), name="week 48")
    assert "week 48" in [s.name for s in reopened.list()]


OPENER = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from kpi_core.snapshots import SnapshotStore
stop = Path({stop!r})
opened = 0
while not stop.exists():
    SnapshotStore(Path({home!r}))
    opened += 1
print(opened)
"""


def test_opening_the_store_never_loses_a_save_in_progress(tmp_path: Path) -> None:
    """A 200k-deal save races a process that opens (and sweeps) the store in a loop, 20 times."""
    store = SnapshotStore(tmp_path)
    stop = tmp_path / "stop"
    opener = subprocess.Popen(
        [sys.executable, "-c", OPENER.format(root=str(ROOT), home=str(tmp_path), stop=str(stop))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ids = [f"{i:06d}" for i in range(200_000)]
        saved = []
        for week in range(20):
            big = pl.DataFrame({"deal_id": ids, "stage": ["Proposal"] * 200_000, "amount": [float(week)] * 200_000})
            saved.append(store.save({"deals": big}, as_of=date(2026, 1, 1 + week), name=f"week {week}"))
    finally:
        stop.touch()
        opened = int(opener.communicate(timeout=60)[0])
    assert opened > 20  # the other process really opened the store during the saves
    reopened = SnapshotStore(tmp_path)
    assert [s.name for s in reopened.list()] == [f"week {w}" for w in range(20)]
    for week, snapshot in enumerate(saved):
        assert reopened.load(snapshot.id)[1]["deals"].get_column("amount").unique().to_list() == [float(week)]


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("Opportunity ID,Opportunity Name,Stage,Amount,Close Date\n" + "\n".join(rows) + "\n")
    return path


def test_changes_command_between_two_exports_and_snapshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KPI_WORKBENCH_HOME", str(tmp_path / "home"))
    before = _csv(
        tmp_path / "week46.csv",
        [
            "006A00000000001AAA,A,Proposal,100,2026-12-10",
            "006A00000000002AAA,B,Negotiation,200,2026-11-30",
            "006A00000000003AAA,C,Proposal,50,2026-12-20",
            "006A00000000004AAA,D,Proposal,70,2027-01-15",
        ],
    )
    after = _csv(
        tmp_path / "week47.csv",
        [
            "006A00000000001,A,Negotiation,120,2026-12-10",
            "006A00000000002,B,Closed Won,200,2026-11-28",
            "006A00000000004,D,Proposal,70,2026-12-15",
            "006A00000000005,E,Prospecting,30,2026-12-01",
        ],
    )
    assert main(["changes", "--from", str(before), "--to", str(after), "--period", "2026-Q4", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["waterfall"] == {
        "start": 350.0,
        "new": 30.0,
        "pulled_in": 70.0,
        "reopened": 0.0,
        "increased": 20.0,
        "won": 200.0,
        "lost": 0.0,
        "pushed_out": 0.0,
        "removed": 50.0,
        "decreased": 0.0,
        "end": 220.0,
    }
    assert doc["counts"] == {"removed": 1, "won": 1, "new": 1, "pulled_in": 1, "increased": 1}
    assert {d["deal_id"]: d["category"] for d in doc["deals"]} == {
        "006A00000000001": "increased",
        "006A00000000002": "won",
        "006A00000000003": "removed",
        "006A00000000004": "pulled_in",
        "006A00000000005": "new",
    }
    advanced = next(d for d in doc["deals"] if d["deal_id"] == "006A00000000001")
    assert (advanced["amount_before"], advanced["amount_after"], advanced["stage_move"]) == (100.0, 120.0, "advanced")
    assert {d["deal_id"]: d["pushes"] for d in doc["deals"]}["006A00000000002"] == 0

    assert main(["snapshots", "save", str(before), "--as-of", "2026-11-13", "--name", "week 46"]) == 0
    assert main(["snapshots", "save", str(after), "--as-of", "2026-11-20", "--name", "week 47"]) == 0
    import hashlib

    saved = SnapshotStore().get("week 46")
    assert saved.sources == (("week46.csv", hashlib.sha256(before.read_bytes()).hexdigest()),)
    assert json.loads(saved.mapping)["week46.csv"]["Opportunity ID"] == "deal_id"
    capsys.readouterr()
    assert main(["changes", "--from", "week 46", "--to", "week 47", "--period", "2026-Q4", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["waterfall"] == doc["waterfall"]
    assert main(["snapshots", "list"]) == 0
    listing = capsys.readouterr().out
    assert "2026-11-13  week 46" in listing and "2026-11-20  week 47" in listing
    assert main(["changes", "--from", "week 45", "--to", "week 47"]) == 2
    assert "no snapshot 'week 45'" in capsys.readouterr().err


def test_forecast_command_on_the_sample_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kpi_core.forecast import forecast_accuracy, prepare_history
    from sample_data import load_sample
    from sample_data.history import seed_store, weekly_snapshots

    monkeypatch.setenv("KPI_WORKBENCH_HOME", str(tmp_path))
    assert main(["forecast"]) == 2
    assert "needs at least two snapshots" in capsys.readouterr().err
    company = load_sample()
    seed_store(SnapshotStore(tmp_path), company)
    assert main(["forecast", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    expected = forecast_accuracy(prepare_history(weekly_snapshots(company)), grain="month")
    assert [(r["period"], r["snapshot"], r["accuracy"]) for r in rows] == [
        (r["period"], r["snapshot"].isoformat(), pytest.approx(r["accuracy"])) for r in expected.iter_rows(named=True)
    ]


def test_a_kept_weeks_pipeline_is_prepared_once_and_read_back_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline of a kept week is written beside it after it is prepared; a restarted server (a new store
    object) reads it back with the same tables, dtypes and KPIs; a damaged copy is prepared again; a copy by other
    code, or of a deleted snapshot, is dropped."""
    import kpi_core as K
    from kpi_core import snapshots
    from sample_data.generator import generate

    tables = generate(1_500, seed=3)
    store = SnapshotStore(tmp_path)
    kept = store.save(tables, as_of=date(2026, 11, 20))
    first = store.pipeline(kept.id)
    folder = tmp_path / "prepared" / f"{kept.id}-{snapshots.code_version()}"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["dataset.json", "quality.arrow", *[f"{t}.arrow" for t in first.tables]]
    )
    assert "activities" not in first.tables and first.has("stage_history")

    calls: list[str] = []
    monkeypatch.setattr(K.Dataset, "prepare", lambda *a, **k: calls.append("prepared"))
    again = SnapshotStore(tmp_path).pipeline(kept.id)
    assert calls == []  # read back, not prepared
    assert again.tables.keys() == first.tables.keys()
    for name, frame in first.tables.items():
        assert again.table(name).schema == frame.schema, name
        assert again.table(name).equals(frame), name
    assert (again.as_of, again.currency, again.stage_order, again.warnings, again.settings) == (
        first.as_of,
        first.currency,
        first.stage_order,
        first.warnings,
        first.settings,
    )
    monkeypatch.undo()
    wanted = ["open_pipeline", "weighted_pipeline", "stalled_deals", "pipeline_coverage"]
    assert K.report(again, wanted, grain="quarter", by=["region"]).frame.equals(
        K.report(first, wanted, grain="quarter", by=["region"]).frame
    )

    (folder / "deals.arrow").write_bytes(b"not arrow at all")
    repaired = SnapshotStore(tmp_path).pipeline(kept.id)
    assert repaired.table("deals").equals(first.table("deals"))
    assert pl.read_ipc(folder / "deals.arrow").equals(first.table("deals"))

    stale = tmp_path / "prepared" / f"{kept.id}-000000000000"
    stale.mkdir()
    orphan = tmp_path / "prepared" / "0123456789abcdef-000000000000"
    orphan.mkdir()
    SnapshotStore(tmp_path)  # opening the store drops what belongs to no kept snapshot
    assert not orphan.exists() and stale.exists()
    snapshots.code_version.cache_clear()
    monkeypatch.setattr(snapshots, "code_version", lambda: "111111111111")
    SnapshotStore(tmp_path).pipeline(kept.id)  # other code: prepared again, the older copies dropped
    assert sorted(p.name for p in (tmp_path / "prepared").iterdir()) == [f"{kept.id}-111111111111"]
    assert not folder.exists() and not stale.exists()
    store.delete(kept.id)
    assert list((tmp_path / "prepared").iterdir()) == []
