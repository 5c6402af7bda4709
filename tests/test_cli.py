from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest

import kpi_core as K
from kpi_core.cli import main
from sample_data import load_sample
from tests.conftest import MAVEN, ROOT


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sample_quarter_json_gives_every_kpi_or_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compute", "--sample", "--grain", "quarter", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"as_of", "as_of_source", "currency", "rows", "unavailable", "warnings", "quality"}
    assert (doc["as_of_source"], doc["currency"]) == ("the latest created date of a deal in the data", "USD")
    kpis = {row["kpi"] for row in doc["rows"]}
    assert kpis | set(doc["unavailable"]) == {k.id for k in K.REGISTRY}
    assert doc["unavailable"] == {
        "forecast_accuracy": K.availability(K.Dataset.prepare(load_sample()), ["forecast_accuracy"])[
            "forecast_accuracy"
        ]
    }
    assert {row["period"] for row in doc["rows"]} == {"2026-Q4"}
    plain = [r for r in doc["rows"] if r["kpi"] != "stage_conversion" and r["kpi"] != "time_in_stage_days"]
    assert all("stage" not in r and "region" not in r for r in plain)
    # the numbers are the engine's
    engine = K.evaluate(K.Dataset.prepare(load_sample()), grain="quarter")
    assert [r["value"] for r in doc["rows"]] == pytest.approx(
        engine["value"].to_list(), rel=1e-12
    )  # float sums run in parallel


def test_by_dimension_rows_carry_the_dimension(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "compute",
        "--sample",
        "--kpi",
        "won_revenue",
        "--kpi",
        "win_rate",
        "--by",
        "region",
        "--period",
        "2026-10",
        "--format",
        "json",
    )
    rows = json.loads(out)["rows"]
    assert code == 0
    assert {(r["kpi"], r["region"]) for r in rows} == {
        (k, reg) for k in ("won_revenue", "win_rate") for reg in ("APAC", "EMEA", "LATAM", "North America")
    }
    assert all(r["period"] == "2026-10" and set(r) >= {"value", "previous", "last_year", "delta"} for r in rows)


