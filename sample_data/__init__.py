"""The sample company: a seeded generator plus small committed files so the app opens at once."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from sample_data.generator import END, generate

COMPANY_DIR = Path(__file__).parent / "company"
DEFAULT_DEALS = 20_000
DEFAULT_SEED = 7


def load_sample() -> dict[str, pl.DataFrame]:
    """The committed default sample (regenerated from the seed if the files are missing).

    ``KPI_WORKBENCH_SAMPLE`` may name another folder of canonical Parquet files (a bigger company written by
    ``python -m sample_data --out DIR``), which the app then opens instead."""
    folder = Path(os.environ.get("KPI_WORKBENCH_SAMPLE") or COMPANY_DIR)
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return generate(DEFAULT_DEALS, seed=DEFAULT_SEED)
    return {f.stem: pl.read_parquet(f) for f in files}


def scan_sample() -> dict[str, pl.LazyFrame] | dict[str, pl.DataFrame]:
    """The sample as lazy scans of its Parquet files (read with their dimensions encoded on the way in: a 1M-deal
    company set by ``KPI_WORKBENCH_SAMPLE`` never holds its strings twice), or generated when there are none."""
    folder = Path(os.environ.get("KPI_WORKBENCH_SAMPLE") or COMPANY_DIR)
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return generate(DEFAULT_DEALS, seed=DEFAULT_SEED)
    return {f.stem: pl.scan_parquet(f) for f in files}


def write(tables: dict[str, pl.DataFrame], out: Path, *, fmt: str = "parquet") -> list[Path]:
    """Write canonical tables as ``<table>.parquet`` (or ``.csv``) files in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.write_parquet(path, compression="zstd", compression_level=19, statistics=False)
        else:
            frame.write_csv(path)
        written.append(path)
    return written


__all__ = ["COMPANY_DIR", "DEFAULT_DEALS", "DEFAULT_SEED", "END", "generate", "load_sample", "write"]
