"""End to end on real exports from real companies and CRMs (``../shared/data/realworld/``).

Each file's truths are computed here in plain Python (the csv module, and zipfile + XML for the Excel file)
following the file's own semantics as its SOURCE.md and its CRM document them; never copied from the program.
"""

from __future__ import annotations

import csv
import re
import statistics
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import polars as pl
import pytest

import kpi_core as K
from kpi_core.ingest import read_paths
from tests.conftest import SHARED

REAL = SHARED / "data" / "realworld"
pytestmark = pytest.mark.skipif(not REAL.exists(), reason="the shared real-world exports are not on this machine")

Row = dict[str, Any]


def rows_of(path: Path, *, encoding: str = "utf-8", delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, newline="", encoding=encoding) as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def xlsx_rows(path: Path) -> list[dict[str, Any]]:
    """The first sheet of a workbook as dicts, read with zipfile and ElementTree (numbers stay numbers)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as z:
        strings = [
            "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
            for si in ElementTree.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns)
        ]
        sheet = ElementTree.fromstring(z.read("xl/worksheets/sheet1.xml"))
    table: list[dict[str, Any]] = []
    for row in sheet.iter(f"{{{ns['m']}}}row"):
        cells: dict[str, Any] = {}
        for c in row.findall("m:c", ns):
            column = re.sub(r"\d", "", c.get("r", ""))
            v = c.find("m:v", ns)
            if v is None or v.text is None:
                continue
            cells[column] = strings[int(v.text)] if c.get("t") == "s" else float(v.text)
        table.append(cells)
    header = table[0]
    return [{header[k]: v for k, v in r.items() if k in header} for r in table[1:]]


def serial(value: float) -> date:
    return (datetime(1899, 12, 30) + timedelta(days=value)).date()


def kpis(deals: Iterable[Row]) -> dict[str, Any]:
    """The catalog's KPIs over all time from rows with status, amount, close, created and owner.

    Closed deals without a close date are in no period; a won deal without an amount counts as a deal but adds
    nothing; the cycle is close minus created in days for won deals with both dates, leaving out deals that closed
    before they were created (migrated history, orders entered after the win): they have no cycle."""
    deals = list(deals)
    closed = [d for d in deals if d["status"] in ("won", "lost") and d["close"] is not None]
    won = [d for d in closed if d["status"] == "won"]
    revenue = sum(d["amount"] for d in won if d["amount"] is not None)
    cycles = [(d["close"] - d["created"]).days for d in won if d["created"] is not None]
    cycles = [c for c in cycles if c >= 0]
    owners: dict[str, float] = defaultdict(float)
    for d in won:
        owners[d["owner"]] += d["amount"] or 0.0
    return {
        "won_revenue": revenue,
        "deals_won": len(won),
        "win_rate": len(won) / len(closed),
        "avg_deal_size": revenue / len(won),
        "open_pipeline": sum(d["amount"] for d in deals if d["status"] == "open" and d["amount"] is not None),
        "sales_cycle_days": statistics.fmean(cycles) if cycles else None,
        "by_owner": dict(owners),
    }


def dutch_number(text: str) -> float | None:
    return float(text.replace(".", "").replace(",", ".")) if text else None


def dmy(text: str) -> date | None:
    if not text:
        return None
    day, month, year = (int(p) for p in text.split("-"))
    return date(year, month, day)


def iso(text: str) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def parkbee() -> dict[str, Any]:
    """Salesforce report, Dutch locale: status from the stage; money in the org's currency, EUR, from the
    ``Amount (converted)`` column (the deals' own amounts are in EUR and GBP)."""
    rows = rows_of(REAL / "parkbee-sf-report" / "salesforce_opportunities.csv", delimiter=";")
    status = {"Closed Won": "won", "Closed Lost": "lost"}
    assert {r["Amount (converted) Currency"] for r in rows} == {"EUR"}
    return kpis(
        {
            "status": status.get(r["Stage"], "open"),
            "amount": dutch_number(r["Amount (converted)"]),
            "close": dmy(r["Close Date"]),
            "created": dmy(r["Created Date"]),
            "owner": r["Opportunity Owner"],
        }
        for r in rows
    )


def austin() -> dict[str, Any]:
    """Pipedrive API dump: the status column is the outcome; money in AUD from ``Value(AUD)``; won deals dated by
    ``won_time``, lost ones by ``lost_time``; created is ``add_time``."""
    rows = rows_of(REAL / "austin-pipedrive" / "Complete Deals Data.csv", encoding="cp1252")
    return kpis(
        {
            "status": r["status"],
            "amount": float(r["Value(AUD)"]) if r["Value(AUD)"] else None,
            "close": iso(r["won_time"] or r["lost_time"]),
            "created": iso(r["add_time"]),
            "owner": r["User Name"],
        }
        for r in rows
    )


def zoho() -> dict[str, Any]:
    """Zoho Potentials: status from Forecast Type, ``$22,700.00`` money, ``16 Apr, 2021 00:03:00`` dates."""

    def when(text: str) -> date:
        return datetime.strptime(text, "%d %b, %Y %H:%M:%S").date()

    rows = rows_of(REAL / "zoho-crm-analytics" / "Potentials.csv")
    return kpis(
        {
            "status": r["Forecast Type"].lower(),
            "amount": float(r["Amount"].replace("$", "").replace(",", "")),
            "close": when(r["Closing Date"]),
            "created": when(r["Created Time"]),
            "owner": r["Potential Owner"],
        }
        for r in rows
    )


def dynamics() -> dict[str, Any]:
    """Dynamics 365: won and lost deals valued and dated by Actual Revenue / Actual Close Date (the estimate where
    the actual is blank), open deals by Est. revenue / Est. Close Date."""
    deals = []
    for r in xlsx_rows(REAL / "d365-all-opportunities" / "All Opportunities.xlsx"):
        status = r["Status"].lower()
        closed = status in ("won", "lost")
        amount = r.get("Actual Revenue") if closed and r.get("Actual Revenue") is not None else r.get("Est. revenue")
        close = (
            r.get("Actual Close Date") if closed and r.get("Actual Close Date") is not None else r["Est. Close Date"]
        )
        deals.append(
            {
                "status": status,
                "amount": amount,
                "close": serial(close),
                "created": serial(r["Created On"]),
                "owner": r["Owner"],
            }
        )
    return kpis(deals)


def sdo() -> dict[str, Any]:
    """Salesforce Data Loader upsert shape: owners are ``Owner.External_Id__c`` resolved by User.csv; created is
    the custom ``DateTimeCreated__c``."""
    folder = REAL / "sdo-wave-sf-dataloader"
    names = {u["External_Id__c"]: u["Name"] for u in rows_of(folder / "User.csv")}
    status = {"Closed Won": "won", "Closed Lost": "lost"}
    return kpis(
        {
            "status": status.get(r["StageName"], "open"),
            "amount": float(r["Amount"]) if r["Amount"] else None,
            "close": iso(r["CloseDate"]),
            "created": iso(r["DateTimeCreated__c"]),
            "owner": names[r["Owner.External_Id__c"]],
        }
        for r in rows_of(folder / "Opportunity.csv")
    )


def hubspot_dummy() -> dict[str, Any]:
    rows = rows_of(REAL / "hubspot-dummy" / "hubspot_deals.csv")
    status = {"Closed Won": "won", "Closed Lost": "lost"}
    return kpis(
        {
            "status": status.get(r["Deal Stage"], "open"),
            "amount": float(r["Amount"]) if r["Amount"] else None,
            "close": iso(r["Close Date"]),
            "created": iso(r["Create Date"]),
            "owner": r["Deal Owner"],
        }
        for r in rows
    )


def marvell() -> dict[str, Any]:
    """HubSpot, all properties: the portal's ``Is Deal Closed?`` flag says what is closed ("Closed: abandoned" is
    open); a closed deal is won when its stage says won. One row has no stage and no flag: in no status."""
    with open(REAL / "marvell-hubspot" / "hubspot-crm-exports-all-deals-2023-05-16.csv", newline="") as f:
        table = list(csv.reader(f))
    header = table[0]
    deals = []
    for cells in table[1:]:
        r = dict(zip(header, cells, strict=True))  # duplicated headers: the last wins, none of them used here
        flag = r["Is Deal Closed?"]
        status = None if not flag else ("open" if flag == "false" else ("won" if "won" in r["Deal Stage"] else "lost"))
        deals.append(
            {
                "status": status,
                "amount": float(r["Amount"]) if r["Amount"] else None,
                "close": iso(r["Close Date"]),
                "created": iso(r["Create Date"]),
                "owner": r["Deal owner"],
            }
        )
    return kpis(deals)


CASES: dict[str, tuple[list[str], Callable[[], dict[str, Any]], str, str]] = {
    # name: (files, oracle, source the import should name, currency the money is in)
    "parkbee": (["parkbee-sf-report/salesforce_opportunities.csv"], parkbee, "salesforce", "EUR"),
    "austin": (["austin-pipedrive/Complete Deals Data.csv"], austin, "pipedrive", "AUD"),
    "zoho": (["zoho-crm-analytics/Potentials.csv", "zoho-crm-analytics/Users.csv"], zoho, "zoho", "USD"),
    "dynamics": (["d365-all-opportunities/All Opportunities.xlsx"], dynamics, "dynamics", "USD"),
    "sdo": (["sdo-wave-sf-dataloader/Opportunity.csv", "sdo-wave-sf-dataloader/User.csv"], sdo, "salesforce", "USD"),
    "hubspot_dummy": (["hubspot-dummy/hubspot_deals.csv"], hubspot_dummy, "hubspot", "USD"),
    "marvell": (["marvell-hubspot/hubspot-crm-exports-all-deals-2023-05-16.csv"], marvell, "hubspot", "USD"),
}
SUMMARY = ["won_revenue", "deals_won", "win_rate", "avg_deal_size", "open_pipeline", "sales_cycle_days"]


@pytest.fixture(scope="module", params=list(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, list[K.FileImport], K.Dataset]:
    files, _, _, _ = CASES[request.param]
    imports = read_paths([REAL / f for f in files])
    return request.param, imports, K.Dataset.prepare(K.combine(imports))


def test_summary_kpis_match_an_independent_computation(case: tuple[str, list[K.FileImport], K.Dataset]) -> None:
    name, _, dataset = case
    truth = CASES[name][1]()
    result = K.report(dataset, SUMMARY, grain="all", periods=["all"], compare=False)
    assert result.warnings == [w for w in result.warnings if "several currencies" not in w]
    got = {r["kpi"]: r["value"] for r in result.frame.iter_rows(named=True)}
    assert got == pytest.approx({k: truth[k] for k in SUMMARY}, rel=1e-9)


def test_won_revenue_by_owner_matches(case: tuple[str, list[K.FileImport], K.Dataset]) -> None:
    name, _, dataset = case
    truth = CASES[name][1]()["by_owner"]
    frame = K.report(dataset, ["won_revenue"], grain="all", periods=["all"], by=["owner"], compare=False).frame
    got = {r["owner"]: r["value"] for r in frame.iter_rows(named=True) if r["value"]}
    assert got == pytest.approx({k: v for k, v in truth.items() if v}, rel=1e-9)


def test_source_and_currency_are_named(case: tuple[str, list[K.FileImport], K.Dataset]) -> None:
    name, imports, dataset = case
    _, _, source, currency = CASES[name]
    assert imports[0].source == source
    assert dataset.currency == currency


def test_deleted_rows_are_refused_with_the_reason() -> None:
    """Every opportunity of the Fivetran seed is in the recycle bin: no KPI is computed from them."""
    path = REAL / "fivetran-sf-seed" / "sf_opportunity_data.csv"
    rows = rows_of(path)
    assert {r["is_deleted"] for r in rows} == {"true"}
    with pytest.raises(K.DataError, match=rf"all {len(rows)} rows are marked deleted \(is_deleted"):
        K.read_file(path.read_bytes(), path.name)


def test_a_kept_week_read_as_its_pipeline_gives_the_same_open_pipeline_kpis(
    case: tuple[str, list[K.FileImport], K.Dataset], tmp_path: Path
) -> None:
    """The scorecard's trends read a kept snapshot's pipeline only (its deals, stage history, targets and lookups,
    scanned with only the columns KPIs read): every open-pipeline KPI per owner equals the full dataset's."""
    from kpi_core.engine import POINT_IN_TIME
    from kpi_core.history import PIPELINE_TABLES
    from kpi_core.snapshots import SnapshotStore

    _, imports, dataset = case
    store = SnapshotStore(tmp_path)
    kept = store.save(K.combine(imports), as_of=dataset.as_of)
    snapshot, scans = store.scan(kept.id)
    view = K.Dataset.prepare(scans, as_of=snapshot.as_of, columns="kpis", tables=PIPELINE_TABLES)
    _, tables = store.load(kept.id)
    full = K.Dataset.prepare(tables, as_of=snapshot.as_of)
    wanted = sorted(POINT_IN_TIME)

    def values(ds: K.Dataset) -> dict[tuple[str, str | None], float | None]:
        quarter = K.periods.make(ds.as_of, "quarter")
        frame = K.report(ds, wanted, grain="quarter", periods=[quarter], by=["owner"], compare=False).frame
        return {(k, o): v for k, o, v in frame.select("kpi", pl.col("owner").cast(pl.String), "value").rows()}

    assert set(view.tables) <= PIPELINE_TABLES | {"stage_visits", "customers"}
    expected = values(full)
    got = values(view)
    assert got.keys() == expected.keys()
    assert {k: v for k, v in got.items() if v is not None} == pytest.approx(
        {k: v for k, v in expected.items() if v is not None}, rel=1e-12
    )
    assert view.currency == full.currency
