"""Hostile and broken files, written at run time (never committed): every family a user drops by mistake or an
attacker builds on purpose, each with the outcome the importer must give."""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
import xlsxwriter

HEADER = "Opportunity Name,Stage,Amount,Close Date,Created Date,Opportunity Owner"


def deals(n: int = 24, *, newline: str = "\n") -> list[str]:
    """``n`` well-formed rows: a third won (amount 100 + i), a third lost, a third open."""
    stages = ("Closed Won", "Closed Lost", "Prospecting")
    return [
        f"Deal {i},{stages[i % 3]},{100 + i},2026-03-{1 + i % 28:02d},2026-01-{1 + i % 28:02d},Rep {i % 4}"
        for i in range(n)
    ]


WON_24 = sum(100 + i for i in range(24) if i % 3 == 0)
"""Won revenue of :func:`deals` (24 rows)."""


@dataclass(frozen=True)
class Case:
    """One hostile file: its name, its bytes, and what must happen.

    ``error``: text the refusal message must contain (it must also name the file); otherwise the file loads with
    ``rows`` deal rows, the ``rules`` reported in the quality report, and ``won`` won revenue when given."""

    family: str
    name: str
    make: Callable[[], bytes]
    error: str | None = None
    rows: int | None = None
    rules: tuple[str, ...] = ()
    won: float | None = None
    owners: tuple[str, ...] = field(default=())
    isolated: bool = False
    """Only safe through the worker process (it would take down the process that reads it)."""


def _csv(lines: list[str], *, encoding: str = "utf-8", newline: str = "\n") -> bytes:
    return newline.join(lines).encode(encoding) + newline.encode(encoding)


def _xlsx_parts(sheet_xml: str) -> bytes:
    """A minimal workbook around one sheet's XML (to say things a normal writer never would)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return buffer.getvalue()


SHEET = (
    '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{}</worksheet>'
)


def xfd_single_cell() -> bytes:
    """The 3 KB workbook whose only cell sits at XFD1048576 (a reader allocates 17 billion cells)."""
    book = io.BytesIO()
    workbook = xlsxwriter.Workbook(book, {"in_memory": True})
    workbook.add_worksheet().write(1048575, 16383, 1)
    workbook.close()
    return book.getvalue()


def xfd_without_dimension() -> bytes:
    """A header cell and one cell at XFD1048576, and no <dimension> saying so: only the reader finds out."""
    cells = (
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Opportunity Name</t></is></c></row>'
        '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
    )
    return _xlsx_parts(SHEET.format(cells))


def expansion_bomb() -> bytes:
    """A sheet of 60 MB that compresses to a few hundred KB (real sheets compress 5-30 times)."""
    row = '<row><c t="inlineStr"><is><t>x</t></is></c></row>'
    return _xlsx_parts(SHEET.format("<sheetData>" + row * (60_000_000 // len(row)) + "</sheetData>"))


def excel_serials() -> bytes:
    """Date cells holding serial 0 (1899-12-30), 2958465 (9999-12-31) and 2958466 (year 10000), beside a real one."""
    book = io.BytesIO()
    workbook = xlsxwriter.Workbook(book, {"in_memory": True})
    sheet = workbook.add_worksheet()
    dated = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ["Opportunity Name", "Stage", "Amount", "Close Date"])
    for r, serial in enumerate((0, 2958465, 2958466, 46082), start=1):
        sheet.write_row(r, 0, [f"Deal {r}", "Closed Won", 10 * r])
        sheet.write_number(r, 3, serial, dated)
    workbook.close()
    return book.getvalue()


def nested_parquet() -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame({"Opportunity Name": ["A"], "Stage": ["Closed Won"], "Amount": [1.0], "tags": [[1, 2]]}).write_parquet(
        buffer
    )
    return buffer.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def with_row(row: str, at: int = 0, n: int = 24) -> Callable[[], bytes]:
    def make() -> bytes:
        body = deals(n)
        return _csv([HEADER, *body[:at], row, *body[at:]])

    return make


def in_encoding(owner: str, name: str, encoding: str) -> Callable[[], bytes]:
    def make() -> bytes:
        return _csv(
            [HEADER, *(f"{name} {i},Closed Won,{i + 1},2026-03-01,2026-01-01,{owner}" for i in range(12))],
            encoding=encoding,
        )

    return make


def utf8_with_cp1252_lines() -> bytes:
    good = [f"Deal {i},Closed Won,1,2026-03-01,2026-01-01,Zoë Brontë" for i in range(30)]
    return _csv([HEADER, *good]) + "Deal x,Closed Won,1,2026-03-01,2026-01-01,Zoë Brontë\n".encode("cp1252")


def sheets_by_quarter() -> bytes:
    """One table split over four sheets with the same columns (a sheet per quarter)."""
    book = io.BytesIO()
    workbook = xlsxwriter.Workbook(book, {"in_memory": True})
    for q in range(4):
        sheet = workbook.add_worksheet(f"Q{q + 1}")
        sheet.write_row(0, 0, ["Opportunity Name", "Stage", "Amount", "Close Date"])
        for r in range(6):
            sheet.write_row(r + 1, 0, [f"Q{q + 1} deal {r}", "Closed Won", 10.0, f"2026-{3 * q + 1:02d}-0{r + 1}"])
    workbook.close()
    return book.getvalue()


def zoned_parquet() -> bytes:
    """Close dates as time-zone-aware datetimes: 23:30 in Los Angeles on 31 March is still March there."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    when = datetime(2026, 3, 31, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    frame = pl.DataFrame({"Opportunity Name": ["A"], "Stage": ["Closed Won"], "Amount": [5.0], "Close Date": [when]})
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def duplicate_parquet() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(
        pa.table([["A"], ["Closed Won"], [1.0], [2.0]], names=["Opportunity Name", "Stage", "Amount", "Amount"]), buffer
    )
    return buffer.getvalue()


