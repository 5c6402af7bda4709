"""Hypothesis fuzz of the ingest seam: a dataset or a clean DataError, never another exception."""

from __future__ import annotations

import os

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kpi_core as K
from kpi_core.ingest import combine, read_file
from kpi_core.model import DataError

HEADERS = [
    "Opportunity Name",
    "Stage",
    "Amount",
    "Close Date",
    "Created Date",
    "IsWon",
    "Deal - Value",
    "Owner",
    "Probability (%)",
    "Etapa del negocio",
    "CloseDate",
    "Status",
    "Id",
    "Type",
    "Record Id",
    "Deal Owner.id",
    "(Do Not Modify) Opportunity",
    "",
]
CELLS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "Closed Won",
            "Closed Lost",
            "Prospecting",
            "$1,234.56",
            "(12)",
            "1.234,56 €",
            "3/4/2026",
            "45631",
            "2026-13-45",
            "000000000000000AAA",
            "=1+2",
            "true",
            "no",
            "Total",
            "Copyright (c) 2000-2026 salesforce.com",
            '"',
            "\n",
            ";",
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


def must_be_clean(data: bytes, name: str) -> None:
    try:
        result = read_file(data, name)
    except DataError as exc:
        assert name in str(exc)
        return
    ds = K.Dataset.prepare(combine([result]))
    K.report(ds, grain="all")


EXAMPLES = int(os.environ.get("KPI_WORKBENCH_FUZZ_EXAMPLES", "2000"))
"""Examples of random bytes per run (CI: 2,000; ``benchmarks/fuzz_import.py`` runs 20,000)."""


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=3000),
        # bytes that start like a real format, then go wrong
        st.tuples(
            st.sampled_from(
                [b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"PAR1", b"\xef\xbb\xbf", b"\xff\xfe", b"%PDF"]
            ),
            st.binary(max_size=3000),
        ).map(lambda t: t[0] + t[1]),
        # a real header, then random bytes
        st.binary(max_size=2000).map(lambda b: b"Opportunity Name,Stage,Amount,Close Date\r\n" + b),
    ),
    name=st.sampled_from(["a.csv", "b.xlsx", "c.txt", "d.parquet", "e"]),
)
def test_random_bytes(data: bytes, name: str) -> None:
    must_be_clean(data, name)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(st.one_of(st.sampled_from(HEADERS), st.text(max_size=15)), min_size=1, max_size=8),
    rows=st.lists(st.lists(CELLS, min_size=0, max_size=9), max_size=12),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
)
def test_csv_like_text(headers: list[str], rows: list[list[str]], delimiter: str, encoding: str) -> None:
    lines = [delimiter.join(headers)] + [delimiter.join(r) for r in rows]
    text = "\n".join(lines)
    must_be_clean(text.encode(encoding, errors="replace"), "export.csv")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame_rows=st.lists(
        st.tuples(st.sampled_from(["Won", "Lost", "Open", None]), st.one_of(st.none(), st.floats(-1e9, 1e9))),
        max_size=20,
    )
)
def test_parquet_with_random_values(frame_rows: list[tuple[str | None, float | None]]) -> None:
    import io

    buf = io.BytesIO()
    pl.DataFrame(frame_rows, schema={"stage": pl.String, "amount": pl.Float64}, orient="row").with_columns(
        deal_id=pl.int_range(pl.len()).cast(pl.String)
    ).write_parquet(buf)
    must_be_clean(buf.getvalue(), "deals.parquet")
