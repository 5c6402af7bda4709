"""Open-pipeline KPIs over time from kept snapshots, and on the scorecard."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import kpi_core as K
from kpi_core import periods as P
from kpi_core.history import pick, point_in_time, same_point
from tests.conftest import ROOT
from tests.test_app import _isolated  # noqa: F401


def snapshot(as_of: date, rows: list[tuple[str, str, float, str]]) -> K.Dataset:
    deals = pl.DataFrame(rows, schema=["deal_id", "stage", "amount", "close_date"], orient="row").with_columns(
        pl.col("close_date").str.to_date()
    )
    return K.Dataset.prepare({"deals": deals}, as_of=as_of)


def test_each_period_takes_the_snapshot_at_the_same_point() -> None:
    weeks = {
        "a": snapshot(
            date(2026, 2, 13), [("1", "Proposal", 100.0, "2026-03-20"), ("2", "Proposal", 40.0, "2026-02-27")]
        ),
        "b": snapshot(
            date(2026, 3, 13), [("1", "Proposal", 120.0, "2026-03-20"), ("3", "Proposal", 70.0, "2026-03-30")]
        ),
        "c": snapshot(
            date(2026, 4, 10), [("4", "Proposal", 500.0, "2026-04-30"), ("1", "Closed Won", 120.0, "2026-03-20")]
        ),
    }
    kept = [(d.as_of, k) for k, d in weeks.items()]
    months = [P.parse(m) for m in ("2026-02", "2026-03", "2026-04")]
    frame = point_in_time(
        weeks.__getitem__,
        kept,
        ["open_pipeline", "won_revenue"],
        grain="month",
        periods=months,
        as_of=date(2026, 4, 14),
    )
    # the 14th of each month: the export of the 13th stands for it (open deals closing in that month)
    assert frame.sort("period").rows() == [
        ("2026-02", "open_pipeline", 40.0, date(2026, 2, 13)),
        ("2026-03", "open_pipeline", 190.0, date(2026, 3, 13)),
        ("2026-04", "open_pipeline", 500.0, date(2026, 4, 10)),
    ]
    earlier = point_in_time(
        weeks.__getitem__, kept, ["open_pipeline"], grain="month", periods=months, as_of=date(2026, 4, 12)
    )
    # the 12th: no export on or a week before the 12th of February or March
    assert earlier.rows() == [("2026-04", "open_pipeline", 500.0, date(2026, 4, 10))]


def test_the_scorecard_shows_the_open_pipeline_trend_from_the_snapshots(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kpi_core.formatting import format_delta, format_value
    from kpi_core.snapshots import SnapshotStore, sample_home

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["grain"] = "month"
    at.run()
    assert not at.exception
    # independently: the sample company's snapshot taken at the same point of last month, evaluated for last month
    store = SnapshotStore(sample_home())
    current = K.Dataset.prepare(__import__("sample_data").load_sample())
    month = P.make(current.as_of, "month")
    previous = P.shift(month, -1)
    day = same_point(previous, month, current.as_of)
    chosen = max(s for s in store.list() if s.as_of <= day and (day - s.as_of).days <= 7)
    then = K.Dataset.prepare(store.load(chosen.id)[1], as_of=chosen.as_of)
    before = K.evaluate(then, ["weighted_pipeline"], grain="month", periods=[previous], compare=False)["value"][0]
    now = K.evaluate(current, ["weighted_pipeline"], grain="month", periods=[month])["value"][0]
    tile = next(m for m in at.metric if m.label == "Weighted pipeline")
    assert tile.delta == format_delta(now - before, "currency")
    # forecast accuracy: a tile, the latest closed month of the sample company's history
    from kpi_core.forecast import forecast_accuracy

    kept = [K.Dataset.prepare(store.load(s.id)[1], as_of=s.as_of) for s in store.list() if s.as_of <= current.as_of]
    accuracy = forecast_accuracy(kept, grain="month").sort("period").row(-1, named=True)
    shown = next(m for m in at.metric if m.label.startswith("Forecast accuracy, "))
    assert (shown.label, shown.value) == (
        f"Forecast accuracy, {accuracy['period']}",
        format_value(accuracy["accuracy"], "percent"),
    )


def test_pick_and_same_point() -> None:
    kept = [(date(2026, 3, 6), "w1"), (date(2026, 3, 13), "w2"), (date(2026, 3, 20), "w3")]
    assert pick(kept, date(2026, 3, 15)) == (date(2026, 3, 13), "w2")
    assert pick(kept, date(2026, 3, 5)) is None
    assert pick(kept, date(2026, 4, 1)) is None  # twelve days stale: stands for nothing
    assert same_point(P.parse("2026-02"), P.parse("2026-03"), date(2026, 3, 31)) == date(2026, 2, 28)


def test_a_kept_week_read_as_its_pipeline_gives_the_same_trends_and_forecasts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A generated company (activities, stage history, targets, leads, subscriptions) kept as a snapshot: read as
    its pipeline only, every open-pipeline KPI per region (stalled deals from stage times and idle days, coverage
    against targets) and the forecast accuracy equal the full dataset's, without its activities or leads held."""
    from kpi_core.engine import POINT_IN_TIME
    from kpi_core.forecast import forecast_accuracy
    from kpi_core.history import PIPELINE_TABLES
    from kpi_core.snapshots import SnapshotStore
    from sample_data.generator import generate

    tables = generate(3_000, seed=5)
    assert {"activities", "leads", "stage_history", "targets"} <= set(tables)
    store = SnapshotStore(tmp_path)
    older = store.save({**tables, "deals": tables["deals"].head(2_000)}, as_of=date(2026, 10, 2))
    latest = store.save(tables, as_of=date(2026, 11, 20))

    def both(sid: str) -> tuple[K.Dataset, K.Dataset]:
        snapshot, scans = store.scan(sid)
        _, full = store.load(sid)
        return (
            K.Dataset.prepare(scans, as_of=snapshot.as_of, columns="kpis", tables=PIPELINE_TABLES),
            K.Dataset.prepare(full, as_of=snapshot.as_of),
        )

    view, full = both(latest.id)
    assert not {"activities", "leads", "subscriptions"} & set(view.tables)
    quarters = [P.parse("2026-Q3"), P.parse("2026-Q4")]

    def values(ds: K.Dataset) -> dict[tuple[str, str, str], float]:
        frame = K.report(ds, sorted(POINT_IN_TIME), grain="quarter", periods=quarters, by=["region"]).frame
        rows = frame.filter(pl.col("stage").is_null() & pl.col("value").is_not_null())
        return {
            (p, k, r): v
            for p, k, r, v in rows.select("period", "kpi", pl.col("region").cast(pl.String), "value").rows()
        }

    expected = values(full)
    # the comparison covers stalled deals (stage times and idle days) and coverage (targets), not only amounts
    assert {k for _, k, _ in expected} == set(POINT_IN_TIME)
    assert sum(v for (_, k, _), v in expected.items() if k == "stalled_deals") > 0
    assert values(view) == pytest.approx(expected, rel=1e-12)
    older_view, older_full = both(older.id)
    by_view = forecast_accuracy([older_view, view], grain="month", by=["region"])
    by_full = forecast_accuracy([older_full, full], grain="month", by=["region"])
    assert by_full.height > 0
    assert by_view.drop("forecast", "forecast_commit", "actual", "accuracy", "accuracy_commit").equals(
        by_full.drop("forecast", "forecast_commit", "actual", "accuracy", "accuracy_commit")
    )
    for column in ("forecast", "forecast_commit", "actual", "accuracy", "accuracy_commit"):
        assert by_view[column].to_list() == pytest.approx(by_full[column].to_list(), rel=1e-12, nan_ok=True)


