"""UTC timestamps as text and back, exactly to the nanosecond."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from core.errors import BadInput

_NS = 10**9
_EPOCH = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_FRACTION = re.compile(r"(?<=\d{2}:\d{2}:\d{2})[.,](\d+)")


def parse_time(text: str, field: str = "time") -> int:
    """ISO-8601 (naive means UTC) or epoch seconds (int or decimal) to ns."""
    raw = text.strip()
    if not raw:
        raise BadInput(field, text, "is empty")
    if not raw.isascii():  # str.isdigit() and Decimal() also take "١٢" and other scripts
        raise BadInput(field, text, "must be ASCII (ISO-8601 or epoch seconds)")
    if _EPOCH.fullmatch(raw):
        try:
            seconds = Decimal(raw)
        except InvalidOperation:
            raise BadInput(field, text, "is not epoch seconds") from None
        scaled = seconds.scaleb(9)
        if scaled != scaled.to_integral_value():
            raise BadInput(field, text, "has more than 9 decimal places")
        return int(scaled)
    # datetime keeps microseconds only: take the fraction off and add it back exactly.
    fraction = _FRACTION.search(raw)
    nanos = 0
    if fraction is not None:
        digits = fraction.group(1)
        if len(digits) > 9:
            raise BadInput(field, text, "has more than 9 fractional digits")
        nanos = int(digits.ljust(9, "0"))
        raw = raw[: fraction.start()] + raw[fraction.end() :]
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadInput(field, text, "is neither ISO-8601 nor epoch seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _NS + nanos


def format_time(time_ns: int) -> str:
    """ISO-8601 UTC with a ``Z``; sub-second digits only when present."""
    seconds, nanos = divmod(time_ns, _NS)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"
