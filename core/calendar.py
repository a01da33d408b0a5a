"""Exchange sessions from exchange-calendars: the one calendar adapter.

The core's ``SessionSchedule`` wants sorted (open_ns, close_ns) pairs; this
module is the only place that asks the calendar library for them, for both
shells: the simulator builds a run's schedule over its data's explicit range
(``exchange_sessions``, ``schedule_for``), the gateway loads whole years as
live time reaches them (``CalendarSchedule``). Ranges are always explicit
(never "today"), so the answer depends on the data, never on when the
process was started: a replay after a crash sees exactly the sessions the
original run saw. exchange-calendars is deterministic data, not I/O; it is
imported lazily because it is heavy (pandas).
"""

from __future__ import annotations

import warnings
from bisect import bisect_right
from datetime import UTC, datetime, timedelta

from core.health import AlwaysOpen, Schedule, SessionSchedule

_NS = 10**9
EXCHANGE = "XNYS"


def _day(time_ns: int) -> datetime:
    return datetime.fromtimestamp(time_ns // _NS, tz=UTC)


def sessions_between(exchange: str, start: str, end: str) -> list[tuple[int, int]]:
    """(open_ns, close_ns), UTC, of every session from ``start`` to ``end``
    (ISO dates, inclusive). Raises what the library raises out of its range."""
    import exchange_calendars as xcals  # heavy: only when sessions are asked for

    schedule = xcals.get_calendar(exchange, start=start, end=end).schedule
    opens = [int(stamp.value) for stamp in schedule["open"]]  # Timestamp.value: UTC ns
    closes = [int(stamp.value) for stamp in schedule["close"]]
    return list(zip(opens, closes, strict=True))


def exchange_sessions(exchange: str, start_ns: int, end_ns: int) -> list[tuple[int, int]]:
    """(open_ns, close_ns) for every session touching [start, end], UTC."""
    start = _day(start_ns).date() - timedelta(days=7)
    end = _day(end_ns).date() + timedelta(days=7)
    return sessions_between(exchange, start.isoformat(), end.isoformat())


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
        span = f"{_day(start_ns).date()}..{_day(end_ns).date()}"
        warnings.warn(
            f"no {exchange} calendar for {span} ({exc}); "
            "treating the market as always open for gap detection",
            RuntimeWarning,
            stacklevel=2,
        )
        return AlwaysOpen()


class CalendarSchedule:
    """An exchange's sessions, loaded a year at a time as the data reaches them
    (the gateway's: it runs for months and its range is not known up front)."""

    def __init__(self, exchange: str = EXCHANGE) -> None:
        self._exchange = exchange
        self._years: set[int] = set()
        self._sessions: list[tuple[int, int]] = []
        self._schedule: Schedule = AlwaysOpen()

    def _ensure(self, *times: int) -> None:
        wanted = set()
        for t in times:
            y = _day(t).year
            wanted |= {y - 1, y, y + 1}
        missing = sorted(wanted - self._years)
        if not missing:
            return
        for year in missing:
            self._years.add(year)
            try:
                found = sessions_between(self._exchange, f"{year}-01-01", f"{year}-12-31")
            except Exception:  # outside the library's range: no sessions known that year
                continue
            self._sessions.extend(found)
        self._sessions = sorted(set(self._sessions))
        self._schedule = SessionSchedule(self._sessions) if self._sessions else AlwaysOpen()

    def missing_between(self, prev_ns: int, cur_ns: int, period_ns: int) -> int:
        self._ensure(prev_ns, cur_ns)
        return self._schedule.missing_between(prev_ns, cur_ns, period_ns)

    def session_at(self, time_ns: int) -> tuple[int, int] | None:
        """The (open, close) of the session in progress at ``time_ns``, if any."""
        self._ensure(time_ns)
        index = bisect_right(self._sessions, (time_ns, 2**63)) - 1
        if index >= 0:
            open_ns, close_ns = self._sessions[index]
            if open_ns <= time_ns < close_ns:
                return open_ns, close_ns
        return None

    def previous_open(self, time_ns: int) -> int | None:
        """The open of the last complete session before the one at ``time_ns``
        (the gateway's warm-up start: one full day of history, SPEC §8's
        "uniform until a full day of history exists")."""
        self._ensure(time_ns)
        opens = [o for o, c in self._sessions if c <= time_ns]
        return opens[-1] if opens else None

    def next_close(self, time_ns: int) -> int | None:
        self._ensure(time_ns)
        for _open_ns, close_ns in self._sessions:
            if close_ns > time_ns:
                return close_ns
        return None
