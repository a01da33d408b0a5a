"""FIX UTC timestamps <-> integer nanoseconds, without reading any clock."""

from __future__ import annotations

import calendar
import re
import time

from core.errors import BadInput

_TS = re.compile(rb"(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")
_cache_second = -1
_cache_text = b""


def format_ns(now_ns: int, millis: bool = True) -> bytes:
    """``YYYYMMDD-HH:MM:SS.sss`` (or without millis) for a UTC epoch time in ns."""
    global _cache_second, _cache_text
    second, rem = divmod(now_ns, 1_000_000_000)
    if second != _cache_second:
        _cache_text = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(second)).encode()
        _cache_second = second
    if not millis:
        return _cache_text
    return b"%s.%03d" % (_cache_text, rem // 1_000_000)


_last_prefix = b""
_last_seconds = 0


def parse_ns(value: bytes) -> int:
    """Epoch ns of a FIX UTCTimestamp; BadInput if malformed.

    Consecutive messages share their ``YYYYMMDD-HH:MM:SS`` prefix, so the
    last conversion is reused (the session parses SendingTime on every message).
    """
    global _last_prefix, _last_seconds
    prefix = value[:17]
    if prefix == _last_prefix and (len(value) == 17 or value[17:18] == b"."):
        frac = value[18:]
        if len(value) == 17:
            return _last_seconds * 1_000_000_000
        if 0 < len(frac) <= 9 and frac.isdigit():
            return _last_seconds * 1_000_000_000 + int(frac.ljust(9, b"0"))
    match = _TS.fullmatch(value)
    if match is None:
        raise BadInput("UTCTimestamp", value, "is not YYYYMMDD-HH:MM:SS[.sss]")
    y, mo, d, h, mi, s, frac = match.groups()
    try:
        seconds = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s), 0, 0, 0))
    except (ValueError, OverflowError):
        raise BadInput("UTCTimestamp", value, "is not a valid date/time") from None
    if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31 and int(h) < 24 and int(mi) < 60):
        raise BadInput("UTCTimestamp", value, "is not a valid date/time")
    nanos = int(frac.ljust(9, b"0")) if frac else 0
    _last_prefix, _last_seconds = value[:17], seconds
    return seconds * 1_000_000_000 + nanos
