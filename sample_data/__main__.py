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
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
args = parser.parse_args()
started = time.perf_counter()
tables = generate(
    args.deals, seed=args.seed, activities_per_deal=args.activities_per_deal, leads_per_deal=args.leads_per_deal
)
for path in write(tables, args.out, fmt=args.format):
    print(path)
print(f"{sum(f.height for f in tables.values()):,} rows in {time.perf_counter() - started:.1f} s")
