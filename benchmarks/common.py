"""Helpers the benchmark scripts share: a resident-memory sampler, median timing, the 1M-deal data."""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"


class RssPeak:
    """Highest resident memory seen while the block runs (sampled every 5 ms); ``added_mb`` is above the start."""

    def __enter__(self) -> RssPeak:
        import psutil

        self._proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self.base = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mb(self) -> float:
        return self.peak / 2**20

    @property
    def added_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Wall times of ``runs`` calls (garbage collected before each), and the last result."""
    times, result = [], None
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def median_time(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median wall time of ``runs`` calls (garbage collected before each), and the last result."""
    times, result = timed(fn, runs)
    return statistics.median(times), result


def company(deals: int) -> Path:
    """The generator's company at ``deals`` deals (10 activities and 1 lead per deal), written once as Parquet.

    From 2M deals up, the 1M-deal company is written ``deals // 1M`` times over as one company of that many
    business units (ids, accounts and reps made distinct per unit), as a folder of Parquet parts per table: the
    generator itself would need far more memory than the data."""
    if deals > 1_000_000 and deals % 1_000_000 == 0:
        return _units(deals // 1_000_000)
    folder = DATA / str(deals)
    if not (folder / "deals.parquet").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sample_data",
                "--deals",
                str(deals),
                "--activities-per-deal",
                "10",
                "--leads-per-deal",
                "1",
                "--out",
                str(folder),
            ],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return folder


UNIT_COLUMNS = ("deal_id", "deal_name", "account", "owner", "manager", "lead_id", "activity_id", "converted_deal_id")
"""Columns made distinct per business unit when the 1M-deal company is repeated."""


def _units(copies: int) -> Path:
    """``copies`` business units of the 1M-deal company, streamed to ``<table>/part-<unit>.parquet``."""
    import polars as pl

    source = company(1_000_000)
    folder = DATA / str(copies * 1_000_000)
    done = folder / "complete"
    if done.exists():
        return folder
    for path in sorted(source.glob("*.parquet")):
        parts = folder / path.stem
        parts.mkdir(parents=True, exist_ok=True)
        for unit in range(copies):
            scan = pl.scan_parquet(path)
            names = scan.collect_schema().names()
            renamed = [pl.col(c) + f"~{unit}" if c in UNIT_COLUMNS and unit else pl.col(c) for c in names]
            scan.select(renamed).sink_parquet(parts / f"part-{unit}.parquet")
    done.touch()
    return folder
