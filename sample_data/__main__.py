"""``python -m sample_data --deals 1000000 --out DIR``: write the sample company at any size."""

import argparse
import time
from pathlib import Path

from sample_data import DEFAULT_DEALS, DEFAULT_SEED, generate, write

parser = argparse.ArgumentParser(prog="python -m sample_data", description=__doc__)
parser.add_argument("--deals", type=int, default=DEFAULT_DEALS)
parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
parser.add_argument("--activities-per-deal", type=float, default=10.0)
parser.add_argument("--leads-per-deal", type=float, default=1.5)
parser.add_argument("--out", type=Path, help="folder for the canonical Parquet (or CSV) tables")
parser.add_argument(
    "--snapshots",
    action="store_true",
    help="also save 13 weekly exports in the sample company's own workspace (inside KPI_WORKBENCH_HOME), for the "
    "weekly review",
)
parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
args = parser.parse_args()
started = time.perf_counter()
tables = generate(
    args.deals, seed=args.seed, activities_per_deal=args.activities_per_deal, leads_per_deal=args.leads_per_deal
)
if args.out:
    for path in write(tables, args.out, fmt=args.format):
        print(path)
if args.snapshots:
    from kpi_core.snapshots import SnapshotStore, sample_home
    from sample_data.history import seed_store

    store = SnapshotStore(sample_home())
    print(f"{seed_store(store, tables)} weekly snapshot(s) added to {store.home}")
if not args.out and not args.snapshots:
    parser.error("give --out DIR and/or --snapshots")
print(f"{sum(f.height for f in tables.values()):,} rows in {time.perf_counter() - started:.1f} s")