CASES: tuple[Case, ...] = (
    # workbooks built to exhaust the reader
    Case("sheet bomb", "xfd.xlsx", xfd_single_cell, error="a sheet claims 1,048,576 rows by 16,384 columns"),
    Case("sheet bomb", "nodim.xlsx", xfd_without_dimension, error="needed more than", isolated=True),
    Case("zip bomb", "bomb.xlsx", expansion_bomb, error="far more than real sheets compress"),
    # the three impossible serials leave their deals without a close date: all time still counts them (10 + 20 + 30)
    Case("serial dates", "serials.xlsx", excel_serials, rows=4, rules=("implausible dates in Close Date",), won=100.0),
    # what a CSV sniffer chokes on
    Case(
        "10,000 columns",
        "wide.csv",
        lambda: _csv([",".join(f"c{i}" for i in range(10_000)), ",".join("1" for _ in range(10_000))]),
        error="no table recognised",
    ),
    Case(
        "huge field",
        "notes.csv",
        lambda: _csv([HEADER + ",Notes", *(r + ',"' + "x" * 200_000 + '"' for r in deals(3)), *deals(24)[3:]]),
        rows=24,
        won=WON_24,
    ),
    Case(
        "giant line",
        "giant.csv",
        with_row("x" * 6_000_000, at=2),
        rows=24,
        rules=("rows with a giant cell left out",),
        won=WON_24,
    ),
    # placeholder dates and absurd amounts
    Case(
        "placeholder date",
        "d9999.csv",
        with_row("Z,Closed Won,10,9999-12-31,2026-01-01,Ann"),
        rows=25,
        rules=("implausible dates in Close Date",),
        won=WON_24 + 10,  # a won deal without a (readable) close date: in all time, in no period
    ),
    Case(
        "placeholder date",
        "d0001.csv",
        with_row("Z,Closed Won,10,0001-01-01,2026-01-01,Ann"),
        rows=25,
        rules=("implausible dates in Close Date",),
        won=WON_24 + 10,  # a won deal without a (readable) close date: in all time, in no period
    ),
    Case(
        "far future",
        "d2100.csv",
        with_row("Z,Closed Won,10,2100-03-01,2026-01-01,Ann"),
        rows=25,
        rules=("implausible dates in Close Date",),
        won=WON_24 + 10,  # a won deal without a (readable) close date: in all time, in no period
    ),
    Case(
        "serial 0 in CSV",
        "serial0.csv",
        with_row("Z,Closed Won,10,0,2026-01-01,Ann"),
        rows=25,
        rules=("unreadable dates in Close Date",),
        won=WON_24 + 10,  # a won deal without a (readable) close date: in all time, in no period
    ),
    Case(
        "1e308",
        "big.csv",
        with_row("Z,Closed Won,1e308,2026-03-01,2026-01-01,Ann"),
        rows=25,
        rules=("implausible amounts in Amount",),
        won=WON_24,
    ),
    Case(
        "two 1e308",
        "big2.csv",
        lambda: _csv(
            [
                HEADER,
                "Y,Closed Won,1e308,2026-03-01,2026-01-01,Ann",
                "Z,Closed Won,1e308,2026-03-01,2026-01-01,Ann",
                *deals(),
            ]
        ),
        rows=26,
        rules=("implausible amounts in Amount",),
        won=WON_24,
    ),
    Case(
        "1e999",
        "inf.csv",
        with_row("Z,Closed Won,1e999,2026-03-01,2026-01-01,Ann"),
        rows=25,
        rules=("implausible amounts in Amount",),
        won=WON_24,
    ),
    Case(
        "40 digits",
        "digits.csv",
        with_row("Z,Closed Won," + "1234567890" * 4 + ",2026-03-01,2026-01-01,Ann"),
        rows=25,
        rules=("implausible amounts in Amount",),
        won=WON_24,
    ),
    # line endings and ragged rows
    Case("lone CR", "mac.csv", lambda: _csv([HEADER, *deals()], newline="\r"), rows=24, won=WON_24),
    Case(
        "mixed endings",
        "mixed.csv",
        lambda: "".join(line + ("\r\n", "\r", "\n")[i % 3] for i, line in enumerate([HEADER, *deals()])).encode(),
        rows=24,
        won=WON_24,
    ),
    Case(
        "short first row",
        "short.csv",
        with_row("Z,Closed Won,10"),
        rows=25,
        rules=("closed deal without a close date",),
        won=WON_24 + 10,  # a won deal without a (readable) close date: in all time, in no period
    ),
    Case(
        "long row",
        "long.csv",
        with_row("Z,Closed Won,10,2026-03-01,2026-01-01,Ann,extra,more", at=5),
        rows=25,
        rules=("rows longer than the header",),
        won=WON_24 + 10,
    ),
    Case(
        "unterminated quote",
        "quote.csv",
        with_row('Z,"Closed Won,10,2026-03-01,2026-01-01,Ann', at=23),
        error="a quoted cell is never closed (row 25: Closed Won,10,2026-03-01",
    ),
    # encodings
    Case(
        "Shift-JIS",
        "sjis.csv",
        in_encoding("山田太郎", "案件", "shift_jis"),
        rows=12,
        owners=("山田太郎",),
        rules=("encoding guessed",),
    ),
    Case(
        "GB18030",
        "gb.csv",
        in_encoding("王小明", "交易", "gb18030"),
        rows=12,
        owners=("王小明",),
        rules=("encoding guessed",),
    ),
    Case(
        "EUC-KR",
        "kr.csv",
        in_encoding("김민수", "거래", "euc-kr"),
        rows=12,
        owners=("김민수",),
        rules=("encoding guessed",),
    ),
    Case(
        "Windows-1250",
        "pl.csv",
        in_encoding("Łukasz Wrzeszcz", "Zakázka", "cp1250"),
        rows=12,
        owners=("Łukasz Wrzeszcz",),
        rules=("encoding guessed",),
    ),
    Case(
        "Windows-1252",
        "es.csv",
        in_encoding("Ramón Núñez", "Operación", "cp1252"),
        rows=12,
        owners=("Ramón Núñez",),
        rules=("encoding guessed",),
    ),
    Case("UTF-16 without BOM", "u16.txt", lambda: _csv([HEADER, *deals(6)], encoding="utf-16-le"), rows=6),
    Case(
        "UTF-8 with stray lines",
        "stray.csv",
        utf8_with_cp1252_lines,
        rows=31,
        owners=("Zoë Brontë",),
        rules=("lines in another encoding",),
    ),
    # what a file really is
    Case("PDF", "report.pdf", lambda: b"%PDF-1.4\n" + b"x" * 500, error="this is a PDF, not a table"),
    Case(
        "web page",
        "report.html",
        lambda: b"<!DOCTYPE html><html><body><table><tr><td>a</td></tr></table></body></html>",
        error="this is a web page (HTML)",
    ),
    Case(
        "web page as .xls",
        "report.xls",
        lambda: b'<html xmlns:o="urn:schemas-microsoft-com:office:office"><body><table></table></body></html>',
        error="web page (HTML) saved with a spreadsheet name",
    ),
    Case(
        "OpenDocument",
        "sheet.ods",
        lambda: zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}),
        error="OpenDocument spreadsheet",
    ),
    Case(
        "zip",
        "deals.zip",
        lambda: zipped({"deals.csv": _csv([HEADER, *deals()])}),
        error="ZIP archive, not an Excel workbook. Unzip it",
    ),
    Case("gzip", "deals.csv.gz", lambda: gzip.compress(_csv([HEADER, *deals()])), error="compressed (gzip) file"),
    Case("PNG", "shot.png", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 300, error="this is an image (PNG)"),
    Case("JPEG", "photo.jpg", lambda: b"\xff\xd8\xff\xe0" + b"\x00" * 300, error="this is an image (JPEG)"),
    Case("nested Parquet", "nested.parquet", nested_parquet, error="tags (List(Int64)) hold nested or binary data"),
    Case("binary", "data.csv", lambda: b"\x00\x07MZ" + bytes(range(256)) * 20, error="this is a binary file"),
    Case("empty", "empty.csv", lambda: b"", error="the file is empty"),
    Case("header only", "header.csv", lambda: _csv([HEADER]), error="but no data rows"),
    # local conventions and report furniture
    Case(
        "thousands with dots",
        "de.csv",
        lambda: _csv(
            [
                "Opportunity Name;Stage;Amount;Close Date",
                *(f"D{i};Closed Won;{i + 1}.000;0{1 + i % 9}.03.2026" for i in range(4)),
            ]
        ),
        rows=4,
        won=10_000.0,
    ),
    Case(
        "impossible probability",
        "prob.csv",
        lambda: _csv(
            [
                HEADER + ",Probability (%)",
                *(r + ",50%" for r in deals(5)),
                "Z,Proposal,100,2026-04-30,2026-01-01,Ann,150%",
            ]
        ),
        rows=6,
        rules=("impossible probabilities in Probability (%)",),
    ),
    Case(
        "customers named like footers",
        "names.csv",
        lambda: _csv(
            [
                HEADER,
                *deals(),
                "Total Wine & More,Closed Won,5000,2026-03-07,2026-01-01,Ann",
                "Sum Industries,Closed Won,3000,2026-03-07,2026-01-01,Ann",
            ]
        ),
        rows=26,
        won=WON_24 + 8000,
    ),
    Case(
        "a sheet per quarter",
        "quarters.xlsx",
        sheets_by_quarter,
        rows=24,
        rules=("sheets with the same columns read as one table",),
        won=240.0,
    ),
    Case("time zones", "zoned.parquet", zoned_parquet, rows=1),
    Case(
        "joined exports and comments",
        "joined.csv",
        lambda: _csv(
            [HEADER, *deals(12), "# exported by script v2, batch 2", HEADER, *deals(24)[12:], "---,---,---,---,---,---"]
        ),
        rows=24,
        rules=("comment lines left out", "header rows repeated inside the file", "separator rows left out"),
        won=WON_24,
    ),
    Case(
        "NUL in a cell",
        "nul.csv",
        lambda: _csv([HEADER, *deals()]).replace(b"Deal 3,", b"De\x00al 3,"),
        rows=24,
        rules=("NUL characters removed",),
    ),
    Case("UTF-32", "u32.csv", lambda: _csv([HEADER, *deals(6)], encoding="utf-32"), rows=6),
    Case(
        "blank lines first",
        "blank.csv",
        lambda: b"\n" * 100_000 + _csv([HEADER, *deals()]),
        rows=24,
        rules=("blank lines before the table skipped",),
    ),
    Case(
        "header far down",
        "deep.csv",
        lambda: _csv([*(f"Report filter {i}" for i in range(100)), HEADER, *deals()]),
        rows=24,
        won=WON_24,
    ),
    Case(
        "a quote inside a cell",
        "quoted.csv",
        with_row('"Deal "F" Ltd",Closed Won,10,2026-03-01,2026-01-01,Ann'),
        rows=25,
        won=WON_24 + 10,
    ),
    Case("JSON", "deals.csv", lambda: b'[{"name": "A", "stage": "Won"}]', error="this is JSON data, not a table"),
    Case("XML", "deals.csv", lambda: b'<?xml version="1.0"?><deals><deal/></deals>', error="this is an XML file"),
    Case(
        "EBCDIC",
        "mainframe.csv",
        lambda: _csv([HEADER, *deals(6)], encoding="cp037"),
        error="EBCDIC, a mainframe encoding",
    ),
    Case(
        "duplicate Parquet columns", "dupes.parquet", duplicate_parquet, error="two columns have the same name (Amount)"
    ),
    # reports that repeat ids, targets nobody can place in time
    Case(
        "one row per product",
        "products.csv",
        lambda: _csv(
            [
                "Opportunity ID,Opportunity Name,Stage,Amount,Close Date,Product Name",
                *(f"006{i // 3},Deal {i // 3},Closed Won,100,2026-03-01,P{i % 3}" for i in range(30)),
            ]
        ),
        rows=10,
        rules=("rows repeating a deal",),
        won=1000.0,
    ),
)
