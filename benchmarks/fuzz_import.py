"""The long fuzz run of the import seam: random and half-valid bytes, CSV-like text and odd Parquet into
``read_file``; every example must end in a dataset or a clean ``DataError`` naming the file.

    .venv/bin/python -m benchmarks.fuzz_import [EXAMPLES]     # default 20,000 (CI runs 2,000 in the test suite)
"""

from __future__ import annotations

import os
import sys
import time


def main(examples: int) -> None:
    os.environ["KPI_WORKBENCH_FUZZ_EXAMPLES"] = str(examples)
    import pytest

    started = time.perf_counter()
    code = pytest.main(
        ["-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics", "tests/test_ingest_fuzz.py::test_random_bytes"]
    )
    print(f"{examples:,} examples of random bytes: exit {code} in {time.perf_counter() - started:.0f} s")
    sys.exit(code)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
