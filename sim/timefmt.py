"""UTC timestamps as text and back, exactly to the nanosecond."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

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


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=4096)
def _day_text(days: int) -> str:
    """The date part of day ``days`` since the epoch (cached: runs span few days)."""
    return date.fromordinal(_EPOCH_ORDINAL + days).strftime("%Y-%m-%d")


def format_time(time_ns: int) -> str:
    """ISO-8601 UTC with a ``Z``; sub-second digits only when present.

    The date from a per-day cache and the clock by integer division: the
    outputs format a time per bar, and ``datetime.strftime`` per call was a
    visible share of a run (the text is the same, a property test holds it).
    """
    seconds, nanos = divmod(time_ns, _NS)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    text = f"{_day_text(days)}T{hours:02d}:{minutes:02d}:{secs:02d}"
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"
