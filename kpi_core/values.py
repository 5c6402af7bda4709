"""Values: dates, money, percentages, booleans and ids as CRM exports write them, into typed columns.

Each parser looks at a sample of a column once, decides the format (day/month order, decimal comma,
percent scale) and then converts the whole column with one Polars expression; a long column converts each of its
distinct values once (a million rows hold a few thousand dates or amounts) and maps the results back to the rows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

import polars as pl

EXCEL_EPOCH = datetime(1899, 12, 30)
PLAUSIBLE_FROM = date.fromisoformat(os.environ.get("KPI_WORKBENCH_DATES_FROM", "1990-01-01"))
"""Dates before this are not dates a CRM holds (placeholders such as 0001-01-01, Excel's day 0)."""
PLAUSIBLE_YEARS_AHEAD = int(os.environ.get("KPI_WORKBENCH_DATES_YEARS_AHEAD", "10"))
"""Dates more than this many years after today are placeholders too (9999-12-31, 2100-01-01)."""
MAX_AMOUNT = float(os.environ.get("KPI_WORKBENCH_MAX_AMOUNT", "1e15"))
"""Amounts beyond this (a thousand trillion in any currency), infinite or not a number are no business's money."""
TRUE_WORDS = ("1", "true", "yes", "y", "t", "x", "done", "completed", "si", "sí", "ja", "oui", "sim", "won")
FALSE_WORDS = ("0", "false", "no", "n", "f", "", "not done", "nein", "non", "nao", "não", "open")
SYMBOLS = {
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "R$": "BRL",
    "CHF": "CHF",
    "zł": "PLN",
    "kč": "CZK",
}
SALESFORCE_EMPTY_ID = re.compile(r"^0{15}(AAA)?$")

_TIMES = ("", " %H:%M:%S", " %H:%M", " %I:%M:%S %p", " %I:%M %p")
_DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("%Y-%m-%d %H:%M:%S", "iso"),
    ("%Y-%m-%d %H:%M", "iso"),
    ("%Y-%m-%d", "iso"),
    ("%Y/%m/%d %H:%M:%S", "iso"),
    ("%Y/%m/%d %H:%M", "iso"),
    ("%Y/%m/%d", "iso"),
    ("%Y.%m.%d", "iso"),
    ("%m/%d/%Y %I:%M:%S %p", "mdy"),
    ("%m/%d/%Y %I:%M %p", "mdy"),
    ("%m/%d/%Y %H:%M:%S", "mdy"),
    ("%m/%d/%Y %H:%M", "mdy"),
    ("%m/%d/%Y", "mdy"),
    ("%m/%d/%y", "mdy"),
    ("%m-%d-%Y", "mdy"),
    ("%d/%m/%Y %H:%M:%S", "dmy"),
    ("%d/%m/%Y %H:%M", "dmy"),
    ("%d/%m/%Y", "dmy"),
    ("%d/%m/%y", "dmy"),
    ("%d.%m.%Y %H:%M:%S", "dmy"),
    ("%d.%m.%Y %H:%M", "dmy"),
    ("%d.%m.%Y", "dmy"),
    ("%d.%m.%y", "dmy"),
    ("%d-%m-%Y %H:%M:%S", "dmy"),
    ("%d-%m-%Y %H:%M", "dmy"),
    ("%d-%m-%Y", "dmy"),
    *((f"{day}{time}", "text") for day in ("%d %b %Y", "%b %d %Y", "%Y %b %d", "%d %b %y") for time in _TIMES),
    ("%d-%b-%Y", "text"),
    ("%d-%b-%y", "text"),
    ("%b-%d-%Y", "text"),
)
"""Date formats by family; the text family is month names, already rewritten to English abbreviations."""

MONTHS: tuple[tuple[str, str], ...] = (
    ("Jan", "january|januar|janvier|janv|enero|ene|janeiro|januari|jan"),
    ("Feb", "february|februar|fevrier|février|févr|fevr|febrero|fevereiro|fev|fév|februari|feb|febr"),
    ("Mar", "march|märz|maerz|marz|mars|marzo|março|marco|maart|mrz|mär|mrt|mar"),
    ("Apr", "april|avril|abril|avr|abr|apr"),
    ("May", "may|mai|mayo|maio|mei"),
    ("Jun", "june|juni|juin|junio|junho|jun"),
    ("Jul", "july|juli|juillet|juil|julio|julho|jul"),
    ("Aug", "august|augustus|août|aout|agosto|ago|aug"),
    ("Sep", "september|septembre|septiembre|setiembre|setembro|sept|sep|set"),
    ("Oct", "october|oktober|octobre|octubre|outubro|okt|oct|out"),
    ("Nov", "november|novembre|noviembre|novembro|nov"),
    ("Dec", "december|dezember|décembre|decembre|diciembre|dezembro|déc|dec|dez|dic"),
)
"""Month names and abbreviations in English, German, French, Spanish, Portuguese and Dutch."""


