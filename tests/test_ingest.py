"""The importer on nasty fixtures in every format, each checked against KPIs computed from its rows."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from datetime import date

import polars as pl
import pytest

import kpi_core as K
from kpi_core import ingest
from kpi_core.ingest import combine, read_file
from kpi_core.model import DataError
from kpi_core.profiles import ProfileStore, profile_of
from tests import fixtures as F
from tests.conftest import SHARED

KPIS = ["won_revenue", "deals_won", "win_rate", "avg_deal_size", "sales_cycle_days"]


def kpis_of(files: list[tuple[bytes, str]], month: str = "2026-03") -> dict[str, float | None]:
    imports = [read_file(data, name) for data, name in files]
    ds = K.Dataset.prepare(combine(imports), as_of=date(2026, 3, 31))
    frame = K.evaluate(ds, KPIS, periods=[month], compare=False)
    return dict(frame.select("kpi", "value").rows())


FORMATS: list[tuple[str, Callable[[], bytes], str, str, str]] = [
    (
        "salesforce report, cp1252, footer",
        F.salesforce_report_csv,
        "report1467143114250.csv",
        "salesforce",
        "windows-1252",
    ),
    ("data loader, all caps, flags", F.dataloader_caps_csv, "extract.csv", "salesforce", "utf-8"),
    (
        "hubspot xlsx, spanish",
        F.hubspot_spanish_xlsx,
        "hubspot-crm-exports-todos-negocios-2026-03-31.xlsx",
        "hubspot",
        "xlsx",
    ),
    ("pipedrive, BOM", F.pipedrive_bom_csv, "deals-export.csv", "pipedrive", "utf-8 with BOM"),
    ("zoho, .id pairs", F.zoho_csv, "Deals_2026_03_31.csv", "zoho", "utf-8"),
    ("dynamics xlsx, hidden columns, serial dates", F.dynamics_xlsx, "Opportunities.xlsx", "dynamics", "xlsx"),
    ("utf-16 tab, german", F.utf16_tab_text, "deals.txt", "generic", "utf-16 (LE) with BOM"),
]


@pytest.mark.parametrize(("label", "make", "name", "source", "encoding"), FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_gives_the_independent_numbers(
    label: str, make: Callable[[], bytes], name: str, source: str, encoding: str
) -> None:
    data = make()
    result = read_file(data, name)
    assert (result.kind, result.source, result.grid.encoding) == ("deals", source, encoding)
    deals = result.tables[0].frame
    assert deals.height == len(F.DEALS)
    assert deals["status"].to_list() == [d.status for d in F.DEALS]
    assert deals["amount"].to_list() == pytest.approx([d.amount for d in F.DEALS])
    assert kpis_of([(data, name)]) == pytest.approx(F.expected(F.DEALS), rel=1e-12)


def test_salesforce_report_details() -> None:
    result = read_file(F.salesforce_report_csv(), "report1467143114250.csv")
    assert result.grid.footer_rows == 5
    assert result.as_of_hint == "2026-03-31"
    deals = result.tables[0].frame
    assert deals["deal_name"].to_list()[0] == "Café Müller – renewal".replace("–", "–")
    assert deals["deal_name"].to_list()[3] == "Initech\nmulti-line name"
    assert deals["owner"].to_list()[:2] == ["Zoë Brontë", "Ana Núñez"]
    rules = dict(result.quality.select("rule", "rows").rows())
    assert rules["footer rows dropped"] == 5


def test_dataloader_ids_and_flags() -> None:
    result = read_file(F.dataloader_caps_csv(), "extract.csv")
    deals = result.tables[0].frame
    assert deals["deal_id"][0] == "006460000000ABC"  # 18 -> 15 characters
    assert deals["account"][0] is None  # 000000000000000AAA is an empty id
    assert deals["probability"].to_list() == [1.0, 1.0, 0.0, 0.6, 1.0, 0.0]
    smap = result.tables[0].stage_map
    assert smap is not None and dict(smap.select("stage", "status").rows()) == {
        "Pilot": "open",
        "Signed": "won",
        "Dead": "lost",
    }


def test_history_with_15_character_ids_joins_deals_with_18() -> None:
    imports = [
        read_file(F.dataloader_caps_csv(), "extract.csv"),
        read_file(F.opportunity_history_csv(), "OpportunityHistory.csv"),
    ]
    assert imports[1].kind == "stage_history"
    raw = combine(imports)
    assert raw["stage_history"].select("deal_id", "stage").rows() == [
        ("006460000000ABC", "Prospecting"),
        ("006460000000ABC", "Signed"),
    ]
    ds = K.Dataset.prepare(raw, as_of=date(2026, 3, 31))
    visits = ds.table("stage_visits")
    assert visits.select("deal_id", "stage", "days").rows() == [("006460000000ABC", "Prospecting", 27.0)]


def test_hubspot_stage_history_and_sheet_choice() -> None:
    result = read_file(F.hubspot_spanish_xlsx(), "hubspot-crm-exports-todos-negocios-2026-03-31.xlsx")
    assert result.grid.sheet == "Negocios" and result.grid.sheets == ("Negocios",)
    assert result.as_of_hint == "2026-03-31"
    kinds = [t.kind for t in result.tables]
    assert kinds == ["deals", "stage_history"]
    history = result.tables[1].frame
    assert history.height == len(F.DEALS) + sum(d.status == "won" for d in F.DEALS)
    assert set(history["stage"]) == {"Cita programada", "Cierre Ganado 🤓"}
    assert result.tables[0].frame["currency"].unique().to_list() == ["EUR"]
    with pytest.raises(DataError, match="there is no sheet 'Deals'"):
        read_file(F.hubspot_spanish_xlsx(), "hubspot.xlsx", sheet="Deals")


def test_zoho_and_dynamics_columns() -> None:
    zoho = read_file(F.zoho_csv(), "Deals_2026_03_31.csv")
    mapping = {m.original: m.canonical for m in zoho.tables[0].mapping}
    assert (
        mapping["Deal Owner"] == "owner" and mapping["Deal Owner.id"] is None and mapping["Account Name"] == "account"
    )
    assert zoho.tables[0].frame["deal_id"][0] == "4800000000000"
    dynamics = read_file(F.dynamics_xlsx(), "Opportunities.xlsx")
    assert "(Do Not Modify) Row Checksum" in dynamics.grid.dropped_columns
    assert dynamics.tables[0].frame["close_date"][0] == date(2026, 3, 3)


def test_maven_four_files_by_region_through_the_importer() -> None:
    names = ("sales_pipeline.csv", "sales_teams.csv", "products.csv", "accounts.csv")
    imports = [read_file((SHARED / "data" / "maven-crm" / n).read_bytes(), n) for n in names]
    assert [i.kind for i in imports] == ["deals", "reps", "products", "accounts"]
    ds = K.Dataset.prepare(combine(imports))
    quality = ds.quality
    assert quality is not None
    loose = quality.filter(pl.col("rule") == "product matched loosely to the product lookup").row(0, named=True)
    assert (loose["rows"], loose["example"]) == (1480, "GTXPro ~ GTX Pro")
    assert ds.table("deals").filter(pl.col("product") == "GTXPro")["family"].unique().to_list() == ["GTX"]
    won: dict[str, float] = {}
    with open(SHARED / "data" / "maven-crm" / "sales_teams.csv", encoding="utf-8") as f:
        region = {r["sales_agent"]: r["regional_office"] for r in csv.DictReader(f)}
    with open(SHARED / "data" / "maven-crm" / "sales_pipeline.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["deal_stage"] == "Won":
                won[region[r["sales_agent"]]] = won.get(region[r["sales_agent"]], 0.0) + int(r["close_value"])
    frame = K.evaluate(ds, ["won_revenue"], grain="all", by=["region"])
    assert dict(frame.select("region", "value").rows()) == won


def test_salesforce_object_export() -> None:
    folder = SHARED / "data" / "salesforce-sample-export"
    imports = ingest.read_paths(
        [folder / "Opportunity.csv", folder / "OpportunityHistory.csv", folder / "Lead.csv", folder / "Account.csv"]
    )
    assert [i.kind for i in imports] == ["deals", "stage_history", "leads", "accounts"]
    with open(folder / "Opportunity.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    won = sum(float(r["Amount"]) for r in rows if r["IsWon"] == "1")
    with open(folder / "Lead.csv", encoding="utf-8") as f:
        leads = list(csv.DictReader(f))
    ds = K.Dataset.prepare(combine(imports))
    frame = K.evaluate(ds, ["won_revenue", "deals_won", "lead_conversion_rate"], grain="all")
    assert dict(frame.select("kpi", "value").rows()) == {
        "won_revenue": won,
        "deals_won": float(sum(r["IsWon"] == "1" for r in rows)),
        "lead_conversion_rate": sum(r["IsConverted"] == "1" for r in leads) / len(leads),
    }
    history = ds.table("stage_history")
    assert set(history["deal_id"]) <= set(ds.table("deals")["deal_id"])


def test_dirty_seed_set_imports_with_warnings() -> None:
    folder = SHARED / "data" / "trailhead-dirty"
    result = read_file((folder / "Opportunities.csv").read_bytes(), "Opportunities.csv")
    rules = dict(result.quality.select("rule", "rows").rows())
    assert rules["unknown stages (treated as open)"] == 8
    deals = result.tables[0].frame
    assert deals.filter(pl.col("stage") == "Closed/Won")["status"].to_list() == ["won"] * 3
    assert deals["close_date"].null_count() == 0
    for other in ("Accounts.csv", "Contacts.csv", "Campaigns.csv"):
        try:
            read_file((folder / other).read_bytes(), other)
        except DataError as exc:
            assert other in str(exc)


def test_mapping_edit_and_profiles_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = F.salesforce_report_csv()
    edited = read_file(
        data, "report.csv", overrides={"Type": None, "Account Name": "deal_name", "Opportunity Name": None}
    )
    frame = edited.tables[0].frame
    assert "deal_type" not in frame.columns and frame["deal_name"][0] == "Café"
    store = ProfileStore(tmp_path / "profiles")
    store.save(profile_of(edited))
    again = read_file(data, "report-next-week.csv", profiles=store)
    assert again.tables[0].frame.columns == frame.columns
    assert all(m.note == "saved mapping" for m in again.tables[0].mapping)
    other = ProfileStore(tmp_path / "elsewhere")
    assert [p.signature for p in other.import_json(store.export_json())] == [edited.tables[0].signature]
    with pytest.raises(DataError, match="not a mapping-profile file"):
        other.import_json('{"hello": 1}', "x.json")


def test_stage_map_edit_changes_status() -> None:
    first = read_file(F.dataloader_caps_csv(), "extract.csv")
    smap = first.tables[0].stage_map
    assert smap is not None
    edited = smap.with_columns(
        status=pl.when(pl.col("stage") == "Pilot").then(pl.lit("lost")).otherwise(pl.col("status"))
    )
    again = read_file(F.dataloader_caps_csv(), "extract.csv", stages=edited)
    assert again.tables[0].frame["status"].to_list().count("lost") == 2 + 0  # flags win over the map
    csv_only = b"Name,Stage,Amount,Close Date\nA,Pilot,5,2026-03-01\nB,Signed,7,2026-03-02\n"
    plain = read_file(csv_only, "deals.csv")
    smap2 = plain.tables[0].stage_map
    assert smap2 is not None
    fixed = smap2.with_columns(
        status=pl.when(pl.col("stage") == "Signed").then(pl.lit("won")).otherwise(pl.col("status"))
    )
    assert read_file(csv_only, "deals.csv", stages=fixed).tables[0].frame["status"].to_list() == ["open", "won"]


def test_currencies_converted_with_a_rate_table() -> None:
    deals = b"Opportunity Name,Stage,Amount,Currency,Close Date\nA,Closed Won,100,EUR,2026-03-04\nB,Closed Won,200,USD,2026-03-05\nC,Closed Lost,50,GBP,2026-03-06\n"
    rates = b"currency,rate,valid_from\nEUR,1.10,2026-01-01\nEUR,1.20,2026-03-05\nGBP,1.25,\n"
    mixed = K.Dataset.prepare(combine([read_file(deals, "d.csv")]), as_of=date(2026, 3, 31))
    result = K.report(mixed, ["won_revenue", "deals_won"], periods=["2026-03"], compare=False)
    assert result.frame.select("kpi", "currency", "value").rows() == [
        ("won_revenue", "EUR", 100.0),
        ("won_revenue", "GBP", 0.0),
        ("won_revenue", "USD", 200.0),
        ("deals_won", None, 2.0),
    ]
    assert "several currencies (EUR, GBP, USD)" in result.warnings[-1]
    converted = K.Dataset.prepare(
        combine([read_file(deals, "d.csv"), read_file(rates, "rates.csv")]), as_of=date(2026, 3, 31)
    )
    frame = K.evaluate(converted, ["won_revenue", "win_rate_value"], periods=["2026-03"], compare=False)
    assert dict(frame.select("kpi", "value").rows()) == pytest.approx(
        {"won_revenue": 310.0, "win_rate_value": 310.0 / (310.0 + 62.5)}
    )


def _xlsx_bomb(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\x00" * size)
    return buf.getvalue()


def _encrypted_ole() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 500


BAD: list[tuple[str, bytes, str, str]] = [
    ("empty", b"", "deals.csv", "deals.csv: the file is empty"),
    ("blank lines", b"\n\n  \n", "deals.csv", "deals.csv: the file is empty"),
    (
        "header only",
        b"Opportunity Name,Stage,Amount\n",
        "deals.csv",
        "has a header row (Opportunity Name, Stage, Amount) but no data rows",
    ),
    (
        "image",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40,
        "photo.csv",
        "photo.csv: this is an image (PNG), not a table. A screenshot cannot be read",
    ),
    ("binary", b"\x00\x07MZ" + bytes(range(256)) * 40, "data.csv", "data.csv: this is a binary file, not a table"),
    (
        "truncated xlsx",
        F.hubspot_spanish_xlsx()[:3000],
        "deals.xlsx",
        "deals.xlsx: the Excel file is truncated or damaged",
    ),
    ("password-protected", _encrypted_ole(), "deals.xlsx", "deals.xlsx: the workbook is password-protected"),
    (
        "no known columns",
        b"colour,size\nred,3\n",
        "notes.csv",
        "notes.csv: no table recognised. Columns found: colour, size.",
    ),
    ("one giant line", b"x" * 6_000_000, "huge.csv", "huge.csv: the file is one line of 6 MB"),
    (
        "plain zip",
        b"PK\x03\x04" + _xlsx_bomb(10)[4:].replace(b"xl/", b"zz/"),
        "deals.xlsx",
        "this is a ZIP archive, not an Excel workbook",
    ),
]


@pytest.mark.parametrize(("label", "data", "name", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_a_clear_message(label: str, data: bytes, name: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        read_file(data, name)
    assert message in str(caught.value)


def test_xlsx_bomb_is_refused_before_expanding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "MAX_XLSX_EXPANDED", 20_000_000)
    with pytest.raises(DataError, match="would expand to"):
        read_file(_xlsx_bomb(30_000_000), "bomb.xlsx")


def test_ten_thousand_columns_and_formula_cells() -> None:
    headers = ["Opportunity Name", "Stage", "Amount", "Close Date"] + [f"Custom {i}" for i in range(10_000)]
    row = ['=HYPERLINK("http://x")', "Closed Won", "=SUM(A1:A3)", "2026-03-01"] + ["v"] * 10_000
    data = (
        ",".join(headers)
        + "\n"
        + ",".join(row)
        + "\n"
        + ",".join(["B", "Closed Won", "10", "2026-03-02"] + ["w"] * 10_000)
        + "\n"
    ).encode()
    result = read_file(data, "wide.csv")
    deals = result.tables[0].frame
    assert deals["deal_name"].to_list() == ['=HYPERLINK("http://x")', "B"]  # kept as text, never evaluated
    assert deals["amount"].to_list() == [None, 10.0]
    assert dict(result.quality.select("rule", "rows").rows())["unreadable values in Amount"] == 1


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_and_title_rows(delimiter: str) -> None:
    lines = [
        "Pipeline report",
        "Filtered By: Close Date = THIS QUARTER",
        "",
        delimiter.join(["Opportunity Name", "Stage", "Amount", "Close Date"]),
        delimiter.join(["A", "Closed Won", "1200.5", "2026-03-01"]),
        delimiter.join(["B", "Closed Lost", "300", "2026-03-02"]),
        delimiter.join(["Total", "", "1500.5", ""]),
    ]
    result = read_file("\n".join(lines).encode(), "pipeline.csv")
    assert (result.grid.delimiter, result.grid.header_row) == (delimiter, 3)
    assert result.tables[0].frame.select("deal_name", "amount").rows() == [("A", 1200.5), ("B", 300.0)]


def test_ambiguous_day_month_is_reported() -> None:
    data = b"Opportunity Name,Stage,Amount,Close Date\nA,Closed Won,1,03/04/2026\nB,Closed Won,2,05/06/2026\n"
    result = read_file(data, "deals.csv")
    assert "ambiguous dates in Close Date" in result.quality["rule"].to_list()
    assert result.tables[0].frame["close_date"].to_list() == [date(2026, 3, 4), date(2026, 5, 6)]


def test_salesforce_tasks_get_their_type_from_the_subject() -> None:
    data = b'"Subject","ActivityDate","OwnerId","WhatId"\n"Email: Re: pricing","2026-03-02","005A","006B"\n"Call - follow up","2026-03-03","005A",""\n"Meeting with CFO","2026-03-04","005A",""\n"Send contract","2026-03-05","005A",""\n'
    result = read_file(data, "Task.csv")
    assert (result.kind, result.source) == ("activities", "salesforce")
    ds = K.Dataset.prepare(combine([result]), as_of=date(2026, 3, 31))
    frame = K.evaluate(ds, ["activities", "calls", "emails", "meetings"], periods=["2026-03"], compare=False)
    assert dict(frame.select("kpi", "value").rows()) == {
        "activities": 4.0,
        "calls": 1.0,
        "emails": 1.0,
        "meetings": 1.0,
    }


def test_exclusions_say_how_many_rows_and_why() -> None:
    result = read_file(F.salesforce_report_csv(), "report.csv")
    ds = K.Dataset.prepare(combine([result]), as_of=date(2026, 3, 31))
    assert K.exclusions(ds, "won_revenue", "2026-03").rows() == [("status is lost", 1)]
    assert K.exclusions(ds, "win_rate", "2026-03").rows() == []


def test_a_date_column_with_nothing_readable_stays_as_long_as_the_table() -> None:
    # found by the fuzz test: a column where no value reads as a date
    result = read_file(b"Opportunity Name,Stage,Close Date\nA,Closed Won,\nB,0,000000\n", "deals.csv")
    deals = result.tables[0].frame
    assert deals.height == 2 and deals["close_date"].to_list() == [None, None]
    assert dict(result.quality.select("rule", "rows").rows())["unreadable dates in Close Date"] == 1


@pytest.mark.parametrize("data", [b"*,", b"^a$,b\nx,y\n", b"*,Stage,Amount\nA,Won,3\n"])
def test_headers_polars_would_read_as_patterns(data: bytes) -> None:
    # found by the fuzz test: a column called * (or ^…$) is a wildcard (or regex) to Polars
    try:
        result = read_file(data, "odd.csv")
    except DataError as exc:
        assert str(exc).startswith("odd.csv: ")
        return
    assert "'*'" in result.grid.headers