def test_canonical_files_match_an_independent_count(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    deals = tmp_path / "deals.csv"
    deals.write_text(
        "deal_id,stage,amount,created_date,close_date,owner\n"
        "1,Closed Won,100,2026-01-02,2026-02-03,ann\n2,Closed Won,250.5,2026-01-05,2026-02-10,bob\n"
        "3,Closed Lost,999,2026-01-05,2026-02-11,bob\n4,Proposal,40,2026-02-01,2026-03-30,ann\n"
    )
    code, out, _ = run(
        capsys,
        "compute",
        str(deals),
        "--period",
        "2026-02",
        "--kpi",
        "won_revenue",
        "--kpi",
        "win_rate",
        "--kpi",
        "open_pipeline",
        "--as-of",
        "2026-02-28",
        "--format",
        "json",
    )
    assert code == 0
    assert {r["kpi"]: r["value"] for r in json.loads(out)["rows"]} == {
        "won_revenue": 350.5,
        "win_rate": 2 / 3,
        "open_pipeline": 0.0,
    }


def test_maven_files_and_csv_and_table_formats(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(MAVEN / n) for n in ("sales_pipeline.csv", "sales_teams.csv")]
    code, out, _ = run(capsys, "compute", *files, "--grain", "all", "--kpi", "won_revenue", "--format", "csv")
    assert code == 0
    frame = pl.read_csv(out.encode())
    assert frame.select("kpi", "period", "value").rows() == [("won_revenue", "all", 10005534.0)]
    code, out, _ = run(
        capsys, "compute", *files, "--grain", "year", "--period", "2017", "--kpi", "won_revenue", "--kpi", "win_rate"
    )
    assert code == 0
    assert "Total revenue (won)" in out and "$10,005,534" in out and "63.2%" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compute"], "no data: give files to read or --sample"),
        (["compute", "--sample", "--kpi", "revenue"], "unknown KPI 'revenue'"),
        (["compute", "--sample", "--by", "planet"], "unknown dimension 'planet'"),
        (["compute", "--sample", "--period", "2026-13"], "not a valid period label"),
        (["compute", "/nonexistent/deals.csv"], "No such file"),
        (["compute", "--sample", "--filter", "region"], "use DIM=VALUE"),
    ],
)
def test_errors_are_messages_not_tracebacks(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_unrecognised_file_names_what_is_needed(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "notes.csv"
    path.write_text("colour,size\nred,3\n")
    code, _, err = run(capsys, "compute", str(path))
    assert code == 2
    assert (
        err
        == "error: notes.csv: no table recognised. Columns found: colour, size. A deals export needs a stage or status column and an amount, close date or deal name; activities need a date and a type or owner; leads need an id, a created date and a status, source or conversion flag.\n"
    )


def test_module_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kpi_core", "catalog"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout == K.registry.catalog_markdown()


@pytest.mark.parametrize(
    ("label", "make", "name"),
    [(f[0], f[1], f[2]) for f in __import__("tests.test_ingest", fromlist=["FORMATS"]).FORMATS],
)
def test_compute_on_raw_exports_matches_the_rows(
    capsys: pytest.CaptureFixture[str], tmp_path, label, make, name
) -> None:  # type: ignore[no-untyped-def]
    from tests import fixtures as F

    path = tmp_path / name
    path.write_bytes(make())
    code, out, err = run(
        capsys,
        "compute",
        str(path),
        "--period",
        "2026-03",
        "--as-of",
        "2026-03-31",
        "--format",
        "json",
        *[
            a
            for k in ("won_revenue", "deals_won", "win_rate", "avg_deal_size", "sales_cycle_days")
            for a in ("--kpi", k)
        ],
    )
    assert code == 0, err
    rows = json.loads(out)["rows"]
    got = {r["kpi"]: r["value"] for r in rows if r.get("currency") in (None, "EUR", "USD")}
    assert got == pytest.approx(F.expected(F.DEALS), rel=1e-12)


def test_inspect_explains_each_file(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests import fixtures as F

    report = tmp_path / "report1467143114250.csv"
    report.write_bytes(F.salesforce_report_csv())
    code, out, _ = run(capsys, "inspect", str(report), str(MAVEN / "sales_teams.csv"))
    assert code == 0
    assert "source: salesforce (Salesforce: salesforce.com footer, Opportunity Owner, Opportunity Name" in out
    assert "encoding: windows-1252; delimiter: comma; header on row 1; 5 footer/total row(s) dropped" in out
    assert "export date found in the file: 2026-03-31" in out
    assert "Opportunity Owner  ->  owner" in out and "Close Date         ->  close_date" in out
    assert "stage map (pipeline, order, stage, status, probability, deals: open/won/lost, decided by):" in out
    assert "table: reps (35 rows)" in out
    code, out, _ = run(capsys, "inspect", str(report), "--format", "json")
    doc = json.loads(out)
    assert [(d["file"], d["source"], d["tables"][0]["kind"], d["tables"][0]["rows"]) for d in doc] == [
        ("report1467143114250.csv", "salesforce", "deals", 6)
    ]
    assert {"column": "Amount", "maps_to": "amount", "confidence": 1.0, "note": "exact name"} in doc[0]["tables"][0][
        "mapping"
    ]


def test_inspect_bad_file_is_a_message(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    code, out, err = run(capsys, "inspect", str(path))
    assert (code, out) == (2, "")
    assert err == "error: empty.csv: the file is empty. Export the report again with its rows.\n"


def test_unusable_files_among_others_are_skipped_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in sorted(MAVEN.glob("*.csv"))]
    code, out, _ = run(capsys, "compute", *files, "--grain", "all", "--kpi", "won_revenue", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["rows"][0]["value"] == 10005534.0
    assert doc["warnings"][0].startswith(
        "skipped data_dictionary.csv: no table recognised. Columns found: Table, Field, Description."
    )