@dataclass(frozen=True)
class Parsed:
    """A converted column and what the parser decided and could not read."""

    series: pl.Series
    format: str
    failed: int
    ambiguous: bool = False
    currency: pl.Series | None = None
    implausible: pl.Series | None = None
    """True where a value was read but lies outside what a business holds (left empty in ``series``)."""
    order: str = ""
    """For dates: "dmy" or "mdy" when the values decided the day/month order."""

    @property
    def implausible_count(self) -> int:
        return int(self.implausible.sum()) if self.implausible is not None else 0


def _clean_dates(series: pl.Series) -> pl.Series:
    """Date text as the formats read it: trimmed, ISO's T and zones and fractions of seconds dropped, month names in
    words rewritten as English abbreviations, in upper case with single spaces."""
    text = pl.col("v").str.strip_chars()
    text = text.str.replace(r"^(\d{4}-\d\d-\d\d)T", "${1} ")
    text = text.str.replace(r"(\d),\s+(\d{1,2}:\d\d)", "${1} ${2}")
    text = text.str.replace(r"(\d\d:\d\d(:\d\d)?)(\.\d+)?\s*(Z|[+-]\d\d:?\d\d|UTC|GMT)?$", "${1}")
    text = text.str.replace(r"(\d\d:\d\d(:\d\d)?)\.\d+$", "${1}")
    text = text.str.replace(r"(?i)\s+(am|pm)$", " ${1}")
    frame = pl.DataFrame({"v": series.cast(pl.String)}).with_columns(text.alias("v"))
    # month names in words: "16 Apr, 2021", "16. April 2021", "16 de abril de 2021", "1er avril 2021"
    worded = frame.get_column("v").str.contains(r"[A-Za-zÀ-ÿ]{3}")
    if worded.any():
        named = pl.col("v")
        for abbreviation, names in MONTHS:
            named = named.str.replace(
                rf"(?i)(^|[^A-Za-zÀ-ÿ])(?:{names})\.?($|[^A-Za-zÀ-ÿ])", f"${{1}}{abbreviation}${{2}}"
            )
        named = named.str.replace_all(r"(?i)\b(de|del|den|le)\b", " ")
        named = named.str.replace(r"(?i)(\d)(?:er|st|nd|rd|th)\b", "${1}").str.replace(r"^(\d{1,2})\.\s", "${1} ")
        named = named.str.replace_all(r"(\d)\s*/\s*([A-Za-z])", "${1} ${2}").str.replace_all(
            r"([A-Za-z])\s*/\s*(\d)", "${1} ${2}"
        )
        frame = frame.with_columns(pl.when(pl.lit(worded)).then(named).otherwise(pl.col("v")).alias("v"))
    final = pl.col("v").str.to_uppercase().str.replace(r",", " ").str.replace_all(r"\s+", " ").str.strip_chars()
    return frame.select(final).get_column("v")


def _via_unique(series: pl.Series, parse: Callable[[pl.Series], Parsed]) -> Parsed:
    """Parse each distinct value once (a million rows hold a few thousand dates) and map back."""
    if series.len() < 20_000 or series.dtype != pl.String:
        return parse(series)
    distinct = _distinct(series)
    if distinct.len() > series.len() // 3:
        return parse(series)
    parsed = parse(distinct)
    where = _positions(series, distinct)
    values = parsed.series.gather(where).alias(series.name)
    implausible = parsed.implausible.gather(where).fill_null(False) if parsed.implausible is not None else None
    failed = 0
    if parsed.failed:  # counted per row, from each distinct value's verdict
        unread = parsed.series.is_null() & distinct.is_not_null() & (distinct.str.strip_chars() != "")
        if parsed.implausible is not None:
            unread = unread & ~parsed.implausible.fill_null(False)
        failed = int(unread.gather(where).sum())
    currency = parsed.currency.gather(where) if parsed.currency is not None else None
    return replace(parsed, series=values, failed=failed, currency=currency, implausible=implausible)


