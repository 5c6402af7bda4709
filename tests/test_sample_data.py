"""The sample company: deterministic, the right size and shape, and activity leads pipeline leads revenue."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sample_data import DEFAULT_DEALS, DEFAULT_SEED, generate, load_sample


@pytest.fixture(scope="module")
def company() -> dict[str, pl.DataFrame]:
    return load_sample()


def test_committed_files_are_what_the_seed_generates(company: dict[str, pl.DataFrame]) -> None:
    fresh = generate(DEFAULT_DEALS, seed=DEFAULT_SEED)
    assert company.keys() == fresh.keys()
    for name, frame in fresh.items():
        assert_frame_equal(company[name], frame, check_column_order=True)


def test_shape_of_the_company(company: dict[str, pl.DataFrame]) -> None:
    deals, reps = company["deals"], company["reps"]
    assert deals.height == 20_000 and company["activities"].height == 200_000 and company["leads"].height == 30_000
    assert (reps.height, reps["team"].n_unique(), reps["region"].n_unique()) == (40, 8, 4)
    assert company["products"].height == 6 and company["accounts"]["segment"].n_unique() == 3
    span = (deals["created_date"].max() - deals["created_date"].min()).days  # type: ignore[operator]
    assert 700 <= span <= 735  # two years, from a Monday
    assert set(deals["status"]) == {"open", "won", "lost"}
    assert deals.filter(pl.col("status") == "lost")["lost_reason"].null_count() == 0
    assert (
        deals.filter(pl.col("status") != "lost")["lost_reason"].null_count()
        == deals.filter(pl.col("status") != "lost").height
    )
    assert set(company["activities"]["type"]) == {"call", "email", "meeting"}
    assert set(company["stage_history"]["deal_id"]) == set(deals["deal_id"])
    subs = company["subscriptions"]
    assert subs["end_date"].null_count() < subs.height  # some churn and contraction
    assert company["spend"].height == 4 * 25  # 25 months of spend per region, November 2024 to November 2026
    # quotas are set for whole years: every rep has one for each of the 26 months from November 2024 to December 2026
    months = company["targets"].group_by("owner").agg(pl.col("period").sort())
    assert (
        months.height == 40
        and months["period"].to_list()
        == [[f"2024-{m}" for m in ("11", "12")] + [f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)]] * 40
    )


def test_generator_is_deterministic_and_sized() -> None:
    a, b = generate(2_000, seed=3), generate(2_000, seed=3)
    for name in a:
        assert_frame_equal(a[name], b[name])
    assert a["deals"].height == 2_000 and a["activities"].height == 20_000
    assert not generate(2_000, seed=4)["deals"].equals(a["deals"])


def test_quarter_end_spike_and_slipped_deals(company: dict[str, pl.DataFrame]) -> None:
    won = company["deals"].filter(pl.col("status") == "won")
    left = (won["close_date"].dt.truncate("1q").dt.offset_by("3mo") - won["close_date"]).dt.total_days()
    assert (left <= 14).mean() > 0.25  # the last two weeks of a quarter are ~15% of it
    open_deals = company["deals"].filter(pl.col("status") == "open")
    assert open_deals.filter(pl.col("close_date") < pl.date(2026, 11, 20)).height > 50  # past-due


def _detrended(series: pl.Expr) -> pl.Expr:
    return series / series.rolling_mean(13, center=True)


def _corr(a: np.ndarray, b: np.ndarray, lag: int) -> float:
    return float(np.corrcoef(a[: len(a) - lag], b[lag:])[0, 1])


def test_activity_leads_pipeline_which_leads_revenue(company: dict[str, pl.DataFrame]) -> None:
    weekly = (
        company["activities"]
        .group_by(pl.col("activity_date").dt.truncate("1w").dt.date().alias("w"))
        .agg(acts=pl.len())
        .join(
            company["deals"]
            .group_by(pl.col("created_date").dt.truncate("1w").alias("w"))
            .agg(pipe=pl.col("amount").sum()),
            on="w",
        )
        .join(
            company["deals"]
            .filter(pl.col("status") == "won")
            .group_by(pl.col("close_date").dt.truncate("1w").alias("w"))
            .agg(rev=pl.col("amount").sum()),
            on="w",
        )
        .sort("w")
        .filter(pl.col("w") < pl.date(2026, 11, 16))
        .with_columns(pl.col("pipe", "rev").rolling_sum(4).name.suffix("_4w"))
        .with_columns(_detrended(pl.col(c)).alias(c) for c in ("acts", "pipe", "pipe_4w", "rev_4w"))
        .drop_nulls()
    )
    acts, pipe = weekly["acts"].to_numpy(), weekly["pipe"].to_numpy()
    by_lag = [_corr(acts, pipe, lag) for lag in range(9)]
    assert int(np.argmax(by_lag)) == 3 and by_lag[3] > 0.6 and by_lag[0] < 0.3
    pipe4, rev4 = weekly["pipe_4w"].to_numpy(), weekly["rev_4w"].to_numpy()
    assert max(_corr(pipe4, rev4, lag) for lag in range(8, 15)) > _corr(pipe4, rev4, 0) + 0.15


def test_weekly_history_of_the_sample(company: dict[str, pl.DataFrame], tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kpi_core.changes import balance, push_counts, what_changed
    from kpi_core.snapshots import SnapshotStore
    from sample_data.history import seed_store, weekly_snapshots

    weeks = weekly_snapshots(company)
    assert len(weeks) == 13 and weeks[-1][0] == date(2026, 11, 20) and weeks[0][0] == date(2026, 8, 28)
    last = weeks[-1][1]["deals"]
    assert_frame_equal(
        last.select("deal_id", "status", "close_date", "amount"),
        company["deals"].select("deal_id", "status", "close_date", "amount"),
    )
    heights = [w[1]["deals"].height for w in weeks]
    assert heights == sorted(heights)  # deals only ever appear
    for (_, before), (_, after) in itertools.pairwise(weeks):
        moved = what_changed(before["deals"], after["deals"])  # all open pipeline
        assert balance(moved.waterfall) == moved.waterfall["end"]
        assert moved.counts["won"] > 0 and moved.counts["lost"] > 0 and moved.counts["new"] > 0
    assert push_counts([w[1]["deals"] for w in weeks])["pushes"].max() >= 1
    store = SnapshotStore(tmp_path)
    assert seed_store(store, company) == 13
    assert seed_store(store, company) == 0  # the same weeks are not stored twice
    assert [s.as_of for s in store.list()] == [w[0] for w in weeks]
