"""The rules real exports need, one file each, written here as nasty as the real ones: converted amounts, files
with and without a currency, actual vs estimated fields, deleted rows, dates in words, the headers Zoho,
Pipedrive and Dynamics write, owner and account ids joined to names, honest source detection, stage maps that
match what is computed, and the command line agreeing with itself. Expected numbers are worked out by hand."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

import kpi_core as K
from kpi_core.cli import main
from kpi_core.ingest import read_file

WON = ["won_revenue", "deals_won", "win_rate", "avg_deal_size", "open_pipeline", "sales_cycle_days"]


def kpis(*files: tuple[bytes, str], ids: list[str] | None = None, **settings: object) -> dict[str, float | None]:
    dataset = K.Dataset.prepare(K.combine(read_file(d, n) for d, n in files), settings=K.Settings(**settings))  # type: ignore[arg-type]
    frame = K.report(dataset, ids or WON, grain="all", periods=["all"], compare=False).frame
    return {
        r["kpi"] + (f"[{r['currency']}]" if r.get("currency") else ""): r["value"] for r in frame.iter_rows(named=True)
    }


def rules(result: K.FileImport) -> dict[str, int]:
    return dict(result.quality.select("rule", "rows").rows())


# ---------------------------------------------------------------------------------------- converted amounts


SALESFORCE_EUR = (
    '"Opportunity Owner";"Opportunity Name";"Stage";"Amount Currency";"Amount";"Amount (converted) Currency";'
    '"Amount (converted)";"Created Date";"Close Date";"Opportunity ID"\n'
    '"Sarah Rijken";"Kenaupark - Haarlem";"Closed Won";"EUR";"13.884,00";"EUR";"13.884,00";"17-7-2018";"31-8-2018";"006A"\n'
    '"Alex Murden";"AMC House, Kew";"Closed Won";"GBP";"1.000,00";"EUR";"1.120,50";"1-6-2018";"1-7-2018";"006B"\n'
    '"Alex Murden";"Richmond – Kew Road";"Closed Lost";"GBP";"2.000,00";"EUR";"2.241,00";"5-6-2018";"9-7-2018";"006C"\n'
    '"Sarah Rijken";"Zonnehof 10";"Proposal";"EUR";"";"EUR";"";"27-6-2018";"30-9-2018";"006D"\n'
    '"Mitch Nijburg";"Visschersplein";"Contract";"GBP";"500,00";"EUR";"560,25";"5-7-2018";"31-8-2018";"006E"\n'
).encode()


def test_salesforce_converted_amounts_are_the_money_and_the_originals_are_kept() -> None:
    result = read_file(SALESFORCE_EUR, "salesforce_opportunities.csv")
    deals = result.tables[0].frame
    assert deals.select("deal_id", "amount", "currency", "amount_original", "currency_original").rows() == [
        ("006A", 13884.0, "EUR", 13884.0, "EUR"),
        ("006B", 1120.5, "EUR", 1000.0, "GBP"),
        ("006C", 2241.0, "EUR", 2000.0, "GBP"),
        ("006D", None, "EUR", None, "EUR"),
        ("006E", 560.25, "EUR", 500.0, "GBP"),
    ]
    notes = {m.original: (m.canonical, m.note) for m in result.tables[0].mapping}
    assert notes["Amount (converted)"] == (
        "amount_converted",
        "converted by the CRM to the currency in its Currency column: money KPIs use it",
    )
    dataset = K.Dataset.prepare(K.combine([result]))
    assert dataset.currency == "EUR"
    assert kpis((SALESFORCE_EUR, "report.csv")) == {
        "won_revenue": 13884.0 + 1120.5,
        "deals_won": 2.0,
        "win_rate": 2 / 3,
        "avg_deal_size": (13884.0 + 1120.5) / 2,
        "open_pipeline": 560.25,
        "sales_cycle_days": (45 + 30) / 2,
    }


def test_pipedrive_value_in_a_named_currency_is_the_money() -> None:
    data = (
        "Deals ID,title,value,currency,status,add_time,won_time,lost_time,User Name,Stage Name,Pipeline Name,"
        "Dollar Rate,Value(AUD)\n"
        "1,Bucket,1000,USD,won,2025-01-01,2025-01-11,,Ann,Close,West,0.5,2000.00\n"
        "2,Liner,1000000,CLP,won,2025-02-01,2025-01-20,,Bob,Interest,East,1000,1000.00\n"
        "3,Teeth,300,AUD,lost,2025-03-01,,2025-03-31,Ann,Close,West,1,300.00\n"
        "4,Wear plate,50,EUR,open,2025-04-01,,,Bob,Interest,East,0.6,83.33\n"
    ).encode("cp1252")
    result = read_file(data, "Complete Deals Data.csv")
    assert (result.source, result.kind) == ("pipedrive", "deals")
    assert result.tables[0].frame.select("deal_id", "amount", "currency", "close_date").rows() == [
        ("1", 2000.0, "AUD", date(2025, 1, 11)),
        ("2", 1000.0, "AUD", date(2025, 1, 20)),
        ("3", 300.0, "AUD", date(2025, 3, 31)),
        ("4", 83.33, "AUD", None),
    ]
    # deal 2 was won before it was created (an order entered after the win): no cycle
    assert kpis((data, "deals.csv")) == {
        "won_revenue": 3000.0,
        "deals_won": 2.0,
        "win_rate": 2 / 3,
        "avg_deal_size": 1500.0,
        "open_pipeline": 83.33,
        "sales_cycle_days": 10.0,
    }


def test_hubspot_company_currency_without_a_name_is_reported_in_the_reporting_currency() -> None:
    data = (
        b"Record ID,Deal Name,Deal Stage,Amount,Currency,Amount in company currency,Close Date,Create Date\n"
        b"1,A,Closed Won,100,EUR,110,2026-03-02,2026-02-01\n"
        b"2,B,Closed Won,200,GBP,250,2026-03-05,2026-02-01\n"
    )
    result = read_file(data, "hubspot-crm-exports-all-deals-2026-03-31.csv")
    assert result.tables[0].frame.select("amount", "currency", "currency_original").rows() == [
        (110.0, None, "EUR"),
        (250.0, None, "GBP"),
    ]
    assert kpis((data, "hubspot.csv"), ids=["won_revenue"]) == {"won_revenue": 360.0}
    assert kpis((data, "hubspot.csv"), ids=["won_revenue"], currency="GBP") == {"won_revenue": 360.0}
    dataset = K.Dataset.prepare(K.combine([result]), settings=K.Settings(currency="GBP"))
    assert dataset.currency == "GBP"


def test_dynamics_base_fields_and_actuals() -> None:
    data = _xlsx(
        [
            "(Do Not Modify) Opportunity",
            "Topic",
            "Status",
            "Currency",
            "Est. Revenue",
            "Est. Revenue (Base)",
            "Actual Revenue",
            "Actual Revenue (Base)",
            "Est. Close Date",
            "Actual Close Date",
            "Created On",
            "Owner",
        ],
        [
            [
                "g1",
                "Crane",
                "Won",
                "IDR",
                1000,
                10.0,
                1200,
                12.0,
                date(2024, 1, 31),
                date(2024, 1, 15),
                date(2024, 1, 1),
                "Sayd",
            ],
            [
                "g2",
                "Truck",
                "Won",
                "IDR",
                500,
                5.0,
                None,
                None,
                date(2024, 2, 29),
                date(2024, 2, 10),
                date(2024, 2, 1),
                "Andi",
            ],
            [
                "g3",
                "Muffler",
                "Lost",
                "IDR",
                700,
                7.0,
                0,
                0.0,
                date(2024, 3, 31),
                date(2024, 3, 5),
                date(2024, 3, 1),
                "Sayd",
            ],
            ["g4", "Tipper", "Open", "IDR", 900, 9.0, None, None, date(2024, 6, 30), None, date(2024, 4, 1), "Andi"],
        ],
    )
    result = read_file(data, "All Opportunities.xlsx")
    assert result.source == "dynamics"
    assert result.tables[0].frame.select("deal_id", "status", "amount", "close_date", "amount_original").rows() == [
        ("g1", "won", 12.0, date(2024, 1, 15), 1200.0),
        ("g2", "won", 5.0, date(2024, 2, 10), 500.0),  # no actual: the estimate
        ("g3", "lost", 0.0, date(2024, 3, 5), 0.0),
        ("g4", "open", 9.0, date(2024, 6, 30), 900.0),
    ]
    assert rules(result)["closed deals without an actual amount"] == 1
    assert kpis((data, "d.xlsx")) == {
        "won_revenue": 17.0,
        "deals_won": 2.0,
        "win_rate": 2 / 3,
        "avg_deal_size": 8.5,
        "open_pipeline": 9.0,
        "sales_cycle_days": (14 + 9) / 2,
    }


# ----------------------------------------------------------------------- files with and without a currency


MAVEN_LIKE = (
    b"opportunity_id,sales_agent,deal_stage,engage_date,close_date,close_value\r\n"
    b"M1,Moses Frase,Won,2017-01-02,2017-03-01,1054\r\nM2,Moses Frase,Lost,2017-01-05,2017-03-02,0\r\n"
)
MIXED = (
    b"Opportunity Name,Stage,Amount,Currency,Close Date\n"
    b"A,Closed Won,100,EUR,2017-03-04\nB,Closed Won,200,USD,2017-03-05\n"
)


def test_rows_without_a_currency_take_the_reporting_currency() -> None:
    got = kpis((MAVEN_LIKE, "sales_pipeline.csv"), (MIXED, "d.csv"), ids=["won_revenue", "deals_won"])
    assert got == {"won_revenue[EUR]": 100.0, "won_revenue[USD]": 1254.0, "deals_won": 3.0}
    imports = [read_file(MAVEN_LIKE, "sales_pipeline.csv"), read_file(MIXED, "d.csv")]
    quality = K.Dataset.prepare(K.combine(imports)).quality
    assert quality is not None
    assert quality.filter(pl.col("rule") == "deals without a currency").select("rows", "example").rows() == [
        (2, "counted in USD")
    ]
    in_eur = kpis((MAVEN_LIKE, "p.csv"), (MIXED, "d.csv"), ids=["won_revenue"], currency="EUR")
    assert in_eur == {"won_revenue[EUR]": 1154.0, "won_revenue[USD]": 200.0}


# ------------------------------------------------------------------------------------------- deleted rows


def test_deleted_rows_are_left_out_and_counted() -> None:
    data = (
        b'"Id","IsDeleted","Name","StageName","Amount","CloseDate","IsWon","IsClosed"\n'
        b'"006000000000001AAA","0","A","Closed Won","100","2026-03-01 00:00:00","1","1"\n'
        b'"006000000000002AAA","1","B (recycle bin)","Closed Won","9999","2026-03-02 00:00:00","1","1"\n'
        b'"006000000000003AAA","false","C","Closed Lost","50","2026-03-03 00:00:00","0","1"\n'
    )
    result = read_file(data, "Opportunity.csv")
    assert result.tables[0].frame["deal_name"].to_list() == ["A", "C"]
    assert rules(result)["deleted rows left out"] == 1
    assert kpis((data, "o.csv"), ids=["won_revenue", "win_rate"]) == {"won_revenue": 100.0, "win_rate": 0.5}


def test_a_file_whose_rows_are_all_deleted_says_so() -> None:
    data = b"id,name,stage_name,amount,is_deleted,_sdc_deleted_at\n1,A,Closed Won,5,true,\n2,B,Closed Won,6,false,2020-01-01\n"
    with pytest.raises(K.DataError, match=r"deals.csv: all 2 rows are marked deleted \(is_deleted, _sdc_deleted_at\)"):
        read_file(data, "deals.csv")


# ------------------------------------------------------------------------------------------- dates in words


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (["16 Apr, 2021 00:03:00", "2 May, 2021 10:00:00"], [date(2021, 4, 16), date(2021, 5, 2)]),
        (["Apr 16, 2021", "May 2, 2021"], [date(2021, 4, 16), date(2021, 5, 2)]),
        (["April 16, 2021 3:04 PM", "May 2, 2021 11:59 AM"], [date(2021, 4, 16), date(2021, 5, 2)]),
        (["16-Apr-21", "02-May-21"], [date(2021, 4, 16), date(2021, 5, 2)]),
        (["2021/04/16", "2021/05/02"], [date(2021, 4, 16), date(2021, 5, 2)]),
        (["16.04.2021 14:03", "02.05.2021 09:00"], [date(2021, 4, 16), date(2021, 5, 2)]),
        (["16. April 2021", "2. Mai 2021"], [date(2021, 4, 16), date(2021, 5, 2)]),  # German
        (["16 avril 2021", "2 mai 2021"], [date(2021, 4, 16), date(2021, 5, 2)]),  # French
        (["16 de abril de 2021", "2 de mayo de 2021"], [date(2021, 4, 16), date(2021, 5, 2)]),  # Spanish
        (["16 de abril de 2021", "2 de maio de 2021"], [date(2021, 4, 16), date(2021, 5, 2)]),  # Portuguese
        (["16 april 2021", "2 mei 2021"], [date(2021, 4, 16), date(2021, 5, 2)]),  # Dutch
        (["16-okt-2021", "2-mrt-2021"], [date(2021, 10, 16), date(2021, 3, 2)]),
        (["1er février 2021", "3 déc. 2021"], [date(2021, 2, 1), date(2021, 12, 3)]),
    ],
)
def test_dates_in_words_and_local_forms(written: list[str], expected: list[date]) -> None:
    data = "Potential Name,Stage,Amount,Closing Date\n" + "".join(
        f'"Deal {i}",Closed Won,10,"{w}"\n' for i, w in enumerate(written)
    )
    result = read_file(data.encode("utf-8"), "Potentials.csv")
    assert result.tables[0].frame["close_date"].to_list() == expected
    assert "unreadable dates in Closing Date" not in rules(result)


def test_an_unreadable_date_column_is_an_error_naming_it() -> None:
    data = b"Potential Name,Stage,Amount,Closing Date\nA,Closed Won,10,sometime soon\nB,Closed Won,5,next quarter\n"
    result = read_file(data, "Potentials.csv")
    found = result.quality.filter(pl.col("rule") == "unreadable dates in Closing Date").row(0, named=True)
    assert (found["severity"], found["rows"], found["example"]) == ("error", 2, "sometime soon")
    assert "2 of 2 values could not be read" in found["effect"]


def test_the_as_of_date_says_where_it_came_from(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    nothing = tmp_path / "deals.csv"
    nothing.write_bytes(b"Potential Name,Stage,Amount\nA,Closed Won,10\n")
    assert main(["compute", str(nothing), "--kpi", "won_revenue", "--grain", "all"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("As of ") and "(today's date: no date in the data could be read)" in out.splitlines()[0]
    dated = tmp_path / "dated.csv"
    dated.write_bytes(b"Potential Name,Stage,Amount,Closing Date\nA,Closed Won,10,3 Mar 2026\n")
    assert main(["compute", str(dated), "--format", "json", "--kpi", "won_revenue"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["as_of"], doc["as_of_source"]) == (
        "2026-03-03",
        "the latest close date of a won deal in the data",
    )
    assert main(["compute", str(dated), "--format", "json", "--kpi", "won_revenue", "--as-of", "2026-03-31"]) == 0
    assert json.loads(capsys.readouterr().out)["as_of_source"] == "given"


def test_a_lost_deals_planned_close_date_does_not_move_the_as_of_date() -> None:
    """A deal marked lost in July that still says December (its planned date, never updated) is not evidence of the
    export date; a loss a few days after the last win is. Lost dates count up to a month past the latest created,
    won or activity date, and alone when there is nothing else."""
    import kpi_core as K

    def as_of(rows: str) -> tuple[date, str]:
        dataset = K.Dataset.prepare(K.combine([K.read_file(rows.encode(), "opps.csv")]))
        return dataset.as_of, dataset.as_of_source

    header = "Opportunity Name,Stage,Amount,Created Date,Close Date\n"
    won = "A,Closed Won,10,1/5/2018,7/19/2018\nC,Prospecting,7,7/23/2018,3/1/2019\n"
    assert as_of(header + won + "B,Closed Lost,5,2/1/2018,12/28/2018\n") == (
        date(2018, 7, 23),
        "the latest created date of a deal in the data (1 lost deal(s) dated over a month later, planned dates "
        "never updated, ignored)",
    )
    assert as_of(header + won + "B,Closed Lost,5,2/1/2018,8/2/2018\n") == (
        date(2018, 8, 2),
        "the latest close date of a lost deal in the data",
    )
    only_lost = "Opportunity Name,Stage,Amount,Close Date\nB,Closed Lost,5,12/28/2018\nC,Prospecting,7,3/1/2019\n"
    assert as_of(only_lost) == (date(2018, 12, 28), "the latest close date of a lost deal in the data")


# --------------------------------------------------------------------------------- headers real exports use


def test_zoho_potentials() -> None:
    data = (
        b"Potential Name,Potential Owner,Created Time,Closing Date,Amount,Expected Revenue,Stage,Forecast Type\n"
        b'"Lewis, James",Roger Terrence,"15 Apr, 2021 00:02:00","16 Apr, 2021 00:03:00","$22,700.00","$3,500.00",Closed Won,Won\n'
        b'"Kirk, Rebecca",Rozario Diego,"10 Apr, 2021 00:02:00","20 Apr, 2021 00:03:00","$29,700.00","$4,900.00",Initial Offer,Open\n'
        b'"Moss, Ann",Roger Terrence,"1 Mar, 2021 09:00:00","1 Apr, 2021 09:00:00","$1,000.00","$0.00",Closed Lost,Lost\n'
    )
    result = read_file(data, "Potentials.csv")
    assert (result.source, result.kind) == ("zoho", "deals")
    assert {m.original: m.canonical for m in result.tables[0].mapping} == {
        "Potential Name": "deal_name",
        "Potential Owner": "owner",
        "Created Time": "created_date",
        "Closing Date": "close_date",
        "Amount": "amount",
        "Expected Revenue": None,
        "Stage": "stage",
        "Forecast Type": "status",
    }
    assert [(s.column, s.looks_like) for s in result.suggestions] == [("Expected Revenue", "amounts")]
    assert "unknown stages (treated as open)" not in rules(result)  # Forecast Type decides every row
    assert kpis((data, "p.csv")) == {
        "won_revenue": 22700.0,
        "deals_won": 1.0,
        "win_rate": 0.5,
        "avg_deal_size": 22700.0,
        "open_pipeline": 29700.0,
        "sales_cycle_days": 1.0,
    }


def test_custom_fields_are_used_when_their_name_says_so_and_listed_otherwise() -> None:
    data = (
        b"External_Id__c,Name,StageName,Amount,CloseDate,DateTimeCreated__c,LastModifiedDate__c,Renewal_Amount__c\n"
        b"W.1,A,Closed Won,100,2016-11-28,2016-11-04 00:00:00,2016-11-05 00:00:00,50\n"
        b"W.2,B,Closed Lost,300,2016-12-28,2016-11-14 00:00:00,2016-12-05 00:00:00,20\n"
    )
    result = read_file(data, "Opportunity.csv")
    mapping = {m.original: (m.canonical, m.confidence) for m in result.tables[0].mapping}
    assert mapping["DateTimeCreated__c"] == ("created_date", 0.6)
    assert mapping["External_Id__c"][0] == "deal_id"
    assert [(s.column, s.looks_like, s.suggest) for s in result.suggestions] == [
        ("LastModifiedDate__c", "dates", ()),
        ("Renewal_Amount__c", "amounts", ()),
    ]
    assert kpis((data, "o.csv"), ids=["sales_cycle_days"]) == {"sales_cycle_days": 24.0}


# --------------------------------------------------------------------------------------- ids joined to names


def test_owner_ids_join_a_users_file_on_whichever_id_it_holds() -> None:
    opportunities = (
        b'"Id","OwnerId","AccountId","Name","StageName","Amount","CloseDate"\n'
        b'"006000000000001AAA","005000000000001","001000000000001AAA","A","Closed Won","100","2026-03-01"\n'
        b'"006000000000002AAA","005000000000002AAQ","001000000000002AAA","B","Closed Won","50","2026-03-02"\n'
        b'"006000000000003AAA","005000000000009","001000000000001AAA","C","Closed Won","7","2026-03-03"\n'
    )
    users = b"Id,FirstName,LastName,Email,UserRole.Name\n005000000000001AAA,Ana,N\xc3\xba\xc3\xb1ez,a@x.io,East\n005000000000002AAQ,,Zo\xc3\xab,z@x.io,West\n"
    accounts = b'"Id","Name","Industry"\n"001000000000001AAA","Edge Communications","Electronics"\n"001000000000002","Burlington","Apparel"\n'
    imports = [
        read_file(opportunities, "Opportunity.csv"),
        read_file(users, "User.csv"),
        read_file(accounts, "Account.csv"),
    ]
    assert [i.kind for i in imports] == ["deals", "users", "accounts"]
    dataset = K.Dataset.prepare(K.combine(imports))
    frame = K.report(dataset, ["won_revenue"], grain="all", periods=["all"], by=["owner"], compare=False).frame
    assert sorted(frame.select("owner", "value").rows()) == [
        ("005000000000009", 7.0),
        ("Ana Núñez", 100.0),
        ("Zoë", 50.0),
    ]
    deals = dataset.table("deals").select(
        *[pl.col(c).cast(pl.String) for c in ("deal_id", "owner", "team", "account", "industry")]
    )
    assert deals.rows() == [
        ("006000000000001", "Ana Núñez", "East", "Edge Communications", "Electronics"),
        ("006000000000002", "Zoë", "West", "Burlington", "Apparel"),
        ("006000000000003", "005000000000009", None, "Edge Communications", "Electronics"),
    ]
    assert dataset.quality is not None
    assert (
        dataset.quality.filter(pl.col("rule") == "owner ids replaced by names from the users file").row(0, named=True)[
            "example"
        ]
        == "2 of 3 owners matched; not found: 005000000000009"
    )


def test_relationship_paths_join_through_external_ids() -> None:
    deals = b"Name,StageName,Amount,CloseDate,Owner.External_Id__c\nA,Closed Won,10,2026-01-01,W_User.1\nB,Closed Won,5,2026-01-02,W_User.2\n"
    users = b"External_Id__c,Name,Alias\nW_User.1,Gregory Nguyen,gnguyen\nW_User.2,Donald Vargas,dvargas\n"
    got = K.report(
        K.Dataset.prepare(K.combine([read_file(deals, "Opportunity.csv"), read_file(users, "User.csv")])),
        ["won_revenue"],
        grain="all",
        periods=["all"],
        by=["owner"],
        compare=False,
    ).frame
    assert sorted(got.select("owner", "value").rows()) == [("Donald Vargas", 5.0), ("Gregory Nguyen", 10.0)]


def test_pipedrive_stage_ids_take_their_names_and_order_from_a_stages_file() -> None:
    deals = (
        b"id,title,value,currency,status,stage_id,add_time,won_time,lost_time,expected_close_date,owner_name\n"
        b"1,A,100,EUR,won,3,2025-01-01 09:00:00,2025-01-21 10:00:00,,,Ann\n"
        b"2,B,50,EUR,open,1,2025-02-01 09:00:00,,,2025-06-30,Ann\n"
        b"3,C,70,EUR,open,2,2025-02-01 09:00:00,,,2025-05-31,Bob\n"
        b"4,D,20,EUR,lost,2,2025-01-05 09:00:00,,2025-01-15 10:00:00,2025-03-31,Bob\n"
    )
    stages = b"id,order_nr,name,pipeline_id,deal_probability\n1,1,Lead In,1,10\n2,2,Proposal Made,1,50\n3,3,Negotiations Started,1,80\n"
    imports = [read_file(deals, "deals.csv"), read_file(stages, "stages.csv")]
    assert [(i.kind, i.source) for i in imports] == [("deals", "pipedrive"), ("stages", "generic")]
    dataset = K.Dataset.prepare(K.combine(imports))
    assert dataset.stage_order == ("Lead In", "Proposal Made", "Negotiations Started")
    assert dataset.table("deals").select(pl.col("stage").cast(pl.String), "close_date").rows() == [
        ("Negotiations Started", date(2025, 1, 21)),
        ("Lead In", date(2025, 6, 30)),
        ("Proposal Made", date(2025, 5, 31)),
        ("Proposal Made", date(2025, 1, 15)),  # lost: dated by lost_time, not the expected close date
    ]
    assert kpis((deals, "deals.csv"), ids=["won_revenue", "open_pipeline", "sales_cycle_days"]) == {
        "won_revenue": 100.0,
        "open_pipeline": 120.0,
        "sales_cycle_days": 20.0,
    }


def test_by_owner_works_on_the_salesforce_object_export(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import SHARED

    folder = SHARED / "data" / "salesforce-sample-export"
    if not folder.exists():
        pytest.skip("the shared Salesforce export is not on this machine")
    code = main(
        [
            "compute",
            *map(str, sorted(folder.glob("*.csv"))),
            "--grain",
            "all",
            "--kpi",
            "won_revenue",
            "--by",
            "owner",
            "--format",
            "json",
        ]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["owner"], r["value"]) for r in doc["rows"]] == [("00546000001l1cJ", 3645000.0)]


# -------------------------------------------------------------------------------------------- the source


@pytest.mark.parametrize(
    ("headers", "name", "source"),
    [
        ("title,value,currency,status,add_time,won_time,lost_time,owner_name,org_name", "deals.csv", "pipedrive"),
        ("Potential Name,Potential Owner,Closing Date,Stage,Amount", "export.csv", "zoho"),
        ("Deal Name,Deal Stage,Create Date,Close Date,Amount,Deal owner", "export.csv", "hubspot"),
        ("Topic,Potential Customer,Est. Close Date,Est. Revenue,Status", "export.xlsx", "dynamics"),
        ("StageName,Amount,CloseDate,IsWon,IsClosed", "export.csv", "salesforce"),
        ("Name,Stage,Amount,Close Date,Owner", "export.csv", "generic"),
    ],
)
def test_source_detection_names_the_crm_or_says_generic(headers: str, name: str, source: str) -> None:
    row = ",".join("x" for _ in headers.split(","))
    result = read_file(f"{headers}\n{row}\n".encode(), name, kind="deals")
    assert result.source == source
    assert result.source_reason


# ----------------------------------------------------------------------------------------------- stage map


def test_stage_map_shows_the_status_the_status_column_gave_per_pipeline() -> None:
    data = (
        b"title,value,status,Stage Name,Pipeline Name,won_time,lost_time,add_time\n"
        b"a,1,won,Interest,West,2025-01-02,,2025-01-01\nb,1,lost,Interest,West,,2025-01-03,2025-01-01\n"
        b"c,1,won,Interest,East,2025-01-02,,2025-01-01\nd,1,won,Interest,East,2025-01-04,,2025-01-01\n"
        b"e,1,open,Parked,East,,,2025-01-01\n"
    )
    result = read_file(data, "deals.csv")
    smap = result.tables[0].stage_map
    assert smap is not None
    assert smap.select("pipeline", "stage", "status", "open", "won", "lost", "decided_by").rows() == [
        ("East", "Interest", "won", 0, 2, 0, "the status column"),
        ("East", "Parked", "open", 1, 0, 0, "the status column"),  # steps in their usual order, whatever the outcome
        ("West", "Interest", None, 0, 1, 1, "the status column"),
    ]
    assert "unknown stages (treated as open)" not in rules(result)


# ----------------------------------------------------------------------------------------- the command line


def test_inspect_and_compute_agree_on_a_file_they_cannot_use(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = tmp_path / "deals.csv"
    good.write_bytes(b"Opportunity Name,Stage,Amount,Close Date\nA,Closed Won,10,2026-03-02\n")
    bad = tmp_path / "User.csv"
    bad.write_bytes(b"Timezone,Locale\nEurope/Amsterdam,nl_NL\n")
    assert main(["inspect", str(good), str(bad)]) == 0
    inspected = capsys.readouterr().out
    assert main(["compute", str(good), str(bad), "--kpi", "won_revenue", "--grain", "all"]) == 0
    computed = capsys.readouterr().out
    message = "skipped User.csv: no table recognised. Columns found: Timezone, Locale."
    assert message in inspected and message in computed
    assert main(["inspect", str(good), str(bad), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["file"] for d in doc] == ["deals.csv", "User.csv"] and doc[1]["error"].startswith("User.csv: no table")


def test_compute_json_carries_the_findings_that_change_numbers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "Opportunity.csv"
    path.write_bytes(
        b'"Id","IsDeleted","Name","StageName","Amount","CloseDate"\n'
        b'"1","0","A","Closed Won","100","2026-03-01"\n"2","1","B","Closed Won","5","2026-03-01"\n'
        b'"3","0","C","Closed Won","lots","2026-03-01"\n'
    )
    assert main(["compute", str(path), "--format", "json", "--kpi", "won_revenue", "--grain", "all"]) == 0
    doc = json.loads(capsys.readouterr().out)
    found = {(q["rule"], q["rows"], q["severity"]) for q in doc["quality"]}
    assert {("deleted rows left out", 1, "info"), ("unreadable values in Amount", 1, "warning")} <= found
    assert doc["rows"][0]["value"] == 100.0


def _xlsx(headers: list[str], rows: list[list[object]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("All Opportunities")
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, headers)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(r, c, value, dates)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return buffer.getvalue()


# ----------------------------------------------------------------------- more shapes seen in real exports


def test_a_lost_flag_decides_beside_a_won_flag() -> None:
    data = (
        b"Record ID,Deal Name,Deal Stage,Amount,Is Closed Won,Is closed lost,Close Date,Create Date\n"
        b"1,A,Signed contract,100,true,false,2025-03-01,2025-02-01\n"
        b"2,B,No budget / timing,40,false,true,2025-03-02,2025-02-01\n"
        b"3,C,Went with competitor,60,false,true,2025-03-03,2025-02-01\n"
        b"4,D,Demo booked,70,false,false,2025-06-30,2025-02-01\n"
    )
    assert kpis((data, "hubspot-crm-exports-all-deals-2025-04-01.csv"), ids=["win_rate", "open_pipeline"]) == {
        "win_rate": 1 / 3,
        "open_pipeline": 70.0,
    }


def test_each_outcome_is_dated_by_its_own_column() -> None:
    # Close keeps date_won on lost deals as an old estimate: a lost deal is dated by date_lost
    data = (
        b"id,lead_name,status_type,value,value_currency,date_won,date_lost,date_created,user_name\n"
        b"1,A,won,1000000,USD,2025-03-10,,2025-02-01,Ann\n"
        b"2,B,lost,50000,USD,2025-03-20,2025-04-02,2025-02-01,Ann\n"
        b"3,C,active,70000,USD,2025-06-30,,2025-03-01,Bob\n"
    )
    result = read_file(data, "close-opportunities.csv")
    assert result.source == "close"
    assert result.tables[0].frame.select("status", "amount", "close_date").rows() == [
        ("won", 10000.0, date(2025, 3, 10)),
        ("lost", 500.0, date(2025, 4, 2)),
        ("open", 700.0, date(2025, 6, 30)),
    ]


def test_status_values_nobody_knows_are_reported() -> None:
    data = b"Name,Status,Stage,Value,Close Date\nA,Won,Signed,10,2025-01-02\nB,Abandoned,Proposal,5,2025-01-03\nC,Parked,Proposal,7,2025-01-04\n"
    result = read_file(data, "opportunities_export.csv")
    assert result.tables[0].frame["status"].to_list() == ["won", "lost", "open"]
    found = result.quality.filter(pl.col("rule") == "status values not recognised").row(0, named=True)
    assert (found["rows"], found["example"]) == (1, "Parked")


def test_day_and_month_follow_the_other_date_columns() -> None:
    data = (
        b"Opportunity Name;Stage;Amount;Created;Close date\n"
        b"A;Closed Won;10;03/02/2025;25/03/2025\nB;Closed Won;20;04/01/2025;14/02/2025\n"
        b"C;Closed Lost;5;12/03/2025;13/04/2025\n"
    )
    result = read_file(data, "opportunities_benelux.csv")
    assert result.tables[0].frame.select("created_date", "close_date").rows() == [
        (date(2025, 2, 3), date(2025, 3, 25)),
        (date(2025, 1, 4), date(2025, 2, 14)),
        (date(2025, 3, 12), date(2025, 4, 13)),
    ]
    assert "day/month order of created_date taken from close_date" in rules(result)
    assert not any(r.startswith("ambiguous dates") for r in rules(result))


def test_a_grouped_report_fills_its_group_labels_down_and_drops_subtotals() -> None:
    rows = [
        ["Pipeline by Rep"],
        [],
        ["Opportunity Owner", "Opportunity Name", "Stage", "Amount", "Close Date"],
        ["Dana Scully", "Oscorp", "Closed Won", 100, date(2025, 1, 10)],
        [None, "Hooli", "Closed Lost", 40, date(2025, 1, 12)],
        [None, "Subtotal", None, 140, None],
        ["John Reese", "Wonka", "Closed Won", 60, date(2025, 1, 15)],
        [None, "Initech", "Closed Won", 30, date(2025, 2, 1)],
        [None, "Subtotal", None, 90, None],
        ["Total", None, None, 230, None],
        ["Confidential Information - Do Not Distribute"],
    ]
    data = _xlsx_rows(rows)
    result = read_file(data, "Pipeline by Rep-2025-04-01.xlsx")
    assert result.tables[0].frame.select("owner", "deal_name").rows() == [
        ("Dana Scully", "Oscorp"),
        ("Dana Scully", "Hooli"),
        ("John Reese", "Wonka"),
        ("John Reese", "Initech"),
    ]
    assert rules(result)["group labels filled down"] == 1
    dataset = K.Dataset.prepare(K.combine([result]))
    frame = K.report(dataset, ["won_revenue"], grain="all", periods=["all"], by=["owner"], compare=False).frame
    assert sorted(frame.select("owner", "value").rows()) == [("Dana Scully", 100.0), ("John Reese", 90.0)]


@pytest.mark.parametrize(
    ("header", "rows"),
    [
        (
            '"Propriétaire de l\'opportunité";"Nom de l\'opportunité";"Étape";"Montant";"Date de clôture";"Date de création"',
            [
                '"Chloé";"A";"Fermée gagnée";"47 500,75 €";"21/11/2024";"30/08/2024"',
                '"Léa";"B";"Fermée perdue";"1 000,00 €";"24/12/2024";"05/09/2024"',
            ],
        ),
        (
            '"Opportunity-Inhaber";"Verkaufschance-Name";"Phase";"Betrag";"Schlusstermin";"Erstelldatum"',
            [
                '"Chloé";"A";"Geschlossen und gewonnen";"47.500,75 €";"21.11.2024";"30.08.2024"',
                '"Léa";"B";"Geschlossen und verloren";"1.000,00 €";"24.12.2024";"05.09.2024"',
            ],
        ),
        (
            '"Propietario de la oportunidad";"Nombre de la oportunidad";"Etapa";"Importe";"Fecha de cierre";"Fecha de creación"',
            [
                '"Chloé";"A";"Cerrada ganada";"47.500,75 €";"21/11/2024";"30/08/2024"',
                '"Léa";"B";"Cerrada perdida";"1.000,00 €";"24/12/2024";"05/09/2024"',
            ],
        ),
    ],
)
def test_salesforce_reports_in_other_languages(header: str, rows: list[str]) -> None:
    data = "\n".join([header, *rows]).encode()
    assert K.Dataset.prepare(K.combine([read_file(data, "report.csv")])).currency == "EUR"
    assert kpis((data, "report1743491799000.csv"), ids=["won_revenue", "win_rate", "sales_cycle_days"]) == {
        "won_revenue": 47500.75,
        "win_rate": 0.5,
        "sales_cycle_days": 83.0,
    }


def test_a_flag_column_holding_dates_is_the_date() -> None:
    data = b'Customer,Rep,Stage,Value,Date Added,Closed\nA,Tom,Signed,"$12,000",1/5/2025,3/4/2025\nB,Jen,Dead,"$3,000",1/9/2025,2/1/2025\nC,Tom,Proposal,"$5,000",2/1/2025,\nTOTAL,,,"$20,000",,\n'
    result = read_file(data, "Pipeline tracker (Tom's copy).csv")
    mapping = {m.original: m.canonical for m in result.tables[0].mapping}
    assert (mapping["Closed"], mapping["Date Added"]) == ("close_date_actual", "created_date")
    assert kpis((data, "tracker.csv"), ids=["won_revenue", "win_rate", "open_pipeline", "sales_cycle_days"]) == {
        "won_revenue": 12000.0,
        "win_rate": 0.5,
        "open_pipeline": 5000.0,
        "sales_cycle_days": 58.0,
    }


def test_the_company_currency_is_the_one_the_conversion_leaves_unchanged() -> None:
    data = (
        b"Record ID,Deal Name,Deal Stage,Amount,Currency,Amount in company currency,Close Date\n"
        b"1,A,Closed Won,100,EUR,100,2025-03-02\n2,B,Closed Won,200,USD,184,2025-03-05\n3,C,Closed Won,50,EUR,50,2025-03-05\n"
    )
    dataset = K.Dataset.prepare(K.combine([read_file(data, "hubspot-crm-exports-all-deals-2025-04-01.csv")]))
    assert dataset.currency == "EUR"
    assert kpis((data, "h.csv"), ids=["won_revenue"]) == {"won_revenue": 334.0}


def _xlsx_rows(rows: list[list[object]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Report")
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(r, c, value, dates)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return buffer.getvalue()
