"""Numbers as people read them: money, percent, days, hours, ratios."""

from __future__ import annotations

import math

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