def test_another_companys_kept_weeks_never_stand_for_the_data_on_screen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The team kept two weeks of one company; someone uploads another company's export. Its scorecard shows no
    trend, comparison or forecast accuracy from the first company's history (they share no deal), and says that no
    history of this data is kept."""
    import os

    from kpi_core.snapshots import SnapshotStore
    from sample_data.generator import generate
    from tests import fixtures as F

    other = generate(300, seed=9)["deals"].with_columns(pl.lit("X-").add(pl.col("deal_id")).alias("deal_id"))
    team = SnapshotStore(Path(os.environ["KPI_WORKBENCH_HOME"]))
    for day in (date(2026, 2, 27), date(2026, 3, 6)):
        team.save({"deals": other.filter(pl.col("created_date").dt.date() <= day)}, as_of=day)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["grain"] = "week"
    at.run()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="uploader").set_value([("report.csv", F.salesforce_report_csv(), "text/csv")]).run()
    at.switch_page("pages/scorecard.py").run()
    assert not at.exception
    assert at.session_state["source"] == "upload"
    tiles = {m.label: m for m in at.metric}
    assert not [label for label in tiles if label.startswith("Forecast accuracy")]
    assert tiles["Weighted pipeline"].delta in (None, "")
    assert any("Keep each week's export (Data page) to see its trend here." in c.value for c in at.caption)
    # the weekly review shows the team's kept weeks, and says they are not the data on screen
    at.switch_page("pages/review.py").run()
    assert not at.exception
    assert any("the data on screen is another pipeline" in i.value for i in at.info)
