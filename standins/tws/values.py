"""How TWS writes times, bars and costs on the wire, as pure functions.

US/Eastern time stamps, IB's request-time formats, a bar's fields, the twelve
5-second bars of a minute and IB's avgCost: shared by the request handlers and
the order records, and testable without a socket.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.events import Bar
from core.money import format_price, round_half_even_div
from standins.tws import protocol as p

NS = 10**9
MINUTE_NS = 60 * NS
EASTERN = ZoneInfo("US/Eastern")


# ------------------------------------------------------------------ helpers


def average_cost(cost: int, qty: int) -> int:
    """IB's avgCost: the basis per share, positive for longs and shorts alike."""
    if qty == 0:
        return 0
    return round_half_even_div(cost if qty > 0 else -cost, abs(qty))


def eastern(time_ns: int) -> datetime:
    return datetime.fromtimestamp(time_ns // NS, tz=EASTERN)


def ib_time(time_ns: int) -> str:
    return eastern(time_ns).strftime("%Y%m%d %H:%M:%S")


def parse_rfc3339(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.timestamp()) * NS + moment.microsecond * 1000


def parse_ib_time(text: str, name: str) -> int:
    """IB request times: ``YYYYMMDD HH:MM:SS [zone]``, ``YYYYMMDD-HH:MM:SS`` (UTC)."""
    text = text.strip()
    try:
        if "-" in text[:9] and len(text) >= 17:
            moment = datetime.strptime(text[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        else:
            date_part, clock, *zone = text.split(" ", 2)
            moment = datetime.strptime(date_part + clock, "%Y%m%d%H:%M:%S")
            tz = ZoneInfo(zone[0].strip()) if zone and zone[0].strip() else EASTERN
            moment = moment.replace(tzinfo=tz)
    except (ValueError, KeyError, IndexError):
        raise p.ProtocolError(20, name, text, "is not YYYYMMDD HH:MM:SS [zone]") from None
    except Exception:  # ZoneInfoNotFoundError and friends
        raise p.ProtocolError(20, name, text, "names an unknown time zone") from None
    return int(moment.timestamp()) * NS


def bar_fields(bar: Bar, format_date: int, daily: bool = False) -> list[object]:
    if daily:  # IB dates a daily bar by its session, "YYYYMMDD", whatever formatDate
        date = eastern(bar.time_ns).strftime("%Y%m%d")
    elif format_date == 2:
        date = str(bar.time_ns // NS)
    else:
        date = eastern(bar.time_ns).strftime("%Y%m%d %H:%M:%S US/Eastern")
    wap = (
        bar.vwap if bar.vwap is not None else round_half_even_div(bar.high + bar.low + bar.close, 3)
    )
    trades = bar.trades if bar.trades is not None else max(1, bar.volume // 100)
    return [
        date,
        format_price(bar.open),
        format_price(bar.high),
        format_price(bar.low),
        format_price(bar.close),
        bar.volume,
        format_price(wap),
        trades,
    ]


def five_second_bars(bar: Bar) -> list[list[object]]:
    """A minute bar as IB's twelve 5-second real-time bars whose aggregate is exactly it.

    The path is open → the extreme on the far side of the close → the other
    extreme → close, each held for four bars, so the twelve bars' first open,
    max high, min low, last close and summed volume are the minute's own.
    """
    up = bar.close >= bar.open
    first, second = (bar.low, bar.high) if up else (bar.high, bar.low)
    path = [bar.open] * 4 + [first] * 4 + [second] * 4 + [bar.close]
    base, extra = divmod(bar.volume, 12)
    start = bar.time_ns // NS
    out = []
    for i in range(12):
        o, c = path[i], path[i + 1]
        volume = base + (extra if i == 11 else 0)
        out.append(
            [
                start + 5 * i,
                format_price(o),
                format_price(max(o, c)),
                format_price(min(o, c)),
                format_price(c),
                volume,
                format_price(round_half_even_div(o + c, 2)),
                max(1, volume // 100) if volume else 0,
            ]
        )
    return out
