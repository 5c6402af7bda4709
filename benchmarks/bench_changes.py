"""What changed between two 1M-deal snapshots (the second a week later: deals won, lost, pushed, resized, new).

.venv/bin/python benchmarks/bench_changes.py [--deals 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import company, median_time  # noqa: E402
from kpi_core import periods as P  # noqa: E402
from kpi_core.changes import balance, what_changed  # noqa: E402


def next_week(deals: pl.DataFrame, seed: int = 3) -> pl.DataFrame:
    """The same pipeline a week later: some open deals won or lost, pushed, resized, a few removed and added."""
    rng = np.random.default_rng(seed)
    n = deals.height
    roll = pl.Series(rng.random(n))
    is_open = pl.col("status") == "open"
    later = (
        deals.with_columns(_r=roll)
        .with_columns(
            status=pl.when(is_open & (pl.col("_r") < 0.03))
            .then(pl.lit("won"))
            .when(is_open & (pl.col("_r") < 0.06))
            .then(pl.lit("lost"))
            .otherwise(pl.col("status")),
            close_date=pl.when(is_open & pl.col("_r").is_between(0.06, 0.12))
            .then(pl.col("close_date").dt.offset_by("45d"))
            .otherwise(pl.col("close_date")),
            amount=pl.when(is_open & pl.col("_r").is_between(0.12, 0.2))
            .then(pl.col("amount") * 1.1)
            .otherwise(pl.col("amount")),
        )
        .filter(pl.col("_r") < 0.995)
        .drop("_r")
    )
    added = deals.head(5000).with_columns(deal_id=pl.format("N{}", pl.int_range(pl.len())), status=pl.lit("open"))
    return pl.concat([later, added])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    before = pl.read_parquet(company(args.deals) / "deals.parquet")
    after = next_week(before)
    period = P.parse("2026-Q4")
    for label, scope in (("2026-Q4", period), ("all open pipeline", None)):
        seconds, result = median_time(lambda scope=scope: what_changed(before, after, scope), args.runs)
        assert balance(result.waterfall) == result.waterfall["end"]
        print(
            f"what changed, {before.height:,} vs {after.height:,} deals, {label}: {seconds:.2f} s median of {args.runs} "
            f"(target <= 2 s); {result.deals.height:,} deals classified, waterfall balances"
        )


if __name__ == "__main__":
    main()
