"""Exchange sessions from exchange-calendars, as plain data for the core.

The core's ``SessionSchedule`` wants sorted (open_ns, close_ns) pairs; this
shell module is the only place that knows about pandas and calendar
libraries. Ranges are always explicit (never "today"), so a run's schedule
depends on its data, not on when it was run.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

from core.health import AlwaysOpen, Schedule, SessionSchedule

_NS = 10**9


def _date(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns // _NS, tz=UTC).date().isoformat()


def exchange_sessions(exchange: str, start_ns: int, end_ns: int) -> list[tuple[int, int]]:
    """(open_ns, close_ns) for every session touching [start, end], UTC."""
    import exchange_calendars as xcals  # heavy import, kept to the shell that needs it

    start = datetime.fromtimestamp(start_ns // _NS, tz=UTC).date() - timedelta(days=7)
    end = datetime.fromtimestamp(end_ns // _NS, tz=UTC).date() + timedelta(days=7)
    calendar = xcals.get_calendar(exchange, start=start.isoformat(), end=end.isoformat())
    schedule = calendar.schedule
    opens = [int(stamp.value) for stamp in schedule["open"]]  # Timestamp.value: UTC ns
    closes = [int(stamp.value) for stamp in schedule["close"]]
    return list(zip(opens, closes, strict=True))


def schedule_for(exchange: str | None, start_ns: int, end_ns: int) -> Schedule:
    """The exchange's sessions, or 24/7 for ``None`` (crypto).

    Data outside the calendar library's range falls back to 24/7 with a
    warning: gaps are then over-reported, never hidden.
    """
    if exchange is None:
        return AlwaysOpen()
    try:
        return SessionSchedule(exchange_sessions(exchange, start_ns, end_ns))
    except Exception as exc:  # the library raises several types for out-of-range dates
        warnings.warn(
            f"no {exchange} calendar for {_date(start_ns)}..{_date(end_ns)} ({exc}); "
            "treating the market as always open for gap detection",
            RuntimeWarning,
            stacklevel=2,
        )
        return AlwaysOpen()
