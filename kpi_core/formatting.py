"""Numbers as people read them: money, percent, days, hours, ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


def money(value: float, currency: str = "USD", *, compact: bool = False) -> str:
    """``$1,234``, or ``$1.2M`` compact; beyond a trillion in scientific notation, never a 300-digit number.

    >>> money(2.5e16, "EUR"), money(-1234.4, "CHF")
    ('€2.5e+16', '-1,234 CHF')
    """
    symbol = SYMBOLS.get(currency, "")
    sign = "-" if value < 0 else ""
    amount = abs(value)
    if amount >= 1e15:
        text = f"{amount:.1e}"
    elif compact:
        for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
            if amount >= limit:
                text = f"{amount / limit:.1f}{suffix}"
                break
        else:
            text = f"{amount:,.0f}"
    else:
        text = f"{amount:,.0f}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def format_value(value: float | None, unit: str, currency: str = "USD", *, compact: bool = False) -> str:
    """One KPI value for display; ``—`` when there is no value (not enough data).

    >>> format_value(0.4567, "percent"), format_value(1234567.0, "currency", compact=True)
    ('45.7%', '$1.2M')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if unit == "currency":
        return money(value, currency, compact=compact)
    if unit == "currency_per_day":
        return f"{money(value, currency, compact=compact)}/d" if compact else f"{money(value, currency)}/day"
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit == "days":
        return f"{value:,.1f} days"
    if unit == "hours":
        return f"{value:,.1f} h"
    if unit == "ratio":
        return f"{value:,.2f}x"
    if abs(value) >= 1e15:
        return f"{value:.1e}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def format_delta(delta: float | None, unit: str, currency: str = "USD") -> str:
    """A change for display: percentage points for percent KPIs, signed values otherwise."""
    if delta is None or (isinstance(delta, float) and not math.isfinite(delta)):
        return ""
    sign = "+" if delta >= 0 else "-"
    if unit == "percent":
        return f"{sign}{abs(delta) * 100:.1f} pp"
    if unit == "hours" and abs(delta) < 1:
        return f"{sign}{abs(delta) * 60:.0f} min"
    return sign + format_value(abs(delta), unit, currency, compact=True)


EMPTY = "—"
"""What an empty cell shows, on screen, on slides and in PDFs."""

TABLE_UNITS = frozenset({"currency", "currency_per_day", "count", "percent", "days", "hours", "ratio", "date", "text"})
"""The units a table column can have: a KPI unit, or a date, or text."""

NUMERIC_UNITS = TABLE_UNITS - {"date", "text"}


def count_decimals(values: Sequence[object]) -> int:
    """Decimals a count column needs: none when every value is a whole number, else one (the whole column alike).

    >>> count_decimals([1.0, 12, None]), count_decimals([1.0, 2.5])
    (0, 1)
    """
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]
    return 0 if all(float(v).is_integer() for v in numbers) else 1


def format_cell(value: object, unit: str, currency: str = "USD", *, decimals: int = 0) -> str:
    """One table cell as every table shows it (full amounts, not compact); ``—`` when empty.

    >>> format_cell(128380.0, "currency"), format_cell(0.91948, "percent"), format_cell(None, "currency")
    ('$128,380', '91.9%', '—')
    >>> format_cell(date(2026, 12, 8), "date"), format_cell(float("nan"), "count"), format_cell(3.0, "count")
    ('8 Dec 2026', '—', '3')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return EMPTY
    if isinstance(value, datetime):
        return f"{value.day} {value:%b %Y %H:%M}"
    if isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and unit in NUMERIC_UNITS:
        if unit == "count":
            return f"{value:,.{decimals}f}" if abs(value) < 1e15 else f"{value:.1e}"
        return format_value(float(value), unit, currency)
    text = str(value)
    return text if text.strip() else EMPTY


def format_column(values: Sequence[object], unit: str, currency: str = "USD") -> list[str]:
    """A whole column's cells (a count column shows one decimal in every row when any row needs it).

    >>> format_column([1.0, 2.5, None], "count")
    ['1.0', '2.5', '—']
    """
    decimals = count_decimals(values) if unit == "count" else 0
    return [format_cell(v, unit, currency, decimals=decimals) for v in values]


def screen_format(unit: str, currency: str = "USD", *, decimals: int = 0) -> str | None:
    """The printf format a screen table (``st.column_config.NumberColumn``) uses for a unit, so that it shows what
    :func:`format_cell` writes on slides. Percent columns are shown multiplied by 100 (see :func:`screen_scale`).

    >>> screen_format("currency"), screen_format("currency", "CHF"), screen_format("percent"), screen_format("text")
    ('$%,.0f', '%,.0f CHF', '%.1f%%', None)
    >>> screen_format("currency", "EUR", decimals=2)
    '€%,.2f'
    """
    symbol = SYMBOLS.get(currency)
    money_format = f"{symbol}%,.{decimals}f" if symbol else f"%,.{decimals}f {currency}"
    formats = {
        "currency": money_format,
        "currency_per_day": f"{money_format}/day",
        "percent": "%.1f%%",
        "days": "%,.1f days",
        "hours": "%,.1f h",
        "ratio": "%,.2fx",
        "count": f"%,.{decimals}f",
    }
    return formats.get(unit)


def screen_scale(unit: str) -> float:
    """What a screen table multiplies a unit's values by before formatting (percent: shares shown as percent)."""
    return 100.0 if unit == "percent" else 1.0


SCREEN_DATE = "D MMM YYYY"
"""The date format of screen tables (``st.column_config.DateColumn``), the same as :func:`format_cell`'s."""


def excel_format(unit: str, currency: str = "USD", *, decimals: int = 0) -> str | None:
    """The Excel number format of a unit: the cell stays a number, shown as on screen.

    >>> excel_format("currency", "EUR"), excel_format("percent"), excel_format("date"), excel_format("text")
    ('"€"#,##0', '0.0%', 'd mmm yyyy', None)
    """
    symbol = SYMBOLS.get(currency)
    money_format = f'"{symbol}"#,##0' if symbol else f'#,##0 "{currency}"'
    formats = {
        "currency": money_format,
        "currency_per_day": f'{money_format}"/day"',
        "percent": "0.0%",
        "days": '#,##0.0 "days"',
        "hours": '#,##0.0 "h"',
        "ratio": '#,##0.00"x"',
        "count": "#,##0" + ("." + "0" * decimals if decimals else ""),
        "date": "d mmm yyyy",
    }
    return formats.get(unit)


LABELS = {
    "deal_id": "Deal id",
    "deal_name": "Deal",
    "owner": "Owner",
    "stage": "Stage",
    "amount": "Amount",
    "close_date": "Close date",
    "category": "What happened",
    "amount_before": "Before",
    "amount_after": "Now",
    "effect": "Amount moved",
    "status_before": "Status before",
    "status_after": "Status now",
    "stage_before": "Stage before",
    "stage_after": "Stage now",
    "close_date_before": "Close date before",
    "close_date_after": "Close date now",
    "stage_move": "Stage move",
    "pushes": "Times pushed",
    "region": "Region",
    "product": "Product",
    "team": "Team",
    "segment": "Segment",
    "period": "Period",
}


def column_label(name: str) -> str:
    """A column's name as people read it.

    >>> column_label("close_date_after"), column_label("lead_source")
    ('Close date now', 'Lead source')
    """
    return LABELS.get(name, name.replace("_", " ").strip().capitalize() or name)


def category_label(category: str) -> str:
    """A what-changed category as people read it: ``pushed_out`` -> ``Pushed out``."""
    return category.replace("_", " ").capitalize()
