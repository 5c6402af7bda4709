"""The default review notebook exported as a PPTX meeting pack, on the sample company's weekly history.

.venv/bin/python benchmarks/bench_pack.py [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kpi_core as K  # noqa: E402
from benchmarks.common import median_time  # noqa: E402
from kpi_core.notebook import WEEKLY_REVIEW  # noqa: E402
from kpi_core.snapshots import SnapshotStore  # noqa: E402
from sample_data import load_sample  # noqa: E402
from sample_data.history import seed_store  # noqa: E402
from ui import review  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    store = SnapshotStore(Path(tempfile.mkdtemp()))
    seed_store(store, load_sample())
    latest, previous = store.list()[-1], store.list()[-2]
    data = review.ReviewData(
        K.Dataset.prepare(store.load(latest.id)[1], as_of=latest.as_of),
        latest.name,
        K.Dataset.prepare(store.load(previous.id)[1], as_of=previous.as_of),
        previous.name,
    )
    started = time.perf_counter()
    review.chart_image(review.run_cell(WEEKLY_REVIEW.cells[3], data).chart)  # type: ignore[arg-type]  # the renderer's first start
    warm = time.perf_counter() - started

    def export() -> bytes:
        results = [review.run_cell(cell, data) for cell in WEEKLY_REVIEW.cells]
        return review.pptx(WEEKLY_REVIEW.name, results, data.quality_note, data.latest.as_of)

    seconds, deck = median_time(export, args.runs)
    print(
        f"default notebook ({len(WEEKLY_REVIEW.cells)} cells) run and exported as PPTX: {seconds:.2f} s median of {args.runs} "
        f"(target <= 10 s), {len(deck) / 1e3:.0f} kB; chart renderer start {warm:.2f} s"
    )


if __name__ == "__main__":
    main()
