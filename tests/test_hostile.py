"""Every family of hostile or broken file gives the exact outcome: a message naming the file and the problem, or
the file loaded with the oddity reported and the right numbers (see tests/hostile.py)."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import polars as pl
import pytest

import kpi_core as K
from kpi_core.cli import main
from kpi_core.export import neutralise, to_csv, to_xlsx
from kpi_core.ingest import read_file
from kpi_core.isolation import read_file_isolated
from tests.hostile import CASES, HEADER, Case, deals, expansion_bomb, xfd_single_cell


def read(case: Case) -> K.FileImport:
    data = case.make()
    return read_file_isolated(data, case.name) if case.isolated else read_file(data, case.name)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.family}: {c.name}" for c in CASES])
def test_each_family_has_its_outcome(case: Case) -> None:
    if case.error is not None:
        with pytest.raises(K.DataError) as refused:
            read(case)
        message = str(refused.value)
        assert message.startswith(f"{case.name}: ") and case.error in message, message
        return
    result = read(case)
    deals_table = result.tables[0].frame
    assert result.kind == "deals"
    assert deals_table.height == case.rows
    found = set(result.quality.get_column("rule").to_list())
    assert set(case.rules) <= found, found
    if case.owners:
        assert set(deals_table.get_column("owner").unique().to_list()) == set(case.owners)
    if case.won is not None:
        dataset = K.Dataset.prepare(K.combine([result]))
        frame = K.report(dataset, ["won_revenue"], grain="all", periods=["all"], compare=False).frame
        assert frame.get_column("value").to_list() == [case.won]
        assert dataset.as_of <= __import__("datetime").date.today()


def test_bombs_are_refused_fast_and_small() -> None:
    for make, name in ((xfd_single_cell, "xfd.xlsx"), (expansion_bomb, "bomb.xlsx")):
        data = make()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        with pytest.raises(K.DataError):
            read_file(data, name)
        assert time.perf_counter() - started < 2.0
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kilobytes


def test_a_reader_that_crashes_takes_only_its_worker(tmp_path: Path) -> None:
    from tests.hostile import xfd_without_dimension

    with pytest.raises(K.DataError, match=r"nodim\.xlsx: reading it needed more than \d+ GB of memory"):
        read_file_isolated(xfd_without_dimension(), "nodim.xlsx")
    # the process that asked is fine and reads the next file
    good = read_file_isolated("\n".join([HEADER, *deals(6)]).encode(), "deals.csv")
    assert good.tables[0].frame.height == 6


def test_row_counts_match_the_file_for_every_line_ending() -> None:
    lines = [HEADER, *deals(24)]
    for ending in ("\n", "\r\n", "\r"):
        data = ending.join(lines).encode()
        assert read_file(data, "deals.csv").tables[0].frame.height == 24 == data.count(ending.encode())


def test_unreadable_target_periods_are_reported_with_examples() -> None:
    result = read_file(
        b"period,target,owner\nQ1 twenty-six,1000,Ann\nnext month,2000,Bob\n2026-03,500,Ann\n", "targets.csv"
    )
    found = result.quality.filter(pl.col("rule") == "unreadable periods").row(0, named=True)
    assert (found["rows"], found["example"], found["severity"]) == (2, "'Q1 twenty-six', 'next month'", "warning")


def test_compute_json_reports_the_oddities(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(
        "\n".join(
            [
                HEADER,
                "Z,Closed Won,1e308,2026-03-01,2026-01-01,Ann",
                "Y,Closed Won,10,9999-12-31,2026-01-01,Ann",
                *deals(),
            ]
        ).encode()
    )
    assert main(["compute", str(path), "--format", "json", "--grain", "all", "--kpi", "won_revenue"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rules = {(q["rule"], q["rows"]) for q in doc["quality"]}
    assert {("implausible amounts in Amount", 1), ("implausible dates in Close Date", 1)} <= rules
    # the 1e308 amount is left out; Y's placeholder date is cleared, and all time still counts its 10
    assert doc["rows"][0]["value"] == sum(100 + i for i in range(24) if i % 3 == 0) + 10


@pytest.mark.parametrize(
    "cell",
    ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", '  =HYPERLINK("x")', "\t=1", "＝1+1", "＋1", "\u3000=1"],
)
def test_downloads_never_carry_a_live_formula(cell: str) -> None:
    frame = pl.DataFrame({cell: [cell], "amount": [1.0]})
    safe = neutralise(frame)
    assert safe.columns[0].startswith("'") and safe.item(0, 0).startswith("'")
    assert safe.schema["amount"] == pl.Float64
    back = pl.read_csv(to_csv(frame)[3:], infer_schema=False)
    assert back.columns[0].startswith("'") and back.item(0, 0).startswith("'")
    book = pl.read_excel(to_xlsx(frame))
    assert book.columns[0].startswith("'") and book.item(0, 0).startswith("'")


def test_cli_csv_is_neutralised_unless_raw(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_bytes(b"Opportunity Name,Stage,Amount,Close Date,Opportunity Owner\nA,Closed Won,10,2026-03-01,=cmd()\n")
    assert (
        main(["compute", str(path), "--format", "csv", "--grain", "all", "--kpi", "won_revenue", "--by", "owner"]) == 0
    )
    assert ",'=cmd()," in capsys.readouterr().out
    assert (
        main(
            [
                "compute",
                str(path),
                "--format",
                "csv",
                "--grain",
                "all",
                "--kpi",
                "won_revenue",
                "--by",
                "owner",
                "--raw",
            ]
        )
        == 0
    )
    assert ",=cmd()," in capsys.readouterr().out
