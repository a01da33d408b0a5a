"""Numbers for people: the one place that decides how a figure reads.

The terminal table, the report and ``summary.json``'s ``display`` block all
format through here, so "+12.34%" and "$1,234,567.89" look the same
everywhere. Money is rounded half-even to cents from its exact decimal text.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from core.cells import as_float, as_int


def money(value: object) -> str:
    """``$1,234.50``; negative as ``-$1,234.50``; blank for missing."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        return str(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def fee(value: object) -> str:
    """Fees at one precision everywhere: cents, like money."""
    return money(value)


def percent(value: object, signed: bool = True, places: int = 2) -> str:
    """A fraction as a percentage: 0.1234 → ``+12.34%``; blank for missing or NaN."""
    if value is None or value == "":
        return ""
    number = as_float(value)
    if not math.isfinite(number):
        return "n/a"
    text = f"{number * 100:+,.{places}f}%" if signed else f"{number * 100:,.{places}f}%"
    return text.replace("+0.00%", "0.00%").replace("-0.00%", "0.00%")


def ratio(value: object, places: int = 2) -> str:
    if value is None or value == "":
        return "n/a"
    number = as_float(value)
    return f"{number:,.{places}f}" if math.isfinite(number) else "n/a"


def count(value: object) -> str:
    if value is None or value == "":
        return ""
    return f"{as_int(value):,}"


def duration(ns: object) -> str:
    """Holding times: ``3d 4h``, ``2h 05m``, ``12m``."""
    if ns is None or ns == "":
        return ""
    minutes = as_int(ns) // 60_000_000_000
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    return f"{mins}m"


__all__ = ["count", "duration", "fee", "money", "percent", "ratio"]