def _distinct(text: pl.Series) -> pl.Series:
    """A text column's distinct values, null (when there is one) last."""
    distinct = text.unique()
    if distinct.null_count():
        distinct = distinct.drop_nulls().append(pl.Series(text.name, [None], dtype=pl.String))
    return distinct


def _positions(text: pl.Series, distinct: pl.Series) -> pl.Series:
    """For each row, the position of its value in ``distinct`` (from :func:`_distinct`): one pass through an Enum
    of the distinct values, where a join would hash every row twice."""
    present = distinct.drop_nulls()
    codes = text.cast(pl.Enum(present)).to_physical()
    return codes.fill_null(present.len()) if present.len() < distinct.len() else codes


def _few_distinct(text: pl.Series) -> bool:
    """Whether a long text column repeats its values (owners, stages, dates: worth converting once per value),
    judged on an even sample of about 20,000 rows; only speed depends on the answer."""
    if text.len() < 20_000:
        return False
    sample = text.gather_every(max(text.len() // 20_000, 1))
    return sample.n_unique() <= sample.len() // 2


def each_value(series: pl.Series, convert: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``convert`` (value by value: each output depends on its input alone) over a column as text; a long column
    of few distinct values is converted once per value, and comes back as it was when no value changes."""
    text = series.cast(pl.String)
    if not _few_distinct(text):
        return convert(text).alias(series.name)
    distinct = _distinct(text)
    out = convert(distinct)
    if bool(out.eq_missing(distinct).all()):
        return text.alias(series.name)
    return out.gather(_positions(text, distinct)).alias(series.name)


def _steps(text: pl.Series, *steps: pl.Expr) -> pl.Series:
    """Expressions of ``pl.col("v")`` applied one after the other, each to the previous one's result (as one
    nested expression Polars would compute the repeated inner steps again for every reference)."""
    frame = pl.DataFrame({"v": text})
    for step in steps:
        frame = frame.with_columns(step.alias("v"))
    return frame.get_column("v")


def _plausible_dates(parsed: Parsed) -> Parsed:
    """Dates outside the plausible window (placeholders, typos of the year) left empty and flagged."""
    low = datetime.combine(PLAUSIBLE_FROM, datetime.min.time())
    high = datetime(date.today().year + PLAUSIBLE_YEARS_AHEAD + 1, 1, 1)
    values = parsed.series
    odd = (values.is_not_null() & ((values < low) | (values >= high))).fill_null(False)
    if not odd.any():
        return parsed
    kept = pl.select(pl.when(~pl.lit(odd)).then(pl.lit(values))).to_series().alias(values.name)
    flags = odd if parsed.implausible is None else parsed.implausible | odd
    return replace(parsed, series=kept, implausible=flags)


def _plausible_money(parsed: Parsed) -> Parsed:
    """Amounts that are infinite, not a number or beyond :data:`MAX_AMOUNT` left empty and flagged."""
    values = parsed.series
    odd = (values.is_not_null() & (values.is_nan() | values.is_infinite() | (values.abs() > MAX_AMOUNT))).fill_null(
        False
    )
    if not odd.any():
        return parsed
    kept = pl.select(pl.when(~pl.lit(odd)).then(pl.lit(values))).to_series().alias(values.name)
    return replace(parsed, series=kept, implausible=odd)


def _strptime(text: pl.Expr, fmt: str, four_digits: pl.Expr | None = None) -> pl.Expr:
    """``str.to_datetime`` with one format; a four-digit year format never reads ``21`` as the year 21 and a
    two-digit one never reads the first digits of ``2021`` (``four_digits``: whether the text holds four digits in
    a row, when already known)."""
    parsed = text.str.to_datetime(fmt, strict=False)
    year = text.str.contains(r"\d{4}") if four_digits is None else four_digits
    if "%Y" in fmt:
        return pl.when(year).then(parsed)
    if "%y" in fmt:
        return pl.when(~year).then(parsed)
    return parsed


def parse_dates(series: pl.Series, *, day_first: bool | None = None) -> Parsed:
    """Datetimes from ISO, US ``m/d/yyyy``, ``d.m.yyyy``, day-month names and Excel serial numbers.

    Day/month order is decided per column from the values; ``ambiguous`` says no value told them apart, and then
    ``day_first`` (what the file's other date columns showed) decides, when given.

    >>> parse_dates(pl.Series(["3/14/2026", "4/1/2026"])).series.dt.date().to_list()
    [datetime.date(2026, 3, 14), datetime.date(2026, 4, 1)]
    """
    if isinstance(series.dtype, pl.Datetime) and series.dtype.time_zone:
        series = series.dt.replace_time_zone(None)  # the wall-clock time where the deal happened, not UTC
    if isinstance(series.dtype, pl.Time | pl.Duration):
        return Parsed(
            pl.Series(series.name, [None] * series.len(), dtype=pl.Datetime("us")),
            "none",
            int(series.is_not_null().sum()),
        )
    if series.dtype.is_temporal():
        return _plausible_dates(Parsed(series.cast(pl.Datetime("us")), "native", 0))
    if series.dtype.is_numeric():
        series = series.cast(pl.String)
    return _via_unique(series.cast(pl.String), lambda s: _plausible_dates(_parse_dates(s, day_first)))


def _parse_dates(series: pl.Series, day_first: bool | None = None) -> Parsed:
    cleaned = _clean_dates(series)
    present = cleaned.filter(cleaned.is_not_null() & (cleaned != ""))
    if present.len() == 0:
        return Parsed(pl.Series(series.name, [None] * series.len(), dtype=pl.Datetime("us")), "empty", 0)
    sample = present.unique().head(3000)
    serial_pattern = r"^\d{5}(\.\d+)?$"
    four = pl.col("v").str.contains(r"\d{4}")
    sample_frame = pl.DataFrame({"v": sample}).with_columns(four.alias("four"))
    tried = sample_frame.select(  # every format at once
        [
            _strptime(pl.col("v"), fmt, pl.col("four")).is_not_null().alias(str(i))
            for i, (fmt, _) in enumerate(_DATE_FORMATS)
        ]
    )
    hits = {fmt: tried.get_column(str(i)) for i, (fmt, _) in enumerate(_DATE_FORMATS)}
    serial_mask = sample.str.contains(serial_pattern)
    families: dict[str, list[str]] = {}
    for fmt, family in _DATE_FORMATS:
        families.setdefault(family, []).append(fmt)
    coverage: dict[str, int] = {}
    for family, fmts in families.items():
        covered = serial_mask.clone()
        for fmt in [*fmts, *families["iso"]]:
            covered = covered | hits[fmt]
        coverage[family] = int(covered.sum())
    preference = {"iso": 3, "mdy": 2, "dmy": 1, "text": 0}
    family = max(coverage, key=lambda f: (coverage[f], preference[f]))
    ambiguous = family in ("mdy", "dmy") and coverage["mdy"] == coverage["dmy"] and coverage["mdy"] > coverage["iso"]
    if ambiguous and day_first is not None:
        family, ambiguous = ("dmy" if day_first else "mdy"), False
    used = [f for f in families[family] if hits[f].any()]
    used += [f for f in families["iso"] if f not in used and hits[f].any()]
    parts = [_strptime(pl.col("v"), f, pl.col("four")).cast(pl.Datetime("us")) for f in used]
    fmt = " | ".join(used) if used else "none"
    if serial_mask.any():
        days = pl.col("v").cast(pl.Float64, strict=False)
        parts.append(
            pl.when(pl.col("v").str.contains(serial_pattern) & days.is_between(20000, 80000)).then(
                pl.lit(EXCEL_EPOCH) + pl.duration(microseconds=(days * 86_400_000_000).round(0).cast(pl.Int64))
            )
        )
        fmt = f"{fmt} + Excel serial numbers" if used else "Excel serial numbers"
    if not parts:  # nothing reads as a date: a column of nulls of the same length (not a 1-row literal)
        nulls = pl.Series(series.name, [None] * series.len(), dtype=pl.Datetime("us"))
        filled = int((cleaned.is_not_null() & (cleaned != "")).sum())
        return Parsed(nulls, "none", filled)
    expr = pl.coalesce(parts)
    out = (
        pl.DataFrame({"v": cleaned})
        .with_columns(four.alias("four"))
        .select(expr.cast(pl.Datetime("us")).alias(series.name))
        .get_column(series.name)
    )
    failed = int((out.is_null() & cleaned.is_not_null() & (cleaned != "")).sum())
    return Parsed(out, fmt, failed, ambiguous, order=family if family in ("mdy", "dmy") and not ambiguous else "")


def _money_currency(col: pl.Expr) -> pl.Expr:
    from kpi_core.columns import ISO_CURRENCIES

    found = col.str.extract(r"\b([A-Z]{3})\b", 1)
    code = pl.when(found.is_in(list(ISO_CURRENCIES))).then(found)  # "TBD" is not a currency
    symbol = pl.lit(None, pl.String)
    for sign, iso in sorted(SYMBOLS.items(), key=lambda kv: -len(kv[0])):
        symbol = pl.when(col.str.contains(sign, literal=True)).then(pl.lit(iso)).otherwise(symbol)
    return pl.coalesce(code, symbol)


def parse_money(series: pl.Series, *, cents: bool = False) -> Parsed:
    """Numbers from ``$1,234.56``, ``USD 1,234.56``, ``1.234,56 €``, ``(1,234)``, ``-1E02``; cents when asked.

    >>> parse_money(pl.Series(["$1,234.56", "(1,234)", "1.234,56 €"])).series.to_list()
    [1234.56, -1234.0, 1234.56]
    """
    if series.dtype.is_numeric():
        out = series.cast(pl.Float64)
        return _plausible_money(Parsed(out / 100 if cents else out, "number", 0))
    if series.dtype.is_temporal():  # a date or a duration where an amount should be
        return Parsed(
            pl.Series(series.name, [None] * series.len(), dtype=pl.Float64), "none", int(series.is_not_null().sum())
        )
    return _via_unique(series.cast(pl.String), lambda s: _plausible_money(_parse_money(s, cents=cents)))


def _parse_money(series: pl.Series, *, cents: bool) -> Parsed:
    # each step is a column of its own: the expressions below read them several times
    frame = pl.DataFrame({"v": series.cast(pl.String)}).with_columns(t=pl.col("v").str.strip_chars())
    text, digits = pl.col("t"), pl.col("d")
    frame = frame.with_columns(
        d=text.str.replace_all(r"[A-Z]{3}", "").str.replace_all(r"[^0-9.,eE+\-]", "").str.strip_chars("+-")
    )
    sample = frame.get_column("d").drop_nulls()
    eu_value = r"^\d{1,3}(\.\d{3})+,\d+$|^\d+,\d{1,2}$"
    us_value = r"^\d{1,3}(,\d{3})+\.\d+$|^\d+\.\d{1,2}$"
    # "1.000" and "24.000": thousands written with dots (money rarely has three decimals), unless the column
    # writes decimals with a point elsewhere; "1,000" likewise with commas
    eu_grouped, us_grouped = r"^\d{1,3}(\.\d{3})+$", r"^\d{1,3}(,\d{3})+$"
    eu = int(sample.str.contains(eu_value).sum())
    us = int(sample.str.contains(us_value).sum())
    eu += int(sample.str.contains(eu_grouped).sum()) if us == 0 else 0
    us += int(sample.str.contains(us_grouped).sum()) if eu == 0 else 0
    decimal_comma = eu > us
    as_eu = digits.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    as_us = digits.str.replace_all(",", "", literal=True)
    # a value that can only be read one way is read that way; the rest follow the column's majority
    number = (
        pl.when(digits.str.contains(eu_value))
        .then(as_eu)
        .when(digits.str.contains(us_value))
        .then(as_us)
        .otherwise(as_eu if decimal_comma else as_us)
    )
    negative = text.str.contains(r"^\(.*\)$|^-|-$|^[^0-9]*-")
    # only currency marks, spaces, signs and parentheses may surround the number (not '=SUM(A1:A3)')
    residue = (
        text.str.replace_all(r"[A-Z]{3}|[$€£¥₹]|R\$|zł|kč|CHF|[\s()+\-]", "")
        .str.replace_all(r"[eE]\d", "0")
        .str.replace_all(r"[0-9.,]", "")
    )
    exponent_with_comma = digits.str.contains(r"[eE]") & digits.str.contains(",", literal=True)  # '1,03E+02'
    frame = frame.with_columns(
        p=pl.when((residue == "") & ~exponent_with_comma).then(number.cast(pl.Float64, strict=False)),
        negative=negative,
    )
    parsed = pl.col("p")
    signed: pl.Expr = pl.when(pl.col("negative")).then(-parsed.abs()).otherwise(parsed)
    if cents:
        signed = signed / 100
    table = frame.select(signed.alias(series.name), _money_currency(text).alias("currency"))
    failed = int(
        (
            table.get_column(series.name).is_null()
            & series.is_not_null()
            & (series.cast(pl.String).str.strip_chars() != "")
        ).sum()
    )
    currency = table.get_column("currency")
    return Parsed(
        table.get_column(series.name),
        "decimal comma" if decimal_comma else "decimal point",
        failed,
        currency=currency if currency.null_count() < currency.len() else None,
    )


def parse_percent(series: pl.Series) -> Parsed:
    """Fractions from ``90``, ``90%``, ``0.9``: a column is in percent when it writes a % sign or most of its
    values are above 1; a probability outside 0-100% afterwards is impossible (flagged, left empty).

    >>> parse_percent(pl.Series(["90%", "10"])).series.to_list()
    [0.9, 0.1]
    >>> parse_percent(pl.Series(["50%", "150%", "-10%"])).series.to_list()
    [0.5, None, None]
    """
    if series.dtype.is_numeric():
        numbers = series.cast(pl.Float64)
        present = numbers.drop_nulls()
        scale = present.len() > 0 and float((present > 1).mean() or 0) >= 0.5  # type: ignore[arg-type]
        return _possible(Parsed(numbers / 100 if scale else numbers, "number", 0))
    return _via_unique(series.cast(pl.String), lambda s: _possible(_parse_percent(s)))


def _parse_percent(series: pl.Series) -> Parsed:
    text = series.cast(pl.String).str.strip_chars()
    has_sign = bool(text.str.contains("%", literal=True).any())
    numbers = parse_money(text.str.replace_all("%", "", literal=True)).series
    present = numbers.drop_nulls()
    scale = has_sign or (present.len() > 0 and float((present > 1).mean() or 0) >= 0.5)  # type: ignore[arg-type]
    out = numbers / 100 if scale else numbers
    failed = int((out.is_null() & text.is_not_null() & (text != "")).sum())
    return Parsed(out.alias(series.name), "percent" if scale else "fraction", failed)


def _possible(parsed: Parsed) -> Parsed:
    """A probability below 0% or above 100% is no probability: left empty and flagged."""
    values = parsed.series
    odd = (values.is_not_null() & ((values < 0) | (values > 1))).fill_null(False)
    if not odd.any():
        return parsed
    kept = pl.select(pl.when(~pl.lit(odd)).then(pl.lit(values))).to_series().alias(values.name)
    flags = odd if parsed.implausible is None else parsed.implausible | odd
    return replace(parsed, series=kept, implausible=flags)


def parse_bool(series: pl.Series) -> Parsed:
    """Booleans from ``0/1``, ``true/false``, ``yes/no``, ``Done``."""
    if series.dtype == pl.Boolean:
        return Parsed(series, "boolean", 0)
    text = series.cast(pl.String).str.strip_chars().str.to_lowercase()
    frame = pl.DataFrame({"v": text})
    out = frame.select(
        pl.when(pl.col("v").is_in(list(TRUE_WORDS)))
        .then(True)
        .when(pl.col("v").is_in(list(FALSE_WORDS)))
        .then(False)
        .alias(series.name)
    ).get_column(series.name)
    failed = int((out.is_null() & text.is_not_null()).sum())
    return Parsed(out, "yes/no", failed)


def clean_ids(series: pl.Series, source: str) -> pl.Series:
    """Ids as one record each: Salesforce's empty id is null and 18-character ids become their 15-character
    form; Zoho's ``zcrm_`` prefix is dropped."""
    v = pl.col("v")

    def convert(text: pl.Series) -> pl.Series:
        text = _steps(text, v.str.strip_chars(), pl.when(v == "").then(None).otherwise(v))
        lengths = set(text.str.len_bytes().unique().to_list()) if source == "salesforce" else set()
        if {15, 18} & lengths:  # only an id of 15 or 18 characters is Salesforce's empty one
            text = _steps(text, pl.when(v.is_in(["000000000000000", "000000000000000AAA"])).then(None).otherwise(v))
        if 18 in lengths:
            text = _steps(
                text,
                pl.when((v.str.len_bytes() == 18) & v.str.contains(r"^[a-zA-Z0-9]{18}$"))
                .then(v.str.slice(0, 15))
                .otherwise(v),
            )
        return _steps(text, v.str.strip_prefix("zcrm_")) if source == "zoho" else text

    return each_value(series, convert)


def clean_text(series: pl.Series) -> pl.Series:
    """Strings trimmed; empty strings and Salesforce's empty id are null."""
    v = pl.col("v")
    steps = [
        v.str.strip_chars(),
        pl.when(v.is_in(["", "000000000000000", "000000000000000AAA"])).then(None).otherwise(v),
    ]
    return each_value(series, lambda text: _steps(text, *steps))
