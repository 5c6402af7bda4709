"""The paths that make big datasets fast give exactly what the plain paths give.

Lazy scans of Parquet (dimensions encoded while reading, only the columns KPIs read kept), tables in date order read
as slices, whole periods bucketed in one pass, and the per-deal and per-lead facts aggregated from the activities'
links: each is checked against the same data taken the plain way, on every KPI, split and filtered.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import kpi_core as K
from kpi_core import engine
from kpi_core.prepare import in_date_order
from kpi_core.scan import scan_folder
from sample_data import generate, write

SPLITS: list[list[str]] = [[], ["region"], ["product"], ["owner"]]


@pytest.fixture(scope="module")
def company() -> dict[str, pl.DataFrame]:
    return generate(3_000, activities_per_deal=6.0, leads_per_deal=1.0)


@pytest.fixture(scope="module")
def eager(company: dict[str, pl.DataFrame]) -> K.Dataset:
    return K.Dataset.prepare(dict(company))


def _all_kpis(ds: K.Dataset) -> list[pl.DataFrame]:
    frames = [K.evaluate(ds, grain="month", periods=6, by=by) for by in SPLITS]
    frames.append(K.evaluate(ds, grain="quarter", periods=4, filters={"region": ["EMEA"]}))
    frames.append(K.evaluate(ds, grain="week", periods=8, by=["owner"], filters={"product": ["Beacon CRM"]}))
    frames.append(K.evaluate(ds, grain="all"))
    return frames


def _same(left: list[pl.DataFrame], right: list[pl.DataFrame]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert a.height > 0
        # sums over rows taken in another order may differ in the last bits
        assert_frame_equal(a, b, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


@pytest.mark.parametrize("columns", ["all", "kpis"])
def test_scanned_parquet_gives_the_same_kpis(
    company: dict[str, pl.DataFrame], eager: K.Dataset, tmp_path: Path, columns: str
) -> None:
    write(company, tmp_path)
    scanned = K.Dataset.prepare(scan_folder(tmp_path), columns=columns)  # type: ignore[arg-type]
    assert scanned.as_of == eager.as_of
    assert scanned.stage_order == eager.stage_order
    _same(_all_kpis(eager), _all_kpis(scanned))
    deals = ["deal_id", "stalled", "last_activity", "win_probability", "reached"]
    assert_frame_equal(eager.table("deals").select(deals), scanned.table("deals").select(deals))
    leads = ["lead_id", "response_hours"]
    assert_frame_equal(
        eager.table("leads").select(leads).sort("lead_id"), scanned.table("leads").select(leads).sort("lead_id")
    )
    kept = set(scanned.table("activities").columns)
    if columns == "kpis":  # the activities' ids stay on disk; what the KPIs read is there
        assert not kept & {"activity_id", "deal_id"}
        assert {"owner", "type", "day", "region"} <= kept
    else:
        assert kept == set(eager.table("activities").columns)


def test_a_folder_of_parts_is_one_table(company: dict[str, pl.DataFrame], eager: K.Dataset, tmp_path: Path) -> None:
    for name, frame in company.items():
        parts = tmp_path / name
        parts.mkdir()
        half = frame.height // 2
        frame.head(half).write_parquet(parts / "part-0.parquet")
        frame.slice(half).write_parquet(parts / "part-1.parquet")
    scanned = K.Dataset.prepare(scan_folder(tmp_path), columns="kpis")
    _same(_all_kpis(eager), _all_kpis(scanned))


def test_a_folder_without_tables_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(K.DataError, match="no canonical Parquet tables"):
        scan_folder(tmp_path)


def test_rows_in_date_order_read_as_slices_give_what_a_scan_gives(eager: K.Dataset) -> None:
    activities = eager.table("activities")
    assert activities.get_column("day").flags["SORTED_ASC"]  # prepared in date order, so read as slices
    shuffled = activities.sample(fraction=1.0, shuffle=True, seed=3)
    assert not shuffled.get_column("day").flags["SORTED_ASC"]
    plain = dataclasses.replace(eager, tables={**eager.tables, "activities": shuffled})
    activity_kpis = ["activities", "calls", "emails", "meetings", "activities_per_rep_week"]
    for by in [[], ["region"], ["owner"]]:
        for grain, periods in (("week", 10), ("month", 7), ("quarter", 3)):
            fast = K.evaluate(eager, activity_kpis, grain=grain, periods=periods, by=by)
            slow = K.evaluate(plain, activity_kpis, grain=grain, periods=periods, by=by)
            _same([fast], [slow])


def test_in_date_order_sorts_once_and_marks_the_order() -> None:
    frame = pl.DataFrame({"day": [date(2026, 3, 1), None, date(2026, 1, 5), date(2026, 1, 5)], "n": [1, 2, 3, 4]})
    ordered = in_date_order(frame, "day")
    assert ordered.rows() == [(None, 2), (date(2026, 1, 5), 3), (date(2026, 1, 5), 4), (date(2026, 3, 1), 1)]
    assert ordered.get_column("day").flags["SORTED_ASC"]
    again = in_date_order(ordered, "day")
    assert again.rows() == ordered.rows()


def test_a_previous_period_equal_to_a_whole_period_is_counted_under_both_keys() -> None:
    """A running period's comparison window can be a whole period that is also asked for (the last day of the
    month): one bucketed pass must give its rows to both."""
    deals = pl.DataFrame(
        {
            "deal_id": ["1", "2", "3"],
            "stage": ["Won", "Won", "Won"],
            "amount": [10.0, 20.0, 40.0],
            "created_date": [date(2026, 1, 2)] * 3,
            "close_date": [date(2026, 1, 20), date(2026, 2, 10), date(2026, 3, 5)],
        }
    )
    ds = K.Dataset.prepare({"deals": deals}, as_of=date(2026, 3, 31))
    frame = K.evaluate(ds, ["won_revenue"], periods=3)
    assert frame.select("period", "value", "previous").rows() == [
        ("2026-01", 10.0, 0.0),
        ("2026-02", 20.0, 10.0),
        ("2026-03", 40.0, 20.0),
    ]


def test_big_tables_read_through_a_date_index_give_what_a_scan_gives(
    eager: K.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deals and stage visits are not stored in date order: from INDEXED_ROWS rows up, each period's rows are
    gathered through an index in date order instead of filtered from a scan."""
    plain = _all_kpis(eager)
    monkeypatch.setattr(engine, "INDEXED_ROWS", 100)
    assert eager.table("deals").height >= 100 and eager.table("stage_visits").height >= 100
    indexed = _all_kpis(eager)
    assert {(id(eager.table("deals")), "close_date"), (id(eager.table("stage_visits")), "exited_day")} <= {
        (table, anchor) for table, anchors in engine._DATE_INDEX.items() for anchor in anchors
    }
    _same(plain, indexed)
