"""Alpaca's and Telegram's wire shapes: field names, string-typed numbers, times, errors.

Pure functions from the stand-ins' state to the JSON/msgpack bodies the real
services send, so one place says what "faithful" means. Money crosses here
from int nano-units to the decimal strings Alpaca uses (floats only where the
real wire carries floats: market-data prices).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgpack

from core.events import Bar
from core.money import format_price, price_to_decimal

_NS = 10**9
NEW_YORK = ZoneInfo("America/New_York")
_IDS = uuid.UUID("5f0c6d7e-0000-4000-8000-50756e697479")  # namespace of the stand-in's ids


def stable_uuid(kind: str, number: int) -> str:
    """A UUID-format id derived from a counter, so runs with the same inputs agree."""
    return str(uuid.uuid5(_IDS, f"{kind}:{number}"))


def rfc3339(time_ns: int) -> str:
    """UTC with microseconds and ``Z``, as the trading API prints order times."""
    seconds, nanos = divmod(time_ns, _NS)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"


def bar_time(time_ns: int) -> str:
    """Market-data REST bar times: whole seconds, ``Z`` (``2024-01-03T14:31:00Z``)."""
    return datetime.fromtimestamp(time_ns // _NS, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_york(time_ns: int, fraction: bool = False) -> str:
    """``/v2/clock`` times: New York local time with its offset."""
    seconds, nanos = divmod(time_ns, _NS)
    moment = datetime.fromtimestamp(seconds, tz=NEW_YORK)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += f".{nanos // 1000:06d}"
    offset = moment.strftime("%z")
    return f"{text}{offset[:3]}:{offset[3:]}"


def money(value: int) -> str:
    """Nano-units as Alpaca's decimal strings (``"100000"``, ``"99.87"``)."""
    return format_price(value)


def money_rounded(value: int, places: int = 2) -> str:
    return str(price_to_decimal(value).quantize(Decimal(1).scaleb(-places)))


def price_float(value: int) -> float:
    """Market data carries prices as JSON/msgpack floats; this is that boundary."""
    return float(price_to_decimal(value))


def error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


# Alpaca's documented error codes.
UNAUTHORIZED = 40110000  # 401 request is not authorized
FORBIDDEN = 40310000  # 403 e.g. insufficient buying power
NOT_FOUND = 40410000  # 404
BAD_REQUEST = 40010000  # 400 malformed body
UNPROCESSABLE = 40010001  # 422 invalid request parameters
STATE_CONFLICT = 42210000  # 422 order not in a state that allows it
RATE_LIMIT = 42910000  # 429


def bar_rest(bar: Bar) -> dict[str, Any]:
    """A bar as ``/v2/stocks/bars`` returns it."""
    return {
        "t": bar_time(bar.time_ns),
        "o": price_float(bar.open),
        "h": price_float(bar.high),
        "l": price_float(bar.low),
        "c": price_float(bar.close),
        "v": bar.volume,
        "n": bar_trades(bar),
        "vw": price_float(bar_vwap(bar)),
    }


def bar_stream(bar: Bar) -> dict[str, Any]:
    """A bar as the market-data websocket sends it (``t`` is a msgpack timestamp)."""
    seconds, nanos = divmod(bar.time_ns, _NS)
    return {
        "T": "b",
        "S": bar.symbol,
        "o": price_float(bar.open),
        "h": price_float(bar.high),
        "l": price_float(bar.low),
        "c": price_float(bar.close),
        "v": bar.volume,
        "t": msgpack.Timestamp(seconds, nanos),
        "n": bar_trades(bar),
        "vw": price_float(bar_vwap(bar)),
    }


def bar_stream_json(bar: Bar) -> dict[str, Any]:
    """The same bar for a JSON (non-msgpack) data-stream client: ``t`` as RFC 3339."""
    body = bar_stream(bar)
    body["t"] = bar_time(bar.time_ns)
    return body


def bar_vwap(bar: Bar) -> int:
    """The bar's VWAP, or its typical price when the simulator did not print one."""
    if bar.vwap is not None:
        return bar.vwap
    typical = (bar.high + bar.low + bar.close) // 3
    return min(max(typical, bar.low), bar.high)


def bar_trades(bar: Bar) -> int:
    """Trade count, or an estimate (one trade per hundred shares) when absent."""
    if bar.trades is not None:
        return bar.trades
    return max(1, bar.volume // 100) if bar.volume else 0


def telegram_error(code: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body
