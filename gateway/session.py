"""US equity sessions from the exchange calendar, and market time for the shell.

``CalendarSchedule`` satisfies the core's ``Schedule`` protocol by asking
exchange-calendars (holidays and early closes included) for whole years on
demand, so its answers never depend on *when* the gateway was started: a
replay after a crash sees exactly the sessions the original run saw.

``MarketTime`` is the gateway's live clock. The engine must follow the
*market's* time, which for a simulated session (``python -m standins --speed``) runs
faster than the wall clock: it is anchored at each reading of the broker's
``/v2/clock`` and at each bar, and extrapolated in between at the rate the
readings show. It never moves backwards.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from datetime import UTC, datetime

from core.health import AlwaysOpen, Schedule, SessionSchedule

_NS = 10**9
EXCHANGE = "XNYS"


def _year(time_ns: int) -> int:
    return datetime.fromtimestamp(time_ns // _NS, tz=UTC).year


class CalendarSchedule:
    """NYSE sessions, loaded a year at a time as the data reaches them."""

    def __init__(self, exchange: str = EXCHANGE) -> None:
        self._exchange = exchange
        self._years: set[int] = set()
        self._sessions: list[tuple[int, int]] = []
        self._schedule: Schedule = AlwaysOpen()

    def _ensure(self, *times: int) -> None:
        wanted = set()
        for t in times:
            y = _year(t)
            wanted |= {y - 1, y, y + 1}
        missing = sorted(wanted - self._years)
        if not missing:
            return
        import exchange_calendars as xcals  # heavy: only when a new year is needed

        for year in missing:
            self._years.add(year)
            try:
                calendar = xcals.get_calendar(
                    self._exchange, start=f"{year}-01-01", end=f"{year}-12-31"
                )
            except Exception:  # outside the library's range: no sessions known that year
                continue
            schedule = calendar.schedule
            opens = schedule["open"].astype("int64").tolist()
            closes = schedule["close"].astype("int64").tolist()
            self._sessions.extend(zip(opens, closes, strict=True))
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


class MarketTime:
    """Market time: anchored at broker clock readings and bar ends, extrapolated
    between readings at the observed market-seconds-per-wall-second rate."""

    def __init__(self, monotonic: object = time.monotonic, max_ahead_ns: int = 60 * _NS) -> None:
        """``max_ahead_ns``: extrapolation never runs more than one bar period past
        the last reading, so a misjudged rate (a burst of late bars) cannot carry
        market time, and with it timers and the stale-entry rule, far ahead."""
        self._monotonic = monotonic
        self._max_ahead = max_ahead_ns
        self._anchor_ns = 0
        self._anchor_wall = 0.0
        self._rate = 1.0
        self._floor = 0
        self._last_reading: tuple[int, float] | None = None

    @property
    def rate(self) -> float:
        return self._rate

    def observe_clock(self, market_ns: int) -> None:
        wall = self._monotonic()  # type: ignore[operator]
        if self._last_reading is not None:
            prev_ns, prev_wall = self._last_reading
            elapsed = wall - prev_wall
            if elapsed >= 0.2 and market_ns >= prev_ns:
                observed = (market_ns - prev_ns) / _NS / elapsed
                # Bounded so one odd reading (a jump over a night) cannot make
                # timers fire far ahead; the next reading re-anchors anyway.
                self._rate = min(max(observed, 0.0), 3600.0)
        self._last_reading = (market_ns, wall)
        self._anchor_ns, self._anchor_wall = market_ns, wall
        self.observe_floor(market_ns)

    def observe_floor(self, market_ns: int) -> None:
        """Market time is at least this (a bar that has ended, a fill's time)."""
        if market_ns > self._floor:
            self._floor = market_ns

    def now_ns(self) -> int:
        wall = self._monotonic()  # type: ignore[operator]
        ahead = min(int((wall - self._anchor_wall) * self._rate * _NS), self._max_ahead)
        estimate = self._anchor_ns + ahead
        if self._anchor_ns == 0:
            estimate = 0
        now = max(self._floor, estimate)
        self._floor = now
        return now

    def wall_seconds_for(self, market_ns: int) -> float:
        """Wall seconds that ``market_ns`` of market time take at the current rate."""
        return market_ns / _NS / self._rate if self._rate > 0 else float("inf")


class EngineClock:
    """The clock injected into the engine: set by the shell to the journaled
    market time of the event being handled, so a replay sees the same times."""

    __slots__ = ("_now",)

    def __init__(self) -> None:
        self._now = 0

    def set(self, now_ns: int) -> None:
        if now_ns > self._now:
            self._now = now_ns

    def now_ns(self) -> int:
        return self._now
